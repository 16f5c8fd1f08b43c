/*
 * conform-cases-states: the state rules of the method table (every socket
 * method in every state it does not allow is -32002 with data.state),
 * unknown and foreign ids (-32001, the same answer for both), closing
 * (twice, with a read or accept pending, with abort, cut by linger-ms)
 * and peer resets.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"
#include "conform-client.h"
#include "conform-peer.h"
#include "proto-errors.h"
#include "proto-methods.h"

#define UNKNOWN_ID	987654321LL
#define CLOSED_KEPT	256	/* closed sockets an owner keeps */

/* Params besides socket that make a call of each socket method otherwise valid. */
static const struct {
	const char	*method;
	const char	*extra;
	bool		 port;		/* add a closed port */
} templates[] = {
	{ "tcp.connect", ",\"timeout\":500", true },
	{ "tcp.listen", ",\"port\":0", false },
	{ "tcp.accept", ",\"timeout\":100", false },
	{ "tcp.read", ",\"timeout\":100", false },
	{ "tcp.write", ",\"text\":\"x\"", false },
	{ "tcp.pump", ",\"enable\":false", false },
	{ "tcp.shutdown", "", false },
	{ "tcp.close", "", false },
	{ "tcp.setOptions", ",\"noDelay\":true", false },
	{ "tcp.info", "", false },
	{ "tcp.channel", "", false },
	{ "tcp.startTls", ",\"tls\":true", false },
};

/* The request params of method on socket s, or NULL when the suite has no template. */
static const char *
params_for(const char *method, long long s)
{
	static char buf[256];
	char port[32] = "";

	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
		if (strcmp(templates[i].method, method) != 0)
			continue;
		if (templates[i].port)
			snprintf(port, sizeof(port), ",\"port\":%d", peer_closed_port());
		snprintf(buf, sizeof(buf), "{\"socket\":%lld%s%s}", s, templates[i].extra, port);
		return buf;
	}
	return NULL;
}

static bool
is_socket_method(int i)
{
	return (proto_methods[i].flags & (PROTO_M_SOCKET | PROTO_M_NOTIFICATION)) == PROTO_M_SOCKET;
}

/* A fresh socket of c in state st, or -1. */
static long long
make_in_state(struct cc *c, enum proto_state st, int *peer)
{
	long long s = -1;
	cJSON *a = NULL;

	*peer = -1;
	switch (st) {
	case PROTO_STATE_INITIALIZED:
		return cc_create(c);
	case PROTO_STATE_CONNECTED:
		return cc_pair(c, peer);
	case PROTO_STATE_LISTENING:
		a = cc_call(c, "tcp.listen", "{\"port\":0}");
		s = j_int(a, "result.socket");
		break;
	case PROTO_STATE_CLOSED:
		s = cc_create(c);
		a = cc_call(c, "tcp.close", "{\"socket\":%lld}", s);
		break;
	case PROTO_STATE_ERROR:
		a = cc_call(c, "tcp.connect", "{\"port\":%d}", peer_closed_port());
		s = j_int(a, "error.data.socket");
		break;
	default:
		break;
	}
	cJSON_Delete(a);
	return s > 0 ? s : -1;
}

static void
case_state_matrix(void)
{
	static const enum proto_state states[] = { PROTO_STATE_INITIALIZED,
		PROTO_STATE_CONNECTED, PROTO_STATE_LISTENING, PROTO_STATE_CLOSED,
		PROTO_STATE_ERROR };
	struct cc *c = cc_open();

	CHECK(c, "cannot connect");
	for (int i = 0; i < _PROTO_M_MAX; i++) {
		const struct proto_method *m = &proto_methods[i];

		if (!is_socket_method(i))
			continue;
		CHECK(params_for(m->name, 1), "the suite has no call template for %s", m->name);
		for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
			const char *name = proto_state_name(states[k]);
			int peer;
			long long s;
			cJSON *a;

			if (m->states & (1u << states[k]))
				continue;
			s = make_in_state(c, states[k], &peer);
			CHECK(s > 0, "cannot make a socket in state %s", name);
			a = cc_call(c, m->name, "%s", params_for(m->name, s));
			if (peer >= 0)
				close(peer);
			CHECK(err_code(a) == PROTO_E_INVALID_STATE && j_is(a, "error.data.state", name)
			      && j_int(a, "error.data.socket") == s,
			      "%s %s on a socket in state %s: expected -32002 with data.state %s, "
			      "got %s", m->name, params_for(m->name, s), name, name, j_text(a));
			cJSON_Delete(a);
		}
	}
	cc_close(c);
}

/* Every socket method on an id that never existed: -32001 with data.socket. */
static void
case_unknown_id(void)
{
	struct cc *c = cc_open();

	CHECK(c, "cannot connect");
	for (int i = 0; i < _PROTO_M_MAX; i++) {
		cJSON *a;

		if (!is_socket_method(i))
			continue;
		a = cc_call(c, proto_methods[i].name, "%s",
			    params_for(proto_methods[i].name, UNKNOWN_ID));
		CHECK(err_code(a) == PROTO_E_NO_SOCKET && j_int(a, "error.data.socket") == UNKNOWN_ID,
		      "%s on an unknown id: %s", proto_methods[i].name, j_text(a));
		cJSON_Delete(a);
	}
	cc_close(c);
}

/* a and b with id and error.data.socket removed, compared as text. */
static bool
same_but_ids(cJSON *a, cJSON *b)
{
	char *ta, *tb;
	bool same;

	cJSON_DeleteItemFromObject(a, "id");
	cJSON_DeleteItemFromObject(b, "id");
	cJSON_DeleteItemFromObject(j_get(a, "error.data"), "socket");
	cJSON_DeleteItemFromObject(j_get(b, "error.data"), "socket");
	ta = cJSON_PrintUnformatted(a);
	tb = cJSON_PrintUnformatted(b);
	same = ta && tb && !strcmp(ta, tb);
	free(ta);
	free(tb);
	return same;
}

/*
 * Another connection naming c1's sockets (created, listening, accepted)
 * gets exactly the answer of an unknown id, and tcp.list shows each
 * connection only its own sockets.
 */
static void
case_ownership(void)
{
	struct cc *c1 = cc_open(), *c2 = cc_open();
	long long own[3], id;
	int port, pfd;
	cJSON *a, *b;

	CHECK(c1 && c2, "cannot connect");
	own[0] = cc_create(c1);
	a = cc_call(c1, "tcp.listen", "{\"port\":0}");
	own[1] = j_int(a, "result.socket");
	port = (int)j_int(a, "result.local.port");
	cJSON_Delete(a);
	id = cc_request(c1, "tcp.accept", "{\"socket\":%lld}", own[1]);
	pfd = peer_connect(AF_INET, port);
	a = cc_wait(c1, id, CONFORM_DEADLINE_MS);
	own[2] = j_int(a, "result.inbound");
	cJSON_Delete(a);
	CHECK(own[0] > 0 && own[1] > 0 && own[2] > 0, "setup");
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < _PROTO_M_MAX; i++) {
			const char *m = proto_methods[i].name;

			if (!is_socket_method(i))
				continue;
			a = cc_call(c2, m, "%s", params_for(m, own[k]));
			b = cc_call(c2, m, "%s", params_for(m, UNKNOWN_ID + k));
			CHECK(err_code(a) == PROTO_E_NO_SOCKET && j_int(a, "error.data.socket") ==
			      own[k], "%s on another connection's socket %lld: %s", m, own[k],
			      j_text(a));
			CHECK(same_but_ids(a, b), "foreign and unknown ids answer differently for %s: "
			      "%s vs %s", m, j_text(a), j_text(b));
			cJSON_Delete(a);
			cJSON_Delete(b);
		}
	a = cc_call(c2, "tcp.list", NULL);
	CHECK(cJSON_GetArraySize(j_get(a, "result.sockets")) == 0,
	      "tcp.list shows another connection's sockets: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c1, "tcp.list", NULL);
	CHECK(cJSON_GetArraySize(j_get(a, "result.sockets")) == 3 &&
	      j_int(cJSON_GetArrayItem(j_get(a, "result.sockets"), 0), "socket") == own[0] &&
	      j_int(cJSON_GetArrayItem(j_get(a, "result.sockets"), 2), "socket") == own[2],
	      "tcp.list of the owner (%lld %lld %lld, by id): %s", own[0], own[1], own[2], j_text(a));
	cJSON_Delete(a);
	close(pfd);
	cc_close(c1);
	cc_close(c2);
}

/* Pending read and accept answered -32004 by a graceful close; closing twice. */
static void
case_close_pending(void)
{
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), r, k, l, acc;
	cJSON *a;

	CHECK(s > 0, "setup");
	r = cc_request(c, "tcp.read", "{\"socket\":%lld}", s);
	k = cc_request(c, "tcp.close", "{\"socket\":%lld}", s);
	a = cc_wait(c, r, CONFORM_DEADLINE_MS);
	CHECK(err_code(a) == PROTO_E_CLOSED && j_int(a, "error.data.socket") == s,
	      "the pending read: expected -32004, got %s", j_text(a));
	cJSON_Delete(a);
	a = cc_wait(c, k, CONFORM_DEADLINE_MS);
	CHECK(j_is(a, "result.state", "closed") && j_int(a, "result.socket") == s,
	      "the close: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(peer_wait_eof(peer, CONFORM_DEADLINE_MS) == 0, "the peer did not see FIN");
	a = cc_call(c, "tcp.close", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "closed"), "closing twice: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "closed") && j_int(a, "result.stateCode") == 4,
	      "tcp.info of a closed socket: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.listen", "{\"port\":0}");
	l = j_int(a, "result.socket");
	cJSON_Delete(a);
	acc = cc_request(c, "tcp.accept", "{\"socket\":%lld}", l);
	a = cc_call(c, "tcp.close", "{\"socket\":%lld}", l);
	CHECK(j_is(a, "result.state", "closed"), "closing a listener: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_wait(c, acc, CONFORM_DEADLINE_MS);
	CHECK(err_code(a) == PROTO_E_CLOSED && j_int(a, "error.data.socket") == l,
	      "the pending accept: expected -32004, got %s", j_text(a));
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

static void
case_close_abort(void)
{
	struct cc *c = cc_open();
	int peer, r;
	long long s = cc_pair(c, &peer);
	cJSON *a;

	CHECK(s > 0, "setup");
	a = cc_call(c, "tcp.close", "{\"socket\":%lld,\"abort\":true}", s);
	CHECK(j_is(a, "result.state", "closed"), "close with abort: %s", j_text(a));
	cJSON_Delete(a);
	r = peer_wait_eof(peer, CONFORM_DEADLINE_MS);
	CHECK(r == -ECONNRESET, "the peer's recv after an abort close: %s, not ECONNRESET",
	      r == 0 ? "EOF" : strerror(-r));
	close(peer);
	cc_close(c);
}

/*
 * A socket of c connected to a peer that does not read (a 4 KiB receive
 * buffer), with 96 KiB writes sent until the daemon holds some it cannot
 * send.  Returns the socket id, or -1; the peer in *peer, the id of the
 * last write (still pending) in *last_write.
 */
static long long
stalled_pair(struct cc *c, int *peer, long long *last_write)
{
	int rcvbuf = 4096, port, lfd = peer_listen(AF_INET, 4, &port);
	char *chunk = malloc(131072 + 1);
	long long s = -1, pending = 0, id;
	cJSON *a;

	*peer = -1;
	if (lfd < 0 || !chunk)
		goto out;
	(void)setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	id = cc_request(c, "tcp.connect", "{\"port\":%d}", port);
	*peer = peer_accept(lfd, CONFORM_DEADLINE_MS);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	s = j_int(a, "result.socket");
	cJSON_Delete(a);
	if (s <= 0 || *peer < 0) {
		s = -1;
		goto out;
	}
	memset(chunk, 'A', 131072);	/* valid base64 */
	chunk[131072] = '\0';
	for (int i = 0; i < 64 && pending == 0; i++) {
		*last_write = cc_request(c, "tcp.write", "{\"socket\":%lld,\"data\":\"%s\"}", s,
					 chunk);
		a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
		pending = j_int(a, "result.pendingWriteBytes");
		cJSON_Delete(a);
	}
	if (pending <= 0)
		s = -1;		/* the kernel took every write */
out:
	free(chunk);
	if (lfd >= 0)
		close(lfd);
	return s;
}

/*
 * An abort close while a graceful close is still flushing to a peer that
 * does not read: both closes are answered at once, the unsent writes get
 * -32004, the peer sees a reset, and the daemon is still fine after the
 * linger time the graceful close had started.
 */
static void
case_close_abort_while_closing(void)
{
	struct cc *c = cc_open();
	long long s, first, write_id = 0, end;
	int peer, r;
	cJSON *a;

	CHECK(c, "cannot connect");
	s = stalled_pair(c, &peer, &write_id);
	CHECK(s > 0, "setup: no writes held for a peer that does not read");
	first = cc_request(c, "tcp.close", "{\"socket\":%lld}", s);
	a = cc_call(c, "tcp.close", "{\"socket\":%lld,\"abort\":true}", s);
	CHECK(j_is(a, "result.state", "closed"), "abort close: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_wait(c, first, CONFORM_DEADLINE_MS);
	CHECK(j_is(a, "result.state", "closed"), "the graceful close's answer: %s",
	      a ? j_text(a) : "none");
	cJSON_Delete(a);
	a = cc_wait(c, write_id, CONFORM_DEADLINE_MS);
	CHECK(err_code(a) == PROTO_E_CLOSED, "the last unsent write: %s", a ? j_text(a) : "none");
	cJSON_Delete(a);
	/* The peer reads what reached it, then the reset. */
	for (end = conform_now_ms() + CONFORM_DEADLINE_MS, r = 1; r > 0 && conform_now_ms() < end;) {
		struct pollfd pf = { .fd = peer, .events = POLLIN };
		char buf[65536];

		if (poll(&pf, 1, 1000) <= 0)
			continue;
		r = (int)recv(peer, buf, sizeof(buf), 0);
	}
	CHECK(r < 0 && errno == ECONNRESET, "the peer saw %s, not a reset",
	      r == 0 ? "EOF" : r > 0 ? "no end" : strerror(errno));
	close(peer);
	/* Past the linger time the graceful close had armed: still answering. */
	end = conform_now_ms() + (C->limits.linger_ms > 0 ? C->limits.linger_ms : 5000) + 500;
	while (conform_now_ms() < end) {
		a = cc_call(c, "daemon.info", NULL);
		CHECK(j_get(a, "result.uptime"), "the daemon stopped answering: %s",
		      a ? j_text(a) : "none");
		cJSON_Delete(a);
		poll(NULL, 0, 100);
	}
	cc_close(c);
}

/*
 * A graceful close that linger-ms cuts short: writes held for a peer that
 * does not read are reset away, and the owner is told exactly how many of
 * the bytes accepted did not reach the peer: in tcp.closed (reason
 * linger), in the close answer, and in the cut write's -32004 (written,
 * undeliveredBytes).  The peer, reading everything it got before the
 * reset, plus that figure make every byte accepted.
 */
static void
case_close_linger_undelivered(void)
{
	const struct proto_field *shape = proto_methods[PROTO_N_TCP_CLOSED].params;
	struct cc *c = cc_open();
	long long s, last = 0, accepted, undelivered, id, got = 0, end;
	int peer, wait_ms, err = 0;
	char why[128];
	cJSON *a;

	CHECK(c, "cannot connect");
	if (C->limits.linger_ms < 0 || C->limits.linger_ms > 10000)
		SKIP("linger-ms %lld: too long to wait for", C->limits.linger_ms);
	wait_ms = (int)C->limits.linger_ms + CONFORM_DEADLINE_MS;
	s = stalled_pair(c, &peer, &last);
	CHECK(s > 0, "setup: no writes held for a peer that does not read");
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	accepted = j_int(a, "result.bytesWritten") + j_int(a, "result.pendingWriteBytes");
	CHECK(j_int(a, "result.pendingWriteBytes") > 0, "tcp.info: %s", j_text(a));
	cJSON_Delete(a);
	id = cc_request(c, "tcp.close", "{\"socket\":%lld}", s);
	a = cc_note(c, "tcp.closed", wait_ms);
	CHECK(a && j_int(a, "params.socket") == s && j_is(a, "params.reason", "linger"),
	      "no tcp.closed with reason linger when linger-ms ran out: %s", a ? j_text(a) : "none");
	undelivered = j_int(a, "params.undeliveredBytes");
	CHECK(undelivered > 0 && undelivered <= accepted && j_int(a, "params.unacknowledgedBytes") >= 0,
	      "tcp.closed without the bytes that did not reach the peer: %s", j_text(a));
	CHECK(j_shape(shape, j_get(a, "params"), why, sizeof(why)), "tcp.closed %s: %s", why,
	      j_text(a));
	cJSON_Delete(a);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	CHECK(j_is(a, "result.state", "closed") && j_int(a, "result.undeliveredBytes") == undelivered,
	      "the close answer must carry undeliveredBytes %lld: %s", undelivered,
	      a ? j_text(a) : "none");
	cJSON_Delete(a);
	a = cc_wait(c, last, CONFORM_DEADLINE_MS);
	CHECK(err_code(a) == PROTO_E_CLOSED && j_int(a, "error.data.socket") == s &&
	      j_int(a, "error.data.written") >= 0 && j_int(a, "error.data.undeliveredBytes") > 0,
	      "the last write, cut: -32004 with written and undeliveredBytes, not %s",
	      a ? j_text(a) : "none");
	cJSON_Delete(a);
	/* What reached the peer, then the reset. */
	for (end = conform_now_ms() + CONFORM_DEADLINE_MS; !err && conform_now_ms() < end;) {
		struct pollfd pf = { .fd = peer, .events = POLLIN };
		char buf[65536];
		ssize_t n;

		if (poll(&pf, 1, 200) <= 0)
			continue;
		n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			got += n;
		else if (n == 0)
			err = -1;
		else if (errno != EAGAIN && errno != EINTR)
			err = errno;
	}
	close(peer);
	CHECK(err == ECONNRESET, "the peer saw %s, not a reset",
	      err == -1 ? "EOF" : err ? strerror(err) : "no end");
	CHECK(got + undelivered == accepted, "the peer got %lld bytes and %lld were reported "
	      "undelivered, of %lld accepted", got, undelivered, accepted);
	cc_close(c);
}

/*
 * A socket's own linger option bounds its graceful close more tightly
 * than linger-ms: with linger 1 (linger-ms 2000 here) a close held by a
 * peer that does not read is reset after about a second.
 */
static void
case_close_socket_linger(void)
{
	struct cc *c = cc_open();
	long long s, last = 0, id, t0, took;
	int peer;
	cJSON *a;

	CHECK(c, "cannot connect");
	if (C->limits.linger_ms < 1800 || C->limits.linger_ms > 10000)
		SKIP("linger-ms %lld: not clearly longer than the socket's 1 s",
		     C->limits.linger_ms);
	s = stalled_pair(c, &peer, &last);
	CHECK(s > 0, "setup: no writes held for a peer that does not read");
	a = cc_call(c, "tcp.setOptions", "{\"socket\":%lld,\"linger\":1}", s);
	CHECK(j_int(a, "result.socket") == s, "tcp.setOptions: %s", j_text(a));
	cJSON_Delete(a);
	t0 = conform_now_ms();
	id = cc_request(c, "tcp.close", "{\"socket\":%lld}", s);
	a = cc_note(c, "tcp.closed", (int)C->limits.linger_ms + CONFORM_DEADLINE_MS);
	took = conform_now_ms() - t0;
	CHECK(a && j_is(a, "params.reason", "linger") && j_int(a, "params.undeliveredBytes") > 0,
	      "no tcp.closed with reason linger: %s", a ? j_text(a) : "none");
	cJSON_Delete(a);
	CHECK(took >= 900 && took < C->limits.linger_ms - 300,
	      "linger 1 ended the close after %lld ms (linger-ms %lld)", took,
	      C->limits.linger_ms);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	CHECK(j_is(a, "result.state", "closed"), "tcp.close: %s", a ? j_text(a) : "none");
	cJSON_Delete(a);
	a = cc_wait(c, last, CONFORM_DEADLINE_MS);
	cJSON_Delete(a);
	close(peer);
	cc_close(c);
}

static void
case_peer_reset(void)
{
	const struct proto_field *shape = proto_methods[PROTO_N_TCP_ERROR].params;
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), r;
	char why[128];
	cJSON *a;

	CHECK(s > 0, "setup");
	r = cc_request(c, "tcp.read", "{\"socket\":%lld}", s);
	CHECK(cc_sync(c, CONFORM_DEADLINE_MS) == 0 && !cc_has_answer(c, r), "read answered early");
	peer_reset(peer);
	a = cc_wait(c, r, CONFORM_DEADLINE_MS);
	CHECK(err_code(a) == PROTO_E_NETWORK && j_is(a, "error.data.errname", "ECONNRESET") &&
	      j_int(a, "error.data.errno") == ECONNRESET && j_int(a, "error.data.socket") == s,
	      "a read hit by a reset: expected -32011 ECONNRESET, got %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "error") && j_int(a, "result.stateCode") == 5,
	      "state after a reset: %s", j_text(a));
	cJSON_Delete(a);
	/* While pumping, with no request pending, a reset is a tcp.error notification. */
	s = cc_pair(c, &peer);
	a = cc_call(c, "tcp.pump", "{\"socket\":%lld}", s);
	cJSON_Delete(a);
	peer_reset(peer);
	a = cc_note(c, "tcp.error", CONFORM_DEADLINE_MS);
	CHECK(j_int(a, "params.socket") == s && j_int(a, "params.code") == PROTO_E_NETWORK &&
	      j_is(a, "params.errname", "ECONNRESET"), "a reset while pumping: %s", j_text(a));
	CHECK(j_shape(shape, j_get(a, "params"), why, sizeof(why)), "tcp.error %s: %s", why,
	      j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
	CHECK(j_is(a, "result.state", "error"), "state after tcp.error: %s", j_text(a));
	cJSON_Delete(a);
	/* With writes queued for a peer that does not read, a reset fails each of them. */
	{
		long long last = 0;

		s = stalled_pair(c, &peer, &last);
		CHECK(s > 0, "setup: no writes held for a peer that does not read");
		peer_reset(peer);
		a = cc_wait(c, last, CONFORM_DEADLINE_MS);
		CHECK(err_code(a) == PROTO_E_NETWORK && j_int(a, "error.data.socket") == s &&
		      (j_is(a, "error.data.errname", "ECONNRESET") ||
		       j_is(a, "error.data.errname", "EPIPE")),
		      "a write hit by a reset: expected -32011 ECONNRESET or EPIPE, got %s",
		      a ? j_text(a) : "none");
		cJSON_Delete(a);
		a = cc_call(c, "tcp.info", "{\"socket\":%lld}", s);
		CHECK(j_is(a, "result.state", "error") && j_int(a, "result.pendingWriteBytes") == 0,
		      "after a reset under writes: %s", j_text(a));
		cJSON_Delete(a);
	}
	cc_close(c);
}

/*
 * Closed sockets stay known (state closed) until the owner has more than
 * CLOSED_KEPT of them; then the oldest are forgotten and answer -32001.
 */
static void
case_closed_forgotten(void)
{
	struct cc *c = cc_open();
	long long ids[CLOSED_KEPT + 4];
	cJSON *a;

	CHECK(c, "cannot connect");
	for (int i = 0; i < CLOSED_KEPT + 4; i++) {
		ids[i] = cc_create(c);
		a = cc_call(c, "tcp.close", "{\"socket\":%lld}", ids[i]);
		CHECK(ids[i] > 0 && j_is(a, "result.state", "closed"), "create/close %d: %s", i,
		      j_text(a));
		cJSON_Delete(a);
	}
	for (int i = 0; i < 4; i++) {
		a = cc_call(c, "tcp.info", "{\"socket\":%lld}", ids[i]);
		CHECK(err_code(a) == PROTO_E_NO_SOCKET, "closed socket %d of %d is still known: %s",
		      i + 1, CLOSED_KEPT + 4, j_text(a));
		cJSON_Delete(a);
	}
	a = cc_call(c, "tcp.info", "{\"socket\":%lld}", ids[4]);
	CHECK(j_is(a, "result.state", "closed"), "the %dth newest closed socket is forgotten: %s",
	      CLOSED_KEPT, j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.list", NULL);
	CHECK(cJSON_GetArraySize(j_get(a, "result.sockets")) == CLOSED_KEPT,
	      "tcp.list holds %d sockets, not %d", cJSON_GetArraySize(j_get(a, "result.sockets")),
	      CLOSED_KEPT);
	cJSON_Delete(a);
	cc_close(c);
}

const struct conform_case conform_cases_states[] = {
	{ "state-matrix", case_state_matrix, false },
	{ "unknown-id", case_unknown_id, false },
	{ "ownership", case_ownership, false },
	{ "tcp-close-pending", case_close_pending, false },
	{ "tcp-close-abort-while-closing", case_close_abort_while_closing, false },
	{ "tcp-close-abort", case_close_abort, false },
	{ "tcp-close-linger-undelivered", case_close_linger_undelivered, false },
	{ "tcp-close-socket-linger", case_close_socket_linger, false },
	{ "peer-reset", case_peer_reset, false },
	{ "closed-sockets-forgotten", case_closed_forgotten, false },
	{ NULL, NULL, false },
};
