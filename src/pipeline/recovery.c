/* recovery: nearftd's start-up. Replays the log into the hub: jobs (ACCEPT, then their status
 * from SIGNED / OUTCOME / JOB_FINAL), the idempotency index (keys in log order, with the final
 * status of their transfers, also of those whose slot a later ACCEPT took), key nonces, and the
 * signed transactions without an outcome, which it holds in batch slots. Once the stages exist
 * it seeds them: waiting jobs to the batch stage, unresolved transactions to submit, which
 * reconciles them (same bytes, lookups by hash) before anything new is signed. Main thread,
 * before any stage thread starts. */
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "batch.h"
#include "cfg.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_time.h"
#include "pipeline_int.h"
#include "spend.h"
#include "submit.h"
#include "wal_js.h"
#include "wal_rec.h"

/* Ids of accepted transfers are below this (2^63): nearftd counts them up from 1, so a replayed
 * id at or above it comes from a corrupt or forged log. */
#define RECOVERY_ID_LIMIT (1ull << 63)

static struct batch *live_find(struct recovery *rc, const uint8_t hash[32], uint32_t *idx)
{
    for (uint32_t i = 0; i < rc->n_live; i++)
        if (memcmp(rc->live[i]->tx_hash, hash, 32) == 0) {
            *idx = i;
            return rc->live[i];
        }
    return NULL;
}

static void live_drop(struct recovery *rc, uint32_t idx)
{
    batch_free_startup(rc->p->batch, rc->live[idx]);
    rc->live[idx] = rc->live[--rc->n_live];
}

/* replayed_job: the job a SIGNED, OUTCOME or JOB_FINAL record names, or NULL when no replayed
 * ACCEPT holds that id (settled and dropped, or an id nearftd never writes: 0 is what a free
 * slot holds, so a record naming it must not touch one). */
static struct job *replayed_job(struct nf_pipe *p, uint64_t id)
{
    struct job *j = job_slot(&p->jobs, id);
    if (id == 0 || atomic_load_explicit(&j->id, memory_order_relaxed) != id)
        return NULL;
    return j;
}

/* ACCEPT: the job as it was accepted (QUEUED, held by the pipeline) and its idempotency key. */
static int replay_accept(struct recovery *rc, const struct wal_rec *rec)
{
    struct nf_pipe *p = rc->p;
    const struct wal_accept *a = &rec->accept;
    /* Ids nearftd never writes (they count up from 1): 0 marks a free job slot and a forgotten
     * idempotency key (its index would never drop it), and ids near 2^64 would wrap next_id
     * (max_id + 1) or the ids handed out after it to 0. */
    if (a->id == 0 || a->id >= RECOVERY_ID_LIMIT) {
        NF_LOG(NF_LOG_ERROR, "pipe",
               "an accepted transfer in the log has an id nearftd never writes: the log is "
               "corrupt id=%llu segment=%llu",
               (unsigned long long)a->id, (unsigned long long)rc->stats->cur_seq);
        rc->error = NF_ECORRUPT;
        return NF_ECORRUPT;
    }
    /* A standby replays the stream while the holder writes it (wal_js_replay): the clock that
     * ages idempotency keys and the spend window moves on with the records. */
    if (a->ts_ms > rc->now_ms)
        rc->now_ms = nf_now_ms();
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
        idem_key_hash(j->idem_key, a->idem_key.len, j->idem_hash);
        /* Keys enter the index in log order, as they did when they were accepted. */
        uint32_t slot = idem_replay_insert(&p->idem, j->idem_hash, a->id, a->id_tag, a->body_hash,
                                           a->ts_ms, rc->now_ms, &rc->idem_dropped_kept);
        j->idem_slot = slot == UINT32_MAX ? 0 : slot + 1;
    }
    j->body_hash = a->body_hash;
    j->id_tag = a->id_tag;
    j->accepted_ms = a->ts_ms;
    /* Every accepted transfer of the last hour (day) counts against --max-amount-per-hour (-day),
     * whatever became of it since, so a restart gives no fresh budget. */
    spend_replay(p->spend, a->ts_ms, a->amount, rc->now_ms);
    spend_replay(p->spend_day, a->ts_ms, a->amount, rc->now_ms);
    /* ... and against its token's own max_amount_per_hour and max_amount_per_day. Records without
     * a token (no --auth-tokens, or written before ACCEPT carried one) count toward the global
     * budgets only. */
    if (a->token.ptr != NULL && p->token_spend != NULL &&
        a->ts_ms + (uint64_t)SPEND_DAY_S * 1000u > rc->now_ms) {
        struct spend_token *w = spend_tokens_find(p->token_spend, a->token.ptr, a->token.len);
        if (w != NULL && w->hour != NULL)
            spend_replay(w->hour, a->ts_ms, a->amount, rc->now_ms);
        if (w != NULL && w->day != NULL)
            spend_replay(w->day, a->ts_ms, a->amount, rc->now_ms);
    }
    atomic_store_explicit(&j->accept_seq, rc->stats->cur_seq, memory_order_relaxed);
    j->waiter_thread = -1;
    atomic_store_explicit(&j->holds, JOB_HOLD_PIPE, memory_order_relaxed);
    atomic_store_explicit(&j->status, JOB_QUEUED, memory_order_relaxed);
    if (a->id > rc->max_id)
        rc->max_id = a->id;
    p->replayed_jobs++;
    return 0;
}

/* signed_key: the index of the configured key that signed sg, found by its public key (the
 * recorded index is tried first; keys may have been added or reordered since the record was
 * written), or -1 when no configured key has it. */
static int signed_key(const struct nf_pipe *p, const struct wal_signed *sg)
{
    if (sg->key_index < p->keys.n &&
        memcmp(keys_public(p->keys.keys[sg->key_index].kp)->data, sg->public_key, 32) == 0)
        return sg->key_index;
    for (uint16_t i = 0; i < p->keys.n; i++)
        if (memcmp(keys_public(p->keys.keys[i].kp)->data, sg->public_key, 32) == 0)
            return i;
    return -1;
}

/* SIGNED: a transaction that may be on chain: held in a batch slot until its OUTCOME; its
 * transfers are SIGNED with its hash, its key's nonce raised past it. */
static int replay_signed(struct recovery *rc, const struct wal_rec *rec)
{
    struct nf_pipe *p = rc->p;
    const struct wal_signed *sg = &rec->sig;
    struct batch *b = batch_alloc_startup(p->batch);
    if (b == NULL) {
        NF_LOG(NF_LOG_ERROR, "pipe",
               "more unresolved transactions in the log than batch slots: raise "
               "--inflight-per-key or the key count");
        rc->error = NF_ETOOMANY;
        return NF_ETOOMANY;
    }
    if (sg->signed_tx_len > BATCH_TX_CAP) {
        batch_free_startup(p->batch, b);
        NF_LOG(NF_LOG_ERROR, "pipe", "signed record does not fit this configuration bytes=%zu",
               sg->signed_tx_len);
        rc->error = NF_ECORRUPT;
        return NF_ECORRUPT;
    }
    memcpy(b->tx_hash, sg->tx_hash, 32);
    b->key = signed_key(p, sg);
    if (b->key < 0) {
        char pub[B58_MAX_32];
        if (b58_encode(sg->public_key, 32, pub, sizeof(pub)) < 0)
            pub[0] = '\0';
        NF_LOG(NF_LOG_WARN, "pipe",
               "a signed transaction in the log was signed by a key that is not configured "
               "key=ed25519:%s",
               pub);
    }
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
        struct job *j = replayed_job(p, a->job_id);
        if (j == NULL)
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
    if (b->key >= 0)
        keypool_raise_nonce(&p->keys.keys[b->key], sg->nonce + 1);
    if (rc->n_live == rc->cap_live) {
        rc->error = NF_ETOOMANY;
        return NF_ETOOMANY;
    }
    rc->live[rc->n_live++] = b;
    p->replayed_batches++;
    return 0;
}

/* OUTCOME: the transaction's fate; transfers it did not settle go back to QUEUED. */
static int replay_outcome(struct recovery *rc, const struct wal_rec *rec)
{
    struct nf_pipe *p = rc->p;
    const struct wal_outcome *o = &rec->outcome;
    uint32_t idx;
    struct batch *b = live_find(rc, o->tx_hash, &idx);
    if (b == NULL)
        return 0;
    for (unsigned i = 0; i < b->n; i++) {
        if (b->kinds[i] != WAL_ACT_FT_TRANSFER)
            continue;
        struct job *j = replayed_job(p, b->job_ids[i]);
        if (j == NULL || !job_tx_hash_is(j, o->tx_hash))
            continue;
        uint8_t st = atomic_load_explicit(&j->status, memory_order_relaxed);
        if (st == JOB_EXECUTED || st == JOB_FAILED)
            continue;
        if (o->result == WAL_OUT_SUCCESS) {
            atomic_store_explicit(&j->status, JOB_EXECUTED, memory_order_relaxed);
            if (j->has_idem && j->idem_slot != 0)
                idem_set_final(&p->idem, j->idem_slot - 1, b->job_ids[i], IDEM_EXECUTED);
        } else if (!(o->result == WAL_OUT_ACTION_ERROR && o->failed_index == (int32_t)i))
            atomic_store_explicit(&j->status, JOB_QUEUED, memory_order_relaxed);
    }
    live_drop(rc, idx);
    return 0;
}

/* JOB_FINAL: a transfer's final state, its error text and the hash that settled it. */
static int replay_job_final(struct recovery *rc, const struct wal_rec *rec)
{
    struct nf_pipe *p = rc->p;
    const struct wal_job_final *f = &rec->job_final;
    struct job *j = replayed_job(p, f->job_id);
    if (j == NULL)
        return 0;
    if (f->has_tx_hash)
        job_tx_hash_set(j, f->tx_hash);
    if (f->error.ptr) {
        size_t n = f->error.len < sizeof(j->error) - 1 ? f->error.len : sizeof(j->error) - 1;
        memcpy(j->error, f->error.ptr, n);
        j->error[n] = '\0';
    }
    j->done_ms = f->ts_ms;
    enum job_status st = f->status == WAL_JOB_EXECUTED ? JOB_EXECUTED : JOB_FAILED;
    atomic_store_explicit(&j->holds, 0, memory_order_relaxed);
    atomic_store_explicit(&j->status, st, memory_order_relaxed);
    if (j->has_idem && j->idem_slot != 0)
        idem_set_final(&p->idem, j->idem_slot - 1, f->job_id, hub_idem_final(j, st));
    return 0;
}

static int replay_cb(const struct wal_rec *rec, void *arg)
{
    struct recovery *rc = arg;
    rc->p->replayed_records++;
    switch (rec->type) {
    case WAL_ACCEPT:
        return replay_accept(rc, rec);
    case WAL_SIGNED:
        return replay_signed(rc, rec);
    case WAL_OUTCOME:
        return replay_outcome(rc, rec);
    case WAL_JOB_FINAL:
        return replay_job_final(rc, rec);
    case WAL_KEY_NONCE:
        if (rec->key_nonce.key_index < rc->p->keys.n)
            keypool_raise_nonce(&rc->p->keys.keys[rec->key_nonce.key_index], rec->key_nonce.nonce);
        break;
    }
    return 0;
}

int recovery_replay(struct nf_pipe *p, struct recovery *r)
{
    r->p = p;
    r->cap_live = p->n_batches;
    r->live = calloc(r->cap_live, sizeof(*r->live));
    if (r->live == NULL)
        return NF_ENOMEM;
    struct wal_replay_stats rs;
    r->stats = &rs;
    uint64_t replay_t0 = nf_now_ms();
    r->now_ms = replay_t0;
    int rc = p->js != NULL ? wal_js_replay(p->js, replay_cb, r, &rs)
                           : wal_replay(p->cfg->data_dir, replay_cb, r, &rs);
    r->replay_ms = nf_now_ms() - replay_t0;
    r->stats = NULL; /* rs ends with this call */
    if (rc == NF_ENOTFOUND)
        rc = 0;
    if (rc != 0) {
        NF_LOG(NF_LOG_ERROR, "pipe", "log replay failed err=%s file=%s offset=%llu reason=\"%s\"",
               nf_strerror(rc), rs.corrupt_file, (unsigned long long)rs.corrupt_offset, rs.reason);
        return rc;
    }
    uint32_t keyless = 0;
    for (uint32_t k = 0; k < r->n_live; k++)
        keyless += r->live[k]->key < 0;
    if (keyless > 0) {
        /* Its nonce and in-flight count belong to a key this run cannot see: add the key back
         * (the warnings above name it) until the transaction resolves. */
        NF_LOG(NF_LOG_ERROR, "pipe",
               "unresolved transactions in the log were signed by keys that are not configured: "
               "add those keys to the credentials again until they resolve count=%u",
               keyless);
        return NF_ECONFIG;
    }
    atomic_store_explicit(&p->jobs.next_id, r->max_id + 1, memory_order_relaxed);
    if (r->idem_dropped_kept > 0)
        NF_LOG(NF_LOG_WARN, "pipe",
               "idempotency index smaller than the keys the log still promises dropped=%llu "
               "capacity=%u: raise --idempotency-keys",
               (unsigned long long)r->idem_dropped_kept, p->idem.capacity);
    return 0;
}

uint64_t recovery_seed(struct nf_pipe *p, struct recovery *r)
{
    uint64_t queued = 0;
    uint64_t first, span = job_slab_span(&p->jobs, &first);
    for (uint64_t i = 0; i < span; i++) {
        struct job *j = job_slot(&p->jobs, first + i);
        if (atomic_load_explicit(&j->id, memory_order_relaxed) == 0)
            continue;
        uint8_t st = atomic_load_explicit(&j->status, memory_order_relaxed);
        if (st == JOB_SIGNED) {
            int live = 0;
            for (uint32_t k = 0; k < r->n_live && !live; k++)
                live = job_tx_hash_is(j, r->live[k]->tx_hash);
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
    for (uint32_t k = 0; k < r->n_live; k++) {
        struct batch *b = r->live[k];
        atomic_fetch_add_explicit(&p->keys.keys[b->key].inflight, 1, memory_order_relaxed);
        for (unsigned i = 0; i < b->n; i++)
            if (b->kinds[i] == WAL_ACT_STORAGE_DEPOSIT)
                batch_mark_deposit_inflight(p->batch, b->sd_receiver[i], strlen(b->sd_receiver[i]),
                                            b->slot);
        nf_ring_push_spsc(&p->submit_in, b);
    }
    if (r->n_live > 0)
        submit_expect_recovered(p->submit, r->n_live);
    else
        stage_set_reconciled(&p->shared);
    return queued;
}

void recovery_free(struct recovery *r)
{
    free(r->live);
    r->live = NULL;
}
