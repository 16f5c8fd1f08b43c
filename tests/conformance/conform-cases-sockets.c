/*
 * conform-cases-sockets: creating, connecting (IPv4, IPv6, names, refused,
 * timed out, unresolvable), listening and accepting, socket options,
 * against the suite's own loopback peers.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"
#include "conform-client.h"
#include "conform-peer.h"
#include "proto-errors.h"

#define TIMEOUT_MS	300	/* connect timeout asked for */
#define TIMEOUT_SLACK	3000	/* most it may take beyond that */
#define RESOLVE_MS	30000	/* a resolver with DNS may take its own timeouts */

static void
case_create(void)
{
	struct cc *c = cc_open(), *c2 = cc_open();
	long long s1, s2, s3, s4;
	cJSON *a, *info;

	CHECK(c && c2, "cannot connect");
	a = cc_call(c, "tcp.create", "{\"host\":\"localhost\",\"port\":1234,\"timeout\":500}");
	CHECK(j_int(a, "result.socket") > 0 && j_is(a, "result.state", "initialized"),
	      "tcp.create: %s", j_text(a));
	s1 = j_int(a, "result.socket");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s1);
	CHECK(j_is(a, "result.host", "localhost") && j_int(a, "result.port") == 1234 &&
	      j_int(a, "result.timeout") == 500 && j_int(a, "result.stateCode") == 1 &&
	      j_is(a, "result.state", "initialized"), "tcp.info after create: %s", j_text(a));
	cJSON_Delete(a);
	/* Defaults: 127.0.0.1, port 0, the daemon's connect timeout. */
	s2 = cc_create(c);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s2);
	info = cc_call(c, "daemon.info", NULL);
	CHECK(j_is(a, "result.host", "127.0.0.1") && j_int(a, "result.port") == 0 &&
	      j_int(a, "result.timeout") == j_int(info, "result.limits.connectTimeoutMs"),
	      "defaults of a bare tcp.create: %s", j_text(a));
	cJSON_Delete(a);
	cJSON_Delete(info);
	/* Ids increase and are never reused, across connections and closes. */
	CHECK(s2 > s1, "ids do not increase: %lld then %lld", s1, s2);
	a = cc_call(c, "tcp.close", "{\"socket\":%lld}", s2);
	cJSON_Delete(a);
	s3 = cc_create(c2);
	s4 = cc_create(c);
	CHECK(s3 > s2 && s4 > s3, "ids reused or not increasing: %lld %lld, then %lld %lld", s1, s2,
	      s3, s4);
	cc_close(c);
	cc_close(c2);
}

/* tcp.connect to a listener of ours on family, via host. */
static void
connect_to(int family, const char *host, const char *want_addr)
{
	int port, lfd, pfd;
	struct cc *c;
	cJSON *a;
	long long id;

	if (family == AF_INET6 && !peer_have_ipv6())
		SKIP("no IPv6 loopback here");
	lfd = peer_listen(family, 8, &port);
	c = cc_open();
	CHECK(lfd >= 0 && c, "setup");
	id = cc_request(c, "tcp.connect", "{\"host\":\"%s\",\"port\":%d}", host, port);
	pfd = peer_accept(lfd, CONFORM_DEADLINE_MS);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	CHECK(pfd >= 0, "the peer saw no connection; answer %s", j_text(a));
	CHECK(j_is(a, "result.state", "connected") && j_int(a, "result.socket") > 0,
	      "connect to %s: %s", host, j_text(a));
	CHECK(j_int(a, "result.remote.port") == port && j_is(a, "result.remote.address", want_addr)
	      && j_is(a, "result.remote.family", family == AF_INET6 ? "ipv6" : "ipv4") &&
	      j_int(a, "result.local.port") == peer_port(pfd, false) &&
	      j_is(a, "result.local.family", family == AF_INET6 ? "ipv6" : "ipv4"),
	      "endpoints (peer sees port %d): %s", peer_port(pfd, false), j_text(a));
	cJSON_Delete(a);
	close(pfd);
	close(lfd);
	cc_close(c);
}

static void case_connect_ipv4(void) { connect_to(AF_INET, "127.0.0.1", "127.0.0.1"); }
static void case_connect_ipv6(void) { connect_to(AF_INET6, "::1", "::1"); }
static void case_connect_name(void) { connect_to(AF_INET, "localhost", "127.0.0.1"); }

/* An existing socket connects to the host and port it was created with. */
static void
case_connect_existing(void)
{
	int port, lfd = peer_listen(AF_INET, 4, &port), pfd;
	struct cc *c = cc_open();
	long long s, id;
	cJSON *a;

	CHECK(lfd >= 0 && c, "setup");
	a = cc_call(c, "tcp.create", "{\"port\":%d}", port);
	s = j_int(a, "result.socket");
	cJSON_Delete(a);
	id = cc_request(c, "tcp.connect", "{\"socket\":%lld}", s);
	pfd = peer_accept(lfd, CONFORM_DEADLINE_MS);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	CHECK(pfd >= 0 && j_int(a, "result.socket") == s && j_is(a, "result.state", "connected"),
	      "connect with the create params: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.list", NULL);
	CHECK(cJSON_GetArraySize(j_get(a, "result.sockets")) == 1, "tcp.list: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.connect", NULL);
	CHECK(err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.param", "port") &&
	      j_is(a, "error.data.reason", "missing"), "connect without a port: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.connect", "{\"port\":0}");
	CHECK(err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.param", "port") &&
	      j_is(a, "error.data.reason", "range"), "connect to port 0: %s", j_text(a));
	cJSON_Delete(a);
	close(pfd);
	close(lfd);
	cc_close(c);
}

static void
case_connect_refused_then_retry(void)
{
	int port = peer_closed_port(), lfd = -1, pfd;
	struct cc *c = cc_open();
	long long s, id;
	cJSON *a;

	CHECK(c && port > 0, "setup");
	a = cc_call(c, "tcp.connect", "{\"port\":%d}", port);
	CHECK(err_code(a) == PROTO_E_NETWORK && j_is(a, "error.data.errname", "ECONNREFUSED") &&
	      j_int(a, "error.data.errno") > 0 && j_str(a, "error.data.message") &&
	      j_int(a, "error.data.socket") > 0,
	      "connect to a closed port: expected -32011 ECONNREFUSED with data.socket, got %s",
	      j_text(a));
	s = j_int(a, "error.data.socket");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "error") && j_int(a, "result.stateCode") == 5,
	      "after a refused connect: %s", j_text(a));
	cJSON_Delete(a);
	/* A socket in error may connect again, once something listens. */
	lfd = peer_listen(AF_INET, 4, &port);
	id = cc_request(c, "tcp.connect", "{\"socket\":%lld,\"port\":%d}", s, port);
	pfd = peer_accept(lfd, CONFORM_DEADLINE_MS);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	CHECK(j_is(a, "result.state", "connected") && j_int(a, "result.socket") == s,
	      "retry from error: %s", j_text(a));
	cJSON_Delete(a);
	close(pfd);
	close(lfd);
	cc_close(c);
}

/*
 * method (tcp.connect or tcp.listen) on a name that does not resolve:
 * -32010 with data.resolver and data.socket, and the socket in state
 * error.
 */
static void
unresolvable(struct cc *c, const char *method)
{
	long long id;
	cJSON *a;

	id = cc_request(c, method, "{\"host\":\"nonexistent.invalid\",\"port\":80}");
	a = cc_wait(c, id, RESOLVE_MS);
	CHECK(err_code(a) == PROTO_E_RESOLVE && j_str(a, "error.data.resolver") &&
	      j_int(a, "error.data.socket") > 0,
	      "%s on an unresolvable name: expected -32010 with data.resolver and data.socket, "
	      "got %s", method, j_text(a));
	id = j_int(a, "error.data.socket");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", id);
	CHECK(j_is(a, "result.state", "error"), "after %s did not resolve: %s", method, j_text(a));
	cJSON_Delete(a);
}

/* A listener of ours that never accepts, its backlog full: connects hang. */
static void
case_connect_timeout(void)
{
	int port, lfd = peer_listen(AF_INET, 0, &port), fill[4];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct cc *c = cc_open();
	long long t0, id, took, s;
	cJSON *a;

	CHECK(lfd >= 0 && c, "setup");
	sin.sin_port = htons((uint16_t)port);
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		(void)connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	t0 = conform_now_ms();
	id = cc_request(c, "tcp.connect", "{\"port\":%d,\"timeout\":%d}", port, TIMEOUT_MS);
	a = cc_call(c, "tcp.list", NULL);
	CHECK(j_is(cJSON_GetArrayItem(j_get(a, "result.sockets"), 0), "state", "connecting") &&
	      j_int(cJSON_GetArrayItem(j_get(a, "result.sockets"), 0), "stateCode") == 1,
	      "a socket while connecting: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_wait(c, id, TIMEOUT_MS + TIMEOUT_SLACK);
	took = conform_now_ms() - t0;
	CHECK(err_code(a) == PROTO_E_TIMEOUT && j_int(a, "error.data.socket") > 0,
	      "connect to a full backlog with timeout %d: expected -32006, got %s after %lld ms",
	      TIMEOUT_MS, j_text(a), took);
	CHECK(took >= TIMEOUT_MS - 50, "timed out after %lld ms, before %d", took, TIMEOUT_MS);
	s = j_int(a, "error.data.socket");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "error"), "after a timed-out connect: %s", j_text(a));
	cJSON_Delete(a);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
	cc_close(c);
}

static void
case_resolve_failure(void)
{
	struct cc *c = cc_open();

	CHECK(c, "cannot connect");
	unresolvable(c, "tcp.connect");
	cc_close(c);
}

/* tcp.listen on host (NULL: absent), then a connection from us. */
static void
listen_on(const char *host, int family, const char *want_addr)
{
	struct cc *c = cc_open();
	int port, pfd;
	cJSON *a;

	if (family == AF_INET6 && !peer_have_ipv6())
		SKIP("no IPv6 loopback here");
	CHECK(c, "cannot connect");
	if (host)
		a = cc_call(c, "tcp.listen", "{\"host\":\"%s\",\"port\":0}", host);
	else
		a = cc_call(c, "tcp.listen", "{\"port\":0}");
	port = (int)j_int(a, "result.local.port");
	CHECK(j_is(a, "result.state", "listening") && port > 0 &&
	      j_is(a, "result.local.address", want_addr) &&
	      j_is(a, "result.local.family", family == AF_INET6 ? "ipv6" : "ipv4"),
	      "tcp.listen port 0 on %s: %s", host ? host : "(no host)", j_text(a));
	cJSON_Delete(a);
	pfd = peer_connect(family, port);
	CHECK(pfd >= 0, "cannot connect to the reported port %d", port);
	close(pfd);
	cc_close(c);
}

static void case_listen_default(void) { listen_on(NULL, AF_INET, "127.0.0.1"); }
static void case_listen_ipv6(void) { listen_on("::1", AF_INET6, "::1"); }

/*
 * tcp.listen on a name (resolved, then its first address bound): the
 * suite's name, which has ::1 and 127.0.0.1, listens on one of them and
 * a connection to it arrives; a name that does not resolve fails the
 * listen with -32010 and leaves the socket in state error.
 */
static void
case_listen_name(void)
{
	struct cc *c = cc_open();
	const char *addr;
	int port, pfd;
	cJSON *a;

	CHECK(c, "cannot connect");
	a = cc_call(c, "tcp.listen", "{\"host\":\"%s\",\"port\":0}", CONFORM_HOST_BOTH);
	port = (int)j_int(a, "result.local.port");
	addr = j_str(a, "result.local.address");
	CHECK(j_is(a, "result.state", "listening") && port > 0 && addr &&
	      (strcmp(addr, "::1") == 0 || strcmp(addr, "127.0.0.1") == 0),
	      "tcp.listen on %s: %s", CONFORM_HOST_BOTH, j_text(a));
	pfd = peer_connect(strcmp(addr, "::1") == 0 ? AF_INET6 : AF_INET, port);
	cJSON_Delete(a);
	CHECK(pfd >= 0, "cannot connect to the reported port %d", port);
	close(pfd);
	unresolvable(c, "tcp.listen");
	cc_close(c);
}

static void
case_accept(void)
{
	struct cc *c = cc_open();
	long long lsock, ids[3], id;
	int port, peers[3] = { -1, -1, -1 }, pfd;
	char buf[2];
	cJSON *a;

	CHECK(c, "cannot connect");
	a = cc_call(c, "tcp.listen", "{\"port\":0}");
	port = (int)j_int(a, "result.local.port");
	lsock = j_int(a, "result.socket");
	cJSON_Delete(a);
	CHECK(port > 0, "listen");
	for (int i = 0; i < 3; i++)
		ids[i] = cc_request(c, "tcp.accept", "{\"socket\":%lld}", lsock);
	CHECK(cc_sync(c, CONFORM_DEADLINE_MS) == 0 && !cc_has_answer(c, ids[0]),
	      "tcp.accept answered before any connection: %s", cc_last_line(c));
	for (int i = 0; i < 3; i++) {
		long long in;

		peers[i] = peer_connect(AF_INET, port);
		CHECK(peers[i] >= 0, "cannot connect to the daemon's listener");
		a = cc_wait(c, ids[i], CONFORM_DEADLINE_MS);
		/* FIFO: the i-th accept gets the i-th connection. */
		CHECK(j_int(a, "result.socket") == lsock && j_int(a, "result.inbound") > lsock &&
		      j_is(a, "result.state", "connected") &&
		      j_int(a, "result.remote.port") == peer_port(peers[i], true) &&
		      j_int(a, "result.local.port") == port,
		      "accept %d (peer port %d): %s", i, peer_port(peers[i], true), j_text(a));
		in = j_int(a, "result.inbound");
		cJSON_Delete(a);
		a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"text\":\"hi\"}", in);
		CHECK(j_int(a, "result.bytes") == 2, "write on the inbound socket: %s", j_text(a));
		cJSON_Delete(a);
		CHECK(peer_recv_all(peers[i], buf, 2, CONFORM_DEADLINE_MS) == 0 &&
		      !memcmp(buf, "hi", 2), "the peer did not receive");
		CHECK(peer_send_all(peers[i], "yo", 2, CONFORM_DEADLINE_MS) == 0, "peer send");
		a = cc_call(c, "tcp.read", "{\"socket\":%lld}", in);
		CHECK(j_is(a, "result.data", "eW8="), "read on the inbound socket: %s", j_text(a));
		cJSON_Delete(a);
		a = cc_call(c, "tcp.info", "{\"socket\":%lld}", in);
		CHECK(j_int(a, "result.port") == peer_port(peers[i], true) &&
		      j_is(a, "result.host", "127.0.0.1") && j_is(a, "result.state", "connected"),
		      "tcp.info of the inbound socket: %s", j_text(a));
		cJSON_Delete(a);
	}
	a = cc_call(c, "tcp.accept", "{\"socket\":%lld,\"timeout\":200}", lsock);
	CHECK(err_code(a) == PROTO_E_TIMEOUT && j_int(a, "error.data.socket") == lsock,
	      "accept timeout: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", lsock);
	CHECK(j_is(a, "result.state", "listening"), "listener after a timeout: %s", j_text(a));
	cJSON_Delete(a);
	/* timeout 0 is no limit. */
	id = cc_request(c, "tcp.accept", "{\"socket\":%lld,\"timeout\":0}", lsock);
	CHECK(cc_sync(c, CONFORM_DEADLINE_MS) == 0 && !cc_has_answer(c, id),
	      "accept with timeout 0 answered at once: %s", cc_last_line(c));
	pfd = peer_connect(AF_INET, port);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	CHECK(j_is(a, "result.state", "connected"), "accept with timeout 0: %s", j_text(a));
	cJSON_Delete(a);
	close(pfd);
	for (int i = 0; i < 3; i++)
		close(peers[i]);
	cc_close(c);
}

/* SO_SNDBUF / SO_RCVBUF as the kernel reports them when asked: doubled, within its maximum. */
static long long
kernel_buf(const char *max_file, long long asked)
{
	FILE *f = fopen(max_file, "r");
	long long max = asked;

	if (f) {
		if (fscanf(f, "%lld", &max) != 1)
			max = asked;
		fclose(f);
	}
	return 2 * (asked < max ? asked : max);
}

/* Whether answer a's socket options (result.options, or result.<path>) are the ones given. */
static bool
opts_are(const cJSON *a, long long idle, long long linger, long long snd, long long rcv)
{
	return j_int(a, "result.options.keepAliveIdle") == idle &&
	       j_int(a, "result.options.linger") == linger &&
	       j_int(a, "result.options.sendBufferSize") ==
	       kernel_buf("/proc/sys/net/core/wmem_max", snd) &&
	       j_int(a, "result.options.receiveBufferSize") ==
	       kernel_buf("/proc/sys/net/core/rmem_max", rcv);
}

/*
 * Socket options: keepAliveIdle, linger and the buffer sizes given at
 * tcp.connect, tcp.setOptions and tcp.accept are the daemon socket's, as
 * tcp.info reports them from the kernel; linger 0 makes tcp.close a reset.
 */
static void
case_socket_options(void)
{
	struct cc *c = cc_open();
	int port, lfd = -1, pfd = -1, in_pfd = -1;
	long long s = 0, ls, id;
	cJSON *a;

	CHECK(c, "cannot connect");
	lfd = peer_listen(AF_INET, 4, &port);
	a = cc_call(c, "tcp.connect", "{\"port\":%d,\"keepAliveIdle\":41,\"linger\":7,"
		    "\"sendBufferSize\":32768,\"receiveBufferSize\":65536}", port);
	s = j_int(a, "result.socket");
	CHECK(s > 0 && j_is(a, "result.state", "connected"), "tcp.connect: %s", j_text(a));
	cJSON_Delete(a);
	pfd = peer_accept(lfd, CONFORM_DEADLINE_MS);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	if (!opts_are(a, 41, 7, 32768, 65536))
		conform_fail(__FILE__, __LINE__, "options given at tcp.connect: %s", j_text(a));
	cJSON_Delete(a);
	if (FAILED())
		goto out;
	a = cc_call(c, "tcp.setOptions", "{\"socket\":%lld,\"keepAliveIdle\":42,\"linger\":0,"
		    "\"sendBufferSize\":16384,\"receiveBufferSize\":20000}", s);
	CHECK(j_int(a, "result.socket") == s, "tcp.setOptions: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	if (!opts_are(a, 42, 0, 16384, 20000))
		conform_fail(__FILE__, __LINE__, "options after tcp.setOptions: %s", j_text(a));
	cJSON_Delete(a);
	if (FAILED())
		goto out;
	/* Leaving out an option leaves it alone. */
	a = cc_call(c, "tcp.setOptions", "{\"socket\":%lld,\"noDelay\":true}", s);
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	if (!opts_are(a, 42, 0, 16384, 20000) || !j_true(a, "result.options.noDelay"))
		conform_fail(__FILE__, __LINE__, "options after noDelay alone: %s", j_text(a));
	cJSON_Delete(a);
	/* linger 0: the graceful close is a reset, even with nothing in flight. */
	a = cc_call(c, "tcp.close", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "closed"), "tcp.close: %s", j_text(a));
	cJSON_Delete(a);
	if (peer_wait_eof(pfd, CONFORM_DEADLINE_MS) != -ECONNRESET)
		conform_fail(__FILE__, __LINE__, "linger 0: the peer did not see a reset");
	if (FAILED())
		goto out;
	/* The inbound socket of tcp.accept. */
	a = cc_call(c, "tcp.listen", "{\"port\":0}");
	ls = j_int(a, "result.socket");
	port = (int)j_int(a, "result.local.port");
	cJSON_Delete(a);
	id = cc_request(c, "tcp.accept", "{\"socket\":%lld,\"timeout\":5000,\"keepAliveIdle\":43,"
			"\"linger\":9,\"sendBufferSize\":24576,\"receiveBufferSize\":49152}", ls);
	in_pfd = peer_connect(AF_INET, port);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	s = j_int(a, "result.inbound");
	CHECK(s > 0, "tcp.accept: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	if (!opts_are(a, 43, 9, 24576, 49152))
		conform_fail(__FILE__, __LINE__, "options given at tcp.accept: %s", j_text(a));
	cJSON_Delete(a);
	/* linger 9 with nothing in flight: FIN at once, close(2) does not wait. */
	a = cc_call(c, "tcp.close", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "closed"), "tcp.close: %s", j_text(a));
	cJSON_Delete(a);
	if (peer_wait_eof(in_pfd, CONFORM_DEADLINE_MS) != 0)
		conform_fail(__FILE__, __LINE__, "linger 9: the peer did not see EOF");
out:
	if (in_pfd >= 0)
		close(in_pfd);
	if (pfd >= 0)
		close(pfd);
	if (lfd >= 0)
		close(lfd);
	cc_close(c);
}

const struct conform_case conform_cases_sockets[] = {
	{ "tcp-create-ids", case_create, false },
	{ "tcp-connect-ipv4", case_connect_ipv4, false },
	{ "tcp-connect-ipv6", case_connect_ipv6, false },
	{ "tcp-connect-localhost", case_connect_name, false },
	{ "tcp-connect-existing", case_connect_existing, false },
	{ "tcp-connect-refused-retry", case_connect_refused_then_retry, false },
	{ "tcp-connect-timeout", case_connect_timeout, false },
	{ "tcp-connect-resolve-failure", case_resolve_failure, false },
	{ "tcp-listen-port0", case_listen_default, false },
	{ "tcp-listen-ipv6", case_listen_ipv6, false },
	{ "tcp-listen-name", case_listen_name, false },
	{ "tcp-accept", case_accept, false },
	{ "tcp-socket-options", case_socket_options, false },
	{ NULL, NULL, false },
};
