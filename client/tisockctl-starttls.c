/*
 * tisockctl-starttls: connect --starttls smtp|imap, as openssl s_client
 * -starttls does it: the protocol is spoken in plaintext up to the
 * server's go-ahead, then the daemon starts TLS on the connection
 * (tcp.startTls) and the relay begins.
 *
 *   smtp: the 220 greeting, EHLO, its 250 lines (STARTTLS must be among
 *         them), STARTTLS, 220.
 *   imap: the * OK greeting, "a001 STARTTLS", "a001 OK".
 *
 * Nothing comes from the server after its go-ahead until the handshake,
 * so reading whole lines here never takes bytes that belong to TLS.
 * With -v the server's lines go to stderr.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tisockctl.h"

#define LINE_MAX_BYTES	4096	/* one line of the server's */
#define LINES_MAX	100	/* lines of one answer */

/* What has been read and not yet taken as lines. */
struct lines {
	tisock_tcp	*s;
	tisock_buffer	*buf;
	size_t		 have;
	char		 line[LINE_MAX_BYTES + 1];
	bool		 verbose;
};

/* The next line (without CRLF) in l->line.  0, or -errno / -EPROTO (too long, EOF). */
static int
next_line(struct lines *l)
{
	for (;;) {
		const uint8_t *d = tisock_buffer_cdata(l->buf);
		const uint8_t *nl = l->have ? memchr(d, '\n', l->have) : NULL;
		ssize_t k;

		if (nl) {
			size_t n = (size_t)(nl - d);

			memcpy(l->line, d, n);
			l->line[n > 0 && l->line[n - 1] == '\r' ? n - 1 : n] = '\0';
			memmove(tisock_buffer_data(l->buf), nl + 1, l->have - n - 1);
			l->have -= n + 1;
			if (l->verbose)
				fprintf(stderr, "< %s\n", l->line);
			return 0;
		}
		if (l->have == LINE_MAX_BYTES)
			return -EPROTO;
		k = tisock_tcp_read(l->s, l->buf, l->have, (ssize_t)(LINE_MAX_BYTES - l->have));
		if (k == -1)
			snprintf(l->line, sizeof(l->line), "(the server closed the connection)");
		if (k < 0)
			return k == -1 ? -EPROTO : (int)k;
		l->have += (size_t)k;
	}
}

static int
say(struct lines *l, const char *text)
{
	tisock_buffer *b = tisock_buffer_from_string(text, TISOCK_ALL, TISOCK_CHARSET_UTF8);
	ssize_t k;

	if (!b)
		return -ENOMEM;
	if (l->verbose)
		fprintf(stderr, "> %.*s\n", (int)strcspn(text, "\r"), text);
	k = tisock_tcp_write(l->s, b, 0, TISOCK_ALL);
	tisock_buffer_free(b);
	return k < 0 ? (int)k : 0;
}

/*
 * Reads an SMTP answer (lines "CODE-..." then "CODE ...").  0 when its
 * code is want; *seen_starttls tells whether a line offered STARTTLS.
 */
static int
smtp_answer(struct lines *l, const char *want, bool *seen_starttls)
{
	for (int i = 0; i < LINES_MAX; i++) {
		int r = next_line(l);

		if (r < 0)
			return r;
		if (seen_starttls && strlen(l->line) >= 4 &&
		    strcasecmp(l->line + 4, "STARTTLS") == 0)
			*seen_starttls = true;
		if (strncmp(l->line, want, 3) != 0)
			return -EPROTO;
		if (l->line[3] == ' ' || l->line[3] == '\0')
			return 0;
	}
	return -EPROTO;
}

static int
smtp(struct lines *l)
{
	bool offered = false;
	int r;

	if ((r = smtp_answer(l, "220", NULL)) < 0 || (r = say(l, "EHLO tisockctl\r\n")) < 0 ||
	    (r = smtp_answer(l, "250", &offered)) < 0)
		return r;
	if (!offered)
		return -EOPNOTSUPP;
	if ((r = say(l, "STARTTLS\r\n")) < 0)
		return r;
	return smtp_answer(l, "220", NULL);
}

static int
imap(struct lines *l)
{
	int r = next_line(l);

	if (r < 0)
		return r;
	if (strncmp(l->line, "* OK", 4) != 0)
		return -EPROTO;
	if ((r = say(l, "a001 STARTTLS\r\n")) < 0)
		return r;
	for (int i = 0; i < LINES_MAX; i++) {
		if ((r = next_line(l)) < 0)
			return r;
		if (strncmp(l->line, "a001 ", 5) == 0)
			return strncmp(l->line + 5, "OK", 2) == 0 ? 0 : -EPROTO;
	}
	return -EPROTO;
}

/* connect --starttls: the plaintext part, then TLS on s.  EXIT_*. */
int
ctl_starttls(tisock_client *c, tisock_tcp *s, const struct opts *o, const char *what)
{
	struct lines l = { .s = s, .verbose = o->verbose };
	char where[300];
	int r;

	l.buf = tisock_buffer_create(LINE_MAX_BYTES);
	if (!l.buf)
		return ctl_client_failed(c, -ENOMEM);
	r = strcmp(o->starttls, "smtp") == 0 ? smtp(&l) : imap(&l);
	tisock_buffer_free(l.buf);
	if (r == -EOPNOTSUPP) {
		ctl_err("%s: the server does not offer STARTTLS", what);
		return EXIT_FAILED;
	}
	if (r == -EPROTO) {
		ctl_err("%s: %s STARTTLS refused or not understood: \"%s\"", what, o->starttls,
			l.line);
		return EXIT_FAILED;
	}
	if (r < 0)
		return ctl_client_failed(c, r);
	snprintf(where, sizeof(where), "STARTTLS with %s", what);
	return ctl_tls_client(c, s, o, true, where);
}
