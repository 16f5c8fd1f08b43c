/*
 * tcp-connect: outgoing connects (and the name resolution of a listen;
 * tcp-listen.c binds and listens).
 *
 * A host name is resolved on the loop (dns.c); a connect then tries its
 * addresses, non-blocking, all under one ev_timer for the whole connect
 * timeout.  With both families it races them as RFC 8305 describes
 * (Happy Eyeballs): addresses in an order that alternates the families,
 * IPv6 first; the first attempt at once, each next one after a stagger
 * (happy-eyeballs-delay-ms) or as soon as the one before fails; the first
 * to connect wins and the others are closed.  Without racing they are
 * tried one after another in the resolver's order.  Every attempt is
 * recorded for the answer (struct tcp_attempt).  A connect leaves the
 * socket in state error when it fails.  Each attempt in flight beyond
 * the first is an fd more: at most TCP_TRIES_INFLIGHT run at once, each
 * counts among its owner's sockets (ntries), and none starts while the
 * daemon or the owner is at a socket limit.
 *
 * What only a connect needs lives in a struct tcp_connect, allocated
 * when the connect (or a listen's resolution) starts and freed when it
 * ends, so that a connected socket carries none of it.
 *
 * The policy judges the address the kernel actually uses: a destination
 * is first made what the kernel makes of it (tcp_addr_effective) and that is
 * what is judged and connected to; a completed connect is judged again on
 * its getpeername() address when that differs or a reload came in
 * between, and reset if now denied.
 */
#include "config.h"

#include <stddef.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns.h"
#include "proto-errors.h"
#include "tcp.h"
#include "tcp-addr.h"
#include "tcp-open.h"
#include "tcp-tls.h"

#define TCP_INLINE_TRIES 2	/* attempts held in the context itself */
#define TCP_TRIES_INFLIGHT 8	/* attempts of one connect in flight at once, at most */

/* One address being tried: its descriptor while in flight. */
struct tcp_try {
	struct tcp_connect	*c;
	int			 fd;		/* -1: not started, or over */
	ev_io			 io;
	double			 started;	/* ev_time() */
	uint64_t		 judged_gen;	/* policy generation it was allowed under */
	struct tcp_sockopts	 applied;	/* the options set on fd before connect(2) */
	bool			 peer_known;	/* connected at once: t->remote holds its peer */
};

/*
 * A connect (or a listen's resolution) under way: everything the socket
 * needs only until it is connected, listening or failed.
 */
struct tcp_connect {
	struct tcp		*t;
	ev_timer		 timer;		/* whole connect, resolution included */
	ev_timer		 stagger;	/* racing: starts the next attempt */
	struct dns_query	*dns_q;		/* resolution under way */
	bool			 is_connect;	/* false: a listen's resolution */
	void			(*resolved)(struct tcp *t, const struct sockaddr_storage *ss);
						/* a listen's: the address to bind */
	bool			 race;
	int			 n, next;	/* addresses, next to try */
	int			 inflight;	/* attempts with an fd */
	size_t			 charged;	/* of them, counted in the owner's ntries */
	int			 last_errno;	/* of the last failed attempt */
	const struct policy_rule *denied;	/* the rule that refused an address */
	struct sockaddr_storage	 denied_addr;
	struct tcp_try		*tries;		/* n: tries_in or owned */
	struct tcp_attempt	*att;		/* n: addresses to try, then outcomes */
	struct tcp_try		 tries_in[TCP_INLINE_TRIES];
	struct tcp_attempt	 att_in[TCP_INLINE_TRIES];
};

static void launch(struct tcp_connect *c);

/*
 * Counts the attempts in flight beyond the socket's own among its
 * owner's (ntries), while it is one of the owner's open sockets.
 */
static void
charge(struct tcp_connect *c)
{
	struct tcp *t = c->t;
	size_t want = 0;

	if (t->owner && t->where == TCP_IN_SOCKETS && c->inflight > 1)
		want = (size_t)c->inflight - 1;
	if (want == c->charged)
		return;
	t->owner->ntries = t->owner->ntries - c->charged + want;
	c->charged = want;
}

/* t leaves its owner's open sockets: its attempts no longer count there. */
void
tcp_connect_uncharge(struct tcp *t)
{
	struct tcp_connect *c = t->conn;

	if (!c || c->charged == 0)
		return;
	t->owner->ntries -= c->charged;
	c->charged = 0;
}

/*
 * Closes an attempt's fd.  Attempts in flight count among the engine's
 * open sockets (eng->nsockets), as the fds they are.
 */
static void
try_close(struct tcp_connect *c, struct tcp_try *tr)
{
	ev_io_stop(c->t->eng->loop, &tr->io);
	if (c->t->opts.linger > 0) {
		/* The socket's SO_LINGER would make close(2) wait: a losing attempt is reset. */
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		(void) setsockopt(tr->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	(void) close(tr->fd);
	tr->fd = -1;
	c->inflight--;
	c->t->eng->nsockets--;
	charge(c);
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents);
static void on_stagger(struct ev_loop *loop, ev_timer *w, int revents);

/* Gives t a connect context (t->conn).  Returns it, or NULL on OOM. */
static struct tcp_connect *
conn_new(struct tcp *t, bool is_connect)
{
	struct tcp_connect *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->t = t;
	c->is_connect = is_connect;
	c->tries = c->tries_in;
	c->att = c->att_in;
	ev_init(&c->timer, on_connect_timeout);
	ev_init(&c->stagger, on_stagger);
	t->conn = c;
	return c;
}

/* Ends t's connect context: resolution, timers and attempts in flight stop. */
void
tcp_connect_free(struct tcp *t)
{
	struct tcp_connect *c = t->conn;

	if (!c)
		return;
	t->conn = NULL;
	dns_cancel(c->dns_q);
	ev_timer_stop(t->eng->loop, &c->timer);
	ev_timer_stop(t->eng->loop, &c->stagger);
	for (int i = 0; i < c->n; i++)
		if (c->tries[i].fd >= 0)
			try_close(c, &c->tries[i]);
	if (c->tries != c->tries_in)
		free(c->tries);
	free(c);
}

/* Attempt i is over with outcome (err: its errno); its fd, if any, closed. */
static void
try_over(struct tcp_connect *c, int i, enum tcp_outcome outcome, int err)
{
	struct tcp_try *tr = &c->tries[i];

	if (tr->fd >= 0)
		try_close(c, tr);
	c->att[i].outcome = outcome;
	c->att[i].err = outcome == TCP_OUTCOME_ERROR ? err : 0;
	c->att[i].ms = (int64_t)((ev_time() - tr->started) * 1000.);
}

/* Every attempt still in flight ends with outcome. */
static void
abandon(struct tcp_connect *c, enum tcp_outcome outcome)
{
	for (int i = 0; i < c->next; i++)
		if (c->att[i].outcome == TCP_OUTCOME_PENDING)
			try_over(c, i, outcome, 0);
}

/* The attempts made so far, for an answer (none for a listen). */
static struct tcp_attempts
attempts_of(const struct tcp_connect *c)
{
	if (!c || !c->is_connect)
		return (struct tcp_attempts){ NULL, 0 };
	return (struct tcp_attempts){ c->att, c->next };
}

/*
 * Ends t's connect or listen: attempts in flight end with outcome, the op
 * gets err; failed: the socket is closed in state error first.
 */
static void
open_end(struct tcp *t, struct tcp_error err, enum tcp_outcome outcome, bool failed)
{
	struct tcp_op *op = t->connect_op;

	if (t->conn) {
		abandon(t->conn, outcome);
		err.attempts = attempts_of(t->conn);
	}
	if (failed) {
		tcp_close_fd(t, false);
		tcp_set_state(t, TCP_STATE_ERROR);
	}
	t->connect_op = NULL;
	if (op)
		t->eng->ev->op_failed(t, op, &err);
	tcp_connect_free(t);
}

/* The connect or listen failed: socket closed, state error, op failed. */
void
tcp_open_failed(struct tcp *t, const struct tcp_error *e, int r)
{
	open_end(t, e ? *e : (struct tcp_error){ .sys_errno = -r },
		 r == -ETIMEDOUT ? TCP_OUTCOME_TIMEOUT : TCP_OUTCOME_CANCELLED, true);
}

/* The connect or listen is abandoned (the socket closes): answered with e. */
void
tcp_connect_cancel(struct tcp *t, const struct tcp_error *e)
{
	open_end(t, *e, TCP_OUTCOME_CANCELLED, false);
}

static void
resolve_failed(struct tcp *t, const char *errname)
{
	tcp_open_failed(t, &(struct tcp_error){
		.code = PROTO_E_RESOLVE, .message = "name resolution failed",
		.resolver = errname }, 0);
}

/* The addresses of t's connected fd; peer_known: t->remote holds its peer already. */
static void
record_endpoints(struct tcp *t, bool peer_known)
{
	socklen_t len = sizeof(t->local);

	t->has_local = getsockname(t->fd, (struct sockaddr *)&t->local, &len) == 0;
	if (peer_known) {
		t->has_remote = true;
		return;
	}
	len = sizeof(t->remote);
	t->has_remote = getpeername(t->fd, (struct sockaddr *)&t->remote, &len) == 0;
}

/* The connect or listen was refused by policy rule r, for address ss. */
void
tcp_open_refused(struct tcp *t, const struct policy_rule *r, enum policy_action action,
		 const struct sockaddr_storage *ss)
{
	tcp_open_failed(t, &(struct tcp_error){
		.code = PROTO_E_NOT_PERMITTED,
		.message = "not permitted by policy", .rule = policy_rule_text(r),
		.rule_index = policy_rule_line(r), .action = policy_action_name(action),
		.address = ss }, 0);
}

/*
 * Nothing is in flight and no address is left: the connect fails with
 * -32003 and the rule when the policy denied every address tried, else
 * with the last attempt's error.
 */
static void
connect_failed(struct tcp *t)
{
	struct tcp_connect *c = t->conn;

	if (c->denied && !c->last_errno) {
		struct sockaddr_storage ss = c->denied_addr;

		tcp_open_refused(t, c->denied, POLICY_CONNECT, &ss);
		return;
	}
	tcp_open_failed(t, NULL, -(c->last_errno ? c->last_errno : ECONNREFUSED));
}

/*
 * Attempt i completed its handshake: judges the peer as getpeername()
 * reports it, unless that is the address already judged under the
 * policy still in force.  Returns the rule that denies it, or NULL.
 */
static const struct policy_rule *
peer_denied(struct tcp *t, int i, struct sockaddr_storage *peer)
{
	struct tcp_connect *c = t->conn;

	*peer = t->remote;
	tcp_addr_effective(peer);
	if (c->tries[i].judged_gen == *t->eng->policy_gen &&
	    tcp_addr_same(peer, &c->att[i].address))
		return NULL;
	return t->eng->ev->judge(t, POLICY_CONNECT, t->host ? t->host : TCP_DEFAULT_HOST, peer);
}

/* The connection is up (and its TLS, if any): the connect is over. */
static void
connected(struct tcp *t, const struct tcp_sockopts *applied)
{
	struct tcp_attempts attempts;
	struct tcp_op *op;

	tcp_set_state(t, TCP_STATE_CONNECTED);
	tcp_io_connected(t);
	if (!applied || memcmp(applied, &t->opts, sizeof(t->opts)) != 0)
		tcp_apply_options(t);	/* tcp.setOptions came while connecting */
	op = t->connect_op;
	t->connect_op = NULL;
	attempts = attempts_of(t->conn);
	t->eng->ev->opened(t, op, &attempts);
	tcp_connect_free(t);
	tcp_update_io(t);
}

/* The TLS handshake of a connect ended (f: why it failed). */
static void
on_tls_done(void *arg, const struct tcp_tls_failure *f)
{
	struct tcp *t = arg;

	t->eng->ev->tls(t, f, false);
	if (f) {
		tcp_open_failed(t, &(struct tcp_error){ .code = PROTO_E_TLS, .tls = f,
							.sys_errno = f->sys_errno }, 0);
		return;
	}
	ev_timer_stop(t->eng->loop, &t->conn->timer);
	connected(t, NULL);	/* options set again: tcp.setOptions may have come */
}

/*
 * Attempt i connected: unless its peer is gone or now denied, it wins,
 * the others are cancelled and the socket is connected on its fd.
 */
static void
try_won(struct tcp_connect *c, int i)
{
	struct tcp *t = c->t;
	struct tcp_try *tr = &c->tries[i];
	const struct policy_rule *r;
	struct sockaddr_storage peer;
	int fd = tr->fd;

	ev_io_stop(t->eng->loop, &tr->io);
	tr->fd = -1;
	c->inflight--;
	t->eng->nsockets--;	/* counted again as the socket's own */
	charge(c);
	tcp_set_fd(t, fd);
	errno = ENOTCONN;
	record_endpoints(t, tr->peer_known);	/* first: the state change reports them */
	if (!t->has_remote) {
		/* Reset already: no peer to judge, no connection to give. */
		c->last_errno = errno;
		try_over(c, i, TCP_OUTCOME_ERROR, errno);
		tcp_close_fd(t, true);
		launch(c);
		return;
	}
	r = peer_denied(t, i, &peer);
	if (r) {
		/* Abort: the peer gets a reset, the client -32003 (or the next address). */
		c->denied = r;
		c->denied_addr = peer;
		try_over(c, i, TCP_OUTCOME_DENIED, 0);
		t->has_local = t->has_remote = false;
		tcp_close_fd(t, true);
		launch(c);
		return;
	}
	try_over(c, i, TCP_OUTCOME_CONNECTED, 0);
	abandon(c, TCP_OUTCOME_CANCELLED);
	ev_timer_stop(t->eng->loop, &c->stagger);
	if (t->tls_cfg) {
		/* The TLS handshake next, still under the connect timer. */
		int64_t ms = (int64_t)t->eng->conf->tls_handshake_timeout_ms;
		int k = tcp_tls_start(t, t->tls_cfg, ms, on_tls_done);

		if (k < 0)
			tcp_open_failed(t, NULL, k);
		return;
	}
	ev_timer_stop(t->eng->loop, &c->timer);
	connected(t, &tr->applied);
}

static void
on_try_ready(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_try *tr = (struct tcp_try *)((char *)w - offsetof(struct tcp_try, io));
	struct tcp_connect *c = tr->c;
	int i = (int)(tr - c->tries);
	int err = 0;
	socklen_t len = sizeof(err);

	/* Connected at once (connected_now): no error to ask for. */
	if (!tr->peer_known && getsockopt(tr->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		try_won(c, i);
		return;
	}
	c->last_errno = err;
	try_over(c, i, err == ECONNREFUSED ? TCP_OUTCOME_REFUSED :
		       err == ETIMEDOUT ? TCP_OUTCOME_TIMEOUT : TCP_OUTCOME_ERROR, err);
	launch(c);
}

/*
 * Whether the connect(2) just made on fd has completed already, as one
 * to a local address usually has (the kernel handles the handshake's
 * replies before connect(2) returns, while still saying EINPROGRESS).
 * Such an attempt is reported in this loop iteration, like one that
 * completes later (on_try_ready), without waiting for the poll to say
 * what is known: one round through epoll less per connection.
 */
static bool
connected_now(struct tcp *t, struct tcp_try *tr)
{
	socklen_t len = sizeof(t->remote);

	/*
	 * The peer goes straight to t->remote (not yet reported: has_remote
	 * stays false): the attempt is reported in this iteration, before
	 * any other could be started or finish.
	 */
	tr->peer_known = getpeername(tr->fd, (struct sockaddr *)&t->remote, &len) == 0;
	return tr->peer_known;
}

/*
 * Starts the next address the policy allows, put to the policy first: a
 * name cannot reach an address the policy denies (the attempt is
 * recorded as denied).  Stops at the first attempt in flight, or when no
 * address is left, or when another attempt would take an fd past the
 * bounds: the daemon's, or its owner's client-sockets and uid-sockets
 * (an attempt per connect is always allowed).
 */
static void
start_one(struct tcp_connect *c)
{
	struct tcp *t = c->t;
	uint64_t limit;

	while (c->next < c->n) {
		int i;

		if (c->inflight > 0 && (c->inflight >= TCP_TRIES_INFLIGHT ||
					t->eng->nsockets >= t->eng->conf->sockets || !t->owner ||
					t->eng->ev->accept_limit(t, &limit)))
			return;
		i = c->next++;
		struct tcp_attempt *a = &c->att[i];
		struct tcp_try *tr = &c->tries[i];
		const struct policy_rule *r;
		int fd, err;

		tr->started = ev_time();
		a->outcome = TCP_OUTCOME_PENDING;
		tcp_addr_effective(&a->address);
		r = t->eng->ev->judge(t, POLICY_CONNECT, t->host ? t->host : TCP_DEFAULT_HOST,
				      &a->address);
		if (r) {
			c->denied = r;
			c->denied_addr = a->address;
			try_over(c, i, TCP_OUTCOME_DENIED, 0);
			continue;
		}
		tr->judged_gen = *t->eng->policy_gen;
		fd = socket(a->address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			c->last_errno = err;
			try_over(c, i, TCP_OUTCOME_ERROR, err);
			if (err == EMFILE || err == ENFILE)
				c->n = c->next;		/* no more descriptors: the rest is not tried */
			continue;
		}
		tr->fd = fd;
		c->inflight++;
		t->eng->nsockets++;
		charge(c);
		tcp_apply_options_fd(t, fd);	/* before connect(2): buffer sizes set the window scale */
		tr->applied = t->opts;
		t->eng->ev->attempting(t);
		if (connect(fd, (struct sockaddr *)&a->address, tcp_addr_len(&a->address)) == 0 ||
		    errno == EINPROGRESS) {
			ev_io_init(&tr->io, on_try_ready, fd, EV_WRITE);
			ev_io_start(t->eng->loop, &tr->io);
			if (connected_now(t, tr))
				ev_feed_event(t->eng->loop, &tr->io, EV_WRITE);
			return;
		}
		err = errno;
		c->last_errno = err;
		try_over(c, i, err == ECONNREFUSED ? TCP_OUTCOME_REFUSED : TCP_OUTCOME_ERROR, err);
	}
}

/*
 * Moves the connect on: starts the next attempt and, racing, arms the
 * stagger for the one after; fails the connect when nothing is left in
 * flight.
 */
static void
launch(struct tcp_connect *c)
{
	struct ev_loop *loop = c->t->eng->loop;

	start_one(c);
	if (c->inflight == 0) {
		connect_failed(c->t);
		return;
	}
	ev_timer_stop(loop, &c->stagger);
	if (c->race && c->next < c->n) {
		ev_timer_set(&c->stagger, (double)c->t->eng->conf->happy_eyeballs_delay_ms / 1000.,
			     0.);
		ev_timer_start(loop, &c->stagger);
	}
}

static void
on_stagger(struct ev_loop *loop, ev_timer *w, int revents)
{
	launch((struct tcp_connect *)((char *)w - offsetof(struct tcp_connect, stagger)));
}

static void
on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp_connect *c = (struct tcp_connect *)((char *)w -
						       offsetof(struct tcp_connect, timer));

	if (tcp_tls_handshaking(c->t)) {
		tcp_tls_timed_out(c->t);	/* -32012 handshakeTimeout */
		return;
	}
	tcp_open_failed(c->t, NULL, -ETIMEDOUT);
}

/*
 * Takes the n addresses to try: racing, in the order RFC 8305 gives them
 * (families alternating, IPv6 first, each family in the resolver's
 * order); else in the resolver's order.  Returns 0 or -ENOMEM.
 */
static int
set_addresses(struct tcp_connect *c, const struct sockaddr_storage *addrs, int n)
{
	int k = 0;

	if (n > TCP_INLINE_TRIES) {
		void *p = calloc((size_t)n, sizeof(struct tcp_try) + sizeof(struct tcp_attempt));

		if (!p)
			return -ENOMEM;
		c->tries = p;
		c->att = (struct tcp_attempt *)(c->tries + n);
	}
	if (c->race) {
		int i6 = 0, i4 = 0;

		while (k < n) {
			while (i6 < n && addrs[i6].ss_family != AF_INET6)
				i6++;
			if (i6 < n)
				c->att[k++].address = addrs[i6++];
			while (i4 < n && addrs[i4].ss_family == AF_INET6)
				i4++;
			if (i4 < n && k < n)
				c->att[k++].address = addrs[i4++];
		}
	} else {
		for (; k < n; k++)
			c->att[k].address = addrs[k];
	}
	for (int i = 0; i < n; i++) {
		c->tries[i].c = c;
		c->tries[i].fd = -1;
	}
	c->n = n;
	return 0;
}

static void
on_resolved_connect(void *userdata, int status, const char *errname,
		    const struct dns_result *res)
{
	struct tcp_connect *c = userdata;

	c->dns_q = NULL;
	if (status != 0) {
		resolve_failed(c->t, errname);
		return;
	}
	if (set_addresses(c, res->addrs, res->count) < 0) {
		tcp_open_failed(c->t, NULL, -ENOMEM);
		return;
	}
	launch(c);
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
	struct tcp_connect *c;

	op->tcp = t;
	op->kind = TCP_OP_OPEN;
	t->connect_op = op;
	t->eof = t->eof_told = t->shut_wr = t->pumping = false;
	t->has_local = t->has_remote = false;
	t->tls = tcp_tls_free(t->tls);	/* an earlier connect's */
	tcp_connect_free(t);
	t->eng->ev->connecting(t, host, t->port < 0 ? 0 : t->port);
	tcp_set_state(t, TCP_STATE_CONNECTING);
	c = conn_new(t, true);
	if (!c) {
		tcp_open_failed(t, NULL, -ENOMEM);
		return;
	}
	c->race = t->happy_eyeballs != 0;
	if (timeout > 0) {
		ev_timer_set(&c->timer, (double)timeout / 1000., 0.);
		ev_timer_start(t->eng->loop, &c->timer);
	}
	if (tcp_addr_parse(host, t->port, &ss) == 0) {
		(void) set_addresses(c, &ss, 1);	/* inline: cannot fail */
		launch(c);
		return;
	}
	c->dns_q = dns_resolve(t->eng->dns, host, t->port, on_resolved_connect, c);
	if (!c->dns_q)
		tcp_open_failed(t, NULL, -ENOMEM);
}

static void
on_resolved_listen(void *userdata, int status, const char *errname,
		   const struct dns_result *res)
{
	struct tcp_connect *c = userdata;

	c->dns_q = NULL;
	if (status != 0) {
		resolve_failed(c->t, errname);
		return;
	}
	c->resolved(c->t, &res->addrs[0]);
}

/*
 * Resolves host for a listen on t (state connecting): done gets the first
 * address; a failure fails the listen.  Returns 0, or -ENOMEM.
 */
int
tcp_open_resolve(struct tcp *t, const char *host, int port,
		 void (*done)(struct tcp *t, const struct sockaddr_storage *ss))
{
	tcp_connect_free(t);
	if (!conn_new(t, false))
		return -ENOMEM;
	t->conn->resolved = done;
	t->conn->dns_q = dns_resolve(t->eng->dns, host, port, on_resolved_listen, t->conn);
	return t->conn->dns_q ? 0 : -ENOMEM;
}
