/*
 * test-proto-fastwrite: the tcp.write fast path's parser.  Lines it takes
 * (with the spans it gives), lines it leaves to the general path, data
 * that makes a line not its own at decode time, and its contract: every
 * line it takes, and every one-byte change of one, is read the same by
 * the general parser (proto-jsonrpc, proto-params) and is strict JSON.
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

#include "json-strict.h"
#include "proto-base64.h"
#include "proto-fastwrite.h"
#include "proto-jsonrpc.h"
#include "proto-methods.h"
#include "proto-params.h"

#define HEAD	"{\"jsonrpc\":\"2.0\",\"method\":\"tcp.write\","
#define DATA	"QUJDRA=="	/* "ABCD" */

struct take {
	const char	*line;
	const char	*id;		/* NULL: a notification */
	int64_t		 socket;
	const char	*data;
};

static const struct take takes[] = {
	{ HEAD "\"id\":1,\"params\":{\"socket\":2,\"data\":\"" DATA "\"}}", "1", 2, DATA },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"w-1\",\"method\":\"tcp.write\",\"params\":{\"socket\":7,"
	  "\"data\":\"" DATA "\"}}", "\"w-1\"", 7, DATA },
	{ "{\"params\":{\"data\":\"" DATA "\",\"socket\":3},\"id\":0,\"method\":\"tcp.write\","
	  "\"jsonrpc\":\"2.0\"}", "0", 3, DATA },
	{ " \t{ \"jsonrpc\" : \"2.0\" ,\r\n\"method\":\"tcp.write\" , \"params\" : { \"socket\" : 1 ,"
	  " \"data\" : \"" DATA "\" } , \"id\" : 5 }\r\n ", "5", 1, DATA },
	{ HEAD "\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}", NULL, 1, DATA },
	{ HEAD "\"id\":123456789012345678,\"params\":{\"socket\":9007199254740991,\"data\":\"\"}}",
	  "123456789012345678", 9007199254740991LL, "" },
	{ HEAD "\"id\":\" !#$%&'()*+,-./:;<=>?@[]^_`{|}~\x7f\",\"params\":{\"socket\":1,"
	  "\"data\":\"" DATA "\"}}", "\" !#$%&'()*+,-./:;<=>?@[]^_`{|}~\x7f\"", 1, DATA },
	{ HEAD "\"id\":\"\",\"params\":{\"socket\":1,\"data\":\"AAH/+w==\"}}", "\"\"", 1, "AAH/+w==" },
};

static const char *const leaves[] = {
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tcp.write\"}",	/* short */
	HEAD "\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA "\"},\"x\":1}",
	HEAD "\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA "\",\"x\":1}}",
	HEAD "\"id\":1,\"params\":{\"socket\":1,\"text\":\"hello\"}}",
	HEAD "\"id\":1,\"id\":2,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"jsonrpc\":\"2.0\",\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"method\":\"tcp.write\",\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1,\"params\":{\"socket\":1,\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA "\",\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA "\"},\"params\":{}}",
	HEAD "\"id\":1,\"params\":{\"socket\":1}}                  ",
	HEAD "\"id\":1,\"params\":{\"data\":\"" DATA "\"}}             ",
	HEAD "\"id\":1,\"params\":{}}                                   ",
	HEAD "\"id\":1}                                                 ",
	HEAD "\"id\":-1,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":01,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1.5,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1.,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1e3,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1234567890123456789,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":null,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":true,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":[1],\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":\"a\\\"b\",\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":\"a\\u0041\",\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":\"\xc3\xa9\",\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":\"a\tb\",\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1,\"params\":{\"socket\":0,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1,\"params\":{\"socket\":03,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1,\"params\":{\"socket\":-1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1,\"params\":{\"socket\":1.0,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1,\"params\":{\"socket\":1e0,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1,\"params\":{\"socket\":9007199254740992,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1,\"params\":{\"socket\":\"1\",\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}",
	HEAD "\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}} x",
	HEAD "\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA "\"},}",
	HEAD "\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA "\",}}",
	HEAD "\"id\" 1,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
	HEAD "\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA,
	"{\"jsonrpc\":\"2.00\",\"method\":\"tcp.write\",\"id\":1,\"params\":{\"socket\":1,"
	"\"data\":\"" DATA "\"}}",
	"{\"jsonrpc\":\"2.0\",\"method\":\"tcp.writes\",\"id\":1,\"params\":{\"socket\":1,"
	"\"data\":\"" DATA "\"}}",
	"{\"jsonrpc\":\"2.0\",\"method\":\"tcp.writ\\u0065\",\"id\":1,\"params\":{\"socket\":1,"
	"\"data\":\"" DATA "\"}}",
	"{\"jsonrpc\":\"2.0\",\"method\":\"tcp.write\",\"\\u0069d\":1,\"params\":{\"socket\":1,"
	"\"data\":\"" DATA "\"}}",
	"[" HEAD "\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}]",
	"\v" HEAD "\"id\":1,\"params\":{\"socket\":1,\"data\":\"" DATA "\"}}",
};

/* Data that the parse takes and the decode refuses: not the fast path's either. */
static const char *const undecodable[] = {
	"QUJD\xffQUJD", "QUJD\tQUJ", "QUJD\x01QUJ", "Q\\u0055JD", "QUJD\\\"", "QUJD\xc3\xa9QU",
	"QUJ", "A===", "AB==", "QUJD=", "QU=D", "QUJD QUJ", "QUJD-_==",
};

/* Whether the general path reads line as the request fw says. */
static void
general_agrees(const char *line, size_t len, const struct proto_fastwrite *fw,
	       const char *bytes, size_t nbytes)
{
	struct proto_tcp_write_args a = { 0 };
	enum proto_param_error why;
	const char *param;
	struct proto_msg msg;
	char *buf;

	if (!json_strict_valid(line, len))
		fail_msg("taken, but not JSON: %.*s", (int)len, line);
	assert_int_equal(proto_msg_parse(line, len, &msg), 0);
	assert_false(msg.batch);
	assert_int_equal(msg.count, 1);
	assert_int_equal(msg.reqs[0].error, 0);
	assert_string_equal(msg.reqs[0].method, "tcp.write");
	if (fw->id) {
		assert_non_null(msg.reqs[0].id);
		assert_int_equal(msg.reqs[0].id_len, fw->id_len);
		assert_memory_equal(msg.reqs[0].id, fw->id, fw->id_len);
	} else {
		assert_null(msg.reqs[0].id);
	}
	assert_int_equal(proto_params_parse(proto_methods[PROTO_M_TCP_WRITE].params,
					    msg.reqs[0].params, &a, &param, &why), 0);
	assert_int_equal(a.socket, fw->socket);
	assert_null(a.text.s);
	assert_non_null(a.data.s);
	buf = malloc(proto_fastwrite_decoded_max(fw) + 1);
	assert_non_null(buf);
	assert_int_equal(proto_base64_decode(buf, a.data.s, a.data.len), (ssize_t)nbytes);
	assert_memory_equal(buf, bytes, nbytes);
	free(buf);
	proto_msg_free(&msg);
}

/* Parse and decode: true when the line is the fast path's, checking the contract. */
static bool
fast(const char *line, size_t len)
{
	struct proto_fastwrite fw;
	char *copy = malloc(len ? len : 1), *out;	/* exactly len: ASan sees overreads */
	ssize_t n;
	bool mine = false;

	assert_non_null(copy);
	memcpy(copy, line, len);
	if (proto_fastwrite_parse(copy, len, &fw)) {
		out = malloc(proto_fastwrite_decoded_max(&fw) + 1);
		assert_non_null(out);
		n = proto_fastwrite_decode(&fw, out);
		if (n >= 0) {
			general_agrees(copy, len, &fw, out, (size_t)n);
			mine = true;
		}
		free(out);
	}
	free(copy);
	return mine;
}

static void
takes_usual_shapes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(takes) / sizeof(takes[0]); i++) {
		const struct take *t = &takes[i];
		struct proto_fastwrite fw;

		if (!proto_fastwrite_parse(t->line, strlen(t->line), &fw))
			fail_msg("not taken: %s", t->line);
		if (t->id) {
			assert_non_null(fw.id);
			assert_int_equal(fw.id_len, strlen(t->id));
			assert_memory_equal(fw.id, t->id, fw.id_len);
		} else {
			assert_null(fw.id);
		}
		assert_int_equal(fw.socket, t->socket);
		assert_int_equal(fw.data_len, strlen(t->data));
		assert_memory_equal(fw.data, t->data, fw.data_len);
		assert_true(fast(t->line, strlen(t->line)));
	}
}

static void
leaves_other_lines(void **state)
{
	struct proto_fastwrite fw;

	(void)state;
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
		if (proto_fastwrite_parse(leaves[i], strlen(leaves[i]), &fw))
			fail_msg("taken: %s", leaves[i]);
}

static void
leaves_undecodable_data(void **state)
{
	char line[256];

	(void)state;
	for (size_t i = 0; i < sizeof(undecodable) / sizeof(undecodable[0]); i++) {
		struct proto_fastwrite fw;
		char out[64];
		int n = snprintf(line, sizeof(line), HEAD "\"id\":1,\"params\":{\"socket\":1,"
				 "\"data\":\"%s\"}}", undecodable[i]);

		assert_true(n > 0 && (size_t)n < sizeof(line));
		if (proto_fastwrite_parse(line, (size_t)n, &fw) &&
		    proto_fastwrite_decode(&fw, out) >= 0)
			fail_msg("taken: %s", line);
	}
	/* A NUL in the data. */
	static const char nul[] = HEAD "\"id\":1,\"params\":{\"socket\":1,\"data\":\"QU\0D\"}}";
	assert_false(fast(nul, sizeof(nul) - 1));
}

/*
 * Every line the parser takes, and every one-byte change of one (deleted,
 * or replaced by a byte that matters to JSON), is either left alone or
 * read alike by both paths.
 */
static void
one_byte_changes(void **state)
{
	static const char subst[] = "\"\\{}[],:0129.-eE \t\n\x01\x7f\xc3\xff=+/Aa";
	char line[512];
	unsigned long taken = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(takes) / sizeof(takes[0]); i++) {
		size_t len = strlen(takes[i].line);

		assert_true(len < sizeof(line));
		for (size_t at = 0; at < len; at++) {
			memcpy(line, takes[i].line, at);
			memcpy(line + at, takes[i].line + at + 1, len - at - 1);
			taken += fast(line, len - 1);
			for (size_t k = 0; k < sizeof(subst) - 1; k++) {
				memcpy(line, takes[i].line, len);
				line[at] = subst[k];
				taken += fast(line, len);
			}
		}
	}
	assert_true(taken > 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(takes_usual_shapes),
		cmocka_unit_test(leaves_other_lines),
		cmocka_unit_test(leaves_undecodable_data),
		cmocka_unit_test(one_byte_changes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
