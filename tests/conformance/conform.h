/*
 * conform: the tisock protocol conformance suite.
 *
 * A control-connection client that speaks raw JSON lines (conform-client),
 * loopback TCP peers (conform-peer), and the cases (conform-cases-*),
 * run by conform-main against any daemon socket.
 */
#ifndef TISOCK_CONFORM_H
#define TISOCK_CONFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define CONFORM_DEADLINE_MS	10000	/* default wait for any answer */

/* --- the run ------------------------------------------------------------ */

struct conform_limits {
	long long max_message_bytes, client_budget, client_requests, client_sockets;
};

struct conform {
	const char		*socket_path;
	bool			 spawned;	/* we started the daemon ourselves */
	struct conform_limits	 limits;	/* from daemon.info */
	char			 failure[1024];	/* set by CHECK */
};

extern struct conform *C;

struct conform_case {
	const char	*name;
	void		(*run)(void);
	bool		 needs_spawned;	/* needs the small limits of --daemon */
};

extern const struct conform_case conform_cases_jsonrpc[];
extern const struct conform_case conform_cases_sockets[];
extern const struct conform_case conform_cases_io[];
extern const struct conform_case conform_cases_flow[];

bool	conform_fail(const char *file, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Fails the running case (once) and returns from it. */
#define CHECK(cond, ...) do { \
	if (!(cond)) { conform_fail(__FILE__, __LINE__, __VA_ARGS__); return; } \
} while (0)
#define FAILED() (C->failure[0] != '\0')

long long	 conform_now_ms(void);

/* --- control connections (conform-client.c) ----------------------------- */

struct cc;

struct cc	*cc_open(void);
void		 cc_close(struct cc *c);
int		 cc_fd(struct cc *c);
int		 cc_send_raw(struct cc *c, const char *data, size_t len);
int		 cc_send_line(struct cc *c, const char *line);
long long	 cc_request(struct cc *c, const char *method, const char *params_fmt, ...)
		     __attribute__((format(printf, 3, 4)));
char		*cc_read_line(struct cc *c, int timeout_ms);
cJSON		*cc_read(struct cc *c, int timeout_ms);
cJSON		*cc_wait(struct cc *c, long long id, int timeout_ms);
cJSON		*cc_call(struct cc *c, const char *method, const char *params_fmt, ...)
		     __attribute__((format(printf, 3, 4)));
cJSON		*cc_note(struct cc *c, const char *method, int timeout_ms);
void		 cc_drop_notes(struct cc *c);

/* Accessors on answers: NULL / -999999 when absent. */
cJSON		*j_get(const cJSON *o, const char *path);
long long	 j_int(const cJSON *o, const char *path);
const char	*j_str(const cJSON *o, const char *path);
bool		 j_true(const cJSON *o, const char *path);
long long	 err_code(const cJSON *answer);
bool		 j_is(const cJSON *o, const char *path, const char *want);
long long	 cc_pair(struct cc *c, int *ret_peer);

/* --- loopback peers (conform-peer.c) ------------------------------------ */

int		 peer_listen(int family, int backlog, int *ret_port);
int		 peer_accept(int lfd, int timeout_ms);
int		 peer_connect(int family, int port);
int		 peer_recv_all(int fd, void *buf, size_t len, int timeout_ms);
int		 peer_send_all(int fd, const void *buf, size_t len, int timeout_ms);
int		 peer_wait_eof(int fd, int timeout_ms);
void		 peer_reset(int fd);
int		 peer_closed_port(void);

struct hash {
	uint64_t	h;
	uint64_t	len;
};
void		 hash_init(struct hash *h);
void		 hash_add(struct hash *h, const void *p, size_t n);
void		 fill_random(void *buf, size_t n, uint64_t seed);

/* A thread that sends len pseudo-random bytes (seed) then closes. */
struct source;
struct source	*source_start(int fd, size_t len, uint64_t seed);
int		 source_join(struct source *s, struct hash *sent);
size_t		 source_sent(struct source *s);
bool		 source_blocked(struct source *s);

/* A thread that reads to EOF, hashing. */
struct sink;
struct sink	*sink_start(int fd);
int		 sink_join(struct sink *s, struct hash *got, int timeout_ms);

#endif
