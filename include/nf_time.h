/* nf_time: the clock nearftd's stages stamp jobs, batches and log records with, and the monotonic
 * one for intervals. Any thread. */
#ifndef NF_TIME_H
#define NF_TIME_H

#include <stdint.h>
#include <time.h>

/* nf_now_ms: wall-clock milliseconds since the epoch. Wall clock because the stamps are written
 * to the log and compared across restarts (a job's age, a transaction's expiry window). */
static inline uint64_t nf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

/* nf_mono_ms: monotonic milliseconds (CLOCK_MONOTONIC), for intervals and deadlines within one
 * process: a step of the wall clock does not move them. */
static inline uint64_t nf_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

#endif
