/*
 * bench-util: see bench.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "proto-base64.h"

double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
	if (sp.pid > 0)
		kill(sp.pid, SIGKILL);	/* no daemon left behind */
	exit(1);
}

void
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t k = write(fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die("write");
		c += k;
		n -= (size_t)k;
	}
}

void
read_exact(int fd, void *p, size_t n)
{
	char *c = p;

	while (n > 0) {
		ssize_t k = read(fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die("read");
		c += k;
		n -= (size_t)k;
	}
}

int
listen_loopback(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		die("listen");
	*port = ntohs(sin.sin_port);
	return fd;
}

int
connect_tcp(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				   .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int
connect_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -1;
	return fd;
}

/* Connects to socat's Unix end, waiting (bounded) for it to listen. */
int
socat_connect(const char *path)
{
	int fd = -1;

	for (int i = 0; i < 500 && fd < 0; i++) {
		fd = connect_unix(path);
		if (fd < 0)
			usleep(10000);	/* socat has no readiness signal: bounded retries */
	}
	if (fd < 0)
		die("socat did not listen");
	return fd;
}

/* ---- peers, in child processes ---------------------------------------------- */

/*
 * A listener on loopback (its port in *port) for a peer in a child
 * process: the child's pid in the parent, where the listener is closed;
 * 0 in the child, with the listener in *lfd and SIGPIPE ignored.
 */
pid_t
fork_listener(int *port, int *lfd)
{
	pid_t pid;

	*lfd = listen_loopback(port);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid > 0) {
		close(*lfd);
		return pid;
	}
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/*
 * Forks a peer listening on loopback; returns its pid and sets *port.
 * SINK reads to EOF then writes the byte count (8 bytes); SOURCE writes
 * total_bytes then closes; ECHO echoes; HOLD accepts and keeps every
 * connection until killed.  The others serve `conns` connections.
 */
pid_t
peer_start(enum peer_mode mode, int conns, int *port)
{
	int lfd;
	pid_t pid = fork_listener(port, &lfd);

	if (pid > 0)
		return pid;
	for (int c = 0; c < conns || mode == HOLD; c++) {
		static char buf[1 << 20];
		int fd = accept(lfd, NULL, NULL), one = 1;
		uint64_t n = 0;
		ssize_t k;

		if (fd < 0)
			_exit(1);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		switch (mode) {
		case SINK:
			while ((k = read(fd, buf, sizeof(buf))) > 0)
				n += (uint64_t)k;
			write_all(fd, &n, sizeof(n));
			close(fd);
			break;
		case SOURCE:
			memset(buf, 'x', CHUNK);
			for (size_t sent = 0; sent < total_bytes; sent += CHUNK)
				write_all(fd, buf, CHUNK);
			close(fd);
			break;
		case ECHO:
			while ((k = read(fd, buf, sizeof(buf))) > 0)
				write_all(fd, buf, (size_t)k);
			close(fd);
			break;
		case HOLD:
			/* keep it open */
			break;
		}
	}
	_exit(0);
}

void
peer_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* ---- a minimal JSON-RPC client ------------------------------------------- */


void
rpc_open(struct rpc *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = connect_unix(sp.socket);
	if (r->fd < 0)
		die("connect to the daemon");
	r->cap = 64u << 20;
	r->in = malloc(r->cap);
}

void
rpc_close(struct rpc *r)
{
	close(r->fd);
	free(r->in);
}

/* The next line (NUL-terminated in place, valid until the next call). */
char *
rpc_line(struct rpc *r, size_t *ret_len)
{
	for (;;) {
		char *nl = r->len > r->off ? memchr(r->in + r->off, '\n', r->len - r->off) : NULL;
		ssize_t k;

		if (nl) {
			char *line = r->in + r->off;

			*nl = '\0';
			*ret_len = (size_t)(nl - line);
			r->off = (size_t)(nl - r->in) + 1;
			return line;
		}
		if (r->off > 0) {
			memmove(r->in, r->in + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
		}
		if (r->len == r->cap)
			die("line too long");
		k = read(r->fd, r->in + r->len, r->cap - r->len);
		if (k <= 0)
			die("read from the daemon");
		r->len += (size_t)k;
	}
}

void
rpc_send(struct rpc *r, const char *fmt, ...)
{
	static char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	write_all(r->fd, line, (size_t)n);
}

/* Calls and returns the parsed answer (free it), skipping notifications. */
cJSON *
rpc_call(struct rpc *r, const char *method, const char *params)
{
	long long id = ++r->id;

	rpc_send(r, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"%s\",\"params\":%s}\n", id,
		 method, params ? params : "{}");
	for (;;) {
		size_t len;
		char *line = rpc_line(r, &len);
		cJSON *m;

		if (!strstr(line, "\"id\":"))
			continue;
		m = cJSON_ParseWithLength(line, len);
		if (m && cJSON_GetObjectItemCaseSensitive(m, "id") &&
		    (long long)cJSON_GetObjectItemCaseSensitive(m, "id")->valuedouble == id)
			return m;
		cJSON_Delete(m);
	}
}

long long
rpc_connect(struct rpc *r, int port)
{
	char params[64];
	cJSON *a;
	long long s;

	snprintf(params, sizeof(params), "{\"port\":%d,\"noDelay\":true}", port);
	a = rpc_call(r, "tcp.connect", params);
	if (!cJSON_GetObjectItemCaseSensitive(a, "result")) {
		char *t = cJSON_PrintUnformatted(a);

		fprintf(stderr, "bench: tcp.connect: %s\n", t);
		exit(1);
	}
	s = (long long)cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(a, "result"), "socket")->valuedouble;
	cJSON_Delete(a);
	return s;
}

/* tcp.channel on socket s: the fd that rides on the answer. */
int
rpc_channel(struct rpc *r, long long s)
{
	char line[256], ctl[CMSG_SPACE(sizeof(int))];
	size_t have = 0;
	int fd = -1;

	if (r->len > r->off)
		die("unread input before tcp.channel");
	rpc_send(r, "{\"jsonrpc\":\"2.0\",\"id\":77777,\"method\":\"tcp.channel\","
		 "\"params\":{\"socket\":%lld}}\n", s);
	while (have < sizeof(line) - 1 && (have == 0 || line[have - 1] != '\n')) {
		struct iovec iov = { .iov_base = line + have, .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
				     .msg_controllen = sizeof(ctl) };

		if (recvmsg(r->fd, &mh, 0) != 1)
			die("tcp.channel answer");
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		have++;
	}
	if (fd < 0)
		die("no fd from tcp.channel");
	return fd;
}

/* Pumps socket s to its end (tcp.pump, then its tcp.data): the bytes it carried. */
uint64_t
rpc_pump_all(struct rpc *r, long long s)
{
	static unsigned char raw[1 << 20];
	uint64_t got = 0;

	rpc_send(r, "{\"jsonrpc\":\"2.0\",\"id\":999999,\"method\":\"tcp.pump\","
		 "\"params\":{\"socket\":%lld,\"chunkSize\":%d}}\n", s, CHUNK);
	for (;;) {
		size_t len;
		char *line = rpc_line(r, &len), *d, *e;

		if (strncmp(line, "{\"jsonrpc\":\"2.0\",\"method\":\"tcp.data\"", 36) != 0)
			continue;
		d = strstr(line, "\"data\":\"");
		if (!d)
			break;	/* bytes -1: the end */
		d += 8;
		e = strchr(d, '"');
		got += (uint64_t)proto_base64_decode(raw, d, (size_t)(e - d));
	}
	return got;
}
