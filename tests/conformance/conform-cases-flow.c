/*
 * conform-cases-flow: backpressure (nothing lost, memory bounded, peers
 * throttled), request floods, vanished clients.  The slow-reader case
 * needs the small budget that --daemon configures.
 */
#include "config.h"

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
#include "proto-methods.h"

#define STILL_MS	500		/* the peer made no progress for this long: blocked */
#define SAMPLE_MS	50		/* how often the peer's progress is looked at */
#define STALL_DEADLINE_MS 60000		/* the peer must be blocked by then */
#define KERNEL_SLACK	(32u << 20)	/* socket buffers on both sides, generous */
#define FLOOD_N		100000		/* requests of the flooding client */
#define FLOOD_N_WRAPPED	20000		/* ... under valgrind */
#define OTHER_MS	2000		/* another client's round trip during a flood */
#define VANISH_CHUNK	(64u << 10)	/* decoded bytes per write of the vanishing client */
#define VANISH_MAX	256		/* chunks at most (16 MiB) */
#define VANISH_RCVBUF	(256 << 10)	/* the peer's fixed receive buffer */
#define VANISH_EXTRA	8		/* chunks written after the daemon began to hold some */
#define VANISH_PACE_MS	2		/* then it reads 64 KiB per 2 ms */

/*
 * A client pumps a socket whose peer sends without pause, then stops
 * reading its control socket: the peer must block (TCP flow control) with
 * a bounded amount sent; once the client reads again every byte arrives
 * in order.
 */
static void
case_slow_reader(void)
{
	const size_t bound = (size_t)C->limits.client_budget + KERNEL_SLACK;
	const size_t total = bound + (16u << 20);
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), end;
	struct source *src;
	struct hash sent, got;
	char *buf = malloc(PROTO_CHUNK_MAX);
	size_t before, after;
	long long stalled;
	bool eof = false, waiting, blocked = false;
	cJSON *a;

	CHECK(s > 0 && buf, "setup");
	hash_init(&got);
	src = source_start(peer, total, 99);
	CHECK(src, "no source thread");
	a = cc_call(c, "tcp.pump", "{\"socket\":%lld}", s);
	CHECK(j_true(a, "result.pumping"), "pump on: %s", j_text(a));
	cJSON_Delete(a);
	/*
	 * The scenario: not reading the control socket until the peer has
	 * made no progress for STILL_MS while blocked in send(), or has sent
	 * everything (flow control broken), within STALL_DEADLINE_MS.  What
	 * it sent by then is the figure to bound; a loaded machine only makes
	 * the wait longer.
	 */
	before = source_sent(src);
	stalled = conform_now_ms();
	end = stalled + STALL_DEADLINE_MS;
	for (;;) {
		long long now;

		(void)poll(NULL, 0, SAMPLE_MS);
		now = conform_now_ms();
		after = source_sent(src);
		waiting = source_waiting(src);
		if (after != before || !waiting) {
			before = after;
			stalled = now;
		} else if (now - stalled >= STILL_MS) {
			blocked = true;
			break;
		}
		if (after >= total || now >= end)
			break;
	}
	CHECK(after < total, "all %zu bytes went through while the client read nothing", total);
	CHECK(blocked, "the peer is not blocked after %d ms without "
	      "reading: sent %zu", STALL_DEADLINE_MS, after);
	CHECK(after < bound, "the peer sent %zu bytes while the client read nothing (bound %zu)",
	      after, bound);
	end = conform_now_ms() + 120000;
	while (!eof && conform_now_ms() < end) {
		a = cc_note(c, "tcp.data", CONFORM_DEADLINE_MS);
		CHECK(a, "tcp.data stopped after %llu bytes", (unsigned long long)got.len);
		if (j_int(a, "params.bytes") == -1) {
			eof = true;
		} else {
			const char *d = j_str(a, "params.data");
			ssize_t n = d ? proto_base64_decode(buf, d, strlen(d)) : -1;

			CHECK(n > 0, "bad chunk: %s", j_text(a));
			hash_add(&got, buf, (size_t)n);
		}
		cJSON_Delete(a);
	}
	CHECK(source_join(src, &sent, CONFORM_DEADLINE_MS) == 0, "the source failed");
	CHECK(eof && hash_eq(&got, &sent), "after the pause: got %llu bytes, sent %llu "
	      "(blocked at %zu)", (unsigned long long)got.len, (unsigned long long)sent.len, after);
	if (C->verbose)
		conform_log("peer blocked at %zu bytes (bound %zu)", after, bound);
	free(buf);
	close(peer);
	cc_close(c);
}

/* Sends what the socket takes now, without waiting.  Returns the new offset. */
static size_t
push(struct cc *c, const char *p, size_t at, size_t len)
{
	while (at < len) {
		ssize_t k = send(cc_fd(c), p + at, len - at, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (k <= 0)
			break;
		at += (size_t)k;
	}
	return at;
}

/*
 * A client floods tcp.info requests without reading answers; another
 * client is served meanwhile; then the flooder reads every answer.
 */
static void
case_request_flood(void)
{
	const char *wrap = getenv("TISOCK_DAEMON_WRAPPER");
	int n = wrap && *wrap ? FLOOD_N_WRAPPED : FLOOD_N;
	struct cc *flood = cc_open(), *other = cc_open();
	unsigned char *seen = calloc((size_t)n + 1, 1);
	char *lines = malloc((size_t)n * 96);
	size_t len = 0, sent;
	long long s, t0;
	int got = 0;
	cJSON *a;

	CHECK(flood && other && seen && lines, "setup");
	s = cc_create(flood);
	for (int i = 1; i <= n; i++)
		len += (size_t)sprintf(lines + len, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":"
				       "\"tcp.info\",\"params\":{\"socket\":%lld}}\n", i, s);
	sent = push(flood, lines, 0, len);
	t0 = conform_now_ms();
	a = cc_call(other, "daemon.info", NULL);
	CHECK(j_get(a, "result") && conform_now_ms() - t0 < OTHER_MS,
	      "another client is not served within %d ms during a flood: %s", OTHER_MS,
	      j_text(a));
	cJSON_Delete(a);
	for (long long end = conform_now_ms() + 120000; got < n && conform_now_ms() < end;) {
		cJSON *m;
		long long id;

		sent = push(flood, lines, sent, len);
		m = cc_read(flood, 200);
		if (!m)
			continue;
		id = j_int(m, "id");
		CHECK(id >= 1 && id <= n && !seen[id] && j_int(m, "result.socket") == s,
		      "flood answer %d: %s", got, j_text(m));
		seen[id] = 1;
		cJSON_Delete(m);
		got++;
	}
	CHECK(got == n, "the flooding client got %d of %d answers", got, n);
	free(lines);
	free(seen);
	cc_close(flood);
	cc_close(other);
}

/*
 * A client writes to a socket whose peer does not read (a small fixed
 * receive buffer), one chunk at a time, until tcp.info shows bytes the
 * daemon holds (pendingWriteBytes > 0; every write before the tcp.info is
 * accepted then), and vanishes.  The peer then reads (slowly) and must
 * get every accepted byte, then FIN.
 */
static void
case_vanished_client(void)
{
	int rcvbuf = VANISH_RCVBUF, port, lfd = peer_listen(AF_INET, 4, &port), peer = -1;
	struct cc *c = cc_open();
	char *raw = malloc(VANISH_CHUNK), *b64 = malloc(proto_base64_encoded_len(VANISH_CHUNK) + 1);
	long long s, id, pending = 0;
	int extra;
	struct hash sent, got;
	struct sink *sk;
	size_t k;
	cJSON *a;

	CHECK(lfd >= 0 && c && raw && b64, "setup");
	(void)setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	id = cc_request(c, "tcp.connect", "{\"port\":%d}", port);
	peer = peer_accept(lfd, CONFORM_DEADLINE_MS);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	s = j_int(a, "result.socket");
	cJSON_Delete(a);
	close(lfd);
	CHECK(s > 0 && peer >= 0, "setup");
	hash_init(&sent);
	/* Until the kernel is full, then VANISH_EXTRA chunks more (under the budget). */
	for (k = 0, extra = 0; k < VANISH_MAX && extra <= VANISH_EXTRA; k++) {
		extra += pending > 0;
		fill_random(raw, VANISH_CHUNK, 500 + k);
		hash_add(&sent, raw, VANISH_CHUNK);
		proto_base64_encode(b64, raw, VANISH_CHUNK);
		b64[proto_base64_encoded_len(VANISH_CHUNK)] = '\0';
		CHECK(cc_request(c, "tcp.write", "{\"socket\":%lld,\"data\":\"%s\"}", s, b64) > 0,
		      "send failed");
		if (pending > 0 && extra <= VANISH_EXTRA)
			continue;
		a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
		pending = j_int(a, "result.pendingWriteBytes");
		CHECK(j_int(a, "result.bytesWritten") + pending == (long long)(VANISH_CHUNK * (k + 1)),
		      "not every write before tcp.info was accepted: %s", j_text(a));
		cJSON_Delete(a);
	}
	CHECK(pending > 0, "%zu bytes written and the daemon never held any: the kernel took all",
	      k * VANISH_CHUNK);
	if (C->verbose)
		conform_log("vanishing after %zu bytes with %lld pending", k * VANISH_CHUNK, pending);
	cc_close(c);
	sk = sink_start(peer, VANISH_PACE_MS);
	CHECK(sk, "no sink thread");
	CHECK(sink_join(sk, &got, 30000) == 0, "the peer did not see FIN after the client "
	      "vanished (got %llu of %llu bytes)", (unsigned long long)got.len,
	      (unsigned long long)sent.len);
	CHECK(hash_eq(&got, &sent), "the peer got %llu of %llu bytes (or other bytes)",
	      (unsigned long long)got.len, (unsigned long long)sent.len);
	free(raw);
	free(b64);
	close(peer);
}

/* The last record of a stream may lack its LF: with the client's EOF it is a line, answered. */
static void
case_last_line_without_lf(void)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":\"last\",\"method\":\"daemon.info\"}";
	struct cc *c = cc_open();
	cJSON *a;

	CHECK(c, "setup");
	CHECK(cc_send_raw(c, req, sizeof(req) - 1) == 0, "send");
	CHECK(shutdown(cc_fd(c), SHUT_WR) == 0, "shutdown");
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(a && j_is(a, "id", "last") && j_get(a, "result.name"),
	      "a final request without LF, then EOF: %s", a ? j_text(a) : "no answer");
	cJSON_Delete(a);
	CHECK(!cc_read_line(c, CONFORM_DEADLINE_MS), "then the daemon closes the connection");
	cc_close(c);
}

/* A client vanishing in the middle of a line does not disturb another. */
static void
case_disconnect_mid_line(void)
{
	struct cc *other = cc_open(), *c = cc_open();
	int peer;
	long long s, r;
	cJSON *a;

	CHECK(other && c, "setup");
	s = cc_pair(other, &peer);
	CHECK(s > 0, "setup");
	r = cc_request(other, "tcp.read", "{\"socket\":%lld}", s);
	CHECK(cc_send_raw(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"meth", 30) == 0, "send");
	cc_close(c);
	c = cc_open();
	CHECK(c, "cannot connect after a client vanished mid-line");
	a = cc_call(c, "daemon.info", NULL);
	CHECK(j_get(a, "result"), "a new client after one vanished mid-line: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(peer_send_all(peer, "z", 1, CONFORM_DEADLINE_MS) == 0, "send");
	a = cc_wait(other, r, CONFORM_DEADLINE_MS);
	CHECK(j_is(a, "result.data", "eg=="), "the other client's pending read: %s", j_text(a));
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
	cc_close(other);
}

/* Per-client socket cap: -32005 clientSockets on create, connect, listen, accept. */
static void
case_limit_client_sockets(void)
{
	long long max = C->limits.client_sockets, first = 0, l, id;
	struct cc *c = cc_open();
	int port, pfd;
	cJSON *a;

	CHECK(c, "setup");
	a = cc_call(c, "tcp.listen", "{\"port\":0}");
	l = j_int(a, "result.socket");
	port = (int)j_int(a, "result.local.port");
	cJSON_Delete(a);
	CHECK(l > 0, "listen");
	for (long long i = 1; i < max; i++) {
		long long s = cc_create(c);

		CHECK(s > 0, "create %lld of %lld failed", i + 1, max);
		if (!first)
			first = s;
	}
	static const char *const calls[][2] = {
		{ "tcp.create", "{}" }, { "tcp.connect", "{\"port\":9}" },
		{ "tcp.listen", "{\"port\":0}" },
	};
	for (size_t i = 0; i < 3; i++) {
		a = cc_call(c, calls[i][0], "%s", calls[i][1]);
		CHECK(err_code(a) == PROTO_E_LIMIT && j_is(a, "error.data.limit", "clientSockets") &&
		      j_int(a, "error.data.value") == max, "%s %s over clientSockets %lld: %s",
		      calls[i][0], calls[i][1], max, j_text(a));
		cJSON_Delete(a);
	}
	id = cc_request(c, "tcp.accept", "{\"socket\":%lld,\"timeout\":5000}", l);
	pfd = peer_connect(AF_INET, port);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	CHECK(err_code(a) == PROTO_E_LIMIT && j_is(a, "error.data.limit", "clientSockets"),
	      "tcp.accept over clientSockets: %s", j_text(a));
	cJSON_Delete(a);
	if (pfd >= 0)
		close(pfd);
	/* A closed socket no longer counts. */
	a = cc_call(c, "tcp.close", "{\"socket\":%lld}", first);
	cJSON_Delete(a);
	CHECK(cc_create(c) > 0, "create after a close failed");
	cc_close(c);
}

/* max reads that wait plus extra more, as one batch line or as lines in one write. */
static void
requests_over_cap(bool batch, int extra)
{
	long long max = C->limits.client_requests, s;
	struct cc *c = cc_open();
	size_t n = 0, cap = (size_t)(max + extra) * 128 + 16;
	char *buf = malloc(cap), *zeros = calloc(1, (size_t)max);
	int peer, limited = 0, answered = 0;
	cJSON *a, *e;

	CHECK(c && buf && zeros, "setup");
	s = cc_pair(c, &peer);
	CHECK(s > 0, "setup");
	n += (size_t)sprintf(buf + n, "%s", batch ? "[" : "");
	for (long long i = 0; i < max + extra; i++)
		n += (size_t)sprintf(buf + n, "%s{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":"
				     "\"tcp.read\",\"params\":{\"socket\":%lld,\"length\":1}}%s",
				     batch && i ? "," : "", 1000 + i, s, batch ? "" : "\n");
	n += (size_t)sprintf(buf + n, "%s", batch ? "]\n" : "");
	CHECK(cc_send_raw(c, buf, n) == 0, "send");
	/* One byte for each read that was taken. */
	CHECK(peer_send_all(peer, zeros, (size_t)max, CONFORM_DEADLINE_MS) == 0, "send");
	if (batch) {
		a = cc_read(c, CONFORM_DEADLINE_MS);
		CHECK(cJSON_IsArray(a), "no batch answer: %s", j_text(a));
	} else {
		a = cJSON_CreateArray();
		for (long long i = 0; i < max + extra; i++) {
			cJSON *m = cc_wait(c, 1000 + i, CONFORM_DEADLINE_MS);

			CHECK(m, "no answer to read %lld of %lld", i + 1, max + extra);
			cJSON_AddItemToArray(a, m);
		}
	}
	cJSON_ArrayForEach(e, a) {
		if (err_code(e) == PROTO_E_LIMIT && j_is(e, "error.data.limit", "clientRequests") &&
		    j_int(e, "id") >= 1000 + max)
			limited++;
		else if (j_int(e, "result.bytes") == 1)
			answered++;
	}
	CHECK(limited == extra && answered == max, "%s: %d of the last %d reads refused with "
	      "clientRequests, %d of the first %lld answered; first refusal: %s",
	      batch ? "batch" : "lines", limited, extra, answered, max,
	      j_text(cJSON_GetArrayItem(a, (int)max)));
	cJSON_Delete(a);
	CHECK(cc_sync(c, CONFORM_DEADLINE_MS) == 0, "the connection is unusable afterwards");
	free(buf);
	free(zeros);
	close(peer);
	cc_close(c);
}

static void case_limit_requests_batch(void) { requests_over_cap(true, 5); }
static void case_limit_requests_lines(void) { requests_over_cap(false, 1); }

const struct conform_case conform_cases_flow[] = {
	{ "backpressure-slow-reader", case_slow_reader, true },
	{ "request-flood", case_request_flood, false },
	{ "vanished-client-flushes", case_vanished_client, false },
	{ "disconnect-mid-line", case_disconnect_mid_line, false },
	{ "last-line-without-lf", case_last_line_without_lf, false },
	{ "limit-client-sockets", case_limit_client_sockets, true },
	{ "limit-client-requests-batch", case_limit_requests_batch, true },
	{ "limit-client-requests-lines", case_limit_requests_lines, true },
	{ NULL, NULL, false },
};
