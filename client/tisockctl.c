/*
 * tisockctl: call, inspect, monitor and use tisockd's sockets from the
 * shell.  Built on libtisock's public API (the raw call for the methods
 * the Titanium API has no word for); the method table from protocol/
 * gives `call --help` its list without asking a daemon.
 *
 * Output: results on stdout, diagnostics on stderr with a "tisockctl: "
 * prefix, no colour.  --json makes stdout one JSON value per line, errors
 * included (see tisockctl-args.c).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "proto-errors.h"
#include "proto-methods.h"
#include "tisockctl.h"

/* ---- --timeout for the request/answer commands ------------------------- */

static char alarm_text[160];	/* what on_alarm writes, made before it can run */
static int alarm_fd = STDERR_FILENO;

static void
on_alarm(int sig)
{
	(void)sig;
	(void) !write(alarm_fd, alarm_text, strlen(alarm_text));
	_exit(EXIT_TIMEOUT);
}

void
ctl_arm_timeout(const struct opts *o)
{
	struct itimerval it = { .it_value = { .tv_sec = o->timeout_ms / 1000,
					      .tv_usec = (o->timeout_ms % 1000) * 1000 } };

	if (o->timeout_ms <= 0)
		return;
	if (o->json)
		snprintf(alarm_text, sizeof(alarm_text), "{\"error\":{\"type\":\"timeout\","
			 "\"message\":\"timed out after %ld ms\",\"exitStatus\":%d}}\n",
			 o->timeout_ms, EXIT_TIMEOUT);
	else
		snprintf(alarm_text, sizeof(alarm_text), "tisockctl: timed out after %ld ms\n",
			 o->timeout_ms);
	alarm_fd = o->json ? STDOUT_FILENO : STDERR_FILENO;
	signal(SIGALRM, on_alarm);
	setitimer(ITIMER_REAL, &it, NULL);
}

/* Calls method; on success returns 0 and the parsed result in *ret. */
int
ctl_call(tisock_client *c, const char *method, const char *params, cJSON **ret)
{
	char *text = NULL;
	int r = tisock_client_call(c, method, params, &text);

	*ret = NULL;
	if (r < 0)
		return r;
	*ret = cJSON_Parse(text);
	free(text);
	return *ret ? 0 : -EPROTO;
}

/* Prints v: one line with --json or off a terminal, indented on a terminal. */
void
ctl_print_json(const struct opts *o, const cJSON *v)
{
	char *text = o->json || !isatty(STDOUT_FILENO) ? cJSON_PrintUnformatted(v)
						       : cJSON_Print(v);

	if (text)
		puts(text);
	free(text);
}

/* Whether the member called name holds milliseconds (uptime, *Ms). */
static bool
is_duration(const char *name)
{
	size_t n = strlen(name);

	return strcmp(name, "uptime") == 0 || (n > 2 && strcmp(name + n - 2, "Ms") == 0);
}

/*
 * "key: value" lines, nested objects as dotted keys.  Durations carry
 * their unit: "uptime: 54m 20s", "limits.lingerMs: 5000 ms".
 */
static void
print_flat(const char *prefix, const cJSON *o)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, o) {
		char key[256];

		snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", m->string);
		if (cJSON_IsObject(m)) {
			print_flat(key, m);
		} else if (cJSON_IsNumber(m) && strcmp(m->string, "uptime") == 0) {
			char d[64];

			ctl_duration(m->valuedouble, d, sizeof(d));
			if (m->valuedouble < 1000.)
				printf("%s: %s\n", key, d);
			else
				printf("%s: %s (%.0f ms)\n", key, d, m->valuedouble);
		} else if (cJSON_IsNumber(m) && is_duration(m->string)) {
			printf("%s: %.0f ms\n", key, m->valuedouble);
		} else if (cJSON_IsString(m)) {
			printf("%s: %s\n", key, m->valuestring);
		} else {
			char *v = cJSON_PrintUnformatted(m);

			printf("%s: %s\n", key, v ? v : "?");
			free(v);
		}
	}
}

/* ---- commands ---------------------------------------------------------- */

/* A command that takes no argument was given one. */
int
ctl_no_args(const struct opts *o, char **argv)
{
	return ctl_usage(o, "%s takes no argument (got \"%s\")", argv[0], argv[1]);
}

static int
cmd_info(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	cJSON *res;
	int r;

	if (argc > 1)
		return ctl_no_args(o, argv);
	ctl_arm_timeout(o);
	r = ctl_call(c, "daemon.info", NULL, &res);
	if (r < 0)
		return ctl_client_failed(c, r);
	if (o->json)
		ctl_print_json(o, res);
	else
		print_flat("", res);
	cJSON_Delete(res);
	return EXIT_OK;
}

static tisock_client *call_client;

/*
 * Ctrl-C during `call`: the pending request is cancelled (rpc.cancel) and
 * its -32800 answer printed as any error; a second Ctrl-C ends at once.
 */
static void
on_call_sigint(int sig)
{
	(void)sig;
	tisock_client_interrupt(call_client);
	signal(SIGINT, SIG_DFL);
}

/* daemon.metrics: the exposition text as it is (the result object with --json). */
static int
cmd_metrics(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	const cJSON *text;
	cJSON *res;
	int r;

	if (argc > 1)
		return ctl_no_args(o, argv);
	ctl_arm_timeout(o);
	r = ctl_call(c, "daemon.metrics", NULL, &res);
	if (r < 0)
		return ctl_client_failed(c, r);
	text = cJSON_GetObjectItemCaseSensitive(res, "text");
	if (o->json)
		ctl_print_json(o, res);
	else if (cJSON_IsString(text))
		fputs(text->valuestring, stdout);
	cJSON_Delete(res);
	return EXIT_OK;
}

/*
 * Checks call's params before they go: JSON (a syntax error is told with
 * its line and column, and the line with a caret under the place), and an
 * object.  Returns EXIT_OK or the usage error, reported.
 */
static int
check_params(const struct opts *o, const char *params)
{
	const char *end = NULL, *at, *bol;
	cJSON *v = cJSON_ParseWithOpts(params, &end, true);
	int line = 1, col = 1;
	char extra[128];

	if (v) {
		bool obj = cJSON_IsObject(v);

		cJSON_Delete(v);
		if (obj)
			return EXIT_OK;
		return ctl_usage(o, "params must be a JSON object, e.g. '{\"socket\": 1}'");
	}
	at = cJSON_GetErrorPtr();
	if (!at || at < params || at > params + strlen(params))
		at = params + strlen(params);
	bol = params;
	for (const char *p = params; p < at; p++)
		if (*p == '\n') {
			line++;
			bol = p + 1;
		}
	for (const char *p = bol; p < at; p++)
		col += ((unsigned char)*p & 0xc0) != 0x80;	/* characters, not bytes */
	snprintf(extra, sizeof(extra), "{\"line\":%d,\"column\":%d}", line, col);
	if (o->json)
		return ctl_fail(o, EXIT_USAGE, "usage", extra, "params are not valid JSON: line %d, "
				"column %d", line, col);
	ctl_fail(o, EXIT_USAGE, "usage", NULL, "params are not valid JSON: line %d, column %d:",
		 line, col);
	fprintf(stderr, "  %.*s\n  %*s^\n", (int)strcspn(bol, "\r\n"), bol, col - 1, "");
	return EXIT_USAGE;
}

static int
cmd_call(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_call_sigint }, old_sa;
	char *params = NULL, *text = NULL;
	cJSON *parsed;
	int r;

	if (argc < 2)
		return ctl_usage(o, "call wants a METHOD (see tisockctl methods)");
	if (argc > 3)
		return ctl_usage(o, "call takes METHOD and one PARAMS argument; quote the JSON: "
				 "'{\"socket\": 1}'");
	if (argc == 3 && strcmp(argv[2], "-") == 0) {
		size_t cap = 0, len = 0, n;
		char buf[65536];

		while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
			char *p = realloc(params, cap = len + n + 1);

			if (!p) {
				free(params);
				ctl_err("out of memory");
				return EXIT_FAILED;
			}
			params = p;
			memcpy(params + len, buf, n);
			len += n;
			params[len] = '\0';
		}
	} else if (argc == 3) {
		params = strdup(argv[2]);
	}
	if (params) {
		r = check_params(o, params);
		if (r != EXIT_OK) {
			free(params);
			return r;
		}
	}
	ctl_arm_timeout(o);
	call_client = c;
	sigemptyset(&sa.sa_mask);
	(void) sigaction(SIGINT, &sa, &old_sa);
	r = tisock_client_call(c, argv[1], params, &text);
	(void) sigaction(SIGINT, &old_sa, NULL);
	free(params);
	if (r < 0)
		return ctl_client_failed(c, r);
	parsed = cJSON_Parse(text);
	if (parsed)
		ctl_print_json(o, parsed);
	else
		puts(text);
	cJSON_Delete(parsed);
	free(text);
	return EXIT_OK;
}

/* o's member key if it is a string, else "". */
const char *
ctl_str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static const char *
endpoint_text(const cJSON *e, char *buf, size_t len)
{
	const char *addr = ctl_str_of(e, "address");
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(e, "port");

	if (!e || !*addr)
		return "-";
	snprintf(buf, len, strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr,
		 cJSON_IsNumber(port) ? port->valueint : 0);
	return buf;
}

static void
age_text(double ms, char *buf, size_t len)
{
	if (ms < 60000)
		snprintf(buf, len, "%.1fs", ms / 1000);
	else if (ms < 3600000)
		snprintf(buf, len, "%.0fm%02.0fs", ms / 60000 - 0.5, (double)((long long)ms / 1000 % 60));
	else
		snprintf(buf, len, "%.0fh%02lldm", ms / 3600000 - 0.5, (long long)ms / 60000 % 60);
}

static double
num_of(const cJSON *o, const char *path1, const char *path2)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path1);

	if (path2)
		v = cJSON_GetObjectItemCaseSensitive(v, path2);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Whether list shows a socket in state (--state, --open). */
static bool
list_wants(const struct opts *o, const char *state)
{
	int s;

	for (s = 0; s < _PROTO_STATE_MAX; s++)
		if (strcmp(state, proto_state_name(s)) == 0)
			break;
	if (o->open && (s == PROTO_STATE_CLOSED || s == PROTO_STATE_ERROR))
		return false;
	return !o->states || (s < _PROTO_STATE_MAX && (o->states & (1u << s)));
}

static int
cmd_list(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	const cJSON *s;
	cJSON *res;
	int r;

	if (argc > 1)
		return ctl_no_args(o, argv);
	ctl_arm_timeout(o);
	r = ctl_call(c, "tcp.list", "{\"all\":true}", &res);
	if (r < 0)
		return ctl_client_failed(c, r);
	if (!o->json)
		printf("%-6s %-14s %-12s %-24s %-24s %10s %10s %8s %8s\n", "ID", "OWNER", "STATE",
		       "LOCAL", "REMOTE", "READ", "WRITTEN", "PENDING", "AGE");
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(res, "sockets")) {
		char owner[32], local[64], remote[64], age[32];

		if (!list_wants(o, ctl_str_of(s, "state")))
			continue;
		if (o->json) {
			ctl_print_json(o, s);
			continue;
		}
		if (num_of(s, "owner", "client") == 0)
			snprintf(owner, sizeof(owner), "(lingering)");
		else
			snprintf(owner, sizeof(owner), "%.0f/%.0f", num_of(s, "owner", "pid"),
				 num_of(s, "owner", "uid"));
		age_text(num_of(s, "ageMs", NULL), age, sizeof(age));
		printf("%-6.0f %-14s %-12s %-24s %-24s %10.0f %10.0f %8.0f %8s\n",
		       num_of(s, "socket", NULL), owner, ctl_str_of(s, "state"),
		       endpoint_text(cJSON_GetObjectItemCaseSensitive(s, "local"), local,
				     sizeof(local)),
		       endpoint_text(cJSON_GetObjectItemCaseSensitive(s, "remote"), remote,
				     sizeof(remote)),
		       num_of(s, "bytesRead", NULL), num_of(s, "bytesWritten", NULL),
		       num_of(s, "pendingWriteBytes", NULL), age);
	}
	cJSON_Delete(res);
	return EXIT_OK;
}

static int
cmd_close(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	char params[96], *end;
	long long id;
	cJSON *res;
	int r;

	if (argc != 2)
		return ctl_usage(o, argc < 2 ? "close wants a socket ID (see tisockctl list)"
					     : "close takes one socket ID");
	errno = 0;
	id = strtoll(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || id <= 0)
		return ctl_usage(o, "not a socket id: \"%s\" (see tisockctl list)", argv[1]);
	snprintf(params, sizeof(params), "{\"socket\":%lld,\"admin\":true}", id);
	ctl_arm_timeout(o);
	r = ctl_call(c, "tcp.close", params, &res);
	if (r < 0)
		return ctl_client_failed(c, r);
	if (o->json)
		ctl_print_json(o, res);
	else
		printf("socket %lld: %s\n", id, ctl_str_of(res, "state"));
	cJSON_Delete(res);
	return EXIT_OK;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000. + (double)ts.tv_nsec / 1e6;
}

static int
cmd_ping(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	if (argc > 1)
		return ctl_no_args(o, argv);
	ctl_arm_timeout(o);
	for (long i = 1; i <= o->count; i++) {
		double t0 = now_ms(), ms;
		cJSON *res;
		int r = ctl_call(c, "daemon.info", NULL, &res);

		if (r < 0)
			return ctl_client_failed(c, r);
		ms = now_ms() - t0;
		if (o->json)
			printf("{\"seq\":%ld,\"ms\":%.3f}\n", i, ms);
		else
			printf("reply from %s %.0f: seq=%ld time=%.3f ms\n", ctl_str_of(res, "name"),
			       num_of(res, "pid", NULL), i, ms);
		fflush(stdout);
		cJSON_Delete(res);
	}
	return EXIT_OK;
}

/* ---- help --------------------------------------------------------------- */

#define O(x)	OPT_BIT(OPT_##x)

const struct command ctl_commands[] = {
	{ "info", "", "daemon version, uptime, limits and counters", NULL, 0, false, cmd_info },
	{ "methods", "", "every method and notification, from rpc.discover", NULL, 0, false,
	  cmd_methods },
	{ "describe", "METHOD", "a method's params and result, from rpc.discover", NULL, 0, false,
	  cmd_describe },
	{ "call", "METHOD [PARAMS|-]", "call any method with JSON params (- reads stdin)",
	  "Prints the result as JSON.  PARAMS must be a JSON object; a syntax error is\n"
	  "shown with its line and column.  On an error from the daemon prints \"error\n"
	  "CODE: MESSAGE DATA\" on stderr (with --json: {\"error\": {...}} on stdout) and\n"
	  "exits 1; an unknown method gets the nearest known one as a suggestion.  Ctrl-C\n"
	  "(SIGINT) while waiting cancels the request (rpc.cancel) and prints its answer,\n"
	  "the error -32800 \"request cancelled\" (exit 1), or the result when it came\n"
	  "first; a second Ctrl-C ends at once.\n",
	  0, false, cmd_call },
	{ "connect", "[--channel] [--progress] [-v] [--tls [TLS OPTIONS]] HOST:PORT",
	  "netcat through the daemon: stdin to the socket, the socket to stdout",
	  "Binary-safe.  At the end of stdin the sending side is shut down (FIN); exits\n"
	  "when stdin is all sent and the peer has closed its side.  --timeout bounds the\n"
	  "connect.  IPv6 addresses go in brackets: [::1]:8080.  --channel moves the\n"
	  "bytes over the data channel (tcp.channel: a socket the daemon relays, no JSON),\n"
	  "the fastest path.  --progress shows bytes sent and received, rates and the\n"
	  "time on stderr as they go (one line, redrawn on a terminal; a line a second\n"
	  "otherwise); -v prints a summary there at the end.  With --json, those and the\n"
	  "errors are JSON lines on stderr: stdout is the data.  --tls: the daemon speaks\n"
	  "TLS to the peer (stdin and stdout stay plaintext), checking its certificate\n"
	  "against the system's CAs (--cafile: those of FILE) and its name against HOST\n"
	  "(--servername: NAME, also sent as SNI); --insecure checks neither; --alpn\n"
	  "offers protocols.  The session (version, cipher, ALPN, the peer's certificate)\n"
	  "is told on stderr; a failed handshake says why (expired, unknown CA, name...).\n"
	  "--starttls smtp|imap speaks the protocol in plaintext up to its STARTTLS, then\n"
	  "TLS (tcp.startTls); the relay starts after the handshake.\n",
	  O(CHANNEL) | O(PROGRESS) | O(VERBOSE) | O(TLS) | O(SERVERNAME) | O(CAFILE) |
	  O(INSECURE) | O(ALPN) | O(STARTTLS), true, cmd_connect },
	{ "listen", "[-k] [--progress] [-v] [--tls --cert FILE --key FILE] [HOST:]PORT",
	  "accept a connection and relay it like connect",
	  "HOST defaults to 127.0.0.1; PORT 0 picks a free port.  \"listening on HOST:PORT\"\n"
	  "goes to stderr.  -k keeps accepting, one connection after another.  --timeout\n"
	  "bounds each wait for a connection.  --progress and -v as for connect.  --tls:\n"
	  "connections are TLS, served with the certificate of --cert and the key of\n"
	  "--key (the files are read here and sent as PEM text); --require-client-cert\n"
	  "asks clients for a certificate issued by a CA of --cafile.\n",
	  O(KEEP) | O(PROGRESS) | O(VERBOSE) | O(TLS) | O(CAFILE) | O(ALPN) | O(CERT) | O(KEY) |
	  O(REQUIRE_CERT), true, cmd_listen },
	{ "list", "[--state STATE[,STATE]] [--open]",
	  "the sockets you may see (all of them for root and the daemon's user)",
	  "A client's closed sockets stay listed for a while (up to 256 per client):\n"
	  "--open leaves them out, with those in error; --state shows only the states\n"
	  "named.\n", O(STATE) | O(OPEN), false, cmd_list },
	{ "monitor", "[--pid PID] [--socket ID] [--event KIND[,KIND]]",
	  "live events from every client (root and the daemon's user)",
	  "Kinds: client.connect client.disconnect create connect state accept read write\n"
	  "error close denied monitor.dropped.  After the command, --socket is the\n"
	  "socket id to follow; the daemon's socket is --socket before the command (or\n"
	  "-s).  Runs until interrupted (exit 0) or dropped by the daemon for falling\n"
	  "behind (exit 1).\n", O(PID) | O(MSOCKET) | O(EVENT), false, cmd_monitor },
	{ "close", "ID", "close any client's socket (root and the daemon's user)", NULL, 0, false,
	  cmd_close },
	{ "metrics", "", "every counter and gauge, Prometheus text format (root and the "
	  "daemon's user)",
	  "Prints daemon.metrics: the same text the daemon serves as GET /metrics when\n"
	  "[daemon] metrics-listen is set.  With --json, the result object.\n", 0, false,
	  cmd_metrics },
	{ "daemon", "upgrade", "replace the daemon by its binary on disk, keeping every "
	  "connection (root and the daemon's user)",
	  "daemon upgrade: the daemon re-executes the binary it was started from and hands\n"
	  "every client, socket and pending request to the new process (daemon.upgrade);\n"
	  "prints the old and new pid and version and the pause.  When the new process\n"
	  "cannot take over, the old one serves on and the error says why (exit 1).\n",
	  0, false, cmd_daemon },
	{ "ping", "[-c COUNT]", "round trips to the daemon, with their time", NULL, O(COUNT), false,
	  cmd_ping },
	{ "help", "[COMMAND]", "this help, or a command's", NULL, 0, false, NULL },
};
const size_t ctl_ncommands = sizeof(ctl_commands) / sizeof(ctl_commands[0]);

#undef O

/* `call --help`: every method with its params, from the compiled-in method table. */
static void
methods_help(FILE *f)
{
	fprintf(f, "\nMethods (see `tisockctl describe METHOD` for a daemon's own account):\n");
	for (int i = 0; i < _PROTO_M_MAX; i++) {
		const struct proto_method *m = &proto_methods[i];

		if (m->flags & PROTO_M_NOTIFICATION)
			continue;
		fprintf(f, "  %-16s %s\n", m->name, m->summary);
		for (const struct proto_field *p = m->params; p && p->name; p++)
			fprintf(f, "      %s%s%s\n", p->flags & PROTO_F_REQUIRED ? "" : "[",
				p->name, p->flags & PROTO_F_REQUIRED ? "" : "]");
	}
}

static void
command_help(FILE *f, const struct command *cmd)
{
	fprintf(f, "Usage: tisockctl [OPTIONS] %s%s%s\n\n%s.\n", cmd->name, *cmd->args ? " " : "",
		cmd->args, cmd->summary);
	if (cmd->help)
		fprintf(f, "\n%s", cmd->help);
	if (cmd->opts) {
		fprintf(f, "\nOptions of %s:\n", cmd->name);
		ctl_options_help(f, cmd->opts);
	}
	fprintf(f, "\nOptions of every command (before or after it):\n");
	ctl_options_help(f, OPT_GLOBAL);
	if (strcmp(cmd->name, "call") == 0 || strcmp(cmd->name, "describe") == 0)
		methods_help(f);
}

static void
help(FILE *f)
{
	fprintf(f, "Usage: tisockctl [OPTIONS] COMMAND [ARGS...]\n"
		"\n"
		"Call, inspect, monitor and use the sockets of tisockd.  Options may come\n"
		"anywhere on the line; \"--\" ends them.\n"
		"\n"
		"Options:\n");
	ctl_options_help(f, OPT_GLOBAL);
	fprintf(f, "\nCommands:\n");
	for (size_t i = 0; i < ctl_ncommands; i++) {
		char head[80];

		snprintf(head, sizeof(head), "%s %s", ctl_commands[i].name, ctl_commands[i].args);
		if (strlen(head) > 26)
			fprintf(f, "  %s\n  %-26s %s\n", head, "", ctl_commands[i].summary);
		else
			fprintf(f, "  %-26s %s\n", head, ctl_commands[i].summary);
	}
	fprintf(f, "\nExit status: 0 ok, 1 failed (an error from the daemon or the network),\n"
		"2 usage, 3 the daemon unreachable or gone, 4 timed out.\n"
		"See tisockctl(1).\n");
}

/* `help [COMMAND]` and `--help`: to stdout, exit 0; an unknown COMMAND is a usage error. */
static int
run_help(struct opts *o, int argc, char **argv)
{
	const struct command *what = o->cmd && o->cmd->run ? o->cmd : NULL;

	if (o->cmd && !o->cmd->run && argc > 1) {
		for (size_t i = 0; i < ctl_ncommands; i++)
			if (strcmp(ctl_commands[i].name, argv[1]) == 0)
				what = &ctl_commands[i];
		if (!what) {
			const char *names[32], *hint;

			for (size_t i = 0; i < ctl_ncommands && i < 32; i++)
				names[i] = ctl_commands[i].name;
			hint = ctl_suggest(argv[1], names, ctl_ncommands);
			o->cmd = NULL;
			return ctl_usage(o, "no command \"%s\"%s%s%s", argv[1],
					 hint ? "; did you mean " : "", hint ? hint : "",
					 hint ? "?" : "");
		}
	}
	if (what)
		command_help(stdout, what);
	else
		help(stdout);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	tisock_client *c;
	char **args;
	int nargs, r;

	signal(SIGPIPE, SIG_IGN);
	switch (ctl_parse_args(argc, argv, &o, &nargs, &args)) {
	case CTL_USAGE:
		r = EXIT_USAGE;
		goto out;
	case CTL_VERSION:
		printf("tisockctl %s (protocol %d)\n", PACKAGE_VERSION, PROTO_VERSION);
		r = EXIT_OK;
		goto out;
	case CTL_HELP:
		r = run_help(&o, nargs, args);
		goto out;
	case CTL_RUN:
		break;
	}
	if (!o.cmd->run) {
		r = run_help(&o, nargs, args);
		goto out;
	}
	c = tisock_client_open(o.socket);
	if (!c) {
		int e = errno;

		/* Arguments first: the command runs on a local client, its first request says why. */
		c = tisock_client_open_local();
		if (!c) {
			r = ctl_unreachable(&o, e);
			goto out;
		}
		ctl_set_unreachable(&o, e);
	}
	r = o.cmd->run(c, &o, nargs, args);
	tisock_client_close(c);
out:
	free(args);
	free(o.mon_kinds);
	return r;
}
