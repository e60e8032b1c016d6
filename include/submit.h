/* submit: the submit stage (see src/submit/submit.c): one thread driving curl multi on its own
 * event_base. Lifecycle: submit_new -> (submit_bind_batch for every batch slot,
 * submit_expect_recovered) -> submit_start -> submit_stop (idempotent) -> submit_free
 * (NULL-safe). */
#ifndef NF_SUBMIT_H
#define NF_SUBMIT_H

#include <stdint.h>

#include "stages.h"

struct cfg;
struct batch;
struct submit_stage;

/* What the submit stage is wired to. The caller lends every pointer for the stage's life.
 *  receives  in           batches whose SIGNED record is durable (or BATCH_DEAD)  spsc consumer
 *            lookup_in    receiver lookups from the batch stage                   spsc consumer
 *  emits     lookup_done  the same lookups, answered                              spsc producer
 *            wal          each resolved batch's OUTCOME + JOB_FINAL records as producer
 *                         wal_producer; their done() is hub.outcome_done, which requeues what
 *                         needs a new transaction and frees the batch
 *            sign_in[i]   wake-ups only (a key freed up, signing resumed): it never pushes
 *  shared    writes shared (the flags, the latest block) and the status of the jobs in the
 *            batches it holds, telling hub.notify_job; keys: releases inflight counts and raises
 *            nonces of keys whose nonce the chain reports ahead; counts into counters. */
struct submit_wiring {
    const struct cfg *cfg;
    struct job_slab *jobs;
    struct keypool *keys;
    struct nf_ring *in, *lookup_in, *lookup_done;
    struct nf_ring *sign_in; /* keys->shards rings */
    struct wal *wal;
    unsigned wal_producer;
    struct stage_shared *shared;
    struct stage_counters *counters;
    struct stage_hub hub;
};

#define SUBMIT_KINDS 48

/* Verdicts of the dead proof (src/submit/submit.c, start_proof), the result label of
 * nearft_dead_proofs_total. */
enum submit_proof_result {
    SUBMIT_PROOF_DEAD = 0,   /* nonce used or window over at one endpoint's final height, and the
                                same endpoint does not know the hash: re-signed */
    SUBMIT_PROOF_NOT_PROVEN, /* neither at that endpoint's final height: the same bytes again */
    SUBMIT_PROOF_KNOWN,      /* the endpoint knows the hash: followed */
    SUBMIT_PROOF_FAILED,     /* an answer or the endpoint was unusable: the same bytes again */
    SUBMIT_PROOF_RESULTS
};

/* submit_proof_result_name: "dead", "not_proven", "known", "failed" (static); "?" otherwise. */
const char *submit_proof_result_name(int result);

struct submit_stats {
    uint64_t sent, resent, succeeded, action_errors, dead, lookups, inflight_batches;
    uint64_t outcome_rewrites;         /* outcome records written again after a failed write */
    uint64_t kind_count[SUBMIT_KINDS]; /* RPC answers by enum rpc_kind */
    uint64_t lat_hist[16]; /* RPC latency: bucket b < 15 counts [2^b, 2^(b+1)) ms (b 0: under
                              2 ms), bucket 15 the rest */
    uint64_t lat_sum_ms;   /* sum of the latencies lat_hist counts */
    uint64_t dead_proofs[SUBMIT_PROOF_RESULTS]; /* by enum submit_proof_result */
};

struct submit_endpoint_info {
    char url[512]; /* scheme://host[:port] only (rpc_url_redact): no path, query or userinfo */
    int state;     /* enum breaker_state_e */
    uint64_t opens, closes, requests, errors, rate_limited;
    uint32_t inflight, limit;
};

/* submit_new: one curl multi handle on its own event_base, for batch slots 0..n_batches-1. Copies
 * *w; borrows what it points to for the stage's life. Starts nothing. NULL with *err (NF_ENOMEM)
 * on failure. Controlling thread (main), as are every function down to submit_free. */
struct submit_stage *submit_new(const struct submit_wiring *w, uint32_t n_batches, int *err);
/* submit_bind_batch: prepares the per-batch timer of b's slot. Before submit_start; 0 or
 * NF_ENOMEM. */
int submit_bind_batch(struct submit_stage *s, struct batch *b);
/* submit_expect_recovered: n replayed batches are being reconciled; signing resumes (shared
 * reconciled) once they are resolved. Before submit_start. */
void submit_expect_recovered(struct submit_stage *s, uint32_t n);
/* submit_start: starts the "submit" thread. 0, NF_ESTATE (started already) or NF_EIO. */
int submit_start(struct submit_stage *s);
/* submit_stop: stops and joins the thread; requests in flight are abandoned (their batches are
 * durable and resolved again at the next start). Idempotent. */
void submit_stop(struct submit_stage *s);
/* submit_free: stops if needed and releases everything. NULL-safe. */
void submit_free(struct submit_stage *s);
/* submit_all_open: 1 when no endpoint's breaker is closed (each is open or only probing). */
int submit_all_open(struct submit_stage *s);
/* Figures: any thread (relaxed reads). */
void submit_stats(struct submit_stage *s, struct submit_stats *out);
unsigned submit_endpoint_count(struct submit_stage *s);
void submit_endpoint_info(struct submit_stage *s, unsigned i, struct submit_endpoint_info *out);

#endif
