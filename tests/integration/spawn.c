/*
 * spawn: start and stop a real tisockd for integration tests; see spawn.h.
 */
#include "config.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

long long
spawn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int
spawn_start(struct spawned *sp, const char *bin, const char *config, long nofile)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char conf[96], notify[96], buf[256];
	int nfd;
	FILE *f;

	memset(sp, 0, sizeof(*sp));
	snprintf(sp->dir, sizeof(sp->dir), "/tmp/tisock-test-XXXXXX");
	if (!mkdtemp(sp->dir))
		return -1;
	snprintf(conf, sizeof(conf), "%s/tisockd.conf", sp->dir);
	snprintf(notify, sizeof(notify), "%s/notify", sp->dir);
	snprintf(sp->socket, sizeof(sp->socket), "%s/sock", sp->dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fputs(config ? config : "", f);
	/* NOTIFY_SOCKET below is for READY=1 only, not systemd's fd store. */
	if (!config || !strstr(config, "fd-store"))
		fputs("\n[daemon]\nfd-store = no\n", f);
	fclose(f);
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", notify);
	if (nfd < 0 || bind(nfd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -1;
	sp->pid = fork();
	if (sp->pid == 0) {
		const char *wrap = getenv("TISOCK_DAEMON_WRAPPER");
		char cmd[1024];

		setenv("NOTIFY_SOCKET", notify, 1);
		if (wrap && *wrap) {
			/* A wrapper such as valgrind needs its own fds: no lowered limit. */
			snprintf(cmd, sizeof(cmd), "exec %s %s --foreground --socket %s --config %s "
				 "--log-level warning", wrap, bin, sp->socket, conf);
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
			_exit(127);
		}
		if (nofile > 0) {
			struct rlimit rl = { (rlim_t)nofile, (rlim_t)nofile };

			setrlimit(RLIMIT_NOFILE, &rl);
		}
		execl(bin, bin, "--foreground", "--socket", sp->socket, "--config", conf,
		      "--log-level", "warning", (char *)NULL);
		_exit(127);
	}
	for (long long end = spawn_now_ms() + 30000; spawn_now_ms() < end;) {
		struct pollfd p = { .fd = nfd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 1000) <= 0)
			continue;
		n = recv(nfd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			if (strstr(buf, "READY=1")) {
				close(nfd);
				return 0;
			}
		}
	}
	close(nfd);
	return -1;
}

int
spawn_stop(struct spawned *sp)
{
	char cmd[128];
	int status = -1;

	if (sp->pid <= 0)
		return -1;
	kill(sp->pid, SIGTERM);
	for (long long end = spawn_now_ms() + 30000; spawn_now_ms() < end;) {
		if (waitpid(sp->pid, &status, WNOHANG) == sp->pid)
			break;
		poll(NULL, 0, 20);
		status = -1;
	}
	if (status == -1)
		kill(sp->pid, SIGKILL);
	sp->pid = -1;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", sp->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", sp->dir);
	return status;
}

static int passes, failures;

void
check(int ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("%s ", ok ? "ok" : "FAIL");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (ok)
		passes++;
	else
		failures++;
}

int
check_summary(void)
{
	printf("%d passed, %d failed\n", passes, failures);
	return failures ? 1 : 0;
}

int
spawn_ctl_open(const struct spawned *sp)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sp->socket);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void
spawn_send_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, s, n);

		if (k <= 0)
			return;
		s += k;
		n -= (size_t)k;
	}
}

const char *
spawn_line(int fd, int timeout_ms)
{
	static char buf[1 << 16];
	size_t have = 0;

	while (have < sizeof(buf) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, timeout_ms) <= 0 || read(fd, buf + have, 1) != 1)
			break;
		if (buf[have] == '\n')
			break;
		have++;
	}
	buf[have] = '\0';
	return buf;
}

const char *
spawn_ask(int fd, int id, const char *method, const char *params)
{
	char req[512], want[32];
	const char *a;

	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":%s}\n",
		 id, method, params ? params : "{}");
	snprintf(want, sizeof(want), "\"id\":%d,", id);
	spawn_send_all(fd, req, strlen(req));
	do
		a = spawn_line(fd, SPAWN_DEADLINE_MS);
	while (*a && !strstr(a, want));
	return a;
}

long
spawn_status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = atol(line + strlen(key));
	fclose(f);
	return v;
}

/*
 * valgrind (a wrapper) and AddressSanitizer (this build: the daemon is
 * built the same way) inflate the daemon's RSS far past its own use.
 */
bool
spawn_rss_is_inflated(void)
{
	const char *w = getenv("TISOCK_DAEMON_WRAPPER");

#if defined(__SANITIZE_ADDRESS__)
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return true;
#endif
#endif
	return w && *w;
}

struct spawned spawn_group;
const char *spawn_bin = "daemon/tisockd";

int
spawn_group_setup(void **state)
{
	(void)state;
	return spawn_start(&spawn_group, spawn_bin, "[daemon]\nresolver-lookups = f\n", 0);
}

int
spawn_group_teardown(void **state)
{
	int status = spawn_stop(&spawn_group);

	(void)state;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * CPU seconds the (single-threaded) process pid has run so far, from
 * /proc/PID/schedstat (nanoseconds; /proc/PID/stat counts clock ticks,
 * too coarse for one run).  -1 when unknown.
 */
double
spawn_cpu_s(pid_t pid)
{
	char path[64];
	unsigned long long ns;
	FILE *f;
	int k;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	k = fscanf(f, "%llu", &ns);
	fclose(f);
	return k == 1 ? (double)ns / 1e9 : -1;
}

/* The number of open descriptors of pid, or -1 (gone). */
int
spawn_count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *dp;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dp = opendir(path);
	if (!dp)
		return -1;
	while ((e = readdir(dp)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dp);
	return n;
}

long long
spawn_info_field(int fd, const char *obj, const char *key)
{
	const char *a = spawn_ask(fd, 900, "daemon.info", NULL), *p;
	char k[64];

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(a, obj);
	p = p ? strstr(p, k) : NULL;
	return p ? atoll(p + strlen(k)) : -1;
}
