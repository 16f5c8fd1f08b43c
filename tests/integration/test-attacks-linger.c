/*
 * test-attacks-linger: attacks through sockets that linger after their
 * client left, against a real tisockd: such a socket, and the bytes it
 * was given to write, still count for its uid, so leaving and coming
 * back does not start a fresh uid-pending-write-bytes or uid-sockets,
 * nor does a live upgrade in between; once the peers are gone the uid
 * holds nothing.  Every wait has a deadline.
 *
 *	test-attacks-linger DAEMON
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

#define DEADLINE_MS	15000
#define PENDING		(1 << 20)	/* uid-pending-write-bytes */
#define ROUNDS		12		/* connections that write, then leave */
#define CHUNK		(128 << 10)	/* bytes per tcp.write */
#define USOCKETS	16		/* uid-sockets */
#define UPWRITE	(112 << 10)	/* bytes per lingering socket over the upgrade */

static struct spawned sp;

/* Makes a listener on 127.0.0.1 with a small receive buffer; *port is its port. */
static int
slow_listener(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t slen = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rcv = 4096;

	setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(lfd, 64);
	getsockname(lfd, (struct sockaddr *)&sin, &slen);
	*port = ntohs(sin.sin_port);
	return lfd;
}

/* Resets and closes the n peers (those that are not -1). */
static void
reset_all(int *peers, int n)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	for (int i = 0; i < n; i++)
		if (peers[i] >= 0) {
			setsockopt(peers[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(peers[i]);
		}
}

/* Waits until the uid holds no socket and no pending byte (as the watcher sees). */
static bool
uid_empty(int watcher)
{
	for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
		if (spawn_info_field(watcher, "\"user\":{", "pendingWriteBytes") == 0 &&
		    spawn_info_field(watcher, "\"user\":{", "sockets") == 0)
			return true;
		poll(NULL, 0, 20);
	}
	return false;
}

/* Writes n bytes of 'x' to socket s on fd with one tcp.write; whether it was refused. */
static bool
write_refused(int fd, long long s, size_t n)
{
	static char req[CHUNK + 256];
	bool refused = false;
	int k;

	k = snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tcp.write\","
		     "\"params\":{\"socket\":%lld,\"text\":\"", s);
	memset(req + k, 'x', n);
	k += (int)n;
	k += snprintf(req + k, sizeof(req) - (size_t)k, "\"}}\n{\"jsonrpc\":\"2.0\","
		      "\"id\":\"sync\",\"method\":\"tcp.list\"}\n");
	spawn_send_all(fd, req, (size_t)k);
	for (const char *l = spawn_line(fd, DEADLINE_MS); *l && !strstr(l, "\"sync\"");
	     l = spawn_line(fd, DEADLINE_MS))
		refused = refused || strstr(l, "uidPendingWriteBytes");
	return refused;
}

/*
 * One round: a new connection connects to a peer (lfd's) that never
 * reads, writes CHUNK after CHUNK until -32005 uidPendingWriteBytes (or
 * 24 of them) and leaves.  Returns the bytes accepted; *peer is kept.
 */
static long
write_and_leave(int lfd, int port, int *peer)
{
	char params[128];
	long accepted = 0;
	long long sock;
	int fd = spawn_ctl_open(&sp);
	const char *a;

	snprintf(params, sizeof(params), "{\"port\":%d,\"sendBufferSize\":4096}", port);
	a = spawn_ask(fd, 1, "tcp.connect", params);
	*peer = strstr(a, "\"connected\"") ? accept(lfd, NULL, NULL) : -1;
	a = strstr(a, "\"socket\":");
	sock = a ? atoll(a + 9) : -1;
	for (int i = 0; sock > 0 && i < 24 && !write_refused(fd, sock, CHUNK); i++)
		accepted += CHUNK;
	close(fd);
	return accepted;
}

/*
 * Finding: a socket that lingers after its client left took its unsent
 * bytes off its uid's account, so a client that wrote up to
 * uid-pending-write-bytes to a peer that does not read, left and came
 * back got the whole limit again: with a 1 MiB limit, 30 such rounds
 * held 31 MiB in the daemon (256 MiB a round with the defaults, for as
 * long as linger-ms), the limit never refused.
 */
static void
test_linger_pending(int watcher)
{
	int port, lfd = slow_listener(&port), peers[ROUNDS];
	long rss0 = spawn_status_kib(sp.pid, "VmRSS:"), grown, total = 0, held = -1;

	for (int i = 0; i < ROUNDS; i++)
		total += write_and_leave(lfd, port, &peers[i]);
	grown = spawn_status_kib(sp.pid, "VmRSS:") - rss0;
	held = spawn_info_field(watcher, "\"user\":{", "pendingWriteBytes");
	check(held >= PENDING / 2 && held <= PENDING, "after %d connections wrote to peers that do "
	      "not read and left, their lingering sockets' %ld bytes count for the uid (limit %d)",
	      ROUNDS, held, PENDING);
	/* The kernel takes some of each round (small buffers both sides); the rest is the limit's. */
	check(total <= PENDING + ROUNDS * 2 * CHUNK, "%ld bytes accepted in all (at most %d)",
	      total, PENDING + ROUNDS * 2 * CHUNK);
	if (spawn_rss_is_inflated())
		printf("# RSS growth %ld KiB, not checked under valgrind or a sanitizer\n", grown);
	else
		check(grown <= (PENDING >> 10) + 4096, "the daemon's RSS grew by %ld KiB "
		      "(limit %d KiB, 4 MiB more allowed)", grown, PENDING >> 10);
	/* The peers go (a reset each): the lingering sockets end and release the uid. */
	reset_all(peers, ROUNDS);
	close(lfd);
	check(uid_empty(watcher), "once their peers are gone, the uid holds nothing");
}

/*
 * Finding: a lingering socket left its uid's count of sockets, so a
 * client could open uid-sockets connections to a peer that does not
 * read, write a little to each, leave and do it again: three rounds held
 * three times uid-sockets, and enough of them every socket the daemon
 * allows, for linger-ms.
 */
static void
test_linger_sockets(int watcher)
{
	static char req[512 + (32 << 10)];
	int port, lfd = slow_listener(&port), peers[3 * USOCKETS], npeers = 0, made = 0;

	for (int round = 0; round < 3; round++) {
		int fd = spawn_ctl_open(&sp);

		for (int i = 0; i < USOCKETS; i++) {
			char params[128];
			const char *a;
			long long s;
			int n;

			snprintf(params, sizeof(params), "{\"port\":%d,\"sendBufferSize\":4096}", port);
			a = spawn_ask(fd, 1, "tcp.connect", params);
			if (!strstr(a, "\"connected\""))
				break;
			made++;
			peers[npeers++] = accept(lfd, NULL, NULL);
			s = atoll(strstr(a, "\"socket\":") + 9);
			/* 32 KiB: more than the kernel takes, so it lingers once its client leaves. */
			n = snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
				     "\"tcp.write\",\"params\":{\"socket\":%lld,\"text\":\"", s);
			memset(req + n, 'x', 32 << 10);
			n += 32 << 10;
			n += snprintf(req + n, sizeof(req) - (size_t)n, "\"}}\n");
			spawn_send_all(fd, req, (size_t)n);
		}
		(void) spawn_ask(fd, 3, "tcp.list", NULL);	/* every write is in by now */
		close(fd);
	}
	check(made == USOCKETS, "three rounds of connections to peers that do not read, "
	      "each leaving: %d sockets made (uid-sockets %d)", made, USOCKETS);
	check(spawn_info_field(watcher, "\"user\":{", "sockets") == USOCKETS,
	      "the lingering sockets count for the uid (%lld)",
	      spawn_info_field(watcher, "\"user\":{", "sockets"));
	reset_all(peers, npeers);
	close(lfd);
	check(uid_empty(watcher), "once their peers are gone, the uid holds nothing");
}

/* Connects fd to port; the socket (or -1), its peer accepted from lfd in *peer. */
static long long
connect_peer(int fd, int lfd, int port, int *peer)
{
	char params[128];
	const char *a;

	snprintf(params, sizeof(params), "{\"port\":%d,\"sendBufferSize\":4096}", port);
	a = spawn_ask(fd, 1, "tcp.connect", params);
	if (!strstr(a, "\"connected\""))
		return -1;
	*peer = accept(lfd, NULL, NULL);
	return atoll(strstr(a, "\"socket\":") + 9);
}

/*
 * daemon.info's user object, once two readings in a row agree (into
 * user, size n), with its sockets and pendingWriteBytes.
 */
static void
uid_settled(int watcher, char *user, size_t n, long long *sockets, long long *pending)
{
	char last[512] = "";

	for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
		const char *a = strstr(spawn_ask(watcher, 901, "daemon.info", NULL), "\"user\":{");
		const char *e = a ? strchr(a, '}') : NULL;

		snprintf(user, n, "%.*s", e ? (int)(e - a + 1) : 0, a ? a : "");
		*sockets = spawn_info_field(watcher, "\"user\":{", "sockets");
		*pending = spawn_info_field(watcher, "\"user\":{", "pendingWriteBytes");
		if (*user && strcmp(user, last) == 0)
			return;
		snprintf(last, sizeof(last), "%s", user);
		poll(NULL, 0, 50);
	}
}

/*
 * Finding: a live upgrade carried lingering sockets without the uid of
 * the client they were left by, so the new process counted them for
 * nobody: with uid-sockets 16 and half of it lingering with ~750 KiB
 * unsent (uid-pending-write-bytes 1 MiB), after the upgrade the uid
 * could open 16 sockets more and queue a whole MiB again.  The image
 * now carries the gone owner's uid; the new process counts them the
 * same way until they end.  The daemon's pid after the upgrade.
 */
static pid_t
test_linger_upgrade(int watcher)
{
	int port, lfd = slow_listener(&port), peers[2 * USOCKETS], npeers = 0, fd, made = 0;
	long long s, s0 = -1, p0 = -1, s1 = -1, p1 = -1;
	char u0[512], u1[512];
	long accepted = 0;
	const char *a;
	pid_t pid;

	/* Half of uid-sockets, each with more than the kernel takes, left to linger. */
	fd = spawn_ctl_open(&sp);
	for (int i = 0; i < USOCKETS / 2; i++) {
		if ((s = connect_peer(fd, lfd, port, &peers[npeers])) < 0)
			break;
		npeers++;
		(void) write_refused(fd, s, UPWRITE);
	}
	close(fd);
	uid_settled(watcher, u0, sizeof(u0), &s0, &p0);
	check(s0 == USOCKETS / 2 && p0 >= USOCKETS / 2 * (UPWRITE / 2) && p0 < PENDING,
	      "before the upgrade: %lld lingering sockets and %lld unsent bytes count for the uid",
	      s0, p0);
	a = spawn_ask(watcher, 77, "daemon.upgrade", NULL);
	check(strstr(a, "\"result\"") != NULL, "daemon.upgrade: %.200s", a);
	pid = (pid_t)spawn_info_field(watcher, "\"result\":{", "pid");
	uid_settled(watcher, u1, sizeof(u1), &s1, &p1);
	check(s1 == s0 && p1 == p0, "after the upgrade the uid still counts them: sockets %lld "
	      "(was %lld), pendingWriteBytes %lld (was %lld)", s1, s0, p1, p0);
	check(strcmp(u0, u1) == 0, "daemon.info's user the same after the upgrade: %s, was %s",
	      u1, u0);

	/* A new connection of the uid finds only what is left of its limits. */
	fd = spawn_ctl_open(&sp);
	for (int i = 0; i < USOCKETS && npeers < 2 * USOCKETS; i++) {
		if ((s = connect_peer(fd, lfd, port, &peers[npeers])) < 0)
			break;
		npeers++;
		if (made++ == 0)
			for (int w = 0; w < 24 && !write_refused(fd, s, CHUNK); w++)
				accepted += CHUNK;
	}
	check(made == USOCKETS - USOCKETS / 2, "after the upgrade the uid opens %d sockets more "
	      "(uid-sockets %d, %lld lingering)", made, USOCKETS, s0);
	check(accepted <= PENDING - p0 + 2 * CHUNK, "after the upgrade the uid queues %ld bytes "
	      "more (at most %lld: uid-pending-write-bytes %d, %lld lingering)", accepted,
	      PENDING - p0 + 2 * CHUNK, PENDING, p0);
	close(fd);
	reset_all(peers, npeers);
	close(lfd);
	check(uid_empty(watcher), "once their peers are gone, the uid holds nothing");
	return pid;
}

int
main(int argc, char **argv)
{
	const char *bin = argc > 1 ? argv[1] : "daemon/tisockd";
	int watcher, status, st = -1;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	(void) prctl(PR_SET_CHILD_SUBREAPER, 1);	/* the upgraded daemon stays ours to reap */
	alarm(300);
	if (spawn_start(&sp, bin, "[daemon]\nresolver-lookups = f\nlinger-ms = 60000\n[limits]\n"
			"uid-pending-write-bytes = 1048576\nuid-sockets = 16\n", 0) < 0) {
		fprintf(stderr, "the daemon did not start\n");
		return 1;
	}
	watcher = spawn_ctl_open(&sp);
	test_linger_pending(watcher);
	test_linger_sockets(watcher);
	pid = test_linger_upgrade(watcher);
	close(watcher);
	if (pid > 0 && pid != sp.pid) {
		/* The upgraded process first; then the first one, which has exited. */
		kill(pid, SIGTERM);
		for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
			if (waitpid(pid, &st, WNOHANG) == pid)
				break;
			poll(NULL, 0, 20);
			st = -1;
		}
		if (st == -1)
			kill(pid, SIGKILL);
		check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the upgraded daemon exits 0");
	}
	status = spawn_stop(&sp);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the daemon exits 0");
	return check_summary();
}
