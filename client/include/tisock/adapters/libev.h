/*
 * <tisock/adapters/libev.h>: runs a tisock_client on a libev loop.
 * Header-only, so libtisock itself never links libev.
 *
 *	tisock_libev_attach(c, loop);	// then ev_run(loop, 0) drives c
 *
 * The adapter watches the client's fd for reading, and for writing while
 * output is queued, and dispatches from the loop.  Its timer fires when
 * the client has a deadline to keep (tisock_client_timeout: an
 * asynchronous call timing out with no input at all).  Its read watcher
 * keeps the loop alive only while the client has asynchronous work
 * pending, so an idle client never stops ev_run from returning.
 * tisock_client_close() detaches it.
 */
#ifndef TISOCK_ADAPTERS_LIBEV_H
#define TISOCK_ADAPTERS_LIBEV_H

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include <ev.h>
#include <tisock/tisock.h>

struct tisock_libev {
	struct ev_loop	*loop;
	tisock_client	*c;
	ev_io		 rio, wio;
	ev_timer	 timer;		/* the client's next deadline */
	int		 reffed;	/* rio counts toward the loop's life */
};

static inline void
tisock_libev_update_(void *data)
{
	struct tisock_libev *a = (struct tisock_libev *)data;
	int pending = tisock_client_pending(a->c);
	int timeout = tisock_client_timeout(a->c);

	if ((tisock_client_events(a->c) & POLLOUT) && !ev_is_active(&a->wio))
		ev_io_start(a->loop, &a->wio);
	else if (!(tisock_client_events(a->c) & POLLOUT) && ev_is_active(&a->wio))
		ev_io_stop(a->loop, &a->wio);
	/* The timer hook: armed for the client's next deadline, if any. */
	if (ev_is_active(&a->timer))
		ev_timer_stop(a->loop, &a->timer);
	if (timeout >= 0) {
		ev_timer_set(&a->timer, timeout / 1000.0, 0.);
		ev_timer_start(a->loop, &a->timer);
	}
	if (pending && !a->reffed) {
		ev_ref(a->loop);
		a->reffed = 1;
	} else if (!pending && a->reffed) {
		ev_unref(a->loop);
		a->reffed = 0;
	}
}

static inline void
tisock_libev_on_io_(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tisock_libev *a = (struct tisock_libev *)w->data;

	(void)loop;
	(void)revents;
	(void)tisock_client_dispatch(a->c, 0);
}

static inline void
tisock_libev_on_timer_(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tisock_libev *a = (struct tisock_libev *)w->data;

	(void)loop;
	(void)revents;
	(void)tisock_client_dispatch(a->c, 0);	/* expires what is due */
}

static inline void
tisock_libev_cleanup_(void *data)
{
	struct tisock_libev *a = (struct tisock_libev *)data;

	if (!a->reffed)
		ev_ref(a->loop);	/* libev: ref before stopping an unref'd watcher */
	ev_io_stop(a->loop, &a->rio);
	ev_io_stop(a->loop, &a->wio);
	ev_timer_stop(a->loop, &a->timer);
	free(a);
}

/* Attaches c to loop.  Returns 0, -EBUSY if c already has an adapter, or -ENOMEM. */
static inline int
tisock_libev_attach(tisock_client *c, struct ev_loop *loop)
{
	struct tisock_libev *a = (struct tisock_libev *)calloc(1, sizeof(*a));
	struct tisock_client_hooks h;
	int r;

	if (!a)
		return -ENOMEM;
	a->loop = loop;
	a->c = c;
	a->reffed = 1;
	ev_io_init(&a->rio, tisock_libev_on_io_, tisock_client_fd(c), EV_READ);
	ev_io_init(&a->wio, tisock_libev_on_io_, tisock_client_fd(c), EV_WRITE);
	ev_timer_init(&a->timer, tisock_libev_on_timer_, 0., 0.);
	a->rio.data = a;
	a->wio.data = a;
	a->timer.data = a;
	ev_io_start(loop, &a->rio);
	h.update = tisock_libev_update_;
	h.cleanup = tisock_libev_cleanup_;
	h.data = a;
	r = tisock_client_set_hooks(c, &h);
	if (r < 0) {
		ev_io_stop(loop, &a->rio);
		free(a);
	}
	return r;
}

#endif
