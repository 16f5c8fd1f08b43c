/*
 * policy-load: see policy-load.h.
 *
 * One query per host= item (a name in several rules is asked for again;
 * the hosts file and the resolver's cache make that cheap), all started
 * at once.  The load ends when the last answer arrives or when its timer
 * fires; a policy without names ends on the next loop iteration, through
 * the same timer, so the callback never runs inside policy_load_start().
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "dns.h"
#include "log.h"
#include "policy.h"
#include "policy-load.h"

struct policy_load_item {
	struct policy_load	*l;		/* parent */
	size_t			 index;		/* host item in the policy */
	struct dns_query	*q;		/* NULL once answered */
};

struct policy_load {
	struct ev_loop		*loop;
	struct policy		*p;		/* not owned */
	ev_timer		 timer;		/* the bound, or 0 s with nothing to ask */
	double			 timeout;	/* seconds */
	struct policy_load_item	*items;		/* one per host item */
	size_t			 n, pending;
	unsigned		 failed;	/* names of deny rules that did not resolve */
	policy_load_cb		 cb;
	void			*userdata;
};

/* Frees l; its queries, if any are left, will not call back. */
static void
load_free(struct policy_load *l)
{
	for (size_t i = 0; i < l->n; i++)
		dns_cancel(l->items[i].q);
	ev_timer_stop(l->loop, &l->timer);
	free(l->items);
	free(l);
}

/* Logs that name i did not resolve (why) and counts it if its rule denies. */
static void
host_failed(struct policy_load *l, size_t i, const char *why)
{
	bool deny = false;
	int line = 0;
	const char *name = policy_host_name(l->p, i, &line, &deny);

	if (deny) {
		l->failed++;
		log_error("policy: rule %d: host %s does not resolve (%s); a deny rule needs "
			  "its addresses", line, name, why);
	} else {
		log_warning("policy: rule %d: host %s does not resolve (%s); this allow rule "
			    "matches it by name only", line, name, why);
	}
}

/* Calls back with the outcome and frees l. */
static void
finish(struct policy_load *l)
{
	policy_load_cb cb = l->cb;
	void *userdata = l->userdata;
	int r = l->failed ? -EHOSTUNREACH : 0;

	load_free(l);
	cb(userdata, r);
}

static void
on_resolved(void *userdata, int status, const char *errname, const struct dns_result *res)
{
	struct policy_load_item *it = userdata;
	struct policy_load *l = it->l;

	it->q = NULL;
	l->pending--;
	if (status != 0) {
		host_failed(l, it->index, errname);
	} else if (res->count >= DNS_MAX_ADDRS) {
		/* Perhaps more than the resolver keeps: a deny rule must not miss one. */
		host_failed(l, it->index, "it has as many addresses as the resolver keeps (256), "
			    "or more; list them with dest=");
	} else if (policy_host_set(l->p, it->index, res->addrs, res->count) < 0) {
		host_failed(l, it->index, "out of memory");
	} else {
		log_debug("policy: host %s: %d addresses",
			  policy_host_name(l->p, it->index, NULL, NULL), res->count);
	}
	if (l->pending == 0)
		finish(l);
}

static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct policy_load *l = (struct policy_load *)((char *)w -
						       offsetof(struct policy_load, timer));
	char why[64];

	snprintf(why, sizeof(why), "no answer within %.0f ms", l->timeout * 1000.);
	for (size_t i = 0; i < l->n; i++) {
		if (!l->items[i].q)
			continue;
		dns_cancel(l->items[i].q);
		l->items[i].q = NULL;
		host_failed(l, l->items[i].index, why);
	}
	finish(l);
}

/*
 * Starts resolving every host name of p (not owned; it must outlive the
 * load) on dns, all within timeout seconds.  cb gets the outcome later.
 * Returns the load (until cb, or policy_load_cancel), or NULL on OOM.
 */
struct policy_load *
policy_load_start(struct ev_loop *loop, struct dns *dns, struct policy *p, double timeout,
		  policy_load_cb cb, void *userdata)
{
	struct policy_load *l = calloc(1, sizeof(*l));
	size_t n = policy_host_count(p);

	if (!l)
		return NULL;
	*l = (struct policy_load){ .loop = loop, .p = p, .timeout = timeout, .cb = cb,
				   .userdata = userdata };
	ev_timer_init(&l->timer, on_timer, n ? timeout : 0., 0.);
	if (n) {
		l->items = calloc(n, sizeof(*l->items));
		if (!l->items) {
			free(l);
			return NULL;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct policy_load_item *it = &l->items[l->n++];

		it->l = l;
		it->index = i;
		it->q = dns_resolve(dns, policy_host_name(p, i, NULL, NULL), 0, on_resolved, it);
		if (!it->q) {
			load_free(l);
			return NULL;
		}
		l->pending++;
	}
	ev_timer_start(loop, &l->timer);
	return l;
}

/* Stops the load l (NULL is fine); its callback will not be called.  Returns NULL. */
struct policy_load *
policy_load_cancel(struct policy_load *l)
{
	if (l)
		load_free(l);
	return NULL;
}
