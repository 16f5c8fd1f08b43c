/*
 * test-libtisock-edges: libtisock where a host program is most exposed,
 * against a real tisockd and real loopback peers:
 *  - the daemon vanishing under a blocking write to a data channel
 *    stream: the write fails with -EPIPE, and the host is not killed by
 *    SIGPIPE (this program keeps SIGPIPE's default action on purpose);
 *  - file descriptors that ride on answers nobody takes (a tcp.channel
 *    through the raw call, a tcp.channel that timed out while the daemon
 *    was stopped) are closed, and never handed to a later
 *    tisock_tcp_channel() of another socket;
 *  - a client closed by a pump handler at a reset: no callback runs after
 *    that one (the socket's error callback did);
 *  - a pump handler that frees its socket still reads its chunk (the
 *    event's buffer was freed under it);
 *  - asynchronous reads and writes at their bounds: a read into a buffer
 *    over 16 MiB reads what came (it was -EINVAL); a write of the most
 *    one request takes (12 MiB less 64 KiB) completes (near 12 MiB its
 *    one request was over the daemon's line limit: no answer ever came),
 *    and a larger one is -EINVAL at once;
 *  - an asynchronous write refused for a byte budget reaches the peer
 *    not at all (it went as several requests, one of which could be
 *    written after others were refused: a gap in the stream);
 *  - a buffer shrunk under a pending asynchronous read (socket or fd
 *    stream): the read fails with -EINVAL instead of writing past it;
 *  - tisock_client_interrupt() that comes while a blocking call sleeps
 *    in poll() without a signal interrupting it (from another thread, or
 *    a signal handled just before poll()): the call is cancelled at once.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <tisock/tisock.h>

#include "client-wait.h"
#include "spawn.h"

#define DEADLINE_MS 10000

/* The number of fds this process has open. */
static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the DIR's own */
}

/* Reads exactly n bytes from fd within the deadline; 0, or -1 (timeout, EOF). */
static int
recv_exactly(int fd, char *buf, size_t n)
{
	long long end = spawn_now_ms() + DEADLINE_MS;
	size_t have = 0;

	while (have < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = end - spawn_now_ms();
		ssize_t k;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		k = recv(fd, buf + have, n - have, 0);
		if (k <= 0)
			return -1;
		have += (size_t)k;
	}
	return 0;
}

/* Whether a data byte arrives on fd within ms (an end of stream is none). */
static int
data_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b;

	return poll(&p, 1, ms) > 0 && recv(fd, &b, 1, MSG_DONTWAIT) > 0;
}

/*
 * The daemon dies under a channel stream; blocking writes to it then
 * fail with -EPIPE.  SIGPIPE keeps its default action here: before the
 * fix the library's write(2) killed this process.
 */
static void
channel_write_daemon_gone(void **state)
{
	struct spawned other;
	tisock_buffer *b = tisock_buffer_create(65536);
	tisock_client *c;
	tisock_stream *st;
	tisock_tcp *s;
	ssize_t w = 0;
	int pfd, i;

	(void)state;
	assert_int_equal(spawn_start(&other, spawn_bin, "[daemon]\nresolver-lookups = f\n", 0), 0);
	c = tisock_client_open(other.socket);
	assert_non_null(c);
	s = client_connected_pair(c, &pfd, DEADLINE_MS);
	st = tisock_tcp_channel_stream(s);
	assert_non_null(st);
	assert_int_equal(kill(other.pid, SIGKILL), 0);
	{
		siginfo_t si;

		/* Dead (not reaped: spawn_stop does that). */
		assert_int_equal(waitid(P_PID, (id_t)other.pid, &si, WEXITED | WNOWAIT), 0);
	}
	/* The first writes may still land in the socket buffer; one fails soon. */
	for (i = 0; i < 1000 && w >= 0; i++)
		w = tisock_stream_write(st, b, 0, TISOCK_ALL);
	assert_int_equal(w, -EPIPE);
	tisock_stream_free(st);
	tisock_tcp_free(s);
	tisock_client_close(c);
	close(pfd);
	tisock_buffer_free(b);
	(void) spawn_stop(&other);	/* reaps it, removes its directory */
}

/*
 * A tcp.channel sent through the raw call: the fd riding on its answer
 * is the raw caller's to lose, not the next tisock_tcp_channel()'s to
 * get.  Before the fix the next channel of another socket was this one.
 */
static void
raw_channel_fd_not_reused(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	int p1, p2, fd, before;
	tisock_tcp *s1, *s2;
	char params[64], got[3];

	(void)state;
	assert_non_null(c);
	s1 = client_connected_pair(c, &p1, DEADLINE_MS);
	s2 = client_connected_pair(c, &p2, DEADLINE_MS);
	before = count_fds();
	snprintf(params, sizeof(params), "{\"socket\":%lld}", (long long)tisock_tcp_id(s1));
	assert_int_equal(tisock_client_call(c, "tcp.channel", params, NULL), 0);
	assert_int_equal(count_fds(), before);	/* the raw answer's fd is not kept */
	fd = tisock_tcp_channel(s2);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, "two", 3, MSG_NOSIGNAL), 3);
	assert_int_equal(recv_exactly(p2, got, 3), 0);	/* s2's peer, not s1's */
	assert_memory_equal(got, "two", 3);
	assert_false(data_within(p1, 200));	/* s1's channel went unused */
	close(fd);
	tisock_tcp_free(s1);
	tisock_tcp_free(s2);
	tisock_client_close(c);
	close(p1);
	close(p2);
}

/* Whether pid is stopped (state T in /proc/PID/stat), waiting up to the deadline. */
static int
stopped(pid_t pid)
{
	char path[64], buf[256], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = '\0';
		if ((p = strrchr(buf, ')')) && p[1] == ' ' && p[2] == 'T')
			return 1;
		poll(NULL, 0, 10);
	}
	return 0;
}

/*
 * A blocking tisock_tcp_channel() that times out (the daemon stopped):
 * its late answer's fd is closed when it comes, and the next channel,
 * of another socket, is that socket's own.
 */
static void
timed_out_channel_fd_not_reused(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	int p1, p2, fd, before;
	tisock_tcp *s1, *s2;
	char got[3];

	(void)state;
	assert_non_null(c);
	s1 = client_connected_pair(c, &p1, DEADLINE_MS);
	s2 = client_connected_pair(c, &p2, DEADLINE_MS);
	before = count_fds();
	assert_int_equal(tisock_client_set_timeout(c, 300), 0);
	assert_int_equal(kill(spawn_group.pid, SIGSTOP), 0);
	assert_true(stopped(spawn_group.pid));	/* so it cannot answer in time */
	assert_int_equal(tisock_tcp_channel(s1), -ETIMEDOUT);
	assert_int_equal(kill(spawn_group.pid, SIGCONT), 0);
	assert_int_equal(tisock_client_set_timeout(c, 0), 0);
	/* Answered in order: once this returns, the late answer has come. */
	assert_int_equal(tisock_client_call(c, "daemon.info", NULL, NULL), 0);
	assert_int_equal(count_fds(), before);	/* its fd was closed */
	fd = tisock_tcp_channel(s2);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, "two", 3, MSG_NOSIGNAL), 3);
	assert_int_equal(recv_exactly(p2, got, 3), 0);
	assert_memory_equal(got, "two", 3);
	assert_false(data_within(p1, 200));	/* s1's channel went unused */
	close(fd);
	tisock_tcp_free(s1);
	tisock_tcp_free(s2);
	tisock_client_close(c);
	close(p1);
	close(p2);
}

struct closing {
	tisock_client	*c;
	int		 pump_end, errors;
};

static void
close_at_end(const struct tisock_stream_event *ev)
{
	struct closing *k = ev->userdata;

	if (ev->bytes_processed == -1) {
		k->pump_end++;
		tisock_client_close(k->c);	/* closed when this returns: nothing after */
	}
}

static void
count_error(const struct tisock_tcp_event *ev)
{
	((struct closing *)ev->userdata)->errors++;
}

/*
 * The peer resets a pumped socket; the pump's last call closes the
 * client.  Documented: no further callback runs.  Before the fix, the
 * socket's error callback still ran, with userdata its owner may have
 * freed in the pump handler.
 */
static void
close_in_pump_at_reset(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), pfd;
	struct closing k = { 0 };
	tisock_stream *st;
	tisock_tcp *s;

	(void)state;
	k.c = tisock_client_open(spawn_group.socket);
	assert_non_null(k.c);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	s = tisock_tcp_create(k.c, &(struct tisock_tcp_options){ .port = ntohs(sin.sin_port),
		.error = count_error, .userdata = &k });
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	pfd = accept(lfd, NULL, NULL);
	assert_true(pfd >= 0);
	close(lfd);
	st = tisock_tcp_stream(s);
	assert_int_equal(tisock_stream_pump(st, close_at_end, &k, 64, 1), 0);
	assert_int_equal(tisock_client_call(k.c, "daemon.info", NULL, NULL), 0);	/* pumping */
	assert_int_equal(setsockopt(pfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(pfd);	/* RST */
	for (long long end = spawn_now_ms() + DEADLINE_MS; !k.pump_end && spawn_now_ms() < end;)
		assert_true(tisock_client_dispatch(k.c, 100) >= 0);
	/* c and s are gone; the stream is the caller's still. */
	assert_int_equal(k.pump_end, 1);
	assert_int_equal(k.errors, 0);
	tisock_stream_free(st);
}

struct chunk_seen {
	char	 got[16];
	ssize_t	 bytes;
	int	 calls;
};

/* Frees the socket first, then reads the chunk, as the event still holds it. */
static void
free_then_read(const struct tisock_stream_event *ev)
{
	struct chunk_seen *k = ev->userdata;

	k->calls++;
	if (ev->bytes_processed <= 0)
		return;
	tisock_tcp_free(ev->socket);	/* safe inside its own callbacks */
	k->bytes = ev->bytes_processed;
	if (k->bytes == (ssize_t)tisock_buffer_length(ev->buffer) && k->bytes <= 16)
		memcpy(k->got, tisock_buffer_cdata(ev->buffer), (size_t)k->bytes);
}

/*
 * A pump handler frees its socket, then reads its chunk.  Before the fix
 * the free released the chunk's buffer at once: the handler read freed
 * memory (garbage, or a crash; valgrind and ASan name it).
 */
static void
free_socket_in_pump_handler(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct chunk_seen k = { .bytes = -2 };
	tisock_stream *st;
	tisock_tcp *s;
	int pfd;

	(void)state;
	assert_non_null(c);
	s = client_connected_pair(c, &pfd, DEADLINE_MS);
	st = tisock_tcp_stream(s);
	assert_int_equal(tisock_stream_pump(st, free_then_read, &k, 64, 1), 0);
	assert_int_equal(send(pfd, "hello, chunk", 12, 0), 12);
	for (long long end = spawn_now_ms() + DEADLINE_MS; !k.calls && spawn_now_ms() < end;)
		assert_true(tisock_client_dispatch(c, 100) >= 0);
	assert_int_equal(k.calls, 1);	/* freed: no end-of-stream call */
	assert_true(k.bytes > 0 && k.bytes <= 12);
	assert_memory_equal(k.got, "hello, chunk", (size_t)k.bytes);
	assert_int_equal(tisock_client_dispatch(c, 0) >= 0, 1);
	tisock_stream_free(st);
	tisock_client_close(c);
	close(pfd);
}

struct io_seen {
	int	 calls;
	ssize_t	 bytes;
	int	 code;
};

static void
on_io(const struct tisock_stream_event *ev)
{
	struct io_seen *k = ev->userdata;

	k->calls++;
	k->bytes = ev->bytes_processed;
	k->code = ev->code;
}

/* Byte i of the pattern written below. */
static unsigned char
pattern(size_t i)
{
	return (unsigned char)(i * 131 + i / 4093);
}

/*
 * An asynchronous write of n bytes, the peer reading as it goes: the
 * callback says n, and the peer got every byte, in order.
 */
static void
big_async_write(tisock_client *c, tisock_tcp *s, int pfd, size_t n)
{
	tisock_buffer *b = tisock_buffer_create(n);
	struct io_seen k = { 0 };
	static unsigned char got[65536];
	size_t have = 0;
	int bad = 0;

	for (size_t i = 0; i < n; i++)
		tisock_buffer_data(b)[i] = pattern(i);
	assert_int_equal(tisock_tcp_write_async(s, b, 0, TISOCK_ALL, on_io, &k), 0);
	for (long long end = spawn_now_ms() + 6 * DEADLINE_MS;
	     (!k.calls || have < n) && spawn_now_ms() < end;) {
		ssize_t r = recv(pfd, got, sizeof(got), MSG_DONTWAIT);

		for (ssize_t i = 0; i < r; i++)
			bad += got[i] != pattern(have + (size_t)i);
		if (r > 0)
			have += (size_t)r;
		assert_true(tisock_client_dispatch(c, r > 0 ? 0 : 10) >= 0);
	}
	assert_int_equal(k.calls, 1);
	assert_int_equal(k.code, 0);
	assert_int_equal(k.bytes, (ssize_t)n);
	assert_int_equal(have, n);
	assert_int_equal(bad, 0);
	tisock_buffer_free(b);
}

static void
async_io_bounds(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	tisock_buffer *big = tisock_buffer_create((17u << 20) + 3);
	struct io_seen k = { 0 };
	tisock_tcp *s;
	int pfd;

	(void)state;
	assert_non_null(c);
	s = client_connected_pair(c, &pfd, DEADLINE_MS);
	/* A read into a buffer over 16 MiB: at most 16 MiB a time, as tisock_tcp_read. */
	assert_int_equal(tisock_tcp_read_async(s, big, 0, TISOCK_ALL, on_io, &k), 0);
	assert_int_equal(send(pfd, "abc", 3, 0), 3);
	for (long long end = spawn_now_ms() + DEADLINE_MS; !k.calls && spawn_now_ms() < end;)
		assert_true(tisock_client_dispatch(c, 100) >= 0);
	assert_int_equal(k.calls, 1);
	assert_int_equal(k.bytes, 3);
	assert_memory_equal(tisock_buffer_cdata(big), "abc", 3);
	tisock_buffer_free(big);
	big_async_write(c, s, pfd, (12u << 20) - (64u << 10));
	big = tisock_buffer_create((12u << 20) - (64u << 10) + 1);
	assert_int_equal(tisock_tcp_write_async(s, big, 0, TISOCK_ALL, on_io, &k), -EINVAL);
	tisock_buffer_free(big);
	tisock_tcp_free(s);
	tisock_client_close(c);
	close(pfd);
}

static void
on_connected_flag(const struct tisock_tcp_event *ev)
{
	++*(int *)ev->userdata;
}

/* The integer after "key": in a JSON text, or -1. */
static long long
json_int(const char *json, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = json ? strstr(json, k) : NULL;
	return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

/* A socket of c connected to a loopback peer with small buffers: the kernel takes little. */
static tisock_tcp *
small_pair(tisock_client *c, int *pfd)
{
	int port, lfd = client_listener(&port, 65536), connected = 0;
	tisock_tcp *s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port,
		.connected = on_connected_flag, .userdata = &connected });

	assert_int_equal(tisock_tcp_connect(s), 0);
	client_wait_flag(c, &connected, 1, DEADLINE_MS);
	*pfd = accept(lfd, NULL, NULL);
	assert_true(*pfd >= 0);
	close(lfd);
	assert_int_equal(tisock_tcp_set_options(s, &(struct tisock_tcp_socket_options){
		.set = TISOCK_OPT_SEND_BUFFER_SIZE, .send_buffer_size = 65536 }), 0);
	return s;
}

/*
 * An asynchronous write of 10 MiB under uid-pending-write-bytes 6 MiB,
 * 3 MiB of which another socket's write to a peer that does not read
 * holds: it is refused (-32005).  The write fails, and its peer, reading
 * all along, gets a prefix of it (here nothing).  When it went as
 * requests of 4, 4 and 2 MiB sent at once, the 2 MiB one, under the
 * limit, was written after the two refused, and the peer got bytes
 * 8-10 MiB of the write as its first bytes, a gap in the stream that no
 * error could locate.
 */
static void
async_write_refused_no_gap(void **state)
{
	const size_t n = 10u << 20, fill = 3u << 20;
	struct spawned sp;
	tisock_client *c;
	tisock_buffer *b = tisock_buffer_create(n), *fb = tisock_buffer_create(fill);
	struct io_seen k = { 0 }, fk = { 0 };
	static unsigned char got[65536];
	char params[64];
	size_t have = 0;
	long long pending = -1, written = -1;
	int bad = 0, pfd, fpfd;
	tisock_tcp *s, *f;

	(void)state;
	assert_int_equal(spawn_start(&sp, spawn_bin, "[limits]\nuid-pending-write-bytes = 6291456\n",
				     0), 0);
	c = tisock_client_open(sp.socket);
	assert_non_null(c);
	f = small_pair(c, &fpfd);
	s = small_pair(c, &pfd);
	assert_int_equal(tisock_tcp_write_async(f, fb, 0, TISOCK_ALL, on_io, &fk), 0);
	for (size_t i = 0; i < n; i++)
		tisock_buffer_data(b)[i] = pattern(i);
	assert_int_equal(tisock_tcp_write_async(s, b, 0, TISOCK_ALL, on_io, &k), 0);
	/* The peer reads as the write goes, until it is over and every byte taken is in. */
	snprintf(params, sizeof(params), "{\"socket\":%lld}", (long long)tisock_tcp_id(s));
	for (long long end = spawn_now_ms() + 6 * DEADLINE_MS;
	     !(k.calls && pending == 0 && written >= 0 && have == (size_t)written) &&
	     spawn_now_ms() < end;) {
		char *res = NULL;
		ssize_t r = recv(pfd, got, sizeof(got), MSG_DONTWAIT);

		for (ssize_t i = 0; i < r; i++)
			bad += got[i] != pattern(have + (size_t)i);
		if (r > 0) {
			have += (size_t)r;
			continue;
		}
		assert_true(tisock_client_dispatch(c, 10) >= 0);
		if (!k.calls)
			continue;
		/* (Answered after every request sent before it: lines are handled in order.) */
		assert_int_equal(tisock_client_call(c, "tcp.info", params, &res), 0);
		pending = json_int(res, "pendingWriteBytes");
		written = json_int(res, "bytesWritten");
		free(res);
	}
	assert_int_equal(k.calls, 1);
	assert_true(k.code != 0);	/* refused */
	assert_int_equal(pending, 0);
	assert_int_equal(have, (size_t)written);
	assert_int_equal(bad, 0);	/* a prefix of the write, no gap */
	assert_int_equal(have, 0);	/* its first request was the one refused */
	assert_int_equal(fk.calls, 0);	/* (the other write still waits) */
	tisock_tcp_free(s);
	tisock_tcp_free(f);
	tisock_client_close(c);
	close(pfd);
	close(fpfd);
	tisock_buffer_free(b);
	tisock_buffer_free(fb);
	assert_int_equal(spawn_stop(&sp), 0);
}

/*
 * The buffer of a pending read is released before the data comes.  The
 * read reports -EINVAL.  Before, a socket read copied the bytes to the
 * buffer's old place (a crash: length - offset underflowed), an fd
 * stream's read(2) got a NULL pointer (-EFAULT).
 */
static void
buffer_shrunk_under_read(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	tisock_buffer *b = tisock_buffer_create(16), *pb = tisock_buffer_create(16);
	struct io_seen k = { 0 }, pk = { 0 };
	tisock_stream *in;
	tisock_tcp *s;
	int pfd, p[2];

	(void)state;
	assert_non_null(c);
	s = client_connected_pair(c, &pfd, DEADLINE_MS);
	assert_int_equal(tisock_tcp_read_async(s, b, 8, 8, on_io, &k), 0);
	tisock_buffer_release(b);
	assert_int_equal(send(pfd, "12345678", 8, 0), 8);
	for (long long end = spawn_now_ms() + DEADLINE_MS; !k.calls && spawn_now_ms() < end;)
		assert_true(tisock_client_dispatch(c, 100) >= 0);
	assert_int_equal(k.calls, 1);
	assert_int_equal(k.code, -EINVAL);
	assert_int_equal(tisock_buffer_length(b), 0);

	assert_int_equal(pipe(p), 0);
	in = tisock_stream_from_fd(p[0], TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_set_client(in, c), 0);
	assert_int_equal(tisock_stream_read_async(in, pb, 4, 12, on_io, &pk), 0);
	tisock_buffer_release(pb);
	assert_int_equal(write(p[1], "abcdefgh", 8), 8);
	for (long long end = spawn_now_ms() + DEADLINE_MS; !pk.calls && spawn_now_ms() < end;)
		assert_true(tisock_client_dispatch(c, 100) >= 0);
	assert_int_equal(pk.calls, 1);
	assert_int_equal(pk.code, -EINVAL);
	tisock_stream_free(in);
	close(p[0]);
	close(p[1]);
	tisock_tcp_free(s);
	tisock_client_close(c);
	tisock_buffer_free(b);
	tisock_buffer_free(pb);
	close(pfd);
}

struct interrupter {
	tisock_client	*c;
	pid_t		 tid;		/* the thread making the blocking call */
	volatile int	 stop;		/* the call returned */
};

/* Whether thread tid of this process is asleep (state S in its stat). */
static bool
thread_asleep(pid_t tid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if (!(f = fopen(path, "r")))
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/*
 * Each time a->tid is seen asleep (in the call's poll(), the only place
 * it sleeps once the call has started), interrupts a->c, until the call
 * returns; for at most 20 s.
 */
static void *
interrupt_when_asleep(void *arg)
{
	struct interrupter *a = arg;

	for (long long end = spawn_now_ms() + 20000; !a->stop && spawn_now_ms() < end;) {
		if (thread_asleep(a->tid))
			tisock_client_interrupt(a->c);
		(void) poll(NULL, 0, 1);
	}
	return NULL;
}

/*
 * A blocking tcp.accept that nothing will answer, interrupted by a thread
 * while the call sleeps in poll(): no signal breaks that poll, so before,
 * the interrupt waited for the next byte from the daemon (here the 8 s
 * timeout: -ETIMEDOUT).  The thread interrupts only once the caller is
 * seen asleep, that is inside the call's poll().
 */
static void
interrupt_without_signal(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct interrupter a = { .c = c, .tid = (pid_t)syscall(SYS_gettid) };
	char params[64], *res = NULL;
	long long t0;
	pthread_t th;
	tisock_tcp *l;
	int r;

	(void)state;
	assert_non_null(c);
	assert_int_equal(tisock_client_set_timeout(c, 8000), 0);
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = 0 });
	assert_int_equal(tisock_tcp_listen(l), 0);
	snprintf(params, sizeof(params), "{\"socket\":%lld}", (long long)tisock_tcp_id(l));
	assert_int_equal(pthread_create(&th, NULL, interrupt_when_asleep, &a), 0);
	t0 = spawn_now_ms();
	r = tisock_client_call(c, "tcp.accept", params, &res);
	a.stop = 1;
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(r, -ECANCELED);
	assert_true(spawn_now_ms() - t0 < 8000);
	assert_int_equal(tisock_client_last_error(c)->code, -32800);
	assert_null(res);
	assert_int_equal(tisock_client_call(c, "daemon.info", NULL, &res), 0);
	free(res);
	tisock_tcp_free(l);
	tisock_client_close(c);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(channel_write_daemon_gone),
		cmocka_unit_test(raw_channel_fd_not_reused),
		cmocka_unit_test(timed_out_channel_fd_not_reused),
		cmocka_unit_test(close_in_pump_at_reset),
		cmocka_unit_test(free_socket_in_pump_handler),
		cmocka_unit_test(async_io_bounds),
		cmocka_unit_test(async_write_refused_no_gap),
		cmocka_unit_test(buffer_shrunk_under_read),
		cmocka_unit_test(interrupt_without_signal),
	};

	/* SIGPIPE keeps its default action: the library must never raise it. */
	signal(SIGPIPE, SIG_DFL);
	alarm(120);	/* a hang is a failure, not a stuck CI */
	spawn_bin = argc > 1 ? argv[1] : "daemon/tisockd";
	return cmocka_run_group_tests(tests, spawn_group_setup, spawn_group_teardown);
}
