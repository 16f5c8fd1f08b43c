/*
 * proto-base64-simd: base64 with SSSE3 and AVX2, picked at run time.
 *
 * Encoding (Wojciech Muła's method): each 3-byte group is spread over a
 * 32-bit lane with a byte shuffle, the four 6-bit indices are moved into
 * the four bytes with two multiplies, and the indices become characters
 * by adding an offset looked up from the index's range.  Decoding: the
 * high and low nibble of each character index two 16-byte tables whose
 * AND is zero exactly for the 64 alphabet characters (anything else,
 * '=' included, fails the block); a third table gives the offset that
 * turns a character into its 6 bits, and two multiply-adds pack four
 * sextets into three bytes.
 *
 * Only whole blocks are done here; the scalar code does the rest (the
 * last quad with its padding included), and a block with a character
 * outside the alphabet hands the whole input to the scalar decoder, so
 * that every implementation answers every input alike.  No block reads
 * or writes past the caller's buffers.  The functions carry their target
 * attributes: the library is built for the baseline CPU, and the choice
 * is made once, when it loads (__builtin_cpu_supports), so one binary
 * runs everywhere, valgrind included.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto-base64.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1

/* ---- SSSE3: 12 bytes <-> 16 characters --------------------------------------- */

__attribute__((target("ssse3"))) static inline __m128i
enc_indices_to_ascii(__m128i idx)
{
	const __m128i shift = _mm_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
					    '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
					    '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
	/* 0..51 -> 0, 52..61 -> 1..10, 62 -> 11, 63 -> 12; then 0..25 -> 13 */
	__m128i r = _mm_subs_epu8(idx, _mm_set1_epi8(51));
	__m128i less = _mm_cmpgt_epi8(_mm_set1_epi8(26), idx);

	r = _mm_or_si128(r, _mm_and_si128(less, _mm_set1_epi8(13)));
	return _mm_add_epi8(_mm_shuffle_epi8(shift, r), idx);
}

__attribute__((target("ssse3"))) static inline __m128i
enc_split(__m128i in)
{
	const __m128i spread = _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	__m128i t0, t1, t2, t3;

	in = _mm_shuffle_epi8(in, spread);
	t0 = _mm_and_si128(in, _mm_set1_epi32(0x0fc0fc00));
	t1 = _mm_mulhi_epu16(t0, _mm_set1_epi32(0x04000040));
	t2 = _mm_and_si128(in, _mm_set1_epi32(0x003f03f0));
	t3 = _mm_mullo_epi16(t2, _mm_set1_epi32(0x01000010));
	return _mm_or_si128(t1, t3);
}

/* Encodes whole 12-byte blocks while 16 input bytes are readable; returns bytes consumed. */
__attribute__((target("ssse3"))) static size_t
enc_ssse3(char *out, const uint8_t *in, size_t n)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 12, out += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(in + i));

		_mm_storeu_si128((__m128i *)out, enc_indices_to_ascii(enc_split(v)));
	}
	return i;
}

/* Sextets of 16 characters, or false when one is outside the alphabet. */
__attribute__((target("ssse3"))) static inline bool
dec_sextets(__m128i in, __m128i *ret)
{
	const __m128i lut_lo = _mm_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
					     0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b, 0x1a);
	const __m128i lut_hi = _mm_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
					     0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
	const __m128i lut_roll = _mm_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71,
					       0, 0, 0, 0, 0, 0, 0, 0);
	const __m128i nib = _mm_set1_epi8(0x0f);
	__m128i hi = _mm_and_si128(_mm_srli_epi32(in, 4), nib);
	__m128i lo = _mm_and_si128(in, nib);
	__m128i bad = _mm_and_si128(_mm_shuffle_epi8(lut_lo, lo), _mm_shuffle_epi8(lut_hi, hi));
	__m128i slash = _mm_cmpeq_epi8(in, _mm_set1_epi8('/'));

	if (_mm_movemask_epi8(_mm_cmpgt_epi8(bad, _mm_setzero_si128())))
		return false;
	*ret = _mm_add_epi8(in, _mm_shuffle_epi8(lut_roll, _mm_add_epi8(slash, hi)));
	return true;
}

/* Four sextets a lane -> three bytes, big-endian, in the low 12 bytes. */
__attribute__((target("ssse3"))) static inline __m128i
dec_pack(__m128i v)
{
	const __m128i order = _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12,
					    -1, -1, -1, -1);
	__m128i ab = _mm_maddubs_epi16(v, _mm_set1_epi32(0x01400140));
	__m128i abc = _mm_madd_epi16(ab, _mm_set1_epi32(0x00011000));

	return _mm_shuffle_epi8(abc, order);
}

/*
 * Decodes 16-character blocks of the body (the last quad left to the
 * scalar code) while 16 output bytes are writable.  Returns the
 * characters consumed (*ret_out the bytes written), or -1 on a character
 * outside the alphabet.
 */
__attribute__((target("ssse3"))) static ssize_t
dec_ssse3(uint8_t *out, const uint8_t *in, size_t n, size_t *ret_out)
{
	size_t i = 0, o = 0;

	for (; i + 16 + 8 <= n; i += 16, o += 12) {
		__m128i v;

		if (!dec_sextets(_mm_loadu_si128((const __m128i *)(in + i)), &v))
			return -1;
		_mm_storeu_si128((__m128i *)(out + o), dec_pack(v));
	}
	*ret_out = o;
	return (ssize_t)i;
}

/* ---- AVX2: 24 bytes <-> 32 characters ---------------------------------------- */

__attribute__((target("avx2"))) static size_t
enc_avx2(char *out, const uint8_t *in, size_t n)
{
	const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,
						1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	const __m256i shift = _mm256_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
					       '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
					       '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0,
					       'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
					       '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
					       '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
	size_t i = 0;

	/* Lane 0 takes bytes i..i+11, lane 1 bytes i+12..i+23 (loaded from i+12: 28 readable). */
	for (; i + 28 <= n; i += 24, out += 32) {
		__m128i lo = _mm_loadu_si128((const __m128i *)(in + i));
		__m128i hi = _mm_loadu_si128((const __m128i *)(in + i + 12));
		__m256i v = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), spread), t0, t1, t2, t3, r;
		__m256i less;

		t0 = _mm256_and_si256(v, _mm256_set1_epi32(0x0fc0fc00));
		t1 = _mm256_mulhi_epu16(t0, _mm256_set1_epi32(0x04000040));
		t2 = _mm256_and_si256(v, _mm256_set1_epi32(0x003f03f0));
		t3 = _mm256_mullo_epi16(t2, _mm256_set1_epi32(0x01000010));
		v = _mm256_or_si256(t1, t3);
		r = _mm256_subs_epu8(v, _mm256_set1_epi8(51));
		less = _mm256_cmpgt_epi8(_mm256_set1_epi8(26), v);
		r = _mm256_or_si256(r, _mm256_and_si256(less, _mm256_set1_epi8(13)));
		r = _mm256_add_epi8(_mm256_shuffle_epi8(shift, r), v);
		_mm256_storeu_si256((__m256i *)out, r);
	}
	return i;
}

__attribute__((target("avx2"))) static ssize_t
dec_avx2(uint8_t *out, const uint8_t *in, size_t n, size_t *ret_out)
{
	const __m256i lut_lo = _mm256_setr_epi8(
		0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b,
		0x1b, 0x1a, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a,
		0x1b, 0x1b, 0x1b, 0x1a);
	const __m256i lut_hi = _mm256_setr_epi8(
		0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
		0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10,
		0x10, 0x10, 0x10, 0x10);
	const __m256i lut_roll = _mm256_setr_epi8(
		0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
	const __m256i order = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1,
					       -1, 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1,
					       -1, -1);
	const __m256i nib = _mm256_set1_epi8(0x0f);
	size_t i = 0, o = 0;

	/* 32 characters in, 24 bytes out, 32 written: at least 12 more characters must follow. */
	for (; i + 32 + 12 <= n; i += 32, o += 24) {
		__m256i in8 = _mm256_loadu_si256((const __m256i *)(in + i));
		__m256i hi = _mm256_and_si256(_mm256_srli_epi32(in8, 4), nib);
		__m256i lo = _mm256_and_si256(in8, nib);
		__m256i bad = _mm256_and_si256(_mm256_shuffle_epi8(lut_lo, lo),
					       _mm256_shuffle_epi8(lut_hi, hi));
		__m256i slash = _mm256_cmpeq_epi8(in8, _mm256_set1_epi8('/'));
		__m256i v, ab, abc;

		if (_mm256_movemask_epi8(_mm256_cmpgt_epi8(bad, _mm256_setzero_si256())))
			return -1;
		v = _mm256_add_epi8(in8, _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(slash, hi)));
		ab = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
		abc = _mm256_shuffle_epi8(_mm256_madd_epi16(ab, _mm256_set1_epi32(0x00011000)), order);
		/* The 12 bytes of each lane together: dwords 0,1,2 and 4,5,6. */
		abc = _mm256_permutevar8x32_epi32(abc, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
		_mm256_storeu_si256((__m256i *)(out + o), abc);
	}
	*ret_out = o;
	return (ssize_t)i;
}
#endif /* x86 */

/* ---- dispatch ------------------------------------------------------------------ */

static enum proto_base64_impl chosen = PROTO_BASE64_SCALAR;

static const char *const names[_PROTO_BASE64_MAX] = {
	[PROTO_BASE64_SCALAR] = "scalar",
	[PROTO_BASE64_SSSE3] = "ssse3",
	[PROTO_BASE64_AVX2] = "avx2",
};

bool
proto_base64_impl_available(enum proto_base64_impl impl)
{
	switch (impl) {
	case PROTO_BASE64_SCALAR:
		return true;
#ifdef HAVE_X86
	case PROTO_BASE64_SSSE3:
		return __builtin_cpu_supports("ssse3");
	case PROTO_BASE64_AVX2:
		return __builtin_cpu_supports("avx2");
#endif
	default:
		return false;
	}
}

const char *
proto_base64_impl_name(enum proto_base64_impl impl)
{
	return (unsigned)impl < _PROTO_BASE64_MAX ? names[impl] : "?";
}

enum proto_base64_impl
proto_base64_impl_in_use(void)
{
	return chosen;
}

/* The best the CPU has, unless TISOCK_BASE64 names one it has. */
__attribute__((constructor)) static void
choose(void)
{
	const char *want = getenv("TISOCK_BASE64");

#ifdef HAVE_X86
	__builtin_cpu_init();
#endif
	for (int i = _PROTO_BASE64_MAX - 1; i >= 0; i--)
		if (proto_base64_impl_available(i) && (!want || strcmp(want, names[i]) == 0)) {
			chosen = i;
			return;
		}
}

bool
proto_base64_encode_with(enum proto_base64_impl impl, char *out, const void *in, size_t n)
{
	size_t done = 0;

	if (!proto_base64_impl_available(impl))
		return false;
#ifdef HAVE_X86
	if (impl == PROTO_BASE64_AVX2)
		done = enc_avx2(out, in, n);
	if (impl >= PROTO_BASE64_SSSE3)
		done += enc_ssse3(out + done / 3 * 4, (const uint8_t *)in + done, n - done);
#endif
	proto_base64_encode_scalar(out + done / 3 * 4, (const uint8_t *)in + done, n - done);
	return true;
}

bool
proto_base64_decode_with(enum proto_base64_impl impl, void *out, const char *in, size_t n,
			 ssize_t *ret)
{
	size_t used = 0, wrote = 0;
	ssize_t r;

	if (!proto_base64_impl_available(impl))
		return false;
	if (n % 4 == 0) {
#ifdef HAVE_X86
		size_t o;
		ssize_t k;

		if (impl == PROTO_BASE64_AVX2) {
			k = dec_avx2(out, (const uint8_t *)in, n, &o);
			if (k < 0)
				goto scalar;
			used = (size_t)k;
			wrote = o;
		}
		if (impl >= PROTO_BASE64_SSSE3) {
			k = dec_ssse3((uint8_t *)out + wrote, (const uint8_t *)in + used, n - used, &o);
			if (k < 0)
				goto scalar;
			used += (size_t)k;
			wrote += o;
		}
#endif
		r = proto_base64_decode_scalar((uint8_t *)out + wrote, in + used, n - used);
		*ret = r < 0 ? r : r + (ssize_t)wrote;
		return true;
	}
#ifdef HAVE_X86
scalar:
#endif
	/* A block failed (or the length is wrong): the scalar code says exactly how. */
	*ret = proto_base64_decode_scalar(out, in, n);
	return true;
}

void
proto_base64_encode(char *out, const void *in, size_t n)
{
	(void) proto_base64_encode_with(chosen, out, in, n);
}

ssize_t
proto_base64_decode(void *out, const char *in, size_t n)
{
	ssize_t r = -1;

	(void) proto_base64_decode_with(chosen, out, in, n, &r);
	return r;
}
