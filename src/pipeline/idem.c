/* idem: the hub's idempotency map: BLAKE2b-128 of each Idempotency-Key -> the job it created and
 * a hash of the request body, open addressing with tombstones, sized at twice --job-capacity.
 * Entries whose job slot was reused are treated as gone. Owned by the WAL thread (the main thread
 * during replay, before the WAL thread starts). */
#include <sodium.h>
#include <string.h>

#include "pipeline_int.h"

void idem_hash(const char *key, size_t len, uint8_t out[16])
{
    crypto_generichash(out, 16, (const unsigned char *)key, len, NULL, 0);
}

static int entry_live(struct nf_pipe *p, const struct idem_entry *e)
{
    if (e->job_id == 0)
        return 0;
    struct job *j = job_slot(&p->jobs, e->job_id);
    return atomic_load_explicit(&j->id, memory_order_acquire) == e->job_id;
}

struct idem_entry *
idem_lookup(struct nf_pipe *p, const char *idem_key, size_t len, uint8_t key[16], uint32_t *slot)
{
    idem_hash(idem_key, len, key);
    return idem_find(p, key, slot);
}

/* idem_find: the live entry for key, or NULL; *slot gets a free/tombstone slot to insert. */
struct idem_entry *idem_find(struct nf_pipe *p, const uint8_t key[16], uint32_t *slot)
{
    uint32_t mask = p->idem_cap - 1;
    uint32_t i;
    memcpy(&i, key, sizeof(i));
    *slot = UINT32_MAX;
    static const uint8_t zero[16];
    for (uint32_t probes = 0; probes < p->idem_cap; probes++, i = (i + 1) & mask) {
        struct idem_entry *e = &p->idem[i & mask];
        if (memcmp(e->key, zero, 16) == 0) {
            if (*slot == UINT32_MAX)
                *slot = i & mask;
            return NULL;
        }
        if (memcmp(e->key, key, 16) == 0) {
            if (entry_live(p, e))
                return e;
            if (*slot == UINT32_MAX)
                *slot = i & mask;
            return NULL;
        }
        if (!entry_live(p, e) && *slot == UINT32_MAX)
            *slot = i & mask;
    }
    return NULL;
}

void idem_insert(
    struct nf_pipe *p, const uint8_t key[16], uint32_t slot, uint64_t id, uint64_t body_hash)
{
    if (slot == UINT32_MAX)
        return; /* table full of live keys: the key is not remembered (documented limit) */
    struct idem_entry *e = &p->idem[slot];
    static const uint8_t zero[16];
    if (memcmp(e->key, zero, 16) == 0)
        p->idem_used++;
    memcpy(e->key, key, 16);
    e->job_id = id;
    e->body_hash = body_hash;
}
