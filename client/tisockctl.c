/*
 * tisockctl: call, inspect, monitor and use tisockd's sockets from the
 * shell.  Built on libtisock's public API (the raw call for the methods
 * the Titanium API has no word for); the method table from protocol/
 * gives `call --help` its list without asking a daemon.
 *
 * Output: results on stdout, diagnostics on stderr with a "tisockctl: "
 * prefix, no colour.  --json makes stdout one JSON value per line.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
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

struct command {
	const char	*name;
	const char	*args;		/* synopsis after the name */
	const char	*summary;
	const char	*help;		/* more, for COMMAND --help; may be NULL */
	int		(*run)(tisock_client *c, const struct opts *o, int argc, char **argv);
};

static const struct command *find_command(const char *name);

void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("tisockctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Reports a failed library call on c and returns the exit status it
 * stands for: the daemon's error (1), or the daemon gone (3).
 */
int
ctl_client_failed(tisock_client *c, int r)
{
	const struct tisock_error *e = tisock_client_last_error(c);

	if (e->code != 0) {
		ctl_err("error %d: %s%s%s", e->code, e->message, e->data_json ? " " : "",
			e->data_json ? e->data_json : "");
		return EXIT_FAILED;
	}
	if (r == -EPIPE || r == -ECONNRESET) {
		ctl_err("the daemon went away");
		return EXIT_UNREACHABLE;
	}
	ctl_err("%s", *tisock_client_error(c) ? tisock_client_error(c) : strerror(-r));
	return EXIT_FAILED;
}

/*
 * Reports a failed tisock_client_dispatch (never a daemon error: the
 * daemon is gone, or the system refused).  Returns the exit status.
 */
int
ctl_dispatch_failed(tisock_client *c, int r)
{
	if (r == -EPIPE || r == -ECONNRESET) {
		ctl_err("the daemon went away");
		return EXIT_UNREACHABLE;
	}
	ctl_err("%s", strerror(-r));
	return EXIT_FAILED;
}

/*
 * HOST:PORT, [V6]:PORT, or (port_only_ok) PORT alone.  The host is
 * returned malloc'ed, NULL when absent.  False on a bad argument.
 */
bool
ctl_parse_endpoint(const char *arg, bool port_only_ok, char **ret_host, int *ret_port)
{
	const char *colon, *port;
	char *end;
	long p;

	*ret_host = NULL;
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (!close || close[1] != ':')
			return false;
		*ret_host = strndup(arg + 1, (size_t)(close - arg - 1));
		port = close + 2;
	} else if ((colon = strrchr(arg, ':'))) {
		if (colon == arg || strchr(arg, ':') != colon)
			return false;	/* an IPv6 address needs brackets */
		*ret_host = strndup(arg, (size_t)(colon - arg));
		port = colon + 1;
	} else {
		if (!port_only_ok)
			return false;
		port = arg;
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (errno || end == port || *end || p < 0 || p > 65535 || (p == 0 && !port_only_ok)) {
		free(*ret_host);
		*ret_host = NULL;
		return false;
	}
	*ret_port = (int)p;
	return true;
}

/* ---- --timeout for the request/answer commands ------------------------- */

static void
on_alarm(int sig)
{
	static const char m[] = "tisockctl: timed out\n";

	(void)sig;
	(void) !write(STDERR_FILENO, m, sizeof(m) - 1);
	_exit(EXIT_TIMEOUT);
}

static void
arm_timeout(const struct opts *o)
{
	struct itimerval it = { .it_value = { .tv_sec = o->timeout_ms / 1000,
					      .tv_usec = (o->timeout_ms % 1000) * 1000 } };

	if (o->timeout_ms <= 0)
		return;
	signal(SIGALRM, on_alarm);
	setitimer(ITIMER_REAL, &it, NULL);
}

/* Calls method; on success returns 0 and the parsed result in *ret. */
static int
call(tisock_client *c, const char *method, const char *params, cJSON **ret)
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
static void
print_json(const struct opts *o, const cJSON *v)
{
	char *text = o->json || !isatty(STDOUT_FILENO) ? cJSON_PrintUnformatted(v)
						       : cJSON_Print(v);

	if (text)
		puts(text);
	free(text);
}

/* "key: value" lines, nested objects as dotted keys. */
static void
print_flat(const char *prefix, const cJSON *o)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, o) {
		char key[256];

		snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", m->string);
		if (cJSON_IsObject(m)) {
			print_flat(key, m);
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

static int
cmd_info(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	cJSON *res;
	int r;

	if (argc > 1)
		return EXIT_USAGE;
	arm_timeout(o);
	r = call(c, "daemon.info", NULL, &res);
	if (r < 0)
		return ctl_client_failed(c, r);
	if (o->json)
		print_json(o, res);
	else
		print_flat("", res);
	cJSON_Delete(res);
	return EXIT_OK;
}

/* daemon.metrics: the exposition text as it is (the result object with --json). */
static int
cmd_metrics(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	const cJSON *text;
	cJSON *res;
	int r;

	if (argc > 1)
		return EXIT_USAGE;
	arm_timeout(o);
	r = call(c, "daemon.metrics", NULL, &res);
	if (r < 0)
		return ctl_client_failed(c, r);
	text = cJSON_GetObjectItemCaseSensitive(res, "text");
	if (o->json)
		print_json(o, res);
	else if (cJSON_IsString(text))
		fputs(text->valuestring, stdout);
	cJSON_Delete(res);
	return EXIT_OK;
}

static int
cmd_call(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	const struct tisock_error *e;
	char *params = NULL, *text = NULL;
	cJSON *parsed;
	int r;

	if (argc < 2 || argc > 3)
		return EXIT_USAGE;
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
		parsed = cJSON_Parse(params);
		if (!cJSON_IsObject(parsed)) {
			cJSON_Delete(parsed);
			free(params);
			ctl_err("params must be a JSON object, e.g. '{\"socket\": 1}'");
			return EXIT_USAGE;
		}
		cJSON_Delete(parsed);
	}
	arm_timeout(o);
	r = tisock_client_call(c, argv[1], params, &text);
	free(params);
	if (r < 0) {
		e = tisock_client_last_error(c);
		if (e->code != 0 && o->json) {
			printf("{\"error\":{\"code\":%d,\"message\":", e->code);
			parsed = cJSON_CreateString(e->message);
			text = cJSON_PrintUnformatted(parsed);
			printf("%s", text ? text : "\"\"");
			free(text);
			cJSON_Delete(parsed);
			if (e->data_json)
				printf(",\"data\":%s", e->data_json);
			printf("}}\n");
			return EXIT_FAILED;
		}
		return ctl_client_failed(c, r);
	}
	parsed = cJSON_Parse(text);
	if (parsed)
		print_json(o, parsed);
	else
		puts(text);
	cJSON_Delete(parsed);
	free(text);
	return EXIT_OK;
}

/* The method (or notification) object called name in an rpc.discover result. */
static const cJSON *
discover_find(const cJSON *doc, const char *name)
{
	const char *lists[] = { "methods", "x-notifications" };
	const cJSON *m;

	for (size_t i = 0; i < 2; i++)
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, lists[i])) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "name");

			if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
				return m;
		}
	return NULL;
}

static const char *
str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static int
cmd_methods(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	const char *lists[] = { "methods", "x-notifications" };
	cJSON *doc;
	const cJSON *m;
	int r;

	if (argc > 1)
		return EXIT_USAGE;
	arm_timeout(o);
	r = call(c, "rpc.discover", NULL, &doc);
	if (r < 0)
		return ctl_client_failed(c, r);
	for (size_t i = 0; i < 2; i++)
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, lists[i])) {
			const char *kind = i ? "notification" : "method";

			if (o->json) {
				cJSON *line = cJSON_CreateObject();

				cJSON_AddStringToObject(line, "name", str_of(m, "name"));
				cJSON_AddStringToObject(line, "summary", str_of(m, "summary"));
				cJSON_AddStringToObject(line, "kind", kind);
				print_json(o, line);
				cJSON_Delete(line);
			} else {
				printf("%-16s %s%s\n", str_of(m, "name"), i ? "(notification) " : "",
				       str_of(m, "summary"));
			}
		}
	cJSON_Delete(doc);
	return EXIT_OK;
}

/* One line of a schema: type, bounds, default. */
static void
print_schema(const cJSON *schema, char *out, size_t len)
{
	const cJSON *v;
	size_t n;

	if (cJSON_GetObjectItemCaseSensitive(schema, "$ref")) {
		const char *ref = str_of(schema, "$ref"), *slash = strrchr(ref, '/');

		snprintf(out, len, "%s", slash ? slash + 1 : ref);
		return;
	}
	n = (size_t)snprintf(out, len, "%s", str_of(schema, "type"));
	if ((v = cJSON_GetObjectItemCaseSensitive(schema, "minimum")) && n < len)
		n += (size_t)snprintf(out + n, len - n, ", %.0f", v->valuedouble);
	if ((v = cJSON_GetObjectItemCaseSensitive(schema, "maximum")) && n < len)
		n += (size_t)snprintf(out + n, len - n, "..%.0f", v->valuedouble);
	if ((v = cJSON_GetObjectItemCaseSensitive(schema, "default")) && n < len) {
		char *d = cJSON_PrintUnformatted(v);

		n += (size_t)snprintf(out + n, len - n, ", default %s", d ? d : "?");
		free(d);
	}
	if (cJSON_GetObjectItemCaseSensitive(schema, "contentEncoding") && n < len)
		snprintf(out + n, len - n, " (base64)");
}

static int
cmd_describe(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	const cJSON *m, *p, *props;
	cJSON *doc;
	char schema[256];
	int r;

	if (argc != 2)
		return EXIT_USAGE;
	arm_timeout(o);
	r = call(c, "rpc.discover", NULL, &doc);
	if (r < 0)
		return ctl_client_failed(c, r);
	m = discover_find(doc, argv[1]);
	if (!m) {
		ctl_err("no method %s (see tisockctl methods)", argv[1]);
		cJSON_Delete(doc);
		return EXIT_FAILED;
	}
	if (o->json) {
		print_json(o, m);
		cJSON_Delete(doc);
		return EXIT_OK;
	}
	printf("%s: %s\n", str_of(m, "name"), str_of(m, "summary"));
	if (*str_of(m, "description"))
		printf("%s\n", str_of(m, "description"));
	printf("\nParams:%s\n", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "params"))
				? "" : " none");
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(m, "params")) {
		print_schema(cJSON_GetObjectItemCaseSensitive(p, "schema"), schema, sizeof(schema));
		printf("  %-16s %-8s %s\n      %s\n", str_of(p, "name"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "required")) ? "required"
										 : "optional",
		       schema, str_of(p, "description"));
	}
	props = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "result"),
						 "schema"), "properties");
	if (props) {
		printf("\nResult:\n");
		cJSON_ArrayForEach(p, props) {
			print_schema(cJSON_GetObjectItemCaseSensitive(p, "schema"), schema,
				     sizeof(schema));
			printf("  %-16s %-18s %s\n", p->string, schema, str_of(p, "description"));
		}
	}
	cJSON_Delete(doc);
	return EXIT_OK;
}

static const char *
endpoint_text(const cJSON *e, char *buf, size_t len)
{
	const char *addr = str_of(e, "address");
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

static int
cmd_list(tisock_client *c, const struct opts *o, int argc, char **argv)
{
	const cJSON *s;
	cJSON *res;
	int r;

	if (argc > 1)
		return EXIT_USAGE;
	arm_timeout(o);
	r = call(c, "tcp.list", "{\"all\":true}", &res);
	if (r < 0)
		return ctl_client_failed(c, r);
	if (!o->json)
		printf("%-6s %-14s %-12s %-24s %-24s %10s %10s %8s %8s\n", "ID", "OWNER", "STATE",
		       "LOCAL", "REMOTE", "READ", "WRITTEN", "PENDING", "AGE");
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(res, "sockets")) {
		char owner[32], local[64], remote[64], age[32];

		if (o->json) {
			print_json(o, s);
			continue;
		}
		if (num_of(s, "owner", "client") == 0)
			snprintf(owner, sizeof(owner), "(lingering)");
		else
			snprintf(owner, sizeof(owner), "%.0f/%.0f", num_of(s, "owner", "pid"),
				 num_of(s, "owner", "uid"));
		age_text(num_of(s, "ageMs", NULL), age, sizeof(age));
		printf("%-6.0f %-14s %-12s %-24s %-24s %10.0f %10.0f %8.0f %8s\n",
		       num_of(s, "socket", NULL), owner, str_of(s, "state"),
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
		return EXIT_USAGE;
	errno = 0;
	id = strtoll(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || id <= 0) {
		ctl_err("not a socket id: %s", argv[1]);
		return EXIT_USAGE;
	}
	snprintf(params, sizeof(params), "{\"socket\":%lld,\"admin\":true}", id);
	arm_timeout(o);
	r = call(c, "tcp.close", params, &res);
	if (r < 0)
		return ctl_client_failed(c, r);
	if (o->json)
		print_json(o, res);
	else
		printf("socket %lld: %s\n", id, str_of(res, "state"));
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
	long count = 1;
	int opt;

	optind = 1;
	while ((opt = getopt(argc, argv, "+c:")) != -1) {
		char *end;

		if (opt != 'c')
			return EXIT_USAGE;
		count = strtol(optarg, &end, 10);
		if (*end || count < 1 || count > 1000000) {
			ctl_err("-c wants a count from 1 to 1000000");
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return EXIT_USAGE;
	arm_timeout(o);
	for (long i = 1; i <= count; i++) {
		double t0 = now_ms(), ms;
		cJSON *res;
		int r = call(c, "daemon.info", NULL, &res);

		if (r < 0)
			return ctl_client_failed(c, r);
		ms = now_ms() - t0;
		if (o->json)
			printf("{\"seq\":%ld,\"ms\":%.3f}\n", i, ms);
		else
			printf("reply from %s %.0f: seq=%ld time=%.3f ms\n", str_of(res, "name"),
			       num_of(res, "pid", NULL), i, ms);
		fflush(stdout);
		cJSON_Delete(res);
	}
	return EXIT_OK;
}

/* ---- help --------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: tisockctl [--socket PATH] [--json] [--timeout MS] COMMAND [ARGS...]\n"
		"\n"
		"Call, inspect, monitor and use the sockets of tisockd.\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH   the daemon's socket (default: $TISOCKD_SOCKET,\n"
		"                      $XDG_RUNTIME_DIR/tisockd.sock, /run/tisockd/tisockd.sock)\n"
		"  -j, --json          one JSON value per line on stdout\n"
		"  -t, --timeout MS    give up after MS milliseconds (exit 4)\n"
		"  -h, --help          this help; COMMAND --help for a command's\n"
		"  -V, --version       the version\n"
		"\n"
		"Commands:\n");
}

static const struct command commands[] = {
	{ "info", "", "daemon version, uptime, limits and counters", NULL, cmd_info },
	{ "methods", "", "every method and notification, from rpc.discover", NULL, cmd_methods },
	{ "describe", "METHOD", "a method's params and result, from rpc.discover", NULL,
	  cmd_describe },
	{ "call", "METHOD [PARAMS|-]", "call any method with JSON params (- reads stdin)",
	  "Prints the result as JSON.  On an error prints \"error CODE: MESSAGE DATA\" on\n"
	  "stderr (with --json: {\"error\": {...}} on stdout) and exits 1.\n", cmd_call },
	{ "connect", "[--channel] HOST:PORT",
	  "netcat through the daemon: stdin to the socket, the socket to stdout",
	  "Binary-safe.  At the end of stdin the sending side is shut down (FIN); exits\n"
	  "when stdin is all sent and the peer has closed its side.  --timeout bounds the\n"
	  "connect.  IPv6 addresses go in brackets: [::1]:8080.  --channel moves the\n"
	  "bytes over the data channel (tcp.channel: a socket the daemon relays, no JSON),\n"
	  "the fastest path.\n", cmd_connect },
	{ "listen", "[-k] [HOST:]PORT", "accept a connection and relay it like connect",
	  "HOST defaults to 127.0.0.1; PORT 0 picks a free port.  \"listening on HOST:PORT\"\n"
	  "goes to stderr.  -k keeps accepting, one connection after another.  --timeout\n"
	  "bounds each wait for a connection.\n", cmd_listen },
	{ "list", "", "the sockets you may see (all of them for root and the daemon's user)", NULL,
	  cmd_list },
	{ "monitor", "[--pid PID] [--socket ID] [--event KIND,...]",
	  "live events from every client (root and the daemon's user)",
	  "Kinds: client.connect client.disconnect create connect state accept read write\n"
	  "error close denied monitor.dropped.  Runs until interrupted (exit 0) or\n"
	  "dropped by the daemon for falling behind (exit 1).\n", cmd_monitor },
	{ "close", "ID", "close any client's socket (root and the daemon's user)", NULL, cmd_close },
	{ "metrics", "", "every counter and gauge, Prometheus text format (root and the "
	  "daemon's user)", "Prints daemon.metrics: the same text the daemon serves as GET /metrics when\n"
	  "[daemon] metrics-listen is set.  With --json, the result object.\n", cmd_metrics },
	{ "ping", "[-c COUNT]", "round trips to the daemon, with their time", NULL, cmd_ping },
	{ "help", "[COMMAND]", "this help, or a command's", NULL, NULL },
};

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

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
	if (strcmp(cmd->name, "call") == 0)
		methods_help(f);
}

static void
help(FILE *f)
{
	usage(f);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char head[64];

		snprintf(head, sizeof(head), "%s %s", commands[i].name, commands[i].args);
		if (strlen(head) > 26)
			fprintf(f, "  %s\n  %-26s %s\n", head, "", commands[i].summary);
		else
			fprintf(f, "  %-26s %s\n", head, commands[i].summary);
	}
	fprintf(f, "\nExit status: 0 ok, 1 failed (an error from the daemon or the network),\n"
		"2 usage, 3 the daemon unreachable or gone, 4 timed out.\n"
		"See tisockctl(1).\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { 0 };
	const struct command *cmd;
	tisock_client *c;
	char *end;
	int opt, r;

	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt_long(argc, argv, "+s:jt:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o.socket = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 't':
			errno = 0;
			o.timeout_ms = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o.timeout_ms < 0) {
				ctl_err("--timeout wants milliseconds, 0 for none");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			help(stdout);
			return EXIT_OK;
		case 'V':
			printf("tisockctl %s (protocol %d)\n", PACKAGE_VERSION, PROTO_VERSION);
			return EXIT_OK;
		default:
			fprintf(stderr, "Try 'tisockctl --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		help(stderr);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	cmd = find_command(argv[0]);
	if (!cmd) {
		ctl_err("no command %s; try 'tisockctl --help'", argv[0]);
		return EXIT_USAGE;
	}
	if (!cmd->run) {	/* help */
		const struct command *what = argc > 1 ? find_command(argv[1]) : NULL;

		if (argc > 1 && !what) {
			ctl_err("no command %s", argv[1]);
			return EXIT_USAGE;
		}
		if (what)
			command_help(stdout, what);
		else
			help(stdout);
		return EXIT_OK;
	}
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			command_help(stdout, cmd);
			return EXIT_OK;
		}
	c = tisock_client_open(o.socket);
	if (!c) {
		const char *path = o.socket ? o.socket : getenv("TISOCKD_SOCKET");

		ctl_err("cannot reach tisockd%s%s: %s", path ? " at " : "", path ? path : "",
			strerror(errno));
		return EXIT_UNREACHABLE;
	}
	r = cmd->run(c, &o, argc, argv);
	if (r == EXIT_USAGE) {
		fprintf(stderr, "Usage: tisockctl [OPTIONS] %s %s\n", cmd->name, cmd->args);
	}
	tisock_client_close(c);
	return r;
}
