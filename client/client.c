/*
 * client: the connection to tisockd; see client.h.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "lib-public.h"
#include "proto-errors.h"
#include "proto-jsonrpc.h"
#include "proto-reader.h"

#define CLIENT_MAX_LINE		(64u << 20)	/* longest answer accepted */
#define CLIENT_READ_CHUNK	(256u << 10)
#define CLIENT_EPOLL_BATCH	32

/* epoll tags for the client's own fds; anything else is a lib_source. */
static char tag_daemon, tag_wake;

static char *
default_path(void)
{
	const char *env = getenv("TISOCKD_SOCKET"), *xdg = getenv("XDG_RUNTIME_DIR");
	char *p;

	if (env && *env)
		return strdup(env);
	if (xdg && *xdg)
		return asprintf(&p, "%s/tisockd.sock", xdg) < 0 ? NULL : p;
	return strdup("/run/tisockd/tisockd.sock");
}

/*
 * The fd handed to event loops is an epoll set holding the daemon
 * connection, an eventfd raised while callbacks are due without input
 * (answers a blocking call read ahead, stream operations), and the fds
 * of streams with asynchronous operations.  One fd, readable whenever
 * dispatch has something to do, the way sd-event exposes its loop.
 */
static int
client_epoll_init(tisock_client *c)
{
	struct epoll_event ev = { .events = EPOLLIN };

	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->epfd < 0 || c->wakefd < 0)
		return -1;
	ev.data.ptr = &tag_daemon;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -1;
	c->fd_events = EPOLLIN;
	ev.data.ptr = &tag_wake;
	return epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->wakefd, &ev);
}

TISOCK_PUBLIC tisock_client *
tisock_client_open(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *p = path ? strdup(path) : default_path();
	tisock_client *c;
	int e;

	if (!p)
		return NULL;
	if (strlen(p) >= sizeof(sun.sun_path)) {
		free(p);
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(sun.sun_path, p, strlen(p) + 1);
	free(p);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->epfd = c->wakefd = -1;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    client_epoll_init(c) < 0 || !(c->reader = proto_reader_new(CLIENT_MAX_LINE))) {
		e = errno ? errno : ENOMEM;
		if (c->fd >= 0)
			close(c->fd);
		if (c->epfd >= 0)
			close(c->epfd);
		if (c->wakefd >= 0)
			close(c->wakefd);
		free(c);
		errno = e;
		return NULL;
	}
	c->next_id = 1;
	TAILQ_INIT(&c->calls);
	TAILQ_INIT(&c->inbox);
	TAILQ_INIT(&c->sockets);
	TAILQ_INIT(&c->dead);
	TAILQ_INIT(&c->runq);
	TAILQ_INIT(&c->sources);
	c->err.message = "";
	return c;
}

static void
call_free(struct lib_call *call)
{
	if (call->ctx_free)
		call->ctx_free(call->ctx);
	free(call);
}

TISOCK_PUBLIC void
tisock_client_close(tisock_client *c)
{
	struct lib_call *call;
	struct lib_msg *m;

	if (!c)
		return;
	if (c->in_dispatch) {
		c->closing = true;	/* finished by tisock_client_dispatch */
		return;
	}
	if (c->hooks.cleanup)
		c->hooks.cleanup(c->hooks.data);
	lib_tcp_detach_all(c);
	while (!TAILQ_EMPTY(&c->sources)) {
		struct lib_source *src = TAILQ_FIRST(&c->sources);

		src->detach(src);	/* unbinds src */
	}
	while ((call = TAILQ_FIRST(&c->calls))) {
		TAILQ_REMOVE(&c->calls, call, link);
		call_free(call);
	}
	while ((m = TAILQ_FIRST(&c->inbox))) {
		TAILQ_REMOVE(&c->inbox, m, link);
		cJSON_Delete(m->json);
		free(m);
	}
	close(c->fd);
	close(c->epfd);
	close(c->wakefd);
	for (size_t i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	free(c->fds);
	proto_reader_free(c->reader);
	proto_buf_free(&c->out);
	free(c->err_message);
	free(c->err_data);
	free(c);
}

TISOCK_PUBLIC int
tisock_client_set_hooks(tisock_client *c, const struct tisock_client_hooks *h)
{
	if (!c)
		return -EINVAL;
	if (h && c->hooks.update)
		return -EBUSY;
	c->hooks = h ? *h : (struct tisock_client_hooks){ 0 };
	lib_update(c);
	return 0;
}

/*
 * Brings the epoll set up to date (the daemon fd is watched for writing
 * while output is queued; the eventfd is raised while callbacks are due)
 * and tells the event-loop adapter, if any, to look at c again.
 */
void
lib_update(tisock_client *c)
{
	uint32_t want = EPOLLIN | (proto_buf_used(&c->out) ? EPOLLOUT : 0);

	if (c->broken && c->fd_events) {
		/* At EOF the fd would stay readable: out of the set, or loops spin. */
		(void) epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->fd_events = 0;
	} else if (!c->broken && want != c->fd_events) {
		struct epoll_event ev = { .events = want, .data.ptr = &tag_daemon };

		if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
			c->fd_events = want;
	}
	if (!c->woken && (!TAILQ_EMPTY(&c->inbox) || !TAILQ_EMPTY(&c->runq)))
		c->woken = eventfd_write(c->wakefd, 1) == 0;
	if (c->hooks.update)
		c->hooks.update(c->hooks.data);
}

TISOCK_PUBLIC int
tisock_client_fd(const tisock_client *c)
{
	return c ? c->epfd : -EBADF;
}

TISOCK_PUBLIC int
tisock_client_events(const tisock_client *c)
{
	return POLLIN;
}

TISOCK_PUBLIC int
tisock_client_pending(const tisock_client *c)
{
	return !TAILQ_EMPTY(&c->calls) || !TAILQ_EMPTY(&c->inbox) || c->npumping > 0 ||
	       c->nlocal > 0;
}

/* ---- local sources ---------------------------------------------------- */

void
lib_source_bind(tisock_client *c, struct lib_source *src)
{
	src->watch_fd = -1;
	TAILQ_INSERT_TAIL(&c->sources, src, bound);
}

/* Stops watching and scheduling src (its work is done or dropped). */
void
lib_source_quiet(tisock_client *c, struct lib_source *src)
{
	if (src->scheduled) {
		TAILQ_REMOVE(&c->runq, src, runq);
		src->scheduled = false;
	}
	if (src->watch_fd >= 0) {
		(void) epoll_ctl(c->epfd, EPOLL_CTL_DEL, src->watch_fd, NULL);
		src->watch_fd = -1;
		src->watch_events = 0;
	}
}

void
lib_source_unbind(tisock_client *c, struct lib_source *src)
{
	lib_source_quiet(c, src);
	TAILQ_REMOVE(&c->sources, src, bound);
}

/* src runs from the next dispatch. */
void
lib_source_schedule(tisock_client *c, struct lib_source *src)
{
	if (!src->scheduled) {
		TAILQ_INSERT_TAIL(&c->runq, src, runq);
		src->scheduled = true;
	}
	lib_update(c);
}

/*
 * src runs once fd is ready for events (EPOLLIN or EPOLLOUT).  fd must
 * stay the same while src watches it.  Returns 0, or -EPERM for an fd
 * epoll cannot watch (a regular file: always ready), or -errno.
 */
int
lib_source_watch(tisock_client *c, struct lib_source *src, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };
	int op = src->watch_fd < 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

	if (src->watch_fd >= 0 && src->watch_events == events)
		return 0;
	if (epoll_ctl(c->epfd, op, fd, &ev) < 0)
		return -errno;
	src->watch_fd = fd;
	src->watch_events = events;
	return 0;
}

void
lib_set_error(tisock_client *c, int code, const char *message)
{
	free(c->err_message);
	free(c->err_data);
	c->err_message = strdup(message ? message : "");
	c->err_data = NULL;
	c->err = (struct tisock_error){ .code = code, .message = c->err_message ? c->err_message : "" };
}

TISOCK_PUBLIC int
tisock_client_set_notify(tisock_client *c, tisock_notify_cb cb, void *userdata)
{
	if (!c)
		return -EINVAL;
	c->notify = cb;
	c->notify_data = userdata;
	return 0;
}

TISOCK_PUBLIC const char *
tisock_client_error(const tisock_client *c)
{
	return c && c->err.message ? c->err.message : "";
}

TISOCK_PUBLIC const struct tisock_error *
tisock_client_last_error(const tisock_client *c)
{
	return &c->err;
}

/* The errno a protocol error code stands for. */
int
lib_errno_from_code(int code, int sys_errno)
{
	switch (code) {
	case 0:				return 0;
	case PROTO_E_NO_SOCKET:		return -EBADF;
	case PROTO_E_INVALID_STATE:	return -ENOTCONN;
	case PROTO_E_NOT_PERMITTED:	return -EPERM;
	case PROTO_E_CLOSED:		return -ECANCELED;
	case PROTO_E_LIMIT:		return -ENOBUFS;
	case PROTO_E_TIMEOUT:		return -ETIMEDOUT;
	case PROTO_E_RESOLVE:		return -ENXIO;
	case PROTO_E_NETWORK:		return sys_errno > 0 ? -sys_errno : -EIO;
	case PROTO_E_INVALID_PARAMS:	return -EINVAL;
	default:			return -EPROTO;
	}
}

/*
 * Records the error of an answer, if it is one.  Returns 0 for a result,
 * else the errno the error stands for.
 */
int
lib_answer_error(tisock_client *c, const cJSON *answer)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(answer, "error"), *v, *data;

	if (!answer) {
		lib_set_error(c, 0, "no answer: the daemon went away");
		return -EPIPE;
	}
	if (!e)
		return 0;
	v = cJSON_GetObjectItemCaseSensitive(e, "message");
	lib_set_error(c, 0, cJSON_IsString(v) ? v->valuestring : "error");
	v = cJSON_GetObjectItemCaseSensitive(e, "code");
	c->err.code = cJSON_IsNumber(v) ? v->valueint : PROTO_E_INTERNAL;
	data = cJSON_GetObjectItemCaseSensitive(e, "data");
	if (data) {
		c->err_data = cJSON_PrintUnformatted(data);
		c->err.data_json = c->err_data;
		v = cJSON_GetObjectItemCaseSensitive(data, "errno");
		c->err.sys_errno = cJSON_IsNumber(v) ? v->valueint : 0;
		v = cJSON_GetObjectItemCaseSensitive(data, "message");
		if (cJSON_IsString(v) && c->err.sys_errno) {
			char *m;

			if (asprintf(&m, "%s: %s", c->err_message, v->valuestring) >= 0) {
				free(c->err_message);
				c->err_message = m;
				c->err.message = m;
			}
		}
	}
	return lib_errno_from_code(c->err.code, c->err.sys_errno);
}

/* Queues one request line.  Returns its id, or -ENOMEM. */
static long long
queue_request(tisock_client *c, const char *method, lib_params_fn params, const void *arg)
{
	size_t mark = proto_buf_used(&c->out);
	struct proto_jw w;
	long long id = c->next_id++;

	proto_jw_init(&w, &c->out);
	proto_jw_obj_begin(&w);
	proto_jw_kstr(&w, "jsonrpc", "2.0");
	proto_jw_kint(&w, "id", id);
	proto_jw_kstr(&w, "method", method);
	proto_jw_key(&w, "params");
	proto_jw_obj_begin(&w);
	if (params)
		params(&w, arg);
	proto_jw_obj_end(&w);
	proto_jw_obj_end(&w);
	if (proto_jw_error(&w) < 0 || proto_buf_putc(&c->out, '\n') < 0) {
		c->out.len = c->out.off + mark;
		return -ENOMEM;
	}
	return id;
}

/* Writes what the socket takes now.  Returns 0 or -EPIPE. */
static int
flush_out(tisock_client *c)
{
	while (proto_buf_used(&c->out) > 0) {
		ssize_t n = send(c->fd, proto_buf_head(&c->out), proto_buf_used(&c->out),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			c->broken = true;
			return -EPIPE;
		}
		proto_buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

/* Keeps the fds that came with a message, in arrival order.  0 or -ENOMEM. */
static int
keep_fds(tisock_client *c, struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;
		int *fds;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = realloc(c->fds, (c->nfds + n) * sizeof(int));
		if (!fds) {
			for (size_t i = 0; i < n; i++)
				close(((int *)(void *)CMSG_DATA(cm))[i]);
			return -ENOMEM;
		}
		c->fds = fds;
		memcpy(c->fds + c->nfds, CMSG_DATA(cm), n * sizeof(int));
		c->nfds += n;
	}
	return 0;
}

/* The oldest received fd not yet claimed (now the caller's), or -1. */
int
lib_take_fd(tisock_client *c)
{
	int fd;

	if (c->nfds == 0)
		return -1;
	fd = c->fds[0];
	memmove(c->fds, c->fds + 1, --c->nfds * sizeof(int));
	return fd;
}

/* Reads what has arrived into the inbox.  Returns 0, or -EPIPE at EOF. */
static int
read_in(tisock_client *c)
{
	for (;;) {
		void *p;
		size_t room;
		ssize_t n;
		char *line;
		size_t len;
		int k;

		struct iovec iov;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		union {
			char		buf[CMSG_SPACE(sizeof(int) * 8)];
			struct cmsghdr	align;
		} u;

		if (proto_reader_space(c->reader, CLIENT_READ_CHUNK, &p, &room) < 0)
			return -ENOMEM;
		/* recvmsg: an answer may carry a file descriptor (tcp.channel). */
		iov = (struct iovec){ .iov_base = p, .iov_len = room };
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n > 0 && mh.msg_controllen > 0 && keep_fds(c, &mh) < 0)
			return -ENOMEM;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			c->broken = true;
			return -EPIPE;
		}
		if (n == 0) {
			c->broken = true;
			return -EPIPE;
		}
		proto_reader_commit(c->reader, (size_t)n);
		while ((k = proto_reader_next(c->reader, &line, &len)) != PROTO_READER_NONE) {
			struct lib_msg *m;

			if (k != PROTO_READER_LINE)
				continue;
			m = calloc(1, sizeof(*m));
			if (!m)
				return -ENOMEM;
			m->json = cJSON_ParseWithLength(line, len);
			if (!m->json) {
				free(m);
				continue;	/* not JSON: nothing to route it to */
			}
			TAILQ_INSERT_TAIL(&c->inbox, m, link);
		}
	}
}

/* Flushes, then waits up to timeout_ms for input and reads it.  0 or -errno. */
static int
pump_io(tisock_client *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->fd };
	int r;

	if (c->broken)
		return -EPIPE;
	r = flush_out(c);
	if (r < 0)
		return r;
	p.events = POLLIN | (proto_buf_used(&c->out) ? POLLOUT : 0);
	r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (p.revents & POLLOUT && (r = flush_out(c)) < 0)
		return r;
	if (p.revents & (POLLIN | POLLHUP | POLLERR))
		return read_in(c);
	return 0;
}

static long long
msg_id(const cJSON *m)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");

	return cJSON_IsNumber(id) ? (long long)id->valuedouble : -1;
}

/*
 * Sends a request whose answer done() will get from dispatch.  Returns
 * the call (owned by c), or NULL on OOM.
 */
struct lib_call *
lib_call_start(tisock_client *c, const char *method, lib_params_fn params, const void *arg,
	       lib_done_fn done, tisock_tcp *tcp)
{
	struct lib_call *call = calloc(1, sizeof(*call));

	if (!call)
		return NULL;
	call->id = queue_request(c, method, params, arg);
	if (call->id < 0) {
		free(call);
		return NULL;
	}
	call->done = done;
	call->tcp = tcp;
	TAILQ_INSERT_TAIL(&c->calls, call, link);
	(void) flush_out(c);
	lib_update(c);
	return call;
}

/*
 * Sends a request and waits for its answer, leaving every other message
 * in the inbox for dispatch.  Returns the answer (free with cJSON_Delete),
 * or NULL when the daemon went away (c's error says so).
 */
cJSON *
lib_call_wait(tisock_client *c, const char *method, lib_params_fn params, const void *arg)
{
	long long id = queue_request(c, method, params, arg);

	if (id < 0) {
		lib_set_error(c, 0, "out of memory");
		return NULL;
	}
	for (;;) {
		struct lib_msg *m;

		TAILQ_FOREACH(m, &c->inbox, link) {
			if (msg_id(m->json) == id) {
				cJSON *j = m->json;

				TAILQ_REMOVE(&c->inbox, m, link);
				free(m);
				lib_update(c);	/* what was read ahead is due */
				return j;
			}
		}
		if (pump_io(c, -1) < 0) {
			lib_set_error(c, 0, "the daemon went away");
			return NULL;
		}
	}
}

/* Writes the members of a parsed params object verbatim. */
static void
raw_params(struct proto_jw *w, const void *arg)
{
	const cJSON *member;

	cJSON_ArrayForEach(member, (const cJSON *)arg) {
		char *v = cJSON_PrintUnformatted(member);

		proto_jw_key(w, member->string);
		if (v)
			proto_jw_raw(w, v, strlen(v));
		else
			proto_jw_null(w);
		free(v);
	}
}

TISOCK_PUBLIC int
tisock_client_call(tisock_client *c, const char *method, const char *params_json,
		   char **ret_result_json)
{
	cJSON *params = NULL, *answer;
	int r;

	if (!c || !method)
		return -EINVAL;
	if (params_json) {
		params = cJSON_Parse(params_json);
		if (!cJSON_IsObject(params)) {
			cJSON_Delete(params);
			lib_set_error(c, PROTO_E_INVALID_PARAMS, "params must be a JSON object");
			return -EINVAL;
		}
	}
	answer = lib_call_wait(c, method, params ? raw_params : NULL, params);
	cJSON_Delete(params);
	r = lib_answer_error(c, answer);
	if (r == 0 && ret_result_json) {
		*ret_result_json = cJSON_PrintUnformatted(
			cJSON_GetObjectItemCaseSensitive(answer, "result"));
		if (!*ret_result_json)
			r = -ENOMEM;
	}
	cJSON_Delete(answer);
	return r;
}

/* Runs the callback of one message.  Returns 1 if a callback ran. */
static int
dispatch_one(tisock_client *c, cJSON *m)
{
	long long id = msg_id(m);
	struct lib_call *call;

	if (id < 0) {
		const cJSON *method = cJSON_GetObjectItemCaseSensitive(m, "method");

		const cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params");

		if (!cJSON_IsString(method))
			return 0;
		if (lib_tcp_notify(c, method->valuestring, params))
			return 1;
		if (c->notify) {
			char *text = params ? cJSON_PrintUnformatted(params) : NULL;

			c->notify(c, method->valuestring, text ? text : "null", c->notify_data);
			free(text);
			return 1;
		}
		return 0;
	}
	TAILQ_FOREACH(call, &c->calls, link)
		if (call->id == id)
			break;
	if (!call)
		return 0;
	TAILQ_REMOVE(&c->calls, call, link);
	if (call->done)
		call->done(c, call, m);
	call_free(call);
	return 1;
}

/*
 * Waits up to timeout_ms on the epoll set, then does what it reports:
 * flushes and reads the daemon connection, lowers the eventfd, and
 * schedules the sources whose fds are ready.  0 or -errno.
 */
static int
poll_all(tisock_client *c, int timeout_ms)
{
	struct epoll_event evs[CLIENT_EPOLL_BATCH];
	int n, i, r = 0;

	if (c->broken) {
		/* The daemon is gone; local sources (stream fds) may still have work. */
		if (c->nlocal == 0 && TAILQ_EMPTY(&c->runq))
			return -EPIPE;
		r = -EPIPE;
	} else if (flush_out(c) < 0) {
		r = -EPIPE;	/* what the daemon sent before it went is still read */
	}
	lib_update(c);
	n = epoll_wait(c->epfd, evs, CLIENT_EPOLL_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? r : -errno;
	for (i = 0; i < n; i++) {
		void *tag = evs[i].data.ptr;

		if (tag == &tag_daemon) {
			int k;

			if (evs[i].events & EPOLLOUT && !c->broken && flush_out(c) < 0)
				r = -EPIPE;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR) &&
			    (k = read_in(c)) < 0)
				r = k;
		} else if (tag == &tag_wake) {
			eventfd_t v;

			(void) eventfd_read(c->wakefd, &v);
			c->woken = false;
		} else {
			struct lib_source *src = tag;

			if (!src->scheduled) {
				TAILQ_INSERT_TAIL(&c->runq, src, runq);
				src->scheduled = true;
			}
		}
	}
	return r;
}

/*
 * The daemon is gone and everything it sent is dispatched: each call
 * still waiting gets its callback with no answer (-EPIPE), pumps end.
 */
static int
fail_calls(tisock_client *c)
{
	struct lib_call *call;
	int ran = 0;

	if (!TAILQ_EMPTY(&c->calls) || c->npumping > 0)
		lib_set_error(c, 0, "the daemon went away");
	while (!c->closing && (call = TAILQ_FIRST(&c->calls))) {
		TAILQ_REMOVE(&c->calls, call, link);
		if (call->done) {
			call->done(c, call, NULL);
			ran++;
		}
		call_free(call);
		lib_tcp_reap(c);
	}
	if (!c->closing && !c->broken_told) {
		c->broken_told = true;
		ran += c->npumping > 0;
		lib_tcp_broken(c);
		lib_tcp_reap(c);
	}
	return ran;
}

TISOCK_PUBLIC int
tisock_client_dispatch(tisock_client *c, int timeout_ms)
{
	struct lib_source *src;
	struct lib_msg *m;
	int r, ran = 0, due = 0;

	if (!c)
		return -EINVAL;
	if (c->in_dispatch)
		return -EBUSY;	/* called from a callback */
	r = poll_all(c, TAILQ_EMPTY(&c->inbox) && TAILQ_EMPTY(&c->runq) ? timeout_ms : 0);
	c->in_dispatch++;
	while (!c->closing && (m = TAILQ_FIRST(&c->inbox))) {
		TAILQ_REMOVE(&c->inbox, m, link);
		ran += dispatch_one(c, m->json);
		cJSON_Delete(m->json);
		free(m);
		lib_tcp_reap(c);
	}
	if (c->broken && !c->closing)
		ran += fail_calls(c);
	/* As many runs as were due: sources rescheduled by them wait for the next dispatch. */
	TAILQ_FOREACH(src, &c->runq, runq)
		due++;
	while (!c->closing && due-- > 0 && (src = TAILQ_FIRST(&c->runq))) {
		TAILQ_REMOVE(&c->runq, src, runq);
		src->scheduled = false;
		src->run(src);
		ran++;
		lib_tcp_reap(c);
	}
	c->in_dispatch--;
	if (c->closing) {
		tisock_client_close(c);
		return ran;
	}
	(void) flush_out(c);
	lib_update(c);
	return r < 0 && ran == 0 ? r : ran;
}

TISOCK_PUBLIC int
tisock_client_run(tisock_client *c)
{
	while (tisock_client_pending(c)) {
		int r = tisock_client_dispatch(c, -1);

		if (r < 0)
			return r;
	}
	return 0;
}
