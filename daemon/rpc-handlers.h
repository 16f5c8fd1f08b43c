/*
 * rpc-handlers: one handler per method, bound to the method table by
 * rpc_handlers[] in rpc.c.  See rpc.h for the handler contract.
 */
#ifndef TISOCK_RPC_HANDLERS_H
#define TISOCK_RPC_HANDLERS_H

#include "proto-methods.h"

struct rpc_call;

#define RPC_HANDLER(name) int name(struct rpc_call *call, const union proto_args *args)

RPC_HANDLER(rpc_tcp_create);
RPC_HANDLER(rpc_tcp_connect);
RPC_HANDLER(rpc_tcp_listen);
RPC_HANDLER(rpc_tcp_accept);
RPC_HANDLER(rpc_tcp_read);
RPC_HANDLER(rpc_tcp_write);
RPC_HANDLER(rpc_tcp_pump);
RPC_HANDLER(rpc_tcp_shutdown);
RPC_HANDLER(rpc_tcp_close);
RPC_HANDLER(rpc_tcp_set_options);
RPC_HANDLER(rpc_tcp_info);
RPC_HANDLER(rpc_tcp_list);
RPC_HANDLER(rpc_tcp_channel);
RPC_HANDLER(rpc_daemon_info);
RPC_HANDLER(rpc_daemon_monitor);
RPC_HANDLER(rpc_daemon_metrics);
RPC_HANDLER(rpc_daemon_upgrade);
RPC_HANDLER(rpc_rpc_discover);
RPC_HANDLER(rpc_rpc_cancel);
RPC_HANDLER(rpc_tcp_start_tls);

#endif
