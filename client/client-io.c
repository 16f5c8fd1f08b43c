/*
 * client-io: the bytes between the library and the daemon.
 *
 * Output is a queue of request lines, written without blocking.  Input
 * is read with recvmsg (an answer may carry a file descriptor), cut into
 * lines and parsed; each message goes where it belongs at once: the
 * answer a blocking call waits for to that call (found by id in O(1)),
 * an answer nobody waits for any more to the bin, everything else to
 * the inbox for dispatch.  The inbox is bounded: past inbox_max bytes
 * the library stops reading, so the daemon's own flow control holds
 * back what it sends (section 7 of the protocol).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "proto-reader.h"

#define CLIENT_READ_CHUNK	(256u << 10)

/* Writes what the socket takes now.  Returns 0 or -EPIPE. */
int
lib_flush(tisock_client *c)
{
	if (c->fd < 0 || c->broken)
		return c->broken ? -EPIPE : 0;
	while (proto_buf_used(&c->out) > 0) {
		ssize_t n = send(c->fd, proto_buf_head(&c->out), proto_buf_used(&c->out),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			c->broken = true;
			return -EPIPE;
		}
		proto_buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

/* Keeps the fds that came with a message, in arrival order.  0 or -ENOMEM. */
static int
keep_fds(tisock_client *c, struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;
		int *fds;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = realloc(c->fds, (c->nfds + n) * sizeof(int));
		if (!fds) {
			for (size_t i = 0; i < n; i++)
				close(((int *)(void *)CMSG_DATA(cm))[i]);
			return -ENOMEM;
		}
		c->fds = fds;
		memcpy(c->fds + c->nfds, CMSG_DATA(cm), n * sizeof(int));
		c->nfds += n;
	}
	return 0;
}

/* The oldest received fd not yet routed, or -1. */
static int
next_fd(tisock_client *c)
{
	int fd;

	if (c->nfds == 0)
		return -1;
	fd = c->fds[0];
	memmove(c->fds, c->fds + 1, --c->nfds * sizeof(int));
	return fd;
}

/* The fd that came with the last blocking call's answer (now the caller's), or -1. */
int
lib_take_fd(tisock_client *c)
{
	int fd = c->answer_fd;

	c->answer_fd = -1;
	return fd;
}

/*
 * The fd an answer says came with it (result.fd true: the daemon sends
 * it with the line's first byte, so it has been received by the time the
 * line is parsed), or -1.  Taken in line order, so that each answer gets
 * its own whatever became of the answers before it.
 */
static int
answer_fd(tisock_client *c, const cJSON *m)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(m, "result");

	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "fd")) ? next_fd(c) : -1;
}

static int64_t
msg_id(const cJSON *m)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");

	return cJSON_IsNumber(id) ? (int64_t)id->valuedouble : -1;
}

/* Sends one parsed message where it belongs.  0 or -ENOMEM. */
static int
route(tisock_client *c, const char *line, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(line, len);
	struct lib_call *call;
	struct lib_msg *m;
	int64_t id;
	int fd;

	if (!j)
		return 0;	/* not JSON: nothing to route it to */
	id = msg_id(j);
	fd = id >= 0 ? answer_fd(c, j) : -1;
	if (id >= 0) {
		call = lib_call_find(c, id);
		if (call && !call->abandoned && !call->done) {
			if (call->fd >= 0)
				close(call->fd);
			call->fd = fd;
			lib_call_arrived(c, call, j);	/* a blocking call's own */
			return 0;
		}
		/* Only a blocking call (tcp.channel) takes an fd: any other is closed. */
		if (fd >= 0)
			close(fd);
		if (!call || call->abandoned) {
			/* Nobody waits for it (any more). */
			if (call)
				lib_call_finish(c, call);
			cJSON_Delete(j);
			return 0;
		}
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		cJSON_Delete(j);
		return -ENOMEM;
	}
	m->json = j;
	m->bytes = len;
	c->inbox_bytes += len;
	TAILQ_INSERT_TAIL(&c->inbox, m, link);
	return 0;
}

/*
 * Reads what has arrived and routes it.  Stops at EAGAIN, or once the
 * inbox holds inbox_max bytes; with force (a blocking call looking for
 * its answer) it reads one chunk even then.  Returns 0, -EPIPE at EOF,
 * or -ENOMEM.
 */
int
lib_read_in(tisock_client *c, bool force)
{
	bool once = false;

	if (c->fd < 0)
		return 0;
	for (;;) {
		union {
			char		buf[CMSG_SPACE(sizeof(int) * 8)];
			struct cmsghdr	align;
		} u;
		struct iovec iov;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		char *line;
		size_t room, len;
		ssize_t n;
		void *p;
		int k;

		if (c->inbox_bytes >= c->inbox_max && (!force || once))
			return 0;	/* full: the daemon's flow control takes over */
		if (proto_reader_space(c->reader, CLIENT_READ_CHUNK, &p, &room) < 0)
			return -ENOMEM;
		if (room > CLIENT_READ_CHUNK)
			room = CLIENT_READ_CHUNK;	/* the reader may have more: one chunk a read */
		iov = (struct iovec){ .iov_base = p, .iov_len = room };
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n > 0 && mh.msg_controllen > 0 && keep_fds(c, &mh) < 0)
			return -ENOMEM;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			c->broken = true;
			return -EPIPE;
		}
		once = true;
		proto_reader_commit(c->reader, (size_t)n);
		while ((k = proto_reader_next(c->reader, &line, &len)) != PROTO_READER_NONE)
			if (k == PROTO_READER_LINE && route(c, line, len) < 0)
				return -ENOMEM;
	}
}

/* Drops every undispatched message. */
void
lib_inbox_clear(tisock_client *c)
{
	struct lib_msg *m;

	while ((m = TAILQ_FIRST(&c->inbox))) {
		TAILQ_REMOVE(&c->inbox, m, link);
		cJSON_Delete(m->json);
		free(m);
	}
	c->inbox_bytes = 0;
}
