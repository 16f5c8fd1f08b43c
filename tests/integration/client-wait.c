/*
 * client-wait: see client-wait.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "client-wait.h"
#include "spawn.h"

void
client_wait_flag(tisock_client *c, const int *flag, int want, int deadline_ms)
{
	long long end = spawn_now_ms() + deadline_ms;

	while (*flag < want && spawn_now_ms() < end)
		assert_true(tisock_client_dispatch(c, 100) >= 0);
	assert_int_equal(*flag, want);
}

int
client_listener(int *port, int rcvbuf)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (rcvbuf > 0)	/* inherited by accepted sockets: a small window */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
on_connected(const struct tisock_tcp_event *ev)
{
	++*(int *)ev->userdata;
}

tisock_tcp *
client_connected_pair(tisock_client *c, int *pfd, int deadline_ms)
{
	int port, lfd = client_listener(&port, 0), connected = 0;
	tisock_tcp *s = tisock_tcp_create(c, &(struct tisock_tcp_options){ .port = port,
		.connected = on_connected, .userdata = &connected });

	assert_int_equal(tisock_tcp_connect(s), 0);
	client_wait_flag(c, &connected, 1, deadline_ms);
	*pfd = accept(lfd, NULL, NULL);
	assert_true(*pfd >= 0);
	close(lfd);
	return s;
}
