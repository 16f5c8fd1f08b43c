/*
 * daemon: the process-wide object.  It owns the loop, the control socket,
 * every control connection, the sockets left lingering by vanished
 * clients, the socket id map, the resolver, counters, and the graveyard
 * where closed objects wait to be freed outside their own callbacks.
 */
#ifndef TISOCK_DAEMON_H
#define TISOCK_DAEMON_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "busypoll.h"
#include "conf.h"
#include "fdstore.h"
#include "flow.h"
#include "log.h"
#include "proto-buf.h"
#include "proto-jw.h"
#include "quota.h"
#include "tcp.h"

struct ctl;
struct tcp;
struct dns;
struct policy_load;
struct metrics;
struct recover;
struct upgrade;

#define DAEMON_SCRATCH		(256 * 1024)	/* bytes per recv into the daemon */
#define DAEMON_ACCEPT_RETRY	1.0		/* seconds between tries after EMFILE */

struct daemon_counters {
	uint64_t	clients_total;		/* control connections accepted */
	uint64_t	sockets_total;		/* TCP sockets created or accepted */
	uint64_t	requests;		/* requests dispatched */
	uint64_t	bytes_read;		/* from TCP peers */
	uint64_t	bytes_written;		/* to TCP peers */
	uint64_t	protocol_errors;	/* -32700 / -32600 answers */
	uint64_t	limit_hits;		/* -32005 answers and refused clients */
	uint64_t	accept_pauses;		/* EMFILE / ENFILE pauses */
	uint64_t	monitors_dropped;	/* monitors that fell behind */
	uint64_t	reloads;		/* SIGHUP config reloads that applied */
	uint64_t	policy_denials;		/* connects, listens, accepts refused by policy */
	uint64_t	linger_resets;		/* connections ended with bytes not delivered */
	uint64_t	undelivered_bytes;	/* bytes accepted for writing that never left */
	uint64_t	tls_handshakes;		/* TLS handshakes done (all kinds) */
	uint64_t	tls_failures;		/* TLS handshakes that failed */
	uint64_t	tls_truncated;		/* TLS streams ended without close_notify */
	uint64_t	limit_hits_by[_QL_MAX];	/* limit_hits by limit */
};

struct daemon {
	struct ev_loop		*loop;
	struct conf		 conf;
	char			*socket_path;	/* resolved control socket path */
	bool			 socket_owned;	/* we created it: unlink at exit */
	dev_t			 socket_dev;	/* and what it was, to unlink only that */
	ino_t			 socket_ino;
	int			 listen_fd;	/* control socket */
	ev_io			 accept_io;
	int			 hup_fd;	/* epoll of ctls whose input is not read */
	ev_io			 hup_io;
	ev_timer		 accept_retry;	/* after EMFILE */
	ev_timer		 trim_timer;	/* gives freed heap memory back, a second after frees */
	bool			 accept_paused;	/* control accept waits for fds */
	ev_prepare		 prepare;	/* flush output, free the graveyard */
	ev_check		 check;		/* same, after the poll */
	struct busypoll		 busypoll;	/* busy-poll-us: polling on after events */
	ev_signal		 sigterm, sigint, sighup;
	ev_timer		 status_timer;	/* STATUS= refresh, with NOTIFY_SOCKET */
	ev_timer		 watchdog_timer;	/* WATCHDOG=1, with WATCHDOG_USEC */
	char			 status[160];	/* last STATUS= sent */
	const char		*conf_path;	/* what SIGHUP reads again */
	bool			 conf_must_exist;
	bool			 log_level_fixed;	/* --log-level: not from the file */
	bool			 stopping;
	bool			 serving;	/* a complete policy in force: accepting */
	bool			 reload_wanted;	/* SIGHUP before serving: reload once serving */
	int			 exit_status;	/* of daemon_run() */
	uint64_t		 policy_gen;	/* bumped each time a policy comes into force */
	struct policy_load	*policy_load;	/* host names of a new policy resolving */
	struct conf		*reload_conf;	/* owned: the config a reload waits to apply */
	double			 started;	/* ev_now at start */
	uid_t			 uid;		/* the daemon's own uid */

	TAILQ_HEAD(, ctl)	 ctls;		/* live control connections */
	TAILQ_HEAD(, ctl)	 flush;		/* ctls with output to write */
	TAILQ_HEAD(, ctl)	 dead_ctls;	/* graveyard */
	TAILQ_HEAD(, ctl)	 monitors;	/* ctls with daemon.monitor on */
	size_t			 nmonitors;
	struct proto_buf	 monitor_buf;	/* the event being built */
	struct proto_jw		 monitor_jw;
	size_t			 nctls;		/* live ctls */
	size_t			 input_bytes;	/* held by every ctl's line reader */

	uint64_t		 next_client;	/* client numbers, for logs */
	struct tcp_engine	 eng;		/* the sockets: ids, orphans, graveyard */
	struct quota_user	*quota[QUOTA_BUCKETS];	/* uid -> usage */
	struct dns		*dns;
	struct flow		 flow;		/* the run queue of sockets with bytes to move */
	char			*scratch;	/* DAEMON_SCRATCH bytes for recv */
	struct daemon_counters	 counters;
	struct metrics		*metrics;	/* what only daemon.metrics shows; owned */
	struct log_ratelimit	 rl_accept, rl_protocol, rl_limit, rl_linger, rl_tls;

	/* Restarts: crash recovery (recover.c) and live upgrade (upgrade.c). */
	uint64_t		 generation;	/* 1 for a fresh start, +1 per upgrade or recovery */
	double			 last_restart;	/* wall clock of the last restart, 0: none */
	const char		*last_restart_reason;	/* "upgrade" or "recovery" (static) */
	char			 last_restart_from[32];	/* the version restarted from */
	struct fdstore		 fds;		/* systemd's fd store, the ledger */
	struct recover		*recover;	/* what a crashed predecessor left, until applied */
	struct upgrade		*upgrade;	/* owned: live upgrade (upgrade.c) */
};

int	 daemon_init(struct daemon *d, struct ev_loop *loop);
int	 daemon_listen(struct daemon *d);
void	 daemon_adopt_listen(struct daemon *d, int fd);
void	 daemon_sweep(struct daemon *d);
int	 daemon_run(struct daemon *d);
void	 daemon_done(struct daemon *d);
void	 daemon_fd_freed(struct daemon *d);
void	 daemon_accept_pause(struct daemon *d);
double	 daemon_policy_timeout(const struct conf *c);
uint64_t daemon_uptime_ms(struct daemon *d);

static inline struct daemon *
daemon_from_loop(struct ev_loop *loop)
{
	return ev_userdata(loop);
}

#endif
