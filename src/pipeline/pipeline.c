/* pipeline: builds and owns nearftd's stages and the rings between them, the job slab, the key
 * pool, and the WAL hub. The hub's code runs on the WAL thread (wal_batch pre/done callbacks): it
 * owns the idempotency map and the ACCEPT-record arena, turns durable accepts into QUEUED jobs for
 * the batch stage and answers ingest; it passes durable SIGNED batches to submit, and after an
 * outcome is durable it requeues the transfers that need a new transaction and returns the batch
 * to the batch stage. Start-up replays the WAL to rebuild jobs, idempotency keys and unresolved
 * signed transactions (reconciled by submit before any new signing). Any thread may read the
 * figures for /health, /metrics and /debug/stages. */
#include "pipeline_ctl.h"

#include <dirent.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "batch.h"
#include "breaker.h"
#include "cfg.h"
#include "jw.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_mem.h"
#include "nf_time.h"
#include "rpc.h"
#include "sign.h"
#include "stages.h"
#include "submit.h"
#include "wal_rec.h"

#define ARENA_BYTES (64u * 1024u * 1024u)

struct idem_entry {
    uint8_t key[16]; /* BLAKE2b-128 of the idempotency key; all zero = never used */
    uint64_t job_id; /* 0 = tombstone */
    uint64_t body_hash;
};

struct nf_pipe {
    const struct cfg *cfg;
    struct job_slab jobs;
    struct keypool keys;
    struct wal *wal;
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
    /* WAL-thread state */
    struct idem_entry *idem;
    uint32_t idem_cap, idem_used;
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
    _Atomic uint64_t segments_deleted;
};

/* ---- what ingest and main see (include/pipeline.h, include/pipeline_ctl.h) ------------------ */

struct job_slab *pipe_jobs(struct nf_pipe *p)
{
    return &p->jobs;
}

struct nf_ring *pipe_reply_ring(struct nf_pipe *p, unsigned idx)
{
    return &p->reply[idx];
}

void pipe_set_ft_supply(struct nf_pipe *p, nf_u128 supply)
{
    stage_set_ft_supply(&p->shared, supply);
}

/* ---- waiters -----------------------------------------------------------------------------------
 */

static void hub_notify_job(void *ctx, struct job *j)
{
    struct nf_pipe *p = ctx;
    int t = j->waiter_thread;
    if (t < 0 || (unsigned)t >= p->n_ingest)
        return;
    enum job_status st = job_get_status(j);
    if (st < j->wait_level && st != JOB_FAILED)
        return;
    struct nf_ring *r = &p->reply[t];
    if (nf_ring_push_mpsc(r, pipe_msg_make(j, PIPE_MSG_JOB)) == 0)
        nf_ring_wake(r);
    /* A full reply ring (it holds every request context of that thread) cannot happen; if it
     * did, the request still ends at its wait timeout with the current state. */
}

/* ---- idempotency map (WAL thread)
 * ---------------------------------------------------------------- */

static void idem_hash(const char *key, size_t len, uint8_t out[16])
{
    crypto_generichash(out, 16, (const unsigned char *)key, len, NULL, 0);
}

static int entry_live(struct nf_pipe *p, const struct idem_entry *e)
{
    if (e->job_id == 0)
        return 0;
    struct job *j = job_slot(&p->jobs, e->job_id);
    return atomic_load_explicit(&j->id, memory_order_acquire) == e->job_id;
}

/* idem_find: the live entry for key, or NULL; *slot gets a free/tombstone slot to insert. */
static struct idem_entry *idem_find(struct nf_pipe *p, const uint8_t key[16], uint32_t *slot)
{
    uint32_t mask = p->idem_cap - 1;
    uint32_t i;
    memcpy(&i, key, sizeof(i));
    *slot = UINT32_MAX;
    static const uint8_t zero[16];
    for (uint32_t probes = 0; probes < p->idem_cap; probes++, i = (i + 1) & mask) {
        struct idem_entry *e = &p->idem[i & mask];
        if (memcmp(e->key, zero, 16) == 0) {
            if (*slot == UINT32_MAX)
                *slot = i & mask;
            return NULL;
        }
        if (memcmp(e->key, key, 16) == 0) {
            if (entry_live(p, e))
                return e;
            if (*slot == UINT32_MAX)
                *slot = i & mask;
            return NULL;
        }
        if (!entry_live(p, e) && *slot == UINT32_MAX)
            *slot = i & mask;
    }
    return NULL;
}

static void idem_insert(
    struct nf_pipe *p, const uint8_t key[16], uint32_t slot, uint64_t id, uint64_t body_hash)
{
    if (slot == UINT32_MAX)
        return; /* table full of live keys: the key is not remembered (documented limit) */
    struct idem_entry *e = &p->idem[slot];
    static const uint8_t zero[16];
    if (memcmp(e->key, zero, 16) == 0)
        p->idem_used++;
    memcpy(e->key, key, 16);
    e->job_id = id;
    e->body_hash = body_hash;
}

/* ---- accept path (WAL thread callbacks) --------------------------------------------------------
 */

static void accept_pre(struct wal_batch *wb)
{
    struct pipe_accept *a = wb->cookie;
    struct nf_pipe *p = a->internal_pipe;
    /* An ACCEPT frame is at most ~520 bytes (256-byte memo, 128-byte key, 64-byte receiver). */
    uint64_t need = (uint64_t)a->n * 640u;
    a->arena_bytes = 0;
    a->new_jobs = 0;
    wb->data = NULL;
    wb->len = 0;
    if (p->arena_head - p->arena_tail + need > ARENA_BYTES ||
        (p->arena_head % ARENA_BYTES) + need > ARENA_BYTES) {
        /* wrap: skip the tail end of the arena if the block does not fit contiguously */
        uint64_t pad = ARENA_BYTES - (p->arena_head % ARENA_BYTES);
        if (p->arena_head - p->arena_tail + pad + need > ARENA_BYTES) {
            a->status = NF_EFULL;
            wb->skip = 1;
            return;
        }
        p->arena_head += pad;
        a->arena_bytes += pad;
    }
    uint8_t *base = p->arena + (p->arena_head % ARENA_BYTES);
    size_t off = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        struct job *j = job_slot(&p->jobs, a->first_id + i);
        j->dup_of = 0;
        j->dup_conflict = 0;
        if (j->has_idem) {
            uint8_t key[16];
            uint32_t slot;
            idem_hash(j->idem_key, strlen(j->idem_key), key);
            struct idem_entry *e = idem_find(p, key, &slot);
            if (e != NULL) {
                j->dup_of = e->job_id;
                j->dup_conflict = e->body_hash != j->body_hash;
                continue;
            }
            idem_insert(p, key, slot, a->first_id + i, j->body_hash);
        }
        struct wal_rec rec = {.type = WAL_ACCEPT};
        rec.accept.id = a->first_id + i;
        rec.accept.ts_ms = j->accepted_ms;
        rec.accept.route = j->route;
        rec.accept.receiver.ptr = j->receiver;
        rec.accept.receiver.len = j->receiver_len;
        rec.accept.amount = j->amount;
        rec.accept.memo.ptr = j->has_memo ? j->memo : NULL;
        rec.accept.memo.len = j->memo_len;
        rec.accept.idem_key.ptr = j->has_idem ? j->idem_key : NULL;
        rec.accept.idem_key.len = j->has_idem ? strlen(j->idem_key) : 0;
        rec.accept.body_hash = j->body_hash;
        size_t len = 0;
        if (wal_rec_encode_framed(&rec, base + off, need - off, &len) != 0) {
            a->status = NF_EINVAL;
            wb->skip = 1;
            return;
        }
        off += len;
        a->new_jobs++;
    }
    /* Reserve only what was written: frames are ~100-200 bytes, the check above is worst case. */
    p->arena_head += off;
    a->arena_bytes += off;
    wb->data = base;
    wb->len = off;
}

static void accept_done(struct wal_batch *wb, int status)
{
    struct pipe_accept *a = wb->cookie;
    struct nf_pipe *p = a->internal_pipe;
    p->arena_tail += a->arena_bytes; /* done() runs in write order: FIFO release */
    a->arena_bytes = 0;
    if (status != 0 && a->status == 0)
        a->status = status;
    if (a->status == 0) {
        int pushed = 0;
        uint32_t dups = 0;
        for (uint32_t i = 0; i < a->n; i++) {
            struct job *j = job_slot(&p->jobs, a->first_id + i);
            if (j->dup_of) {
                dups++;
                continue;
            }
            /* The slot stays ours until the job's final record is durable (outcome_done). */
            j->accept_seq = wb->seq;
            job_hold(j, JOB_HOLD_PIPE);
            job_set_status(j, JOB_QUEUED);
            if (nf_ring_push_spsc(&p->batch_in, j) == 0)
                pushed = 1;
        }
        a->duplicates = dups;
        if (pushed)
            p->batch_in_pending = 1;
        atomic_fetch_add_explicit(&p->shared.unsigned_jobs, a->n - dups, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->accepted, a->n - dups, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->duplicates, dups, memory_order_relaxed);
    }
    /* a is the ingest thread's again the moment it is in the ring (it may already be reused for
     * the next request): read what we need first. */
    unsigned idx = a->ingest_idx;
    if (nf_ring_push_mpsc(&p->reply[idx], pipe_msg_make(a, PIPE_MSG_ACCEPTED)) == 0)
        p->reply_pending[idx] = 1; /* woken once per group: wal_group_end */
}

/* wal_group_end: the WAL thread finished a group's done() callbacks: one wake per ring that got
 * something, instead of one per batch (each wake is a syscall and often a context switch). */
static void wal_group_end(void *arg)
{
    struct nf_pipe *p = arg;
    for (unsigned i = 0; i < p->n_ingest; i++)
        if (p->reply_pending[i]) {
            p->reply_pending[i] = 0;
            nf_ring_wake(&p->reply[i]);
        }
    if (p->batch_in_pending) {
        p->batch_in_pending = 0;
        nf_ring_wake(&p->batch_in);
    }
    if (p->submit_in_pending) {
        p->submit_in_pending = 0;
        nf_ring_wake(&p->submit_in);
    }
    if (p->requeue_pending) {
        p->requeue_pending = 0;
        nf_ring_wake(&p->batch_requeue);
    }
    if (p->free_pending) {
        p->free_pending = 0;
        nf_ring_wake(&p->batch_free);
    }
}

static int accept_lend(struct nf_pipe *p, struct pipe_accept *a, int wake)
{
    uint64_t queued = atomic_load_explicit(&p->shared.unsigned_jobs, memory_order_relaxed);
    /* Out of NEAR for gas: nothing new is accepted (a clear 503) until the balance returns. */
    if (queued + a->n > p->cfg->queue_capacity ||
        atomic_load_explicit(&p->shared.out_of_funds, memory_order_relaxed) ||
        atomic_load_explicit(&p->shared.out_of_tokens, memory_order_relaxed) ||
        atomic_load_explicit(&p->stopping, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&p->accept_full, 1, memory_order_relaxed);
        return NF_EFULL;
    }
    a->status = 0;
    a->duplicates = 0;
    a->arena_bytes = 0; /* set by accept_pre; a batch failed before pre() releases nothing */
    a->new_jobs = 0;
    a->internal_pipe = p;
    memset(&a->wal, 0, sizeof(a->wal));
    a->wal.pre = accept_pre;
    a->wal.done = accept_done;
    a->wal.cookie = a;
    int rc = wake ? wal_submit_spsc(p->wal, a->ingest_idx, &a->wal)
                  : wal_enqueue_spsc(p->wal, a->ingest_idx, &a->wal);
    if (rc != 0)
        atomic_fetch_add_explicit(&p->accept_full, 1, memory_order_relaxed);
    return rc == 0 ? 0 : NF_EFULL;
}

int pipe_accept_submit(struct nf_pipe *p, struct pipe_accept *a)
{
    return accept_lend(p, a, 1);
}

int pipe_accept_submit_nowake(struct nf_pipe *p, struct pipe_accept *a)
{
    return accept_lend(p, a, 0);
}

void pipe_accept_wake(struct nf_pipe *p)
{
    wal_wake(p->wal);
}

const char *pipe_refusal_reason(struct nf_pipe *p)
{
    if (atomic_load_explicit(&p->stopping, memory_order_relaxed))
        return "the service is shutting down";
    if (atomic_load_explicit(&p->shared.out_of_funds, memory_order_relaxed))
        return "the signer account cannot pay for gas (NotEnoughBalance): signing is paused until "
               "it is funded";
    if (atomic_load_explicit(&p->shared.out_of_tokens, memory_order_relaxed))
        return "the signer's token balance is too low: signing is paused until it is topped up";
    return "the durable log queue is full";
}

unsigned pipe_retry_after_s(struct nf_pipe *p)
{
    if (atomic_load_explicit(&p->shared.rpc_down, memory_order_relaxed))
        return (unsigned)(p->cfg->breaker_cooldown_ms / 1000 + 1);
    return 1;
}

/* ---- batch hand-offs (WAL thread) --------------------------------------------------------------
 */

static void hub_signed_done(struct wal_batch *wb, int status)
{
    struct batch *b = wb->cookie;
    struct nf_pipe *p = b->hub;
    if (status != 0)
        b->wal_failed = 1;
    else
        atomic_fetch_sub_explicit(&p->shared.unsigned_jobs, b->n_transfers_, memory_order_relaxed);
    if (nf_ring_push_spsc(&p->submit_in, b) == 0)
        p->submit_in_pending = 1;
}

static void hub_outcome_done(struct wal_batch *wb, int status)
{
    struct batch *b = wb->cookie;
    struct nf_pipe *p = b->hub;
    (void)status; /* if this write failed, a restart re-derives the outcome from the chain */
    /* Transfers that need a new transaction go back only now that the outcome which proves the
     * old one can never land is durable: a replay never sees them in two live transactions.
     * Final transfers lose the pipeline's hold on their slot for the same reason. */
    int pushed = 0;
    for (unsigned i = 0; i < b->n; i++) {
        if (b->kinds[i] != WAL_ACT_FT_TRANSFER && b->kinds[i] != BATCH_KIND_FAILED)
            continue;
        struct job *j = job_slot(&p->jobs, b->job_ids[i]);
        if (atomic_load_explicit(&j->id, memory_order_acquire) != b->job_ids[i])
            continue;
        enum job_status st = job_get_status(j);
        if (st == JOB_EXECUTED || st == JOB_FAILED) {
            atomic_fetch_add_explicit(st == JOB_EXECUTED ? &p->executed : &p->failed, 1,
                                      memory_order_relaxed);
            job_unhold(j, JOB_HOLD_PIPE);
            continue;
        }
        if (st != JOB_QUEUED || b->kinds[i] != WAL_ACT_FT_TRANSFER)
            continue;
        atomic_fetch_add_explicit(&p->shared.unsigned_jobs, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->requeued, 1, memory_order_relaxed);
        if (nf_ring_push_spsc(&p->batch_requeue, j) == 0)
            pushed = 1;
    }
    if (pushed)
        p->requeue_pending = 1;
    if (nf_ring_push_spsc(&p->batch_free, b) == 0)
        p->free_pending = 1;
}

int pipe_tx_jobs(struct nf_pipe *p, const uint8_t tx_hash[32], uint64_t *ids, int cap)
{
    /* A scan of the slab: this serves a status endpoint, not the request path. */
    int n = 0;
    uint64_t first, span = job_slab_span(&p->jobs, &first);
    for (uint64_t i = 0; i < span && n < cap; i++) {
        struct job *j = job_slot(&p->jobs, first + i);
        uint64_t id = atomic_load_explicit(&j->id, memory_order_acquire);
        enum job_status st = job_get_status(j);
        if (id == 0 || st < JOB_SIGNED || st == JOB_CLAIMED)
            continue;
        if (job_tx_hash_is(j, tx_hash) && atomic_load_explicit(&j->id, memory_order_acquire) == id)
            ids[n++] = id;
    }
    return n;
}

/* ---- start-up replay ---------------------------------------------------------------------------
 */

struct replay_ctx {
    struct nf_pipe *p;
    const struct wal_replay_stats *stats; /* cur_seq: segment of the record being replayed */
    struct batch **live;                  /* recovered batches without an outcome yet */
    uint32_t n_live, cap_live;
    uint64_t max_id;
    int error;
};

static struct batch *live_find(struct replay_ctx *rc, const uint8_t hash[32], uint32_t *idx)
{
    for (uint32_t i = 0; i < rc->n_live; i++)
        if (memcmp(rc->live[i]->tx_hash, hash, 32) == 0) {
            *idx = i;
            return rc->live[i];
        }
    return NULL;
}

static void live_drop(struct replay_ctx *rc, uint32_t idx)
{
    batch_free_startup(rc->p->batch, rc->live[idx]);
    rc->live[idx] = rc->live[--rc->n_live];
}

static int replay_cb(const struct wal_rec *rec, void *arg)
{
    struct replay_ctx *rc = arg;
    struct nf_pipe *p = rc->p;
    rc->p->replayed_records++;
    switch (rec->type) {
    case WAL_ACCEPT: {
        const struct wal_accept *a = &rec->accept;
        struct job *j = job_slot(&p->jobs, a->id);
        memset(j, 0, sizeof(*j));
        atomic_store_explicit(&j->id, a->id, memory_order_relaxed);
        j->route = a->route;
        j->receiver_len = (uint8_t)a->receiver.len;
        memcpy(j->receiver, a->receiver.ptr, a->receiver.len);
        j->amount = a->amount;
        j->has_memo = a->memo.ptr != NULL;
        j->memo_len = (uint16_t)a->memo.len;
        if (a->memo.ptr)
            memcpy(j->memo, a->memo.ptr, a->memo.len);
        j->has_idem = a->idem_key.ptr != NULL;
        if (a->idem_key.ptr) {
            memcpy(j->idem_key, a->idem_key.ptr, a->idem_key.len);
            uint8_t key[16];
            uint32_t slot;
            idem_hash(j->idem_key, a->idem_key.len, key);
            if (idem_find(p, key, &slot) == NULL)
                idem_insert(p, key, slot, a->id, a->body_hash);
        }
        j->body_hash = a->body_hash;
        j->accepted_ms = a->ts_ms;
        j->accept_seq = rc->stats->cur_seq;
        j->waiter_thread = -1;
        atomic_store_explicit(&j->holds, JOB_HOLD_PIPE, memory_order_relaxed);
        atomic_store_explicit(&j->status, JOB_QUEUED, memory_order_relaxed);
        if (a->id > rc->max_id)
            rc->max_id = a->id;
        p->replayed_jobs++;
        break;
    }
    case WAL_SIGNED: {
        const struct wal_signed *sg = &rec->sig;
        struct batch *b = batch_alloc_startup(p->batch);
        if (b == NULL) {
            NF_LOG(NF_LOG_ERROR, "pipe",
                   "more unresolved transactions in the log than batch slots: raise "
                   "--inflight-per-key or the key count");
            rc->error = NF_ETOOMANY;
            return NF_ETOOMANY;
        }
        if (sg->signed_tx_len > BATCH_TX_CAP || sg->key_index >= p->keys.n) {
            batch_free_startup(p->batch, b);
            NF_LOG(NF_LOG_ERROR, "pipe", "signed record does not fit this configuration key=%u",
                   sg->key_index);
            rc->error = NF_ECORRUPT;
            return NF_ECORRUPT;
        }
        memcpy(b->tx_hash, sg->tx_hash, 32);
        b->key = sg->key_index;
        b->nonce = sg->nonce;
        memcpy(b->block_hash, sg->block_hash, 32);
        b->block_height = sg->block_height;
        b->signed_ms = sg->ts_ms;
        memcpy(b->tx, sg->signed_tx, sg->signed_tx_len);
        b->tx_len = (uint32_t)sg->signed_tx_len;
        b->n = (uint16_t)sg->n_actions;
        b->n_transfers_ = 0;
        b->recovered = 1;
        b->maybe_accepted = 1; /* it may have been broadcast before the crash */
        for (uint32_t i = 0; i < sg->n_actions; i++) {
            const struct wal_action *a = &sg->actions[i];
            b->kinds[i] = a->kind;
            b->job_ids[i] = a->job_id;
            b->sd_receiver[i][0] = '\0';
            if (a->kind == WAL_ACT_STORAGE_DEPOSIT && a->receiver.ptr) {
                memcpy(b->sd_receiver[i], a->receiver.ptr, a->receiver.len);
                b->sd_receiver[i][a->receiver.len] = '\0';
            }
            if (a->kind != WAL_ACT_FT_TRANSFER)
                continue;
            b->n_transfers_++;
            struct job *j = job_slot(&p->jobs, a->job_id);
            if (atomic_load_explicit(&j->id, memory_order_relaxed) != a->job_id)
                continue;
            job_tx_hash_set(j, sg->tx_hash);
            j->signed_ms = sg->ts_ms;
            j->attempts++;
            atomic_store_explicit(&j->status, JOB_SIGNED, memory_order_relaxed);
        }
        /* storage_deposit actions point at their transfer's job id in memory */
        for (uint32_t i = 0; i < sg->n_actions; i++)
            if (b->kinds[i] == WAL_ACT_STORAGE_DEPOSIT && i + 1 < sg->n_actions)
                b->job_ids[i] = b->job_ids[i + 1];
        keypool_raise_nonce(&p->keys.keys[b->key], sg->nonce + 1);
        if (rc->n_live == rc->cap_live) {
            rc->error = NF_ETOOMANY;
            return NF_ETOOMANY;
        }
        rc->live[rc->n_live++] = b;
        p->replayed_batches++;
        break;
    }
    case WAL_OUTCOME: {
        const struct wal_outcome *o = &rec->outcome;
        uint32_t idx;
        struct batch *b = live_find(rc, o->tx_hash, &idx);
        if (b == NULL)
            break;
        for (unsigned i = 0; i < b->n; i++) {
            if (b->kinds[i] != WAL_ACT_FT_TRANSFER)
                continue;
            struct job *j = job_slot(&p->jobs, b->job_ids[i]);
            if (atomic_load_explicit(&j->id, memory_order_relaxed) != b->job_ids[i] ||
                !job_tx_hash_is(j, o->tx_hash))
                continue;
            uint8_t st = atomic_load_explicit(&j->status, memory_order_relaxed);
            if (st == JOB_EXECUTED || st == JOB_FAILED)
                continue;
            if (o->result == WAL_OUT_SUCCESS)
                atomic_store_explicit(&j->status, JOB_EXECUTED, memory_order_relaxed);
            else if (!(o->result == WAL_OUT_ACTION_ERROR && o->failed_index == (int32_t)i))
                atomic_store_explicit(&j->status, JOB_QUEUED, memory_order_relaxed);
        }
        live_drop(rc, idx);
        break;
    }
    case WAL_JOB_FINAL: {
        const struct wal_job_final *f = &rec->job_final;
        struct job *j = job_slot(&p->jobs, f->job_id);
        if (atomic_load_explicit(&j->id, memory_order_relaxed) != f->job_id)
            break;
        if (f->has_tx_hash)
            job_tx_hash_set(j, f->tx_hash);
        if (f->error.ptr) {
            size_t n = f->error.len < sizeof(j->error) - 1 ? f->error.len : sizeof(j->error) - 1;
            memcpy(j->error, f->error.ptr, n);
            j->error[n] = '\0';
        }
        j->done_ms = f->ts_ms;
        atomic_store_explicit(&j->holds, 0, memory_order_relaxed);
        atomic_store_explicit(&j->status, f->status == WAL_JOB_EXECUTED ? JOB_EXECUTED : JOB_FAILED,
                              memory_order_relaxed);
        break;
    }
    case WAL_KEY_NONCE:
        if (rec->key_nonce.key_index < p->keys.n)
            keypool_raise_nonce(&p->keys.keys[rec->key_nonce.key_index], rec->key_nonce.nonce);
        break;
    }
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------------------------------
 */

static uint32_t pow2_at_least(uint64_t v)
{
    uint32_t r = 4;
    while (r < v && r < (1u << 30))
        r <<= 1;
    return r;
}

struct nf_pipe *
pipe_new(const struct cfg *c, struct nf_keypair **kps, uint16_t n_keys, unsigned n_ingest, int *err)
{
    int rc = NF_ENOMEM;
    struct nf_pipe *p = calloc(1, sizeof(*p));
    struct replay_ctx rctx = {0};
    if (p == NULL)
        goto fail;
    p->cfg = c;
    p->n_ingest = n_ingest;
    p->n_sign = (unsigned)c->sign_threads;
    p->start_ms = nf_now_ms();
    atomic_init(&p->shared.reconciled, 0);
    if ((rc = keypool_init(&p->keys, kps, n_keys, (uint16_t)p->n_sign)) != 0)
        goto fail;
    if ((rc = job_slab_init(&p->jobs, c->job_capacity, 1)) != 0)
        goto fail;
    rc = NF_ENOMEM;
    p->n_batches =
        pow2_at_least(2u * (uint64_t)n_keys * c->inflight_per_key + 8u * p->n_sign + 64u);
    uint32_t job_ring = pow2_at_least(c->job_capacity + 1);
    p->reply = calloc(n_ingest, sizeof(*p->reply));
    p->reply_pending = calloc(n_ingest, 1);
    p->sign_in = calloc(p->n_sign, sizeof(*p->sign_in));
    p->idem_cap = pow2_at_least(c->job_capacity * 2);
    p->idem = nf_mem_map((size_t)p->idem_cap * sizeof(*p->idem));
    p->arena = nf_mem_map(ARENA_BYTES);
    if (!p->reply || !p->reply_pending || !p->sign_in || !p->idem || !p->arena)
        goto fail;
    for (unsigned i = 0; i < n_ingest; i++)
        if ((rc = nf_ring_init(&p->reply[i], pow2_at_least(c->job_capacity + 1))) != 0)
            goto fail;
    for (unsigned i = 0; i < p->n_sign; i++)
        if ((rc = nf_ring_init(&p->sign_in[i], p->n_batches * 2)) != 0)
            goto fail;
    if ((rc = nf_ring_init(&p->batch_in, job_ring)) != 0 ||
        (rc = nf_ring_init(&p->batch_requeue, job_ring)) != 0 ||
        (rc = nf_ring_init(&p->batch_free, p->n_batches * 2)) != 0 ||
        (rc = nf_ring_init(&p->batch_lookup_done, 8192)) != 0 ||
        (rc = nf_ring_init(&p->submit_in, p->n_batches * 2)) != 0 ||
        (rc = nf_ring_init(&p->submit_lookup, 8192)) != 0)
        goto fail;
    const struct stage_hub hub = {.ctx = p,
                                  .notify_job = hub_notify_job,
                                  .signed_done = hub_signed_done,
                                  .outcome_done = hub_outcome_done};
    /* WAL producers: ingest 0..n_ingest-1, signer i n_ingest+i, submit, batch. */
    const unsigned prod_sign = n_ingest, prod_submit = n_ingest + p->n_sign,
                   prod_batch = prod_submit + 1;
    const struct batch_wiring bw = {.cfg = c,
                                    .jobs = &p->jobs,
                                    .in = &p->batch_in,
                                    .requeue = &p->batch_requeue,
                                    .free_batches = &p->batch_free,
                                    .lookup_done = &p->batch_lookup_done,
                                    .sign_in = p->sign_in,
                                    .lookup_out = &p->submit_lookup,
                                    .wal = NULL, /* opened after the replay: batch_wire_wal */
                                    .shared = &p->shared,
                                    .counters = &p->ctr[STAGE_BATCH],
                                    .hub = hub};
    p->batch = batch_new(&bw, p->n_batches, &rc);
    if (p->batch == NULL)
        goto fail;

    /* Replay the log: jobs, idempotency keys, unresolved signed transactions. */
    rctx.p = p;
    rctx.cap_live = p->n_batches;
    rctx.live = calloc(rctx.cap_live, sizeof(*rctx.live));
    if (rctx.live == NULL)
        goto fail;
    struct wal_replay_stats rs;
    rctx.stats = &rs;
    uint64_t replay_t0 = nf_now_ms();
    rc = wal_replay(c->data_dir, replay_cb, &rctx, &rs);
    uint64_t replay_ms = nf_now_ms() - replay_t0;
    if (rc == NF_ENOTFOUND)
        rc = 0;
    if (rc != 0) {
        NF_LOG(NF_LOG_ERROR, "pipe", "log replay failed err=%s file=%s offset=%llu reason=\"%s\"",
               nf_strerror(rc), rs.corrupt_file, (unsigned long long)rs.corrupt_offset, rs.reason);
        goto fail;
    }
    atomic_store_explicit(&p->jobs.next_id, rctx.max_id + 1, memory_order_relaxed);

    struct wal_opts wo = {0};
    wo.dir = c->data_dir;
    wo.fsync = c->fsync == CFG_FSYNC_OFF ? WAL_FSYNC_OFF : WAL_FSYNC_ALWAYS;
    wo.segment_bytes = c->wal_segment_bytes;
    wo.group_commit_us = (uint32_t)c->wal_group_commit_us;
    wo.producers = prod_batch + 1;
    wo.ring_size = pow2_at_least(c->ring_size);
    wo.on_group_end = wal_group_end;
    wo.group_arg = p;
    if ((rc = wal_new(&wo, &p->wal)) != 0)
        goto fail;
    batch_wire_wal(p->batch, p->wal, prod_batch);
    const struct sign_wiring sw = {.cfg = c,
                                   .jobs = &p->jobs,
                                   .keys = &p->keys,
                                   .in = p->sign_in,
                                   .wal = p->wal,
                                   .wal_producer_first = prod_sign,
                                   .shared = &p->shared,
                                   .counters = &p->ctr[STAGE_SIGN],
                                   .hub = hub};
    p->sign = sign_new(&sw, &rc);
    if (p->sign == NULL)
        goto fail;
    const struct submit_wiring uw = {.cfg = c,
                                     .jobs = &p->jobs,
                                     .keys = &p->keys,
                                     .in = &p->submit_in,
                                     .lookup_in = &p->submit_lookup,
                                     .lookup_done = &p->batch_lookup_done,
                                     .sign_in = p->sign_in,
                                     .wal = p->wal,
                                     .wal_producer = prod_submit,
                                     .shared = &p->shared,
                                     .counters = &p->ctr[STAGE_SUBMIT],
                                     .hub = hub};
    p->submit = submit_new(&uw, p->n_batches, &rc);
    if (p->submit == NULL)
        goto fail;
    for (uint32_t i = 0; i < p->n_batches; i++)
        if ((rc = submit_bind_batch(p->submit, batch_slot_ptr(p->batch, i))) != 0)
            goto fail;

    /* Jobs still waiting for a transaction go to the batch stage; unresolved transactions go to
     * submit, which reconciles them (same bytes, lookups by hash) before anything is signed. */
    uint64_t queued = 0;
    uint64_t first, span = job_slab_span(&p->jobs, &first);
    for (uint64_t i = 0; i < span; i++) {
        struct job *j = job_slot(&p->jobs, first + i);
        if (atomic_load_explicit(&j->id, memory_order_relaxed) == 0)
            continue;
        uint8_t st = atomic_load_explicit(&j->status, memory_order_relaxed);
        if (st == JOB_SIGNED) {
            int live = 0;
            for (uint32_t k = 0; k < rctx.n_live && !live; k++)
                live = job_tx_hash_is(j, rctx.live[k]->tx_hash);
            if (!live)
                st = JOB_QUEUED;
            atomic_store_explicit(&j->status, st, memory_order_relaxed);
        }
        if (st == JOB_QUEUED) {
            nf_ring_push_spsc(&p->batch_in, j);
            queued++;
        }
    }
    atomic_store_explicit(&p->shared.unsigned_jobs, queued, memory_order_relaxed);
    for (uint32_t k = 0; k < rctx.n_live; k++) {
        struct batch *b = rctx.live[k];
        atomic_fetch_add_explicit(&p->keys.keys[b->key].inflight, 1, memory_order_relaxed);
        for (unsigned i = 0; i < b->n; i++)
            if (b->kinds[i] == WAL_ACT_STORAGE_DEPOSIT)
                batch_mark_deposit_inflight(p->batch, b->sd_receiver[i], strlen(b->sd_receiver[i]),
                                            b->slot);
        nf_ring_push_spsc(&p->submit_in, b);
    }
    if (rctx.n_live > 0)
        submit_expect_recovered(p->submit, rctx.n_live);
    else
        stage_set_reconciled(&p->shared);
    NF_LOG(NF_LOG_INFO, "pipe",
           "log replayed records=%llu jobs=%llu queued=%llu unresolved_txs=%u next_id=%llu "
           "replay_ms=%llu",
           (unsigned long long)p->replayed_records, (unsigned long long)p->replayed_jobs,
           (unsigned long long)queued, rctx.n_live, (unsigned long long)(rctx.max_id + 1),
           (unsigned long long)replay_ms);
    free(rctx.live);
    return p;
fail:
    if (err)
        *err = rc;
    free(rctx.live);
    pipe_free(p);
    return NULL;
}

/* ---- compaction (main thread) -------------------------------------------------------------------
 * A segment may be deleted when (a) no transfer that still needs its records has its ACCEPT record
 * in it or in an older segment (the floor: the lowest accept_seq of every transfer that is not
 * final, or final but whose final record is not durable yet; a live transfer's SIGNED records are
 * always in segments >= its ACCEPT segment), and (b) it is older than --retention-hours, so the
 * status and idempotency key of settled transfers stay available that long after a restart. */
void pipe_compact(struct nf_pipe *p)
{
    uint64_t now = nf_now_ms();
    uint64_t cur = wal_current_seq(p->wal);
    if (p->last_rotate_ms == 0)
        p->last_rotate_ms = now;
    /* Rotate so that a quiet service also gets closed, deletable segments. */
    uint64_t rotate_every = p->cfg->retention_hours * 3600000ull / 4;
    if (rotate_every < p->cfg->compact_interval_ms)
        rotate_every = p->cfg->compact_interval_ms;
    if (now - p->last_rotate_ms >= rotate_every) {
        if (wal_rotate(p->wal, &cur) != 0)
            return;
        p->last_rotate_ms = now;
    }
    uint64_t floor = cur;
    uint64_t first, span = job_slab_span(&p->jobs, &first);
    for (uint64_t i = 0; i < span; i++) {
        struct job *j = job_slot(&p->jobs, first + i);
        if (atomic_load_explicit(&j->id, memory_order_acquire) == 0)
            continue;
        enum job_status st = job_get_status(j);
        if (st == JOB_FREE || st == JOB_CLAIMED)
            continue; /* not durable yet: its records go to the current segment or later */
        int final = st == JOB_EXECUTED || st == JOB_FAILED;
        if (final && !(atomic_load_explicit(&j->holds, memory_order_acquire) & JOB_HOLD_PIPE))
            continue;
        if (j->accept_seq < floor)
            floor = j->accept_seq;
    }
    /* Oldest segments first: delete while both conditions hold. */
    DIR *d = opendir(p->cfg->data_dir);
    if (d == NULL)
        return;
    uint64_t cutoff = p->cfg->retention_hours * 3600ull;
    uint64_t before = floor;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned long long seq;
        if (sscanf(e->d_name, "wal-%16llx.log", &seq) != 1 || seq >= before)
            continue;
        char path[4096];
        struct stat stt;
        snprintf(path, sizeof(path), "%s/%s", p->cfg->data_dir, e->d_name);
        if (stat(path, &stt) != 0)
            continue;
        if ((uint64_t)(now / 1000) - (uint64_t)stt.st_mtime < cutoff)
            before = seq; /* too young: keep it and everything after it */
    }
    closedir(d);
    if (before <= 1)
        return;
    int n = wal_delete_before(p->wal, before);
    if (n > 0) {
        atomic_fetch_add_explicit(&p->segments_deleted, (uint64_t)n, memory_order_relaxed);
        NF_LOG(NF_LOG_INFO, "pipe", "log compacted deleted_segments=%d floor_seq=%llu", n,
               (unsigned long long)before);
    }
}

void pipe_key_nonce_at_least(struct nf_pipe *p, uint16_t key, uint64_t next)
{
    if (key < p->keys.n)
        keypool_raise_nonce(&p->keys.keys[key], next);
}

int pipe_start(struct nf_pipe *p)
{
    int rc;
    if ((rc = wal_start(p->wal)) != 0 || (rc = batch_start(p->batch)) != 0 ||
        (rc = sign_start(p->sign)) != 0 || (rc = submit_start(p->submit)) != 0)
        return rc;
    /* Wake the consumers for what replay queued. */
    nf_ring_wake(&p->batch_in);
    nf_ring_wake(&p->submit_in);
    return 0;
}

void pipe_drain(struct nf_pipe *p, uint64_t max_ms)
{
    atomic_store_explicit(&p->stopping, 1, memory_order_relaxed);
    uint64_t until = nf_now_ms() + max_ms;
    while (nf_now_ms() < until) {
        struct submit_stats ss;
        submit_stats(p->submit, &ss);
        if (ss.inflight_batches == 0 &&
            atomic_load_explicit(&p->shared.unsigned_jobs, memory_order_relaxed) == 0)
            return;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL); /* shutdown polling, not synchronisation of data */
    }
}

void pipe_stop(struct nf_pipe *p)
{
    if (p == NULL)
        return;
    batch_stop(p->batch);
    sign_stop(p->sign);
    submit_stop(p->submit);
    if (p->wal)
        wal_stop(p->wal);
}

void pipe_free(struct nf_pipe *p)
{
    if (p == NULL)
        return;
    pipe_stop(p);
    submit_free(p->submit);
    sign_free(p->sign);
    batch_free(p->batch);
    wal_free(p->wal);
    for (unsigned i = 0; p->reply && i < p->n_ingest; i++)
        nf_ring_destroy(&p->reply[i]);
    for (unsigned i = 0; p->sign_in && i < p->n_sign; i++)
        nf_ring_destroy(&p->sign_in[i]);
    struct nf_ring *rings[] = {&p->batch_in,          &p->batch_requeue, &p->batch_free,
                               &p->batch_lookup_done, &p->submit_in,     &p->submit_lookup};
    for (size_t i = 0; i < sizeof(rings) / sizeof(rings[0]); i++)
        if (rings[i]->slots)
            nf_ring_destroy(rings[i]);
    free(p->reply);
    free(p->reply_pending);
    free(p->sign_in);
    nf_mem_unmap(p->idem, (size_t)p->idem_cap * sizeof(*p->idem));
    nf_mem_unmap(p->arena, ARENA_BYTES);
    job_slab_destroy(&p->jobs);
    keypool_destroy(&p->keys);
    free(p);
}

/* ---- figures: /health, /metrics, /debug/stages (any thread; relaxed reads) ---------------------
 */

static const char *stage_names[STAGE_COUNT] = {"wal", "batch", "sign", "submit"};

int pipe_health_json(struct nf_pipe *p, char *out, size_t cap, int *healthy)
{
    struct jw w;
    jw_init_fixed(&w, out, cap);
    uint8_t bh[32];
    uint64_t height;
    block_ref_read(&p->shared.block, bh, &height);
    uint64_t now = nf_now_ms();
    uint64_t block_age =
        height ? now - atomic_load_explicit(&p->shared.block.updated_ms, memory_order_relaxed) : 0;
    unsigned usable = 0;
    for (uint16_t i = 0; i < p->keys.n; i++)
        usable += keypool_usable(&p->keys.keys[i]);
    int reconciled = atomic_load_explicit(&p->shared.reconciled, memory_order_acquire);
    int funds = !atomic_load_explicit(&p->shared.out_of_funds, memory_order_relaxed);
    int tokens = !atomic_load_explicit(&p->shared.out_of_tokens, memory_order_relaxed);
    int rpc = !atomic_load_explicit(&p->shared.rpc_down, memory_order_relaxed);
    int ok = reconciled && funds && tokens && rpc && height > 0 && usable > 0;
    *healthy = ok;
    jw_obj_begin(&w);
    jw_key(&w, "status");
    jw_str(&w, ok ? "ok" : "degraded");
    jw_key(&w, "reasons");
    jw_arr_begin(&w);
    if (!reconciled)
        jw_str(&w, "reconciling transactions from before the restart");
    if (!funds)
        jw_str(&w, "signer account cannot pay for gas (NotEnoughBalance): signing paused");
    if (!tokens)
        jw_str(&w, "signer's token balance is below a waiting transfer: signing paused until it "
                   "is topped up");
    if (!rpc)
        jw_str(&w, "every RPC endpoint's circuit breaker is open: signing paused");
    if (height == 0)
        jw_str(&w, "no final block hash fetched yet");
    if (usable == 0)
        jw_str(&w, "no usable access key");
    jw_arr_end(&w);
    jw_key(&w, "queue");
    jw_obj_begin(&w);
    jw_key(&w, "unsigned");
    jw_u64(&w, atomic_load_explicit(&p->shared.unsigned_jobs, memory_order_relaxed));
    jw_key(&w, "capacity");
    jw_u64(&w, p->cfg->queue_capacity);
    jw_key(&w, "batch_in");
    jw_u64(&w, nf_ring_count(&p->batch_in));
    jw_key(&w, "submit_in");
    jw_u64(&w, nf_ring_count(&p->submit_in));
    jw_obj_end(&w);
    jw_key(&w, "chain");
    jw_obj_begin(&w);
    jw_key(&w, "final_height");
    jw_u64(&w, height);
    jw_key(&w, "block_hash_age_ms");
    jw_u64(&w, block_age);
    jw_obj_end(&w);
    jw_key(&w, "rpc");
    jw_arr_begin(&w);
    for (unsigned i = 0; p->submit && i < submit_endpoint_count(p->submit); i++) {
        struct submit_endpoint_info e;
        submit_endpoint_info(p->submit, i, &e);
        jw_obj_begin(&w);
        jw_key(&w, "url");
        jw_str(&w, e.url);
        jw_key(&w, "breaker");
        jw_str(&w, breaker_state_name(e.state));
        jw_key(&w, "inflight");
        jw_u64(&w, e.inflight);
        jw_key(&w, "limit");
        jw_u64(&w, e.limit);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "keys");
    jw_obj_begin(&w);
    jw_key(&w, "usable");
    jw_u64(&w, usable);
    jw_key(&w, "quarantined");
    jw_arr_begin(&w);
    for (uint16_t i = 0; i < p->keys.n; i++) {
        struct pool_key *k = &p->keys.keys[i];
        if (keypool_usable(k))
            continue;
        jw_obj_begin(&w);
        jw_key(&w, "public_key");
        jw_str(&w, k->public_str);
        jw_key(&w, "reason");
        jw_str(&w, k->quarantine_reason);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    jw_obj_end(&w);
    size_t len;
    int rc = jw_finish(&w, &len);
    return rc ? rc : (int)len;
}

/* A bounded text appender for the Prometheus exposition. */
struct tb {
    char *buf;
    size_t len, cap;
    int full;
};

static void tb_printf(struct tb *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(struct tb *t, const char *fmt, ...)
{
    if (t->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len) {
        t->full = 1;
        return;
    }
    t->len += (size_t)n;
}

static void hist_text(
    struct tb *t, const char *name, const char *labels, const uint64_t *b, int nb, double unit)
{
    uint64_t cum = 0;
    for (int i = 0; i < nb; i++) {
        cum += b[i];
        tb_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, labels[0] ? "," : "",
                  (double)(1ull << i) * unit, (unsigned long long)cum);
    }
    tb_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n%s_count{%s} %llu\n", name, labels,
              labels[0] ? "," : "", (unsigned long long)cum, name, labels, (unsigned long long)cum);
}

int pipe_metrics_text(struct nf_pipe *p, char *out, size_t cap)
{
    struct tb t = {.buf = out, .cap = cap};
    struct batch_stats bs;
    struct sign_stats ss;
    struct submit_stats us;
    struct wal_stats ws;
    batch_stats(p->batch, &bs);
    sign_stats(p->sign, &ss);
    submit_stats(p->submit, &us);
    wal_stats_get(p->wal, &ws);
    tb_printf(&t, "# TYPE nearft_transfers_total counter\n");
    tb_printf(&t, "nearft_transfers_total{status=\"accepted\"} %llu\n",
              (unsigned long long)atomic_load(&p->accepted));
    tb_printf(&t, "nearft_transfers_total{status=\"executed\"} %llu\n",
              (unsigned long long)atomic_load(&p->executed));
    tb_printf(&t, "nearft_transfers_total{status=\"failed\"} %llu\n",
              (unsigned long long)atomic_load(&p->failed));
    tb_printf(&t, "nearft_transfers_total{status=\"duplicate\"} %llu\n",
              (unsigned long long)atomic_load(&p->duplicates));
    tb_printf(&t, "nearft_transfers_total{status=\"requeued\"} %llu\n",
              (unsigned long long)atomic_load(&p->requeued));
    tb_printf(&t,
              "# TYPE nearft_accept_rejected_total counter\nnearft_accept_rejected_total %llu\n",
              (unsigned long long)atomic_load(&p->accept_full));
    tb_printf(&t, "# TYPE nearft_queue_depth gauge\n");
    tb_printf(&t, "nearft_queue_depth{stage=\"unsigned\"} %llu\n",
              (unsigned long long)atomic_load(&p->shared.unsigned_jobs));
    tb_printf(&t, "nearft_queue_depth{stage=\"batch_in\"} %u\n", nf_ring_count(&p->batch_in));
    tb_printf(&t, "nearft_queue_depth{stage=\"batch_waiting_receiver\"} %llu\n",
              (unsigned long long)bs.waiting_jobs);
    tb_printf(&t, "nearft_queue_depth{stage=\"sign_held\"} %llu\n", (unsigned long long)ss.held);
    tb_printf(&t, "nearft_queue_depth{stage=\"submit_inflight\"} %llu\n",
              (unsigned long long)us.inflight_batches);
    tb_printf(&t, "# TYPE nearft_batch_size histogram\n");
    static const int edges[7] = {1, 9, 24, 49, 74, 99, 100};
    uint64_t cum = 0;
    for (int i = 0; i < 7; i++) {
        cum += bs.size_hist[i];
        tb_printf(&t, "nearft_batch_size_bucket{le=\"%d\"} %llu\n", edges[i],
                  (unsigned long long)cum);
    }
    tb_printf(&t, "nearft_batch_size_bucket{le=\"+Inf\"} %llu\nnearft_batch_size_count %llu\n",
              (unsigned long long)cum, (unsigned long long)cum);
    tb_printf(&t, "nearft_batch_size_sum %llu\n", (unsigned long long)bs.actions_flushed);
    tb_printf(&t,
              "# TYPE nearft_storage_deposits_total counter\nnearft_storage_deposits_total %llu\n",
              (unsigned long long)bs.deposits_added);
    tb_printf(&t, "# TYPE nearft_submit_latency_ms histogram\n");
    hist_text(&t, "nearft_submit_latency_ms", "", us.lat_hist, 16, 1.0);
    tb_printf(&t, "# TYPE nearft_transactions_total counter\n");
    tb_printf(&t, "nearft_transactions_total{result=\"sent\"} %llu\n", (unsigned long long)us.sent);
    tb_printf(&t, "nearft_transactions_total{result=\"rebroadcast\"} %llu\n",
              (unsigned long long)us.resent);
    tb_printf(&t, "nearft_transactions_total{result=\"success\"} %llu\n",
              (unsigned long long)us.succeeded);
    tb_printf(&t, "nearft_transactions_total{result=\"action_error\"} %llu\n",
              (unsigned long long)us.action_errors);
    tb_printf(&t, "nearft_transactions_total{result=\"dead\"} %llu\n", (unsigned long long)us.dead);
    tb_printf(&t, "# TYPE nearft_rpc_answers_total counter\n");
    for (int k = 0; k < RPC_KIND_COUNT && k < SUBMIT_KINDS; k++)
        if (us.kind_count[k])
            tb_printf(&t, "nearft_rpc_answers_total{kind=\"%s\"} %llu\n", rpc_kind_name(k),
                      (unsigned long long)us.kind_count[k]);
    tb_printf(&t, "# TYPE nearft_breaker_state gauge\n# TYPE nearft_breaker_transitions_total "
                  "counter\n# TYPE nearft_rpc_requests_total counter\n");
    for (unsigned i = 0; i < submit_endpoint_count(p->submit); i++) {
        struct submit_endpoint_info e;
        submit_endpoint_info(p->submit, i, &e);
        tb_printf(&t, "nearft_breaker_state{url=\"%s\",state=\"closed\"} %d\n", e.url,
                  e.state == BREAKER_CLOSED);
        tb_printf(&t, "nearft_breaker_state{url=\"%s\",state=\"open\"} %d\n", e.url,
                  e.state == BREAKER_OPEN);
        tb_printf(&t, "nearft_breaker_state{url=\"%s\",state=\"half_open\"} %d\n", e.url,
                  e.state == BREAKER_HALF_OPEN);
        tb_printf(&t, "nearft_breaker_transitions_total{url=\"%s\",to=\"open\"} %llu\n", e.url,
                  (unsigned long long)e.opens);
        tb_printf(&t, "nearft_breaker_transitions_total{url=\"%s\",to=\"closed\"} %llu\n", e.url,
                  (unsigned long long)e.closes);
        tb_printf(&t, "nearft_rpc_requests_total{url=\"%s\"} %llu\n", e.url,
                  (unsigned long long)e.requests);
        tb_printf(&t, "nearft_rpc_errors_total{url=\"%s\"} %llu\n", e.url,
                  (unsigned long long)e.errors);
        tb_printf(&t, "nearft_rpc_rate_limited_total{url=\"%s\"} %llu\n", e.url,
                  (unsigned long long)e.rate_limited);
        tb_printf(&t, "nearft_rpc_inflight_limit{url=\"%s\"} %u\n", e.url, e.limit);
    }
    tb_printf(&t, "# TYPE nearft_nonce_resyncs_total counter\n# TYPE nearft_key_inflight gauge\n");
    uint64_t resyncs = 0;
    for (uint16_t i = 0; i < p->keys.n; i++) {
        struct pool_key *k = &p->keys.keys[i];
        resyncs += atomic_load_explicit(&k->nonce_resyncs, memory_order_relaxed);
        tb_printf(&t, "nearft_key_inflight{key=\"%s\"} %u\n", k->public_str,
                  atomic_load_explicit(&k->inflight, memory_order_relaxed));
        tb_printf(&t, "nearft_key_quarantined{key=\"%s\"} %d\n", k->public_str, !keypool_usable(k));
    }
    tb_printf(&t, "nearft_nonce_resyncs_total %llu\n", (unsigned long long)resyncs);
    tb_printf(&t, "# TYPE nearft_wal_syncs_total counter\nnearft_wal_syncs_total %llu\n",
              (unsigned long long)ws.syncs);
    tb_printf(&t, "nearft_wal_segments_deleted_total %llu\n",
              (unsigned long long)atomic_load(&p->segments_deleted));
    tb_printf(&t, "nearft_wal_bytes_total %llu\nnearft_wal_batches_total %llu\n",
              (unsigned long long)ws.bytes, (unsigned long long)ws.batches);
    tb_printf(&t, "# TYPE nearft_stage_items_total counter\n");
    for (int i = 0; i < STAGE_COUNT; i++) {
        struct stage_counters *c = &p->ctr[i];
        tb_printf(&t, "nearft_stage_items_total{stage=\"%s\"} %llu\n", stage_names[i],
                  (unsigned long long)atomic_load(&c->items));
        tb_printf(&t, "nearft_stage_busy_seconds_total{stage=\"%s\"} %.6f\n", stage_names[i],
                  (double)atomic_load(&c->busy_ns) / 1e9);
    }
    tb_printf(&t, "nearft_signing_paused %d\n", !stage_signing_allowed(&p->shared));
    if (t.full)
        return NF_ENOSPC;
    return (int)t.len;
}

int pipe_stages_json(struct nf_pipe *p, char *out, size_t cap)
{
    struct jw w;
    jw_init_fixed(&w, out, cap);
    struct batch_stats bs;
    struct sign_stats ss;
    struct submit_stats us;
    struct wal_stats ws;
    batch_stats(p->batch, &bs);
    sign_stats(p->sign, &ss);
    submit_stats(p->submit, &us);
    wal_stats_get(p->wal, &ws);
    double up_s = (double)(nf_now_ms() - p->start_ms) / 1000.0;
    jw_obj_begin(&w);
    jw_key(&w, "uptime_s");
    jw_double(&w, up_s);
    jw_key(&w, "stages");
    jw_obj_begin(&w);
    for (int i = 0; i < STAGE_COUNT; i++) {
        struct stage_counters *c = &p->ctr[i];
        uint64_t items = atomic_load(&c->items), busy = atomic_load(&c->busy_ns);
        jw_key(&w, stage_names[i]);
        jw_obj_begin(&w);
        jw_key(&w, "items");
        jw_u64(&w, items);
        jw_key(&w, "items_per_s");
        jw_double(&w, up_s > 0 ? (double)items / up_s : 0);
        jw_key(&w, "busy_fraction");
        jw_double(&w, up_s > 0 ? (double)busy / 1e9 / up_s : 0);
        jw_key(&w, "us_per_item_hist_log2");
        jw_arr_begin(&w);
        for (int b = 0; b < 16; b++)
            jw_u64(&w, atomic_load(&c->hist[b]));
        jw_arr_end(&w);
        jw_key(&w, "wakeups");
        jw_u64(&w, atomic_load(&c->wakeups));
        jw_obj_end(&w);
    }
    jw_obj_end(&w);
    jw_key(&w, "rings");
    jw_obj_begin(&w);
    jw_key(&w, "batch_in");
    jw_u64(&w, nf_ring_count(&p->batch_in));
    jw_key(&w, "batch_requeue");
    jw_u64(&w, nf_ring_count(&p->batch_requeue));
    jw_key(&w, "submit_in");
    jw_u64(&w, nf_ring_count(&p->submit_in));
    for (unsigned i = 0; i < p->n_sign; i++) {
        char k[32];
        snprintf(k, sizeof(k), "sign_in_%u", i);
        jw_key(&w, k);
        jw_u64(&w, nf_ring_count(&p->sign_in[i]));
    }
    jw_obj_end(&w);
    jw_key(&w, "batch");
    jw_obj_begin(&w);
    jw_key(&w, "batches");
    jw_u64(&w, bs.batches_flushed);
    jw_key(&w, "mean_actions");
    jw_double(&w, bs.batches_flushed ? (double)bs.actions_flushed / (double)bs.batches_flushed : 0);
    jw_key(&w, "size_hist");
    jw_arr_begin(&w);
    for (int i = 0; i < 7; i++)
        jw_u64(&w, bs.size_hist[i]);
    jw_arr_end(&w);
    jw_key(&w, "waiting_for_receiver");
    jw_u64(&w, bs.waiting_jobs);
    jw_key(&w, "free_batches");
    jw_u64(&w, bs.free_batches);
    jw_obj_end(&w);
    jw_key(&w, "sign");
    jw_obj_begin(&w);
    jw_key(&w, "held");
    jw_u64(&w, ss.held);
    jw_key(&w, "inflight_per_key");
    jw_arr_begin(&w);
    for (uint16_t i = 0; i < p->keys.n; i++)
        jw_u64(&w, atomic_load(&p->keys.keys[i].inflight));
    jw_arr_end(&w);
    jw_obj_end(&w);
    jw_key(&w, "submit");
    jw_obj_begin(&w);
    jw_key(&w, "inflight_txs");
    jw_u64(&w, us.inflight_batches);
    jw_key(&w, "sent");
    jw_u64(&w, us.sent);
    jw_key(&w, "rebroadcast");
    jw_u64(&w, us.resent);
    jw_key(&w, "rpc_latency_ms_hist_log2");
    jw_arr_begin(&w);
    for (int b = 0; b < 16; b++)
        jw_u64(&w, us.lat_hist[b]);
    jw_arr_end(&w);
    jw_obj_end(&w);
    jw_key(&w, "wal");
    jw_obj_begin(&w);
    jw_key(&w, "groups");
    jw_u64(&w, ws.groups);
    jw_key(&w, "syncs");
    jw_u64(&w, ws.syncs);
    jw_key(&w, "batches_per_group");
    jw_double(&w, ws.groups ? (double)ws.batches / (double)ws.groups : 0);
    jw_obj_end(&w);
    jw_obj_end(&w);
    size_t len;
    int rc = jw_finish(&w, &len);
    return rc ? rc : (int)len;
}
