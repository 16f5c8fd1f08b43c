/*
 * Asynchronous Ti.Stream operations against a real tisockd: callback
 * reads, writes and pumps on buffer streams, on pipes, socket pairs and
 * regular files, and on socket streams; ordering, closing and freeing
 * inside callbacks, and the client fd as the one thing an event loop
 * has to watch.
 *
 *	test-streams-async DAEMON
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <tisock/tisock.h>
#include <tisock/adapters/libev.h>

#include "client-wait.h"
#include "spawn.h"

#define DEADLINE_MS	10000
#define BIG		(1u << 20)


/* What the callbacks saw, in order. */
struct log {
	int		 calls, ended, errors;
	int		 last_code;
	ssize_t		 bytes[64];
	int64_t		 total;
	tisock_stream	*source;
	unsigned char	 data[256 * 1024];
	size_t		 len;
	int		 free_after;	/* free the stream at this call (0: never) */
};

static void
on_event(const struct tisock_stream_event *ev)
{
	struct log *l = ev->userdata;

	if (l->calls < 64)
		l->bytes[l->calls] = ev->bytes_processed;
	l->calls++;
	l->source = ev->source;
	l->total = ev->total_bytes_processed;
	if (!ev->success) {
		l->errors++;
		l->last_code = ev->code;
		assert_int_equal(ev->bytes_processed, -1);
		assert_true(ev->code < 0);
		assert_true(ev->error && *ev->error);
	} else if (ev->bytes_processed == -1) {
		l->ended++;
	}
	if (l->free_after && l->calls == l->free_after)
		tisock_stream_free(ev->source);
}

/* A pump handler that keeps the chunks. */
static void
on_chunk(const struct tisock_stream_event *ev)
{
	struct log *l = ev->userdata;

	if (ev->bytes_processed > 0) {
		assert_true(l->len + (size_t)ev->bytes_processed <= sizeof(l->data));
		memcpy(l->data + l->len, tisock_buffer_cdata(ev->buffer), (size_t)ev->bytes_processed);
		l->len += (size_t)ev->bytes_processed;
		assert_int_equal(ev->total_bytes_processed, (int64_t)l->len);
	}
	on_event(ev);
}

static int
fd_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static void
buffer_streams(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	tisock_buffer *src = tisock_buffer_from_string("0123456789", TISOCK_ALL, TISOCK_CHARSET_UTF8);
	tisock_buffer *dst = tisock_buffer_create(0), *into = tisock_buffer_create(4);
	tisock_buffer *bits[3];
	tisock_stream *in = tisock_stream_create(src, TISOCK_MODE_READ);
	tisock_stream *out = tisock_stream_create(dst, TISOCK_MODE_WRITE);
	struct log rl = { 0 }, wl = { 0 };
	char *text;

	(void)state;
	assert_non_null(c);
	/* No client to run the callback from. */
	assert_int_equal(tisock_stream_read_async(in, into, 0, TISOCK_ALL, on_event, &rl), -ENOTCONN);
	assert_int_equal(tisock_stream_set_client(in, c), 0);
	assert_int_equal(tisock_stream_set_client(out, c), 0);
	/* Mode and range rules are checked at the call. */
	assert_int_equal(tisock_stream_write_async(in, into, 0, TISOCK_ALL, on_event, &rl), -EBADF);
	assert_int_equal(tisock_stream_read_async(out, into, 0, TISOCK_ALL, on_event, &rl), -EBADF);
	assert_int_equal(tisock_stream_read_async(in, into, 3, 2, on_event, &rl), -EINVAL);

	/* Three reads of 4 into one buffer: in order, 4, 4, 2, then -1. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(tisock_stream_read_async(in, into, 0, TISOCK_ALL, on_event, &rl), 0);
	assert_int_equal(tisock_stream_set_client(in, NULL), -EBUSY);
	assert_int_equal(rl.calls, 0);	/* nothing before dispatch */
	assert_true(tisock_client_pending(c));
	assert_true(fd_readable(tisock_client_fd(c), 0));	/* the loop is told */
	client_wait_flag(c, &rl.calls, 4, DEADLINE_MS);
	assert_int_equal(rl.bytes[0], 4);
	assert_int_equal(rl.bytes[1], 4);
	assert_int_equal(rl.bytes[2], 2);
	assert_int_equal(rl.bytes[3], -1);
	assert_int_equal(rl.ended, 1);
	assert_ptr_equal(rl.source, in);
	assert_memory_equal(tisock_buffer_data(into), "8967", 4);
	assert_false(tisock_client_pending(c));

	/* Writes in write mode grow the buffer, in the order asked. */
	bits[0] = tisock_buffer_from_string("alpha ", TISOCK_ALL, TISOCK_CHARSET_UTF8);
	bits[1] = tisock_buffer_from_string("beta ", TISOCK_ALL, TISOCK_CHARSET_UTF8);
	bits[2] = tisock_buffer_from_string("gamma", TISOCK_ALL, TISOCK_CHARSET_UTF8);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tisock_stream_write_async(out, bits[i], 0, TISOCK_ALL, on_event, &wl), 0);
	client_wait_flag(c, &wl.calls, 3, DEADLINE_MS);
	assert_int_equal(wl.bytes[0], 6);
	assert_int_equal(wl.bytes[2], 5);
	text = tisock_buffer_to_string(dst, NULL);
	assert_string_equal(text, "alpha beta gamma");
	free(text);

	/* Closing the stream ends a pending operation with -EBADF. */
	memset(&wl, 0, sizeof(wl));
	assert_int_equal(tisock_stream_write_async(out, bits[0], 0, TISOCK_ALL, on_event, &wl), 0);
	assert_int_equal(tisock_stream_close(out), 0);
	client_wait_flag(c, &wl.calls, 1, DEADLINE_MS);
	assert_int_equal(wl.errors, 1);
	assert_int_equal(wl.last_code, -EBADF);
	assert_int_equal(tisock_buffer_length(dst), 16);	/* nothing written */

	for (int i = 0; i < 3; i++)
		tisock_buffer_free(bits[i]);
	tisock_stream_free(in);
	tisock_stream_free(out);
	tisock_buffer_free(src);
	tisock_buffer_free(dst);
	tisock_buffer_free(into);
	tisock_client_close(c);
}

static void
buffer_pump(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	tisock_buffer *src = tisock_buffer_create(10000);
	tisock_stream *in;
	struct log l = { 0 };
	int runs;

	(void)state;
	for (size_t i = 0; i < 10000; i++)
		tisock_buffer_data(src)[i] = (unsigned char)(i * 7);
	in = tisock_stream_create(src, TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_pump(in, on_chunk, &l, 1024, 1), -ENOTCONN);
	assert_int_equal(tisock_stream_set_client(in, c), 0);
	assert_int_equal(tisock_stream_pump(in, on_chunk, &l, 1024, 1), 0);
	assert_int_equal(l.calls, 0);
	/* One chunk per dispatch: a pump does not starve the rest of the loop. */
	runs = tisock_client_dispatch(c, 0);
	assert_int_equal(runs, 1);
	assert_int_equal(l.calls, 1);
	client_wait_flag(c, &l.ended, 1, DEADLINE_MS);
	assert_int_equal(l.calls, 11);	/* 9 x 1024, 784, then -1 */
	assert_int_equal(l.bytes[9], 784);
	assert_int_equal(l.bytes[10], -1);
	assert_int_equal(l.total, 10000);
	assert_int_equal(l.len, 10000);
	assert_memory_equal(l.data, tisock_buffer_cdata(src), 10000);
	assert_int_equal(tisock_client_run(c), 0);	/* idle: returns */

	/* A handler that frees its stream mid-pump: no more calls. */
	memset(&l, 0, sizeof(l));
	in = tisock_stream_free(in);
	in = tisock_stream_create(src, TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_set_client(in, c), 0);
	l.free_after = 3;
	assert_int_equal(tisock_stream_pump(in, on_chunk, &l, 1024, 1), 0);
	client_wait_flag(c, &l.calls, 3, DEADLINE_MS);
	for (int i = 0; i < 5; i++)
		assert_true(tisock_client_dispatch(c, 0) >= 0);
	assert_int_equal(l.calls, 3);
	assert_false(tisock_client_pending(c));

	/* Closing the client drops a stream's pending work, without callbacks. */
	memset(&l, 0, sizeof(l));
	in = tisock_stream_create(src, TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_set_client(in, c), 0);
	assert_int_equal(tisock_stream_pump(in, on_chunk, &l, 1024, 1), 0);
	tisock_client_close(c);
	assert_int_equal(l.calls, 0);
	assert_int_equal(tisock_stream_pump(in, on_chunk, &l, 1024, 1), -ENOTCONN);
	tisock_stream_free(in);
	tisock_buffer_free(src);
}

static void
pipes(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	tisock_buffer *into = tisock_buffer_create(64), *big = tisock_buffer_create(BIG);
	tisock_stream *in, *out;
	struct log rl = { 0 }, wl = { 0 };
	unsigned char *sink = malloc(BIG);
	size_t drained = 0;
	long long end;
	int p[2], q[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	in = tisock_stream_from_fd(p[0], TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_set_client(in, c), 0);

	/* A read waits for data without blocking anything. */
	assert_int_equal(tisock_stream_read_async(in, into, 0, TISOCK_ALL, on_event, &rl), 0);
	assert_int_equal(tisock_client_dispatch(c, 0), 0);
	assert_false(fd_readable(tisock_client_fd(c), 0));
	assert_int_equal(write(p[1], "abc", 3), 3);
	assert_true(fd_readable(tisock_client_fd(c), DEADLINE_MS));
	client_wait_flag(c, &rl.calls, 1, DEADLINE_MS);
	assert_int_equal(rl.bytes[0], 3);
	assert_memory_equal(tisock_buffer_data(into), "abc", 3);

	/* Closing the stream ends a waiting read with -EBADF. */
	assert_int_equal(tisock_stream_read_async(in, into, 0, TISOCK_ALL, on_event, &rl), 0);
	assert_int_equal(tisock_stream_close(in), 0);
	client_wait_flag(c, &rl.calls, 2, DEADLINE_MS);
	assert_int_equal(rl.last_code, -EBADF);
	tisock_stream_free(in);

	/* 1 MiB into a 64 KiB pipe whose other end this thread drains: the write never blocks. */
	for (size_t i = 0; i < BIG; i++)
		tisock_buffer_data(big)[i] = (unsigned char)(i % 251);
	assert_int_equal(fcntl(q[0], F_SETFL, O_NONBLOCK), 0);
	out = tisock_stream_from_fd(q[1], TISOCK_MODE_WRITE);
	assert_int_equal(tisock_stream_set_client(out, c), 0);
	assert_int_equal(tisock_stream_write_async(out, big, 0, TISOCK_ALL, on_event, &wl), 0);
	end = spawn_now_ms() + DEADLINE_MS;
	while ((wl.calls == 0 || drained < BIG) && spawn_now_ms() < end) {
		ssize_t n;

		assert_true(tisock_client_dispatch(c, 10) >= 0);
		while ((n = read(q[0], sink + drained, BIG - drained)) > 0)
			drained += (size_t)n;
	}
	assert_int_equal(wl.calls, 1);
	assert_int_equal(wl.bytes[0], BIG);
	assert_int_equal(drained, BIG);
	assert_memory_equal(sink, tisock_buffer_cdata(big), BIG);
	tisock_stream_free(out);

	/* The same through the libev adapter: ev_run returns once the read is done. */
	memset(&rl, 0, sizeof(rl));
	in = tisock_stream_from_fd(p[0], TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_set_client(in, c), 0);
	assert_int_equal(tisock_libev_attach(c, EV_DEFAULT), 0);
	assert_int_equal(tisock_stream_read_async(in, into, 0, TISOCK_ALL, on_event, &rl), 0);
	assert_int_equal(write(p[1], "xyz", 3), 3);
	ev_run(EV_DEFAULT, 0);
	assert_int_equal(rl.calls, 1);
	assert_int_equal(rl.bytes[0], 3);
	assert_memory_equal(tisock_buffer_data(into), "xyz", 3);

	/* A reader freed with a read pending: no callback, the fd stays the caller's. */
	assert_int_equal(tisock_stream_read_async(in, into, 0, TISOCK_ALL, on_event, &rl), 0);
	tisock_stream_free(in);
	assert_int_equal(tisock_client_dispatch(c, 0), 0);
	assert_int_equal(rl.calls, 1);
	assert_int_equal(write(p[1], "!", 1), 1);
	assert_int_equal(read(p[0], sink, 1), 1);

	/* A closed stream keeps no copy of the fd: the writer sees the reader go. */
	in = tisock_stream_from_fd(p[0], TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_set_client(in, c), 0);
	memset(&rl, 0, sizeof(rl));
	assert_int_equal(tisock_stream_read_async(in, into, 0, TISOCK_ALL, on_event, &rl), 0);
	assert_int_equal(tisock_client_dispatch(c, 0), 0);
	assert_int_equal(tisock_stream_close(in), 0);
	close(p[0]);
	assert_int_equal(write(p[1], "z", 1), -1);
	assert_int_equal(errno, EPIPE);
	client_wait_flag(c, &rl.calls, 1, DEADLINE_MS);
	assert_int_equal(rl.last_code, -EBADF);
	tisock_stream_free(in);

	/* An asynchronous write into a pipe nobody reads: -EPIPE, and no SIGPIPE. */
	signal(SIGPIPE, SIG_DFL);
	out = tisock_stream_from_fd(q[1], TISOCK_MODE_WRITE);
	assert_int_equal(tisock_stream_set_client(out, c), 0);
	close(q[0]);
	memset(&wl, 0, sizeof(wl));
	assert_int_equal(tisock_stream_write_async(out, big, 0, 100, on_event, &wl), 0);
	client_wait_flag(c, &wl.calls, 1, DEADLINE_MS);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(wl.last_code, -EPIPE);
	tisock_stream_free(out);

	tisock_client_close(c);
	close(p[1]);
	close(q[1]);
	free(sink);
	tisock_buffer_free(into);
	tisock_buffer_free(big);
}

static void
socket_pair_pump(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	tisock_buffer *data = tisock_buffer_create(200000);
	tisock_stream *in, *out;
	struct log pl = { 0 }, wl = { 0 };
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (size_t i = 0; i < 200000; i++)
		tisock_buffer_data(data)[i] = (unsigned char)(i * 13 + 5);
	out = tisock_stream_from_fd(sv[0], TISOCK_MODE_WRITE);
	in = tisock_stream_from_fd(sv[1], TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_set_client(out, c), 0);
	assert_int_equal(tisock_stream_set_client(in, c), 0);
	assert_int_equal(tisock_stream_pump(in, on_chunk, &pl, 8192, 1), 0);
	assert_int_equal(tisock_stream_write_async(out, data, 0, TISOCK_ALL, on_event, &wl), 0);
	client_wait_flag(c, &wl.calls, 1, DEADLINE_MS);
	assert_int_equal(wl.bytes[0], 200000);
	assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
	client_wait_flag(c, &pl.ended, 1, DEADLINE_MS);
	assert_int_equal(pl.len, 200000);
	assert_int_equal(pl.total, 200000);
	assert_memory_equal(pl.data, tisock_buffer_cdata(data), 200000);
	assert_int_equal(pl.errors, 0);
	tisock_stream_free(in);
	tisock_stream_free(out);
	close(sv[0]);
	close(sv[1]);
	tisock_buffer_free(data);
	tisock_client_close(c);
}

static void
regular_file_pump(void **state)
{
	char path[] = "/tmp/tisock-stream-XXXXXX";
	int fd = mkstemp(path);
	tisock_client *c = tisock_client_open(spawn_group.socket);
	unsigned char *bytes = malloc(100000);
	tisock_stream *in;
	struct log l = { 0 };

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	for (size_t i = 0; i < 100000; i++)
		bytes[i] = (unsigned char)(i ^ (i >> 8));
	assert_int_equal(write(fd, bytes, 100000), 100000);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	in = tisock_stream_from_fd(fd, TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_set_client(in, c), 0);
	/* epoll refuses regular files: they are always ready. */
	assert_int_equal(tisock_stream_pump(in, on_chunk, &l, 4096, 1), 0);
	client_wait_flag(c, &l.ended, 1, DEADLINE_MS);
	assert_int_equal(l.calls, 26);	/* 24 x 4096, 1696, then -1 */
	assert_int_equal(l.bytes[24], 1696);
	assert_int_equal(l.len, 100000);
	assert_memory_equal(l.data, bytes, 100000);
	tisock_stream_free(in);
	close(fd);
	free(bytes);
	tisock_client_close(c);
}

static void
socket_streams(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	int pfd;
	tisock_buffer *msg = tisock_buffer_from_string("ping", TISOCK_ALL, TISOCK_CHARSET_UTF8);
	tisock_buffer *into = tisock_buffer_create(16);
	struct log rl = { 0 }, wl = { 0 };
	tisock_stream *st;
	tisock_tcp *s;
	char got[4];

	(void)state;
	s = client_connected_pair(c, &pfd, DEADLINE_MS);
	st = tisock_tcp_stream(s);
	assert_int_equal(tisock_stream_set_client(st, c), -EINVAL);	/* the socket's own */

	/* Callback forms on a socket stream name the stream as their source. */
	assert_int_equal(tisock_stream_write_async(st, msg, 0, TISOCK_ALL, on_event, &wl), 0);
	/*
	 * A blocking write after it reads the first write's answer ahead;
	 * the client fd must still say that a callback is due.
	 */
	assert_int_equal(tisock_stream_write(st, msg, 0, TISOCK_ALL), 4);
	assert_int_equal(wl.calls, 0);
	assert_true(fd_readable(tisock_client_fd(c), DEADLINE_MS));
	client_wait_flag(c, &wl.calls, 1, DEADLINE_MS);
	assert_int_equal(wl.bytes[0], 4);
	assert_ptr_equal(wl.source, st);
	for (size_t got_n = 0; got_n < 8;) {
		ssize_t n = recv(pfd, got, sizeof(got), 0);

		assert_true(n > 0);
		assert_memory_equal(got, "ping", (size_t)n);
		got_n += (size_t)n;
	}
	assert_int_equal(tisock_stream_read_async(st, into, 0, TISOCK_ALL, on_event, &rl), 0);
	assert_int_equal(send(pfd, "pong", 4, 0), 4);
	client_wait_flag(c, &rl.calls, 1, DEADLINE_MS);
	assert_int_equal(rl.bytes[0], 4);
	assert_ptr_equal(rl.source, st);
	assert_memory_equal(tisock_buffer_data(into), "pong", 4);
	close(pfd);
	memset(&rl, 0, sizeof(rl));
	assert_int_equal(tisock_stream_read_async(st, into, 0, TISOCK_ALL, on_event, &rl), 0);
	client_wait_flag(c, &rl.calls, 1, DEADLINE_MS);
	assert_int_equal(rl.ended, 1);	/* the peer closed: -1 */

	tisock_stream_free(st);
	tisock_tcp_free(s);
	tisock_buffer_free(msg);
	tisock_buffer_free(into);
	tisock_client_close(c);
}

/* The daemon goes away with work pending: calls fail, local streams go on. */
static void
daemon_goes_away(void **state)
{
	struct spawned other;
	tisock_client *c;
	int pfd, p[2];
	tisock_buffer *into = tisock_buffer_create(16), *pipebuf = tisock_buffer_create(16);
	struct log rl = { 0 }, pl = { 0 };
	tisock_stream *in;
	tisock_tcp *s;
	long long end;

	(void)state;
	assert_int_equal(spawn_start(&other, spawn_bin, "[daemon]\nresolver-lookups = f\n", 0), 0);
	c = tisock_client_open(other.socket);
	assert_non_null(c);
	s = client_connected_pair(c, &pfd, DEADLINE_MS);
	assert_int_equal(tisock_tcp_read_async(s, into, 0, TISOCK_ALL, on_event, &rl), 0);
	assert_int_equal(pipe(p), 0);
	in = tisock_stream_from_fd(p[0], TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_set_client(in, c), 0);
	assert_int_equal(tisock_stream_read_async(in, pipebuf, 0, TISOCK_ALL, on_event, &pl), 0);
	/* Answered in order: the daemon has the read once this returns. */
	assert_int_equal(tisock_client_call(c, "daemon.info", NULL, NULL), 0);
	assert_true(spawn_stop(&other) != -1);
	/* The read on the socket fails: the stopping daemon answers it -32004. */
	client_wait_flag(c, &rl.calls, 1, DEADLINE_MS);
	assert_int_equal(rl.errors, 1);
	assert_int_equal(rl.last_code, -ECANCELED);
	assert_int_equal(tisock_tcp_state(s), TISOCK_CLOSED);	/* tcp.closed, reason shutdown */
	/* The pipe read is still pending and still completes. */
	assert_true(tisock_client_pending(c));
	assert_false(fd_readable(tisock_client_fd(c), 50));	/* no busy loop */
	assert_int_equal(write(p[1], "ok", 2), 2);
	client_wait_flag(c, &pl.calls, 1, DEADLINE_MS);
	assert_int_equal(pl.bytes[0], 2);
	/* Nothing left: dispatch says the daemon is gone, at once. */
	assert_false(tisock_client_pending(c));
	end = spawn_now_ms();
	assert_int_equal(tisock_client_dispatch(c, 5000), -EPIPE);
	assert_true(spawn_now_ms() - end < 2000);
	assert_int_equal(tisock_client_run(c), 0);
	tisock_stream_free(in);
	tisock_tcp_free(s);
	tisock_client_close(c);
	close(p[0]);
	close(p[1]);
	close(pfd);
	tisock_buffer_free(into);
	tisock_buffer_free(pipebuf);
}

/* A socket stream freed with operations in flight: their callbacks carry no source. */
static void
socket_stream_freed_early(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	int pfd;
	tisock_buffer *into = tisock_buffer_create(16);
	struct log rl = { 0 }, pl = { 0 };
	tisock_stream *st, *st2;
	tisock_tcp *s;

	(void)state;
	s = client_connected_pair(c, &pfd, DEADLINE_MS);
	st = tisock_tcp_stream(s);
	assert_int_equal(tisock_stream_read_async(st, into, 0, TISOCK_ALL, on_event, &rl), 0);
	tisock_stream_free(st);
	assert_int_equal(send(pfd, "x", 1, 0), 1);
	client_wait_flag(c, &rl.calls, 1, DEADLINE_MS);
	assert_null(rl.source);
	assert_int_equal(rl.bytes[0], 1);
	/* A pump whose stream is freed; then the socket freed under a second stream. */
	st = tisock_tcp_stream(s);
	assert_int_equal(tisock_stream_pump(st, on_chunk, &pl, 64, 1), 0);
	tisock_stream_free(st);
	assert_int_equal(send(pfd, "yz", 2, 0), 2);
	client_wait_flag(c, &pl.calls, 1, DEADLINE_MS);
	assert_null(pl.source);
	st2 = tisock_tcp_stream(s);
	tisock_tcp_free(s);
	assert_false(tisock_stream_is_readable(st2));
	assert_int_equal(tisock_stream_read_async(st2, into, 0, TISOCK_ALL, on_event, &rl), -EBADF);
	tisock_stream_free(st2);
	tisock_buffer_free(into);
	close(pfd);
	tisock_client_close(c);
}

/* The data channel as a stream: bulk both ways with no JSON. */
static void
channel_stream(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	int pfd;
	tisock_buffer *out = tisock_buffer_create(300000), *in = tisock_buffer_create(0),
		      *small = tisock_buffer_create(8);
	unsigned char *got = malloc(300000);
	tisock_stream *st;
	tisock_tcp *s;

	(void)state;
	for (size_t i = 0; i < 300000; i++)
		tisock_buffer_data(out)[i] = (unsigned char)(i * 31 + 7);
	s = client_connected_pair(c, &pfd, DEADLINE_MS);
	st = tisock_tcp_channel_stream(s);
	assert_non_null(st);
	assert_true(tisock_stream_is_readable(st) && tisock_stream_is_writable(st));
	/* JSON I/O is refused beside the channel. */
	assert_int_equal(tisock_tcp_read(s, small, 0, TISOCK_ALL), -ENOTCONN);
	assert_int_equal(tisock_stream_write(st, out, 0, TISOCK_ALL), 300000);
	for (size_t have = 0; have < 300000;) {
		ssize_t n = recv(pfd, got + have, 300000 - have, 0);

		assert_true(n > 0);
		have += (size_t)n;
	}
	assert_memory_equal(got, tisock_buffer_cdata(out), 300000);
	/* The peer answers and closes: read_all gets every byte, then the end. */
	for (size_t sent = 0; sent < 300000;) {
		ssize_t n = send(pfd, tisock_buffer_cdata(out) + sent, 300000 - sent, 0);

		assert_true(n > 0);
		sent += (size_t)n;
	}
	close(pfd);
	assert_int_equal(tisock_stream_read_all(st, in), 300000);
	assert_memory_equal(tisock_buffer_cdata(in), tisock_buffer_cdata(out), 300000);
	tisock_stream_free(st);	/* closes the channel: both directions are over */
	for (long long end = spawn_now_ms() + DEADLINE_MS;
	     tisock_tcp_state(s) != TISOCK_CLOSED && spawn_now_ms() < end;) {
		/* tcp.closed (reason channel) comes from dispatch */
		assert_true(tisock_client_dispatch(c, 100) >= 0);
	}
	assert_int_equal(tisock_tcp_state(s), TISOCK_CLOSED);
	tisock_tcp_free(s);
	tisock_buffer_free(out);
	tisock_buffer_free(in);
	tisock_buffer_free(small);
	free(got);
	tisock_client_close(c);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buffer_streams),
		cmocka_unit_test(buffer_pump),
		cmocka_unit_test(pipes),
		cmocka_unit_test(socket_pair_pump),
		cmocka_unit_test(regular_file_pump),
		cmocka_unit_test(socket_streams),
		cmocka_unit_test(socket_stream_freed_early),
		cmocka_unit_test(daemon_goes_away),
		cmocka_unit_test(channel_stream),
	};

	signal(SIGPIPE, SIG_IGN);
	alarm(120);	/* a hang is a failure, not a stuck CI */
	spawn_bin = argc > 1 ? argv[1] : "daemon/tisockd";
	return cmocka_run_group_tests(tests, spawn_group_setup, spawn_group_teardown);
}
