/*
 * bench-upgrade: the pause of a live upgrade (bench --only upgrade).
 *
 * For N = 10, 1000, 10000 sockets, on a fresh daemon: N connections to a
 * peer in a child process (which holds them), spread over 10 clients,
 * each socket with a tcp.read pending; then daemon.upgrade, repeatedly.
 * The pause is the time from sending daemon.upgrade to its answer: the
 * new process writes it in the loop iteration that sets every socket
 * moving again, after the old process has written the state image, the
 * new binary has started, read its config and rebuilt everything from
 * the image.  p50 and p99 over the repetitions.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define UP_CLIENTS	10
#define UP_BATCH	500

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* n sockets connected to port over the clients, each with a read pending. */
static void
make_sockets(struct rpc *cl, int n, int port)
{
	for (int done = 0; done < n;) {
		int k = n - done < UP_BATCH ? n - done : UP_BATCH;

		for (int i = 0; i < k; i++)
			rpc_send(&cl[(done + i) % UP_CLIENTS], "{\"jsonrpc\":\"2.0\",\"id\":\"c\","
				 "\"method\":\"tcp.connect\",\"params\":{\"port\":%d}}\n", port);
		for (int i = 0; i < k; i++) {
			struct rpc *r = &cl[(done + i) % UP_CLIENTS];
			size_t len;
			char *line = rpc_line(r, &len);
			cJSON *m = cJSON_ParseWithLength(line, len);
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(m, "result"), "socket");

			if (!cJSON_IsNumber(s)) {
				fprintf(stderr, "bench: tcp.connect: %s\n", line);
				exit(1);
			}
			rpc_send(r, "{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"method\":\"tcp.read\","
				 "\"params\":{\"socket\":%.0f}}\n", s->valuedouble);
			cJSON_Delete(m);
		}
		done += k;
	}
}

/* One upgrade: the pause in ms; *pid becomes the new process's. */
static double
upgrade_once(struct rpc *r, pid_t *pid)
{
	double t0 = now_s(), dt;
	cJSON *a = rpc_call(r, "daemon.upgrade", NULL);
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(a, "result");

	dt = (now_s() - t0) * 1000.;
	if (!res) {
		char *t = cJSON_PrintUnformatted(a);

		fprintf(stderr, "bench: daemon.upgrade: %s\n", t);
		exit(1);
	}
	*pid = (pid_t)cJSON_GetObjectItemCaseSensitive(res, "pid")->valuedouble;
	cJSON_Delete(a);
	return dt;
}

/* The pauses of reps upgrades with n sockets: p50 and p99 in ms. */
void
upgrade_run(int n, int reps, double *p50, double *p99)
{
	static const char conf[] = "[daemon]\nresolver-lookups = f\nlog-level = warning\n"
		"[limits]\nclient-sockets = 10100\nsockets = 10100\nuid-sockets = 10100\n"
		"client-requests = 20000\nuid-requests = 40000\n"
		"client-connects-per-second = 1000000\nuid-connects-per-second = 1000000\n";
	struct spawned saved = sp;
	struct rpc cl[UP_CLIENTS];
	double *ms = calloc((size_t)reps, sizeof(*ms));
	pid_t peer, pid;
	int port, st;

	(void) prctl(PR_SET_CHILD_SUBREAPER, 1);	/* upgraded daemons stay ours to reap */
	if (spawn_start(&sp, daemon_bin, conf, 20000) < 0)
		die("start the daemon for the upgrade bench");
	pid = sp.pid;
	peer = peer_start(HOLD, n, &port);
	for (int c = 0; c < UP_CLIENTS; c++)
		rpc_open(&cl[c]);
	make_sockets(cl, n, port);
	for (int i = 0; i < reps; i++) {
		pid_t old = pid;

		ms[i] = upgrade_once(&cl[0], &pid);
		if (old != sp.pid)
			(void) waitpid(old, &st, 0);	/* reparented to us: reaped */
	}
	qsort(ms, (size_t)reps, sizeof(*ms), cmp_d);
	*p50 = ms[reps / 2];
	*p99 = ms[(reps * 99) / 100 < reps ? (reps * 99) / 100 : reps - 1];
	for (int c = 0; c < UP_CLIENTS; c++)
		rpc_close(&cl[c]);
	kill(pid, SIGTERM);
	(void) waitpid(pid, &st, 0);
	(void) spawn_stop(&sp);		/* the first process: reaped, its directory removed */
	peer_stop(peer);
	sp = saved;
	free(ms);
}
