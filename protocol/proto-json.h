/*
 * proto-json: is a line JSON?  A strict RFC 8259 checker, run on every
 * line before cJSON builds a tree (cJSON itself takes "01", "1.", "\uZZZZ"
 * and more).
 *
 * One pass, no allocation, no recursion.  Beyond RFC 8259's grammar it
 * holds the daemon's own rules, each with its data.reason for -32700:
 *  - "depth": more than PROTO_JSON_MAX_DEPTH nested arrays and objects;
 *  - "nul": a string holding U+0000 (written \u0000): the daemon's
 *    strings are C strings and would be cut there;
 *  - "json": anything else that is not JSON, and also a \u escape of a
 *    UTF-16 surrogate that is not the high half of a high-low pair (it
 *    names no character, RFC 7493 2.1), a number longer than
 *    PROTO_JSON_NUMBER_MAX characters (cJSON reads no more), and a byte
 *    order mark (RFC 8259 8.1 lets a parser refuse it).
 * UTF-8 is not checked here: proto_utf8_valid() runs first.
 */
#ifndef TISOCK_PROTO_JSON_H
#define TISOCK_PROTO_JSON_H

#include <stddef.h>

#define PROTO_JSON_MAX_DEPTH	64	/* deeper input is a parse error */
#define PROTO_JSON_NUMBER_MAX	63	/* characters of one number at most */

int	 proto_json_check(const char *s, size_t len, const char **ret_reason);

#endif
