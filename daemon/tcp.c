/*
 * tcp: socket objects, their state machine, closing and lifetime.
 *
 * A socket is in exactly one list (->where): its owner's open or closed
 * list, the daemon's orphans (lingering after the owner vanished), or the
 * graveyard.  Closing answers every pending request exactly once; how a
 * connection is closed (lingering, and what a reset lost) is tcp-close.c.
 *
 * The engine (this file and tcp-*.c) knows nothing above it: what happens
 * is told through eng->ev (tcp-events.h), which answers, notifies and
 * counts.
 */
#include "config.h"

#include <stddef.h>
#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "proto-idmap.h"
#include "log.h"
#include "proto-errors.h"
#include "tcp.h"
#include "tcp-tls.h"

static const char *const state_names[_TCP_STATE_MAX] = {
	[TCP_STATE_INITIALIZED] = "initialized",
	[TCP_STATE_CONNECTING] = "connecting",
	[TCP_STATE_CONNECTED] = "connected",
	[TCP_STATE_LISTENING] = "listening",
	[TCP_STATE_CLOSING] = "closing",
	[TCP_STATE_CLOSED] = "closed",
	[TCP_STATE_ERROR] = "error",
};

const char *
tcp_state_name(enum tcp_state s)
{
	return (unsigned)s < _TCP_STATE_MAX ? state_names[s] : "invalid";
}

/* The state as clients see it: a closing socket is already closed for them. */
enum proto_state
tcp_proto_state(const struct tcp *t)
{
	switch (t->state) {
	case TCP_STATE_INITIALIZED:	return PROTO_STATE_INITIALIZED;
	case TCP_STATE_CONNECTING:	return PROTO_STATE_CONNECTING;
	case TCP_STATE_CONNECTED:	return PROTO_STATE_CONNECTED;
	case TCP_STATE_LISTENING:	return PROTO_STATE_LISTENING;
	case TCP_STATE_ERROR:		return PROTO_STATE_ERROR;
	default:		return PROTO_STATE_CLOSED;
	}
}

void
tcp_set_state(struct tcp *t, enum tcp_state s)
{
	enum tcp_state from = t->state;

	if (from == s)
		return;
	log_debug("tcp#%llu: %s -> %s", (unsigned long long)t->id, tcp_state_name(from),
		  tcp_state_name(s));
	t->state = s;
	t->eng->ev->state(t, from);
}

/* Sets up an empty engine; the daemon fills in the rest of its context. */
void
tcp_engine_init(struct tcp_engine *eng)
{
	TAILQ_INIT(&eng->orphans);
	TAILQ_INIT(&eng->dead);
	TAILQ_INIT(&eng->paused);
	TAILQ_INIT(&eng->to_flush);
}

/* Frees the sockets in the graveyard.  Returns whether there were any. */
bool
tcp_engine_reap(struct tcp_engine *eng)
{
	struct tcp *t;
	bool any = false;

	while ((t = TAILQ_FIRST(&eng->dead))) {
		TAILQ_REMOVE(&eng->dead, t, link);
		tcp_free(t);
		any = true;
	}
	return any;
}

/* An fd may be free again: every paused listener tries once more. */
void
tcp_engine_resume_accepts(struct tcp_engine *eng)
{
	struct tcp *t;

	while ((t = TAILQ_FIRST(&eng->paused)))
		tcp_accept_resume(t);
}

/* Sets up an owner with no sockets; acct and desc stay its own. */
void
tcp_owner_init(struct tcp_owner *o, struct flow_account *acct, const char *desc)
{
	TAILQ_INIT(&o->sockets);
	TAILQ_INIT(&o->closed);
	o->nsockets = o->nclosed = o->ninbound = o->ntries = 0;
	o->acct = acct;
	o->linger_acct = NULL;
	o->desc = desc;
}

/* The socket of that id, or NULL. */
struct tcp *
tcp_find(struct tcp_engine *eng, int64_t id)
{
	return id > 0 ? proto_idmap_get(eng->sockets, (uint64_t)id) : NULL;
}

/*
 * A socket of owner with that id, in state initialized, in the id map but
 * in no list yet (tcp_new(), tcp_adopt()).  Returns it, or NULL on OOM.
 */
struct tcp *
tcp_alloc(struct tcp_engine *eng, struct tcp_owner *owner, uint64_t id)
{
	struct tcp *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	*t = (struct tcp){
		.eng = eng, .owner = owner, .id = id, .fd = -1,
		.state = TCP_STATE_INITIALIZED, .created = ev_now(eng->loop),
		.port = -1, .listen_queue = -1, .timeout_ms = -1,
		.opts = TCP_SOCKOPTS_NONE, .happy_eyeballs = -1,
		.chunk_size = PROTO_READ_DEFAULT, .where = TCP_IN_SOCKETS,
	};
	if (proto_idmap_put(eng->sockets, t->id, t) < 0) {
		free(t);
		return NULL;
	}
	TAILQ_INIT(&t->reads);
	TAILQ_INIT(&t->writes);
	TAILQ_INIT(&t->accepts);
	TAILQ_INIT(&t->closes);
	ev_init(&t->rio, NULL);
	ev_init(&t->wio, NULL);
	t->run_item.run = tcp_read_turn;
	t->stall_item.run = tcp_wake;
	tcp_close_init(t);
	return t;
}

/*
 * A new socket of owner in state initialized, with the next id.  Returns
 * it, or NULL on OOM.
 */
struct tcp *
tcp_new(struct tcp_engine *eng, struct tcp_owner *owner)
{
	struct tcp *t = tcp_alloc(eng, owner, ++eng->next_socket);

	if (!t)
		return NULL;
	TAILQ_INSERT_TAIL(&owner->sockets, t, link);
	owner->nsockets++;
	eng->ev->created(t);
	return t;
}

/* Frees a socket from the graveyard.  Returns NULL. */
struct tcp *
tcp_free(struct tcp *t)
{
	if (!t)
		return NULL;
	assert(TAILQ_EMPTY(&t->reads) && TAILQ_EMPTY(&t->writes));
	flow_cancel(&t->run_item);
	flow_unstall(&t->stall_item);
	tcp_flush_cancel(t);
	tcp_connect_free(t);
	if (t->gone_acct) {
		flow_pending_sub(t->gone_acct, t->pending_write_bytes);
		t->eng->ev->acct_hold(t->eng->up, t->gone_acct, false);
	}
	t->tls = tcp_tls_free(t->tls);
	t->tls_cfg = tcp_tls_config_free(t->tls_cfg);
	free(t->host);
	free(t->gone_owner);
	free(t);
	return NULL;
}

/* Adopts fd (non-blocking, close-on-exec) as the socket's descriptor. */
void
tcp_set_fd(struct tcp *t, int fd)
{
	assert(t->fd < 0);
	t->fd = fd;
	ev_io_set(&t->rio, fd, EV_READ);
	ev_io_set(&t->wio, fd, EV_WRITE);
	t->eng->nsockets++;
}

/*
 * Stops the watchers and closes the fd; reset sends RST instead of FIN.
 * A positive SO_LINGER is turned off first so close(2) does not block.
 */
void
tcp_close_fd(struct tcp *t, bool reset)
{
	struct tcp_engine *eng = t->eng;

	tcp_channel_drop(t);
	ev_io_stop(eng->loop, &t->rio);
	ev_io_stop(eng->loop, &t->wio);
	flow_cancel(&t->run_item);
	tcp_flush_cancel(t);
	if (t->accept_paused) {
		TAILQ_REMOVE(&eng->paused, t, pause_link);
		t->accept_paused = false;
	}
	if (t->owner)
		flow_unstall(&t->stall_item);
	tcp_tls_accept_drop(t);
	if (t->fd < 0)
		return;
	tcp_tls_close(t, reset);	/* close_notify first, unless reset */
	if (reset || t->opts.linger > 0) {
		/* Reset; or FIN without close(2) waiting: the daemon has lingered. */
		struct linger l = { .l_onoff = reset, .l_linger = 0 };

		(void) setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	eng->ev->fd_closing(t);
	(void) close(t->fd);
	t->fd = -1;
	eng->nsockets--;
	eng->ev->fd_freed(eng->up);
}

static void
pending_sub(struct tcp *t, size_t n)
{
	t->pending_write_bytes -= n;
	if (t->owner) {
		flow_pending_sub(t->owner->acct, n);
		t->eng->ev->budget_changed(t->owner);
	} else if (t->gone_acct) {
		flow_pending_sub(t->gone_acct, n);
	}
}

/* An operation is over: its timer, if any, stops.  The layer above frees it. */
void
tcp_op_done(struct tcp_op *op)
{
	if (op->timer_on) {
		ev_timer_stop(op->tcp->eng->loop, &op->timer);
		op->timer_on = false;
	}
}

/* Fails every operation of l with e. */
void
tcp_cancel_list(struct tcp_op_list *l, const struct tcp_error *e)
{
	struct tcp_op *op;

	while ((op = TAILQ_FIRST(l))) {
		TAILQ_REMOVE(l, op, q_link);
		if (op->kind == TCP_OP_WRITE)
			pending_sub(op->tcp, op->u.write.len - op->u.write.off);
		op->tcp->eng->ev->op_failed(op->tcp, op, e);
	}
}

/*
 * Answers every pending write of t with e plus, in data, how much of it
 * was handed to the kernel (written) and how much of it never left this
 * host (undeliveredBytes), by t->loss: the kernel's unsent bytes are the
 * last ones handed to it, so only the head write may have some of its
 * written bytes out.
 */
void
tcp_fail_writes(struct tcp *t, const struct tcp_error *e)
{
	uint64_t unsent = t->loss.kernel_unsent;
	struct tcp_op *op;

	while ((op = TAILQ_FIRST(&t->writes))) {
		struct tcp_error we = *e;
		size_t off = op->u.write.off, len = op->u.write.len;
		uint64_t out = off > unsent ? off - unsent : 0;

		TAILQ_REMOVE(&t->writes, op, q_link);
		pending_sub(t, len - off);
		we.cut = true;
		we.written = off;
		we.undelivered = len - out;
		t->eng->ev->op_failed(t, op, &we);
	}
}

static void
cancel_one(struct tcp *t, struct tcp_op **slot, const struct tcp_error *e)
{
	struct tcp_op *op = *slot;

	if (!op)
		return;
	*slot = NULL;
	t->eng->ev->op_failed(t, op, e);
}

/*
 * Answers with e everything pending on t but its writes and closes: the
 * connect (resolution stopped), reads, accepts and a shutdown.  Pump
 * mode ends.
 */
void
tcp_cancel_pending(struct tcp *t, const struct tcp_error *e)
{
	tcp_connect_cancel(t, e);	/* the connect or listen, resolution stopped */
	tcp_cancel_list(&t->reads, e);
	tcp_cancel_list(&t->accepts, e);
	cancel_one(t, &t->shutdown_op, e);
	t->pumping = false;
}

/*
 * rpc.cancel: takes the pending op off its socket without answering it
 * (the layer above does, once this returns).  Nothing read is lost: a
 * read or accept only leaves its FIFO, the kernel keeps what it holds.
 * A write's bytes already handed to the kernel stay sent, the rest of it
 * is dropped and the next write follows them; *written says how many
 * went.  A connect or a listen still resolving stops, its fd is closed
 * and the socket is back in state initialized.  A shutdown leaves without
 * sending FIN.  Returns false, touching nothing, for an op that cannot be
 * cancelled (a close).
 */
bool
tcp_op_cancel(struct tcp_op *op, uint64_t *written)
{
	struct tcp *t = op->tcp;

	*written = 0;
	switch (op->kind) {
	case TCP_OP_READ:
		TAILQ_REMOVE(&t->reads, op, q_link);
		break;
	case TCP_OP_ACCEPT:
		TAILQ_REMOVE(&t->accepts, op, q_link);
		break;
	case TCP_OP_WRITE:
		if (op == TAILQ_FIRST(&t->writes) && tcp_tls_write_blocked(t))
			return false;	/* TLS holds a record of it, half sent */
		TAILQ_REMOVE(&t->writes, op, q_link);
		pending_sub(t, op->u.write.len - op->u.write.off);
		*written = op->u.write.off;
		/*
		 * Queue now empty while waiting for room: the writable
		 * callback, on the next loop turn, sees it empty and sends a
		 * pending shutdown's FIN or lets a closing socket end.
		 */
		if (TAILQ_EMPTY(&t->writes) && ev_is_active(&t->wio))
			ev_feed_event(t->eng->loop, &t->wio, EV_WRITE);
		break;
	case TCP_OP_OPEN:
		if (t->connect_op != op || t->state == TCP_STATE_CONNECTED)
			return false;	/* (a tcp.startTls: its handshake goes on) */
		t->connect_op = NULL;
		/* The attempts stop (no answer: the op is the caller's to answer). */
		tcp_connect_cancel(t, &(struct tcp_error){ .code = PROTO_E_CANCELLED });
		tcp_close_fd(t, false);
		tcp_set_state(t, TCP_STATE_INITIALIZED);
		break;
	case TCP_OP_SHUTDOWN:
		if (t->shutdown_op != op)
			return false;
		t->shutdown_op = NULL;
		break;
	case TCP_OP_CLOSE:
		return false;
	}
	tcp_op_done(op);
	tcp_update_io(t);
	return true;
}

/*
 * A network error on an open socket: every pending read, write and
 * shutdown gets it; with none pending, one tcp.error notification does.
 * The socket is closed and left in state error.
 */
void
tcp_fail(struct tcp *t, int err)
{
	struct tcp_error e = { .code = PROTO_E_NETWORK, .message = "network error",
			       .sys_errno = err };
	bool told = !TAILQ_EMPTY(&t->reads) || !TAILQ_EMPTY(&t->writes) || t->shutdown_op;

	log_debug("tcp#%llu: %s", (unsigned long long)t->id, strerror(err));
	t->eng->ev->failing(t, err);
	if (t->state == TCP_STATE_CLOSING) {
		/* Closed for the client already: the close just ends early. */
		tcp_end(t, true, &e, NULL);
		return;
	}
	tcp_measure_loss(t, true);
	tcp_cancel_list(&t->reads, &e);
	tcp_fail_writes(t, &e);
	cancel_one(t, &t->shutdown_op, &e);
	t->pumping = false;
	tcp_close_fd(t, false);
	tcp_set_state(t, TCP_STATE_ERROR);
	if (!told)
		t->eng->ev->error(t, err);
}

/* A channel ended both ways: the socket is done, closed gracefully. */
void
tcp_channel_closed(struct tcp *t)
{
	tcp_close_fd(t, false);
	tcp_set_state(t, TCP_STATE_CLOSED);
	tcp_retire(t);
}

/* The channel's client end went away with bytes still to come: reset. */
void
tcp_channel_reset(struct tcp *t)
{
	tcp_close_fd(t, true);
	tcp_set_state(t, TCP_STATE_CLOSED);
	tcp_retire(t);
}

/*
 * t leaves its owner's open sockets (where it still is); its raced
 * connect attempts stop counting there with it.
 */
void
tcp_owner_unlink(struct tcp *t)
{
	tcp_connect_uncharge(t);
	TAILQ_REMOVE(&t->owner->sockets, t, link);
	t->owner->nsockets--;
}

/*
 * Moves a socket that has just become closed to its owner's closed list
 * (an orphan is forgotten instead).
 */
void
tcp_retire(struct tcp *t)
{
	struct tcp_owner *c = t->owner;

	if (!c) {
		tcp_forget(t);
		return;
	}
	assert(t->where == TCP_IN_SOCKETS);
	tcp_owner_unlink(t);
	TAILQ_INSERT_TAIL(&c->closed, t, link);
	t->where = TCP_IN_CLOSED;
	c->nclosed++;
	if (c->nclosed > TCP_CLOSED_KEEP)
		tcp_forget(TAILQ_FIRST(&c->closed));
	t->eng->ev->socket_closed(c);
}

/*
 * Drops every trace of t: out of its list and the id map (its id now
 * answers -32001), fd closed, into the graveyard.
 */
void
tcp_forget(struct tcp *t)
{
	struct tcp_engine *eng = t->eng;
	struct tcp_error e = { .code = PROTO_E_CLOSED };

	tcp_cancel_pending(t, &e);
	tcp_cancel_list(&t->writes, &e);
	tcp_cancel_list(&t->closes, &e);
	tcp_close_done(t);
	tcp_close_fd(t, false);
	switch (t->where) {
	case TCP_IN_SOCKETS:
		tcp_owner_unlink(t);
		eng->ev->socket_closed(t->owner);
		break;
	case TCP_IN_CLOSED:
		TAILQ_REMOVE(&t->owner->closed, t, link);
		t->owner->nclosed--;
		break;
	case TCP_IN_ORPHANS:
		TAILQ_REMOVE(&eng->orphans, t, link);
		break;
	case TCP_IN_DEAD:
		return;
	}
	proto_idmap_remove(eng->sockets, t->id);
	t->owner = NULL;
	TAILQ_INSERT_TAIL(&eng->dead, t, link);
	t->where = TCP_IN_DEAD;
}

/* Copies into to the options of from that are not -1. */
void
tcp_sockopts_merge(struct tcp_sockopts *to, const struct tcp_sockopts *from)
{
	if (from->no_delay >= 0)
		to->no_delay = from->no_delay;
	if (from->keep_alive >= 0)
		to->keep_alive = from->keep_alive;
	if (from->keep_alive_idle >= 0)
		to->keep_alive_idle = from->keep_alive_idle;
	if (from->linger >= 0)
		to->linger = from->linger;
	if (from->sndbuf >= 0)
		to->sndbuf = from->sndbuf;
	if (from->rcvbuf >= 0)
		to->rcvbuf = from->rcvbuf;
}

/*
 * Applies the socket options that were asked for to the fd, if any: as
 * soon as it exists (before connect, so the receive buffer size counts
 * for the window scale), and again once connected.
 */
void
tcp_apply_options(struct tcp *t)
{
	if (t->fd < 0 || t->state == TCP_STATE_LISTENING)
		return;
	tcp_apply_options_fd(t, t->fd);
}

/* Sets t's options on fd (the socket's own, or a connect attempt's). */
void
tcp_apply_options_fd(const struct tcp *t, int fd)
{
	const struct tcp_sockopts *o = &t->opts;

	if (o->no_delay >= 0)
		(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &o->no_delay, sizeof(int));
	if (o->keep_alive >= 0)
		(void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &o->keep_alive, sizeof(int));
	if (o->keep_alive_idle > 0)
		(void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &o->keep_alive_idle,
				  sizeof(int));
	if (o->linger >= 0) {
		struct linger l = { .l_onoff = 1, .l_linger = o->linger };

		(void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	if (o->sndbuf > 0)
		(void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o->sndbuf, sizeof(int));
	if (o->rcvbuf > 0)
		(void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof(int));
}
