/*
 * tcp-tls-ctx: TLS options, OpenSSL contexts and the session cache.
 *
 * A client config holds what tcp.connect's tls asked for, checked: the
 * server name, verification, the trust anchors of caPem parsed into an
 * X509_STORE, ALPN in wire form, the oldest version.  Every client
 * connection is made from one SSL_CTX of the engine (the system trust
 * store, loaded once) with these set on its SSL object.  A server config
 * is an SSL_CTX of its own, made from the listener's PEM text.  PEM text
 * is parsed from memory and not kept: only OpenSSL's objects remain,
 * freed with the config.
 *
 * Sessions of client connections are kept in one cache per engine, keyed
 * by host, port, server name, verify and the SHA-256 of caPem (all of it:
 * a session made with one set of trust anchors is never offered under
 * another, whose verification it would skip), at most
 * TLS_SESSIONS of them (the oldest dropped first).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tcp.h"
#include "tcp-addr.h"
#include "tcp-tls.h"

#define TLS_SESSIONS	1024	/* client sessions kept per engine */

struct tcp_tls_config {
	bool		 server;
	/* client */
	char		*server_name;	/* NULL: the host */
	bool		 verify, session_reuse;
	X509_STORE	*store;		/* caPem, NULL: the system's */
	char		 ca_hash[65];	/* hex of caPem's SHA-256, "" without */
	unsigned char	*alpn;		/* wire form, NULL: none */
	unsigned int	 alpn_len;
	int		 min_version;	/* TLS1_2_VERSION or TLS1_3_VERSION */
	/* server */
	SSL_CTX		*ctx;
};

/* One kept session. */
struct tls_session {
	struct tls_session	*next;
	char			*key;
	SSL_SESSION		*sess;
};

/* What the engine keeps for TLS: the client context and the sessions. */
struct tcp_tls_engine {
	SSL_CTX			*client_ctx;
	struct tls_session	*sessions;	/* newest first */
	int			 nsessions;
};

static int tls_key_index = -1;	/* SSL ex_data: the session key of a client SSL */

/* A passphrase callback that gives none: an encrypted key fails, nothing prompts. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

static int
parse_min_version(const struct proto_str *s, int *v)
{
	if (!s->s || strcmp(s->s, "1.2") == 0)
		*v = TLS1_2_VERSION;
	else if (strcmp(s->s, "1.3") == 0)
		*v = TLS1_3_VERSION;
	else
		return -EINVAL;
	return 0;
}

/* ALPN names as the wire wants them: each prefixed by its length. */
static int
alpn_wire(const cJSON *list, unsigned char **out, unsigned int *len)
{
	const cJSON *e;
	size_t n = 0, off = 0;
	unsigned char *p;

	*out = NULL;
	*len = 0;
	if (!list)
		return 0;
	cJSON_ArrayForEach(e, list)
		n += 1 + strlen(e->valuestring);
	p = malloc(n);
	if (!p)
		return -ENOMEM;
	cJSON_ArrayForEach(e, list) {
		size_t k = strlen(e->valuestring);

		p[off++] = (unsigned char)k;
		memcpy(p + off, e->valuestring, k);
		off += k;
	}
	*out = p;
	*len = (unsigned int)n;
	return 0;
}

/*
 * Reads every certificate of PEM text s into a new stack, at most max.
 * Returns 0, -EINVAL (*reason: pem, chain) or -ENOMEM.
 */
static int
read_certs(const struct proto_str *s, int max, STACK_OF(X509) **out, const char **reason)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_mem_buf(s->s, (int)s->len);
	X509 *x;
	int r = 0;

	if (!sk || !b) {
		r = -ENOMEM;
		goto out;
	}
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL))) {
		if (sk_X509_num(sk) >= max) {
			X509_free(x);
			*reason = "chain";
			r = -EINVAL;
			goto out;
		}
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			r = -ENOMEM;
			goto out;
		}
	}
	/* The loop ends at the end of the text (PEM_R_NO_START_LINE) or at bad PEM. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE || sk_X509_num(sk) == 0) {
		*reason = "pem";
		r = -EINVAL;
	}
out:
	ERR_clear_error();
	BIO_free(b);
	if (r < 0) {
		sk_X509_pop_free(sk, X509_free);
		sk = NULL;
	}
	*out = sk;
	return r;
}

/* An X509_STORE of caPem's certificates.  Returns 0, -EINVAL (*reason) or -ENOMEM. */
static int
read_store(const struct proto_str *s, X509_STORE **out, const char **reason)
{
	STACK_OF(X509) *sk;
	X509_STORE *st;
	int r = read_certs(s, 256, &sk, reason);

	*out = NULL;
	if (r < 0)
		return r;
	st = X509_STORE_new();
	for (int i = 0; st && i < sk_X509_num(sk); i++)
		if (!X509_STORE_add_cert(st, sk_X509_value(sk, i))) {
			X509_STORE_free(st);
			st = NULL;
		}
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	if (!st)
		return -ENOMEM;
	*out = st;
	return 0;
}

/* The hex of s's SHA-256 into hex[65]. */
static void
pem_hash(const struct proto_str *s, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	hex[0] = '\0';
	if (!s->s || !EVP_Digest(s->s, s->len, md, &n, EVP_sha256(), NULL))
		return;
	for (unsigned int i = 0; i < n && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static struct tcp_tls_config *
config_new(bool server)
{
	struct tcp_tls_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg)
		cfg->server = server;
	return cfg;
}

/*
 * A client config from tcp.connect's (or tcp.startTls's) tls.  Returns 0;
 * -EINVAL with *param the member and *reason why; or -ENOMEM.
 */
int
tcp_tls_config_client(struct tcp_tls_config **out, const struct proto_tls_args *a,
		      const char **param, const char **reason)
{
	struct tcp_tls_config *cfg = config_new(false);
	int r;

	*out = NULL;
	if (!cfg)
		return -ENOMEM;
	cfg->verify = a->verify != 0;
	cfg->session_reuse = a->session_reuse != 0;
	if (parse_min_version(&a->min_version, &cfg->min_version) < 0) {
		*param = "tls.minVersion";
		*reason = "range";
		r = -EINVAL;
		goto fail;
	}
	if (a->server_name.s && a->server_name.len == 0) {
		*param = "tls.serverName";
		*reason = "range";
		r = -EINVAL;
		goto fail;
	}
	if (a->server_name.s && !(cfg->server_name = strdup(a->server_name.s))) {
		r = -ENOMEM;
		goto fail;
	}
	if (a->ca_pem.s) {
		*param = "tls.caPem";
		if ((r = read_store(&a->ca_pem, &cfg->store, reason)) < 0)
			goto fail;
		pem_hash(&a->ca_pem, cfg->ca_hash);
	}
	if ((r = alpn_wire(a->alpn, &cfg->alpn, &cfg->alpn_len)) < 0)
		goto fail;
	*out = cfg;
	return 0;
fail:
	tcp_tls_config_free(cfg);
	return r;
}

/* Server side ALPN: the first of our protocols the client offers. */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
	    unsigned int inlen, void *arg)
{
	struct tcp_tls_config *cfg = arg;
	unsigned char *sel;

	(void)ssl;
	if (SSL_select_next_proto(&sel, outlen, cfg->alpn, cfg->alpn_len, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/*
 * The DER of the first "-----BEGIN ...PRIVATE KEY-----" block of PEM
 * text s, decoded here rather than by OpenSSL's PEM reader, whose base64
 * context keeps up to 80 characters of the text when it is freed.  A
 * block with headers (an encrypted traditional key) is refused.  *der
 * (wipe, then free) and *len.  Returns 0, -EINVAL or -ENOMEM.
 */
static int
key_der(const struct proto_str *s, unsigned char **der, size_t *len)
{
	const char *p = s->s, *end = s->s + s->len, *b, *e, *body;
	unsigned char *b64;
	size_t n = 0;
	int k, pad = 0, r = -EINVAL;

	*der = NULL;
	*len = 0;
	for (;;) {
		if (!(b = memmem(p, (size_t)(end - p), "-----BEGIN ", 11)) ||
		    !(e = memmem(b + 11, (size_t)(end - b - 11), "-----", 5)))
			return -EINVAL;
		if (e - b - 11 >= 11 && memcmp(e - 11, "PRIVATE KEY", 11) == 0)
			break;
		p = e + 5;
	}
	body = e + 5;
	if (!(e = memmem(body, (size_t)(end - body), "-----END ", 9)))
		return -EINVAL;
	if (!(b64 = malloc((size_t)(e - body) + 1)))
		return -ENOMEM;
	for (p = body; p < e; p++) {
		if (*p == ':')
			goto out;	/* a header: Proc-Type, DEK-Info */
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			b64[n++] = (unsigned char)*p;
	}
	if (n == 0 || n % 4 != 0)
		goto out;
	pad = (b64[n - 1] == '=') + (b64[n - 2] == '=');
	r = -ENOMEM;
	if (!(*der = malloc(n / 4 * 3)))
		goto out;
	r = -EINVAL;
	k = EVP_DecodeBlock(*der, b64, (int)n);
	if (k < pad) {
		free(*der);
		*der = NULL;
		goto out;
	}
	*len = (size_t)(k - pad);
	r = 0;
out:
	explicit_bzero(b64, n);
	free(b64);
	return r;
}

/* The private key of PEM text s into *key, its text and DER wiped.  0, -EINVAL or -ENOMEM. */
static int
read_key(const struct proto_str *s, EVP_PKEY **key)
{
	unsigned char *der;
	const unsigned char *p;
	size_t len;
	int r = key_der(s, &der, &len);

	*key = NULL;
	if (r < 0)
		return r;
	p = der;
	*key = d2i_AutoPrivateKey(NULL, &p, (long)len);	/* NULL: encrypted, or bad */
	OPENSSL_cleanse(der, len);
	free(der);
	ERR_clear_error();
	return *key ? 0 : -EINVAL;
}

/* The certificate, chain and key of a server config.  0, -EINVAL or -ENOMEM. */
static int
server_keys(struct tcp_tls_config *cfg, const struct proto_tls_args *a, const char **param,
	    const char **reason)
{
	STACK_OF(X509) *sk = NULL;
	EVP_PKEY *key = NULL;
	int r;

	*param = "tls.certificatePem";
	if (!a->certificate_pem.s) {
		*reason = "missing";
		return -EINVAL;
	}
	if ((r = read_certs(&a->certificate_pem, TCP_TLS_CHAIN_MAX, &sk, reason)) < 0)
		return r;
	*param = "tls.keyPem";
	r = -EINVAL;
	*reason = "missing";
	if (!a->key_pem.s)
		goto out;
	*reason = "pem";
	if ((r = read_key(&a->key_pem, &key)) < 0)
		goto out;
	r = -EINVAL;
	if (SSL_CTX_use_certificate(cfg->ctx, sk_X509_value(sk, 0)) != 1)
		goto out;
	for (int i = 1; i < sk_X509_num(sk); i++)
		if (SSL_CTX_add1_chain_cert(cfg->ctx, sk_X509_value(sk, i)) != 1)
			goto out;
	*reason = "mismatch";
	if (SSL_CTX_use_PrivateKey(cfg->ctx, key) != 1 || SSL_CTX_check_private_key(cfg->ctx) != 1)
		goto out;
	r = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	sk_X509_pop_free(sk, X509_free);
	return r;
}

/*
 * A server config (its own SSL_CTX) from tcp.listen's tls.  Returns 0;
 * -EINVAL with *param and *reason; or -ENOMEM.
 */
int
tcp_tls_config_server(struct tcp_tls_config **out, const struct proto_tls_args *a,
		      const char **param, const char **reason)
{
	struct tcp_tls_config *cfg = config_new(true);
	int r = -ENOMEM;

	*out = NULL;
	if (!cfg)
		return -ENOMEM;
	if (parse_min_version(&a->min_version, &cfg->min_version) < 0) {
		*param = "tls.minVersion";
		*reason = "range";
		r = -EINVAL;
		goto fail;
	}
	cfg->ctx = SSL_CTX_new(TLS_server_method());
	if (!cfg->ctx)
		goto fail;
	SSL_CTX_set_min_proto_version(cfg->ctx, cfg->min_version);
	SSL_CTX_set_options(cfg->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(cfg->ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(cfg->ctx, SSL_SESS_CACHE_SERVER);
	/*
	 * Sessions are the listener's own (its context's cache and ticket
	 * keys); OpenSSL refuses to resume any with client certificates
	 * required unless they carry a context.
	 */
	if (SSL_CTX_set_session_id_context(cfg->ctx, (const unsigned char *)"tisockd", 7) != 1)
		goto fail;
	if ((r = server_keys(cfg, a, param, reason)) < 0)
		goto fail;
	if (a->ca_pem.s) {
		X509_STORE *st;

		*param = "tls.caPem";
		if ((r = read_store(&a->ca_pem, &st, reason)) < 0)
			goto fail;
		SSL_CTX_set_cert_store(cfg->ctx, st);
	}
	if (a->request_client_certificate > 0) {
		if (!a->ca_pem.s) {
			*param = "tls.caPem";
			*reason = "missing";
			r = -EINVAL;
			goto fail;
		}
		SSL_CTX_set_verify(cfg->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				   NULL);
		SSL_CTX_set_verify_depth(cfg->ctx, TCP_TLS_CHAIN_MAX);
		cfg->verify = true;
	}
	if ((r = alpn_wire(a->alpn, &cfg->alpn, &cfg->alpn_len)) < 0)
		goto fail;
	if (cfg->alpn)
		SSL_CTX_set_alpn_select_cb(cfg->ctx, alpn_select, cfg);
	*out = cfg;
	return 0;
fail:
	tcp_tls_config_free(cfg);
	return r;
}

/* Frees cfg (NULL is fine).  Returns NULL. */
struct tcp_tls_config *
tcp_tls_config_free(struct tcp_tls_config *cfg)
{
	if (!cfg)
		return NULL;
	free(cfg->server_name);
	X509_STORE_free(cfg->store);
	free(cfg->alpn);
	SSL_CTX_free(cfg->ctx);
	free(cfg);
	return NULL;
}

/* Whether a client config turns verification off. */
bool
tcp_tls_config_insecure(const struct tcp_tls_config *cfg)
{
	return cfg && !cfg->server && !cfg->verify;
}

/* Whether the peer's certificate is checked: a client's verify, a server's client certificates. */
bool
tcp_tls_config_verifies(const struct tcp_tls_config *cfg)
{
	return cfg && cfg->verify;
}

static void
session_free(struct tls_session *s)
{
	SSL_SESSION_free(s->sess);
	free(s->key);
	free(s);
}

/* A new session of a client connection: kept under its key, replacing an older one. */
static int
on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tcp_tls_engine *te = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const char *key = SSL_get_ex_data(ssl, tls_key_index);
	struct tls_session *s, **pp;

	if (!te || !key)
		return 0;
	for (pp = &te->sessions; (s = *pp); pp = &s->next)
		if (strcmp(s->key, key) == 0) {
			*pp = s->next;
			session_free(s);
			te->nsessions--;
			break;
		}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->key = strdup(key))) {
		free(s);
		return 0;
	}
	s->sess = sess;
	s->next = te->sessions;
	te->sessions = s;
	if (++te->nsessions > TLS_SESSIONS) {
		for (pp = &te->sessions; (*pp)->next; pp = &(*pp)->next)
			;
		session_free(*pp);
		*pp = NULL;
		te->nsessions--;
	}
	return 1;	/* the session is ours now */
}

/* The engine's TLS state, made on first use.  NULL without memory. */
static struct tcp_tls_engine *
tls_engine(struct tcp_engine *eng)
{
	struct tcp_tls_engine *te = eng->tls;

	if (te)
		return te;
	if (tls_key_index < 0)
		tls_key_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	te = calloc(1, sizeof(*te));
	if (!te || !(te->client_ctx = SSL_CTX_new(TLS_client_method()))) {
		free(te);
		return NULL;
	}
	SSL_CTX_set_default_verify_paths(te->client_ctx);
	SSL_CTX_set_verify_depth(te->client_ctx, TCP_TLS_CHAIN_MAX);
	SSL_CTX_set_options(te->client_ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(te->client_ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(te->client_ctx, SSL_SESS_CACHE_CLIENT |
				       SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(te->client_ctx, on_new_session);
	SSL_CTX_set_app_data(te->client_ctx, te);
	eng->tls = te;
	return te;
}

/* The engine's TLS state goes (the daemon stops). */
void
tcp_tls_engine_done(struct tcp_engine *eng)
{
	struct tcp_tls_engine *te = eng->tls;
	struct tls_session *s;

	if (!te)
		return;
	while ((s = te->sessions)) {
		te->sessions = s->next;
		session_free(s);
	}
	SSL_CTX_free(te->client_ctx);
	free(te);
	eng->tls = NULL;
}

/* Client side: name checks, SNI, trust, ALPN, version and a kept session on ssl. */
static int
client_setup(struct tcp_tls_engine *te, SSL *ssl, const struct tcp_tls_config *cfg,
	     const char *host, int port)
{
	const char *name = cfg->server_name ? cfg->server_name : host;
	struct sockaddr_storage ss;
	bool ip = tcp_addr_parse(name, 0, &ss) == 0;
	char key[600];

	SSL_set_min_proto_version(ssl, cfg->min_version);
	if (cfg->verify) {
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1
		       : SSL_set1_host(ssl, name) != 1)
			return -EINVAL;
	} else {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	}
	if (!ip && SSL_set_tlsext_host_name(ssl, name) != 1)
		return -EINVAL;
	if (cfg->store && SSL_set1_verify_cert_store(ssl, cfg->store) != 1)
		return -ENOMEM;
	if (cfg->alpn && SSL_set_alpn_protos(ssl, cfg->alpn, cfg->alpn_len) != 0)
		return -ENOMEM;
	if (snprintf(key, sizeof(key), "%s|%d|%s|%d|%s", host, port, name, cfg->verify,
		     cfg->ca_hash) >= (int)sizeof(key))
		return 0;	/* a key cut short could be another's: no session kept */
	if (cfg->session_reuse) {
		char *k = strdup(key);

		if (!k || !SSL_set_ex_data(ssl, tls_key_index, k)) {
			free(k);
			return -ENOMEM;
		}
		for (struct tls_session *s = te->sessions; s; s = s->next)
			if (strcmp(s->key, key) == 0) {
				if (SSL_SESSION_is_resumable(s->sess))
					SSL_set_session(ssl, s->sess);
				break;
			}
	}
	return 0;
}

/*
 * A new SSL object for cfg: a server's from its context, a client's from
 * the engine's, set up to reach host:port.  NULL without memory (or for
 * a name OpenSSL refuses).
 */
void *
tcp_tls_new_ssl(struct tcp_engine *eng, const struct tcp_tls_config *cfg, const char *host,
		int port)
{
	struct tcp_tls_engine *te;
	SSL *ssl;

	if (cfg->server) {
		ssl = SSL_new(cfg->ctx);
		if (ssl)
			SSL_set_accept_state(ssl);
		return ssl;
	}
	te = tls_engine(eng);
	if (!te || !(ssl = SSL_new(te->client_ctx)))
		return NULL;
	SSL_set_connect_state(ssl);
	if (client_setup(te, ssl, cfg, host, port) < 0) {
		tcp_tls_ssl_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	return ssl;
}

/* Frees an SSL object of tcp_tls_new_ssl() and what it holds of ours (NULL is fine). */
void
tcp_tls_ssl_free(void *p)
{
	SSL *ssl = p;

	if (!ssl)
		return;
	if (tls_key_index >= 0) {
		free(SSL_get_ex_data(ssl, tls_key_index));
		SSL_set_ex_data(ssl, tls_key_index, NULL);
	}
	SSL_free(ssl);
}
