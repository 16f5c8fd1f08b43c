/*
 * bench: what the measurements share (bench-util.c): time, the loopback
 * peers in child processes, and a minimal JSON-RPC client of the daemon.
 */
#ifndef TISOCK_BENCH_H
#define TISOCK_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "spawn.h"

#define CHUNK		65536

extern struct spawned sp;		/* the daemon under test */
extern size_t total_bytes;		/* per bulk run */
extern const char *daemon_bin;		/* the daemon under test's binary */

double	 now_s(void);
void	 die(const char *what) __attribute__((noreturn));
void	 write_all(int fd, const void *p, size_t n);
void	 read_exact(int fd, void *p, size_t n);
int	 listen_loopback(int *port);
pid_t	 fork_listener(int *port, int *lfd);
int	 connect_tcp(int port);
int	 connect_unix(const char *path);
int	 socat_connect(const char *path);

/*
 * A peer on loopback in a child process.  SINK reads to EOF then writes
 * the byte count (8 bytes); SOURCE writes total_bytes then closes; ECHO
 * echoes; HOLD accepts and keeps connections until killed.
 */
enum peer_mode { SINK, SOURCE, ECHO, HOLD };
pid_t	 peer_start(enum peer_mode mode, int conns, int *port);
void	 peer_stop(pid_t pid);

struct rpc {
	int		 fd;
	char		*in;
	size_t		 len, off, cap;
	long long	 id;
};

void	 rpc_open(struct rpc *r);
void	 rpc_close(struct rpc *r);
char	*rpc_line(struct rpc *r, size_t *ret_len);
void	 rpc_send(struct rpc *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
cJSON	*rpc_call(struct rpc *r, const char *method, const char *params);
long long rpc_connect(struct rpc *r, int port);
int	 rpc_channel(struct rpc *r, long long s);
uint64_t rpc_pump_all(struct rpc *r, long long s);

/* bench-load.c: many streams at once, memory on a fresh daemon. */
struct load_result {
	double	mbps;			/* aggregate, MB/s */
	double	jain;			/* Jain's index of the per-stream bytes */
	double	slowest;		/* the slowest stream's bytes / the mean */
	double	info_p50, info_p99;	/* daemon.info round trip from a fresh client, ms */
	int	probes;
};

enum load_kind { LOAD_PUMP, LOAD_CHANNEL, LOAD_CHANNEL_UP };
void	 load_run(int n, enum load_kind kind, double secs, struct load_result *r);

/* bench-fdstore.c: what systemd's fd store costs per connection. */
void	 fdstore_bench(const char *bin, int reps, int n);
double	 load_rss_sockets(int n);
void	 load_rss_channels(int n, long *before, long *with, long *after);

/* bench-tls.c: TLS through the daemon against socat OPENSSL: (--only tls). */
void	 tls_run(const char *srcdir, int reps, bool quick, const char *socat, FILE *json,
	    int *rows);
/* bench-upgrade.c: the pause of a live upgrade. */
void	 upgrade_run(int n, int reps, double *p50, double *p99);

#endif
