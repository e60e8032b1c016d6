/* test_ratelim: the per-key token buckets. A new key may send burst requests at once, then one per
 * interval; the Retry-After is the time to the next token; keys do not share buckets; a full
 * stripe hands the entry refilled the longest to a new key and keeps the limited ones; and 4
 * threads taking from one key at the same instant admit exactly burst requests. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nf_test.h"
#include "ratelim.h"

#define S  1000000000ull /* ns */
#define T0 (1000 * S)

static void test_bucket(void)
{
    struct ratelim *r = ratelim_new(2, 3); /* 2/s, burst 3 */
    CHECK(r != NULL);
    uint64_t k = ratelim_key(1, "alice", 5), retry = 0;
    CHECK(k != ratelim_key(1, "bob", 3));
    CHECK(k != ratelim_key(2, "alice", 5));
    CHECK(k == ratelim_key(1, "alice", 5));
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(ratelim_take(r, k, T0, &retry), 1);
    CHECK_EQ_INT(ratelim_take(r, k, T0, &retry), 0);
    CHECK(retry == 500); /* the next token in 0.5 s */
    CHECK_EQ_INT(ratelim_take(r, k, T0 + S / 4, &retry), 0);
    CHECK(retry == 250);
    CHECK_EQ_INT(ratelim_take(r, k, T0 + S / 2, &retry), 1);
    CHECK_EQ_INT(ratelim_take(r, k, T0 + S / 2, &retry), 0);
    /* Another key has its own bucket. */
    uint64_t b = ratelim_key(1, "bob", 3);
    CHECK_EQ_INT(ratelim_take(r, b, T0 + S / 2, &retry), 1);
    /* After a long pause the bucket is full again, and holds no more than burst. */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(ratelim_take(r, k, T0 + 100 * S, &retry), 1);
    CHECK_EQ_INT(ratelim_take(r, k, T0 + 100 * S, &retry), 0);
    /* Over 10 s at 2/s after the burst: 20 more admitted, give or take the edges. */
    int ok = 0;
    for (uint64_t ms = 0; ms < 10000; ms += 10)
        ok += ratelim_take(r, k, T0 + 100 * S + ms * 1000000u, &retry);
    CHECK(ok >= 19 && ok <= 20);
    ratelim_free(r);
    ratelim_free(NULL);
    CHECK(ratelim_new(0, 1) == NULL);
    CHECK(ratelim_new(1, 0) == NULL);
}

/* Keys that land in one stripe: the low bits of the key pick it. */
static void test_eviction(void)
{
    struct ratelim *r = ratelim_new(1, 1);
    uint64_t retry;
    /* RATELIM_WAYS limited keys fill stripe 5; each is now empty (burst 1, just used). */
    for (uint64_t i = 0; i < RATELIM_WAYS; i++)
        CHECK_EQ_INT(ratelim_take(r, 5 + (i + 1) * RATELIM_STRIPES, T0 + i, &retry), 1);
    for (uint64_t i = 0; i < RATELIM_WAYS; i++)
        CHECK_EQ_INT(ratelim_take(r, 5 + (i + 1) * RATELIM_STRIPES, T0 + S / 2, &retry), 0);
    /* A new key takes the entry refilled the longest (the first key); the others stay limited. */
    uint64_t fresh = 5 + (RATELIM_WAYS + 1) * RATELIM_STRIPES;
    CHECK_EQ_INT(ratelim_take(r, fresh, T0 + S / 2, &retry), 1);
    CHECK_EQ_INT(ratelim_take(r, fresh, T0 + S / 2, &retry), 0);
    for (uint64_t i = 1; i < RATELIM_WAYS; i++)
        CHECK_EQ_INT(ratelim_take(r, 5 + (i + 1) * RATELIM_STRIPES, T0 + S / 2, &retry), 0);
    /* The evicted key starts over with a full bucket. */
    CHECK_EQ_INT(ratelim_take(r, 5 + RATELIM_STRIPES, T0 + S / 2, &retry), 1);
    ratelim_free(r);
}

#define RACE_THREADS 4

struct race {
    struct ratelim *r;
    _Atomic int admitted;
    _Atomic int go;
};

static void *race_main(void *arg)
{
    struct race *x = arg;
    while (!atomic_load(&x->go))
        ;
    uint64_t retry;
    for (int i = 0; i < 1000; i++)
        if (ratelim_take(x->r, 42, T0, &retry)) /* one instant: only the burst may pass */
            atomic_fetch_add(&x->admitted, 1);
    return NULL;
}

static void test_race(void)
{
    struct race x;
    memset(&x, 0, sizeof(x));
    x.r = ratelim_new(5, 50);
    pthread_t th[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++)
        CHECK_EQ_INT(pthread_create(&th[i], NULL, race_main, &x), 0);
    atomic_store(&x.go, 1);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(atomic_load(&x.admitted), 50);
    ratelim_free(x.r);
}

/* Keys are keyed per process: the same address gives the same key within a process and another
 * one in another process, so no client can precompute keys that share a stripe or collide. */
static void test_keyed(void) /* first in main: no key drawn yet */
{
    const uint8_t addr[4] = {192, 0, 2, 1};
    int fds[2];
    CHECK_EQ_INT(pipe(fds), 0);
    /* before this process's first key: each side draws its own */
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t k = ratelim_key(4, addr, 4);
        _exit(write(fds[1], &k, sizeof(k)) == (ssize_t)sizeof(k) ? 0 : 1);
    }
    uint64_t mine = ratelim_key(4, addr, 4);
    CHECK(mine == ratelim_key(4, addr, 4));
    CHECK(mine != ratelim_key(6, addr, 4)); /* the kind is part of the key */
    uint64_t theirs = 0;
    CHECK(read(fds[0], &theirs, sizeof(theirs)) == (ssize_t)sizeof(theirs));
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(theirs != 0 && theirs != mine);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    test_keyed();
    test_bucket();
    test_eviction();
    test_race();
    return nf_test_report("test_ratelim");
}
