/*
 * fuzz-fastwrite: the tcp.write fast path against the general path, in a
 * whole daemon in this process.  Each input is one line.  When it has the
 * fast path's shape (proto_fastwrite_parse() takes it: then it can only
 * be a tcp.write, or an error, whichever path reads it) the line is
 * dispatched twice on one control connection: once as the daemon does
 * (rpc_dispatch_line(), the fast path first) and once by the general path
 * alone (rpc_dispatch_general()).  The two outcomes must be the same, or
 * the target aborts: the answer line byte for byte (code, id, data
 * fields, result; or no answer for a notification) and the bytes that
 * reached the peer.  Every answer must be JSON (tests/common/json-strict.c).
 *
 * The connection owns, at every input: socket 1, connected to a loopback
 * peer of ours that reads everything; socket 2, created and not
 * connected (-32002); socket 3, connected and shut down for writing
 * (-32002 "shutdown").  Other ids are nobody's (-32001).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "daemon.h"
#include "fuzz.h"
#include "json-strict.h"
#include "log.h"
#include "policy.h"
#include "proto-buf.h"
#include "proto-fastwrite.h"
#include "rpc.h"
#include "tcp.h"

#define WAIT_ROUNDS	4000		/* loop iterations to wait for anything */
#define OUT_MAX		(1u << 20)	/* bytes of answers per dispatch */
#define PEER_MAX	(1u << 20)	/* bytes at the peer per dispatch */

struct outcome {
	char	*out;		/* what the client received */
	size_t	 out_len;
	char	*peer;		/* what the peer received */
	size_t	 peer_len;
};

static struct daemon d;
static struct ctl *c;
static int client = -1;			/* our end of the control connection */
static int peer1 = -1, peer3 = -1;	/* the peers of sockets 1 and 3 */
static int listener = -1;

/* Runs the loop until the client has an answer line.  Returns it (owned), or aborts. */
static char *
answer(void)
{
	static char buf[65536];
	static size_t have;

	for (int i = 0; i < WAIT_ROUNDS; i++) {
		char *nl = memchr(buf, '\n', have);
		struct pollfd pf = { .fd = client, .events = POLLIN };
		ssize_t n;

		if (nl) {
			char *line = strndup(buf, (size_t)(nl - buf));

			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have);
			return line;
		}
		ev_run(d.loop, EVRUN_NOWAIT);
		n = recv(client, buf + have, sizeof(buf) - have, MSG_DONTWAIT);
		if (n > 0)
			have += (size_t)n;
		else
			(void) poll(&pf, 1, 1);
	}
	abort();
}

/* Sends a setup request and checks its answer holds want. */
static void
setup_call(const char *line, const char *want)
{
	char *a;

	rpc_dispatch_line(c, line, strlen(line));
	a = answer();
	if (!strstr(a, want)) {
		fprintf(stderr, "fuzz-fastwrite setup: %s\n  -> %s\n", line, a);
		abort();
	}
	free(a);
}

/* Connects a new daemon socket to our listener: returns the peer's fd. */
static int
setup_connect(int port, const char *want)
{
	char line[256];
	struct pollfd pf = { .fd = listener, .events = POLLIN };
	int fd;

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"tcp.connect\","
		 "\"params\":{\"host\":\"127.0.0.1\",\"port\":%d}}", port);
	setup_call(line, want);
	if (poll(&pf, 1, 5000) != 1 || (fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) < 0)
		abort();
	return fd;
}

static void
setup(void)
{
	static const char *const rules[] = {
		"allow connect dest=127.0.0.1", "deny connect", "deny listen",
	};
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	char err[128];
	int sv[2];

	signal(SIGPIPE, SIG_IGN);
	log_init("fuzz-fastwrite");
	log_set_level(LOG_CRIT);
	conf_defaults(&d.conf);
	d.conf.linger_ms = 0;
	strcpy(d.conf.resolver_lookups, "f");
	d.conf.policy = policy_new();
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (!d.conf.policy || policy_add(d.conf.policy, rules[i], (int)i + 1, err,
						 sizeof(err)) < 0)
			abort();
	if (policy_finish(d.conf.policy) < 0 || daemon_init(&d, ev_default_loop(0)) < 0)
		abort();
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(listener, 4) < 0 || getsockname(listener, (struct sockaddr *)&sin, &sl) < 0)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0 ||
	    !(c = ctl_new(&d, sv[0])))
		abort();
	client = sv[1];
	peer1 = setup_connect(ntohs(sin.sin_port), "\"socket\":1,");
	setup_call("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"tcp.create\"}", "\"socket\":2");
	peer3 = setup_connect(ntohs(sin.sin_port), "\"socket\":3,");
	setup_call("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"tcp.shutdown\",\"params\":"
		   "{\"socket\":3}}", "\"result\"");
}

/* Reads what is waiting at fd (without blocking) into *buf.  Returns the bytes. */
static size_t
take(int fd, char **buf, size_t max)
{
	size_t len = 0;
	ssize_t n;

	*buf = malloc(max);
	if (!*buf)
		abort();
	while (len < max && (n = recv(fd, *buf + len, max - len, MSG_DONTWAIT)) > 0)
		len += (size_t)n;
	return len;
}

/*
 * One dispatch of line by path (the daemon's, or the general one alone),
 * then the loop until nothing is pending: the answer and what socket 1's
 * peer got (as many bytes as the daemon counts written, waited for).
 */
static void
run(void (*path)(struct ctl *, const char *, size_t), const char *line, size_t len,
    struct outcome *o)
{
	struct tcp *t = ctl_find_tcp(c, 1);
	uint64_t before = t->bytes_written;
	size_t want;
	int i;

	path(c, line, len);
	for (i = 0; i < WAIT_ROUNDS; i++) {
		ev_run(d.loop, EVRUN_NOWAIT);
		if (c->ncalls == 0 && proto_buf_used(&c->out) == 0)
			break;
	}
	if (i == WAIT_ROUNDS || c->flags & CTL_DEAD)
		abort();
	o->out_len = take(client, &o->out, OUT_MAX);
	want = (size_t)(t->bytes_written - before);
	if (want > PEER_MAX)
		abort();
	o->peer = malloc(want + 1);
	if (!o->peer)
		abort();
	o->peer_len = 0;
	for (i = 0; o->peer_len < want && i < WAIT_ROUNDS; i++) {
		struct pollfd pf = { .fd = peer1, .events = POLLIN };
		ssize_t n = recv(peer1, o->peer + o->peer_len, want - o->peer_len, MSG_DONTWAIT);

		if (n > 0)
			o->peer_len += (size_t)n;
		else
			(void) poll(&pf, 1, 1);
	}
	if (o->peer_len != want)
		abort();	/* counted as written, never arrived */
}

static void
check_lines(const struct outcome *o)
{
	const char *p = o->out, *end = o->out + o->out_len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl || !json_strict_valid(p, (size_t)(nl - p)))
			abort();
		p = nl + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct proto_fastwrite fw;
	struct outcome a, b;
	char *line;

	if (!ready) {
		setup();
		ready = true;
	}
	if (!proto_fastwrite_parse((const char *)data, size, &fw))
		return 0;
	/* NUL-terminated, as proto_reader_next() hands lines out. */
	line = malloc(size + 1);
	if (!line)
		abort();
	memcpy(line, data, size);
	line[size] = '\0';
	run(rpc_dispatch_line, line, size, &a);
	run(rpc_dispatch_general, line, size, &b);
	free(line);
	check_lines(&a);
	check_lines(&b);
	if (a.out_len != b.out_len || memcmp(a.out, b.out, a.out_len) != 0) {
		fprintf(stderr, "fuzz-fastwrite: the answers differ\n  daemon:  %.*s  general: %.*s",
			(int)a.out_len, a.out, (int)b.out_len, b.out);
		abort();
	}
	if (a.peer_len != b.peer_len || memcmp(a.peer, b.peer, a.peer_len) != 0) {
		fprintf(stderr, "fuzz-fastwrite: the peer got %zu bytes, then %zu, or others\n",
			a.peer_len, b.peer_len);
		abort();
	}
	free(a.out);
	free(a.peer);
	free(b.out);
	free(b.peer);
	return 0;
}
