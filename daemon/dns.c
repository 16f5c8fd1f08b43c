/*
 * dns: c-ares on libev.
 *
 * c-ares tells us through its socket-state callback which fds it wants
 * watched; each gets an ev_io, and one ev_timer follows ares_timeout().
 * Queries are heap objects so that a cancelled one can still receive its
 * c-ares callback (which c-ares always delivers) and be freed there.
 * Answers c-ares gives inside dns_resolve() (numeric hosts, the hosts
 * file) are delivered by a zero timer on the next loop iteration: a timer,
 * not an idle watcher, so a busy loop cannot hold them back.
 */
#include "config.h"

#include <stddef.h>
#include <ares.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "log.h"

#define DNS_MAX_FDS 16	/* c-ares uses a handful of sockets at once */

struct dns_watch {
	ev_io		 io;
	struct dns	*dns;	/* parent */
	bool		 used;
};

struct dns_query {
	struct dns		*dns;
	dns_cb			 cb;		/* NULL once cancelled */
	void			*userdata;
	int			 port;
	bool			 in_resolve;	/* inside dns_resolve() */
	bool			 done;		/* answered inside dns_resolve() */
	int			 status;	/* when done */
	struct dns_result	*res;		/* when done: owned */
	struct dns_query	*next_ready;	/* in dns->ready */
};

struct dns {
	struct ev_loop		*loop;
	ares_channel		 channel;
	ev_timer		 timer;		/* ares_timeout() */
	ev_timer		 ready_timer;	/* 0 s: delivers ready */
	struct dns_query	*ready;		/* answered early, LIFO */
	struct dns_watch	 watches[DNS_MAX_FDS];
};

static void dns_update_timer(struct dns *d);

static const struct dns_result none;	/* what a failed query's callback gets */

/* Delivers answers that c-ares gave inside dns_resolve(). */
static void
on_ready(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dns *d = (struct dns *)((char *)w - offsetof(struct dns, ready_timer));

	ev_timer_stop(loop, w);
	while (d->ready) {
		struct dns_query *q = d->ready;

		d->ready = q->next_ready;
		if (q->cb)
			q->cb(q->userdata, q->status, dns_status_name(q->status),
			      q->res ? q->res : &none);
		free(q->res);
		free(q);
	}
}

static void
on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dns_watch *dw = (struct dns_watch *)w;
	int fd = w->fd;

	ares_process_fd(dw->dns->channel, (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
			(revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	dns_update_timer(dw->dns);
}

static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dns *d = (struct dns *)((char *)w - offsetof(struct dns, timer));

	ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_update_timer(d);
}

static void
dns_update_timer(struct dns *d)
{
	struct timeval tv, *tvp;

	ev_timer_stop(d->loop, &d->timer);
	tvp = ares_timeout(d->channel, NULL, &tv);
	if (tvp) {
		ev_timer_set(&d->timer, (double)tvp->tv_sec + tvp->tv_usec / 1e6, 0.);
		ev_timer_start(d->loop, &d->timer);
	}
}

static void
on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct dns_watch *free_slot = NULL;
	int events = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);

	for (int i = 0; i < DNS_MAX_FDS; i++) {
		struct dns_watch *dw = &d->watches[i];

		if (!dw->used) {
			if (!free_slot)
				free_slot = dw;
			continue;
		}
		if (dw->io.fd != fd)
			continue;
		ev_io_stop(d->loop, &dw->io);
		if (!events) {
			dw->used = false;
			return;
		}
		ev_io_set(&dw->io, fd, events);
		ev_io_start(d->loop, &dw->io);
		return;
	}
	if (!events)
		return;
	if (!free_slot) {
		log_warning("dns: more than %d resolver sockets, ignoring fd %d", DNS_MAX_FDS, fd);
		return;
	}
	free_slot->used = true;
	free_slot->dns = d;
	ev_io_init(&free_slot->io, on_io, fd, events);
	ev_io_start(d->loop, &free_slot->io);
}

/* Returns a resolver on loop, or NULL (logged). */
struct dns *
dns_new(struct ev_loop *loop, const char *lookups, unsigned timeout_ms)
{
	struct ares_options o = { 0 };
	struct dns *d;
	int r;

	r = ares_library_init(ARES_LIB_INIT_ALL);
	if (r != ARES_SUCCESS) {
		log_error("dns: c-ares init failed: %s", ares_strerror(r));
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->loop = loop;
	o.sock_state_cb = on_sock_state;
	o.sock_state_cb_data = d;
	o.lookups = (char *)lookups;
	o.timeout = (int)timeout_ms;
	o.tries = 2;
	r = ares_init_options(&d->channel, &o,
			      ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS |
			      ARES_OPT_TRIES);
	if (r != ARES_SUCCESS) {
		log_error("dns: c-ares channel failed: %s", ares_strerror(r));
		free(d);
		return NULL;
	}
	ev_timer_init(&d->timer, on_timer, 0., 0.);
	ev_timer_init(&d->ready_timer, on_ready, 0., 0.);
	return d;
}

/* Cancels every query (their callbacks are not called) and frees d. */
struct dns *
dns_free(struct dns *d)
{
	if (!d)
		return NULL;
	ares_destroy(d->channel);	/* delivers ARES_EDESTRUCTION to each query */
	ev_timer_stop(d->loop, &d->timer);
	ev_timer_stop(d->loop, &d->ready_timer);
	while (d->ready) {
		struct dns_query *q = d->ready;

		d->ready = q->next_ready;
		free(q->res);
		free(q);
	}
	for (int i = 0; i < DNS_MAX_FDS; i++)
		if (d->watches[i].used)
			ev_io_stop(d->loop, &d->watches[i].io);
	free(d);
	ares_library_cleanup();
	return NULL;
}

/*
 * The addresses of ai, at most DNS_MAX_ADDRS, with port; NULL when there
 * is none (*status ARES_ENODATA) or no memory (ARES_ENOMEM).
 */
static struct dns_result *
result_of(const struct ares_addrinfo *ai, int port, int *status)
{
	struct dns_result *res;
	int n = 0;

	for (struct ares_addrinfo_node *x = ai->nodes; x && n < DNS_MAX_ADDRS; x = x->ai_next)
		if ((x->ai_family == AF_INET && x->ai_addrlen >= sizeof(struct sockaddr_in)) ||
		    (x->ai_family == AF_INET6 && x->ai_addrlen >= sizeof(struct sockaddr_in6)))
			n++;
	if (n == 0) {
		*status = ARES_ENODATA;
		return NULL;
	}
	res = calloc(1, sizeof(*res) + (size_t)n * sizeof(res->addrs[0]));
	if (!res) {
		*status = ARES_ENOMEM;
		return NULL;
	}
	for (struct ares_addrinfo_node *x = ai->nodes; x && res->count < n; x = x->ai_next) {
		struct sockaddr_storage *ss = &res->addrs[res->count];

		if (x->ai_family == AF_INET && x->ai_addrlen >= sizeof(struct sockaddr_in)) {
			memcpy(ss, x->ai_addr, sizeof(struct sockaddr_in));
			((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		} else if (x->ai_family == AF_INET6 &&
			   x->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			memcpy(ss, x->ai_addr, sizeof(struct sockaddr_in6));
			((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		} else
			continue;
		res->count++;
	}
	return res;
}

static void
on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dns_query *q = arg;
	struct dns_result *res = NULL;

	(void)timeouts;
	if (status == ARES_SUCCESS && ai)
		res = result_of(ai, q->port, &status);
	else if (status == ARES_SUCCESS)
		status = ARES_ENODATA;
	if (ai)
		ares_freeaddrinfo(ai);
	if (q->in_resolve) {
		q->done = true;
		q->status = status;
		q->res = res;
		return;
	}
	if (q->cb)
		q->cb(q->userdata, status, dns_status_name(status), res ? res : &none);
	free(res);
	free(q);
}

/*
 * Starts resolving host (IPv4 and IPv6).  The callback gets every address
 * with port filled in.  Returns the query (owned by dns until the callback
 * or dns_cancel), or NULL on OOM.
 */
struct dns_query *
dns_resolve(struct dns *d, const char *host, int port, dns_cb cb, void *userdata)
{
	/* ARES_AI_ENVHOSTS: the hosts file is $CARES_HOSTS when set (tisockd(8)). */
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
					     .ai_flags = ARES_AI_ENVHOSTS };
	struct dns_query *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	*q = (struct dns_query){ .dns = d, .cb = cb, .userdata = userdata, .port = port };
	/*
	 * c-ares answers numeric hosts and hosts-file names inside this call;
	 * such answers are held and delivered from a zero timer, so the
	 * callback never runs before the caller has stored q.
	 */
	q->in_resolve = true;
	ares_getaddrinfo(d->channel, host, NULL, &hints, on_addrinfo, q);
	q->in_resolve = false;
	if (q->done) {
		q->next_ready = d->ready;
		d->ready = q;
		if (!ev_is_active(&d->ready_timer))
			ev_timer_start(d->loop, &d->ready_timer);
	}
	dns_update_timer(d);
	return q;
}

/* The callback of q will not be called; q is freed by c-ares later. */
void
dns_cancel(struct dns_query *q)
{
	if (q)
		q->cb = NULL;
}

/* "ENOTFOUND" style name for a c-ares status. */
const char *
dns_status_name(int status)
{
	switch (status) {
	case ARES_SUCCESS:	return "SUCCESS";
	case ARES_ENODATA:	return "ENODATA";
	case ARES_EFORMERR:	return "EFORMERR";
	case ARES_ESERVFAIL:	return "ESERVFAIL";
	case ARES_ENOTFOUND:	return "ENOTFOUND";
	case ARES_ENOTIMP:	return "ENOTIMP";
	case ARES_EREFUSED:	return "EREFUSED";
	case ARES_EBADQUERY:	return "EBADQUERY";
	case ARES_EBADNAME:	return "EBADNAME";
	case ARES_EBADFAMILY:	return "EBADFAMILY";
	case ARES_EBADRESP:	return "EBADRESP";
	case ARES_ECONNREFUSED:	return "ECONNREFUSED";
	case ARES_ETIMEOUT:	return "ETIMEOUT";
	case ARES_EOF:		return "EOF";
	case ARES_EFILE:	return "EFILE";
	case ARES_ENOMEM:	return "ENOMEM";
	case ARES_EDESTRUCTION:	return "EDESTRUCTION";
	case ARES_ECANCELLED:	return "ECANCELLED";
	default:		return "EUNKNOWN";
	}
}
