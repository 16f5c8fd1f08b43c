/*
 * proto-client: the method table seen from the client's side.
 *
 * A request's params are written from the same args structs and field
 * rows the daemon parses them with (proto_params_write), so a parameter
 * exists in one place.  Answers and notifications are read into typed
 * structs by the result rows of this module (proto_result_parse); the
 * unit tests check every such row against the method table's own result
 * description, which stays the single source of truth.  No I/O here.
 */
#ifndef TISOCK_PROTO_CLIENT_H
#define TISOCK_PROTO_CLIENT_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "proto-jw.h"
#include "proto-methods.h"
#include "proto-params.h"

/* {address, port, family} as results carry it. */
struct proto_endpoint {
	struct proto_str	address;	/* NULL when absent */
	int64_t			port;		/* -1 when absent */
};

/* tcp.connect and tcp.listen. */
struct proto_tcp_open_result {
	int64_t			socket;
	struct proto_endpoint	local, remote;	/* listen: no remote */
};

struct proto_tcp_accept_result {
	int64_t			socket;		/* the listener */
	int64_t			inbound;
	struct proto_endpoint	local, remote;
};

/* tcp.read and tcp.write. */
struct proto_tcp_bytes_result {
	int64_t			socket;
	int64_t			bytes;		/* read: -1 at the end of stream */
	struct proto_str	data;		/* read: base64, NULL at the end */
};

struct proto_tcp_pump_result {
	int64_t	socket;
	int	pumping;
};

struct proto_tcp_channel_result {
	int64_t	socket;
	int	fd;			/* 1: a descriptor came with the line */
};

/* tcp.shutdown, tcp.setOptions, tcp.close. */
struct proto_socket_result {
	int64_t	socket;
};

/* Notifications. */
struct proto_tcp_data_note {
	int64_t			socket;
	int64_t			bytes;		/* -1: the end of stream */
	struct proto_str	data;		/* base64 */
	int64_t			total;
};

struct proto_tcp_error_note {
	int64_t			socket;
	int64_t			code;		/* protocol error code */
	struct proto_str	message;
	int64_t			sys_errno;	/* 0 when absent */
};

struct proto_tcp_closed_note {
	int64_t			socket;
	struct proto_str	reason;
};

/* Result rows by method id (notifications: their params); NULL where none is read. */
extern const struct proto_field *const proto_results[_PROTO_M_MAX];

int	proto_params_write(const struct proto_field *fields, const void *args,
	    struct proto_jw *w);
int	proto_result_parse(enum proto_method_id m, const cJSON *obj, void *out);

#endif
