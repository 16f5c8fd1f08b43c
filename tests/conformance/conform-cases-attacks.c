/*
 * Conformance cases: requests that are well formed but used against the
 * grain, each of which once cost more than its own failure
 * (doc/SECURITY.md, "Attacks we test").
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

#define BATCH_READS	40		/* tcp.read requests in one batch */
#define BATCH_TOTAL	(4u << 20)	/* bytes the peer sends */

/*
 * tcp.channel sent as a notification (no id) on socket A, then a proper
 * tcp.channel on B.  Finding: A's channel opened and its fd, having no
 * answer line of its own, rode on B's answer: the client took it for B's
 * and what it wrote for B's peer went to A's.  A notification is not run.
 */
static void
case_channel_notification(void)
{
	struct cc *c = cc_open();
	int peer_a = -1, peer_b = -1, ch;
	long long a, b;
	char why[600], buf[6];
	cJSON *r;

	CHECK(c, "cannot connect");
	a = cc_pair(c, &peer_a);
	b = cc_pair(c, &peer_b);
	CHECK(a > 0 && b > 0, "setup");
	snprintf(why, sizeof(why), "{\"jsonrpc\":\"2.0\",\"method\":\"tcp.channel\","
		 "\"params\":{\"socket\":%lld}}", a);
	CHECK(cc_send_line(c, why) == 0, "send");
	r = cc_call(c, "tcp.info", "{\"socket\":%lld}", a);
	CHECK(j_is(r, "result.state", "connected") && !j_true(r, "result.channel"),
	      "a tcp.channel notification opened a channel: %s", j_text(r));
	cJSON_Delete(r);
	ch = channel_open(c, b, why, sizeof(why));
	CHECK(ch >= 0, "tcp.channel on the second socket: %s", why);
	CHECK(peer_send_all(ch, "for-b", 5, CONFORM_DEADLINE_MS) == 0, "write to the channel");
	CHECK(peer_recv_all(peer_b, buf, 5, CONFORM_DEADLINE_MS) == 0 &&
	      memcmp(buf, "for-b", 5) == 0, "the channel's bytes did not reach its own socket's peer");
	/* The first socket is still usable with JSON I/O. */
	r = cc_call(c, "tcp.write", "{\"socket\":%lld,\"text\":\"to-a\"}", a);
	CHECK(j_int(r, "result.bytes") == 4, "write to the first socket: %s", j_text(r));
	cJSON_Delete(r);
	CHECK(peer_recv_all(peer_a, buf, 4, CONFORM_DEADLINE_MS) == 0 &&
	      memcmp(buf, "to-a", 4) == 0, "the first socket's peer got other bytes");
	close(ch);
	close(peer_a);
	close(peer_b);
	cc_close(c);
}

/* Adds the data of read answer a (a result) to h.  Returns its byte count, or -1. */
static long long
add_read(const cJSON *a, char *buf, struct hash *h)
{
	const char *d = j_str(a, "result.data");
	ssize_t n;

	if (j_int(a, "result.bytes") < 0)
		return -1;
	n = d ? proto_base64_decode(buf, d, strlen(d)) : -1;
	if (n < 0 || n != j_int(a, "result.bytes"))
		return -1;
	hash_add(h, buf, (size_t)n);
	return n;
}

/*
 * A batch of tcp.read requests on a socket whose peer has megabytes
 * waiting.  Finding: a batch's answers counted as output that stops the
 * client's sockets from reading, but cannot be written before the batch
 * is complete: once they passed client-notify-bytes the reads waited for
 * room that never came and the batch was never answered.  Now the reads
 * go on until the batch's answers pass the budget, and the ones left are
 * answered -32005 clientBudgetBytes without reading; every byte comes
 * after, in order.
 */
static void
case_batch_reads(void)
{
	struct cc *c = cc_open();
	char *buf = malloc(BATCH_TOTAL), *line = malloc(BATCH_READS * 128 + 2);
	struct hash sent, got;
	struct source *src;
	long long s, answered = 0, refused = 0, n;
	size_t len = 0;
	bool eof = false;
	int peer;
	cJSON *a;

	CHECK(c && buf && line, "setup");
	s = cc_pair(c, &peer);
	CHECK(s > 0, "setup");
	src = source_start(peer, BATCH_TOTAL, 31);
	CHECK(src, "no source thread");
	/* Until the kernel holds what it can (nothing is read meanwhile). */
	for (long long end = conform_now_ms() + CONFORM_DEADLINE_MS;
	     conform_now_ms() < end && source_waiting(src) == false &&
	     source_sent(src) < BATCH_TOTAL;)
		(void)poll(NULL, 0, 20);
	line[len++] = '[';
	for (int i = 0; i < BATCH_READS; i++)
		len += (size_t)sprintf(line + len, "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":"
				       "\"tcp.read\",\"params\":{\"socket\":%lld,\"length\":%u}}",
				       i ? "," : "", 3000 + i, s, BATCH_TOTAL);
	line[len++] = ']';
	line[len] = '\0';
	CHECK(cc_send_line(c, line) == 0, "send");
	hash_init(&got);
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(cJSON_IsArray(a), "the batch of %d reads was not answered: %s", BATCH_READS,
	      a ? j_text(a) : "nothing");
	for (int i = 0; i < cJSON_GetArraySize(a); i++) {
		const cJSON *x = cJSON_GetArrayItem(a, i);

		if (j_get(x, "result")) {
			CHECK(refused == 0, "a read answered after a refused one: %s", j_text(x));
			n = add_read(x, buf, &got);
			CHECK(n > 0, "read %d: %s", i, j_text(x));
			answered++;
		} else {
			CHECK(err_code(x) == PROTO_E_LIMIT &&
			      j_is(x, "error.data.limit", "clientBudgetBytes"), "read %d: %s", i,
			      j_text(x));
			refused++;
		}
	}
	CHECK(answered > 0 && answered + refused == BATCH_READS, "%lld answered, %lld refused",
	      answered, refused);
	cJSON_Delete(a);
	/* The rest, read one at a time: nothing was lost or reordered. */
	while (!eof) {
		a = cc_call(c, "tcp.read", "{\"socket\":%lld,\"length\":%u}", s, BATCH_TOTAL);
		CHECK(j_get(a, "result"), "tcp.read: %s", j_text(a));
		eof = add_read(a, buf, &got) < 0;
		cJSON_Delete(a);
	}
	CHECK(source_join(src, &sent, CONFORM_DEADLINE_MS) == 0, "the source failed");
	CHECK(hash_eq(&got, &sent), "got %llu bytes, sent %llu", (unsigned long long)got.len,
	      (unsigned long long)sent.len);
	if (C->verbose)
		conform_log("%lld reads answered, %lld refused", answered, refused);
	free(buf);
	free(line);
	close(peer);
	cc_close(c);
}

const struct conform_case conform_cases_attacks[] = {
	{ "tcp-channel-notification", case_channel_notification, false },
	{ "batch-reads-budget", case_batch_reads, true },
	{ NULL, NULL, false },
};
