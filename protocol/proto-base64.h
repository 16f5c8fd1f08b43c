/*
 * proto-base64: RFC 4648 base64, standard alphabet, padded.
 *
 * Encoding writes exactly proto_base64_encoded_len() bytes; decoding is
 * strict (no white space, correct padding, zero trailing bits) so that
 * every byte string has exactly one encoding, and needs an output buffer
 * of proto_base64_decoded_max(n) bytes (whole vector blocks are stored).
 */
#ifndef TISOCK_PROTO_BASE64_H
#define TISOCK_PROTO_BASE64_H

#include <stdbool.h>
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

/*
 * The implementations behind encode and decode (proto-base64-simd.c picks
 * one when the library loads, from what the CPU offers, or from
 * TISOCK_BASE64=scalar|ssse3|avx2).  Every one gives the same bytes and
 * the same errors; each returns false (and does nothing) when the CPU
 * lacks what it needs.
 */
enum proto_base64_impl {
	PROTO_BASE64_SCALAR,
	PROTO_BASE64_SSSE3,
	PROTO_BASE64_AVX2,
	_PROTO_BASE64_MAX,
};

void	 proto_base64_encode_scalar(char *out, const void *in, size_t n);
ssize_t	 proto_base64_decode_scalar(void *out, const char *in, size_t n);
bool	 proto_base64_impl_available(enum proto_base64_impl impl);
bool	 proto_base64_encode_with(enum proto_base64_impl impl, char *out, const void *in,
	     size_t n);
bool	 proto_base64_decode_with(enum proto_base64_impl impl, void *out, const char *in,
	     size_t n, ssize_t *ret);
const char *proto_base64_impl_name(enum proto_base64_impl impl);
enum proto_base64_impl proto_base64_impl_in_use(void);

#endif
