/*
 * tcp: a socket's life: create, connect (async or blocking), listen,
 * accept, its properties, and free.
 *
 * A tisock_tcp is local until it connects or listens: tcp.connect and
 * tcp.listen create the daemon's socket in the same round trip.  Async
 * operations are calls whose answers run the callbacks from
 * tisock_client_dispatch().  Freeing a socket detaches it at once (its
 * calls in flight end silently); its memory is released after the
 * callback running now, or, when it has a free callback, from the next
 * dispatch, which runs that callback last of all of its callbacks.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "lib-public.h"
#include "proto-client.h"
#include "proto-idmap.h"
#include "tcp.h"

/* A done() for calls whose answer nobody needs (a close from free). */
void
lib_done_ignore(tisock_client *c, struct lib_call *call, const cJSON *answer)
{
	(void)c;
	(void)call;
	(void)answer;
}

void
lib_tcp_fire(tisock_tcp_cb cb, tisock_tcp *s, tisock_tcp *inbound, int code, const char *error)
{
	struct tisock_tcp_event ev = {
		.socket = s, .inbound = inbound, .success = code == 0, .code = code,
		.error = error ? error : "", .userdata = s->userdata,
	};

	if (cb)
		cb(&ev);
}

/* s is the daemon's socket id: notifications find it.  0 or -ENOMEM. */
int
lib_tcp_set_id(tisock_tcp *s, int64_t id)
{
	if (id <= 0 || s->id == id)
		return 0;
	if (s->id)
		proto_idmap_remove(s->c->socket_ids, (uint64_t)s->id);
	s->id = id;
	return proto_idmap_put(s->c->socket_ids, (uint64_t)id, s) == -ENOMEM ? -ENOMEM : 0;
}

tisock_tcp *
lib_tcp_find(tisock_client *c, int64_t id)
{
	return id > 0 ? proto_idmap_get(c->socket_ids, (uint64_t)id) : NULL;
}

TISOCK_PUBLIC tisock_tcp *
tisock_tcp_create(tisock_client *c, const struct tisock_tcp_options *o)
{
	tisock_tcp *s;

	if (!c) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->c = c;
	s->state = TISOCK_INITIALIZED;
	s->no_delay = s->keep_alive = s->keep_alive_idle = s->linger = -1;
	s->send_buffer = s->receive_buffer = -1;
	TAILQ_INIT(&s->calls);
	if (o) {
		if (o->host && !(s->host = strdup(o->host))) {
			free(s);
			return NULL;
		}
		s->port = o->port;
		s->listen_queue_size = o->listen_queue_size;
		s->timeout_ms = o->timeout_ms;
		s->connected = o->connected;
		s->accepted = o->accepted;
		s->error = o->error;
		s->userdata = o->userdata;
	}
	TAILQ_INSERT_TAIL(&c->sockets, s, link);
	return s;
}

/* Parameters of tcp.connect / tcp.listen: the socket when it exists, and the options. */
int
lib_tcp_open_args(const tisock_tcp *s, struct proto_tcp_open_args *a)
{
	*a = (struct proto_tcp_open_args){
		.socket = s->id, .port = s->port,
		.host = { s->host, s->host ? strlen(s->host) : 0 },
		.listen_queue = s->listen_queue_size > 0 ? s->listen_queue_size : -1,
		.timeout = s->timeout_ms > 0 ? s->timeout_ms : -1,
		.no_delay = s->no_delay, .keep_alive = s->keep_alive,
		.keep_alive_idle = s->keep_alive_idle, .linger = s->linger,
		.send_buffer = s->send_buffer, .receive_buffer = s->receive_buffer,
		.happy_eyeballs = -1,	/* the daemon's default: race */
		.tls = { .on = -1 },	/* written by tcp-tls.c, as JSON of its own */
	};
	return 0;
}

/* The id of the socket a failed tcp.connect/listen created, from data.socket. */
static int64_t
error_socket(const cJSON *answer)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(answer, "error"),
						 "data"), "socket");

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

/* Applies the outcome r of a connect (or listen) to s. */
static void
opened(tisock_tcp *s, int r, const cJSON *answer, const struct proto_tcp_open_result *res,
       int state)
{
	lib_tls_answer(s, answer);
	if (r == 0) {
		(void) lib_tcp_set_id(s, res->socket);
		s->state = state;
		if (state == TISOCK_LISTENING && s->port == 0 && res->local.port > 0)
			s->port = (int)res->local.port;	/* the port the kernel chose */
		return;
	}
	if (!s->id && answer)
		(void) lib_tcp_set_id(s, error_socket(answer));
	s->state = TISOCK_ERROR;
}

static void
on_connect(tisock_client *c, struct lib_call *call, const cJSON *answer)
{
	struct proto_tcp_open_result res;
	tisock_tcp *s = call->tcp;
	int r = lib_answer_result(c, call, answer, PROTO_M_TCP_CONNECT, &res);

	if (!s)
		return;		/* freed meanwhile */
	opened(s, r, answer, &res, TISOCK_CONNECTED);
	if (r == 0)
		lib_tcp_fire(s->connected, s, NULL, 0, NULL);
	else
		lib_tcp_fire(s->error, s, NULL, r, tisock_client_error(c));
}

static int
connect_check(const tisock_tcp *s)
{
	if (!s || s->port <= 0 || s->port > 65535)
		return -EINVAL;
	if (s->state == TISOCK_CONNECTED || s->state == TISOCK_LISTENING)
		return -EISCONN;
	if (s->state == TISOCK_CLOSED)
		return -EBADF;
	return 0;
}

TISOCK_PUBLIC int
tisock_tcp_connect(tisock_tcp *s)
{
	struct proto_tcp_open_args a;
	int r = connect_check(s);

	if (r < 0)
		return r;
	lib_tcp_open_args(s, &a);
	return lib_call_start_raw(s->c, PROTO_M_TCP_CONNECT, NULL, &a, s->tls_connect, on_connect,
				  s, 0, NULL);
}

TISOCK_PUBLIC int
tisock_tcp_connect_wait(tisock_tcp *s)
{
	struct proto_tcp_open_result res;
	struct proto_tcp_open_args a;
	cJSON *answer = NULL;
	int r = connect_check(s);

	if (r < 0)
		return r;
	lib_tcp_open_args(s, &a);
	if (s->c->timeout_ms > 0 && (a.timeout < 0 || a.timeout > s->c->timeout_ms))
		a.timeout = s->c->timeout_ms;	/* the daemon gives up first: no socket left over */
	r = lib_call_wait_raw(s->c, PROTO_M_TCP_CONNECT, NULL, &a, s->tls_connect,
			      s->c->timeout_ms > 0 ? (int)a.timeout + LIB_WAIT_GRACE_MS : 0,
			      &answer);
	if (r == 0)
		r = lib_answer_result(s->c, NULL, answer, PROTO_M_TCP_CONNECT, &res);
	opened(s, r, answer, &res, TISOCK_CONNECTED);
	cJSON_Delete(answer);
	return r;
}

TISOCK_PUBLIC int
tisock_tcp_listen(tisock_tcp *s)
{
	struct proto_tcp_open_result res;
	struct proto_tcp_open_args a;
	cJSON *answer = NULL;
	int r;

	if (!s || s->port < 0 || s->port > 65535)
		return -EINVAL;
	if (s->state != TISOCK_INITIALIZED)
		return s->state == TISOCK_CLOSED ? -EBADF : -EISCONN;
	lib_tcp_open_args(s, &a);
	r = lib_call_wait_raw(s->c, PROTO_M_TCP_LISTEN, NULL, &a, s->tls_listen, s->c->timeout_ms,
			      &answer);
	lib_tls_listen_done(s);	/* the key is not kept */
	if (r == 0)
		r = lib_answer_result(s->c, NULL, answer, PROTO_M_TCP_LISTEN, &res);
	opened(s, r, answer, &res, TISOCK_LISTENING);
	cJSON_Delete(answer);
	return r;
}

/* What an accept needs when its answer comes. */
struct accept_ctx {
	tisock_tcp_cb	 inbound_error;
};

static void
on_accept(tisock_client *c, struct lib_call *call, const cJSON *answer)
{
	const struct accept_ctx *a = call->ctx;
	struct proto_tcp_accept_result res;
	tisock_tcp *s = call->tcp, *in;
	char *host;
	int r = lib_answer_result(c, call, answer, PROTO_M_TCP_ACCEPT, &res);

	if (!s)
		return;
	if (r < 0) {
		lib_tls_answer(s, answer);	/* a client's handshake failed: why */
		lib_tcp_fire(s->error, s, NULL, r, tisock_client_error(c));
		return;
	}
	host = res.remote.address.s ? strndup(res.remote.address.s, res.remote.address.len) : NULL;
	in = tisock_tcp_create(c, &(struct tisock_tcp_options){
		.host = host, .port = res.remote.port > 0 ? (int)res.remote.port : 0,
		.error = a->inbound_error, .userdata = s->userdata });
	free(host);
	if (!in || lib_tcp_set_id(in, res.inbound) < 0) {
		if (in)
			tisock_tcp_free(in);
		lib_tcp_fire(s->error, s, NULL, -ENOMEM, "out of memory");
		return;
	}
	in->state = TISOCK_CONNECTED;
	lib_tls_answer(in, answer);
	lib_tcp_fire(s->accepted, s, in, 0, NULL);
}

TISOCK_PUBLIC int
tisock_tcp_accept(tisock_tcp *s, const struct tisock_tcp_accept_options *o)
{
	struct proto_tcp_accept_args args;
	struct accept_ctx *a;
	struct lib_call *call;
	int r;

	if (!s || s->state != TISOCK_LISTENING)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->inbound_error = o ? o->error : NULL;
	args = (struct proto_tcp_accept_args){ .socket = s->id,
		.timeout = o && o->timeout_ms > 0 ? o->timeout_ms : -1,
		.no_delay = -1, .keep_alive = -1, .keep_alive_idle = -1, .linger = -1,
		.send_buffer = -1, .receive_buffer = -1 };
	r = lib_call_start(s->c, PROTO_M_TCP_ACCEPT, &args, on_accept, s, 0, &call);
	if (r < 0) {
		free(a);
		return r;
	}
	call->ctx = a;
	call->ctx_free = free;
	return 0;
}

TISOCK_PUBLIC int
tisock_tcp_state(const tisock_tcp *s)
{
	return s ? s->state : -EINVAL;
}

TISOCK_PUBLIC const char *
tisock_tcp_host(const tisock_tcp *s)
{
	return s && s->host ? s->host : "127.0.0.1";
}

TISOCK_PUBLIC int
tisock_tcp_port(const tisock_tcp *s)
{
	return s ? s->port : -EINVAL;
}

TISOCK_PUBLIC int
tisock_tcp_is_readable(const tisock_tcp *s)
{
	return s && s->state == TISOCK_CONNECTED;
}

TISOCK_PUBLIC int
tisock_tcp_is_writable(const tisock_tcp *s)
{
	return s && s->state == TISOCK_CONNECTED && !s->shut_wr;
}

TISOCK_PUBLIC void *
tisock_tcp_userdata(const tisock_tcp *s)
{
	return s ? s->userdata : NULL;
}

TISOCK_PUBLIC int
tisock_tcp_set_userdata(tisock_tcp *s, void *userdata)
{
	if (!s)
		return -EINVAL;
	s->userdata = userdata;
	return 0;
}

TISOCK_PUBLIC int
tisock_tcp_set_free_callback(tisock_tcp *s, tisock_tcp_cb cb)
{
	if (!s || s->freed)
		return -EINVAL;
	s->on_free = cb;
	return 0;
}

TISOCK_PUBLIC int64_t
tisock_tcp_id(const tisock_tcp *s)
{
	return s ? s->id : 0;
}

/* s is going: its calls end silently, its streams close. */
static void
detach(tisock_tcp *s)
{
	struct lib_call *call;

	while ((call = TAILQ_FIRST(&s->calls))) {
		TAILQ_REMOVE(&s->calls, call, tcp_link);
		call->tcp = NULL;
	}
	lib_tcp_pump_stop(s);
	if (s->id)
		proto_idmap_remove(s->c->socket_ids, (uint64_t)s->id);
	for (size_t i = 0; i < s->nstreams; i++)
		lib_stream_socket_gone(s->streams[i]);
	s->nstreams = 0;
}

/* The last of s: its free callback, then its memory. */
static void
release(tisock_tcp *s)
{
	s->state = s->state == TISOCK_ERROR ? TISOCK_ERROR : TISOCK_CLOSED;
	if (s->on_free)
		lib_tcp_fire(s->on_free, s, NULL, 0, NULL);
	lib_tls_release(s);
	tisock_buffer_free(s->pump_buf);	/* kept past the pump's end (tcp-notify.c) */
	free(s->streams);
	free(s->host);
	free(s);
}

TISOCK_PUBLIC tisock_tcp *
tisock_tcp_free(tisock_tcp *s)
{
	tisock_client *c;

	if (!s || s->freed)
		return NULL;
	c = s->c;
	if (c->in_close)
		return NULL;	/* tisock_client_close releases it */
	s->freed = true;
	if (s->id && s->state != TISOCK_CLOSED && !c->broken) {
		struct proto_tcp_close_args a = { .socket = s->id };

		(void) lib_call_start(c, PROTO_M_TCP_CLOSE, &a, lib_done_ignore, NULL, 0, NULL);
	}
	detach(s);
	TAILQ_REMOVE(&c->sockets, s, link);
	if (c->in_dispatch || s->on_free) {
		/* Released after the callback running now, or from the next dispatch. */
		TAILQ_INSERT_TAIL(&c->dead, s, link);
		lib_update(c);
	} else {
		release(s);
	}
	return NULL;
}

/* Releases the sockets freed meanwhile, running their free callbacks. */
void
lib_tcp_reap(tisock_client *c)
{
	tisock_tcp *s;

	while ((s = TAILQ_FIRST(&c->dead))) {
		TAILQ_REMOVE(&c->dead, s, link);
		release(s);
	}
}

/*
 * The client is closing: every socket is released without a word to
 * the daemon (closing the connection closes them there), free callbacks
 * included.
 */
void
lib_tcp_detach_all(tisock_client *c)
{
	tisock_tcp *s;

	while ((s = TAILQ_FIRST(&c->sockets))) {
		TAILQ_REMOVE(&c->sockets, s, link);
		s->freed = true;
		detach(s);
		release(s);
	}
	lib_tcp_reap(c);
}
