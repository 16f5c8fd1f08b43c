/*
 * test-limits: the daemon's resource limits, with a real tisockd.
 *
 * Starts tisockd on a temporary socket (readiness through a NOTIFY_SOCKET
 * datagram socket of our own) with a small clients limit and a lowered
 * RLIMIT_NOFILE, then checks: the client over the limit gets one -32005
 * line naming "clients"; running out of fds makes connects answer -32005
 * "fds" and pauses accepting on the control socket without spinning; and
 * everything recovers once fds are freed.  Every wait has a deadline.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include "spawn.h"

#define DEADLINE_MS	10000
#define NOFILE		40

static struct spawned sp;
static const char *sock_path = sp.socket;
#define daemon_pid sp.pid


#define now_ms spawn_now_ms

static int
unix_connect(const char path[96])
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads one line into buf within timeout_ms.  Returns its length, 0 at EOF, -1 on timeout. */
static int
read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t n = 0;
	long long end = now_ms() + timeout_ms;

	while (n + 1 < size) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(end - now_ms());
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		r = read(fd, buf + n, 1);
		if (r <= 0)
			return n ? (int)n : 0;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return (int)n;
}

static int
call(int fd, const char *line, char *out, size_t size)
{
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		return -1;
	return read_line(fd, out, size, DEADLINE_MS);
}

/* A control connection the daemon serves (it may still be closing others). */
static int
connect_served(void)
{
	char line[512];

	for (long long end = now_ms() + DEADLINE_MS; now_ms() < end;) {
		int fd = unix_connect(sock_path);

		if (fd >= 0 && call(fd, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"tcp.list\"}\n",
				    line, sizeof(line)) > 0 && strstr(line, "\"result\""))
			return fd;
		if (fd >= 0)
			close(fd);
		poll(NULL, 0, 20);
	}
	return -1;
}

static double
daemon_cpu_seconds(void)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)daemon_pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void
test_clients_limit(void)
{
	int fds[8], extra;
	char line[512];

	for (int i = 0; i < 8; i++)
		fds[i] = unix_connect(sock_path);
	/* Make sure all eight are accepted before the ninth. */
	for (int i = 0; i < 8; i++)
		call(fds[i], "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tcp.list\"}\n", line,
		     sizeof(line));
	extra = unix_connect(sock_path);
	check(extra >= 0 && read_line(extra, line, sizeof(line), DEADLINE_MS) > 0 &&
	      strstr(line, "-32005") && strstr(line, "\"limit\":\"clients\""),
	      "ninth client refused with -32005 limit clients: %s", line);
	check(read_line(extra, line, sizeof(line), DEADLINE_MS) == 0,
	      "refused client sees EOF after the error line");
	close(extra);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
}

static void
test_fd_exhaustion(void)
{
	int ctl = connect_served(), lfd, port, fds_left = 0, extra[8], n = 0;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	char line[1024], req[256];
	bool got_fds = false;
	double cpu0;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(lfd, 128);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	/* Connect until the daemon runs out of fds. */
	for (int i = 0; i < NOFILE + 10 && !got_fds; i++) {
		snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.connect\","
			 "\"params\":{\"port\":%d}}\n", i + 10, port);
		if (call(ctl, req, line, sizeof(line)) <= 0)
			break;
		if (strstr(line, "-32005"))
			got_fds = strstr(line, "\"limit\":\"fds\"") != NULL;
		else
			fds_left++;
	}
	check(got_fds, "connect answers -32005 limit fds when the daemon has no fd left "
	      "(after %d connects)", fds_left);

	/* New control clients now wait in the backlog; the daemon must not spin. */
	for (n = 0; n < 8; n++)
		extra[n] = unix_connect(sock_path);
	cpu0 = daemon_cpu_seconds();
	check(write(extra[7], "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.info\"}\n", 48) == 48 &&
	      read_line(extra[7], line, sizeof(line), 1000) < 0,
	      "a client that cannot be accepted waits (no answer while out of fds)");
	check(daemon_cpu_seconds() - cpu0 < 0.5,
	      "the daemon does not spin while out of fds (%.2f s CPU in 1 s)",
	      daemon_cpu_seconds() - cpu0);

	/* Free fds: close the first client's sockets by closing the client. */
	close(ctl);
	check(read_line(extra[7], line, sizeof(line), DEADLINE_MS) > 0 &&
	      strstr(line, "\"acceptPauses\":") && !strstr(line, "\"acceptPauses\":0"),
	      "once fds are freed the waiting client is served, and acceptPauses counts: %.120s",
	      line);
	for (int i = 0; i < n; i++)
		close(extra[i]);
	close(lfd);
}

int
main(int argc, char **argv)
{
	const char *bin = argc > 1 ? argv[1] : "daemon/tisockd";
	int status;

	signal(SIGPIPE, SIG_IGN);
	if (spawn_start(&sp, bin, "[limits]\nclients = 8\n[daemon]\nresolver-lookups = f\n"
			"linger-ms = 1000\n", NOFILE) < 0) {
		fprintf(stderr, "cannot start %s\n", bin);
		return 99;
	}
	test_clients_limit();
	if (getenv("TISOCK_DAEMON_WRAPPER") && *getenv("TISOCK_DAEMON_WRAPPER"))
		printf("skip fd exhaustion: the daemon runs under a wrapper\n");
	else
		test_fd_exhaustion();
	status = spawn_stop(&sp);
	check(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "daemon exits 0 on SIGTERM (status %d)", status);
	return check_summary();
}
