/*
 * test-codec: Ti.Codec with the vectors of Titanium's ti.codec.test.js,
 * both byte orders, LONG beyond 2^53, and every charset including the
 * UTF-16 byte-order marks.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <tisock/tisock.h>

static tisock_buffer *
bytes(const char *p, size_t n)
{
	tisock_buffer *b = tisock_buffer_create(n);

	memcpy(tisock_buffer_data(b), p, n);
	return b;
}

static void
encode_numbers(void **state)
{
	tisock_buffer *b = tisock_buffer_create(8), *ten = tisock_buffer_create(10);

	(void)state;
	assert_int_equal(tisock_codec_encode_number(b, 0, 78187493530.0, TISOCK_TYPE_LONG,
						    TISOCK_LITTLE_ENDIAN), 8);
	assert_memory_equal(tisock_buffer_data(b), "\x9a\x78\x56\x34\x12\0\0\0", 8);
	assert_int_equal(tisock_codec_encode_number(ten, 2, 78187493530.0, TISOCK_TYPE_LONG,
						    TISOCK_BIG_ENDIAN), 10);
	assert_memory_equal(tisock_buffer_data(ten) + 2, "\0\0\0\x12\x34\x56\x78\x9a", 8);
	assert_int_equal(tisock_codec_encode_number(b, 0, 78187493530.0, TISOCK_TYPE_INT,
						    TISOCK_BIG_ENDIAN), 4);
	assert_memory_equal(tisock_buffer_data(b), "\x34\x56\x78\x9a", 4);
	assert_int_equal(tisock_codec_encode_number(b, 0, 214375, TISOCK_TYPE_SHORT,
						    TISOCK_BIG_ENDIAN), 2);
	assert_memory_equal(tisock_buffer_data(b), "\x45\x67", 2);
	assert_int_equal(tisock_codec_encode_number(b, 1, 63, TISOCK_TYPE_BYTE,
						    TISOCK_BIG_ENDIAN), 2);
	assert_int_equal(tisock_buffer_get(b, 1), 63);
	assert_int_equal(tisock_codec_encode_number(b, 0, 1.0 / 3, TISOCK_TYPE_DOUBLE,
						    TISOCK_BIG_ENDIAN), 8);
	assert_memory_equal(tisock_buffer_data(b), "\x3f\xd5\x55\x55\x55\x55\x55\x55", 8);
	tisock_codec_encode_number(b, 0, 1.23456789, TISOCK_TYPE_DOUBLE, TISOCK_BIG_ENDIAN);
	assert_memory_equal(tisock_buffer_data(b), "\x3f\xf3\xc0\xca\x42\x83\xde\x1b", 8);
	tisock_codec_encode_number(b, 0, 1.2345, TISOCK_TYPE_FLOAT, TISOCK_BIG_ENDIAN);
	assert_memory_equal(tisock_buffer_data(b), "\x3f\x9e\x04\x19", 4);
	/* No room, bad type, bad order: refused, nothing written. */
	tisock_buffer_fill(b, 0xaa, 0, TISOCK_ALL);
	assert_int_equal(tisock_codec_encode_number(b, 1, 1, TISOCK_TYPE_LONG,
						    TISOCK_BIG_ENDIAN), -EINVAL);
	assert_int_equal(tisock_codec_encode_number(b, 9, 1, TISOCK_TYPE_BYTE,
						    TISOCK_BIG_ENDIAN), -EINVAL);
	assert_int_equal(tisock_codec_encode_number(b, 0, 1, 0, TISOCK_BIG_ENDIAN), -EINVAL);
	assert_int_equal(tisock_codec_encode_number(b, 0, 1, TISOCK_TYPE_INT, 2), -EINVAL);
	assert_int_equal(tisock_codec_encode_number(NULL, 0, 1, TISOCK_TYPE_INT, 0), -EINVAL);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(tisock_buffer_get(b, i), 0xaa);
	/* Down-casts keep the low bytes; negatives are two's complement. */
	tisock_codec_encode_number(b, 0, -1, TISOCK_TYPE_SHORT, TISOCK_BIG_ENDIAN);
	assert_memory_equal(tisock_buffer_data(b), "\xff\xff", 2);
	tisock_codec_encode_number(b, 0, 300.9, TISOCK_TYPE_BYTE, TISOCK_BIG_ENDIAN);
	assert_int_equal(tisock_buffer_get(b, 0), 44);
	tisock_buffer_free(b);
	tisock_buffer_free(ten);
}

static void
decode_numbers(void **state)
{
	tisock_buffer *b = bytes("\x9a\x78\x56\x34\x12\0\0\0", 8);
	double d;
	int64_t i;

	(void)state;
	assert_int_equal(tisock_codec_decode_number(b, 0, TISOCK_TYPE_LONG, TISOCK_LITTLE_ENDIAN,
						    &d), 0);
	assert_true(d == 78187493530.0);
	tisock_buffer_free(b);
	b = bytes("\0\x78\x56\x34\x12", 5);
	assert_int_equal(tisock_codec_decode_number(b, 1, TISOCK_TYPE_INT, TISOCK_BIG_ENDIAN,
						    &d), 0);
	assert_true(d == 2018915346.0);
	tisock_buffer_free(b);
	b = bytes("\x9a\x78", 2);
	tisock_codec_decode_number(b, 0, TISOCK_TYPE_SHORT, TISOCK_LITTLE_ENDIAN, &d);
	assert_true(d == 30874.0);
	tisock_buffer_free(b);
	b = bytes("\x3f\xd5\x55\x55\x55\x55\x55\x55", 8);
	tisock_codec_decode_number(b, 0, TISOCK_TYPE_DOUBLE, TISOCK_BIG_ENDIAN, &d);
	assert_true(d == 1.0 / 3);
	tisock_buffer_free(b);
	b = bytes("\x19\x04\x9e\x3f", 4);
	tisock_codec_decode_number(b, 0, TISOCK_TYPE_FLOAT, TISOCK_LITTLE_ENDIAN, &d);
	assert_true(fabs(d - 1.2345) < 1e-6);
	assert_int_equal(tisock_codec_decode_integer(b, 0, TISOCK_TYPE_BYTE, TISOCK_BIG_ENDIAN, &i),
			 0);
	assert_int_equal(i, 0x19);
	assert_int_equal(tisock_codec_decode_number(b, 1, TISOCK_TYPE_INT, TISOCK_BIG_ENDIAN, &d),
			 -EINVAL);
	assert_int_equal(tisock_codec_decode_number(b, 5, TISOCK_TYPE_BYTE, TISOCK_BIG_ENDIAN, &d),
			 -EINVAL);
	tisock_buffer_free(b);
	/* Signed: BYTE, SHORT, INT. */
	b = bytes("\xff\xff\xff\xfe", 4);
	tisock_codec_decode_integer(b, 0, TISOCK_TYPE_BYTE, TISOCK_BIG_ENDIAN, &i);
	assert_int_equal(i, -1);
	tisock_codec_decode_integer(b, 0, TISOCK_TYPE_SHORT, TISOCK_BIG_ENDIAN, &i);
	assert_int_equal(i, -1);
	tisock_codec_decode_integer(b, 0, TISOCK_TYPE_INT, TISOCK_BIG_ENDIAN, &i);
	assert_int_equal(i, -2);
	tisock_buffer_free(b);
}

static void
long_beyond_2_53(void **state)
{
	const int64_t big[] = { INT64_MAX, INT64_MIN, 9007199254740993LL, -9007199254740993LL,
				0x0102030405060708LL };
	tisock_buffer *b = tisock_buffer_create(8);

	(void)state;
	for (size_t k = 0; k < sizeof(big) / sizeof(big[0]); k++) {
		for (int order = 0; order <= 1; order++) {
			int64_t back = 0;

			assert_int_equal(tisock_codec_encode_integer(b, 0, big[k], TISOCK_TYPE_LONG,
								     order), 8);
			assert_int_equal(tisock_codec_decode_integer(b, 0, TISOCK_TYPE_LONG, order,
								     &back), 0);
			assert_true(back == big[k]);
		}
	}
	tisock_codec_encode_integer(b, 0, 0x0102030405060708LL, TISOCK_TYPE_LONG, TISOCK_BIG_ENDIAN);
	assert_memory_equal(tisock_buffer_data(b), "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	tisock_buffer_free(b);
}

static void
encode_strings(void **state)
{
	const char *phrase = "Wer reitet so sp\xc3\xa4t durch Nacht und Wind?";
	tisock_buffer *b = tisock_buffer_create(1024);
	size_t len;
	char *s;

	(void)state;
	assert_int_equal(tisock_codec_encode_string(b, 0, phrase, TISOCK_ALL, TISOCK_CHARSET_UTF8),
			 41);
	assert_int_equal(tisock_buffer_get(b, 16), 195);
	assert_int_equal(tisock_buffer_get(b, 17), 164);
	assert_int_equal(tisock_codec_encode_string(b, 0, phrase, TISOCK_ALL, TISOCK_CHARSET_UTF16),
			 82);
	tisock_buffer_set_length(b, 82);
	s = tisock_codec_decode_string(b, 0, TISOCK_ALL, TISOCK_CHARSET_UTF16, &len);
	assert_string_equal(s, phrase);
	free(s);
	/* Latin-1 and ASCII. */
	assert_int_equal(tisock_codec_encode_string(b, 0, "sp\xc3\xa4t", TISOCK_ALL,
						    TISOCK_CHARSET_ISO_LATIN_1), 4);
	assert_memory_equal(tisock_buffer_data(b), "sp\xe4t", 4);
	assert_int_equal(tisock_codec_encode_string(b, 0, "sp\xc3\xa4t", TISOCK_ALL,
						    TISOCK_CHARSET_ASCII), -EILSEQ);
	assert_int_equal(tisock_codec_encode_string(b, 2, "ab", TISOCK_ALL,
						    TISOCK_CHARSET_UTF16LE), 6);
	assert_memory_equal(tisock_buffer_data(b) + 2, "a\0b\0", 4);
	/* Does not fit: refused, dest untouched. */
	tisock_buffer_set_length(b, 3);
	tisock_buffer_clear(b);
	assert_int_equal(tisock_codec_encode_string(b, 0, "abcd", TISOCK_ALL, TISOCK_CHARSET_UTF8),
			 -EINVAL);
	assert_int_equal(tisock_buffer_get(b, 0), 0);
	assert_int_equal(tisock_codec_encode_string(b, 4, "", TISOCK_ALL, TISOCK_CHARSET_UTF8),
			 -EINVAL);
	assert_int_equal(tisock_codec_encode_string(b, 0, "a", TISOCK_ALL, 99), -EINVAL);
	tisock_buffer_free(b);
}

static void
decode_strings(void **state)
{
	tisock_buffer *b;
	char *s;

	(void)state;
	b = bytes("sp\xc3\xa4t", 5);
	s = tisock_codec_decode_string(b, 0, TISOCK_ALL, TISOCK_CHARSET_UTF8, NULL);
	assert_string_equal(s, "sp\xc3\xa4t");
	free(s);
	s = tisock_codec_decode_string(b, 1, 3, TISOCK_CHARSET_UTF8, NULL);
	assert_string_equal(s, "p\xc3\xa4");
	free(s);
	errno = 0;
	assert_null(tisock_codec_decode_string(b, 3, 3, TISOCK_CHARSET_UTF8, NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(tisock_codec_decode_string(b, 0, 2, TISOCK_CHARSET_ASCII + 100, NULL));
	tisock_buffer_free(b);
	b = bytes("\xff\xfes\0p\0\xe4\0t\0", 10);
	s = tisock_codec_decode_string(b, 0, TISOCK_ALL, TISOCK_CHARSET_UTF16, NULL);
	assert_string_equal(s, "sp\xc3\xa4t");
	free(s);
	tisock_buffer_free(b);
	b = bytes("\xfe\xff\0s\0p\0\xe4\0t", 10);
	s = tisock_codec_decode_string(b, 0, TISOCK_ALL, TISOCK_CHARSET_UTF16, NULL);
	assert_string_equal(s, "sp\xc3\xa4t");
	free(s);
	tisock_buffer_free(b);
	b = bytes("\0s\0p", 4);	/* no BOM: big-endian */
	s = tisock_codec_decode_string(b, 0, TISOCK_ALL, TISOCK_CHARSET_UTF16, NULL);
	assert_string_equal(s, "sp");
	free(s);
	tisock_buffer_free(b);
	b = bytes("sp\xe4t", 4);
	s = tisock_codec_decode_string(b, 0, TISOCK_ALL, TISOCK_CHARSET_ISO_LATIN_1, NULL);
	assert_string_equal(s, "sp\xc3\xa4t");
	free(s);
	assert_null(tisock_codec_decode_string(b, 0, TISOCK_ALL, TISOCK_CHARSET_UTF8, NULL));
	assert_int_equal(errno, EILSEQ);
	tisock_buffer_free(b);
	/* A value buffer longer than the string: decode just the string. */
	b = tisock_buffer_create(100);
	tisock_codec_encode_string(b, 0, "The system is down", TISOCK_ALL, TISOCK_CHARSET_UTF8);
	s = tisock_codec_decode_string(b, 0, 18, TISOCK_CHARSET_UTF8, NULL);
	assert_string_equal(s, "The system is down");
	free(s);
	tisock_buffer_free(b);
}

/*
 * UTF-8 is checked as RFC 3629 says, on both sides, whatever iconv
 * lets through: nothing above U+10FFFF, no 5- or 6-byte forms, no
 * overlongs, no surrogates.  Before, glibc passed the first four of
 * these through both calls, so a "UTF-8 string" came back invalid.
 */
static void
strict_utf8(void **state)
{
	static const struct {
		const char	*s;
		size_t		 n;
	} bad[] = {
		{ "\xf4\x90\x80\x80", 4 },		/* U+110000 */
		{ "\xf7\xbf\xbf\xbf", 4 },		/* U+1FFFFF */
		{ "\xf8\x88\x80\x80\x80", 5 },	/* a 5-byte form */
		{ "\xfc\x84\x80\x80\x80\x80", 6 },	/* a 6-byte form */
		{ "\xed\xa0\x80", 3 },		/* a surrogate */
		{ "\xc0\xaf", 2 },			/* overlong */
		{ "a\xe2\x82", 3 },			/* cut short */
	};
	tisock_buffer *src, *dest = tisock_buffer_create(16);
	size_t len;
	char *s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		src = bytes(bad[i].s, bad[i].n);
		errno = 0;
		assert_null(tisock_codec_decode_string(src, 0, TISOCK_ALL, TISOCK_CHARSET_UTF8,
						       NULL));
		assert_int_equal(errno, EILSEQ);
		errno = 0;
		assert_null(tisock_buffer_to_string(src, NULL));
		assert_int_equal(errno, EILSEQ);
		tisock_buffer_clear(dest);
		for (int cs = TISOCK_CHARSET_ASCII; cs <= TISOCK_CHARSET_UTF16LE; cs++)
			assert_int_equal(tisock_codec_encode_string(dest, 0, bad[i].s,
								    (ssize_t)bad[i].n, cs), -EILSEQ);
		assert_int_equal(tisock_buffer_get(dest, 0), 0);	/* untouched */
		errno = 0;
		assert_null(tisock_buffer_from_string(bad[i].s, (ssize_t)bad[i].n,
						      TISOCK_CHARSET_UTF8));
		assert_int_equal(errno, EILSEQ);
		tisock_buffer_free(src);
	}
	/* The edges that are valid stay so: U+10FFFF, U+FFFF, U+0000 inside. */
	src = bytes("\xf4\x8f\xbf\xbf\xef\xbf\xbf\0z", 9);
	s = tisock_codec_decode_string(src, 0, TISOCK_ALL, TISOCK_CHARSET_UTF8, &len);
	assert_non_null(s);
	assert_int_equal(len, 9);
	assert_memory_equal(s, "\xf4\x8f\xbf\xbf\xef\xbf\xbf\0z", 9);
	free(s);
	assert_int_equal(tisock_codec_encode_string(dest, 0, "\xf4\x8f\xbf\xbf", 4,
						    TISOCK_CHARSET_UTF16BE), 4);
	assert_memory_equal(tisock_buffer_cdata(dest), "\xdb\xff\xdf\xff", 4);
	tisock_buffer_free(src);
	tisock_buffer_free(dest);
}

static void
names(void **state)
{
	(void)state;
	assert_int_equal(tisock_codec_charset_from_name("utf8"), TISOCK_CHARSET_UTF8);
	assert_int_equal(tisock_codec_charset_from_name("latin1"), TISOCK_CHARSET_ISO_LATIN_1);
	assert_int_equal(tisock_codec_charset_from_name("iso-latin-1"), TISOCK_CHARSET_ISO_LATIN_1);
	assert_int_equal(tisock_codec_charset_from_name("utf16le"), TISOCK_CHARSET_UTF16LE);
	assert_int_equal(tisock_codec_charset_from_name("klingon"), -EINVAL);
	assert_int_equal(tisock_codec_type_from_name("long"), TISOCK_TYPE_LONG);
	assert_int_equal(tisock_codec_type_from_name("double"), TISOCK_TYPE_DOUBLE);
	assert_int_equal(tisock_codec_type_from_name("word"), -EINVAL);
	assert_string_equal(tisock_codec_type_name(TISOCK_TYPE_SHORT), "short");
	assert_string_equal(tisock_codec_charset_name(TISOCK_CHARSET_ASCII), "ascii");
	assert_null(tisock_codec_type_name(0));
	assert_int_equal(tisock_codec_type_width(TISOCK_TYPE_FLOAT), 4);
	assert_int_equal(tisock_codec_type_width(TISOCK_TYPE_LONG), 8);
	assert_int_equal(tisock_codec_native_byte_order(),
			 *(const uint8_t *)&(const uint16_t){ 1 } ? TISOCK_LITTLE_ENDIAN
								  : TISOCK_BIG_ENDIAN);
}

/*
 * Titanium's defaults (ti.codec.test.js): encodeString and decodeString
 * without a charset are UTF-8 ("Wer reitet so spät durch Nacht und
 * Wind?" gives 41, with 'ä' as 195 164 at 16; [115,112,195,164,116] is
 * "spät"); encodeNumber and decodeNumber without a byteOrder use the
 * native order (78187493530 as LONG: [154,120,86,52,18,0,0,0] on a
 * little-endian host).
 */
static void
defaults(void **state)
{
	tisock_buffer *b = tisock_buffer_create(1024), *n = tisock_buffer_create(8), *e;
	const char phrase[] = "Wer reitet so sp\xc3\xa4t durch Nacht und Wind?";
	uint8_t want[8] = { 154, 120, 86, 52, 18, 0, 0, 0 };
	int64_t v;
	double d;
	char *s;

	(void)state;
	assert_int_equal(tisock_codec_encode_string(b, 0, phrase, TISOCK_ALL,
						    TISOCK_CHARSET_DEFAULT), 41);
	assert_int_equal(tisock_buffer_get(b, 16), 195);
	assert_int_equal(tisock_buffer_get(b, 17), 164);
	e = bytes("\x73\x70\xc3\xa4\x74", 5);
	s = tisock_codec_decode_string(e, 0, TISOCK_ALL, TISOCK_CHARSET_DEFAULT, NULL);
	assert_string_equal(s, "sp\xc3\xa4t");
	free(s);
	assert_string_equal(tisock_codec_charset_name(TISOCK_CHARSET_DEFAULT), "utf8");
	assert_int_equal(tisock_codec_encode_number(n, 0, 78187493530.0, TISOCK_TYPE_LONG,
						    TISOCK_NATIVE_ENDIAN), 8);
	if (tisock_codec_native_byte_order() == TISOCK_BIG_ENDIAN)
		for (int i = 0; i < 4; i++) {
			uint8_t t = want[i];

			want[i] = want[7 - i];
			want[7 - i] = t;
		}
	assert_memory_equal(tisock_buffer_data(n), want, 8);
	assert_int_equal(tisock_codec_decode_integer(n, 0, TISOCK_TYPE_LONG, TISOCK_NATIVE_ENDIAN,
						     &v), 0);
	assert_int_equal(v, 78187493530LL);
	assert_int_equal(tisock_codec_decode_number(n, 0, TISOCK_TYPE_LONG, TISOCK_NATIVE_ENDIAN,
						    &d), 0);
	assert_true(d == 78187493530.0);
	assert_int_equal(tisock_codec_encode_integer(n, 0, 7, TISOCK_TYPE_BYTE,
						     TISOCK_NATIVE_ENDIAN), 1);
	/* Still refused: anything else. */
	assert_int_equal(tisock_codec_encode_number(n, 0, 1, TISOCK_TYPE_INT, 2), -EINVAL);
	assert_int_equal(tisock_codec_encode_number(n, 0, 1, TISOCK_TYPE_INT, -2), -EINVAL);
	assert_int_equal(tisock_codec_encode_string(b, 0, "x", 1, -1), -EINVAL);
	assert_int_equal(tisock_codec_encode_string(b, 0, "x", 1, 99), -EINVAL);
	tisock_buffer_free(b);
	tisock_buffer_free(n);
	tisock_buffer_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encode_numbers),
		cmocka_unit_test(decode_numbers),
		cmocka_unit_test(long_beyond_2_53),
		cmocka_unit_test(encode_strings),
		cmocka_unit_test(decode_strings),
		cmocka_unit_test(strict_utf8),
		cmocka_unit_test(names),
		cmocka_unit_test(defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
