/*
 * test-busypoll: how the daemon's busy-poll window adapts
 * (daemon/busypoll.c, busypoll_adapt): it starts and doubles while a
 * window within the maximum would have caught the wake-up, never passes
 * the maximum, halves when the loop slept longer than the maximum, and
 * falls to nothing below its starting size; off, it stays nothing.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(off_stays_off),
		cmocka_unit_test(short_sleeps_grow_to_the_maximum),
		cmocka_unit_test(a_window_that_could_not_have_caught_it_does_not_grow),
		cmocka_unit_test(long_sleeps_shrink_to_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
