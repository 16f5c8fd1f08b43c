/*
 * conform-cases-relay: the data channel's relay under back-pressure.
 * Two channels move bytes both ways at once to slow readers, so each
 * direction's destination fills and the relay keeps what it did not
 * take (the moves of every channel share one pipe in the daemon); every
 * stream arrives whole and in order (checked by hash), and both
 * channels end with tcp.closed once both ways have ended.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"
#include "conform-client.h"
#include "conform-peer.h"

#define SLOW_BYTES	(16u << 20)	/* per direction: past the socket buffers */
#define SLOW_PACE_MS	1		/* the readers pause after each 64 KiB */
#define SLOW_MS		120000
#define CHANNELS	2

static void
case_channel_slow_ends(void)
{
	struct cc *c = cc_open();
	int peer[CHANNELS] = { -1, -1 }, ch[CHANNELS] = { -1, -1 };
	long long s[CHANNELS];
	struct source *src[2 * CHANNELS];
	struct sink *snk[2 * CHANNELS];
	struct hash sent, got;
	char why[600];

	CHECK(c, "cannot connect");
	for (int i = 0; i < CHANNELS; i++) {
		s[i] = cc_pair(c, &peer[i]);
		CHECK(s[i] > 0, "setup");
		ch[i] = channel_open(c, s[i], why, sizeof(why));
		CHECK(ch[i] >= 0, "tcp.channel: %s", why);
	}
	/* Down (peer -> client) and up (client -> peer) on each, all at once. */
	for (int i = 0; i < CHANNELS; i++) {
		src[2 * i] = source_start(peer[i], SLOW_BYTES, 900 + (uint64_t)i);
		snk[2 * i] = sink_start(ch[i], SLOW_PACE_MS);
		src[2 * i + 1] = source_start(ch[i], SLOW_BYTES, 950 + (uint64_t)i);
		snk[2 * i + 1] = sink_start(peer[i], SLOW_PACE_MS);
		CHECK(src[2 * i] && snk[2 * i] && src[2 * i + 1] && snk[2 * i + 1], "threads");
	}
	for (int k = 0; k < 2 * CHANNELS; k++) {
		CHECK(source_join(src[k], &sent, SLOW_MS) == 0, "%s of channel %d: the source "
		      "stalled", k % 2 ? "up" : "down", k / 2);
		CHECK(sink_join(snk[k], &got, SLOW_MS) == 0, "%s of channel %d: the reader saw no "
		      "EOF", k % 2 ? "up" : "down", k / 2);
		CHECK(hash_eq(&sent, &got), "%s of channel %d: %llu bytes sent, %llu came, or other "
		      "bytes", k % 2 ? "up" : "down", k / 2, (unsigned long long)sent.len,
		      (unsigned long long)got.len);
	}
	for (int i = 0; i < CHANNELS; i++) {
		cJSON *a = cc_note(c, "tcp.closed", CONFORM_DEADLINE_MS);

		CHECK(a && j_is(a, "params.reason", "channel"), "tcp.closed: %s",
		      a ? j_text(a) : "none");
		cJSON_Delete(a);
	}
	for (int i = 0; i < CHANNELS; i++) {
		cJSON *a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s[i]);

		CHECK(j_int(a, "result.bytesRead") == SLOW_BYTES &&
		      j_int(a, "result.bytesWritten") == SLOW_BYTES, "channel %d: %s", i, j_text(a));
		cJSON_Delete(a);
		close(ch[i]);
		close(peer[i]);
	}
	cc_close(c);
}

const struct conform_case conform_cases_relay[] = {
	{ "tcp-channel-slow-ends", case_channel_slow_ends, false },
	{ NULL, NULL, false },
};
