/*
 * tcp-ctl: controlling a socket: close, half-close (tcp.shutdown, with
 * a callback or blocking), socket options (tcp.setOptions) and the data
 * channel (tcp.channel).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "lib-public.h"
#include "proto-client.h"
#include "tcp.h"

TISOCK_PUBLIC int
tisock_tcp_close(tisock_tcp *s)
{
	struct proto_tcp_close_args a;
	cJSON *answer = NULL;
	int r;

	if (!s)
		return -EINVAL;
	if (s->state == TISOCK_CLOSED)
		return 0;
	if (!s->id) {
		s->state = TISOCK_CLOSED;
		return 0;
	}
	a = (struct proto_tcp_close_args){ .socket = s->id };
	r = lib_call_wait(s->c, PROTO_M_TCP_CLOSE, &a, &answer);
	if (r == 0)
		r = lib_answer_error(s->c, answer);
	cJSON_Delete(answer);
	s->state = TISOCK_CLOSED;
	return r == -EBADF ? 0 : r;
}

static int
shutdown_check(tisock_tcp *s)
{
	if (!s)
		return -EINVAL;
	if (s->state != TISOCK_CONNECTED)
		return -ENOTCONN;
	s->shut_wr = true;	/* no write may follow the FIN */
	return 0;
}

TISOCK_PUBLIC int
tisock_tcp_shutdown(tisock_tcp *s)
{
	struct proto_socket_args a;
	struct proto_socket_result res;
	cJSON *answer = NULL;
	int r = shutdown_check(s);

	if (r < 0)
		return r;
	a.socket = s->id;
	r = lib_call_wait(s->c, PROTO_M_TCP_SHUTDOWN, &a, &answer);
	if (r == 0)
		r = lib_answer_result(s->c, NULL, answer, PROTO_M_TCP_SHUTDOWN, &res);
	cJSON_Delete(answer);
	lib_tcp_network_error(s, r);
	return r;
}

struct shutdown_ctx {
	tisock_tcp_cb	cb;
};

static void
on_shutdown(tisock_client *c, struct lib_call *call, const cJSON *answer)
{
	struct shutdown_ctx *k = call->ctx;
	struct proto_socket_result res;
	tisock_tcp *s = call->tcp;
	int r = lib_answer_result(c, call, answer, PROTO_M_TCP_SHUTDOWN, &res);

	if (!s)
		return;
	lib_tcp_network_error(s, r);
	lib_tcp_fire(k->cb, s, NULL, r, r < 0 ? tisock_client_error(c) : NULL);
}

TISOCK_PUBLIC int
tisock_tcp_shutdown_async(tisock_tcp *s, tisock_tcp_cb cb)
{
	struct proto_socket_args a;
	struct shutdown_ctx *k;
	struct lib_call *call;
	int r = shutdown_check(s);

	if (r < 0)
		return r;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->cb = cb;
	a.socket = s->id;
	r = lib_call_start(s->c, PROTO_M_TCP_SHUTDOWN, &a, on_shutdown, s, LIB_CALL_DEADLINE, &call);
	if (r < 0) {
		free(k);
		return r;
	}
	call->ctx = k;
	call->ctx_free = free;
	return 0;
}

/* The daemon's socket for s, created now (tcp.create) when it has none yet. */
static int
ensure_id(tisock_tcp *s)
{
	struct proto_tcp_open_args a;
	struct proto_socket_result res;
	cJSON *answer = NULL;
	int r;

	if (s->id)
		return 0;
	lib_tcp_open_args(s, &a);
	r = lib_call_wait(s->c, PROTO_M_TCP_CREATE, &a, &answer);
	if (r == 0)
		r = lib_answer_result(s->c, NULL, answer, PROTO_M_TCP_CREATE, &res);
	if (r == 0)
		r = lib_tcp_set_id(s, res.socket);
	cJSON_Delete(answer);
	return r;
}

TISOCK_PUBLIC int
tisock_tcp_set_options(tisock_tcp *s, const struct tisock_tcp_socket_options *o)
{
	const unsigned known = TISOCK_OPT_NO_DELAY | TISOCK_OPT_KEEP_ALIVE |
			       TISOCK_OPT_KEEP_ALIVE_IDLE | TISOCK_OPT_TIMEOUT;
	struct proto_tcp_options_args a = { .no_delay = -1, .keep_alive = -1,
					    .keep_alive_idle = -1, .timeout = -1 };
	struct proto_socket_result res;
	cJSON *answer = NULL;
	int r;

	if (!s || !o)
		return -EINVAL;
	if (o->set & ~known)
		return -EOPNOTSUPP;	/* an option this library does not know */
	if (((o->set & TISOCK_OPT_KEEP_ALIVE_IDLE) &&
	     (o->keep_alive_idle < 1 || o->keep_alive_idle > 32767)) ||
	    ((o->set & TISOCK_OPT_TIMEOUT) && o->timeout_ms < 0))
		return -EINVAL;
	if (s->state == TISOCK_CLOSED)
		return -EBADF;
	/* Kept for a later connect or listen, whose params carry them. */
	if (o->set & TISOCK_OPT_NO_DELAY)
		a.no_delay = s->no_delay = !!o->no_delay;
	if (o->set & TISOCK_OPT_KEEP_ALIVE)
		a.keep_alive = s->keep_alive = !!o->keep_alive;
	if (o->set & TISOCK_OPT_TIMEOUT)
		a.timeout = s->timeout_ms = o->timeout_ms;
	if (o->set & TISOCK_OPT_KEEP_ALIVE_IDLE)
		a.keep_alive_idle = o->keep_alive_idle;
	if (!s->id && !(o->set & TISOCK_OPT_KEEP_ALIVE_IDLE))
		return 0;	/* nothing the connect cannot carry: no round trip */
	r = ensure_id(s);
	if (r < 0)
		return r;
	a.socket = s->id;
	r = lib_call_wait(s->c, PROTO_M_TCP_SET_OPTIONS, &a, &answer);
	if (r == 0)
		r = lib_answer_result(s->c, NULL, answer, PROTO_M_TCP_SET_OPTIONS, &res);
	cJSON_Delete(answer);
	return r;
}

TISOCK_PUBLIC int
tisock_tcp_channel(tisock_tcp *s)
{
	struct proto_socket_args a;
	struct proto_tcp_channel_result res;
	cJSON *answer = NULL;
	int r, fd;

	if (!s)
		return -EINVAL;
	if (s->state != TISOCK_CONNECTED)
		return -ENOTCONN;
	a.socket = s->id;
	r = lib_call_wait(s->c, PROTO_M_TCP_CHANNEL, &a, &answer);
	if (r == 0)
		r = lib_answer_result(s->c, NULL, answer, PROTO_M_TCP_CHANNEL, &res);
	if (r == 0 && !res.fd)
		r = -EPROTO;
	cJSON_Delete(answer);
	if (r < 0)
		return r;
	fd = lib_take_fd(s->c);
	if (fd < 0) {
		lib_set_error(s->c, 0, "the daemon's answer came without a file descriptor");
		return -EPROTO;
	}
	return fd;
}
