/*
 * client: the library's engine, shared by the TCP socket code.  One
 * connection to tisockd, an output queue, a line reader, the calls
 * waiting for answers, and an inbox of messages that have arrived but
 * not been dispatched.  Callbacks run only from tisock_client_dispatch();
 * blocking calls read into the inbox and take their own answer from it.
 */
#ifndef TISOCK_CLIENT_H
#define TISOCK_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <tisock/tisock.h>

#include "proto-buf.h"
#include "proto-jw.h"

struct proto_reader;
struct lib_call;

typedef void (*lib_params_fn)(struct proto_jw *w, const void *arg);
typedef void (*lib_done_fn)(tisock_client *c, struct lib_call *call, const cJSON *answer);

struct lib_call {
	TAILQ_ENTRY(lib_call)	 link;		/* c->calls */
	long long		 id;
	lib_done_fn		 done;		/* NULL: a blocking call waits for it */
	tisock_tcp		*tcp;		/* socket concerned; NULL once freed */
	void			*ctx;		/* the operation's own state, owned */
	void			(*ctx_free)(void *ctx);
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
};

struct tisock_client {
	int			 fd;		/* the connection to the daemon */
	int			 epfd;		/* what tisock_client_fd() gives: fd, wakefd, sources */
	int			 wakefd;	/* eventfd: readable while callbacks are due */
	uint32_t		 fd_events;	/* fd's interest in epfd */
	bool			 woken;		/* wakefd holds a count */
	struct proto_reader	*reader;
	struct proto_buf	 out;		/* queued request lines */
	long long		 next_id;
	TAILQ_HEAD(, lib_call)	 calls;		/* waiting for answers */
	TAILQ_HEAD(, lib_msg)	 inbox;		/* arrived, not yet dispatched */
	TAILQ_HEAD(, tisock_tcp) sockets;
	TAILQ_HEAD(, tisock_tcp) dead;		/* freed inside a callback */
	int			 in_dispatch;	/* callbacks running */
	int			 npumping;	/* sockets in async pump mode */
	int			 nlocal;	/* stream operations pending */
	TAILQ_HEAD(, lib_source) runq;		/* sources due to run */
	TAILQ_HEAD(, lib_source) sources;	/* sources bound to c */
	bool			 closing;	/* closed inside a callback: close after it */
	bool			 broken;	/* the daemon went away */
	bool			 broken_told;	/* sockets and pumps know it */
	struct tisock_client_hooks hooks;	/* event-loop adapter */
	int			*fds;		/* received with SCM_RIGHTS, not yet claimed */
	size_t			 nfds;
	tisock_notify_cb	 notify;	/* notifications for the caller */
	void			*notify_data;
	struct tisock_error	 err;		/* last error; strings below */
	char			*err_message, *err_data;
};

/* client.c */
struct lib_call	*lib_call_start(tisock_client *c, const char *method, lib_params_fn params,
		    const void *arg, lib_done_fn done, tisock_tcp *tcp);
cJSON		*lib_call_wait(tisock_client *c, const char *method, lib_params_fn params,
		    const void *arg);
int		 lib_answer_error(tisock_client *c, const cJSON *answer);
void		 lib_set_error(tisock_client *c, int code, const char *message);
int		 lib_errno_from_code(int code, int sys_errno);

void		 lib_update(tisock_client *c);
int		 lib_take_fd(tisock_client *c);

void		 lib_source_bind(tisock_client *c, struct lib_source *src);
void		 lib_source_unbind(tisock_client *c, struct lib_source *src);
void		 lib_source_schedule(tisock_client *c, struct lib_source *src);
int		 lib_source_watch(tisock_client *c, struct lib_source *src, int fd, uint32_t events);
void		 lib_source_quiet(tisock_client *c, struct lib_source *src);

/* tcp.c */
bool		 lib_tcp_notify(tisock_client *c, const char *method, const cJSON *params);
void		 lib_tcp_reap(tisock_client *c);
void		 lib_tcp_detach_all(tisock_client *c);
int		 lib_tcp_io_async(tisock_tcp *s, tisock_stream *st, tisock_buffer *buf, size_t offset,
		    ssize_t length, tisock_stream_cb cb, void *userdata, bool is_read);
int		 lib_tcp_add_stream(tisock_tcp *s, tisock_stream *st);
void		 lib_tcp_remove_stream(tisock_tcp *s, tisock_stream *st);
void		 lib_tcp_broken(tisock_client *c);

/* stream.c */
void		 lib_stream_socket_gone(tisock_stream *st);

int		 lib_tcp_pump(tisock_tcp *s, tisock_stream *st, tisock_stream_cb cb, void *userdata,
		    size_t max_chunk);

#endif
