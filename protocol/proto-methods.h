/*
 * proto-methods: the method table, single source of truth.
 *
 * One row per method and per notification: name, parameter table, result
 * description, flags, the socket states it is allowed in, and a summary.
 * The daemon's dispatcher, rpc.discover, tisockctl's help and the
 * conformance suite read this table and nothing else.
 */
#ifndef TISOCK_PROTO_METHODS_H
#define TISOCK_PROTO_METHODS_H

#include <stdint.h>

#include "proto-params.h"

#define PROTO_VERSION		1
#define PROTO_READ_DEFAULT	65536
#define PROTO_CHUNK_MAX		16777216

/* Socket states as the protocol names them. */
enum proto_state {
	PROTO_STATE_INITIALIZED,
	PROTO_STATE_CONNECTING,
	PROTO_STATE_CONNECTED,
	PROTO_STATE_LISTENING,
	PROTO_STATE_CLOSED,
	PROTO_STATE_ERROR,
	_PROTO_STATE_MAX,
};

#define PROTO_S(s)		(1u << PROTO_STATE_##s)
#define PROTO_S_ANY		((1u << _PROTO_STATE_MAX) - 1)

const char	*proto_state_name(enum proto_state s);
int		 proto_state_code(enum proto_state s);

enum proto_method_id {
	PROTO_M_TCP_CREATE,
	PROTO_M_TCP_CONNECT,
	PROTO_M_TCP_LISTEN,
	PROTO_M_TCP_ACCEPT,
	PROTO_M_TCP_READ,
	PROTO_M_TCP_WRITE,
	PROTO_M_TCP_PUMP,
	PROTO_M_TCP_SHUTDOWN,
	PROTO_M_TCP_CLOSE,
	PROTO_M_TCP_SET_OPTIONS,
	PROTO_M_TCP_INFO,
	PROTO_M_TCP_LIST,
	PROTO_M_TCP_CHANNEL,
	PROTO_M_DAEMON_INFO,
	PROTO_M_DAEMON_MONITOR,
	PROTO_M_RPC_DISCOVER,
	PROTO_M_RPC_CANCEL,
	PROTO_M_DAEMON_METRICS,
	PROTO_M_TCP_START_TLS,
	PROTO_M_DAEMON_UPGRADE,
	/* Notifications, daemon to client. */
	PROTO_N_TCP_DATA,
	PROTO_N_TCP_ERROR,
	PROTO_N_TCP_CLOSED,
	PROTO_N_MONITOR_EVENT,
	PROTO_N_DAEMON_RESTARTED,
	_PROTO_M_MAX,
};

enum {
	PROTO_M_SOCKET		= 1 << 0,	/* takes `socket`, resolved first */
	PROTO_M_SOCKET_OPT	= 1 << 1,	/* `socket` may be absent */
	PROTO_M_PRIVILEGED	= 1 << 2,	/* root and the daemon's uid */
	PROTO_M_NOTIFICATION	= 1 << 3,	/* sent by the daemon only */
};

struct proto_method {
	const char			*name;
	const struct proto_field	*params;	/* NULL-name terminated */
	const struct proto_field	*result;	/* NULL-name terminated */
	unsigned			 flags;		/* PROTO_M_* */
	unsigned			 states;	/* PROTO_S() mask */
	const char			*summary;	/* one line */
	const char			*description;	/* when it answers */
	const int			*errors;	/* codes it may answer, 0-terminated */
};

extern const struct proto_method proto_methods[_PROTO_M_MAX];

int	 proto_method_lookup(const char *name);

#define PROTO_PEM_MAX		65536	/* bytes of one PEM parameter */
#define PROTO_ALPN_MAX		16	/* protocols in tls.alpn */

/*
 * The tls parameter of tcp.connect, tcp.startTls (client side) and
 * tcp.listen (server side); each method reads the members of its side.
 */
struct proto_tls_args {
	int			on;		/* -1 absent, 0 false, 1 true or an object */
	struct proto_str	server_name;	/* client: name checked and sent (SNI) */
	int			verify;		/* client: -1 absent (true) */
	struct proto_str	ca_pem;		/* trust anchors instead of the system's */
	const cJSON		*alpn;		/* array of protocol names, or NULL */
	struct proto_str	min_version;	/* "1.2" or "1.3", NULL: 1.2 */
	int			session_reuse;	/* client: -1 absent (true) */
	struct proto_str	certificate_pem;	/* server: certificate (and chain) */
	struct proto_str	key_pem;	/* server: its private key */
	int			request_client_certificate;	/* server: -1 absent */
};

/* Parameters of tcp.create, and of tcp.connect / tcp.listen. */
struct proto_tcp_open_args {
	int64_t			socket;		/* 0: absent, create one */
	struct proto_str	host;
	int64_t			port;		/* -1: absent */
	int64_t			listen_queue;	/* -1: absent */
	int64_t			timeout;	/* connect timeout ms, -1: absent */
	int			no_delay;	/* -1: absent */
	int			keep_alive;	/* -1: absent */
	int64_t			keep_alive_idle;	/* seconds, -1: absent */
	int64_t			linger;		/* seconds, -1: absent */
	int64_t			send_buffer;	/* bytes, -1: absent */
	int64_t			receive_buffer;	/* bytes, -1: absent */
	int			happy_eyeballs;	/* -1: absent */
	struct proto_tls_args	tls;		/* connect, listen */
};

struct proto_tcp_start_tls_args {
	int64_t			socket;
	struct proto_tls_args	tls;
};

struct proto_tcp_accept_args {
	int64_t	socket;
	int64_t	timeout;		/* ms, -1: none */
	int	no_delay, keep_alive;	/* for the inbound socket, -1: absent */
	int64_t	keep_alive_idle, linger;	/* seconds, -1: absent */
	int64_t	send_buffer, receive_buffer;	/* bytes, -1: absent */
};

struct proto_tcp_read_args {
	int64_t	socket;
	int64_t	length;
	int64_t	timeout;		/* ms, -1: none */
};

struct proto_tcp_write_args {
	int64_t			socket;
	struct proto_str	data;	/* base64 */
	struct proto_str	text;	/* UTF-8 */
};

struct proto_tcp_pump_args {
	int64_t	socket;
	int	enable;
	int64_t	chunk_size;
};

struct proto_tcp_close_args {
	int64_t	socket;
	int	abort;
	int	admin;			/* any client's socket (privileged) */
};

struct proto_tcp_list_args {
	int64_t	socket;			/* unused */
	int	all;			/* every visible socket, not just this connection's */
};

struct proto_monitor_args {
	int64_t	socket;			/* unused */
	int	enable;
};

struct proto_tcp_options_args {
	int64_t	socket;
	int	no_delay, keep_alive;	/* -1: absent */
	int64_t	keep_alive_idle;	/* seconds, -1: absent */
	int64_t	linger;			/* seconds, -1: absent */
	int64_t	send_buffer, receive_buffer;	/* bytes, -1: absent */
	int64_t	timeout;		/* connect timeout ms, -1: absent */
};

struct proto_socket_args {
	int64_t	socket;
};

struct proto_cancel_args {
	int64_t		 socket;	/* unused */
	const cJSON	*id;		/* the request to cancel; points into the params */
};

union proto_args {
	int64_t				socket;	/* first member of each */
	struct proto_tcp_open_args	open;
	struct proto_tcp_accept_args	accept;
	struct proto_tcp_read_args	read;
	struct proto_tcp_write_args	write;
	struct proto_tcp_pump_args	pump;
	struct proto_tcp_close_args	close;
	struct proto_tcp_list_args	list;
	struct proto_monitor_args	monitor;
	struct proto_tcp_options_args	options;
	struct proto_socket_args	sock;
	struct proto_cancel_args	cancel;
	struct proto_tcp_start_tls_args	start_tls;
};

#endif
