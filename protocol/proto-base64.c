/*
 * proto-base64: table-driven RFC 4648 base64 (standard alphabet, padded).
 *
 * The encoder turns three bytes into four characters per step with one
 * table lookup each; the decoder maps characters through a 256-entry
 * table where 0xff marks anything outside the alphabet.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include "proto-base64.h"

static const char enc[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define X 0xff
static const uint8_t dec[256] = {
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef X

/* Writes proto_base64_encoded_len(n) characters (no NUL) to out. */
void
proto_base64_encode(char *out, const void *in, size_t n)
{
	const uint8_t *p = in;
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*out++ = enc[v >> 18];
		*out++ = enc[(v >> 12) & 63];
		*out++ = enc[(v >> 6) & 63];
		*out++ = enc[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		*out++ = enc[v >> 18];
		*out++ = enc[(v >> 12) & 63];
		*out++ = '=';
		*out++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		*out++ = enc[v >> 18];
		*out++ = enc[(v >> 12) & 63];
		*out++ = enc[(v >> 6) & 63];
		*out++ = '=';
	}
}

/*
 * Decodes n characters into out, which has room for
 * proto_base64_decoded_max(n) bytes.  Returns the byte count, or -EINVAL
 * for anything that is not canonical padded base64.
 */
ssize_t
proto_base64_decode(void *out, const char *in, size_t n)
{
	const uint8_t *s = (const uint8_t *)in;
	uint8_t *o = out;
	size_t i, full;

	if (n % 4 != 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	full = n - 4;
	for (i = 0; i < full; i += 4) {
		uint8_t a = dec[s[i]], b = dec[s[i + 1]], c = dec[s[i + 2]], d = dec[s[i + 3]];

		if ((a | b | c | d) & 0xc0)
			return -EINVAL;
		*o++ = (uint8_t)(a << 2 | b >> 4);
		*o++ = (uint8_t)(b << 4 | c >> 2);
		*o++ = (uint8_t)(c << 6 | d);
	}
	{
		uint8_t a = dec[s[i]], b = dec[s[i + 1]], c, d;

		if ((a | b) & 0xc0)
			return -EINVAL;
		*o++ = (uint8_t)(a << 2 | b >> 4);
		if (s[i + 2] == '=') {
			if (s[i + 3] != '=' || (b & 0x0f))
				return -EINVAL;
			return o - (uint8_t *)out;
		}
		c = dec[s[i + 2]];
		if (c & 0xc0)
			return -EINVAL;
		*o++ = (uint8_t)(b << 4 | c >> 2);
		if (s[i + 3] == '=') {
			if (c & 0x03)
				return -EINVAL;
			return o - (uint8_t *)out;
		}
		d = dec[s[i + 3]];
		if (d & 0xc0)
			return -EINVAL;
		*o++ = (uint8_t)(c << 6 | d);
	}
	return o - (uint8_t *)out;
}

/* True (1) when n characters at in are canonical padded base64. */
int
proto_base64_valid(const char *in, size_t n)
{
	const uint8_t *s = (const uint8_t *)in;
	size_t i, body;

	if (n % 4 != 0)
		return 0;
	if (n == 0)
		return 1;
	body = n - (s[n - 1] == '=') - (s[n - 2] == '=');
	for (i = 0; i < body; i++)
		if (dec[s[i]] & 0xc0)
			return 0;
	if (body == n - 2)
		return (dec[s[n - 3]] & 0x0f) == 0;
	if (body == n - 1)
		return (dec[s[n - 2]] & 0x03) == 0;
	return 1;
}
