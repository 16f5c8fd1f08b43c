/*
 * conform-cases-admin: what root and the daemon's own user may do beyond
 * their own sockets: daemon.monitor (events, turning it off, a monitor
 * that falls behind), tcp.list with all, tcp.close with admin.  Run by
 * anyone else, the privileged calls must answer -32003, and the cases
 * that need the privilege are skipped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"
#include "conform-client.h"
#include "conform-peer.h"
#include "proto-errors.h"

/* Enables monitoring on m.  Returns 1, 0 when refused as it must be (SKIP), -1 on error. */
static int
monitor_start(struct cc *m, char *why, size_t whylen)
{
	cJSON *a = cc_call(m, "daemon.monitor", NULL);
	int r = -1;

	if (j_true(a, "result.monitoring")) {
		r = 1;
	} else if (err_code(a) == PROTO_E_NOT_PERMITTED) {
		r = 0;
	}
	snprintf(why, whylen, "%s", j_text(a));
	cJSON_Delete(a);
	return r;
}

/* The next monitor.event on m about socket (0: any) named event, or NULL. */
static cJSON *
next_event(struct cc *m, long long socket, const char *event, long long end)
{
	for (;;) {
		long long left = end - conform_now_ms();
		cJSON *n;

		if (left <= 0)
			return NULL;
		n = cc_note(m, "monitor.event", (int)left);
		if (!n)
			return NULL;
		if ((socket == 0 || j_int(n, "params.socket") == socket) &&
		    j_is(n, "params.event", event))
			return n;
		cJSON_Delete(n);
	}
}

/* Another connection's whole life, seen from a monitor, in order. */
static void
case_monitor_events(void)
{
	struct cc *m = cc_open(), *c;
	long long s, end, client;
	char why[512];
	int peer, r;
	char byte;
	cJSON *e;

	CHECK(m, "cannot connect");
	r = monitor_start(m, why, sizeof(why));
	CHECK(r >= 0, "daemon.monitor: %s", why);
	if (r == 0) {
		cc_close(m);
		SKIP("not privileged: daemon.monitor answered -32003 as it must");
	}
	c = cc_open();
	CHECK(c, "cannot connect");
	end = conform_now_ms() + CONFORM_DEADLINE_MS;
	e = next_event(m, 0, "client.connect", end);
	CHECK(e && j_int(e, "params.pid") == (long long)getpid() &&
	      j_int(e, "params.uid") == (long long)getuid() && j_int(e, "params.time") > 0,
	      "client.connect: %s", e ? j_text(e) : "none");
	client = j_int(e, "params.client");
	cJSON_Delete(e);

	s = cc_pair(c, &peer);
	CHECK(s > 0, "setup");
	e = next_event(m, s, "create", end);
	CHECK(e && j_int(e, "params.client") == client, "create: %s", e ? j_text(e) : "none");
	cJSON_Delete(e);
	e = next_event(m, s, "connect", end);
	CHECK(e && j_is(e, "params.host", "127.0.0.1") && j_int(e, "params.port") > 0,
	      "connect: %s", e ? j_text(e) : "none");
	cJSON_Delete(e);
	e = next_event(m, s, "state", end);
	CHECK(e && j_is(e, "params.from", "initialized") && j_is(e, "params.to", "connecting"),
	      "state to connecting: %s", e ? j_text(e) : "none");
	cJSON_Delete(e);
	e = next_event(m, s, "state", end);
	CHECK(e && j_is(e, "params.to", "connected") && j_get(e, "params.remote") &&
	      j_int(e, "params.tcpInfo.cwnd") > 0,
	      "state to connected, with the kernel's view: %s", e ? j_text(e) : "none");
	cJSON_Delete(e);

	cJSON_Delete(cc_call(c, "tcp.write", "{\"socket\":%lld,\"text\":\"hello\"}", s));
	e = next_event(m, s, "write", end);
	CHECK(e && j_int(e, "params.bytes") == 5, "write: %s", e ? j_text(e) : "none");
	cJSON_Delete(e);
	CHECK(peer_recv_all(peer, why, 5, CONFORM_DEADLINE_MS) == 0, "the peer got no data");
	byte = 'x';
	CHECK(send(peer, &byte, 1, 0) == 1, "send");
	cJSON_Delete(cc_call(c, "tcp.read", "{\"socket\":%lld}", s));
	e = next_event(m, s, "read", end);
	CHECK(e && j_int(e, "params.bytes") == 1, "read: %s", e ? j_text(e) : "none");
	cJSON_Delete(e);

	cJSON_Delete(cc_call(c, "tcp.close", "{\"socket\":%lld}", s));
	e = next_event(m, s, "close", end);
	CHECK(e && j_is(e, "params.reason", "client") && cJSON_IsFalse(j_get(e, "params.abort")),
	      "close: %s", e ? j_text(e) : "none");
	cJSON_Delete(e);
	e = next_event(m, s, "state", end);
	CHECK(e && j_is(e, "params.to", "closed"), "state to closed: %s", e ? j_text(e) : "none");
	cJSON_Delete(e);
	cc_close(c);
	close(peer);
	for (;;) {
		e = next_event(m, 0, "client.disconnect", end);
		CHECK(e, "no client.disconnect for client %lld", client);
		if (j_int(e, "params.client") == client)
			break;
		cJSON_Delete(e);
	}
	CHECK(j_str(e, "params.reason"), "client.disconnect without a reason: %s", j_text(e));
	cJSON_Delete(e);

	/* Turned off: nothing more arrives. */
	e = cc_call(m, "daemon.monitor", "{\"enable\":false}");
	CHECK(cJSON_IsFalse(j_get(e, "result.monitoring")), "disable: %s", j_text(e));
	cJSON_Delete(e);
	c = cc_open();
	CHECK(c && cc_create(c) > 0, "setup");
	cc_close(c);
	CHECK(cc_sync(m, CONFORM_DEADLINE_MS) == 0, "no answer");
	e = cc_note(m, "monitor.event", 0);
	while (e && !j_is(e, "params.event", "client.connect")) {
		/* Events sent before the disable was processed may remain. */
		cJSON_Delete(e);
		e = cc_note(m, "monitor.event", 0);
	}
	CHECK(!e, "an event after daemon.monitor {enable: false}: %s", e ? j_text(e) : "");
	cc_close(m);
}

/* tcp.list with all: every socket the caller may see, each with its owner. */
static void
case_list_all(void)
{
	struct cc *c1 = cc_open(), *c2 = cc_open();
	long long s1, s2;
	bool seen1 = false, seen2 = false;
	const cJSON *info;
	cJSON *a;

	CHECK(c1 && c2, "cannot connect");
	s1 = cc_create(c1);
	s2 = cc_create(c2);
	CHECK(s1 > 0 && s2 > 0, "setup");
	/* Same uid as c1: seen whether privileged or not. */
	a = cc_call(c2, "tcp.list", "{\"all\":true}");
	CHECK(j_get(a, "result.sockets"), "tcp.list all: %s", j_text(a));
	cJSON_ArrayForEach(info, j_get(a, "result.sockets")) {
		if (j_int(info, "socket") == s1) {
			seen1 = true;
			CHECK(j_int(info, "owner.pid") == (long long)getpid() &&
			      j_int(info, "owner.uid") == (long long)getuid() &&
			      j_int(info, "owner.client") > 0 && j_int(info, "ageMs") >= 0,
			      "owner of another connection's socket: %s", j_text(info));
		}
		if (j_int(info, "socket") == s2)
			seen2 = true;
	}
	CHECK(seen1 && seen2, "tcp.list all misses %lld or %lld: %s", s1, s2, j_text(a));
	cJSON_Delete(a);
	/* Without all: still only the caller's own. */
	a = cc_call(c2, "tcp.list", NULL);
	CHECK(cJSON_GetArraySize(j_get(a, "result.sockets")) == 1, "tcp.list: %s", j_text(a));
	cJSON_Delete(a);
	cc_close(c1);
	cc_close(c2);
}

/* tcp.close with admin closes another connection's socket; the owner is told. */
static void
case_admin_close(void)
{
	struct cc *c1 = cc_open(), *c2 = cc_open();
	long long s;
	int peer;
	cJSON *a;

	CHECK(c1 && c2, "cannot connect");
	s = cc_pair(c1, &peer);
	CHECK(s > 0, "setup");
	a = cc_call(c2, "tcp.close", "{\"socket\":%lld,\"admin\":true}", s);
	if (err_code(a) == PROTO_E_NOT_PERMITTED) {
		cJSON_Delete(a);
		a = cc_call(c1, "tcp.info", "{\"socket\":%lld}", s);
		CHECK(j_is(a, "result.state", "connected"), "refused, yet: %s", j_text(a));
		cJSON_Delete(a);
		close(peer);
		cc_close(c1);
		cc_close(c2);
		SKIP("not privileged: tcp.close with admin answered -32003 as it must");
	}
	CHECK(j_is(a, "result.state", "closed") && j_int(a, "result.socket") == s,
	      "admin close: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_note(c1, "tcp.closed", CONFORM_DEADLINE_MS);
	CHECK(a && j_int(a, "params.socket") == s && j_is(a, "params.reason", "admin"),
	      "the owner's tcp.closed: %s", a ? j_text(a) : "none");
	cJSON_Delete(a);
	a = cc_call(c1, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "closed"), "owner's view: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(peer_wait_eof(peer, CONFORM_DEADLINE_MS) == 0, "the peer saw no FIN");
	/* Without admin, a foreign id stays unknown. */
	a = cc_call(c2, "tcp.close", "{\"socket\":%lld}", s);
	CHECK(err_code(a) == PROTO_E_NO_SOCKET, "foreign close without admin: %s", j_text(a));
	cJSON_Delete(a);
	close(peer);
	cc_close(c1);
	cc_close(c2);
}

/*
 * A monitor that stops reading is dropped once more than 4 MiB is
 * queued for it; the daemon and other clients carry on.  Whatever it
 * reads afterwards ends with monitor.dropped (if that was delivered
 * before linger-ms ran out), then EOF.
 */
static void
case_monitor_dropped(void)
{
	struct cc *m = cc_open(), *c = cc_open();
	long long dropped0, end, last_was_dropped = 0;
	char why[512], batch[8192];
	int r, rounds = 0;
	cJSON *a;

	CHECK(m && c, "cannot connect");
	r = monitor_start(m, why, sizeof(why));
	CHECK(r >= 0, "daemon.monitor: %s", why);
	if (r == 0) {
		cc_close(m);
		cc_close(c);
		SKIP("not privileged");
	}
	a = cc_call(c, "daemon.info", NULL);
	dropped0 = j_int(a, "result.counters.monitorsDropped");
	CHECK(dropped0 >= 0, "daemon.info has no counters.monitorsDropped: %s", j_text(a));
	cJSON_Delete(a);
	/* Events at about 400 bytes per create and close, in batches, until the drop. */
	end = conform_now_ms() + 60000;
	for (;;) {
		size_t n = 0;

		CHECK(conform_now_ms() < end, "no drop after %d rounds", rounds);
		n += (size_t)snprintf(batch + n, sizeof(batch) - n, "[");
		for (int i = 0; i < 32; i++)
			n += (size_t)snprintf(batch + n, sizeof(batch) - n,
				"%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.create\"}",
				i ? "," : "", i);
		snprintf(batch + n, sizeof(batch) - n, "]");
		a = NULL;
		CHECK(cc_send_line(c, batch) == 0, "send");
		a = cc_read(c, CONFORM_DEADLINE_MS);
		CHECK(cJSON_IsArray(a), "batch answer: %s", a ? j_text(a) : "none");
		n = 0;
		n += (size_t)snprintf(batch + n, sizeof(batch) - n, "[");
		for (int i = 0; i < 32; i++)
			n += (size_t)snprintf(batch + n, sizeof(batch) - n,
				"%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.close\","
				"\"params\":{\"socket\":%lld}}", i ? "," : "", 100 + i,
				j_int(cJSON_GetArrayItem(a, i), "result.socket"));
		snprintf(batch + n, sizeof(batch) - n, "]");
		cJSON_Delete(a);
		CHECK(cc_send_line(c, batch) == 0, "send");
		a = cc_read(c, CONFORM_DEADLINE_MS);
		CHECK(cJSON_IsArray(a), "batch answer: %s", a ? j_text(a) : "none");
		cJSON_Delete(a);
		if (++rounds % 16 == 0) {
			a = cc_call(c, "daemon.info", NULL);
			if (j_int(a, "result.counters.monitorsDropped") > dropped0) {
				cJSON_Delete(a);
				break;
			}
			cJSON_Delete(a);
		}
	}
	/* The daemon is healthy and the monitor is gone from its count. */
	a = cc_call(c, "daemon.info", NULL);
	CHECK(j_int(a, "result.counters.monitors") == 0, "monitors: %s", j_text(a));
	cJSON_Delete(a);
	/* The monitor reads to EOF; monitor.dropped, if it came, came last. */
	for (;;) {
		cJSON *n = cc_read(m, CONFORM_DEADLINE_MS);

		if (!n)
			break;
		if (j_is(n, "params.event", "monitor.dropped")) {
			CHECK(j_is(n, "params.reason", "fell behind"), "reason: %s", j_text(n));
			last_was_dropped = 1;
		} else if (last_was_dropped) {
			CHECK(0, "a line after monitor.dropped: %s", j_text(n));
		}
		cJSON_Delete(n);
	}
	CHECK(peer_wait_eof(cc_fd(m), 0) == 0, "the dropped monitor's connection is still open");
	conform_log("monitor dropped after %d rounds; final event %s", rounds,
		    last_was_dropped ? "delivered" : "cut by linger-ms");
	cc_close(m);
	cc_close(c);
}

const struct conform_case conform_cases_admin[] = {
	{ "monitor-events", case_monitor_events, false },
	{ "list-all", case_list_all, false },
	{ "admin-close", case_admin_close, false },
	{ "monitor-dropped", case_monitor_dropped, false },
	{ NULL, NULL, false },
};
