/*
 * policy-load: makes a freshly read policy complete before it is put in
 * force, by resolving the names of its host= rules on the loop (dns.c)
 * and handing the addresses to policy.c.
 *
 * The whole resolution is bounded by one timer.  A name that does not
 * resolve in time, or at all, is logged.  For a name of a deny rule that
 * makes the load fail: the caller must not put such a policy in force
 * (at start the daemon exits, on SIGHUP the running policy stays).  A
 * name of an allow rule that does not resolve leaves that rule matching
 * by name only, which can only deny more.
 */
#ifndef TISOCK_POLICY_LOAD_H
#define TISOCK_POLICY_LOAD_H

struct dns;
struct ev_loop;
struct policy;
struct policy_load;

/*
 * r is 0 when the policy is complete, -EHOSTUNREACH when a name of a deny
 * rule did not resolve.  Called once, from the loop, never from inside
 * policy_load_start(); the load is freed right after it returns.
 */
typedef void (*policy_load_cb)(void *userdata, int r);

struct policy_load *policy_load_start(struct ev_loop *loop, struct dns *dns, struct policy *p,
		    double timeout, policy_load_cb cb, void *userdata);
struct policy_load *policy_load_cancel(struct policy_load *l);

#endif
