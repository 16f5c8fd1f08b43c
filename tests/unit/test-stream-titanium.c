/*
 * test-stream-titanium: Ti.Stream and Ti.Filesystem streams as
 * Titanium's own suites use them (ti.stream.test.js: readAll,
 * writeStream, asyncRead, asyncWrite, pump, "pump - handler should be
 * called (TIMOB-28324)"; ti.filesystem tests: fileStreamWriteTest,
 * fileStreamAppendTest, fileStreamTruncateTest), the callback forms
 * running on a local client: no daemon anywhere.  The file plays the
 * part of Titanium's blob ("streamfile.txt").
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <tisock/tisock.h>
#include <tisock/adapters/libev.h>

#define SOURCE	"All work and no play makes Jack a dull boy all work and no play makes Jack a " \
		"dull boy all work and no play makes Jack a dull boy ALL WORK AND NO PLAY MAKES " \
		"JACK A DULL BOY"
#define FILETEXT "This is my text1 This is my text2 This is my text3 This is my text4 This is " \
		 "my text5 This is my text6 This is my text7"
#define PARTY	"huray for data, lets have a party for data1 huray for data, lets have a party " \
		"for data2 huray for data, lets have a party for data3"

static char dir[64], streamfile[96], outfile[96];

struct seen {
	int			 calls, ended, errors;
	ssize_t			 bytes;
	int64_t			 total;
	tisock_stream		*source, *destination;
	tisock_buffer		*buffer;
};

static void
on_event(const struct tisock_stream_event *ev)
{
	struct seen *s = ev->userdata;

	s->calls++;
	s->bytes = ev->bytes_processed;
	s->total = ev->total_bytes_processed;
	s->source = ev->source;
	s->destination = ev->destination;
	s->buffer = ev->buffer;
	s->errors += !ev->success;
	s->ended += ev->bytes_processed == -1;
	assert_true(ev->success == (ev->code == 0));
}

static void
run_until(tisock_client *c, const int *flag, int want)
{
	for (int i = 0; *flag < want && i < 1000; i++)
		assert_true(tisock_client_dispatch(c, 100) >= 0);
	assert_int_equal(*flag, want);
}

static tisock_buffer *
text(const char *s)
{
	return tisock_buffer_from_string(s, TISOCK_ALL, TISOCK_CHARSET_DEFAULT);
}

static int
setup(void **state)
{
	tisock_buffer *b = text(FILETEXT);
	tisock_stream *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tisock-stream-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(streamfile, sizeof(streamfile), "%s/streamfile.txt", dir);
	snprintf(outfile, sizeof(outfile), "%s/stream_test_out.txt", dir);
	f = tisock_stream_open(streamfile, TISOCK_MODE_WRITE);
	if (!f || tisock_stream_write(f, b, 0, TISOCK_ALL) != 118)
		return -1;
	tisock_stream_free(f);
	tisock_buffer_free(b);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(streamfile);
	unlink(outfile);
	return rmdir(dir);
}

/* ti.stream.test.js 'readAll': both of Titanium's forms. */
static void
read_all(void **state)
{
	tisock_client *c = tisock_client_open_local();
	tisock_buffer *src = text(SOURCE), *all, *dest = tisock_buffer_create(118);
	tisock_stream *bs = tisock_stream_create(src, TISOCK_MODE_READ);
	tisock_stream *blob = tisock_stream_open(streamfile, TISOCK_MODE_READ);
	struct seen seen = { 0 };

	(void)state;
	all = tisock_stream_read_all_new(bs);
	assert_non_null(all);
	assert_int_equal(tisock_buffer_length(all), 171);
	assert_memory_equal(tisock_buffer_data(all), SOURCE, 171);
	/* readAll(blobStream, dest, cb): dest is filled from 0, its length the total. */
	assert_int_equal(tisock_stream_read_all_async(blob, dest, on_event, &seen), -ENOTCONN);
	assert_int_equal(tisock_stream_set_client(blob, c), 0);
	assert_int_equal(tisock_stream_read_all_async(blob, dest, on_event, &seen), 0);
	assert_int_equal(seen.calls, 0);
	run_until(c, &seen.calls, 1);
	assert_int_equal(seen.bytes, 118);
	assert_int_equal(seen.errors, 0);
	assert_ptr_equal(seen.source, blob);
	assert_ptr_equal(seen.buffer, dest);
	assert_int_equal(tisock_buffer_length(dest), 118);
	assert_memory_equal(tisock_buffer_data(dest), FILETEXT, 118);
	/* The appending form, beside it, keeps what the buffer held. */
	tisock_stream_free(bs);
	bs = tisock_stream_create(src, TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_read_all(bs, dest), 171);
	assert_int_equal(tisock_buffer_length(dest), 118 + 171);
	assert_memory_equal(tisock_buffer_data(dest) + 118, SOURCE, 171);
	/* At the end: a new buffer of length 0. */
	tisock_buffer_free(all);
	all = tisock_stream_read_all_new(bs);
	assert_int_equal(tisock_buffer_length(all), 0);
	tisock_buffer_free(all);
	tisock_stream_free(bs);
	tisock_stream_free(blob);
	tisock_buffer_free(src);
	tisock_buffer_free(dest);
	tisock_client_close(c);
}

/* ti.stream.test.js 'writeStream': the blocking form, then the callback form. */
static void
write_stream(void **state)
{
	tisock_client *c = tisock_client_open_local();
	tisock_buffer *src = text(SOURCE), *dest = tisock_buffer_create(100);
	tisock_stream *ds = tisock_stream_create(dest, TISOCK_MODE_WRITE);
	tisock_stream *blob = tisock_stream_open(streamfile, TISOCK_MODE_READ), *ds2, *bs;
	struct seen seen = { 0 };

	(void)state;
	assert_int_equal(tisock_stream_write_stream(blob, ds, 10), 118);
	assert_int_equal(tisock_buffer_length(dest), 118);	/* grew past 100 */
	assert_memory_equal(tisock_buffer_data(dest), FILETEXT, 118);
	ds2 = tisock_stream_create(dest, TISOCK_MODE_WRITE);
	bs = tisock_stream_create(src, TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_set_client(bs, c), 0);
	assert_int_equal(tisock_stream_set_client(ds2, c), 0);
	assert_int_equal(tisock_stream_write_stream_async(bs, ds2, 20, on_event, &seen), 0);
	run_until(c, &seen.calls, 1);
	assert_int_equal(seen.bytes, (ssize_t)tisock_buffer_length(dest));
	assert_int_equal(seen.bytes, 171);
	assert_ptr_equal(seen.source, bs);
	assert_ptr_equal(seen.destination, ds2);
	assert_memory_equal(tisock_buffer_data(dest), SOURCE, 171);
	/* Freeing a stream ends the copy without its callback. */
	tisock_stream_free(bs);
	bs = tisock_stream_create(src, TISOCK_MODE_READ);
	tisock_stream_set_client(bs, c);
	assert_int_equal(tisock_stream_write_stream_async(bs, ds2, 20, on_event, &seen), 0);
	tisock_stream_free(ds2);
	assert_int_equal(tisock_client_run(c), 0);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(tisock_stream_write_stream_async(bs, bs, 20, on_event, &seen), -EINVAL);
	tisock_stream_free(bs);
	tisock_stream_free(ds);
	tisock_stream_free(blob);
	tisock_buffer_free(src);
	tisock_buffer_free(dest);
	tisock_client_close(c);
}

/* ti.stream.test.js 'asyncRead' and 'asyncWrite', on a local client. */
static void
async_read_and_write(void **state)
{
	tisock_client *c = tisock_client_open_local();
	tisock_buffer *src = text(SOURCE), *dest = tisock_buffer_create(50), *wdest;
	tisock_stream *bs = tisock_stream_create(src, TISOCK_MODE_READ), *blob, *ws;
	struct seen seen = { 0 };

	(void)state;
	tisock_stream_set_client(bs, c);
	assert_int_equal(tisock_stream_read_async(bs, dest, 0, TISOCK_ALL, on_event, &seen), 0);
	run_until(c, &seen.calls, 1);
	assert_int_equal(seen.bytes, 50);
	assert_memory_equal(tisock_buffer_data(dest), SOURCE, 50);
	blob = tisock_stream_open(streamfile, TISOCK_MODE_READ);
	tisock_stream_set_client(blob, c);
	assert_int_equal(tisock_stream_read_async(blob, dest, 10, 20, on_event, &seen), 0);
	run_until(c, &seen.calls, 2);
	assert_int_equal(seen.bytes, 20);
	assert_memory_equal(tisock_buffer_data(dest) + 10, FILETEXT, 20);

	wdest = tisock_buffer_create(171);
	ws = tisock_stream_create(wdest, TISOCK_MODE_WRITE);
	tisock_stream_set_client(ws, c);
	assert_int_equal(tisock_stream_write_async(ws, src, 10, 20, on_event, &seen), 0);
	run_until(c, &seen.calls, 3);
	assert_int_equal(seen.bytes, 20);
	assert_memory_equal(tisock_buffer_data(wdest), SOURCE + 10, 20);
	assert_int_equal(tisock_stream_write_async(ws, src, 0, TISOCK_ALL, on_event, &seen), 0);
	run_until(c, &seen.calls, 4);
	assert_int_equal(seen.bytes, 171);
	assert_memory_equal(tisock_buffer_data(wdest) + 20, SOURCE, tisock_buffer_length(wdest) - 20);
	/* A local client has no daemon. */
	assert_int_equal(tisock_client_call(c, "daemon.info", NULL, NULL), -ENOTCONN);
	assert_int_equal(tisock_tcp_connect(tisock_tcp_create(c, &(struct tisock_tcp_options){
		.port = 80 })), -ENOTCONN);
	assert_false(tisock_client_pending(c));
	tisock_stream_free(ws);
	tisock_stream_free(blob);
	tisock_stream_free(bs);
	tisock_buffer_free(src);
	tisock_buffer_free(dest);
	tisock_buffer_free(wdest);
	tisock_client_close(c);
}

static void
on_chunk(const struct tisock_stream_event *ev)
{
	struct seen *s = ev->userdata;

	if (ev->bytes_processed != -1) {
		assert_true(ev->bytes_processed > 0 && ev->bytes_processed <= 20);
		assert_int_equal(tisock_buffer_length(ev->buffer), (size_t)ev->bytes_processed);
		assert_int_equal(ev->total_bytes_processed, s->total + ev->bytes_processed);
	}
	on_event(ev);
}

/* ti.stream.test.js 'pump' and TIMOB-28324, the async pump under libev. */
static void
pump(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	tisock_client *c = tisock_client_open_local();
	tisock_buffer *src = text(SOURCE);
	tisock_stream *bs = tisock_stream_create(src, TISOCK_MODE_READ);
	tisock_stream *file = tisock_stream_open(streamfile, TISOCK_MODE_READ);
	struct seen seen = { 0 };

	(void)state;
	assert_int_equal(tisock_stream_pump(bs, on_chunk, &seen, 20, 0), 171);
	assert_int_equal(seen.calls, 9 + 1);	/* 8 x 20, 11, then -1 */
	assert_int_equal(seen.total, 171);
	/* The handler has run by the time the synchronous pump returns. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(tisock_stream_pump(file, on_chunk, &seen, 20, 0), 118);
	assert_true(seen.calls > 0);
	tisock_stream_free(file);
	/* Asynchronous, on a local client driven by libev. */
	memset(&seen, 0, sizeof(seen));
	file = tisock_stream_open(streamfile, TISOCK_MODE_READ);
	tisock_stream_set_client(file, c);
	assert_int_equal(tisock_libev_attach(c, loop), 0);
	assert_int_equal(tisock_stream_pump(file, on_chunk, &seen, 20, 1), 0);
	assert_int_equal(seen.calls, 0);
	ev_run(loop, 0);	/* returns once the pump has ended */
	assert_int_equal(seen.ended, 1);
	assert_int_equal(seen.total, 118);
	assert_int_equal(seen.calls, 6 + 1);
	tisock_stream_free(file);
	tisock_stream_free(bs);
	tisock_buffer_free(src);
	tisock_client_close(c);
	ev_loop_destroy(loop);
}

/* Ti.Filesystem.openStream: fileStreamWriteTest, ...AppendTest, ...TruncateTest. */
static void
file_streams(void **state)
{
	tisock_buffer *buf = tisock_buffer_create(20), *in_buf = text(PARTY), *all;
	tisock_stream *in, *out, *app, *st;
	ssize_t size, total = 0, streamed;

	(void)state;
	/* Write: copied 20 bytes at a time, then read back whole. */
	in = tisock_stream_open(streamfile, TISOCK_MODE_READ);
	out = tisock_stream_open(outfile, TISOCK_MODE_WRITE);
	assert_true(tisock_stream_is_readable(in) && !tisock_stream_is_writable(in));
	assert_true(tisock_stream_is_writable(out) && !tisock_stream_is_readable(out));
	assert_int_equal(tisock_stream_read(out, buf, 0, TISOCK_ALL), -EBADF);
	assert_int_equal(tisock_stream_write(in, buf, 0, TISOCK_ALL), -EBADF);
	while ((size = tisock_stream_read(in, buf, 0, TISOCK_ALL)) > -1) {
		assert_int_equal(tisock_stream_write(out, buf, 0, size), size);
		total += size;
	}
	tisock_stream_free(in);
	tisock_stream_free(out);
	st = tisock_stream_open(outfile, TISOCK_MODE_READ);
	all = tisock_stream_read_all_new(st);
	assert_int_equal(tisock_buffer_length(all), (size_t)total);
	tisock_buffer_free(all);
	tisock_stream_free(st);
	/* Append: writeStream into a new file, then the same again appended. */
	in = tisock_stream_open(streamfile, TISOCK_MODE_READ);
	out = tisock_stream_open(outfile, TISOCK_MODE_WRITE);
	streamed = tisock_stream_write_stream(in, out, 40);
	assert_int_equal(streamed, 118);
	tisock_stream_free(in);
	tisock_stream_free(out);
	in = tisock_stream_open(streamfile, TISOCK_MODE_READ);
	app = tisock_stream_open(outfile, TISOCK_MODE_APPEND);
	total = 0;
	while ((size = tisock_stream_read(in, buf, 0, TISOCK_ALL)) > -1) {
		tisock_stream_write(app, buf, 0, size);
		total += size;
	}
	tisock_stream_free(in);
	tisock_stream_free(app);
	st = tisock_stream_open(outfile, TISOCK_MODE_READ);
	all = tisock_stream_read_all_new(st);
	assert_int_equal(tisock_buffer_length(all), (size_t)(streamed + total));
	assert_memory_equal(tisock_buffer_data(all) + 118, FILETEXT, 118);
	tisock_buffer_free(all);
	tisock_stream_free(st);
	/* Truncate: opening for writing empties the file. */
	in = tisock_stream_create(in_buf, TISOCK_MODE_READ);
	out = tisock_stream_open(outfile, TISOCK_MODE_WRITE);
	assert_int_equal(tisock_stream_write_stream(in, out, 30), 131);
	tisock_stream_free(out);
	tisock_stream_free(tisock_stream_open(outfile, TISOCK_MODE_WRITE));
	st = tisock_stream_open(outfile, TISOCK_MODE_READ);
	all = tisock_stream_read_all_new(st);
	assert_int_equal(tisock_buffer_length(all), 0);
	tisock_buffer_free(all);
	tisock_stream_free(st);
	tisock_stream_free(in);
	/* Refused: no such file, a mode that is none. */
	errno = 0;
	assert_null(tisock_stream_open("/nonexistent/x", TISOCK_MODE_READ));
	assert_int_equal(errno, ENOENT);
	assert_null(tisock_stream_open(outfile, 7));
	assert_int_equal(errno, EINVAL);
	tisock_buffer_free(buf);
	tisock_buffer_free(in_buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_all),
		cmocka_unit_test(write_stream),
		cmocka_unit_test(async_read_and_write),
		cmocka_unit_test(pump),
		cmocka_unit_test(file_streams),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
