/*
 * test-attacks: attacks on what one client may cost the others, against a
 * real tisockd:
 *
 *  - a client that exits while the daemon does not read it (at its
 *    client-requests cap, after a half-close, or both) is reaped: its
 *    connection, sockets and fds are released;
 *  - unfinished lines are bounded per uid (uid-input-bytes) and
 *    daemon-wide (input-bytes): past either, the client whose line grew
 *    gets -32005 naming the limit, the daemon's RSS grows by no more than
 *    the limit, and every connection stays usable;
 *  - a batch of requests with big answers (rpc.discover) is bounded by
 *    client-budget-bytes: the requests past it are refused with -32005
 *    clientBudgetBytes, the answer line and the daemon's peak RSS stay
 *    within the budget and a little more;
 *  - a connect to a name with many addresses that never answer holds at
 *    most `sockets` descriptors for its raced attempts, and at most
 *    uid-sockets for its uid: each attempt in flight counts there.
 *
 * Every wait has a deadline.
 *
 *	test-attacks DAEMON
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

#define DEADLINE_MS	15000
#define LINE_BYTES	(2 << 20)	/* each unfinished line */
#define NFLOOD		24		/* connections sending one */
#define UID_INPUT	(8 << 20)	/* uid-input-bytes of the first daemon */
#define ALL_INPUT	(4 << 20)	/* input-bytes of the second */
#define NALL		8		/* connections against the second */
#define BUDGET		(1 << 20)	/* client-budget-bytes of the third */
#define NBATCH		2000		/* rpc.discover requests in one batch */
#define ANSWER_CAP	(16 << 20)	/* the most of an answer line this test reads */
#define NADDRS		24		/* addresses of the name, none answering */
#define FDS		6		/* sockets of the fourth daemon */
#define USOCK		3		/* uid-sockets of the fifth */

static struct spawned sp;

static long long
counter(int fd, const char *key)
{
	return spawn_info_field(fd, "\"counters\":{", key);
}

/* Waits until counters.clients and .sockets are back to the given values. */
static bool
reaped(int fd, long long clients, long long sockets)
{
	for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
		if (counter(fd, "clients") == clients && counter(fd, "sockets") == sockets)
			return true;
		poll(NULL, 0, 20);
	}
	return false;
}

/*
 * A client with a listener and `accepts` accepts waiting on it (no peer
 * ever comes), sent with a daemon.info in one write: once that is
 * answered, the daemon has read and dispatched all of it.
 */
static int
waiting_client(int accepts)
{
	int fd = spawn_ctl_open(&sp);
	const char *a = spawn_ask(fd, 1, "tcp.listen", "{\"port\":0}"), *p = strstr(a, "\"socket\":");
	char buf[2048];
	size_t n = 0;

	if (!p)
		return -1;
	for (int i = 0; i < accepts; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"jsonrpc\":\"2.0\",\"id\":%d,"
				      "\"method\":\"tcp.accept\",\"params\":{\"socket\":%lld}}\n",
				      10 + i, atoll(p + 9));
	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			      "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"daemon.info\"}\n");
	spawn_send_all(fd, buf, n);
	do
		a = spawn_line(fd, DEADLINE_MS);
	while (*a && !strstr(a, "\"id\":99,"));
	return *a ? fd : -1;
}

/*
 * Finding: a client at its client-requests cap is not read, so its exit
 * went unseen and everything it held stayed.  Also after a half-close
 * (EOF read, answers still owed) and a half-close while at the cap.
 */
static void
test_reaping(int watcher)
{
	static const struct { int accepts; bool half_close; const char *what; } cases[] = {
		{ 4, false, "at its request cap" },
		{ 1, true, "after shutting down its sending side" },
		{ 4, true, "at its request cap, after shutting down its sending side" },
	};
	long long clients = counter(watcher, "clients"), sockets = counter(watcher, "sockets");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = waiting_client(cases[i].accepts);

		check(fd >= 0 && counter(watcher, "clients") == clients + 1 &&
		      counter(watcher, "sockets") == sockets + 1,
		      "a client %s holds a connection and a listener", cases[i].what);
		if (cases[i].half_close) {
			shutdown(fd, SHUT_WR);
			/* The daemon sees the EOF no later than these requests. */
			for (int k = 0; k < 3; k++)
				(void) counter(watcher, "clients");
			check(counter(watcher, "clients") == clients + 1,
			      "... which it keeps after the half-close (answers are owed)");
		}
		close(fd);
		check(reaped(watcher, clients, sockets), "a client that exits %s is reaped",
		      cases[i].what);
	}
}

/* Bytes of fd's output the daemon has not read yet. */
static int
unread(int fd)
{
	int n = 0;

	return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : -1;
}

/*
 * n connections each send an unfinished line of LINE_BYTES.  Returns how
 * many were refused with -32005 naming limit; *ret_grown is the daemon's
 * RSS growth in KiB.
 */
static int
flood_unfinished(int watcher, int *fds, int n, const char *limit, long *ret_grown)
{
	static char line[LINE_BYTES];
	long rss0 = spawn_status_kib(sp.pid, "VmRSS:");
	int refused = 0;
	size_t head;
	char want[64];

	head = (size_t)snprintf(line, sizeof(line),
				"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"daemon.info\",\"x\":\"");
	memset(line + head, 'a', sizeof(line) - head);
	for (int i = 0; i < n; i++) {
		fds[i] = spawn_ctl_open(&sp);
		spawn_send_all(fds[i], line, sizeof(line));
	}
	/* Until the daemon has read every byte (held or discarded). */
	for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
		int left = 0;

		for (int i = 0; i < n; i++)
			left += unread(fds[i]) != 0;
		if (left == 0)
			break;
		poll(NULL, 0, 20);
	}
	*ret_grown = spawn_status_kib(sp.pid, "VmRSS:") - rss0;
	(void) counter(watcher, "clients");	/* every refusal is written by now */
	snprintf(want, sizeof(want), "\"limit\":\"%s\"", limit);
	for (int i = 0; i < n; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };

		if (poll(&p, 1, 0) == 1) {
			const char *a = spawn_line(fds[i], DEADLINE_MS);

			refused += strstr(a, "\"code\":-32005") && strstr(a, want) &&
				   strstr(a, "\"id\":null");
		}
	}
	return refused;
}

/* Each connection ends its line and is answered after it: all still usable. */
static bool
all_usable(int *fds, int n)
{
	bool ok = true;

	for (int i = 0; i < n; i++) {
		spawn_send_all(fds[i], "\"}\n", 3);
		ok = ok && strstr(spawn_ask(fds[i], 8, "daemon.info", NULL), "\"result\"");
		close(fds[i]);
	}
	return ok;
}

static void
test_input_per_uid(int watcher)
{
	int fds[NFLOOD], refused;
	long grown;

	refused = flood_unfinished(watcher, fds, NFLOOD, "uidInputBytes", &grown);
	check(refused >= NFLOOD - UID_INPUT / LINE_BYTES,
	      "%d connections of one uid with %d KiB unfinished lines: %d refused with "
	      "-32005 uidInputBytes (at least %d)", NFLOOD, LINE_BYTES >> 10, refused,
	      NFLOOD - UID_INPUT / LINE_BYTES);
	check(spawn_info_field(watcher, "\"user\":{", "inputBytes") >= 0 &&
	      spawn_info_field(watcher, "\"user\":{", "inputBytes") <= UID_INPUT &&
	      counter(watcher, "inputBytes") >= 0 && counter(watcher, "inputBytes") <= UID_INPUT,
	      "the uid holds at most uid-input-bytes (%lld)",
	      spawn_info_field(watcher, "\"user\":{", "inputBytes"));
	if (spawn_rss_is_inflated())
		printf("# RSS growth %ld KiB, not checked under valgrind or a sanitizer\n", grown);
	else
		check(grown <= (UID_INPUT >> 10) + 8192, "the daemon's RSS grew by %ld KiB "
		      "(attempted %d KiB, limit %d KiB)", grown, NFLOOD * (LINE_BYTES >> 10),
		      UID_INPUT >> 10);
	check(all_usable(fds, NFLOOD), "every connection is usable after its line ends");
	check(counter(watcher, "inputBytes") == 0, "no input held afterwards");
	check(spawn_info_field(watcher, "\"limitHitsBy\":{", "uidInputBytes") == refused,
	      "limitHitsBy.uidInputBytes counts the refusals");
}

static void
test_input_daemon_wide(int watcher)
{
	int fds[NALL], refused;
	long grown;

	refused = flood_unfinished(watcher, fds, NALL, "inputBytes", &grown);
	check(refused >= NALL - ALL_INPUT / LINE_BYTES,
	      "%d connections against input-bytes %d KiB: %d refused with -32005 inputBytes",
	      NALL, ALL_INPUT >> 10, refused);
	check(counter(watcher, "inputBytes") >= 0 && counter(watcher, "inputBytes") <= ALL_INPUT,
	      "the daemon holds at most input-bytes");
	check(all_usable(fds, NALL), "every connection is usable after its line ends");
}

/*
 * The next line from fd, read whole into *ret (malloc'd, NUL-ended) up to
 * ANSWER_CAP bytes.  Returns its length, or -1 after DEADLINE_MS without
 * a byte, at EOF, or past the cap (what was read is then dropped).
 */
static long
big_line(int fd, char **ret)
{
	size_t n = 0, cap = 1 << 16;
	char *b = malloc(cap);

	*ret = NULL;
	while (b && n < ANSWER_CAP) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t k;

		if (n + 1 >= cap && !(b = realloc(b, cap *= 2)))
			break;
		if (poll(&p, 1, DEADLINE_MS) != 1 || (k = read(fd, b + n, cap - n - 1)) <= 0)
			break;
		b[n + (size_t)k] = '\0';
		nl = memchr(b + n, '\n', (size_t)k);
		n += (size_t)k;
		if (nl) {
			*ret = b;
			return nl - b;
		}
	}
	free(b);
	return -1;
}

/* How many times needle occurs in s. */
static int
occurrences(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle))) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/*
 * Finding: the answers of a batch were collected whole before the budget
 * was looked at, so one line of 2000 rpc.discover requests (98 KB, each
 * answered with 70 KB of OpenRPC document) made the daemon build a
 * 140 MB answer, its peak RSS 280 MB; a line of max-message-bytes would
 * ask for a thousand times that.
 */
static void
test_batch_answers(int watcher)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"rpc.discover\"}";
	size_t n = 0, size = NBATCH * (sizeof(req) + 1) + 2;
	char *line = malloc(size), *a = NULL;
	long hwm0 = spawn_status_kib(sp.pid, "VmHWM:"), grown, len;
	int fd = spawn_ctl_open(&sp), results, refused;

	line[n++] = '[';
	for (int i = 0; i < NBATCH; i++) {
		memcpy(line + n, req, sizeof(req) - 1);
		n += sizeof(req) - 1;
		line[n++] = i + 1 < NBATCH ? ',' : ']';
	}
	line[n++] = '\n';
	spawn_send_all(fd, line, n);
	free(line);
	len = big_line(fd, &a);
	grown = spawn_status_kib(sp.pid, "VmHWM:") - hwm0;
	check(len >= 0 && len <= BUDGET + (1 << 20), "a batch of %d rpc.discover is answered "
	      "in one line of %ld bytes (budget %d, at most 1 MiB over it)", NBATCH,
	      len, BUDGET);
	results = a ? occurrences(a, "\"result\":{\"openrpc\"") : 0;
	refused = a ? occurrences(a, "\"error\":{\"code\":-32005,") : 0;
	check(a && *a == '[' && results >= 1 && refused >= 1 && results + refused == NBATCH &&
	      occurrences(a, "\"data\":{\"limit\":\"clientBudgetBytes\"") == refused,
	      "%d answered, %d refused with -32005 clientBudgetBytes", results, refused);
	free(a);
	if (spawn_rss_is_inflated())
		printf("# peak RSS growth %ld KiB, not checked under valgrind or a sanitizer\n",
		       grown);
	else
		check(grown <= 16384, "the daemon's peak RSS grew by %ld KiB (at most 16 MiB)",
		      grown);
	check(strstr(spawn_ask(fd, 2, "daemon.info", NULL), "\"result\"") != NULL,
	      "the connection is usable after it");
	check(spawn_info_field(watcher, "\"limitHitsBy\":{", "clientBudgetBytes") == refused,
	      "limitHitsBy.clientBudgetBytes counts the refusals");
	close(fd);
}

/*
 * Listeners on 127.0.0.2 .. 127.0.0.NADDRS+1, all on one port, whose
 * accept queue is full (backlog 0, filled by connects of our own): a SYN
 * to them is dropped, so a connect to them waits.  Writes the name
 * many.test for all of them into the hosts file path.  Returns the port,
 * or -1; fds[] gets every descriptor made (-1 ends it).
 */
static int
blackholes(const char *path, int *fds)
{
	FILE *f = fopen(path, "w");
	int port = 0, n = 0;

	for (int k = 0; f && k < NADDRS; k++) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		socklen_t len = sizeof(sin);
		int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (uint32_t)k);
		fds[n++] = l;
		if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 0) < 0 ||
		    getsockname(l, (struct sockaddr *)&sin, &len) < 0)
			break;
		port = ntohs(sin.sin_port);
		for (int i = 0; i < 3; i++) {
			int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

			fds[n++] = c;
			(void) connect(c, (struct sockaddr *)&sin, sizeof(sin));
		}
		fprintf(f, "127.0.0.%d many.test\n", 2 + k);
	}
	fds[n] = -1;
	if (!f || fclose(f) != 0 || n != NADDRS * 4)
		return -1;
	return port;
}

/*
 * Finding: the raced attempts of a connect (happy eyeballs) were fds
 * past every socket limit: a connect to a name of 24 addresses that do
 * not answer had 24 in flight with sockets = 6 (with the defaults, a
 * name of 256 addresses and a long timeout: 256 fds per socket, and a
 * client's 1024 sockets past the daemon's fd limit).
 */
static void
test_eyeballs_fds(int port)
{
	int fd = spawn_ctl_open(&sp), n;
	const char *a;
	char params[128];

	snprintf(params, sizeof(params), "{\"host\":\"many.test\",\"port\":%d,\"timeout\":2000}",
		 port);
	a = spawn_ask(fd, 1, "tcp.connect", params);
	n = occurrences(a, "\"outcome\":");
	check(strstr(a, "\"attempts\":[") && n >= 1 && n <= FDS, "a connect to %d addresses "
	      "that do not answer made %d attempts (sockets = %d): %.160s", NADDRS, n, FDS, a);
	check(strstr(spawn_ask(fd, 2, "tcp.list", NULL), "\"result\"") != NULL,
	      "the client is served after it");
	close(fd);
}

/*
 * Finding: the raced attempts of a connect did not count for its uid:
 * with uid-sockets = 3 one connect to a name of 24 addresses that do
 * not answer held 8 descriptors (daemon.info's user.sockets said 1), and
 * uid-sockets connects 8 times as many as the limit.  Each attempt in
 * flight now counts among the uid's (and the client's) sockets, and an
 * attempt more waits while the uid is at its limit.
 */
static void
test_eyeballs_uid(int watcher, int port)
{
	int fd = spawn_ctl_open(&sp), other = spawn_ctl_open(&sp), n;
	long long seen = -1, most = -1;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	const char *a;
	char req[256];

	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tcp.connect\","
		 "\"params\":{\"host\":\"many.test\",\"port\":%d,\"timeout\":5000}}\n", port);
	spawn_send_all(fd, req, strlen(req));
	/* Until the attempts fill the uid's limit, or the connect is over. */
	for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end && seen < USOCK;) {
		seen = spawn_info_field(watcher, "\"user\":{", "sockets");
		most = seen > most ? seen : most;
		if (poll(&pfd, 1, 20) > 0)
			break;
	}
	check(most == USOCK, "the attempts in flight count among the uid's sockets "
	      "(user.sockets %lld, uid-sockets %d)", most, USOCK);
	a = spawn_ask(other, 2, "tcp.create", NULL);
	check(strstr(a, "-32005") && strstr(a, "uidSockets"), "while they are in flight, "
	      "another client of the uid is refused a socket: %.160s", a);
	do
		a = spawn_line(fd, DEADLINE_MS);
	while (*a && !strstr(a, "\"id\":1,"));
	n = occurrences(a, "\"outcome\":");
	check(strstr(a, "\"attempts\":[") && n >= 1 && n <= USOCK, "a connect to %d addresses "
	      "that do not answer made %d attempts (uid-sockets = %d): %.160s", NADDRS, n, USOCK, a);
	check(spawn_info_field(watcher, "\"user\":{", "sockets") == 1, "after it, the uid holds its one "
	      "socket (%lld)", spawn_info_field(watcher, "\"user\":{", "sockets"));
	close(other);
	close(fd);
}

static void
stop(void)
{
	int status = spawn_stop(&sp);

	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the daemon exits 0");
}

int
main(int argc, char **argv)
{
	const char *bin = argc > 1 ? argv[1] : "daemon/tisockd";
	int watcher;

	signal(SIGPIPE, SIG_IGN);
	alarm(300);
	if (spawn_start(&sp, bin, "[daemon]\nresolver-lookups = f\n[limits]\n"
			"client-requests = 4\nuid-input-bytes = 8388608\n", 0) < 0) {
		fprintf(stderr, "the daemon did not start\n");
		return 1;
	}
	watcher = spawn_ctl_open(&sp);
	test_reaping(watcher);
	test_input_per_uid(watcher);
	close(watcher);
	stop();

	if (spawn_start(&sp, bin, "[daemon]\nresolver-lookups = f\n[limits]\n"
			"input-bytes = 4194304\n", 0) < 0) {
		fprintf(stderr, "the daemon did not start\n");
		return 1;
	}
	watcher = spawn_ctl_open(&sp);
	test_input_daemon_wide(watcher);
	close(watcher);
	stop();

	if (spawn_start(&sp, bin, "[daemon]\nresolver-lookups = f\n[limits]\n"
			"client-budget-bytes = 1048576\n", 0) < 0) {
		fprintf(stderr, "the daemon did not start\n");
		return 1;
	}
	watcher = spawn_ctl_open(&sp);
	test_batch_answers(watcher);
	close(watcher);
	stop();

	{
		char hosts[] = "/tmp/tisock-hosts-XXXXXX";
		int tmp = mkstemp(hosts), fds[NADDRS * 4 + 1], port;

		close(tmp);
		port = blackholes(hosts, fds);
		setenv("CARES_HOSTS", hosts, 1);
		if (port < 0 || spawn_start(&sp, bin, "[daemon]\nresolver-lookups = f\n"
					    "happy-eyeballs-delay-ms = 10\n[limits]\nsockets = 6\n",
					    0) < 0) {
			fprintf(stderr, "no blackhole listeners, or the daemon did not start\n");
			unlink(hosts);
			return 1;
		}
		unsetenv("CARES_HOSTS");
		test_eyeballs_fds(port);
		stop();
		setenv("CARES_HOSTS", hosts, 1);
		if (spawn_start(&sp, bin, "[daemon]\nresolver-lookups = f\n"
				"happy-eyeballs-delay-ms = 10\n[limits]\nuid-sockets = 3\n", 0) < 0) {
			fprintf(stderr, "the daemon did not start\n");
			unlink(hosts);
			return 1;
		}
		unsetenv("CARES_HOSTS");
		watcher = spawn_ctl_open(&sp);
		test_eyeballs_uid(watcher, port);
		close(watcher);
		stop();
		unlink(hosts);
		for (int i = 0; fds[i] >= 0; i++)
			close(fds[i]);
	}
	return check_summary();
}
