/*
 * test-libtisock-flow: libtisock holds its own memory and time bounds
 * against a real tisockd.  A blocking call waiting behind a flooding
 * pump no longer reads everything the daemon sends (the inbox bound
 * pauses the pumps, the daemon's flow control holds the peer back, and
 * no byte is lost); dispatch reads no more than the bound; blocking calls
 * time out (a read without losing a byte); asynchronous writes and
 * shutdowns time out too, driven by the libev adapter's timer when no
 * input comes at all.
 */
#include "config.h"

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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <tisock/tisock.h>
#include <tisock/adapters/libev.h>

#include "client-wait.h"
#include "spawn.h"

#define DEADLINE_MS	20000
#define FLOOD		(32u << 20)	/* bytes the flooding peer tries to send */
#define FLOOD_HELD	(24u << 20)	/* at most this much may be in flight at the stall */


static uint8_t
pattern(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 13));
}

struct seen {
	int	 connected, calls, ended, timeouts, bad;
	size_t	 got, this_round, max_round;
};

static void
on_connected(const struct tisock_tcp_event *ev)
{
	((struct seen *)ev->userdata)->connected++;
}

/* A pump handler checking every byte against the pattern. */
static void
on_flood(const struct tisock_stream_event *ev)
{
	struct seen *s = ev->userdata;
	const uint8_t *p = tisock_buffer_cdata(ev->buffer);

	if (ev->bytes_processed < 0) {
		s->ended++;
		s->bad += !ev->success;
		return;
	}
	for (ssize_t i = 0; i < ev->bytes_processed; i++)
		s->bad += p[i] != pattern(s->got + (size_t)i);
	s->got += (size_t)ev->bytes_processed;
	s->this_round += (size_t)ev->bytes_processed;
}

static void
on_done(const struct tisock_stream_event *ev)
{
	struct seen *s = ev->userdata;

	s->calls++;
	s->timeouts += ev->code == -ETIMEDOUT;
}

static void
on_tcp_done(const struct tisock_tcp_event *ev)
{
	struct seen *s = ev->userdata;

	s->calls++;
	s->timeouts += ev->code == -ETIMEDOUT;
}

/* Connects a socket of c to the listener (with the 0.1 calls only) and returns the peer. */
static tisock_tcp *
pair(tisock_client *c, int lfd, int port, int *ret_peer)
{
	struct seen seen = { 0 };
	struct timeval tv = { .tv_sec = DEADLINE_MS / 1000 };
	tisock_tcp *s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port,
		.connected = on_connected, .userdata = &seen });

	assert_int_equal(tisock_tcp_connect(s), 0);
	client_wait_flag(c, &seen.connected, 1, DEADLINE_MS);
	*ret_peer = accept(lfd, NULL, NULL);
	assert_true(*ret_peer >= 0);
	setsockopt(*ret_peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

/* The flooding peer: writes FLOOD bytes; at its first stall (or the end) it pokes B. */
struct flood {
	int	 a, b;
	size_t	 written, at_stall;
	int	 stalled;
};

static void *
flooder(void *arg)
{
	struct flood *f = arg;
	static uint8_t chunk[65536];
	bool poked = false;
	long long end = spawn_now_ms() + 2 * DEADLINE_MS;

	while (f->written < FLOOD && spawn_now_ms() < end) {
		struct pollfd p = { .fd = f->a, .events = POLLOUT };
		size_t n = FLOOD - f->written < sizeof(chunk) ? FLOOD - f->written : sizeof(chunk);
		ssize_t k;

		if (poll(&p, 1, poked ? 1000 : 300) == 0) {
			if (!poked) {
				/* 300 ms without room: the peer is held back. */
				__atomic_store_n(&f->at_stall, f->written, __ATOMIC_RELEASE);
				__atomic_store_n(&f->stalled, 1, __ATOMIC_RELEASE);
				poked = send(f->b, "x", 1, MSG_NOSIGNAL) == 1;
			}
			continue;
		}
		for (size_t i = 0; i < n; i++)
			chunk[i] = pattern(f->written + i);
		k = send(f->a, chunk, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0)
			f->written += (size_t)k;
		else if (k < 0 && errno != EAGAIN)
			break;
	}
	if (!poked) {
		__atomic_store_n(&f->at_stall, f->written, __ATOMIC_RELEASE);	/* never held back */
		(void) send(f->b, "x", 1, MSG_NOSIGNAL);
	}
	shutdown(f->a, SHUT_WR);
	return NULL;
}

static void
blocking_call_behind_a_flood(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	int port, lfd = client_listener(&port, 0), small = 65536;
	struct flood f = { 0 };
	struct seen seen = { 0 };
	tisock_buffer *one = tisock_buffer_create(1);
	tisock_stream *st;
	tisock_tcp *a, *b;
	size_t at_stall;
	pthread_t t;

	(void)state;
	a = pair(c, lfd, port, &f.a);
	b = pair(c, lfd, port, &f.b);
	setsockopt(f.a, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	st = tisock_tcp_stream(a);
	assert_int_equal(tisock_stream_pump(st, on_flood, &seen, 16384, 1), 0);
	assert_int_equal(pthread_create(&t, NULL, flooder, &f), 0);
	/* Blocks until the flooder is held back and pokes b; the pump's data is not dispatched. */
	assert_int_equal(tisock_tcp_read(b, one, 0, 1), 1);
	at_stall = __atomic_load_n(&f.at_stall, __ATOMIC_ACQUIRE);
	printf("# the flooder was held back after %zu of %u bytes\n", at_stall, FLOOD);
	assert_true(__atomic_load_n(&f.stalled, __ATOMIC_ACQUIRE));
	assert_true(at_stall <= FLOOD_HELD);
	/* Dispatch takes it all, in order, and the pumps go on. */
	for (long long end = spawn_now_ms() + 2 * DEADLINE_MS;
	     !seen.ended && spawn_now_ms() < end;)
		assert_true(tisock_client_dispatch(c, 100) >= 0);
	pthread_join(t, NULL);
	assert_int_equal(seen.ended, 1);
	assert_int_equal(seen.bad, 0);
	assert_int_equal(seen.got, FLOOD);
	tisock_stream_free(st);
	tisock_buffer_free(one);
	close(f.a);
	close(f.b);
	close(lfd);
	tisock_client_close(c);
}

static void *
writer(void *arg)
{
	struct flood *f = arg;
	static uint8_t chunk[65536];

	while (f->written < (4u << 20)) {
		ssize_t k;

		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = pattern(f->written + i);
		k = send(f->a, chunk, sizeof(chunk), MSG_NOSIGNAL);
		if (k <= 0)
			break;
		f->written += (size_t)k;
	}
	shutdown(f->a, SHUT_WR);
	return NULL;
}

static void
dispatch_reads_at_most_the_bound(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	int port, lfd = client_listener(&port, 0);
	struct flood f = { 0 };
	struct seen seen = { 0 };
	tisock_stream *st;
	pthread_t t;

	(void)state;
	assert_int_equal(tisock_client_set_inbox_max(c, 64u << 10), 0);
	st = tisock_tcp_stream(pair(c, lfd, port, &f.a));
	assert_int_equal(tisock_stream_pump(st, on_flood, &seen, 4096, 1), 0);
	assert_int_equal(pthread_create(&t, NULL, writer, &f), 0);
	for (long long end = spawn_now_ms() + 2 * DEADLINE_MS;
	     !seen.ended && spawn_now_ms() < end;) {
		seen.this_round = 0;
		assert_true(tisock_client_dispatch(c, 100) >= 0);
		if (seen.this_round > seen.max_round)
			seen.max_round = seen.this_round;
	}
	pthread_join(t, NULL);
	printf("# at most %zu bytes of data in one dispatch\n", seen.max_round);
	assert_int_equal(seen.got, 4u << 20);
	assert_int_equal(seen.bad, 0);
	/* The bound, one read of the connection (256 KiB) and a line, as base64 (4/3). */
	assert_true(seen.max_round <= ((64u << 10) + (256u << 10) + 8192) * 3 / 4);
	tisock_stream_free(st);
	close(f.a);
	close(lfd);
	tisock_client_close(c);
}

static void
blocking_timeouts(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	int port, lfd = client_listener(&port, 4096), pfd;
	tisock_buffer *in = tisock_buffer_create(16), *big = tisock_buffer_create(32u << 20);
	tisock_tcp *s;
	char *res = NULL;
	long long t0;

	(void)state;
	s = pair(c, lfd, port, &pfd);
	assert_int_equal(tisock_client_set_timeout(c, 300), 0);
	assert_int_equal(tisock_client_set_timeout(c, -1), -EINVAL);
	/* A read times out, and what comes later is read next: nothing lost. */
	t0 = spawn_now_ms();
	assert_int_equal(tisock_tcp_read(s, in, 0, TISOCK_ALL), -ETIMEDOUT);
	assert_true(spawn_now_ms() - t0 >= 250 && spawn_now_ms() - t0 < 5000);
	assert_int_equal(tisock_tcp_state(s), TISOCK_CONNECTED);
	assert_int_equal(send(pfd, "late", 4, 0), 4);
	assert_int_equal(tisock_tcp_read(s, in, 0, TISOCK_ALL), 4);
	assert_memory_equal(tisock_buffer_data(in), "late", 4);
	/* A write to a peer that does not read times out; the client goes on. */
	t0 = spawn_now_ms();
	assert_int_equal(tisock_tcp_write(s, big, 0, TISOCK_ALL), -ETIMEDOUT);
	assert_true(spawn_now_ms() - t0 < 5000);
	assert_int_equal(tisock_client_call(c, "daemon.info", NULL, &res), 0);
	assert_non_null(strstr(res, "tisockd"));
	free(res);
	/* Asynchronous: the write and the shutdown behind it time out from dispatch. */
	struct seen seen = { 0 };

	assert_int_equal(tisock_client_timeout(c), -1);
	assert_int_equal(tisock_tcp_write_async(s, big, 0, 8u << 20, on_done, &seen), 0);
	tisock_tcp_set_userdata(s, &seen);
	assert_int_equal(tisock_tcp_shutdown_async(s, on_tcp_done), 0);
	assert_true(tisock_client_timeout(c) >= 0 && tisock_client_timeout(c) <= 300);
	client_wait_flag(c, &seen.calls, 2, DEADLINE_MS);
	assert_int_equal(seen.timeouts, 2);
	assert_int_equal(tisock_client_timeout(c), -1);
	tisock_tcp_free(s);
	close(pfd);	/* unread data: a reset, and the daemon drops its queue */
	tisock_buffer_free(in);
	tisock_buffer_free(big);
	close(lfd);
	tisock_client_close(c);
}

static void
ev_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	*(int *)w->data = 1;
	ev_break(loop, EVBREAK_ALL);
}

static void
libev_timer_hook(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	tisock_client *c = tisock_client_open(spawn_group.socket);
	int port, lfd = client_listener(&port, 4096), pfd, timed_out = 0;
	tisock_buffer *big = tisock_buffer_create(8u << 20);
	struct seen seen = { 0 };
	ev_timer deadline;
	tisock_tcp *s;
	long long t0;

	(void)state;
	s = pair(c, lfd, port, &pfd);
	tisock_tcp_set_userdata(s, &seen);
	assert_int_equal(tisock_client_set_timeout(c, 300), 0);
	assert_int_equal(tisock_libev_attach(c, loop), 0);
	assert_int_equal(tisock_tcp_write_async(s, big, 0, TISOCK_ALL, on_done, &seen), 0);
	assert_int_equal(tisock_tcp_shutdown_async(s, on_tcp_done), 0);
	ev_timer_init(&deadline, ev_deadline, DEADLINE_MS / 1000.0, 0.);
	deadline.data = &timed_out;
	ev_timer_start(loop, &deadline);
	ev_unref(loop);		/* the deadline alone must not keep ev_run going */
	t0 = spawn_now_ms();
	/* No input comes: only the adapter's timer can end the two calls. */
	ev_run(loop, 0);
	assert_false(timed_out);
	assert_int_equal(seen.calls, 2);
	assert_int_equal(seen.timeouts, 2);
	assert_true(spawn_now_ms() - t0 < 5000);
	ev_ref(loop);
	ev_timer_stop(loop, &deadline);
	tisock_client_close(c);
	ev_loop_destroy(loop);
	close(pfd);
	close(lfd);
	tisock_buffer_free(big);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blocking_call_behind_a_flood),
		cmocka_unit_test(dispatch_reads_at_most_the_bound),
		cmocka_unit_test(blocking_timeouts),
		cmocka_unit_test(libev_timer_hook),
	};

	signal(SIGPIPE, SIG_IGN);
	spawn_bin = argc > 1 ? argv[1] : "daemon/tisockd";
	return cmocka_run_group_tests(tests, spawn_group_setup, spawn_group_teardown);
}
