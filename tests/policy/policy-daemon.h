/*
 * policy-daemon: what the C policy tests share.  A real tisockd in a
 * temporary directory with its config file, its log (stderr) and a
 * NOTIFY_SOCKET the test owns, started either on its own socket path or
 * socket-activated on a listening socket the test made (so requests can
 * wait in it before the daemon runs); raw JSON lines to its control
 * socket; loopback TCP peers that count the connections they got.
 * TISOCK_DAEMON_WRAPPER (e.g. valgrind) is put before the daemon.
 */
#ifndef TISOCK_TEST_POLICY_DAEMON_H
#define TISOCK_TEST_POLICY_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pd {
	pid_t	 pid;		/* -1: not running */
	int	 nfd;		/* our NOTIFY_SOCKET, datagrams */
	int	 afd;		/* socket activation: the control socket we made, or -1 */
	char	 dir[64];
	char	 conf[96], log[96], sock[96], notify[96];
};

struct pd_conn {
	int	 fd;
	size_t	 have;		/* bytes in buf */
	char	 buf[1 << 16];
	char	 line[1 << 16];	/* the last line returned */
};

/* A temporary directory with config text; -1 on failure. */
int		 pd_init(struct pd *d, const char *config);
void		 pd_write_conf(struct pd *d, const char *config);
/* Makes the control socket ourselves, for socket activation.  0 or -1. */
int		 pd_activation_socket(struct pd *d);
/* Starts the daemon (socket-activated when pd_activation_socket was called). */
int		 pd_spawn(struct pd *d);
/* The next notification containing want within ms; false otherwise. */
bool		 pd_expect(struct pd *d, const char *want, int ms);
/* Whether the daemon has exited within ms; its wait status in *status. */
bool		 pd_exited(struct pd *d, int ms, int *status);
/* Whether the log contains text. */
bool		 pd_log_has(struct pd *d, const char *text);
/* SIGTERM, a bounded wait (SIGKILL after), the directory removed.  Exit status or -1. */
int		 pd_stop(struct pd *d);

int		 pd_connect(struct pd *d, struct pd_conn *c);
bool		 pd_send(struct pd_conn *c, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* The next line within ms (c->line), or NULL. */
const char	*pd_line(struct pd_conn *c, int ms);
/* The answer with this id within ms, skipping other lines; "" when none. */
const char	*pd_answer(struct pd_conn *c, int id, int ms);
void		 pd_close(struct pd_conn *c);

/* A listening TCP socket on addr (127.0.0.1, ::1) at port (0: any), backlog.  fd or -1. */
int		 pd_peer(const char *addr, int port, int backlog);
int		 pd_peer_port(int fd);
/* Accepts and closes what is queued on the peer now.  Returns how many. */
int		 pd_peer_drain(int fd);

#endif
