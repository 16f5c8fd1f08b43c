/*
 * flow: the run queue, the accounts of clients and uids, and their
 * queues of waiting sockets; see flow.h.  No I/O: items run, accounts
 * count.
 */
#include "config.h"

#include "flow.h"

void
flow_queue_init(struct flow_queue *q)
{
	TAILQ_INIT(&q->items);
	q->n = 0;
}

/* Appends it to q, unless it is in a queue already (then it keeps its place). */
void
flow_queue_push(struct flow_queue *q, struct flow_item *it)
{
	if (it->on)
		return;
	TAILQ_INSERT_TAIL(&q->items, it, link);
	it->on = q;
	q->n++;
}

/* The head of q, taken out; NULL when empty. */
struct flow_item *
flow_queue_pop(struct flow_queue *q)
{
	struct flow_item *it = TAILQ_FIRST(&q->items);

	if (it)
		flow_queue_remove(it);
	return it;
}

/* Takes it out of its queue, if any. */
void
flow_queue_remove(struct flow_item *it)
{
	if (!it->on)
		return;
	TAILQ_REMOVE(&it->on->items, it, link);
	it->on->n--;
	it->on = NULL;
}

static void
on_busy(struct ev_loop *loop, ev_idle *w, int revents)
{
	/* Nothing to do: being active keeps the loop from blocking while work waits. */
}

void
flow_init(struct flow *f, struct ev_loop *loop)
{
	f->loop = loop;
	flow_queue_init(&f->runq);
	f->pass_bytes = 0;
	ev_idle_init(&f->busy, on_busy);
	ev_set_priority(&f->busy, EV_MINPRI);
}

void
flow_done(struct flow *f)
{
	ev_idle_stop(f->loop, &f->busy);
	while (flow_queue_pop(&f->runq))
		;
}

/* it has bytes to move: it gets a turn in this pass or a later one. */
void
flow_ready(struct flow *f, struct flow_item *it)
{
	flow_queue_push(&f->runq, it);
	if (!ev_is_active(&f->busy))
		ev_idle_start(f->loop, &f->busy);
}

/* it goes away (its socket closes): no turn for it. */
void
flow_cancel(struct flow_item *it)
{
	flow_queue_remove(it);
}

/* A turn moved bytes. */
void
flow_charge(struct flow *f, size_t bytes)
{
	f->pass_bytes += bytes;
}

/*
 * One pass: items take their turns in order until FLOW_PASS_BYTES have
 * moved or none is left; one that wants more goes back to the tail.
 * What is left waits for the next pass, which comes without blocking.
 */
void
flow_pass(struct flow *f)
{
	struct flow_item *it;

	f->pass_bytes = 0;
	f->passes++;
	while (f->pass_bytes < FLOW_PASS_BYTES && (it = flow_queue_pop(&f->runq))) {
		f->turns++;
		if (it->run(it))
			flow_queue_push(&f->runq, it);
	}
	if (f->runq.n == 0 && ev_is_active(&f->busy))
		ev_idle_stop(f->loop, &f->busy);
}

void
flow_account_init(struct flow_account *a, struct flow_account *parent, size_t limit)
{
	*a = (struct flow_account){ .notify_limit = limit, .parent = parent };
	flow_queue_init(&a->stalled);
}

/*
 * The account goes: its counts leave its parent's (whose waiting sockets
 * may have room now: they get their turn), its own waiters are forgotten.
 */
void
flow_account_done(struct flow_account *a)
{
	struct flow_account *parent = a->parent;

	flow_output_set(a, 0);
	if (a->pending_write)
		flow_pending_sub(a, a->pending_write);
	if (a->channel_bytes)
		flow_channel_sub(a, a->channel_bytes);	/* (its channels close right after) */
	while (flow_queue_pop(&a->stalled))
		;
	a->parent = NULL;
	if (parent)
		flow_drained(parent);
}

/* a's output is now `now` bytes. */
void
flow_output_set(struct flow_account *a, size_t now)
{
	if (a->parent)
		a->parent->output = a->parent->output - a->output + now;
	a->output = now;
}

void
flow_pending_add(struct flow_account *a, size_t n)
{
	for (; a; a = a->parent)
		a->pending_write += n;
}

void
flow_pending_sub(struct flow_account *a, size_t n)
{
	for (; a; a = a->parent)
		a->pending_write = a->pending_write > n ? a->pending_write - n : 0;
}

/* Enlarged channel buffers granted to a (and so to its ancestors), or given back. */
void
flow_channel_add(struct flow_account *a, size_t n)
{
	for (; a; a = a->parent)
		a->channel_bytes += n;
}

void
flow_channel_sub(struct flow_account *a, size_t n)
{
	for (; a; a = a->parent)
		a->channel_bytes = a->channel_bytes > n ? a->channel_bytes - n : 0;
}

/* Whether a's sockets may read: under its output limit, and its parent under its own. */
bool
flow_has_room(const struct flow_account *a)
{
	for (; a; a = a->parent)
		if (a->output >= a->notify_limit)
			return false;
	return true;
}

/* Whether sockets wait for a's room or an ancestor's: then a newcomer waits behind them. */
bool
flow_contended(const struct flow_account *a)
{
	for (; a; a = a->parent)
		if (a->stalled.n > 0)
			return true;
	return false;
}

/*
 * it must wait for output room (or for those already waiting): on a's own
 * queue when a is full or has waiters, else on the first ancestor that
 * is full or has waiters.  Returns the account it waits on.
 */
struct flow_account *
flow_stall(struct flow_account *a, struct flow_item *it)
{
	struct flow_account *on = a;

	while (on->parent && on->output < on->notify_limit && on->stalled.n == 0)
		on = on->parent;
	if (!it->on) {
		flow_queue_push(&on->stalled, it);
		on->stalls++;
	}
	return on;
}

void
flow_unstall(struct flow_item *it)
{
	flow_queue_remove(it);
}

/*
 * a's output went down: below half its limit, its waiting
 * sockets get their turn from the head while there is room.  When a has
 * room but an ancestor has not, they move to the tail of that ancestor's
 * queue (where its drain will find them) rather than wait on a, whose
 * output may never change again.  Then the same for a's parent.
 */
void
flow_drained(struct flow_account *a)
{
	for (; a; a = a->parent) {
		struct flow_item *it;
		size_t n = a->stalled.n;

		if (a->output >= a->notify_limit / 2)
			continue;
		/* At most the ones waiting now: a woken one may queue again. */
		while (n-- > 0 && (it = flow_queue_pop(&a->stalled))) {
			if (flow_has_room(a)) {
				(void) it->run(it);
			} else if (a->parent) {
				(void) flow_stall(a->parent, it);	/* an ancestor is full: wait there */
			} else {
				/* (a itself full again: it keeps its place at the head) */
				TAILQ_INSERT_HEAD(&a->stalled.items, it, link);
				it->on = &a->stalled;
				a->stalled.n++;
				break;
			}
		}
	}
}
