/*
 * conform-cases-io: reading, writing, pump mode, half-close and closing,
 * with byte-exact checks at real loopback peers.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"
#include "proto-base64.h"
#include "proto-errors.h"
#include "proto-methods.h"

#define BULK_PUMP	(32u << 20)
#define BULK_WRITE	(16u << 20)
#define WRITE_CHUNK	(192u << 10)	/* decoded bytes per tcp.write */

/* Decodes the data of a read answer or tcp.data into buf.  Returns bytes or -1. */
static ssize_t
decode(const cJSON *o, const char *path, void *buf, size_t size)
{
	static char tmp[1 << 24];
	const char *d = j_str(o, path);
	size_t n = d ? strlen(d) : 0;
	ssize_t k;

	if (!d || proto_base64_decoded_max(n) > sizeof(tmp))
		return -1;
	k = proto_base64_decode(tmp, d, n);
	if (k < 0 || (size_t)k > size)
		return -1;
	memcpy(buf, tmp, (size_t)k);
	return k;
}

static void
case_write_forms(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer);
	char buf[16];
	cJSON *a;

	CHECK(s > 0, "setup");
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"text\":\"h\\u00e9\"}", s);
	CHECK(a && j_int(a, "result.bytes") == 3, "text is not sent as UTF-8");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"data\":\"AAH/\"}", s);
	CHECK(a && j_int(a, "result.bytes") == 3, "data write");
	cJSON_Delete(a);
	CHECK(peer_recv_all(peer, buf, 6, CONFORM_DEADLINE_MS) == 0 &&
	      !memcmp(buf, "h\xc3\xa9\x00\x01\xff", 6), "peer got other bytes");
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"data\":\"\"}", s);
	CHECK(a && j_int(a, "result.bytes") == 0, "empty data is not bytes 0");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"data\":\"AA==\",\"text\":\"x\"}", s);
	CHECK(a && err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.reason",
	      "data-and-text"), "both data and text");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.write", "{\"socket\":%lld}", s);
	CHECK(a && err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.reason",
	      "data-or-text"), "neither data nor text");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"data\":\"A===\"}", s);
	CHECK(a && err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.param", "data")
	      && j_is(a, "error.data.reason", "base64"), "invalid base64");
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

static void
case_read(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), id;
	unsigned char all[256], got[256];
	size_t have = 0;
	cJSON *a;

	CHECK(s > 0, "setup");
	a = cc_call(c, "tcp.read", "{\"socket\":%lld,\"length\":0}", s);
	CHECK(a && err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.reason", "range"),
	      "length 0 accepted");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.read", "{\"socket\":%lld,\"length\":16777217}", s);
	CHECK(a && err_code(a) == PROTO_E_INVALID_PARAMS, "length over 16 MiB accepted");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.read", "{\"socket\":%lld,\"timeout\":150}", s);
	CHECK(a && err_code(a) == PROTO_E_TIMEOUT && j_int(a, "error.data.socket") == s,
	      "read timeout is not -32006");
	cJSON_Delete(a);
	/* The read is deferred until data comes. */
	id = cc_request(c, "tcp.read", "{\"socket\":%lld,\"length\":256}", s);
	a = cc_wait(c, id, 200);
	CHECK(!a, "a read answered before any data");
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	CHECK(peer_send_all(peer, all, 256, CONFORM_DEADLINE_MS) == 0, "peer send");
	while (have < 256) {
		ssize_t n;

		a = id ? cc_wait(c, id, CONFORM_DEADLINE_MS)
		       : cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
		id = 0;
		CHECK(a && j_int(a, "result.bytes") > 0, "read failed");
		n = decode(a, "result.data", got + have, sizeof(got) - have);
		CHECK(n == j_int(a, "result.bytes"), "bytes does not match data");
		have += (size_t)n;
		cJSON_Delete(a);
	}
	CHECK(!memcmp(all, got, 256), "the 256 byte values did not come back intact");
	shutdown(peer, SHUT_WR);
	for (int i = 0; i < 2; i++) {
		a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
		CHECK(a && j_int(a, "result.bytes") == -1 && !j_get(a, "result.data"),
		      "read at EOF (%d) is not bytes -1", i);
		cJSON_Delete(a);
	}
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(a && j_is(a, "result.state", "connected") && j_int(a, "result.bytesRead") == 256,
	      "after EOF: state connected, bytesRead 256");
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

static void
case_echo_all_bytes(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer);
	unsigned char all[256], echo[256];
	char b64[400];
	size_t have = 0;
	cJSON *a;

	CHECK(s > 0, "setup");
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)(255 - i);
	proto_base64_encode(b64, all, 256);
	b64[proto_base64_encoded_len(256)] = '\0';
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"data\":\"%s\"}", s, b64);
	CHECK(a && j_int(a, "result.bytes") == 256, "write");
	cJSON_Delete(a);
	CHECK(peer_recv_all(peer, echo, 256, CONFORM_DEADLINE_MS) == 0, "peer recv");
	CHECK(!memcmp(all, echo, 256), "bytes changed on the way out");
	CHECK(peer_send_all(peer, echo, 256, CONFORM_DEADLINE_MS) == 0, "echo");
	while (have < 256) {
		a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
		ssize_t n = decode(a, "result.data", echo + have, sizeof(echo) - have);

		CHECK(n > 0, "read");
		have += (size_t)n;
		cJSON_Delete(a);
	}
	CHECK(!memcmp(all, echo, 256), "bytes changed on the way back");
	close(peer);
	cc_close(c);
}

static void
case_pump(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), total = 0;
	char buf[64];
	cJSON *a;

	CHECK(s > 0, "setup");
	a = cc_call(c, "tcp.pump", "{\"socket\":%lld,\"chunkSize\":4}", s);
	CHECK(a && j_true(a, "result.pumping"), "pump on");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
	CHECK(a && err_code(a) == PROTO_E_INVALID_STATE && j_is(a, "error.data.reason",
	      "pumping"), "read while pumping is not -32002 pumping");
	cJSON_Delete(a);
	CHECK(peer_send_all(peer, "0123456789", 10, CONFORM_DEADLINE_MS) == 0, "send");
	shutdown(peer, SHUT_WR);
	while (total < 10) {
		ssize_t n;

		a = cc_note(c, "tcp.data", CONFORM_DEADLINE_MS);
		CHECK(a && j_int(a, "params.socket") == s, "no tcp.data");
		n = decode(a, "params.data", buf + total, sizeof(buf) - (size_t)total);
		CHECK(n > 0 && n <= 4 && n == j_int(a, "params.bytes"), "chunk of %zd bytes", n);
		total += n;
		CHECK(j_int(a, "params.totalBytes") == total, "totalBytes is not the running total");
		cJSON_Delete(a);
	}
	CHECK(!memcmp(buf, "0123456789", 10), "pumped bytes differ");
	a = cc_note(c, "tcp.data", CONFORM_DEADLINE_MS);
	CHECK(a && j_int(a, "params.bytes") == -1 && !j_get(a, "params.data") &&
	      j_int(a, "params.totalBytes") == 10, "no final tcp.data -1");
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

static void
case_pump_bulk(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), end = conform_now_ms() + 60000;
	struct source *src;
	struct hash sent, got;
	char *buf = malloc((1u << 24));
	bool eof = false;
	cJSON *a;

	CHECK(s > 0 && buf, "setup");
	hash_init(&got);
	src = source_start(peer, BULK_PUMP, 7);
	a = cc_call(c, "tcp.pump", "{\"socket\":%lld}", s);
	CHECK(a && j_true(a, "result.pumping"), "pump on");
	cJSON_Delete(a);
	while (!eof && conform_now_ms() < end) {
		ssize_t n;

		a = cc_note(c, "tcp.data", CONFORM_DEADLINE_MS);
		CHECK(a, "tcp.data stopped after %llu bytes", (unsigned long long)got.len);
		if (j_int(a, "params.bytes") == -1) {
			eof = true;
		} else {
			n = decode(a, "params.data", buf, (1u << 24));
			CHECK(n > 0, "bad chunk");
			hash_add(&got, buf, (size_t)n);
		}
		cJSON_Delete(a);
	}
	CHECK(source_join(src, &sent) == 0, "the source failed");
	CHECK(eof && got.len == sent.len && got.h == sent.h,
	      "32 MiB pump: got %llu bytes hash %016llx, sent %llu hash %016llx",
	      (unsigned long long)got.len, (unsigned long long)got.h,
	      (unsigned long long)sent.len, (unsigned long long)sent.h);
	free(buf);
	close(peer);
	cc_close(c);
}

static void
case_write_bulk(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), first = 0, last = 0;
	char *raw = malloc(WRITE_CHUNK), *b64 = malloc(proto_base64_encoded_len(WRITE_CHUNK) + 1);
	struct hash sent, got;
	struct sink *sk;
	cJSON *a;

	CHECK(s > 0 && raw && b64, "setup");
	hash_init(&sent);
	sk = sink_start(peer);
	for (size_t off = 0, k = 0; off < BULK_WRITE; off += WRITE_CHUNK, k++) {
		long long id;

		fill_random(raw, WRITE_CHUNK, 100 + k);
		hash_add(&sent, raw, WRITE_CHUNK);
		proto_base64_encode(b64, raw, WRITE_CHUNK);
		b64[proto_base64_encoded_len(WRITE_CHUNK)] = '\0';
		id = cc_request(c, "tcp.write", "{\"socket\":%lld,\"data\":\"%s\"}", s, b64);
		CHECK(id > 0, "send failed");
		if (!first)
			first = id;
		last = id;
		/* Keep a few writes in flight, as a pipelining client does. */
		if (id - first >= 8) {
			a = cc_wait(c, id - 8, CONFORM_DEADLINE_MS);
			CHECK(a && j_int(a, "result.bytes") == WRITE_CHUNK, "write %lld failed: %s",
			      id - 8, a ? cJSON_PrintUnformatted(a) : "no answer");
			cJSON_Delete(a);
		}
	}
	for (long long id = last - 7; id <= last; id++) {
		a = cc_wait(c, id, CONFORM_DEADLINE_MS);
		CHECK(a && j_int(a, "result.bytes") == WRITE_CHUNK, "write %lld failed", id);
		cJSON_Delete(a);
	}
	a = cc_call(c, "tcp.close", "{\"socket\":%lld}", s);
	CHECK(a && j_is(a, "result.state", "closed"), "close after writes");
	cJSON_Delete(a);
	CHECK(sink_join(sk, &got, 30000) == 0, "the sink did not see EOF");
	CHECK(got.len == sent.len && got.h == sent.h, "16 MiB write: got %llu bytes, sent %llu",
	      (unsigned long long)got.len, (unsigned long long)sent.len);
	free(raw);
	free(b64);
	close(peer);
	cc_close(c);
}

static void
case_shutdown(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer);
	char buf[8];
	cJSON *a;

	CHECK(s > 0, "setup");
	cc_request(c, "tcp.write", "{\"socket\":%lld,\"text\":\"bye\"}", s);
	a = cc_call(c, "tcp.shutdown", "{\"socket\":%lld}", s);
	CHECK(a && j_int(a, "result.socket") == s, "shutdown");
	cJSON_Delete(a);
	CHECK(peer_recv_all(peer, buf, 3, CONFORM_DEADLINE_MS) == 0 && !memcmp(buf, "bye", 3),
	      "queued write not flushed before FIN");
	CHECK(peer_wait_eof(peer, CONFORM_DEADLINE_MS) == 0, "peer did not see EOF");
	CHECK(peer_send_all(peer, "back", 4, CONFORM_DEADLINE_MS) == 0, "peer can still send");
	a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
	CHECK(a && j_int(a, "result.bytes") == 4, "reading after shutdown");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"text\":\"x\"}", s);
	CHECK(a && err_code(a) == PROTO_E_INVALID_STATE, "write after shutdown accepted");
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

static void
case_close_pending_read(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), r, k;
	cJSON *a;

	CHECK(s > 0, "setup");
	r = cc_request(c, "tcp.read", "{\"socket\":%lld}", s);
	k = cc_request(c, "tcp.close", "{\"socket\":%lld}", s);
	a = cc_wait(c, r, CONFORM_DEADLINE_MS);
	CHECK(a && err_code(a) == PROTO_E_CLOSED && j_int(a, "error.data.socket") == s,
	      "pending read is not answered -32004");
	cJSON_Delete(a);
	a = cc_wait(c, k, CONFORM_DEADLINE_MS);
	CHECK(a && j_is(a, "result.state", "closed"), "close answer");
	cJSON_Delete(a);
	CHECK(peer_wait_eof(peer, CONFORM_DEADLINE_MS) == 0, "peer did not see FIN");
	a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
	CHECK(a && err_code(a) == PROTO_E_INVALID_STATE && j_is(a, "error.data.state", "closed"),
	      "read on closed");
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

static void
case_close_abort(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer);
	cJSON *a;

	CHECK(s > 0, "setup");
	a = cc_call(c, "tcp.close", "{\"socket\":%lld,\"abort\":true}", s);
	CHECK(a && j_is(a, "result.state", "closed"), "abort close");
	cJSON_Delete(a);
	CHECK(peer_wait_eof(peer, CONFORM_DEADLINE_MS) == -ECONNRESET, "peer did not see a reset");
	close(peer);
	cc_close(c);
}

static void
case_peer_reset(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), r;
	cJSON *a;

	CHECK(s > 0, "setup");
	r = cc_request(c, "tcp.read", "{\"socket\":%lld}", s);
	a = cc_wait(c, r, 100);
	CHECK(!a, "read answered early");
	peer_reset(peer);
	a = cc_wait(c, r, CONFORM_DEADLINE_MS);
	CHECK(a && err_code(a) == PROTO_E_NETWORK && j_is(a, "error.data.errname", "ECONNRESET"),
	      "read hit by a reset is not -32011 ECONNRESET");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(a && j_is(a, "result.state", "error"), "state after reset is not error");
	cJSON_Delete(a);
	/* During pump, the reset is a tcp.error notification. */
	s = cc_pair(c, &peer);
	a = cc_call(c, "tcp.pump", "{\"socket\":%lld}", s);
	cJSON_Delete(a);
	peer_reset(peer);
	a = cc_note(c, "tcp.error", CONFORM_DEADLINE_MS);
	CHECK(a && j_int(a, "params.socket") == s && j_int(a, "params.code") == PROTO_E_NETWORK &&
	      j_is(a, "params.errname", "ECONNRESET"), "no tcp.error after a reset during pump");
	cJSON_Delete(a);
	cc_close(c);
}

const struct conform_case conform_cases_io[] = {
	{ "tcp-write-forms", case_write_forms, false },
	{ "tcp-read", case_read, false },
	{ "binary-all-bytes", case_echo_all_bytes, false },
	{ "tcp-pump", case_pump, false },
	{ "bulk-pump-32MiB", case_pump_bulk, false },
	{ "bulk-write-16MiB", case_write_bulk, false },
	{ "tcp-shutdown", case_shutdown, false },
	{ "tcp-close-pending-read", case_close_pending_read, false },
	{ "tcp-close-abort", case_close_abort, false },
	{ "peer-reset", case_peer_reset, false },
	{ NULL, NULL, false },
};
