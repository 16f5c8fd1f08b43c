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

int
rpc_tcp_close(struct rpc_call *call, const union proto_args *args)
{
	struct tcp *t = call->tcp;
	struct daemon *d = call->ctl->d;
	bool foreign = t->owner != call->ctl;

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
			  t->owner ? t->owner->desc : "a departed client");
		if (rpc_notify_begin(t->owner, &w, PROTO_N_TCP_CLOSED)) {
			proto_jw_obj_begin(&w);
			proto_jw_kuint(&w, "socket", t->id);
			proto_jw_kstr(&w, "reason", "admin");
			proto_jw_obj_end(&w);
			rpc_notify_end(t->owner, &w);
		}
	}
	return tcp_close(t, call, args->close.abort);
}

int
rpc_tcp_set_options(struct rpc_call *call, const union proto_args *args)
{
	const struct proto_tcp_options_args *a = &args->options;
	struct tcp *t = call->tcp;

	if (a->no_delay >= 0)
		t->no_delay = a->no_delay;
	if (a->keep_alive >= 0)
		t->keep_alive = a->keep_alive;
	if (a->keep_alive_idle >= 0)
		t->keep_alive_idle = (int)a->keep_alive_idle;
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
		tcp_write_info(&w, call->tcp);
	rpc_result_end(call, &w);
	return 0;
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
		cap = c->nsockets + c->nclosed;
	} else {
		TAILQ_FOREACH(o, &d->ctls, link)
			if (may_see(c, o))
				cap += o->nsockets + o->nclosed;
		if (may_see(c, NULL))
			TAILQ_FOREACH(t, &d->orphans, link)
				cap++;
	}
	all = calloc(cap ? cap : 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	TAILQ_FOREACH(o, &d->ctls, link) {
		if (args->list.all ? !may_see(c, o) : o != c)
			continue;
		TAILQ_FOREACH(t, &o->sockets, link)
			all[n++] = t;
		TAILQ_FOREACH(t, &o->closed, link)
			all[n++] = t;
	}
	if (args->list.all && may_see(c, NULL))
		TAILQ_FOREACH(t, &d->orphans, link)
			all[n++] = t;
	qsort(all, n, sizeof(*all), by_id);
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_key(&w, "sockets");
		proto_jw_arr_begin(&w);
		for (size_t i = 0; i < n; i++)
			tcp_write_info(&w, all[i]);
		proto_jw_arr_end(&w);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	free(all);
	return 0;
}
