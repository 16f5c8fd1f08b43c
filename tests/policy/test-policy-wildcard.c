/*
 * test-policy-wildcard: the policy judges the address the kernel really
 * uses, so wildcard and IPv4-mapped addresses do not get around a rule.
 *
 * Under "deny connect dest=127.0.0.0/8,::1/128", tcp.connect to 0.0.0.0,
 * ::, ::ffff:0.0.0.0 and ::ffff:127.0.0.1 (which Linux sends to loopback)
 * is answered -32003 naming that rule, and the loopback peers listening
 * on 127.0.0.1 and ::1 at that port get no connection at all.  Under
 * "deny listen dest=127.0.0.2,::1" followed by "allow listen", a listen
 * on 0.0.0.0 or :: (which would receive connections for 127.0.0.2 and
 * ::1) is denied, while 127.0.0.1 may listen; and a dest= block written
 * as IPv4-mapped IPv6 matches IPv4 addresses.
 *
 *	test-policy-wildcard DAEMON
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy-daemon.h"
#include "spawn.h"

#define WAIT_MS	15000

#define CONFIG \
	"[daemon]\nresolver-lookups = f\n" \
	"[policy]\n" \
	"rule = deny connect dest=127.0.0.0/8,::1/128\n" \
	"rule = deny listen dest=127.0.0.2,::1\n" \
	"rule = deny listen dest=::ffff:127.0.0.3/128\n" \
	"rule = allow listen\n"

static int next_id = 1;

/* Asks for method with params; the answer line (static in c), "" on none. */
static const char *
ask(struct pd_conn *c, const char *method, const char *params)
{
	int id = next_id++;

	if (!pd_send(c, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":%s}\n", id,
		     method, params))
		return "";
	return pd_answer(c, id, WAIT_MS);
}

/* Whether answer a is -32003 by rule index. */
static bool
denied_by(const char *a, int index)
{
	char want[32];

	snprintf(want, sizeof(want), "\"ruleIndex\":%d", index);
	return strstr(a, "\"code\":-32003") && strstr(a, want);
}

/* Connects to what the kernel sends to loopback; the peers p4, p6 listen at port. */
static void
connects(struct pd_conn *c, int p4, int p6, int port)
{
	static const char *const hosts[] = {
		"0.0.0.0", "::", "::ffff:0.0.0.0", "::ffff:127.0.0.1",
	};
	char params[128];

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		const char *a;

		snprintf(params, sizeof(params), "{\"host\":\"%s\",\"port\":%d}", hosts[i], port);
		a = ask(c, "tcp.connect", params);
		check(denied_by(a, 1) &&
		      strstr(a, "\"rule\":\"deny connect dest=127.0.0.0/8,::1/128\""),
		      "connect to %s is denied by rule 1: %.300s", hosts[i], a);
		/* A completed connect is in the peer's queue before the answer. */
		check(pd_peer_drain(p4) == 0 && pd_peer_drain(p6) == 0,
		      "... and neither loopback peer got a connection");
	}
}

/* Listens on addresses and wildcards that reach a denied address, and one allowed. */
static void
listens(struct pd_conn *c)
{
	const char *a;

	a = ask(c, "tcp.listen", "{\"host\":\"127.0.0.1\",\"port\":0}");
	check(strstr(a, "\"state\":\"listening\"") != NULL,
	      "listen on 127.0.0.1 is allowed: %.200s", a);
	a = ask(c, "tcp.listen", "{\"host\":\"127.0.0.2\",\"port\":0}");
	check(denied_by(a, 2), "listen on 127.0.0.2 is denied by rule 2: %.200s", a);
	a = ask(c, "tcp.listen", "{\"host\":\"0.0.0.0\",\"port\":0}");
	check(denied_by(a, 2) && strstr(a, "\"address\":\"0.0.0.0\""),
	      "listen on 0.0.0.0 (reaches 127.0.0.2) is denied by rule 2: %.300s", a);
	a = ask(c, "tcp.listen", "{\"host\":\"::\",\"port\":0}");
	check(denied_by(a, 2) && strstr(a, "\"address\":\"::\""),
	      "listen on :: (reaches ::1) is denied by rule 2: %.300s", a);
	a = ask(c, "tcp.listen", "{\"host\":\"127.0.0.3\",\"port\":0}");
	check(denied_by(a, 3), "a dest= block written ::ffff:127.0.0.3 matches 127.0.0.3: %.200s",
	      a);
}

int
main(int argc, char **argv)
{
	struct pd d;
	struct pd_conn *c = calloc(1, sizeof(*c));
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int p4 = -1, p6 = -1, port = 0, status, fd;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(300);
	setenv("TEST_DAEMON", argc > 1 ? argv[1] : "daemon/tisockd", 1);
	/* Loopback peers on one port, on 127.0.0.1 and ::1. */
	for (int tries = 0; tries < 20 && p6 < 0; tries++) {
		p4 = pd_peer("127.0.0.1", 0, 16);
		port = pd_peer_port(p4);
		p6 = pd_peer("::1", port, 16);
		if (p6 < 0)
			close(p4);
	}
	sin.sin_port = htons((uint16_t)port);
	if (p6 < 0) {
		printf("skip: no ::1 peer at the port of a 127.0.0.1 peer\n");
		return 77;
	}
	/* The peers count what they get: a direct connection, once. */
	check(pd_peer_drain(p4) == 0 && pd_peer_drain(p6) == 0,
	      "the peers start with nothing queued");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && pd_peer_drain(p4) == 1,
	      "a peer counts a direct connection");
	close(fd);
	if (pd_init(&d, CONFIG) < 0 || pd_spawn(&d) < 0)
		return 1;
	check(pd_expect(&d, "READY=1", 30000), "the daemon is ready");
	check(pd_connect(&d, c) >= 0, "a client connects");
	connects(c, p4, p6, port);
	listens(c);
	pd_close(c);
	status = pd_stop(&d);
	check(status == 0, "the daemon exits 0 (status %#x)", status);
	free(c);
	close(p4);
	close(p6);
	return check_summary();
}
