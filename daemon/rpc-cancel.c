/*
 * rpc-cancel: rpc.cancel, which ends a pending request of the same
 * connection.
 *
 * The request is found among the connection's deferred calls by its id,
 * compared as a JSON value; the engine takes its op off the socket
 * (tcp_op_cancel) and the request is answered -32800 here, before the
 * cancel's own answer.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "proto-errors.h"
#include "rpc.h"
#include "rpc-handlers.h"
#include "tcp.h"

/*
 * Whether the raw id token of a call (raw, len) is the JSON value want:
 * a string never equals a number; strings are equal when their decoded
 * characters are ("\u0031" is "1"); numbers when their values are
 * (1, 1.0 and 1e0 are one id).
 */
static bool
id_matches(const char *raw, size_t len, const cJSON *want)
{
	cJSON *have = cJSON_ParseWithLength(raw, len);
	bool same = false;

	if (!have)
		return false;
	if (cJSON_IsString(have) && cJSON_IsString(want))
		same = strcmp(have->valuestring, want->valuestring) == 0;
	else if (cJSON_IsNumber(have) && cJSON_IsNumber(want))
		same = have->valuedouble == want->valuedouble;
	cJSON_Delete(have);
	return same;
}

/* The oldest pending call of c whose id is want, or NULL. */
static struct rpc_call *
find_call(struct ctl *c, const cJSON *want)
{
	struct rpc_call *call;

	TAILQ_FOREACH(call, &c->calls, ctl_link)
		if (call->id && !call->answered && id_matches(call->id, call->id_len, want))
			return call;
	return NULL;
}

/* Answers the cancelled call -32800 (a write's with what of it went) and frees it. */
static void
answer_cancelled(struct rpc_call *call, bool write, uint64_t written)
{
	rpc_reply_error(call, &(struct rpc_error){
		.code = PROTO_E_CANCELLED, .socket = (int64_t)call->tcp->id,
		.cut = write, .written = written,
		.undelivered = write ? call->op.u.write.len - written : 0 });
	rpc_call_free(call);
}

/* rpc.cancel {id}: {cancelled}. */
int
rpc_rpc_cancel(struct rpc_call *call, const union proto_args *args)
{
	struct rpc_call *target = find_call(call->ctl, args->cancel.id);
	bool cancelled = false;
	struct proto_jw w;
	uint64_t written;

	if (target && tcp_op_cancel(&target->op, &written)) {
		answer_cancelled(target, target->method == PROTO_M_TCP_WRITE, written);
		cancelled = true;
	}
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kbool(&w, "cancelled", cancelled);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	return 0;
}
