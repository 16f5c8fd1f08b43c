/*
 * log: leveled logging to stderr, fit for a terminal or the journal.
 *
 * When stderr is the journal (JOURNAL_STREAM names it), each line carries
 * a <N> syslog priority prefix; otherwise lines are plain.  Anything a
 * client can trigger is logged through a log_ratelimit so that a flood
 * cannot flood the log.
 */
#ifndef TISOCK_LOG_H
#define TISOCK_LOG_H

#include <stdbool.h>
#include <syslog.h>

struct log_ratelimit {
	double		last;		/* ev_now of the last line allowed */
	unsigned	suppressed;	/* lines dropped since */
};

void	 log_init(const char *ident);
void	 log_set_level(int level);
int	 log_get_level(void);
int	 log_parse_level(const char *s);
void	 log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool	 log_ratelimit_ok(struct log_ratelimit *rl, double now, double interval);

#define log_error(...)		log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)		log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)		log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)		log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
