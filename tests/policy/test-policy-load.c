/*
 * test-policy-load: a policy with host= rules is in force completely or
 * not at all, at start and across reloads.
 *
 * Every case uses "deny connect host=localhost" (resolved from the hosts
 * file: 127.0.0.1, ::1) and asks for 127.0.0.1 by address, so only the
 * resolved addresses can deny it:
 *  - start: the first request, waiting in the control socket before the
 *    daemon even runs (socket activation) or sent right after READY=1,
 *    is denied; repeated with fresh daemons;
 *  - reload: a client keeps 64 connects by address in flight while the
 *    daemon is reloaded 20 times with the same file (each RELOADING=1
 *    then READY=1 awaited); every one is denied and the peer gets none;
 *  - a name that does not resolve: in a deny rule, the daemon does not
 *    start (no READY=1, exit status 1, the name logged); a reload to such
 *    a file is refused (logged) and the running policy stays; in an allow
 *    rule, the daemon starts, the rule matching by name only;
 *  - a connect in flight across a reload (its SYN dropped by a peer whose
 *    backlog is full) is judged again by the new policy when it
 *    completes: the peer is reset and the client gets -32003.
 *
 *	test-policy-load DAEMON
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy-daemon.h"
#include "spawn.h"

#define WAIT_MS		15000
#define STARTS		8	/* fresh daemons for the start case */
#define RELOADS		20
#define INFLIGHT	64	/* connects kept in flight while reloading */
#define AFTER_READY	64	/* answers awaited after each READY=1 */

#define DENY_LOCALHOST \
	"[daemon]\nresolver-lookups = f\n" \
	"[limits]\nclient-connects-per-second = 1000000\nuid-connects-per-second = 1000000\n" \
	"client-sockets = 1000000\nuid-sockets = 10000000\n" \
	"[policy]\nrule = deny connect host=localhost\n"

static int next_id = 1;
static struct pd_conn conn;

/* Sends tcp.connect to 127.0.0.1:port (on socket, if > 0).  Returns its id. */
static int
send_connect(struct pd_conn *c, long long socket, int port)
{
	int id = next_id++;
	char sock[48] = "";

	if (socket > 0)
		snprintf(sock, sizeof(sock), "\"socket\":%lld,", socket);
	if (!pd_send(c, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.connect\",\"params\":"
		     "{%s\"host\":\"127.0.0.1\",\"port\":%d}}\n", id, sock, port))
		return -1;
	return id;
}

/* Whether answer a is -32003 by rule 1, "deny connect host=localhost". */
static bool
denied_by_localhost(const char *a)
{
	return strstr(a, "\"code\":-32003") && strstr(a, "\"ruleIndex\":1") &&
	       strstr(a, "\"rule\":\"deny connect host=localhost\"");
}

/* The first request to a fresh daemon, before READY=1 or right after. */
static void
start_case(int peer, int port)
{
	int denied = 0, got = 0, ready = 0;
	const char *first = NULL;
	char firstbuf[256] = "";

	for (int i = 0; i < STARTS; i++) {
		bool early = i % 2 == 0;
		struct pd d;
		const char *a;
		int id = -1;

		if (pd_init(&d, DENY_LOCALHOST) < 0)
			exit(1);
		if (early) {
			/* Queued in the control socket before the daemon runs. */
			if (pd_activation_socket(&d) < 0 || pd_connect(&d, &conn) < 0)
				exit(1);
			id = send_connect(&conn, 0, port);
		}
		if (pd_spawn(&d) < 0)
			exit(1);
		ready += pd_expect(&d, "READY=1", 30000);
		if (!early) {
			if (pd_connect(&d, &conn) < 0)
				exit(1);
			id = send_connect(&conn, 0, port);
		}
		a = pd_answer(&conn, id, WAIT_MS);
		denied += denied_by_localhost(a);
		got += pd_peer_drain(peer);
		if (!first && !denied_by_localhost(a)) {
			snprintf(firstbuf, sizeof(firstbuf), "%s", a);
			first = firstbuf;
		}
		pd_close(&conn);
		pd_stop(&d);
	}
	check(ready == STARTS, "start: every daemon reports READY=1 (%d of %d)", ready, STARTS);
	check(denied == STARTS, "start: the first connect by address is denied (%d of %d)%s%.200s",
	      denied, STARTS, first ? "; not: " : "", first ? first : "");
	check(got == 0, "start: the peer got no connection (%d)", got);
}

/* Creates a socket; its id, or -1. */
static long long
create_socket(struct pd_conn *c)
{
	int id = next_id++;
	const char *a, *s;

	pd_send(c, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.create\"}\n", id);
	a = pd_answer(c, id, WAIT_MS);
	s = strstr(a, "\"socket\":");
	return s ? atoll(s + 9) : -1;
}

/*
 * Waits for one answer and sends the next connect (on a new socket) in
 * its place.  Returns 0, or -1 when no answer came.
 */
static int
hammer_one(struct pd_conn *c, int port, int *leaks)
{
	const char *a = pd_line(c, WAIT_MS);

	if (!a)
		return -1;
	if (!denied_by_localhost(a) && (*leaks)++ == 0)
		printf("# got through: %.300s\n", a);
	send_connect(c, 0, port);
	return 0;
}

/* Connects by address kept in flight through RELOADS reloads of one file. */
static void
reload_case(int peer, int port)
{
	struct pd d;
	int leaks = 0, answers = 0, reloaded = 0, got = 0;
	const char *a;

	if (pd_init(&d, DENY_LOCALHOST) < 0 || pd_spawn(&d) < 0)
		exit(1);
	check(pd_expect(&d, "READY=1", 30000), "reload: the daemon is ready");
	if (pd_connect(&d, &conn) < 0)
		exit(1);
	for (int i = 0; i < INFLIGHT; i++)
		send_connect(&conn, 0, port);
	for (int r = 0; r < RELOADS; r++) {
		bool reloading = false, ready = false;

		kill(d.pid, SIGHUP);
		/* Keep the connects coming until RELOADING=1, then READY=1. */
		for (long long end = spawn_now_ms() + WAIT_MS; !ready && spawn_now_ms() < end;) {
			if (hammer_one(&conn, port, &leaks) < 0)
				break;
			answers++;
			if (!reloading)
				reloading = pd_expect(&d, "RELOADING=1", 0);
			else
				ready = pd_expect(&d, "READY=1", 0);
		}
		reloaded += ready;
		for (int i = 0; i < AFTER_READY; i++, answers++)
			if (hammer_one(&conn, port, &leaks) < 0)
				break;
		got += pd_peer_drain(peer);
	}
	for (int i = 0; i < INFLIGHT; i++, answers++)
		if (!(a = pd_line(&conn, WAIT_MS)) || !denied_by_localhost(a))
			leaks++;
	got += pd_peer_drain(peer);
	check(reloaded == RELOADS, "reload: RELOADING=1 then READY=1, %d of %d times", reloaded,
	      RELOADS);
	check(leaks == 0, "reload: every connect by address is denied (%d of %d got through)",
	      leaks, answers);
	check(got == 0, "reload: the peer got no connection (%d)", got);
	pd_send(&conn, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"daemon.info\"}\n", next_id);
	a = pd_answer(&conn, next_id++, WAIT_MS);
	check(strstr(a, "\"reloads\":20") != NULL, "reload: all 20 applied: %.120s",
	      strstr(a, "\"reloads\"") ? strstr(a, "\"reloads\"") : a);
	pd_close(&conn);
	check(pd_stop(&d) == 0, "reload: the daemon exits 0");
}

/* Names that do not resolve: in a deny rule, in an allow rule, in a reload. */
static void
failed_lookup_case(int port)
{
	struct pd d;
	const char *a;
	int status = -1;
	bool exited;

	/* A deny rule whose name does not resolve: no start. */
	if (pd_init(&d, "[daemon]\nresolver-lookups = f\n[policy]\n"
		    "rule = deny connect host=nonexistent.invalid\n") < 0 || pd_spawn(&d) < 0)
		exit(1);
	exited = pd_exited(&d, 30000, &status);
	check(exited && WIFEXITED(status) && WEXITSTATUS(status) == 1,
	      "a deny rule's name that does not resolve: the daemon exits 1 (status %#x)",
	      status);
	check(!pd_expect(&d, "READY=1", 0), "... without READY=1");
	check(pd_log_has(&d, "rule 1: host nonexistent.invalid does not resolve"),
	      "... and logs the name and its rule");
	pd_stop(&d);

	/* An allow rule's: the daemon starts, the rule matches by name only. */
	if (pd_init(&d, "[daemon]\nresolver-lookups = f\n[policy]\n"
		    "rule = allow connect host=nonexistent.invalid\n"
		    "rule = deny connect dest=127.0.0.0/8\n") < 0 || pd_spawn(&d) < 0)
		exit(1);
	check(pd_expect(&d, "READY=1", 30000), "an allow rule's name that does not resolve: "
	      "the daemon starts");
	check(pd_log_has(&d, "host nonexistent.invalid does not resolve") &&
	      pd_log_has(&d, "matches it by name only"), "... and logs it");
	pd_connect(&d, &conn);
	a = pd_answer(&conn, send_connect(&conn, 0, port), WAIT_MS);
	check(strstr(a, "\"code\":-32003") && strstr(a, "\"ruleIndex\":2"),
	      "... the next rule decides for the address: %.200s", a);
	pd_close(&conn);
	pd_stop(&d);

	/* A reload to a deny rule whose name does not resolve: refused. */
	if (pd_init(&d, DENY_LOCALHOST) < 0 || pd_spawn(&d) < 0)
		exit(1);
	check(pd_expect(&d, "READY=1", 30000), "reload refused: the daemon is ready");
	pd_write_conf(&d, "[daemon]\nresolver-lookups = f\n[policy]\n"
		      "rule = deny connect host=nonexistent.invalid\n");
	kill(d.pid, SIGHUP);
	check(pd_expect(&d, "RELOADING=1", WAIT_MS) && pd_expect(&d, "READY=1", WAIT_MS),
	      "reload refused: RELOADING=1, then READY=1");
	check(pd_log_has(&d, "rule 1: host nonexistent.invalid does not resolve") &&
	      pd_log_has(&d, "keeping the running configuration"), "reload refused: logged");
	pd_connect(&d, &conn);
	a = pd_answer(&conn, send_connect(&conn, 0, port), WAIT_MS);
	check(denied_by_localhost(a), "reload refused: the running policy stays in force: %.200s",
	      a);
	pd_send(&conn, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"daemon.info\"}\n", next_id);
	a = pd_answer(&conn, next_id++, WAIT_MS);
	check(strstr(a, "\"reloads\":0") != NULL, "reload refused: not counted as a reload");
	pd_close(&conn);
	pd_stop(&d);
}

/*
 * A connect held in flight (the peer's backlog is full, its SYN dropped)
 * while a reload denies its destination; the peer then makes room.
 */
static void
inflight_case(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int peer = pd_peer("127.0.0.1", 0, 0), filler, in, port, id;
	long long sock;
	char buf[16];
	struct pd d;
	const char *a;
	ssize_t n;

	port = pd_peer_port(peer);
	sin.sin_port = htons((uint16_t)port);
	filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(filler, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		exit(1);
	if (pd_init(&d, "[daemon]\nresolver-lookups = f\n[policy]\nrule = deny connect port=1\n") <
	    0 || pd_spawn(&d) < 0)
		exit(1);
	check(pd_expect(&d, "READY=1", 30000), "in flight: the daemon is ready");
	pd_connect(&d, &conn);
	sock = create_socket(&conn);
	id = send_connect(&conn, sock, port);
	pd_send(&conn, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.info\",\"params\":"
		"{\"socket\":%lld}}\n", next_id, sock);
	a = pd_answer(&conn, next_id++, WAIT_MS);
	check(strstr(a, "\"state\":\"connecting\"") != NULL,
	      "in flight: the connect waits for the full peer: %.200s", a);
	pd_write_conf(&d, "[daemon]\nresolver-lookups = f\n[policy]\n"
		      "rule = deny connect dest=127.0.0.0/8\n");
	kill(d.pid, SIGHUP);
	check(pd_expect(&d, "RELOADING=1", WAIT_MS) && pd_expect(&d, "READY=1", WAIT_MS),
	      "in flight: reloaded to deny 127.0.0.0/8");
	in = accept(peer, NULL, NULL);	/* the filler: room for the daemon's SYN */
	close(in);
	a = pd_answer(&conn, id, 30000);
	check(strstr(a, "\"code\":-32003") && strstr(a, "\"ruleIndex\":1") &&
	      strstr(a, "\"address\":\"127.0.0.1\""),
	      "in flight: judged again on completion: -32003 by the new rule: %.300s", a);
	/* The connection the kernel completed was reset, not handed over. */
	in = -1;
	for (long long end = spawn_now_ms() + WAIT_MS; in < 0 && spawn_now_ms() < end;) {
		struct pollfd p = { .fd = peer, .events = POLLIN };

		if (poll(&p, 1, 100) > 0)
			in = accept(peer, NULL, NULL);
	}
	if (in >= 0) {
		struct pollfd p = { .fd = in, .events = POLLIN };

		n = poll(&p, 1, WAIT_MS) == 1 ? read(in, buf, sizeof(buf)) : 0;
	} else {
		n = 0;
	}
	check(in >= 0 && n < 0 && errno == ECONNRESET,
	      "in flight: the peer's connection is reset (read %zd, %s)", n,
	      n < 0 ? strerror(errno) : "no error");
	if (in >= 0)
		close(in);
	pd_close(&conn);
	pd_stop(&d);
	close(filler);
	close(peer);
}

int
main(int argc, char **argv)
{
	int peer, port;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(600);
	setenv("TEST_DAEMON", argc > 1 ? argv[1] : "daemon/tisockd", 1);
	conn.fd = -1;
	peer = pd_peer("127.0.0.1", 0, 128);
	port = pd_peer_port(peer);
	if (peer < 0 || port <= 0)
		return 1;
	start_case(peer, port);
	reload_case(peer, port);
	failed_lookup_case(port);
	inflight_case();
	close(peer);
	return check_summary();
}
