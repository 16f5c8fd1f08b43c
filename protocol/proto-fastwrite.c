/*
 * proto-fastwrite: the tcp.write fast path's parser; see proto-fastwrite.h.
 *
 * A walk over the two objects of the usual shape that gives up ("not
 * mine") at the first thing outside it.  Strings are found by their
 * closing quote alone: the words compared (member names, "2.0",
 * "tcp.write") and the id's bytes hold no backslash, and the data holds
 * none once it decodes, so on every line taken that quote was the string's
 * end.  The data's bytes are looked at once, by the base64 decoder.
 */
#include "config.h"

#include <string.h>

#include "proto-base64.h"
#include "proto-fastwrite.h"

#define FW_MIN_LINE	64			/* no shorter line has the shape */
#define FW_UINT_DIGITS	18			/* digits of an integer at most */
#define FW_SOCKET_MAX	9007199254740991LL	/* 2^53 - 1, as the general path */

enum {
	FW_JSONRPC	= 1 << 0,
	FW_METHOD	= 1 << 1,
	FW_ID		= 1 << 2,
	FW_PARAMS	= 1 << 3,
	FW_SOCKET	= 1 << 4,
	FW_DATA		= 1 << 5,
};

static const char *
ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* The string at p, as far as its next quote: contents [*s, *e).  Past it, or NULL. */
static const char *
str(const char *p, const char *end, const char **s, const char **e)
{
	const char *q;

	if (p >= end || *p != '"')
		return NULL;
	q = memchr(p + 1, '"', (size_t)(end - p - 1));
	if (!q)
		return NULL;
	*s = p + 1;
	*e = q;
	return q + 1;
}

static bool
is(const char *s, const char *e, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(e - s) == n && memcmp(s, word, n) == 0;
}

/* A string whose contents are exactly word.  Past it, or NULL. */
static const char *
word(const char *p, const char *end, const char *w)
{
	const char *s, *e;

	p = str(p, end, &s, &e);
	return p && is(s, e, w) ? p : NULL;
}

/* An object member's name and colon: which of names[] it is (a FW_* bit), 0 for none. */
static unsigned
member_name(const char **pp, const char *end, const char *const names[], const unsigned bits[],
	    size_t n)
{
	const char *p, *s, *e;

	if (!(p = str(ws(*pp, end), end, &s, &e)))
		return 0;
	p = ws(p, end);
	if (p >= end || *p != ':')
		return 0;
	*pp = ws(p + 1, end);
	for (size_t i = 0; i < n; i++)
		if (is(s, e, names[i]))
			return bits[i];
	return 0;
}

/* After a member: 1 for another (","), 0 at the object's end ("}"), -1 otherwise. */
static int
after_member(const char **pp, const char *end)
{
	const char *p = ws(*pp, end);

	if (p < end && (*p == ',' || *p == '}')) {
		*pp = p + 1;
		return *p == ',';
	}
	return -1;
}

/* A JSON integer >= 0 of at most FW_UINT_DIGITS digits.  Past it, or NULL. */
static const char *
uint_token(const char *p, const char *end, int64_t *v)
{
	const char *start = p;

	*v = 0;
	while (p < end && *p >= '0' && *p <= '9' && p - start < FW_UINT_DIGITS)
		*v = *v * 10 + (*p++ - '0');
	if (p == start || (p - start > 1 && *start == '0'))
		return NULL;	/* none, or a leading zero (not JSON) */
	if (p < end && *p >= '0' && *p <= '9')
		return NULL;	/* too long */
	return p;
}

/* The id at p: an integer, or a string of printable ASCII without escapes. */
static const char *
id(const char *p, const char *end)
{
	const char *s, *e;
	int64_t v;

	if (p < end && *p != '"')
		return uint_token(p, end, &v);
	if (!(p = str(p, end, &s, &e)))
		return NULL;
	for (; s < e; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x80 || *s == '\\')
			return NULL;
	return p;
}

/* The params object at p: "socket" and "data", once each.  Past it, or NULL. */
static const char *
params(const char *p, const char *end, struct proto_fastwrite *fw)
{
	static const char *const names[] = { "socket", "data" };
	static const unsigned bits[] = { FW_SOCKET, FW_DATA };
	const char *s, *e;
	unsigned seen = 0, m;
	int more;

	if (p >= end || *p++ != '{')
		return NULL;
	do {
		m = member_name(&p, end, names, bits, 2);
		if (!m || (seen & m))
			return NULL;
		seen |= m;
		if (m == FW_SOCKET) {
			if (!(p = uint_token(p, end, &fw->socket)) || fw->socket < 1 ||
			    fw->socket > FW_SOCKET_MAX)
				return NULL;
		} else {
			if (!(p = str(p, end, &s, &e)))
				return NULL;
			fw->data = s;
			fw->data_len = (size_t)(e - s);
		}
		if ((more = after_member(&p, end)) < 0)
			return NULL;
	} while (more);
	return seen == (FW_SOCKET | FW_DATA) ? p : NULL;
}

/*
 * Takes the len bytes at line apart if they are a tcp.write of the usual
 * shape (proto-fastwrite.h), filling *ret with spans into line.  Returns
 * true, or false ("not mine"; *ret is then undefined).  The line is the
 * fast path's only if proto_fastwrite_decode() succeeds too.
 */
bool
proto_fastwrite_parse(const char *line, size_t len, struct proto_fastwrite *ret)
{
	static const char *const names[] = { "jsonrpc", "method", "id", "params" };
	static const unsigned bits[] = { FW_JSONRPC, FW_METHOD, FW_ID, FW_PARAMS };
	const char *p = line, *end = line + len;
	unsigned seen = 0, m;
	int more;

	*ret = (struct proto_fastwrite){ 0 };
	if (len < FW_MIN_LINE || (p = ws(p, end)) >= end || *p++ != '{')
		return false;
	do {
		m = member_name(&p, end, names, bits, 4);
		if (!m || (seen & m))
			return false;	/* another member, or one named twice */
		seen |= m;
		switch (m) {
		case FW_JSONRPC:
			p = word(p, end, "2.0");
			break;
		case FW_METHOD:
			p = word(p, end, "tcp.write");
			break;
		case FW_ID:
			ret->id = p;
			if ((p = id(p, end)))
				ret->id_len = (size_t)(p - ret->id);
			break;
		default:
			p = params(p, end, ret);
			break;
		}
		if (!p || (more = after_member(&p, end)) < 0)
			return false;
	} while (more);
	return ws(p, end) == end && (seen | FW_ID) == (FW_JSONRPC | FW_METHOD | FW_ID | FW_PARAMS);
}

/* Bytes that proto_fastwrite_decode() may write for fw. */
size_t
proto_fastwrite_decoded_max(const struct proto_fastwrite *fw)
{
	return proto_base64_decoded_max(fw->data_len);
}

/*
 * Decodes fw's data into out (proto_fastwrite_decoded_max() bytes).
 * Returns the number of bytes, or -EINVAL when the data is not canonical
 * base64: the line is then not the fast path's.
 */
ssize_t
proto_fastwrite_decode(const struct proto_fastwrite *fw, void *out)
{
	return proto_base64_decode(out, fw->data, fw->data_len);
}
