/*
 * rpc-tcp-io: handlers of tcp.read, tcp.write, tcp.pump and tcp.shutdown.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "daemon.h"
#include "fdstore.h"
#include "proto-base64.h"
#include "proto-errors.h"
#include "quota.h"
#include "rpc.h"
#include "rpc-handlers.h"
#include "tcp.h"

static void
invalid_state(struct rpc_call *call, struct tcp *t, const char *reason)
{
	rpc_reply_error(call, &(struct rpc_error){
		.code = PROTO_E_INVALID_STATE, .socket = (int64_t)t->id,
		.state = proto_state_name(tcp_proto_state(t)), .reason = reason });
}

int
rpc_tcp_read(struct rpc_call *call, const union proto_args *args)
{
	const struct proto_tcp_read_args *a = &args->read;
	struct tcp *t = call->tcp;
	struct rpc_call *dc;

	if (t->pumping) {
		invalid_state(call, t, "pumping");
		return 0;
	}
	if (t->eof && TAILQ_EMPTY(&t->reads)) {
		rpc_reply_eof(call, t);
		return 0;
	}
	dc = rpc_call_defer(call, t);
	if (!dc)
		return -ENOMEM;
	dc->op.u.read.length = (size_t)a->length;
	tcp_read_queue(t, &dc->op, a->timeout);
	return RPC_DEFERRED;
}

/*
 * The payload: the fast path decoded it already (call->op.u.write.data);
 * else it is decoded or copied here into call->op.u.write, which owns it
 * from then on.  Returns 0, or 1 after answering a base64 error.
 */
static int
write_payload(struct rpc_call *call, const struct proto_tcp_write_args *a)
{
	ssize_t n;
	char *buf;

	if (call->op.u.write.data)
		return 0;
	if (a->data.s) {
		buf = malloc(proto_base64_decoded_max(a->data.len) + 1);
		if (!buf)
			return -ENOMEM;
		n = proto_base64_decode(buf, a->data.s, a->data.len);
		if (n < 0) {
			/* Checked among the params already: kept for safety. */
			free(buf);
			rpc_reply_error(call, &(struct rpc_error){
				.code = PROTO_E_INVALID_PARAMS, .param = "data", .reason = "base64",
				.socket = a->socket });
			return 1;
		}
	} else {
		buf = malloc(a->text.len + 1);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, a->text.s, a->text.len);
		n = (ssize_t)a->text.len;
	}
	call->op.u.write.data = buf;
	call->op.u.write.len = (size_t)n;
	return 0;
}

int
rpc_tcp_write(struct rpc_call *call, const union proto_args *args)
{
	const struct proto_tcp_write_args *a = &args->write;
	struct tcp *t = call->tcp;
	struct rpc_call *dc;
	int r;

	if (!!a->data.s == !!a->text.s) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_INVALID_PARAMS, .socket = (int64_t)t->id,
			.param = a->data.s ? "text" : "data",
			.reason = a->data.s ? "data-and-text" : "data-or-text",
			.message = "give exactly one of data and text" });
		return 0;
	}
	if (t->shut_wr || t->shutdown_op) {
		invalid_state(call, t, "shutdown");
		return 0;
	}
	r = write_payload(call, a);
	if (r != 0)
		return r < 0 ? r : 0;
	if (call->ctl->quser && call->ctl->quser->acct.pending_write + call->op.u.write.len >
	    call->ctl->d->conf.uid_pending_write)
		tcp_engine_flush(&call->ctl->d->eng);	/* the run so far first, as if sent at once */
	if (call->ctl->quser && call->ctl->quser->acct.pending_write + call->op.u.write.len >
	    call->ctl->d->conf.uid_pending_write) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_LIMIT, .socket = (int64_t)t->id,
			.message = "too many bytes waiting to be sent for this user",
			.limit = "uidPendingWriteBytes",
			.limit_value = (int64_t)call->ctl->d->conf.uid_pending_write });
		return 0;
	}
	dc = rpc_call_defer(call, t);
	if (!dc)
		return -ENOMEM;
	dc->op.u.write.off = 0;
	tcp_write_queue(t, &dc->op);
	fdstore_tcp_sync(t);
	return RPC_DEFERRED;
}

int
rpc_tcp_pump(struct rpc_call *call, const union proto_args *args)
{
	const struct proto_tcp_pump_args *a = &args->pump;
	struct tcp *t = call->tcp;
	struct proto_jw w;

	if (a->enable && !TAILQ_EMPTY(&t->reads)) {
		invalid_state(call, t, "reading");
		return 0;
	}
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kbool(&w, "pumping", a->enable);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	tcp_pump_set(t, a->enable, (size_t)a->chunk_size);
	fdstore_tcp_sync(t);
	return 0;
}

/* tcp.shutdown: FIN once the queued writes are out. */
int
rpc_tcp_shutdown(struct rpc_call *call, const union proto_args *args)
{
	struct tcp *t = call->tcp;
	struct rpc_call *dc;

	if (t->shut_wr) {
		rpc_reply_socket(call, (int64_t)t->id);
		return 0;
	}
	if (t->shutdown_op) {
		invalid_state(call, t, "shutdown");
		return 0;
	}
	dc = rpc_call_defer(call, t);
	if (!dc)
		return -ENOMEM;
	tcp_shutdown(t, &dc->op);
	return RPC_DEFERRED;
}
