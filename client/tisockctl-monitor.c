/*
 * tisockctl monitor: daemon.monitor's events, filtered and printed one
 * per line (the event object itself with --json).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "tisockctl.h"

struct monitor {
	const struct opts	*o;
	long long		 pid, socket;	/* 0: any */
	const char		*kinds;		/* ",a,b," or NULL: any */
	bool			 dropped;
	unsigned long		 printed;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long
int_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

static void
print_human(const cJSON *ev)
{
	long long ms = int_of(ev, "time");
	time_t secs = (time_t)(ms / 1000);
	const cJSON *f;
	struct tm tm;
	char when[32];

	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%s.%03lld client %lld", when, ms % 1000, int_of(ev, "client"));
	if (cJSON_GetObjectItemCaseSensitive(ev, "pid"))
		printf(" pid %lld uid %lld", int_of(ev, "pid"), int_of(ev, "uid"));
	if (cJSON_GetObjectItemCaseSensitive(ev, "socket"))
		printf(" socket %lld", int_of(ev, "socket"));
	printf(" %s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "event")));
	cJSON_ArrayForEach(f, ev) {
		static const char *const common[] = { "time", "client", "pid", "uid", "socket",
						      "event" };
		bool skip = false;

		for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
			skip |= strcmp(f->string, common[i]) == 0;
		if (skip)
			continue;
		if (cJSON_IsString(f)) {
			printf(" %s=%s", f->string, f->valuestring);
		} else if (cJSON_IsObject(f) && cJSON_GetObjectItemCaseSensitive(f, "address")) {
			const char *a = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f,
									"address"));

			printf(strchr(a ? a : "", ':') ? " %s=[%s]:%lld" : " %s=%s:%lld", f->string,
			       a ? a : "?", int_of(f, "port"));
		} else {
			char *v = cJSON_PrintUnformatted(f);

			printf(" %s=%s", f->string, v ? v : "?");
			free(v);
		}
	}
	putchar('\n');
}

static void
on_note(tisock_client *c, const char *method, const char *params_json, void *userdata)
{
	struct monitor *m = userdata;
	cJSON *ev;
	const char *kind;
	char key[96];

	if (strcmp(method, "monitor.event") != 0)
		return;
	ev = cJSON_Parse(params_json);
	kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "event"));
	if (!ev || !kind) {
		cJSON_Delete(ev);
		return;
	}
	if (strcmp(kind, "monitor.dropped") == 0) {
		m->dropped = true;
		ctl_err("the daemon dropped this monitor: %s",
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "reason")));
	}
	snprintf(key, sizeof(key), ",%s,", kind);
	if ((m->pid && int_of(ev, "pid") != m->pid) ||
	    (m->socket && int_of(ev, "socket") != m->socket) ||
	    (m->kinds && !strstr(m->kinds, key))) {
		cJSON_Delete(ev);
		return;
	}
	if (m->o->json)
		puts(params_json);
	else
		print_human(ev);
	fflush(stdout);
	m->printed++;
	cJSON_Delete(ev);
}

int
cmd_monitor(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	struct monitor m = { .o = o, .pid = o->mon_pid, .socket = o->mon_socket,
			     .kinds = o->mon_kinds };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, waiting;
	int r;

	if (argc > 1)
		return ctl_usage(o, "monitor takes options only (got \"%s\")", argv[1]);
	tisock_client_set_notify(c, on_note, &m);
	r = tisock_client_call(c, "daemon.monitor", NULL, NULL);
	if (r < 0)
		return ctl_client_failed(c, r);
	/*
	 * SIGINT and SIGTERM stay blocked except inside ppoll, so one that
	 * comes between the test of stop and the wait is not lost.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &waiting);
	sigdelset(&waiting, SIGINT);
	sigdelset(&waiting, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	r = EXIT_OK;
	while (!stop && !m.dropped) {
		struct pollfd p = { .fd = tisock_client_fd(c), .events = POLLIN };
		int k;

		if (ppoll(&p, 1, NULL, &waiting) < 0)
			continue;	/* EINTR: stop is set */
		k = tisock_client_dispatch(c, 0);
		if (k < 0) {
			if (!m.dropped)
				r = ctl_dispatch_failed(c, k);
			break;
		}
	}
	return m.dropped ? EXIT_FAILED : r;
}
