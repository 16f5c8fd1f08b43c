/*
 * rpc-tcp-tls: the handler of tcp.startTls, and its answer.
 */
#include "config.h"

#include <errno.h>

#include "fdstore.h"
#include "proto-errors.h"
#include "rpc.h"
#include "rpc-handlers.h"
#include "tcp.h"
#include "tcp-addr.h"
#include "tcp-tls.h"

/*
 * The policy on t's peer as a connect with TLS (t->tls_cfg set): an
 * allow rule with tls=forbidden refuses it.  False after answering.
 */
static bool
judged(struct rpc_call *call, struct tcp *t)
{
	struct sockaddr_storage peer = t->remote;
	const struct policy_rule *r;

	if (!t->has_remote)
		return true;
	tcp_addr_effective(&peer);
	r = t->eng->ev->judge(t, POLICY_CONNECT, t->host ? t->host : "127.0.0.1", &peer);
	if (!r)
		return true;
	rpc_reply_error(call, &(struct rpc_error){
		.code = PROTO_E_NOT_PERMITTED, .message = "not permitted by policy",
		.socket = (int64_t)t->id, .rule = policy_rule_text(r),
		.rule_index = policy_rule_line(r), .action = "connect", .address = &peer });
	return false;
}

/*
 * tcp.startTls.  The socket must be connected and idle: nothing pumped,
 * read, written, shut down or ended (the daemon never reads ahead, so
 * every byte the client got came before the handshake).
 */
int
rpc_tcp_start_tls(struct rpc_call *call, const union proto_args *args)
{
	struct proto_tls_args a = args->start_tls.tls;
	struct tcp *t = call->tcp;
	struct tcp_tls_config *cfg;
	struct rpc_call *dc;
	const char *busy;

	if (a.on == 0) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_INVALID_PARAMS, .param = "tls", .reason = "range",
			.socket = (int64_t)t->id,
			.message = "tcp.startTls needs tls true or an object" });
		return 0;
	}
	busy = tcp_tls_start_busy(t);
	if (busy) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_INVALID_STATE, .socket = (int64_t)t->id,
			.state = proto_state_name(tcp_proto_state(t)), .reason = busy });
		return 0;
	}
	a.on = 1;	/* absent: the defaults */
	if (rpc_tls_config(call, &a, false, &cfg) < 0)
		return 0;
	tcp_tls_config_free(t->tls_cfg);
	t->tls_cfg = cfg;
	dc = judged(call, t) ? rpc_call_defer(call, t) : NULL;
	if (!dc) {
		t->tls_cfg = tcp_tls_config_free(t->tls_cfg);
		return call->answered ? 0 : -ENOMEM;
	}
	tcp_start_tls(t, &dc->op);
	fdstore_tcp_tls(t);	/* out of systemd's fd store: a crash now loses it */
	return RPC_DEFERRED;
}

/* tcp.startTls's handshake is done: {socket, tls}. */
void
rpc_tls_started(struct tcp *t, struct tcp_op *op)
{
	struct rpc_call *call = rpc_call_of(op);
	struct proto_jw w;

	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		rpc_write_tls(&w, t);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	rpc_call_free(call);
}
