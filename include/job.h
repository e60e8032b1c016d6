/* job: one transfer request and its life (queued -> batched -> signed -> submitted -> executed |
 * failed), kept in a fixed slab sized at start-up (--job-capacity); no allocation afterwards.
 * Ownership: a job's mutable fields belong to the stage that currently holds it (it travels
 * ingest -> wal -> batch -> sign -> wal -> submit -> batch ... by rings, each hand-off publishing
 * everything written before it). Other threads (HTTP status readers) may only read the fields
 * marked "published": they read `status` with acquire and re-check `id` afterwards (a seqlock on
 * the id) so a slot that was reused under them is detected. */
#ifndef NF_JOB_H
#define NF_JOB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "u128.h"

enum job_status {
    JOB_FREE = 0,
    JOB_QUEUED = 1,    /* durable, waiting for a batch */
    JOB_BATCHED = 2,   /* in a batch waiting for a signer */
    JOB_SIGNED = 3,    /* in a signed transaction (durable) not yet answered by the RPC */
    JOB_SUBMITTED = 4, /* the RPC accepted the transaction */
    JOB_EXECUTED = 5,  /* the ft_transfer action succeeded on chain (final state) */
    JOB_FAILED = 6,    /* final failure with a reason (no tokens moved) */
    JOB_CLAIMED = 7,   /* allocated by an ingest thread, not yet durable */
};

/* Routes (API shapes) a job was accepted through; decides the reply format. */
enum job_route {
    JOB_ROUTE_NATIVE = 0,
    JOB_ROUTE_SEND_FT = 1,
    JOB_ROUTE_TRANSFER = 2,
};

/* Holds on a finished job's slot. PIPE: set when the job becomes durable, cleared by the WAL hub
 * once its final record is durable. WAITER: set by the ingest thread that holds an HTTP reply
 * for the job, cleared by that thread when it no longer reads the job. */
#define JOB_HOLD_PIPE   1u
#define JOB_HOLD_WAITER 2u

#define JOB_RECEIVER_MAX 64
#define JOB_MEMO_MAX     256
#define JOB_ERROR_MAX    200

struct job {
    _Atomic uint64_t id;    /* published: the transfer id occupying the slot, 0 when free */
    _Atomic uint8_t status; /* published: enum job_status (store-release by the owner) */
    _Atomic uint8_t holds;  /* JOB_HOLD_* bits: the slot is not reused while any is set */
    uint8_t route;          /* enum job_route */
    uint8_t has_memo;
    uint8_t receiver_len;
    uint16_t memo_len;
    _Atomic uint16_t attempts; /* transactions this transfer was put into */
    uint8_t needs_storage;     /* batch stage: put a storage_deposit before it */
    uint8_t final_seen;        /* the transaction reached FINAL (for ?wait=final) */
    char receiver[JOB_RECEIVER_MAX + 1];
    char memo[JOB_MEMO_MAX + 1];
    nf_u128 amount;
    uint64_t body_hash; /* idempotency conflict check (hash of receiver, amount, memo) */
    /* The random part of the public id "<id>-<16 hex>" (txid.h), set by whoever fills the job and
     * kept in its ACCEPT record; 0 for a transfer accepted before ids carried one. */
    uint64_t id_tag;
    uint64_t dup_of;      /* set by the WAL hub: this request repeats transfer dup_of */
    uint64_t dup_tag;     /* ... whose id tag is this (kept by the idempotency index) */
    uint8_t dup_conflict; /* ... with a different body (HTTP 422) */
    uint8_t dup_pending;  /* ... whose ACCEPT was not yet durable (same group): its fate decides */
    uint8_t dup_status;   /* ... whose final status the idempotency index kept (enum idem_status;
                             answers the repeat once dup_of's slot holds another transfer) */
    uint8_t has_idem;
    char idem_key[129];    /* printable ASCII idempotency key, NUL-terminated when has_idem */
    uint8_t idem_hash[16]; /* BLAKE2b-128 of idem_key (idem_key_hash), by whoever fills the job */
    uint32_t idem_slot;    /* WAL hub: the key's idempotency-index slot + 1; 0 none */
    /* Timestamps and the latest transaction hash are rewritten while HTTP readers may copy them
     * (a transfer can be re-signed), so they are atomics: readers never see a torn value. */
    _Atomic uint64_t accepted_ms;
    /* log segment holding its ACCEPT record (compaction floor). Written by the owner before it
     * publishes the status; read by compaction on the main thread while the slot may be reused,
     * hence atomic (relaxed: the status release/acquire orders it). */
    _Atomic uint64_t accept_seq;
    _Atomic uint64_t signed_ms;
    _Atomic uint64_t submitted_ms;
    _Atomic uint64_t done_ms;
    _Atomic uint64_t tx_hash_w[4]; /* the latest transaction's hash: job_tx_hash_get/set */
    char error[JOB_ERROR_MAX];     /* published once status == FAILED */
    /* Waiter: the ingest thread and its request context holding an HTTP reply for this job. */
    int16_t waiter_thread; /* -1 none */
    uint32_t waiter_req;
    uint32_t waiter_gen;
    uint8_t wait_level; /* enum job_status the waiter wants (SUBMITTED or EXECUTED) */
    uint8_t wait_final;
};

struct job_slab {
    struct job *jobs; /* anonymous mapping of capacity slots (pages appear on first touch) */
    uint64_t capacity;
    _Atomic uint64_t next_id; /* ids start at 1; slot = id % capacity */
};

/* job_slab_init: capacity zeroed slots (mmap; start-up only; memory is used only by slots a job
 * has landed in). first_id is the first id to hand out
 * (1 for a fresh data dir; max replayed id + 1 after a restart). 0 or NF_ENOMEM. */
int job_slab_init(struct job_slab *s, uint64_t capacity, uint64_t first_id);
void job_slab_destroy(struct job_slab *s);

/* job_slab_span: the slots that may hold a job: those of the ids [*first_id, *first_id + n), n =
 * min(capacity, ids handed out so far). Scans over the slab visit only these, so a fresh or
 * lightly used slab is never touched (no page faults, no resident memory for unused slots).
 * Any thread; a job allocated concurrently may fall outside (it is not durable yet). */
static inline uint64_t job_slab_span(struct job_slab *s, uint64_t *first_id)
{
    uint64_t next = atomic_load_explicit(&s->next_id, memory_order_acquire);
    uint64_t used = next > 1 ? next - 1 : 0;
    uint64_t n = used < s->capacity ? used : s->capacity;
    *first_id = next - n;
    return n;
}

/* job_slot: the slot an id maps to (may hold another id: compare job->id). */
static inline struct job *job_slot(struct job_slab *s, uint64_t id)
{
    return &s->jobs[id % s->capacity];
}

/* job_alloc_range: reserves n consecutive ids whose slots are all FREE or finished (EXECUTED /
 * FAILED with no holds, which are then recycled). Any thread (lock-free: fetch_add on next_id, then
 * a CAS per slot from its old id to the new one). Returns the first id, or 0 when the slab is full
 * around next_id (back-pressure: the caller answers 503). The caller owns the jobs until it hands
 * them on. */
uint64_t job_alloc_range(struct job_slab *s, uint32_t n);

/* job_release: marks a job the caller owns FREE (e.g. a duplicate idempotency key). */
void job_release(struct job_slab *s, struct job *j);

/* job_lookup: the job with this id if it is still in the slab, else NULL. Any thread; the result is
 * a snapshot pointer: re-check j->id == id after reading fields. */
struct job *job_lookup(struct job_slab *s, uint64_t id);

/* job_set_status: the owner publishes a new status (store-release; pairs with job_get_status). */
static inline void job_set_status(struct job *j, enum job_status st)
{
    atomic_store_explicit(&j->status, (uint8_t)st, memory_order_release);
}

/* job_tx_hash_set / job_tx_hash_get / job_tx_hash_is: the latest transaction hash, word by word
 * (relaxed atomics; the status store-release / load-acquire orders it with the rest). */
static inline void job_tx_hash_set(struct job *j, const uint8_t h[32])
{
    for (int i = 0; i < 4; i++) {
        uint64_t w;
        __builtin_memcpy(&w, h + 8 * i, 8);
        atomic_store_explicit(&j->tx_hash_w[i], w, memory_order_relaxed);
    }
}

static inline void job_tx_hash_get(const struct job *j, uint8_t h[32])
{
    for (int i = 0; i < 4; i++) {
        uint64_t w = atomic_load_explicit(&j->tx_hash_w[i], memory_order_relaxed);
        __builtin_memcpy(h + 8 * i, &w, 8);
    }
}

static inline int job_tx_hash_is(const struct job *j, const uint8_t h[32])
{
    uint8_t mine[32];
    job_tx_hash_get(j, mine);
    return __builtin_memcmp(mine, h, 32) == 0;
}

static inline void job_hold(struct job *j, uint8_t bits)
{
    atomic_fetch_or_explicit(&j->holds, bits, memory_order_relaxed);
}

/* job_unhold: release: everything the holder did with the job happens before the slot's reuse
 * (pairs with the acquire load in job_alloc_range). */
static inline void job_unhold(struct job *j, uint8_t bits)
{
    atomic_fetch_and_explicit(&j->holds, (uint8_t)~bits, memory_order_release);
}

static inline enum job_status job_get_status(const struct job *j)
{
    return (enum job_status)atomic_load_explicit(&j->status, memory_order_acquire);
}

const char *job_status_name(enum job_status st);

/* job_error_is_receiver: 1 when a failed transfer's error names its receiver (missing account,
 * not registered with the token): the Rust drop-in answers those 400, other failures 500. */
int job_error_is_receiver(const char *error);

#endif
