/*
 * daemon: the control socket, accepting clients, the per-iteration flush
 * and graveyard sweep, signals and shutdown.
 *
 * Output is written once per loop iteration: every ctl with queued output
 * is on d->flush, and the prepare watcher (before the loop blocks) and the
 * check watcher (after it wakes, so callbacks of one iteration share one
 * flush) write them out and free what died.
 *
 * Clients are accepted only once a complete policy is in force: the
 * control socket is opened first (clients wait in its backlog), then the
 * policy's host names are resolved (policy-load.c), and only then does
 * the daemon accept and report READY=1.  A deny rule whose name does not
 * resolve stops the start with exit status 1.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "dns.h"
#include "fdstore.h"
#include "metrics.h"
#include "proto-idmap.h"
#include "quota.h"
#include "recover.h"
#include "policy.h"
#include "policy-load.h"
#include "sdnotify.h"
#include "proto-errors.h"
#include "tcp.h"
#include "tcp-tls.h"
#include "upgrade.h"

#define DAEMON_DEFAULT_SOCKET	"/run/tisockd/tisockd.sock"
#define DAEMON_ACCEPTS_PER_WAKEUP 64

#define DAEMON_TRIM_DELAY	1.0	/* seconds from a free to giving memory back */

/*
 * Clients and sockets were freed: a second later (frees come in bursts
 * when load goes away), the heap's free memory goes back to the system,
 * so the daemon's RSS follows its work down as well as up.
 */
static void
on_trim(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void) malloc_trim(0);
}

/* Processes input, writes output and frees the graveyard (once per loop iteration). */
void
daemon_sweep(struct daemon *d)
{
	struct ctl *c;
	bool freed = false;

	tcp_engine_flush(&d->eng);	/* none is left marked before the loop blocks */
	while ((c = TAILQ_FIRST(&d->flush))) {
		TAILQ_REMOVE(&d->flush, c, flush_link);
		c->in_flush = false;
		if (c->flags & CTL_BATCH_OVER)
			rpc_batches_over_budget(c);
		if (c->flags & CTL_PROCESS)
			ctl_process(c);
		if (!(c->flags & CTL_DEAD))
			ctl_flush(c);
	}
	while ((c = TAILQ_FIRST(&d->dead_ctls))) {
		TAILQ_REMOVE(&d->dead_ctls, c, link);
		ctl_free(c);
		freed = true;
	}
	if (tcp_engine_reap(&d->eng))
		freed = true;
	if (freed && !ev_is_active(&d->trim_timer) && !d->stopping)
		ev_timer_start(d->loop, &d->trim_timer);
	if (d->stopping && TAILQ_EMPTY(&d->ctls) && TAILQ_EMPTY(&d->eng.orphans))
		ev_break(d->loop, EVBREAK_ALL);
}

static void
on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	daemon_sweep(daemon_from_loop(loop));
}

/*
 * After the poll, at the lowest priority: control connections have been
 * served; now sockets with bytes to move take their turns (one pass),
 * then everything goes out.
 */
static void
on_check(struct ev_loop *loop, ev_check *w, int revents)
{
	struct daemon *d = daemon_from_loop(loop);

	flow_pass(&d->flow);
	daemon_sweep(d);
	busypoll_after_poll(&d->busypoll, d->conf.busy_poll_us, flow_busy(&d->flow));
}

/* Refuses a client over the clients (or uidClients) limit with one error line. */
static void
refuse_client(struct daemon *d, int fd, const char *limit, uint64_t value)
{
	char line[256];
	int n = snprintf(line, sizeof(line),
			 "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":%d,"
			 "\"message\":\"too many clients\",\"data\":{\"limit\":\"%s\","
			 "\"value\":%llu}}}\n", PROTO_E_LIMIT, limit, (unsigned long long)value);

	struct ucred cred;
	socklen_t len = sizeof(cred);
	bool known = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;

	(void) send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void) close(fd);
	quota_count(d, limit);
	if (log_ratelimit_ok(&d->rl_limit, ev_now(d->loop), 10.))
		log_event(LOG_WARNING, &(struct log_fields){ .message_id = LOG_MID_LIMIT_HIT,
			  .limit = limit, .client = known, .client_uid = known ? cred.uid : 0,
			  .client_pid = known ? cred.pid : 0 },
			  "refusing client: limit %s (%llu) reached", limit, (unsigned long long)value);
}

/* Whether the peer of fd has as many connections as its uid may. */
static bool
uid_full(struct daemon *d, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	const struct quota_user *u;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	u = quota_user_of(d, cred.uid, false);
	return u && u->nctls >= d->conf.uid_clients;
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *d = daemon_from_loop(loop);

	for (int i = 0; i < DAEMON_ACCEPTS_PER_WAKEUP; i++) {
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				if (log_ratelimit_ok(&d->rl_accept, ev_now(loop), 10.))
					log_event(LOG_WARNING, &(struct log_fields){
						  .message_id = LOG_MID_ACCEPT_PAUSED },
						  "accept: %m, pausing");
				d->accept_paused = true;
				ev_io_stop(loop, &d->accept_io);
				daemon_accept_pause(d);
				return;
			}
			if (log_ratelimit_ok(&d->rl_accept, ev_now(loop), 10.))
				log_error("accept: %m, ignoring");
			return;
		}
		if (d->nctls >= d->conf.clients) {
			refuse_client(d, fd, "clients", d->conf.clients);
			continue;
		}
		if (uid_full(d, fd)) {
			refuse_client(d, fd, "uidClients", d->conf.uid_clients);
			continue;
		}
		if (!ctl_new(d, fd))
			log_error("accept: out of memory, client dropped");
	}
}

/* Retries accepting everywhere after a pause for fds. */
static void
resume_accepts(struct daemon *d)
{
	ev_timer_stop(d->loop, &d->accept_retry);
	if (d->accept_paused && !d->stopping) {
		d->accept_paused = false;
		ev_io_start(d->loop, &d->accept_io);
	}
	tcp_engine_resume_accepts(&d->eng);
}

static void
on_accept_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	resume_accepts(daemon_from_loop(loop));
}

/* Something could not be accepted for lack of fds: retry in a second. */
void
daemon_accept_pause(struct daemon *d)
{
	d->counters.accept_pauses++;
	if (!ev_is_active(&d->accept_retry)) {
		ev_timer_set(&d->accept_retry, DAEMON_ACCEPT_RETRY, 0.);
		ev_timer_start(d->loop, &d->accept_retry);
	}
}

/* An fd was closed: paused accepts may proceed now. */
void
daemon_fd_freed(struct daemon *d)
{
	if (d->accept_paused || !TAILQ_EMPTY(&d->eng.paused))
		resume_accepts(d);
}

static void
on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = daemon_from_loop(loop);
	struct ctl *c, *next;

	if (d->stopping)
		return;
	log_info("signal %d: stopping", w->signum);
	sdnotify_stopping(d);
	d->stopping = true;
	d->policy_load = policy_load_cancel(d->policy_load);
	ev_io_stop(loop, &d->accept_io);
	ev_timer_stop(loop, &d->accept_retry);
	for (c = TAILQ_FIRST(&d->ctls); c; c = next) {
		next = TAILQ_NEXT(c, link);
		ctl_stop(c);
	}
}

/* Sets up d on loop with d->conf already filled in.  Returns 0 or -errno. */
int
daemon_init(struct daemon *d, struct ev_loop *loop)
{
	d->loop = loop;
	d->listen_fd = -1;
	d->hup_fd = -1;
	d->uid = getuid();
	d->generation = 1;
	d->fds.sock = -1;
	d->fds.ledger.fd = -1;
	TAILQ_INIT(&d->fds.backlog);
	d->started = ev_now(loop);
	TAILQ_INIT(&d->ctls);
	TAILQ_INIT(&d->flush);
	TAILQ_INIT(&d->dead_ctls);
	tcp_engine_init(&d->eng);
	TAILQ_INIT(&d->monitors);
	ev_set_userdata(loop, d);
	d->eng.sockets = proto_idmap_new();
	d->scratch = malloc(DAEMON_SCRATCH);
	d->metrics = metrics_new();
	if (!d->eng.sockets || !d->scratch || !d->metrics)
		return -ENOMEM;
	d->dns = dns_new(loop, d->conf.resolver_lookups, (unsigned)d->conf.resolver_timeout_ms);
	if (!d->dns)
		return -EIO;
	rpc_events_init(d);
	d->hup_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->hup_fd < 0)
		return -errno;
	ev_io_init(&d->hup_io, ctl_on_hup, d->hup_fd, EV_READ);
	ev_io_start(loop, &d->hup_io);
	ev_unref(loop);	/* nor does the hang-up watch */
	ev_prepare_init(&d->prepare, on_prepare);
	ev_prepare_start(loop, &d->prepare);
	flow_init(&d->flow, loop);
	ev_check_init(&d->check, on_check);
	ev_set_priority(&d->check, EV_MINPRI);
	ev_check_start(loop, &d->check);
	busypoll_init(&d->busypoll, loop);
	ev_timer_init(&d->accept_retry, on_accept_retry, DAEMON_ACCEPT_RETRY, 0.);
	ev_timer_init(&d->trim_timer, on_trim, DAEMON_TRIM_DELAY, 0.);
	ev_signal_init(&d->sigterm, on_stop_signal, SIGTERM);
	ev_signal_init(&d->sigint, on_stop_signal, SIGINT);
	/* Before any request read in the same pass: one may start an upgrade. */
	ev_set_priority(&d->sigterm, EV_MAXPRI);
	ev_set_priority(&d->sigint, EV_MAXPRI);
	ev_signal_start(loop, &d->sigterm);
	ev_signal_start(loop, &d->sigint);
	ev_unref(loop);	/* signal watchers do not keep the loop alive */
	ev_unref(loop);
	return 0;
}

/* The control socket path: --socket/config, $TISOCKD_SOCKET, $XDG_RUNTIME_DIR, /run. */
static char *
resolve_path(const struct conf *cf)
{
	const char *env = getenv("TISOCKD_SOCKET"), *xdg = getenv("XDG_RUNTIME_DIR");
	char *p = NULL;

	if (cf->socket_path)
		return strdup(cf->socket_path);
	if (env && *env)
		return strdup(env);
	if (xdg && *xdg) {
		if (asprintf(&p, "%s/tisockd.sock", xdg) < 0)
			return NULL;
		return p;
	}
	return strdup(DAEMON_DEFAULT_SOCKET);
}

/*
 * Removes a socket file left by a daemon that died; refuses (-EADDRINUSE)
 * when something still accepts on it.
 */
static int
clear_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, r;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	(void) close(fd);
	if (r == 0)
		return -EADDRINUSE;
	if (errno != ECONNREFUSED)
		return -errno;
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return -errno;
	log_info("removed stale socket %s", sun->sun_path);
	return 0;
}

/*
 * Creates the socket's directory when missing: 0750, in the socket's
 * group (socket-group) so that its members can reach the socket inside.
 * An existing directory is left as it is.
 */
static int
make_parent(const char *path, long group)
{
	char *copy = strdup(path), *dir;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (mkdir(dir, 0750) < 0) {
		if (errno != EEXIST)
			r = -errno;
	} else if (group >= 0 && chown(dir, (uid_t)-1, (gid_t)group) < 0) {
		r = -errno;
		(void) rmdir(dir);
	}
	free(copy);
	return r;
}

/* Whether the control socket path still names the socket we bound. */
static bool
still_ours(const struct daemon *d)
{
	struct stat st;

	return lstat(d->socket_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       st.st_dev == d->socket_dev && st.st_ino == d->socket_ino;
}

/*
 * Sorts the descriptors systemd passed (LISTEN_FDS, LISTEN_FDNAMES): the
 * fd store's ("t<id>", "c<n>", "ledger") go to recovery; the one left, if
 * any, is the control socket of a .socket unit (*ctl_fd, else -1).
 * Returns 0 or -errno (logged).
 */
static int
take_listen_fds(struct daemon *d, int *ctl_fd)
{
	char **names = NULL;
	int n, r = 0;

	*ctl_fd = -1;
	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		log_error("LISTEN_FDS: %s", strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i, k;

		k = r < 0 ? -1 : recover_take(d, fd, names && names[i] ? names[i] : "unknown");
		if (k < 0 && r == 0) {
			log_error("recovery: out of memory");
			r = k;
		}
		if (k != 0)
			continue;
		if (*ctl_fd >= 0) {
			log_error("socket activation passed more than one control socket (%s)",
				  names && names[i] ? names[i] : "unknown");
			r = -EINVAL;
			continue;
		}
		*ctl_fd = fd;
	}
	if (r < 0 && *ctl_fd >= 0) {
		(void) close(*ctl_fd);
		*ctl_fd = -1;
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/*
 * Opens the control socket: the one systemd passed, or our own at the
 * resolved path (mode 0660).  Returns 0 or -errno (logged).
 */
int
daemon_listen(struct daemon *d)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	bool bound;
	int fd, r;
	mode_t old;

	r = take_listen_fds(d, &fd);
	if (r < 0)
		return r;
	r = fdstore_init(d);
	if (r < 0)
		return r;
	if (fd >= 0) {
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			log_error("socket activation: fd %d is not a listening AF_UNIX stream socket",
				  fd);
			return -EINVAL;
		}
		(void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		(void) fcntl(fd, F_SETFD, FD_CLOEXEC);
		d->socket_path = strdup("(socket activation)");
		d->socket_owned = false;
	} else {
		d->socket_path = resolve_path(&d->conf);
		if (!d->socket_path)
			return -ENOMEM;
		if (strlen(d->socket_path) >= sizeof(sun.sun_path)) {
			log_error("socket path too long: %s", d->socket_path);
			return -ENAMETOOLONG;
		}
		strcpy(sun.sun_path, d->socket_path);
		r = make_parent(d->socket_path, d->conf.socket_group);
		if (r < 0) {
			log_error("cannot create the directory of %s: %s", d->socket_path,
				  strerror(-r));
			return r;
		}
		r = clear_stale(&sun);
		if (r < 0) {
			if (r == -EADDRINUSE)
				log_error("%s: another daemon is listening there", d->socket_path);
			else
				log_error("%s: cannot replace it: %s", d->socket_path, strerror(-r));
			return r;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		old = umask(0117);
		r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
		umask(old);
		bound = r == 0;
		if (bound) {
			struct stat st;

			if (lstat(d->socket_path, &st) == 0) {
				d->socket_dev = st.st_dev;
				d->socket_ino = st.st_ino;
			}
		}
		/* Mode 0660: the daemon's user and group (socket-group) only. */
		if (r == 0 && d->conf.socket_group >= 0 &&
		    chown(d->socket_path, (uid_t)-1, (gid_t)d->conf.socket_group) < 0) {
			log_error("%s: socket-group %ld: %m", d->socket_path, d->conf.socket_group);
			r = -1;
		}
		if (r < 0 || listen(fd, SOMAXCONN) < 0) {
			r = -errno;
			log_error("%s: %s", d->socket_path, strerror(-r));
			if (bound)
				(void) unlink(d->socket_path);	/* ours: no half-made socket left */
			(void) close(fd);
			return r;
		}
		d->socket_owned = true;
	}
	d->listen_fd = fd;
	ev_io_init(&d->accept_io, on_accept, fd, EV_READ);
	ev_set_priority(&d->accept_io, EV_MAXPRI);
	if (d->serving)
		ev_io_start(d->loop, &d->accept_io);
	return 0;
}

/*
 * The control socket handed over by a live upgrade (upgrade-load.c):
 * accepted on once the policy is in force, as daemon_listen()'s.
 */
void
daemon_adopt_listen(struct daemon *d, int fd)
{
	d->listen_fd = fd;
	if (fd < 0)
		return;
	ev_io_init(&d->accept_io, on_accept, fd, EV_READ);
	ev_set_priority(&d->accept_io, EV_MAXPRI);
}

/* How long the host names of a policy may take to resolve, in seconds. */
double
daemon_policy_timeout(const struct conf *c)
{
	return 2. * (double)c->resolver_timeout_ms / 1000.;	/* the resolver's two tries */
}

/* The start's policy is complete (r 0) or is not (r < 0: exit 1). */
static void
on_policy_loaded(void *userdata, int r)
{
	struct daemon *d = userdata;

	d->policy_load = NULL;
	if (r < 0 && upgrade_child_pending(d))
		upgrade_child_fail(d, 1, "the policy's host names did not resolve");
	if (r >= 0 && upgrade_child_pending(d))
		upgrade_child_finish(d);	/* everything taken over: then ready */
	if (r < 0) {
		log_error("policy: not starting: a deny rule's host name did not resolve");
		sdnotify_failed(d, "policy host names did not resolve", -r);
		d->exit_status = 1;
		ev_break(d->loop, EVBREAK_ALL);
		return;
	}
	d->serving = true;
	d->policy_gen++;
	recover_apply(d);
	if (d->listen_fd >= 0)
		ev_io_start(d->loop, &d->accept_io);
	sdnotify_ready(d);
	if (d->reload_wanted) {
		d->reload_wanted = false;
		(void) sdnotify_reload(d);
	}
}

/*
 * Resolves the policy's host names, then accepts clients and reports
 * READY=1; runs until stopped.  Returns the exit status: 0, or 1 when the
 * policy could not be completed.
 */
int
daemon_run(struct daemon *d)
{
	sdnotify_start(d);
	d->policy_load = policy_load_start(d->loop, d->dns, d->conf.policy,
					   daemon_policy_timeout(&d->conf), on_policy_loaded, d);
	if (!d->policy_load) {
		log_error("policy: out of memory");
		return 1;
	}
	ev_run(d->loop, 0);
	return d->exit_status;
}

/* Releases everything d owns. */
void
daemon_done(struct daemon *d)
{
	struct ctl *c;
	struct tcp *t;

	while ((c = TAILQ_FIRST(&d->ctls)))
		ctl_close(c, "exiting");
	while ((t = TAILQ_FIRST(&d->eng.orphans)))
		tcp_forget(t);
	daemon_sweep(d);
	if (d->listen_fd >= 0) {
		ev_io_stop(d->loop, &d->accept_io);
		(void) close(d->listen_fd);
		/* Not if another daemon has bound the path since (or it was removed). */
		if (d->socket_owned && still_ours(d))
			(void) unlink(d->socket_path);
		else if (d->socket_owned)
			log_notice("%s is no longer our socket: left in place", d->socket_path);
	}
	ev_timer_stop(d->loop, &d->accept_retry);
	ev_timer_stop(d->loop, &d->trim_timer);
	ev_prepare_stop(d->loop, &d->prepare);
	ev_check_stop(d->loop, &d->check);
	busypoll_stop(&d->busypoll);
	flow_done(&d->flow);
	ev_ref(d->loop);
	ev_ref(d->loop);
	ev_ref(d->loop);
	ev_io_stop(d->loop, &d->hup_io);
	if (d->hup_fd >= 0)
		(void) close(d->hup_fd);
	/*
	 * Stopping a signal watcher unblocks its signal (signalfd): one that
	 * came after the last read would then take its default action and
	 * end the process before the fd store is emptied.  Exiting anyway:
	 * from here they are ignored.
	 */
	(void) signal(SIGTERM, SIG_IGN);
	(void) signal(SIGINT, SIG_IGN);
	(void) signal(SIGHUP, SIG_IGN);
	(void) signal(SIGUSR2, SIG_IGN);
	ev_signal_stop(d->loop, &d->sigterm);
	ev_signal_stop(d->loop, &d->sigint);
	sdnotify_done(d);
	upgrade_done(d);
	d->policy_load = policy_load_cancel(d->policy_load);	/* before the policies it fills */
	if (d->reload_conf) {
		conf_done(d->reload_conf);
		free(d->reload_conf);
		d->reload_conf = NULL;
	}
	d->conf.policy = policy_free(d->conf.policy);
	d->dns = dns_free(d->dns);
	d->eng.sockets = proto_idmap_free(d->eng.sockets);
	tcp_tls_engine_done(&d->eng);
	d->metrics = metrics_free(d->metrics);	/* closes GET /metrics too */
	fdstore_done(d);
	recover_free(d);
	free(d->scratch);
	proto_buf_free(&d->monitor_buf);
	quota_done(d);
	free(d->socket_path);
	conf_done(&d->conf);
}

uint64_t
daemon_uptime_ms(struct daemon *d)
{
	ev_now_update(d->loop);
	return (uint64_t)((ev_now(d->loop) - d->started) * 1000.);
}
