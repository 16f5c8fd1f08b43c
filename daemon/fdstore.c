/*
 * fdstore: see fdstore.h.
 *
 * Cost: one sendmsg(2) of a datagram carrying one descriptor per socket
 * opened, one more when it closes (fdstore-send.c: never blocking) (doc/PERFORMANCE.md has the figures);
 * every byte moved costs a few stores into the ledger.  FDNAME= applies
 * to every descriptor of a datagram, so datagrams are not batched: one
 * name per descriptor is what lets the daemon remove one of them.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "fdstore.h"
#include "log.h"
#include "proto-buf.h"
#include "rpc.h"
#include "tcp.h"

#define FDSTORE_UNRECORDED	UINT32_MAX	/* a call with no ledger slot */

/*
 * $FDSTORE: the store's size, as systemd (254 and later) says it when
 * FileDescriptorStoreMax= is set, and as the shipped unit says it for
 * older ones.  0 when absent or not a number.
 */
static uint64_t
store_max(void)
{
	const char *v = getenv("FDSTORE");
	char *end;
	unsigned long long n;

	if (!v || *v < '0' || *v > '9')
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	return errno || *end ? 0 : (uint64_t)n;
}

/*
 * Decides whether the store is used (fd-store; NOTIFY_SOCKET; with auto,
 * $FDSTORE: a unit without FileDescriptorStoreMax= would log a warning
 * for every descriptor sent) and opens what it needs.  The ledger is
 * made here unless recovery took back the previous one.  Returns 0, or
 * -errno with fd-store = yes and no way to use the store.
 */
int
fdstore_init(struct daemon *d)
{
	struct fdstore *s = &d->fds;
	const char *ns = getenv("NOTIFY_SOCKET");
	uint64_t n, max = store_max(), need = 1 + d->conf.clients + d->conf.sockets;
	int r;

	s->sock = -1;
	/* Recovery with fd-store = no: on until what came back is out (fdstore_off()). */
	if (d->conf.fd_store == CONF_FD_STORE_NO && !d->recover)
		return 0;
	if (!ns || !*ns) {
		if (d->conf.fd_store == CONF_FD_STORE_YES) {
			log_error("fd-store = yes, but NOTIFY_SOCKET is not set");
			return -EINVAL;
		}
		return 0;
	}
	/*
	 * Descriptors recovery took from the store prove it is there, $FDSTORE
	 * or not (a unit changed since, systemd before 254): what comes back
	 * must leave it again when closed, else systemd holds it for ever.
	 */
	if (d->conf.fd_store == CONF_FD_STORE_AUTO && max == 0 && !d->recover) {
		log_info("fd store: not used ($FDSTORE not set: no FileDescriptorStoreMax=)");
		return 0;
	}
	if (d->conf.fd_store == CONF_FD_STORE_AUTO && max == 0)
		log_warning("fd store: $FDSTORE not set, but systemd passed what was stored: on");
	if (d->conf.fd_store != CONF_FD_STORE_NO && max > 0 && max < need)
		log_warning("fd store: FileDescriptorStoreMax=%llu is less than [limits] clients + "
			    "sockets + 1 = %llu: what does not fit is lost at a crash",
			    (unsigned long long)max, (unsigned long long)need);
	r = fdstore_connect(ns);
	if (r < 0) {
		log_error("fd store: cannot reach NOTIFY_SOCKET %s: %s", ns, strerror(-r));
		return d->conf.fd_store == CONF_FD_STORE_YES ? r : 0;
	}
	s->sock = r;
	if (!s->ledger.base) {
		n = 1 + d->conf.clients + d->conf.sockets + LEDGER_REQUESTS;
		if (n > UINT32_MAX / 2)
			n = UINT32_MAX / 2;
		r = ledger_create(&s->ledger, (uint32_t)n);
		if (r < 0) {
			log_error("fd store: ledger: %s", strerror(-r));
			goto fail;
		}
	}
	s->on = true;
	fdstore_head_sync(d);
	if (s->drop_ledger) {
		fdstore_remove(d, "ledger");	/* before ours goes in under the same name */
		s->drop_ledger = false;
	}
	if (!s->ledger_stored) {
		r = fdstore_push(d, "ledger", s->ledger.fd);
		if (r < 0)
			goto fail;
		s->ledger_stored = true;
	}
	log_info("fd store: on (%u ledger slots)", s->ledger.nslots);
	return 0;
fail:
	s->on = false;
	ledger_close(&s->ledger);
	(void) close(s->sock);
	s->sock = -1;
	return d->conf.fd_store == CONF_FD_STORE_YES ? (r < 0 ? r : -EIO) : 0;
}

/*
 * A store taken over (live upgrade, crash recovery) but not wanted by this
 * process's config (fd-store = no): everything leaves the store, the
 * ledger last, and it is off.
 */
void
fdstore_off(struct daemon *d, const char *why)
{
	struct ctl *c;
	struct tcp *t;

	log_notice("fd store: %s: emptied, and off", why);
	TAILQ_FOREACH(c, &d->ctls, link) {
		TAILQ_FOREACH(t, &c->own.sockets, link)
			fdstore_tcp_closing(t);
		fdstore_ctl_close(c);
	}
	TAILQ_FOREACH(t, &d->eng.orphans, link)
		fdstore_tcp_closing(t);
	fdstore_done(d);
}

/* A clean stop: the store is emptied of what is left (the ledger last). */
void
fdstore_done(struct daemon *d)
{
	struct fdstore *s = &d->fds;

	if (s->on && !d->recover)	/* else kept for the next try */
		fdstore_remove(d, "ledger");
	(void) fdstore_send_drain(d, FDSTORE_DONE_WAIT);
	fdstore_send_done(d);
	s->on = false;
	ledger_close(&s->ledger);
	if (s->sock >= 0)
		(void) close(s->sock);
	s->sock = -1;
}

/* The ledger's header: the ids handed out so far and who writes it. */
void
fdstore_head_sync(struct daemon *d)
{
	struct ledger_head *h;

	if (!d->fds.ledger.base)
		return;
	h = ledger_head(&d->fds.ledger);
	h->next_socket = d->eng.next_socket;
	h->next_client = d->next_client;
	h->generation = d->generation;
}

/* A control connection: stored as c<n>, with its slot. */
void
fdstore_ctl_open(struct ctl *c)
{
	struct daemon *d = c->d;
	union ledger_rec rec = { .c = { .uid = c->cred.uid, .gid = c->cred.gid,
					.pid = (uint32_t)c->cred.pid } };
	char name[FDSTORE_NAME_MAX];

	if (!d->fds.on)
		return;
	fdstore_head_sync(d);
	c->ledger = ledger_alloc(&d->fds.ledger, LEDGER_CLIENT, c->num, &rec);
	if (c->ledger == 0)
		return;
	snprintf(name, sizeof(name), "c%llu", (unsigned long long)c->num);
	if (fdstore_push(d, name, c->fd) < 0) {
		ledger_release(&d->fds.ledger, c->ledger);
		c->ledger = 0;
	}
}

/* c closes: out of the store, before its fd goes. */
void
fdstore_ctl_close(struct ctl *c)
{
	char name[FDSTORE_NAME_MAX];

	free(c->marks);
	c->marks = NULL;
	c->nmarks = c->mark_head = c->mark_cap = 0;
	if (c->ledger == 0)
		return;
	snprintf(name, sizeof(name), "c%llu", (unsigned long long)c->num);
	fdstore_remove(c->d, name);
	ledger_release(&c->d->fds.ledger, c->ledger);
	c->ledger = 0;
}

/* c's slot from c as it is now. */
void
fdstore_ctl_sync(struct ctl *c)
{
	struct ledger *l = &c->d->fds.ledger;
	union ledger_rec *r;

	if (c->ledger == 0)
		return;
	r = ledger_begin(l, c->ledger);
	r->c.out_sent = c->out_sent;
	r->c.monitor = (c->flags & CTL_MONITOR) != 0;
	ledger_commit(l, c->ledger);
}

/*
 * Output was written to c (partial: the last byte was not a newline):
 * socket bytes on lines now wholly written are delivered.
 */
void
fdstore_ctl_sent(struct ctl *c, bool partial)
{
	struct ledger *l = &c->d->fds.ledger;
	union ledger_rec *r;

	while (c->mark_head < c->nmarks && c->marks[c->mark_head].at <= c->out_sent) {
		const struct fdstore_mark *m = &c->marks[c->mark_head++];
		struct tcp *t = tcp_find(&c->d->eng, (int64_t)m->socket);

		if (t && t->owner == &c->own) {
			t->delivered += m->bytes;
			fdstore_tcp_sync(t);
		}
	}
	if (c->mark_head == c->nmarks)
		c->mark_head = c->nmarks = 0;
	if (c->ledger == 0)
		return;
	r = ledger_begin(l, c->ledger);
	r->c.out_sent = c->out_sent;
	r->c.out_partial = partial;
	ledger_commit(l, c->ledger);
}

/* Input was read or dispatched: what is held unparsed would be lost. */
void
fdstore_ctl_input(struct ctl *c, bool partial)
{
	struct ledger *l = &c->d->fds.ledger;
	union ledger_rec *r;

	if (c->ledger == 0)
		return;
	r = ledger_begin(l, c->ledger);
	r->c.in_held = c->input_held;
	r->c.in_partial = partial;
	ledger_commit(l, c->ledger);
}

/*
 * Fills a socket record from t; sent: bytes just written whose requests
 * have not yet been counted off pending_write_bytes (the engine reports
 * a write before it settles the queue).
 */
static void
socket_rec(const struct tcp *t, struct ledger_socket *s, size_t sent)
{
	uint64_t pending = t->pending_write_bytes >= sent ? t->pending_write_bytes - sent : 0;
	uint64_t up = t->channel ? t->relay_up : 0, down = t->channel ? t->relay_down : 0;
	uint64_t held = t->queued - t->delivered + down;	/* read, not with the client */

	const struct ctl *c = ctl_of_owner(t->owner);

	s->owner = c ? c->num : 0;
	s->state = (uint32_t)t->state;
	s->flags = (t->pumping ? LEDGER_PUMPING : 0) | (t->eof ? LEDGER_EOF : 0) |
		   (t->shut_wr ? LEDGER_SHUT_WR : 0) | (t->channel ? LEDGER_CHANNEL : 0) |
		   (t->eof_told ? LEDGER_EOF_TOLD : 0) |
		   (tcp_transferable(t) ? 0 : LEDGER_UNCARRIED);
	s->accepted = t->bytes_written + pending + up;
	s->written = t->bytes_written;
	s->read = t->bytes_read;
	s->queued = t->queued;
	s->delivered = t->bytes_read >= held ? t->bytes_read - held : 0;
	s->pump_total = t->pump_total;
	s->chunk_size = (uint32_t)t->chunk_size;
}

/*
 * t changed state: connected or listening, it goes into the store as
 * t<id> (a connecting socket does not: a crash loses it).  A TLS socket
 * gets its ledger slot, so that a crash reports it lost, but its fd stays
 * out of the store: no later process could go on with its session.
 */
void
fdstore_tcp_state(struct tcp *t, int from)
{
	struct daemon *d = t->eng->up;
	union ledger_rec rec = { 0 };
	char name[FDSTORE_NAME_MAX];

	(void) from;
	if (!d->fds.on)
		return;
	if (t->ledger) {
		fdstore_tcp_sync(t);
		return;
	}
	if ((t->state != TCP_STATE_CONNECTED && t->state != TCP_STATE_LISTENING) || t->fd < 0 ||
	    !t->owner)
		return;
	fdstore_head_sync(d);
	socket_rec(t, &rec.s, 0);
	t->ledger = ledger_alloc(&d->fds.ledger, LEDGER_SOCKET, t->id, &rec);
	if (t->ledger == 0)
		return;
	if (!tcp_transferable(t))
		return;
	snprintf(name, sizeof(name), "t%llu", (unsigned long long)t->id);
	if (fdstore_push(d, name, t->fd) < 0) {
		ledger_release(&d->fds.ledger, t->ledger);
		t->ledger = 0;
		return;
	}
	t->stored = true;
}

/* t's fd is about to be closed: out of the store first. */
void
fdstore_tcp_closing(struct tcp *t)
{
	struct daemon *d = t->eng->up;
	char name[FDSTORE_NAME_MAX];

	if (t->ledger == 0)
		return;
	if (t->stored) {
		snprintf(name, sizeof(name), "t%llu", (unsigned long long)t->id);
		fdstore_remove(d, name);
		t->stored = false;
	}
	ledger_release(&d->fds.ledger, t->ledger);
	t->ledger = 0;
}

/*
 * t, stored as plain TCP, starts TLS (tcp.startTls): its fd leaves the
 * store (no later process could go on with the session) and its slot
 * says so, so that a crash from now on reports it lost.
 */
void
fdstore_tcp_tls(struct tcp *t)
{
	struct daemon *d = t->eng->up;
	char name[FDSTORE_NAME_MAX];

	fdstore_tcp_sync(t);
	if (!t->stored)
		return;
	snprintf(name, sizeof(name), "t%llu", (unsigned long long)t->id);
	fdstore_remove(d, name);
	t->stored = false;
}

/* t's slot from t as it is now. */
void
fdstore_tcp_sync(struct tcp *t)
{
	fdstore_tcp_moved(t, 0);
}

/* t's slot after n bytes were written to the kernel (reported before the queue settles). */
void
fdstore_tcp_moved(struct tcp *t, size_t n)
{
	struct ledger *l = &((struct daemon *)t->eng->up)->fds.ledger;

	if (t->ledger == 0)
		return;
	socket_rec(t, &ledger_begin(l, t->ledger)->s, n);
	ledger_commit(l, t->ledger);
}

/* n bytes read from t were queued for its owner, ending at the output's end. */
void
fdstore_tcp_queued(struct tcp *t, size_t n)
{
	struct ctl *c = ctl_of_owner(t->owner);

	t->queued += n;
	if (!c || c->ledger == 0) {
		t->delivered += n;
		return;
	}
	if (c->nmarks == c->mark_cap) {
		size_t cap;
		struct fdstore_mark *m;

		if (c->mark_head > 0) {
			memmove(c->marks, c->marks + c->mark_head,
				(c->nmarks - c->mark_head) * sizeof(*m));
			c->nmarks -= c->mark_head;
			c->mark_head = 0;
		}
		if (c->nmarks == c->mark_cap) {
			cap = c->mark_cap ? 2 * c->mark_cap : 64;
			m = realloc(c->marks, cap * sizeof(*m));
			if (!m) {
				t->delivered += n;	/* not tracked: counted as delivered */
				fdstore_tcp_sync(t);
				return;
			}
			c->marks = m;
			c->mark_cap = cap;
		}
	}
	c->marks[c->nmarks++] = (struct fdstore_mark){
		.at = c->out_sent + proto_buf_used(&c->out), .socket = t->id, .bytes = n };
	fdstore_tcp_sync(t);
}

/* A call now waits: its id goes into a request slot. */
void
fdstore_call_defer(struct rpc_call *call)
{
	struct ctl *c = call->ctl;
	union ledger_rec rec = { .r = { .method = call->method } };

	call->ledger = 0;
	if (!c || c->ledger == 0 || call->silent || !call->id)
		return;
	rec.r.socket = call->tcp ? call->tcp->id : 0;
	if (ledger_id_ok(call->id, call->id_len)) {
		rec.r.id_len = (uint16_t)call->id_len;
		memcpy(rec.r.id, call->id, call->id_len);
	}
	call->ledger = ledger_alloc(&c->d->fds.ledger, LEDGER_REQUEST, c->num, &rec);
	if (call->ledger == 0 || rec.r.id_len == 0) {
		struct ledger *l = &c->d->fds.ledger;
		union ledger_rec *r = ledger_begin(l, c->ledger);

		r->c.unrecorded++;
		ledger_commit(l, c->ledger);
		if (call->ledger)
			ledger_release(l, call->ledger);
		call->ledger = FDSTORE_UNRECORDED;
	}
}

/* The call is answered: its slot goes. */
void
fdstore_call_free(struct rpc_call *call)
{
	struct ctl *c = call->ctl;

	if (call->ledger == 0)
		return;
	if (call->ledger == FDSTORE_UNRECORDED) {
		if (c && c->ledger) {
			struct ledger *l = &c->d->fds.ledger;
			union ledger_rec *r = ledger_begin(l, c->ledger);

			r->c.unrecorded--;
			ledger_commit(l, c->ledger);
		}
	} else if (c) {
		ledger_release(&c->d->fds.ledger, call->ledger);
	}
	call->ledger = 0;
}
