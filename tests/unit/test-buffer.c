/*
 * test-buffer: Ti.Buffer with the cases of Titanium's own test suite
 * (ti.buffer.test.js): creation, length, indexed access, append, insert,
 * copy, clone, fill, clear, release, toString; every out-of-range call
 * is -EINVAL and leaves the buffer as it was.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <tisock/tisock.h>

/* A buffer of n bytes holding start, start+1, ... */
static tisock_buffer *
counting(size_t n, int start)
{
	tisock_buffer *b = tisock_buffer_create(n);

	for (size_t i = 0; i < n; i++)
		tisock_buffer_set(b, i, start + (long)i);
	return b;
}

static void
create_and_length(void **state)
{
	tisock_buffer *b = tisock_buffer_create(20), *e = tisock_buffer_create(0);

	(void)state;
	assert_int_equal(tisock_buffer_length(b), 20);
	for (size_t i = 0; i < 20; i++)
		assert_int_equal(tisock_buffer_get(b, i), 0);
	assert_int_equal(tisock_buffer_length(e), 0);
	assert_null(tisock_buffer_data(e));
	assert_int_equal(tisock_buffer_byte_order(b), tisock_codec_native_byte_order());
	tisock_buffer_set(b, 19, 7);
	assert_int_equal(tisock_buffer_set_length(b, 30), 0);
	assert_int_equal(tisock_buffer_get(b, 19), 7);
	assert_int_equal(tisock_buffer_get(b, 29), 0);	/* growth is zero-filled */
	assert_int_equal(tisock_buffer_set_length(b, 10), 0);
	assert_int_equal(tisock_buffer_length(b), 10);
	assert_int_equal(tisock_buffer_set_length(b, 20), 0);
	assert_int_equal(tisock_buffer_get(b, 19), 0);	/* truncated bytes are gone */
	tisock_buffer_release(b);
	assert_int_equal(tisock_buffer_length(b), 0);
	tisock_buffer_free(b);
	tisock_buffer_freep(&e);
	assert_null(e);
	assert_null(tisock_buffer_free(NULL));
}

static void
indexed_access(void **state)
{
	tisock_buffer *b = tisock_buffer_create(4);

	(void)state;
	assert_int_equal(tisock_buffer_set(b, 0, 300), 0);
	assert_int_equal(tisock_buffer_get(b, 0), 44);
	assert_int_equal(tisock_buffer_set(b, 1, -1), 0);
	assert_int_equal(tisock_buffer_get(b, 1), 255);
	assert_int_equal(tisock_buffer_set(b, 4, 1), -EINVAL);
	assert_int_equal(tisock_buffer_get(b, 4), -EINVAL);
	tisock_buffer_free(b);
}

static void
append(void **state)
{
	tisock_buffer *b = tisock_buffer_create(20), *src = counting(5, 100);

	(void)state;
	assert_int_equal(tisock_buffer_append(b, src, 0, TISOCK_ALL), 5);
	assert_int_equal(tisock_buffer_length(b), 25);
	assert_int_equal(tisock_buffer_get(b, 20), 100);
	assert_int_equal(tisock_buffer_get(b, 21), 101);
	tisock_buffer_set_length(b, 20);
	assert_int_equal(tisock_buffer_append(b, src, 3, 2), 2);
	assert_int_equal(tisock_buffer_length(b), 22);
	assert_int_equal(tisock_buffer_get(b, 20), 103);
	assert_int_equal(tisock_buffer_get(b, 21), 104);
	assert_int_equal(tisock_buffer_append(b, src, 0, 6), -EINVAL);
	assert_int_equal(tisock_buffer_append(b, src, 5, 1), -EINVAL);
	assert_int_equal(tisock_buffer_append(b, src, 3, 5), -EINVAL);
	assert_int_equal(tisock_buffer_append(b, src, 0, 99), -EINVAL);
	assert_int_equal(tisock_buffer_append(b, src, 99, 100), -EINVAL);
	assert_int_equal(tisock_buffer_length(b), 22);	/* refused calls change nothing */
	assert_int_equal(tisock_buffer_append(b, b, 0, 2), 2);	/* from itself */
	assert_int_equal(tisock_buffer_length(b), 24);
	tisock_buffer_free(b);
	tisock_buffer_free(src);
}

static void
insert(void **state)
{
	tisock_buffer *b = tisock_buffer_create(20), *src = counting(5, 103);
	tisock_buffer *x = tisock_buffer_create(2), *two = tisock_buffer_create(1);

	(void)state;
	assert_int_equal(tisock_buffer_insert(b, src, 3, 0, TISOCK_ALL), 5);
	assert_int_equal(tisock_buffer_length(b), 25);
	assert_int_equal(tisock_buffer_get(b, 3), 103);
	assert_int_equal(tisock_buffer_get(b, 4), 104);
	assert_int_equal(tisock_buffer_get(b, 8), 0);
	tisock_buffer_set_length(b, 20);
	tisock_buffer_clear(b);
	assert_int_equal(tisock_buffer_insert(b, src, 3, 1, 2), 2);
	assert_int_equal(tisock_buffer_length(b), 22);
	assert_int_equal(tisock_buffer_get(b, 3), 104);
	assert_int_equal(tisock_buffer_get(b, 4), 105);
	assert_int_equal(tisock_buffer_insert(b, src, 99, 0, TISOCK_ALL), -EINVAL);
	assert_int_equal(tisock_buffer_insert(b, src, 0, 0, 99), -EINVAL);
	assert_int_equal(tisock_buffer_insert(b, src, 0, 4, 2), -EINVAL);
	assert_int_equal(tisock_buffer_insert(b, src, 0, 99, 100), -EINVAL);
	/* The blog example: [1,3].insert([2], 1) is [1,2,3]. */
	tisock_buffer_set(x, 0, 1);
	tisock_buffer_set(x, 1, 3);
	tisock_buffer_set(two, 0, 2);
	assert_int_equal(tisock_buffer_insert(x, two, 1, 0, TISOCK_ALL), 1);
	assert_memory_equal(tisock_buffer_data(x), "\x01\x02\x03", 3);
	assert_int_equal(tisock_buffer_length(two), 1);
	/* Inserting at the very end is allowed (as on Android). */
	assert_int_equal(tisock_buffer_insert(x, two, 3, 0, TISOCK_ALL), 1);
	assert_int_equal(tisock_buffer_get(x, 3), 2);
	tisock_buffer_free(b);
	tisock_buffer_free(src);
	tisock_buffer_free(x);
	tisock_buffer_free(two);
}

static void
copy(void **state)
{
	tisock_buffer *b = tisock_buffer_create(20), *src = counting(5, 100);

	(void)state;
	assert_int_equal(tisock_buffer_copy(b, src, 0, 0, TISOCK_ALL), 5);
	assert_int_equal(tisock_buffer_length(b), 20);
	assert_int_equal(tisock_buffer_get(b, 0), 100);
	assert_int_equal(tisock_buffer_get(b, 1), 101);
	assert_int_equal(tisock_buffer_copy(b, src, 15, 0, 2), 2);
	assert_int_equal(tisock_buffer_get(b, 15), 100);
	assert_int_equal(tisock_buffer_get(b, 16), 101);
	assert_int_equal(tisock_buffer_copy(b, src, 25, 0, TISOCK_ALL), -EINVAL);
	assert_int_equal(tisock_buffer_copy(b, src, 0, 0, 6), -EINVAL);
	assert_int_equal(tisock_buffer_copy(b, src, 0, 5, 1), -EINVAL);
	assert_int_equal(tisock_buffer_copy(b, src, 0, 4, 2), -EINVAL);
	assert_int_equal(tisock_buffer_copy(b, src, 0, 0, 99), -EINVAL);
	assert_int_equal(tisock_buffer_copy(b, src, 0, 99, 100), -EINVAL);
	assert_int_equal(tisock_buffer_copy(b, src, 19, 0, 5), -EINVAL);	/* would grow */
	assert_int_equal(tisock_buffer_get(b, 19), 0);
	tisock_buffer_free(b);
	tisock_buffer_free(src);
}

static void
clone_(void **state)
{
	tisock_buffer *b = tisock_buffer_create(20), *c;

	(void)state;
	tisock_buffer_set(b, 0, 100);
	tisock_buffer_set(b, 6, 103);
	tisock_buffer_set(b, 12, 106);
	tisock_buffer_set(b, 18, 109);
	tisock_buffer_set_byte_order(b, TISOCK_BIG_ENDIAN);
	c = tisock_buffer_clone(b, 0, TISOCK_ALL);
	assert_non_null(c);
	assert_ptr_not_equal(c, b);
	assert_int_equal(tisock_buffer_length(c), 20);
	assert_memory_equal(tisock_buffer_data(c), tisock_buffer_data(b), 20);
	assert_int_equal(tisock_buffer_byte_order(c), TISOCK_BIG_ENDIAN);
	tisock_buffer_free(c);
	c = tisock_buffer_clone(b, 6, 13);
	assert_int_equal(tisock_buffer_length(c), 13);
	assert_int_equal(tisock_buffer_get(c, 0), 103);
	assert_int_equal(tisock_buffer_get(c, 6), 106);
	assert_int_equal(tisock_buffer_get(c, 12), 109);
	tisock_buffer_free(c);
	errno = 0;
	assert_null(tisock_buffer_clone(b, 25, 10));
	assert_int_equal(errno, EINVAL);
	assert_null(tisock_buffer_clone(b, 10, 20));
	assert_null(tisock_buffer_clone(b, 0, 99));
	assert_null(tisock_buffer_clone(b, 99, 100));
	tisock_buffer_free(b);
}

static void
fill_clear_release(void **state)
{
	tisock_buffer *b = tisock_buffer_create(20);

	(void)state;
	assert_int_equal(tisock_buffer_fill(b, 100, 0, TISOCK_ALL), 0);
	for (size_t i = 0; i < 20; i++)
		assert_int_equal(tisock_buffer_get(b, i), 100);
	tisock_buffer_clear(b);
	assert_int_equal(tisock_buffer_fill(b, 101, 5, 10), 0);
	for (size_t i = 0; i < 20; i++)
		assert_int_equal(tisock_buffer_get(b, i), i >= 5 && i < 15 ? 101 : 0);
	assert_int_equal(tisock_buffer_fill(b, 102, 0, 99), -EINVAL);
	assert_int_equal(tisock_buffer_fill(b, 100, 19, 2), -EINVAL);
	assert_int_equal(tisock_buffer_fill(b, 100, 99, 100), -EINVAL);
	assert_int_equal(tisock_buffer_get(b, 19), 0);
	assert_int_equal(tisock_buffer_fill(b, 0x1ff, 0, 1), 0);
	assert_int_equal(tisock_buffer_get(b, 0), 0xff);
	tisock_buffer_clear(b);
	assert_int_equal(tisock_buffer_length(b), 20);
	assert_int_equal(tisock_buffer_get(b, 0), 0);
	tisock_buffer_release(b);
	assert_int_equal(tisock_buffer_length(b), 0);
	tisock_buffer_free(b);
}

static void
strings_and_numbers(void **state)
{
	tisock_buffer *b = tisock_buffer_from_string("appcelerator", TISOCK_ALL,
						     TISOCK_CHARSET_UTF8);
	size_t len;
	char *s;

	(void)state;
	assert_int_equal(tisock_buffer_length(b), 12);
	s = tisock_buffer_to_string(b, &len);
	assert_string_equal(s, "appcelerator");
	assert_int_equal(len, 12);
	free(s);
	tisock_buffer_free(b);
	/* UTF-16: BOM FE FF then big-endian units, 26 bytes. */
	b = tisock_buffer_from_string("appcelerator", TISOCK_ALL, TISOCK_CHARSET_UTF16);
	assert_int_equal(tisock_buffer_length(b), 26);
	assert_int_equal(tisock_buffer_get(b, 0), 0xfe);
	assert_int_equal(tisock_buffer_get(b, 1), 0xff);
	assert_int_equal(tisock_buffer_get(b, 2), 0);
	assert_int_equal(tisock_buffer_get(b, 3), 'a');
	tisock_buffer_free(b);
	b = tisock_buffer_from_number(78187493530.0, TISOCK_TYPE_LONG, TISOCK_BIG_ENDIAN);
	assert_int_equal(tisock_buffer_length(b), 8);
	assert_memory_equal(tisock_buffer_data(b), "\0\0\0\x12\x34\x56\x78\x9a", 8);
	assert_int_equal(tisock_buffer_byte_order(b), TISOCK_BIG_ENDIAN);
	tisock_buffer_free(b);
	errno = 0;
	assert_null(tisock_buffer_from_number(1, 99, TISOCK_BIG_ENDIAN));
	assert_int_equal(errno, EINVAL);
	assert_null(tisock_buffer_from_string("\xc3\xa9", TISOCK_ALL, TISOCK_CHARSET_ASCII));
	assert_int_equal(errno, EILSEQ);
	assert_int_equal(tisock_buffer_set_byte_order(NULL, 0), -EINVAL);
}

/*
 * ti.buffer.test.js "copies type, byteOrder, and value of fully cloned
 * Buffer": createBuffer({value: 305419896, type: TYPE_LONG, byteOrder:
 * BIG_ENDIAN}).clone() keeps length, byteOrder and type; "copies full
 * Buffer" / "copies portion of Buffer": type and byteOrder equal too;
 * "defaults to UTF-8": createBuffer({value: 'appcelerator'}).
 */
static void
type_and_defaults(void **state)
{
	tisock_buffer *b = tisock_buffer_from_number(305419896, TISOCK_TYPE_LONG, TISOCK_BIG_ENDIAN);
	tisock_buffer *c = tisock_buffer_clone(b, 0, TISOCK_ALL), *p;

	(void)state;
	assert_string_equal(tisock_buffer_type(b), "long");
	assert_int_equal(tisock_buffer_length(c), 8);
	assert_int_equal(tisock_buffer_byte_order(c), TISOCK_BIG_ENDIAN);
	assert_string_equal(tisock_buffer_type(c), "long");
	assert_memory_equal(tisock_buffer_data(c), "\0\0\0\0\x12\x34\x56\x78", 8);
	p = tisock_buffer_clone(b, 4, 4);
	assert_string_equal(tisock_buffer_type(p), "long");
	assert_int_equal(tisock_buffer_byte_order(p), TISOCK_BIG_ENDIAN);
	tisock_buffer_free(p);
	tisock_buffer_free(c);
	tisock_buffer_free(b);
	/* A plain buffer has no type; a clone has none either. */
	b = tisock_buffer_create(20);
	assert_null(tisock_buffer_type(b));
	c = tisock_buffer_clone(b, 0, TISOCK_ALL);
	assert_null(tisock_buffer_type(c));
	assert_int_equal(tisock_buffer_byte_order(c), tisock_codec_native_byte_order());
	tisock_buffer_free(c);
	/* Set by name, kept in Titanium's spelling. */
	assert_int_equal(tisock_buffer_set_type(b, "iso-latin-1"), 0);
	assert_string_equal(tisock_buffer_type(b), "latin1");
	assert_int_equal(tisock_buffer_set_type(b, "short"), 0);
	assert_string_equal(tisock_buffer_type(b), "short");
	assert_int_equal(tisock_buffer_set_type(b, "nibble"), -EINVAL);
	assert_int_equal(tisock_buffer_set_type(b, NULL), 0);
	assert_null(tisock_buffer_type(b));
	/* The native order as a value to pass. */
	assert_int_equal(tisock_buffer_set_byte_order(b, TISOCK_NATIVE_ENDIAN), 0);
	assert_int_equal(tisock_buffer_byte_order(b), tisock_codec_native_byte_order());
	tisock_buffer_free(b);
	/* Charset 0 is UTF-8. */
	b = tisock_buffer_from_string("appcelerator", TISOCK_ALL, TISOCK_CHARSET_DEFAULT);
	assert_int_equal(tisock_buffer_length(b), 12);
	assert_int_equal(tisock_buffer_get(b, 0), 97);
	assert_int_equal(tisock_buffer_get(b, 11), 114);
	assert_string_equal(tisock_buffer_type(b), "utf8");
	tisock_buffer_free(b);
	b = tisock_buffer_from_string("appcelerator", TISOCK_ALL, TISOCK_CHARSET_UTF16);
	assert_string_equal(tisock_buffer_type(b), "utf16");
	assert_int_equal(tisock_buffer_byte_order(b), tisock_codec_native_byte_order());
	tisock_buffer_free(b);
	b = tisock_buffer_from_number(1, TISOCK_TYPE_SHORT, TISOCK_NATIVE_ENDIAN);
	assert_int_equal(tisock_buffer_byte_order(b), tisock_codec_native_byte_order());
	assert_string_equal(tisock_buffer_type(b), "short");
	tisock_buffer_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(create_and_length),
		cmocka_unit_test(indexed_access),
		cmocka_unit_test(append),
		cmocka_unit_test(insert),
		cmocka_unit_test(copy),
		cmocka_unit_test(clone_),
		cmocka_unit_test(fill_clear_release),
		cmocka_unit_test(strings_and_numbers),
		cmocka_unit_test(type_and_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
