/*
 * proto-idmap: a hash map from 64-bit ids to pointers (open addressing,
 * linear probing, backward-shift deletion, so no tombstones accumulate).
 * Shared by both ends: the library finds the call an answer is for by
 * its id in O(1), as the daemon finds a socket.
 */
#ifndef TISOCK_PROTO_IDMAP_H
#define TISOCK_PROTO_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct proto_idmap;

struct proto_idmap *proto_idmap_new(void);
struct proto_idmap *proto_idmap_free(struct proto_idmap *m);
int		 proto_idmap_put(struct proto_idmap *m, uint64_t id, void *value);
void		*proto_idmap_get(const struct proto_idmap *m, uint64_t id);
void		*proto_idmap_remove(struct proto_idmap *m, uint64_t id);
size_t		 proto_idmap_size(const struct proto_idmap *m);

#endif
