/* stages: what the batch, sign and submit stages and the WAL hub (src/pipeline.c) share: the
 * batch object that travels batch -> sign -> wal -> submit -> (wal) -> batch, the receiver
 * lookup messages, and the pipeline context. Ingest sees only include/pipeline.h.
 *
 * Ownership of a struct batch: the batch thread allocates it from its slab (free list owned by the
 * batch thread) and fills it; the sign thread it is routed to signs it and submits its SIGNED
 * record to the WAL; the WAL thread's done() hands it to the submit thread; the submit thread
 * resolves it, writes its OUTCOME/JOB_FINAL records, and the WAL thread's done() gives it back to
 * the batch thread's free ring. At every moment exactly one thread owns it; rings publish it. */
#ifndef NF_STAGES_H
#define NF_STAGES_H

#include <stdatomic.h>
#include <stdint.h>

#include "job.h"
#include "keypool.h"
#include "near_tx.h"
#include "nf_ring.h"
#include "pipeline.h"
#include "wal.h"

#define BATCH_MAX_ACTIONS 100
/* Signed transaction bytes a batch may use (the batch stage keeps its estimate under this). */
#define BATCH_TX_CAP (192u * 1024u)
/* WAL frames of a batch: its SIGNED record, or its OUTCOME plus one JOB_FINAL per transfer. */
#define BATCH_REC_CAP (BATCH_TX_CAP + 64u * 1024u)

/* kinds[] of a records-only batch (transfers failed before any transaction). */
#define BATCH_KIND_FAILED 0xFFu

enum batch_result {
    BATCH_PENDING = 0,
    BATCH_SUCCESS = 1,      /* every action executed */
    BATCH_ACTION_ERROR = 2, /* action failed_index failed; the receipt was reverted */
    BATCH_DEAD = 3,         /* provably never included: transfers go back to the batch stage */
};

struct batch {
    uint32_t slot;
    struct nf_pipe *pipe_;                   /* set once at slab creation */
    uint16_t n;                              /* actions */
    uint16_t n_transfers_;                   /* ft_transfer actions among them */
    uint8_t kinds[BATCH_MAX_ACTIONS];        /* enum wal_action_kind */
    uint64_t job_ids[BATCH_MAX_ACTIONS];     /* ft_transfer: its job; storage_deposit: the job whose
                                                receiver it registers */
    char sd_receiver[BATCH_MAX_ACTIONS][65]; /* storage_deposit: the account it registers */
    uint64_t gas;
    uint32_t est_bytes;
    /* sign */
    int key; /* keypool index, -1 before signing */
    uint64_t nonce;
    uint8_t block_hash[32];
    uint64_t block_height;
    uint8_t tx_hash[32];
    uint8_t *tx; /* BATCH_TX_CAP bytes (slab memory) */
    uint32_t tx_len;
    uint8_t *rec; /* BATCH_REC_CAP bytes (slab memory) */
    uint32_t rec_len;
    struct wal_batch wal;
    /* submit */
    uint16_t broadcasts;
    uint8_t maybe_accepted; /* some broadcast had an unknown outcome (it may be in a pool) */
    uint8_t recovered;      /* replayed from the log at start-up */
    uint8_t wal_failed;
    uint8_t result; /* enum batch_result */
    int32_t failed_index;
    uint64_t created_ms, signed_ms, first_sent_ms;
    uint32_t backoff_ms;
    char message[256];  /* failure text for the JOB_FINAL of a failed action */
    void *submit_state; /* submit thread's per-batch state (timer, request) */
    struct batch *next; /* intrusive list link, for the current owner's queues */
};

/* A receiver lookup: the batch stage asks, the submit stage answers (view_account, then
 * storage_balance_of on the contract). Owned like a batch: batch -> submit -> batch. */
struct lookup {
    char receiver[65];
    uint8_t receiver_len;
    int8_t exists;     /* out: 1 yes, 0 no, -1 unknown (RPC failed; retried by the batch stage) */
    int8_t registered; /* out: 1 yes, 0 no, -1 unknown */
    uint32_t slot;
};

/* Latest final block, published by the submit thread with a seqlock: the writer bumps seq to odd,
 * writes, bumps to even (release); readers retry while seq is odd or changed. */
struct block_ref {
    _Atomic uint64_t seq;
    _Atomic uint64_t height; /* atomic so readers never see a torn value */
    _Atomic uint64_t hash_words[4];
    _Atomic uint64_t updated_ms;
};

/* Per-stage figures for /metrics and /debug/stages. Each struct is written by its stage thread
 * only (relaxed atomics so readers on other threads see whole values). */
struct stage_counters {
    _Atomic uint64_t items;   /* jobs or batches handled */
    _Atomic uint64_t busy_ns; /* time spent handling them */
    _Atomic uint64_t wakeups;
    _Atomic uint64_t hist[16]; /* time per item, log2 buckets of microseconds */
};

struct nf_pipe; /* defined in src/pipeline.c; stages use the accessors below */

/* ---- accessors for stages (any thread unless said otherwise) ----------------------------------
 */
const struct cfg *pipe_cfg(struct nf_pipe *p);
struct keypool *pipe_keys(struct nf_pipe *p);
struct wal *pipe_wal(struct nf_pipe *p);
struct block_ref *pipe_block(struct nf_pipe *p);
uint64_t pipe_now_ms(void);

/* Rings into each stage (consumer = that stage's thread). */
struct nf_ring *pipe_batch_in(struct nf_pipe *p);      /* jobs from the WAL hub (spsc) */
struct nf_ring *pipe_batch_requeue(struct nf_pipe *p); /* jobs back from the WAL hub (spsc) */
struct nf_ring *pipe_batch_free(struct nf_pipe *p);    /* batches back from the WAL hub (spsc) */
struct nf_ring *pipe_batch_lookup_done(struct nf_pipe *p); /* lookups back from submit (spsc) */
struct nf_ring *pipe_sign_in(struct nf_pipe *p, unsigned signer); /* batches (spsc) */
struct nf_ring *pipe_submit_in(struct nf_pipe *p);     /* signed durable batches (spsc, WAL thr) */
struct nf_ring *pipe_submit_lookup(struct nf_pipe *p); /* lookups from batch (spsc) */

/* WAL producer index of each stage thread. */
unsigned pipe_wal_producer_batch(struct nf_pipe *p);
unsigned pipe_wal_producer_signer(struct nf_pipe *p, unsigned signer);
unsigned pipe_wal_producer_submit(struct nf_pipe *p);

/* pipe_notify_job: a stage that just published a new status of job j tells j's waiter (if any
 * and if the status reached the wait level or is final). Caller: the thread owning j. */
void pipe_notify_job(struct nf_pipe *p, struct job *j);

/* pipe_batch_signed_done / pipe_batch_outcome_done: wal_batch done() callbacks (WAL thread). */
void pipe_batch_signed_done(struct wal_batch *wb, int status);
void pipe_batch_outcome_done(struct wal_batch *wb, int status);

/* pipe_signing_allowed: 0 while start-up reconciliation runs or signing is paused (out of NEAR,
 * every RPC endpoint open). Sign threads check it before taking a nonce. */
int pipe_signing_allowed(struct nf_pipe *p);
void pipe_set_reconciled(struct nf_pipe *p);
/* pipe_set_out_of_funds / pipe_set_rpc_down: pause or resume signing (submit thread). */
void pipe_set_out_of_funds(struct nf_pipe *p, int v);
void pipe_set_out_of_tokens(struct nf_pipe *p, int v);
/* pipe_ft_supply: the token's total supply read at start-up (0 when unknown). Any thread. */
nf_u128 pipe_ft_supply(struct nf_pipe *p);
void pipe_set_rpc_down(struct nf_pipe *p, int v);
/* pipe_unqueue: n accepted transfers left the unsigned queue without a transaction (failed). */
void pipe_unqueue(struct nf_pipe *p, uint64_t n);

/* Stage counters. */
struct stage_counters *pipe_counters(struct nf_pipe *p, int stage);
enum { STAGE_WAL = 0, STAGE_BATCH, STAGE_SIGN, STAGE_SUBMIT, STAGE_COUNT };
void stage_count(struct stage_counters *c, uint64_t items, uint64_t ns);

/* block_ref_read: copies the latest final block (0 height when none yet). */
void block_ref_read(struct block_ref *b, uint8_t hash[32], uint64_t *height);
/* block_ref_write: submit thread only. */
void block_ref_write(struct block_ref *b, const uint8_t hash[32], uint64_t height);

#endif
