/* test_recent: the status page's failure ring and latency histogram (src/pipeline/recent.c).
 * Buckets follow log2 of milliseconds; failures come back newest first, at most RECENT_FAILURES,
 * with the oldest dropped once the ring wraps; executed transfers count latency only. A threaded
 * case has one writer noting failures while a reader copies: every copy is a consistent entry
 * (its fields all belong to one failure) and the order is newest first. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "nf_test.h"
#include "recent.h"

static struct recent r;

static void make_job(struct job *j, uint64_t id, uint64_t acc, uint64_t done)
{
    memset(j, 0, sizeof(*j));
    atomic_store(&j->id, id);
    atomic_store(&j->accepted_ms, acc);
    atomic_store(&j->done_ms, done);
    j->amount = (nf_u128)id * 1000;
    snprintf(j->receiver, sizeof(j->receiver), "user-%llu.test.near", (unsigned long long)id);
    snprintf(j->error, sizeof(j->error), "failure of %llu", (unsigned long long)id);
}

static void test_buckets(void)
{
    CHECK_EQ_INT(recent_bucket(0), 0);
    CHECK_EQ_INT(recent_bucket(1), 1);
    CHECK_EQ_INT(recent_bucket(2), 2);
    CHECK_EQ_INT(recent_bucket(3), 2);
    CHECK_EQ_INT(recent_bucket(4), 3);
    CHECK_EQ_INT(recent_bucket(1023), 10);
    CHECK_EQ_INT(recent_bucket(1024), 11);
    CHECK_EQ_INT(recent_bucket(UINT64_MAX), RECENT_LAT_BUCKETS - 1);
}

static void test_ring(void)
{
    recent_init(&r);
    struct recent_failure out[RECENT_FAILURES];
    CHECK_EQ_INT(recent_failures_get(&r, out, RECENT_FAILURES), 0);
    struct job j;
    make_job(&j, 7, 1000, 1005); /* executed: latency only */
    recent_final(&r, &j, 0);
    CHECK_EQ_INT(recent_failures_get(&r, out, RECENT_FAILURES), 0);
    CHECK_EQ_INT(atomic_load(&r.lat[recent_bucket(5)]), 1);
    for (uint64_t id = 1; id <= RECENT_FAILURES + 5; id++) {
        make_job(&j, id, 1000, 1000 + id);
        recent_final(&r, &j, 1);
    }
    unsigned n = recent_failures_get(&r, out, RECENT_FAILURES);
    CHECK_EQ_INT(n, RECENT_FAILURES);
    CHECK_EQ_INT(out[0].id, RECENT_FAILURES + 5); /* newest first */
    CHECK_EQ_INT(out[n - 1].id, 6);               /* the five oldest were dropped */
    CHECK_EQ_STR(out[0].receiver, "user-37.test.near");
    CHECK_EQ_STR(out[0].error, "failure of 37");
    CHECK(out[0].amount == (nf_u128)37 * 1000);
    CHECK_EQ_INT(out[0].done_ms, 1037);
    CHECK_EQ_INT(recent_failures_get(&r, out, 3), 3);
    CHECK_EQ_INT(out[2].id, RECENT_FAILURES + 3);
}

#define WRITES 200000
static atomic_int writer_done;

static void *writer(void *arg)
{
    (void)arg;
    struct job j;
    for (uint64_t id = 1; id <= WRITES; id++) {
        make_job(&j, id, 0, id);
        recent_final(&r, &j, 1);
    }
    atomic_store(&writer_done, 1);
    return NULL;
}

static void test_concurrent(void)
{
    recent_init(&r);
    atomic_store(&writer_done, 0);
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, writer, NULL), 0);
    struct recent_failure out[RECENT_FAILURES];
    unsigned bad = 0, reads = 0;
    while (!atomic_load(&writer_done) || reads == 0) {
        unsigned n = recent_failures_get(&r, out, RECENT_FAILURES);
        reads++;
        for (unsigned i = 0; i < n; i++) {
            char want[64];
            snprintf(want, sizeof(want), "failure of %llu", (unsigned long long)out[i].id);
            if (out[i].done_ms != out[i].id || out[i].amount != (nf_u128)out[i].id * 1000 ||
                strcmp(out[i].error, want) != 0)
                bad++;
            if (i > 0 && out[i].id >= out[i - 1].id)
                bad++;
        }
    }
    pthread_join(th, NULL);
    CHECK_EQ_INT(bad, 0);
    unsigned n = recent_failures_get(&r, out, RECENT_FAILURES);
    CHECK_EQ_INT(n, RECENT_FAILURES);
    CHECK_EQ_INT(out[0].id, WRITES);
}

int main(void)
{
    test_buckets();
    test_ring();
    test_concurrent();
    return nf_test_report("test_recent");
}
