/*
 * bench-tls: TLS through the daemon against socat OPENSSL: doing the
 * same work (bench --only tls).
 *
 * A TLS server of this program's own (OpenSSL, in a child process, with
 * a PKI made by tests/tls/tls-certs, run from the build tree) is the peer of every path; the
 * client side verifies it against the test CA, checking the name
 * localhost, in every path:
 *  - bulk, TLS server -> client: the daemon's data channel, the daemon's
 *    JSON pump (tcp.data), and socat -b 65536 UNIX-LISTEN OPENSSL:
 *    relaying to a Unix socket read by this program;
 *  - full handshakes per second, one connection after another: the
 *    daemon (tcp.connect with tls, sessionReuse false, a tcp.read of the
 *    server's one byte, then tcp.close),
 *    socat UNIX-LISTEN,fork OPENSSL: (a connection to its Unix socket,
 *    one byte read through it: the handshake is done), and, for
 *    information, the daemon resuming sessions (its default).
 * Each repetition runs every path once, in turn, starting one further
 * each time; the table shows medians with min-max, and ratios to socat
 * taken within each repetition, against the targets: channel >= 1.0,
 * JSON pump >= 0.8, handshakes >= 0.9.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench.h"
#include "proto-base64.h"

#define TLS_REPS_MAX	15

enum { T_CHANNEL, T_PUMP, T_SOCAT, T_HS, T_HS_SOCAT, T_HS_RESUME, _T_MAX };

static char pki[96], ca_json[8192];
static const char *socat_bin;
static int hs_n = 300;
static int resumed;		/* connects whose session was resumed */

/* The server's context: the test certificate and key. */
static SSL_CTX *
server_ctx(void)
{
	char cert[160], key[160];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	snprintf(cert, sizeof(cert), "%s/server.pem", pki);
	snprintf(key, sizeof(key), "%s/server.key", pki);
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die("the TLS server's certificate");
	return ctx;
}

/*
 * A TLS server in a child process for conns connections, one after
 * another: bulk sends total_bytes then close_notify and waits for the
 * client's end; otherwise one byte, then close_notify.
 */
static pid_t
tls_peer_start(bool bulk, int conns, int *port)
{
	int lfd;
	pid_t pid = fork_listener(port, &lfd);

	if (pid > 0)
		return pid;
	SSL_CTX *ctx = server_ctx();
	static char buf[CHUNK];

	memset(buf, 'x', sizeof(buf));
	for (int c = 0; c < conns; c++) {
		int fd = accept(lfd, NULL, NULL), one = 1;
		SSL *ssl;

		if (fd < 0)
			_exit(1);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1) {
			if (bulk) {
				for (size_t sent = 0; sent < total_bytes; sent += CHUNK)
					if (SSL_write(ssl, buf, CHUNK) <= 0)
						break;
				SSL_shutdown(ssl);
				while (SSL_read(ssl, buf, sizeof(buf)) > 0)
					;
			} else {
				SSL_write(ssl, "h", 1);
				SSL_shutdown(ssl);
			}
		}
		SSL_free(ssl);
		close(fd);
	}
	_exit(0);
}

/* tcp.connect with tls (verified against the test CA, name localhost). */
static long long
connect_tls(struct rpc *r, int port, bool reuse)
{
	char params[sizeof(ca_json) + 256];
	long long s;
	cJSON *a, *res;

	snprintf(params, sizeof(params), "{\"host\":\"127.0.0.1\",\"port\":%d,\"noDelay\":true,"
		 "\"tls\":{\"serverName\":\"localhost\",\"caPem\":%s,\"sessionReuse\":%s}}",
		 port, ca_json, reuse ? "true" : "false");
	a = rpc_call(r, "tcp.connect", params);
	res = cJSON_GetObjectItemCaseSensitive(a, "result");
	if (!res || !cJSON_GetObjectItemCaseSensitive(res, "tls")) {
		char *t = cJSON_PrintUnformatted(a);

		fprintf(stderr, "bench: tcp.connect with tls: %s\n", t);
		exit(1);
	}
	s = (long long)cJSON_GetObjectItemCaseSensitive(res, "socket")->valuedouble;
	resumed += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(res, "tls"), "resumed"));
	cJSON_Delete(a);
	return s;
}

/* TLS server -> client over the daemon's data channel: bytes per second. */
static double
tls_channel(void)
{
	static char buf[1 << 20];
	int port, fd;
	pid_t pid = tls_peer_start(true, 1, &port);
	struct rpc r;
	uint64_t got = 0;
	double t0, t;
	ssize_t k;

	rpc_open(&r);
	t0 = now_s();
	fd = rpc_channel(&r, connect_tls(&r, port, false));
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		got += (uint64_t)k;
	t = now_s() - t0;
	close(fd);
	rpc_close(&r);
	peer_stop(pid);
	return (double)got / t;
}

/* TLS server -> client through the JSON pump: bytes per second. */
static double
tls_pump(void)
{
	int port;
	pid_t pid = tls_peer_start(true, 1, &port);
	struct rpc r;
	uint64_t got = 0;
	double t0, t;
	long long s;

	rpc_open(&r);
	t0 = now_s();
	s = connect_tls(&r, port, false);
	got = rpc_pump_all(&r, s);
	t = now_s() - t0;
	rpc_close(&r);
	peer_stop(pid);
	return (double)got / t;
}

/* socat UNIX-LISTEN:path[,fork] OPENSSL:127.0.0.1:port,...; returns its pid. */
static pid_t
socat_tls_start(int port, bool fork_each, char *path, size_t path_len)
{
	char arg1[200], arg2[400];
	pid_t pid;

	snprintf(path, path_len, "%s/socat-tls.sock", sp.dir);
	unlink(path);
	snprintf(arg1, sizeof(arg1), "UNIX-LISTEN:%s%s", path, fork_each ? ",fork" : "");
	snprintf(arg2, sizeof(arg2), "OPENSSL:127.0.0.1:%d,cafile=%s/ca.pem,commonname=localhost,"
		 "snihost=localhost,nodelay", port, pki);
	pid = fork();
	if (pid == 0) {
		/* Its complaints about clients that leave first are not results. */
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDERR_FILENO);
		execl(socat_bin, "socat", "-b", "65536", arg1, arg2, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* TLS server -> client relayed by socat to a Unix socket: bytes per second. */
static double
tls_socat(void)
{
	static char buf[1 << 20];
	char path[160];
	int port, fd;
	pid_t peer = tls_peer_start(true, 1, &port), relay;
	uint64_t got = 0;
	double t0, t;
	ssize_t k;

	relay = socat_tls_start(port, false, path, sizeof(path));
	t0 = now_s();
	fd = socat_connect(path);
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		got += (uint64_t)k;
	t = now_s() - t0;
	close(fd);
	waitpid(relay, NULL, 0);
	peer_stop(peer);
	return (double)got / t;
}

/*
 * One TLS connect through the daemon, the server's byte read (as socat's
 * client reads it: session tickets come first), then a close.
 */
static void
handshake_once(struct rpc *r, int port, bool reuse)
{
	long long s = connect_tls(r, port, reuse);
	char params[64];

	snprintf(params, sizeof(params), "{\"socket\":%lld,\"length\":1}", s);
	cJSON_Delete(rpc_call(r, "tcp.read", params));
	rpc_send(r, "{\"jsonrpc\":\"2.0\",\"method\":\"tcp.close\","
		 "\"params\":{\"socket\":%lld}}\n", s);
}

/* Handshakes per second through the daemon: connect with tls, then close. */
static double
tls_handshakes(bool reuse)
{
	int port;
	pid_t pid = tls_peer_start(false, hs_n + (reuse ? 1 : 0), &port);
	struct rpc r;
	double t0, t;

	rpc_open(&r);
	if (reuse)
		handshake_once(&r, port, true);	/* a full one leaves a session to resume */
	t0 = now_s();
	for (int i = 0; i < hs_n; i++)
		handshake_once(&r, port, reuse);
	t = now_s() - t0;
	rpc_close(&r);
	peer_stop(pid);
	return hs_n / t;
}

/* Handshakes per second through socat (one relay process forked per connection). */
static double
tls_handshakes_socat(void)
{
	char path[160], b;
	int port;
	pid_t peer = tls_peer_start(false, hs_n, &port), relay;
	double t0, t;

	relay = socat_tls_start(port, true, path, sizeof(path));
	close(socat_connect(path));	/* it listens; this one costs a handshake too */
	t0 = now_s();
	for (int i = 0; i < hs_n - 1; i++) {
		int fd = socat_connect(path);

		if (read(fd, &b, 1) != 1)
			die("socat handshake");
		close(fd);
	}
	t = now_s() - t0;
	kill(relay, SIGTERM);
	waitpid(relay, NULL, 0);
	peer_stop(peer);
	return (hs_n - 1) / t;
}

struct tseries {
	double	v[TLS_REPS_MAX];
	int	n;
};

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, min and max of x. */
static void
tstats(const struct tseries *x, double *med, double *lo, double *hi)
{
	double v[TLS_REPS_MAX];
	int n = x->n;

	memcpy(v, x->v, sizeof(double) * (size_t)n);
	qsort(v, (size_t)n, sizeof(double), cmp);
	*med = n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
	*lo = n ? v[0] : 0;
	*hi = n ? v[n - 1] : 0;
}

/* One line: median (min-max), and the ratio to socat within each repetition vs target. */
static void
treport(FILE *json, int *rows, const char *name, const struct tseries *x, double scale,
	const char *unit, const struct tseries *socat, double target)
{
	double m, lo, hi, rm = 0, rlo = 0, rhi = 0;

	if (x->n == 0)
		return;
	tstats(x, &m, &lo, &hi);
	printf("%-38s %10.1f (%.1f-%.1f) %-7s", name, m * scale, lo * scale, hi * scale, unit);
	if (socat && socat->n) {
		struct tseries r = { .n = 0 };

		for (int i = 0; i < x->n && i < socat->n; i++)
			if (socat->v[i] > 0)
				r.v[r.n++] = x->v[i] / socat->v[i];
		tstats(&r, &rm, &rlo, &rhi);
		printf("  x socat %.2f (%.2f-%.2f)", rm, rlo, rhi);
		if (target > 0)
			printf("  target >= %.1f: %s", target, rm >= target ? "met" : "NOT met");
	}
	printf("\n");
	if (json)
		fprintf(json, "%s{\"name\":\"%s\",\"unit\":\"%s\",\"median\":%.6g,\"min\":%.6g,"
			"\"max\":%.6g,\"vsSocat\":%.6g,\"target\":%.2g}", (*rows)++ ? "," : "",
			name, unit, m * scale, lo * scale, hi * scale, rm, target);
}

/* The test CA's PEM as a JSON string, for caPem. */
static void
load_ca(void)
{
	char path[160], pem[6000];
	FILE *f;
	size_t n;
	cJSON *s;
	char *text;

	snprintf(path, sizeof(path), "%s/ca.pem", pki);
	f = fopen(path, "r");
	if (!f)
		die(path);
	n = fread(pem, 1, sizeof(pem) - 1, f);
	fclose(f);
	pem[n] = '\0';
	s = cJSON_CreateString(pem);
	text = cJSON_PrintUnformatted(s);
	snprintf(ca_json, sizeof(ca_json), "%s", text);
	free(text);
	cJSON_Delete(s);
}

/*
 * The TLS group: reps repetitions of every path; socat is the path of
 * the socat binary (NULL: not installed, no comparison).
 */
void
tls_run(const char *srcdir, int reps, bool quick, const char *socat, FILE *json, int *rows)
{
	struct tseries x[_T_MAX];
	char cmd[512];
	const int n = _T_MAX;
	int resumed_asked = 0;

	memset(x, 0, sizeof(x));
	if (reps > TLS_REPS_MAX)
		reps = TLS_REPS_MAX;
	if (quick)
		hs_n = 50;
	socat_bin = socat;
	snprintf(pki, sizeof(pki), "%s/pki", sp.dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && tests/tls/tls-certs '%s'", pki, pki);
	if (system(cmd) != 0)
		die("tests/tls/tls-certs (bench runs from the build tree)");
	load_ca();
	printf("\nTLS (TLS 1.3, ECDSA P-256 server, verified against a test CA): %zu MiB per bulk "
	       "run, %d full handshakes per run\n", total_bytes >> 20, hs_n);
	for (int r = 0; r < reps; r++)
		for (int k = 0; k < n; k++) {
			int i = (k + r) % n;

			if (!socat && (i == T_SOCAT || i == T_HS_SOCAT))
				continue;
			switch (i) {
			case T_CHANNEL: x[i].v[x[i].n++] = tls_channel(); break;
			case T_PUMP: x[i].v[x[i].n++] = tls_pump(); break;
			case T_SOCAT: x[i].v[x[i].n++] = tls_socat(); break;
			case T_HS: x[i].v[x[i].n++] = tls_handshakes(false); break;
			case T_HS_SOCAT: x[i].v[x[i].n++] = tls_handshakes_socat(); break;
			case T_HS_RESUME:
			resumed = 0;
			x[i].v[x[i].n++] = tls_handshakes(true);
			resumed_asked += resumed;
			resumed = 0;
			break;
			}
		}
	treport(json, rows, "tls bulk channel (server -> client)", &x[T_CHANNEL], 1e-6, "MB/s",
		&x[T_SOCAT], 1.0);
	treport(json, rows, "tls bulk JSON pump (server -> client)", &x[T_PUMP], 1e-6, "MB/s",
		&x[T_SOCAT], 0.8);
	treport(json, rows, "tls bulk socat OPENSSL: -> Unix", &x[T_SOCAT], 1e-6, "MB/s", NULL, 0);
	treport(json, rows, "tls full handshakes, daemon", &x[T_HS], 1, "conn/s", &x[T_HS_SOCAT],
		0.9);
	treport(json, rows, "tls full handshakes, socat (fork)", &x[T_HS_SOCAT], 1, "conn/s",
		NULL, 0);
	treport(json, rows, "tls resumed handshakes, daemon", &x[T_HS_RESUME], 1, "conn/s",
		&x[T_HS_SOCAT], 0);
	printf("(sessions resumed: %d of the %d connects asking for it; none elsewhere)\n",
	       resumed_asked, reps * (hs_n + 1));
}
