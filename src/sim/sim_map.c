/* sim_map: open-addressing hash map with linear probing and backward-shift deletion (see
 * sim_map.h). Keys are read from the values through key_of, so a slot is 16 bytes. The table
 * doubles at 50% load, keeping probe sequences short. Single owner thread (nearsim's chain). */
#include "sim_map.h"

#include <stdlib.h>
#include <string.h>

#include "nf_err.h"

uint64_t sim_map_hash(const void *key, size_t len)
{
    /* FNV-1a over 8-byte words with a final avalanche (splitmix64 finaliser). */
    const uint8_t *p = key;
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        h = (h ^ *p++) * 0x100000001b3ull;
        len--;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h ? h : 1;
}

int sim_map_init(struct sim_map *m, size_t initial, sim_map_key_fn key_of)
{
    size_t cap = 16;
    while (cap < initial * 2)
        cap *= 2;
    m->slots = calloc(cap, sizeof(*m->slots));
    if (m->slots == NULL)
        return NF_ENOMEM;
    m->cap = cap;
    m->count = 0;
    m->key_of = key_of;
    return 0;
}

void sim_map_free(struct sim_map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static int key_eq(const struct sim_map *m, const void *val, const void *key, size_t len)
{
    size_t klen;
    const void *k = m->key_of(val, &klen);
    return klen == len && memcmp(k, key, len) == 0;
}

void *sim_map_get(const struct sim_map *m, const void *key, size_t len)
{
    uint64_t h = sim_map_hash(key, len);
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct sim_map_slot *s = &m->slots[i];
        if (s->hash == 0)
            return NULL;
        if (s->hash == h && key_eq(m, s->val, key, len))
            return s->val;
    }
}

static void insert_slot(struct sim_map_slot *slots, size_t cap, uint64_t h, void *val)
{
    size_t mask = cap - 1;
    size_t i = h & mask;
    while (slots[i].hash != 0)
        i = (i + 1) & mask;
    slots[i].hash = h;
    slots[i].val = val;
}

static int grow(struct sim_map *m)
{
    size_t ncap = m->cap * 2;
    struct sim_map_slot *ns = calloc(ncap, sizeof(*ns));
    if (ns == NULL)
        return NF_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].hash != 0)
            insert_slot(ns, ncap, m->slots[i].hash, m->slots[i].val);
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

int sim_map_put(struct sim_map *m, void *val)
{
    if ((m->count + 1) * 2 > m->cap) {
        int rc = grow(m);
        if (rc != 0)
            return rc;
    }
    size_t len;
    const void *k = m->key_of(val, &len);
    insert_slot(m->slots, m->cap, sim_map_hash(k, len), val);
    m->count++;
    return 0;
}

void *sim_map_del(struct sim_map *m, const void *key, size_t len)
{
    uint64_t h = sim_map_hash(key, len);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
        if (m->slots[i].hash == 0)
            return NULL;
        if (m->slots[i].hash == h && key_eq(m, m->slots[i].val, key, len))
            break;
    }
    void *val = m->slots[i].val;
    /* Backward shift: move later members of the probe run into the hole when their home slot
     * does not lie cyclically in (hole, j]. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->slots[j].hash != 0; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].hash = 0;
    m->slots[hole].val = NULL;
    m->count--;
    return val;
}

void *sim_map_next(const struct sim_map *m, size_t *pos)
{
    while (*pos < m->cap) {
        const struct sim_map_slot *s = &m->slots[(*pos)++];
        if (s->hash != 0)
            return s->val;
    }
    return NULL;
}
