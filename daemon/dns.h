/*
 * dns: asynchronous name resolution with c-ares, driven by the libev loop.
 *
 * dns_resolve() never blocks; its callback runs later from the loop, never
 * from inside dns_resolve().  A query can be cancelled at any time before
 * its callback, after which the callback is never called.
 */
#ifndef TISOCK_DNS_H
#define TISOCK_DNS_H

#include <sys/socket.h>

struct ev_loop;
struct dns;
struct dns_query;

#define DNS_MAX_ADDRS 256	/* addresses kept of one name (results are sized by their count) */

/* The addresses of a name, allocated by their count. */
struct dns_result {
	int			 count;
	struct sockaddr_storage	 addrs[];	/* count of them, port filled in */
};

/* status 0 on success, else the c-ares status; errname names it. */
typedef void (*dns_cb)(void *userdata, int status, const char *errname,
		       const struct dns_result *res);

struct dns		*dns_new(struct ev_loop *loop, const char *lookups, unsigned timeout_ms);
struct dns		*dns_free(struct dns *d);
struct dns_query	*dns_resolve(struct dns *d, const char *host, int port, dns_cb cb,
			     void *userdata);
void			 dns_cancel(struct dns_query *q);
const char		*dns_status_name(int status);

#endif
