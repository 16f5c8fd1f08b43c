/*
 * rpc-tcp-admin: handlers of tcp.close, tcp.setOptions, tcp.info and
 * tcp.list.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "ctl.h"
#include "daemon.h"
#include "monitor.h"
#include "rpc.h"
#include "rpc-handlers.h"
#include "tcp.h"
#include "tcp-kinfo.h"

int
rpc_tcp_close(struct rpc_call *call, const union proto_args *args)
{
	struct tcp *t = call->tcp;
	struct daemon *d = call->ctl->d;
	struct ctl *owner = ctl_of_owner(t->owner);
	bool foreign = owner != call->ctl;
	struct rpc_call *dc = NULL;

	if (monitor_on(d) && t->state != TCP_STATE_CLOSED) {
		struct proto_jw *w = monitor_begin(d, NULL, t, "close");

		proto_jw_kbool(w, "abort", args->close.abort);
		proto_jw_kstr(w, "reason", foreign ? "admin" : "client");
		monitor_end(d);
	}
	if (foreign && t->state != TCP_STATE_CLOSED) {
		struct proto_jw w;

		log_event(LOG_INFO, &(struct log_fields){ .message_id = LOG_MID_ADMIN_CLOSE,
			  .socket = t->id, .client = true, .client_uid = call->ctl->cred.uid,
			  .client_pid = call->ctl->cred.pid },
			  "%s: closing tcp#%llu of %s", call->ctl->desc, (unsigned long long)t->id,
			  owner ? owner->desc : "a departed client");
		if (rpc_notify_begin(owner, &w, PROTO_N_TCP_CLOSED)) {
			proto_jw_obj_begin(&w);
			proto_jw_kuint(&w, "socket", t->id);
			proto_jw_kstr(&w, "reason", "admin");
			proto_jw_obj_end(&w);
			rpc_notify_end(owner, &w);
		}
	}
	/* A close that waits for the peer is answered when it ends (without memory: now). */
	if (tcp_close_waits(t, args->close.abort))
		dc = rpc_call_defer(call, t);
	if (tcp_close(t, dc ? &dc->op : NULL, args->close.abort))
		return RPC_DEFERRED;
	if (!dc) {
		rpc_reply_closed(call, t);
		return 0;
	}
	rpc_reply_closed(dc, t);
	rpc_call_free(dc);
	return RPC_DEFERRED;	/* already done */
}

int
rpc_tcp_set_options(struct rpc_call *call, const union proto_args *args)
{
	const struct proto_tcp_options_args *a = &args->options;
	struct tcp *t = call->tcp;

	tcp_sockopts_merge(&t->opts, &(struct tcp_sockopts){
		.no_delay = a->no_delay, .keep_alive = a->keep_alive,
		.keep_alive_idle = (int)a->keep_alive_idle, .linger = (int)a->linger,
		.sndbuf = (int)a->send_buffer, .rcvbuf = (int)a->receive_buffer });
	if (a->timeout >= 0)
		t->timeout_ms = a->timeout;
	tcp_apply_options(t);
	rpc_reply_socket(call, (int64_t)t->id);
	return 0;
}

int
rpc_tcp_info(struct rpc_call *call, const union proto_args *args)
{
	struct proto_jw w;

	if (rpc_result_begin(call, &w))
		rpc_write_info(&w, call->tcp);
	rpc_result_end(call, &w);
	return 0;
}

/* Writes the tcp.info object of t. */
void
rpc_write_info(struct proto_jw *w, const struct tcp *t)
{
	enum proto_state ps = tcp_proto_state(t);
	const struct daemon *d = t->eng->up;
	const struct ctl *o = ctl_of_owner(t->owner);

	proto_jw_obj_begin(w);
	proto_jw_kint(w, "socket", (int64_t)t->id);
	proto_jw_kstr(w, "state", proto_state_name(ps));
	proto_jw_kint(w, "stateCode", proto_state_code(ps));
	proto_jw_kstr(w, "host", t->host ? t->host : "127.0.0.1");
	proto_jw_kint(w, "port", t->port < 0 ? 0 : t->port);
	if (t->has_local)
		rpc_write_endpoint(w, "local", &t->local);
	if (t->has_remote)
		rpc_write_endpoint(w, "remote", &t->remote);
	proto_jw_kint(w, "listenQueueSize", t->listen_queue < 0 ? SOMAXCONN : t->listen_queue);
	proto_jw_kint(w, "timeout", t->timeout_ms < 0 ? (int64_t)d->conf.connect_timeout_ms
						       : t->timeout_ms);
	proto_jw_kuint(w, "bytesRead", t->bytes_read);
	proto_jw_kuint(w, "bytesWritten", t->bytes_written);
	proto_jw_kuint(w, "pendingWriteBytes", t->pending_write_bytes);
	proto_jw_kbool(w, "pumping", t->pumping);
	proto_jw_kbool(w, "channel", t->channel != NULL);
	proto_jw_key(w, "owner");
	proto_jw_obj_begin(w);
	proto_jw_kuint(w, "client", o ? o->num : 0);
	if (o) {
		proto_jw_kint(w, "pid", (int64_t)o->cred.pid);
		proto_jw_kint(w, "uid", (int64_t)o->cred.uid);
		proto_jw_kint(w, "gid", (int64_t)o->cred.gid);
		proto_jw_key(w, "groups");
		proto_jw_arr_begin(w);
		for (size_t i = 0; i < o->subject.ngroups; i++)
			proto_jw_int(w, (int64_t)o->subject.groups[i]);
		proto_jw_arr_end(w);
	}
	proto_jw_obj_end(w);
	proto_jw_kuint(w, "ageMs", (uint64_t)((ev_now(d->loop) - t->created) * 1000.));
	if (t->fd >= 0)
		tcp_kinfo_write_options(w, "options", t->fd);
	if (t->fd >= 0 && (t->state == TCP_STATE_CONNECTED || t->state == TCP_STATE_CLOSING)) {
		struct tcp_kinfo k;

		if (tcp_kinfo_get(t->fd, &k) == 0)
			tcp_kinfo_write(w, "tcpInfo", &k);
	}
	rpc_write_tls(w, t);
	proto_jw_obj_end(w);
}

static int
by_id(const void *a, const void *b)
{
	const struct tcp *x = *(struct tcp *const *)a, *y = *(struct tcp *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Whether the caller of tcp.list with all may see the sockets of owner (NULL: lingering). */
static bool
may_see(const struct ctl *caller, const struct ctl *owner)
{
	if (ctl_privileged(caller))
		return true;
	return owner && owner->cred.uid == caller->cred.uid;
}

int
rpc_tcp_list(struct rpc_call *call, const union proto_args *args)
{
	struct ctl *c = call->ctl, *o;
	struct daemon *d = c->d;
	size_t n = 0, cap = 0;
	struct tcp **all, *t;
	struct proto_jw w;

	if (!args->list.all) {
		cap = c->own.nsockets + c->own.nclosed;
	} else {
		TAILQ_FOREACH(o, &d->ctls, link)
			if (may_see(c, o))
				cap += o->own.nsockets + o->own.nclosed;
		if (may_see(c, NULL))
			TAILQ_FOREACH(t, &d->eng.orphans, link)
				cap++;
	}
	all = calloc(cap ? cap : 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	TAILQ_FOREACH(o, &d->ctls, link) {
		if (args->list.all ? !may_see(c, o) : o != c)
			continue;
		TAILQ_FOREACH(t, &o->own.sockets, link)
			all[n++] = t;
		TAILQ_FOREACH(t, &o->own.closed, link)
			all[n++] = t;
	}
	if (args->list.all && may_see(c, NULL))
		TAILQ_FOREACH(t, &d->eng.orphans, link)
			all[n++] = t;
	qsort(all, n, sizeof(*all), by_id);
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_key(&w, "sockets");
		proto_jw_arr_begin(&w);
		for (size_t i = 0; i < n; i++)
			rpc_write_info(&w, all[i]);
		proto_jw_arr_end(&w);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	free(all);
	return 0;
}
