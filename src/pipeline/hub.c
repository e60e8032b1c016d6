/* hub: the pipeline's code that runs on the WAL thread (wal_batch pre/done callbacks). It owns
 * the idempotency index (include/idem.h) and the ACCEPT-record arena: an ingest thread lends a
 * struct pipe_accept, accept_pre checks its keys (refusing the request when the index has no room
 * it may free) and writes its ACCEPT records, accept_done (once they are durable) makes the jobs
 * QUEUED for the batch stage and answers ingest. It passes durable SIGNED batches to submit, and
 * after an outcome is durable it requeues the transfers that need a new transaction, records the
 * final status of keyed transfers in the index and returns the batch to the batch stage. Each
 * ring it fed in a group is woken once, at the group's end. The accept entry points run on the
 * ingest threads. */
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_time.h"
#include "pipeline_int.h"
#include "wal_rec.h"

/* ---- waiters --------------------------------------------------------------------------------- */

void hub_notify_job(void *ctx, struct job *j)
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

/* ---- accept path (WAL thread callbacks) ------------------------------------------------------ */

/* idem_room_for: makes room in the index for a's new keys, before anything of a is written: a
 * request is refused whole (NF_EIDEMFULL) when its keys would need entries that must be kept. */
static int idem_room_for(struct nf_pipe *p, struct pipe_accept *a)
{
    if (a->keyed == 0 || a->keyed <= idem_room(&p->idem))
        return 0;
    /* A repeat needs no entry, unless making room may drop the entry it repeats (it is then a
     * new transfer, and its key needs a slot like any other). */
    uint64_t now = nf_now_ms();
    uint32_t need = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        const struct job *j = job_slot(&p->jobs, a->first_id + i);
        if (!j->has_idem)
            continue;
        const struct idem_entry *e = idem_find(&p->idem, j->idem_hash);
        if (e == NULL || idem_may_drop(&p->idem, e, now))
            need++;
    }
    if (need <= idem_room(&p->idem))
        return 0;
    return idem_reserve(&p->idem, need, now, &a->retry_after_s) == 0 ? 0 : NF_EIDEMFULL;
}

static void accept_pre(struct wal_batch *wb)
{
    struct pipe_accept *a = wb->cookie;
    struct nf_pipe *p = a->internal_pipe;
    if (idem_room_for(p, a) != 0) {
        a->status = NF_EIDEMFULL;
        a->arena_bytes = 0;
        a->new_jobs = 0;
        wb->data = NULL;
        wb->len = 0;
        wb->skip = 1;
        return;
    }
    /* An ACCEPT frame is at most ~585 bytes (256-byte memo, 128-byte key, 64-byte receiver,
     * 64-byte token name). */
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
        j->dup_tag = 0;
        j->dup_conflict = 0;
        j->dup_pending = 0;
        j->dup_status = IDEM_OPEN;
        j->idem_slot = 0;
        if (j->has_idem) {
            const struct idem_entry *e = idem_find(&p->idem, j->idem_hash);
            if (e != NULL) {
                const struct job *o = job_slot(&p->jobs, e->id);
                int in_slab = atomic_load_explicit(&o->id, memory_order_acquire) == e->id;
                j->dup_of = e->id;
                j->dup_tag = e->id_tag;
                j->dup_conflict = e->body_hash != j->body_hash;
                /* An original still CLAIMED is in a group not yet durable (this one): the
                 * repeat is answered only if that write succeeds (accept_done). */
                j->dup_pending = in_slab && job_get_status(o) == JOB_CLAIMED;
                /* What the index kept answers the repeat once the original's slot is reused. */
                j->dup_status = e->status;
                continue;
            }
            /* idem_room_for made room for every new key of this request. */
            uint32_t slot =
                idem_insert(&p->idem, j->idem_hash, a->first_id + i, j->id_tag, j->body_hash,
                            atomic_load_explicit(&j->accepted_ms, memory_order_relaxed));
            j->idem_slot = slot == UINT32_MAX ? 0 : slot + 1;
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
        rec.accept.id_tag = j->id_tag;
        rec.accept.token.ptr = a->token_len != 0 ? a->token : NULL;
        rec.accept.token.len = a->token_len;
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
    /* A repeat of a transfer accepted earlier in this group stands or falls with it: if that
     * ACCEPT was not written, its key is gone (below) and nothing was accepted for the repeat
     * either. Only a request with repeats (fewer new jobs than transfers) is scanned. */
    for (uint32_t i = 0; i < a->n && a->status == 0 && a->new_jobs < a->n; i++) {
        struct job *j = job_slot(&p->jobs, a->first_id + i);
        if (!j->dup_of || !j->dup_pending)
            continue;
        const struct idem_entry *e = idem_find(&p->idem, j->idem_hash);
        if (e == NULL || e->id != j->dup_of)
            a->status = NF_EIO;
    }
    if (a->status != 0 && a->status != NF_EIDEMFULL) {
        /* Nothing of this request is accepted: forget the keys it registered, so that a retry
         * is a new request and not a repeat of a transfer that was never written. */
        for (uint32_t i = 0; i < a->n; i++) {
            struct job *j = job_slot(&p->jobs, a->first_id + i);
            if (j->has_idem && !j->dup_of)
                idem_forget(&p->idem, j->idem_hash, a->first_id + i);
        }
    }
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
            atomic_store_explicit(&j->accept_seq, wb->seq, memory_order_relaxed);
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
        p->reply_pending[idx] = 1; /* woken once per group: hub_group_end */
}

enum idem_status hub_idem_final(const struct job *j, enum job_status st)
{
    if (st == JOB_EXECUTED)
        return IDEM_EXECUTED;
    return job_error_is_receiver(j->error) ? IDEM_FAILED_RECEIVER : IDEM_FAILED;
}

/* hub_group_end: the WAL thread finished a group's done() callbacks: one wake per ring that got
 * something, instead of one per batch (each wake is a syscall and often a context switch). */
void hub_group_end(void *arg)
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
        atomic_load_explicit(&p->shared.out_of_state, memory_order_relaxed) ||
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
    if (atomic_load_explicit(&p->shared.out_of_state, memory_order_relaxed))
        return "the token contract lacks NEAR to stake for its state (LackBalanceForState): "
               "signing is paused until it is funded";
    return "the durable log queue is full";
}

unsigned pipe_retry_after_s(struct nf_pipe *p)
{
    if (atomic_load_explicit(&p->shared.rpc_down, memory_order_relaxed))
        return (unsigned)(p->cfg->breaker_cooldown_ms / 1000 + 1);
    return 1;
}

/* ---- batch hand-offs (WAL thread) ------------------------------------------------------------ */

void hub_signed_done(struct wal_batch *wb, int status)
{
    struct batch *b = wb->cookie;
    struct nf_pipe *p = b->hub;
    if (status != 0) {
        b->wal_failed = 1;
        if (b->tx_len > 0) {
            /* The log refuses writes (full disk, I/O error): signing waits before it takes more
             * nonces for records that may fail again; a write that succeeds ends the wait. */
            p->signed_retry_ms = p->signed_retry_ms ? p->signed_retry_ms * 2 : 100;
            if (p->signed_retry_ms > 5000)
                p->signed_retry_ms = 5000;
            stage_set_log_retry(&p->shared, nf_now_ms() + p->signed_retry_ms);
        }
    } else {
        atomic_fetch_sub_explicit(&p->shared.unsigned_jobs, b->n_transfers_, memory_order_relaxed);
        if (p->signed_retry_ms) {
            p->signed_retry_ms = 0;
            stage_set_log_retry(&p->shared, 0);
        }
    }
    if (nf_ring_push_spsc(&p->submit_in, b) == 0)
        p->submit_in_pending = 1;
}

const uint32_t pipe_transfer_le_ms[PIPE_TRANSFER_BUCKETS - 1] = {
    100, 250, 500, 1000, 2000, 3000, 5000, 10000, 20000, 30000, 60000, 120000, 300000, 600000};

/* Adds a final transfer's time from acceptance to the duration histogram (WAL thread; it is the
 * only writer). A transfer replayed without its acceptance time is not timed. */
static void hub_time_transfer(struct nf_pipe *p, struct job *j, int failed)
{
    uint64_t acc = atomic_load_explicit(&j->accepted_ms, memory_order_relaxed);
    uint64_t done = atomic_load_explicit(&j->done_ms, memory_order_relaxed);
    if (done == 0)
        done = nf_now_ms();
    if (acc == 0 || done < acc)
        return;
    uint64_t ms = done - acc;
    int b = 0;
    while (b < PIPE_TRANSFER_BUCKETS - 1 && ms > pipe_transfer_le_ms[b])
        b++;
    atomic_fetch_add_explicit(&p->transfer_hist[failed][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->transfer_sum_ms[failed], ms, memory_order_relaxed);
}

void hub_outcome_done(struct wal_batch *wb, int status)
{
    struct batch *b = wb->cookie;
    struct nf_pipe *p = b->hub;
    if (status != 0 && b->tx_len > 0) {
        /* The outcome is not durable: nothing may move yet (a replay would find the transaction
         * without its outcome and resolve it again). Submit writes the same records again. */
        b->outcome_retry = 1;
        if (nf_ring_push_spsc(&p->submit_in, b) == 0)
            p->submit_in_pending = 1;
        return;
    }
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
        /* A transfer whose latest transaction is another one moved on before this outcome was
         * known (submit left its state alone): it is not this batch's to free or requeue. */
        if (b->tx_len > 0 && b->kinds[i] == WAL_ACT_FT_TRANSFER && !job_tx_hash_is(j, b->tx_hash))
            continue;
        enum job_status st = job_get_status(j);
        if (st == JOB_EXECUTED || st == JOB_FAILED) {
            atomic_fetch_add_explicit(st == JOB_EXECUTED ? &p->executed : &p->failed, 1,
                                      memory_order_relaxed);
            hub_time_transfer(p, j, st == JOB_EXECUTED ? 0 : 1);
            recent_final(&p->recent, j, st == JOB_FAILED);
            /* The index keeps the final status before the slot may be reused. */
            if (j->has_idem && j->idem_slot != 0)
                idem_set_final(&p->idem, j->idem_slot - 1, b->job_ids[i], hub_idem_final(j, st));
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
