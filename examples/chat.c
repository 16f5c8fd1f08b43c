/*
 * chat: a line-based chat server through tisockd, on a libev loop.
 * Listens on 127.0.0.1:PORT (0: any free port, printed).  Each line a
 * guest sends goes to every other guest as "guestN: line"; arrivals and
 * departures are announced.  Each accepted socket carries its guest as
 * userdata, and the guest is freed by the socket's free callback, when
 * no callback of it can run any more.  SIGINT or SIGTERM stops it.
 *
 *	TISOCKD_SOCKET=/run/tisockd/tisockd.sock ./chat 4000
 *	nc 127.0.0.1 4000
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <tisock/tisock.h>
#include <tisock/adapters/libev.h>

#define LINE_MAX_BYTES 1024

struct guest {
	struct guest	*next;
	tisock_tcp	*s;
	int		 id;
	tisock_buffer	*in;
	char		 line[LINE_MAX_BYTES];
	size_t		 len;
};

static struct guest *guests;
static int next_id;

/* Sends text to every guest but from (NULL: to all; to: only to that one). */
static void
broadcast(const struct guest *from, const struct guest *to, const char *text)
{
	tisock_buffer *b = tisock_buffer_from_string(text, TISOCK_ALL, TISOCK_CHARSET_DEFAULT);

	for (const struct guest *g = to ? to : guests; g && b; g = to ? NULL : g->next)
		if (g != from)	/* the bytes are copied at once: one buffer for all */
			tisock_tcp_write_async(g->s, b, 0, TISOCK_ALL, NULL, NULL);
	tisock_buffer_free(b);
}

static void
leave(struct guest *g)
{
	char text[64];

	for (struct guest **p = &guests; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	snprintf(text, sizeof(text), "* guest%d left\n", g->id);
	broadcast(NULL, NULL, text);
	printf("%s", text);
	tisock_tcp_free(g->s);	/* g goes in on_freed */
}

static void
said(struct guest *g)
{
	char text[LINE_MAX_BYTES + 32];

	snprintf(text, sizeof(text), "guest%d: %.*s\n", g->id, (int)g->len, g->line);
	broadcast(g, NULL, text);
	g->len = 0;
}

static void
on_read(const struct tisock_stream_event *e)
{
	struct guest *g = e->userdata;
	const char *p = (const char *)tisock_buffer_cdata(e->buffer);

	if (e->bytes_processed <= 0) {
		leave(g);	/* end of stream or an error */
		return;
	}
	for (ssize_t i = 0; i < e->bytes_processed; i++) {
		if (p[i] == '\n' || g->len == sizeof(g->line))
			said(g);
		if (p[i] != '\n' && p[i] != '\r')
			g->line[g->len++] = p[i];
	}
	tisock_tcp_read_async(g->s, g->in, 0, TISOCK_ALL, on_read, g);
}

static void
on_freed(const struct tisock_tcp_event *e)
{
	struct guest *g = e->userdata;

	tisock_buffer_free(g->in);
	free(g);
}

static void
on_accepted(const struct tisock_tcp_event *e)
{
	struct guest *g = calloc(1, sizeof(*g));
	char text[64];

	tisock_tcp_accept(e->socket, NULL);	/* ready for the next guest */
	if (!g || !(g->in = tisock_buffer_create(4096))) {
		free(g);
		tisock_tcp_free(e->inbound);
		return;
	}
	g->s = e->inbound;
	g->id = ++next_id;
	tisock_tcp_set_userdata(g->s, g);
	tisock_tcp_set_free_callback(g->s, on_freed);
	/* Chat lines are small: no Nagle delay. */
	tisock_tcp_set_options(g->s, &(struct tisock_tcp_socket_options){
		.set = TISOCK_OPT_NO_DELAY, .no_delay = 1 });
	snprintf(text, sizeof(text), "* guest%d joined\n", g->id);
	broadcast(NULL, NULL, text);
	printf("%s", text);
	g->next = guests;
	guests = g;
	snprintf(text, sizeof(text), "welcome, you are guest%d\n", g->id);
	broadcast(NULL, g, text);
	tisock_tcp_read_async(g->s, g->in, 0, TISOCK_ALL, on_read, g);
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	struct ev_loop *loop = EV_DEFAULT;
	ev_signal sigint, sigterm;
	tisock_client *c;
	tisock_tcp *l;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: chat PORT\n");
		return 2;
	}
	c = tisock_client_open(NULL);
	if (!c) {
		perror("tisock_client_open");
		return 1;
	}
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = "127.0.0.1",
		.port = atoi(argv[1]), .accepted = on_accepted });
	if (!l || tisock_tcp_listen(l) < 0) {
		fprintf(stderr, "listen failed: %s\n", tisock_client_error(c));
		return 1;
	}
	printf("chat listening on port %d\n", tisock_tcp_port(l));
	tisock_tcp_accept(l, NULL);
	tisock_libev_attach(c, loop);
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	ev_signal_start(loop, &sigint);
	ev_signal_start(loop, &sigterm);
	ev_run(loop, 0);
	printf("chat stopping\n");
	tisock_client_close(c);	/* frees every socket: their free callbacks free the guests */
	return 0;
}
