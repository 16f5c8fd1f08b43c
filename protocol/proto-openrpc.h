/*
 * proto-openrpc: the protocol's OpenRPC 1.2.6 document (what rpc.discover
 * answers), generated from the method table in proto-methods.c: methods
 * with JSON Schema params, results and errors, the notifications under
 * x-notifications, components.schemas and components.errors.  No I/O.
 */
#ifndef TISOCK_PROTO_OPENRPC_H
#define TISOCK_PROTO_OPENRPC_H

#include "proto-buf.h"

/* Appends the document to b.  Returns 0 or -ENOMEM. */
int	proto_openrpc_build(struct proto_buf *b);

#endif
