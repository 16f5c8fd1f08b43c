/*
 * test-examples: runs the programs in examples/ against a real tisockd
 * and loopback peers, and checks what the peers and the programs see:
 * the Sockets guide's three here, the forwarder, the chat server and
 * the HTTP client in test-examples-apps.c.  Every wait has a deadline.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "examples-run.h"

static void
example_write(void)
{
	int port, lfd = listener(&port), pfd;
	char p[16], got[64];
	struct child ch;

	snprintf(p, sizeof(p), "%d", port);
	run(&ch, "write", (const char *[]){ "127.0.0.1", p, "hello-tisock", NULL });
	pfd = accept_bounded(lfd);
	read_all(pfd, got, sizeof(got));
	check(strcmp(got, "hello-tisock") == 0, "write: the peer got \"%s\" then EOF", got);
	check(finish(&ch) == 0 && strstr(ch.text, "<12> bytes written"),
	      "write: exits 0 and reports 12 bytes: %s", ch.text);
	close(pfd);
	close(lfd);
}

static void
example_connect_read(void)
{
	int port, lfd = listener(&port), pfd;
	char p[16], got[64];
	struct child ch;

	snprintf(p, sizeof(p), "%d", port);
	run(&ch, "connect-read", (const char *[]){ "127.0.0.1", p, NULL });
	pfd = accept_bounded(lfd);
	check(pfd >= 0 && recv(pfd, got, 33, MSG_WAITALL) == 33 &&
	      memcmp(got, "Howdy remote socket! How are you?", 33) == 0,
	      "connect-read: the peer got the greeting");
	check(read_until(&ch, "<33> bytes written"), "connect-read: reports the write");
	send(pfd, "hello back", 10, 0);
	check(read_until(&ch, "<hello back>"), "connect-read: prints what the peer sent");
	close(pfd);
	check(read_until(&ch, "socket has closed"), "connect-read: sees the end of stream");
	check(finish(&ch) == 0, "connect-read: exits 0");
	close(lfd);
}

static void
example_listen_accept(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct child ch;
	const char *at;
	char c;
	int fd;

	run(&ch, "listen-accept", (const char *[]){ "0", NULL });
	check(read_until(&ch, "\n") && (at = strstr(ch.text, "listening on port ")),
	      "listen-accept: prints its port");
	sin.sin_port = htons((uint16_t)atoi(strstr(ch.text, "port ") + 5));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = DEADLINE_MS / 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	check(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	      "listen-accept: a client can connect");
	check(read_until(&ch, "accepted incoming connection"), "listen-accept: reports the accept");
	check(recv(fd, &c, 1, 0) == 0, "listen-accept: the inbound socket is closed (EOF)");
	check(finish(&ch) == 0, "listen-accept: exits 0");
	close(fd);
}

int
main(int argc, char **argv)
{
	int status;

	signal(SIGPIPE, SIG_IGN);
	exdir = argc > 2 ? argv[2] : "examples";
	if (spawn_start(&sp, argc > 1 ? argv[1] : "daemon/tisockd", "", 0) < 0) {
		fprintf(stderr, "cannot start the daemon\n");
		return 99;
	}
	example_write();
	example_connect_read();
	example_listen_accept();
	example_apps();
	status = spawn_stop(&sp);
	check(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "daemon exits 0");
	return check_summary();
}
