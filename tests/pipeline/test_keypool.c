/* test_keypool: the signer key pool (src/pipeline/keypool.c): shard assignment (i % shards), nonce
 * taking, keypool_raise_nonce as an atomic max (never lowers; raced by two raiser threads against a
 * taker whose nonces must stay strictly increasing), and quarantine (first reason wins, also when
 * two threads quarantine the same key at once while a reader watches the published reason). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keypool.h"
#include "keys.h"
#include "nf_test.h"

static int make_pool(struct keypool *p, uint16_t n, uint16_t shards)
{
    struct nf_keypair *kps[16];
    for (uint16_t i = 0; i < n; i++) {
        uint8_t seed[32];
        memset(seed, 0x10 + i, sizeof(seed));
        if (keys_from_seed(seed, &kps[i]) != 0)
            return -1;
    }
    return keypool_init(p, kps, n, shards);
}

static void test_init_shards(void)
{
    struct keypool p;
    CHECK_EQ_INT(make_pool(&p, 7, 3), 0);
    CHECK_EQ_INT(p.n, 7);
    CHECK_EQ_INT(p.shards, 3);
    for (uint16_t i = 0; i < 7; i++) {
        struct pool_key *k = &p.keys[i];
        CHECK_EQ_INT(k->index, i);
        CHECK_EQ_INT(k->shard, i % 3);
        CHECK(keypool_usable(k));
        CHECK_EQ_INT(atomic_load(&k->inflight), 0);
        char want[KEYS_PUBKEY_STR_MAX];
        keys_pubkey_format(keys_public(k->kp), want, sizeof(want));
        CHECK_EQ_STR(k->public_str, want);
        CHECK(strncmp(k->public_str, "ed25519:", 8) == 0);
    }
    CHECK(strcmp(p.keys[0].public_str, p.keys[1].public_str) != 0);
    keypool_destroy(&p);
    CHECK(p.keys == NULL);
    keypool_destroy(&p); /* idempotent */
    keypool_destroy(NULL);

    /* shards 0 means one shard; more shards than keys leaves some empty. */
    CHECK_EQ_INT(make_pool(&p, 3, 0), 0);
    CHECK_EQ_INT(p.shards, 1);
    for (uint16_t i = 0; i < 3; i++)
        CHECK_EQ_INT(p.keys[i].shard, 0);
    keypool_destroy(&p);
    CHECK_EQ_INT(make_pool(&p, 2, 5), 0);
    CHECK_EQ_INT(p.keys[0].shard, 0);
    CHECK_EQ_INT(p.keys[1].shard, 1);
    keypool_destroy(&p);
}

static void test_nonces(void)
{
    struct keypool p;
    CHECK_EQ_INT(make_pool(&p, 2, 1), 0);
    struct pool_key *k = &p.keys[0];
    CHECK_EQ_INT(keypool_take_nonce(k), 0);
    atomic_store(&k->next_nonce, 1000); /* ak_nonce + 1 at start */
    CHECK_EQ_INT(keypool_take_nonce(k), 1000);
    CHECK_EQ_INT(keypool_take_nonce(k), 1001);
    CHECK_EQ_INT(atomic_load(&k->next_nonce), 1002);
    /* raise never lowers, and equal is not a raise */
    CHECK_EQ_INT(keypool_raise_nonce(k, 5), 0);
    CHECK_EQ_INT(keypool_raise_nonce(k, 1002), 0);
    CHECK_EQ_INT(atomic_load(&k->next_nonce), 1002);
    CHECK_EQ_INT(atomic_load(&k->nonce_resyncs), 0);
    CHECK_EQ_INT(keypool_raise_nonce(k, 5000), 1);
    CHECK_EQ_INT(atomic_load(&k->nonce_resyncs), 1);
    CHECK_EQ_INT(keypool_take_nonce(k), 5000);
    CHECK_EQ_INT(keypool_raise_nonce(k, 5000), 0);
    CHECK_EQ_INT(keypool_take_nonce(k), 5001);
    CHECK_EQ_INT(keypool_raise_nonce(k, UINT64_MAX - 1), 1);
    CHECK_EQ_INT(keypool_take_nonce(k), UINT64_MAX - 1);
    /* the other key's counter is independent */
    CHECK_EQ_INT(atomic_load(&p.keys[1].next_nonce), 0);
    keypool_destroy(&p);
}

/* ---- raisers vs a taker ---------------------------------------------------------------------- */

#define RAISE_ROUNDS 200000u
#define TAKES        200000u

struct nonce_race {
    struct pool_key *k;
    _Atomic int go;
    _Atomic uint64_t max_raised; /* largest value any raiser asked for */
    _Atomic uint64_t raised;     /* raise calls that returned 1 */
    uint64_t taker_bad, taker_last;
};

struct raiser_arg {
    struct nonce_race *r;
    unsigned seed;
};

static void *raiser_main(void *arg)
{
    struct raiser_arg *ra = arg;
    struct nonce_race *r = ra->r;
    while (!atomic_load_explicit(&r->go, memory_order_acquire))
        sched_yield();
    uint64_t mine = 0;
    for (unsigned i = 0; i < RAISE_ROUNDS; i++) {
        /* Mostly values around the current counter (some below it, some above), like an
         * InvalidNonce answer racing with the signer. */
        uint64_t cur = atomic_load_explicit(&r->k->next_nonce, memory_order_relaxed);
        uint64_t v = cur + (uint64_t)(rand_r(&ra->seed) % 64u) - 16u;
        if (keypool_raise_nonce(r->k, v))
            atomic_fetch_add_explicit(&r->raised, 1, memory_order_relaxed);
        if (v > mine)
            mine = v;
    }
    uint64_t m = atomic_load(&r->max_raised);
    while (mine > m && !atomic_compare_exchange_weak(&r->max_raised, &m, mine))
        ;
    return NULL;
}

static void *taker_main(void *arg)
{
    struct nonce_race *r = arg;
    while (!atomic_load_explicit(&r->go, memory_order_acquire))
        sched_yield();
    uint64_t last = 0;
    for (unsigned i = 0; i < TAKES; i++) {
        uint64_t n = keypool_take_nonce(r->k);
        if (i > 0 && n <= last)
            r->taker_bad++;
        last = n;
    }
    r->taker_last = last;
    return NULL;
}

static void test_raise_race(void)
{
    struct keypool p;
    CHECK_EQ_INT(make_pool(&p, 1, 1), 0);
    static struct nonce_race r;
    memset(&r, 0, sizeof(r));
    r.k = &p.keys[0];
    atomic_store(&r.k->next_nonce, 100);
    struct raiser_arg ra[2] = {{&r, 1}, {&r, 2}};
    pthread_t t[3];
    CHECK_EQ_INT(pthread_create(&t[0], NULL, raiser_main, &ra[0]), 0);
    CHECK_EQ_INT(pthread_create(&t[1], NULL, raiser_main, &ra[1]), 0);
    CHECK_EQ_INT(pthread_create(&t[2], NULL, taker_main, &r), 0);
    atomic_store_explicit(&r.go, 1, memory_order_release);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    uint64_t final = atomic_load(&r.k->next_nonce);
    CHECK_EQ_INT(r.taker_bad, 0);
    CHECK(final >= atomic_load(&r.max_raised));
    CHECK(final > r.taker_last);
    /* Every counted raise moved the counter: the resync counter agrees with the return values. */
    CHECK_EQ_INT(atomic_load(&r.k->nonce_resyncs), atomic_load(&r.raised));
    printf("test_keypool: raise race final=%llu max_raised=%llu raises=%llu\n",
           (unsigned long long) final, (unsigned long long)atomic_load(&r.max_raised),
           (unsigned long long)atomic_load(&r.raised));
    keypool_destroy(&p);
}

/* ---- quarantine ------------------------------------------------------------------------------ */

static void test_quarantine(void)
{
    struct keypool p;
    CHECK_EQ_INT(make_pool(&p, 2, 1), 0);
    struct pool_key *k = &p.keys[0];
    CHECK(keypool_usable(k));
    keypool_quarantine(k, "InvalidSignature");
    CHECK(!keypool_usable(k));
    CHECK_EQ_INT(atomic_load(&k->state), KEY_QUARANTINED);
    CHECK_EQ_STR(k->quarantine_reason, "InvalidSignature");
    keypool_quarantine(k, "AccessKeyNotFound");
    CHECK_EQ_STR(k->quarantine_reason, "InvalidSignature"); /* first reason wins */
    CHECK(keypool_usable(&p.keys[1]));

    /* A long reason is truncated, NUL-terminated. */
    char longr[300];
    memset(longr, 'x', sizeof(longr) - 1);
    longr[sizeof(longr) - 1] = '\0';
    keypool_quarantine(&p.keys[1], longr);
    CHECK_EQ_INT(strlen(p.keys[1].quarantine_reason), sizeof(p.keys[1].quarantine_reason) - 1);
    keypool_destroy(&p);
}

#define QUAR_TRIALS 2000

struct quar_race {
    struct pool_key *k;
    _Atomic int ready, go;
    char seen[128]; /* the reason the reader saw first */
};

struct quar_arg {
    struct quar_race *q;
    const char *reason;
};

static void *quar_main(void *arg)
{
    struct quar_arg *qa = arg;
    atomic_fetch_add(&qa->q->ready, 1);
    while (!atomic_load_explicit(&qa->q->go, memory_order_acquire))
        ;
    keypool_quarantine(qa->q->k, qa->reason);
    return NULL;
}

/* The reader: like /health, reads the reason once the key is no longer usable. */
static void *quar_reader(void *arg)
{
    struct quar_race *q = arg;
    atomic_fetch_add(&q->ready, 1);
    while (keypool_usable(q->k))
        ;
    memcpy(q->seen, q->k->quarantine_reason, sizeof(q->seen));
    return NULL;
}

static void test_quarantine_race(void)
{
    struct keypool p;
    CHECK_EQ_INT(make_pool(&p, 1, 1), 0);
    static struct quar_race q;
    static const char ra[] = "reason A: InvalidSignature from the RPC, a rather long text";
    static const char rb[] = "B";
    int changed = 0, torn = 0;
    for (int trial = 0; trial < QUAR_TRIALS; trial++) {
        memset(&q, 0, sizeof(q));
        q.k = &p.keys[0];
        memset(q.k->quarantine_reason, 0, sizeof(q.k->quarantine_reason));
        atomic_store(&q.k->state, KEY_OK);
        struct quar_arg a1 = {&q, ra}, a2 = {&q, rb};
        pthread_t t[3];
        pthread_create(&t[0], NULL, quar_main, &a1);
        pthread_create(&t[1], NULL, quar_main, &a2);
        pthread_create(&t[2], NULL, quar_reader, &q);
        while (atomic_load(&q.ready) < 3)
            sched_yield();
        atomic_store_explicit(&q.go, 1, memory_order_release);
        for (int i = 0; i < 3; i++)
            pthread_join(t[i], NULL);
        const char *fin = q.k->quarantine_reason;
        if (strcmp(fin, ra) != 0 && strcmp(fin, rb) != 0)
            torn++;
        if (strcmp(q.seen, fin) != 0)
            changed++; /* the published reason changed after it was visible */
    }
    CHECK_EQ_INT(torn, 0);
    CHECK_EQ_INT(changed, 0);
    keypool_destroy(&p);
}

int main(void)
{
    test_init_shards();
    test_nonces();
    test_raise_race();
    test_quarantine();
    test_quarantine_race();
    return nf_test_report("test_keypool");
}
