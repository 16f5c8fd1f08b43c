/*
 * write: connects to HOST PORT through tisockd and writes MESSAGE (or the
 * Sockets guide's greeting), then closes.
 *
 *	TISOCKD_SOCKET=/run/tisockd/tisockd.sock ./write 127.0.0.1 40404 "hello"
 */
#include <stdio.h>
#include <stdlib.h>

#include <tisock/tisock.h>

static int status = 1;
static const char *message = "Howdy remote socket! How are you?";

static void
connected(const struct tisock_tcp_event *e)
{
	tisock_buffer *out = tisock_buffer_from_string(message, TISOCK_ALL, TISOCK_CHARSET_UTF8);
	ssize_t n = tisock_tcp_write(e->socket, out, 0, TISOCK_ALL);

	if (n >= 0) {
		printf("<%zd> bytes written to socket\n", n);
		status = 0;
	} else {
		fprintf(stderr, "write failed (%zd)\n", n);
	}
	tisock_tcp_close(e->socket);
	tisock_buffer_free(out);
}

static void
error(const struct tisock_tcp_event *e)
{
	fprintf(stderr, "error <%d>: %s\n", e->code, e->error);
}

int
main(int argc, char **argv)
{
	tisock_client *c;
	tisock_tcp *s;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* progress lines as they happen */
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: write HOST PORT [MESSAGE]\n");
		return 2;
	}
	if (argc == 4)
		message = argv[3];
	c = tisock_client_open(NULL);
	if (!c) {
		perror("tisock_client_open");
		return 1;
	}
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){
		.host = argv[1], .port = atoi(argv[2]), .connected = connected, .error = error });
	if (!s || tisock_tcp_connect(s) < 0)
		return 1;
	tisock_client_run(c);
	tisock_client_close(c);
	return status;
}
