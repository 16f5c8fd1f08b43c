/*
 * test-tcp-addr: the engine's address helpers: the destination the kernel
 * really uses (what the policy judges), equality, and numeric hosts with
 * IPv6 scopes.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tcp-addr.h"

/* host (numeric) as tcp_addr_effective leaves it, as text. */
static const char *
effective(const char *host)
{
	static char out[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;

	assert_int_equal(tcp_addr_parse(host, 80, &ss), 0);
	tcp_addr_effective(&ss);
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, sizeof(out));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, sizeof(out));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 80);
	return out;
}

/* Wildcards are where Linux sends them, mapped addresses are IPv4; the rest stays. */
static void
destinations_as_the_kernel_uses_them(void **state)
{
	assert_string_equal(effective("0.0.0.0"), "127.0.0.1");
	assert_string_equal(effective("::"), "::1");
	assert_string_equal(effective("::ffff:0.0.0.0"), "127.0.0.1");
	assert_string_equal(effective("::ffff:10.1.2.3"), "10.1.2.3");
	assert_string_equal(effective("::ffff:127.0.0.1"), "127.0.0.1");
	assert_string_equal(effective("192.0.2.7"), "192.0.2.7");
	assert_string_equal(effective("2001:db8::1"), "2001:db8::1");
	assert_string_equal(effective("::1"), "::1");
}

/* Numeric hosts only; an IPv6 scope by name or number; names and junk refused. */
static void
numeric_hosts(void **state)
{
	struct sockaddr_storage a, b;
	unsigned lo = if_nametoindex("lo");
	char scoped[32];

	assert_int_equal(tcp_addr_parse("fe80::1%lo", 1, &a), 0);
	assert_int_equal(a.ss_family, AF_INET6);
	assert_int_equal(((struct sockaddr_in6 *)&a)->sin6_scope_id, lo);
	snprintf(scoped, sizeof(scoped), "fe80::1%%%u", lo);
	assert_int_equal(tcp_addr_parse(scoped, 1, &b), 0);
	assert_true(tcp_addr_same(&a, &b));
	assert_int_equal(tcp_addr_len(&a), sizeof(struct sockaddr_in6));
	assert_int_equal(tcp_addr_parse("fe80::1", 1, &b), 0);
	assert_false(tcp_addr_same(&a, &b));	/* another scope */
	assert_int_equal(tcp_addr_parse("127.0.0.1", 1, &a), 0);
	assert_int_equal(tcp_addr_len(&a), sizeof(struct sockaddr_in));
	assert_int_equal(tcp_addr_parse("127.0.0.1", 2, &b), 0);
	assert_false(tcp_addr_same(&a, &b));	/* another port */
	assert_int_equal(tcp_addr_parse("localhost", 1, &a), -EINVAL);
	assert_int_equal(tcp_addr_parse("1.2.3", 1, &a), -EINVAL);
	assert_int_equal(tcp_addr_parse("fe80::1%no-such-if", 1, &a), -EINVAL);
	assert_int_equal(tcp_addr_parse("", 1, &a), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(destinations_as_the_kernel_uses_them),
		cmocka_unit_test(numeric_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
