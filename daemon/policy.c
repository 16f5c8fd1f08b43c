/*
 * policy: see policy.h.
 *
 * Rules are parsed once (at start and on each reload) into flat arrays;
 * a check walks them in order and allocates nothing.  User and group
 * names are looked up when the rules are loaded, never per request; host
 * names are resolved by the loader (policy-load.c), which hands the
 * addresses in before the policy is put in force.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy.h"

struct policy_net {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];
	int		 prefix;
};

struct policy_host {
	char			*name;		/* lower case, no trailing dot */
	struct sockaddr_storage	*addrs;		/* what it resolved to, owned */
	int			 naddrs;
	bool			 resolved;	/* addrs given by policy_host_set() */
};

struct policy_ports {
	uint16_t	lo, hi;
};

struct policy_rule {
	bool			 allow;
	unsigned		 actions;	/* POLICY_* */
	uid_t			*uids;
	size_t			 nuids;
	gid_t			*gids;
	size_t			 ngids;
	struct policy_net	*nets;
	size_t			 nnets;
	struct policy_host	*hosts;
	size_t			 nhosts;
	struct policy_ports	*ports;
	size_t			 nports;
	char			*text;
	int			 line;		/* 0: a default */
	int			 tls;		/* POLICY_TLS_*, of an allow */
};

/* The first 12 bytes of an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static const char *const defaults[] = {
	"allow connect",
	"allow listen dest=127.0.0.0/8,::1 port=1024-65535",
	"deny listen",
	"allow accept",
};

struct policy *
policy_new(void)
{
	return calloc(1, sizeof(struct policy));
}

static void
rule_free(struct policy_rule *r)
{
	free(r->uids);
	free(r->gids);
	free(r->nets);
	for (size_t i = 0; i < r->nhosts; i++) {
		free(r->hosts[i].name);
		free(r->hosts[i].addrs);
	}
	free(r->hosts);
	free(r->ports);
	free(r->text);
}

struct policy *
policy_free(struct policy *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	free(p);
	return NULL;
}

const char *
policy_action_name(enum policy_action a)
{
	switch (a) {
	case POLICY_CONNECT:	return "connect";
	case POLICY_LISTEN:	return "listen";
	case POLICY_ACCEPT:	return "accept";
	}
	return "?";
}

/* Appends one element to a growing array.  0 or -ENOMEM. */
static int
push(void **arr, size_t *n, size_t size, const void *elem)
{
	void *p = realloc(*arr, (*n + 1) * size);

	if (!p)
		return -ENOMEM;
	memcpy((char *)p + *n * size, elem, size);
	*arr = p;
	(*n)++;
	return 0;
}

static int
parse_actions(const char *s, unsigned *ret)
{
	char buf[128], *save = NULL, *tok;

	*ret = 0;
	if (strcmp(s, "any") == 0 || strcmp(s, "*") == 0) {
		*ret = POLICY_CONNECT | POLICY_LISTEN | POLICY_ACCEPT;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "connect") == 0)
			*ret |= POLICY_CONNECT;
		else if (strcmp(tok, "listen") == 0)
			*ret |= POLICY_LISTEN;
		else if (strcmp(tok, "accept") == 0)
			*ret |= POLICY_ACCEPT;
		else
			return -EINVAL;
	}
	return *ret ? 0 : -EINVAL;
}

static bool
parse_id(const char *s, unsigned long *ret)
{
	char *end;

	errno = 0;
	*ret = strtoul(s, &end, 10);
	return !errno && end != s && !*end && *ret < 0xffffffffUL;
}

static int
parse_net(const char *s, struct policy_net *n)
{
	char buf[64], *slash;
	long prefix = -1;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash) {
		char *end;

		*slash = '\0';
		prefix = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end)
			return -EINVAL;
	}
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, buf, n->addr) == 1) {
		n->family = AF_INET;
		n->prefix = prefix < 0 ? 32 : (int)prefix;
		return prefix > 32 ? -EINVAL : 0;
	}
	if (inet_pton(AF_INET6, buf, n->addr) == 1) {
		n->family = AF_INET6;
		n->prefix = prefix < 0 ? 128 : (int)prefix;
		if (prefix > 128)
			return -EINVAL;
		/* ::ffff:a.b.c.d/96+: an IPv4 block, as the addresses it is matched with. */
		if (n->prefix >= 96 && memcmp(n->addr, v4mapped, sizeof(v4mapped)) == 0) {
			memmove(n->addr, n->addr + 12, 4);
			memset(n->addr + 4, 0, 12);
			n->family = AF_INET;
			n->prefix -= 96;
		}
		return 0;
	}
	return -EINVAL;
}

static int
parse_ports(const char *s, struct policy_ports *p)
{
	char *end;
	long lo, hi;

	errno = 0;
	lo = strtol(s, &end, 10);
	hi = lo;
	if (*end == '-')
		hi = strtol(end + 1, &end, 10);
	if (errno || *end || end == s || lo < 0 || hi > 65535 || lo > hi)
		return -EINVAL;
	p->lo = (uint16_t)lo;
	p->hi = (uint16_t)hi;
	return 0;
}

/* One key=value item into r.  0, or -EINVAL/-ENOMEM with err set. */
static int
parse_item(struct policy_rule *r, const char *key, char *list, char *err, size_t errlen)
{
	char *save = NULL, *v;

	for (v = strtok_r(list, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
		unsigned long id;
		int k = 0;

		if (strcmp(key, "user") == 0) {
			struct passwd *pw = parse_id(v, &id) ? NULL : getpwnam(v);
			uid_t uid = pw ? pw->pw_uid : (uid_t)id;

			if (!pw && !parse_id(v, &id)) {
				snprintf(err, errlen, "no such user \"%s\"", v);
				return -EINVAL;
			}
			k = push((void **)&r->uids, &r->nuids, sizeof(uid), &uid);
		} else if (strcmp(key, "group") == 0) {
			struct group *gr = parse_id(v, &id) ? NULL : getgrnam(v);
			gid_t gid = gr ? gr->gr_gid : (gid_t)id;

			if (!gr && !parse_id(v, &id)) {
				snprintf(err, errlen, "no such group \"%s\"", v);
				return -EINVAL;
			}
			k = push((void **)&r->gids, &r->ngids, sizeof(gid), &gid);
		} else if (strcmp(key, "dest") == 0) {
			struct policy_net n;

			if (parse_net(v, &n) < 0) {
				snprintf(err, errlen, "dest: \"%s\" is not an address or CIDR block", v);
				return -EINVAL;
			}
			k = push((void **)&r->nets, &r->nnets, sizeof(n), &n);
		} else if (strcmp(key, "host") == 0) {
			struct policy_host h = { .name = strdup(v) };
			size_t len;

			if (!h.name)
				return -ENOMEM;
			for (char *c = h.name; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			len = strlen(h.name);
			if (len > 1 && h.name[len - 1] == '.')
				h.name[len - 1] = '\0';
			k = push((void **)&r->hosts, &r->nhosts, sizeof(h), &h);
			if (k < 0)
				free(h.name);
		} else if (strcmp(key, "tls") == 0) {
			if (strcmp(v, "required") && strcmp(v, "forbidden")) {
				snprintf(err, errlen, "tls: \"%s\" is not required or forbidden",
					 v);
				return -EINVAL;
			}
			if (!r->allow) {
				snprintf(err, errlen, "tls= belongs on allow rules");
				return -EINVAL;
			}
			r->tls = v[0] == 'r' ? POLICY_TLS_REQUIRED : POLICY_TLS_FORBIDDEN;
		} else if (strcmp(key, "port") == 0) {
			struct policy_ports p;

			if (parse_ports(v, &p) < 0) {
				snprintf(err, errlen, "port: \"%s\" is not a port or range (0-65535)", v);
				return -EINVAL;
			}
			k = push((void **)&r->ports, &r->nports, sizeof(p), &p);
		} else {
			snprintf(err, errlen, "unknown item \"%s\" (user, group, dest, host, port, "
				 "tls)", key);
			return -EINVAL;
		}
		if (k < 0) {
			snprintf(err, errlen, "out of memory");
			return k;
		}
	}
	return 0;
}

int
policy_add(struct policy *p, const char *text, int line, char *err, size_t errlen)
{
	struct policy_rule r = { .line = line };
	char *copy = strdup(text), *save = NULL, *tok;
	int k = -EINVAL, i = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save), i++) {
		char *eq;

		if (i == 0) {
			if (strcmp(tok, "allow") != 0 && strcmp(tok, "deny") != 0) {
				snprintf(err, errlen, "a rule starts with allow or deny, not \"%s\"", tok);
				goto fail;
			}
			r.allow = tok[0] == 'a';
			continue;
		}
		if (i == 1) {
			if (parse_actions(tok, &r.actions) < 0) {
				snprintf(err, errlen, "\"%s\": actions are connect, listen, accept or any",
					 tok);
				goto fail;
			}
			continue;
		}
		eq = strchr(tok, '=');
		if (!eq || eq == tok || !eq[1]) {
			snprintf(err, errlen, "\"%s\": expected key=value", tok);
			goto fail;
		}
		*eq = '\0';
		k = parse_item(&r, tok, eq + 1, err, errlen);
		if (k < 0)
			goto fail;
	}
	if (i < 2) {
		snprintf(err, errlen, "a rule needs allow|deny and an action");
		k = -EINVAL;
		goto fail;
	}
	free(copy);
	if (line > 0) {
		r.text = strdup(text);
	} else if (asprintf(&r.text, "(default) %s", text) < 0) {
		r.text = NULL;
	}
	if (!r.text || push((void **)&p->rules, &p->n, sizeof(r), &r) < 0) {
		rule_free(&r);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (line > 0)
		p->nfile++;
	return 0;
fail:
	free(copy);
	rule_free(&r);
	return k < 0 ? k : -EINVAL;
}

int
policy_finish(struct policy *p)
{
	char err[128];

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (policy_add(p, defaults[i], 0, err, sizeof(err)) < 0)
			return -ENOMEM;
	return 0;
}

/* Host item i over all rules: its rule in *ret_rule.  NULL past the end. */
static struct policy_host *
host_at(const struct policy *p, size_t i, struct policy_rule **ret_rule)
{
	for (size_t k = 0; p && k < p->n; k++) {
		if (i < p->rules[k].nhosts) {
			*ret_rule = &p->rules[k];
			return &p->rules[k].hosts[i];
		}
		i -= p->rules[k].nhosts;
	}
	return NULL;
}

size_t
policy_host_count(const struct policy *p)
{
	size_t n = 0;

	for (size_t k = 0; p && k < p->n; k++)
		n += p->rules[k].nhosts;
	return n;
}

const char *
policy_host_name(const struct policy *p, size_t i, int *ret_line, bool *ret_deny)
{
	struct policy_rule *r;
	struct policy_host *h = host_at(p, i, &r);

	if (!h)
		return NULL;
	if (ret_line)
		*ret_line = r->line;
	if (ret_deny)
		*ret_deny = !r->allow;
	return h->name;
}

int
policy_host_set(struct policy *p, size_t i, const struct sockaddr_storage *addrs, int n)
{
	struct policy_rule *r;
	struct policy_host *h = host_at(p, i, &r);
	struct sockaddr_storage *copy = NULL;

	if (!h)
		return -ENOENT;
	if (n > 0) {
		copy = calloc((size_t)n, sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, addrs, (size_t)n * sizeof(*copy));
	}
	free(h->addrs);
	h->addrs = copy;
	h->naddrs = n > 0 ? n : 0;
	h->resolved = true;
	return 0;
}

/* The address bytes of sa, IPv4-mapped IPv6 as IPv4.  The family, or 0. */
static int
addr_bytes(const struct sockaddr *sa, const uint8_t **ret, int *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		*ret = (const uint8_t *)&s4->sin_addr;
		*port = ntohs(s4->sin_port);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		*port = ntohs(s6->sin6_port);
		if (memcmp(s6->sin6_addr.s6_addr, v4mapped, sizeof(v4mapped)) == 0) {
			*ret = s6->sin6_addr.s6_addr + 12;
			return AF_INET;
		}
		*ret = s6->sin6_addr.s6_addr;
		return AF_INET6;
	}
	return 0;
}

static bool
in_net(const struct policy_net *n, int family, const uint8_t *a)
{
	int bits = n->prefix, i = 0;

	if (n->family != family)
		return false;
	for (; bits >= 8; bits -= 8, i++)
		if (a[i] != n->addr[i])
			return false;
	return bits == 0 || ((a[i] ^ n->addr[i]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

static bool
same_host(const char *want, const char *asked)
{
	size_t n = strlen(asked);

	if (n > 1 && asked[n - 1] == '.')
		n--;
	return strlen(want) == n && strncasecmp(want, asked, n) == 0;
}

static bool
who_matches(const struct policy_rule *r, const struct policy_subject *s)
{
	bool ok;

	if (r->nuids) {
		ok = false;
		for (size_t i = 0; i < r->nuids && !ok; i++)
			ok = r->uids[i] == s->uid;
		if (!ok)
			return false;
	}
	if (r->ngids) {
		ok = false;
		for (size_t i = 0; i < r->ngids && !ok; i++) {
			ok = r->gids[i] == s->gid;
			for (size_t j = 0; j < s->ngroups && !ok; j++)
				ok = r->gids[i] == s->groups[j];
		}
		if (!ok)
			return false;
	}
	return true;
}

/* Whether the address a of family is the unspecified one (0.0.0.0, ::). */
static bool
is_unspecified(int family, const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, family == AF_INET ? 4 : 16) == 0;
}

/*
 * Whether address a (family; NULL: none) is among the rule's addresses.
 * An unspecified address stands for every address of its family: a deny
 * rule matches it with any address of that family, an allow rule only
 * with a block that contains it (see policy.h).
 */
static bool
addr_matches(const struct policy_rule *r, int family, const uint8_t *a)
{
	bool any = family && is_unspecified(family, a);

	for (size_t i = 0; i < r->nnets && family; i++) {
		if (any && !r->allow ? r->nets[i].family == family
				     : in_net(&r->nets[i], family, a))
			return true;
	}
	for (size_t i = 0; i < r->nhosts; i++) {
		const struct policy_host *h = &r->hosts[i];

		if (!h->resolved && !r->allow)
			return true;	/* never resolved: fail closed */
		for (int j = 0; j < h->naddrs && family; j++) {
			const uint8_t *b;
			int f, bp;

			f = addr_bytes((const struct sockaddr *)&h->addrs[j], &b, &bp);
			if (f != family)
				continue;
			if ((any && !r->allow) || memcmp(a, b, f == AF_INET ? 4 : 16) == 0)
				return true;
		}
	}
	return false;
}

static bool
where_matches(const struct policy_rule *r, const char *host, const struct sockaddr *addr)
{
	const uint8_t *a = NULL;
	int family = 0, port = -1;

	if (addr)
		family = addr_bytes(addr, &a, &port);
	if (r->nports) {
		bool ok = false;

		for (size_t i = 0; i < r->nports && !ok && port >= 0; i++)
			ok = port >= r->ports[i].lo && port <= r->ports[i].hi;
		if (!ok)
			return false;
	}
	if (!r->nnets && !r->nhosts)
		return true;
	for (size_t i = 0; i < r->nhosts && host; i++)
		if (same_host(r->hosts[i].name, host))
			return true;
	return addr_matches(r, family, a);
}

const struct policy_rule *
policy_check(const struct policy *p, const struct policy_subject *s, enum policy_action action,
	     const char *host, const struct sockaddr *addr)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct policy_rule *r = &p->rules[i];

		if ((r->actions & action) && who_matches(r, s) && where_matches(r, host, addr))
			return r;
	}
	return &p->rules[p->n - 1];	/* unreachable with the defaults in place */
}

bool
policy_rule_allows(const struct policy_rule *r)
{
	return r->allow;
}

/*
 * Whether r allows a connection that is TLS or not: an allow rule with
 * tls=required refuses plain TCP, one with tls=forbidden refuses TLS.
 */
bool
policy_rule_allows_tls(const struct policy_rule *r, bool tls)
{
	return r->allow && (r->tls == POLICY_TLS_ANY || (r->tls == POLICY_TLS_REQUIRED) == tls);
}

const char *
policy_rule_text(const struct policy_rule *r)
{
	return r->text;
}

int
policy_rule_line(const struct policy_rule *r)
{
	return r->line;
}
