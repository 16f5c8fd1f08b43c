/*
 * test-libtisock-tls-wire: what libtisock's TLS calls put on the wire and
 * read from the answers, against a scripted peer on a Unix socket that
 * plays the daemon: each step is the request it expects (method and
 * params, compared as JSON) and the line it answers.  Covers the tls
 * parameter of tcp.connect (true for the defaults, every option),
 * tcp.listen's (the PEM text itself) and tcp.startTls; the session and
 * peer certificate read from an answer, a null certificate and ALPN;
 * error -32012 as -EPROTO with its reason, verification error and
 * alert; truncated at the end of stream; and the options refused before
 * anything is sent.
 */
#include "config.h"

#include <errno.h>
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
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <tisock/tisock.h>

#define WAIT_MS	10000

/* One exchange: the request expected, and the answer ("%d" takes its id). */
struct step {
	const char	*method;
	const char	*params;	/* JSON, compared as a value */
	const char	*answer;	/* a line with one %d for the id */
};

static char dir[64], path[96];

/* The next line of fd (bounded wait), NULL at the end. */
static char *
next_line(int fd)
{
	static char buf[1 << 16];
	size_t have = 0;

	while (have < sizeof(buf) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, WAIT_MS) <= 0 || read(fd, buf + have, 1) != 1)
			return NULL;
		if (buf[have] == '\n')
			break;
		have++;
	}
	buf[have] = '\0';
	return buf;
}

/* The scripted daemon, in a child: exits 0 when every step came as expected. */
static pid_t
fake_daemon(const struct step *steps, size_t n)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	memcpy(sun.sun_path, path, strlen(path) + 1);
	unlink(path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		close(lfd);
		return pid;
	}
	int fd = accept(lfd, NULL, NULL);

	for (size_t i = 0; i < n; i++) {
		char *line = next_line(fd), out[8192];
		cJSON *req = line ? cJSON_Parse(line) : NULL, *want = cJSON_Parse(steps[i].params);
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, "method");
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");

		if (cJSON_IsString(m) && strcmp(m->valuestring, "tcp.close") == 0) {
			/* A freed socket's close: answered, not a step. */
			snprintf(out, sizeof(out), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":"
				 "{\"socket\":1}}\n", cJSON_IsNumber(id) ? id->valueint : 0);
			if (write(fd, out, strlen(out)) != (ssize_t)strlen(out))
				_exit(2);
			cJSON_Delete(req);
			cJSON_Delete(want);
			i--;
			continue;
		}

		if (!req || !cJSON_IsString(m) || strcmp(m->valuestring, steps[i].method) != 0 ||
		    !cJSON_Compare(params, want, 1)) {
			fprintf(stderr, "step %zu: want %s %s\n got %s\n", i, steps[i].method,
				steps[i].params, line ? line : "(nothing)");
			_exit(1);
		}
		{
			const char *at = strstr(steps[i].answer, "%d");

			snprintf(out, sizeof(out), "%.*s%d%s\n", (int)(at - steps[i].answer),
				 steps[i].answer, cJSON_IsNumber(id) ? id->valueint : 0, at + 2);
		}
		if (write(fd, out, strlen(out)) != (ssize_t)strlen(out))
			_exit(2);
		cJSON_Delete(req);
		cJSON_Delete(want);
	}
	_exit(0);
}

static void
daemon_done(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

#define CONNECTED(extra) \
	"{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{\"socket\":7,\"state\":\"connected\"" extra "}}"
#define TLS_RESULT \
	",\"tls\":{\"version\":\"TLSv1.3\",\"cipher\":\"TLS_AES_256_GCM_SHA384\",\"alpn\":\"h2\"," \
	"\"resumed\":true,\"peerCertificate\":{\"subject\":\"CN=localhost\",\"issuer\":\"CN=CA\"," \
	"\"subjectAltNames\":[\"DNS:localhost\",\"IP:127.0.0.1\"],\"notBefore\":" \
	"\"2026-01-01T00:00:00Z\",\"notAfter\":\"2027-01-01T00:00:00Z\",\"sha256\":\"ab12\"}," \
	"\"verified\":true}"

/* tcp.connect's tls: true for the defaults, an object with every option. */
static void
connect_params(void **state)
{
	static const struct step steps[] = {
		{ "tcp.connect", "{\"host\":\"localhost\",\"port\":443,\"tls\":true}",
		  CONNECTED(TLS_RESULT) },
		{ "tcp.connect", "{\"host\":\"localhost\",\"port\":443,\"tls\":{\"serverName\":"
		  "\"example.org\",\"verify\":false,\"caPem\":\"PEM\\n\",\"minVersion\":\"1.3\","
		  "\"sessionReuse\":false,\"alpn\":[\"h2\",\"http/1.1\"]}}",
		  CONNECTED(",\"tls\":{\"version\":\"TLSv1.3\",\"cipher\":\"X\",\"alpn\":null,"
			    "\"resumed\":false,\"peerCertificate\":null,\"verified\":false}") },
		{ "tcp.connect", "{\"host\":\"localhost\",\"port\":443}", CONNECTED("") },
	};
	const char *alpn[] = { "h2", "http/1.1", NULL };
	const struct tisock_tls_info *t;
	pid_t pid = fake_daemon(steps, 3);
	tisock_client *c = tisock_client_open(path);
	tisock_tcp *s;

	(void)state;
	assert_non_null(c);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = "localhost", .port = 443 });
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ 0 }), 0);
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	t = tisock_tcp_tls(s);
	assert_non_null(t);
	assert_string_equal(t->version, "TLSv1.3");
	assert_string_equal(t->cipher, "TLS_AES_256_GCM_SHA384");
	assert_string_equal(t->alpn, "h2");
	assert_int_equal(t->resumed, 1);
	assert_int_equal(t->verified, 1);
	assert_int_equal(t->truncated, 0);
	assert_non_null(t->peer_certificate);
	assert_string_equal(t->peer_certificate->subject, "CN=localhost");
	assert_string_equal(t->peer_certificate->issuer, "CN=CA");
	assert_int_equal(t->peer_certificate->n_subject_alt_names, 2);
	assert_string_equal(t->peer_certificate->subject_alt_names[1], "IP:127.0.0.1");
	assert_null(t->peer_certificate->subject_alt_names[2]);
	assert_string_equal(t->peer_certificate->not_after, "2027-01-01T00:00:00Z");
	assert_string_equal(t->peer_certificate->sha256, "ab12");
	tisock_tcp_free(s);

	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = "localhost", .port = 443 });
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){
		.server_name = "example.org", .ca_pem = "PEM\n", .alpn = alpn,
		.min_version = TISOCK_TLS_VERSION_1_3,
		.flags = TISOCK_TLS_NO_VERIFY | TISOCK_TLS_NO_SESSION_REUSE }), 0);
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	t = tisock_tcp_tls(s);
	assert_non_null(t);
	assert_null(t->alpn);
	assert_null(t->peer_certificate);
	assert_int_equal(t->verified, 0);
	tisock_tcp_free(s);

	/* NULL options: plaintext again. */
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = "localhost", .port = 443 });
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ 0 }), 0);
	assert_int_equal(tisock_tcp_set_tls(s, NULL), 0);
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	assert_null(tisock_tcp_tls(s));
	assert_int_equal(tisock_tcp_set_tls(s, NULL), -EISCONN);
	tisock_tcp_free(s);
	tisock_client_close(c);
	daemon_done(pid);
}

/* -32012: -EPROTO, the socket in error, and the reason, verification error and alert. */
static void
handshake_failure(void **state)
{
	static const struct step steps[] = {
		{ "tcp.connect", "{\"port\":443,\"tls\":true}",
		  "{\"jsonrpc\":\"2.0\",\"id\":%d,\"error\":{\"code\":-32012,\"message\":"
		  "\"TLS handshake failed\",\"data\":{\"socket\":9,"
		  "\"reason\":\"certificateExpired\","
		  "\"verifyError\":10,\"verifyErrorText\":\"certificate has expired\","
		  "\"alert\":\"certificate_expired\"}}}" },
		{ "tcp.connect", "{\"port\":443,\"tls\":true}",
		  "{\"jsonrpc\":\"2.0\",\"id\":%d,\"error\":{\"code\":-32012,\"message\":"
		  "\"TLS handshake failed\",\"data\":{\"socket\":10,\"reason\":\"protocolVersion\","
		  "\"verifyError\":0,\"alert\":70}}}" },
	};
	const struct tisock_tls_error *e;
	pid_t pid = fake_daemon(steps, 2);
	tisock_client *c = tisock_client_open(path);
	tisock_tcp *s;

	(void)state;
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = 443 });
	assert_null(tisock_tcp_tls_error(s));
	assert_int_equal(tisock_tcp_set_tls(s, NULL), 0);
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ 0 }), 0);
	assert_int_equal(tisock_tcp_connect_wait(s), -EPROTO);
	assert_int_equal(tisock_client_last_error(c)->code, TISOCK_ERROR_TLS);
	assert_int_equal(tisock_tcp_state(s), TISOCK_ERROR);
	assert_int_equal(tisock_tcp_id(s), 9);
	e = tisock_tcp_tls_error(s);
	assert_non_null(e);
	assert_string_equal(e->reason, "certificateExpired");
	assert_int_equal(e->verify_error, 10);
	assert_string_equal(e->verify_error_text, "certificate has expired");
	assert_string_equal(e->alert, "certificate_expired");
	assert_null(tisock_tcp_tls(s));
	tisock_tcp_free(s);

	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = 443 });
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ 0 }), 0);
	assert_int_equal(tisock_tcp_connect_wait(s), -EPROTO);
	e = tisock_tcp_tls_error(s);
	assert_string_equal(e->reason, "protocolVersion");
	assert_int_equal(e->verify_error, 0);
	assert_null(e->verify_error_text);
	assert_string_equal(e->alert, "70");
	tisock_tcp_free(s);
	tisock_client_close(c);
	daemon_done(pid);
}

static void
on_started(const struct tisock_tcp_event *ev)
{
	*(int *)ev->userdata = ev->success ? 1 : 2;
}

/* tcp.listen sends the PEM text; tcp.startTls both ways; truncated at the end. */
static void
listen_and_start(void **state)
{
	static const struct step steps[] = {
		{ "tcp.listen", "{\"host\":\"127.0.0.1\",\"port\":0,\"tls\":{\"certificatePem\":"
		  "\"CERT\",\"keyPem\":\"KEY\",\"caPem\":\"CA\",\"requestClientCertificate\":true,"
		  "\"alpn\":[\"x\"]}}",
		  "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{\"socket\":3,\"state\":\"listening\","
		  "\"local\":{\"address\":\"127.0.0.1\",\"port\":4433,\"family\":\"ipv4\"}}}" },
		{ "tcp.connect", "{\"port\":25}", CONNECTED("") },
		{ "tcp.startTls", "{\"socket\":7,\"tls\":{\"serverName\":\"mx.example\"}}",
		  "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{\"socket\":7" TLS_RESULT "}}" },
		{ "tcp.read", "{\"socket\":7,\"length\":16}",
		  "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{\"socket\":7,\"bytes\":-1,"
		  "\"truncated\":true}}" },
		{ "tcp.connect", "{\"port\":25}", CONNECTED("") },
		{ "tcp.startTls", "{\"socket\":7,\"tls\":true}",
		  "{\"jsonrpc\":\"2.0\",\"id\":%d,\"error\":{\"code\":-32012,\"message\":"
		  "\"TLS handshake failed\",\"data\":{\"socket\":7,\"reason\":\"unknownCa\","
		  "\"verifyError\":20,"
		  "\"verifyErrorText\":\"unable to get local issuer certificate\"}}}" },
	};
	const char *alpn[] = { "x", NULL };
	pid_t pid = fake_daemon(steps, 6);
	tisock_client *c = tisock_client_open(path);
	tisock_buffer *b = tisock_buffer_create(16);
	tisock_tcp *l, *s;
	int flag = 0;

	(void)state;
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = "127.0.0.1", .port = 0 });
	assert_int_equal(tisock_tcp_set_tls_server(l, &(struct tisock_tls_server_options){
		.certificate_pem = "CERT", .key_pem = "KEY", .ca_pem = "CA", .alpn = alpn,
		.flags = TISOCK_TLS_REQUEST_CLIENT_CERT }), 0);
	assert_int_equal(tisock_tcp_listen(l), 0);
	assert_int_equal(tisock_tcp_port(l), 4433);
	assert_int_equal(tisock_tcp_set_tls_server(l, NULL), -EISCONN);

	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = 25, .userdata = &flag });
	assert_int_equal(tisock_tcp_start_tls(s, NULL), -ENOTCONN);
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	assert_int_equal(tisock_tcp_start_tls(s, &(struct tisock_tls_options){
		.server_name = "mx.example" }), 0);
	assert_non_null(tisock_tcp_tls(s));
	assert_string_equal(tisock_tcp_tls(s)->peer_certificate->subject, "CN=localhost");
	assert_int_equal(tisock_tcp_read(s, b, 0, TISOCK_ALL), -1);
	assert_int_equal(tisock_tcp_tls(s)->truncated, 1);
	tisock_tcp_free(s);

	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = 25, .userdata = &flag });
	assert_int_equal(tisock_tcp_connect_wait(s), 0);
	assert_int_equal(tisock_tcp_start_tls_async(s, NULL, on_started), 0);
	while (flag == 0 && tisock_client_dispatch(c, WAIT_MS) > 0)
		;
	assert_int_equal(flag, 2);
	assert_int_equal(tisock_tcp_state(s), TISOCK_ERROR);
	assert_string_equal(tisock_tcp_tls_error(s)->reason, "unknownCa");
	assert_int_equal(tisock_tcp_tls_error(s)->verify_error, 20);
	tisock_tcp_free(s);
	tisock_tcp_free(l);
	tisock_buffer_free(b);
	tisock_client_close(c);
	daemon_done(pid);
}

/* Options refused before anything is sent. */
static void
refused_options(void **state)
{
	const char *empty[] = { "", NULL }, *many[18];
	tisock_client *c;
	tisock_tcp *s;
	pid_t pid = fake_daemon(NULL, 0);

	(void)state;
	c = tisock_client_open(path);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = 1 });
	for (int i = 0; i < 17; i++)
		many[i] = "p";
	many[17] = NULL;
	assert_int_equal(tisock_tcp_set_tls(NULL, NULL), -EINVAL);
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ .flags = 1u << 9 }),
			 -EINVAL);
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ .min_version = 10 }),
			 -EINVAL);
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){
		.flags = TISOCK_TLS_SESSION_REUSE | TISOCK_TLS_NO_SESSION_REUSE }), -EINVAL);
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ .server_name = "" }),
			 -EINVAL);
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ .alpn = empty }),
			 -EINVAL);
	assert_int_equal(tisock_tcp_set_tls(s, &(struct tisock_tls_options){ .alpn = many }),
			 -EINVAL);
	assert_int_equal(tisock_tcp_set_tls_server(s, &(struct tisock_tls_server_options){
		.certificate_pem = "C" }), -EINVAL);
	assert_int_equal(tisock_tcp_set_tls_server(s, &(struct tisock_tls_server_options){
		.certificate_pem = "C", .key_pem = "K", .flags = TISOCK_TLS_NO_VERIFY }), -EINVAL);
	assert_null(tisock_tcp_tls(NULL));
	assert_null(tisock_tcp_tls_error(NULL));
	tisock_tcp_free(s);
	tisock_client_close(c);
	daemon_done(pid);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tisock-wire-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/fake.sock", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(connect_params),
		cmocka_unit_test(handshake_failure),
		cmocka_unit_test(listen_and_start),
		cmocka_unit_test(refused_options),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
