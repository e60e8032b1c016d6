/* stage_test: what the stage tests (tests/batch, tests/sign, tests/submit) share when they play
 * the stages around the one under test: a monotonic clock and a bounded wait on a ring. Test thread
 * only. */
#ifndef NF_STAGE_TEST_H
#define NF_STAGE_TEST_H

#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "nf_ring.h"

static inline uint64_t stage_test_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

/* stage_test_wait_pop: the next pointer from r (consumer side: pop, else wait for a wake, clear,
 * retry), or NULL after timeout_ms. The test thread must be r's only consumer. */
static inline void *stage_test_wait_pop(struct nf_ring *r, int timeout_ms)
{
    uint64_t deadline = stage_test_mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        void *x = nf_ring_pop_spsc(r);
        if (x != NULL)
            return x;
        uint64_t now = stage_test_mono_ms();
        if (now >= deadline)
            return NULL;
        struct pollfd pfd = {.fd = r->efd, .events = POLLIN};
        if (poll(&pfd, 1, (int)(deadline - now)) > 0)
            nf_ring_clear(r);
    }
}

#endif
