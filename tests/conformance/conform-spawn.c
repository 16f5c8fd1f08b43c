/*
 * conform-spawn: a tisockd of the suite's own.
 *
 * Makes a temporary directory, writes a config with small limits, binds an
 * AF_UNIX datagram socket there as NOTIFY_SOCKET and starts the daemon in
 * the foreground (behind $TISOCK_DAEMON_WRAPPER when set, e.g. valgrind).
 * Readiness is the READY=1 datagram; the daemon's exit is seen through a
 * SIGCHLD self-pipe, so both waits are polls with deadlines.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform.h"

#define READY_MS	10000	/* start-up deadline */
#define READY_WRAP_MS	30000	/* ... under a wrapper such as valgrind */
#define STOP_MS		10000	/* SIGTERM to exit */
#define STOP_WRAP_MS	30000

#define PATH_LEN	64			/* fits sun_path */

static char dir[32];			/* the temporary directory */
static char sock_path[PATH_LEN], conf_path[PATH_LEN], notify_path[PATH_LEN];
static char hosts_path[PATH_LEN];	/* the daemon's hosts file (CARES_HOSTS) */
static pid_t pid = -1;			/* the daemon (or its wrapper) */
static int chld_pipe[2] = { -1, -1 };	/* SIGCHLD self-pipe */

static void
on_sigchld(int sig)
{
	int saved = errno;

	(void)sig;
	if (write(chld_pipe[1], "c", 1) < 0) {
		/* full: a wake-up is pending anyway */
	}
	errno = saved;
}

static bool
wrapped(void)
{
	const char *w = getenv("TISOCK_DAEMON_WRAPPER");

	return w && *w;
}

/* Reaps the daemon if it has exited.  Returns true then, with *status. */
static bool
reap(int *status)
{
	char buf[16];

	while (read(chld_pipe[0], buf, sizeof(buf)) > 0)
		;
	if (pid > 0 && waitpid(pid, status, WNOHANG) == pid) {
		pid = -1;
		return true;
	}
	return false;
}

static int
write_config(void)
{
	FILE *f = fopen(conf_path, "w");

	if (!f)
		return -1;
	fprintf(f, "# written by tisock-conform\n[limits]\nclient-budget-bytes = %d\n"
		"client-requests = %d\nclient-sockets = %d\nmax-message-bytes = %d\n"
		"[daemon]\nlinger-ms = %d\nresolver-lookups = f\nhappy-eyeballs-delay-ms = %d\n",
		CONFORM_BUDGET,
		CONFORM_REQUESTS, CONFORM_SOCKETS, CONFORM_MAX_MESSAGE, CONFORM_LINGER_MS,
		CONFORM_HE_DELAY_MS);
	return fclose(f) == 0 ? 0 : -1;
}

/*
 * The daemon's hosts file: the system's, and the suite's own names
 * (conform.h), each with an IPv6 and an IPv4 loopback address, the IPv6
 * one first.
 */
static int
write_hosts(void)
{
	FILE *f = fopen(hosts_path, "w"), *sys = fopen("/etc/hosts", "r");
	char line[512];

	if (!f) {
		if (sys)
			fclose(sys);
		return -1;
	}
	while (sys && fgets(line, sizeof(line), sys))
		fputs(line, f);
	if (sys)
		fclose(sys);
	fprintf(f, "\n# tisock-conform\n::1 %s\n127.0.0.1 %s\n", CONFORM_HOST_BOTH,
		CONFORM_HOST_BOTH);
	return fclose(f) == 0 ? 0 : -1;
}

static void
cleanup(void)
{
	(void)unlink(notify_path);
	(void)unlink(conf_path);
	(void)unlink(hosts_path);
	(void)unlink(sock_path);
	if (dir[0])
		(void)rmdir(dir);
}

/* In the child: sh runs "exec $TISOCK_DAEMON_WRAPPER 'bin' ...". */
static void
exec_daemon(const char *bin)
{
	const char *wrap = getenv("TISOCK_DAEMON_WRAPPER");
	char *cmd;

	if (strchr(bin, '\'')) {
		fprintf(stderr, "tisock-conform: quote in daemon path\n");
		_exit(127);
	}
	setenv("NOTIFY_SOCKET", notify_path, 1);
	setenv("CARES_HOSTS", hosts_path, 1);	/* c-ares reads it instead of /etc/hosts */
	if (asprintf(&cmd, "exec %s '%s' --foreground --socket '%s' --config '%s' "
		     "--log-level warning", wrap ? wrap : "", bin, sock_path, conf_path) < 0)
		_exit(127);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

/* Waits for READY=1 on nfd until the deadline.  Returns 0 or -1. */
static int
wait_ready(int nfd, const char *bin)
{
	long long end = conform_now_ms() + (wrapped() ? READY_WRAP_MS : READY_MS);
	char buf[512];
	int status;

	for (;;) {
		struct pollfd p[2] = { { .fd = nfd, .events = POLLIN },
				       { .fd = chld_pipe[0], .events = POLLIN } };
		int left = (int)(end - conform_now_ms());
		ssize_t n;

		if (left <= 0 || poll(p, 2, left) == 0) {
			fprintf(stderr, "tisock-conform: no READY=1 from %s in time\n", bin);
			return -1;
		}
		if (reap(&status)) {
			fprintf(stderr, "tisock-conform: %s exited before READY=1 (status %#x)\n",
				bin, status);
			return -1;
		}
		n = recv(nfd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, "READY=1"))
			return 0;
	}
}

/*
 * Starts bin and waits for READY=1.  Returns 0 with the control socket's
 * path, or -1 (the daemon is killed and the directory removed).
 */
int
spawn_daemon(const char *bin, const char **ret_socket)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sigaction sa = { .sa_handler = on_sigchld, .sa_flags = SA_RESTART };
	int nfd = -1;

	if (access(bin, X_OK) < 0) {
		fprintf(stderr, "tisock-conform: %s: %s\n", bin, strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "/tmp/tisock-conform-XXXXXX");
	if (!mkdtemp(dir)) {
		dir[0] = '\0';
		return -1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/sock", dir);
	snprintf(conf_path, sizeof(conf_path), "%s/tisockd.conf", dir);
	snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
	snprintf(hosts_path, sizeof(hosts_path), "%s/hosts", dir);
	if (write_config() < 0 || write_hosts() < 0 || pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", notify_path);
	if (nfd < 0 || bind(nfd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		goto fail;
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0) {
		/* daemon.upgrade is exercised as refused: a binary that exits at start. */
		setenv("TISOCKD_TEST_UPGRADE_EXE", "/bin/false", 1);
		exec_daemon(bin);
	}
	if (wait_ready(nfd, bin) < 0)
		goto fail;
	close(nfd);
	*ret_socket = sock_path;
	return 0;
fail:
	if (nfd >= 0)
		close(nfd);
	if (pid > 0) {
		kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		pid = -1;
	}
	cleanup();
	return -1;
}

/*
 * Sends SIGTERM and waits for the exit.  Returns 0 for exit status 0, or
 * -1 with why: a signal is a crash; another status (valgrind's error exit
 * code, say) is a failure too.
 */
int
spawn_stop(char *why, size_t whylen)
{
	long long end = conform_now_ms() + (wrapped() ? STOP_WRAP_MS : STOP_MS);
	int status = 0;

	if (pid < 0 || reap(&status)) {
		snprintf(why, whylen, "the daemon exited during the run (status %#x)", status);
		cleanup();
		return -1;
	}
	kill(pid, SIGTERM);
	while (!reap(&status)) {
		struct pollfd p = { .fd = chld_pipe[0], .events = POLLIN };
		int left = (int)(end - conform_now_ms());

		if (left <= 0) {
			kill(pid, SIGKILL);
			(void)waitpid(pid, NULL, 0);
			pid = -1;
			snprintf(why, whylen, "no exit within %d ms of SIGTERM (killed)",
				 wrapped() ? STOP_WRAP_MS : STOP_MS);
			cleanup();
			return -1;
		}
		(void)poll(&p, 1, left);
	}
	cleanup();
	if (WIFSIGNALED(status)) {
		snprintf(why, whylen, "the daemon crashed: signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
		return -1;
	}
	if (WEXITSTATUS(status) != 0) {
		snprintf(why, whylen, "the daemon exited with status %d after SIGTERM",
			 WEXITSTATUS(status));
		return -1;
	}
	return 0;
}
