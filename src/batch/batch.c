/* batch: the batch stage. One thread ("batch") owns the batch slab's free list, the batch being
 * built, the receiver cache (exists? registered with the FT contract?) and the lookup slab. It
 * takes durable jobs (from the WAL hub) and requeued jobs (from submit), groups them into
 * transactions of at most --batch-max-actions ft_transfer actions whose attached gas fits
 * --max-tx-gas and whose bytes fit BATCH_TX_CAP, puts one storage_deposit before the first
 * transfer to a receiver that is not registered (--auto-register), fails transfers to accounts
 * that do not exist (--check-receiver-exists), and routes full or lingering batches to the signer
 * threads round-robin. Batches come back to its free ring once their outcome is durable; that is
 * also when it learns whether a storage_deposit landed. */
#include "batch.h"

#include <event2/event.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_mem.h"
#include "nf_time.h"
#include "stages.h"
#include "wal_rec.h"

enum recv_state {
    RECV_EMPTY = 0,
    RECV_LOOKUP = 1,           /* lookup in flight; jobs wait */
    RECV_READY = 2,            /* exists and registered */
    RECV_NEEDS_DEPOSIT = 3,    /* exists, not registered */
    RECV_DEPOSIT_INFLIGHT = 4, /* a storage_deposit is in batch deposit_batch */
    RECV_MISSING = 5,          /* no such account */
};

struct recv_entry {
    char name[65];
    uint8_t len;
    uint8_t state;
    uint32_t deposit_batch; /* slot of the batch carrying its storage_deposit */
    uint64_t hash;
    struct job *wait_head, *wait_tail; /* jobs waiting (linked through job_next) */
};

struct batch_stage {
    struct batch_wiring w;
    pthread_t thread;
    int started;
    _Atomic int stopping;
    struct event_base *base;
    struct event *ev_in, *ev_requeue, *ev_free, *ev_lookup, *ev_linger, *ev_stop_tick;
    struct nf_ring stop_ring; /* only its eventfd is used: stop wake-up */
    struct event *ev_stop;

    /* batch slab */
    struct batch *batches;
    uint32_t n_batches;
    uint32_t *free_stack;
    uint32_t n_free;
    uint8_t *tx_area, *rec_area;

    struct batch *cur;        /* being built */
    struct batch *last_batch; /* the batch add_to_batch used last (may be flushed already) */
    struct batch *fail;       /* JOB_FINAL records of transfers failed here */
    int linger_armed;
    unsigned next_signer;
    struct batch *ready_head, *ready_tail; /* flushed but no signer ring had room */

    /* jobs the stage holds (not yet in a batch) because no batch was free */
    struct job *held_head, *held_tail;
    /* jobs to an unknown receiver that found no free lookup slot (re-run by on_lookup) */
    struct job *starved_head, *starved_tail;

    /* receiver cache: open addressing, power-of-two size */
    struct recv_entry *recv;
    uint32_t recv_cap, recv_used;
    /* SipHash key of the receiver table, random per process: receiver names come from clients, so
     * nobody can choose names that pile up in one probe chain. */
    unsigned char recv_key[crypto_shorthash_KEYBYTES];

    /* lookups */
    struct lookup *lookups;
    uint32_t *lookup_free;
    uint32_t n_lookup_free, n_lookups;

    struct job **job_next;         /* per job slot: the next waiting/held job (intrusive list) */
    _Atomic uint32_t free_figure;  /* n_free mirrored for readers on other threads */
    _Atomic uint64_t waiting_jobs; /* figures for /debug/stages */
    _Atomic uint64_t batches_flushed, actions_flushed, deposits_added, receivers_missing;
    _Atomic uint64_t size_hist[8]; /* batch sizes: 1, 2-9, 10-24, 25-49, 50-74, 75-99, 100 */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- intrusive job lists (job_next is indexed by slot) --------------------------------------- */

static struct job **next_of(struct batch_stage *s, struct job *j)
{
    return &s->job_next[j - s->w.jobs->jobs];
}

static void list_push(struct batch_stage *s, struct job **head, struct job **tail, struct job *j)
{
    *next_of(s, j) = NULL;
    if (*tail)
        *next_of(s, *tail) = j;
    else
        *head = j;
    *tail = j;
}

static struct job *list_pop(struct batch_stage *s, struct job **head, struct job **tail)
{
    struct job *j = *head;
    if (j == NULL)
        return NULL;
    *head = *next_of(s, j);
    if (*head == NULL)
        *tail = NULL;
    return j;
}

/* ---- receiver cache -------------------------------------------------------------------------- */

/* recv_hash: keyed SipHash-2-4 (libsodium crypto_shorthash) of a receiver name; never 0 (an
 * empty entry). */
static uint64_t recv_hash(const struct batch_stage *s, const char *name, size_t n)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)name, n, s->recv_key);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    return h ? h : 1;
}

/* recv_find: the entry for name, creating it (state EMPTY) when absent. NULL when the table is
 * full even after evicting settled entries (then the caller treats the receiver as unknown). */
static struct recv_entry *recv_find(struct batch_stage *s, const char *name, size_t len)
{
    uint64_t h = recv_hash(s, name, len);
    for (int pass = 0; pass < 2; pass++) {
        uint32_t mask = s->recv_cap - 1;
        for (uint32_t i = (uint32_t)h & mask, probes = 0; probes < s->recv_cap;
             i = (i + 1) & mask, probes++) {
            struct recv_entry *e = &s->recv[i];
            if (e->hash == 0) {
                if (s->recv_used * 4 >= s->recv_cap * 3)
                    break; /* too full: evict first */
                e->hash = h;
                memcpy(e->name, name, len);
                e->name[len] = '\0';
                e->len = (uint8_t)len;
                e->state = RECV_EMPTY;
                e->wait_head = e->wait_tail = NULL;
                s->recv_used++;
                return e;
            }
            if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0)
                return e;
        }
        /* Evict every settled entry (READY / MISSING / NEEDS_DEPOSIT without waiters) and
         * rebuild the table with the rest: they will simply be looked up again. */
        uint32_t kept = 0;
        struct recv_entry *old = s->recv;
        size_t bytes = (size_t)s->recv_cap * sizeof(*old);
        struct recv_entry *tmp = malloc(bytes); /* rare: only when the cache is full */
        if (tmp == NULL)
            return NULL;
        memcpy(tmp, old, bytes);
        memset(old, 0, bytes);
        s->recv_used = 0;
        for (uint32_t k = 0; k < s->recv_cap; k++) {
            struct recv_entry *e = &tmp[k];
            if (e->hash == 0)
                continue;
            if (e->wait_head == NULL && (e->state == RECV_READY || e->state == RECV_MISSING ||
                                         e->state == RECV_NEEDS_DEPOSIT || e->state == RECV_EMPTY))
                continue;
            uint32_t m = s->recv_cap - 1;
            uint32_t i = (uint32_t)e->hash & m;
            while (old[i].hash != 0)
                i = (i + 1) & m;
            old[i] = *e;
            s->recv_used++;
            kept++;
        }
        free(tmp);
        NF_LOG(NF_LOG_INFO, "batch", "receiver cache evicted settled entries kept=%u", kept);
    }
    return NULL;
}

/* ---- batches --------------------------------------------------------------------------------- */

static struct batch *batch_alloc(struct batch_stage *s)
{
    if (s->n_free == 0)
        return NULL;
    struct batch *b = &s->batches[s->free_stack[--s->n_free]];
    atomic_store_explicit(&s->free_figure, s->n_free, memory_order_relaxed);
    b->n = 0;
    b->n_transfers_ = 0;
    b->gas = 0;
    b->est_bytes = 0;
    b->key = -1;
    b->tx_len = 0;
    b->rec_len = 0;
    b->broadcasts = 0;
    b->maybe_accepted = 0;
    b->recovered = 0;
    b->wal_failed = 0;
    b->outcome_retry = 0;
    b->result = BATCH_PENDING;
    b->failed_index = -1;
    b->message[0] = '\0';
    b->created_ms = nf_now_ms();
    b->backoff_ms = 0;
    b->next = NULL;
    return b;
}

static void batch_free_slot(struct batch_stage *s, struct batch *b)
{
    s->free_stack[s->n_free++] = b->slot;
    atomic_store_explicit(&s->free_figure, s->n_free, memory_order_relaxed);
}

/* Upper bound of the bytes one action adds to the transaction. */
static uint32_t action_bytes(const struct job *j, int storage_deposit)
{
    if (storage_deposit)
        return 1 + 4 + 15 + 4 + 48 + j->receiver_len + 8 + 16;
    /* {"receiver_id":"","amount":"<39>","memo":"<escaped: <= 6 bytes per byte>"} */
    return 1 + 4 + 11 + 4 +
           (40 + j->receiver_len + 39 + (j->has_memo ? 10u + 6u * j->memo_len : 0)) + 8 + 16;
}

static void route_ready(struct batch_stage *s);

static void flush(struct batch_stage *s)
{
    struct batch *b = s->cur;
    if (b == NULL || b->n == 0)
        return;
    s->cur = NULL;
    if (s->linger_armed) {
        event_del(s->ev_linger);
        s->linger_armed = 0;
    }
    int bucket = b->n == 1    ? 0
                 : b->n < 10  ? 1
                 : b->n < 25  ? 2
                 : b->n < 50  ? 3
                 : b->n < 75  ? 4
                 : b->n < 100 ? 5
                              : 6;
    atomic_fetch_add_explicit(&s->size_hist[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->batches_flushed, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->actions_flushed, b->n, memory_order_relaxed);
    b->next = NULL;
    if (s->ready_tail)
        s->ready_tail->next = b;
    else
        s->ready_head = b;
    s->ready_tail = b;
    route_ready(s);
}

static void route_ready(struct batch_stage *s)
{
    unsigned nsign = (unsigned)s->w.cfg->sign_threads;
    int woke[64] = {0};
    while (s->ready_head) {
        struct batch *b = s->ready_head;
        /* Read the link first: once pushed, b belongs to a signer thread. */
        struct batch *next = b->next;
        int sent = 0;
        for (unsigned t = 0; t < nsign && !sent; t++) {
            unsigned j = (s->next_signer + t) % nsign;
            if (nf_ring_push_spsc(&s->w.sign_in[j], b) == 0) {
                s->next_signer = j + 1;
                woke[j % 64] = 1;
                sent = 1;
            }
        }
        if (!sent)
            break; /* every signer ring full: keep it; retried on the next event */
        s->ready_head = next;
        if (s->ready_head == NULL)
            s->ready_tail = NULL;
    }
    for (unsigned j = 0; j < nsign && j < 64; j++)
        if (woke[j])
            nf_ring_wake(&s->w.sign_in[j]);
}

static void flush_failures(struct batch_stage *s);

/* fail_job: the transfer fails here, before any transaction (no tokens moved). Returns
 * NF_EFULL when no batch is free to carry its record (the caller holds the job). */
static int fail_job(struct batch_stage *s, struct job *j, const char *why)
{
    if (s->fail == NULL) {
        s->fail = batch_alloc(s);
        if (s->fail == NULL)
            return NF_EFULL;
        s->fail->rec_len = 0;
    }
    snprintf(j->error, sizeof(j->error), "%s", why);
    struct batch *f = s->fail;
    struct wal_rec rec = {.type = WAL_JOB_FINAL};
    rec.job_final.job_id = atomic_load_explicit(&j->id, memory_order_relaxed);
    rec.job_final.status = WAL_JOB_FAILED;
    rec.job_final.has_tx_hash = 0;
    rec.job_final.error.ptr = j->error;
    rec.job_final.error.len = strlen(j->error);
    rec.job_final.ts_ms = nf_now_ms();
    size_t len = 0;
    if (wal_rec_encode_framed(&rec, f->rec + f->rec_len, BATCH_REC_CAP - f->rec_len, &len) != 0) {
        flush_failures(s);
        return NF_EFULL;
    }
    f->rec_len += (uint32_t)len;
    if (f->n < BATCH_MAX_ACTIONS) {
        f->kinds[f->n] = BATCH_KIND_FAILED;
        f->job_ids[f->n] = rec.job_final.job_id;
        f->n++;
    }
    j->done_ms = nf_now_ms();
    stage_unqueue(s->w.shared, 1);
    job_set_status(j, JOB_FAILED);
    s->w.hub.notify_job(s->w.hub.ctx, j);
    if (f->rec_len > BATCH_REC_CAP - 4096 || f->n >= BATCH_MAX_ACTIONS)
        flush_failures(s);
    return 0;
}

static void flush_failures(struct batch_stage *s)
{
    struct batch *f = s->fail;
    if (f == NULL || f->rec_len == 0)
        return;
    f->wal.data = f->rec;
    f->wal.len = f->rec_len;
    f->wal.pre = NULL;
    f->wal.done = s->w.hub.outcome_done;
    f->wal.cookie = f;
    f->result = BATCH_SUCCESS;
    if (wal_submit_spsc(s->w.wal, s->w.wal_producer, &f->wal) == 0)
        s->fail = NULL;
}

static void arm_linger(struct batch_stage *s)
{
    if (s->linger_armed)
        return;
    struct timeval tv = {.tv_sec = (time_t)(s->w.cfg->batch_linger_ms / 1000),
                         .tv_usec = (suseconds_t)((s->w.cfg->batch_linger_ms % 1000) * 1000)};
    event_add(s->ev_linger, &tv);
    s->linger_armed = 1;
}

/* add_to_batch: puts j (and a storage_deposit before it when deposit != 0) into the current
 * batch, flushing first when it would not fit. Returns 0, or NF_EFULL when no batch is free. */
static int add_to_batch(struct batch_stage *s, struct job *j, int deposit)
{
    uint64_t gas = s->w.cfg->ft_transfer_gas + (deposit ? s->w.cfg->storage_deposit_gas : 0);
    uint32_t bytes = action_bytes(j, 0) + (deposit ? action_bytes(j, 1) : 0);
    unsigned need = 1u + (deposit ? 1u : 0u);
    if (s->cur && (s->cur->n + need > s->w.cfg->batch_max_actions ||
                   s->cur->gas + gas > s->w.cfg->max_tx_gas ||
                   s->cur->est_bytes + bytes > BATCH_TX_CAP - 512))
        flush(s);
    if (s->cur == NULL) {
        s->cur = batch_alloc(s);
        if (s->cur == NULL)
            return NF_EFULL;
    }
    struct batch *b = s->cur;
    s->last_batch = b;
    if (deposit) {
        memcpy(b->sd_receiver[b->n], j->receiver, j->receiver_len + 1u);
        b->kinds[b->n] = WAL_ACT_STORAGE_DEPOSIT;
        b->job_ids[b->n] = atomic_load_explicit(&j->id, memory_order_relaxed);
        b->n++;
        atomic_fetch_add_explicit(&s->deposits_added, 1, memory_order_relaxed);
    }
    b->kinds[b->n] = WAL_ACT_FT_TRANSFER;
    b->job_ids[b->n] = atomic_load_explicit(&j->id, memory_order_relaxed);
    b->n++;
    b->n_transfers_++;
    b->gas += gas;
    b->est_bytes += bytes;
    j->attempts++;
    job_set_status(j, JOB_BATCHED);
    if (b->n >= s->w.cfg->batch_max_actions ||
        b->gas + s->w.cfg->ft_transfer_gas > s->w.cfg->max_tx_gas)
        flush(s);
    else
        arm_linger(s);
    return 0;
}

static void send_lookup(struct batch_stage *s, struct recv_entry *e)
{
    if (s->n_lookup_free == 0)
        return; /* callers ensure a free slot: take_job parks the job, on_lookup just freed one */
    struct lookup *l = &s->lookups[s->lookup_free[--s->n_lookup_free]];
    memcpy(l->receiver, e->name, e->len + 1u);
    l->receiver_len = e->len;
    l->exists = -1;
    l->registered = -1;
    if (nf_ring_push_spsc(s->w.lookup_out, l) != 0) {
        s->lookup_free[s->n_lookup_free++] = l->slot;
        return;
    }
    nf_ring_wake(s->w.lookup_out);
}

/* take_job: decides what to do with one durable or requeued job. Returns NF_EFULL when the stage
 * has no free batch (the caller holds the job and stops draining). */
static int take_job(struct batch_stage *s, struct job *j)
{
    int check = s->w.cfg->auto_register || s->w.cfg->check_receiver_exists;
    if (!check)
        return add_to_batch(s, j, 0);
    struct recv_entry *e = recv_find(s, j->receiver, j->receiver_len);
    if (e == NULL)
        return add_to_batch(s, j, 0);
    switch ((enum recv_state)e->state) {
    case RECV_EMPTY:
        if (s->n_lookup_free == 0) {
            /* Every lookup is in flight: park the job (the entry stays EMPTY) until one is back. */
            list_push(s, &s->starved_head, &s->starved_tail, j);
            atomic_fetch_add_explicit(&s->waiting_jobs, 1, memory_order_relaxed);
            return 0;
        }
        e->state = RECV_LOOKUP;
        list_push(s, &e->wait_head, &e->wait_tail, j);
        atomic_fetch_add_explicit(&s->waiting_jobs, 1, memory_order_relaxed);
        send_lookup(s, e);
        return 0;
    case RECV_LOOKUP:
        list_push(s, &e->wait_head, &e->wait_tail, j);
        atomic_fetch_add_explicit(&s->waiting_jobs, 1, memory_order_relaxed);
        return 0;
    case RECV_READY:
        return add_to_batch(s, j, 0);
    case RECV_MISSING: {
        char why[JOB_ERROR_MAX];
        snprintf(why, sizeof(why), "receiver account %s does not exist", j->receiver);
        return fail_job(s, j, why);
    }
    case RECV_NEEDS_DEPOSIT:
        if (!s->w.cfg->auto_register) {
            char why[JOB_ERROR_MAX];
            snprintf(why, sizeof(why),
                     "receiver %s is not registered with the token contract (storage_deposit "
                     "needed; --auto-register is off)",
                     j->receiver);
            return fail_job(s, j, why);
        }
        {
            int r = add_to_batch(s, j, 1);
            if (r == 0) {
                e->state = RECV_DEPOSIT_INFLIGHT;
                e->deposit_batch = s->last_batch->slot;
            }
            return r;
        }
    case RECV_DEPOSIT_INFLIGHT:
        if (s->cur && e->deposit_batch == s->cur->slot)
            return add_to_batch(s, j, 0);
        list_push(s, &e->wait_head, &e->wait_tail, j);
        atomic_fetch_add_explicit(&s->waiting_jobs, 1, memory_order_relaxed);
        return 0;
    }
    return add_to_batch(s, j, 0);
}

/* release_waiters: re-run every job waiting on e (its state changed). */
static void release_waiters(struct batch_stage *s, struct recv_entry *e)
{
    struct job *head = e->wait_head;
    e->wait_head = e->wait_tail = NULL;
    while (head) {
        struct job *j = head;
        head = *next_of(s, j);
        atomic_fetch_sub_explicit(&s->waiting_jobs, 1, memory_order_relaxed);
        if (take_job(s, j) != 0)
            list_push(s, &s->held_head, &s->held_tail, j);
    }
}

static void drain_held(struct batch_stage *s)
{
    struct job *j;
    while ((j = list_pop(s, &s->held_head, &s->held_tail)) != NULL) {
        if (take_job(s, j) != 0) {
            /* put it back at the front */
            *next_of(s, j) = s->held_head;
            s->held_head = j;
            if (s->held_tail == NULL)
                s->held_tail = j;
            return;
        }
    }
}

static void drain_jobs(struct batch_stage *s, struct nf_ring *r)
{
    uint64_t t0 = now_ns(), n = 0;
    nf_ring_clear(r);
    if (s->held_head != NULL) {
        drain_held(s);
        if (s->held_head != NULL)
            return; /* still no free batch: leave the ring for later (it cannot overflow) */
    }
    struct job *j;
    while ((j = nf_ring_pop_spsc(r)) != NULL) {
        n++;
        if (take_job(s, j) != 0) {
            list_push(s, &s->held_head, &s->held_tail, j);
            break;
        }
    }
    flush_failures(s);
    if (n)
        stage_count(s->w.counters, n, now_ns() - t0);
}

static void on_in(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct batch_stage *s = arg;
    atomic_fetch_add_explicit(&s->w.counters->wakeups, 1, memory_order_relaxed);
    drain_jobs(s, s->w.in);
}

static void on_requeue(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct batch_stage *s = arg;
    drain_jobs(s, s->w.requeue);
}

/* A batch is back: settle receivers whose storage_deposit it carried, recycle the slot. */
static void on_free(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct batch_stage *s = arg;
    struct nf_ring *r = s->w.free_batches;
    nf_ring_clear(r);
    struct batch *b;
    while ((b = nf_ring_pop_spsc(r)) != NULL) {
        /* A successful batch registered every storage_deposit receiver it carried; otherwise
         * the whole receipt was reverted (or never included) and they still need one. */
        for (unsigned i = 0; i < b->n; i++) {
            if (b->kinds[i] != WAL_ACT_STORAGE_DEPOSIT)
                continue;
            const char *name = b->sd_receiver[i];
            struct recv_entry *e = recv_find(s, name, strlen(name));
            if (e == NULL || e->state != RECV_DEPOSIT_INFLIGHT || e->deposit_batch != b->slot)
                continue;
            e->state = b->result == BATCH_SUCCESS ? RECV_READY : RECV_NEEDS_DEPOSIT;
            release_waiters(s, e);
        }
        batch_free_slot(s, b);
    }
    drain_held(s);
    route_ready(s);
    flush_failures(s);
    /* jobs may be waiting in the input rings for a free batch */
    drain_jobs(s, s->w.in);
    drain_jobs(s, s->w.requeue);
}

static void on_lookup(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct batch_stage *s = arg;
    struct nf_ring *r = s->w.lookup_done;
    nf_ring_clear(r);
    struct lookup *l;
    while ((l = nf_ring_pop_spsc(r)) != NULL) {
        struct recv_entry *e = recv_find(s, l->receiver, l->receiver_len);
        s->lookup_free[s->n_lookup_free++] = l->slot;
        if (e == NULL)
            continue;
        if (l->exists == 0 && s->w.cfg->check_receiver_exists) {
            e->state = RECV_MISSING;
            atomic_fetch_add_explicit(&s->receivers_missing, 1, memory_order_relaxed);
        } else if (l->registered == 0) {
            e->state = RECV_NEEDS_DEPOSIT;
        } else if (l->registered == 1 || (l->exists == 1 && !s->w.cfg->auto_register)) {
            e->state = RECV_READY;
        } else {
            /* Unknown (RPC trouble): proceed as if registered only when we cannot add a
             * deposit anyway; otherwise ask again. */
            e->state = RECV_EMPTY;
            if (e->wait_head) {
                e->state = RECV_LOOKUP;
                send_lookup(s, e);
            }
            continue;
        }
        release_waiters(s, e);
    }
    /* Lookup slots came back: re-run the jobs that found none. */
    struct job *j;
    while (s->n_lookup_free > 0 && (j = list_pop(s, &s->starved_head, &s->starved_tail)) != NULL) {
        atomic_fetch_sub_explicit(&s->waiting_jobs, 1, memory_order_relaxed);
        if (take_job(s, j) != 0)
            list_push(s, &s->held_head, &s->held_tail, j);
    }
    flush_failures(s);
}

static void on_linger(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct batch_stage *s = arg;
    s->linger_armed = 0;
    flush(s);
    flush_failures(s);
    route_ready(s);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct batch_stage *s = arg;
    nf_ring_clear(&s->stop_ring);
    flush(s);
    flush_failures(s);
    event_base_loopexit(s->base, NULL);
}

static void *batch_main(void *arg)
{
    struct batch_stage *s = arg;
    pthread_setname_np(pthread_self(), "batch");
    log_set_thread("batch");
    event_base_dispatch(s->base);
    return NULL;
}

struct batch_stage *batch_new(const struct batch_wiring *w, uint32_t n_batches, int *err)
{
    struct batch_stage *s = calloc(1, sizeof(*s));
    int rc = NF_ENOMEM;
    if (s == NULL)
        goto fail;
    s->w = *w;
    s->n_batches = n_batches;
    s->batches = calloc(n_batches, sizeof(*s->batches));
    s->free_stack = calloc(n_batches, sizeof(*s->free_stack));
    s->tx_area = nf_mem_map((size_t)n_batches * BATCH_TX_CAP);
    s->rec_area = nf_mem_map((size_t)n_batches * BATCH_REC_CAP);
    if (!s->batches || !s->free_stack || !s->tx_area || !s->rec_area)
        goto fail;
    for (uint32_t i = 0; i < n_batches; i++) {
        struct batch *b = &s->batches[i];
        b->slot = i;
        b->hub = w->hub.ctx;
        b->tx = s->tx_area + (size_t)i * BATCH_TX_CAP;
        b->rec = s->rec_area + (size_t)i * BATCH_REC_CAP;
        s->free_stack[s->n_free++] = n_batches - 1 - i;
    }
    atomic_init(&s->free_figure, s->n_free);
    s->recv_cap = 1u << 20;
    if (sodium_init() < 0) /* idempotent; nearftd has called it already */
        goto fail;
    randombytes_buf(s->recv_key, sizeof(s->recv_key));
    s->recv = nf_mem_map((size_t)s->recv_cap * sizeof(*s->recv));
    s->n_lookups = 4096;
    s->lookups = calloc(s->n_lookups, sizeof(*s->lookups));
    s->lookup_free = calloc(s->n_lookups, sizeof(*s->lookup_free));
    s->job_next = nf_mem_map((size_t)s->w.jobs->capacity * sizeof(*s->job_next));
    if (!s->recv || !s->lookups || !s->lookup_free || !s->job_next)
        goto fail;
    for (uint32_t i = 0; i < s->n_lookups; i++) {
        s->lookups[i].slot = i;
        s->lookup_free[s->n_lookup_free++] = i;
    }
    if ((rc = nf_ring_init(&s->stop_ring, 4)) != 0)
        goto fail;
    rc = NF_ENOMEM;
    s->base = event_base_new();
    if (s->base == NULL)
        goto fail;
    s->ev_in = event_new(s->base, w->in->efd, EV_READ | EV_PERSIST, on_in, s);
    s->ev_requeue = event_new(s->base, w->requeue->efd, EV_READ | EV_PERSIST, on_requeue, s);
    s->ev_free = event_new(s->base, w->free_batches->efd, EV_READ | EV_PERSIST, on_free, s);
    s->ev_lookup = event_new(s->base, w->lookup_done->efd, EV_READ | EV_PERSIST, on_lookup, s);
    s->ev_linger = evtimer_new(s->base, on_linger, s);
    s->ev_stop = event_new(s->base, s->stop_ring.efd, EV_READ | EV_PERSIST, on_stop, s);
    if (!s->ev_in || !s->ev_requeue || !s->ev_free || !s->ev_lookup || !s->ev_linger || !s->ev_stop)
        goto fail;
    event_add(s->ev_in, NULL);
    event_add(s->ev_requeue, NULL);
    event_add(s->ev_free, NULL);
    event_add(s->ev_lookup, NULL);
    event_add(s->ev_stop, NULL);
    return s;
fail:
    if (err)
        *err = rc;
    batch_free(s);
    return NULL;
}

void batch_wire_wal(struct batch_stage *s, struct wal *wal, unsigned producer)
{
    s->w.wal = wal;
    s->w.wal_producer = producer;
}

int batch_start(struct batch_stage *s)
{
    if (s->started || s->w.wal == NULL)
        return NF_ESTATE;
    if (pthread_create(&s->thread, NULL, batch_main, s) != 0)
        return NF_EIO;
    s->started = 1;
    return 0;
}

void batch_stop(struct batch_stage *s)
{
    if (s == NULL || !s->started)
        return;
    nf_ring_wake(&s->stop_ring);
    pthread_join(s->thread, NULL);
    s->started = 0;
}

void batch_free(struct batch_stage *s)
{
    if (s == NULL)
        return;
    batch_stop(s);
    struct event *evs[] = {s->ev_in,     s->ev_requeue, s->ev_free,
                           s->ev_lookup, s->ev_linger,  s->ev_stop};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    if (s->base)
        event_base_free(s->base);
    nf_ring_destroy(&s->stop_ring);
    free(s->batches);
    free(s->free_stack);
    nf_mem_unmap(s->tx_area, (size_t)s->n_batches * BATCH_TX_CAP);
    nf_mem_unmap(s->rec_area, (size_t)s->n_batches * BATCH_REC_CAP);
    nf_mem_unmap(s->recv, (size_t)s->recv_cap * sizeof(*s->recv));
    free(s->lookups);
    free(s->lookup_free);
    nf_mem_unmap(s->job_next, (size_t)s->w.jobs->capacity * sizeof(*s->job_next));
    free(s);
}

struct batch *batch_slot_ptr(struct batch_stage *s, uint32_t slot)
{
    return slot < s->n_batches ? &s->batches[slot] : NULL;
}

struct batch *batch_alloc_startup(struct batch_stage *s)
{
    return batch_alloc(s);
}

void batch_free_startup(struct batch_stage *s, struct batch *b)
{
    batch_free_slot(s, b);
}

void batch_mark_deposit_inflight(struct batch_stage *s,
                                 const char *receiver,
                                 size_t len,
                                 uint32_t slot)
{
    struct recv_entry *e = recv_find(s, receiver, len);
    if (e) {
        e->state = RECV_DEPOSIT_INFLIGHT;
        e->deposit_batch = slot;
    }
}

void batch_stats(struct batch_stage *s, struct batch_stats *out)
{
    out->waiting_jobs = atomic_load_explicit(&s->waiting_jobs, memory_order_relaxed);
    out->batches_flushed = atomic_load_explicit(&s->batches_flushed, memory_order_relaxed);
    out->actions_flushed = atomic_load_explicit(&s->actions_flushed, memory_order_relaxed);
    out->deposits_added = atomic_load_explicit(&s->deposits_added, memory_order_relaxed);
    out->receivers_missing = atomic_load_explicit(&s->receivers_missing, memory_order_relaxed);
    for (int i = 0; i < 8; i++)
        out->size_hist[i] = atomic_load_explicit(&s->size_hist[i], memory_order_relaxed);
    out->free_batches = atomic_load_explicit(&s->free_figure, memory_order_relaxed);
    out->n_batches = s->n_batches;
}
