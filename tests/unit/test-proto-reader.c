/*
 * test-proto-reader: line framing, CR LF, blank lines, the size limit and
 * bounded memory for over-long lines.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto-reader.h"

static void
expect_line(struct proto_reader *r, const char *want)
{
	char *line;
	size_t len;

	assert_int_equal(proto_reader_next(r, &line, &len), PROTO_READER_LINE);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(line, want, len);
	assert_int_equal(line[len], '\0');
}

static void
expect_none(struct proto_reader *r)
{
	char *line;
	size_t len;

	assert_int_equal(proto_reader_next(r, &line, &len), PROTO_READER_NONE);
}

static void
lines_split_at_every_boundary(void **state)
{
	const char *in = "{\"a\":1}\r\n\n\r\n[2]\nx\ry\n";

	(void)state;
	for (size_t cut = 0; cut <= strlen(in); cut++) {
		struct proto_reader *r = proto_reader_new(64);

		assert_int_equal(proto_reader_feed(r, in, cut), 0);
		assert_int_equal(proto_reader_feed(r, in + cut, strlen(in) - cut), 0);
		expect_line(r, "{\"a\":1}");
		expect_line(r, "[2]");
		expect_line(r, "x\ry");	/* a lone CR stays inside the line */
		expect_none(r);
		proto_reader_free(r);
	}
}

static void
byte_by_byte(void **state)
{
	struct proto_reader *r = proto_reader_new(16);
	const char *in = "abc\r\ndef\n";

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(proto_reader_feed(r, in + i, 1), 0);
		expect_none(r);
	}
	assert_int_equal(proto_reader_feed(r, in + 4, 1), 0);
	expect_line(r, "abc");
	for (size_t i = 5; i < strlen(in); i++)
		assert_int_equal(proto_reader_feed(r, in + i, 1), 0);
	expect_line(r, "def");
	expect_none(r);
	proto_reader_free(r);
}

static void
limit_exact_and_over(void **state)
{
	struct proto_reader *r = proto_reader_new(8);
	char *line;
	size_t len;

	(void)state;
	assert_int_equal(proto_reader_feed(r, "12345678\n", 9), 0);
	expect_line(r, "12345678");
	/* The CR of CR LF does not count. */
	assert_int_equal(proto_reader_feed(r, "12345678\r\n", 10), 0);
	expect_line(r, "12345678");
	/* The same with the LF arriving separately. */
	assert_int_equal(proto_reader_feed(r, "12345678\r", 9), 0);
	expect_none(r);
	assert_int_equal(proto_reader_feed(r, "\n", 1), 0);
	expect_line(r, "12345678");
	assert_int_equal(proto_reader_feed(r, "123456789\nok\n", 13), 0);
	assert_int_equal(proto_reader_next(r, &line, &len), PROTO_READER_TOO_LONG);
	expect_line(r, "ok");
	expect_none(r);
	proto_reader_free(r);
}

static void
long_line_trickles_in(void **state)
{
	struct proto_reader *r = proto_reader_new(100);
	char chunk[37];
	int too_long = 0;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 1000; i++) {
		char *line;
		size_t len;
		int k;

		assert_int_equal(proto_reader_feed(r, chunk, sizeof(chunk)), 0);
		while ((k = proto_reader_next(r, &line, &len)) != PROTO_READER_NONE) {
			assert_int_equal(k, PROTO_READER_TOO_LONG);
			too_long++;
		}
		/* Memory stays bounded by the limit plus one feed. */
		assert_true(proto_reader_buffered(r) <= 100 + sizeof(chunk));
	}
	assert_int_equal(too_long, 1);
	assert_int_equal(proto_reader_feed(r, "tail\nnext\n", 10), 0);
	expect_line(r, "next");
	expect_none(r);
	proto_reader_free(r);
}

static void
space_and_commit(void **state)
{
	struct proto_reader *r = proto_reader_new(1024);
	void *p;
	size_t room;

	(void)state;
	assert_int_equal(proto_reader_space(r, 10, &p, &room), 0);
	assert_true(room >= 10);
	memcpy(p, "hi\nthere", 8);
	proto_reader_commit(r, 8);
	expect_line(r, "hi");
	expect_none(r);
	assert_int_equal(proto_reader_buffered(r), 5);
	assert_int_equal(proto_reader_space(r, 1, &p, &room), 0);
	memcpy(p, "\n", 1);
	proto_reader_commit(r, 1);
	expect_line(r, "there");
	assert_int_equal(proto_reader_max_line(r), 1024);
	proto_reader_free(r);
}

/* The unfinished tail goes (complete lines stay), then the rest of it up to its LF. */
static void
drop_partial(void **state)
{
	struct proto_reader *r = proto_reader_new(1024);

	assert_int_equal(proto_reader_drop_partial(r), 0);
	assert_int_equal(proto_reader_feed(r, "one\ntwo\nthr", 11), 0);
	assert_int_equal(proto_reader_drop_partial(r), 3);
	assert_int_equal(proto_reader_buffered(r), 8);
	assert_int_equal(proto_reader_drop_partial(r), 0);	/* already discarding */
	assert_int_equal(proto_reader_feed(r, "ee-rest\nfour\n", 13), 0);
	expect_line(r, "one");
	expect_line(r, "two");
	expect_line(r, "four");	/* no TOO_LONG for the dropped line: the caller answered */
	expect_none(r);
	/* Only complete lines: nothing to drop. */
	assert_int_equal(proto_reader_feed(r, "five\n", 5), 0);
	assert_int_equal(proto_reader_drop_partial(r), 0);
	expect_line(r, "five");
	/* Everything unfinished. */
	assert_int_equal(proto_reader_feed(r, "six", 3), 0);
	assert_int_equal(proto_reader_drop_partial(r), 3);
	assert_int_equal(proto_reader_buffered(r), 0);
	assert_int_equal(proto_reader_feed(r, "teen\nseven\n", 11), 0);
	expect_line(r, "seven");
	proto_reader_free(r);
}

/* Storage is given back only when empty and larger than asked. */
static void
trim(void **state)
{
	struct proto_reader *r = proto_reader_new(1 << 20);
	static char big[100000];
	char *line;
	void *p;
	size_t room, len;

	memset(big, 'x', sizeof(big));
	assert_int_equal(proto_reader_feed(r, big, sizeof(big)), 0);
	proto_reader_trim(r, 4096);
	assert_int_equal(proto_reader_buffered(r), sizeof(big));	/* not empty: kept */
	assert_int_equal(proto_reader_feed(r, "\n", 1), 0);
	assert_int_equal(proto_reader_next(r, &line, &len), PROTO_READER_LINE);
	assert_int_equal(len, sizeof(big));
	proto_reader_trim(r, 4096);
	assert_int_equal(proto_reader_space(r, 1, &p, &room), 0);
	assert_true(room < 8192);	/* a fresh small buffer */
	proto_reader_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_split_at_every_boundary),
		cmocka_unit_test(byte_by_byte),
		cmocka_unit_test(limit_exact_and_over),
		cmocka_unit_test(long_line_trickles_in),
		cmocka_unit_test(space_and_commit),
		cmocka_unit_test(drop_partial),
		cmocka_unit_test(trim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
