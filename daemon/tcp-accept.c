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

#include "ctl.h"
#include "monitor.h"
#include "quota.h"
#include "daemon.h"
#include "proto-errors.h"
#include "rpc.h"
#include "tcp.h"

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

static void
accept_done(struct tcp *t, struct rpc_call *call, struct tcp *nt)
{
	struct proto_jw w;

	TAILQ_REMOVE(&t->accepts, call, q_link);
	if (monitor_on(t->d)) {
		struct proto_jw *mw = monitor_begin(t->d, NULL, t, "accept");

		proto_jw_kuint(mw, "inbound", nt->id);
		rpc_write_endpoint(mw, "local", &nt->local);
		rpc_write_endpoint(mw, "remote", &nt->remote);
		monitor_end(t->d);
	}
	if (rpc_result_begin(call, &w)) {
		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kint(&w, "inbound", (int64_t)nt->id);
		proto_jw_kstr(&w, "state", "connected");
		rpc_write_endpoint(&w, "local", &nt->local);
		rpc_write_endpoint(&w, "remote", &nt->remote);
		proto_jw_obj_end(&w);
	}
	rpc_result_end(call, &w);
	rpc_call_free(call);
}

static void
accept_refused(struct tcp *t, struct rpc_call *call, const char *limit, uint64_t value)
{
	TAILQ_REMOVE(&t->accepts, call, q_link);
	rpc_reply_error(call, &(struct rpc_error){
		.code = PROTO_E_LIMIT, .socket = (int64_t)t->id, .limit = limit,
		.limit_value = (int64_t)value });
	rpc_call_free(call);
}

static void
pause_accept(struct tcp *t)
{
	struct daemon *d = t->d;

	if (!t->accept_paused) {
		t->accept_paused = true;
		TAILQ_INSERT_TAIL(&d->paused_listeners, t, pause_link);
	}
	daemon_accept_pause(d);
}

static void
tcp_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp *t = (struct tcp *)((char *)w - offsetof(struct tcp, rio));
	struct daemon *d = t->d;

	for (int i = 0; i < TCP_ACCEPTS_PER_WAKEUP && !TAILQ_EMPTY(&t->accepts); i++) {
		struct rpc_call *call = TAILQ_FIRST(&t->accepts);
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct tcp *nt;
		int fd;

		if (!t->owner)
			break;
		if (t->owner->nsockets >= d->conf.client_sockets) {
			accept_refused(t, call, "clientSockets", d->conf.client_sockets);
			continue;
		}
		if (d->nsockets >= d->conf.sockets) {
			accept_refused(t, call, "sockets", d->conf.sockets);
			continue;
		}
		if (quota_uid_sockets(t->owner->quser) >= d->conf.uid_sockets) {
			accept_refused(t, call, "uidSockets", d->conf.uid_sockets);
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
			TAILQ_REMOVE(&t->accepts, call, q_link);
			rpc_reply_errno(call, -errno, (int64_t)t->id);
			rpc_call_free(call);
			continue;
		}
		if (tcp_policy_denies(t, POLICY_ACCEPT, NULL, &ss)) {
			/* Refused: reset at once; the accept waits for the next peer. */
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			(void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			(void) close(fd);
			continue;
		}
		nt = tcp_new(d, t->owner);
		if (!nt) {
			(void) close(fd);
			TAILQ_REMOVE(&t->accepts, call, q_link);
			rpc_reply_errno(call, -ENOMEM, (int64_t)t->id);
			rpc_call_free(call);
			continue;
		}
		set_peer(nt, &ss);
		tcp_set_fd(nt, fd);
		tcp_set_state(nt, TCP_STATE_CONNECTED);
		tcp_io_connected(nt);
		len = sizeof(nt->local);
		nt->has_local = getsockname(fd, (struct sockaddr *)&nt->local, &len) == 0;
		nt->remote = ss;
		nt->has_remote = true;
		nt->no_delay = call->u.accept.no_delay;
		nt->keep_alive = call->u.accept.keep_alive;
		tcp_apply_options(nt);
		accept_done(t, call, nt);
	}
	tcp_update_io(t);
}

/* Makes the read watcher of a socket that has just started listening accept. */
void
tcp_accept_init(struct tcp *t)
{
	ev_set_cb(&t->rio, tcp_on_accept);
}

/* Queues a deferred accept on the listener t.  Returns RPC_DEFERRED. */
int
tcp_accept_queue(struct tcp *t, struct rpc_call *call, int64_t timeout_ms)
{
	TAILQ_INSERT_TAIL(&t->accepts, call, q_link);
	tcp_start_call_timer(call, timeout_ms);
	tcp_update_io(t);
	return RPC_DEFERRED;
}

/* An fd may be free again: a paused listener tries once more. */
void
tcp_accept_resume(struct tcp *t)
{
	if (t->accept_paused) {
		TAILQ_REMOVE(&t->d->paused_listeners, t, pause_link);
		t->accept_paused = false;
	}
	tcp_update_io(t);
}
