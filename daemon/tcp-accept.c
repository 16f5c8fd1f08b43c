/*
 * tcp-accept: accepting inbound connections on a listening socket.
 *
 * The listener is polled only while a tcp.accept is pending, so
 * connections nobody asked for wait in the kernel's backlog.  On EMFILE or
 * ENFILE the listener pauses (no spinning on a connection it cannot take)
 * until the daemon frees an fd or its retry timer fires.
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

#include "proto-errors.h"
#include "tcp.h"
#include "tcp-tls.h"

#define TCP_ACCEPTS_PER_WAKEUP 16

static void
set_peer(struct tcp *nt, const struct sockaddr_storage *ss)
{
	char addr[INET6_ADDRSTRLEN] = "";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		nt->port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		nt->port = ntohs(s4->sin_port);
	}
	nt->host = strdup(addr);
}

/* The accept op is over: the inbound socket nt is connected. */
static void
accept_done(struct tcp *t, struct tcp_op *op, struct tcp *nt)
{
	TAILQ_REMOVE(&t->accepts, op, q_link);
	t->eng->ev->accepted(t, op, nt);
}

static void
accept_failed(struct tcp *t, struct tcp_op *op, const struct tcp_error *e)
{
	TAILQ_REMOVE(&t->accepts, op, q_link);
	t->eng->ev->op_failed(t, op, e);
}

static void
pause_accept(struct tcp *t)
{
	struct tcp_engine *eng = t->eng;

	if (!t->accept_paused) {
		t->accept_paused = true;
		TAILQ_INSERT_TAIL(&eng->paused, t, pause_link);
	}
	eng->ev->accept_paused(eng->up);
}

static void
tcp_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp *t = (struct tcp *)((char *)w - offsetof(struct tcp, rio));
	struct tcp_engine *eng = t->eng;

	for (int i = 0; i < TCP_ACCEPTS_PER_WAKEUP && !TAILQ_EMPTY(&t->accepts); i++) {
		struct tcp_op *call = TAILQ_FIRST(&t->accepts);
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		const char *limit;
		uint64_t value;
		int fd;

		if (!t->owner)
			break;
		/* (A TLS listener's handshakes under way count as its owner's sockets.) */
		limit = eng->ev->accept_limit(t, &value);
		if (limit) {
			accept_failed(t, call, &(struct tcp_error){
				.code = PROTO_E_LIMIT, .limit = limit, .limit_value = (int64_t)value });
			continue;
		}
		fd = accept4(t->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN)
				break;
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				pause_accept(t);
				break;
			}
			accept_failed(t, call, &(struct tcp_error){ .sys_errno = errno });
			continue;
		}
		if (eng->ev->judge(t, POLICY_ACCEPT, NULL, &ss)) {
			/* Refused: reset at once; the accept waits for the next peer. */
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			(void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			(void) close(fd);
			continue;
		}
		if (t->tls_cfg) {
			/* The handshake first; the accept answers once it is done. */
			tcp_tls_accept(t, fd, &ss);
			if (!tcp_tls_accept_room(t))
				break;
			continue;
		}
		(void) tcp_accept_hand(t, fd, &ss, NULL);
	}
	tcp_update_io(t);
}

/*
 * Gives the oldest pending accept of t the connection fd from ss (with
 * its TLS, done, or NULL): a new connected socket.  Returns false when
 * the accept was answered with an error instead (fd is the caller's).
 */
bool
tcp_accept_hand(struct tcp *t, int fd, const struct sockaddr_storage *ss, struct tcp_tls *tls)
{
	struct tcp_engine *eng = t->eng;
	struct tcp_op *call = TAILQ_FIRST(&t->accepts);
	const char *limit;
	uint64_t value;
	socklen_t len;
	struct tcp *nt;

	if (tls && (limit = eng->ev->accept_limit(t, &value))) {
		accept_failed(t, call, &(struct tcp_error){
			.code = PROTO_E_LIMIT, .limit = limit, .limit_value = (int64_t)value });
		return false;
	}
	nt = tcp_new(eng, t->owner);
	if (!nt) {
		if (!tls)
			(void) close(fd);
		accept_failed(t, call, &(struct tcp_error){ .sys_errno = ENOMEM });
		return false;
	}
	set_peer(nt, ss);
	tcp_set_fd(nt, fd);
	nt->tls = tls;
	tcp_set_state(nt, TCP_STATE_CONNECTED);
	tcp_io_connected(nt);
	len = sizeof(nt->local);
	nt->has_local = getsockname(fd, (struct sockaddr *)&nt->local, &len) == 0;
	nt->remote = *ss;
	nt->has_remote = true;
	nt->opts = call->u.accept.opts;
	tcp_apply_options(nt);
	if (tls)
		eng->ev->tls(nt, NULL, false);
	accept_done(t, call, nt);
	return true;
}

/* Makes the read watcher of a socket that has just started listening accept. */
void
tcp_accept_init(struct tcp *t)
{
	ev_set_cb(&t->rio, tcp_on_accept);
}

/* Queues an accept on the listener t (options for the inbound socket in op->u.accept). */
void
tcp_accept_queue(struct tcp *t, struct tcp_op *op, int64_t timeout_ms)
{
	op->tcp = t;
	op->kind = TCP_OP_ACCEPT;
	TAILQ_INSERT_TAIL(&t->accepts, op, q_link);
	tcp_start_op_timer(op, timeout_ms);
	(void) tcp_tls_accept_ready(t);	/* an inbound TLS connection may be waiting */
	tcp_update_io(t);
}

/* An fd may be free again: a paused listener tries once more. */
void
tcp_accept_resume(struct tcp *t)
{
	if (t->accept_paused) {
		TAILQ_REMOVE(&t->eng->paused, t, pause_link);
		t->accept_paused = false;
	}
	tcp_update_io(t);
}
