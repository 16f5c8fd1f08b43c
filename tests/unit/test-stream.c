/*
 * test-stream: Ti.Stream over buffers and file descriptors: the three
 * modes, positions, growth, the end of stream, read_all, write_stream and
 * pump (chunks, then one call with -1).
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <tisock/tisock.h>

static tisock_buffer *
text(const char *s)
{
	return tisock_buffer_from_string(s, TISOCK_ALL, TISOCK_CHARSET_UTF8);
}

static void
read_mode(void **state)
{
	tisock_buffer *src = text("0123456789"), *dst = tisock_buffer_create(4);
	tisock_stream *st = tisock_stream_create(src, TISOCK_MODE_READ);

	(void)state;
	assert_true(tisock_stream_is_readable(st));
	assert_false(tisock_stream_is_writable(st));
	assert_int_equal(tisock_stream_read(st, dst, 0, TISOCK_ALL), 4);
	assert_memory_equal(tisock_buffer_data(dst), "0123", 4);
	assert_int_equal(tisock_stream_read(st, dst, 1, 2), 2);	/* offset and length */
	assert_memory_equal(tisock_buffer_data(dst), "0453", 4);
	assert_int_equal(tisock_stream_read(st, dst, 0, TISOCK_ALL), 4);
	assert_int_equal(tisock_stream_read(st, dst, 0, TISOCK_ALL), -1);	/* the end */
	assert_int_equal(tisock_stream_read(st, dst, 0, 0), 0);
	assert_int_equal(tisock_stream_read(st, dst, 3, 2), -EINVAL);	/* past dst */
	assert_int_equal(tisock_stream_write(st, dst, 0, TISOCK_ALL), -EBADF);
	tisock_stream_close(st);
	assert_false(tisock_stream_is_readable(st));
	assert_int_equal(tisock_stream_read(st, dst, 0, TISOCK_ALL), -EBADF);
	tisock_stream_free(st);
	errno = 0;
	assert_null(tisock_stream_create(NULL, TISOCK_MODE_READ));
	assert_null(tisock_stream_create(dst, 7));
	assert_int_equal(errno, EINVAL);
	tisock_buffer_free(src);
	tisock_buffer_free(dst);
}

static void
write_and_append_modes(void **state)
{
	tisock_buffer *b = text("abcdef"), *x = text("XY"), *rd = tisock_buffer_create(4);
	tisock_stream *w = tisock_stream_create(b, TISOCK_MODE_WRITE), *a;

	(void)state;
	assert_false(tisock_stream_is_readable(w));
	assert_true(tisock_stream_is_writable(w));
	assert_int_equal(tisock_stream_write(w, x, 0, TISOCK_ALL), 2);	/* overwrites from 0 */
	assert_memory_equal(tisock_buffer_data(b), "XYcdef", 6);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tisock_stream_write(w, x, 0, TISOCK_ALL), 2);
	assert_int_equal(tisock_buffer_length(b), 8);	/* grew past the end */
	assert_memory_equal(tisock_buffer_data(b), "XYXYXYXY", 8);
	assert_int_equal(tisock_stream_read(w, rd, 0, TISOCK_ALL), -EBADF);
	a = tisock_stream_create(b, TISOCK_MODE_APPEND);
	assert_int_equal(tisock_stream_write(a, x, 1, 1), 1);
	assert_int_equal(tisock_buffer_length(b), 9);
	assert_int_equal(tisock_buffer_get(b, 8), 'Y');
	assert_int_equal(tisock_stream_write(a, x, 1, 2), -EINVAL);
	assert_int_equal(tisock_buffer_length(b), 9);
	tisock_stream_free(w);
	tisock_stream_free(a);
	tisock_buffer_free(b);
	tisock_buffer_free(x);
	tisock_buffer_free(rd);
}

static void
read_all_and_write_stream(void **state)
{
	tisock_buffer *src = tisock_buffer_create(200000), *all = tisock_buffer_create(3);
	tisock_buffer *copy = tisock_buffer_create(0);
	tisock_stream *in, *out;

	(void)state;
	for (size_t i = 0; i < 200000; i++)
		tisock_buffer_set(src, i, (long)(i * 7));
	in = tisock_stream_create(src, TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_read_all(in, all), 200000);
	assert_int_equal(tisock_buffer_length(all), 200003);	/* appended after what was there */
	assert_memory_equal(tisock_buffer_data(all) + 3, tisock_buffer_data(src), 200000);
	tisock_stream_free(in);
	in = tisock_stream_create(src, TISOCK_MODE_READ);
	out = tisock_stream_create(copy, TISOCK_MODE_APPEND);
	assert_int_equal(tisock_stream_write_stream(in, out, 4096), 200000);
	assert_int_equal(tisock_buffer_length(copy), 200000);
	assert_memory_equal(tisock_buffer_data(copy), tisock_buffer_data(src), 200000);
	assert_int_equal(tisock_stream_write_stream(in, out, 0), -EINVAL);
	tisock_stream_free(in);
	tisock_stream_free(out);
	tisock_buffer_free(src);
	tisock_buffer_free(all);
	tisock_buffer_free(copy);
}

struct pumped {
	int	calls, ended;
	size_t	bytes;
	int64_t	total;
	char	data[64];
};

static void
on_chunk(const struct tisock_stream_event *ev)
{
	struct pumped *p = ev->userdata;

	p->calls++;
	assert_false(p->ended);
	if (ev->bytes_processed == -1) {
		p->ended = 1;
		assert_true(ev->success);
		assert_int_equal(ev->total_bytes_processed, (int64_t)p->bytes);
		return;
	}
	assert_true(ev->bytes_processed > 0 && ev->bytes_processed <= 4);
	assert_int_equal(tisock_buffer_length(ev->buffer), (size_t)ev->bytes_processed);
	memcpy(p->data + p->bytes, tisock_buffer_data(ev->buffer), (size_t)ev->bytes_processed);
	p->bytes += (size_t)ev->bytes_processed;
	assert_int_equal(ev->total_bytes_processed, (int64_t)p->bytes);
}

static void
pump(void **state)
{
	tisock_buffer *src = text("the quick brown fox");
	tisock_stream *in = tisock_stream_create(src, TISOCK_MODE_READ);
	struct pumped p = { 0 };

	(void)state;
	assert_int_equal(tisock_stream_pump(in, on_chunk, &p, 4, 0), 19);
	assert_int_equal(p.calls, 5 + 1);	/* 4+4+4+4+3, then -1 */
	assert_true(p.ended);
	assert_memory_equal(p.data, "the quick brown fox", 19);
	assert_int_equal(tisock_stream_pump(in, on_chunk, &p, 0, 0), -EINVAL);
	tisock_stream_free(in);
	tisock_buffer_free(src);
}

static void
fd_streams(void **state)
{
	tisock_buffer *msg = text("over a pipe"), *got = tisock_buffer_create(0);
	tisock_stream *w, *r;
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	w = tisock_stream_from_fd(fds[1], TISOCK_MODE_WRITE);
	r = tisock_stream_from_fd(fds[0], TISOCK_MODE_READ);
	assert_true(tisock_stream_is_writable(w) && tisock_stream_is_readable(r));
	assert_int_equal(tisock_stream_write(w, msg, 0, TISOCK_ALL), 11);
	close(fds[1]);
	assert_int_equal(tisock_stream_read_all(r, got), 11);
	assert_memory_equal(tisock_buffer_data(got), "over a pipe", 11);
	assert_int_equal(tisock_stream_read(r, got, 0, TISOCK_ALL), -1);
	tisock_stream_free(w);
	tisock_stream_free(r);
	close(fds[0]);
	assert_null(tisock_stream_from_fd(-1, TISOCK_MODE_READ));
	tisock_buffer_free(msg);
	tisock_buffer_free(got);
}

/*
 * The buffer under a READ stream shrinks past the stream's position
 * (its length set lower, or released): the stream is at its end (-1), as
 * Android's BufferStream, and never reads past the buffer.  Before, the
 * bytes left were computed as length - position, unsigned: it read far
 * past the end (a crash on a released buffer).  A WRITE stream over it
 * goes on at its position, the buffer growing zero-filled to it.
 */
static void
buffer_shrunk_under_stream(void **state)
{
	tisock_buffer *src = tisock_buffer_create(20), *dst = tisock_buffer_create(16);
	tisock_stream *st;

	(void)state;
	tisock_buffer_fill(src, 'x', 0, TISOCK_ALL);
	st = tisock_stream_create(src, TISOCK_MODE_READ);
	assert_int_equal(tisock_stream_read(st, dst, 0, 10), 10);
	assert_int_equal(tisock_buffer_set_length(src, 5), 0);
	assert_int_equal(tisock_stream_read(st, dst, 0, TISOCK_ALL), -1);
	tisock_buffer_release(src);
	assert_int_equal(tisock_stream_read(st, dst, 0, TISOCK_ALL), -1);
	assert_int_equal(tisock_buffer_set_length(src, 12), 0);	/* grown again: 2 more */
	assert_int_equal(tisock_stream_read(st, dst, 0, TISOCK_ALL), 2);
	tisock_stream_free(st);

	tisock_buffer_set_length(src, 8);
	tisock_buffer_fill(src, 'y', 0, TISOCK_ALL);
	st = tisock_stream_create(src, TISOCK_MODE_WRITE);
	assert_int_equal(tisock_stream_write(st, dst, 0, 6), 6);
	tisock_buffer_release(src);
	assert_int_equal(tisock_stream_write(st, dst, 2, 2), 2);	/* at 6: 0-filled before */
	assert_int_equal(tisock_buffer_length(src), 8);
	assert_int_equal(tisock_buffer_get(src, 0), 0);
	assert_int_equal(tisock_buffer_get(src, 6), 'x');
	tisock_stream_free(st);
	tisock_buffer_free(src);
	tisock_buffer_free(dst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_mode),
		cmocka_unit_test(write_and_append_modes),
		cmocka_unit_test(read_all_and_write_stream),
		cmocka_unit_test(pump),
		cmocka_unit_test(fd_streams),
		cmocka_unit_test(buffer_shrunk_under_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
