/*
 * tcp-connect: outgoing connects and listening sockets.
 *
 * A host name is resolved on the loop (dns.c); a connect then tries each
 * address in turn, non-blocking, until one succeeds, all under one
 * ev_timer for the whole connect timeout.  Listening binds the first
 * address.  Both leave the socket in state error when they fail.
 *
 * The policy judges the address the kernel actually uses: a destination
 * is first made what the kernel makes of it (effective_dest) and that is
 * what is judged and connected to; a completed connect is judged again on
 * its getpeername() address when that differs or a reload came in
 * between, and reset if now denied.  A listener is judged on the address
 * getsockname() reports after bind, before listen().
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

#include "dns.h"
#include "proto-errors.h"
#include "tcp.h"

#define TCP_DEFAULT_HOST "127.0.0.1"

static void attempt_next(struct tcp *t);

static socklen_t
ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

/*
 * Makes ss the destination the kernel really connects to for it: an
 * IPv4-mapped IPv6 address becomes its IPv4 address, and the unspecified
 * address, which Linux sends to loopback (0.0.0.0 and ::ffff:0.0.0.0 to
 * 127.0.0.1, :: to ::1), becomes that loopback address.
 */
static void
effective_dest(struct sockaddr_storage *ss)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 s6 = *(struct sockaddr_in6 *)ss;

		if (memcmp(s6.sin6_addr.s6_addr, mapped, sizeof(mapped)) == 0) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

			memset(ss, 0, sizeof(*ss));
			s4->sin_family = AF_INET;
			s4->sin_port = s6.sin6_port;
			memcpy(&s4->sin_addr, s6.sin6_addr.s6_addr + 12, 4);
		} else if (IN6_IS_ADDR_UNSPECIFIED(&s6.sin6_addr)) {
			((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
		}
	}
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (s4->sin_addr.s_addr == htonl(INADDR_ANY))
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
}

/* Whether a and b are the same address and port (families as normalised). */
static bool
same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       IN6_ARE_ADDR_EQUAL(&x->sin6_addr, &y->sin6_addr);
	}
	return false;
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
finish_op(struct tcp *t, const struct tcp_error *e, int r)
{
	struct tcp_op *op = t->connect_op;

	t->connect_op = NULL;
	if (!op)
		return;
	t->eng->ev->op_failed(t, op, e ? e : &(struct tcp_error){ .sys_errno = -r });
}

/* The connect or listen failed: socket closed, state error, op failed. */
static void
open_failed(struct tcp *t, const struct tcp_error *e, int r)
{
	dns_cancel(t->dns_q);
	t->dns_q = NULL;
	free(t->addrs);
	t->addrs = NULL;
	tcp_close_fd(t, false);
	tcp_set_state(t, TCP_STATE_ERROR);
	finish_op(t, e, r);
}

static void
resolve_failed(struct tcp *t, const char *errname)
{
	open_failed(t, &(struct tcp_error){
		.code = PROTO_E_RESOLVE, .message = "name resolution failed",
		.resolver = errname }, 0);
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

/*
 * The connect completed: judges the peer as getpeername() reports it,
 * unless that is the address already judged under the policy still in
 * force.  Returns the rule that denies it, or NULL.
 */
static const struct policy_rule *
peer_denied(struct tcp *t, struct sockaddr_storage *peer)
{
	*peer = t->remote;
	effective_dest(peer);
	if (t->judged_gen == *t->eng->policy_gen && same_endpoint(peer, &t->judged))
		return NULL;
	return t->eng->ev->judge(t, POLICY_CONNECT, t->host ? t->host : TCP_DEFAULT_HOST, peer);
}

static void
connected(struct tcp *t)
{
	struct tcp_op *op = t->connect_op;
	const struct policy_rule *r;
	struct sockaddr_storage peer;

	errno = ENOTCONN;
	record_endpoints(t, true);	/* first: the state change reports them */
	if (!t->has_remote) {
		/* Reset already: no peer to judge, no connection to give. */
		t->last_errno = errno;
		tcp_close_fd(t, true);
		attempt_next(t);
		return;
	}
	r = peer_denied(t, &peer);
	if (r) {
		/* Abort: the peer gets a reset, the client -32003 (or the next address). */
		t->denied = r;
		t->denied_addr = peer;
		t->has_local = t->has_remote = false;
		tcp_close_fd(t, true);
		attempt_next(t);
		return;
	}
	ev_timer_stop(t->eng->loop, &t->connect_timer);
	ev_io_stop(t->eng->loop, &t->wio);
	free(t->addrs);
	t->addrs = NULL;
	tcp_set_state(t, TCP_STATE_CONNECTED);
	tcp_io_connected(t);
	tcp_apply_options(t);
	t->connect_op = NULL;
	t->eng->ev->opened(t, op);
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
	open_failed(t, &(struct tcp_error){
		.code = PROTO_E_NOT_PERMITTED,
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

		effective_dest(ss);
		r = t->eng->ev->judge(t, POLICY_CONNECT, t->host ? t->host : TCP_DEFAULT_HOST, ss);
		if (r) {
			t->denied = r;
			t->denied_addr = *ss;
			continue;
		}
		t->judged = *ss;
		t->judged_gen = *t->eng->policy_gen;
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
		t->eng->ev->attempting(t);
		if (connect(fd, (struct sockaddr *)ss, ss_len(ss)) == 0) {
			connected(t);
			return;
		}
		if (errno == EINPROGRESS) {
			ev_set_cb(&t->wio, on_connect_ready);
			ev_io_start(t->eng->loop, &t->wio);
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
 * Starts connecting t (state initialized or error) to its host and port;
 * op is over when it is connected or has failed.
 */
void
tcp_connect(struct tcp *t, struct tcp_op *op)
{
	const char *host = t->host ? t->host : TCP_DEFAULT_HOST;
	int64_t timeout = t->timeout_ms >= 0 ? t->timeout_ms
					     : (int64_t)t->eng->conf->connect_timeout_ms;
	struct sockaddr_storage ss;

	op->tcp = t;
	op->kind = TCP_OP_OPEN;
	t->connect_op = op;
	t->eof = t->eof_told = t->shut_wr = t->pumping = false;
	t->has_local = t->has_remote = false;
	t->last_errno = 0;
	t->denied = NULL;
	t->eng->ev->connecting(t, host, t->port < 0 ? 0 : t->port);
	tcp_set_state(t, TCP_STATE_CONNECTING);
	ev_init(&t->connect_timer, on_connect_timeout);
	if (timeout > 0) {
		ev_timer_set(&t->connect_timer, (double)timeout / 1000., 0.);
		ev_timer_start(t->eng->loop, &t->connect_timer);
	}
	if (parse_numeric(host, t->port, &ss) == 0) {
		t->addrs = calloc(1, sizeof(*t->addrs));
		if (!t->addrs) {
			open_failed(t, NULL, -ENOMEM);
			return;
		}
		t->addrs->count = 1;
		t->addrs->addrs[0] = ss;
		t->addr_next = 0;
		attempt_next(t);
		return;
	}
	t->dns_q = dns_resolve(t->eng->dns, host, t->port, on_resolved_connect, t);
	if (!t->dns_q)
		open_failed(t, NULL, -ENOMEM);
}

/* Binds and listens on ss; t->connect_op is over. */
static void
listen_on(struct tcp *t, const struct sockaddr_storage *ss)
{
	struct tcp_op *op;
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
	/*
	 * Policy sees the address actually bound (port 0 is the port chosen;
	 * 0.0.0.0 or :: a wildcard, see policy.h), or nothing is listened on.
	 */
	record_endpoints(t, false);
	if (!t->has_local) {
		open_failed(t, NULL, -errno);
		return;
	}
	{
		const struct policy_rule *r = t->eng->ev->judge(t, POLICY_LISTEN, t->host,
							       &t->local);

		if (r) {
			struct sockaddr_storage where = t->local;

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
	op = t->connect_op;
	t->connect_op = NULL;
	t->eng->ev->opened(t, op);
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
 * Starts listening on t's host and port (0: any).  With a numeric host op
 * is over at once; a name is resolved first.
 */
void
tcp_listen(struct tcp *t, struct tcp_op *op)
{
	const char *host = t->host ? t->host : TCP_DEFAULT_HOST;
	int port = t->port < 0 ? 0 : t->port;
	struct sockaddr_storage ss;

	op->tcp = t;
	op->kind = TCP_OP_OPEN;
	t->connect_op = op;
	if (parse_numeric(host, port, &ss) == 0) {
		listen_on(t, &ss);
		return;
	}
	tcp_set_state(t, TCP_STATE_CONNECTING);
	t->dns_q = dns_resolve(t->eng->dns, host, port, on_resolved_listen, t);
	if (!t->dns_q)
		open_failed(t, NULL, -ENOMEM);
}
