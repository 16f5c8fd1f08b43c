/*
 * connect-read: the Sockets guide's first example in C.  Connects to
 * HOST PORT through tisockd; once connected, writes a greeting and reads
 * until the peer closes, printing what arrives.
 *
 *	TISOCKD_SOCKET=/run/tisockd/tisockd.sock ./connect-read 127.0.0.1 40404
 */
#include <stdio.h>
#include <stdlib.h>

#include <tisock/tisock.h>

static int status = 1;

static void
post_connect(tisock_tcp *s)
{
	tisock_buffer *out = tisock_buffer_from_string("Howdy remote socket! How are you?",
						       TISOCK_ALL, TISOCK_CHARSET_UTF8);
	tisock_buffer *in = tisock_buffer_create(1024);
	ssize_t n;

	n = tisock_tcp_write(s, out, 0, TISOCK_ALL);
	printf("<%zd> bytes written to socket\n", n);
	/* The read loop: read() blocks until data or the end of stream (-1). */
	while ((n = tisock_tcp_read(s, in, 0, TISOCK_ALL)) > -1) {
		char *text = tisock_codec_decode_string(in, 0, n, TISOCK_CHARSET_UTF8, NULL);

		printf("received <%zd> bytes of data. String representation of data is <%s>\n", n,
		       text ? text : "(not UTF-8)");
		free(text);
		tisock_buffer_clear(in);
	}
	if (n < -1) {
		fprintf(stderr, "read failed: %s\n", "I/O error");
	} else {
		printf("socket has closed\n");
		status = 0;
	}
	tisock_tcp_close(s);
	tisock_buffer_free(out);
	tisock_buffer_free(in);
}

static void
connected(const struct tisock_tcp_event *e)
{
	printf("Socket connected to host <%s>\n", tisock_tcp_host(e->socket));
	post_connect(e->socket);
}

static void
error(const struct tisock_tcp_event *e)
{
	fprintf(stderr, "Socket encountered error when connecting\n error code <%d>\n"
		" error description <%s>\n", e->code, e->error);
}

int
main(int argc, char **argv)
{
	tisock_client *c = tisock_client_open(NULL);	/* $TISOCKD_SOCKET, ... */
	tisock_tcp *s;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* progress lines as they happen */
	if (argc != 3) {
		fprintf(stderr, "usage: connect-read HOST PORT\n");
		return 2;
	}
	if (!c) {
		perror("tisock_client_open");
		return 1;
	}
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){
		.host = argv[1], .port = atoi(argv[2]), .connected = connected, .error = error });
	if (!s || tisock_tcp_connect(s) < 0) {
		fprintf(stderr, "cannot connect\n");
		return 1;
	}
	tisock_client_run(c);	/* dispatch callbacks until nothing is pending */
	tisock_client_close(c);
	return status;
}
