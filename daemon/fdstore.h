/*
 * fdstore: systemd's file descriptor store, so that a crash followed by
 * Restart= loses no connection.
 *
 * With fd-store on (auto: when NOTIFY_SOCKET is set), every connected or
 * listening TCP socket ("t<id>"), every control connection ("c<n>"), the
 * control socket the daemon bound itself ("control") and the ledger
 * ("ledger", see ledger.h) are sent to systemd with FDSTORE=1 and removed
 * with FDSTOREREMOVE=1 just before the daemon closes them, one datagram
 * per descriptor on one socket kept connected to NOTIFY_SOCKET.  The
 * ledger is kept current with memory stores only; recover.c reads it
 * back after a crash.
 */
#ifndef TISOCK_FDSTORE_H
#define TISOCK_FDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <ev.h>

#include "ledger.h"
#include "log.h"

struct daemon;
struct ctl;
struct tcp;
struct rpc_call;

#define FDSTORE_NAME_MAX	32	/* "t18446744073709551615" and the like */

#define FDSTORE_BACKLOG		256	/* stores that may wait for systemd (fdstore-send.c) */
#define FDSTORE_DONE_WAIT	2.	/* seconds a clean stop waits for them */

struct fdstore_dgram;

struct fdstore {
	bool		 on;
	int		 sock;		/* datagram socket connected to NOTIFY_SOCKET, -1 */
	struct ledger	 ledger;
	bool		 ledger_stored;	/* already in the store (taken back after a crash) */
	bool		 adopting;	/* recovery: what comes back is in the store already */
	bool		 drop_ledger;	/* recovery found a ledger it cannot read: remove it */
	uint64_t	 pushed, removed, failed;	/* datagrams, for daemon.info and logs */
	/* Datagrams the kernel did not take at once (fdstore-send.c). */
	TAILQ_HEAD(fdstore_backlog, fdstore_dgram) backlog;
	size_t		 nbacklog, nstores;	/* waiting; of those, stores */
	uint64_t	 deferred, refused;	/* datagrams that waited; stores refused */
	ev_io		 wio;		/* the socket writable again */
	ev_timer	 retry;
	struct log_ratelimit rl_refused;
};

/* A delivery mark: socket bytes that reach the client once out_sent passes at. */
struct fdstore_mark {
	uint64_t	 at;
	uint64_t	 socket;
	uint64_t	 bytes;
};

int	 fdstore_init(struct daemon *d);
void	 fdstore_done(struct daemon *d);
void	 fdstore_off(struct daemon *d, const char *why);
void	 fdstore_head_sync(struct daemon *d);

void	 fdstore_ctl_open(struct ctl *c);
void	 fdstore_ctl_close(struct ctl *c);
void	 fdstore_ctl_sent(struct ctl *c, bool partial);
void	 fdstore_ctl_input(struct ctl *c, bool partial);
void	 fdstore_ctl_sync(struct ctl *c);

void	 fdstore_tcp_state(struct tcp *t, int from);
void	 fdstore_tcp_closing(struct tcp *t);
void	 fdstore_tcp_sync(struct tcp *t);
void	 fdstore_tcp_tls(struct tcp *t);
void	 fdstore_tcp_moved(struct tcp *t, size_t n);
void	 fdstore_tcp_queued(struct tcp *t, size_t n);

void	 fdstore_call_defer(struct rpc_call *call);
void	 fdstore_call_free(struct rpc_call *call);

/* fdstore-send.c */
int	 fdstore_connect(const char *path);
int	 fdstore_push(struct daemon *d, const char *name, int fd);
void	 fdstore_remove(struct daemon *d, const char *name);
int	 fdstore_send_drain(struct daemon *d, double limit);
void	 fdstore_send_done(struct daemon *d);

/* fdstore-upgrade.c */
struct cJSON;
int	 fdstore_upgrade_load(struct daemon *d, const struct cJSON *img, const char **why);
void	 fdstore_upgrade_start(struct daemon *d, const struct cJSON *img);

#endif
