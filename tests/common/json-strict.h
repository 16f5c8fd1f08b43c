/*
 * json-strict: an RFC 8259 checker for the tests, written apart from the
 * daemon's own (protocol/proto-json.c) so that the two can be held
 * against each other.
 *
 * A text is accepted when it is one JSON value with optional white space
 * around it, in well-formed UTF-8 (RFC 3629), with every \u escape of a
 * UTF-16 surrogate part of a high-low pair (I-JSON, RFC 7493 2.1), and
 * nested at most JSON_STRICT_MAX_DEPTH deep.  U+0000 written \u0000 is
 * JSON and is accepted.  Recursive descent, no allocation.
 */
#ifndef TISOCK_JSON_STRICT_H
#define TISOCK_JSON_STRICT_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_STRICT_MAX_DEPTH	512

bool	 json_strict_valid(const char *s, size_t len);

#endif
