/*
 * test-upgrade: live upgrade against a real daemon (daemon.upgrade).
 *
 * Sockets stream both ways through the daemon (half with tcp.write and
 * tcp.read, half through a data channel) from several clients, each with
 * a read always pending, writes in flight and, for one, an accept
 * pending; the daemon is upgraded in the middle.  Every byte is checked
 * by hash on arrival, the ids, owners and byte counters afterwards, and
 * each client must get exactly one daemon.restarted and the pending
 * requests their answers.  Then upgrades that must be refused (an image
 * of another format, a binary that exits at start, one that crashes
 * before it is ready; test hooks, see tisockd(8)) with the old daemon
 * serving on and no byte lost; then repeated upgrades under load with
 * the daemon's descriptors and RSS not growing.
 *
 * argv: the daemon; $TISOCK_UPGRADE_SOCKETS sockets (default 100),
 * $TISOCK_UPGRADE_REPEAT upgrades in a row (default 20).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "proto-base64.h"
#include "spawn.h"

#define NCLIENTS	10
#define MAXSOCK		1000
#define STREAM_BYTES	(96 * 1024)	/* per socket and direction */
#define CHUNK		8192
#define DEADLINE_MS	120000

struct cl {
	int	 fd;
	char	 buf[1 << 20];
	size_t	 len;
	int	 restarted;
};

struct sk {
	int	 client;
	int64_t	 id;
	int	 peer;		/* our end of the TCP connection */
	int	 chan;		/* the channel's client end, -1: JSON */
	uint64_t up_sent, up_got, down_sent, down_got;	/* up: client -> peer */
	uint64_t up_hash, down_hash;	/* of what arrived */
	bool	 read_pending, write_pending;
	int64_t	 bytes_read_before, bytes_written_before;
};

static struct cl cls[NCLIENTS];
static struct sk sks[MAXSOCK];
static int nsk, listen_fd, listen_port, batch_peer = -1, full_fd = -1, filler = -1;
static int conn_fds[8], nconn;
static int64_t closed_id;
static const char *bin;
static int64_t next_id = 1000;
static unsigned char mark0[65536], mark1[65536];

/* Byte i of a stream. */
static unsigned char
gen(int s, int dir, uint64_t i)
{
	return (unsigned char)((i * 131 + (uint64_t)s * 7 + (uint64_t)dir * 101 + (i >> 9)) & 0xff);
}

static uint64_t
fnv(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t
expect_hash(int s, int dir, uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (uint64_t i = 0; i < n; i++) {
		unsigned char b = gen(s, dir, i);

		h = fnv(h, &b, 1);
	}
	return h;
}

static void
send_line(int c, const char *s)
{
	spawn_send_all(cls[c].fd, s, strlen(s));
}

/* Reads what is there from client c; returns its next line (malloc'd) or NULL. */
static char *
next_line(int c)
{
	struct cl *x = &cls[c];
	char *nl = memchr(x->buf, '\n', x->len), *l;
	size_t n;

	if (!nl)
		return NULL;
	n = (size_t)(nl - x->buf);
	l = strndup(x->buf, n);
	memmove(x->buf, nl + 1, x->len - n - 1);
	x->len -= n + 1;
	return l;
}

static bool
fill(int c, int *passed_fd)
{
	struct cl *x = &cls[c];
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { x->buf + x->len, sizeof(x->buf) - x->len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(x->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n <= 0)
		return false;
	x->len += (size_t)n;
	if (passed_fd && mh.msg_controllen > 0 && CMSG_FIRSTHDR(&mh) &&
	    CMSG_FIRSTHDR(&mh)->cmsg_type == SCM_RIGHTS)
		memcpy(passed_fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	return true;
}

/* Waits for the answer with this id on client c (other lines: handled by fn). */
static cJSON *
wait_answer(int c, int64_t id, int *passed_fd)
{
	long long end = spawn_now_ms() + 30000;

	while (spawn_now_ms() < end) {
		char *l;

		while ((l = next_line(c))) {
			cJSON *j = cJSON_Parse(l), *i = cJSON_GetObjectItem(j, "id");

			free(l);
			if (cJSON_IsNumber(i) && (int64_t)i->valuedouble == id)
				return j;
			if (cJSON_GetObjectItem(j, "method") &&
			    strcmp(cJSON_GetObjectItem(j, "method")->valuestring, "daemon.restarted") == 0)
				cls[c].restarted++;
			cJSON_Delete(j);
		}
		{
			struct pollfd p = { .fd = cls[c].fd, .events = POLLIN };

			if (poll(&p, 1, 1000) > 0 && !fill(c, passed_fd))
				return NULL;
		}
	}
	return NULL;
}

static cJSON *
ask(int c, const char *method, const char *params, int *passed_fd)
{
	char line[1024];
	int64_t id = next_id++;

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"%s\"%s%s}\n",
		 (long long)id, method, params ? ",\"params\":" : "", params ? params : "");
	send_line(c, line);
	return wait_answer(c, id, passed_fd);
}

static double
jnum(const cJSON *j, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItem(j, a);

	if (b)
		x = cJSON_GetObjectItem(x, b);
	return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

/* One socket of client c connected to a peer of ours; channel: through a data channel. */
static bool
make_socket(int c, bool channel)
{
	struct sk *s = &sks[nsk];
	char p[128];
	cJSON *a;
	int fd = -1;

	s->client = c;
	s->chan = -1;
	a = ask(c, "tcp.create", NULL, NULL);
	s->id = (int64_t)jnum(a, "result", "socket");
	cJSON_Delete(a);
	snprintf(p, sizeof(p), "{\"socket\":%lld,\"host\":\"127.0.0.1\",\"port\":%d}",
		 (long long)s->id, listen_port);
	a = ask(c, "tcp.connect", p, NULL);
	if (jnum(a, "result", "socket") != s->id) {
		cJSON_Delete(a);
		return false;
	}
	cJSON_Delete(a);
	s->peer = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (channel) {
		snprintf(p, sizeof(p), "{\"socket\":%lld}", (long long)s->id);
		a = ask(c, "tcp.channel", p, &fd);
		cJSON_Delete(a);
		if (fd < 0)
			return false;
		(void) fcntl(fd, F_SETFL, O_NONBLOCK);
		s->chan = fd;
	}
	s->up_hash = s->down_hash = 0xcbf29ce484222325ULL;
	nsk++;
	return s->peer >= 0;
}

/* The stream phase's state. */
static uint64_t target;		/* bytes per socket and direction to reach */
static int upgrades_wanted, upgrades_done, upgrade_fails;
static bool upgrade_pending, expect_refusal;
static char last_refusal[256];
static int accept_client = 1;
static bool accept_pending, accept_answered;
static int acc_port;
static bool batch_ok, conn_answered;

static void
json_read(int i)
{
	struct sk *s = &sks[i];
	char line[160];

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":\"r:%d\",\"method\":\"tcp.read\","
		 "\"params\":{\"socket\":%lld,\"length\":%d}}\n", i, (long long)s->id, CHUNK);
	send_line(s->client, line);
	s->read_pending = true;
}

static void
json_write(int i)
{
	struct sk *s = &sks[i];
	unsigned char raw[CHUNK];
	char *line;
	size_t n = target - s->up_sent < CHUNK ? (size_t)(target - s->up_sent) : CHUNK, k;

	for (size_t j = 0; j < n; j++)
		raw[j] = gen(i, 0, s->up_sent + j);
	line = malloc(proto_base64_encoded_len(n) + 200);
	k = (size_t)sprintf(line, "{\"jsonrpc\":\"2.0\",\"id\":\"w:%d\",\"method\":\"tcp.write\","
			    "\"params\":{\"socket\":%lld,\"data\":\"", i, (long long)s->id);
	proto_base64_encode(line + k, raw, n);
	k += proto_base64_encoded_len(n);
	k += (size_t)sprintf(line + k, "\"}}\n");
	spawn_send_all(sks[i].client < 0 ? -1 : cls[s->client].fd, line, k);
	free(line);
	s->up_sent += n;
	s->write_pending = true;
}

static void
start_upgrade(void)
{
	send_line(0, "{\"jsonrpc\":\"2.0\",\"id\":\"upgrade\",\"method\":\"daemon.upgrade\"}\n");
	upgrade_pending = true;
}

/* One line from client c. */
static void
handle(int c, const char *l)
{
	cJSON *j = cJSON_Parse(l), *id = cJSON_GetObjectItem(j, "id"), *m;
	const char *ids = cJSON_IsString(id) ? id->valuestring : "";
	int i;

	if (cJSON_IsArray(j)) {
		batch_ok = cJSON_GetArraySize(j) == 2 && strstr(l, "\"b1\"") && strstr(l, "\"b2\"") &&
			   strstr(l, "YmF0Y2gh");	/* "batch!" */
		if (!batch_ok)
			check(0, "the batch's answer: %.300s", l);
		cJSON_Delete(j);
		return;
	}
	m = cJSON_GetObjectItem(j, "method");
	if (cJSON_IsString(m) && strcmp(m->valuestring, "daemon.restarted") == 0)
		cls[c].restarted++;
	if (cJSON_GetObjectItem(j, "error") && strcmp(ids, "upgrade") != 0) {
		check(0, "unexpected error: %.300s", l);
	} else if (sscanf(ids, "r:%d", &i) == 1) {
		cJSON *d = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "result"), "data");
		unsigned char *buf;
		ssize_t n = -1;

		if (cJSON_IsString(d)) {
			buf = malloc(strlen(d->valuestring) + 4);
			n = proto_base64_decode(buf, d->valuestring, strlen(d->valuestring));
			if (n > 0)
				sks[i].down_hash = fnv(sks[i].down_hash, buf, (size_t)n);
			free(buf);
		}
		if (n > 0)
			sks[i].down_got += (uint64_t)n;
		sks[i].read_pending = false;
	} else if (sscanf(ids, "w:%d", &i) == 1) {
		sks[i].write_pending = false;
	} else if (strcmp(ids, "upgrade") == 0) {
		upgrade_pending = false;
		if (cJSON_GetObjectItem(j, "error")) {
			upgrade_fails++;
			snprintf(last_refusal, sizeof(last_refusal), "%s", l);
			if (!expect_refusal)
				check(0, "upgrade refused: %.300s", l);
		} else {
			upgrades_done++;
			if (expect_refusal)
				check(0, "upgrade went through: %.300s", l);
		}
	} else if (strcmp(ids, "conn") == 0) {
		conn_answered = cJSON_GetObjectItem(j, "result") != NULL;
		if (!conn_answered)
			check(0, "connect: %.300s", l);
	} else if (strcmp(ids, "acc") == 0) {
		accept_answered = cJSON_GetObjectItem(j, "result") != NULL;
		if (!accept_answered)
			check(0, "accept: %.300s", l);
	}
	cJSON_Delete(j);
}

static bool
stream_done(void)
{
	for (int i = 0; i < nsk; i++)
		if (sks[i].up_got < target || sks[i].down_got < target)
			return false;
	return !upgrade_pending && upgrades_done + upgrade_fails >= upgrades_wanted;
}

/* Moves bytes until every stream reached target, upgrading on the way. */
static bool
stream(void)
{
	long long end = spawn_now_ms() + DEADLINE_MS;
	static struct pollfd p[3 * MAXSOCK + NCLIENTS];
	unsigned char buf[65536];

	while (!stream_done()) {
		int n = 0;
		uint64_t got = 0, all = 2 * (uint64_t)nsk * target;

		if (spawn_now_ms() > end)
			return false;
		for (int i = 0; i < nsk; i++)
			got += sks[i].up_got + sks[i].down_got;
		if (!upgrade_pending && upgrades_done + upgrade_fails < upgrades_wanted &&
		    got * 4 >= all * 1 + (uint64_t)(upgrades_done + upgrade_fails) * 0)
			start_upgrade();
		for (int i = 0; i < nsk; i++) {
			struct sk *s = &sks[i];

			if (s->chan < 0) {
				if (!s->read_pending && s->down_got < target)
					json_read(i);
				if (!s->write_pending && s->up_sent < target)
					json_write(i);
			}
		}
		for (int c = 0; c < NCLIENTS; c++)
			p[n++] = (struct pollfd){ .fd = cls[c].fd, .events = POLLIN };
		for (int i = 0; i < nsk; i++) {
			struct sk *s = &sks[i];

			p[n++] = (struct pollfd){ .fd = s->peer, .events = POLLIN |
				(s->down_sent < target ? POLLOUT : 0) };
			p[n++] = (struct pollfd){ .fd = s->chan, .events = s->chan < 0 ? 0 :
				POLLIN | (s->up_sent < target ? POLLOUT : 0) };
		}
		if (poll(p, (nfds_t)n, 1000) <= 0)
			continue;
		for (int c = 0; c < NCLIENTS; c++) {
			char *l;

			if (p[c].revents & POLLIN)
				(void) fill(c, NULL);
			while ((l = next_line(c))) {
				handle(c, l);
				free(l);
			}
		}
		for (int i = 0; i < nsk; i++) {
			struct sk *s = &sks[i];
			struct pollfd *pp = &p[NCLIENTS + 2 * i], *pc = pp + 1;
			ssize_t k;
			size_t w;

			if (pp->revents & POLLIN) {
				k = recv(s->peer, buf, sizeof(buf), MSG_DONTWAIT);
				if (k > 0) {
					s->up_hash = fnv(s->up_hash, buf, (size_t)k);
					s->up_got += (uint64_t)k;
				}
			}
			if (pp->revents & POLLOUT && s->down_sent < target) {
				w = target - s->down_sent < sizeof(buf) ? target - s->down_sent : sizeof(buf);
				for (size_t j = 0; j < w; j++)
					buf[j] = gen(i, 1, s->down_sent + j);
				k = send(s->peer, buf, w, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (k > 0)
					s->down_sent += (uint64_t)k;
			}
			if (s->chan < 0)
				continue;
			if (pc->revents & POLLIN) {
				k = recv(s->chan, buf, sizeof(buf), MSG_DONTWAIT);
				if (k > 0) {
					s->down_hash = fnv(s->down_hash, buf, (size_t)k);
					s->down_got += (uint64_t)k;
				}
			}
			if (pc->revents & POLLOUT && s->up_sent < target) {
				w = target - s->up_sent < sizeof(buf) ? target - s->up_sent : sizeof(buf);
				for (size_t j = 0; j < w; j++)
					buf[j] = gen(i, 0, s->up_sent + j);
				k = send(s->chan, buf, w, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (k > 0)
					s->up_sent += (uint64_t)k;
			}
		}
	}
	return true;
}

/* Every stream's hash is what was sent. */
static bool
hashes_ok(void)
{
	for (int i = 0; i < nsk; i++)
		if (sks[i].up_hash != expect_hash(i, 0, target) ||
		    sks[i].down_hash != expect_hash(i, 1, target)) {
			fprintf(stderr, "socket %d (id %lld): hash mismatch, up %llu down %llu bytes\n",
				i, (long long)sks[i].id, (unsigned long long)sks[i].up_got,
				(unsigned long long)sks[i].down_got);
			return false;
		}
	return true;
}

static pid_t
daemon_pid(void)
{
	cJSON *a = ask(2, "daemon.info", NULL, NULL);
	pid_t pid = (pid_t)jnum(a, "result", "pid");

	cJSON_Delete(a);
	return pid;
}

/*
 * The descriptors of pid above 2 without close-on-exec, marked in mark[]
 * (sized MARKS); their count, or -1.
 */
#define MARKS	65536
static int
inheritable_fds(pid_t pid, unsigned char *mark)
{
	char path[64], line[128];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	memset(mark, 0, MARKS);
	while ((e = readdir(dir))) {
		int fd = atoi(e->d_name);
		FILE *f;

		if (e->d_name[0] == '.' || fd < 3 || fd >= MARKS)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
		if (!(f = fopen(path, "re")))
			continue;
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "flags:", 6) == 0 &&
			    !(strtoul(line + 6, NULL, 8) & O_CLOEXEC)) {
				mark[fd] = 1;
				n++;
			}
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* Each socket's id, owner and byte counters as tcp.info says: all as expected. */
static bool
sockets_ok(void)
{
	for (int i = 0; i < nsk; i++) {
		char p[64];
		cJSON *a;
		bool ok;

		snprintf(p, sizeof(p), "{\"socket\":%lld}", (long long)sks[i].id);
		a = ask(sks[i].client, "tcp.info", p, NULL);
		ok = jnum(a, "result", "socket") == sks[i].id &&
		     jnum(a, "result", "bytesRead") == (double)target &&
		     jnum(a, "result", "bytesWritten") == (double)target;
		if (!ok) {
			char *t = cJSON_PrintUnformatted(a);

			fprintf(stderr, "socket %d: %s\n", i, t);
			free(t);
		}
		cJSON_Delete(a);
		if (!ok)
			return false;
	}
	return true;
}

/*
 * As root: daemon.upgrade from another uid is refused -32003 (the socket
 * and its directory opened to it for the check).  1 ok, 0 not, -1 not run.
 */
static int
unprivileged_refused(const struct spawned *sp)
{
	pid_t child;
	int st;

	if (getuid() != 0)
		return -1;
	(void) chmod(sp->dir, 0755);
	(void) chmod(sp->socket, 0666);
	child = fork();
	if (child == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		static const char req[] =
			"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.upgrade\"}\n";
		const char *l;
		int fd;

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(60100) < 0)
			_exit(2);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sp->socket);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			_exit(3);
		spawn_send_all(fd, req, sizeof(req) - 1);
		l = spawn_line(fd, 30000);
		_exit(strstr(l, "-32003") ? 0 : 1);
	}
	st = -1;
	(void) waitpid(child, &st, 0);
	(void) chmod(sp->socket, 0660);
	(void) chmod(sp->dir, 0700);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void
write_hook(const char *path, const char *word)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(word, f);
		fclose(f);
	}
}

/*
 * Waits (DEADLINE_MS at most; SIGCHLD blocked, the test their subreaper)
 * until the daemon old and its successor have both exited: their wait
 * statuses (-1: still running) and the successor's pid.  An earlier
 * daemon, also, reaped on the way sets *also_gone.
 */
static void
await_exits(pid_t old, pid_t also, bool *also_gone, int *old_st, int *new_st, pid_t *newpid)
{
	long long end = spawn_now_ms() + DEADLINE_MS;
	sigset_t chld;
	pid_t w;
	int st;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	*old_st = *new_st = -1;
	*newpid = -1;
	while ((*old_st == -1 || *new_st == -1) && spawn_now_ms() < end) {
		struct timespec ts = { .tv_sec = 1 };

		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w == old) {
				*old_st = st;
			} else if (also > 0 && w == also) {
				*also_gone = true;
			} else {
				*newpid = w;
				*new_st = st;
			}
		}
		if (*old_st == -1 || *new_st == -1)
			(void) sigtimedwait(&chld, NULL, &ts);
	}
}

int
main(int argc, char **argv)
{
	static const char config[] = "[limits]\nclient-sockets = 2000\nuid-sockets = 4000\n"
				     "sockets = 4000\n";
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	const char *e = getenv("TISOCK_UPGRADE_SOCKETS");
	int want = e ? atoi(e) : 100, repeat = getenv("TISOCK_UPGRADE_REPEAT") ?
		atoi(getenv("TISOCK_UPGRADE_REPEAT")) : 20;
	struct spawned sp;
	char hook[160];
	pid_t pid0, pid;
	int fds2 = -1, fds_last = -1, restarted_ok = 1;
	bool sp_gone = false;
	long rss2 = -1, rss_last = -1;
	cJSON *a;

	if (argc < 2)
		return 2;
	bin = argv[1];
	if (want > MAXSOCK)
		want = MAXSOCK;
	signal(SIGPIPE, SIG_IGN);
	(void) prctl(PR_SET_CHILD_SUBREAPER, 1);	/* the upgraded daemon stays ours to reap */
	snprintf(hook, sizeof(hook), "/tmp/tisock-upgrade-hook-%d", (int)getpid());
	setenv("TISOCKD_TEST_UPGRADE", hook, 1);
	write_hook(hook, "none");
	if (spawn_start(&sp, bin, config, 20000) < 0) {
		check(0, "daemon started");
		return check_summary();
	}
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(listen_fd, 4096) < 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&sin, &len) < 0)
		return 99;
	listen_port = ntohs(sin.sin_port);
	for (int c = 0; c < NCLIENTS; c++)
		cls[c].fd = spawn_ctl_open(&sp);
	for (int i = 0; i < want; i++)
		if (!make_socket(i % NCLIENTS, i % 2 == 1))
			break;
	check(nsk == want, "%d sockets streaming (JSON and channel) from %d clients", nsk, NCLIENTS);
	pid0 = daemon_pid();
	(void) inheritable_fds(pid0, mark0);
	{
		int r = unprivileged_refused(&sp);

		if (r < 0)
			printf("# skipped daemon.upgrade from another uid: not root\n");
		else
			check(r == 1 && daemon_pid() == pid0,
			      "daemon.upgrade from another uid: -32003, nothing happens");
	}

	/* A listener with an accept pending over the upgrade. */
	a = ask(accept_client, "tcp.create", NULL, NULL);
	{
		char p[128];
		int64_t lid = (int64_t)jnum(a, "result", "socket");

		cJSON_Delete(a);
		snprintf(p, sizeof(p), "{\"socket\":%lld,\"host\":\"127.0.0.1\",\"port\":0}",
			 (long long)lid);
		a = ask(accept_client, "tcp.listen", p, NULL);
		acc_port = (int)jnum(cJSON_GetObjectItem(a, "result"), "local", "port");
		cJSON_Delete(a);
		snprintf(p, sizeof(p), "{\"jsonrpc\":\"2.0\",\"id\":\"acc\",\"method\":\"tcp.accept\","
			 "\"params\":{\"socket\":%lld}}\n", (long long)lid);
		send_line(accept_client, p);
		accept_pending = true;
	}

	/* A batch whose read waits over the upgrade. */
	{
		char p[512];
		int64_t bsock;

		a = ask(6, "tcp.create", NULL, NULL);
		bsock = (int64_t)jnum(a, "result", "socket");
		cJSON_Delete(a);
		snprintf(p, sizeof(p), "{\"socket\":%lld,\"host\":\"127.0.0.1\",\"port\":%d}",
			 (long long)bsock, listen_port);
		a = ask(6, "tcp.connect", p, NULL);
		cJSON_Delete(a);
		batch_peer = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		snprintf(p, sizeof(p), "[{\"jsonrpc\":\"2.0\",\"id\":\"b1\",\"method\":\"tcp.read\","
			 "\"params\":{\"socket\":%lld}},{\"jsonrpc\":\"2.0\",\"id\":\"b2\","
			 "\"method\":\"daemon.info\"}]\n", (long long)bsock);
		send_line(6, p);
	}

	/*
	 * A connect in flight: its listener's accept queue is full (backlog 0,
	 * one connection waiting), so its SYN goes unanswered until we accept.
	 */
	{
		struct sockaddr_in fs = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t fl = sizeof(fs);
		char p[256];
		int64_t cs;

		full_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (bind(full_fd, (struct sockaddr *)&fs, sizeof(fs)) < 0 || listen(full_fd, 0) < 0 ||
		    getsockname(full_fd, (struct sockaddr *)&fs, &fl) < 0)
			return 99;
		filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		(void) connect(filler, (struct sockaddr *)&fs, sizeof(fs));
		a = ask(7, "tcp.create", NULL, NULL);
		cs = (int64_t)jnum(a, "result", "socket");
		cJSON_Delete(a);
		snprintf(p, sizeof(p), "{\"jsonrpc\":\"2.0\",\"id\":\"conn\",\"method\":\"tcp.connect\","
			 "\"params\":{\"socket\":%lld,\"host\":\"127.0.0.1\",\"port\":%d}}\n",
			 (long long)cs, ntohs(fs.sin_port));
		send_line(7, p);
	}

	/* A closed socket, remembered for tcp.info. */
	{
		char p[64];

		a = ask(8, "tcp.create", NULL, NULL);
		closed_id = (int64_t)jnum(a, "result", "socket");
		cJSON_Delete(a);
		snprintf(p, sizeof(p), "{\"socket\":%lld}", (long long)closed_id);
		a = ask(8, "tcp.close", p, NULL);
		cJSON_Delete(a);
	}

	/* A monitor, and half a request line, held over the upgrade. */
	a = ask(4, "daemon.monitor", "{\"enable\":true}", NULL);
	cJSON_Delete(a);
	send_line(3, "{\"jsonrpc\":\"2.0\",\"id\":424242,\"meth");

	/* 1: one upgrade in the middle of the streams. */
	target = STREAM_BYTES;
	upgrades_wanted = 1;
	check(stream(), "streams done across an upgrade (%llu bytes each way per socket)",
	      (unsigned long long)target);
	check(upgrades_done == 1, "daemon.upgrade answered by the new process");
	check(hashes_ok(), "every byte arrived, by hash, both ways, on every socket");
	for (int c = 0; c < NCLIENTS; c++)
		if (cls[c].restarted != 1)
			restarted_ok = 0;
	check(restarted_ok, "each client got exactly one daemon.restarted");
	pid = daemon_pid();
	check(pid != pid0 && pid > 0, "a new process (pid %d, was %d)", (int)pid, (int)pid0);
	{
		int n = inheritable_fds(pid, mark1), extra = -1;

		for (int fd = 0; n >= 0 && fd < MARKS; fd++)
			if (mark1[fd] && !mark0[fd] && extra < fd)
				extra = fd;
		check(n >= 0 && extra < 0, "the new process sets close-on-exec again on every "
		      "descriptor it took over (fd %d has none)", extra);
	}
	send_line(3, "od\":\"daemon.info\"}\n");
	a = wait_answer(3, 424242, NULL);
	check(jnum(a, "result", "pid") == pid, "a request line half sent before the upgrade, "
	      "half after, is answered");
	cJSON_Delete(a);
	check(sockets_ok(), "ids, owners and byte counters are the same");
	{
		char p[64];
		const cJSON *st;

		snprintf(p, sizeof(p), "{\"socket\":%lld}", (long long)closed_id);
		a = ask(8, "tcp.info", p, NULL);
		st = cJSON_GetObjectItem(cJSON_GetObjectItem(a, "result"), "state");
		check(cJSON_IsString(st) && strcmp(st->valuestring, "closed") == 0,
		      "a socket closed before the upgrade still answers tcp.info");
		cJSON_Delete(a);
		a = ask(8, "tcp.create", NULL, NULL);
		check(jnum(a, "result", "socket") > (double)closed_id,
		      "new ids go on from the old process's (%.0f)", jnum(a, "result", "socket"));
		cJSON_Delete(a);
	}
	{
		struct sockaddr_in to = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
					  .sin_port = htons((uint16_t)acc_port) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		long long end = spawn_now_ms() + 30000;

		(void) connect(fd, (struct sockaddr *)&to, sizeof(to));
		while (!accept_answered && spawn_now_ms() < end) {
			struct pollfd p = { .fd = cls[accept_client].fd, .events = POLLIN };
			char *l;

			if (poll(&p, 1, 500) > 0)
				(void) fill(accept_client, NULL);
			while ((l = next_line(accept_client))) {
				handle(accept_client, l);
				free(l);
			}
		}
		check(accept_answered, "the accept pending over the upgrade was answered (same id)");
		close(fd);
	}

	{
		long long end = spawn_now_ms() + 30000;
		bool seen = false;
		char *l;

		while ((l = next_line(4)))
			free(l);
		a = ask(5, "tcp.create", NULL, NULL);
		cJSON_Delete(a);
		while (!seen && spawn_now_ms() < end) {
			struct pollfd p = { .fd = cls[4].fd, .events = POLLIN };

			if (poll(&p, 1, 500) > 0)
				(void) fill(4, NULL);
			while ((l = next_line(4))) {
				seen = seen || (strstr(l, "monitor.event") && strstr(l, "\"create\""));
				free(l);
			}
		}
		check(seen, "a monitor subscribed before the upgrade sees events after it");
	}

	{
		long long end = spawn_now_ms() + 30000;
		char *l;

		spawn_send_all(batch_peer, "batch!", 6);
		while (!batch_ok && spawn_now_ms() < end) {
			struct pollfd p = { .fd = cls[6].fd, .events = POLLIN };

			if (poll(&p, 1, 500) > 0)
				(void) fill(6, NULL);
			while ((l = next_line(6))) {
				handle(6, l);
				free(l);
			}
		}
		check(batch_ok, "a batch with a read pending over the upgrade is answered whole");
	}

	{
		long long end = spawn_now_ms() + 30000;
		char *l;

		(void) fcntl(full_fd, F_SETFL, O_NONBLOCK);
		while (!conn_answered && spawn_now_ms() < end) {
			struct pollfd p[2] = { { .fd = cls[7].fd, .events = POLLIN },
					       { .fd = full_fd, .events = POLLIN } };
			int fd;

			if (poll(p, 2, 500) > 0 && p[0].revents)
				(void) fill(7, NULL);
			while ((fd = accept(full_fd, NULL, NULL)) >= 0)
				conn_fds[nconn < 8 ? nconn++ : 7] = fd;
			while ((l = next_line(7))) {
				handle(7, l);
				free(l);
			}
		}
		check(conn_answered, "a connect in flight over the upgrade was started again and "
		      "answered (same id)");
	}

	/* 2: refused upgrades, the daemon serving on. */
	{
		static const char *const hooks[] = { "format", "exit", "crash", "hang", "badfd" };
		static const char *const says[] = { "format", "status 1", "signal", "not ready",
						    "descriptor" };

		for (int h = 0; h < 5; h++) {
			write_hook(hook, hooks[h]);
			expect_refusal = true;
			target += STREAM_BYTES / 4;
			upgrades_wanted = upgrades_done + upgrade_fails + 1;
			check(stream() && upgrade_fails == h + 1 && strstr(last_refusal, says[h]) &&
			      strstr(last_refusal, "-32013"),
			      "upgrade refused (%s): %.200s", hooks[h], last_refusal);
			check(daemon_pid() == pid, "the old daemon serves on");
			check(hashes_ok(), "no byte lost (%s)", hooks[h]);
		}
		expect_refusal = false;
		write_hook(hook, "none");
	}

	/* 3: upgrades in a row under load. */
	for (int r = 0; r < repeat; r++) {
		target += 8192;
		upgrades_wanted = upgrades_done + upgrade_fails + 1;
		if (!stream()) {
			check(0, "upgrade %d of %d under load", r + 1, repeat);
			break;
		}
		pid = daemon_pid();
		if (r == 1) {
			fds2 = spawn_count_fds(pid);
			rss2 = spawn_status_kib(pid, "VmRSS:");
		}
		fds_last = spawn_count_fds(pid);
		rss_last = spawn_status_kib(pid, "VmRSS:");
	}
	check(hashes_ok() && sockets_ok(), "%d upgrades in a row: every byte, every counter", repeat);
	check(fds_last == fds2, "descriptors after upgrade 2 and %d: %d, %d", repeat, fds2, fds_last);
	check(spawn_rss_is_inflated() || rss_last <= rss2 + 4096,
	      "RSS after upgrade 2 and %d: %ld, %ld KiB", repeat, rss2, rss_last);

	/*
	 * 4: SIGTERM while an upgrade is under way (the new process sends it to
	 * the old one before it says it is ready: test hook).  It is not lost:
	 * the old process hands it on, and the new one stops, cleanly.
	 */
	{
		int old_st, new_st, st;
		pid_t newpid, w;
		sigset_t chld;

		/* The old processes of the upgrades so far, gone: reaped now. */
		while ((w = waitpid(-1, &st, WNOHANG)) > 0)
			if (w == sp.pid)
				sp_gone = true;
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		(void) sigprocmask(SIG_BLOCK, &chld, NULL);
		write_hook(hook, "term");
		start_upgrade();
		await_exits(pid, sp.pid, &sp_gone, &old_st, &new_st, &newpid);
		check(old_st != -1 && WIFEXITED(old_st) && WEXITSTATUS(old_st) == 0,
		      "SIGTERM during an upgrade: the old process exits 0 once the new one is ready");
		check(new_st != -1 && WIFEXITED(new_st) && WEXITSTATUS(new_st) == 0,
		      "SIGTERM during an upgrade is not lost: the new process (%d) stops cleanly",
		      (int)newpid);
		if (new_st == -1) {
			pid_t left = daemon_pid();

			if (left > 0 && left != pid) {
				kill(left, SIGKILL);
				(void) waitpid(left, NULL, 0);
			}
		}
	}
	if (sp_gone) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", sp.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", sp.dir);
	} else {
		(void) spawn_stop(&sp);
	}

	/*
	 * 5: a SIGTERM that came just before an upgrade began, in the loop
	 * iteration that read the request (test hook: the old process raises
	 * it first thing).  Not yet handled, it is not lost either: the new
	 * process stops, cleanly.
	 */
	{
		struct spawned s5;
		int old_st = -1, new_st = -1, fd;
		pid_t newpid = -1;

		write_hook(hook, "selfterm");
		if (spawn_start(&s5, bin, "", 0) < 0 || (fd = spawn_ctl_open(&s5)) < 0) {
			check(0, "a daemon for the SIGTERM-before-upgrade case");
		} else {
			static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":5,"
						  "\"method\":\"daemon.upgrade\"}\n";

			spawn_send_all(fd, req, sizeof(req) - 1);
			await_exits(s5.pid, 0, NULL, &old_st, &new_st, &newpid);
			check(old_st != -1 && WIFEXITED(old_st) && WEXITSTATUS(old_st) == 0,
			      "SIGTERM just before an upgrade: the old process exits 0 once the "
			      "new one is ready");
			check(new_st != -1 && WIFEXITED(new_st) && WEXITSTATUS(new_st) == 0,
			      "SIGTERM just before an upgrade is not lost: the new process (%d) "
			      "stops cleanly", (int)newpid);
			close(fd);
			if (old_st == -1) {
				kill(s5.pid, SIGKILL);
				(void) waitpid(s5.pid, NULL, 0);
			}
			if (new_st == -1) {
				/* Still serving on the socket: ask it its pid, then stop it. */
				int f2 = spawn_ctl_open(&s5);
				cJSON *ia = f2 >= 0 ? cJSON_Parse(spawn_ask(f2, 1, "daemon.info", NULL))
						    : NULL;
				const cJSON *pj = cJSON_GetObjectItemCaseSensitive(
					cJSON_GetObjectItemCaseSensitive(ia, "result"), "pid");

				if (cJSON_IsNumber(pj) && pj->valuedouble > 1) {
					kill((pid_t)pj->valuedouble, SIGKILL);
					(void) waitpid((pid_t)pj->valuedouble, NULL, 0);
				}
				cJSON_Delete(ia);
				if (f2 >= 0)
					close(f2);
			}
			{
				char cmd[128];

				snprintf(cmd, sizeof(cmd), "rm -rf %s", s5.dir);
				if (system(cmd) != 0)
					fprintf(stderr, "cannot remove %s\n", s5.dir);
			}
		}
	}
	unlink(hook);
	return check_summary();
}
