/*
 * proto-methods: the method and notification table, and the parameter
 * and result tables of the methods (the notifications' parameters are in
 * proto-notes.c).
 *
 * Adding a method is one row here (with its parameter and result tables)
 * plus one handler in the daemon; rpc.discover, the dispatcher's checks
 * and the documentation tests follow from the row.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proto-errors.h"
#include "proto-fields.h"
#include "proto-methods.h"

#define MS_MAX		2147483647	/* longest timeout, ms */
#define ID_MAX		9007199254740991LL
#define IDLE_MAX	32767		/* TCP_KEEPIDLE, s */
#define LINGER_MAX	3600		/* SO_LINGER, s (as linger-ms at most) */
#define BUF_MAX		67108864	/* SO_SNDBUF / SO_RCVBUF asked, bytes */

/* The socket options of tcp.create, connect, listen, accept and setOptions. */
#define SOCKOPT_PARAMS(st, what) \
	P(st, keep_alive_idle, "keepAliveIdle", PROTO_T_INT, OPT, 1, IDLE_MAX, -1, \
	  "Idle seconds before keepalive probes (TCP_KEEPIDLE)" what "."), \
	P(st, linger, "linger", PROTO_T_INT, OPT, 0, LINGER_MAX, -1, \
	  "SO_LINGER seconds" what ": a graceful close waits at most this long (and never " \
	  "past linger-ms) for the peer to acknowledge, then resets; 0: every close resets. " \
	  "Absent: linger-ms alone."), \
	P(st, send_buffer, "sendBufferSize", PROTO_T_INT, OPT, 1, BUF_MAX, -1, \
	  "SO_SNDBUF bytes" what " (the kernel doubles and clamps it; tcp.info tells the " \
	  "size in effect)."), \
	P(st, receive_buffer, "receiveBufferSize", PROTO_T_INT, OPT, 1, BUF_MAX, -1, \
	  "SO_RCVBUF bytes" what " (the kernel doubles and clamps it; tcp.info tells the " \
	  "size in effect).")

/* A member of the tls parameter: named "tls.<name>" in errors. */
#define TP(fld, nm, ty, lo, hi, df, sum) \
	{ .name = nm, .type = ty, .offset = offsetof(struct proto_tls_args, fld), \
	  .flags = PROTO_F_OPTIONAL, .min = lo, .max = hi, .def = df, .summary = sum, \
	  .path = "tls." nm }


/* tcp.create, and tcp.connect / tcp.listen which may create. */
#define OPEN_PARAMS(sockflags) \
	P(struct proto_tcp_open_args, socket, "socket", PROTO_T_SOCKET, sockflags, 0, ID_MAX, 0, \
	  "Socket id; without it a new socket is created with the other parameters."), \
	P(struct proto_tcp_open_args, host, "host", PROTO_T_STRING, OPT, 0, 0, 0, \
	  "Host name or address (default 127.0.0.1)."), \
	P(struct proto_tcp_open_args, port, "port", PROTO_T_INT, OPT, 0, 65535, -1, \
	  "Port to connect to or listen on."), \
	P(struct proto_tcp_open_args, listen_queue, "listenQueueSize", PROTO_T_INT, OPT, 1, 65535, \
	  -1, "Listen backlog (default: the system maximum)."), \
	P(struct proto_tcp_open_args, timeout, "timeout", PROTO_T_INT, OPT, 0, MS_MAX, -1, \
	  "Connect timeout in ms; 0: no daemon timer."), \
	P(struct proto_tcp_open_args, no_delay, "noDelay", PROTO_T_BOOL, OPT, 0, 0, -1, \
	  "TCP_NODELAY on the socket."), \
	P(struct proto_tcp_open_args, keep_alive, "keepAlive", PROTO_T_BOOL, OPT, 0, 0, -1, \
	  "SO_KEEPALIVE on the socket."), \
	SOCKOPT_PARAMS(struct proto_tcp_open_args, ""), \
	P(struct proto_tcp_open_args, happy_eyeballs, "happyEyeballs", PROTO_T_BOOL, OPT, 0, 0, \
	  -1, "Race the addresses of a name (RFC 8305); false: try them one after another " \
	  "(default true).")

/* The tls parameter, client side (tcp.connect, tcp.startTls). */
static const struct proto_field tls_client_members[] = {
	TP(server_name, "serverName", PROTO_T_STRING, 0, 255, 0,
	   "Name the certificate must match and SNI sends (default: the connect host; an IP "
	   "address is matched against the certificate's IP addresses and sends no SNI)."),
	TP(verify, "verify", PROTO_T_BOOL, 0, 0, -1,
	   "Verify the server's certificate chain and name (default true); false needs "
	   "tls-insecure = allow."),
	TP(ca_pem, "caPem", PROTO_T_STRING, 0, PROTO_PEM_MAX, 0,
	   "PEM certificates to trust instead of the system's trust store."),
	TP(alpn, "alpn", PROTO_T_STRLIST, 0, PROTO_ALPN_MAX, 0,
	   "ALPN protocols to offer, in order of preference."),
	TP(min_version, "minVersion", PROTO_T_STRING, 0, 3, 0,
	   "Oldest TLS version accepted: \"1.2\" (default) or \"1.3\"."),
	TP(session_reuse, "sessionReuse", PROTO_T_BOOL, 0, 0, -1,
	   "Resume a session from the daemon's cache for the same host, port and server name "
	   "(default true)."),
	END
};

/* The tls parameter, server side (tcp.listen). */
static const struct proto_field tls_server_members[] = {
	TP(certificate_pem, "certificatePem", PROTO_T_STRING, 0, PROTO_PEM_MAX, 0,
	   "PEM certificate, then its chain; required. Kept in memory, never echoed."),
	TP(key_pem, "keyPem", PROTO_T_STRING, 0, PROTO_PEM_MAX, 0,
	   "PEM private key of the certificate; required. Kept in memory, never echoed."),
	TP(ca_pem, "caPem", PROTO_T_STRING, 0, PROTO_PEM_MAX, 0,
	   "PEM certificates that client certificates are verified against."),
	TP(request_client_certificate, "requestClientCertificate", PROTO_T_BOOL, 0, 0, -1,
	   "Require a client certificate verified against caPem (mutual TLS; default false)."),
	TP(alpn, "alpn", PROTO_T_STRLIST, 0, PROTO_ALPN_MAX, 0,
	   "ALPN protocols accepted, in order of preference."),
	TP(min_version, "minVersion", PROTO_T_STRING, 0, 3, 0,
	   "Oldest TLS version accepted: \"1.2\" (default) or \"1.3\"."),
	END
};

#define TLS_PARAM(st, members, sum) \
	{ .name = "tls", .type = PROTO_T_SWITCH, .offset = offsetof(st, tls), \
	  .flags = PROTO_F_OPTIONAL, .sub = members, .summary = sum }

static const struct proto_field tcp_create_params[] = {
	P(struct proto_tcp_open_args, host, "host", PROTO_T_STRING, OPT, 0, 0, 0,
	  "Host name or address used by connect and listen (default 127.0.0.1)."),
	P(struct proto_tcp_open_args, port, "port", PROTO_T_INT, OPT, 0, 65535, -1,
	  "Port used by connect and listen."),
	P(struct proto_tcp_open_args, listen_queue, "listenQueueSize", PROTO_T_INT, OPT, 1, 65535,
	  -1, "Listen backlog (default: the system maximum)."),
	P(struct proto_tcp_open_args, timeout, "timeout", PROTO_T_INT, OPT, 0, MS_MAX, -1,
	  "Connect timeout in ms; 0: no daemon timer."),
	P(struct proto_tcp_open_args, no_delay, "noDelay", PROTO_T_BOOL, OPT, 0, 0, -1,
	  "TCP_NODELAY once connected."),
	P(struct proto_tcp_open_args, keep_alive, "keepAlive", PROTO_T_BOOL, OPT, 0, 0, -1,
	  "SO_KEEPALIVE once connected."),
	SOCKOPT_PARAMS(struct proto_tcp_open_args, ""),
	P(struct proto_tcp_open_args, happy_eyeballs, "happyEyeballs", PROTO_T_BOOL, OPT, 0, 0, -1,
	  "Race the addresses of a name on a later tcp.connect (RFC 8305); false: try them one "
	  "after another (default true)."),
	END
};

static const struct proto_field tcp_connect_params[] = {
	OPEN_PARAMS(OPT),
	TLS_PARAM(struct proto_tcp_open_args, tls_client_members,
		  "TLS over the connection: true for the defaults, or an object; the handshake "
		  "is done before the answer (-32012 when it fails)."),
	END
};
static const struct proto_field tcp_listen_params[] = {
	OPEN_PARAMS(OPT),
	TLS_PARAM(struct proto_tcp_open_args, tls_server_members,
		  "Serve TLS: inbound connections finish their handshake before tcp.accept "
		  "answers them."),
	END
};
static const struct proto_field tcp_start_tls_params[] = {
	P(struct proto_tcp_start_tls_args, socket, "socket", PROTO_T_SOCKET, REQ, 0, ID_MAX, 0,
	  "Socket id: connected, plaintext, nothing read ahead or queued."),
	TLS_PARAM(struct proto_tcp_start_tls_args, tls_client_members,
		  "The TLS options, as tcp.connect's tls (true: the defaults)."),
	END
};

static const struct proto_field tcp_accept_params[] = {
	P(struct proto_tcp_accept_args, socket, "socket", PROTO_T_SOCKET, REQ, 0, ID_MAX, 0,
	  "Listening socket id."),
	P(struct proto_tcp_accept_args, timeout, "timeout", PROTO_T_INT, OPT, 0, MS_MAX, -1,
	  "Give up after this many ms (-32006); 0 or absent: wait without limit."),
	P(struct proto_tcp_accept_args, no_delay, "noDelay", PROTO_T_BOOL, OPT, 0, 0, -1,
	  "TCP_NODELAY on the inbound socket."),
	P(struct proto_tcp_accept_args, keep_alive, "keepAlive", PROTO_T_BOOL, OPT, 0, 0, -1,
	  "SO_KEEPALIVE on the inbound socket."),
	SOCKOPT_PARAMS(struct proto_tcp_accept_args, " on the inbound socket"),
	END
};

static const struct proto_field tcp_read_params[] = {
	P(struct proto_tcp_read_args, socket, "socket", PROTO_T_SOCKET, REQ, 0, ID_MAX, 0,
	  "Socket id."),
	P(struct proto_tcp_read_args, length, "length", PROTO_T_INT, OPT, 1, PROTO_CHUNK_MAX,
	  PROTO_READ_DEFAULT, "Most bytes to return."),
	P(struct proto_tcp_read_args, timeout, "timeout", PROTO_T_INT, OPT, 0, MS_MAX, -1,
	  "Give up after this many ms (-32006); 0 or absent: wait without limit."),
	END
};

static const struct proto_field tcp_write_params[] = {
	P(struct proto_tcp_write_args, socket, "socket", PROTO_T_SOCKET, REQ, 0, ID_MAX, 0,
	  "Socket id."),
	P(struct proto_tcp_write_args, data, "data", PROTO_T_BASE64, OPT, 0, 0, 0,
	  "Bytes to send, base64; exactly one of data and text."),
	P(struct proto_tcp_write_args, text, "text", PROTO_T_STRING, OPT, 0, 0, 0,
	  "Text to send as UTF-8; exactly one of data and text."),
	END
};

static const struct proto_field tcp_pump_params[] = {
	P(struct proto_tcp_pump_args, socket, "socket", PROTO_T_SOCKET, REQ, 0, ID_MAX, 0,
	  "Socket id."),
	P(struct proto_tcp_pump_args, enable, "enable", PROTO_T_BOOL, OPT, 0, 0, 1,
	  "Start (true) or stop (false) tcp.data notifications."),
	P(struct proto_tcp_pump_args, chunk_size, "chunkSize", PROTO_T_INT, OPT, 1,
	  PROTO_CHUNK_MAX, PROTO_READ_DEFAULT, "Most bytes per tcp.data."),
	END
};

static const struct proto_field socket_params[] = {
	P(struct proto_socket_args, socket, "socket", PROTO_T_SOCKET, REQ, 0, ID_MAX, 0,
	  "Socket id."),
	END
};

static const struct proto_field tcp_close_params[] = {
	P(struct proto_tcp_close_args, socket, "socket", PROTO_T_SOCKET, REQ, 0, ID_MAX, 0,
	  "Socket id."),
	P(struct proto_tcp_close_args, abort, "abort", PROTO_T_BOOL, OPT, 0, 0, 0,
	  "Reset the connection at once instead of flushing and sending FIN."),
	P(struct proto_tcp_close_args, admin, "admin", PROTO_T_BOOL, OPT, 0, 0, 0,
	  "Close another client's socket (root and the daemon's uid only); its owner gets "
	  "tcp.closed with reason admin."),
	END
};

static const struct proto_field tcp_list_params[] = {
	P(struct proto_tcp_list_args, all, "all", PROTO_T_BOOL, OPT, 0, 0, 0,
	  "Every socket the caller may see: all of them for root and the daemon's uid, "
	  "those of the caller's uid otherwise."),
	END
};

static const struct proto_field monitor_params[] = {
	P(struct proto_monitor_args, enable, "enable", PROTO_T_BOOL, OPT, 0, 0, 1,
	  "Start (true) or stop (false) monitor.event notifications."),
	END
};

static const struct proto_field tcp_options_params[] = {
	P(struct proto_tcp_options_args, socket, "socket", PROTO_T_SOCKET, REQ, 0, ID_MAX, 0,
	  "Socket id."),
	P(struct proto_tcp_options_args, no_delay, "noDelay", PROTO_T_BOOL, OPT, 0, 0, -1,
	  "TCP_NODELAY."),
	P(struct proto_tcp_options_args, keep_alive, "keepAlive", PROTO_T_BOOL, OPT, 0, 0, -1,
	  "SO_KEEPALIVE."),
	SOCKOPT_PARAMS(struct proto_tcp_options_args, ""),
	P(struct proto_tcp_options_args, timeout, "timeout", PROTO_T_INT, OPT, 0, MS_MAX, -1,
	  "Connect timeout in ms for a later tcp.connect."),
	END
};

static const struct proto_field rpc_cancel_params[] = {
	P(struct proto_cancel_args, id, "id", PROTO_T_ID, REQ, 0, 0, 0,
	  "The id of a pending request of this connection, matched as a JSON value: a string "
	  "never matches a number, strings match by their characters, numbers by value."),
	END
};

/* Results and notification params: descriptions only. */
static const struct proto_field res_socket[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."), END
};
static const struct proto_field res_state[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	R("state", PROTO_T_STATE, REQ, "Socket state."), END
};
static const struct proto_field res_close[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	R("state", PROTO_T_STATE, REQ, "\"closed\"."),
	R("undeliveredBytes", PROTO_T_INT, REQ, "Bytes accepted for writing that never left this "
	  "host when the connection ended (reset): the last ones written. 0 when the peer "
	  "acknowledged every byte."),
	R("unacknowledgedBytes", PROTO_T_INT, REQ, "Bytes sent but not yet acknowledged by the peer "
	  "when the connection was reset: the ones just before those."), END
};
static const struct proto_field res_attempt[] = {
	R("address", PROTO_T_ENDPOINT, REQ, "The address tried, as the kernel connects to it."),
	R("outcome", PROTO_T_STRING, REQ, "connected, refused, timeout, denied (by policy), "
	  "cancelled (another attempt won, or the connect was abandoned) or error."),
	R("errname", PROTO_T_STRING, OPT, "For error: the errno name."),
	R("ms", PROTO_T_INT, REQ, "Milliseconds from its start to its outcome."), END
};
static const struct proto_field res_attempt_item[] = {
	RS("attempt", PROTO_T_OBJECT, REQ, res_attempt, "One connect attempt."), END
};
static const struct proto_field res_san[] = {
	R("name", PROTO_T_STRING, REQ, "\"DNS:name\", \"IP:address\", \"email:...\" or "
	  "\"URI:...\"."), END
};
static const struct proto_field res_peer_cert[] = {
	R("subject", PROTO_T_STRING, REQ, "Subject, RFC 2253."),
	R("issuer", PROTO_T_STRING, REQ, "Issuer, RFC 2253."),
	RS("subjectAltNames", PROTO_T_ARRAY, REQ, res_san, "Subject alternative names."),
	R("notBefore", PROTO_T_STRING, REQ, "Start of validity, \"YYYY-MM-DDTHH:MM:SSZ\"."),
	R("notAfter", PROTO_T_STRING, REQ, "End of validity, likewise."),
	R("sha256", PROTO_T_STRING, REQ, "SHA-256 of the DER certificate, 64 lowercase hex "
	  "digits."), END
};
static const struct proto_field res_tls[] = {
	R("version", PROTO_T_STRING, REQ, "\"TLSv1.2\" or \"TLSv1.3\"."),
	R("cipher", PROTO_T_STRING, REQ, "Cipher suite, OpenSSL's name."),
	R("alpn", PROTO_T_STRING, REQ | PROTO_F_NULLABLE, "Protocol agreed by ALPN, or null."),
	R("resumed", PROTO_T_BOOL, REQ, "The session was resumed."),
	RS("peerCertificate", PROTO_T_OBJECT, REQ | PROTO_F_NULLABLE, res_peer_cert,
	   "The peer's certificate, or null when it sent none."),
	R("verified", PROTO_T_BOOL, REQ, "The peer's certificate chain (and, client side, name) "
	  "was verified."), END
};
#define TLS_RESULT(opt, what) RS("tls", PROTO_T_OBJECT, opt, res_tls, what)
static const struct proto_field res_start_tls[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	TLS_RESULT(REQ, "The handshake's outcome."), END
};
static const struct proto_field res_connect[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	R("state", PROTO_T_STATE, REQ, "\"connected\"."),
	R("local", PROTO_T_ENDPOINT, REQ, "Local endpoint."),
	R("remote", PROTO_T_ENDPOINT, REQ, "Remote endpoint."),
	RS("attempts", PROTO_T_ARRAY, REQ, res_attempt_item, "Every address tried, in the order "
	   "tried (Happy Eyeballs races them), with its outcome; also in the error's data when "
	   "the connect fails."),
	TLS_RESULT(OPT, "With tls: the handshake's outcome."), END
};
static const struct proto_field res_listen[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	R("state", PROTO_T_STATE, REQ, "\"listening\"."),
	R("local", PROTO_T_ENDPOINT, REQ, "Bound endpoint (the chosen port for port 0)."), END
};
static const struct proto_field res_accept[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Listening socket id."),
	R("inbound", PROTO_T_SOCKET, REQ, "Id of the new, connected socket."),
	R("state", PROTO_T_STATE, REQ, "The inbound socket's state, \"connected\"."),
	R("local", PROTO_T_ENDPOINT, REQ, "Inbound socket's local endpoint."),
	R("remote", PROTO_T_ENDPOINT, REQ, "Inbound socket's peer."),
	TLS_RESULT(OPT, "A TLS listener's: the inbound handshake's outcome."), END
};
static const struct proto_field res_read[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	R("bytes", PROTO_T_INT, REQ, "Bytes returned, or -1 at end of stream."),
	R("data", PROTO_T_BASE64, OPT, "The bytes, base64; absent at end of stream."),
	R("truncated", PROTO_T_BOOL, OPT, "At end of stream on TLS: true when the peer closed "
	  "without close_notify."), END
};
static const struct proto_field res_write[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	R("bytes", PROTO_T_INT, REQ, "Bytes handed to the kernel."), END
};
static const struct proto_field res_pump[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	R("pumping", PROTO_T_BOOL, REQ, "Whether pump mode is now on."), END
};
static const struct proto_field res_gid[] = { R("gid", PROTO_T_INT, REQ, "A group id."), END };
static const struct proto_field res_owner[] = {
	R("client", PROTO_T_INT, REQ, "Client number; 0 while lingering after its owner left."),
	R("pid", PROTO_T_INT, OPT, "Its process id."),
	R("uid", PROTO_T_INT, OPT, "Its user id."),
	R("gid", PROTO_T_INT, OPT, "Its group id."),
	RS("groups", PROTO_T_ARRAY, OPT, res_gid, "Its supplementary groups."), END
};
const struct proto_field proto_res_kinfo[] = {
	R("rttUs", PROTO_T_INT, REQ, "Smoothed round trip time, microseconds."),
	R("rttVarUs", PROTO_T_INT, REQ, "Its variance, microseconds."),
	R("retransmits", PROTO_T_INT, REQ, "Segments retransmitted since the connection began."),
	R("lost", PROTO_T_INT, REQ, "Segments the kernel counts as lost now."),
	R("cwnd", PROTO_T_INT, REQ, "Congestion window, segments."),
	R("deliveryRate", PROTO_T_INT, REQ, "Recent delivery rate, bytes per second."),
	R("bytesAcked", PROTO_T_INT, REQ, "Bytes the peer has acknowledged."),
	R("bytesReceived", PROTO_T_INT, REQ, "Bytes received from the peer."),
	R("busyMs", PROTO_T_INT, REQ, "Time spent with data to send, ms."),
	R("rwndLimitedMs", PROTO_T_INT, REQ, "Of it, limited by the peer's receive window, ms."),
	R("senderLimitedMs", PROTO_T_INT, REQ, "Of it, limited by the send buffer, ms."),
	R("limitedBy", PROTO_T_STRING, REQ, "What limited sending most: rwnd, cwnd, sender, or "
	  "none before anything was sent."), END
};
static const struct proto_field res_sockopts[] = {
	R("noDelay", PROTO_T_BOOL, REQ, "TCP_NODELAY."),
	R("keepAlive", PROTO_T_BOOL, REQ, "SO_KEEPALIVE."),
	R("keepAliveIdle", PROTO_T_INT, REQ, "TCP_KEEPIDLE, seconds."),
	R("linger", PROTO_T_INT, REQ, "SO_LINGER seconds; -1: off."),
	R("sendBufferSize", PROTO_T_INT, REQ, "SO_SNDBUF in effect, bytes (as the kernel "
	  "reports it: twice what was asked, within its limits)."),
	R("receiveBufferSize", PROTO_T_INT, REQ, "SO_RCVBUF in effect, bytes (likewise)."), END
};
#define INFO_FIELDS \
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."), \
	R("state", PROTO_T_STATE, REQ, "State name."), \
	R("stateCode", PROTO_T_INT, REQ, "Ti.Network.Socket constant, 1-5."), \
	R("host", PROTO_T_STRING, REQ, "Host as given, or the peer address of an accepted socket."), \
	R("port", PROTO_T_INT, REQ, "Port as given, or the peer port of an accepted socket."), \
	R("local", PROTO_T_ENDPOINT, OPT, "Local endpoint, when bound."), \
	R("remote", PROTO_T_ENDPOINT, OPT, "Remote endpoint, when connected."), \
	R("listenQueueSize", PROTO_T_INT, REQ, "Listen backlog."), \
	R("timeout", PROTO_T_INT, REQ, "Connect timeout in force, ms."), \
	R("bytesRead", PROTO_T_INT, REQ, "Bytes read from the peer."), \
	R("bytesWritten", PROTO_T_INT, REQ, "Bytes handed to the kernel."), \
	R("sendCalls", PROTO_T_INT, REQ, "sendmsg(2) calls made to send tcp.write bytes: the " \
	  "writes queued from one control read go out together."), \
	R("pendingWriteBytes", PROTO_T_INT, REQ, "Bytes accepted by tcp.write, not yet sent."), \
	R("pumping", PROTO_T_BOOL, REQ, "Pump mode."), \
	R("channel", PROTO_T_BOOL, REQ, "A data channel is open."), \
	RS("owner", PROTO_T_OBJECT, REQ, res_owner, "The owning connection; client 0 while " \
	  "lingering after its owner left."), \
	R("ageMs", PROTO_T_INT, REQ, "Milliseconds since the socket was created."), \
	RS("options", PROTO_T_OBJECT, OPT, res_sockopts, "The socket options in effect, read " \
	   "from the kernel, while the socket is open."), \
	RS("tcpInfo", PROTO_T_OBJECT, OPT, proto_res_kinfo, "The kernel's view (TCP_INFO), while " \
	   "connected."), \
	TLS_RESULT(OPT, "A TLS socket, once its handshake is done: as tcp.connect's tls.")
static const struct proto_field res_info[] = { INFO_FIELDS, END };
static const struct proto_field res_info_item[] = {
	RS("socket", PROTO_T_OBJECT, REQ, res_info, "One socket, as tcp.info describes it."), END
};
static const struct proto_field res_list[] = {
	RS("sockets", PROTO_T_ARRAY, REQ, res_info_item,
	   "tcp.info of every socket of this connection (or, with "
	  "all, of every socket the caller may see)."), END
};
static const struct proto_field res_channel[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	R("fd", PROTO_T_BOOL, REQ, "true: one file descriptor came with this line (SCM_RIGHTS)."),
	END
};
static const struct proto_field res_monitor[] = {
	R("monitoring", PROTO_T_BOOL, REQ, "Whether this connection now gets monitor.event."), END
};
static const struct proto_field res_user[] = {
	R("uid", PROTO_T_INT, REQ, "The caller's user id."),
	R("clients", PROTO_T_INT, REQ, "Its control connections."),
	R("sockets", PROTO_T_INT, REQ, "Its open sockets."),
	R("requests", PROTO_T_INT, REQ, "Its requests in flight."),
	R("pendingWriteBytes", PROTO_T_INT, REQ, "Bytes accepted by tcp.write, not yet sent."),
	R("queuedOutputBytes", PROTO_T_INT, REQ, "Answers and notifications queued for it."),
	R("inputBytes", PROTO_T_INT, REQ, "Request bytes held in unfinished lines."),
	R("channelBufferBytes", PROTO_T_INT, REQ, "Enlarged kernel buffer bytes granted to its "
	  "open data channels (8 MiB each)."), END
};
static const struct proto_field res_last_restart[] = {
	R("at", PROTO_T_INT, REQ, "When, milliseconds since the Unix epoch."),
	R("reason", PROTO_T_STRING, REQ, "\"upgrade\" (daemon.upgrade, SIGUSR2) or \"recovery\" "
	  "(after a crash)."),
	R("fromVersion", PROTO_T_STRING, REQ, "The version of the daemon it took over from."), END
};
static const struct proto_field res_upgrade[] = {
	R("generation", PROTO_T_INT, REQ, "The new process's generation."),
	R("pid", PROTO_T_INT, REQ, "The new process's id."),
	R("oldVersion", PROTO_T_STRING, REQ, "Version of the process that was replaced."),
	R("newVersion", PROTO_T_STRING, REQ, "Version of the process that answers."),
	R("pauseMs", PROTO_T_INT, REQ, "Milliseconds from the request to the new process "
	  "taking over."), END
};
static const struct proto_field res_daemon_info[] = {
	R("name", PROTO_T_STRING, REQ, "\"tisockd\"."),
	R("version", PROTO_T_STRING, REQ, "Daemon version."),
	R("protocol", PROTO_T_INT, REQ, "Protocol version, 1."),
	R("pid", PROTO_T_INT, REQ, "Daemon process id."),
	R("uptime", PROTO_T_INT, REQ, "Milliseconds since start."),
	R("generation", PROTO_T_INT, REQ, "1 at a fresh start, one more per restart that kept the "
	  "clients (live upgrade, crash recovery)."),
	RS("lastRestart", PROTO_T_OBJECT, OPT, res_last_restart, "The last such restart; absent "
	  "when none."),
	R("limits", PROTO_T_OBJECT, REQ, "Limit name to value."),
	RS("user", PROTO_T_OBJECT, REQ, res_user, "What the caller's uid holds now, over all its "
	  "connections."),
	R("scope", PROTO_T_STRING, REQ, "\"all\" (root and the daemon's uid: counters and "
	  "limitHitsBy follow) or \"user\" (anyone else: the user figures only)."),
	R("counters", PROTO_T_OBJECT, OPT, "Counter name to value, daemon-wide (scope all)."),
	R("limitHitsBy", PROTO_T_OBJECT, OPT, "-32005 answers by limit name (scope all)."), END
};
static const struct proto_field res_discover_info[] = {
	R("title", PROTO_T_STRING, REQ, "The protocol's title."),
	R("version", PROTO_T_STRING, REQ, "The protocol's version."), END
};
static const struct proto_field res_method_fields[] = {
	R("name", PROTO_T_STRING, REQ, "Method name."),
	R("summary", PROTO_T_STRING, OPT, "One line."), END
};
static const struct proto_field res_discover_method[] = {
	RS("method", PROTO_T_OBJECT, REQ, res_method_fields, "An OpenRPC Method Object."), END
};
static const struct proto_field res_metrics[] = {
	R("contentType", PROTO_T_STRING, REQ, "\"text/plain; version=0.0.4; charset=utf-8\": "
	  "the Prometheus text exposition format."),
	R("text", PROTO_T_STRING, REQ, "The exposition: the same text GET /metrics serves on "
	  "[daemon] metrics-listen."), END
};
static const struct proto_field res_discover[] = {
	R("openrpc", PROTO_T_STRING, REQ, "OpenRPC version."),
	RS("info", PROTO_T_OBJECT, REQ, res_discover_info, "Title and version."),
	RS("methods", PROTO_T_ARRAY, REQ, res_discover_method, "Every method."), END
};
static const struct proto_field res_cancel[] = {
	R("cancelled", PROTO_T_BOOL, REQ, "true: the request was pending and has been answered "
	  "-32800 (before this answer); false: no pending request of this connection has that id "
	  "(unknown, already answered, or a tcp.close), nothing was done."), END
};
/*
 * The errors each method may answer with, besides the framing ones every
 * request may get (-32700, -32600, -32601) and -32603.
 */
#define E(x) PROTO_E_##x
static const int err_create[] = { E(INVALID_PARAMS), E(LIMIT), 0 };
static const int err_connect[] = { E(INVALID_PARAMS), E(NO_SOCKET), E(INVALID_STATE),
	E(NOT_PERMITTED), E(CLOSED), E(LIMIT), E(TIMEOUT), E(RESOLVE), E(NETWORK), E(TLS),
	E(CANCELLED), 0 };	/* connect, startTls */
static const int err_listen[] = { E(INVALID_PARAMS), E(NO_SOCKET), E(INVALID_STATE),
	E(NOT_PERMITTED), E(LIMIT), E(RESOLVE), E(NETWORK), E(CANCELLED), 0 };
static const int err_wait[] = { E(INVALID_PARAMS), E(NO_SOCKET), E(INVALID_STATE),
	E(CLOSED), E(LIMIT), E(TIMEOUT), E(NETWORK), E(CANCELLED), 0 };	/* accept, read */
static const int err_write[] = { E(INVALID_PARAMS), E(NO_SOCKET), E(INVALID_STATE),
	E(CLOSED), E(LIMIT), E(NETWORK), E(CANCELLED), 0 };	/* write, shutdown */
static const int err_cancel[] = { E(INVALID_PARAMS), 0 };	/* never refused by a limit */
static const int err_socket[] = { E(INVALID_PARAMS), E(NO_SOCKET), E(INVALID_STATE),
	E(LIMIT), E(NETWORK), 0 };	/* pump, setOptions, channel */
static const int err_close[] = { E(INVALID_PARAMS), E(NO_SOCKET), E(NOT_PERMITTED), E(LIMIT),
	0 };
static const int err_info[] = { E(INVALID_PARAMS), E(NO_SOCKET), E(LIMIT), 0 };
static const int err_list[] = { E(INVALID_PARAMS), E(LIMIT), 0 };
static const int err_monitor[] = { E(INVALID_PARAMS), E(NOT_PERMITTED), E(LIMIT), 0 };
static const int err_metrics[] = { E(NOT_PERMITTED), E(LIMIT), 0 };
static const int err_upgrade[] = { E(NOT_PERMITTED), E(LIMIT), E(UPGRADE), 0 };
static const int err_none[] = { E(LIMIT), 0 };

#define S(x) PROTO_S(x)

const struct proto_method proto_methods[_PROTO_M_MAX] = {
	[PROTO_M_TCP_CREATE] = {
		.name = "tcp.create", .errors = err_create, .params = tcp_create_params, .result = res_state,
		.summary = "Create a TCP socket in state initialized.",
		.description = "Answers at once with the new socket's id." },
	[PROTO_M_TCP_CONNECT] = {
		.name = "tcp.connect", .errors = err_connect, .params = tcp_connect_params, .result = res_connect,
		.flags = PROTO_M_SOCKET | PROTO_M_SOCKET_OPT,
		.states = S(INITIALIZED) | S(ERROR),
		.summary = "Connect to host:port, creating the socket when none is given.",
		.description = "Answers once the connection is up, or with the error that ended it." },
	[PROTO_M_TCP_LISTEN] = {
		.name = "tcp.listen", .errors = err_listen, .params = tcp_listen_params, .result = res_listen,
		.flags = PROTO_M_SOCKET | PROTO_M_SOCKET_OPT, .states = S(INITIALIZED),
		.summary = "Bind and listen, creating the socket when none is given.",
		.description = "Answers once listening, with the bound endpoint." },
	[PROTO_M_TCP_ACCEPT] = {
		.name = "tcp.accept", .errors = err_wait, .params = tcp_accept_params, .result = res_accept,
		.flags = PROTO_M_SOCKET, .states = S(LISTENING),
		.summary = "Accept the next inbound connection.",
		.description = "Answers when a connection arrives; accepts queue in order." },
	[PROTO_M_TCP_READ] = {
		.name = "tcp.read", .errors = err_wait, .params = tcp_read_params, .result = res_read,
		.flags = PROTO_M_SOCKET, .states = S(CONNECTED),
		.summary = "Read up to length bytes.",
		.description = "Answers when at least one byte, or the end of stream, is there." },
	[PROTO_M_TCP_WRITE] = {
		.name = "tcp.write", .errors = err_write, .params = tcp_write_params, .result = res_write,
		.flags = PROTO_M_SOCKET, .states = S(CONNECTED),
		.summary = "Write bytes (data, base64) or text (UTF-8).",
		.description = "Answers when every byte has been handed to the kernel." },
	[PROTO_M_TCP_PUMP] = {
		.name = "tcp.pump", .errors = err_socket, .params = tcp_pump_params, .result = res_pump,
		.flags = PROTO_M_SOCKET, .states = S(CONNECTED),
		.summary = "Turn pump mode (tcp.data notifications) on or off.",
		.description = "Answers at once; data then arrives as tcp.data." },
	[PROTO_M_TCP_SHUTDOWN] = {
		.name = "tcp.shutdown", .errors = err_write, .params = socket_params, .result = res_socket,
		.flags = PROTO_M_SOCKET, .states = S(CONNECTED),
		.summary = "Half-close: flush queued writes, then send FIN.",
		.description = "Answers after queued writes are flushed and FIN is sent." },
	[PROTO_M_TCP_CLOSE] = {
		.name = "tcp.close", .errors = err_close, .params = tcp_close_params, .result = res_close,
		.flags = PROTO_M_SOCKET, .states = PROTO_S_ANY,
		.summary = "Close gracefully, or reset with abort.",
		.description = "Answers once closed; a graceful close flushes writes first." },
	[PROTO_M_TCP_SET_OPTIONS] = {
		.name = "tcp.setOptions", .errors = err_socket, .params = tcp_options_params,
		.result = res_socket, .flags = PROTO_M_SOCKET,
		.states = S(INITIALIZED) | S(CONNECTING) | S(CONNECTED) | S(LISTENING) | S(ERROR),
		.summary = "Set socket options.",
		.description = "Answers at once." },
	[PROTO_M_TCP_INFO] = {
		.name = "tcp.info", .errors = err_info, .params = socket_params, .result = res_info,
		.flags = PROTO_M_SOCKET, .states = PROTO_S_ANY,
		.summary = "Describe a socket.",
		.description = "Answers at once." },
	[PROTO_M_TCP_LIST] = {
		.name = "tcp.list", .errors = err_list, .params = tcp_list_params, .result = res_list,
		.summary = "Describe every socket of this connection, or every socket visible.",
		.description = "Answers at once." },
	[PROTO_M_TCP_CHANNEL] = {
		.name = "tcp.channel", .errors = err_socket, .params = socket_params, .result = res_channel,
		.flags = PROTO_M_SOCKET, .states = S(CONNECTED),
		.summary = "Hand over a stream socket relayed to the TCP socket both ways.",
		.description = "Answers at once, with one end of a socketpair passed as "
			       "SCM_RIGHTS on the answer's bytes; not in a batch." },
	[PROTO_M_DAEMON_INFO] = {
		.name = "daemon.info", .errors = err_none, .result = res_daemon_info,
		.summary = "Daemon version, uptime, limits and counters.",
		.description = "Answers at once." },
	[PROTO_M_DAEMON_MONITOR] = {
		.name = "daemon.monitor", .errors = err_monitor, .params = monitor_params, .result = res_monitor,
		.flags = PROTO_M_PRIVILEGED,
		.summary = "Stream monitor.event notifications about every client and socket.",
		.description = "Answers at once; root and the daemon's uid only. A monitor more "
			       "than 4 MiB behind is sent monitor.dropped and disconnected." },
	[PROTO_M_RPC_DISCOVER] = {
		.name = "rpc.discover", .errors = err_none, .result = res_discover,
		.summary = "OpenRPC document of the whole protocol.",
		.description = "Answers at once." },
	[PROTO_M_RPC_CANCEL] = {
		.name = "rpc.cancel", .errors = err_cancel, .params = rpc_cancel_params,
		.result = res_cancel,
		.summary = "Cancel a pending request of this connection.",
		.description = "Answers at once; a request it cancels is answered -32800 first "
			       "(a write's data says how much of it was written)." },
	[PROTO_M_DAEMON_METRICS] = {
		.name = "daemon.metrics", .errors = err_metrics, .result = res_metrics,
		.flags = PROTO_M_PRIVILEGED,
		.summary = "Every counter and gauge in the Prometheus text exposition format.",
		.description = "Answers at once; root and the daemon's uid only (the figures "
			       "cover every user)." },
	[PROTO_M_TCP_START_TLS] = {
		.name = "tcp.startTls", .errors = err_connect, .params = tcp_start_tls_params,
		.result = res_start_tls, .flags = PROTO_M_SOCKET, .states = S(CONNECTED),
		.summary = "Upgrade a connected plaintext socket to TLS (STARTTLS), as its client.",
		.description = "Answers once the handshake is done (-32012 when it fails); "
			       "refused (-32002) while bytes are read ahead or queued." },
	[PROTO_M_DAEMON_UPGRADE] = {
		.name = "daemon.upgrade", .errors = err_upgrade, .result = res_upgrade,
		.flags = PROTO_M_PRIVILEGED,
		.summary = "Re-execute the daemon's binary in place, keeping every connection.",
		.description = "Answers once the new process has taken over (by the new process), "
			       "or -32013 with data.reason when it could not and the old process "
			       "serves on; root and the daemon's uid only." },
	[PROTO_N_TCP_DATA] = {
		.name = "tcp.data", .params = proto_note_data, .flags = PROTO_M_NOTIFICATION,
		.summary = "Pump mode: bytes arrived, or the end of stream (bytes -1)." },
	[PROTO_N_TCP_ERROR] = {
		.name = "tcp.error", .params = proto_note_error, .flags = PROTO_M_NOTIFICATION,
		.summary = "An error with no pending request to report it; state is now error." },
	[PROTO_N_TCP_CLOSED] = {
		.name = "tcp.closed", .params = proto_note_closed, .flags = PROTO_M_NOTIFICATION,
		.summary = "The daemon closed the socket for its own reasons." },
	[PROTO_N_MONITOR_EVENT] = {
		.name = "monitor.event", .params = proto_note_monitor, .flags = PROTO_M_NOTIFICATION,
		.summary = "daemon.monitor: something happened to a client or a socket." },
	[PROTO_N_DAEMON_RESTARTED] = {
		.name = "daemon.restarted", .params = proto_note_restarted, .flags = PROTO_M_NOTIFICATION,
		.summary = "The daemon was replaced by a new process (live upgrade) or recovered "
			   "from a crash; this connection and its sockets were kept." },
};

/* Index of the method (not notification) called name, or -ENOENT. */
int
proto_method_lookup(const char *name)
{
	for (int i = 0; i < _PROTO_M_MAX; i++)
		if (!(proto_methods[i].flags & PROTO_M_NOTIFICATION) &&
		    strcmp(proto_methods[i].name, name) == 0)
			return i;
	return -ENOENT;
}

static const char *const state_names[_PROTO_STATE_MAX] = {
	[PROTO_STATE_INITIALIZED] = "initialized",
	[PROTO_STATE_CONNECTING] = "connecting",
	[PROTO_STATE_CONNECTED] = "connected",
	[PROTO_STATE_LISTENING] = "listening",
	[PROTO_STATE_CLOSED] = "closed",
	[PROTO_STATE_ERROR] = "error",
};

static const int state_codes[_PROTO_STATE_MAX] = {
	[PROTO_STATE_INITIALIZED] = 1,
	[PROTO_STATE_CONNECTING] = 1,
	[PROTO_STATE_CONNECTED] = 2,
	[PROTO_STATE_LISTENING] = 3,
	[PROTO_STATE_CLOSED] = 4,
	[PROTO_STATE_ERROR] = 5,
};

const char *
proto_state_name(enum proto_state s)
{
	return (unsigned)s < _PROTO_STATE_MAX ? state_names[s] : "invalid";
}

/* The Ti.Network.Socket constant for s. */
int
proto_state_code(enum proto_state s)
{
	return (unsigned)s < _PROTO_STATE_MAX ? state_codes[s] : 0;
}
