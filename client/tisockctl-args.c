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
 * --json counts wherever it is on the line: errors follow it from the
 * start (tisockctl-errors.c), so a usage error found before it is read is
 * reported as JSON too.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto-methods.h"
#include "tisockctl.h"

struct optdef {
	const char	*lng;		/* without the dashes */
	char		 shrt;		/* 0: none */
	const char	*arg;		/* the value's name; NULL: a flag */
	const char	*help;
};

static const struct optdef optdefs[_OPT_MAX] = {
	[OPT_SOCKET] = { "socket", 's', "PATH", "the daemon's socket (default: $TISOCKD_SOCKET,\n"
			 "$XDG_RUNTIME_DIR/tisockd.sock, " CTL_DEFAULT_SOCKET ")" },
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
	[OPT_TLS] = { "tls", 0, NULL, "TLS on the connection (the daemon speaks it)" },
	[OPT_SERVERNAME] = { "servername", 0, "NAME", "--tls: the name sent (SNI) and checked\n"
			     "(default: HOST)" },
	[OPT_CAFILE] = { "cafile", 0, "FILE", "--tls: trust the CAs of this PEM file instead of\n"
			 "the system's (listen: check client certificates)" },
	[OPT_INSECURE] = { "insecure", 0, NULL, "--tls: no verification of the peer's\n"
			   "certificate or name" },
	[OPT_ALPN] = { "alpn", 0, "P[,P]", "--tls: application protocols (ALPN), by preference" },
	[OPT_CERT] = { "cert", 0, "FILE", "--tls: the certificate (chain) to serve, PEM" },
	[OPT_KEY] = { "key", 0, "FILE", "--tls: its private key, PEM" },
	[OPT_STARTTLS] = { "starttls", 0, "PROTO", "plaintext first, then TLS (implies --tls):\n"
			   "smtp or imap, as openssl s_client -starttls" },
	[OPT_REQUIRE_CERT] = { "require-client-cert", 0, NULL,
			       "--tls: ask clients for a certificate\nand refuse those without a "
			       "valid one" },
};

static const char *const event_kinds[] = {
	"client.connect", "client.disconnect", "create", "connect", "state", "accept", "read",
	"write", "error", "close", "denied", "tls", "monitor.dropped",
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
	case OPT_TLS: o->tls = true; break;
	case OPT_SERVERNAME: o->servername = v; break;
	case OPT_CAFILE: o->cafile = v; break;
	case OPT_INSECURE: o->insecure = true; break;
	case OPT_ALPN: o->alpn = v; break;
	case OPT_CERT: o->cert = v; break;
	case OPT_KEY: o->key = v; break;
	case OPT_REQUIRE_CERT: o->require_cert = true; break;
	case OPT_STARTTLS:
		if (strcmp(v, "smtp") != 0 && strcmp(v, "imap") != 0)
			return ctl_usage(o, "%s: smtp or imap (got \"%s\")", as, v);
		o->starttls = v;
		o->tls = true;
		break;
	case OPT_HELP:
	case OPT_VERSION:
	case _OPT_MAX:
		break;
	}
	return EXIT_OK;
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

/* What reading one word of the command line found. */
struct seen {
	bool	help, version;
};

/*
 * A long option at argv[*i] ("--name" or "--name=value"), its value
 * perhaps the next word.  Returns EXIT_OK or EXIT_USAGE (reported).
 */
static int
take_long(struct opts *o, int argc, char **argv, int *i, bool after, struct seen *seen)
{
	const char *a = argv[*i], *eq = strchr(a + 2, '='), *value = NULL;
	size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
	int id = lookup(a + 2, len, false, o->cmd, after);

	if (id < 0)
		return unknown_option(o, a, len + 2);
	if (optdefs[id].arg) {
		value = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
		if (!value)
			return ctl_usage(o, "--%s wants a value (%s)", optdefs[id].lng,
					 optdefs[id].arg);
	} else if (eq) {
		return ctl_usage(o, "--%s takes no value", optdefs[id].lng);
	}
	seen->help |= id == OPT_HELP;
	seen->version |= id == OPT_VERSION;
	return set_option(o, (enum ctl_opt)id, value, a);
}

/*
 * Short options at argv[*i]: flags may share a word ("-kv"); one that
 * takes a value takes the rest of the word or the next word.  Returns
 * EXIT_OK or EXIT_USAGE (reported).
 */
static int
take_short(struct opts *o, int argc, char **argv, int *i, bool after, struct seen *seen)
{
	for (const char *p = argv[*i] + 1; *p; p++) {
		char as[3] = { '-', *p, '\0' };
		const char *value = NULL;
		int id = lookup(p, 1, true, o->cmd, after), r;

		if (id < 0)
			return unknown_option(o, as, 2);
		if (optdefs[id].arg) {
			value = p[1] ? p + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
			if (!value)
				return ctl_usage(o, "%s wants a value (%s)", as, optdefs[id].arg);
		}
		seen->help |= id == OPT_HELP;
		seen->version |= id == OPT_VERSION;
		r = set_option(o, (enum ctl_opt)id, value, as);
		if (r != EXIT_OK || optdefs[id].arg)
			return r;
	}
	return EXIT_OK;
}

/* The command word at argv[at] into o->cmd; an unknown one is a usage error. */
static int
take_command(struct opts *o, const char *word)
{
	const char *names[32], *hint;
	size_t n = ctl_ncommands < 32 ? ctl_ncommands : 32;

	for (size_t i = 0; i < n; i++)
		if (strcmp(ctl_commands[i].name, word) == 0) {
			o->cmd = &ctl_commands[i];
			return EXIT_OK;
		}
	for (size_t i = 0; i < n; i++)
		names[i] = ctl_commands[i].name;
	hint = ctl_suggest(word, names, n);
	return ctl_usage(o, "no command \"%s\"%s%s%s", word, hint ? "; did you mean " : "",
			 hint ? hint : "", hint ? "?" : "");
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
	struct seen seen = { false, false };
	bool dashdash = false;
	int nargs = 0, at, r;

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
	if (at < argc && take_command(o, argv[at]) != EXIT_OK)
		return CTL_USAGE;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		r = EXIT_OK;
		if (i == at || dashdash || a[0] != '-' || a[1] == '\0') {
			args[nargs++] = argv[i];	/* the command and its arguments */
			continue;
		}
		if (strcmp(a, "--") == 0)
			dashdash = true;
		else if (a[1] == '-')
			r = take_long(o, argc, argv, &i, i > at, &seen);
		else
			r = take_short(o, argc, argv, &i, i > at, &seen);
		if (!dashdash && r != EXIT_OK)
			return CTL_USAGE;
	}
	*ret_argc = nargs;
	if (seen.help)
		return CTL_HELP;
	if (seen.version)
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
		fprintf(f, strlen(head) >= 24 ? "  %s\n  %-24s" : "  %-24s", head, "");
		for (h = d->help; (nl = strchr(h, '\n')); h = nl + 1)
			fprintf(f, "%.*s\n  %-24s", (int)(nl - h), h, "");
		fprintf(f, "%s\n", h);
	}
}
