/*
 * stream-async: operations with a callback on streams.
 *
 * On socket streams they are the socket's own.  On buffer and fd
 * streams they queue on the stream, in order, and run from the dispatch
 * of the client the stream is bound to (a local client needs no
 * daemon): a buffer stream's at the next dispatch, an fd stream's once
 * its fd is ready (epoll, on a dup of the fd; regular files, which epoll
 * refuses, are always ready).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lib-public.h"
#include "stream.h"
#include "tcp.h"

#define ST_OF(srcp)	((tisock_stream *)((char *)(srcp) - offsetof(tisock_stream, src)))

TISOCK_PUBLIC int
tisock_stream_set_client(tisock_stream *st, tisock_client *c)
{
	if (!st)
		return -EINVAL;
	if (st->kind == STREAM_TCP)
		return -EINVAL;	/* a socket stream uses its socket's client */
	if (st->client == c)
		return 0;
	if (!TAILQ_EMPTY(&st->ops))
		return -EBUSY;
	if (st->client) {
		lib_source_unbind(st->client, &st->src);
		if (st->watch_fd >= 0)
			close(st->watch_fd);
		st->watch_fd = -1;
	}
	st->client = c;
	if (c)
		lib_source_bind(c, &st->src);
	return 0;
}

/* Arms the head operation: scheduled (buffers, regular files) or watched. */
static void
ops_arm(tisock_stream *st)
{
	struct stream_op *op = TAILQ_FIRST(&st->ops);
	uint32_t want;
	int r;

	if (!op) {
		lib_source_quiet(st->client, &st->src);
		return;
	}
	if (st->kind != STREAM_FD || st->always_ready) {
		lib_source_schedule(st->client, &st->src);
		return;
	}
	want = op->kind == OP_WRITE ? EPOLLOUT : EPOLLIN;
	if (st->watch_fd < 0) {
		/* A dup of our own: epoll keys on the fd, and the caller's may be watched already. */
		st->watch_fd = fcntl(st->fd, F_DUPFD_CLOEXEC, 0);
		if (st->watch_fd < 0) {
			st->arm_error = -errno;	/* the operation fails when run */
			lib_source_schedule(st->client, &st->src);
			return;
		}
	}
	r = lib_source_watch(st->client, &st->src, st->watch_fd, want);
	if (r == 0) {
		lib_update(st->client);
		return;
	}
	if (r == -EPERM)
		st->always_ready = true;	/* a regular file: always ready */
	else
		st->arm_error = r;		/* ENOSPC, ENOMEM...: fail, do not spin */
	lib_source_schedule(st->client, &st->src);
}

static int
op_queue(tisock_stream *st, enum op_kind kind, tisock_buffer *buf, size_t offset, size_t length,
	 tisock_stream_cb cb, void *userdata, lib_drop_fn drop)
{
	struct stream_op *op;

	if (!st->client)
		return -ENOTCONN;	/* no client to run the callback from */
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	*op = (struct stream_op){ .kind = kind, .buf = buf, .offset = offset, .length = length,
				  .cb = cb, .drop = drop, .userdata = userdata };
	TAILQ_INSERT_TAIL(&st->ops, op, link);
	st->client->nlocal++;
	if (op == TAILQ_FIRST(&st->ops))
		ops_arm(st);
	return 0;
}

/* Drops every operation without a callback (their drop hooks run). */
void
lib_stream_ops_drop(tisock_stream *st)
{
	struct stream_op *op;

	while ((op = TAILQ_FIRST(&st->ops))) {
		TAILQ_REMOVE(&st->ops, op, link);
		if (op->kind == OP_PUMP)
			tisock_buffer_free(op->buf);
		if (st->client)
			st->client->nlocal--;
		if (op->drop)
			op->drop(op->userdata);
		free(op);
	}
	if (st->client)
		lib_source_quiet(st->client, &st->src);
}

/* The stream is closed: pending operations end with -EBADF from the next dispatch. */
void
lib_stream_ops_end(tisock_stream *st)
{
	if (st->client)
		lib_source_quiet(st->client, &st->src);
	if (st->watch_fd >= 0) {
		/* Our dup must not keep the file open once the caller closes it. */
		close(st->watch_fd);
		st->watch_fd = -1;
	}
	if (st->client && !TAILQ_EMPTY(&st->ops))
		lib_source_schedule(st->client, &st->src);
}

void
lib_stream_detach(struct lib_source *src)
{
	tisock_stream *st = ST_OF(src);

	lib_stream_ops_drop(st);
	(void) tisock_stream_set_client(st, NULL);
}

/* Runs a step of op.  Returns 1 when it has a result in *res, 0 to wait for the fd. */
static int
op_step(tisock_stream *st, struct stream_op *op, ssize_t *res)
{
	ssize_t r;

	if (st->kind == STREAM_CLOSED) {
		*res = -EBADF;
		return 1;
	}
	if (st->arm_error) {
		*res = st->arm_error;
		st->arm_error = 0;	/* the next operation tries again */
		return 1;
	}
	if (op->kind == OP_PUMP)
		(void) tisock_buffer_set_length(op->buf, op->length);
	if (op->offset > tisock_buffer_length(op->buf) ||
	    op->length > tisock_buffer_length(op->buf) - op->offset) {
		*res = -EINVAL;	/* the caller's buffer shrank meanwhile */
		return 1;
	}
	if (st->kind == STREAM_BUFFER) {
		*res = op->kind == OP_WRITE
			? tisock_stream_write(st, op->buf, op->offset, (ssize_t)op->length)
			: tisock_stream_read(st, op->buf, op->offset, (ssize_t)op->length);
		return 1;
	}
	if (op->kind == OP_WRITE) {
		r = lib_fd_write_step(st, (const char *)tisock_buffer_cdata(op->buf) + op->offset +
				      op->done, op->length - op->done);
		if (r < 0) {
			*res = r;
			return 1;
		}
		op->done += (size_t)r;
		*res = (ssize_t)op->done;
		return op->done == op->length;
	}
	r = lib_fd_read_step(st, tisock_buffer_data(op->buf) + op->offset, op->length);
	if (r == -EAGAIN)
		return 0;
	*res = r;
	return 1;
}

void
lib_stream_run(struct lib_source *src)
{
	tisock_stream *st = ST_OF(src);
	tisock_client *c = st->client;
	struct stream_op *op = TAILQ_FIRST(&st->ops);
	struct tisock_stream_event ev = { .source = st };
	bool last;
	ssize_t r;

	if (!op)
		return;
	if (!op_step(st, op, &r)) {
		ops_arm(st);	/* readiness was taken: watch again */
		return;
	}
	last = op->kind != OP_PUMP || r < 0;
	if (op->kind == OP_PUMP) {
		(void) tisock_buffer_set_length(op->buf, r > 0 ? (size_t)r : 0);
		if (r > 0)
			op->total += r;
		ev.total_bytes_processed = op->total;
	}
	ev.buffer = op->buf;
	ev.bytes_processed = r < -1 ? -1 : r;
	ev.success = r >= -1;
	ev.code = r < -1 ? (int)r : 0;
	ev.error = r < -1 ? (r == -EBADF ? "stream closed or not opened for this" : "I/O error") : "";
	ev.userdata = op->userdata;
	if (last) {
		/* Off the queue before the callback, which may queue more or rebind. */
		TAILQ_REMOVE(&st->ops, op, link);
		c->nlocal--;
	}
	st->in_callback++;
	if (op->cb)
		op->cb(&ev);
	st->in_callback--;
	if (last) {
		if (op->kind == OP_PUMP)
			tisock_buffer_free(op->buf);
		free(op);
	}
	if (st->freed) {
		if (st->in_callback == 0)
			tisock_stream_free(st);
		return;
	}
	if (st->client)
		ops_arm(st);
}

/*
 * An asynchronous read or write on st, of any kind; drop (may be NULL)
 * is called instead of cb if the operation is dropped unfinished (the
 * stream or its socket freed, the client closed).  0 or -errno.
 */
int
lib_stream_async(tisock_stream *st, enum op_kind kind, tisock_buffer *buf, size_t offset,
		 ssize_t length, tisock_stream_cb cb, void *userdata, lib_drop_fn drop)
{
	size_t n;

	if (!st || lib_stream_range(buf, offset, length, &n) < 0)
		return -EINVAL;
	if (st->kind == STREAM_TCP)
		return lib_tcp_io_async(st->tcp, st, buf, offset, (ssize_t)n, cb, userdata, drop,
					kind == OP_READ);
	if (st->kind == STREAM_CLOSED)
		return -EBADF;
	if (!st->duplex &&
	    (kind == OP_READ ? st->mode != TISOCK_MODE_READ : st->mode == TISOCK_MODE_READ))
		return -EBADF;
	return op_queue(st, kind, buf, offset, n, cb, userdata, drop);
}

TISOCK_PUBLIC int
tisock_stream_read_async(tisock_stream *st, tisock_buffer *buf, size_t offset, ssize_t length,
			 tisock_stream_cb cb, void *userdata)
{
	return lib_stream_async(st, OP_READ, buf, offset, length, cb, userdata, NULL);
}

TISOCK_PUBLIC int
tisock_stream_write_async(tisock_stream *st, const tisock_buffer *buf, size_t offset,
			  ssize_t length, tisock_stream_cb cb, void *userdata)
{
	return lib_stream_async(st, OP_WRITE, (tisock_buffer *)buf, offset, length, cb, userdata,
				NULL);
}

/* Asynchronous pump on a buffer or fd stream: an OP_PUMP that reads until the end. */
int
lib_stream_pump_async(tisock_stream *st, tisock_stream_cb handler, void *userdata,
		      size_t max_chunk)
{
	tisock_buffer *chunk;
	int r;

	if (st->kind == STREAM_CLOSED || (st->mode != TISOCK_MODE_READ && !st->duplex))
		return -EBADF;
	if (!st->client)
		return -ENOTCONN;
	chunk = tisock_buffer_create(max_chunk);
	if (!chunk)
		return -ENOMEM;
	r = op_queue(st, OP_PUMP, chunk, 0, max_chunk, handler, userdata, NULL);
	if (r < 0)
		tisock_buffer_free(chunk);
	return r;
}
