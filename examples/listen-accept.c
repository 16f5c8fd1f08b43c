/*
 * listen-accept: the Sockets guide's listening example.  Listens on
 * 127.0.0.1:PORT (0: any free port, printed) through tisockd, accepts one
 * connection, reports it and closes it.
 *
 *	TISOCKD_SOCKET=/run/tisockd/tisockd.sock ./listen-accept 40404
 */
#include <stdio.h>
#include <stdlib.h>

#include <tisock/tisock.h>

static int status = 1;

static void
accepted(const struct tisock_tcp_event *e)
{
	printf("Listening socket <%lld> accepted incoming connection <%lld> from %s:%d\n",
	       (long long)tisock_tcp_id(e->socket), (long long)tisock_tcp_id(e->inbound),
	       tisock_tcp_host(e->inbound), tisock_tcp_port(e->inbound));
	tisock_tcp_close(e->inbound);	/* close the accepted socket */
	status = 0;
}

static void
error(const struct tisock_tcp_event *e)
{
	fprintf(stderr, "Socket encountered error when listening\n error code <%d>\n"
		" error description <%s>\n", e->code, e->error);
}

int
main(int argc, char **argv)
{
	tisock_client *c;
	tisock_tcp *l;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* progress lines as they happen */
	if (argc != 2) {
		fprintf(stderr, "usage: listen-accept PORT\n");
		return 2;
	}
	c = tisock_client_open(NULL);
	if (!c) {
		perror("tisock_client_open");
		return 1;
	}
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){
		.host = "127.0.0.1", .port = atoi(argv[1]), .accepted = accepted, .error = error });
	r = l ? tisock_tcp_listen(l) : -1;	/* starts listening; does not accept */
	if (r < 0) {
		fprintf(stderr, "listen failed: %s\n", tisock_client_error(c));
		return 1;
	}
	printf("listening on port %d\n", tisock_tcp_port(l));
	fflush(stdout);
	tisock_tcp_accept(l, NULL);	/* accepts the next inbound connection */
	tisock_client_run(c);
	tisock_tcp_close(l);
	tisock_client_close(c);
	return status;
}
