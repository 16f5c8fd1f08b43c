/*
 * metrics: the daemon's figures in the Prometheus text exposition format
 * (version 0.0.4), for daemon.metrics and GET /metrics.
 *
 * Most figures already live elsewhere (daemon counters, the limit hits by
 * name, every ctl and socket, the per-uid usage) and are read when the
 * text is built; what nothing else keeps is counted here: requests by
 * method, error answers by code, policy denials by rule, and the connect
 * and handshake latency histograms.  Every label has a bounded set of
 * values: the method and error tables, the socket states, the limits, at
 * most METRICS_RULES policy rules (then "other"), and the METRICS_TOP_UIDS
 * uids holding the most sockets (then "other").
 */
#ifndef TISOCK_METRICS_H
#define TISOCK_METRICS_H

#include <stdint.h>

struct daemon;
struct policy_rule;
struct proto_buf;
struct metrics;
struct metrics_http;

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define METRICS_RULES		64	/* policy rules counted by name, then "other" */
#define METRICS_TOP_UIDS	10	/* uids shown one by one, then "other" */

struct metrics	*metrics_new(void);
struct metrics	*metrics_free(struct metrics *m);

/* Monotonic seconds, for the latency figures. */
double		 metrics_now(void);
void		 metrics_count_request(struct daemon *d, int method);
void		 metrics_count_error(struct daemon *d, int code);
void		 metrics_count_denial(struct daemon *d, const struct policy_rule *r);
/* A connect succeeded: asked at t_asked, connect(2) on the address that answered at t_syn. */
void		 metrics_connected(struct daemon *d, double t_asked, double t_syn);
/* Appends the whole exposition to b.  Returns 0 or -ENOMEM. */
int		 metrics_write(struct daemon *d, struct proto_buf *b);

/* metrics-http.c: GET /metrics on [daemon] metrics-listen. */
struct metrics_http **metrics_http_slot(struct daemon *d);
int		 metrics_http_start(struct daemon *d);
struct metrics_http *metrics_http_free(struct metrics_http *h);

#endif
