/* test_ring: the ck ring + eventfd wrapper (src/util/ring.c). Checks the size rules (power of two
 * >= 4, holds size-1 items), FIFO order and NF_EFULL for both flavours, the eventfd wake protocol
 * (consumer clears, then drains; a push after the clear leaves the eventfd readable), and
 * cross-thread hand-off: one producer (spsc: every pointer exactly once, in order) and three
 * producers (mpsc: every pointer exactly once, each producer's pointers in order). Consumers wait
 * with poll() on the eventfd (bounded); nothing sleeps. */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nf_err.h"
#include "nf_ring.h"
#include "nf_test.h"

#define WAIT_MS 10000 /* bound for any single wait: a lost wake fails the test, never hangs it */

static void *ptr_of(uint64_t v)
{
    return (void *)(uintptr_t)v;
}

/* readable: 1 when the ring's eventfd is readable within timeout_ms. */
static int readable(struct nf_ring *r, int timeout_ms)
{
    struct pollfd pfd = {.fd = r->efd, .events = POLLIN};
    return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

static void test_sizes(void)
{
    const unsigned bad[] = {0, 1, 2, 3, 5, 6, 7, 12, 100, 1000, 65535};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct nf_ring r;
        memset(&r, 0xA5, sizeof(r));
        CHECK_EQ_INT(nf_ring_init(&r, bad[i]), NF_ECONFIG);
        CHECK(r.slots == NULL);
        CHECK_EQ_INT(r.efd, -1);
        nf_ring_destroy(&r); /* safe after a failed init */
    }
    const unsigned good[] = {4, 8, 1024, 65536};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct nf_ring r;
        CHECK_EQ_INT(nf_ring_init(&r, good[i]), 0);
        CHECK_EQ_INT(r.size, good[i]);
        CHECK(r.efd >= 0);
        CHECK(!readable(&r, 0));
        nf_ring_destroy(&r);
        CHECK(r.slots == NULL);
        CHECK_EQ_INT(r.efd, -1);
        nf_ring_destroy(&r); /* idempotent */
    }
    struct nf_ring zero;
    memset(&zero, 0, sizeof(zero));
    nf_ring_destroy(&zero); /* never initialised */
    nf_ring_destroy(NULL);
}

static void test_capacity(int mpsc)
{
    int (*push)(struct nf_ring *, void *) = mpsc ? nf_ring_push_mpsc : nf_ring_push_spsc;
    void *(*pop)(struct nf_ring *) = mpsc ? nf_ring_pop_mpsc : nf_ring_pop_spsc;
    struct nf_ring r;
    CHECK_EQ_INT(nf_ring_init(&r, 8), 0);
    CHECK(pop(&r) == NULL);
    for (uint64_t v = 1; v <= 7; v++)
        CHECK_EQ_INT(push(&r, ptr_of(v)), 0);
    CHECK_EQ_INT(nf_ring_count(&r), 7);
    CHECK_EQ_INT(push(&r, ptr_of(8)), NF_EFULL); /* size 8 holds 7 */
    CHECK(pop(&r) == ptr_of(1));
    CHECK_EQ_INT(push(&r, ptr_of(8)), 0);
    CHECK_EQ_INT(push(&r, ptr_of(9)), NF_EFULL);
    /* FIFO across the wrap-around, several times around the ring. */
    uint64_t next_pop = 2, next_push = 9;
    for (int round = 0; round < 40; round++) {
        CHECK(pop(&r) == ptr_of(next_pop++));
        CHECK(pop(&r) == ptr_of(next_pop++));
        CHECK_EQ_INT(push(&r, ptr_of(next_push++)), 0);
        CHECK_EQ_INT(push(&r, ptr_of(next_push++)), 0);
        CHECK_EQ_INT(nf_ring_count(&r), 7);
    }
    for (int i = 0; i < 7; i++)
        CHECK(pop(&r) == ptr_of(next_pop++));
    CHECK_EQ_INT(next_pop, next_push);
    CHECK(pop(&r) == NULL);
    CHECK_EQ_INT(nf_ring_count(&r), 0);
    nf_ring_destroy(&r);
}

static void test_wake_protocol(void)
{
    struct nf_ring r;
    CHECK_EQ_INT(nf_ring_init(&r, 16), 0);
    CHECK(!readable(&r, 0));
    /* Producer: push a burst, wake once (several wakes collapse into one counter). */
    CHECK_EQ_INT(nf_ring_push_spsc(&r, ptr_of(1)), 0);
    CHECK_EQ_INT(nf_ring_push_spsc(&r, ptr_of(2)), 0);
    nf_ring_wake(&r);
    nf_ring_wake(&r);
    CHECK(readable(&r, 0));
    /* Consumer: clear first ... */
    nf_ring_clear(&r);
    CHECK(!readable(&r, 0));
    CHECK(nf_ring_pop_spsc(&r) == ptr_of(1));
    /* ... a producer pushes while the consumer is draining (after its clear) ... */
    CHECK_EQ_INT(nf_ring_push_spsc(&r, ptr_of(3)), 0);
    nf_ring_wake(&r);
    /* ... the drain may well take the new item already, */
    CHECK(nf_ring_pop_spsc(&r) == ptr_of(2));
    CHECK(nf_ring_pop_spsc(&r) == ptr_of(3));
    CHECK(nf_ring_pop_spsc(&r) == NULL);
    /* but the eventfd stays readable: the consumer wakes once more (finds nothing: harmless). */
    CHECK(readable(&r, 0));
    nf_ring_clear(&r);
    CHECK(!readable(&r, 0));
    CHECK(nf_ring_pop_spsc(&r) == NULL);
    /* A wake already pending is not written again: two wakes before a clear write once. */
    nf_ring_wake(&r);
    nf_ring_wake(&r);
    uint64_t cnt = 0;
    CHECK(read(r.efd, &cnt, sizeof(cnt)) == (ssize_t)sizeof(cnt));
    CHECK_EQ_INT(cnt, 1);
    nf_ring_clear(&r); /* re-arms: the next wake writes */
    nf_ring_wake(&r);
    CHECK(readable(&r, 0));
    nf_ring_clear(&r);
    /* clear on an eventfd that is already 0 does not block (EFD_NONBLOCK). */
    nf_ring_clear(&r);
    CHECK(!readable(&r, 0));
    nf_ring_destroy(&r);
    /* The same for mpsc (a ring is used with one flavour only). */
    CHECK_EQ_INT(nf_ring_init(&r, 16), 0);
    CHECK_EQ_INT(nf_ring_push_mpsc(&r, ptr_of(4)), 0);
    nf_ring_wake(&r);
    CHECK(readable(&r, 0));
    nf_ring_clear(&r);
    CHECK_EQ_INT(nf_ring_push_mpsc(&r, ptr_of(5)), 0);
    nf_ring_wake(&r);
    CHECK(nf_ring_pop_mpsc(&r) == ptr_of(4));
    CHECK(nf_ring_pop_mpsc(&r) == ptr_of(5));
    CHECK(readable(&r, 0));
    nf_ring_clear(&r);
    CHECK(!readable(&r, 0));
    nf_ring_destroy(&r);
}

/* ---- cross-thread hand-off ------------------------------------------------------------------ */

#define SPSC_ITEMS     20000u
#define MPSC_PRODUCERS 3u
#define MPSC_ITEMS     4000u /* per producer */

struct handoff {
    struct nf_ring ring;
    int mpsc;
    unsigned producer;
    uint64_t items;
    _Atomic unsigned full_spins;
};

struct producer_arg {
    struct handoff *h;
    unsigned idx;
};

/* Items are (producer + 1) << 32 | seq (seq from 1): never NULL, and tell who sent them. */
static void *producer_main(void *arg)
{
    struct producer_arg *pa = arg;
    struct handoff *h = pa->h;
    unsigned burst = 0;
    for (uint64_t seq = 1; seq <= h->items; seq++) {
        void *p = ptr_of(((uint64_t)(pa->idx + 1) << 32) | seq);
        for (;;) {
            int rc = h->mpsc ? nf_ring_push_mpsc(&h->ring, p) : nf_ring_push_spsc(&h->ring, p);
            if (rc == 0)
                break;
            /* Full: make sure the consumer is awake, then give it the CPU. */
            nf_ring_wake(&h->ring);
            burst = 0;
            atomic_fetch_add_explicit(&h->full_spins, 1, memory_order_relaxed);
            sched_yield();
        }
        /* Bursts of varying length, one wake each. */
        if (++burst >= 1 + (seq % 13)) {
            nf_ring_wake(&h->ring);
            burst = 0;
        }
    }
    nf_ring_wake(&h->ring);
    return NULL;
}

static void run_handoff(int mpsc, unsigned producers, uint64_t items, unsigned ring_size)
{
    static struct handoff h;
    memset(&h, 0, sizeof(h));
    CHECK_EQ_INT(nf_ring_init(&h.ring, ring_size), 0);
    h.mpsc = mpsc;
    h.items = items;
    struct producer_arg pa[MPSC_PRODUCERS];
    pthread_t t[MPSC_PRODUCERS];
    for (unsigned i = 0; i < producers; i++) {
        pa[i].h = &h;
        pa[i].idx = i;
        CHECK_EQ_INT(pthread_create(&t[i], NULL, producer_main, &pa[i]), 0);
    }
    uint64_t next[MPSC_PRODUCERS];
    for (unsigned i = 0; i < producers; i++)
        next[i] = 1;
    uint64_t total = (uint64_t)producers * items, got = 0, bad = 0, wakeups = 0;
    while (got < total) {
        if (!readable(&h.ring, WAIT_MS))
            break; /* a lost wake-up: fails below */
        wakeups++;
        nf_ring_clear(&h.ring); /* before draining */
        void *p;
        while ((p = mpsc ? nf_ring_pop_mpsc(&h.ring) : nf_ring_pop_spsc(&h.ring)) != NULL) {
            uint64_t v = (uint64_t)(uintptr_t)p;
            uint64_t who = (v >> 32) - 1, seq = v & 0xffffffffu;
            /* In order per producer, each exactly once: seq must be the next one expected. */
            if (who >= producers || seq != next[who])
                bad++;
            else
                next[who]++;
            got++;
        }
    }
    for (unsigned i = 0; i < producers; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(got, total);
    CHECK_EQ_INT(bad, 0);
    for (unsigned i = 0; i < producers; i++)
        CHECK_EQ_INT(next[i], items + 1);
    CHECK(!mpsc ? nf_ring_pop_spsc(&h.ring) == NULL : nf_ring_pop_mpsc(&h.ring) == NULL);
    printf("test_ring: %s producers=%u items=%llu wakeups=%llu full_spins=%u\n",
           mpsc ? "mpsc" : "spsc", producers, (unsigned long long)total,
           (unsigned long long)wakeups, atomic_load(&h.full_spins));
    nf_ring_destroy(&h.ring);
}

int main(void)
{
    test_sizes();
    test_capacity(0);
    test_capacity(1);
    test_wake_protocol();
    run_handoff(0, 1, SPSC_ITEMS, 64);
    run_handoff(1, MPSC_PRODUCERS, MPSC_ITEMS, 64);
    run_handoff(1, 1, MPSC_ITEMS, 4);
    return nf_test_report("test_ring");
}
