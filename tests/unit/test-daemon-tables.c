/*
 * test-daemon-tables: the daemon binds a handler to every method of the
 * protocol table and to nothing else, and its socket id map behaves.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "proto-idmap.h"
#include "proto-methods.h"
#include "rpc.h"

static void
every_method_has_a_handler(void **state)
{
	(void)state;
	for (int i = 0; i < _PROTO_M_MAX; i++) {
		if (proto_methods[i].flags & PROTO_M_NOTIFICATION)
			assert_null(rpc_handlers[i]);
		else
			assert_non_null(rpc_handlers[i]);
	}
}

static void
idmap_put_get_remove(void **state)
{
	struct proto_idmap *m = proto_idmap_new();
	int dummy[4096];

	(void)state;
	assert_non_null(m);
	for (uint64_t id = 1; id <= 4096; id++)
		assert_int_equal(proto_idmap_put(m, id * 7919, &dummy[id - 1]), 0);
	assert_int_equal(proto_idmap_size(m), 4096);
	assert_int_equal(proto_idmap_put(m, 7919, &dummy[0]), -17 /* EEXIST */);
	for (uint64_t id = 1; id <= 4096; id++)
		assert_ptr_equal(proto_idmap_get(m, id * 7919), &dummy[id - 1]);
	assert_null(proto_idmap_get(m, 1));
	assert_null(proto_idmap_get(m, 0));
	/* Remove every other entry; the rest must stay reachable. */
	for (uint64_t id = 1; id <= 4096; id += 2)
		assert_ptr_equal(proto_idmap_remove(m, id * 7919), &dummy[id - 1]);
	assert_null(proto_idmap_remove(m, 7919));
	assert_int_equal(proto_idmap_size(m), 2048);
	for (uint64_t id = 1; id <= 4096; id++) {
		if (id % 2)
			assert_null(proto_idmap_get(m, id * 7919));
		else
			assert_ptr_equal(proto_idmap_get(m, id * 7919), &dummy[id - 1]);
	}
	proto_idmap_free(m);
}

static void
idmap_churn(void **state)
{
	struct proto_idmap *m = proto_idmap_new();
	int v;

	(void)state;
	/* Ids only grow, as the daemon hands them out; the map must not. */
	for (uint64_t id = 1; id <= 100000; id++) {
		assert_int_equal(proto_idmap_put(m, id, &v), 0);
		if (id > 10)
			assert_ptr_equal(proto_idmap_remove(m, id - 10), &v);
	}
	assert_int_equal(proto_idmap_size(m), 10);
	for (uint64_t id = 99991; id <= 100000; id++)
		assert_ptr_equal(proto_idmap_get(m, id), &v);
	proto_idmap_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_method_has_a_handler),
		cmocka_unit_test(idmap_put_get_remove),
		cmocka_unit_test(idmap_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
