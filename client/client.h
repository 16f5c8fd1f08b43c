/*
 * client: the library's engine, shared by the socket and stream code.
 *
 * One connection to tisockd (none for a local client), an output queue,
 * a line reader, the calls waiting for answers (found by id in an id
 * map), and a bounded inbox of messages that have arrived but not been
 * dispatched.  Callbacks run only from tisock_client_dispatch(); a
 * blocking call reads until its own answer arrives and leaves the rest
 * in the inbox.  Files: client.c (the object, settings, errors),
 * client-io.c (bytes to and from the daemon), client-call.c (requests
 * and answers), client-dispatch.c (the loop and local sources).
 */
#ifndef TISOCK_CLIENT_H
#define TISOCK_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <tisock/tisock.h>

#include "proto-buf.h"
#include "proto-methods.h"

#define CLIENT_INBOX_DEFAULT	(4u << 20)	/* bytes of undispatched messages */
#define LIB_WAIT_GRACE_MS	1000		/* past a timeout the daemon enforces */

struct proto_reader;
struct proto_idmap;
struct lib_call;

typedef void (*lib_done_fn)(tisock_client *c, struct lib_call *call, const cJSON *answer);

TAILQ_HEAD(lib_call_list, lib_call);

struct lib_call {
	TAILQ_ENTRY(lib_call)	 link;		/* c->calls, in the order sent */
	TAILQ_ENTRY(lib_call)	 tcp_link;	/* tcp's calls, while tcp is set */
	TAILQ_ENTRY(lib_call)	 timed;		/* c->deadlines while deadline > 0 */
	int64_t			 id;
	enum proto_method_id	 method;
	lib_done_fn		 done;		/* NULL: a blocking call waits for it */
	tisock_tcp		*tcp;		/* socket concerned; NULL once freed */
	void			*ctx;		/* the operation's own state, owned */
	void			(*ctx_free)(void *ctx);
	cJSON			*answer;	/* a blocking call's, once read */
	bool			 abandoned;	/* given up on: its answer is dropped */
	bool			 counted;	/* in c->nasync */
	int			 err;		/* -EPIPE, -ETIMEDOUT: why no answer */
	int			 fd;		/* a blocking call's: came with its answer; -1 */
	long long		 deadline;	/* monotonic ms; 0: none */
};

enum {
	LIB_CALL_DEADLINE	= 1 << 0,	/* the client's timeout applies */
};

/*
 * A local source of callbacks (a buffer or fd stream with asynchronous
 * work): run() is called from dispatch once it is scheduled, or once the
 * fd it watches is ready.  detach() is called when the client closes.
 */
struct lib_source {
	TAILQ_ENTRY(lib_source)	 runq;		/* c->runq while scheduled */
	TAILQ_ENTRY(lib_source)	 bound;		/* c->sources */
	bool			 scheduled;
	int			 watch_fd;	/* in c->epfd, or -1 */
	uint32_t		 watch_events;
	void			(*run)(struct lib_source *src);
	void			(*detach)(struct lib_source *src);
};

struct lib_msg {
	TAILQ_ENTRY(lib_msg)	 link;
	cJSON			*json;		/* owned */
	size_t			 bytes;		/* its line's length, counted in the inbox */
};

struct tisock_client {
	int			 fd;		/* the connection to the daemon; -1: local */
	int			 epfd;		/* what tisock_client_fd() gives: fd, wakefd, sources */
	int			 wakefd;	/* eventfd: readable while callbacks are due */
	uint32_t		 fd_events;	/* fd's interest in epfd */
	bool			 woken;		/* wakefd holds a count */
	struct proto_reader	*reader;
	struct proto_buf	 out;		/* queued request lines */
	int64_t			 next_id;
	volatile sig_atomic_t	 interrupted;	/* tisock_client_interrupt() */
	int			 intrfd;	/* eventfd: written by it, polled by blocking calls */
	struct lib_call_list	 calls;		/* waiting for answers, in order */
	struct proto_idmap	*call_ids;	/* id -> struct lib_call */
	struct lib_call_list	 deadlines;	/* async calls with a deadline, earliest first */
	int			 nasync;	/* async calls whose callback is still due */
	TAILQ_HEAD(, lib_msg)	 inbox;		/* arrived, not yet dispatched */
	size_t			 inbox_bytes;
	size_t			 inbox_max;	/* stop reading the daemon at this */
	int			 timeout_ms;	/* blocking calls; 0: none */
	TAILQ_HEAD(, tisock_tcp) sockets;
	struct proto_idmap	*socket_ids;	/* daemon id -> tisock_tcp */
	TAILQ_HEAD(, tisock_tcp) dead;		/* freed, to release from dispatch */
	int			 in_dispatch;	/* callbacks running */
	int			 npumping;	/* sockets in async pump mode */
	bool			 pumps_paused;	/* a blocking call paused them (inbox full) */
	int			 nlocal;	/* stream operations pending */
	TAILQ_HEAD(, lib_source) runq;		/* sources due to run */
	TAILQ_HEAD(, lib_source) sources;	/* sources bound to c */
	bool			 closing;	/* closed inside a callback: close after it */
	bool			 in_close;	/* tisock_client_close is releasing */
	bool			 broken;	/* the daemon went away */
	bool			 broken_told;	/* sockets and pumps know it */
	struct tisock_client_hooks hooks;	/* event-loop adapter */
	int			*fds;		/* received with SCM_RIGHTS, not yet routed */
	size_t			 nfds;
	int			 answer_fd;	/* came with the last blocking call's answer; -1 */
	tisock_notify_cb	 notify;	/* notifications for the caller */
	void			*notify_data;
	struct tisock_error	 err;		/* last error; strings below */
	char			*err_message, *err_data;
};

/* client.c */
void		 lib_update(tisock_client *c);
void		 lib_set_error(tisock_client *c, int code, const char *message);
int		 lib_errno_from_code(int code, int sys_errno);
long long	 lib_now_ms(void);

/* client-io.c */
int		 lib_flush(tisock_client *c);
int		 lib_read_in(tisock_client *c, bool force);
int		 lib_take_fd(tisock_client *c);
void		 lib_inbox_clear(tisock_client *c);

/* client-call.c */
int		 lib_call_start(tisock_client *c, enum proto_method_id m, const void *args,
		    lib_done_fn done, tisock_tcp *tcp, unsigned flags, struct lib_call **ret);
int		 lib_call_start_raw(tisock_client *c, enum proto_method_id m, const char *name,
		    const void *args, const cJSON *extra, lib_done_fn done, tisock_tcp *tcp,
		    unsigned flags, struct lib_call **ret);
int		 lib_call_wait_raw(tisock_client *c, enum proto_method_id m, const char *name,
		    const void *args, const cJSON *extra, int wait_ms, cJSON **ret_answer);
int		 lib_call_wait(tisock_client *c, enum proto_method_id m, const void *args,
		    cJSON **ret_answer);
int		 lib_call_wait_ms(tisock_client *c, enum proto_method_id m, const void *args,
		    int wait_ms, cJSON **ret_answer);
int		 lib_answer_error(tisock_client *c, const cJSON *answer);
int		 lib_call_error(tisock_client *c, const struct lib_call *call, const cJSON *answer);
int		 lib_answer_result(tisock_client *c, const struct lib_call *call, const cJSON *answer,
		    enum proto_method_id m, void *res);
struct lib_call	*lib_call_find(tisock_client *c, int64_t id);
void		 lib_call_finish(tisock_client *c, struct lib_call *call);
void		 lib_call_arrived(tisock_client *c, struct lib_call *call, cJSON *answer);
int		 lib_calls_expire(tisock_client *c);
void		 lib_calls_free(tisock_client *c);

/* client-dispatch.c */
void		 lib_source_bind(tisock_client *c, struct lib_source *src);
void		 lib_source_unbind(tisock_client *c, struct lib_source *src);
void		 lib_source_schedule(tisock_client *c, struct lib_source *src);
int		 lib_source_watch(tisock_client *c, struct lib_source *src, int fd, uint32_t events);
void		 lib_source_quiet(tisock_client *c, struct lib_source *src);
void		 lib_sources_detach(tisock_client *c);

#endif
