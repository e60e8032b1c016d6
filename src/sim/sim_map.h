/* sim_map: an open-addressing hash map (linear probing, backward-shift deletion) from a byte-string
 * key to a caller-owned value pointer. The key bytes live inside the value; the map asks key_of()
 * for them, so it stores only {hash, value} per slot. Used by nearsim for tx hashes, account ids,
 * block hashes and memos. Not thread-safe: owned by the simulator's chain thread. */
#ifndef NF_SIM_MAP_H
#define NF_SIM_MAP_H

#include <stddef.h>
#include <stdint.h>

/* key_of: returns the key bytes of val (borrowed from val) and their length in *len. */
typedef const void *(*sim_map_key_fn)(const void *val, size_t *len);

struct sim_map_slot {
    uint64_t hash; /* 0 = empty slot (real hashes are forced nonzero) */
    void *val;
};

struct sim_map {
    struct sim_map_slot *slots;
    size_t cap; /* power of two */
    size_t count;
    sim_map_key_fn key_of;
};

/* sim_map_hash: the 64-bit hash used for keys (nonzero). Pure. */
uint64_t sim_map_hash(const void *key, size_t len);

/* sim_map_init: empty map with room for about initial entries. Returns 0 or NF_ENOMEM. */
int sim_map_init(struct sim_map *m, size_t initial, sim_map_key_fn key_of);
void sim_map_free(struct sim_map *m);

/* sim_map_get: value whose key equals key[0..len), or NULL. */
void *sim_map_get(const struct sim_map *m, const void *key, size_t len);

/* sim_map_put: inserts val (its key from key_of). The key must not be present yet (callers look
 * it up first). The map borrows val until it is removed. Returns 0 or NF_ENOMEM. */
int sim_map_put(struct sim_map *m, void *val);

/* sim_map_del: removes the entry with this key; returns its value or NULL when absent. */
void *sim_map_del(struct sim_map *m, const void *key, size_t len);

/* sim_map_next: iteration; *pos starts at 0. Returns the next value or NULL at the end. The map
 * must not change during an iteration. */
void *sim_map_next(const struct sim_map *m, size_t *pos);

#endif
