/*
 * test-flow: the daemon's scheduler and budgets (daemon/flow.c) on their
 * own: the run queue serves items in turn and stops a pass at its byte
 * budget; waiting sockets are woken first in, first out, a newcomer waits
 * behind those already waiting, and a client's waiters move to its uid's
 * queue when only the uid is full.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "flow.h"

struct fake {
	struct flow_item	 it;
	int			 id;
	size_t			 bytes;		/* charged per turn */
	int			 turns_left;	/* wants this many more turns */
};

static struct flow F;
static int order[64], norder;

static bool
fake_run(struct flow_item *it)
{
	struct fake *f = (struct fake *)((char *)it - offsetof(struct fake, it));

	order[norder++] = f->id;
	flow_charge(&F, f->bytes);
	return --f->turns_left > 0;
}

static void
setup_fakes(struct fake *f, int n, size_t bytes, int turns)
{
	for (int i = 0; i < n; i++)
		f[i] = (struct fake){ .it.run = fake_run, .id = i, .bytes = bytes,
				      .turns_left = turns };
	norder = 0;
}

/* Items take turns in order; a pass stops at FLOW_PASS_BYTES; the rest waits its turn. */
static void
run_queue_round_robin(void **state)
{
	struct ev_loop *loop = ev_loop_new(0);
	struct fake f[3];

	flow_init(&F, loop);
	setup_fakes(f, 3, FLOW_PASS_BYTES / 4, 3);
	for (int i = 0; i < 3; i++)
		flow_ready(&F, &f[i].it);
	flow_ready(&F, &f[0].it);	/* already queued: keeps its place */
	assert_int_equal(F.runq.n, 3);
	flow_pass(&F);
	/* 4 turns of a quarter each fill the pass: 0 1 2 0 */
	assert_int_equal(norder, 4);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 1);
	assert_int_equal(order[2], 2);
	assert_int_equal(order[3], 0);
	flow_pass(&F);
	assert_int_equal(norder, 8);
	assert_int_equal(order[4], 1);
	assert_int_equal(order[5], 2);
	assert_int_equal(order[6], 0);	/* its third: done */
	assert_int_equal(order[7], 1);	/* its third: done */
	flow_pass(&F);
	assert_int_equal(norder, 9);
	assert_int_equal(order[8], 2);
	assert_int_equal(F.runq.n, 0);
	/* A cancelled item gets no turn. */
	setup_fakes(f, 2, 1, 1);
	flow_ready(&F, &f[0].it);
	flow_ready(&F, &f[1].it);
	flow_cancel(&f[0].it);
	flow_pass(&F);
	assert_int_equal(norder, 1);
	assert_int_equal(order[0], 1);
	flow_done(&F);
	ev_loop_destroy(loop);
}

static bool
wake_run(struct flow_item *it)
{
	struct fake *f = (struct fake *)((char *)it - offsetof(struct fake, it));

	order[norder++] = f->id;
	return false;
}

/* Waiting sockets wake first in, first out, and no more than there is room for. */
static void
stalled_queue_fifo(void **state)
{
	struct flow_account uid, c1, c2;
	struct fake f[4];

	flow_account_init(&uid, NULL, 1000);
	flow_account_init(&c1, &uid, 600);
	flow_account_init(&c2, &uid, 600);
	for (int i = 0; i < 4; i++)
		f[i] = (struct fake){ .it.run = wake_run, .id = i };
	norder = 0;
	/* The uid is full (two clients at 500 each): everyone waits on the uid. */
	flow_output_set(&c1, 500);
	flow_output_set(&c2, 500);
	assert_int_equal(uid.output, 1000);
	assert_false(flow_has_room(&c1));
	assert_ptr_equal(flow_stall(&c1, &f[0].it), &uid);
	assert_ptr_equal(flow_stall(&c2, &f[1].it), &uid);
	assert_ptr_equal(flow_stall(&c1, &f[2].it), &uid);
	/* A client with room but an uid with waiters: the newcomer waits behind them. */
	flow_output_set(&c2, 100);
	assert_true(flow_contended(&c2));
	assert_ptr_equal(flow_stall(&c2, &f[3].it), &uid);
	/* Drained below a quarter: all four in the order they came. */
	flow_output_set(&c1, 0);
	flow_output_set(&c2, 0);
	flow_drained(&c1);
	assert_int_equal(norder, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(order[i], i);
	assert_false(flow_contended(&c1));
	flow_account_done(&c1);
	flow_account_done(&c2);
	flow_account_done(&uid);
}

/* A client's waiter moves to the uid's queue when only the uid is full. */
static void
client_waiter_moves_to_uid(void **state)
{
	struct flow_account uid, c1, c2;
	struct fake f = { .it.run = wake_run, .id = 7 };

	flow_account_init(&uid, NULL, 1000);
	flow_account_init(&c1, &uid, 400);
	flow_account_init(&c2, &uid, 2000);
	norder = 0;
	flow_output_set(&c1, 400);	/* c1 is full */
	assert_ptr_equal(flow_stall(&c1, &f.it), &c1);
	flow_output_set(&c2, 1000);	/* now the uid is full too */
	flow_output_set(&c1, 0);	/* c1 drained, the uid still full */
	flow_drained(&c1);
	assert_int_equal(norder, 0);
	assert_ptr_equal(f.it.on, &uid.stalled);
	flow_output_set(&c2, 0);	/* the uid drains */
	flow_drained(&c2);
	assert_int_equal(norder, 1);
	assert_int_equal(order[0], 7);
	/* Pending writes add up the chain and come back down. */
	flow_pending_add(&c1, 300);
	flow_pending_add(&c2, 200);
	assert_int_equal(uid.pending_write, 500);
	flow_pending_sub(&c1, 300);
	assert_int_equal(uid.pending_write, 200);
	flow_account_done(&c2);
	assert_int_equal(uid.pending_write, 0);
	flow_account_done(&c1);
	flow_account_done(&uid);
}

/* Two waiters of a client with room, the uid full: both move to the uid's queue, in order. */
static void
two_client_waiters_move_to_uid(void **state)
{
	struct flow_account uid, a, b;
	struct fake f[2];

	flow_account_init(&uid, NULL, 1000);
	flow_account_init(&a, &uid, 2000);
	flow_account_init(&b, &uid, 400);
	for (int i = 0; i < 2; i++)
		f[i] = (struct fake){ .it.run = wake_run, .id = i };
	norder = 0;
	flow_output_set(&b, 400);	/* b is full: both wait on b */
	assert_ptr_equal(flow_stall(&b, &f[0].it), &b);
	assert_ptr_equal(flow_stall(&b, &f[1].it), &b);
	flow_output_set(&a, 1000);	/* the uid is full too */
	flow_output_set(&b, 0);
	flow_drained(&b);
	assert_int_equal(norder, 0);
	assert_ptr_equal(f[0].it.on, &uid.stalled);
	assert_ptr_equal(f[1].it.on, &uid.stalled);
	flow_output_set(&a, 0);
	flow_drained(&a);
	assert_int_equal(norder, 2);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 1);
	flow_account_done(&a);
	flow_account_done(&b);
	flow_account_done(&uid);
}

/* A client that goes away gives its uid room: the uid's waiters get their turn. */
static void
closing_client_wakes_uid_waiters(void **state)
{
	struct flow_account uid, a, b;
	struct fake f = { .it.run = wake_run, .id = 3 };

	flow_account_init(&uid, NULL, 1000);
	flow_account_init(&a, &uid, 2000);
	flow_account_init(&b, &uid, 2000);
	norder = 0;
	flow_output_set(&a, 1000);	/* a holds the uid's room, and never reads */
	assert_ptr_equal(flow_stall(&b, &f.it), &uid);
	flow_account_done(&a);		/* a goes */
	assert_int_equal(uid.output, 0);
	assert_int_equal(norder, 1);
	assert_int_equal(order[0], 3);
	flow_account_done(&b);
	flow_account_done(&uid);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(run_queue_round_robin),
		cmocka_unit_test(stalled_queue_fifo),
		cmocka_unit_test(client_waiter_moves_to_uid),
		cmocka_unit_test(two_client_waiters_move_to_uid),
		cmocka_unit_test(closing_client_wakes_uid_waiters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
