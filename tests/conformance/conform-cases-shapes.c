/*
 * conform-cases-shapes: one tcp.write, written in different shapes of
 * JSON, gets one answer.  A daemon may take the common shape of a write
 * apart by a shortcut; whatever it does, the answer (code, id, data) and
 * the bytes that reach the peer must be those the request means, so each
 * case sends the same request in the compact shape clients write, with
 * members reordered and spaced, and with an extra (ignored) parameter,
 * and requires the same answer from all three.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conform.h"
#include "conform-client.h"
#include "conform-peer.h"
#include "proto-errors.h"

#define SHAPE_LINE_MAX	512
#define NSHAPES		3
#define NO_SOCKET	424242	/* an id nobody owns */

/* A tcp.write line in shape k: id and socket as raw JSON, data as raw bytes. */
static size_t
shape_line(int k, char *out, const char *id, long long socket, const char *data, size_t dlen)
{
	size_t n;

	if (k == 1)
		n = (size_t)snprintf(out, SHAPE_LINE_MAX, "{ \"params\" : { \"socket\" : %lld , "
				     "\"data\" : \"", socket);
	else
		n = (size_t)snprintf(out, SHAPE_LINE_MAX, "{\"jsonrpc\":\"2.0\",\"id\":%s,"
				     "\"method\":\"tcp.write\",\"params\":{\"socket\":%lld,"
				     "\"data\":\"", id, socket);
	memcpy(out + n, data, dlen);
	n += dlen;
	if (k == 1)
		n += (size_t)snprintf(out + n, SHAPE_LINE_MAX - n, "\" } , \"method\" : "
				      "\"tcp.write\" , \"id\" : %s , \"jsonrpc\" : \"2.0\" }", id);
	else
		n += (size_t)snprintf(out + n, SHAPE_LINE_MAX - n, "%s",
				      k == 0 ? "\"}}" : "\",\"unused\":0}}");
	return n;
}

/* Sends a line of len bytes (and its LF) and returns the raw answer line, or NULL. */
static char *
ask(struct cc *c, const char *line, size_t len)
{
	if (cc_send_raw(c, line, len) < 0 || cc_send_raw(c, "\n", 1) < 0)
		return NULL;
	return cc_read_line(c, CONFORM_DEADLINE_MS);
}

/*
 * Sends the write in every shape; each answer must parse and pass want(),
 * and all must be the same text.  Returns true, or fails the case.
 */
static bool
all_shapes(struct cc *c, const char *what, const char *id, long long socket, const char *data,
	   size_t dlen, bool (*want)(const cJSON *a, const char *raw, void *arg), void *arg)
{
	char line[SHAPE_LINE_MAX], *first = NULL;
	bool ok = true;

	for (int k = 0; k < NSHAPES && ok; k++) {
		size_t n = shape_line(k, line, id, socket, data, dlen);
		char *raw = ask(c, line, n);
		cJSON *a = raw ? cJSON_Parse(raw) : NULL;

		if (!a || !want(a, raw, arg))
			ok = conform_fail(__FILE__, __LINE__, "%s, shape %d:\n    sent     %.*s\n"
					  "    got      %s", what, k, (int)n, line,
					  raw ? raw : "(nothing)");
		else if (first && strcmp(first, raw) != 0)
			ok = conform_fail(__FILE__, __LINE__, "%s: shape %d answers\n    %s\n"
					  "while shape 0 answers\n    %s", what, k, raw, first);
		cJSON_Delete(a);
		if (!first)
			first = raw;
		else
			free(raw);
	}
	free(first);
	return ok;
}

/* Reads the peer's bytes up to and including "END" and compares them with want. */
static bool
peer_got(struct cc *c, long long s, int peer, const char *want)
{
	char buf[SHAPE_LINE_MAX];
	size_t n = strlen(want) + 3;
	cJSON *a = cc_call(c, "tcp.write", "{\"socket\":%lld,\"text\":\"END\"}", s);
	bool ok = j_int(a, "result.bytes") == 3;

	cJSON_Delete(a);
	if (!ok)
		return conform_fail(__FILE__, __LINE__, "the closing write failed");
	if (peer_recv_all(peer, buf, n, CONFORM_DEADLINE_MS) < 0 || memcmp(buf, want, n - 3) != 0 ||
	    memcmp(buf + n - 3, "END", 3) != 0)
		return conform_fail(__FILE__, __LINE__, "the peer got other bytes than \"%sEND\"",
				    want);
	return true;
}

struct parse_want {
	const char	*reason;	/* data.reason of the -32700 */
};

static bool
want_parse_error(const cJSON *a, const char *raw, void *arg)
{
	const struct parse_want *w = arg;

	(void)raw;
	return err_code(a) == PROTO_E_PARSE && cJSON_IsNull(j_get(a, "id")) &&
	       j_is(a, "error.data.reason", w->reason);
}

/*
 * Bytes that cannot be in a JSON string (invalid UTF-8, raw control
 * characters) make the line a parse error, -32700 with id null, whatever
 * the shape; bytes that may be in a string but not in base64 are -32602.
 */
static void
case_write_bytes_not_json(void)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
		const char	*reason;
	} bad[] = {
		{ "\xff", 1, "utf8" }, { "\xc0\xaf", 2, "utf8" }, { "\xed\xa0\x80", 3, "utf8" },
		{ "\t", 1, "json" }, { "\0", 1, "json" }, { "\x1f", 1, "json" },
	};
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer);
	char data[32];

	CHECK(s > 0, "setup");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct parse_want w = { bad[i].reason };
		char what[64];

		memcpy(data, "QUJD", 4);
		memcpy(data + 4, bad[i].bytes, bad[i].len);
		memcpy(data + 4 + bad[i].len, "QUJD", 4);
		snprintf(what, sizeof(what), "byte 0x%02x in data", (unsigned char)bad[i].bytes[0]);
		if (!all_shapes(c, what, "\"bytes\"", s, data, bad[i].len + 8, want_parse_error, &w))
			break;
	}
	if (!FAILED())
		peer_got(c, s, peer, "");
	close(peer);
	cc_close(c);
}

struct id_want {
	const char	*id;	/* the raw id the answer must carry */
	bool		 ok;	/* a result, else any error */
};

static bool
want_id(const cJSON *a, const char *raw, void *arg)
{
	const struct id_want *w = arg;
	char needle[64];

	snprintf(needle, sizeof(needle), "\"id\":%s,", w->id);
	return strstr(raw, needle) != NULL && (w->ok ? j_get(a, "result") : j_get(a, "error"));
}

/*
 * A request naming its id twice is answered with the first (doc/PROTOCOL.md:
 * the first of duplicate members counts), in every shape.
 */
static void
case_write_duplicate_id(void)
{
	static const char *const ids[][2] = {
		{ "\"first\"", "\"second\"" }, { "1", "2" }, { "\"s\"", "7" }, { "7", "\"s\"" },
	};
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer);
	char id[64], want[64] = "";

	CHECK(s > 0, "setup");
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct id_want w = { ids[i][0], true };

		snprintf(id, sizeof(id), "%s,\"id\":%s", ids[i][0], ids[i][1]);
		if (!all_shapes(c, "a duplicate id", id, s, "QUJD", 4, want_id, &w))
			break;
		strcat(want, "ABCABCABC");
	}
	/* An unknown socket: the error echoes the first id as well. */
	if (!FAILED()) {
		struct id_want w = { "\"first\"", false };

		all_shapes(c, "a duplicate id, no such socket", "\"first\",\"id\":\"second\"",
			   NO_SOCKET, "QUJD", 4, want_id, &w);
	}
	if (!FAILED())
		peer_got(c, s, peer, want);
	close(peer);
	cc_close(c);
}

static bool
want_base64(const cJSON *a, const char *raw, void *arg)
{
	(void)raw;
	return err_code(a) == PROTO_E_INVALID_PARAMS && j_is(a, "error.data.param", "data") &&
	       j_is(a, "error.data.reason", "base64") &&
	       j_int(a, "error.data.socket") == *(long long *)arg;
}

static bool
want_no_socket(const cJSON *a, const char *raw, void *arg)
{
	(void)raw;
	return err_code(a) == PROTO_E_NO_SOCKET && j_int(a, "error.data.socket") == *(long long *)arg;
}

/*
 * Invalid base64 is -32602 with data.param "data", reason "base64" and
 * data.socket naming the socket (doc/PROTOCOL.md 6: data holds socket
 * whenever one is involved), in every shape; parameters are checked
 * before the socket is looked up, so an unknown socket with bad base64 is
 * -32602 too, naming the id asked.
 */
static void
case_write_base64_error(void)
{
	static const char *const bad[] = {
		"QUJ", "A===", "AB==", "QUJD=", "QU=D", "QUJD QUJD", "QUJD\xc3\xa9QUJD",
	};
	struct cc *c = cc_open();
	int peer;
	long long s = cc_pair(c, &peer), none = NO_SOCKET;

	CHECK(s > 0, "setup");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "data \"%s\"", bad[i]);
		if (!all_shapes(c, what, "\"b64\"", s, bad[i], strlen(bad[i]), want_base64, &s) ||
		    !all_shapes(c, what, "\"b64\"", NO_SOCKET, bad[i], strlen(bad[i]), want_base64,
				&none))
			break;
	}
	if (!FAILED())
		all_shapes(c, "valid data, no such socket", "\"b64\"", NO_SOCKET, "QUJD", 4,
			   want_no_socket, &none);
	/* Escapes are JSON: "Q\u0055JD" is "QUJD". */
	if (!FAILED()) {
		struct id_want w = { "\"esc\"", true };

		all_shapes(c, "data with an escape", "\"esc\"", s, "Q\\u0055JD", 9, want_id, &w);
	}
	if (!FAILED())
		peer_got(c, s, peer, "ABCABCABC");
	close(peer);
	cc_close(c);
}

const struct conform_case conform_cases_shapes[] = {
	{ "tcp-write-bytes-not-json", case_write_bytes_not_json, false },
	{ "tcp-write-duplicate-id", case_write_duplicate_id, false },
	{ "tcp-write-base64-error", case_write_base64_error, false },
	{ NULL, NULL, false },
};
