/* test_batch: the batch stage (src/batch/batch.c) alone, driven through its wiring (struct
 * batch_wiring): real nf_rings, a real job slab, a hand-filled struct cfg and a real WAL in a
 * temporary directory (for the JOB_FINAL records of transfers that fail in the batch stage); no
 * hub. The test's main thread plays every other stage: it pushes durable jobs into the stage's in
 * ring (the WAL hub), answers receiver lookups from lookup_out through lookup_done (the submit
 * stage), reads flushed batches from sign_in (the signers) and gives batches back through
 * free_batches / requeues transfers through requeue (the WAL hub after an outcome). Every wait is a
 * poll() on a ring's eventfd with a bounded timeout; nothing sleeps to synchronise. */
#include <dirent.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "cfg.h"
#include "job.h"
#include "near_tx.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_ring.h"
#include "nf_test.h"
#include "stage_test.h"
#include "stages.h"
#include "wal.h"
#include "wal_rec.h"

#define JOB_CAP   16384u
#define RING_SIZE 16384u /* job, lookup and batch rings: larger than anything a case pushes */
#define WAIT_MS   60000  /* bound for a wait that must succeed (a hang bound, not a speed goal) */
#define QUIET_MS  150    /* how long a case watches for something that must not happen */
#define TGAS      1000000000000ull

/* ---- the fixture: the batch stage's wiring, played by the test ------------------------------ */

#define UNSIGNED_START 1000000u /* shared.unsigned_jobs at start: each failure here takes one */

struct fixture {
    struct cfg cfg;
    struct job_slab jobs;
    struct nf_ring batch_in, batch_requeue, batch_free, lookup_done, submit_lookup;
    struct nf_ring sign_in[2];
    struct nf_ring fail_done; /* records-only batches after their JOB_FINALs are durable */
    struct wal *wal;
    char dir[64];
    struct stage_counters ctr;
    struct stage_shared shared;
    _Atomic uint32_t *notified; /* per job slot: hub.notify_job calls */
    _Atomic int outcome_errors;
    struct batch_stage *stage;
};

/* hub.notify_job */
static void fx_notify_job(void *ctx, struct job *j)
{
    struct fixture *p = ctx;
    atomic_fetch_add_explicit(&p->notified[j - p->jobs.jobs], 1, memory_order_relaxed);
}

/* hub.outcome_done (WAL thread): the failure records are durable; hand the batch to the test
 * thread (the real hub would unhold the jobs and push the batch into the stage's free ring). */
static void fx_outcome_done(struct wal_batch *wb, int status)
{
    struct batch *b = wb->cookie;
    struct fixture *p = b->hub;
    if (status != 0)
        atomic_fetch_add(&p->outcome_errors, 1);
    if (nf_ring_push_spsc(&p->fail_done, b) == 0)
        nf_ring_wake(&p->fail_done);
}

static uint64_t unqueued(struct fixture *p)
{
    return UNSIGNED_START - atomic_load(&p->shared.unsigned_jobs);
}

/* ---- fixture -------------------------------------------------------------------------------- */

struct opts {
    uint64_t max_actions, max_tx_gas, ft_gas, sd_gas, linger_ms;
    int auto_register, check_exists;
    unsigned sign_threads;
    uint32_t n_batches;
};

static struct opts default_opts(void)
{
    struct opts o = {.max_actions = 100,
                     .max_tx_gas = 300 * TGAS,
                     .ft_gas = 3 * TGAS,
                     .sd_gas = 5 * TGAS,
                     .linger_ms = 100,
                     .auto_register = 0,
                     .check_exists = 0,
                     .sign_threads = 1,
                     .n_batches = 16};
    return o;
}

static int fixture_start(struct fixture *p, const struct opts *o)
{
    memset(p, 0, sizeof(*p));
    p->cfg.batch_max_actions = o->max_actions;
    p->cfg.max_tx_gas = o->max_tx_gas;
    p->cfg.ft_transfer_gas = o->ft_gas;
    p->cfg.storage_deposit_gas = o->sd_gas;
    p->cfg.storage_deposit_amount = (nf_u128)1250000000000000000ull * 1000u; /* 0.00125 NEAR */
    p->cfg.auto_register = o->auto_register;
    p->cfg.check_receiver_exists = o->check_exists;
    p->cfg.batch_linger_ms = o->linger_ms;
    p->cfg.sign_threads = o->sign_threads;
    p->cfg.job_capacity = JOB_CAP;
    p->cfg.ring_size = RING_SIZE;
    if (job_slab_init(&p->jobs, JOB_CAP, 1) != 0)
        return -1;
    p->notified = calloc(JOB_CAP, sizeof(*p->notified));
    if (p->notified == NULL)
        return -1;
    struct nf_ring *rings[] = {&p->batch_in,    &p->batch_requeue, &p->batch_free,
                               &p->lookup_done, &p->submit_lookup, &p->sign_in[0],
                               &p->sign_in[1],  &p->fail_done};
    for (size_t i = 0; i < sizeof(rings) / sizeof(rings[0]); i++)
        if (nf_ring_init(rings[i], RING_SIZE) != 0)
            return -1;
    snprintf(p->dir, sizeof(p->dir), "/tmp/test_batch.XXXXXX");
    if (mkdtemp(p->dir) == NULL)
        return -1;
    struct wal_opts wo = {.dir = p->dir,
                          .fsync = WAL_FSYNC_OFF,
                          .segment_bytes = 1u << 20,
                          .group_commit_us = 0,
                          .producers = 1,
                          .ring_size = 64};
    if (wal_new(&wo, &p->wal) != 0 || wal_start(p->wal) != 0)
        return -1;
    atomic_store(&p->shared.unsigned_jobs, UNSIGNED_START);
    const struct batch_wiring w = {
        .cfg = &p->cfg,
        .jobs = &p->jobs,
        .in = &p->batch_in,
        .requeue = &p->batch_requeue,
        .free_batches = &p->batch_free,
        .lookup_done = &p->lookup_done,
        .sign_in = p->sign_in,
        .lookup_out = &p->submit_lookup,
        .wal = p->wal,
        .wal_producer = 0,
        .shared = &p->shared,
        .counters = &p->ctr,
        .hub = {.ctx = p, .notify_job = fx_notify_job, .outcome_done = fx_outcome_done}};
    int err = 0;
    p->stage = batch_new(&w, o->n_batches, &err);
    if (p->stage == NULL || batch_start(p->stage) != 0)
        return -1;
    return 0;
}

/* fixture_stop: stops the stage and the WAL (everything written is on disk afterwards). */
static void fixture_stop(struct fixture *p)
{
    batch_free(p->stage);
    p->stage = NULL;
    wal_free(p->wal);
    p->wal = NULL;
}

static void fixture_free(struct fixture *p)
{
    fixture_stop(p);
    struct nf_ring *rings[] = {&p->batch_in,    &p->batch_requeue, &p->batch_free,
                               &p->lookup_done, &p->submit_lookup, &p->sign_in[0],
                               &p->sign_in[1],  &p->fail_done};
    for (size_t i = 0; i < sizeof(rings) / sizeof(rings[0]); i++)
        nf_ring_destroy(rings[i]);
    job_slab_destroy(&p->jobs);
    free(p->notified);
    nf_test_rmdir(p->dir);
}

/* make_jobs: n durable jobs to receiver (as the WAL hub would hand them over): QUEUED, PIPE hold.
 */
static uint64_t make_jobs(struct fixture *p, uint32_t n, const char *receiver)
{
    uint64_t first = job_alloc_range(&p->jobs, n);
    CHECK(first != 0);
    for (uint32_t k = 0; k < n; k++) {
        struct job *j = job_slot(&p->jobs, first + k);
        size_t len = strlen(receiver);
        memcpy(j->receiver, receiver, len + 1);
        j->receiver_len = (uint8_t)len;
        j->amount = 1000 + first + k;
        j->has_memo = 0;
        j->memo_len = 0;
        j->attempts = 0;
        j->error[0] = '\0';
        j->waiter_thread = -1;
        job_hold(j, JOB_HOLD_PIPE);
        job_set_status(j, JOB_QUEUED);
    }
    return first;
}

static struct job *job_of(struct fixture *p, uint64_t id)
{
    return job_slot(&p->jobs, id);
}

/* push_ids: gives the jobs first..first+n-1 to the stage through r, one wake for the burst. */
static void push_ids(struct fixture *p, struct nf_ring *r, uint64_t first, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        CHECK_EQ_INT(nf_ring_push_spsc(r, job_of(p, first + k)), 0);
    nf_ring_wake(r);
}

static struct batch *wait_batch(struct fixture *p, unsigned signer)
{
    struct batch *b = stage_test_wait_pop(&p->sign_in[signer], WAIT_MS);
    CHECK(b != NULL);
    return b;
}

static struct lookup *wait_lookup(struct fixture *p)
{
    struct lookup *l = stage_test_wait_pop(&p->submit_lookup, WAIT_MS);
    CHECK(l != NULL);
    return l;
}

/* answer: the submit stage's reply to a lookup (pushed, woken by the caller via answer_wake). */
static void answer(struct fixture *p, struct lookup *l, int exists, int registered)
{
    l->exists = (int8_t)exists;
    l->registered = (int8_t)registered;
    CHECK_EQ_INT(nf_ring_push_spsc(&p->lookup_done, l), 0);
}

static void give_back(struct fixture *p, struct batch *b, enum batch_result result)
{
    b->result = (uint8_t)result;
    CHECK_EQ_INT(nf_ring_push_spsc(&p->batch_free, b), 0);
    nf_ring_wake(&p->batch_free);
}

static int lookup_is(const struct lookup *l, const char *name)
{
    return l != NULL && l->receiver_len == strlen(name) && strcmp(l->receiver, name) == 0;
}

/* check_transfers: b holds exactly the transfers first..first+n-1, in order, no deposits. */
static void check_transfers(struct fixture *p, const struct batch *b, uint64_t first, unsigned n)
{
    if (b == NULL)
        return;
    CHECK_EQ_INT(b->n, n);
    CHECK_EQ_INT(b->n_transfers_, n);
    CHECK_EQ_INT(b->gas, (uint64_t)n * p->cfg.ft_transfer_gas);
    CHECK_EQ_INT(b->key, -1);
    CHECK_EQ_INT(b->result, BATCH_PENDING);
    int bad = 0;
    for (unsigned i = 0; i < n && i < b->n; i++) {
        struct job *j = job_of(p, b->job_ids[i]);
        if (b->kinds[i] != WAL_ACT_FT_TRANSFER || b->job_ids[i] != first + i ||
            job_get_status(j) != JOB_BATCHED)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

static struct batch_stats stats(struct fixture *p)
{
    struct batch_stats st;
    batch_stats(p->stage, &st);
    return st;
}

/* ---- cases ---------------------------------------------------------------------------------- */

/* 250 jobs: two full batches at once, then the remaining 50 when the linger timer fires. A
 * requeued transfer is batched again with attempts incremented. */
static void test_grouping_linger(void)
{
    struct fixture *p = calloc(1, sizeof(*p));
    struct opts o = default_opts();
    o.linger_ms = 150;
    CHECK_EQ_INT(fixture_start(p, &o), 0);
    uint64_t first = make_jobs(p, 250, "bob.near");
    uint64_t t0 = stage_test_mono_ms();
    push_ids(p, &p->batch_in, first, 250);
    struct batch *b1 = wait_batch(p, 0);
    struct batch *b2 = wait_batch(p, 0);
    struct batch *b3 = wait_batch(p, 0);
    uint64_t t3 = stage_test_mono_ms();
    if (!b1 || !b2 || !b3)
        goto out;
    check_transfers(p, b1, first, 100);
    check_transfers(p, b2, first + 100, 100);
    check_transfers(p, b3, first + 200, 50);
    CHECK(b1 != b2 && b2 != b3 && b1 != b3);
    /* The last 50 waited for the linger timer, armed when job 201 was added (after t0). */
    CHECK(t3 - t0 + 1 >= o.linger_ms);
    for (uint32_t k = 0; k < 250; k++) {
        CHECK_EQ_INT(job_of(p, first + k)->attempts, 1);
        CHECK_EQ_INT(atomic_load(&p->notified[(first + k) % JOB_CAP]), 0);
    }
    struct batch_stats st = stats(p);
    CHECK_EQ_INT(st.batches_flushed, 3);
    CHECK_EQ_INT(st.actions_flushed, 250);
    CHECK_EQ_INT(st.size_hist[6], 2); /* 100 */
    CHECK_EQ_INT(st.size_hist[4], 1); /* 50-74 */
    CHECK_EQ_INT(st.free_batches, o.n_batches - 3);
    CHECK_EQ_INT(st.waiting_jobs, 0);
    CHECK_EQ_INT(unqueued(p), 0);
    CHECK(stage_test_wait_pop(&p->submit_lookup, 0) == NULL); /* no lookups with both checks off */

    /* Batch b3 died: its transfers come back through the requeue ring and go out again. */
    for (uint32_t k = 200; k < 250; k++)
        job_set_status(job_of(p, first + k), JOB_QUEUED);
    give_back(p, b1, BATCH_SUCCESS);
    give_back(p, b2, BATCH_SUCCESS);
    push_ids(p, &p->batch_requeue, first + 200, 50);
    give_back(p, b3, BATCH_DEAD);
    struct batch *b4 = wait_batch(p, 0);
    check_transfers(p, b4, first + 200, 50);
    for (uint32_t k = 200; k < 250; k++)
        CHECK_EQ_INT(job_of(p, first + k)->attempts, 2);
    if (b4)
        give_back(p, b4, BATCH_SUCCESS);
out:
    fixture_free(p);
    free(p);
}

/* Batches alternate between signer rings. */
static void test_round_robin(void)
{
    struct fixture *p = calloc(1, sizeof(*p));
    struct opts o = default_opts();
    o.sign_threads = 2;
    CHECK_EQ_INT(fixture_start(p, &o), 0);
    uint64_t first = make_jobs(p, 300, "bob.near");
    push_ids(p, &p->batch_in, first, 300);
    struct batch *a = wait_batch(p, 0);
    struct batch *b = wait_batch(p, 1);
    struct batch *c = wait_batch(p, 0);
    check_transfers(p, a, first, 100);
    check_transfers(p, b, first + 100, 100);
    check_transfers(p, c, first + 200, 100);
    CHECK(stage_test_wait_pop(&p->sign_in[1], 0) == NULL);
    fixture_free(p);
    free(p);
}

/* Gas: with max_tx_gas = 10 x ft_transfer_gas (plus change) a batch holds 10 transfers; with
 * batch_max_actions 7 it holds 7. */
static void test_gas_budget(void)
{
    for (int variant = 0; variant < 3; variant++) {
        struct fixture *p = calloc(1, sizeof(*p));
        struct opts o = default_opts();
        o.linger_ms = 60;
        unsigned per = 10;
        if (variant == 0)
            o.max_tx_gas = 10 * o.ft_gas;
        else if (variant == 1)
            o.max_tx_gas = 11 * o.ft_gas - 1;
        else {
            o.max_actions = 7;
            per = 7;
        }
        CHECK_EQ_INT(fixture_start(p, &o), 0);
        unsigned total = 35;
        uint64_t first = make_jobs(p, total, "gas.near");
        push_ids(p, &p->batch_in, first, total);
        for (unsigned done = 0; done < total;) {
            unsigned want = total - done < per ? total - done : per;
            struct batch *b = wait_batch(p, 0);
            if (b == NULL)
                break;
            check_transfers(p, b, first + done, want);
            CHECK(b->gas <= o.max_tx_gas);
            done += want;
        }
        fixture_free(p);
        free(p);
    }
}

/* Bytes: 100 transfers with 64-byte receivers and 256-byte memos that all need \u00xx escapes
 * (the largest ft_transfer there is) still fit one batch, and the stage's byte estimate bounds the
 * real signed transaction (the 512 spare bytes cover the transaction header and signature). */
static long signed_size(struct fixture *p, const struct batch *b)
{
    static char args[BATCH_MAX_ACTIONS][2048];
    struct near_action acts[BATCH_MAX_ACTIONS];
    char signer[65], contract[65];
    memset(signer, 's', 64);
    signer[64] = '\0';
    memset(contract, 'c', 64);
    contract[64] = '\0';
    for (unsigned i = 0; i < b->n; i++) {
        struct job *j = job_of(p, b->job_ids[i]);
        memset(&acts[i], 0, sizeof(acts[i]));
        acts[i].type = NEAR_ACT_FUNCTION_CALL;
        int len;
        if (b->kinds[i] == WAL_ACT_STORAGE_DEPOSIT) {
            len = near_storage_deposit_args(args[i], sizeof(args[i]), b->sd_receiver[i],
                                            strlen(b->sd_receiver[i]), 1);
            acts[i].u.function_call.method_name.ptr = (const uint8_t *)"storage_deposit";
            acts[i].u.function_call.method_name.len = 15;
            acts[i].u.function_call.gas = p->cfg.storage_deposit_gas;
            acts[i].u.function_call.deposit = p->cfg.storage_deposit_amount;
        } else {
            len = near_ft_transfer_args(args[i], sizeof(args[i]), j->receiver, j->receiver_len,
                                        j->amount, j->has_memo ? j->memo : NULL, j->memo_len);
            acts[i].u.function_call.method_name.ptr = (const uint8_t *)"ft_transfer";
            acts[i].u.function_call.method_name.len = 11;
            acts[i].u.function_call.gas = p->cfg.ft_transfer_gas;
            acts[i].u.function_call.deposit = 1;
        }
        if (len < 0)
            return len;
        acts[i].u.function_call.args.ptr = (const uint8_t *)args[i];
        acts[i].u.function_call.args.len = (uint32_t)len;
    }
    struct near_tx tx = {0};
    tx.signer_id.ptr = (const uint8_t *)signer;
    tx.signer_id.len = 64;
    tx.public_key.type = NF_KEY_ED25519;
    tx.nonce = UINT64_MAX;
    tx.receiver_id.ptr = (const uint8_t *)contract;
    tx.receiver_id.len = 64;
    tx.n_actions = b->n;
    tx.actions = acts;
    size_t n = near_tx_encoded_size(&tx);
    return n ? (long)(n + NEAR_SIGNED_EXTRA) : -1;
}

static void test_byte_budget(void)
{
    struct fixture *p = calloc(1, sizeof(*p));
    struct opts o = default_opts();
    CHECK_EQ_INT(fixture_start(p, &o), 0);
    char recv[65];
    memset(recv, 'r', 59);
    memcpy(recv + 59, ".near", 6); /* 64 bytes + NUL */
    uint64_t first = make_jobs(p, 100, recv);
    for (uint32_t k = 0; k < 100; k++) {
        struct job *j = job_of(p, first + k);
        j->has_memo = 1;
        j->memo_len = JOB_MEMO_MAX;
        memset(j->memo, 0x01, JOB_MEMO_MAX); /* each byte becomes \u0001 */
        j->memo[JOB_MEMO_MAX] = '\0';
        j->amount = ~(nf_u128)0; /* 39 digits */
    }
    push_ids(p, &p->batch_in, first, 100);
    struct batch *b = wait_batch(p, 0);
    check_transfers(p, b, first, 100);
    if (b) {
        long real = signed_size(p, b);
        CHECK(real > 150000); /* large enough to make the budget matter */
        CHECK(b->est_bytes <= BATCH_TX_CAP - 512);
        CHECK(real <= (long)b->est_bytes + 512);
        CHECK(real <= (long)BATCH_TX_CAP);
        printf("test_batch: 100 max-size transfers est_bytes=%u signed=%ld cap=%u\n", b->est_bytes,
               real, BATCH_TX_CAP);
    }
    fixture_free(p);
    free(p);
}

/* Auto-register: one storage_deposit right before a new receiver's first transfer; none for a
 * second transfer in the same batch; a third one after the flush waits until that batch is back
 * (SUCCESS: no deposit); after a DEAD batch a new deposit is added. */
static void check_sd(const struct batch *b, unsigned i, const char *receiver, uint64_t job)
{
    CHECK_EQ_INT(b->kinds[i], WAL_ACT_STORAGE_DEPOSIT);
    CHECK_EQ_STR(b->sd_receiver[i], receiver);
    CHECK_EQ_INT(b->job_ids[i], job);
}

static void check_ft(struct fixture *p, const struct batch *b, unsigned i, uint64_t job)
{
    CHECK_EQ_INT(b->kinds[i], WAL_ACT_FT_TRANSFER);
    CHECK_EQ_INT(b->job_ids[i], job);
    CHECK_EQ_INT(job_get_status(job_of(p, job)), JOB_BATCHED);
}

static void test_auto_register(void)
{
    struct fixture *p = calloc(1, sizeof(*p));
    struct opts o = default_opts();
    o.auto_register = 1;
    o.check_exists = 1;
    o.linger_ms = 60;
    CHECK_EQ_INT(fixture_start(p, &o), 0);
    const uint64_t ft = o.ft_gas, sd = o.sd_gas;

    uint64_t r1 = make_jobs(p, 1, "carol.near");
    uint64_t n1 = make_jobs(p, 2, "newbie.near"), n2 = n1 + 1;
    CHECK_EQ_INT(nf_ring_push_spsc(&p->batch_in, job_of(p, r1)), 0);
    push_ids(p, &p->batch_in, n1, 2);
    struct lookup *lc = wait_lookup(p), *ln = wait_lookup(p);
    CHECK(lookup_is(lc, "carol.near"));
    CHECK(lookup_is(ln, "newbie.near"));
    CHECK(stage_test_wait_pop(&p->submit_lookup, 0) == NULL); /* one lookup per receiver */
    if (!lc || !ln)
        goto out;
    answer(p, lc, 1, 1);
    answer(p, ln, 1, 0);
    nf_ring_wake(&p->lookup_done);
    struct batch *b1 = wait_batch(p, 0);
    if (b1 == NULL)
        goto out;
    CHECK_EQ_INT(b1->n, 4);
    CHECK_EQ_INT(b1->n_transfers_, 3);
    check_ft(p, b1, 0, r1);
    check_sd(b1, 1, "newbie.near", n1);
    check_ft(p, b1, 2, n1);
    check_ft(p, b1, 3, n2);
    CHECK_EQ_INT(b1->gas, 3 * ft + sd);
    CHECK(signed_size(p, b1) <= (long)b1->est_bytes + 512);

    /* n3 arrives after the flush: it waits for b1. barrier (to a registered receiver) goes out on
     * its own, which proves n3 was taken and held. */
    uint64_t n3 = make_jobs(p, 1, "newbie.near");
    uint64_t barrier = make_jobs(p, 1, "carol.near");
    CHECK_EQ_INT(nf_ring_push_spsc(&p->batch_in, job_of(p, n3)), 0);
    push_ids(p, &p->batch_in, barrier, 1);
    struct batch *b2 = wait_batch(p, 0);
    if (b2 == NULL)
        goto out;
    CHECK_EQ_INT(b2->n, 1);
    check_ft(p, b2, 0, barrier);
    CHECK_EQ_INT(stats(p).waiting_jobs, 1);
    CHECK_EQ_INT(job_get_status(job_of(p, n3)), JOB_QUEUED);
    CHECK(stage_test_wait_pop(&p->submit_lookup, 0) ==
          NULL); /* the cache answered: no new lookup */

    /* b1 landed: newbie is registered now; n3 goes out without a deposit. */
    give_back(p, b1, BATCH_SUCCESS);
    struct batch *b3 = wait_batch(p, 0);
    if (b3 == NULL)
        goto out;
    CHECK_EQ_INT(b3->n, 1);
    check_ft(p, b3, 0, n3);
    CHECK_EQ_INT(b3->gas, ft);
    CHECK_EQ_INT(stats(p).waiting_jobs, 0);
    CHECK_EQ_INT(stats(p).deposits_added, 1);
    give_back(p, b2, BATCH_SUCCESS);
    give_back(p, b3, BATCH_SUCCESS);

    /* A deposit whose batch died: the receiver needs a new one. */
    uint64_t d1 = make_jobs(p, 1, "deadbeat.near");
    push_ids(p, &p->batch_in, d1, 1);
    struct lookup *ld = wait_lookup(p);
    CHECK(lookup_is(ld, "deadbeat.near"));
    if (ld == NULL)
        goto out;
    answer(p, ld, 1, 0);
    nf_ring_wake(&p->lookup_done);
    struct batch *b4 = wait_batch(p, 0);
    if (b4 == NULL)
        goto out;
    CHECK_EQ_INT(b4->n, 2);
    check_sd(b4, 0, "deadbeat.near", d1);
    check_ft(p, b4, 1, d1);
    uint64_t d2 = make_jobs(p, 1, "deadbeat.near");
    uint64_t barrier2 = make_jobs(p, 1, "carol.near");
    CHECK_EQ_INT(nf_ring_push_spsc(&p->batch_in, job_of(p, d2)), 0);
    push_ids(p, &p->batch_in, barrier2, 1);
    struct batch *b5 = wait_batch(p, 0);
    if (b5 == NULL)
        goto out;
    CHECK_EQ_INT(b5->n, 1);
    check_ft(p, b5, 0, barrier2);
    /* As the WAL hub does after a DEAD outcome: the transfer first, then the batch. */
    job_set_status(job_of(p, d1), JOB_QUEUED);
    push_ids(p, &p->batch_requeue, d1, 1);
    give_back(p, b4, BATCH_DEAD);
    struct batch *b6 = wait_batch(p, 0);
    if (b6 == NULL)
        goto out;
    CHECK_EQ_INT(b6->n, 3);
    check_sd(b6, 0, "deadbeat.near", d2);
    check_ft(p, b6, 1, d2);
    check_ft(p, b6, 2, d1);
    CHECK_EQ_INT(b6->gas, 2 * ft + sd);
    CHECK_EQ_INT(job_of(p, d1)->attempts, 2);
    CHECK_EQ_INT(job_of(p, d2)->attempts, 1);
    CHECK_EQ_INT(stats(p).deposits_added, 3);
    CHECK(stage_test_wait_pop(&p->submit_lookup, 0) == NULL);
    give_back(p, b5, BATCH_SUCCESS);
    give_back(p, b6, BATCH_SUCCESS);

    /* A deposit and its transfer never straddle two batches: 99 transfers leave room for one
     * more action only, so the new receiver's pair starts the next batch. */
    uint64_t many = make_jobs(p, 99, "dave.near");
    uint64_t fresh = make_jobs(p, 1, "fresh.near");
    CHECK_EQ_INT(many + 99, fresh);
    push_ids(p, &p->batch_in, many, 100);
    struct lookup *lv = wait_lookup(p), *lf = wait_lookup(p);
    CHECK(lookup_is(lv, "dave.near"));
    CHECK(lookup_is(lf, "fresh.near"));
    if (lv == NULL || lf == NULL)
        goto out;
    answer(p, lv, 1, 1); /* both answers in one burst: one callback adds all 101 actions */
    answer(p, lf, 1, 0);
    nf_ring_wake(&p->lookup_done);
    struct batch *b7 = wait_batch(p, 0), *b8 = wait_batch(p, 0);
    check_transfers(p, b7, many, 99);
    if (b8) {
        CHECK_EQ_INT(b8->n, 2);
        check_sd(b8, 0, "fresh.near", fresh);
        check_ft(p, b8, 1, fresh);
    }
out:
    fixture_free(p);
    free(p);
}

/* An unknown lookup answer (RPC trouble) is asked again. */
static void test_lookup_unknown(void)
{
    struct fixture *p = calloc(1, sizeof(*p));
    struct opts o = default_opts();
    o.auto_register = 1;
    o.check_exists = 1;
    o.linger_ms = 40;
    CHECK_EQ_INT(fixture_start(p, &o), 0);
    uint64_t a = make_jobs(p, 2, "flaky.near");
    push_ids(p, &p->batch_in, a, 2);
    struct lookup *l = wait_lookup(p);
    CHECK(lookup_is(l, "flaky.near"));
    if (l == NULL)
        goto out;
    answer(p, l, -1, -1);
    nf_ring_wake(&p->lookup_done);
    l = wait_lookup(p);
    CHECK(lookup_is(l, "flaky.near"));
    CHECK_EQ_INT(l ? l->exists : 0, -1); /* reset before it is sent again */
    if (l == NULL)
        goto out;
    answer(p, l, 1, 1);
    nf_ring_wake(&p->lookup_done);
    struct batch *b = wait_batch(p, 0);
    check_transfers(p, b, a, 2);
out:
    fixture_free(p);
    free(p);
}

/* Replay: collects the JOB_FINAL records of the WAL. */
struct finals {
    unsigned n, other;
    uint64_t ids[16];
    uint8_t status[16];
    int has_tx[16];
    char error[16][JOB_ERROR_MAX];
};

static int collect_finals(const struct wal_rec *rec, void *ctx)
{
    struct finals *f = ctx;
    if (rec->type != WAL_JOB_FINAL || f->n >= 16) {
        f->other++;
        return 0;
    }
    f->ids[f->n] = rec->job_final.job_id;
    f->status[f->n] = rec->job_final.status;
    f->has_tx[f->n] = rec->job_final.has_tx_hash;
    size_t len =
        rec->job_final.error.len < JOB_ERROR_MAX - 1 ? rec->job_final.error.len : JOB_ERROR_MAX - 1;
    if (rec->job_final.error.ptr)
        memcpy(f->error[f->n], rec->job_final.error.ptr, len);
    f->error[f->n][len] = '\0';
    f->n++;
    return 0;
}

/* check_failed: job id failed here with a reason containing both needles, was notified once. */
static void check_failed(struct fixture *p, uint64_t id, const char *needle1, const char *needle2)
{
    struct job *j = job_of(p, id);
    CHECK_EQ_INT(job_get_status(j), JOB_FAILED);
    CHECK(strstr(j->error, needle1) != NULL);
    CHECK(strstr(j->error, needle2) != NULL);
    CHECK(j->done_ms != 0);
    CHECK_EQ_INT(atomic_load(&p->notified[id % JOB_CAP]), 1);
}

static void check_final_records(struct fixture *p, const uint64_t *ids, unsigned n)
{
    struct finals f;
    memset(&f, 0, sizeof(f));
    CHECK_EQ_INT(wal_replay(p->dir, collect_finals, &f, NULL), 0);
    CHECK_EQ_INT(f.n, n);
    CHECK_EQ_INT(f.other, 0);
    for (unsigned i = 0; i < n && i < f.n; i++) {
        CHECK_EQ_INT(f.ids[i], ids[i]);
        CHECK_EQ_INT(f.status[i], WAL_JOB_FAILED);
        CHECK_EQ_INT(f.has_tx[i], 0);
        CHECK_EQ_STR(f.error[i], job_of(p, ids[i])->error);
    }
}

/* A receiver that does not exist: its transfers fail here with a JOB_FINAL record in the WAL;
 * the cache answers later transfers to it without a new lookup. */
static void test_missing_account(void)
{
    struct fixture *p = calloc(1, sizeof(*p));
    struct opts o = default_opts();
    o.auto_register = 1;
    o.check_exists = 1;
    o.linger_ms = 40;
    CHECK_EQ_INT(fixture_start(p, &o), 0);
    uint64_t m1 = make_jobs(p, 2, "ghost.near"), m2 = m1 + 1;
    uint64_t g1 = make_jobs(p, 1, "carol.near");
    push_ids(p, &p->batch_in, m1, 2);
    push_ids(p, &p->batch_in, g1, 1);
    struct lookup *lg = wait_lookup(p), *lc = wait_lookup(p);
    CHECK(lookup_is(lg, "ghost.near"));
    CHECK(lookup_is(lc, "carol.near"));
    if (!lg || !lc)
        goto out;
    answer(p, lg, 0, 0);
    answer(p, lc, 1, 1);
    nf_ring_wake(&p->lookup_done);
    struct batch *f1 = stage_test_wait_pop(&p->fail_done, WAIT_MS);
    CHECK(f1 != NULL);
    if (f1 == NULL)
        goto out;
    CHECK_EQ_INT(f1->n, 2);
    CHECK_EQ_INT(f1->kinds[0], BATCH_KIND_FAILED);
    CHECK_EQ_INT(f1->kinds[1], BATCH_KIND_FAILED);
    CHECK_EQ_INT(f1->job_ids[0], m1);
    CHECK_EQ_INT(f1->job_ids[1], m2);
    CHECK(f1->rec_len > 0);
    check_failed(p, m1, "does not exist", "ghost.near");
    check_failed(p, m2, "does not exist", "ghost.near");
    CHECK_EQ_INT(unqueued(p), 2);
    struct batch *b = wait_batch(p, 0);
    check_transfers(p, b, g1, 1);
    CHECK_EQ_INT(stats(p).receivers_missing, 1);

    /* Cached: the next transfer to it fails without a lookup. */
    uint64_t m3 = make_jobs(p, 1, "ghost.near");
    push_ids(p, &p->batch_in, m3, 1);
    struct batch *f2 = stage_test_wait_pop(&p->fail_done, WAIT_MS);
    CHECK(f2 != NULL);
    if (f2) {
        CHECK_EQ_INT(f2->n, 1);
        CHECK_EQ_INT(f2->job_ids[0], m3);
    }
    check_failed(p, m3, "does not exist", "ghost.near");
    CHECK(stage_test_wait_pop(&p->submit_lookup, 0) == NULL);
    CHECK_EQ_INT(atomic_load(&p->outcome_errors), 0);
    CHECK_EQ_INT(stats(p).free_batches, o.n_batches - 3);

    fixture_stop(p);
    const uint64_t ids[] = {m1, m2, m3};
    check_final_records(p, ids, 3);
out:
    fixture_free(p);
    free(p);
}

/* --auto-register off: an unregistered receiver fails with a reason that says so; an unknown
 * registration answer proceeds (nothing could be added anyway). */
static void test_no_auto_register(void)
{
    struct fixture *p = calloc(1, sizeof(*p));
    struct opts o = default_opts();
    o.auto_register = 0;
    o.check_exists = 1;
    o.linger_ms = 40;
    CHECK_EQ_INT(fixture_start(p, &o), 0);
    uint64_t u1 = make_jobs(p, 1, "plain.near");
    uint64_t r1 = make_jobs(p, 1, "maybe.near");
    push_ids(p, &p->batch_in, u1, 1);
    push_ids(p, &p->batch_in, r1, 1);
    struct lookup *lu = wait_lookup(p), *lr = wait_lookup(p);
    CHECK(lookup_is(lu, "plain.near"));
    CHECK(lookup_is(lr, "maybe.near"));
    if (!lu || !lr)
        goto out;
    answer(p, lu, 1, 0);
    answer(p, lr, 1, -1);
    nf_ring_wake(&p->lookup_done);
    struct batch *f = stage_test_wait_pop(&p->fail_done, WAIT_MS);
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ_INT(f->n, 1);
        CHECK_EQ_INT(f->job_ids[0], u1);
    }
    check_failed(p, u1, "plain.near", "not registered");
    CHECK(strstr(job_of(p, u1)->error, "--auto-register is off") != NULL);
    struct batch *b = wait_batch(p, 0);
    check_transfers(p, b, r1, 1);
    CHECK_EQ_INT(stats(p).deposits_added, 0);
    fixture_stop(p);
    const uint64_t ids[] = {u1};
    check_final_records(p, ids, 1);
out:
    fixture_free(p);
    free(p);
}

/* No free batch: jobs are held (not dropped, not spun on) until a batch comes back. */
static void test_no_free_batch(void)
{
    struct fixture *p = calloc(1, sizeof(*p));
    struct opts o = default_opts();
    o.n_batches = 2;
    CHECK_EQ_INT(fixture_start(p, &o), 0);
    uint64_t first = make_jobs(p, 300, "bob.near");
    push_ids(p, &p->batch_in, first, 300);
    struct batch *b1 = wait_batch(p, 0), *b2 = wait_batch(p, 0);
    check_transfers(p, b1, first, 100);
    check_transfers(p, b2, first + 100, 100);
    CHECK(stage_test_wait_pop(&p->sign_in[0], QUIET_MS) == NULL);
    CHECK_EQ_INT(job_get_status(job_of(p, first + 200)), JOB_QUEUED);
    if (b1)
        give_back(p, b1, BATCH_SUCCESS);
    struct batch *b3 = wait_batch(p, 0);
    check_transfers(p, b3, first + 200, 100);
    fixture_free(p);
    free(p);
}

/* More receivers waiting for a lookup than the stage has lookup slots (4096): the receivers that
 * found no free slot must be looked up once slots come back, not wait forever. */
static void test_lookup_slots_exhausted(void)
{
    enum { N = 4100 };
    struct fixture *p = calloc(1, sizeof(*p));
    struct opts o = default_opts();
    o.auto_register = 1;
    o.check_exists = 1;
    o.linger_ms = 20;
    o.n_batches = 64;
    CHECK_EQ_INT(fixture_start(p, &o), 0);
    uint64_t first = make_jobs(p, N, "x");
    for (uint32_t k = 0; k < N; k++) {
        struct job *j = job_of(p, first + k);
        j->receiver_len = (uint8_t)snprintf(j->receiver, sizeof(j->receiver), "r%u.near", k);
    }
    push_ids(p, &p->batch_in, first, N);
    static struct lookup *ls[N];
    unsigned got = 0;
    struct lookup *l;
    while (got < N &&
           (l = stage_test_wait_pop(&p->submit_lookup, got < 4096 ? WAIT_MS : QUIET_MS)) != NULL)
        ls[got++] = l;
    CHECK_EQ_INT(got, 4096); /* every slot in flight */
    for (unsigned i = 0; i < got; i++)
        answer(p, ls[i], 1, 1);
    nf_ring_wake(&p->lookup_done);
    unsigned more = 0;
    while (more < N - 4096 && (l = stage_test_wait_pop(&p->submit_lookup, WAIT_MS)) != NULL) {
        answer(p, l, 1, 1);
        nf_ring_wake(&p->lookup_done);
        more++;
    }
    CHECK_EQ_INT(more, N - 4096);
    /* Every transfer goes out; batches are handed back as they come. */
    unsigned transfers = 0;
    struct batch *b;
    while (transfers < N && (b = stage_test_wait_pop(&p->sign_in[0], WAIT_MS)) != NULL) {
        transfers += b->n_transfers_;
        give_back(p, b, BATCH_SUCCESS);
    }
    CHECK_EQ_INT(transfers, N);
    CHECK_EQ_INT(stats(p).waiting_jobs, 0);
    fixture_free(p);
    free(p);
}

int main(void)
{
    log_set_level(NF_LOG_WARN);
    test_grouping_linger();
    test_round_robin();
    test_gas_budget();
    test_byte_budget();
    test_auto_register();
    test_lookup_unknown();
    test_missing_account();
    test_no_auto_register();
    test_no_free_batch();
    test_lookup_slots_exhausted();
    return nf_test_report("test_batch");
}
