/*
 * conf: the daemon's settings, from defaults, the config file (INI, read
 * with inih) and the command line, in that order.
 */
#ifndef TISOCK_CONF_H
#define TISOCK_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct policy;

#define CONF_DEFAULT_PATH	SYSCONFDIR "/tisockd/tisockd.conf"
#define CONF_EXIT_CONFIG	78	/* exit status for a bad config file (EX_CONFIG) */

struct conf {
	char		*socket_path;		/* NULL: resolve the default */
	long		 socket_group;		/* gid given to the socket we create, -1: ours */
	int		 log_level;		/* syslog level */
	uint64_t	 max_message_bytes;	/* longest request line */
	uint64_t	 client_budget;		/* pending writes + queued output, bytes */
	uint64_t	 client_sockets;	/* open sockets per client */
	uint64_t	 client_requests;	/* requests in flight per client */
	uint64_t	 clients;		/* control connections */
	uint64_t	 sockets;		/* open TCP sockets, daemon-wide */
	uint64_t	 uid_clients;		/* control connections per uid */
	uint64_t	 uid_sockets;		/* open sockets per uid */
	uint64_t	 uid_requests;		/* requests in flight per uid */
	uint64_t	 uid_pending_write;	/* bytes accepted for writing, unsent, per uid */
	uint64_t	 client_connect_rate;	/* connects per second per connection */
	uint64_t	 uid_connect_rate;	/* connects per second per uid */
	uint64_t	 client_notify;		/* queued output before a client's sockets wait */
	uint64_t	 uid_notify;		/* the same over a uid's connections */
	uint64_t	 uid_input;		/* unfinished input lines held per uid */
	uint64_t	 input;			/* the same, daemon-wide */
	uint64_t	 uid_channel_buffer;	/* enlarged channel buffers granted per uid */
	uint64_t	 channel_buffer;	/* the same, daemon-wide */
	uint64_t	 connect_timeout_ms;	/* default connect timeout; 0: none */
	uint64_t	 happy_eyeballs_delay_ms;	/* stagger between raced attempts */
	uint64_t	 linger_ms;		/* flush bound at close */
	uint64_t	 resolver_timeout_ms;	/* per resolver try */
	uint64_t	 tls_handshake_timeout_ms;	/* bounds a TLS handshake; 0: none */
	uint64_t	 busy_poll_us;		/* polling on after events, at most; 0: off */
	char		 resolver_lookups[8];	/* c-ares lookups: "fb", "f", "b" */
	struct policy	*policy;		/* [policy] rules and the defaults; owned */
	bool		 metrics_on;		/* metrics-listen given */
	struct sockaddr_storage metrics_listen;	/* where GET /metrics is served */
	int		 fd_store;		/* CONF_FD_STORE_*: systemd's fd store */
};

#define CONF_FD_STORE_AUTO	0	/* when NOTIFY_SOCKET is set */
#define CONF_FD_STORE_YES	1
#define CONF_FD_STORE_NO	2

void	 conf_defaults(struct conf *c);
int	 conf_load(struct conf *c, const char *path, bool must_exist, char **ret_err);
void	 conf_done(struct conf *c);

#endif
