/*
 * conform-peer: loopback TCP peers, hashes and the source/sink threads;
 * see conform-peer.h.  Threads finish by themselves (EOF, error, or their
 * own stall limit) and report through a condition variable, so joining
 * has a deadline too and never sleeps to find out.
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
#include <time.h>
#include <unistd.h>

#include "conform.h"
#include "conform-peer.h"

#define STREAM_CHUNK	(1u << 16)	/* bytes per send/recv of the threads */
#define STREAM_STALL_MS	30000		/* a thread gives up after this long without progress */

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

/* The local (or remote) port of a socket, or -1. */
int
peer_port(int fd, bool local)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int r = local ? getsockname(fd, (struct sockaddr *)&ss, &len)
		      : getpeername(fd, (struct sockaddr *)&ss, &len);

	if (r < 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

/* A listening socket on loopback with a kernel-chosen port.  Returns the fd or -1. */
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
	*ret_port = peer_port(fd, true);
	return fd;
}

/* The next connection on lfd, waiting at most timeout_ms.  Returns an fd or -1. */
int
peer_accept(int lfd, int timeout_ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	if (lfd < 0 || poll(&p, 1, timeout_ms) <= 0)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* A blocking connect to loopback (the kernel answers at once).  Returns an fd or -1. */
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

/* Whether ::1 can be bound here. */
bool
peer_have_ipv6(void)
{
	int port, fd = peer_listen(AF_INET6, 1, &port);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Reads exactly len bytes.  Returns 0, or -1 on timeout, EOF or error. */
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

/* Sends all of buf.  Returns 0, or -1 on timeout or error. */
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

/*
 * Waits for the end of the stream.  Returns 0 at EOF, -ECONNRESET on a
 * reset, -EPROTO when data came instead, -ETIMEDOUT.
 */
int
peer_wait_eof(int fd, int timeout_ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	char c;
	ssize_t n;

	if (poll(&pf, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n == 0)
		return 0;
	if (n < 0)
		return -errno;
	return -EPROTO;
}

/* Closes fd with RST (SO_LINGER 0). */
void
peer_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* A loopback port where nothing listens (just released by us). */
int
peer_closed_port(void)
{
	int port = 0, fd = peer_listen(AF_INET, 1, &port);

	if (fd >= 0)
		close(fd);
	return port;
}

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
	uint64_t x = h->h;

	for (size_t i = 0; i < n; i++) {
		x ^= b[i];
		x *= 0x100000001b3ull;
	}
	h->h = x;
	h->len += n;
}

bool
hash_eq(const struct hash *a, const struct hash *b)
{
	return a->h == b->h && a->len == b->len;
}

/* Deterministic bytes from seed (xorshift64*). */
void
fill_random(void *buf, size_t n, uint64_t seed)
{
	unsigned char *b = buf;
	uint64_t x = seed * 0x9e3779b97f4a7c15ull | 1, v = 0;

	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			v = x * 0x2545f4914f6cdd1dull;
		}
		b[i] = (unsigned char)(v >> (8 * (i % 8)));
	}
}

/* --- threads ------------------------------------------------------------- */

struct done {
	pthread_mutex_t	mu;
	pthread_cond_t	cv;
	bool		done;
};

static void
done_init(struct done *d)
{
	pthread_condattr_t a;

	pthread_mutex_init(&d->mu, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cv, &a);
	pthread_condattr_destroy(&a);
	d->done = false;
}

static void
done_signal(struct done *d)
{
	pthread_mutex_lock(&d->mu);
	d->done = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* Waits for done_signal() at most timeout_ms.  Returns true when done. */
static bool
done_wait(struct done *d, int timeout_ms)
{
	struct timespec ts;
	bool r;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->mu);
	while (!d->done && pthread_cond_timedwait(&d->cv, &d->mu, &ts) == 0)
		;
	r = d->done;
	pthread_mutex_unlock(&d->mu);
	return r;
}

static void
done_destroy(struct done *d)
{
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
}

struct source {
	pthread_t	 th;
	int		 fd;		/* peer socket, owned by the case */
	size_t		 len;		/* bytes to send */
	uint64_t	 seed;
	struct hash	 sent;		/* of what the kernel took */
	atomic_size_t	 done_bytes;	/* bytes the kernel took so far */
	atomic_bool	 waiting;	/* blocked in poll for POLLOUT right now */
	int		 result;	/* 0, or -1: error or stall */
	struct done	 fin;
};

static void *
source_main(void *arg)
{
	struct source *s = arg;
	char *buf = malloc(STREAM_CHUNK);
	uint64_t seed = s->seed;

	hash_init(&s->sent);
	s->result = buf ? 0 : -1;
	(void)fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	for (size_t at = 0; buf && at < s->len;) {
		size_t n = s->len - at < STREAM_CHUNK ? s->len - at : STREAM_CHUNK, off = 0;

		fill_random(buf, n, seed++);
		while (off < n) {
			struct pollfd p = { .fd = s->fd, .events = POLLOUT };
			ssize_t k = send(s->fd, buf + off, n - off, MSG_NOSIGNAL);

			if (k < 0 && errno == EAGAIN) {
				atomic_store(&s->waiting, true);
				k = poll(&p, 1, STREAM_STALL_MS);
				atomic_store(&s->waiting, false);
				if (k <= 0)
					goto fail;
				continue;
			}
			if (k < 0)
				goto fail;
			off += (size_t)k;
			atomic_fetch_add(&s->done_bytes, (size_t)k);
		}
		hash_add(&s->sent, buf, n);
		at += n;
	}
	(void)shutdown(s->fd, SHUT_WR);
	goto out;
fail:
	s->result = -1;
out:
	free(buf);
	done_signal(&s->fin);
	return NULL;
}

/* Starts a source thread on fd (not owned).  Returns NULL on failure. */
struct source *
source_start(int fd, size_t len, uint64_t seed)
{
	struct source *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fd = fd;
	s->len = len;
	s->seed = seed;
	done_init(&s->fin);
	if (pthread_create(&s->th, NULL, source_main, s) != 0) {
		done_destroy(&s->fin);
		free(s);
		return NULL;
	}
	return s;
}

size_t
source_sent(struct source *s)
{
	return atomic_load(&s->done_bytes);
}

/* Whether the source is blocked on a full socket (after EAGAIN) right now. */
bool
source_waiting(struct source *s)
{
	return atomic_load(&s->waiting);
}

/*
 * Waits for the source to finish (its own stall limit bounds it) and frees
 * it.  Returns 0 when every byte was sent, -1 otherwise or on timeout.
 */
int
source_join(struct source *s, struct hash *sent, int timeout_ms)
{
	bool ok = done_wait(&s->fin, timeout_ms);
	int r;

	if (!ok)
		(void)shutdown(s->fd, SHUT_RDWR);	/* wakes it: the case fails */
	pthread_join(s->th, NULL);
	*sent = s->sent;
	r = ok ? s->result : -1;
	done_destroy(&s->fin);
	free(s);
	return r;
}

struct sink {
	pthread_t	 th;
	int		 fd;		/* peer socket, owned by the case */
	int		 pace_ms;	/* pause after each read: a slow peer */
	struct hash	 got;
	int		 result;	/* 0 at EOF, -1 on error or stall */
	struct done	 fin;
};

static void *
sink_main(void *arg)
{
	struct sink *s = arg;
	char *buf = malloc(STREAM_CHUNK);

	hash_init(&s->got);
	s->result = buf ? 0 : -1;
	while (buf) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, STREAM_STALL_MS) <= 0) {
			s->result = -1;
			break;
		}
		n = recv(s->fd, buf, STREAM_CHUNK, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n == 0)
			break;
		if (n < 0) {
			s->result = -1;
			break;
		}
		hash_add(&s->got, buf, (size_t)n);
		if (s->pace_ms > 0)
			(void)poll(NULL, 0, s->pace_ms);	/* the scenario's slow reader */
	}
	free(buf);
	done_signal(&s->fin);
	return NULL;
}

/*
 * Starts a sink thread on fd (not owned), pausing pace_ms after each read
 * of at most 64 KiB (0: full speed).  Returns NULL on failure.
 */
struct sink *
sink_start(int fd, int pace_ms)
{
	struct sink *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fd = fd;
	s->pace_ms = pace_ms;
	done_init(&s->fin);
	if (pthread_create(&s->th, NULL, sink_main, s) != 0) {
		done_destroy(&s->fin);
		free(s);
		return NULL;
	}
	return s;
}

/* Waits for the sink to reach EOF and frees it.  Returns 0, or -1 (error, timeout). */
int
sink_join(struct sink *s, struct hash *got, int timeout_ms)
{
	bool ok = done_wait(&s->fin, timeout_ms);
	int r;

	if (!ok)
		(void)shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->th, NULL);
	*got = s->got;
	r = ok ? s->result : -1;
	done_destroy(&s->fin);
	free(s);
	return r;
}
