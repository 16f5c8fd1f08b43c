/*
 * proto-idmap: open-addressing hash map of id to pointer; see proto-idmap.h.
 * Id 0 marks an empty slot and is never stored.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "proto-idmap.h"

#define IDMAP_MIN 64	/* slots in a new map, a power of two */

struct slot {
	uint64_t	 id;	/* 0: empty */
	void		*value;
};

struct proto_idmap {
	struct slot	*slots;
	size_t		 mask;	/* slots - 1 */
	size_t		 count;
};

static size_t
hash(uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdull;
	id ^= id >> 33;
	return (size_t)id;
}

struct proto_idmap *
proto_idmap_new(void)
{
	struct proto_idmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->slots = calloc(IDMAP_MIN, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	m->mask = IDMAP_MIN - 1;
	return m;
}

struct proto_idmap *
proto_idmap_free(struct proto_idmap *m)
{
	if (m) {
		free(m->slots);
		free(m);
	}
	return NULL;
}

static int
grow(struct proto_idmap *m)
{
	size_t n = (m->mask + 1) * 2;
	struct slot *old = m->slots, *s = calloc(n, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i <= m->mask; i++) {
		if (!old[i].id)
			continue;
		size_t j = hash(old[i].id) & (n - 1);

		while (s[j].id)
			j = (j + 1) & (n - 1);
		s[j] = old[i];
	}
	free(old);
	m->slots = s;
	m->mask = n - 1;
	return 0;
}

/* Stores value under id (id > 0, not present).  Returns 0 or -ENOMEM. */
int
proto_idmap_put(struct proto_idmap *m, uint64_t id, void *value)
{
	size_t i;

	if ((m->count + 1) * 4 > (m->mask + 1) * 3 && grow(m) < 0)
		return -ENOMEM;
	for (i = hash(id) & m->mask; m->slots[i].id; i = (i + 1) & m->mask)
		if (m->slots[i].id == id)
			return -EEXIST;
	m->slots[i] = (struct slot){ id, value };
	m->count++;
	return 0;
}

/* The value under id, or NULL. */
void *
proto_idmap_get(const struct proto_idmap *m, uint64_t id)
{
	if (id == 0)
		return NULL;
	for (size_t i = hash(id) & m->mask; m->slots[i].id; i = (i + 1) & m->mask)
		if (m->slots[i].id == id)
			return m->slots[i].value;
	return NULL;
}

/* Removes id and returns its value, or NULL if absent. */
void *
proto_idmap_remove(struct proto_idmap *m, uint64_t id)
{
	size_t i, j;
	void *v;

	if (id == 0)
		return NULL;
	for (i = hash(id) & m->mask; m->slots[i].id != id; i = (i + 1) & m->mask)
		if (!m->slots[i].id)
			return NULL;
	v = m->slots[i].value;
	/* Backward-shift the following cluster into the hole. */
	for (j = (i + 1) & m->mask; m->slots[j].id; j = (j + 1) & m->mask) {
		size_t home = hash(m->slots[j].id) & m->mask;

		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i] = (struct slot){ 0, NULL };
	m->count--;
	return v;
}

size_t
proto_idmap_size(const struct proto_idmap *m)
{
	return m->count;
}
