/*
 * tisockctl connect / listen: netcat through the daemon.
 *
 * One relay per connection, driven by the client's dispatch:
 *  - stdin -> socket: an asynchronous read on a stream over fd 0, each
 *    chunk sent with tisock_tcp_write_async (which copies it), at most
 *    RELAY_WRITES writes in flight, so memory stays bounded whatever the
 *    speeds; at the end of stdin, once every write is answered, the
 *    sending side is shut down (tcp.shutdown: FIN after the queued bytes);
 *  - socket -> stdout: the daemon pushes the data (asynchronous pump);
 *    each chunk is written to stdout in full before the next dispatch, so
 *    a slow stdout slows the peer down through the daemon's flow control.
 * The relay is done when stdin is all sent and shut down and the peer's
 * end of stream has arrived.
 *
 * --progress draws bytes, rates and the elapsed time on stderr as they go
 * (redrawn in place on a terminal, a line a second otherwise, JSON lines
 * with --json), as pv does; -v prints a summary at the end.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tisockctl.h"

#define RELAY_CHUNK	(256u << 10)	/* bytes per stdin read and per pushed chunk */
#define RELAY_WRITES	4		/* writes in flight */
#define PROGRESS_TTY	0.25		/* seconds between redraws on a terminal */
#define PROGRESS_LINES	1.0		/* seconds between lines otherwise */

/* Bytes moved, for --progress and -v. */
struct progress {
	const struct opts *o;
	double		 t0, last;	/* monotonic seconds: start, last drawn */
	uint64_t	 sent;		/* to the peer */
	uint64_t	 received;	/* from the peer */
	bool		 tty;		/* stderr is a terminal: redraw in place */
	size_t		 drawn;		/* length of the line on the terminal, 0: none */
};

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
progress_init(struct progress *p, const struct opts *o)
{
	*p = (struct progress){ .o = o, .t0 = mono(), .tty = isatty(STDERR_FILENO) };
	p->last = p->t0;
}

/* n bytes as "812 B", "4.0 KiB", "12.3 MiB", "1.50 GiB". */
static void
human(double n, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	int u = -1;

	while (n >= 1024. && u < 3) {
		n /= 1024.;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%.0f B", n);
	else
		snprintf(buf, len, n < 10. ? "%.2f %s" : "%.1f %s", n, units[u]);
}

/* "sent 12.3 MiB (4.1 MiB/s), received 9.5 MiB (3.2 MiB/s), 0:00:03" */
static void
progress_text(const struct progress *p, double now, char *buf, size_t len)
{
	double t = now - p->t0 > 1e-6 ? now - p->t0 : 1e-6;
	char s[32], sr[32], r[32], rr[32];
	long secs = (long)t;

	human((double)p->sent, s, sizeof(s));
	human((double)p->sent / t, sr, sizeof(sr));
	human((double)p->received, r, sizeof(r));
	human((double)p->received / t, rr, sizeof(rr));
	snprintf(buf, len, "sent %s (%s/s), received %s (%s/s), %ld:%02ld:%02ld", s, sr, r, rr,
		 secs / 3600, secs / 60 % 60, secs % 60);
}

static void
progress_json(const struct progress *p, double now, const char *event, const char *peer)
{
	fprintf(stderr, "{\"event\":\"%s\",\"sent\":%" PRIu64 ",\"received\":%" PRIu64
		",\"elapsedMs\":%.0f%s%s%s}\n", event, p->sent, p->received, (now - p->t0) * 1000.,
		peer ? ",\"peer\":\"" : "", peer ? peer : "", peer ? "\"" : "");
}

/* Draws the progress line when --progress asks and it is time (or force). */
static void
progress_tick(struct progress *p, bool force)
{
	double now = mono();
	char line[320];
	size_t n;

	if (!p->o->progress || (!force && now - p->last < (p->tty ? PROGRESS_TTY : PROGRESS_LINES)))
		return;
	p->last = now;
	if (p->o->json) {
		progress_json(p, now, "progress", NULL);
		return;
	}
	progress_text(p, now, line, sizeof(line));
	n = strlen(line);
	if (p->tty) {
		/* Redrawn in place; spaces cover what a longer line left. */
		fprintf(stderr, "\r%s%*s", line, p->drawn > n ? (int)(p->drawn - n) : 0, "");
		p->drawn = n;
	} else {
		fprintf(stderr, "%s\n", line);
	}
	fflush(stderr);
}

/* The end: the last progress line, and the summary with -v. */
static void
progress_done(struct progress *p, const char *peer)
{
	double now = mono();
	char line[320];

	progress_tick(p, true);
	if (p->drawn) {
		fputc('\n', stderr);
		p->drawn = 0;
	}
	if (!p->o->verbose)
		return;
	if (p->o->json) {
		progress_json(p, now, "summary", peer);
		return;
	}
	progress_text(p, now, line, sizeof(line));
	fprintf(stderr, "tisockctl: %s: %s (%" PRIu64 " bytes sent, %" PRIu64 " received in "
		"%.3f s)\n", peer, line, p->sent, p->received, now - p->t0);
}

struct relay {
	tisock_client	*c;
	tisock_tcp	*s;
	tisock_stream	*in, *sock;
	tisock_buffer	*inbuf;
	bool		 reading;	/* a stdin read is pending */
	bool		 in_eof;	/* stdin ended */
	bool		 shut;		/* tcp.shutdown answered */
	bool		 out_eof;	/* the peer's end of stream arrived */
	int		 writes;	/* writes in flight */
	int		 status;	/* EXIT_* once failed */
	struct progress	*progress;	/* bytes counted */
};

/* Accept and connect results, for the callbacks. */
struct wait {
	int		 done;
	int		 code;
	char		 error[256];
	tisock_tcp	*inbound;
};

static void
relay_fail(struct relay *r, const char *what, int code, const char *msg)
{
	if (r->status != EXIT_OK)
		return;
	ctl_err("%s: %s", what, msg && *msg ? msg : strerror(-code));
	r->status = EXIT_FAILED;
}

static void read_stdin(struct relay *r);

static void
on_written(const struct tisock_stream_event *ev)
{
	struct relay *r = ev->userdata;

	r->writes--;
	if (ev->success && ev->bytes_processed > 0)
		r->progress->sent += (uint64_t)ev->bytes_processed;
	if (!ev->success)
		relay_fail(r, "write", ev->code, ev->error);
	else if (!r->in_eof)
		read_stdin(r);
}

static void
on_stdin(const struct tisock_stream_event *ev)
{
	struct relay *r = ev->userdata;
	int k;

	r->reading = false;
	if (!ev->success) {
		relay_fail(r, "reading stdin", ev->code, ev->error);
		return;
	}
	if (ev->bytes_processed == -1) {
		r->in_eof = true;
		return;
	}
	k = tisock_tcp_write_async(r->s, r->inbuf, 0, ev->bytes_processed, on_written, r);
	if (k < 0) {
		relay_fail(r, "write", k, NULL);
		return;
	}
	r->writes++;
	read_stdin(r);
}

/* Asks for the next stdin chunk when there is room for it in flight. */
static void
read_stdin(struct relay *r)
{
	int k;

	if (r->reading || r->in_eof || r->status != EXIT_OK || r->writes >= RELAY_WRITES)
		return;
	k = tisock_stream_read_async(r->in, r->inbuf, 0, TISOCK_ALL, on_stdin, r);
	if (k < 0)
		relay_fail(r, "reading stdin", k, NULL);
	else
		r->reading = true;
}

static bool
write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

static void
on_data(const struct tisock_stream_event *ev)
{
	struct relay *r = ev->userdata;

	if (ev->bytes_processed == -1) {
		if (!ev->success)
			relay_fail(r, "receiving", ev->code, ev->error);
		r->out_eof = true;
		return;
	}
	r->progress->received += (uint64_t)ev->bytes_processed;
	if (!write_all(STDOUT_FILENO, tisock_buffer_cdata(ev->buffer),
		       (size_t)ev->bytes_processed)) {
		relay_fail(r, "writing stdout", -errno, NULL);
		r->out_eof = true;
	}
}

static void
on_socket_error(const struct tisock_tcp_event *ev)
{
	struct wait *w = ev->userdata;

	w->done = 1;
	w->code = ev->code;
	snprintf(w->error, sizeof(w->error), "%s", ev->error ? ev->error : "");
}

static tisock_stream *stdin_stream(tisock_client *c);

/*
 * Relays stdin and stdout over s until both directions are done.  The
 * stdin stream is this relay's own: freeing it at the end drops a read
 * still pending, so nothing outlives the relay.  Returns EXIT_*.
 */
static int
relay(tisock_client *c, tisock_tcp *s, struct progress *p)
{
	struct relay r = { .c = c, .s = s, .progress = p };
	char params[64];
	int k;

	r.in = stdin_stream(c);
	if (!r.in)
		return EXIT_FAILED;
	r.inbuf = tisock_buffer_create(RELAY_CHUNK);
	r.sock = tisock_tcp_stream(s);
	if (!r.inbuf || !r.sock) {
		ctl_err("out of memory");
		tisock_stream_free(r.in);
		tisock_stream_free(r.sock);
		tisock_buffer_free(r.inbuf);
		return EXIT_FAILED;
	}
	k = tisock_stream_pump(r.sock, on_data, &r, RELAY_CHUNK, 1);
	if (k < 0)
		relay_fail(&r, "pump", k, tisock_client_error(c));
	read_stdin(&r);
	while (r.status == EXIT_OK && !(r.shut && r.out_eof)) {
		if (r.in_eof && r.writes == 0 && !r.shut) {
			snprintf(params, sizeof(params), "{\"socket\":%lld}",
				 (long long)tisock_tcp_id(s));
			k = tisock_client_call(c, "tcp.shutdown", params, NULL);
			if (k < 0 && tisock_client_last_error(c)->code == 0) {
				r.status = ctl_dispatch_failed(c, k);
				break;
			}
			/* Refused (the peer is gone, say): the end of stream will tell. */
			r.shut = true;
			continue;
		}
		if (tisock_tcp_state(s) == TISOCK_ERROR || tisock_tcp_state(s) == TISOCK_CLOSED) {
			/* Closed (by an administrator, say) or failed before both sides ended. */
			relay_fail(&r, "connection", -ECONNRESET,
				   tisock_tcp_state(s) == TISOCK_CLOSED ? "closed by the daemon"
									: "the connection failed");
			break;
		}
		k = tisock_client_dispatch(c, p->o->progress ? (int)(PROGRESS_TTY * 1000) : -1);
		if (k < 0) {
			r.status = ctl_dispatch_failed(c, k);
			break;
		}
		progress_tick(p, false);
	}
	/* A pump that ended with -EPIPE may be the daemon's end: exit 3 then. */
	if (r.status == EXIT_FAILED && ctl_daemon_gone(c))
		r.status = EXIT_UNREACHABLE;
	tisock_stream_free(r.in);	/* drops a pending read: r is going away */
	tisock_stream_free(r.sock);
	tisock_buffer_free(r.inbuf);
	return r.status;
}

/* Waits for w->done, dispatching.  Returns 0 or the EXIT_* of a failure. */
static int
wait_for(tisock_client *c, struct wait *w)
{
	while (!w->done) {
		int k = tisock_client_dispatch(c, -1);

		if (k < 0)
			return ctl_dispatch_failed(c, k);
	}
	return 0;
}

static void
on_connected(const struct tisock_tcp_event *ev)
{
	struct wait *w = ev->userdata;

	w->done = 1;
}

static tisock_stream *
stdin_stream(tisock_client *c)
{
	tisock_stream *in = tisock_stream_from_fd(STDIN_FILENO, TISOCK_MODE_READ);

	if (!in || tisock_stream_set_client(in, c) < 0) {
		ctl_err("stdin: %s", strerror(errno ? errno : EINVAL));
		tisock_stream_free(in);
		return NULL;
	}
	return in;
}

/*
 * Whether c's daemon connection, found readable, says the daemon is
 * gone: dispatches what came (notifications nobody waits for).
 */
static bool
channel_daemon_gone(tisock_client *c)
{
	int k;

	while ((k = tisock_client_dispatch(c, 0)) > 0)
		;
	return k == -EPIPE || k == -ECONNRESET;
}

/*
 * Relays stdin and stdout over a data channel fd (no JSON): plain
 * read/write of up to 256 KiB, stdin's end shut down as FIN, done at the
 * channel's EOF once stdin is all sent.  The daemon connection is
 * watched too: the daemon going away ends the relay (exit 3), and so
 * does the channel closed whole (POLLHUP) before stdin ended, since
 * nothing can be sent any more.  Returns EXIT_*.
 */
static int
relay_channel(tisock_client *c, int fd, struct progress *pr)
{
	static char up[RELAY_CHUNK], down[RELAY_CHUNK];
	size_t up_len = 0, up_off = 0;
	bool in_eof = false, out_eof = false, shut = false;

	while (!out_eof || !shut) {
		struct pollfd p[3] = {
			{ .fd = fd, .events = (short)((out_eof ? 0 : POLLIN) |
						      (up_off < up_len ? POLLOUT : 0)) },
			{ .fd = in_eof || up_off < up_len ? -1 : STDIN_FILENO, .events = POLLIN },
			{ .fd = tisock_client_fd(c), .events = POLLIN },
		};
		ssize_t n;

		if (in_eof && up_off == up_len && !shut) {
			(void) shutdown(fd, SHUT_WR);
			shut = true;
			continue;
		}
		progress_tick(pr, false);
		if (poll(p, 3, pr->o->progress ? (int)(PROGRESS_TTY * 1000) : -1) < 0) {
			if (errno == EINTR)
				continue;
			ctl_err("poll: %s", strerror(errno));
			return EXIT_FAILED;
		}
		if (p[1].revents) {
			n = read(STDIN_FILENO, up, sizeof(up));
			if (n < 0 && errno != EINTR) {
				ctl_err("reading stdin: %s", strerror(errno));
				return EXIT_FAILED;
			}
			if (n == 0)
				in_eof = true;
			up_len = n > 0 ? (size_t)n : 0;
			up_off = 0;
		}
		if (p[0].revents & POLLOUT) {
			/* Never block on one direction: the other must keep draining. */
			n = send(fd, up + up_off, up_len - up_off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				ctl_err("connection: %s", strerror(errno));
				return EXIT_FAILED;
			}
			if (n > 0) {
				up_off += (size_t)n;
				pr->sent += (uint64_t)n;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR) && !out_eof) {
			n = recv(fd, down, sizeof(down), MSG_DONTWAIT);
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				ctl_err("connection: %s", strerror(errno));
				return EXIT_FAILED;
			}
			if (n == 0)
				out_eof = true;
			if (n > 0)
				pr->received += (uint64_t)n;
			if (n > 0 && !write_all(STDOUT_FILENO, (unsigned char *)down, (size_t)n)) {
				ctl_err("writing stdout: %s", strerror(errno));
				return EXIT_FAILED;
			}
		}
		if (p[2].revents && channel_daemon_gone(c))
			return ctl_dispatch_failed(c, -EPIPE);
		if (out_eof && !shut && p[0].revents & (POLLHUP | POLLERR)) {
			/* Closed whole, not just the peer's FIN: poll would report it forever. */
			if (ctl_daemon_gone(c))
				return ctl_dispatch_failed(c, -EPIPE);
			ctl_err("connection: closed by the daemon before stdin ended");
			return EXIT_FAILED;
		}
	}
	return EXIT_OK;
}

int
cmd_connect(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	struct wait w = { 0 };
	struct progress p;
	tisock_tcp *s;
	char *host;
	int port, status;

	if (argc != 2)
		return ctl_usage(o, argc < 2 ? "connect wants HOST:PORT" : "connect takes one "
				 "HOST:PORT (got \"%s\" too)", argc > 2 ? argv[2] : "");
	if ((status = ctl_tls_check(o, false)) != EXIT_OK)
		return status;
	if (!ctl_parse_endpoint(argv[1], false, &host, &port))
		return ctl_usage(o, "want HOST:PORT (IPv6 in brackets: [::1]:80), not \"%s\"",
				 argv[1]);
	s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = host, .port = port,
		.timeout_ms = (int)o->timeout_ms, .connected = on_connected,
		.error = on_socket_error, .userdata = &w });
	free(host);
	if (!s)
		return ctl_client_failed(c, -errno);
	if (!o->starttls && (status = ctl_tls_client(c, s, o, false, NULL)) != EXIT_OK)
		return status;
	status = tisock_tcp_connect(s);
	if (status < 0)
		return ctl_client_failed(c, status);
	status = wait_for(c, &w);
	if (status)
		return status;
	if (w.code) {
		char what[300];

		snprintf(what, sizeof(what), "connect to %s", argv[1]);
		if (ctl_tls_failed(s, what))
			return EXIT_FAILED;
		ctl_err("connect to %s: %s", argv[1], w.error);
		if (w.code == -EPIPE && ctl_daemon_gone(c))
			return EXIT_UNREACHABLE;	/* gone before it answered */
		return w.code == -ETIMEDOUT ? EXIT_TIMEOUT : EXIT_FAILED;
	}
	if (o->starttls && (status = ctl_starttls(c, s, o, argv[1])) != EXIT_OK)
		return status;
	ctl_tls_summary(s, o, argv[1]);
	progress_init(&p, o);
	if (o->channel) {
		int fd = tisock_tcp_channel(s);

		if (fd < 0)
			return ctl_client_failed(c, fd);
		status = relay_channel(c, fd, &p);
		close(fd);
	} else {
		status = relay(c, s, &p);
	}
	progress_done(&p, argv[1]);
	if (tisock_tcp_state(s) == TISOCK_CONNECTED)
		(void) tisock_tcp_close(s);
	tisock_tcp_free(s);
	return status;
}

static void
on_accepted(const struct tisock_tcp_event *ev)
{
	struct wait *w = ev->userdata;

	w->done = 1;
	w->inbound = ev->inbound;
}

int
cmd_listen(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	struct wait w = { 0 };
	struct progress p;
	tisock_tcp *l;
	char *host;
	int port, status = EXIT_OK;

	if (argc != 2)
		return ctl_usage(o, argc < 2 ? "listen wants [HOST:]PORT (0: any free port)"
					     : "listen takes one [HOST:]PORT");
	if (!ctl_parse_endpoint(argv[1], true, &host, &port))
		return ctl_usage(o, "want [HOST:]PORT, not \"%s\"", argv[1]);
	if ((status = ctl_tls_check(o, true)) != EXIT_OK)
		return status;
	l = tisock_tcp_create(c, &(struct tisock_tcp_options){ .host = host ? host : "127.0.0.1",
		.port = port, .accepted = on_accepted, .error = on_socket_error,
		.userdata = &w });
	free(host);
	if (!l)
		return ctl_client_failed(c, -errno);
	if ((status = ctl_tls_server(c, l, o)) != EXIT_OK)
		return status;
	status = tisock_tcp_listen(l);
	if (status < 0)
		return ctl_client_failed(c, status);
	if (o->json)
		fprintf(stderr, "{\"event\":\"listening\",\"host\":\"%s\",\"port\":%d}\n",
			tisock_tcp_host(l), tisock_tcp_port(l));
	else
		fprintf(stderr, strchr(tisock_tcp_host(l), ':') ? "listening on [%s]:%d\n"
								 : "listening on %s:%d\n",
			tisock_tcp_host(l), tisock_tcp_port(l));
	do {
		w = (struct wait){ 0 };
		status = tisock_tcp_accept(l, &(struct tisock_tcp_accept_options){
			.timeout_ms = (int)o->timeout_ms });
		if (status < 0) {
			status = ctl_client_failed(c, status);
			break;
		}
		status = wait_for(c, &w);
		if (status)
			break;
		if (!w.inbound && w.code == -EPROTO && ctl_tls_failed(l, "accept")) {
			/* A client whose handshake failed: with -k, the next one may do better. */
			status = o->keep ? EXIT_OK : EXIT_FAILED;
			continue;
		}
		if (!w.inbound) {
			ctl_err("accept: %s", w.error);
			status = w.code == -ETIMEDOUT ? EXIT_TIMEOUT :
				 w.code == -EPIPE && ctl_daemon_gone(c) ? EXIT_UNREACHABLE :
				 EXIT_FAILED;
			break;
		}
		if (o->json)
			fprintf(stderr, "{\"event\":\"accepted\",\"host\":\"%s\",\"port\":%d}\n",
				tisock_tcp_host(w.inbound), tisock_tcp_port(w.inbound));
		else
			fprintf(stderr, "connection from %s:%d\n", tisock_tcp_host(w.inbound),
				tisock_tcp_port(w.inbound));
		{
			char peer[300];

			snprintf(peer, sizeof(peer), strchr(tisock_tcp_host(w.inbound), ':') ?
				 "[%s]:%d" : "%s:%d", tisock_tcp_host(w.inbound),
				 tisock_tcp_port(w.inbound));
			ctl_tls_summary(w.inbound, o, peer);
			progress_init(&p, o);
			status = relay(c, w.inbound, &p);
			progress_done(&p, peer);
		}
		if (tisock_tcp_state(w.inbound) == TISOCK_CONNECTED)
			(void) tisock_tcp_close(w.inbound);
		tisock_tcp_free(w.inbound);
	} while (o->keep && status == EXIT_OK);
	(void) tisock_tcp_close(l);
	tisock_tcp_free(l);
	return status;
}
