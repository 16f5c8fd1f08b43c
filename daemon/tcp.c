/*
 * tcp: socket objects, their state machine, closing and lifetime.
 *
 * A socket is in exactly one list (->where): its owner's open or closed
 * list, the daemon's orphans (lingering after the owner vanished), or the
 * graveyard.  Closing answers every pending request exactly once.
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
#include "metrics.h"
#include "proto-errors.h"
#include "rpc.h"
#include "tcp.h"

static void tcp_on_linger(struct ev_loop *loop, ev_timer *w, int revents);
static void tcp_finish_close(struct tcp *t, bool reset);
static void tcp_retire(struct tcp *t);

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
	ev_init(&t->linger_timer, tcp_on_linger);
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
	free(t->host);
	free(t->addrs);
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
		t->owner->pending_write_bytes -= n;
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
static void
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
		tcp_cancel_list(&t->writes, &e);
		tcp_finish_close(t, true);
		return;
	}
	tcp_cancel_list(&t->reads, &e);
	tcp_cancel_list(&t->writes, &e);
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

/* Moves a socket that has just become closed to its owner's closed list. */
static void
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
}

/* Ends a close: fd closed, state closed, every close request answered. */
static void
tcp_finish_close(struct tcp *t, bool reset)
{
	struct rpc_call *call;

	ev_timer_stop(t->d->loop, &t->linger_timer);
	tcp_close_fd(t, reset);
	tcp_set_state(t, TCP_STATE_CLOSED);
	while ((call = TAILQ_FIRST(&t->closes))) {
		TAILQ_REMOVE(&t->closes, call, q_link);
		rpc_reply_state(call, t);
		rpc_call_free(call);
	}
	tcp_retire(t);
}

static void
tcp_on_linger(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp *t = (struct tcp *)((char *)w - offsetof(struct tcp, linger_timer));
	struct rpc_error e = { .code = PROTO_E_CLOSED, .socket = (int64_t)t->id,
			       .message = "linger time expired before the data was sent" };

	log_event(LOG_INFO, &(struct log_fields){ .message_id = LOG_MID_LINGER_EXPIRED,
		  .socket = t->id, .client = t->owner != NULL,
		  .client_uid = t->owner ? t->owner->cred.uid : 0,
		  .client_pid = t->owner ? t->owner->cred.pid : 0 },
		  "tcp#%llu: linger time expired with %zu bytes unsent, resetting",
		  (unsigned long long)t->id, t->pending_write_bytes);
	tcp_cancel_list(&t->writes, &e);
	tcp_finish_close(t, true);
}

/* Called when the write queue of a closing socket has drained. */
void
tcp_writes_drained(struct tcp *t)
{
	if (t->state == TCP_STATE_CLOSING)
		tcp_finish_close(t, false);
}

/*
 * tcp.close.  Pending reads, accepts, connect and shutdown get -32004; a
 * graceful close of a connected socket with writes queued waits for them
 * (bounded by linger-ms) and answers when done.  Returns 0 (answered) or
 * RPC_DEFERRED.
 */
int
tcp_close(struct tcp *t, struct rpc_call *call, bool abort)
{
	struct rpc_error e = { .code = PROTO_E_CLOSED, .socket = (int64_t)t->id };
	struct rpc_call *dc;

	if (t->state == TCP_STATE_CLOSING && abort) {
		/*
		 * A graceful close under way, cut short: the unsent writes get
		 * -32004, the connection is reset, the linger timer stops, and
		 * the first close is answered too.
		 */
		tcp_cancel_list(&t->writes, &e);
		tcp_finish_close(t, true);
		rpc_reply_state(call, t);
		return 0;
	}
	if (t->state == TCP_STATE_CLOSED || t->state == TCP_STATE_CLOSING) {
		if (t->state == TCP_STATE_CLOSING && (dc = rpc_call_defer(call, t))) {
			TAILQ_INSERT_TAIL(&t->closes, dc, q_link);
			return RPC_DEFERRED;
		}
		rpc_reply_state(call, t);
		return 0;
	}
	tcp_cancel_pending(t, &e);
	if (!abort && t->state == TCP_STATE_CONNECTED && !TAILQ_EMPTY(&t->writes) &&
	    (dc = rpc_call_defer(call, t))) {
		tcp_set_state(t, TCP_STATE_CLOSING);
		ev_io_stop(t->d->loop, &t->rio);
		if (t->owner)
			ctl_unstall(t->owner, t);
		TAILQ_INSERT_TAIL(&t->closes, dc, q_link);
		ev_timer_set(&t->linger_timer, (double)t->d->conf.linger_ms / 1000., 0.);
		ev_timer_start(t->d->loop, &t->linger_timer);
		return RPC_DEFERRED;
	}
	tcp_cancel_list(&t->writes, &e);
	tcp_close_fd(t, abort && t->state != TCP_STATE_LISTENING);
	tcp_set_state(t, TCP_STATE_CLOSED);
	tcp_retire(t);
	rpc_reply_state(call, t);
	return 0;
}

/*
 * The owner is going away.  A socket with writes to flush lingers as an
 * orphan until they are sent (or linger-ms passes); anything else is
 * closed and forgotten now.  Pending answers go nowhere.
 */
void
tcp_orphan(struct tcp *t)
{
	struct rpc_error e = { .code = PROTO_E_CLOSED, .socket = (int64_t)t->id };
	struct ctl *c = t->owner;
	struct daemon *d = t->d;

	tcp_cancel_pending(t, &e);
	if ((t->state == TCP_STATE_CONNECTED || t->state == TCP_STATE_CLOSING) && !TAILQ_EMPTY(&t->writes)) {
		ctl_unstall(c, t);
		c->pending_write_bytes -= t->pending_write_bytes;
		TAILQ_REMOVE(&c->sockets, t, link);
		c->nsockets--;
		t->owner = NULL;
		TAILQ_INSERT_TAIL(&d->orphans, t, link);
		t->where = TCP_IN_ORPHANS;
		ev_io_stop(d->loop, &t->rio);
		if (t->state != TCP_STATE_CLOSING) {
			tcp_set_state(t, TCP_STATE_CLOSING);
			ev_timer_set(&t->linger_timer, (double)d->conf.linger_ms / 1000., 0.);
			ev_timer_start(d->loop, &t->linger_timer);
		}
		return;
	}
	tcp_cancel_list(&t->writes, &e);
	tcp_forget(t);
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
	tcp_close_fd(t, false);
	switch (t->where) {
	case TCP_IN_SOCKETS:
		TAILQ_REMOVE(&t->owner->sockets, t, link);
		t->owner->nsockets--;
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
	if (!allowed) {
		d->counters.policy_denials++;
		metrics_count_denial(d, r);
	}
	if (d->conf.policy->audit || monitor_on(d))
		rpc_format_endpoint(ss, addr, sizeof(addr));
	if (d->conf.policy->audit)
		log_event(LOG_NOTICE, &(struct log_fields){
			  .message_id = allowed ? LOG_MID_POLICY_ALLOWED : LOG_MID_POLICY_DENIED,
			  .socket = t->id, .client = true, .client_uid = t->owner->cred.uid,
			  .client_pid = t->owner->cred.pid, .dest = addr, .rule = policy_rule_text(r) },
			  "policy: %s %s by uid %d pid %d (%s) to %s%s%s: rule %d: %s",
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
	proto_jw_obj_end(w);
}
