/*
 * tcp-kinfo: the kernel's view of a connected TCP socket (TCP_INFO):
 * round trip time, retransmissions, congestion window, delivery rate,
 * bytes acknowledged and received, and what has been limiting it; and
 * the socket options in effect.
 */
#ifndef TISOCK_TCP_KINFO_H
#define TISOCK_TCP_KINFO_H

#include <stdint.h>

struct proto_jw;

struct tcp_kinfo {
	uint32_t	 rtt_us, rttvar_us;
	uint32_t	 retransmits;		/* segments retransmitted, in all */
	uint32_t	 lost;			/* segments thought lost now */
	uint32_t	 cwnd;			/* congestion window, segments */
	uint64_t	 delivery_rate;		/* bytes per second, recent */
	uint64_t	 bytes_acked, bytes_received;
	uint64_t	 busy_us, rwnd_limited_us, sndbuf_limited_us;
	const char	*limited_by;		/* rwnd, cwnd, sender or none */
};

int	tcp_kinfo_get(int fd, struct tcp_kinfo *k);
void	tcp_kinfo_write(struct proto_jw *w, const char *key, const struct tcp_kinfo *k);
void	tcp_kinfo_write_options(struct proto_jw *w, const char *key, int fd);

#endif
