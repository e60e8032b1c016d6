/* status: what the hub tells operators: /health, the Prometheus /metrics text (every family with
 * HELP and TYPE, base units; docs/METRICS.md lists them), /debug/stages and the transfers of a
 * transaction (GET /v1/tx/{hash}). Any thread: it reads counters, the
 * shared stage state and each stage's published figures with relaxed loads, and writes only into
 * the caller's buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "batch.h"
#include "breaker.h"
#include "cfg.h"
#include "jw.h"
#include "nf_err.h"
#include "nf_time.h"
#include "pipeline_int.h"
#include "procstat.h"
#include "rpc.h"
#include "sign.h"
#include "submit.h"
#include "wal_js.h"
#include "wal_rec.h"

int pipe_tx_jobs(struct nf_pipe *p, const uint8_t tx_hash[32], uint64_t *ids, int cap)
{
    /* A scan of the slab: this serves a status endpoint, not the request path. */
    int n = 0;
    uint64_t first, span = job_slab_span(&p->jobs, &first);
    for (uint64_t i = 0; i < span && n < cap; i++) {
        struct job *j = job_slot(&p->jobs, first + i);
        uint64_t id = atomic_load_explicit(&j->id, memory_order_acquire);
        enum job_status st = job_get_status(j);
        if (id == 0 || st < JOB_SIGNED || st == JOB_CLAIMED)
            continue;
        if (job_tx_hash_is(j, tx_hash) && atomic_load_explicit(&j->id, memory_order_acquire) == id)
            ids[n++] = id;
    }
    return n;
}

/* ---- figures: /health, /metrics, /debug/stages (any thread; relaxed reads) ------------------- */

static const char *stage_names[STAGE_COUNT] = {"wal", "batch", "sign", "submit"};

int pipe_health_json(struct nf_pipe *p, char *out, size_t cap, int *healthy)
{
    struct jw w;
    jw_init_fixed(&w, out, cap);
    uint8_t bh[32];
    uint64_t height;
    block_ref_read(&p->shared.block, bh, &height);
    uint64_t now = nf_now_ms();
    uint64_t block_age =
        height ? now - atomic_load_explicit(&p->shared.block.updated_ms, memory_order_relaxed) : 0;
    unsigned usable = 0;
    for (uint16_t i = 0; i < p->keys.n; i++)
        usable += keypool_usable(&p->keys.keys[i]);
    int reconciled = atomic_load_explicit(&p->shared.reconciled, memory_order_acquire);
    int funds = !atomic_load_explicit(&p->shared.out_of_funds, memory_order_relaxed);
    int tokens = !atomic_load_explicit(&p->shared.out_of_tokens, memory_order_relaxed);
    int state = !atomic_load_explicit(&p->shared.out_of_state, memory_order_relaxed);
    int rpc = !atomic_load_explicit(&p->shared.rpc_down, memory_order_relaxed);
    int log_ok = p->wal == NULL || wal_failed(p->wal) == 0;
    int denied = p->js != NULL && wal_js_publish_denied(p->js);
    int ok = reconciled && funds && tokens && state && rpc && log_ok && !denied && height > 0 &&
             usable > 0;
    *healthy = ok;
    jw_obj_begin(&w);
    jw_key(&w, "status");
    jw_str(&w, ok ? "ok" : "degraded");
    jw_key(&w, "reasons");
    jw_arr_begin(&w);
    if (!reconciled)
        jw_str(&w, "reconciling transactions from before the restart");
    if (!funds)
        jw_str(&w, "signer account cannot pay for gas (NotEnoughBalance): signing paused");
    if (!tokens)
        jw_str(&w, "signer's token balance is below a waiting transfer: signing paused until it "
                   "is topped up");
    if (!state)
        jw_str(&w, "the token contract lacks NEAR to stake for its state (LackBalanceForState): "
                   "signing paused until it is funded");
    if (!rpc)
        jw_str(&w, "every RPC endpoint's circuit breaker is open: signing paused");
    if (!log_ok && p->js != NULL)
        jw_str(&w, "another nearftd writes the cluster log stream (this one is fenced): new "
                   "transfers are refused and nearftd stops (exit status 3) to start again as a "
                   "standby");
    else if (!log_ok)
        jw_str(&w, "an fdatasync of the durable log failed: new transfers are refused until "
                   "nearftd is restarted");
    if (denied)
        jw_str(&w, "NATS denies this instance's user publishing to the cluster log's subject: new "
                   "transfers are refused (503) until the user may publish there");
    if (height == 0)
        jw_str(&w, "no final block hash fetched yet");
    if (usable == 0)
        jw_str(&w, "no usable access key");
    jw_arr_end(&w);
    jw_key(&w, "queue");
    jw_obj_begin(&w);
    jw_key(&w, "unsigned");
    jw_u64(&w, atomic_load_explicit(&p->shared.unsigned_jobs, memory_order_relaxed));
    jw_key(&w, "capacity");
    jw_u64(&w, p->cfg->queue_capacity);
    jw_key(&w, "batch_in");
    jw_u64(&w, nf_ring_count(&p->batch_in));
    jw_key(&w, "submit_in");
    jw_u64(&w, nf_ring_count(&p->submit_in));
    jw_obj_end(&w);
    jw_key(&w, "chain");
    jw_obj_begin(&w);
    jw_key(&w, "final_height");
    jw_u64(&w, height);
    jw_key(&w, "block_hash_age_ms");
    jw_u64(&w, block_age);
    jw_obj_end(&w);
    jw_key(&w, "rpc");
    jw_arr_begin(&w);
    for (unsigned i = 0; p->submit && i < submit_endpoint_count(p->submit); i++) {
        struct submit_endpoint_info e;
        submit_endpoint_info(p->submit, i, &e);
        jw_obj_begin(&w);
        jw_key(&w, "url");
        jw_str(&w, e.url);
        jw_key(&w, "breaker");
        jw_str(&w, breaker_state_name(e.state));
        jw_key(&w, "inflight");
        jw_u64(&w, e.inflight);
        jw_key(&w, "limit");
        jw_u64(&w, e.limit);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "keys");
    jw_obj_begin(&w);
    jw_key(&w, "usable");
    jw_u64(&w, usable);
    jw_key(&w, "quarantined");
    jw_arr_begin(&w);
    for (uint16_t i = 0; i < p->keys.n; i++) {
        struct pool_key *k = &p->keys.keys[i];
        if (keypool_usable(k))
            continue;
        jw_obj_begin(&w);
        jw_key(&w, "public_key");
        jw_str(&w, k->public_str);
        jw_key(&w, "reason");
        jw_str(&w, k->quarantine_reason);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    jw_obj_end(&w);
    size_t len;
    int rc = jw_finish(&w, &len);
    return rc ? rc : (int)len;
}

/* A bounded text appender for the Prometheus exposition. */
struct tb {
    char *buf;
    size_t len, cap;
    int full;
};

static void tb_printf(struct tb *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(struct tb *t, const char *fmt, ...)
{
    if (t->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len) {
        t->full = 1;
        return;
    }
    t->len += (size_t)n;
}

/* Opens a metric family: its # HELP and # TYPE lines. Every family of /metrics starts here. */
static void fam(struct tb *t, const char *name, const char *type, const char *help)
{
    tb_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One unlabelled sample. */
static void one(struct tb *t, const char *name, const char *type, const char *help, uint64_t v)
{
    fam(t, name, type, help);
    tb_printf(t, "%s %llu\n", name, (unsigned long long)v);
}

/* The _bucket/_sum/_count series of one histogram (labels: "" or `k="v"`). b[nb-1] is the
 * unbounded bucket; le[i] bounds b[i] for i < nb-1, in the metric's base unit. */
static void hist_text(struct tb *t,
                      const char *name,
                      const char *labels,
                      const uint64_t *b,
                      const double *le,
                      int nb,
                      double sum)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t cum = 0;
    for (int i = 0; i < nb - 1; i++) {
        cum += b[i];
        tb_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, le[i],
                  (unsigned long long)cum);
    }
    cum += b[nb - 1];
    tb_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
    tb_printf(t, "%s_sum%s%s%s %.6f\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
              sum);
    tb_printf(t, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
              (unsigned long long)cum);
}

/* The standard process_* families and the free space of the log's file system. A failed read
 * leaves its families out rather than reporting a made-up value. */
static void process_text(struct nf_pipe *p, struct tb *t)
{
    struct procstat ps;
    if (procstat_sample(&ps) == 0) {
        fam(t, "process_cpu_seconds_total", "counter",
            "Total user and system CPU time spent in seconds.");
        tb_printf(t, "process_cpu_seconds_total %.2f\n", ps.cpu_seconds);
        one(t, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
            ps.resident_bytes);
        one(t, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
            ps.virtual_bytes);
        one(t, "process_open_fds", "gauge", "Number of open file descriptors.", ps.open_fds);
        one(t, "process_max_fds", "gauge", "Maximum number of open file descriptors.", ps.max_fds);
        fam(t, "process_start_time_seconds", "gauge",
            "Start time of the process since unix epoch in seconds.");
        tb_printf(t, "process_start_time_seconds %.2f\n", ps.start_time_seconds);
    }
    struct statvfs fs;
    if (statvfs(p->cfg->data_dir, &fs) == 0) {
        one(t, "nearft_wal_filesystem_free_bytes", "gauge",
            "Bytes an unprivileged writer may still use on the file system of --data-dir (the "
            "durable log).",
            (uint64_t)fs.f_bavail * (uint64_t)fs.f_frsize);
        one(t, "nearft_wal_filesystem_size_bytes", "gauge",
            "Size in bytes of the file system of --data-dir.",
            (uint64_t)fs.f_blocks * (uint64_t)fs.f_frsize);
    }
}

/* The transfers: by status, their durations, refusals and the idempotency index. */
static void metrics_transfers(struct tb *t, struct nf_pipe *p)
{
    fam(t, "nearft_transfers_total", "counter",
        "Transfers by what happened to them: accepted (durable), executed and failed (final), "
        "duplicate (a repeated idempotency key), requeued (sent again in a new transaction).");
    tb_printf(t, "nearft_transfers_total{status=\"accepted\"} %llu\n",
              (unsigned long long)atomic_load(&p->accepted));
    tb_printf(t, "nearft_transfers_total{status=\"executed\"} %llu\n",
              (unsigned long long)atomic_load(&p->executed));
    tb_printf(t, "nearft_transfers_total{status=\"failed\"} %llu\n",
              (unsigned long long)atomic_load(&p->failed));
    tb_printf(t, "nearft_transfers_total{status=\"duplicate\"} %llu\n",
              (unsigned long long)atomic_load(&p->duplicates));
    tb_printf(t, "nearft_transfers_total{status=\"requeued\"} %llu\n",
              (unsigned long long)atomic_load(&p->requeued));
    fam(t, "nearft_transfer_duration_seconds", "histogram",
        "Time from acceptance to a final status (executed or failed), by that status.");
    double tle[PIPE_TRANSFER_BUCKETS - 1];
    for (int i = 0; i < PIPE_TRANSFER_BUCKETS - 1; i++)
        tle[i] = (double)pipe_transfer_le_ms[i] / 1000.0;
    for (int f = 0; f < 2; f++) {
        uint64_t h[PIPE_TRANSFER_BUCKETS];
        for (int i = 0; i < PIPE_TRANSFER_BUCKETS; i++)
            h[i] = atomic_load_explicit(&p->transfer_hist[f][i], memory_order_relaxed);
        hist_text(
            t, "nearft_transfer_duration_seconds",
            f == 0 ? "status=\"executed\"" : "status=\"failed\"", h, tle, PIPE_TRANSFER_BUCKETS,
            (double)atomic_load_explicit(&p->transfer_sum_ms[f], memory_order_relaxed) / 1000.0);
    }
    one(t, "nearft_accept_rejected_total", "counter",
        "Transfers refused (503) because --queue-capacity transfers were waiting to be signed.",
        atomic_load(&p->accept_full));
    tb_printf(t,
              "# HELP nearft_idempotency_keys Idempotency keys the index answers for.\n"
              "# TYPE nearft_idempotency_keys gauge\nnearft_idempotency_keys %llu\n"
              "# HELP nearft_idempotency_keys_capacity Entries of the idempotency index "
              "(--idempotency-keys).\n"
              "# TYPE nearft_idempotency_keys_capacity gauge\n"
              "nearft_idempotency_keys_capacity %u\n"
              "# HELP nearft_idempotency_refused_total Requests refused (503) because every "
              "idempotency entry was still to be kept.\n"
              "# TYPE nearft_idempotency_refused_total counter\n"
              "nearft_idempotency_refused_total %llu\n"
              "# HELP nearft_idempotency_expired_total Idempotency keys dropped to make room, "
              "once older than --retention-hours and final.\n"
              "# TYPE nearft_idempotency_expired_total counter\n"
              "nearft_idempotency_expired_total %llu\n",
              (unsigned long long)atomic_load_explicit(&p->idem.keys, memory_order_relaxed),
              p->idem.capacity,
              (unsigned long long)atomic_load_explicit(&p->idem.refused, memory_order_relaxed),
              (unsigned long long)atomic_load_explicit(&p->idem.expired, memory_order_relaxed));
}

/* What waits in each stage, and the batches flushed. */
static void metrics_queues(struct tb *t,
                           struct nf_pipe *p,
                           const struct batch_stats *bs,
                           const struct sign_stats *ss,
                           const struct submit_stats *us)
{
    fam(t, "nearft_queue_depth", "gauge",
        "Items waiting, by stage: unsigned (accepted transfers not yet in a durable signed "
        "transaction; bounded by nearft_queue_capacity), batch_in, batch_waiting_receiver, "
        "sign_held, submit_inflight (transactions).");
    tb_printf(t, "nearft_queue_depth{stage=\"unsigned\"} %llu\n",
              (unsigned long long)atomic_load(&p->shared.unsigned_jobs));
    tb_printf(t, "nearft_queue_depth{stage=\"batch_in\"} %u\n", nf_ring_count(&p->batch_in));
    tb_printf(t, "nearft_queue_depth{stage=\"batch_waiting_receiver\"} %llu\n",
              (unsigned long long)bs->waiting_jobs);
    tb_printf(t, "nearft_queue_depth{stage=\"sign_held\"} %llu\n", (unsigned long long)ss->held);
    tb_printf(t, "nearft_queue_depth{stage=\"submit_inflight\"} %llu\n",
              (unsigned long long)us->inflight_batches);
    one(t, "nearft_queue_capacity", "gauge",
        "Accepted transfers that may wait to be signed (--queue-capacity); more are refused.",
        p->cfg->queue_capacity);
    fam(t, "nearft_batch_size", "histogram",
        "Actions (transfers and storage deposits) per transaction the batch stage flushed.");
    static const double edges[6] = {1, 9, 24, 49, 74, 99};
    hist_text(t, "nearft_batch_size", "", bs->size_hist, edges, 7, (double)bs->actions_flushed);
    one(t, "nearft_storage_deposits_total", "counter",
        "storage_deposit actions added for receivers not registered with the token.",
        bs->deposits_added);
}

/* The submit stage: RPC latency, transactions, dead proofs and answers. */
static void metrics_submit(struct tb *t, const struct submit_stats *us)
{
    fam(t, "nearft_submit_latency_seconds", "histogram",
        "Time from sending an RPC request to its answer (every method), all endpoints.");
    static const double lat_le[15] = {0.002, 0.004, 0.008, 0.016, 0.032, 0.064,  0.128, 0.256,
                                      0.512, 1.024, 2.048, 4.096, 8.192, 16.384, 32.768};
    hist_text(t, "nearft_submit_latency_seconds", "", us->lat_hist, lat_le, 16,
              (double)us->lat_sum_ms / 1000.0);
    fam(t, "nearft_transactions_total", "counter",
        "Signed transactions by event: sent (first broadcast), rebroadcast, success, "
        "action_error (a receipt failed), dead (proven never to land).");
    tb_printf(t, "nearft_transactions_total{result=\"sent\"} %llu\n", (unsigned long long)us->sent);
    tb_printf(t, "nearft_transactions_total{result=\"rebroadcast\"} %llu\n",
              (unsigned long long)us->resent);
    tb_printf(t, "nearft_transactions_total{result=\"success\"} %llu\n",
              (unsigned long long)us->succeeded);
    tb_printf(t, "nearft_transactions_total{result=\"action_error\"} %llu\n",
              (unsigned long long)us->action_errors);
    tb_printf(t, "nearft_transactions_total{result=\"dead\"} %llu\n", (unsigned long long)us->dead);
    fam(t, "nearft_dead_proofs_total", "counter",
        "Dead proofs after InvalidNonce or an expiry following an unknown outcome, by verdict: "
        "dead (nonce used or window over at one endpoint's final height, and that endpoint does "
        "not know the hash), not_proven and failed (the same bytes are sent again), known "
        "(followed).");
    for (int i = 0; i < SUBMIT_PROOF_RESULTS; i++)
        tb_printf(t, "nearft_dead_proofs_total{result=\"%s\"} %llu\n", submit_proof_result_name(i),
                  (unsigned long long)us->dead_proofs[i]);
    one(t, "nearft_outcome_rewrites_total", "counter",
        "Outcome records written again after a failed log write.", us->outcome_rewrites);
    fam(t, "nearft_rpc_answers_total", "counter",
        "RPC answers by the kind the reader made of them.");
    for (int k = 0; k < RPC_KIND_COUNT && k < SUBMIT_KINDS; k++)
        if (us->kind_count[k])
            tb_printf(t, "nearft_rpc_answers_total{kind=\"%s\"} %llu\n", rpc_kind_name(k),
                      (unsigned long long)us->kind_count[k]);
}

/* The RPC endpoints: one pass per family, so that each family's samples are contiguous. */
static void metrics_endpoints(struct tb *t, struct nf_pipe *p)
{
    static const struct {
        const char *name, *type, *help;
    } ep_fams[] = {
        {"nearft_breaker_state", "gauge",
         "1 for the circuit breaker state an RPC endpoint is in (closed, open, half_open), else "
         "0."},
        {"nearft_breaker_transitions_total", "counter",
         "Circuit breaker transitions of an RPC endpoint, by the state entered."},
        {"nearft_rpc_requests_total", "counter", "RPC requests sent to an endpoint."},
        {"nearft_rpc_errors_total", "counter",
         "RPC requests to an endpoint that failed (transport error or an answer counted against "
         "its breaker)."},
        {"nearft_rpc_rate_limited_total", "counter",
         "Answers of an endpoint that it is rate "
         "limiting (HTTP 429 or its JSON-RPC error)."},
        {"nearft_rpc_inflight_limit", "gauge",
         "Requests nearftd lets be in flight to an endpoint (AIMD: halved on rate limiting)."},
    };
    unsigned n_eps = p->submit ? submit_endpoint_count(p->submit) : 0;
    for (size_t f = 0; f < sizeof(ep_fams) / sizeof(ep_fams[0]); f++) {
        fam(t, ep_fams[f].name, ep_fams[f].type, ep_fams[f].help);
        for (unsigned i = 0; i < n_eps; i++) {
            struct submit_endpoint_info e;
            submit_endpoint_info(p->submit, i, &e);
            switch (f) {
            case 0:
                tb_printf(t, "nearft_breaker_state{url=\"%s\",state=\"closed\"} %d\n", e.url,
                          e.state == BREAKER_CLOSED);
                tb_printf(t, "nearft_breaker_state{url=\"%s\",state=\"open\"} %d\n", e.url,
                          e.state == BREAKER_OPEN);
                tb_printf(t, "nearft_breaker_state{url=\"%s\",state=\"half_open\"} %d\n", e.url,
                          e.state == BREAKER_HALF_OPEN);
                break;
            case 1:
                tb_printf(t, "nearft_breaker_transitions_total{url=\"%s\",to=\"open\"} %llu\n",
                          e.url, (unsigned long long)e.opens);
                tb_printf(t, "nearft_breaker_transitions_total{url=\"%s\",to=\"closed\"} %llu\n",
                          e.url, (unsigned long long)e.closes);
                break;
            case 2:
                tb_printf(t, "nearft_rpc_requests_total{url=\"%s\"} %llu\n", e.url,
                          (unsigned long long)e.requests);
                break;
            case 3:
                tb_printf(t, "nearft_rpc_errors_total{url=\"%s\"} %llu\n", e.url,
                          (unsigned long long)e.errors);
                break;
            case 4:
                tb_printf(t, "nearft_rpc_rate_limited_total{url=\"%s\"} %llu\n", e.url,
                          (unsigned long long)e.rate_limited);
                break;
            default:
                tb_printf(t, "nearft_rpc_inflight_limit{url=\"%s\"} %u\n", e.url, e.limit);
                break;
            }
        }
    }
}

/* The access keys of the signing pool. */
static void metrics_keys(struct tb *t, struct nf_pipe *p)
{
    fam(t, "nearft_key_inflight", "gauge", "Transactions in flight signed by an access key.");
    uint64_t resyncs = 0;
    unsigned quarantined = 0;
    for (uint16_t i = 0; i < p->keys.n; i++) {
        struct pool_key *k = &p->keys.keys[i];
        resyncs += atomic_load_explicit(&k->nonce_resyncs, memory_order_relaxed);
        quarantined += !keypool_usable(k);
        tb_printf(t, "nearft_key_inflight{key=\"%s\"} %u\n", k->public_str,
                  atomic_load_explicit(&k->inflight, memory_order_relaxed));
    }
    fam(t, "nearft_key_quarantined", "gauge",
        "1 when an access key is out of use (deleted, not full access, or refused), else 0; "
        "/health names the reason.");
    for (uint16_t i = 0; i < p->keys.n; i++) {
        struct pool_key *k = &p->keys.keys[i];
        tb_printf(t, "nearft_key_quarantined{key=\"%s\"} %d\n", k->public_str, !keypool_usable(k));
    }
    one(t, "nearft_keys", "gauge", "Access keys in the signing pool.", p->keys.n);
    one(t, "nearft_keys_quarantined", "gauge", "Access keys of the pool out of use.", quarantined);
    one(t, "nearft_nonce_resyncs_total", "counter",
        "Nonces of access keys fetched again from the chain after an InvalidNonce.", resyncs);
}

/* The durable log, the stage threads, the build and the signing switch. */
static void metrics_log_stages(struct tb *t, struct nf_pipe *p, const struct wal_stats *ws)
{
    one(t, "nearft_wal_syncs_total", "counter", "fdatasync calls of the durable log.", ws->syncs);
    one(t, "nearft_wal_segments_deleted_total", "counter", "Log segments removed by compaction.",
        atomic_load(&p->segments_deleted));
    one(t, "nearft_wal_bytes_total", "counter", "Bytes written to the durable log.", ws->bytes);
    one(t, "nearft_wal_batches_total", "counter",
        "Record batches (one caller's records) written to the durable log.", ws->batches);
    one(t, "nearft_wal_failed", "gauge",
        "1 after a write or fdatasync of the durable log failed: new transfers are refused until "
        "nearftd is restarted.",
        p->wal != NULL && wal_failed(p->wal) != 0);
    fam(t, "nearft_stage_items_total", "counter",
        "Jobs or batches each pipeline stage thread handled.");
    for (int i = 0; i < STAGE_COUNT; i++)
        tb_printf(t, "nearft_stage_items_total{stage=\"%s\"} %llu\n", stage_names[i],
                  (unsigned long long)atomic_load(&p->ctr[i].items));
    fam(t, "nearft_stage_busy_seconds_total", "counter",
        "Time each pipeline stage thread spent handling items, in seconds.");
    for (int i = 0; i < STAGE_COUNT; i++)
        tb_printf(t, "nearft_stage_busy_seconds_total{stage=\"%s\"} %.6f\n", stage_names[i],
                  (double)atomic_load(&p->ctr[i].busy_ns) / 1e9);
    fam(t, "nearft_build_info", "gauge",
        "Always 1; the version of the running nearftd as a label.");
    tb_printf(t, "nearft_build_info{version=\"%s\"} 1\n", NF_VERSION);
    if (p->js != NULL) { /* cluster mode; a standby's relay serves the same family as 1 */
        fam(t, "nearft_cluster_standby", "gauge",
            "0 on the cluster instance that holds the log's lease (1 on a standby's relay).");
        tb_printf(t, "nearft_cluster_standby 0\n");
    }
    fam(t, "nearft_signing_paused", "gauge",
        "1 while signing is paused (out of gas funds or tokens, the contract short of NEAR for its "
        "state, every RPC breaker open, reconciling after a restart), else 0.");
    tb_printf(t, "nearft_signing_paused %d\n", !stage_signing_allowed(&p->shared));
}

/* The stages' counters, read once for one /metrics or /stages answer. */
struct stage_snap {
    struct batch_stats bs;
    struct sign_stats ss;
    struct submit_stats us;
    struct wal_stats ws;
};

static void stage_snap(struct nf_pipe *p, struct stage_snap *s)
{
    batch_stats(p->batch, &s->bs);
    sign_stats(p->sign, &s->ss);
    submit_stats(p->submit, &s->us);
    wal_stats_get(p->wal, &s->ws);
}

int pipe_metrics_text(struct nf_pipe *p, char *out, size_t cap)
{
    struct tb t = {.buf = out, .cap = cap};
    struct stage_snap sn;
    stage_snap(p, &sn);
    metrics_transfers(&t, p);
    metrics_queues(&t, p, &sn.bs, &sn.ss, &sn.us);
    metrics_submit(&t, &sn.us);
    metrics_endpoints(&t, p);
    metrics_keys(&t, p);
    metrics_log_stages(&t, p, &sn.ws);
    process_text(p, &t);
    if (t.full)
        return NF_ENOSPC;
    return (int)t.len;
}

int pipe_stages_json(struct nf_pipe *p, char *out, size_t cap)
{
    struct jw w;
    jw_init_fixed(&w, out, cap);
    struct stage_snap sn;
    stage_snap(p, &sn);
    double up_s = (double)(nf_now_ms() - p->start_ms) / 1000.0;
    jw_obj_begin(&w);
    jw_key(&w, "uptime_s");
    jw_double(&w, up_s);
    jw_key(&w, "stages");
    jw_obj_begin(&w);
    for (int i = 0; i < STAGE_COUNT; i++) {
        struct stage_counters *c = &p->ctr[i];
        uint64_t items = atomic_load(&c->items), busy = atomic_load(&c->busy_ns);
        jw_key(&w, stage_names[i]);
        jw_obj_begin(&w);
        jw_key(&w, "items");
        jw_u64(&w, items);
        jw_key(&w, "items_per_s");
        jw_double(&w, up_s > 0 ? (double)items / up_s : 0);
        jw_key(&w, "busy_fraction");
        jw_double(&w, up_s > 0 ? (double)busy / 1e9 / up_s : 0);
        jw_key(&w, "us_per_item_hist_log2");
        jw_arr_begin(&w);
        for (int b = 0; b < 16; b++)
            jw_u64(&w, atomic_load(&c->hist[b]));
        jw_arr_end(&w);
        jw_key(&w, "wakeups");
        jw_u64(&w, atomic_load(&c->wakeups));
        jw_obj_end(&w);
    }
    jw_obj_end(&w);
    jw_key(&w, "rings");
    jw_obj_begin(&w);
    jw_key(&w, "batch_in");
    jw_u64(&w, nf_ring_count(&p->batch_in));
    jw_key(&w, "batch_requeue");
    jw_u64(&w, nf_ring_count(&p->batch_requeue));
    jw_key(&w, "submit_in");
    jw_u64(&w, nf_ring_count(&p->submit_in));
    for (unsigned i = 0; i < p->n_sign; i++) {
        char k[32];
        snprintf(k, sizeof(k), "sign_in_%u", i);
        jw_key(&w, k);
        jw_u64(&w, nf_ring_count(&p->sign_in[i]));
    }
    jw_obj_end(&w);
    jw_key(&w, "batch");
    jw_obj_begin(&w);
    jw_key(&w, "batches");
    jw_u64(&w, sn.bs.batches_flushed);
    jw_key(&w, "mean_actions");
    jw_double(&w, sn.bs.batches_flushed
                      ? (double)sn.bs.actions_flushed / (double)sn.bs.batches_flushed
                      : 0);
    jw_key(&w, "size_hist");
    jw_arr_begin(&w);
    for (int i = 0; i < 7; i++)
        jw_u64(&w, sn.bs.size_hist[i]);
    jw_arr_end(&w);
    jw_key(&w, "waiting_for_receiver");
    jw_u64(&w, sn.bs.waiting_jobs);
    jw_key(&w, "free_batches");
    jw_u64(&w, sn.bs.free_batches);
    jw_obj_end(&w);
    jw_key(&w, "sign");
    jw_obj_begin(&w);
    jw_key(&w, "held");
    jw_u64(&w, sn.ss.held);
    jw_key(&w, "inflight_per_key");
    jw_arr_begin(&w);
    for (uint16_t i = 0; i < p->keys.n; i++)
        jw_u64(&w, atomic_load(&p->keys.keys[i].inflight));
    jw_arr_end(&w);
    jw_obj_end(&w);
    jw_key(&w, "submit");
    jw_obj_begin(&w);
    jw_key(&w, "inflight_txs");
    jw_u64(&w, sn.us.inflight_batches);
    jw_key(&w, "sent");
    jw_u64(&w, sn.us.sent);
    jw_key(&w, "rebroadcast");
    jw_u64(&w, sn.us.resent);
    jw_key(&w, "rpc_latency_ms_hist_log2");
    jw_arr_begin(&w);
    for (int b = 0; b < 16; b++)
        jw_u64(&w, sn.us.lat_hist[b]);
    jw_arr_end(&w);
    jw_obj_end(&w);
    jw_key(&w, "wal");
    jw_obj_begin(&w);
    jw_key(&w, "groups");
    jw_u64(&w, sn.ws.groups);
    jw_key(&w, "syncs");
    jw_u64(&w, sn.ws.syncs);
    jw_key(&w, "batches_per_group");
    jw_double(&w, sn.ws.groups ? (double)sn.ws.batches / (double)sn.ws.groups : 0);
    jw_obj_end(&w);
    jw_obj_end(&w);
    size_t len;
    int rc = jw_finish(&w, &len);
    return rc ? rc : (int)len;
}
