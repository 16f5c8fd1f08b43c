/*
 * busypoll: polling a while after events before sleeping; see busypoll.h.
 */
#include "config.h"

#include <sched.h>
#include <stddef.h>

#include "busypoll.h"

/*
 * The window to poll for next, after the loop slept `slept` seconds
 * having polled for `window`: doubled (or started) when a window within
 * max would have caught the wake-up, halved when none would have; a
 * window below the starting one is none.  A window past max (max was
 * lowered by a reload) is max first.
 */
double
busypoll_adapt(double window, double max, double slept)
{
	if (max <= 0)
		return 0;
	if (window > max)
		window = max;
	if (window + slept <= max) {
		window = window > 0 ? window * 2 : BUSYPOLL_GROW_START;
		return window < max ? window : max;
	}
	window /= 2;
	return window >= BUSYPOLL_GROW_START ? window : 0;
}

/*
 * A pass that found nothing to do.  Passes are consecutive iterations
 * while nothing happens; a gap in the count means events were handled
 * in between, caught by polling.  Once the window has passed quiet, the
 * loop goes to sleep.  ev_now() is the wall clock's: one that went back
 * (a clock step) starts the quiet stretch again, or the loop would poll
 * until the clock caught up.
 */
static void
on_quiet(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct busypoll *bp = (struct busypoll *)((char *)w - offsetof(struct busypoll, idle));
	unsigned it = ev_iteration(loop);
	double now = ev_now(loop);

	(void) revents;
	if (it != bp->quiet_iter + 1) {
		if (bp->quiet_iter)
			bp->caught++;
		bp->quiet_since = now;
	}
	if (now < bp->quiet_since)
		bp->quiet_since = now;	/* the clock stepped back */
	bp->quiet_iter = it;
	if (now - bp->quiet_since >= bp->window) {
		ev_idle_stop(loop, w);
		bp->slept++;
		bp->slept_at = now;
		return;
	}
	/*
	 * Polling must not hold the CPU from a process that wants it (the
	 * client or the peer whose next message is awaited may be the one):
	 * what the kernel's own idle polling checks with need_resched().
	 */
	(void) sched_yield();
}

void
busypoll_init(struct busypoll *bp, struct ev_loop *loop)
{
	*bp = (struct busypoll){ .loop = loop };
	ev_idle_init(&bp->idle, on_quiet);
	ev_set_priority(&bp->idle, EV_MINPRI);
}

/*
 * After every poll (from the loop's check watcher): max_us is
 * busy-poll-us as configured now; busy says the loop will not sleep
 * anyway (bytes waiting to move).  A loop that slept and was woken
 * adapts the window and, if there is one, starts polling.
 */
void
busypoll_after_poll(struct busypoll *bp, uint64_t max_us, bool busy)
{
	double now = ev_now(bp->loop);
	double max = (double)(max_us < BUSYPOLL_MAX_US ? max_us : BUSYPOLL_MAX_US) / 1e6;

	if (max <= 0) {
		busypoll_stop(bp);
		bp->window = 0;
		return;
	}
	if (bp->window > max)
		bp->window = max;	/* lowered by a reload: in force at once */
	if (ev_is_active(&bp->idle)) {
		if (busy)
			bp->quiet_iter = 0;	/* work is no quiet: the window starts after it */
		return;
	}
	if (busy) {
		bp->slept_at = now;
		return;
	}
	if (bp->slept_at > 0 && now >= bp->slept_at)	/* (not across a clock step back) */
		bp->window = busypoll_adapt(bp->window, max, now - bp->slept_at);
	if (bp->window <= 0) {
		bp->slept_at = now;
		return;
	}
	bp->slept_at = 0;
	bp->quiet_iter = 0;
	bp->quiet_since = now;
	ev_idle_start(bp->loop, &bp->idle);
}

/* No more polling (exit, busy-poll-us set to 0). */
void
busypoll_stop(struct busypoll *bp)
{
	if (ev_is_active(&bp->idle))
		ev_idle_stop(bp->loop, &bp->idle);
}
