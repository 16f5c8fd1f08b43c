/*
 * upgrade: live upgrade, the daemon re-executing its binary in place.
 *
 * The old process writes a state image (upgrade-save.c) into a sealed
 * memfd, starts the new binary with it and every descriptor to hand over
 * (upgrade.c), and exits only once the new process has rebuilt everything
 * from the image (upgrade-load.c) and said so; if it cannot, the old
 * process goes on serving as if nothing had happened.
 */
#ifndef TISOCK_UPGRADE_H
#define TISOCK_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct daemon;
struct rpc_call;

#define UPGRADE_FORMAT		1		/* the image's format version */
#define UPGRADE_ENV		"TISOCKD_UPGRADE"	/* "IMAGE_FD,READY_FD" for the new process */
#define UPGRADE_TIMEOUT		30.		/* seconds the new process has to be ready */
#define UPGRADE_MAINPID_WAIT	30		/* seconds the old one waits for systemd to take MAINPID= */

/* The descriptors an image hands over. */
struct upgrade_fds {
	int	*v;
	size_t	 n, cap;
	bool	 failed;	/* one could not be listed (no memory) */
};

/* upgrade.c */
void	 upgrade_init(struct daemon *d, int argc, char **argv);
void	 upgrade_done(struct daemon *d);
bool	 upgrade_child_env(void);
int	 upgrade_child_begin(struct daemon *d, char **why);
bool	 upgrade_child_pending(const struct daemon *d);
void	 upgrade_child_finish(struct daemon *d);
void	 upgrade_child_fail(struct daemon *d, int status, const char *fmt, ...)
	     __attribute__((format(printf, 3, 4), noreturn));
void	 upgrade_request(struct daemon *d, struct rpc_call *call);
double	 upgrade_wall_now(void);

/*
 * The daemon.info counters the image carries (its name, the field of
 * struct daemon_counters): every counter that counts since the first
 * start.  One list for writing and reading, so that none is left behind.
 */
#define UPGRADE_COUNTERS(X) \
	X("clientsTotal", clients_total) \
	X("socketsTotal", sockets_total) \
	X("requests", requests) \
	X("bytesRead", bytes_read) \
	X("bytesWritten", bytes_written) \
	X("protocolErrors", protocol_errors) \
	X("limitHits", limit_hits) \
	X("acceptPauses", accept_pauses) \
	X("monitorsDropped", monitors_dropped) \
	X("reloads", reloads) \
	X("policyDenials", policy_denials) \
	X("lingerResets", linger_resets) \
	X("undeliveredBytes", undelivered_bytes) \
	X("tlsHandshakes", tls_handshakes) \
	X("tlsHandshakeFailures", tls_failures) \
	X("tlsTruncated", tls_truncated)

/* upgrade-save.c */
struct cJSON *upgrade_save(struct daemon *d, struct upgrade_fds *fds, int format);

/* upgrade-load.c */
int	 upgrade_load(struct daemon *d, const struct cJSON *img, char **why);
void	 upgrade_load_start(struct daemon *d, const struct cJSON *img, int64_t pause_ms);

#endif
