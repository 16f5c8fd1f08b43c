/*
 * log: stderr logging with levels, journal priority prefixes and rate
 * limiting; see log.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool journal;
static const char *log_ident = "tisockd";

/* Decides once whether stderr is the journal's stream. */
void
log_init(const char *ident)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	log_ident = ident;
	if (js && sscanf(js, "%lu:%lu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0)
		journal = (st.st_dev == dev && st.st_ino == ino);
}

void
log_set_level(int level)
{
	max_level = level;
}

int
log_get_level(void)
{
	return max_level;
}

/* The syslog level named s ("error", "warning", ..., or a digit), or -EINVAL. */
int
log_parse_level(const char *s)
{
	static const char *const names[] = {
		[LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
		[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
	};

	for (int i = 0; i <= LOG_DEBUG; i++)
		if (names[i] && strcmp(s, names[i]) == 0)
			return i;
	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	return -EINVAL;
}

void
log_msg(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n, saved = errno;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (journal)
		fprintf(stderr, "<%d>%s\n", level, line);
	else
		fprintf(stderr, "%s: %s\n", log_ident, line);
	errno = saved;
}

/*
 * True when a line may be logged now: at most one per interval seconds.
 * The first line allowed after a quiet period says how many were dropped.
 */
bool
log_ratelimit_ok(struct log_ratelimit *rl, double now, double interval)
{
	if (rl->last != 0 && now - rl->last < interval) {
		rl->suppressed++;
		return false;
	}
	if (rl->suppressed)
		log_msg(LOG_NOTICE, "%u similar messages suppressed", rl->suppressed);
	rl->last = now;
	rl->suppressed = 0;
	return true;
}
