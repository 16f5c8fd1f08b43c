/*
 * quota: limits per uid, on top of the per-connection ones, and the
 * connect rate limits.
 *
 * Every control connection belongs to the quota_user of its peer's uid;
 * a user's usage (connections, sockets, requests in flight, bytes
 * accepted for writing and not yet sent) is the sum over its
 * connections, computed when a check needs it (a user has few
 * connections; nothing is kept in step on the hot paths).  Connect rates
 * are token buckets, one per connection and one per user.  Every limit
 * hit is counted by name for daemon.info.
 */
#ifndef TISOCK_QUOTA_H
#define TISOCK_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "flow.h"

struct daemon;
struct ctl;
struct proto_jw;

#define QUOTA_BUCKETS	64

struct quota_user {
	struct quota_user	*next;		/* hash chain */
	uid_t			 uid;
	TAILQ_HEAD(, ctl)	 ctls;		/* its live connections */
	size_t			 nctls;
	double			 tokens, at;	/* connect rate bucket */
	size_t			 input_bytes;	/* held by its connections' line readers */
	struct flow_account	 acct;		/* output and pending writes over its connections */
	size_t			 holds;		/* reasons to outlive its last connection */
	size_t			 lingering;	/* sockets of gone connections still counted here */
};

/* Limits counted by name (daemon.info counters.limitHitsBy). */
enum quota_limit {
	QL_MAX_MESSAGE_BYTES,
	QL_CLIENT_SOCKETS,
	QL_CLIENT_REQUESTS,
	QL_CLIENTS,
	QL_SOCKETS,
	QL_FDS,
	QL_UID_CLIENTS,
	QL_UID_SOCKETS,
	QL_UID_REQUESTS,
	QL_UID_PENDING_WRITE_BYTES,
	QL_CLIENT_CONNECT_RATE,
	QL_UID_CONNECT_RATE,
	QL_CLIENT_NOTIFY,	/* pauses, not refusals: sockets wait for output room */
	QL_UID_NOTIFY,
	QL_UID_INPUT_BYTES,	/* unfinished lines held for a uid */
	QL_INPUT_BYTES,		/* the same, daemon-wide */
	QL_CLIENT_BUDGET_BYTES,	/* batch requests refused while its answers are over the budget */
	QL_UID_CHANNEL_BUFFER_BYTES,	/* channels given default buffers: not refusals */
	QL_CHANNEL_BUFFER_BYTES,
	_QL_MAX,
};

struct quota_user *quota_user_of(struct daemon *d, uid_t uid, bool create);
void		 quota_attach(struct ctl *c);
void		 quota_detach(struct ctl *c);
/* Keeps u (and its account) after its last connection, until released. */
void		 quota_hold(struct quota_user *u);
void		 quota_release(struct daemon *d, struct quota_user *u);
/* The user whose account a is. */
struct quota_user *quota_user_of_acct(struct flow_account *a);

size_t		 quota_uid_sockets(const struct quota_user *u);
size_t		 quota_uid_requests(const struct quota_user *u);
size_t		 quota_uid_pending_write(const struct quota_user *u);
size_t		 quota_uid_output(const struct quota_user *u);
/* Counts a pause for lack of output room (limitHitsBy only: nothing was refused). */
void		 quota_count_pause(struct daemon *d, enum quota_limit l);
/* Takes one connect from c's and its user's buckets; the limit hit, or -1. */
int		 quota_connect(struct ctl *c);

const char	*quota_limit_name(enum quota_limit l);
/* Counts a hit of the limit called name (as in -32005 data.limit). */
void		 quota_count(struct daemon *d, const char *name);
void		 quota_write_hits(struct proto_jw *w, const struct daemon *d);
void		 quota_done(struct daemon *d);
void		 quota_limits_changed(struct daemon *d);

#endif
