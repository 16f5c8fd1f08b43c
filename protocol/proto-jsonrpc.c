/*
 * proto-jsonrpc: parse one line into JSON-RPC 2.0 requests, and frame
 * responses and notifications.
 *
 * cJSON builds the tree; a light scanner that runs first checks nesting
 * depth and raw control characters (which cJSON lets through), and a
 * second one finds the raw text of each "id" so it can be echoed exactly.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto-errors.h"
#include "proto-jsonrpc.h"
#include "proto-utf8.h"

/*
 * Checks nesting depth and that strings hold no raw control characters.
 * Returns 0, or the data.reason for a parse error.
 */
static const char *
prescan(const char *p, const char *end)
{
	int depth = 0;

	for (; p < end; p++) {
		switch (*p) {
		case '{':
		case '[':
			if (++depth > PROTO_JSON_MAX_DEPTH)
				return "depth";
			break;
		case '}':
		case ']':
			depth--;
			break;
		case '"':
			for (p++; p < end && *p != '"'; p++) {
				if ((unsigned char)*p < 0x20)
					return "json";
				if (*p == '\\')
					p++;
			}
			break;
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			break;
		default:
			/*
			 * Other control bytes are not JSON whitespace; cJSON would
			 * skip them as if they were, and the raw walk below would
			 * then lose its place.
			 */
			if ((unsigned char)*p < 0x20)
				return "json";
			break;
		}
	}
	return NULL;
}

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

/* Finds the raw text of the first member named exactly "id" of the object at p. */
static int
find_raw_id(const char *p, const char *end, const char **ret, size_t *ret_len)
{
	p = skip_ws(p + 1, end);
	while (p < end && *p == '"') {
		const char *k = p, *v, *ve;

		p = skip_string(p, end);
		bool is_id = (p - k == 4 && memcmp(k, "\"id\"", 4) == 0);

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
			/* The key was written with escapes: reprint the value. */
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
	why = prescan(line, end);
	if (why) {
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
