/*
 * recover: after a crash, the descriptors systemd kept in its fd store
 * (LISTEN_FDS, named) and the ledger a predecessor left are made into
 * clients and sockets again, with the same numbers, ids and owners, and
 * each client is told exactly what was lost (daemon.restarted).
 */
#ifndef TISOCK_RECOVER_H
#define TISOCK_RECOVER_H

struct daemon;

int	 recover_take(struct daemon *d, int fd, const char *name);
void	 recover_apply(struct daemon *d);
void	 recover_free(struct daemon *d);

#endif
