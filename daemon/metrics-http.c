/*
 * metrics-http: GET /metrics over HTTP/1.0 on [daemon] metrics-listen,
 * on the daemon's loop.
 *
 * Deliberately small: one request per connection, read until the end of
 * its header (at most MHTTP_REQUEST_MAX bytes), one response built from
 * metrics_write(), written without blocking, then the connection is
 * closed.  At most MHTTP_CONNS connections at once (one more is answered
 * 503 and closed); each one has MHTTP_TIMEOUT seconds in all, then it is
 * closed.  Nothing a scraper sends can make the daemon block or hold
 * more than MHTTP_CONNS requests and responses.  The listener is off
 * unless configured; a port alone listens on 127.0.0.1.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "metrics.h"
#include "rpc.h"

#define MHTTP_CONNS		16	/* connections served at once */
#define MHTTP_REQUEST_MAX	4096	/* bytes of request line and headers */
#define MHTTP_TIMEOUT		10.	/* seconds a connection may take in all */
#define MHTTP_ACCEPTS		16	/* accepts per wakeup */

struct mhttp_conn {
	LIST_ENTRY(mhttp_conn)	 link;		/* h->conns */
	struct metrics_http	*h;		/* parent */
	int			 fd;
	ev_io			 io;		/* read, then write */
	ev_timer		 timer;		/* MHTTP_TIMEOUT in all */
	char			 req[MHTTP_REQUEST_MAX];
	size_t			 req_len;
	struct proto_buf	 out;		/* the response */
};

struct metrics_http {
	struct daemon		*d;
	int			 fd;		/* listening */
	ev_io			 accept_io;
	ev_timer		 retry;		/* accept again after EMFILE */
	LIST_HEAD(, mhttp_conn)	 conns;
	size_t			 nconns;
	uint64_t		 served;	/* responses sent, for the log */
	struct log_ratelimit	 rl;
};

/* Closes and frees c.  Called last in c's own callbacks: nothing refers to c after. */
static void
conn_free(struct mhttp_conn *c)
{
	struct ev_loop *loop = c->h->d->loop;

	ev_io_stop(loop, &c->io);
	ev_timer_stop(loop, &c->timer);
	(void) close(c->fd);
	LIST_REMOVE(c, link);
	c->h->nconns--;
	proto_buf_free(&c->out);
	free(c);
}

/* Queues a whole response: status, headers, and body (not for HEAD). */
static void
respond(struct mhttp_conn *c, const char *status, const char *type, const char *body,
	size_t len, bool head, const char *extra)
{
	char hdr[512];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
			 status, type, len, extra ? extra : "");

	proto_buf_reset(&c->out);
	if (n < 0 || proto_buf_append(&c->out, hdr, (size_t)n) < 0 ||
	    (!head && proto_buf_append(&c->out, body, len) < 0))
		proto_buf_reset(&c->out);	/* out of memory: close without a word */
}

static void
respond_text(struct mhttp_conn *c, const char *status, const char *text, bool head,
	     const char *extra)
{
	respond(c, status, "text/plain; charset=utf-8", text, strlen(text), head, extra);
}

/* Answers the request in c->req (its header complete). */
static void
handle(struct mhttp_conn *c)
{
	char method[8], target[256], version[16];
	bool head;

	c->req[c->req_len] = '\0';
	if (sscanf(c->req, "%7s %255s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0) {
		respond_text(c, "400 Bad Request", "bad request\n", false, NULL);
		return;
	}
	head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head) {
		respond_text(c, "405 Method Not Allowed", "GET /metrics only\n", false,
			     "Allow: GET, HEAD\r\n");
		return;
	}
	target[strcspn(target, "?#")] = '\0';
	if (strcmp(target, "/metrics") == 0) {
		struct proto_buf body = PROTO_BUF_INIT;

		if (metrics_write(c->h->d, &body) < 0)
			respond_text(c, "500 Internal Server Error", "out of memory\n", head, NULL);
		else
			respond(c, "200 OK", METRICS_CONTENT_TYPE, proto_buf_head(&body),
				proto_buf_used(&body), head, NULL);
		proto_buf_free(&body);
		return;
	}
	if (strcmp(target, "/") == 0) {
		respond_text(c, "200 OK", "tisockd: the metrics are at /metrics\n", head, NULL);
		return;
	}
	respond_text(c, "404 Not Found", "not found: the metrics are at /metrics\n", head, NULL);
}

/* Whether the request's header has ended (an empty line). */
static bool
header_done(const struct mhttp_conn *c)
{
	for (size_t i = 1; i < c->req_len; i++)
		if (c->req[i] == '\n' && (c->req[i - 1] == '\n' ||
		    (i >= 2 && c->req[i - 1] == '\r' && c->req[i - 2] == '\n')))
			return true;
	return false;
}

static void
on_conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mhttp_conn *c = (struct mhttp_conn *)((char *)w - offsetof(struct mhttp_conn, io));
	ssize_t n;

	if (revents & EV_READ) {
		n = recv(c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_free(c);	/* gone before asking */
			return;
		}
		c->req_len += (size_t)n;
		if (header_done(c))
			handle(c);
		else if (c->req_len == sizeof(c->req) - 1)
			respond_text(c, "431 Request Header Fields Too Large",
				     "request too large\n", false, NULL);
		else
			return;
		if (proto_buf_used(&c->out) == 0) {
			conn_free(c);
			return;
		}
		(void) shutdown(c->fd, SHUT_RD);	/* one request: no more is read */
		ev_io_stop(loop, &c->io);
		ev_io_set(&c->io, c->fd, EV_WRITE);
		ev_io_start(loop, &c->io);
		return;
	}
	n = send(c->fd, proto_buf_head(&c->out), proto_buf_used(&c->out),
		 MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		proto_buf_consume(&c->out, (size_t)n);
	if (n <= 0 || proto_buf_used(&c->out) == 0) {
		if (n > 0)
			c->h->served++;
		conn_free(c);
	}
}

static void
on_conn_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	conn_free((struct mhttp_conn *)((char *)w - offsetof(struct mhttp_conn, timer)));
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct metrics_http *h = (struct metrics_http *)((char *)w -
							 offsetof(struct metrics_http, accept_io));

	for (int i = 0; i < MHTTP_ACCEPTS; i++) {
		int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct mhttp_conn *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Not now: the connection waits in the backlog. */
				ev_io_stop(loop, &h->accept_io);
				ev_timer_start(loop, &h->retry);
			}
			return;
		}
		if (h->nconns >= MHTTP_CONNS) {
			static const char busy[] = "HTTP/1.0 503 Service Unavailable\r\n"
				"Content-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";

			(void) send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void) close(fd);
			if (log_ratelimit_ok(&h->rl, ev_now(loop), 10.))
				log_warning("metrics: %d scrapes at once, answering 503", MHTTP_CONNS);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			(void) close(fd);
			continue;
		}
		c->h = h;
		c->fd = fd;
		LIST_INSERT_HEAD(&h->conns, c, link);
		h->nconns++;
		ev_io_init(&c->io, on_conn_io, fd, EV_READ);
		ev_io_start(loop, &c->io);
		ev_timer_init(&c->timer, on_conn_timeout, MHTTP_TIMEOUT, 0.);
		ev_timer_start(loop, &c->timer);
	}
}

static void
on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct metrics_http *h = (struct metrics_http *)((char *)w -
							 offsetof(struct metrics_http, retry));

	ev_io_start(loop, &h->accept_io);
}

/*
 * Opens [daemon] metrics-listen, if configured.  Returns 0 (also when
 * not configured) or -errno, logged.
 */
int
metrics_http_start(struct daemon *d)
{
	const struct sockaddr_storage *ss = &d->conf.metrics_listen;
	struct metrics_http **slot = metrics_http_slot(d), *h;
	char where[INET6_ADDRSTRLEN + 8];
	int fd, one = 1, r;

	if (!d->conf.metrics_on || !slot)
		return 0;
	rpc_format_endpoint(ss, where, sizeof(where));
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		log_error("metrics-listen %s: %s", where, strerror(-r));
		return r;
	}
	(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		(void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, ss->ss_family == AF_INET6 ?
		 sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) < 0 ||
	    listen(fd, 64) < 0) {
		r = -errno;
		log_error("metrics-listen %s: %s", where, strerror(-r));
		(void) close(fd);
		return r;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		(void) close(fd);
		return -ENOMEM;
	}
	{
		struct sockaddr_storage bound;
		socklen_t len = sizeof(bound);

		/* Port 0 in the file: the port the kernel chose is the one to tell. */
		if (getsockname(fd, (struct sockaddr *)&bound, &len) == 0)
			rpc_format_endpoint(&bound, where, sizeof(where));
	}
	h->d = d;
	h->fd = fd;
	LIST_INIT(&h->conns);
	ev_io_init(&h->accept_io, on_accept, fd, EV_READ);
	ev_io_start(d->loop, &h->accept_io);
	ev_timer_init(&h->retry, on_retry, 1., 0.);
	*slot = h;
	log_notice("metrics: GET http://%s/metrics", where);
	return 0;
}

/* Closes the listener and every connection.  Accepts NULL; returns NULL. */
struct metrics_http *
metrics_http_free(struct metrics_http *h)
{
	struct mhttp_conn *c;

	if (!h)
		return NULL;
	while ((c = LIST_FIRST(&h->conns)))
		conn_free(c);
	ev_io_stop(h->d->loop, &h->accept_io);
	ev_timer_stop(h->d->loop, &h->retry);
	(void) close(h->fd);
	free(h);
	return NULL;
}
