/*
 * metrics: counting what nothing else counts, and writing the exposition;
 * see metrics.h.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "metrics.h"
#include "policy.h"
#include "proto-errors.h"
#include "proto-methods.h"
#include "quota.h"
#include "tcp.h"

/* Latency buckets, seconds: loopback connects land in the first ones. */
static const double bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30,
};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))
#define METRICS_ERRORS	32	/* room for the error table */

struct metrics_hist {
	uint64_t	 le[NBOUNDS];	/* observations <= bounds[i], not cumulated */
	uint64_t	 count;
	double		 sum;		/* seconds */
};

struct metrics_rule {
	char		*text;		/* owned copy: rules change on reload */
	int		 line;		/* in [policy], 0: a default */
	uint64_t	 n;
};

struct metrics {
	uint64_t		 requests[_PROTO_M_MAX];	/* dispatched, by method */
	uint64_t		 errors[METRICS_ERRORS];	/* by proto_errors[] index */
	uint64_t		 errors_other;
	struct metrics_rule	 rules[METRICS_RULES];	/* denials by rule */
	size_t			 nrules;
	uint64_t		 rules_other;
	struct metrics_hist	 connect;	/* tcp.connect to connected */
	struct metrics_hist	 handshake;	/* connect(2) to connected */
	struct metrics_http	*http;		/* GET /metrics, when configured */
};

struct metrics *
metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

/* Frees m and closes its HTTP listener.  Accepts NULL; returns NULL. */
struct metrics *
metrics_free(struct metrics *m)
{
	if (!m)
		return NULL;
	m->http = metrics_http_free(m->http);
	for (size_t i = 0; i < m->nrules; i++)
		free(m->rules[i].text);
	free(m);
	return NULL;
}

struct metrics_http **
metrics_http_slot(struct daemon *d)
{
	return d->metrics ? &d->metrics->http : NULL;
}

double
metrics_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
metrics_count_request(struct daemon *d, int method)
{
	if (d->metrics && method >= 0 && method < _PROTO_M_MAX)
		d->metrics->requests[method]++;
}

void
metrics_count_error(struct daemon *d, int code)
{
	if (!d->metrics)
		return;
	for (unsigned i = 0; i < proto_errors_count && i < METRICS_ERRORS; i++)
		if (proto_errors[i].code == code) {
			d->metrics->errors[i]++;
			return;
		}
	d->metrics->errors_other++;
}

/* A denial by r: counted under r's text (the first METRICS_RULES seen, then "other"). */
void
metrics_count_denial(struct daemon *d, const struct policy_rule *r)
{
	struct metrics *m = d->metrics;
	const char *text = policy_rule_text(r);
	int line = policy_rule_line(r);

	if (!m)
		return;
	for (size_t i = 0; i < m->nrules; i++)
		if (m->rules[i].line == line && strcmp(m->rules[i].text, text) == 0) {
			m->rules[i].n++;
			return;
		}
	if (m->nrules < METRICS_RULES && (m->rules[m->nrules].text = strdup(text))) {
		m->rules[m->nrules].line = line;
		m->rules[m->nrules++].n = 1;
		return;
	}
	m->rules_other++;
}

static void
observe(struct metrics_hist *h, double secs)
{
	if (secs < 0)
		secs = 0;
	h->count++;
	h->sum += secs;
	for (size_t i = 0; i < NBOUNDS; i++)
		if (secs <= bounds[i]) {
			h->le[i]++;
			return;
		}
}

void
metrics_connected(struct daemon *d, double t_asked, double t_syn)
{
	double now = metrics_now();

	if (!d->metrics)
		return;
	if (t_asked > 0)
		observe(&d->metrics->connect, now - t_asked);
	if (t_syn > 0)
		observe(&d->metrics->handshake, now - t_syn);
}

/* ---- the exposition ---------------------------------------------------- */

struct out {
	struct proto_buf	*b;
	int			 error;	/* -ENOMEM once anything failed */
};

static void __attribute__((format(printf, 2, 3)))
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->error)
		return;
	for (int tries = 0; tries < 2; tries++) {
		size_t room;

		if (proto_buf_reserve(o->b, tries ? 0 : 256) < 0) {
			o->error = -ENOMEM;
			return;
		}
		room = o->b->cap - o->b->len;
		va_start(ap, fmt);
		n = vsnprintf(proto_buf_tail(o->b), room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->error = -EINVAL;
			return;
		}
		if ((size_t)n < room) {
			o->b->len += (size_t)n;
			return;
		}
		if (proto_buf_reserve(o->b, (size_t)n + 1) < 0) {
			o->error = -ENOMEM;
			return;
		}
	}
}

/* A label value: backslash, double quote and newline escaped. */
static void
put_label(struct out *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			put(o, "\\\\");
		else if (*v == '"')
			put(o, "\\\"");
		else if (*v == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *v);
	}
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
one(struct out *o, const char *name, const char *type, const char *help, uint64_t v)
{
	family(o, name, type, help);
	put(o, "%s %" PRIu64 "\n", name, v);
}

static void
histogram(struct out *o, const char *name, const char *help, const struct metrics_hist *h)
{
	uint64_t cum = 0;

	family(o, name, "histogram", help);
	for (size_t i = 0; i < NBOUNDS; i++) {
		cum += h->le[i];
		put(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i], cum);
	}
	put(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
	put(o, "%s_sum %.9f\n", name, h->sum);
	put(o, "%s_count %" PRIu64 "\n", name, h->count);
}

/* Sockets by state: every ctl's open and closed ones, and the lingering. */
static void
write_sockets(struct out *o, struct daemon *d)
{
	uint64_t by[_TCP_STATE_MAX] = { 0 };
	const struct ctl *c;
	const struct tcp *t;

	TAILQ_FOREACH(c, &d->ctls, link) {
		TAILQ_FOREACH(t, &c->own.sockets, link)
			by[t->state]++;
		TAILQ_FOREACH(t, &c->own.closed, link)
			by[t->state]++;
	}
	TAILQ_FOREACH(t, &d->eng.orphans, link)
		by[t->state]++;
	family(o, "tisock_sockets", "gauge", "Sockets known to the daemon, by state (closing: "
	       "flushing after a close or a client's departure; closed ones are kept a while "
	       "for tcp.info).");
	for (int s = 0; s < _TCP_STATE_MAX; s++)
		put(o, "tisock_sockets{state=\"%s\"} %" PRIu64 "\n", tcp_state_name(s), by[s]);
}

struct uid_row {
	uid_t		 uid;
	uint64_t	 clients, sockets, requests, pending, output, input;
};

static int
by_sockets(const void *a, const void *b)
{
	const struct uid_row *x = a, *y = b;

	if (x->sockets != y->sockets)
		return x->sockets < y->sockets ? 1 : -1;
	if (x->clients != y->clients)
		return x->clients < y->clients ? 1 : -1;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* One per-uid gauge family over rows[0..n) (the last one may be "other"). */
static void
uid_family(struct out *o, const char *name, const char *help, const struct uid_row *rows,
	   size_t n, bool other, size_t field)
{
	family(o, name, "gauge", help);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = *(const uint64_t *)((const char *)&rows[i] + field);

		if (other && i == n - 1)
			put(o, "%s{uid=\"other\"} %" PRIu64 "\n", name, v);
		else
			put(o, "%s{uid=\"%lu\"} %" PRIu64 "\n", name, (unsigned long)rows[i].uid, v);
	}
}

/* What each uid holds now: the METRICS_TOP_UIDS with the most sockets, then "other". */
static void
write_uids(struct out *o, struct daemon *d)
{
	struct uid_row *rows;
	size_t n = 0, cap = 0, shown;
	bool other;

	for (int i = 0; i < QUOTA_BUCKETS; i++)
		for (const struct quota_user *u = d->quota[i]; u; u = u->next)
			cap++;
	rows = calloc(cap + 1, sizeof(*rows));
	if (!rows) {
		o->error = -ENOMEM;
		return;
	}
	for (int i = 0; i < QUOTA_BUCKETS; i++)
		for (const struct quota_user *u = d->quota[i]; u; u = u->next)
			rows[n++] = (struct uid_row){ .uid = u->uid, .clients = u->nctls,
				.sockets = quota_uid_sockets(u), .requests = quota_uid_requests(u),
				.pending = quota_uid_pending_write(u), .output = quota_uid_output(u),
				.input = u->input_bytes };
	qsort(rows, n, sizeof(*rows), by_sockets);
	other = n > METRICS_TOP_UIDS;
	shown = other ? METRICS_TOP_UIDS + 1 : n;
	for (size_t i = METRICS_TOP_UIDS + 1; other && i < n; i++) {
		struct uid_row *r = &rows[METRICS_TOP_UIDS];

		r->clients += rows[i].clients;
		r->sockets += rows[i].sockets;
		r->requests += rows[i].requests;
		r->pending += rows[i].pending;
		r->output += rows[i].output;
		r->input += rows[i].input;
	}
	one(o, "tisock_uids", "gauge", "Users (peer uids) with a control connection now.", n);
#define UF(name, f, help) uid_family(o, name, help, rows, shown, other, offsetof(struct uid_row, f))
	UF("tisock_uid_clients", clients, "Control connections per uid (the uids with the most "
	   "sockets, then uid=\"other\" for the rest together).");
	UF("tisock_uid_sockets", sockets, "Sockets not closed, per uid.");
	UF("tisock_uid_requests", requests, "Requests in flight, per uid.");
	UF("tisock_uid_pending_write_bytes", pending, "Bytes accepted for writing and not yet "
	   "sent, per uid.");
	UF("tisock_uid_queued_output_bytes", output, "Answers and notifications queued for the "
	   "uid's connections, bytes.");
	UF("tisock_uid_input_bytes", input, "Unfinished request lines held, per uid, bytes.");
#undef UF
	free(rows);
}

static void
write_requests_and_errors(struct out *o, const struct metrics *m)
{
	family(o, "tisock_requests_total", "counter", "Requests dispatched, by method (an "
	       "unknown method is counted by tisock_errors_total code -32601).");
	for (int i = 0; i < _PROTO_M_MAX; i++)
		if (!(proto_methods[i].flags & PROTO_M_NOTIFICATION))
			put(o, "tisock_requests_total{method=\"%s\"} %" PRIu64 "\n",
			    proto_methods[i].name, m->requests[i]);
	family(o, "tisock_errors_total", "counter", "Error answers, by JSON-RPC error code.");
	for (unsigned i = 0; i < proto_errors_count && i < METRICS_ERRORS; i++)
		put(o, "tisock_errors_total{code=\"%d\",name=\"%s\"} %" PRIu64 "\n",
		    proto_errors[i].code, proto_errors[i].name, m->errors[i]);
	if (m->errors_other)
		put(o, "tisock_errors_total{code=\"other\",name=\"other\"} %" PRIu64 "\n",
		    m->errors_other);
}

static void
write_policy(struct out *o, const struct metrics *m)
{
	family(o, "tisock_policy_denials_total", "counter", "Connects, listens and accepts "
	       "refused by the policy, by the rule that decided (line 0: a built-in default).");
	for (size_t i = 0; i < m->nrules; i++) {
		put(o, "tisock_policy_denials_total{rule=\"");
		put_label(o, m->rules[i].text);
		put(o, "\",line=\"%d\"} %" PRIu64 "\n", m->rules[i].line, m->rules[i].n);
	}
	if (m->rules_other)
		put(o, "tisock_policy_denials_total{rule=\"other\",line=\"\"} %" PRIu64 "\n",
		    m->rules_other);
}

/* Appends the exposition of d to b.  Returns 0 or -ENOMEM (b then holds a part). */
int
metrics_write(struct daemon *d, struct proto_buf *b)
{
	const struct daemon_counters *k = &d->counters;
	static const struct metrics none;
	const struct metrics *m = d->metrics ? d->metrics : &none;
	struct out o = { .b = b };
	struct timespec rt;

	clock_gettime(CLOCK_REALTIME, &rt);
	family(&o, "tisock_info", "gauge", "The daemon's version and protocol version.");
	put(&o, "tisock_info{version=\"%s\",protocol=\"%d\"} 1\n", PACKAGE_VERSION, PROTO_VERSION);
	family(&o, "tisock_start_time_seconds", "gauge", "When the daemon started, seconds "
	       "since the Unix epoch.");
	put(&o, "tisock_start_time_seconds %.3f\n", (double)rt.tv_sec + (double)rt.tv_nsec / 1e9
	    - (double)daemon_uptime_ms(d) / 1000.);
	one(&o, "tisock_clients_connected", "gauge", "Control connections open now.", d->nctls);
	one(&o, "tisock_clients_total", "counter", "Control connections accepted.",
	    k->clients_total);
	one(&o, "tisock_sockets_open", "gauge", "TCP sockets holding a file descriptor now.",
	    d->eng.nsockets);
	write_sockets(&o, d);
	one(&o, "tisock_sockets_created_total", "counter", "TCP sockets created or accepted.",
	    k->sockets_total);
	family(&o, "tisock_bytes_total", "counter", "Bytes moved between the daemon and TCP "
	       "peers: received from them, sent to them.");
	put(&o, "tisock_bytes_total{direction=\"received\"} %" PRIu64 "\n", k->bytes_read);
	put(&o, "tisock_bytes_total{direction=\"sent\"} %" PRIu64 "\n", k->bytes_written);
	write_requests_and_errors(&o, m);
	one(&o, "tisock_protocol_errors_total", "counter", "Lines that were no valid JSON-RPC "
	    "request (-32700, -32600).", k->protocol_errors);
	family(&o, "tisock_limit_hits_total", "counter", "Limit hits by limit: requests "
	       "refused with -32005 and clients turned away; for clientNotifyBytes and "
	       "uidNotifyBytes, the times sockets waited for output room.");
	for (int i = 0; i < _QL_MAX; i++)
		put(&o, "tisock_limit_hits_total{limit=\"%s\"} %" PRIu64 "\n",
		    quota_limit_name((enum quota_limit)i), k->limit_hits_by[i]);
	write_policy(&o, m);
	histogram(&o, "tisock_connect_duration_seconds", "Successful tcp.connect, from the "
		  "request to the connection being up: name resolution, policy checks and every "
		  "address tried.", &m->connect);
	histogram(&o, "tisock_tcp_handshake_duration_seconds", "Successful tcp.connect, from "
		  "connect(2) on the address that answered to the connection being up: the TCP "
		  "handshake alone (tisock has no TLS, so there is no other handshake).",
		  &m->handshake);
	one(&o, "tisock_accept_pauses_total", "counter", "Pauses of accepting for lack of file "
	    "descriptors (EMFILE, ENFILE).", k->accept_pauses);
	one(&o, "tisock_monitors", "gauge", "Connections subscribed to daemon.monitor.",
	    d->nmonitors);
	one(&o, "tisock_monitors_dropped_total", "counter", "Monitors disconnected for falling "
	    "behind.", k->monitors_dropped);
	one(&o, "tisock_reloads_total", "counter", "Configuration reloads (SIGHUP) that "
	    "applied.", k->reloads);
	one(&o, "tisock_input_bytes", "gauge", "Unfinished request lines held, all clients, "
	    "bytes.", d->input_bytes);
	write_uids(&o, d);
	return o.error;
}
