/* sign: the sign stage (see src/sign/sign.c): --sign-threads threads, each owning a disjoint shard
 * of the signer's keys and their nonce counters. Lifecycle: sign_new -> sign_start -> sign_stop
 * (idempotent) -> sign_free (NULL-safe), all from the controlling thread (main). */
#ifndef NF_SIGN_H
#define NF_SIGN_H

#include <stdint.h>

#include "stages.h"

struct cfg;
struct sign_stage;

/* What the sign stage is wired to. The caller lends every pointer for the stage's life.
 *  receives  in[i]    batches to sign, for signer thread i (i < cfg->sign_threads)   spsc consumer
 *  emits     wal      each signed batch's SIGNED record (plus KEY_NONCE when a nonce is raised)
 *                     as producer wal_producer_first + i; its done() is hub.signed_done, which
 *                     passes the batch on to submit. A batch that cannot be signed goes the same
 *                     way as an empty barrier, marked BATCH_DEAD, so its transfers are requeued.
 *  shared    keys: signer i owns the nonces of the keys whose shard is i, reads every key's
 *            inflight count; reads shared (signing allowed, the latest block) and the jobs of the
 *            batches it holds; counts into counters. Woken on in[i] also when a key frees up. */
struct sign_wiring {
    const struct cfg *cfg;
    struct job_slab *jobs;
    struct keypool *keys;
    struct nf_ring *in; /* cfg->sign_threads rings */
    struct wal *wal;
    unsigned wal_producer_first;
    struct stage_shared *shared;
    struct stage_counters *counters;
    struct stage_hub hub;
};

struct sign_stats {
    uint64_t held;   /* batches waiting for a key with room, a block hash, or un-pausing */
    uint64_t errors; /* batches that could not be signed (encoding limits) */
};

/* sign_new: one signer per cfg->sign_threads, each with its own event_base. Copies *w; borrows
 * what it points to for the stage's life. Starts nothing. NULL with *err (NF_ENOMEM) on failure. */
struct sign_stage *sign_new(const struct sign_wiring *w, int *err);
/* sign_start: starts the threads "sign-0".. . 0, or NF_EIO when one could not start (those
 * started run until sign_stop). */
int sign_start(struct sign_stage *st);
/* sign_stop: stops and joins the threads; held batches stay held. Idempotent. */
void sign_stop(struct sign_stage *st);
/* sign_free: stops if needed and releases everything. NULL-safe. */
void sign_free(struct sign_stage *st);
/* sign_stats: any thread (relaxed reads). */
void sign_stats(struct sign_stage *st, struct sign_stats *out);

#endif
