/*
 * proto-json: a strict, single-pass JSON checker; see proto-json.h.
 *
 * A loop over values with the open containers kept as bits (1 for an
 * object) of one 64-bit word, so that nesting needs neither recursion
 * nor memory.  Strings are skipped a run of ordinary bytes at a time.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proto-json.h"

_Static_assert(PROTO_JSON_MAX_DEPTH <= 64, "open containers are the bits of a uint64_t");

struct scan {
	const unsigned char	*p;	/* the next byte to look at */
	const unsigned char	*end;
	bool			 nul;	/* a string held \u0000 */
};

/* Bytes that stand for themselves in a string: not a control, '"' or '\'. */
static inline bool
plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* The four hex digits at p as a number, or -1. */
static int
hex4(const unsigned char *p, const unsigned char *end)
{
	int v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v = v << 4 | ((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	return v;
}

/* One escape after its backslash, at p.  Past it, or NULL. */
static const unsigned char *
escape(struct scan *s, const unsigned char *p)
{
	int u;

	if (p >= s->end)
		return NULL;
	if (*p != 'u')
		return memchr("\"\\/bfnrt", *p, 8) ? p + 1 : NULL;
	if ((u = hex4(p + 1, s->end)) < 0)
		return NULL;
	p += 5;
	if (u == 0)
		s->nul = true;
	if (u >= 0xdc00 && u <= 0xdfff)
		return NULL;	/* a low half first: no character */
	if (u >= 0xd800 && u <= 0xdbff) {
		if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
		    (u = hex4(p + 2, s->end)) < 0xdc00 || u > 0xdfff)
			return NULL;	/* a high half alone */
		p += 6;
	}
	return p;
}

/* The string at s->p (its opening quote).  Returns 0, or -1 when it is not one. */
static int
string(struct scan *s)
{
	const unsigned char *p = s->p + 1;

	for (;;) {
		while (p < s->end && plain(*p))
			p++;
		if (p >= s->end || *p < 0x20)
			return -1;
		if (*p == '"')
			break;
		if (!(p = escape(s, p + 1)))
			return -1;
	}
	s->p = p + 1;
	return 0;
}

static const unsigned char *
digits(const unsigned char *p, const unsigned char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* The number at s->p: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?  Returns 0 or -1. */
static int
number(struct scan *s)
{
	const unsigned char *p = s->p, *end = s->end, *q;

	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		p = digits(p, end);
	else
		return -1;
	if (p < end && *p == '.') {
		if ((q = digits(p + 1, end)) == p + 1)
			return -1;
		p = q;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if ((q = digits(p, end)) == p)
			return -1;
		p = q;
	}
	if (p - s->p > PROTO_JSON_NUMBER_MAX)
		return -1;
	s->p = p;
	return 0;
}

static int
literal(struct scan *s, const char *word, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

/* A scalar (string, number, literal) at s->p.  Returns 0 or -1. */
static int
scalar(struct scan *s)
{
	switch (*s->p) {
	case '"':
		return string(s);
	case 't':
		return literal(s, "true", 4);
	case 'f':
		return literal(s, "false", 5);
	case 'n':
		return literal(s, "null", 4);
	default:
		return number(s);
	}
}

/* An object member's name and colon, with the white space after it.  Returns 0 or -1. */
static int
member_name(struct scan *s)
{
	if (s->p >= s->end || *s->p != '"' || string(s) < 0)
		return -1;
	skip_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return -1;
	s->p++;
	skip_ws(s);
	return 0;
}

/*
 * Checks that the len bytes at str are one JSON text (RFC 8259) within
 * the rules of proto-json.h.  Returns 0, or -EBADMSG with *ret_reason set
 * to "json", "depth" or "nul".
 */
int
proto_json_check(const char *str, size_t len, const char **ret_reason)
{
	struct scan s = { .p = (const unsigned char *)str, .end = (const unsigned char *)str + len };
	uint64_t objects = 0;	/* bit d: the container at depth d + 1 is an object */
	int depth = 0;
	bool object;

	*ret_reason = "json";
	skip_ws(&s);
	for (;;) {
		/* A value at s.p. */
		if (s.p >= s.end)
			return -EBADMSG;
		if (*s.p == '{' || *s.p == '[') {
			if (depth == PROTO_JSON_MAX_DEPTH) {
				*ret_reason = "depth";
				return -EBADMSG;
			}
			object = *s.p++ == '{';
			objects = (objects & ~(1ull << depth)) | (uint64_t)object << depth;
			depth++;
			skip_ws(&s);
			if (s.p < s.end && *s.p == (object ? '}' : ']')) {
				s.p++;
				depth--;
			} else {
				if (object && member_name(&s) < 0)
					return -EBADMSG;
				continue;
			}
		} else if (scalar(&s) < 0) {
			return -EBADMSG;
		}
		/* After a value: a comma, the ends of containers, the end of the text. */
		for (;;) {
			skip_ws(&s);
			if (depth == 0) {
				if (s.p != s.end)
					return -EBADMSG;
				if (s.nul) {
					*ret_reason = "nul";
					return -EBADMSG;
				}
				*ret_reason = NULL;
				return 0;
			}
			object = objects >> (depth - 1) & 1;
			if (s.p < s.end && *s.p == ',') {
				s.p++;
				skip_ws(&s);
				if (object && member_name(&s) < 0)
					return -EBADMSG;
				break;
			}
			if (s.p >= s.end || *s.p != (object ? '}' : ']'))
				return -EBADMSG;
			s.p++;
			depth--;
		}
	}
}
