/*
 * stream: Ti.Stream over a buffer, a file descriptor or a socket.
 *
 * One object with a kind; read and write dispatch on it.  Buffer streams
 * keep a position: READ reads from 0 onwards, WRITE overwrites from 0 and
 * grows the buffer past its end, APPEND writes at the end.  The helpers
 * (read_all, write_stream, pump) are written on top of read and write, so
 * they work on every kind.
 *
 * Asynchronous operations on socket streams are the socket's own.  On
 * buffer and fd streams they queue on the stream, in order, and run from
 * the dispatch of the client the stream is bound to: a buffer stream's
 * at the next dispatch, an fd stream's once its fd is ready (epoll, on a
 * dup of the fd; regular files, which epoll refuses, are always ready).
 * No operation blocks: fd reads are one read after readiness, fd writes
 * go by PIPE_BUF (or MSG_DONTWAIT on sockets) while the fd stays writable.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <tisock/tisock.h>

#include "client.h"
#include "lib-public.h"

#define STREAM_CHUNK	65536	/* read_all's chunk */

enum stream_kind {
	STREAM_BUFFER,
	STREAM_FD,
	STREAM_TCP,
	STREAM_CLOSED,
};

enum op_kind {
	OP_READ,
	OP_WRITE,
	OP_PUMP,
};

/* One asynchronous operation on a buffer or fd stream. */
struct stream_op {
	TAILQ_ENTRY(stream_op)	 link;
	enum op_kind		 kind;
	tisock_buffer		*buf;		/* OP_PUMP: the chunk, owned */
	size_t			 offset, length, done;
	int64_t			 total;		/* OP_PUMP */
	tisock_stream_cb	 cb;
	void			*userdata;
};

struct tisock_stream {
	enum stream_kind	 kind;
	int			 mode;		/* TISOCK_MODE_* */
	tisock_buffer		*buf;		/* STREAM_BUFFER, not owned */
	size_t			 pos;		/* STREAM_BUFFER position */
	int			 fd;		/* STREAM_FD, not owned */
	tisock_tcp		*tcp;		/* STREAM_TCP, not owned */

	/* Asynchronous operations (buffer and fd streams). */
	tisock_client		*client;	/* bound with tisock_stream_set_client */
	struct lib_source	 src;
	TAILQ_HEAD(, stream_op)	 ops;		/* in order; the head runs */
	int			 watch_fd;	/* dup of fd for epoll; -1 */
	bool			 always_ready;	/* fd epoll refuses (regular file) */
	int			 arm_error;	/* -errno: the fd cannot be watched */
	bool			 is_socket;	/* fd is a socket: MSG_DONTWAIT */
	bool			 duplex;	/* read and write (a channel) */
	bool			 owns_fd;	/* closed with the stream */
	int			 in_callback;
	bool			 freed;		/* freed inside a callback */
};

static void stream_run(struct lib_source *src);
static void stream_detach(struct lib_source *src);
static void ops_drop(tisock_stream *st);
static int pump_async(tisock_stream *st, tisock_stream_cb handler, void *userdata,
		      size_t max_chunk);

static tisock_stream *
stream_new(enum stream_kind kind, int mode)
{
	tisock_stream *st;

	if (mode != TISOCK_MODE_READ && mode != TISOCK_MODE_WRITE && mode != TISOCK_MODE_APPEND) {
		errno = EINVAL;
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->kind = kind;
	st->mode = mode;
	st->fd = -1;
	st->watch_fd = -1;
	st->src.run = stream_run;
	st->src.detach = stream_detach;
	TAILQ_INIT(&st->ops);
	return st;
}

TISOCK_PUBLIC tisock_stream *
tisock_stream_create(tisock_buffer *buf, int mode)
{
	tisock_stream *st;

	if (!buf) {
		errno = EINVAL;
		return NULL;
	}
	st = stream_new(STREAM_BUFFER, mode);
	if (st) {
		st->buf = buf;
		st->pos = mode == TISOCK_MODE_APPEND ? tisock_buffer_length(buf) : 0;
	}
	return st;
}

TISOCK_PUBLIC tisock_stream *
tisock_stream_from_fd(int fd, int mode)
{
	tisock_stream *st;

	if (fd < 0) {
		errno = EBADF;
		return NULL;
	}
	st = stream_new(STREAM_FD, mode);
	if (st) {
		int type;
		socklen_t len = sizeof(type);

		st->fd = fd;
		st->is_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
	}
	return st;
}

TISOCK_PUBLIC tisock_stream *
tisock_tcp_channel_stream(tisock_tcp *s)
{
	tisock_stream *st;
	int fd = tisock_tcp_channel(s);

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	st = tisock_stream_from_fd(fd, TISOCK_MODE_READ);
	if (!st) {
		close(fd);
		return NULL;
	}
	st->duplex = true;
	st->owns_fd = true;
	return st;
}

TISOCK_PUBLIC tisock_stream *
tisock_tcp_stream(tisock_tcp *s)
{
	tisock_stream *st;

	if (!s) {
		errno = EINVAL;
		return NULL;
	}
	st = stream_new(STREAM_TCP, TISOCK_MODE_READ);
	if (st && lib_tcp_add_stream(s, st) < 0) {
		free(st);
		errno = ENOMEM;
		return NULL;
	}
	if (st)
		st->tcp = s;
	return st;
}

TISOCK_PUBLIC int
tisock_stream_is_readable(const tisock_stream *st)
{
	if (!st)
		return 0;
	switch (st->kind) {
	case STREAM_BUFFER:
	case STREAM_FD:		return st->mode == TISOCK_MODE_READ || st->duplex;
	case STREAM_TCP:	return tisock_tcp_is_readable(st->tcp);
	default:		return 0;
	}
}

TISOCK_PUBLIC int
tisock_stream_is_writable(const tisock_stream *st)
{
	if (!st)
		return 0;
	switch (st->kind) {
	case STREAM_BUFFER:
	case STREAM_FD:		return st->mode != TISOCK_MODE_READ || st->duplex;
	case STREAM_TCP:	return tisock_tcp_is_writable(st->tcp);
	default:		return 0;
	}
}

/* Resolves a range of buf as Titanium does.  Returns 0 or -EINVAL. */
static int
range(const tisock_buffer *buf, size_t offset, ssize_t length, size_t *ret)
{
	size_t size = tisock_buffer_length(buf);

	if (!buf || offset > size)
		return -EINVAL;
	if (length == TISOCK_ALL)
		*ret = size - offset;
	else if (length < 0 || (size_t)length > size - offset)
		return -EINVAL;
	else
		*ret = (size_t)length;
	return 0;
}

TISOCK_PUBLIC ssize_t
tisock_stream_read(tisock_stream *st, tisock_buffer *buf, size_t offset, ssize_t length)
{
	size_t n, have;
	ssize_t k;

	if (!st || range(buf, offset, length, &n) < 0)
		return -EINVAL;
	if (st->kind == STREAM_CLOSED)
		return -EBADF;
	if (st->kind == STREAM_TCP)
		return tisock_tcp_read(st->tcp, buf, offset, (ssize_t)n);
	if (st->mode != TISOCK_MODE_READ && !st->duplex)
		return -EBADF;	/* not opened in read mode */
	if (n == 0)
		return 0;
	if (st->kind == STREAM_FD) {
		do
			k = read(st->fd, tisock_buffer_data(buf) + offset, n);
		while (k < 0 && errno == EINTR);
		if (k < 0)
			return -errno;
		return k == 0 ? -1 : k;
	}
	have = tisock_buffer_length(st->buf) - st->pos;
	if (have == 0)
		return -1;
	if (n > have)
		n = have;
	memmove(tisock_buffer_data(buf) + offset, tisock_buffer_cdata(st->buf) + st->pos, n);
	st->pos += n;
	return (ssize_t)n;
}

TISOCK_PUBLIC ssize_t
tisock_stream_write(tisock_stream *st, const tisock_buffer *buf, size_t offset, ssize_t length)
{
	size_t n, done = 0;
	int r;

	if (!st || range(buf, offset, length, &n) < 0)
		return -EINVAL;
	if (st->kind == STREAM_CLOSED)
		return -EBADF;
	if (st->kind == STREAM_TCP)
		return tisock_tcp_write(st->tcp, buf, offset, (ssize_t)n);
	if (st->mode == TISOCK_MODE_READ && !st->duplex)
		return -EBADF;	/* not opened for writing */
	if (st->kind == STREAM_FD) {
		while (done < n) {
			ssize_t k = write(st->fd, tisock_buffer_cdata(buf) + offset + done, n - done);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -errno;
			done += (size_t)k;
		}
		return (ssize_t)n;
	}
	if (n == 0)
		return 0;
	if (st->pos + n > tisock_buffer_length(st->buf)) {
		/* Past the end: the buffer grows (write and append modes). */
		r = tisock_buffer_set_length(st->buf, st->pos + n);
		if (r < 0)
			return r;
	}
	memmove(tisock_buffer_data(st->buf) + st->pos, tisock_buffer_cdata(buf) + offset, n);
	st->pos += n;
	return (ssize_t)n;
}

TISOCK_PUBLIC ssize_t
tisock_stream_read_all(tisock_stream *in, tisock_buffer *buf)
{
	size_t total = 0;

	if (!in || !buf)
		return -EINVAL;
	for (;;) {
		size_t at = tisock_buffer_length(buf);
		ssize_t n;
		int r = tisock_buffer_set_length(buf, at + STREAM_CHUNK);

		if (r < 0)
			return r;
		n = tisock_stream_read(in, buf, at, STREAM_CHUNK);
		(void) tisock_buffer_set_length(buf, at + (n > 0 ? (size_t)n : 0));
		if (n == -1)
			return (ssize_t)total;
		if (n < 0)
			return n;
		total += (size_t)n;
	}
}

TISOCK_PUBLIC ssize_t
tisock_stream_write_stream(tisock_stream *in, tisock_stream *out, size_t max_chunk)
{
	tisock_buffer *chunk;
	ssize_t total = 0, n, w;

	if (!in || !out || max_chunk == 0)
		return -EINVAL;
	chunk = tisock_buffer_create(max_chunk);
	if (!chunk)
		return -ENOMEM;
	while ((n = tisock_stream_read(in, chunk, 0, TISOCK_ALL)) > 0) {
		w = tisock_stream_write(out, chunk, 0, n);
		if (w < 0) {
			total = w;
			break;
		}
		total += w;
	}
	tisock_buffer_free(chunk);
	return n < -1 ? n : total;
}

TISOCK_PUBLIC ssize_t
tisock_stream_pump(tisock_stream *in, tisock_stream_cb handler, void *userdata, size_t max_chunk,
		   int is_async)
{
	struct tisock_stream_event ev = { .source = in, .userdata = userdata };
	tisock_buffer *chunk;
	ssize_t n;

	if (!in || !handler || max_chunk == 0)
		return -EINVAL;
	if (is_async) {
		/* On a socket: the daemon pushes tcp.data; chunks arrive from dispatch. */
		if (in->kind != STREAM_TCP)
			return pump_async(in, handler, userdata, max_chunk);
		return lib_tcp_pump(in->tcp, in, handler, userdata,
				    max_chunk > 16777216 ? 16777216 : max_chunk);
	}
	chunk = tisock_buffer_create(max_chunk);
	if (!chunk)
		return -ENOMEM;
	ev.buffer = chunk;
	ev.socket = in->kind == STREAM_TCP ? in->tcp : NULL;
	for (;;) {
		(void) tisock_buffer_set_length(chunk, max_chunk);
		n = tisock_stream_read(in, chunk, 0, TISOCK_ALL);
		if (n < 0)
			break;
		(void) tisock_buffer_set_length(chunk, (size_t)n);
		ev.bytes_processed = n;
		ev.total_bytes_processed += n;
		ev.success = 1;
		ev.error = "";
		handler(&ev);
	}
	/* The end (-1), or an error: one last call either way. */
	(void) tisock_buffer_set_length(chunk, 0);
	ev.bytes_processed = -1;
	ev.success = n == -1;
	ev.code = n == -1 ? 0 : (int)n;
	ev.error = n == -1 ? "" : "read failed";
	handler(&ev);
	tisock_buffer_free(chunk);
	return n == -1 ? (ssize_t)ev.total_bytes_processed : n;
}

/* ---- asynchronous operations -------------------------------------------- */

#define ST_OF(srcp)	((tisock_stream *)((char *)(srcp) - offsetof(tisock_stream, src)))

TISOCK_PUBLIC int
tisock_stream_set_client(tisock_stream *st, tisock_client *c)
{
	if (!st)
		return -EINVAL;
	if (st->kind == STREAM_TCP)
		return -EINVAL;	/* a socket stream uses its socket's client */
	if (st->client == c)
		return 0;
	if (!TAILQ_EMPTY(&st->ops))
		return -EBUSY;
	if (st->client) {
		lib_source_unbind(st->client, &st->src);
		if (st->watch_fd >= 0)
			close(st->watch_fd);
		st->watch_fd = -1;
	}
	st->client = c;
	if (c)
		lib_source_bind(c, &st->src);
	return 0;
}

/* Arms the head operation: scheduled (buffers, regular files) or watched. */
static void
ops_arm(tisock_stream *st)
{
	struct stream_op *op = TAILQ_FIRST(&st->ops);
	uint32_t want;
	int r;

	if (!op) {
		lib_source_quiet(st->client, &st->src);
		return;
	}
	if (st->kind != STREAM_FD || st->always_ready) {
		lib_source_schedule(st->client, &st->src);
		return;
	}
	want = op->kind == OP_WRITE ? EPOLLOUT : EPOLLIN;
	if (st->watch_fd < 0) {
		/* A dup of our own: epoll keys on the fd, and the caller's may be watched already. */
		st->watch_fd = fcntl(st->fd, F_DUPFD_CLOEXEC, 0);
		if (st->watch_fd < 0) {
			st->arm_error = -errno;	/* the operation fails when run */
			lib_source_schedule(st->client, &st->src);
			return;
		}
	}
	r = lib_source_watch(st->client, &st->src, st->watch_fd, want);
	if (r == 0) {
		lib_update(st->client);
		return;
	}
	if (r == -EPERM)
		st->always_ready = true;	/* a regular file: always ready */
	else
		st->arm_error = r;		/* ENOSPC, ENOMEM...: fail, do not spin */
	lib_source_schedule(st->client, &st->src);
}

static int
op_queue(tisock_stream *st, enum op_kind kind, tisock_buffer *buf, size_t offset, size_t length,
	 tisock_stream_cb cb, void *userdata)
{
	struct stream_op *op;

	if (!st->client)
		return -ENOTCONN;	/* no client to run the callback from */
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	*op = (struct stream_op){ .kind = kind, .buf = buf, .offset = offset, .length = length,
				  .cb = cb, .userdata = userdata };
	TAILQ_INSERT_TAIL(&st->ops, op, link);
	st->client->nlocal++;
	if (op == TAILQ_FIRST(&st->ops))
		ops_arm(st);
	return 0;
}

static void
op_free(tisock_stream *st, struct stream_op *op)
{
	TAILQ_REMOVE(&st->ops, op, link);
	if (op->kind == OP_PUMP)
		tisock_buffer_free(op->buf);
	if (st->client)
		st->client->nlocal--;
	free(op);
}

/* Drops every operation without a callback. */
static void
ops_drop(tisock_stream *st)
{
	struct stream_op *op;

	while ((op = TAILQ_FIRST(&st->ops)))
		op_free(st, op);
	if (st->client)
		lib_source_quiet(st->client, &st->src);
}

static void
stream_detach(struct lib_source *src)
{
	tisock_stream *st = ST_OF(src);

	ops_drop(st);
	(void) tisock_stream_set_client(st, NULL);
}

/* Is the fd ready for events now?  Guards against readiness another reader took. */
static bool
fd_ready(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, 0) > 0;
}

/*
 * One step of a read on an fd stream, without blocking.  Returns the
 * count, -1 at EOF, -EAGAIN when not ready, or -errno.
 */
static ssize_t
fd_read_step(tisock_stream *st, void *p, size_t n)
{
	ssize_t k;

	if (n == 0)
		return 0;
	if (!st->always_ready && !st->is_socket && !fd_ready(st->fd, POLLIN))
		return -EAGAIN;
	do {
		if (st->is_socket)
			k = recv(st->fd, p, n, MSG_DONTWAIT);
		else
			k = read(st->fd, p, n);
		if (k < 0 && errno == ENOTSOCK && st->is_socket) {
			st->is_socket = false;
			continue;
		}
	} while (k < 0 && errno == EINTR);
	if (k < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return k == 0 ? -1 : k;
}

/*
 * write(2) that raises no SIGPIPE in the caller's process when the
 * reader is gone (EPIPE is returned instead): SIGPIPE is blocked around
 * the write and one it left pending is taken, as libcurl does.
 */
static ssize_t
write_nosigpipe(int fd, const void *p, size_t n)
{
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t k;
	int e;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	k = write(fd, p, n);
	e = errno;
	if (k < 0 && e == EPIPE && !was_pending) {
		struct timespec zero = { 0, 0 };

		(void) sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return k;
}

/* Writes what the fd takes now.  Returns the bytes written (maybe 0) or -errno. */
static ssize_t
fd_write_step(tisock_stream *st, const char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		size_t want = n - done;
		ssize_t k;

		if (st->is_socket) {
			k = send(st->fd, p + done, want, MSG_DONTWAIT | MSG_NOSIGNAL);
		} else {
			/* After POLLOUT, a pipe takes PIPE_BUF bytes without blocking. */
			if (!st->always_ready) {
				if (!fd_ready(st->fd, POLLOUT))
					break;
				if (want > PIPE_BUF)
					want = PIPE_BUF;
			}
			k = write_nosigpipe(st->fd, p + done, want);
		}
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		done += (size_t)k;
	}
	return (ssize_t)done;
}

/* Runs a step of op.  Returns 1 when it has a result in *res, 0 to wait for the fd. */
static int
op_step(tisock_stream *st, struct stream_op *op, ssize_t *res)
{
	ssize_t r;

	if (st->kind == STREAM_CLOSED) {
		*res = -EBADF;
		return 1;
	}
	if (st->arm_error) {
		*res = st->arm_error;
		st->arm_error = 0;	/* the next operation tries again */
		return 1;
	}
	if (op->kind == OP_PUMP)
		(void) tisock_buffer_set_length(op->buf, op->length);
	if (st->kind == STREAM_BUFFER) {
		*res = op->kind == OP_WRITE
			? tisock_stream_write(st, op->buf, op->offset, (ssize_t)op->length)
			: tisock_stream_read(st, op->buf, op->offset, (ssize_t)op->length);
		return 1;
	}
	if (op->kind == OP_WRITE) {
		r = fd_write_step(st, (const char *)tisock_buffer_cdata(op->buf) + op->offset + op->done,
				  op->length - op->done);
		if (r < 0) {
			*res = r;
			return 1;
		}
		op->done += (size_t)r;
		*res = (ssize_t)op->done;
		return op->done == op->length;
	}
	r = fd_read_step(st, tisock_buffer_data(op->buf) + op->offset, op->length);
	if (r == -EAGAIN)
		return 0;
	*res = r;
	return 1;
}

static void
stream_run(struct lib_source *src)
{
	tisock_stream *st = ST_OF(src);
	tisock_client *c = st->client;
	struct stream_op *op = TAILQ_FIRST(&st->ops);
	struct tisock_stream_event ev = { .source = st };
	bool last;
	ssize_t r;

	if (!op)
		return;
	if (!op_step(st, op, &r)) {
		ops_arm(st);	/* readiness was taken: watch again */
		return;
	}
	last = op->kind != OP_PUMP || r < 0;
	if (op->kind == OP_PUMP) {
		(void) tisock_buffer_set_length(op->buf, r > 0 ? (size_t)r : 0);
		if (r > 0)
			op->total += r;
		ev.total_bytes_processed = op->total;
	}
	ev.buffer = op->buf;
	ev.bytes_processed = r < -1 ? -1 : r;
	ev.success = r >= -1;
	ev.code = r < -1 ? (int)r : 0;
	ev.error = r < -1 ? (r == -EBADF ? "stream closed or not opened for this" : "I/O error") : "";
	ev.userdata = op->userdata;
	if (last) {
		/* Off the queue before the callback, which may queue more or rebind. */
		TAILQ_REMOVE(&st->ops, op, link);
		c->nlocal--;
	}
	st->in_callback++;
	if (op->cb)
		op->cb(&ev);
	st->in_callback--;
	if (last) {
		if (op->kind == OP_PUMP)
			tisock_buffer_free(op->buf);
		free(op);
	}
	if (st->freed) {
		if (st->in_callback == 0)
			tisock_stream_free(st);
		return;
	}
	if (st->client)
		ops_arm(st);
}

static int
stream_async(tisock_stream *st, enum op_kind kind, tisock_buffer *buf, size_t offset,
	     ssize_t length, tisock_stream_cb cb, void *userdata)
{
	size_t n;

	if (!st || range(buf, offset, length, &n) < 0)
		return -EINVAL;
	if (st->kind == STREAM_TCP)
		return lib_tcp_io_async(st->tcp, st, buf, offset, (ssize_t)n, cb, userdata,
					kind == OP_READ);
	if (st->kind == STREAM_CLOSED)
		return -EBADF;
	if (!st->duplex &&
	    (kind == OP_READ ? st->mode != TISOCK_MODE_READ : st->mode == TISOCK_MODE_READ))
		return -EBADF;
	return op_queue(st, kind, buf, offset, n, cb, userdata);
}

TISOCK_PUBLIC int
tisock_stream_read_async(tisock_stream *st, tisock_buffer *buf, size_t offset, ssize_t length,
			 tisock_stream_cb cb, void *userdata)
{
	return stream_async(st, OP_READ, buf, offset, length, cb, userdata);
}

TISOCK_PUBLIC int
tisock_stream_write_async(tisock_stream *st, const tisock_buffer *buf, size_t offset,
			  ssize_t length, tisock_stream_cb cb, void *userdata)
{
	return stream_async(st, OP_WRITE, (tisock_buffer *)buf, offset, length, cb, userdata);
}

/* Asynchronous pump on a buffer or fd stream: an OP_PUMP that reads until the end. */
static int
pump_async(tisock_stream *st, tisock_stream_cb handler, void *userdata, size_t max_chunk)
{
	tisock_buffer *chunk;
	int r;

	if (st->kind == STREAM_CLOSED || st->mode != TISOCK_MODE_READ)
		return -EBADF;
	if (!st->client)
		return -ENOTCONN;
	chunk = tisock_buffer_create(max_chunk);
	if (!chunk)
		return -ENOMEM;
	r = op_queue(st, OP_PUMP, chunk, 0, max_chunk, handler, userdata);
	if (r < 0)
		tisock_buffer_free(chunk);
	return r;
}

TISOCK_PUBLIC int
tisock_stream_close(tisock_stream *st)
{
	if (!st)
		return 0;
	if (st->kind == STREAM_TCP) {
		/* Detached: the socket's operations in flight go on, without a source. */
		if (st->tcp)
			lib_tcp_remove_stream(st->tcp, st);
		st->tcp = NULL;
		st->kind = STREAM_CLOSED;
		return 0;
	}
	st->kind = STREAM_CLOSED;
	if (st->owns_fd && st->fd >= 0) {
		close(st->fd);
		st->fd = -1;
	}
	if (st->client)
		lib_source_quiet(st->client, &st->src);
	if (st->watch_fd >= 0) {
		/* Our dup must not keep the file open once the caller closes it. */
		close(st->watch_fd);
		st->watch_fd = -1;
	}
	/* Pending operations end with -EBADF callbacks from the next dispatch. */
	if (st->client && !TAILQ_EMPTY(&st->ops))
		lib_source_schedule(st->client, &st->src);
	return 0;
}

TISOCK_PUBLIC tisock_stream *
tisock_stream_free(tisock_stream *st)
{
	if (!st)
		return NULL;
	if (st->in_callback) {
		st->freed = true;	/* freed when the callback returns */
		return NULL;
	}
	ops_drop(st);
	if (st->kind == STREAM_TCP && st->tcp)
		lib_tcp_remove_stream(st->tcp, st);
	if (st->owns_fd && st->fd >= 0)
		close(st->fd);
	(void) tisock_stream_set_client(st, NULL);
	free(st);
	return NULL;
}

/* The socket under st was freed: st is closed. */
void
lib_stream_socket_gone(tisock_stream *st)
{
	st->tcp = NULL;
	st->kind = STREAM_CLOSED;
}
