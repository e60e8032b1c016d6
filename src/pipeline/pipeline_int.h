/* pipeline_int: the hub's private state (struct nf_pipe) and the functions its files share.
 * pipeline.c builds, starts, stops and compacts; hub.c runs on the WAL thread (accept path with
 * the idempotency index of include/idem.h, batch hand-offs, waiter notification); recovery.c
 * replays the log at start-up (main thread, before any stage thread runs); status.c writes
 * /health, /metrics and /debug/stages, recent.c /debug/recent (any thread, relaxed reads). Nothing
 * outside src/pipeline includes this header. */
#ifndef NF_PIPELINE_INT_H
#define NF_PIPELINE_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "idem.h"
#include "keypool.h"
#include "pipeline_ctl.h"
#include "recent.h"
#include "stages.h"
#include "wal.h"

struct cfg;
struct batch_stage;
struct sign_stage;
struct submit_stage;

/* The ACCEPT-record arena: request bodies wait here until their records are durable. */
#define ARENA_BYTES (64u * 1024u * 1024u)

/* Buckets of nearft_transfer_duration_seconds, the last one unbounded. */
#define PIPE_TRANSFER_BUCKETS 15

/* The hub. One per nearftd; built by pipe_new on the main thread. The WAL thread owns the fields
 * marked so; the stage threads never see it (they get their wiring). */
struct nf_pipe {
    const struct cfg *cfg;
    struct spend *spend;     /* --max-amount-per-hour window: seeded by the replay, then ingest's */
    struct spend *spend_day; /* --max-amount-per-day window: the same */
    struct spend_tokens *token_spend; /* per-token windows (borrowed; may be NULL): seeded by the
                                         replay, then ingest's */
    struct job_slab jobs;
    struct keypool keys;
    struct wal *wal;
    struct wal_js *js; /* cluster mode (--cluster): the JetStream log backend, else NULL */
    unsigned n_ingest, n_sign;
    struct nf_ring *reply;
    struct nf_ring *sign_in;
    struct nf_ring batch_in, batch_requeue, batch_free, batch_lookup_done, submit_in, submit_lookup;
    struct batch_stage *batch;
    struct sign_stage *sign;
    struct submit_stage *submit;
    uint32_t n_batches;
    _Atomic int stopping;
    struct stage_shared shared; /* signing flags, supply, unsigned count, latest block */
    struct stage_counters ctr[STAGE_COUNT];
    /* WAL-thread state (the main thread's during replay) */
    struct idem_index idem; /* the idempotency index: its figures any thread may read */
    uint8_t *arena;
    uint64_t arena_head, arena_tail; /* monotonic byte counters; used = head - tail */
    /* figures */
    _Atomic uint64_t accepted, duplicates, conflicts, executed, failed, requeued, accept_full;
    uint64_t start_ms;
    uint64_t replayed_records, replayed_jobs, replayed_batches;
    uint64_t last_rotate_ms;
    /* WAL-thread state: rings whose consumer must be woken at the end of the current group */
    uint8_t *reply_pending;
    uint8_t batch_in_pending, submit_in_pending, requeue_pending, free_pending;
    uint32_t signed_retry_ms; /* back-off after a SIGNED write failed: 0, 100 ms doubling to 5 s */
    _Atomic uint64_t segments_deleted;
    struct recent recent; /* last failures, latency histogram: the WAL thread writes (hub.c) */
    /* Time from acceptance to a final status, by [0] executed and [1] failed: bucket b counts
     * transfers that took at most pipe_transfer_le_ms[b] (the last one: longer). Written by the
     * WAL thread only (hub_outcome_done); relaxed atomics so a scrape on any thread reads whole
     * values. */
    _Atomic uint64_t transfer_hist[2][PIPE_TRANSFER_BUCKETS];
    _Atomic uint64_t transfer_sum_ms[2];
};

/* Upper bounds (ms) of the transfer-duration buckets but the last (+Inf). */
extern const uint32_t pipe_transfer_le_ms[PIPE_TRANSFER_BUCKETS - 1];

/* ---- hub.c: what the WAL thread runs for the hub --------------------------------------------- */

/* The struct stage_hub callbacks every stage gets (see include/stages.h). */
void hub_notify_job(void *ctx, struct job *j);
void hub_signed_done(struct wal_batch *wb, int status);
void hub_outcome_done(struct wal_batch *wb, int status);
/* hub_group_end: wal_opts.on_group_end: one wake per ring that got something in the group. */
void hub_group_end(void *arg);
/* hub_idem_final: the idempotency status a final job j keeps (IDEM_EXECUTED, IDEM_FAILED or
 * IDEM_FAILED_RECEIVER). WAL thread, or the main thread during replay. */
enum idem_status hub_idem_final(const struct job *j, enum job_status st);

/* ---- recovery.c: start-up replay (main thread, before the stage threads start) --------------- */

struct recovery {
    struct nf_pipe *p;
    const struct wal_replay_stats *stats; /* cur_seq: segment of the record being replayed */
    struct batch **live;                  /* recovered batches without an outcome yet */
    uint32_t n_live, cap_live;
    uint64_t max_id;
    uint64_t replay_ms;
    uint64_t now_ms;            /* wall clock at the start of the replay, moved on by a
                                   record written after it (a standby's replay) */
    uint64_t idem_dropped_kept; /* keys the index had no room for although still promised */
    int error;
};

/* recovery_replay: replays c->data_dir into p (jobs, idempotency keys, nonces) and r (signed
 * batches without an outcome, held in batch slots). Needs p's job slab, key pool, idempotency
 * map and batch stage; the log must not be open. 0 or a negative nf_err (logged). */
int recovery_replay(struct nf_pipe *p, struct recovery *r);
/* recovery_seed: after the stages exist: jobs still waiting for a transaction go to the batch
 * stage, unresolved transactions to submit (reconciled before anything is signed). Returns how
 * many jobs were queued. */
uint64_t recovery_seed(struct nf_pipe *p, struct recovery *r);
/* recovery_free: releases r's own memory (the batches stay with their stages). */
void recovery_free(struct recovery *r);

#endif
