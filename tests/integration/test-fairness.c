/*
 * test-fairness: a daemon shared by many busy clients serves each of
 * them, against a real tisockd: 64 control connections of one uid each
 * pump one socket from a loopback peer that writes to all of them as fast
 * as it can, with uid-notify-bytes small enough that the user's sockets
 * keep waiting for output room.  Then:
 *  - no stream starves: over a window, every one gets at least a quarter
 *    of the mean (before the scheduler, the user's first connections were
 *    always woken first);
 *  - a control request from a fresh client is answered while every
 *    socket is busy;
 *  - data channels too: 64 channels blasting, each makes progress, and
 *    the daemon's memory returns near where it was once they are closed.
 * Behaviour, not speed: figures are relative, every wait has a deadline.
 *
 *	test-fairness DAEMON
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "spawn.h"

#define N		64
#define WINDOW_BYTES	(64ll << 20)	/* the window ends after this much in all */
#define DEADLINE_MS	60000

static struct spawned sp;

/* A peer that accepts n connections, then writes to all of them until killed. */
static pid_t
blaster(int n, int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	static char buf[16384];
	struct pollfd p[N];
	pid_t pid;

	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, N) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	*port = ntohs(sin.sin_port);
	pid = fork();
	if (pid != 0) {
		close(lfd);
		return pid;
	}
	signal(SIGPIPE, SIG_IGN);
	alarm(300);
	memset(buf, 'b', sizeof(buf));
	for (int i = 0; i < n; i++) {
		p[i].fd = accept(lfd, NULL, NULL);
		fcntl(p[i].fd, F_SETFL, O_NONBLOCK);
		p[i].events = POLLOUT;
	}
	for (;;) {
		if (poll(p, (nfds_t)n, 1000) < 0)
			_exit(0);
		for (int i = 0; i < n; i++)
			if (p[i].revents & POLLOUT)
				(void) send(p[i].fd, buf, sizeof(buf), MSG_NOSIGNAL);
			else if (p[i].revents & (POLLERR | POLLHUP))
				p[i].fd = -1;
	}
}

/* The socket id in an answer line, or -1. */
static long long
socket_of(const char *a)
{
	const char *p = strstr(a, "\"socket\":");

	return p ? atoll(p + 9) : -1;
}

/*
 * Reads every fd until WINDOW_BYTES have arrived in all after the first
 * half of them (the warm-up), counting each fd's bytes in the window.
 * While it runs, fresh clients ask daemon.info; *ret_answered counts the
 * answers.  Returns false at the deadline.
 */
static bool
window(int *fds, int n, long long *got, int *ret_answered)
{
	static char buf[1 << 18];
	int ep = epoll_create1(EPOLL_CLOEXEC), probe = -1, answered = 0;
	long long all = 0, end = spawn_now_ms() + DEADLINE_MS;

	for (int i = 0; i < n; i++) {
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &(struct epoll_event){ .events = EPOLLIN,
									      .data.u32 = (uint32_t)i });
		got[i] = 0;
	}
	while (all < 2 * WINDOW_BYTES && spawn_now_ms() < end) {
		struct epoll_event ev[64];
		int k;

		if (probe < 0) {
			probe = spawn_ctl_open(&sp);
			spawn_send_all(probe, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"daemon.info\"}\n",
				       49);
			epoll_ctl(ep, EPOLL_CTL_ADD, probe,
				  &(struct epoll_event){ .events = EPOLLIN, .data.u32 = N + 1 });
		}
		k = epoll_wait(ep, ev, 64, 100);
		for (int j = 0; j < k; j++) {
			uint32_t i = ev[j].data.u32;
			ssize_t r;

			if (i == N + 1) {
				r = read(probe, buf, sizeof(buf));
				if (r > 0 && memchr(buf, '\n', (size_t)r) && strstr(buf, "\"result\""))
					answered++;
				epoll_ctl(ep, EPOLL_CTL_DEL, probe, NULL);
				close(probe);
				probe = -1;
				continue;
			}
			r = read(fds[i], buf, sizeof(buf));
			if (r <= 0)
				continue;
			all += r;
			if (all > WINDOW_BYTES)
				got[i] += r;
		}
	}
	if (probe >= 0)
		close(probe);
	close(ep);
	*ret_answered = answered;
	return all >= 2 * WINDOW_BYTES;
}

/* Every stream got at least a quarter of the mean. */
static bool
fair(const long long *got, int n, double *ret_slowest)
{
	long long sum = 0, min = -1;

	for (int i = 0; i < n; i++) {
		sum += got[i];
		if (min < 0 || got[i] < min)
			min = got[i];
	}
	*ret_slowest = sum ? (double)min / ((double)sum / n) : 0;
	if (getenv("TISOCK_TEST_VERBOSE"))
		for (int i = 0; i < n; i++)
			printf("# stream %d: %lld\n", i, got[i]);
	return *ret_slowest >= 0.25;
}

static void
test_pump(void)
{
	int port, fds[N], answered;
	pid_t peer = blaster(N, &port);
	long long got[N];
	char params[96];
	double slowest;
	bool done, ok;

	for (int i = 0; i < N; i++) {
		fds[i] = spawn_ctl_open(&sp);
		snprintf(params, sizeof(params), "{\"port\":%d}", port);
		long long s = socket_of(spawn_ask(fds[i], 1, "tcp.connect", params));

		snprintf(params, sizeof(params), "{\"socket\":%lld,\"chunkSize\":16384}", s);
		spawn_ask(fds[i], 2, "tcp.pump", params);
	}
	done = window(fds, N, got, &answered);
	check(done, "%d busy pump streams of one uid moved %lld MiB", N, 2 * WINDOW_BYTES >> 20);
	ok = fair(got, N, &slowest);
	check(ok, "no pump stream starves: the slowest got %.2f of the mean", slowest);
	check(answered > 0, "a fresh client's daemon.info is answered while every socket is busy "
	      "(%d answers)", answered);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	kill(peer, SIGTERM);
	waitpid(peer, NULL, 0);
}

/* tcp.channel on a new socket connected to port: the fd that rides on the answer. */
static int
channel_to(int ctl, int port)
{
	char params[64], line[512], cbuf[CMSG_SPACE(sizeof(int))];
	size_t have = 0;
	int fd = -1;
	long long s;

	snprintf(params, sizeof(params), "{\"port\":%d}", port);
	s = socket_of(spawn_ask(ctl, 1, "tcp.connect", params));
	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tcp.channel\","
		 "\"params\":{\"socket\":%lld}}\n", s);
	spawn_send_all(ctl, line, strlen(line));
	while (have < sizeof(line) - 1 && (have == 0 || line[have - 1] != '\n')) {
		struct iovec iov = { .iov_base = line + have, .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };

		if (recvmsg(ctl, &mh, 0) != 1)
			return -1;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		have++;
	}
	return fd;
}

static void
test_channels(void)
{
	int port, fds[N], answered, ctl = spawn_ctl_open(&sp);
	long base = spawn_status_kib(sp.pid, "VmRSS:"), after = -1;
	pid_t peer = blaster(N, &port);
	long long got[N];
	double slowest;
	bool ok;

	for (int i = 0; i < N; i++)
		fds[i] = channel_to(ctl, port);
	check(window(fds, N, got, &answered), "%d busy channels moved %lld MiB", N,
	      2 * WINDOW_BYTES >> 20);
	ok = fair(got, N, &slowest);
	check(ok, "no channel starves: the slowest got %.2f of the mean", slowest);
	check(answered > 0, "daemon.info is answered while every channel is busy (%d)", answered);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	kill(peer, SIGTERM);
	waitpid(peer, NULL, 0);
	/* Until the daemon has seen every channel end (its socket count says so). */
	for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
		const char *a = spawn_ask(ctl, 9, "daemon.info", NULL);
		const char *k = strstr(a, "\"counters\":{");

		if (k && strstr(k, "\"sockets\":0,"))
			break;
		poll(NULL, 0, 20);
	}
	after = spawn_status_kib(sp.pid, "VmRSS:");
	if (spawn_rss_is_inflated())
		printf("# RSS %ld -> %ld KiB, not checked under valgrind or a sanitizer\n", base, after);
	else
		check(after - base < 8192, "memory is given back once the channels close: RSS %ld KiB "
		      "before, %ld KiB after", base, after);
	close(ctl);
}

/* Bytes readable on fd within ms (all of them read), or -1 at EOF or error. */
static long long
drain_for(int fd, int ms)
{
	static char buf[1 << 16];
	long long got = 0;

	for (long long end = spawn_now_ms() + ms; spawn_now_ms() < end;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 50) <= 0)
			continue;
		r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			return -1;
		got += r;
	}
	return got;
}

/*
 * A client that holds its uid's output room (it never reads) exits: the
 * uid's other client, waiting for that room, is read again, and nothing
 * of the departed client is touched after it went.
 */
static void
test_exit_while_holding_room(const char *bin)
{
	int port, a, b, probe;
	pid_t peer = blaster(2, &port);
	char params[96];
	long long got;

	if (spawn_start(&sp, bin, "[daemon]\nresolver-lookups = f\n[limits]\n"
			"uid-notify-bytes = 65536\nclient-notify-bytes = 1048576\n", 0) < 0) {
		check(0, "a daemon with uid-notify-bytes under client-notify-bytes");
		return;
	}
	a = spawn_ctl_open(&sp);
	b = spawn_ctl_open(&sp);
	for (int i = 0; i < 2; i++) {
		int fd = i ? b : a;
		long long s;

		snprintf(params, sizeof(params), "{\"port\":%d}", port);
		s = socket_of(spawn_ask(fd, 1, "tcp.connect", params));
		snprintf(params, sizeof(params), "{\"socket\":%lld,\"chunkSize\":16384}", s);
		spawn_ask(fd, 2, "tcp.pump", params);
	}
	/* a never reads: its output holds the uid's room, and b waits for it. */
	(void) drain_for(b, 500);
	close(a);
	got = drain_for(b, 3000);
	check(got >= 1 << 20, "once the client holding its uid's room is gone, the uid's other "
	      "client is read again (%lld bytes in 3 s)", got);
	close(b);
	probe = spawn_ctl_open(&sp);
	check(probe >= 0 && strstr(spawn_ask(probe, 3, "daemon.info", NULL), "\"result\""),
	      "the daemon serves on after both left");
	if (probe >= 0)
		close(probe);
	kill(peer, SIGTERM);
	waitpid(peer, NULL, 0);
	{
		int status = spawn_stop(&sp);

		check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "that daemon exits 0");
	}
}

int
main(int argc, char **argv)
{
	const char *bin = argc > 1 ? argv[1] : "daemon/tisockd";

	signal(SIGPIPE, SIG_IGN);
	alarm(600);
	if (spawn_start(&sp, bin, "[daemon]\nresolver-lookups = f\n[limits]\n"
			"uid-notify-bytes = 262144\nclient-notify-bytes = 65536\n", 0) < 0) {
		fprintf(stderr, "the daemon did not start\n");
		return 1;
	}
	test_pump();
	test_channels();
	{
		int status = spawn_stop(&sp);

		check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the daemon exits 0");
	}
	test_exit_while_holding_room(bin);
	return check_summary();
}
