/*
 * conf: defaults and the INI config file.
 *
 * The file has [daemon], [limits] and [policy] sections; every key is
 * optional.
 * An unknown key or a bad value is an error naming the line, so a typo
 * never silently keeps a default.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		.connect_timeout_ms = 30000,
		.happy_eyeballs_delay_ms = 250,
		.linger_ms = 5000,
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
	K("daemon", "connect-timeout-ms", connect_timeout_ms, 0, 2147483647),
	K("daemon", "happy-eyeballs-delay-ms", happy_eyeballs_delay_ms, 10, 2000),
	K("daemon", "linger-ms", linger_ms, 0, 3600000),
	K("daemon", "resolver-timeout-ms", resolver_timeout_ms, 100, 600000),
};

struct conf_parse {
	struct conf	*c;
	int		 rules;		/* [policy] rule lines so far */
	char		 err[512];
};

/* [policy]: audit = yes|no, and rule = ... lines, in order. */
static int
on_policy(struct conf_parse *p, const char *name, const char *value)
{
	char err[256];

	if (strcmp(name, "audit") == 0) {
		if (strcmp(value, "yes") && strcmp(value, "no") && strcmp(value, "true") &&
		    strcmp(value, "false")) {
			snprintf(p->err, sizeof(p->err), "[policy] audit: expected yes or no");
			return 0;
		}
		p->c->policy->audit = value[0] == 'y' || value[0] == 't';
		return 1;
	}
	if (strcmp(name, "rule") == 0) {
		if (policy_add(p->c->policy, value, ++p->rules, err, sizeof(err)) < 0) {
			snprintf(p->err, sizeof(p->err), "[policy] rule %d: %s", p->rules, err);
			return 0;
		}
		return 1;
	}
	snprintf(p->err, sizeof(p->err), "unknown key [policy] %s (audit, rule)", name);
	return 0;
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
			snprintf(p->err, sizeof(p->err), "[%s] %s: expected a number from %" PRIu64
				 " to %" PRIu64 ", got \"%s\"", section, name, k->min, k->max, value);
			return 0;
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
			snprintf(p->err, sizeof(p->err), "[daemon] socket-group: no such group \"%s\"",
				 value);
			return 0;
		}
		return 1;
	}
	if (strcmp(section, "daemon") == 0 && strcmp(name, "log-level") == 0) {
		int l = log_parse_level(value);

		if (l < 0) {
			snprintf(p->err, sizeof(p->err), "[daemon] log-level: unknown level \"%s\"",
				 value);
			return 0;
		}
		c->log_level = l;
		return 1;
	}
	if (strcmp(section, "daemon") == 0 && strcmp(name, "resolver-lookups") == 0) {
		if (strspn(value, "fb") != strlen(value) || !*value || strlen(value) > 2) {
			snprintf(p->err, sizeof(p->err),
				 "[daemon] resolver-lookups: expected \"fb\", \"f\" or \"b\"");
			return 0;
		}
		snprintf(c->resolver_lookups, sizeof(c->resolver_lookups), "%s", value);
		return 1;
	}
	snprintf(p->err, sizeof(p->err), "unknown key [%s] %s", section, name);
	return 0;
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
	r = ini_parse_file(f, on_value, &p);
	fclose(f);
	if (r != 0) {
		if (asprintf(ret_err, "%s:%d: %s", path, r, p.err[0] ? p.err : "syntax error") < 0)
			*ret_err = NULL;
		return -EINVAL;
	}
	return policy_finish(c->policy);
}
