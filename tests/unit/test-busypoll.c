/*
 * test-busypoll: how the daemon's busy-poll window adapts
 * (daemon/busypoll.c, busypoll_adapt): it starts and doubles while a
 * window within the maximum would have caught the wake-up, never passes
 * the maximum, halves when the loop slept longer than the maximum, and
 * falls to nothing below its starting size; off, it stays nothing.
 * On a real loop (busypoll_after_poll and the idle watcher): a lower
 * maximum (a reload) bounds the window at once, and a wall clock that
 * steps back while the loop polls (ev_now follows it) does not keep the
 * loop polling until the clock catches up.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ev.h>

#include "busypoll.h"

#define US	1e-6

static void
off_stays_off(void **state)
{
	(void) state;
	assert_true(busypoll_adapt(0, 0, 1 * US) == 0);
	assert_true(busypoll_adapt(40 * US, 0, 1 * US) == 0);
}

static void
short_sleeps_grow_to_the_maximum(void **state)
{
	double w = 0, max = 50 * US;
	int steps = 0;

	(void) state;
	w = busypoll_adapt(w, max, 10 * US);
	assert_true(w == BUSYPOLL_GROW_START);
	while (w < max && steps++ < 20) {
		double next = busypoll_adapt(w, max, 1 * US);

		assert_true(next > w);
		assert_true(next <= max);
		w = next;
	}
	assert_true(w == max);
	/* At the maximum, a wake-up it would have caught keeps it there. */
	assert_true(busypoll_adapt(max, max, 0) == max);
}

static void
a_window_that_could_not_have_caught_it_does_not_grow(void **state)
{
	double max = 50 * US;

	(void) state;
	/* 20 polled + 40 slept > 50: no window within the maximum would have caught it. */
	assert_true(busypoll_adapt(20 * US, max, 40 * US) == 10 * US);
	/* Nothing polled, slept past the maximum: stays nothing. */
	assert_true(busypoll_adapt(0, max, 1.0) == 0);
}

static void
long_sleeps_shrink_to_nothing(void **state)
{
	double w = 1000 * US, max = 1000 * US;
	int steps = 0;

	(void) state;
	while (w > 0 && steps++ < 20) {
		double next = busypoll_adapt(w, max, 0.5);

		assert_true(next < w);
		w = next;
	}
	assert_true(w == 0);
	assert_true(steps < 10);	/* 1000 us halves below 5 us in 8 steps */
}

static void
a_lower_maximum_bounds_the_window(void **state)
{
	double max = 10 / 1e6;	/* as busypoll_after_poll() computes it */
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct busypoll bp;

	(void) state;
	/* Grown to 640 us under busy-poll-us = 1000, then reloaded to 10. */
	assert_true(busypoll_adapt(640 * US, max, 1 * US) <= max);
	assert_true(busypoll_adapt(640 * US, max, 1.0) <= max);
	assert_non_null(loop);
	busypoll_init(&bp, loop);
	ev_now_update(loop);
	bp.window = 640 * US;
	bp.slept_at = ev_now(loop) - 1 * US;
	busypoll_after_poll(&bp, 10, false);
	assert_true(bp.window <= max);
	/* Polling already when the reload comes: the window in force shrinks too. */
	bp.window = 640 * US;
	busypoll_after_poll(&bp, 10, false);
	assert_true(bp.window <= max);
	busypoll_stop(&bp);
	ev_loop_destroy(loop);
}

static void
on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void) w;
	(void) revents;
	ev_break(loop, EVBREAK_ALL);
}

static void
a_clock_stepped_back_does_not_keep_the_loop_polling(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct busypoll bp;
	ev_timer guard;

	(void) state;
	assert_non_null(loop);
	ev_run(loop, EVRUN_NOWAIT);	/* a loop that has run: ev_iteration() is not 0 */
	busypoll_init(&bp, loop);
	ev_now_update(loop);
	/* Woken 10 us after sleeping with a 100 us window: it polls 200 us. */
	bp.window = 100 * US;
	bp.slept_at = ev_now(loop) - 10 * US;
	busypoll_after_poll(&bp, 1000, false);
	assert_true(ev_is_active(&bp.idle));
	ev_run(loop, EVRUN_NOWAIT);	/* the first quiet pass: the quiet stretch starts */
	assert_true(ev_is_active(&bp.idle));
	/*
	 * The wall clock steps back an hour (an NTP step): libev's ev_now()
	 * follows it, so the quiet stretch seems to start an hour ahead.
	 */
	bp.quiet_since = ev_now(loop) + 3600;
	/* The guard does not keep the loop running: it ends when polling does. */
	ev_timer_init(&guard, on_guard, 2., 0.);
	ev_timer_start(loop, &guard);
	ev_unref(loop);
	ev_run(loop, 0);
	ev_ref(loop);
	ev_timer_stop(loop, &guard);
	assert_false(ev_is_active(&bp.idle));
	assert_true(bp.slept == 1);
	busypoll_stop(&bp);
	ev_loop_destroy(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(off_stays_off),
		cmocka_unit_test(short_sleeps_grow_to_the_maximum),
		cmocka_unit_test(a_window_that_could_not_have_caught_it_does_not_grow),
		cmocka_unit_test(long_sleeps_shrink_to_nothing),
		cmocka_unit_test(a_lower_maximum_bounds_the_window),
		cmocka_unit_test(a_clock_stepped_back_does_not_keep_the_loop_polling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
