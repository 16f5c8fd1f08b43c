/*
 * proto-params: the generic parameter parser; see proto-params.h.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "proto-base64.h"
#include "proto-params.h"

#define JSON_INT_MAX 9007199254740991.0	/* 2^53 - 1: exact in a double */

static void
set_default(const struct proto_field *f, void *args)
{
	char *p = (char *)args + f->offset;

	switch (f->type) {
	case PROTO_T_BOOL:
		*(int *)p = (int)f->def;
		break;
	case PROTO_T_INT:
	case PROTO_T_SOCKET:
		*(int64_t *)p = f->def;
		break;
	case PROTO_T_STRING:
	case PROTO_T_BASE64:
		*(struct proto_str *)p = (struct proto_str){ NULL, 0 };
		break;
	case PROTO_T_ID:
	case PROTO_T_STRLIST:
		*(const cJSON **)p = NULL;
		break;
	case PROTO_T_SWITCH:
		for (const struct proto_field *g = f->sub; g && g->name; g++)
			set_default(g, p);
		*(int *)p = -1;
		break;
	default:
		break;
	}
}

static int parse_fields(const struct proto_field *fields, const cJSON *params, void *args,
			const char **ret_param, enum proto_param_error *ret_why);

/* An array of 1 to max non-empty strings of at most 255 bytes each. */
static enum proto_param_error
check_strlist(const struct proto_field *f, const cJSON *v)
{
	const cJSON *e;
	int n = 0;

	if (!cJSON_IsArray(v))
		return PROTO_PARAM_TYPE;
	cJSON_ArrayForEach(e, v) {
		size_t len;

		if (!cJSON_IsString(e))
			return PROTO_PARAM_TYPE;
		len = strlen(e->valuestring);
		if (len == 0 || len > 255 || ++n > f->max)
			return PROTO_PARAM_RANGE;
	}
	return n == 0 ? PROTO_PARAM_RANGE : PROTO_PARAM_OK;
}

static enum proto_param_error
parse_one(const struct proto_field *f, const cJSON *v, void *args)
{
	char *p = (char *)args + f->offset;
	double d;

	switch (f->type) {
	case PROTO_T_BOOL:
		if (!cJSON_IsBool(v))
			return PROTO_PARAM_TYPE;
		*(int *)p = cJSON_IsTrue(v);
		return PROTO_PARAM_OK;
	case PROTO_T_INT:
	case PROTO_T_SOCKET:
		if (!cJSON_IsNumber(v))
			return PROTO_PARAM_TYPE;
		d = v->valuedouble;
		if (d != floor(d))
			return PROTO_PARAM_TYPE;
		if (fabs(d) > JSON_INT_MAX)
			return PROTO_PARAM_RANGE;
		if (f->type == PROTO_T_INT && (d < (double)f->min || d > (double)f->max))
			return PROTO_PARAM_RANGE;
		*(int64_t *)p = (int64_t)d;
		return PROTO_PARAM_OK;
	case PROTO_T_STRING:
	case PROTO_T_BASE64:
		if (!cJSON_IsString(v))
			return PROTO_PARAM_TYPE;
		struct proto_str s = { v->valuestring, strlen(v->valuestring) };

		if (f->type == PROTO_T_STRING && f->max > 0 && s.len > (size_t)f->max)
			return PROTO_PARAM_RANGE;
		if (f->type == PROTO_T_BASE64 && !proto_base64_valid(s.s, s.len))
			return PROTO_PARAM_BASE64;
		*(struct proto_str *)p = s;
		return PROTO_PARAM_OK;
	case PROTO_T_ID:
		if (!cJSON_IsString(v) && !cJSON_IsNumber(v))
			return PROTO_PARAM_TYPE;
		*(const cJSON **)p = v;
		return PROTO_PARAM_OK;
	case PROTO_T_STRLIST: {
		enum proto_param_error why = check_strlist(f, v);

		if (why == PROTO_PARAM_OK)
			*(const cJSON **)p = v;
		return why;
	}
	default:
		return PROTO_PARAM_TYPE;
	}
}

/*
 * Fills args from params (an object, or NULL for none) as fields say.
 * Strings point into params and live as long as it.  Returns 0, or -EINVAL
 * with *ret_param naming the field (NULL when params itself is wrong) and
 * *ret_why the reason.
 */
int
proto_params_parse(const struct proto_field *fields, const cJSON *params, void *args,
		   const char **ret_param, enum proto_param_error *ret_why)
{
	/* An empty array says "no parameters" as well as no params member. */
	if (cJSON_IsArray(params) && cJSON_GetArraySize(params) == 0)
		params = NULL;
	if (params && !cJSON_IsObject(params)) {
		*ret_param = NULL;
		*ret_why = PROTO_PARAM_NOT_OBJECT;
		return -EINVAL;
	}
	return parse_fields(fields, params, args, ret_param, ret_why);
}

/*
 * A SWITCH field: false, true (every member its default) or an object
 * of f->sub's members, into the nested struct at p.
 */
static int
parse_switch(const struct proto_field *f, const cJSON *v, char *p, const char **ret_param,
	     enum proto_param_error *ret_why)
{
	if (cJSON_IsBool(v) || cJSON_IsObject(v)) {
		*(int *)p = !cJSON_IsFalse(v);
		return parse_fields(f->sub, cJSON_IsObject(v) ? v : NULL, p, ret_param, ret_why);
	}
	*ret_param = f->path ? f->path : f->name;
	*ret_why = PROTO_PARAM_TYPE;
	return -EINVAL;
}

/* The members of params (an object or NULL) as fields say; see proto_params_parse(). */
static int
parse_fields(const struct proto_field *fields, const cJSON *params, void *args,
	     const char **ret_param, enum proto_param_error *ret_why)
{
	const struct proto_field *f;

	for (f = fields; f && f->name; f++) {
		const cJSON *v = params ? cJSON_GetObjectItemCaseSensitive(params, f->name) : NULL;
		enum proto_param_error why;

		if (!v) {
			if (f->flags & PROTO_F_REQUIRED) {
				*ret_param = f->path ? f->path : f->name;
				*ret_why = PROTO_PARAM_MISSING;
				return -EINVAL;
			}
			set_default(f, args);
			continue;
		}
		if (f->type == PROTO_T_SWITCH) {
			if (parse_switch(f, v, (char *)args + f->offset, ret_param, ret_why) < 0)
				return -EINVAL;
			continue;
		}
		why = parse_one(f, v, args);
		if (why != PROTO_PARAM_OK) {
			*ret_param = f->path ? f->path : f->name;
			*ret_why = why;
			return -EINVAL;
		}
	}
	return 0;
}

/* The data.reason text for why. */
const char *
proto_param_error_text(enum proto_param_error why)
{
	switch (why) {
	case PROTO_PARAM_OK:		return "ok";
	case PROTO_PARAM_MISSING:	return "missing";
	case PROTO_PARAM_TYPE:		return "type";
	case PROTO_PARAM_RANGE:		return "range";
	case PROTO_PARAM_NOT_OBJECT:	return "by-name";
	case PROTO_PARAM_BASE64:	return "base64";
	}
	return "invalid";
}

/* The JSON Schema type name of t, for rpc.discover. */
const char *
proto_type_name(enum proto_type t)
{
	switch (t) {
	case PROTO_T_BOOL:	return "boolean";
	case PROTO_T_ID:	return "string or number";
	case PROTO_T_SWITCH:	return "boolean or object";
	case PROTO_T_STRLIST:	return "array";
	case PROTO_T_INT:
	case PROTO_T_SOCKET:	return "integer";
	case PROTO_T_STRING:
	case PROTO_T_BASE64:
	case PROTO_T_STATE:	return "string";
	case PROTO_T_ENDPOINT:
	case PROTO_T_OBJECT:	return "object";
	case PROTO_T_ARRAY:	return "array";
	default:		return "null";
	}
}
