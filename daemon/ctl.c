/*
 * ctl: control connections.
 *
 * Input (ctl-input.c): read in CTL_READ_CHUNK pieces straight into the
 * line reader, then dispatch complete lines.  A client over its budget
 * (queued output plus accepted-but-unsent write bytes) or at its request
 * cap is not read; it resumes below half its budget.  Output: answers are queued in ->out and
 * written once per loop iteration from the daemon's prepare watcher;
 * EV_WRITE is used only while the kernel refuses more.
 */
#include "config.h"

#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "fdstore.h"
#include "monitor.h"
#include "quota.h"
#include "proto-reader.h"
#include "rpc.h"
#include "tcp.h"

static void ctl_on_write(struct ev_loop *loop, ev_io *w, int revents);
static void ctl_on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents);

static size_t
ctl_budget_used(const struct ctl *c)
{
	return proto_buf_used(&c->out) + c->acct.pending_write + c->batch_bytes;
}

bool
ctl_over_budget(const struct ctl *c)
{
	return ctl_budget_used(c) > c->d->conf.client_budget;
}

/* Schedules c for the next flush (output, and buffered input to process). */
void
ctl_schedule(struct ctl *c)
{
	if (!c->in_flush && !(c->flags & CTL_DEAD)) {
		TAILQ_INSERT_TAIL(&c->d->flush, c, flush_link);
		c->in_flush = true;
	}
}

/* The live client numbered n, or NULL. */
struct ctl *
ctl_find_num(struct daemon *d, uint64_t n)
{
	struct ctl *c;

	TAILQ_FOREACH(c, &d->ctls, link)
		if (c->num == n)
			return c;
	return NULL;
}

/*
 * Takes ownership of the accepted fd and starts reading it.  Returns the
 * ctl, or NULL on OOM (fd closed).
 */
struct ctl *
ctl_new(struct daemon *d, int fd)
{
	struct ctl *c = calloc(1, sizeof(*c));
	socklen_t len = sizeof(c->cred);

	if (!c || !(c->reader = proto_reader_new(d->conf.max_message_bytes))) {
		free(c);
		(void) close(fd);
		return NULL;
	}
	c->d = d;
	c->fd = fd;
	c->num = ++d->next_client;
	c->cred = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0)
		log_debug("ctl#%llu: SO_PEERCRED failed, ignoring: %m",
			  (unsigned long long)c->num);
	quota_attach(c);
	flow_account_init(&c->acct, c->quser ? &c->quser->acct : NULL, d->conf.client_notify);
	c->subject = (struct policy_subject){ .uid = c->cred.uid, .gid = c->cred.gid,
					      .pid = c->cred.pid };
	len = sizeof(c->subject.groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, c->subject.groups, &len) == 0) {
		c->subject.ngroups = len / sizeof(gid_t);
	} else if (errno == ERANGE) {
		/* More than POLICY_MAX_GROUPS: the first ones count, and say so. */
		gid_t *all = malloc(len);

		if (all && getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, all, &len) == 0) {
			c->subject.ngroups = POLICY_MAX_GROUPS;
			memcpy(c->subject.groups, all, sizeof(c->subject.groups));
			log_notice("ctl#%llu: %zu supplementary groups, the first %d are used",
				   (unsigned long long)c->num, len / sizeof(gid_t),
				   POLICY_MAX_GROUPS);
		}
		free(all);
	}
	snprintf(c->desc, sizeof(c->desc), "ctl#%llu[pid=%d,uid=%d]",
		 (unsigned long long)c->num, (int)c->cred.pid, (int)c->cred.uid);
	tcp_owner_init(&c->own, &c->acct, c->desc);
	c->own.linger_acct = c->quser ? &c->quser->acct : NULL;
	TAILQ_INIT(&c->calls);
	TAILQ_INIT(&c->batches);
	ev_io_init(&c->rio, ctl_on_read, fd, EV_READ);
	ev_io_init(&c->wio, ctl_on_write, fd, EV_WRITE);
	/* Control connections before bulk data (flow.c serves that after them). */
	ev_set_priority(&c->rio, EV_MAXPRI);
	ev_set_priority(&c->wio, EV_MAXPRI);
	ev_init(&c->drain_timer, ctl_on_drain_timeout);
	ev_io_start(d->loop, &c->rio);
	TAILQ_INSERT_TAIL(&d->ctls, c, link);
	d->nctls++;
	d->counters.clients_total++;
	fdstore_ctl_open(c);
	log_debug("%s: connected", c->desc);
	if (monitor_on(d))
		monitor_event(d, c, NULL, "client.connect");
	return c;
}

/*
 * Closes c: stops its watchers, closes its fd, hands its sockets over to
 * lingering (those with writes to flush) or closes them, detaches its
 * pending calls so their answers go nowhere, and moves c to the graveyard.
 */
void
ctl_close(struct ctl *c, const char *reason)
{
	struct daemon *d = c->d;
	struct quota_user *u = c->quser;
	struct rpc_call *call;
	struct tcp *t;

	if (c->flags & CTL_DEAD)
		return;
	/* Its user stays while its sockets go lingering: their bytes count there. */
	quota_hold(u);
	monitor_detach(c);
	ctl_input_release(c);
	/* Its sockets wait for nobody's room any more (some may wait on the uid's queue). */
	TAILQ_FOREACH(t, &c->own.sockets, link)
		flow_unstall(&t->stall_item);
	flow_account_done(&c->acct);	/* before its uid's account may go */
	quota_detach(c);
	c->flags |= CTL_DEAD;
	log_debug("%s: closing: %s", c->desc, reason);
	ev_io_stop(d->loop, &c->rio);
	ev_io_stop(d->loop, &c->wio);
	ctl_hup_unwatch(c);
	ev_timer_stop(d->loop, &c->drain_timer);
	if (c->in_flush) {
		TAILQ_REMOVE(&d->flush, c, flush_link);
		c->in_flush = false;
	}
	TAILQ_REMOVE(&d->ctls, c, link);
	TAILQ_INSERT_TAIL(&d->dead_ctls, c, link);
	d->nctls--;
	fdstore_ctl_close(c);
	(void) close(c->fd);
	c->fd = -1;

	while ((call = TAILQ_FIRST(&c->calls))) {
		TAILQ_REMOVE(&c->calls, call, ctl_link);
		fdstore_call_free(call);
		call->ctl = NULL;
	}
	c->ncalls = 0;
	rpc_batch_detach_all(c);
	while ((t = TAILQ_FIRST(&c->own.sockets)))
		tcp_orphan(t);
	c->own.linger_acct = NULL;
	quota_release(d, u);
	while ((t = TAILQ_FIRST(&c->own.closed)))
		tcp_forget(t);
	for (size_t i = 0; i < c->nfdpass; i++)
		(void) close(c->fdpass[i].fd);
	free(c->fdpass);
	c->fdpass = NULL;
	c->nfdpass = 0;
	proto_buf_free(&c->out);
	daemon_fd_freed(d);
	if (monitor_on(d)) {
		struct proto_jw *w = monitor_begin(d, c, NULL, "client.disconnect");

		proto_jw_kstr(w, "reason", reason);
		monitor_end(d);
	}
}

/*
 * Reads no more from c and closes it once its queued output is written,
 * or after linger-ms if the client does not read it.
 */
void
ctl_close_after_flush(struct ctl *c, const char *reason)
{
	struct daemon *d = c->d;

	if (c->flags & (CTL_DEAD | CTL_DRAIN))
		return;
	log_debug("%s: closing once flushed: %s", c->desc, reason);
	c->flags |= CTL_DRAIN;
	ev_io_stop(d->loop, &c->rio);
	/* At least a second, so the last lines have a chance even with linger-ms 0. */
	ev_timer_set(&c->drain_timer, d->conf.linger_ms < 1000 ? 1. : (double)d->conf.linger_ms / 1000.,
		     0.);
	ev_timer_start(d->loop, &c->drain_timer);
	ctl_schedule(c);
}

/*
 * The daemon is stopping: c is read no more, and each of its sockets is
 * closed as by a graceful tcp.close, its pending requests answered (the
 * writes once flushed, or with what was written when linger-ms ends them)
 * and tcp.closed (reason shutdown) sent.  c is closed once its last
 * socket is and its output is flushed.
 */
void
ctl_stop(struct ctl *c)
{
	struct tcp *t, *next;

	if (c->flags & (CTL_DEAD | CTL_STOPPING))
		return;
	c->flags |= CTL_STOPPING;
	ev_io_stop(c->d->loop, &c->rio);
	if (!(c->flags & CTL_HUP))
		ctl_hup_watch(c);	/* gone meanwhile: its sockets linger on as orphans */
	for (t = TAILQ_FIRST(&c->own.sockets); t; t = next) {
		next = TAILQ_NEXT(t, link);
		tcp_stop(t);
	}
	ctl_socket_closed(c);
}

/* One of c's sockets is closed: a stopping c goes once none is left. */
void
ctl_socket_closed(struct ctl *c)
{
	if (c->flags & CTL_STOPPING && TAILQ_EMPTY(&c->own.sockets))
		ctl_close_after_flush(c, "daemon stopping");
}

static void
ctl_on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl *c = (struct ctl *)((char *)w - offsetof(struct ctl, drain_timer));

	ctl_close(c, "output not read within linger-ms");
}

/* Root and the daemon's own uid may monitor, see and close every socket. */
bool
ctl_privileged(const struct ctl *c)
{
	return c->cred.uid == 0 || c->cred.uid == c->d->uid;
}

/* Frees a dead ctl (from the graveyard).  Returns NULL. */
struct ctl *
ctl_free(struct ctl *c)
{
	if (!c)
		return NULL;
	proto_reader_free(c->reader);
	proto_buf_free(&c->out);
	free(c);
	return NULL;
}

/*
 * c's output, as its account (and its uid's) counts it: what it has to
 * read.  Batch answers are not in it: they go out only once the batch is
 * complete, which may take reads that this count would stop; the budget
 * bounds them (rpc_batches_over_budget()).
 */
static void
ctl_account(struct ctl *c)
{
	flow_output_set(&c->acct, proto_buf_used(&c->out));
}

/* True while c can take more output from its sockets (and its uid too). */
bool
ctl_has_room(struct ctl *c)
{
	ctl_account(c);
	return flow_has_room(&c->acct);
}

/* Re-evaluates reading after the budget or the request count changed. */
void
ctl_budget_changed(struct ctl *c)
{
	if (c->flags & CTL_DEAD)
		return;
	if (c->flags & CTL_EOF && c->ncalls == 0)
		ctl_schedule(c);	/* maybe the last answer: close after the flush */
	if (c->flags & CTL_PAUSED) {
		if (ctl_budget_used(c) <= c->d->conf.client_budget / 2 &&
		    c->ncalls < c->d->conf.client_requests) {
			c->flags &= ~CTL_PAUSED;
			c->flags |= CTL_PROCESS;
			ctl_schedule(c);
			log_debug("%s: resumed", c->desc);
		}
	} else if (ctl_over_budget(c) || c->ncalls >= c->d->conf.client_requests) {
		c->flags |= CTL_PAUSED;
		ev_io_stop(c->d->loop, &c->rio);
		ctl_hup_watch(c);
		log_debug("%s: paused, budget %zu bytes, %zu calls", c->desc,
			  ctl_budget_used(c), c->ncalls);
	}
}

/* Output was queued: flush it this iteration and check the budget. */
void
ctl_output_added(struct ctl *c)
{
	ctl_account(c);
	ctl_schedule(c);
	if (!(c->flags & CTL_PAUSED) && ctl_over_budget(c))
		ctl_budget_changed(c);
}

/*
 * fd goes to the client with the next output line (the one about to be
 * written: call this just before writing it).  The fd is owned by c from
 * now on and closed once sent or when c closes.  0 or -ENOMEM (fd closed).
 */
int
ctl_pass_fd(struct ctl *c, int fd)
{
	struct ctl_fdpass *p = realloc(c->fdpass, (c->nfdpass + 1) * sizeof(*p));

	if (!p) {
		(void) close(fd);
		return -ENOMEM;
	}
	c->fdpass = p;
	p[c->nfdpass++] = (struct ctl_fdpass){ .at = c->out_sent + proto_buf_used(&c->out),
					       .fd = fd };
	return 0;
}

/*
 * Sends up to n queued bytes; when the first of them is where a passed
 * fd rides, with that fd as SCM_RIGHTS (one per sendmsg).
 */
static ssize_t
ctl_send(struct ctl *c, size_t n)
{
	struct iovec iov = { .iov_base = proto_buf_head(&c->out), .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	union {
		char		buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	align;
	} u;
	ssize_t k;

	if (c->nfdpass == 0 || c->fdpass[0].at > c->out_sent)
		return sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	memset(&u, 0, sizeof(u));	/* the padding is sent too */
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
	CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
	CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &c->fdpass[0].fd, sizeof(int));
	k = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (k > 0) {
		/* In the client's hands now: our copy goes. */
		(void) close(c->fdpass[0].fd);
		memmove(c->fdpass, c->fdpass + 1, --c->nfdpass * sizeof(*c->fdpass));
	}
	return k;
}

/*
 * Writes queued output.  Called once per loop iteration for scheduled
 * ctls and from EV_WRITE.  A write error closes c.
 */
void
ctl_flush(struct ctl *c)
{
	size_t before = proto_buf_used(&c->out);
	int last = -1;

	while (proto_buf_used(&c->out) > 0) {
		size_t want = proto_buf_used(&c->out);
		ssize_t n;

		/* Stop short of the next line that carries an fd (one fd per sendmsg). */
		for (size_t i = 0; i < c->nfdpass; i++)
			if (c->fdpass[i].at > c->out_sent) {
				if (c->fdpass[i].at - c->out_sent < want)
					want = (size_t)(c->fdpass[i].at - c->out_sent);
				break;
			}
		n = ctl_send(c, want);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ev_io_start(c->d->loop, &c->wio);
				break;
			}
			ctl_close(c, "write error");
			return;
		}
		if (n > 0)
			last = ((const char *)proto_buf_head(&c->out))[n - 1];
		proto_buf_consume(&c->out, (size_t)n);
		c->out_sent += (uint64_t)n;
	}
	if (last >= 0 && c->ledger)
		fdstore_ctl_sent(c, last != '\n');
	if (proto_buf_used(&c->out) == 0) {
		ev_io_stop(c->d->loop, &c->wio);
		if (c->flags & (CTL_HUP | CTL_DRAIN) ||
		    (c->flags & CTL_EOF && c->ncalls == 0 && TAILQ_EMPTY(&c->batches))) {
			ctl_close(c, "client closed");
			return;
		}
	}
	if (before != proto_buf_used(&c->out)) {
		/* Room again: waiting sockets of c, then of its uid, take their turns. */
		ctl_account(c);
		flow_drained(&c->acct);
		if (!(c->flags & CTL_DEAD))
			ctl_budget_changed(c);
	}
}

static void
ctl_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl *c = (struct ctl *)((char *)w - offsetof(struct ctl, wio));

	ctl_flush(c);
}

/* The socket id of c, or NULL when unknown to c (or owned by another). */
struct tcp *
ctl_find_tcp(struct ctl *c, int64_t id)
{
	struct tcp *t;

	if (id <= 0)
		return NULL;
	t = tcp_find(&c->d->eng, id);
	return t && t->owner == &c->own ? t : NULL;
}
