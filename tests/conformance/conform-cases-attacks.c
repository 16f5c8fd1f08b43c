/*
 * Conformance cases: requests that are well formed but used against the
 * grain, each of which once cost more than its own failure
 * (doc/SECURITY.md, "Attacks we test").
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"
#include "conform-client.h"
#include "conform-peer.h"

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

const struct conform_case conform_cases_attacks[] = {
	{ "tcp-channel-notification", case_channel_notification, false },
	{ NULL, NULL, false },
};
