/*
 * ctl-input: reading a control connection, its input budget, and noticing
 * that a client is gone while its input is not read.
 *
 * Bytes are read CTL_READ_CHUNK at a time straight into the line reader
 * and complete lines are dispatched at once.  What stays buffered (an
 * unfinished line, or complete lines while the client is paused) counts
 * against uid-input-bytes for the client's uid and input-bytes for the
 * daemon; a client whose unfinished line takes either past its limit gets
 * -32005 naming it, and the rest of that line is discarded as it arrives.
 * A single line is bounded by max-message-bytes as before.
 *
 * While a client is paused (budget or request cap) or has sent EOF, its
 * fd is not read, so a hang-up would go unseen; such fds sit in the
 * daemon's hang-up epoll (EPOLLRDHUP/EPOLLHUP/EPOLLERR, never EPOLLIN),
 * and a client found gone there is closed at once: its unread input is
 * not executed, its pending requests are dropped, its sockets linger.
 */
#include "config.h"

#include <stddef.h>
#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "ctl.h"
#include "daemon.h"
#include "fdstore.h"
#include "proto-reader.h"
#include "quota.h"
#include "rpc.h"
#include "tcp.h"

#define CTL_HUP_EVENTS	64	/* hang-ups handled per wakeup */

/* Brings the input counters of c, its uid and the daemon up to date. */
static void
account(struct ctl *c, size_t held)
{
	struct daemon *d = c->d;

	d->input_bytes = d->input_bytes - c->input_held + held;
	if (c->quser)
		c->quser->input_bytes = c->quser->input_bytes - c->input_held + held;
	c->input_held = held;
	if (c->ledger)
		fdstore_ctl_input(c, c->in_partial);
}

/* c's input is gone (closing): it no longer counts. */
void
ctl_input_release(struct ctl *c)
{
	account(c, 0);
}

/*
 * After a read: when the input held by c's uid or by every client is over
 * its limit, c's unfinished line goes (it is the one that grew) with
 * -32005 naming the limit.
 */
static void
check_input_limits(struct ctl *c)
{
	struct daemon *d = c->d;
	enum quota_limit l;
	uint64_t value;
	size_t dropped;

	if (c->quser && c->quser->input_bytes > d->conf.uid_input) {
		l = QL_UID_INPUT_BYTES;
		value = d->conf.uid_input;
	} else if (d->input_bytes > d->conf.input) {
		l = QL_INPUT_BYTES;
		value = d->conf.input;
	} else
		return;
	dropped = proto_reader_drop_partial(c->reader);
	if (dropped == 0)
		return;	/* complete lines only, bounded by one read */
	account(c, proto_reader_buffered(c->reader));
	proto_reader_trim(c->reader, CTL_READ_CHUNK);
	log_debug("%s: unfinished line of %zu bytes dropped: %s", c->desc, dropped,
		  quota_limit_name(l));
	rpc_input_limit(c, quota_limit_name(l), value);
}

/*
 * Dispatches buffered complete lines until none is left or c pauses.
 * Lines past the request cap are still dispatched (and refused with
 * -32005), but a budget pause stops here.  Then the sockets written to
 * send what these lines queued (tcp_engine_flush()).
 */
void
ctl_process(struct ctl *c)
{
	char *line;
	size_t len;

	c->flags &= ~CTL_PROCESS;
	while (!(c->flags & (CTL_DEAD | CTL_STOPPING)) && !ctl_over_budget(c)) {
		int r = proto_reader_next(c->reader, &line, &len);

		if (r == PROTO_READER_NONE)
			break;
		if (r == PROTO_READER_TOO_LONG)
			rpc_too_large(c);
		else
			rpc_dispatch_line(c, line, len);
		if (c->flags & CTL_SECRET) {
			explicit_bzero(line, len);	/* a private key's PEM */
			c->flags &= ~CTL_SECRET;
		}
	}
	/* The writes of these requests go out together, their answers in one flush. */
	tcp_engine_flush(&c->d->eng);
	if (c->flags & CTL_DEAD)
		return;
	account(c, proto_reader_buffered(c->reader));
	proto_reader_trim(c->reader, 2 * CTL_READ_CHUNK);
	if (!(c->flags & (CTL_PAUSED | CTL_DRAIN | CTL_EOF | CTL_STOPPING)) && !ev_is_active(&c->rio)) {
		ctl_hup_unwatch(c);
		ev_io_start(c->d->loop, &c->rio);
	}
}

/*
 * The client sent EOF.  One that only shut down its sending side still
 * gets the answers to what it sent, deferred ones included, and is closed
 * after the last (its hang-up is watched meanwhile).  One that is gone
 * (POLLHUP: both directions closed) is closed once the output queue is
 * flushed, and its pending answers are dropped.  A last line without its
 * LF is a line.
 */
static void
on_eof(struct ctl *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

	ev_io_stop(c->d->loop, &c->rio);
	c->flags |= CTL_EOF;
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR)))
		c->flags |= CTL_HUP;
	if (proto_reader_buffered(c->reader) > 0)
		(void) proto_reader_feed(c->reader, "\n", 1);
	ctl_process(c);
	if (!(c->flags & (CTL_DEAD | CTL_HUP)))
		ctl_hup_watch(c);
	ctl_schedule(c);
}

void
ctl_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl *c = (struct ctl *)((char *)w - offsetof(struct ctl, rio));
	void *p;
	size_t room;
	ssize_t n;

	if (proto_reader_space(c->reader, CTL_READ_CHUNK, &p, &room) < 0) {
		ctl_close(c, "out of memory");
		return;
	}
	n = recv(c->fd, p, room < CTL_READ_CHUNK ? room : CTL_READ_CHUNK, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		ctl_close(c, "read error");
		return;
	}
	if (n == 0) {
		on_eof(c);
		return;
	}
	c->in_partial = ((const char *)p)[n - 1] != '\n';
	proto_reader_commit(c->reader, (size_t)n);
	ctl_process(c);
	if (!(c->flags & CTL_DEAD))
		check_input_limits(c);
}

/*
 * Watches c for a hang-up while its input is not read: EPOLLRDHUP too
 * while it has not sent EOF (that is news), only EPOLLHUP and EPOLLERR
 * (always reported) after.
 */
void
ctl_hup_watch(struct ctl *c)
{
	struct epoll_event ev = { .events = c->flags & (CTL_EOF | CTL_RDHUP) ? 0 : EPOLLRDHUP,
				  .data.ptr = c };
	struct daemon *d = c->d;

	if (d->hup_fd < 0 || c->fd < 0)
		return;
	if (epoll_ctl(d->hup_fd, c->hup_watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		log_warning("%s: cannot watch for hang-up: %m", c->desc);
		return;
	}
	c->hup_watched = true;
}

void
ctl_hup_unwatch(struct ctl *c)
{
	if (!c->hup_watched)
		return;
	(void) epoll_ctl(c->d->hup_fd, EPOLL_CTL_DEL, c->fd, NULL);
	c->hup_watched = false;
}

/* The hang-up epoll is readable: close the clients that are gone. */
void
ctl_on_hup(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *d = daemon_from_loop(loop);
	struct epoll_event ev[CTL_HUP_EVENTS];
	int n = epoll_wait(d->hup_fd, ev, CTL_HUP_EVENTS, 0);

	for (int i = 0; i < n; i++) {
		struct ctl *c = ev[i].data.ptr;

		if (c->flags & CTL_DEAD || !c->hup_watched)
			continue;
		if (ev[i].events & (EPOLLHUP | EPOLLERR)) {
			c->flags |= CTL_HUP;
			ctl_close(c, "client gone while its input was not read");
		} else {
			/* Shut down its sending side only: it may still read answers. */
			c->flags |= CTL_RDHUP;
			ctl_hup_watch(c);
		}
	}
}
