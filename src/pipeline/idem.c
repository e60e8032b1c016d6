/* idem: the idempotency index (see include/idem.h): a ring of 48-byte entries in accept order and
 * a linear-probing table from key hash to ring slot, both mapped once at start. Keys are BLAKE2b
 * outputs, so the table's home slot is simply their first bytes. Deletion shifts later entries of
 * the probe run back instead of leaving tombstones, so probes stay short however long the
 * service runs. Pure; one owner thread (nearftd: the main thread during replay, then the WAL
 * thread). */
#include "idem.h"

#include <sodium.h>
#include <string.h>

#include "nf_err.h"
#include "nf_mem.h"

static uint32_t table_slots(uint32_t capacity)
{
    uint32_t n = 4;
    while (n < 2ull * capacity)
        n <<= 1;
    return n;
}

uint64_t idem_index_bytes(uint32_t capacity)
{
    return (uint64_t)capacity * sizeof(struct idem_entry) +
           (uint64_t)table_slots(capacity) * sizeof(uint32_t);
}

uint64_t idem_keep_ms(uint64_t retention_hours)
{
    return retention_hours * 3600000ull + (retention_hours > 0 ? IDEM_MARGIN_MS : 0);
}

int idem_init(struct idem_index *x, uint32_t capacity, uint64_t keep_ms)
{
    memset(x, 0, sizeof(*x));
    if (capacity == 0 || capacity > IDEM_CAPACITY_MAX)
        return NF_EINVAL;
    uint32_t slots = table_slots(capacity);
    x->ring = nf_mem_map((size_t)capacity * sizeof(*x->ring));
    x->table = nf_mem_map((size_t)slots * sizeof(*x->table));
    if (x->ring == NULL || x->table == NULL) {
        idem_destroy(x);
        return NF_ENOMEM;
    }
    x->capacity = capacity;
    x->table_mask = slots - 1;
    x->keep_ms = keep_ms;
    return 0;
}

void idem_destroy(struct idem_index *x)
{
    if (x->ring != NULL)
        nf_mem_unmap(x->ring, (size_t)x->capacity * sizeof(*x->ring));
    if (x->table != NULL)
        nf_mem_unmap(x->table, (size_t)(x->table_mask + 1) * sizeof(*x->table));
    x->ring = NULL;
    x->table = NULL;
}

void idem_key_hash(const char *key, size_t len, uint8_t out[16])
{
    crypto_generichash(out, 16, (const unsigned char *)key, len, NULL, 0);
}

/* Relaxed read-modify-write of a figure: only the owner writes it. */
static void figure_add(_Atomic uint64_t *f, int64_t d)
{
    uint64_t v = atomic_load_explicit(f, memory_order_relaxed);
    atomic_store_explicit(f, v + (uint64_t)d, memory_order_relaxed);
}

static uint32_t home(const struct idem_index *x, const uint8_t key[16])
{
    uint32_t h;
    memcpy(&h, key, sizeof(h));
    return h & x->table_mask;
}

struct idem_entry *idem_find(struct idem_index *x, const uint8_t key[16])
{
    /* The table is never more than half full, so a probe run always ends at an empty slot. */
    for (uint32_t i = home(x, key);; i = (i + 1) & x->table_mask) {
        uint32_t r = x->table[i];
        if (r == 0)
            return NULL;
        if (memcmp(x->ring[r - 1].key, key, 16) == 0)
            return &x->ring[r - 1];
    }
}

/* table_remove: takes ring slot r out of the table, shifting the rest of its probe run back so
 * that every entry stays reachable from its home slot. */
static void table_remove(struct idem_index *x, uint32_t r)
{
    uint32_t mask = x->table_mask;
    uint32_t i = home(x, x->ring[r].key);
    while (x->table[i] != r + 1)
        i = (i + 1) & mask;
    for (uint32_t j = i;;) {
        j = (j + 1) & mask;
        uint32_t s = x->table[j];
        if (s == 0)
            break;
        /* The entry at j may fill the hole at i unless its home lies in (i, j]. */
        uint32_t k = home(x, x->ring[s - 1].key);
        if (((j - k) & mask) < ((j - i) & mask))
            continue;
        x->table[i] = s;
        i = j;
    }
    x->table[i] = 0;
}

static uint32_t oldest(const struct idem_index *x)
{
    return (x->head + x->capacity - x->count) % x->capacity;
}

static void drop_oldest(struct idem_index *x)
{
    uint32_t r = oldest(x);
    if (x->ring[r].id != 0) {
        table_remove(x, r);
        x->ring[r].id = 0;
        figure_add(&x->keys, -1);
    }
    x->count--;
}

int idem_may_drop(const struct idem_index *x, const struct idem_entry *e, uint64_t now_ms)
{
    if (e->id == 0)
        return 1;
    /* accept_s is rounded down: the accept time is before accept_s + 1 s. */
    return e->status != IDEM_OPEN && now_ms >= ((uint64_t)e->accept_s + 1) * 1000u + x->keep_ms;
}

int idem_reserve(struct idem_index *x, uint32_t n, uint64_t now_ms, uint32_t *retry_s)
{
    while (idem_room(x) < n) {
        const struct idem_entry *e = x->count > 0 ? &x->ring[oldest(x)] : NULL;
        if (e == NULL || !idem_may_drop(x, e, now_ms)) {
            figure_add(&x->refused, 1);
            if (retry_s != NULL) {
                uint64_t until = e ? ((uint64_t)e->accept_s + 1) * 1000u + x->keep_ms : 0;
                uint64_t s = (e == NULL || e->status == IDEM_OPEN || until <= now_ms)
                                 ? 1
                                 : (until - now_ms + 999) / 1000;
                *retry_s = s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
            }
            return NF_EFULL;
        }
        if (e->id != 0)
            figure_add(&x->expired, 1);
        drop_oldest(x);
    }
    return 0;
}

uint32_t idem_insert(struct idem_index *x,
                     const uint8_t key[16],
                     uint64_t id,
                     uint64_t id_tag,
                     uint64_t body_hash,
                     uint64_t accept_ms)
{
    if (x->count == x->capacity)
        return UINT32_MAX;
    uint32_t r = x->head;
    struct idem_entry *e = &x->ring[r];
    memcpy(e->key, key, 16);
    e->id = id;
    e->id_tag = id_tag;
    e->body_hash = body_hash;
    e->accept_s = (uint32_t)(accept_ms / 1000u);
    e->status = IDEM_OPEN;
    x->head = r + 1 == x->capacity ? 0 : r + 1;
    x->count++;
    uint32_t i = home(x, key);
    while (x->table[i] != 0)
        i = (i + 1) & x->table_mask;
    x->table[i] = r + 1;
    figure_add(&x->keys, 1);
    return r;
}

void idem_forget(struct idem_index *x, const uint8_t key[16], uint64_t id)
{
    struct idem_entry *e = idem_find(x, key);
    if (e == NULL || e->id != id)
        return;
    table_remove(x, (uint32_t)(e - x->ring));
    e->id = 0; /* its ring slot is free to drop once it is the oldest */
    figure_add(&x->keys, -1);
}

void idem_set_final(struct idem_index *x, uint32_t slot, uint64_t id, enum idem_status st)
{
    if (slot < x->capacity && x->ring[slot].id == id && id != 0)
        x->ring[slot].status = (uint8_t)st;
}

uint32_t idem_replay_insert(struct idem_index *x,
                            const uint8_t key[16],
                            uint64_t id,
                            uint64_t id_tag,
                            uint64_t body_hash,
                            uint64_t accept_ms,
                            uint64_t now_ms,
                            uint64_t *dropped_kept)
{
    struct idem_entry *old = idem_find(x, key);
    if (old != NULL)
        idem_forget(x, key, old->id);
    if (x->count == x->capacity) {
        const struct idem_entry *e = &x->ring[oldest(x)];
        if (!idem_may_drop(x, e, now_ms) && dropped_kept != NULL)
            (*dropped_kept)++;
        drop_oldest(x);
    }
    return idem_insert(x, key, id, id_tag, body_hash, accept_ms);
}
