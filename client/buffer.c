/*
 * buffer: Ti.Buffer.  A resizable byte array with Titanium's offset and
 * length rules: every range is checked before anything is touched.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <tisock/tisock.h>

#include "lib-public.h"

struct tisock_buffer {
	uint8_t	*data;		/* owned; NULL when length is 0 */
	size_t	 length;	/* bytes */
	int	 byte_order;	/* TISOCK_BIG_ENDIAN or TISOCK_LITTLE_ENDIAN */
	const char *type;	/* Titanium's type or charset name (static), or NULL */
};

/* Resolves (offset, length) inside size; length TISOCK_ALL means the rest. */
static int
range(size_t size, size_t offset, ssize_t length, size_t *ret_len)
{
	size_t n;

	if (length == TISOCK_ALL) {
		if (offset > size)
			return -EINVAL;
		n = size - offset;
	} else {
		if (length < 0)
			return -EINVAL;
		n = (size_t)length;
		if (offset > size || n > size - offset)
			return -EINVAL;
	}
	*ret_len = n;
	return 0;
}

TISOCK_PUBLIC tisock_buffer *
tisock_buffer_create(size_t length)
{
	tisock_buffer *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->byte_order = tisock_codec_native_byte_order();
	if (tisock_buffer_set_length(b, length) < 0) {
		free(b);
		errno = ENOMEM;
		return NULL;
	}
	return b;
}

TISOCK_PUBLIC tisock_buffer *
tisock_buffer_from_string(const char *s, ssize_t len, int charset)
{
	size_t n = len == TISOCK_ALL ? (s ? strlen(s) : 0) : (size_t)len;
	/* UTF-8 to any supported charset takes at most 2 bytes per input byte, plus a BOM. */
	tisock_buffer *b;
	ssize_t r;

	if (!s || len < TISOCK_ALL) {
		errno = EINVAL;
		return NULL;
	}
	b = tisock_buffer_create(n * 2 + 2);
	if (!b)
		return NULL;
	r = tisock_codec_encode_string(b, 0, s, (ssize_t)n, charset);
	if (r < 0) {
		tisock_buffer_free(b);
		errno = (int)-r;
		return NULL;
	}
	(void) tisock_buffer_set_length(b, (size_t)r);	/* shrinking cannot fail */
	b->type = tisock_codec_charset_name(charset);
	return b;
}

TISOCK_PUBLIC tisock_buffer *
tisock_buffer_from_number(double value, int type, int byte_order)
{
	int w = tisock_codec_type_width(type);
	tisock_buffer *b;
	ssize_t r;

	if (w < 0) {
		errno = EINVAL;
		return NULL;
	}
	b = tisock_buffer_create((size_t)w);
	if (!b)
		return NULL;
	r = tisock_codec_encode_number(b, 0, value, type, byte_order);
	if (r < 0 || tisock_buffer_set_byte_order(b, byte_order) < 0) {
		tisock_buffer_free(b);
		errno = EINVAL;
		return NULL;
	}
	b->type = tisock_codec_type_name(type);
	return b;
}

TISOCK_PUBLIC tisock_buffer *
tisock_buffer_free(tisock_buffer *b)
{
	if (b) {
		free(b->data);
		free(b);
	}
	return NULL;
}

TISOCK_PUBLIC void
tisock_buffer_freep(tisock_buffer **b)
{
	if (b)
		*b = tisock_buffer_free(*b);
}

TISOCK_PUBLIC size_t
tisock_buffer_length(const tisock_buffer *b)
{
	return b ? b->length : 0;
}

TISOCK_PUBLIC int
tisock_buffer_set_length(tisock_buffer *b, size_t length)
{
	uint8_t *p;

	if (!b)
		return -EINVAL;
	if (length == 0) {
		free(b->data);
		b->data = NULL;
		b->length = 0;
		return 0;
	}
	p = realloc(b->data, length);
	if (!p)
		return -ENOMEM;
	if (length > b->length)
		memset(p + b->length, 0, length - b->length);
	b->data = p;
	b->length = length;
	return 0;
}

TISOCK_PUBLIC uint8_t *
tisock_buffer_data(tisock_buffer *b)
{
	return b ? b->data : NULL;
}

TISOCK_PUBLIC const uint8_t *
tisock_buffer_cdata(const tisock_buffer *b)
{
	return b ? b->data : NULL;
}

TISOCK_PUBLIC int
tisock_buffer_get(const tisock_buffer *b, size_t i)
{
	if (!b || i >= b->length)
		return -EINVAL;
	return b->data[i];
}

TISOCK_PUBLIC int
tisock_buffer_set(tisock_buffer *b, size_t i, long value)
{
	if (!b || i >= b->length)
		return -EINVAL;
	b->data[i] = (uint8_t)((unsigned long)value & 0xff);
	return 0;
}

TISOCK_PUBLIC ssize_t
tisock_buffer_append(tisock_buffer *b, const tisock_buffer *src, size_t src_offset,
		     ssize_t src_length)
{
	return tisock_buffer_insert(b, src, b ? b->length : 0, src_offset, src_length);
}

TISOCK_PUBLIC ssize_t
tisock_buffer_insert(tisock_buffer *b, const tisock_buffer *src, size_t offset,
		     size_t src_offset, ssize_t src_length)
{
	size_t n, old;
	uint8_t *tmp = NULL;
	int r;

	if (!b || !src || offset > b->length || range(src->length, src_offset, src_length, &n) < 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (src == b) {
		/* Inserting a buffer into itself: copy the source bytes first. */
		tmp = malloc(n);
		if (!tmp)
			return -ENOMEM;
		memcpy(tmp, src->data + src_offset, n);
	}
	old = b->length;
	r = tisock_buffer_set_length(b, old + n);
	if (r < 0) {
		free(tmp);
		return r;
	}
	memmove(b->data + offset + n, b->data + offset, old - offset);
	memcpy(b->data + offset, tmp ? tmp : src->data + src_offset, n);
	free(tmp);
	return (ssize_t)n;
}

TISOCK_PUBLIC ssize_t
tisock_buffer_copy(tisock_buffer *b, const tisock_buffer *src, size_t offset, size_t src_offset,
		   ssize_t src_length)
{
	size_t n, room;

	if (!b || !src || range(src->length, src_offset, src_length, &n) < 0 ||
	    range(b->length, offset, (ssize_t)n, &room) < 0)
		return -EINVAL;
	if (n > 0)
		memmove(b->data + offset, src->data + src_offset, n);
	return (ssize_t)n;
}

TISOCK_PUBLIC tisock_buffer *
tisock_buffer_clone(const tisock_buffer *b, size_t offset, ssize_t length)
{
	tisock_buffer *c;
	size_t n;

	if (!b || range(b->length, offset, length, &n) < 0) {
		errno = EINVAL;
		return NULL;
	}
	c = tisock_buffer_create(n);
	if (!c)
		return NULL;
	if (n > 0)
		memcpy(c->data, b->data + offset, n);
	c->byte_order = b->byte_order;
	c->type = b->type;
	return c;
}

TISOCK_PUBLIC int
tisock_buffer_fill(tisock_buffer *b, long fill_byte, size_t offset, ssize_t length)
{
	size_t n;

	if (!b || range(b->length, offset, length, &n) < 0)
		return -EINVAL;
	if (n > 0)
		memset(b->data + offset, (int)((unsigned long)fill_byte & 0xff), n);
	return 0;
}

TISOCK_PUBLIC void
tisock_buffer_clear(tisock_buffer *b)
{
	if (b && b->length)
		memset(b->data, 0, b->length);
}

TISOCK_PUBLIC void
tisock_buffer_release(tisock_buffer *b)
{
	(void) tisock_buffer_set_length(b, 0);
}

TISOCK_PUBLIC char *
tisock_buffer_to_string(const tisock_buffer *b, size_t *ret_len)
{
	return tisock_codec_decode_string(b, 0, TISOCK_ALL, TISOCK_CHARSET_UTF8, ret_len);
}

TISOCK_PUBLIC int
tisock_buffer_byte_order(const tisock_buffer *b)
{
	return b ? b->byte_order : -EINVAL;
}

TISOCK_PUBLIC int
tisock_buffer_set_byte_order(tisock_buffer *b, int byte_order)
{
	if (byte_order == TISOCK_NATIVE_ENDIAN)
		byte_order = tisock_codec_native_byte_order();
	if (!b || (byte_order != TISOCK_BIG_ENDIAN && byte_order != TISOCK_LITTLE_ENDIAN))
		return -EINVAL;
	b->byte_order = byte_order;
	return 0;
}

TISOCK_PUBLIC const char *
tisock_buffer_type(const tisock_buffer *b)
{
	return b ? b->type : NULL;
}

TISOCK_PUBLIC int
tisock_buffer_set_type(tisock_buffer *b, const char *name)
{
	int t;

	if (!b)
		return -EINVAL;
	if (!name) {
		b->type = NULL;
		return 0;
	}
	/* Kept as the table's own spelling: a static string, canonical. */
	if ((t = tisock_codec_type_from_name(name)) > 0)
		b->type = tisock_codec_type_name(t);
	else if ((t = tisock_codec_charset_from_name(name)) > 0)
		b->type = tisock_codec_charset_name(t);
	else
		return -EINVAL;
	return 0;
}
