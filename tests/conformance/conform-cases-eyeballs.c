/*
 * conform-cases-eyeballs: tcp.connect to a name with an IPv6 and an IPv4
 * address (Happy Eyeballs, RFC 8305), the attempts it reports, and IPv6
 * scope ids in host.
 *
 * The name is the suite's own (CONFORM_HOST_BOTH, in the hosts file the
 * daemon reads): ::1 first, then 127.0.0.1.  Its IPv6 address is made a
 * black hole: a listener on ::1 whose accept queue is full drops every
 * SYN, so a connect there hangs until its timeout.  The IPv4 address, on
 * the same port, is a listener of ours that answers.
 */
#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"
#include "conform-client.h"
#include "conform-peer.h"
#include "proto-errors.h"

#define LONG_TIMEOUT_MS	20000	/* the connect timeout the race must stay well under */
#define SHORT_TIMEOUT_MS 800	/* a connect that is to time out */
#define SLACK_MS	3000

/* A loopback black hole and a real listener on the same port. */
struct pair {
	int	 v4;		/* 127.0.0.1:port, answers */
	int	 v6;		/* ::1:port, accept queue full */
	int	 filler;	/* the connection that fills it */
	int	 port;
};

/* Whether fd becomes ready for events within timeout_ms. */
static bool
ready(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & events);
}

/*
 * A listener on ::1 at port, backlog 0, holding one connection it never
 * accepts: its accept queue is full and the kernel drops further SYNs.
 * Returns 0, or -1 (fds closed) when port is taken on ::1 or it fails.
 */
static int
black_hole(struct pair *p)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT,
				   .sin6_port = htons((uint16_t)p->port) };
	int one = 1;

	p->v6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	p->filler = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->v6 < 0 || p->filler < 0 ||
	    setsockopt(p->v6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
	    bind(p->v6, (struct sockaddr *)&s6, sizeof(s6)) < 0 || listen(p->v6, 0) < 0)
		goto fail;
	if (connect(p->filler, (struct sockaddr *)&s6, sizeof(s6)) < 0 && errno != EINPROGRESS)
		goto fail;
	/* Connected, and in the accept queue (the listener is readable): it is full. */
	if (!ready(p->filler, POLLOUT, CONFORM_DEADLINE_MS) ||
	    !ready(p->v6, POLLIN, CONFORM_DEADLINE_MS))
		goto fail;
	return 0;
fail:
	if (p->v6 >= 0)
		close(p->v6);
	if (p->filler >= 0)
		close(p->filler);
	p->v6 = p->filler = -1;
	return -1;
}

/* Sets up p: a few ports are tried, as ::1 may hold one 127.0.0.1 has free. */
static bool
pair_open(struct pair *p)
{
	for (int i = 0; i < 8; i++) {
		p->v4 = peer_listen(AF_INET, 8, &p->port);
		if (p->v4 < 0)
			return false;
		if (black_hole(p) == 0)
			return true;
		close(p->v4);
	}
	return false;
}

static void
pair_close(struct pair *p)
{
	close(p->v4);
	close(p->v6);
	close(p->filler);
}

/* The attempt i of an answer's attempts (result or error data). */
static const cJSON *
attempt(const cJSON *a, int i)
{
	const cJSON *v = j_get(a, "result.attempts");

	if (!v)
		v = j_get(a, "error.data.attempts");
	return cJSON_GetArrayItem(v, i);
}

static int
attempts_count(const cJSON *a)
{
	const cJSON *v = j_get(a, "result.attempts");

	if (!v)
		v = j_get(a, "error.data.attempts");
	return cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
}

/*
 * The IPv6 address is black-holed: the race starts the IPv4 attempt one
 * stagger later and connects through it, far within the timeout; the
 * IPv6 attempt, still in flight, is cancelled.
 */
static void
case_race(void)
{
	struct pair p;
	struct cc *c;
	long long t0, took, id;
	int pfd;
	cJSON *a;

	if (!peer_have_ipv6())
		SKIP("no IPv6 loopback here");
	CHECK(pair_open(&p), "cannot set up a black hole on ::1 next to a listener on 127.0.0.1");
	c = cc_open();
	CHECK(c, "cannot connect");
	t0 = conform_now_ms();
	id = cc_request(c, "tcp.connect", "{\"host\":\"%s\",\"port\":%d,\"timeout\":%d}",
			CONFORM_HOST_BOTH, p.port, LONG_TIMEOUT_MS);
	a = cc_wait(c, id, LONG_TIMEOUT_MS + SLACK_MS);
	took = conform_now_ms() - t0;
	CHECK(j_is(a, "result.state", "connected") && j_is(a, "result.remote.family", "ipv4") &&
	      j_int(a, "result.remote.port") == p.port,
	      "connect to %s (::1 black-holed): %s after %lld ms", CONFORM_HOST_BOTH, j_text(a),
	      took);
	CHECK(took < LONG_TIMEOUT_MS / 4, "the race took %lld ms of a %d ms timeout", took,
	      LONG_TIMEOUT_MS);
	CHECK(attempts_count(a) == 2 &&
	      j_is(attempt(a, 0), "address.family", "ipv6") &&
	      j_is(attempt(a, 0), "address.address", "::1") &&
	      j_int(attempt(a, 0), "address.port") == p.port &&
	      j_is(attempt(a, 0), "outcome", "cancelled") &&
	      j_int(attempt(a, 0), "ms") >= CONFORM_HE_DELAY_MS - 50 &&
	      j_is(attempt(a, 1), "address.family", "ipv4") &&
	      j_is(attempt(a, 1), "address.address", "127.0.0.1") &&
	      j_is(attempt(a, 1), "outcome", "connected") && j_int(attempt(a, 1), "ms") >= 0,
	      "attempts: IPv6 cancelled after the stagger, then IPv4 connected: %s", j_text(a));
	cJSON_Delete(a);
	pfd = peer_accept(p.v4, CONFORM_DEADLINE_MS);
	CHECK(pfd >= 0, "the IPv4 listener saw no connection");
	close(pfd);
	pair_close(&p);
	cc_close(c);
}

/*
 * happyEyeballs: false tries one address after another: the black-holed
 * IPv6 address takes the whole timeout and IPv4 is never tried.
 */
static void
case_sequential(void)
{
	struct pair p;
	struct cc *c;
	long long t0, took, id;
	cJSON *a;

	if (!peer_have_ipv6())
		SKIP("no IPv6 loopback here");
	CHECK(pair_open(&p), "cannot set up a black hole on ::1 next to a listener on 127.0.0.1");
	c = cc_open();
	CHECK(c, "cannot connect");
	t0 = conform_now_ms();
	id = cc_request(c, "tcp.connect", "{\"host\":\"%s\",\"port\":%d,\"timeout\":%d,"
			"\"happyEyeballs\":false}", CONFORM_HOST_BOTH, p.port, SHORT_TIMEOUT_MS);
	a = cc_wait(c, id, SHORT_TIMEOUT_MS + SLACK_MS);
	took = conform_now_ms() - t0;
	CHECK(err_code(a) == PROTO_E_TIMEOUT && attempts_count(a) == 1 &&
	      j_is(attempt(a, 0), "address.address", "::1") &&
	      j_is(attempt(a, 0), "outcome", "timeout") &&
	      j_int(attempt(a, 0), "ms") >= SHORT_TIMEOUT_MS - 50,
	      "happyEyeballs false, ::1 black-holed: expected -32006 with one attempt (::1, "
	      "timeout), got %s after %lld ms", j_text(a), took);
	cJSON_Delete(a);
	pair_close(&p);
	cc_close(c);
}

/* A connect to a literal address reports its one attempt; a refused one too. */
static void
case_literal(void)
{
	int port, lfd = peer_listen(AF_INET, 8, &port), closed = peer_closed_port();
	struct cc *c = cc_open();
	cJSON *a;

	CHECK(lfd >= 0 && c && closed > 0, "setup");
	a = cc_call(c, "tcp.connect", "{\"host\":\"127.0.0.1\",\"port\":%d}", port);
	CHECK(attempts_count(a) == 1 && j_is(attempt(a, 0), "outcome", "connected") &&
	      j_is(attempt(a, 0), "address.address", "127.0.0.1"),
	      "one attempt, connected: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_call(c, "tcp.connect", "{\"host\":\"127.0.0.1\",\"port\":%d}", closed);
	CHECK(err_code(a) == PROTO_E_NETWORK && attempts_count(a) == 1 &&
	      j_is(attempt(a, 0), "outcome", "refused") &&
	      j_int(attempt(a, 0), "address.port") == closed,
	      "one attempt, refused, in the error's data: %s", j_text(a));
	cJSON_Delete(a);
	close(lfd);
	cc_close(c);
}

/*
 * fe80::1%lo and fe80::1%<index of lo>: the scope is parsed and reported
 * (scopeId), whatever becomes of the connect itself.
 */
static void
case_scope(void)
{
	unsigned lo = if_nametoindex("lo");
	const char *hosts[2] = { "fe80::1%lo", NULL };
	char numeric[32];
	struct cc *c = cc_open();
	cJSON *a;

	CHECK(c, "cannot connect");
	if (lo == 0)
		SKIP("no interface lo here");
	snprintf(numeric, sizeof(numeric), "fe80::1%%%u", lo);
	hosts[1] = numeric;
	for (int i = 0; i < 2; i++) {
		long long id = cc_request(c, "tcp.connect", "{\"host\":\"%s\",\"port\":9,"
					  "\"timeout\":%d}", hosts[i], SHORT_TIMEOUT_MS);

		a = cc_wait(c, id, SHORT_TIMEOUT_MS + SLACK_MS);
		CHECK(attempts_count(a) == 1 &&
		      j_is(attempt(a, 0), "address.address", "fe80::1") &&
		      j_is(attempt(a, 0), "address.family", "ipv6") &&
		      j_int(attempt(a, 0), "address.scopeId") == (long long)lo &&
		      j_int(attempt(a, 0), "address.port") == 9,
		      "connect to %s: one attempt to fe80::1 with scopeId %u, got %s", hosts[i],
		      lo, j_text(a));
		cJSON_Delete(a);
	}
	a = cc_call(c, "tcp.connect", "{\"host\":\"fe80::1%%no-such-if0\",\"port\":9}");
	CHECK(err_code(a) == PROTO_E_RESOLVE,
	      "an unknown interface in a scope: expected -32010, got %s", j_text(a));
	cJSON_Delete(a);
	cc_close(c);
}

const struct conform_case conform_cases_eyeballs[] = {
	{ "tcp-connect-happy-eyeballs-race", case_race, false },
	{ "tcp-connect-happy-eyeballs-off", case_sequential, false },
	{ "tcp-connect-attempts-literal", case_literal, false },
	{ "tcp-connect-ipv6-scope", case_scope, false },
	{ NULL, NULL, false },
};
