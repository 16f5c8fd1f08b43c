/*
 * test-libtisock-tcp: the socket calls of libtisock 1.0 against a real
 * tisockd and loopback peers: half-close with a callback (the loop goes
 * on while the peer has not read) and blocking, socket options (checked
 * on the daemon's own socket), blocking connect, userdata of accepted
 * sockets, and the free callback after which no callback of the socket
 * runs.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <tisock/tisock.h>

#include "client-wait.h"
#include "spawn.h"

#define DEADLINE_MS 10000


struct seen {
	int	 calls, errors, freed, connected;
	int	 last_code;
	void	*last_userdata;
};

static void
on_tcp(const struct tisock_tcp_event *ev)
{
	struct seen *s = ev->userdata;

	s->calls++;
	s->last_code = ev->code;
	s->errors += !ev->success;
}

static void
on_freed(const struct tisock_tcp_event *ev)
{
	struct seen *s = ev->userdata;

	s->freed++;
	s->last_userdata = ev->userdata;
}

static void
on_connected(const struct tisock_tcp_event *ev)
{
	((struct seen *)ev->userdata)->connected++;
}

static void
on_io(const struct tisock_stream_event *ev)
{
	struct seen *s = ev->userdata;

	s->calls++;
	s->last_code = ev->code;
}

/* The peer side of a connection the listener has queued, with bounded reads. */
static int
peer_of(int lfd)
{
	struct timeval tv = { .tv_sec = DEADLINE_MS / 1000 };
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	assert_int_equal(poll(&p, 1, DEADLINE_MS), 1);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/*
 * An option of the daemon's socket bound to local port port, read into
 * val (len bytes) through pidfd_getfd.  0, or -2 when this system does
 * not let the test look.
 */
static int
daemon_sockopt_get(int port, int level, int name, void *val, socklen_t vlen)
{
	int pidfd = (int)syscall(SYS_pidfd_open, spawn_group.pid, 0), r = -2;

	if (pidfd < 0)
		return -2;
	for (int n = 0; n < 1024 && r == -2; n++) {
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin), vl = vlen;
		int fd = (int)syscall(SYS_pidfd_getfd, pidfd, n, 0);

		if (fd < 0) {
			if (errno == EPERM)
				break;
			continue;
		}
		if (getsockname(fd, (struct sockaddr *)&sin, &len) == 0 &&
		    sin.sin_family == AF_INET && ntohs(sin.sin_port) == port &&
		    getsockopt(fd, level, name, val, &vl) == 0)
			r = 0;
		close(fd);
	}
	close(pidfd);
	return r;
}

/* An int option of the daemon's socket on local port port; -2 when the test cannot look. */
static int
daemon_sockopt(int port, int level, int name)
{
	int v;

	return daemon_sockopt_get(port, level, name, &v, sizeof(v)) == 0 ? v : -2;
}

/* The SO_LINGER seconds of the daemon's socket on local port port, -1 when off. */
static int
daemon_linger(int port)
{
	struct linger l = { 0 };

	if (daemon_sockopt_get(port, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0)
		return -2;
	return l.l_onoff ? l.l_linger : -1;
}

/* SO_SNDBUF / SO_RCVBUF as the kernel reports asked bytes: doubled, within max_file. */
static int
kernel_buf(const char *max_file, int asked)
{
	FILE *f = fopen(max_file, "r");
	int max = asked;

	if (f) {
		if (fscanf(f, "%d", &max) != 1)
			max = asked;
		fclose(f);
	}
	return 2 * (asked < max ? asked : max);
}

static void
shutdown_with_callback(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct seen seen = { 0 }, io = { 0 };
	tisock_buffer *big = tisock_buffer_create(8u << 20), *in = tisock_buffer_create(16);
	int port, lfd = client_listener(&port, 4096), pfd;
	tisock_tcp *s;
	char got[8];
	size_t drained = 0;
	ssize_t n;

	(void)state;
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port, .userdata = &seen });
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	pfd = peer_of(lfd);
	/* More than the kernel buffers hold, then FIN: the shutdown waits for the peer. */
	assert_int_equal(tisock_tcp_write_async(s, big, 0, TISOCK_ALL, on_io, &io), 0);
	assert_int_equal(tisock_tcp_shutdown_async(s, on_tcp), 0);
	assert_false(tisock_tcp_is_writable(s));
	assert_true(tisock_tcp_is_readable(s));
	assert_int_equal(tisock_tcp_write(s, in, 0, 1), -EPIPE);
	/* The loop goes on meanwhile: dispatch returns, nothing has completed. */
	for (int i = 0; i < 10; i++)
		assert_true(tisock_client_dispatch(c, 20) >= 0);
	assert_int_equal(seen.calls, 0);
	assert_int_equal(io.calls, 0);
	/* The peer reads everything, then the FIN, while the loop runs. */
	for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
		assert_true(tisock_client_dispatch(c, 10) >= 0);
		while ((n = recv(pfd, tisock_buffer_data(big), 1u << 20, MSG_DONTWAIT)) > 0)
			drained += (size_t)n;
		if (n == 0)
			break;
	}
	assert_int_equal(n, 0);
	assert_int_equal(drained, 8u << 20);
	client_wait_flag(c, &seen.calls, 1, DEADLINE_MS);
	assert_int_equal(seen.last_code, 0);
	assert_int_equal(io.calls, 1);
	/* Half-closed: the other direction still works. */
	assert_int_equal(send(pfd, "reply", 5, 0), 5);
	assert_int_equal(tisock_tcp_read(s, in, 0, 5), 5);
	assert_memory_equal(tisock_buffer_data(in), "reply", 5);
	close(pfd);
	assert_int_equal(tisock_tcp_read(s, in, 0, TISOCK_ALL), -1);

	/* The blocking form. */
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port });
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	pfd = peer_of(lfd);
	assert_int_equal(tisock_tcp_write(s, in, 0, 5), 5);
	assert_int_equal(tisock_tcp_shutdown(s), 0);
	assert_int_equal(recv(pfd, got, sizeof(got), MSG_WAITALL), 5);
	assert_int_equal(recv(pfd, got, 1, 0), 0);	/* FIN */
	assert_int_equal(tisock_tcp_shutdown(s), 0);	/* twice is fine */
	assert_int_equal(tisock_tcp_shutdown(NULL), -EINVAL);
	close(pfd);
	tisock_buffer_free(big);
	tisock_buffer_free(in);
	close(lfd);
	tisock_client_close(c);
}

static void
socket_options(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	int port, lfd = client_listener(&port, 0), pfd, v;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	tisock_tcp *s;

	(void)state;
	/* Before connecting: all kept for the connect, which carries them. */
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port });
	assert_int_equal(tisock_tcp_set_options(s, &(struct tisock_tcp_socket_options){
		.set = TISOCK_OPT_NO_DELAY, .no_delay = 1 }), 0);
	assert_int_equal(tisock_tcp_set_options(s, &(struct tisock_tcp_socket_options){
		.set = TISOCK_OPT_KEEP_ALIVE | TISOCK_OPT_KEEP_ALIVE_IDLE | TISOCK_OPT_LINGER |
		       TISOCK_OPT_SEND_BUFFER_SIZE | TISOCK_OPT_RECEIVE_BUFFER_SIZE,
		.keep_alive = 1, .keep_alive_idle = 77, .linger = 3, .send_buffer_size = 40000,
		.receive_buffer_size = 50000 }), 0);
	assert_int_equal(tisock_tcp_id(s), 0);	/* no round trip for any of them */
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	pfd = peer_of(lfd);
	getpeername(pfd, (struct sockaddr *)&sin, &len);
	v = daemon_sockopt(ntohs(sin.sin_port), IPPROTO_TCP, TCP_NODELAY);
	if (v != -2) {
		assert_int_equal(v != 0, 1);
		assert_int_equal(daemon_sockopt(ntohs(sin.sin_port), SOL_SOCKET, SO_KEEPALIVE) != 0, 1);
		assert_int_equal(daemon_sockopt(ntohs(sin.sin_port), IPPROTO_TCP, TCP_KEEPIDLE), 77);
		assert_int_equal(daemon_linger(ntohs(sin.sin_port)), 3);
		assert_int_equal(daemon_sockopt(ntohs(sin.sin_port), SOL_SOCKET, SO_SNDBUF),
				 kernel_buf("/proc/sys/net/core/wmem_max", 40000));
		assert_int_equal(daemon_sockopt(ntohs(sin.sin_port), SOL_SOCKET, SO_RCVBUF),
				 kernel_buf("/proc/sys/net/core/rmem_max", 50000));
	} else {
		printf("# cannot look at the daemon's sockets here; options not checked there\n");
	}
	/* Connected: applied now. */
	assert_int_equal(tisock_tcp_set_options(s, &(struct tisock_tcp_socket_options){
		.set = TISOCK_OPT_NO_DELAY | TISOCK_OPT_KEEP_ALIVE_IDLE | TISOCK_OPT_LINGER |
		       TISOCK_OPT_SEND_BUFFER_SIZE, .no_delay = 0, .keep_alive_idle = 99,
		.linger = 11, .send_buffer_size = 30000 }), 0);
	if (v != -2) {
		assert_int_equal(daemon_sockopt(ntohs(sin.sin_port), IPPROTO_TCP, TCP_NODELAY), 0);
		assert_int_equal(daemon_sockopt(ntohs(sin.sin_port), IPPROTO_TCP, TCP_KEEPIDLE), 99);
		assert_int_equal(daemon_linger(ntohs(sin.sin_port)), 11);
		assert_int_equal(daemon_sockopt(ntohs(sin.sin_port), SOL_SOCKET, SO_SNDBUF),
				 kernel_buf("/proc/sys/net/core/wmem_max", 30000));
		assert_int_equal(daemon_sockopt(ntohs(sin.sin_port), SOL_SOCKET, SO_RCVBUF),
				 kernel_buf("/proc/sys/net/core/rmem_max", 50000));
	}
	/* Refused locally: out of range, an unknown bit, a closed socket. */
	assert_int_equal(tisock_tcp_set_options(s, &(struct tisock_tcp_socket_options){
		.set = TISOCK_OPT_KEEP_ALIVE_IDLE, .keep_alive_idle = 0 }), -EINVAL);
	assert_int_equal(tisock_tcp_set_options(s, &(struct tisock_tcp_socket_options){
		.set = TISOCK_OPT_LINGER, .linger = 3601 }), -EINVAL);
	assert_int_equal(tisock_tcp_set_options(s, &(struct tisock_tcp_socket_options){
		.set = TISOCK_OPT_SEND_BUFFER_SIZE, .send_buffer_size = 0 }), -EINVAL);
	assert_int_equal(tisock_tcp_set_options(s, &(struct tisock_tcp_socket_options){
		.set = TISOCK_OPT_RECEIVE_BUFFER_SIZE, .receive_buffer_size = 67108865 }),
		-EINVAL);
	assert_int_equal(tisock_tcp_set_options(s, &(struct tisock_tcp_socket_options){
		.set = 1u << 20 }), -EOPNOTSUPP);
	assert_int_equal(tisock_tcp_close(s), 0);
	assert_int_equal(tisock_tcp_set_options(s, &(struct tisock_tcp_socket_options){
		.set = TISOCK_OPT_NO_DELAY }), -EBADF);
	close(pfd);
	close(lfd);
	tisock_client_close(c);
}

static void
blocking_connect(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct seen seen = { 0 };
	int port, lfd = client_listener(&port, 0), fill[4];
	tisock_tcp *s;
	long long t0;

	(void)state;
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port,
		.connected = on_connected, .error = on_tcp, .userdata = &seen });
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	assert_int_equal(tisock_tcp_state(s), TISOCK_CONNECTED);
	assert_true(tisock_tcp_id(s) > 0);
	assert_int_equal(tisock_tcp_connect_wait(s), -EISCONN);
	assert_int_equal(tisock_client_dispatch(c, 0), 0);
	assert_int_equal(seen.connected + seen.calls, 0);	/* no callbacks */
	close(peer_of(lfd));
	tisock_tcp_free(s);
	/* Refused. */
	close(lfd);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port, .error = on_tcp,
		.userdata = &seen });
	assert_int_equal(tisock_tcp_connect_wait(s), -ECONNREFUSED);
	assert_int_equal(tisock_tcp_state(s), TISOCK_ERROR);
	assert_int_equal(seen.calls, 0);
	/* Timed out by the client's timeout: the daemon gives up, no socket is left over. */
	lfd = client_listener(&port, 0);
	listen(lfd, 0);
	for (int i = 0; i < 4; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	assert_int_equal(tisock_client_set_timeout(c, 300), 0);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port });
	t0 = spawn_now_ms();
	assert_int_equal(tisock_tcp_connect_wait(s), -ETIMEDOUT);
	assert_true(spawn_now_ms() - t0 < 5000);
	assert_int_equal(tisock_tcp_state(s), TISOCK_ERROR);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
	tisock_client_close(c);
}

struct server {
	struct seen	 listener, inbound;
	tisock_tcp	*in;
};

static void
on_accepted(const struct tisock_tcp_event *ev)
{
	struct server *k = ev->userdata;

	k->listener.calls++;
	assert_ptr_equal(tisock_tcp_userdata(ev->inbound), k);	/* the listener's at first */
	assert_int_equal(tisock_tcp_set_userdata(ev->inbound, &k->inbound), 0);
	assert_int_equal(tisock_tcp_set_free_callback(ev->inbound, on_freed), 0);
	k->in = ev->inbound;
}

static void
accepted_userdata(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct server k = { .in = NULL };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	tisock_tcp *l;
	int fd;

	(void)state;
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){ .accepted = on_accepted,
		.userdata = &k });
	assert_int_equal(tisock_tcp_listen(l), 0);
	assert_int_equal(tisock_tcp_accept(l, NULL), 0);
	sin.sin_port = htons((uint16_t)tisock_tcp_port(l));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	client_wait_flag(c, &k.listener.calls, 1, DEADLINE_MS);
	assert_ptr_equal(tisock_tcp_userdata(k.in), &k.inbound);
	assert_ptr_equal(tisock_tcp_userdata(l), &k);
	tisock_tcp_free(k.in);
	client_wait_flag(c, &k.inbound.freed, 1, DEADLINE_MS);
	assert_ptr_equal(k.inbound.last_userdata, &k.inbound);
	close(fd);
	tisock_client_close(c);
	assert_int_equal(tisock_tcp_set_userdata(NULL, NULL), -EINVAL);
}

static void
free_in_connected(const struct tisock_tcp_event *ev)
{
	struct seen *s = ev->userdata;

	s->connected++;
	tisock_tcp_free(ev->socket);
	assert_int_equal(s->freed, 0);	/* not inside the call */
}

static void
free_callback(void **state)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);
	struct seen seen = { 0 }, other = { 0 }, io = { 0 };
	tisock_buffer *in = tisock_buffer_create(16);
	int port, lfd = client_listener(&port, 0), pfd;
	tisock_tcp *s, *t;

	(void)state;
	/* Freed with a read in flight: the free callback comes, the read's never. */
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port, .userdata = &seen });
	assert_int_equal(tisock_tcp_set_free_callback(s, on_freed), 0);
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	pfd = peer_of(lfd);
	assert_int_equal(tisock_tcp_read_async(s, in, 0, TISOCK_ALL, on_io, &io), 0);
	tisock_tcp_free(s);
	assert_int_equal(seen.freed, 0);	/* never before the call returns */
	assert_true(tisock_client_pending(c));
	assert_int_equal(send(pfd, "data", 4, 0), 4);
	client_wait_flag(c, &seen.freed, 1, DEADLINE_MS);
	assert_ptr_equal(seen.last_userdata, &seen);
	assert_int_equal(tisock_client_run(c), 0);
	assert_int_equal(io.calls, 0);
	close(pfd);

	/* Freed inside its own callback: the free callback follows in the same dispatch. */
	memset(&seen, 0, sizeof(seen));
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port,
		.connected = free_in_connected, .userdata = &seen });
	tisock_tcp_set_free_callback(s, on_freed);
	assert_int_equal(tisock_tcp_connect(s), 0);
	client_wait_flag(c, &seen.connected, 1, DEADLINE_MS);
	if (seen.freed == 0)
		client_wait_flag(c, &seen.freed, 1, DEADLINE_MS);
	assert_int_equal(seen.freed, 1);
	close(peer_of(lfd));

	/* Closing the client runs the free callbacks of the sockets left. */
	t = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port, .userdata = &other });
	tisock_tcp_set_free_callback(t, on_freed);
	assert_int_equal(tisock_tcp_connect_wait(t), 0);
	pfd = peer_of(lfd);
	tisock_client_close(c);
	assert_int_equal(other.freed, 1);
	assert_int_equal(seen.freed, 1);
	close(pfd);
	close(lfd);
	tisock_buffer_free(in);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shutdown_with_callback),
		cmocka_unit_test(socket_options),
		cmocka_unit_test(blocking_connect),
		cmocka_unit_test(accepted_userdata),
		cmocka_unit_test(free_callback),
	};

	signal(SIGPIPE, SIG_IGN);
	spawn_bin = argc > 1 ? argv[1] : "daemon/tisockd";
	return cmocka_run_group_tests(tests, spawn_group_setup, spawn_group_teardown);
}
