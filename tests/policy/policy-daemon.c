/*
 * policy-daemon: a daemon, its control socket and loopback peers for the
 * C policy tests; see policy-daemon.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy-daemon.h"
#include "spawn.h"

int
pd_init(struct pd *d, const char *config)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(d, 0, sizeof(*d));
	d->pid = -1;
	d->afd = -1;
	snprintf(d->dir, sizeof(d->dir), "/tmp/tisock-policy-XXXXXX");
	if (!mkdtemp(d->dir))
		return -1;
	snprintf(d->conf, sizeof(d->conf), "%s/tisockd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
	snprintf(d->sock, sizeof(d->sock), "%s/sock", d->dir);
	snprintf(d->notify, sizeof(d->notify), "%s/notify", d->dir);
	pd_write_conf(d, config);
	d->nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", d->notify);
	if (d->nfd < 0 || bind(d->nfd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -1;
	return 0;
}

void
pd_write_conf(struct pd *d, const char *config)
{
	char tmp[128];
	FILE *f;

	/* Whole or not at all: a SIGHUP never reads half a file. */
	snprintf(tmp, sizeof(tmp), "%s.new", d->conf);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fputs(config, f);
	fclose(f);
	rename(tmp, d->conf);
}

int
pd_activation_socket(struct pd *d)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", d->sock);
	d->afd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (d->afd < 0 || bind(d->afd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(d->afd, 64) < 0)
		return -1;
	return 0;
}

int
pd_spawn(struct pd *d)
{
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		const char *wrap = getenv("TISOCK_DAEMON_WRAPPER");
		const char *bin = getenv("TEST_DAEMON");
		char cmd[1024], pid[32];
		int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (log >= 0)
			dup2(log, 2);
		setenv("NOTIFY_SOCKET", d->notify, 1);
		if (d->afd >= 0) {
			/* sd_listen_fds(): fd 3, for this pid (exec keeps it). */
			if (d->afd != 3 && (dup2(d->afd, 3) < 0 || close(d->afd) < 0))
				_exit(127);
			snprintf(pid, sizeof(pid), "%d", (int)getpid());
			setenv("LISTEN_FDS", "1", 1);
			setenv("LISTEN_PID", pid, 1);
		}
		if (wrap && *wrap) {
			snprintf(cmd, sizeof(cmd),
				 "exec %s %s --foreground --socket %s --config %s", wrap, bin,
				 d->sock, d->conf);
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		} else {
			execl(bin, bin, "--foreground", "--socket", d->sock, "--config", d->conf,
			      (char *)NULL);
		}
		_exit(127);
	}
	return 0;
}

bool
pd_expect(struct pd *d, const char *want, int ms)
{
	long long end = spawn_now_ms() + ms;
	char buf[1024];

	for (;;) {
		long long left = end - spawn_now_ms();
		struct pollfd p = { .fd = d->nfd, .events = POLLIN };
		ssize_t n;

		if (left < 0)
			return false;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recv(d->nfd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, want))
			return true;
	}
}

bool
pd_exited(struct pd *d, int ms, int *status)
{
	for (long long end = spawn_now_ms() + ms;;) {
		if (waitpid(d->pid, status, WNOHANG) == d->pid) {
			d->pid = -1;
			return true;
		}
		if (spawn_now_ms() >= end)
			return false;
		poll(NULL, 0, 10);
	}
}

bool
pd_log_has(struct pd *d, const char *text)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(d->log, "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return found;
}

int
pd_stop(struct pd *d)
{
	char cmd[128];
	int status = -1;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		if (!pd_exited(d, 30000, &status)) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
			status = -1;
		}
	}
	d->pid = -1;
	if (d->nfd >= 0)
		close(d->nfd);
	if (d->afd >= 0)
		close(d->afd);
	d->nfd = d->afd = -1;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", d->dir);
	return status;
}

int
pd_connect(struct pd *d, struct pd_conn *c)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	c->have = 0;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", d->sock);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd >= 0 && connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(c->fd);
		c->fd = -1;
	}
	return c->fd;
}

bool
pd_send(struct pd_conn *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n <= 0 || (size_t)n >= sizeof(line))
		return false;
	for (int done = 0; done < n;) {
		ssize_t k = write(c->fd, line + done, (size_t)(n - done));

		if (k <= 0)
			return false;
		done += (int)k;
	}
	return true;
}

const char *
pd_line(struct pd_conn *c, int ms)
{
	long long end = spawn_now_ms() + ms;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->have);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		long long left = end - spawn_now_ms();
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - c->buf);

			memcpy(c->line, c->buf, len);
			c->line[len] = '\0';
			c->have -= len + 1;
			memmove(c->buf, nl + 1, c->have);
			return c->line;
		}
		if (left < 0 || c->have == sizeof(c->buf))
			return NULL;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
		if (n <= 0)
			return NULL;
		c->have += (size_t)n;
	}
}

const char *
pd_answer(struct pd_conn *c, int id, int ms)
{
	long long end = spawn_now_ms() + ms;
	char want[32];
	const char *l;

	snprintf(want, sizeof(want), "\"id\":%d,", id);
	while ((l = pd_line(c, (int)(end - spawn_now_ms()))))
		if (strstr(l, want))
			return l;
	return "";
}

void
pd_close(struct pd_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int
pd_peer(const char *addr, int port, int backlog)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1;

	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		len = sizeof(*s6);
	} else {
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
pd_peer_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					: ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int
pd_peer_drain(int fd)
{
	int n = 0, c;

	while ((c = accept(fd, NULL, NULL)) >= 0) {
		close(c);
		n++;
	}
	return n;
}
