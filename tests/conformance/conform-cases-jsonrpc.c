/*
 * conform-cases-jsonrpc: framing and JSON-RPC 2.0 rules, checked as
 * exchanges of raw lines against expected answers (a subset match: every
 * field given must be there with that value), plus rpc.discover against
 * the method table and daemon.info.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform.h"
#include "proto-errors.h"
#include "proto-methods.h"

/* True when every field of want is in got with the same value. */
static bool
subset(const cJSON *want, const cJSON *got)
{
	const cJSON *w;

	if (!got)
		return false;
	if (cJSON_IsObject(want)) {
		if (!cJSON_IsObject(got))
			return false;
		cJSON_ArrayForEach(w, want)
			if (!subset(w, cJSON_GetObjectItemCaseSensitive(got, w->string)))
				return false;
		return true;
	}
	if (cJSON_IsArray(want)) {
		const cJSON *g = got->child;

		if (!cJSON_IsArray(got) || cJSON_GetArraySize(want) != cJSON_GetArraySize(got))
			return false;
		cJSON_ArrayForEach(w, want) {
			if (!subset(w, g))
				return false;
			g = g->next;
		}
		return true;
	}
	if (cJSON_IsNumber(want))
		return cJSON_IsNumber(got) && want->valuedouble == got->valuedouble;
	if (cJSON_IsString(want))
		return cJSON_IsString(got) && strcmp(want->valuestring, got->valuestring) == 0;
	return (want->type & 0xff) == (got->type & 0xff);
}

struct exchange {
	const char *send;	/* one line, without LF (may hold \r or be empty) */
	const char *expect;	/* subset of the answer; NULL: no answer at all */
};

#define OK_LIST "\"result\":{\"sockets\":[]}"
static const struct exchange exchanges[] = {
	{ "{bad", "{\"id\":null,\"error\":{\"code\":-32700,\"data\":{\"reason\":\"json\"}}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tcp.list\"} trailing",
	  "{\"id\":null,\"error\":{\"code\":-32700}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tcp.list\",\"x\":\"\xff\"}",
	  "{\"id\":null,\"error\":{\"code\":-32700,\"data\":{\"reason\":\"utf8\"}}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tcp.list\",\"x\":\"\xed\xa0\x80\"}",
	  "{\"id\":null,\"error\":{\"code\":-32700,\"data\":{\"reason\":\"utf8\"}}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tcp.list\"}\r", "{\"id\":2," OK_LIST "}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":3}",
	  "{\"id\":3,\"error\":{\"code\":-32600,\"data\":{\"reason\":\"method\"}}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":7}",
	  "{\"id\":4,\"error\":{\"code\":-32600,\"data\":{\"reason\":\"method\"}}}" },
	{ "{\"id\":5,\"method\":\"tcp.list\"}",
	  "{\"id\":5,\"error\":{\"code\":-32600,\"data\":{\"reason\":\"jsonrpc\"}}}" },
	{ "{\"jsonrpc\":\"1.0\",\"id\":6,\"method\":\"tcp.list\"}",
	  "{\"id\":6,\"error\":{\"code\":-32600,\"data\":{\"reason\":\"jsonrpc\"}}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"tcp.list\"}",
	  "{\"id\":null,\"error\":{\"code\":-32600,\"data\":{\"reason\":\"id\"}}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"tcp.list\"}",
	  "{\"id\":null,\"error\":{\"code\":-32600,\"data\":{\"reason\":\"id\"}}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tcp.list\",\"params\":\"x\"}",
	  "{\"id\":7,\"error\":{\"code\":-32600,\"data\":{\"reason\":\"params\"}}}" },
	{ "\"just a string\"",
	  "{\"id\":null,\"error\":{\"code\":-32600,\"data\":{\"reason\":\"not-object\"}}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"no.such\"}",
	  "{\"id\":8,\"error\":{\"code\":-32601,\"data\":{\"method\":\"no.such\"}}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tcp.data\"}", "{\"id\":9,\"error\":{\"code\":-32601}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tcp.info\",\"params\":[1]}",
	  "{\"id\":10,\"error\":{\"code\":-32602,\"data\":{\"reason\":\"by-name\"}}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tcp.info\",\"params\":{\"socket\":\"1\"}}",
	  "{\"id\":11,\"error\":{\"code\":-32602,\"data\":{\"param\":\"socket\",\"reason\":\"type\"}}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tcp.info\",\"params\":{\"socket\":424242}}",
	  "{\"id\":12,\"error\":{\"code\":-32001,\"data\":{\"socket\":424242}}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"tcp.list\"}", "{\"id\":\"s\"," OK_LIST "}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":-3,\"method\":\"tcp.list\"}", "{\"id\":-3," OK_LIST "}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"tcp.list\"}", "{\"id\":1.5," OK_LIST "}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"tcp.list\"}", "{\"id\":null," OK_LIST "}" },
	{ "{\"jsonrpc\":\"2.0\",\"method\":\"tcp.list\"}", NULL },
	{ "{\"jsonrpc\":\"2.0\",\"method\":\"no.such\"}", NULL },
	{ "", NULL },
	{ "\r", NULL },
	{ "[]", "{\"id\":null,\"error\":{\"code\":-32600,\"data\":{\"reason\":\"empty-batch\"}}}" },
	{ "[{\"jsonrpc\":\"2.0\",\"method\":\"tcp.list\"},{\"jsonrpc\":\"2.0\",\"method\":\"x\"}]", NULL },
	{ "[{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":\"tcp.list\"},{\"jsonrpc\":\"2.0\",\"method\":"
	  "\"tcp.list\"},1,{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"no.such\"}]",
	  "[{\"id\":20," OK_LIST "},{\"id\":null,\"error\":{\"code\":-32600}},"
	  "{\"id\":21,\"error\":{\"code\":-32601}}]" },
};

static void
case_exchanges(void)
{
	struct cc *c = cc_open();
	char marker[128], marker_id[64];

	CHECK(c, "cannot connect to %s", C->socket_path);
	for (size_t i = 0; i < sizeof(exchanges) / sizeof(exchanges[0]); i++) {
		const struct exchange *x = &exchanges[i];
		cJSON *want, *got;
		char *line;
		bool ok;

		CHECK(cc_send_line(c, x->send) == 0, "send failed");
		/* A marker after each line proves what did (not) come before it. */
		snprintf(marker, sizeof(marker),
			 "{\"jsonrpc\":\"2.0\",\"id\":\"marker-%zu\",\"method\":\"tcp.list\"}", i);
		snprintf(marker_id, sizeof(marker_id), "\"id\":\"marker-%zu\"", i);
		CHECK(cc_send_line(c, marker) == 0, "send failed");
		if (x->expect) {
			line = cc_read_line(c, CONFORM_DEADLINE_MS);
			CHECK(line, "no answer to: %s", x->send);
			want = cJSON_Parse(x->expect);
			got = cJSON_Parse(line);
			ok = subset(want, got);
			cJSON_Delete(want);
			cJSON_Delete(got);
			CHECK(ok, "sent %s\n    expected %s\n    got %s", x->send, x->expect, line);
			free(line);
		}
		line = cc_read_line(c, CONFORM_DEADLINE_MS);
		CHECK(line && strstr(line, marker_id) && strstr(line, "\"result\""),
		      "after %s expected only the marker's answer, got %s", x->send,
		      line ? line : "(nothing)");
		free(line);
	}
	cc_close(c);
}

static void
case_raw_ids(void)
{
	static const char *const ids[] = { "9007199254740993", "-9007199254740993",
					   "123456789012345678901234567890", "1.50", "1e2",
					   "\"\\u00e9\\n\"" };
	struct cc *c = cc_open();
	char line[256], want[128];

	CHECK(c, "cannot connect");
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char *got;

		snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"tcp.list\"}",
			 ids[i]);
		snprintf(want, sizeof(want), "\"id\":%s,", ids[i]);
		CHECK(cc_send_line(c, line) == 0, "send failed");
		got = cc_read_line(c, CONFORM_DEADLINE_MS);
		CHECK(got && strstr(got, want), "id %s not echoed byte for byte: %s", ids[i],
		      got ? got : "(nothing)");
		free(got);
	}
	cc_close(c);
}

static void
case_nesting(void)
{
	struct cc *c = cc_open();
	char line[400];
	cJSON *a;
	int n;

	CHECK(c, "cannot connect");
	/* 64 levels (the request object and 63 arrays) are not a parse error. */
	n = snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tcp.list\","
		     "\"params\":{\"x\":");
	for (int i = 0; i < 62; i++)
		line[n++] = '[';
	for (int i = 0; i < 62; i++)
		line[n++] = ']';
	snprintf(line + n, sizeof(line) - (size_t)n, "}}");
	CHECK(cc_send_line(c, line) == 0, "send failed");
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(a && j_get(a, "result"), "64 levels of nesting refused");
	cJSON_Delete(a);
	/* 65 are. */
	n = snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tcp.list\","
		     "\"params\":{\"x\":");
	for (int i = 0; i < 63; i++)
		line[n++] = '[';
	for (int i = 0; i < 63; i++)
		line[n++] = ']';
	snprintf(line + n, sizeof(line) - (size_t)n, "}}");
	CHECK(cc_send_line(c, line) == 0, "send failed");
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(a && err_code(a) == PROTO_E_PARSE && j_str(a, "error.data.reason") &&
	      strcmp(j_str(a, "error.data.reason"), "depth") == 0, "65 levels not refused");
	cJSON_Delete(a);
	cc_close(c);
}

static void
case_too_large(void)
{
	long long max = C->limits.max_message_bytes;
	struct cc *c = cc_open();
	size_t n = (size_t)max + 1;
	char *big;
	cJSON *a;

	CHECK(c, "cannot connect");
	CHECK(max > 0 && max <= (64 << 20), "odd maxMessageBytes %lld", max);
	big = malloc(n);
	memset(big, ' ', n);
	memcpy(big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tcp.list\"}", 44);
	CHECK(cc_send_raw(c, big, n) == 0 && cc_send_raw(c, "\n", 1) == 0, "send failed");
	/* Exactly the limit is accepted. */
	big[n - 1] = '\n';
	memcpy(big, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tcp.list\"}", 44);
	CHECK(cc_send_raw(c, big, n) == 0, "send failed");
	free(big);
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(a && err_code(a) == PROTO_E_INVALID_REQUEST && cJSON_IsNull(j_get(a, "id")) &&
	      j_str(a, "error.data.reason") && !strcmp(j_str(a, "error.data.reason"), "too-large"),
	      "a line over the limit is not -32600 too-large with id null");
	cJSON_Delete(a);
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(a && j_int(a, "id") == 2 && j_get(a, "result"),
	      "a line of exactly the limit is not served, or the connection is unusable");
	cJSON_Delete(a);
	cc_close(c);
}

static void
case_discover(void)
{
	struct cc *c = cc_open();
	cJSON *a, *m;
	int n = 0;

	CHECK(c, "cannot connect");
	a = cc_call(c, "rpc.discover", NULL);
	CHECK(a && j_get(a, "result"), "no result");
	CHECK(j_str(a, "result.openrpc") && !strncmp(j_str(a, "result.openrpc"), "1.", 2),
	      "openrpc is not 1.x");
	cJSON_ArrayForEach(m, j_get(a, "result.methods")) {
		const char *name = j_str(m, "name");
		int i = name ? proto_method_lookup(name) : -1;

		CHECK(i >= 0, "rpc.discover lists an unknown method %s", name ? name : "?");
		CHECK(j_str(m, "paramStructure") && !strcmp(j_str(m, "paramStructure"), "by-name"),
		      "%s: paramStructure is not by-name", name);
		CHECK(cJSON_IsArray(j_get(m, "params")) && j_get(m, "result"),
		      "%s: params or result missing", name);
		n++;
	}
	int want = 0;

	for (int i = 0; i < _PROTO_M_MAX; i++)
		want += !(proto_methods[i].flags & PROTO_M_NOTIFICATION);
	CHECK(n == want, "rpc.discover lists %d methods, the table has %d", n, want);
	n = 0;
	cJSON_ArrayForEach(m, j_get(a, "result.x-notifications"))
		n++;
	CHECK(n == _PROTO_M_MAX - want, "x-notifications lists %d, the table has %d", n,
	      _PROTO_M_MAX - want);
	n = 0;
	cJSON_ArrayForEach(m, j_get(a, "result.components.errors")) {
		CHECK(proto_error_lookup((int)j_int(m, "code")), "unknown error code listed");
		n++;
	}
	CHECK(n == (int)proto_errors_count, "components.errors lists %d codes, not %u", n,
	      proto_errors_count);
	cJSON_Delete(a);
	cc_close(c);
}

static void
case_daemon_info(void)
{
	struct cc *c = cc_open();
	cJSON *a;

	CHECK(c, "cannot connect");
	a = cc_call(c, "daemon.info", NULL);
	CHECK(a && j_str(a, "result.name") && !strcmp(j_str(a, "result.name"), "tisockd"),
	      "name is not tisockd");
	CHECK(j_int(a, "result.protocol") == 1, "protocol is not 1");
	CHECK(j_int(a, "result.pid") > 0 && j_int(a, "result.uptime") >= 0, "pid or uptime");
	CHECK(j_str(a, "result.version"), "no version");
	CHECK(cJSON_IsObject(j_get(a, "result.limits")) &&
	      cJSON_IsObject(j_get(a, "result.counters")), "limits or counters missing");
	CHECK(j_int(a, "result.counters.clients") >= 1, "counters.clients does not count us");
	cJSON_Delete(a);
	cc_close(c);
}

static void
case_every_required_param(void)
{
	struct cc *c = cc_open();

	CHECK(c, "cannot connect");
	for (int i = 0; i < _PROTO_M_MAX; i++) {
		const struct proto_method *m = &proto_methods[i];

		if (m->flags & PROTO_M_NOTIFICATION)
			continue;
		for (const struct proto_field *f = m->params; f && f->name; f++) {
			cJSON *a;

			if (!(f->flags & PROTO_F_REQUIRED))
				continue;
			a = cc_call(c, m->name, NULL);
			CHECK(a && err_code(a) == PROTO_E_INVALID_PARAMS &&
			      j_str(a, "error.data.param") && !strcmp(j_str(a, "error.data.param"),
								      f->name),
			      "%s without %s is not -32602 naming it", m->name, f->name);
			cJSON_Delete(a);
			break;
		}
	}
	cc_close(c);
}

const struct conform_case conform_cases_jsonrpc[] = {
	{ "jsonrpc-exchanges", case_exchanges, false },
	{ "jsonrpc-raw-ids", case_raw_ids, false },
	{ "jsonrpc-nesting", case_nesting, false },
	{ "framing-too-large", case_too_large, false },
	{ "rpc-discover", case_discover, false },
	{ "daemon-info", case_daemon_info, false },
	{ "params-required", case_every_required_param, false },
	{ NULL, NULL, false },
};
