/* test_sign: the sign stage (src/sign/sign.c) alone, driven through its wiring (struct
 * sign_wiring): two signer threads, four keys from fixed seeds (shard = index % 2), a real job
 * slab, a hand-filled struct cfg, the shared stage state and a real WAL in a temporary directory;
 * no hub. The test's main thread plays the other stages: it pushes batches into a signer's in
 * ring (the batch stage), opens the signing gate and publishes the latest block (the submit
 * thread), receives each batch from the SIGNED record's done() (the hub, which would hand it to
 * submit) and frees a key's in-flight slot (submit, once a transaction is resolved). Every wait is
 * a poll() on a ring's eventfd with a bounded timeout; QUIET_MS only bounds how long a case
 * watches for something that must not happen. */
#include <dirent.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "job.h"
#include "keypool.h"
#include "keys.h"
#include "near_tx.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_ring.h"
#include "nf_test.h"
#include "sign.h"
#include "stage_test.h"
#include "stages.h"
#include "wal.h"
#include "wal_rec.h"

#define JOB_CAP   1024u
#define RING_SIZE 64u
#define N_KEYS    4u
#define WAIT_MS   60000 /* bound for a wait that must succeed (a hang bound, not a speed goal) */
#define QUIET_MS  150   /* how long a case watches for something that must not happen */
#define TGAS      1000000000000ull
#define MAX_SEEN  16

struct fixture {
    struct cfg cfg;
    struct job_slab jobs;
    struct keypool keys;
    struct nf_ring in[2];
    struct nf_ring signed_out; /* batches whose SIGNED record is durable (or a dead barrier) */
    struct wal *wal;
    char dir[64];
    struct stage_counters ctr;
    struct stage_shared shared;
    _Atomic int done_errors;
    struct sign_stage *stage;
    struct batch *seen[MAX_SEEN]; /* every batch signed, for the log check at the end */
    int n_seen;
};

/* hub.signed_done (WAL thread): pass the batch to the test thread, as the hub passes it to
 * submit. */
static void fx_signed_done(struct wal_batch *wb, int status)
{
    struct batch *b = wb->cookie;
    struct fixture *f = b->hub;
    if (status != 0)
        atomic_fetch_add(&f->done_errors, 1);
    if (nf_ring_push_spsc(&f->signed_out, b) == 0)
        nf_ring_wake(&f->signed_out);
}

static void fx_notify_job(void *ctx, struct job *j)
{
    (void)ctx;
    (void)j;
}

static void seed_of(unsigned i, uint8_t seed[32])
{
    memset(seed, 0, 32);
    seed[0] = (uint8_t)(0x51 + i);
    seed[31] = 0x7e;
}

static int fixture_start(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->cfg.signer = "payouts.test.near";
    f->cfg.contract = "token.test.near";
    f->cfg.sign_threads = 2;
    f->cfg.inflight_per_key = 1;
    f->cfg.ft_transfer_gas = 3 * TGAS;
    f->cfg.storage_deposit_gas = 5 * TGAS;
    f->cfg.storage_deposit_amount = (nf_u128)1250000000000000000ull * 1000u;
    f->cfg.job_capacity = JOB_CAP;
    if (job_slab_init(&f->jobs, JOB_CAP, 1) != 0)
        return -1;
    struct nf_keypair *kps[N_KEYS];
    for (unsigned i = 0; i < N_KEYS; i++) {
        uint8_t seed[32];
        seed_of(i, seed);
        if (keys_from_seed(seed, &kps[i]) != 0)
            return -1;
    }
    if (keypool_init(&f->keys, kps, N_KEYS, 2) != 0)
        return -1;
    for (unsigned i = 0; i < N_KEYS; i++)
        atomic_store(&f->keys.keys[i].next_nonce, 1000u + 100u * i);
    struct nf_ring *rings[] = {&f->in[0], &f->in[1], &f->signed_out};
    for (size_t i = 0; i < 3; i++)
        if (nf_ring_init(rings[i], RING_SIZE) != 0)
            return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_sign.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    struct wal_opts wo = {.dir = f->dir,
                          .fsync = WAL_FSYNC_OFF,
                          .segment_bytes = 8u << 20,
                          .producers = 2,
                          .ring_size = 64};
    if (wal_new(&wo, &f->wal) != 0 || wal_start(f->wal) != 0)
        return -1;
    const struct sign_wiring w = {
        .cfg = &f->cfg,
        .jobs = &f->jobs,
        .keys = &f->keys,
        .in = f->in,
        .wal = f->wal,
        .wal_producer_first = 0,
        .shared = &f->shared,
        .counters = &f->ctr,
        .hub = {.ctx = f, .notify_job = fx_notify_job, .signed_done = fx_signed_done}};
    int err = 0;
    f->stage = sign_new(&w, &err);
    if (f->stage == NULL || sign_start(f->stage) != 0)
        return -1;
    return 0;
}

/* new_batch: a batch of n transfers to receiver (as the batch stage flushes them): its jobs are
 * QUEUED in the slab; the batch owns slab-sized tx and record buffers. */
static struct batch *
new_batch(struct fixture *f, unsigned n, const char *receiver, const char *memo)
{
    struct batch *b = calloc(1, sizeof(*b));
    CHECK(b != NULL);
    b->tx = malloc(BATCH_TX_CAP);
    b->rec = malloc(BATCH_REC_CAP);
    CHECK(b->tx != NULL && b->rec != NULL);
    b->hub = f;
    b->key = -1;
    b->failed_index = -1;
    uint64_t first = job_alloc_range(&f->jobs, n);
    CHECK(first != 0);
    for (unsigned k = 0; k < n; k++) {
        struct job *j = job_slot(&f->jobs, first + k);
        size_t len = strlen(receiver);
        memcpy(j->receiver, receiver, len + 1);
        j->receiver_len = (uint8_t)len;
        j->amount = 5000 + first + k;
        j->has_memo = memo != NULL;
        j->memo_len = memo ? (uint16_t)strlen(memo) : 0;
        if (memo)
            memcpy(j->memo, memo, j->memo_len + 1u);
        job_set_status(j, JOB_QUEUED);
        b->kinds[b->n] = WAL_ACT_FT_TRANSFER;
        b->job_ids[b->n] = first + k;
        b->n++;
        b->n_transfers_++;
    }
    return b;
}

static void push(struct fixture *f, unsigned signer, struct batch *b)
{
    CHECK_EQ_INT(nf_ring_push_spsc(&f->in[signer], b), 0);
    nf_ring_wake(&f->in[signer]);
}

/* expect_quiet: nothing comes out of the stage for QUIET_MS. */
static void expect_quiet(struct fixture *f)
{
    CHECK(stage_test_wait_pop(&f->signed_out, QUIET_MS) == NULL);
}

static struct batch *expect_signed(struct fixture *f)
{
    struct batch *b = stage_test_wait_pop(&f->signed_out, WAIT_MS);
    CHECK(b != NULL);
    if (b != NULL && f->n_seen < MAX_SEEN && b->tx_len > 0)
        f->seen[f->n_seen++] = b;
    return b;
}

static void publish_block(struct fixture *f, uint8_t fill, uint64_t height)
{
    uint8_t h[32];
    memset(h, fill, sizeof(h));
    block_ref_write(&f->shared.block, h, height);
    /* The signers re-check held batches on a tick; a wake makes it prompt. */
    nf_ring_wake(&f->in[0]);
    nf_ring_wake(&f->in[1]);
}

/* check_tx: b's bytes are a valid SignedTransaction of the configured signer and contract, by
 * b's key with b's nonce over the published block, whose actions are exactly the batch's. */
static void check_tx(struct fixture *f, const struct batch *b, uint8_t block_fill)
{
    CHECK(b->key >= 0 && (unsigned)b->key < N_KEYS);
    if (b->key < 0 || (unsigned)b->key >= N_KEYS)
        return;
    struct near_action acts[BATCH_MAX_ACTIONS];
    struct nf_bytes names[4];
    struct near_decode_space sp = {
        .actions = acts, .actions_cap = BATCH_MAX_ACTIONS, .names = names, .names_cap = 4};
    struct near_signed_tx stx;
    char why[160];
    CHECK_EQ_INT(near_signed_tx_decode(b->tx, b->tx_len, &sp, &stx, why, sizeof(why)), 0);
    CHECK_EQ_INT(near_signed_tx_verify(&stx), 0);
    CHECK(memcmp(stx.hash, b->tx_hash, 32) == 0);
    CHECK(stx.tx.signer_id.len == strlen(f->cfg.signer) &&
          memcmp(stx.tx.signer_id.ptr, f->cfg.signer, stx.tx.signer_id.len) == 0);
    CHECK(stx.tx.receiver_id.len == strlen(f->cfg.contract) &&
          memcmp(stx.tx.receiver_id.ptr, f->cfg.contract, stx.tx.receiver_id.len) == 0);
    CHECK(keys_pubkey_equal(&stx.tx.public_key, keys_public(f->keys.keys[b->key].kp)));
    CHECK(stx.tx.nonce == b->nonce);
    for (int i = 0; i < 32; i++)
        CHECK(stx.tx.block_hash[i] == block_fill && b->block_hash[i] == block_fill);
    CHECK_EQ_INT((int)stx.tx.n_actions, b->n);
    for (unsigned i = 0; i < b->n && i < stx.tx.n_actions; i++) {
        const struct near_action *a = &acts[i];
        CHECK_EQ_INT(a->type, NEAR_ACT_FUNCTION_CALL);
        char want[1024];
        int wl;
        const char *method;
        if (b->kinds[i] == WAL_ACT_STORAGE_DEPOSIT) {
            method = "storage_deposit";
            wl = near_storage_deposit_args(want, sizeof(want), b->sd_receiver[i],
                                           strlen(b->sd_receiver[i]), 1);
            CHECK(a->u.function_call.gas == f->cfg.storage_deposit_gas);
            CHECK(a->u.function_call.deposit == f->cfg.storage_deposit_amount);
        } else {
            const struct job *j = job_slot(&f->jobs, b->job_ids[i]);
            method = "ft_transfer";
            wl = near_ft_transfer_args(want, sizeof(want), j->receiver, j->receiver_len, j->amount,
                                       j->has_memo ? j->memo : NULL, j->memo_len);
            CHECK(a->u.function_call.gas == f->cfg.ft_transfer_gas);
            CHECK(a->u.function_call.deposit == 1);
            CHECK_EQ_INT(job_get_status(j), JOB_SIGNED);
            CHECK(job_tx_hash_is(j, b->tx_hash));
        }
        CHECK(wl > 0);
        CHECK(a->u.function_call.method_name.len == strlen(method) &&
              memcmp(a->u.function_call.method_name.ptr, method, strlen(method)) == 0);
        CHECK(a->u.function_call.args.len == (uint32_t)wl &&
              memcmp(a->u.function_call.args.ptr, want, (size_t)wl) == 0);
    }
    CHECK(b->wal.len == b->rec_len && b->rec_len > 0);
}

/* free_key: what submit does when a transaction is resolved: the key's slot frees up and the
 * shard's signer is woken. */
static void free_key(struct fixture *f, int key)
{
    atomic_fetch_sub(&f->keys.keys[key].inflight, 1);
    nf_ring_wake(&f->in[f->keys.keys[key].shard]);
}

static int replay_cb(const struct wal_rec *rec, void *ctx)
{
    struct fixture *f = ctx;
    if (rec->type != WAL_SIGNED)
        return 0;
    int found = 0;
    for (int i = 0; i < f->n_seen; i++) {
        const struct batch *b = f->seen[i];
        if (memcmp(b->tx_hash, rec->sig.tx_hash, 32) != 0)
            continue;
        found = 1;
        CHECK_EQ_INT(rec->sig.key_index, b->key);
        CHECK(rec->sig.nonce == b->nonce);
        CHECK_EQ_INT((int)rec->sig.n_actions, b->n);
        CHECK(rec->sig.signed_tx_len == b->tx_len &&
              memcmp(rec->sig.signed_tx, b->tx, b->tx_len) == 0);
        for (unsigned k = 0; k < b->n && k < rec->sig.n_actions; k++)
            CHECK(rec->sig.actions[k].job_id ==
                  (b->kinds[k] == WAL_ACT_FT_TRANSFER ? b->job_ids[k] : 0));
        f->seen[i] = f->seen[--f->n_seen]; /* each transaction is logged once */
        break;
    }
    CHECK(found);
    return 0;
}

int main(void)
{
    log_set_level(NF_LOG_WARN);
    struct fixture f;
    CHECK_EQ_INT(fixture_start(&f), 0);

    /* Signing waits for reconciliation, then for a block hash. */
    struct batch *b1 = new_batch(&f, 2, "alice.test.near", "reward #1");
    push(&f, 0, b1);
    expect_quiet(&f);
    struct sign_stats ss;
    uint64_t until = stage_test_mono_ms() + WAIT_MS;
    do { /* the signer counts it held once it has taken it from its ring */
        sign_stats(f.stage, &ss);
    } while (ss.held != 1 && stage_test_mono_ms() < until && usleep(1000) == 0);
    CHECK(ss.held == 1);
    stage_set_reconciled(&f.shared);
    nf_ring_wake(&f.in[0]);
    expect_quiet(&f);
    publish_block(&f, 0xab, 77);
    CHECK(expect_signed(&f) == b1);
    check_tx(&f, b1, 0xab);
    CHECK(b1->block_height == 77);
    CHECK_EQ_INT(b1->key % 2, 0); /* signer 0 signs with its shard's keys only */
    CHECK(b1->nonce == 1000u + 100u * (unsigned)b1->key);
    CHECK_EQ_INT((int)atomic_load(&f.keys.keys[b1->key].inflight), 1);

    /* One transaction in flight per key: the shard's other key signs the next batch, the third
     * waits until a key frees up and then takes that key's next nonce. */
    struct batch *b2 = new_batch(&f, 1, "bob.test.near", NULL);
    push(&f, 0, b2);
    CHECK(expect_signed(&f) == b2);
    check_tx(&f, b2, 0xab);
    CHECK(b2->key % 2 == 0 && b2->key != b1->key);
    struct batch *b3 = new_batch(&f, 3, "carol.test.near", "");
    push(&f, 0, b3);
    expect_quiet(&f);
    free_key(&f, b1->key);
    CHECK(expect_signed(&f) == b3);
    check_tx(&f, b3, 0xab);
    CHECK_EQ_INT(b3->key, b1->key);
    CHECK(b3->nonce == b1->nonce + 1);

    /* The other signer thread: its own keys, and a storage_deposit action. A new block is used
     * from then on. */
    publish_block(&f, 0xcd, 80);
    struct batch *b4 = new_batch(&f, 1, "dave.test.near", NULL);
    b4->kinds[1] = WAL_ACT_STORAGE_DEPOSIT;
    snprintf(b4->sd_receiver[1], sizeof(b4->sd_receiver[1]), "erin.test.near");
    b4->n = 2;
    push(&f, 1, b4);
    CHECK(expect_signed(&f) == b4);
    check_tx(&f, b4, 0xcd);
    CHECK_EQ_INT(b4->key % 2, 1);
    CHECK(b4->block_height == 80);

    /* Paused signing (out of NEAR) holds batches; resuming signs them. */
    stage_set_out_of_funds(&f.shared, 1);
    struct batch *b5 = new_batch(&f, 1, "frank.test.near", NULL);
    push(&f, 1, b5);
    expect_quiet(&f);
    stage_set_out_of_funds(&f.shared, 0);
    nf_ring_wake(&f.in[1]);
    CHECK(expect_signed(&f) == b5);
    check_tx(&f, b5, 0xcd);
    CHECK(b5->key % 2 == 1 && b5->key != b4->key);

    /* A batch that cannot be encoded (a memo that is not UTF-8) goes on as a dead barrier: no
     * nonce taken, no key held, no record written, its transfers left QUEUED for a new batch. */
    free_key(&f, b4->key);
    uint64_t nonce_before = atomic_load(&f.keys.keys[b4->key].next_nonce);
    struct batch *b6 = new_batch(&f, 1, "grace.test.near", "ok");
    struct job *j6 = job_slot(&f.jobs, b6->job_ids[0]);
    j6->memo[0] = (char)0xff;
    push(&f, 1, b6);
    CHECK(expect_signed(&f) == b6);
    CHECK_EQ_INT(b6->result, BATCH_DEAD);
    CHECK(b6->wal_failed == 1 && b6->key == -1 && b6->tx_len == 0 && b6->wal.len == 0);
    CHECK(atomic_load(&f.keys.keys[b4->key].next_nonce) == nonce_before);
    CHECK_EQ_INT((int)atomic_load(&f.keys.keys[b4->key].inflight), 0);
    CHECK_EQ_INT(job_get_status(j6), JOB_QUEUED);
    sign_stats(f.stage, &ss);
    CHECK(ss.errors == 1);
    CHECK_EQ_INT(atomic_load(&f.done_errors), 0);

    /* The signers count a pass after handing its batches on: read the figures once they are
     * joined. */
    sign_stop(f.stage);
    CHECK(atomic_load(&f.ctr.items) == 6);
    sign_stats(f.stage, &ss);
    CHECK(ss.held == 0);
    sign_free(f.stage);

    /* Everything signed is in the log exactly once, byte for byte. */
    wal_free(f.wal);
    CHECK_EQ_INT(f.n_seen, 5);
    CHECK_EQ_INT(wal_replay(f.dir, replay_cb, &f, NULL), 0);
    CHECK_EQ_INT(f.n_seen, 0);

    struct batch *all[] = {b1, b2, b3, b4, b5, b6};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        free(all[i]->tx);
        free(all[i]->rec);
        free(all[i]);
    }
    for (unsigned i = 0; i < 3; i++)
        nf_ring_destroy(i < 2 ? &f.in[i] : &f.signed_out);
    keypool_destroy(&f.keys);
    job_slab_destroy(&f.jobs);
    nf_test_rmdir(f.dir);
    return nf_test_report("test_sign");
}
