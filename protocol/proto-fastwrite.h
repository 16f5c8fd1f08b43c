/*
 * proto-fastwrite: the tcp.write fast path's parser.
 *
 * Most of the traffic, and the longest lines, are tcp.write with base64
 * data.  proto_fastwrite_parse() takes apart in place a line of exactly
 * the usual shape
 *	{"jsonrpc":"2.0","id":ID,"method":"tcp.write","params":{"socket":N,"data":"..."}}
 * with members in any order, each at most once, JSON white space where
 * JSON allows it; ID a non-negative integer of at most 18 digits, a
 * string of printable ASCII without escapes, or absent (a notification);
 * N an integer in 1 .. 2^53 - 1.  It builds no tree and copies nothing;
 * proto_fastwrite_decode() then decodes the data straight from the line.
 *
 * The contract, which tests/fuzz/fuzz-fastwrite.c holds against the
 * general path: a line is the fast path's only when parse and decode both
 * succeed, and then the line is strict JSON and the general path
 * (proto-jsonrpc, proto-params) reads from it the same request: the same
 * raw id, socket and bytes.  For any other line (other members,
 * duplicates, escapes, text, a batch, data that is not canonical base64 or
 * holds a byte a JSON string cannot) the answer is "not mine", and the
 * general path answers it.  No I/O, no allocation.
 */
#ifndef TISOCK_PROTO_FASTWRITE_H
#define TISOCK_PROTO_FASTWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proto_fastwrite {
	const char	*id;		/* raw id token, in the line; NULL: notification */
	size_t		 id_len;	/* bytes */
	int64_t		 socket;	/* 1 .. 2^53 - 1 */
	const char	*data;		/* the base64 text, in the line */
	size_t		 data_len;	/* bytes */
};

bool	 proto_fastwrite_parse(const char *line, size_t len, struct proto_fastwrite *ret);
size_t	 proto_fastwrite_decoded_max(const struct proto_fastwrite *fw);
ssize_t	 proto_fastwrite_decode(const struct proto_fastwrite *fw, void *out);

#endif
