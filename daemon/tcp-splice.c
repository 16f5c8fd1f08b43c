/*
 * tcp-splice: a data channel's client -> TCP moves without a copy
 * through the daemon.
 *
 * One pipe, kept by the engine for all channels and made on first use,
 * carries each move: splice(2) from the channel's socketpair end into it
 * (the kernel hands the AF_UNIX buffers' pages over) and from it into
 * the TCP socket (which sends those pages).  Both ends are non-blocking
 * and every call says SPLICE_F_NONBLOCK, so no call waits for a peer;
 * what the TCP socket does not take is read back out of the pipe into a
 * buffer the channel holds, so the pipe is empty after every move and
 * no channel waits for another's bytes.  Each move is bounded by the
 * caller (the daemon's receive buffer size, 256 KiB, as when copying);
 * the pipe is twice that, so a move is not cut short by the pipe's slots
 * (one per page or fragment), and holds pages only during a move.
 *
 * Only that direction: the other one (TCP -> socketpair) copies, as do
 * TLS sockets (OpenSSL reads and writes them).  Where the kernel refuses
 * (no pipe, a size it does not allow, EINVAL from splice(2)), the caller
 * copies instead, from then on.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "flow.h"
#include "log.h"
#include "tcp.h"

/* The engine's pipe goes (the daemon ends, or the pipe could not be emptied). */
void
tcp_splice_done(struct tcp_engine *eng)
{
	for (int i = 0; i < 2; i++)
		if (eng->relay_pipe[i] >= 0) {
			(void) close(eng->relay_pipe[i]);
			eng->relay_pipe[i] = -1;
		}
}

/* The engine's pipe, made if need be; false: splicing is off (copy instead). */
static bool
pipe_ready(struct tcp_engine *eng)
{
	int *p = eng->relay_pipe, r;

	if (eng->no_splice)
		return false;
	if (p[0] >= 0)
		return true;
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
		p[0] = p[1] = -1;
		return false;	/* out of fds now: copy this move, try again later */
	}
	/*
	 * As large as a pass of the run queue may move, if allowed, else
	 * twice a receive (room for a move in slots too: one per page or
	 * fragment), else a receive.
	 */
	if ((r = fcntl(p[0], F_SETPIPE_SZ, (int)FLOW_PASS_BYTES)) < 0 &&
	    (r = fcntl(p[0], F_SETPIPE_SZ, (int)(2 * eng->scratch_size))) < 0 &&
	    (r = fcntl(p[0], F_SETPIPE_SZ, (int)eng->scratch_size)) < 0) {
		log_debug("channel relay: pipe of %zu bytes refused: copying", eng->scratch_size);
		tcp_splice_done(eng);
		eng->no_splice = true;
		return false;
	}
	eng->relay_pipe_size = (size_t)r;
	return true;
}

/* Reads n bytes out of the pipe into buf; false (and the pipe closed) if it cannot. */
static bool
pipe_drain(struct tcp_engine *eng, char *buf, size_t n)
{
	char sink[4096];

	for (size_t got = 0; got < n;) {
		size_t want = buf ? n - got : (n - got < sizeof(sink) ? n - got : sizeof(sink));
		ssize_t r = read(eng->relay_pipe[0], buf ? buf + got : sink, want);

		if (r <= 0) {
			/* Never leave bytes for the next move: a new pipe then. */
			tcp_splice_done(eng);
			return false;
		}
		got += (size_t)r;
	}
	return true;
}

/*
 * Moves up to max bytes from the stream socket src to the TCP socket dst
 * through the engine's pipe.  What dst does not take is put into a new
 * buffer *held (*len bytes, *off 0).  Returns the bytes taken from src,
 * 0 at EOF, -EAGAIN when src has nothing, -EOPNOTSUPP when splicing does
 * not apply (nothing was moved: the caller copies), or another -errno
 * (*dst_err: the error was dst's; the bytes taken are lost with it).
 */
ssize_t
tcp_splice_move(struct tcp_engine *eng, int src, int dst, size_t max,
		char **held, size_t *len, size_t *off, bool *dst_err)
{
	int *p = eng->relay_pipe;
	ssize_t n, k;

	*dst_err = false;
	if (!pipe_ready(eng))
		return -EOPNOTSUPP;
	if (max > eng->relay_pipe_size)
		max = eng->relay_pipe_size;
	n = splice(src, NULL, p[1], NULL, max, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n < 0 && errno == EINVAL) {
		eng->no_splice = true;
		tcp_splice_done(eng);
		return -EOPNOTSUPP;
	}
	if (n <= 0)
		return n < 0 ? (errno == EINTR ? -EAGAIN : -errno) : 0;
	k = splice(p[0], NULL, dst, NULL, (size_t)n, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (k < 0 && errno == EINVAL) {
		eng->no_splice = true;	/* these bytes are read back and sent on by copy */
		k = 0;
	} else if (k < 0 && errno != EAGAIN && errno != EINTR) {
		int err = errno;

		(void) pipe_drain(eng, NULL, (size_t)n);
		*dst_err = true;
		return -err;
	} else if (k < 0) {
		k = 0;
	}
	if (k < n) {
		*held = malloc((size_t)(n - k));
		if (!*held) {
			(void) pipe_drain(eng, NULL, (size_t)(n - k));
			return -ENOMEM;
		}
		if (!pipe_drain(eng, *held, (size_t)(n - k))) {
			free(*held);
			*held = NULL;
			return -EIO;
		}
		*len = (size_t)(n - k);
		*off = 0;
	}
	if (eng->no_splice)
		tcp_splice_done(eng);
	return n;
}
