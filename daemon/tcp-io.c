/*
 * tcp-io: reading, writing, pump mode and half-close on connected sockets.
 *
 * Reading happens only while someone can take the bytes: a pending
 * tcp.read or pump mode, and only while the owner (and its user) has
 * output room (client-notify-bytes, uid-notify-bytes); otherwise the
 * socket waits its turn for room (flow.c) and TCP flow control holds the
 * peer.  A readable socket reads in its turn of the daemon's run queue,
 * one receive per turn.  Writes are the socket's write FIFO:
 * each call holds its payload, sent with one sendmsg() over many calls,
 * and answered in order once handed to the kernel.  A queued write is
 * not sent at once: its socket is marked, and tcp_engine_flush() sends
 * each marked socket's FIFO once a run of tcp.write requests from one
 * control read has been dispatched (before any other request, and at the
 * end of the read), so those writes leave in one sendmsg() as far as the
 * socket has room, and their answers in one flush.
 */
#include "config.h"

#include <stddef.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "tcp.h"
#include "tcp-tls.h"

#define TCP_IOV_MAX		64	/* write calls per sendmsg() */

/*
 * Delivers the end of stream to every pending read and to pump mode
 * (once per pump session, once the layer above could tell it).
 */
static void
tcp_deliver_eof(struct tcp *t)
{
	struct tcp_op *op;

	while ((op = TAILQ_FIRST(&t->reads))) {
		TAILQ_REMOVE(&t->reads, op, q_link);
		t->eng->ev->read_eof(t, op);
	}
	if (t->pumping && !t->eof_told && t->eng->ev->eof(t))
		t->eof_told = true;
}

static void
tcp_deliver(struct tcp *t, const char *buf, size_t n)
{
	struct tcp_op *op;

	if (t->pumping) {
		t->pump_total += n;
		t->eng->ev->data(t, buf, n);
		return;
	}
	op = TAILQ_FIRST(&t->reads);
	TAILQ_REMOVE(&t->reads, op, q_link);
	t->eng->ev->read_done(t, op, buf, n);
}

/* t wants to read but its owner or the owner's uid has no room: t waits its turn. */
static void
tcp_stall(struct tcp *t)
{
	struct tcp_owner *o = t->owner;

	if (t->stall_item.on)
		return;
	t->eng->ev->stalled(o, flow_stall(o->acct, &t->stall_item) == o->acct);
}

/*
 * Readable: the socket takes its turn in the daemon's run queue (flow.c);
 * the kernel need not say so again meanwhile.
 */
static void
tcp_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp *t = (struct tcp *)((char *)w - offsetof(struct tcp, rio));

	ev_io_stop(loop, w);
	flow_ready(t->eng->flow, &t->run_item);
}

/*
 * A turn: one receive, for a pending read or pump mode, while the owner
 * has output room.  When it filled what it asked for and may read on, it
 * queues itself again (at the tail: the others go first); otherwise the
 * read watcher says when there is more.
 */
bool
tcp_read_turn(struct flow_item *it)
{
	struct tcp *t = (struct tcp *)((char *)it - offsetof(struct tcp, run_item));
	struct tcp_engine *eng = t->eng;
	size_t want;
	ssize_t n;

	if (t->fd < 0 || t->channel || t->state != TCP_STATE_CONNECTED || !t->owner || t->eof ||
	    tcp_tls_handshaking(t))
		return false;
	if (!eng->ev->has_room(t->owner)) {
		tcp_update_io(t);	/* waits for room */
		return false;
	}
	if (t->pumping)
		want = t->chunk_size;
	else if (!TAILQ_EMPTY(&t->reads))
		want = TAILQ_FIRST(&t->reads)->u.read.length;
	else
		return false;
	if (want > eng->scratch_size)
		want = eng->scratch_size;
	n = tcp_conn_recv(t, eng->scratch, want);
	if (n < 0) {
		if (n != -EAGAIN)
			tcp_fail(t, (int)-n);
		else if (tcp_tls_read_wants_write(t, false))
			ev_io_start(eng->loop, &t->wio);	/* TLS writes first */
		else
			tcp_update_io(t);	/* the watcher says when there is more */
		return false;
	}
	if (n == 0) {
		t->eof = true;
		if (tcp_tls_truncated(t))
			eng->ev->tls(t, NULL, true);
		tcp_deliver_eof(t);
		tcp_update_io(t);
		return false;
	}
	flow_charge(eng->flow, (size_t)n);
	t->bytes_read += (uint64_t)n;
	eng->ev->moved(t, true, (size_t)n);
	tcp_deliver(t, eng->scratch, (size_t)n);
	if (((size_t)n == want || tcp_tls_pending(t)) && t->fd >= 0 && !t->eof && t->owner &&
	    (t->pumping || !TAILQ_EMPTY(&t->reads))) {
		/* More to read: after the others, and behind those waiting for room. */
		if (eng->ev->has_room(t->owner) && !flow_contended(t->owner->acct))
			flow_ready(eng->flow, it);
		else
			tcp_stall(t);
		return false;
	}
	tcp_update_io(t);
	return false;
}

/* Output room again: the socket takes a turn (which arms its watcher if nothing is there). */
bool
tcp_wake(struct flow_item *it)
{
	struct tcp *t = (struct tcp *)((char *)it - offsetof(struct tcp, stall_item));

	if (t->fd >= 0 && !t->channel && t->state == TCP_STATE_CONNECTED && !t->eof &&
	    (t->pumping || !TAILQ_EMPTY(&t->reads)))
		flow_ready(t->eng->flow, &t->run_item);
	return false;
}

/*
 * Starts or stops the read watcher as the socket's wants and its owner's
 * room say; a socket that wants to read without room waits stalled.
 */
void
tcp_update_io(struct tcp *t)
{
	struct ev_loop *loop = t->eng->loop;
	bool want = false;

	if (t->fd < 0 || t->channel || tcp_tls_handshaking(t))
		return;		/* a channel drives its own I/O, a handshake too */
	if (t->state == TCP_STATE_LISTENING) {
		want = !TAILQ_EMPTY(&t->accepts) && !t->accept_paused && tcp_tls_accept_room(t);
	} else if (t->state == TCP_STATE_CONNECTED && t->owner) {
		want = !t->eof && (t->pumping || !TAILQ_EMPTY(&t->reads));
		if (want && !t->eng->ev->has_room(t->owner)) {
			tcp_stall(t);
			want = false;
		}
	}
	if (want && (t->run_item.on || t->stall_item.on))
		want = false;	/* its turn comes anyway, or it waits behind others */
	if (want && tcp_tls_pending(t)) {
		/* OpenSSL holds bytes the fd will not signal: a turn for them. */
		flow_ready(t->eng->flow, &t->run_item);
		want = false;
	}
	if (want && !ev_is_active(&t->rio))
		ev_io_start(loop, &t->rio);
	else if (!want && ev_is_active(&t->rio))
		ev_io_stop(loop, &t->rio);
}

/* A read or accept waited too long: -32006, the socket stays as it was. */
static void
tcp_on_op_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp_op *op = (struct tcp_op *)((char *)w - offsetof(struct tcp_op, timer));
	struct tcp *t = op->tcp;

	op->timer_on = false;
	if (op->kind == TCP_OP_ACCEPT)
		TAILQ_REMOVE(&t->accepts, op, q_link);
	else
		TAILQ_REMOVE(&t->reads, op, q_link);
	t->eng->ev->op_failed(t, op, &(struct tcp_error){ .sys_errno = ETIMEDOUT });
	tcp_update_io(t);
}

/* Arms the timeout of a pending read or accept; 0 or less means none. */
void
tcp_start_op_timer(struct tcp_op *op, int64_t timeout_ms)
{
	if (timeout_ms <= 0)
		return;
	ev_timer_init(&op->timer, tcp_on_op_timeout, (double)timeout_ms / 1000., 0.);
	ev_timer_start(op->tcp->eng->loop, &op->timer);
	op->timer_on = true;
}

/* Queues a read of up to op->u.read.length bytes on t. */
void
tcp_read_queue(struct tcp *t, struct tcp_op *op, int64_t timeout_ms)
{
	op->tcp = t;
	op->kind = TCP_OP_READ;
	TAILQ_INSERT_TAIL(&t->reads, op, q_link);
	tcp_start_op_timer(op, timeout_ms);
	tcp_update_io(t);
}

static void
write_done(struct tcp *t, struct tcp_op *op)
{
	TAILQ_REMOVE(&t->writes, op, q_link);
	t->eng->ev->write_done(t, op);
}

static void
writes_empty(struct tcp *t)
{
	struct tcp_op *op = t->shutdown_op;

	ev_io_stop(t->eng->loop, &t->wio);
	if (op) {
		int r = tcp_conn_shutdown_wr(t);	/* close_notify first on TLS */

		if (r == -EAGAIN) {
			ev_io_start(t->eng->loop, &t->wio);	/* asked again when writable */
			return;
		}
		t->shutdown_op = NULL;
		if (r < 0 && r != -ENOTCONN) {
			int err = -r;

			t->eng->ev->op_failed(t, op, &(struct tcp_error){ .sys_errno = err });
			tcp_fail(t, err);
			return;
		}
		t->shut_wr = true;
		t->eng->ev->shutdown_done(t, op);
	}
	tcp_writes_drained(t);
}

/* sendmsg() of mh over t's TLS: as much as OpenSSL takes, record by record. */
static ssize_t
send_tls(struct tcp *t, const struct msghdr *mh)
{
	ssize_t total = 0, n;

	for (size_t i = 0; i < mh->msg_iovlen; i++) {
		n = tcp_conn_send(t, mh->msg_iov[i].iov_base, mh->msg_iov[i].iov_len);
		if (n < 0) {
			if (total > 0)
				return total;
			errno = (int)-n;
			return -1;
		}
		total += n;
		if ((size_t)n < mh->msg_iov[i].iov_len)
			break;
	}
	return total;
}

/*
 * Sends as much of the write FIFO as the kernel takes, answering each
 * write once its last byte is handed over.
 */
void
tcp_flush_writes(struct tcp *t)
{
	if (tcp_tls_handshaking(t))
		return;		/* the writes wait for it */
	if (tcp_tls_read_wants_write(t, true))
		flow_ready(t->eng->flow, &t->run_item);	/* a read waited for room */
	for (;;) {
		struct iovec iov[TCP_IOV_MAX];
		struct msghdr mh = { .msg_iov = iov };
		struct tcp_op *call;
		size_t total = 0;
		ssize_t n;

		/* Zero-length writes at the head complete in order. */
		while ((call = TAILQ_FIRST(&t->writes)) && call->u.write.off == call->u.write.len)
			write_done(t, call);
		if (TAILQ_EMPTY(&t->writes)) {
			writes_empty(t);
			return;
		}
		TAILQ_FOREACH(call, &t->writes, q_link) {
			if (mh.msg_iovlen == TCP_IOV_MAX)
				break;
			if (call->u.write.off == call->u.write.len)
				continue;
			iov[mh.msg_iovlen].iov_base = call->u.write.data + call->u.write.off;
			iov[mh.msg_iovlen].iov_len = call->u.write.len - call->u.write.off;
			total += iov[mh.msg_iovlen].iov_len;
			mh.msg_iovlen++;
		}
		n = t->tls ? send_tls(t, &mh) : sendmsg(t->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		t->send_calls++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ev_io_start(t->eng->loop, &t->wio);
				return;
			}
			tcp_fail(t, errno);
			return;
		}
		t->bytes_written += (uint64_t)n;
		t->eng->ev->moved(t, false, (size_t)n);
		for (size_t left = (size_t)n; left > 0;) {
			size_t take;

			call = TAILQ_FIRST(&t->writes);
			take = call->u.write.len - call->u.write.off;
			if (take > left)
				take = left;
			call->u.write.off += take;
			left -= take;
			t->pending_write_bytes -= take;
			if (t->owner)
				flow_pending_sub(t->owner->acct, take);
			else if (t->gone_acct)
				flow_pending_sub(t->gone_acct, take);
			if (call->u.write.off == call->u.write.len)
				write_done(t, call);
		}
		if (t->owner)
			t->eng->ev->budget_changed(t->owner);
		if ((size_t)n < total) {
			ev_io_start(t->eng->loop, &t->wio);
			return;
		}
	}
}

static void
tcp_on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp *t = (struct tcp *)((char *)w - offsetof(struct tcp, wio));

	tcp_flush_writes(t);
}

/*
 * Queues the write op (its payload in op->u.write, off 0).  Unless the
 * socket waits for room already, it is marked to be flushed by
 * tcp_engine_flush(), which the layer above calls once the requests at
 * hand are dispatched (and before the loop blocks, in any case).
 */
void
tcp_write_queue(struct tcp *t, struct tcp_op *op)
{
	op->tcp = t;
	op->kind = TCP_OP_WRITE;
	ev_set_cb(&t->wio, tcp_on_writable);
	TAILQ_INSERT_TAIL(&t->writes, op, q_link);
	t->pending_write_bytes += op->u.write.len;
	if (t->owner) {
		flow_pending_add(t->owner->acct, op->u.write.len);
		t->eng->ev->budget_changed(t->owner);
	}
	if (!ev_is_active(&t->wio) && !t->flush_on) {
		TAILQ_INSERT_TAIL(&t->eng->to_flush, t, flush_link);
		t->flush_on = true;
	}
}

/* t's marked flush is off (its fd closes, or it is flushed now). */
void
tcp_flush_cancel(struct tcp *t)
{
	if (!t->flush_on)
		return;
	TAILQ_REMOVE(&t->eng->to_flush, t, flush_link);
	t->flush_on = false;
}

/*
 * Sends the write FIFO of every marked socket, in the order they were
 * marked: all writes queued since the last flush go out together.  A
 * socket that closed meanwhile is no longer marked (its close answered
 * the writes); one that waits for room is skipped (its writable watcher
 * sends them).
 */
void
tcp_engine_flush(struct tcp_engine *eng)
{
	struct tcp *t;

	while ((t = TAILQ_FIRST(&eng->to_flush))) {
		tcp_flush_cancel(t);
		if (t->fd < 0 || ev_is_active(&t->wio))
			continue;
		tcp_flush_writes(t);
	}
}

/*
 * Half-close: FIN once the queued writes are out, then op is done.  The
 * caller has checked that no FIN is sent or pending (shut_wr, shutdown_op).
 */
void
tcp_shutdown(struct tcp *t, struct tcp_op *op)
{
	op->tcp = t;
	op->kind = TCP_OP_SHUTDOWN;
	t->shutdown_op = op;
	if (TAILQ_EMPTY(&t->writes) && !tcp_tls_handshaking(t))
		writes_empty(t);
}

/* Turns pump mode on or off; an end of stream already seen is told now. */
void
tcp_pump_set(struct tcp *t, bool on, size_t chunk)
{
	if (on && !t->pumping)
		t->eof_told = false;	/* every pump session ends with its own -1 */
	t->pumping = on;
	t->chunk_size = chunk;
	if (on && t->eof)
		tcp_deliver_eof(t);
	tcp_update_io(t);
}

/* Sets the read callback of a socket that has just become connected. */
void
tcp_io_connected(struct tcp *t)
{
	ev_set_cb(&t->rio, tcp_on_read);
	ev_set_cb(&t->wio, tcp_on_writable);
}
