/*
 * tcp-tls-accept: the inbound handshakes of a TLS listener.
 *
 * A TLS listener accepts while a tcp.accept is pending and fewer than
 * TCP_TLS_INBOUND_MAX handshakes are under way; each accepted connection
 * does its handshake before it becomes a socket, so the client only ever
 * sees sockets that speak TLS.  A finished one goes to the oldest pending
 * accept, or waits for the next tcp.accept.  One that fails or stalls
 * past tls-handshake-timeout-ms is closed, logged and told to monitors:
 * the listener and its accepts go on.  Their fds count among the
 * engine's open sockets, as connect attempts do, and among the
 * listener's owner's (ninbound): an accept is refused at the socket
 * limits before it starts a handshake, as for a plain listener.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "log.h"
#include "proto-errors.h"
#include "tcp.h"
#include "tcp-tls.h"

/* An inbound connection doing its handshake, or done and waiting for an accept. */
struct tls_inbound {
	TAILQ_ENTRY(tls_inbound) link;
	struct tcp		*listener;
	int			 fd;
	struct sockaddr_storage	 ss;
	struct tcp_tls		*tls;
	bool			 ready;		/* handshake done */
};

TAILQ_HEAD(tls_inbound_list, tls_inbound);

/* A listener's inbound connections. */
struct tcp_tls_listen {
	struct tls_inbound_list	 list;		/* oldest first */
	int			 n, nready;
};

/* Closes and frees in (off its list). */
static void
inbound_free(struct tls_inbound *in)
{
	struct tcp *t = in->listener;
	struct tcp_tls_listen *tl = t->tls_listen;

	TAILQ_REMOVE(&tl->list, in, link);
	tl->n--;
	if (in->ready)
		tl->nready--;
	tcp_tls_free(in->tls);
	if (in->fd >= 0) {
		(void) close(in->fd);
		t->eng->nsockets--;
		if (t->owner)
			t->owner->ninbound--;
		t->eng->ev->fd_freed(t->eng->up);
	}
	free(in);
}

/* Gives the oldest finished inbound connection to the oldest pending accept. */
static bool
hand_one(struct tcp *t)
{
	struct tcp_tls_listen *tl = t->tls_listen;
	struct tls_inbound *in;
	int fd;

	if (!tl || tl->nready == 0 || TAILQ_EMPTY(&t->accepts) || !t->owner)
		return false;
	TAILQ_FOREACH(in, &tl->list, link)
		if (in->ready)
			break;
	fd = in->fd;
	in->fd = -1;
	t->eng->nsockets--;	/* counted again as the socket's own */
	if (t->owner)
		t->owner->ninbound--;
	if (!tcp_accept_hand(t, fd, &in->ss, in->tls))
		(void) close(fd);	/* the accept was answered with why */
	else
		in->tls = NULL;		/* the socket's now */
	inbound_free(in);
	return true;
}

/* Hands finished connections to pending accepts.  Returns whether any was. */
bool
tcp_tls_accept_ready(struct tcp *t)
{
	bool any = false;

	while (hand_one(t))
		any = true;
	return any;
}

/* Whether the listener may start another inbound handshake. */
bool
tcp_tls_accept_room(const struct tcp *t)
{
	return !t->tls_listen || t->tls_listen->n < TCP_TLS_INBOUND_MAX;
}

static void
on_inbound_done(void *arg, const struct tcp_tls_failure *f)
{
	struct tls_inbound *in = arg;
	struct tcp *t = in->listener;

	if (f) {
		char addr[INET6_ADDRSTRLEN] = "?";

		if (in->ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&in->ss)->sin6_addr, addr,
				  sizeof(addr));
		else
			inet_ntop(AF_INET, &((struct sockaddr_in *)&in->ss)->sin_addr, addr,
				  sizeof(addr));
		log_debug("tcp#%llu: inbound TLS handshake from %s failed: %s%s%s",
			 (unsigned long long)t->id, addr, f->reason, f->alert ? ", alert " : "",
			 f->alert ? f->alert : "");
		t->eng->ev->tls(t, f, false);
		inbound_free(in);
		tcp_update_io(t);	/* room for another */
		return;
	}
	in->ready = true;
	t->tls_listen->nready++;
	(void) tcp_tls_accept_ready(t);
	tcp_update_io(t);
}

/*
 * The TLS listener t accepted fd from ss: its handshake starts (cfg is
 * the listener's); the accept answers once it is done.
 */
void
tcp_tls_accept(struct tcp *t, int fd, const struct sockaddr_storage *ss)
{
	struct tcp_tls_listen *tl = t->tls_listen;
	struct tls_inbound *in;
	void *ssl;

	if (!tl) {
		tl = t->tls_listen = calloc(1, sizeof(*tl));
		if (!tl) {
			(void) close(fd);
			return;
		}
		TAILQ_INIT(&tl->list);
	}
	in = calloc(1, sizeof(*in));
	ssl = in ? tcp_tls_new_ssl(t->eng, t->tls_cfg, NULL, 0) : NULL;
	if (!ssl || !(in->tls = tcp_tls_new(t->eng->loop, ssl, fd,
					    tcp_tls_config_verifies(t->tls_cfg)))) {
		tcp_tls_ssl_free(ssl);
		free(in);
		(void) close(fd);
		return;
	}
	in->listener = t;
	in->fd = fd;
	in->ss = *ss;
	t->eng->nsockets++;
	if (t->owner)
		t->owner->ninbound++;
	TAILQ_INSERT_TAIL(&tl->list, in, link);
	tl->n++;
	tcp_tls_handshake(in->tls, (int64_t)t->eng->conf->tls_handshake_timeout_ms,
			  on_inbound_done, in);
}

/* The listener closes: its inbound connections go. */
void
tcp_tls_accept_drop(struct tcp *t)
{
	struct tcp_tls_listen *tl = t->tls_listen;

	if (!tl)
		return;
	while (!TAILQ_EMPTY(&tl->list))
		inbound_free(TAILQ_FIRST(&tl->list));
	free(tl);
	t->tls_listen = NULL;
}
