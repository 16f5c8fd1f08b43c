/*
 * test-notify: tisockd's sd_notify protocol, seen from a NOTIFY_SOCKET
 * datagram socket this test owns, as systemd would see it: READY=1 with
 * STATUS=, STATUS= kept current, WATCHDOG=1 at half of WATCHDOG_USEC,
 * SIGHUP as RELOADING=1 then READY=1 with the new config applied (and a
 * broken config changing nothing), SIGUSR2 (live upgrade) as MAINPID= of
 * the new process from the old one and READY=1 from the new one, the
 * client kept, and SIGTERM (to the new process) as STOPPING=1 followed by
 * a drain that still delivers every byte accepted for writing to a TCP
 * peer that only starts reading afterwards, then exit 0.
 *
 *	test-notify DAEMON
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
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

#define DEADLINE_MS	15000
#define DRAIN_CHUNK_MAX	(8u << 20)	/* per tcp.write: under max-message-bytes */
/* Two writes: past any kernel buffering on loopback; smaller under valgrind. */
static size_t drain_chunk = DRAIN_CHUNK_MAX;
#define DRAIN_BYTES	(2 * drain_chunk)
static int slow = 1;		/* deadline factor: 3 under a wrapper */

static char dir[64], notify_path[96], conf_path[96], sock_path[96];
static int nfd = -1;
static pid_t pid;

/* The next datagram containing want, within the deadline; the text in buf. */
static bool
expect(const char *want, char *buf, size_t len, int deadline_ms)
{
	long long end = spawn_now_ms() + deadline_ms;

	while (spawn_now_ms() < end) {
		struct pollfd p = { .fd = nfd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, (int)(end - spawn_now_ms())) <= 0)
			continue;
		n = recv(nfd, buf, len - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, want))
			return true;
	}
	return false;
}

/*
 * Plays a systemd that does not read: datagrams sent to the notify socket
 * until the kernel takes no more.  Their count.
 */
static int
fill_notify(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), n = 0;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", notify_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -1;
	while (n < 100000 && send(fd, "X_FILLER=1", 10, MSG_DONTWAIT) == 10)
		n++;
	close(fd);
	return n;
}

static void
write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int
ctl_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends a line and returns the answer with that id (static buffer), or "". */
static const char *
ask(int fd, const char *line, int id)
{
	static char buf[65536];
	char want[32];
	size_t have = 0;

	snprintf(want, sizeof(want), "\"id\":%d,", id);
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		return "";
next:
	have = 0;
	while (have < sizeof(buf) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, DEADLINE_MS) <= 0)
			return "";
		n = read(fd, buf + have, 1);	/* byte by byte: stop at the line's end */
		if (n <= 0)
			return "";
		if (buf[have] == '\n')
			break;
		have++;
	}
	buf[have] = '\0';
	if (!strstr(buf, want))
		goto next;	/* another answer */
	return buf;
}

static void
start(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(dir, sizeof(dir), "/tmp/tisock-notify-XXXXXX");
	if (!mkdtemp(dir))
		exit(1);
	snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
	snprintf(conf_path, sizeof(conf_path), "%s/tisockd.conf", dir);
	snprintf(sock_path, sizeof(sock_path), "%s/sock", dir);
	write_conf("[daemon]\nlinger-ms = 120000\n[limits]\nclients = 100\n");
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", notify_path);
	if (nfd < 0 || bind(nfd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		const char *wrap = getenv("TISOCK_DAEMON_WRAPPER");
		const char *bin = getenv("TEST_DAEMON");
		char cmd[1024];

		setenv("NOTIFY_SOCKET", notify_path, 1);
		setenv("WATCHDOG_USEC", "400000", 1);	/* WATCHDOG=1 every 200 ms */
		if (wrap && *wrap) {
			snprintf(cmd, sizeof(cmd), "exec %s %s --foreground --socket %s --config %s",
				 wrap, bin, sock_path, conf_path);
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		} else {
			execl(bin, bin, "--foreground", "--socket", sock_path, "--config", conf_path,
			      (char *)NULL);
		}
		_exit(127);
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t slen = sizeof(sin);
	char buf[512], line[512], *data;
	int c1, lfd, peer, watchdogs = 0, status = -1, rcv = 65536;
	size_t got = 0;
	long long end, sock_id;
	const char *a;

	signal(SIGPIPE, SIG_IGN);
	if (getenv("TISOCK_DAEMON_WRAPPER") && *getenv("TISOCK_DAEMON_WRAPPER")) {
		drain_chunk = 3u << 20;
		slow = 3;
	}
	alarm(600);
	(void) prctl(PR_SET_CHILD_SUBREAPER, 1);	/* the upgraded daemon stays ours */
	setenv("TEST_DAEMON", argc > 1 ? argv[1] : "daemon/tisockd", 1);
	start();

	check(expect("READY=1", buf, sizeof(buf), 30000), "READY=1 once the socket accepts");
	check(strstr(buf, "STATUS=0 clients, 0 sockets") != NULL, "READY=1 comes with STATUS=: %s",
	      buf);
	c1 = ctl_connect();
	check(c1 >= 0, "the control socket accepts after READY=1");
	end = spawn_now_ms() + DEADLINE_MS;
	while (watchdogs < 3 && spawn_now_ms() < end)
		if (expect("WATCHDOG=1", buf, sizeof(buf), 2000))
			watchdogs++;
	check(watchdogs == 3, "WATCHDOG=1 keeps coming (%d seen)", watchdogs);
	check(expect("STATUS=1 clients", buf, sizeof(buf), DEADLINE_MS),
	      "STATUS= follows the client count: %s", buf);

	/* SIGHUP: RELOADING=1, then READY=1, the new limits in force, clients kept. */
	write_conf("[daemon]\nlinger-ms = 120000\n[limits]\nclients = 7\n");
	kill(pid, SIGHUP);
	check(expect("RELOADING=1", buf, sizeof(buf), DEADLINE_MS) &&
	      strstr(buf, "MONOTONIC_USEC="), "SIGHUP sends RELOADING=1 with MONOTONIC_USEC");
	check(expect("READY=1", buf, sizeof(buf), DEADLINE_MS), "then READY=1");
	a = ask(c1, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.info\"}\n", 1);
	check(strstr(a, "\"clients\":7,") && strstr(a, "\"reloads\":1"),
	      "the reloaded limit applies, on a connection opened before: %.200s", a);

	/*
	 * systemd not reading (its queue full): the loop goes on (sd_notify()
	 * would block it), and RELOADING=1 and READY=1 are not lost.
	 */
	{
		int full = fill_notify();

		kill(pid, SIGHUP);
		end = spawn_now_ms() + DEADLINE_MS * slow;
		do
			a = ask(c1, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"daemon.info\"}\n", 3);
		while (!strstr(a, "\"reloads\":2") && *a && spawn_now_ms() < end);
		check(strstr(a, "\"reloads\":2") != NULL, "systemd's queue full (%d datagrams): "
		      "a SIGHUP reloads and the daemon answers: %.200s", full, a);
		check(expect("RELOADING=1", buf, sizeof(buf), DEADLINE_MS) &&
		      expect("READY=1", buf, sizeof(buf), DEADLINE_MS),
		      "once systemd reads, RELOADING=1 and READY=1 arrive, in order");
	}
	write_conf("[limits]\nclients = banana\n");
	kill(pid, SIGHUP);
	check(expect("RELOADING=1", buf, sizeof(buf), DEADLINE_MS) &&
	      expect("READY=1", buf, sizeof(buf), DEADLINE_MS),
	      "a broken config: RELOADING=1, then READY=1 again");
	a = ask(c1, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"daemon.info\"}\n", 2);
	check(strstr(a, "\"clients\":7,") && strstr(a, "\"reloads\":2"),
	      "a broken config changes nothing: %.200s", a);

	/* SIGUSR2: a live upgrade; the old process names the new one, which says READY=1. */
	{
		pid_t old = pid, mainpid = 0;
		bool ready = false;
		int gone = 0;

		/* daemon.upgrade with the broken config still in the file, the upgrade is refused. */
		a = ask(c1, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"daemon.upgrade\"}\n", 7);
		check(strstr(a, "-32013") && strstr(a, "banana"),
		      "an upgrade into a broken config is refused, saying why: %.300s", a);
		snprintf(line, sizeof(line), "\"pid\":%d,", (int)pid);
		a = ask(c1, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"daemon.info\"}\n", 8);
		check(strstr(a, line) && strstr(a, "\"generation\":1"),
		      "the old process serves on: %.200s", a);
		write_conf("[daemon]\nlinger-ms = 120000\n[limits]\nclients = 7\n");
		kill(pid, SIGUSR2);
		end = spawn_now_ms() + DEADLINE_MS * slow;
		/* Reading on while the old process goes: it waits for its MAINPID= to be read. */
		while ((!ready || !mainpid || !gone) && spawn_now_ms() < end) {
			if (!gone && waitpid(old, &status, WNOHANG) == old)
				gone = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 1 : -1;
			if (!expect("=", buf, sizeof(buf), 200))
				continue;
			if (strstr(buf, "READY=1"))
				ready = true;
			if (strstr(buf, "MAINPID=") && atoi(strstr(buf, "MAINPID=") + 8) != old)
				mainpid = atoi(strstr(buf, "MAINPID=") + 8);
		}
		check(ready && mainpid > 0, "SIGUSR2: MAINPID= names the new process (%d), which "
		      "sends READY=1", (int)mainpid);
		check(gone == 1, "the old process exits 0");
		status = -1;
		if (mainpid > 0)
			pid = mainpid;
		a = ask(c1, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"daemon.info\"}\n", 6);
		snprintf(line, sizeof(line), "\"pid\":%d,", (int)pid);
		check(strstr(a, line) && strstr(a, "\"generation\":2") &&
		      strstr(a, "\"reason\":\"upgrade\""),
		      "the client is kept, answered by the new process: %.300s", a);
	}

	/*
	 * SIGUSR2 with systemd's queue full: the old process lets go of every
	 * descriptor, waits for systemd to take MAINPID= and then exits 0; it
	 * is never killed by a signal (systemd would count that a failure).
	 */
	{
		pid_t old = pid, mainpid = 0;
		int full = fill_notify(), n = 0, gone = 0;

		kill(pid, SIGUSR2);
		end = spawn_now_ms() + DEADLINE_MS * slow;
		while (spawn_now_ms() < end) {
			if (waitpid(old, &status, WNOHANG) == old) {
				gone = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 1 : -1;
				break;
			}
			if ((n = spawn_count_fds(old)) >= 0 && n <= 4)
				break;	/* 0, 1, 2 and sd_notify's socket */
			(void) poll(NULL, 0, 20);
		}
		check(gone == 0 && n >= 0 && n <= 4, "systemd's queue full (%d datagrams): the old "
		      "process holds no socket while it waits to say MAINPID= (%d descriptors, "
		      "status %#x)", full, n, gone ? status : 0);
		end = spawn_now_ms() + DEADLINE_MS * slow;
		while ((!mainpid || !gone) && spawn_now_ms() < end) {
			if (!gone && waitpid(old, &status, WNOHANG) == old)
				gone = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 1 : -1;
			if (expect("MAINPID=", buf, sizeof(buf), 200) &&
			    atoi(strstr(buf, "MAINPID=") + 8) != old)
				mainpid = atoi(strstr(buf, "MAINPID=") + 8);
		}
		check(mainpid > 0 && gone == 1, "once systemd reads, MAINPID= names the new process "
		      "(%d) and the old one exits 0 (%d)", (int)mainpid, gone);
		status = -1;
		if (mainpid > 0)
			pid = mainpid;
		snprintf(line, sizeof(line), "\"pid\":%d,", (int)pid);
		a = ask(c1, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"daemon.info\"}\n", 9);
		check(strstr(a, line) && strstr(a, "\"generation\":3"),
		      "the client is kept again: %.300s", a);
	}

	/* Data accepted for writing to a peer that does not read yet. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(lfd, 1);
	getsockname(lfd, (struct sockaddr *)&sin, &slen);
	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tcp.connect\",\"params\":{\"port\":%d}}\n",
		 ntohs(sin.sin_port));
	a = ask(c1, line, 3);
	sock_id = strstr(a, "\"socket\":") ? atoll(strstr(a, "\"socket\":") + 9) : -1;
	check(sock_id > 0, "connected to the peer: %.200s", a);
	peer = accept(lfd, NULL, NULL);
	for (int w = 0; w < 2; w++) {
		/* 'A'..'Z' in plain text, sent with "text", continuing across the writes. */
		size_t n = drain_chunk, off;
		char *req = malloc(n + 128);

		off = (size_t)snprintf(req, 128, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.write\","
				       "\"params\":{\"socket\":%lld,\"text\":\"", 10 + w, sock_id);
		for (size_t i = 0; i < n; i++)
			req[off + i] = (char)('A' + (w * drain_chunk + i) % 26);
		memcpy(req + off + n, "\"}}\n", 5);
		for (size_t done = 0, len = off + n + 4; done < len;) {
			ssize_t k = write(c1, req + done, len - done);

			if (k <= 0)
				break;
			done += (size_t)k;
		}
		free(req);
	}
	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tcp.info\",\"params\":{\"socket\":%lld}}\n",
		 sock_id);
	a = ask(c1, line, 5);
	check(strstr(a, "\"pendingWriteBytes\":") && !strstr(a, "\"pendingWriteBytes\":0,"),
	      "the daemon holds unsent bytes: %.300s", a);

	/* SIGTERM: STOPPING=1, then the peer reads: every byte arrives, then EOF. */
	kill(pid, SIGTERM);
	check(expect("STOPPING=1", buf, sizeof(buf), DEADLINE_MS), "SIGTERM sends STOPPING=1");
	data = malloc(DRAIN_BYTES + 1);
	for (end = spawn_now_ms() + 60000 * slow; spawn_now_ms() < end;) {
		struct pollfd p = { .fd = peer, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 1000) <= 0)
			continue;
		n = read(peer, data + got, DRAIN_BYTES + 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	check(got == DRAIN_BYTES, "the drain delivers every accepted byte (%zu of %zu), then EOF",
	      got, DRAIN_BYTES);
	for (size_t i = 0; i < got && i < DRAIN_BYTES; i++)
		if (data[i] != (char)('A' + i % 26)) {
			check(0, "byte %zu is wrong", i);
			break;
		}
	free(data);
	for (end = spawn_now_ms() + 60000 * slow; spawn_now_ms() < end;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		poll(NULL, 0, 20);
		status = -1;
	}
	check(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the daemon exits 0 after the drain (status %#x)", status);
	if (status == -1)
		kill(pid, SIGKILL);
	close(peer);
	close(lfd);
	close(c1);
	snprintf(line, sizeof(line), "rm -rf %s", dir);
	if (system(line) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_summary();
}
