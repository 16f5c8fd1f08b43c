/*
 * tisock-conform: runs the conformance cases against a daemon socket.
 *
 *   tisock-conform --socket PATH      an already running daemon
 *   tisock-conform --daemon TISOCKD   starts one with small limits (see
 *                                     conform-spawn.c) and checks that it
 *                                     exits cleanly on SIGTERM at the end
 *   --filter TEXT                     only the cases whose name holds TEXT
 *   --data DIR                        where jsonrpc.exchanges is
 *   --verbose                         log every line and each case's time
 *
 * Prints "ok NAME", "FAIL NAME: reason" or "skip NAME: reason" per case,
 * then "N passed, N failed, N skipped".  Exits 0 when nothing failed.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conform.h"
#include "conform-client.h"

#ifndef CONFORM_DATADIR
#define CONFORM_DATADIR "tests/conformance"
#endif

static struct conform conform_state = { .datadir = CONFORM_DATADIR };
struct conform *C = &conform_state;

long long
conform_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Records the running case's first failure.  Returns false. */
bool
conform_fail(const char *file, int line, const char *fmt, ...)
{
	const char *base = strrchr(file, '/');
	va_list ap;
	int n;

	if (FAILED())
		return false;
	n = snprintf(C->failure, sizeof(C->failure), "%s:%d: ", base ? base + 1 : file, line);
	va_start(ap, fmt);
	vsnprintf(C->failure + n, sizeof(C->failure) - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

/* Marks the running case skipped, with the reason. */
void
conform_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(C->skipped, sizeof(C->skipped), fmt, ap);
	va_end(ap);
}

/* A diagnostic line on stderr (verbose traces). */
void
conform_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("  # ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Reads daemon.info.limits.  Returns 0 or -1. */
static int
read_limits(void)
{
	struct cc *c = cc_open();
	struct conform_limits *l = &C->limits;
	cJSON *a;

	if (!c)
		return -1;
	a = cc_call(c, "daemon.info", NULL);
	cc_close(c);
	if (!j_get(a, "result.limits")) {
		cJSON_Delete(a);
		return -1;
	}
	l->max_message_bytes = j_int(a, "result.limits.maxMessageBytes");
	l->client_budget = j_int(a, "result.limits.clientBudgetBytes");
	l->client_requests = j_int(a, "result.limits.clientRequests");
	l->client_sockets = j_int(a, "result.limits.clientSockets");
	l->linger_ms = j_int(a, "result.limits.lingerMs");
	C->small_limits = l->max_message_bytes == CONFORM_MAX_MESSAGE &&
			  l->client_budget == CONFORM_BUDGET &&
			  l->client_requests == CONFORM_REQUESTS &&
			  l->client_sockets == CONFORM_SOCKETS && l->linger_ms == CONFORM_LINGER_MS;
	cJSON_Delete(a);
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "Usage: tisock-conform (--socket PATH | --daemon TISOCKD) [--filter NAME] "
		   "[--data DIR] [--verbose]\n");
}

struct totals {
	int passed, failed, skipped;
};

static void
run_case(const struct conform_case *k, struct totals *t)
{
	long long t0 = conform_now_ms();

	if (k->small_limits && !C->small_limits) {
		printf("skip %s: needs the limits tisock-conform --daemon configures "
		       "(budget %d, requests %d, sockets %d, message %d, linger %d ms)\n", k->name,
		       CONFORM_BUDGET, CONFORM_REQUESTS, CONFORM_SOCKETS, CONFORM_MAX_MESSAGE,
		       CONFORM_LINGER_MS);
		t->skipped++;
		return;
	}
	C->failure[0] = '\0';
	C->skipped[0] = '\0';
	if (C->verbose)
		conform_log("--- %s", k->name);
	k->run();
	if (FAILED()) {
		printf("FAIL %s: %s\n", k->name, C->failure);
		t->failed++;
	} else if (C->skipped[0]) {
		printf("skip %s: %s\n", k->name, C->skipped);
		t->skipped++;
	} else {
		if (C->verbose)
			printf("ok %s (%lld ms)\n", k->name, conform_now_ms() - t0);
		else
			printf("ok %s\n", k->name);
		t->passed++;
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "daemon", required_argument, NULL, 'd' },
		{ "filter", required_argument, NULL, 'f' },
		{ "data", required_argument, NULL, 'D' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct conform_case *tables[] = {
		conform_cases_jsonrpc, conform_cases_methods, conform_cases_sockets,
		conform_cases_io, conform_cases_coalesce, conform_cases_relay, conform_cases_states,
		conform_cases_flow, conform_cases_admin, conform_cases_shapes, conform_cases_cancel,
		conform_cases_eyeballs, conform_cases_attacks,
	};
	const char *bin = NULL, *filter = NULL;
	struct totals t = { 0, 0, 0 };
	char why[256];
	int o;

	while ((o = getopt_long(argc, argv, "s:d:f:D:vh", opts, NULL)) != -1) {
		switch (o) {
		case 's': C->socket_path = optarg; break;
		case 'd': bin = optarg; break;
		case 'f': filter = optarg; break;
		case 'D': C->datadir = optarg; break;
		case 'v': C->verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!C->socket_path == !bin || optind != argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (bin && spawn_daemon(bin, &C->socket_path) < 0) {
		printf("FAIL daemon-start: %s did not become ready\n0 passed, 1 failed\n", bin);
		return 1;
	}
	if (read_limits() < 0) {
		printf("FAIL daemon-info: no daemon.info limits from %s\n", C->socket_path);
		if (bin)
			(void)spawn_stop(why, sizeof(why));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		for (const struct conform_case *k = tables[i]; k->name; k++)
			if (!filter || strstr(k->name, filter))
				run_case(k, &t);
	conform_record_done();
	if (bin) {
		if (spawn_stop(why, sizeof(why)) < 0) {
			printf("FAIL daemon-exit: %s\n", why);
			t.failed++;
		} else {
			printf("ok daemon-exit\n");
			t.passed++;
		}
	}
	printf("%d passed, %d failed, %d skipped\n", t.passed, t.failed, t.skipped);
	return t.failed ? 1 : 0;
}
