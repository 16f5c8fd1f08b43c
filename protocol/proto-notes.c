/*
 * proto-notes: the parameters of the notifications (tcp.data, tcp.error,
 * tcp.closed, daemon.restarted, monitor.event), rows of the method table
 * in proto-methods.c.
 */
#include "config.h"

#include <stddef.h>

#include "proto-fields.h"

const struct proto_field proto_note_data[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	R("bytes", PROTO_T_INT, REQ, "Bytes in this chunk, or -1 at end of stream."),
	R("data", PROTO_T_BASE64, OPT, "The bytes, base64; absent at end of stream."),
	R("totalBytes", PROTO_T_INT, REQ, "Bytes delivered by tcp.data so far, this chunk included."),
	R("truncated", PROTO_T_BOOL, OPT, "At end of stream on TLS: true when the peer closed "
	  "without close_notify."),
	END
};
const struct proto_field proto_note_error[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	R("code", PROTO_T_INT, REQ, "Error code (-32011 for network errors)."),
	R("message", PROTO_T_STRING, REQ, "Readable sentence."),
	R("errno", PROTO_T_INT, OPT, "System errno."),
	R("errname", PROTO_T_STRING, OPT, "errno name, e.g. ECONNRESET."), END
};
const struct proto_field proto_note_closed[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	R("reason", PROTO_T_STRING, REQ, "timeout, shutdown (the daemon stops), limit, admin (closed "
	  "by root or the daemon's uid), channel (the data channel ended both ways) or linger "
	  "(linger-ms ran out on a graceful close) or upgrade (a live upgrade could not carry it)."),
	R("undeliveredBytes", PROTO_T_INT, OPT, "linger, shutdown: bytes accepted for writing that "
	  "never left this host (the last ones written)."),
	R("unacknowledgedBytes", PROTO_T_INT, OPT, "linger, shutdown: bytes sent but not "
	  "acknowledged by the peer when the connection was reset."),
	R("truncated", PROTO_T_BOOL, OPT, "channel, on TLS: true when the peer closed without "
	  "close_notify."), END
};
static const struct proto_field note_lost_item[] = {
	R("socket", PROTO_T_SOCKET, REQ, "Socket id."),
	R("state", PROTO_T_STRING, REQ, "Its state now: connected or listening (it came back), "
	  "lost (it did not: not yet connected, closing, or not in systemd's fd store)."),
	R("unwrittenBytes", PROTO_T_INT, REQ, "Bytes the daemon had accepted for writing (tcp.write) "
	  "that had not reached the kernel: the peer never gets them."),
	R("undeliveredBytes", PROTO_T_INT, REQ, "Bytes the daemon had read from the peer that had "
	  "not been written to this connection: this client never gets them."),
	R("pendingRequests", PROTO_T_INT, REQ, "Requests on this socket that were in flight; each "
	  "was answered with -32800, data.reason \"restart\", just before this notification."),
	R("channelLost", PROTO_T_BOOL, OPT, "true: the socket had a data channel; its relay is gone "
	  "(the channel's fd sees EOF) and the socket is back in JSON mode."), END
};
static const struct proto_field note_lost[] = {
	RS("item", PROTO_T_OBJECT, REQ, note_lost_item, "What one socket lost."), END
};
const struct proto_field proto_note_restarted[] = {
	R("generation", PROTO_T_INT, REQ, "The daemon's generation now: 1 at a fresh start, one more "
	  "per upgrade or recovery."),
	R("reason", PROTO_T_STRING, REQ, "upgrade (daemon.upgrade, SIGUSR2) or recovery (after a "
	  "crash, from systemd's fd store); the other fields come only with recovery."),
	R("oldVersion", PROTO_T_STRING, REQ, "The version of the daemon before the restart."),
	R("newVersion", PROTO_T_STRING, REQ, "The version now."),
	RS("lost", PROTO_T_ARRAY, OPT, note_lost, "recovery: every socket of this client the crash "
	  "touched, with what it lost."),
	R("lostRequests", PROTO_T_INT, OPT, "recovery: requests in flight that were answered with "
	  "-32800 (reason restart), plus unrecordedRequests."),
	R("unrecordedRequests", PROTO_T_INT, OPT, "recovery: requests in flight whose ids the ledger "
	  "could not hold (full, or an id over 96 bytes): never answered."),
	R("lostInputBytes", PROTO_T_INT, OPT, "recovery: bytes of requests the daemon had read but "
	  "not yet dispatched: those requests are never answered."),
	R("outputCut", PROTO_T_BOOL, OPT, "recovery: true when the crash cut a line to this client; "
	  "a newline ends it (the client sees one line that does not parse)."), END
};
const struct proto_field proto_note_monitor[] = {
	R("time", PROTO_T_INT, REQ, "Milliseconds since the Unix epoch."),
	R("event", PROTO_T_STRING, REQ, "client.connect, client.disconnect, create, connect, state, "
	  "accept, read, write, error, close, closed, denied, tls or monitor.dropped."),
	R("client", PROTO_T_INT, REQ, "Client number (0: a socket lingering without owner)."),
	R("pid", PROTO_T_INT, OPT, "Client process id."),
	R("uid", PROTO_T_INT, OPT, "Client user id."),
	R("socket", PROTO_T_SOCKET, OPT, "Socket id, for socket events."),
	R("bytes", PROTO_T_INT, OPT, "read, write: bytes moved."),
	R("from", PROTO_T_STRING, OPT, "state: the old state."),
	R("to", PROTO_T_STRING, OPT, "state: the new state."),
	R("local", PROTO_T_ENDPOINT, OPT, "state, accept: local endpoint when known."),
	R("remote", PROTO_T_ENDPOINT, OPT, "state, accept: remote endpoint when known."),
	R("host", PROTO_T_STRING, OPT, "connect: host asked for."),
	R("port", PROTO_T_INT, OPT, "connect: port asked for."),
	R("inbound", PROTO_T_SOCKET, OPT, "accept: the new socket."),
	R("errno", PROTO_T_INT, OPT, "error: system errno."),
	R("errname", PROTO_T_STRING, OPT, "error: errno name."),
	R("action", PROTO_T_STRING, OPT, "denied: connect, listen or accept."),
	R("address", PROTO_T_ENDPOINT, OPT, "denied: the endpoint refused."),
	R("rule", PROTO_T_STRING, OPT, "denied: the policy rule that decided."),
	R("reason", PROTO_T_STRING, OPT, "close (client or admin), client.disconnect, "
	  "monitor.dropped: why."),
	R("message", PROTO_T_STRING, OPT, "error: readable sentence."),
	R("abort", PROTO_T_BOOL, OPT, "close: a reset rather than a graceful close."),
	R("backlogBytes", PROTO_T_INT, OPT, "monitor.dropped: output the monitor had not read."),
	R("reset", PROTO_T_BOOL, OPT, "closed: the connection ended with a reset."),
	R("undeliveredBytes", PROTO_T_INT, OPT, "closed: bytes accepted for writing that never "
	  "left this host."),
	R("unacknowledgedBytes", PROTO_T_INT, OPT, "closed: bytes sent but not acknowledged by "
	  "the peer at the reset."),
	RS("tcpInfo", PROTO_T_OBJECT, OPT, proto_res_kinfo, "state (to connected or closing): "
	   "the kernel's view, as in tcp.info."),
	R("version", PROTO_T_STRING, OPT, "tls: the version agreed."),
	R("cipher", PROTO_T_STRING, OPT, "tls: the cipher suite agreed."),
	R("alpn", PROTO_T_STRING, OPT, "tls: the protocol agreed by ALPN, when one was."),
	R("resumed", PROTO_T_BOOL, OPT, "tls: the session was resumed."),
	R("verified", PROTO_T_BOOL, OPT, "tls: the peer's certificate was verified."),
	R("truncated", PROTO_T_BOOL, OPT, "tls: the peer ended without close_notify."),
	END
};
