/* recent: what the status page shows that no counter holds: the last RECENT_FAILURES transfers
 * that failed, with their reasons, and a log2 histogram of the accept-to-final latency of every
 * transfer finished since start.
 *
 * Ownership: one struct recent lives inside the hub (struct nf_pipe) for the process's life; no
 * allocation. Exactly one thread writes it (the WAL thread, in hub_outcome_done, when a transfer's
 * final status is durable). Any thread reads it (ingest threads answering GET /debug/recent). Each
 * failure entry is a seqlock over relaxed atomic words: a reader copies a whole entry or retries
 * that entry alone, and never blocks the writer. The histogram is relaxed atomic counters. */
#ifndef NF_RECENT_H
#define NF_RECENT_H

#include <stdatomic.h>
#include <stdint.h>

#include "job.h"
#include "u128.h"

struct jw;

#define RECENT_FAILURES 32
/* Bucket 0: under 1 ms; bucket i (1..RECENT_LAT_BUCKETS-2): [2^(i-1), 2^i) ms; the last: the rest
 * (2^(RECENT_LAT_BUCKETS-2) ms and more, about 36 min with 23 buckets). */
#define RECENT_LAT_BUCKETS 23

/* One failed transfer as the page shows it. */
struct recent_failure {
    uint64_t n; /* its place in the order failures were noted (0, 1, ...) */
    uint64_t id;
    uint64_t done_ms; /* wall clock, ms since the epoch */
    nf_u128 amount;
    char receiver[JOB_RECEIVER_MAX + 1];
    char error[JOB_ERROR_MAX];
};

#define RECENT_WORDS ((sizeof(struct recent_failure) + 7) / 8)

struct recent_slot {
    _Atomic uint64_t seq; /* odd while the writer rewrites the words */
    _Atomic uint64_t w[RECENT_WORDS];
};

struct recent {
    _Atomic uint64_t n_failures; /* failures noted so far; the newest is slot (n - 1) % N */
    struct recent_slot slot[RECENT_FAILURES];
    _Atomic uint64_t lat[RECENT_LAT_BUCKETS];
};

/* recent_init: all empty. Main thread, before any stage thread starts. */
void recent_init(struct recent *r);

/* recent_bucket: the latency bucket of ms (pure). */
unsigned recent_bucket(uint64_t ms);

/* recent_final: a transfer became final: counts its latency (done_ms - accepted_ms) and, when
 * failed, makes it the newest entry. The writer thread only. */
void recent_final(struct recent *r, const struct job *j, int failed);

/* recent_failures_get: copies up to max entries, newest first, into out; returns how many. Any
 * thread; an entry the writer is rewriting is retried, and one already overwritten by a newer
 * failure is left out. */
unsigned recent_failures_get(struct recent *r, struct recent_failure *out, unsigned max);

/* recent_json: the members "latency_ms_hist_log2":[...] and "failures":[{id, receiver_id,
 * amount, error, done_at_ms}, ...] (newest first) into an open JSON object. Any thread. */
void recent_json(struct recent *r, struct jw *w);

#endif
