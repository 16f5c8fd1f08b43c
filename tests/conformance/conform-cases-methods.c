/*
 * conform-cases-methods: the method table against the daemon.  rpc.discover
 * must describe exactly the table; every parameter row's rules (required,
 * type, range) must hold; every method is called once successfully and its
 * result checked against the table's result rows.  A method added to the
 * table without a case here fails the build (-Wswitch) or the run.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"
#include "conform-client.h"
#include "conform-peer.h"
#include "proto-errors.h"
#include "proto-methods.h"

static bool
is_notification(int i)
{
	return proto_methods[i].flags & PROTO_M_NOTIFICATION;
}

/* Whether the array of OpenRPC objects list names exactly the table rows with flag state. */
static bool
same_names(const cJSON *list, bool notifications, char *why, size_t whylen)
{
	bool seen[_PROTO_M_MAX] = { false };
	const cJSON *m;

	if (!cJSON_IsArray(list)) {
		snprintf(why, whylen, "not an array");
		return false;
	}
	cJSON_ArrayForEach(m, list) {
		const char *name = j_str(m, "name");
		int i = -1;

		for (int k = 0; name && k < _PROTO_M_MAX; k++)
			if (is_notification(k) == notifications && !strcmp(proto_methods[k].name, name))
				i = k;
		if (i < 0 || seen[i]) {
			snprintf(why, whylen, "%s %s", i < 0 ? "unknown" : "duplicate",
				 name ? name : "(no name)");
			return false;
		}
		seen[i] = true;
	}
	for (int k = 0; k < _PROTO_M_MAX; k++)
		if (is_notification(k) == notifications && !seen[k]) {
			snprintf(why, whylen, "%s is missing", proto_methods[k].name);
			return false;
		}
	return true;
}

/* The params of one OpenRPC method object against the table row. */
static bool
same_params(const cJSON *m, const struct proto_method *row, char *why, size_t whylen)
{
	const cJSON *params = j_get(m, "params"), *p;
	int n = 0, want = 0;

	for (const struct proto_field *f = row->params; f && f->name; f++)
		want++;
	cJSON_ArrayForEach(p, params) {
		const struct proto_field *f = row->params;

		while (f && f->name && !j_is(p, "name", f->name))
			f++;
		if (!f || !f->name) {
			snprintf(why, whylen, "%s: param %s is not in the table", row->name,
				 j_str(p, "name") ? j_str(p, "name") : "?");
			return false;
		}
		if (j_true(p, "required") != !!(f->flags & PROTO_F_REQUIRED)) {
			snprintf(why, whylen, "%s: param %s required is %s", row->name, f->name,
				 j_true(p, "required") ? "true" : "not true");
			return false;
		}
		n++;
	}
	if (!cJSON_IsArray(params) || n != want) {
		snprintf(why, whylen, "%s: %d params listed, the table has %d", row->name, n, want);
		return false;
	}
	return true;
}

static void
case_discover(void)
{
	struct cc *c = cc_open();
	char why[256];
	cJSON *a, *m;

	CHECK(c, "cannot connect");
	a = cc_call(c, "rpc.discover", NULL);
	CHECK(j_get(a, "result"), "no result: %s", j_text(a));
	CHECK(j_str(a, "result.openrpc") && !strncmp(j_str(a, "result.openrpc"), "1.", 2),
	      "openrpc is not 1.x: %s", j_text(j_get(a, "result.openrpc")));
	CHECK(cJSON_IsObject(j_get(a, "result.info")) && j_str(a, "result.info.title") &&
	      j_str(a, "result.info.version"), "info.title / info.version missing");
	CHECK(same_names(j_get(a, "result.methods"), false, why, sizeof(why)),
	      "methods differ from the table: %s", why);
	cJSON_ArrayForEach(m, j_get(a, "result.methods")) {
		const struct proto_method *row = &proto_methods[proto_method_lookup(j_str(m, "name"))];

		CHECK(j_is(m, "paramStructure", "by-name"), "%s: paramStructure is not by-name",
		      row->name);
		CHECK(same_params(m, row, why, sizeof(why)), "%s", why);
		CHECK(cJSON_IsObject(j_get(m, "result")), "%s: no result object", row->name);
	}
	CHECK(same_names(j_get(a, "result.x-notifications"), true, why, sizeof(why)),
	      "x-notifications differ from the table: %s", why);
	for (unsigned i = 0; i < proto_errors_count; i++) {
		bool found = false;

		cJSON_ArrayForEach(m, j_get(a, "result.components.errors"))
			found |= j_int(m, "code") == proto_errors[i].code && j_str(m, "message");
		CHECK(found, "components.errors lacks %d (%s) with a message", proto_errors[i].code,
		      proto_errors[i].name);
	}
	cJSON_Delete(a);
	cc_close(c);
}

static void
case_daemon_info(void)
{
	static const char *const limits[] = { "maxMessageBytes", "clientBudgetBytes",
		"clientRequests", "clientSockets", "clients", "sockets", "lingerMs",
		"connectTimeoutMs" };
	struct cc *c = cc_open();
	char why[256];
	cJSON *a, *b, *v;

	CHECK(c, "cannot connect");
	a = cc_call(c, "daemon.info", NULL);
	CHECK(j_shape(proto_methods[PROTO_M_DAEMON_INFO].result, j_get(a, "result"), why,
		      sizeof(why)), "daemon.info: %s: %s", why, j_text(a));
	CHECK(j_is(a, "result.name", "tisockd") && j_int(a, "result.protocol") == PROTO_VERSION &&
	      j_int(a, "result.pid") > 1 && j_int(a, "result.uptime") >= 0,
	      "name / protocol / pid / uptime: %s", j_text(a));
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		CHECK(j_int(j_get(a, "result.limits"), limits[i]) >= 0, "limits.%s missing",
		      limits[i]);
	cJSON_ArrayForEach(v, j_get(a, "result.counters"))
		CHECK(cJSON_IsNumber(v), "counters.%s is not a number", v->string);
	CHECK(j_int(a, "result.counters.clients") >= 1, "counters.clients does not count us");
	b = cc_call(c, "daemon.info", NULL);
	CHECK(j_int(b, "result.uptime") >= j_int(a, "result.uptime"), "uptime went back");
	cJSON_Delete(a);
	cJSON_Delete(b);
	cc_close(c);
}

/* A JSON value of field f's type, valid (or of another type). */
static const char *
value_for(const struct proto_field *f, bool valid)
{
	switch (f->type) {
	case PROTO_T_BOOL:
		return valid ? "true" : "1";
	case PROTO_T_INT:
	case PROTO_T_SOCKET:
		return valid ? "999999999" : "\"1\"";
	case PROTO_T_ID:
		return valid ? "\"no-such-request\"" : "true";
	default:
		return valid ? "\"\"" : "7";
	}
}

/* {"a":v,...} with every required field of fields but skip, plus extra. */
static void
params_but(const struct proto_field *fields, const struct proto_field *skip, const char *extra,
	   char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "{");

	for (const struct proto_field *f = fields; f && f->name; f++)
		if (f != skip && (f->flags & PROTO_F_REQUIRED))
			n += (size_t)snprintf(out + n, size - n, "%s\"%s\":%s", n > 1 ? "," : "",
					      f->name, value_for(f, true));
	if (extra)
		n += (size_t)snprintf(out + n, size - n, "%s%s", n > 1 ? "," : "", extra);
	snprintf(out + n, size - n, "}");
}

/* One bad call: -32602 naming param with reason. */
static bool
bad_param(struct cc *c, const char *method, const char *params, const char *param,
	  const char *reason)
{
	cJSON *a = cc_call(c, method, "%s", params);
	bool ok = err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.param", param) &&
		  j_is(a, "error.data.reason", reason);

	if (!ok)
		conform_fail(__FILE__, __LINE__, "%s %s: expected -32602 param %s reason %s, got %s",
			     method, params, param, reason, j_text(a));
	cJSON_Delete(a);
	return ok;
}

/*
 * For every method and every row of its parameter table: a missing
 * required field, a field of the wrong type, and integers just outside
 * their bounds are -32602 naming the field, with the reason.
 */
static void
case_param_rules(void)
{
	struct cc *c = cc_open();
	char p[512], extra[128];

	CHECK(c, "cannot connect");
	for (int i = 0; i < _PROTO_M_MAX; i++) {
		const struct proto_method *m = &proto_methods[i];

		if (is_notification(i))
			continue;
		for (const struct proto_field *f = m->params; f && f->name; f++) {
			if (f->flags & PROTO_F_REQUIRED) {
				params_but(m->params, f, NULL, p, sizeof(p));
				if (!bad_param(c, m->name, p, f->name, "missing"))
					goto out;
			}
			snprintf(extra, sizeof(extra), "\"%s\":%s", f->name, value_for(f, false));
			params_but(m->params, f, extra, p, sizeof(p));
			if (!bad_param(c, m->name, p, f->name, "type"))
				goto out;
			if (f->type != PROTO_T_INT)
				continue;
			snprintf(extra, sizeof(extra), "\"%s\":%lld", f->name, (long long)f->min - 1);
			params_but(m->params, f, extra, p, sizeof(p));
			if (!bad_param(c, m->name, p, f->name, "range"))
				goto out;
			snprintf(extra, sizeof(extra), "\"%s\":%lld", f->name, (long long)f->max + 1);
			params_but(m->params, f, extra, p, sizeof(p));
			if (!bad_param(c, m->name, p, f->name, "range"))
				goto out;
		}
	}
out:
	cc_close(c);
}

struct ctx {
	struct cc	*c;
	int		 peer;		/* the suite's end of conn */
	long long	 conn;		/* a connected daemon socket */
};

/* Calls method i once, successfully, in a fitting situation.  Returns the answer. */
static cJSON *
exercise(struct ctx *x, enum proto_method_id i)
{
	int port, lfd, pfd;
	long long id, s;
	cJSON *a;

	switch (i) {
	case PROTO_M_TCP_CREATE:
		return cc_call(x->c, "tcp.create", "{\"host\":\"127.0.0.1\",\"port\":9}");
	case PROTO_M_TCP_CONNECT:
		lfd = peer_listen(AF_INET, 4, &port);
		a = cc_call(x->c, "tcp.connect", "{\"port\":%d}", port);
		close(lfd);
		return a;
	case PROTO_M_TCP_LISTEN:
		return cc_call(x->c, "tcp.listen", "{\"port\":0}");
	case PROTO_M_TCP_ACCEPT:
		a = cc_call(x->c, "tcp.listen", "{\"port\":0}");
		s = j_int(a, "result.socket");
		port = (int)j_int(a, "result.local.port");
		cJSON_Delete(a);
		id = cc_request(x->c, "tcp.accept", "{\"socket\":%lld,\"timeout\":5000}", s);
		pfd = peer_connect(AF_INET, port);
		a = cc_wait(x->c, id, CONFORM_DEADLINE_MS);
		if (pfd >= 0)
			close(pfd);
		return a;
	case PROTO_M_TCP_READ:
		(void)peer_send_all(x->peer, "r", 1, CONFORM_DEADLINE_MS);
		return cc_call(x->c, "tcp.read", "{\"socket\":%lld}", x->conn);
	case PROTO_M_TCP_WRITE:
		return cc_call(x->c, "tcp.write", "{\"socket\":%lld,\"text\":\"w\"}", x->conn);
	case PROTO_M_TCP_PUMP:
		return cc_call(x->c, "tcp.pump", "{\"socket\":%lld,\"enable\":false}", x->conn);
	case PROTO_M_TCP_SHUTDOWN:
		s = cc_pair(x->c, &pfd);
		a = cc_call(x->c, "tcp.shutdown", "{\"socket\":%lld}", s);
		if (pfd >= 0)
			close(pfd);
		return a;
	case PROTO_M_TCP_CLOSE:
		return cc_call(x->c, "tcp.close", "{\"socket\":%lld}", cc_create(x->c));
	case PROTO_M_TCP_SET_OPTIONS:
		return cc_call(x->c, "tcp.setOptions", "{\"socket\":%lld,\"noDelay\":true,"
			       "\"keepAlive\":true,\"keepAliveIdle\":60}", x->conn);
	case PROTO_M_TCP_INFO:
		return cc_call(x->c, "tcp.info", "{\"socket\":%lld}", x->conn);
	case PROTO_M_TCP_LIST:
		return cc_call(x->c, "tcp.list", NULL);
	case PROTO_M_TCP_CHANNEL:
		/* The fd is dropped by recv(); the answer's shape is what counts here. */
		s = cc_pair(x->c, &pfd);
		a = cc_call(x->c, "tcp.channel", "{\"socket\":%lld}", s);
		if (pfd >= 0)
			close(pfd);
		return a;
	case PROTO_M_DAEMON_INFO:
		return cc_call(x->c, "daemon.info", NULL);
	case PROTO_M_DAEMON_MONITOR: {
		/* On a connection of its own: the events would mix with this one's. */
		struct cc *m = cc_open();

		a = m ? cc_call(m, "daemon.monitor", "{\"enable\":false}") : NULL;
		cc_close(m);
		return a;
	}
	case PROTO_M_RPC_DISCOVER:
		return cc_call(x->c, "rpc.discover", NULL);
	case PROTO_M_RPC_CANCEL:
		return cc_call(x->c, "rpc.cancel", "{\"id\":\"no-such-request\"}");
	case PROTO_M_DAEMON_METRICS:
		return cc_call(x->c, "daemon.metrics", NULL);
	case PROTO_M_TCP_START_TLS:
		/* A plaintext peer that closes: -32012 (tests/tls has the successes). */
		s = cc_pair(x->c, &pfd);
		if (pfd >= 0)
			close(pfd);
		return cc_call(x->c, "tcp.startTls", "{\"socket\":%lld,\"tls\":true}", s);
	case PROTO_M_DAEMON_UPGRADE:
		/* Refused: the suite's daemon upgrades to a binary that exits at start. */
		return cc_call(x->c, "daemon.upgrade", NULL);
	case PROTO_N_TCP_DATA:
	case PROTO_N_TCP_ERROR:
	case PROTO_N_TCP_CLOSED:
	case PROTO_N_MONITOR_EVENT:
	case PROTO_N_DAEMON_RESTARTED:
	case _PROTO_M_MAX:
		break;
	}
	return NULL;
}

static void
case_every_method(void)
{
	struct ctx x = { .c = cc_open() };
	char why[256];

	CHECK(x.c, "cannot connect");
	x.conn = cc_pair(x.c, &x.peer);
	CHECK(x.conn > 0, "setup");
	for (int i = 0; i < _PROTO_M_MAX; i++) {
		const struct proto_method *m = &proto_methods[i];
		cJSON *a, *e;

		if (is_notification(i))
			continue;
		a = exercise(&x, (enum proto_method_id)i);
		CHECK(a, "%s: the suite has no exercise for it, or no answer", m->name);
		if (i == PROTO_M_TCP_START_TLS) {
			CHECK(err_code(a) == PROTO_E_TLS &&
			      j_is(a, "error.data.reason", "peerClosed"),
			      "tcp.startTls with a peer gone: %s", j_text(a));
			cJSON_Delete(a);
			continue;
		}
		if ((m->flags & PROTO_M_PRIVILEGED) && err_code(a) == PROTO_E_NOT_PERMITTED) {
			conform_log("%s: not privileged, -32003 as it must", m->name);
			cJSON_Delete(a);
			continue;
		}
		if (i == PROTO_M_DAEMON_UPGRADE) {
			CHECK(err_code(a) == PROTO_E_UPGRADE &&
			      strstr(j_text(a), "exited with status 1"),
			      "daemon.upgrade to a binary that exits at start: -32013 with the "
			      "reason: %s", j_text(a));
			cJSON_Delete(a);
			continue;
		}
		CHECK(j_shape(m->result, j_get(a, "result"), why, sizeof(why)),
		      "%s: result %s: %s", m->name, why, j_text(a));
		if (i == PROTO_M_TCP_LIST)
			cJSON_ArrayForEach(e, j_get(a, "result.sockets"))
				CHECK(j_shape(proto_methods[PROTO_M_TCP_INFO].result, e, why,
					      sizeof(why)), "tcp.list entry: %s: %s", why, j_text(e));
		if (i == PROTO_M_TCP_INFO)
			CHECK(j_get(a, "result.local") && j_get(a, "result.remote") &&
			      j_int(a, "result.stateCode") == 2 && !j_true(a, "result.channel"),
			      "tcp.info of a connected socket: %s", j_text(a));
		cJSON_Delete(a);
	}
	close(x.peer);
	cc_close(x.c);
}

const struct conform_case conform_cases_methods[] = {
	{ "rpc-discover", case_discover, false },
	{ "daemon-info", case_daemon_info, false },
	{ "params-table-rules", case_param_rules, false },
	{ "methods-every", case_every_method, false },
	{ NULL, NULL, false },
};
