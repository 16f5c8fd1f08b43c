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
 * and answered in order once handed to the kernel.
 */
#include "config.h"

#include <stddef.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "ctl.h"
#include "monitor.h"
#include "daemon.h"
#include "proto-errors.h"
#include "rpc.h"
#include "tcp.h"

#define TCP_IOV_MAX		64	/* write calls per sendmsg() */

/* Answers a read at the end of stream: {socket, bytes: -1}. */
void
tcp_reply_eof(struct rpc_call *call, const struct tcp *t)
{
	struct proto_jw w;

	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kint(&w, "bytes", -1);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
}

/* Delivers the end of stream to every pending read and to pump mode. */
static void
tcp_deliver_eof(struct tcp *t)
{
	struct rpc_call *call;
	struct proto_jw w;

	while ((call = TAILQ_FIRST(&t->reads))) {
		TAILQ_REMOVE(&t->reads, call, q_link);
		tcp_reply_eof(call, t);
		rpc_call_free(call);
	}
	if (t->pumping && !t->eof_told && rpc_notify_begin(t->owner, &w, PROTO_N_TCP_DATA)) {
		t->eof_told = true;
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kint(&w, "bytes", -1);
		proto_jw_kuint(&w, "totalBytes", t->pump_total);
		proto_jw_obj_end(&w);
		rpc_notify_end(t->owner, &w);
	}
}

static void
tcp_deliver(struct tcp *t, const char *buf, size_t n)
{
	struct proto_jw w;

	if (t->pumping) {
		t->pump_total += n;
		if (rpc_notify_begin(t->owner, &w, PROTO_N_TCP_DATA)) {
			proto_jw_obj_begin(&w);
			proto_jw_kint(&w, "socket", (int64_t)t->id);
			proto_jw_kint(&w, "bytes", (int64_t)n);
			proto_jw_key(&w, "data");
			proto_jw_base64(&w, buf, n);
			proto_jw_kuint(&w, "totalBytes", t->pump_total);
			proto_jw_obj_end(&w);
			rpc_notify_end(t->owner, &w);
		}
		return;
	}
	struct rpc_call *call = TAILQ_FIRST(&t->reads);

	TAILQ_REMOVE(&t->reads, call, q_link);
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kint(&w, "bytes", (int64_t)n);
		proto_jw_key(&w, "data");
		proto_jw_base64(&w, buf, n);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	rpc_call_free(call);
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
	flow_ready(&t->d->flow, &t->run_item);
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
	struct daemon *d = t->d;
	size_t want;
	ssize_t n;

	if (t->fd < 0 || t->channel || t->state != TCP_STATE_CONNECTED || !t->owner || t->eof)
		return false;
	if (!ctl_has_room(t->owner)) {
		tcp_update_io(t);	/* waits for room */
		return false;
	}
	if (t->pumping)
		want = t->chunk_size;
	else if (!TAILQ_EMPTY(&t->reads))
		want = TAILQ_FIRST(&t->reads)->u.read.length;
	else
		return false;
	if (want > DAEMON_SCRATCH)
		want = DAEMON_SCRATCH;
	n = recv(t->fd, d->scratch, want, MSG_DONTWAIT);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			tcp_fail(t, errno);
		else
			tcp_update_io(t);	/* the watcher says when there is more */
		return false;
	}
	if (n == 0) {
		t->eof = true;
		tcp_deliver_eof(t);
		tcp_update_io(t);
		return false;
	}
	flow_charge(&d->flow, (size_t)n);
	t->bytes_read += (uint64_t)n;
	d->counters.bytes_read += (uint64_t)n;
	if (monitor_on(d))
		monitor_bytes(d, t, "read", (size_t)n);
	tcp_deliver(t, d->scratch, (size_t)n);
	if ((size_t)n == want && t->fd >= 0 && !t->eof && t->owner &&
	    (t->pumping || !TAILQ_EMPTY(&t->reads))) {
		/* More to read: after the others, and behind those waiting for room. */
		if (ctl_has_room(t->owner) && !flow_contended(&t->owner->acct))
			flow_ready(&d->flow, it);
		else
			ctl_stall(t->owner, t);
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
		flow_ready(&t->d->flow, &t->run_item);
	return false;
}

/*
 * Starts or stops the read watcher as the socket's wants and its owner's
 * room say; a socket that wants to read without room waits stalled.
 */
void
tcp_update_io(struct tcp *t)
{
	struct ev_loop *loop = t->d->loop;
	bool want = false;

	if (t->fd < 0 || t->channel)
		return;		/* a channel drives its own I/O */
	if (t->state == TCP_STATE_LISTENING) {
		want = !TAILQ_EMPTY(&t->accepts) && !t->accept_paused;
	} else if (t->state == TCP_STATE_CONNECTED && t->owner) {
		want = !t->eof && (t->pumping || !TAILQ_EMPTY(&t->reads));
		if (want && !ctl_has_room(t->owner)) {
			ctl_stall(t->owner, t);
			want = false;
		}
	}
	if (want && t->run_item.on)
		want = false;	/* its turn comes anyway */
	if (want && !ev_is_active(&t->rio))
		ev_io_start(loop, &t->rio);
	else if (!want && ev_is_active(&t->rio))
		ev_io_stop(loop, &t->rio);
}

/* A read or accept waited too long: -32006, the socket stays as it was. */
static void
tcp_on_call_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_call *call = (struct rpc_call *)((char *)w - offsetof(struct rpc_call, timer));
	struct tcp *t = call->tcp;

	call->timer_on = false;
	if (call->method == PROTO_M_TCP_ACCEPT)
		TAILQ_REMOVE(&t->accepts, call, q_link);
	else
		TAILQ_REMOVE(&t->reads, call, q_link);
	rpc_reply_errno(call, -ETIMEDOUT, (int64_t)t->id);
	rpc_call_free(call);
	tcp_update_io(t);
}

/* Arms the timeout of a deferred read or accept; 0 or less means none. */
void
tcp_start_call_timer(struct rpc_call *call, int64_t timeout_ms)
{
	if (timeout_ms <= 0)
		return;
	ev_timer_init(&call->timer, tcp_on_call_timeout, (double)timeout_ms / 1000., 0.);
	ev_timer_start(call->tcp->d->loop, &call->timer);
	call->timer_on = true;
}

/* Queues a deferred read on t.  Returns RPC_DEFERRED. */
int
tcp_read_queue(struct tcp *t, struct rpc_call *call, int64_t timeout_ms)
{
	TAILQ_INSERT_TAIL(&t->reads, call, q_link);
	tcp_start_call_timer(call, timeout_ms);
	tcp_update_io(t);
	return RPC_DEFERRED;
}

static void
write_done(struct tcp *t, struct rpc_call *call)
{
	struct proto_jw w;

	TAILQ_REMOVE(&t->writes, call, q_link);
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kuint(&w, "bytes", call->u.write.len);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	rpc_call_free(call);
}

static void
writes_empty(struct tcp *t)
{
	struct rpc_call *call = t->shutdown_call;

	ev_io_stop(t->d->loop, &t->wio);
	if (call) {
		t->shutdown_call = NULL;
		if (shutdown(t->fd, SHUT_WR) < 0 && errno != ENOTCONN) {
			int err = errno;

			rpc_reply_errno(call, -err, (int64_t)t->id);
			rpc_call_free(call);
			tcp_fail(t, err);
			return;
		}
		t->shut_wr = true;
		rpc_reply_socket(call, (int64_t)t->id);
		rpc_call_free(call);
	}
	tcp_writes_drained(t);
}

/*
 * Sends as much of the write FIFO as the kernel takes, answering each
 * write once its last byte is handed over.
 */
void
tcp_flush_writes(struct tcp *t)
{
	for (;;) {
		struct iovec iov[TCP_IOV_MAX];
		struct msghdr mh = { .msg_iov = iov };
		struct rpc_call *call;
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
		n = sendmsg(t->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ev_io_start(t->d->loop, &t->wio);
				return;
			}
			tcp_fail(t, errno);
			return;
		}
		t->bytes_written += (uint64_t)n;
		t->d->counters.bytes_written += (uint64_t)n;
		if (monitor_on(t->d))
			monitor_bytes(t->d, t, "write", (size_t)n);
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
				flow_pending_sub(&t->owner->acct, take);
			if (call->u.write.off == call->u.write.len)
				write_done(t, call);
		}
		if (t->owner)
			ctl_budget_changed(t->owner);
		if ((size_t)n < total) {
			ev_io_start(t->d->loop, &t->wio);
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
 * Queues the deferred write call (its payload already in call->u.write)
 * and sends what the kernel takes now.  Returns RPC_DEFERRED.
 */
int
tcp_write_queue(struct tcp *t, struct rpc_call *call)
{
	ev_set_cb(&t->wio, tcp_on_writable);
	TAILQ_INSERT_TAIL(&t->writes, call, q_link);
	t->pending_write_bytes += call->u.write.len;
	if (t->owner) {
		flow_pending_add(&t->owner->acct, call->u.write.len);
		ctl_budget_changed(t->owner);
	}
	if (!ev_is_active(&t->wio))
		tcp_flush_writes(t);
	return RPC_DEFERRED;
}

/* tcp.shutdown: FIN once the queued writes are out.  Returns 0 or RPC_DEFERRED. */
int
tcp_shutdown(struct tcp *t, struct rpc_call *call)
{
	struct rpc_call *dc;

	if (t->shut_wr) {
		rpc_reply_socket(call, (int64_t)t->id);
		return 0;
	}
	if (t->shutdown_call)
		return -EALREADY;
	dc = rpc_call_defer(call, t);
	if (!dc)
		return -ENOMEM;
	t->shutdown_call = dc;
	if (TAILQ_EMPTY(&t->writes))
		writes_empty(t);
	return RPC_DEFERRED;
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
