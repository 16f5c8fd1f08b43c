/*
 * test-proto-jsonrpc: request shapes, raw id echo, batches, parse errors,
 * and response framing byte for byte.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto-errors.h"
#include "proto-jsonrpc.h"

static int
parse(const char *line, struct proto_msg *m)
{
	return proto_msg_parse(line, strlen(line), m);
}

static void
valid_request_and_notification(void **state)
{
	struct proto_msg m;

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tcp.read\","
			       "\"params\":{\"socket\":1}}", &m), 0);
	assert_false(m.batch);
	assert_int_equal(m.count, 1);
	assert_int_equal(m.reqs[0].error, 0);
	assert_string_equal(m.reqs[0].method, "tcp.read");
	assert_non_null(m.reqs[0].params);
	assert_string_equal(m.reqs[0].id, "7");
	proto_msg_free(&m);

	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"method\":\"tcp.list\"}", &m), 0);
	assert_int_equal(m.reqs[0].error, 0);
	assert_null(m.reqs[0].id);
	assert_null(m.reqs[0].params);
	proto_msg_free(&m);
}

static void
ids_echo_raw(void **state)
{
	static const char *const ids[] = {
		"\"abc\"", "\"a\\\"b\\u00e9\"", "0", "-5", "1.5", "9007199254740993",
		"1e3", "null",
	};
	char line[256];
	struct proto_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(line, sizeof(line), "{\"id\" : %s ,\"jsonrpc\":\"2.0\",\"method\":\"x\"}",
			 ids[i]);
		assert_int_equal(parse(line, &m), 0);
		assert_int_equal(m.reqs[0].error, 0);
		assert_non_null(m.reqs[0].id);
		assert_string_equal(m.reqs[0].id, ids[i]);
		assert_int_equal(m.reqs[0].id_len, strlen(ids[i]));
		proto_msg_free(&m);
	}
	/* The id key written with an escape is still the id. */
	assert_int_equal(parse("{\"\\u0069d\":12,\"jsonrpc\":\"2.0\",\"method\":\"x\"}", &m), 0);
	assert_string_equal(m.reqs[0].id, "12");
	proto_msg_free(&m);
	/* An "id" nested in params is not the request's id. */
	assert_int_equal(parse("{\"params\":{\"id\":5},\"jsonrpc\":\"2.0\",\"method\":\"x\"}", &m), 0);
	assert_null(m.reqs[0].id);
	proto_msg_free(&m);
}

static void
invalid_requests(void **state)
{
	static const struct {
		const char *line, *reason, *id;
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"x\"}", "id", NULL },
		{ "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"x\"}", "id", NULL },
		{ "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"x\"}", "id", NULL },
		{ "{\"id\":1,\"method\":\"x\"}", "jsonrpc", "1" },
		{ "{\"jsonrpc\":\"1.0\",\"id\":2,\"method\":\"x\"}", "jsonrpc", "2" },
		{ "{\"jsonrpc\":2.0,\"id\":3,\"method\":\"x\"}", "jsonrpc", "3" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":4}", "method", "4" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":5}", "method", "5" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"x\",\"params\":\"s\"}", "params", "6" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"x\",\"params\":null}", "params", "7" },
		{ "42", "not-object", NULL },
		{ "\"str\"", "not-object", NULL },
	};
	struct proto_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].line, &m), 0);
		assert_int_equal(m.count, 1);
		assert_int_equal(m.reqs[0].error, PROTO_E_INVALID_REQUEST);
		assert_string_equal(m.reqs[0].reason, cases[i].reason);
		if (cases[i].id)
			assert_string_equal(m.reqs[0].id, cases[i].id);
		else
			assert_null(m.reqs[0].id);
		proto_msg_free(&m);
	}
}

static void
batches(void **state)
{
	struct proto_msg m;

	(void)state;
	assert_int_equal(parse("[ {\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"x\",\"params\":"
			       "{\"id\":[1,{\"id\":2}]}} , 5, {\"jsonrpc\":\"2.0\",\"method\":\"y\"},"
			       "{\"jsonrpc\":\"2.0\",\"id\":3}]", &m), 0);
	assert_true(m.batch);
	assert_int_equal(m.count, 4);
	assert_string_equal(m.reqs[0].id, "\"a\"");
	assert_int_equal(m.reqs[0].error, 0);
	assert_int_equal(m.reqs[1].error, PROTO_E_INVALID_REQUEST);
	assert_null(m.reqs[1].id);
	assert_int_equal(m.reqs[2].error, 0);
	assert_null(m.reqs[2].id);
	assert_int_equal(m.reqs[3].error, PROTO_E_INVALID_REQUEST);
	assert_string_equal(m.reqs[3].id, "3");
	proto_msg_free(&m);

	assert_int_equal(parse("[]", &m), 0);
	assert_true(m.batch);
	assert_int_equal(m.count, 0);
	proto_msg_free(&m);
}

static void
parse_errors(void **state)
{
	static const struct {
		const char *line, *reason;
	} cases[] = {
		{ "{", "json" }, { "{\"a\":1} x", "json" }, { "{\"a\":1}{}", "json" },
		{ "{'a':1}", "json" }, { "{\"a\":\"\x01\"}", "json" }, { "nul", "json" },
		{ "{\"a\":\"\xff\"}", "utf8" }, { "\xc3(", "utf8" },
		{ "{\"a\":\"\xed\xa0\x80\"}", "utf8" },
	};
	struct proto_msg m;
	char deep[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].line, &m), -EBADMSG);
		assert_string_equal(m.reason, cases[i].reason);
	}
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	deep[130] = '\0';
	assert_int_equal(parse(deep, &m), -EBADMSG);
	assert_string_equal(m.reason, "depth");
	/* 64 levels are fine. */
	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	deep[128] = '\0';
	assert_int_equal(parse(deep, &m), 0);
	proto_msg_free(&m);
}

static void
response_framing(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT;
	struct proto_jw w;

	(void)state;
	proto_jw_init(&w, &b);
	proto_rpc_begin_result(&w, "\"x\"", 3);
	proto_jw_obj_begin(&w);
	proto_jw_kint(&w, "socket", 1);
	proto_jw_obj_end(&w);
	proto_rpc_end(&w);
	proto_buf_putc(&b, '\0');
	assert_string_equal(proto_buf_head(&b),
			    "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":{\"socket\":1}}");
	proto_buf_reset(&b);

	proto_jw_init(&w, &b);
	proto_rpc_begin_error(&w, NULL, 0, PROTO_E_NO_SOCKET, NULL);
	proto_jw_key(&w, "data");
	proto_jw_obj_begin(&w);
	proto_jw_kint(&w, "socket", 9);
	proto_jw_obj_end(&w);
	proto_rpc_end_error(&w);
	proto_buf_putc(&b, '\0');
	assert_string_equal(proto_buf_head(&b),
			    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001,"
			    "\"message\":\"no such socket\",\"data\":{\"socket\":9}}}");
	proto_buf_reset(&b);

	proto_jw_init(&w, &b);
	proto_rpc_begin_notification(&w, "tcp.data");
	proto_jw_obj_begin(&w);
	proto_jw_kint(&w, "bytes", -1);
	proto_jw_obj_end(&w);
	proto_rpc_end(&w);
	proto_buf_putc(&b, '\0');
	assert_string_equal(proto_buf_head(&b),
			    "{\"jsonrpc\":\"2.0\",\"method\":\"tcp.data\",\"params\":{\"bytes\":-1}}");
	proto_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_request_and_notification),
		cmocka_unit_test(ids_echo_raw),
		cmocka_unit_test(invalid_requests),
		cmocka_unit_test(batches),
		cmocka_unit_test(parse_errors),
		cmocka_unit_test(response_framing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
