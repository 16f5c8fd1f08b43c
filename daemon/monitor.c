/*
 * monitor: daemon.monitor; see monitor.h.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "ctl.h"
#include "monitor.h"
#include "proto-jsonrpc.h"
#include "proto-methods.h"
#include "rpc.h"
#include "tcp.h"
#include "tcp-kinfo.h"

struct proto_jw *
monitor_begin(struct daemon *d, const struct ctl *c, const struct tcp *t, const char *event)
{
	struct proto_jw *w = &d->monitor_jw;

	if (!c && t)
		c = ctl_of_owner(t->owner);
	proto_buf_reset(&d->monitor_buf);
	proto_jw_init(w, &d->monitor_buf);
	proto_rpc_begin_notification(w, proto_methods[PROTO_N_MONITOR_EVENT].name);
	proto_jw_obj_begin(w);
	proto_jw_kint(w, "time", (int64_t)(ev_now(d->loop) * 1000.));
	proto_jw_kstr(w, "event", event);
	proto_jw_kuint(w, "client", c ? c->num : 0);
	if (c) {
		proto_jw_kint(w, "pid", (int64_t)c->cred.pid);
		proto_jw_kint(w, "uid", (int64_t)c->cred.uid);
	}
	if (t)
		proto_jw_kuint(w, "socket", t->id);
	return w;
}

/*
 * No more events for m: a last one saying why.  A connection that only
 * monitors is then closed once that is flushed; one that also has
 * sockets or requests of its own keeps them and just stops monitoring.
 */
static void
monitor_drop(struct daemon *d, struct ctl *m)
{
	struct proto_jw w;

	monitor_detach(m);
	d->counters.monitors_dropped++;
	log_event(LOG_WARNING, &(struct log_fields){ .message_id = LOG_MID_MONITOR_DROPPED,
		  .client = true, .client_uid = m->cred.uid, .client_pid = m->cred.pid },
		  "%s: monitor dropped: more than %u bytes unread", m->desc, MONITOR_BACKLOG);
	proto_jw_init(&w, &m->out);
	proto_rpc_begin_notification(&w, proto_methods[PROTO_N_MONITOR_EVENT].name);
	proto_jw_obj_begin(&w);
	proto_jw_kint(&w, "time", (int64_t)(ev_now(d->loop) * 1000.));
	proto_jw_kstr(&w, "event", "monitor.dropped");
	proto_jw_kuint(&w, "client", m->num);
	proto_jw_kint(&w, "pid", (int64_t)m->cred.pid);
	proto_jw_kint(&w, "uid", (int64_t)m->cred.uid);
	proto_jw_kstr(&w, "reason", "fell behind");
	proto_jw_kuint(&w, "backlogBytes", proto_buf_used(&m->out));
	proto_jw_obj_end(&w);
	proto_rpc_end(&w);
	(void) proto_buf_putc(&m->out, '\n');
	if (m->own.nsockets == 0 && m->ncalls == 0 && TAILQ_EMPTY(&m->batches))
		ctl_close_after_flush(m, "monitor fell behind");
	else
		ctl_output_added(m);
}

void
monitor_end(struct daemon *d)
{
	struct proto_jw *w = &d->monitor_jw;
	struct ctl *m, *next;

	proto_jw_obj_end(w);
	proto_rpc_end(w);
	if (proto_jw_error(w) < 0 || proto_buf_putc(&d->monitor_buf, '\n') < 0)
		return;
	for (m = TAILQ_FIRST(&d->monitors); m; m = next) {
		next = TAILQ_NEXT(m, monitor_link);
		if (proto_buf_used(&m->out) > MONITOR_BACKLOG) {
			monitor_drop(d, m);
			continue;
		}
		if (proto_buf_append(&m->out, proto_buf_head(&d->monitor_buf),
				  proto_buf_used(&d->monitor_buf)) < 0) {
			monitor_drop(d, m);
			continue;
		}
		ctl_output_added(m);
	}
}

void
monitor_event(struct daemon *d, const struct ctl *c, const struct tcp *t, const char *event)
{
	(void) monitor_begin(d, c, t, event);
	monitor_end(d);
}

void
monitor_bytes(struct daemon *d, const struct tcp *t, const char *event, size_t n)
{
	struct proto_jw *w = monitor_begin(d, NULL, t, event);

	proto_jw_kuint(w, "bytes", n);
	monitor_end(d);
}

void
monitor_state(struct daemon *d, const struct tcp *t, const char *from, const char *to)
{
	struct proto_jw *w = monitor_begin(d, NULL, t, "state");

	proto_jw_kstr(w, "from", from);
	proto_jw_kstr(w, "to", to);
	if (t->has_local)
		rpc_write_endpoint(w, "local", &t->local);
	if (t->has_remote)
		rpc_write_endpoint(w, "remote", &t->remote);
	if (t->fd >= 0 && (t->state == TCP_STATE_CONNECTED || t->state == TCP_STATE_CLOSING)) {
		struct tcp_kinfo k;

		/* Connected (the handshake's round trip), or closing (what is left in flight). */
		if (tcp_kinfo_get(t->fd, &k) == 0)
			tcp_kinfo_write(w, "tcpInfo", &k);
	}
	monitor_end(d);
}

void
monitor_closed(struct daemon *d, const struct tcp *t, bool reset)
{
	struct proto_jw *w = monitor_begin(d, NULL, t, "closed");

	proto_jw_kbool(w, "reset", reset);
	proto_jw_kuint(w, "undeliveredBytes", t->loss.undelivered);
	proto_jw_kuint(w, "unacknowledgedBytes", t->loss.unacked);
	monitor_end(d);
}

/* daemon.monitor's work: c starts or stops getting events.  0. */
int
monitor_enable(struct ctl *c, bool on)
{
	struct daemon *d = c->d;

	if (on && !(c->flags & CTL_MONITOR)) {
		c->flags |= CTL_MONITOR;
		TAILQ_INSERT_TAIL(&d->monitors, c, monitor_link);
		d->nmonitors++;
		log_info("%s: monitoring", c->desc);
	} else if (!on) {
		monitor_detach(c);
	}
	return 0;
}

void
monitor_detach(struct ctl *c)
{
	if (!(c->flags & CTL_MONITOR))
		return;
	c->flags &= ~CTL_MONITOR;
	TAILQ_REMOVE(&c->d->monitors, c, monitor_link);
	c->d->nmonitors--;
}
