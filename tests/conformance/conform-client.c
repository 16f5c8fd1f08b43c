/*
 * conform-client: a raw control-connection client.  Lines are framed with
 * the shared proto_reader; answers are matched by id while notifications
 * are kept in arrival order for the cases to inspect.
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
#include "proto-reader.h"

#define CC_MAX_LINE	(64u << 20)
#define CC_MAX_NOTES	100000

struct cc {
	int			 fd;
	struct proto_reader	*r;
	long long		 next_id;
	cJSON			*notes;		/* array of notifications not yet taken */
	cJSON			*answers;	/* array of answers not yet taken */
};

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
	c->r = proto_reader_new(CC_MAX_LINE);
	c->notes = cJSON_CreateArray();
	c->answers = cJSON_CreateArray();
	c->next_id = 1;
	return c;
}

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

/* Writes all of data, waiting (bounded) when the socket is full. */
int
cc_send_raw(struct cc *c, const char *data, size_t len)
{
	long long end = conform_now_ms() + CONFORM_DEADLINE_MS;

	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };
			int left = (int)(end - conform_now_ms());

			if (left <= 0 || poll(&p, 1, left) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int
cc_send_line(struct cc *c, const char *line)
{
	int r = cc_send_raw(c, line, strlen(line));

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

/* Sends a request; params_fmt is printf-style JSON (NULL: {}).  Returns its id. */
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

		if (k == PROTO_READER_LINE)
			return strndup(line, len);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int left = (int)(end - conform_now_ms());
		void *space;
		size_t room;
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return NULL;
		if (proto_reader_space(c->r, 1 << 20, &space, &room) < 0)
			return NULL;
		n = recv(c->fd, space, room, 0);
		if (n <= 0)
			return NULL;
		proto_reader_commit(c->r, (size_t)n);
	}
}

/* The next message, parsed, or NULL. */
cJSON *
cc_read(struct cc *c, int timeout_ms)
{
	char *line = cc_read_line(c, timeout_ms);
	cJSON *j;

	if (!line)
		return NULL;
	j = cJSON_Parse(line);
	free(line);
	return j;
}

static bool
id_is(const cJSON *m, long long id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "id");

	return cJSON_IsNumber(v) && (long long)v->valuedouble == id;
}

/* The answer to request id (owned by the caller), keeping notifications. */
cJSON *
cc_wait(struct cc *c, long long id, int timeout_ms)
{
	long long end = conform_now_ms() + timeout_ms;
	cJSON *m;
	int i = 0;

	cJSON_ArrayForEach(m, c->answers) {
		if (id_is(m, id))
			return cJSON_DetachItemFromArray(c->answers, i);
		i++;
	}
	for (;;) {
		int left = (int)(end - conform_now_ms());

		if (left <= 0 || !(m = cc_read(c, left)))
			return NULL;
		if (id_is(m, id))
			return m;
		if (cJSON_GetObjectItemCaseSensitive(m, "id") || cJSON_IsArray(m))
			cJSON_AddItemToArray(c->answers, m);
		else if (cJSON_GetArraySize(c->notes) < CC_MAX_NOTES)
			cJSON_AddItemToArray(c->notes, m);
		else
			cJSON_Delete(m);
	}
}

/* Sends a request and waits for its answer. */
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

/* The next notification named method (others stay queued), or NULL. */
cJSON *
cc_note(struct cc *c, const char *method, int timeout_ms)
{
	long long end = conform_now_ms() + timeout_ms;
	cJSON *m;
	int i = 0;

	cJSON_ArrayForEach(m, c->notes) {
		const char *name = j_str(m, "method");

		if (name && strcmp(name, method) == 0)
			return cJSON_DetachItemFromArray(c->notes, i);
		i++;
	}
	for (;;) {
		int left = (int)(end - conform_now_ms());
		const char *name;

		if (left <= 0 || !(m = cc_read(c, left)))
			return NULL;
		name = j_str(m, "method");
		if (name && strcmp(name, method) == 0 && !cJSON_GetObjectItemCaseSensitive(m, "id"))
			return m;
		if (cJSON_GetObjectItemCaseSensitive(m, "id") || cJSON_IsArray(m))
			cJSON_AddItemToArray(c->answers, m);
		else
			cJSON_AddItemToArray(c->notes, m);
	}
}

void
cc_drop_notes(struct cc *c)
{
	cJSON_Delete(c->notes);
	c->notes = cJSON_CreateArray();
}

/* Looks up a dotted path ("error.data.state") in o. */
cJSON *
j_get(const cJSON *o, const char *path)
{
	char key[64];

	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		o = cJSON_GetObjectItemCaseSensitive(o, key);
		path += n + (dot ? 1 : 0);
	}
	return (cJSON *)o;
}

long long
j_int(const cJSON *o, const char *path)
{
	const cJSON *v = j_get(o, path);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : -999999;
}

const char *
j_str(const cJSON *o, const char *path)
{
	const cJSON *v = j_get(o, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool
j_true(const cJSON *o, const char *path)
{
	return cJSON_IsTrue(j_get(o, path));
}

/* The error code of an answer, or 0 for a result. */
long long
err_code(const cJSON *answer)
{
	return j_get(answer, "error") ? j_int(answer, "error.code") : 0;
}

/* True when the string at path in o is want. */
bool
j_is(const cJSON *o, const char *path, const char *want)
{
	const char *s = j_str(o, path);

	return s && strcmp(s, want) == 0;
}

/*
 * A daemon socket connected (with noDelay) to a loopback peer of ours.
 * Returns its id and the peer's fd, or -1.
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
