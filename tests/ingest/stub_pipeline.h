/* stub_pipeline: a stand-in for nearftd's pipeline behind include/pipeline.h, for the ingest HTTP
 * test and the ingest load stub. One thread plays the WAL hub, batch and submit roles: it answers
 * each accept (an idempotency map, durable or a log failure), moves jobs QUEUED -> SIGNED ->
 * SUBMITTED -> EXECUTED (or FAILED) at once and pushes PIPE_MSG_JOB for waiters. What a job does
 * is chosen by its receiver:
 *   queued.near  stays QUEUED (held) until release_held is set (then EXECUTED)
 *   fail.near    FAILED with a receiver error ("... is not registered")
 *   boom.near    FAILED with a transaction error
 *   early.near   reaches EXECUTED and its JOB message is pushed BEFORE the accept comes back
 *   full*.near   pipe_accept_submit answers NF_EFULL
 *   ioerr.near   the accept comes back with status NF_EIO
 *   idemfull.near with an idempotency key: the accept comes back NF_EIDEMFULL, Retry-After
 *                STUB_IDEM_RETRY
 *   anything else executes at once.
 * Idempotency keys "kept-exec-*", "kept-fail-*", "kept-recv-*" and "kept-open-*" are repeats of
 * transfer STUB_KEPT_ID, which left the slab, with the status the index kept (executed, failed,
 * failed by its receiver, none). pipe_retry_after_s answers STUB_RETRY. Every job field a reader
 * may look at is written before the status store that publishes it. */
#ifndef NF_STUB_PIPELINE_H
#define NF_STUB_PIPELINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "job.h"
#include "nf_ring.h"
#include "pipeline.h"
#include "req_json.h"

#define STUB_THREADS_MAX 8
#define STUB_RETRY       7
#define STUB_IDEM_RETRY  42        /* Retry-After of a request the idempotency index refuses */
#define STUB_KEPT_ID     999999999 /* the original of a "kept-*" key: never in the slab */
#define STUB_KEPT_TAG    0x00c0ffee00c0ffeeull /* ... and its id tag */
#define STUB_IDEM_MAX    256
#define STUB_HELD_MAX    1024

struct stub_idem {
    char key[REQ_IDEM_MAX + 1];
    uint64_t id;
    uint64_t hash;
    uint64_t tag;
};

struct nf_pipe {
    struct job_slab slab;
    struct nf_ring replies[STUB_THREADS_MAX];
    unsigned nthreads;
    struct nf_ring in; /* accepts from the ingest threads */
    pthread_t tid;
    _Atomic int stop;
    _Atomic int release_held;
    _Atomic int unhealthy;
    struct spend *spend;     /* pipe_spend's answer: set by the test (NULL: none) */
    struct spend *spend_day; /* pipe_spend_day's, the same */
    /* stub thread only */
    struct stub_idem idem[STUB_IDEM_MAX];
    int nidem;
    uint64_t held[STUB_HELD_MAX];
    int nheld;
    uint32_t need_wake; /* reply rings pushed since the last wake */
};

/* stub_init: slab of slab_capacity jobs, nthreads reply rings, starts the stub thread. 0 or -1. */
int stub_init(struct nf_pipe *p, unsigned nthreads, uint64_t slab_capacity);
/* stub_stop: joins the stub thread. */
void stub_stop(struct nf_pipe *p);
/* stub_destroy: frees the rings and the slab (after stub_stop and after ingest stopped). */
void stub_destroy(struct nf_pipe *p);

#endif
