/*
 * conform-client: a raw control-connection client for the cases.
 *
 * One struct cc per Unix-socket connection.  Lines are framed with the
 * shared proto_reader and parsed with cJSON (never with the daemon's own
 * parser).  cc_wait() returns the answer to one id and keeps everything
 * else: other answers for later cc_wait(), notifications in arrival order
 * for cc_note().  Every wait has a deadline.  conform-json.c adds
 * dotted-path accessors on answers, a subset matcher, and a shape check of
 * an object against the method table's result / notification field rows.
 */
#ifndef TISOCK_CONFORM_CLIENT_H
#define TISOCK_CONFORM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "proto-params.h"

#define J_NONE	(-999999LL)	/* j_int() of an absent or non-number field */

struct cc;

struct cc	*cc_open(void);
void		 cc_close(struct cc *c);
int		 cc_fd(struct cc *c);
int		 cc_send_raw(struct cc *c, const void *data, size_t len);
int		 cc_send_line(struct cc *c, const char *line);
long long	 cc_request(struct cc *c, const char *method, const char *params_fmt, ...)
		     __attribute__((format(printf, 3, 4)));
char		*cc_read_line(struct cc *c, int timeout_ms);
cJSON		*cc_read(struct cc *c, int timeout_ms);
cJSON		*cc_wait(struct cc *c, long long id, int timeout_ms);
cJSON		*cc_call(struct cc *c, const char *method, const char *params_fmt, ...)
		     __attribute__((format(printf, 3, 4)));
cJSON		*cc_note(struct cc *c, const char *method, int timeout_ms);
int		 cc_sync(struct cc *c, int timeout_ms);
bool		 cc_has_answer(struct cc *c, long long id);
const char	*cc_last_line(struct cc *c);

/* A daemon socket connected to a loopback peer of ours: id and peer fd. */
long long	 cc_pair(struct cc *c, int *ret_peer);
long long	 cc_create(struct cc *c);
/* tcp.channel on s: the fd that came with the answer, or -1 with why set (conform-cases-io.c). */
int		 channel_open(struct cc *c, long long s, char *why, size_t whylen);

/* Accessors on answers ("error.data.state"). */
cJSON		*j_get(const cJSON *o, const char *path);
long long	 j_int(const cJSON *o, const char *path);
const char	*j_str(const cJSON *o, const char *path);
bool		 j_true(const cJSON *o, const char *path);
bool		 j_is(const cJSON *o, const char *path, const char *want);
long long	 err_code(const cJSON *answer);
const char	*j_text(const cJSON *o);

bool		 j_subset(const cJSON *want, const cJSON *got);
bool		 j_shape(const struct proto_field *fields, const cJSON *o, char *why,
		     size_t whylen);

#endif
