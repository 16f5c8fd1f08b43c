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

#include "conf.h"
#include "flow.h"
#include "proto-methods.h"
#include "policy.h"
#include "tcp-events.h"

struct dns;
struct tcp_connect;
struct tcp_tls;
struct tcp_tls_config;
struct tcp_tls_engine;
struct tcp_tls_listen;
struct proto_idmap;
struct tcp;

#define TCP_CLOSED_KEEP	256		/* closed sockets remembered per owner */

TAILQ_HEAD(tcp_list, tcp);

/*
 * What the engine runs in, set up by the daemon: the loop, the run queue,
 * the receive buffer, the resolver, the configuration it reads
 * (connect-timeout-ms, linger-ms), the layer above (events, up) and the
 * sockets themselves.
 */
struct tcp_engine {
	struct ev_loop		*loop;
	struct flow		*flow;
	char			*scratch;	/* scratch_size bytes for recv */
	size_t			 scratch_size;
	struct dns		*dns;
	const struct conf	*conf;
	const uint64_t		*policy_gen;	/* bumped each time a policy comes into force */
	const struct tcp_events	*ev;
	void			*up;		/* the layer above's, for fd_freed, accept_paused */

	struct proto_idmap	*sockets;	/* id -> tcp, all known sockets */
	uint64_t		 next_socket;	/* ids, never reused */
	size_t			 nsockets;	/* open sockets (with an fd) */
	struct tcp_list		 orphans;	/* lingering sockets of vanished owners */
	struct tcp_list		 dead;		/* graveyard */
	struct tcp_list		 paused;	/* listeners whose accept waits for fds */
	struct tcp_tls_engine	*tls;		/* client context, sessions */
	struct tcp_list		 to_flush;	/* writes queued, to send in tcp_engine_flush() */
	size_t			 channel_bytes;	/* enlarged channel buffers granted, all owners */
};

/*
 * Who owns sockets: embedded in the layer above's client object.  The
 * engine keeps its lists; acct is its flow account, desc its name in logs.
 */
struct tcp_owner {
	struct tcp_list		 sockets;	/* open */
	struct tcp_list		 closed;	/* closed, kept for info, oldest first */
	size_t			 nsockets, nclosed;
	size_t			 ninbound;	/* inbound TLS handshakes on its listeners */
	size_t			 ntries;	/* connect attempts in flight beyond a socket's own */
	struct flow_account	*acct;
	struct flow_account	*linger_acct;	/* its sockets' bytes once it is gone, or NULL */
	const char		*desc;
};

/*
 * The descriptors o holds or has under way, as the socket limits count
 * them: its open sockets, the inbound TLS handshakes on its listeners
 * and its connects' raced attempts beyond each socket's own.
 */
static inline size_t
tcp_owner_sockets(const struct tcp_owner *o)
{
	return o->nsockets + o->ninbound + o->ntries;
}

enum tcp_op_kind {
	TCP_OP_READ,
	TCP_OP_WRITE,
	TCP_OP_ACCEPT,
	TCP_OP_OPEN,		/* connect or listen */
	TCP_OP_SHUTDOWN,
	TCP_OP_CLOSE,
};

/*
 * Socket options asked for, each -1 to leave it alone.  linger > 0 also
 * bounds the socket's graceful close (with linger-ms), linger 0 makes
 * every close a reset; the daemon's close(2) never waits (tcp-close.c).
 */
struct tcp_sockopts {
	int	 no_delay, keep_alive;	/* TCP_NODELAY, SO_KEEPALIVE: 1 or 0 */
	int	 keep_alive_idle;	/* TCP_KEEPIDLE, seconds */
	int	 linger;		/* SO_LINGER, seconds */
	int	 sndbuf, rcvbuf;	/* SO_SNDBUF, SO_RCVBUF, bytes */
};

#define TCP_SOCKOPTS_NONE ((struct tcp_sockopts){ .no_delay = -1, .keep_alive = -1, \
	.keep_alive_idle = -1, .linger = -1, .sndbuf = -1, .rcvbuf = -1 })

/*
 * A pending operation on a socket, embedded in the request of the layer
 * above: its place in one of the socket's FIFOs, its timeout, its figures.
 */
struct tcp_op {
	TAILQ_ENTRY(tcp_op)	 q_link;
	struct tcp		*tcp;
	enum tcp_op_kind	 kind;
	bool			 timer_on;
	ev_timer		 timer;		/* read / accept timeout */
	union {
		struct {
			size_t	 length;	/* most bytes to return */
		} read;
		struct {
			char	*data;		/* owned by the layer above */
			size_t	 len, off;	/* bytes, sent */
		} write;
		struct {
			struct tcp_sockopts opts;	/* for the inbound socket */
		} accept;
	} u;
};

TAILQ_HEAD(tcp_op_list, tcp_op);

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
struct tcp_closing;

/*
 * What a connection's end left undelivered, measured just before its fd
 * is closed.  The bytes the daemon accepted form one stream: the peer got
 * all of it but the last undelivered bytes, and perhaps not the unacked
 * ones before those.
 */
struct tcp_loss {
	uint64_t		 undelivered;	/* never left this host: queued + kernel_unsent */
	uint64_t		 kernel_unsent;	/* of those, in the kernel's send queue (SIOCOUTQNSD) */
	uint64_t		 unacked;	/* sent, not acknowledged by the peer (SIOCOUTQ - NSD) */
};

struct tcp {
	TAILQ_ENTRY(tcp)	 link;		/* owner's sockets/closed, orphans or graveyard */
	TAILQ_ENTRY(tcp)	 pause_link;	/* eng->paused while accept_paused */
	TAILQ_ENTRY(tcp)	 flush_link;	/* eng->to_flush while flush_on */
	struct tcp_engine	*eng;
	struct tcp_owner	*owner;		/* NULL: orphan, lingering */
	uint64_t		 id;		/* > 0, never reused */
	int			 fd;		/* -1 when none */
	enum tcp_state		 state;
	struct flow_item	 run_item;	/* in the run queue: bytes to move */
	struct flow_item	 stall_item;	/* waiting for its owner's (or uid's) output room */
	bool			 accept_paused;	/* listener waits for fds */
	bool			 flush_on;	/* writes queued since the last flush */
	enum {
		TCP_IN_SOCKETS,			/* owner->sockets */
		TCP_IN_CLOSED,			/* owner->closed */
		TCP_IN_ORPHANS,			/* eng->orphans */
		TCP_IN_DEAD,			/* eng->dead */
	}			 where;		/* which list link is in */
	ev_io			 rio, wio;
	struct tcp_closing	*closing;	/* while closing gracefully (tcp-close.c) */
	double			 created;	/* ev_now */

	/* As given at create/connect/listen (the peer's, for an inbound socket). */
	char			*host;		/* owned, NULL: default */
	int			 port;		/* -1: none */
	int			 listen_queue;	/* -1: system maximum */
	int64_t			 timeout_ms;	/* connect timeout, -1: daemon default */
	struct tcp_sockopts	 opts;		/* asked for, applied once there is an fd */

	struct sockaddr_storage	 local, remote;
	bool			 has_local, has_remote;

	struct tcp_op_list	 reads, writes, accepts, closes;
	struct tcp_op		*connect_op;	/* pending connect or listen */
	struct tcp_op		*shutdown_op;	/* pending shutdown */
	struct tcp_connect	*conn;		/* owned: a connect or listen under way */

	struct tcp_channel	*channel;	/* tcp.channel open: the relay owns the fd's I/O */
	bool			 pumping;
	int8_t			 happy_eyeballs;	/* race addresses on connect; -1: default (yes) */
	bool			 eof;		/* the peer sent FIN */
	bool			 eof_told;	/* pump's -1 has been sent */
	bool			 shut_wr;	/* FIN sent or queued */
	size_t			 chunk_size;	/* pump bytes per tcp.data */
	uint64_t		 pump_total;	/* bytes sent as tcp.data */
	uint64_t		 bytes_read, bytes_written;
	uint64_t		 send_calls;	/* sendmsg() calls that sent tcp.write bytes */
	size_t			 pending_write_bytes;	/* queued in writes */
	struct flow_account	*gone_acct;	/* held: where it and they count while lingering ownerless */
	struct tcp_loss		 loss;		/* how the connection ended, once it has */
	const char		*closed_reason;	/* tcp.closed at the end of the close ("shutdown") */
	char			*gone_owner;	/* owned: the owner's desc once it left, for the log */
	double			 connect_asked;	/* the layer above's: tcp.connect came (metrics) */
	double			 connect_syn;	/* the layer above's: connect(2) of the last try */
	struct tcp_tls_config	*tls_cfg;	/* owned: the TLS asked for */
	struct tcp_tls		*tls;		/* owned: the connection's TLS */
	struct tcp_tls_listen	*tls_listen;	/* owned: inbound handshakes */
	uint32_t		 ledger;	/* the layer above's: its fd store ledger slot, 0: none */
	bool			 stored;	/* the layer above's: its fd is in systemd's fd store */
	bool			 upgrade_dropped;	/* the layer above's: a live upgrade could not carry it */
	uint64_t		 queued;	/* the layer above's: bytes read, queued for the owner */
	uint64_t		 delivered;	/* the layer above's: of those, written to the owner */
	size_t			 relay_up, relay_down;	/* the layer above's: a channel's held bytes */
};

/* What a data channel holds, for a state image (tcp-channel.c, tcp-adopt.c). */
struct tcp_channel_image {
	int		 fd;		/* the daemon's end of the socketpair, -1: no channel */
	const char	*up, *down;	/* held bytes not yet taken by the destination */
	size_t		 up_len, down_len;
	bool		 up_eof, down_eof, up_done, down_done;
	int		 enlarged;	/* its buffers were granted: 1, 0, -1 unknown (ask the fd) */
};

/* tcp-io.c, turns of flow.c */
bool		 tcp_read_turn(struct flow_item *it);
bool		 tcp_wake(struct flow_item *it);

/* tcp.c */
void		 tcp_engine_init(struct tcp_engine *eng);
bool		 tcp_engine_reap(struct tcp_engine *eng);
void		 tcp_engine_resume_accepts(struct tcp_engine *eng);
void		 tcp_owner_init(struct tcp_owner *o, struct flow_account *acct, const char *desc);
struct tcp	*tcp_new(struct tcp_engine *eng, struct tcp_owner *owner);
struct tcp	*tcp_alloc(struct tcp_engine *eng, struct tcp_owner *owner, uint64_t id);
struct tcp	*tcp_free(struct tcp *t);
struct tcp	*tcp_find(struct tcp_engine *eng, int64_t id);
void		 tcp_set_state(struct tcp *t, enum tcp_state s);
enum proto_state tcp_proto_state(const struct tcp *t);
void		 tcp_set_fd(struct tcp *t, int fd);
void		 tcp_close_fd(struct tcp *t, bool reset);
void		 tcp_fail(struct tcp *t, int err);
void		 tcp_channel_closed(struct tcp *t);
void		 tcp_channel_reset(struct tcp *t);
void		 tcp_op_done(struct tcp_op *op);
bool		 tcp_op_cancel(struct tcp_op *op, uint64_t *written);
void		 tcp_cancel_list(struct tcp_op_list *l, const struct tcp_error *e);
void		 tcp_cancel_pending(struct tcp *t, const struct tcp_error *e);
void		 tcp_fail_writes(struct tcp *t, const struct tcp_error *e);
void		 tcp_owner_unlink(struct tcp *t);
void		 tcp_retire(struct tcp *t);
void		 tcp_forget(struct tcp *t);
void		 tcp_sockopts_merge(struct tcp_sockopts *to, const struct tcp_sockopts *from);
void		 tcp_apply_options(struct tcp *t);
void		 tcp_apply_options_fd(const struct tcp *t, int fd);
const char	*tcp_state_name(enum tcp_state s);

/* tcp-close.c */
void		 tcp_close_init(struct tcp *t);
void		 tcp_close_done(struct tcp *t);
void		 tcp_measure_loss(struct tcp *t, bool reset);
void		 tcp_end(struct tcp *t, bool reset, const struct tcp_error *e, const char *reason);
bool		 tcp_close_waits(struct tcp *t, bool abort);
bool		 tcp_close(struct tcp *t, struct tcp_op *op, bool abort);
void		 tcp_orphan(struct tcp *t);
void		 tcp_stop(struct tcp *t);
void		 tcp_writes_drained(struct tcp *t);
double		 tcp_linger_left(const struct tcp *t);
bool		 tcp_linger_resume(struct tcp *t, double left);

/* tcp-io.c */
void		 tcp_update_io(struct tcp *t);
void		 tcp_read_queue(struct tcp *t, struct tcp_op *op, int64_t timeout_ms);
void		 tcp_write_queue(struct tcp *t, struct tcp_op *op);
void		 tcp_shutdown(struct tcp *t, struct tcp_op *op);
void		 tcp_pump_set(struct tcp *t, bool on, size_t chunk);
void		 tcp_flush_writes(struct tcp *t);
void		 tcp_flush_cancel(struct tcp *t);
void		 tcp_engine_flush(struct tcp_engine *eng);
void		 tcp_io_connected(struct tcp *t);
void		 tcp_start_op_timer(struct tcp_op *op, int64_t timeout_ms);

/* tcp-connect.c */
void		 tcp_connect(struct tcp *t, struct tcp_op *op);
void		 tcp_connect_cancel(struct tcp *t, const struct tcp_error *e);
void		 tcp_connect_free(struct tcp *t);
void		 tcp_connect_uncharge(struct tcp *t);
void		 tcp_listen(struct tcp *t, struct tcp_op *op);

/* tcp-accept.c */
void		 tcp_accept_queue(struct tcp *t, struct tcp_op *op, int64_t timeout_ms);
void		 tcp_accept_resume(struct tcp *t);
void		 tcp_accept_init(struct tcp *t);
bool		 tcp_accept_hand(struct tcp *t, int fd, const struct sockaddr_storage *ss,
		     struct tcp_tls *tls);

/* tcp-channel.c */
const char	*tcp_channel_busy(const struct tcp *t);
/*
 * A channel's socketpair send buffers when enlarged: the client's end
 * always (the figure of TCP's largest default send buffer), the
 * daemon's end when granted; what a granted channel counts against its
 * owner's and the daemon's budgets: the daemon's end, what the daemon
 * can queue for a client that does not read.
 */
#define TCP_CHANNEL_SNDBUF	(4u << 20)
#define TCP_CHANNEL_GRANT	(2 * (size_t)TCP_CHANNEL_SNDBUF)	/* the kernel doubles SO_SNDBUF */
int		 tcp_channel_new(struct tcp_channel **chp, int *client_end, bool enlarged);
void		 tcp_channel_discard(struct tcp_channel *ch);
void		 tcp_channel_attach(struct tcp *t, struct tcp_channel *ch);
void		 tcp_channel_drop(struct tcp *t);
void		 tcp_channel_image(const struct tcp *t, struct tcp_channel_image *im);
int		 tcp_channel_adopt(struct tcp *t, const struct tcp_channel_image *im);
void		 tcp_channel_kick(struct tcp *t);

/* tcp-adopt.c */
bool		 tcp_transferable(const struct tcp *t);
struct tcp	*tcp_adopt(struct tcp_engine *eng, struct tcp_owner *owner, uint64_t id, int fd,
		     enum tcp_state st);
void		 tcp_adopt_closed(struct tcp *t);
void		 tcp_adopt_op(struct tcp *t, struct tcp_op *op, enum tcp_op_kind kind);
void		 tcp_adopt_gone(struct tcp *t, struct flow_account *acct);
void		 tcp_adopt_start(struct tcp *t);
struct tcp	*tcp_adopt_fd(struct tcp_engine *eng, struct tcp_owner *owner, uint64_t id, int fd,
		     enum tcp_state st);

#endif
