/*
 * proto-fields: how the field tables of proto-methods.c and proto-notes.c
 * are written (private to those two), and the tables one shares with the
 * other.
 */
#ifndef TISOCK_PROTO_FIELDS_H
#define TISOCK_PROTO_FIELDS_H

#include "proto-methods.h"

#define P(st, fld, nm, ty, fl, lo, hi, df, sum) \
	{ .name = nm, .type = ty, .offset = offsetof(st, fld), .flags = fl, \
	  .min = lo, .max = hi, .def = df, .summary = sum }
#define R(nm, ty, fl, sum) { .name = nm, .type = ty, .flags = fl, .summary = sum }
#define RS(nm, ty, fl, sub_, sum) { .name = nm, .type = ty, .flags = fl, .summary = sum, \
				    .sub = sub_ }
#define END { .name = NULL }

#define REQ PROTO_F_REQUIRED
#define OPT PROTO_F_OPTIONAL

/* proto-methods.c */
extern const struct proto_field proto_res_kinfo[];

/* proto-notes.c */
extern const struct proto_field proto_note_data[], proto_note_error[], proto_note_closed[],
	proto_note_restarted[], proto_note_monitor[];

#endif
