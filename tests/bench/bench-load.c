/*
 * bench-load: many busy streams at once (bench --only load), and the
 * daemon's memory with many idle sockets and channels, each on a fresh
 * daemon.
 *
 * For N = 1, 10, 100, 1000: N control connections each pump one socket
 * (tcp.data) from a peer that writes to every connection as fast as it
 * can; then N data channels from the same kind of peer; then N data
 * channels the other way (client -> TCP: this client writes to every
 * channel as fast as it can, the peer reads every connection and counts
 * each one's bytes in memory shared with this process).  After a warm-up,
 * for a fixed window, it counts each stream's bytes and reports the
 * aggregate rate, Jain's fairness index of the per-stream bytes, the
 * slowest stream's share of a fair share, and the round trip of
 * daemon.info from a fresh client (a new connection every 20 ms), p50
 * and p99.  Every figure is one window of one run: noisy on a shared
 * machine, so runs are repeated by hand and compared by their medians.
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define LOAD_WARMUP_S	1.0
#define LOAD_PROBE_S	0.020		/* between daemon.info probes */
#define LOAD_READ	(1u << 20)	/* bytes per read */
#define LOAD_MAX	1000

/* A peer that accepts conns connections, then writes to all of them until killed. */
static pid_t
blast_start(int conns, int *port)
{
	int lfd;
	pid_t pid = fork_listener(port, &lfd);
	static char buf[CHUNK];
	struct pollfd *p;

	if (pid > 0)
		return pid;
	p = calloc((size_t)conns, sizeof(*p));
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < conns; i++) {
		p[i].fd = accept(lfd, NULL, NULL);
		if (p[i].fd < 0)
			_exit(1);
		fcntl(p[i].fd, F_SETFL, O_NONBLOCK);
		p[i].events = POLLOUT;
	}
	for (;;) {
		if (poll(p, (nfds_t)conns, 1000) < 0)
			_exit(1);
		for (int i = 0; i < conns; i++)
			if (p[i].revents & POLLOUT)
				(void) send(p[i].fd, buf, sizeof(buf), MSG_NOSIGNAL);
			else if (p[i].revents & (POLLERR | POLLHUP))
				p[i].fd = -1;
	}
}

/*
 * A peer that accepts conns connections, then reads all of them until
 * killed, adding each one's bytes to counts[i] (shared with the parent).
 */
static pid_t
drain_start(int conns, int *port, long long *counts)
{
	int lfd = listen_loopback(port);
	pid_t pid = fork();
	static char buf[LOAD_READ];
	struct pollfd *p;

	if (pid < 0)
		die("fork");
	if (pid > 0) {
		close(lfd);
		return pid;
	}
	p = calloc((size_t)conns, sizeof(*p));
	for (int i = 0; i < conns; i++) {
		p[i].fd = accept(lfd, NULL, NULL);
		if (p[i].fd < 0)
			_exit(1);
		fcntl(p[i].fd, F_SETFL, O_NONBLOCK);
		p[i].events = POLLIN;
	}
	for (;;) {
		if (poll(p, (nfds_t)conns, 1000) < 0)
			_exit(1);
		for (int i = 0; i < conns; i++) {
			ssize_t k;

			if (!(p[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			k = read(p[i].fd, buf, sizeof(buf));
			if (k > 0)
				__atomic_add_fetch(&counts[i], (long long)k, __ATOMIC_RELAXED);
			else if (k == 0 || errno != EAGAIN)
				p[i].fd = -1;
		}
	}
}

struct stream {
	int		 fd;		/* control connection (pump) or channel */
	long long	 total;		/* bytes so far */
	long long	 at_start;	/* when the window opened */
	char		 tail[32];	/* pump: the end of the last read */
};

struct probe {
	int		 fd;		/* -1: none in flight */
	double		 sent, next;
	double		 rtt[4096];
	int		 n;
};

/* The last "totalBytes":N in buf (with what came before it), or -1. */
static long long
last_total(struct stream *s, const char *buf, size_t n)
{
	static const char key[] = "\"totalBytes\":";
	char join[96];
	long long v = -1;

	for (const char *p = buf + n; p > buf;) {
		const char *q = memrchr(buf, '"', (size_t)(p - buf));

		if (!q)
			break;
		if ((size_t)(buf + n - q) > sizeof(key) && memcmp(q, key, sizeof(key) - 1) == 0) {
			char *end;

			v = strtoll(q + sizeof(key) - 1, &end, 10);
			if (end < buf + n)
				return v;
			v = -1;	/* cut short: an earlier one */
		}
		p = q;
	}
	/* The key across the previous read and this one. */
	snprintf(join, sizeof(join), "%s%.*s", s->tail, (int)(n < 40 ? n : 40), buf);
	{
		const char *q = strstr(join, key);

		if (q)
			v = strtoll(q + sizeof(key) - 1, NULL, 10);
	}
	return v;
}

static void
probe_step(struct probe *pr, int epfd, double now)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.info\"}\n";

	if (pr->fd >= 0 || now < pr->next)
		return;
	pr->fd = connect_unix(sp.socket);
	if (pr->fd < 0)
		die("probe connect");
	write_all(pr->fd, req, sizeof(req) - 1);
	pr->sent = now;
	epoll_ctl(epfd, EPOLL_CTL_ADD, pr->fd, &(struct epoll_event){ .events = EPOLLIN,
								      .data.ptr = NULL });
}

static void
probe_answered(struct probe *pr, int epfd, double now)
{
	static char buf[65536];
	ssize_t k = read(pr->fd, buf, sizeof(buf));

	if (k > 0 && !memchr(buf, '\n', (size_t)k))
		return;	/* the rest of the line comes next */
	if (pr->n < (int)(sizeof(pr->rtt) / sizeof(pr->rtt[0])))
		pr->rtt[pr->n++] = now - pr->sent;
	epoll_ctl(epfd, EPOLL_CTL_DEL, pr->fd, NULL);
	close(pr->fd);
	pr->fd = -1;
	pr->next = now + LOAD_PROBE_S;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Runs the window over n streams already set up; fills r. */
static void
measure(struct stream *st, int n, bool pump, long long *up, double secs, struct load_result *r)
{
	static char buf[LOAD_READ];
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe pr = { .fd = -1 };
	double t0 = now_s(), open_at = t0 + LOAD_WARMUP_S, end = open_at + secs, now;
	bool open = false;
	double sum = 0, sum2 = 0, min = -1;

	for (int i = 0; i < n; i++) {
		fcntl(st[i].fd, F_SETFL, O_NONBLOCK);
		epoll_ctl(epfd, EPOLL_CTL_ADD, st[i].fd,
			  &(struct epoll_event){ .events = up ? EPOLLOUT : EPOLLIN,
						 .data.ptr = &st[i] });
	}
	if (up)
		memset(buf, 'x', CHUNK);
	while ((now = now_s()) < end) {
		struct epoll_event ev[256];
		int k;

		if (!open && now >= open_at) {
			open = true;
			pr.next = now;
			for (int i = 0; i < n; i++)
				st[i].at_start = up ? __atomic_load_n(&up[i], __ATOMIC_RELAXED) :
						 st[i].total;
		}
		if (open)
			probe_step(&pr, epfd, now);
		k = epoll_wait(epfd, ev, 256, 10);
		now = now_s();
		for (int i = 0; i < k; i++) {
			struct stream *s = ev[i].data.ptr;
			ssize_t got;

			if (!s) {
				if (pr.fd >= 0)	/* (not answered already, below) */
					probe_answered(&pr, epfd, now);
				continue;
			}
			if (up) {
				struct pollfd q = { .fd = pr.fd, .events = POLLIN };
				ssize_t w = write(s->fd, buf, CHUNK);

				(void) w;	/* the peer counts what arrives; a full socket takes none */
				/* The probe's answer is seen at once, not after this batch of writes. */
				if (pr.fd >= 0 && poll(&q, 1, 0) == 1)
					probe_answered(&pr, epfd, now_s());
				continue;
			}
			got = read(s->fd, buf, sizeof(buf));
			if (got <= 0) {
				if (got == 0 || errno != EAGAIN)
					epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
				continue;
			}
			if (pump) {
				long long v = last_total(s, buf, (size_t)got);

				if (v > s->total)
					s->total = v;
				memcpy(s->tail, buf + got - (got < 31 ? got : 31), (size_t)(got < 31 ? got : 31));
				s->tail[got < 31 ? got : 31] = '\0';
			} else {
				s->total += got;
			}
		}
	}
	if (pr.fd >= 0)
		close(pr.fd);
	close(epfd);
	for (int i = 0; up && i < n; i++)
		st[i].total = __atomic_load_n(&up[i], __ATOMIC_RELAXED);	/* by the peer's count */
	for (int i = 0; i < n; i++) {
		double x = (double)(st[i].total - st[i].at_start);

		sum += x;
		sum2 += x * x;
		if (min < 0 || x < min)
			min = x;
	}
	r->mbps = sum / secs / 1e6;
	r->jain = sum2 > 0 ? sum * sum / (n * sum2) : 0;
	r->slowest = sum > 0 ? min / (sum / n) : 0;
	qsort(pr.rtt, (size_t)pr.n, sizeof(double), cmp_d);
	r->info_p50 = pr.n ? pr.rtt[pr.n / 2] * 1e3 : -1;
	r->info_p99 = pr.n ? pr.rtt[pr.n * 99 / 100] * 1e3 : -1;
	r->probes = pr.n;
}

/* Opens a control connection and connects a socket to port; the socket id. */
static long long
open_socket(struct rpc *r, int port)
{
	rpc_open(r);
	return rpc_connect(r, port);
}

void
load_run(int n, enum load_kind kind, double secs, struct load_result *r)
{
	bool pump = kind == LOAD_PUMP;
	struct stream *st = calloc((size_t)n, sizeof(*st));
	struct rpc *rs = calloc(pump ? (size_t)n : 1, sizeof(*rs));
	long long *counts = NULL;
	int port;
	pid_t peer;

	if (kind == LOAD_CHANNEL_UP) {
		counts = mmap(NULL, (size_t)n * sizeof(*counts), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (counts == MAP_FAILED)
			die("mmap");
		peer = drain_start(n, &port, counts);
	} else {
		peer = blast_start(n, &port);
	}
	for (int i = 0; i < n; i++) {
		if (pump) {
			long long s = open_socket(&rs[i], port);

			rpc_send(&rs[i], "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tcp.pump\","
				 "\"params\":{\"socket\":%lld,\"chunkSize\":%d}}\n", s, CHUNK);
			st[i].fd = rs[i].fd;
		} else {
			if (i == 0)
				rpc_open(&rs[0]);
			st[i].fd = rpc_channel(&rs[0], rpc_connect(&rs[0], port));
		}
	}
	measure(st, n, pump, counts, secs, r);
	peer_stop(peer);
	for (int i = 0; i < n; i++)
		if (!pump)
			close(st[i].fd);
	for (int i = 0; i < (pump ? n : 1); i++)
		rpc_close(&rs[i]);
	if (counts)
		munmap(counts, (size_t)n * sizeof(*counts));
	free(rs);
	free(st);
}

/* The daemon's RSS growth per idle connected socket, n of them (bytes). */
double
load_rss_sockets(int n)
{
	int port, batch = 500;
	pid_t peer = peer_start(HOLD, 0, &port);
	char *lines = malloc((size_t)batch * 96);
	struct rpc r;
	long base, full;

	rpc_open(&r);
	cJSON_Delete(rpc_call(&r, "daemon.info", NULL));
	base = spawn_status_kib(sp.pid, "VmRSS:");
	for (int done = 0; done < n; done += batch) {
		size_t len = 0;
		int m = n - done < batch ? n - done : batch;

		for (int i = 0; i < m; i++)
			len += (size_t)sprintf(lines + len, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":"
					       "\"tcp.connect\",\"params\":{\"port\":%d}}\n",
					       1000000 + done + i, port);
		write_all(r.fd, lines, len);
		for (int i = 0; i < m; i++) {
			size_t l;

			if (!strstr(rpc_line(&r, &l), "\"connected\""))
				die("connect for the RSS measurement");
		}
	}
	full = spawn_status_kib(sp.pid, "VmRSS:");
	rpc_close(&r);
	peer_stop(peer);
	free(lines);
	return (double)(full - base) * 1024. / n;
}

/* RSS (KiB) before, with n idle channels, and 5 s after they closed. */
void
load_rss_channels(int n, long *before, long *with, long *after)
{
	int port, *fds = calloc((size_t)n, sizeof(int));
	pid_t peer = peer_start(HOLD, 0, &port);
	struct rpc r;
	double until;

	rpc_open(&r);
	cJSON_Delete(rpc_call(&r, "daemon.info", NULL));
	*before = spawn_status_kib(sp.pid, "VmRSS:");
	for (int i = 0; i < n; i++)
		fds[i] = rpc_channel(&r, rpc_connect(&r, port));
	*with = spawn_status_kib(sp.pid, "VmRSS:");
	for (int i = 0; i < n; i++)
		close(fds[i]);
	rpc_close(&r);
	peer_stop(peer);
	until = now_s() + 5.0;
	while (now_s() < until)
		poll(NULL, 0, 100);	/* what "5 s after" means: no event to wait for */
	*after = spawn_status_kib(sp.pid, "VmRSS:");
	free(fds);
}
