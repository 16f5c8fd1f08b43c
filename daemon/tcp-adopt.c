/*
 * tcp-adopt: a socket re-created around an fd the daemon already had
 * before it was restarted (systemd's fd store or a predecessor's image).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp.h"

/*
 * Makes socket id of owner around fd, in state st (connected or
 * listening), its addresses as the kernel has them; reading starts at
 * once.  Returns it, or NULL with errno set (fd untouched): EEXIST when
 * id is taken, EINVAL for another state, ENOMEM.
 */
struct tcp *
tcp_adopt(struct tcp_engine *eng, struct tcp_owner *owner, uint64_t id, int fd,
	  enum tcp_state st)
{
	uint64_t next = eng->next_socket;
	socklen_t len;
	struct tcp *t;

	if (id == 0 || tcp_find(eng, (int64_t)id)) {
		errno = EEXIST;
		return NULL;
	}
	if (st != TCP_STATE_CONNECTED && st != TCP_STATE_LISTENING) {
		errno = EINVAL;
		return NULL;
	}
	eng->next_socket = id - 1;
	t = tcp_new(eng, owner);
	eng->next_socket = next > id ? next : id;
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	(void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	(void) fcntl(fd, F_SETFD, FD_CLOEXEC);
	len = sizeof(t->local);
	t->has_local = getsockname(fd, (struct sockaddr *)&t->local, &len) == 0;
	if (st == TCP_STATE_CONNECTED) {
		len = sizeof(t->remote);
		t->has_remote = getpeername(fd, (struct sockaddr *)&t->remote, &len) == 0;
	}
	tcp_set_fd(t, fd);
	tcp_set_state(t, st);
	if (st == TCP_STATE_CONNECTED)
		tcp_io_connected(t);
	else
		tcp_accept_init(t);
	tcp_update_io(t);
	return t;
}
