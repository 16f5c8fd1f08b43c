/*
 * flow: who moves bytes next, and how much may wait.
 *
 * The scheduler: a socket (or a data channel direction) that becomes
 * readable does not read in its watcher's callback; it joins the run
 * queue, and once per loop iteration (after every control connection has
 * been served: control watchers run at a higher priority) the queue is
 * served in order, one receive per item per turn, until FLOW_PASS_BYTES
 * have moved.  An item that read a full chunk goes back to the tail (its
 * watcher stays off meanwhile: no readiness to report, no syscall), so
 * busy sockets take turns and a control request waits at most one pass.
 *
 * The budgets: output queued for a client (client-notify-bytes) and for
 * its uid (uid-notify-bytes) stop its sockets from reading.  A socket
 * stopped by its client's own output waits on that client's queue; one
 * stopped by its uid's output waits on the uid's queue.  Both are FIFO
 * and are woken from the head while there is room, so every waiting
 * socket gets its turn and no connection of a user starves another.
 * Per-uid totals (output, bytes pending write) are kept as they change.
 */
#ifndef TISOCK_FLOW_H
#define TISOCK_FLOW_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#define FLOW_PASS_BYTES	(1u << 20)	/* bytes moved per pass of the run queue */

struct flow_queue;

/* Something that waits in a flow_queue: a socket's reads, a channel direction. */
struct flow_item {
	TAILQ_ENTRY(flow_item)	 link;
	struct flow_queue	*on;		/* the queue it is in, NULL: none */
	/* Runs one turn; returns true when it wants another turn at once. */
	bool			(*run)(struct flow_item *it);
};

struct flow_queue {
	TAILQ_HEAD(, flow_item)	 items;
	size_t			 n;
};

struct flow {
	struct ev_loop		*loop;
	struct flow_queue	 runq;		/* ready to move bytes, in turn */
	size_t			 pass_bytes;	/* moved in this pass */
	ev_idle			 busy;		/* active while runq is not empty: no blocking */
	unsigned long long	 passes, turns;
};

/* Whether sockets wait to move bytes: the loop does not sleep meanwhile. */
static inline bool
flow_busy(const struct flow *f)
{
	return ev_is_active(&f->busy);
}

void	 flow_queue_init(struct flow_queue *q);
void	 flow_queue_push(struct flow_queue *q, struct flow_item *it);
struct flow_item *flow_queue_pop(struct flow_queue *q);
void	 flow_queue_remove(struct flow_item *it);

/*
 * What a client, or a uid over all its clients, has queued: output
 * (answers, notifications, batches) and bytes accepted for writing; and
 * the kernel buffer bytes granted to its data channels beyond the
 * defaults (held until the channel's daemon end is closed).  A
 * client's account has its uid's as parent and passes every change on.
 */
struct flow_account {
	size_t			 output;
	size_t			 pending_write;
	size_t			 channel_bytes;	/* enlarged channel buffers granted (tcp-channel.c) */
	size_t			 notify_limit;	/* its sockets stop reading at this much output */
	struct flow_queue	 stalled;	/* sockets waiting for this account's room */
	struct flow_account	*parent;
	unsigned long long	 stalls;	/* sockets that had to wait, since start */
};

void	 flow_account_init(struct flow_account *a, struct flow_account *parent, size_t limit);
void	 flow_account_done(struct flow_account *a);
void	 flow_output_set(struct flow_account *a, size_t now);
void	 flow_pending_add(struct flow_account *a, size_t n);
void	 flow_pending_sub(struct flow_account *a, size_t n);
void	 flow_channel_add(struct flow_account *a, size_t n);
void	 flow_channel_sub(struct flow_account *a, size_t n);
bool	 flow_has_room(const struct flow_account *a);
bool	 flow_contended(const struct flow_account *a);
struct flow_account *flow_stall(struct flow_account *a, struct flow_item *it);
void	 flow_unstall(struct flow_item *it);
void	 flow_drained(struct flow_account *a);

void	 flow_init(struct flow *f, struct ev_loop *loop);
void	 flow_done(struct flow *f);
void	 flow_ready(struct flow *f, struct flow_item *it);
void	 flow_cancel(struct flow_item *it);
void	 flow_charge(struct flow *f, size_t bytes);
void	 flow_pass(struct flow *f);

#endif
