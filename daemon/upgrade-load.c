/*
 * upgrade-load: the state image of a live upgrade, read back by the new
 * process (upgrade-save.c writes it).
 *
 * upgrade_load() rebuilds every client and socket around the inherited
 * descriptors without a byte sent or received: if anything is wrong the
 * new process just exits and the old one serves on.  Once the old process
 * has let go, upgrade_load_start() sets everything moving: queued output
 * and writes go out, pending reads, accepts and pumps read, lingering
 * closes go on, connects and listens that were under way start again,
 * and each client is told daemon.restarted; the daemon.upgrade request
 * is answered last.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "daemon.h"
#include "fdstore.h"
#include "metrics.h"
#include "monitor.h"
#include "proto-base64.h"
#include "quota.h"
#include "proto-reader.h"
#include "rpc.h"
#include "tcp.h"
#include "upgrade.h"

struct load {
	struct daemon	*d;
	struct ctl	**ctls;		/* by their place in the image */
	uint64_t	*nums;
	size_t		 nctls;
	unsigned char	*claimed;	/* descriptors taken, a bit each */
	size_t		 nclaimed;	/* bytes */
	const char	*why;
};

static double
num(const cJSON *o, const char *k, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static bool
flag(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static const char *
str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The base64 bytes under key, decoded into a new buffer (*n bytes); NULL: none or no memory. */
static char *
bytes(const cJSON *o, const char *k, size_t *n)
{
	const char *s = str(o, k);
	size_t len;
	ssize_t r;
	char *b;

	*n = 0;
	if (!s)
		return NULL;
	len = strlen(s);
	b = malloc(proto_base64_decoded_max(len) + 1);
	if (!b)
		return NULL;
	r = proto_base64_decode(b, s, len);
	if (r < 0) {
		free(b);
		return NULL;
	}
	*n = (size_t)r;
	return b;
}

/*
 * Whether fd is an open descriptor of ours, inherited as the image says
 * (a socket unless any; each named once only: two objects on one
 * descriptor would close it twice), or -1.  It is close-on-exec again
 * from now on: the old process cleared that for the exec only, and a
 * later upgrade hands on only what its image lists.
 */
static bool
fd_claim(struct load *l, double v, bool any)
{
	int fd = v >= -1 && v < (double)INT_MAX ? (int)v : -2;
	struct stat st;

	if (fd == -1)
		return true;
	if (fd < 3 || (size_t)fd >= l->nclaimed * CHAR_BIT || (l->claimed[fd / CHAR_BIT] &
	    (1u << (fd % CHAR_BIT))) || fstat(fd, &st) < 0 || (!any && !S_ISSOCK(st.st_mode)) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return false;
	l->claimed[fd / CHAR_BIT] |= (unsigned char)(1u << (fd % CHAR_BIT));
	return true;
}

static struct ctl *
find_ctl(struct load *l, uint64_t n)
{
	for (size_t i = 0; i < l->nctls; i++)
		if (l->nums[i] == n)
			return l->ctls[i];
	return NULL;
}

static void
load_opts(const cJSON *o, struct tcp_sockopts *so)
{
	*so = TCP_SOCKOPTS_NONE;
	if (!o)
		return;
	so->no_delay = (int)num(o, "noDelay", -1);
	so->keep_alive = (int)num(o, "keepAlive", -1);
	so->keep_alive_idle = (int)num(o, "keepAliveIdle", -1);
	so->linger = (int)num(o, "linger", -1);
	so->sndbuf = (int)num(o, "sndbuf", -1);
	so->rcvbuf = (int)num(o, "rcvbuf", -1);
}

/* A pending request as a deferred call of its client (if any), waiting on t (if any). */
static struct rpc_call *
load_call(struct load *l, const cJSON *j, struct tcp *t)
{
	struct rpc_call *call = calloc(1, sizeof(*call));
	const char *id = str(j, "id");
	struct ctl *c = find_ctl(l, (uint64_t)num(j, "client", 0));
	int bi = (int)num(j, "batch", -1);

	if (!call)
		return NULL;
	if (id && !(call->id = strdup(id))) {
		free(call);
		return NULL;
	}
	call->id_len = id ? strlen(id) : 0;
	call->method = (int)num(j, "method", -1);
	call->silent = flag(j, "silent");
	call->ledger = (uint32_t)num(j, "ledger", 0);	/* claimed once the old process is gone */
	call->deferred = true;
	call->tcp = t;
	call->op.tcp = t;
	call->ctl = c;
	if (c && bi >= 0) {
		struct rpc_batch *b = TAILQ_FIRST(&c->batches);

		while (b && bi-- > 0)
			b = TAILQ_NEXT(b, link);
		call->batch = b;
	}
	if (c) {
		TAILQ_INSERT_TAIL(&c->calls, call, ctl_link);
		c->ncalls++;
	}
	return call;
}

/* One pending request on t, back in its place. */
static int
load_op(struct load *l, struct tcp *t, const cJSON *j)
{
	enum tcp_op_kind kind = (enum tcp_op_kind)num(j, "kind", -1);
	struct rpc_call *call = load_call(l, j, t);
	double left = num(j, "timeoutMs", -1);
	size_t n;
	char *data;

	if (!call)
		return -1;
	switch (kind) {
	case TCP_OP_READ:
		call->op.u.read.length = (size_t)num(j, "length", PROTO_READ_DEFAULT);
		break;
	case TCP_OP_WRITE:
		call->op.u.write.len = (size_t)num(j, "len", 0);
		call->op.u.write.off = (size_t)num(j, "off", 0);
		data = bytes(j, "data", &n);
		call->op.u.write.data = malloc(call->op.u.write.len + 1);
		if (!call->op.u.write.data || call->op.u.write.off + n != call->op.u.write.len) {
			free(data);
			l->why = "a pending write does not add up";
			return -1;
		}
		memset(call->op.u.write.data, 0, call->op.u.write.off);
		if (n)
			memcpy(call->op.u.write.data + call->op.u.write.off, data, n);
		free(data);
		break;
	case TCP_OP_ACCEPT:
		load_opts(cJSON_GetObjectItemCaseSensitive(j, "opts"), &call->op.u.accept.opts);
		break;
	case TCP_OP_CLOSE:
	case TCP_OP_SHUTDOWN:
	case TCP_OP_OPEN:
		break;
	default:
		l->why = "a pending request of an unknown kind";
		return -1;
	}
	tcp_adopt_op(t, &call->op, kind);
	if (left >= 0 && (kind == TCP_OP_READ || kind == TCP_OP_ACCEPT))
		tcp_start_op_timer(&call->op, left < 1 ? 1 : (int64_t)left);
	return 0;
}

/* A closed reason the engine knows (its strings are static), or NULL. */
static const char *
known_reason(const char *s)
{
	static const char *const reasons[] = { "shutdown", "linger", "channel", "upgrade" };

	for (size_t i = 0; s && i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(s, reasons[i]) == 0)
			return reasons[i];
	return NULL;
}

static int
load_tcp(struct load *l, const cJSON *j)
{
	struct daemon *d = l->d;
	const char *where = str(j, "where"), *s;
	uint64_t client = (uint64_t)num(j, "client", 0);
	struct ctl *c = client ? find_ctl(l, client) : NULL;
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(j, "channel"), *op;
	struct tcp *t;
	size_t n;
	char *b;

	if (!where || (client && !c)) {
		l->why = "a socket of an unknown client";
		return -1;
	}
	if (!fd_claim(l, num(j, "fd", -1), false) || (ch && !fd_claim(l, num(ch, "fd", -1), false))) {
		l->why = "a socket's descriptor was not inherited";
		return -1;
	}
	t = tcp_adopt(&d->eng, c ? &c->own : NULL, (uint64_t)num(j, "id", 0),
		      (int)num(j, "fd", -1), (enum tcp_state)num(j, "state", 0));
	if (!t) {
		l->why = "a socket id twice, or out of memory";
		return -1;
	}
	if (strcmp(where, "closed") == 0)
		tcp_adopt_closed(t);
	t->upgrade_dropped = flag(j, "dropped") && t->fd < 0 && strcmp(where, "open") == 0;
	t->created = ev_now(d->loop) - num(j, "ageMs", 0) / 1000.;
	if ((s = str(j, "host")))
		t->host = strdup(s);
	t->port = (int)num(j, "port", -1);
	t->listen_queue = (int)num(j, "listenQueue", -1);
	t->timeout_ms = (int64_t)num(j, "timeoutMs", -1);
	load_opts(cJSON_GetObjectItemCaseSensitive(j, "opts"), &t->opts);
	if ((b = bytes(j, "local", &n)) && n <= sizeof(t->local)) {
		memcpy(&t->local, b, n);
		t->has_local = true;
	}
	free(b);
	if ((b = bytes(j, "remote", &n)) && n <= sizeof(t->remote)) {
		memcpy(&t->remote, b, n);
		t->has_remote = true;
	}
	free(b);
	t->happy_eyeballs = (int8_t)num(j, "happyEyeballs", -1);
	t->eof = flag(j, "eof");
	t->eof_told = flag(j, "eofTold");
	t->shut_wr = flag(j, "shutWr");
	t->pumping = flag(j, "pumping");
	t->chunk_size = (size_t)num(j, "chunkSize", PROTO_READ_DEFAULT);
	t->pump_total = (uint64_t)num(j, "pumpTotal", 0);
	t->bytes_read = (uint64_t)num(j, "bytesRead", 0);
	t->bytes_written = (uint64_t)num(j, "bytesWritten", 0);
	t->loss.undelivered = (uint64_t)num(j, "lossUndelivered", 0);
	t->loss.kernel_unsent = (uint64_t)num(j, "lossKernelUnsent", 0);
	t->loss.unacked = (uint64_t)num(j, "lossUnacked", 0);
	t->closed_reason = known_reason(str(j, "closedReason"));
	if ((s = str(j, "goneOwner")))
		t->gone_owner = strdup(s);
	if (ch) {
		struct tcp_channel_image im = { .fd = (int)num(ch, "fd", -1),
			.up_eof = flag(ch, "upEof"), .down_eof = flag(ch, "downEof"),
			.up_done = flag(ch, "upDone"), .down_done = flag(ch, "downDone"),
			.enlarged = cJSON_GetObjectItemCaseSensitive(ch, "enlarged") ?
				    flag(ch, "enlarged") : -1 };	/* (an older image: ask the fd) */
		char *up = bytes(ch, "up", &im.up_len), *down = bytes(ch, "down", &im.down_len);
		int r;

		im.up = up;
		im.down = down;
		r = im.fd >= 0 && t->fd >= 0 ? tcp_channel_adopt(t, &im) : -1;
		free(up);
		free(down);
		if (r < 0) {
			l->why = "a data channel cannot be rebuilt";
			return -1;
		}
	}
	cJSON_ArrayForEach(op, cJSON_GetObjectItemCaseSensitive(j, "ops"))
		if (load_op(l, t, op) < 0) {
			if (!l->why)
				l->why = "out of memory rebuilding a request";
			return -1;
		}
	if (!t->owner && num(j, "goneUid", -1) >= 0) {
		/* Lingering: it and its unsent bytes count for its gone owner's uid, as before. */
		struct quota_user *u = quota_user_of(d, (uid_t)num(j, "goneUid", -1), true);

		if (!u) {
			l->why = "out of memory";
			return -1;
		}
		tcp_adopt_gone(t, &u->acct);
	}
	if (t->state == TCP_STATE_CLOSING && !tcp_linger_resume(t, num(j, "lingerLeft", 0))) {
		l->why = "out of memory";
		return -1;
	}
	if (t->fd >= 0)
		tcp_apply_options(t);
	return 0;
}

static int
load_ctl(struct load *l, const cJSON *j, size_t i)
{
	struct daemon *d = l->d;
	struct ctl *c;
	const cJSON *a, *x;
	size_t n;
	char *b;

	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(j, "fdpass"))
		if (num(x, "fd", -1) < 0 || !fd_claim(l, num(x, "fd", -1), true)) {
			l->why = "a descriptor to pass was not inherited";
			return -1;
		}
	if (num(j, "fd", -1) < 0 || !fd_claim(l, num(j, "fd", -1), false)) {
		l->why = "a client's descriptor was not inherited";
		return -1;
	}
	c = ctl_new(d, (int)num(j, "fd", -1));
	if (!c) {
		l->why = "out of memory rebuilding a client";
		return -1;
	}
	d->next_client--;	/* ctl_new took one: the image has the count */
	c->num = (uint64_t)num(j, "num", 0);
	snprintf(c->desc, sizeof(c->desc), "ctl#%llu[pid=%d,uid=%d]",
		 (unsigned long long)c->num, (int)c->cred.pid, (int)c->cred.uid);
	l->ctls[i] = c;
	l->nums[i] = c->num;
	if ((b = bytes(j, "input", &n)) && proto_reader_feed(c->reader, b, n) < 0) {
		free(b);
		l->why = "out of memory";
		return -1;
	}
	free(b);
	if ((b = bytes(j, "output", &n)) && proto_buf_append(&c->out, b, n) < 0) {
		free(b);
		l->why = "out of memory";
		return -1;
	}
	free(b);
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(j, "fdpass")) {
		struct ctl_fdpass *p = realloc(c->fdpass, (c->nfdpass + 1) * sizeof(*p));

		if (!p)
			return -1;
		c->fdpass = p;
		p[c->nfdpass++] = (struct ctl_fdpass){ .at = (uint64_t)num(x, "at", 0),
						       .fd = (int)num(x, "fd", -1) };
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(j, "batches")) {
		struct rpc_batch *bt = calloc(1, sizeof(*bt));

		if (!bt)
			return -1;
		bt->ctl = c;
		bt->outstanding = (size_t)num(x, "outstanding", 1);
		bt->any = flag(x, "any");
		if ((b = bytes(x, "buf", &n)))
			(void) proto_buf_append(&bt->buf, b, n);
		free(b);
		c->batch_bytes += proto_buf_used(&bt->buf);
		TAILQ_INSERT_TAIL(&c->batches, bt, link);
	}
	a = cJSON_GetObjectItemCaseSensitive(j, "calls");
	cJSON_ArrayForEach(x, a)
		if (!load_call(l, x, NULL))
			return -1;
	if (flag(j, "eof"))
		c->flags |= CTL_EOF;
	return 0;
}

static void
load_counters(const cJSON *j, struct daemon_counters *k)
{
	const cJSON *x;
	int i = 0;

#define LOAD_COUNTER(name, field)	k->field = (uint64_t)num(j, name, 0);
	UPGRADE_COUNTERS(LOAD_COUNTER)
#undef LOAD_COUNTER
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(j, "limitHitsBy"))
		if (i < _QL_MAX && cJSON_IsNumber(x))
			k->limit_hits_by[i++] = (uint64_t)x->valuedouble;
}

/*
 * Rebuilds d from the image; nothing moves yet.  0, or -1 with *why
 * (static) set.
 */
int
upgrade_load(struct daemon *d, const cJSON *img, char **why)
{
	const cJSON *clients = cJSON_GetObjectItemCaseSensitive(img, "clients");
	const cJSON *sockets = cJSON_GetObjectItemCaseSensitive(img, "sockets"), *x;
	struct load l = { .d = d };
	struct rlimit rl;
	const char *s;
	size_t i = 0;
	int r = -1;

	l.nctls = (size_t)cJSON_GetArraySize(clients);
	l.ctls = calloc(l.nctls + 1, sizeof(*l.ctls));
	l.nums = calloc(l.nctls + 1, sizeof(*l.nums));
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur <= (1u << 24))
		l.nclaimed = (size_t)rl.rlim_cur / CHAR_BIT + 1;
	else
		l.nclaimed = (1u << 24) / CHAR_BIT;
	l.claimed = calloc(l.nclaimed, 1);
	if (!l.ctls || !l.nums || !l.claimed) {
		l.why = "out of memory";
		goto out;
	}
	d->generation = (uint64_t)num(img, "generation", 0) + 1;
	d->last_restart = upgrade_wall_now();
	d->last_restart_reason = "upgrade";
	snprintf(d->last_restart_from, sizeof(d->last_restart_from), "%s",
		 (s = str(img, "version")) ? s : "");
	d->started = num(img, "started", d->started);
	d->next_client = (uint64_t)num(img, "nextClient", 0);
	free(d->socket_path);
	d->socket_path = strdup((s = str(img, "socketPath")) ? s : "");
	d->socket_owned = flag(img, "socketOwned");
	d->socket_dev = (dev_t)num(img, "socketDev", 0);
	d->socket_ino = (ino_t)num(img, "socketIno", 0);
	if (!fd_claim(&l, num(img, "listenFd", -1), false)) {
		l.why = "the control socket was not inherited";
		goto out;
	}
	daemon_adopt_listen(d, (int)num(img, "listenFd", -1));
	cJSON_ArrayForEach(x, clients)
		if (load_ctl(&l, x, i++) < 0)
			goto out;
	cJSON_ArrayForEach(x, sockets)
		if (load_tcp(&l, x) < 0)
			goto out;
	if (d->eng.next_socket < (uint64_t)num(img, "nextSocket", 0))
		d->eng.next_socket = (uint64_t)num(img, "nextSocket", 0);
	load_counters(cJSON_GetObjectItemCaseSensitive(img, "counters"), &d->counters);
	r = 0;
out:
	*why = (char *)(l.why ? l.why : "out of memory");
	free(l.ctls);
	free(l.nums);
	free(l.claimed);
	return r;
}

/* daemon.restarted to c. */
static void
tell_restarted(struct daemon *d, struct ctl *c, const char *from)
{
	struct proto_jw w;

	if (!rpc_notify_begin(c, &w, PROTO_N_DAEMON_RESTARTED))
		return;
	proto_jw_obj_begin(&w);
	proto_jw_kuint(&w, "generation", d->generation);
	proto_jw_kstr(&w, "reason", "upgrade");
	proto_jw_kstr(&w, "oldVersion", from);
	proto_jw_kstr(&w, "newVersion", PACKAGE_VERSION);
	proto_jw_obj_end(&w);
	rpc_notify_end(c, &w);
}

/* The daemon.upgrade requests of c are answered: the upgrade is done. */
static void
answer_upgrades(struct daemon *d, struct ctl *c, const char *from, int64_t pause_ms)
{
	struct rpc_call *call, *next;

	for (call = TAILQ_FIRST(&c->calls); call; call = next) {
		struct proto_jw w;

		next = TAILQ_NEXT(call, ctl_link);
		if (call->tcp || call->method != PROTO_M_DAEMON_UPGRADE)
			continue;
		if (rpc_result_begin(call, &w)) {
			proto_jw_obj_begin(&w);
			proto_jw_kuint(&w, "generation", d->generation);
			proto_jw_kint(&w, "pid", (int64_t)getpid());
			proto_jw_kstr(&w, "oldVersion", from);
			proto_jw_kstr(&w, "newVersion", PACKAGE_VERSION);
			proto_jw_kint(&w, "pauseMs", pause_ms);
			proto_jw_obj_end(&w);
		}
		rpc_result_end(call, &w);
		rpc_call_free(call);
	}
}

/* Starts t again: I/O, and a connect or listen that was under way. */
static void
start_tcp(struct tcp *t)
{
	struct tcp_op *op = t->connect_op;

	if (t->upgrade_dropped)
		return;		/* closed once every client has heard of the restart */
	if (op && t->state == TCP_STATE_INITIALIZED) {
		t->connect_op = NULL;
		if (rpc_call_of(op)->method == PROTO_M_TCP_LISTEN)
			tcp_listen(t, op);
		else
			tcp_connect(t, op);
		return;
	}
	tcp_adopt_start(t);
}

/*
 * The old process has let go: everything moves again, and every client
 * hears of the restart (pause_ms: from the request to now).
 */
void
upgrade_load_start(struct daemon *d, const cJSON *img, int64_t pause_ms)
{
	const char *from = str(img, "version");
	const cJSON *clients = cJSON_GetObjectItemCaseSensitive(img, "clients"), *x;
	struct ctl *c, *cn;
	struct tcp *t, *tn;

	if (!from)
		from = "";
	for (c = TAILQ_FIRST(&d->ctls); c; c = TAILQ_NEXT(c, link)) {
		ctl_budget_changed(c);
		for (t = TAILQ_FIRST(&c->own.sockets); t; t = tn) {
			tn = TAILQ_NEXT(t, link);
			start_tcp(t);
		}
	}
	for (t = TAILQ_FIRST(&d->eng.orphans); t; t = tn) {
		tn = TAILQ_NEXT(t, link);
		start_tcp(t);
	}
	/* Clients: the monitors, then the news, then the output goes and the input is read. */
	cJSON_ArrayForEach(x, clients) {
		uint64_t n = (uint64_t)num(x, "num", 0);

		if (flag(x, "monitor") && (c = ctl_find_num(d, n)))
			(void) monitor_enable(c, true);
	}
	for (c = TAILQ_FIRST(&d->ctls); c; c = cn) {
		cn = TAILQ_NEXT(c, link);
		tell_restarted(d, c, from);
		answer_upgrades(d, c, from, pause_ms);
		for (t = TAILQ_FIRST(&c->own.sockets); t; t = tn) {
			tn = TAILQ_NEXT(t, link);
			if (t->upgrade_dropped) {
				/* TLS, not carried: reset by the old process as it let go. */
				t->upgrade_dropped = false;
				t->stored = false;	/* a TLS socket never is */
				fdstore_tcp_closing(t);	/* its ledger slot goes: not lost later */
				t->closed_reason = "upgrade";
				(void) tcp_close(t, NULL, true);
			}
		}
		ctl_output_added(c);
		c->flags |= CTL_PROCESS;
		if (c->flags & CTL_EOF) {
			ev_io_stop(d->loop, &c->rio);
			ctl_hup_watch(c);
		}
	}
	cJSON_ArrayForEach(x, clients) {
		uint64_t n = (uint64_t)num(x, "num", 0);

		if (!flag(x, "drain"))
			continue;
		if ((c = ctl_find_num(d, n)))
			ctl_close_after_flush(c, "closing once flushed");
	}
	if (metrics_http_start(d) < 0)
		log_error("upgrade: metrics-listen could not be opened again");
}
