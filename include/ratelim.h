/* ratelim: request rate limits (--rate-limit R requests/s, --rate-burst B), one token bucket per
 * client key (a bearer token, or a client address when nearftd runs without tokens), kept as a
 * GCRA "theoretical arrival time" per key: a request is admitted when the key's bucket holds a
 * token (at most B saved up, refilled at R per second), so a client may send B at once and R per
 * second after that.
 *
 * Table: a fixed array of RATELIM_STRIPES stripes of RATELIM_WAYS entries each, allocated in
 * ratelim_new (capacity RATELIM_STRIPES * RATELIM_WAYS keys). A key lives in the stripe its hash
 * names. When a new key finds its stripe full, it takes the entry that has been refilled the
 * longest (smallest arrival time): an entry whose bucket is full again is indistinguishable from
 * a fresh one, so nothing is lost unless more than RATELIM_WAYS clients of one stripe are limited
 * at the same moment, and then the least limited of them starts over with a full bucket.
 *
 * Concurrency: each stripe has its own mutex, held for one lookup and one update; ingest threads
 * contend only when two requests hash to the same stripe at the same instant. A client's
 * connections may land on different ingest threads and still share one bucket. Any thread; no
 * allocation after ratelim_new. */
#ifndef NF_RATELIM_H
#define NF_RATELIM_H

#include <stddef.h>
#include <stdint.h>

#define RATELIM_STRIPES  1024u
#define RATELIM_WAYS     16u
#define RATELIM_CAPACITY (RATELIM_STRIPES * RATELIM_WAYS)

struct ratelim;

/* ratelim_new: rate requests per second with bursts of burst (both >= 1). NULL on allocation
 * failure or a zero argument. Caller owns it (ratelim_free). Start-up thread. */
struct ratelim *ratelim_new(uint64_t rate, uint64_t burst);

/* ratelim_free: NULL-safe. After every user stopped. */
void ratelim_free(struct ratelim *r);

/* ratelim_key: a 64-bit key for kind (a small tag that keeps token keys apart from address keys)
 * and the bytes b[0..n) (at most 64 are used): keyed SipHash with a key drawn once per process, so
 * clients can neither aim at one stripe nor collide on purpose. Any thread. */
uint64_t ratelim_key(uint8_t kind, const void *b, size_t n);

/* ratelim_take: one request of key at now_ns (CLOCK_MONOTONIC). 1: admitted; 0: over the limit,
 * with *retry_ms the milliseconds until the key's bucket holds a token again (at least 1). Any
 * thread. */
int ratelim_take(struct ratelim *r, uint64_t key, uint64_t now_ns, uint64_t *retry_ms);

#endif
