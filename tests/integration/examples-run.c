/*
 * examples-run: the children and peers of test-examples; see
 * examples-run.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "examples-run.h"

struct spawned sp;
const char *exdir;

/* Starts prog (in exdir) with args, stdout to a pipe.  0 or -1. */
int
run(struct child *ch, const char *prog, const char *const *args)
{
	const char *argv[8] = { prog };
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
		for (int i = 0; args && args[i] && i < 6; i++)
			argv[i + 1] = args[i];
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	ch->out = fds[0];
	return 0;
}

/* Reads the child's output until it holds want or EOF, within the deadline. */
bool
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

/* Waits for the child's exit: its status, or -1 (killed) after the deadline. */
int
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

/* A loopback listener whose accept is bounded; *ret_port gets its port. */
int
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

/* One accepted connection with bounded reads. */
int
accept_bounded(int lfd)
{
	struct timeval tv = { .tv_sec = DEADLINE_MS / 1000 };
	int fd = accept(lfd, NULL, NULL);

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Reads to EOF (bounded by SO_RCVTIMEO).  Returns the byte count. */
size_t
read_all(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t k;

	while (n + 1 < size && (k = recv(fd, buf + n, size - 1 - n, 0)) > 0)
		n += (size_t)k;
	buf[n] = '\0';
	return n;
}

/* A connection to 127.0.0.1:port with bounded reads and writes, or -1. */
int
connect_bounded(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = DEADLINE_MS / 1000 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}
