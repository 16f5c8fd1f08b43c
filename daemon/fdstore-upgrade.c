/*
 * fdstore-upgrade: the fd store across a live upgrade.
 *
 * What systemd holds are its own duplicates of the very sockets and
 * control connections the new process inherits, so nothing is stored
 * again and nothing removed: the old process leaves with _exit(), the
 * entries stay.  The ledger goes on too: its memfd is in the state image
 * (upgrade-save.c), with each client's, socket's and request's slot.
 * Until the old process has let go the new one only maps it and checks
 * it (fdstore_upgrade_load: a ledger it cannot read refuses the upgrade);
 * then it claims the slots the image names, frees any other, and writes
 * on from there (fdstore_upgrade_start), so a crash at any point after an
 * upgrade is recovered as any other.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "daemon.h"
#include "fdstore.h"
#include "log.h"
#include "rpc.h"
#include "tcp.h"

#define UNRECORDED	UINT32_MAX	/* as fdstore.c: a call with no ledger slot */

/* The number under k in o, or def. */
static double
num(const cJSON *o, const char *k, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* c's delivery marks as the image has them (relative to its unsent output). */
static int
load_marks(struct ctl *c, const cJSON *a)
{
	size_t n = (size_t)cJSON_GetArraySize(a), i = 0;
	const cJSON *m;

	if (n == 0)
		return 0;
	c->marks = calloc(n, sizeof(*c->marks));
	if (!c->marks)
		return -1;
	cJSON_ArrayForEach(m, a)
		c->marks[i++] = (struct fdstore_mark){ .at = c->out_sent + (uint64_t)num(m, "at", 0),
			.socket = (uint64_t)num(m, "socket", 0), .bytes = (uint64_t)num(m, "bytes", 0) };
	c->nmarks = c->mark_cap = n;
	c->mark_head = 0;
	return 0;
}

/*
 * Before the old process lets go: maps the ledger the image names and
 * connects to NOTIFY_SOCKET, writing nothing; the ledger's counters of
 * each socket and client come back.  0 (also with no fd store in the
 * image), or -1 with *why set.
 */
int
fdstore_upgrade_load(struct daemon *d, const cJSON *img, const char **why)
{
	const cJSON *fs = cJSON_GetObjectItemCaseSensitive(img, "fdStore"), *x;
	const char *ns = getenv("NOTIFY_SOCKET");
	int fd, r;

	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(img, "sockets")) {
		struct tcp *t = tcp_find(&d->eng, (int64_t)num(x, "id", 0));

		if (!t)
			continue;
		t->queued = (uint64_t)num(x, "queued", 0);
		t->delivered = (uint64_t)num(x, "delivered", 0);
		t->relay_up = (size_t)num(x, "relayUp", 0);
		t->relay_down = (size_t)num(x, "relayDown", 0);
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(img, "clients")) {
		struct ctl *c = ctl_find_num(d, (uint64_t)num(x, "num", 0));

		if (c && load_marks(c, cJSON_GetObjectItemCaseSensitive(x, "marks")) < 0) {
			*why = "out of memory";
			return -1;
		}
	}
	if (!fs)
		return 0;
	fd = (int)num(fs, "ledgerFd", -1);
	if (fd < 3 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		*why = "the fd store's ledger was not inherited";
		return -1;
	}
	r = ledger_map(&d->fds.ledger, fd);
	if (r < 0) {
		*why = "the fd store's ledger cannot be read";
		return -1;
	}
	if (!ns || !*ns || (d->fds.sock = fdstore_connect(ns)) < 0) {
		d->fds.sock = -1;
		*why = "the fd store is in use but NOTIFY_SOCKET cannot be reached";
		return -1;
	}
	d->fds.ledger_stored = true;	/* stored once, by the first process */
	return 0;
}

/* Claims slot n of kind for id if the ledger agrees; returns n, or 0. */
static uint32_t
claim(struct ledger *l, uint8_t *claimed, double slot, enum ledger_kind kind, uint64_t id)
{
	uint32_t n = slot >= 1 && slot < l->nslots ? (uint32_t)slot : 0;
	struct ledger_slot *s;

	if (n == 0 || claimed[n])
		return 0;
	s = ledger_slot(l, n);
	if (s->kind != kind || s->id != id)
		return 0;
	claimed[n] = 1;
	return n;
}

/*
 * A process that had no store hands over to one that wants it: the store
 * starts now, with every client, socket and request already there.
 */
static void
store_on(struct daemon *d)
{
	struct ctl *c;
	struct tcp *t;
	struct rpc_call *call;

	if (fdstore_init(d) < 0 || !d->fds.on)
		return;
	TAILQ_FOREACH(c, &d->ctls, link) {
		fdstore_ctl_open(c);
		TAILQ_FOREACH(t, &c->own.sockets, link)
			fdstore_tcp_state(t, t->state);
		TAILQ_FOREACH(call, &c->calls, ctl_link)
			fdstore_call_defer(call);
	}
}

/*
 * The old process has let go: the slots the image names are this
 * process's now (each checked against the ledger: kind and id), the rest
 * are freed, and the store is on.  Nothing is sent to systemd.
 */
void
fdstore_upgrade_start(struct daemon *d, const cJSON *img)
{
	const cJSON *fs = cJSON_GetObjectItemCaseSensitive(img, "fdStore"), *x;
	struct ledger *l = &d->fds.ledger;
	struct rpc_call *call;
	uint8_t *claimed;
	struct ctl *c;
	struct tcp *t;
	char name[FDSTORE_NAME_MAX];

	if (!fs || !l->base) {
		if (d->conf.fd_store != CONF_FD_STORE_NO)
			store_on(d);
		return;
	}
	claimed = calloc(l->nslots, 1);
	if (!claimed) {
		log_error("fd store: out of memory taking the ledger over: off");
		fdstore_done(d);
		return;
	}
	d->fds.on = true;
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(img, "clients")) {
		c = ctl_find_num(d, (uint64_t)num(x, "num", 0));
		if (!c || num(x, "ledger", 0) == 0)
			continue;
		c->ledger = claim(l, claimed, num(x, "ledger", 0), LEDGER_CLIENT, c->num);
		if (c->ledger == 0) {
			snprintf(name, sizeof(name), "c%llu", (unsigned long long)c->num);
			log_warning("fd store: %s: its ledger slot does not match: removed", name);
			fdstore_remove(d, name);
		}
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(img, "sockets")) {
		t = tcp_find(&d->eng, (int64_t)num(x, "id", 0));
		if (!t || num(x, "ledger", 0) == 0)
			continue;
		t->ledger = claim(l, claimed, num(x, "ledger", 0), LEDGER_SOCKET, t->id);
		t->stored = t->ledger != 0;	/* only plain TCP crosses an upgrade: stored */
		if (t->ledger == 0) {
			snprintf(name, sizeof(name), "t%llu", (unsigned long long)t->id);
			log_warning("fd store: %s: its ledger slot does not match: removed", name);
			fdstore_remove(d, name);
		}
	}
	TAILQ_FOREACH(c, &d->ctls, link)
		TAILQ_FOREACH(call, &c->calls, ctl_link) {
			if (call->ledger == 0 || call->ledger == UNRECORDED)
				continue;
			if (c->ledger == 0)
				call->ledger = 0;
			else
				call->ledger = claim(l, claimed, call->ledger, LEDGER_REQUEST, c->num);
		}
	if (ledger_keep(l, claimed) < 0) {
		log_error("fd store: out of memory taking the ledger over: off");
		free(claimed);
		fdstore_off(d, "out of memory");
		return;
	}
	free(claimed);
	fdstore_head_sync(d);
	TAILQ_FOREACH(c, &d->ctls, link) {
		fdstore_ctl_sync(c);
		TAILQ_FOREACH(t, &c->own.sockets, link)
			fdstore_tcp_sync(t);
	}
	TAILQ_FOREACH(t, &d->eng.orphans, link)
		fdstore_tcp_sync(t);
	log_info("fd store: taken over from the previous process (%u ledger slots, %u free)",
		 l->nslots, l->nfree);
	if (d->conf.fd_store == CONF_FD_STORE_NO)
		fdstore_off(d, "fd-store = no now");
}
