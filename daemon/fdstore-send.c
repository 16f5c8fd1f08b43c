/*
 * fdstore-send: the datagrams to NOTIFY_SOCKET, never blocking the loop.
 *
 * The socket is non-blocking.  A datagram the kernel does not take at
 * once (systemd's queue is full: EAGAIN) waits in a FIFO backlog, sent
 * in order when the socket is writable again (EPOLLOUT) or, failing that,
 * at the next retry tick; once anything waits, everything after it waits
 * behind it, so a remove never overtakes its store.  A store waiting
 * carries its own duplicate of the descriptor.  A remove whose store is
 * still waiting cancels it: neither is sent.
 *
 * Bounds: at most FDSTORE_BACKLOG stores wait.  One more is not stored:
 * its object keeps its ledger slot, so a crash reports it lost (nothing
 * is lost silently); a warning says so.  Removes always wait (never
 * dropped, or systemd would keep a closed socket open): there are never
 * more of them than entries in the store.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "fdstore.h"
#include "log.h"

#define FDSTORE_RETRY		1.	/* seconds between tries while datagrams wait */

struct fdstore_dgram {
	TAILQ_ENTRY(fdstore_dgram) link;
	int		 fd;		/* our duplicate, for a store; -1 for a remove */
	char		 name[FDSTORE_NAME_MAX];
	char		 msg[64 + FDSTORE_NAME_MAX];
};

/*
 * Connects a non-blocking datagram socket to NOTIFY_SOCKET ("/path" or
 * "@abstract").  fd or -errno.
 */
int
fdstore_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	socklen_t sl;
	int fd;

	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sun.sun_path))
		return -EINVAL;
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sl) < 0) {
		int r = -errno;

		(void) close(fd);
		return r;
	}
	return fd;
}

/* Sends msg, with fd as SCM_RIGHTS when fd >= 0, without waiting.  0 or -errno. */
static int
send_dgram(struct fdstore *s, const char *msg, int fd)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	union {
		char		buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	align;
	} u;

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &fd, sizeof(int));
	}
	for (;;) {
		if (sendmsg(s->sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
			return 0;
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

/* Drops a waiting datagram. */
static void
dgram_free(struct fdstore *s, struct fdstore_dgram *g)
{
	TAILQ_REMOVE(&s->backlog, g, link);
	s->nbacklog--;
	if (g->fd >= 0) {
		s->nstores--;
		(void) close(g->fd);
	}
	free(g);
}

/* Nothing waits any more: the watchers stop. */
static void
backlog_idle(struct daemon *d)
{
	ev_io_stop(d->loop, &d->fds.wio);
	ev_timer_stop(d->loop, &d->fds.retry);
}

/* Drops every waiting datagram (the store is off). */
static void
backlog_clear(struct daemon *d)
{
	while (!TAILQ_EMPTY(&d->fds.backlog))
		dgram_free(&d->fds, TAILQ_FIRST(&d->fds.backlog));
	backlog_idle(d);
}

/*
 * A datagram could not be sent.  NOTIFY_SOCKET gone (nobody bound there
 * any more: no systemd to keep anything) turns the store off for good;
 * anything else costs this one object its place in the store.
 */
static void
send_failed(struct daemon *d, const char *what, const char *name, int r)
{
	d->fds.failed++;
	if (r == -ECONNREFUSED || r == -ENOENT || r == -ENOTCONN) {
		log_warning("fd store: NOTIFY_SOCKET is gone (%s): off from now on; a crash "
			    "will close every connection", strerror(-r));
		d->fds.on = false;
		backlog_clear(d);
		return;
	}
	log_warning("fd store: %s %s: %s", name, what, strerror(-r));
}

/* Sends what waits, in order, as far as the kernel takes it. */
static void
flush(struct daemon *d)
{
	struct fdstore *s = &d->fds;
	struct fdstore_dgram *g;
	int r;

	while ((g = TAILQ_FIRST(&s->backlog))) {
		r = send_dgram(s, g->msg, g->fd);
		if (r == -EAGAIN)
			return;
		if (r < 0)
			send_failed(d, g->fd >= 0 ? "not stored" : "not removed", g->name, r);
		else if (g->fd >= 0)
			s->pushed++;
		else
			s->removed++;
		if (!s->on)
			return;		/* send_failed() emptied the backlog */
		dgram_free(s, g);
	}
	backlog_idle(d);
}

/* The socket to NOTIFY_SOCKET takes datagrams again. */
static void
on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void) w;
	(void) revents;
	flush(daemon_from_loop(loop));
}

/* The retry tick, in case no EPOLLOUT comes. */
static void
on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void) w;
	(void) revents;
	flush(daemon_from_loop(loop));
}

/*
 * Puts a datagram at the end of the backlog (fd: duplicated for a store,
 * -1 for a remove).  0, or -errno when it cannot wait (a store only).
 */
static int
enqueue(struct daemon *d, const char *msg, const char *name, int fd)
{
	struct fdstore *s = &d->fds;
	struct fdstore_dgram *g;

	if (fd >= 0 && s->nstores >= FDSTORE_BACKLOG)
		return -ENOBUFS;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->fd = -1;
	if (fd >= 0 && (g->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		int r = -errno;

		free(g);
		return r;
	}
	snprintf(g->msg, sizeof(g->msg), "%s", msg);
	snprintf(g->name, sizeof(g->name), "%s", name);
	TAILQ_INSERT_TAIL(&s->backlog, g, link);
	s->nbacklog++;
	s->deferred++;
	if (g->fd >= 0)
		s->nstores++;
	if (!ev_is_active(&s->wio)) {
		ev_io_init(&s->wio, on_writable, s->sock, EV_WRITE);
		ev_io_start(d->loop, &s->wio);
		ev_timer_init(&s->retry, on_retry, FDSTORE_RETRY, FDSTORE_RETRY);
		ev_timer_start(d->loop, &s->retry);
	}
	return 0;
}

/*
 * FDSTORE=1 with fd under name: sent, or waiting in the backlog.  0, or
 * -errno when it was not sent and will not be (logged).  A store refused
 * because the backlog is full is 0 too: the object keeps its ledger
 * slot and a crash reports it lost.
 */
int
fdstore_push(struct daemon *d, const char *name, int fd)
{
	char msg[64 + FDSTORE_NAME_MAX];
	int r;

	if (d->fds.adopting)
		return 0;
	if (!d->fds.on)
		return -ENOTCONN;
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	r = TAILQ_EMPTY(&d->fds.backlog) ? send_dgram(&d->fds, msg, fd) : -EAGAIN;
	if (r == 0) {
		d->fds.pushed++;
		return 0;
	}
	if (r == -EAGAIN)
		r = enqueue(d, msg, name, fd);
	if (r == -ENOBUFS) {
		d->fds.refused++;
		if (log_ratelimit_ok(&d->fds.rl_refused, ev_now(d->loop), 10.))
			log_warning("fd store: systemd is not taking datagrams (%zu waiting): %s "
				    "not stored; a crash will report it lost (%llu so far)",
				    d->fds.nbacklog, name, (unsigned long long)d->fds.refused);
		return 0;
	}
	if (r < 0)
		send_failed(d, "not stored", name, r);
	return r;
}

/* FDSTOREREMOVE=1 for name: sent, waiting, or cancelling its store still waiting. */
void
fdstore_remove(struct daemon *d, const char *name)
{
	char msg[64 + FDSTORE_NAME_MAX];
	struct fdstore_dgram *g;
	int r;

	if (!d->fds.on)
		return;
	TAILQ_FOREACH_REVERSE(g, &d->fds.backlog, fdstore_backlog, link)
		if (g->fd >= 0 && strcmp(g->name, name) == 0) {
			dgram_free(&d->fds, g);		/* never stored: nothing to remove */
			if (TAILQ_EMPTY(&d->fds.backlog))
				backlog_idle(d);
			return;
		}
	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	r = TAILQ_EMPTY(&d->fds.backlog) ? send_dgram(&d->fds, msg, -1) : -EAGAIN;
	if (r == -EAGAIN)
		r = enqueue(d, msg, name, -1);
	if (r < 0) {
		send_failed(d, "not removed", name, r);
		return;
	}
	if (TAILQ_EMPTY(&d->fds.backlog))
		d->fds.removed++;
}

/* Monotonic seconds. */
static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Waits up to limit seconds for the backlog to go out, blocking: only
 * where the loop does not run anyway (a clean stop, a live upgrade's
 * handover).  0 when nothing waits, else -EAGAIN (what is left stays).
 */
int
fdstore_send_drain(struct daemon *d, double limit)
{
	double end = mono_now() + limit;

	while (d->fds.on && !TAILQ_EMPTY(&d->fds.backlog)) {
		struct pollfd p = { .fd = d->fds.sock, .events = POLLOUT };
		double left = end - mono_now();

		if (left <= 0)
			return -EAGAIN;
		(void) poll(&p, 1, left > 0.1 ? 100 : (int)(left * 1000.) + 1);
		flush(d);
	}
	return 0;
}

/* Drops whatever still waits (logged), and the watchers. */
void
fdstore_send_done(struct daemon *d)
{
	if (d->fds.nbacklog)
		log_warning("fd store: %zu datagrams never reached systemd", d->fds.nbacklog);
	backlog_clear(d);
}
