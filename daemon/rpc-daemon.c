/*
 * rpc-daemon: handlers of daemon.info and rpc.discover.
 *
 * The OpenRPC document is generated from the method table (protocol/,
 * proto-openrpc.c) on first use and cached: it cannot change while the
 * daemon runs.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "monitor.h"
#include "quota.h"
#include "proto-errors.h"
#include "proto-methods.h"
#include "proto-openrpc.h"
#include "rpc.h"
#include "rpc-handlers.h"
#include "upgrade.h"

/* What the caller's uid holds right now, over all its connections. */
static void
write_user(struct proto_jw *w, const struct ctl *c)
{
	const struct quota_user *u = c->quser;

	proto_jw_key(w, "user");
	proto_jw_obj_begin(w);
	proto_jw_kint(w, "uid", (int64_t)c->cred.uid);
	proto_jw_kuint(w, "clients", u ? u->nctls : 1);
	proto_jw_kuint(w, "sockets", u ? quota_uid_sockets(u) : tcp_owner_sockets(&c->own));
	proto_jw_kuint(w, "requests", u ? quota_uid_requests(u) : c->ncalls);
	proto_jw_kuint(w, "pendingWriteBytes", u ? quota_uid_pending_write(u) :
		       c->acct.pending_write);
	proto_jw_kuint(w, "queuedOutputBytes", u ? quota_uid_output(u) : proto_buf_used(&c->out));
	proto_jw_kuint(w, "inputBytes", u ? u->input_bytes : c->input_held);
	proto_jw_kuint(w, "channelBufferBytes", u ? u->acct.channel_bytes : c->acct.channel_bytes);
	proto_jw_obj_end(w);
}

/* generation, and lastRestart when there was one. */
static void
write_restart(struct proto_jw *w, const struct daemon *d)
{
	proto_jw_kuint(w, "generation", d->generation);
	if (!d->last_restart_reason)
		return;
	proto_jw_key(w, "lastRestart");
	proto_jw_obj_begin(w);
	proto_jw_kuint(w, "at", (uint64_t)(d->last_restart * 1000.));
	proto_jw_kstr(w, "reason", d->last_restart_reason);
	proto_jw_kstr(w, "fromVersion", d->last_restart_from);
	proto_jw_obj_end(w);
}

int
rpc_daemon_info(struct rpc_call *call, const union proto_args *args)
{
	struct daemon *d = call->ctl->d;
	const struct daemon_counters *k = &d->counters;
	const struct conf *cf = &d->conf;
	struct proto_jw w;

	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kstr(&w, "name", "tisockd");
		proto_jw_kstr(&w, "version", PACKAGE_VERSION);
		proto_jw_kint(&w, "protocol", PROTO_VERSION);
		proto_jw_kint(&w, "pid", (int64_t)getpid());
		proto_jw_kuint(&w, "uptime", daemon_uptime_ms(d));
		write_restart(&w, d);
		proto_jw_key(&w, "limits");
		proto_jw_obj_begin(&w);
		proto_jw_kuint(&w, "maxMessageBytes", cf->max_message_bytes);
		proto_jw_kuint(&w, "clientBudgetBytes", cf->client_budget);
		proto_jw_kuint(&w, "clientSockets", cf->client_sockets);
		proto_jw_kuint(&w, "clientRequests", cf->client_requests);
		proto_jw_kuint(&w, "clients", cf->clients);
		proto_jw_kuint(&w, "sockets", cf->sockets);
		proto_jw_kuint(&w, "lingerMs", cf->linger_ms);
		proto_jw_kuint(&w, "connectTimeoutMs", cf->connect_timeout_ms);
		proto_jw_kuint(&w, "uidClients", cf->uid_clients);
		proto_jw_kuint(&w, "uidSockets", cf->uid_sockets);
		proto_jw_kuint(&w, "uidRequests", cf->uid_requests);
		proto_jw_kuint(&w, "uidPendingWriteBytes", cf->uid_pending_write);
		proto_jw_kuint(&w, "clientConnectsPerSecond", cf->client_connect_rate);
		proto_jw_kuint(&w, "uidConnectsPerSecond", cf->uid_connect_rate);
		proto_jw_kuint(&w, "clientNotifyBytes", cf->client_notify);
		proto_jw_kuint(&w, "uidNotifyBytes", cf->uid_notify);
		proto_jw_kuint(&w, "uidInputBytes", cf->uid_input);
		proto_jw_kuint(&w, "inputBytes", cf->input);
		proto_jw_kuint(&w, "uidChannelBufferBytes", cf->uid_channel_buffer);
		proto_jw_kuint(&w, "channelBufferBytes", cf->channel_buffer);
		proto_jw_obj_end(&w);
		write_user(&w, call->ctl);
		proto_jw_kstr(&w, "scope", ctl_privileged(call->ctl) ? "all" : "user");
		if (!ctl_privileged(call->ctl)) {
			/* Other users' traffic is not this client's business. */
			proto_jw_obj_end(&w);
			goto out;
		}
		proto_jw_key(&w, "counters");
		proto_jw_obj_begin(&w);
		proto_jw_kuint(&w, "clients", d->nctls);
		proto_jw_kuint(&w, "clientsTotal", k->clients_total);
		proto_jw_kuint(&w, "sockets", d->eng.nsockets);
		proto_jw_kuint(&w, "socketsTotal", k->sockets_total);
		proto_jw_kuint(&w, "requests", k->requests);
		proto_jw_kuint(&w, "bytesRead", k->bytes_read);
		proto_jw_kuint(&w, "bytesWritten", k->bytes_written);
		proto_jw_kuint(&w, "protocolErrors", k->protocol_errors);
		proto_jw_kuint(&w, "limitHits", k->limit_hits);
		proto_jw_kuint(&w, "acceptPauses", k->accept_pauses);
		proto_jw_kuint(&w, "monitors", d->nmonitors);
		proto_jw_kuint(&w, "monitorsDropped", k->monitors_dropped);
		proto_jw_kuint(&w, "reloads", k->reloads);
		proto_jw_kuint(&w, "policyDenials", k->policy_denials);
		proto_jw_kuint(&w, "inputBytes", d->input_bytes);
		proto_jw_kuint(&w, "channelBufferBytes", d->eng.channel_bytes);
		proto_jw_kuint(&w, "lingerResets", k->linger_resets);
		proto_jw_kuint(&w, "undeliveredBytes", k->undelivered_bytes);
		proto_jw_kuint(&w, "tlsHandshakes", k->tls_handshakes);
		proto_jw_kuint(&w, "tlsHandshakeFailures", k->tls_failures);
		proto_jw_kuint(&w, "tlsTruncated", k->tls_truncated);
		proto_jw_kuint(&w, "busyPollCaught", d->busypoll.caught);
		proto_jw_kuint(&w, "busyPollSlept", d->busypoll.slept);
		proto_jw_obj_end(&w);
		quota_write_hits(&w, d);	/* beside counters: an object, not a number */
		proto_jw_obj_end(&w);
	}
out:
	rpc_result_end(call, &w);
	return 0;
}

int
rpc_daemon_monitor(struct rpc_call *call, const union proto_args *args)
{
	struct proto_jw w;

	(void) monitor_enable(call->ctl, args->monitor.enable);
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kbool(&w, "monitoring", args->monitor.enable);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	return 0;
}

int
rpc_rpc_discover(struct rpc_call *call, const union proto_args *args)
{
	static struct proto_buf doc = PROTO_BUF_INIT;
	struct proto_jw w;

	if (proto_buf_used(&doc) == 0 && proto_openrpc_build(&doc) < 0) {
		proto_buf_free(&doc);
		return -ENOMEM;
	}
	if (rpc_result_begin(call, &w))
		proto_jw_raw(&w, proto_buf_head(&doc), proto_buf_used(&doc));
	rpc_result_end(call, &w);
	return 0;
}

/*
 * daemon.upgrade: the call waits (deferred, on no socket) and the upgrade
 * runs from the loop; the new process answers it, or the old one with
 * -32013 when it did not happen.
 */
int
rpc_daemon_upgrade(struct rpc_call *call, const union proto_args *args)
{
	struct rpc_call *dc = rpc_call_defer(call, NULL);

	(void) args;
	if (!dc)
		return -ENOMEM;
	upgrade_request(call->ctl->d, dc);
	return RPC_DEFERRED;
}
