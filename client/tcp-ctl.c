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

#define LIB_IDLE_MAX	32767		/* as tcp.setOptions' bounds */
#define LIB_LINGER_MAX	3600
#define LIB_BUF_MAX	67108864

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

TISOCK_PUBLIC int
tisock_tcp_set_options(tisock_tcp *s, const struct tisock_tcp_socket_options *o)
{
	const unsigned known = TISOCK_OPT_NO_DELAY | TISOCK_OPT_KEEP_ALIVE |
			       TISOCK_OPT_KEEP_ALIVE_IDLE | TISOCK_OPT_TIMEOUT | TISOCK_OPT_LINGER |
			       TISOCK_OPT_SEND_BUFFER_SIZE | TISOCK_OPT_RECEIVE_BUFFER_SIZE;
	struct proto_tcp_options_args a = { .no_delay = -1, .keep_alive = -1,
					    .keep_alive_idle = -1, .linger = -1,
					    .send_buffer = -1, .receive_buffer = -1,
					    .timeout = -1 };
	struct proto_socket_result res;
	cJSON *answer = NULL;
	int r;

	if (!s || !o)
		return -EINVAL;
	if (o->set & ~known)
		return -EOPNOTSUPP;	/* an option this library does not know */
	if (((o->set & TISOCK_OPT_KEEP_ALIVE_IDLE) &&
	     (o->keep_alive_idle < 1 || o->keep_alive_idle > LIB_IDLE_MAX)) ||
	    ((o->set & TISOCK_OPT_TIMEOUT) && o->timeout_ms < 0) ||
	    ((o->set & TISOCK_OPT_LINGER) && (o->linger < 0 || o->linger > LIB_LINGER_MAX)) ||
	    ((o->set & TISOCK_OPT_SEND_BUFFER_SIZE) &&
	     (o->send_buffer_size < 1 || o->send_buffer_size > LIB_BUF_MAX)) ||
	    ((o->set & TISOCK_OPT_RECEIVE_BUFFER_SIZE) &&
	     (o->receive_buffer_size < 1 || o->receive_buffer_size > LIB_BUF_MAX)))
		return -EINVAL;
	if (s->state == TISOCK_CLOSED)
		return -EBADF;
	/* Kept for a later connect or listen, whose params carry them all. */
	if (o->set & TISOCK_OPT_NO_DELAY)
		a.no_delay = s->no_delay = !!o->no_delay;
	if (o->set & TISOCK_OPT_KEEP_ALIVE)
		a.keep_alive = s->keep_alive = !!o->keep_alive;
	if (o->set & TISOCK_OPT_TIMEOUT)
		a.timeout = s->timeout_ms = o->timeout_ms;
	if (o->set & TISOCK_OPT_KEEP_ALIVE_IDLE)
		a.keep_alive_idle = s->keep_alive_idle = o->keep_alive_idle;
	if (o->set & TISOCK_OPT_LINGER)
		a.linger = s->linger = o->linger;
	if (o->set & TISOCK_OPT_SEND_BUFFER_SIZE)
		a.send_buffer = s->send_buffer = o->send_buffer_size;
	if (o->set & TISOCK_OPT_RECEIVE_BUFFER_SIZE)
		a.receive_buffer = s->receive_buffer = o->receive_buffer_size;
	if (!s->id)
		return 0;	/* the connect carries them: no round trip */
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
