/*
 * idmap: a hash map from 64-bit ids to pointers (open addressing, linear
 * probing, backward-shift deletion, so no tombstones accumulate).
 */
#ifndef TISOCK_IDMAP_H
#define TISOCK_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap;

struct idmap	*idmap_new(void);
struct idmap	*idmap_free(struct idmap *m);
int		 idmap_put(struct idmap *m, uint64_t id, void *value);
void		*idmap_get(const struct idmap *m, uint64_t id);
void		*idmap_remove(struct idmap *m, uint64_t id);
size_t		 idmap_size(const struct idmap *m);

#endif
