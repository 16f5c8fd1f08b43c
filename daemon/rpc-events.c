/*
 * rpc-events: the layer above the socket engine, as the engine sees it.
 *
 * The engine (tcp*.c) reports through struct tcp_events what happened on
 * a socket; here that becomes answers to the calls that waited for it,
 * notifications to the socket's owner, monitor events, counters and log
 * lines.  Decisions the engine asks for (policy, limits, output room)
 * are taken here too, from the client and the daemon it cannot see.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "ctl.h"
#include "daemon.h"
#include "fdstore.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "proto-errors.h"
#include "quota.h"
#include "rpc.h"
#include "tcp.h"
#include "tcp-tls.h"

static struct daemon *
daemon_of(const struct tcp *t)
{
	return t->eng->up;
}

/* An operation failed: its call is answered with e, and freed. */
static void
ev_op_failed(struct tcp *t, struct tcp_op *op, const struct tcp_error *e)
{
	struct rpc_call *call = rpc_call_of(op);
	const struct tcp_attempts *a = e->attempts.v ? &e->attempts : NULL;

	if (e->code == 0) {
		struct rpc_error re = { .socket = (int64_t)t->id, .attempts = a };

		rpc_errno_error(&re, -e->sys_errno);
		rpc_reply_error(call, &re);
	} else {
		rpc_reply_error(call, &(struct rpc_error){
			.code = e->code, .message = e->message, .socket = (int64_t)t->id,
			.sys_errno = e->sys_errno, .resolver = e->resolver, .limit = e->limit,
			.limit_value = e->limit_value, .rule = e->rule,
			.rule_index = e->rule_index, .action = e->action, .address = e->address,
			.cut = e->cut, .written = e->written, .undelivered = e->undelivered,
			.attempts = a, .tls = e->tls, .reason = e->tls ? e->tls->reason : NULL });
	}
	rpc_call_free(call);
}

/* A read got n bytes: {socket, bytes, data}. */
static void
ev_read_done(struct tcp *t, struct tcp_op *op, const char *buf, size_t n)
{
	struct rpc_call *call = rpc_call_of(op);
	struct proto_jw w;

	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kint(&w, "bytes", (int64_t)n);
		proto_jw_key(&w, "data");
		proto_jw_base64(&w, buf, n);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	rpc_call_free(call);
	fdstore_tcp_queued(t, n);
}

static void
ev_read_eof(struct tcp *t, struct tcp_op *op)
{
	struct rpc_call *call = rpc_call_of(op);

	rpc_reply_eof(call, t);
	rpc_call_free(call);
}

/* A write was handed to the kernel whole: {socket, bytes}. */
static void
ev_write_done(struct tcp *t, struct tcp_op *op)
{
	struct rpc_call *call = rpc_call_of(op);
	struct proto_jw w;

	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kuint(&w, "bytes", op->u.write.len);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	rpc_call_free(call);
}

/*
 * A connect or listen succeeded: {socket, state, local[, remote, attempts]};
 * a connect's latencies go to the metrics.
 */
static void
ev_opened(struct tcp *t, struct tcp_op *op, const struct tcp_attempts *a)
{
	struct rpc_call *call = rpc_call_of(op);
	bool listening = t->state == TCP_STATE_LISTENING;
	struct proto_jw w;

	if (!listening) {
		double syn = t->connect_syn;

		/* The handshake is the winner's: from its own start (attempts race). */
		for (int i = 0; a && i < a->n; i++)
			if (a->v[i].outcome == TCP_OUTCOME_CONNECTED)
				syn = metrics_now() - (double)a->v[i].ms / 1000.;
		metrics_connected(daemon_of(t), t->connect_asked, syn);
	}
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kstr(&w, "state", listening ? "listening" : "connected");
		rpc_write_endpoint(&w, "local", &t->local);
		if (!listening)
			rpc_write_endpoint(&w, "remote", &t->remote);
		if (a->v)
			rpc_write_attempts(&w, a);
		rpc_write_tls(&w, t);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	rpc_call_free(call);
}

/* An accept took the inbound socket nt: monitors see it, the call is answered. */
static void
ev_accepted(struct tcp *t, struct tcp_op *op, struct tcp *nt)
{
	struct rpc_call *call = rpc_call_of(op);
	struct daemon *d = daemon_of(t);
	struct proto_jw w;

	if (monitor_on(d)) {
		struct proto_jw *mw = monitor_begin(d, NULL, t, "accept");

		proto_jw_kuint(mw, "inbound", nt->id);
		rpc_write_endpoint(mw, "local", &nt->local);
		rpc_write_endpoint(mw, "remote", &nt->remote);
		monitor_end(d);
	}
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kint(&w, "inbound", (int64_t)nt->id);
		proto_jw_kstr(&w, "state", "connected");
		rpc_write_endpoint(&w, "local", &nt->local);
		rpc_write_endpoint(&w, "remote", &nt->remote);
		rpc_write_tls(&w, nt);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	rpc_call_free(call);
}

static void
ev_shutdown_done(struct tcp *t, struct tcp_op *op)
{
	struct rpc_call *call = rpc_call_of(op);

	rpc_reply_socket(call, (int64_t)t->id);
	rpc_call_free(call);
}

static void
ev_close_done(struct tcp *t, struct tcp_op *op)
{
	struct rpc_call *call = rpc_call_of(op);

	rpc_reply_closed(call, t);
	rpc_call_free(call);
}

/* Pump mode: tcp.data with n bytes. */
static void
ev_data(struct tcp *t, const char *buf, size_t n)
{
	struct ctl *c = ctl_of_owner(t->owner);
	struct proto_jw w;

	if (!rpc_notify_begin(c, &w, PROTO_N_TCP_DATA))
		return;
	proto_jw_obj_begin(&w);
	proto_jw_kint(&w, "socket", (int64_t)t->id);
	proto_jw_kint(&w, "bytes", (int64_t)n);
	proto_jw_key(&w, "data");
	proto_jw_base64(&w, buf, n);
	proto_jw_kuint(&w, "totalBytes", t->pump_total);
	proto_jw_obj_end(&w);
	rpc_notify_end(c, &w);
	fdstore_tcp_queued(t, n);
}

/* Pump mode: tcp.data with bytes -1.  Returns whether it was sent. */
static bool
ev_eof(struct tcp *t)
{
	struct ctl *c = ctl_of_owner(t->owner);
	struct proto_jw w;

	if (!rpc_notify_begin(c, &w, PROTO_N_TCP_DATA))
		return false;
	proto_jw_obj_begin(&w);
	proto_jw_kint(&w, "socket", (int64_t)t->id);
	proto_jw_kint(&w, "bytes", -1);
	proto_jw_kuint(&w, "totalBytes", t->pump_total);
	if (tcp_tls_truncated(t))
		proto_jw_kbool(&w, "truncated", true);
	proto_jw_obj_end(&w);
	rpc_notify_end(c, &w);
	return true;
}

/* tcp.error: a network error nothing pending was told of. */
static void
ev_error(struct tcp *t, int err)
{
	struct ctl *c = ctl_of_owner(t->owner);
	const char *name = proto_errno_name(err);
	struct proto_jw w;

	if (!rpc_notify_begin(c, &w, PROTO_N_TCP_ERROR))
		return;
	proto_jw_obj_begin(&w);
	proto_jw_kint(&w, "socket", (int64_t)t->id);
	proto_jw_kint(&w, "code", PROTO_E_NETWORK);
	proto_jw_kstr(&w, "message", strerror(err));
	proto_jw_kint(&w, "errno", err);
	proto_jw_kstr(&w, "errname", name ? name : "EUNKNOWN");
	proto_jw_obj_end(&w);
	rpc_notify_end(c, &w);
}

/* tcp.closed, with the figures of t's end (loss) or without (a channel's end). */
static void
ev_closed(struct tcp *t, const char *reason, bool loss)
{
	struct ctl *c = ctl_of_owner(t->owner);
	struct proto_jw w;

	if (!rpc_notify_begin(c, &w, PROTO_N_TCP_CLOSED))
		return;
	proto_jw_obj_begin(&w);
	proto_jw_kuint(&w, "socket", t->id);
	proto_jw_kstr(&w, "reason", reason);
	if (loss) {
		proto_jw_kuint(&w, "undeliveredBytes", t->loss.undelivered);
		proto_jw_kuint(&w, "unacknowledgedBytes", t->loss.unacked);
	}
	if (tcp_tls_truncated(t))
		proto_jw_kbool(&w, "truncated", true);
	proto_jw_obj_end(&w);
	rpc_notify_end(c, &w);
}

static void
ev_created(struct tcp *t)
{
	struct daemon *d = daemon_of(t);

	d->counters.sockets_total++;
	if (monitor_on(d))
		monitor_event(d, ctl_of_owner(t->owner), t, "create");
}

static void
ev_state(struct tcp *t, int from)
{
	struct daemon *d = daemon_of(t);

	if (monitor_on(d))
		monitor_state(d, t, tcp_state_name((enum tcp_state)from), tcp_state_name(t->state));
	fdstore_tcp_state(t, from);
}

/* A connect starts: monitors see it; its start is kept for the metrics. */
static void
ev_connecting(struct tcp *t, const char *host, int port)
{
	struct daemon *d = daemon_of(t);

	t->connect_asked = metrics_now();
	t->connect_syn = 0;
	if (monitor_on(d)) {
		struct proto_jw *w = monitor_begin(d, NULL, t, "connect");

		proto_jw_kstr(w, "host", host);
		proto_jw_kint(w, "port", port);
		monitor_end(d);
	}
}

/* connect(2) to the next address: the handshake's start, for the metrics. */
static void
ev_attempting(struct tcp *t)
{
	t->connect_syn = metrics_now();
}

static void
ev_failing(struct tcp *t, int err)
{
	struct daemon *d = daemon_of(t);

	if (monitor_on(d)) {
		struct proto_jw *mw = monitor_begin(d, NULL, t, "error");
		const char *name = proto_errno_name(err);

		proto_jw_kint(mw, "errno", err);
		proto_jw_kstr(mw, "errname", name ? name : "EUNKNOWN");
		proto_jw_kstr(mw, "message", strerror(err));
		monitor_end(d);
	}
}

static void
ev_moved(struct tcp *t, bool read, size_t n)
{
	struct daemon *d = daemon_of(t);

	if (read)
		d->counters.bytes_read += (uint64_t)n;
	else
		d->counters.bytes_written += (uint64_t)n;
	if (monitor_on(d))
		monitor_bytes(d, t, read ? "read" : "write", n);
	if (t->ledger && !t->channel)	/* a channel's: once its turn is over (ev_relay) */
		fdstore_tcp_moved(t, read ? 0 : n);
}

/*
 * A connection has just ended: monitors see how, and bytes that did not
 * reach the peer are counted and logged (a warning when the owner is
 * gone: nobody else can be told).
 */
static void
ev_ended(struct tcp *t, bool reset)
{
	struct daemon *d = daemon_of(t);
	const struct tcp_loss *l = &t->loss;
	struct ctl *c = ctl_of_owner(t->owner);

	if (monitor_on(d))
		monitor_closed(d, t, reset);
	if (l->undelivered == 0 && l->unacked == 0)
		return;
	d->counters.linger_resets++;
	d->counters.undelivered_bytes += l->undelivered;
	if (t->owner)
		log_event(LOG_INFO, &(struct log_fields){ .message_id = LOG_MID_LINGER_EXPIRED,
			  .socket = t->id, .client = c != NULL, .client_uid = c ? c->cred.uid : 0,
			  .client_pid = c ? c->cred.pid : 0 },
			  "tcp#%llu of %s: connection reset, %llu bytes accepted for writing did not "
			  "reach the peer (%llu queued, %llu unsent in the kernel), %llu more not "
			  "acknowledged", (unsigned long long)t->id, t->owner->desc,
			  (unsigned long long)l->undelivered,
			  (unsigned long long)(l->undelivered - l->kernel_unsent),
			  (unsigned long long)l->kernel_unsent, (unsigned long long)l->unacked);
	else if (log_ratelimit_ok(&d->rl_linger, ev_now(d->loop), 1.))
		log_event(LOG_WARNING, &(struct log_fields){ .message_id = LOG_MID_LINGER_EXPIRED,
			  .socket = t->id },
			  "tcp#%llu of %s, gone: connection reset, %llu bytes accepted for "
			  "writing did not reach the peer (%llu queued, %llu unsent in the kernel), "
			  "%llu more not acknowledged", (unsigned long long)t->id,
			  t->gone_owner ? t->gone_owner : "a client",
			  (unsigned long long)l->undelivered,
			  (unsigned long long)(l->undelivered - l->kernel_unsent),
			  (unsigned long long)l->kernel_unsent, (unsigned long long)l->unacked);
}

/*
 * Asks the policy whether t's owner may do action on ss (host: the name
 * the client gave, or NULL).  Every decision is logged with [policy]
 * audit = yes; denials are counted, and shown to monitors.  Returns NULL
 * when allowed, else the rule that denies.
 */
static const struct policy_rule *
ev_judge(struct tcp *t, enum policy_action action, const char *host,
	 const struct sockaddr_storage *ss)
{
	struct daemon *d = daemon_of(t);
	struct ctl *c = ctl_of_owner(t->owner);
	const struct policy_rule *r;
	char addr[INET6_ADDRSTRLEN + 8] = "?";
	bool allowed;

	if (!c || !d->conf.policy)
		return NULL;	/* lingering: nothing new is started for it */
	r = policy_check(d->conf.policy, &c->subject, action, host,
			 (const struct sockaddr *)ss);
	/* (an accept: the listener's TLS) */
	allowed = policy_rule_allows_tls(r, t->tls_cfg || t->tls);
	if (!allowed) {
		d->counters.policy_denials++;
		metrics_count_denial(d, r);
	}
	if (d->conf.policy->audit || monitor_on(d))
		rpc_format_endpoint(ss, addr, sizeof(addr));
	if (d->conf.policy->audit)
		log_event(LOG_NOTICE, &(struct log_fields){
			  .message_id = allowed ? LOG_MID_POLICY_ALLOWED : LOG_MID_POLICY_DENIED,
			  .socket = t->id, .client = true, .client_uid = c->cred.uid,
			  .client_pid = c->cred.pid, .dest = addr, .rule = policy_rule_text(r) },
			  "policy: %s %s by uid %d pid %d (%s) to %s%s%s: rule %d: %s",
			  allowed ? "allowed" : "denied", policy_action_name(action),
			  (int)c->cred.uid, (int)c->cred.pid, c->desc, addr,
			  host ? " as " : "", host ? host : "", policy_rule_line(r),
			  policy_rule_text(r));
	if (!allowed && monitor_on(d)) {
		struct proto_jw *w = monitor_begin(d, NULL, t, "denied");

		proto_jw_kstr(w, "action", policy_action_name(action));
		rpc_write_endpoint(w, "address", ss);
		proto_jw_kstr(w, "rule", policy_rule_text(r));
		monitor_end(d);
	}
	return allowed ? NULL : r;
}

/* The limit one fd more for t's owner (an accept on t, a raced attempt) would pass, or NULL. */
static const char *
ev_accept_limit(struct tcp *t, uint64_t *value)
{
	struct daemon *d = daemon_of(t);
	struct ctl *c = ctl_of_owner(t->owner);

	if (tcp_owner_sockets(&c->own) >= d->conf.client_sockets) {
		*value = d->conf.client_sockets;
		return "clientSockets";
	}
	if (d->eng.nsockets >= d->conf.sockets) {
		*value = d->conf.sockets;
		return "sockets";
	}
	if (quota_uid_sockets(c->quser) >= d->conf.uid_sockets) {
		*value = d->conf.uid_sockets;
		return "uidSockets";
	}
	return NULL;
}

static bool
ev_has_room(struct tcp_owner *o)
{
	return ctl_has_room(ctl_of_owner(o));
}

static void
ev_stalled(struct tcp_owner *o, bool own)
{
	quota_count_pause(ctl_of_owner(o)->d, own ? QL_CLIENT_NOTIFY : QL_UID_NOTIFY);
}

static void
ev_budget_changed(struct tcp_owner *o)
{
	ctl_budget_changed(ctl_of_owner(o));
}

static void
ev_socket_closed(struct tcp_owner *o)
{
	ctl_socket_closed(ctl_of_owner(o));
}

static void
ev_fd_closing(struct tcp *t)
{
	fdstore_tcp_closing(t);
}

static void
ev_relay(struct tcp *t, size_t up_held, size_t down_held)
{
	t->relay_up = up_held;
	t->relay_down = down_held;
	if (t->ledger)
		fdstore_tcp_sync(t);
}

static void
ev_fd_freed(void *up)
{
	daemon_fd_freed(up);
}

static void
ev_accept_paused(void *up)
{
	daemon_accept_pause(up);
}

/*
 * A lingering socket and its bytes count for its gone owner's user
 * (uidSockets, uidPendingWriteBytes): the user stays meanwhile.
 */
static void
ev_acct_hold(void *up, struct flow_account *a, bool hold)
{
	struct quota_user *u = quota_user_of_acct(a);

	if (hold) {
		u->lingering++;
		quota_hold(u);
	} else {
		u->lingering--;
		quota_release(up, u);
	}
}

static const struct tcp_events rpc_tcp_events = {
	.op_failed = ev_op_failed,
	.read_done = ev_read_done,
	.read_eof = ev_read_eof,
	.write_done = ev_write_done,
	.opened = ev_opened,
	.accepted = ev_accepted,
	.shutdown_done = ev_shutdown_done,
	.close_done = ev_close_done,
	.tls_started = rpc_tls_started,
	.data = ev_data,
	.eof = ev_eof,
	.error = ev_error,
	.closed = ev_closed,
	.created = ev_created,
	.state = ev_state,
	.connecting = ev_connecting,
	.attempting = ev_attempting,
	.failing = ev_failing,
	.moved = ev_moved,
	.ended = ev_ended,
	.tls = rpc_tls_event,
	.judge = ev_judge,
	.accept_limit = ev_accept_limit,
	.has_room = ev_has_room,
	.stalled = ev_stalled,
	.budget_changed = ev_budget_changed,
	.socket_closed = ev_socket_closed,
	.fd_closing = ev_fd_closing,
	.relay = ev_relay,
	.fd_freed = ev_fd_freed,
	.accept_paused = ev_accept_paused,
	.acct_hold = ev_acct_hold,
};

/*
 * Fills in the engine's context from d: its loop, run queue, scratch
 * buffer, resolver, configuration and these events (d->eng's lists and
 * id map are already made).
 */
void
rpc_events_init(struct daemon *d)
{
	struct tcp_engine *eng = &d->eng;

	eng->loop = d->loop;
	eng->flow = &d->flow;
	eng->scratch = d->scratch;
	eng->scratch_size = DAEMON_SCRATCH;
	eng->dns = d->dns;
	eng->conf = &d->conf;
	eng->policy_gen = &d->policy_gen;
	eng->ev = &rpc_tcp_events;
	eng->up = d;
}
