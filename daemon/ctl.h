/*
 * ctl: one control connection (a client on the Unix socket).
 *
 * A ctl owns its input reader, its output queue, its sockets (open and
 * recently closed), its deferred calls, its batches and its peer
 * credentials.  ctl_close() marks it dead, detaches everything and puts it
 * in the daemon's graveyard; it is freed from the prepare watcher, never
 * from a callback that was called for it.
 */
#ifndef TISOCK_CTL_H
#define TISOCK_CTL_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "flow.h"
#include "policy.h"
#include "proto-buf.h"
#include "rpc.h"
#include "tcp.h"

struct daemon;
struct tcp;
struct proto_reader;
struct fdstore_mark;

#define CTL_READ_CHUNK	(256 * 1024)	/* bytes per read(2) of a control socket */
/* Sockets stop reading above client-notify-bytes of queued output and resume below a quarter. */

enum {
	CTL_DEAD	= 1 << 0,	/* closed, in the graveyard */
	CTL_PAUSED	= 1 << 1,	/* over budget: input not processed */
	CTL_EOF		= 1 << 2,	/* the client closed its side */
	CTL_PROCESS	= 1 << 3,	/* buffered input to process on flush */
	CTL_HUP		= 1 << 4,	/* the client is gone entirely */
	CTL_MONITOR	= 1 << 5,	/* in d->monitors */
	CTL_DRAIN	= 1 << 6,	/* closed once its output is flushed */
	CTL_RDHUP	= 1 << 7,	/* sent EOF while not read (seen by the hang-up watch) */
	CTL_STOPPING	= 1 << 8,	/* the daemon stops: no input, sockets closing */
	CTL_SECRET	= 1 << 9,	/* the line dispatched held key material: wiped after */
	CTL_BATCH_OVER	= 1 << 10,	/* a batch's answers passed the budget (rpc.c) */
};

struct ctl {
	TAILQ_ENTRY(ctl)	 link;		/* d->ctls, then d->dead_ctls */
	TAILQ_ENTRY(ctl)	 flush_link;	/* d->flush while in_flush */
	TAILQ_ENTRY(ctl)	 monitor_link;	/* d->monitors while CTL_MONITOR */
	ev_timer		 drain_timer;	/* bounds ctl_close_after_flush */
	bool			 in_flush;
	struct daemon		*d;		/* parent */
	uint64_t		 num;		/* client number, for logs */
	int			 fd;		/* -1 once closed */
	ev_io			 rio, wio;
	unsigned		 flags;		/* CTL_* */
	struct ucred		 cred;		/* SO_PEERCRED */
	struct policy_subject	 subject;	/* cred and SO_PEERGROUPS, for policy */
	struct quota_user	*quser;		/* its uid's usage; NULL without memory */
	TAILQ_ENTRY(ctl)	 uid_link;	/* quser->ctls */
	double			 rate_tokens, rate_at;	/* connect rate bucket */
	struct proto_reader	*reader;	/* unparsed input */
	size_t			 input_held;	/* its bytes, as counted for the limits */
	bool			 hup_watched;	/* in d->hup_fd */
	struct proto_buf	 out;		/* queued output lines */
	uint64_t		 out_sent;	/* bytes of output sent since the start */
	struct ctl_fdpass {
		uint64_t	 at;		/* output position of the line it rides on */
		int		 fd;		/* ours until sent */
	}			*fdpass;	/* in output order */
	size_t			 nfdpass;
	size_t			 batch_bytes;	/* answers held in open batches */
	struct tcp_owner	 own;		/* its sockets, open and closed */
	struct flow_account	 acct;		/* output, pending writes, waiting sockets */
	struct rpc_call_list	 calls;		/* deferred calls */
	size_t			 ncalls;
	TAILQ_HEAD(, rpc_batch)	 batches;	/* batches waiting for answers */
	char			 desc[64];	/* "ctl#3[pid=1,uid=0]" for logs */
	uint32_t		 ledger;	/* its fd store ledger slot, 0: none */
	bool			 in_partial;	/* the last byte read did not end a line */
	struct fdstore_mark	*marks;		/* socket bytes on lines not yet written */
	size_t			 nmarks, mark_head, mark_cap;
};

struct ctl	*ctl_new(struct daemon *d, int fd);
struct ctl	*ctl_find_num(struct daemon *d, uint64_t n);
void		 ctl_close(struct ctl *c, const char *reason);
int		 ctl_pass_fd(struct ctl *c, int fd);
void		 ctl_close_after_flush(struct ctl *c, const char *reason);
void		 ctl_stop(struct ctl *c);
void		 ctl_socket_closed(struct ctl *c);
bool		 ctl_privileged(const struct ctl *c);
struct ctl	*ctl_free(struct ctl *c);
void		 ctl_output_added(struct ctl *c);
bool		 ctl_has_room(struct ctl *c);
void		 ctl_budget_changed(struct ctl *c);
void		 ctl_flush(struct ctl *c);
bool		 ctl_over_budget(const struct ctl *c);
void		 ctl_schedule(struct ctl *c);

/* ctl-input.c */
void		 ctl_on_read(struct ev_loop *loop, ev_io *w, int revents);
void		 ctl_process(struct ctl *c);
void		 ctl_input_release(struct ctl *c);
void		 ctl_hup_watch(struct ctl *c);
void		 ctl_hup_unwatch(struct ctl *c);
void		 ctl_on_hup(struct ev_loop *loop, ev_io *w, int revents);
struct tcp	*ctl_find_tcp(struct ctl *c, int64_t id);

/* The client that owns o (a socket's owner), or NULL. */
static inline struct ctl *
ctl_of_owner(const struct tcp_owner *o)
{
	return o ? (struct ctl *)((char *)o - offsetof(struct ctl, own)) : NULL;
}

#endif
