/*
 * busypoll: keep polling a little while after events, instead of
 * sleeping at once (`busy-poll-us`, off by default).
 *
 * Where waking an idle CPU is slow (a virtual machine's halted vCPU, a
 * deep C-state), most of a short request's round trip through the
 * daemon is spent waking it: the client's request wakes the daemon, the
 * peer's reply wakes it again.  A loop that is still polling when the
 * next event arrives takes it at once.  The cost is CPU: a polling loop
 * burns its core for as long as it polls.
 *
 * So the loop polls only for a window after each event, and the window
 * adapts as cpuidle's haltpoll governor does: when the loop slept and
 * was woken soon enough that a window up to the maximum would have
 * caught the event, the window doubles (from BUSYPOLL_GROW_START); when
 * the loop slept longer than the maximum, polling would not have paid:
 * the window halves, down to nothing.  Traffic with gaps longer than the
 * maximum, and an idle daemon, cost no polling at all after a few
 * wake-ups; a stream of round trips keeps the loop polling.
 *
 * Polling is an idle watcher at the lowest priority: while it is active
 * the loop polls with a zero timeout, and the watcher runs only in
 * passes that found nothing to do.  Each such pass yields the CPU
 * (sched_yield), so that polling never holds off a process that wants
 * to run there: on a crowded machine the client or the peer awaited may
 * be that process.
 */
#ifndef TISOCK_BUSYPOLL_H
#define TISOCK_BUSYPOLL_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#define BUSYPOLL_MAX_US		1000	/* the largest busy-poll-us taken */
#define BUSYPOLL_GROW_START	5e-6	/* the first window, in seconds */

struct busypoll {
	struct ev_loop	*loop;
	ev_idle		 idle;		/* active: the loop is polling */
	double		 window;	/* seconds: how long to poll now */
	double		 quiet_since;	/* ev_now of the start of the quiet stretch */
	double		 slept_at;	/* ev_now when the loop last went to sleep; 0: awake */
	unsigned	 quiet_iter;	/* ev_iteration() of the last quiet pass */
	uint64_t	 caught;	/* events that came while polling */
	uint64_t	 slept;		/* windows that ran out: the loop slept */
};

void	busypoll_init(struct busypoll *bp, struct ev_loop *loop);
void	busypoll_after_poll(struct busypoll *bp, uint64_t max_us, bool busy);
void	busypoll_stop(struct busypoll *bp);

/* The adaptation alone (no libev): the next window after sleeping `slept` seconds. */
double	busypoll_adapt(double window, double max, double slept);

#endif
