/*
 * bench-fdstore: what systemd's fd store costs per connection.  Two
 * daemons of this build, fd-store = no and fd-store = yes, each with its
 * NOTIFY_SOCKET served by a child that keeps what it is sent by name and
 * drops what is removed (as systemd does, without its other work);
 * connections set up and closed through each, interleaved.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define STORE_MAX	65536

struct fdstore_daemon {
	struct spawned	 d;
	pid_t		 store;		/* the stand-in for systemd */
};

/* The stand-in: keeps fds by FDNAME=, closes those removed; 'R' on pipe w at READY=1. */
static void __attribute__((noreturn))
store_run(int nfd, int w)
{
	static int fds[STORE_MAX];
	static char names[STORE_MAX][32];
	int n = 0;

	for (;;) {
		char buf[512], *name;
		union {
			char		c[CMSG_SPACE(16 * sizeof(int))];
			struct cmsghdr	align;
		} u;
		struct iovec iov = { buf, sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.c,
				     .msg_controllen = sizeof(u.c) };
		struct cmsghdr *cm;
		ssize_t k = recvmsg(nfd, &mh, MSG_CMSG_CLOEXEC);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		buf[k] = '\0';
		name = strstr(buf, "FDNAME=");
		name = name ? name + 7 : "stored";
		if (strstr(buf, "READY=1"))
			(void) !write(w, "R", 1);
		if (strstr(buf, "FDSTOREREMOVE=1")) {
			for (int i = 0; i < n; i++)
				if (strncmp(names[i], name, sizeof(names[i]) - 1) == 0) {
					close(fds[i]);
					fds[i] = fds[--n];
					memcpy(names[i], names[n], sizeof(names[i]));
					i--;
				}
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			int m = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			for (int i = 0; i < m; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (n < STORE_MAX && strstr(buf, "FDSTORE=1")) {
					fds[n] = fd;
					snprintf(names[n++], sizeof(names[0]), "%s", name);
				} else {
					close(fd);
				}
			}
		}
	}
}

/* Starts a daemon with fd-store = on ("yes" or "no") and its store. */
static void
start(struct fdstore_daemon *fd, const char *bin, const char *on)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char conf[96], notify[96], c;
	int nfd, p[2];
	FILE *f;

	memset(fd, 0, sizeof(*fd));
	snprintf(fd->d.dir, sizeof(fd->d.dir), "/tmp/tisock-bench-XXXXXX");
	if (!mkdtemp(fd->d.dir))
		die("mkdtemp");
	snprintf(conf, sizeof(conf), "%s/tisockd.conf", fd->d.dir);
	snprintf(notify, sizeof(notify), "%s/notify", fd->d.dir);
	snprintf(fd->d.socket, sizeof(fd->d.socket), "%s/sock", fd->d.dir);
	f = fopen(conf, "w");
	if (!f)
		die("config");
	fprintf(f, "[daemon]\nlog-level = warning\nfd-store = %s\n[limits]\n"
		"client-connects-per-second = 1000000\nuid-connects-per-second = 1000000\n", on);
	fclose(f);
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", notify);
	if (nfd < 0 || bind(nfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || pipe(p) < 0)
		die("notify socket");
	fd->store = fork();
	if (fd->store == 0) {
		close(p[0]);
		store_run(nfd, p[1]);
	}
	close(p[1]);
	close(nfd);
	fd->d.pid = fork();
	if (fd->d.pid == 0) {
		setenv("NOTIFY_SOCKET", notify, 1);
		execl(bin, bin, "--foreground", "--socket", fd->d.socket, "--config",
		      conf, (char *)NULL);
		_exit(127);
	}
	if (read(p[0], &c, 1) != 1)
		die("daemon start");
	close(p[0]);
}

static void
stop(struct fdstore_daemon *fd)
{
	spawn_stop(&fd->d);	/* first: its last removals find the store */
	kill(fd->store, SIGKILL);
	waitpid(fd->store, NULL, 0);
}

/* Connections per second through the daemon of fd: tcp.connect, then tcp.close. */
static double
rate(struct fdstore_daemon *fd, int n)
{
	struct spawned saved = sp;
	int port;
	pid_t peer = peer_start(HOLD, 0, &port);
	struct rpc r;
	double t0, t;

	sp = fd->d;
	rpc_open(&r);
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		long long s = rpc_connect(&r, port);

		rpc_send(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"tcp.close\","
			 "\"params\":{\"socket\":%lld}}\n", s);
	}
	t = now_s() - t0;
	rpc_close(&r);
	sp = saved;
	peer_stop(peer);
	return n / t;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Runs reps interleaved rounds of n connections through each daemon and
 * prints the medians (min-max) and the cost per connection in µs.
 */
void
fdstore_bench(const char *bin, int reps, int n)
{
	struct fdstore_daemon off, on;
	double a[32], b[32], cost[32];

	if (reps > 32)
		reps = 32;
	start(&off, bin, "no");
	start(&on, bin, "yes");
	for (int i = 0; i < reps; i++) {
		if (i % 2) {
			b[i] = rate(&on, n);
			a[i] = rate(&off, n);
		} else {
			a[i] = rate(&off, n);
			b[i] = rate(&on, n);
		}
		cost[i] = (1e6 / b[i] - 1e6 / a[i]);
	}
	stop(&off);
	stop(&on);
	qsort(a, (size_t)reps, sizeof(double), cmp);
	qsort(b, (size_t)reps, sizeof(double), cmp);
	qsort(cost, (size_t)reps, sizeof(double), cmp);
	printf("connection setup+close, fd-store = no   %8.0f conn/s (%.0f-%.0f)\n", a[reps / 2],
	       a[0], a[reps - 1]);
	printf("connection setup+close, fd-store = yes  %8.0f conn/s (%.0f-%.0f)\n", b[reps / 2],
	       b[0], b[reps - 1]);
	printf("fd store cost per connection            %8.1f us (%.1f-%.1f), %d x %d\n",
	       cost[reps / 2], cost[0], cost[reps - 1], reps, n);
}
