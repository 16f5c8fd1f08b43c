/*
 * tcp-io: reading and writing a socket, blocking (tisock_tcp_read,
 * tisock_tcp_write) and with a callback (tisock_tcp_read_async,
 * tisock_tcp_write_async, and the stream functions over sockets).
 *
 * A blocking read with a client timeout hands the timeout to the daemon
 * (tcp.read's own), so that a read that times out loses no byte: the
 * daemon answers -32006 and keeps what arrives for the next read.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "lib-public.h"
#include "proto-base64.h"
#include "proto-client.h"
#include "proto-errors.h"
#include "tcp.h"

#define TCP_WRITE_CHUNK (4u << 20)	/* bytes per tcp.write request of a blocking write */
/*
 * The most an asynchronous write takes: one tcp.write, whose line (base64
 * and framing) stays under the daemon's default max-message-bytes, 16 MiB.
 * One request is accepted or refused whole; several sent at once could be
 * refused in part (a budget), leaving a gap in the stream.
 */
#define TCP_WRITE_ASYNC_MAX ((12u << 20) - (64u << 10))

/* An async read or write in flight: one request. */
struct io_op {
	tisock_stream		*st;		/* the stream, for tisock_stream_*_async */
	tisock_buffer		*buf;		/* where a read lands */
	size_t			 offset, length;
	tisock_stream_cb	 cb;
	void			*userdata;
	void			(*drop)(void *userdata);	/* instead of cb when dropped */
	bool			 called;	/* cb ran */
};

/* Frees an operation; one whose callback never ran is dropped. */
static void
io_op_free(void *ctx)
{
	struct io_op *op = ctx;

	if (!op->called && op->drop)
		op->drop(op->userdata);
	free(op);
}

/* Resolves a buffer range as Titanium does.  Returns 0 or -EINVAL. */
int
lib_buffer_range(const tisock_buffer *buf, size_t offset, ssize_t length, size_t *ret)
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

/* A network error (a reset) leaves s in TISOCK_ERROR, as the daemon's socket is. */
void
lib_tcp_network_error(tisock_tcp *s, int r)
{
	if (r < -1 && r != -ETIMEDOUT && r != -ECANCELED && s->c->err.code == PROTO_E_NETWORK)
		s->state = TISOCK_ERROR;
}

/*
 * Copies the data of a read answer into buf[offset, +length).  Returns
 * the bytes, -1 at the end of stream, or -errno.
 */
static ssize_t
take_read(tisock_client *c, const struct lib_call *call, const cJSON *answer,
	  tisock_buffer *buf, size_t offset, size_t length)
{
	struct proto_tcp_bytes_result res;
	size_t size = tisock_buffer_length(buf), room = size > offset ? size - offset : 0, max;
	uint8_t *to, *tmp = NULL;
	ssize_t k;
	int r = lib_answer_result(c, call, answer, PROTO_M_TCP_READ, &res);

	if (r < 0)
		return r;
	if (res.bytes == -1)
		return -1;
	if (!res.data.s || res.bytes < 0 || (size_t)res.bytes > length)
		return -EPROTO;
	if ((size_t)res.bytes > room) {
		/* An async read's buffer shrank meanwhile: nowhere to put the bytes. */
		lib_set_error(c, 0, "the read's buffer shrank before its data came");
		return -EINVAL;
	}
	max = proto_base64_decoded_max(res.data.len);
	to = tisock_buffer_data(buf) + offset;
	if (max > room && !(to = tmp = malloc(max + 1)))
		return -ENOMEM;
	k = proto_base64_decode(to, res.data.s, res.data.len);
	if (k >= 0 && k == res.bytes && tmp)
		memcpy(tisock_buffer_data(buf) + offset, tmp, (size_t)k);
	free(tmp);
	if (k < 0 || k != res.bytes) {
		lib_set_error(c, 0, "malformed read answer from the daemon");
		return -EPROTO;
	}
	return k;
}

TISOCK_PUBLIC ssize_t
tisock_tcp_read(tisock_tcp *s, tisock_buffer *buf, size_t offset, ssize_t length)
{
	struct proto_tcp_read_args a;
	cJSON *answer = NULL;
	ssize_t r;
	size_t n;
	int t;

	if (!s || lib_buffer_range(buf, offset, length, &n) < 0)
		return -EINVAL;
	if (s->state != TISOCK_CONNECTED)
		return -ENOTCONN;
	if (n == 0)
		return 0;
	t = s->c->timeout_ms;
	a = (struct proto_tcp_read_args){ .socket = s->id,
		.length = n > PROTO_CHUNK_MAX ? PROTO_CHUNK_MAX : (int64_t)n,
		.timeout = t > 0 ? t : -1 };
	r = lib_call_wait_ms(s->c, PROTO_M_TCP_READ, &a, t > 0 ? t + LIB_WAIT_GRACE_MS : 0,
			     &answer);
	if (r == 0)
		r = take_read(s->c, NULL, answer, buf, offset, n);
	if (r == -1)
		lib_tls_closed(s, cJSON_GetObjectItemCaseSensitive(answer, "result"));
	cJSON_Delete(answer);
	lib_tcp_network_error(s, (int)r);
	return r;
}

TISOCK_PUBLIC ssize_t
tisock_tcp_write(tisock_tcp *s, const tisock_buffer *buf, size_t offset, ssize_t length)
{
	size_t n, done = 0;

	if (!s || lib_buffer_range(buf, offset, length, &n) < 0)
		return -EINVAL;
	if (s->state != TISOCK_CONNECTED)
		return -ENOTCONN;
	if (s->shut_wr)
		return -EPIPE;
	do {
		struct proto_tcp_write_args a = { .socket = s->id };
		struct proto_tcp_bytes_result res;
		cJSON *answer = NULL;
		size_t chunk = n - done < TCP_WRITE_CHUNK ? n - done : TCP_WRITE_CHUNK;
		int r;

		a.data = (struct proto_str){ (const char *)tisock_buffer_cdata(buf) + offset + done,
					     chunk };
		r = lib_call_wait(s->c, PROTO_M_TCP_WRITE, &a, &answer);
		if (r == 0)
			r = lib_answer_result(s->c, NULL, answer, PROTO_M_TCP_WRITE, &res);
		cJSON_Delete(answer);
		if (r < 0) {
			lib_tcp_network_error(s, r);
			return r;
		}
		done += chunk;
	} while (done < n);
	return (ssize_t)n;
}

static void
io_done(tisock_client *c, struct lib_call *call, const cJSON *answer, bool is_read)
{
	struct io_op *op = call->ctx;
	struct tisock_stream_event ev = { .source = op->st, .socket = call->tcp, .buffer = op->buf,
					  .userdata = op->userdata };
	struct proto_tcp_bytes_result res;
	ssize_t r;

	if (!call->tcp || op->called)
		return;
	if (is_read) {
		r = take_read(c, call, answer, op->buf, op->offset, op->length);
		if (r == -1)
			lib_tls_closed(call->tcp,
				       cJSON_GetObjectItemCaseSensitive(answer, "result"));
	} else {
		r = lib_answer_result(c, call, answer, PROTO_M_TCP_WRITE, &res);
		if (r == 0)
			r = (ssize_t)op->length;
	}
	ev.bytes_processed = r < -1 ? -1 : r;
	ev.success = r >= -1;
	ev.code = r < -1 ? (int)r : 0;
	ev.error = r < -1 ? tisock_client_error(c) : "";
	lib_tcp_network_error(call->tcp, (int)r);
	op->called = true;
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

/*
 * Asynchronous read or write on s, reported as coming from st (may be
 * NULL).  A read takes at most PROTO_CHUNK_MAX bytes (a read may always
 * return fewer than asked); a write at most TCP_WRITE_ASYNC_MAX, its
 * bytes copied into its request at once, with the client's timeout.
 * drop (may be NULL) is called instead of cb if the operation ends
 * without it (the socket freed).  Returns 0 or -errno.
 */
int
lib_tcp_io_async(tisock_tcp *s, tisock_stream *st, tisock_buffer *buf, size_t offset,
		 ssize_t length, tisock_stream_cb cb, void *userdata, void (*drop)(void *userdata),
		 bool is_read)
{
	struct io_op *op;
	struct lib_call *call;
	size_t n;
	int r;

	if (!s || lib_buffer_range(buf, offset, length, &n) < 0 || (is_read && n == 0))
		return -EINVAL;
	if (is_read && n > PROTO_CHUNK_MAX)
		n = PROTO_CHUNK_MAX;	/* one request: what came, up to 16 MiB */
	if (!is_read && n > TCP_WRITE_ASYNC_MAX)
		return -EINVAL;
	if (s->state != TISOCK_CONNECTED)
		return -ENOTCONN;
	if (!is_read && s->shut_wr)
		return -EPIPE;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	*op = (struct io_op){ .st = st, .buf = buf, .offset = offset, .length = n, .cb = cb,
			      .userdata = userdata, .drop = drop };
	if (is_read) {
		struct proto_tcp_read_args a = { .socket = s->id, .length = (int64_t)n,
						 .timeout = -1 };

		r = lib_call_start(s->c, PROTO_M_TCP_READ, &a, on_read, s, 0, &call);
	} else {
		struct proto_tcp_write_args a = { .socket = s->id,
			.data = { (const char *)tisock_buffer_cdata(buf) + offset, n } };

		r = lib_call_start(s->c, PROTO_M_TCP_WRITE, &a, on_write, s, LIB_CALL_DEADLINE,
				   &call);
	}
	if (r < 0) {
		free(op);
		return r;
	}
	call->ctx = op;
	call->ctx_free = io_op_free;
	return 0;
}

TISOCK_PUBLIC int
tisock_tcp_read_async(tisock_tcp *s, tisock_buffer *buf, size_t offset, ssize_t length,
		      tisock_stream_cb cb, void *userdata)
{
	return lib_tcp_io_async(s, NULL, buf, offset, length, cb, userdata, NULL, true);
}

TISOCK_PUBLIC int
tisock_tcp_write_async(tisock_tcp *s, const tisock_buffer *buf, size_t offset, ssize_t length,
		       tisock_stream_cb cb, void *userdata)
{
	return lib_tcp_io_async(s, NULL, (tisock_buffer *)buf, offset, length, cb, userdata, NULL,
				false);
}

/* st no longer stands for s: its operations in flight report no source. */
void
lib_tcp_io_unsource(tisock_tcp *s, tisock_stream *st)
{
	struct lib_call *call;

	TAILQ_FOREACH(call, &s->calls, tcp_link) {
		struct io_op *op = call->ctx;

		if ((call->done == on_read || call->done == on_write) && op->st == st)
			op->st = NULL;
	}
}
