/*
 * monitor: daemon.monitor, a live feed of what every client does.
 *
 * Monitors are control connections that asked for monitor.event
 * notifications.  Each event is written once into a scratch buffer and
 * copied to every monitor's output.  With nobody monitoring, an event
 * costs one test of d->nmonitors at its call site (monitor_on()).
 *
 * A monitor whose unread output passes MONITOR_BACKLOG gets no more
 * events: it is sent a last monitor.dropped event and closed once that is
 * flushed, or after linger-ms, whichever comes first.
 */
#ifndef TISOCK_MONITOR_H
#define TISOCK_MONITOR_H

#include <stdbool.h>

#include "daemon.h"
#include "proto-jw.h"

#define MONITOR_BACKLOG	(4u << 20)	/* unread bytes before a monitor is dropped */

struct ctl;
struct tcp;

static inline bool
monitor_on(const struct daemon *d)
{
	return d->nmonitors > 0;
}

/*
 * Starts an event about client c (may be NULL) and socket t (may be NULL)
 * and returns the writer inside its params, for the caller's own fields;
 * monitor_end() sends it.  Call only when monitor_on().
 */
struct proto_jw	*monitor_begin(struct daemon *d, const struct ctl *c, const struct tcp *t,
		    const char *event);
void		 monitor_end(struct daemon *d);

/* An event with no fields of its own. */
void		 monitor_event(struct daemon *d, const struct ctl *c, const struct tcp *t,
		    const char *event);

/* read / write: n bytes moved on t. */
void		 monitor_bytes(struct daemon *d, const struct tcp *t, const char *event, size_t n);
/* state: t went from one state to another. */
void		 monitor_state(struct daemon *d, const struct tcp *t, const char *from,
		    const char *to);

/* closed: t's connection ended (reset or not), with t->loss. */
void		 monitor_closed(struct daemon *d, const struct tcp *t, bool reset);

int		 monitor_enable(struct ctl *c, bool on);
void		 monitor_detach(struct ctl *c);

#endif
