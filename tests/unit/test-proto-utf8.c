/*
 * test-proto-utf8: strict validation, including the ASCII fast path.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto-utf8.h"

#define V(s) proto_utf8_valid(s, sizeof(s) - 1)

static void
valid_sequences(void **state)
{
	(void)state;
	assert_true(V(""));
	assert_true(V("plain ascii"));
	assert_true(V("\xc3\xa9"));			/* é */
	assert_true(V("\xe2\x82\xac"));			/* € */
	assert_true(V("\xf0\x9f\x98\x80"));		/* 😀 */
	assert_true(V("\xf4\x8f\xbf\xbf"));		/* U+10FFFF */
	assert_true(V("\xed\x9f\xbf"));			/* U+D7FF */
	assert_true(V("\xee\x80\x80"));			/* U+E000 */
	assert_true(proto_utf8_valid("a\0b", 3));	/* NUL is valid UTF-8 */
}

static void
invalid_sequences(void **state)
{
	(void)state;
	assert_false(V("\xc0\x80"));			/* overlong NUL */
	assert_false(V("\xc1\xbf"));			/* overlong */
	assert_false(V("\xe0\x80\x80"));		/* overlong */
	assert_false(V("\xf0\x80\x80\x80"));		/* overlong */
	assert_false(V("\xed\xa0\x80"));		/* surrogate */
	assert_false(V("\xed\xbf\xbf"));		/* surrogate */
	assert_false(V("\xf4\x90\x80\x80"));		/* above U+10FFFF */
	assert_false(V("\xf5\x80\x80\x80"));
	assert_false(V("\xff"));
	assert_false(V("\x80"));			/* stray continuation */
	assert_false(V("a\xbf" "b"));
	assert_false(V("\xc3"));			/* truncated at the end */
	assert_false(V("\xe2\x82"));
	assert_false(V("\xf0\x9f\x98"));
	assert_false(V("\xc3\x28"));			/* bad continuation */
}

static void
fast_path_boundaries(void **state)
{
	char buf[24];

	(void)state;
	for (size_t at = 0; at < 18; at++) {
		memset(buf, 'a', sizeof(buf));
		buf[at] = (char)0x80;
		assert_false(proto_utf8_valid(buf, sizeof(buf)));
		buf[at] = (char)0xc3;
		buf[at + 1] = (char)0xa9;
		assert_true(proto_utf8_valid(buf, sizeof(buf)));
		assert_false(proto_utf8_valid(buf, at + 1));	/* cut inside it */
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_sequences),
		cmocka_unit_test(invalid_sequences),
		cmocka_unit_test(fast_path_boundaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
