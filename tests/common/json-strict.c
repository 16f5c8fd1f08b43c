/*
 * json-strict: recursive descent over RFC 8259's grammar; see
 * json-strict.h.  Each rule returns the position past what it matched,
 * or NULL.
 */
#include "config.h"

#include <string.h>

#include "json-strict.h"

struct js {
	const unsigned char	*end;
	int			 depth;
};

static const unsigned char *value(struct js *j, const unsigned char *p);

static const unsigned char *
ws(const struct js *j, const unsigned char *p)
{
	while (p < j->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const unsigned char *
literal(const struct js *j, const unsigned char *p, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - p) < n || memcmp(p, word, n) != 0)
		return NULL;
	return p + n;
}

static const unsigned char *
digits(const struct js *j, const unsigned char *p)
{
	const unsigned char *start = p;

	while (p < j->end && *p >= '0' && *p <= '9')
		p++;
	return p > start ? p : NULL;
}

/* number = [ minus ] int [ frac ] [ exp ] */
static const unsigned char *
number(const struct js *j, const unsigned char *p)
{
	if (p < j->end && *p == '-')
		p++;
	if (p < j->end && *p == '0')
		p++;
	else if (p < j->end && *p >= '1' && *p <= '9')
		p = digits(j, p);
	else
		return NULL;
	if (p < j->end && *p == '.' && !(p = digits(j, p + 1)))
		return NULL;
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		p = digits(j, p);
	}
	return p;
}

static int
hex4(const struct js *j, const unsigned char *p)
{
	int v = 0;

	if (j->end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* One UTF-8 sequence of two or more bytes (RFC 3629 section 4). */
static const unsigned char *
utf8(const struct js *j, const unsigned char *p)
{
	unsigned c = *p;
	int n;
	unsigned lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 1;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3;
	else
		return NULL;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (j->end - p <= n || p[1] < lo || p[1] > hi)
		return NULL;
	for (int i = 2; i <= n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return NULL;
	return p + n + 1;
}

static const unsigned char *
string(const struct js *j, const unsigned char *p)
{
	for (p++; p < j->end;) {
		int u;

		if (*p == '"')
			return p + 1;
		if (*p < 0x20)
			return NULL;
		if (*p >= 0x80) {
			if (!(p = utf8(j, p)))
				return NULL;
			continue;
		}
		if (*p != '\\') {
			p++;
			continue;
		}
		if (++p >= j->end)
			return NULL;
		if (strchr("\"\\/bfnrt", *p) && *p) {
			p++;
			continue;
		}
		if (*p != 'u' || (u = hex4(j, p + 1)) < 0)
			return NULL;
		p += 5;
		if (u >= 0xdc00 && u <= 0xdfff)
			return NULL;	/* a low surrogate first */
		if (u >= 0xd800 && u <= 0xdbff) {
			if (j->end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
			    (u = hex4(j, p + 2)) < 0xdc00 || u > 0xdfff)
				return NULL;
			p += 6;
		}
	}
	return NULL;
}

/* An object or an array: open, members, close. */
static const unsigned char *
container(struct js *j, const unsigned char *p)
{
	unsigned char close = *p == '{' ? '}' : ']';

	if (++j->depth > JSON_STRICT_MAX_DEPTH)
		return NULL;
	p = ws(j, p + 1);
	if (p < j->end && *p == close) {
		j->depth--;
		return p + 1;
	}
	for (;;) {
		if (close == '}') {
			if (p >= j->end || *p != '"' || !(p = string(j, p)))
				return NULL;
			p = ws(j, p);
			if (p >= j->end || *p != ':')
				return NULL;
			p = ws(j, p + 1);
		}
		if (!(p = value(j, p)))
			return NULL;
		p = ws(j, p);
		if (p < j->end && *p == ',') {
			p = ws(j, p + 1);
			continue;
		}
		if (p < j->end && *p == close) {
			j->depth--;
			return p + 1;
		}
		return NULL;
	}
}

static const unsigned char *
value(struct js *j, const unsigned char *p)
{
	if (p >= j->end)
		return NULL;
	switch (*p) {
	case '{':
	case '[':
		return container(j, p);
	case '"':
		return string(j, p);
	case 't':
		return literal(j, p, "true");
	case 'f':
		return literal(j, p, "false");
	case 'n':
		return literal(j, p, "null");
	default:
		return number(j, p);
	}
}

/* Whether the len bytes at s are one JSON text as json-strict.h says. */
bool
json_strict_valid(const char *s, size_t len)
{
	struct js j = { .end = (const unsigned char *)s + len };
	const unsigned char *p;

	p = value(&j, ws(&j, (const unsigned char *)s));
	return p && ws(&j, p) == j.end;
}
