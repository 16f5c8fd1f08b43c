/*
 * test-libtisock-tls: libtisock's TLS against a real tisockd and real TLS
 * peers on loopback (tests/tls/tls-peer.py, Python's ssl module), with a
 * PKI made at test time by tests/tls/tls-certs (top_builddir's):
 * a verified connect (version, cipher, ALPN, the peer's certificate),
 * each kind of failed handshake with its own reason (expired, unknown
 * CA, self-signed, wrong name, TLS 1.0 only), verification off refused
 * by the default policy, STARTTLS after a plaintext exchange (blocking
 * and with a callback), a peer that ends without close_notify reported
 * as truncated, and the daemon as a TLS server accepting a Python client,
 * with a client certificate (mutual TLS), with PEM that does not parse
 * and with file paths instead of PEM.
 *
 * Usage: test-libtisock-tls DAEMON SRCDIR.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <tisock/tisock.h>

#include "client-wait.h"
#include "spawn.h"

#define DEADLINE_MS	20000
#define PEER_MAX_ARGS	24

static const char *srcdir = ".";
static const char *builddir = ".";	/* $top_builddir: tests/tls/tls-certs */
static char pki[64];		/* the test PKI's directory */

/* A tls-peer.py process: its stdout is read line by line. */
struct peer {
	pid_t	pid;
	int	out;
	int	port;
};

/* The path of a PKI file, in a static buffer (one at a time per slot). */
static const char *
pem_path(int slot, const char *name)
{
	static char buf[4][160];

	snprintf(buf[slot], sizeof(buf[slot]), "%s/%s", pki, name);
	return buf[slot];
}

/* The text of a PKI file (to free). */
static char *
pem(const char *name)
{
	FILE *f = fopen(pem_path(3, name), "r");
	char *text = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(text);
	n = fread(text, 1, 65535, f);
	fclose(f);
	assert_true(n > 0);
	return text;
}

/* Starts tls-peer.py with args (NULL-terminated); a server tells its port. */
static void
peer_start(struct peer *p, bool server, ...)
{
	char script[256];
	const char *argv[PEER_MAX_ARGS] = { "python3", script, "--deadline", "30" };
	int n = 4, fds[2];
	va_list ap;

	snprintf(script, sizeof(script), "%s/tests/tls/tls-peer.py", srcdir);
	va_start(ap, server);
	while (n < PEER_MAX_ARGS - 1 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execvp("python3", (char **)argv);
		_exit(127);
	}
	close(fds[1]);
	p->out = fds[0];
	p->port = 0;
	if (server) {
		const char *l = spawn_line(p->out, DEADLINE_MS);

		assert_int_equal(sscanf(l, "port %d", &p->port), 1);
	}
}

/* Waits for the peer to end (bounded), killing it past the deadline. */
static void
peer_stop(struct peer *p)
{
	long long end = spawn_now_ms() + DEADLINE_MS;
	int status;

	while (waitpid(p->pid, &status, WNOHANG) == 0) {
		if (spawn_now_ms() > end) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			break;
		}
		poll(NULL, 0, 20);
	}
	close(p->out);
}

static tisock_client *
open_client(void)
{
	tisock_client *c = tisock_client_open(spawn_group.socket);

	assert_non_null(c);
	return c;
}

/* Reads until want's length has come (bounded by the client's timeout); asserts it. */
static void
read_expect(tisock_tcp *s, const char *want)
{
	tisock_buffer *b = tisock_buffer_create(256);
	size_t len = strlen(want), have = 0;

	while (have < len) {
		ssize_t k = tisock_tcp_read(s, b, have, (ssize_t)(len - have));

		assert_true(k > 0);
		have += (size_t)k;
	}
	assert_memory_equal(tisock_buffer_cdata(b), want, len);
	tisock_buffer_free(b);
}

static void
write_text(tisock_tcp *s, const char *text)
{
	tisock_buffer *b = tisock_buffer_from_string(text, TISOCK_ALL, TISOCK_CHARSET_UTF8);

	assert_int_equal(tisock_tcp_write(s, b, 0, TISOCK_ALL), (ssize_t)strlen(text));
	tisock_buffer_free(b);
}

/* A verified connect: version, cipher, ALPN and the peer's certificate. */
static void
verified_connect(void **state)
{
	const char *alpn[] = { "h2", "http/1.1", NULL };
	const struct tisock_tls_info *t;
	const struct tisock_tls_certificate *pc;
	tisock_client *c = open_client();
	char *ca = pem("ca.pem"), port[16];
	struct peer p;
	tisock_tcp *s;
	bool dns = false;

	(void)state;
	tisock_client_set_timeout(c, DEADLINE_MS);
	peer_start(&p, true, "--cert", pem_path(0, "server.pem"), "--key",
		   pem_path(1, "server.key"), "--mode", "info", "--alpn", "http/1.1", NULL);
	snprintf(port, sizeof(port), "%d", p.port);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = "localhost",
		.port = p.port });
	assert_null(tisock_tcp_tls(s));
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ .ca_pem = ca,
		.alpn = alpn }), 0);
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	t = tisock_tcp_tls(s);
	assert_non_null(t);
	assert_string_equal(t->version, "TLSv1.3");
	assert_non_null(t->cipher);
	assert_string_equal(t->alpn, "http/1.1");
	assert_int_equal(t->verified, 1);
	assert_int_equal(t->resumed, 0);
	pc = t->peer_certificate;
	assert_non_null(pc);
	assert_non_null(strstr(pc->subject, "CN=localhost"));
	assert_non_null(strstr(pc->issuer, "CN=tisock test CA"));
	for (size_t i = 0; i < pc->n_subject_alt_names; i++)
		dns |= strcmp(pc->subject_alt_names[i], "DNS:localhost") == 0;
	assert_true(dns);
	assert_null(pc->subject_alt_names[pc->n_subject_alt_names]);
	assert_int_equal(strlen(pc->sha256), 64);
	assert_int_equal(strlen(pc->not_after), 20);
	read_expect(s, "alpn=http/1.1 cn=-\n");
	write_text(s, "ping over TLS");
	read_expect(s, "ping over TLS");
	assert_int_equal(tisock_tcp_close(s), 0);
	tisock_tcp_free(s);
	peer_stop(&p);
	free(ca);
	tisock_client_close(c);
}

/* One failed handshake: connect gives -EPROTO, code -32012 and reason. */
static void
expect_failure(tisock_client *c, const char *cert, const char *key, const char *extra,
	       const char *server_name, const char *reason)
{
	const struct tisock_tls_error *e;
	char *ca = pem("ca.pem");
	struct peer p;
	tisock_tcp *s;
	int r;

	if (extra)
		peer_start(&p, true, "--cert", pem_path(0, cert), "--key", pem_path(1, key),
			   "--max-version", extra, NULL);
	else
		peer_start(&p, true, "--cert", pem_path(0, cert), "--key", pem_path(1, key), NULL);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = p.port });
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ .ca_pem = ca,
		.server_name = server_name ? server_name : "localhost" }), 0);
	r = tisock_tcp_connect_wait(s);
	print_message("%s: %d %s\n", reason, r, tisock_client_last_error(c)->data_json ?
		      tisock_client_last_error(c)->data_json : "");
	assert_int_equal(r, -EPROTO);
	assert_int_equal(tisock_client_last_error(c)->code, TISOCK_ERROR_TLS);
	assert_int_equal(tisock_tcp_state(s), TISOCK_ERROR);
	e = tisock_tcp_tls_error(s);
	assert_non_null(e);
	assert_string_equal(e->reason, reason);
	if (strcmp(reason, "protocolVersion") != 0) {
		assert_true(e->verify_error != 0);
		assert_non_null(e->verify_error_text);
	}
	assert_null(tisock_tcp_tls(s));
	tisock_tcp_free(s);
	peer_stop(&p);
	free(ca);
}

/* Expired, unknown CA, self-signed, wrong name, TLS 1.0 only: each its reason. */
static void
handshake_failures(void **state)
{
	tisock_client *c = open_client();

	(void)state;
	tisock_client_set_timeout(c, DEADLINE_MS);
	expect_failure(c, "expired.pem", "expired.key", NULL, NULL, "certificateExpired");
	expect_failure(c, "unknown.pem", "unknown.key", NULL, NULL, "unknownCa");
	expect_failure(c, "self.pem", "self.key", NULL, NULL, "selfSigned");
	expect_failure(c, "server.pem", "server.key", NULL, "nope.example", "hostnameMismatch");
	expect_failure(c, "server.pem", "server.key", "1.0", NULL, "protocolVersion");
	tisock_client_close(c);
}

/* verify false is refused by the default policy (tls-insecure = deny). */
static void
insecure_denied(void **state)
{
	tisock_client *c = open_client();
	struct peer p;
	tisock_tcp *s;

	(void)state;
	tisock_client_set_timeout(c, DEADLINE_MS);
	peer_start(&p, true, "--cert", pem_path(0, "self.pem"), "--key", pem_path(1, "self.key"),
		   "--deadline", "3", NULL);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = p.port });
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){
		.flags = TISOCK_TLS_NO_VERIFY }), 0);
	assert_int_equal(tisock_tcp_connect_wait(s), -EPERM);
	assert_int_equal(tisock_client_last_error(c)->code, -32003);
	tisock_tcp_free(s);
	peer_stop(&p);
	/* Options the library refuses itself. */
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = 1 });
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ .min_version = 11 }),
			 -EINVAL);
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){
		.flags = TISOCK_TLS_SESSION_REUSE | TISOCK_TLS_NO_SESSION_REUSE }), -EINVAL);
	assert_int_equal(tisock_tcp_set_tls_server(s, &(struct tisock_tls_server_options){
		.certificate_pem = "x" }), -EINVAL);
	assert_int_equal(tisock_tcp_start_tls(s, NULL), -ENOTCONN);
	tisock_tcp_free(s);
	tisock_client_close(c);
}

static void
on_started(const struct tisock_tcp_event *ev)
{
	int *flag = ev->userdata;

	*flag = ev->success ? 1 : 2;
}

/* STARTTLS after a plaintext exchange, blocking and with a callback. */
static void
start_tls(void **state)
{
	tisock_client *c = open_client();
	char *ca = pem("ca.pem");
	struct peer p;
	tisock_tcp *s;
	int flag = 0;

	(void)state;
	tisock_client_set_timeout(c, DEADLINE_MS);
	for (int async = 0; async < 2; async++) {
		peer_start(&p, true, "--cert", pem_path(0, "server.pem"), "--key",
			   pem_path(1, "server.key"), "--mode", "starttls", NULL);
		s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = "127.0.0.1",
			.port = p.port, .userdata = &flag });
		assert_int_equal(tisock_tcp_connect_wait(s), 0);
		assert_null(tisock_tcp_tls(s));
		read_expect(s, "220 ready\r\n");
		write_text(s, "STARTTLS\r\n");
		read_expect(s, "220 go ahead\r\n");
		if (async) {
			flag = 0;
			assert_int_equal(tisock_tcp_start_tls_async(s, &(struct tisock_tls_options){
				.ca_pem = ca, .server_name = "localhost" }, on_started), 0);
			client_wait_flag(c, &flag, 1, DEADLINE_MS);
		} else {
			assert_int_equal(tisock_tcp_start_tls(s, &(struct tisock_tls_options){
				.ca_pem = ca, .server_name = "localhost" }), 0);
		}
		assert_non_null(tisock_tcp_tls(s));
		assert_int_equal(tisock_tcp_tls(s)->verified, 1);
		write_text(s, "inside TLS");
		read_expect(s, "inside TLS");
		assert_int_equal(tisock_tcp_close(s), 0);
		tisock_tcp_free(s);
		peer_stop(&p);
	}
	free(ca);
	tisock_client_close(c);
}

struct pumped {
	int	ended;
	ssize_t	bytes;
};

static void
on_pumped(const struct tisock_stream_event *ev)
{
	struct pumped *p = ev->userdata;

	if (ev->bytes_processed < 0)
		p->ended = 1;
	else
		p->bytes += ev->bytes_processed;
}

/* A "truncate" peer in p and a socket of c connected to it with TLS (trusting ca). */
static tisock_tcp *
truncating_peer(tisock_client *c, struct peer *p, const char *ca)
{
	tisock_tcp *s;

	peer_start(p, true, "--cert", pem_path(0, "server.pem"), "--key",
		   pem_path(1, "server.key"), "--mode", "truncate", NULL);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = "localhost",
		.port = p->port });
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ .ca_pem = ca }), 0);
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	return s;
}

/*
 * A peer that closes without close_notify: end of stream, marked
 * truncated, through a read, the pump and the data channel.
 */
static void
truncation(void **state)
{
	tisock_client *c = open_client();
	tisock_buffer *b = tisock_buffer_create(64);
	char *ca = pem("ca.pem");
	struct pumped pumped = { 0 };
	struct peer p;
	tisock_stream *st;
	tisock_tcp *s;
	ssize_t k;
	int fd;

	(void)state;
	tisock_client_set_timeout(c, DEADLINE_MS);
	s = truncating_peer(c, &p, ca);
	read_expect(s, "partial");
	assert_int_equal(tisock_tcp_tls(s)->truncated, 0);
	k = tisock_tcp_read(s, b, 0, TISOCK_ALL);
	assert_int_equal(k, -1);
	assert_int_equal(tisock_tcp_tls(s)->truncated, 1);
	tisock_tcp_free(s);
	peer_stop(&p);

	/* The same through the asynchronous pump: its last tcp.data says so. */
	s = truncating_peer(c, &p, ca);
	st = tisock_tcp_stream(s);
	assert_int_equal(tisock_stream_pump(st, on_pumped, &pumped, 4096, 1), 0);
	client_wait_flag(c, &pumped.ended, 1, DEADLINE_MS);
	assert_int_equal(pumped.bytes, 7);
	assert_int_equal(tisock_tcp_tls(s)->truncated, 1);
	tisock_stream_free(st);
	tisock_tcp_free(s);
	peer_stop(&p);

	/* And through the data channel: EOF on the fd, then tcp.closed with truncated. */
	s = truncating_peer(c, &p, ca);
	fd = tisock_tcp_channel(s);
	assert_true(fd >= 0);
	{
		char buf[64];
		size_t got = 0;
		ssize_t n;
		long long end = spawn_now_ms() + DEADLINE_MS;

		while ((n = read(fd, buf + got, sizeof(buf) - got)) > 0)
			got += (size_t)n;
		assert_int_equal(n, 0);
		assert_int_equal(got, 7);
		shutdown(fd, SHUT_WR);
		while (tisock_tcp_state(s) != TISOCK_CLOSED && spawn_now_ms() < end)
			tisock_client_dispatch(c, 100);
	}
	assert_int_equal(tisock_tcp_state(s), TISOCK_CLOSED);
	assert_int_equal(tisock_tcp_tls(s)->truncated, 1);
	close(fd);
	tisock_tcp_free(s);
	peer_stop(&p);
	tisock_buffer_free(b);
	free(ca);
	tisock_client_close(c);
}

struct accepted {
	int		 done;
	tisock_tcp	*inbound;
};

static void
on_accepted(const struct tisock_tcp_event *ev)
{
	struct accepted *a = ev->userdata;

	a->done = 1;
	a->inbound = ev->inbound;
}

/* Accepts one client of l and echoes what it sends (bounded) until it has want bytes. */
static tisock_tcp *
accept_echo(tisock_client *c, tisock_tcp *l, struct accepted *a, size_t want)
{
	tisock_buffer *b = tisock_buffer_create(65536);
	size_t got = 0;

	a->done = 0;
	assert_int_equal(tisock_tcp_accept(l, &(struct tisock_tcp_accept_options){
		.timeout_ms = DEADLINE_MS }), 0);
	client_wait_flag(c, &a->done, 1, DEADLINE_MS);
	assert_non_null(a->inbound);
	while (got < want) {
		ssize_t k = tisock_tcp_read(a->inbound, b, 0, TISOCK_ALL);

		assert_true(k > 0);
		assert_int_equal(tisock_tcp_write(a->inbound, b, 0, k), k);
		got += (size_t)k;
	}
	tisock_buffer_free(b);
	return a->inbound;
}

/* tisockd as the TLS server: a Python client, then one with a client certificate. */
static void
tls_server(void **state)
{
	const char *alpn[] = { "echo/1", NULL };
	tisock_client *c = open_client();
	char *cert = pem("server.pem"), *key = pem("server.key"), *ca = pem("ca.pem"), port[16];
	const struct tisock_tls_info *t;
	struct accepted a = { 0 };
	struct peer p;
	tisock_tcp *l, *in;
	const char *line;

	(void)state;
	tisock_client_set_timeout(c, DEADLINE_MS);
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = 0,
		.accepted = on_accepted, .userdata = &a });
	assert_int_equal(tisock_tcp_set_tls_server(l, &(struct tisock_tls_server_options){
		.certificate_pem = cert, .key_pem = key, .ca_pem = ca, .alpn = alpn,
		.flags = TISOCK_TLS_REQUEST_CLIENT_CERT }), 0);
	assert_int_equal(tisock_tcp_listen(l), 0);
	snprintf(port, sizeof(port), "%d", tisock_tcp_port(l));

	/* Mutual TLS: the client's certificate, verified against the CA. */
	peer_start(&p, false, "--connect", port, "--ca", pem_path(0, "ca.pem"), "--cert",
		   pem_path(1, "client.pem"), "--key", pem_path(2, "client.key"), "--alpn",
		   "echo/1", "--bytes", "100000", NULL);
	in = accept_echo(c, l, &a, 100000);
	t = tisock_tcp_tls(in);
	assert_non_null(t);
	assert_string_equal(t->alpn, "echo/1");
	assert_int_equal(t->verified, 1);
	assert_non_null(t->peer_certificate);
	assert_non_null(strstr(t->peer_certificate->subject, "CN=tisock test client"));
	line = spawn_line(p.out, DEADLINE_MS);
	assert_true(strncmp(line, "sent sha256 ", 12) == 0);
	{
		char sent[128];

		snprintf(sent, sizeof(sent), "%s", line + 5);
		line = spawn_line(p.out, DEADLINE_MS);
		assert_string_equal(line + 4, sent);	/* "got sha256 ..." = what was sent */
	}
	tisock_tcp_close(in);
	tisock_tcp_free(in);
	peer_stop(&p);

	/* A client without a certificate does not get through; the next one does. */
	peer_start(&p, false, "--connect", port, "--ca", pem_path(0, "ca.pem"), "--bytes", "10",
		   NULL);
	peer_stop(&p);
	peer_start(&p, false, "--connect", port, "--ca", pem_path(0, "ca.pem"), "--cert",
		   pem_path(1, "client.pem"), "--key", pem_path(2, "client.key"), "--bytes", "10",
		   NULL);
	in = accept_echo(c, l, &a, 10);
	assert_non_null(tisock_tcp_tls(in)->peer_certificate);
	tisock_tcp_close(in);
	tisock_tcp_free(in);
	peer_stop(&p);
	tisock_tcp_close(l);
	tisock_tcp_free(l);

	/* PEM that does not parse: -32602 naming the field. */
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = 0 });
	assert_int_equal(tisock_tcp_set_tls_server(l, &(struct tisock_tls_server_options){
		.certificate_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n", .key_pem = key }),
		0);
	assert_int_equal(tisock_tcp_listen(l), -EINVAL);
	assert_int_equal(tisock_client_last_error(c)->code, -32602);
	assert_non_null(strstr(tisock_client_last_error(c)->data_json, "tls.certificatePem"));
	tisock_tcp_free(l);
	/* A path is not PEM: the daemon never opens a file for a client. */
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = 0 });
	assert_int_equal(tisock_tcp_set_tls_server(l, &(struct tisock_tls_server_options){
		.certificate_pem = pem_path(0, "server.pem"),
		.key_pem = pem_path(1, "server.key") }),
		0);
	assert_int_equal(tisock_tcp_listen(l), -EINVAL);
	assert_int_equal(tisock_client_last_error(c)->code, -32602);
	tisock_tcp_free(l);
	free(cert);
	free(key);
	free(ca);
	tisock_client_close(c);
}

/* The test PKI, made once for the group, then the daemon. */
static int
group_setup(void **state)
{
	char cmd[512];

	snprintf(pki, sizeof(pki), "/tmp/tisock-tls-XXXXXX");
	if (!mkdtemp(pki))
		return -1;
	snprintf(cmd, sizeof(cmd), "'%s/tests/tls/tls-certs' '%s'", builddir, pki);
	if (system(cmd) != 0)
		return -1;
	return spawn_group_setup(state);
}

static int
group_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", pki);
	return spawn_group_teardown(state);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(verified_connect),
		cmocka_unit_test(handshake_failures),
		cmocka_unit_test(insecure_denied),
		cmocka_unit_test(start_tls),
		cmocka_unit_test(truncation),
		cmocka_unit_test(tls_server),
	};

	signal(SIGPIPE, SIG_IGN);
	spawn_bin = argc > 1 ? argv[1] : "daemon/tisockd";
	srcdir = argc > 2 ? argv[2] : ".";
	if (getenv("top_builddir"))
		builddir = getenv("top_builddir");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
