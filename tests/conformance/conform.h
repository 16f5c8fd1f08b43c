/*
 * conform: the tisock protocol conformance suite, the run itself.
 *
 * conform-main runs named cases against one daemon socket (given, or
 * started by conform-spawn with small limits).  A case is a void function
 * that stops at its first failed CHECK (or SKIP); the runner prints one
 * line per case and the totals.  The client layer is in conform-client.h,
 * the loopback peers and byte streams in conform-peer.h.
 */
#ifndef TISOCK_CONFORM_H
#define TISOCK_CONFORM_H

#include <stdbool.h>
#include <stddef.h>

#define CONFORM_DEADLINE_MS	10000	/* default wait for any one answer or event */

/* The limits --daemon writes into its config file. */
#define CONFORM_BUDGET		1048576
#define CONFORM_REQUESTS	64
#define CONFORM_SOCKETS		64
#define CONFORM_MAX_MESSAGE	1048576
#define CONFORM_LINGER_MS	2000
#define CONFORM_HE_DELAY_MS	250		/* happy-eyeballs-delay-ms */
#define CONFORM_HOST_BOTH	"both.tisock-conform.test"	/* ::1, then 127.0.0.1 */

struct conform_limits {
	long long	max_message_bytes;	/* daemon.info limits, J_NONE if absent */
	long long	client_budget;
	long long	client_requests;
	long long	client_sockets;
	long long	linger_ms;
};

struct conform {
	const char		*socket_path;	/* the daemon's control socket */
	const char		*datadir;	/* where the *.exchanges files are */
	bool			 verbose;	/* log every line and each case's time */
	bool			 small_limits;	/* daemon.info shows the CONFORM_* limits */
	struct conform_limits	 limits;	/* from daemon.info */
	char			 failure[2048];	/* set by the first failed CHECK */
	char			 skipped[256];	/* set by SKIP */
};

extern struct conform *C;

struct conform_case {
	const char	*name;
	void		(*run)(void);
	bool		 small_limits;	/* needs the CONFORM_* limits */
};

extern const struct conform_case conform_cases_jsonrpc[];
extern const struct conform_case conform_cases_methods[];
extern const struct conform_case conform_cases_sockets[];
extern const struct conform_case conform_cases_io[];
extern const struct conform_case conform_cases_coalesce[];
extern const struct conform_case conform_cases_relay[];
extern const struct conform_case conform_cases_states[];
extern const struct conform_case conform_cases_flow[];
extern const struct conform_case conform_cases_admin[];
extern const struct conform_case conform_cases_shapes[];
extern const struct conform_case conform_cases_cancel[];
extern const struct conform_case conform_cases_eyeballs[];
extern const struct conform_case conform_cases_attacks[];

bool	 conform_fail(const char *file, int line, const char *fmt, ...)
	     __attribute__((format(printf, 3, 4)));
void	 conform_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	 conform_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
long long conform_now_ms(void);

/* Fails the running case (the first failure is kept) and returns from it. */
#define CHECK(cond, ...) do { \
	if (!(cond)) { conform_fail(__FILE__, __LINE__, __VA_ARGS__); return; } \
} while (0)
#define SKIP(...) do { conform_skip(__VA_ARGS__); return; } while (0)
#define FAILED() (C->failure[0] != '\0')

/* conform-record.c: what was sent and received, for validate-openrpc.py. */
void	 conform_record(int conn, char dir, const void *data, size_t len);
void	 conform_record_done(void);

/* conform-spawn.c: a daemon of our own. */
int	 spawn_daemon(const char *bin, const char **ret_socket);
int	 spawn_stop(char *why, size_t whylen);

#endif
