/*
 * test-quotas: the per-uid limits and the connect rate limits, against a
 * real tisockd started with small values: several connections of one uid
 * share uidClients, uidSockets, uidRequests and uidPendingWriteBytes;
 * connects beyond clientConnectsPerSecond in one batch are refused; each
 * refusal is -32005 naming its limit and is counted in daemon.info's
 * counters.limitHitsBy; a user's connect bucket is not refilled by leaving
 * and coming back.  Every wait has a deadline.
 *
 *	test-quotas DAEMON
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

#define DEADLINE_MS	15000
#define PUMP_TOTAL	(512 << 10)	/* pumped past uid-notify-bytes (64 KiB) */

static struct spawned sp;

static bool
limit_error(const char *a, const char *limit)
{
	char want[64];

	snprintf(want, sizeof(want), "\"limit\":\"%s\"", limit);
	return strstr(a, "\"code\":-32005") && strstr(a, want);
}

/* counters.limitHitsBy.NAME from daemon.info on fd, or -1. */
static long
hits(int fd, const char *name)
{
	const char *a = spawn_ask(fd, 900, "daemon.info", NULL), *p;
	char key[64];

	snprintf(key, sizeof(key), "\"%s\":", name);
	p = strstr(a, "\"limitHitsBy\":{");
	p = p ? strstr(p, key) : NULL;
	return p ? atol(p + strlen(key)) : -1;
}

/*
 * Finding: a user's connect bucket (uid-connects-per-second) went with
 * its last connection and a new one started full: a user that connected,
 * used its bucket, left and came back had a fresh bucket each time, so
 * the limit bounded nothing (4 connects in 4 rounds in well under a
 * second with uid-connects-per-second = 1).
 */
static void
test_rate_across_reconnects(int port)
{
	char params[64];
	long long t0 = spawn_now_ms();
	int ok = 0;
	double secs;

	snprintf(params, sizeof(params), "{\"port\":%d}", port);
	for (int round = 0; round < 4; round++) {
		int fd = spawn_ctl_open(&sp);

		ok += strstr(spawn_ask(fd, 1, "tcp.connect", params), "\"connected\"") != NULL;
		/* Gone for the daemon once it closes its side after our EOF. */
		shutdown(fd, SHUT_WR);
		while (*spawn_line(fd, DEADLINE_MS))
			;
		close(fd);
	}
	secs = (double)(spawn_now_ms() - t0) / 1000.;
	check(ok >= 1 && ok <= 2 + (int)secs, "4 connections one after the other, each "
	      "connecting once with uid-connects-per-second = 1: %d connected in %.1f s", ok,
	      secs);
}

int
main(int argc, char **argv)
{
	const char *bin = argc > 1 ? argv[1] : "daemon/tisockd";
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t slen = sizeof(sin);
	int c1, c2, c3, lfd, rcv = 4096;
	char params[128], batch[2048];
	const char *a;
	size_t n;

	signal(SIGPIPE, SIG_IGN);
	alarm(120);
	if (spawn_start(&sp, bin, "[daemon]\nresolver-lookups = f\n"
			"[limits]\nuid-clients = 2\nuid-sockets = 3\nuid-requests = 3\n"
			"uid-pending-write-bytes = 65536\nclient-connects-per-second = 1\n"
			"uid-notify-bytes = 65536\n", 0) < 0) {
		fprintf(stderr, "the daemon did not start\n");
		return 1;
	}
	c1 = spawn_ctl_open(&sp);
	c2 = spawn_ctl_open(&sp);
	check(c1 >= 0 && c2 >= 0, "two connections of one uid");

	/* uidClients: a third connection of the same uid gets one error line, then EOF. */
	c3 = spawn_ctl_open(&sp);
	a = spawn_line(c3, DEADLINE_MS);
	check(limit_error(a, "uidClients") && strstr(a, "\"value\":2"),
	      "a third connection: -32005 uidClients: %s", a);
	check(*spawn_line(c3, DEADLINE_MS) == '\0', "... then EOF");
	close(c3);

	/* uidSockets: 3 sockets over both connections. */
	check(strstr(spawn_ask(c1, 1, "tcp.create", NULL), "\"result\"") &&
	      strstr(spawn_ask(c1, 2, "tcp.create", NULL), "\"result\"") &&
	      strstr(spawn_ask(c2, 3, "tcp.create", NULL), "\"result\""), "3 sockets over two connections");
	a = spawn_ask(c2, 4, "tcp.create", NULL);
	check(limit_error(a, "uidSockets") && strstr(a, "\"value\":3"),
	      "a 4th socket of the uid: -32005 uidSockets: %s", a);
	a = spawn_ask(c1, 5, "tcp.close", "{\"socket\":1}");
	check(strstr(a, "\"closed\"") != NULL, "closing one frees a place: %s", a);
	check(strstr(spawn_ask(c2, 6, "tcp.create", NULL), "\"result\"") != NULL, "... which is taken");

	/* uidRequests: reads pending on a listener-accepted pair count, over both connections. */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(lfd, 8);
	getsockname(lfd, (struct sockaddr *)&sin, &slen);
	snprintf(params, sizeof(params), "{\"socket\":2,\"port\":%d}", ntohs(sin.sin_port));
	a = spawn_ask(c1, 7, "tcp.connect", params);
	check(strstr(a, "\"connected\"") != NULL, "connected: %s", a);
	{
		int peer = accept(lfd, NULL, NULL);
		char req[256];

		/* Three pending reads: the uid's three requests in flight. */
		for (int id = 80; id < 83; id++) {
			snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":"
				 "\"tcp.read\",\"params\":{\"socket\":2}}\n", id);
			spawn_send_all(c1, req, strlen(req));
		}
		a = spawn_ask(c1, 79, "tcp.info", "{\"socket\":2}");	/* refused too: 3 in flight */
		a = spawn_ask(c2, 10, "daemon.info", NULL);
		check(limit_error(a, "uidRequests"),
		      "a fourth request of the uid, on the other connection: -32005 uidRequests: %.120s",
		      a);
		spawn_send_all(peer, "ab", 2);
		a = spawn_line(c1, DEADLINE_MS);
		check(strstr(a, "\"id\":80,") != NULL, "the first read is answered: %.80s", a);
		close(peer);
		a = spawn_line(c1, DEADLINE_MS);
		check(strstr(a, "\"id\":81,") != NULL, "the second too (EOF): %.80s", a);
		a = spawn_line(c1, DEADLINE_MS);
		check(strstr(a, "\"id\":82,") != NULL, "and the third: %.80s", a);
	}

	/* uidPendingWriteBytes: writes to a peer that does not read pile up to the limit. */
	snprintf(params, sizeof(params), "{\"socket\":4,\"port\":%d}", ntohs(sin.sin_port));
	a = spawn_ask(c2, 11, "tcp.connect", params);
	{
		int peer = accept(lfd, NULL, NULL), id = 12, refused = 0;
		char *req = malloc(60000);

		check(strstr(a, "\"connected\"") && peer >= 0, "second pair: %.100s", a);
		for (int i = 0; i < 200 && !refused; i++, id++) {
			n = (size_t)snprintf(req, 128, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.write\","
					     "\"params\":{\"socket\":4,\"text\":\"", id);
			memset(req + n, 'w', 32768);
			n += 32768;
			n += (size_t)snprintf(req + n, 16, "\"}}\n");
			spawn_send_all(c2, req, n);
			/* A request that is answered at once tells whether the write was taken. */
			a = spawn_ask(c2, 5000 + i, "tcp.info", "{\"socket\":4}");
			if (strstr(a, "\"pendingWriteBytes\":") &&
			    atol(strstr(a, "\"pendingWriteBytes\":") + 20) > 32768) {
				/* The next write would pass 64 KiB: it must be refused. */
				id++;
				n = (size_t)snprintf(req, 128, "{\"jsonrpc\":\"2.0\",\"id\":%d,"
						     "\"method\":\"tcp.write\",\"params\":{\"socket\":4,"
						     "\"text\":\"", id);
				memset(req + n, 'w', 40000);
				n += 40000;
				n += (size_t)snprintf(req + n, 16, "\"}}\n");
				spawn_send_all(c2, req, n);
				do
					a = spawn_line(c2, DEADLINE_MS);
				while (*a && !strstr(a, "-32005") && !strstr(a, "\"bytes\":40000"));
				refused = limit_error(a, "uidPendingWriteBytes");
				check(refused, "a write past 64 KiB unsent for the uid: -32005: %.150s", a);
				break;
			}
		}
		free(req);
		close(peer);
	}

	/* clientConnectsPerSecond = 1: two connects in one batch, same instant. */
	snprintf(batch, sizeof(batch),
		 "[{\"jsonrpc\":\"2.0\",\"id\":700,\"method\":\"tcp.connect\",\"params\":{\"port\":%d}},"
		 "{\"jsonrpc\":\"2.0\",\"id\":701,\"method\":\"tcp.connect\",\"params\":{\"port\":%d}}]\n",
		 ntohs(sin.sin_port), ntohs(sin.sin_port));
	close(c1);	/* its sockets go with it: room for a fresh connection */
	spawn_ask(c2, 698, "tcp.close", "{\"socket\":3}");
	spawn_ask(c2, 697, "tcp.close", "{\"socket\":4}");
	for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
		/* c1's close is seen by the daemon in its own time. */
		c3 = spawn_ctl_open(&sp);
		a = spawn_ask(c3, 696, "tcp.list", NULL);
		if (!strstr(a, "uidClients"))
			break;
		close(c3);
		c3 = -1;
		poll(NULL, 0, 20);
	}
	check(c3 >= 0, "a fresh connection once the first is gone");
	spawn_send_all(c3, batch, strlen(batch));
	do
		a = spawn_line(c3, DEADLINE_MS);
	while (*a && a[0] != '[');
	check(limit_error(a, "clientConnectsPerSecond") && strstr(a, "\"connected\""),
	      "of two connects at once, one gets -32005 clientConnectsPerSecond: %.300s", a);

	/*
	 * uidNotifyBytes: c2 pumps 512 KiB from a peer without reading its
	 * control socket; past 64 KiB queued for the user the socket waits
	 * (counted, seen through c3), and nothing is lost once c2 reads.
	 */
	{
		static char chunk[65536], sink[1 << 16];
		int pfd, port2, lfd2;
		struct sockaddr_in s2 = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t l2 = sizeof(s2);
		long long got = 0, sock;
		const char *p;

		lfd2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bind(lfd2, (struct sockaddr *)&s2, sizeof(s2));
		listen(lfd2, 4);
		getsockname(lfd2, (struct sockaddr *)&s2, &l2);
		port2 = ntohs(s2.sin_port);
		/* c3's connect budget is spent for this second: connect on c2, pump on c2. */
		snprintf(params, sizeof(params), "{\"port\":%d}", port2);
		for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
			a = spawn_ask(c2, 600, "tcp.connect", params);
			if (!limit_error(a, "clientConnectsPerSecond"))
				break;
			poll(NULL, 0, 100);	/* the bucket refills at 1 per second */
		}
		p = strstr(a, "\"socket\":");
		sock = p ? atoll(p + 9) : -1;
		pfd = accept(lfd2, NULL, NULL);
		check(sock > 0 && pfd >= 0, "a pair to pump from: %.120s", a);
		snprintf(params, sizeof(params), "{\"socket\":%lld,\"chunkSize\":65536}", sock);
		a = spawn_ask(c2, 601, "tcp.pump", params);
		fcntl(pfd, F_SETFL, O_NONBLOCK);
		memset(chunk, 'p', sizeof(chunk));
		/* Send until the kernel holds the rest: the daemon stopped reading. */
		for (long long sent = 0, end = spawn_now_ms() + DEADLINE_MS;
		     sent < PUMP_TOTAL && spawn_now_ms() < end;) {
			ssize_t k = send(pfd, chunk, sizeof(chunk), MSG_NOSIGNAL);

			if (k > 0)
				sent += k;
			else
				poll(NULL, 0, 5);
			if (sent >= PUMP_TOTAL)
				break;
			if (k <= 0 && hits(c3, "uidNotifyBytes") > 0)
				break;
		}
		for (long long end = spawn_now_ms() + DEADLINE_MS;
		     hits(c3, "uidNotifyBytes") <= 0 && spawn_now_ms() < end;)
			poll(NULL, 0, 20);	/* the daemon reads what was sent in its own time */
		check(hits(c3, "uidNotifyBytes") > 0, "the pump waited for the user's output room");
		/* c2 reads now: every byte arrives, then pumping ends at the peer's EOF. */
		for (long long sent_all = 0, end = spawn_now_ms() + 4 * DEADLINE_MS;
		     spawn_now_ms() < end;) {
			struct pollfd pp[2] = { { .fd = pfd, .events = POLLOUT }, { .fd = c2, .events = POLLIN } };

			if (sent_all < PUMP_TOTAL)
				pp[0].events = POLLOUT;
			else
				pp[0].fd = -1;
			poll(pp, 2, 100);
			if (pp[0].revents & POLLOUT) {
				ssize_t k = send(pfd, chunk, sizeof(chunk), MSG_NOSIGNAL);

				if (k > 0)
					sent_all += k;
				if (sent_all >= PUMP_TOTAL) {
					close(pfd);
					pfd = -1;
					sent_all = 2 << 20;
				}
			}
			if (pp[1].revents & POLLIN) {
				const char *line = spawn_line(c2, DEADLINE_MS), *b = strstr(line, "\"bytes\":");

				if (strstr(line, "tcp.data") && b) {
					long nb = atol(b + 8);

					if (nb < 0)
						break;
					got += nb;
				}
			}
		}
		(void)sink;
		check(got >= PUMP_TOTAL, "every pumped byte arrived after the wait (%lld)", got);
		if (pfd >= 0)
			close(pfd);
		close(lfd2);
	}

	/* Every refusal counted by name. */
	check(hits(c2, "uidClients") >= 1, "limitHitsBy.uidClients counted (%ld)",
	      hits(c2, "uidClients"));
	check(hits(c2, "uidSockets") == 1, "limitHitsBy.uidSockets = 1");
	check(hits(c2, "uidRequests") == 2, "limitHitsBy.uidRequests = 2");
	check(hits(c2, "uidPendingWriteBytes") == 1, "limitHitsBy.uidPendingWriteBytes = 1");
	check(hits(c2, "clientConnectsPerSecond") >= 1, "limitHitsBy.clientConnectsPerSecond counted");
	close(c2);
	close(c3);
	{
		int status = spawn_stop(&sp);

		check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the daemon exits 0");
	}
	if (spawn_start(&sp, bin, "[daemon]\nresolver-lookups = f\n"
			"[limits]\nuid-connects-per-second = 1\n", 0) < 0) {
		fprintf(stderr, "the daemon did not start\n");
		return 1;
	}
	test_rate_across_reconnects(ntohs(sin.sin_port));
	close(lfd);
	{
		int status = spawn_stop(&sp);

		check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the daemon exits 0");
	}
	return check_summary();
}
