/*
 * test-proto-methods: the method table and the error tables are complete
 * and consistent.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto-errors.h"
#include "proto-methods.h"
#include "proto-openrpc.h"

static void
every_row_complete(void **state)
{
	(void)state;
	for (int i = 0; i < _PROTO_M_MAX; i++) {
		const struct proto_method *m = &proto_methods[i];

		assert_non_null(m->name);
		assert_non_null(m->summary);
		assert_true(strlen(m->summary) > 0);
		if (!(m->flags & PROTO_M_NOTIFICATION)) {
			assert_non_null(m->result);
			assert_int_equal(proto_method_lookup(m->name), i);
			/* Its errors, each a known code, for rpc.discover. */
			assert_non_null(m->errors);
			for (const int *e = m->errors; *e; e++)
				assert_non_null(proto_error_lookup(*e));
		} else {
			assert_non_null(m->params);
			assert_int_equal(proto_method_lookup(m->name), -ENOENT);
		}
		for (int j = 0; j < i; j++)
			assert_string_not_equal(m->name, proto_methods[j].name);
		if (m->flags & PROTO_M_SOCKET) {
			assert_non_null(m->params);
			assert_string_equal(m->params[0].name, "socket");
			assert_true(m->states != 0);
		}
		for (const struct proto_field *f = m->params; f && f->name; f++) {
			assert_non_null(f->summary);
			if (f->type == PROTO_T_INT && !(f->flags & PROTO_F_REQUIRED))
				assert_true(f->def == -1 || (f->def >= f->min && f->def <= f->max));
			if (f->type == PROTO_T_INT)
				assert_true(f->min <= f->max);
		}
	}
	assert_int_equal(proto_method_lookup("nope"), -ENOENT);
	assert_int_equal(proto_method_lookup("tcp.info"), PROTO_M_TCP_INFO);
}

/* Nested result rows: an array describes its item, an object its members. */
static void
check_result_rows(const struct proto_field *fields, int depth)
{
	assert_true(depth < 6);
	for (const struct proto_field *f = fields; f && f->name; f++) {
		assert_non_null(f->summary);
		if (f->type == PROTO_T_ARRAY && f->sub) {
			assert_non_null(f->sub[0].name);
			assert_null(f->sub[1].name);	/* one row: the item */
		}
		if (f->sub)
			check_result_rows(f->sub, depth + 1);
	}
}

static void
result_rows(void **state)
{
	for (int i = 0; i < _PROTO_M_MAX; i++)
		check_result_rows(proto_methods[i].flags & PROTO_M_NOTIFICATION ?
				  proto_methods[i].params : proto_methods[i].result, 0);
}

/* The generated OpenRPC document is JSON with every method and notification. */
static void
openrpc_document(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT;
	cJSON *doc, *m;
	int methods = 0, notes = 0;

	assert_int_equal(proto_openrpc_build(&b), 0);
	assert_int_equal(proto_buf_putc(&b, '\0'), 0);
	doc = cJSON_Parse(proto_buf_head(&b));
	assert_non_null(doc);
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(doc, "methods")) {
		cJSON *r = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "result"), "schema");

		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r, "type")), "object");
		assert_true(cJSON_IsArray(cJSON_GetObjectItem(m, "errors")));
		methods++;
	}
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(doc, "x-notifications"))
		notes++;
	assert_int_equal(methods + notes, _PROTO_M_MAX);
	assert_int_equal(notes, _PROTO_M_MAX - PROTO_N_TCP_DATA);
	cJSON_Delete(doc);
	proto_buf_free(&b);
}

static void
the_contract_names(void **state)
{
	static const char *const names[] = {
		"tcp.create", "tcp.connect", "tcp.listen", "tcp.accept", "tcp.read", "tcp.write",
		"tcp.pump", "tcp.shutdown", "tcp.close", "tcp.setOptions", "tcp.info", "tcp.list",
		"daemon.info", "rpc.discover", "rpc.cancel", "tcp.startTls",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_true(proto_method_lookup(names[i]) >= 0);
}

static void
error_tables(void **state)
{
	static const int codes[] = { -32700, -32600, -32601, -32602, -32603, -32001, -32002,
				     -32003, -32004, -32005, -32006, -32010, -32011, -32012,
				     -32013, -32800 };

	(void)state;
	assert_int_equal(proto_errors_count, sizeof(codes) / sizeof(codes[0]));
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const struct proto_error_info *e = proto_error_lookup(codes[i]);

		assert_non_null(e);
		assert_non_null(e->name);
		assert_non_null(e->message);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(e->name, proto_error_lookup(codes[j])->name);
	}
	assert_null(proto_error_lookup(-1));
	assert_string_equal(proto_errno_name(ECONNREFUSED), "ECONNREFUSED");
	assert_string_equal(proto_errno_name(-ECONNRESET), "ECONNRESET");
	for (int e = 1; e < 134; e++) {
		const char *n = proto_errno_name(e);

		if (n)
			assert_int_equal(proto_errno_from_name(n), e);
	}
	assert_non_null(proto_errno_name(EPIPE));
	assert_non_null(proto_errno_name(ETIMEDOUT));
	assert_null(proto_errno_name(100000));
}

static void
states(void **state)
{
	(void)state;
	assert_string_equal(proto_state_name(PROTO_STATE_INITIALIZED), "initialized");
	assert_int_equal(proto_state_code(PROTO_STATE_INITIALIZED), 1);
	assert_string_equal(proto_state_name(PROTO_STATE_CONNECTING), "connecting");
	assert_int_equal(proto_state_code(PROTO_STATE_CONNECTING), 1);
	assert_int_equal(proto_state_code(PROTO_STATE_CONNECTED), 2);
	assert_int_equal(proto_state_code(PROTO_STATE_LISTENING), 3);
	assert_int_equal(proto_state_code(PROTO_STATE_CLOSED), 4);
	assert_int_equal(proto_state_code(PROTO_STATE_ERROR), 5);
	assert_string_equal(proto_state_name(_PROTO_STATE_MAX), "invalid");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_row_complete),
		cmocka_unit_test(result_rows),
		cmocka_unit_test(openrpc_document),
		cmocka_unit_test(the_contract_names),
		cmocka_unit_test(error_tables),
		cmocka_unit_test(states),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
