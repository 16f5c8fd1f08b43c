/*
 * tcp-open: what the engine's connect (tcp-connect.c) and listen
 * (tcp-listen.c) share: how an open fails, and a listen's name
 * resolution, which runs in a connect context (struct tcp_connect).
 * Private to the engine.
 */
#ifndef TISOCK_TCP_OPEN_H
#define TISOCK_TCP_OPEN_H

#include <sys/socket.h>

#include "policy.h"
#include "tcp.h"

#define TCP_DEFAULT_HOST "127.0.0.1"

/* The connect or listen failed with e (or errno -r): socket closed, state error, op failed. */
void	tcp_open_failed(struct tcp *t, const struct tcp_error *e, int r);
/* The connect or listen was refused by policy rule r (as action) for address ss. */
void	tcp_open_refused(struct tcp *t, const struct policy_rule *r, enum policy_action action,
			 const struct sockaddr_storage *ss);
/*
 * Resolves host for a listen on t: done gets the first address, a
 * failure fails the listen (-32010).  Returns 0, or -ENOMEM.
 */
int	tcp_open_resolve(struct tcp *t, const char *host, int port,
			 void (*done)(struct tcp *t, const struct sockaddr_storage *ss));

#endif
