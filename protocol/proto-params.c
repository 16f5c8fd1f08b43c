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
		*(const cJSON **)p = NULL;
		break;
	default:
		break;
	}
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

		if (f->type == PROTO_T_BASE64 && !proto_base64_valid(s.s, s.len))
			return PROTO_PARAM_BASE64;
		*(struct proto_str *)p = s;
		return PROTO_PARAM_OK;
	case PROTO_T_ID:
		if (!cJSON_IsString(v) && !cJSON_IsNumber(v))
			return PROTO_PARAM_TYPE;
		*(const cJSON **)p = v;
		return PROTO_PARAM_OK;
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
	const struct proto_field *f;

	/* An empty array says "no parameters" as well as no params member. */
	if (cJSON_IsArray(params) && cJSON_GetArraySize(params) == 0)
		params = NULL;
	if (params && !cJSON_IsObject(params)) {
		*ret_param = NULL;
		*ret_why = PROTO_PARAM_NOT_OBJECT;
		return -EINVAL;
	}
	for (f = fields; f && f->name; f++) {
		const cJSON *v = params ? cJSON_GetObjectItemCaseSensitive(params, f->name) : NULL;
		enum proto_param_error why;

		if (!v) {
			if (f->flags & PROTO_F_REQUIRED) {
				*ret_param = f->name;
				*ret_why = PROTO_PARAM_MISSING;
				return -EINVAL;
			}
			set_default(f, args);
			continue;
		}
		why = parse_one(f, v, args);
		if (why != PROTO_PARAM_OK) {
			*ret_param = f->name;
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
