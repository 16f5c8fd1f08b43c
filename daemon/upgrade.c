/*
 * upgrade: the handshake of a live upgrade, on both sides.
 *
 * The old process (daemon.upgrade, or SIGUSR2) runs the upgrade from the
 * loop, outside any request: output is flushed, the metrics listener
 * closed, the state image written (upgrade-save.c) into a memfd that is
 * then sealed (no write, no resize), and the binary the daemon was started
 * from (/proc/self/exe at start) is executed in a child with the same
 * arguments, the image's fd and a pipe named in $TISOCKD_UPGRADE, and
 * every descriptor of the image inherited (close-on-exec cleared in the
 * child only).  The old process blocks meanwhile: it reads, sends and
 * accepts nothing, so the descriptors are the new process's alone.  The
 * new process reads its config, resolves its policy, rebuilds everything
 * from the image (upgrade-load.c) and writes "R" on the pipe; only then
 * does the old process exit, with _exit(): no close, no shutdown, no
 * unlink, the kernel keeps every socket alive through the new process's
 * copies.  Anything else ("E reason" on the pipe, the pipe closed by an
 * exit or a crash, UPGRADE_TIMEOUT) kills the child and the old process
 * goes on as before, answering the request -32013 with the reason.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "daemon.h"
#include "fdstore.h"
#include "log.h"
#include "metrics.h"
#include "proto-errors.h"
#include "rpc.h"
#include "sdnotify.h"
#include "upgrade.h"

extern char **environ;

struct upgrade {
	char		**argv;		/* as started, for the new process */
	char		 exe[PATH_MAX];	/* /proc/self/exe at start */
	ev_signal	 sigusr2;
	ev_timer	 kick;		/* runs the upgrade outside any request */
	struct rpc_call	*call;		/* the daemon.upgrade waiting, NULL: SIGUSR2 */
	bool		 wanted;
	cJSON		*image;		/* the new process's, until it is ready */
};

static int child_ready_fd = -1;		/* the new process's end of the pipe */
static int child_image_fd = -1;

/* Wall clock, seconds. */
static double
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Answers the waiting daemon.upgrade with -32013 and why; logs it. */
static void
refuse(struct daemon *d, const char *why)
{
	struct upgrade *u = d->upgrade;
	struct rpc_call *call = u->call;

	log_warning("upgrade refused: %s; serving on", why);
	u->call = NULL;
	if (!call)
		return;
	rpc_reply_error(call, &(struct rpc_error){ .code = PROTO_E_UPGRADE, .reason = why });
	rpc_call_free(call);
}

/* The test hook: $TISOCKD_TEST_UPGRADE names a file whose first word says how to fail. */
static void
test_hook(char *buf, size_t len)
{
	const char *path = getenv("TISOCKD_TEST_UPGRADE");
	FILE *f;

	buf[0] = '\0';
	if (!path || !(f = fopen(path, "re")))
		return;
	if (fscanf(f, "%31s", buf) != 1)
		buf[0] = '\0';
	(void) fclose(f);
	(void) len;
}

/* The image as a sealed memfd, or -errno. */
static int
image_memfd(const char *text, size_t len)
{
	int fd = memfd_create("tisockd-upgrade-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int r = n < 0 ? -errno : -EIO;

			(void) close(fd);
			return r;
		}
		off += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 ||
	    lseek(fd, 0, SEEK_SET) < 0) {
		int r = -errno;

		(void) close(fd);
		return r;
	}
	return fd;
}

/* The environment of the new process: ours, with $TISOCKD_UPGRADE (and a test hook). */
static char **
child_env(int image_fd, int ready_fd, const char *hook)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], UPGRADE_ENV "=", sizeof(UPGRADE_ENV)) != 0 &&
		    strncmp(environ[i], "TISOCKD_TEST_UPGRADE_CHILD=", 27) != 0)
			env[k++] = environ[i];
	if (asprintf(&env[k++], UPGRADE_ENV "=%d,%d", image_fd, ready_fd) < 0)
		env[--k] = NULL;
	if (hook && asprintf(&env[k++], "TISOCKD_TEST_UPGRADE_CHILD=%s", hook) < 0)
		env[--k] = NULL;
	return env;
}

/*
 * Waits for the new process's word on fd: 0 when it is ready, else -1
 * with why filled in (the child is then killed and reaped).
 */
static int
await_child(pid_t pid, int fd, double limit, char *why, size_t whylen)
{
	double deadline = wall_now() + limit;
	char buf[256];
	size_t got = 0;
	int st;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double left = deadline - wall_now();
		ssize_t n;
		int r;

		if (left <= 0) {
			snprintf(why, whylen, "the new process was not ready within %g s", limit);
			break;
		}
		r = poll(&p, 1, (int)(left * 1000.) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			got += (size_t)n;
			buf[got] = '\0';
			if (buf[0] == 'R')
				return 0;
			if (got < sizeof(buf) - 1 && !memchr(buf, '\n', got))
				continue;
			buf[strcspn(buf, "\n")] = '\0';
			snprintf(why, whylen, "%s", buf[0] == 'E' && buf[1] == ' ' ? buf + 2 : buf);
			break;
		}
		/* EOF: it went away without a word. */
		if (waitpid(pid, &st, 0) == pid) {
			if (WIFSIGNALED(st))
				snprintf(why, whylen, "the new process was killed by signal %d",
					 WTERMSIG(st));
			else
				snprintf(why, whylen, "the new process exited with status %d",
					 WEXITSTATUS(st));
			return -1;
		}
		snprintf(why, whylen, "the new process went away");
		break;
	}
	(void) kill(pid, SIGKILL);
	(void) waitpid(pid, &st, 0);
	return -1;
}

/*
 * The new process has taken over: the sockets it could not carry (TLS,
 * tcp_transferable()) die with this process, with a reset (SO_LINGER 0)
 * rather than a FIN a TLS peer could take for an end.  Their owners hear
 * of it from the new process (tcp.closed, reason upgrade), which had
 * them in the image without their descriptors; a refused upgrade never
 * comes here and leaves them as they were.
 */
static void
reset_untransferable(struct daemon *d)
{
	static const struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	struct ctl *c;
	struct tcp *t;

	TAILQ_FOREACH(c, &d->ctls, link)
		TAILQ_FOREACH(t, &c->own.sockets, link)
			if (t->fd >= 0 && !tcp_transferable(t))
				(void) setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	TAILQ_FOREACH(t, &d->eng.orphans, link)
		if (t->fd >= 0 && !tcp_transferable(t))
			(void) setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
}

static volatile sig_atomic_t successor;	/* the new process, once it is ready */

/* MAINPID= not taken within UPGRADE_MAINPID_WAIT: exit 1 (not killed by SIGALRM). */
static void
mainpid_late(int sig)
{
	static const char msg[] = "tisockd: upgrade: systemd did not take MAINPID= in time\n";

	(void) sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

/* SIGTERM, SIGINT and SIGHUP once the new process is ready: its business. */
static void
hand_on(int sig)
{
	int e = errno;

	if (successor > 0)
		(void) kill((pid_t)successor, sig);
	errno = e;
}

/*
 * The new process is ready: the old one goes, shutting nothing down.
 * A SIGTERM, SIGINT or SIGHUP that came during the upgrade (held back,
 * see run()) or comes now is handed on to the new process; a SIGUSR2 is
 * not (the upgrade it asks for is this one).  Every descriptor is closed
 * first: the kernel keeps each socket alive through the new process's
 * copy, and nothing of them stays here.  Then MAINPID= tells systemd; a
 * notify socket that does not take it (sd_notify() blocks on a full
 * queue) holds this process at most UPGRADE_MAINPID_WAIT seconds, after
 * which it exits 1 (never killed by a signal; see tisockd(8)).
 */
static void __attribute__((noreturn))
let_go(pid_t pid)
{
	static const int fwd[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa = { .sa_handler = hand_on };
	sigset_t pend, set;

	successor = pid;
	sigemptyset(&set);
	if (sigpending(&pend) < 0)
		sigemptyset(&pend);
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++) {
		(void) sigaction(fwd[i], &sa, NULL);
		sigaddset(&set, fwd[i]);
		if (sigismember(&pend, fwd[i]))	/* delivered to hand_on() once unblocked */
			log_notice("upgrade: signal %d came during the upgrade: handed on to %d",
				   fwd[i], (int)pid);
	}
	(void) signal(SIGUSR2, SIG_IGN);	/* discards one held back */
	sa.sa_handler = mainpid_late;
	(void) sigaction(SIGALRM, &sa, NULL);
	sigaddset(&set, SIGALRM);
	(void) sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void) close_range(3, ~0U, 0);
	(void) alarm(UPGRADE_MAINPID_WAIT);
	(void) sd_notifyf(0, "MAINPID=%d", (int)pid);
	(void) sd_notify_barrier(0, 2 * 1000000ULL);	/* systemd has it before we go */
	_exit(0);
}

/* The child's environment: the entries child_env() made, and the array. */
static void
env_free(char **env)
{
	for (char **e = env; e && *e; e++)
		if (strncmp(*e, UPGRADE_ENV "=", sizeof(UPGRADE_ENV)) == 0 ||
		    strncmp(*e, "TISOCKD_TEST_UPGRADE_CHILD=", 27) == 0)
			free(*e);
	free(env);
}

/*
 * Hands everything over to a new process.  Returns only when that failed
 * (why says so); on success the process exits here.
 */
static void
run(struct daemon *d, char *why, size_t whylen)
{
	struct upgrade *u = d->upgrade;
	struct upgrade_fds fds = { 0 };
	char exe[PATH_MAX], hook[32], *text = NULL, **env = NULL, *dl;
	int image_fd = -1, p[2] = { -1, -1 };
	struct metrics_http **mh;
	sigset_t hold, mask;
	cJSON *img;
	pid_t pid;

	if (d->stopping || !d->serving || d->policy_load || d->reload_conf) {
		snprintf(why, whylen, "the daemon is starting, reloading its config or stopping");
		return;
	}
	/*
	 * SIGTERM, SIGINT, SIGHUP and SIGUSR2 are held back until the outcome
	 * is known: the old process's if it serves on, handed on (let_go())
	 * if the new one takes over.  Never lost, never applied twice.
	 */
	test_hook(hook, sizeof(hook));
	if (strcmp(hook, "selfterm") == 0)
		(void) raise(SIGTERM);	/* test hook: one that came just before, unread */
	sigemptyset(&hold);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGINT);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGUSR2);
	(void) sigprocmask(SIG_BLOCK, &hold, &mask);
	snprintf(exe, sizeof(exe), "%s", u->exe);
	dl = strstr(exe, " (deleted)");
	if (dl && dl[10] == '\0')
		*dl = '\0';	/* replaced on disk: the new file at the same path */
	if (getenv("TISOCKD_TEST_UPGRADE_EXE"))
		snprintf(exe, sizeof(exe), "%s", getenv("TISOCKD_TEST_UPGRADE_EXE"));
	if (access(exe, X_OK) < 0) {
		snprintf(why, whylen, "%.200s: %s", exe, strerror(errno));
		goto out;
	}
	daemon_sweep(d);	/* output out as far as the clients take it */
	if (fdstore_send_drain(d, FDSTORE_DONE_WAIT) < 0) {
		/* They would die with this process: systemd's store would be wrong. */
		snprintf(why, whylen, "systemd is not taking the fd store's datagrams (%zu waiting)",
			 d->fds.nbacklog);
		goto out;
	}
	img = upgrade_save(d, &fds, strcmp(hook, "format") == 0 ? 999 : UPGRADE_FORMAT);
	if (img && strcmp(hook, "badfd") == 0) {
		/* Test hook: an image naming one descriptor for everything. */
		cJSON *x, *lfd = cJSON_GetObjectItemCaseSensitive(img, "listenFd");

		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(img, "sockets"))
			if (cJSON_IsNumber(lfd) && cJSON_IsNumber(cJSON_GetObjectItem(x, "fd")) &&
			    cJSON_GetObjectItem(x, "fd")->valuedouble >= 0)
				cJSON_SetNumberValue(cJSON_GetObjectItem(x, "fd"), lfd->valuedouble);
	}
	if (img)
		text = cJSON_PrintUnformatted(img);
	cJSON_Delete(img);
	if (!text || fds.failed) {
		snprintf(why, whylen, "out of memory writing the state image");
		goto out;
	}
	image_fd = image_memfd(text, strlen(text));
	if (image_fd < 0) {
		snprintf(why, whylen, "state image: %s", strerror(-image_fd));
		goto out;
	}
	if (pipe2(p, O_CLOEXEC) < 0 ||
	    !(env = child_env(image_fd, p[1], strcmp(hook, "exit") == 0 ||
			      strcmp(hook, "crash") == 0 || strcmp(hook, "hang") == 0 ||
			      strcmp(hook, "term") == 0 ?
			      hook : NULL))) {
		snprintf(why, whylen, "%s", strerror(errno ? errno : ENOMEM));
		goto out;
	}
	mh = metrics_http_slot(d);
	if (mh && *mh)
		*mh = metrics_http_free(*mh);	/* the new process binds it again */
	log_notice("upgrade: starting %s with %zu descriptors", exe, fds.n);
	pid = fork();
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		(void) sigprocmask(SIG_SETMASK, &none, NULL);
		for (size_t i = 0; i < fds.n; i++)
			(void) fcntl(fds.v[i], F_SETFD, 0);
		(void) fcntl(image_fd, F_SETFD, 0);
		(void) fcntl(p[1], F_SETFD, 0);
		execve(exe, u->argv, env);
		{
			static const char msg[] = "E cannot execute the new binary\n";

			if (write(p[1], msg, sizeof(msg) - 1) < 0)
				_exit(127);	/* the old process sees the pipe closed */
		}
		_exit(127);
	}
	(void) close(p[1]);
	p[1] = -1;
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
	} else if (await_child(pid, p[0], strcmp(hook, "hang") == 0 ? 2. : UPGRADE_TIMEOUT,
			       why, whylen) == 0) {
		reset_untransferable(d);
		env_free(env);		/* nothing of this process's is lost at exit */
		free(text);
		free(fds.v);
		let_go(pid);
	}
	if (mh && !*mh)
		(void) metrics_http_start(d);
out:
	env_free(env);
	(void) sigprocmask(SIG_SETMASK, &mask, NULL);
	if (p[0] >= 0)
		(void) close(p[0]);
	if (p[1] >= 0)
		(void) close(p[1]);
	if (image_fd >= 0)
		(void) close(image_fd);
	free(text);
	free(fds.v);
}

static void
on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = daemon_from_loop(loop);
	char why[300] = "";

	d->upgrade->wanted = false;
	run(d, why, sizeof(why));
	refuse(d, why[0] ? why : "failed");
}

/* Asks for an upgrade (call: the daemon.upgrade to answer, deferred; NULL: SIGUSR2). */
void
upgrade_request(struct daemon *d, struct rpc_call *call)
{
	struct upgrade *u = d->upgrade;

	if (u->wanted) {
		if (call) {
			rpc_reply_error(call, &(struct rpc_error){ .code = PROTO_E_UPGRADE,
				.reason = "an upgrade is already under way" });
			rpc_call_free(call);
		}
		return;
	}
	u->wanted = true;
	u->call = call;
	ev_timer_set(&u->kick, 0., 0.);
	ev_timer_start(d->loop, &u->kick);
}

static void
on_sigusr2(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_notice("SIGUSR2: upgrading");
	upgrade_request(daemon_from_loop(loop), NULL);
}

/* Sets up upgrades: SIGUSR2, and what the new binary is started with. */
void
upgrade_init(struct daemon *d, int argc, char **argv)
{
	struct upgrade *u = calloc(1, sizeof(*u));
	ssize_t n;

	if (!u)
		return;
	(void) argc;
	u->argv = argv;
	n = readlink("/proc/self/exe", u->exe, sizeof(u->exe) - 1);
	u->exe[n > 0 ? n : 0] = '\0';
	ev_timer_init(&u->kick, on_kick, 0., 0.);
	ev_signal_init(&u->sigusr2, on_sigusr2, SIGUSR2);
	ev_set_priority(&u->sigusr2, EV_MAXPRI);
	ev_signal_start(d->loop, &u->sigusr2);
	ev_unref(d->loop);
	d->upgrade = u;
}

void
upgrade_done(struct daemon *d)
{
	struct upgrade *u = d->upgrade;

	if (!u)
		return;
	ev_ref(d->loop);
	ev_signal_stop(d->loop, &u->sigusr2);
	ev_timer_stop(d->loop, &u->kick);
	cJSON_Delete(u->image);
	free(u);
	d->upgrade = NULL;
}

/*
 * The new process: tells the old one why it gives up, and exits (never
 * through the daemon's cleanup: the sockets and the control socket's
 * path are the old process's still).
 */
void
upgrade_child_fail(struct daemon *d, int status, const char *fmt, ...)
{
	char buf[300];
	va_list ap;
	int n;

	(void) d;
	va_start(ap, fmt);
	n = vsnprintf(buf + 2, sizeof(buf) - 3, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(buf) - 4)
		n = (int)sizeof(buf) - 4;
	log_error("upgrade: %s", buf + 2);
	buf[0] = 'E';
	buf[1] = ' ';
	buf[2 + n] = '\n';
	if (child_ready_fd >= 0 && write(child_ready_fd, buf, (size_t)n + 3) < 0)
		_exit(status);	/* the old process sees the pipe closed: refused all the same */
	_exit(status);
}

/*
 * Started by an upgrade ($TISOCKD_UPGRADE set): takes the image and the
 * pipe named there (the variable is removed).  Returns true when so.
 */
bool
upgrade_child_env(void)
{
	const char *env = getenv(UPGRADE_ENV), *hook = getenv("TISOCKD_TEST_UPGRADE_CHILD");

	if (!env)
		return false;
	if (sscanf(env, "%d,%d", &child_image_fd, &child_ready_fd) != 2) {
		child_image_fd = child_ready_fd = -1;
		return false;
	}
	(void) fcntl(child_image_fd, F_SETFD, FD_CLOEXEC);
	(void) fcntl(child_ready_fd, F_SETFD, FD_CLOEXEC);
	(void) unsetenv(UPGRADE_ENV);
	if (hook && strcmp(hook, "exit") == 0)
		_exit(1);	/* a binary that does not start (test hook) */
	return true;
}

/*
 * Reads and checks the image (sealed, its format this binary's).  0, or
 * -1 with *why set (static).
 */
int
upgrade_child_begin(struct daemon *d, char **why)
{
	struct stat st;
	char *text;
	cJSON *img, *f;
	int seals;

	seals = fcntl(child_image_fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_WRITE) || fstat(child_image_fd, &st) < 0 ||
	    st.st_size <= 0) {
		*why = "the state image is not a sealed memfd";
		return -1;
	}
	text = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, child_image_fd, 0);
	if (text == MAP_FAILED) {
		*why = "cannot map the state image";
		return -1;
	}
	img = cJSON_ParseWithLength(text, (size_t)st.st_size);
	(void) munmap(text, (size_t)st.st_size);
	(void) close(child_image_fd);
	child_image_fd = -1;
	if (!img) {
		*why = "the state image does not parse";
		return -1;
	}
	f = cJSON_GetObjectItemCaseSensitive(img, "format");
	if (!cJSON_IsNumber(f) || f->valuedouble != UPGRADE_FORMAT) {
		static char buf[96];

		snprintf(buf, sizeof(buf), "state image format %g, this binary reads format %d",
			 cJSON_IsNumber(f) ? f->valuedouble : -1., UPGRADE_FORMAT);
		*why = buf;
		cJSON_Delete(img);
		return -1;
	}
	d->upgrade->image = img;
	return 0;
}

/* Whether the new process still has an image to take (once its policy is in force). */
bool
upgrade_child_pending(const struct daemon *d)
{
	return d->upgrade && d->upgrade->image;
}

/*
 * The policy is in force: everything is rebuilt from the image, the old
 * process is told, and then (only then) the sockets move again.
 */
void
upgrade_child_finish(struct daemon *d)
{
	struct upgrade *u = d->upgrade;
	const char *hook = getenv("TISOCKD_TEST_UPGRADE_CHILD");
	cJSON *at;
	char *why = NULL;
	const char *fwhy = NULL;
	int64_t pause_ms;

	if (upgrade_load(d, u->image, &why) < 0)
		upgrade_child_fail(d, 1, "%s", why ? why : "cannot rebuild the state");
	if (fdstore_upgrade_load(d, u->image, &fwhy) < 0)
		upgrade_child_fail(d, 1, "%s", fwhy);
	if (hook && strcmp(hook, "crash") == 0)
		abort();	/* test hook: a crash before it is ready */
	while (hook && strcmp(hook, "hang") == 0)
		pause();	/* test hook: never ready (killed by the old process) */
	if (hook && strcmp(hook, "term") == 0)
		(void) kill(getppid(), SIGTERM);	/* test hook: a SIGTERM during the upgrade */
	if (write(child_ready_fd, "R\n", 2) != 2)
		upgrade_child_fail(d, 1, "the old process is gone");
	(void) close(child_ready_fd);
	child_ready_fd = -1;
	at = cJSON_GetObjectItemCaseSensitive(u->image, "at");
	pause_ms = cJSON_IsNumber(at) ? (int64_t)((wall_now() - at->valuedouble) * 1000.) : 0;
	fdstore_upgrade_start(d, u->image);	/* the ledger is ours now */
	upgrade_load_start(d, u->image, pause_ms);
	cJSON_Delete(u->image);
	u->image = NULL;
	sdnotify_send(d, false, "MAINPID=%d", (int)getpid());
	log_notice("upgrade: generation %llu running, %lld ms after the request",
		   (unsigned long long)d->generation, (long long)pause_ms);
}

/* Wall clock now (for the image), seconds. */
double
upgrade_wall_now(void)
{
	return wall_now();
}
