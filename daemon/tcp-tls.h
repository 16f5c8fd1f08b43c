/*
 * tcp-tls: TLS over a socket's connection (OpenSSL 3), for the engine.
 *
 * A socket with TLS holds a struct tcp_tls (t->tls): the SSL object on
 * its fd while the connection is open, what the handshake agreed (for
 * answers and tcp.info) and how the peer ended.  Handshakes are
 * non-blocking, driven by SSL_ERROR_WANT_READ/WRITE through a watcher of
 * their own and bounded by a timer; an inbound one runs before its socket
 * exists (tcp-tls-accept.c).  Once open, the engine moves bytes with
 * tcp_conn_recv() and tcp_conn_send() where it would recv() and send().
 *
 * Options come checked from the layer above as a struct tcp_tls_config
 * (tcp-tls-ctx.c), which parses PEM text into memory and never keeps it.
 */
#ifndef TISOCK_TCP_TLS_H
#define TISOCK_TCP_TLS_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "proto-methods.h"

struct tcp;
struct tcp_engine;
struct tcp_op;
struct tcp_tls;
struct tcp_tls_config;

#define TCP_TLS_CHAIN_MAX	10	/* certificates in a chain, and verify depth */
#define TCP_TLS_INBOUND_MAX	32	/* inbound handshakes at once per listener */

/* What a finished handshake agreed, kept for answers and tcp.info. */
struct tcp_tls_info {
	char		 version[16];	/* "TLSv1.3" */
	char		 cipher[64];
	char		*alpn;		/* NULL: none agreed */
	bool		 resumed, verified;
	bool		 has_peer;	/* the peer sent a certificate: */
	char		*subject, *issuer;	/* RFC 2253 */
	char		**sans;		/* "DNS:name", "IP:address", ... */
	int		 nsans;
	char		 not_before[24], not_after[24];	/* "2026-12-05T06:00:00Z" */
	char		 sha256[65];	/* of the DER certificate, lowercase hex */
};

/* Why a handshake failed (the -32012 answer's data). */
struct tcp_tls_failure {
	const char	*reason;	/* certificateExpired, unknownCa, ... */
	long		 verify_error;	/* X509_V_ERR_*, 0: none */
	const char	*verify_text;	/* its text, NULL: none */
	const char	*alert;		/* TLS alert received or sent, NULL: none */
	int		 sys_errno;	/* peerClosed by a reset: its errno */
};

/* A handshake ended: f is NULL when it succeeded. */
typedef void (*tcp_tls_done_fn)(void *arg, const struct tcp_tls_failure *f);

/* tcp-tls-ctx.c: options, contexts, the session cache */
int	 tcp_tls_config_client(struct tcp_tls_config **cfg, const struct proto_tls_args *a,
	     const char **param, const char **reason);
int	 tcp_tls_config_server(struct tcp_tls_config **cfg, const struct proto_tls_args *a,
	     const char **param, const char **reason);
struct tcp_tls_config *tcp_tls_config_free(struct tcp_tls_config *cfg);
bool	 tcp_tls_config_insecure(const struct tcp_tls_config *cfg);
bool	 tcp_tls_config_verifies(const struct tcp_tls_config *cfg);
void	*tcp_tls_new_ssl(struct tcp_engine *eng, const struct tcp_tls_config *cfg,
	     const char *host, int port);
void	 tcp_tls_ssl_free(void *ssl);
void	 tcp_tls_engine_done(struct tcp_engine *eng);

/* tcp-tls-info.c: what the handshake agreed, or why it failed */
int	 tcp_tls_info_fill(struct tcp_tls_info *info, void *ssl, bool verify);
void	 tcp_tls_info_clear(struct tcp_tls_info *info);
void	 tcp_tls_failure_of(struct tcp_tls_failure *f, void *ssl, int ssl_err,
	     unsigned long lib_err, int sys_errno, int alert_in, int alert_out);

/* tcp-tls.c: a TLS connection on an fd, and the socket's use of it */
struct tcp_tls	*tcp_tls_new(struct ev_loop *loop, void *ssl, int fd, bool verify);
struct tcp_tls	*tcp_tls_free(struct tcp_tls *tls);
void	 tcp_tls_handshake(struct tcp_tls *tls, int64_t timeout_ms, tcp_tls_done_fn done,
	     void *arg);
void	 tcp_tls_set_fd(struct tcp_tls *tls, int fd);
int	 tcp_tls_start(struct tcp *t, struct tcp_tls_config *cfg, int64_t timeout_ms,
	     tcp_tls_done_fn done);
void	 tcp_tls_timed_out(struct tcp *t);
const char *tcp_tls_start_busy(const struct tcp *t);
void	 tcp_start_tls(struct tcp *t, struct tcp_op *op);
bool	 tcp_tls_handshaking(const struct tcp *t);
bool	 tcp_tls_pending(const struct tcp *t);
void	 tcp_tls_close(struct tcp *t, bool reset);
const struct tcp_tls_info *tcp_tls_info(const struct tcp *t);
bool	 tcp_tls_truncated(const struct tcp *t);
bool	 tcp_tls_read_wants_write(struct tcp *t, bool clear);
bool	 tcp_tls_write_blocked(const struct tcp *t);

/* The plaintext of t's connection, TLS or not: recv()/send() semantics, -errno. */
ssize_t	 tcp_conn_recv(struct tcp *t, char *buf, size_t len);
ssize_t	 tcp_conn_send(struct tcp *t, const char *buf, size_t len);
int	 tcp_conn_shutdown_wr(struct tcp *t);

/* tcp-tls-accept.c: inbound handshakes of a TLS listener */
void	 tcp_tls_accept(struct tcp *listener, int fd, const struct sockaddr_storage *ss);
bool	 tcp_tls_accept_ready(struct tcp *listener);
bool	 tcp_tls_accept_room(const struct tcp *listener);
void	 tcp_tls_accept_drop(struct tcp *listener);

#endif
