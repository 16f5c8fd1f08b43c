/*
 * upgrade-save: the state image of a live upgrade, written.
 *
 * JSON (cJSON), one object: the daemon's ids, counters and control
 * socket; every client (its descriptor, unread input, unsent output with
 * the descriptors riding on it, open batches, monitor flag); every
 * socket (open, closed and remembered, lingering orphans) with its
 * descriptor, state, options, counters, data channel and pending
 * requests, each with its JSON-RPC id verbatim and a write's unsent bytes.
 * Bytes are base64.  Descriptors are numbers: the new process inherits
 * them as they are (every one is also listed in fds, for the exec).  A
 * connect or a listen still resolving or handshaking is not carried as
 * such: the new process starts it again (same request, same id).
 */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "daemon.h"
#include "proto-base64.h"
#include "quota.h"
#include "proto-reader.h"
#include "rpc.h"
#include "tcp.h"
#include "upgrade.h"

#define NUM(o, k, v)	cJSON_AddNumberToObject((o), (k), (double)(v))
#define BOOL(o, k, v)	cJSON_AddBoolToObject((o), (k), (v))
/* Left out at their defaults (the reader has the same): the image of 10,000 sockets stays small. */
#define NUMD(o, k, v, def) do { if ((v) != (def)) NUM(o, k, v); } while (0)
#define FLAG(o, k, v)	do { if (v) cJSON_AddTrueToObject((o), (k)); } while (0)

/* Remembers fd as one to hand over. */
static void
keep_fd(struct upgrade_fds *fds, int fd)
{
	if (fd < 0)
		return;
	if (fds->n == fds->cap) {
		size_t cap = fds->cap ? 2 * fds->cap : 64;
		int *v = realloc(fds->v, cap * sizeof(*v));

		if (!v) {
			fds->failed = true;
			return;
		}
		fds->v = v;
		fds->cap = cap;
	}
	fds->v[fds->n++] = fd;
}

/* Adds n bytes at p under key as base64 (nothing for none). */
static void
add_bytes(cJSON *o, const char *key, const void *p, size_t n)
{
	char *s;

	if (n == 0)
		return;
	s = malloc(proto_base64_encoded_len(n) + 1);
	if (!s)
		return;
	proto_base64_encode(s, p, n);
	s[proto_base64_encoded_len(n)] = '\0';
	cJSON_AddStringToObject(o, key, s);
	free(s);
}

/* The options asked for, under key, unless none was. */
static void
save_opts(cJSON *parent, const char *key, const struct tcp_sockopts *o)
{
	cJSON *j;

	if (memcmp(o, &TCP_SOCKOPTS_NONE, sizeof(*o)) == 0)
		return;
	j = cJSON_AddObjectToObject(parent, key);
	NUMD(j, "noDelay", o->no_delay, -1);
	NUMD(j, "keepAlive", o->keep_alive, -1);
	NUMD(j, "keepAliveIdle", o->keep_alive_idle, -1);
	NUMD(j, "linger", o->linger, -1);
	NUMD(j, "sndbuf", o->sndbuf, -1);
	NUMD(j, "rcvbuf", o->rcvbuf, -1);
}

/* An address, as many bytes as its family uses. */
static void
save_addr(cJSON *o, const char *key, const struct sockaddr_storage *ss)
{
	size_t n = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
		   ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(*ss);

	add_bytes(o, key, ss, n);
}

/* The place of b among c's open batches, or -1. */
static int
batch_index(const struct ctl *c, const struct rpc_batch *b)
{
	const struct rpc_batch *x;
	int i = 0;

	if (!c || !b)
		return -1;
	TAILQ_FOREACH(x, &c->batches, link) {
		if (x == b)
			return i;
		i++;
	}
	return -1;
}

/* A pending request: its call (id verbatim, client, batch) and what it waits for. */
static cJSON *
save_call(struct daemon *d, struct rpc_call *call, enum tcp_op_kind kind)
{
	struct tcp_op *op = &call->op;
	cJSON *j = cJSON_CreateObject();

	NUM(j, "kind", kind);
	NUM(j, "method", call->method);
	if (call->id) {
		char *id = strndup(call->id, call->id_len);

		if (id)
			cJSON_AddStringToObject(j, "id", id);
		free(id);
	}
	FLAG(j, "silent", call->silent);
	NUMD(j, "ledger", call->ledger, 0);	/* its fd store ledger slot */
	NUMD(j, "client", call->ctl ? call->ctl->num : 0, 0);
	NUMD(j, "batch", batch_index(call->ctl, call->batch), -1);
	if (op->timer_on)
		NUM(j, "timeoutMs", ev_timer_remaining(d->loop, &op->timer) * 1000.);
	switch (kind) {
	case TCP_OP_READ:
		NUMD(j, "length", op->u.read.length, PROTO_READ_DEFAULT);
		break;
	case TCP_OP_WRITE:
		NUM(j, "len", op->u.write.len);
		NUM(j, "off", op->u.write.off);
		add_bytes(j, "data", op->u.write.data + op->u.write.off,
			  op->u.write.len - op->u.write.off);
		break;
	case TCP_OP_ACCEPT:
		save_opts(j, "opts", &op->u.accept.opts);
		break;
	default:
		break;
	}
	return j;
}

static void
save_list(struct daemon *d, cJSON *ops, struct tcp_op_list *l)
{
	struct tcp_op *op;

	TAILQ_FOREACH(op, l, q_link)
		cJSON_AddItemToArray(ops, save_call(d, rpc_call_of(op), op->kind));
}

/* One socket; where: "open", "closed" or "orphan". */
static cJSON *
save_tcp(struct daemon *d, struct tcp *t, const char *where, struct upgrade_fds *fds)
{
	cJSON *j = cJSON_CreateObject(), *ops = cJSON_CreateArray();
	struct ctl *c = ctl_of_owner(t->owner);
	enum tcp_state st = t->state;
	bool restart = t->conn != NULL || st == TCP_STATE_CONNECTING;
	struct tcp_channel_image ch;
	bool dropped = strcmp(where, "open") == 0 && !tcp_transferable(t) &&
		       (t->fd >= 0 || restart);	/* (one with no connection is carried as it is) */
	int fd = t->fd;

	if (dropped) {
		/*
		 * TLS: no process but this one can go on with it.  Carried
		 * without its descriptor (which this process resets once the new
		 * one has taken over, upgrade.c), so that the new process closes
		 * it for its owner: tcp.closed, reason upgrade, its requests
		 * answered -32004.  A refused upgrade leaves it as it was.
		 */
		restart = false;
		fd = -1;
		if (st == TCP_STATE_CONNECTING || st == TCP_STATE_INITIALIZED)
			st = TCP_STATE_CONNECTED;	/* its connect is answered -32004 */
	} else if (restart) {
		st = TCP_STATE_INITIALIZED;	/* the connect or listen starts again */
		fd = -1;
	}
	NUM(j, "id", t->id);
	cJSON_AddStringToObject(j, "where", where);
	FLAG(j, "dropped", dropped);
	NUMD(j, "client", c ? c->num : 0, 0);
	NUMD(j, "fd", fd, -1);
	keep_fd(fds, fd);
	NUM(j, "state", st);
	NUMD(j, "ageMs", (int64_t)((ev_now(d->loop) - t->created) * 1000.), 0);	/* integers print fast */
	if (t->host)
		cJSON_AddStringToObject(j, "host", t->host);
	NUMD(j, "port", t->port, -1);
	NUMD(j, "listenQueue", t->listen_queue, -1);
	NUMD(j, "timeoutMs", t->timeout_ms, -1);
	save_opts(j, "opts", &t->opts);
	if (!restart && t->has_local)
		save_addr(j, "local", &t->local);
	if (!restart && t->has_remote)
		save_addr(j, "remote", &t->remote);
	NUMD(j, "happyEyeballs", t->happy_eyeballs, -1);
	FLAG(j, "eof", t->eof);
	FLAG(j, "eofTold", t->eof_told);
	FLAG(j, "shutWr", t->shut_wr);
	FLAG(j, "pumping", t->pumping);
	NUMD(j, "chunkSize", t->chunk_size, PROTO_READ_DEFAULT);
	NUMD(j, "pumpTotal", t->pump_total, 0);
	NUMD(j, "bytesRead", t->bytes_read, 0);
	NUMD(j, "bytesWritten", t->bytes_written, 0);
	NUMD(j, "lossUndelivered", t->loss.undelivered, 0);
	NUMD(j, "lossKernelUnsent", t->loss.kernel_unsent, 0);
	NUMD(j, "lossUnacked", t->loss.unacked, 0);
	/* The fd store's: its ledger slot and what the ledger counts. */
	NUMD(j, "ledger", t->ledger, 0);
	NUMD(j, "queued", t->queued, 0);
	NUMD(j, "delivered", t->delivered, 0);
	NUMD(j, "relayUp", t->relay_up, 0);
	NUMD(j, "relayDown", t->relay_down, 0);
	if (t->closed_reason)
		cJSON_AddStringToObject(j, "closedReason", t->closed_reason);
	if (t->gone_owner)
		cJSON_AddStringToObject(j, "goneOwner", t->gone_owner);
	if (t->gone_acct)	/* a lingering one still counts for its gone owner's uid */
		NUM(j, "goneUid", quota_user_of_acct(t->gone_acct)->uid);
	if (st == TCP_STATE_CLOSING)
		NUM(j, "lingerLeft", tcp_linger_left(t));
	tcp_channel_image(t, &ch);
	if (ch.fd >= 0 && !dropped) {
		cJSON *cj = cJSON_AddObjectToObject(j, "channel");

		NUM(cj, "fd", ch.fd);
		keep_fd(fds, ch.fd);
		add_bytes(cj, "up", ch.up, ch.up_len);
		add_bytes(cj, "down", ch.down, ch.down_len);
		BOOL(cj, "upEof", ch.up_eof);
		BOOL(cj, "downEof", ch.down_eof);
		BOOL(cj, "upDone", ch.up_done);
		BOOL(cj, "downDone", ch.down_done);
		BOOL(cj, "enlarged", ch.enlarged > 0);
	}
	save_list(d, ops, &t->writes);
	save_list(d, ops, &t->reads);
	save_list(d, ops, &t->accepts);
	save_list(d, ops, &t->closes);
	if (t->connect_op)
		cJSON_AddItemToArray(ops, save_call(d, rpc_call_of(t->connect_op), TCP_OP_OPEN));
	if (t->shutdown_op)
		cJSON_AddItemToArray(ops, save_call(d, rpc_call_of(t->shutdown_op),
						    TCP_OP_SHUTDOWN));
	cJSON_AddItemToObject(j, "ops", ops);
	return j;
}

/* One client: descriptor, input, output and what rides on it, batches, monitor. */
static cJSON *
save_ctl(struct daemon *d, struct ctl *c, struct upgrade_fds *fds)
{
	cJSON *j = cJSON_CreateObject(), *a;
	struct rpc_batch *b;
	struct rpc_call *call;
	const char *in;
	size_t inlen;

	NUM(j, "num", c->num);
	NUM(j, "fd", c->fd);
	keep_fd(fds, c->fd);
	BOOL(j, "eof", (c->flags & CTL_EOF) != 0);
	BOOL(j, "drain", (c->flags & CTL_DRAIN) != 0);
	BOOL(j, "monitor", (c->flags & CTL_MONITOR) != 0);
	proto_reader_peek(c->reader, &in, &inlen);
	add_bytes(j, "input", in, inlen);
	add_bytes(j, "output", proto_buf_head(&c->out), proto_buf_used(&c->out));
	NUMD(j, "ledger", c->ledger, 0);
	if (c->mark_head < c->nmarks) {
		/* Socket bytes on output lines not yet written: where each line ends. */
		a = cJSON_AddArrayToObject(j, "marks");
		for (size_t i = c->mark_head; i < c->nmarks; i++) {
			cJSON *m = cJSON_CreateObject();

			NUM(m, "at", c->marks[i].at - c->out_sent);
			NUM(m, "socket", c->marks[i].socket);
			NUM(m, "bytes", c->marks[i].bytes);
			cJSON_AddItemToArray(a, m);
		}
	}
	a = cJSON_AddArrayToObject(j, "fdpass");
	for (size_t i = 0; i < c->nfdpass; i++) {
		cJSON *p = cJSON_CreateObject();

		NUM(p, "at", c->fdpass[i].at - c->out_sent);
		NUM(p, "fd", c->fdpass[i].fd);
		keep_fd(fds, c->fdpass[i].fd);
		cJSON_AddItemToArray(a, p);
	}
	a = cJSON_AddArrayToObject(j, "batches");
	TAILQ_FOREACH(b, &c->batches, link) {
		cJSON *bj = cJSON_CreateObject();

		NUM(bj, "outstanding", b->outstanding);
		BOOL(bj, "any", b->any);
		add_bytes(bj, "buf", proto_buf_head(&b->buf), proto_buf_used(&b->buf));
		cJSON_AddItemToArray(a, bj);
	}
	/* The calls that wait on no socket: daemon.upgrade itself. */
	a = cJSON_AddArrayToObject(j, "calls");
	TAILQ_FOREACH(call, &c->calls, ctl_link)
		if (!call->tcp)
			cJSON_AddItemToArray(a, save_call(d, call, TCP_OP_OPEN));
	return j;
}

static cJSON *
save_counters(const struct daemon_counters *k)
{
	cJSON *j = cJSON_CreateObject(), *by = cJSON_CreateArray();

#define SAVE_COUNTER(name, field)	NUM(j, name, k->field);
	UPGRADE_COUNTERS(SAVE_COUNTER)
#undef SAVE_COUNTER
	for (int i = 0; i < _QL_MAX; i++)
		cJSON_AddItemToArray(by, cJSON_CreateNumber((double)k->limit_hits_by[i]));
	cJSON_AddItemToObject(j, "limitHitsBy", by);
	return j;
}

/*
 * The image of d, in format (UPGRADE_FORMAT; another only for tests);
 * every descriptor it names is added to fds.  NULL without memory.
 */
cJSON *
upgrade_save(struct daemon *d, struct upgrade_fds *fds, int format)
{
	cJSON *img = cJSON_CreateObject(), *cl, *so;
	struct ctl *c;
	struct tcp *t;

	if (!img)
		return NULL;
	NUM(img, "format", format);
	cJSON_AddStringToObject(img, "version", PACKAGE_VERSION);
	NUM(img, "at", upgrade_wall_now());
	NUM(img, "generation", d->generation);
	NUM(img, "started", d->started);
	NUM(img, "nextSocket", d->eng.next_socket);
	NUM(img, "nextClient", d->next_client);
	NUM(img, "listenFd", d->listen_fd);
	keep_fd(fds, d->listen_fd);
	cJSON_AddStringToObject(img, "socketPath", d->socket_path ? d->socket_path : "");
	BOOL(img, "socketOwned", d->socket_owned);
	NUM(img, "socketDev", d->socket_dev);
	NUM(img, "socketIno", d->socket_ino);
	NUM(img, "lastRestart", d->last_restart);
	if (d->fds.on && d->fds.ledger.base) {
		/* The fd store: its entries stay (systemd's own copies); the ledger goes on. */
		cJSON *fs = cJSON_AddObjectToObject(img, "fdStore");

		NUM(fs, "ledgerFd", d->fds.ledger.fd);
		keep_fd(fds, d->fds.ledger.fd);
	}
	cJSON_AddItemToObject(img, "counters", save_counters(&d->counters));
	cl = cJSON_AddArrayToObject(img, "clients");
	so = cJSON_AddArrayToObject(img, "sockets");
	TAILQ_FOREACH(c, &d->ctls, link) {
		cJSON_AddItemToArray(cl, save_ctl(d, c, fds));
		TAILQ_FOREACH(t, &c->own.sockets, link)
			cJSON_AddItemToArray(so, save_tcp(d, t, "open", fds));
		TAILQ_FOREACH(t, &c->own.closed, link)
			cJSON_AddItemToArray(so, save_tcp(d, t, "closed", fds));
	}
	TAILQ_FOREACH(t, &d->eng.orphans, link)
		if (tcp_transferable(t))	/* else: reset with this process, no owner to tell */
			cJSON_AddItemToArray(so, save_tcp(d, t, "orphan", fds));
	return img;
}
