/*
 * forward: a TCP port forwarder through tisockd.  Listens on
 * 127.0.0.1:PORT (0: any free port, printed) and joins each connection
 * to TARGET-HOST:TARGET-PORT, both ways, without blocking: a read, then
 * its write, then the next read, so a slow side slows the other.  An end
 * of stream on one side becomes a half-close (shutdown) of the other, so
 * request/response protocols that close one way first work.  A target
 * that refuses closes the client's connection.  Exits after COUNT
 * connections have ended (0: never).
 *
 *	TISOCKD_SOCKET=/run/tisockd/tisockd.sock ./forward 8080 example.org 80
 */
#include <stdio.h>
#include <stdlib.h>

#include <tisock/tisock.h>

/* One direction of a connection: what from sends goes to to. */
struct pipe {
	struct conn	*conn;
	tisock_tcp	*from, *to;
	tisock_buffer	*buf;
};

/* A forwarded connection: freed once both of its sockets are. */
struct conn {
	int		 id;
	struct pipe	 up, down;	/* client to target, target to client */
	int		 sockets;	/* not yet released */
	int		 shut;		/* directions ended by a half-close */
};

static const char *target_host;
static int target_port, count, ended, next_id;
static tisock_client *client;

static void pass(struct pipe *p);

/* Frees both sockets; the connection goes when their free callbacks have run. */
static void
drop(struct conn *k)
{
	if (k->up.from)
		tisock_tcp_free(k->up.from);
	if (k->down.from)
		tisock_tcp_free(k->down.from);
	k->up.from = k->down.from = NULL;
}

static void
on_freed(const struct tisock_tcp_event *e)
{
	struct conn *k = e->userdata;

	if (--k->sockets > 0)
		return;
	printf("connection %d: ended\n", k->id);
	tisock_buffer_free(k->up.buf);
	tisock_buffer_free(k->down.buf);
	free(k);
	ended++;
}

static void
on_shut(const struct tisock_tcp_event *e)
{
	struct conn *k = e->userdata;

	if (!e->success) {
		drop(k);
		return;
	}
	if (++k->shut == 2)	/* both ways ended: done */
		drop(k);
}

static void
on_written(const struct tisock_stream_event *e)
{
	struct pipe *p = e->userdata;

	if (!e->success)
		drop(p->conn);
	else
		pass(p);
}

static void
on_read(const struct tisock_stream_event *e)
{
	struct pipe *p = e->userdata;

	if (e->bytes_processed > 0) {
		if (tisock_tcp_write_async(p->to, p->buf, 0, e->bytes_processed, on_written, p) < 0)
			drop(p->conn);
	} else if (e->success) {
		/* The end of this direction: pass the half-close on. */
		if (tisock_tcp_shutdown_async(p->to, on_shut) < 0)
			drop(p->conn);
	} else {
		printf("connection %d: %s\n", p->conn->id, e->error);
		drop(p->conn);
	}
}

static void
pass(struct pipe *p)
{
	if (tisock_tcp_read_async(p->from, p->buf, 0, TISOCK_ALL, on_read, p) < 0)
		drop(p->conn);
}

static void
on_target(const struct tisock_tcp_event *e)
{
	struct conn *k = e->userdata;

	printf("connection %d: joined to %s:%d\n", k->id, target_host, target_port);
	pass(&k->up);
	pass(&k->down);
}

static void
on_error(const struct tisock_tcp_event *e)
{
	struct conn *k = e->userdata;

	printf("connection %d: %s\n", k->id, e->error);
	drop(k);
}

static void
on_accepted(const struct tisock_tcp_event *e)
{
	struct conn *k = calloc(1, sizeof(*k));
	tisock_tcp *out;

	tisock_tcp_accept(e->socket, &(struct tisock_tcp_accept_options){ .error = on_error });
	out = k ? tisock_tcp_create(client, &(struct tisock_tcp_options){
		.host = target_host, .port = target_port, .connected = on_target,
		.error = on_error, .userdata = k }) : NULL;
	if (!out) {
		free(k);
		tisock_tcp_free(e->inbound);
		return;
	}
	k->id = ++next_id;
	k->sockets = 2;
	k->up = (struct pipe){ k, e->inbound, out, tisock_buffer_create(65536) };
	k->down = (struct pipe){ k, out, e->inbound, tisock_buffer_create(65536) };
	/* The inbound socket's callbacks get this connection, not the listener's data. */
	tisock_tcp_set_userdata(e->inbound, k);
	tisock_tcp_set_free_callback(e->inbound, on_freed);
	tisock_tcp_set_free_callback(out, on_freed);
	printf("connection %d: from %s:%d\n", k->id, tisock_tcp_host(e->inbound),
	       tisock_tcp_port(e->inbound));
	if (tisock_tcp_connect(out) < 0)
		drop(k);
}

static void
on_listen_error(const struct tisock_tcp_event *e)
{
	fprintf(stderr, "accept failed: %s\n", e->error);
	exit(1);
}

int
main(int argc, char **argv)
{
	tisock_tcp *l;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: forward PORT TARGET-HOST TARGET-PORT [COUNT]\n");
		return 2;
	}
	target_host = argv[2];
	target_port = atoi(argv[3]);
	count = argc == 5 ? atoi(argv[4]) : 0;
	client = tisock_client_open(NULL);
	if (!client) {
		perror("tisock_client_open");
		return 1;
	}
	l = tisock_tcp_create(client, &(struct tisock_tcp_options){ .host = "127.0.0.1",
		.port = atoi(argv[1]), .accepted = on_accepted, .error = on_listen_error });
	if (!l || tisock_tcp_listen(l) < 0) {
		fprintf(stderr, "listen failed: %s\n", tisock_client_error(client));
		return 1;
	}
	printf("listening on port %d\n", tisock_tcp_port(l));
	tisock_tcp_accept(l, &(struct tisock_tcp_accept_options){ .error = on_error });
	while (count == 0 || ended < count)
		if (tisock_client_dispatch(client, -1) < 0) {
			fprintf(stderr, "tisockd went away\n");
			return 1;
		}
	printf("%d connections forwarded\n", ended);
	tisock_client_close(client);
	return 0;
}
