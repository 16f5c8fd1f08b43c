/*
 * sdnotify-send: notifications to NOTIFY_SOCKET that never block the loop.
 *
 * sd_notify() blocks for as long as the notify socket's queue is full (a
 * systemd that is busy, or flooded with the fd store's datagrams), and
 * the whole daemon with it.  Here the socket is non-blocking.  A
 * notification the kernel does not take at once: WATCHDOG=1 and a
 * periodic STATUS= are dropped (the next one follows; a systemd that
 * reads nothing for a whole watchdog interval restarts us, rightly); a
 * state change (READY=1, RELOADING=1, STOPPING=1, MAINPID=) waits in a
 * short FIFO and goes out in order once the socket is writable.
 * Anything sent while the FIFO is not empty waits behind it (or, if it
 * may be dropped, is).  The FIFO holds SDNOTIFY_QUEUE; past that, the
 * oldest waiting is dropped with a warning.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdstore.h"
#include "log.h"
#include "sdnotify.h"

#define SDNOTIFY_QUEUE	16

static struct {
	int		 fd;
	struct ev_loop	*loop;
	ev_io		 wio;
	char		*q[SDNOTIFY_QUEUE];
	size_t		 head, n;
} sn = { .fd = -1 };

/* Sends msg now: 0, -EAGAIN (the queue is full), or another -errno. */
static int
send_now(const char *msg)
{
	const char *ns = getenv("NOTIFY_SOCKET");

	if (sn.fd < 0) {
		if (!ns || !*ns)
			return -ENOENT;
		if ((sn.fd = fdstore_connect(ns)) < 0) {
			int r = sn.fd;

			sn.fd = -1;
			return r;
		}
	}
	for (;;) {
		if (send(sn.fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
			return 0;
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		if (errno != EINTR)
			break;
	}
	/* Gone (systemd re-executed, say): connected again next time. */
	{
		int r = -errno;

		if (sn.loop)
			ev_io_stop(sn.loop, &sn.wio);
		(void) close(sn.fd);
		sn.fd = -1;
		return r;
	}
}

/* The socket takes datagrams again: what waits goes, in order. */
static void
on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	while (sn.n) {
		char *m = sn.q[sn.head];
		int r = send_now(m);

		if (r == -EAGAIN)
			return;
		if (r < 0)
			log_debug("sd_notify: %s", strerror(-r));
		free(m);
		sn.q[sn.head] = NULL;
		sn.head = (sn.head + 1) % SDNOTIFY_QUEUE;
		sn.n--;
	}
	ev_io_stop(loop, w);
}

/* Puts msg at the end of the FIFO (taking it) and waits for the socket. */
static void
enqueue(struct daemon *d, char *msg)
{
	if (sn.n == SDNOTIFY_QUEUE) {
		log_warning("sd_notify: systemd is not reading; dropped: %.40s", sn.q[sn.head]);
		free(sn.q[sn.head]);
		sn.head = (sn.head + 1) % SDNOTIFY_QUEUE;
		sn.n--;
	}
	sn.q[(sn.head + sn.n++) % SDNOTIFY_QUEUE] = msg;
	if (!sn.loop) {
		sn.loop = d->loop;
		ev_io_init(&sn.wio, on_writable, sn.fd, EV_WRITE);
	}
	if (!ev_is_active(&sn.wio)) {
		ev_io_set(&sn.wio, sn.fd, EV_WRITE);
		ev_io_start(sn.loop, &sn.wio);
	}
}

/*
 * Sends a notification (printf format) without blocking.  may_drop: one
 * the kernel does not take at once is dropped rather than kept.
 */
void
sdnotify_send(struct daemon *d, bool may_drop, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	if (!sn.n && (r = send_now(msg)) != -EAGAIN) {
		if (r < 0 && r != -ENOENT)
			log_debug("sd_notify: %s", strerror(-r));
		free(msg);
		return;
	}
	if (may_drop || sn.fd < 0) {
		free(msg);
		return;
	}
	enqueue(d, msg);
}

/* Sends what waits, as far as the socket takes it; the rest is dropped. */
void
sdnotify_send_done(struct daemon *d)
{
	(void) d;
	if (sn.loop)
		ev_io_stop(sn.loop, &sn.wio);
	while (sn.n) {
		(void) send_now(sn.q[sn.head]);
		free(sn.q[sn.head]);
		sn.q[sn.head] = NULL;
		sn.head = (sn.head + 1) % SDNOTIFY_QUEUE;
		sn.n--;
	}
	if (sn.fd >= 0)
		(void) close(sn.fd);
	sn.fd = -1;
	sn.loop = NULL;
}
