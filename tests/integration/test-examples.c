/*
 * test-examples: runs the three programs in examples/ (the Sockets
 * guide's) against a real tisockd and loopback peers, and checks what
 * the peers and the programs see.  Every wait has a deadline.
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

#include "spawn.h"

#define DEADLINE_MS 15000

static struct spawned sp;
static const char *exdir;


struct child {
	pid_t	pid;
	int	out;		/* its stdout */
	char	text[4096];	/* what it printed */
	size_t	len;
};

static int
run(struct child *ch, const char *prog, const char *a1, const char *a2, const char *a3)
{
	char path[512];
	int fds[2];

	snprintf(path, sizeof(path), "%s/%s", exdir, prog);
	if (pipe(fds) < 0)
		return -1;
	memset(ch, 0, sizeof(*ch));
	ch->pid = fork();
	if (ch->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		setenv("TISOCKD_SOCKET", sp.socket, 1);
		execl(path, prog, a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	ch->out = fds[0];
	return 0;
}

/* Reads the child's output until it contains want or EOF, within the deadline. */
static bool
read_until(struct child *ch, const char *want)
{
	long long end = spawn_now_ms() + DEADLINE_MS;

	while (!strstr(ch->text, want) && spawn_now_ms() < end) {
		struct pollfd p = { .fd = ch->out, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(ch->out, ch->text + ch->len, sizeof(ch->text) - 1 - ch->len);
		if (n <= 0)
			break;
		ch->len += (size_t)n;
		ch->text[ch->len] = '\0';
	}
	return strstr(ch->text, want) != NULL;
}

/* Waits for the child's exit.  Returns its status, or -1 (killed) after the deadline. */
static int
finish(struct child *ch)
{
	int status;

	read_until(ch, "\x01never\x01");	/* drain to EOF */
	for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
		if (waitpid(ch->pid, &status, WNOHANG) == ch->pid) {
			close(ch->out);
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		poll(NULL, 0, 20);
	}
	kill(ch->pid, SIGKILL);
	waitpid(ch->pid, &status, 0);
	close(ch->out);
	return -1;
}

static int
listener(int *ret_port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = DEADLINE_MS / 1000 };

	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	listen(fd, 4);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*ret_port = ntohs(sin.sin_port);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));	/* bounds accept() */
	return fd;
}

static int
accept_bounded(int lfd)
{
	struct timeval tv = { .tv_sec = DEADLINE_MS / 1000 };
	int fd = accept(lfd, NULL, NULL);

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Reads to EOF (bounded by SO_RCVTIMEO).  Returns the byte count. */
static size_t
read_all(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t k;

	while (n + 1 < size && (k = recv(fd, buf + n, size - 1 - n, 0)) > 0)
		n += (size_t)k;
	buf[n] = '\0';
	return n;
}

static void
example_write(void)
{
	int port, lfd = listener(&port), pfd;
	char p[16], got[64];
	struct child ch;

	snprintf(p, sizeof(p), "%d", port);
	run(&ch, "write", "127.0.0.1", p, "hello-tisock");
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
	run(&ch, "connect-read", "127.0.0.1", p, NULL);
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

	run(&ch, "listen-accept", "0", NULL, NULL);
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
	status = spawn_stop(&sp);
	check(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "daemon exits 0");
	return check_summary();
}
