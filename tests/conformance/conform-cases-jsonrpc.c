/*
 * conform-cases-jsonrpc: framing and JSON-RPC 2.0.  Most of it is the
 * data file jsonrpc.exchanges (lines sent, answers expected; the format is
 * described at its top), run here; the size limit and partial lines need
 * code.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform.h"
#include "conform-client.h"
#include "proto-errors.h"

#define EXCHANGES_FILE	"jsonrpc.exchanges"
#define LINE_MAX_DATA	4096	/* longest line of a data file */

/* Decodes \xHH escapes of a "> " line into out.  Returns the length. */
static size_t
unescape(const char *in, char *out)
{
	size_t n = 0;

	while (*in) {
		if (in[0] == '\\' && in[1] == 'x' && isxdigit((unsigned char)in[2]) &&
		    isxdigit((unsigned char)in[3])) {
			char hex[3] = { in[2], in[3], '\0' };

			out[n++] = (char)strtol(hex, NULL, 16);
			in += 4;
		} else
			out[n++] = *in++;
	}
	return n;
}

/* Array answers match as multisets: every wanted element matches a distinct one. */
static bool
match(const cJSON *want, const cJSON *got)
{
	bool used[256] = { false };
	const cJSON *w, *g;

	if (!cJSON_IsArray(want) || !cJSON_IsArray(got))
		return j_subset(want, got);
	if (cJSON_GetArraySize(want) != cJSON_GetArraySize(got) || cJSON_GetArraySize(got) > 256)
		return false;
	cJSON_ArrayForEach(w, want) {
		int i = 0;
		bool found = false;

		cJSON_ArrayForEach(g, got) {
			if (!used[i] && j_subset(w, g)) {
				used[i] = found = true;
				break;
			}
			i++;
		}
		if (!found)
			return false;
	}
	return true;
}

/* Checks the next answer against one "<" or "<=" line.  Returns true or fails. */
static bool
expect(struct cc *c, const char *spec, const char *sent, int lineno)
{
	char *line = cc_read_line(c, CONFORM_DEADLINE_MS);
	bool ok;

	if (!line)
		return conform_fail(EXCHANGES_FILE, lineno, "no answer to %s", sent);
	if (spec[1] == '=') {
		ok = strstr(line, spec + 3) != NULL;
	} else {
		cJSON *want = cJSON_Parse(spec + 2), *got = cJSON_Parse(line);

		if (!want) {
			free(line);
			return conform_fail(EXCHANGES_FILE, lineno, "bad expectation");
		}
		ok = match(want, got);
		cJSON_Delete(want);
		cJSON_Delete(got);
	}
	if (!ok)
		conform_fail(EXCHANGES_FILE, lineno, "\n    sent     %s\n    expected %s\n    got      %s",
			     sent, spec + 2, line);
	free(line);
	return ok;
}

/* Ends an exchange: a marker request must be the very next answer. */
static bool
marker(struct cc *c, int n, const char *sent, int lineno)
{
	char m[128], want[64], *line;
	bool ok;

	snprintf(m, sizeof(m), "{\"jsonrpc\":\"2.0\",\"id\":\"marker-%d\",\"method\":\"tcp.list\"}",
		 n);
	snprintf(want, sizeof(want), "\"id\":\"marker-%d\"", n);
	if (cc_send_line(c, m) < 0)
		return conform_fail(EXCHANGES_FILE, lineno, "send failed");
	line = cc_read_line(c, CONFORM_DEADLINE_MS);
	ok = line && strstr(line, want) && strstr(line, "\"result\"");
	if (!ok)
		conform_fail(EXCHANGES_FILE, lineno, "after %s only the marker's answer was "
			     "expected, got %s", sent, line ? line : "(nothing)");
	free(line);
	return ok;
}

static void
case_exchanges(void)
{
	char path[1024], buf[LINE_MAX_DATA], raw[LINE_MAX_DATA], sent[LINE_MAX_DATA] = "";
	int lineno = 0, n = 0, start = 0;
	bool open_ex = false;
	struct cc *c;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", C->datadir, EXCHANGES_FILE);
	f = fopen(path, "r");
	CHECK(f, "cannot open %s (use --data DIR)", path);
	c = cc_open();
	CHECK(c, "cannot connect to %s", C->socket_path);
	for (;;) {
		bool eof = !fgets(buf, sizeof(buf), f);
		size_t len = eof ? 0 : strlen(buf);

		lineno++;
		if (len && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if ((eof || len == 0 || buf[0] == '#') && open_ex) {
			open_ex = false;
			n++;
			if (!marker(c, n, sent, start))
				break;
		}
		if (eof)
			break;
		if (buf[0] == '>') {
			const char *body = buf[1] == ' ' ? buf + 2 : buf + 1;
			size_t k = unescape(body, raw);

			if (!open_ex) {
				open_ex = true;
				start = lineno;
				snprintf(sent, sizeof(sent), "%s", body);
			}
			raw[k++] = '\n';
			if (C->verbose)
				conform_log("> %s", body);
			if (cc_send_raw(c, raw, k) < 0) {
				conform_fail(EXCHANGES_FILE, lineno, "send failed");
				break;
			}
		} else if (buf[0] == '<' && strcmp(buf, "< -") != 0) {
			if (!expect(c, buf, sent, lineno))
				break;
		}
	}
	fclose(f);
	cc_close(c);
	CHECK(n >= 50, "only %d exchanges ran", n);
}

/*
 * A line one byte over max-message-bytes: -32600 too-large with id null,
 * and the connection stays usable; a line of exactly the limit is served.
 */
static void
case_too_large(void)
{
	long long max = C->limits.max_message_bytes;
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tcp.list\"}";
	struct cc *c = cc_open();
	size_t n;
	char *big;
	cJSON *a;

	CHECK(c, "cannot connect");
	CHECK(max > 64 && max <= (64 << 20), "odd maxMessageBytes %lld", max);
	n = (size_t)max + 1;
	big = malloc(n + 1);
	CHECK(big, "out of memory");
	memset(big, ' ', n);
	memcpy(big, req, sizeof(req) - 1);
	big[n] = '\n';
	CHECK(cc_send_raw(c, big, n + 1) == 0, "send failed");
	/* Exactly the limit. */
	big[n - 1] = '\n';
	big[22] = '2';
	CHECK(cc_send_raw(c, big, n) == 0, "send failed");
	free(big);
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(err_code(a) == PROTO_E_INVALID_REQUEST && cJSON_IsNull(j_get(a, "id")) &&
	      j_is(a, "error.data.reason", "too-large"),
	      "a line of %zu bytes: expected -32600 too-large with id null, got %s", n, j_text(a));
	CHECK(j_is(a, "error.data.limit", "maxMessageBytes") && j_int(a, "error.data.value") == max,
	      "too-large without data.limit maxMessageBytes / data.value %lld: %s", max, j_text(a));
	cJSON_Delete(a);
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(j_int(a, "id") == 2 && j_get(a, "result"),
	      "a line of exactly max-message-bytes is not served: %s", j_text(a));
	cJSON_Delete(a);
	CHECK(cc_sync(c, CONFORM_DEADLINE_MS) == 0, "the connection is unusable after too-large");
	cc_close(c);
}

/* A request split across many writes, byte by byte, is one request. */
static void
case_split_line(void)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":\"split\",\"method\":\"tcp.list\"}\n"
				  "{\"jsonrpc\":\"2.0\",\"id\":\"two\",\"method\":\"tcp.list\"}\n";
	struct cc *c = cc_open();
	cJSON *a;

	CHECK(c, "cannot connect");
	for (size_t i = 0; i < sizeof(req) - 1; i++)
		CHECK(cc_send_raw(c, req + i, 1) == 0, "send failed");
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(j_is(a, "id", "split") && j_get(a, "result"), "byte-by-byte request: %s", j_text(a));
	cJSON_Delete(a);
	a = cc_read(c, CONFORM_DEADLINE_MS);
	CHECK(j_is(a, "id", "two") && j_get(a, "result"), "second request: %s", j_text(a));
	cJSON_Delete(a);
	cc_close(c);
}

const struct conform_case conform_cases_jsonrpc[] = {
	{ "jsonrpc-exchanges", case_exchanges, false },
	{ "framing-too-large", case_too_large, false },
	{ "framing-split-line", case_split_line, false },
	{ NULL, NULL, false },
};
