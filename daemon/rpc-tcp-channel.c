/*
 * rpc-tcp-channel: the handler of tcp.channel.  The relay itself is the
 * engine's (tcp-channel.c); here the client's end of the socketpair is
 * passed on the answer's line.
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "ctl.h"
#include "proto-errors.h"
#include "rpc.h"
#include "rpc-handlers.h"
#include "tcp.h"

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
	r = tcp_channel_new(&ch, &client_end);
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
