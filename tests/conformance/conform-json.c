/*
 * conform-json: reading answers.  Dotted-path accessors, a subset matcher
 * for expected answers, and a shape check of an object against the method
 * table's field rows (the result and notification descriptions in
 * proto-methods.c), so that the suite checks what the table promises.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform.h"
#include "conform-client.h"
#include "proto-methods.h"

#define J_TEXT_MAX	600	/* bytes of j_text() output */
#define J_TEXT_RING	4	/* j_text() results usable in one printf */

/* Looks up a dotted path ("error.data.state") in o; NULL when absent. */
cJSON *
j_get(const cJSON *o, const char *path)
{
	char key[64];

	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(key) || !cJSON_IsObject(o))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		o = cJSON_GetObjectItemCaseSensitive(o, key);
		path += n + (dot ? 1 : 0);
	}
	return (cJSON *)o;
}

/* The number at path, or J_NONE. */
long long
j_int(const cJSON *o, const char *path)
{
	const cJSON *v = j_get(o, path);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : J_NONE;
}

const char *
j_str(const cJSON *o, const char *path)
{
	const cJSON *v = j_get(o, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool
j_true(const cJSON *o, const char *path)
{
	return cJSON_IsTrue(j_get(o, path));
}

/* True when the string at path in o is want. */
bool
j_is(const cJSON *o, const char *path, const char *want)
{
	const char *s = j_str(o, path);

	return s && strcmp(s, want) == 0;
}

/* The error code of an answer, 0 for a result, J_NONE for neither. */
long long
err_code(const cJSON *answer)
{
	if (j_get(answer, "error"))
		return j_int(answer, "error.code");
	return j_get(answer, "result") ? 0 : J_NONE;
}

/* o as compact JSON, shortened, in a small ring of static buffers (for messages). */
const char *
j_text(const cJSON *o)
{
	static char ring[J_TEXT_RING][J_TEXT_MAX + 4];
	static unsigned next;
	char *buf = ring[next++ % J_TEXT_RING], *s;

	if (!o)
		return "(no answer)";
	s = cJSON_PrintUnformatted(o);
	snprintf(buf, J_TEXT_MAX + 4, "%.*s%s", J_TEXT_MAX, s ? s : "?",
		 s && strlen(s) > J_TEXT_MAX ? "..." : "");
	free(s);
	return buf;
}

/* True when every field of want is in got with the same value (arrays: same length). */
bool
j_subset(const cJSON *want, const cJSON *got)
{
	const cJSON *w;

	if (!got)
		return false;
	if (cJSON_IsObject(want)) {
		if (!cJSON_IsObject(got))
			return false;
		cJSON_ArrayForEach(w, want)
			if (!j_subset(w, cJSON_GetObjectItemCaseSensitive(got, w->string)))
				return false;
		return true;
	}
	if (cJSON_IsArray(want)) {
		const cJSON *g;

		if (!cJSON_IsArray(got) || cJSON_GetArraySize(want) != cJSON_GetArraySize(got))
			return false;
		g = got->child;
		cJSON_ArrayForEach(w, want) {
			if (!j_subset(w, g))
				return false;
			g = g->next;
		}
		return true;
	}
	if (cJSON_IsNumber(want))
		return cJSON_IsNumber(got) && want->valuedouble == got->valuedouble;
	if (cJSON_IsString(want))
		return cJSON_IsString(got) && strcmp(want->valuestring, got->valuestring) == 0;
	if (cJSON_IsBool(want))
		return cJSON_IsBool(got) && cJSON_IsTrue(want) == cJSON_IsTrue(got);
	return cJSON_IsNull(want) && cJSON_IsNull(got);
}

static bool
is_state(const char *s)
{
	for (int i = 0; i < _PROTO_STATE_MAX; i++)
		if (strcmp(s, proto_state_name((enum proto_state)i)) == 0)
			return true;
	return false;
}

static bool
is_endpoint(const cJSON *v)
{
	return cJSON_IsObject(v) && j_str(v, "address") && j_int(v, "port") >= 0 &&
	       j_int(v, "port") <= 65535 &&
	       (j_is(v, "family", "ipv4") || j_is(v, "family", "ipv6"));
}

static bool
has_type(enum proto_type t, const cJSON *v)
{
	switch (t) {
	case PROTO_T_BOOL:
		return cJSON_IsBool(v);
	case PROTO_T_INT:
	case PROTO_T_SOCKET:
		return cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble;
	case PROTO_T_STRING:
	case PROTO_T_BASE64:
		return cJSON_IsString(v);
	case PROTO_T_ID:
		return cJSON_IsString(v) || cJSON_IsNumber(v);
	case PROTO_T_STATE:
		return cJSON_IsString(v) && is_state(v->valuestring);
	case PROTO_T_ENDPOINT:
		return is_endpoint(v);
	case PROTO_T_OBJECT:
		return cJSON_IsObject(v);
	case PROTO_T_ARRAY:
	case PROTO_T_STRLIST:
		return cJSON_IsArray(v);
	case PROTO_T_SWITCH:
		return cJSON_IsBool(v) || cJSON_IsObject(v);
	default:
		return false;
	}
}

/*
 * Checks o against field rows: every required field is there, every field
 * that is there has its row's type.  Returns true, or false with why.
 */
bool
j_shape(const struct proto_field *fields, const cJSON *o, char *why, size_t whylen)
{
	if (!cJSON_IsObject(o)) {
		snprintf(why, whylen, "not an object");
		return false;
	}
	for (const struct proto_field *f = fields; f && f->name; f++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f->name);

		if (!v && (f->flags & PROTO_F_REQUIRED)) {
			snprintf(why, whylen, "field %s is missing", f->name);
			return false;
		}
		if (v && cJSON_IsNull(v) && (f->flags & PROTO_F_NULLABLE))
			continue;
		if (v && !has_type(f->type, v)) {
			snprintf(why, whylen, "field %s is not a %s", f->name,
				 proto_type_name(f->type));
			return false;
		}
	}
	return true;
}
