/*
 * client-wait: what the libtisock integration tests share: dispatching a
 * client until a flag of a callback's reaches a value (with a deadline),
 * a loopback listener, and a socket connected to it.
 */
#ifndef TISOCK_TEST_CLIENT_WAIT_H
#define TISOCK_TEST_CLIENT_WAIT_H

#include <tisock/tisock.h>

/* Dispatches c until *flag reaches want, within deadline_ms; asserts it did. */
void	client_wait_flag(tisock_client *c, const int *flag, int want, int deadline_ms);
/* A loopback listener (rcvbuf > 0: its receive buffer, inherited by accepted sockets). */
int	client_listener(int *port, int rcvbuf);
/*
 * A socket of c connected through the daemon to a loopback peer, within
 * deadline_ms: returns it, with the peer's end in *pfd (the listener is
 * closed).
 */
tisock_tcp *client_connected_pair(tisock_client *c, int *pfd, int deadline_ms);

#endif
