/*
 * proto-utf8: strict UTF-8 validation with an ASCII fast path.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "proto-utf8.h"

/* True when the n bytes at s are well-formed UTF-8 (RFC 3629). */
bool
proto_utf8_valid(const void *s, size_t n)
{
	const unsigned char *p = s, *end = p + n;

	while (p < end) {
		unsigned c = *p;

		if (c < 0x80) {
			/* Eight ASCII bytes at a time. */
			while (end - p >= 8) {
				uint64_t v;

				memcpy(&v, p, 8);
				if (v & 0x8080808080808080ull)
					break;
				p += 8;
			}
			if (p < end && *p < 0x80)
				p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			if (end - p < 2 || (p[1] & 0xc0) != 0x80)
				return false;
			p += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			if (end - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
				return false;
			if (c == 0xe0 && p[1] < 0xa0)
				return false;	/* overlong */
			if (c == 0xed && p[1] > 0x9f)
				return false;	/* surrogate */
			p += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			if (end - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
			    (p[3] & 0xc0) != 0x80)
				return false;
			if (c == 0xf0 && p[1] < 0x90)
				return false;	/* overlong */
			if (c == 0xf4 && p[1] > 0x8f)
				return false;	/* above U+10FFFF */
			p += 4;
		} else
			return false;
	}
	return true;
}
