/*
 * fuzz-reader: the line reader fed arbitrary bytes in arbitrary pieces.
 * The first byte picks the maximum line length and the piece size; every
 * line handed out must be within the maximum and hold no LF.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto-reader.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_reader *r;
	size_t max, piece, off = 0;

	if (size < 1)
		return 0;
	max = 16 + (data[0] & 0x3f) * 8;	/* 16 to 520 bytes */
	piece = 1 + (data[0] >> 6) * 37;	/* 1, 38, 75 or 112 bytes at a time */
	data++;
	size--;
	r = proto_reader_new(max);
	if (!r)
		return 0;
	while (off < size) {
		size_t n = size - off < piece ? size - off : piece, room;
		void *p;
		char *line;
		size_t len;
		int k;

		if (proto_reader_space(r, n, &p, &room) < 0)
			abort();
		if (n > room)
			n = room;
		memcpy(p, data + off, n);
		proto_reader_commit(r, n);
		off += n;
		while ((k = proto_reader_next(r, &line, &len)) != PROTO_READER_NONE) {
			if (k == PROTO_READER_LINE && (len > max || memchr(line, '\n', len)))
				abort();
		}
	}
	proto_reader_free(r);
	return 0;
}
