/*
 * stream: Ti.Stream over a buffer, a file descriptor or a socket.
 *
 * One object with a kind; read and write dispatch on it.  Buffer streams
 * keep a position: READ reads from 0 onwards, WRITE overwrites from 0 and
 * grows the buffer past its end, APPEND writes at the end.  The helpers
 * (read_all, write_stream, pump) are written on top of read and write, so
 * they work on every kind.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

struct tisock_stream {
	enum stream_kind	 kind;
	int			 mode;		/* TISOCK_MODE_* */
	tisock_buffer		*buf;		/* STREAM_BUFFER, not owned */
	size_t			 pos;		/* STREAM_BUFFER position */
	int			 fd;		/* STREAM_FD, not owned */
	tisock_tcp		*tcp;		/* STREAM_TCP, not owned */
};

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
	if (st)
		st->fd = fd;
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
	case STREAM_FD:		return st->mode == TISOCK_MODE_READ;
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
	case STREAM_FD:		return st->mode != TISOCK_MODE_READ;
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
	if (st->mode != TISOCK_MODE_READ)
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
	if (st->mode == TISOCK_MODE_READ)
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
			return -EOPNOTSUPP;
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

TISOCK_PUBLIC int
tisock_stream_close(tisock_stream *st)
{
	if (st)
		st->kind = STREAM_CLOSED;
	return 0;
}

TISOCK_PUBLIC tisock_stream *
tisock_stream_free(tisock_stream *st)
{
	free(st);
	return NULL;
}
