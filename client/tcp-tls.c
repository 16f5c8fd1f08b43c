/*
 * tcp-tls: TLS on a socket's connection, which the daemon terminates.
 *
 * The options become the `tls` member of tcp.connect, tcp.listen and
 * tcp.startTls when they are set (kept as JSON, added to the params the
 * method table writes); what the answers say (their `tls` object, or the
 * data of error -32012) is kept as the answer's JSON, and the public
 * structs point into it, so every string is owned by the socket.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "lib-public.h"
#include "tcp.h"

#define TLS_ALPN_MAX		16	/* protocols offered */
#define TLS_ALPN_LEN_MAX	255	/* bytes of one (RFC 7301) */

struct lib_tls {
	struct tisock_tls_info		 info;
	struct tisock_tls_certificate	 cert;
	const char			**sans;		/* NULL-terminated, into json */
	cJSON				*json;		/* the answer's tls, owned */
};

struct lib_tls_error {
	struct tisock_tls_error		 e;
	char				 alert[32];	/* a numeric alert as text */
	cJSON				*json;		/* the error's data, owned */
};

/* An ALPN list as a JSON array on obj; -EINVAL for an empty or long name. */
static int
add_alpn(cJSON *obj, const char *const *alpn)
{
	cJSON *a;
	size_t n = 0;

	if (!alpn || !alpn[0])
		return 0;
	a = cJSON_AddArrayToObject(obj, "alpn");
	if (!a)
		return -ENOMEM;
	for (; alpn[n]; n++) {
		size_t len = strlen(alpn[n]);

		if (n >= TLS_ALPN_MAX || len == 0 || len > TLS_ALPN_LEN_MAX)
			return -EINVAL;
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(alpn[n])))
			return -ENOMEM;
	}
	return 0;
}

/* Adds a string member when s is set.  0 or -ENOMEM. */
static int
add_str(cJSON *obj, const char *name, const char *s)
{
	return !s || cJSON_AddStringToObject(obj, name, s) ? 0 : -ENOMEM;
}

/* A min_version the library knows. */
static bool
version_ok(int v)
{
	return v == TISOCK_TLS_VERSION_DEFAULT || v == TISOCK_TLS_VERSION_1_2 ||
	       v == TISOCK_TLS_VERSION_1_3;
}

/* minVersion, when one is asked for.  0 or -ENOMEM. */
static int
add_version(cJSON *obj, int v)
{
	const char *text = v == TISOCK_TLS_VERSION_1_3 ? "1.3" : "1.2";

	if (v == TISOCK_TLS_VERSION_DEFAULT)
		return 0;
	return cJSON_AddStringToObject(obj, "minVersion", text) ? 0 : -ENOMEM;
}

/*
 * The end of an option object t: its alpn list unless r already failed.
 * 0 with *ret = t (owned), or r / -ENOMEM with t freed.
 */
static int
finish_json(cJSON *t, int r, const char *const *alpn, cJSON **ret)
{
	if (r == 0)
		r = add_alpn(t, alpn);
	if (r < 0) {
		cJSON_Delete(t);
		return r;
	}
	*ret = t;
	return 0;
}

/*
 * The tls value of a client's request for o: true for the defaults, else
 * an object.  0 with *ret (owned), -EINVAL or -ENOMEM.
 */
static int
client_json(const struct tisock_tls_options *o, cJSON **ret)
{
	const unsigned known = TISOCK_TLS_NO_VERIFY | TISOCK_TLS_SESSION_REUSE |
			       TISOCK_TLS_NO_SESSION_REUSE;
	cJSON *t;
	int r = 0;

	*ret = NULL;
	if (o && ((o->flags & ~known) ||
		  ((o->flags & TISOCK_TLS_SESSION_REUSE) &&
		   (o->flags & TISOCK_TLS_NO_SESSION_REUSE)) ||
		  !version_ok(o->min_version) ||
		  (o->server_name && !*o->server_name)))
		return -EINVAL;
	if (!o || (!o->server_name && !o->ca_pem && !(o->alpn && o->alpn[0]) &&
		   !o->min_version && !o->flags)) {
		*ret = cJSON_CreateTrue();
		return *ret ? 0 : -ENOMEM;
	}
	t = cJSON_CreateObject();
	if (!t)
		return -ENOMEM;
	if (add_str(t, "serverName", o->server_name) < 0 ||
	    ((o->flags & TISOCK_TLS_NO_VERIFY) && !cJSON_AddFalseToObject(t, "verify")) ||
	    add_str(t, "caPem", o->ca_pem) < 0 ||
	    add_version(t, o->min_version) < 0 ||
	    ((o->flags & (TISOCK_TLS_SESSION_REUSE | TISOCK_TLS_NO_SESSION_REUSE)) &&
	     !cJSON_AddBoolToObject(t, "sessionReuse", !!(o->flags & TISOCK_TLS_SESSION_REUSE))))
		r = -ENOMEM;
	return finish_json(t, r, o->alpn, ret);
}

/* The tls value of tcp.listen for o.  0 with *ret (owned), -EINVAL or -ENOMEM. */
static int
server_json(const struct tisock_tls_server_options *o, cJSON **ret)
{
	cJSON *t;
	int r = 0;

	*ret = NULL;
	if (!o->certificate_pem || !*o->certificate_pem || !o->key_pem || !*o->key_pem ||
	    (o->flags & ~TISOCK_TLS_REQUEST_CLIENT_CERT) || !version_ok(o->min_version))
		return -EINVAL;
	t = cJSON_CreateObject();
	if (!t)
		return -ENOMEM;
	if (add_str(t, "certificatePem", o->certificate_pem) < 0 ||
	    add_str(t, "keyPem", o->key_pem) < 0 || add_str(t, "caPem", o->ca_pem) < 0 ||
	    ((o->flags & TISOCK_TLS_REQUEST_CLIENT_CERT) &&
	     !cJSON_AddTrueToObject(t, "requestClientCertificate")) ||
	    add_version(t, o->min_version) < 0)
		r = -ENOMEM;
	return finish_json(t, r, o->alpn, ret);
}

/* {"tls": value}: the members added to a request.  NULL on OOM (value freed). */
static cJSON *
wrap(cJSON *value)
{
	cJSON *w = cJSON_CreateObject();

	if (!w || !cJSON_AddItemToObject(w, "tls", value)) {
		cJSON_Delete(w);
		cJSON_Delete(value);
		return NULL;
	}
	return w;
}

/*
 * *slot (a socket's tls for connect or listen) becomes {"tls": t} after
 * r, what making t returned; o NULL (t NULL, r 0) clears it.  Returns 0
 * or -errno, *slot unchanged then.
 */
static int
set_slot(cJSON **slot, int r, cJSON *t)
{
	if (r < 0)
		return r;
	if (t && !(t = wrap(t)))
		return -ENOMEM;
	cJSON_Delete(*slot);
	*slot = t;
	return 0;
}

TISOCK_PUBLIC int
tisock_tcp_set_tls(tisock_tcp *s, const struct tisock_tls_options *o)
{
	cJSON *t = NULL;
	int r;

	if (!s)
		return -EINVAL;
	if (s->state != TISOCK_INITIALIZED && s->state != TISOCK_ERROR)
		return s->state == TISOCK_CLOSED ? -EBADF : -EISCONN;
	r = o ? client_json(o, &t) : 0;
	return set_slot(&s->tls_connect, r, t);
}

TISOCK_PUBLIC int
tisock_tcp_set_tls_server(tisock_tcp *s, const struct tisock_tls_server_options *o)
{
	cJSON *t = NULL;
	int r;

	if (!s)
		return -EINVAL;
	if (s->state != TISOCK_INITIALIZED)
		return s->state == TISOCK_CLOSED ? -EBADF : -EISCONN;
	r = o ? server_json(o, &t) : 0;
	return set_slot(&s->tls_listen, r, t);
}

/* A string member of obj, or NULL. */
static const char *
str_of(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A boolean member of obj as 1 or 0 (absent: 0). */
static int
bool_of(const cJSON *obj, const char *name)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

/* The session described by tls (an answer's tls object), replacing any.  -ENOMEM. */
static int
tls_set(tisock_tcp *s, const cJSON *tls)
{
	struct lib_tls *t = calloc(1, sizeof(*t));
	const cJSON *cert, *sans, *v;
	size_t n = 0;

	if (!t || !(t->json = cJSON_Duplicate(tls, 1))) {
		free(t);
		return -ENOMEM;
	}
	t->info.version = str_of(t->json, "version");
	t->info.cipher = str_of(t->json, "cipher");
	t->info.alpn = str_of(t->json, "alpn");
	t->info.resumed = bool_of(t->json, "resumed");
	t->info.verified = bool_of(t->json, "verified");
	cert = cJSON_GetObjectItemCaseSensitive(t->json, "peerCertificate");
	if (cJSON_IsObject(cert)) {
		sans = cJSON_GetObjectItemCaseSensitive(cert, "subjectAltNames");
		t->sans = calloc((size_t)cJSON_GetArraySize(sans) + 1, sizeof(*t->sans));
		if (!t->sans) {
			cJSON_Delete(t->json);
			free(t);
			return -ENOMEM;
		}
		cJSON_ArrayForEach(v, sans)
			if (cJSON_IsString(v))
				t->sans[n++] = v->valuestring;
		t->cert = (struct tisock_tls_certificate){
			.subject = str_of(cert, "subject"), .issuer = str_of(cert, "issuer"),
			.subject_alt_names = t->sans, .n_subject_alt_names = n,
			.not_before = str_of(cert, "notBefore"),
			.not_after = str_of(cert, "notAfter"), .sha256 = str_of(cert, "sha256"),
		};
		t->info.peer_certificate = &t->cert;
	}
	lib_tls_free(s);
	s->tls = t;
	return 0;
}

/* Forgets the last handshake failure of s. */
static void
tls_error_clear(tisock_tcp *s)
{
	if (!s->tls_err)
		return;
	cJSON_Delete(s->tls_err->json);
	free(s->tls_err);
	s->tls_err = NULL;
}

/* The failure described by data (error -32012's), replacing any.  -ENOMEM. */
static int
tls_error_set(tisock_tcp *s, const cJSON *data)
{
	struct lib_tls_error *e = calloc(1, sizeof(*e));
	const cJSON *v;

	if (!e || !(e->json = cJSON_Duplicate(data, 1))) {
		free(e);
		return -ENOMEM;
	}
	e->e.reason = str_of(e->json, "reason");
	if (!e->e.reason)
		e->e.reason = "handshakeFailed";
	v = cJSON_GetObjectItemCaseSensitive(e->json, "verifyError");
	e->e.verify_error = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
	e->e.verify_error_text = str_of(e->json, "verifyErrorText");
	v = cJSON_GetObjectItemCaseSensitive(e->json, "alert");
	if (cJSON_IsString(v)) {
		e->e.alert = v->valuestring;
	} else if (cJSON_IsNumber(v)) {
		snprintf(e->alert, sizeof(e->alert), "%d", v->valueint);
		e->e.alert = e->alert;
	} else if (cJSON_IsObject(v)) {
		e->e.alert = str_of(v, "description");
	}
	tls_error_clear(s);
	s->tls_err = e;
	return 0;
}

/*
 * What an answer (connect, listen, accept, startTls) says of TLS: its
 * result's tls object becomes the socket's session (none: plaintext),
 * and any earlier failure is forgotten; error -32012 is the failure.
 */
void
lib_tls_answer(tisock_tcp *s, const cJSON *answer)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(answer, "result");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(answer, "error");
	const cJSON *v;

	if (!s || !answer)
		return;
	if (res) {
		v = cJSON_GetObjectItemCaseSensitive(res, "tls");
		if (cJSON_IsObject(v))
			(void) tls_set(s, v);
		else
			lib_tls_free(s);	/* a plaintext connection now */
		tls_error_clear(s);
		return;
	}
	v = cJSON_GetObjectItemCaseSensitive(err, "code");
	if (cJSON_IsNumber(v) && v->valueint == TISOCK_ERROR_TLS) {
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(err, "data");
		cJSON *none = NULL;

		if (!cJSON_IsObject(data))
			data = none = cJSON_CreateObject();
		if (data)
			(void) tls_error_set(s, data);
		cJSON_Delete(none);
	}
}

/*
 * The end of stream (a read's result, the pump's last tcp.data) or
 * tcp.closed: truncated true means the peer ended without close_notify.
 */
void
lib_tls_closed(tisock_tcp *s, const cJSON *params)
{
	if (s && s->tls && bool_of(params, "truncated"))
		s->tls->info.truncated = 1;
}

/* The session's memory (not the options, nor the last failure). */
void
lib_tls_free(tisock_tcp *s)
{
	if (!s->tls)
		return;
	cJSON_Delete(s->tls->json);
	free(s->tls->sans);
	free(s->tls);
	s->tls = NULL;
}

/*
 * The listen request is sent: the server's options, private key
 * included, are wiped and freed (a listener listens once).
 */
void
lib_tls_listen_done(tisock_tcp *s)
{
	cJSON *key = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(s->tls_listen, "tls"), "keyPem");

	if (cJSON_IsString(key))
		explicit_bzero(key->valuestring, strlen(key->valuestring));
	cJSON_Delete(s->tls_listen);
	s->tls_listen = NULL;
}

/* Everything TLS of s, when it is released. */
void
lib_tls_release(tisock_tcp *s)
{
	lib_tls_free(s);
	tls_error_clear(s);
	lib_tls_listen_done(s);
	cJSON_Delete(s->tls_connect);
	s->tls_connect = NULL;
}

TISOCK_PUBLIC const struct tisock_tls_info *
tisock_tcp_tls(const tisock_tcp *s)
{
	return s && s->tls ? &s->tls->info : NULL;
}

TISOCK_PUBLIC const struct tisock_tls_error *
tisock_tcp_tls_error(const tisock_tcp *s)
{
	return s && s->tls_err ? &s->tls_err->e : NULL;
}

/* The params of tcp.startTls for s and o: {socket, tls}.  NULL with -errno in *r. */
static cJSON *
start_params(tisock_tcp *s, const struct tisock_tls_options *o, int *r)
{
	cJSON *p, *t;

	*r = -EINVAL;
	if (!s)
		return NULL;
	if (s->state != TISOCK_CONNECTED) {
		*r = s->state == TISOCK_CLOSED ? -EBADF : -ENOTCONN;
		return NULL;
	}
	if (s->pump_cb) {
		*r = -EBUSY;	/* the pump would take the handshake's bytes */
		return NULL;
	}
	*r = client_json(o, &t);
	if (*r < 0)
		return NULL;
	p = wrap(t);
	if (!p || !cJSON_AddNumberToObject(p, "socket", (double)s->id)) {
		cJSON_Delete(p);
		*r = -ENOMEM;
		return NULL;
	}
	return p;
}

/* The outcome of a startTls answer on s: 0 or -errno, the session or the failure kept. */
static int
started(tisock_tcp *s, const cJSON *answer, int r)
{
	if (r == 0)
		r = lib_answer_error(s->c, answer);
	if (r == 0) {
		lib_tls_free(s);
		lib_tls_answer(s, answer);
		return 0;
	}
	lib_tls_answer(s, answer);
	if (s->c->err.code == TISOCK_ERROR_TLS)
		s->state = TISOCK_ERROR;	/* the daemon ended the connection */
	return r;
}

TISOCK_PUBLIC int
tisock_tcp_start_tls(tisock_tcp *s, const struct tisock_tls_options *o)
{
	cJSON *params, *answer = NULL;
	int r;

	params = start_params(s, o, &r);
	if (!params)
		return r;
	r = lib_call_wait_raw(s->c, _PROTO_M_MAX, "tcp.startTls", NULL, params,
			      s->c->timeout_ms, &answer);
	cJSON_Delete(params);
	r = started(s, answer, r);
	cJSON_Delete(answer);
	return r;
}

/* What an asynchronous startTls needs when its answer comes. */
struct start_ctx {
	tisock_tcp_cb	 cb;
};

static void
on_started(tisock_client *c, struct lib_call *call, const cJSON *answer)
{
	const struct start_ctx *k = call->ctx;
	tisock_tcp *s = call->tcp;
	int r;

	if (!s)
		return;
	r = answer ? started(s, answer, 0) : lib_call_error(c, call, answer);
	lib_tcp_fire(k->cb, s, NULL, r, r < 0 ? tisock_client_error(c) : NULL);
}

TISOCK_PUBLIC int
tisock_tcp_start_tls_async(tisock_tcp *s, const struct tisock_tls_options *o, tisock_tcp_cb cb)
{
	struct start_ctx *k;
	struct lib_call *call;
	cJSON *params;
	int r;

	params = start_params(s, o, &r);
	if (!params)
		return r;
	k = calloc(1, sizeof(*k));
	if (!k) {
		cJSON_Delete(params);
		return -ENOMEM;
	}
	k->cb = cb;
	r = lib_call_start_raw(s->c, _PROTO_M_MAX, "tcp.startTls", NULL, params, on_started, s, 0,
			       &call);
	cJSON_Delete(params);
	if (r < 0) {
		free(k);
		return r;
	}
	call->ctx = k;
	call->ctx_free = free;
	return 0;
}
