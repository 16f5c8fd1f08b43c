/*
 * test-examples-apps: the three small applications of examples/ against
 * a real tisockd.  The forwarder carries half-closes both ways (client
 * first, target first), 256 KiB each way byte for byte, and closes the
 * client's connection when the target refuses; the libev chat server
 * relays lines and announces arrivals and departures to three guests and
 * stops on SIGTERM; the blocking HTTP client prints a body and exits by
 * the status, or fails on a refused connect.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "examples-run.h"

#define BULK (256u << 10)

/* The port after "prefix" in the child's output, or 0. */
static int
port_after(struct child *ch, const char *prefix)
{
	const char *at;

	if (!read_until(ch, "\n") || !read_until(ch, prefix) || !(at = strstr(ch->text, prefix)))
		return 0;
	return atoi(at + strlen(prefix));
}

/*
 * Sends n bytes from out on a, then shuts a's sending side, while
 * reading b into in (size bytes) until its EOF.  Returns the bytes read.
 */
static size_t
move(int a, int b, const char *out, size_t n, char *in, size_t size)
{
	size_t sent = 0, got = 0;
	bool eof = false;

	if (n == 0)
		shutdown(a, SHUT_WR);
	for (long long end = spawn_now_ms() + DEADLINE_MS; !eof && spawn_now_ms() < end;) {
		struct pollfd p[2] = { { .fd = b, .events = POLLIN },
				       { .fd = a, .events = sent < n ? POLLOUT : 0 } };
		ssize_t k;

		if (poll(p, 2, 200) <= 0)
			continue;
		if (p[1].revents & POLLOUT) {
			k = send(a, out + sent, n - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k > 0 && (sent += (size_t)k) == n)
				shutdown(a, SHUT_WR);
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			k = recv(b, in + got, size - got, MSG_DONTWAIT);
			if (k == 0 || (k < 0 && errno != EAGAIN))
				eof = true;
			else if (k > 0)
				got += (size_t)k;
		}
	}
	return got;
}

static void
forward_half_close(void)
{
	static char big[BULK], back[BULK], got[BULK];
	int tport, tl = listener(&tport), port, c, t;
	struct child ch;
	char tp[16];
	size_t n;

	for (size_t i = 0; i < BULK; i++) {
		big[i] = (char)(i * 7 + (i >> 9));
		back[i] = (char)(i * 13 + 5);
	}
	snprintf(tp, sizeof(tp), "%d", tport);
	run(&ch, "forward", (const char *[]){ "0", "127.0.0.1", tp, "3", NULL });
	port = port_after(&ch, "listening on port ");
	check(port > 0, "forward: prints its port");

	/* The client ends first; the target answers after the client's FIN. */
	c = connect_bounded(port);
	t = accept_bounded(tl);
	n = move(c, t, "ping", 4, got, sizeof(got));
	check(n == 4 && memcmp(got, "ping", 4) == 0,
	      "forward: the target gets the client's bytes, then its FIN");
	n = move(t, c, "answer after your FIN", 21, got, sizeof(got));
	check(n == 21 && memcmp(got, "answer after your FIN", 21) == 0,
	      "forward: the client still gets the target's answer, then its FIN");
	close(c);
	close(t);

	/* The target ends first; the client still sends after the target's FIN. */
	c = connect_bounded(port);
	t = accept_bounded(tl);
	n = move(t, c, "greeting", 8, got, sizeof(got));
	check(n == 8 && memcmp(got, "greeting", 8) == 0,
	      "forward: the client gets the target's bytes, then its FIN");
	n = move(c, t, "late words", 10, got, sizeof(got));
	check(n == 10 && memcmp(got, "late words", 10) == 0,
	      "forward: the target still gets the client's bytes, then its FIN");
	close(c);
	close(t);

	/* 256 KiB each way, byte for byte. */
	c = connect_bounded(port);
	t = accept_bounded(tl);
	n = move(c, t, big, BULK, got, sizeof(got));
	check(n == BULK && memcmp(got, big, BULK) == 0, "forward: 256 KiB client to target");
	n = move(t, c, back, BULK, got, sizeof(got));
	check(n == BULK && memcmp(got, back, BULK) == 0, "forward: 256 KiB target to client");
	close(c);
	close(t);
	check(finish(&ch) == 0 && strstr(ch.text, "3 connections forwarded"),
	      "forward: exits 0 after its 3 connections: %s", ch.text);
	close(tl);
}

static void
forward_refused(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int dead = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port, c;
	struct child ch;
	char dp[16], b;
	ssize_t k;

	/* A bound port nobody listens on refuses. */
	bind(dead, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(dead, (struct sockaddr *)&sin, &len);
	snprintf(dp, sizeof(dp), "%d", ntohs(sin.sin_port));
	run(&ch, "forward", (const char *[]){ "0", "127.0.0.1", dp, "1", NULL });
	port = port_after(&ch, "listening on port ");
	c = connect_bounded(port);
	check(c >= 0, "forward: accepts while its target refuses");
	k = recv(c, &b, 1, 0);
	check(k == 0 || (k < 0 && errno == ECONNRESET),
	      "forward: a refused target closes the client's connection (%zd)", k);
	check(read_until(&ch, "Connection refused"), "forward: says the target refused");
	check(finish(&ch) == 0, "forward: exits 0 after it: %s", ch.text);
	close(c);
	close(dead);
}

/* Reads fd into acc (keeping what came before) until it holds want. */
static bool
heard(int fd, char *acc, size_t size, const char *want)
{
	size_t len = strlen(acc);

	for (long long end = spawn_now_ms() + DEADLINE_MS;
	     !strstr(acc, want) && spawn_now_ms() < end && len + 1 < size;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		if (poll(&p, 1, 200) <= 0)
			continue;
		k = recv(fd, acc + len, size - 1 - len, 0);
		if (k <= 0)
			break;
		len += (size_t)k;
		acc[len] = '\0';
	}
	return strstr(acc, want) != NULL;
}

static void
chat(void)
{
	char ta[4096] = "", tb[4096] = "", tc[4096] = "";
	struct child ch;
	int port, a, b, c;

	run(&ch, "chat", (const char *[]){ "0", NULL });
	port = port_after(&ch, "chat listening on port ");
	check(port > 0, "chat: prints its port");
	a = connect_bounded(port);
	check(heard(a, ta, sizeof(ta), "welcome, you are guest1\n"), "chat: welcomes guest1");
	b = connect_bounded(port);
	check(heard(b, tb, sizeof(tb), "welcome, you are guest2\n"), "chat: welcomes guest2");
	check(heard(a, ta, sizeof(ta), "* guest2 joined\n"), "chat: announces guest2 to guest1");
	c = connect_bounded(port);
	check(heard(c, tc, sizeof(tc), "welcome, you are guest3\n"), "chat: welcomes guest3");
	send(a, "hello all\n", 10, 0);
	check(heard(b, tb, sizeof(tb), "guest1: hello all\n") &&
	      heard(c, tc, sizeof(tc), "guest1: hello all\n"), "chat: relays a line to the others");
	send(b, "split ", 6, 0);
	send(b, "line\r\n", 6, 0);
	check(heard(a, ta, sizeof(ta), "guest2: split line\n"), "chat: joins a line sent in parts");
	close(c);
	check(heard(a, ta, sizeof(ta), "* guest3 left\n") && heard(b, tb, sizeof(tb),
	      "* guest3 left\n"), "chat: announces a departure");
	check(strstr(ta, "guest1: hello all") == NULL, "chat: a guest's own line is not echoed");
	kill(ch.pid, SIGTERM);
	check(finish(&ch) == 0 && strstr(ch.text, "chat stopping"), "chat: stops on SIGTERM: %s",
	      ch.text);
	close(a);
	close(b);
}

/* Serves one request on lfd with answer; returns what was asked. */
static void
serve(int lfd, const char *answer, char *req, size_t size)
{
	int t = accept_bounded(lfd);
	size_t len = 0;
	ssize_t k;

	req[0] = '\0';
	while (t >= 0 && !strstr(req, "\r\n\r\n") && len + 1 < size &&
	       (k = recv(t, req + len, size - 1 - len, 0)) > 0) {
		len += (size_t)k;
		req[len] = '\0';
	}
	send(t, answer, strlen(answer), MSG_NOSIGNAL);
	close(t);
}

static void
http_get(void)
{
	int port, lfd = listener(&port);
	struct child ch;
	char p[16], req[1024];

	snprintf(p, sizeof(p), "%d", port);
	run(&ch, "http-get", (const char *[]){ "127.0.0.1", p, "/hello", NULL });
	serve(lfd, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from the test server\n",
	      req, sizeof(req));
	check(strncmp(req, "GET /hello HTTP/1.0\r\n", 21) == 0 && strstr(req, "Host: 127.0.0.1\r\n"),
	      "http-get: sends an HTTP/1.0 request: %s", req);
	check(read_until(&ch, "hello from the test server\n"), "http-get: prints the body");
	check(finish(&ch) == 0, "http-get: exits 0 for 200");
	run(&ch, "http-get", (const char *[]){ "127.0.0.1", p, "/missing", NULL });
	serve(lfd, "HTTP/1.0 404 Not Found\r\n\r\nno such page\n", req, sizeof(req));
	check(finish(&ch) == 1 && strstr(ch.text, "no such page"), "http-get: exits 1 for 404");
	close(lfd);
	run(&ch, "http-get", (const char *[]){ "127.0.0.1", p, "/", NULL });
	check(finish(&ch) == 1, "http-get: exits 1 when the connect is refused");
}

void
example_apps(void)
{
	forward_half_close();
	forward_refused();
	chat();
	http_get();
}
