/* sign: the sign stage. M threads ("sign-0".."sign-M-1"); thread j owns the keys of shard j (key
 * i belongs to shard i % M) and is the only thread that takes nonces from them (one atomic
 * counter per key, include/keypool.h). For each batch it picks the least-loaded usable key of its
 * shard under --inflight-per-key, takes the next nonce, builds the ft_transfer / storage_deposit
 * actions from the batch's jobs, signs with the latest final block hash (published by submit),
 * encodes the WAL SIGNED record (the exact signed bytes) and hands it to the WAL: the batch is
 * broadcast only after that record is durable. Batches wait here (no nonce taken) while no key
 * has room, no block hash is known yet, or signing is paused. */
#include "sign.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_time.h"
#include "stages.h"
#include "wal_rec.h"

#define SIGN_ARGS_CAP 2048 /* one action's argument JSON (escaped 256-byte memo fits) */

struct signer {
    struct sign_stage *stage;
    unsigned idx;
    pthread_t thread;
    int started;
    struct event_base *base;
    struct event *ev_in, *ev_tick, *ev_stop;
    struct nf_ring stop_ring;
    struct batch *held_head, *held_tail; /* FIFO of batches waiting for a key / block hash */
    unsigned rr;                         /* round-robin start among the shard's keys */
    struct near_action actions[BATCH_MAX_ACTIONS];
    char *args; /* BATCH_MAX_ACTIONS * SIGN_ARGS_CAP */
    struct wal_action wal_actions[BATCH_MAX_ACTIONS];
    char name[16];
};

struct sign_stage {
    struct sign_wiring w;
    unsigned n;
    struct signer *signers;
    _Atomic uint64_t held; /* batches waiting in any signer */
    _Atomic uint64_t sign_errors;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct pool_key *pick_key(struct signer *g)
{
    struct keypool *kp = g->stage->w.keys;
    struct pool_key *best = NULL;
    uint32_t best_load = UINT32_MAX;
    uint32_t limit = (uint32_t)g->stage->w.cfg->inflight_per_key;
    for (unsigned t = 0; t < kp->n; t++) {
        unsigned i = (g->rr + t) % kp->n;
        struct pool_key *k = &kp->keys[i];
        if (k->shard != g->idx || !keypool_usable(k))
            continue;
        uint32_t load = atomic_load_explicit(&k->inflight, memory_order_acquire);
        if (load < limit && load < best_load) {
            best = k;
            best_load = load;
        }
    }
    if (best)
        g->rr = best->index + 1u;
    return best;
}

/* sign_one: builds and signs b with key k. Returns 0, or a negative nf_err (the batch is then
 * failed back to the batch stage as dead: nothing was broadcast). */
static int sign_one(
    struct signer *g, struct batch *b, struct pool_key *k, const uint8_t bh[32], uint64_t height)
{
    struct sign_stage *st = g->stage;
    const struct cfg *c = st->w.cfg;
    for (unsigned i = 0; i < b->n; i++) {
        struct job *j = job_slot(st->w.jobs, b->job_ids[i]);
        char *args = g->args + (size_t)i * SIGN_ARGS_CAP;
        struct near_action *a = &g->actions[i];
        memset(a, 0, sizeof(*a));
        a->type = NEAR_ACT_FUNCTION_CALL;
        int len;
        if (b->kinds[i] == WAL_ACT_STORAGE_DEPOSIT) {
            len = near_storage_deposit_args(args, SIGN_ARGS_CAP, b->sd_receiver[i],
                                            strlen(b->sd_receiver[i]), 1);
            a->u.function_call.method_name.ptr = (const uint8_t *)"storage_deposit";
            a->u.function_call.method_name.len = 15;
            a->u.function_call.gas = c->storage_deposit_gas;
            a->u.function_call.deposit = c->storage_deposit_amount;
            g->wal_actions[i].kind = WAL_ACT_STORAGE_DEPOSIT;
            g->wal_actions[i].job_id = 0;
            g->wal_actions[i].receiver.ptr = b->sd_receiver[i];
            g->wal_actions[i].receiver.len = strlen(b->sd_receiver[i]);
        } else {
            len = near_ft_transfer_args(args, SIGN_ARGS_CAP, j->receiver, j->receiver_len,
                                        j->amount, j->has_memo ? j->memo : NULL, j->memo_len);
            a->u.function_call.method_name.ptr = (const uint8_t *)"ft_transfer";
            a->u.function_call.method_name.len = 11;
            a->u.function_call.gas = c->ft_transfer_gas;
            a->u.function_call.deposit = 1;
            g->wal_actions[i].kind = WAL_ACT_FT_TRANSFER;
            g->wal_actions[i].job_id = b->job_ids[i];
            g->wal_actions[i].receiver.ptr = NULL;
            g->wal_actions[i].receiver.len = 0;
        }
        if (len < 0)
            return len;
        a->u.function_call.args.ptr = (const uint8_t *)args;
        a->u.function_call.args.len = (uint32_t)len;
    }
    struct near_tx tx = {0};
    tx.signer_id.ptr = (const uint8_t *)c->signer;
    tx.signer_id.len = (uint32_t)strlen(c->signer);
    tx.public_key = *keys_public(k->kp);
    tx.nonce = keypool_take_nonce(k);
    tx.receiver_id.ptr = (const uint8_t *)c->contract;
    tx.receiver_id.len = (uint32_t)strlen(c->contract);
    memcpy(tx.block_hash, bh, 32);
    tx.n_actions = b->n;
    tx.actions = g->actions;
    size_t len = 0;
    int rc = near_tx_sign(&tx, k->kp, b->tx, BATCH_TX_CAP, &len, b->tx_hash);
    if (rc != 0)
        return rc;
    b->tx_len = (uint32_t)len;
    b->key = k->index;
    b->nonce = tx.nonce;
    memcpy(b->block_hash, bh, 32);
    b->block_height = height;
    b->signed_ms = nf_now_ms();

    struct wal_rec rec = {.type = WAL_SIGNED};
    memcpy(rec.sig.tx_hash, b->tx_hash, 32);
    rec.sig.key_index = k->index;
    memcpy(rec.sig.public_key, keys_public(k->kp)->data, 32);
    rec.sig.nonce = b->nonce;
    memcpy(rec.sig.block_hash, bh, 32);
    rec.sig.block_height = height;
    rec.sig.ts_ms = b->signed_ms;
    rec.sig.actions = g->wal_actions;
    rec.sig.n_actions = b->n;
    rec.sig.signed_tx = b->tx;
    rec.sig.signed_tx_len = b->tx_len;
    size_t rlen = 0;
    rc = wal_rec_encode_framed(&rec, b->rec, BATCH_REC_CAP, &rlen);
    if (rc != 0)
        return rc;
    b->rec_len = (uint32_t)rlen;
    for (unsigned i = 0; i < b->n; i++) {
        if (b->kinds[i] != WAL_ACT_FT_TRANSFER)
            continue;
        struct job *j = job_slot(st->w.jobs, b->job_ids[i]);
        job_tx_hash_set(j, b->tx_hash);
        j->signed_ms = b->signed_ms;
        job_set_status(j, JOB_SIGNED);
    }
    atomic_fetch_add_explicit(&k->inflight, 1, memory_order_acq_rel);
    atomic_fetch_add_explicit(&k->signed_total, 1, memory_order_relaxed);
    return 0;
}

static void hold(struct signer *g, struct batch *b)
{
    b->next = NULL;
    if (g->held_tail)
        g->held_tail->next = b;
    else
        g->held_head = b;
    g->held_tail = b;
    atomic_fetch_add_explicit(&g->stage->held, 1, memory_order_relaxed);
}

/* process: signs and hands to the WAL as many held batches as keys allow, in FIFO order. */
static void process(struct signer *g)
{
    struct sign_stage *st = g->stage;
    struct wal *w = st->w.wal;
    unsigned producer = st->w.wal_producer_first + g->idx;
    int submitted = 0;
    uint64_t t0 = now_ns(), n = 0;
    while (g->held_head) {
        struct batch *b = g->held_head;
        if (b->tx_len == 0) {
            if (!stage_signing_allowed(st->w.shared))
                break;
            uint8_t bh[32];
            uint64_t height;
            block_ref_read(&st->w.shared->block, bh, &height);
            if (height == 0)
                break;
            struct pool_key *k = pick_key(g);
            if (k == NULL)
                break;
            int rc = sign_one(g, b, k, bh, height);
            if (rc != 0) {
                atomic_fetch_add_explicit(&st->sign_errors, 1, memory_order_relaxed);
                NF_LOG(NF_LOG_ERROR, "sign", "cannot sign batch err=%s actions=%u", nf_strerror(rc),
                       b->n);
                /* Nothing was broadcast: hand it to submit as dead so its jobs are requeued. */
                b->result = BATCH_DEAD;
                b->wal_failed = 1;
                b->tx_len = 0;
                b->key = -1;
            }
            n++;
        }
        b->wal.data = b->rec;
        b->wal.len = b->rec_len;
        b->wal.pre = NULL;
        b->wal.done = st->w.hub.signed_done;
        b->wal.cookie = b;
        if (b->wal_failed)
            b->wal.len = 0; /* a barrier: done() passes it on without writing */
        /* Read the link first: once enqueued, b belongs to the WAL and then submit. */
        struct batch *next = b->next;
        if (wal_enqueue_spsc(w, producer, &b->wal) != 0)
            break; /* WAL ring full: retried on the next tick */
        submitted = 1;
        g->held_head = next;
        if (g->held_head == NULL)
            g->held_tail = NULL;
        atomic_fetch_sub_explicit(&st->held, 1, memory_order_relaxed);
    }
    if (submitted)
        wal_wake(w);
    if (n)
        stage_count(st->w.counters, n, now_ns() - t0);
}

static void on_in(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct signer *g = arg;
    struct nf_ring *r = &g->stage->w.in[g->idx];
    atomic_fetch_add_explicit(&g->stage->w.counters->wakeups, 1, memory_order_relaxed);
    nf_ring_clear(r);
    struct batch *b;
    while ((b = nf_ring_pop_spsc(r)) != NULL)
        hold(g, b);
    process(g);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct signer *g = arg;
    if (g->held_head)
        process(g);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct signer *g = arg;
    nf_ring_clear(&g->stop_ring);
    event_base_loopexit(g->base, NULL);
}

static void *signer_main(void *arg)
{
    struct signer *g = arg;
    pthread_setname_np(pthread_self(), g->name);
    log_set_thread(g->name);
    event_base_dispatch(g->base);
    return NULL;
}

struct sign_stage *sign_new(const struct sign_wiring *w, int *err)
{
    struct sign_stage *st = calloc(1, sizeof(*st));
    int rc = NF_ENOMEM;
    if (st == NULL)
        goto fail;
    st->w = *w;
    st->n = (unsigned)w->cfg->sign_threads;
    st->signers = calloc(st->n, sizeof(*st->signers));
    if (st->signers == NULL)
        goto fail;
    for (unsigned i = 0; i < st->n; i++) {
        struct signer *g = &st->signers[i];
        g->stage = st;
        g->idx = i;
        g->stop_ring.efd = -1;
        snprintf(g->name, sizeof(g->name), "sign-%u", i);
        g->args = malloc((size_t)BATCH_MAX_ACTIONS * SIGN_ARGS_CAP);
        if (g->args == NULL)
            goto fail;
        if ((rc = nf_ring_init(&g->stop_ring, 4)) != 0)
            goto fail;
        rc = NF_ENOMEM;
        g->base = event_base_new();
        if (g->base == NULL)
            goto fail;
        g->ev_in = event_new(g->base, w->in[i].efd, EV_READ | EV_PERSIST, on_in, g);
        g->ev_tick = event_new(g->base, -1, EV_PERSIST, on_tick, g);
        g->ev_stop = event_new(g->base, g->stop_ring.efd, EV_READ | EV_PERSIST, on_stop, g);
        if (!g->ev_in || !g->ev_tick || !g->ev_stop)
            goto fail;
        struct timeval tick = {0, 20000}; /* re-check held batches (keys freed, WAL ring) */
        event_add(g->ev_in, NULL);
        event_add(g->ev_tick, &tick);
        event_add(g->ev_stop, NULL);
    }
    return st;
fail:
    if (err)
        *err = rc;
    sign_free(st);
    return NULL;
}

int sign_start(struct sign_stage *st)
{
    for (unsigned i = 0; i < st->n; i++) {
        struct signer *g = &st->signers[i];
        if (pthread_create(&g->thread, NULL, signer_main, g) != 0)
            return NF_EIO;
        g->started = 1;
    }
    return 0;
}

void sign_stop(struct sign_stage *st)
{
    if (st == NULL)
        return;
    for (unsigned i = 0; i < st->n; i++) {
        struct signer *g = &st->signers[i];
        if (!g->started)
            continue;
        nf_ring_wake(&g->stop_ring);
        pthread_join(g->thread, NULL);
        g->started = 0;
    }
}

void sign_free(struct sign_stage *st)
{
    if (st == NULL)
        return;
    sign_stop(st);
    for (unsigned i = 0; st->signers && i < st->n; i++) {
        struct signer *g = &st->signers[i];
        if (g->ev_in)
            event_free(g->ev_in);
        if (g->ev_tick)
            event_free(g->ev_tick);
        if (g->ev_stop)
            event_free(g->ev_stop);
        if (g->base)
            event_base_free(g->base);
        if (g->stop_ring.efd != -1)
            nf_ring_destroy(&g->stop_ring);
        free(g->args);
    }
    free(st->signers);
    free(st);
}

void sign_stats(struct sign_stage *st, struct sign_stats *out)
{
    out->held = atomic_load_explicit(&st->held, memory_order_relaxed);
    out->errors = atomic_load_explicit(&st->sign_errors, memory_order_relaxed);
}
