/*
 * proto-params: declarative parameter tables and their parser.
 *
 * Each method lists its parameters as proto_field rows (name, type,
 * offset into the method's args struct, flags, bounds, default).  One
 * generic parser fills the struct and, on failure, names the field and
 * the reason so the caller can answer -32602 with data.param.  The same
 * rows, with offset unused, describe results and notifications for
 * rpc.discover.
 */
#ifndef TISOCK_PROTO_PARAMS_H
#define TISOCK_PROTO_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum proto_type {
	PROTO_T_BOOL,		/* int: 0, 1, or the default (-1: absent) */
	PROTO_T_INT,		/* int64_t within [min, max] */
	PROTO_T_SOCKET,		/* int64_t socket id */
	PROTO_T_STRING,		/* struct proto_str, UTF-8 */
	PROTO_T_BASE64,		/* struct proto_str, checked base64 */
	PROTO_T_ID,		/* const cJSON *: a request id, string or number */
	PROTO_T_SWITCH,		/* true, false or an object of sub's members: a nested
				 * args struct at offset whose first member is an int
				 * (-1 absent, 0 false, 1 true or an object) */
	PROTO_T_STRLIST,	/* const cJSON *: an array of 1 to max non-empty strings
				 * of at most 255 bytes each */
	/* Result-only types, for descriptions. */
	PROTO_T_STATE,		/* one of the state names */
	PROTO_T_ENDPOINT,	/* {address, port, family} */
	PROTO_T_OBJECT,		/* name to number, or a nested document */
	PROTO_T_ARRAY,		/* of socket info objects */
	_PROTO_T_MAX,
};

enum {
	PROTO_F_REQUIRED	= 1 << 0,	/* absent is -32602 */
	PROTO_F_OPTIONAL	= 0,
	PROTO_F_NULLABLE	= 1 << 1,	/* results: the value may be null */
};

struct proto_str {
	const char	*s;	/* NULL when absent; NUL-terminated */
	size_t		 len;	/* bytes, without the NUL */
};

struct proto_field {
	const char	*name;
	enum proto_type	 type;
	size_t		 offset;	/* into the args struct */
	unsigned	 flags;		/* PROTO_F_* */
	int64_t		 min, max;	/* PROTO_T_INT bounds, inclusive; STRING:
					 * max > 0 bounds its bytes; STRLIST: max items */
	int64_t		 def;		/* value when absent (INT, BOOL) */
	const char	*summary;
	/*
	 * Results only: an OBJECT's fields (NULL: a map of names to
	 * integers), an ARRAY's item (one row, its name unused).
	 */
	const struct proto_field *sub;
	const char	*path;		/* a nested param's name in errors ("tls.caPem") */
};

/* Why a parameter was refused, for data.reason. */
enum proto_param_error {
	PROTO_PARAM_OK = 0,
	PROTO_PARAM_MISSING,
	PROTO_PARAM_TYPE,
	PROTO_PARAM_RANGE,
	PROTO_PARAM_NOT_OBJECT,
	PROTO_PARAM_BASE64,
};

int		 proto_params_parse(const struct proto_field *fields,
		     const cJSON *params, void *args, const char **ret_param,
		     enum proto_param_error *ret_why);
const char	*proto_param_error_text(enum proto_param_error why);
const char	*proto_type_name(enum proto_type t);

#endif
