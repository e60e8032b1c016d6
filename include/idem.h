/* idem: the idempotency index. For each Idempotency-Key it remembers the transfer the key created
 * (id, body hash, accept time, final status), in memory fixed at start (--idempotency-keys). An
 * entry is kept at least until it is older than the keep time (--retention-hours plus a margin,
 * idem_keep_ms) AND its transfer is final; it is dropped only when its ring slot is needed.
 *
 * Layout: a ring of 48-byte entries in the order keys were accepted, and an open-addressing table
 * (linear probing, backward-shift deletion, a power of two >= 2 x capacity slots of 4 bytes) from
 * the key's hash to its ring slot. A new key takes the ring's next slot; when the ring is full the
 * oldest entry is dropped if it may be (idem_may_drop), otherwise the key is refused (NF_EFULL,
 * HTTP 503). Memory: capacity x 48 B + table slots x 4 B, both mapped at idem_init and touched
 * only where used.
 *
 * Pure: no I/O, no threads, no clock (callers pass now_ms); no allocation after idem_init. One
 * owner thread at a time (nearftd: the main thread during replay, then the WAL thread). The
 * figures (keys, refused, expired) may be read by any thread with relaxed loads. */
#ifndef NF_IDEM_H
#define NF_IDEM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Extra keep time when --retention-hours > 0: log compaction compares file times (set by the
 * kernel's coarse clock) with accept times, and may run every few hundred milliseconds. */
#define IDEM_MARGIN_MS 5000u
/* Largest --idempotency-keys: the table must stay addressable by 32-bit slots. */
#define IDEM_CAPACITY_MAX (1u << 28)

enum idem_status {
    IDEM_OPEN = 0,            /* the transfer is not final yet */
    IDEM_EXECUTED = 1,        /* final: executed */
    IDEM_FAILED = 2,          /* final: failed */
    IDEM_FAILED_RECEIVER = 3, /* final: failed because of its receiver (missing, unregistered) */
};

struct idem_entry {
    uint8_t key[16];    /* BLAKE2b-128 of the Idempotency-Key (idem_key_hash) */
    uint64_t id;        /* the transfer the key created; 0 = forgotten (its write failed) */
    uint64_t body_hash; /* hash of receiver, amount and memo: another body with this key is 422 */
    uint64_t id_tag;    /* the transfer's id tag (job.h), so a repeat answers its public id */
    uint32_t accept_s;  /* accept time, seconds since the epoch (wall clock) */
    uint8_t status;     /* enum idem_status */
    uint8_t pad_[3];
};
_Static_assert(sizeof(struct idem_entry) == 48, "idempotency entries are 48 bytes");

struct idem_index {
    struct idem_entry *ring; /* capacity entries */
    uint32_t *table;         /* ring slot + 1 per table slot; 0 = empty */
    uint32_t capacity;
    uint32_t table_mask; /* table slots - 1 */
    uint32_t head;       /* ring slot the next key takes */
    uint32_t count;      /* ring slots in use, forgotten ones included; oldest = head - count */
    uint64_t keep_ms;    /* idem_keep_ms(retention) */
    /* Figures: written by the owner, read by any thread (relaxed). */
    _Atomic uint64_t keys;    /* entries that answer a key */
    _Atomic uint64_t refused; /* idem_reserve calls that found no slot it may free */
    _Atomic uint64_t expired; /* entries dropped to make room (old and final) */
};

/* idem_keep_ms: how long after its accept time a final key may be dropped: retention_hours, plus
 * IDEM_MARGIN_MS when retention_hours > 0. Log compaction keeps segments younger than this. */
uint64_t idem_keep_ms(uint64_t retention_hours);

/* idem_init: maps an empty index of capacity entries (1..IDEM_CAPACITY_MAX) that keeps final
 * keys keep_ms. Start-up. 0, NF_EINVAL (capacity out of range) or NF_ENOMEM. */
int idem_init(struct idem_index *x, uint32_t capacity, uint64_t keep_ms);

/* idem_destroy: unmaps x's memory; safe on a zeroed or destroyed index. */
void idem_destroy(struct idem_index *x);

/* idem_index_bytes: the memory an index of capacity entries maps (ring + table). */
uint64_t idem_index_bytes(uint32_t capacity);

/* idem_key_hash: BLAKE2b-128 of key[0..len). Any thread. */
void idem_key_hash(const char *key, size_t len, uint8_t out[16]);

/* idem_find: the entry for key, or NULL. The pointer is valid until the next call that changes
 * x. Owner thread. */
struct idem_entry *idem_find(struct idem_index *x, const uint8_t key[16]);

/* idem_room: ring slots free without dropping anything. */
static inline uint32_t idem_room(const struct idem_index *x)
{
    return x->capacity - x->count;
}

/* idem_may_drop: 1 when e may leave the index at now_ms: forgotten, or final and older than the
 * keep time. */
int idem_may_drop(const struct idem_index *x, const struct idem_entry *e, uint64_t now_ms);

/* idem_reserve: makes room for n new keys, dropping the oldest entries while they may be dropped.
 * 0, or NF_EFULL when the oldest entry must be kept (nothing may be inserted; counted in
 * refused): *retry_s (may be NULL) gets the seconds until it may go (1 when its transfer is not
 * final yet). Owner thread. */
int idem_reserve(struct idem_index *x, uint32_t n, uint64_t now_ms, uint32_t *retry_s);

/* idem_insert: remembers key -> transfer id (and its id tag), in a slot idem_reserve made room
 * for (key must not be in x). Returns the ring slot (for idem_set_final), or UINT32_MAX when the
 * ring is full (a caller that reserved never sees it). Owner thread. */
uint32_t idem_insert(struct idem_index *x,
                     const uint8_t key[16],
                     uint64_t id,
                     uint64_t id_tag,
                     uint64_t body_hash,
                     uint64_t accept_ms);

/* idem_forget: drops key if it still names transfer id (a write that failed: the key is free
 * again). Owner thread. */
void idem_forget(struct idem_index *x, const uint8_t key[16], uint64_t id);

/* idem_set_final: the transfer id in ring slot `slot` is final with status st (IDEM_EXECUTED,
 * IDEM_FAILED or IDEM_FAILED_RECEIVER); nothing if the slot holds another id now. Owner. */
void idem_set_final(struct idem_index *x, uint32_t slot, uint64_t id, enum idem_status st);

/* idem_replay_insert: an ACCEPT record's key during log replay. Replaces an entry with the same
 * key (the log holds a key twice only when the first was dropped), and when the ring is full drops
 * the oldest entry whatever its state, adding 1 to *dropped_kept if it was still to be kept at
 * now_ms (an index smaller than the one that wrote the log). Returns the ring slot. Owner. */
uint32_t idem_replay_insert(struct idem_index *x,
                            const uint8_t key[16],
                            uint64_t id,
                            uint64_t id_tag,
                            uint64_t body_hash,
                            uint64_t accept_ms,
                            uint64_t now_ms,
                            uint64_t *dropped_kept);

#endif
