/*
 * test-proto-jw: the streaming JSON writer: commas, nesting, escaping,
 * numbers and base64 values.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>

#include "proto-jw.h"

static const char *
text(struct proto_buf *b)
{
	proto_buf_putc(b, '\0');
	b->len--;
	return proto_buf_head(b);
}

static void
nesting_and_commas(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT;
	struct proto_jw w;

	(void)state;
	proto_jw_init(&w, &b);
	proto_jw_obj_begin(&w);
	proto_jw_kint(&w, "a", 1);
	proto_jw_key(&w, "b");
	proto_jw_arr_begin(&w);
	proto_jw_int(&w, 1);
	proto_jw_obj_begin(&w);
	proto_jw_obj_end(&w);
	proto_jw_arr_begin(&w);
	proto_jw_arr_end(&w);
	proto_jw_bool(&w, false);
	proto_jw_null(&w);
	proto_jw_arr_end(&w);
	proto_jw_kbool(&w, "c", true);
	proto_jw_kstr(&w, "d", NULL);
	proto_jw_kuint(&w, "e", UINT64_MAX);
	proto_jw_obj_end(&w);
	assert_int_equal(proto_jw_error(&w), 0);
	assert_string_equal(text(&b), "{\"a\":1,\"b\":[1,{},[],false,null],\"c\":true,\"d\":null,"
			    "\"e\":18446744073709551615}");
	proto_buf_free(&b);
}

static void
escaping_round_trips(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT;
	struct proto_jw w;
	char s[64];
	cJSON *j;

	(void)state;
	for (int i = 0; i < 32; i++)
		s[i] = (char)(i + 1 == 32 ? 0x1f : i + 1);
	memcpy(s + 31, "\"\\/\xc3\xa9", 6);
	proto_jw_init(&w, &b);
	proto_jw_strn(&w, s, 36);
	j = cJSON_Parse(text(&b));
	assert_non_null(j);
	assert_true(cJSON_IsString(j));
	assert_memory_equal(j->valuestring, s, 36);
	cJSON_Delete(j);
	/* Control characters never appear raw. */
	for (const char *p = text(&b); *p; p++)
		assert_true((unsigned char)*p >= 0x20);
	proto_buf_reset(&b);
	proto_jw_init(&w, &b);
	proto_jw_str(&w, "\n\t\x01");
	assert_string_equal(text(&b), "\"\\n\\t\\u0001\"");
	proto_buf_free(&b);
}

static void
numbers_and_base64(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT;
	struct proto_jw w;

	(void)state;
	proto_jw_init(&w, &b);
	proto_jw_arr_begin(&w);
	proto_jw_int(&w, INT64_MIN);
	proto_jw_int(&w, INT64_MAX);
	proto_jw_int(&w, 0);
	proto_jw_int(&w, -1);
	proto_jw_int(&w, -10);
	proto_jw_uint(&w, 0);
	proto_jw_uint(&w, 1000);
	proto_jw_double(&w, 0.5);
	proto_jw_double(&w, NAN);
	proto_jw_double(&w, INFINITY);
	proto_jw_base64(&w, "foobar", 6);
	proto_jw_base64(&w, "", 0);
	proto_jw_raw(&w, "{\"x\":1}", 7);
	proto_jw_arr_end(&w);
	assert_string_equal(text(&b), "[-9223372036854775808,9223372036854775807,0,-1,-10,0,1000,"
			    "0.5,null,null,"
			    "\"Zm9vYmFy\",\"\",{\"x\":1}]");
	proto_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nesting_and_commas),
		cmocka_unit_test(escaping_round_trips),
		cmocka_unit_test(numbers_and_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
