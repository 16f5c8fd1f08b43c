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
