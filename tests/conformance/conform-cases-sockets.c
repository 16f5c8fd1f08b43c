/*
 * conform-cases-sockets: creating, connecting, listening, accepting, the
 * state rules, ownership between connections.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"
#include "proto-errors.h"

static void
case_create(void)
{
	struct cc *c = cc_open();
	cJSON *a, *b;

	CHECK(c, "cannot connect");
	a = cc_call(c, "tcp.create", "{\"host\":\"localhost\",\"port\":1234,\"timeout\":500}");
	b = cc_call(c, "tcp.create", NULL);
	CHECK(a && j_int(a, "result.socket") > 0 && j_is(a, "result.state", "initialized"),
	      "tcp.create result");
	CHECK(b && j_int(b, "result.socket") > j_int(a, "result.socket"), "ids do not increase");
	cJSON_Delete(b);
	b = cc_call(c, "tcp.info", "{\"socket\":%lld}", j_int(a, "result.socket"));
	CHECK(b && j_is(b, "result.host", "localhost") && j_int(b, "result.port") == 1234 &&
	      j_int(b, "result.timeout") == 500 && j_int(b, "result.stateCode") == 1,
	      "tcp.info does not show the create params");
	cJSON_Delete(a);
	cJSON_Delete(b);
	cc_close(c);
}

static void
connect_to(int family, const char *host)
{
	int port, lfd = peer_listen(family, 8, &port), pfd;
	struct cc *c = cc_open();
	cJSON *a;
	long long id;

	CHECK(lfd >= 0 && c, "setup");
	id = cc_request(c, "tcp.connect", "{\"host\":\"%s\",\"port\":%d}", host, port);
	pfd = peer_accept(lfd, CONFORM_DEADLINE_MS);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	CHECK(pfd >= 0, "the peer saw no connection");
	CHECK(a && j_is(a, "result.state", "connected") && j_int(a, "result.socket") > 0,
	      "connect to %s failed", host);
	CHECK(j_int(a, "result.remote.port") == port && j_is(a, "result.remote.family",
	      family == AF_INET6 ? "ipv6" : "ipv4") && j_int(a, "result.local.port") > 0,
	      "endpoints wrong");
	cJSON_Delete(a);
	close(pfd);
	close(lfd);
	cc_close(c);
}

static void case_connect_ipv4(void) { connect_to(AF_INET, "127.0.0.1"); }
static void case_connect_ipv6(void) { connect_to(AF_INET6, "::1"); }
static void case_connect_name(void) { connect_to(AF_INET, "localhost"); }

static void
case_connect_refused_then_retry(void)
{
	int port = peer_closed_port(), lfd;
	struct cc *c = cc_open();
	long long sock;
	cJSON *a;

	CHECK(c, "cannot connect");
	a = cc_call(c, "tcp.connect", "{\"port\":%d}", port);
	CHECK(a && err_code(a) == PROTO_E_NETWORK && j_is(a, "error.data.errname", "ECONNREFUSED")
	      && j_int(a, "error.data.errno") > 0 && j_str(a, "error.data.message"),
	      "refused connect is not -32011 ECONNREFUSED");
	sock = j_int(a, "error.data.socket");
	CHECK(sock > 0, "the created socket's id is not in data.socket");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", sock);
	CHECK(a && j_is(a, "result.state", "error") && j_int(a, "result.stateCode") == 5,
	      "state after a failed connect is not error");
	cJSON_Delete(a);
	/* A failed socket may connect again. */
	lfd = peer_listen(AF_INET, 8, &port);
	a = cc_call(c, "tcp.connect", "{\"socket\":%lld,\"port\":%d}", sock, port);
	CHECK(a && j_is(a, "result.state", "connected") && j_int(a, "result.socket") == sock,
	      "retry from error failed");
	cJSON_Delete(a);
	close(lfd);
	cc_close(c);
}

static void
case_connect_timeout(void)
{
	int port, lfd = peer_listen(AF_INET, 0, &port), fill[4];
	struct cc *c = cc_open();
	long long t0;
	cJSON *a;

	CHECK(lfd >= 0 && c, "setup");
	/* Fill the backlog of a listener that never accepts. */
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		(void)connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	t0 = conform_now_ms();
	a = cc_call(c, "tcp.connect", "{\"port\":%d,\"timeout\":300}", port);
	CHECK(a && err_code(a) == PROTO_E_TIMEOUT, "connect to a full backlog did not time out");
	CHECK(conform_now_ms() - t0 >= 250, "timed out too early");
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
	cJSON *a;

	CHECK(c, "cannot connect");
	a = cc_call(c, "tcp.connect", "{\"host\":\"nonexistent.invalid\",\"port\":80}");
	CHECK(a && err_code(a) == PROTO_E_RESOLVE && j_str(a, "error.data.resolver") &&
	      j_int(a, "error.data.socket") > 0, "unresolvable name is not -32010 with resolver");
	cJSON_Delete(a);
	cc_close(c);
}

static void
case_listen_accept(void)
{
	struct cc *c = cc_open();
	long long lsock, ids[3];
	int port, peers[3];
	cJSON *a;

	CHECK(c, "cannot connect");
	a = cc_call(c, "tcp.listen", "{\"port\":0}");
	CHECK(a && j_is(a, "result.state", "listening"), "listen failed");
	port = (int)j_int(a, "result.local.port");
	lsock = j_int(a, "result.socket");
	CHECK(port > 0, "port 0 did not report the chosen port");
	cJSON_Delete(a);
	for (int i = 0; i < 3; i++)
		ids[i] = cc_request(c, "tcp.accept", "{\"socket\":%lld}", lsock);
	for (int i = 0; i < 3; i++) {
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin);

		peers[i] = peer_connect(AF_INET, port);
		CHECK(peers[i] >= 0, "cannot connect to the daemon's listener");
		getsockname(peers[i], (struct sockaddr *)&sin, &len);
		a = cc_wait(c, ids[i], CONFORM_DEADLINE_MS);
		/* FIFO: the i-th accept gets the i-th connection. */
		CHECK(a && j_int(a, "result.socket") == lsock && j_int(a, "result.inbound") > lsock &&
		      j_is(a, "result.state", "connected") &&
		      j_int(a, "result.remote.port") == ntohs(sin.sin_port),
		      "accept %d did not get connection %d", i, i);
		long long in = j_int(a, "result.inbound");

		cJSON_Delete(a);
		a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"text\":\"hi\"}", in);
		CHECK(a && j_int(a, "result.bytes") == 2, "inbound socket cannot write");
		cJSON_Delete(a);
		char buf[2];

		CHECK(peer_recv_all(peers[i], buf, 2, CONFORM_DEADLINE_MS) == 0 &&
		      !memcmp(buf, "hi", 2), "peer did not receive");
		a = cc_call(c, "tcp.info", "{\"socket\":%lld}", in);
		CHECK(a && j_int(a, "result.port") == ntohs(sin.sin_port) &&
		      j_is(a, "result.host", "127.0.0.1"),
		      "inbound host/port are not the peer's");
		cJSON_Delete(a);
	}
	a = cc_call(c, "tcp.accept", "{\"socket\":%lld,\"timeout\":200}", lsock);
	CHECK(a && err_code(a) == PROTO_E_TIMEOUT, "accept timeout is not -32006");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", lsock);
	CHECK(a && j_is(a, "result.state", "listening"), "listener not listening after timeout");
	cJSON_Delete(a);
	for (int i = 0; i < 3; i++)
		close(peers[i]);
	cc_close(c);
}

static void
case_states(void)
{
	struct cc *c = cc_open();
	long long s, l;
	cJSON *a;

	CHECK(c, "cannot connect");
	a = cc_call(c, "tcp.create", NULL);
	s = j_int(a, "result.socket");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
	CHECK(a && err_code(a) == PROTO_E_INVALID_STATE && j_is(a, "error.data.state",
	      "initialized") && j_int(a, "error.data.socket") == s,
	      "read on an initialized socket is not -32002 state initialized");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.accept", "{\"socket\":%lld}", s);
	CHECK(a && err_code(a) == PROTO_E_INVALID_STATE, "accept on initialized");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.listen", "{\"port\":0}");
	l = j_int(a, "result.socket");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"text\":\"x\"}", l);
	CHECK(a && err_code(a) == PROTO_E_INVALID_STATE && j_is(a, "error.data.state",
	      "listening"), "write on a listener is not -32002 state listening");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.close", "{\"socket\":%lld}", l);
	CHECK(a && j_is(a, "result.state", "closed"), "close");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.close", "{\"socket\":%lld}", l);
	CHECK(a && j_is(a, "result.state", "closed"), "closing twice does not succeed");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.accept", "{\"socket\":%lld}", l);
	CHECK(a && err_code(a) == PROTO_E_INVALID_STATE && j_is(a, "error.data.state", "closed"),
	      "accept on a closed socket is not -32002 state closed");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", l);
	CHECK(a && j_int(a, "result.stateCode") == 4, "info on a closed socket");
	cJSON_Delete(a);
	cc_close(c);
}

static void
case_ownership(void)
{
	struct cc *c1 = cc_open(), *c2 = cc_open();
	long long s;
	cJSON *a, *b;
	char *ja, *jb;

	CHECK(c1 && c2, "cannot connect");
	a = cc_call(c1, "tcp.create", NULL);
	s = j_int(a, "result.socket");
	cJSON_Delete(a);
	/* Another connection gets exactly the answer of an id that never existed. */
	a = cc_call(c2, "tcp.close", "{\"socket\":%lld}", s);
	b = cc_call(c2, "tcp.close", "{\"socket\":%lld}", s + 1000000);
	CHECK(a && b && err_code(a) == PROTO_E_NO_SOCKET && j_int(a, "error.data.socket") == s,
	      "foreign id is not -32001");
	cJSON_DeleteItemFromObject(a, "id");
	cJSON_DeleteItemFromObject(b, "id");
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(a, "error"), "data", cJSON_CreateNull());
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(b, "error"), "data", cJSON_CreateNull());
	ja = cJSON_PrintUnformatted(a);
	jb = cJSON_PrintUnformatted(b);
	CHECK(!strcmp(ja, jb), "foreign and unknown ids answer differently: %s vs %s", ja, jb);
	free(ja);
	free(jb);
	cJSON_Delete(a);
	cJSON_Delete(b);
	a = cc_call(c2, "tcp.list", NULL);
	CHECK(a && cJSON_GetArraySize(j_get(a, "result.sockets")) == 0,
	      "tcp.list shows another connection's sockets");
	cJSON_Delete(a);
	a = cc_call(c1, "tcp.list", NULL);
	CHECK(a && cJSON_GetArraySize(j_get(a, "result.sockets")) == 1 &&
	      j_int(cJSON_GetArrayItem(j_get(a, "result.sockets"), 0), "socket") == s,
	      "tcp.list does not show the connection's own socket");
	cJSON_Delete(a);
	a = cc_call(c1, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(a && j_is(a, "result.state", "initialized"), "the owner lost its socket");
	cJSON_Delete(a);
	cc_close(c1);
	cc_close(c2);
}

static void
case_set_options(void)
{
	struct cc *c = cc_open();
	cJSON *a;
	long long s;

	CHECK(c, "cannot connect");
	a = cc_call(c, "tcp.create", NULL);
	s = j_int(a, "result.socket");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.setOptions", "{\"socket\":%lld,\"noDelay\":true,\"keepAlive\":true,"
		    "\"keepAliveIdle\":30,\"timeout\":1234}", s);
	CHECK(a && j_int(a, "result.socket") == s, "setOptions failed");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(a && j_int(a, "result.timeout") == 1234, "setOptions timeout not kept");
	cJSON_Delete(a);
	cc_close(c);
}

const struct conform_case conform_cases_sockets[] = {
	{ "tcp-create", case_create, false },
	{ "tcp-connect-ipv4", case_connect_ipv4, false },
	{ "tcp-connect-ipv6", case_connect_ipv6, false },
	{ "tcp-connect-name", case_connect_name, false },
	{ "tcp-connect-refused-retry", case_connect_refused_then_retry, false },
	{ "tcp-connect-timeout", case_connect_timeout, false },
	{ "tcp-connect-resolve-failure", case_resolve_failure, true },
	{ "tcp-listen-accept", case_listen_accept, false },
	{ "states", case_states, false },
	{ "ownership", case_ownership, false },
	{ "tcp-set-options", case_set_options, false },
	{ NULL, NULL, false },
};
