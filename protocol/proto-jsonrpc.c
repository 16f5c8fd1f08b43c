/*
 * proto-jsonrpc: parse one line into JSON-RPC 2.0 requests, and frame
 * responses and notifications.
 *
 * The line is checked first (UTF-8, then strict JSON by proto-json: cJSON
 * alone takes "01" or "\uZZZZ"); cJSON then builds the tree, and a light
 * walk over the checked text finds the raw text of each "id" so it can be
 * echoed exactly.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto-errors.h"
#include "proto-json.h"
#include "proto-jsonrpc.h"
#include "proto-utf8.h"

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *
skip_string(const char *p, const char *end)
{
	for (p++; p < end && *p != '"'; p++)
		if (*p == '\\')
			p++;
	return p < end ? p + 1 : end;
}

/* Skips one value of already-validated JSON. */
static const char *
skip_value(const char *p, const char *end)
{
	int depth = 0;

	if (p >= end)
		return end;
	if (*p == '"')
		return skip_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && !strchr(",]} \t\r\n", *p))
			p++;
		return p;
	}
	for (; p < end; p++) {
		if (*p == '"') {
			p = skip_string(p, end) - 1;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			if (--depth == 0)
				return p + 1;
		}
	}
	return end;
}

/* One character of a checked string at *pp, escapes decoded (-1: not ASCII). */
static int
string_char(const char **pp)
{
	const char *p = *pp;
	unsigned v = 0;

	if (*p != '\\') {
		*pp = p + 1;
		return (unsigned char)*p < 0x80 ? *p : -1;
	}
	*pp = p + 2;
	switch (p[1]) {
	case 'b':	return '\b';
	case 'f':	return '\f';
	case 'n':	return '\n';
	case 'r':	return '\r';
	case 't':	return '\t';
	case 'u':	break;
	default:	return p[1];	/* " \ / */
	}
	for (int i = 2; i < 6; i++)
		v = v << 4 | (unsigned)(p[i] <= '9' ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
	*pp = p + 6;
	return v < 0x80 ? (int)v : -1;	/* a surrogate pair is never ASCII either */
}

/* Whether the checked string token [k, ke) says name (ASCII), escapes and all. */
static bool
string_is(const char *k, const char *ke, const char *name)
{
	const char *p = k + 1;

	ke--;	/* the closing quote */
	while (p < ke && *name)
		if (string_char(&p) != (unsigned char)*name++)
			return false;
	return p == ke && !*name;
}

/*
 * Finds the raw text of the first member named "id" of the object at p,
 * the member cJSON reads too (it decodes names, so "\u0069d" is "id").
 */
static int
find_raw_id(const char *p, const char *end, const char **ret, size_t *ret_len)
{
	p = skip_ws(p + 1, end);
	while (p < end && *p == '"') {
		const char *k = p, *v, *ve;

		p = skip_string(p, end);
		bool is_id = string_is(k, p, "id");

		p = skip_ws(p, end);
		if (p >= end || *p != ':')
			return -EINVAL;
		v = skip_ws(p + 1, end);
		ve = skip_value(v, end);
		if (is_id) {
			*ret = v;
			*ret_len = (size_t)(ve - v);
			return 0;
		}
		p = skip_ws(ve, end);
		if (p < end && *p == ',')
			p = skip_ws(p + 1, end);
	}
	return -ENOENT;
}

static int
request_init(struct proto_request *q, const cJSON *o, const char *raw, const char *raw_end)
{
	const cJSON *v, *id;

	*q = (struct proto_request){ 0 };
	if (!cJSON_IsObject(o)) {
		q->error = PROTO_E_INVALID_REQUEST;
		q->reason = "not-object";
		return 0;
	}
	id = cJSON_GetObjectItemCaseSensitive(o, "id");
	if (id) {
		if (!cJSON_IsString(id) && !cJSON_IsNumber(id) && !cJSON_IsNull(id)) {
			q->error = PROTO_E_INVALID_REQUEST;
			q->reason = "id";
			return 0;
		}
		const char *r;
		size_t rl;

		if (raw && find_raw_id(raw, raw_end, &r, &rl) == 0) {
			q->id = strndup(r, rl);
			q->id_len = rl;
		} else {
			/* Not found (cannot happen on a checked line): reprint the value. */
			q->id = cJSON_PrintUnformatted(id);
			q->id_len = q->id ? strlen(q->id) : 0;
		}
		if (!q->id)
			return -ENOMEM;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "jsonrpc");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, "2.0") != 0) {
		q->error = PROTO_E_INVALID_REQUEST;
		q->reason = "jsonrpc";
		return 0;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "method");
	if (!cJSON_IsString(v)) {
		q->error = PROTO_E_INVALID_REQUEST;
		q->reason = "method";
		return 0;
	}
	q->method = v->valuestring;
	v = cJSON_GetObjectItemCaseSensitive(o, "params");
	if (v && !cJSON_IsObject(v) && !cJSON_IsArray(v)) {
		q->error = PROTO_E_INVALID_REQUEST;
		q->reason = "params";
		q->method = NULL;
		return 0;
	}
	q->params = v;
	return 0;
}

/*
 * Parses the len bytes at line into *ret.  Returns 0, and then *ret holds
 * the requests (each possibly marked invalid) until proto_msg_free();
 * -EBADMSG when the line is not valid JSON, with ret->reason saying why
 * and nothing to free; or -ENOMEM.
 */
int
proto_msg_parse(const char *line, size_t len, struct proto_msg *ret)
{
	const char *end = line + len, *why, *pend = NULL;
	cJSON *root;
	size_t n;
	int r;

	*ret = (struct proto_msg){ 0 };
	if (!proto_utf8_valid(line, len)) {
		ret->reason = "utf8";
		return -EBADMSG;
	}
	if (proto_json_check(line, len, &why) < 0) {
		ret->reason = why;
		return -EBADMSG;
	}
	root = cJSON_ParseWithLengthOpts(line, len, &pend, 0);
	if (!root || skip_ws(pend, end) != end) {
		cJSON_Delete(root);
		ret->reason = "json";
		return -EBADMSG;
	}
	ret->root = root;
	if (!cJSON_IsArray(root)) {
		ret->reqs = calloc(1, sizeof(*ret->reqs));
		if (!ret->reqs) {
			proto_msg_free(ret);
			return -ENOMEM;
		}
		ret->count = 1;
		r = request_init(&ret->reqs[0], root, cJSON_IsObject(root) ? skip_ws(line, end) : NULL, end);
		if (r < 0)
			proto_msg_free(ret);
		return r;
	}
	ret->batch = true;
	n = (size_t)cJSON_GetArraySize(root);
	if (n == 0)
		return 0;
	ret->reqs = calloc(n, sizeof(*ret->reqs));
	if (!ret->reqs) {
		proto_msg_free(ret);
		return -ENOMEM;
	}
	/* Walk the array's raw elements alongside the tree. */
	const char *p = skip_ws(skip_ws(line, end) + 1, end);
	const cJSON *e = root->child;

	for (size_t i = 0; i < n && e; i++, e = e->next) {
		const char *ve = skip_value(p, end);

		ret->count = i + 1;
		r = request_init(&ret->reqs[i], e, p < end && *p == '{' ? p : NULL, ve);
		if (r < 0) {
			proto_msg_free(ret);
			return r;
		}
		p = skip_ws(ve, end);
		if (p < end && *p == ',')
			p = skip_ws(p + 1, end);
	}
	return 0;
}

/* Releases what proto_msg_parse() filled in; m is empty afterwards. */
void
proto_msg_free(struct proto_msg *m)
{
	for (size_t i = 0; i < m->count; i++)
		free(m->reqs[i].id);
	free(m->reqs);
	cJSON_Delete(m->root);
	*m = (struct proto_msg){ 0 };
}

static void
write_id(struct proto_jw *w, const char *id, size_t id_len)
{
	proto_jw_key(w, "id");
	if (id)
		proto_jw_raw(w, id, id_len);
	else
		proto_jw_null(w);
}

void
proto_rpc_begin_result(struct proto_jw *w, const char *id, size_t id_len)
{
	proto_jw_obj_begin(w);
	proto_jw_kstr(w, "jsonrpc", "2.0");
	write_id(w, id, id_len);
	proto_jw_key(w, "result");
}

/*
 * Writes {"jsonrpc":"2.0","id":ID,"error":{"code":C,"message":M and leaves
 * the error object open: the caller may add "data", then calls
 * proto_rpc_end_error().
 */
void
proto_rpc_begin_error(struct proto_jw *w, const char *id, size_t id_len, int code,
		      const char *message)
{
	proto_jw_obj_begin(w);
	proto_jw_kstr(w, "jsonrpc", "2.0");
	write_id(w, id, id_len);
	proto_jw_key(w, "error");
	proto_jw_obj_begin(w);
	proto_jw_kint(w, "code", code);
	proto_jw_kstr(w, "message", message ? message : proto_error_message(code));
}

void
proto_rpc_end_error(struct proto_jw *w)
{
	proto_jw_obj_end(w);
	proto_jw_obj_end(w);
}

/* Writes {"jsonrpc":"2.0","method":M,"params": and leaves params to the caller. */
void
proto_rpc_begin_notification(struct proto_jw *w, const char *method)
{
	proto_jw_obj_begin(w);
	proto_jw_kstr(w, "jsonrpc", "2.0");
	proto_jw_kstr(w, "method", method);
	proto_jw_key(w, "params");
}

/* Closes a response or notification opened above. */
void
proto_rpc_end(struct proto_jw *w)
{
	proto_jw_obj_end(w);
}
