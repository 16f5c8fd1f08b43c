/*
 * conform-cases-relay: the data channel's relay under back-pressure.
 * Two channels move bytes both ways at once to slow readers, so each
 * direction's destination fills and the relay keeps what it did not
 * take (the moves of every channel share one pipe in the daemon); every
 * stream arrives whole and in order (checked by hash), and both
 * channels end with tcp.closed once both ways have ended.  A TCP peer
 * reset while the client streams up ends the socket (tcp.error) and the
 * channel,
 * and the next channel's bytes come whole (nothing left behind in the
 * pipe the moves share).
 */
#include "config.h"

#include <errno.h>
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

/*
 * Client -> TCP under traffic, the peer resets: tcp.error comes, the
 * client's end is closed (its writes fail), and a channel opened after
 * it carries 8 MiB up whole.
 */
static void
case_channel_up_reset(void)
{
	struct cc *c = cc_open();
	int peer, ch;
	long long s;
	char why[600], buf[65536];
	struct source *src;
	struct sink *snk;
	struct hash sent, got;
	ssize_t k;
	cJSON *a;

	CHECK(c, "cannot connect");
	s = cc_pair(c, &peer);
	CHECK(s > 0, "setup");
	ch = channel_open(c, s, why, sizeof(why));
	CHECK(ch >= 0, "tcp.channel: %s", why);
	/* More than every buffer on the way holds: the source is still writing at the reset. */
	src = source_start(ch, 256u << 20, 990);
	CHECK(src, "thread");
	CHECK(peer_recv_all(peer, buf, sizeof(buf), CONFORM_DEADLINE_MS) == 0, "the peer's read");
	peer_reset(peer);
	a = cc_note(c, "tcp.error", CONFORM_DEADLINE_MS);
	CHECK(a && j_int(a, "params.socket") == s, "tcp.error after the reset: %s",
	      a ? j_text(a) : "none");
	cJSON_Delete(a);
	CHECK(source_join(src, &sent, SLOW_MS) != 0, "the source sent everything");
	k = recv(ch, buf, 1, MSG_DONTWAIT);
	CHECK(k == 0 || (k < 0 && errno != EAGAIN), "the channel's end is still open");
	close(ch);
	/* The next channel: 8 MiB up, whole and in order. */
	s = cc_pair(c, &peer);
	CHECK(s > 0, "setup");
	ch = channel_open(c, s, why, sizeof(why));
	CHECK(ch >= 0, "tcp.channel: %s", why);
	src = source_start(ch, 8u << 20, 991);
	snk = sink_start(peer, 0);
	CHECK(src && snk, "threads");
	CHECK(source_join(src, &sent, SLOW_MS) == 0, "the source stalled");
	CHECK(sink_join(snk, &got, SLOW_MS) == 0, "the peer saw no EOF");
	CHECK(hash_eq(&sent, &got), "%llu bytes sent, %llu came, or other bytes",
	      (unsigned long long)sent.len, (unsigned long long)got.len);
	close(ch);
	close(peer);
	cc_close(c);
}

const struct conform_case conform_cases_relay[] = {
	{ "tcp-channel-slow-ends", case_channel_slow_ends, false },
	{ "tcp-channel-up-reset", case_channel_up_reset, false },
	{ NULL, NULL, false },
};
