/*
 * codec: Ti.Codec.  Numbers are written byte by byte in the order asked
 * for; strings are transcoded by iconv(3) between UTF-8 (the C side) and
 * the charset, with the UTF-16 byte-order mark handled here.  UTF-8 is
 * checked here as RFC 3629 has it (proto_utf8_valid), as glibc's iconv
 * lets 5- and 6-byte forms and code points past U+10FFFF through.
 */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <tisock/tisock.h>

#include "lib-public.h"
#include "proto-utf8.h"

static const struct {
	const char	*name;
	int		 width;
} types[] = {
	[TISOCK_TYPE_BYTE] = { "byte", 1 },
	[TISOCK_TYPE_SHORT] = { "short", 2 },
	[TISOCK_TYPE_INT] = { "int", 4 },
	[TISOCK_TYPE_LONG] = { "long", 8 },
	[TISOCK_TYPE_FLOAT] = { "float", 4 },
	[TISOCK_TYPE_DOUBLE] = { "double", 8 },
};

static const struct {
	const char	*name;		/* Titanium's */
	const char	*iconv;		/* iconv's */
} charsets[] = {
	[TISOCK_CHARSET_ASCII] = { "ascii", "ASCII" },
	[TISOCK_CHARSET_ISO_LATIN_1] = { "latin1", "ISO-8859-1" },
	[TISOCK_CHARSET_UTF8] = { "utf8", "UTF-8" },
	[TISOCK_CHARSET_UTF16] = { "utf16", "UTF-16BE" },
	[TISOCK_CHARSET_UTF16BE] = { "utf16be", "UTF-16BE" },
	[TISOCK_CHARSET_UTF16LE] = { "utf16le", "UTF-16LE" },
};

#define N_TYPES (sizeof(types) / sizeof(types[0]))
#define N_CHARSETS (sizeof(charsets) / sizeof(charsets[0]))

TISOCK_PUBLIC int
tisock_codec_native_byte_order(void)
{
	const uint16_t one = 1;

	return *(const uint8_t *)&one ? TISOCK_LITTLE_ENDIAN : TISOCK_BIG_ENDIAN;
}

TISOCK_PUBLIC int
tisock_codec_type_width(int type)
{
	if (type <= 0 || (size_t)type >= N_TYPES)
		return -EINVAL;
	return types[type].width;
}

TISOCK_PUBLIC const char *
tisock_codec_type_name(int type)
{
	return tisock_codec_type_width(type) < 0 ? NULL : types[type].name;
}

TISOCK_PUBLIC int
tisock_codec_type_from_name(const char *name)
{
	for (size_t i = 1; name && i < N_TYPES; i++)
		if (strcmp(types[i].name, name) == 0)
			return (int)i;
	return -EINVAL;
}

/* TISOCK_CHARSET_DEFAULT means UTF-8, as Titanium's charset arguments default to. */
static int
charset_resolve(int charset)
{
	return charset == TISOCK_CHARSET_DEFAULT ? TISOCK_CHARSET_UTF8 : charset;
}

/* TISOCK_NATIVE_ENDIAN means the host's order, Titanium's default byteOrder. */
static int
order_resolve(int byte_order)
{
	return byte_order == TISOCK_NATIVE_ENDIAN ? tisock_codec_native_byte_order() : byte_order;
}

TISOCK_PUBLIC const char *
tisock_codec_charset_name(int charset)
{
	charset = charset_resolve(charset);
	if (charset <= 0 || (size_t)charset >= N_CHARSETS)
		return NULL;
	return charsets[charset].name;
}

TISOCK_PUBLIC int
tisock_codec_charset_from_name(const char *name)
{
	/* Spellings other platforms and older releases used. */
	static const struct {
		const char *alias;
		int charset;
	} aliases[] = {
		{ "iso-latin-1", TISOCK_CHARSET_ISO_LATIN_1 },
		{ "ios-latin-1", TISOCK_CHARSET_ISO_LATIN_1 },
		{ "utf-8", TISOCK_CHARSET_UTF8 },
		{ "utf-16", TISOCK_CHARSET_UTF16 },
	};

	for (size_t i = 1; name && i < N_CHARSETS; i++)
		if (strcmp(charsets[i].name, name) == 0)
			return (int)i;
	for (size_t i = 0; name && i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(aliases[i].alias, name) == 0)
			return aliases[i].charset;
	return -EINVAL;
}

/* Stores the low width bytes of v at p in byte_order. */
static void
put_bytes(uint8_t *p, uint64_t v, int width, int byte_order)
{
	for (int i = 0; i < width; i++) {
		int at = byte_order == TISOCK_BIG_ENDIAN ? width - 1 - i : i;

		p[at] = (uint8_t)(v >> (8 * i));
	}
}

static uint64_t
get_bytes(const uint8_t *p, int width, int byte_order)
{
	uint64_t v = 0;

	for (int i = 0; i < width; i++) {
		int at = byte_order == TISOCK_BIG_ENDIAN ? width - 1 - i : i;

		v |= (uint64_t)p[at] << (8 * i);
	}
	return v;
}

/* Checks type, order and room.  Returns the width, or -EINVAL. */
static int
check(size_t length, size_t position, int type, int byte_order)
{
	int w = tisock_codec_type_width(type);

	if (w < 0 || (byte_order != TISOCK_BIG_ENDIAN && byte_order != TISOCK_LITTLE_ENDIAN))
		return -EINVAL;
	if (position > length || (size_t)w > length - position)
		return -EINVAL;
	return w;
}

static ssize_t
encode_bits(tisock_buffer *dest, size_t position, uint64_t bits, int type, int byte_order)
{
	int w;

	byte_order = order_resolve(byte_order);
	w = check(tisock_buffer_length(dest), position, type, byte_order);

	if (!dest || w < 0)
		return -EINVAL;
	put_bytes(tisock_buffer_data(dest) + position, bits, w, byte_order);
	return (ssize_t)position + w;
}

/* Truncates toward zero to a signed 64-bit integer, saturating like a cast should. */
static int64_t
to_int64(double v)
{
	if (isnan(v))
		return 0;
	if (v >= 9223372036854775807.0)
		return INT64_MAX;
	if (v <= -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)v;
}

TISOCK_PUBLIC ssize_t
tisock_codec_encode_number(tisock_buffer *dest, size_t position, double value, int type,
			   int byte_order)
{
	uint64_t bits;

	if (type == TISOCK_TYPE_FLOAT) {
		float f = (float)value;
		uint32_t u;

		memcpy(&u, &f, 4);
		bits = u;
	} else if (type == TISOCK_TYPE_DOUBLE) {
		memcpy(&bits, &value, 8);
	} else {
		bits = (uint64_t)to_int64(value);
	}
	return encode_bits(dest, position, bits, type, byte_order);
}

TISOCK_PUBLIC ssize_t
tisock_codec_encode_integer(tisock_buffer *dest, size_t position, int64_t value, int type,
			    int byte_order)
{
	if (type == TISOCK_TYPE_FLOAT || type == TISOCK_TYPE_DOUBLE)
		return tisock_codec_encode_number(dest, position, (double)value, type, byte_order);
	return encode_bits(dest, position, (uint64_t)value, type, byte_order);
}

static int
decode_bits(const tisock_buffer *src, size_t position, int type, int byte_order, uint64_t *ret)
{
	int w;

	byte_order = order_resolve(byte_order);
	w = check(tisock_buffer_length(src), position, type, byte_order);

	if (!src || w < 0)
		return -EINVAL;
	*ret = get_bytes(tisock_buffer_cdata(src) + position, w, byte_order);
	return w;
}

static int64_t
sign_extend(uint64_t v, int width)
{
	if (width == 8)
		return (int64_t)v;
	uint64_t sign = 1ull << (8 * width - 1);

	return (int64_t)((v ^ sign) - sign);
}

TISOCK_PUBLIC int
tisock_codec_decode_integer(const tisock_buffer *src, size_t position, int type, int byte_order,
			    int64_t *ret)
{
	uint64_t bits;
	double d;
	int w;

	if (type == TISOCK_TYPE_FLOAT || type == TISOCK_TYPE_DOUBLE) {
		w = tisock_codec_decode_number(src, position, type, byte_order, &d);
		if (w < 0)
			return w;
		*ret = to_int64(d);
		return 0;
	}
	w = decode_bits(src, position, type, byte_order, &bits);
	if (w < 0)
		return w;
	*ret = sign_extend(bits, w);
	return 0;
}

TISOCK_PUBLIC int
tisock_codec_decode_number(const tisock_buffer *src, size_t position, int type, int byte_order,
			   double *ret)
{
	uint64_t bits;
	int w = decode_bits(src, position, type, byte_order, &bits);

	if (w < 0)
		return w;
	if (type == TISOCK_TYPE_FLOAT) {
		uint32_t u = (uint32_t)bits;
		float f;

		memcpy(&f, &u, 4);
		*ret = f;
	} else if (type == TISOCK_TYPE_DOUBLE) {
		memcpy(ret, &bits, 8);
	} else {
		*ret = (double)sign_extend(bits, w);
	}
	return 0;
}

/*
 * Transcodes in[0, n) from one iconv charset to another into a new
 * allocation.  Returns the byte count with *ret set, or -EILSEQ / -ENOMEM.
 */
static ssize_t
transcode(const char *to, const char *from, const char *in, size_t n, char **ret)
{
	iconv_t cd = iconv_open(to, from);
	size_t cap = n * 4 + 4, left_in = n, left_out = cap;
	char *out, *ip = (char *)in, *op;

	if (cd == (iconv_t)-1)
		return -EINVAL;
	out = malloc(cap + 1);
	if (!out) {
		iconv_close(cd);
		return -ENOMEM;
	}
	op = out;
	if (iconv(cd, &ip, &left_in, &op, &left_out) == (size_t)-1) {
		int e = errno;

		iconv_close(cd);
		free(out);
		return e == E2BIG ? -ENOMEM : -EILSEQ;
	}
	iconv_close(cd);
	*op = '\0';
	*ret = out;
	return op - out;
}

TISOCK_PUBLIC ssize_t
tisock_codec_encode_string(tisock_buffer *dest, size_t position, const char *s, ssize_t len,
			   int charset)
{
	size_t n = len == TISOCK_ALL ? (s ? strlen(s) : 0) : (size_t)len;
	size_t room = tisock_buffer_length(dest), bom;
	char *bytes;
	ssize_t k;

	charset = charset_resolve(charset);
	if (!dest || !s || len < TISOCK_ALL || !tisock_codec_charset_name(charset) ||
	    position > room)
		return -EINVAL;
	if (!proto_utf8_valid(s, n))
		return -EILSEQ;
	k = transcode(charsets[charset].iconv, "UTF-8", s, n, &bytes);
	if (k < 0)
		return k;
	bom = charset == TISOCK_CHARSET_UTF16 ? 2 : 0;
	if ((size_t)k + bom > room - position) {
		free(bytes);
		return -EINVAL;
	}
	if (bom) {
		tisock_buffer_data(dest)[position] = 0xfe;
		tisock_buffer_data(dest)[position + 1] = 0xff;
	}
	if (k > 0)
		memcpy(tisock_buffer_data(dest) + position + bom, bytes, (size_t)k);
	free(bytes);
	return (ssize_t)(position + bom + (size_t)k);
}

TISOCK_PUBLIC char *
tisock_codec_decode_string(const tisock_buffer *src, size_t position, ssize_t length,
			   int charset, size_t *ret_len)
{
	const uint8_t *p = tisock_buffer_cdata(src);
	size_t size = tisock_buffer_length(src), n;
	const char *from;
	char *out = NULL;
	ssize_t k;

	charset = charset_resolve(charset);
	if (!src || !tisock_codec_charset_name(charset) || position > size ||
	    (length != TISOCK_ALL && (length < 0 || (size_t)length > size - position))) {
		errno = EINVAL;
		return NULL;
	}
	n = length == TISOCK_ALL ? size - position : (size_t)length;
	p = n ? p + position : (const uint8_t *)"";
	from = charsets[charset].iconv;
	if (charset == TISOCK_CHARSET_UTF16 && n >= 2) {
		/* A byte-order mark says which; without one, big-endian. */
		if (p[0] == 0xff && p[1] == 0xfe) {
			from = "UTF-16LE";
			p += 2;
			n -= 2;
		} else if (p[0] == 0xfe && p[1] == 0xff) {
			p += 2;
			n -= 2;
		}
	}
	if (charset == TISOCK_CHARSET_UTF8 && !proto_utf8_valid(p, n))
		k = -EILSEQ;
	else
		k = transcode("UTF-8", from, (const char *)p, n, &out);
	if (k < 0) {
		errno = (int)-k;
		return NULL;
	}
	if (ret_len)
		*ret_len = (size_t)k;
	return out;
}
