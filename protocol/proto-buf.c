/*
 * proto-buf: growable byte buffer with a consumed prefix; see proto-buf.h.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto-buf.h"

#define PROTO_BUF_MIN	4096	/* first allocation, bytes */

/* Releases the storage; the buffer is empty and reusable afterwards. */
void
proto_buf_free(struct proto_buf *b)
{
	free(b->data);
	*b = (struct proto_buf)PROTO_BUF_INIT;
}

/* Drops every byte but keeps the storage. */
void
proto_buf_reset(struct proto_buf *b)
{
	b->off = b->len = 0;
}

/*
 * Makes room for extra more bytes after the end, compacting first when the
 * consumed prefix is at least half the buffer.  Returns 0 or -ENOMEM.
 */
int
proto_buf_reserve(struct proto_buf *b, size_t extra)
{
	size_t used = b->len - b->off, need, cap;
	char *p;

	if (b->off > 0 && (b->off >= b->cap / 2 || b->len + extra > b->cap)) {
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = used;
	}
	if (extra > SIZE_MAX - b->len)
		return -ENOMEM;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : PROTO_BUF_MIN;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

/* Appends n bytes.  Returns 0 or -ENOMEM (nothing appended). */
int
proto_buf_append(struct proto_buf *b, const void *p, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	r = proto_buf_reserve(b, n);
	if (r < 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

/* Appends one byte.  Returns 0 or -ENOMEM. */
int
proto_buf_putc(struct proto_buf *b, char c)
{
	if (b->len == b->cap) {
		int r = proto_buf_reserve(b, 1);

		if (r < 0)
			return r;
	}
	b->data[b->len++] = c;
	return 0;
}

/* Marks n bytes at the front as consumed; an emptied buffer rewinds. */
void
proto_buf_consume(struct proto_buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}
