/*
 * bench: tisockd against direct TCP and socat, measured in one run.
 *
 * Starts its own tisockd and, for each measurement, a peer process on
 * loopback (so the daemon, the peer and this client spread over the
 * cores), then reports medians over the repetitions:
 *  - bulk throughput, 64 KiB chunks: direct TCP; tisockd's JSON pump
 *    (TCP -> client, tcp.data); JSON writes (client -> TCP, tcp.write);
 *    the data channel both ways (tcp.channel); socat -b 65536 relaying
 *    Unix <-> TCP, both ways, when installed; and the relay's CPU time
 *    per GB for each (the daemon's, socat's);
 *  - 64-byte round trips (p50, p99): direct, the JSON path (tcp.write
 *    then tcp.data), the channel, socat;
 *  - connection setup: connect + close, direct and through the daemon,
 *    one at a time and 32 in flight;
 *  - pipelined tcp.info requests per second;
 *  - memory, each on a fresh daemon: RSS per idle connected socket with
 *    1,000 and 10,000, per idle channel with 1,000, and 5 s after closing
 *    them (bench-load.c);
 *  - with --only load: many busy streams at once (bench-load.c);
 *  - with --only upgrade: the pause of a live upgrade with 10, 1,000 and
 *    10,000 sockets (bench-upgrade.c).
 * Each repetition runs every path once, in turn (starting one further
 * each time), so a slow stretch of a shared machine hits every path
 * alike.  The table shows medians with min-max over the repetitions, and
 * ratios to direct TCP and to socat in the same direction, taken within
 * each repetition; --json writes the same as JSON.
 *
 *  - with --only tls: TLS through the daemon against socat OPENSSL:
 *    (bench-tls.c).
 *
 *	bench DAEMON [--mib N] [--reps N] [--json FILE] [--only GROUP]
 *	    [--load-seconds S] [--quick] [--srcdir DIR] [--upgrades N]
 *
 * GROUP: bulk, rtt, setup, info, rss, load, tls, fdstore, upgrade (load,
 * tls and upgrade run only when named; --upgrades N: upgrades per size,
 * default 50).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench.h"
#include "proto-base64.h"

#define MAX_REPS	15

struct spawned sp;
size_t total_bytes = 256u << 20;
static int reps = 3, rtt_n = 20000, setup_n = 2000, info_n = 200000;
static bool have_socat;
static const char *only;		/* --only bulk|rtt|setup|info|rss|load|fdstore: one group */

static bool
want(const char *group)
{
	return only ? strcmp(only, group) == 0 : strcmp(group, "load") != 0 &&
						  strcmp(group, "tls") != 0 &&
						  strcmp(group, "upgrade") != 0;
}
static char socat_path[128];

/* ---- measurements ----------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * The relay's CPU time for the bulk run just measured, seconds (user +
 * system): the daemon's from /proc, socat's from its rusage.  -1: none.
 */
static double relay_cpu = -1;
static double rtt_cpu = -1;	/* the daemon's CPU seconds per round trip, -1: none */

/* Waits for the child pid: the CPU seconds (user + system) it used, or -1. */
static double
reap_cpu_s(pid_t pid)
{
	struct rusage ru;

	if (wait4(pid, NULL, 0, &ru) != pid)
		return -1;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/*
 * Direct TCP, client -> server: bytes per second.  The sender's own CPU
 * goes into relay_cpu: what writing the bytes into loopback TCP costs a
 * process that does nothing else, the floor of any relay's TCP side.
 */
static double
bulk_direct(void)
{
	static char buf[CHUNK];
	int port;
	pid_t pid = peer_start(SINK, 1, &port);
	int fd = connect_tcp(port);
	uint64_t got;
	double t0 = now_s(), t;

	relay_cpu = -spawn_cpu_s(getpid());
	for (size_t sent = 0; sent < total_bytes; sent += CHUNK)
		write_all(fd, buf, CHUNK);
	shutdown(fd, SHUT_WR);
	read_exact(fd, &got, sizeof(got));
	t = now_s() - t0;
	relay_cpu += spawn_cpu_s(getpid());
	close(fd);
	peer_stop(pid);
	return (double)got / t;
}

/*
 * Starts `socat -b 65536 UNIX-LISTEN:... TCP:127.0.0.1:PORT(opts)` and
 * connects to its Unix end.  Returns the fd; *relay is socat's pid.
 */
static int
socat_start(int port, const char *opts, pid_t *relay)
{
	char path[128], arg1[160], arg2[96];

	snprintf(path, sizeof(path), "%s/socat.sock", sp.dir);
	unlink(path);
	snprintf(arg1, sizeof(arg1), "UNIX-LISTEN:%s", path);
	snprintf(arg2, sizeof(arg2), "TCP:127.0.0.1:%d%s", port, opts);
	*relay = fork();
	if (*relay == 0) {
		execl(socat_path, "socat", "-b", "65536", arg1, arg2, (char *)NULL);
		_exit(127);
	}
	return socat_connect(path);
}

/* socat -b 65536 between a Unix socket and TCP; up: Unix -> TCP, down: TCP -> Unix. */
static double
bulk_socat(bool up)
{
	static char buf[1 << 20];
	int port, fd;
	pid_t peer = peer_start(up ? SINK : SOURCE, 1, &port), relay;
	uint64_t got = 0;
	double t0, t;

	fd = socat_start(port, "", &relay);
	t0 = now_s();
	if (up) {
		memset(buf, 'x', CHUNK);
		for (size_t sent = 0; sent < total_bytes; sent += CHUNK)
			write_all(fd, buf, CHUNK);
		shutdown(fd, SHUT_WR);
		read_exact(fd, &got, sizeof(got));
	} else {
		ssize_t k;

		while ((k = read(fd, buf, sizeof(buf))) > 0)
			got += (uint64_t)k;
	}
	t = now_s() - t0;
	close(fd);
	relay_cpu = reap_cpu_s(relay);
	peer_stop(peer);
	return (double)got / t;
}

/* The JSON pump: a TCP source pushes, tcp.data carries it; bytes per second. */
static double
bulk_pump(void)
{
	int port;
	pid_t pid = peer_start(SOURCE, 1, &port);
	struct rpc r;
	long long s;
	uint64_t got = 0;
	double t0, t;

	rpc_open(&r);
	s = rpc_connect(&r, port);
	relay_cpu = -spawn_cpu_s(sp.pid);
	t0 = now_s();
	got = rpc_pump_all(&r, s);
	t = now_s() - t0;
	relay_cpu += spawn_cpu_s(sp.pid);
	rpc_close(&r);
	peer_stop(pid);
	return (double)got / t;
}

/* JSON writes: tcp.write of 64 KiB chunks, 8 in flight; bytes per second. */
static double
bulk_write(void)
{
	static unsigned char raw[CHUNK];
	char *line = malloc(proto_base64_encoded_len(CHUNK) + 256);
	int port, inflight = 0;
	pid_t pid = peer_start(SINK, 1, &port);
	struct rpc r;
	long long s;
	uint64_t got;
	size_t sent = 0, n0;
	double t0, t;
	cJSON *a;

	rpc_open(&r);
	s = rpc_connect(&r, port);
	memset(raw, 'x', sizeof(raw));
	n0 = (size_t)sprintf(line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tcp.write\","
			     "\"params\":{\"socket\":%lld,\"data\":\"", s);
	proto_base64_encode(line + n0, raw, CHUNK);
	n0 += proto_base64_encoded_len(CHUNK);
	memcpy(line + n0, "\"}}\n", 4);
	n0 += 4;
	relay_cpu = -spawn_cpu_s(sp.pid);
	t0 = now_s();
	while (sent < total_bytes || inflight > 0) {
		size_t len;

		if (sent < total_bytes && inflight < 8) {
			write_all(r.fd, line, n0);
			sent += CHUNK;
			inflight++;
			continue;
		}
		(void) rpc_line(&r, &len);
		inflight--;
	}
	{
		char params[64];

		snprintf(params, sizeof(params), "{\"socket\":%lld}", s);
		a = rpc_call(&r, "tcp.shutdown", params);
		cJSON_Delete(a);
		snprintf(params, sizeof(params), "{\"socket\":%lld,\"length\":8}", s);
		a = rpc_call(&r, "tcp.read", params);
	}
	{
		const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(a, "result"), "data"));

		if (!d || proto_base64_decode(&got, d, strlen(d)) != 8)
			die("the sink's count");
	}
	t = now_s() - t0;
	relay_cpu += spawn_cpu_s(sp.pid);
	cJSON_Delete(a);
	rpc_close(&r);
	peer_stop(pid);
	free(line);
	return (double)got / t;
}


/* The data channel: up (client -> TCP) or down (TCP -> client); bytes per second. */
static double
bulk_channel(bool up)
{
	static char buf[1 << 20];
	int port, fd;
	pid_t pid = peer_start(up ? SINK : SOURCE, 1, &port);
	struct rpc r;
	uint64_t got = 0;
	double t0, t;

	rpc_open(&r);
	fd = rpc_channel(&r, rpc_connect(&r, port));
	relay_cpu = -spawn_cpu_s(sp.pid);
	t0 = now_s();
	if (up) {
		memset(buf, 'x', CHUNK);
		for (size_t sent = 0; sent < total_bytes; sent += CHUNK)
			write_all(fd, buf, CHUNK);
		shutdown(fd, SHUT_WR);
		read_exact(fd, &got, sizeof(got));
	} else {
		ssize_t k;

		while ((k = read(fd, buf, sizeof(buf))) > 0)
			got += (uint64_t)k;
	}
	t = now_s() - t0;
	relay_cpu += spawn_cpu_s(sp.pid);
	close(fd);
	rpc_close(&r);
	peer_stop(pid);
	return (double)got / t;
}

static void
rtt_channel(double *rtts, int n)
{
	int port, fd;
	pid_t pid = peer_start(ECHO, 1, &port);
	struct rpc r;
	char b[64] = { 0 };

	rpc_open(&r);
	fd = rpc_channel(&r, rpc_connect(&r, port));
	rtt_cpu = -spawn_cpu_s(sp.pid);
	for (int i = 0; i < n; i++) {
		double t0 = now_s();

		write_all(fd, b, 64);
		read_exact(fd, b, 64);
		rtts[i] = now_s() - t0;
	}
	rtt_cpu = (rtt_cpu + spawn_cpu_s(sp.pid)) / n;
	close(fd);
	rpc_close(&r);
	peer_stop(pid);
}

/* 64-byte round trips: fills rtts (seconds) for n rounds. */
static void
rtt_direct(double *rtts, int n)
{
	int port;
	pid_t pid = peer_start(ECHO, 1, &port);
	int fd = connect_tcp(port);
	char b[64] = { 0 };

	for (int i = 0; i < n; i++) {
		double t0 = now_s();

		write_all(fd, b, 64);
		read_exact(fd, b, 64);
		rtts[i] = now_s() - t0;
	}
	close(fd);
	peer_stop(pid);
}

static void
rtt_json(double *rtts, int n)
{
	int port;
	pid_t pid = peer_start(ECHO, 1, &port);
	struct rpc r;
	long long s;
	char req[256], params[64], b64[128];
	unsigned char zeros[64] = { 0 };
	int len;

	rpc_open(&r);
	s = rpc_connect(&r, port);
	snprintf(params, sizeof(params), "{\"socket\":%lld}", s);
	cJSON_Delete(rpc_call(&r, "tcp.pump", params));
	proto_base64_encode(b64, zeros, sizeof(zeros));
	b64[proto_base64_encoded_len(sizeof(zeros))] = '\0';
	/*
	 * The write as a notification (no id): no answer wakes the client in
	 * the middle of the round trip, as nothing does for socat; the reply
	 * comes as tcp.data (pump).
	 */
	len = snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"method\":\"tcp.write\","
		       "\"params\":{\"socket\":%lld,\"data\":\"%s\"}}\n", s, b64);
	rtt_cpu = -spawn_cpu_s(sp.pid);
	for (int i = 0; i < n; i++) {
		double t0 = now_s();
		size_t got = 0, l;

		write_all(r.fd, req, (size_t)len);
		while (got < 64) {
			char *line = rpc_line(&r, &l), *b;

			if ((b = strstr(line, "\"method\":\"tcp.data\"")) && (b = strstr(line, "\"bytes\":")))
				got += (size_t)atoi(b + 8);
		}
		rtts[i] = now_s() - t0;
	}
	rtt_cpu = (rtt_cpu + spawn_cpu_s(sp.pid)) / n;
	rpc_close(&r);
	peer_stop(pid);
}

static void
rtt_socat(double *rtts, int n)
{
	char b[64] = { 0 };
	int port, fd;
	pid_t peer = peer_start(ECHO, 1, &port), relay;

	fd = socat_start(port, ",nodelay", &relay);
	for (int i = 0; i < n; i++) {
		double t0 = now_s();

		write_all(fd, b, 64);
		read_exact(fd, b, 64);
		rtts[i] = now_s() - t0;
	}
	close(fd);
	/* socat's whole life, its start included: a slight overcount. */
	rtt_cpu = reap_cpu_s(relay);
	if (rtt_cpu >= 0)
		rtt_cpu /= n;
	peer_stop(peer);
}

/*
 * Connections per second: connect, then close without waiting (close()
 * does not wait; through the daemon, tcp.close goes as a notification).
 */
static double
setup_rate(bool through)
{
	int port;
	pid_t pid = peer_start(HOLD, 0, &port);
	struct rpc r;
	double t0, t;

	if (through)
		rpc_open(&r);
	t0 = now_s();
	for (int i = 0; i < setup_n; i++) {
		if (through) {
			long long s = rpc_connect(&r, port);

			/* Closed as a notification: no answer to wait for, as close() does not wait. */
			rpc_send(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"tcp.close\","
				 "\"params\":{\"socket\":%lld}}\n", s);
		} else {
			close(connect_tcp(port));
		}
	}
	t = now_s() - t0;
	if (through)
		rpc_close(&r);
	peer_stop(pid);
	return setup_n / t;
}

#define SETUP_DEPTH	32	/* connections in flight in the pipelined setup */

/* A non-blocking connect to the loopback port. */
static int
connect_start(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				   .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;

	if (fd < 0)
		die("socket");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS)
		die("connect");
	return fd;
}

/*
 * Connections per second with SETUP_DEPTH in flight: each one closed as
 * soon as it is connected and replaced by a new one.  Direct: as many
 * non-blocking connects, polled; through the daemon: as many tcp.connect
 * requests pipelined, each answer followed by a tcp.close notification.
 */
static double
setup_rate_pipelined(bool through)
{
	int port, started = 0, done = 0;
	pid_t pid = peer_start(HOLD, 0, &port);
	struct pollfd pf[SETUP_DEPTH];
	struct rpc r;
	double t0, t;

	if (through)
		rpc_open(&r);
	t0 = now_s();
	for (; started < SETUP_DEPTH && started < setup_n; started++) {
		if (through)
			rpc_send(&r, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.connect\","
				 "\"params\":{\"port\":%d,\"noDelay\":true}}\n", started + 1, port);
		else
			pf[started] = (struct pollfd){ .fd = connect_start(port), .events = POLLOUT };
	}
	while (done < setup_n) {
		if (through) {
			size_t len;
			char *line = rpc_line(&r, &len), *p = strstr(line, "\"result\":{\"socket\":");

			if (!p)
				die("tcp.connect failed");
			rpc_send(&r, "{\"jsonrpc\":\"2.0\",\"method\":\"tcp.close\","
				 "\"params\":{\"socket\":%lld}}\n", strtoll(p + 20, NULL, 10));
			done++;
			if (started < setup_n) {
				started++;
				rpc_send(&r, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":"
					 "\"tcp.connect\",\"params\":{\"port\":%d,\"noDelay\":true}}\n",
					 started, port);
			}
			continue;
		}
		if (poll(pf, SETUP_DEPTH, 10000) <= 0)
			die("connects did not complete");
		for (int i = 0; i < SETUP_DEPTH; i++) {
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			close(pf[i].fd);
			pf[i].fd = -1;
			done++;
			if (started < setup_n) {
				started++;
				pf[i].fd = connect_start(port);
			}
		}
	}
	t = now_s() - t0;
	if (through)
		rpc_close(&r);
	peer_stop(pid);
	return setup_n / t;
}

/* Pipelined tcp.info on one socket: requests per second. */
static double
info_rate(void)
{
	struct rpc r;
	char *lines;
	size_t len = 0, sent = 0;
	int got = 0;
	long long s;
	double t0, t;
	cJSON *a;

	rpc_open(&r);
	a = rpc_call(&r, "tcp.create", NULL);
	s = (long long)cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(a, "result"), "socket")->valuedouble;
	cJSON_Delete(a);
	lines = malloc((size_t)info_n * 80);
	for (int i = 0; i < info_n; i++)
		len += (size_t)sprintf(lines + len, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.info\","
				       "\"params\":{\"socket\":%lld}}\n", i + 10, s);
	fcntl(r.fd, F_SETFL, O_NONBLOCK);
	t0 = now_s();
	while (got < info_n) {
		struct pollfd p = { .fd = r.fd, .events = POLLIN | (sent < len ? POLLOUT : 0) };

		poll(&p, 1, 1000);
		if (p.revents & POLLOUT) {
			ssize_t k = write(r.fd, lines + sent, len - sent);

			if (k > 0)
				sent += (size_t)k;
		}
		if (p.revents & POLLIN) {
			ssize_t k = read(r.fd, r.in, r.cap);

			for (ssize_t i = 0; i < k; i++)
				got += r.in[i] == '\n';
		}
	}
	t = now_s() - t0;
	free(lines);
	rpc_close(&r);
	return info_n / t;
}

/* ---- the run: every path once per repetition, in turn ------------------------- */

enum {
	B_DIRECT, B_PUMP, B_WRITE, B_CH_DOWN, B_CH_UP, B_SOCAT_UP, B_SOCAT_DOWN, _B_MAX
};
enum { R_DIRECT, R_JSON, R_CHANNEL, R_JSON_BP, R_CHANNEL_BP, R_SOCAT, _R_MAX };

static double bulk_ch_down(void) { return bulk_channel(false); }
static double bulk_ch_up(void) { return bulk_channel(true); }
static double bulk_socat_up(void) { return bulk_socat(true); }
static double bulk_socat_down(void) { return bulk_socat(false); }
static double setup_direct(void) { return setup_rate(false); }
static double setup_daemon(void) { return setup_rate(true); }

/*
 * The same paths through a second daemon, started with busy-poll-us
 * (--busy-poll-us N, default 50; 0: not measured).
 */
static struct spawned sp_plain, sp_bp;
static int busy_poll_us = 50;

static void rtt_json_bp(double *v, int n) { sp = sp_bp; rtt_json(v, n); sp = sp_plain; }
static void rtt_channel_bp(double *v, int n) { sp = sp_bp; rtt_channel(v, n); sp = sp_plain; }

static double
setup_daemon_bp(void)
{
	double v;

	sp = sp_bp;
	v = setup_rate(true);
	sp = sp_plain;
	return v;
}

static double (*const bulk_fn[_B_MAX])(void) = {
	bulk_direct, bulk_pump, bulk_write, bulk_ch_down, bulk_ch_up, bulk_socat_up,
	bulk_socat_down,
};
static void (*const rtt_fn[_R_MAX])(double *, int) = {
	rtt_direct, rtt_json, rtt_channel, rtt_json_bp, rtt_channel_bp, rtt_socat,
};

/* Figures of one measurement over the repetitions. */
struct series {
	double	v[MAX_REPS];
	int	n;
};

static void
add(struct series *x, double v)
{
	x->v[x->n++] = v;
}

/* Median, min and max of x (a sorted copy). */
static void
stats(const struct series *x, double *med, double *lo, double *hi)
{
	double v[MAX_REPS];

	memcpy(v, x->v, sizeof(double) * (size_t)x->n);
	*med = x->n ? median(v, x->n) : 0;
	*lo = x->n ? v[0] : 0;
	*hi = x->n ? v[x->n - 1] : 0;
}

/* x / y, repetition by repetition (the same repetition's figures). */
static struct series
ratio(const struct series *x, const struct series *y)
{
	struct series r = { .n = 0 };

	for (int i = 0; i < x->n && i < y->n; i++)
		if (y->v[i] > 0)
			add(&r, x->v[i] / y->v[i]);
	return r;
}

static FILE *json_out;
static int json_rows;

/* One line of the table: median (min-max), and the ratios' medians (min-max). */
static void
report(const char *name, const struct series *x, double scale, const char *unit,
       const struct series *direct, const struct series *socat)
{
	double m, lo, hi, rm = 0, rlo = 0, rhi = 0, sm = 0, slo = 0, shi = 0;
	struct series rd = { .n = 0 }, rs = { .n = 0 };

	if (x->n == 0)
		return;
	stats(x, &m, &lo, &hi);
	printf("%-44s %10.3f (%.3f-%.3f) %-6s", name, m * scale, lo * scale, hi * scale, unit);
	if (direct && direct != x && direct->n) {
		rd = ratio(x, direct);
		stats(&rd, &rm, &rlo, &rhi);
		printf("  x direct %.2f (%.2f-%.2f)", rm, rlo, rhi);
	}
	if (socat && socat != x && socat->n) {
		rs = ratio(x, socat);
		stats(&rs, &sm, &slo, &shi);
		printf("  x socat %.2f (%.2f-%.2f)", sm, slo, shi);
	}
	printf("\n");
	if (json_out)
		fprintf(json_out, "%s{\"name\":\"%s\",\"unit\":\"%s\",\"median\":%.6g,\"min\":%.6g,"
			"\"max\":%.6g,\"vsDirect\":%.6g,\"vsSocat\":%.6g}", json_rows++ ? "," : "",
			name, unit, m * scale, lo * scale, hi * scale, rm, sm);
}

const char *daemon_bin;
static char daemon_conf[512];

/* Runs fn on a daemon of its own, started for it (memory figures start from scratch). */
static void
on_fresh_daemon(void (*fn)(void *), void *arg)
{
	struct spawned saved = sp;

	if (spawn_start(&sp, daemon_bin, daemon_conf, 0) < 0)
		die("start a fresh daemon");
	fn(arg);
	spawn_stop(&sp);
	if (sp_bp.pid)
		spawn_stop(&sp_bp);
	sp = saved;
}

static void
fresh_sockets(void *arg)
{
	double *v = arg;

	*v = load_rss_sockets((int)v[1]);
}

static void
fresh_channels(void *arg)
{
	long *v = arg;

	load_rss_channels(1000, &v[0], &v[1], &v[2]);
}

static void
run_memory(void)
{
	double s1k[2] = { 0, 1000 }, s10k[2] = { 0, 10000 };
	long ch[3];

	on_fresh_daemon(fresh_sockets, s1k);
	on_fresh_daemon(fresh_sockets, s10k);
	on_fresh_daemon(fresh_channels, ch);
	printf("\nmemory, each on a fresh daemon:\n");
	printf("  RSS per idle connected socket: %.0f B with 1,000, %.0f B with 10,000\n",
	       s1k[0], s10k[0]);
	printf("  1,000 idle channels: RSS %ld KiB before, %ld KiB with them (%.1f KiB each), "
	       "%ld KiB 5 s after closing (%.2f x before)\n", ch[0], ch[1],
	       (double)(ch[1] - ch[0]) / 1000., ch[2], (double)ch[2] / (double)ch[0]);
	if (json_out)
		fprintf(json_out, "%s{\"name\":\"rss per idle socket, 1000\",\"unit\":\"B\","
			"\"median\":%.0f},{\"name\":\"rss per idle socket, 10000\",\"unit\":\"B\","
			"\"median\":%.0f},{\"name\":\"rss per idle channel\",\"unit\":\"KiB\","
			"\"median\":%.2f},{\"name\":\"rss after channels / before\",\"unit\":\"x\","
			"\"median\":%.3f}", json_rows++ ? "," : "", s1k[0], s10k[0],
			(double)(ch[1] - ch[0]) / 1000., (double)ch[2] / (double)ch[0]);
}

/* --only upgrade: the pause of daemon.upgrade with 10, 1,000 and 10,000 sockets. */
static void
run_upgrade(int n_reps)
{
	static const int ns[] = { 10, 1000, 10000 };

	printf("\nlive upgrade: daemon.upgrade to its answer, %d upgrades each, every socket "
	       "with a read pending\n  %8s %10s %10s\n", n_reps, "sockets", "p50 ms", "p99 ms");
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		double p50, p99;

		upgrade_run(ns[i], n_reps, &p50, &p99);
		printf("  %8d %10.1f %10.1f\n", ns[i], p50, p99);
		fflush(stdout);
		if (json_out)
			fprintf(json_out, "%s{\"name\":\"upgrade %d\",\"pauseP50Ms\":%.2f,"
				"\"pauseP99Ms\":%.2f}", json_rows++ ? "," : "", ns[i], p50, p99);
	}
}

static void
run_load(double secs)
{
	static const int ns[] = { 1, 10, 100, 1000 };

	printf("\nload, %.0f s windows after %.0f s of warm-up:\n", secs, 1.0);
	printf("  %-8s %6s %10s %6s %8s %18s\n", "streams", "N", "MB/s", "Jain", "slowest",
	       "daemon.info p50/p99");
	static const char *const names[] = { "pump", "channel", "chan-up" };

	for (int k = LOAD_PUMP; k <= LOAD_CHANNEL_UP; k++)
		for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
			struct load_result r;

			load_run(ns[i], (enum load_kind)k, secs, &r);
			printf("  %-8s %6d %10.0f %6.3f %8.2f %8.2f / %.2f ms (%d)\n",
			       names[k], ns[i], r.mbps, r.jain, r.slowest,
			       r.info_p50, r.info_p99, r.probes);
			fflush(stdout);
			if (json_out)
				fprintf(json_out, "%s{\"name\":\"load %s %d\",\"mbps\":%.1f,"
					"\"jain\":%.4f,\"slowest\":%.3f,\"infoP50Ms\":%.3f,"
					"\"infoP99Ms\":%.3f}", json_rows++ ? "," : "",
					names[k], ns[i], r.mbps, r.jain, r.slowest,
					r.info_p50, r.info_p99);
		}
}

int
main(int argc, char **argv)
{
	const char *json = NULL, *srcdir = ".";
	bool quick = false;
	struct series bulk[_B_MAX] = { 0 }, cpu[_B_MAX] = { 0 }, p50[_R_MAX] = { 0 }, p99[_R_MAX] = { 0 };
	struct series rcpu[_R_MAX] = { 0 };
	struct series setup[3] = { 0 }, setup32[2] = { 0 }, info = { 0 };
	double *rtt, load_secs = 5;
	int upgrade_reps = 50;
	int nb = _B_MAX, nr = _R_MAX;

	daemon_bin = argc > 1 ? argv[1] : "daemon/tisockd";
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
			total_bytes = (size_t)atoi(argv[++i]) << 20;
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			json = argv[++i];
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--load-seconds") == 0 && i + 1 < argc)
			load_secs = atof(argv[++i]);
		else if (strcmp(argv[i], "--srcdir") == 0 && i + 1 < argc)
			srcdir = argv[++i];
		else if (strcmp(argv[i], "--busy-poll-us") == 0 && i + 1 < argc)
			busy_poll_us = atoi(argv[++i]);
		else if (strcmp(argv[i], "--upgrades") == 0 && i + 1 < argc)
			upgrade_reps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
			total_bytes = 16u << 20;
			reps = 1;
			rtt_n = 1000;
			setup_n = 200;
			info_n = 20000;
			load_secs = 1;
			upgrade_reps = 10;
		}
	}
	if (reps < 1 || reps > MAX_REPS)
		reps = 3;
	signal(SIGPIPE, SIG_IGN);
	{
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Room for 10,000 sockets and 1,000 clients of one uid; byte budgets as shipped. */
	snprintf(daemon_conf, sizeof(daemon_conf), "[daemon]\nresolver-lookups = f\n"
		 "log-level = warning\n[limits]\nclient-sockets = %d\nsockets = %d\n"
		 "uid-sockets = %d\nclients = 1100\nuid-clients = 1100\n"
		 "client-connects-per-second = 1000000\nuid-connects-per-second = 1000000\n",
		 10100, 10100, 10100);
	if (busy_poll_us > 0 && (want("rtt") || want("setup"))) {
		char conf[sizeof(daemon_conf) + 64];

		snprintf(conf, sizeof(conf), "%s", daemon_conf);
		/* The [daemon] section opens the text: the key goes right after it. */
		snprintf(conf + 9, sizeof(conf) - 9, "busy-poll-us = %d\n%s", busy_poll_us,
			 daemon_conf + 9);
		if (spawn_start(&sp_bp, daemon_bin, conf, 0) < 0)
			die("start the busy-polling daemon");
	}
	if (spawn_start(&sp, daemon_bin, daemon_conf, 0) < 0) {
		sp.pid = 0;
		die("start the daemon");
	}
	sp_plain = sp;
	for (const char *d = "/usr/bin:/bin:/usr/local/bin"; d && *d;) {
		const char *c = strchr(d, ':');
		size_t n = c ? (size_t)(c - d) : strlen(d);

		snprintf(socat_path, sizeof(socat_path), "%.*s/socat", (int)n, d);
		if (access(socat_path, X_OK) == 0) {
			have_socat = true;
			break;
		}
		d = c ? c + 1 : NULL;
	}
	if (!have_socat) {
		nb = B_SOCAT_UP;
		nr = R_SOCAT;
	}
	if (json) {
		json_out = fopen(json, "w");
		if (!json_out)
			die(json);
		fprintf(json_out, "{\"bulkMiB\":%zu,\"reps\":%d,\"results\":[", total_bytes >> 20,
			reps);
	}
	printf("bench: %zu MiB per bulk run, %d repetitions, every path once per repetition "
	       "in turn; medians (min-max), ratios taken within each repetition; socat %s\n",
	       total_bytes >> 20, reps, have_socat ? "found" : "not installed");

	rtt = calloc((size_t)rtt_n, sizeof(*rtt));
	for (int r = 0; r < reps; r++) {
		/* Round robin, starting one further each repetition. */
		if (want("bulk"))
			for (int k = 0; k < nb; k++) {
				int i = (k + r) % nb;

				double bps;

				relay_cpu = -1;
				bps = bulk_fn[i]();
				add(&bulk[i], bps);
				if (relay_cpu >= 0)
					add(&cpu[i], relay_cpu / ((double)total_bytes / 1e9));
			}
		if (want("rtt"))
			for (int k = 0; k < nr; k++) {
				int i = (k + r) % nr;

				if (!sp_bp.pid && (i == R_JSON_BP || i == R_CHANNEL_BP))
					continue;
				rtt_cpu = -1;
				rtt_fn[i](rtt, rtt_n);
				if (rtt_cpu >= 0)
					add(&rcpu[i], rtt_cpu);
				qsort(rtt, (size_t)rtt_n, sizeof(*rtt), cmp_double);
				add(&p50[i], rtt[rtt_n / 2]);
				add(&p99[i], rtt[rtt_n * 99 / 100]);
			}
		if (want("setup")) {
			static double (*const fn[3])(void) = {
				setup_direct, setup_daemon, setup_daemon_bp,
			};

			for (int k = 0; k < 3; k++) {
				int i = (k + r) % 3;

				if (i < 2 || sp_bp.pid)
					add(&setup[i], fn[i]());
			}
			add(&setup32[r % 2], setup_rate_pipelined(r % 2));
			add(&setup32[(r + 1) % 2], setup_rate_pipelined((r + 1) % 2));
		}
		if (want("info"))
			add(&info, info_rate());
	}
	printf("\n");
	report("bulk direct TCP", &bulk[B_DIRECT], 1e-6, "MB/s", NULL, NULL);
	report("bulk JSON pump (TCP -> client)", &bulk[B_PUMP], 1e-6, "MB/s", &bulk[B_DIRECT],
	       &bulk[B_SOCAT_DOWN]);
	report("bulk JSON write (client -> TCP)", &bulk[B_WRITE], 1e-6, "MB/s", &bulk[B_DIRECT],
	       &bulk[B_SOCAT_UP]);
	report("bulk channel (TCP -> client)", &bulk[B_CH_DOWN], 1e-6, "MB/s", &bulk[B_DIRECT],
	       &bulk[B_SOCAT_DOWN]);
	report("bulk channel (client -> TCP)", &bulk[B_CH_UP], 1e-6, "MB/s", &bulk[B_DIRECT],
	       &bulk[B_SOCAT_UP]);
	report("bulk socat (Unix -> TCP)", &bulk[B_SOCAT_UP], 1e-6, "MB/s", &bulk[B_DIRECT], NULL);
	report("bulk socat (TCP -> Unix)", &bulk[B_SOCAT_DOWN], 1e-6, "MB/s", &bulk[B_DIRECT], NULL);
	report("relay CPU s/GB, JSON pump", &cpu[B_PUMP], 1, "s/GB", NULL, &cpu[B_SOCAT_DOWN]);
	report("relay CPU s/GB, JSON write", &cpu[B_WRITE], 1, "s/GB", NULL, &cpu[B_SOCAT_UP]);
	report("relay CPU s/GB, channel down", &cpu[B_CH_DOWN], 1, "s/GB", NULL,
	       &cpu[B_SOCAT_DOWN]);
	report("relay CPU s/GB, channel up", &cpu[B_CH_UP], 1, "s/GB", NULL, &cpu[B_SOCAT_UP]);
	report("relay CPU s/GB, socat down", &cpu[B_SOCAT_DOWN], 1, "s/GB", NULL, NULL);
	report("relay CPU s/GB, socat up", &cpu[B_SOCAT_UP], 1, "s/GB", NULL, NULL);
	report("sender CPU s/GB, direct TCP", &cpu[B_DIRECT], 1, "s/GB", NULL, &cpu[B_SOCAT_UP]);
	report("64 B round trip p50, direct", &p50[R_DIRECT], 1e6, "us", NULL, NULL);
	report("64 B round trip p50, JSON", &p50[R_JSON], 1e6, "us", &p50[R_DIRECT], &p50[R_SOCAT]);
	report("64 B round trip p50, channel", &p50[R_CHANNEL], 1e6, "us", &p50[R_DIRECT],
	       &p50[R_SOCAT]);
	report("64 B round trip p50, JSON, busy-poll", &p50[R_JSON_BP], 1e6, "us", &p50[R_DIRECT],
	       &p50[R_SOCAT]);
	report("64 B round trip p50, channel, busy-poll", &p50[R_CHANNEL_BP], 1e6, "us",
	       &p50[R_DIRECT], &p50[R_SOCAT]);
	report("64 B round trip p50, socat", &p50[R_SOCAT], 1e6, "us", &p50[R_DIRECT], NULL);
	report("64 B round trip p99, direct", &p99[R_DIRECT], 1e6, "us", NULL, NULL);
	report("64 B round trip p99, JSON", &p99[R_JSON], 1e6, "us", &p99[R_DIRECT], &p99[R_SOCAT]);
	report("64 B round trip p99, channel", &p99[R_CHANNEL], 1e6, "us", &p99[R_DIRECT],
	       &p99[R_SOCAT]);
	report("64 B round trip p99, JSON, busy-poll", &p99[R_JSON_BP], 1e6, "us", &p99[R_DIRECT],
	       &p99[R_SOCAT]);
	report("64 B round trip p99, channel, busy-poll", &p99[R_CHANNEL_BP], 1e6, "us",
	       &p99[R_DIRECT], &p99[R_SOCAT]);
	report("64 B round trip p99, socat", &p99[R_SOCAT], 1e6, "us", &p99[R_DIRECT], NULL);
	report("daemon CPU per round trip, JSON", &rcpu[R_JSON], 1e6, "us", NULL, NULL);
	report("daemon CPU per round trip, channel", &rcpu[R_CHANNEL], 1e6, "us", NULL, NULL);
	report("daemon CPU per round trip, JSON, busy-poll", &rcpu[R_JSON_BP], 1e6, "us", NULL, NULL);
	report("daemon CPU per round trip, channel, busy-poll", &rcpu[R_CHANNEL_BP], 1e6, "us", NULL,
	       NULL);
	report("socat CPU per round trip", &rcpu[R_SOCAT], 1e6, "us", NULL, NULL);
	report("connection setup, direct", &setup[0], 1, "conn/s", NULL, NULL);
	report("connection setup, daemon", &setup[1], 1, "conn/s", &setup[0], NULL);
	report("connection setup, daemon, busy-poll", &setup[2], 1, "conn/s", &setup[0], NULL);
	report("connection setup, 32 in flight, direct", &setup32[0], 1, "conn/s", NULL, NULL);
	report("connection setup, 32 in flight, daemon", &setup32[1], 1, "conn/s", &setup32[0],
	       NULL);
	report("pipelined tcp.info", &info, 1, "req/s", NULL, NULL);
	free(rtt);
	if (want("rss"))
		run_memory();
	if (only && strcmp(only, "load") == 0)
		run_load(load_secs);
	if (want("tls"))
		tls_run(srcdir, reps, quick, have_socat ? socat_path : NULL, json_out, &json_rows);
	if (want("fdstore"))
		fdstore_bench(daemon_bin, reps < 5 ? 5 : reps, setup_n);
	if (only && strcmp(only, "upgrade") == 0)
		run_upgrade(upgrade_reps);
	if (json_out) {
		fprintf(json_out, "]}\n");
		fclose(json_out);
	}
	spawn_stop(&sp);
	if (sp_bp.pid)
		spawn_stop(&sp_bp);
	return 0;
}
