/* pipeline: builds and owns nearftd's stages and the rings between them, the job slab, the key
 * pool and the hub (src/pipeline/hub.c), and wires each stage (its struct x_wiring) at creation.
 * Start-up replays the log (recovery.c) before the log opens a new segment; compaction deletes
 * segments nothing live needs. Main thread only; see pipeline_int.h for how the hub's files
 * divide the work. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batch.h"
#include "cfg.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_mem.h"
#include "nf_time.h"
#include "pipeline_int.h"
#include "sign.h"
#include "spend.h"
#include "submit.h"
#include "wal_js.h"
#include "wal_rec.h"

/* ---- what ingest and main see (include/pipeline.h, include/pipeline_ctl.h) ------------------ */

struct job_slab *pipe_jobs(struct nf_pipe *p)
{
    return &p->jobs;
}

struct nf_ring *pipe_reply_ring(struct nf_pipe *p, unsigned idx)
{
    return &p->reply[idx];
}

void pipe_set_ft_supply(struct nf_pipe *p, nf_u128 supply)
{
    stage_set_ft_supply(&p->shared, supply);
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

/* local_log_present: 1 when dir holds a non-empty local log segment. Cluster mode does not read
 * them, so starting it on such a directory would leave their transfers behind. */
static int local_log_present(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        uint64_t seq;
        struct stat st;
        char path[4096];
        if (wal_seg_name_parse(e->d_name, &seq) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        found = stat(path, &st) == 0 && st.st_size > 0;
    }
    closedir(d);
    return found;
}

static uint32_t pow2_at_least(uint64_t v)
{
    uint32_t r = 4;
    while (r < v && r < (1u << 30))
        r <<= 1;
    return r;
}

/* pipe_buffers: the idempotency index, spend windows, arena and every ring between the stages,
 * sized from the configuration. 0 or an NF_E* code (p is freed by the caller). */
static int pipe_buffers(struct nf_pipe *p, uint16_t n_keys)
{
    const struct cfg *c = p->cfg;
    unsigned n_ingest = p->n_ingest;
    int rc;
    p->n_batches =
        pow2_at_least(2u * (uint64_t)n_keys * c->inflight_per_key + 8u * p->n_sign + 64u);
    uint32_t job_ring = pow2_at_least(c->job_capacity + 1);
    p->reply = calloc(n_ingest, sizeof(*p->reply));
    p->reply_pending = calloc(n_ingest, 1);
    p->sign_in = calloc(p->n_sign, sizeof(*p->sign_in));
    if ((rc = idem_init(&p->idem, (uint32_t)c->idempotency_keys,
                        idem_keep_ms(c->retention_hours))) != 0)
        return rc;
    rc = NF_ENOMEM;
    p->arena = nf_mem_map(ARENA_BYTES);
    p->spend = spend_new(c->max_amount_per_hour);
    p->spend_day = spend_new_window(c->max_amount_per_day, SPEND_DAY_S, SPEND_DAY_SLOT_S);
    if (!p->spend || !p->spend_day || !p->reply || !p->reply_pending || !p->sign_in || !p->arena)
        return rc;
    for (unsigned i = 0; i < n_ingest; i++)
        if ((rc = nf_ring_init(&p->reply[i], pow2_at_least(c->job_capacity + 1))) != 0)
            return rc;
    for (unsigned i = 0; i < p->n_sign; i++)
        if ((rc = nf_ring_init(&p->sign_in[i], p->n_batches * 2)) != 0)
            return rc;
    if ((rc = nf_ring_init(&p->batch_in, job_ring)) != 0 ||
        (rc = nf_ring_init(&p->batch_requeue, job_ring)) != 0 ||
        (rc = nf_ring_init(&p->batch_free, p->n_batches * 2)) != 0 ||
        (rc = nf_ring_init(&p->batch_lookup_done, 8192)) != 0 ||
        (rc = nf_ring_init(&p->submit_in, p->n_batches * 2)) != 0 ||
        (rc = nf_ring_init(&p->submit_lookup, 8192)) != 0)
        return rc;
    return 0;
}

/* pipe_cluster_log: in cluster mode, connects the log's JetStream backend (wal_js.h), which
 * waits for the log's lease as a standby first; refuses a --data-dir that holds a local log. */
static int pipe_cluster_log(struct nf_pipe *p, const struct pipe_hooks *hooks)
{
    const struct cfg *c = p->cfg;
    if (c->cluster == NULL)
        return 0;
    if (local_log_present(c->data_dir)) {
        NF_LOG(NF_LOG_ERROR, "pipe",
               "--data-dir holds a local log, which cluster mode does not read: finish it "
               "without --cluster first, or give cluster mode another --data-dir");
        return NF_ECONFIG;
    }
    const struct wal_js_opts jo = {.servers = c->cluster,
                                   .stream = c->cluster_stream,
                                   .creds = c->cluster_creds,
                                   .secret_file = c->cluster_secret_file,
                                   .tls_ca = c->cluster_tls_ca,
                                   .tls_cert = c->cluster_tls_cert,
                                   .tls_key = c->cluster_tls_key,
                                   .replicas = (unsigned)c->cluster_replicas,
                                   .ack_timeout_ms = (uint32_t)c->cluster_ack_timeout_ms,
                                   .keep_ms = idem_keep_ms(c->retention_hours),
                                   .lease_ms = (uint32_t)c->cluster_lease_ms,
                                   .standby = hooks != NULL ? hooks->standby : NULL,
                                   .standby_arg = hooks != NULL ? hooks->standby_arg : NULL};
    return wal_js_new(&jo, &p->js);
}

/* pipe_log_open: the log's writer thread over the segment files or the stream (p->js), with
 * `producers` producers. */
static int pipe_log_open(struct nf_pipe *p, unsigned producers)
{
    const struct cfg *c = p->cfg;
    struct wal_opts wo = {0};
    wo.dir = c->data_dir;
    wo.fsync = c->fsync == CFG_FSYNC_OFF ? WAL_FSYNC_OFF : WAL_FSYNC_ALWAYS;
    wo.segment_bytes = c->wal_segment_bytes;
    wo.group_commit_us = (uint32_t)c->wal_group_commit_us;
    wo.producers = producers;
    wo.ring_size = pow2_at_least(c->ring_size);
    wo.on_group_end = hub_group_end;
    wo.group_arg = p;
    wo.js = p->js;
    return wal_new(&wo, &p->wal);
}

/* pipe_sign_submit: the sign and submit stages, wired to the log (already open) and the rings,
 * and every batch slot bound to the submit stage. */
static int pipe_sign_submit(struct nf_pipe *p,
                            const struct stage_hub *hubp,
                            unsigned prod_sign,
                            unsigned prod_submit)
{
    const struct cfg *c = p->cfg;
    const struct stage_hub hub = *hubp;
    int rc = NF_ENOMEM;
    const struct sign_wiring sw = {.cfg = c,
                                   .jobs = &p->jobs,
                                   .keys = &p->keys,
                                   .in = p->sign_in,
                                   .wal = p->wal,
                                   .wal_producer_first = prod_sign,
                                   .shared = &p->shared,
                                   .counters = &p->ctr[STAGE_SIGN],
                                   .hub = hub};
    p->sign = sign_new(&sw, &rc);
    if (p->sign == NULL)
        return rc;
    const struct submit_wiring uw = {.cfg = c,
                                     .jobs = &p->jobs,
                                     .keys = &p->keys,
                                     .in = &p->submit_in,
                                     .lookup_in = &p->submit_lookup,
                                     .lookup_done = &p->batch_lookup_done,
                                     .sign_in = p->sign_in,
                                     .wal = p->wal,
                                     .wal_producer = prod_submit,
                                     .shared = &p->shared,
                                     .counters = &p->ctr[STAGE_SUBMIT],
                                     .hub = hub};
    p->submit = submit_new(&uw, p->n_batches, &rc);
    if (p->submit == NULL)
        return rc;
    for (uint32_t i = 0; i < p->n_batches; i++)
        if ((rc = submit_bind_batch(p->submit, batch_slot_ptr(p->batch, i))) != 0)
            return rc;
    return 0;
}

struct nf_pipe *pipe_new(const struct cfg *c,
                         struct nf_keypair **kps,
                         uint16_t n_keys,
                         unsigned n_ingest,
                         struct spend_tokens *token_budgets,
                         const struct pipe_hooks *hooks,
                         int *err)
{
    int rc = NF_ENOMEM;
    struct nf_pipe *p = calloc(1, sizeof(*p));
    struct recovery rctx = {0};
    if (p == NULL)
        goto fail;
    p->cfg = c;
    p->token_spend = token_budgets;
    p->n_ingest = n_ingest;
    p->n_sign = (unsigned)c->sign_threads;
    p->start_ms = nf_now_ms();
    recent_init(&p->recent);
    atomic_init(&p->shared.reconciled, 0);
    if ((rc = keypool_init(&p->keys, kps, n_keys, (uint16_t)p->n_sign)) != 0)
        goto fail;
    if ((rc = job_slab_init(&p->jobs, c->job_capacity, 1)) != 0)
        goto fail;
    if ((rc = pipe_buffers(p, n_keys)) != 0)
        goto fail;
    const struct stage_hub hub = {.ctx = p,
                                  .notify_job = hub_notify_job,
                                  .signed_done = hub_signed_done,
                                  .outcome_done = hub_outcome_done};
    /* WAL producers: ingest 0..n_ingest-1, signer i n_ingest+i, submit, batch. */
    const unsigned prod_sign = n_ingest, prod_submit = n_ingest + p->n_sign,
                   prod_batch = prod_submit + 1;
    const struct batch_wiring bw = {.cfg = c,
                                    .jobs = &p->jobs,
                                    .in = &p->batch_in,
                                    .requeue = &p->batch_requeue,
                                    .free_batches = &p->batch_free,
                                    .lookup_done = &p->batch_lookup_done,
                                    .sign_in = p->sign_in,
                                    .lookup_out = &p->submit_lookup,
                                    .wal = NULL, /* opened after the replay: batch_wire_wal */
                                    .shared = &p->shared,
                                    .counters = &p->ctr[STAGE_BATCH],
                                    .hub = hub};
    p->batch = batch_new(&bw, p->n_batches, &rc);
    if (p->batch == NULL)
        goto fail;

    /* Cluster mode: the log is a JetStream stream (wal_js.h) instead of the segment files. */
    if ((rc = pipe_cluster_log(p, hooks)) != 0)
        goto fail;
    /* Replay the log: jobs, idempotency keys, unresolved signed transactions. */
    if ((rc = recovery_replay(p, &rctx)) != 0)
        goto fail;

    if ((rc = pipe_log_open(p, prod_batch + 1)) != 0)
        goto fail;
    batch_wire_wal(p->batch, p->wal, prod_batch);
    if ((rc = pipe_sign_submit(p, &hub, prod_sign, prod_submit)) != 0)
        goto fail;

    uint64_t queued = recovery_seed(p, &rctx);
    NF_LOG(NF_LOG_INFO, "pipe",
           "log replayed records=%llu jobs=%llu queued=%llu unresolved_txs=%u next_id=%llu "
           "replay_ms=%llu",
           (unsigned long long)p->replayed_records, (unsigned long long)p->replayed_jobs,
           (unsigned long long)queued, rctx.n_live, (unsigned long long)(rctx.max_id + 1),
           (unsigned long long)rctx.replay_ms);
    recovery_free(&rctx);
    return p;
fail:
    if (err)
        *err = rc;
    recovery_free(&rctx);
    pipe_free(p);
    return NULL;
}

int pipe_cluster_fenced(struct nf_pipe *p)
{
    return p->js != NULL &&
           (wal_js_lease_lost(p->js) || (p->wal != NULL && wal_failed(p->wal) != 0));
}

int pipe_cluster_advertise(struct nf_pipe *p, const char *addr)
{
    return p->js != NULL ? wal_js_advertise(p->js, addr) : NF_ECONFIG;
}

/* ---- compaction (main thread) -------------------------------------------------------------------
 * A segment may be deleted when (a) no transfer that still needs its records has its ACCEPT record
 * in it or in an older segment (the floor: the lowest accept_seq of every transfer that is not
 * final, or final but whose final record is not durable yet; a live transfer's SIGNED records are
 * always in segments >= its ACCEPT segment), and (b) its last write is older than the
 * idempotency keep time (--retention-hours + 5 s, idem_keep_ms), so the status and idempotency
 * key of settled transfers stay available that long after a restart. Every record of a segment
 * is older than the segment's modification time, so (a) and (b) together mean that compaction
 * never deletes the ACCEPT record of a key the index must still keep: the log stays the index's
 * durable copy, and the replay rebuilds it (nothing is carried forward). */
void pipe_compact(struct nf_pipe *p)
{
    uint64_t now = nf_now_ms();
    uint64_t cur = wal_current_seq(p->wal);
    if (p->last_rotate_ms == 0)
        p->last_rotate_ms = now;
    /* Rotate so that a quiet service also gets closed, deletable segments. */
    uint64_t rotate_every = p->cfg->retention_hours * 3600000ull / 4;
    if (rotate_every < p->cfg->compact_interval_ms)
        rotate_every = p->cfg->compact_interval_ms;
    if (now - p->last_rotate_ms >= rotate_every) {
        if (wal_rotate(p->wal, &cur) != 0)
            return;
        p->last_rotate_ms = now;
    }
    uint64_t floor = cur;
    uint64_t first, span = job_slab_span(&p->jobs, &first);
    for (uint64_t i = 0; i < span; i++) {
        struct job *j = job_slot(&p->jobs, first + i);
        if (atomic_load_explicit(&j->id, memory_order_acquire) == 0)
            continue;
        enum job_status st = job_get_status(j);
        if (st == JOB_FREE || st == JOB_CLAIMED)
            continue; /* not durable yet: its records go to the current segment or later */
        int final = st == JOB_EXECUTED || st == JOB_FAILED;
        if (final && !(atomic_load_explicit(&j->holds, memory_order_acquire) & JOB_HOLD_PIPE))
            continue;
        uint64_t seq = atomic_load_explicit(&j->accept_seq, memory_order_relaxed);
        if (seq < floor)
            floor = seq;
    }
    /* Oldest segments first: delete while both conditions hold. Cluster mode has no segment
     * files: the stream applies the age condition itself (wal_js_purge_before). */
    uint64_t keep_ms = idem_keep_ms(p->cfg->retention_hours);
    uint64_t before = floor;
    DIR *d = p->js != NULL ? NULL : opendir(p->cfg->data_dir);
    if (d == NULL && p->js == NULL)
        return;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        uint64_t seq;
        if (wal_seg_name_parse(e->d_name, &seq) != 0 || seq >= before)
            continue;
        char path[4096];
        struct stat stt;
        snprintf(path, sizeof(path), "%s/%s", p->cfg->data_dir, e->d_name);
        if (stat(path, &stt) != 0)
            continue;
        uint64_t mtime_ms =
            (uint64_t)stt.st_mtim.tv_sec * 1000u + (uint64_t)stt.st_mtim.tv_nsec / 1000000u;
        if (now < mtime_ms + keep_ms)
            before = seq; /* too young: keep it and everything after it */
    }
    if (d != NULL)
        closedir(d);
    if (before <= 1)
        return;
    int n = wal_delete_before(p->wal, before);
    if (n > 0) {
        atomic_fetch_add_explicit(&p->segments_deleted, (uint64_t)n, memory_order_relaxed);
        NF_LOG(NF_LOG_INFO, "pipe", "log compacted deleted_segments=%d floor_seq=%llu", n,
               (unsigned long long)before);
    }
}

void pipe_key_nonce_at_least(struct nf_pipe *p, uint16_t key, uint64_t next)
{
    if (key < p->keys.n)
        keypool_raise_nonce(&p->keys.keys[key], next);
}

int pipe_start(struct nf_pipe *p)
{
    int rc;
    if ((rc = wal_start(p->wal)) != 0 || (rc = batch_start(p->batch)) != 0 ||
        (rc = sign_start(p->sign)) != 0 || (rc = submit_start(p->submit)) != 0)
        return rc;
    /* Wake the consumers for what replay queued. */
    nf_ring_wake(&p->batch_in);
    nf_ring_wake(&p->submit_in);
    return 0;
}

void pipe_drain(struct nf_pipe *p, uint64_t max_ms)
{
    atomic_store_explicit(&p->stopping, 1, memory_order_relaxed);
    uint64_t until = nf_now_ms() + max_ms;
    while (nf_now_ms() < until) {
        struct submit_stats ss;
        submit_stats(p->submit, &ss);
        if (ss.inflight_batches == 0 &&
            atomic_load_explicit(&p->shared.unsigned_jobs, memory_order_relaxed) == 0)
            return;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL); /* shutdown polling, not synchronisation of data */
    }
}

void pipe_stop(struct nf_pipe *p)
{
    if (p == NULL)
        return;
    batch_stop(p->batch);
    sign_stop(p->sign);
    submit_stop(p->submit);
    if (p->wal)
        wal_stop(p->wal);
}

void pipe_free(struct nf_pipe *p)
{
    if (p == NULL)
        return;
    pipe_stop(p);
    submit_free(p->submit);
    sign_free(p->sign);
    batch_free(p->batch);
    wal_free(p->wal);
    wal_js_free(p->js);
    for (unsigned i = 0; p->reply && i < p->n_ingest; i++)
        nf_ring_destroy(&p->reply[i]);
    for (unsigned i = 0; p->sign_in && i < p->n_sign; i++)
        nf_ring_destroy(&p->sign_in[i]);
    struct nf_ring *rings[] = {&p->batch_in,          &p->batch_requeue, &p->batch_free,
                               &p->batch_lookup_done, &p->submit_in,     &p->submit_lookup};
    for (size_t i = 0; i < sizeof(rings) / sizeof(rings[0]); i++)
        if (rings[i]->slots)
            nf_ring_destroy(rings[i]);
    free(p->reply);
    free(p->reply_pending);
    free(p->sign_in);
    idem_destroy(&p->idem);
    spend_free(p->spend);
    spend_free(p->spend_day);
    nf_mem_unmap(p->arena, ARENA_BYTES);
    job_slab_destroy(&p->jobs);
    keypool_destroy(&p->keys);
    free(p);
}

struct spend *pipe_spend(struct nf_pipe *p)
{
    return p->spend;
}

struct spend *pipe_spend_day(struct nf_pipe *p)
{
    return p->spend_day;
}
