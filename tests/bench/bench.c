/*
 * bench: tisockd against direct TCP and socat, measured in one run.
 *
 *	bench DAEMON [--mib N] [--reps N] [--json FILE] [--quick]
 *
 * Starts its own tisockd and, for each measurement, a peer process on
 * loopback (so the daemon, the peer and this client spread over the
 * cores), then reports medians over the repetitions:
 *  - bulk throughput, 64 KiB chunks: direct TCP; tisockd's JSON pump
 *    (TCP -> client, tcp.data); JSON writes (client -> TCP, tcp.write);
 *    the data channel both ways (tcp.channel); socat -b 65536 relaying
 *    Unix <-> TCP, both ways, when installed;
 *  - 64-byte round trips (p50, p99): direct, the JSON path (tcp.write
 *    then tcp.data), the channel, socat;
 *  - connection setup: connect + close, direct and through the daemon;
 *  - pipelined tcp.info requests per second;
 *  - the daemon's RSS per connected socket, with 10,000 of them.
 * The table shows absolute figures and ratios to direct TCP and to socat
 * in the same direction; --json writes the same as JSON.
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
static int reps = 3, rtt_n = 20000, setup_n = 2000, info_n = 200000, many = 10000;
static bool have_socat;
static const char *only;		/* --only bulk|rtt|setup|info|rss: one group */

static bool
want(const char *group)
{
	return !only || strcmp(only, group) == 0;
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

/* Direct TCP, client -> server: bytes per second. */
static double
bulk_direct(void)
{
	static char buf[CHUNK];
	int port;
	pid_t pid = peer_start(SINK, 1, &port);
	int fd = connect_tcp(port);
	uint64_t got;
	double t0 = now_s(), t;

	for (size_t sent = 0; sent < total_bytes; sent += CHUNK)
		write_all(fd, buf, CHUNK);
	shutdown(fd, SHUT_WR);
	read_exact(fd, &got, sizeof(got));
	t = now_s() - t0;
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
	int fd = -1;

	snprintf(path, sizeof(path), "%s/socat.sock", sp.dir);
	unlink(path);
	snprintf(arg1, sizeof(arg1), "UNIX-LISTEN:%s", path);
	snprintf(arg2, sizeof(arg2), "TCP:127.0.0.1:%d%s", port, opts);
	*relay = fork();
	if (*relay == 0) {
		execl(socat_path, "socat", "-b", "65536", arg1, arg2, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && fd < 0; i++) {
		fd = connect_unix(path);
		if (fd < 0)
			usleep(10000);	/* socat has no readiness signal: bounded retries */
	}
	if (fd < 0)
		die("socat did not listen");
	return fd;
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
	waitpid(relay, NULL, 0);
	peer_stop(peer);
	return (double)got / t;
}

/* The JSON pump: a TCP source pushes, tcp.data carries it; bytes per second. */
static double
bulk_pump(void)
{
	static unsigned char raw[1 << 20];
	int port;
	pid_t pid = peer_start(SOURCE, 1, &port);
	struct rpc r;
	long long s;
	uint64_t got = 0;
	double t0, t;

	rpc_open(&r);
	s = rpc_connect(&r, port);
	t0 = now_s();
	rpc_send(&r, "{\"jsonrpc\":\"2.0\",\"id\":999999,\"method\":\"tcp.pump\","
		 "\"params\":{\"socket\":%lld,\"chunkSize\":%d}}\n", s, CHUNK);
	for (;;) {
		size_t len;
		char *line = rpc_line(&r, &len), *d, *e;

		if (strncmp(line, "{\"jsonrpc\":\"2.0\",\"method\":\"tcp.data\"", 36) != 0)
			continue;
		d = strstr(line, "\"data\":\"");
		if (!d)
			break;	/* bytes -1: the end */
		d += 8;
		e = strchr(d, '"');
		got += (uint64_t)proto_base64_decode(raw, d, (size_t)(e - d));
	}
	t = now_s() - t0;
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
	for (int i = 0; i < n; i++) {
		double t0 = now_s();

		write_all(fd, b, 64);
		read_exact(fd, b, 64);
		rtts[i] = now_s() - t0;
	}
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
	waitpid(relay, NULL, 0);
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

static long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = atol(line + 6);
	fclose(f);
	return v;
}

/* The daemon's RSS growth per connected socket, with `many` of them (bytes). */
static double
rss_per_socket(long *base, long *full)
{
	int port, batch = 500;
	pid_t pid = peer_start(HOLD, 0, &port);
	struct rpc r;
	char *lines = malloc((size_t)batch * 96);

	rpc_open(&r);
	cJSON_Delete(rpc_call(&r, "daemon.info", NULL));
	*base = rss_kb(sp.pid);
	for (int done = 0; done < many; done += batch) {
		size_t len = 0;

		for (int i = 0; i < batch; i++)
			len += (size_t)sprintf(lines + len, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":"
					       "\"tcp.connect\",\"params\":{\"port\":%d}}\n",
					       1000000 + done + i, port);
		write_all(r.fd, lines, len);
		for (int i = 0; i < batch; i++) {
			size_t l;
			char *line = rpc_line(&r, &l);

			if (!strstr(line, "\"connected\"")) {
				fprintf(stderr, "bench: connect %d: %s\n", done + i, line);
				exit(1);
			}
		}
	}
	*full = rss_kb(sp.pid);
	rpc_close(&r);
	peer_stop(pid);
	free(lines);
	return (double)(*full - *base) * 1024. / many;
}

/* ---- report --------------------------------------------------------------------- */

struct row {
	const char	*name;
	double		 value;
	const char	*unit;
	double		 vs_direct, vs_socat;	/* 0: not applicable */
};

static struct row rows[32];
static int nrows;

static void
row(const char *name, double value, const char *unit, double direct, double socat)
{
	rows[nrows++] = (struct row){ name, value, unit, direct > 0 ? value / direct : 0,
				      socat > 0 ? value / socat : 0 };
}

int
main(int argc, char **argv)
{
	const char *bin = argc > 1 ? argv[1] : "daemon/tisockd", *json = NULL;
	double v[MAX_REPS], direct, pump, wr, socat_up = 0, socat_down = 0, ch_up, ch_down;
	double *rtt = NULL, p50[4] = { 0 }, p99[4] = { 0 }, setup_direct, setup_daemon, info;
	long base, full;
	char conf[256];
	double per_socket;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
			total_bytes = (size_t)atoi(argv[++i]) << 20;
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			json = argv[++i];
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--quick") == 0) {
			total_bytes = 16u << 20;
			reps = 1;
			rtt_n = 1000;
			setup_n = 200;
			info_n = 20000;
			many = 1000;
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
	snprintf(conf, sizeof(conf), "[daemon]\nresolver-lookups = f\nlog-level = warning\n"
		 "[limits]\nclient-sockets = %d\nsockets = %d\nuid-sockets = %d\n"
		 "client-connects-per-second = 1000000\nuid-connects-per-second = 1000000\n",
		 many + 100, many + 100, many + 100);
	if (spawn_start(&sp, bin, conf, 0) < 0) {
		sp.pid = 0;
		die("start the daemon");
	}
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
	printf("bench: %zu MiB per bulk run, %d repetitions (medians), socat %s\n",
	       total_bytes >> 20, reps, have_socat ? "found" : "not installed");

	direct = pump = wr = ch_up = ch_down = 0;
	setup_direct = setup_daemon = info = per_socket = 0;
	base = full = 0;
	if (want("bulk")) {
	for (int i = 0; i < reps; i++)
		v[i] = bulk_direct();
	direct = median(v, reps);
	for (int i = 0; i < reps; i++)
		v[i] = bulk_pump();
	pump = median(v, reps);
	for (int i = 0; i < reps; i++)
		v[i] = bulk_write();
	wr = median(v, reps);
	for (int i = 0; i < reps; i++)
		v[i] = bulk_channel(true);
	ch_up = median(v, reps);
	for (int i = 0; i < reps; i++)
		v[i] = bulk_channel(false);
	ch_down = median(v, reps);
	if (have_socat) {
		for (int i = 0; i < reps; i++)
			v[i] = bulk_socat(true);
		socat_up = median(v, reps);
		for (int i = 0; i < reps; i++)
			v[i] = bulk_socat(false);
		socat_down = median(v, reps);
	}
	}
	rtt = calloc((size_t)rtt_n, sizeof(*rtt));
	if (want("rtt")) {
	rtt_direct(rtt, rtt_n);
	qsort(rtt, (size_t)rtt_n, sizeof(*rtt), cmp_double);
	p50[0] = rtt[rtt_n / 2];
	p99[0] = rtt[rtt_n * 99 / 100];
	rtt_json(rtt, rtt_n);
	qsort(rtt, (size_t)rtt_n, sizeof(*rtt), cmp_double);
	p50[1] = rtt[rtt_n / 2];
	p99[1] = rtt[rtt_n * 99 / 100];
	rtt_channel(rtt, rtt_n);
	qsort(rtt, (size_t)rtt_n, sizeof(*rtt), cmp_double);
	p50[2] = rtt[rtt_n / 2];
	p99[2] = rtt[rtt_n * 99 / 100];
	if (have_socat) {
		rtt_socat(rtt, rtt_n);
		qsort(rtt, (size_t)rtt_n, sizeof(*rtt), cmp_double);
		p50[3] = rtt[rtt_n / 2];
		p99[3] = rtt[rtt_n * 99 / 100];
	}
	}
	if (want("setup")) {
		for (int i = 0; i < reps; i++)
			v[i] = setup_rate(false);
		setup_direct = median(v, reps);
		for (int i = 0; i < reps; i++)
			v[i] = setup_rate(true);
		setup_daemon = median(v, reps);
	}
	if (want("info")) {
		for (int i = 0; i < reps; i++)
			v[i] = info_rate();
		info = median(v, reps);
	}
	if (want("rss"))
		per_socket = rss_per_socket(&base, &full);

	row("bulk direct TCP", direct / 1e9, "GB/s", direct / 1e9, 0);
	row("bulk JSON pump (TCP -> client)", pump / 1e9, "GB/s", direct / 1e9, socat_down / 1e9);
	row("bulk JSON write (client -> TCP)", wr / 1e9, "GB/s", direct / 1e9, socat_up / 1e9);
	row("bulk channel (TCP -> client)", ch_down / 1e9, "GB/s", direct / 1e9, socat_down / 1e9);
	row("bulk channel (client -> TCP)", ch_up / 1e9, "GB/s", direct / 1e9, socat_up / 1e9);
	if (have_socat) {
		row("bulk socat (Unix -> TCP)", socat_up / 1e9, "GB/s", direct / 1e9, 0);
		row("bulk socat (TCP -> Unix)", socat_down / 1e9, "GB/s", direct / 1e9, 0);
	}
	row("64 B round trip p50, direct", p50[0] * 1e6, "us", p50[0] * 1e6, 0);
	row("64 B round trip p50, JSON", p50[1] * 1e6, "us", p50[0] * 1e6, p50[3] * 1e6);
	row("64 B round trip p50, channel", p50[2] * 1e6, "us", p50[0] * 1e6, p50[3] * 1e6);
	if (have_socat)
		row("64 B round trip p50, socat", p50[3] * 1e6, "us", p50[0] * 1e6, 0);
	row("64 B round trip p99, direct", p99[0] * 1e6, "us", p99[0] * 1e6, 0);
	row("64 B round trip p99, JSON", p99[1] * 1e6, "us", p99[0] * 1e6, p99[3] * 1e6);
	row("64 B round trip p99, channel", p99[2] * 1e6, "us", p99[0] * 1e6, p99[3] * 1e6);
	if (have_socat)
		row("64 B round trip p99, socat", p99[3] * 1e6, "us", p99[0] * 1e6, 0);
	row("connection setup, direct", setup_direct, "conn/s", setup_direct, 0);
	row("connection setup, daemon", setup_daemon, "conn/s", setup_direct, 0);
	row("pipelined tcp.info", info, "req/s", 0, 0);
	row("daemon RSS per connected socket", per_socket, "bytes", 0, 0);

	printf("\n%-34s %12s %-7s %9s %9s\n", "measurement", "value", "unit", "x direct", "x socat");
	for (int i = 0; i < nrows; i++) {
		printf("%-34s %12.3f %-7s", rows[i].name, rows[i].value, rows[i].unit);
		if (rows[i].vs_direct > 0)
			printf(" %9.3f", rows[i].vs_direct);
		else
			printf(" %9s", "");
		if (rows[i].vs_socat > 0)
			printf(" %9.3f", rows[i].vs_socat);
		printf("\n");
	}
	printf("\n(RSS with %d sockets: %ld KiB, from %ld KiB)\n", many, full, base);
	if (json) {
		FILE *f = fopen(json, "w");

		if (!f)
			die(json);
		fprintf(f, "{\"bulkMiB\":%zu,\"reps\":%d,\"results\":[", total_bytes >> 20, reps);
		for (int i = 0; i < nrows; i++)
			fprintf(f, "%s{\"name\":\"%s\",\"value\":%.6g,\"unit\":\"%s\",\"vsDirect\":%.6g,"
				"\"vsSocat\":%.6g}", i ? "," : "", rows[i].name, rows[i].value,
				rows[i].unit, rows[i].vs_direct, rows[i].vs_socat);
		fprintf(f, "]}\n");
		fclose(f);
	}
	free(rtt);
	spawn_stop(&sp);
	return 0;
}
