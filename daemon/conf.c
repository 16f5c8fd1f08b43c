/*
 * conf: defaults and the INI config file.
 *
 * The file has [daemon], [limits] and [policy] sections; every key is
 * optional.
 * An unknown key or a bad value is an error naming the file, the line and
 * the key, so a typo never silently keeps a default.  The first error in
 * the file is the one reported: inih goes on after an error, so the
 * handler keeps the first message, and a reader of our own counts the
 * lines to know where each one was made (and refuses lines too long for
 * inih, which would otherwise split them).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "busypoll.h"
#include "conf.h"
#include "log.h"
#include "policy.h"

void
conf_defaults(struct conf *c)
{
	*c = (struct conf){
		.log_level = LOG_INFO,
		.socket_group = -1,
		.max_message_bytes = 16777216,
		.client_budget = 64ull << 20,
		.client_sockets = 1024,
		.client_requests = 4096,
		.clients = 1024,
		.sockets = 16384,
		.uid_clients = 256,
		.uid_sockets = 8192,
		.uid_requests = 16384,
		.uid_pending_write = 256ull << 20,
		.client_connect_rate = 1000,
		.uid_connect_rate = 2000,
		.client_notify = 1u << 20,
		.uid_notify = 16u << 20,
		.uid_input = 64ull << 20,
		.input = 256ull << 20,
		.uid_channel_buffer = 64ull << 20,
		.channel_buffer = 512ull << 20,
		.connect_timeout_ms = 30000,
		.happy_eyeballs_delay_ms = 250,
		.linger_ms = 5000,
		.tls_handshake_timeout_ms = 10000,
		.resolver_timeout_ms = 5000,
		.resolver_lookups = "fb",
	};
}

void
conf_done(struct conf *c)
{
	free(c->socket_path);
	c->socket_path = NULL;
	c->policy = policy_free(c->policy);
}

struct conf_key {
	const char	*section, *name;
	size_t		 offset;
	uint64_t	 min, max;
};

#define K(s, n, f, lo, hi) { s, n, offsetof(struct conf, f), lo, hi }
static const struct conf_key keys[] = {
	K("limits", "max-message-bytes", max_message_bytes, 1024, 1ull << 30),
	K("limits", "client-budget-bytes", client_budget, 65536, 1ull << 40),
	K("limits", "client-sockets", client_sockets, 1, 1000000),
	K("limits", "client-requests", client_requests, 1, 1000000),
	K("limits", "clients", clients, 1, 1000000),
	K("limits", "sockets", sockets, 1, 10000000),
	K("limits", "uid-clients", uid_clients, 1, 1000000),
	K("limits", "uid-sockets", uid_sockets, 1, 10000000),
	K("limits", "uid-requests", uid_requests, 1, 10000000),
	K("limits", "uid-pending-write-bytes", uid_pending_write, 65536, 1ull << 40),
	K("limits", "client-connects-per-second", client_connect_rate, 1, 1000000),
	K("limits", "uid-connects-per-second", uid_connect_rate, 1, 1000000),
	K("limits", "client-notify-bytes", client_notify, 65536, 1ull << 32),
	K("limits", "uid-notify-bytes", uid_notify, 65536, 1ull << 36),
	K("limits", "uid-input-bytes", uid_input, 65536, 1ull << 40),
	K("limits", "input-bytes", input, 65536, 1ull << 40),
	K("limits", "uid-channel-buffer-bytes", uid_channel_buffer, 0, 1ull << 40),
	K("limits", "channel-buffer-bytes", channel_buffer, 0, 1ull << 40),
	K("daemon", "connect-timeout-ms", connect_timeout_ms, 0, 2147483647),
	K("daemon", "happy-eyeballs-delay-ms", happy_eyeballs_delay_ms, 10, 2000),
	K("daemon", "linger-ms", linger_ms, 0, 3600000),
	K("daemon", "resolver-timeout-ms", resolver_timeout_ms, 100, 600000),
	K("daemon", "tls-handshake-timeout-ms", tls_handshake_timeout_ms, 0, 600000),
	K("daemon", "busy-poll-us", busy_poll_us, 0, BUSYPOLL_MAX_US),
};

/* The keys that are not numbers, for "did you mean". */
static const char *const other_keys[][2] = {
	{ "daemon", "socket" }, { "daemon", "socket-group" }, { "daemon", "log-level" },
	{ "daemon", "resolver-lookups" }, { "daemon", "metrics-listen" }, { "daemon", "fd-store" },
	{ "policy", "audit" }, { "policy", "rule" }, { "policy", "tls-insecure" },
};

#define CONF_LINE_MAX	4096	/* longest line we take; inih's own bound is lower */

struct conf_parse {
	struct conf	*c;
	FILE		*f;
	int		 line;		/* lines read so far: the current one */
	bool		 split;		/* the last piece read did not end its line */
	int		 rules;		/* [policy] rule lines so far */
	int		 err_line;	/* of the first error found by us, 0: none */
	char		 err[512];	/* its message */
};

/* Records the first error (the later ones are dropped).  Returns 0 for inih. */
static int __attribute__((format(printf, 2, 3)))
fail(struct conf_parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err_line)
		return 0;
	p->err_line = p->line;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return 0;
}

/* Levenshtein distance of a and b, capped at 9. */
static unsigned
distance(const char *a, const char *b)
{
	unsigned row[64], la = (unsigned)strlen(a), lb = (unsigned)strlen(b);

	if (la >= 64 || lb >= 64)
		return 9;
	for (unsigned j = 0; j <= lb; j++)
		row[j] = j;
	for (unsigned i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = i;
		for (unsigned j = 1; j <= lb; j++) {
			unsigned up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb] > 9 ? 9 : row[lb];
}

/*
 * For an unknown key: the key of that name in another section, else the
 * closest key of any section (at most 2 edits away).  NULL when none.
 */
static const char *
suggest(const char *section, const char *name, const char **ret_section)
{
	const char *best = NULL;
	unsigned best_d = 3;

	*ret_section = NULL;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) + sizeof(other_keys) /
	     sizeof(other_keys[0]); i++) {
		bool num = i < sizeof(keys) / sizeof(keys[0]);
		const char *ks = num ? keys[i].section : other_keys[i - sizeof(keys) /
								  sizeof(keys[0])][0];
		const char *kn = num ? keys[i].name : other_keys[i - sizeof(keys) /
								sizeof(keys[0])][1];
		unsigned dist = distance(name, kn);

		if (dist == 0 && strcmp(ks, section) != 0) {
			*ret_section = ks;
			return kn;
		}
		if (dist < best_d) {
			best_d = dist;
			best = kn;
			*ret_section = ks;
		}
	}
	return best;
}

/*
 * ADDRESS:PORT, [IPV6]:PORT, localhost:PORT or PORT alone (on 127.0.0.1)
 * into ss.  Numeric addresses only: nothing is resolved at start.
 * Returns 0 or -EINVAL.
 */
static int
parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1] = "127.0.0.1";
	const char *port = s, *colon = strrchr(s, ':');
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char *end;
	long p;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		port = close + 2;
	} else if (colon) {
		if ((size_t)(colon - s) >= sizeof(host) || strchr(s, ':') != colon)
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port = colon + 1;
	}
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	errno = 0;
	p = strtol(port, &end, 10);
	if (errno || end == port || *end || p < 0 || p > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)p);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		return 0;
	}
	return -EINVAL;
}

/* [policy]: audit = yes|no, and rule = ... lines, in order. */
static int
on_policy(struct conf_parse *p, const char *name, const char *value)
{
	char err[256];

	if (strcmp(name, "audit") == 0) {
		if (strcmp(value, "yes") && strcmp(value, "no") && strcmp(value, "true") &&
		    strcmp(value, "false")) {
			return fail(p, "[policy] audit: expected yes or no, got \"%s\"", value);
		}
		p->c->policy->audit = value[0] == 'y' || value[0] == 't';
		return 1;
	}
	if (strcmp(name, "tls-insecure") == 0) {
		if (strcmp(value, "deny") && strcmp(value, "allow"))
			return fail(p, "[policy] tls-insecure: expected deny or allow, got \"%s\"",
				    value);
		p->c->policy->tls_insecure = value[0] == 'a';
		return 1;
	}
	if (strcmp(name, "rule") == 0) {
		if (policy_add(p->c->policy, value, ++p->rules, err, sizeof(err)) < 0) {
			return fail(p, "[policy] rule %d: %s", p->rules, err);
		}
		return 1;
	}
	return fail(p, "unknown key [policy] %s (audit, rule, tls-insecure)", name);
}

/* A key nobody knows: where it belongs, or what it may have meant.  Returns 0 for inih. */
static int
unknown_key(struct conf_parse *p, const char *section, const char *name)
{
	const char *ks, *kn = suggest(section, name, &ks);
	bool elsewhere = kn && strcmp(kn, name) == 0;

	if (!*section)
		return fail(p, "%s: a key before any [section]%s%s%s", name,
			    elsewhere ? " (it belongs in [" : "", elsewhere ? ks : "",
			    elsewhere ? "])" : "");
	if (strcmp(section, "daemon") && strcmp(section, "limits"))
		return fail(p, "unknown section [%s] (key %s): the sections are [daemon], [limits] "
			    "and [policy]", section, name);
	if (elsewhere)
		return fail(p, "[%s] %s: this key belongs in [%s]", section, name, ks);
	if (kn)
		return fail(p, "unknown key [%s] %s (did you mean [%s] %s?)", section, name, ks, kn);
	return fail(p, "unknown key [%s] %s", section, name);
}

static int
on_value(void *user, const char *section, const char *name, const char *value)
{
	struct conf_parse *p = user;
	struct conf *c = p->c;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct conf_key *k = &keys[i];
		char *end;
		uint64_t v;

		if (strcmp(section, k->section) != 0 || strcmp(name, k->name) != 0)
			continue;
		errno = 0;
		v = strtoull(value, &end, 10);
		if (errno || end == value || *end || value[0] == '-' || v < k->min || v > k->max) {
			return fail(p, "[%s] %s: expected a number from %" PRIu64 " to %" PRIu64
				    ", got \"%s\"", section, name, k->min, k->max, value);
		}
		*(uint64_t *)((char *)c + k->offset) = v;
		return 1;
	}
	if (strcmp(section, "policy") == 0)
		return on_policy(p, name, value);
	if (strcmp(section, "daemon") == 0 && strcmp(name, "socket") == 0) {
		free(c->socket_path);
		c->socket_path = strdup(value);
		return c->socket_path != NULL;
	}
	if (strcmp(section, "daemon") == 0 && strcmp(name, "socket-group") == 0) {
		struct group *gr = getgrnam(value);
		char *end;
		long gid = strtol(value, &end, 10);

		if (gr) {
			c->socket_group = (long)gr->gr_gid;
		} else if (end != value && !*end && gid >= 0) {
			c->socket_group = gid;
		} else {
			return fail(p, "[daemon] socket-group: no such group \"%s\"", value);
		}
		return 1;
	}
	if (strcmp(section, "daemon") == 0 && strcmp(name, "log-level") == 0) {
		int l = log_parse_level(value);

		if (l < 0) {
			return fail(p, "[daemon] log-level: unknown level \"%s\" (error, warning, "
				    "notice, info, debug)", value);
		}
		c->log_level = l;
		return 1;
	}
	if (strcmp(section, "daemon") == 0 && strcmp(name, "resolver-lookups") == 0) {
		if (strspn(value, "fb") != strlen(value) || !*value || strlen(value) > 2) {
			return fail(p, "[daemon] resolver-lookups: expected \"fb\", \"f\" or \"b\", "
				    "got \"%s\"", value);
		}
		snprintf(c->resolver_lookups, sizeof(c->resolver_lookups), "%s", value);
		return 1;
	}
	if (strcmp(section, "daemon") == 0 && strcmp(name, "fd-store") == 0) {
		if (strcmp(value, "auto") == 0)
			c->fd_store = CONF_FD_STORE_AUTO;
		else if (strcmp(value, "yes") == 0)
			c->fd_store = CONF_FD_STORE_YES;
		else if (strcmp(value, "no") == 0)
			c->fd_store = CONF_FD_STORE_NO;
		else
			return fail(p, "[daemon] fd-store: expected auto, yes or no, got \"%s\"",
				    value);
		return 1;
	}
	if (strcmp(section, "daemon") == 0 && strcmp(name, "metrics-listen") == 0) {
		if (parse_listen(value, &c->metrics_listen) < 0)
			return fail(p, "[daemon] metrics-listen: expected ADDRESS:PORT (numeric; "
				    "[::1]:PORT for IPv6) or PORT, got \"%s\"", value);
		c->metrics_on = true;
		return 1;
	}
	return unknown_key(p, section, name);
}

/*
 * inih's line reader: one physical line per call, counted.  A line longer
 * than inih takes is an error of its own (inih would read the rest as
 * another line); its rest is skipped.
 */
static char *
read_line(char *buf, int size, void *stream)
{
	struct conf_parse *p = stream;
	int ch;

	if (!fgets(buf, size, p->f))
		return NULL;
	p->line++;
	if (!strchr(buf, '\n') && !feof(p->f)) {
		fail(p, "line longer than %d bytes", size - 2);
		while ((ch = getc(p->f)) != EOF && ch != '\n')
			;
	}
	return buf;
}

/* What inih could not parse at line n of path, for the message. */
static void
syntax_error(const char *path, int n, char *out, size_t len)
{
	char line[CONF_LINE_MAX], *s, *e;
	FILE *f = fopen(path, "re");
	int i = 0;

	snprintf(out, len, "syntax error");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && ++i < n)
		;
	fclose(f);
	if (i != n)
		return;
	for (s = line; *s == ' ' || *s == '\t'; s++)
		;
	e = s + strcspn(s, "\r\n");
	*e = '\0';
	if (*s == '[')
		snprintf(out, len, "syntax error: a section is \"[name]\", got \"%.60s\"", s);
	else
		snprintf(out, len, "syntax error: expected \"key = value\" or \"[section]\", got "
			 "\"%.60s\"", s);
}

/*
 * Reads path into c.  A missing file is fine unless must_exist.  Returns 0,
 * or -errno / -EINVAL with *ret_err (owned by the caller) saying what and
 * where.
 */
int
conf_load(struct conf *c, const char *path, bool must_exist, char **ret_err)
{
	struct conf_parse p = { .c = c };
	FILE *f = fopen(path, "re");
	int r;

	*ret_err = NULL;
	c->policy = policy_free(c->policy);
	c->policy = policy_new();
	if (!c->policy) {
		if (f)
			fclose(f);
		return -ENOMEM;
	}
	if (!f) {
		r = -errno;
		if (r == -ENOENT && !must_exist)
			return policy_finish(c->policy);
		if (asprintf(ret_err, "%s: %s", path, strerror(-r)) < 0)
			*ret_err = NULL;
		return r;
	}
	p.f = f;
	r = ini_parse_stream(read_line, &p, on_value, &p);
	fclose(f);
	if (r < 0) {
		if (asprintf(ret_err, "%s: %s", path, strerror(ENOMEM)) < 0)
			*ret_err = NULL;
		return -ENOMEM;
	}
	if (r > 0 && (!p.err_line || r < p.err_line)) {
		/* inih's own complaint came first: a line that is no key = value. */
		p.err_line = r;
		syntax_error(path, r, p.err, sizeof(p.err));
	}
	if (p.err_line) {
		if (asprintf(ret_err, "%s:%d: %s", path, p.err_line, p.err) < 0)
			*ret_err = NULL;
		return -EINVAL;
	}
	return policy_finish(c->policy);
}
