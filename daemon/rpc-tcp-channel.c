/*
 * rpc-tcp-channel: the handler of tcp.channel.  The relay itself is the
 * engine's (tcp-channel.c); here the client's end of the socketpair is
 * passed on the answer's line, and whether the channel gets enlarged
 * buffers is decided: within its uid's and the daemon's channel buffer
 * budgets it does, beyond them it keeps the kernel's defaults (counted
 * in limitHitsBy as a pause would be: nothing is refused).
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "proto-errors.h"
#include "quota.h"
#include "rpc.h"
#include "rpc-handlers.h"
#include "tcp.h"

/*
 * Whether a new channel of c may have enlarged buffers: its uid's grants
 * (its own when it has no quota user) and the daemon's stay within their
 * budgets.  A downgrade is counted under the budget that caused it.
 */
static bool
grant_enlarged(struct ctl *c)
{
	struct daemon *d = c->d;
	const struct flow_account *a = c->quser ? &c->quser->acct : &c->acct;

	if (a->channel_bytes + TCP_CHANNEL_GRANT > d->conf.uid_channel_buffer) {
		quota_count_pause(d, QL_UID_CHANNEL_BUFFER_BYTES);
		return false;
	}
	if (d->eng.channel_bytes + TCP_CHANNEL_GRANT > d->conf.channel_buffer) {
		quota_count_pause(d, QL_CHANNEL_BUFFER_BYTES);
		return false;
	}
	return true;
}

/*
 * tcp.channel.  The socket must be connected with no read, write or pump
 * under way; not in a batch and not a notification (the fd rides on the
 * answer's own line: without one it would ride on the next line written,
 * the answer of another tcp.channel perhaps, and cross two sockets).
 */
int
rpc_tcp_channel(struct rpc_call *call, const union proto_args *args)
{
	struct tcp *t = call->tcp;
	struct tcp_channel *ch;
	const char *busy;
	struct proto_jw w;
	int client_end, r;

	if (call->batch) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_INVALID_REQUEST, .reason = "batch",
			.message = "tcp.channel cannot be part of a batch" });
		return 0;
	}
	if (call->silent) {
		/* Answered into nothing: the channel is not opened. */
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_INVALID_REQUEST, .reason = "notification",
			.message = "tcp.channel needs an id" });
		return 0;
	}
	busy = tcp_channel_busy(t);
	if (busy) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_INVALID_STATE, .socket = (int64_t)t->id,
			.state = proto_state_name(tcp_proto_state(t)), .reason = busy });
		return 0;
	}
	r = tcp_channel_new(&ch, &client_end, grant_enlarged(call->ctl));
	if (r < 0)
		return r;
	if (ctl_pass_fd(call->ctl, client_end) < 0) {
		tcp_channel_discard(ch);
		return -ENOMEM;
	}
	tcp_channel_attach(t, ch);
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kuint(&w, "socket", t->id);
		proto_jw_kbool(&w, "fd", true);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	return 0;
}
