/*
 * conform-peer: real TCP peers on loopback (127.0.0.1 and ::1), with a
 * deadline on every wait, and the data sources and sinks the bulk cases
 * check end to end by hash.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"

static socklen_t
fill_addr(int family, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons((uint16_t)port);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s4->sin_port = htons((uint16_t)port);
	return sizeof(*s4);
}

/* A listening socket on loopback with a kernel-chosen port. */
int
peer_listen(int family, int backlog, int *ret_port)
{
	struct sockaddr_storage ss;
	socklen_t len = fill_addr(family, 0, &ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*ret_port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					     : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int
peer_accept(int lfd, int timeout_ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

int
peer_connect(int family, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = fill_addr(family, port, &ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads exactly len bytes.  Returns 0, -1 on timeout, EOF or error. */
int
peer_recv_all(int fd, void *buf, size_t len, int timeout_ms)
{
	long long end = conform_now_ms() + timeout_ms;
	char *p = buf;

	while (len > 0) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int left = (int)(end - conform_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&pf, 1, left) <= 0)
			return -1;
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
peer_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	long long end = conform_now_ms() + timeout_ms;
	const char *p = buf;

	while (len > 0) {
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		int left = (int)(end - conform_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&pf, 1, left) <= 0)
			return -1;
		n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Waits for EOF.  Returns 0 at EOF, -ECONNRESET on reset, -1 on timeout or data. */
int
peer_wait_eof(int fd, int timeout_ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	char c;
	ssize_t n;

	if (poll(&pf, 1, timeout_ms) <= 0)
		return -1;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n == 0)
		return 0;
	if (n < 0 && errno == ECONNRESET)
		return -ECONNRESET;
	return -1;
}

/* Closes fd with RST. */
void
peer_reset(int fd)
{
	struct linger l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* A loopback port where nothing listens (bound, never listening). */
int
peer_closed_port(void)
{
	int port, fd = peer_listen(AF_INET, 1, &port);

	close(fd);
	return port;
}

/* FNV-1a 64 over the stream, plus its length. */
void
hash_init(struct hash *h)
{
	h->h = 0xcbf29ce484222325ull;
	h->len = 0;
}

void
hash_add(struct hash *h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h->h ^= b[i];
		h->h *= 0x100000001b3ull;
	}
	h->len += n;
}

/* Deterministic bytes from seed (xorshift64*). */
void
fill_random(void *buf, size_t n, uint64_t seed)
{
	unsigned char *b = buf;
	uint64_t x = seed | 1;

	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
		}
		b[i] = (unsigned char)((x * 0x2545f4914f6cdd1dull) >> (8 * (i % 8)));
	}
}

struct source {
	pthread_t	 th;
	int		 fd;
	size_t		 len;
	uint64_t	 seed;
	struct hash	 sent;
	atomic_size_t	 done;		/* bytes sent so far */
	atomic_bool	 blocked;	/* the kernel refused more at least once */
	int		 result;
};

static void *
source_main(void *arg)
{
	struct source *s = arg;
	char *buf = malloc(1 << 16);
	size_t chunk = 1 << 16;
	uint64_t seed = s->seed;

	hash_init(&s->sent);
	s->result = 0;
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	while (atomic_load(&s->done) < s->len) {
		size_t n = s->len - atomic_load(&s->done) < chunk ? s->len - atomic_load(&s->done)
								   : chunk;
		size_t off = 0;

		fill_random(buf, n, seed++);
		while (off < n) {
			struct pollfd p = { .fd = s->fd, .events = POLLOUT };
			ssize_t k = send(s->fd, buf + off, n - off, MSG_NOSIGNAL);

			if (k < 0 && errno == EAGAIN) {
				atomic_store(&s->blocked, true);
				if (poll(&p, 1, 30000) <= 0) {
					s->result = -1;
					goto out;
				}
				continue;
			}
			if (k < 0) {
				s->result = -1;
				goto out;
			}
			off += (size_t)k;
			atomic_fetch_add(&s->done, (size_t)k);
		}
		hash_add(&s->sent, buf, n);
	}
	shutdown(s->fd, SHUT_WR);
out:
	free(buf);
	return NULL;
}

struct source *
source_start(int fd, size_t len, uint64_t seed)
{
	struct source *s = calloc(1, sizeof(*s));

	s->fd = fd;
	s->len = len;
	s->seed = seed;
	if (pthread_create(&s->th, NULL, source_main, s) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

size_t
source_sent(struct source *s)
{
	return atomic_load(&s->done);
}

bool
source_blocked(struct source *s)
{
	return atomic_load(&s->blocked);
}

int
source_join(struct source *s, struct hash *sent)
{
	int r;

	pthread_join(s->th, NULL);
	*sent = s->sent;
	r = s->result;
	free(s);
	return r;
}

struct sink {
	pthread_t	 th;
	int		 fd;
	struct hash	 got;
	atomic_bool	 finished;
	int		 result;
};

static void *
sink_main(void *arg)
{
	struct sink *s = arg;
	char *buf = malloc(1 << 16);

	hash_init(&s->got);
	for (;;) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 30000) <= 0) {
			s->result = -1;
			break;
		}
		n = recv(s->fd, buf, 1 << 16, 0);
		if (n == 0)
			break;
		if (n < 0) {
			s->result = -1;
			break;
		}
		hash_add(&s->got, buf, (size_t)n);
	}
	free(buf);
	atomic_store(&s->finished, true);
	return NULL;
}

struct sink *
sink_start(int fd)
{
	struct sink *s = calloc(1, sizeof(*s));

	s->fd = fd;
	if (pthread_create(&s->th, NULL, sink_main, s) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* Waits (bounded) for the sink to reach EOF.  Returns 0 or -1. */
int
sink_join(struct sink *s, struct hash *got, int timeout_ms)
{
	long long end = conform_now_ms() + timeout_ms;
	int r;

	bool timed_out;

	while (!atomic_load(&s->finished) && conform_now_ms() < end)
		poll(NULL, 0, 10);
	timed_out = !atomic_load(&s->finished);
	if (timed_out)
		shutdown(s->fd, SHUT_RDWR);	/* wakes it; the case fails */
	pthread_join(s->th, NULL);
	*got = s->got;
	r = timed_out ? -1 : s->result;
	free(s);
	return r;
}
