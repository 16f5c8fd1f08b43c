/*
 * tcp: socket objects, their state machine, closing and lifetime.
 *
 * A socket is in exactly one list (->where): its owner's open or closed
 * list, the daemon's orphans (lingering after the owner vanished), or the
 * graveyard.  Closing answers every pending request exactly once; how a
 * connection is closed (lingering, and what a reset lost) is tcp-close.c.
 */
#include "config.h"

#include <stddef.h>
#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "monitor.h"
#include "daemon.h"
#include "dns.h"
#include "idmap.h"
#include "proto-errors.h"
#include "rpc.h"
#include "tcp.h"
#include "tcp-kinfo.h"

static const char *const state_names[_TCP_STATE_MAX] = {
	[TCP_STATE_INITIALIZED] = "initialized",
	[TCP_STATE_CONNECTING] = "connecting",
	[TCP_STATE_CONNECTED] = "connected",
	[TCP_STATE_LISTENING] = "listening",
	[TCP_STATE_CLOSING] = "closing",
	[TCP_STATE_CLOSED] = "closed",
	[TCP_STATE_ERROR] = "error",
};

const char *
tcp_state_name(enum tcp_state s)
{
	return (unsigned)s < _TCP_STATE_MAX ? state_names[s] : "invalid";
}

/* The state as clients see it: a closing socket is already closed for them. */
enum proto_state
tcp_proto_state(const struct tcp *t)
{
	switch (t->state) {
	case TCP_STATE_INITIALIZED:	return PROTO_STATE_INITIALIZED;
	case TCP_STATE_CONNECTING:	return PROTO_STATE_CONNECTING;
	case TCP_STATE_CONNECTED:	return PROTO_STATE_CONNECTED;
	case TCP_STATE_LISTENING:	return PROTO_STATE_LISTENING;
	case TCP_STATE_ERROR:		return PROTO_STATE_ERROR;
	default:		return PROTO_STATE_CLOSED;
	}
}

void
tcp_set_state(struct tcp *t, enum tcp_state s)
{
	if (t->state == s)
		return;
	log_debug("tcp#%llu: %s -> %s", (unsigned long long)t->id, tcp_state_name(t->state),
		  tcp_state_name(s));
	if (monitor_on(t->d)) {
		enum tcp_state from = t->state;

		t->state = s;
		monitor_state(t->d, t, tcp_state_name(from), tcp_state_name(s));
	}
	t->state = s;
}

/*
 * A new socket of owner in state initialized, with the next id.  Returns
 * it, or NULL on OOM.
 */
struct tcp *
tcp_new(struct daemon *d, struct ctl *owner)
{
	struct tcp *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	*t = (struct tcp){
		.d = d, .owner = owner, .id = ++d->next_socket, .fd = -1,
		.state = TCP_STATE_INITIALIZED, .created = ev_now(d->loop),
		.port = -1, .listen_queue = -1, .timeout_ms = -1,
		.no_delay = -1, .keep_alive = -1, .keep_alive_idle = -1,
		.chunk_size = PROTO_READ_DEFAULT, .where = TCP_IN_SOCKETS,
	};
	if (idmap_put(d->sockets, t->id, t) < 0) {
		free(t);
		return NULL;
	}
	TAILQ_INIT(&t->reads);
	TAILQ_INIT(&t->writes);
	TAILQ_INIT(&t->accepts);
	TAILQ_INIT(&t->closes);
	ev_init(&t->rio, NULL);
	ev_init(&t->wio, NULL);
	ev_init(&t->connect_timer, NULL);
	t->run_item.run = tcp_read_turn;
	t->stall_item.run = tcp_wake;
	tcp_close_init(t);
	TAILQ_INSERT_TAIL(&owner->sockets, t, link);
	owner->nsockets++;
	d->counters.sockets_total++;
	if (monitor_on(d))
		monitor_event(d, owner, t, "create");
	return t;
}

/* Frees a socket from the graveyard.  Returns NULL. */
struct tcp *
tcp_free(struct tcp *t)
{
	if (!t)
		return NULL;
	assert(TAILQ_EMPTY(&t->reads) && TAILQ_EMPTY(&t->writes));
	flow_cancel(&t->run_item);
	flow_unstall(&t->stall_item);
	free(t->host);
	free(t->addrs);
	free(t->gone_owner);
	free(t);
	return NULL;
}

/* Adopts fd (non-blocking, close-on-exec) as the socket's descriptor. */
void
tcp_set_fd(struct tcp *t, int fd)
{
	assert(t->fd < 0);
	t->fd = fd;
	ev_io_set(&t->rio, fd, EV_READ);
	ev_io_set(&t->wio, fd, EV_WRITE);
	t->d->nsockets++;
}

/* Stops the watchers and closes the fd; reset sends RST instead of FIN. */
void
tcp_close_fd(struct tcp *t, bool reset)
{
	struct daemon *d = t->d;

	tcp_channel_drop(t);
	ev_io_stop(d->loop, &t->rio);
	ev_io_stop(d->loop, &t->wio);
	flow_cancel(&t->run_item);
	ev_timer_stop(d->loop, &t->connect_timer);
	if (t->accept_paused) {
		TAILQ_REMOVE(&d->paused_listeners, t, pause_link);
		t->accept_paused = false;
	}
	if (t->owner)
		ctl_unstall(t->owner, t);
	if (t->fd < 0)
		return;
	if (reset) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		(void) setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	(void) close(t->fd);
	t->fd = -1;
	d->nsockets--;
	daemon_fd_freed(d);
}

static void
pending_sub(struct tcp *t, size_t n)
{
	t->pending_write_bytes -= n;
	if (t->owner) {
		flow_pending_sub(&t->owner->acct, n);
		ctl_budget_changed(t->owner);
	}
}

/* Answers and frees every call of l with e. */
void
tcp_cancel_list(struct rpc_call_list *l, const struct rpc_error *e)
{
	struct rpc_call *call;

	while ((call = TAILQ_FIRST(l))) {
		TAILQ_REMOVE(l, call, q_link);
		if (call->method == PROTO_M_TCP_WRITE)
			pending_sub(call->tcp, call->u.write.len - call->u.write.off);
		rpc_reply_error(call, e);
		rpc_call_free(call);
	}
}

/*
 * Answers every pending write of t with e plus, in data, how much of it
 * was handed to the kernel (written) and how much of it never left this
 * host (undeliveredBytes), by t->loss: the kernel's unsent bytes are the
 * last ones handed to it, so only the head write may have some of its
 * written bytes out.
 */
void
tcp_fail_writes(struct tcp *t, const struct rpc_error *e)
{
	uint64_t unsent = t->loss.kernel_unsent;
	struct rpc_call *call;

	while ((call = TAILQ_FIRST(&t->writes))) {
		struct rpc_error we = *e;
		size_t off = call->u.write.off, len = call->u.write.len;
		uint64_t out = off > unsent ? off - unsent : 0;

		TAILQ_REMOVE(&t->writes, call, q_link);
		pending_sub(t, len - off);
		we.cut = true;
		we.written = off;
		we.undelivered = len - out;
		rpc_reply_error(call, &we);
		rpc_call_free(call);
	}
}

static void
cancel_one(struct rpc_call **slot, const struct rpc_error *e)
{
	struct rpc_call *call = *slot;

	if (!call)
		return;
	*slot = NULL;
	rpc_reply_error(call, e);
	rpc_call_free(call);
}

/* Stops resolution and connect attempts. */
static void
tcp_stop_connect(struct tcp *t)
{
	dns_cancel(t->dns_q);
	t->dns_q = NULL;
	free(t->addrs);
	t->addrs = NULL;
	ev_timer_stop(t->d->loop, &t->connect_timer);
}

/*
 * Answers with e everything pending on t but its writes and closes: the
 * connect (resolution stopped), reads, accepts and a shutdown.  Pump
 * mode ends.
 */
void
tcp_cancel_pending(struct tcp *t, const struct rpc_error *e)
{
	tcp_stop_connect(t);
	cancel_one(&t->connect_call, e);
	tcp_cancel_list(&t->reads, e);
	tcp_cancel_list(&t->accepts, e);
	cancel_one(&t->shutdown_call, e);
	t->pumping = false;
}

/*
 * A network error on an open socket: every pending read, write and
 * shutdown gets it; with none pending, one tcp.error notification does.
 * The socket is closed and left in state error.
 */
void
tcp_fail(struct tcp *t, int err)
{
	struct rpc_error e = { .code = PROTO_E_NETWORK, .socket = (int64_t)t->id,
			       .message = "network error", .sys_errno = err };
	bool told = !TAILQ_EMPTY(&t->reads) || !TAILQ_EMPTY(&t->writes) || t->shutdown_call;
	struct proto_jw w;

	log_debug("tcp#%llu: %s", (unsigned long long)t->id, strerror(err));
	if (monitor_on(t->d)) {
		struct proto_jw *mw = monitor_begin(t->d, NULL, t, "error");
		const char *name = proto_errno_name(err);

		proto_jw_kint(mw, "errno", err);
		proto_jw_kstr(mw, "errname", name ? name : "EUNKNOWN");
		proto_jw_kstr(mw, "message", strerror(err));
		monitor_end(t->d);
	}
	if (t->state == TCP_STATE_CLOSING) {
		/* Closed for the client already: the close just ends early. */
		tcp_end(t, true, &e, NULL);
		return;
	}
	tcp_measure_loss(t, true);
	tcp_cancel_list(&t->reads, &e);
	tcp_fail_writes(t, &e);
	cancel_one(&t->shutdown_call, &e);
	t->pumping = false;
	tcp_close_fd(t, false);
	tcp_set_state(t, TCP_STATE_ERROR);
	if (!told && rpc_notify_begin(t->owner, &w, PROTO_N_TCP_ERROR)) {
		const char *name = proto_errno_name(err);

		proto_jw_obj_begin(&w);
		proto_jw_kint(&w, "socket", (int64_t)t->id);
		proto_jw_kint(&w, "code", PROTO_E_NETWORK);
		proto_jw_kstr(&w, "message", strerror(err));
		proto_jw_kint(&w, "errno", err);
		proto_jw_kstr(&w, "errname", name ? name : "EUNKNOWN");
		proto_jw_obj_end(&w);
		rpc_notify_end(t->owner, &w);
	}
}

/* A channel ended both ways: the socket is done, closed gracefully. */
void
tcp_channel_closed(struct tcp *t)
{
	tcp_close_fd(t, false);
	tcp_set_state(t, TCP_STATE_CLOSED);
	tcp_retire(t);
}

/* The channel's client end went away with bytes still to come: reset. */
void
tcp_channel_reset(struct tcp *t)
{
	tcp_close_fd(t, true);
	tcp_set_state(t, TCP_STATE_CLOSED);
	tcp_retire(t);
}

/*
 * Moves a socket that has just become closed to its owner's closed list
 * (an orphan is forgotten instead).
 */
void
tcp_retire(struct tcp *t)
{
	struct ctl *c = t->owner;

	if (!c) {
		tcp_forget(t);
		return;
	}
	assert(t->where == TCP_IN_SOCKETS);
	TAILQ_REMOVE(&c->sockets, t, link);
	c->nsockets--;
	TAILQ_INSERT_TAIL(&c->closed, t, link);
	t->where = TCP_IN_CLOSED;
	c->nclosed++;
	if (c->nclosed > CTL_CLOSED_KEEP)
		tcp_forget(TAILQ_FIRST(&c->closed));
	ctl_socket_closed(c);
}

/*
 * Drops every trace of t: out of its list and the id map (its id now
 * answers -32001), fd closed, into the graveyard.
 */
void
tcp_forget(struct tcp *t)
{
	struct daemon *d = t->d;
	struct rpc_error e = { .code = PROTO_E_CLOSED, .socket = (int64_t)t->id };

	tcp_cancel_pending(t, &e);
	tcp_cancel_list(&t->writes, &e);
	tcp_cancel_list(&t->closes, &e);
	ev_timer_stop(d->loop, &t->linger_timer);
	ev_timer_stop(d->loop, &t->ack_timer);
	tcp_close_fd(t, false);
	switch (t->where) {
	case TCP_IN_SOCKETS:
		TAILQ_REMOVE(&t->owner->sockets, t, link);
		t->owner->nsockets--;
		ctl_socket_closed(t->owner);
		break;
	case TCP_IN_CLOSED:
		TAILQ_REMOVE(&t->owner->closed, t, link);
		t->owner->nclosed--;
		break;
	case TCP_IN_ORPHANS:
		TAILQ_REMOVE(&d->orphans, t, link);
		break;
	case TCP_IN_DEAD:
		return;
	}
	idmap_remove(d->sockets, t->id);
	t->owner = NULL;
	TAILQ_INSERT_TAIL(&d->dead_tcps, t, link);
	t->where = TCP_IN_DEAD;
}

/* Applies the socket options that were asked for to the fd, if any. */
void
tcp_apply_options(struct tcp *t)
{
	if (t->fd < 0 || t->state == TCP_STATE_LISTENING)
		return;
	if (t->no_delay >= 0)
		(void) setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &t->no_delay, sizeof(int));
	if (t->keep_alive >= 0)
		(void) setsockopt(t->fd, SOL_SOCKET, SO_KEEPALIVE, &t->keep_alive, sizeof(int));
	if (t->keep_alive_idle > 0)
		(void) setsockopt(t->fd, IPPROTO_TCP, TCP_KEEPIDLE, &t->keep_alive_idle,
				  sizeof(int));
}

/*
 * Asks the policy whether t's owner may do action on ss (host: the name
 * the client gave, or NULL).  Every decision is logged with [policy]
 * audit = yes; denials are counted, and shown to monitors.  Returns NULL
 * when allowed, else the rule that denies.
 */
const struct policy_rule *
tcp_policy_denies(struct tcp *t, enum policy_action action, const char *host,
		  const struct sockaddr_storage *ss)
{
	struct daemon *d = t->d;
	const struct policy_rule *r;
	char addr[INET6_ADDRSTRLEN + 8] = "?";
	bool allowed;

	if (!t->owner || !d->conf.policy)
		return NULL;	/* lingering: nothing new is started for it */
	r = policy_check(d->conf.policy, &t->owner->subject, action, host,
			 (const struct sockaddr *)ss);
	allowed = policy_rule_allows(r);
	if (!allowed)
		d->counters.policy_denials++;
	if (d->conf.policy->audit || monitor_on(d))
		rpc_format_endpoint(ss, addr, sizeof(addr));
	if (d->conf.policy->audit)
		log_notice("policy: %s %s by uid %d pid %d (%s) to %s%s%s: rule %d: %s",
			   allowed ? "allowed" : "denied", policy_action_name(action),
			   (int)t->owner->cred.uid, (int)t->owner->cred.pid, t->owner->desc, addr,
			   host ? " as " : "", host ? host : "", policy_rule_line(r),
			   policy_rule_text(r));
	if (!allowed && monitor_on(d)) {
		struct proto_jw *w = monitor_begin(d, NULL, t, "denied");

		proto_jw_kstr(w, "action", policy_action_name(action));
		rpc_write_endpoint(w, "address", ss);
		proto_jw_kstr(w, "rule", policy_rule_text(r));
		monitor_end(d);
	}
	return allowed ? NULL : r;
}

/* Writes the tcp.info object of t. */
void
tcp_write_info(struct proto_jw *w, const struct tcp *t)
{
	enum proto_state ps = tcp_proto_state(t);

	proto_jw_obj_begin(w);
	proto_jw_kint(w, "socket", (int64_t)t->id);
	proto_jw_kstr(w, "state", proto_state_name(ps));
	proto_jw_kint(w, "stateCode", proto_state_code(ps));
	proto_jw_kstr(w, "host", t->host ? t->host : "127.0.0.1");
	proto_jw_kint(w, "port", t->port < 0 ? 0 : t->port);
	if (t->has_local)
		rpc_write_endpoint(w, "local", &t->local);
	if (t->has_remote)
		rpc_write_endpoint(w, "remote", &t->remote);
	proto_jw_kint(w, "listenQueueSize", t->listen_queue < 0 ? SOMAXCONN : t->listen_queue);
	proto_jw_kint(w, "timeout", t->timeout_ms < 0 ? (int64_t)t->d->conf.connect_timeout_ms
						       : t->timeout_ms);
	proto_jw_kuint(w, "bytesRead", t->bytes_read);
	proto_jw_kuint(w, "bytesWritten", t->bytes_written);
	proto_jw_kuint(w, "pendingWriteBytes", t->pending_write_bytes);
	proto_jw_kbool(w, "pumping", t->pumping);
	proto_jw_kbool(w, "channel", t->channel != NULL);
	proto_jw_key(w, "owner");
	proto_jw_obj_begin(w);
	proto_jw_kuint(w, "client", t->owner ? t->owner->num : 0);
	if (t->owner) {
		proto_jw_kint(w, "pid", (int64_t)t->owner->cred.pid);
		proto_jw_kint(w, "uid", (int64_t)t->owner->cred.uid);
		proto_jw_kint(w, "gid", (int64_t)t->owner->cred.gid);
		proto_jw_key(w, "groups");
		proto_jw_arr_begin(w);
		for (size_t i = 0; i < t->owner->subject.ngroups; i++)
			proto_jw_int(w, (int64_t)t->owner->subject.groups[i]);
		proto_jw_arr_end(w);
	}
	proto_jw_obj_end(w);
	proto_jw_kuint(w, "ageMs", (uint64_t)((ev_now(t->d->loop) - t->created) * 1000.));
	if (t->fd >= 0 && (t->state == TCP_STATE_CONNECTED || t->state == TCP_STATE_CLOSING)) {
		struct tcp_kinfo k;

		if (tcp_kinfo_get(t->fd, &k) == 0)
			tcp_kinfo_write(w, "tcpInfo", &k);
	}
	proto_jw_obj_end(w);
}
