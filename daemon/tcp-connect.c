/*
 * tcp-connect: outgoing connects and listening sockets.
 *
 * A host name is resolved on the loop (dns.c); a connect then tries each
 * address in turn, non-blocking, until one succeeds, all under one
 * ev_timer for the whole connect timeout.  Listening binds the first
 * address.  Both leave the socket in state error when they fail.
 */
#include "config.h"

#include <stddef.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "monitor.h"
#include "daemon.h"
#include "dns.h"
#include "metrics.h"
#include "proto-errors.h"
#include "rpc.h"
#include "tcp.h"

#define TCP_DEFAULT_HOST "127.0.0.1"

static void attempt_next(struct tcp *t);

static socklen_t
ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

/* Parses a numeric IPv4 or IPv6 host into *ss.  Returns 0 or -EINVAL. */
static int
parse_numeric(const char *host, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return -EINVAL;
}

static void
finish_call(struct tcp *t, const struct rpc_error *e, int r)
{
	struct rpc_call *call = t->connect_call;

	t->connect_call = NULL;
	if (!call)
		return;
	if (e)
		rpc_reply_error(call, e);
	else
		rpc_reply_errno(call, r, (int64_t)t->id);
	rpc_call_free(call);
}

/* The connect or listen failed: socket closed, state error, call answered. */
static void
open_failed(struct tcp *t, const struct rpc_error *e, int r)
{
	dns_cancel(t->dns_q);
	t->dns_q = NULL;
	free(t->addrs);
	t->addrs = NULL;
	tcp_close_fd(t, false);
	tcp_set_state(t, TCP_STATE_ERROR);
	finish_call(t, e, r);
}

static void
resolve_failed(struct tcp *t, const char *errname)
{
	open_failed(t, &(struct rpc_error){
		.code = PROTO_E_RESOLVE, .socket = (int64_t)t->id,
		.message = "name resolution failed", .resolver = errname }, 0);
}

static void
record_endpoints(struct tcp *t, bool connected)
{
	socklen_t len = sizeof(t->local);

	t->has_local = getsockname(t->fd, (struct sockaddr *)&t->local, &len) == 0;
	len = sizeof(t->remote);
	t->has_remote = connected &&
			getpeername(t->fd, (struct sockaddr *)&t->remote, &len) == 0;
}

static void
connected(struct tcp *t)
{
	struct rpc_call *call = t->connect_call;
	struct proto_jw w;

	ev_timer_stop(t->d->loop, &t->connect_timer);
	ev_io_stop(t->d->loop, &t->wio);
	metrics_connected(t->d, t->connect_asked, t->connect_syn);
	free(t->addrs);
	t->addrs = NULL;
	record_endpoints(t, true);	/* first: the state change reports them */
	tcp_set_state(t, TCP_STATE_CONNECTED);
	tcp_io_connected(t);
	tcp_apply_options(t);
	t->connect_call = NULL;
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kstr(&w, "state", "connected");
		rpc_write_endpoint(&w, "local", &t->local);
		rpc_write_endpoint(&w, "remote", &t->remote);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	rpc_call_free(call);
	tcp_update_io(t);
}

static void
on_connect_ready(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp *t = (struct tcp *)((char *)w - offsetof(struct tcp, wio));
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		connected(t);
		return;
	}
	t->last_errno = err;
	tcp_close_fd(t, false);
	attempt_next(t);
}

/* The connect or listen was refused by policy rule r, for address ss. */
static void
policy_refused(struct tcp *t, const struct policy_rule *r, enum policy_action action,
	       const struct sockaddr_storage *ss)
{
	open_failed(t, &(struct rpc_error){
		.code = PROTO_E_NOT_PERMITTED, .socket = (int64_t)t->id,
		.message = "not permitted by policy", .rule = policy_rule_text(r),
		.rule_index = policy_rule_line(r), .action = policy_action_name(action),
		.address = ss }, 0);
}

/*
 * Tries the resolved addresses in order.  Each is put to the policy
 * first: a name cannot reach an address the policy denies.  When every
 * address is denied, the connect fails with -32003 and the rule.
 */
static void
attempt_next(struct tcp *t)
{
	while (t->addrs && t->addr_next < t->addrs->count) {
		struct sockaddr_storage *ss = &t->addrs->addrs[t->addr_next++];
		const struct policy_rule *r;
		int fd;

		r = tcp_policy_denies(t, POLICY_CONNECT, t->host ? t->host : TCP_DEFAULT_HOST, ss);
		if (r) {
			t->denied = r;
			t->denied_addr = *ss;
			continue;
		}
		fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				open_failed(t, NULL, -errno);
				return;
			}
			t->last_errno = errno;
			continue;
		}
		tcp_set_fd(t, fd);
		tcp_apply_options(t);
		t->connect_syn = metrics_now();
		if (connect(fd, (struct sockaddr *)ss, ss_len(ss)) == 0) {
			connected(t);
			return;
		}
		if (errno == EINPROGRESS) {
			ev_set_cb(&t->wio, on_connect_ready);
			ev_io_start(t->d->loop, &t->wio);
			return;
		}
		t->last_errno = errno;
		tcp_close_fd(t, false);
	}
	if (t->denied && !t->last_errno) {
		struct sockaddr_storage ss = t->denied_addr;

		policy_refused(t, t->denied, POLICY_CONNECT, &ss);
		return;
	}
	open_failed(t, NULL, -(t->last_errno ? t->last_errno : ECONNREFUSED));
}

static void
on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp *t = (struct tcp *)((char *)w - offsetof(struct tcp, connect_timer));

	open_failed(t, NULL, -ETIMEDOUT);
}

static void
on_resolved_connect(void *userdata, int status, const char *errname,
		    const struct dns_result *res)
{
	struct tcp *t = userdata;

	t->dns_q = NULL;
	if (status != 0) {
		resolve_failed(t, errname);
		return;
	}
	t->addrs = malloc(sizeof(*t->addrs));
	if (!t->addrs) {
		open_failed(t, NULL, -ENOMEM);
		return;
	}
	*t->addrs = *res;
	t->addr_next = 0;
	attempt_next(t);
}

/*
 * Starts connecting t (state initialized or error) to its host and port,
 * answering call when done.  Returns RPC_DEFERRED or -errno.
 */
int
tcp_connect(struct tcp *t, struct rpc_call *call)
{
	const char *host = t->host ? t->host : TCP_DEFAULT_HOST;
	int64_t timeout = t->timeout_ms >= 0 ? t->timeout_ms
					     : (int64_t)t->d->conf.connect_timeout_ms;
	struct sockaddr_storage ss;
	struct rpc_call *dc;

	dc = rpc_call_defer(call, t);
	if (!dc)
		return -ENOMEM;
	t->connect_call = dc;
	t->connect_asked = metrics_now();
	t->eof = t->eof_told = t->shut_wr = t->pumping = false;
	t->has_local = t->has_remote = false;
	t->last_errno = 0;
	t->denied = NULL;
	if (monitor_on(t->d)) {
		struct proto_jw *w = monitor_begin(t->d, NULL, t, "connect");

		proto_jw_kstr(w, "host", host);
		proto_jw_kint(w, "port", t->port < 0 ? 0 : t->port);
		monitor_end(t->d);
	}
	tcp_set_state(t, TCP_STATE_CONNECTING);
	ev_init(&t->connect_timer, on_connect_timeout);
	if (timeout > 0) {
		ev_timer_set(&t->connect_timer, (double)timeout / 1000., 0.);
		ev_timer_start(t->d->loop, &t->connect_timer);
	}
	if (parse_numeric(host, t->port, &ss) == 0) {
		t->addrs = calloc(1, sizeof(*t->addrs));
		if (!t->addrs) {
			open_failed(t, NULL, -ENOMEM);
			return RPC_DEFERRED;
		}
		t->addrs->count = 1;
		t->addrs->addrs[0] = ss;
		t->addr_next = 0;
		attempt_next(t);
		return RPC_DEFERRED;
	}
	t->dns_q = dns_resolve(t->d->dns, host, t->port, on_resolved_connect, t);
	if (!t->dns_q)
		open_failed(t, NULL, -ENOMEM);
	return RPC_DEFERRED;
}

/* Binds and listens on ss; answers and frees t->connect_call. */
static void
listen_on(struct tcp *t, const struct sockaddr_storage *ss)
{
	struct rpc_call *call;
	struct proto_jw w;
	int fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		open_failed(t, NULL, -errno);
		return;
	}
	tcp_set_fd(t, fd);
	(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		(void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, ss_len(ss)) < 0) {
		open_failed(t, NULL, -errno);
		return;
	}
	/* Policy sees the address actually bound: port 0 is the port chosen. */
	record_endpoints(t, false);
	{
		const struct policy_rule *r = tcp_policy_denies(t, POLICY_LISTEN, t->host,
							       t->has_local ? &t->local : ss);

		if (r) {
			struct sockaddr_storage where = t->has_local ? t->local : *ss;

			policy_refused(t, r, POLICY_LISTEN, &where);
			return;
		}
	}
	if (listen(fd, t->listen_queue > 0 ? t->listen_queue : SOMAXCONN) < 0) {
		open_failed(t, NULL, -errno);
		return;
	}
	tcp_set_state(t, TCP_STATE_LISTENING);
	tcp_accept_init(t);
	call = t->connect_call;
	t->connect_call = NULL;
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kstr(&w, "state", "listening");
		rpc_write_endpoint(&w, "local", &t->local);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	rpc_call_free(call);
}

static void
on_resolved_listen(void *userdata, int status, const char *errname,
		   const struct dns_result *res)
{
	struct tcp *t = userdata;

	t->dns_q = NULL;
	if (status != 0) {
		resolve_failed(t, errname);
		return;
	}
	listen_on(t, &res->addrs[0]);
}

/*
 * Starts listening on t's host and port (0: any).  A numeric host answers
 * at once; a name is resolved first.  Returns 0, RPC_DEFERRED or -errno.
 */
int
tcp_listen(struct tcp *t, struct rpc_call *call)
{
	const char *host = t->host ? t->host : TCP_DEFAULT_HOST;
	int port = t->port < 0 ? 0 : t->port;
	struct sockaddr_storage ss;
	struct rpc_call *dc;

	dc = rpc_call_defer(call, t);
	if (!dc)
		return -ENOMEM;
	t->connect_call = dc;
	if (parse_numeric(host, port, &ss) == 0) {
		listen_on(t, &ss);
		return RPC_DEFERRED;
	}
	tcp_set_state(t, TCP_STATE_CONNECTING);
	t->dns_q = dns_resolve(t->d->dns, host, port, on_resolved_listen, t);
	if (!t->dns_q)
		open_failed(t, NULL, -ENOMEM);
	return RPC_DEFERRED;
}
