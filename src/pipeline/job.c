/* job: the fixed transfer slab (see include/job.h). Allocation is lock-free and callable from any
 * ingest thread; each slot's fields then belong to whichever stage holds the job. */
#include "job.h"

#include <stdlib.h>
#include <string.h>

#include "nf_err.h"
#include "nf_mem.h"

/* The slab comes from nf_mem_map: an untouched slot costs no memory, and filling the slab takes
 * one page fault per 2 MiB where transparent huge pages are available. */
int job_slab_init(struct job_slab *s, uint64_t capacity, uint64_t first_id)
{
    s->jobs = nf_mem_map((size_t)capacity * sizeof(*s->jobs));
    if (s->jobs == NULL)
        return NF_ENOMEM;
    s->capacity = capacity;
    atomic_init(&s->next_id, first_id ? first_id : 1);
    return 0;
}

void job_slab_destroy(struct job_slab *s)
{
    nf_mem_unmap(s->jobs, (size_t)s->capacity * sizeof(*s->jobs));
    s->jobs = NULL;
}

uint64_t job_alloc_range(struct job_slab *s, uint32_t n)
{
    if (n == 0 || n > s->capacity / 2)
        return 0;
    /* A few attempts: an unfinished job in the way makes us skip past it. */
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t first = atomic_fetch_add_explicit(&s->next_id, n, memory_order_relaxed);
        uint32_t got = 0;
        for (; got < n; got++) {
            struct job *j = job_slot(s, first + got);
            uint8_t st = atomic_load_explicit(&j->status, memory_order_acquire);
            if (st != JOB_FREE && st != JOB_EXECUTED && st != JOB_FAILED)
                break;
            if (st != JOB_FREE && atomic_load_explicit(&j->holds, memory_order_acquire) != 0)
                break;
            /* Claim through the status: only one allocator can move it from a reusable value to
             * CLAIMED. acq_rel pairs with the release store of the stage that finished the old
             * job (its fields are no longer touched) and with job_lookup's acquire loads. */
            if (!atomic_compare_exchange_strong_explicit(&j->status, &st, (uint8_t)JOB_CLAIMED,
                                                         memory_order_acq_rel,
                                                         memory_order_acquire))
                break;
            atomic_store_explicit(&j->id, first + got, memory_order_release);
            /* Seqlock writer: the new id is visible before any field the caller writes next
             * (job_view_read re-checks the id after copying, so it never mixes two transfers,
             * e.g. one transfer's id with the next one's id tag). */
            atomic_thread_fence(memory_order_release);
        }
        if (got == n)
            return first;
        /* Give back what we claimed (ids are simply skipped). */
        for (uint32_t k = 0; k < got; k++)
            job_release(s, job_slot(s, first + k));
    }
    return 0;
}

void job_release(struct job_slab *s, struct job *j)
{
    (void)s;
    atomic_store_explicit(&j->id, 0, memory_order_release);
    job_set_status(j, JOB_FREE);
}

struct job *job_lookup(struct job_slab *s, uint64_t id)
{
    if (id == 0)
        return NULL;
    struct job *j = job_slot(s, id);
    if (atomic_load_explicit(&j->id, memory_order_acquire) != id)
        return NULL;
    enum job_status st = job_get_status(j);
    if (st == JOB_FREE || st == JOB_CLAIMED)
        return NULL;
    return j;
}

const char *job_status_name(enum job_status st)
{
    switch (st) {
    case JOB_FREE:
        return "free";
    case JOB_QUEUED:
        return "queued";
    case JOB_BATCHED:
        return "batched";
    case JOB_SIGNED:
        return "signed";
    case JOB_SUBMITTED:
        return "submitted";
    case JOB_EXECUTED:
        return "executed";
    case JOB_FAILED:
        return "failed";
    case JOB_CLAIMED:
        return "claimed";
    }
    return "unknown";
}

int job_error_is_receiver(const char *error)
{
    static const char *const marks[] = {"does not exist", "DoesNotExist", "not registered",
                                        "storage",        "receiver",     "Receiver"};
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
        if (strstr(error, marks[i]) != NULL)
            return 1;
    return 0;
}
