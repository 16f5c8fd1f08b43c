/*
 * proto-jsonrpc: JSON-RPC 2.0 messages, parsed from one line.
 *
 * A line holds one request object or a batch (an array).  Parsing checks
 * UTF-8 and strict JSON (proto-json.h: grammar, nesting depth, U+0000),
 * then the shape of each request.  Ids are kept as the exact raw token
 * that was sent, so that responses echo them byte for byte (integers
 * beyond 2^53 included); the line was checked, so that token is JSON.
 * No I/O.
 */
#ifndef TISOCK_PROTO_JSONRPC_H
#define TISOCK_PROTO_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "proto-buf.h"
#include "proto-json.h"
#include "proto-jw.h"

struct proto_request {
	int		 error;		/* 0, or PROTO_E_INVALID_REQUEST */
	const char	*reason;	/* why it is invalid, for data.reason */
	const char	*method;	/* points into the tree; NULL if invalid */
	const cJSON	*params;	/* object, array or NULL when absent */
	char		*id;		/* raw id token, owned; NULL: notification */
	size_t		 id_len;
};

struct proto_msg {
	cJSON			*root;	/* owned tree */
	bool			 batch;	/* the line was an array */
	size_t			 count;	/* requests (0 for an empty batch) */
	struct proto_request	*reqs;	/* owned array of count */
	const char		*reason;	/* parse error: "utf8", "json", "depth", "nul" */
};

int	 proto_msg_parse(const char *line, size_t len, struct proto_msg *ret);
void	 proto_msg_free(struct proto_msg *m);

/*
 * Response framing.  proto_rpc_begin_result() writes
 * {"jsonrpc":"2.0","id":ID,"result": and leaves the writer where the
 * result value goes; proto_rpc_end() closes the object.  A NULL id is
 * written as null.
 */
void	 proto_rpc_begin_result(struct proto_jw *w, const char *id, size_t id_len);
void	 proto_rpc_begin_error(struct proto_jw *w, const char *id, size_t id_len,
	     int code, const char *message);
void	 proto_rpc_end_error(struct proto_jw *w);
void	 proto_rpc_begin_notification(struct proto_jw *w, const char *method);
void	 proto_rpc_end(struct proto_jw *w);

#endif
