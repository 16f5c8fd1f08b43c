/*
 * conform-record: with TISOCK_CONFORM_RECORD=FILE, every byte a case sends
 * on a control connection and every line it receives go to FILE, one
 * record a line: "CONN o|i|g HEX" (o: bytes sent, i: a line received,
 * g: a gap, bytes sent that were too many to keep).  validate-openrpc.py
 * checks each answer and notification against the rpc.discover document.
 * Long lines and the records of a connection past its first
 * CONFORM_RECORD_PER_CONN are left out (bulk data and floods: the records
 * kept have the same shapes); a gap record says so for what was sent.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "conform.h"

#define CONFORM_RECORD_SENT	8192	/* longest send kept */
#define CONFORM_RECORD_LINE	(256 << 10)	/* longest line received kept (rpc.discover, 70 KB, fits) */
#define CONFORM_RECORD_CONNS	4096	/* connections with a record budget ... */
#define CONFORM_RECORD_PER_CONN	4000	/* ... of this many records (floods repeat one shape) */

static FILE *out;
static bool tried;
static unsigned counts[CONFORM_RECORD_CONNS];

void
conform_record(int conn, char dir, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!tried) {
		const char *path = getenv("TISOCK_CONFORM_RECORD");

		tried = true;
		out = path && *path ? fopen(path, "w") : NULL;
	}
	if (!out)
		return;
	if (conn > 0 && conn < CONFORM_RECORD_CONNS && counts[conn]++ >= CONFORM_RECORD_PER_CONN) {
		if (dir == 'o')
			fprintf(out, "%d g\n", conn);
		return;
	}
	if (len > (dir == 'o' ? CONFORM_RECORD_SENT : CONFORM_RECORD_LINE)) {
		fprintf(out, "%d %c\n", conn, dir == 'o' ? 'g' : 'x');
		return;
	}
	fprintf(out, "%d %c ", conn, dir);
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%02x", p[i]);
	fputc('\n', out);
}

void
conform_record_done(void)
{
	if (out)
		fclose(out);
	out = NULL;
}
