/*
 * conform-cases-flow: backpressure (nothing lost, memory bounded, peers
 * throttled), request floods, vanished clients and the per-client limits.
 * The limit cases need the small limits that --daemon configures.
 */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"
#include "proto-base64.h"
#include "proto-errors.h"

#define SLOW_READER_PAUSE_MS	2000
#define KERNEL_SLACK		(32u << 20)	/* socket buffers on both sides, generous */

/*
 * A client pumps a socket whose peer sends without pause, then stops
 * reading its control socket: the peer must block (TCP flow control), and
 * once the client reads again every byte arrives in order.
 */
static void
case_slow_reader(void)
{
	const size_t total = 256u << 20;	/* more than budget plus every buffer */
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), end;
	struct source *src;
	struct hash sent, got;
	char *buf = malloc(1u << 24);
	size_t at_pause, at_resume;
	bool eof = false;
	cJSON *a;

	CHECK(s > 0 && buf, "setup");
	hash_init(&got);
	src = source_start(peer, total, 99);
	a = cc_call(c, "tcp.pump", "{\"socket\":%lld}", s);
	CHECK(a && j_true(a, "result.pumping"), "pump on");
	cJSON_Delete(a);
	/* Not reading the control socket now. */
	at_pause = source_sent(src);
	poll(NULL, 0, SLOW_READER_PAUSE_MS);
	at_resume = source_sent(src);
	CHECK(source_blocked(src), "the peer never blocked while the client did not read");
	CHECK(at_resume < (size_t)C->limits.client_budget + KERNEL_SLACK + (4u << 20),
	      "the peer sent %zu bytes while the client read nothing", at_resume);
	CHECK(at_resume < total, "the whole stream went through without backpressure");
	end = conform_now_ms() + 120000;
	while (!eof && conform_now_ms() < end) {
		a = cc_note(c, "tcp.data", CONFORM_DEADLINE_MS);
		CHECK(a, "tcp.data stopped after %llu bytes", (unsigned long long)got.len);
		if (j_int(a, "params.bytes") == -1) {
			eof = true;
		} else {
			ssize_t n = proto_base64_decode(buf, j_str(a, "params.data"),
							strlen(j_str(a, "params.data")));

			CHECK(n > 0, "bad chunk");
			hash_add(&got, buf, (size_t)n);
		}
		cJSON_Delete(a);
	}
	CHECK(source_join(src, &sent) == 0, "source failed");
	CHECK(eof && got.len == sent.len && got.h == sent.h,
	      "after the pause: got %llu bytes, sent %llu (paused at %zu, resumed at %zu)",
	      (unsigned long long)got.len, (unsigned long long)sent.len, at_pause, at_resume);
	free(buf);
	close(peer);
	cc_close(c);
}

/*
 * A client floods requests without reading answers; another client is
 * served meanwhile; then the flooder reads every answer.
 */
static void
case_request_flood(void)
{
	const int n = 20000;
	struct cc *flood = cc_open(), *other = cc_open();
	char *lines, *p;
	size_t len = (size_t)n * 64;
	int got = 0;
	cJSON *a;

	CHECK(flood && other, "setup");
	lines = malloc(len);
	p = lines;
	for (int i = 1; i <= n; i++)
		p += sprintf(p, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.list\"}\n", i);
	/* Write what the socket takes without reading; the rest follows below. */
	size_t sent = 0;

	while (sent < (size_t)(p - lines)) {
		ssize_t k = send(cc_fd(flood), lines + sent, (size_t)(p - lines) - sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (k <= 0)
			break;
		sent += (size_t)k;
	}
	a = cc_call(other, "daemon.info", NULL);
	CHECK(a && j_get(a, "result"), "another client is not served during a flood");
	cJSON_Delete(a);
	for (long long end = conform_now_ms() + 60000; got < n && conform_now_ms() < end;) {
		struct pollfd pf[1] = { { .fd = cc_fd(flood), .events = POLLOUT } };
		char *line;

		if (sent < (size_t)(p - lines) && poll(pf, 1, 0) == 1) {
			ssize_t k = send(cc_fd(flood), lines + sent, (size_t)(p - lines) - sent,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (k > 0)
				sent += (size_t)k;
		}
		line = cc_read_line(flood, 1000);
		if (!line)
			continue;
		CHECK(strstr(line, "\"result\""), "flood answer is an error: %s", line);
		free(line);
		got++;
	}
	CHECK(got == n, "the flooding client got %d of %d answers", got, n);
	free(lines);
	cc_close(flood);
	cc_close(other);
}

/*
 * A client queues writes to a peer that reads slowly, then vanishes: the
 * peer still gets every accepted byte, then EOF.
 */
static void
case_vanished_client(void)
{
	const size_t chunk = 96u << 10, count = 6;
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer);
	char *raw = malloc(chunk), *b64 = malloc(proto_base64_encoded_len(chunk) + 1);
	struct hash sent, got;
	struct sink *sk;
	cJSON *a;

	CHECK(s > 0 && raw && b64, "setup");
	/* A peer with a small receive buffer, so writes are still queued when the client goes. */
	int small = 4096;

	setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	hash_init(&sent);
	for (size_t k = 0; k < count; k++) {
		fill_random(raw, chunk, 500 + k);
		hash_add(&sent, raw, chunk);
		proto_base64_encode(b64, raw, chunk);
		b64[proto_base64_encoded_len(chunk)] = '\0';
		cc_request(c, "tcp.write", "{\"socket\":%lld,\"data\":\"%s\"}", s, b64);
	}
	/* Everything is accepted once the daemon has answered a later request. */
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(a, "no answer");
	CHECK(j_int(a, "result.bytesWritten") + j_int(a, "result.pendingWriteBytes") ==
	      (long long)(chunk * count), "the writes were not all accepted");
	cJSON_Delete(a);
	cc_close(c);		/* vanish with writes queued */
	sk = sink_start(peer);
	CHECK(sink_join(sk, &got, 30000) == 0, "peer did not see EOF after the client vanished");
	CHECK(got.len == sent.len && got.h == sent.h, "peer got %llu of %llu bytes",
	      (unsigned long long)got.len, (unsigned long long)sent.len);
	free(raw);
	free(b64);
	close(peer);
}

static void
case_disconnect_mid_line(void)
{
	struct cc *c = cc_open(), *other;
	cJSON *a;

	CHECK(c, "setup");
	CHECK(cc_send_raw(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"meth", 30) == 0, "send");
	cc_close(c);
	other = cc_open();
	CHECK(other, "cannot connect after a client vanished mid-line");
	a = cc_call(other, "daemon.info", NULL);
	CHECK(a && j_get(a, "result"), "daemon unhealthy after a client vanished mid-line");
	cJSON_Delete(a);
	cc_close(other);
}

static void
case_limit_client_sockets(void)
{
	struct cc *c = cc_open();
	long long max = C->limits.client_sockets, first = 0;
	cJSON *a;

	CHECK(c && max > 0 && max <= 1024, "setup");
	for (long long i = 0; i < max; i++) {
		a = cc_call(c, "tcp.create", NULL);
		CHECK(a && j_int(a, "result.socket") > 0, "create %lld of %lld failed", i, max);
		if (!first)
			first = j_int(a, "result.socket");
		cJSON_Delete(a);
	}
	a = cc_call(c, "tcp.create", NULL);
	CHECK(a && err_code(a) == PROTO_E_LIMIT && j_is(a, "error.data.limit", "clientSockets"),
	      "socket %lld is not -32005 clientSockets", max + 1);
	cJSON_Delete(a);
	/* A closed socket no longer counts. */
	a = cc_call(c, "tcp.close", "{\"socket\":%lld}", first);
	cJSON_Delete(a);
	a = cc_call(c, "tcp.create", NULL);
	CHECK(a && j_int(a, "result.socket") > 0, "create after a close failed");
	cJSON_Delete(a);
	cc_close(c);
}

static void
case_limit_client_requests(void)
{
	struct cc *c = cc_open();
	long long max = C->limits.client_requests, s;
	int peer, limited = 0, answered = 0;
	char *line;
	cJSON *a;

	CHECK(c && max > 0 && max <= 4096, "setup");
	s = cc_pair(c, &peer);
	CHECK(s > 0, "setup");
	/* max + 5 reads that cannot complete, in one batch line. */
	size_t cap = (size_t)(max + 5) * 96 + 16, n = 0;
	char *batch = malloc(cap);

	n += (size_t)sprintf(batch + n, "[");
	for (long long i = 0; i < max + 5; i++)
		n += (size_t)sprintf(batch + n, "%s{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":"
				     "\"tcp.read\",\"params\":{\"socket\":%lld,\"length\":1}}", i ? "," : "",
				     1000 + i, s);
	sprintf(batch + n, "]");
	CHECK(cc_send_line(c, batch) == 0, "send");
	free(batch);
	/* One byte for each read that was taken; the batch then answers. */
	char *bytes = calloc(1, (size_t)max);

	CHECK(peer_send_all(peer, bytes, (size_t)max, CONFORM_DEADLINE_MS) == 0, "send");
	free(bytes);
	line = cc_read_line(c, CONFORM_DEADLINE_MS);
	a = line ? cJSON_Parse(line) : NULL;
	free(line);
	CHECK(cJSON_IsArray(a), "no batch answer");
	cJSON *e;

	cJSON_ArrayForEach(e, a) {
		if (err_code(e) == PROTO_E_LIMIT && j_is(e, "error.data.limit", "clientRequests"))
			limited++;
		else if (j_int(e, "result.bytes") == 1)
			answered++;
	}
	cJSON_Delete(a);
	CHECK(limited == 5 && answered == max,
	      "%d reads refused with clientRequests (want 5), %d answered (want %lld)", limited,
	      answered, max);
	close(peer);
	cc_close(c);
}

const struct conform_case conform_cases_flow[] = {
	{ "backpressure-slow-reader", case_slow_reader, true },
	{ "request-flood", case_request_flood, false },
	{ "vanished-client-flushes", case_vanished_client, false },
	{ "disconnect-mid-line", case_disconnect_mid_line, false },
	{ "limit-client-sockets", case_limit_client_sockets, true },
	{ "limit-client-requests", case_limit_client_requests, true },
	{ NULL, NULL, false },
};
