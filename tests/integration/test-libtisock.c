/*
 * test-libtisock: libtisock against a real tisockd and real TCP peers on
 * loopback: the Titanium connect/accept scenario with both callbacks,
 * blocking and callback I/O, errors (refused, timed out, unknown host),
 * freeing a socket inside its own callback, the raw call escape hatch,
 * a client with hundreds of sockets at once, and cancellation (an async
 * accept by its request id, a blocking call interrupted by a signal).
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <tisock/tisock.h>
#include <tisock/adapters/libev.h>

#include "client-wait.h"
#include "spawn.h"

#define DEADLINE_MS 10000
#define MANY 300


struct seen {
	int		 connected, accepted, errors, freed;
	int		 last_code;
	tisock_tcp	*inbound;
	ssize_t		 bytes;
	int		 io_done;
};

static void
on_connected(const struct tisock_tcp_event *ev)
{
	struct seen *s = ev->userdata;

	assert_true(ev->success);
	assert_int_equal(tisock_tcp_state(ev->socket), TISOCK_CONNECTED);
	s->connected++;
}

static void
on_accepted(const struct tisock_tcp_event *ev)
{
	struct seen *s = ev->userdata;

	assert_non_null(ev->inbound);
	assert_int_equal(tisock_tcp_state(ev->socket), TISOCK_LISTENING);
	assert_int_equal(tisock_tcp_state(ev->inbound), TISOCK_CONNECTED);
	s->inbound = ev->inbound;
	s->accepted++;
}

static void
on_error(const struct tisock_tcp_event *ev)
{
	struct seen *s = ev->userdata;

	assert_false(ev->success);
	assert_true(ev->code < 0);
	assert_non_null(ev->error);
	s->errors++;
	s->last_code = ev->code;
}

static void
on_io(const struct tisock_stream_event *ev)
{
	struct seen *s = ev->userdata;

	s->bytes = ev->bytes_processed;
	s->io_done++;
}

static void
connect_accept_and_io(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct seen seen = { 0 };
	tisock_tcp *l, *s;
	tisock_buffer *out = tisock_buffer_from_string("hello, world", TISOCK_ALL,
						       TISOCK_CHARSET_UTF8);
	tisock_buffer *in = tisock_buffer_create(64);
	char *text;

	(void)state;
	assert_non_null(c);
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = 0, .accepted = on_accepted,
		.error = on_error, .userdata = &seen });
	assert_int_equal(tisock_tcp_listen(l), 0);
	assert_int_equal(tisock_tcp_state(l), TISOCK_LISTENING);
	assert_true(tisock_tcp_port(l) > 0);
	assert_int_equal(tisock_tcp_accept(l, &(struct tisock_tcp_accept_options){ 0 }), 0);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = "127.0.0.1",
		.port = tisock_tcp_port(l), .connected = on_connected, .error = on_error,
		.userdata = &seen });
	assert_int_equal(tisock_tcp_connect(s), 0);
	/* Callbacks never fire before the call that asked for them has returned. */
	assert_int_equal(seen.connected, 0);
	assert_int_equal(seen.accepted, 0);
	client_wait_flag(c, &seen.connected, 1, DEADLINE_MS);
	client_wait_flag(c, &seen.accepted, 1, DEADLINE_MS);
	assert_int_equal(seen.errors, 0);
	assert_true(tisock_tcp_is_writable(s) && tisock_tcp_is_readable(seen.inbound));
	assert_string_equal(tisock_tcp_host(seen.inbound), "127.0.0.1");

	/* Blocking write and read. */
	assert_int_equal(tisock_tcp_write(s, out, 0, TISOCK_ALL), 12);
	ssize_t got = 0;

	while (got < 12) {
		ssize_t n = tisock_tcp_read(seen.inbound, in, (size_t)got, TISOCK_ALL);

		assert_true(n > 0);
		got += n;
	}
	tisock_buffer_set_length(in, 12);
	text = tisock_buffer_to_string(in, NULL);
	assert_string_equal(text, "hello, world");
	free(text);

	/* Callback forms. */
	tisock_buffer_set_length(in, 64);
	assert_int_equal(tisock_tcp_read_async(seen.inbound, in, 0, TISOCK_ALL, on_io, &seen), 0);
	assert_int_equal(tisock_tcp_write_async(s, out, 7, 5, on_io, &seen), 0);
	assert_int_equal(seen.io_done, 0);
	client_wait_flag(c, &seen.io_done, 2, DEADLINE_MS);
	assert_memory_equal(tisock_buffer_data(in), "world", 5);

	/* Offsets are checked as Titanium does. */
	assert_int_equal(tisock_tcp_write(s, out, 10, 5), -EINVAL);
	assert_int_equal(tisock_tcp_read(s, in, 65, 1), -EINVAL);
	assert_int_equal(tisock_tcp_read(l, in, 0, TISOCK_ALL), -ENOTCONN);

	/* End of stream reads -1. */
	assert_int_equal(tisock_tcp_close(s), 0);
	assert_int_equal(tisock_tcp_state(s), TISOCK_CLOSED);
	assert_int_equal(tisock_tcp_read(seen.inbound, in, 0, TISOCK_ALL), -1);
	assert_int_equal(tisock_tcp_close(seen.inbound), 0);
	assert_int_equal(tisock_tcp_close(l), 0);
	tisock_buffer_free(out);
	tisock_buffer_free(in);
	tisock_client_close(c);
}

static void
errors(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct seen seen = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), fill[4];
	tisock_tcp *s;

	(void)state;
	/* Refused: a bound port nobody listens on. */
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = ntohs(sin.sin_port),
		.connected = on_connected, .error = on_error, .userdata = &seen });
	assert_int_equal(tisock_tcp_connect(s), 0);
	client_wait_flag(c, &seen.errors, 1, DEADLINE_MS);
	assert_int_equal(seen.last_code, -ECONNREFUSED);
	assert_int_equal(tisock_tcp_state(s), TISOCK_ERROR);
	assert_int_equal(tisock_client_last_error(c)->code, -32011);
	assert_int_equal(tisock_client_last_error(c)->sys_errno, ECONNREFUSED);
	assert_non_null(strstr(tisock_client_last_error(c)->data_json, "ECONNREFUSED"));
	tisock_tcp_free(s);
	/* Timed out: a full backlog. */
	listen(fd, 0);
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = ntohs(sin.sin_port),
		.timeout_ms = 300, .connected = on_connected, .error = on_error, .userdata = &seen });
	assert_int_equal(tisock_tcp_connect(s), 0);
	client_wait_flag(c, &seen.errors, 2, DEADLINE_MS);
	assert_int_equal(seen.last_code, -ETIMEDOUT);
	tisock_tcp_free(s);
	/* Unknown host (the daemon resolves from the hosts file only here). */
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = "nonexistent.invalid",
		.port = 80, .connected = on_connected, .error = on_error, .userdata = &seen });
	assert_int_equal(tisock_tcp_connect(s), 0);
	client_wait_flag(c, &seen.errors, 3, DEADLINE_MS);
	assert_int_equal(seen.last_code, -ENXIO);
	assert_int_equal(seen.connected, 0);
	/* Local argument errors return at once and fire nothing. */
	tisock_tcp *bad = tisock_tcp_create(c, NULL);

	assert_int_equal(tisock_tcp_connect(bad), -EINVAL);
	assert_int_equal(tisock_tcp_accept(bad, NULL), -EINVAL);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(fd);
	tisock_client_close(c);		/* frees s and bad too */
}

static void
free_in_callback(const struct tisock_tcp_event *ev)
{
	struct seen *s = ev->userdata;

	s->freed++;
	tisock_tcp_free(ev->socket);
	if (ev->inbound)
		tisock_tcp_free(ev->inbound);
}

static void
freeing_inside_callbacks(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct seen seen = { 0 };
	tisock_tcp *l, *s;
	int port;

	(void)state;
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){ .accepted = free_in_callback,
		.userdata = &seen });
	assert_int_equal(tisock_tcp_listen(l), 0);
	port = tisock_tcp_port(l);
	assert_int_equal(tisock_tcp_accept(l, NULL), 0);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port,
		.connected = free_in_callback, .userdata = &seen });
	assert_int_equal(tisock_tcp_connect(s), 0);
	client_wait_flag(c, &seen.freed, 2, DEADLINE_MS);
	/* Freeing a socket with an operation in flight is safe too. */
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){ .accepted = on_accepted,
		.userdata = &seen });
	assert_int_equal(tisock_tcp_listen(l), 0);
	assert_int_equal(tisock_tcp_accept(l, &(struct tisock_tcp_accept_options){ .timeout_ms = 100 }),
			 0);
	tisock_tcp_free(l);
	assert_int_equal(tisock_client_run(c), 0);
	assert_int_equal(seen.accepted, 0);
	tisock_client_close(c);
}

static void
raw_call(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	char *res = NULL;

	(void)state;
	assert_int_equal(tisock_client_call(c, "daemon.info", NULL, &res), 0);
	assert_non_null(strstr(res, "\"name\":\"tisockd\""));
	free(res);
	assert_int_equal(tisock_client_call(c, "no.such", "{}", NULL), -EPROTO);
	assert_int_equal(tisock_client_last_error(c)->code, -32601);
	assert_int_equal(tisock_client_call(c, "tcp.info", "{\"socket\":999999}", NULL), -EBADF);
	assert_non_null(strstr(tisock_client_error(c), "no such socket"));
	assert_int_equal(tisock_client_call(c, "tcp.info", "[1]", NULL), -EINVAL);
	tisock_client_close(c);
	assert_null(tisock_client_open("/nonexistent/tisockd.sock"));
}

static tisock_client *to_interrupt;

static void
on_alarm(int sig)
{
	(void)sig;
	tisock_client_interrupt(to_interrupt);
}

/*
 * tisock_client_cancel() of a pending accept: its error callback gets
 * -ECANCELED (-32800), a second cancel and an unknown id are 0, and the
 * socket still accepts.  A blocking raw tcp.accept interrupted from a
 * signal handler returns -ECANCELED, and the client goes on working.
 */
static void
cancel_requests(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct seen seen = { 0 };
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	struct itimerval it = { .it_value = { .tv_usec = 200000 } };
	char params[64], *res = NULL;
	tisock_tcp *l;
	int64_t id;
	int r;

	(void)state;
	assert_non_null(c);
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = 0,
		.accepted = on_accepted, .error = on_error, .userdata = &seen });
	assert_int_equal(tisock_tcp_listen(l), 0);
	assert_int_equal(tisock_tcp_accept(l, NULL), 0);
	id = tisock_client_last_request_id(c);
	assert_true(id > 0);
	assert_int_equal(tisock_client_cancel(c, id), 1);
	client_wait_flag(c, &seen.errors, 1, DEADLINE_MS);
	assert_int_equal(seen.last_code, -ECANCELED);
	assert_int_equal(tisock_client_last_error(c)->code, -32800);
	assert_int_equal(seen.accepted, 0);
	assert_int_equal(tisock_client_cancel(c, id), 0);
	assert_int_equal(tisock_client_cancel(c, 987654321), 0);
	assert_int_equal(tisock_client_cancel(c, 0), -EINVAL);
	assert_int_equal(tisock_tcp_state(l), TISOCK_LISTENING);

	/* A blocking call, interrupted. */
	to_interrupt = c;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	snprintf(params, sizeof(params), "{\"socket\":%lld}", (long long)tisock_tcp_id(l));
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	r = tisock_client_call(c, "tcp.accept", params, &res);
	assert_int_equal(r, -ECANCELED);
	assert_int_equal(tisock_client_last_error(c)->code, -32800);
	assert_null(res);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	assert_int_equal(tisock_client_call(c, "daemon.info", NULL, &res), 0);
	assert_non_null(strstr(res, "\"name\":\"tisockd\""));
	free(res);
	tisock_client_close(c);
}

static void
hundreds_of_sockets(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct seen seen = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	tisock_tcp *s[MANY];

	(void)state;
	bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(lfd, MANY);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	for (int i = 0; i < MANY; i++) {
		s[i] = tisock_tcp_create(c, &(struct tisock_tcp_options){
			.port = ntohs(sin.sin_port), .connected = on_connected, .error = on_error,
			.userdata = &seen });
		assert_int_equal(tisock_tcp_connect(s[i]), 0);
	}
	client_wait_flag(c, &seen.connected, MANY, DEADLINE_MS);
	assert_int_equal(seen.errors, 0);
	for (int i = 0; i < MANY; i++)
		tisock_tcp_free(s[i]);
	assert_int_equal(tisock_client_run(c), 0);
	close(lfd);
	tisock_client_close(c);
}


struct ev_case {
	tisock_buffer	*out, *in;
	struct seen	 seen;
	int		 timed_out;
};

static void
ev_on_read(const struct tisock_stream_event *ev)
{
	struct ev_case *k = ev->userdata;

	k->seen.bytes = ev->bytes_processed;
	k->seen.io_done++;
	tisock_tcp_free(ev->socket);	/* the last step: nothing pending afterwards */
}

static void
ev_on_connected(const struct tisock_tcp_event *ev)
{
	struct ev_case *k = ev->userdata;

	k->seen.connected++;
	assert_int_equal(tisock_tcp_write_async(ev->socket, k->out, 0, TISOCK_ALL, NULL, NULL), 0);
	assert_int_equal(tisock_tcp_read_async(ev->socket, k->in, 0, TISOCK_ALL, ev_on_read, k), 0);
}

static void
ev_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	*(int *)w->data = 1;
	ev_break(loop, EVBREAK_ALL);
}

static void
libev_adapter(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), pfd;
	struct ev_case k = { .out = tisock_buffer_from_string("ping", TISOCK_ALL, TISOCK_CHARSET_UTF8),
			     .in = tisock_buffer_create(16) };
	ev_timer deadline;
	char buf[4];
	tisock_tcp *s;

	(void)state;
	bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(lfd, 4);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	assert_int_equal(tisock_libev_attach(c, loop), 0);
	assert_int_equal(tisock_libev_attach(c, loop), -EBUSY);
	/* An idle client does not keep the loop alive. */
	ev_run(loop, 0);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = ntohs(sin.sin_port),
		.connected = ev_on_connected, .error = on_error, .userdata = &k });
	assert_int_equal(tisock_tcp_connect(s), 0);
	pfd = accept(lfd, NULL, NULL);
	assert_true(pfd >= 0);
	struct timeval tv = { .tv_sec = DEADLINE_MS / 1000 };

	setsockopt(pfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* The peer echoes what it gets, from its own side of the loop. */
	ev_timer_init(&deadline, ev_deadline, DEADLINE_MS / 1000.0, 0.);
	deadline.data = &k.timed_out;
	ev_timer_start(loop, &deadline);
	ev_unref(loop);		/* the deadline alone must not keep ev_run going */
	while (k.seen.connected == 0 && !k.timed_out)
		ev_run(loop, EVRUN_ONCE);
	assert_int_equal(recv(pfd, buf, 4, MSG_WAITALL), 4);
	assert_int_equal(send(pfd, buf, 4, 0), 4);
	ev_run(loop, 0);	/* returns once nothing is pending */
	assert_false(k.timed_out);
	assert_int_equal(k.seen.io_done, 1);
	assert_int_equal(k.seen.bytes, 4);
	assert_memory_equal(tisock_buffer_data(k.in), "ping", 4);
	ev_ref(loop);
	ev_timer_stop(loop, &deadline);
	tisock_client_close(c);	/* detaches the adapter */
	ev_loop_destroy(loop);
	tisock_buffer_free(k.out);
	tisock_buffer_free(k.in);
	close(pfd);
	close(lfd);
}


struct http {
	char	body[256];
	size_t	len;
	int	ended;
};

static void
on_http_chunk(const struct tisock_stream_event *ev)
{
	struct http *h = ev->userdata;

	if (ev->bytes_processed == -1) {
		h->ended++;
		return;
	}
	assert_true(h->len + (size_t)ev->bytes_processed < sizeof(h->body));
	memcpy(h->body + h->len, tisock_buffer_data(ev->buffer), (size_t)ev->bytes_processed);
	h->len += (size_t)ev->bytes_processed;
}

static void
socket_stream_http(void **state)
{
	static const char reply[] = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), pfd;
	struct seen seen = { 0 };
	struct http h = { .len = 0 };
	tisock_buffer *req = tisock_buffer_from_string("GET / HTTP/1.0\r\n\r\n", TISOCK_ALL,
						       TISOCK_CHARSET_UTF8);
	struct timeval tv = { .tv_sec = DEADLINE_MS / 1000 };
	tisock_stream *st;
	tisock_tcp *s;
	char got[64];

	(void)state;
	bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(lfd, 4);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = ntohs(sin.sin_port),
		.connected = on_connected, .error = on_error, .userdata = &seen });
	assert_int_equal(tisock_tcp_connect(s), 0);
	client_wait_flag(c, &seen.connected, 1, DEADLINE_MS);
	pfd = accept(lfd, NULL, NULL);
	setsockopt(pfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	st = tisock_tcp_stream(s);
	assert_true(tisock_stream_is_readable(st) && tisock_stream_is_writable(st));
	assert_int_equal(tisock_stream_write(st, req, 0, TISOCK_ALL), 18);
	assert_int_equal(recv(pfd, got, 18, MSG_WAITALL), 18);
	assert_memory_equal(got, "GET / HTTP/1.0\r\n\r\n", 18);
	assert_int_equal(send(pfd, reply, sizeof(reply) - 1, 0), (ssize_t)sizeof(reply) - 1);
	close(pfd);
	assert_int_equal(tisock_stream_pump(st, on_http_chunk, &h, 8, 0), (ssize_t)sizeof(reply) - 1);
	assert_int_equal(h.ended, 1);
	assert_int_equal(h.len, sizeof(reply) - 1);
	assert_memory_equal(h.body, reply, h.len);
	tisock_stream_free(st);
	tisock_tcp_free(s);

	/* The same exchange pumped asynchronously: the daemon pushes tcp.data. */
	memset(&h, 0, sizeof(h));
	seen.connected = 0;
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = ntohs(sin.sin_port),
		.connected = on_connected, .error = on_error, .userdata = &seen });
	assert_int_equal(tisock_tcp_connect(s), 0);
	client_wait_flag(c, &seen.connected, 1, DEADLINE_MS);
	pfd = accept(lfd, NULL, NULL);
	st = tisock_tcp_stream(s);
	assert_int_equal(tisock_stream_pump(st, on_http_chunk, &h, 8, 1), 0);
	assert_int_equal(tisock_stream_pump(st, on_http_chunk, &h, 8, 1), -EBUSY);
	assert_int_equal(h.ended, 0);	/* nothing before dispatch */
	assert_int_equal(send(pfd, reply, sizeof(reply) - 1, 0), (ssize_t)sizeof(reply) - 1);
	close(pfd);
	client_wait_flag(c, &h.ended, 1, DEADLINE_MS);
	assert_int_equal(h.len, sizeof(reply) - 1);
	assert_memory_equal(h.body, reply, h.len);
	assert_int_equal(tisock_client_run(c), 0);	/* returns: pumping ended */
	tisock_stream_free(st);
	tisock_buffer_free(req);
	close(lfd);
	tisock_client_close(c);
}


static tisock_client *to_close;

static void
close_client_in_callback(const struct tisock_tcp_event *ev)
{
	struct seen *s = ev->userdata;

	s->freed++;
	tisock_client_close(to_close);
}

static void
closing_client_inside_callback(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct seen seen = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	tisock_tcp *s[2];
	int r = 0;

	(void)state;
	to_close = c;
	bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(lfd, 4);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	for (int i = 0; i < 2; i++) {
		s[i] = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = ntohs(sin.sin_port),
			.connected = close_client_in_callback, .userdata = &seen });
		assert_int_equal(tisock_tcp_connect(s[i]), 0);
	}
	/* Both answers may arrive in one dispatch: only the first callback runs. */
	for (long long end = spawn_now_ms() + DEADLINE_MS; seen.freed == 0 && spawn_now_ms() < end;)
		r = tisock_client_dispatch(c, 100);
	assert_true(r >= 0);
	assert_int_equal(seen.freed, 1);
	close(lfd);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(connect_accept_and_io),
		cmocka_unit_test(errors),
		cmocka_unit_test(freeing_inside_callbacks),
		cmocka_unit_test(raw_call),
		cmocka_unit_test(cancel_requests),
		cmocka_unit_test(hundreds_of_sockets),
		cmocka_unit_test(libev_adapter),
		cmocka_unit_test(socket_stream_http),
		cmocka_unit_test(closing_client_inside_callback),
	};

	signal(SIGPIPE, SIG_IGN);
	spawn_bin = argc > 1 ? argv[1] : "daemon/tisockd";
	return cmocka_run_group_tests(tests, spawn_group_setup, spawn_group_teardown);
}
