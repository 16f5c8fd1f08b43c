/*
 * tcp-events: what the socket engine reports to the layer above it.
 *
 * The engine (tcp*.c) moves bytes and keeps socket state; it never writes
 * JSON, never touches a client connection and never reads the daemon.
 * Everything it has to say goes through one struct tcp_events, which the
 * layer above fills in (rpc-events.c) and hands over in the engine's
 * context (struct tcp_engine).  The calls that finish an operation
 * (struct tcp_op) answer and free it: the engine has already taken it
 * off its queue and does not touch it again.
 */
#ifndef TISOCK_TCP_EVENTS_H
#define TISOCK_TCP_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy.h"

struct tcp;
struct tcp_op;
struct tcp_owner;
struct tcp_tls_failure;

/* How one connect attempt ended (tcp.connect's attempts). */
enum tcp_outcome {
	TCP_OUTCOME_PENDING,	/* still in flight */
	TCP_OUTCOME_CONNECTED,
	TCP_OUTCOME_REFUSED,	/* ECONNREFUSED */
	TCP_OUTCOME_TIMEOUT,	/* the connect timeout ran out while it was in flight */
	TCP_OUTCOME_DENIED,	/* by policy, before or after the handshake */
	TCP_OUTCOME_CANCELLED,	/* another attempt won, or the connect was abandoned */
	TCP_OUTCOME_ERROR,	/* anything else the kernel said: err */
};

/* One address a connect tried, and what became of it. */
struct tcp_attempt {
	struct sockaddr_storage	 address;	/* as connected to (kernel's view) */
	enum tcp_outcome	 outcome;
	int			 err;		/* errno of an error, else 0 */
	int64_t			 ms;		/* from its start to its outcome */
};

/* The attempts of a connect, in the order they were made. */
struct tcp_attempts {
	const struct tcp_attempt *v;
	int			  n;
};

/*
 * Why an operation failed.  code is a PROTO_E_* error; 0 means "errno":
 * sys_errno is then mapped as a -errno result would be.
 */
struct tcp_error {
	int		 code;
	const char	*message;	/* NULL: the code's default */
	int		 sys_errno;	/* 0: none */
	const char	*resolver;	/* name resolution's error name */
	const char	*limit;		/* a limit refused it, */
	int64_t		 limit_value;	/* ... and its value */
	const char	*rule;		/* by policy: the deciding rule */
	int		 rule_index;
	const char	*action;
	const struct sockaddr_storage *address;
	bool		 cut;		/* a write that failed: */
	uint64_t	 written;	/* bytes of it handed to the kernel */
	uint64_t	 undelivered;	/* bytes of it that never left this host */
	struct tcp_attempts attempts;	/* a connect: every attempt made */
	const struct tcp_tls_failure *tls;	/* -32012: why the handshake failed */
};

struct tcp_events {
	/* An operation is over (answer it, free it). */
	void	(*op_failed)(struct tcp *t, struct tcp_op *op, const struct tcp_error *e);
	void	(*read_done)(struct tcp *t, struct tcp_op *op, const char *buf, size_t n);
	void	(*read_eof)(struct tcp *t, struct tcp_op *op);
	void	(*write_done)(struct tcp *t, struct tcp_op *op);
	/* Connected (attempts: every attempt made) or listening (none). */
	void	(*opened)(struct tcp *t, struct tcp_op *op, const struct tcp_attempts *a);
	void	(*accepted)(struct tcp *t, struct tcp_op *op, struct tcp *inbound);
	void	(*shutdown_done)(struct tcp *t, struct tcp_op *op);
	void	(*close_done)(struct tcp *t, struct tcp_op *op);
	void	(*tls_started)(struct tcp *t, struct tcp_op *op);	/* tcp.startTls */

	/* Unasked news for the owner. */
	void	(*data)(struct tcp *t, const char *buf, size_t n);	/* pump mode */
	bool	(*eof)(struct tcp *t);		/* pump mode; false: nobody to tell yet */
	void	(*error)(struct tcp *t, int err);	/* nothing pending was told */
	void	(*closed)(struct tcp *t, const char *reason, bool loss);

	/* What happened, for monitors, counters and logs. */
	void	(*created)(struct tcp *t);
	void	(*state)(struct tcp *t, int from);	/* enum tcp_state */
	void	(*connecting)(struct tcp *t, const char *host, int port);
	void	(*attempting)(struct tcp *t);	/* connect(2) to the next address, now */
	void	(*failing)(struct tcp *t, int err);
	void	(*moved)(struct tcp *t, bool read, size_t n);
	void	(*ended)(struct tcp *t, bool reset);	/* t->loss says what was lost */
	/*
	 * A TLS handshake ended (f: why it failed; for an inbound one t is
	 * the listener), or the peer ended without close_notify (truncated).
	 */
	void	(*tls)(struct tcp *t, const struct tcp_tls_failure *f, bool truncated);

	/* Decisions and resources that belong above. */
	const struct policy_rule *(*judge)(struct tcp *t, enum policy_action action,
		    const char *host, const struct sockaddr_storage *ss);
	/*
	 * The socket limit one fd more for t's owner would pass (an accept
	 * on t, or a raced connect attempt of t beyond its first), or NULL.
	 */
	const char *(*accept_limit)(struct tcp *t, uint64_t *value);
	bool	(*has_room)(struct tcp_owner *o);
	void	(*stalled)(struct tcp_owner *o, bool own);	/* own: by o's budget, not its uid's */
	void	(*budget_changed)(struct tcp_owner *o);
	void	(*socket_closed)(struct tcp_owner *o);
	void	(*fd_closing)(struct tcp *t);	/* t->fd is about to be closed */
	/* A data channel's turn is over: bytes its relay holds each way. */
	void	(*relay)(struct tcp *t, size_t up_held, size_t down_held);
	void	(*fd_freed)(void *up);
	void	(*accept_paused)(void *up);
	/*
	 * A lingering socket counts, with its unsent bytes, on its gone
	 * owner's linger_acct (hold true) until it is freed (hold false):
	 * that account must live until then.
	 */
	void	(*acct_hold)(void *up, struct flow_account *a, bool hold);
};

#endif
