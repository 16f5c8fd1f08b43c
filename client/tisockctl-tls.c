/*
 * tisockctl-tls: connect --tls and listen --tls, with openssl s_client's
 * habits: --servername, --cafile, --insecure, --alpn; --cert and --key
 * for a listener.  Files are read here and their PEM text goes to the
 * daemon in the request: the daemon never opens a path with its own
 * rights.  The negotiated session is summed up on stderr (a JSON line
 * with --json), and a failed handshake says why.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tisockctl.h"

#define PEM_FILE_MAX	(1u << 20)	/* bytes read from a PEM file */
#define ALPN_MAX	16		/* protocols in --alpn */

/* The options that want --tls, and those of the other side. */
int
ctl_tls_check(const struct opts *o, bool server)
{
	const char *client_only = o->servername ? "--servername" :
				  o->insecure ? "--insecure" : NULL;
	const char *server_only = o->cert ? "--cert" : o->key ? "--key" :
				  o->require_cert ? "--require-client-cert" : NULL;
	const char *any = client_only ? client_only : server_only ? server_only :
			  o->cafile ? "--cafile" : o->alpn ? "--alpn" : NULL;

	if (!o->tls && any)
		return ctl_usage(o, "%s goes with --tls", any);
	if (!o->tls)
		return EXIT_OK;
	if (server && client_only)
		return ctl_usage(o, "%s is for connect --tls", client_only);
	if (!server && server_only)
		return ctl_usage(o, "%s is for listen --tls", server_only);
	if (server && (!o->cert || !o->key))
		return ctl_usage(o, "listen --tls wants --cert FILE and --key FILE");
	if (o->require_cert && !o->cafile)
		return ctl_usage(o, "--require-client-cert wants --cafile: the CAs client "
				 "certificates are checked against");
	return EXIT_OK;
}

/* The whole of a PEM file as a string (to free), or NULL after saying why. */
static char *
read_pem(const char *opt, const char *path)
{
	size_t len = 0, cap = 8192;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf) {
		ctl_err("%s %s: %s", opt, path, strerror(errno));
		goto fail;
	}
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			char *p = cap >= PEM_FILE_MAX ? NULL : realloc(buf, cap * 2);

			if (!p) {
				ctl_err("%s %s: larger than %u bytes", opt, path, PEM_FILE_MAX);
				goto fail;
			}
			buf = p;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ctl_err("%s %s: %s", opt, path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (!strstr(buf, "-----BEGIN ")) {
		ctl_err("%s %s: no PEM block in it (-----BEGIN ...)", opt, path);
		free(buf);
		return NULL;
	}
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* --alpn "h2,http/1.1" as a NULL-terminated list in store (copy is its text, to free). */
static int
split_alpn(const struct opts *o, char **copy, const char **store)
{
	char *tok, *save = NULL;
	size_t n = 0;

	store[0] = NULL;
	if (!o->alpn)
		return EXIT_OK;
	*copy = strdup(o->alpn);
	if (!*copy)
		return ctl_fail(o, EXIT_FAILED, "failed", NULL, "out of memory");
	for (tok = strtok_r(*copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == ALPN_MAX || strlen(tok) > 255)
			return ctl_usage(o, "--alpn: at most %d protocols of at most 255 bytes",
					 ALPN_MAX);
		store[n++] = tok;
	}
	if (n == 0)
		return ctl_usage(o, "--alpn wants protocol names, e.g. h2,http/1.1");
	store[n] = NULL;
	return EXIT_OK;
}

/*
 * connect --tls: the options of s's connect; with start (--starttls),
 * the upgrade of the connected s at once, a failure told as for what.
 * EXIT_*.
 */
int
ctl_tls_client(tisock_client *c, tisock_tcp *s, const struct opts *o, bool start,
	       const char *what)
{
	const char *alpn[ALPN_MAX + 1];
	char *ca = NULL, *alpn_text = NULL;
	int status, r;

	if (!o->tls)
		return EXIT_OK;
	status = split_alpn(o, &alpn_text, alpn);
	if (status == EXIT_OK && o->cafile && !(ca = read_pem("--cafile", o->cafile)))
		status = EXIT_FAILED;
	if (status == EXIT_OK) {
		struct tisock_tls_options t = {
			.server_name = o->servername, .ca_pem = ca, .alpn = alpn[0] ? alpn : NULL,
			.flags = o->insecure ? TISOCK_TLS_NO_VERIFY : 0 };

		r = start ? tisock_tcp_start_tls(s, &t) : tisock_tcp_set_tls(s, &t);
		if (r < 0 && !(start && ctl_tls_failed(s, what)))
			status = ctl_client_failed(c, r);
		else if (r < 0)
			status = EXIT_FAILED;
	}
	free(ca);
	free(alpn_text);
	return status;
}

/* listen --tls: the certificate, key and options of s's listen.  EXIT_*. */
int
ctl_tls_server(tisock_client *c, tisock_tcp *s, const struct opts *o)
{
	const char *alpn[ALPN_MAX + 1];
	char *ca = NULL, *cert = NULL, *key = NULL, *alpn_text = NULL;
	int status, r;

	if (!o->tls)
		return EXIT_OK;
	status = split_alpn(o, &alpn_text, alpn);
	if (status == EXIT_OK && (!(cert = read_pem("--cert", o->cert)) ||
				  !(key = read_pem("--key", o->key)) ||
				  (o->cafile && !(ca = read_pem("--cafile", o->cafile)))))
		status = EXIT_FAILED;
	if (status == EXIT_OK) {
		r = tisock_tcp_set_tls_server(s, &(struct tisock_tls_server_options){
			.certificate_pem = cert, .key_pem = key, .ca_pem = ca,
			.alpn = alpn[0] ? alpn : NULL,
			.flags = o->require_cert ? TISOCK_TLS_REQUEST_CLIENT_CERT : 0 });
		if (r < 0)
			status = ctl_client_failed(c, r);
	}
	if (key)
		explicit_bzero(key, strlen(key));
	free(key);
	free(cert);
	free(ca);
	free(alpn_text);
	return status;
}

/* The session of s as JSON (to free), or NULL. */
static cJSON *
tls_json(const struct tisock_tls_info *t)
{
	cJSON *j = cJSON_CreateObject(), *pc, *sans;
	const struct tisock_tls_certificate *pcert = t->peer_certificate;

	if (!j)
		return NULL;
	cJSON_AddStringToObject(j, "version", t->version ? t->version : "");
	cJSON_AddStringToObject(j, "cipher", t->cipher ? t->cipher : "");
	if (t->alpn)
		cJSON_AddStringToObject(j, "alpn", t->alpn);
	else
		cJSON_AddNullToObject(j, "alpn");
	cJSON_AddBoolToObject(j, "resumed", t->resumed);
	cJSON_AddBoolToObject(j, "verified", t->verified);
	if (!pcert)
		return j;
	pc = cJSON_AddObjectToObject(j, "peerCertificate");
	if (!pc)
		return j;
	cJSON_AddStringToObject(pc, "subject", pcert->subject ? pcert->subject : "");
	cJSON_AddStringToObject(pc, "issuer", pcert->issuer ? pcert->issuer : "");
	sans = cJSON_AddArrayToObject(pc, "subjectAltNames");
	for (size_t i = 0; sans && i < pcert->n_subject_alt_names; i++)
		cJSON_AddItemToArray(sans, cJSON_CreateString(pcert->subject_alt_names[i]));
	cJSON_AddStringToObject(pc, "notBefore", pcert->not_before ? pcert->not_before : "");
	cJSON_AddStringToObject(pc, "notAfter", pcert->not_after ? pcert->not_after : "");
	cJSON_AddStringToObject(pc, "sha256", pcert->sha256 ? pcert->sha256 : "");
	return j;
}

/*
 * The negotiated session on stderr: "PEER: TLSv1.3 CIPHER, ALPN h2,
 * verified" and the peer's certificate; a JSON line with --json.
 */
void
ctl_tls_summary(const tisock_tcp *s, const struct opts *o, const char *peer)
{
	const struct tisock_tls_info *t = tisock_tcp_tls(s);
	const struct tisock_tls_certificate *pc;

	if (!o->tls || !t)
		return;
	if (o->json) {
		cJSON *j = cJSON_CreateObject();
		char *text;

		cJSON_AddStringToObject(j, "event", "tls");
		cJSON_AddStringToObject(j, "peer", peer);
		cJSON_AddItemToObject(j, "tls", tls_json(t));
		text = cJSON_PrintUnformatted(j);
		if (text)
			fprintf(stderr, "%s\n", text);
		free(text);
		cJSON_Delete(j);
		return;
	}
	fprintf(stderr, "tls: %s %s, %s%s, %s%s\n", t->version ? t->version : "?",
		t->cipher ? t->cipher : "?", t->alpn ? "ALPN " : "no ALPN", t->alpn ? t->alpn : "",
		t->verified ? "verified" : "NOT verified", t->resumed ? ", resumed" : "");
	pc = t->peer_certificate;
	if (pc) {
		fprintf(stderr, "tls: peer %s, issuer %s\n", pc->subject ? pc->subject : "?",
			pc->issuer ? pc->issuer : "?");
		for (size_t i = 0; i < pc->n_subject_alt_names; i++)
			fprintf(stderr, "%s%s", i ? ", " : "tls: names ", pc->subject_alt_names[i]);
		if (pc->n_subject_alt_names)
			fputc('\n', stderr);
		fprintf(stderr, "tls: valid %s to %s, sha256 %s\n",
			pc->not_before ? pc->not_before : "?", pc->not_after ? pc->not_after : "?",
			pc->sha256 ? pc->sha256 : "?");
	} else {
		fprintf(stderr, "tls: the peer sent no certificate\n");
	}
	fflush(stderr);
}

/*
 * A failed handshake of s, told with its reason, the verification error
 * and the alert (with --json, as members of the error object).  False
 * when s had none (the caller reports the error its own way).
 */
bool
ctl_tls_failed(const tisock_tcp *s, const char *what)
{
	const struct tisock_tls_error *e = tisock_tcp_tls_error(s);
	cJSON *extra, *j;
	char detail[512] = "", *text;
	size_t n = 0;

	if (!e)
		return false;
	if (e->verify_error)
		n += (size_t)snprintf(detail + n, sizeof(detail) - n, "; verify error %ld: %s",
				      e->verify_error, e->verify_error_text ? e->verify_error_text
									    : "?");
	if (e->alert && n < sizeof(detail))
		snprintf(detail + n, sizeof(detail) - n, "; alert %s", e->alert);
	extra = cJSON_CreateObject();
	j = cJSON_AddObjectToObject(extra, "tls");
	cJSON_AddStringToObject(j, "reason", e->reason);
	if (e->verify_error)
		cJSON_AddNumberToObject(j, "verifyError", (double)e->verify_error);
	if (e->verify_error_text)
		cJSON_AddStringToObject(j, "verifyErrorText", e->verify_error_text);
	if (e->alert)
		cJSON_AddStringToObject(j, "alert", e->alert);
	text = cJSON_PrintUnformatted(extra);
	(void) ctl_fail(NULL, EXIT_FAILED, "tls", text, "%s: TLS handshake failed: %s%s", what,
			e->reason, detail);
	free(text);
	cJSON_Delete(extra);
	return true;
}
