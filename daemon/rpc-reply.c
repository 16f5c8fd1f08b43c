/*
 * rpc-reply: call lifetime and every way of answering one.
 *
 * Answers go to the client's output queue, or into the batch buffer when
 * the request came in a batch.  Errors are built in one place from a
 * struct rpc_error, and -errno values are mapped to protocol errors by
 * rpc_reply_errno() alone.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "daemon.h"
#include "fdstore.h"
#include "metrics.h"
#include "proto-errors.h"
#include "proto-jsonrpc.h"
#include "quota.h"
#include "rpc.h"
#include "tcp-tls.h"
#include "tcp.h"

/*
 * Moves a dispatcher's stack call to the heap so that it can wait on t.
 * The new call owns the id; it is counted against the client's requests.
 * Returns it, or NULL on OOM (the stack call is unchanged then).
 */
struct rpc_call *
rpc_call_defer(struct rpc_call *stack_call, struct tcp *t)
{
	struct rpc_call *call = malloc(sizeof(*call));

	if (!call)
		return NULL;
	*call = *stack_call;
	stack_call->id = NULL;
	if (call->method == PROTO_M_TCP_WRITE)
		stack_call->op.u.write.data = NULL;	/* the heap call has the payload */
	call->deferred = true;
	call->tcp = t;
	call->op.tcp = t;
	call->op.timer_on = false;
	if (call->ctl) {
		TAILQ_INSERT_TAIL(&call->ctl->calls, call, ctl_link);
		call->ctl->ncalls++;
		ctl_budget_changed(call->ctl);
	}
	fdstore_call_defer(call);
	return call;
}

/*
 * Releases an answered call: a deferred one leaves its client's list and
 * is freed (the caller has already taken it off its FIFO); a stack call
 * only loses its id and a write's payload.
 */
void
rpc_call_free(struct rpc_call *call)
{
	assert(call->answered);
	free(call->id);
	call->id = NULL;
	if (call->method == PROTO_M_TCP_WRITE) {
		free(call->op.u.write.data);
		call->op.u.write.data = NULL;
	}
	if (!call->deferred)
		return;
	fdstore_call_free(call);
	tcp_op_done(&call->op);
	if (call->ctl) {
		struct ctl *c = call->ctl;

		TAILQ_REMOVE(&c->calls, call, ctl_link);
		c->ncalls--;
		ctl_budget_changed(c);
	}
	free(call);
}

static struct proto_buf *
answer_target(struct rpc_call *call)
{
	if (call->silent || !call->ctl)
		return NULL;
	if (call->batch)
		return &call->batch->buf;
	return &call->ctl->out;
}

static bool
answer_begin(struct rpc_call *call, struct proto_jw *w)
{
	struct proto_buf *b;

	assert(!call->answered);
	b = answer_target(call);
	if (!b)
		return false;
	call->mark = b->len - b->off;
	if (call->batch && call->batch->any)
		(void) proto_buf_putc(b, ',');
	proto_jw_init(w, b);
	return true;
}

static void
answer_end(struct rpc_call *call, struct proto_jw *w)
{
	struct proto_buf *b = answer_target(call);

	call->answered = true;
	if (b) {
		if (proto_jw_error(w) < 0) {
			/* Out of memory half way: drop the partial answer. */
			b->len = b->off + call->mark;
		} else if (call->batch) {
			struct ctl *c = call->ctl;

			call->batch->any = true;
			c->batch_bytes += b->len - b->off - call->mark;
			if (!call->batch->over && c->batch_bytes + proto_buf_used(&c->out) >
			    c->d->conf.client_budget) {
				/* Its waiting reads end at the next sweep (not inside an engine event). */
				call->batch->over = true;
				c->flags |= CTL_BATCH_OVER;
				ctl_schedule(c);
			}
		} else {
			(void) proto_buf_putc(b, '\n');
			ctl_output_added(call->ctl);
		}
	}
	if (call->batch) {
		struct rpc_batch *batch = call->batch;

		call->batch = NULL;
		rpc_batch_answered(batch);
	}
}

/*
 * Starts a result: returns true with *w positioned where the result value
 * goes, or false when nobody will read the answer (a notification, or a
 * client that is gone).  rpc_result_end() must follow either way.
 */
bool
rpc_result_begin(struct rpc_call *call, struct proto_jw *w)
{
	if (!answer_begin(call, w))
		return false;
	proto_rpc_begin_result(w, call->id, call->id_len);
	return true;
}

void
rpc_result_end(struct rpc_call *call, struct proto_jw *w)
{
	if (answer_target(call))
		proto_rpc_end(w);
	answer_end(call, w);
}

/* Answers call with the error e. */
void
rpc_reply_error(struct rpc_call *call, const struct rpc_error *e)
{
	struct proto_jw w;

	if (call->ctl)
		metrics_count_error(call->ctl->d, e->code);
	if (call->ctl && e->code == PROTO_E_LIMIT) {
		struct ctl *c = call->ctl;

		quota_count(c->d, e->limit);
		if (log_ratelimit_ok(&c->d->rl_limit, ev_now(c->d->loop), 10.))
			log_event(LOG_WARNING, &(struct log_fields){ .message_id = LOG_MID_LIMIT_HIT,
				  .limit = e->limit, .socket = e->socket > 0 ? (uint64_t)e->socket : 0,
				  .client = true, .client_uid = c->cred.uid, .client_pid = c->cred.pid },
				  "%s: limit %s reached (%lld)", c->desc, e->limit ? e->limit : "?",
				  (long long)e->limit_value);
	}
	if (!answer_begin(call, &w)) {
		answer_end(call, &w);
		return;
	}
	proto_rpc_begin_error(&w, call->id, call->id_len, e->code, e->message);
	if (e->socket || e->state || e->param || e->reason || e->limit || e->method ||
	    e->resolver || e->sys_errno || e->rule || e->cut || e->attempts || e->tls) {
		proto_jw_key(&w, "data");
		proto_jw_obj_begin(&w);
		if (e->socket)
			proto_jw_kint(&w, "socket", e->socket);
		if (e->state)
			proto_jw_kstr(&w, "state", e->state);
		if (e->param)
			proto_jw_kstr(&w, "param", e->param);
		if (e->reason)
			proto_jw_kstr(&w, "reason", e->reason);
		if (e->limit)
			proto_jw_kstr(&w, "limit", e->limit);
		if (e->limit_value)
			proto_jw_kint(&w, "value", e->limit_value);
		if (e->method)
			proto_jw_kstr(&w, "method", e->method);
		if (e->resolver)
			proto_jw_kstr(&w, "resolver", e->resolver);
		if (e->rule) {
			proto_jw_kstr(&w, "rule", e->rule);
			proto_jw_kint(&w, "ruleIndex", e->rule_index);
		}
		if (e->action)
			proto_jw_kstr(&w, "action", e->action);
		if (e->address)
			rpc_write_endpoint(&w, "address", e->address);
		if (e->sys_errno) {
			const char *name = proto_errno_name(e->sys_errno);

			proto_jw_kint(&w, "errno", e->sys_errno);
			proto_jw_kstr(&w, "errname", name ? name : "EUNKNOWN");
			proto_jw_kstr(&w, "message", strerror(e->sys_errno));
		}
		if (e->cut) {
			proto_jw_kuint(&w, "written", e->written);
			proto_jw_kuint(&w, "undeliveredBytes", e->undelivered);
		}
		if (e->attempts)
			rpc_write_attempts(&w, e->attempts);
		if (e->tls)
			rpc_write_tls_failure(&w, e->tls);
		proto_jw_obj_end(&w);
	}
	proto_rpc_end_error(&w);
	answer_end(call, &w);
}

/*
 * Answers call with the protocol error for the -errno r: -ETIMEDOUT is
 * -32006, fd exhaustion -32005 "fds", -ECANCELED -32004, -ENOMEM -32603,
 * and anything else the kernel said -32011 with errno fields.
 */
void
rpc_reply_errno(struct rpc_call *call, int r, int64_t socket)
{
	struct rpc_error e = { .socket = socket };

	rpc_errno_error(&e, r);
	rpc_reply_error(call, &e);
}

/* Fills in e the code, message and fields rpc_reply_errno answers -errno r with. */
void
rpc_errno_error(struct rpc_error *e, int r)
{
	switch (r) {
	case -ETIMEDOUT:
		e->code = PROTO_E_TIMEOUT;
		e->message = "timed out";
		break;
	case -EMFILE:
	case -ENFILE:
		e->code = PROTO_E_LIMIT;
		e->message = "out of file descriptors";
		e->limit = "fds";
		e->sys_errno = -r;
		break;
	case -ECANCELED:
		e->code = PROTO_E_CLOSED;
		break;
	case -ENOMEM:
		e->code = PROTO_E_INTERNAL;
		e->message = "out of memory";
		break;
	default:
		e->code = PROTO_E_NETWORK;
		e->message = "network error";
		e->sys_errno = r < 0 ? -r : EIO;
		break;
	}
}

/* Answers {socket}. */
void
rpc_reply_socket(struct rpc_call *call, int64_t socket)
{
	struct proto_jw w;

	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", socket);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
}

/* Answers {socket, state}. */
void
rpc_reply_state(struct rpc_call *call, struct tcp *t)
{
	struct proto_jw w;

	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kstr(&w, "state", proto_state_name(tcp_proto_state(t)));
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
}

/* Answers a read at the end of stream: {socket, bytes: -1}. */
void
rpc_reply_eof(struct rpc_call *call, const struct tcp *t)
{
	struct proto_jw w;

	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kint(&w, "bytes", -1);
		if (tcp_tls_truncated(t))
			proto_jw_kbool(&w, "truncated", true);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
}

/*
 * Answers a close: {socket, state, undeliveredBytes, unacknowledgedBytes},
 * the figures of how t's connection ended (0 and 0 for a socket that had
 * none, or whose every byte the peer acknowledged).
 */
void
rpc_reply_closed(struct rpc_call *call, struct tcp *t)
{
	struct proto_jw w;

	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kstr(&w, "state", proto_state_name(tcp_proto_state(t)));
		proto_jw_kuint(&w, "undeliveredBytes", t->loss.undelivered);
		proto_jw_kuint(&w, "unacknowledgedBytes", t->loss.unacked);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
}

/* Writes "key":{"address":..,"port":..,"family":..}. */
/* The address of ss as text into addr; returns the port. */
static int
endpoint_parts(const struct sockaddr_storage *ss, char *addr, size_t len)
{
	addr[0] = '\0';
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, addr, (socklen_t)len);
		return ntohs(sin->sin_port);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, (socklen_t)len);
		return ntohs(sin6->sin6_port);
	}
	return 0;
}

void
rpc_write_endpoint(struct proto_jw *w, const char *key, const struct sockaddr_storage *ss)
{
	char addr[INET6_ADDRSTRLEN];
	int port = endpoint_parts(ss, addr, sizeof(addr));

	proto_jw_key(w, key);
	proto_jw_obj_begin(w);
	proto_jw_kstr(w, "address", addr);
	proto_jw_kint(w, "port", port);
	proto_jw_kstr(w, "family", ss->ss_family == AF_INET6 ? "ipv6" : "ipv4");
	if (ss->ss_family == AF_INET6 && ((const struct sockaddr_in6 *)ss)->sin6_scope_id)
		proto_jw_kuint(w, "scopeId", ((const struct sockaddr_in6 *)ss)->sin6_scope_id);
	proto_jw_obj_end(w);
}

static const char *const outcome_names[] = {
	[TCP_OUTCOME_PENDING] = "pending",
	[TCP_OUTCOME_CONNECTED] = "connected",
	[TCP_OUTCOME_REFUSED] = "refused",
	[TCP_OUTCOME_TIMEOUT] = "timeout",
	[TCP_OUTCOME_DENIED] = "denied",
	[TCP_OUTCOME_CANCELLED] = "cancelled",
	[TCP_OUTCOME_ERROR] = "error",
};

/* "attempts": [{address, outcome[, errname], ms}, ...] of a connect. */
void
rpc_write_attempts(struct proto_jw *w, const struct tcp_attempts *a)
{
	proto_jw_key(w, "attempts");
	proto_jw_arr_begin(w);
	for (int i = 0; i < a->n; i++) {
		const struct tcp_attempt *at = &a->v[i];

		proto_jw_obj_begin(w);
		rpc_write_endpoint(w, "address", &at->address);
		proto_jw_kstr(w, "outcome", outcome_names[at->outcome]);
		if (at->outcome == TCP_OUTCOME_ERROR) {
			const char *name = proto_errno_name(at->err);

			proto_jw_kstr(w, "errname", name ? name : "EUNKNOWN");
		}
		proto_jw_kint(w, "ms", at->ms);
		proto_jw_obj_end(w);
	}
	proto_jw_arr_end(w);
}

/* "1.2.3.4:80" or "[::1]:80", for logs. */
void
rpc_format_endpoint(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	int port = endpoint_parts(ss, addr, sizeof(addr));

	snprintf(buf, len, ss->ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", addr, port);
}

/*
 * Starts a notification to c; returns false when c is gone.  The caller
 * writes the params value and calls rpc_notify_end().
 */
bool
rpc_notify_begin(struct ctl *c, struct proto_jw *w, int method)
{
	if (!c || (c->flags & CTL_DEAD))
		return false;
	proto_jw_init(w, &c->out);
	proto_rpc_begin_notification(w, proto_methods[method].name);
	return true;
}

void
rpc_notify_end(struct ctl *c, struct proto_jw *w)
{
	proto_rpc_end(w);
	(void) proto_buf_putc(&c->out, '\n');
	ctl_output_added(c);
}
