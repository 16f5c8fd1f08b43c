/*
 * proto-base64: RFC 4648 base64, standard alphabet, padded.
 *
 * Encoding is table driven and writes exactly proto_base64_encoded_len()
 * bytes; decoding is strict (no white space, correct padding, zero
 * trailing bits) so that every byte string has exactly one encoding.
 */
#ifndef TISOCK_PROTO_BASE64_H
#define TISOCK_PROTO_BASE64_H

#include <stddef.h>
#include <sys/types.h>

static inline size_t
proto_base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

static inline size_t
proto_base64_decoded_max(size_t n)
{
	return n / 4 * 3;
}

void	 proto_base64_encode(char *out, const void *in, size_t n);
ssize_t	 proto_base64_decode(void *out, const char *in, size_t n);
int	 proto_base64_valid(const char *in, size_t n);

#endif
