/*
 * policy: who may connect where, listen where, and accept whom.
 *
 * An ordered list of allow/deny rules from the config file's [policy]
 * section, then the built-in defaults; the first rule that matches
 * decides.  A rule matches on the client's identity (uid, primary or
 * supplementary gid, from SO_PEERCRED / SO_PEERGROUPS), the action, and
 * the destination: the address actually connected to, bound, or accepted
 * from (dest=CIDR), the host name the client asked for (host=NAME), or
 * an address that name resolves to (the daemon resolves rule host names
 * itself, so asking for a denied host by its address does not get
 * around a host= rule), and the port.
 *
 * Addresses are judged as the kernel uses them: an IPv4-mapped IPv6
 * address (in a check or in a dest= block) is its IPv4 address, and the
 * unspecified address (0.0.0.0, ::) is a wildcard bind, which reaches
 * every address of its family: a deny rule with any dest= block or host
 * address of that family matches it, an allow rule only when a block
 * contains the unspecified address itself.  (A connect never reaches
 * the policy with an unspecified address: the socket engine turns it
 * into the loopback address the kernel would connect to.)
 *
 * This file only decides.  The addresses of host= names are given to it
 * (policy_host_set) by whoever loads the policy (policy-load.c); a name
 * of a deny rule that was never given its addresses matches every
 * address, so a policy put in force too early fails closed.
 *
 * Rule text:  allow|deny ACTIONS [user=U,..] [group=G,..] [dest=CIDR,..]
 *             [host=NAME,..] [port=P|P-Q,..] [tls=required|forbidden]
 * tls= is no match criterion but a condition of an allow rule: what it
 * matches is denied, by it, unless the connection is TLS (required) or
 * is not (forbidden).
 * ACTIONS is connect, listen, accept, a comma list of them, or any.
 */
#ifndef TISOCK_POLICY_H
#define TISOCK_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

enum policy_action {
	POLICY_CONNECT	= 1 << 0,
	POLICY_LISTEN	= 1 << 1,
	POLICY_ACCEPT	= 1 << 2,
};

#define POLICY_MAX_GROUPS	64

/* What an allow rule asks of TLS (tls=required|forbidden). */
enum {
	POLICY_TLS_ANY,
	POLICY_TLS_REQUIRED,
	POLICY_TLS_FORBIDDEN,
};

/* Who is asking. */
struct policy_subject {
	uid_t		 uid;
	gid_t		 gid;
	pid_t		 pid;
	size_t		 ngroups;
	gid_t		 groups[POLICY_MAX_GROUPS];	/* supplementary */
};

struct policy_rule;

struct policy {
	struct policy_rule	*rules;		/* the file's, then the defaults */
	size_t			 n, nfile;
	bool			 audit;
	bool			 tls_insecure;	/* tls-insecure = allow */
};

struct policy	*policy_new(void);
struct policy	*policy_free(struct policy *p);
/* Adds one rule line (from the file, at line).  0, or -EINVAL with *err set. */
int		 policy_add(struct policy *p, const char *text, int line, char *err, size_t errlen);
/* Appends the defaults; call once the file's rules are in. */
int		 policy_finish(struct policy *p);

/* The host= names, numbered 0..count-1 over all rules in order (p may be NULL). */
size_t		 policy_host_count(const struct policy *p);
/* Name i, with its rule's line and whether that rule denies.  NULL past the end. */
const char	*policy_host_name(const struct policy *p, size_t i, int *ret_line, bool *ret_deny);
/* What name i resolves to (n may be 0).  Returns 0, -ENOENT or -ENOMEM. */
int		 policy_host_set(struct policy *p, size_t i, const struct sockaddr_storage *addrs,
		    int n);

/*
 * The rule that decides action by s on addr (port included; NULL for
 * none), asked for as host (NULL when an address was given).  Never
 * NULL: the defaults end with a rule for everything.
 */
const struct policy_rule *policy_check(const struct policy *p, const struct policy_subject *s,
		    enum policy_action action, const char *host, const struct sockaddr *addr);
bool		 policy_rule_allows(const struct policy_rule *r);
bool		 policy_rule_allows_tls(const struct policy_rule *r, bool tls);
const char	*policy_rule_text(const struct policy_rule *r);
int		 policy_rule_line(const struct policy_rule *r);	/* 0: a default */
const char	*policy_action_name(enum policy_action a);

#endif
