/*
 * quota: see quota.h.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "daemon.h"
#include "proto-jw.h"
#include "quota.h"

static const char *const names[_QL_MAX] = {
	[QL_MAX_MESSAGE_BYTES] = "maxMessageBytes",
	[QL_CLIENT_SOCKETS] = "clientSockets",
	[QL_CLIENT_REQUESTS] = "clientRequests",
	[QL_CLIENTS] = "clients",
	[QL_SOCKETS] = "sockets",
	[QL_FDS] = "fds",
	[QL_UID_CLIENTS] = "uidClients",
	[QL_UID_SOCKETS] = "uidSockets",
	[QL_UID_REQUESTS] = "uidRequests",
	[QL_UID_PENDING_WRITE_BYTES] = "uidPendingWriteBytes",
	[QL_CLIENT_CONNECT_RATE] = "clientConnectsPerSecond",
	[QL_UID_CONNECT_RATE] = "uidConnectsPerSecond",
	[QL_CLIENT_NOTIFY] = "clientNotifyBytes",
	[QL_UID_NOTIFY] = "uidNotifyBytes",
	[QL_UID_INPUT_BYTES] = "uidInputBytes",
	[QL_INPUT_BYTES] = "inputBytes",
	[QL_CLIENT_BUDGET_BYTES] = "clientBudgetBytes",
	[QL_UID_CHANNEL_BUFFER_BYTES] = "uidChannelBufferBytes",
	[QL_CHANNEL_BUFFER_BYTES] = "channelBufferBytes",
};

const char *
quota_limit_name(enum quota_limit l)
{
	return l < _QL_MAX ? names[l] : "?";
}

void
quota_count(struct daemon *d, const char *name)
{
	d->counters.limit_hits++;
	for (int i = 0; i < _QL_MAX; i++)
		if (name && strcmp(name, names[i]) == 0) {
			d->counters.limit_hits_by[i]++;
			return;
		}
}

void
quota_count_pause(struct daemon *d, enum quota_limit l)
{
	d->counters.limit_hits_by[l]++;
}

void
quota_write_hits(struct proto_jw *w, const struct daemon *d)
{
	proto_jw_key(w, "limitHitsBy");
	proto_jw_obj_begin(w);
	for (int i = 0; i < _QL_MAX; i++)
		proto_jw_kuint(w, names[i], d->counters.limit_hits_by[i]);
	proto_jw_obj_end(w);
}

struct quota_user *
quota_user_of(struct daemon *d, uid_t uid, bool create)
{
	struct quota_user **b = &d->quota[uid % QUOTA_BUCKETS], *u;

	for (u = *b; u; u = u->next)
		if (u->uid == uid)
			return u;
	if (!create)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->uid = uid;
	TAILQ_INIT(&u->ctls);
	flow_account_init(&u->acct, NULL, d->conf.uid_notify);
	u->tokens = (double)d->conf.uid_connect_rate;
	u->at = ev_now(d->loop);
	u->next = *b;
	*b = u;
	return u;
}

static void quota_sweep(struct daemon *d);

/* c joins its uid's user (made on first use).  Without memory, c has none. */
void
quota_attach(struct ctl *c)
{
	struct quota_user *u;

	quota_sweep(c->d);
	u = quota_user_of(c->d, c->cred.uid, true);

	c->quser = u;
	c->rate_tokens = (double)c->d->conf.client_connect_rate;
	c->rate_at = ev_now(c->d->loop);
	if (!u)
		return;
	TAILQ_INSERT_TAIL(&u->ctls, c, uid_link);
	u->nctls++;
}

/* Whether u's connect bucket has filled up again by now (it then holds nothing). */
static bool
bucket_full(const struct daemon *d, const struct quota_user *u)
{
	double rate = (double)d->conf.uid_connect_rate;

	return u->tokens + (ev_now(d->loop) - u->at) * rate >= rate;
}

/*
 * Frees u once it has neither a connection nor a hold, and its connect
 * bucket is full again: a user that leaves and comes back at once finds
 * its bucket as it left it (quota_sweep() frees it later otherwise).
 */
static void
user_gone(struct daemon *d, struct quota_user *u)
{
	struct quota_user **p;

	if (u->nctls > 0 || u->holds > 0 || !bucket_full(d, u))
		return;
	for (p = &d->quota[u->uid % QUOTA_BUCKETS]; *p != u; p = &(*p)->next)
		;
	*p = u->next;
	flow_account_done(&u->acct);	/* (nothing should wait on it by now) */
	free(u);
}

/* Frees the users kept only for their connect buckets, once these are full. */
static void
quota_sweep(struct daemon *d)
{
	for (int i = 0; i < QUOTA_BUCKETS; i++)
		for (struct quota_user *u = d->quota[i], *next; u; u = next) {
			next = u->next;
			user_gone(d, u);
		}
}

/*
 * c leaves its user, which goes when it has no connection left and no
 * lingering socket counts on it any more.
 */
void
quota_detach(struct ctl *c)
{
	struct quota_user *u = c->quser;

	if (!u)
		return;
	c->quser = NULL;
	TAILQ_REMOVE(&u->ctls, c, uid_link);
	u->nctls--;
	user_gone(c->d, u);
}

void
quota_hold(struct quota_user *u)
{
	if (u)
		u->holds++;
}

void
quota_release(struct daemon *d, struct quota_user *u)
{
	if (!u)
		return;
	u->holds--;
	user_gone(d, u);
}

struct quota_user *
quota_user_of_acct(struct flow_account *a)
{
	return (struct quota_user *)((char *)a - offsetof(struct quota_user, acct));
}

/* The sum over u's connections of what `of` says of each. */
static size_t
sum(const struct quota_user *u, size_t (*of)(const struct ctl *c))
{
	const struct ctl *c;
	size_t n = 0;

	if (u)
		TAILQ_FOREACH(c, &u->ctls, uid_link)
			n += of(c);
	return n;
}

static size_t
sockets_of(const struct ctl *c)
{
	return tcp_owner_sockets(&c->own);	/* inbound TLS handshakes, raced attempts too */
}

static size_t
requests_of(const struct ctl *c)
{
	return c->ncalls;
}

/* Its connections' open sockets, and those that linger after their connection left. */
size_t
quota_uid_sockets(const struct quota_user *u)
{
	return sum(u, sockets_of) + (u ? u->lingering : 0);
}

size_t
quota_uid_requests(const struct quota_user *u)
{
	return sum(u, requests_of);
}

size_t
quota_uid_pending_write(const struct quota_user *u)
{
	return u ? u->acct.pending_write : 0;
}

size_t
quota_uid_output(const struct quota_user *u)
{
	return u ? u->acct.output : 0;
}

/* The notify limits changed (a reload): every account follows. */
void
quota_limits_changed(struct daemon *d)
{
	struct ctl *c;

	for (int i = 0; i < QUOTA_BUCKETS; i++)
		for (struct quota_user *u = d->quota[i]; u; u = u->next)
			u->acct.notify_limit = d->conf.uid_notify;
	TAILQ_FOREACH(c, &d->ctls, link)
		c->acct.notify_limit = d->conf.client_notify;
	/* Raised limits: whoever waits may have room now. */
	TAILQ_FOREACH(c, &d->ctls, link)
		flow_drained(&c->acct);
}

/* Refills a bucket of rate tokens per second, holding at most one second's worth. */
static bool
take(double *tokens, double *at, double rate, double now)
{
	*tokens += (now - *at) * rate;
	if (*tokens > rate)
		*tokens = rate;
	*at = now;
	if (*tokens < 1.)
		return false;
	*tokens -= 1.;
	return true;
}

int
quota_connect(struct ctl *c)
{
	struct daemon *d = c->d;
	double now = ev_now(d->loop);

	if (!take(&c->rate_tokens, &c->rate_at, (double)d->conf.client_connect_rate, now))
		return QL_CLIENT_CONNECT_RATE;
	if (c->quser && !take(&c->quser->tokens, &c->quser->at, (double)d->conf.uid_connect_rate,
			      now)) {
		c->rate_tokens += 1.;	/* not spent after all */
		return QL_UID_CONNECT_RATE;
	}
	return -1;
}

void
quota_done(struct daemon *d)
{
	for (int i = 0; i < QUOTA_BUCKETS; i++)
		while (d->quota[i]) {
			struct quota_user *u = d->quota[i];

			d->quota[i] = u->next;
			free(u);
		}
}
