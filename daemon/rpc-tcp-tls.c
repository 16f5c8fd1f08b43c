/*
 * rpc-tcp-tls: the handler of tcp.startTls.
 */
#include "config.h"

#include <errno.h>

#include "proto-errors.h"
#include "rpc.h"
#include "rpc-handlers.h"
#include "tcp.h"

int
rpc_tcp_start_tls(struct rpc_call *call, const union proto_args *args)
{
	(void)args;
	rpc_reply_error(call, &(struct rpc_error){ .code = PROTO_E_INTERNAL,
		.message = "not implemented yet", .socket = (int64_t)call->tcp->id });
	return 0;
}
