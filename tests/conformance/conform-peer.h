/*
 * conform-peer: the suite's own TCP peers on loopback (127.0.0.1 and ::1)
 * and the byte streams the bulk cases check end to end.
 *
 * Plain fds with a deadline on every wait.  A source thread sends a
 * deterministic pseudo-random stream as fast as the kernel takes it; a
 * sink thread reads to EOF.  Both hash what they move (FNV-1a 64 plus the
 * length) so the cases compare what was sent with what arrived.
 */
#ifndef TISOCK_CONFORM_PEER_H
#define TISOCK_CONFORM_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int	 peer_listen(int family, int backlog, int *ret_port);
int	 peer_accept(int lfd, int timeout_ms);
int	 peer_connect(int family, int port);
int	 peer_port(int fd, bool local);
int	 peer_recv_all(int fd, void *buf, size_t len, int timeout_ms);
int	 peer_send_all(int fd, const void *buf, size_t len, int timeout_ms);
int	 peer_wait_eof(int fd, int timeout_ms);
void	 peer_reset(int fd);
int	 peer_closed_port(void);
bool	 peer_have_ipv6(void);

struct hash {
	uint64_t	h;	/* FNV-1a 64 */
	uint64_t	len;	/* bytes */
};
void	 hash_init(struct hash *h);
void	 hash_add(struct hash *h, const void *p, size_t n);
bool	 hash_eq(const struct hash *a, const struct hash *b);
void	 fill_random(void *buf, size_t n, uint64_t seed);

/* A thread that sends len bytes (seed) to fd, then shuts down its side. */
struct source;
struct source	*source_start(int fd, size_t len, uint64_t seed);
size_t		 source_sent(struct source *s);
bool		 source_waiting(struct source *s);
int		 source_join(struct source *s, struct hash *sent, int timeout_ms);

/* A thread that reads fd to EOF, hashing; pace_ms pause after each read. */
struct sink;
struct sink	*sink_start(int fd, int pace_ms);
int		 sink_join(struct sink *s, struct hash *got, int timeout_ms);

#endif
