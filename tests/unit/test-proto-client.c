/*
 * test-proto-client: the client's side of the method table.  Result rows
 * agree with the table's result descriptions; params written from an
 * args struct parse back (by the daemon's parser) to the same struct,
 * defaults left out; results and notifications parse into their structs
 * and malformed ones are refused.  Also the shared id map.
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

#include "proto-buf.h"
#include "proto-client.h"
#include "proto-idmap.h"
#include "proto-jw.h"

/* The table's description of m's result (or a notification's params). */
static const struct proto_field *
described(int m)
{
	const struct proto_method *pm = &proto_methods[m];

	return pm->flags & PROTO_M_NOTIFICATION ? pm->params : pm->result;
}

static void
rows_agree_with_the_table(void **state)
{
	int n = 0;

	(void)state;
	for (int m = 0; m < _PROTO_M_MAX; m++) {
		if (!proto_results[m])
			continue;
		n++;
		for (const struct proto_field *f = proto_results[m]; f->name; f++) {
			const struct proto_field *d;

			for (d = described(m); d && d->name; d++)
				if (strcmp(d->name, f->name) == 0)
					break;
			if (!d || !d->name)
				fail_msg("%s: %s is not in the table", proto_methods[m].name, f->name);
			assert_int_equal(d->type, f->type);
			if (f->flags & PROTO_F_REQUIRED)
				assert_true(d->flags & PROTO_F_REQUIRED);
		}
	}
	assert_true(n >= 10);
}

/* Writes args as method m's params object and returns its text (to free). */
static char *
write_params(int m, const void *args)
{
	struct proto_buf b = PROTO_BUF_INIT;
	struct proto_jw w;
	char *s;

	proto_jw_init(&w, &b);
	proto_jw_obj_begin(&w);
	assert_int_equal(proto_params_write(proto_methods[m].params, args, &w), 0);
	proto_jw_obj_end(&w);
	s = strndup(proto_buf_head(&b), proto_buf_used(&b));
	proto_buf_free(&b);
	return s;
}

static void
params_written_parse_back(void **state)
{
	struct proto_tcp_read_args rd = { .socket = 3, .length = 100, .timeout = -1 }, rd2;
	struct proto_tcp_open_args op = { .socket = 0, .host = { "::1", 3 }, .port = 80,
					  .listen_queue = -1, .timeout = 0, .no_delay = 1,
					  .keep_alive = -1, .keep_alive_idle = -1, .linger = 0,
					  .send_buffer = -1, .receive_buffer = -1, .happy_eyeballs = -1 }, op2;
	struct proto_tcp_write_args wr = { .socket = 9, .data = { "\0\1\2hi", 5 } }, wr2;
	struct proto_tcp_pump_args pu = { .socket = 2, .enable = 0, .chunk_size = 65536 };
	const char *param;
	enum proto_param_error why;
	cJSON *j;
	char *s;

	(void)state;
	s = write_params(PROTO_M_TCP_READ, &rd);
	assert_string_equal(s, "{\"socket\":3,\"length\":100}");	/* timeout absent */
	j = cJSON_Parse(s);
	assert_int_equal(proto_params_parse(proto_methods[PROTO_M_TCP_READ].params, j, &rd2,
					    &param, &why), 0);
	assert_memory_equal(&rd, &rd2, sizeof(rd));
	cJSON_Delete(j);
	free(s);

	/* Absent socket, BOOL -1 and INT -1 are left out; timeout 0 and linger 0 are values. */
	s = write_params(PROTO_M_TCP_CONNECT, &op);
	assert_string_equal(s, "{\"host\":\"::1\",\"port\":80,\"timeout\":0,\"noDelay\":true,"
			    "\"linger\":0}");
	j = cJSON_Parse(s);
	assert_int_equal(proto_params_parse(proto_methods[PROTO_M_TCP_CONNECT].params, j, &op2,
					    &param, &why), 0);
	assert_int_equal(op2.port, 80);
	assert_int_equal(op2.timeout, 0);
	assert_int_equal(op2.no_delay, 1);
	assert_int_equal(op2.keep_alive, -1);
	assert_int_equal(op2.linger, 0);
	assert_int_equal(op2.send_buffer, -1);
	assert_string_equal(op2.host.s, "::1");
	cJSON_Delete(j);
	free(s);

	/* BASE64 fields take raw bytes; the parser gives the checked text. */
	s = write_params(PROTO_M_TCP_WRITE, &wr);
	assert_string_equal(s, "{\"socket\":9,\"data\":\"AAECaGk=\"}");
	j = cJSON_Parse(s);
	assert_int_equal(proto_params_parse(proto_methods[PROTO_M_TCP_WRITE].params, j, &wr2,
					    &param, &why), 0);
	assert_string_equal(wr2.data.s, "AAECaGk=");
	assert_null(wr2.text.s);
	cJSON_Delete(j);
	free(s);

	/* A BOOL whose default is true is written when false; the default chunk is not. */
	s = write_params(PROTO_M_TCP_PUMP, &pu);
	assert_string_equal(s, "{\"socket\":2,\"enable\":false}");
	free(s);
}

static void
results_parse(void **state)
{
	struct proto_tcp_open_result o;
	struct proto_tcp_accept_result a;
	struct proto_tcp_bytes_result r;
	struct proto_tcp_error_note e;
	struct proto_tcp_data_note d;
	cJSON *j;

	(void)state;
	j = cJSON_Parse("{\"socket\":2,\"state\":\"connected\",\"local\":{\"address\":\"::1\","
			"\"port\":51234,\"family\":\"ipv6\"},\"remote\":{\"address\":\"::1\","
			"\"port\":8080,\"family\":\"ipv6\"},\"future\":[1]}");
	assert_int_equal(proto_result_parse(PROTO_M_TCP_CONNECT, j, &o), 0);
	assert_int_equal(o.socket, 2);
	assert_int_equal(o.local.port, 51234);
	assert_string_equal(o.remote.address.s, "::1");
	assert_int_equal(o.remote.port, 8080);
	cJSON_Delete(j);

	j = cJSON_Parse("{\"socket\":3,\"local\":{\"port\":40404}}");
	assert_int_equal(proto_result_parse(PROTO_M_TCP_LISTEN, j, &o), 0);
	assert_int_equal(o.local.port, 40404);
	assert_null(o.local.address.s);
	cJSON_Delete(j);

	j = cJSON_Parse("{\"socket\":3,\"inbound\":5,\"remote\":{\"address\":\"127.0.0.1\","
			"\"port\":53001}}");
	assert_int_equal(proto_result_parse(PROTO_M_TCP_ACCEPT, j, &a), 0);
	assert_int_equal(a.inbound, 5);
	assert_string_equal(a.remote.address.s, "127.0.0.1");
	cJSON_Delete(j);

	j = cJSON_Parse("{\"socket\":2,\"bytes\":-1}");
	assert_int_equal(proto_result_parse(PROTO_M_TCP_READ, j, &r), 0);
	assert_int_equal(r.bytes, -1);
	assert_null(r.data.s);
	cJSON_Delete(j);

	j = cJSON_Parse("{\"socket\":4,\"code\":-32011,\"message\":\"reset\",\"errno\":104}");
	assert_int_equal(proto_result_parse(PROTO_N_TCP_ERROR, j, &e), 0);
	assert_int_equal(e.sys_errno, 104);
	assert_string_equal(e.message.s, "reset");
	cJSON_Delete(j);

	j = cJSON_Parse("{\"socket\":2,\"bytes\":3,\"data\":\"eHl6\",\"totalBytes\":3}");
	assert_int_equal(proto_result_parse(PROTO_N_TCP_DATA, j, &d), 0);
	assert_int_equal(d.total, 3);
	assert_string_equal(d.data.s, "eHl6");
	cJSON_Delete(j);

	/* Refused: a missing required member, a wrong type, a fraction, not an object. */
	static const char *const bad[] = {
		"{\"bytes\":3}", "{\"socket\":\"2\",\"bytes\":3}", "{\"socket\":2,\"bytes\":1.5}",
		"[1]", "{\"socket\":2,\"bytes\":3,\"data\":7}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = cJSON_Parse(bad[i]);
		assert_int_equal(proto_result_parse(PROTO_M_TCP_READ, j, &r), -EPROTO);
		cJSON_Delete(j);
	}
	assert_int_equal(proto_result_parse(PROTO_M_TCP_INFO, NULL, &r), -ENOENT);
}

static void
idmap(void **state)
{
	struct proto_idmap *m = proto_idmap_new();
	static int v[4096];

	(void)state;
	for (uint64_t id = 1; id <= 4096; id++)
		assert_int_equal(proto_idmap_put(m, id * 7919, &v[id - 1]), 0);
	assert_int_equal(proto_idmap_put(m, 7919, &v[0]), -EEXIST);
	for (uint64_t id = 1; id <= 4096; id += 2)
		assert_ptr_equal(proto_idmap_remove(m, id * 7919), &v[id - 1]);
	for (uint64_t id = 1; id <= 4096; id++)
		assert_ptr_equal(proto_idmap_get(m, id * 7919), id % 2 ? NULL : &v[id - 1]);
	assert_int_equal(proto_idmap_size(m), 2048);
	assert_null(proto_idmap_get(m, 0));
	proto_idmap_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rows_agree_with_the_table),
		cmocka_unit_test(params_written_parse_back),
		cmocka_unit_test(results_parse),
		cmocka_unit_test(idmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
