/*
 * proto-reader: splits a byte stream into JSON-RPC lines.
 *
 * The reader owns a buffer.  Bytes come in either by proto_reader_feed()
 * (copying) or by proto_reader_space() + proto_reader_commit() (read(2)
 * straight into the buffer).  proto_reader_next() returns one complete line
 * at a time, without its LF or a CR before it, NUL-terminated, and skips
 * blank lines.  A line longer than max_line bytes is never buffered: the
 * reader discards it up to its LF and reports it once as
 * PROTO_READER_TOO_LONG.  No I/O, no logging.
 */
#ifndef TISOCK_PROTO_READER_H
#define TISOCK_PROTO_READER_H

#include <stddef.h>

struct proto_reader;

enum {
	PROTO_READER_NONE	= 0,	/* no complete line buffered */
	PROTO_READER_LINE	= 1,	/* *line and *len are set */
	PROTO_READER_TOO_LONG	= 2,	/* a line over max_line was dropped */
};

struct proto_reader	*proto_reader_new(size_t max_line);
struct proto_reader	*proto_reader_free(struct proto_reader *r);
int	 proto_reader_feed(struct proto_reader *r, const void *buf, size_t len);
int	 proto_reader_space(struct proto_reader *r, size_t want, void **ret_ptr,
	     size_t *ret_len);
void	 proto_reader_commit(struct proto_reader *r, size_t n);
int	 proto_reader_next(struct proto_reader *r, char **ret_line,
	     size_t *ret_len);
size_t	 proto_reader_drop_partial(struct proto_reader *r);
void	 proto_reader_trim(struct proto_reader *r, size_t keep);
size_t	 proto_reader_buffered(const struct proto_reader *r);
size_t	 proto_reader_max_line(const struct proto_reader *r);
void	 proto_reader_peek(const struct proto_reader *r, const char **ret_p,
	     size_t *ret_len);

#endif
