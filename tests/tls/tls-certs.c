/*
 * tls-certs: makes the certificates the TLS tests need, into DIR.
 *
 *	tls-certs DIR
 *
 * ca.pem (a test CA), server.pem/server.key (by the CA: CN localhost,
 * SANs DNS:localhost, IP:127.0.0.1, IP:::1), expired.pem/.key (by the
 * CA, expired yesterday), future.pem/.key (by the CA, valid from
 * tomorrow), self.pem/.key (self-signed localhost), other-ca.pem and
 * unknown.pem/.key (localhost by a CA nobody trusts), client.pem/.key
 * (by the CA, CN tisock test client, clientAuth), chain11.pem (11 certificates, past the chain
 * bound).  EC P-256 keys; the OpenSSL API, so that validity can be put
 * in the past.  The one test PKI of the TLS tests (Python, C, shell and
 * the benchmark).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static const char *dir;
static long serial = 1;

static void
die(const char *what)
{
	fprintf(stderr, "tls-certs: %s failed\n", what);
	exit(1);
}

static EVP_PKEY *
new_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (!k)
		die("EVP_EC_gen");
	return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!e || !X509_add_ext(x, e, -1))
		die("extension");
	X509_EXTENSION_free(e);
}

/*
 * A certificate for key named cn, valid from `from` to `to` days from
 * now, signed by issuer/ikey (NULL: self-signed); san and eku may be NULL.
 */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, long from, long to, X509 *issuer, EVP_PKEY *ikey,
	  bool ca, const char *san, const char *eku)
{
	X509 *x = X509_new();
	X509_NAME *n;

	if (!x)
		die("X509_new");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), from * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), to * 86400);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"tisock test",
				   -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	add_ext(x, issuer ? issuer : x, NID_basic_constraints, ca ? "critical,CA:TRUE" :
		"CA:FALSE");
	add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	if (ca)
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	else
		add_ext(x, issuer ? issuer : x, NID_authority_key_identifier, "keyid");
	if (san)
		add_ext(x, issuer ? issuer : x, NID_subject_alt_name, san);
	if (eku)
		add_ext(x, issuer ? issuer : x, NID_ext_key_usage, eku);
	if (!X509_sign(x, ikey ? ikey : key, EVP_sha256()))
		die("X509_sign");
	return x;
}

static void
save(const char *name, X509 *x, EVP_PKEY *key, bool append)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	f = fopen(path, append ? "a" : "w");
	if (!f || !PEM_write_X509(f, x))
		die(path);
	fclose(f);
	if (!key)
		return;
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	f = fopen(path, "w");
	if (!f || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		die(path);
	fclose(f);
}

/* A leaf named cn (for localhost) signed by ca/cakey, valid from..to days, saved as name. */
static void
leaf(const char *name, const char *cn, long from, long to, X509 *ca, EVP_PKEY *cakey,
     const char *eku)
{
	EVP_PKEY *k = new_key();
	X509 *x = make_cert(k, cn, from, to, ca, cakey, false,
			    "DNS:localhost,IP:127.0.0.1,IP:::1", eku);

	save(name, x, k, false);
	X509_free(x);
	EVP_PKEY_free(k);
}

int
main(int argc, char **argv)
{
	EVP_PKEY *cakey, *okey;
	X509 *ca, *oca;

	if (argc != 2) {
		fprintf(stderr, "usage: tls-certs DIR\n");
		return 2;
	}
	dir = argv[1];
	cakey = new_key();
	ca = make_cert(cakey, "tisock test CA", -30, 3650, NULL, NULL, true, NULL, NULL);
	save("ca", ca, cakey, false);
	leaf("server", "localhost", -1, 365, ca, cakey, "serverAuth");
	leaf("expired", "localhost", -30, -1, ca, cakey, "serverAuth");
	leaf("future", "localhost", 1, 365, ca, cakey, "serverAuth");
	leaf("client", "tisock test client", -1, 365, ca, cakey, "clientAuth");
	okey = new_key();
	oca = make_cert(okey, "tisock other CA", -30, 3650, NULL, NULL, true, NULL, NULL);
	save("other-ca", oca, okey, false);
	leaf("unknown", "localhost", -1, 365, oca, okey, "serverAuth");
	{
		EVP_PKEY *k = new_key();
		X509 *x = make_cert(k, "localhost", -1, 365, NULL, NULL, false,
				    "DNS:localhost,IP:127.0.0.1", "serverAuth");

		save("self", x, k, false);
		for (int i = 0; i < 10; i++)
			save("chain11", x, NULL, i > 0);
		save("chain11", ca, NULL, true);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	X509_free(ca);
	X509_free(oca);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(okey);
	return 0;
}
