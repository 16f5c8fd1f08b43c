/*
 * proto-buf: a growable byte buffer with a read offset.
 *
 * Bytes are appended at the end and consumed from the front; the buffer
 * grows on demand (never preallocating its final size) and compacts when
 * more than half of it has been consumed, so a long-lived queue costs
 * amortised O(1) per byte.  No I/O happens here.
 */
#ifndef TISOCK_PROTO_BUF_H
#define TISOCK_PROTO_BUF_H

#include <stddef.h>

struct proto_buf {
	char	*data;	/* owned; NULL until the first append */
	size_t	 off;	/* consumed bytes at the front */
	size_t	 len;	/* end of valid bytes, counted from data */
	size_t	 cap;	/* allocated bytes */
};

#define PROTO_BUF_INIT { .data = NULL }

void	 proto_buf_free(struct proto_buf *b);
int	 proto_buf_reserve(struct proto_buf *b, size_t extra);
int	 proto_buf_append(struct proto_buf *b, const void *p, size_t n);
int	 proto_buf_putc(struct proto_buf *b, char c);
void	 proto_buf_consume(struct proto_buf *b, size_t n);
void	 proto_buf_reset(struct proto_buf *b);

/* Bytes still to be consumed. */
static inline size_t
proto_buf_used(const struct proto_buf *b)
{
	return b->len - b->off;
}

/* First byte still to be consumed. */
static inline char *
proto_buf_head(const struct proto_buf *b)
{
	return b->data + b->off;
}

/* Room after the end; valid after proto_buf_reserve(). */
static inline char *
proto_buf_tail(const struct proto_buf *b)
{
	return b->data + b->len;
}

#endif
