/*
 * stream-fd: file descriptor I/O for fd and file streams.
 *
 * The blocking forms serve tisock_stream_read and _write (a write to a
 * reader that is gone fails with EPIPE, without SIGPIPE).  The step
 * forms serve the asynchronous operations and never block: a read is
 * one read after readiness, a write goes by PIPE_BUF (or MSG_DONTWAIT on
 * sockets) while the fd stays writable, and a write to a pipe whose
 * reader is gone fails with EPIPE without raising SIGPIPE.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stream.h"

/* read(2) on st's fd, blocking.  Returns the count, -1 at EOF, or -errno. */
ssize_t
lib_fd_read(tisock_stream *st, void *p, size_t n)
{
	ssize_t k;

	do
		k = read(st->fd, p, n);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return -errno;
	return k == 0 ? -1 : k;
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
ssize_t
lib_fd_read_step(tisock_stream *st, void *p, size_t n)
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

/*
 * Writes all n bytes to st's fd, blocking.  Returns n or -errno.  A
 * peer that is gone (the daemon behind a data channel, the reader of a
 * pipe) gives -EPIPE, never SIGPIPE: a library must not kill its host.
 */
ssize_t
lib_fd_write(tisock_stream *st, const void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k;

		if (st->is_socket)
			k = send(st->fd, (const char *)p + done, n - done, MSG_NOSIGNAL);
		else
			k = write_nosigpipe(st->fd, (const char *)p + done, n - done);
		if (k < 0 && errno == ENOTSOCK && st->is_socket) {
			st->is_socket = false;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		done += (size_t)k;
	}
	return (ssize_t)n;
}

/* Writes what the fd takes now.  Returns the bytes written (maybe 0) or -errno. */
ssize_t
lib_fd_write_step(tisock_stream *st, const char *p, size_t n)
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
