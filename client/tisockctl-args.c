/*
 * tisockctl-args: the command line and the errors.
 *
 * Options may come anywhere on the line, before or after the command and
 * among its arguments ("--" ends them).  An option of the command is
 * looked up before the global ones after the command word, and after
 * them before it: `monitor --socket ID` filters by socket id, while
 * `--socket PATH monitor` names the daemon's socket.  A slip (a command,
 * an option, a state or an event kind that does not exist) is an error
 * that says what was probably meant, by edit distance.
 *
 * Every error is reported the same way: "tisockctl: MESSAGE" on stderr,
 * or with --json one line {"error": {"type", "message", "exitStatus",
 * ...}} on stdout (on stderr for connect and listen, whose stdout is the
 * data).  --json counts wherever it is on the line, so a usage error
 * found before it is read is reported as JSON too.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "proto-errors.h"
#include "proto-methods.h"
#include "tisockctl.h"

#define DEFAULT_SOCKET	"/run/tisockd/tisockd.sock"

struct optdef {
	const char	*lng;		/* without the dashes */
	char		 shrt;		/* 0: none */
	const char	*arg;		/* the value's name; NULL: a flag */
	const char	*help;
};

static const struct optdef optdefs[_OPT_MAX] = {
	[OPT_SOCKET] = { "socket", 's', "PATH", "the daemon's socket (default: $TISOCKD_SOCKET,\n"
			 "$XDG_RUNTIME_DIR/tisockd.sock, " DEFAULT_SOCKET ")" },
	[OPT_JSON] = { "json", 'j', NULL, "one JSON value per line on stdout; errors too" },
	[OPT_TIMEOUT] = { "timeout", 't', "TIME", "give up after TIME (exit 4): milliseconds, or\n"
			  "with a unit: 500ms, 2s, 1m" },
	[OPT_HELP] = { "help", 'h', NULL, "this help; COMMAND --help for a command's" },
	[OPT_VERSION] = { "version", 'V', NULL, "the version" },
	[OPT_COUNT] = { "count", 'c', "COUNT", "round trips to make (1 to 1000000)" },
	[OPT_KEEP] = { "keep", 'k', NULL, "keep accepting, one connection after another" },
	[OPT_CHANNEL] = { "channel", 0, NULL, "move the bytes over the data channel (tcp.channel)" },
	[OPT_PROGRESS] = { "progress", 'p', NULL, "bytes, rates and time on stderr as they go,\n"
			   "like pv" },
	[OPT_VERBOSE] = { "verbose", 'v', NULL, "a summary on stderr at the end" },
	[OPT_STATE] = { "state", 0, "STATE[,STATE]", "only sockets in these states: initialized\n"
			"connecting connected listening closed error" },
	[OPT_OPEN] = { "open", 0, NULL, "only sockets not closed and not in error" },
	[OPT_PID] = { "pid", 0, "PID", "only the events of this client process" },
	[OPT_MSOCKET] = { "socket", 0, "ID", "only the events of this socket" },
	[OPT_EVENT] = { "event", 0, "KIND[,KIND]", "only these kinds of event" },
};

static const char *const event_kinds[] = {
	"client.connect", "client.disconnect", "create", "connect", "state", "accept", "read",
	"write", "error", "close", "denied", "monitor.dropped",
};

/* ---- suggestions ------------------------------------------------------- */

/* Edit distance of a and b, a transposition counting one (capped at 9). */
static unsigned
distance(const char *a, const char *b)
{
	unsigned d[33][33], la = (unsigned)strlen(a), lb = (unsigned)strlen(b);

	if (la > 32 || lb > 32)
		return 9;
	for (unsigned i = 0; i <= la; i++)
		d[i][0] = i;
	for (unsigned j = 0; j <= lb; j++)
		d[0][j] = j;
	for (unsigned i = 1; i <= la; i++)
		for (unsigned j = 1; j <= lb; j++) {
			unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb] > 9 ? 9 : d[la][lb];
}

/*
 * The name among names[0..n) that word was probably meant to be: the
 * only one it is a prefix of, else the nearest within 2 edits (1 for a
 * word of 3 letters or less).  NULL when none is near.
 */
const char *
ctl_suggest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL, *prefixed = NULL;
	unsigned best_d = strlen(word) <= 3 ? 2 : 3;
	size_t nprefixed = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (!names[i])
			continue;
		if (*word && strncmp(names[i], word, strlen(word)) == 0) {
			prefixed = names[i];
			nprefixed++;
		}
		d = distance(word, names[i]);
		if (d < best_d) {
			best_d = d;
			best = names[i];
		}
	}
	if (nprefixed == 1 && strlen(word) >= 2)
		return prefixed;
	return best;
}

/* ---- reporting --------------------------------------------------------- */

static const struct opts *eo;	/* what errors go by: --json, the command */

/* From now on errors follow o (--json, and where the command's output goes). */
void
ctl_errors_to(const struct opts *o)
{
	eo = o;
}

static FILE *
json_target(void)
{
	return eo && eo->cmd && eo->cmd->data_on_stdout ? stderr : stdout;
}

/* Prints the error object; extra_json (an object's text, or NULL) adds members. */
static void
print_json_error(const char *type, int status, const char *message, const char *extra_json)
{
	cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");
	cJSON *extra = extra_json ? cJSON_Parse(extra_json) : NULL, *m;
	char *text;

	cJSON_AddStringToObject(e, "type", type);
	cJSON_AddStringToObject(e, "message", message);
	while (extra && (m = extra->child)) {
		cJSON_DetachItemViaPointer(extra, m);
		cJSON_AddItemToObject(e, m->string, m);
	}
	cJSON_AddNumberToObject(e, "exitStatus", status);
	text = cJSON_PrintUnformatted(root);
	fprintf(json_target(), "%s\n", text ? text : "{\"error\":{}}");
	fflush(json_target());
	free(text);
	cJSON_Delete(extra);
	cJSON_Delete(root);
}

static int
vfail(int status, const char *type, const char *extra_json, const char *fmt, va_list ap)
{
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (eo && eo->json)
		print_json_error(type, status, msg, extra_json);
	else
		fprintf(stderr, "tisockctl: %s\n", msg);
	return status;
}

/*
 * Reports an error of the given type ("usage", "unreachable", "daemon",
 * "timeout", "failed") and returns status.  extra_json: more members of
 * the JSON error object, or NULL.
 */
int
ctl_fail(const struct opts *o, int status, const char *type, const char *extra_json,
	 const char *fmt, ...)
{
	va_list ap;
	int r;

	if (o)
		eo = o;
	va_start(ap, fmt);
	r = vfail(status, type, extra_json, fmt, ap);
	va_end(ap);
	return r;
}

/* A failure of the operation (exit 1 follows): "tisockctl: ..." or JSON. */
void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void) vfail(EXIT_FAILED, "failed", NULL, fmt, ap);
	va_end(ap);
}

/* The synopsis of the command (or of tisockctl) for usage errors. */
static void
synopsis(char *buf, size_t len, const struct command *cmd)
{
	if (cmd)
		snprintf(buf, len, "tisockctl [OPTIONS] %s%s%s", cmd->name, *cmd->args ? " " : "",
			 cmd->args);
	else
		snprintf(buf, len, "tisockctl [OPTIONS] COMMAND [ARGS...]");
}

/* A usage error: the message, the synopsis and where to read more.  Returns EXIT_USAGE. */
int
ctl_usage(const struct opts *o, const char *fmt, ...)
{
	const struct command *cmd = o ? o->cmd : NULL;
	char msg[1024], syn[256];
	va_list ap;

	if (o)
		eo = o;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	synopsis(syn, sizeof(syn), cmd);
	if (eo && eo->json) {
		cJSON *x = cJSON_CreateObject();
		char *extra;

		cJSON_AddStringToObject(x, "usage", syn);
		extra = cJSON_PrintUnformatted(x);
		print_json_error("usage", EXIT_USAGE, msg, extra);
		free(extra);
		cJSON_Delete(x);
		return EXIT_USAGE;
	}
	fprintf(stderr, "tisockctl: %s\nUsage: %s\nTry 'tisockctl %s%s--help'.\n", msg, syn,
		cmd ? cmd->name : "", cmd ? " " : "");
	return EXIT_USAGE;
}

/*
 * Reports a failed library call on c and returns the exit status it
 * stands for: the daemon's error (1), or the daemon gone (3).  An unknown
 * method gets the nearest known one as a suggestion.
 */
int
ctl_client_failed(tisock_client *c, int r)
{
	const struct tisock_error *e = tisock_client_last_error(c);

	if (e->code != 0) {
		const char *names[_PROTO_M_MAX], *hint = NULL;
		cJSON *data = e->data_json ? cJSON_Parse(e->data_json) : NULL;
		const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data,
								"method"));
		int rc;

		if (e->code == PROTO_E_NO_METHOD && method) {
			for (int i = 0; i < _PROTO_M_MAX; i++)
				names[i] = proto_methods[i].flags & PROTO_M_NOTIFICATION ? NULL
										: proto_methods[i].name;
			hint = ctl_suggest(method, names, _PROTO_M_MAX);
		}
		if (eo && eo->json) {
			cJSON *x = cJSON_CreateObject();
			char *extra;

			cJSON_AddNumberToObject(x, "code", e->code);
			if (data)
				cJSON_AddItemToObject(x, "data", cJSON_Duplicate(data, true));
			if (hint)
				cJSON_AddStringToObject(x, "suggestion", hint);
			extra = cJSON_PrintUnformatted(x);
			print_json_error("daemon", EXIT_FAILED, e->message, extra);
			free(extra);
			cJSON_Delete(x);
			rc = EXIT_FAILED;
		} else {
			rc = ctl_fail(NULL, EXIT_FAILED, "daemon", NULL, "error %d: %s%s%s%s%s%s",
				      e->code, e->message, e->data_json ? " " : "",
				      e->data_json ? e->data_json : "", hint ? "; did you mean " : "",
				      hint ? hint : "", hint ? "?" : "");
		}
		cJSON_Delete(data);
		return rc;
	}
	if (r == -EPIPE || r == -ECONNRESET)
		return ctl_fail(NULL, EXIT_UNREACHABLE, "unreachable", NULL, "the daemon went away");
	return ctl_fail(NULL, EXIT_FAILED, "failed", NULL, "%s",
			*tisock_client_error(c) ? tisock_client_error(c) : strerror(-r));
}

/*
 * Reports a failed tisock_client_dispatch (never a daemon error: the
 * daemon is gone, or the system refused).  Returns the exit status.
 */
int
ctl_dispatch_failed(tisock_client *c, int r)
{
	if (r == -EPIPE || r == -ECONNRESET)
		return ctl_fail(NULL, EXIT_UNREACHABLE, "unreachable", NULL, "the daemon went away");
	return ctl_fail(NULL, EXIT_FAILED, "failed", NULL, "%s", strerror(-r));
}

/* The socket path as libtisock resolves it (o->socket first). */
static void
socket_path(const struct opts *o, char *buf, size_t len, const char **ret_from)
{
	const char *env = getenv("TISOCKD_SOCKET"), *xdg = getenv("XDG_RUNTIME_DIR");

	if (o->socket) {
		snprintf(buf, len, "%s", o->socket);
		*ret_from = "--socket";
	} else if (env && *env) {
		snprintf(buf, len, "%s", env);
		*ret_from = "$TISOCKD_SOCKET";
	} else if (xdg && *xdg) {
		snprintf(buf, len, "%s/tisockd.sock", xdg);
		*ret_from = "$XDG_RUNTIME_DIR";
	} else {
		snprintf(buf, len, "%s", DEFAULT_SOCKET);
		*ret_from = "the default";
	}
}

/*
 * The group that would let us in, for EACCES on path: the socket's own,
 * or that of the first directory on the way we may not enter.
 */
static const char *
blocking_group(const char *path, char *what, size_t whatlen)
{
	char copy[4096], *dir;
	struct stat st;
	struct group *gr;

	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(what, whatlen, "the socket");
	if (stat(path, &st) < 0) {
		st.st_gid = (gid_t)-1;
		for (dir = dirname(copy); strcmp(dir, "/") && strcmp(dir, "."); dir = dirname(dir)) {
			struct stat ds;

			if (stat(dir, &ds) == 0 && access(dir, X_OK) < 0) {
				st.st_gid = ds.st_gid;
				snprintf(what, whatlen, "its directory %.1024s", dir);
				break;
			}
		}
		if (st.st_gid == (gid_t)-1)
			return NULL;
	}
	gr = getgrgid(st.st_gid);
	return gr ? gr->gr_name : NULL;
}

/*
 * tisock_client_open failed with err: says which path was tried, why
 * that fails, and what to do about it.  Returns EXIT_UNREACHABLE.
 */
int
ctl_unreachable(const struct opts *o, int err)
{
	char path[4096], hint[2048], what[1200], extra[8192];
	const char *from, *name = proto_errno_name(err), *group;
	struct stat st;
	cJSON *x;
	char *xs;

	socket_path(o, path, sizeof(path), &from);
	switch (err) {
	case EACCES:
	case EPERM:
		group = blocking_group(path, what, sizeof(what));
		if (group)
			snprintf(hint, sizeof(hint), "%.1100s belongs to the group \"%.64s\": ask to be added "
				 "(usermod -aG %.64s $USER) and log in again, or run as root", what,
				 group, group);
		else
			snprintf(hint, sizeof(hint), "you may not use it: join the group of the "
				 "socket (tisock for the system service) and log in again");
		break;
	case ENOENT:
	case ECONNREFUSED:
		if (err == ENOENT && strcmp(path, DEFAULT_SOCKET) != 0 &&
		    stat(DEFAULT_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode))
			snprintf(hint, sizeof(hint), "the system's tisockd listens at %s (%s chose "
				 "%.1024s): add --socket %s, or set TISOCKD_SOCKET", DEFAULT_SOCKET, from,
				 path, DEFAULT_SOCKET);
		else
			snprintf(hint, sizeof(hint), "%s: is tisockd running? Start it: sudo "
				 "systemctl start tisockd.socket, or tisockd --foreground --socket %.1024s",
				 err == ENOENT ? "no such socket" : "nothing accepts there", path);
		break;
	default:
		snprintf(hint, sizeof(hint), "the path comes from %s; see tisockctl(1)", from);
		break;
	}
	x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "path", path);
	cJSON_AddNumberToObject(x, "errno", err);
	cJSON_AddStringToObject(x, "errname", name ? name : "EUNKNOWN");
	cJSON_AddStringToObject(x, "hint", hint);
	xs = cJSON_PrintUnformatted(x);
	snprintf(extra, sizeof(extra), "%s", xs ? xs : "{}");
	free(xs);
	cJSON_Delete(x);
	if (o->json)
		return ctl_fail(o, EXIT_UNREACHABLE, "unreachable", extra, "cannot reach tisockd at "
				"%s: %s", path, strerror(err));
	return ctl_fail(o, EXIT_UNREACHABLE, "unreachable", NULL, "cannot reach tisockd at %s: "
			"%s\n  %s", path, strerror(err), hint);
}

/* ---- values ------------------------------------------------------------- */

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

/* A duration: milliseconds, or a number with ms, s or m.  False when not one. */
bool
ctl_parse_ms(const char *s, long *ret_ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return false;
	if (*end == '\0' || strcmp(end, "ms") == 0)
		;
	else if (strcmp(end, "s") == 0)
		v *= 1000.;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		v *= 60000.;
	else
		return false;
	if (v > 2147483647.)
		return false;
	*ret_ms = (long)(v + 0.5);
	return true;
}

/* ms as a duration with its unit: "850 ms", "12.4 s", "3m 05s", "2h 03m". */
void
ctl_duration(double ms, char *buf, size_t len)
{
	long long s = (long long)(ms / 1000.);

	if (ms < 1000.)
		snprintf(buf, len, "%.0f ms", ms);
	else if (ms < 60000.)
		snprintf(buf, len, "%.1f s", ms / 1000.);
	else if (ms < 3600000.)
		snprintf(buf, len, "%lldm %02llds", s / 60, s % 60);
	else if (ms < 86400000.)
		snprintf(buf, len, "%lldh %02lldm", s / 3600, s / 60 % 60);
	else
		snprintf(buf, len, "%lldd %02lldh", s / 86400, s / 3600 % 24);
}

static bool
parse_count(const char *s, long long lo, long long hi, long long *ret)
{
	char *end;

	errno = 0;
	*ret = strtoll(s, &end, 10);
	return !errno && end != s && !*end && *ret >= lo && *ret <= hi;
}

/* --state: a comma list of state names into a mask.  EXIT_OK or a usage error. */
static int
parse_states(struct opts *o, const char *v)
{
	const char *names[_PROTO_STATE_MAX];
	char *copy = strdup(v), *tok, *save = NULL;
	int r = EXIT_OK;

	if (!copy)
		return ctl_fail(o, EXIT_FAILED, "failed", NULL, "out of memory");
	for (int s = 0; s < _PROTO_STATE_MAX; s++)
		names[s] = proto_state_name(s);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int found = -1;

		for (int s = 0; s < _PROTO_STATE_MAX; s++)
			if (strcmp(tok, names[s]) == 0)
				found = s;
		if (found < 0) {
			const char *hint = ctl_suggest(tok, names, _PROTO_STATE_MAX);

			r = ctl_usage(o, "--state: no state \"%s\"%s%s%s (initialized, connecting, "
				      "connected, listening, closed, error)", tok,
				      hint ? "; did you mean " : "", hint ? hint : "", hint ? "?" : "");
			break;
		}
		o->states |= 1u << found;
	}
	free(copy);
	return r;
}

/* --event: every kind must exist. */
static int
parse_kinds(struct opts *o, const char *v)
{
	size_t n = sizeof(event_kinds) / sizeof(event_kinds[0]);
	char *copy = strdup(v), *tok, *save = NULL;
	int r = EXIT_OK;

	if (!copy)
		return ctl_fail(o, EXIT_FAILED, "failed", NULL, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok && r == EXIT_OK;
	     tok = strtok_r(NULL, ",", &save)) {
		bool found = false;

		for (size_t i = 0; i < n; i++)
			found |= strcmp(tok, event_kinds[i]) == 0;
		if (!found) {
			const char *hint = ctl_suggest(tok, event_kinds, n);

			r = ctl_usage(o, "--event: no event kind \"%s\"%s%s%s", tok,
				      hint ? "; did you mean " : "", hint ? hint : "", hint ? "?" : "");
		}
	}
	free(copy);
	if (r != EXIT_OK)
		return r;
	free(o->mon_kinds);
	if (asprintf(&o->mon_kinds, ",%s,", v) < 0) {
		o->mon_kinds = NULL;
		return ctl_fail(o, EXIT_FAILED, "failed", NULL, "out of memory");
	}
	return EXIT_OK;
}

/* Stores the value of option id.  EXIT_OK or a usage error, reported. */
static int
set_option(struct opts *o, enum ctl_opt id, const char *v, const char *as)
{
	long long n;

	switch (id) {
	case OPT_SOCKET: o->socket = v; break;
	case OPT_JSON: o->json = true; break;
	case OPT_TIMEOUT:
		if (!ctl_parse_ms(v, &o->timeout_ms))
			return ctl_usage(o, "%s wants a time: milliseconds, or 500ms, 2s, 1m; 0 for "
					 "none (got \"%s\")", as, v);
		break;
	case OPT_COUNT:
		if (!parse_count(v, 1, 1000000, &n))
			return ctl_usage(o, "%s wants a count from 1 to 1000000 (got \"%s\")", as, v);
		o->count = (long)n;
		break;
	case OPT_KEEP: o->keep = true; break;
	case OPT_CHANNEL: o->channel = true; break;
	case OPT_PROGRESS: o->progress = true; break;
	case OPT_VERBOSE: o->verbose = true; break;
	case OPT_STATE: return parse_states(o, v);
	case OPT_OPEN: o->open = true; break;
	case OPT_PID:
	case OPT_MSOCKET:
		if (!parse_count(v, 1, 9007199254740991LL, &n))
			return ctl_usage(o, "%s wants a %s, a number above 0 (got \"%s\")", as,
					 id == OPT_PID ? "process id" : "socket id", v);
		*(id == OPT_PID ? &o->mon_pid : &o->mon_socket) = n;
		break;
	case OPT_EVENT: return parse_kinds(o, v);
	case OPT_HELP:
	case OPT_VERSION:
	case _OPT_MAX:
		break;
	}
	return EXIT_OK;
}

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < ctl_ncommands; i++)
		if (strcmp(ctl_commands[i].name, name) == 0)
			return &ctl_commands[i];
	return NULL;
}

/*
 * The option called name (long: without dashes; short: one letter in
 * name[0] with is_short) among those cmd takes and the global ones, the
 * command's first when after_cmd.  -1 when none.
 */
static int
lookup(const char *name, size_t len, bool is_short, const struct command *cmd, bool after_cmd)
{
	unsigned sets[2] = { OPT_GLOBAL, cmd ? cmd->opts : 0 };

	if (after_cmd) {
		sets[0] = sets[1];
		sets[1] = OPT_GLOBAL;
	}
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < _OPT_MAX; i++) {
			if (!(sets[k] & OPT_BIT(i)))
				continue;
			if (is_short ? optdefs[i].shrt == name[0]
				     : strlen(optdefs[i].lng) == len && !strncmp(optdefs[i].lng, name, len))
				return i;
		}
	return -1;
}

/* Whether any option of any command called so takes a value (to find the command). */
static bool
any_takes_value(const char *name, size_t len, bool is_short)
{
	for (int i = 0; i < _OPT_MAX; i++)
		if (optdefs[i].arg && (is_short ? optdefs[i].shrt == name[0]
			: strlen(optdefs[i].lng) == len && !strncmp(optdefs[i].lng, name, len)))
			return true;
	return false;
}

/* An unknown option: which of those cmd takes it may have meant. */
static int
unknown_option(struct opts *o, const char *arg, size_t len)
{
	const char *names[_OPT_MAX] = { NULL };
	unsigned allowed = OPT_GLOBAL | (o->cmd ? o->cmd->opts : 0);
	char word[64];
	const char *hint;

	snprintf(word, sizeof(word), "%.*s", (int)(len < 63 ? len : 63), arg);
	for (int i = 0; i < _OPT_MAX; i++)
		if (allowed & OPT_BIT(i))
			names[i] = optdefs[i].lng;
	hint = arg[1] == '-' ? ctl_suggest(word + 2, names, _OPT_MAX) : NULL;
	return ctl_usage(o, "unknown option %s%s%s%s%s%s", word,
			 o->cmd ? " for " : "", o->cmd ? o->cmd->name : "",
			 hint ? "; did you mean --" : "", hint ? hint : "", hint ? "?" : "");
}

/* The index of the command word in argv, or argc when there is none. */
static int
find_command_word(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			return i + 1 < argc ? i + 1 : argc;
		if (a[0] != '-' || a[1] == '\0')
			return i;
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

			if (!eq && any_takes_value(a + 2, len, false))
				i++;
		} else {
			for (const char *p = a + 1; *p; p++)
				if (any_takes_value(p, 1, true)) {
					if (!p[1])
						i++;
					break;
				}
		}
	}
	return argc;
}

/*
 * Reads the whole command line into o, leaving the command's own
 * arguments (the command's name first) in *ret_argc / *ret_argv (a new
 * array, owned by the caller).  Returns what to do: run the command,
 * print help (for o->cmd, or all), print the version, or stop with
 * EXIT_USAGE (reported).
 */
enum ctl_parsed
ctl_parse_args(int argc, char **argv, struct opts *o, int *ret_argc, char ***ret_argv)
{
	char **args = calloc((size_t)argc + 1, sizeof(*args));
	int nargs = 0, at, r;
	bool help = false, version = false, dashdash = false;

	*ret_argc = 0;
	*ret_argv = args;
	o->count = 1;
	/* --json anywhere: even the errors found before it are JSON. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		o->json |= strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0;
	ctl_errors_to(o);
	if (!args) {
		ctl_fail(o, EXIT_FAILED, "failed", NULL, "out of memory");
		return CTL_USAGE;
	}
	at = find_command_word(argc, argv);
	if (at < argc) {
		o->cmd = find_command(argv[at]);
		if (!o->cmd) {
			const char *names[32];
			const char *hint;

			for (size_t i = 0; i < ctl_ncommands && i < 32; i++)
				names[i] = ctl_commands[i].name;
			hint = ctl_suggest(argv[at], names, ctl_ncommands < 32 ? ctl_ncommands : 32);
			ctl_usage(o, "no command \"%s\"%s%s%s", argv[at], hint ? "; did you mean " : "",
				  hint ? hint : "", hint ? "?" : "");
			return CTL_USAGE;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *value = NULL;
		bool after = i > at;
		int id;

		if (i == at) {
			args[nargs++] = argv[i];
			continue;
		}
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			if (at >= argc) {
				ctl_usage(o, "\"%s\" comes before any command", a);
				return CTL_USAGE;
			}
			args[nargs++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

			id = lookup(a + 2, len, false, o->cmd, after);
			if (id < 0) {
				unknown_option(o, a, len + 2);
				return CTL_USAGE;
			}
			if (optdefs[id].arg) {
				value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
				if (!value) {
					ctl_usage(o, "--%s wants a value (%s)", optdefs[id].lng,
						  optdefs[id].arg);
					return CTL_USAGE;
				}
			} else if (eq) {
				ctl_usage(o, "--%s takes no value", optdefs[id].lng);
				return CTL_USAGE;
			}
			help |= id == OPT_HELP;
			version |= id == OPT_VERSION;
			r = set_option(o, (enum ctl_opt)id, value, a);
			if (r != EXIT_OK)
				return CTL_USAGE;
			continue;
		}
		for (const char *p = a + 1; *p; p++) {
			char as[3] = { '-', *p, '\0' };

			id = lookup(p, 1, true, o->cmd, after);
			if (id < 0) {
				unknown_option(o, as, 2);
				return CTL_USAGE;
			}
			if (optdefs[id].arg) {
				value = p[1] ? p + 1 : (i + 1 < argc ? argv[++i] : NULL);
				if (!value) {
					ctl_usage(o, "%s wants a value (%s)", as, optdefs[id].arg);
					return CTL_USAGE;
				}
			}
			help |= id == OPT_HELP;
			version |= id == OPT_VERSION;
			if (set_option(o, (enum ctl_opt)id, value, as) != EXIT_OK)
				return CTL_USAGE;
			if (optdefs[id].arg)
				break;
		}
	}
	*ret_argc = nargs;
	if (help)
		return CTL_HELP;
	if (version)
		return CTL_VERSION;
	if (!o->cmd) {
		ctl_usage(o, "no command given");
		return CTL_USAGE;
	}
	return CTL_RUN;
}

/* The options in opts (bits), one per line, for the help texts. */
void
ctl_options_help(FILE *f, unsigned opts)
{
	for (int i = 0; i < _OPT_MAX; i++) {
		const struct optdef *d = &optdefs[i];
		const char *h, *nl;
		char head[64];

		if (!(opts & OPT_BIT(i)))
			continue;
		if (d->shrt)
			snprintf(head, sizeof(head), "-%c, --%s%s%s", d->shrt, d->lng,
				 d->arg ? " " : "", d->arg ? d->arg : "");
		else
			snprintf(head, sizeof(head), "    --%s%s%s", d->lng, d->arg ? " " : "",
				 d->arg ? d->arg : "");
		fprintf(f, "  %-24s", head);
		for (h = d->help; (nl = strchr(h, '\n')); h = nl + 1)
			fprintf(f, "%.*s\n  %-24s", (int)(nl - h), h, "");
		fprintf(f, "%s\n", h);
	}
}
