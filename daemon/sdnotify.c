/*
 * sdnotify: see sdnotify.h.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "policy.h"
#include "policy-load.h"
#include "quota.h"
#include "sdnotify.h"

/* Sends STATUS= when it changed since the last one (or always, with force). */
static void
send_status(struct daemon *d, const char *prefix, bool force)
{
	char status[sizeof(d->status)];

	snprintf(status, sizeof(status), "%zu clients, %zu sockets, %llu bytes in, %llu bytes out",
		 d->nctls, d->eng.nsockets, (unsigned long long)d->counters.bytes_read,
		 (unsigned long long)d->counters.bytes_written);
	if (!force && strcmp(status, d->status) == 0)
		return;
	memcpy(d->status, status, sizeof(status));
	sdnotify_send(d, !*prefix, "%sSTATUS=%s", prefix, status);
}

static void
on_status(struct ev_loop *loop, ev_timer *w, int revents)
{
	send_status(daemon_from_loop(loop), "", false);
}

static void
on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	sdnotify_send(daemon_from_loop(loop), true, "WATCHDOG=1");
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

/* SIGHUP handled from now on (a reload waits until serving), and the watchdog. */
void
sdnotify_start(struct daemon *d)
{
	uint64_t usec = 0;
	const char *ns = getenv("NOTIFY_SOCKET");

	ev_signal_init(&d->sighup, on_sighup, SIGHUP);
	ev_set_priority(&d->sighup, EV_MAXPRI);	/* before requests: see daemon_init() */
	ev_signal_start(d->loop, &d->sighup);
	ev_unref(d->loop);
	ev_timer_init(&d->status_timer, on_status, SDNOTIFY_STATUS_EVERY, SDNOTIFY_STATUS_EVERY);
	ev_timer_init(&d->watchdog_timer, on_watchdog, 0., 0.);
	if (!ns || !*ns)
		return;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		double half = (double)usec / 2e6;

		ev_timer_set(&d->watchdog_timer, half, half);
		start_unref(d->loop, &d->watchdog_timer);
		sdnotify_send(d, true, "WATCHDOG=1");
		log_info("watchdog: every %.3f s", half);
	}
}

/* READY=1 with STATUS=: the daemon serves, with its policy complete. */
void
sdnotify_ready(struct daemon *d)
{
	const char *ns = getenv("NOTIFY_SOCKET");

	if (!ns || !*ns)
		return;
	send_status(d, "READY=1\n", true);
	if (!ev_is_active(&d->status_timer))
		start_unref(d->loop, &d->status_timer);
}

/* The start failed: STATUS= says why, ERRNO= the error (systemd logs both). */
void
sdnotify_failed(struct daemon *d, const char *why, int err)
{
	(void) d;
	(void) sd_notifyf(0, "STATUS=%s\nERRNO=%d", why, err);
}

/* STOPPING=1 with a last status; the watchdog keeps going through the drain. */
void
sdnotify_stopping(struct daemon *d)
{
	sdnotify_send(d, false, "STOPPING=1\nSTATUS=stopping: %zu clients, %zu sockets", d->nctls,
		      d->eng.nsockets);
	stop_unref(d->loop, &d->status_timer);
}

void
sdnotify_done(struct daemon *d)
{
	stop_unref(d->loop, &d->status_timer);
	stop_unref(d->loop, &d->watchdog_timer);
	sdnotify_send_done(d);
	if (ev_is_active(&d->sighup)) {
		ev_ref(d->loop);
		ev_signal_stop(d->loop, &d->sighup);
	}
}

/* Applies the reloaded config n, whose policy is complete, in one step. */
static void
apply(struct daemon *d, struct conf *n)
{
	if (n->socket_path && (!d->conf.socket_path || strcmp(n->socket_path, d->conf.socket_path)))
		log_warning("reload: the socket path changes only with a restart; still %s",
			    d->socket_path);
	free(n->socket_path);
	n->socket_path = d->conf.socket_path;	/* kept: the running one */
	d->conf.socket_path = NULL;
	if (d->log_level_fixed)
		n->log_level = d->conf.log_level;
	if (strcmp(n->resolver_lookups, d->conf.resolver_lookups) != 0 ||
	    n->resolver_timeout_ms != d->conf.resolver_timeout_ms) {
		/* Lookups under way belong to the running resolver: keep it. */
		log_warning("reload: resolver settings change only with a restart");
		memcpy(n->resolver_lookups, d->conf.resolver_lookups, sizeof(n->resolver_lookups));
		n->resolver_timeout_ms = d->conf.resolver_timeout_ms;
	}
	if (n->metrics_on != d->conf.metrics_on ||
	    memcmp(&n->metrics_listen, &d->conf.metrics_listen, sizeof(n->metrics_listen)) != 0) {
		log_warning("reload: metrics-listen changes only with a restart");
		n->metrics_on = d->conf.metrics_on;
		n->metrics_listen = d->conf.metrics_listen;
	}
	conf_done(&d->conf);	/* the old policy goes with it, atomically */
	d->conf = *n;
	d->policy_gen++;
	log_set_level(d->conf.log_level);
	quota_limits_changed(d);
	d->counters.reloads++;
	log_event(LOG_NOTICE, &(struct log_fields){ .message_id = LOG_MID_RELOADED },
		  "reloaded %s", d->conf_path ? d->conf_path : "the defaults");
}

/* The reloaded policy is complete (r 0): apply; or not: keep the running one. */
static void
on_reload_loaded(void *userdata, int r)
{
	struct daemon *d = userdata;
	struct conf *n = d->reload_conf;

	d->policy_load = NULL;
	d->reload_conf = NULL;
	if (r < 0) {
		log_event(LOG_ERR, &(struct log_fields){ .message_id = LOG_MID_RELOAD_FAILED },
			  "reload: %s: a deny rule's host name did not resolve; keeping the "
			  "running configuration", d->conf_path ? d->conf_path : "(no file)");
		conf_done(n);
	} else {
		apply(d, n);
	}
	free(n);
	send_status(d, "READY=1\n", true);
}

/*
 * SIGHUP: reads the config file again and applies what can change while
 * running: limits, timeouts, linger, the policy and the log level (unless
 * --log-level fixed it).  The socket path and the resolver settings change
 * only with a restart; a change to them is reported and ignored.  The new
 * policy's host names are resolved first; until they are, everything
 * runs on the old config, which is then replaced in one step (READY=1
 * follows).  A file that does not parse, or a deny rule whose name does
 * not resolve, changes nothing.  A SIGHUP while a reload is resolving
 * starts over with the file as it is now.  Clients and sockets are kept
 * either way.  Returns 0 (the reload is under way) or -errno.
 */
int
sdnotify_reload(struct daemon *d)
{
	struct timespec ts;
	struct conf *n;
	char *err = NULL;
	int r;

	if (d->stopping)
		return -ECANCELED;
	if (!d->serving) {
		log_notice("reload: SIGHUP during start; the file is read again once started");
		d->reload_wanted = true;
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sdnotify_send(d, false, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
		      (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000,
		      d->conf_path ? d->conf_path : "(no file)");
	if (d->policy_load) {
		/* A newer SIGHUP: the reload under way is dropped for this one. */
		d->policy_load = policy_load_cancel(d->policy_load);
		conf_done(d->reload_conf);
		free(d->reload_conf);
		d->reload_conf = NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		send_status(d, "READY=1\n", true);
		return -ENOMEM;
	}
	conf_defaults(n);
	r = d->conf_path ? conf_load(n, d->conf_path, d->conf_must_exist, &err) : 0;
	if (r < 0) {
		log_event(LOG_ERR, &(struct log_fields){ .message_id = LOG_MID_RELOAD_FAILED },
			  "reload: %s; keeping the running configuration", err ? err : strerror(-r));
		free(err);
		conf_done(n);
		free(n);
		send_status(d, "READY=1\n", true);
		return r;
	}
	d->reload_conf = n;
	d->policy_load = policy_load_start(d->loop, d->dns, n->policy,
					   daemon_policy_timeout(&d->conf), on_reload_loaded, d);
	if (!d->policy_load) {
		log_error("reload: out of memory; keeping the running configuration");
		d->reload_conf = NULL;
		conf_done(n);
		free(n);
		send_status(d, "READY=1\n", true);
		return -ENOMEM;
	}
	return 0;
}
