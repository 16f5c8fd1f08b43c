/*
 * proto-jw: a streaming JSON writer onto a proto_buf.
 *
 * Keeps track of commas per nesting level so callers write keys and
 * values in order and never build a tree.  Strings are escaped per RFC
 * 8259 (control characters as \u00XX, '/' left alone); the caller
 * promises they are UTF-8.  Allocation failures are sticky: the writer
 * stops writing and proto_jw_error() returns -ENOMEM.
 */
#ifndef TISOCK_PROTO_JW_H
#define TISOCK_PROTO_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto-buf.h"

#define PROTO_JW_MAX_DEPTH 32

struct proto_jw {
	struct proto_buf	*b;		/* output, not owned */
	int			 depth;		/* open containers */
	int			 err;		/* 0 or -ENOMEM, sticky */
	bool			 after_key;	/* a key was just written */
	uint32_t		 need_comma;	/* bit per depth */
};

void	proto_jw_init(struct proto_jw *w, struct proto_buf *b);
int	proto_jw_error(const struct proto_jw *w);

void	proto_jw_obj_begin(struct proto_jw *w);
void	proto_jw_obj_end(struct proto_jw *w);
void	proto_jw_arr_begin(struct proto_jw *w);
void	proto_jw_arr_end(struct proto_jw *w);
void	proto_jw_key(struct proto_jw *w, const char *key);

void	proto_jw_str(struct proto_jw *w, const char *s);
void	proto_jw_strn(struct proto_jw *w, const char *s, size_t n);
void	proto_jw_int(struct proto_jw *w, int64_t v);
void	proto_jw_uint(struct proto_jw *w, uint64_t v);
void	proto_jw_double(struct proto_jw *w, double v);
void	proto_jw_bool(struct proto_jw *w, bool v);
void	proto_jw_null(struct proto_jw *w);
void	proto_jw_raw(struct proto_jw *w, const char *json, size_t n);
void	proto_jw_base64(struct proto_jw *w, const void *data, size_t n);

/* Key-value shorthands for objects. */
void	proto_jw_kstr(struct proto_jw *w, const char *k, const char *s);
void	proto_jw_kint(struct proto_jw *w, const char *k, int64_t v);
void	proto_jw_kuint(struct proto_jw *w, const char *k, uint64_t v);
void	proto_jw_kbool(struct proto_jw *w, const char *k, bool v);

#endif
