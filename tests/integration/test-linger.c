/*
 * test-linger: what becomes of bytes accepted for writing when the linger
 * time runs out, with a real tisockd and a loopback peer that never reads
 * (until the daemon has given up on it).
 *
 * The daemon may reset a connection whose bytes are not all through, but
 * then the owner must be told exactly how many did not reach the peer:
 * the peer, reading everything it got after the reset, plus the daemon's
 * undeliveredBytes must come to every byte the daemon accepted.  Three
 * ways to end such a connection: a graceful tcp.close (tcp.closed reason
 * linger, the close answer and each unfinished write carry the figures),
 * the client vanishing (the daemon logs the figure with the owner's uid
 * and pid, and monitors see it in the close event), and SIGTERM (every
 * pending write is answered -32004 with how much of it was written, and
 * tcp.closed reason shutdown, before the connection ends).  And a
 * graceful close is not over before the peer has acknowledged every
 * byte: with all of them in the kernel, it waits for the peer to read.
 *
 *	test-linger DAEMON
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "proto-base64.h"
#include "proto-errors.h"
#include "spawn.h"

#define LINGER_MS	400		/* the daemons' linger-ms */
#define CHUNK		(64u << 10)	/* decoded bytes per tcp.write */
#define NWRITES		128		/* 8 MiB in all: past the kernel's buffers on loopback */
#define TOTAL		((size_t)CHUNK * NWRITES)
#define WRITE_ID0	100		/* ids of the writes: WRITE_ID0 + i */
#define CLOSE_ID	90
#define INFO_ID		91
#define LINE_MAX_LEN	(1u << 20)

static int slow = 1;		/* deadline factor: 4 under a wrapper such as valgrind */
#define DEADLINE_MS	(15000 * slow)

/* What became of one connection's bytes, as the client and the peer saw it. */
struct tally {
	long long	 undelivered;	/* the daemon's figure (tcp.closed or monitor) */
	long long	 close_undelivered;	/* in the close answer, -1: none */
	int		 ok, failed, unanswered;	/* write answers */
	bool		 prefix;	/* OK answers came first, then only errors */
	bool		 written_ok;	/* every failed write had 0 <= written <= its bytes */
	bool		 write_figures;	/* ... and undeliveredBytes == bytes - what left */
	long long	 ok_bytes;	/* bytes of the writes answered OK */
	long long	 failed_written;	/* sum of written over the failed writes */
	long long	 failed_undelivered;	/* sum of their undeliveredBytes */
	char		 reason[32];	/* tcp.closed's reason */
	char		 first_error[512];
	unsigned char	 answered[NWRITES];	/* by write */
	bool		 closed;	/* tcp.closed came */
	bool		 close_seen;	/* the close answer came */
};

/* A control connection: the fd and its unparsed input. */
struct cl {
	int	 fd;
	char	*buf;
	size_t	 len;
	bool	 eof;
	struct tally *t;	/* where write answers and tcp.closed go, if any */
};

static unsigned char
pattern(size_t i)
{
	return (unsigned char)((i % 251) ^ (i >> 16));
}

static int
unix_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct cl *
cl_open(const char *path)
{
	struct cl *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->buf = malloc(LINE_MAX_LEN);
	c->fd = unix_connect(path);
	if (c->fd < 0 || !c->buf) {
		free(c->buf);
		free(c);
		return NULL;
	}
	return c;
}

static void
cl_close(struct cl *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

/* Writes all of p within the deadline.  Returns 0 or -1. */
static int
cl_send(struct cl *c, const char *p, size_t n)
{
	long long end = spawn_now_ms() + DEADLINE_MS;

	while (n > 0) {
		struct pollfd pf = { .fd = c->fd, .events = POLLOUT };
		ssize_t k;

		if (spawn_now_ms() >= end)
			return -1;
		if (poll(&pf, 1, 200) <= 0)
			continue;
		k = send(c->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The next message within timeout_ms, or NULL (timeout, or EOF: c->eof). */
static cJSON *
cl_next(struct cl *c, int timeout_ms)
{
	long long end = spawn_now_ms() + timeout_ms;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd pf = { .fd = c->fd, .events = POLLIN };
		int left = (int)(end - spawn_now_ms());
		ssize_t k;

		if (nl) {
			cJSON *m;

			*nl = '\0';
			m = cJSON_Parse(c->buf);
			c->len -= (size_t)(nl + 1 - c->buf);
			memmove(c->buf, nl + 1, c->len);
			if (m)
				return m;
			continue;
		}
		if (c->eof || left <= 0 || c->len == LINE_MAX_LEN)
			return NULL;
		if (poll(&pf, 1, left) <= 0)
			continue;
		k = recv(c->fd, c->buf + c->len, LINE_MAX_LEN - c->len, 0);
		if (k <= 0) {
			c->eof = true;
			continue;
		}
		c->len += (size_t)k;
	}
}

static void tally_add(struct tally *t, const cJSON *m);

static long long
jint(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}

static const char *
jstr(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* Sends line and returns the answer with that id (other messages go to c->t), or NULL. */
static cJSON *
cl_call_line(struct cl *c, int id, const char *line)
{
	long long end = spawn_now_ms() + DEADLINE_MS;

	if (cl_send(c, line, strlen(line)) < 0)
		return NULL;
	while (spawn_now_ms() < end) {
		cJSON *m = cl_next(c, (int)(end - spawn_now_ms()));

		if (!m)
			return NULL;
		if (jint(m, "id", NULL) == id)
			return m;
		if (c->t)
			tally_add(c->t, m);
		cJSON_Delete(m);
	}
	return NULL;
}

/* Sends one request and returns its answer, or NULL. */
static cJSON *
cl_call(struct cl *c, int id, const char *method, const char *params)
{
	char line[512];

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"%s%s}\n", id,
		 method, params ? ",\"params\":" : "", params ? params : "");
	return cl_call_line(c, id, line);
}

/* The tcp.write line of write i (CHUNK bytes of the pattern) to s, in line. */
static void
write_line(char *line, int i, long long s)
{
	size_t b64 = proto_base64_encoded_len(CHUNK);
	unsigned char raw[CHUNK];
	int n;

	for (size_t k = 0; k < CHUNK; k++)
		raw[k] = pattern((size_t)i * CHUNK + k);
	n = snprintf(line, 160, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.write\","
		     "\"params\":{\"socket\":%lld,\"data\":\"", WRITE_ID0 + i, s);
	proto_base64_encode(line + n, raw, CHUNK);
	memcpy(line + n + b64, "\"}}\n", 5);
}

/* A listener on 127.0.0.1 with an ephemeral port.  Returns the fd; the port in *port. */
static int
peer_listen(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/*
 * Connects a daemon socket of c to a peer of ours.  Returns the socket id
 * (or -1); the peer's fd in *peer.
 */
static long long
connect_pair(struct cl *c, int *peer)
{
	int port, lfd = peer_listen(&port);
	char params[64];
	long long s = -1;
	cJSON *a;

	*peer = -1;
	if (lfd < 0)
		return -1;
	snprintf(params, sizeof(params), "{\"port\":%d}", port);
	a = cl_call(c, 1, "tcp.connect", params);
	s = jint(a, "result", "socket");
	cJSON_Delete(a);
	if (s > 0) {
		struct pollfd pf = { .fd = lfd, .events = POLLIN };

		if (poll(&pf, 1, DEADLINE_MS) == 1)
			*peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	close(lfd);
	return *peer >= 0 ? s : -1;
}

/*
 * Sends NWRITES writes of CHUNK bytes (the pattern, continuing) to s, then
 * tcp.info: true when the daemon accepted every byte and holds some it
 * could not hand to the kernel.  Answers that come meanwhile are dropped:
 * the cases look only at what comes after.
 */
static bool
write_all(struct cl *c, long long s)
{
	char *line = malloc(proto_base64_encoded_len(CHUNK) + 160), params[64];
	bool ok = line;
	cJSON *a;

	for (int i = 0; ok && i < NWRITES; i++) {
		write_line(line, i, s);
		ok = cl_send(c, line, strlen(line)) == 0;
	}
	free(line);
	if (!ok)
		return false;
	snprintf(params, sizeof(params), "{\"socket\":%lld}", s);
	a = cl_call(c, INFO_ID, "tcp.info", params);
	ok = jint(a, "result", "bytesWritten") + jint(a, "result", "pendingWriteBytes") ==
		     (long long)TOTAL && jint(a, "result", "pendingWriteBytes") > 0;
	if (!ok)
		fprintf(stderr, "tcp.info after the writes: %s\n", a ? cJSON_PrintUnformatted(a) : "none");
	cJSON_Delete(a);
	return ok;
}

/*
 * What the peer gets after the daemon gave up: reads until the reset (or
 * EOF), checking each byte against the pattern.  Returns the count, or -1
 * when a byte is wrong or the reset never comes.
 */
static long long
peer_drain(int peer)
{
	static unsigned char buf[1 << 16];
	long long got = 0, end = spawn_now_ms() + DEADLINE_MS;

	while (spawn_now_ms() < end) {
		struct pollfd pf = { .fd = peer, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 200) <= 0)
			continue;
		n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return got;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern((size_t)got + (size_t)i)) {
				fprintf(stderr, "peer: byte %lld is wrong\n", got + (long long)i);
				return -1;
			}
		got += n;
	}
	fprintf(stderr, "peer: no end after %lld bytes\n", got);
	return -1;
}

/* Takes one message into t: a write answer, a close answer, tcp.closed. */
static void
tally_add(struct tally *t, const cJSON *m)
{
	long long id = jint(m, "id", NULL), w, u;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(m, "error");

	if (!strcmp(jstr(m, "method", NULL), "tcp.closed")) {
		t->undelivered = jint(m, "params", "undeliveredBytes");
		snprintf(t->reason, sizeof(t->reason), "%s", jstr(m, "params", "reason"));
		t->closed = true;
		return;
	}
	if (id == CLOSE_ID) {
		t->close_undelivered = jint(m, "result", "undeliveredBytes");
		t->close_seen = true;
		return;
	}
	if (id < WRITE_ID0 || id >= WRITE_ID0 + NWRITES || t->answered[id - WRITE_ID0])
		return;
	t->answered[id - WRITE_ID0] = 1;
	t->unanswered--;
	if (!e) {
		t->prefix = t->prefix && t->failed == 0 && jint(m, "result", "bytes") == CHUNK;
		t->ok++;
		t->ok_bytes += CHUNK;
		return;
	}
	if (!t->failed) {
		char *text = cJSON_PrintUnformatted(m);

		snprintf(t->first_error, sizeof(t->first_error), "%s", text ? text : "?");
		free(text);
	}
	t->failed++;
	w = jint(e, "data", "written");
	u = jint(e, "data", "undeliveredBytes");
	if (jint(m, "error", "code") != PROTO_E_CLOSED || w < 0 || w > CHUNK)
		t->written_ok = false;
	if (u < 0 || u > CHUNK || u < CHUNK - w)
		t->write_figures = false;
	t->failed_written += w;
	t->failed_undelivered += u;
}

static void
tally_init(struct tally *t)
{
	*t = (struct tally){ .undelivered = -1, .close_undelivered = -1, .unanswered = NWRITES,
			     .prefix = true, .written_ok = true, .write_figures = true };
}

/*
 * Reads c (whose tally is t) until every write and the close (if asked)
 * are answered and tcp.closed came, or until EOF when until_eof; within
 * the deadline.
 */
static void
tally_collect(struct cl *c, bool want_close, bool until_eof)
{
	struct tally *t = c->t;
	long long end = spawn_now_ms() + DEADLINE_MS;

	while (spawn_now_ms() < end) {
		cJSON *m;

		if (!until_eof && t->closed && (t->close_seen || !want_close) && t->unanswered == 0)
			break;
		m = cl_next(c, (int)(end - spawn_now_ms()));
		if (!m)
			break;
		tally_add(t, m);
		cJSON_Delete(m);
	}
}

/*
 * A graceful tcp.close with writes the peer will not take: linger-ms
 * later the daemon resets the connection, and tells how many bytes did
 * not reach the peer in tcp.closed (reason linger), in the close answer,
 * and write by write.
 */
static void
test_close_linger(const char *sock)
{
	struct cl *c = cl_open(sock);
	struct tally t;
	char line[160];
	long long s, got;
	int peer = -1;

	tally_init(&t);
	if (c)
		c->t = &t;
	s = c ? connect_pair(c, &peer) : -1;
	check(s > 0, "close: a socket connected to a peer that does not read");
	if (s <= 0)
		goto out;
	check(write_all(c, s), "close: %zu bytes accepted, some held by the daemon", TOTAL);
	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.close\","
		 "\"params\":{\"socket\":%lld}}\n", CLOSE_ID, s);
	check(cl_send(c, line, strlen(line)) == 0, "close: tcp.close sent");
	tally_collect(c, true, false);
	got = peer_drain(peer);
	check(t.unanswered == 0 && t.prefix && t.failed > 0,
	      "close: every write answered, first OK, then the ones linger-ms cut (%d OK, "
	      "%d failed, %d unanswered)", t.ok, t.failed, t.unanswered);
	check(t.written_ok && t.write_figures, "close: each cut write says -32004 with written and "
	      "undeliveredBytes: %s", t.first_error);
	check(!strcmp(t.reason, "linger") && t.undelivered > 0,
	      "close: tcp.closed reason linger with undeliveredBytes (reason \"%s\", %lld)",
	      t.reason, t.undelivered);
	check(t.close_undelivered >= 0 && t.close_undelivered == t.undelivered,
	      "close: the close answer carries the same undeliveredBytes (%lld, tcp.closed %lld)",
	      t.close_undelivered, t.undelivered);
	check(got >= 0 && got + t.undelivered == (long long)TOTAL,
	      "close: the peer's %lld bytes plus %lld undelivered are the %zu accepted", got,
	      t.undelivered, TOTAL);
	check(t.failed_undelivered <= t.undelivered && t.ok_bytes + t.failed_written <= (long long)TOTAL,
	      "close: the writes' figures add up (%lld of %lld undelivered in failed writes)",
	      t.failed_undelivered, t.undelivered);
out:
	if (peer >= 0)
		close(peer);
	cl_close(c);
}

/* The first line of the file at path holding every one of the needles (NULL-ended). */
static bool
log_has(const char *path, const char *const *needles, char *found, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	bool ok = false;

	if (!f)
		return false;
	while (!ok && fgets(line, sizeof(line), f)) {
		ok = true;
		for (int i = 0; needles[i]; i++)
			ok = ok && strstr(line, needles[i]);
		if (ok)
			snprintf(found, len, "%s", line);
	}
	fclose(f);
	return ok;
}

/*
 * The client vanishes with writes the peer will not take: linger-ms
 * later the daemon resets the connection, logs how many bytes did not
 * reach the peer (with the owner's uid and pid), and monitors get the
 * figure in the socket's close event.
 */
static void
test_owner_gone(const char *sock, const char *log_path)
{
	struct cl *c = cl_open(sock), *m = cl_open(sock);
	long long s, got, undelivered = -1, end;
	int peer = -1;
	char needle[4][64], found[1024] = "";
	const char *needles[5];
	bool logged;
	cJSON *a;

	a = m ? cl_call(m, 2, "daemon.monitor", NULL) : NULL;
	check(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		      cJSON_GetObjectItemCaseSensitive(a, "result"), "monitoring")),
	      "gone: monitoring");
	cJSON_Delete(a);
	s = c ? connect_pair(c, &peer) : -1;
	check(s > 0, "gone: a socket connected to a peer that does not read");
	if (s <= 0 || !m)
		goto out;
	check(write_all(c, s), "gone: %zu bytes accepted, some held by the daemon", TOTAL);
	cl_close(c);
	c = NULL;
	for (end = spawn_now_ms() + DEADLINE_MS; undelivered < 0 && spawn_now_ms() < end;) {
		cJSON *e = cl_next(m, (int)(end - spawn_now_ms()));
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "params");

		if (!e)
			break;
		if (!strcmp(jstr(p, "event", NULL), "closed") && jint(p, "socket", NULL) == s)
			undelivered = jint(p, "undeliveredBytes", NULL);
		cJSON_Delete(e);
	}
	got = peer_drain(peer);
	check(undelivered > 0, "gone: the monitor's close event carries undeliveredBytes (%lld)",
	      undelivered);
	check(got >= 0 && got + undelivered == (long long)TOTAL,
	      "gone: the peer's %lld bytes plus %lld undelivered are the %zu accepted", got,
	      undelivered, TOTAL);
	snprintf(needle[0], sizeof(needle[0]), "tcp#%lld ", s);
	snprintf(needle[1], sizeof(needle[1]), "uid=%d", (int)getuid());
	snprintf(needle[2], sizeof(needle[2]), "pid=%d", (int)getpid());
	snprintf(needle[3], sizeof(needle[3]), " %lld bytes", undelivered);
	for (int i = 0; i < 4; i++)
		needles[i] = needle[i];
	needles[4] = NULL;
	logged = log_has(log_path, needles, found, sizeof(found));
	check(logged, "gone: the daemon logs the socket, its owner's uid and pid, and the %lld bytes: %s",
	      undelivered, found[0] ? found : "no such line");
out:
	if (peer >= 0)
		close(peer);
	cl_close(c);
	cl_close(m);
}

/*
 * Waits (bounded) for the exit of a daemon already sent SIGTERM, without
 * a second one (it may be past its handlers), and removes its directory.
 * Returns its wait status, or -1 (then it is killed).
 */
static int
wait_exit(struct spawned *sp)
{
	int status = -1;
	char cmd[128];

	for (long long end = spawn_now_ms() + DEADLINE_MS; spawn_now_ms() < end;) {
		if (waitpid(sp->pid, &status, WNOHANG) == sp->pid)
			break;
		status = -1;
		poll(NULL, 0, 20);
	}
	if (status == -1) {
		kill(sp->pid, SIGKILL);
		(void)waitpid(sp->pid, NULL, 0);
	}
	sp->pid = -1;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", sp->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", sp->dir);
	return status;
}

/*
 * SIGTERM with writes the peer will not take: the connection stays up
 * through the drain, every pending write is answered -32004 with how
 * much of it was written, tcp.closed (reason shutdown) tells how many
 * bytes did not reach the peer, then the connection ends and the daemon
 * exits 0.
 */
static void
test_sigterm(const char *bin, const char *config)
{
	struct spawned sp;
	struct cl *c = NULL;
	struct tally t;
	long long s = -1, got;
	int peer = -1, status;

	check(spawn_start(&sp, bin, config, 0) == 0, "sigterm: a second daemon");
	c = cl_open(sp.socket);
	tally_init(&t);
	if (c)
		c->t = &t;
	s = c ? connect_pair(c, &peer) : -1;
	check(s > 0, "sigterm: a socket connected to a peer that does not read");
	if (s <= 0)
		goto out;
	check(write_all(c, s), "sigterm: %zu bytes accepted, some held by the daemon", TOTAL);
	kill(sp.pid, SIGTERM);
	tally_collect(c, false, true);
	/* The peer reads only once the daemon is gone: nothing more can come then. */
	status = wait_exit(&sp);
	check(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "sigterm: the daemon exits 0 (status %#x)", status);
	got = peer_drain(peer);
	check(t.unanswered == 0 && t.prefix && t.failed > 0,
	      "sigterm: every write answered before the connection ends (%d OK, %d failed, "
	      "%d unanswered)", t.ok, t.failed, t.unanswered);
	check(t.written_ok && t.write_figures, "sigterm: each pending write says -32004 with "
	      "written and undeliveredBytes: %s", t.first_error);
	check(!strcmp(t.reason, "shutdown") && t.undelivered > 0,
	      "sigterm: tcp.closed reason shutdown with undeliveredBytes (reason \"%s\", %lld)",
	      t.reason, t.undelivered);
	check(got >= 0 && got + t.undelivered == (long long)TOTAL,
	      "sigterm: the peer's %lld bytes plus %lld undelivered are the %zu accepted", got,
	      t.undelivered, TOTAL);
	check(c->eof, "sigterm: the daemon ends the connection after the answers");
out:
	if (sp.pid > 0)
		spawn_stop(&sp);
	if (peer >= 0)
		close(peer);
	cl_close(c);
}

/*
 * A graceful close waits for the peer: every write answered (all bytes in
 * the kernel, none in the daemon), the close is not answered while the
 * peer has not acknowledged them; once the peer reads, it gets every
 * byte, then FIN, and the close answers with nothing undelivered.
 */
static void
test_close_waits_for_ack(const char *bin)
{
	struct spawned sp;
	struct cl *c = NULL;
	struct tally t;
	char line[160], params[64];
	long long s = -1, got;
	int peer = -1, n = 16;
	cJSON *a = NULL;

	check(spawn_start(&sp, bin, "[daemon]\nlinger-ms = 60000\n", 0) == 0,
	      "ack: a daemon with a long linger-ms");
	c = cl_open(sp.socket);
	tally_init(&t);
	if (c)
		c->t = &t;
	s = c ? connect_pair(c, &peer) : -1;
	check(s > 0, "ack: a socket connected to a peer that does not read yet");
	if (s <= 0)
		goto out;
	/* n writes, each answered before the next: all of them in the kernel. */
	for (int i = 0; i < n; i++) {
		char *req = malloc(proto_base64_encoded_len(CHUNK) + 160);

		if (req)
			write_line(req, i, s);
		a = req ? cl_call_line(c, WRITE_ID0 + i, req) : NULL;
		if (a)
			tally_add(&t, a);
		cJSON_Delete(a);
		a = NULL;
		free(req);
	}
	check(t.ok == n, "ack: %d writes answered OK", t.ok);
	snprintf(params, sizeof(params), "{\"socket\":%lld}", s);
	a = cl_call(c, INFO_ID, "tcp.info", params);
	check(jint(a, "result", "bytesWritten") == (long long)n * CHUNK &&
	      jint(a, "result", "pendingWriteBytes") == 0,
	      "ack: every write handed to the kernel, none held by the daemon");
	cJSON_Delete(a);
	a = NULL;
	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.close\","
		 "\"params\":{\"socket\":%lld}}\n", CLOSE_ID, s);
	check(cl_send(c, line, strlen(line)) == 0, "ack: tcp.close sent");
	a = cl_next(c, 300);
	check(!a, "ack: no close answer while the peer has not acknowledged the bytes: %s",
	      a ? cJSON_PrintUnformatted(a) : "none");
	cJSON_Delete(a);
	a = NULL;
	got = peer_drain(peer);
	check(got == (long long)n * CHUNK, "ack: the peer gets every byte, then FIN (%lld of %lld)",
	      got, (long long)n * CHUNK);
	t.close_seen = false;
	while (!t.close_seen && (a = cl_next(c, DEADLINE_MS))) {
		tally_add(&t, a);
		cJSON_Delete(a);
	}
	check(t.close_seen && t.close_undelivered == 0,
	      "ack: then the close answers, with undeliveredBytes 0 (%lld)", t.close_undelivered);
out:
	spawn_stop(&sp);
	if (peer >= 0)
		close(peer);
	cl_close(c);
}

int
main(int argc, char **argv)
{
	const char *bin = argc > 1 ? argv[1] : "daemon/tisockd";
	const char *wrap = getenv("TISOCK_DAEMON_WRAPPER");
	char config[128], log_path[] = "/tmp/tisock-linger-log-XXXXXX";
	struct spawned sp;
	int log_fd, saved_err, r;

	signal(SIGPIPE, SIG_IGN);
	if (wrap && *wrap)
		slow = 4;
	alarm(600);
	snprintf(config, sizeof(config), "[daemon]\nlinger-ms = %d\n", LINGER_MS);

	/* The first daemon's stderr goes to a file, for its log lines. */
	log_fd = mkstemp(log_path);
	saved_err = dup(2);
	if (log_fd < 0 || saved_err < 0 || dup2(log_fd, 2) < 0)
		return 99;
	r = spawn_start(&sp, bin, config, 0);
	dup2(saved_err, 2);
	close(saved_err);
	close(log_fd);
	check(r == 0, "the daemon is ready");
	if (r == 0) {
		test_close_linger(sp.socket);
		test_owner_gone(sp.socket, log_path);
		r = spawn_stop(&sp);
		check(r != -1 && WIFEXITED(r) && WEXITSTATUS(r) == 0,
		      "the daemon exits 0 (status %#x)", r);
	} else {
		spawn_stop(&sp);
	}
	/* Its log, into ours (a sanitizer's report, say). */
	{
		FILE *f = fopen(log_path, "r");
		char line[1024];

		while (f && fgets(line, sizeof(line), f))
			fprintf(stderr, "daemon log: %s", line);
		if (f)
			fclose(f);
	}
	unlink(log_path);
	test_sigterm(bin, config);
	test_close_waits_for_ack(bin);
	return check_summary();
}
