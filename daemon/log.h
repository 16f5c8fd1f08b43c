/*
 * log: leveled logging to stderr, fit for a terminal or the journal.
 *
 * When stderr is the journal's stream (JOURNAL_STREAM names its device
 * and inode, as systemd documents), each line goes to the journal through
 * sd_journal_send with its priority and, for the events that have them,
 * structured fields (TISOCK_SOCKET, TISOCK_CLIENT_UID, TISOCK_CLIENT_PID,
 * TISOCK_DEST, TISOCK_RULE, TISOCK_LIMIT) and a MESSAGE_ID per kind of
 * event; should the journal's socket refuse a line, it goes to stderr
 * with a <N> priority prefix instead, which journald reads as the level.
 * Otherwise lines are plain.  Anything a client can trigger is logged
 * through a log_ratelimit so that a flood cannot flood the log.
 */
#ifndef TISOCK_LOG_H
#define TISOCK_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <syslog.h>

struct log_ratelimit {
	double		last;		/* ev_now of the last line allowed */
	unsigned	suppressed;	/* lines dropped since */
};

/* MESSAGE_ID of each kind of event (journalctl MESSAGE_ID=...). */
#define LOG_MID_STARTED		"722a4f910a5b4b1fb96132508acc1e67"
#define LOG_MID_STOPPED		"f051035bebc64870b75c79a7cd4c6b7d"
#define LOG_MID_RELOADED	"96d0c877b43047478ec77d3a8b62dd60"
#define LOG_MID_RELOAD_FAILED	"30f1e79a0c084dc1b4b49e267f5ba4ea"
#define LOG_MID_CONFIG_ERROR	"52e178d37c31406a8ce37268a252867f"
#define LOG_MID_POLICY_DENIED	"5c757a6ba6e947e699c05eafa8a34ef0"
#define LOG_MID_POLICY_ALLOWED	"199fd2c6f1e74f30a077ada00bfb755d"
#define LOG_MID_LIMIT_HIT	"0e7dea012d824856b5d7d2357c743ac3"
#define LOG_MID_MONITOR_DROPPED	"99e19112f4c14d46b76f8af7491d5d57"
#define LOG_MID_LINGER_EXPIRED	"890f88416f094b28a19ab438efc98fb7"
#define LOG_MID_ACCEPT_PAUSED	"e5ef661d493c41ccb0317b9b02fc56d2"
#define LOG_MID_ADMIN_CLOSE	"1c23fbb4bb6f4ff992828efb4349e830"

/* What an event says besides its message; unset fields are left out. */
struct log_fields {
	const char	*message_id;	/* LOG_MID_*, NULL: none */
	uint64_t	 socket;	/* TISOCK_SOCKET, 0: none */
	bool		 client;	/* TISOCK_CLIENT_UID and _PID are set */
	uid_t		 client_uid;
	pid_t		 client_pid;
	const char	*dest;		/* TISOCK_DEST: address:port */
	const char	*rule;		/* TISOCK_RULE: the policy rule's text */
	const char	*limit;		/* TISOCK_LIMIT: the limit's name */
};

#define LOG_FIELDS_MAX	11	/* iovecs log_journal_fields() may fill */
#define LOG_FIELDS_BUF	1536	/* bytes of field text beside the message */

void	 log_init(const char *ident);
void	 log_set_level(int level);
int	 log_get_level(void);
int	 log_parse_level(const char *s);
bool	 log_to_journal(void);
void	 log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void	 log_event(int level, const struct log_fields *f, const char *fmt, ...)
	     __attribute__((format(printf, 3, 4)));
size_t	 log_journal_fields(struct iovec *iov, char *buf, size_t buflen, int level,
	     const char *ident, const char *message, const struct log_fields *f);
bool	 log_ratelimit_ok(struct log_ratelimit *rl, double now, double interval);

#define log_error(...)		log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)		log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)		log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)		log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
