/*
 * rpc: the dispatcher.  One line in, one call per request, generic checks
 * from the method table, then the handler; see rpc.h.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "metrics.h"
#include "proto-idmap.h"
#include "daemon.h"
#include "proto-errors.h"
#include "proto-fastwrite.h"
#include "proto-jsonrpc.h"
#include "quota.h"
#include "rpc.h"
#include "rpc-handlers.h"
#include "tcp.h"

static void
protocol_error(struct ctl *c, struct rpc_batch *b, char *id, size_t id_len,
	       const struct rpc_error *e)
{
	struct rpc_call call = { .ctl = c, .batch = b, .method = -1, .id = id, .id_len = id_len };

	c->d->counters.protocol_errors++;
	rpc_reply_error(&call, e);
	rpc_call_free(&call);	/* frees id */
}

/* Answers a line that was over max-message-bytes. */
void
rpc_too_large(struct ctl *c)
{
	protocol_error(c, NULL, NULL, 0, &(struct rpc_error){
		.code = PROTO_E_INVALID_REQUEST, .message = "message too large",
		.reason = "too-large", .limit = "maxMessageBytes",
		.limit_value = (int64_t)c->d->conf.max_message_bytes });
}

/* Answers a client whose unfinished line went over an input limit. */
void
rpc_input_limit(struct ctl *c, const char *limit, uint64_t value)
{
	struct rpc_call call = { .ctl = c, .method = -1 };

	rpc_reply_error(&call, &(struct rpc_error){
		.code = PROTO_E_LIMIT, .message = "input limit reached: line dropped",
		.reason = "input-limit", .limit = limit, .limit_value = (int64_t)value });
	rpc_call_free(&call);
}

/* One answer of b is in: when it was the last, the batch goes out. */
void
rpc_batch_answered(struct rpc_batch *b)
{
	struct ctl *c = b->ctl;

	assert(b->outstanding > 0);
	if (--b->outstanding > 0)
		return;
	if (c) {
		TAILQ_REMOVE(&c->batches, b, link);
		if (b->any) {
			size_t n = proto_buf_used(&b->buf);

			c->batch_bytes -= n;
			if (proto_buf_putc(&c->out, '[') == 0 &&
			    proto_buf_append(&c->out, proto_buf_head(&b->buf), n) == 0)
				(void) proto_buf_append(&c->out, "]\n", 2);
			ctl_output_added(c);
		}
	}
	proto_buf_free(&b->buf);
	free(b);
}

/*
 * The client is gone: its open batches stay alive until their calls are
 * answered (into nothing) but no longer point at it.
 */
void
rpc_batch_detach_all(struct ctl *c)
{
	struct rpc_batch *b;

	while ((b = TAILQ_FIRST(&c->batches))) {
		TAILQ_REMOVE(&c->batches, b, link);
		b->ctl = NULL;
		proto_buf_free(&b->buf);
	}
	c->batch_bytes = 0;
}

static bool
resolve_socket(struct rpc_call *call, const struct proto_method *m, const union proto_args *a,
	       struct tcp **ret)
{
	struct tcp *t;

	*ret = NULL;
	if (!(m->flags & PROTO_M_SOCKET))
		return true;
	if (a->socket == 0 && (m->flags & PROTO_M_SOCKET_OPT))
		return true;
	if (call->method == PROTO_M_TCP_CLOSE && a->close.admin) {
		/* An administrator's close names any client's socket. */
		t = a->socket > 0 ? proto_idmap_get(call->ctl->d->eng.sockets, (uint64_t)a->socket) : NULL;
	} else {
		t = ctl_find_tcp(call->ctl, a->socket);
	}
	if (!t) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_NO_SOCKET, .socket = a->socket });
		return false;
	}
	if (t->channel && (call->method == PROTO_M_TCP_READ || call->method == PROTO_M_TCP_WRITE ||
			   call->method == PROTO_M_TCP_PUMP || call->method == PROTO_M_TCP_SHUTDOWN ||
			   call->method == PROTO_M_TCP_CHANNEL)) {
		/* The channel holder has the bytes: no JSON I/O beside it. */
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_INVALID_STATE, .socket = a->socket,
			.state = proto_state_name(tcp_proto_state(t)), .reason = "channel" });
		return false;
	}
	if (!(m->states & (1u << tcp_proto_state(t)))) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_INVALID_STATE, .socket = a->socket,
			.state = proto_state_name(tcp_proto_state(t)) });
		return false;
	}
	*ret = t;
	return true;
}

/*
 * Runs the call of method m (call->method) with its parsed args: the
 * privilege, the socket and its state, the request limits, then the
 * handler.  Writes queued by the tcp.write requests before it go out
 * first unless it is one more of them.  Frees call's id unless the handler deferred the call.
 */
static void
dispatch_args(struct ctl *c, struct rpc_call *callp, const struct proto_method *m,
	      union proto_args *argsp)
{
	struct rpc_call call = *callp;
	union proto_args args = *argsp;
	int mid = call.method, r;
	struct tcp *t;
	const char *method = m->name;

	/*
	 * A run of tcp.write requests is sent together (tcp_engine_flush());
	 * any other request sees the sockets as if each write had gone at once.
	 */
	if (mid != PROTO_M_TCP_WRITE)
		tcp_engine_flush(&c->d->eng);
	metrics_count_request(c->d, mid);
	if ((m->flags & PROTO_M_PRIVILEGED ||
	     (mid == PROTO_M_TCP_CLOSE && args.close.admin)) && !ctl_privileged(c)) {
		rpc_reply_error(&call, &(struct rpc_error){
			.code = PROTO_E_NOT_PERMITTED, .method = method,
			.message = "not permitted: root and the daemon's own user only",
			.reason = "privileged" });
		goto out;
	}
	if (!resolve_socket(&call, m, &args, &t))
		goto out;
	if (mid == PROTO_M_RPC_CANCEL)
		goto run;	/* answered at once: no request limit may stand in its way */
	if (c->quser && quota_uid_requests(c->quser) >= c->d->conf.uid_requests) {
		rpc_reply_error(&call, &(struct rpc_error){
			.code = PROTO_E_LIMIT, .message = "too many requests in flight for this user",
			.limit = "uidRequests", .socket = args.socket,
			.limit_value = (int64_t)c->d->conf.uid_requests });
		goto out;
	}
	if (c->ncalls >= c->d->conf.client_requests) {
		rpc_reply_error(&call, &(struct rpc_error){
			.code = PROTO_E_LIMIT, .message = "too many requests in flight",
			.limit = "clientRequests", .socket = args.socket,
			.limit_value = (int64_t)c->d->conf.client_requests });
		goto out;
	}
run:
	call.tcp = t;
	r = rpc_handlers[mid](&call, &args);
	if (r == RPC_DEFERRED)
		return;		/* the call lives on in a FIFO, or is already done */
	if (r < 0 && !call.answered)
		rpc_reply_errno(&call, r, args.socket);
	assert(call.answered);
out:
	rpc_call_free(&call);
}

static void
dispatch_request(struct ctl *c, struct rpc_batch *b, struct proto_request *q)
{
	struct rpc_call call = { .ctl = c, .batch = b, .method = -1 };
	union proto_args args;
	const struct proto_method *m;
	const char *param = NULL;
	enum proto_param_error why;
	int mid;

	if (q->error) {
		protocol_error(c, b, q->id, q->id_len, &(struct rpc_error){
			.code = q->error, .reason = q->reason });
		q->id = NULL;
		return;
	}
	/* The call owns the id from here on. */
	call.id = q->id;
	call.id_len = q->id_len;
	call.silent = (q->id == NULL);
	q->id = NULL;
	c->d->counters.requests++;

	mid = proto_method_lookup(q->method);
	if (mid < 0) {
		rpc_reply_error(&call, &(struct rpc_error){
			.code = PROTO_E_NO_METHOD, .method = q->method });
		goto out;
	}
	call.method = mid;
	m = &proto_methods[mid];
	memset(&args, 0, sizeof(args));
	if (proto_params_parse(m->params, q->params, &args, &param, &why) < 0) {
		/* socket comes first in every table: named when it was read. */
		rpc_reply_error(&call, &(struct rpc_error){
			.code = PROTO_E_INVALID_PARAMS, .param = param,
			.reason = proto_param_error_text(why),
			.socket = m->flags & PROTO_M_SOCKET ? args.socket : 0 });
		goto out;
	}
	dispatch_args(c, &call, m, &args);
	if (mid == PROTO_M_TCP_LISTEN)
		rpc_tls_wipe_request(c, q->params);
	return;
out:
	if (mid == PROTO_M_TCP_LISTEN)
		rpc_tls_wipe_request(c, q->params);
	rpc_call_free(&call);
}

/*
 * The tcp.write fast path (proto-fastwrite.h): a line of the usual shape
 * builds no tree and copies no payload; its data is decoded straight from
 * the line, before the generic checks as the general path checks base64
 * among the params, and the call carries the bytes to the handler.
 * Returns false for a line that is not the fast path's.
 */
static bool
dispatch_fast(struct ctl *c, const char *line, size_t len)
{
	struct rpc_call call = { .ctl = c, .method = PROTO_M_TCP_WRITE };
	struct proto_fastwrite fw;
	union proto_args args;
	ssize_t n;
	char *buf;

	if (!proto_fastwrite_parse(line, len, &fw))
		return false;
	buf = malloc(proto_fastwrite_decoded_max(&fw) + 1);
	if (!buf)
		return false;
	n = proto_fastwrite_decode(&fw, buf);
	if (n < 0) {
		free(buf);
		return false;	/* the general path says what is wrong with the data */
	}
	if (fw.id) {
		call.id = strndup(fw.id, fw.id_len);
		if (!call.id) {
			free(buf);
			return false;
		}
		call.id_len = fw.id_len;
	} else {
		call.silent = true;	/* a notification: the write, with no answer */
	}
	call.op.u.write.data = buf;
	call.op.u.write.len = (size_t)n;
	c->d->counters.requests++;
	memset(&args, 0, sizeof(args));
	args.write.socket = fw.socket;
	args.write.data = (struct proto_str){ .s = fw.data, .len = fw.data_len };
	dispatch_args(c, &call, &proto_methods[PROTO_M_TCP_WRITE], &args);
	return true;
}

/*
 * True when the answers c holds (queued output and open batches) are over
 * its budget: a batch's next request with an id would add to them.
 */
static bool
answers_over_budget(const struct ctl *c)
{
	return proto_buf_used(&c->out) + c->batch_bytes > c->d->conf.client_budget;
}

/*
 * A request of batch b that is not run: the answers held for c are over
 * client-budget-bytes, and the batch cannot go out (and make room) before
 * its last request is answered.  It is answered -32005 clientBudgetBytes,
 * a small answer, so that a batch of requests with big answers (such as
 * rpc.discover) costs at most the budget and one answer more.
 */
static void
batch_refuse(struct ctl *c, struct rpc_batch *b, struct proto_request *q)
{
	struct rpc_call call = { .ctl = c, .batch = b, .method = -1, .id = q->id,
				 .id_len = q->id_len };

	q->id = NULL;	/* the call owns it */
	c->d->counters.requests++;
	if (proto_method_lookup(q->method) == PROTO_M_TCP_LISTEN)
		rpc_tls_wipe_request(c, q->params);
	rpc_reply_error(&call, &(struct rpc_error){
		.code = PROTO_E_LIMIT, .message = "client budget reached: batch request not run",
		.limit = quota_limit_name(QL_CLIENT_BUDGET_BYTES),
		.limit_value = (int64_t)c->d->conf.client_budget });
	rpc_call_free(&call);
}

/*
 * The general path: parses one line into its requests (proto-jsonrpc) and
 * dispatches each.  rpc_dispatch_line() sends here every line the fast
 * path does not take; the differential fuzz target calls it alone.
 */
void
rpc_dispatch_general(struct ctl *c, const char *line, size_t len)
{
	struct proto_msg msg;
	struct rpc_batch *b;
	int r;

	r = proto_msg_parse(line, len, &msg);
	if (r == -EBADMSG) {
		protocol_error(c, NULL, NULL, 0, &(struct rpc_error){
			.code = PROTO_E_PARSE, .reason = msg.reason });
		return;
	}
	if (r < 0) {
		protocol_error(c, NULL, NULL, 0, &(struct rpc_error){
			.code = PROTO_E_INTERNAL, .message = "out of memory" });
		return;
	}
	if (!msg.batch) {
		dispatch_request(c, NULL, &msg.reqs[0]);
		proto_msg_free(&msg);
		return;
	}
	if (msg.count == 0) {
		protocol_error(c, NULL, NULL, 0, &(struct rpc_error){
			.code = PROTO_E_INVALID_REQUEST, .reason = "empty-batch" });
		proto_msg_free(&msg);
		return;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		protocol_error(c, NULL, NULL, 0, &(struct rpc_error){
			.code = PROTO_E_INTERNAL, .message = "out of memory" });
		proto_msg_free(&msg);
		return;
	}
	b->ctl = c;
	b->outstanding = msg.count + 1;	/* +1 until every request has started */
	TAILQ_INSERT_TAIL(&c->batches, b, link);
	for (size_t i = 0; i < msg.count && !(c->flags & CTL_DEAD); i++) {
		struct proto_request *q = &msg.reqs[i];

		/*
		 * A notification adds no answer and rpc.cancel a small one, as
		 * any refusal would: they run even over the budget.
		 */
		if (b->ctl && q->id && !q->error && answers_over_budget(c) &&
		    proto_method_lookup(q->method) != PROTO_M_RPC_CANCEL)
			batch_refuse(c, b, q);
		else
			dispatch_request(c, b->ctl ? b : NULL, q);
	}
	proto_msg_free(&msg);
	rpc_batch_answered(b);
}

/* Parses one line and dispatches every request in it. */
void
rpc_dispatch_line(struct ctl *c, const char *line, size_t len)
{
	if (!dispatch_fast(c, line, len))
		rpc_dispatch_general(c, line, len);
}

/*
 * Some of c's batches hold more answers than its budget: the reads they
 * still wait for are taken off their sockets (nothing is read for them,
 * the kernel keeps the bytes) and answered -32005 clientBudgetBytes, so
 * the batch goes out.  Batch answers do not count as output that stops
 * sockets from reading (they cannot be written before the batch is
 * complete): this is what bounds them.
 */
void
rpc_batches_over_budget(struct ctl *c)
{
	struct rpc_call *call, *next;
	uint64_t written;

	c->flags &= ~CTL_BATCH_OVER;
	for (call = TAILQ_FIRST(&c->calls); call; call = next) {
		next = TAILQ_NEXT(call, ctl_link);
		if (!call->batch || !call->batch->over || call->method != PROTO_M_TCP_READ ||
		    !tcp_op_cancel(&call->op, &written))
			continue;
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_LIMIT, .socket = (int64_t)call->tcp->id,
			.message = "client budget reached: batch read not run",
			.limit = quota_limit_name(QL_CLIENT_BUDGET_BYTES),
			.limit_value = (int64_t)c->d->conf.client_budget });
		rpc_call_free(call);
	}
}

/* Bytes held in c's open batches. */
size_t
rpc_batch_bytes(const struct ctl *c)
{
	return c->batch_bytes;
}

const rpc_handler rpc_handlers[_PROTO_M_MAX] = {
	[PROTO_M_TCP_CREATE] = rpc_tcp_create,
	[PROTO_M_TCP_CONNECT] = rpc_tcp_connect,
	[PROTO_M_TCP_LISTEN] = rpc_tcp_listen,
	[PROTO_M_TCP_ACCEPT] = rpc_tcp_accept,
	[PROTO_M_TCP_READ] = rpc_tcp_read,
	[PROTO_M_TCP_WRITE] = rpc_tcp_write,
	[PROTO_M_TCP_PUMP] = rpc_tcp_pump,
	[PROTO_M_TCP_SHUTDOWN] = rpc_tcp_shutdown,
	[PROTO_M_TCP_CLOSE] = rpc_tcp_close,
	[PROTO_M_TCP_SET_OPTIONS] = rpc_tcp_set_options,
	[PROTO_M_TCP_INFO] = rpc_tcp_info,
	[PROTO_M_TCP_LIST] = rpc_tcp_list,
	[PROTO_M_TCP_CHANNEL] = rpc_tcp_channel,
	[PROTO_M_DAEMON_INFO] = rpc_daemon_info,
	[PROTO_M_DAEMON_MONITOR] = rpc_daemon_monitor,
	[PROTO_M_DAEMON_METRICS] = rpc_daemon_metrics,
	[PROTO_M_DAEMON_UPGRADE] = rpc_daemon_upgrade,
	[PROTO_M_RPC_DISCOVER] = rpc_rpc_discover,
	[PROTO_M_RPC_CANCEL] = rpc_rpc_cancel,
	[PROTO_M_TCP_START_TLS] = rpc_tcp_start_tls,
};
