/*
 * conform-cases-coalesce: the tcp.write requests of one control read go
 * to the socket together.  A run of writes (fast path, general path,
 * notifications) sent in one send() is handed to the kernel with one
 * sendmsg() per socket (tcp.info's sendCalls) and answered in one flush;
 * any other request in the run sees the writes before it sent; bytes,
 * order and answers stay as they were, also when the socket has room for
 * only part of the run.
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

#define RUN_WRITES	8		/* writes in the small run */
#define BIG_WRITE	(64u << 10)	/* decoded bytes of each write in the big run */
#define BIG_WRITES	3

static long long
send_calls(struct cc *c, long long s)
{
	cJSON *a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	long long n = j_int(a, "result.sendCalls");

	cJSON_Delete(a);
	return n;
}

/* Appends a tcp.write line to buf (id NULL: a notification); returns the new length. */
static size_t
add_write(char *buf, size_t at, size_t size, const char *id, long long s, const char *key,
	  const char *value)
{
	int n;

	if (id)
		n = snprintf(buf + at, size - at, "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":"
			     "\"tcp.write\",\"params\":{\"socket\":%lld,\"%s\":\"%s\"}}\n",
			     id, s, key, value);
	else
		n = snprintf(buf + at, size - at, "{\"jsonrpc\":\"2.0\",\"method\":\"tcp.write\","
			     "\"params\":{\"socket\":%lld,\"%s\":\"%s\"}}\n", s, key, value);
	return n > 0 && (size_t)n < size - at ? at + (size_t)n : size;
}

/*
 * Reads answer lines straight from the control socket until want lines
 * have come; *first is how many came with the first read.  Returns the
 * lines (NUL-terminated, LF-separated) or NULL past the deadline.
 */
static char *
read_answers(struct cc *c, int want, int *first)
{
	size_t size = 65536, have = 0;
	char *buf = malloc(size + 1);
	long long end = conform_now_ms() + CONFORM_DEADLINE_MS;
	int lines = 0;

	*first = -1;
	while (buf && lines < want) {
		struct pollfd p = { .fd = cc_fd(c), .events = POLLIN };
		int left = (int)(end - conform_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		n = recv(cc_fd(c), buf + have, size - have, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			lines += buf[have + (size_t)i] == '\n';
		have += (size_t)n;
		if (*first < 0)
			*first = lines;
		if (have == size)
			break;
	}
	if (!buf || lines < want) {
		free(buf);
		return NULL;
	}
	buf[have] = '\0';
	return buf;
}

/*
 * Eight writes in one send(): six answered, two notifications, mixing
 * the fast path (data) and the general path (text).  One sendmsg() takes
 * them all, the six answers come in order in one read, the peer gets the
 * bytes in order.
 */
static void
case_write_run(void)
{
	static const char *const text[RUN_WRITES] = { "zero ", "one ", "two ", "three ",
						      "four ", "five ", "six ", "seven" };
	struct cc *c = cc_open();
	int peer = -1, first = 0;
	long long s = c ? cc_pair(c, &peer) : -1, before;
	char line[4096], b64[64], want[128] = "", got[128], *answers, *p;
	size_t len = 0;

	CHECK(c && s > 0, "setup");
	before = send_calls(c, s);
	CHECK(before == 0, "sendCalls of a fresh socket: %lld", before);
	for (int i = 0; i < RUN_WRITES; i++) {
		char id[8];

		snprintf(id, sizeof(id), "w%d", i);
		strcat(want, text[i]);
		if (i % 2 == 0) {
			proto_base64_encode(b64, text[i], strlen(text[i]));
			b64[proto_base64_encoded_len(strlen(text[i]))] = '\0';
			len = add_write(line, len, sizeof(line), i == 2 || i == 5 ? NULL : id, s,
					"data", b64);
		} else {
			len = add_write(line, len, sizeof(line), i == 5 ? NULL : id, s, "text",
					text[i]);
		}
	}
	CHECK(len < sizeof(line) && cc_send_raw(c, line, len) == 0, "sending the run");
	answers = read_answers(c, RUN_WRITES - 2, &first);
	CHECK(answers, "six answers did not come");
	p = answers;
	for (int i = 0; i < RUN_WRITES; i++) {
		char *nl, expect[64];
		cJSON *a;

		if (i == 2 || i == 5)
			continue;
		nl = strchr(p, '\n');
		CHECK(nl, "answer to w%d missing: %s", i, answers);
		*nl = '\0';
		a = cJSON_Parse(p);
		snprintf(expect, sizeof(expect), "w%d", i);
		CHECK(a && j_is(a, "id", expect) &&
		      j_int(a, "result.bytes") == (long long)strlen(text[i]),
		      "answer %d out of order or wrong: %s", i, p);
		cJSON_Delete(a);
		p = nl + 1;
	}
	CHECK(first == RUN_WRITES - 2, "the answers came in %d reads' worth (first read had %d)",
	      RUN_WRITES - 2, first);
	free(answers);
	CHECK(peer_recv_all(peer, got, strlen(want), CONFORM_DEADLINE_MS) == 0 &&
	      memcmp(got, want, strlen(want)) == 0, "the peer got other bytes");
	CHECK(send_calls(c, s) == 1, "8 writes of one read took %lld sendmsg calls",
	      send_calls(c, s));
	close(peer);
	cc_close(c);
}

/*
 * write, write, tcp.info, write, shutdown in one send(): tcp.info sees
 * the first two sent (one sendmsg, nothing pending), the third goes
 * before the FIN, and the peer gets all bytes then the end of stream.
 */
static void
case_write_run_broken(void)
{
	struct cc *c = cc_open();
	int peer = -1;
	long long s = c ? cc_pair(c, &peer) : -1;
	char line[2048], got[16];
	size_t len = 0;
	cJSON *a;
	int n;

	CHECK(c && s > 0, "setup");
	len = add_write(line, len, sizeof(line), "a", s, "text", "abc");
	len = add_write(line, len, sizeof(line), "b", s, "text", "def");
	n = snprintf(line + len, sizeof(line) - len, "{\"jsonrpc\":\"2.0\",\"id\":\"i\",\"method\":"
		     "\"tcp.info\",\"params\":{\"socket\":%lld}}\n", s);
	len += (size_t)n;
	len = add_write(line, len, sizeof(line), "c", s, "data", "Z2hp");	/* ghi */
	n = snprintf(line + len, sizeof(line) - len, "{\"jsonrpc\":\"2.0\",\"id\":\"f\",\"method\":"
		     "\"tcp.shutdown\",\"params\":{\"socket\":%lld}}\n", s);
	len += (size_t)n;
	CHECK(len < sizeof(line) && cc_send_raw(c, line, len) == 0, "sending the run");
	for (int i = 0; i < 5; i++) {
		static const char *const ids[] = { "a", "b", "i", "c", "f" };

		a = cc_read(c, CONFORM_DEADLINE_MS);
		CHECK(a && j_is(a, "id", ids[i]) && !j_get(a, "error"), "answer %s: %s", ids[i],
		      j_text(a));
		if (i == 2)
			CHECK(j_int(a, "result.bytesWritten") == 6 &&
			      j_int(a, "result.pendingWriteBytes") == 0 &&
			      j_int(a, "result.sendCalls") == 1,
			      "tcp.info after two writes in the same read: %s", j_text(a));
		cJSON_Delete(a);
	}
	CHECK(peer_recv_all(peer, got, 9, CONFORM_DEADLINE_MS) == 0 && memcmp(got, "abcdefghi", 9) == 0,
	      "the peer got other bytes");
	CHECK(peer_wait_eof(peer, CONFORM_DEADLINE_MS) == 0, "no FIN after the bytes");
	CHECK(send_calls(c, s) == 2, "two runs took %lld sendmsg calls", send_calls(c, s));
	close(peer);
	cc_close(c);
}

/*
 * Writes to two sockets, interleaved in one read: one sendmsg each, bytes
 * and answers of each socket in order.
 */
static void
case_write_run_two_sockets(void)
{
	struct cc *c = cc_open();
	int pa = -1, pb = -1;
	long long sa = c ? cc_pair(c, &pa) : -1, sb = c ? cc_pair(c, &pb) : -1;
	char line[2048], got[16];
	size_t len = 0;

	CHECK(c && sa > 0 && sb > 0, "setup");
	len = add_write(line, len, sizeof(line), "a1", sa, "text", "A1");
	len = add_write(line, len, sizeof(line), "b1", sb, "text", "B1");
	len = add_write(line, len, sizeof(line), "a2", sa, "text", "A2");
	len = add_write(line, len, sizeof(line), "b2", sb, "text", "B2");
	CHECK(len < sizeof(line) && cc_send_raw(c, line, len) == 0, "sending the run");
	/* Answers of one socket in order; the two sockets' may interleave any way. */
	for (int i = 0, na = 0, nb = 0; i < 4; i++) {
		cJSON *a = cc_read(c, CONFORM_DEADLINE_MS);
		const char *id = a ? j_str(a, "id") : NULL;
		char want[16];

		CHECK(id && (id[0] == 'a' || id[0] == 'b') && j_int(a, "result.bytes") == 2,
		      "answer %d: %s", i, j_text(a));
		snprintf(want, sizeof(want), "%c%d", id[0], id[0] == 'a' ? ++na : ++nb);
		CHECK(strcmp(id, want) == 0, "answer %s came where %s was due", id, want);
		cJSON_Delete(a);
	}
	CHECK(peer_recv_all(pa, got, 4, CONFORM_DEADLINE_MS) == 0 && !memcmp(got, "A1A2", 4),
	      "peer a got other bytes");
	CHECK(peer_recv_all(pb, got, 4, CONFORM_DEADLINE_MS) == 0 && !memcmp(got, "B1B2", 4),
	      "peer b got other bytes");
	CHECK(send_calls(c, sa) == 1 && send_calls(c, sb) == 1, "sendCalls %lld and %lld",
	      send_calls(c, sa), send_calls(c, sb));
	close(pa);
	close(pb);
	cc_close(c);
}

/*
 * A run bigger than the socket's room (a small send buffer, a peer that
 * reads late): the first sendmsg takes part, the rest follows as the peer
 * reads, every write is answered in order with its full length, and the
 * peer gets every byte in order.
 */
static void
case_write_run_partial(void)
{
	struct cc *c = cc_open();
	int peer = -1;
	long long s = c ? cc_pair(c, &peer) : -1, calls;
	size_t b64len = proto_base64_encoded_len(BIG_WRITE), len = 0;
	size_t size = BIG_WRITES * (b64len + 256);
	char *payload = malloc(BIG_WRITES * BIG_WRITE), *got = malloc(BIG_WRITES * BIG_WRITE);
	char *b64 = malloc(b64len + 1), *line = malloc(size);
	cJSON *a;

	CHECK(c && s > 0 && payload && got && b64 && line, "setup");
	a = cc_call(c, "tcp.setOptions", "{\"socket\":%lld,\"sendBufferSize\":4096}", s);
	CHECK(a && !j_get(a, "error"), "sendBufferSize 4096: %s", j_text(a));
	cJSON_Delete(a);
	fill_random(payload, BIG_WRITES * BIG_WRITE, 14);
	for (int i = 0; i < BIG_WRITES; i++) {
		char id[8];

		snprintf(id, sizeof(id), "p%d", i);
		proto_base64_encode(b64, payload + (size_t)i * BIG_WRITE, BIG_WRITE);
		b64[b64len] = '\0';
		len = add_write(line, len, size, id, s, "data", b64);
	}
	CHECK(len < size && cc_send_raw(c, line, len) == 0, "sending the run");
	CHECK(peer_recv_all(peer, got, BIG_WRITES * BIG_WRITE, 4 * CONFORM_DEADLINE_MS) == 0 &&
	      memcmp(got, payload, BIG_WRITES * BIG_WRITE) == 0, "the peer got other bytes");
	for (int i = 0; i < BIG_WRITES; i++) {
		char id[8];

		snprintf(id, sizeof(id), "p%d", i);
		a = cc_read(c, CONFORM_DEADLINE_MS);
		CHECK(a && j_is(a, "id", id) && j_int(a, "result.bytes") == BIG_WRITE,
		      "answer %s: %s", id, j_text(a));
		cJSON_Delete(a);
	}
	calls = send_calls(c, s);
	CHECK(calls >= 2, "192 KiB through a 4 KiB send buffer in %lld sendmsg calls", calls);
	conform_log("partial run: %d writes of %u bytes in %lld sendmsg calls", BIG_WRITES,
		    BIG_WRITE, calls);
	free(payload);
	free(got);
	free(b64);
	free(line);
	close(peer);
	cc_close(c);
}

const struct conform_case conform_cases_coalesce[] = {
	{ "tcp-write-run", case_write_run, false },
	{ "tcp-write-run-broken", case_write_run_broken, false },
	{ "tcp-write-run-two-sockets", case_write_run_two_sockets, false },
	{ "tcp-write-run-partial", case_write_run_partial, false },
	{ NULL, NULL, false },
};
