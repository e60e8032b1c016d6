/* submit: the submit stage (see src/submit/submit.c): one thread driving curl multi on its own
 * event_base. Lifecycle: submit_new -> (submit_bind_batch for every batch slot,
 * submit_expect_recovered) -> submit_start -> submit_stop (idempotent) -> submit_free
 * (NULL-safe). */
#ifndef NF_SUBMIT_H
#define NF_SUBMIT_H

#include <stdint.h>

struct cfg;
struct nf_pipe;
struct batch;
struct submit_stage;

#define SUBMIT_KINDS 48

struct submit_stats {
    uint64_t sent, resent, succeeded, action_errors, dead, lookups, inflight_batches;
    uint64_t kind_count[SUBMIT_KINDS]; /* RPC answers by enum rpc_kind */
    uint64_t lat_hist[16];             /* RPC latency, log2 ms buckets */
};

struct submit_endpoint_info {
    char url[512];
    int state; /* enum breaker_state_e */
    uint64_t opens, closes, requests, errors, rate_limited;
    uint32_t inflight, limit;
};

/* submit_new: borrows c and p for the stage's life. NULL with *err on failure. */
struct submit_stage *
submit_new(const struct cfg *c, struct nf_pipe *p, uint32_t n_batches, int *err);
/* submit_bind_batch: prepares the per-batch timer of b's slot (start-up). */
int submit_bind_batch(struct submit_stage *s, struct batch *b);
/* submit_expect_recovered: n replayed batches are being reconciled; signing resumes after. */
void submit_expect_recovered(struct submit_stage *s, uint32_t n);
int submit_start(struct submit_stage *s);
void submit_stop(struct submit_stage *s);
void submit_free(struct submit_stage *s);
/* submit_all_open: 1 when no endpoint's breaker is closed (each is open or only probing). */
int submit_all_open(struct submit_stage *s);
/* Figures: any thread (relaxed reads). */
void submit_stats(struct submit_stage *s, struct submit_stats *out);
unsigned submit_endpoint_count(struct submit_stage *s);
void submit_endpoint_info(struct submit_stage *s, unsigned i, struct submit_endpoint_info *out);

#endif
