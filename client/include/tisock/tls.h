/*
 * tisock/tls.h: libtisock's TLS (0.3), part of <tisock/tisock.h>, which
 * includes it; including it alone includes the rest.
 */
#ifndef TISOCK_TLS_H
#define TISOCK_TLS_H

#include <tisock/tisock.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The daemon speaks TLS on the wire for its clients; the library and the
 * data channel carry plaintext.  A connection is made TLS before connect
 * (tisock_tcp_set_tls), upgraded once connected (tisock_tcp_start_tls),
 * or accepted as TLS from a listener given a certificate and key
 * (tisock_tcp_set_tls_server).  Every option struct is read at the call
 * and copied; zero-filled means the daemon's defaults, which are the
 * safe ones: the peer's chain checked against the system's trust store,
 * its name checked against server_name (or the host), SNI sent, TLS 1.2
 * or later.
 */

/* tisock_tls_options.flags and tisock_tls_server_options.flags. */
#define TISOCK_TLS_NO_VERIFY		(1u << 0)	/* verify false: no chain or name check */
#define TISOCK_TLS_SESSION_REUSE	(1u << 1)	/* sessionReuse true */
#define TISOCK_TLS_NO_SESSION_REUSE	(1u << 2)	/* sessionReuse false */
#define TISOCK_TLS_REQUEST_CLIENT_CERT	(1u << 3)	/* server: requestClientCertificate */

/* Lowest protocol version a client accepts (tisock_tls_options.min_version). */
enum tisock_tls_version {
	TISOCK_TLS_VERSION_DEFAULT = 0,	/* the daemon's: 1.2 */
	TISOCK_TLS_VERSION_1_2 = 12,
	TISOCK_TLS_VERSION_1_3 = 13,
};

/* The JSON-RPC code of a failed TLS handshake (tisock_error.code). */
#define TISOCK_ERROR_TLS		(-32012)

/* TLS as a client (tcp.connect's and tcp.startTls's tls). */
struct tisock_tls_options {
	const char		*server_name;	/* SNI and the name checked; NULL: the host */
	const char		*ca_pem;	/* CAs to trust, PEM text; NULL: the system's */
	const char *const	*alpn;		/* protocols offered, NULL-terminated; NULL: none */
	int			 min_version;	/* enum tisock_tls_version */
	unsigned		 flags;		/* TISOCK_TLS_NO_VERIFY, _SESSION_REUSE, ... */
};

/* TLS as a server (tcp.listen's tls): every accepted socket speaks it. */
struct tisock_tls_server_options {
	const char		*certificate_pem;	/* the chain, leaf first; required */
	const char		*key_pem;		/* its private key; required */
	const char		*ca_pem;	/* CAs client certificates are checked against */
	const char *const	*alpn;		/* protocols accepted, by preference; NULL: none */
	int			 min_version;	/* enum tisock_tls_version */
	unsigned		 flags;		/* TISOCK_TLS_REQUEST_CLIENT_CERT: mutual TLS */
};

/* A peer's certificate, as the daemon described it. */
struct tisock_tls_certificate {
	const char		*subject;	/* "CN=example.com,O=..." */
	const char		*issuer;
	const char *const	*subject_alt_names;	/* NULL-terminated ("DNS:...", "IP:...") */
	size_t			 n_subject_alt_names;
	const char		*not_before;	/* "YYYY-MM-DDTHH:MM:SSZ" */
	const char		*not_after;
	const char		*sha256;	/* of the DER certificate, 64 lowercase hex digits */
};

/* What was negotiated (connect, accept or start_tls answers). */
struct tisock_tls_info {
	const char		*version;	/* "TLSv1.3" */
	const char		*cipher;	/* "TLS_AES_256_GCM_SHA384" */
	const char		*alpn;		/* the protocol agreed, NULL: none */
	int			 resumed;	/* 1: an earlier session was resumed */
	int			 verified;	/* 1: the peer's chain (and name) checked out */
	const struct tisock_tls_certificate *peer_certificate;	/* NULL: the peer sent none */
	int			 truncated;	/* 1: the peer closed without close_notify
						   (set at the end of stream) */
};

/* Why a handshake failed (the data of error -32012). */
struct tisock_tls_error {
	const char		*reason;	/* "certificateExpired", "unknownCa", "selfSigned",
						   "hostnameMismatch", "protocolVersion",
						   "noSharedCipher", "handshakeTimeout",
						   "clientCertificateRequired", "peerClosed", ... */
	long			 verify_error;	/* the X.509 verification code, 0: none */
	const char		*verify_error_text;	/* its text, NULL: none */
	const char		*alert;		/* the TLS alert sent or received, NULL: none */
};

/*
 * (0.3) The next connect of s speaks TLS with o (NULL: plaintext again).
 * Only before connect (TISOCK_INITIALIZED): -EISCONN after.  0, -EINVAL
 * (an unknown flag or version), -EISCONN or -ENOMEM.
 */
int		 tisock_tcp_set_tls(tisock_tcp *s, const struct tisock_tls_options *o);
/*
 * (0.3) Sockets accepted by s (a listener yet to listen) speak TLS as
 * servers with o's certificate and key (NULL: plaintext again); each
 * completes its handshake before its accepted callback.  The PEM text
 * goes to the daemon in the listen request, never as a file path.  Only
 * before listen.  0, -EINVAL (no certificate or key), -EISCONN, -ENOMEM.
 */
int		 tisock_tcp_set_tls_server(tisock_tcp *s, const struct tisock_tls_server_options *o);
/*
 * (0.3) STARTTLS: upgrades the connected plaintext socket s to TLS as a
 * client with o (NULL: the defaults), typically after reading the
 * server's go-ahead; bytes received before stay in order.  Nothing may be
 * read or written on s meanwhile.  The blocking form waits for the
 * handshake: 0, or -EPROTO when it failed (tisock_tcp_tls_error says
 * why), or -errno.  The callback form returns 0 or -errno at once; cb
 * (may be NULL) runs from dispatch with success and code.
 */
int		 tisock_tcp_start_tls(tisock_tcp *s, const struct tisock_tls_options *o);
int		 tisock_tcp_start_tls_async(tisock_tcp *s, const struct tisock_tls_options *o,
		     tisock_tcp_cb cb);
/*
 * (0.3) The TLS session of s as negotiated, or NULL when s does not
 * speak TLS.  Owned by s: valid until s is freed or starts TLS again.
 */
const struct tisock_tls_info *tisock_tcp_tls(const tisock_tcp *s);
/*
 * (0.3) Why the last handshake of s failed (connect, accept or
 * start_tls ended with -EPROTO and error code TISOCK_ERROR_TLS), or NULL.
 * Owned by s, as tisock_tcp_tls.
 */
const struct tisock_tls_error *tisock_tcp_tls_error(const tisock_tcp *s);

#ifdef __cplusplus
}
#endif

#endif
