/*
 * conform-client: raw control connections; see conform-client.h.
 *
 * Answers are matched by id while notifications are kept in arrival order.
 * With --verbose every line sent and received is logged (shortened), so a
 * failure report carries the exchange that shows it.  Every line received
 * is held to strict JSON (tests/common/json-strict.c, not the daemon's own
 * checker): a line that is not fails the running case, whatever it does
 * with the line afterwards.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conform.h"
#include "conform-client.h"
#include "conform-peer.h"
#include "json-strict.h"
#include "proto-reader.h"

#define CC_MAX_LINE	(64u << 20)	/* longest line we accept from the daemon */
#define CC_READ_CHUNK	(1u << 20)	/* bytes per recv */
#define CC_MAX_NOTES	200000		/* notifications kept before dropping */
#define CC_LAST_MAX	400		/* bytes of the last line kept for reports */

struct cc {
	int			 fd;		/* control connection */
	int			 num;		/* connections opened before, plus one */
	struct proto_reader	*r;		/* framing of what we receive */
	long long		 next_id;	/* ids of cc_request: 1, 2, ... */
	cJSON			*notes;		/* notifications not yet taken */
	cJSON			*answers;	/* answers not yet taken */
	char			 last[CC_LAST_MAX + 1];	/* last line read, shortened */
};

/* Connects to the daemon's socket.  Returns NULL on failure. */
struct cc *
cc_open(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct cc *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", C->socket_path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return NULL;
	}
	static int opened;

	c->num = ++opened;
	c->r = proto_reader_new(CC_MAX_LINE);
	c->notes = cJSON_CreateArray();
	c->answers = cJSON_CreateArray();
	c->next_id = 1;
	return c;
}

/* Closes the connection (the daemon sees the client vanish).  NULL is fine. */
void
cc_close(struct cc *c)
{
	if (!c)
		return;
	close(c->fd);
	proto_reader_free(c->r);
	cJSON_Delete(c->notes);
	cJSON_Delete(c->answers);
	free(c);
}

int
cc_fd(struct cc *c)
{
	return c->fd;
}

/* The last line read (shortened), for failure messages. */
const char *
cc_last_line(struct cc *c)
{
	return c->last[0] ? c->last : "(nothing)";
}

static void
trace(const char *dir, const char *p, size_t len)
{
	if (C->verbose)
		conform_log("%s %.*s%s", dir, (int)(len > 300 ? 300 : len), p,
			    len > 300 ? "..." : "");
}

/* Writes all of data, waiting (bounded) while the socket is full.  Returns 0 or -errno. */
int
cc_send_raw(struct cc *c, const void *data, size_t len)
{
	long long end = conform_now_ms() + CONFORM_DEADLINE_MS;
	const char *p = data;

	conform_record(c->num, 'o', data, len);
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = c->fd, .events = POLLOUT };
			int left = (int)(end - conform_now_ms());

			if (left <= 0 || poll(&pf, 1, left) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends line and an LF.  Returns 0 or -errno. */
int
cc_send_line(struct cc *c, const char *line)
{
	size_t len = strlen(line);
	int r;

	trace(">", line, len);
	r = cc_send_raw(c, line, len);
	return r < 0 ? r : cc_send_raw(c, "\n", 1);
}

static long long vrequest(struct cc *c, const char *method, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static long long
vrequest(struct cc *c, const char *method, const char *fmt, va_list ap)
{
	char *params = NULL, *line;
	long long id = c->next_id++;
	int r;

	if (!fmt)
		params = strdup("{}");
	else if (vasprintf(&params, fmt, ap) < 0)
		params = NULL;
	if (!params)
		return -1;
	r = asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"%s\",\"params\":%s}",
		     id, method, params);
	free(params);
	if (r < 0)
		return -1;
	r = cc_send_line(c, line);
	free(line);
	return r < 0 ? -1 : id;
}

/* Sends a request; params_fmt is printf-style JSON (NULL: {}).  Returns its id or -1. */
long long
cc_request(struct cc *c, const char *method, const char *params_fmt, ...)
{
	va_list ap;
	long long id;

	va_start(ap, params_fmt);
	id = vrequest(c, method, params_fmt, ap);
	va_end(ap);
	return id;
}

/* The next raw line (owned by the caller), or NULL at timeout or EOF. */
char *
cc_read_line(struct cc *c, int timeout_ms)
{
	long long end = conform_now_ms() + timeout_ms;

	for (;;) {
		char *line;
		size_t len;
		int k = proto_reader_next(c->r, &line, &len);

		if (k == PROTO_READER_LINE) {
			snprintf(c->last, sizeof(c->last), "%.*s", (int)len, line);
			trace("<", line, len);
			conform_record(c->num, 'i', line, len);
			if (!json_strict_valid(line, len))
				conform_fail(__FILE__, __LINE__, "the daemon sent a line that is "
					     "not JSON (RFC 8259): %s", c->last);
			return strndup(line, len);
		}
		if (k == PROTO_READER_TOO_LONG) {
			snprintf(c->last, sizeof(c->last), "(a line over %u bytes)", CC_MAX_LINE);
			continue;
		}
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int left = (int)(end - conform_now_ms());
		void *space;
		size_t room;
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return NULL;
		if (proto_reader_space(c->r, CC_READ_CHUNK, &space, &room) < 0)
			return NULL;
		n = recv(c->fd, space, room, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return NULL;
		proto_reader_commit(c->r, (size_t)n);
	}
}

/* The next message, parsed (a line that is not JSON becomes a string), or NULL. */
cJSON *
cc_read(struct cc *c, int timeout_ms)
{
	char *line = cc_read_line(c, timeout_ms);
	cJSON *j;

	if (!line)
		return NULL;
	j = cJSON_Parse(line);
	if (!j)
		j = cJSON_CreateString(line);
	free(line);
	return j;
}

static bool
id_is(const cJSON *m, long long id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "id");

	return cJSON_IsNumber(v) && v->valuedouble == (double)id;
}

/* Files a message that is not the one waited for. */
static void
keep(struct cc *c, cJSON *m)
{
	bool note = cJSON_IsObject(m) && !cJSON_GetObjectItemCaseSensitive(m, "id");

	if (note && cJSON_GetArraySize(c->notes) >= CC_MAX_NOTES)
		cJSON_Delete(m);
	else
		cJSON_AddItemToArray(note ? c->notes : c->answers, m);
}

static cJSON *
take_answer(struct cc *c, long long id)
{
	cJSON *m;
	int i = 0;

	cJSON_ArrayForEach(m, c->answers) {
		if (id_is(m, id))
			return cJSON_DetachItemFromArray(c->answers, i);
		i++;
	}
	return NULL;
}

/* Whether the answer to id has been read (and not taken) already. */
bool
cc_has_answer(struct cc *c, long long id)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, c->answers)
		if (id_is(m, id))
			return true;
	return false;
}

/* The answer to request id (owned by the caller), or NULL at the deadline. */
cJSON *
cc_wait(struct cc *c, long long id, int timeout_ms)
{
	long long end = conform_now_ms() + timeout_ms;
	cJSON *m = take_answer(c, id);

	while (!m) {
		int left = (int)(end - conform_now_ms());

		if (left <= 0 || !(m = cc_read(c, left)))
			return NULL;
		if (!id_is(m, id)) {
			keep(c, m);
			m = NULL;
		}
	}
	return m;
}

/* Sends a request and waits (CONFORM_DEADLINE_MS) for its answer. */
cJSON *
cc_call(struct cc *c, const char *method, const char *params_fmt, ...)
{
	va_list ap;
	long long id;

	va_start(ap, params_fmt);
	id = vrequest(c, method, params_fmt, ap);
	va_end(ap);
	return id < 0 ? NULL : cc_wait(c, id, CONFORM_DEADLINE_MS);
}

/*
 * A round trip with tcp.list: once it is answered, every request sent
 * before it that answers at once has been answered.  Returns 0 or -1.
 */
int
cc_sync(struct cc *c, int timeout_ms)
{
	long long id = cc_request(c, "tcp.list", NULL);
	cJSON *a = id > 0 ? cc_wait(c, id, timeout_ms) : NULL;
	int r = a && j_get(a, "result") ? 0 : -1;

	cJSON_Delete(a);
	return r;
}

/* The next notification named method (others stay queued), or NULL. */
cJSON *
cc_note(struct cc *c, const char *method, int timeout_ms)
{
	long long end = conform_now_ms() + timeout_ms;
	cJSON *m;
	int i = 0;

	cJSON_ArrayForEach(m, c->notes) {
		if (j_is(m, "method", method))
			return cJSON_DetachItemFromArray(c->notes, i);
		i++;
	}
	for (;;) {
		int left = (int)(end - conform_now_ms());

		if (left <= 0 || !(m = cc_read(c, left)))
			return NULL;
		if (cJSON_IsObject(m) && j_is(m, "method", method) &&
		    !cJSON_GetObjectItemCaseSensitive(m, "id"))
			return m;
		keep(c, m);
	}
}

/* tcp.create with no params.  Returns the id or -1. */
long long
cc_create(struct cc *c)
{
	cJSON *a = cc_call(c, "tcp.create", NULL);
	long long s = j_int(a, "result.socket");

	cJSON_Delete(a);
	return s > 0 ? s : -1;
}

/*
 * A daemon socket connected (tcp.connect without socket, noDelay) to a
 * loopback peer of ours.  Returns its id and the peer's fd, or -1.
 */
long long
cc_pair(struct cc *c, int *ret_peer)
{
	int port, lfd = peer_listen(AF_INET, 4, &port);
	long long id, s = -1;
	cJSON *a;

	*ret_peer = -1;
	if (lfd < 0)
		return -1;
	id = cc_request(c, "tcp.connect", "{\"port\":%d,\"noDelay\":true}", port);
	*ret_peer = peer_accept(lfd, CONFORM_DEADLINE_MS);
	a = cc_wait(c, id, CONFORM_DEADLINE_MS);
	if (a && *ret_peer >= 0 && j_is(a, "result.state", "connected"))
		s = j_int(a, "result.socket");
	cJSON_Delete(a);
	close(lfd);
	return s;
}
