/*
 * tcp-adopt: sockets taken over from a previous daemon process.
 *
 * A live upgrade (upgrade.c) hands every socket's descriptor to the new
 * process together with a state image; this is how the engine takes them
 * back: a socket with its old id, owner, fd and state, its pending
 * operations put back in their FIFOs in order, and nothing sent or
 * received until tcp_adopt_start() (the new process calls it once the
 * old one has let go).  Adopting reports nothing to the layer above: no
 * create, no state change; the counters come with the image.
 *
 * Crash recovery (recover.c) has only the descriptor back from systemd's
 * fd store: tcp_adopt_fd() is the same adoption with what the kernel
 * knows (addresses), reported like a new socket, and moving at once.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "proto-idmap.h"
#include "tcp.h"

/*
 * The engine's view of whether t can be handed to a new process: a
 * plain TCP socket always can.  A TLS one cannot: OpenSSL has no way to
 * hand a live session (keys, sequence numbers, a half-sent record) to
 * another process, and a connect or listen that asked for TLS must not
 * come back as plain TCP.  Such a socket is reset before a live upgrade
 * (tcp.closed, reason upgrade) and never goes into systemd's fd store
 * (a crash reports it lost).
 */
bool
tcp_transferable(const struct tcp *t)
{
	return !t->tls && !t->tls_cfg && !t->tls_listen;
}

/*
 * A socket of owner (NULL: an orphan, lingering) with the given id, fd
 * (-1: none) and state; the ids to come stay above it.  Returns it, or
 * NULL on OOM or a duplicate id (fd left open then).
 */
struct tcp *
tcp_adopt(struct tcp_engine *eng, struct tcp_owner *owner, uint64_t id, int fd,
	  enum tcp_state st)
{
	struct tcp *t;

	if (id == 0 || proto_idmap_get(eng->sockets, id))
		return NULL;
	t = tcp_alloc(eng, owner, id);
	if (!t)
		return NULL;
	t->state = st;
	if (id > eng->next_socket)
		eng->next_socket = id;
	if (!owner) {
		TAILQ_INSERT_TAIL(&eng->orphans, t, link);
		t->where = TCP_IN_ORPHANS;
	} else {
		TAILQ_INSERT_TAIL(&owner->sockets, t, link);
		t->where = TCP_IN_SOCKETS;
		owner->nsockets++;
	}
	if (fd >= 0) {
		tcp_set_fd(t, fd);
		if (st == TCP_STATE_LISTENING)
			tcp_accept_init(t);
		else
			tcp_io_connected(t);
	}
	return t;
}

/* An adopted socket that was closed and is remembered for tcp.info: among owner's closed. */
void
tcp_adopt_closed(struct tcp *t)
{
	struct tcp_owner *o = t->owner;

	if (!o || t->where != TCP_IN_SOCKETS)
		return;
	tcp_owner_unlink(t);
	TAILQ_INSERT_TAIL(&o->closed, t, link);
	t->where = TCP_IN_CLOSED;
	o->nclosed++;
}

/*
 * Puts op back at the tail of its FIFO on t (a read, write, accept or
 * close), as it was; a write counts its unsent bytes as pending.  Nothing
 * is sent; timeouts are the caller's (tcp_start_op_timer).
 */
void
tcp_adopt_op(struct tcp *t, struct tcp_op *op, enum tcp_op_kind kind)
{
	size_t left;

	op->tcp = t;
	op->kind = kind;
	switch (kind) {
	case TCP_OP_READ:
		TAILQ_INSERT_TAIL(&t->reads, op, q_link);
		break;
	case TCP_OP_ACCEPT:
		TAILQ_INSERT_TAIL(&t->accepts, op, q_link);
		break;
	case TCP_OP_CLOSE:
		TAILQ_INSERT_TAIL(&t->closes, op, q_link);
		break;
	case TCP_OP_WRITE:
		TAILQ_INSERT_TAIL(&t->writes, op, q_link);
		left = op->u.write.len - op->u.write.off;
		t->pending_write_bytes += left;
		if (t->owner)
			flow_pending_add(t->owner->acct, left);
		break;
	case TCP_OP_SHUTDOWN:
		t->shutdown_op = op;
		break;
	case TCP_OP_OPEN:
		t->connect_op = op;
		break;
	}
}

/*
 * t, an ownerless lingering socket, counts again with its unsent bytes
 * on acct, the account of the owner it was left by (as tcp_orphan() had
 * it): held until it is freed.  After its writes are back.
 */
void
tcp_adopt_gone(struct tcp *t, struct flow_account *acct)
{
	if (t->owner || t->gone_acct || !acct)
		return;
	t->gone_acct = acct;
	flow_pending_add(acct, t->pending_write_bytes);
	t->eng->ev->acct_hold(t->eng->up, acct, true);
}

/*
 * The old process has let go: t moves again.  Queued writes go out, a
 * pending read or accept, pump mode or a channel reads, a closing socket
 * goes on closing.
 */
void
tcp_adopt_start(struct tcp *t)
{
	if (t->fd < 0)
		return;
	if (t->channel) {
		tcp_channel_kick(t);
		return;
	}
	if (!TAILQ_EMPTY(&t->writes))
		ev_io_start(t->eng->loop, &t->wio);
	else if (t->state == TCP_STATE_CLOSING)
		tcp_writes_drained(t);
	if (t->fd >= 0)
		tcp_update_io(t);
}

/*
 * A socket of owner with the given id around fd, a descriptor that came
 * back without any state (systemd's fd store, after a crash): st must be
 * connected or listening; fd is made non-blocking and close-on-exec, the
 * addresses are the kernel's.  Reported as created and as entering st,
 * and reading (or accepting) starts at once.  Returns it, or NULL with
 * errno set (fd left open): EEXIST when id is taken, EINVAL for another
 * state, ENOMEM.
 */
struct tcp *
tcp_adopt_fd(struct tcp_engine *eng, struct tcp_owner *owner, uint64_t id, int fd,
	     enum tcp_state st)
{
	socklen_t len;
	struct tcp *t;

	if (id == 0 || tcp_find(eng, (int64_t)id)) {
		errno = EEXIST;
		return NULL;
	}
	if (st != TCP_STATE_CONNECTED && st != TCP_STATE_LISTENING) {
		errno = EINVAL;
		return NULL;
	}
	(void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	(void) fcntl(fd, F_SETFD, FD_CLOEXEC);
	t = tcp_adopt(eng, owner, id, fd, st);
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	len = sizeof(t->local);
	t->has_local = getsockname(fd, (struct sockaddr *)&t->local, &len) == 0;
	if (st == TCP_STATE_CONNECTED) {
		len = sizeof(t->remote);
		t->has_remote = getpeername(fd, (struct sockaddr *)&t->remote, &len) == 0;
	}
	eng->ev->created(t);
	eng->ev->state(t, TCP_STATE_INITIALIZED);
	tcp_adopt_start(t);
	return t;
}
