/*
 * spawn: starts a real tisockd for an integration test, on a temporary
 * socket with the given config text, and waits for its READY=1 on a
 * NOTIFY_SOCKET of our own.  TISOCK_DAEMON_WRAPPER (e.g. valgrind) is put
 * before the daemon when set.  Also the ok/FAIL reporting of these tests.
 */
#ifndef TISOCK_TEST_SPAWN_H
#define TISOCK_TEST_SPAWN_H

#include <sys/types.h>

struct spawned {
	pid_t	pid;
	char	dir[64];	/* temporary directory, removed by spawn_stop */
	char	socket[96];	/* the daemon's control socket */
};

/* Returns 0, or -1 when the daemon did not become ready within 30 s. */
int	spawn_start(struct spawned *sp, const char *bin, const char *config, long nofile);
/* SIGTERM and wait (bounded).  Returns the exit status, or -1 on timeout. */
int	spawn_stop(struct spawned *sp);
long long spawn_now_ms(void);

/* Prints "ok WHAT" or "FAIL WHAT" and counts it. */
void	check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "N passed, N failed".  Returns the exit status: 0, or 1 after a failure. */
int	check_summary(void);

#endif
