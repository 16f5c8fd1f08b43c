/*
 * tcp-kinfo: TCP_INFO read and told; see tcp-kinfo.h.
 *
 * "limitedBy" is where the socket spent most of its sending time: the
 * peer's receive window (rwnd), our send buffer, that is the sender's
 * own pace (sender), or else the congestion window (cwnd); "none" before
 * it has sent anything.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>

#include "proto-jw.h"
#include "tcp-kinfo.h"

/* Fills k from the kernel.  Returns 0 or -errno. */
int
tcp_kinfo_get(int fd, struct tcp_kinfo *k)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	uint64_t cwnd_us;

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	*k = (struct tcp_kinfo){
		.rtt_us = ti.tcpi_rtt, .rttvar_us = ti.tcpi_rttvar,
		.retransmits = ti.tcpi_total_retrans, .lost = ti.tcpi_lost,
		.cwnd = ti.tcpi_snd_cwnd, .delivery_rate = ti.tcpi_delivery_rate,
		.bytes_acked = ti.tcpi_bytes_acked, .bytes_received = ti.tcpi_bytes_received,
		.busy_us = ti.tcpi_busy_time, .rwnd_limited_us = ti.tcpi_rwnd_limited,
		.sndbuf_limited_us = ti.tcpi_sndbuf_limited, .limited_by = "none",
	};
	if (k->busy_us == 0)
		return 0;
	cwnd_us = k->busy_us > k->rwnd_limited_us + k->sndbuf_limited_us ?
		  k->busy_us - k->rwnd_limited_us - k->sndbuf_limited_us : 0;
	if (k->rwnd_limited_us >= cwnd_us && k->rwnd_limited_us >= k->sndbuf_limited_us)
		k->limited_by = "rwnd";
	else if (k->sndbuf_limited_us >= cwnd_us)
		k->limited_by = "sender";
	else
		k->limited_by = "cwnd";
	return 0;
}

/* "key": {rttUs, rttVarUs, retransmits, lost, cwnd, deliveryRate, ...}. */
void
tcp_kinfo_write(struct proto_jw *w, const char *key, const struct tcp_kinfo *k)
{
	proto_jw_key(w, key);
	proto_jw_obj_begin(w);
	proto_jw_kuint(w, "rttUs", k->rtt_us);
	proto_jw_kuint(w, "rttVarUs", k->rttvar_us);
	proto_jw_kuint(w, "retransmits", k->retransmits);
	proto_jw_kuint(w, "lost", k->lost);
	proto_jw_kuint(w, "cwnd", k->cwnd);
	proto_jw_kuint(w, "deliveryRate", k->delivery_rate);
	proto_jw_kuint(w, "bytesAcked", k->bytes_acked);
	proto_jw_kuint(w, "bytesReceived", k->bytes_received);
	proto_jw_kuint(w, "busyMs", k->busy_us / 1000);
	proto_jw_kuint(w, "rwndLimitedMs", k->rwnd_limited_us / 1000);
	proto_jw_kuint(w, "senderLimitedMs", k->sndbuf_limited_us / 1000);
	proto_jw_kstr(w, "limitedBy", k->limited_by);
	proto_jw_obj_end(w);
}

/* Reads one int socket option, -1 when it cannot be read. */
static int
sockopt_int(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int v = 0;

	return getsockopt(fd, level, name, &v, &len) == 0 ? v : -1;
}

/*
 * Writes key: the options in effect on fd, as the kernel reports them
 * (buffer sizes doubled and clamped; linger -1 when SO_LINGER is off).
 */
void
tcp_kinfo_write_options(struct proto_jw *w, const char *key, int fd)
{
	struct linger l = { 0 };
	socklen_t len = sizeof(l);

	if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) < 0)
		l.l_onoff = 0;
	proto_jw_key(w, key);
	proto_jw_obj_begin(w);
	proto_jw_kbool(w, "noDelay", sockopt_int(fd, IPPROTO_TCP, TCP_NODELAY) > 0);
	proto_jw_kbool(w, "keepAlive", sockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE) > 0);
	proto_jw_kint(w, "keepAliveIdle", sockopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE));
	proto_jw_kint(w, "linger", l.l_onoff ? l.l_linger : -1);
	proto_jw_kint(w, "sendBufferSize", sockopt_int(fd, SOL_SOCKET, SO_SNDBUF));
	proto_jw_kint(w, "receiveBufferSize", sockopt_int(fd, SOL_SOCKET, SO_RCVBUF));
	proto_jw_obj_end(w);
}
