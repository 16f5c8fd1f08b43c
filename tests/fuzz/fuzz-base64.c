/*
 * fuzz-base64: every base64 implementation the CPU has against the scalar
 * one.  The input is encoded by each (the same characters, nothing written
 * past the end), and decoded as text by each (the same result, error or
 * bytes); the encoding of the input, decoded, must give the input back.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto-base64.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t e = proto_base64_encoded_len(size), dmax = proto_base64_decoded_max(size);
	char *ref = malloc(e + 1), *got = malloc(e + 1);
	uint8_t *b1 = malloc(dmax + size + 1), *b2 = malloc(dmax + size + 1);
	ssize_t r1, r2;

	if (!ref || !got || !b1 || !b2)
		abort();
	proto_base64_encode_scalar(ref, data, size);
	r1 = proto_base64_decode_scalar(b1, (const char *)data, size);
	for (int impl = PROTO_BASE64_SSSE3; impl < _PROTO_BASE64_MAX; impl++) {
		if (!proto_base64_impl_available(impl))
			continue;
		got[e] = 0x5a;
		if (!proto_base64_encode_with(impl, got, data, size) || memcmp(got, ref, e) != 0 ||
		    got[e] != 0x5a)
			abort();	/* a different encoding */
		if (!proto_base64_decode_with(impl, b2, (const char *)data, size, &r2) || r1 != r2 ||
		    (r1 > 0 && memcmp(b1, b2, (size_t)r1) != 0))
			abort();	/* a different reading of the same text */
		if (!proto_base64_decode_with(impl, b2, ref, e, &r2) || r2 != (ssize_t)size ||
		    memcmp(b2, data, size) != 0)
			abort();	/* no round trip */
	}
	free(ref);
	free(got);
	free(b1);
	free(b2);
	return 0;
}
