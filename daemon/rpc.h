/*
 * rpc: request dispatch, calls and replies.
 *
 * A line becomes one call per request.  The dispatcher runs the generic
 * checks (shape, method, params, socket ownership, state, limits) and then
 * the method's handler from rpc_handlers[].  A handler returns 0 once it
 * has answered, RPC_DEFERRED when the call now waits on a socket (whoever
 * finishes it answers and frees it; the dispatcher must not touch it
 * again), or -errno for the dispatcher to answer with the mapped error.
 * Every call is answered exactly once.
 */
#ifndef TISOCK_RPC_H
#define TISOCK_RPC_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "proto-buf.h"
#include "proto-jw.h"
#include "proto-methods.h"
#include "tcp.h"

struct ctl;
struct rpc_batch;

#define RPC_DEFERRED 1

struct rpc_call {
	TAILQ_ENTRY(rpc_call)	 ctl_link;	/* in ctl->calls while deferred */
	struct ctl		*ctl;		/* NULL once the client is gone */
	struct rpc_batch	*batch;		/* NULL outside a batch */
	struct tcp		*tcp;		/* socket it waits on, if any */
	int			 method;	/* enum proto_method_id, -1 if none */
	char			*id;		/* raw id token, owned; NULL: no answer */
	size_t			 id_len;
	bool			 silent;	/* a notification: never answered */
	bool			 answered;
	bool			 deferred;	/* heap call waiting in a FIFO */
	size_t			 mark;		/* output length before the answer */
	uint32_t		 ledger;	/* its fd store ledger slot, 0: none */
	struct tcp_op		 op;		/* what it waits for on its socket; a
						 * write's payload (op.u.write.data) is
						 * owned by the call */
};

TAILQ_HEAD(rpc_call_list, rpc_call);

/* A batch line's answers, held until every request in it has answered. */
struct rpc_batch {
	TAILQ_ENTRY(rpc_batch)	 link;		/* ctl->batches */
	struct ctl		*ctl;		/* NULL once the client is gone */
	size_t			 outstanding;	/* requests not yet answered, +1 while dispatching */
	bool			 any;		/* buf holds at least one answer */
	bool			 over;		/* its answers passed the budget: its reads end */
	struct proto_buf	 buf;		/* answers, comma separated */
};

/* What an error answer says; unset fields are left out of data. */
struct rpc_error {
	int		 code;
	const char	*message;	/* NULL: the code's default */
	int64_t		 socket;	/* 0: none */
	const char	*state;
	const char	*param;
	const char	*reason;
	const char	*limit;
	const char	*method;
	const char	*resolver;
	int		 sys_errno;	/* 0: none */
	int64_t		 limit_value;	/* 0: none */
	const char	*rule;		/* -32003 by policy: the deciding rule */
	int		 rule_index;	/* its place in [policy], 0: a default */
	const char	*action;	/* connect, listen, accept */
	const struct sockaddr_storage *address;	/* what was denied */
	bool		 cut;		/* a write that failed: written, undeliveredBytes */
	uint64_t	 written;	/* bytes of it handed to the kernel */
	uint64_t	 undelivered;	/* bytes of it that never left this host */
	const struct tcp_attempts *attempts;	/* a connect's, NULL: none */
	const struct tcp_tls_failure *tls;	/* -32012: verifyError, alert */
};

typedef int (*rpc_handler)(struct rpc_call *call, const union proto_args *args);
extern const rpc_handler rpc_handlers[_PROTO_M_MAX];

/* rpc.c */
void	 rpc_dispatch_line(struct ctl *c, const char *line, size_t len);
void	 rpc_dispatch_general(struct ctl *c, const char *line, size_t len);
void	 rpc_too_large(struct ctl *c);
void	 rpc_input_limit(struct ctl *c, const char *limit, uint64_t value);
void	 rpc_batch_detach_all(struct ctl *c);
size_t	 rpc_batch_bytes(const struct ctl *c);

/* The call an engine operation belongs to. */
static inline struct rpc_call *
rpc_call_of(struct tcp_op *op)
{
	return (struct rpc_call *)((char *)op - offsetof(struct rpc_call, op));
}

/* rpc-events.c */
struct daemon;
void	 rpc_events_init(struct daemon *d);

/* rpc-tcp-admin.c */
void	 rpc_write_info(struct proto_jw *w, const struct tcp *t);

/* rpc-tls.c */
struct tcp_tls_failure;
void	 rpc_write_tls(struct proto_jw *w, const struct tcp *t);
void	 rpc_write_tls_failure(struct proto_jw *w, const struct tcp_tls_failure *f);
void	 rpc_tls_event(struct tcp *t, const struct tcp_tls_failure *f, bool truncated);
void	 rpc_tls_wipe_request(struct ctl *c, const cJSON *params);
int	 rpc_tls_config(struct rpc_call *call, const struct proto_tls_args *a, bool server,
	     struct tcp_tls_config **cfg);

/* rpc-tcp-tls.c */
void	 rpc_tls_started(struct tcp *t, struct tcp_op *op);

/* rpc-reply.c */
struct rpc_call	*rpc_call_defer(struct rpc_call *stack_call, struct tcp *t);
void	 rpc_call_free(struct rpc_call *call);
bool	 rpc_result_begin(struct rpc_call *call, struct proto_jw *w);
void	 rpc_result_end(struct rpc_call *call, struct proto_jw *w);
void	 rpc_reply_error(struct rpc_call *call, const struct rpc_error *e);
void	 rpc_reply_errno(struct rpc_call *call, int r, int64_t socket);
void	 rpc_errno_error(struct rpc_error *e, int r);
void	 rpc_write_attempts(struct proto_jw *w, const struct tcp_attempts *a);
void	 rpc_reply_socket(struct rpc_call *call, int64_t socket);
void	 rpc_reply_state(struct rpc_call *call, struct tcp *t);
void	 rpc_reply_closed(struct rpc_call *call, struct tcp *t);
void	 rpc_reply_eof(struct rpc_call *call, const struct tcp *t);
void	 rpc_finish(struct rpc_call *call);
void	 rpc_format_endpoint(const struct sockaddr_storage *ss, char *buf, size_t len);
void	 rpc_write_endpoint(struct proto_jw *w, const char *key,
	     const struct sockaddr_storage *ss);
bool	 rpc_notify_begin(struct ctl *c, struct proto_jw *w, int method);
void	 rpc_notify_end(struct ctl *c, struct proto_jw *w);
void	 rpc_batch_answered(struct rpc_batch *b);
void	 rpc_batches_over_budget(struct ctl *c);

#endif
