/*
 * tisock-conform: runs the conformance cases against a daemon socket.
 *
 *   tisock-conform --socket PATH      an already running daemon
 *   tisock-conform --daemon BIN       starts BIN on a temporary socket with
 *                                     small limits, waits for READY=1 on a
 *                                     NOTIFY_SOCKET of its own, and checks
 *                                     that it exits cleanly at the end
 *
 * Prints one line per case and closes with "N passed, N failed, N skipped".
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conform.h"

static struct conform conform_state;
struct conform *C = &conform_state;

static char tmpdir[64];
static pid_t daemon_pid = -1;

long long
conform_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

bool
conform_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (FAILED())
		return false;
	n = snprintf(C->failure, sizeof(C->failure), "%s:%d: ", file, line);
	va_start(ap, fmt);
	vsnprintf(C->failure + n, sizeof(C->failure) - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

static int
spawn_daemon(const char *bin)
{
	static char sock[96];
	char conf[96], notify[96], buf[512];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int nfd;
	FILE *f;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tisock-conform-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/sock", tmpdir);
	snprintf(conf, sizeof(conf), "%s/tisockd.conf", tmpdir);
	snprintf(notify, sizeof(notify), "%s/notify", tmpdir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f, "[limits]\nclient-budget-bytes = 1048576\nclient-requests = 64\n"
		"client-sockets = 64\nmax-message-bytes = 1048576\n"
		"[daemon]\nlinger-ms = 2000\nresolver-lookups = f\n");
	fclose(f);
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", notify);
	if (nfd < 0 || bind(nfd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -1;
	daemon_pid = fork();
	if (daemon_pid == 0) {
		const char *wrap = getenv("TISOCK_DAEMON_WRAPPER");
		char cmd[2048];

		setenv("NOTIFY_SOCKET", notify, 1);
		snprintf(cmd, sizeof(cmd), "exec %s %s --foreground --socket %s --config %s "
			 "--log-level warning", wrap ? wrap : "", bin, sock, conf);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (long long end = conform_now_ms() + 60000; conform_now_ms() < end;) {
		struct pollfd p = { .fd = nfd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 500) <= 0) {
			if (waitpid(daemon_pid, NULL, WNOHANG) == daemon_pid) {
				daemon_pid = -1;
				break;
			}
			continue;
		}
		n = recv(nfd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			if (strstr(buf, "READY=1")) {
				close(nfd);
				C->socket_path = sock;
				C->spawned = true;
				return 0;
			}
		}
	}
	close(nfd);
	return -1;
}

/* SIGTERM; the daemon must exit 0 within the deadline.  Returns 0 or -1. */
static int
stop_daemon(void)
{
	int status;
	char cmd[128];

	if (daemon_pid < 0)
		return 0;
	kill(daemon_pid, SIGTERM);
	for (long long end = conform_now_ms() + 30000; conform_now_ms() < end;) {
		if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
			snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
			if (system(cmd) != 0)
				fprintf(stderr, "cannot remove %s\n", tmpdir);
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				return 0;
			fprintf(stderr, "daemon exit status %d\n", status);
			return -1;
		}
		poll(NULL, 0, 20);
	}
	kill(daemon_pid, SIGKILL);
	fprintf(stderr, "daemon did not exit after SIGTERM\n");
	return -1;
}

static int
read_limits(void)
{
	struct cc *c = cc_open();
	cJSON *a;

	if (!c)
		return -1;
	a = cc_call(c, "daemon.info", NULL);
	cc_close(c);
	if (!a)
		return -1;
	C->limits.max_message_bytes = j_int(a, "result.limits.maxMessageBytes");
	C->limits.client_budget = j_int(a, "result.limits.clientBudgetBytes");
	C->limits.client_requests = j_int(a, "result.limits.clientRequests");
	C->limits.client_sockets = j_int(a, "result.limits.clientSockets");
	cJSON_Delete(a);
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "Usage: tisock-conform (--socket PATH | --daemon TISOCKD) [--filter TEXT] "
		   "[--verbose]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "daemon", required_argument, NULL, 'd' },
		{ "filter", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct conform_case *tables[] = {
		conform_cases_jsonrpc, conform_cases_sockets, conform_cases_io, conform_cases_flow,
	};
	const char *bin = NULL, *filter = NULL;
	int o, passed = 0, failed = 0, skipped = 0;
	bool verbose = false;

	while ((o = getopt_long(argc, argv, "s:d:f:vh", opts, NULL)) != -1) {
		switch (o) {
		case 's': C->socket_path = optarg; break;
		case 'd': bin = optarg; break;
		case 'f': filter = optarg; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!C->socket_path == !bin) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (bin && spawn_daemon(bin) < 0) {
		fprintf(stderr, "tisock-conform: %s did not become ready\n", bin);
		return 1;
	}
	if (read_limits() < 0) {
		fprintf(stderr, "tisock-conform: no answer to daemon.info on %s\n", C->socket_path);
		stop_daemon();
		return 1;
	}
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct conform_case *k = tables[t]; k->name; k++) {
			long long t0 = conform_now_ms();

			if (filter && !strstr(k->name, filter))
				continue;
			if (k->needs_spawned && !C->spawned) {
				printf("skip %s: needs the limits of --daemon\n", k->name);
				skipped++;
				continue;
			}
			C->failure[0] = '\0';
			k->run();
			if (FAILED()) {
				printf("FAIL %s: %s\n", k->name, C->failure);
				failed++;
			} else {
				if (verbose)
					printf("ok %s (%lld ms)\n", k->name, conform_now_ms() - t0);
				else
					printf("ok %s\n", k->name);
				passed++;
			}
		}
	}
	if (bin) {
		if (stop_daemon() < 0) {
			printf("FAIL daemon-exit: the daemon did not exit 0 on SIGTERM\n");
			failed++;
		} else {
			printf("ok daemon-exit\n");
			passed++;
		}
	}
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
