/* pipeline: what the ingest stage sees of the rest of nearftd. The pipeline owns the job slab, the
 * durable log (WAL) hub, and the batch, sign and submit stages; ingest threads hand it accepted
 * transfers and get answers back through their own reply ring.
 *
 * Flow of one HTTP request (thread in brackets):
 *  [ingest i] parse -> job_alloc_range(n) -> fill the jobs (status CLAIMED) -> fill a
 *             struct pipe_accept it owns -> pipe_accept_submit(). NF_EFULL => HTTP 503.
 *  [wal]      idempotency check (the WAL thread owns the key index), ACCEPT records written and
 *             synced as one group commit, jobs become QUEUED and go to the batch stage; then the
 *             pipe_accept is pushed back into ingest i's reply ring (tag PIPE_MSG_ACCEPTED).
 *  [ingest i] answers 202 (or keeps the request open when it waits for submitted/executed).
 *  [batch/submit] every time a job with a waiter (job->waiter_thread == i) reaches its wait level
 *             or a final state, the job pointer is pushed into ingest i's reply ring (tag
 *             PIPE_MSG_JOB). Ingest i owns job->waiter_* and decides whether the request is done.
 * Replies arrive as tagged pointers: use pipe_msg_tag() / pipe_msg_ptr(). */
#ifndef NF_PIPELINE_H
#define NF_PIPELINE_H

#include <stdint.h>

#include "job.h"
#include "nf_ring.h"
#include "wal.h"

struct cfg;
struct nf_pipe;

enum pipe_msg_tag {
    PIPE_MSG_ACCEPTED = 0, /* pointer is the struct pipe_accept given to pipe_accept_submit */
    PIPE_MSG_JOB = 1,      /* pointer is a struct job whose waiter is this ingest thread */
};

static inline void *pipe_msg_make(void *p, enum pipe_msg_tag tag)
{
    return (void *)((uintptr_t)p | (uintptr_t)tag);
}
static inline enum pipe_msg_tag pipe_msg_tag(void *m)
{
    return (enum pipe_msg_tag)((uintptr_t)m & 1u);
}
static inline void *pipe_msg_ptr(void *m)
{
    return (void *)((uintptr_t)m & ~(uintptr_t)1u);
}

/* One durable-accept request, owned by the ingest thread that submits it (lives in its request
 * context), lent to the pipeline from pipe_accept_submit until it comes back in the reply ring. */
struct pipe_accept {
    uint64_t first_id; /* jobs first_id .. first_id+n-1, filled, status CLAIMED */
    uint32_t n;
    uint32_t keyed;         /* how many of the jobs carry an idempotency key (job->idem_hash set) */
    uint16_t ingest_idx;    /* reply ring to push it back to */
    int status;             /* out: 0 durable; NF_EIO (log write failed) => 503; NF_EIDEMFULL: the
                               idempotency index is full of keys it must keep => 503, nothing written */
    uint32_t retry_after_s; /* out, with NF_EIDEMFULL: when the oldest key may be dropped */
    uint32_t duplicates;    /* out: how many jobs were idempotent repeats (see job->dup_of) */
    void *cookie;           /* ingest's request context */
    /* The NAME of the request's bearer token (not NUL-terminated; token_len 0: none), written
     * into each ACCEPT record so that the token's hourly budget survives a restart. A copy: the
     * token table may be replaced while the request waits for the log. */
    uint8_t token_len;
    char token[WAL_REC_TOKEN_MAX];
    /* pipeline-private from here on */
    struct nf_pipe *internal_pipe;
    struct wal_batch wal;
    uint64_t arena_bytes;
    uint32_t new_jobs;
};

/* pipe_reply_ring: ingest thread idx's reply ring (consumer: that thread; producers: any). */
struct nf_ring *pipe_reply_ring(struct nf_pipe *p, unsigned idx);

/* pipe_jobs: the job slab (any thread may look jobs up; see job.h for the read protocol). */
struct job_slab *pipe_jobs(struct nf_pipe *p);

/* pipe_accept_submit: lends a to the pipeline. 0, or NF_EFULL (ring full or the durable queue is
 * at --queue-capacity: answer 503 Retry-After; a still belongs to the caller, who must release the
 * jobs with job_release). Calling thread: ingest idx (= a->ingest_idx). */
int pipe_accept_submit(struct nf_pipe *p, struct pipe_accept *a);

/* pipe_accept_submit_nowake / pipe_accept_wake: the burst form of pipe_accept_submit. An ingest
 * thread lends every accept of one event-loop pass without waking the WAL thread, then calls
 * pipe_accept_wake once (one eventfd write per pass instead of one per request). Same contract and
 * return values as pipe_accept_submit; the wake is mandatory after any successful nowake submit. */
int pipe_accept_submit_nowake(struct nf_pipe *p, struct pipe_accept *a);
void pipe_accept_wake(struct nf_pipe *p);

/* pipe_refusal_reason: why pipe_accept_submit* just answered NF_EFULL, as a static sentence for
 * the 503 body (out of NEAR, out of tokens, stopping, or the durable queue is full). Any thread. */
const char *pipe_refusal_reason(struct nf_pipe *p);

/* pipe_spend: the --max-amount-per-hour window (include/spend.h), rebuilt from the log before the
 * pipeline starts; the pipeline owns it, ingest threads reserve from it. Any thread. */
struct spend *pipe_spend(struct nf_pipe *p);

/* pipe_spend_day: the --max-amount-per-day window, the same way. Any thread. */
struct spend *pipe_spend_day(struct nf_pipe *p);

/* pipe_retry_after_s: seconds a 503 should tell clients to wait (from the current load/breaker). */
unsigned pipe_retry_after_s(struct nf_pipe *p);

/* pipe_health_json / pipe_metrics_text / pipe_stages_json: write the /health JSON, the Prometheus
 * exposition and the /debug/stages JSON into out (cap bytes); return the length or NF_ENOSPC.
 * Any thread (they read counters and published state only). *healthy = 1 when /health is green. */
int pipe_health_json(struct nf_pipe *p, char *out, size_t cap, int *healthy);
int pipe_metrics_text(struct nf_pipe *p, char *out, size_t cap);
int pipe_stages_json(struct nf_pipe *p, char *out, size_t cap);
/* pipe_recent_json: the /debug/recent JSON the status page polls: now_ms, the transfer counters
 * since start, the accept-to-final latency histogram and the last failures with their reasons
 * (include/recent.h). Same contract as the three above. */
int pipe_recent_json(struct nf_pipe *p, char *out, size_t cap);

/* pipe_tx_jobs: the ids of the transfers whose latest transaction is tx_hash (GET /v1/tx/{hash}).
 * Writes up to cap ids; returns the count (0 when unknown). Any thread. */
int pipe_tx_jobs(struct nf_pipe *p, const uint8_t tx_hash[32], uint64_t *ids, int cap);

#endif
