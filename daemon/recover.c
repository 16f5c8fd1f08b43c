/*
 * recover: see recover.h.
 *
 * What comes back: every control connection ("c<n>": its number, its
 * peer's credentials from SO_PEERCRED), every connected or listening
 * socket ("t<id>": id, owner, counters, pump mode) whose owner came back
 * too.  What is lost, and told to the owner in daemon.restarted: per
 * socket, the bytes accepted for writing that had not reached the kernel
 * and the bytes read that had not reached the client; every request in
 * flight (each answered with -32800, data.reason "restart"); sockets that
 * were not yet connected; request bytes read but not yet dispatched; a
 * data channel's relay (the socket is back, in JSON mode).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "fdstore.h"
#include "ledger.h"
#include "log.h"
#include "proto-errors.h"
#include "proto-reader.h"
#include "recover.h"
#include "rpc.h"
#include "tcp.h"

struct recover_fd {
	int		 fd;
	char		 name[FDSTORE_NAME_MAX];
};

struct recover_slot {
	uint16_t	 kind;
	uint64_t	 id;
	union ledger_rec rec;
	bool		 used;
};

struct recover {
	struct recover_fd	*fds;
	size_t			 nfds;
	bool			 ledger;	/* a ledger was taken back */
	struct ledger_head	 head;
	struct recover_slot	*slots;
	size_t			 nslots;
	char			 bad_ledger;	/* a ledger that could not be read */
};

/* Whether name is ours: "t<digits>", "c<digits>" or "ledger". */
static bool
our_name(const char *name)
{
	if (strcmp(name, "ledger") == 0)
		return true;
	if ((name[0] != 't' && name[0] != 'c') || !name[1])
		return false;
	return strspn(name + 1, "0123456789") == strlen(name + 1) &&
	       strlen(name) < FDSTORE_NAME_MAX;
}

/* a - b, 0 when a ledger says otherwise (counters only grow). */
static uint64_t
diff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* Copies the ledger's slots into r, then empties it for this daemon. */
static void
snapshot(struct daemon *d, struct recover *r)
{
	struct ledger *l = &d->fds.ledger;

	r->head = *ledger_head(l);
	r->slots = calloc(l->nslots, sizeof(*r->slots));
	if (r->slots) {
		uint32_t n = 1, end;

		for (ledger_extent(l, n, &n, &end); n < l->nslots; ledger_extent(l, end, &n, &end))
			for (; n < end; n++) {
				struct recover_slot *s = &r->slots[r->nslots];

				if (ledger_read(l, n, &s->kind, &s->id, &s->rec))
					r->nslots++;
			}
	}
	ledger_reset(l);
	r->ledger = true;
}

/*
 * fd came from the fd store under name: 1 when it is ours (kept for
 * recover_apply; the ledger is read at once), 0 when not (the control
 * socket of a .socket unit), -ENOMEM.
 */
int
recover_take(struct daemon *d, int fd, const char *name)
{
	struct recover *r = d->recover;
	struct recover_fd *f;

	if (!our_name(name))
		return 0;
	(void) fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (!r) {
		r = d->recover = calloc(1, sizeof(*r));
		if (!r)
			return -ENOMEM;
	}
	if (strcmp(name, "ledger") == 0) {
		if (r->ledger || d->fds.ledger.base || ledger_map(&d->fds.ledger, fd) < 0) {
			log_warning("recovery: a ledger that cannot be read: dropped");
			(void) close(fd);
			r->bad_ledger = 1;
			/* Out of the store, every ledger by that name; ours goes in again. */
			d->fds.drop_ledger = true;
			d->fds.ledger_stored = false;
			return 1;
		}
		d->fds.ledger_stored = !d->fds.drop_ledger;
		snapshot(d, r);
		return 1;
	}
	f = realloc(r->fds, (r->nfds + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	r->fds = f;
	f[r->nfds].fd = fd;
	snprintf(f[r->nfds].name, sizeof(f->name), "%s", name);
	r->nfds++;
	return 1;
}

/* The ledger slot of kind and id, or NULL. */
static struct recover_slot *
find_slot(struct recover *r, uint16_t kind, uint64_t id)
{
	for (size_t i = 0; i < r->nslots; i++)
		if (r->slots[i].kind == kind && r->slots[i].id == id)
			return &r->slots[i];
	return NULL;
}

/* An fd nobody takes back: closed, and out of the store. */
static void
drop(struct daemon *d, struct recover_fd *f, const char *why)
{
	log_notice("recovery: %s dropped: %s", f->name, why);
	(void) close(f->fd);
	f->fd = -1;
	fdstore_remove(d, f->name);
}

/* The client of the c<n> fd f, as it was. */
static void
adopt_client(struct daemon *d, struct recover *r, struct recover_fd *f)
{
	uint64_t num = strtoull(f->name + 1, NULL, 10), next = d->next_client;
	struct recover_slot *s = find_slot(r, LEDGER_CLIENT, num);
	struct ctl *c;

	if (!s || num == 0 || ctl_find_num(d, num)) {
		drop(d, f, "not in the ledger");
		return;
	}
	s->used = true;
	d->next_client = num - 1;
	c = ctl_new(d, f->fd);
	d->next_client = next > num ? next : num;
	f->fd = -1;
	if (!c) {
		log_error("recovery: client %llu: out of memory", (unsigned long long)num);
		fdstore_remove(d, f->name);
		return;
	}
	if (s->rec.c.in_held > 0 && s->rec.c.in_partial) {
		/* The rest of the line that was being read has no start: skipped. */
		(void) proto_reader_feed(c->reader, "x", 1);
		(void) proto_reader_drop_partial(c->reader);
	}
}

/* The socket of the t<id> fd f, as it was, for its owner if that came back. */
static void
adopt_socket(struct daemon *d, struct recover *r, struct recover_fd *f)
{
	uint64_t id = strtoull(f->name + 1, NULL, 10);
	struct recover_slot *s = find_slot(r, LEDGER_SOCKET, id);
	const struct ledger_socket *ls;
	struct ctl *c;
	struct tcp *t;

	if (!s) {
		drop(d, f, "not in the ledger");
		return;
	}
	ls = &s->rec.s;
	c = ctl_find_num(d, ls->owner);
	if (!c) {
		s->used = true;		/* nobody to tell */
		drop(d, f, "its client did not come back");
		return;
	}
	if (ls->state != TCP_STATE_CONNECTED && ls->state != TCP_STATE_LISTENING) {
		drop(d, f, "it was closing");	/* reported lost: s stays unused */
		return;
	}
	if (ls->flags & LEDGER_UNCARRIED) {
		drop(d, f, "its TLS session died with the process");	/* reported lost */
		return;
	}
	t = tcp_adopt_fd(&d->eng, &c->own, id, f->fd, (enum tcp_state)ls->state);
	if (!t) {
		drop(d, f, strerror(errno));
		return;
	}
	f->fd = -1;
	s->used = true;
	t->bytes_written = ls->written;
	t->bytes_read = ls->read;
	t->queued = t->delivered = ls->read;	/* what was not delivered is told lost */
	t->pump_total = ls->pump_total;
	t->eof = ls->flags & LEDGER_EOF;
	t->eof_told = ls->flags & LEDGER_EOF_TOLD;
	t->shut_wr = ls->flags & LEDGER_SHUT_WR;
	if (ls->flags & LEDGER_PUMPING)
		tcp_pump_set(t, true, ls->chunk_size ? ls->chunk_size : t->chunk_size);
	fdstore_tcp_sync(t);
	tcp_update_io(t);
}

/* Answers the request of slot s (c's, in flight at the crash) with the restart error. */
static void
answer_lost(struct ctl *c, const struct ledger_request *lr)
{
	struct rpc_call call = { .ctl = c, .method = lr->method };

	call.id = malloc(lr->id_len ? lr->id_len : 1);
	if (!call.id)
		return;
	memcpy(call.id, lr->id, lr->id_len);
	call.id_len = lr->id_len;
	rpc_reply_error(&call, &(struct rpc_error){
		.code = PROTO_E_CANCELLED, .message = "the daemon restarted",
		.socket = (int64_t)lr->socket, .reason = "restart" });
	rpc_call_free(&call);
}

/* Counts what c lost on socket id in r: its requests in flight. */
static uint64_t
pending_of(struct recover *r, uint64_t client, uint64_t socket)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->nslots; i++)
		if (r->slots[i].kind == LEDGER_REQUEST && r->slots[i].id == client &&
		    r->slots[i].rec.r.socket == socket)
			n++;
	return n;
}

/* One entry of lost[]. */
static void
write_lost(struct proto_jw *w, uint64_t socket, const char *state, uint64_t unwritten,
	   uint64_t undelivered, uint64_t pending, bool channel)
{
	proto_jw_obj_begin(w);
	proto_jw_kuint(w, "socket", socket);
	proto_jw_kstr(w, "state", state);
	proto_jw_kuint(w, "unwrittenBytes", unwritten);
	proto_jw_kuint(w, "undeliveredBytes", undelivered);
	proto_jw_kuint(w, "pendingRequests", pending);
	if (channel)
		proto_jw_kbool(w, "channelLost", true);
	proto_jw_obj_end(w);
}

/* Whether id is already in ids[0..n). */
static bool
seen(const uint64_t *ids, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/*
 * Tells c what the crash took: each request in flight is answered with
 * the restart error, then one daemon.restarted lists, per socket, the
 * bytes lost each way and the requests answered so.
 */
static void
report(struct daemon *d, struct recover *r, struct ctl *c)
{
	const struct recover_slot *cs = find_slot(r, LEDGER_CLIENT, c->num);
	uint64_t lost_requests = 0, *told = NULL;
	size_t ntold = 0;
	struct proto_jw w;

	if (cs && cs->rec.c.out_partial)
		(void) proto_buf_putc(&c->out, '\n');	/* ends the line cut by the crash */
	for (size_t i = 0; i < r->nslots; i++) {
		const struct recover_slot *s = &r->slots[i];

		if (s->kind == LEDGER_REQUEST && s->id == c->num && ledger_id_ok(s->rec.r.id, s->rec.r.id_len)) {
			answer_lost(c, &s->rec.r);
			lost_requests++;
		}
	}
	told = calloc(r->nslots + 1, sizeof(*told));
	if (!rpc_notify_begin(c, &w, PROTO_N_DAEMON_RESTARTED)) {
		free(told);
		return;
	}
	proto_jw_obj_begin(&w);
	proto_jw_kuint(&w, "generation", d->generation);
	proto_jw_kstr(&w, "reason", "recovery");
	proto_jw_kstr(&w, "oldVersion", r->ledger ? r->head.version_str : "unknown");
	proto_jw_kstr(&w, "newVersion", PACKAGE_VERSION);
	proto_jw_key(&w, "lost");
	proto_jw_arr_begin(&w);
	for (size_t i = 0; i < r->nslots; i++) {
		const struct recover_slot *s = &r->slots[i];
		const struct ledger_socket *ls = &s->rec.s;
		struct tcp *t;

		if (s->kind != LEDGER_SOCKET || ls->owner != c->num)
			continue;
		t = tcp_find(&d->eng, (int64_t)s->id);
		if (told)
			told[ntold++] = s->id;
		write_lost(&w, s->id, t ? tcp_state_name(t->state) : "lost",
			   diff(ls->accepted, ls->written), diff(ls->read, ls->delivered),
			   pending_of(r, c->num, s->id), ls->flags & LEDGER_CHANNEL);
	}
	/* Sockets not yet connected (no slot) that had requests in flight. */
	for (size_t i = 0; i < r->nslots; i++) {
		const struct recover_slot *s = &r->slots[i];

		if (s->kind != LEDGER_REQUEST || s->id != c->num || s->rec.r.socket == 0 ||
		    !told || seen(told, ntold, s->rec.r.socket))
			continue;
		told[ntold++] = s->rec.r.socket;
		write_lost(&w, s->rec.r.socket, "lost", 0, 0, pending_of(r, c->num, s->rec.r.socket),
			   false);
	}
	proto_jw_arr_end(&w);
	proto_jw_kuint(&w, "lostRequests", lost_requests + (cs ? cs->rec.c.unrecorded : 0));
	proto_jw_kuint(&w, "unrecordedRequests", cs ? cs->rec.c.unrecorded : 0);
	proto_jw_kuint(&w, "lostInputBytes", cs ? cs->rec.c.in_held : 0);
	proto_jw_kbool(&w, "outputCut", cs && cs->rec.c.out_partial);
	proto_jw_obj_end(&w);
	rpc_notify_end(c, &w);
	free(told);
}

/*
 * Builds clients and sockets from what recover_take() kept, then tells
 * every client that came back what was lost.  Called once the policy is
 * in force, before new clients are accepted.
 */
void
recover_apply(struct daemon *d)
{
	struct recover *r = d->recover;
	struct timeval tv;
	size_t nc = 0, ns = 0;
	struct ctl *c;

	if (!r)
		return;
	if (r->ledger) {
		d->generation = r->head.generation + 1;
		if (r->head.next_client > d->next_client)
			d->next_client = r->head.next_client;
		if (r->head.next_socket > d->eng.next_socket)
			d->eng.next_socket = r->head.next_socket;
		snprintf(d->last_restart_from, sizeof(d->last_restart_from), "%s",
			 r->head.version_str);
	} else {
		d->generation++;
		snprintf(d->last_restart_from, sizeof(d->last_restart_from), "unknown");
	}
	gettimeofday(&tv, NULL);
	d->last_restart = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
	d->last_restart_reason = "recovery";
	d->fds.adopting = true;
	for (size_t i = 0; i < r->nfds; i++)
		if (r->fds[i].name[0] == 'c')
			adopt_client(d, r, &r->fds[i]);
	for (size_t i = 0; i < r->nfds; i++)
		if (r->fds[i].name[0] == 't')
			adopt_socket(d, r, &r->fds[i]);
	d->fds.adopting = false;
	fdstore_head_sync(d);
	for (size_t i = 0; i < r->nslots; i++) {
		nc += r->slots[i].kind == LEDGER_CLIENT && r->slots[i].used;
		ns += r->slots[i].kind == LEDGER_SOCKET && r->slots[i].used;
	}
	TAILQ_FOREACH(c, &d->ctls, link)
		report(d, r, c);
	log_event(LOG_NOTICE, &(struct log_fields){ .message_id = LOG_MID_STARTED },
		  "recovered after a crash: generation %llu, %zu clients, %zu sockets (%zu "
		  "descriptors from the fd store, ledger %s)", (unsigned long long)d->generation,
		  nc, ns, r->nfds, r->ledger ? "read" : r->bad_ledger ? "unreadable" : "missing");
	recover_free(d);
	if (d->conf.fd_store == CONF_FD_STORE_NO && d->fds.on)
		fdstore_off(d, "fd-store = no, what came back from it");
}

/* Drops what was not applied (a start that failed). */
void
recover_free(struct daemon *d)
{
	struct recover *r = d->recover;

	if (!r)
		return;
	for (size_t i = 0; i < r->nfds; i++)
		if (r->fds[i].fd >= 0)
			(void) close(r->fds[i].fd);
	free(r->fds);
	free(r->slots);
	free(r);
	d->recover = NULL;
}
