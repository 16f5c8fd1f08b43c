/*
 * test-proto-json: the strict JSON checker.  A table of documents that
 * are JSON (y_) and that are not (n_), named after JSONTestSuite's cases
 * and written by hand; the daemon's own limits (depth, U+0000, number
 * length, surrogates); and every short string over a small alphabet held
 * against the tests' independent checker (tests/common/json-strict.c).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json-strict.h"
#include "proto-json.h"

struct doc {
	const char	*name;
	const char	*text;
	size_t		 len;
};

/* sizeof, not strlen: some texts hold a NUL. */
#define D(name, text) { name, text, sizeof(text) - 1 }

static const struct doc yes[] = {
	D("y_array_empty", "[]"),
	D("y_array_ws", " [ 1 , 2 ]\t\r\n"),
	D("y_array_nested", "[[[]],[{}]]"),
	D("y_object_empty", "{}"),
	D("y_object_basic", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}"),
	D("y_object_duplicated_key", "{\"a\":1,\"a\":2}"),
	D("y_object_empty_key", "{\"\":0}"),
	D("y_number_0", "0"),
	D("y_number_minus_zero", "-0"),
	D("y_number_negative_int", "-123"),
	D("y_number_real_fraction", "1.5"),
	D("y_number_real_exponent", "1e3"),
	D("y_number_real_capital_e_pos", "1E+2"),
	D("y_number_real_neg_exp", "1e-2"),
	D("y_number_zero_frac_exp", "0.0e0"),
	D("y_number_huge_exp", "1e999"),
	D("y_number_big_int", "123456789012345678901234567890"),
	D("y_number_63_chars", "1234567890123456789012345678901234567890123456789012345678901.5"),
	D("y_string_empty", "\"\""),
	D("y_string_escapes", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
	D("y_string_u_escape", "\"\\u0041\\u00e9\\u20AC\\uFFFF\""),
	D("y_string_surrogate_pair", "\"\\uD83D\\uDE00\""),
	D("y_string_last_surrogates", "\"\\uDBFF\\uDFFF\""),
	D("y_string_utf8", "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""),
	D("y_string_del", "\"\x7f\""),
	D("y_string_space", "\" \""),
	D("y_literals", "[true,false,null]"),
	D("y_structure_ws_everywhere", " { \"a\" : [ 1 , { } ] } "),
};

static const struct doc no[] = {
	D("n_empty", ""),
	D("n_only_ws", " \t"),
	D("n_number_01", "01"),
	D("n_number_minus_01", "-01"),
	D("n_number_00", "00"),
	D("n_number_minus_00", "-00"),
	D("n_number_012.5", "012.5"),
	D("n_number_1.", "1."),
	D("n_number_minus_1.", "-1."),
	D("n_number_1.e3", "1.e3"),
	D("n_number_minus_0.e1", "-0.e1"),
	D("n_number_.5", ".5"),
	D("n_number_plus_1", "+1"),
	D("n_number_1e", "1e"),
	D("n_number_1E+", "1E+"),
	D("n_number_minus", "-"),
	D("n_number_minus_space_1", "- 1"),
	D("n_number_hex", "0x10"),
	D("n_number_1.5.3", "1.5.3"),
	D("n_number_double_minus", "--1"),
	D("n_number_NaN", "NaN"),
	D("n_number_Infinity", "Infinity"),
	D("n_number_minus_Infinity", "-Infinity"),
	D("n_number_1_000", "1 000"),
	D("n_number_in_array_01", "[01]"),
	D("n_number_as_member_03", "{\"socket\":03}"),
	D("n_number_64_chars", "12345678901234567890123456789012345678901234567890123456789012.5"),
	D("n_string_unterminated", "\"abc"),
	D("n_string_single_quote", "'a'"),
	D("n_string_escape_x", "\"\\x41\""),
	D("n_string_escape_a", "\"\\a\""),
	D("n_string_escape_quote1", "\"\\'\""),
	D("n_string_escape_U", "\"\\U0041\""),
	D("n_string_escape_0", "\"\\0\""),
	D("n_string_escape_at_end", "\"\\"),
	D("n_string_u_ZZZZ", "\"\\uZZZZ\""),
	D("n_string_u_12G4", "\"\\u12G4\""),
	D("n_string_u_short", "\"\\u12\""),
	D("n_string_u_at_end", "\"\\u004"),
	D("n_string_lone_high", "\"\\uD800\""),
	D("n_string_lone_low", "\"\\uDC00\""),
	D("n_string_high_then_char", "\"\\uD800x\""),
	D("n_string_high_then_ascii_escape", "\"\\uD800\\u0041\""),
	D("n_string_high_high", "\"\\uD800\\uD800\""),
	D("n_string_low_high", "\"\\uDFFF\\uD800\""),
	D("n_string_high_then_n", "\"\\uD800\\n\""),
	D("n_string_raw_tab", "\"a\tb\""),
	D("n_string_raw_lf", "\"a\nb\""),
	D("n_string_raw_nul", "\"a\0b\""),
	D("n_string_raw_1f", "\"\x1f\""),
	D("n_literal_tru", "tru"),
	D("n_literal_True", "True"),
	D("n_literal_nul", "nul"),
	D("n_literal_nulls", "nulls"),
	D("n_array_trailing_comma", "[1,]"),
	D("n_array_leading_comma", "[,1]"),
	D("n_array_double_comma", "[1,,2]"),
	D("n_array_missing_comma", "[1 2]"),
	D("n_array_unclosed", "[1"),
	D("n_array_colon", "[1:2]"),
	D("n_array_closed_by_brace", "[1}"),
	D("n_object_trailing_comma", "{\"a\":1,}"),
	D("n_object_missing_colon", "{\"a\" 1}"),
	D("n_object_missing_value", "{\"a\":}"),
	D("n_object_number_key", "{1:1}"),
	D("n_object_unquoted_key", "{a:1}"),
	D("n_object_closed_by_bracket", "{\"a\":1]"),
	D("n_object_comma_only", "{,}"),
	D("n_structure_two_values", "1 2"),
	D("n_structure_trailing_garbage", "{} x"),
	D("n_structure_extra_close", "[]]"),
	D("n_structure_nul_after", "{}\0"),
	D("n_structure_vt_ws", "\v[]"),
	D("n_structure_ff_ws", "[]\f"),
	D("n_structure_nbsp_ws", "[]\xc2\xa0"),
	D("n_structure_bom", "\xef\xbb\xbf{}"),
	D("n_structure_comment", "[] // x"),
	D("n_structure_lone_brace", "{"),
};

static int
check(const char *s, size_t len, const char **why)
{
	return proto_json_check(s, len, why);
}

static void
table_yes(void **state)
{
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (check(yes[i].text, yes[i].len, &why) != 0)
			fail_msg("%s: refused (%s)", yes[i].name, why);
		assert_null(why);
		if (!json_strict_valid(yes[i].text, yes[i].len))
			fail_msg("%s: the tests' checker refuses it", yes[i].name);
	}
}

static void
table_no(void **state)
{
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		const char *t = no[i].text;
		size_t len = no[i].len;

		if (check(t, len, &why) == 0)
			fail_msg("%s: accepted", no[i].name);
		if (strcmp(why, "json") != 0)
			fail_msg("%s: reason %s, not json", no[i].name, why);
		if (strcmp(no[i].name, "n_number_64_chars") != 0 && json_strict_valid(t, len))
			fail_msg("%s: the tests' checker accepts it", no[i].name);
	}
}

/* n containers nested, objects and arrays in turn, around a 1. */
static size_t
nested(char *buf, int n)
{
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		if (i % 2 == 0) {
			memcpy(buf + len, "{\"\":", 4);
			len += 4;
		} else {
			buf[len++] = '[';
		}
	}
	buf[len++] = '1';
	for (int i = n - 1; i >= 0; i--)
		buf[len++] = i % 2 ? ']' : '}';
	return len;
}

/* Depth: 64 nested containers are fine, 65 are "depth". */
static void
depth_limit(void **state)
{
	char buf[5 * (PROTO_JSON_MAX_DEPTH + 1) + 8], wide[3 * PROTO_JSON_MAX_DEPTH + 8] = "[";
	const char *why;
	size_t len;

	(void)state;
	len = nested(buf, PROTO_JSON_MAX_DEPTH);
	assert_int_equal(check(buf, len, &why), 0);
	len = nested(buf, PROTO_JSON_MAX_DEPTH + 1);
	assert_int_not_equal(check(buf, len, &why), 0);
	assert_string_equal(why, "depth");
	assert_true(json_strict_valid(buf, len));
	/* Closing brings the count down: many shallow containers are fine. */
	len = 1;
	for (int i = 0; i < PROTO_JSON_MAX_DEPTH; i++) {
		memcpy(wide + len, "[],", 3);
		len += 3;
	}
	wide[len - 1] = ']';
	assert_int_equal(check(wide, len, &why), 0);
}

/* U+0000 is JSON, but not for the daemon: "nul", after any syntax error. */
static void
nul_escape(void **state)
{
	const char *why;

	(void)state;
	assert_int_not_equal(check("\"a\\u0000b\"", 10, &why), 0);
	assert_string_equal(why, "nul");
	assert_int_not_equal(check("{\"\\u0000\":1}", 12, &why), 0);
	assert_string_equal(why, "nul");
	assert_int_not_equal(check("[\"\\u0000\",01]", 13, &why), 0);
	assert_string_equal(why, "json");
	assert_int_equal(check("\"\\u0001\"", 8, &why), 0);
	assert_true(json_strict_valid("\"a\\u0000b\"", 10));
}

/* Every text stops at its length: nothing past it is read (ASan, valgrind). */
static void
bounded(void **state)
{
	static const char *const texts[] = {
		"\"\\uD83D\\uDE00\"", "1.5e+10", "[true,false,null]", "{\"a\":\"b\"}",
	};
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t n = strlen(texts[i]);

		for (size_t k = 0; k < n; k++) {
			char *copy = malloc(k ? k : 1);	/* exactly k bytes: ASan sees overreads */

			assert_non_null(copy);
			memcpy(copy, texts[i], k);
			if ((check(copy, k, &why) == 0) != json_strict_valid(copy, k))
				fail_msg("prefix %zu of %s: the checkers disagree", k, texts[i]);
			free(copy);
		}
		assert_int_equal(check(texts[i], n, &why), 0);
	}
}

/*
 * Every string of up to five characters over an alphabet that reaches
 * most of the grammar: the checker and the tests' own agree on each.
 */
static void
exhaustive_short(void **state)
{
	static const char alphabet[] = "[]{}\",:0-1.e\\u ";
	const size_t na = sizeof(alphabet) - 1;
	char buf[8];
	const char *why;
	unsigned long n = 0;

	(void)state;
	for (size_t len = 0; len <= 5; len++) {
		size_t idx[5] = { 0 }, total = 1;

		for (size_t i = 0; i < len; i++)
			total *= na;
		for (size_t t = 0; t < total; t++) {
			size_t v = t;

			for (size_t i = 0; i < len; i++) {
				idx[i] = v % na;
				v /= na;
				buf[i] = alphabet[idx[i]];
			}
			bool ours = check(buf, len, &why) == 0, theirs = json_strict_valid(buf, len);

			if (ours != theirs)
				fail_msg("\"%.*s\": proto_json_check %s, json_strict_valid %s",
					 (int)len, buf, ours ? "accepts" : "refuses",
					 theirs ? "accepts" : "refuses");
			n++;
		}
	}
	assert_true(n > 800000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_yes),
		cmocka_unit_test(table_no),
		cmocka_unit_test(depth_limit),
		cmocka_unit_test(nul_escape),
		cmocka_unit_test(bounded),
		cmocka_unit_test(exhaustive_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
