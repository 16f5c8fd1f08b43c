/*
 * log: stderr or journal logging with levels, structured fields and rate
 * limiting; see log.h.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "log.h"

#define LOG_JOURNAL_SOCKET	"/run/systemd/journal/socket"

static int max_level = LOG_INFO;
static bool journal;
static const char *log_ident = "tisockd";

/*
 * Decides once whether stderr is the journal's stream: JOURNAL_STREAM
 * holds "DEV:INO" of it, and only when stderr is still that very stream
 * (not redirected since) does the journal get our lines directly.
 */
void
log_init(const char *ident)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	log_ident = ident;
	journal = false;
	if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0)
		journal = ((unsigned long long)st.st_dev == dev &&
			   (unsigned long long)st.st_ino == ino);
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

/* Whether lines go to the journal (stderr is its stream). */
bool
log_to_journal(void)
{
	return journal;
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

/* Appends "NAME=value" to iov[*n], its text in buf at *used.  False when full. */
static bool __attribute__((format(printf, 5, 6)))
field(struct iovec *iov, size_t *n, char *buf, size_t *used, const char *fmt, ...)
{
	size_t room = *used < LOG_FIELDS_BUF ? LOG_FIELDS_BUF - *used : 0;
	va_list ap;
	int k;

	if (*n >= LOG_FIELDS_MAX || room == 0)
		return false;
	va_start(ap, fmt);
	k = vsnprintf(buf + *used, room, fmt, ap);
	va_end(ap);
	if (k < 0)
		return false;
	if ((size_t)k >= room)
		k = (int)room - 1;	/* cut: a long rule is still worth its start */
	iov[(*n)++] = (struct iovec){ .iov_base = buf + *used, .iov_len = (size_t)k };
	*used += (size_t)k + 1;
	return true;
}

/*
 * Fills iov (LOG_FIELDS_MAX entries) with the journal fields of one line:
 * MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, and those of f that are set; buf
 * (LOG_FIELDS_BUF bytes, buflen checked) holds their text, each cut to
 * what room is left.  Pure: what sd_journal_sendv() gets, testable
 * without a journal.  Returns the number of entries.
 */
size_t
log_journal_fields(struct iovec *iov, char *buf, size_t buflen, int level, const char *ident,
		   const char *message, const struct log_fields *f)
{
	size_t n = 0, used = 0;

	if (buflen < LOG_FIELDS_BUF)
		return 0;
	field(iov, &n, buf, &used, "MESSAGE=%s", message);
	field(iov, &n, buf, &used, "PRIORITY=%d", level);
	field(iov, &n, buf, &used, "SYSLOG_IDENTIFIER=%s", ident);
	if (!f)
		return n;
	if (f->message_id)
		field(iov, &n, buf, &used, "MESSAGE_ID=%s", f->message_id);
	if (f->socket)
		field(iov, &n, buf, &used, "TISOCK_SOCKET=%" PRIu64, f->socket);
	if (f->client) {
		field(iov, &n, buf, &used, "TISOCK_CLIENT_UID=%lu", (unsigned long)f->client_uid);
		field(iov, &n, buf, &used, "TISOCK_CLIENT_PID=%ld", (long)f->client_pid);
	}
	if (f->dest)
		field(iov, &n, buf, &used, "TISOCK_DEST=%s", f->dest);
	if (f->rule)
		field(iov, &n, buf, &used, "TISOCK_RULE=%s", f->rule);
	if (f->limit)
		field(iov, &n, buf, &used, "TISOCK_LIMIT=%s", f->limit);
	return n;
}

/* Writes one formatted line where it belongs. */
static void
emit(int level, const struct log_fields *f, const char *line)
{
	if (journal) {
		struct iovec iov[LOG_FIELDS_MAX];
		char buf[LOG_FIELDS_BUF];
		size_t n = log_journal_fields(iov, buf, sizeof(buf), level, log_ident, line, f);

		/* sd_journal_sendv() drops lines silently when there is no socket. */
		if (access(LOG_JOURNAL_SOCKET, W_OK) == 0 && sd_journal_sendv(iov, (int)n) >= 0)
			return;
		/* The journal's socket is gone: its stream still reads <N>. */
		fprintf(stderr, "<%d>%s\n", level, line);
		return;
	}
	fprintf(stderr, "%s: %s\n", log_ident, line);
}

static void __attribute__((format(printf, 3, 0)))
vlog(int level, const struct log_fields *f, const char *fmt, va_list ap)
{
	char line[1024];
	int saved = errno;

	if (level > max_level)
		return;
	if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
		return;
	emit(level, f, line);
	errno = saved;
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
}

/* Logs one event with its structured fields (f may be NULL). */
void
log_event(int level, const struct log_fields *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, f, fmt, ap);
	va_end(ap);
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
