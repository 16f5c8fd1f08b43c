/*
 * tcp-addr: socket addresses as the engine needs them: their length, the
 * destination the kernel really uses for one, equality, and numeric hosts
 * (IPv6 with a scope); see tcp-addr.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "tcp-addr.h"

/* The length of ss's family's sockaddr. */
socklen_t
tcp_addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

/*
 * Makes ss the destination the kernel really connects to for it: an
 * IPv4-mapped IPv6 address becomes its IPv4 address, and the unspecified
 * address, which Linux sends to loopback (0.0.0.0 and ::ffff:0.0.0.0 to
 * 127.0.0.1, :: to ::1), becomes that loopback address.
 */
void
tcp_addr_effective(struct sockaddr_storage *ss)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 s6 = *(struct sockaddr_in6 *)ss;

		if (memcmp(s6.sin6_addr.s6_addr, mapped, sizeof(mapped)) == 0) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

			memset(ss, 0, sizeof(*ss));
			s4->sin_family = AF_INET;
			s4->sin_port = s6.sin6_port;
			memcpy(&s4->sin_addr, s6.sin6_addr.s6_addr + 12, 4);
		} else if (IN6_IS_ADDR_UNSPECIFIED(&s6.sin6_addr)) {
			((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
		}
	}
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (s4->sin_addr.s_addr == htonl(INADDR_ANY))
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
}

/* Whether a and b are the same address, scope and port (families as normalised). */
bool
tcp_addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       IN6_ARE_ADDR_EQUAL(&x->sin6_addr, &y->sin6_addr);
	}
	return false;
}

/*
 * Parses a numeric IPv4 or IPv6 host into *ss; an IPv6 address may carry
 * a scope, by interface name or number (fe80::1%lo, fe80::1%1).  Returns
 * 0 or -EINVAL.
 */
int
tcp_addr_parse(const char *host, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct addrinfo hints = { .ai_family = AF_INET6, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai = NULL;
	int r = -EINVAL;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (!strchr(host, ':') || getaddrinfo(host, NULL, &hints, &ai) != 0)
		return -EINVAL;
	if (ai && ai->ai_family == AF_INET6 && ai->ai_addrlen == sizeof(struct sockaddr_in6)) {
		memcpy(ss, ai->ai_addr, sizeof(struct sockaddr_in6));
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		r = 0;
	}
	freeaddrinfo(ai);
	return r;
}
