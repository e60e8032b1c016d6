/* ring: ck ring + eventfd wrapper (see include/nf_ring.h). Each struct nf_ring is shared by its
 * producer(s) and its one consumer; the ck ring carries the memory ordering of the hand-off. */
#include "nf_ring.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nf_err.h"
#include "nf_mem.h"
#include "nf_tsan.h"

int nf_ring_init(struct nf_ring *r, unsigned size)
{
    r->slots = NULL;
    r->efd = -1;
    if (size < 4 || (size & (size - 1)) != 0)
        return NF_ECONFIG;
    r->slots = nf_mem_map((size_t)size * sizeof(*r->slots));
    if (r->slots == NULL)
        return NF_ENOMEM;
    ck_ring_init(&r->ring, size);
    atomic_store_explicit(&r->wake_pending, 0, memory_order_relaxed);
    if (!ck_ring_valid(&r->ring)) {
        nf_mem_unmap(r->slots, (size_t)size * sizeof(*r->slots));
        r->slots = NULL;
        return NF_ECONFIG;
    }
    r->size = size;
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->efd == -1) {
        nf_mem_unmap(r->slots, (size_t)size * sizeof(*r->slots));
        r->slots = NULL;
        return NF_EIO;
    }
    return 0;
}

void nf_ring_destroy(struct nf_ring *r)
{
    /* slots is set only by a successful nf_ring_init (a zeroed struct is "never initialised") */
    if (r == NULL || r->slots == NULL)
        return;
    nf_mem_unmap(r->slots, (size_t)r->size * sizeof(*r->slots));
    r->slots = NULL;
    if (r->efd != -1)
        close(r->efd);
    r->efd = -1;
}

/* TSan: the slot reads and writes inside ck are ordered by ck_pr fences TSan cannot see (a pop
 * reads a slot a push wrote; a later push overwrites a slot a pop read), so they are not tracked;
 * the hand-off of p itself is annotated (RELEASE before the push, ACQUIRE after the pop). */
int nf_ring_push_spsc(struct nf_ring *r, void *p)
{
    NF_TSAN_RELEASE(p); /* pairs with NF_TSAN_ACQUIRE in the pop */
    NF_TSAN_IGNORE_BEGIN();
    bool ok = ck_ring_enqueue_spsc(&r->ring, r->slots, p);
    NF_TSAN_IGNORE_END();
    return ok ? 0 : NF_EFULL;
}

int nf_ring_push_mpsc(struct nf_ring *r, void *p)
{
    NF_TSAN_RELEASE(p);
    NF_TSAN_IGNORE_BEGIN();
    bool ok = ck_ring_enqueue_mpmc(&r->ring, r->slots, p);
    NF_TSAN_IGNORE_END();
    return ok ? 0 : NF_EFULL;
}

void *nf_ring_pop_spsc(struct nf_ring *r)
{
    void *p = NULL;
    NF_TSAN_IGNORE_BEGIN();
    bool ok = ck_ring_dequeue_spsc(&r->ring, r->slots, &p);
    NF_TSAN_IGNORE_END();
    if (!ok)
        return NULL;
    NF_TSAN_ACQUIRE(p);
    return p;
}

void *nf_ring_pop_mpsc(struct nf_ring *r)
{
    void *p = NULL;
    NF_TSAN_IGNORE_BEGIN();
    bool ok = ck_ring_dequeue_mpmc(&r->ring, r->slots, &p);
    NF_TSAN_IGNORE_END();
    if (!ok)
        return NULL;
    NF_TSAN_ACQUIRE(p);
    return p;
}

void nf_ring_wake(struct nf_ring *r)
{
    /* acq_rel: releases this producer's pushes to the consumer's clear (which acquires). */
    if (atomic_exchange_explicit(&r->wake_pending, 1, memory_order_acq_rel) != 0)
        return; /* a wake is already on its way; the consumer's drain will see our pushes */
    uint64_t one = 1;
    /* EAGAIN means the counter is saturated: the consumer is already due to wake. */
    while (write(r->efd, &one, sizeof(one)) == -1 && errno == EINTR)
        ;
}

void nf_ring_clear(struct nf_ring *r)
{
    uint64_t v;
    /* Read the eventfd first, then re-arm: a producer that sets wake_pending after the swap
     * writes the eventfd after our read, so its wake is never swallowed by it. (The other order
     * loses wakes: a write landing between the swap and the read is consumed while
     * wake_pending stays 1, and every later wake is skipped.) acq_rel: acquires the pushes of
     * every producer whose wake was skipped since the last clear. */
    while (read(r->efd, &v, sizeof(v)) == -1 && errno == EINTR)
        ;
    atomic_exchange_explicit(&r->wake_pending, 0, memory_order_acq_rel);
}

unsigned nf_ring_count(const struct nf_ring *r)
{
    return ck_ring_size(&r->ring);
}
