/*
 * stream-copy: Ti.Stream's helpers, written on top of read and write so
 * that they work on every kind of stream: readAll, writeStream and pump,
 * blocking and with callbacks.
 *
 * The callback forms are jobs: a chain of asynchronous reads (and
 * writes), one in flight at a time, so a slow destination slows the
 * source.  A job is linked to its streams: closing or freeing either
 * ends it without its callback (an operation it has in flight finishes
 * first, unseen).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "lib-public.h"
#include "stream.h"
#include "tcp.h"

#define STREAM_CHUNK	65536		/* read_all's chunk */
#define COPY_CHUNK_MAX	(4u << 20)	/* write_stream's largest chunk (one tcp.write) */

struct stream_job {
	TAILQ_ENTRY(stream_job)	 from_link;	/* in->jobs_from */
	TAILQ_ENTRY(stream_job)	 to_link;	/* out->jobs_to (write_stream) */
	tisock_stream		*in, *out;	/* NULL once cancelled */
	tisock_buffer		*buf;		/* read_all: the caller's; else our chunk */
	bool			 owns_buf;
	size_t			 chunk;
	int64_t			 total;
	bool			 busy;		/* an operation is in flight */
	bool			 cancelled;
	tisock_stream_cb	 cb;
	void			*userdata;
};

TISOCK_PUBLIC ssize_t
tisock_stream_read_all(tisock_stream *in, tisock_buffer *buf)
{
	size_t total = 0;

	if (!in || !buf)
		return -EINVAL;
	for (;;) {
		size_t at = tisock_buffer_length(buf);
		ssize_t n;
		int r = tisock_buffer_set_length(buf, at + STREAM_CHUNK);

		if (r < 0)
			return r;
		n = tisock_stream_read(in, buf, at, STREAM_CHUNK);
		(void) tisock_buffer_set_length(buf, at + (n > 0 ? (size_t)n : 0));
		if (n == -1)
			return (ssize_t)total;
		if (n < 0)
			return n;
		total += (size_t)n;
	}
}

TISOCK_PUBLIC tisock_buffer *
tisock_stream_read_all_new(tisock_stream *in)
{
	tisock_buffer *b;
	ssize_t r;

	if (!in) {
		errno = EINVAL;
		return NULL;
	}
	b = tisock_buffer_create(0);
	if (!b)
		return NULL;
	r = tisock_stream_read_all(in, b);
	if (r < 0) {
		tisock_buffer_free(b);
		errno = (int)-r;
		return NULL;
	}
	return b;
}

TISOCK_PUBLIC ssize_t
tisock_stream_write_stream(tisock_stream *in, tisock_stream *out, size_t max_chunk)
{
	tisock_buffer *chunk;
	ssize_t total = 0, n, w;

	if (!in || !out || max_chunk == 0)
		return -EINVAL;
	chunk = tisock_buffer_create(max_chunk);
	if (!chunk)
		return -ENOMEM;
	while ((n = tisock_stream_read(in, chunk, 0, TISOCK_ALL)) > 0) {
		w = tisock_stream_write(out, chunk, 0, n);
		if (w < 0) {
			total = w;
			break;
		}
		total += w;
	}
	tisock_buffer_free(chunk);
	return n < -1 ? n : total;
}

TISOCK_PUBLIC ssize_t
tisock_stream_pump(tisock_stream *in, tisock_stream_cb handler, void *userdata, size_t max_chunk,
		   int is_async)
{
	struct tisock_stream_event ev = { .source = in, .userdata = userdata };
	tisock_buffer *chunk;
	ssize_t n;

	if (!in || !handler || max_chunk == 0)
		return -EINVAL;
	if (is_async) {
		/* On a socket: the daemon pushes tcp.data; chunks arrive from dispatch. */
		if (in->kind != STREAM_TCP)
			return lib_stream_pump_async(in, handler, userdata, max_chunk);
		return lib_tcp_pump(in->tcp, in, handler, userdata, max_chunk);
	}
	chunk = tisock_buffer_create(max_chunk);
	if (!chunk)
		return -ENOMEM;
	ev.buffer = chunk;
	ev.socket = in->kind == STREAM_TCP ? in->tcp : NULL;
	for (;;) {
		(void) tisock_buffer_set_length(chunk, max_chunk);
		n = tisock_stream_read(in, chunk, 0, TISOCK_ALL);
		if (n < 0)
			break;
		(void) tisock_buffer_set_length(chunk, (size_t)n);
		ev.bytes_processed = n;
		ev.total_bytes_processed += n;
		ev.success = 1;
		ev.error = "";
		handler(&ev);
	}
	/* The end (-1), or an error: one last call either way. */
	(void) tisock_buffer_set_length(chunk, 0);
	ev.bytes_processed = -1;
	ev.success = n == -1;
	ev.code = n == -1 ? 0 : (int)n;
	ev.error = n == -1 ? "" : "read failed";
	handler(&ev);
	tisock_buffer_free(chunk);
	return n == -1 ? (ssize_t)ev.total_bytes_processed : n;
}

/* ---- callback forms ------------------------------------------------------ */

static void
job_unlink(struct stream_job *j)
{
	if (j->in)
		TAILQ_REMOVE(&j->in->jobs_from, j, from_link);
	if (j->out)
		TAILQ_REMOVE(&j->out->jobs_to, j, to_link);
	j->in = j->out = NULL;
}

static void
job_free(struct stream_job *j)
{
	job_unlink(j);
	if (j->owns_buf)
		tisock_buffer_free(j->buf);
	free(j);
}

/* An operation of j was dropped (its stream, socket or client went away). */
static void
job_dropped(void *userdata)
{
	job_free(userdata);
}

/* st is closed or freed: its jobs end without their callbacks. */
void
lib_stream_jobs_cancel(tisock_stream *st)
{
	struct stream_job *j;

	while ((j = TAILQ_FIRST(&st->jobs_from)) || (j = TAILQ_FIRST(&st->jobs_to))) {
		job_unlink(j);
		j->cancelled = true;
		if (!j->busy)
			job_free(j);	/* else freed when its operation ends */
	}
}

/* The job's end: its callback, with the total or the error code. */
static void
job_finish(struct stream_job *j, int code)
{
	struct tisock_stream_event ev = {
		.source = j->in, .destination = j->out, .buffer = j->owns_buf ? NULL : j->buf,
		.bytes_processed = code < 0 ? -1 : (ssize_t)j->total,
		.total_bytes_processed = j->total, .success = code == 0, .code = code,
		.error = code == 0 ? "" : code == -EBADF ? "stream closed or not opened for this"
							 : "I/O error",
		.userdata = j->userdata,
	};
	tisock_stream_cb cb = j->cb;

	if (!j->owns_buf)
		(void) tisock_buffer_set_length(j->buf, (size_t)j->total);
	job_free(j);	/* first: the callback may free the streams */
	cb(&ev);
}

static void on_all_read(const struct tisock_stream_event *ev);

/* Reads the next chunk of a read_all job into buf at total.  0 or -errno. */
static int
read_all_step(struct stream_job *j)
{
	int r = tisock_buffer_set_length(j->buf, (size_t)j->total + STREAM_CHUNK);

	if (r == 0)
		r = lib_stream_async(j->in, OP_READ, j->buf, (size_t)j->total, STREAM_CHUNK,
				     on_all_read, j, job_dropped);
	j->busy = r == 0;
	return r;
}

static void
on_all_read(const struct tisock_stream_event *ev)
{
	struct stream_job *j = ev->userdata;
	int r;

	j->busy = false;
	if (j->cancelled) {
		job_free(j);
		return;
	}
	if (ev->bytes_processed > 0) {
		j->total += ev->bytes_processed;
		r = read_all_step(j);
		if (r < 0)
			job_finish(j, r);
		return;
	}
	job_finish(j, ev->success ? 0 : ev->code);
}

TISOCK_PUBLIC int
tisock_stream_read_all_async(tisock_stream *in, tisock_buffer *buf, tisock_stream_cb cb,
			     void *userdata)
{
	struct stream_job *j;
	int r;

	if (!in || !buf || !cb)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct stream_job){ .in = in, .buf = buf, .cb = cb, .userdata = userdata };
	r = read_all_step(j);
	if (r < 0) {
		(void) tisock_buffer_set_length(buf, 0);
		free(j);
		return r;
	}
	TAILQ_INSERT_TAIL(&in->jobs_from, j, from_link);
	return 0;
}

static void on_copy_read(const struct tisock_stream_event *ev);

static int
copy_step(struct stream_job *j)
{
	int r;

	(void) tisock_buffer_set_length(j->buf, j->chunk);
	r = lib_stream_async(j->in, OP_READ, j->buf, 0, TISOCK_ALL, on_copy_read, j, job_dropped);
	j->busy = r == 0;
	return r;
}

static void
on_copy_written(const struct tisock_stream_event *ev)
{
	struct stream_job *j = ev->userdata;
	int r;

	j->busy = false;
	if (j->cancelled) {
		job_free(j);
		return;
	}
	if (!ev->success) {
		job_finish(j, ev->code);
		return;
	}
	j->total += ev->bytes_processed;
	r = copy_step(j);
	if (r < 0)
		job_finish(j, r);
}

static void
on_copy_read(const struct tisock_stream_event *ev)
{
	struct stream_job *j = ev->userdata;
	int r;

	j->busy = false;
	if (j->cancelled) {
		job_free(j);
		return;
	}
	if (ev->bytes_processed <= 0) {
		job_finish(j, ev->success ? 0 : ev->code);
		return;
	}
	r = lib_stream_async(j->out, OP_WRITE, j->buf, 0, ev->bytes_processed, on_copy_written, j,
			     job_dropped);
	j->busy = r == 0;
	if (r < 0)
		job_finish(j, r);
}

TISOCK_PUBLIC int
tisock_stream_write_stream_async(tisock_stream *in, tisock_stream *out, size_t max_chunk,
				 tisock_stream_cb cb, void *userdata)
{
	struct stream_job *j;
	int r;

	if (!in || !out || in == out || max_chunk == 0 || !cb)
		return -EINVAL;
	if (!tisock_stream_is_writable(out))
		return -EBADF;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct stream_job){ .in = in, .out = out, .owns_buf = true, .cb = cb,
				  .userdata = userdata,
				  .chunk = max_chunk > COPY_CHUNK_MAX ? COPY_CHUNK_MAX : max_chunk };
	j->buf = tisock_buffer_create(j->chunk);
	r = j->buf ? copy_step(j) : -ENOMEM;
	if (r < 0) {
		tisock_buffer_free(j->buf);
		free(j);
		return r;
	}
	TAILQ_INSERT_TAIL(&in->jobs_from, j, from_link);
	TAILQ_INSERT_TAIL(&out->jobs_to, j, to_link);
	return 0;
}
