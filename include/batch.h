/* batch: the batch stage (see src/batch/batch.c). One thread; owns the batch slab and the
 * receiver cache. Lifecycle: batch_new -> batch_start -> batch_stop (idempotent) -> batch_free
 * (NULL-safe). Start-up code (recovery) may use batch_slot_ptr / batch_alloc_startup /
 * batch_mark_deposit_inflight before batch_start only. */
#ifndef NF_BATCH_H
#define NF_BATCH_H

#include <stddef.h>
#include <stdint.h>

struct cfg;
struct nf_pipe;
struct batch;
struct batch_stage;

struct batch_stats {
    uint64_t waiting_jobs; /* jobs waiting for a receiver lookup or deposit */
    uint64_t batches_flushed;
    uint64_t actions_flushed;
    uint64_t deposits_added;
    uint64_t receivers_missing;
    uint64_t size_hist[8]; /* 1, 2-9, 10-24, 25-49, 50-74, 75-99, 100 actions */
    uint32_t free_batches;
    uint32_t n_batches;
};

/* batch_new: n_batches slab entries (each BATCH_TX_CAP + BATCH_REC_CAP bytes of lazily touched
 * memory). Borrows c and p for the stage's life. NULL with *err on failure. */
struct batch_stage *batch_new(const struct cfg *c, struct nf_pipe *p, uint32_t n_batches, int *err);
int batch_start(struct batch_stage *s);
void batch_stop(struct batch_stage *s);
void batch_free(struct batch_stage *s);

/* Start-up only (before batch_start). */
struct batch *batch_slot_ptr(struct batch_stage *s, uint32_t slot);
struct batch *batch_alloc_startup(struct batch_stage *s);
void batch_free_startup(struct batch_stage *s, struct batch *b);
void batch_mark_deposit_inflight(struct batch_stage *s,
                                 const char *receiver,
                                 size_t len,
                                 uint32_t slot);

/* batch_stats: figures for /metrics and /debug/stages. Any thread (relaxed reads). */
void batch_stats(struct batch_stage *s, struct batch_stats *out);

#endif
