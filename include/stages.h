/* stages: what the batch, sign and submit stages and the WAL hub (src/pipeline/) share: the
 * batch object that travels batch -> sign -> wal -> submit -> (wal) -> batch, the receiver
 * lookup messages, the shared signing state, the stage counters and the hub's callbacks. Each
 * stage's header declares its wiring (the rings it consumes and feeds) on top of these; nothing
 * here names the hub, so a stage builds and tests without it. Ingest sees only
 * include/pipeline.h.
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
#include "u128.h"
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
    void *hub;                               /* stage_hub.ctx, set once at slab creation */
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
    uint8_t outcome_retry; /* hub -> submit: its outcome records were not written: again */
    uint8_t result;        /* enum batch_result */
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

/* What every stage may read and the submit thread (and the hub before start) writes: whether
 * signing may go on, the token's supply, the count of accepted transfers not yet in a durable
 * signed transaction, and the latest final block. Owned by the hub (struct nf_pipe embeds it);
 * stages get a pointer in their wiring. Every field is an atomic: no thread takes a lock. */
struct stage_shared {
    _Atomic int reconciled;    /* start-up reconciliation finished (release: submit thread) */
    _Atomic int out_of_funds;  /* the signer cannot pay for gas (submit thread) */
    _Atomic int out_of_tokens; /* the signer's token balance is too low (submit thread) */
    _Atomic int out_of_state;  /* the contract lacks NEAR for its state (submit thread) */
    _Atomic int rpc_down;      /* every RPC endpoint's breaker is open (submit thread) */
    /* signing waits until this wall-clock ms after a SIGNED record could not be written; 0 = no
     * wait (WAL thread) */
    _Atomic uint64_t log_retry_ms;
    _Atomic uint64_t ft_supply_lo, ft_supply_hi; /* the token's total supply (start-up) */
    _Atomic uint64_t unsigned_jobs; /* accepted, not yet in a durable signed transaction */
    struct block_ref block;         /* written by the submit thread only */
};

/* What the hub lends each stage at x_new: the callbacks that cross back into it. A stage calls
 * them and never names a hub function, so it links and tests without the hub. */
struct stage_hub {
    void *ctx; /* the hub; passed back to notify_job and kept in each batch's hub field */
    /* notify_job: a stage that just published a new status of job j tells j's waiter (if any and
     * if the status reached the wait level or is final). Caller: the thread owning j. */
    void (*notify_job)(void *ctx, struct job *j);
    /* wal_batch done() callbacks (run on the WAL thread) a stage sets on a batch's records:
     * signed_done after its SIGNED record, outcome_done after its OUTCOME/JOB_FINAL records (or
     * the JOB_FINALs of a records-only batch). The batch is wb->cookie. */
    void (*signed_done)(struct wal_batch *wb, int status);
    void (*outcome_done)(struct wal_batch *wb, int status);
};

enum { STAGE_WAL = 0, STAGE_BATCH, STAGE_SIGN, STAGE_SUBMIT, STAGE_COUNT };
/* stage_count: items handled in ns. The owning stage thread only. */
void stage_count(struct stage_counters *c, uint64_t items, uint64_t ns);

/* block_ref_read: copies the latest final block (0 height when none yet). Any thread. */
void block_ref_read(struct block_ref *b, uint8_t hash[32], uint64_t *height);
/* block_ref_write: submit thread only. */
void block_ref_write(struct block_ref *b, const uint8_t hash[32], uint64_t height);

/* stage_signing_allowed: 0 while start-up reconciliation runs or signing is paused (out of NEAR,
 * out of tokens, every RPC endpoint open, a SIGNED record just failed to be written). Sign threads
 * check it before taking a nonce. Any thread. */
int stage_signing_allowed(struct stage_shared *s);
/* stage_set_*: flips a flag and logs the change once. The submit thread (the hub at start-up for
 * reconciled when nothing needs reconciling). */
void stage_set_reconciled(struct stage_shared *s);
void stage_set_out_of_funds(struct stage_shared *s, int v);
void stage_set_out_of_state(struct stage_shared *s, int v);
void stage_set_out_of_tokens(struct stage_shared *s, int v);
void stage_set_rpc_down(struct stage_shared *s, int v);
/* stage_set_log_retry: signing waits until until_ms (wall clock); 0 ends the wait. Logs when a
 * wait starts and ends. The WAL thread (after a SIGNED record's write). */
void stage_set_log_retry(struct stage_shared *s, uint64_t until_ms);
/* stage_set_ft_supply / stage_ft_supply: the token's total supply (0 when unknown). */
void stage_set_ft_supply(struct stage_shared *s, nf_u128 supply);
nf_u128 stage_ft_supply(struct stage_shared *s);
/* stage_unqueue: n accepted transfers left the unsigned queue without a transaction (failed). */
void stage_unqueue(struct stage_shared *s, uint64_t n);

#endif
