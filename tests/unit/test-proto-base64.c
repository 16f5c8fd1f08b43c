/*
 * test-proto-base64: RFC 4648 vectors, round trips of every byte value,
 * and strict rejection of everything that is not canonical.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto-base64.h"

static void
rfc4648_vectors(void **state)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					     "Zm9vYmFy" };
	char out[16], back[16];

	(void)state;
	for (size_t i = 0; i < 7; i++) {
		size_t n = strlen(plain[i]);

		assert_int_equal(proto_base64_encoded_len(n), strlen(coded[i]));
		proto_base64_encode(out, plain[i], n);
		assert_memory_equal(out, coded[i], strlen(coded[i]));
		assert_int_equal(proto_base64_decode(back, coded[i], strlen(coded[i])), (ssize_t)n);
		assert_memory_equal(back, plain[i], n);
		assert_true(proto_base64_valid(coded[i], strlen(coded[i])));
	}
}

static void
round_trip_lengths(void **state)
{
	unsigned char in[300], back[300];
	char enc[400];

	(void)state;
	srand(42);
	for (size_t n = 0; n <= sizeof(in); n++) {
		for (size_t i = 0; i < n; i++)
			in[i] = (unsigned char)(n == 256 ? i : (unsigned)rand());
		proto_base64_encode(enc, in, n);
		size_t elen = proto_base64_encoded_len(n);

		assert_true(proto_base64_valid(enc, elen));
		assert_int_equal(proto_base64_decode(back, enc, elen), (ssize_t)n);
		assert_memory_equal(back, in, n);
	}
}

static void
all_byte_values(void **state)
{
	unsigned char in[256], back[256];
	char enc[344];

	(void)state;
	for (int i = 0; i < 256; i++)
		in[i] = (unsigned char)i;
	proto_base64_encode(enc, in, 256);
	assert_int_equal(proto_base64_decode(back, enc, 344), 256);
	assert_memory_equal(back, in, 256);
}

static void
strict_rejection(void **state)
{
	static const char *const bad[] = {
		"Zg=", "Zg", "Z", "Zm9", "Zh==", "Zm9=", "Zg==Zg==", "Z===", "====", "Zm 9v",
		"Zm9v\n", "Zm-v", "Zm_v", "Zm9v=", "=Zm9", "Zm=v", "\xc3\xa9Zm9",
	};
	char out[16];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);

		assert_false(proto_base64_valid(bad[i], n));
		assert_true(proto_base64_decode(out, bad[i], n) < 0);
	}
}

/* A pseudo-random byte (xorshift), so the vectors are the same every run. */
static uint8_t
next_byte(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return (uint8_t)*x;
}

/*
 * Every implementation the CPU has against the scalar one, byte for byte,
 * at every length 0..4096: the encoding, the decoding of it, and the
 * answer for one corruption per length (a character outside the alphabet,
 * or '=' inside, at a position that walks the whole string).
 */
static void
implementations_agree(void **state)
{
	static uint8_t in[4096 + 64], back[4096 + 64], back2[4096 + 64];
	static char ref[5500], got[5500];
	static const char junk[] = { '=', '-', '_', ' ', '\n', '\0', '.', '\x80', '\xff', '*' };
	uint32_t x = 2463534242u;
	int tested = 0;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = next_byte(&x);
	for (int impl = PROTO_BASE64_SSSE3; impl < _PROTO_BASE64_MAX; impl++) {
		if (!proto_base64_impl_available(impl)) {
			print_message("# %s: not on this CPU\n", proto_base64_impl_name(impl));
			continue;
		}
		tested++;
		for (size_t n = 0; n <= 4096; n++) {
			size_t e = proto_base64_encoded_len(n);
			ssize_t r1, r2;

			proto_base64_encode_scalar(ref, in, n);
			memset(got, 0x55, e + 8);
			assert_true(proto_base64_encode_with(impl, got, in, n));
			assert_memory_equal(got, ref, e);
			assert_int_equal((uint8_t)got[e], 0x55);	/* nothing past the end */
			assert_true(proto_base64_decode_with(impl, back, ref, e, &r1));
			assert_int_equal(r1, (ssize_t)n);
			assert_memory_equal(back, in, n);
			if (e == 0)
				continue;
			/* One bad character, somewhere in the string. */
			ref[(n * 7) % e] = junk[n % sizeof(junk)];
			r1 = proto_base64_decode_scalar(back, ref, e);
			assert_true(proto_base64_decode_with(impl, back2, ref, e, &r2));
			assert_int_equal(r1, r2);
			if (r1 >= 0)
				assert_memory_equal(back, back2, (size_t)r1);
		}
	}
	print_message("# %d vector implementation(s) checked, %s in use\n", tested,
		      proto_base64_impl_name(proto_base64_impl_in_use()));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4648_vectors),
		cmocka_unit_test(round_trip_lengths),
		cmocka_unit_test(all_byte_values),
		cmocka_unit_test(strict_rejection),
		cmocka_unit_test(implementations_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
