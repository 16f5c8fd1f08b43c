/*
 * test-log: the journal fields of a line (what sd_journal_sendv gets),
 * built without a journal: the standard ones, each structured field only
 * when set, the MESSAGE_IDs well formed and distinct, and long values cut
 * rather than overflowing.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"

/* The field NAME= among iov[0..n), or NULL. */
static const char *
find(const struct iovec *iov, size_t n, const char *name, char *out, size_t outlen)
{
	size_t l = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (iov[i].iov_len > l && memcmp(iov[i].iov_base, name, l) == 0 &&
		    ((char *)iov[i].iov_base)[l] == '=') {
			snprintf(out, outlen, "%.*s", (int)(iov[i].iov_len - l - 1),
				 (char *)iov[i].iov_base + l + 1);
			return out;
		}
	return NULL;
}

static void
plain_line_has_the_standard_fields(void **state)
{
	struct iovec iov[LOG_FIELDS_MAX];
	char buf[LOG_FIELDS_BUF], v[256];
	size_t n;

	(void)state;
	n = log_journal_fields(iov, buf, sizeof(buf), LOG_WARNING, "tisockd", "hello", NULL);
	assert_int_equal(n, 3);
	assert_string_equal(find(iov, n, "MESSAGE", v, sizeof(v)), "hello");
	assert_string_equal(find(iov, n, "PRIORITY", v, sizeof(v)), "4");
	assert_string_equal(find(iov, n, "SYSLOG_IDENTIFIER", v, sizeof(v)), "tisockd");
	assert_null(find(iov, n, "MESSAGE_ID", v, sizeof(v)));
}

static void
policy_denial_has_every_field(void **state)
{
	struct iovec iov[LOG_FIELDS_MAX];
	char buf[LOG_FIELDS_BUF], v[256];
	size_t n;

	(void)state;
	n = log_journal_fields(iov, buf, sizeof(buf), LOG_NOTICE, "tisockd",
			       "policy: denied connect", &(struct log_fields){
				       .message_id = LOG_MID_POLICY_DENIED, .socket = 42,
				       .client = true, .client_uid = 1000, .client_pid = 4321,
				       .dest = "[::1]:80", .rule = "deny connect dest=::1" });
	assert_int_equal(n, 9);
	assert_string_equal(find(iov, n, "MESSAGE_ID", v, sizeof(v)), LOG_MID_POLICY_DENIED);
	assert_string_equal(find(iov, n, "TISOCK_SOCKET", v, sizeof(v)), "42");
	assert_string_equal(find(iov, n, "TISOCK_CLIENT_UID", v, sizeof(v)), "1000");
	assert_string_equal(find(iov, n, "TISOCK_CLIENT_PID", v, sizeof(v)), "4321");
	assert_string_equal(find(iov, n, "TISOCK_DEST", v, sizeof(v)), "[::1]:80");
	assert_string_equal(find(iov, n, "TISOCK_RULE", v, sizeof(v)), "deny connect dest=::1");
	assert_null(find(iov, n, "TISOCK_LIMIT", v, sizeof(v)));
}

static void
unset_fields_are_left_out(void **state)
{
	struct iovec iov[LOG_FIELDS_MAX];
	char buf[LOG_FIELDS_BUF], v[256];
	size_t n;

	(void)state;
	n = log_journal_fields(iov, buf, sizeof(buf), LOG_WARNING, "tisockd", "limit",
			       &(struct log_fields){ .message_id = LOG_MID_LIMIT_HIT,
						     .limit = "clientSockets" });
	assert_int_equal(n, 5);
	assert_string_equal(find(iov, n, "TISOCK_LIMIT", v, sizeof(v)), "clientSockets");
	assert_null(find(iov, n, "TISOCK_SOCKET", v, sizeof(v)));
	assert_null(find(iov, n, "TISOCK_CLIENT_UID", v, sizeof(v)));
	/* uid 0 and pid 0 are real values once client is set. */
	n = log_journal_fields(iov, buf, sizeof(buf), LOG_WARNING, "tisockd", "x",
			       &(struct log_fields){ .client = true });
	assert_string_equal(find(iov, n, "TISOCK_CLIENT_UID", v, sizeof(v)), "0");
}

static void
long_values_are_cut_not_overflowed(void **state)
{
	struct iovec iov[LOG_FIELDS_MAX];
	char buf[LOG_FIELDS_BUF + 16], big[4000];
	size_t n, total = 0;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(buf + LOG_FIELDS_BUF, 0x5a, 16);
	n = log_journal_fields(iov, buf, LOG_FIELDS_BUF, LOG_ERR, "tisockd", big,
			       &(struct log_fields){ .message_id = LOG_MID_STARTED, .rule = big,
						     .dest = big });
	assert_true(n >= 1 && n <= LOG_FIELDS_MAX);
	for (size_t i = 0; i < n; i++) {
		assert_true((char *)iov[i].iov_base >= buf);
		assert_true((char *)iov[i].iov_base + iov[i].iov_len <= buf + LOG_FIELDS_BUF);
		total += iov[i].iov_len;
	}
	assert_true(total < LOG_FIELDS_BUF);
	for (int i = 0; i < 16; i++)
		assert_int_equal((unsigned char)buf[LOG_FIELDS_BUF + i], 0x5a);
	/* Too small a buffer: nothing rather than an overflow. */
	assert_int_equal(log_journal_fields(iov, buf, 10, LOG_ERR, "t", "m", NULL), 0);
}

static void
message_ids_are_distinct_128_bit_hex(void **state)
{
	static const char *const ids[] = {
		LOG_MID_STARTED, LOG_MID_STOPPED, LOG_MID_RELOADED, LOG_MID_RELOAD_FAILED,
		LOG_MID_CONFIG_ERROR, LOG_MID_POLICY_DENIED, LOG_MID_POLICY_ALLOWED,
		LOG_MID_LIMIT_HIT, LOG_MID_MONITOR_DROPPED, LOG_MID_LINGER_EXPIRED,
		LOG_MID_ACCEPT_PAUSED, LOG_MID_ADMIN_CLOSE,
	};
	size_t k = sizeof(ids) / sizeof(ids[0]);

	(void)state;
	for (size_t i = 0; i < k; i++) {
		assert_int_equal(strlen(ids[i]), 32);
		assert_int_equal(strspn(ids[i], "0123456789abcdef"), 32);
		for (size_t j = i + 1; j < k; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_line_has_the_standard_fields),
		cmocka_unit_test(policy_denial_has_every_field),
		cmocka_unit_test(unset_fields_are_left_out),
		cmocka_unit_test(long_values_are_cut_not_overflowed),
		cmocka_unit_test(message_ids_are_distinct_128_bit_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
