/* batch: the batch stage (see src/batch/batch.c). One thread; owns the batch slab and the
 * receiver cache. Lifecycle: batch_new -> (batch_wire_wal) -> batch_start -> batch_stop
 * (idempotent) -> batch_free (NULL-safe); the controlling thread (main) calls all of them.
 * Start-up code (recovery) may use batch_slot_ptr / batch_alloc_startup / batch_free_startup /
 * batch_mark_deposit_inflight before batch_start only. */
#ifndef NF_BATCH_H
#define NF_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "stages.h"

struct cfg;
struct batch;
struct batch_stage;

/* What the batch stage is wired to. The caller lends every pointer for the stage's life.
 *  receives  in           durable jobs (struct job *, status QUEUED)            spsc consumer
 *            requeue      jobs that need a new transaction                      spsc consumer
 *            free_batches its own batches back once their outcome is durable    spsc consumer
 *            lookup_done  answered receiver lookups (struct lookup *)           spsc consumer
 *  emits     sign_in[i]   flushed batches, round robin over cfg->sign_threads   spsc producer
 *            lookup_out   receiver lookups for the submit stage                 spsc producer
 *            wal          JOB_FINAL records of transfers that fail here, as producer wal_producer,
 *                         in a records-only batch whose done() is hub.outcome_done
 *  shared    reads cfg; writes the status of the jobs it holds and tells hub.notify_job;
 *            stage_unqueue(shared) for each transfer failed here; counts into counters. */
struct batch_wiring {
    const struct cfg *cfg;
    struct job_slab *jobs;
    struct nf_ring *in, *requeue, *free_batches, *lookup_done;
    struct nf_ring *sign_in; /* cfg->sign_threads rings */
    struct nf_ring *lookup_out;
    struct wal *wal; /* may be NULL at batch_new: see batch_wire_wal */
    unsigned wal_producer;
    struct stage_shared *shared;
    struct stage_counters *counters;
    struct stage_hub hub;
};

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
 * memory). Copies *w; borrows what it points to for the stage's life. Starts nothing. NULL with
 * *err = NF_ENOMEM on failure. */
struct batch_stage *batch_new(const struct batch_wiring *w, uint32_t n_batches, int *err);
/* batch_wire_wal: the log to write failures to, when it did not exist at batch_new (the hub
 * replays the log into the slab before it opens a new segment). Before batch_start. */
void batch_wire_wal(struct batch_stage *s, struct wal *wal, unsigned producer);
/* batch_start: starts the "batch" thread. 0, NF_ESTATE (started already, or no log wired) or
 * NF_EIO (the thread could not start). */
int batch_start(struct batch_stage *s);
/* batch_stop: stops and joins the thread; jobs and batches in flight stay where they are.
 * Idempotent; safe on a stage that never started. */
void batch_stop(struct batch_stage *s);
/* batch_free: stops if needed and releases the slab. NULL-safe. */
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
