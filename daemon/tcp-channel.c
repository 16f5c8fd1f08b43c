/*
 * tcp-channel: tcp.channel, bulk bytes without JSON.
 *
 * The client gets one end of an AF_UNIX stream socketpair (passed with
 * SCM_RIGHTS on the answer's line); the daemon relays between the other
 * end and the TCP socket, both ways.  Each direction takes turns in the daemon's run
 * queue (flow.c): one receive into the daemon's scratch buffer, sent on
 * at once; only what the destination does not take is kept, in a buffer
 * of that size allocated then and given back once it is out, and the
 * direction reads again only after that.  An idle channel holds no
 * buffer, a busy one at most one receive per direction, and a slow side
 * slows the other through the kernel's flow control.  EOF (shutdown) is passed on once
 * the bytes before it are; an error on either side resets the other.
 * When both directions have ended, the socket is closed and the owner
 * told (tcp.closed, reason "channel").  While a channel is open the
 * socket's JSON reads, writes and pump are refused (-32002 "channel").
 * Passing the client's end and answering tcp.channel are the layer
 * above's (rpc-tcp-channel.c).
 *
 * Buffers, sized for throughput past the admin's wmem_max: the client's
 * end sends into a buffer of TCP_CHANNEL_SNDBUF (the figure of TCP's
 * largest default send buffer, net.ipv4.tcp_wmem), as what it holds is
 * what the client itself wrote.  Our end's, which holds what the daemon
 * relayed and the client has not read, is TCP_CHANNEL_SNDBUF only on a
 * channel the layer above grants it (within its owner's and the daemon's
 * budgets), the kernel's default otherwise.  A granted channel counts
 * TCP_CHANNEL_GRANT on its owner's account (and so on its uid's) and on
 * the engine's total, from its start until our end is closed, whatever
 * ends it: queued in the client's end, that memory is the kernel's, and
 * only the grant bounds it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tcp.h"
#include "tcp-tls.h"

struct tcp_channel {
	int		 fd;		/* our end of the socketpair */
	bool		 enlarged;	/* its buffers were granted (tcp_channel_new) */
	struct flow_account *acct;	/* where the grant counts, once counted (or NULL) */
	bool		 counted;	/* the grant is on acct and the engine's total */
	ev_io		 rio, wio;	/* on fd */
	struct tcp	*t;
	struct flow_item up_item, down_item;	/* turns in the run queue */
	char		*up, *down;	/* what the destination did not take yet, or NULL */
	size_t		 up_len, up_off, down_len, down_off;
	bool		 up_eof, down_eof;	/* the source side ended */
	bool		 up_done, down_done;	/* ... and the end was passed on */
};

static bool channel_update(struct tcp_channel *ch);

/* An enlarged channel of t starts counting its grant (on t's owner's account). */
static void
grant_count(struct tcp_channel *ch, struct tcp *t)
{
	if (!ch->enlarged || ch->counted)
		return;
	ch->acct = t->owner ? t->owner->acct : NULL;
	if (ch->acct)
		flow_channel_add(ch->acct, TCP_CHANNEL_GRANT);
	t->eng->channel_bytes += TCP_CHANNEL_GRANT;
	ch->counted = true;
}

/* Its daemon end is closing: the grant is given back. */
static void
grant_release(struct tcp_channel *ch, struct tcp_engine *eng)
{
	if (!ch->counted)
		return;
	if (ch->acct)
		flow_channel_sub(ch->acct, TCP_CHANNEL_GRANT);
	eng->channel_bytes = eng->channel_bytes > TCP_CHANNEL_GRANT ?
		eng->channel_bytes - TCP_CHANNEL_GRANT : 0;
	ch->counted = false;
}

/* Frees ch; the socketpair end is closed (the client sees EOF, or a reset). */
static void
channel_free(struct tcp_channel *ch)
{
	struct ev_loop *loop = ch->t->eng->loop;

	ev_io_stop(loop, &ch->rio);
	ev_io_stop(loop, &ch->wio);
	flow_cancel(&ch->up_item);
	flow_cancel(&ch->down_item);
	grant_release(ch, ch->t->eng);
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

	channel_free(ch);
	tcp_channel_closed(t);
	t->eng->ev->closed(t, "channel", false);
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

/* recv() and send() on fd, or on the TCP socket t's connection (TLS or not): -errno. */
static ssize_t
io_recv(struct tcp *t, int fd, char *buf, size_t len)
{
	ssize_t n;

	if (t)
		return tcp_conn_recv(t, buf, len);
	n = recv(fd, buf, len, MSG_DONTWAIT);
	return n < 0 ? (errno == EINTR ? -EAGAIN : -errno) : n;
}

static ssize_t
io_send(struct tcp *t, int fd, const char *buf, size_t len)
{
	ssize_t n;

	if (t)
		return tcp_conn_send(t, buf, len);
	n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	return n < 0 ? (errno == EINTR ? -EAGAIN : -errno) : n;
}

/*
 * Sends what *buf holds past *off to fd (t: the TCP side); what is all out is given back.
 * Returns the bytes sent, 0 when the destination is full, or -errno.
 */
static ssize_t
flush_held(struct tcp *t, int fd, char **buf, size_t *len, size_t *off)
{
	ssize_t n = io_send(t, fd, *buf + *off, *len - *off);

	if (n < 0)
		return n == -EAGAIN ? 0 : n;
	*off += (size_t)n;
	if (*off == *len) {
		free(*buf);
		*buf = NULL;
		*len = *off = 0;
	}
	return n;
}

/*
 * Moves one receive from src to dst through the daemon's scratch buffer;
 * what dst does not take at once is kept (allocated only then).  Returns
 * the bytes received, 0 at EOF, -EAGAIN when src has nothing, or -errno
 * (*dst_err: the error was dst's).
 */
static ssize_t
move_once(struct tcp_engine *eng, struct tcp *tsrc, int src, struct tcp *tdst, int dst,
	  char **held, size_t *len, size_t *off, bool *dst_err)
{
	ssize_t n = io_recv(tsrc, src, eng->scratch, eng->scratch_size), k;

	*dst_err = false;
	if (n <= 0)
		return n;
	k = io_send(tdst, dst, eng->scratch, (size_t)n);
	if (k < 0 && k != -EAGAIN) {
		*dst_err = true;
		return k;
	}
	if (k < 0)
		k = 0;
	if (k < n) {
		*held = malloc((size_t)(n - k));
		if (!*held)
			return -ENOMEM;
		memcpy(*held, eng->scratch + k, (size_t)(n - k));
		*len = (size_t)(n - k);
		*off = 0;
	}
	flow_charge(eng->flow, (size_t)n);
	return n;
}

/* Tells the layer above what the relay holds now. */
static void
report_held(struct tcp_channel *ch)
{
	ch->t->eng->ev->relay(ch->t, ch->up ? ch->up_len - ch->up_off : 0,
			      ch->down ? ch->down_len - ch->down_off : 0);
}

/* A turn of TCP -> client; after a full read all passed on, it queues itself again. */
static bool
turn_down(struct flow_item *it)
{
	struct tcp_channel *ch = (struct tcp_channel *)((char *)it -
						       offsetof(struct tcp_channel, down_item));
	struct tcp *t = ch->t;
	struct tcp_engine *eng = t->eng;
	bool dst_err;
	ssize_t n;

	if (ch->down) {
		n = flush_held(NULL, ch->fd, &ch->down, &ch->down_len, &ch->down_off);
		if (n < 0) {
			channel_client_gone(ch);
			return false;
		}
	}
	if (!ch->down && !ch->down_eof) {
		n = move_once(eng, t, t->fd, NULL, ch->fd, &ch->down, &ch->down_len, &ch->down_off,
			      &dst_err);
		if (n == 0) {
			ch->down_eof = true;
			if (tcp_tls_truncated(t))
				eng->ev->tls(t, NULL, true);
		} else if (n > 0) {
			t->bytes_read += (uint64_t)n;
			eng->ev->moved(t, true, (size_t)n);
			if (((size_t)n == eng->scratch_size || tcp_tls_pending(t)) && !ch->down)
				flow_ready(eng->flow, it);	/* more, after the others */
		} else if (n != -EAGAIN) {
			if (dst_err)
				channel_client_gone(ch);
			else
				tcp_fail(t, (int)-n);	/* the client's end is closed: it sees a reset */
			return false;
		}
	}
	if (ch->down_eof && !ch->down && !ch->down_done) {
		(void) shutdown(ch->fd, SHUT_WR);
		ch->down_done = true;
	}
	report_held(ch);
	(void) channel_update(ch);
	return false;
}

/* A turn of client -> TCP. */
static bool
turn_up(struct flow_item *it)
{
	struct tcp_channel *ch = (struct tcp_channel *)((char *)it -
						       offsetof(struct tcp_channel, up_item));
	struct tcp *t = ch->t;
	struct tcp_engine *eng = t->eng;
	bool dst_err;
	size_t before = ch->up ? ch->up_len - ch->up_off : 0;
	ssize_t n, sent;

	if (ch->up) {
		n = flush_held(t, t->fd, &ch->up, &ch->up_len, &ch->up_off);
		if (n < 0) {
			tcp_fail(t, (int)-n);
			return false;
		}
	}
	sent = (ssize_t)before - (ssize_t)(ch->up ? ch->up_len - ch->up_off : 0);
	if (!ch->up && !ch->up_eof) {
		n = move_once(eng, NULL, ch->fd, t, t->fd, &ch->up, &ch->up_len, &ch->up_off,
			      &dst_err);
		if (n == 0) {
			ch->up_eof = true;
		} else if (n > 0) {
			sent += n - (ssize_t)(ch->up ? ch->up_len : 0);
			if ((size_t)n == eng->scratch_size && !ch->up)
				flow_ready(eng->flow, it);	/* more, after the others */
		} else if (n != -EAGAIN) {
			if (dst_err)
				tcp_fail(t, (int)-n);
			else
				channel_client_gone(ch);
			return false;
		}
	}
	if (sent > 0) {
		t->bytes_written += (uint64_t)sent;
		eng->ev->moved(t, false, (size_t)sent);
	}
	if (ch->up_eof && !ch->up && !ch->up_done && tcp_conn_shutdown_wr(t) != -EAGAIN)
		ch->up_done = true;	/* close_notify (TLS) and FIN; else when writable */
	report_held(ch);
	(void) channel_update(ch);
	return false;
}

static void
watch(struct ev_loop *loop, ev_io *w, bool on)
{
	if (on && !ev_is_active(w))
		ev_io_start(loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(loop, w);
}

/*
 * Watches what each direction waits for: its destination while it holds
 * bytes the destination did not take, else its source until it ends.
 * Returns false when both directions are over (ch is gone).
 */
static bool
channel_update(struct tcp_channel *ch)
{
	struct tcp *t = ch->t;
	struct ev_loop *loop = t->eng->loop;

	if (ch->up_done && ch->down_done) {
		channel_finish(ch);
		return false;
	}
	/* A direction queued for a turn needs no watcher until after it. */
	watch(loop, &t->rio, !ch->down && !ch->down_eof && !ch->down_item.on);	/* TCP -> client */
	watch(loop, &ch->wio, ch->down != NULL && !ch->down_item.on);
	watch(loop, &ch->rio, !ch->up && !ch->up_eof && !ch->up_item.on);	/* client -> TCP */
	watch(loop, &t->wio, (ch->up != NULL || (ch->up_eof && !ch->up_done)) && !ch->up_item.on);
	return true;
}

/* Readable or writable ends: the direction concerned takes its turn. */
static void
on_tcp_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp *t = (struct tcp *)((char *)w - offsetof(struct tcp, rio));

	ev_io_stop(loop, w);
	flow_ready(t->eng->flow, &t->channel->down_item);
}

static void
on_tcp_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp *t = (struct tcp *)((char *)w - offsetof(struct tcp, wio));

	ev_io_stop(loop, w);
	flow_ready(t->eng->flow, &t->channel->up_item);
}

static void
on_channel_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_channel *ch = (struct tcp_channel *)((char *)w - offsetof(struct tcp_channel, rio));

	ev_io_stop(loop, w);
	flow_ready(ch->t->eng->flow, &ch->up_item);
}

static void
on_channel_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_channel *ch = (struct tcp_channel *)((char *)w - offsetof(struct tcp_channel, wio));

	ev_io_stop(loop, w);
	flow_ready(ch->t->eng->flow, &ch->down_item);
}

/* A send buffer of v bytes on fd (forcing past wmem_max needs CAP_NET_ADMIN). */
static void
size_buffer(int fd, int v)
{
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
		(void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

/*
 * Why t cannot open a channel now (a read, write, pump, shutdown or
 * channel under way), or NULL when it can.
 */
const char *
tcp_channel_busy(const struct tcp *t)
{
	if (t->channel)
		return "channel";
	if (t->pumping)
		return "pumping";
	if (!TAILQ_EMPTY(&t->reads))
		return "reading";
	if (!TAILQ_EMPTY(&t->writes))
		return "writing";
	if (t->shutdown_op || t->shut_wr)
		return "shutdown";
	if (tcp_tls_handshaking(t))
		return "handshake";
	return NULL;
}

/*
 * A new channel, not yet attached: *client_end is the client's end of its
 * socketpair (blocking: status flags travel with the fd), for the layer
 * above to pass on; enlarged: the layer above granted our end an
 * enlarged buffer (counted once attached), else it keeps the kernel's
 * default (the client's end is enlarged either way).  Returns 0, or
 * -errno.
 */
int
tcp_channel_new(struct tcp_channel **chp, int *client_end, bool enlarged)
{
	struct tcp_channel *ch;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	(void) fcntl(sv[0], F_SETFL, O_NONBLOCK);
	/*
	 * What the client writes and the daemon has not relayed yet is
	 * queued by the client's own writes, on its end.  What the daemon
	 * queues for the client is the daemon's doing: its end is enlarged
	 * only when granted.
	 */
	size_buffer(sv[1], TCP_CHANNEL_SNDBUF);
	if (enlarged)
		size_buffer(sv[0], TCP_CHANNEL_SNDBUF);
	ch = calloc(1, sizeof(*ch));
	if (!ch) {
		(void) close(sv[0]);
		(void) close(sv[1]);
		return -ENOMEM;
	}
	ch->fd = sv[0];
	ch->enlarged = enlarged;
	*chp = ch;
	*client_end = sv[1];
	return 0;
}

/* A channel that could not be given to the client: our end closes. */
void
tcp_channel_discard(struct tcp_channel *ch)
{
	(void) close(ch->fd);
	free(ch);
}

/*
 * The relay of t (connected, not busy) through ch starts: the socket's
 * own reads and writes stop and each direction takes turns.
 */
void
tcp_channel_attach(struct tcp *t, struct tcp_channel *ch)
{
	ch->t = t;
	ch->up_item.run = turn_up;
	ch->down_item.run = turn_down;
	grant_count(ch, t);
	ch->down_eof = t->eof;	/* the peer may have closed already */
	t->channel = ch;
	if (t->owner)
		flow_unstall(&t->stall_item);
	flow_cancel(&t->run_item);
	ev_io_stop(t->eng->loop, &t->rio);
	ev_io_stop(t->eng->loop, &t->wio);
	ev_io_init(&ch->rio, on_channel_readable, ch->fd, EV_READ);
	ev_io_init(&ch->wio, on_channel_writable, ch->fd, EV_WRITE);
	ev_io_init(&t->rio, on_tcp_readable, t->fd, EV_READ);
	ev_io_init(&t->wio, on_tcp_writable, t->fd, EV_WRITE);
	log_debug("tcp#%llu: channel open", (unsigned long long)t->id);
	if (ch->down_eof || tcp_tls_pending(t))
		flow_ready(t->eng->flow, &ch->down_item);	/* no watcher would say so */
	else
		(void) channel_update(ch);
}

/* What t's channel holds, for a state image (im->fd -1: no channel). */
void
tcp_channel_image(const struct tcp *t, struct tcp_channel_image *im)
{
	const struct tcp_channel *ch = t->channel;

	*im = (struct tcp_channel_image){ .fd = -1 };
	if (!ch)
		return;
	im->fd = ch->fd;
	im->up = ch->up ? ch->up + ch->up_off : NULL;
	im->up_len = ch->up ? ch->up_len - ch->up_off : 0;
	im->down = ch->down ? ch->down + ch->down_off : NULL;
	im->down_len = ch->down ? ch->down_len - ch->down_off : 0;
	im->up_eof = ch->up_eof;
	im->down_eof = ch->down_eof;
	im->up_done = ch->up_done;
	im->down_done = ch->down_done;
	im->enlarged = ch->enlarged;
}

/*
 * Whether an adopted end, of an image that does not say, has enlarged
 * buffers (the kernel reports twice what was set).
 */
static bool
adopted_enlarged(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len) == 0 &&
	       (unsigned)v >= TCP_CHANNEL_SNDBUF;
}

/* A copy of n bytes at p, or NULL for none; *ok false without memory. */
static char *
held_copy(const char *p, size_t n, bool *ok)
{
	char *b;

	if (n == 0)
		return NULL;
	b = malloc(n);
	if (!b) {
		*ok = false;
		return NULL;
	}
	memcpy(b, p, n);
	return b;
}

/*
 * The channel of an adopted socket t, as the image says (its fd now
 * ours); it relays once tcp_channel_kick() is called.  0 or -ENOMEM.
 */
int
tcp_channel_adopt(struct tcp *t, const struct tcp_channel_image *im)
{
	struct tcp_channel *ch = calloc(1, sizeof(*ch));
	bool ok = true;

	if (!ch)
		return -ENOMEM;
	ch->fd = im->fd;
	ch->up = held_copy(im->up, im->up_len, &ok);
	ch->up_len = ch->up ? im->up_len : 0;
	ch->down = held_copy(im->down, im->down_len, &ok);
	ch->down_len = ch->down ? im->down_len : 0;
	if (!ok) {
		free(ch->up);
		free(ch->down);
		free(ch);
		return -ENOMEM;
	}
	ch->up_eof = im->up_eof;
	ch->down_eof = im->down_eof;
	ch->up_done = im->up_done;
	ch->down_done = im->down_done;
	ch->enlarged = im->enlarged > 0 || (im->enlarged < 0 && adopted_enlarged(ch->fd));
	grant_count(ch, t);	/* counted again by this process */
	ch->t = t;
	ch->up_item.run = turn_up;
	ch->down_item.run = turn_down;
	t->channel = ch;
	ev_io_init(&ch->rio, on_channel_readable, ch->fd, EV_READ);
	ev_io_init(&ch->wio, on_channel_writable, ch->fd, EV_WRITE);
	ev_io_init(&t->rio, on_tcp_readable, t->fd, EV_READ);
	ev_io_init(&t->wio, on_tcp_writable, t->fd, EV_WRITE);
	return 0;
}

/* An adopted channel starts relaying: each direction takes a turn. */
void
tcp_channel_kick(struct tcp *t)
{
	struct tcp_channel *ch = t->channel;

	if (!ch)
		return;
	flow_ready(t->eng->flow, &ch->up_item);
	flow_ready(t->eng->flow, &ch->down_item);
}
