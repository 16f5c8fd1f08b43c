/*
 * rpc-tcp-setup: handlers of tcp.create, tcp.connect, tcp.listen and
 * tcp.accept.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "daemon.h"
#include "proto-errors.h"
#include "quota.h"
#include "rpc.h"
#include "rpc-handlers.h"
#include "tcp.h"
#include "tcp-tls.h"

/* Copies the create-time parameters that were given onto t. */
static int
apply_open_args(struct tcp *t, const struct proto_tcp_open_args *a)
{
	if (a->host.s) {
		char *h = strdup(a->host.s);

		if (!h)
			return -ENOMEM;
		free(t->host);
		t->host = h;
	}
	if (a->port >= 0)
		t->port = (int)a->port;
	if (a->listen_queue >= 0)
		t->listen_queue = (int)a->listen_queue;
	if (a->timeout >= 0)
		t->timeout_ms = a->timeout;
	tcp_sockopts_merge(&t->opts, &(struct tcp_sockopts){
		.no_delay = a->no_delay, .keep_alive = a->keep_alive,
		.keep_alive_idle = (int)a->keep_alive_idle, .linger = (int)a->linger,
		.sndbuf = (int)a->send_buffer, .rcvbuf = (int)a->receive_buffer });
	if (a->happy_eyeballs >= 0)
		t->happy_eyeballs = (int8_t)a->happy_eyeballs;
	return 0;
}

static bool
check_limits(struct rpc_call *call, bool needs_fd, int64_t socket)
{
	struct ctl *c = call->ctl;
	struct daemon *d = c->d;

	if (socket == 0 && tcp_owner_sockets(&c->own) >= d->conf.client_sockets) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_LIMIT, .message = "too many sockets for this client",
			.limit = "clientSockets", .limit_value = (int64_t)d->conf.client_sockets });
		return false;
	}
	if (socket == 0 && quota_uid_sockets(c->quser) >= d->conf.uid_sockets) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_LIMIT, .message = "too many sockets for this user",
			.limit = "uidSockets", .limit_value = (int64_t)d->conf.uid_sockets });
		return false;
	}
	if (needs_fd && d->eng.nsockets >= d->conf.sockets) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_LIMIT, .message = "too many sockets in the daemon",
			.limit = "sockets", .socket = socket,
			.limit_value = (int64_t)d->conf.sockets });
		return false;
	}
	return true;
}

/*
 * The socket a connect or listen works on: the one named, or a new one
 * made from the parameters.  Returns it, or NULL after answering.
 */
static struct tcp *
open_target(struct rpc_call *call, const struct proto_tcp_open_args *a, bool needs_fd)
{
	struct tcp *t = call->tcp;

	if (!check_limits(call, needs_fd, a->socket))
		return NULL;
	if (!t) {
		t = tcp_new(&call->ctl->d->eng, &call->ctl->own);
		if (!t) {
			rpc_reply_errno(call, -ENOMEM, 0);
			return NULL;
		}
		call->tcp = t;
	}
	if (apply_open_args(t, a) < 0) {
		rpc_reply_errno(call, -ENOMEM, (int64_t)t->id);
		return NULL;
	}
	return t;
}

/*
 * The TLS of t's connect or listen as a asks (none when absent or
 * false): checked, and put to tls-insecure.  False after answering.
 */
static bool
set_tls(struct rpc_call *call, struct tcp *t, const struct proto_tls_args *a, bool server)
{
	struct tcp_tls_config *cfg;

	if (rpc_tls_config(call, a, server, &cfg) < 0)
		return false;
	tcp_tls_config_free(t->tls_cfg);
	t->tls_cfg = cfg;
	return true;
}

/* Starts the connect or listen of t; the call waits for its end. */
static int
open_start(struct rpc_call *call, struct tcp *t, void (*start)(struct tcp *, struct tcp_op *))
{
	struct rpc_call *dc = rpc_call_defer(call, t);

	if (!dc) {
		rpc_reply_errno(call, -ENOMEM, (int64_t)t->id);
		return 0;
	}
	start(t, &dc->op);
	return RPC_DEFERRED;
}

int
rpc_tcp_create(struct rpc_call *call, const union proto_args *args)
{
	struct tcp *t = open_target(call, &args->open, false);

	if (t)
		rpc_reply_state(call, t);
	return 0;
}

int
rpc_tcp_connect(struct rpc_call *call, const union proto_args *args)
{
	struct tcp *t;
	int r;

	/* The rate first: a refused connect creates no socket. */
	if ((r = quota_connect(call->ctl)) >= 0) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_LIMIT, .message = "too many connects per second",
			.limit = quota_limit_name(r), .socket = args->open.socket,
			.limit_value = (int64_t)(r == QL_CLIENT_CONNECT_RATE
				? call->ctl->d->conf.client_connect_rate
				: call->ctl->d->conf.uid_connect_rate) });
		return 0;
	}
	t = open_target(call, &args->open, true);
	if (!t)
		return 0;
	if (t->port <= 0) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_INVALID_PARAMS, .param = "port",
			.reason = t->port < 0 ? "missing" : "range", .socket = (int64_t)t->id,
			.message = "connect needs a port from 1 to 65535" });
		return 0;
	}
	if (!set_tls(call, t, &args->open.tls, false))
		return 0;
	return open_start(call, t, tcp_connect);
}

int
rpc_tcp_listen(struct rpc_call *call, const union proto_args *args)
{
	struct tcp *t = open_target(call, &args->open, true);

	if (!t || !set_tls(call, t, &args->open.tls, true))
		return 0;
	return open_start(call, t, tcp_listen);
}

int
rpc_tcp_accept(struct rpc_call *call, const union proto_args *args)
{
	const struct proto_tcp_accept_args *a = &args->accept;
	struct rpc_call *dc = rpc_call_defer(call, call->tcp);

	if (!dc)
		return -ENOMEM;
	dc->op.u.accept.opts = (struct tcp_sockopts){
		.no_delay = a->no_delay, .keep_alive = a->keep_alive,
		.keep_alive_idle = (int)a->keep_alive_idle, .linger = (int)a->linger,
		.sndbuf = (int)a->send_buffer, .rcvbuf = (int)a->receive_buffer };
	tcp_accept_queue(dc->tcp, &dc->op, a->timeout);
	return RPC_DEFERRED;
}
