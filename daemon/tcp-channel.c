/*
 * tcp-channel: tcp.channel, bulk bytes without JSON.
 *
 * The client gets one end of an AF_UNIX stream socketpair (passed with
 * SCM_RIGHTS on the answer's line); the daemon relays between the other
 * end and the TCP socket, both ways, through one buffer per direction:
 * read as much as fits, write it out, read again only once it is all
 * out, so memory per channel is fixed and a slow side slows the other
 * through the kernel's flow control.  EOF (shutdown) is passed on once
 * the bytes before it are; an error on either side resets the other.
 * When both directions have ended, the socket is closed and the owner
 * told (tcp.closed, reason "channel").  While a channel is open the
 * socket's JSON reads, writes and pump are refused (-32002 "channel").
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "log.h"
#include "monitor.h"
#include "proto-errors.h"
#include "rpc.h"
#include "rpc-handlers.h"
#include "tcp.h"

#define CHANNEL_BUF	(256 * 1024)	/* bytes per direction */

struct tcp_channel {
	int		 fd;		/* our end of the socketpair */
	ev_io		 rio, wio;	/* on fd */
	struct tcp	*t;
	char		*up, *down;	/* up: client -> TCP; down: TCP -> client */
	size_t		 up_len, up_off, down_len, down_off;
	bool		 up_eof, down_eof;	/* the source side ended */
	bool		 up_done, down_done;	/* ... and the end was passed on */
};

static void channel_update(struct tcp_channel *ch);

/* Frees ch; the socketpair end is closed (the client sees EOF, or a reset). */
static void
channel_free(struct tcp_channel *ch)
{
	struct ev_loop *loop = ch->t->d->loop;

	ev_io_stop(loop, &ch->rio);
	ev_io_stop(loop, &ch->wio);
	(void) close(ch->fd);
	ch->t->channel = NULL;
	free(ch->up);
	free(ch->down);
	free(ch);
}

/* The socket is being closed or freed: the channel goes with it. */
void
tcp_channel_drop(struct tcp *t)
{
	if (t->channel)
		channel_free(t->channel);
}

/* Both directions are over: the socket closes, and its owner is told. */
static void
channel_finish(struct tcp_channel *ch)
{
	struct tcp *t = ch->t;
	struct proto_jw w;

	channel_free(ch);
	tcp_channel_closed(t);
	if (rpc_notify_begin(t->owner, &w, PROTO_N_TCP_CLOSED)) {
		proto_jw_obj_begin(&w);
		proto_jw_kuint(&w, "socket", t->id);
		proto_jw_kstr(&w, "reason", "channel");
		proto_jw_obj_end(&w);
		rpc_notify_end(t->owner, &w);
	}
}

/* The client's end went away with bytes still to come: the TCP side is reset. */
static void
channel_client_gone(struct tcp_channel *ch)
{
	struct tcp *t = ch->t;

	log_debug("tcp#%llu: channel: the client's end is gone", (unsigned long long)t->id);
	channel_free(ch);
	tcp_channel_reset(t);
}

/* TCP -> client: fill down when empty, then write it to the channel. */
static void
pump_down(struct tcp_channel *ch)
{
	struct tcp *t = ch->t;
	struct daemon *d = t->d;
	ssize_t n;

	for (int i = 0; i < 16; i++) {
		if (ch->down_off == ch->down_len && !ch->down_eof) {
			n = recv(t->fd, ch->down, CHANNEL_BUF, MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				/* The peer reset: the client's end is closed (it sees a reset). */
				tcp_fail(t, errno);
				return;
			}
			if (n == 0) {
				ch->down_eof = true;
			} else {
				ch->down_len = (size_t)n;
				ch->down_off = 0;
				t->bytes_read += (uint64_t)n;
				d->counters.bytes_read += (uint64_t)n;
				if (monitor_on(d))
					monitor_bytes(d, t, "read", (size_t)n);
			}
		}
		if (ch->down_off < ch->down_len) {
			n = send(ch->fd, ch->down + ch->down_off, ch->down_len - ch->down_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				channel_client_gone(ch);
				return;
			}
			ch->down_off += (size_t)n;
			if (ch->down_off < ch->down_len)
				break;
			ch->down_off = ch->down_len = 0;
		}
		if (ch->down_eof && !ch->down_done) {
			(void) shutdown(ch->fd, SHUT_WR);
			ch->down_done = true;
		}
		if (ch->down_done)
			break;
	}
	channel_update(ch);
}

/* Client -> TCP: fill up when empty, then write it to the TCP socket. */
static void
pump_up(struct tcp_channel *ch)
{
	struct tcp *t = ch->t;
	struct daemon *d = t->d;
	ssize_t n;

	for (int i = 0; i < 16; i++) {
		if (ch->up_off == ch->up_len && !ch->up_eof) {
			n = recv(ch->fd, ch->up, CHANNEL_BUF, MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				channel_client_gone(ch);
				return;
			}
			if (n == 0) {
				ch->up_eof = true;
			} else {
				ch->up_len = (size_t)n;
				ch->up_off = 0;
			}
		}
		if (ch->up_off < ch->up_len) {
			n = send(t->fd, ch->up + ch->up_off, ch->up_len - ch->up_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				tcp_fail(t, errno);
				return;
			}
			t->bytes_written += (uint64_t)n;
			d->counters.bytes_written += (uint64_t)n;
			if (monitor_on(d))
				monitor_bytes(d, t, "write", (size_t)n);
			ch->up_off += (size_t)n;
			if (ch->up_off < ch->up_len)
				break;
			ch->up_off = ch->up_len = 0;
		}
		if (ch->up_eof && !ch->up_done) {
			(void) shutdown(t->fd, SHUT_WR);
			ch->up_done = true;
		}
		if (ch->up_done)
			break;
	}
	channel_update(ch);
}

/*
 * Watches what each direction waits for: its source while its buffer is
 * empty, its destination while it is not.
 */
static void
channel_update(struct tcp_channel *ch)
{
	struct tcp *t = ch->t;
	struct ev_loop *loop = t->d->loop;
	bool down_full = ch->down_off < ch->down_len, up_full = ch->up_off < ch->up_len;

	if (ch->up_done && ch->down_done) {
		channel_finish(ch);
		return;
	}
	/* TCP fd: read for down, write for up. */
	if (!ch->down_eof && !down_full) {
		if (!ev_is_active(&t->rio))
			ev_io_start(loop, &t->rio);
	} else if (ev_is_active(&t->rio)) {
		ev_io_stop(loop, &t->rio);
	}
	if (up_full) {
		if (!ev_is_active(&t->wio))
			ev_io_start(loop, &t->wio);
	} else if (ev_is_active(&t->wio)) {
		ev_io_stop(loop, &t->wio);
	}
	/* Channel fd: read for up, write for down. */
	if (!ch->up_eof && !up_full) {
		if (!ev_is_active(&ch->rio))
			ev_io_start(loop, &ch->rio);
	} else if (ev_is_active(&ch->rio)) {
		ev_io_stop(loop, &ch->rio);
	}
	if (down_full) {
		if (!ev_is_active(&ch->wio))
			ev_io_start(loop, &ch->wio);
	} else if (ev_is_active(&ch->wio)) {
		ev_io_stop(loop, &ch->wio);
	}
}

static void
on_tcp_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp *t = (struct tcp *)((char *)w - offsetof(struct tcp, rio));

	pump_down(t->channel);
}

static void
on_tcp_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp *t = (struct tcp *)((char *)w - offsetof(struct tcp, wio));

	pump_up(t->channel);
}

static void
on_channel_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	pump_up((struct tcp_channel *)((char *)w - offsetof(struct tcp_channel, rio)));
}

static void
on_channel_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	pump_down((struct tcp_channel *)((char *)w - offsetof(struct tcp_channel, wio)));
}

/*
 * tcp.channel.  The socket must be connected with no read, write or pump
 * under way; not in a batch (the fd rides on the answer's own line).
 */
int
rpc_tcp_channel(struct rpc_call *call, const union proto_args *args)
{
	struct tcp *t = call->tcp;
	struct tcp_channel *ch;
	struct proto_jw w;
	int sv[2];

	if (call->batch) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_INVALID_REQUEST, .reason = "batch",
			.message = "tcp.channel cannot be part of a batch" });
		return 0;
	}
	if (t->channel || t->pumping || !TAILQ_EMPTY(&t->reads) || !TAILQ_EMPTY(&t->writes) ||
	    t->shutdown_call || t->shut_wr) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_INVALID_STATE, .socket = (int64_t)t->id,
			.state = proto_state_name(tcp_proto_state(t)),
			.reason = t->channel ? "channel" : t->pumping ? "pumping" :
				  !TAILQ_EMPTY(&t->reads) ? "reading" :
				  !TAILQ_EMPTY(&t->writes) ? "writing" : "shutdown" });
		return 0;
	}
	/* The client's end stays blocking (status flags travel with the fd); ours does not. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	(void) fcntl(sv[0], F_SETFL, O_NONBLOCK);
	ch = calloc(1, sizeof(*ch));
	if (ch) {
		ch->up = malloc(CHANNEL_BUF);
		ch->down = malloc(CHANNEL_BUF);
	}
	if (!ch || !ch->up || !ch->down) {
		if (ch) {
			free(ch->up);
			free(ch->down);
		}
		free(ch);
		(void) close(sv[0]);
		(void) close(sv[1]);
		return -ENOMEM;
	}
	if (ctl_pass_fd(call->ctl, sv[1]) < 0) {
		free(ch->up);
		free(ch->down);
		free(ch);
		(void) close(sv[0]);
		return -ENOMEM;
	}
	ch->fd = sv[0];
	ch->t = t;
	ch->down_eof = t->eof;	/* the peer may have closed already */
	t->channel = ch;
	if (t->owner)
		ctl_unstall(t->owner, t);
	ev_io_stop(t->d->loop, &t->rio);
	ev_io_stop(t->d->loop, &t->wio);
	ev_io_init(&ch->rio, on_channel_readable, ch->fd, EV_READ);
	ev_io_init(&ch->wio, on_channel_writable, ch->fd, EV_WRITE);
	ev_io_init(&t->rio, on_tcp_readable, t->fd, EV_READ);
	ev_io_init(&t->wio, on_tcp_writable, t->fd, EV_WRITE);
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kuint(&w, "socket", t->id);
		proto_jw_kbool(&w, "fd", true);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	log_debug("tcp#%llu: channel open", (unsigned long long)t->id);
	if (ch->down_eof)
		pump_down(ch);
	else
		channel_update(ch);
	return 0;
}
