/*
 * proto-utf8: strict UTF-8 validation (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF).
 */
#ifndef TISOCK_PROTO_UTF8_H
#define TISOCK_PROTO_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool	 proto_utf8_valid(const void *s, size_t n);

#endif
