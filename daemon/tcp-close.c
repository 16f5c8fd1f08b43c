/*
 * tcp-close: how a socket's connection ends.
 *
 * A connection with bytes in flight (queued in the daemon, or in the
 * kernel's send queue and not yet acknowledged by the peer) is closed
 * gracefully by lingering: state closing, the queue flushed, then the
 * kernel's send queue polled until the peer has acknowledged every byte,
 * all bounded by linger-ms; then FIN.  Past linger-ms the connection is
 * reset, and what did not reach the peer is measured just before (struct
 * tcp_loss: SIOCOUTQNSD and SIOCOUTQ) and told to the layer above (the
 * pending writes, the close answers, tcp.closed, monitors, counters, log).
 *
 * A socket's linger option (SO_LINGER, seconds) is the kernel's, but the
 * daemon does the waiting, so close(2) never blocks the loop: linger N > 0
 * bounds the graceful close by N seconds (never past linger-ms), and just
 * before the final close(2) SO_LINGER is turned off; linger 0 makes every
 * close of the socket a reset, as tcp.close with abort.
 */
#include "config.h"

#include <stddef.h>
#include <errno.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "log.h"
#include "proto-errors.h"
#include "tcp.h"

#define TCP_ACK_POLL_FIRST	0.002	/* s: first look at the kernel's send queue */
#define TCP_ACK_POLL_MAX	0.2	/* s: the interval doubles up to this */

/* What a graceful close needs, allocated for its duration only (sockets are many, closes few). */
struct tcp_closing {
	struct tcp	*t;
	ev_timer	 linger_timer;	/* bounds the whole close */
	ev_timer	 ack_timer;	/* queue empty: polls until the peer acked all */
	double		 ack_every;	/* its interval, seconds, doubling */
};

static void tcp_on_linger(struct ev_loop *loop, ev_timer *w, int revents);
static void tcp_on_ack_poll(struct ev_loop *loop, ev_timer *w, int revents);

/* Nothing to set up: a socket gets its close timers when it starts closing. */
void
tcp_close_init(struct tcp *t)
{
	t->closing = NULL;
}

/* The close timers go (the close ended, or the socket is forgotten). */
void
tcp_close_done(struct tcp *t)
{
	struct tcp_closing *cl = t->closing;

	if (!cl)
		return;
	ev_timer_stop(t->eng->loop, &cl->linger_timer);
	ev_timer_stop(t->eng->loop, &cl->ack_timer);
	free(cl);
	t->closing = NULL;
}

/*
 * The kernel's send queue of t's connection, in bytes: *unsent never sent
 * (SIOCOUTQNSD), *unacked sent but not yet acknowledged by the peer
 * (SIOCOUTQ less those).  A FIN queued by tcp.shutdown is not a byte and
 * is left out.  Returns 0, or -errno (both 0 then).
 */
static int
tcp_kernel_queue(const struct tcp *t, uint64_t *unsent, uint64_t *unacked)
{
	int outq = 0, nsd = 0;

	*unsent = *unacked = 0;
	if (t->fd < 0 || t->bytes_written == 0)
		return 0;	/* nothing was ever sent (a FIN alone is not counted) */
	if (ioctl(t->fd, SIOCOUTQ, &outq) < 0 || ioctl(t->fd, SIOCOUTQNSD, &nsd) < 0)
		return -errno;
	if (t->shut_wr && outq > 0) {
		/* The FIN has a sequence number: it is the last one counted. */
		if (nsd > 0)
			nsd--;
		outq--;
	}
	if (outq < nsd || nsd < 0)
		return -EIO;
	*unsent = (uint64_t)nsd;
	*unacked = (uint64_t)(outq - nsd);
	return 0;
}

/*
 * Whether bytes accepted on t may still be on their way to the peer:
 * queued in the daemon, or in the kernel and not yet acknowledged.
 * Sockets with a data channel relay on their own and never linger.
 */
static bool
tcp_in_flight(const struct tcp *t)
{
	uint64_t unsent, unacked;

	if (t->channel || (t->state != TCP_STATE_CONNECTED && t->state != TCP_STATE_CLOSING))
		return false;
	if (!TAILQ_EMPTY(&t->writes))
		return true;
	return tcp_kernel_queue(t, &unsent, &unacked) == 0 && unsent + unacked > 0;
}

/*
 * Measures into t->loss what will not reach the peer once t's fd is
 * closed now: the daemon's queue, and when the connection is reset the
 * kernel's send queue too.  (Closed with FIN, the kernel goes on sending
 * it, as after any close(2); but unread input makes the kernel reset.)
 */
void
tcp_measure_loss(struct tcp *t, bool reset)
{
	uint64_t unsent = 0, unacked = 0;
	int inq = 0;

	/* Nothing ever sent: no kernel queue to lose, whatever unread input does. */
	if (!reset && t->fd >= 0 && t->bytes_written > 0 && ioctl(t->fd, SIOCINQ, &inq) == 0 &&
	    inq > 0)
		reset = true;
	if (reset && (t->state == TCP_STATE_CONNECTED || t->state == TCP_STATE_CLOSING))
		(void) tcp_kernel_queue(t, &unsent, &unacked);
	t->loss = (struct tcp_loss){ .undelivered = t->pending_write_bytes + unsent,
				     .kernel_unsent = unsent, .unacked = unacked };
}

/*
 * Ends t's close, lingering or not: what will not reach the peer is
 * measured (t->loss) and the pending writes are answered with e and their
 * figures; the fd is closed (RST when reset) and t becomes closed; then
 * tcp.closed goes to the owner when the daemon chose the end (reason, or
 * t->closed_reason first), and the close calls are answered.
 */
void
tcp_end(struct tcp *t, bool reset, const struct tcp_error *e, const char *reason)
{
	bool conn = t->fd >= 0 && (t->state == TCP_STATE_CONNECTED ||
				   t->state == TCP_STATE_CLOSING);
	struct tcp_op *op;

	tcp_close_done(t);
	t->loss = (struct tcp_loss){ 0 };
	if (conn)
		tcp_measure_loss(t, reset);
	tcp_fail_writes(t, e);
	tcp_close_fd(t, reset);
	tcp_set_state(t, TCP_STATE_CLOSED);
	if (conn)
		t->eng->ev->ended(t, reset);
	if (t->closed_reason)
		reason = t->closed_reason;
	if (reason)
		t->eng->ev->closed(t, reason, true);
	while ((op = TAILQ_FIRST(&t->closes))) {
		TAILQ_REMOVE(&t->closes, op, q_link);
		t->eng->ev->close_done(t, op);
	}
	tcp_retire(t);
}

/*
 * A closing socket whose queue has drained: its close ends once the peer
 * has acknowledged every byte (or the connection failed).  Until then
 * the kernel's send queue is looked at again in interval seconds, then
 * twice that, up to TCP_ACK_POLL_MAX; linger-ms bounds it all.
 */
static void
tcp_check_acked(struct tcp *t, double interval)
{
	struct tcp_error e = { .code = PROTO_E_CLOSED };
	uint64_t unsent, unacked;
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
		log_debug("tcp#%llu: closing: %s", (unsigned long long)t->id, strerror(err));
		tcp_end(t, true, &e, NULL);
		return;
	}
	if (tcp_kernel_queue(t, &unsent, &unacked) < 0 || unsent + unacked == 0) {
		tcp_end(t, false, &e, NULL);
		return;
	}
	if (!t->closing)
		return;		/* not lingering (an abort after all): nothing to poll for */
	t->closing->ack_every = interval < TCP_ACK_POLL_MAX ? interval : TCP_ACK_POLL_MAX;
	ev_timer_set(&t->closing->ack_timer, t->closing->ack_every, 0.);
	ev_timer_start(t->eng->loop, &t->closing->ack_timer);
}

static void
tcp_on_ack_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp_closing *cl = (struct tcp_closing *)((char *)w -
							offsetof(struct tcp_closing, ack_timer));

	tcp_check_acked(cl->t, cl->ack_every * 2);
}

/* The close timers, made before a close starts to wait.  False without memory. */
static bool
closing_alloc(struct tcp *t)
{
	struct tcp_closing *cl;

	if (t->closing)
		return true;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return false;
	cl->t = t;
	ev_init(&cl->linger_timer, tcp_on_linger);
	ev_init(&cl->ack_timer, tcp_on_ack_poll);
	t->closing = cl;
	return true;
}

/*
 * t, connected with bytes in flight, starts closing: closed for its owner
 * at once, its queue flushed and then acknowledged within linger-ms (or
 * the socket's linger seconds, if shorter).  closing_alloc() has succeeded.
 */
static void
tcp_start_linger(struct tcp *t)
{
	struct tcp_engine *eng = t->eng;
	double bound = (double)eng->conf->linger_ms / 1000.;

	if (t->opts.linger > 0 && t->opts.linger < bound)
		bound = t->opts.linger;	/* the socket's own, shorter */
	tcp_set_state(t, TCP_STATE_CLOSING);
	ev_io_stop(eng->loop, &t->rio);
	if (t->owner)
		flow_unstall(&t->stall_item);
	ev_timer_set(&t->closing->linger_timer, bound, 0.);
	ev_timer_start(eng->loop, &t->closing->linger_timer);
	if (TAILQ_EMPTY(&t->writes)) {
		/* Only the kernel holds bytes: look again shortly. */
		t->closing->ack_every = TCP_ACK_POLL_FIRST;
		ev_timer_set(&t->closing->ack_timer, t->closing->ack_every, 0.);
		ev_timer_start(eng->loop, &t->closing->ack_timer);
	}
}

static void
tcp_on_linger(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp *t = ((struct tcp_closing *)((char *)w -
						offsetof(struct tcp_closing, linger_timer)))->t;
	struct tcp_error e = { .code = PROTO_E_CLOSED,
			       .message = "linger time expired before the data was sent" };

	log_debug("tcp#%llu: linger time expired with %zu bytes queued, resetting",
		  (unsigned long long)t->id, t->pending_write_bytes);
	tcp_end(t, true, &e, "linger");
}

/*
 * Called when the write queue of a socket has drained: a closing one may
 * end now (nothing touches t after this returns).
 */
void
tcp_writes_drained(struct tcp *t)
{
	if (t->state == TCP_STATE_CLOSING && t->closing && !ev_is_active(&t->closing->ack_timer))
		tcp_check_acked(t, TCP_ACK_POLL_FIRST);
}

/*
 * Whether a close of t (abort or not) waits for the peer, and so needs an
 * op to finish later.
 */
bool
tcp_close_waits(struct tcp *t, bool abort)
{
	if (abort || t->state == TCP_STATE_CLOSED)
		return false;
	return t->state == TCP_STATE_CLOSING || tcp_in_flight(t);
}

static void
close_queue(struct tcp *t, struct tcp_op *op)
{
	op->tcp = t;
	op->kind = TCP_OP_CLOSE;
	TAILQ_INSERT_TAIL(&t->closes, op, q_link);
}

/*
 * tcp.close.  Pending reads, accepts, connect and shutdown get -32004; a
 * graceful close of a connection with bytes in flight waits until the
 * peer has acknowledged them (bounded by linger-ms) and op is over then.
 * op (NULL: none could be had) is given when tcp_close_waits() said so.
 * Returns true when op waits; false when the close is over now, for the
 * caller to answer (t->loss says what was lost).
 */
bool
tcp_close(struct tcp *t, struct tcp_op *op, bool abort)
{
	struct tcp_error e = { .code = PROTO_E_CLOSED };

	if (t->state == TCP_STATE_CLOSING && abort) {
		/*
		 * A graceful close under way, cut short: the unsent writes get
		 * -32004, the connection is reset, the linger timer stops, and
		 * the first close is answered too.
		 */
		tcp_end(t, true, &e, NULL);
		return false;
	}
	if (t->state == TCP_STATE_CLOSED || t->state == TCP_STATE_CLOSING) {
		if (t->state == TCP_STATE_CLOSING && op) {
			close_queue(t, op);
			return true;
		}
		return false;
	}
	if (t->opts.linger == 0)
		abort = true;	/* SO_LINGER 0: closes reset */
	tcp_cancel_pending(t, &e);
	if (!abort && op && tcp_in_flight(t) && closing_alloc(t)) {
		close_queue(t, op);
		tcp_start_linger(t);
		return true;
	}
	/* (Without memory to wait, bytes in flight are reset, and reported as such.) */
	if (!abort && tcp_in_flight(t))
		abort = true;
	tcp_end(t, abort && t->state != TCP_STATE_LISTENING, &e, NULL);
	return false;
}

/*
 * The owner is going away.  A connection with bytes in flight lingers as
 * an orphan until the peer has them (or linger-ms passes); anything else
 * is closed and forgotten now.  Pending answers go nowhere.  A lingering
 * orphan and the bytes it still holds stay on the owner's linger_acct
 * (its user's account), so that leaving does not free its user's limits.
 */
void
tcp_orphan(struct tcp *t)
{
	struct tcp_error e = { .code = PROTO_E_CLOSED };
	struct tcp_owner *c = t->owner;
	struct tcp_engine *eng = t->eng;

	tcp_cancel_pending(t, &e);
	if (t->state == TCP_STATE_CONNECTED && t->opts.linger == 0) {
		tcp_end(t, true, &e, NULL);	/* SO_LINGER 0: no lingering, a reset */
		return;
	}
	if (t->state == TCP_STATE_CLOSING || tcp_in_flight(t)) {
		flow_unstall(&t->stall_item);
		flow_pending_sub(c->acct, t->pending_write_bytes);
		if (c->linger_acct) {
			/* It and its bytes still count for its owner's user until it ends. */
			t->gone_acct = c->linger_acct;
			flow_pending_add(t->gone_acct, t->pending_write_bytes);
			eng->ev->acct_hold(eng->up, t->gone_acct, true);
		}
		tcp_owner_unlink(t);
		free(t->gone_owner);
		t->gone_owner = strdup(c->desc);
		t->owner = NULL;
		TAILQ_INSERT_TAIL(&eng->orphans, t, link);
		t->where = TCP_IN_ORPHANS;
		if (t->state != TCP_STATE_CLOSING) {
			if (closing_alloc(t))
				tcp_start_linger(t);
			else
				tcp_end(t, true, &e, "linger");
		}
		return;
	}
	if (t->state == TCP_STATE_CONNECTED) {
		/* Over (monitors see it end); forgotten with c's closed sockets. */
		tcp_end(t, false, &e, NULL);
		return;
	}
	tcp_forget(t);
}

/*
 * The daemon is stopping: t is closed as by a graceful tcp.close, and
 * once that is over its owner gets tcp.closed (reason shutdown) with what
 * did not reach the peer.  A close already under way goes on.
 */
void
tcp_stop(struct tcp *t)
{
	struct tcp_error e = { .code = PROTO_E_CLOSED, .message = "the daemon is stopping" };

	t->closed_reason = "shutdown";
	if (t->state == TCP_STATE_CLOSING)
		return;
	tcp_cancel_pending(t, &e);
	if (t->opts.linger != 0 && tcp_in_flight(t)) {
		if (closing_alloc(t))
			tcp_start_linger(t);
		else
			tcp_end(t, true, &e, "linger");
		return;
	}
	tcp_end(t, t->opts.linger == 0 && t->state == TCP_STATE_CONNECTED, &e, NULL);
}

/* Seconds left of t's graceful close (linger), or -1 when not lingering. */
double
tcp_linger_left(const struct tcp *t)
{
	if (!t->closing || !ev_is_active(&t->closing->linger_timer))
		return -1.;
	return ev_timer_remaining(t->eng->loop, (ev_timer *)&t->closing->linger_timer);
}

/*
 * An adopted socket in state closing goes on lingering for left seconds
 * (its queue flushed, then the peer's acknowledgement polled).  False
 * without memory.
 */
bool
tcp_linger_resume(struct tcp *t, double left)
{
	if (!closing_alloc(t))
		return false;
	log_debug("tcp#%llu: lingering on for %.3f s", (unsigned long long)t->id, left);
	ev_timer_set(&t->closing->linger_timer, left > 0 ? left : 0.001, 0.);
	ev_timer_start(t->eng->loop, &t->closing->linger_timer);
	return true;
}
