/*
 * client-call: requests and their answers.
 *
 * A request's params come from the method table (proto_params_write);
 * each call is kept by id in an id map, so an answer finds its call in
 * O(1).  An asynchronous call's answer goes through the inbox to its
 * done() from dispatch; a blocking call waits on the daemon connection
 * for its own answer, at most the client's timeout, and gives up
 * (-ETIMEDOUT) by abandoning the call: its answer is dropped when it
 * comes.  While a blocking call waits with the inbox full, it pauses
 * the client's pumps, so that what the daemon pushes stays bounded by
 * the daemon's flow control and never piles up here.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "lib-public.h"
#include "proto-client.h"
#include "proto-errors.h"
#include "proto-idmap.h"
#include "proto-jw.h"
#include "tcp.h"

/* Writes the members of a parsed params object verbatim. */
static void
raw_params(struct proto_jw *w, const cJSON *params)
{
	const cJSON *member;

	cJSON_ArrayForEach(member, params) {
		char *v = cJSON_PrintUnformatted(member);

		proto_jw_key(w, member->string);
		if (v)
			proto_jw_raw(w, v, strlen(v));
		else
			proto_jw_null(w);
		free(v);
	}
}

/*
 * Queues one request line: method with params from its table row and
 * args, then the members of raw verbatim (either may be NULL).  Returns
 * its id, or -ENOMEM.
 */
static int64_t
queue_request(tisock_client *c, const char *method, const struct proto_field *fields,
	      const void *args, const cJSON *raw)
{
	size_t mark = c->out.len;
	struct proto_jw w;
	int64_t id = c->next_id++;

	proto_jw_init(&w, &c->out);
	proto_jw_obj_begin(&w);
	proto_jw_kstr(&w, "jsonrpc", "2.0");
	proto_jw_kint(&w, "id", id);
	proto_jw_kstr(&w, "method", method);
	proto_jw_key(&w, "params");
	proto_jw_obj_begin(&w);
	if (args)
		(void) proto_params_write(fields, args, &w);
	if (raw)
		raw_params(&w, raw);
	proto_jw_obj_end(&w);
	proto_jw_obj_end(&w);
	if (proto_jw_error(&w) < 0 || proto_buf_putc(&c->out, '\n') < 0) {
		c->out.len = mark;
		return -ENOMEM;
	}
	return id;
}

/* A new call for a request just queued, kept by id.  NULL on OOM. */
static struct lib_call *
call_new(tisock_client *c, enum proto_method_id m, int64_t id)
{
	struct lib_call *call = calloc(1, sizeof(*call));

	if (!call || proto_idmap_put(c->call_ids, (uint64_t)id, call) < 0) {
		free(call);
		return NULL;
	}
	call->id = id;
	call->method = m;
	call->fd = -1;
	TAILQ_INSERT_TAIL(&c->calls, call, link);
	return call;
}

/* Keeps the deadlines list in order; the client's timeout is usually constant. */
static void
deadline_insert(tisock_client *c, struct lib_call *call)
{
	struct lib_call *at = TAILQ_LAST(&c->deadlines, lib_call_list);

	while (at && at->deadline > call->deadline)
		at = TAILQ_PREV(at, lib_call_list, timed);
	if (at)
		TAILQ_INSERT_AFTER(&c->deadlines, at, call, timed);
	else
		TAILQ_INSERT_HEAD(&c->deadlines, call, timed);
}

/* call no longer concerns its socket, nor has a deadline, nor a callback due. */
static void
call_detach(tisock_client *c, struct lib_call *call)
{
	if (call->tcp) {
		TAILQ_REMOVE(&call->tcp->calls, call, tcp_link);
		call->tcp = NULL;
	}
	if (call->deadline) {
		TAILQ_REMOVE(&c->deadlines, call, timed);
		call->deadline = 0;
	}
	if (call->counted) {
		c->nasync--;
		call->counted = false;
	}
}

/*
 * Queues rpc.cancel for the request id; its answer is dropped (the
 * cancelled request's own answer says what became of it).
 */
static int
cancel_quietly(tisock_client *c, int64_t id)
{
	cJSON *want = cJSON_CreateNumber((double)id);
	struct proto_cancel_args a = { .id = want };
	int r;

	if (!want)
		return -ENOMEM;
	r = lib_call_start(c, PROTO_M_RPC_CANCEL, &a, lib_done_ignore, NULL, 0, NULL);
	cJSON_Delete(want);
	return r;
}

/*
 * Sends a request whose answer done() will get from dispatch (done
 * must not be NULL; lib_done_ignore drops it).  With LIB_CALL_DEADLINE
 * and a client timeout, done() gets no answer (-ETIMEDOUT) once the
 * timeout has passed.  Returns 0 with *ret (may be NULL) the call, owned
 * by c; -ENOTCONN on a local client, or -ENOMEM.
 */
int
lib_call_start(tisock_client *c, enum proto_method_id m, const void *args, lib_done_fn done,
	       tisock_tcp *tcp, unsigned flags, struct lib_call **ret)
{
	return lib_call_start_raw(c, m, NULL, args, NULL, done, tcp, flags, ret);
}

/*
 * The same with the members of extra (may be NULL) added to the params,
 * and name for a method the table lacks (m _PROTO_M_MAX; NULL: m's own).
 */
int
lib_call_start_raw(tisock_client *c, enum proto_method_id m, const char *name, const void *args,
		   const cJSON *extra, lib_done_fn done, tisock_tcp *tcp, unsigned flags,
		   struct lib_call **ret)
{
	struct lib_call *call;
	int64_t id;

	if (c->fd < 0)
		return -ENOTCONN;
	id = queue_request(c, name ? name : proto_methods[m].name,
			   m < _PROTO_M_MAX ? proto_methods[m].params : NULL, args, extra);
	if (id < 0)
		return (int)id;
	call = call_new(c, m, id);
	if (!call)
		return -ENOMEM;
	call->done = done;
	call->counted = true;
	c->nasync++;
	if (tcp) {
		call->tcp = tcp;
		TAILQ_INSERT_TAIL(&tcp->calls, call, tcp_link);
	}
	if ((flags & LIB_CALL_DEADLINE) && c->timeout_ms > 0) {
		call->deadline = lib_now_ms() + c->timeout_ms;
		deadline_insert(c, call);
	}
	(void) lib_flush(c);
	lib_update(c);
	if (ret)
		*ret = call;
	return 0;
}

struct lib_call *
lib_call_find(tisock_client *c, int64_t id)
{
	return id > 0 ? proto_idmap_get(c->call_ids, (uint64_t)id) : NULL;
}

/* A blocking call's answer has been read. */
void
lib_call_arrived(tisock_client *c, struct lib_call *call, cJSON *answer)
{
	(void)c;
	cJSON_Delete(call->answer);
	call->answer = answer;
}

/* Forgets call: out of the id map and every list, then freed with its state. */
void
lib_call_finish(tisock_client *c, struct lib_call *call)
{
	call_detach(c, call);
	proto_idmap_remove(c->call_ids, (uint64_t)call->id);
	TAILQ_REMOVE(&c->calls, call, link);
	if (call->ctx_free)
		call->ctx_free(call->ctx);
	if (call->fd >= 0)
		close(call->fd);
	cJSON_Delete(call->answer);
	free(call);
}

/* Gives up on call: its answer, when it comes, is dropped. */
static void
call_abandon(tisock_client *c, struct lib_call *call)
{
	call_detach(c, call);
	call->abandoned = true;
	if (call->ctx_free)
		call->ctx_free(call->ctx);
	call->ctx = NULL;
	call->ctx_free = NULL;
}

/* A blocking call's answer is the caller's, with the fd that came with it (lib_take_fd). */
static void
call_answered(tisock_client *c, struct lib_call *call, cJSON **ret_answer)
{
	*ret_answer = call->answer;
	call->answer = NULL;
	c->answer_fd = call->fd;
	call->fd = -1;
	lib_call_finish(c, call);
}

/* Empties c's interrupt eventfd (what it says is in c->interrupted). */
static void
intr_drain(tisock_client *c)
{
	uint64_t v;

	if (c->intrfd >= 0)
		(void) !read(c->intrfd, &v, sizeof(v));
}

/*
 * Sends a request and waits for its answer, leaving every other message
 * for dispatch.  Returns 0 with *ret_answer (cJSON_Delete it; it may be
 * an error answer), or -ENOTCONN (local client), -EPIPE (the daemon went
 * away), -ETIMEDOUT (wait_ms passed; 0 waits without limit) or -ENOMEM,
 * with c's error saying so.  An fd unclaimed from the call before is
 * closed.
 */
static int
call_wait(tisock_client *c, enum proto_method_id m, const char *name,
	  const struct proto_field *fields, const void *args, const cJSON *raw, int wait_ms,
	  cJSON **ret_answer)
{
	long long deadline = wait_ms > 0 ? lib_now_ms() + wait_ms : 0;
	struct lib_call *call;
	bool cancelled = false;
	int64_t id;

	if (c->fd < 0) {
		lib_set_error(c, 0, "a local client has no daemon connection");
		return -ENOTCONN;
	}
	if (m != PROTO_M_RPC_CANCEL) {
		c->interrupted = 0;	/* an interrupt with no call waiting is forgotten */
		intr_drain(c);
	}
	if (c->answer_fd >= 0) {
		close(c->answer_fd);	/* its caller did not want it */
		c->answer_fd = -1;
	}
	id = queue_request(c, name, fields, args, raw);
	call = id < 0 ? NULL : call_new(c, m, id);
	if (!call) {
		lib_set_error(c, 0, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = c->fd, .events = POLLIN },
				       { .fd = c->intrfd, .events = POLLIN } };
		long long wait = -1;

		if (call->answer) {
			call_answered(c, call, ret_answer);
			lib_update(c);	/* what was read ahead is due */
			return 0;
		}
		if (c->interrupted && !cancelled && m != PROTO_M_RPC_CANCEL) {
			/* tisock_client_interrupt(): the answer will say -32800, or came first. */
			c->interrupted = 0;
			cancelled = cancel_quietly(c, id) == 0;
		}
		if (c->broken || lib_flush(c) < 0)
			break;
		if (c->inbox_bytes >= c->inbox_max && !c->pumps_paused && c->npumping > 0)
			lib_tcp_pause_pumps(c);
		if (deadline && (wait = deadline - lib_now_ms()) <= 0) {
			call_abandon(c, call);
			lib_update(c);
			lib_set_error(c, PROTO_E_TIMEOUT, "timed out waiting for the daemon");
			return -ETIMEDOUT;
		}
		if (proto_buf_used(&c->out))
			p[0].events |= POLLOUT;
		if (poll(p, 2, (int)wait) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN)
			intr_drain(c);	/* c->interrupted says the rest, at the top */
		if (p[0].revents & POLLOUT)
			(void) lib_flush(c);
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR) && lib_read_in(c, true) == -ENOMEM) {
			lib_set_error(c, 0, "out of memory");
			lib_call_finish(c, call);
			return -ENOMEM;
		}
	}
	if (call->answer) {
		/* It came with the daemon's last words. */
		call_answered(c, call, ret_answer);
		return 0;
	}
	lib_call_finish(c, call);
	lib_update(c);
	lib_set_error(c, 0, "the daemon went away");
	return -EPIPE;
}

int
lib_call_wait(tisock_client *c, enum proto_method_id m, const void *args, cJSON **ret_answer)
{
	return call_wait(c, m, proto_methods[m].name, proto_methods[m].params, args, NULL,
			 c->timeout_ms, ret_answer);
}

/* The same with extra members and a name, as lib_call_start_raw; waits at most wait_ms. */
int
lib_call_wait_raw(tisock_client *c, enum proto_method_id m, const char *name, const void *args,
		  const cJSON *extra, int wait_ms, cJSON **ret_answer)
{
	return call_wait(c, m, name ? name : proto_methods[m].name,
			 m < _PROTO_M_MAX ? proto_methods[m].params : NULL, args, extra, wait_ms,
			 ret_answer);
}

/* The same, waiting at most wait_ms (0: without limit) instead of the client's timeout. */
int
lib_call_wait_ms(tisock_client *c, enum proto_method_id m, const void *args, int wait_ms,
		 cJSON **ret_answer)
{
	return call_wait(c, m, proto_methods[m].name, proto_methods[m].params, args, NULL,
			 wait_ms, ret_answer);
}

/*
 * Records the error of an answer, if it is one.  Returns 0 for a result,
 * else the errno the error stands for.
 */
int
lib_answer_error(tisock_client *c, const cJSON *answer)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(answer, "error"), *v, *data;

	if (!answer) {
		lib_set_error(c, 0, "no answer: the daemon went away");
		return -EPIPE;
	}
	if (!e)
		return 0;
	v = cJSON_GetObjectItemCaseSensitive(e, "message");
	lib_set_error(c, 0, cJSON_IsString(v) ? v->valuestring : "error");
	v = cJSON_GetObjectItemCaseSensitive(e, "code");
	c->err.code = cJSON_IsNumber(v) ? v->valueint : PROTO_E_INTERNAL;
	data = cJSON_GetObjectItemCaseSensitive(e, "data");
	if (data) {
		c->err_data = cJSON_PrintUnformatted(data);
		c->err.data_json = c->err_data;
		v = cJSON_GetObjectItemCaseSensitive(data, "errno");
		c->err.sys_errno = cJSON_IsNumber(v) ? v->valueint : 0;
		v = cJSON_GetObjectItemCaseSensitive(data, "message");
		if (cJSON_IsString(v) && c->err.sys_errno) {
			char *msg;

			if (asprintf(&msg, "%s: %s", c->err_message, v->valuestring) >= 0) {
				free(c->err_message);
				c->err_message = msg;
				c->err.message = msg;
			}
		}
	}
	return lib_errno_from_code(c->err.code, c->err.sys_errno);
}

/* The errno of an async call's outcome: its answer's, or why it has none. */
int
lib_call_error(tisock_client *c, const struct lib_call *call, const cJSON *answer)
{
	if (answer)
		return lib_answer_error(c, answer);
	if (call->err == -ETIMEDOUT) {
		lib_set_error(c, PROTO_E_TIMEOUT, "timed out waiting for the daemon");
		return -ETIMEDOUT;
	}
	return lib_answer_error(c, NULL);
}

/*
 * The outcome of call (NULL for a blocking call) as method m's result
 * struct: 0 with *res filled, the answer's errno, or -EPROTO for a
 * result that does not parse.
 */
int
lib_answer_result(tisock_client *c, const struct lib_call *call, const cJSON *answer,
		  enum proto_method_id m, void *res)
{
	int r = call ? lib_call_error(c, call, answer) : lib_answer_error(c, answer);

	if (r < 0)
		return r;
	if (proto_result_parse(m, cJSON_GetObjectItemCaseSensitive(answer, "result"), res) < 0) {
		lib_set_error(c, 0, "malformed answer from the daemon");
		return -EPROTO;
	}
	return 0;
}

/*
 * Async calls past their deadline get their done() with -ETIMEDOUT and
 * are abandoned.  Called from dispatch.  Returns the callbacks run.
 */
int
lib_calls_expire(tisock_client *c)
{
	long long now = lib_now_ms();
	struct lib_call *call;
	int ran = 0;

	while (!c->closing && (call = TAILQ_FIRST(&c->deadlines)) && call->deadline <= now) {
		TAILQ_REMOVE(&c->deadlines, call, timed);
		call->deadline = 0;
		call->err = -ETIMEDOUT;
		call->done(c, call, NULL);	/* a freed socket's ends silently */
		ran++;
		call_abandon(c, call);
		lib_tcp_reap(c);
	}
	return ran;
}

/* Frees every call (the client is closing): no callbacks. */
void
lib_calls_free(tisock_client *c)
{
	struct lib_call *call;

	while ((call = TAILQ_FIRST(&c->calls)))
		lib_call_finish(c, call);
}

/*
 * rpc.cancel of request_id, waiting for its answer: 1 when the request
 * was pending (its answer is -32800, given to its callback or waiter),
 * 0 when no pending request had that id, or a negative errno.
 */
TISOCK_PUBLIC int
tisock_client_cancel(tisock_client *c, int64_t request_id)
{
	cJSON *want, *answer = NULL;
	struct proto_cancel_args a = { 0 };
	int r;

	if (!c || request_id <= 0)
		return -EINVAL;
	want = cJSON_CreateNumber((double)request_id);
	if (!want)
		return -ENOMEM;
	a.id = want;
	r = lib_call_wait(c, PROTO_M_RPC_CANCEL, &a, &answer);
	cJSON_Delete(want);
	if (r == 0)
		r = lib_answer_error(c, answer);
	if (r == 0)
		r = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(answer, "result"), "cancelled"));
	cJSON_Delete(answer);
	return r;
}

/* The id of the last request c sent (0: none yet). */
TISOCK_PUBLIC int64_t
tisock_client_last_request_id(const tisock_client *c)
{
	return c && c->next_id > 1 ? c->next_id - 1 : 0;
}

/*
 * Async-signal-safe: the blocking call waiting on c sends rpc.cancel for
 * its request and returns its answer (-ECANCELED with code -32800 when
 * the cancel won).  With no call waiting, it is forgotten when the next
 * blocking call starts.
 */
TISOCK_PUBLIC void
tisock_client_interrupt(tisock_client *c)
{
	static const uint64_t one = 1;
	int e = errno;

	if (!c)
		return;
	c->interrupted = 1;
	/*
	 * Wakes the blocking call's poll(): a signal handled just before it
	 * entered poll(), or an interrupt from another thread, would
	 * otherwise wait for the daemon's next byte.  write(2) is
	 * async-signal-safe; errno is the interrupted code's.
	 */
	if (c->intrfd >= 0)
		(void) !write(c->intrfd, &one, sizeof(one));
	errno = e;
}

TISOCK_PUBLIC int
tisock_client_call(tisock_client *c, const char *method, const char *params_json,
		   char **ret_result_json)
{
	cJSON *params = NULL, *answer = NULL;
	int r, fd;

	if (!c || !method)
		return -EINVAL;
	if (params_json) {
		params = cJSON_Parse(params_json);
		if (!cJSON_IsObject(params)) {
			cJSON_Delete(params);
			lib_set_error(c, PROTO_E_INVALID_PARAMS, "params must be a JSON object");
			return -EINVAL;
		}
	}
	/* Any method, params verbatim: no row of the table (_PROTO_M_MAX). */
	r = call_wait(c, _PROTO_M_MAX, method, NULL, NULL, params, c->timeout_ms, &answer);
	cJSON_Delete(params);
	if ((fd = lib_take_fd(c)) >= 0)
		close(fd);	/* a tcp.channel's: the raw caller gets no fd */
	if (r == 0)
		r = lib_answer_error(c, answer);
	if (r == 0 && ret_result_json) {
		*ret_result_json = cJSON_PrintUnformatted(
			cJSON_GetObjectItemCaseSensitive(answer, "result"));
		if (!*ret_result_json)
			r = -ENOMEM;
	}
	cJSON_Delete(answer);
	return r;
}
