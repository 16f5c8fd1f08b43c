/*
 * tcp-notify: what the daemon says about a socket unasked: tcp.data (an
 * async pump's chunks), tcp.error and tcp.closed; the pump itself
 * (tcp.pump), paused while the client's inbox is full during a blocking
 * call; the streams over a socket; and the end of every socket when the
 * daemon goes away.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "proto-base64.h"
#include "proto-client.h"
#include "proto-errors.h"
#include "tcp.h"

/*
 * Ends async pumping; the handler has had its last call.  The chunk
 * buffer stays until s is released: a handler that frees s (or closes
 * it) still reads the chunk its event holds.
 */
void
lib_tcp_pump_stop(tisock_tcp *s)
{
	if (!s->pump_cb)
		return;
	s->pump_cb = NULL;
	s->pump_paused = false;
	s->c->npumping--;
}

/*
 * Calls the pump handler.  The last call (bytes -1: end of stream or an
 * error) has no buffer and ends pumping first, so the handler may free s.
 */
static void
pump_event(tisock_tcp *s, ssize_t bytes, int64_t total, int code, const char *error)
{
	struct tisock_stream_event ev = {
		.source = s->pump_stream, .socket = s, .buffer = s->pump_buf,
		.bytes_processed = bytes, .total_bytes_processed = total,
		.success = code == 0, .code = code, .error = error ? error : "",
		.userdata = s->pump_userdata,
	};
	tisock_stream_cb cb = s->pump_cb;
	tisock_buffer *last = NULL;

	if (bytes < 0) {
		last = s->pump_buf;
		s->pump_buf = NULL;
		ev.buffer = NULL;
		lib_tcp_pump_stop(s);
	}
	cb(&ev);
	tisock_buffer_free(last);
}

static void
on_pump(tisock_client *c, struct lib_call *call, const cJSON *answer)
{
	struct proto_tcp_pump_result res;
	tisock_tcp *s = call->tcp;
	int r = lib_answer_result(c, call, answer, PROTO_M_TCP_PUMP, &res);

	if (s && r < 0 && s->pump_cb)
		pump_event(s, -1, 0, r, tisock_client_error(c));
}

static int
pump_request(tisock_tcp *s, bool enable)
{
	struct proto_tcp_pump_args a = { .socket = s->id, .enable = enable,
					 .chunk_size = (int64_t)s->pump_chunk };

	return lib_call_start(s->c, PROTO_M_TCP_PUMP, &a, enable ? on_pump : lib_done_ignore, s,
			      0, NULL);
}

/*
 * Starts the daemon's push mode on s: every tcp.data goes to cb as a
 * chunk, then one call with -1.  Returns 0 or -errno.
 */
int
lib_tcp_pump(tisock_tcp *s, tisock_stream *st, tisock_stream_cb cb, void *userdata,
	     size_t max_chunk)
{
	int r;

	if (s->state != TISOCK_CONNECTED)
		return -ENOTCONN;
	if (s->pump_cb)
		return -EBUSY;
	if (!s->pump_buf && !(s->pump_buf = tisock_buffer_create(0)))
		return -ENOMEM;
	s->pump_cb = cb;
	s->pump_userdata = userdata;
	s->pump_stream = st;
	s->pump_chunk = max_chunk > PROTO_CHUNK_MAX ? PROTO_CHUNK_MAX : max_chunk;
	s->c->npumping++;
	r = pump_request(s, true);
	if (r < 0)
		lib_tcp_pump_stop(s);
	return r;
}

/*
 * A blocking call found the inbox full: every pump of c is turned off
 * (tcp.pump enable false), so the daemon stops reading those sockets
 * and TCP flow control slows their peers.  Nothing is lost: the daemon
 * keeps what it has not sent.  Dispatch turns them on again.
 */
void
lib_tcp_pause_pumps(tisock_client *c)
{
	tisock_tcp *s;

	c->pumps_paused = true;
	TAILQ_FOREACH(s, &c->sockets, link)
		if (s->pump_cb && !s->pump_paused && pump_request(s, false) == 0)
			s->pump_paused = true;
}

/* The inbox has room again: paused pumps that have not ended go on. */
void
lib_tcp_resume_pumps(tisock_client *c)
{
	tisock_tcp *s;

	c->pumps_paused = false;
	TAILQ_FOREACH(s, &c->sockets, link)
		if (s->pump_paused) {
			s->pump_paused = false;
			if (s->pump_cb)
				(void) pump_request(s, true);
		}
}

static void
pump_data(tisock_tcp *s, const cJSON *params)
{
	struct proto_tcp_data_note d;
	ssize_t k;

	if (!s->pump_cb)
		return;
	if (proto_result_parse(PROTO_N_TCP_DATA, params, &d) < 0) {
		pump_event(s, -1, 0, -EPROTO, "bad tcp.data");
		return;
	}
	if (d.bytes == -1) {
		lib_tls_closed(s, params);
		(void) tisock_buffer_set_length(s->pump_buf, 0);
		pump_event(s, -1, d.total, 0, NULL);
		return;
	}
	if (!d.data.s ||
	    tisock_buffer_set_length(s->pump_buf, proto_base64_decoded_max(d.data.len)) < 0 ||
	    (k = proto_base64_decode(tisock_buffer_data(s->pump_buf), d.data.s, d.data.len)) < 0 ||
	    k != d.bytes) {
		pump_event(s, -1, d.total, -EPROTO, "bad tcp.data");
		return;
	}
	(void) tisock_buffer_set_length(s->pump_buf, (size_t)k);
	pump_event(s, k, d.total, 0, NULL);
}

/* Routes a notification to its socket.  Returns whether it was a socket's. */
bool
lib_tcp_notify(tisock_client *c, const char *method, const cJSON *params)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(params, "socket");
	tisock_tcp *s;

	if (strncmp(method, "tcp.", 4) != 0)
		return false;	/* not the sockets' */
	s = cJSON_IsNumber(id) ? lib_tcp_find(c, (int64_t)id->valuedouble) : NULL;
	if (!s)
		return false;
	if (strcmp(method, "tcp.data") == 0) {
		pump_data(s, params);
	} else if (strcmp(method, "tcp.error") == 0) {
		struct proto_tcp_error_note e;
		int code;

		if (proto_result_parse(PROTO_N_TCP_ERROR, params, &e) < 0)
			e = (struct proto_tcp_error_note){ .code = PROTO_E_NETWORK };
		code = lib_errno_from_code((int)e.code, (int)e.sys_errno);
		s->state = TISOCK_ERROR;
		if (s->pump_cb)
			pump_event(s, -1, 0, code, e.message.s);
		/* The pump handler may have freed s, or closed c: then nothing more runs. */
		if (!s->freed && !c->closing)
			lib_tcp_fire(s->error, s, NULL, code, e.message.s);
	} else if (strcmp(method, "tcp.closed") == 0) {
		s->state = TISOCK_CLOSED;
		lib_tls_closed(s, params);
		if (s->pump_cb)
			pump_event(s, -1, 0, -ECANCELED, "closed by the daemon");
	}
	return true;
}

/*
 * The daemon is gone: pumps end with -EPIPE, sockets that were open are
 * in error.  Called from dispatch, so the handlers may free their sockets.
 */
void
lib_tcp_broken(tisock_client *c)
{
	tisock_tcp *s;
	bool more = true;

	TAILQ_FOREACH(s, &c->sockets, link)
		if (s->state == TISOCK_CONNECTED || s->state == TISOCK_LISTENING)
			s->state = TISOCK_ERROR;
	/* A handler may free any socket: look again from the start each time. */
	while (more && !c->closing) {
		more = false;
		TAILQ_FOREACH(s, &c->sockets, link)
			if (s->pump_cb) {
				pump_event(s, -1, 0, -EPIPE, "the daemon went away");
				more = true;
				break;
			}
	}
}

/* st is a stream over s: it is told when s goes away. */
int
lib_tcp_add_stream(tisock_tcp *s, tisock_stream *st)
{
	tisock_stream **p = realloc(s->streams, (s->nstreams + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	p[s->nstreams++] = st;
	s->streams = p;
	return 0;
}

/*
 * st no longer stands for s (freed or closed): operations still in
 * flight on s report no source from now on.
 */
void
lib_tcp_remove_stream(tisock_tcp *s, tisock_stream *st)
{
	for (size_t i = 0; i < s->nstreams; i++)
		if (s->streams[i] == st) {
			s->streams[i] = s->streams[--s->nstreams];
			break;
		}
	lib_tcp_io_unsource(s, st);
	if (s->pump_stream == st)
		s->pump_stream = NULL;
}
