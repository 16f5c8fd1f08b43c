/*
 * tcp: Ti.Network.Socket.TCP over the control protocol.
 *
 * A tisock_tcp is local until it connects or listens: tcp.connect and
 * tcp.listen create the daemon's socket in the same round trip.  Async
 * operations are calls whose answers run the callbacks from
 * tisock_client_dispatch(); a socket freed inside a callback is only
 * detached then, and released once the callback has returned.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "lib-public.h"
#include "proto-base64.h"
#include "proto-errors.h"

#define TCP_WRITE_CHUNK (4u << 20)	/* bytes per tcp.write request */

struct tisock_tcp {
	TAILQ_ENTRY(tisock_tcp)	 link;		/* c->sockets, then c->dead */
	tisock_client		*c;
	int64_t			 id;		/* the daemon's; 0 before connect/listen */
	int			 state;		/* TISOCK_* */
	char			*host;		/* NULL: 127.0.0.1 */
	int			 port;
	int			 listen_queue_size;
	int			 timeout_ms;
	tisock_tcp_cb		 connected, accepted, error;
	void			*userdata;
	/* Async pump (daemon push mode). */
	tisock_stream_cb	 pump_cb;	/* NULL: not pumping */
	void			*pump_userdata;
	tisock_stream		*pump_stream;
	tisock_buffer		*pump_buf;	/* each chunk, handed to pump_cb */
	/* Streams over this socket (tisock_tcp_stream), told when it goes. */
	tisock_stream		**streams;
	size_t			 nstreams;
};

/* An async read or write in flight. */
struct io_op {
	tisock_tcp		*s;
	tisock_stream		*st;		/* the stream, for tisock_stream_*_async */
	tisock_buffer		*buf;		/* where a read lands */
	size_t			 offset, length;
	tisock_stream_cb	 cb;
	void			*userdata;
};

static void pump_stop(tisock_tcp *s);

static const char *
str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t
int_at(const cJSON *o, const char *a, const char *b, int64_t def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

static tisock_tcp *
find(tisock_client *c, int64_t id)
{
	tisock_tcp *s;

	TAILQ_FOREACH(s, &c->sockets, link)
		if (s->id == id)
			return s;
	return NULL;
}

static void
fire(tisock_tcp_cb cb, tisock_tcp *s, tisock_tcp *inbound, int code, const char *error)
{
	struct tisock_tcp_event ev = {
		.socket = s, .inbound = inbound, .success = code == 0, .code = code,
		.error = error ? error : "", .userdata = s->userdata,
	};

	if (cb)
		cb(&ev);
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
static void
open_params(struct proto_jw *w, const void *arg)
{
	const tisock_tcp *s = arg;

	if (s->id)
		proto_jw_kint(w, "socket", s->id);
	if (s->host)
		proto_jw_kstr(w, "host", s->host);
	proto_jw_kint(w, "port", s->port);
	if (s->listen_queue_size > 0)
		proto_jw_kint(w, "listenQueueSize", s->listen_queue_size);
	if (s->timeout_ms > 0)
		proto_jw_kint(w, "timeout", s->timeout_ms);
}

static void
on_connect(tisock_client *c, struct lib_call *call, const cJSON *answer)
{
	tisock_tcp *s = call->tcp;
	int r = lib_answer_error(c, answer);

	if (!s)
		return;		/* freed meanwhile */
	if (r == 0) {
		s->id = int_at(answer, "result", "socket", s->id);
		s->state = TISOCK_CONNECTED;
		fire(s->connected, s, NULL, 0, NULL);
		return;
	}
	if (!s->id)
		s->id = int_at(cJSON_GetObjectItemCaseSensitive(answer, "error"), "data", "socket", 0);
	s->state = TISOCK_ERROR;
	fire(s->error, s, NULL, r, tisock_client_error(c));
}

TISOCK_PUBLIC int
tisock_tcp_connect(tisock_tcp *s)
{
	if (!s || s->port <= 0 || s->port > 65535)
		return -EINVAL;
	if (s->state == TISOCK_CONNECTED || s->state == TISOCK_LISTENING)
		return -EISCONN;
	if (s->state == TISOCK_CLOSED)
		return -EBADF;
	if (!lib_call_start(s->c, "tcp.connect", open_params, s, on_connect, s))
		return -ENOMEM;
	return 0;
}

TISOCK_PUBLIC int
tisock_tcp_listen(tisock_tcp *s)
{
	cJSON *answer;
	int r;

	if (!s || s->port < 0 || s->port > 65535)
		return -EINVAL;
	if (s->state != TISOCK_INITIALIZED)
		return s->state == TISOCK_CLOSED ? -EBADF : -EISCONN;
	answer = lib_call_wait(s->c, "tcp.listen", open_params, s);
	r = lib_answer_error(s->c, answer);
	if (r == 0) {
		s->id = int_at(answer, "result", "socket", 0);
		s->state = TISOCK_LISTENING;
		if (s->port == 0)	/* report the port the kernel chose */
			s->port = (int)int_at(cJSON_GetObjectItemCaseSensitive(answer, "result"),
					      "local", "port", 0);
	} else {
		if (answer)
			s->id = int_at(cJSON_GetObjectItemCaseSensitive(answer, "error"), "data",
				       "socket", 0);
		s->state = TISOCK_ERROR;
	}
	cJSON_Delete(answer);
	return r;
}

struct accept_arg {
	int64_t		 socket;
	int		 timeout_ms;
	tisock_tcp_cb	 inbound_error;
};

static void
accept_params(struct proto_jw *w, const void *arg)
{
	const struct accept_arg *a = arg;

	proto_jw_kint(w, "socket", a->socket);
	if (a->timeout_ms > 0)
		proto_jw_kint(w, "timeout", a->timeout_ms);
}

static void
on_accept(tisock_client *c, struct lib_call *call, const cJSON *answer)
{
	tisock_tcp *s = call->tcp, *in;
	const struct accept_arg *a = call->ctx;
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(answer, "result");
	int r = lib_answer_error(c, answer);

	if (!s)
		return;
	if (r < 0) {
		fire(s->error, s, NULL, r, tisock_client_error(c));
		return;
	}
	in = tisock_tcp_create(c, &(struct tisock_tcp_options){
		.host = str_at(res, "remote", "address"),
		.port = (int)int_at(res, "remote", "port", 0),
		.error = a->inbound_error, .userdata = s->userdata });
	if (!in) {
		fire(s->error, s, NULL, -ENOMEM, "out of memory");
		return;
	}
	in->id = int_at(res, "inbound", NULL, 0);
	in->state = TISOCK_CONNECTED;
	fire(s->accepted, s, in, 0, NULL);
}

TISOCK_PUBLIC int
tisock_tcp_accept(tisock_tcp *s, const struct tisock_tcp_accept_options *o)
{
	struct accept_arg *a;
	struct lib_call *call;

	if (!s)
		return -EINVAL;
	if (s->state != TISOCK_LISTENING)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	*a = (struct accept_arg){ .socket = s->id, .timeout_ms = o ? o->timeout_ms : 0,
				  .inbound_error = o ? o->error : NULL };
	call = lib_call_start(s->c, "tcp.accept", accept_params, a, on_accept, s);
	if (!call) {
		free(a);
		return -ENOMEM;
	}
	call->ctx = a;
	call->ctx_free = free;
	return 0;
}

/* Resolves a buffer range as Titanium does.  Returns 0 or -EINVAL. */
static int
buffer_range(const tisock_buffer *buf, size_t offset, ssize_t length, size_t *ret)
{
	size_t size = tisock_buffer_length(buf);

	if (!buf || offset > size)
		return -EINVAL;
	if (length == TISOCK_ALL) {
		*ret = size - offset;
		return 0;
	}
	if (length < 0 || (size_t)length > size - offset)
		return -EINVAL;
	*ret = (size_t)length;
	return 0;
}

struct read_arg {
	int64_t	socket;
	size_t	length;
};

static void
read_params(struct proto_jw *w, const void *arg)
{
	const struct read_arg *a = arg;

	proto_jw_kint(w, "socket", a->socket);
	proto_jw_kuint(w, "length", a->length);
}

/* Copies the data of a read answer into buf at offset.  Returns bytes, -1 at EOF, or -errno. */
static ssize_t
take_read(tisock_client *c, const cJSON *answer, tisock_buffer *buf, size_t offset,
	  size_t length)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(answer, "result");
	const char *data;
	int64_t bytes;
	size_t n;
	char *tmp;
	ssize_t k;
	int r = lib_answer_error(c, answer);

	if (r < 0)
		return r;
	bytes = int_at(res, "bytes", NULL, -2);
	if (bytes == -1)
		return -1;
	data = str_at(res, "data", NULL);
	n = data ? strlen(data) : 0;
	if (!data || bytes < 0)
		return -EPROTO;
	tmp = malloc(proto_base64_decoded_max(n) + 1);
	if (!tmp)
		return -ENOMEM;
	k = proto_base64_decode(tmp, data, n);
	if (k < 0 || (size_t)k > length || k != bytes) {
		free(tmp);
		return -EPROTO;
	}
	memcpy(tisock_buffer_data(buf) + offset, tmp, (size_t)k);
	free(tmp);
	return k;
}

TISOCK_PUBLIC ssize_t
tisock_tcp_read(tisock_tcp *s, tisock_buffer *buf, size_t offset, ssize_t length)
{
	struct read_arg a;
	size_t n;
	cJSON *answer;
	ssize_t r;

	if (!s || buffer_range(buf, offset, length, &n) < 0)
		return -EINVAL;
	if (s->state != TISOCK_CONNECTED)
		return -ENOTCONN;
	if (n == 0)
		return 0;
	a = (struct read_arg){ .socket = s->id, .length = n > 16777216 ? 16777216 : n };
	answer = lib_call_wait(s->c, "tcp.read", read_params, &a);
	r = take_read(s->c, answer, buf, offset, n);
	cJSON_Delete(answer);
	if (r < -1 && r != -ETIMEDOUT && r != -ECANCELED && s->c->err.code == PROTO_E_NETWORK)
		s->state = TISOCK_ERROR;
	return r;
}

struct write_arg {
	int64_t		 socket;
	const uint8_t	*p;
	size_t		 n;
};

static void
write_params(struct proto_jw *w, const void *arg)
{
	const struct write_arg *a = arg;

	proto_jw_kint(w, "socket", a->socket);
	proto_jw_key(w, "data");
	proto_jw_base64(w, a->p, a->n);
}

TISOCK_PUBLIC ssize_t
tisock_tcp_write(tisock_tcp *s, const tisock_buffer *buf, size_t offset, ssize_t length)
{
	size_t n, done = 0;

	if (!s || buffer_range(buf, offset, length, &n) < 0)
		return -EINVAL;
	if (s->state != TISOCK_CONNECTED)
		return -ENOTCONN;
	do {
		struct write_arg a = { .socket = s->id, .p = tisock_buffer_cdata(buf) + offset + done,
				       .n = n - done < TCP_WRITE_CHUNK ? n - done : TCP_WRITE_CHUNK };
		cJSON *answer = lib_call_wait(s->c, "tcp.write", write_params, &a);
		int r = lib_answer_error(s->c, answer);

		cJSON_Delete(answer);
		if (r < 0) {
			if (s->c->err.code == PROTO_E_NETWORK)
				s->state = TISOCK_ERROR;
			return r;
		}
		done += a.n;
	} while (done < n);
	return (ssize_t)n;
}

static void
io_done(tisock_client *c, struct lib_call *call, const cJSON *answer, bool is_read)
{
	struct io_op *op = call->ctx;
	struct tisock_stream_event ev = { .source = op->st, .socket = call->tcp, .buffer = op->buf,
					  .userdata = op->userdata };
	ssize_t r;

	if (!call->tcp)
		return;
	if (is_read) {
		r = take_read(c, answer, op->buf, op->offset, op->length);
	} else {
		r = lib_answer_error(c, answer);
		if (r == 0)
			r = (ssize_t)op->length;
	}
	ev.bytes_processed = r < -1 ? -1 : r;
	ev.success = r >= -1;
	ev.code = r < -1 ? (int)r : 0;
	ev.error = r < -1 ? tisock_client_error(c) : "";
	if (r < -1 && c->err.code == PROTO_E_NETWORK)
		call->tcp->state = TISOCK_ERROR;
	if (op->cb)
		op->cb(&ev);
}

static void
on_read(tisock_client *c, struct lib_call *call, const cJSON *answer)
{
	io_done(c, call, answer, true);
}

static void
on_write(tisock_client *c, struct lib_call *call, const cJSON *answer)
{
	io_done(c, call, answer, false);
}

static int
start_io(tisock_tcp *s, tisock_stream *st, tisock_buffer *buf, size_t offset, size_t n,
	 tisock_stream_cb cb, void *userdata, bool is_read)
{
	struct io_op *op = calloc(1, sizeof(*op));
	struct lib_call *call;

	if (!op)
		return -ENOMEM;
	*op = (struct io_op){ .s = s, .st = st, .buf = buf, .offset = offset, .length = n,
			      .cb = cb, .userdata = userdata };
	if (is_read) {
		struct read_arg a = { .socket = s->id, .length = n };

		call = lib_call_start(s->c, "tcp.read", read_params, &a, on_read, s);
	} else {
		struct write_arg a = { .socket = s->id, .p = tisock_buffer_cdata(buf) + offset, .n = n };

		call = lib_call_start(s->c, "tcp.write", write_params, &a, on_write, s);
	}
	if (!call) {
		free(op);
		return -ENOMEM;
	}
	call->ctx = op;
	call->ctx_free = free;
	return 0;
}

/* Asynchronous read or write on s, reported as coming from st (may be NULL). */
int
lib_tcp_io_async(tisock_tcp *s, tisock_stream *st, tisock_buffer *buf, size_t offset,
		 ssize_t length, tisock_stream_cb cb, void *userdata, bool is_read)
{
	size_t n;

	if (!s || buffer_range(buf, offset, length, &n) < 0)
		return -EINVAL;
	/* One request each: a read takes at most 16 MiB, a write at most three chunks. */
	if (is_read ? n == 0 || n > 16777216 : n > TCP_WRITE_CHUNK * 3)
		return -EINVAL;
	if (s->state != TISOCK_CONNECTED)
		return -ENOTCONN;
	/* A write's bytes are copied into the request now; buf may change afterwards. */
	return start_io(s, st, buf, offset, n, cb, userdata, is_read);
}

TISOCK_PUBLIC int
tisock_tcp_read_async(tisock_tcp *s, tisock_buffer *buf, size_t offset, ssize_t length,
		      tisock_stream_cb cb, void *userdata)
{
	return lib_tcp_io_async(s, NULL, buf, offset, length, cb, userdata, true);
}

TISOCK_PUBLIC int
tisock_tcp_write_async(tisock_tcp *s, const tisock_buffer *buf, size_t offset, ssize_t length,
		       tisock_stream_cb cb, void *userdata)
{
	return lib_tcp_io_async(s, NULL, (tisock_buffer *)buf, offset, length, cb, userdata, false);
}

static void
socket_params(struct proto_jw *w, const void *arg)
{
	proto_jw_kint(w, "socket", *(const int64_t *)arg);
}

TISOCK_PUBLIC int
tisock_tcp_close(tisock_tcp *s)
{
	cJSON *answer;
	int r;

	if (!s)
		return -EINVAL;
	if (s->state == TISOCK_CLOSED)
		return 0;
	if (!s->id) {
		s->state = TISOCK_CLOSED;
		return 0;
	}
	answer = lib_call_wait(s->c, "tcp.close", socket_params, &s->id);
	r = lib_answer_error(s->c, answer);
	cJSON_Delete(answer);
	s->state = TISOCK_CLOSED;
	return r == -EBADF ? 0 : r;
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
	return s && s->state == TISOCK_CONNECTED;
}

TISOCK_PUBLIC void *
tisock_tcp_userdata(const tisock_tcp *s)
{
	return s ? s->userdata : NULL;
}

TISOCK_PUBLIC int64_t
tisock_tcp_id(const tisock_tcp *s)
{
	return s ? s->id : 0;
}

static void
release(tisock_tcp *s)
{
	pump_stop(s);
	for (size_t i = 0; i < s->nstreams; i++)
		lib_stream_socket_gone(s->streams[i]);
	free(s->streams);
	free(s->host);
	free(s);
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
	struct lib_call *call;

	for (size_t i = 0; i < s->nstreams; i++)
		if (s->streams[i] == st) {
			s->streams[i] = s->streams[--s->nstreams];
			break;
		}
	TAILQ_FOREACH(call, &s->c->calls, link) {
		struct io_op *op = call->ctx;

		if (call->tcp == s && (call->done == on_read || call->done == on_write) &&
		    op->st == st)
			op->st = NULL;
	}
	if (s->pump_stream == st)
		s->pump_stream = NULL;
}

TISOCK_PUBLIC tisock_tcp *
tisock_tcp_free(tisock_tcp *s)
{
	tisock_client *c;
	struct lib_call *call;

	if (!s)
		return NULL;
	c = s->c;
	if (s->id && s->state != TISOCK_CLOSED && !c->broken)
		(void) lib_call_start(c, "tcp.close", socket_params, &s->id, NULL, NULL);
	TAILQ_FOREACH(call, &c->calls, link)
		if (call->tcp == s)
			call->tcp = NULL;
	TAILQ_REMOVE(&c->sockets, s, link);
	if (c->in_dispatch)
		TAILQ_INSERT_TAIL(&c->dead, s, link);	/* released after the callback */
	else
		release(s);
	return NULL;
}

/* Releases sockets freed inside callbacks. */
void
lib_tcp_reap(tisock_client *c)
{
	tisock_tcp *s;

	while ((s = TAILQ_FIRST(&c->dead))) {
		TAILQ_REMOVE(&c->dead, s, link);
		release(s);
	}
}

/* The client is closing: every socket is released without a word to the daemon. */
void
lib_tcp_detach_all(tisock_client *c)
{
	tisock_tcp *s;

	while ((s = TAILQ_FIRST(&c->sockets))) {
		TAILQ_REMOVE(&c->sockets, s, link);
		release(s);
	}
	lib_tcp_reap(c);
}

TISOCK_PUBLIC int
tisock_tcp_channel(tisock_tcp *s)
{
	cJSON *answer;
	int r, fd;

	if (!s)
		return -EINVAL;
	if (s->state != TISOCK_CONNECTED)
		return -ENOTCONN;
	answer = lib_call_wait(s->c, "tcp.channel", socket_params, &s->id);
	r = lib_answer_error(s->c, answer);
	if (r == 0 && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(answer, "result"), "fd")))
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

/* Ends async pumping; the handler has had its last call. */
static void
pump_stop(tisock_tcp *s)
{
	if (!s->pump_cb)
		return;
	s->pump_cb = NULL;
	s->pump_buf = tisock_buffer_free(s->pump_buf);
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
		pump_stop(s);
	}
	cb(&ev);
	tisock_buffer_free(last);
}

struct pump_arg {
	int64_t	socket;
	size_t	chunk;
};

static void
pump_params(struct proto_jw *w, const void *arg)
{
	const struct pump_arg *a = arg;

	proto_jw_kint(w, "socket", a->socket);
	proto_jw_kbool(w, "enable", true);
	proto_jw_kuint(w, "chunkSize", a->chunk);
}

static void
on_pump(tisock_client *c, struct lib_call *call, const cJSON *answer)
{
	int r = lib_answer_error(c, answer);

	if (call->tcp && r < 0 && call->tcp->pump_cb)
		pump_event(call->tcp, -1, 0, r, tisock_client_error(c));
}

/*
 * Starts the daemon's push mode on s: every tcp.data goes to cb as a
 * chunk, then one call with -1.  Returns 0 or -errno.
 */
int
lib_tcp_pump(tisock_tcp *s, tisock_stream *st, tisock_stream_cb cb, void *userdata,
	     size_t max_chunk)
{
	struct pump_arg a = { .socket = s->id, .chunk = max_chunk };

	if (s->state != TISOCK_CONNECTED)
		return -ENOTCONN;
	if (s->pump_cb)
		return -EBUSY;
	s->pump_buf = tisock_buffer_create(0);
	if (!s->pump_buf)
		return -ENOMEM;
	s->pump_cb = cb;
	s->pump_userdata = userdata;
	s->pump_stream = st;
	s->c->npumping++;
	if (!lib_call_start(s->c, "tcp.pump", pump_params, &a, on_pump, s)) {
		pump_stop(s);
		return -ENOMEM;
	}
	return 0;
}

static void
pump_data(tisock_tcp *s, const cJSON *params)
{
	int64_t bytes = int_at(params, "bytes", NULL, -2), total = int_at(params, "totalBytes", NULL, 0);
	const char *data = str_at(params, "data", NULL);
	size_t n = data ? strlen(data) : 0;
	ssize_t k;

	if (!s->pump_cb)
		return;
	if (bytes == -1) {
		(void) tisock_buffer_set_length(s->pump_buf, 0);
		pump_event(s, -1, total, 0, NULL);
		return;
	}
	if (!data || tisock_buffer_set_length(s->pump_buf, proto_base64_decoded_max(n)) < 0 ||
	    (k = proto_base64_decode(tisock_buffer_data(s->pump_buf), data, n)) < 0 || k != bytes) {
		pump_event(s, -1, total, -EPROTO, "bad tcp.data");
		return;
	}
	(void) tisock_buffer_set_length(s->pump_buf, (size_t)k);
	pump_event(s, k, total, 0, NULL);
}

/* Routes a notification to its socket. */
bool
lib_tcp_notify(tisock_client *c, const char *method, const cJSON *params)
{
	tisock_tcp *s;

	if (strncmp(method, "tcp.", 4) != 0)
		return false;	/* not the sockets' */
	s = find(c, int_at(params, "socket", NULL, 0));
	if (!s)
		return false;
	if (strcmp(method, "tcp.data") == 0) {
		pump_data(s, params);
	} else if (strcmp(method, "tcp.error") == 0) {
		int code = lib_errno_from_code((int)int_at(params, "code", NULL, PROTO_E_NETWORK),
					       (int)int_at(params, "errno", NULL, 0));

		s->state = TISOCK_ERROR;
		if (s->pump_cb)
			pump_event(s, -1, 0, code, str_at(params, "message", NULL));
		fire(s->error, s, NULL, code, str_at(params, "message", NULL));
	} else if (strcmp(method, "tcp.closed") == 0) {
		s->state = TISOCK_CLOSED;
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
	tisock_tcp *s, *next;

	for (s = TAILQ_FIRST(&c->sockets); s; s = next) {
		next = TAILQ_NEXT(s, link);
		if (s->state == TISOCK_CONNECTED || s->state == TISOCK_LISTENING)
			s->state = TISOCK_ERROR;
		if (s->pump_cb)
			pump_event(s, -1, 0, -EPIPE, "the daemon went away");
	}
}
