/*
 * proto-errors: the protocol's error codes and the errno name table.
 *
 * Codes are those of JSON-RPC 2.0 and of the tisock contract (section 6);
 * every code has a stable name and a default message.  Errno names come
 * from a table generated from the C library's errno list, never from
 * strerror() text.
 */
#ifndef TISOCK_PROTO_ERRORS_H
#define TISOCK_PROTO_ERRORS_H

enum proto_error {
	PROTO_E_PARSE		= -32700,
	PROTO_E_INVALID_REQUEST	= -32600,
	PROTO_E_NO_METHOD	= -32601,
	PROTO_E_INVALID_PARAMS	= -32602,
	PROTO_E_INTERNAL	= -32603,
	PROTO_E_NO_SOCKET	= -32001,
	PROTO_E_INVALID_STATE	= -32002,
	PROTO_E_NOT_PERMITTED	= -32003,
	PROTO_E_CLOSED		= -32004,
	PROTO_E_LIMIT		= -32005,
	PROTO_E_TIMEOUT		= -32006,
	PROTO_E_RESOLVE		= -32010,
	PROTO_E_NETWORK		= -32011,
	PROTO_E_TLS		= -32012,	/* a TLS handshake failed */
	PROTO_E_UPGRADE		= -32013,	/* a live upgrade did not happen */
	PROTO_E_CANCELLED	= -32800,	/* rpc.cancel ended it (LSP's code) */
};

struct proto_error_info {
	int		 code;
	const char	*name;		/* "no-such-socket" */
	const char	*message;	/* "no such socket" */
};

extern const struct proto_error_info proto_errors[];
extern const unsigned proto_errors_count;

const struct proto_error_info *proto_error_lookup(int code);
const char	*proto_error_message(int code);
const char	*proto_errno_name(int errnum);
int		 proto_errno_from_name(const char *name);

#endif
