/*
 * cli-peer: the other end for the tisockctl shell tests, on loopback.
 *
 *	cli-peer http-server PORTFILE RESPONSE REQUEST-OUT
 *		serves one HTTP request: saves it, answers RESPONSE, closes
 *	cli-peer echo-server PORTFILE
 *		echoes one connection until its EOF, then closes
 *	cli-peer client PORT IN OUT
 *		connects, sends IN while saving what comes back to OUT, shuts
 *		down its side after IN, and reads until the peer's EOF
 *	cli-peer monitor-stall SOCKET
 *		asks the daemon for daemon.monitor and reads nothing until its
 *		stdin ends; then reads the connection to its end and prints the
 *		last line
 *	cli-peer blackhole PORTFILE
 *		listens with its backlog full and never accepts, so that
 *		connects to it hang, until its stdin ends
 *
 * Listening peers write their port to PORTFILE (via a rename, so a
 * reader never sees half of it).  Everything is bounded: alarm(120).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void
die(const char *what)
{
	fprintf(stderr, "cli-peer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
listen_any(const char *portfile)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), cfd;
	char tmp[4096];
	FILE *f;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		die("listen");
	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	f = fopen(tmp, "w");
	if (!f)
		die(tmp);
	fprintf(f, "%d\n", ntohs(sin.sin_port));
	if (fclose(f) != 0 || rename(tmp, portfile) < 0)
		die("portfile");
	cfd = accept(fd, NULL, NULL);
	if (cfd < 0)
		die("accept");
	close(fd);
	return cfd;
}

/*
 * A listener whose backlog (0: one connection) is filled by our own
 * connects: a connect to it waits until stdin ends.
 */
static int
blackhole(const char *portfile)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), fill[4];
	char tmp[4096], c;
	FILE *f;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 0) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		die("listen");
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	f = fopen(tmp, "w");
	if (!f)
		die(tmp);
	fprintf(f, "%d\n", ntohs(sin.sin_port));
	if (fclose(f) != 0 || rename(tmp, portfile) < 0)
		die("portfile");
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	return 0;
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die("write");
		p += k;
		n -= (size_t)k;
	}
}

static int
http_server(const char *portfile, const char *response, const char *reqout)
{
	int fd = listen_any(portfile), rfd = open(response, O_RDONLY), out;
	char buf[65536];
	size_t have = 0;
	ssize_t n;

	if (rfd < 0)
		die(response);
	while (have < sizeof(buf) - 1) {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			die("request");
		have += (size_t)n;
		buf[have] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	out = open(reqout, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0)
		die(reqout);
	write_all(out, buf, have);
	close(out);
	while ((n = read(rfd, buf, sizeof(buf))) > 0)
		write_all(fd, buf, (size_t)n);
	close(fd);
	return 0;
}

/*
 * Moves bytes both ways at once: in -> fd and fd -> out, with poll, so
 * that neither direction waits for the other.  After in ends, shuts down
 * fd's sending side (or, for an echo, after the peer's EOF).
 */
static void
pump_both(int fd, int in, int out, bool echo)
{
	static char down[1 << 16];
	char *up = malloc(1 << 16);
	size_t up_len = 0, up_off = 0;
	bool in_eof = in < 0, peer_eof = false, shut = false;

	if (!up)
		die("malloc");
	if (echo)
		in_eof = true;
	while (!peer_eof || (!echo && (!in_eof || up_off < up_len))) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = -1 } };
		ssize_t n;

		if (up_off < up_len)
			p[0].events |= POLLOUT;
		else if (!in_eof)
			p[1] = (struct pollfd){ .fd = in, .events = POLLIN };
		if (in_eof && up_off == up_len && !shut && !echo) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		if (peer_eof)
			p[0].events &= ~POLLIN;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (p[1].revents) {
			n = read(in, up, 1 << 16);
			if (n < 0)
				die("read input");
			if (n == 0)
				in_eof = true;
			up_len = (size_t)(n > 0 ? n : 0);
			up_off = 0;
		}
		if (p[0].revents & POLLOUT) {
			n = send(fd, up + up_off, up_len - up_off, MSG_NOSIGNAL);
			if (n < 0)
				die("send");
			up_off += (size_t)n;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR) && !peer_eof) {
			n = recv(fd, down, sizeof(down), 0);
			if (n < 0)
				die("recv");
			if (n == 0) {
				peer_eof = true;
				continue;
			}
			if (echo) {
				write_all(fd, down, (size_t)n);
			} else {
				write_all(out, down, (size_t)n);
			}
		}
	}
	if (!shut)
		shutdown(fd, SHUT_WR);
	free(up);
}

static int
client(const char *port, const char *in, const char *out)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				   .sin_port = htons((uint16_t)atoi(port)) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int ifd = open(in, O_RDONLY), ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect");
	if (ifd < 0 || ofd < 0)
		die("files");
	pump_both(fd, ifd, ofd, false);
	close(fd);
	return close(ofd) == 0 ? 0 : 1;
}

static int
monitor_stall(const char *path)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.monitor\"}\n";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), rcv = 4096;
	static char buf[1 << 16];
	char last[4096] = "", *line = NULL;
	size_t line_len = 0;
	ssize_t n;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	/* A small receive buffer: the daemon's queue, not the kernel's, fills. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die("connect");
	write_all(fd, req, sizeof(req) - 1);
	printf("monitoring\n");
	fflush(stdout);
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
		;
	/* Now read everything, keeping the last complete line. */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				snprintf(last, sizeof(last), "%.*s", (int)line_len, line ? line : "");
				line_len = 0;
				continue;
			}
			if (line_len % 4096 == 0 && !(line = realloc(line, line_len + 4096)))
				die("realloc");
			line[line_len++] = buf[i];
		}
	}
	printf("%s\n", last);
	free(line);
	return n == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(120);
	if (argc == 5 && strcmp(argv[1], "http-server") == 0)
		return http_server(argv[2], argv[3], argv[4]);
	if (argc == 3 && strcmp(argv[1], "echo-server") == 0) {
		int fd = listen_any(argv[2]);

		pump_both(fd, -1, -1, true);
		close(fd);
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "client") == 0)
		return client(argv[2], argv[3], argv[4]);
	if (argc == 3 && strcmp(argv[1], "blackhole") == 0)
		return blackhole(argv[2]);
	if (argc == 3 && strcmp(argv[1], "monitor-stall") == 0)
		return monitor_stall(argv[2]);
	fprintf(stderr, "usage: see the comment in cli-peer.c\n");
	return 2;
}
