/* test_job: the fixed job slab (src/pipeline/job.c). Single-threaded cases pin down
 * job_alloc_range's reuse rules (FREE, or EXECUTED/FAILED with no holds; JOB_HOLD_PIPE /
 * JOB_HOLD_WAITER block a slot; an unfinished job makes the allocator skip past it; 0 when the slab
 * is full) and job_lookup's answers for recycled slots. A threaded case lets 4 allocators race over
 * a small slab and checks that no slot is ever handed to two live ids. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "job.h"
#include "nf_test.h"

static void finish(struct job *j, enum job_status st)
{
    job_set_status(j, st);
}

static int slot_is_claimed_by(struct job_slab *s, uint64_t id)
{
    struct job *j = job_slot(s, id);
    return atomic_load(&j->id) == id && job_get_status(j) == JOB_CLAIMED;
}

static void test_contiguous(void)
{
    struct job_slab s;
    CHECK_EQ_INT(job_slab_init(&s, 16, 1), 0);
    CHECK_EQ_INT(job_alloc_range(&s, 4), 1);
    for (uint64_t id = 1; id <= 4; id++)
        CHECK(slot_is_claimed_by(&s, id));
    CHECK_EQ_INT(job_alloc_range(&s, 3), 5);
    for (uint64_t id = 5; id <= 7; id++)
        CHECK(slot_is_claimed_by(&s, id));
    /* Arguments outside 1..capacity/2 are refused without consuming ids. */
    CHECK_EQ_INT(job_alloc_range(&s, 0), 0);
    CHECK_EQ_INT(job_alloc_range(&s, 9), 0);
    CHECK_EQ_INT(job_alloc_range(&s, 8), 8);
    job_slab_destroy(&s);

    /* first_id after a restart; first_id 0 means 1. */
    CHECK_EQ_INT(job_slab_init(&s, 16, 1000), 0);
    CHECK_EQ_INT(job_alloc_range(&s, 2), 1000);
    CHECK(slot_is_claimed_by(&s, 1001));
    job_slab_destroy(&s);
    CHECK_EQ_INT(job_slab_init(&s, 16, 0), 0);
    CHECK_EQ_INT(job_alloc_range(&s, 1), 1);
    job_slab_destroy(&s);
}

/* Fills the slab (ids 1..8 on capacity 8) and moves every job to st. */
static void fill(struct job_slab *s, enum job_status st)
{
    CHECK_EQ_INT(job_alloc_range(s, 4), 1);
    CHECK_EQ_INT(job_alloc_range(s, 4), 5);
    for (uint64_t id = 1; id <= 8; id++)
        finish(job_slot(s, id), st);
}

static void test_reuse_finished(void)
{
    struct job_slab s;
    CHECK_EQ_INT(job_slab_init(&s, 8, 1), 0);
    fill(&s, JOB_EXECUTED);
    finish(job_slot(&s, 3), JOB_FAILED);
    /* ids 9..12 map to slots 1..4, which hold finished jobs 1..4 (3 failed): recycled. */
    CHECK_EQ_INT(job_alloc_range(&s, 4), 9);
    for (uint64_t id = 9; id <= 12; id++)
        CHECK(slot_is_claimed_by(&s, id));
    CHECK(job_lookup(&s, 1) == NULL); /* the old job is gone */
    CHECK(job_lookup(&s, 3) == NULL);
    CHECK(job_lookup(&s, 9) == NULL); /* CLAIMED is not visible yet */
    finish(job_slot(&s, 9), JOB_QUEUED);
    CHECK(job_lookup(&s, 9) == job_slot(&s, 9));
    CHECK(job_lookup(&s, 5) == job_slot(&s, 5)); /* finished but not recycled: still readable */
    CHECK(job_lookup(&s, 13) == NULL);           /* slot 5 holds id 5, not 13 */
    CHECK(job_lookup(&s, 0) == NULL);
    job_slab_destroy(&s);
}

static void test_holds_block_reuse(void)
{
    const uint8_t holds[] = {JOB_HOLD_PIPE, JOB_HOLD_WAITER, JOB_HOLD_PIPE | JOB_HOLD_WAITER};
    for (size_t h = 0; h < sizeof(holds); h++) {
        struct job_slab s;
        CHECK_EQ_INT(job_slab_init(&s, 8, 1), 0);
        fill(&s, JOB_EXECUTED);
        for (uint64_t id = 1; id <= 8; id++)
            job_hold(job_slot(&s, id), holds[h]);
        /* Every slot is finished but held: the slab is full. */
        CHECK_EQ_INT(job_alloc_range(&s, 1), 0);
        for (uint64_t id = 1; id <= 8; id++) {
            CHECK(job_lookup(&s, id) == job_slot(&s, id));
            CHECK_EQ_INT(job_get_status(job_slot(&s, id)), JOB_EXECUTED);
        }
        if (holds[h] == (JOB_HOLD_PIPE | JOB_HOLD_WAITER)) {
            /* Dropping one of two holds is not enough (ids 13..16 are tried and skipped). */
            for (uint64_t id = 1; id <= 8; id++)
                job_unhold(job_slot(&s, id), JOB_HOLD_PIPE);
            CHECK_EQ_INT(job_alloc_range(&s, 1), 0);
            for (uint64_t id = 1; id <= 8; id++)
                CHECK(job_lookup(&s, id) == job_slot(&s, id));
            /* Next try starts at id 17 (slot 1): dropping the last hold there frees it. */
            job_unhold(job_slot(&s, 1), JOB_HOLD_WAITER);
            CHECK_EQ_INT(job_alloc_range(&s, 1), 17);
            CHECK(slot_is_claimed_by(&s, 17));
            CHECK(job_lookup(&s, 1) == NULL);
        } else {
            /* Dropping the hold on one slot makes exactly that slot reusable: 13 (slot 5) is
             * still held, 14 (slot 6) is taken. */
            job_unhold(job_slot(&s, 6), holds[h]);
            CHECK_EQ_INT(job_alloc_range(&s, 1), 14);
            CHECK(slot_is_claimed_by(&s, 14));
            CHECK(job_lookup(&s, 5) == job_slot(&s, 5));
        }
        job_slab_destroy(&s);
    }
}

static void test_unfinished_statuses_block(void)
{
    const enum job_status live[] = {JOB_QUEUED, JOB_BATCHED, JOB_SIGNED, JOB_SUBMITTED,
                                    JOB_CLAIMED};
    for (size_t k = 0; k < sizeof(live) / sizeof(live[0]); k++) {
        struct job_slab s;
        CHECK_EQ_INT(job_slab_init(&s, 8, 1), 0);
        fill(&s, live[k]);
        CHECK_EQ_INT(job_alloc_range(&s, 1), 0);
        CHECK_EQ_INT(job_alloc_range(&s, 4), 0);
        for (uint64_t id = 1; id <= 8; id++) {
            CHECK_EQ_INT(atomic_load(&job_slot(&s, id)->id), id);
            CHECK_EQ_INT(job_get_status(job_slot(&s, id)), live[k]);
        }
        job_slab_destroy(&s);
    }
}

static void test_skip_unfinished(void)
{
    struct job_slab s;
    CHECK_EQ_INT(job_slab_init(&s, 16, 1), 0);
    CHECK_EQ_INT(job_alloc_range(&s, 8), 1);
    CHECK_EQ_INT(job_alloc_range(&s, 8), 9);
    for (uint64_t id = 1; id <= 16; id++)
        finish(job_slot(&s, id), JOB_EXECUTED);
    /* Job 19's slot (3) is reused by a job still in flight; 17..22 would cross it. */
    finish(job_slot(&s, 3), JOB_SUBMITTED);
    uint64_t first = job_alloc_range(&s, 6);
    CHECK_EQ_INT(first, 23); /* 17..22 skipped; 23..28 are slots 7..12 */
    for (uint64_t id = first; id < first + 6; id++)
        CHECK(slot_is_claimed_by(&s, id));
    /* The job in the way is untouched; the two slots claimed before it were given back. */
    CHECK_EQ_INT(atomic_load(&job_slot(&s, 3)->id), 3);
    CHECK_EQ_INT(job_get_status(job_slot(&s, 3)), JOB_SUBMITTED);
    CHECK(job_lookup(&s, 3) == job_slot(&s, 3));
    CHECK_EQ_INT(job_get_status(job_slot(&s, 1)), JOB_FREE);
    CHECK_EQ_INT(atomic_load(&job_slot(&s, 1)->id), 0);
    CHECK_EQ_INT(job_get_status(job_slot(&s, 2)), JOB_FREE);
    CHECK(job_lookup(&s, 17) == NULL);
    CHECK(job_lookup(&s, 1) == NULL);
    /* 29..32 recycle slots 13..0; 33 and 34 land on the slots given back (now FREE). */
    CHECK_EQ_INT(job_alloc_range(&s, 4), 29);
    CHECK_EQ_INT(job_alloc_range(&s, 2), 33);
    CHECK(slot_is_claimed_by(&s, 33));
    CHECK(slot_is_claimed_by(&s, 34));
    job_slab_destroy(&s);
}

static void test_release(void)
{
    struct job_slab s;
    CHECK_EQ_INT(job_slab_init(&s, 8, 1), 0);
    uint64_t id = job_alloc_range(&s, 2);
    CHECK_EQ_INT(id, 1);
    job_release(&s, job_slot(&s, 2));
    CHECK_EQ_INT(job_get_status(job_slot(&s, 2)), JOB_FREE);
    CHECK_EQ_INT(atomic_load(&job_slot(&s, 2)->id), 0);
    CHECK(job_lookup(&s, 2) == NULL);
    CHECK_EQ_STR(job_status_name(JOB_EXECUTED), "executed");
    CHECK_EQ_STR(job_status_name((enum job_status)99), "unknown");
    job_slab_destroy(&s);
}

/* ---- concurrent allocation ---------------------------------------------------------------- */

#define RACE_THREADS  4
#define RACE_CAPACITY 64
#define RACE_ROUNDS   20000
#define RACE_WINDOW   3 /* allocations a thread keeps live while it allocates more */

struct race {
    struct job_slab slab;
    _Atomic int owners[RACE_CAPACITY]; /* live allocations occupying each slot: must stay <= 1 */
    _Atomic int double_owned, id_changed, bad_status;
    _Atomic uint64_t allocated, full;
};

struct live_range {
    uint64_t first;
    uint32_t n;
};

static void race_finish(struct race *r, struct live_range *lr, unsigned round)
{
    for (uint32_t k = 0; k < lr->n; k++) {
        uint64_t id = lr->first + k;
        struct job *j = job_slot(&r->slab, id);
        if (atomic_load_explicit(&j->id, memory_order_acquire) != id)
            atomic_fetch_add(&r->id_changed, 1);
        if (job_get_status(j) != JOB_QUEUED)
            atomic_fetch_add(&r->bad_status, 1);
        atomic_fetch_sub(&r->owners[id % RACE_CAPACITY], 1);
        /* Alternate the final states and an occasional hold that is dropped at once. */
        if (round % 3 == 0) {
            job_hold(j, JOB_HOLD_WAITER);
            job_set_status(j, JOB_FAILED);
            job_unhold(j, JOB_HOLD_WAITER);
        } else {
            job_set_status(j, round % 3 == 1 ? JOB_EXECUTED : JOB_FAILED);
        }
    }
    lr->n = 0;
}

static void *race_thread(void *arg)
{
    struct race *r = arg;
    struct live_range live[RACE_WINDOW] = {{0, 0}};
    unsigned seed = (unsigned)(uintptr_t)&live;
    for (unsigned round = 0; round < RACE_ROUNDS; round++) {
        struct live_range *lr = &live[round % RACE_WINDOW];
        if (lr->n)
            race_finish(r, lr, round);
        uint32_t n = 1u + (uint32_t)(rand_r(&seed) % 4u);
        uint64_t first = job_alloc_range(&r->slab, n);
        if (first == 0) {
            atomic_fetch_add(&r->full, 1);
            continue;
        }
        for (uint32_t k = 0; k < n; k++) {
            uint64_t id = first + k;
            struct job *j = job_slot(&r->slab, id);
            if (atomic_fetch_add(&r->owners[id % RACE_CAPACITY], 1) != 0)
                atomic_fetch_add(&r->double_owned, 1);
            if (atomic_load_explicit(&j->id, memory_order_acquire) != id ||
                job_get_status(j) != JOB_CLAIMED)
                atomic_fetch_add(&r->bad_status, 1);
            job_set_status(j, JOB_QUEUED);
        }
        atomic_fetch_add(&r->allocated, n);
        lr->first = first;
        lr->n = n;
    }
    for (unsigned k = 0; k < RACE_WINDOW; k++)
        if (live[k].n)
            race_finish(r, &live[k], 1);
    return NULL;
}

static void test_concurrent(void)
{
    static struct race r;
    CHECK_EQ_INT(job_slab_init(&r.slab, RACE_CAPACITY, 1), 0);
    pthread_t t[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++)
        CHECK_EQ_INT(pthread_create(&t[i], NULL, race_thread, &r), 0);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(atomic_load(&r.double_owned), 0);
    CHECK_EQ_INT(atomic_load(&r.id_changed), 0);
    CHECK_EQ_INT(atomic_load(&r.bad_status), 0);
    /* The slab was busy enough to wrap many times. */
    CHECK(atomic_load(&r.allocated) > 10u * RACE_CAPACITY);
    for (int i = 0; i < RACE_CAPACITY; i++)
        CHECK_EQ_INT(atomic_load(&r.owners[i]), 0);
    /* Everything finished: the whole slab is reusable again. */
    uint64_t first = job_alloc_range(&r.slab, RACE_CAPACITY / 2);
    CHECK(first != 0);
    printf("test_job: concurrent allocated=%llu full=%llu\n",
           (unsigned long long)atomic_load(&r.allocated), (unsigned long long)atomic_load(&r.full));
    job_slab_destroy(&r.slab);
}

int main(void)
{
    test_contiguous();
    test_reuse_finished();
    test_holds_block_reuse();
    test_unfinished_statuses_block();
    test_skip_unfinished();
    test_release();
    test_concurrent();
    return nf_test_report("test_job");
}
