/*
 * client: the client object: opening (to the daemon, or local), closing,
 * what an event loop asks of it (fd, events, pending, timeout), its
 * settings and its last error.  See client.h for the engine's parts.
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
#include "proto-idmap.h"
#include "proto-reader.h"
#include "tcp.h"

#define CLIENT_MAX_LINE		(64u << 20)	/* longest answer accepted */
#define CLIENT_INBOX_MIN	(64u << 10)	/* smallest inbox bound accepted */

/* epoll tags for the client's own fds; anything else is a lib_source. */
char lib_tag_daemon, lib_tag_wake;

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

/* Monotonic milliseconds. */
long long
lib_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The fd handed to event loops is an epoll set holding the daemon
 * connection, an eventfd raised while callbacks are due without input
 * (answers a blocking call read ahead, stream operations, sockets to
 * release), and the fds of streams with asynchronous operations.  One
 * fd, readable whenever dispatch has something to do, the way sd-event
 * exposes its loop.
 */
static int
client_epoll_init(tisock_client *c)
{
	struct epoll_event ev = { .events = EPOLLIN };

	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->epfd < 0 || c->wakefd < 0)
		return -1;
	if (c->fd >= 0) {
		ev.data.ptr = &lib_tag_daemon;
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			return -1;
		c->fd_events = EPOLLIN;
	}
	ev.data.ptr = &lib_tag_wake;
	return epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->wakefd, &ev);
}

/* A client with everything but the daemon connection.  NULL with errno. */
static tisock_client *
client_new(int fd)
{
	tisock_client *c = calloc(1, sizeof(*c));
	int e;

	if (!c) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	c->fd = fd;
	c->epfd = c->wakefd = c->answer_fd = c->intrfd = -1;
	c->next_id = 1;
	c->inbox_max = CLIENT_INBOX_DEFAULT;
	TAILQ_INIT(&c->calls);
	TAILQ_INIT(&c->deadlines);
	TAILQ_INIT(&c->inbox);
	TAILQ_INIT(&c->sockets);
	TAILQ_INIT(&c->dead);
	TAILQ_INIT(&c->runq);
	TAILQ_INIT(&c->sources);
	c->err.message = "";
	errno = 0;
	if (client_epoll_init(c) < 0 ||
	    (c->intrfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    !(c->call_ids = proto_idmap_new()) ||
	    !(c->socket_ids = proto_idmap_new()) ||
	    (fd >= 0 && !(c->reader = proto_reader_new(CLIENT_MAX_LINE)))) {
		e = errno ? errno : ENOMEM;
		if (c->fd >= 0)
			close(c->fd);
		if (c->epfd >= 0)
			close(c->epfd);
		if (c->wakefd >= 0)
			close(c->wakefd);
		if (c->intrfd >= 0)
			close(c->intrfd);
		proto_idmap_free(c->call_ids);
		proto_idmap_free(c->socket_ids);
		free(c);
		errno = e;
		return NULL;
	}
	return c;
}

TISOCK_PUBLIC tisock_client *
tisock_client_open(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *p = path ? strdup(path) : default_path();
	int fd, e;

	if (!p)
		return NULL;
	if (strlen(p) >= sizeof(sun.sun_path)) {
		free(p);
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(sun.sun_path, p, strlen(p) + 1);
	free(p);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	return client_new(fd);
}

TISOCK_PUBLIC tisock_client *
tisock_client_open_local(void)
{
	return client_new(-1);
}

TISOCK_PUBLIC void
tisock_client_close(tisock_client *c)
{
	if (!c)
		return;
	if (c->in_dispatch) {
		c->closing = true;	/* finished by tisock_client_dispatch */
		return;
	}
	if (c->in_close)
		return;
	c->in_close = true;
	if (c->hooks.cleanup)
		c->hooks.cleanup(c->hooks.data);
	c->hooks = (struct tisock_client_hooks){ 0 };
	lib_tcp_detach_all(c);	/* runs the sockets' free callbacks */
	lib_sources_detach(c);
	lib_calls_free(c);
	lib_inbox_clear(c);
	if (c->fd >= 0)
		close(c->fd);
	close(c->epfd);
	close(c->wakefd);
	close(c->intrfd);
	for (size_t i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	if (c->answer_fd >= 0)
		close(c->answer_fd);
	free(c->fds);
	proto_reader_free(c->reader);
	proto_buf_free(&c->out);
	proto_idmap_free(c->call_ids);
	proto_idmap_free(c->socket_ids);
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

TISOCK_PUBLIC int
tisock_client_set_timeout(tisock_client *c, int timeout_ms)
{
	if (!c || timeout_ms < 0)
		return -EINVAL;
	c->timeout_ms = timeout_ms;
	return 0;
}

TISOCK_PUBLIC int
tisock_client_set_inbox_max(tisock_client *c, size_t bytes)
{
	if (!c)
		return -EINVAL;
	c->inbox_max = bytes == 0 ? CLIENT_INBOX_DEFAULT
				  : bytes < CLIENT_INBOX_MIN ? CLIENT_INBOX_MIN : bytes;
	lib_update(c);
	return 0;
}

/*
 * Brings the epoll set up to date (the daemon fd is watched for reading
 * while the inbox has room, for writing while output is queued; the
 * eventfd is raised while callbacks are due) and tells the event-loop
 * adapter, if any, to look at c again.
 */
void
lib_update(tisock_client *c)
{
	uint32_t want = (c->inbox_bytes < c->inbox_max ? EPOLLIN : 0) |
			(proto_buf_used(&c->out) ? EPOLLOUT : 0);

	if (c->fd < 0) {
		/* local: no daemon connection to watch */
	} else if (c->broken && c->fd_events) {
		/* At EOF the fd would stay readable: out of the set, or loops spin. */
		(void) epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->fd_events = 0;
	} else if (!c->broken && want != c->fd_events) {
		struct epoll_event ev = { .events = want, .data.ptr = &lib_tag_daemon };

		if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
			c->fd_events = want;
	}
	if (!c->woken && (!TAILQ_EMPTY(&c->inbox) || !TAILQ_EMPTY(&c->runq) ||
			  !TAILQ_EMPTY(&c->dead)))
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
	(void)c;
	return POLLIN;
}

TISOCK_PUBLIC int
tisock_client_pending(const tisock_client *c)
{
	if (!c)
		return 0;
	return c->nasync > 0 || !TAILQ_EMPTY(&c->inbox) || c->npumping > 0 || c->nlocal > 0 ||
	       !TAILQ_EMPTY(&c->dead);
}

TISOCK_PUBLIC int
tisock_client_timeout(const tisock_client *c)
{
	const struct lib_call *first;
	long long left;

	if (!c || !(first = TAILQ_FIRST(&c->deadlines)))
		return -1;
	left = first->deadline - lib_now_ms();
	return left <= 0 ? 0 : left > 2147483647 ? 2147483647 : (int)left;
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
	case PROTO_E_CANCELLED:		return -ECANCELED;
	case PROTO_E_LIMIT:		return -ENOBUFS;
	case PROTO_E_TIMEOUT:		return -ETIMEDOUT;
	case PROTO_E_RESOLVE:		return -ENXIO;
	case PROTO_E_NETWORK:		return sys_errno > 0 ? -sys_errno : -EIO;
	case PROTO_E_INVALID_PARAMS:	return -EINVAL;
	default:			return -EPROTO;
	}
}
