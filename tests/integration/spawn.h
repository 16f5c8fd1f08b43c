/*
 * spawn: starts a real tisockd for an integration test, on a temporary
 * socket with the given config text, and waits for its READY=1 on a
 * NOTIFY_SOCKET of our own.  TISOCK_DAEMON_WRAPPER (e.g. valgrind) is put
 * before the daemon when set.  Also the ok/FAIL reporting of these tests.
 */
#ifndef TISOCK_TEST_SPAWN_H
#define TISOCK_TEST_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SPAWN_DEADLINE_MS	15000	/* spawn_ask's wait for its answer */

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

/* A new control connection to the daemon, or -1. */
int	spawn_ctl_open(const struct spawned *sp);
/* Writes all n bytes (blocking), or stops at the first error. */
void	spawn_send_all(int fd, const char *s, size_t n);
/* The next line from fd (static buffer), "" at EOF or after timeout_ms without a byte. */
const char *spawn_line(int fd, int timeout_ms);
/* Sends a request line and returns its answer (static, skipping other lines). */
const char *spawn_ask(int fd, int id, const char *method, const char *params);
/*
 * The integer after "key", inside the object opened by the text obj (such
 * as "\"user\":{"), in the answer to daemon.info on fd; -1 when absent.
 */
long long spawn_info_field(int fd, const char *obj, const char *key);

/* A "VmRSS:"-style figure (KiB) from /proc/PID/status, or -1. */
long	spawn_status_kib(pid_t pid, const char *key);
/* CPU seconds pid has run so far (/proc/PID/schedstat), or -1. */
double	spawn_cpu_s(pid_t pid);
/* The number of open descriptors of pid, or -1 (gone). */
int	spawn_count_fds(pid_t pid);
/* Whether the daemon's RSS is inflated by valgrind or a sanitizer. */
bool	spawn_rss_is_inflated(void);

/*
 * The daemon of a cmocka group (as its group setup and teardown): started
 * from spawn_bin with a default config; the teardown fails unless it
 * exits 0.
 */
extern struct spawned spawn_group;
extern const char *spawn_bin;
int	spawn_group_setup(void **state);
int	spawn_group_teardown(void **state);

/* Prints "ok WHAT" or "FAIL WHAT" and counts it. */
void	check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "N passed, N failed".  Returns the exit status: 0, or 1 after a failure. */
int	check_summary(void);

#endif
