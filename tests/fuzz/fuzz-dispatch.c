/*
 * fuzz-dispatch: arbitrary bytes from a client, through a whole daemon in
 * this process: a control connection over a socketpair, the line reader,
 * the JSON-RPC parser, the dispatcher and every handler, with real
 * sockets behind them.  The loop runs until the daemon has answered what
 * it could and closed the connection; then the next input gets a fresh
 * connection to the same daemon, so state left behind is exercised too.
 *
 * The daemon's policy denies every connect (no traffic leaves for ports
 * the fuzzer guesses) and allows listening on 127.0.0.1 only; names are
 * resolved from the hosts file only.  Limits are small, so they are hit.
 *
 * Every line the daemon writes back must be JSON (RFC 8259, checked by
 * tests/common/json-strict.c, not by the daemon's own code): any other
 * line aborts.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
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
#include "proto-reader.h"

#define LOOP_ROUNDS	64		/* loop iterations per input at most */
#define OUT_LINE_MAX	(16u << 20)	/* longest answer line expected */

static struct daemon d;

static void
setup(void)
{
	static const char *const rules[] = {
		"deny connect",
		"allow listen dest=127.0.0.1",
		"deny listen",
	};
	char err[128];

	signal(SIGPIPE, SIG_IGN);
	log_init("fuzz-dispatch");
	log_set_level(LOG_CRIT);
	conf_defaults(&d.conf);
	d.conf.max_message_bytes = 4096;
	d.conf.client_budget = 65536;
	d.conf.client_sockets = 8;
	d.conf.client_requests = 16;
	d.conf.linger_ms = 0;
	d.conf.connect_timeout_ms = 100;
	strcpy(d.conf.resolver_lookups, "f");
	d.conf.policy = policy_new();
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (!d.conf.policy || policy_add(d.conf.policy, rules[i], (int)i + 1, err,
						 sizeof(err)) < 0)
			abort();
	if (policy_finish(d.conf.policy) < 0 || daemon_init(&d, ev_default_loop(0)) < 0)
		abort();
}

/* Reads what the daemon wrote to fd and aborts on any line that is not JSON.  Returns recv's last. */
static ssize_t
drain_checked(int fd, struct proto_reader *r)
{
	ssize_t n;

	for (;;) {
		void *space;
		size_t room, len;
		char *line;

		if (proto_reader_space(r, 65536, &space, &room) < 0)
			abort();
		n = recv(fd, space, room, MSG_DONTWAIT);
		if (n <= 0)
			return n;
		proto_reader_commit(r, (size_t)n);
		while ((n = proto_reader_next(r, &line, &len)) != PROTO_READER_NONE)
			if (n != PROTO_READER_LINE || !json_strict_valid(line, len))
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct proto_reader *out;
	size_t off = 0;
	int sv[2];

	if (!ready) {
		setup();
		ready = true;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	if (!ctl_new(&d, sv[0])) {
		close(sv[1]);
		return 0;
	}
	out = proto_reader_new(OUT_LINE_MAX);
	if (!out)
		abort();
	for (int round = 0; round < LOOP_ROUNDS; round++) {
		ssize_t n;

		if (off < size) {
			n = send(sv[1], data + off, size - off, MSG_DONTWAIT);
			if (n > 0)
				off += (size_t)n;
			if (off == size)
				shutdown(sv[1], SHUT_WR);	/* the client is done: EOF */
		} else if (size == 0 && round == 0) {
			shutdown(sv[1], SHUT_WR);
		}
		ev_run(d.loop, EVRUN_NOWAIT);
		n = drain_checked(sv[1], out);
		if (n == 0 && off == size)
			break;	/* answered everything and closed */
	}
	/* Gone: whatever is left closes now, as for a client that vanishes. */
	close(sv[1]);
	proto_reader_free(out);
	for (int round = 0; round < 4; round++)
		ev_run(d.loop, EVRUN_NOWAIT);
	return 0;
}
