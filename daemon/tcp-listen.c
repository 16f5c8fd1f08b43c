/*
 * tcp-listen: listening sockets.  A numeric host is bound at once; a
 * name is resolved first (tcp_open_resolve) and its first address bound.
 * The policy judges the address getsockname() reports after bind (port
 * 0 is the port chosen; 0.0.0.0 or :: a wildcard, see policy.h), before
 * listen(): a refused listener never listens.  A failure leaves the
 * socket in state error.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp.h"
#include "tcp-addr.h"
#include "tcp-open.h"

/* Binds and listens on ss; t->connect_op is over. */
static void
listen_on(struct tcp *t, const struct sockaddr_storage *ss)
{
	struct tcp_op *op;
	socklen_t len = sizeof(t->local);
	int fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		tcp_open_failed(t, NULL, -errno);
		return;
	}
	tcp_set_fd(t, fd);
	(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		(void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, tcp_addr_len(ss)) < 0) {
		tcp_open_failed(t, NULL, -errno);
		return;
	}
	/*
	 * Policy sees the address actually bound (port 0 is the port chosen;
	 * 0.0.0.0 or :: a wildcard, see policy.h), or nothing is listened on.
	 */
	t->has_local = getsockname(fd, (struct sockaddr *)&t->local, &len) == 0;
	t->has_remote = false;
	if (!t->has_local) {
		tcp_open_failed(t, NULL, -errno);
		return;
	}
	{
		const struct policy_rule *r = t->eng->ev->judge(t, POLICY_LISTEN, t->host,
							       &t->local);

		if (r) {
			struct sockaddr_storage where = t->local;

			tcp_open_refused(t, r, POLICY_LISTEN, &where);
			return;
		}
	}
	if (listen(fd, t->listen_queue > 0 ? t->listen_queue : SOMAXCONN) < 0) {
		tcp_open_failed(t, NULL, -errno);
		return;
	}
	tcp_set_state(t, TCP_STATE_LISTENING);
	tcp_accept_init(t);
	op = t->connect_op;
	t->connect_op = NULL;
	tcp_connect_free(t);
	t->eng->ev->opened(t, op, &(struct tcp_attempts){ NULL, 0 });
}

/*
 * Starts listening on t's host and port (0: any).  With a numeric host op
 * is over at once; a name is resolved first.
 */
void
tcp_listen(struct tcp *t, struct tcp_op *op)
{
	const char *host = t->host ? t->host : TCP_DEFAULT_HOST;
	int port = t->port < 0 ? 0 : t->port;
	struct sockaddr_storage ss;

	op->tcp = t;
	op->kind = TCP_OP_OPEN;
	t->connect_op = op;
	if (tcp_addr_parse(host, port, &ss) == 0) {
		listen_on(t, &ss);
		return;
	}
	tcp_set_state(t, TCP_STATE_CONNECTING);
	if (tcp_open_resolve(t, host, port, listen_on) < 0)
		tcp_open_failed(t, NULL, -ENOMEM);
}
