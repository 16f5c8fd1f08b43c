/*
 * proto-errors: error code names and messages, and errno names.
 *
 * The errno table is generated at build time from the C library's
 * <errno.h> (proto-errno-list.h), so every errno the kernel can return
 * has its symbolic name.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proto-errors.h"

const struct proto_error_info proto_errors[] = {
	{ PROTO_E_PARSE,		"parse-error",		"parse error" },
	{ PROTO_E_INVALID_REQUEST,	"invalid-request",	"invalid request" },
	{ PROTO_E_NO_METHOD,		"method-not-found",	"method not found" },
	{ PROTO_E_INVALID_PARAMS,	"invalid-params",	"invalid params" },
	{ PROTO_E_INTERNAL,		"internal-error",	"internal error" },
	{ PROTO_E_NO_SOCKET,		"no-such-socket",	"no such socket" },
	{ PROTO_E_INVALID_STATE,	"invalid-state",	"invalid state" },
	{ PROTO_E_NOT_PERMITTED,	"not-permitted",	"not permitted by policy" },
	{ PROTO_E_CLOSED,		"socket-closed",	"socket closed while the request was pending" },
	{ PROTO_E_LIMIT,		"limit-reached",	"limit reached" },
	{ PROTO_E_TIMEOUT,		"timed-out",		"timed out" },
	{ PROTO_E_RESOLVE,		"resolve-failed",	"name resolution failed" },
	{ PROTO_E_NETWORK,		"network-error",	"network error" },
	{ PROTO_E_TLS,			"tls-handshake-failed",	"TLS handshake failed" },
	{ PROTO_E_UPGRADE,		"upgrade-failed",	"upgrade failed" },
	{ PROTO_E_CANCELLED,		"request-cancelled",	"request cancelled" },
};

const unsigned proto_errors_count = sizeof(proto_errors) / sizeof(proto_errors[0]);

/* The row for code, or NULL. */
const struct proto_error_info *
proto_error_lookup(int code)
{
	for (unsigned i = 0; i < proto_errors_count; i++)
		if (proto_errors[i].code == code)
			return &proto_errors[i];
	return NULL;
}

/* The default message for code; "error" for an unknown code. */
const char *
proto_error_message(int code)
{
	const struct proto_error_info *e = proto_error_lookup(code);

	return e ? e->message : "error";
}

static const char *const errno_names[] = {
#define PROTO_ERRNO(name) [name] = #name,
#include "proto-errno-list.h"
#undef PROTO_ERRNO
};

/* "ECONNREFUSED" for ECONNREFUSED; NULL when errnum has no name. */
const char *
proto_errno_name(int errnum)
{
	if (errnum < 0)
		errnum = -errnum;
	if ((size_t)errnum >= sizeof(errno_names) / sizeof(errno_names[0]))
		return NULL;
	return errno_names[errnum];
}

/* The errno value named name, or -EINVAL. */
int
proto_errno_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (errno_names[i] && strcmp(errno_names[i], name) == 0)
			return (int)i;
	return -EINVAL;
}
