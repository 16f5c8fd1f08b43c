/*
 * client-dispatch: the loop's one step, tisock_client_dispatch(), and
 * the local sources (buffer and fd streams) it runs.
 *
 * A dispatch waits on the client's epoll set, reads the daemon into the
 * inbox (up to its bound), then runs, in this order: the inbox's
 * callbacks (answers and notifications, in arrival order), the
 * callbacks of async calls past their deadline, the failures of calls
 * the daemon can no longer answer, the sources that were due, and the
 * free callbacks of sockets freed meanwhile.  Callbacks never run
 * anywhere else, so a request function always returns before its
 * callback runs.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "client.h"
#include "lib-public.h"
#include "proto-idmap.h"
#include "tcp.h"

#define CLIENT_EPOLL_BATCH	32

extern char lib_tag_daemon, lib_tag_wake;

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

/* The client is closing: every source drops its work (and unbinds). */
void
lib_sources_detach(tisock_client *c)
{
	struct lib_source *src;

	while ((src = TAILQ_FIRST(&c->sources)))
		src->detach(src);
}

/* Runs the callback of one message.  Returns 1 if a callback ran. */
static int
dispatch_one(tisock_client *c, cJSON *m)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
	struct lib_call *call;

	if (!id) {
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
	call = cJSON_IsNumber(id) ? lib_call_find(c, (int64_t)id->valuedouble) : NULL;
	if (!call || call->abandoned || !call->done) {
		if (call)
			lib_call_finish(c, call);
		return 0;
	}
	call->done(c, call, m);
	lib_call_finish(c, call);
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
	int n, i, r = 0, deadline = tisock_client_timeout(c);

	if (c->broken) {
		/* The daemon is gone; local sources (stream fds) may still have work. */
		if (c->nlocal == 0 && TAILQ_EMPTY(&c->runq) && TAILQ_EMPTY(&c->dead))
			return -EPIPE;
		r = -EPIPE;
	} else if (lib_flush(c) < 0) {
		r = -EPIPE;	/* what the daemon sent before it went is still read */
	}
	if (deadline >= 0 && (timeout_ms < 0 || deadline < timeout_ms))
		timeout_ms = deadline;
	lib_update(c);
	n = epoll_wait(c->epfd, evs, CLIENT_EPOLL_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? r : -errno;
	for (i = 0; i < n; i++) {
		void *tag = evs[i].data.ptr;

		if (tag == &lib_tag_daemon) {
			int k;

			if (evs[i].events & EPOLLOUT && !c->broken && lib_flush(c) < 0)
				r = -EPIPE;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR) &&
			    (k = lib_read_in(c, false)) < 0)
				r = k;
		} else if (tag == &lib_tag_wake) {
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
	int64_t limit = c->next_id;	/* calls made by these callbacks fail next time */
	struct lib_call *call;
	int ran = 0;

	if (c->nasync > 0 || c->npumping > 0)
		lib_set_error(c, 0, "the daemon went away");
	while (!c->closing && (call = TAILQ_FIRST(&c->calls)) && call->id < limit) {
		if (call->done && !call->abandoned) {
			call->err = -EPIPE;
			call->done(c, call, NULL);
			ran++;
		}
		lib_call_finish(c, call);
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

/* Runs the inbox's callbacks, in arrival order.  Returns how many ran. */
static int
run_inbox(tisock_client *c)
{
	struct lib_msg *m;
	int ran = 0;

	while (!c->closing && (m = TAILQ_FIRST(&c->inbox))) {
		TAILQ_REMOVE(&c->inbox, m, link);
		c->inbox_bytes -= m->bytes;
		ran += dispatch_one(c, m->json);
		cJSON_Delete(m->json);
		free(m);
		lib_tcp_reap(c);
	}
	return ran;
}

TISOCK_PUBLIC int
tisock_client_dispatch(tisock_client *c, int timeout_ms)
{
	struct lib_source *src;
	int r, ran = 0, due = 0;

	if (!c)
		return -EINVAL;
	if (c->in_dispatch)
		return -EBUSY;	/* called from a callback */
	r = poll_all(c, TAILQ_EMPTY(&c->inbox) && TAILQ_EMPTY(&c->runq) &&
			TAILQ_EMPTY(&c->dead) ? timeout_ms : 0);
	c->in_dispatch++;
	ran += run_inbox(c);
	if (!c->closing)
		ran += lib_calls_expire(c);
	if (c->broken && !c->closing && TAILQ_EMPTY(&c->inbox))
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
	if (!c->closing)
		lib_tcp_reap(c);	/* free callbacks of sockets freed outside dispatch */
	c->in_dispatch--;
	if (c->closing) {
		tisock_client_close(c);
		return ran;
	}
	if (c->pumps_paused && c->inbox_bytes < c->inbox_max / 2)
		lib_tcp_resume_pumps(c);
	(void) lib_flush(c);
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
