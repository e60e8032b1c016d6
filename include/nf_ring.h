/* nf_ring: the one way stages hand pointers to each other: a concurrencykit ring plus an eventfd
 * wake. A pointer pushed into a ring is given away to the consumer. Two flavours:
 *  - _spsc: exactly one producer thread and one consumer thread (ck_ring_*_spsc);
 *  - _mpsc: any producer thread, one consumer thread (ck_ring_enqueue_mpmc / dequeue_mpmc; ck's
 *    _mpsc calls, whose dequeue takes no compare-and-swap, were not faster in perf/bench_ring:
 *    docs/BENCHMARKS.md).
 * Wake protocol (memcached/Valkey style): the consumer reads (clears) its eventfd BEFORE draining,
 * so an item pushed after the drain started always causes another wake-up; the producer calls
 * nf_ring_wake() once per burst, never skipping it because the ring "looked non-empty". A wake
 * already pending (written and not yet cleared by the consumer) is not written again: the
 * producer swaps wake_pending to 1 and writes the eventfd only when it was 0; the consumer, in
 * nf_ring_clear, reads the eventfd and then swaps wake_pending back to 0 (in that order; both
 * swaps acq_rel, so every push before a skipped wake is visible to the drain that follows).
 * Producers under load then pay one syscall per consumer wake-up, not one per burst.
 * ThreadSanitizer cannot see ck_pr's fences, so the hand-off is annotated here. */
#ifndef NF_RING_H
#define NF_RING_H

#include <ck_ring.h>
#include <stdatomic.h>
#include <stdint.h>

struct nf_ring {
    struct ck_ring ring;
    struct ck_ring_buffer *slots; /* size entries, size a power of two; holds size-1 items */
    unsigned size;
    int efd;                  /* eventfd (EFD_NONBLOCK); consumer's wake-up */
    _Atomic int wake_pending; /* 1: the eventfd was written and not yet cleared */
};

/* nf_ring_init: size must be a power of two >= 4. Start-up only (allocates). 0 or NF_ECONFIG /
 * NF_ENOMEM / NF_EIO. */
int nf_ring_init(struct nf_ring *r, unsigned size);
/* nf_ring_destroy: frees slots and closes the eventfd. NULL-safe, idempotent. */
void nf_ring_destroy(struct nf_ring *r);

/* nf_ring_push_spsc / nf_ring_push_mpsc: gives p away. 0, or NF_EFULL (p stays the caller's). */
int nf_ring_push_spsc(struct nf_ring *r, void *p);
int nf_ring_push_mpsc(struct nf_ring *r, void *p);
/* nf_ring_pop_spsc / nf_ring_pop_mpsc: the consumer takes the next pointer, or NULL when empty. */
void *nf_ring_pop_spsc(struct nf_ring *r);
void *nf_ring_pop_mpsc(struct nf_ring *r);
/* nf_ring_wake: producer side, once per burst. */
void nf_ring_wake(struct nf_ring *r);
/* nf_ring_clear: consumer side, before draining: reads the eventfd counter. */
void nf_ring_clear(struct nf_ring *r);
/* nf_ring_count: approximate occupancy (metrics only). */
unsigned nf_ring_count(const struct nf_ring *r);

#endif
