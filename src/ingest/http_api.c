/* http_api: the ingest stage's HTTP routes, run by each ingest thread on its own requests. POST
 * routes (native /v1/transfers, the Node /send-ft and the Rust /transfer drop-ins) parse the body
 * with req_json into the thread's scratch, fill jobs from the pipeline's slab, lend them to the
 * pipeline and answer when PIPE_MSG_ACCEPTED (durable) or the awaited PIPE_MSG_JOB messages come
 * back through the thread's reply ring, or when the context's wait timer fires. GET routes read
 * published job fields (status with acquire, id re-checked after the copy) and the pipeline's
 * health/metrics/stages text. Replies are written with jw into the thread's fixed buffer. Owns
 * nothing beyond what ingest.c lends it; never blocks and never allocates. Sits above the
 * transport: it defines ingest_new, which hands ingest.c these routes (struct ingest_routes). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "base58.h"
#include "cfg.h"
#include "http_parse.h"
#include "idem.h"
#include "ingest_int.h"
#include "jw.h"
#include "nf_err.h"
#include "ratelim.h"
#include "spend.h"
#include "txid.h"

/* A consistent copy of a job's published fields. */
struct job_view {
    uint64_t id;
    uint64_t tag; /* id tag (txid.h) */
    enum job_status st;
    uint8_t has_memo;
    uint8_t has_tx;
    uint8_t final_seen;
    uint16_t attempts;
    size_t receiver_len;
    size_t memo_len;
    char receiver[JOB_RECEIVER_MAX + 1];
    char memo[JOB_MEMO_MAX + 1];
    char error[JOB_ERROR_MAX];
    nf_u128 amount;
    uint8_t tx_hash[32];
    uint64_t accepted_ms, signed_ms, submitted_ms, done_ms;
};

/* ---- small helpers --------------------------------------------------------------------------- */

static int tx_hash_set(const uint8_t h[32])
{
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= h[i];
    return acc != 0;
}

/* job_view_read: copies job id's published fields. allow_claimed: also a job that is not durable
 * yet (the caller's own). 0 or NF_ENOTFOUND (free, reused slot, or not visible yet). */
static int job_view_read(struct job_slab *s, uint64_t id, int allow_claimed, struct job_view *v)
{
    if (id == 0)
        return NF_ENOTFOUND;
    const struct job *j = job_slot(s, id);
    if (atomic_load_explicit(&j->id, memory_order_acquire) != id)
        return NF_ENOTFOUND;
    enum job_status st = job_get_status(j); /* acquire: pairs with the owner's job_set_status */
    if (st == JOB_FREE || (st == JOB_CLAIMED && !allow_claimed))
        return NF_ENOTFOUND;
    v->id = id;
    v->tag = j->id_tag;
    v->st = st;
    v->has_memo = j->has_memo;
    v->final_seen = j->final_seen;
    v->attempts = j->attempts;
    v->receiver_len = j->receiver_len <= JOB_RECEIVER_MAX ? j->receiver_len : JOB_RECEIVER_MAX;
    memcpy(v->receiver, j->receiver, v->receiver_len);
    v->receiver[v->receiver_len] = '\0';
    v->memo_len = j->memo_len <= JOB_MEMO_MAX ? j->memo_len : JOB_MEMO_MAX;
    memcpy(v->memo, j->memo, v->memo_len);
    v->memo[v->memo_len] = '\0';
    v->amount = j->amount;
    v->accepted_ms = j->accepted_ms;
    v->signed_ms = j->signed_ms;
    v->submitted_ms = j->submitted_ms;
    v->done_ms = j->done_ms;
    job_tx_hash_get(j, v->tx_hash);
    v->has_tx = (st >= JOB_SIGNED && st <= JOB_FAILED) && tx_hash_set(v->tx_hash);
    v->error[0] = '\0';
    if (st == JOB_FAILED) {
        memcpy(v->error, j->error, sizeof(v->error));
        v->error[sizeof(v->error) - 1] = '\0';
    }
    /* Seqlock check: the slot was not handed to another transfer while we copied. */
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&j->id, memory_order_relaxed) != id)
        return NF_ENOTFOUND;
    return 0;
}

/* view_by_public_id: job_view_read of a durable transfer named by a public id (txid.h), whose tag
 * must be the transfer's own: a wrong or missing tag is NF_ENOTFOUND, as an unknown id is. */
static int view_by_public_id(struct job_slab *s, uint64_t id, uint64_t tag, struct job_view *v)
{
    if (job_view_read(s, id, 0, v) != 0 || !txid_same(v->tag, tag))
        return NF_ENOTFOUND;
    return 0;
}

/* The current status of job id, or -1 when the slot no longer holds it. */
static int job_status_of(struct job_slab *s, uint64_t id)
{
    const struct job *j = job_slot(s, id);
    if (atomic_load_explicit(&j->id, memory_order_acquire) != id)
        return -1;
    enum job_status st = job_get_status(j);
    if (atomic_load_explicit(&j->id, memory_order_relaxed) != id)
        return -1;
    return (int)st;
}

static const char *native_status(int st)
{
    if (st < 0)
        return "unknown";
    if (st == JOB_CLAIMED)
        return "pending";
    return job_status_name((enum job_status)st);
}

/* kept_status: for a repeat whose original's slot holds another transfer now, the final status
 * the idempotency index kept (JOB_EXECUTED or JOB_FAILED), or -1 when it kept none. */
static int kept_status(const struct job *repeat)
{
    switch (repeat->dup_status) {
    case IDEM_EXECUTED:
        return JOB_EXECUTED;
    case IDEM_FAILED:
    case IDEM_FAILED_RECEIVER:
        return JOB_FAILED;
    default:
        return -1;
    }
}

/* The reason of a failure is not kept past the job slab: what a kept FAILED repeat says. */
static const char kept_failure[] =
    "the transfer with this Idempotency-Key failed; its reason is no longer kept";

static const char *node_status(enum job_status st)
{
    switch (st) {
    case JOB_SIGNED:
        return "processing";
    case JOB_SUBMITTED:
        return "submitted";
    case JOB_EXECUTED:
        return "finalized";
    case JOB_FAILED:
        return "failed";
    default:
        return "queued";
    }
}

/* jw_id: the public id of transfer id with tag (txid.h) as a JSON string. */
static void jw_id(struct jw *w, uint64_t id, uint64_t tag)
{
    char b[TXID_MAX];
    size_t n = txid_format(b, id, tag);
    jw_strn(w, b, n);
}

/* own_tag: the tag of a transfer this request was allocated. job_fill drew it as txid_tag under
 * this process's key, so it is recomputed rather than read from a slot that may hold another
 * transfer by the time the answer is written. */
static uint64_t own_tag(const struct ingest_thread *t, uint64_t id)
{
    return txid_tag(t->in->id_key, id);
}

static void jw_time(struct jw *w, uint64_t ms)
{
    if (ms == 0) {
        jw_null(w);
        return;
    }
    char b[40];
    time_t s = (time_t)(ms / 1000u);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(b + n, sizeof(b) - n, ".%03uZ", (unsigned)(ms % 1000u));
    jw_str(w, b);
}

/* The base58 text of the last tx hash written by this thread: the transfers of one bulk answer
 * mostly share a handful of transactions, and base58 costs ~1 us per hash. Owner: the thread. */
static _Thread_local struct {
    uint8_t hash[32];
    char text[B58_MAX_32 + 2]; /* quoted */
    int len;                   /* 0: empty */
} tx_b58;

static void jw_tx(struct jw *w, const struct job_view *v)
{
    if (!v->has_tx) {
        jw_null(w);
        return;
    }
    if (tx_b58.len == 0 || memcmp(tx_b58.hash, v->tx_hash, 32) != 0) {
        int n = b58_encode(v->tx_hash, 32, tx_b58.text + 1, sizeof(tx_b58.text) - 2);
        if (n < 0) {
            tx_b58.len = 0;
            jw_base58(w, v->tx_hash, 32); /* reports the error */
            return;
        }
        memcpy(tx_b58.hash, v->tx_hash, 32);
        tx_b58.text[0] = '"';
        tx_b58.text[n + 1] = '"';
        tx_b58.len = n + 2;
    }
    jw_raw(w, tx_b58.text, (size_t)tx_b58.len);
}

static void jw_memo(struct jw *w, const struct job_view *v)
{
    if (v->has_memo)
        jw_strn(w, v->memo, v->memo_len);
    else
        jw_null(w);
}

static uint64_t body_hash(const struct req_transfer *it)
{
    /* FNV-1a 64 over receiver, NUL, amount (16 bytes LE), has_memo, memo. */
    uint64_t h = 0xcbf29ce484222325ull;
#define FNV(byte)                                                                                  \
    do {                                                                                           \
        h ^= (uint8_t)(byte);                                                                      \
        h *= 0x100000001b3ull;                                                                     \
    } while (0)
    for (size_t i = 0; i < it->receiver_len; i++)
        FNV(it->receiver[i]);
    FNV(0);
    uint8_t le[16];
    u128_to_le(it->amount, le);
    for (int i = 0; i < 16; i++)
        FNV(le[i]);
    FNV(it->has_memo ? 1 : 0);
    if (it->has_memo)
        for (size_t i = 0; i < it->memo_len; i++)
            FNV(it->memo[i]);
#undef FNV
    return h;
}

/* ---- sending --------------------------------------------------------------------------------- */

static const char reply_too_large[] = "{\"error\":\"reply too large\"}";

static void send_jw(struct ingest_thread *t,
                    struct hsrv_req *req,
                    int route,
                    int code,
                    struct jw *w,
                    uint64_t start_ns)
{
    size_t len = 0;
    if (jw_finish(w, &len) != 0)
        ingest_send(t, req->ref, route, 500, NULL, NULL, reply_too_large,
                    sizeof(reply_too_large) - 1, start_ns);
    else
        ingest_send(t, req->ref, route, code, NULL, NULL, w->buf, len, start_ns);
}

static void ctx_send_jw(struct ingest_ctx *c, int code, struct jw *w)
{
    size_t len = 0;
    if (jw_finish(w, &len) != 0)
        ingest_ctx_send(c, 500, reply_too_large, sizeof(reply_too_large) - 1);
    else
        ingest_ctx_send(c, code, w->buf, len);
}

/* Error body in the route's own shape: native {"error","field","reason"}; drop-ins {"error"}. */
static void
write_error(struct jw *w, int route, const char *error, const char *field, const char *reason)
{
    jw_obj_begin(w);
    jw_key(w, "error");
    if (route == INGEST_ROUTE_SEND_FT || route == INGEST_ROUTE_RUST_TRANSFER ||
        route == INGEST_ROUTE_NODE_JOB_GET || route == INGEST_ROUTE_NODE_TX_GET) {
        if (reason != NULL && field != NULL && field[0] != '\0') {
            char b[260];
            snprintf(b, sizeof(b), "%s: %s", field, reason);
            jw_str(w, b);
        } else if (reason != NULL) {
            jw_str(w, reason);
        } else {
            jw_str(w, error);
        }
    } else {
        jw_str(w, error);
        if (field != NULL) {
            jw_key(w, "field");
            jw_str(w, field);
        }
        if (reason != NULL) {
            jw_key(w, "reason");
            jw_str(w, reason);
        }
    }
    jw_obj_end(w);
}

static void send_error(struct ingest_thread *t,
                       struct hsrv_req *req,
                       int route,
                       int code,
                       const char *error,
                       const char *field,
                       const char *reason,
                       uint64_t start_ns)
{
    struct jw w;
    jw_init_fixed(&w, t->out, t->out_cap);
    write_error(&w, route, error, field, reason);
    send_jw(t, req, route, code, &w, start_ns);
}

/* send_error_hdr: send_error with extra header lines ("Name: value\r\n"...). */
static void send_error_hdr(struct ingest_thread *t,
                           struct hsrv_req *req,
                           int route,
                           int code,
                           const char *extra,
                           const char *error,
                           const char *field,
                           const char *reason,
                           uint64_t start_ns)
{
    struct jw w;
    size_t len = 0;
    jw_init_fixed(&w, t->out, t->out_cap);
    write_error(&w, route, error, field, reason);
    if (jw_finish(&w, &len) != 0)
        ingest_send(t, req->ref, route, 500, NULL, NULL, reply_too_large,
                    sizeof(reply_too_large) - 1, start_ns);
    else
        ingest_send(t, req->ref, route, code, NULL, extra, w.buf, len, start_ns);
}

/* write_overloaded: the 503 body; retry_s 0 means the pipeline's current Retry-After. */
static void write_overloaded(
    struct ingest_thread *t, struct jw *w, int route, const char *why, unsigned retry_s)
{
    struct ingest *in = t->in;
    unsigned retry = retry_s != 0 ? retry_s : pipe_retry_after_s(in->pipe);
    jw_obj_begin(w);
    jw_key(w, "error");
    if (route == INGEST_ROUTE_SEND_FT || route == INGEST_ROUTE_RUST_TRANSFER) {
        jw_str(w, "Service overloaded, please retry later");
        if (route == INGEST_ROUTE_SEND_FT) {
            uint64_t pending = 0;
            for (unsigned i = 0; i < in->nthreads; i++)
                if (in->threads[i].stats != NULL)
                    pending += ingest_stat_get(&in->threads[i].stats->ctx_in_use);
            jw_key(w, "details");
            jw_str(w, why);
            jw_key(w, "pendingJobs");
            jw_u64(w, pending);
            jw_key(w, "capacity");
            jw_u64(w, (uint64_t)in->ctx_per_thread * in->nthreads);
            jw_key(w, "retryAfterSeconds");
            jw_u64(w, retry);
        } else {
            jw_key(w, "reason"); /* an extra field: the Rust service's shape has only "error" */
            jw_str(w, why);
        }
    } else {
        jw_str(w, "overloaded");
        jw_key(w, "reason");
        jw_str(w, why);
        jw_key(w, "retry_after_s");
        jw_u64(w, retry);
    }
    jw_obj_end(w);
}

static void send_overloaded(
    struct ingest_thread *t, struct hsrv_req *req, int route, const char *why, uint64_t start_ns)
{
    struct jw w;
    jw_init_fixed(&w, t->out, t->out_cap);
    write_overloaded(t, &w, route, why, 0);
    send_jw(t, req, route, 503, &w, start_ns);
}

/* send_limited: 429 with Retry-After for a rate or spend limit, in the route's shape: native
 * {"error","limit","reason","retry_after_s"}, /send-ft the Node service's {"error","details",
 * "retryAfterMs"}, /transfer {"error"}. limit is the setting's name (rate_limit,
 * max_amount_per_hour). */
static void send_limited(struct ingest_thread *t,
                         struct hsrv_req *req,
                         int route,
                         const char *limit,
                         const char *reason,
                         uint64_t retry_s,
                         uint64_t start_ns)
{
    struct jw w;
    size_t len = 0;
    char hdr[48];
    if (retry_s == 0)
        retry_s = 1;
    snprintf(hdr, sizeof(hdr), "Retry-After: %llu\r\n", (unsigned long long)retry_s);
    jw_init_fixed(&w, t->out, t->out_cap);
    jw_obj_begin(&w);
    jw_key(&w, "error");
    if (route == INGEST_ROUTE_SEND_FT || route == INGEST_ROUTE_NODE_JOB_GET ||
        route == INGEST_ROUTE_NODE_TX_GET) {
        jw_str(&w, "Rate limit exceeded, please retry later");
        jw_key(&w, "details");
        jw_str(&w, reason);
        jw_key(&w, "retryAfterMs");
        jw_u64(&w, retry_s * 1000u);
    } else if (route == INGEST_ROUTE_RUST_TRANSFER) {
        jw_str(&w, reason);
    } else {
        jw_str(&w, "too many requests");
        jw_key(&w, "limit");
        jw_str(&w, limit);
        jw_key(&w, "reason");
        jw_str(&w, reason);
        jw_key(&w, "retry_after_s");
        jw_u64(&w, retry_s);
    }
    jw_obj_end(&w);
    if (jw_finish(&w, &len) != 0)
        ingest_send(t, req->ref, route, 500, NULL, NULL, reply_too_large,
                    sizeof(reply_too_large) - 1, start_ns);
    else
        ingest_send(t, req->ref, route, 429, NULL, hdr, w.buf, len, start_ns);
}

/* ---- job objects ----------------------------------------------------------------------------- */

static void write_native_job(struct jw *w, const struct job_view *v)
{
    jw_obj_begin(w);
    jw_key(w, "id");
    jw_id(w, v->id, v->tag);
    jw_key(w, "status");
    jw_str(w, native_status((int)v->st));
    jw_key(w, "receiver_id");
    jw_strn(w, v->receiver, v->receiver_len);
    jw_key(w, "amount");
    jw_u128_str(w, v->amount);
    jw_key(w, "memo");
    jw_memo(w, v);
    jw_key(w, "tx_hash");
    jw_tx(w, v);
    jw_key(w, "error");
    if (v->st == JOB_FAILED)
        jw_str(w, v->error);
    else
        jw_null(w);
    jw_key(w, "accepted_at");
    jw_time(w, v->accepted_ms);
    jw_key(w, "signed_at");
    jw_time(w, v->signed_ms);
    jw_key(w, "submitted_at");
    jw_time(w, v->submitted_ms);
    jw_key(w, "done_at");
    jw_time(w, v->done_ms);
    jw_key(w, "attempts");
    jw_u64(w, v->attempts);
    jw_obj_end(w);
}

static void write_node_job(struct jw *w, const struct job_view *v)
{
    uint64_t updated = v->accepted_ms;
    if (v->signed_ms > updated)
        updated = v->signed_ms;
    if (v->submitted_ms > updated)
        updated = v->submitted_ms;
    if (v->done_ms > updated)
        updated = v->done_ms;
    jw_obj_begin(w);
    jw_key(w, "id");
    jw_id(w, v->id, v->tag);
    jw_key(w, "createdAt");
    jw_time(w, v->accepted_ms);
    jw_key(w, "updatedAt");
    jw_time(w, updated);
    if (v->submitted_ms != 0) {
        jw_key(w, "submittedAt");
        jw_time(w, v->submitted_ms);
    }
    jw_key(w, "status");
    jw_str(w, node_status(v->st));
    jw_key(w, "receiverId");
    jw_strn(w, v->receiver, v->receiver_len);
    jw_key(w, "amount");
    jw_u128_str(w, v->amount);
    jw_key(w, "memo");
    jw_memo(w, v);
    jw_key(w, "attempts");
    jw_u64(w, v->attempts);
    jw_key(w, "txHash");
    jw_tx(w, v);
    jw_key(w, "batchId");
    jw_tx(w, v);
    jw_key(w, "lastError");
    if (v->st == JOB_FAILED)
        jw_str(w, v->error);
    else
        jw_null(w);
    jw_obj_end(w);
}

/* Node /transfer/tx item and /send-ft result item. */
static void write_node_item(struct jw *w, const struct job_view *v, int for_tx)
{
    jw_obj_begin(w);
    jw_key(w, "jobId");
    jw_id(w, v->id, v->tag);
    jw_key(w, "receiverId");
    jw_strn(w, v->receiver, v->receiver_len);
    jw_key(w, "amount");
    jw_u128_str(w, v->amount);
    jw_key(w, "memo");
    jw_memo(w, v);
    if (!for_tx) {
        jw_key(w, "transactionHash");
        jw_tx(w, v);
    }
    jw_key(w, "status");
    jw_str(w, node_status(v->st));
    jw_key(w, "batchId");
    jw_tx(w, v);
    jw_key(w, "submittedAt");
    jw_time(w, v->submitted_ms);
    if (for_tx) {
        jw_key(w, "attempts");
        jw_u64(w, v->attempts);
        jw_key(w, "lastError");
        if (v->st == JOB_FAILED)
            jw_str(w, v->error);
        else
            jw_null(w);
    }
    jw_obj_end(w);
}

/* ---- answers for requests held in a context -------------------------------------------------- */

static struct job *ctx_job(const struct ingest_ctx *c, uint32_t i)
{
    return job_slot(c->t->in->slab, c->first_id + i);
}

static void ctx_mark(struct ingest_ctx *c, uint32_t i)
{
    uint64_t bit = 1ull << (i % 64u);
    if (c->done_bits[i / 64u] & bit)
        return;
    c->done_bits[i / 64u] |= bit;
    c->done++;
}

static int ctx_marked(const struct ingest_ctx *c, uint32_t i)
{
    return (c->done_bits[i / 64u] >> (i % 64u)) & 1u;
}

static int wait_reached(const struct ingest_ctx *c, const struct job *j, int st)
{
    if (st == JOB_FAILED)
        return 1;
    if (c->wait_final)
        return st == JOB_EXECUTED && j->final_seen;
    if (c->wait_level == JOB_EXECUTED)
        return st == JOB_EXECUTED;
    return st == JOB_SUBMITTED || st == JOB_EXECUTED;
}

/* One native item: {"id","status"} plus tx_hash/error when known; repeats answer the original. */
static void write_native_item(struct ingest_ctx *c, struct jw *w, uint32_t i)
{
    struct job_slab *slab = c->t->in->slab;
    uint64_t id = c->first_id + i;
    const struct job *j = ctx_job(c, i);
    jw_obj_begin(w);
    if (!c->accepted) {
        jw_key(w, "id");
        jw_id(w, id, own_tag(c->t, id));
        jw_key(w, "status");
        jw_str(w, "pending");
        jw_obj_end(w);
        return;
    }
    if (j->dup_conflict) {
        jw_key(w, "id");
        jw_null(w);
        jw_key(w, "status");
        jw_str(w, "rejected");
        jw_key(w, "error");
        jw_str(w, "idempotency key already used with a different body");
        char field[48];
        snprintf(field, sizeof(field), "transfers[%u].idempotency_key", (unsigned)i);
        jw_key(w, "field");
        jw_str(w, field);
        jw_obj_end(w);
        return;
    }
    uint64_t show = j->dup_of ? j->dup_of : id;
    jw_key(w, "id");
    jw_id(w, show, j->dup_of ? j->dup_tag : own_tag(c->t, id));
    if (c->wait_level == 0 && !j->dup_of) {
        /* Hot path (plain 202): the status alone, no copy of the job. */
        jw_key(w, "status");
        jw_str(w, native_status(job_status_of(slab, id)));
    } else {
        struct job_view v;
        if (job_view_read(slab, show, 0, &v) != 0) {
            /* A repeat whose original left the slab: the status the index kept. */
            jw_key(w, "status");
            jw_str(w, native_status(j->dup_of ? kept_status(j) : -1));
        } else {
            jw_key(w, "status");
            jw_str(w, native_status((int)v.st));
            if (v.has_tx) {
                jw_key(w, "tx_hash");
                jw_tx(w, &v);
            }
            if (v.st == JOB_FAILED) {
                jw_key(w, "error");
                jw_str(w, v.error);
            }
        }
    }
    if (j->dup_of) {
        jw_key(w, "duplicate");
        jw_bool(w, 1);
    }
    jw_obj_end(w);
}

static void answer_native(struct ingest_ctx *c, int timed_out)
{
    struct ingest_thread *t = c->t;
    struct jw w;
    jw_init_fixed(&w, t->out, t->out_cap);
    int code = (c->wait_level != 0 && !timed_out && c->accepted) ? 200 : 202;
    if (!c->is_batch) {
        const struct job *j = ctx_job(c, 0);
        if (c->accepted && j->dup_conflict) {
            write_error(&w, c->route, "idempotency key already used with a different body",
                        c->idem_header ? "Idempotency-Key" : "idempotency_key",
                        "a transfer with this key exists and its receiver, amount or memo differ");
            ctx_send_jw(c, 422, &w);
            return;
        }
        write_native_item(c, &w, 0);
    } else {
        jw_obj_begin(&w);
        jw_key(&w, "transfers");
        jw_arr_begin(&w);
        for (uint32_t i = 0; i < c->n; i++)
            write_native_item(c, &w, i);
        jw_arr_end(&w);
        jw_obj_end(&w);
    }
    ctx_send_jw(c, code, &w);
}

/* An answer on a route without an id-bearing 503 shape: the transfers were not made durable. */
static void answer_not_durable(struct ingest_ctx *c, struct jw *w)
{
    write_overloaded(c->t, w, c->route, "the transfers could not be made durable", 0);
    ctx_send_jw(c, 503, w);
}

/* answer_send_ft_kept: the send-ft answer to a repeat whose original left the job slab: it was
 * accepted, and the idempotency index kept its final status (not its hash). */
static void answer_send_ft_kept(
    struct ingest_ctx *c, const struct job *j, uint64_t id, uint64_t tag, struct jw *w)
{
    int kept = kept_status(j);
    jw_obj_begin(w);
    if (kept == JOB_FAILED) {
        jw_key(w, "error");
        jw_str(w, "Failed to initiate FT transfer");
        jw_key(w, "details");
        jw_str(w, kept_failure);
    } else {
        jw_key(w, "success");
        jw_bool(w, 1);
    }
    jw_key(w, "jobId");
    jw_id(w, id, tag);
    jw_key(w, "status");
    jw_str(w, kept < 0 ? "unknown" : node_status((enum job_status)kept));
    if (kept == JOB_EXECUTED) {
        jw_key(w, "transactionHash");
        jw_null(w); /* not kept past the job slab */
    }
    jw_key(w, "duplicate");
    jw_bool(w, 1);
    if (kept != JOB_FAILED) {
        jw_key(w, "message");
        jw_str(w, kept == JOB_EXECUTED
                      ? "FT transfer executed successfully"
                      : "a transfer with this Idempotency-Key was accepted earlier");
    }
    jw_obj_end(w);
    ctx_send_jw(c, kept == JOB_FAILED ? 500 : 200, w);
}

/* send_ft_fields: the fields a send-ft answer for one accepted transfer v starts with: success,
 * jobId, transactionHash (its transaction when with_tx, else null), receiverId, amount, status. */
static void send_ft_fields(struct jw *w, const struct job_view *v, int with_tx)
{
    jw_key(w, "success");
    jw_bool(w, 1);
    jw_key(w, "jobId");
    jw_id(w, v->id, v->tag);
    jw_key(w, "transactionHash");
    if (with_tx)
        jw_tx(w, v);
    else
        jw_null(w);
    jw_key(w, "receiverId");
    jw_strn(w, v->receiver, v->receiver_len);
    jw_key(w, "amount");
    jw_u128_str(w, v->amount);
    jw_key(w, "status");
    jw_str(w, node_status(v->st));
}

/* answer_send_ft_one: the send-ft answer to one transfer (the drop-in's single form): its
 * outcome, 202 while it is durable but not submitted, or the repeat of its key. */
static void answer_send_ft_one(struct ingest_ctx *c, struct jw *w)
{
    struct ingest_thread *t = c->t;
    struct job_slab *slab = t->in->slab;
    char details[160];
    const struct job *j = ctx_job(c, 0);
    if (j->dup_conflict) {
        jw_obj_begin(w);
        jw_key(w, "error");
        jw_str(w, "idempotency key already used with a different body");
        jw_key(w, "details");
        jw_str(w, "Idempotency-Key: a transfer with this key exists and its receiverId, "
                  "amount or memo differ");
        jw_obj_end(w);
        ctx_send_jw(c, 422, w);
        return;
    }
    /* A repeat answers with the transfer its key created. */
    uint64_t id = j->dup_of ? j->dup_of : c->first_id;
    uint64_t tag = j->dup_of ? j->dup_tag : own_tag(t, id);
    struct job_view v;
    if (job_view_read(slab, id, 0, &v) != 0) {
        answer_send_ft_kept(c, j, id, tag, w);
        return;
    }
    jw_obj_begin(w);
    if (v.st == JOB_FAILED) {
        jw_key(w, "error");
        jw_str(w, "Failed to initiate FT transfer");
        jw_key(w, "details");
        jw_str(w, v.error);
        jw_obj_end(w);
        ctx_send_jw(c, 500, w);
        return;
    }
    if (v.st != JOB_SUBMITTED && v.st != JOB_EXECUTED) {
        /* Durable and queued: accepted, and said so with its id (never a 5xx that invites a
         * retry of a transfer that will land). */
        snprintf(details, sizeof(details), "job %llu is %s after %llu ms", (unsigned long long)v.id,
                 node_status(v.st), (unsigned long long)t->in->wait_timeout_ms);
        send_ft_fields(w, &v, 0);
        if (j->dup_of) {
            jw_key(w, "duplicate");
            jw_bool(w, 1);
        }
        jw_key(w, "details");
        jw_str(w, details);
        jw_key(w, "message");
        jw_str(w, "FT transfer accepted; not submitted yet");
        jw_obj_end(w);
        ctx_send_jw(c, 202, w);
        return;
    }
    send_ft_fields(w, &v, 1);
    jw_key(w, "batchId");
    jw_tx(w, &v);
    jw_key(w, "submittedAt");
    jw_time(w, v.submitted_ms);
    if (j->dup_of) {
        jw_key(w, "duplicate");
        jw_bool(w, 1);
    }
    jw_key(w, "message");
    jw_str(w, "FT transfer executed successfully");
    jw_obj_end(w);
    ctx_send_jw(c, 200, w);
}

/* answer_send_ft_batch: the send-ft answer to a batch: 500 when every transfer failed, else the
 * ids, the first transaction and each transfer's state (202 while some are not submitted). The
 * three answer_send_ft_* write into w, answer_send_ft's empty writer on the thread's buffer. */
static void answer_send_ft_batch(struct ingest_ctx *c, struct jw *w)
{
    struct ingest_thread *t = c->t;
    struct job_slab *slab = t->in->slab;
    char details[160];
    /* Batch form. First pass: outcome counts and the first transaction hash. */
    uint32_t failed = 0, pending = 0;
    int have_first = 0;
    struct job_view first_tx;
    char first_error[JOB_ERROR_MAX] = "";
    for (uint32_t i = 0; i < c->n; i++) {
        struct job_view v;
        if (job_view_read(slab, c->first_id + i, 0, &v) != 0) {
            failed++;
            continue;
        }
        if (v.st == JOB_FAILED) {
            if (failed++ == 0)
                memcpy(first_error, v.error, sizeof(first_error));
        } else if (v.st != JOB_SUBMITTED && v.st != JOB_EXECUTED) {
            pending++;
        }
        if (!have_first && v.has_tx) {
            first_tx = v;
            have_first = 1;
        }
    }
    if (failed == c->n) {
        jw_obj_begin(w);
        jw_key(w, "error");
        jw_str(w, "Failed to initiate FT transfer");
        jw_key(w, "details");
        jw_str(w, first_error[0] ? first_error : "every transfer failed");
        jw_obj_end(w);
        ctx_send_jw(c, 500, w);
        return;
    }
    jw_obj_begin(w);
    jw_key(w, "success");
    jw_bool(w, 1); /* every transfer is durable: accepted */
    if (pending != 0) {
        snprintf(details, sizeof(details), "%u of %u transfers not submitted after %llu ms",
                 (unsigned)pending, (unsigned)c->n, (unsigned long long)t->in->wait_timeout_ms);
        jw_key(w, "details");
        jw_str(w, details);
    }
    jw_key(w, "jobIds");
    jw_arr_begin(w);
    for (uint32_t i = 0; i < c->n; i++)
        jw_id(w, c->first_id + i, own_tag(t, c->first_id + i));
    jw_arr_end(w);
    jw_key(w, "transactionHash");
    if (have_first)
        jw_tx(w, &first_tx);
    else
        jw_null(w);
    jw_key(w, "transfers");
    jw_u64(w, c->n);
    jw_key(w, "batchId");
    if (have_first)
        jw_tx(w, &first_tx);
    else
        jw_null(w);
    jw_key(w, "results");
    jw_arr_begin(w);
    for (uint32_t i = 0; i < c->n; i++) {
        struct job_view v;
        if (job_view_read(slab, c->first_id + i, 0, &v) != 0) {
            jw_obj_begin(w);
            jw_key(w, "jobId");
            jw_id(w, c->first_id + i, own_tag(t, c->first_id + i));
            jw_key(w, "status");
            jw_str(w, "unknown");
            jw_obj_end(w);
            continue;
        }
        write_node_item(w, &v, 0);
    }
    jw_arr_end(w);
    jw_key(w, "message");
    jw_str(w, pending == 0 ? "FT transfer executed successfully"
                           : "FT transfers accepted; some are not submitted yet");
    jw_obj_end(w);
    ctx_send_jw(c, pending == 0 ? 200 : 202, w);
}

static void answer_send_ft(struct ingest_ctx *c, int timed_out)
{
    (void)timed_out;
    struct jw w;
    jw_init_fixed(&w, c->t->out, c->t->out_cap);
    if (!c->accepted)
        answer_not_durable(c, &w);
    else if (!c->is_batch)
        answer_send_ft_one(c, &w);
    else
        answer_send_ft_batch(c, &w);
}

static void answer_rust(struct ingest_ctx *c)
{
    struct ingest_thread *t = c->t;
    struct jw w;
    jw_init_fixed(&w, t->out, t->out_cap);
    if (!c->accepted) {
        answer_not_durable(c, &w);
        return;
    }
    const struct job *j = ctx_job(c, 0);
    if (j->dup_conflict) {
        jw_obj_begin(&w);
        jw_key(&w, "error");
        jw_str(&w, "Idempotency-Key already used with a different receiver_id, amount or memo");
        jw_obj_end(&w);
        ctx_send_jw(c, 422, &w);
        return;
    }
    /* A repeat answers with the transfer its key created. */
    uint64_t id = j->dup_of ? j->dup_of : c->first_id;
    uint64_t tag = j->dup_of ? j->dup_tag : own_tag(t, id);
    char msg[JOB_ERROR_MAX + 64];
    struct job_view v;
    int found = job_view_read(t->in->slab, id, 0, &v) == 0;
    jw_obj_begin(&w);
    if (!found && j->dup_of && kept_status(j) >= 0) {
        /* A repeat whose original left the job slab: the final status the index kept, in the
         * shape the original got (its hash and reason are not kept). */
        int failed = kept_status(j) == JOB_FAILED;
        int receiver = j->dup_status == IDEM_FAILED_RECEIVER;
        if (failed) {
            snprintf(msg, sizeof(msg), "Transfer failed: %s", kept_failure);
            jw_key(&w, "error");
            jw_str(&w, msg);
        }
        jw_key(&w, "id");
        jw_id(&w, id, tag);
        jw_key(&w, "status");
        jw_str(&w, failed ? "failed" : "executed");
        jw_key(&w, "tx_hash");
        jw_null(&w);
        jw_key(&w, "duplicate");
        jw_bool(&w, 1);
        jw_obj_end(&w);
        ctx_send_jw(c, !failed ? 200 : receiver ? 400 : 500, &w);
        return;
    }
    if (found && v.st == JOB_EXECUTED) {
        jw_key(&w, "tx_hash");
        jw_tx(&w, &v);
        jw_obj_end(&w);
        ctx_send_jw(c, 200, &w);
        return;
    }
    if (found && v.st == JOB_FAILED) {
        int receiver = job_error_is_receiver(v.error);
        if (!receiver)
            snprintf(msg, sizeof(msg), "Transfer failed: %s", v.error);
        jw_key(&w, "error");
        jw_str(&w, receiver ? v.error : msg);
        jw_obj_end(&w);
        ctx_send_jw(c, receiver ? 400 : 500, &w);
        return;
    }
    /* Durable, not executed yet: accepted, and said so with its id (never a 5xx that invites a
     * retry of a transfer that will land). */
    jw_key(&w, "id");
    jw_id(&w, id, tag);
    jw_key(&w, "status");
    jw_str(&w, found ? native_status((int)v.st) : "unknown");
    jw_key(&w, "tx_hash");
    if (found && v.has_tx)
        jw_tx(&w, &v);
    else
        jw_null(&w);
    if (j->dup_of) {
        jw_key(&w, "duplicate");
        jw_bool(&w, 1);
    }
    jw_obj_end(&w);
    ctx_send_jw(c, 202, &w);
}

static void ctx_answer(struct ingest_ctx *c, int timed_out)
{
    if (c->replied)
        return;
    switch (c->route) {
    case INGEST_ROUTE_SEND_FT:
        answer_send_ft(c, timed_out);
        break;
    case INGEST_ROUTE_RUST_TRANSFER:
        answer_rust(c);
        break;
    default:
        answer_native(c, timed_out);
        break;
    }
}

static void ingest_http_timeout(struct ingest_ctx *c)
{
    if (c->lent && !c->accepted && !c->accept_failed) {
        /* The log has not answered yet: nothing is acknowledged before it is durable. The answer
         * waits for PIPE_MSG_ACCEPTED (ingest_http_accepted); at shutdown a request still waiting
         * then is closed unanswered, claiming nothing. */
        c->expired = 1;
        return;
    }
    ctx_answer(c, 1);
}

/* budget_release: gives amount of what h took back to the windows it was taken from: the global
 * hour and day (when set) and the token's own (h's). Any ingest thread. */
static void budget_release(struct ingest *in, const struct budget_hold *h, nf_u128 amount)
{
    struct spend *w[4] = {in->spend, in->spend_day, h->token_hour, h->token_day};
    for (int k = 0; k < 4; k++)
        if (w[k] != NULL)
            spend_release(w[k], h->stamp, amount);
}

static void ingest_http_accepted(struct ingest_thread *t, struct pipe_accept *a)
{
    struct ingest_ctx *c = a->cookie;
    c->lent = 0;
    int budgeted = c->spend.amount != 0;
    if (a->status != 0 && budgeted) {
        /* Nothing of this request was accepted: its amount goes back to the budgets. */
        budget_release(t->in, &c->spend, c->spend.amount);
        c->spend.amount = 0;
    } else if (a->duplicates != 0 && budgeted) {
        /* Repeats were accepted earlier (and counted then): give back what they reserved. */
        nf_u128 back = 0;
        for (uint32_t i = 0; i < c->n; i++) {
            const struct job *j = ctx_job(c, i);
            if (j->dup_of != 0 || j->dup_conflict)
                back += j->amount; /* <= the reserved sum: no overflow */
        }
        budget_release(t->in, &c->spend, back);
        c->spend.amount -= back;
    }
    if (a->status != 0) {
        /* NF_EFULL: the log's accept buffer is full for now (back-pressure, not a failure);
         * NF_EIDEMFULL: every idempotency entry must still be kept (nothing was written);
         * NF_EDISKFULL: the disk under the log is full (retry once space is freed). */
        int busy = a->status == NF_EFULL || a->status == NF_EIDEMFULL;
        c->accept_failed = 1;
        ingest_stat_add(busy ? &t->stats->rejected_full : &t->stats->rejected_io, 1);
        if (!c->replied) {
            struct jw w;
            jw_init_fixed(&w, t->out, t->out_cap);
            const char *why = a->status == NF_EFULL ? "the durable log is busy"
                              : a->status == NF_EIDEMFULL
                                  ? "the idempotency index is full: every key in it is younger "
                                    "than --retention-hours or its transfer is not final yet"
                              : a->status == NF_EDISKFULL
                                  ? "the durable log is full"
                                  : "the transfers could not be made durable";
            unsigned retry = a->status == NF_EIDEMFULL ? a->retry_after_s : 0;
            write_overloaded(t, &w, c->route, why, retry);
            ctx_send_jw(c, 503, &w);
        } else {
            ingest_ctx_maybe_recycle(c);
        }
        return;
    }
    c->accepted = 1;
    ingest_stat_add(&t->stats->transfers_accepted, c->n - a->duplicates);
    ingest_stat_add(&t->stats->duplicates, a->duplicates);
    if (c->replied) {
        ingest_ctx_maybe_recycle(c);
        return;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        if (ctx_marked(c, i))
            continue;
        const struct job *j = ctx_job(c, i);
        if (a->duplicates != 0 && (j->dup_of != 0 || j->dup_conflict)) {
            ctx_mark(c, i);
            continue;
        }
        if (c->wait_level != 0) {
            int st = job_status_of(t->in->slab, c->first_id + i);
            if (st < 0 || wait_reached(c, j, st))
                ctx_mark(c, i);
        }
    }
    if (c->wait_level == 0 || c->done == c->n)
        ctx_answer(c, 0);
    else if (c->expired)
        ctx_answer(c, 1); /* its wait ended while the write was under way */
}

static void ingest_http_job(struct ingest_thread *t, struct job *j)
{
    uint64_t id = atomic_load_explicit(&j->id, memory_order_acquire);
    uint32_t ri = j->waiter_req, gen = j->waiter_gen;
    if (ri >= t->nctx) {
        ingest_stat_add(&t->stats->stale_msgs, 1);
        return;
    }
    struct ingest_ctx *c = &t->ctxs[ri];
    if (!c->busy || c->gen != gen || c->replied || id < c->first_id || id - c->first_id >= c->n) {
        ingest_stat_add(&t->stats->stale_msgs, 1);
        return;
    }
    uint32_t i = (uint32_t)(id - c->first_id);
    if (ctx_marked(c, i))
        return;
    int st = job_status_of(t->in->slab, id);
    if (st >= 0 && !wait_reached(c, j, st))
        return;
    ctx_mark(c, i);
    if (c->accepted && c->done == c->n)
        ctx_answer(c, 0);
}

static void ingest_http_release_ctx_jobs(struct ingest_ctx *c)
{
    struct job_slab *slab = c->t->in->slab;
    for (uint32_t i = 0; i < c->n; i++) {
        uint64_t id = c->first_id + i;
        struct job *j = job_slot(slab, id);
        if (atomic_load_explicit(&j->id, memory_order_acquire) != id)
            continue;
        /* We no longer read this job: its slot may be reused once the pipeline lets go too. */
        if (c->wait_level != 0)
            job_unhold(j, JOB_HOLD_WAITER);
        if ((!c->accepted && !c->accept_failed) || job_get_status(j) != JOB_CLAIMED)
            continue;
        /* Still CLAIMED under our id: the pipeline handed it back (a repeat, or not durable). */
        if (c->accept_failed || j->dup_of != 0 || j->dup_conflict)
            job_release(slab, j);
    }
}

/* ---- POST routes ----------------------------------------------------------------------------- */

/* item_field: "name" for a single transfer, "transfers[i].name" for the bulk form, with the
 * route's own spelling of the receiver (receiverId on /send-ft). */
static void item_field(char *out, size_t cap, int route, int is_batch, size_t i, int receiver)
{
    const char *name = !receiver                       ? "amount"
                       : route == INGEST_ROUTE_SEND_FT ? "receiverId"
                                                       : "receiver_id";
    if (is_batch)
        snprintf(out, cap, "transfers[%zu].%s", i, name);
    else
        snprintf(out, cap, "%s", name);
}

static int account_is(const char *account, const char *s, size_t len)
{
    return account != NULL && strlen(account) == len && memcmp(account, s, len) == 0;
}

/* transfers_refused: the up-front checks of every transfer of a request, before anything is
 * reserved or written: a receiver that is the signer account (it would pay itself, for gas) or
 * the token contract (tokens sent there are stuck), and an amount over
 * --max-amount-per-transfer. Answers 422 naming the first offending field and returns 1; 0 when
 * all pass. Owner thread. */
static int transfers_refused(struct ingest_thread *t,
                             struct hsrv_req *req,
                             int route,
                             size_t count,
                             int is_batch,
                             const struct auth_entry *token,
                             uint64_t start_ns)
{
    const struct cfg *cfg = t->in->cfg;
    nf_u128 max = cfg->max_amount_per_transfer;
    int token_max = 0; /* the token's own limit is the lower one */
    if (token != NULL && token->max_amount_per_transfer != 0 &&
        (max == 0 || token->max_amount_per_transfer < max)) {
        max = token->max_amount_per_transfer;
        token_max = 1;
    }
    char field[48], reason[160];
    for (size_t i = 0; i < count; i++) {
        const struct req_transfer *it = &t->items[i];
        int kind = -1;
        if (account_is(cfg->signer, it->receiver, it->receiver_len)) {
            kind = INGEST_REFUSE_RECEIVER_SIGNER;
            snprintf(reason, sizeof(reason),
                     "is the signer account %s: nearftd does not pay itself", cfg->signer);
        } else if (account_is(cfg->contract, it->receiver, it->receiver_len)) {
            kind = INGEST_REFUSE_RECEIVER_CONTRACT;
            snprintf(reason, sizeof(reason),
                     "is the token contract %s: tokens sent to it cannot be recovered",
                     cfg->contract);
        } else if (max != 0 && it->amount > max) {
            char lim[U128_STR_MAX];
            u128_format(max, lim);
            kind = INGEST_REFUSE_PER_TRANSFER;
            if (token_max)
                snprintf(reason, sizeof(reason),
                         "is over max_amount_per_transfer %s of the token %s", lim, token->name);
            else
                snprintf(reason, sizeof(reason), "is over --max-amount-per-transfer %s", lim);
        }
        if (kind < 0)
            continue;
        item_field(field, sizeof(field), route, is_batch, i, kind != INGEST_REFUSE_PER_TRANSFER);
        ingest_stat_add(&t->stats->refused[kind], 1);
        send_error(t, req, route, 422, "transfer refused", field, reason, start_ns);
        return 1;
    }
    return 0;
}

/* window_refuse: answers a request a rolling window refused (rc from spend_reserve_limit, retry
 * its Retry-After): 422 when the request alone is over the limit (NF_ERANGE), else 429 with
 * Retry-After. token NULL: the window is the global --max-amount-per-hour one, or
 * --max-amount-per-day's when day; else it is that token's own max_amount_per_hour
 * (max_amount_per_day) window, and the answer names the token. Owner thread. */
static void window_refuse(struct ingest_thread *t,
                          struct hsrv_req *req,
                          int route,
                          int is_batch,
                          int rc,
                          uint32_t retry,
                          nf_u128 limit,
                          const struct auth_entry *token,
                          int day,
                          uint64_t start_ns)
{
    char lim[U128_STR_MAX], what[AUTH_NAME_MAX + U128_STR_MAX + 64], reason[320];
    u128_format(limit, lim);
    if (token != NULL)
        snprintf(what, sizeof(what), "max_amount_per_%s %s of the token %s", day ? "day" : "hour",
                 lim, token->name);
    else
        snprintf(what, sizeof(what), "--max-amount-per-%s %s", day ? "day" : "hour", lim);
    ingest_stat_add(&t->stats->refused[day ? INGEST_REFUSE_PER_DAY : INGEST_REFUSE_PER_HOUR], 1);
    if (rc == NF_ERANGE) {
        snprintf(reason, sizeof(reason), "%s over %s by itself",
                 is_batch ? "the sum of the transfers is" : "is", what);
        send_error(t, req, route, 422, "transfer refused", is_batch ? "transfers" : "amount",
                   reason, start_ns);
        return;
    }
    snprintf(reason, sizeof(reason),
             "over %s: the transfers accepted%s in the last %s leave too little for this "
             "request; retry after %u s",
             what, token != NULL ? " with it" : "", day ? "24 hours" : "hour", (unsigned)retry);
    send_limited(t, req, route, day ? "max_amount_per_day" : "max_amount_per_hour", reason, retry,
                 start_ns);
}

/* One window a request takes from: its limit, and the token it belongs to (NULL: global). */
struct budget_window {
    struct spend *w;
    nf_u128 limit;
    const struct auth_entry *token;
    int day;
};

/* budget_reserve: takes the request's whole amount from every window that applies: the global
 * --max-amount-per-hour and --max-amount-per-day windows and the token's own max_amount_per_hour
 * and max_amount_per_day windows (token_w, NULL when it has none; a window counts only while the
 * token has that limit). A bulk request is all or nothing, and so is the set: what the windows
 * before took is given back when a later one refuses, before the answer. 1 with *h set (give it
 * back with budget_release if the request is not accepted after all), or 0 after answering as
 * window_refuse does. Owner thread. */
static int budget_reserve(struct ingest_thread *t,
                          struct hsrv_req *req,
                          int route,
                          size_t count,
                          int is_batch,
                          uint64_t now_ms,
                          const struct auth_entry *token,
                          const struct spend_token *token_w,
                          struct budget_hold *h,
                          uint64_t start_ns)
{
    struct budget_window win[4];
    int n = 0;
    struct spend *sp = t->in->spend, *sd = t->in->spend_day;
    *h = (struct budget_hold){.amount = 0};
    if (sp != NULL)
        win[n++] = (struct budget_window){sp, spend_limit(sp), NULL, 0};
    if (sd != NULL)
        win[n++] = (struct budget_window){sd, spend_limit(sd), NULL, 1};
    /* The limit first: a window pointer is read only for a limit this table has (a reload may be
     * creating the window of a limit it does not). */
    if (token_w != NULL && token->max_amount_per_hour != 0 && token_w->hour != NULL)
        win[n++] = (struct budget_window){h->token_hour = token_w->hour, token->max_amount_per_hour,
                                          token, 0};
    if (token_w != NULL && token->max_amount_per_day != 0 && token_w->day != NULL)
        win[n++] = (struct budget_window){h->token_day = token_w->day, token->max_amount_per_day,
                                          token, 1};
    if (n == 0)
        return 1;
    nf_u128 sum = 0;
    int over = 0;
    for (size_t i = 0; i < count && !over; i++)
        over = u128_add_overflow(sum, t->items[i].amount, &sum);
    /* Every window stamps the same second (now_ms / 1000), which budget_release gives back to. */
    for (int k = 0; k < n; k++) {
        uint32_t retry = 0;
        int rc = over ? NF_ERANGE
                      : spend_reserve_limit(win[k].w, win[k].limit, sum, now_ms, &h->stamp, &retry);
        if (rc != 0) {
            /* Give back before answering: a client that sends again once answered must find the
             * windows as they were before this request. */
            const struct budget_window *r = &win[k];
            while (k-- > 0)
                spend_release(win[k].w, h->stamp, sum);
            *h = (struct budget_hold){.amount = 0};
            window_refuse(t, req, route, is_batch, rc, retry, r->limit, r->token, r->day, start_ns);
            return 0;
        }
    }
    h->amount = sum;
    return 1;
}

/* post_shape: what a POST route takes and waits for: the body's shape, the jobs' route, the wait
 * level (the drop-in routes' fixed one, or ?wait= on the native route) and the length of a valid
 * Idempotency-Key header. 1, or 0 after answering 400 (a bad ?wait= or header). Owner thread. */
static int post_shape(struct ingest_thread *t,
                      struct hsrv_req *req,
                      int route,
                      const char *query,
                      uint64_t start_ns,
                      enum req_shape *shape,
                      enum job_route *job_route,
                      uint8_t *wait_level,
                      uint8_t *wait_final,
                      size_t *idem_hdr_len)
{
    if (route == INGEST_ROUTE_SEND_FT) {
        *shape = REQ_SHAPE_SEND_FT;
        *job_route = JOB_ROUTE_SEND_FT;
        *wait_level = JOB_SUBMITTED;
    } else if (route == INGEST_ROUTE_RUST_TRANSFER) {
        *shape = REQ_SHAPE_RUST;
        *job_route = JOB_ROUTE_TRANSFER;
        *wait_level = JOB_EXECUTED;
    } else if (ingest_parse_wait(query, wait_level, wait_final) != 0) {
        send_error(t, req, route, 400, "invalid request", "wait",
                   "must be submitted, executed or final", start_ns);
        return 0;
    }
    if (req->idem != NULL && !ingest_idem_key_ok(req->idem, idem_hdr_len)) {
        send_error(t, req, route, 400, "invalid request", "Idempotency-Key",
                   "must be 1 to 128 bytes of printable ASCII", start_ns);
        return 0;
    }
    return 1;
}

/* job_fill: the slot j of an accepted transfer it (allocated to this request, so ours to write),
 * as post_transfers takes it: its fields, its idempotency key (idem_hdr, the Idempotency-Key
 * header, else the transfer's own) and, when the request waits (c->wait_level), the waiter that
 * holds the slot. Returns 1 when the transfer has an idempotency key. Owner thread. */
static int job_fill(struct ingest_thread *t,
                    struct ingest_ctx *c,
                    struct job *j,
                    const struct req_transfer *it,
                    enum job_route job_route,
                    const char *idem_hdr,
                    size_t idem_hdr_len,
                    uint64_t now_ms)
{
    uint8_t wait_level = c->wait_level, wait_final = c->wait_final;
    int keyed = 0;
    j->route = (uint8_t)job_route;
    j->has_memo = (uint8_t)(it->has_memo != 0);
    j->receiver_len = (uint8_t)it->receiver_len;
    memcpy(j->receiver, it->receiver, it->receiver_len + 1);
    j->memo_len = (uint16_t)(it->has_memo ? it->memo_len : 0);
    memcpy(j->memo, it->memo, j->memo_len);
    j->memo[j->memo_len] = '\0';
    j->amount = it->amount;
    j->attempts = 0;
    j->needs_storage = 0;
    j->final_seen = 0;
    j->body_hash = body_hash(it);
    j->id_tag = txid_tag(t->in->id_key, atomic_load_explicit(&j->id, memory_order_relaxed));
    j->dup_of = 0;
    j->dup_tag = 0;
    j->dup_conflict = 0;
    j->dup_status = IDEM_OPEN;
    j->idem_slot = 0;
    if (idem_hdr != NULL) {
        j->has_idem = 1;
        memcpy(j->idem_key, idem_hdr, idem_hdr_len + 1);
        idem_key_hash(idem_hdr, idem_hdr_len, j->idem_hash);
        keyed = 1;
    } else if (it->has_idem) {
        j->has_idem = 1;
        memcpy(j->idem_key, it->idem_key, it->idem_len + 1);
        idem_key_hash(it->idem_key, it->idem_len, j->idem_hash);
        keyed = 1;
    } else {
        j->has_idem = 0;
        j->idem_key[0] = '\0';
    }
    j->accepted_ms = now_ms;
    j->signed_ms = 0;
    j->submitted_ms = 0;
    j->done_ms = 0;
    static const uint8_t no_hash[32];
    job_tx_hash_set(j, no_hash);
    j->error[0] = '\0';
    /* A waiter holds the slot (job.h JOB_HOLD_WAITER) so PIPE_MSG_JOB pointers and the
     * reply's reads stay valid until the context is recycled. The slot is ours: store. */
    atomic_store_explicit(&j->holds, wait_level != 0 ? JOB_HOLD_WAITER : 0, memory_order_relaxed);
    if (wait_level != 0) {
        j->waiter_thread = (int16_t)t->idx;
        j->waiter_req = c->idx;
        j->waiter_gen = c->gen;
        j->wait_level = wait_level;
        j->wait_final = wait_final;
    } else {
        j->waiter_thread = -1;
        j->waiter_req = 0;
        j->waiter_gen = 0;
        j->wait_level = 0;
        j->wait_final = 0;
    }
    return keyed;
}

/* post_transfers: token is the request's bearer-token entry (borrowed for this call; NULL without
 * --auth-tokens), for its own max_amount_per_transfer; token_w its own spend windows (NULL when
 * it has neither max_amount_per_hour nor max_amount_per_day; windows outlive the request). */
static void post_transfers(struct ingest_thread *t,
                           struct hsrv_req *req,
                           int route,
                           const char *query,
                           const struct auth_entry *token,
                           const struct spend_token *token_w,
                           uint64_t start_ns)
{
    struct ingest *in = t->in;
    if (t->stopping) {
        send_overloaded(t, req, route, "the server is shutting down", start_ns);
        return;
    }
    enum req_shape shape = REQ_SHAPE_NATIVE;
    uint8_t wait_level = 0, wait_final = 0;
    enum job_route job_route = JOB_ROUTE_NATIVE;
    const char *idem_hdr = req->idem;
    size_t idem_hdr_len = 0;
    if (!post_shape(t, req, route, query, start_ns, &shape, &job_route, &wait_level, &wait_final,
                    &idem_hdr_len))
        return;

    size_t len = req->body_len;
    const char *body = req->body;
    struct req_json_limits lim = {.max_items = in->max_items, .memo_max_bytes = in->memo_max};
    size_t count = 0;
    int is_batch = 0;
    struct req_error perr;
    uint64_t p0 = ingest_now_ns();
    int rc = req_json_parse(shape, body, len, &lim, t->toks, t->tok_cap, t->items, &count,
                            &is_batch, &perr);
    if (rc != 0) {
        send_error(t, req, route, 400, "invalid request", perr.field, perr.reason, start_ns);
        return;
    }
    ingest_parse_observe(t, ingest_now_ns() - p0, count);
    if (idem_hdr != NULL) {
        if (is_batch) {
            send_error(t, req, route, 400, "invalid request", "Idempotency-Key",
                       "applies to the single-transfer form; put idempotency_key in each "
                       "transfer instead",
                       start_ns);
            return;
        }
        const struct req_transfer *it = &t->items[0];
        if (it->has_idem &&
            (it->idem_len != idem_hdr_len || memcmp(it->idem_key, idem_hdr, idem_hdr_len) != 0)) {
            send_error(t, req, route, 400, "invalid request", "idempotency_key",
                       "differs from the Idempotency-Key header", start_ns);
            return;
        }
    }

    if (transfers_refused(t, req, route, count, is_batch, token, start_ns))
        return;
    /* One clock read for the budget and the ACCEPT records' ts_ms, which the replay rebuilds the
     * budget from: the same second either way. */
    uint64_t now_ms = ingest_now_ms();
    struct budget_hold hold;
    if (!budget_reserve(t, req, route, count, is_batch, now_ms, token, token_w, &hold, start_ns))
        return;

    struct ingest_ctx *c = ingest_ctx_alloc(t);
    if (c == NULL) {
        budget_release(in, &hold, hold.amount);
        ingest_stat_add(&t->stats->rejected_busy, 1);
        send_overloaded(t, req, route, "too many requests in flight on this thread", start_ns);
        return;
    }
    c->spend = hold;
    uint64_t first = job_alloc_range(in->slab, (uint32_t)count);
    if (first == 0) {
        budget_release(in, &hold, hold.amount);
        ingest_ctx_free_unused(c);
        ingest_stat_add(&t->stats->rejected_full, 1);
        send_overloaded(t, req, route, "the transfer queue is full", start_ns);
        return;
    }
    c->route = (uint8_t)route;
    c->is_batch = (uint8_t)is_batch;
    c->wait_level = wait_level;
    c->wait_final = wait_final;
    c->idem_header = idem_hdr != NULL;
    c->n = (uint32_t)count;
    c->first_id = first;
    c->start_ns = start_ns;
    uint32_t keyed = 0;
    for (size_t i = 0; i < count; i++)
        keyed += (uint32_t)job_fill(t, c, job_slot(in->slab, first + i), &t->items[i], job_route,
                                    idem_hdr, idem_hdr_len, now_ms);
    memset(&c->acc, 0, sizeof(c->acc));
    c->acc.first_id = first;
    c->acc.n = (uint32_t)count;
    c->acc.keyed = keyed;
    c->acc.ingest_idx = (uint16_t)t->idx;
    c->acc.cookie = c;
    if (token != NULL) {
        /* The ACCEPT records name the token, so a restart rebuilds its hourly budget. */
        size_t nl = strlen(token->name);
        memcpy(c->acc.token, token->name, nl);
        c->acc.token_len = (uint8_t)nl;
    }
    c->ref = req->ref;
    c->has_ref = 1;
    rc = pipe_accept_submit_nowake(in->pipe, &c->acc);
    if (rc == 0 && !t->flush_pending) {
        t->flush_pending = 1;
        event_active(t->flush_ev, EV_TIMEOUT, 0); /* ingest_flush_cb wakes the WAL */
    }
    if (rc != 0) {
        for (size_t i = 0; i < count; i++) {
            struct job *j = job_slot(in->slab, first + i);
            atomic_store_explicit(&j->holds, 0, memory_order_relaxed);
            job_release(in->slab, j);
        }
        c->has_ref = 0;
        budget_release(in, &hold, hold.amount);
        ingest_ctx_free_unused(c);
        ingest_stat_add(&t->stats->rejected_full, 1);
        send_overloaded(t, req, route, pipe_refusal_reason(in->pipe), start_ns);
        return;
    }
    c->lent = 1;
    ingest_ctx_arm(c);
}

/* ---- GET routes ------------------------------------------------------------------------------ */

static void
get_v1_transfer(struct ingest_thread *t, struct hsrv_req *req, const char *ids, uint64_t start_ns)
{
    const int route = INGEST_ROUTE_V1_TRANSFERS_GET;
    uint64_t id = 0, tag = 0;
    struct jw w;
    jw_init_fixed(&w, t->out, t->out_cap);
    if (txid_parse(ids, &id, &tag) != 0) {
        send_error(t, req, route, 400, "invalid transfer id", "id",
                   "must be the id returned by POST /v1/transfers", start_ns);
        return;
    }
    struct job_view v;
    if (view_by_public_id(t->in->slab, id, tag, &v) != 0) {
        /* The id as sent, not the sequence number: a wrong tag must look like an unknown id. */
        char msg[TXID_MAX + 32];
        snprintf(msg, sizeof(msg), "transfer %s not found", ids);
        send_error(t, req, route, 404, msg, NULL, NULL, start_ns);
        return;
    }
    write_native_job(&w, &v);
    send_jw(t, req, route, 200, &w, start_ns);
}

static void
get_node_job(struct ingest_thread *t, struct hsrv_req *req, const char *ids, uint64_t start_ns)
{
    const int route = INGEST_ROUTE_NODE_JOB_GET;
    uint64_t id = 0, tag = 0;
    struct job_view v;
    if (txid_parse(ids, &id, &tag) != 0 || view_by_public_id(t->in->slab, id, tag, &v) != 0) {
        send_error(t, req, route, 404, "Job not found", NULL, NULL, start_ns);
        return;
    }
    struct jw w;
    jw_init_fixed(&w, t->out, t->out_cap);
    jw_obj_begin(&w);
    jw_key(&w, "success");
    jw_bool(&w, 1);
    jw_key(&w, "job");
    write_node_job(&w, &v);
    jw_obj_end(&w);
    send_jw(t, req, route, 200, &w, start_ns);
}

/* GET /v1/tx/{hash} (node = 0) and GET /transfer/tx/{hash} (node = 1). */
static void
get_tx(struct ingest_thread *t, struct hsrv_req *req, const char *hash, int node, uint64_t start_ns)
{
    const int route = node ? INGEST_ROUTE_NODE_TX_GET : INGEST_ROUTE_V1_TX_GET;
    uint8_t h[32];
    size_t hl = strlen(hash);
    if (hl > 60 || b58_decode_exact(hash, hl, h, sizeof(h)) != 0) {
        if (node)
            send_error(t, req, route, 404, "Transaction not found", NULL, NULL, start_ns);
        else
            send_error(t, req, route, 400, "invalid transaction hash", "tx_hash",
                       "must be the base58 text of 32 bytes", start_ns);
        return;
    }
    int n = pipe_tx_jobs(t->in->pipe, h, t->ids, (int)t->ids_cap);
    if (n <= 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "transaction %s not found", hash);
        send_error(t, req, route, 404, node ? "Transaction not found" : msg, NULL, NULL, start_ns);
        return;
    }
    struct jw w;
    jw_init_fixed(&w, t->out, t->out_cap);
    jw_obj_begin(&w);
    if (node) {
        jw_key(&w, "success");
        jw_bool(&w, 1);
        jw_key(&w, "transactionHash");
    } else {
        jw_key(&w, "tx_hash");
    }
    jw_str(&w, hash);
    jw_key(&w, "transfers");
    jw_arr_begin(&w);
    for (int i = 0; i < n; i++) {
        struct job_view v;
        if (job_view_read(t->in->slab, t->ids[i], 0, &v) != 0)
            continue;
        if (node)
            write_node_item(&w, &v, 1);
        else
            write_native_job(&w, &v);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    send_jw(t, req, route, 200, &w, start_ns);
}

/* health_detail: whether GET /health may show its details (reasons, queues, chain head,
 * endpoints, keys): always without --auth-tokens; with them only to a token holding the metrics
 * scope. Anyone else (a load balancer's probe) gets the verdict alone. No answer is sent here. */
static int health_detail(struct ingest_thread *t, const struct hsrv_req *req)
{
    struct ingest *in = t->in;
    const char *tok = NULL;
    size_t tl = 0;
    if (!in->auth_required)
        return 1;
    if (req->authorization == NULL ||
        ingest_bearer(req->authorization, req->authorization_len, &tok, &tl) != 0)
        return 0;
    const struct ingest_tokens *tv = atomic_load_explicit(&in->auth, memory_order_acquire);
    return (auth_lookup(tv != NULL ? tv->table : NULL, tok, tl, NULL) & AUTH_SCOPE_METRICS) != 0;
}

static void get_health(struct ingest_thread *t, struct hsrv_req *req, uint64_t start_ns)
{
    int healthy = 0;
    int n = pipe_health_json(t->in->pipe, t->out, t->out_cap, &healthy);
    if (n < 0) {
        send_error(t, req, INGEST_ROUTE_HEALTH, 500, "health report too large", NULL, NULL,
                   start_ns);
        return;
    }
    if (!health_detail(t, req)) {
        static const char ok[] = "{\"status\":\"ok\"}";
        static const char degraded[] = "{\"status\":\"degraded\"}";
        ingest_send(t, req->ref, INGEST_ROUTE_HEALTH, healthy ? 200 : 503, NULL, NULL,
                    healthy ? ok : degraded, healthy ? sizeof(ok) - 1 : sizeof(degraded) - 1,
                    start_ns);
        return;
    }
    ingest_send(t, req->ref, INGEST_ROUTE_HEALTH, healthy ? 200 : 503, NULL, NULL, t->out,
                (size_t)n, start_ns);
}

static void get_metrics(struct ingest_thread *t, struct hsrv_req *req, uint64_t start_ns)
{
    int n = pipe_metrics_text(t->in->pipe, t->out, t->out_cap);
    if (n >= 0)
        n = ingest_metrics_append(t->in, t->out, (size_t)n, t->out_cap);
    if (n < 0) {
        send_error(t, req, INGEST_ROUTE_METRICS, 500, "metrics too large", NULL, NULL, start_ns);
        return;
    }
    ingest_send(t, req->ref, INGEST_ROUTE_METRICS, 200, "text/plain; version=0.0.4; charset=utf-8",
                NULL, t->out, (size_t)n, start_ns);
}

static void get_recent(struct ingest_thread *t, struct hsrv_req *req, uint64_t start_ns)
{
    int n = pipe_recent_json(t->in->pipe, t->out, t->out_cap);
    if (n < 0) {
        send_error(t, req, INGEST_ROUTE_DEBUG_RECENT, 500, "report too large", NULL, NULL,
                   start_ns);
        return;
    }
    ingest_send(t, req->ref, INGEST_ROUTE_DEBUG_RECENT, 200, NULL, NULL, t->out, (size_t)n,
                start_ns);
}

/* get_page: the status page (src/ingest/status_page.html, embedded at build time): static, no
 * external assets, it polls /health, /debug/stages and /debug/recent. Its own policy forbids
 * every source but this origin, so nothing it shows can be sent elsewhere. */
static void get_page(struct ingest_thread *t, struct hsrv_req *req, uint64_t start_ns)
{
    ingest_send(t, req->ref, INGEST_ROUTE_PAGE, 200, "text/html; charset=utf-8",
                "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
                "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
                "frame-ancestors 'none'\r\n"
                "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n",
                nf_status_page, nf_status_page_len, start_ns);
}

static void get_stages(struct ingest_thread *t, struct hsrv_req *req, uint64_t start_ns)
{
    /* {...pipeline members..., "ingest": {...}}: splice ingest's object into the pipeline's. */
    size_t cap = t->out_cap;
    int n = pipe_stages_json(t->in->pipe, t->out, cap / 2);
    size_t len = 0;
    if (n >= 0) {
        len = (size_t)n;
        while (len > 0 && (t->out[len - 1] == ' ' || t->out[len - 1] == '\n'))
            len--;
        if (len < 2 || t->out[0] != '{' || t->out[len - 1] != '}') {
            /* Not an object: nest it. */
            memmove(t->out + 12, t->out, len);
            memcpy(t->out, "{\"pipeline\":", 12);
            len += 12;
        } else {
            len--; /* drop the closing brace */
            int empty = 1;
            for (size_t i = 1; i < len; i++)
                if (t->out[i] != ' ' && t->out[i] != '\n')
                    empty = 0;
            if (!empty)
                t->out[len++] = ',';
        }
        memcpy(t->out + len, "\"ingest\":", 9);
        len += 9;
        n = ingest_stages_json(t->in, t->out + len, cap - len - 2);
    }
    if (n < 0) {
        send_error(t, req, INGEST_ROUTE_DEBUG_STAGES, 500, "stages report too large", NULL, NULL,
                   start_ns);
        return;
    }
    len += (size_t)n;
    t->out[len++] = '}';
    ingest_send(t, req->ref, INGEST_ROUTE_DEBUG_STAGES, 200, NULL, NULL, t->out, len, start_ns);
}

/* ---- routing --------------------------------------------------------------------------------- */

static void method_not_allowed(
    struct ingest_thread *t, struct hsrv_req *req, int route, const char *allow, uint64_t start_ns)
{
    char reason[48], hdr[48];
    snprintf(reason, sizeof(reason), "use %s", allow);
    snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
    struct jw w;
    jw_init_fixed(&w, t->out, t->out_cap);
    write_error(&w, route, "method not allowed", NULL, reason);
    size_t len = 0;
    if (jw_finish(&w, &len) != 0)
        ingest_send(t, req->ref, route, 500, NULL, NULL, reply_too_large,
                    sizeof(reply_too_large) - 1, start_ns);
    else
        ingest_send(t, req->ref, route, 405, NULL, hdr, w.buf, len, start_ns);
}

/* rate_refused: the 429 of a request-rate limit (limit names it, kind counts it): Retry-After
 * from retry_ms, the reason given. Owner thread. */
static void rate_refused(struct ingest_thread *t,
                         struct hsrv_req *req,
                         int route,
                         enum ingest_refusal kind,
                         const char *limit,
                         const char *reason,
                         uint64_t retry_ms,
                         uint64_t start_ns)
{
    ingest_stat_add(&t->stats->refused[kind], 1);
    send_limited(t, req, route, limit, reason, (retry_ms + 999u) / 1000u, start_ns);
}

/* rate_admitted: --rate-limit: one token from the bucket of the request's bearer token (rate_key,
 * set by authorized) or, with rate_key 0, of its client (hsrv_client_id); who names the bucket in
 * the answer. 0 after answering 429 with
 * Retry-After. The bucket table is shared by every ingest thread (include/ratelim.h). */
static int rate_admitted(struct ingest_thread *t,
                         struct hsrv_req *req,
                         int route,
                         uint64_t rate_key,
                         const char *who,
                         uint64_t start_ns)
{
    if (rate_key == 0) /* the address the connection layer accepted from (0: one shared key) */
        rate_key = req->peer_family == 0 ? ratelim_key(0, "", 0)
                                         : ratelim_key(req->peer_family, req->peer_addr,
                                                       req->peer_family == 4 ? 4 : 8);
    uint64_t retry_ms = 0;
    if (ratelim_take(t->in->rate, rate_key, ingest_now_ns(), &retry_ms))
        return 1;
    const struct cfg *cfg = t->in->cfg;
    char reason[160];
    snprintf(reason, sizeof(reason), "over --rate-limit %llu requests/s (burst %llu) for this %s",
             (unsigned long long)cfg->rate_limit, (unsigned long long)cfg->rate_burst, who);
    rate_refused(t, req, route, INGEST_REFUSE_RATE, "rate_limit", reason, retry_ms, start_ns);
    return 0;
}

/* global_admitted: --rate-limit-global: one token from the bucket every client shares (a request
 * its own --rate-limit refused took none). 0 after answering 429 with Retry-After. Any ingest
 * thread (the bucket is include/ratelim.h's, one key). */
static int
global_admitted(struct ingest_thread *t, struct hsrv_req *req, int route, uint64_t start_ns)
{
    uint64_t retry_ms = 0;
    if (ratelim_take(t->in->rate_global, 1, ingest_now_ns(), &retry_ms))
        return 1;
    char reason[160];
    snprintf(reason, sizeof(reason),
             "over --rate-limit-global %llu requests/s of all clients together",
             (unsigned long long)t->in->cfg->rate_limit_global);
    rate_refused(t, req, route, INGEST_REFUSE_RATE_GLOBAL, "rate_limit_global", reason, retry_ms,
                 start_ns);
    return 0;
}

/* rates_admitted: route's request-rate limits in order: the client's own --rate-limit (the bucket
 * of its token, rate_key, or of its address with rate_key 0; who names it) on every route but
 * /health, then --rate-limit-global on every route but /health and /metrics (a request the first
 * refused takes nothing from it). 0 after answering 429 with Retry-After. Owner thread. */
static int rates_admitted(struct ingest_thread *t,
                          struct hsrv_req *req,
                          int route,
                          uint64_t rate_key,
                          const char *who,
                          uint64_t start_ns)
{
    if (route == INGEST_ROUTE_HEALTH)
        return 1;
    if (t->in->rate != NULL && !rate_admitted(t, req, route, rate_key, who, start_ns))
        return 0;
    return t->in->rate_global == NULL || route == INGEST_ROUTE_METRICS ||
           global_admitted(t, req, route, start_ns);
}

/* authorized: with --auth-tokens, the request's bearer token must be in the table and hold the
 * route's scope; answers 401 (no or unknown token, WWW-Authenticate: Bearer) or 403 (scope
 * missing) itself and returns 0. Every route but /health, unknown paths included (401 before
 * 404, so paths are not disclosed). Reads the token table once (acquire load, pairs with the
 * exchange in ingest_auth_set). Sets *rate_key (with --rate-limit: the token's bucket), *entry
 * (the token's table entry, for its own limits) and *budget (its own windows, or NULL; the
 * window outlives the table); the table stays valid until this request
 * callback returns (ingest_auth_set frees an old table only after every thread has passed
 * between two callbacks), and nothing keeps *entry past it. No allocation. */
static int authorized(struct ingest_thread *t,
                      struct hsrv_req *req,
                      int route,
                      int method_ok,
                      uint64_t *rate_key,
                      const struct auth_entry **entry,
                      const struct spend_token **budget,
                      uint64_t start_ns)
{
    struct ingest *in = t->in;
    if (!in->auth_required || route == INGEST_ROUTE_HEALTH)
        return 1;
    const char *tok = NULL;
    size_t tl = 0;
    const char *reason;
    char expired[64];
    unsigned scopes = 0;
    if (req->authorization == NULL) {
        reason = "missing: send Authorization: Bearer TOKEN";
    } else if (ingest_bearer(req->authorization, req->authorization_len, &tok, &tl) != 0) {
        reason = "must be Bearer TOKEN";
    } else {
        const struct ingest_tokens *tv = atomic_load_explicit(&in->auth, memory_order_acquire);
        const struct auth_table *tab = tv != NULL ? tv->table : NULL;
        int idx = -1;
        scopes = auth_lookup(tab, tok, tl, &idx);
        reason = "unknown token";
        /* An expired token, or one used from outside its from= networks, is refused as an
         * unknown one is, saying why. */
        if (scopes != 0 && idx >= 0 && auth_expired(&tab->e[idx], ingest_now_ms() / 1000u)) {
            char when[AUTH_TIME_STR];
            auth_time_format(tab->e[idx].expires_s, when);
            snprintf(expired, sizeof(expired), "the token expired at %s", when);
            reason = expired;
            scopes = 0;
        } else if (scopes != 0 && idx >= 0 &&
                   !auth_from_ok(&tab->e[idx], req->peer_family, req->peer_ip)) {
            reason = "the token may not be used from this client address";
            scopes = 0;
        }
        /* The token's hash keys its rate bucket: stable across reloads, and not the secret. */
        if (scopes != 0 && idx >= 0 && in->rate != NULL)
            *rate_key = ratelim_key(1, tab->e[idx].hash, sizeof(tab->e[idx].hash));
        if (scopes != 0 && idx >= 0) {
            *entry = &tab->e[idx]; /* valid until this request callback returns */
            *budget = tv->budget[idx];
        }
    }
    unsigned need = ingest_route_scope(route);
    int lacks_scope = scopes != 0 && need != 0 && method_ok && (scopes & need) == 0;
    /* A request the token check refuses counts against its client's bucket (with --rate-limit),
     * so one address cannot try tokens or scopes faster than the limit: over it, 429. */
    if ((scopes == 0 || lacks_scope) && in->rate != NULL &&
        !rate_admitted(t, req, route, 0, "client address (requests refused by the token check)",
                       start_ns))
        return 0;
    if (scopes == 0) {
        send_error_hdr(
            t, req, route, 401,
            req->authorization == NULL
                ? "WWW-Authenticate: Bearer realm=\"nearftd\"\r\n"
                : "WWW-Authenticate: Bearer realm=\"nearftd\", error=\"invalid_token\"\r\n",
            "unauthorized", "Authorization", reason, start_ns);
        return 0;
    }
    if (lacks_scope) {
        char why[64], hdr[128], sc[AUTH_SCOPES_STR];
        auth_scopes_format(need, sc, sizeof(sc));
        snprintf(why, sizeof(why), "the token lacks the %s scope", sc);
        snprintf(hdr, sizeof(hdr),
                 "WWW-Authenticate: Bearer realm=\"nearftd\", error=\"insufficient_scope\", "
                 "scope=\"%s\"\r\n",
                 sc);
        send_error_hdr(t, req, route, 403, hdr, "forbidden", "Authorization", why, start_ns);
        return 0;
    }
    return 1;
}

/* ingest_http_allowed_origin: the --allowed-origins entry equal to origin[0..len) (exact text),
 * or NULL. Also hsrv's cors_origin, for its own refusals (arg: the struct ingest_thread). */
static const char *ingest_http_allowed_origin(const char *origin, size_t len, void *arg)
{
    const struct ingest_thread *t = arg;
    const struct cfg_list *l = &t->in->cfg->allowed_origins;
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->v[i]) == len && memcmp(l->v[i], origin, len) == 0)
            return l->v[i];
    return NULL;
}

/* origin_gate: a request without Origin, or whose Origin is one of --allowed-origins (exact
 * text), goes on (1); the answers to one with an allowed Origin carry the CORS headers that let a
 * page there read them (hsrv_allow_origin). Any other Origin: 0 after answering 403. Browsers send
 * Origin on every cross-origin request and on every POST, and a page cannot remove or forge it, so
 * this turns away pages of other sites even on the loopback default. Owner thread. */
static int origin_gate(struct ingest_thread *t, struct hsrv_req *req, int route)
{
    if (req->origin == NULL)
        return 1;
    const char *allowed = ingest_http_allowed_origin(req->origin, req->origin_len, t);
    if (allowed != NULL) {
        hsrv_allow_origin(req->ref, allowed);
        return 1;
    }
    send_error(t, req, route, 403, "forbidden", "Origin", "not one of --allowed-origins",
               req->start_ns);
    return 0;
}

/* preflight: OPTIONS on any path, answered before the token check (a browser sends no
 * credentials with a CORS preflight): a foreign Origin gets 403 (origin_gate); then the rate
 * limits apply as to a request on its path (rates_admitted, the client-address bucket); an allowed
 * origin gets 200 with the methods and request headers a page may use, no Origin (not a browser)
 * 200 with Allow. The actual request is then checked like any other. Owner thread. */
static void preflight(struct ingest_thread *t, struct hsrv_req *req)
{
    const char *rest = "";
    int method = 0;
    int route = ingest_route_match(req->path, &method, &rest);
    if (!origin_gate(t, req, route))
        return;
    /* A preflight carries no token: it counts against its client address's bucket. */
    if (!rates_admitted(t, req, route, 0, "client address", req->start_ns))
        return;
    static const char cors[] =
        "Access-Control-Allow-Methods: GET, POST\r\nAccess-Control-Allow-Headers: Authorization, "
        "Content-Type, Idempotency-Key\r\nAccess-Control-Max-Age: 600\r\n";
    ingest_send(t, req->ref, route, 200, "text/plain; charset=utf-8",
                req->origin != NULL ? cors : "Allow: GET, POST\r\n", "", 0, req->start_ns);
}

/* The checks of a request that need no body, and what they find. */
struct gate {
    int route;        /* enum ingest_route */
    int method;       /* INGEST_METHOD_* of the route */
    int want;         /* the HTTP method the route takes */
    const char *rest; /* the path after the route's prefix (an id, a hash) */
    uint64_t rate_key;
    const struct auth_entry *token;
    const struct spend_token *token_w;
};

/* gate_passed: matches req's route, then checks its Origin (403) and its token and scope (401 or
 * 403, authorized). 1 when the request may go on, with g filled; 0 after answering. Owner
 * thread. */
static int gate_passed(struct ingest_thread *t, struct hsrv_req *req, struct gate *g)
{
    *g = (struct gate){.rest = ""};
    g->route = ingest_route_match(req->path, &g->method, &g->rest);
    g->want = g->method == INGEST_METHOD_POST ? INGEST_HTTP_POST : INGEST_HTTP_GET;
    if (!origin_gate(t, req, g->route))
        return 0;
    return authorized(t, req, g->route, req->method == g->want, &g->rate_key, &g->token,
                      &g->token_w, req->start_ns);
}

/* ingest_http_head: a request with a body, before the body is read. With --auth-tokens, the
 * checks that need no body run now (gate_passed), so a client without a valid token cannot make
 * nearftd read and hold a body: 1 after answering 403 or 401 (the connection closes), 0 to read
 * the body and take the request whole (the checks then run again, against the token table of
 * that moment). Owner thread. */
static int ingest_http_head(struct hsrv_req *req, void *arg)
{
    struct ingest_thread *t = arg;
    struct gate g;
    return t->in->auth_required && !gate_passed(t, req, &g);
}

static void ingest_http_request(struct hsrv_req *req, void *arg)
{
    struct ingest_thread *t = arg;
    uint64_t start_ns = req->start_ns;
    const char *query = req->query;
    if (req->method == INGEST_HTTP_OPTIONS && req->body_len == 0) {
        preflight(t, req);
        return;
    }
    struct gate g;
    if (!gate_passed(t, req, &g))
        return;
    const int route = g.route, method = g.method, want = g.want;
    const char *rest = g.rest;
    const uint64_t rate_key = g.rate_key;
    const struct auth_entry *token = g.token;
    const struct spend_token *token_w = g.token_w;
    if (!rates_admitted(t, req, route, rate_key, t->in->auth_required ? "token" : "client address",
                        start_ns))
        return;
    if (route == INGEST_ROUTE_OTHER) {
        send_error(t, req, route, 404, "not found", NULL, NULL, start_ns);
        return;
    }
    if (req->method != want) {
        method_not_allowed(t, req, route, method == INGEST_METHOD_POST ? "POST" : "GET", start_ns);
        return;
    }
    /* A body a browser can send without a CORS preflight (text/plain, form encodings) is not
     * taken: every POST must say it is JSON. */
    if (want == INGEST_HTTP_POST &&
        (req->content_type == NULL ||
         !ingest_content_type_json(req->content_type, req->content_type_len))) {
        send_error(t, req, route, 415, "unsupported media type", "Content-Type",
                   "must be application/json", start_ns);
        return;
    }
    switch (route) {
    case INGEST_ROUTE_V1_TRANSFERS_POST:
        post_transfers(t, req, route, query, token, token_w, start_ns);
        break;
    case INGEST_ROUTE_SEND_FT:
    case INGEST_ROUTE_RUST_TRANSFER:
        post_transfers(t, req, route, NULL, token, token_w, start_ns);
        break;
    case INGEST_ROUTE_V1_TRANSFERS_GET:
        get_v1_transfer(t, req, rest, start_ns);
        break;
    case INGEST_ROUTE_V1_TX_GET:
        get_tx(t, req, rest, 0, start_ns);
        break;
    case INGEST_ROUTE_NODE_TX_GET:
        get_tx(t, req, rest, 1, start_ns);
        break;
    case INGEST_ROUTE_NODE_JOB_GET:
        get_node_job(t, req, rest, start_ns);
        break;
    case INGEST_ROUTE_HEALTH:
        get_health(t, req, start_ns);
        break;
    case INGEST_ROUTE_METRICS:
        get_metrics(t, req, start_ns);
        break;
    case INGEST_ROUTE_DEBUG_RECENT:
        get_recent(t, req, start_ns);
        break;
    case INGEST_ROUTE_PAGE:
        get_page(t, req, start_ns);
        break;
    default:
        get_stages(t, req, start_ns);
        break;
    }
}

/* ---- the routes this file gives the transport ----------------------------------------------- */

static const struct ingest_routes http_routes = {
    .request = ingest_http_request,
    .head = ingest_http_head,
    .allowed_origin = ingest_http_allowed_origin,
    .accepted = ingest_http_accepted,
    .job = ingest_http_job,
    .timeout = ingest_http_timeout,
    .release_ctx_jobs = ingest_http_release_ctx_jobs,
};

struct ingest *ingest_new(const struct cfg *cfg, struct nf_pipe *p, int *err)
{
    return ingest_transport_new(cfg, p, &http_routes, err);
}
