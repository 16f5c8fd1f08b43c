/*
 * proto-jw: streaming JSON writer; see proto-jw.h.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "proto-base64.h"
#include "proto-jw.h"

void
proto_jw_init(struct proto_jw *w, struct proto_buf *b)
{
	*w = (struct proto_jw){ .b = b };
}

/* 0, or -ENOMEM if any write failed since proto_jw_init(). */
int
proto_jw_error(const struct proto_jw *w)
{
	return w->err;
}

static void
put(struct proto_jw *w, const void *p, size_t n)
{
	if (w->err == 0 && proto_buf_append(w->b, p, n) < 0)
		w->err = -ENOMEM;
}

static void
putc_(struct proto_jw *w, char c)
{
	if (w->err == 0 && proto_buf_putc(w->b, c) < 0)
		w->err = -ENOMEM;
}

/* Emits the comma a value needs, unless it follows its key. */
static void
value_prefix(struct proto_jw *w)
{
	uint32_t bit = 1u << (w->depth & 31);

	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->need_comma & bit)
		putc_(w, ',');
	w->need_comma |= bit;
}

static void
open_(struct proto_jw *w, char c)
{
	value_prefix(w);
	putc_(w, c);
	w->depth++;
	w->need_comma &= ~(1u << (w->depth & 31));
}

static void
close_(struct proto_jw *w, char c)
{
	w->depth--;
	putc_(w, c);
}

void proto_jw_obj_begin(struct proto_jw *w) { open_(w, '{'); }
void proto_jw_obj_end(struct proto_jw *w) { close_(w, '}'); }
void proto_jw_arr_begin(struct proto_jw *w) { open_(w, '['); }
void proto_jw_arr_end(struct proto_jw *w) { close_(w, ']'); }

static void
string_body(struct proto_jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	putc_(w, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(w, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		put(w, esc, elen);
	}
	put(w, s + run, n - run);
	putc_(w, '"');
}

void
proto_jw_key(struct proto_jw *w, const char *key)
{
	value_prefix(w);
	string_body(w, key, strlen(key));
	putc_(w, ':');
	w->after_key = true;
}

void
proto_jw_strn(struct proto_jw *w, const char *s, size_t n)
{
	value_prefix(w);
	string_body(w, s, n);
}

void
proto_jw_str(struct proto_jw *w, const char *s)
{
	if (!s) {
		proto_jw_null(w);
		return;
	}
	proto_jw_strn(w, s, strlen(s));
}

/* v in decimal, ending at end (not terminated); returns where it starts. */
static char *
fmt_u64(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

/* Integers are written by hand: snprintf() was a visible part of each notification. */
void
proto_jw_int(struct proto_jw *w, int64_t v)
{
	char tmp[24], *p = fmt_u64(tmp + sizeof(tmp),
				   v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);

	if (v < 0)
		*--p = '-';
	value_prefix(w);
	put(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

void
proto_jw_uint(struct proto_jw *w, uint64_t v)
{
	char tmp[24], *p = fmt_u64(tmp + sizeof(tmp), v);

	value_prefix(w);
	put(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* Finite doubles as shortest round-trip text; NaN and infinities as null. */
void
proto_jw_double(struct proto_jw *w, double v)
{
	char tmp[32];
	int n;

	if (!isfinite(v)) {
		proto_jw_null(w);
		return;
	}
	n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	value_prefix(w);
	put(w, tmp, (size_t)n);
}

void
proto_jw_bool(struct proto_jw *w, bool v)
{
	value_prefix(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void
proto_jw_null(struct proto_jw *w)
{
	value_prefix(w);
	put(w, "null", 4);
}

/* Inserts already-serialised JSON as one value. */
void
proto_jw_raw(struct proto_jw *w, const char *json, size_t n)
{
	value_prefix(w);
	put(w, json, n);
}

/* Writes n bytes as a base64 string, encoding straight into the buffer. */
void
proto_jw_base64(struct proto_jw *w, const void *data, size_t n)
{
	size_t elen = proto_base64_encoded_len(n);

	value_prefix(w);
	if (w->err || proto_buf_reserve(w->b, elen + 2) < 0) {
		w->err = -ENOMEM;
		return;
	}
	w->b->data[w->b->len++] = '"';
	proto_base64_encode(w->b->data + w->b->len, data, n);
	w->b->len += elen;
	w->b->data[w->b->len++] = '"';
}

void
proto_jw_kstr(struct proto_jw *w, const char *k, const char *s)
{
	proto_jw_key(w, k);
	proto_jw_str(w, s);
}

void
proto_jw_kint(struct proto_jw *w, const char *k, int64_t v)
{
	proto_jw_key(w, k);
	proto_jw_int(w, v);
}

void
proto_jw_kuint(struct proto_jw *w, const char *k, uint64_t v)
{
	proto_jw_key(w, k);
	proto_jw_uint(w, v);
}

void
proto_jw_kbool(struct proto_jw *w, const char *k, bool v)
{
	proto_jw_key(w, k);
	proto_jw_bool(w, v);
}
