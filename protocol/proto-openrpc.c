/*
 * proto-openrpc: the OpenRPC document of the protocol, generated from the
 * method table; see proto-openrpc.h.
 *
 * Every schema is plain JSON Schema (draft 7 keywords only): parameters
 * are OpenRPC content descriptors whose `schema` carries type, bounds and
 * default; a result is one content descriptor whose schema is an object
 * with typed `properties` (nested objects and arrays described by their
 * own rows) and `required`.  Each method lists its errors as references
 * into components.errors.  Notifications sit under x-notifications in the
 * same shape as methods, their params being what the daemon sends.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>

#include "proto-errors.h"
#include "proto-jw.h"
#include "proto-methods.h"
#include "proto-openrpc.h"

#define ENDPOINT_SCHEMA \
	"{\"type\":\"object\",\"properties\":{\"address\":{\"type\":\"string\"}," \
	"\"port\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":65535}," \
	"\"family\":{\"type\":\"string\",\"enum\":[\"ipv4\",\"ipv6\"]}," \
	"\"scopeId\":{\"type\":\"integer\",\"minimum\":1}}," \
	"\"required\":[\"address\",\"port\",\"family\"]}"

static void write_schema(struct proto_jw *w, const struct proto_field *f, bool bounds);

/* "type": t, or [t, "null"] for a field that may be null. */
static void
write_type(struct proto_jw *w, const struct proto_field *f, const char *t)
{
	if (!f || !(f->flags & PROTO_F_NULLABLE)) {
		proto_jw_kstr(w, "type", t);
		return;
	}
	proto_jw_key(w, "type");
	proto_jw_arr_begin(w);
	proto_jw_str(w, t);
	proto_jw_str(w, "null");
	proto_jw_arr_end(w);
}

/* properties and required of an object whose members are fields (f: the object's own row). */
static void
write_members(struct proto_jw *w, const struct proto_field *fields, bool bounds)
{
	proto_jw_key(w, "properties");
	proto_jw_obj_begin(w);
	for (const struct proto_field *f = fields; f && f->name; f++) {
		proto_jw_key(w, f->name);
		write_schema(w, f, bounds);
	}
	proto_jw_obj_end(w);
	proto_jw_key(w, "required");
	proto_jw_arr_begin(w);
	for (const struct proto_field *f = fields; f && f->name; f++)
		if (f->flags & PROTO_F_REQUIRED)
			proto_jw_str(w, f->name);
	proto_jw_arr_end(w);
}

static void
write_object(struct proto_jw *w, const struct proto_field *f, const struct proto_field *fields,
	     bool bounds)
{
	write_type(w, f, "object");
	write_members(w, fields, bounds);
}

/* The JSON Schema of one field; bounds and defaults for parameters. */
static void
write_schema(struct proto_jw *w, const struct proto_field *f, bool bounds)
{
	proto_jw_obj_begin(w);
	if (f->summary)
		proto_jw_kstr(w, "description", f->summary);
	switch (f->type) {
	case PROTO_T_ENDPOINT:
		proto_jw_kstr(w, "$ref", "#/components/schemas/Endpoint");
		break;
	case PROTO_T_STATE:
		proto_jw_kstr(w, "$ref", "#/components/schemas/State");
		break;
	case PROTO_T_OBJECT:
		if (f->sub) {
			write_object(w, f, f->sub, false);
		} else {
			/* A map of names to integers (limits, counters). */
			proto_jw_kstr(w, "type", "object");
			proto_jw_key(w, "additionalProperties");
			proto_jw_obj_begin(w);
			proto_jw_kstr(w, "type", "integer");
			proto_jw_obj_end(w);
		}
		break;
	case PROTO_T_SWITCH:
		/* true (defaults), false (none) or an object of the members. */
		proto_jw_key(w, "type");
		proto_jw_arr_begin(w);
		proto_jw_str(w, "boolean");
		proto_jw_str(w, "object");
		proto_jw_arr_end(w);
		write_members(w, f->sub, bounds);
		break;
	case PROTO_T_STRLIST:
		proto_jw_kstr(w, "type", "array");
		proto_jw_key(w, "items");
		proto_jw_obj_begin(w);
		proto_jw_kstr(w, "type", "string");
		proto_jw_kint(w, "minLength", 1);
		proto_jw_kint(w, "maxLength", 255);
		proto_jw_obj_end(w);
		proto_jw_kint(w, "minItems", 1);
		proto_jw_kint(w, "maxItems", f->max);
		break;
	case PROTO_T_ARRAY:
		write_type(w, f, "array");
		if (f->sub) {
			proto_jw_key(w, "items");
			write_schema(w, f->sub, false);
		}
		break;
	case PROTO_T_SOCKET:
		proto_jw_kstr(w, "type", "integer");
		proto_jw_kint(w, "minimum", 1);
		break;
	case PROTO_T_ID:
		/* A JSON-RPC request id (null is not one this daemon can cancel). */
		proto_jw_key(w, "type");
		proto_jw_arr_begin(w);
		proto_jw_str(w, "string");
		proto_jw_str(w, "number");
		proto_jw_arr_end(w);
		break;
	case PROTO_T_BASE64:
		proto_jw_kstr(w, "type", "string");
		proto_jw_kstr(w, "contentEncoding", "base64");
		break;
	case PROTO_T_INT:
		proto_jw_kstr(w, "type", "integer");
		if (bounds) {
			proto_jw_kint(w, "minimum", f->min);
			proto_jw_kint(w, "maximum", f->max);
			if (f->def >= f->min && f->def <= f->max)
				proto_jw_kint(w, "default", f->def);
		}
		break;
	case PROTO_T_BOOL:
		write_type(w, f, "boolean");
		if (bounds && f->def >= 0)
			proto_jw_kbool(w, "default", f->def != 0);
		break;
	case PROTO_T_STRING:
	default:
		write_type(w, f, "string");
		if (bounds && f->max > 0)
			proto_jw_kint(w, "maxLength", f->max);
		break;
	}
	proto_jw_obj_end(w);
}

static void
write_params(struct proto_jw *w, const struct proto_field *fields, bool bounds)
{
	proto_jw_key(w, "params");
	proto_jw_arr_begin(w);
	for (const struct proto_field *f = fields; f && f->name; f++) {
		proto_jw_obj_begin(w);
		proto_jw_kstr(w, "name", f->name);
		proto_jw_kbool(w, "required", f->flags & PROTO_F_REQUIRED);
		proto_jw_kstr(w, "description", f->summary);
		proto_jw_key(w, "schema");
		write_schema(w, f, bounds);
		proto_jw_obj_end(w);
	}
	proto_jw_arr_end(w);
}

static void
write_result(struct proto_jw *w, const struct proto_field *fields)
{
	proto_jw_key(w, "result");
	proto_jw_obj_begin(w);
	proto_jw_kstr(w, "name", "result");
	proto_jw_key(w, "schema");
	proto_jw_obj_begin(w);
	write_object(w, NULL, fields, false);
	proto_jw_obj_end(w);
	proto_jw_obj_end(w);
}

static void
write_errors(struct proto_jw *w, const int *codes)
{
	proto_jw_key(w, "errors");
	proto_jw_arr_begin(w);
	for (const int *c = codes; c && *c; c++) {
		const struct proto_error_info *e = proto_error_lookup(*c);
		char ref[96];
		int n = snprintf(ref, sizeof(ref), "#/components/errors/%s", e ? e->name : "?");

		proto_jw_obj_begin(w);
		proto_jw_key(w, "$ref");
		proto_jw_strn(w, ref, (size_t)n);
		proto_jw_obj_end(w);
	}
	proto_jw_arr_end(w);
}

static void
write_components(struct proto_jw *w)
{
	proto_jw_key(w, "components");
	proto_jw_obj_begin(w);
	proto_jw_key(w, "schemas");
	proto_jw_obj_begin(w);
	proto_jw_key(w, "Endpoint");
	proto_jw_raw(w, ENDPOINT_SCHEMA, sizeof(ENDPOINT_SCHEMA) - 1);
	proto_jw_key(w, "State");
	proto_jw_obj_begin(w);
	proto_jw_kstr(w, "type", "string");
	proto_jw_key(w, "enum");
	proto_jw_arr_begin(w);
	for (int s = 0; s < _PROTO_STATE_MAX; s++)
		proto_jw_str(w, proto_state_name(s));
	proto_jw_arr_end(w);
	proto_jw_obj_end(w);
	proto_jw_obj_end(w);
	proto_jw_key(w, "errors");
	proto_jw_obj_begin(w);
	for (unsigned i = 0; i < proto_errors_count; i++) {
		proto_jw_key(w, proto_errors[i].name);
		proto_jw_obj_begin(w);
		proto_jw_kint(w, "code", proto_errors[i].code);
		proto_jw_kstr(w, "message", proto_errors[i].message);
		proto_jw_obj_end(w);
	}
	proto_jw_obj_end(w);
	proto_jw_obj_end(w);
}

static void
write_entry(struct proto_jw *w, const struct proto_method *m)
{
	bool note = m->flags & PROTO_M_NOTIFICATION;

	proto_jw_obj_begin(w);
	proto_jw_kstr(w, "name", m->name);
	proto_jw_kstr(w, "summary", m->summary);
	if (m->description)
		proto_jw_kstr(w, "description", m->description);
	proto_jw_kstr(w, "paramStructure", "by-name");
	/* A notification's params are what the daemon sends: no bounds to check. */
	write_params(w, m->params, !note);
	if (!note) {
		write_result(w, m->result);
		write_errors(w, m->errors);
	}
	proto_jw_obj_end(w);
}

int
proto_openrpc_build(struct proto_buf *b)
{
	struct proto_jw w;

	proto_jw_init(&w, b);
	proto_jw_obj_begin(&w);
	proto_jw_kstr(&w, "openrpc", "1.2.6");
	proto_jw_key(&w, "info");
	proto_jw_obj_begin(&w);
	proto_jw_kstr(&w, "title", "tisock control protocol");
	proto_jw_kstr(&w, "version", "1");
	proto_jw_obj_end(&w);
	proto_jw_key(&w, "methods");
	proto_jw_arr_begin(&w);
	for (int i = 0; i < _PROTO_M_MAX; i++)
		if (!(proto_methods[i].flags & PROTO_M_NOTIFICATION))
			write_entry(&w, &proto_methods[i]);
	proto_jw_arr_end(&w);
	proto_jw_key(&w, "x-notifications");
	proto_jw_arr_begin(&w);
	for (int i = 0; i < _PROTO_M_MAX; i++)
		if (proto_methods[i].flags & PROTO_M_NOTIFICATION)
			write_entry(&w, &proto_methods[i]);
	proto_jw_arr_end(&w);
	write_components(&w);
	proto_jw_obj_end(&w);
	return proto_jw_error(&w);
}
