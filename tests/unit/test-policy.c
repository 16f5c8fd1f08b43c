/*
 * test-policy: the decisions of policy.c on their own: IPv4-mapped
 * addresses (checked, and written in dest=) judged as IPv4, the
 * unspecified address as a wildcard (a deny rule of its family matches
 * it, an allow rule only when a block contains it), and host= names
 * whose addresses the loader hands in: a deny rule's name never given
 * its addresses matches every address, an allow rule's matches by name.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "policy.h"

static const struct policy_subject subject = { .uid = 1000, .gid = 1000, .pid = 1 };

static struct policy *
make(const char *const *rules, size_t n)
{
	struct policy *p = policy_new();
	char err[128];

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(policy_add(p, rules[i], (int)i + 1, err, sizeof(err)), 0);
	assert_int_equal(policy_finish(p), 0);
	return p;
}

static struct sockaddr_storage
addr(const char *text, int port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
	}
	return ss;
}

/* The line of the rule deciding action on text:port (asked for as host). */
static int
rule_for(const struct policy *p, enum policy_action action, const char *host, const char *text)
{
	struct sockaddr_storage ss = addr(text, 8080);
	const struct policy_rule *r = policy_check(p, &subject, action, host,
						   (const struct sockaddr *)&ss);

	return policy_rule_allows(r) ? -policy_rule_line(r) : policy_rule_line(r);
}

static void
mapped_addresses_are_ipv4(void **state)
{
	static const char *const rules[] = {
		"deny connect dest=127.0.0.0/8",
		"deny accept dest=::ffff:10.0.0.0/104",
		"allow connect",
	};
	struct policy *p = make(rules, 3);

	(void)state;
	assert_int_equal(rule_for(p, POLICY_CONNECT, NULL, "::ffff:127.0.0.1"), 1);
	assert_int_equal(rule_for(p, POLICY_CONNECT, NULL, "127.9.9.9"), 1);
	assert_int_equal(rule_for(p, POLICY_ACCEPT, NULL, "10.1.2.3"), 2);
	assert_int_equal(rule_for(p, POLICY_ACCEPT, NULL, "::ffff:10.1.2.3"), 2);
	assert_int_equal(rule_for(p, POLICY_ACCEPT, NULL, "11.1.2.3"), 0);	/* allow accept */
	assert_int_equal(rule_for(p, POLICY_CONNECT, NULL, "::2"), -3);
	policy_free(p);
}

static void
unspecified_is_a_wildcard(void **state)
{
	static const char *const rules[] = {
		"deny listen dest=127.0.0.2,::1",
		"allow listen dest=0.0.0.0",
		"deny listen dest=10.0.0.0/8",
		"allow listen",
	};
	struct policy *p = make(rules, 4);

	(void)state;
	/* 0.0.0.0 reaches 127.0.0.2: rule 1, although 0.0.0.0 is not in it. */
	assert_int_equal(rule_for(p, POLICY_LISTEN, NULL, "0.0.0.0"), 1);
	assert_int_equal(rule_for(p, POLICY_LISTEN, NULL, "::"), 1);
	assert_int_equal(rule_for(p, POLICY_LISTEN, NULL, "127.0.0.1"), -4);
	assert_int_equal(rule_for(p, POLICY_LISTEN, NULL, "127.0.0.2"), 1);
	policy_free(p);
	{
		static const char *const allow_any[] = {
			"allow listen dest=0.0.0.0,::/0",
			"deny listen",
		};
		/* An allow rule matches a wildcard only with a block containing it. */
		p = make(allow_any, 2);
		assert_int_equal(rule_for(p, POLICY_LISTEN, NULL, "0.0.0.0"), -1);
		assert_int_equal(rule_for(p, POLICY_LISTEN, NULL, "::"), -1);
		policy_free(p);
	}
	{
		static const char *const allow_lo[] = {
			"allow listen dest=127.0.0.0/8,::1",
			"deny listen",
		};
		p = make(allow_lo, 2);
		assert_int_equal(rule_for(p, POLICY_LISTEN, NULL, "0.0.0.0"), 2);
		assert_int_equal(rule_for(p, POLICY_LISTEN, NULL, "::"), 2);
		policy_free(p);
	}
}

static void
host_names_take_given_addresses(void **state)
{
	static const char *const rules[] = {
		"allow connect host=good.example",
		"deny connect host=bad.example,worse.example",
		"allow connect",
	};
	struct policy *p = make(rules, 3);
	struct sockaddr_storage bad = addr("192.0.2.7", 0), good = addr("192.0.2.8", 0);
	bool deny = false;
	int line = 0;

	(void)state;
	assert_int_equal(policy_host_count(p), 3);
	assert_string_equal(policy_host_name(p, 0, &line, &deny), "good.example");
	assert_int_equal(line, 1);
	assert_false(deny);
	assert_string_equal(policy_host_name(p, 2, &line, &deny), "worse.example");
	assert_int_equal(line, 2);
	assert_true(deny);
	assert_null(policy_host_name(p, 3, NULL, NULL));
	assert_int_equal(policy_host_set(p, 3, &bad, 1), -ENOENT);

	/* Not resolved yet: the deny rule matches everything, fail closed. */
	assert_int_equal(rule_for(p, POLICY_CONNECT, NULL, "198.51.100.1"), 2);
	/* Resolved: it matches its names and their addresses only. */
	assert_int_equal(policy_host_set(p, 1, &bad, 1), 0);
	assert_int_equal(policy_host_set(p, 2, NULL, 0), 0);
	assert_int_equal(rule_for(p, POLICY_CONNECT, NULL, "198.51.100.1"), -3);
	assert_int_equal(rule_for(p, POLICY_CONNECT, NULL, "192.0.2.7"), 2);
	assert_int_equal(rule_for(p, POLICY_CONNECT, NULL, "::ffff:192.0.2.7"), 2);
	assert_int_equal(rule_for(p, POLICY_CONNECT, "Worse.Example.", "198.51.100.1"), 2);
	/* The allow rule's name, not resolved: by name only. */
	assert_int_equal(rule_for(p, POLICY_CONNECT, "good.example", "192.0.2.7"), -1);
	assert_int_equal(rule_for(p, POLICY_CONNECT, NULL, "192.0.2.8"), -3);
	assert_int_equal(policy_host_set(p, 0, &good, 1), 0);
	assert_int_equal(rule_for(p, POLICY_CONNECT, NULL, "192.0.2.8"), -1);
	policy_free(p);
	assert_int_equal(policy_host_count(NULL), 0);
}

/* tls=required|forbidden: a condition of an allow rule, not a match criterion. */
static void
tls_conditions(void **state)
{
	static const char *const rules[] = {
		"allow connect dest=192.0.2.1 tls=required",
		"allow connect dest=192.0.2.2 tls=forbidden",
	};
	struct policy *p = make(rules, 2);
	struct sockaddr_storage a1 = addr("192.0.2.1", 443), a2 = addr("192.0.2.2", 25),
				a3 = addr("192.0.2.3", 80);
	const struct policy_rule *r;
	struct policy *q = policy_new();
	char err[128];

	(void)state;
	r = policy_check(p, &subject, POLICY_CONNECT, NULL, (const struct sockaddr *)&a1);
	assert_int_equal(policy_rule_line(r), 1);
	assert_true(policy_rule_allows_tls(r, true));
	assert_false(policy_rule_allows_tls(r, false));
	r = policy_check(p, &subject, POLICY_CONNECT, NULL, (const struct sockaddr *)&a2);
	assert_false(policy_rule_allows_tls(r, true));
	assert_true(policy_rule_allows_tls(r, false));
	r = policy_check(p, &subject, POLICY_CONNECT, NULL, (const struct sockaddr *)&a3);
	assert_true(policy_rule_allows_tls(r, true) && policy_rule_allows_tls(r, false));
	assert_int_equal(policy_add(q, "allow connect tls=maybe", 1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "tls"));
	assert_int_equal(policy_add(q, "deny connect tls=required", 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "allow"));
	policy_free(q);
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mapped_addresses_are_ipv4),
		cmocka_unit_test(unspecified_is_a_wildcard),
		cmocka_unit_test(host_names_take_given_addresses),
		cmocka_unit_test(tls_conditions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
