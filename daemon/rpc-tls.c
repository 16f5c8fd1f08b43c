/*
 * rpc-tls: TLS in answers, errors and monitor events, and the checks of
 * a request's tls parameter (PEM that parses, tls-insecure).
 *
 * Nothing written here ever carries key material: the answers describe
 * what the handshake agreed on and the peer's certificate, never the
 * PEM a client sent.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ctl.h"
#include "daemon.h"
#include "log.h"
#include "monitor.h"
#include "proto-errors.h"
#include "rpc.h"
#include "tcp.h"
#include "tcp-tls.h"

/* "tls": {version, cipher, alpn, resumed, peerCertificate, verified} of t, if it has TLS. */
void
rpc_write_tls(struct proto_jw *w, const struct tcp *t)
{
	const struct tcp_tls_info *i = tcp_tls_info(t);

	if (!i)
		return;
	proto_jw_key(w, "tls");
	proto_jw_obj_begin(w);
	proto_jw_kstr(w, "version", i->version);
	proto_jw_kstr(w, "cipher", i->cipher);
	proto_jw_key(w, "alpn");
	if (i->alpn)
		proto_jw_str(w, i->alpn);
	else
		proto_jw_raw(w, "null", 4);
	proto_jw_kbool(w, "resumed", i->resumed);
	proto_jw_key(w, "peerCertificate");
	if (i->has_peer) {
		proto_jw_obj_begin(w);
		proto_jw_kstr(w, "subject", i->subject ? i->subject : "");
		proto_jw_kstr(w, "issuer", i->issuer ? i->issuer : "");
		proto_jw_key(w, "subjectAltNames");
		proto_jw_arr_begin(w);
		for (int k = 0; k < i->nsans; k++)
			proto_jw_str(w, i->sans[k]);
		proto_jw_arr_end(w);
		proto_jw_kstr(w, "notBefore", i->not_before);
		proto_jw_kstr(w, "notAfter", i->not_after);
		proto_jw_kstr(w, "sha256", i->sha256);
		proto_jw_obj_end(w);
	} else {
		proto_jw_raw(w, "null", 4);
	}
	proto_jw_kbool(w, "verified", i->verified);
	proto_jw_obj_end(w);
}

/* The -32012 data besides socket and reason: verifyError, verifyErrorText, alert. */
void
rpc_write_tls_failure(struct proto_jw *w, const struct tcp_tls_failure *f)
{
	proto_jw_kint(w, "verifyError", f->verify_error);
	if (f->verify_text)
		proto_jw_kstr(w, "verifyErrorText", f->verify_text);
	if (f->alert)
		proto_jw_kstr(w, "alert", f->alert);
}

/*
 * The engine's tls event: a handshake ended (f: why it failed; t is the
 * listener for an inbound one), or a peer ended without close_notify.
 * Monitors see it; a failure is logged.
 */
void
rpc_tls_event(struct tcp *t, const struct tcp_tls_failure *f, bool truncated)
{
	struct daemon *d = t->eng->up;
	const struct tcp_tls_info *i = tcp_tls_info(t);
	struct proto_jw *w;

	if (truncated)
		d->counters.tls_truncated++;
	else if (f)
		d->counters.tls_failures++;
	else
		d->counters.tls_handshakes++;
	if (f && t->state == TCP_STATE_LISTENING &&
	    log_ratelimit_ok(&d->rl_tls, ev_now(d->loop), 10.))
		log_info("tcp#%llu: an inbound TLS handshake failed: %s%s%s (at most one such "
			 "line per 10 s; monitors see each)", (unsigned long long)t->id, f->reason,
			 f->alert ? ", alert " : "", f->alert ? f->alert : "");
	else if (f)
		log_debug("tcp#%llu: TLS handshake failed: %s%s%s",
			  (unsigned long long)t->id, f->reason, f->alert ? ", alert " : "",
			  f->alert ? f->alert : "");
	if (!monitor_on(d))
		return;
	w = monitor_begin(d, NULL, t, "tls");
	if (truncated) {
		proto_jw_kbool(w, "truncated", true);
	} else if (f) {
		proto_jw_kstr(w, "reason", f->reason);
	} else if (i) {
		proto_jw_kstr(w, "version", i->version);
		proto_jw_kstr(w, "cipher", i->cipher);
		if (i->alpn)
			proto_jw_kstr(w, "alpn", i->alpn);
		proto_jw_kbool(w, "resumed", i->resumed);
		proto_jw_kbool(w, "verified", i->verified);
	}
	monitor_end(d);
}

/*
 * The config of a request's tls parameter (server: tcp.listen's), into
 * *cfg: NULL when tls is absent or false.  PEM that does not parse is
 * -32602 naming the member; verify false without tls-insecure = allow
 * is -32003 naming the setting.  Returns 0, or -1 after answering.
 */
int
rpc_tls_config(struct rpc_call *call, const struct proto_tls_args *a, bool server,
	       struct tcp_tls_config **cfg)
{
	struct daemon *d = call->ctl->d;
	int64_t socket = call->tcp ? (int64_t)call->tcp->id : 0;
	const char *param = "tls", *reason = "invalid";
	int r;

	*cfg = NULL;
	if (a->on <= 0)
		return 0;
	r = server ? tcp_tls_config_server(cfg, a, &param, &reason)
		   : tcp_tls_config_client(cfg, a, &param, &reason);
	if (r == -EINVAL) {
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_INVALID_PARAMS, .param = param, .reason = reason,
			.socket = socket });
		return -1;
	}
	if (r < 0) {
		rpc_reply_errno(call, r, socket);
		return -1;
	}
	if (tcp_tls_config_insecure(*cfg) && !d->conf.policy->tls_insecure) {
		*cfg = tcp_tls_config_free(*cfg);
		rpc_reply_error(call, &(struct rpc_error){
			.code = PROTO_E_NOT_PERMITTED, .socket = socket,
			.message = "not permitted by policy: verify false needs "
				   "tls-insecure = allow",
			.rule = "tls-insecure = deny", .rule_index = 0, .action = "connect" });
		return -1;
	}
	return 0;
}

/*
 * A tcp.listen request has been dispatched: the text of its private key
 * (parsed by now, or refused) is wiped from the parsed request, and the
 * request line is once the reader hands over the next one.
 */
void
rpc_tls_wipe_request(struct ctl *c, const cJSON *params)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(params, "tls"), "keyPem");

	c->flags |= CTL_SECRET;
	if (cJSON_IsString(k) && k->valuestring)
		explicit_bzero(k->valuestring, strlen(k->valuestring));
}
