/*
 * conform-cases-io: reading, writing, pump mode and half-close, with
 * byte-exact checks at the suite's loopback peers, and the bulk transfers
 * (32 MiB pumped in, 16 MiB written out) checked end to end by hash.
 */
#include "config.h"

#include <errno.h>
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

#define BULK_PUMP	(32u << 20)
#define BULK_WRITE	(16u << 20)
#define WRITE_CHUNK	(256u << 10)	/* decoded bytes per tcp.write */
#define WRITES_IN_FLIGHT 8
#define BULK_MS		60000

/* Decodes the base64 at path into buf (size bytes).  Returns the length or -1. */
static ssize_t
decode(const cJSON *o, const char *path, void *buf, size_t size)
{
	const char *d = j_str(o, path);
	size_t n = d ? strlen(d) : 0;
	char *tmp = d ? malloc(proto_base64_decoded_max(n) + 1) : NULL;
	ssize_t k = tmp ? proto_base64_decode(tmp, d, n) : -1;

	if (k >= 0 && (size_t)k <= size)
		memcpy(buf, tmp, (size_t)k);
	else
		k = -1;
	free(tmp);
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
	CHECK(j_int(a, "result.bytes") == 3 && j_int(a, "result.socket") == s,
	      "text h\\u00e9 is not 3 UTF-8 bytes: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"data\":\"AAH/\"}", s);
	CHECK(j_int(a, "result.bytes") == 3, "data AAH/: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(peer_recv_all(peer, buf, 6, CONFORM_DEADLINE_MS) == 0 &&
	      !memcmp(buf, "h\xc3\xa9\x00\x01\xff", 6), "the peer got other bytes");
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"data\":\"\"}", s);
	CHECK(j_int(a, "result.bytes") == 0, "empty data: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"text\":\"\"}", s);
	CHECK(j_int(a, "result.bytes") == 0, "empty text: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"data\":\"AA==\",\"text\":\"x\"}", s);
	CHECK(err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.reason", "data-and-text"),
	      "both data and text: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.write", "{\"socket\":%lld}", s);
	CHECK(err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.reason", "data-or-text"),
	      "neither data nor text: %s", j_text(a));
	cJSON_Delete(a);
	static const char *const bad[] = { "A===", "AAA", "AA=A", "AB==", "A A=", "AA-_" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"data\":\"%s\"}", s, bad[i]);
		CHECK(err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.param", "data") &&
		      j_is(a, "error.data.reason", "base64"), "data \"%s\": %s", bad[i], j_text(a));
		cJSON_Delete(a);
	}
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_int(a, "result.bytesWritten") == 6, "bytesWritten after 6 bytes: %s", j_text(a));
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
	CHECK(err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.param", "length") &&
	      j_is(a, "error.data.reason", "range"), "length 0: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.read", "{\"socket\":%lld,\"length\":16777217}", s);
	CHECK(err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.reason", "range"),
	      "length 16777217: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.read", "{\"socket\":%lld,\"timeout\":150}", s);
	CHECK(err_code(a) == PROTO_E_TIMEOUT && j_int(a, "error.data.socket") == s,
	      "read timeout: %s", j_text(a));
	cJSON_Delete(a);
	/* Deferred until data comes, with no limit for timeout 0; the socket still works. */
	id = cc_request(c, "tcp.read", "{\"socket\":%lld,\"length\":256,\"timeout\":0}", s);
	CHECK(cc_sync(c, CONFORM_DEADLINE_MS) == 0 && !cc_has_answer(c, id),
	      "a read answered before any data: %s", cc_last_line(c));
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	CHECK(peer_send_all(peer, all, 256, CONFORM_DEADLINE_MS) == 0, "peer send");
	while (have < 256) {
		ssize_t n;

		a = id ? cc_wait(c, id, CONFORM_DEADLINE_MS)
		       : cc_call(c, "tcp.read", "{\"socket\":%lld,\"length\":%zu}", s, 256 - have);
		id = 0;
		n = decode(a, "result.data", got + have, sizeof(got) - have);
		CHECK(n > 0 && n == j_int(a, "result.bytes") && j_int(a, "result.socket") == s,
		      "read: %s", j_text(a));
		have += (size_t)n;
		cJSON_Delete(a);
	}
	CHECK(!memcmp(all, got, 256), "the 256 byte values did not arrive intact");
	/* length bounds what one read returns. */
	CHECK(peer_send_all(peer, "abcdef", 6, CONFORM_DEADLINE_MS) == 0, "peer send");
	a = cc_call(c, "tcp.read", "{\"socket\":%lld,\"length\":2}", s);
	CHECK(j_int(a, "result.bytes") >= 1 && j_int(a, "result.bytes") <= 2,
	      "read with length 2: %s", j_text(a));
	have = (size_t)j_int(a, "result.bytes");
	cJSON_Delete(a);
	while (have < 6) {
		a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
		CHECK(j_int(a, "result.bytes") > 0, "read: %s", j_text(a));
		have += (size_t)j_int(a, "result.bytes");
		cJSON_Delete(a);
	}
	shutdown(peer, SHUT_WR);
	for (int i = 0; i < 2; i++) {
		a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
		CHECK(j_int(a, "result.bytes") == -1 && !j_get(a, "result.data"),
		      "read %d at EOF: %s", i + 1, j_text(a));
		cJSON_Delete(a);
	}
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "connected") && j_int(a, "result.bytesRead") == 262,
	      "after EOF (262 bytes read): %s", j_text(a));
	cJSON_Delete(a);
	/* Writing after the peer's EOF still works. */
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"text\":\"late\"}", s);
	CHECK(j_int(a, "result.bytes") == 4, "write after the peer's EOF: %s", j_text(a));
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

/* All 256 byte values: write, the peer echoes, read back. */
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
	CHECK(j_int(a, "result.bytes") == 256, "write: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(peer_recv_all(peer, echo, 256, CONFORM_DEADLINE_MS) == 0, "peer recv");
	CHECK(!memcmp(all, echo, 256), "bytes changed on the way out");
	CHECK(peer_send_all(peer, echo, 256, CONFORM_DEADLINE_MS) == 0, "echo");
	memset(echo, 0, sizeof(echo));
	while (have < 256) {
		a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
		ssize_t n = decode(a, "result.data", echo + have, sizeof(echo) - have);

		CHECK(n > 0, "read: %s", j_text(a));
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
	const struct proto_field *shape = proto_methods[PROTO_N_TCP_DATA].params;
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), total = 0, r;
	char buf[64], why[128];
	cJSON *a;

	CHECK(s > 0, "setup");
	/* Pump and read exclude each other both ways. */
	r = cc_request(c, "tcp.read", "{\"socket\":%lld}", s);
	a = cc_call(c, "tcp.pump", "{\"socket\":%lld}", s);
	CHECK(err_code(a) == PROTO_E_INVALID_STATE && j_is(a, "error.data.reason", "reading"),
	      "pump while a read is pending: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(peer_send_all(peer, "R", 1, CONFORM_DEADLINE_MS) == 0, "send");
	a = cc_wait(c, r, CONFORM_DEADLINE_MS);
	CHECK(j_int(a, "result.bytes") == 1, "the pending read: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.pump", "{\"socket\":%lld,\"chunkSize\":4}", s);
	CHECK(j_true(a, "result.pumping") && j_int(a, "result.socket") == s, "pump on: %s",
	      j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
	CHECK(err_code(a) == PROTO_E_INVALID_STATE && j_is(a, "error.data.reason", "pumping") &&
	      j_is(a, "error.data.state", "connected"), "read while pumping: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(peer_send_all(peer, "0123456789", 10, CONFORM_DEADLINE_MS) == 0, "send");
	shutdown(peer, SHUT_WR);
	while (total < 10) {
		ssize_t n;

		a = cc_note(c, "tcp.data", CONFORM_DEADLINE_MS);
		CHECK(j_int(a, "params.socket") == s, "tcp.data: %s", j_text(a));
		CHECK(j_shape(shape, j_get(a, "params"), why, sizeof(why)), "tcp.data %s: %s", why,
		      j_text(a));
		n = decode(a, "params.data", buf + total, sizeof(buf) - (size_t)total);
		CHECK(n > 0 && n <= 4 && n == j_int(a, "params.bytes"), "chunkSize 4: %s",
		      j_text(a));
		total += n;
		CHECK(j_int(a, "params.totalBytes") == total, "totalBytes is not %lld: %s", total,
		      j_text(a));
		cJSON_Delete(a);
	}
	CHECK(!memcmp(buf, "0123456789", 10), "pumped bytes differ");
	a = cc_note(c, "tcp.data", CONFORM_DEADLINE_MS);
	CHECK(j_int(a, "params.bytes") == -1 && !j_get(a, "params.data") &&
	      j_int(a, "params.totalBytes") == 10, "the final tcp.data: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.pump", "{\"socket\":%lld,\"enable\":false}", s);
	CHECK(j_get(a, "result.pumping") && !j_true(a, "result.pumping"), "pump off: %s",
	      j_text(a));
	cJSON_Delete(a);
	close(peer);
	/* EOF seen by a read, then pump on: the -1 comes at once. */
	s = cc_pair(c, &peer);
	shutdown(peer, SHUT_WR);
	a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
	CHECK(j_int(a, "result.bytes") == -1, "read at EOF: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.pump", "{\"socket\":%lld}", s);
	CHECK(j_true(a, "result.pumping"), "pump on after EOF: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_note(c, "tcp.data", CONFORM_DEADLINE_MS);
	CHECK(j_int(a, "params.socket") == s && j_int(a, "params.bytes") == -1 &&
	      j_int(a, "params.totalBytes") == 0,
	      "pump enabled after a read saw EOF: expected tcp.data bytes -1 at once, got %s",
	      j_text(a));
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

static void
case_pump_bulk(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), end = conform_now_ms() + BULK_MS, total = 0;
	struct source *src;
	struct hash sent, got;
	char *buf = malloc(PROTO_CHUNK_MAX);
	bool eof = false;
	cJSON *a;

	CHECK(s > 0 && buf, "setup");
	hash_init(&got);
	src = source_start(peer, BULK_PUMP, 7);
	CHECK(src, "no source thread");
	a = cc_call(c, "tcp.pump", "{\"socket\":%lld}", s);
	CHECK(j_true(a, "result.pumping"), "pump on: %s", j_text(a));
	cJSON_Delete(a);
	while (!eof && conform_now_ms() < end) {
		ssize_t n;

		a = cc_note(c, "tcp.data", CONFORM_DEADLINE_MS);
		CHECK(a, "tcp.data stopped after %llu bytes", (unsigned long long)got.len);
		if (j_int(a, "params.bytes") == -1) {
			eof = true;
		} else {
			n = decode(a, "params.data", buf, PROTO_CHUNK_MAX);
			CHECK(n > 0 && n == j_int(a, "params.bytes"), "bad chunk: %s", j_text(a));
			hash_add(&got, buf, (size_t)n);
			total += n;
			CHECK(j_int(a, "params.totalBytes") == total, "totalBytes %lld, want %lld",
			      j_int(a, "params.totalBytes"), total);
		}
		cJSON_Delete(a);
	}
	CHECK(source_join(src, &sent, CONFORM_DEADLINE_MS) == 0, "the source failed");
	CHECK(eof && hash_eq(&got, &sent),
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
	sk = sink_start(peer, 0);
	CHECK(sk, "no sink thread");
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
		/* A pipelining client keeps a few writes in flight. */
		if (id - first >= WRITES_IN_FLIGHT) {
			a = cc_wait(c, id - WRITES_IN_FLIGHT, CONFORM_DEADLINE_MS);
			CHECK(j_int(a, "result.bytes") == WRITE_CHUNK, "write %lld: %s",
			      id - WRITES_IN_FLIGHT, j_text(a));
			cJSON_Delete(a);
		}
	}
	for (long long id = last - WRITES_IN_FLIGHT + 1; id <= last; id++) {
		a = cc_wait(c, id, CONFORM_DEADLINE_MS);
		CHECK(j_int(a, "result.bytes") == WRITE_CHUNK, "write %lld: %s", id, j_text(a));
		cJSON_Delete(a);
	}
	a = cc_call(c, "tcp.close", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "closed"), "close after the writes: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(sink_join(sk, &got, BULK_MS) == 0, "the sink did not see EOF");
	CHECK(hash_eq(&got, &sent), "16 MiB write: got %llu bytes hash %016llx, sent %llu "
	      "hash %016llx", (unsigned long long)got.len, (unsigned long long)got.h,
	      (unsigned long long)sent.len, (unsigned long long)sent.h);
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
	CHECK(j_int(a, "result.socket") == s && !j_get(a, "error"), "shutdown: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(peer_recv_all(peer, buf, 3, CONFORM_DEADLINE_MS) == 0 && !memcmp(buf, "bye", 3),
	      "the queued write was not flushed before FIN");
	CHECK(peer_wait_eof(peer, CONFORM_DEADLINE_MS) == 0, "the peer did not see EOF");
	CHECK(peer_send_all(peer, "back", 4, CONFORM_DEADLINE_MS) == 0, "the peer cannot send");
	a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
	CHECK(j_int(a, "result.bytes") == 4 && j_is(a, "result.data", "YmFjaw=="),
	      "reading after shutdown: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"text\":\"x\"}", s);
	CHECK(err_code(a) == PROTO_E_INVALID_STATE && j_is(a, "error.data.reason", "shutdown"),
	      "write after shutdown: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.shutdown", "{\"socket\":%lld}", s);
	CHECK(j_int(a, "result.socket") == s && !j_get(a, "error"), "second shutdown: %s",
	      j_text(a));
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

/*
 * Sends tcp.channel for s and reads its answer with recvmsg, taking the
 * fd that rides on it.  Returns the fd, or -1 with why set.
 */
int
channel_open(struct cc *c, long long s, char *why, size_t whylen)
{
	char line[512], ctl[CMSG_SPACE(sizeof(int))];
	size_t have = 0;
	int fd = -1;

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":4242,\"method\":\"tcp.channel\","
		 "\"params\":{\"socket\":%lld}}", s);
	if (cc_send_line(c, line) < 0) {
		snprintf(why, whylen, "send");
		return -1;
	}
	while (have < sizeof(line) - 1 && !memchr(line, '\n', have)) {
		struct iovec iov = { .iov_base = line + have, .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
				     .msg_controllen = sizeof(ctl) };
		struct pollfd p = { .fd = cc_fd(c), .events = POLLIN };
		struct cmsghdr *cm;

		/* Byte by byte: nothing after the answer's line is taken from cc. */
		if (poll(&p, 1, CONFORM_DEADLINE_MS) <= 0 || recvmsg(cc_fd(c), &mh, 0) != 1)
			break;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		have++;
	}
	line[have] = '\0';
	if (fd < 0 || !strstr(line, "\"fd\":true")) {
		snprintf(why, whylen, "%s, fd %d", line, fd);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * tcp.channel: the fd is one end of a stream socketpair relayed to the
 * TCP socket both ways; EOF passes both ways; JSON I/O is refused while
 * it is open; tcp.info says channel; when both directions have ended the
 * socket is closed (tcp.closed, reason channel) with every byte counted.
 */
static void
case_channel(void)
{
	struct cc *c = cc_open();
	int peer, ch = -1;
	long long s;
	char why[600], buf[65536];
	struct hash sent, got;
	size_t n = 0;
	cJSON *a;

	CHECK(c, "cannot connect");
	s = cc_pair(c, &peer);
	CHECK(s > 0, "setup");
	/* Not in a batch: the fd rides on the answer's own line. */
	snprintf(why, sizeof(why), "[{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":\"tcp.channel\","
		 "\"params\":{\"socket\":%lld}}]", s);
	CHECK(cc_send_line(c, why) == 0, "send");
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(cJSON_IsArray(a) && j_is(cJSON_GetArrayItem(a, 0), "error.data.reason", "batch"),
	      "tcp.channel in a batch: %s", a ? j_text(a) : "none");
	cJSON_Delete(a);
	ch = channel_open(c, s, why, sizeof(why));
	CHECK(ch >= 0, "tcp.channel: no fd: %s", why);
	a = cc_call(c, "tcp.read", "{\"socket\":%lld}", s);
	CHECK(err_code(a) == PROTO_E_INVALID_STATE && j_is(a, "error.data.reason", "channel"),
	      "tcp.read beside a channel: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_true(a, "result.channel"), "tcp.info: %s", j_text(a));
	cJSON_Delete(a);
	/* 1 MiB up (client -> peer), 1 MiB down (peer -> client), checked by hash. */
	hash_init(&sent);
	hash_init(&got);
	for (int i = 0; i < 16; i++) {
		fill_random(buf, sizeof(buf), 700 + i);
		hash_add(&sent, buf, sizeof(buf));
		CHECK(peer_send_all(ch, buf, sizeof(buf), CONFORM_DEADLINE_MS) == 0, "write to the channel");
		CHECK(peer_recv_all(peer, buf, sizeof(buf), CONFORM_DEADLINE_MS) == 0, "the peer's read");
		hash_add(&got, buf, sizeof(buf));
	}
	CHECK(hash_eq(&sent, &got), "the bytes up differ");
	hash_init(&sent);
	hash_init(&got);
	for (int i = 0; i < 16; i++) {
		fill_random(buf, sizeof(buf), 800 + i);
		hash_add(&sent, buf, sizeof(buf));
		CHECK(peer_send_all(peer, buf, sizeof(buf), CONFORM_DEADLINE_MS) == 0, "peer write");
		CHECK(peer_recv_all(ch, buf, sizeof(buf), CONFORM_DEADLINE_MS) == 0, "channel read");
		hash_add(&got, buf, sizeof(buf));
	}
	CHECK(hash_eq(&sent, &got), "the bytes down differ");
	/* EOF both ways. */
	CHECK(shutdown(ch, SHUT_WR) == 0, "shutdown");
	CHECK(peer_wait_eof(peer, CONFORM_DEADLINE_MS) == 0, "the peer saw no EOF");
	CHECK(shutdown(peer, SHUT_WR) == 0, "shutdown");
	CHECK(peer_wait_eof(ch, CONFORM_DEADLINE_MS) == 0, "the channel saw no EOF");
	a = cc_note(c, "tcp.closed", CONFORM_DEADLINE_MS);
	CHECK(a && j_int(a, "params.socket") == s && j_is(a, "params.reason", "channel"),
	      "tcp.closed after both ends: %s", a ? j_text(a) : "none");
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "closed") && j_int(a, "result.bytesRead") == 1048576 &&
	      j_int(a, "result.bytesWritten") == 1048576 && !j_true(a, "result.channel"),
	      "after the channel: %s", j_text(a));
	cJSON_Delete(a);
	close(ch);
	close(peer);
	/* The client's end closed under traffic: the TCP side is reset. */
	s = cc_pair(c, &peer);
	ch = channel_open(c, s, why, sizeof(why));
	CHECK(ch >= 0, "tcp.channel: %s", why);
	CHECK(peer_send_all(peer, buf, sizeof(buf), CONFORM_DEADLINE_MS) == 0, "peer write");
	close(ch);
	for (int r = 0; r < 64 && n == 0; r++) {
		/* Writes until the reset shows (the first may still go into buffers). */
		if (send(peer, buf, sizeof(buf), MSG_NOSIGNAL) < 0)
			n = (size_t)errno;
		else
			poll(NULL, 0, 20);
	}
	CHECK(n == ECONNRESET || n == EPIPE, "the peer was not reset: %s", strerror((int)n));
	close(peer);
	cc_close(c);
}

/* tcp.info's view from the kernel (TCP_INFO), present while connected and moving with traffic. */
static void
case_tcp_info_kernel(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), acked0, acked1, recv0, recv1;
	static char buf[65536], text[201];
	cJSON *a;

	CHECK(s > 0, "setup");
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_get(a, "result.tcpInfo"), "no tcpInfo while connected: %s", j_text(a));
	acked0 = j_int(a, "result.tcpInfo.bytesAcked");
	recv0 = j_int(a, "result.tcpInfo.bytesReceived");
	CHECK(j_str(a, "result.tcpInfo.limitedBy") && j_int(a, "result.tcpInfo.cwnd") > 0 &&
	      acked0 >= 0 && recv0 >= 0, "tcpInfo fields: %s", j_text(a));
	cJSON_Delete(a);
	/* 200 bytes out, taken by the peer; 64 KiB in, read by tcp.read. */
	memset(text, 'x', sizeof(text) - 1);
	a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"text\":\"%s\"}", s, text);
	CHECK(j_int(a, "result.bytes") > 0, "write: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(peer_recv_all(peer, buf, (size_t)200, CONFORM_DEADLINE_MS) == 0, "peer recv");
	memset(buf, 'y', sizeof(buf));
	CHECK(peer_send_all(peer, buf, sizeof(buf), CONFORM_DEADLINE_MS) == 0, "peer send");
	for (long long got = 0; got < (long long)sizeof(buf);) {
		a = cc_call(c, "tcp.read", "{\"socket\":%lld,\"length\":65536}", s);
		CHECK(j_int(a, "result.bytes") > 0, "read: %s", j_text(a));
		got += j_int(a, "result.bytes");
		cJSON_Delete(a);
	}
	/* The kernel's counts move with the traffic (acks arrive in their own time). */
	for (long long end = conform_now_ms() + CONFORM_DEADLINE_MS;;) {
		a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
		acked1 = j_int(a, "result.tcpInfo.bytesAcked");
		recv1 = j_int(a, "result.tcpInfo.bytesReceived");
		if ((acked1 >= acked0 + 200 && recv1 >= recv0 + 65536) || conform_now_ms() > end)
			break;
		cJSON_Delete(a);
		usleep(10000);	/* polling the kernel's counters: nothing to wait on */
	}
	CHECK(acked1 >= acked0 + 200 && recv1 >= recv0 + 65536 &&
	      j_int(a, "result.tcpInfo.rttUs") > 0,
	      "tcpInfo did not move with 200 bytes out and 64 KiB in (acked %lld -> %lld, received "
	      "%lld -> %lld): %s", acked0, acked1, recv0, recv1, j_text(a));
	cJSON_Delete(a);
	/* Closed: no kernel view. */
	cJSON_Delete(cc_call(c, "tcp.close", "{\"socket\":%lld,\"abort\":true}", s));
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_get(a, "result") && !j_get(a, "result.tcpInfo"), "tcpInfo on a closed socket: %s",
	      j_text(a));
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

const struct conform_case conform_cases_io[] = {
	{ "tcp-info-kernel", case_tcp_info_kernel, false },
	{ "tcp-channel", case_channel, false },
	{ "tcp-write-forms", case_write_forms, false },
	{ "tcp-read", case_read, false },
	{ "binary-all-bytes", case_echo_all_bytes, false },
	{ "tcp-pump", case_pump, false },
	{ "bulk-pump-32MiB", case_pump_bulk, false },
	{ "bulk-write-16MiB", case_write_bulk, false },
	{ "tcp-shutdown", case_shutdown, false },
	{ NULL, NULL, false },
};
