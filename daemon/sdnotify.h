/*
 * sdnotify: the daemon as a systemd service.  READY=1 with a STATUS=
 * line once the control socket accepts, which is once the policy is
 * complete (its host names resolved); STATUS= kept current (clients,
 * sockets, bytes), WATCHDOG=1 from the loop at half of WATCHDOG_USEC (so
 * a stalled loop misses it), and SIGHUP: RELOADING=1, the config file
 * read again and, once its policy is complete, applied in one step to
 * everything that can change while running, then READY=1.  Without
 * NOTIFY_SOCKET the notifications cost nothing; SIGHUP still reloads.
 * Nothing here blocks the loop on a systemd that does not read
 * (sdnotify-send.c).
 */
#ifndef TISOCK_SDNOTIFY_H
#define TISOCK_SDNOTIFY_H

#include "daemon.h"

#define SDNOTIFY_STATUS_EVERY	2.0	/* seconds between STATUS= checks */

void	sdnotify_start(struct daemon *d);
void	sdnotify_ready(struct daemon *d);
void	sdnotify_failed(struct daemon *d, const char *why, int err);
void	sdnotify_stopping(struct daemon *d);
void	sdnotify_done(struct daemon *d);
int	sdnotify_reload(struct daemon *d);

/* sdnotify-send.c */
void	sdnotify_send(struct daemon *d, bool may_drop, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	sdnotify_send_done(struct daemon *d);

#endif
