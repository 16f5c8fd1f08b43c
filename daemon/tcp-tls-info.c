/*
 * tcp-tls-info: what a TLS handshake agreed on (struct tcp_tls_info,
 * copied out of OpenSSL once, so that answers and tcp.info need no SSL
 * object) and why one failed (struct tcp_tls_failure: our own
 * verification's result first, then OpenSSL's error, then the alerts).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tcp-tls.h"

/* An X509_NAME as RFC 2253 text, malloc'ed; NULL without memory. */
static char *
name_text(const X509_NAME *n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out = NULL;
	long len;

	if (!b)
		return NULL;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
		len = BIO_get_mem_data(b, &p);
		out = malloc((size_t)len + 1);
		if (out) {
			memcpy(out, p, (size_t)len);
			out[len] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

/* An ASN1_TIME as "YYYY-MM-DDTHH:MM:SSZ". */
static void
time_text(const ASN1_TIME *t, char out[24])
{
	struct tm tm;

	out[0] = '\0';
	if (t && ASN1_TIME_to_tm(t, &tm) == 1)
		strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One subject alternative name as "DNS:name", "IP:address", ... or NULL. */
static char *
san_text(const GENERAL_NAME *g)
{
	const char *kind;
	char buf[300];
	int len;
	const unsigned char *d;

	switch (g->type) {
	case GEN_DNS:
		kind = "DNS";
		break;
	case GEN_EMAIL:
		kind = "email";
		break;
	case GEN_URI:
		kind = "URI";
		break;
	case GEN_IPADD: {
		char addr[INET6_ADDRSTRLEN];

		d = ASN1_STRING_get0_data(g->d.iPAddress);
		len = ASN1_STRING_length(g->d.iPAddress);
		if ((len != 4 && len != 16) ||
		    !inet_ntop(len == 4 ? AF_INET : AF_INET6, d, addr, sizeof(addr)))
			return NULL;
		snprintf(buf, sizeof(buf), "IP:%s", addr);
		return strdup(buf);
	}
	default:
		return NULL;
	}
	d = ASN1_STRING_get0_data(g->d.ia5);
	len = ASN1_STRING_length(g->d.ia5);
	if (len < 0 || len > 255 || memchr(d, '\0', (size_t)len))
		return NULL;
	snprintf(buf, sizeof(buf), "%s:%.*s", kind, len, (const char *)d);
	return strdup(buf);
}

/* The subject alternative names of x into info (at most 64). */
static void
fill_sans(struct tcp_tls_info *info, X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int n = gens ? sk_GENERAL_NAME_num(gens) : 0;

	if (n > 64)
		n = 64;
	if (n > 0)
		info->sans = calloc((size_t)n, sizeof(char *));
	for (int i = 0; info->sans && i < n; i++) {
		char *s = san_text(sk_GENERAL_NAME_value(gens, i));

		if (s)
			info->sans[info->nsans++] = s;
	}
	GENERAL_NAMES_free(gens);
}

/* The peer's certificate into info. */
static void
fill_peer(struct tcp_tls_info *info, X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	info->has_peer = true;
	info->subject = name_text(X509_get_subject_name(x));
	info->issuer = name_text(X509_get_issuer_name(x));
	time_text(X509_get0_notBefore(x), info->not_before);
	time_text(X509_get0_notAfter(x), info->not_after);
	if (X509_digest(x, EVP_sha256(), md, &n) == 1)
		for (unsigned int i = 0; i < n && i < 32; i++)
			snprintf(info->sha256 + 2 * i, 3, "%02x", md[i]);
	fill_sans(info, x);
}

/*
 * Copies what ssl's finished handshake agreed on into info; verify: the
 * peer's certificate was checked (a client with verify, a server that
 * requires client certificates).  Returns 0 or -ENOMEM.
 */
int
tcp_tls_info_fill(struct tcp_tls_info *info, void *p, bool verify)
{
	SSL *ssl = p;
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;
	X509 *peer;

	memset(info, 0, sizeof(*info));
	snprintf(info->version, sizeof(info->version), "%s", SSL_get_version(ssl));
	snprintf(info->cipher, sizeof(info->cipher), "%s", SSL_get_cipher_name(ssl));
	SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	if (alpn_len > 0) {
		info->alpn = strndup((const char *)alpn, alpn_len);
		if (!info->alpn)
			return -ENOMEM;
	}
	info->resumed = SSL_session_reused(ssl);
	peer = SSL_get1_peer_certificate(ssl);
	info->verified = verify && peer && SSL_get_verify_result(ssl) == X509_V_OK;
	if (peer) {
		fill_peer(info, peer);
		X509_free(peer);
	}
	return 0;
}

/* Frees what info holds. */
void
tcp_tls_info_clear(struct tcp_tls_info *info)
{
	free(info->alpn);
	free(info->subject);
	free(info->issuer);
	for (int i = 0; i < info->nsans; i++)
		free(info->sans[i]);
	free(info->sans);
	memset(info, 0, sizeof(*info));
}

/* A certificate verification error's reason. */
static const char *
verify_reason(long v)
{
	switch (v) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "certificateExpired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificateNotYetValid";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "selfSigned";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return "unknownCa";
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
	case X509_V_ERR_EMAIL_MISMATCH:
		return "hostnameMismatch";
	default:
		return "certificateInvalid";
	}
}

/* The reason for OpenSSL's error reason code r (library SSL), or NULL. */
static const char *
lib_reason(int r)
{
	switch (r) {
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
	case SSL_R_UNKNOWN_PROTOCOL:
		return "protocolVersion";
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_CIPHERS_AVAILABLE:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
	case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
		return "noSharedCipher";
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
		return "clientCertificateRequired";
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		return "peerClosed";
	default:
		return NULL;
	}
}

/*
 * Why ssl's handshake failed, into f: ssl_err is SSL_get_error()'s
 * answer, lib_err the first OpenSSL error queued, sys_errno errno for a
 * system call's failure, alert_in and alert_out the fatal alerts
 * received and sent (-1: none).  The strings are static.
 */
void
tcp_tls_failure_of(struct tcp_tls_failure *f, void *p, int ssl_err, unsigned long lib_err,
		   int sys_errno, int alert_in, int alert_out)
{
	SSL *ssl = p;
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	int alert = alert_in >= 0 ? alert_in : alert_out;
	const char *r = NULL;

	*f = (struct tcp_tls_failure){ .reason = "other" };
	if (alert >= 0)
		f->alert = SSL_alert_desc_string_long(alert);
	if (v != X509_V_OK && ERR_GET_REASON(lib_err) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
		f->verify_error = v;
		f->verify_text = X509_verify_cert_error_string(v);
		f->reason = verify_reason(v);
		return;
	}
	if (lib_err && ERR_GET_LIB(lib_err) == ERR_LIB_SSL)
		r = lib_reason(ERR_GET_REASON(lib_err));
	if (!r && alert_in >= 0) {
		switch (alert_in) {
		case SSL_AD_PROTOCOL_VERSION:
			r = "protocolVersion";
			break;
		case SSL_AD_CERTIFICATE_REQUIRED:
			r = "clientCertificateRequired";
			break;
		case SSL_AD_UNKNOWN_CA:
			r = "unknownCa";
			break;
		case SSL_AD_CERTIFICATE_EXPIRED:
			r = "certificateExpired";
			break;
		case SSL_AD_INSUFFICIENT_SECURITY:
			r = "noSharedCipher";
			break;
		default:
			r = "alert";
			break;
		}
	}
	if (!r && ssl_err == SSL_ERROR_SYSCALL) {
		r = "peerClosed";
		f->sys_errno = sys_errno;
	}
	if (r)
		f->reason = r;
}
