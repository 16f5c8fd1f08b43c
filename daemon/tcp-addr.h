/*
 * tcp-addr: socket address helpers of the socket engine.  No I/O, no
 * state.
 */
#ifndef TISOCK_TCP_ADDR_H
#define TISOCK_TCP_ADDR_H

#include <stdbool.h>
#include <sys/socket.h>

socklen_t	 tcp_addr_len(const struct sockaddr_storage *ss);
void		 tcp_addr_effective(struct sockaddr_storage *ss);
bool		 tcp_addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
int		 tcp_addr_parse(const char *host, int port, struct sockaddr_storage *ss);

#endif
