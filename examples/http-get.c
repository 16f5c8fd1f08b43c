/*
 * http-get: a blocking HTTP/1.0 client through tisockd.  Connects to
 * HOST PORT, asks for PATH, reads the answer to the end of stream, and
 * prints its status line to stderr and its body to stdout.  Nothing here
 * needs a callback: connect, write and read all block, each for at most
 * the client's timeout.  Exits 0 for a 2xx status.
 *
 *	TISOCKD_SOCKET=/run/tisockd/tisockd.sock ./http-get example.org 80 /
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tisock/tisock.h>

#define TIMEOUT_MS 10000

/* Where the header ends (the blank line), or NULL. */
static const char *
header_end(const char *p, size_t n)
{
	for (size_t i = 0; p && i + 4 <= n; i++)
		if (memcmp(p + i, "\r\n\r\n", 4) == 0)
			return p + i;
	return NULL;
}

static int
fail(tisock_client *c, const char *what)
{
	fprintf(stderr, "http-get: %s: %s\n", what, tisock_client_error(c));
	tisock_client_close(c);
	return 1;
}

int
main(int argc, char **argv)
{
	tisock_client *c;
	tisock_tcp *s;
	tisock_stream *st;
	tisock_buffer *req, *res;
	const char *p, *body;
	char line[2048];
	size_t n;
	int status;

	if (argc != 4) {
		fprintf(stderr, "usage: http-get HOST PORT PATH\n");
		return 2;
	}
	c = tisock_client_open(NULL);
	if (!c) {
		perror("tisock_client_open");
		return 1;
	}
	tisock_client_set_timeout(c, TIMEOUT_MS);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = argv[1],
		.port = atoi(argv[2]) });
	if (!s || tisock_tcp_connect_wait(s) < 0)
		return fail(c, "connect");
	snprintf(line, sizeof(line), "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: tisock-http-get\r\n"
		 "Connection: close\r\n\r\n", argv[3], argv[1]);
	req = tisock_buffer_from_string(line, TISOCK_ALL, TISOCK_CHARSET_DEFAULT);
	if (!req || tisock_tcp_write(s, req, 0, TISOCK_ALL) < 0)
		return fail(c, "write");
	tisock_buffer_free(req);
	/* HTTP/1.0: the answer ends where the stream ends. */
	st = tisock_tcp_stream(s);
	res = st ? tisock_stream_read_all_new(st) : NULL;
	if (!res)
		return fail(c, "read");
	tisock_stream_free(st);
	p = (const char *)tisock_buffer_cdata(res);
	n = tisock_buffer_length(res);
	body = header_end(p, n);
	if (!body || sscanf(p, "HTTP/%*d.%*d %d", &status) != 1) {
		fprintf(stderr, "http-get: not an HTTP answer (%zu bytes)\n", n);
		tisock_client_close(c);
		return 1;
	}
	fprintf(stderr, "%.*s\n", (int)strcspn(p, "\r\n"), p);
	body += 4;
	fwrite(body, 1, n - (size_t)(body - p), stdout);
	tisock_buffer_free(res);
	tisock_client_close(c);
	return status >= 200 && status < 300 ? 0 : 1;
}
