/*
 * proto-reader: LF framing with a line size limit; see proto-reader.h.
 *
 * The buffer holds at most one partial line of at most max_line bytes plus
 * whatever complete lines arrived with it.  When a partial line grows past
 * the limit, its bytes are dropped and the reader enters discard mode
 * until the next LF, so a huge line never costs more than the limit.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto-buf.h"
#include "proto-reader.h"

struct proto_reader {
	struct proto_buf	 buf;		/* unparsed bytes */
	size_t			 max_line;	/* bytes, without LF */
	size_t			 scanned;	/* bytes of buf known to hold no LF */
	bool			 discarding;	/* inside an over-long line */
	bool			 too_long;	/* report one TOO_LONG */
	bool			 discard_armed;	/* discard once discard_after bytes are consumed */
	size_t			 discard_after;	/* complete lines before the dropped one */
};

/* Returns a new reader, or NULL on OOM. */
struct proto_reader *
proto_reader_new(size_t max_line)
{
	struct proto_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->max_line = max_line;
	return r;
}

/* Frees r (NULL is fine).  Returns NULL. */
struct proto_reader *
proto_reader_free(struct proto_reader *r)
{
	if (r) {
		proto_buf_free(&r->buf);
		free(r);
	}
	return NULL;
}

/*
 * Returns a pointer where up to *ret_len (at least want) bytes may be
 * written, for proto_reader_commit().  Returns 0 or -ENOMEM.
 */
int
proto_reader_space(struct proto_reader *r, size_t want, void **ret_ptr, size_t *ret_len)
{
	int k;

	k = proto_buf_reserve(&r->buf, want);
	if (k < 0)
		return k;
	*ret_ptr = proto_buf_tail(&r->buf);
	*ret_len = r->buf.cap - r->buf.len;
	return 0;
}

/* Accounts for n bytes written at the pointer proto_reader_space() gave. */
void
proto_reader_commit(struct proto_reader *r, size_t n)
{
	r->buf.len += n;
}

/* Copies len bytes in.  Returns 0 or -ENOMEM. */
int
proto_reader_feed(struct proto_reader *r, const void *buf, size_t len)
{
	void *p;
	size_t room;
	int k;

	if (len == 0)
		return 0;
	k = proto_reader_space(r, len, &p, &room);
	if (k < 0)
		return k;
	memcpy(p, buf, len);
	proto_reader_commit(r, len);
	return 0;
}

/*
 * Finds the next line.  Returns PROTO_READER_LINE with *ret_line (inside
 * the reader, NUL-terminated, valid until the next call of any function on
 * r) and *ret_len, PROTO_READER_TOO_LONG once per dropped line, or
 * PROTO_READER_NONE when more bytes are needed.
 */
int
proto_reader_next(struct proto_reader *r, char **ret_line, size_t *ret_len)
{
	for (;;) {
		char *head = proto_buf_head(&r->buf), *lf;
		size_t used = proto_buf_used(&r->buf), n;

		if (r->discard_armed && r->discard_after == 0) {
			r->discard_armed = false;
			r->discarding = true;
		}

		lf = used > r->scanned ? memchr(head + r->scanned, '\n', used - r->scanned) : NULL;
		if (!lf) {
			if (r->discarding) {
				proto_buf_reset(&r->buf);
				r->scanned = 0;
			} else if (used > r->max_line &&
				   !(used == r->max_line + 1 && head[used - 1] == '\r')) {
				/* (max_line bytes then the CR of a CR LF may still be a line) */
				/* Over the limit without an LF: drop and discard. */
				proto_buf_reset(&r->buf);
				r->scanned = 0;
				r->discarding = true;
				r->too_long = true;
			} else
				r->scanned = used;
			if (r->too_long) {
				r->too_long = false;
				return PROTO_READER_TOO_LONG;
			}
			return PROTO_READER_NONE;
		}
		n = (size_t)(lf - head);
		proto_buf_consume(&r->buf, n + 1);
		r->scanned = 0;
		if (r->discard_armed)
			r->discard_after -= n + 1;
		if (r->discarding) {
			r->discarding = false;
			if (r->too_long) {
				r->too_long = false;
				return PROTO_READER_TOO_LONG;
			}
			continue;
		}
		if (n > 0 && head[n - 1] == '\r')
			n--;
		if (n > r->max_line) {
			if (proto_buf_used(&r->buf) == 0)
				proto_buf_reset(&r->buf);
			return PROTO_READER_TOO_LONG;
		}
		if (n == 0)
			continue;	/* blank line */
		head[n] = '\0';
		*ret_line = head;
		*ret_len = n;
		return PROTO_READER_LINE;
	}
}

/*
 * Drops the unfinished line at the end of the buffer (complete lines
 * before it stay) and discards the rest of it as it arrives, up to its
 * LF, without a TOO_LONG report: the caller answers for it.  Returns the
 * bytes dropped (0: no unfinished line).
 */
size_t
proto_reader_drop_partial(struct proto_reader *r)
{
	char *head = proto_buf_head(&r->buf), *lf;
	size_t used = proto_buf_used(&r->buf), keep;

	if (used == 0 || r->discarding || r->discard_armed)
		return 0;
	lf = memrchr(head, '\n', used);
	keep = lf ? (size_t)(lf - head) + 1 : 0;
	if (keep == used)
		return 0;
	r->buf.len -= used - keep;
	if (proto_buf_used(&r->buf) == 0)
		proto_buf_reset(&r->buf);
	if (r->scanned > keep)
		r->scanned = keep;
	/* After the complete lines before it, which are still to be returned. */
	r->discard_armed = true;
	r->discard_after = keep;
	return used - keep;
}

/*
 * Gives the storage back when nothing is buffered and it grew past keep
 * bytes (after a long line), so an idle reader holds at most keep.
 */
void
proto_reader_trim(struct proto_reader *r, size_t keep)
{
	if (proto_buf_used(&r->buf) == 0 && r->buf.cap > keep) {
		proto_buf_free(&r->buf);
		r->scanned = 0;
	}
}

/* Bytes buffered and not yet returned as lines. */
size_t
proto_reader_buffered(const struct proto_reader *r)
{
	return proto_buf_used(&r->buf);
}

size_t
proto_reader_max_line(const struct proto_reader *r)
{
	return r->max_line;
}

/* The bytes buffered and not yet returned as lines, in place. */
void
proto_reader_peek(const struct proto_reader *r, const char **ret_p, size_t *ret_len)
{
	*ret_p = proto_buf_head(&r->buf);
	*ret_len = proto_buf_used(&r->buf);
}
