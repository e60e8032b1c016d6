/* stub_pipeline: the pipeline stand-in used by the ingest test and load stub (see
 * stub_pipeline.h). Its thread owns the idempotency map and the held list; the rings and the slab
 * are shared with the ingest threads exactly as the real pipeline shares them. */
#include "stub_pipeline.h"

#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "idem.h"
#include "ingest/ingest_int.h"
#include "nf_err.h"
#include "nf_log.h"

struct nf_ring *pipe_reply_ring(struct nf_pipe *p, unsigned idx)
{
    return idx < p->nthreads ? &p->replies[idx] : NULL;
}

struct job_slab *pipe_jobs(struct nf_pipe *p)
{
    return &p->slab;
}

int pipe_accept_submit(struct nf_pipe *p, struct pipe_accept *a)
{
    for (uint32_t i = 0; i < a->n; i++)
        if (strncmp(job_slot(&p->slab, a->first_id + i)->receiver, "full", 4) == 0)
            return NF_EFULL;
    int rc = nf_ring_push_mpsc(&p->in, a);
    if (rc == 0)
        nf_ring_wake(&p->in);
    return rc;
}

int pipe_accept_submit_nowake(struct nf_pipe *p, struct pipe_accept *a)
{
    for (uint32_t i = 0; i < a->n; i++)
        if (strncmp(job_slot(&p->slab, a->first_id + i)->receiver, "full", 4) == 0)
            return NF_EFULL;
    return nf_ring_push_mpsc(&p->in, a);
}

void pipe_accept_wake(struct nf_pipe *p)
{
    nf_ring_wake(&p->in);
}

const char *pipe_refusal_reason(struct nf_pipe *p)
{
    (void)p;
    return "the durable log queue is full";
}

struct spend *pipe_spend(struct nf_pipe *p)
{
    return p->spend;
}

struct spend *pipe_spend_day(struct nf_pipe *p)
{
    return p->spend_day;
}

unsigned pipe_retry_after_s(struct nf_pipe *p)
{
    (void)p;
    return STUB_RETRY;
}

int pipe_health_json(struct nf_pipe *p, char *out, size_t cap, int *healthy)
{
    *healthy = !atomic_load(&p->unhealthy);
    int n = snprintf(out, cap, "{\"status\":\"%s\"}", *healthy ? "ok" : "degraded");
    return (n < 0 || (size_t)n >= cap) ? NF_ENOSPC : n;
}

int pipe_metrics_text(struct nf_pipe *p, char *out, size_t cap)
{
    (void)p;
    int n = snprintf(out, cap, "# TYPE nearft_stub_total counter\nnearft_stub_total 1\n");
    return (n < 0 || (size_t)n >= cap) ? NF_ENOSPC : n;
}

int pipe_stages_json(struct nf_pipe *p, char *out, size_t cap)
{
    (void)p;
    int n = snprintf(out, cap, "{\"wal\":{\"depth\":0}}");
    return (n < 0 || (size_t)n >= cap) ? NF_ENOSPC : n;
}

int pipe_recent_json(struct nf_pipe *p, char *out, size_t cap)
{
    (void)p;
    int n = snprintf(out, cap, "{\"transfers\":{\"executed\":0},\"failures\":[]}");
    return (n < 0 || (size_t)n >= cap) ? NF_ENOSPC : n;
}

int pipe_tx_jobs(struct nf_pipe *p, const uint8_t tx_hash[32], uint64_t *ids, int cap)
{
    int n = 0;
    for (uint64_t s = 0; s < p->slab.capacity && n < cap; s++) {
        struct job *j = &p->slab.jobs[s];
        uint64_t id = atomic_load_explicit(&j->id, memory_order_acquire);
        enum job_status st = job_get_status(j);
        if (id == 0 || st < JOB_SIGNED || st > JOB_FAILED)
            continue;
        if (job_tx_hash_is(j, tx_hash))
            ids[n++] = id;
    }
    return n;
}

/* Pushes now, wakes once per drained burst (stub_flush), as a group-committing WAL would. */
static void stub_push(struct nf_pipe *p, unsigned idx, void *msg)
{
    while (nf_ring_push_mpsc(&p->replies[idx], msg) != 0) {
        nf_ring_wake(&p->replies[idx]);
        sched_yield(); /* the rings are large; never happens in practice */
    }
    p->need_wake |= 1u << idx;
}

static void stub_flush(struct nf_pipe *p)
{
    for (unsigned i = 0; i < p->nthreads; i++)
        if (p->need_wake & (1u << i))
            nf_ring_wake(&p->replies[i]);
    p->need_wake = 0;
}

/* Every field a reader may look at is written before the status that publishes it. */
static void stub_finish(struct nf_pipe *p, struct job *j, const uint8_t tx[32], int fail_kind)
{
    uint64_t now = ingest_now_ms();
    job_tx_hash_set(j, tx);
    j->attempts = 1;
    j->signed_ms = now;
    j->submitted_ms = now;
    j->done_ms = now;
    j->final_seen = 1;
    if (fail_kind == 1)
        snprintf(j->error, sizeof(j->error),
                 "Smart contract panicked: The account %s is not "
                 "registered",
                 j->receiver);
    else if (fail_kind == 2)
        snprintf(j->error, sizeof(j->error), "InvalidTxError: InvalidNonce");
    job_set_status(j, JOB_SIGNED);
    job_set_status(j, JOB_SUBMITTED);
    if (j->waiter_thread >= 0 && j->wait_level <= JOB_SUBMITTED && !fail_kind)
        stub_push(p, (unsigned)j->waiter_thread, pipe_msg_make(j, PIPE_MSG_JOB));
    job_set_status(j, fail_kind ? JOB_FAILED : JOB_EXECUTED);
    if (j->waiter_thread >= 0)
        stub_push(p, (unsigned)j->waiter_thread, pipe_msg_make(j, PIPE_MSG_JOB));
}

static void stub_accept(struct nf_pipe *p, struct pipe_accept *a)
{
    uint8_t tx[32];
    memset(tx, 0xab, sizeof(tx));
    memcpy(tx, &a->first_id, sizeof(a->first_id));
    for (uint32_t i = 0; i < a->n; i++)
        if (strcmp(job_slot(&p->slab, a->first_id + i)->receiver, "ioerr.near") == 0) {
            a->status = NF_EIO;
            stub_push(p, a->ingest_idx, pipe_msg_make(a, PIPE_MSG_ACCEPTED));
            return;
        }
    /* A key on "idemfull.near": the idempotency index has no entry it may drop. */
    for (uint32_t i = 0; i < a->n; i++) {
        const struct job *j = job_slot(&p->slab, a->first_id + i);
        if (j->has_idem && strcmp(j->receiver, "idemfull.near") == 0) {
            a->status = NF_EIDEMFULL;
            a->retry_after_s = STUB_IDEM_RETRY;
            stub_push(p, a->ingest_idx, pipe_msg_make(a, PIPE_MSG_ACCEPTED));
            return;
        }
    }
    a->status = 0;
    a->duplicates = 0;
    int early = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        struct job *j = job_slot(&p->slab, a->first_id + i);
        /* Keys "kept-exec-*", "kept-fail-*", "kept-recv-*", "kept-open-*": a repeat whose original
         * (STUB_KEPT_ID) left the slab, with the status the idempotency index kept. */
        if (j->has_idem && strncmp(j->idem_key, "kept-", 5) == 0) {
            const char *k = j->idem_key + 5;
            j->dup_of = STUB_KEPT_ID;
            j->dup_tag = STUB_KEPT_TAG;
            j->dup_status = strncmp(k, "exec", 4) == 0   ? IDEM_EXECUTED
                            : strncmp(k, "fail", 4) == 0 ? IDEM_FAILED
                            : strncmp(k, "recv", 4) == 0 ? IDEM_FAILED_RECEIVER
                                                         : IDEM_OPEN;
            a->duplicates++;
            continue;
        }
        if (j->has_idem) {
            int k = 0;
            for (; k < p->nidem; k++)
                if (strcmp(p->idem[k].key, j->idem_key) == 0)
                    break;
            if (k < p->nidem) {
                if (p->idem[k].hash == j->body_hash) {
                    j->dup_of = p->idem[k].id;
                    j->dup_tag = p->idem[k].tag;
                } else {
                    j->dup_conflict = 1;
                }
                a->duplicates++;
                continue; /* stays CLAIMED: ingest releases it */
            }
            if (p->nidem < STUB_IDEM_MAX) {
                snprintf(p->idem[p->nidem].key, sizeof(p->idem[0].key), "%s", j->idem_key);
                p->idem[p->nidem].id = a->first_id + i;
                p->idem[p->nidem].hash = j->body_hash;
                p->idem[p->nidem].tag = j->id_tag;
                p->nidem++;
            }
        }
        if (strcmp(j->receiver, "early.near") == 0) {
            job_set_status(j, JOB_QUEUED);
            stub_finish(p, j, tx, 0);
            early = 1;
        } else {
            job_set_status(j, JOB_QUEUED);
        }
    }
    (void)early;
    /* Read what we need before handing a back: it belongs to ingest again afterwards. */
    uint64_t first = a->first_id;
    uint32_t n = a->n;
    stub_push(p, a->ingest_idx, pipe_msg_make(a, PIPE_MSG_ACCEPTED));
    for (uint32_t i = 0; i < n; i++) {
        struct job *j = job_slot(&p->slab, first + i);
        if (j->dup_of != 0 || j->dup_conflict || job_get_status(j) != JOB_QUEUED)
            continue;
        if (strcmp(j->receiver, "queued.near") == 0) {
            if (p->nheld < STUB_HELD_MAX)
                p->held[p->nheld++] = first + i;
            continue;
        }
        int fail = strcmp(j->receiver, "fail.near") == 0   ? 1
                   : strcmp(j->receiver, "boom.near") == 0 ? 2
                                                           : 0;
        stub_finish(p, j, tx, fail);
    }
}

static void *stub_main(void *arg)
{
    struct nf_pipe *p = arg;
    log_set_thread("stub");
    while (!atomic_load(&p->stop)) {
        struct pollfd pfd = {.fd = p->in.efd, .events = POLLIN};
        poll(&pfd, 1, 10);
        nf_ring_clear(&p->in);
        struct pipe_accept *a;
        while ((a = nf_ring_pop_mpsc(&p->in)) != NULL)
            stub_accept(p, a);
        stub_flush(p);
        if (atomic_exchange(&p->release_held, 0)) {
            uint8_t tx[32];
            memset(tx, 0xcd, sizeof(tx));
            for (int i = 0; i < p->nheld; i++) {
                struct job *j = job_slot(&p->slab, p->held[i]);
                if (atomic_load(&j->id) == p->held[i] && job_get_status(j) == JOB_QUEUED)
                    stub_finish(p, j, tx, 0);
            }
            p->nheld = 0;
            stub_flush(p);
        }
    }
    return NULL;
}

int stub_init(struct nf_pipe *p, unsigned nthreads, uint64_t slab_capacity)
{
    memset(p, 0, sizeof(*p));
    if (nthreads > STUB_THREADS_MAX)
        return -1;
    p->nthreads = nthreads;
    if (job_slab_init(&p->slab, slab_capacity, 1) != 0 || nf_ring_init(&p->in, 65536) != 0)
        return -1;
    for (unsigned i = 0; i < nthreads; i++)
        if (nf_ring_init(&p->replies[i], 65536) != 0)
            return -1;
    return pthread_create(&p->tid, NULL, stub_main, p) == 0 ? 0 : -1;
}

void stub_stop(struct nf_pipe *p)
{
    atomic_store(&p->stop, 1);
    nf_ring_wake(&p->in);
    pthread_join(p->tid, NULL);
}

void stub_destroy(struct nf_pipe *p)
{
    for (unsigned i = 0; i < p->nthreads; i++)
        nf_ring_destroy(&p->replies[i]);
    nf_ring_destroy(&p->in);
    job_slab_destroy(&p->slab);
}
