/* bench_ring: the cost of nf_ring's multi-producer flavour (nf_ring_push_mpsc / nf_ring_pop_mpsc,
 * the hub's reply rings to the ingest threads), as built: PRODUCERS threads push ITEMS pointers
 * each into one ring of 4096 slots, one consumer thread pops them all (spinning on an empty ring,
 * without the eventfd wake, so the ring operations alone are timed). Prints `name=value unit`.
 * Usage: bench_ring [ITEMS per producer (5000000)] [PRODUCERS (1)] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nf_ring.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct nf_ring ring;
static long items;
static unsigned long full_retries; /* producers' pushes that found the ring full (relaxed sum) */

static void *producer(void *arg)
{
    (void)arg;
    unsigned long retries = 0;
    for (long i = 1; i <= items; i++)
        while (nf_ring_push_mpsc(&ring, (void *)(uintptr_t)i) != 0)
            retries++;
    __atomic_fetch_add(&full_retries, retries, __ATOMIC_RELAXED);
    return NULL;
}

int main(int argc, char **argv)
{
    items = argc > 1 ? atol(argv[1]) : 5000000;
    unsigned np = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
    if (items <= 0 || np < 1 || np > 16 || nf_ring_init(&ring, 4096) != 0) {
        fprintf(stderr, "usage: bench_ring [ITEMS>0] [PRODUCERS 1..16]\n");
        return 2;
    }
    pthread_t t[16];
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < np; i++)
        pthread_create(&t[i], NULL, producer, NULL);
    long want = items * (long)np, got = 0;
    unsigned long empty = 0;
    while (got < want) {
        if (nf_ring_pop_mpsc(&ring) != NULL)
            got++;
        else
            empty++;
    }
    uint64_t dt = now_ns() - t0;
    for (unsigned i = 0; i < np; i++)
        pthread_join(t[i], NULL);
    printf("ring_mpsc_producers=%u threads\n", np);
    printf("ring_mpsc_items_per_s=%.0f items/s\n", (double)want * 1e9 / (double)dt);
    printf("ring_mpsc_ns_per_item=%.1f ns\n", (double)dt / (double)want);
    printf("ring_mpsc_empty_polls=%lu polls\n", empty);
    printf("ring_mpsc_full_retries=%lu pushes\n", full_retries);
    nf_ring_destroy(&ring);
    return 0;
}
