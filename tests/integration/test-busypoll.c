/*
 * test-busypoll: busy-poll-us against real daemons.
 *
 *  - off (the default): the loop never polls (the counters stay 0);
 *  - on: back-to-back requests are caught while polling
 *    (busyPollCaught), and once the traffic stops the loop goes back to
 *    sleep: an idle daemon burns no CPU;
 *  - requests further apart than the maximum window: the window shrinks
 *    to nothing, so the polling daemon costs about what the other one
 *    does (a fixed window would cost busy-poll-us per request);
 *  - a reload to 0 stops polling; a value past the maximum is refused.
 *
 * CPU time is read from /proc/PID/schedstat.  No timing is asserted
 * except CPU bounds an order of magnitude away from what polling without
 * end (or without shrinking) would cost.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "spawn.h"

#define MAX_US		1000	/* busy-poll-us of the polling daemon: the largest taken */
#define PACED_N		40	/* requests PACED_US apart: the window grows to catch them */
#define PACED_US	500
#define SPARSE_N	100	/* requests in the sparse phase */
#define SPARSE_GAP_MS	4	/* apart: more than MAX_US */

static int next_id = 1;


/* counters.NAME from daemon.info, or -1. */
static long long
counter(int fd, const char *name)
{
	cJSON *a = cJSON_Parse(spawn_ask(fd, next_id++, "daemon.info", NULL));
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "result"),
						 "counters"), name);
	long long v = cJSON_IsNumber(c) ? (long long)c->valuedouble : -1;

	cJSON_Delete(a);
	return v;
}

/*
 * One cheap request and its answer (an unknown socket: -32001), read in
 * as few calls as it comes in, so that the next request follows soon.
 */
static bool
ping(int fd)
{
	char req[128], ans[512];
	size_t have = 0;
	int n = snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.info\","
			 "\"params\":{\"socket\":999999}}\n", next_id++);

	spawn_send_all(fd, req, (size_t)n);
	while (have < sizeof(ans) - 1 && !memchr(ans, '\n', have)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		if (poll(&p, 1, SPAWN_DEADLINE_MS) <= 0)
			return false;
		k = read(fd, ans + have, sizeof(ans) - 1 - have);
		if (k <= 0)
			return false;
		have += (size_t)k;
	}
	ans[have] = '\0';
	return strstr(ans, "-32001") != NULL;
}

/* n requests back to back; returns how many were answered. */
static int
burst(int fd, int n)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		ok += ping(fd);
	return ok;
}

/* Waits ms with nothing sent (no answer is due: the poll only passes time). */
static void
quiet(int fd, int ms)
{
	long long end = spawn_now_ms() + ms;

	for (long long left = ms; left > 0; left = end - spawn_now_ms()) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, (int)left) > 0)
			break;	/* nothing should come: stop rather than spin */
	}
}

/* n requests us microseconds apart (pacing: nothing is awaited). */
static void
paced(int fd, int n, long us)
{
	for (int i = 0; i < n; i++) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = us * 1000 };

		ping(fd);
		nanosleep(&ts, NULL);
	}
}

/* SPARSE_N requests SPARSE_GAP_MS apart; returns the daemon's CPU seconds over them. */
static double
sparse(const struct spawned *sp, int fd)
{
	double c0 = spawn_cpu_s(sp->pid);

	for (int i = 0; i < SPARSE_N; i++) {
		ping(fd);
		quiet(fd, SPARSE_GAP_MS);
	}
	return spawn_cpu_s(sp->pid) - c0;
}

/* Whether tisockd --check-config refuses config text (exit 78). */
static bool
config_refused(const char *bin, const char *text)
{
	char path[] = "/tmp/tisock-busypoll-conf-XXXXXX";
	int fd = mkstemp(path), status = -1;
	pid_t pid;

	if (fd < 0)
		return false;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		unlink(path);
		return false;
	}
	close(fd);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execl(bin, bin, "--check-config", "--config", path, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	unlink(path);
	return WIFEXITED(status) && WEXITSTATUS(status) == 78;
}

/*
 * Under a wrapper (valgrind) the daemon runs tens of times slower than
 * any window: whether polling catches a request or a window runs out
 * then says nothing about the code.  Those checks are only reported.
 */
static bool timed = true;

static void __attribute__((format(printf, 2, 3)))
check_timed(int ok, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (timed)
		check(ok, "%s", what);
	else
		printf("-- %s: not asserted, the daemon runs under a wrapper\n", what);
}

int
main(int argc, char **argv)
{
	const char *bin = argc > 1 ? argv[1] : "daemon/tisockd";
	struct spawned off, on;
	char conf[128], path[160];
	int fo, fn;
	double c0, idle, cost_off, cost_on;
	long long caught = 0, slept, reloads, t0;
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	alarm(300);
	timed = !(getenv("TISOCK_DAEMON_WRAPPER") && *getenv("TISOCK_DAEMON_WRAPPER"));
	snprintf(conf, sizeof(conf), "[daemon]\nbusy-poll-us = %d\n", MAX_US);
	if (spawn_start(&off, bin, "", 0) < 0 || spawn_start(&on, bin, conf, 0) < 0) {
		check(0, "both daemons start");
		return check_summary();
	}
	fo = spawn_ctl_open(&off);
	fn = spawn_ctl_open(&on);

	/* Off by default: no polling at all. */
	check(burst(fo, 200) == 200, "off: 200 requests answered");
	check(counter(fo, "busyPollCaught") == 0 && counter(fo, "busyPollSlept") == 0,
	      "off: the loop never polled (busyPollCaught and busyPollSlept 0)");

	/*
	 * On: back-to-back requests come while the loop still polls.  How
	 * many depends on how soon the client runs again (a loaded machine
	 * can hold it past the window): bursts until one is caught, bounded.
	 */
	t0 = spawn_now_ms();
	for (int i = 0; i < 100 && spawn_now_ms() - t0 < 30000 &&
			(caught = counter(fn, "busyPollCaught")) < 1; i++)
		if (burst(fn, 200) != 200 || i == 0)
			check(i == 0, "on: 200 requests answered");
	check_timed(caught >= 1, "on: requests back to back were caught while polling (%lld)", caught);

	/* Traffic stops: the loop sleeps again. */
	slept = counter(fn, "busyPollSlept");
	c0 = spawn_cpu_s(on.pid);
	quiet(fn, 500);
	idle = spawn_cpu_s(on.pid) - c0;
	check(idle >= 0 && idle < 0.1, "on: idle for 500 ms after traffic, the daemon used %.1f ms "
	      "of CPU (< 100; polling on would use most of 500)", idle * 1e3);
	check_timed(counter(fn, "busyPollSlept") > slept, "on: the window ran out and the loop slept");

	/*
	 * Requests PACED_US apart: the window grows until it catches them
	 * (to 640 us).  Then requests further apart than the maximum window:
	 * it shrinks to nothing.  A window that did not shrink would cost
	 * SPARSE_N x 640 us = 64 ms more than the daemon that does not poll.
	 */
	caught = counter(fn, "busyPollCaught");
	t0 = spawn_now_ms();
	for (int i = 0; i < 100 && spawn_now_ms() - t0 < 30000 &&
			counter(fn, "busyPollCaught") - caught < 5; i++)
		paced(fn, PACED_N, PACED_US);
	check_timed(counter(fn, "busyPollCaught") - caught >= 5, "on: requests %d us apart are "
		    "caught once the window has grown (%lld)", PACED_US,
		    counter(fn, "busyPollCaught") - caught);
	cost_off = sparse(&off, fo);
	cost_on = sparse(&on, fn);
	check_timed(cost_on - cost_off < 0.03, "sparse requests: the polling daemon used %.1f ms of CPU, "
	      "the other %.1f ms (a window that did not shrink: +%d ms)", cost_on * 1e3,
	      cost_off * 1e3, SPARSE_N * 640 / 1000);

	/* A reload to 0 stops polling. */
	snprintf(path, sizeof(path), "%s/tisockd.conf", on.dir);
	f = fopen(path, "w");
	if (f) {
		fputs("[daemon]\nbusy-poll-us = 0\n", f);
		fclose(f);
	}
	reloads = counter(fn, "reloads");
	kill(on.pid, SIGHUP);
	for (int i = 0; i < 500 && counter(fn, "reloads") == reloads; i++)
		quiet(fn, 10);
	check(counter(fn, "reloads") == reloads + 1, "reload applied");
	caught = counter(fn, "busyPollCaught");
	slept = counter(fn, "busyPollSlept");
	check(burst(fn, 200) == 200, "after the reload: 200 requests answered");
	check(counter(fn, "busyPollCaught") == caught && counter(fn, "busyPollSlept") == slept,
	      "after the reload to 0: no more polling");

	/* Bounds. */
	check(config_refused(bin, "[daemon]\nbusy-poll-us = 1001\n"),
	      "busy-poll-us = 1001 is refused (exit 78)");
	check(!config_refused(bin, "[daemon]\nbusy-poll-us = 1000\n"),
	      "busy-poll-us = 1000 is taken");

	close(fo);
	close(fn);
	check(spawn_stop(&off) == 0 && spawn_stop(&on) == 0, "both daemons exit 0");
	return check_summary();
}
