/*
 * proto-client: params writer and result rows for clients; see
 * proto-client.h.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>

#include "proto-client.h"

#define JSON_INT_MAX 9007199254740991.0	/* 2^53 - 1: exact in a double */

#define F(st, fld, nm, ty, fl, df) \
	{ .name = nm, .type = ty, .offset = offsetof(st, fld), .flags = fl, .def = df }
#define END { .name = NULL }
#define REQ PROTO_F_REQUIRED
#define OPT PROTO_F_OPTIONAL

static const struct proto_field open_result[] = {
	F(struct proto_tcp_open_result, socket, "socket", PROTO_T_SOCKET, REQ, 0),
	F(struct proto_tcp_open_result, local, "local", PROTO_T_ENDPOINT, OPT, 0),
	F(struct proto_tcp_open_result, remote, "remote", PROTO_T_ENDPOINT, OPT, 0),
	END
};

static const struct proto_field listen_result[] = {
	F(struct proto_tcp_open_result, socket, "socket", PROTO_T_SOCKET, REQ, 0),
	F(struct proto_tcp_open_result, local, "local", PROTO_T_ENDPOINT, OPT, 0),
	END
};

static const struct proto_field accept_result[] = {
	F(struct proto_tcp_accept_result, socket, "socket", PROTO_T_SOCKET, REQ, 0),
	F(struct proto_tcp_accept_result, inbound, "inbound", PROTO_T_SOCKET, REQ, 0),
	F(struct proto_tcp_accept_result, local, "local", PROTO_T_ENDPOINT, OPT, 0),
	F(struct proto_tcp_accept_result, remote, "remote", PROTO_T_ENDPOINT, OPT, 0),
	END
};

static const struct proto_field read_result[] = {
	F(struct proto_tcp_bytes_result, socket, "socket", PROTO_T_SOCKET, REQ, 0),
	F(struct proto_tcp_bytes_result, bytes, "bytes", PROTO_T_INT, REQ, 0),
	F(struct proto_tcp_bytes_result, data, "data", PROTO_T_BASE64, OPT, 0),
	END
};

static const struct proto_field write_result[] = {
	F(struct proto_tcp_bytes_result, socket, "socket", PROTO_T_SOCKET, REQ, 0),
	F(struct proto_tcp_bytes_result, bytes, "bytes", PROTO_T_INT, REQ, 0),
	END
};

static const struct proto_field pump_result[] = {
	F(struct proto_tcp_pump_result, socket, "socket", PROTO_T_SOCKET, REQ, 0),
	F(struct proto_tcp_pump_result, pumping, "pumping", PROTO_T_BOOL, REQ, 0),
	END
};

static const struct proto_field channel_result[] = {
	F(struct proto_tcp_channel_result, socket, "socket", PROTO_T_SOCKET, REQ, 0),
	F(struct proto_tcp_channel_result, fd, "fd", PROTO_T_BOOL, REQ, 0),
	END
};

static const struct proto_field socket_result[] = {
	F(struct proto_socket_result, socket, "socket", PROTO_T_SOCKET, REQ, 0),
	END
};

static const struct proto_field data_note[] = {
	F(struct proto_tcp_data_note, socket, "socket", PROTO_T_SOCKET, REQ, 0),
	F(struct proto_tcp_data_note, bytes, "bytes", PROTO_T_INT, REQ, 0),
	F(struct proto_tcp_data_note, data, "data", PROTO_T_BASE64, OPT, 0),
	F(struct proto_tcp_data_note, total, "totalBytes", PROTO_T_INT, OPT, 0),
	END
};

static const struct proto_field error_note[] = {
	F(struct proto_tcp_error_note, socket, "socket", PROTO_T_SOCKET, REQ, 0),
	F(struct proto_tcp_error_note, code, "code", PROTO_T_INT, OPT, -32011),
	F(struct proto_tcp_error_note, message, "message", PROTO_T_STRING, OPT, 0),
	F(struct proto_tcp_error_note, sys_errno, "errno", PROTO_T_INT, OPT, 0),
	END
};

static const struct proto_field closed_note[] = {
	F(struct proto_tcp_closed_note, socket, "socket", PROTO_T_SOCKET, REQ, 0),
	F(struct proto_tcp_closed_note, reason, "reason", PROTO_T_STRING, OPT, 0),
	END
};

const struct proto_field *const proto_results[_PROTO_M_MAX] = {
	[PROTO_M_TCP_CREATE] = socket_result,
	[PROTO_M_TCP_CONNECT] = open_result,
	[PROTO_M_TCP_LISTEN] = listen_result,
	[PROTO_M_TCP_ACCEPT] = accept_result,
	[PROTO_M_TCP_READ] = read_result,
	[PROTO_M_TCP_WRITE] = write_result,
	[PROTO_M_TCP_PUMP] = pump_result,
	[PROTO_M_TCP_SHUTDOWN] = socket_result,
	[PROTO_M_TCP_CLOSE] = socket_result,
	[PROTO_M_TCP_SET_OPTIONS] = socket_result,
	[PROTO_M_TCP_CHANNEL] = channel_result,
	[PROTO_N_TCP_DATA] = data_note,
	[PROTO_N_TCP_ERROR] = error_note,
	[PROTO_N_TCP_CLOSED] = closed_note,
};

/*
 * Writes the members of a params object (the caller opens and closes
 * it) from args, as fields describe them.  An optional field holding its
 * default is left out, since the daemon's parser gives it that value
 * when absent; BOOL -1 and NULL strings are absent.  A BASE64 field
 * holds the raw bytes (s, len), encoded on the way out: the writer takes
 * what the parser's caller decodes.  Returns 0, -ENOMEM or -EINVAL.
 */
int
proto_params_write(const struct proto_field *fields, const void *args, struct proto_jw *w)
{
	for (const struct proto_field *f = fields; f && f->name; f++) {
		const char *p = (const char *)args + f->offset;
		bool opt = !(f->flags & PROTO_F_REQUIRED);

		switch (f->type) {
		case PROTO_T_BOOL: {
			int v = *(const int *)p;

			if (v < 0 || (opt && v == f->def))
				continue;
			proto_jw_kbool(w, f->name, v != 0);
			break;
		}
		case PROTO_T_INT:
		case PROTO_T_SOCKET: {
			int64_t v = *(const int64_t *)p;

			if (opt && v == f->def)
				continue;
			proto_jw_kint(w, f->name, v);
			break;
		}
		case PROTO_T_STRING:
		case PROTO_T_BASE64: {
			const struct proto_str *s = (const struct proto_str *)p;

			if (!s->s)
				continue;
			proto_jw_key(w, f->name);
			if (f->type == PROTO_T_STRING)
				proto_jw_strn(w, s->s, s->len);
			else
				proto_jw_base64(w, s->s, s->len);
			break;
		}
		case PROTO_T_SWITCH: {
			int on = *(const int *)p;
			int r;

			if (on <= 0)
				continue;	/* false says what absent says */
			proto_jw_key(w, f->name);
			proto_jw_obj_begin(w);
			if ((r = proto_params_write(f->sub, p, w)) < 0)
				return r;
			proto_jw_obj_end(w);
			break;
		}
		case PROTO_T_ID:
		case PROTO_T_STRLIST: {
			const cJSON *v = *(const cJSON *const *)p;
			char *text;

			if (!v)
				continue;
			text = cJSON_PrintUnformatted(v);
			if (!text)
				return -ENOMEM;
			proto_jw_key(w, f->name);
			proto_jw_raw(w, text, strlen(text));
			free(text);
			break;
		}
		default:
			return -EINVAL;
		}
	}
	return proto_jw_error(w);
}

static void
set_default(const struct proto_field *f, char *p)
{
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
	case PROTO_T_ENDPOINT:
		*(struct proto_endpoint *)p = (struct proto_endpoint){ .port = -1 };
		break;
	default:
		break;
	}
}

static int
get_int(const cJSON *v, int64_t *ret)
{
	double d;

	if (!cJSON_IsNumber(v))
		return -EPROTO;
	d = v->valuedouble;
	if (d != floor(d) || fabs(d) > JSON_INT_MAX)
		return -EPROTO;
	*ret = (int64_t)d;
	return 0;
}

static int
get_str(const cJSON *v, struct proto_str *ret)
{
	if (!cJSON_IsString(v))
		return -EPROTO;
	*ret = (struct proto_str){ v->valuestring, strlen(v->valuestring) };
	return 0;
}

static int
parse_one(const struct proto_field *f, const cJSON *v, char *p)
{
	struct proto_endpoint *e = (struct proto_endpoint *)p;
	const cJSON *m;

	switch (f->type) {
	case PROTO_T_BOOL:
		if (!cJSON_IsBool(v))
			return -EPROTO;
		*(int *)p = cJSON_IsTrue(v);
		return 0;
	case PROTO_T_INT:
	case PROTO_T_SOCKET:
		return get_int(v, (int64_t *)p);
	case PROTO_T_STRING:
	case PROTO_T_BASE64:
		return get_str(v, (struct proto_str *)p);
	case PROTO_T_ENDPOINT:
		if (!cJSON_IsObject(v))
			return -EPROTO;
		set_default(f, p);
		m = cJSON_GetObjectItemCaseSensitive(v, "address");
		if (m && get_str(m, &e->address) < 0)
			return -EPROTO;
		m = cJSON_GetObjectItemCaseSensitive(v, "port");
		if (m && get_int(m, &e->port) < 0)
			return -EPROTO;
		return 0;
	default:
		return -EPROTO;
	}
}

/*
 * Reads obj, the result of method m (or the params of notification m),
 * into out, the struct its rows describe.  Strings point into obj and
 * live as long as it.  Members not in the rows are ignored, as newer
 * daemons may add some.  Returns 0, -ENOENT when m has no rows, or
 * -EPROTO when obj is not an object, a required member is missing or a
 * member has the wrong type.
 */
int
proto_result_parse(enum proto_method_id m, const cJSON *obj, void *out)
{
	const struct proto_field *rows = (unsigned)m < _PROTO_M_MAX ? proto_results[m] : NULL;

	if (!rows)
		return -ENOENT;
	if (!cJSON_IsObject(obj))
		return -EPROTO;
	for (const struct proto_field *f = rows; f->name; f++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->name);
		char *p = (char *)out + f->offset;

		if (!v || cJSON_IsNull(v)) {
			if (f->flags & PROTO_F_REQUIRED)
				return -EPROTO;
			set_default(f, p);
			continue;
		}
		if (parse_one(f, v, p) < 0)
			return -EPROTO;
	}
	return 0;
}
