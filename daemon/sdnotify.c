/*
 * sdnotify: see sdnotify.h.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "policy.h"
#include "sdnotify.h"

/* Sends STATUS= when it changed since the last one (or always, with force). */
static void
send_status(struct daemon *d, const char *prefix, bool force)
{
	char status[sizeof(d->status)];

	snprintf(status, sizeof(status), "%zu clients, %zu sockets, %llu bytes in, %llu bytes out",
		 d->nctls, d->nsockets, (unsigned long long)d->counters.bytes_read,
		 (unsigned long long)d->counters.bytes_written);
	if (!force && strcmp(status, d->status) == 0)
		return;
	memcpy(d->status, status, sizeof(status));
	(void) sd_notifyf(0, "%sSTATUS=%s", prefix, status);
}

static void
on_status(struct ev_loop *loop, ev_timer *w, int revents)
{
	send_status(daemon_from_loop(loop), "", false);
}

static void
on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void) sd_notify(0, "WATCHDOG=1");
}

static void
on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void) sdnotify_reload(daemon_from_loop(loop));
}

/* A timer that does not keep the loop alive. */
static void
start_unref(struct ev_loop *loop, ev_timer *t)
{
	ev_timer_start(loop, t);
	ev_unref(loop);
}

static void
stop_unref(struct ev_loop *loop, ev_timer *t)
{
	if (!ev_is_active(t))
		return;
	ev_ref(loop);
	ev_timer_stop(loop, t);
}

/* READY=1 and the timers; SIGHUP reloads from now on. */
void
sdnotify_start(struct daemon *d)
{
	uint64_t usec = 0;
	const char *ns = getenv("NOTIFY_SOCKET");

	ev_signal_init(&d->sighup, on_sighup, SIGHUP);
	ev_signal_start(d->loop, &d->sighup);
	ev_unref(d->loop);
	ev_timer_init(&d->status_timer, on_status, SDNOTIFY_STATUS_EVERY, SDNOTIFY_STATUS_EVERY);
	ev_timer_init(&d->watchdog_timer, on_watchdog, 0., 0.);
	if (!ns || !*ns)
		return;
	send_status(d, "READY=1\n", true);
	start_unref(d->loop, &d->status_timer);
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		double half = (double)usec / 2e6;

		ev_timer_set(&d->watchdog_timer, half, half);
		start_unref(d->loop, &d->watchdog_timer);
		(void) sd_notify(0, "WATCHDOG=1");
		log_info("watchdog: every %.3f s", half);
	}
}

/* STOPPING=1 with a last status; the watchdog keeps going through the drain. */
void
sdnotify_stopping(struct daemon *d)
{
	(void) sd_notifyf(0, "STOPPING=1\nSTATUS=stopping: %zu clients, %zu sockets", d->nctls,
			  d->nsockets);
	stop_unref(d->loop, &d->status_timer);
}

void
sdnotify_done(struct daemon *d)
{
	stop_unref(d->loop, &d->status_timer);
	stop_unref(d->loop, &d->watchdog_timer);
	if (ev_is_active(&d->sighup)) {
		ev_ref(d->loop);
		ev_signal_stop(d->loop, &d->sighup);
	}
}

/*
 * SIGHUP: reads the config file again and applies what can change while
 * running: limits, timeouts, linger and the log level (unless
 * --log-level fixed it).  The socket path and the resolver settings change
 * only with a restart; a change to them is reported and ignored.  A file that does not
 * parse changes nothing.  Clients and sockets are kept either way.
 * Returns 0 or -errno.
 */
int
sdnotify_reload(struct daemon *d)
{
	struct timespec ts;
	struct conf n;
	char *err = NULL;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void) sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
			  (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000,
			  d->conf_path ? d->conf_path : "(no file)");
	conf_defaults(&n);
	r = d->conf_path ? conf_load(&n, d->conf_path, d->conf_must_exist, &err) : 0;
	if (r < 0) {
		log_event(LOG_ERR, &(struct log_fields){ .message_id = LOG_MID_RELOAD_FAILED },
			  "reload: %s; keeping the running configuration", err ? err : strerror(-r));
		free(err);
		conf_done(&n);
		send_status(d, "READY=1\n", true);
		return r;
	}
	if (n.socket_path && (!d->conf.socket_path || strcmp(n.socket_path, d->conf.socket_path)))
		log_warning("reload: the socket path changes only with a restart; still %s",
			    d->socket_path);
	free(n.socket_path);
	n.socket_path = d->conf.socket_path;	/* kept: the running one */
	d->conf.socket_path = NULL;
	if (d->log_level_fixed)
		n.log_level = d->conf.log_level;
	if (strcmp(n.resolver_lookups, d->conf.resolver_lookups) != 0 ||
	    n.resolver_timeout_ms != d->conf.resolver_timeout_ms) {
		/* Lookups under way belong to the running resolver: keep it. */
		log_warning("reload: resolver settings change only with a restart");
		memcpy(n.resolver_lookups, d->conf.resolver_lookups, sizeof(n.resolver_lookups));
		n.resolver_timeout_ms = d->conf.resolver_timeout_ms;
	}
	if (n.metrics_on != d->conf.metrics_on ||
	    memcmp(&n.metrics_listen, &d->conf.metrics_listen, sizeof(n.metrics_listen)) != 0) {
		log_warning("reload: metrics-listen changes only with a restart");
		n.metrics_on = d->conf.metrics_on;
		n.metrics_listen = d->conf.metrics_listen;
	}
	conf_done(&d->conf);	/* the old policy goes with it, atomically */
	d->conf = n;
	policy_resolve(d->conf.policy, d->dns);
	log_set_level(d->conf.log_level);
	d->counters.reloads++;
	log_event(LOG_NOTICE, &(struct log_fields){ .message_id = LOG_MID_RELOADED },
		  "reloaded %s", d->conf_path ? d->conf_path : "the defaults");
	send_status(d, "READY=1\n", true);
	return 0;
}
