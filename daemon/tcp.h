/*
 * tcp: one TCP socket owned by the daemon on behalf of a client.
 *
 * A tcp owns its fd, its watchers, its request FIFOs (reads, writes,
 * accepts, closes; one connect and one shutdown at most), its send queue
 * (the write FIFO itself: each call holds its payload) and its counters.
 * Only tcp_set_state() changes ->state.
 */
#ifndef TISOCK_TCP_H
#define TISOCK_TCP_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "proto-jw.h"
#include "proto-methods.h"
#include "policy.h"
#include "rpc.h"

struct daemon;
struct ctl;
struct dns_query;
struct dns_result;

enum tcp_state {
	TCP_STATE_INITIALIZED,
	TCP_STATE_CONNECTING,
	TCP_STATE_CONNECTED,
	TCP_STATE_LISTENING,
	TCP_STATE_CLOSING,	/* closed for the client, still flushing writes */
	TCP_STATE_CLOSED,
	TCP_STATE_ERROR,
	_TCP_STATE_MAX,
};

#define TCP_STATE_HAS_FD(s) ((s) == TCP_STATE_CONNECTING || (s) == TCP_STATE_CONNECTED || \
			     (s) == TCP_STATE_LISTENING || (s) == TCP_STATE_CLOSING)

struct tcp_channel;

struct tcp {
	TAILQ_ENTRY(tcp)	 link;		/* owner's sockets/closed, d->orphans or graveyard */
	TAILQ_ENTRY(tcp)	 stall_link;	/* owner->stalled while stalled */
	TAILQ_ENTRY(tcp)	 pause_link;	/* d->paused_listeners while accept_paused */
	struct daemon		*d;
	struct ctl		*owner;		/* NULL: orphan, lingering */
	uint64_t		 id;		/* > 0, never reused */
	int			 fd;		/* -1 when none */
	enum tcp_state		 state;
	bool			 stalled;	/* waits for owner output room */
	bool			 accept_paused;	/* listener waits for fds */
	enum {
		TCP_IN_SOCKETS,			/* owner->sockets */
		TCP_IN_CLOSED,			/* owner->closed */
		TCP_IN_ORPHANS,			/* d->orphans */
		TCP_IN_DEAD,			/* d->dead_tcps */
	}			 where;		/* which list link is in */
	ev_io			 rio, wio;
	ev_timer		 connect_timer;	/* whole connect, resolution included */
	ev_timer		 linger_timer;	/* graceful close bound */
	double			 created;	/* ev_now */

	/* As given at create/connect/listen (the peer's, for an inbound socket). */
	char			*host;		/* owned, NULL: default */
	int			 port;		/* -1: none */
	int			 listen_queue;	/* -1: system maximum */
	int64_t			 timeout_ms;	/* connect timeout, -1: daemon default */
	int			 no_delay, keep_alive;	/* -1: leave alone */
	int			 keep_alive_idle;	/* seconds, -1: leave alone */

	struct sockaddr_storage	 local, remote;
	bool			 has_local, has_remote;

	struct rpc_call_list	 reads, writes, accepts, closes;
	struct rpc_call		*connect_call;	/* pending connect or listen */
	struct rpc_call		*shutdown_call;	/* pending shutdown */
	struct dns_query	*dns_q;		/* resolution under way */
	struct dns_result	*addrs;		/* owned: addresses left to try */
	int			 addr_next;	/* next index in addrs */
	int			 last_errno;	/* of the last failed attempt */
	const struct policy_rule *denied;	/* the rule that refused an address */
	struct sockaddr_storage	 denied_addr;

	struct tcp_channel	*channel;	/* tcp.channel open: the relay owns the fd's I/O */
	bool			 pumping;
	bool			 eof;		/* the peer sent FIN */
	bool			 eof_told;	/* pump's -1 has been sent */
	bool			 shut_wr;	/* FIN sent or queued */
	size_t			 chunk_size;	/* pump bytes per tcp.data */
	uint64_t		 pump_total;	/* bytes sent as tcp.data */
	uint64_t		 bytes_read, bytes_written;
	size_t			 pending_write_bytes;	/* queued in writes */
	double			 connect_asked;	/* metrics: tcp.connect came, monotonic s */
	double			 connect_syn;	/* metrics: connect(2) of the last try */
};

/* tcp.c */
struct tcp	*tcp_new(struct daemon *d, struct ctl *owner);
struct tcp	*tcp_free(struct tcp *t);
void		 tcp_set_state(struct tcp *t, enum tcp_state s);
enum proto_state tcp_proto_state(const struct tcp *t);
void		 tcp_set_fd(struct tcp *t, int fd);
void		 tcp_close_fd(struct tcp *t, bool reset);
void		 tcp_fail(struct tcp *t, int err);
void		 tcp_channel_closed(struct tcp *t);
void		 tcp_channel_reset(struct tcp *t);
/* tcp-channel.c */
void		 tcp_channel_drop(struct tcp *t);
void		 tcp_cancel_list(struct rpc_call_list *l, const struct rpc_error *e);
int		 tcp_close(struct tcp *t, struct rpc_call *call, bool abort);
void		 tcp_orphan(struct tcp *t);
void		 tcp_forget(struct tcp *t);
void		 tcp_writes_drained(struct tcp *t);
const struct policy_rule *tcp_policy_denies(struct tcp *t, enum policy_action action,
		    const char *host, const struct sockaddr_storage *ss);
void		 tcp_write_info(struct proto_jw *w, const struct tcp *t);
void		 tcp_apply_options(struct tcp *t);
const char	*tcp_state_name(enum tcp_state s);

/* tcp-io.c */
void		 tcp_update_io(struct tcp *t);
int		 tcp_read_queue(struct tcp *t, struct rpc_call *call, int64_t timeout_ms);
int		 tcp_write_queue(struct tcp *t, struct rpc_call *call);
int		 tcp_shutdown(struct tcp *t, struct rpc_call *call);
void		 tcp_pump_set(struct tcp *t, bool on, size_t chunk);
void		 tcp_flush_writes(struct tcp *t);
void		 tcp_io_connected(struct tcp *t);
void		 tcp_start_call_timer(struct rpc_call *call, int64_t timeout_ms);
void		 tcp_reply_eof(struct rpc_call *call, const struct tcp *t);

/* tcp-connect.c */
int		 tcp_connect(struct tcp *t, struct rpc_call *call);
int		 tcp_listen(struct tcp *t, struct rpc_call *call);

/* tcp-accept.c */
int		 tcp_accept_queue(struct tcp *t, struct rpc_call *call, int64_t timeout_ms);
void		 tcp_accept_resume(struct tcp *t);
void		 tcp_accept_init(struct tcp *t);

#endif
