/* bench_limits: the per-request cost of the spend and rate limits, the two calls a request makes
 * when both are set: spend_reserve (plus spend_release, as for a refused log write) and
 * ratelim_take. One thread, then THREADS threads all on the same budget and the same rate key
 * (the worst case: one client address, every ingest thread contending for one stripe and the one
 * window lock). Limits are set so that nothing is refused. Prints `name=value unit` lines.
 * Usage: bench_limits [ITERATIONS (2000000)] [THREADS (2)] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ratelim.h"
#include "spend.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct arg {
    struct spend *s;
    struct ratelim *r;
    long n;
    int rate; /* 1: ratelim_take, 0: spend_reserve + spend_release */
};

static void *worker(void *p)
{
    struct arg *a = p;
    uint64_t key = ratelim_key(4, "\x7f\0\0\x01", 4), retry = 0, stamp = 0;
    uint32_t rs = 0;
    volatile int sink = 0;
    for (long i = 0; i < a->n; i++) {
        if (a->rate) {
            sink += ratelim_take(a->r, key, now_ns(), &retry);
        } else {
            if (spend_reserve(a->s, 1, wall_ms(), &stamp, &rs) == 0)
                spend_release(a->s, stamp, 1);
            sink++;
        }
    }
    (void)sink;
    return NULL;
}

static double run(struct arg *a, int threads)
{
    pthread_t th[64];
    uint64_t t0 = now_ns();
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, worker, a);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    /* ns per call and thread: what one request pays. */
    return (double)(now_ns() - t0) / (double)a->n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (n < 1 || threads < 1 || threads > 64)
        return 2;
    struct spend *s = spend_new(~(nf_u128)0);
    struct ratelim *r = ratelim_new(1000000000u, 1000000000u);
    if (s == NULL || r == NULL)
        return 1;
    struct arg a = {.s = s, .r = r, .n = n};
    a.rate = 0;
    printf("limits_spend_reserve_release_1t=%.1f ns\n", run(&a, 1));
    printf("limits_spend_reserve_release_%dt=%.1f ns\n", threads, run(&a, threads));
    a.rate = 1;
    printf("limits_rate_take_1t=%.1f ns\n", run(&a, 1));
    printf("limits_rate_take_%dt=%.1f ns\n", threads, run(&a, threads));
    spend_free(s);
    ratelim_free(r);
    return 0;
}
