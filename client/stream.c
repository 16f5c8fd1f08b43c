/*
 * stream: the stream kinds and their blocking read and write.
 *
 * One object with a kind; read and write dispatch on it.  Buffer streams
 * keep a position: READ reads from 0 onwards, WRITE overwrites from 0 and
 * grows the buffer past its end, APPEND writes at the end.  File streams
 * (tisock_stream_open) are fd streams that own their fd, opened as
 * Ti.Filesystem.openStream opens files: READ reads from the start, WRITE
 * truncates (creating the file), APPEND writes at the end (creating it).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib-public.h"
#include "stream.h"
#include "tcp.h"

tisock_stream *
lib_stream_new(enum stream_kind kind, int mode)
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
	st->src.run = lib_stream_run;
	st->src.detach = lib_stream_detach;
	TAILQ_INIT(&st->ops);
	TAILQ_INIT(&st->jobs_from);
	TAILQ_INIT(&st->jobs_to);
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
	st = lib_stream_new(STREAM_BUFFER, mode);
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
	st = lib_stream_new(STREAM_FD, mode);
	if (st) {
		int type;
		socklen_t len = sizeof(type);

		st->fd = fd;
		st->is_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
	}
	return st;
}

TISOCK_PUBLIC tisock_stream *
tisock_stream_open(const char *path, int mode)
{
	static const int flags[] = {
		[TISOCK_MODE_READ] = O_RDONLY,
		[TISOCK_MODE_WRITE] = O_WRONLY | O_CREAT | O_TRUNC,
		[TISOCK_MODE_APPEND] = O_WRONLY | O_CREAT | O_APPEND,
	};
	tisock_stream *st;
	int fd, e;

	if (!path || (mode != TISOCK_MODE_READ && mode != TISOCK_MODE_WRITE &&
		      mode != TISOCK_MODE_APPEND)) {
		errno = EINVAL;
		return NULL;
	}
	fd = open(path, flags[mode] | O_CLOEXEC | O_NOCTTY, 0666);
	if (fd < 0)
		return NULL;
	st = tisock_stream_from_fd(fd, mode);
	if (!st) {
		e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	st->owns_fd = true;
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
	st = lib_stream_new(STREAM_TCP, TISOCK_MODE_READ);
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
int
lib_stream_range(const tisock_buffer *buf, size_t offset, ssize_t length, size_t *ret)
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

	if (!st || lib_stream_range(buf, offset, length, &n) < 0)
		return -EINVAL;
	if (st->kind == STREAM_CLOSED)
		return -EBADF;
	if (st->kind == STREAM_TCP)
		return tisock_tcp_read(st->tcp, buf, offset, (ssize_t)n);
	if (st->mode != TISOCK_MODE_READ && !st->duplex)
		return -EBADF;	/* not opened in read mode */
	if (n == 0)
		return 0;
	if (st->kind == STREAM_FD)
		return lib_fd_read(st, tisock_buffer_data(buf) + offset, n);
	/* The buffer may have shrunk under the stream, past its position: the end. */
	if (st->pos >= tisock_buffer_length(st->buf))
		return -1;
	have = tisock_buffer_length(st->buf) - st->pos;
	if (n > have)
		n = have;
	memmove(tisock_buffer_data(buf) + offset, tisock_buffer_cdata(st->buf) + st->pos, n);
	st->pos += n;
	return (ssize_t)n;
}

TISOCK_PUBLIC ssize_t
tisock_stream_write(tisock_stream *st, const tisock_buffer *buf, size_t offset, ssize_t length)
{
	size_t n;
	int r;

	if (!st || lib_stream_range(buf, offset, length, &n) < 0)
		return -EINVAL;
	if (st->kind == STREAM_CLOSED)
		return -EBADF;
	if (st->kind == STREAM_TCP)
		return tisock_tcp_write(st->tcp, buf, offset, (ssize_t)n);
	if (st->mode == TISOCK_MODE_READ && !st->duplex)
		return -EBADF;	/* not opened for writing */
	if (st->kind == STREAM_FD)
		return lib_fd_write(st, tisock_buffer_cdata(buf) + offset, n);
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

TISOCK_PUBLIC int
tisock_stream_close(tisock_stream *st)
{
	if (!st)
		return 0;
	lib_stream_jobs_cancel(st);
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
	lib_stream_ops_end(st);
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
	lib_stream_jobs_cancel(st);
	lib_stream_ops_drop(st);
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
