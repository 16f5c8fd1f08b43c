/*
 * test-proto-params: the generic parameter parser on the real method
 * tables: types, bounds, defaults, required fields, base64.
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

#include "proto-methods.h"

static int
parse(int method, const char *json, union proto_args *a, const char **param,
      enum proto_param_error *why)
{
	cJSON *p = json ? cJSON_Parse(json) : NULL;
	int r;

	memset(a, 0x5a, sizeof(*a));
	*param = NULL;
	r = proto_params_parse(proto_methods[method].params, p, a, param, why);
	/* Strings point into the tree: copy what the tests look at first. */
	static char text[64];

	if (r == 0 && method == PROTO_M_TCP_WRITE && a->write.text.s) {
		snprintf(text, sizeof(text), "%s", a->write.text.s);
		a->write.text.s = text;
	}
	if (r == 0 && method == PROTO_M_TCP_WRITE && a->write.data.s) {
		snprintf(text, sizeof(text), "%s", a->write.data.s);
		a->write.data.s = text;
	}
	cJSON_Delete(p);
	return r;
}

static void
defaults_apply(void **state)
{
	union proto_args a;
	const char *param;
	enum proto_param_error why;

	(void)state;
	assert_int_equal(parse(PROTO_M_TCP_READ, "{\"socket\":3}", &a, &param, &why), 0);
	assert_int_equal(a.read.socket, 3);
	assert_int_equal(a.read.length, 65536);
	assert_int_equal(a.read.timeout, -1);
	assert_int_equal(parse(PROTO_M_TCP_PUMP, "{\"socket\":3}", &a, &param, &why), 0);
	assert_int_equal(a.pump.enable, 1);
	assert_int_equal(a.pump.chunk_size, 65536);
	assert_int_equal(parse(PROTO_M_TCP_CREATE, NULL, &a, &param, &why), 0);
	assert_null(a.open.host.s);
	assert_int_equal(a.open.port, -1);
	assert_int_equal(a.open.no_delay, -1);
	assert_int_equal(parse(PROTO_M_TCP_CLOSE, "{\"socket\":1,\"unknown\":[1]}", &a, &param,
			       &why), 0);
	assert_int_equal(a.close.abort, 0);
}

static void
values_parse(void **state)
{
	union proto_args a;
	const char *param;
	enum proto_param_error why;

	(void)state;
	assert_int_equal(parse(PROTO_M_TCP_CONNECT, "{\"host\":\"::1\",\"port\":65535,"
			       "\"noDelay\":true,\"keepAlive\":false,\"timeout\":0}", &a, &param,
			       &why), 0);
	assert_int_equal(a.open.socket, 0);
	assert_int_equal(a.open.port, 65535);
	assert_int_equal(a.open.no_delay, 1);
	assert_int_equal(a.open.keep_alive, 0);
	assert_int_equal(a.open.timeout, 0);
	assert_int_equal(parse(PROTO_M_TCP_WRITE, "{\"socket\":1,\"text\":\"hi\"}", &a, &param,
			       &why), 0);
	assert_string_equal(a.write.text.s, "hi");
	assert_int_equal(a.write.text.len, 2);
	assert_null(a.write.data.s);
	assert_int_equal(parse(PROTO_M_TCP_WRITE, "{\"socket\":1,\"data\":\"aGk=\"}", &a, &param,
			       &why), 0);
	assert_string_equal(a.write.data.s, "aGk=");
	assert_int_equal(parse(PROTO_M_TCP_READ, "{\"socket\":1,\"length\":16777216}", &a,
			       &param, &why), 0);
	assert_int_equal(a.read.length, 16777216);
}

/* tls: absent, false, true (the defaults) or an object of the side's members. */
static void
tls_switch(void **state)
{
	union proto_args a;
	const char *param;
	enum proto_param_error why;

	(void)state;
	assert_int_equal(parse(PROTO_M_TCP_CONNECT, "{\"port\":1}", &a, &param, &why), 0);
	assert_int_equal(a.open.tls.on, -1);
	assert_int_equal(parse(PROTO_M_TCP_CONNECT, "{\"tls\":false}", &a, &param, &why), 0);
	assert_int_equal(a.open.tls.on, 0);
	assert_int_equal(parse(PROTO_M_TCP_CONNECT, "{\"tls\":true}", &a, &param, &why), 0);
	assert_int_equal(a.open.tls.on, 1);
	assert_int_equal(a.open.tls.verify, -1);
	assert_int_equal(a.open.tls.session_reuse, -1);
	assert_null(a.open.tls.server_name.s);
	assert_null(a.open.tls.ca_pem.s);
	assert_null(a.open.tls.alpn);
	assert_int_equal(parse(PROTO_M_TCP_CONNECT, "{\"tls\":{\"verify\":false,"
			       "\"alpn\":[\"h2\",\"http/1.1\"],\"sessionReuse\":false}}", &a,
			       &param, &why), 0);
	assert_int_equal(a.open.tls.on, 1);
	assert_int_equal(a.open.tls.verify, 0);
	assert_int_equal(a.open.tls.session_reuse, 0);
	assert_non_null(a.open.tls.alpn);	/* points into the freed tree: not read */
	/* The server side has its own members (a client's are ignored there). */
	assert_int_equal(parse(PROTO_M_TCP_LISTEN, "{\"tls\":{\"serverName\":\"x\","
			       "\"requestClientCertificate\":true}}", &a, &param, &why), 0);
	assert_int_equal(a.open.tls.request_client_certificate, 1);
	assert_null(a.open.tls.certificate_pem.s);
}

static void
refusals_name_the_field(void **state)
{
	static const struct {
		int method;
		const char *json, *param;
		enum proto_param_error why;
	} cases[] = {
		{ PROTO_M_TCP_READ, "{}", "socket", PROTO_PARAM_MISSING },
		{ PROTO_M_TCP_READ, "{\"socket\":\"1\"}", "socket", PROTO_PARAM_TYPE },
		{ PROTO_M_TCP_READ, "{\"socket\":1.5}", "socket", PROTO_PARAM_TYPE },
		{ PROTO_M_TCP_READ, "{\"socket\":1e300}", "socket", PROTO_PARAM_RANGE },
		{ PROTO_M_TCP_READ, "{\"socket\":1,\"length\":0}", "length", PROTO_PARAM_RANGE },
		{ PROTO_M_TCP_READ, "{\"socket\":1,\"length\":16777217}", "length",
		  PROTO_PARAM_RANGE },
		{ PROTO_M_TCP_READ, "{\"socket\":1,\"timeout\":-1}", "timeout", PROTO_PARAM_RANGE },
		{ PROTO_M_TCP_CONNECT, "{\"port\":65536}", "port", PROTO_PARAM_RANGE },
		{ PROTO_M_TCP_CONNECT, "{\"host\":5}", "host", PROTO_PARAM_TYPE },
		{ PROTO_M_TCP_CONNECT, "{\"noDelay\":1}", "noDelay", PROTO_PARAM_TYPE },
		{ PROTO_M_TCP_WRITE, "{\"socket\":1,\"data\":\"aGk\"}", "data", PROTO_PARAM_BASE64 },
		{ PROTO_M_TCP_WRITE, "{\"socket\":1,\"data\":null}", "data", PROTO_PARAM_TYPE },
		{ PROTO_M_TCP_PUMP, "{\"socket\":1,\"enable\":\"yes\"}", "enable", PROTO_PARAM_TYPE },
		{ PROTO_M_TCP_SET_OPTIONS, "{\"socket\":1,\"keepAliveIdle\":0}", "keepAliveIdle",
		  PROTO_PARAM_RANGE },
		{ PROTO_M_TCP_CONNECT, "{\"tls\":1}", "tls", PROTO_PARAM_TYPE },
		{ PROTO_M_TCP_CONNECT, "{\"tls\":\"yes\"}", "tls", PROTO_PARAM_TYPE },
		{ PROTO_M_TCP_CONNECT, "{\"tls\":{\"verify\":1}}", "tls.verify", PROTO_PARAM_TYPE },
		{ PROTO_M_TCP_CONNECT, "{\"tls\":{\"alpn\":\"h2\"}}", "tls.alpn", PROTO_PARAM_TYPE },
		{ PROTO_M_TCP_CONNECT, "{\"tls\":{\"alpn\":[]}}", "tls.alpn", PROTO_PARAM_RANGE },
		{ PROTO_M_TCP_CONNECT, "{\"tls\":{\"alpn\":[\"\"]}}", "tls.alpn", PROTO_PARAM_RANGE },
		{ PROTO_M_TCP_CONNECT, "{\"tls\":{\"alpn\":[1]}}", "tls.alpn", PROTO_PARAM_TYPE },
		{ PROTO_M_TCP_CONNECT, "{\"tls\":{\"alpn\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\","
		  "\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}}", "tls.alpn",
		  PROTO_PARAM_RANGE },
		{ PROTO_M_TCP_CONNECT, "{\"tls\":{\"minVersion\":\"1.22\"}}", "tls.minVersion",
		  PROTO_PARAM_RANGE },
		{ PROTO_M_TCP_LISTEN, "{\"tls\":{\"keyPem\":true}}", "tls.keyPem", PROTO_PARAM_TYPE },
		{ PROTO_M_TCP_START_TLS, "{\"tls\":true}", "socket", PROTO_PARAM_MISSING },
	};
	union proto_args a;
	const char *param;
	enum proto_param_error why;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].method, cases[i].json, &a, &param, &why), -EINVAL);
		assert_string_equal(param, cases[i].param);
		assert_int_equal(why, cases[i].why);
	}
	assert_int_equal(parse(PROTO_M_TCP_READ, "[1]", &a, &param, &why), -EINVAL);
	assert_null(param);
	assert_int_equal(why, PROTO_PARAM_NOT_OBJECT);
	assert_string_equal(proto_param_error_text(PROTO_PARAM_NOT_OBJECT), "by-name");
	assert_string_equal(proto_param_error_text(PROTO_PARAM_BASE64), "base64");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_apply),
		cmocka_unit_test(values_parse),
		cmocka_unit_test(refusals_name_the_field),
		cmocka_unit_test(tls_switch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
