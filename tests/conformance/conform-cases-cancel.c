/*
 * Conformance cases: rpc.cancel (doc/PROTOCOL.md, rpc.cancel).
 *
 * Each pending kind is cancelled and the socket is used again after; ids
 * are matched as JSON values; and a cancel crossing the request's own
 * completion yields exactly one answer for the request.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"
#include "conform-client.h"
#include "conform-peer.h"
#include "proto-base64.h"
#include "proto-errors.h"

#define RACE_ROUNDS	40
#define WRITE_CHUNK	(512 << 10)	/* bytes per tcp.write: its line under maxMessageBytes */
#define WRITE_MAX	48		/* of those at most (24 MiB), before one must wait */

/* The next line must be the -32800 answer to raw id `id` on socket s. */
static bool
next_is_cancelled(struct cc *c, const char *id, long long s)
{
	cJSON *a = cc_read(c, CONFORM_DEADLINE_MS);
	cJSON *want = cJSON_Parse(id);
	bool ok = a && want && cJSON_Compare(j_get(a, "id"), want, true) &&
		  err_code(a) == PROTO_E_CANCELLED &&
		  j_is(a, "error.message", "request cancelled") &&
		  j_int(a, "error.data.socket") == s;

	if (!ok)
		conform_fail(__FILE__, __LINE__, "expected -32800 for id %s on socket %lld, got %s",
			     id, s, a ? j_text(a) : "nothing");
	cJSON_Delete(a);
	cJSON_Delete(want);
	return ok;
}

/* The next line must answer raw id `id` with {"cancelled": want}. */
static bool
next_is_cancel(struct cc *c, const char *id, bool want)
{
	cJSON *a = cc_read(c, CONFORM_DEADLINE_MS);
	cJSON *wid = cJSON_Parse(id);
	const cJSON *v = j_get(a, "result.cancelled");
	bool ok = a && wid && cJSON_Compare(j_get(a, "id"), wid, true) && cJSON_IsBool(v) &&
		  cJSON_IsTrue(v) == want;

	if (!ok)
		conform_fail(__FILE__, __LINE__, "expected {\"cancelled\":%s} for id %s, got %s",
			     want ? "true" : "false", id, a ? j_text(a) : "nothing");
	cJSON_Delete(a);
	cJSON_Delete(wid);
	return ok;
}

/* Sends one raw request line. */
static bool
send_req(struct cc *c, const char *id, const char *method, const char *params)
{
	char line[512];

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"%s\",\"params\":%s}",
		 id, method, params);
	return cc_send_line(c, line) == 0;
}

/* A pending read is withdrawn; the bytes sent after go to the next read. */
static void
case_cancel_read(void)
{
	struct cc *c = cc_open();
	int peer = -1;
	long long s = c ? cc_pair(c, &peer) : -1;
	char p[64];
	cJSON *a;

	CHECK(c && s > 0, "setup");
	snprintf(p, sizeof(p), "{\"socket\":%lld}", s);
	CHECK(send_req(c, "\"r1\"", "tcp.read", p), "send");
	CHECK(send_req(c, "\"c1\"", "rpc.cancel", "{\"id\":\"r1\"}"), "send");
	if (!next_is_cancelled(c, "\"r1\"", s) || !next_is_cancel(c, "\"c1\"", true))
		return;
	/* Cancelling it again: it is over. */
	CHECK(send_req(c, "\"c2\"", "rpc.cancel", "{\"id\":\"r1\"}"), "send");
	if (!next_is_cancel(c, "\"c2\"", false))
		return;
	CHECK(peer_send_all(peer, "after", 5, CONFORM_DEADLINE_MS) == 0, "peer send");
	a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
	CHECK(j_int(a, "result.bytes") == 5 && j_is(a, "result.data", "YWZ0ZXI="),
	      "the read after a cancelled one: %s", j_text(a));
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

/* A pending accept is withdrawn; the next accept takes the connection. */
static void
case_cancel_accept(void)
{
	struct cc *c = cc_open();
	long long s, id;
	int port, pfd;
	char p[64];
	cJSON *a;

	CHECK(c, "cannot connect");
	a = cc_call(c, "tcp.listen", "{\"port\":0}");
	s = j_int(a, "result.socket");
	port = (int)j_int(a, "result.local.port");
	cJSON_Delete(a);
	CHECK(s > 0, "listen");
	snprintf(p, sizeof(p), "{\"socket\":%lld}", s);
	CHECK(send_req(c, "11", "tcp.accept", p), "send");
	CHECK(send_req(c, "12", "rpc.cancel", "{\"id\":11}"), "send");
	if (!next_is_cancelled(c, "11", s) || !next_is_cancel(c, "12", true))
		return;
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "listening"), "after a cancelled accept: %s", j_text(a));
	cJSON_Delete(a);
	pfd = peer_connect(AF_INET, port);
	CHECK(pfd >= 0, "peer connect");
	id = cc_request(c, "tcp.accept", "{\"socket\":%lld,\"timeout\":%d}", s, CONFORM_DEADLINE_MS);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	CHECK(j_int(a, "result.inbound") > 0, "the accept after a cancelled one: %s", j_text(a));
	cJSON_Delete(a);
	close(pfd);
	cc_close(c);
}

/*
 * A connect to a listener whose backlog is full hangs; cancelled, the
 * socket is back in initialized and connects again elsewhere.
 */
static void
case_cancel_connect(void)
{
	int port, lfd = peer_listen(AF_INET, 0, &port), fill[4], port2, lfd2, pfd;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct cc *c = cc_open();
	long long s, id;
	char p[96];
	cJSON *a;

	CHECK(lfd >= 0 && c, "setup");
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		(void)connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	s = cc_create(c);
	CHECK(s > 0, "create");
	snprintf(p, sizeof(p), "{\"socket\":%lld,\"port\":%d,\"timeout\":0}", s, port);
	CHECK(send_req(c, "21", "tcp.connect", p), "send");
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "connecting"), "a connect to a full backlog: %s",
	      j_text(a));
	cJSON_Delete(a);
	CHECK(send_req(c, "22", "rpc.cancel", "{\"id\":21}"), "send");
	if (!next_is_cancelled(c, "21", s) || !next_is_cancel(c, "22", true))
		return;
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "initialized") && j_int(a, "result.stateCode") == 1,
	      "after a cancelled connect: %s", j_text(a));
	cJSON_Delete(a);
	lfd2 = peer_listen(AF_INET, 4, &port2);
	CHECK(lfd2 >= 0, "listen");
	id = cc_request(c, "tcp.connect", "{\"socket\":%lld,\"port\":%d}", s, port2);
	pfd = peer_accept(lfd2, CONFORM_DEADLINE_MS);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	CHECK(j_is(a, "result.state", "connected"), "connect after a cancelled one: %s",
	      j_text(a));
	cJSON_Delete(a);
	if (pfd >= 0)
		close(pfd);
	close(lfd2);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
	cc_close(c);
}

/* Reads fd to its end: byte count, and the last 3 bytes in tail. */
static long long
drain(int fd, char tail[3], int timeout_ms)
{
	long long end = conform_now_ms() + timeout_ms, total = 0;
	static char buf[65536];

	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int left = (int)(end - conform_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&pf, 1, left) <= 0)
			return -1;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return -1;
		if (n == 0)
			return total;
		if (n >= 3) {
			memcpy(tail, buf + n - 3, 3);
		} else {
			memmove(tail, tail + n, (size_t)(3 - n));
			memcpy(tail + 3 - n, buf, (size_t)n);
		}
		total += n;
	}
}

/*
 * A write to a peer that does not read stays pending; cancelled, it says
 * how much of it went (written) and the peer gets exactly the bytes of
 * the answered writes, that much of it, and what is written after.
 */
static void
case_cancel_write(void)
{
	struct cc *c = cc_open();
	int peer = -1;
	long long s = c ? cc_pair(c, &peer) : -1, ids[WRITE_MAX], expect = 0, written, got;
	size_t b64len = proto_base64_encoded_len(WRITE_CHUNK);
	char *payload = malloc(WRITE_CHUNK), *b64 = malloc(b64len + 1), tail[3] = { 0 };
	int n = 0;
	cJSON *a;

	CHECK(c && s > 0 && payload && b64, "setup");
	fill_random(payload, WRITE_CHUNK, 7);
	proto_base64_encode(b64, payload, WRITE_CHUNK);
	b64[b64len] = '\0';
	/* Writes until one waits (the peer reads nothing). */
	for (;;) {
		CHECK(n < WRITE_MAX, "%d writes of 512 KiB and none waits", n);
		ids[n++] = cc_request(c, "tcp.write", "{\"socket\":%lld,\"data\":\"%s\"}", s, b64);
		a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
		got = j_int(a, "result.pendingWriteBytes");
		cJSON_Delete(a);
		if (got > 0)
			break;
	}
	for (int i = 0; i < n - 1; i++) {
		a = cc_wait(c, ids[i], CONFORM_DEADLINE_MS);
		CHECK(j_int(a, "result.bytes") == WRITE_CHUNK, "write %d: %s", i, j_text(a));
		cJSON_Delete(a);
		expect += WRITE_CHUNK;
	}
	a = cc_call(c, "rpc.cancel", "{\"id\":%lld}", ids[n - 1]);
	CHECK(j_true(a, "result.cancelled"), "cancel of a waiting write: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(cc_has_answer(c, ids[n - 1]), "the -32800 did not come before the cancel's answer");
	a = cc_wait(c, ids[n - 1], CONFORM_DEADLINE_MS);
	written = j_int(a, "error.data.written");
	CHECK(err_code(a) == PROTO_E_CANCELLED && written >= 0 && written < WRITE_CHUNK &&
	      j_int(a, "error.data.undeliveredBytes") == WRITE_CHUNK - written,
	      "a cancelled write: %s", j_text(a));
	cJSON_Delete(a);
	expect += written;
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_int(a, "result.pendingWriteBytes") == 0, "after the cancel: %s", j_text(a));
	cJSON_Delete(a);
	/* The socket still writes: END follows the bytes that went, once the peer reads. */
	ids[0] = cc_request(c, "tcp.write", "{\"socket\":%lld,\"text\":\"END\"}", s);
	ids[1] = cc_request(c, "tcp.shutdown", "{\"socket\":%lld}", s);
	got = drain(peer, tail, 4 * CONFORM_DEADLINE_MS);
	CHECK(got == expect + 3 && memcmp(tail, "END", 3) == 0,
	      "the peer got %lld bytes, expected %lld answered + written + 3 (tail %.3s)", got,
	      expect + 3, tail);
	a = cc_wait(c, ids[0], CONFORM_DEADLINE_MS);
	CHECK(j_int(a, "result.bytes") == 3, "a write after the cancel: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_wait(c, ids[1], CONFORM_DEADLINE_MS);
	CHECK(a && !j_get(a, "error"), "shutdown: %s", j_text(a));
	cJSON_Delete(a);
	conform_log("cancelled write: %d writes, %lld of the last had gone", n, written);
	free(payload);
	free(b64);
	close(peer);
	cc_close(c);
}

/*
 * Ids are JSON values: "1" is not 1, "\u0031" is "1", 5.0 is 5; unknown
 * and finished ids are no-ops; in a batch, a cancel reaches a request of
 * the same batch.
 */
static void
case_cancel_ids(void)
{
	struct cc *c = cc_open();
	int peer = -1;
	long long s = c ? cc_pair(c, &peer) : -1;
	char p[64], line[512];
	cJSON *a;

	CHECK(c && s > 0, "setup");
	snprintf(p, sizeof(p), "{\"socket\":%lld}", s);
	CHECK(send_req(c, "\"1\"", "tcp.read", p), "send");
	CHECK(send_req(c, "31", "rpc.cancel", "{\"id\":1}"), "send");
	if (!next_is_cancel(c, "31", false))
		return;
	CHECK(send_req(c, "32", "rpc.cancel", "{\"id\":\"\\u0031\"}"), "send");
	if (!next_is_cancelled(c, "\"1\"", s) || !next_is_cancel(c, "32", true))
		return;
	CHECK(send_req(c, "5.0", "tcp.read", p), "send");
	CHECK(send_req(c, "33", "rpc.cancel", "{\"id\":\"5\"}"), "send");
	if (!next_is_cancel(c, "33", false))
		return;
	CHECK(send_req(c, "34", "rpc.cancel", "{\"id\":5}"), "send");
	if (!next_is_cancelled(c, "5.0", s) || !next_is_cancel(c, "34", true))
		return;
	/* Unknown, finished. */
	CHECK(send_req(c, "35", "rpc.cancel", "{\"id\":\"never-sent\"}"), "send");
	if (!next_is_cancel(c, "35", false))
		return;
	a = cc_call(c, "tcp.list", NULL);
	cJSON_Delete(a);
	CHECK(send_req(c, "36", "tcp.list", "{}"), "send");
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(j_int(a, "id") == 36, "tcp.list: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(send_req(c, "37", "rpc.cancel", "{\"id\":36}"), "send");
	if (!next_is_cancel(c, "37", false))
		return;
	/* null is no id to cancel by. */
	a = cc_call(c, "rpc.cancel", "{\"id\":null}");
	CHECK(err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.param", "id"),
	      "rpc.cancel {id: null}: %s", j_text(a));
	cJSON_Delete(a);
	/* A batch: the read and its cancel, answered in one array. */
	snprintf(line, sizeof(line), "[{\"jsonrpc\":\"2.0\",\"id\":\"b1\",\"method\":\"tcp.read\","
		 "\"params\":%s},{\"jsonrpc\":\"2.0\",\"id\":\"b2\",\"method\":\"rpc.cancel\","
		 "\"params\":{\"id\":\"b1\"}}]", p);
	CHECK(cc_send_line(c, line) == 0, "send");
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(cJSON_GetArraySize(a) == 2 &&
	      err_code(cJSON_GetArrayItem(a, 0)) == PROTO_E_CANCELLED &&
	      j_is(cJSON_GetArrayItem(a, 0), "id", "b1") &&
	      j_true(cJSON_GetArrayItem(a, 1), "result.cancelled"),
	      "a batch cancelling its own read: %s", j_text(a));
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

/*
 * Races: the peer's bytes and the cancel arrive together, or the request
 * and its cancel come in one write.  Each request gets exactly one
 * answer, the cancel says true exactly when it was -32800, and no byte
 * is lost.
 */
static void
case_cancel_races(void)
{
	struct cc *c = cc_open();
	int peer = -1, cancelled = 0;
	long long s = c ? cc_pair(c, &peer) : -1, pending = 0;
	char buf[1024];
	cJSON *a, *r;

	CHECK(c && s > 0, "setup");
	for (int i = 0; i < RACE_ROUNDS; i++) {
		long long rid = 100000 + 2 * i, cid = rid + 1;
		bool write = i % 4 == 3;
		int n = 0;

		if (i % 2 == 0) {
			/* The read waits; the peer's byte and the cancel cross. */
			n = snprintf(buf, sizeof(buf), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":"
				     "\"tcp.read\",\"params\":{\"socket\":%lld,\"length\":1}}\n", rid, s);
			CHECK(cc_send_raw(c, buf, (size_t)n) == 0, "send");
			a = cc_call(c, "tcp.list", NULL);	/* the read is queued now */
			cJSON_Delete(a);
			CHECK(peer_send_all(peer, "x", 1, CONFORM_DEADLINE_MS) == 0, "peer send");
			pending++;
			n = 0;
		} else if (!write) {
			/* The read and its cancel in one write, the bytes already there. */
			CHECK(peer_send_all(peer, "y", 1, CONFORM_DEADLINE_MS) == 0, "peer send");
			pending++;
			n = snprintf(buf, sizeof(buf), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":"
				     "\"tcp.read\",\"params\":{\"socket\":%lld,\"length\":1}}\n", rid, s);
		} else {
			/* A write and its cancel in one write. */
			n = snprintf(buf, sizeof(buf), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":"
				     "\"tcp.write\",\"params\":{\"socket\":%lld,\"text\":\"w\"}}\n",
				     rid, s);
		}
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "{\"jsonrpc\":\"2.0\",\"id\":%lld,"
			      "\"method\":\"rpc.cancel\",\"params\":{\"id\":%lld}}\n", cid, rid);
		CHECK(cc_send_raw(c, buf, (size_t)n) == 0, "send");
		a = cc_wait(c, cid, CONFORM_DEADLINE_MS);
		r = cc_wait(c, rid, CONFORM_DEADLINE_MS);
		CHECK(a && r, "round %d: cancel %s, request %s", i, j_text(a), j_text(r));
		if (j_true(a, "result.cancelled")) {
			CHECK(err_code(r) == PROTO_E_CANCELLED, "round %d: cancelled, yet %s", i,
			      j_text(r));
			cancelled++;
		} else {
			CHECK(!j_get(r, "error") && j_int(r, "result.bytes") == 1,
			      "round %d: not cancelled, yet %s", i, j_text(r));
			if (!write)
				pending--;
		}
		cJSON_Delete(a);
		cJSON_Delete(r);
		/* Nothing more for either id. */
		a = cc_call(c, "tcp.list", NULL);
		cJSON_Delete(a);
		CHECK(!cc_has_answer(c, rid) && !cc_has_answer(c, cid), "round %d: a second answer",
		      i);
	}
	/* The bytes of the cancelled reads are all still there. */
	if (pending > 0) {
		a = cc_call(c, "tcp.read", "{\"socket\":%lld,\"length\":%lld}", s, pending);
		while (a && j_int(a, "result.bytes") > 0 && j_int(a, "result.bytes") < pending) {
			pending -= j_int(a, "result.bytes");
			cJSON_Delete(a);
			a = cc_call(c, "tcp.read", "{\"socket\":%lld,\"length\":%lld}", s, pending);
		}
		CHECK(j_int(a, "result.bytes") == pending, "left over bytes: %s", j_text(a));
		cJSON_Delete(a);
	}
	conform_log("races: %d of %d cancelled", cancelled, RACE_ROUNDS);
	close(peer);
	cc_close(c);
}

const struct conform_case conform_cases_cancel[] = {
	{ "cancel-read", case_cancel_read, false },
	{ "cancel-accept", case_cancel_accept, false },
	{ "cancel-connect", case_cancel_connect, false },
	{ "cancel-write", case_cancel_write, false },
	{ "cancel-ids", case_cancel_ids, false },
	{ "cancel-races", case_cancel_races, false },
	{ NULL, NULL, false },
};
