/* submit: the submit stage. One thread ("submit") with its own event_base drives a curl multi
 * handle (curl_multi_socket_action) over keep-alive connections to every --rpc-url. It owns each
 * signed batch from the moment its SIGNED record is durable until its outcome is written: it
 * broadcasts the exact signed bytes with send_tx, resolves unknown outcomes by re-broadcasting
 * the same bytes or looking the hash up, and declares a transaction dead only when it provably
 * can never be included, on a proof that one endpoint gives whole, however far behind the chain
 * it is (the dead proof; docs/DESIGN.md). It also answers the batch stage's receiver lookups,
 * refreshes the latest final block hash for the signers, and keeps one circuit breaker per RPC
 * endpoint (include/breaker.h). It owns the endpoints, the request pool and every batch's submit
 * state; key figures it touches are atomics in the keypool. */
#include "submit.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "base58.h"
#include "breaker.h"
#include "cfg.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_time.h"
#include "rpc.h"
#include "stages.h"
#include "submit_decide.h"
#include "wal_rec.h"

#define REQ_BODY_CAP  (BATCH_TX_CAP * 4 / 3 + 1024)
#define REQ_RESP_CAP  (1024u * 1024u)
#define FUNDS_POLL_MS 500u /* view_account of the signer while out of NEAR */

enum req_purpose {
    P_SEND = 0, /* send_tx of a batch */
    P_TXSTATUS, /* tx by hash of a batch */
    P_BLOCK,    /* block final */
    P_VIEW_ACCOUNT,
    P_STORAGE, /* storage_balance_of */
    P_FUNDS,   /* view_account of the signer while signing is paused for lack of NEAR */
    P_TOKENS,  /* ft_balance_of the signer while signing is paused for lack of tokens */
    P_STATE,   /* view_account of the account short of NEAR for its state (LackBalanceForState) */
    P_KEYVIEW, /* view_access_key of a batch's key at final: the first step of its dead proof */
};

enum bstate_phase {
    PH_IDLE = 0,
    PH_WAIT_SLOT, /* waiting for a request slot / an endpoint */
    PH_INFLIGHT,
    PH_BACKOFF,
};

struct endpoint {
    char url[512];
    char shown[512]; /* rpc_url_redact(url): what /health, /metrics and logs show */
    struct curl_slist *headers;
    struct breaker br;
    /* Figures read by /metrics and /health on other threads: atomics (written only here). */
    _Atomic uint32_t inflight;
    _Atomic uint32_t limit; /* AIMD in-flight limit */
    uint64_t blocked_until_ms;
    int block_inflight; /* a `block` request to it is in flight (request_block) */
    _Atomic uint64_t requests, errors, rate_limited;
    uint64_t lat_hist[16]; /* ms, log2 buckets */
};

struct req {
    CURL *easy;
    int purpose;
    void *owner; /* struct batch * or struct lookup * */
    int ep;
    char *body;
    size_t body_len;
    char *resp;
    size_t resp_len;
    int resp_overflow;
    int retry_after_s;
    uint64_t start_ms;
    char id[24];
    struct req *next_free;
};

struct bstate {
    struct event *timer;
    int phase;
    int next_purpose; /* what to send when a slot frees: P_SEND, P_TXSTATUS or P_KEYVIEW */
    int status_wait;  /* enum rpc_wait for P_TXSTATUS */
    uint16_t lookups;
    /* dead proof (start_proof): running, what started it, and the endpoint both of its requests
     * go to (-1 until the first one is answered) */
    uint8_t proving;
    uint8_t proof_after_nonce; /* started by InvalidNonce (else by an expiry) */
    int pin_ep;
    struct batch *wait_next;
};

struct submit_stage {
    struct submit_wiring w;
    pthread_t thread;
    int started;
    struct event_base *base;
    struct event *ev_in, *ev_lookup, *ev_curl_timer, *ev_block, *ev_stop, *ev_retry;
    struct nf_ring stop_ring;
    CURLM *multi;
    int still_running;

    struct endpoint *eps;
    unsigned n_eps;
    unsigned rr;

    struct req *reqs;
    unsigned n_reqs;
    struct req *free_reqs;
    unsigned reqs_busy;

    struct bstate *bs; /* per batch slot */
    uint32_t n_batches;
    struct batch *wait_head, *wait_tail; /* batches waiting for a request slot */
    struct lookup *lwait_head;           /* lookups waiting for a request slot (via owner) */

    struct jtok *toks;
    size_t tok_cap;
    uint8_t call_out[4096];

    /* The latest final block published to the signers, and the endpoint that gave it (-1 before
     * the first). Final heights only grow: see on_block_answer. */
    uint64_t head_height;
    uint8_t head_hash[32];
    int head_ep;
    int block_retry; /* the last block answer was an error */
    int reconciling; /* recovered batches still unresolved */
    uint32_t recovered_left;

    /* out of NEAR: set on NotEnoughBalance / LackBalanceForState, cleared when a view_account of
     * the signer shows at least funds_needed again (polled every FUNDS_POLL_MS). */
    int out_of_funds;
    int out_of_tokens; /* paused until ft_balance_of(signer) >= tokens_needed */
    nf_u128 tokens_needed;
    /* paused after a receipt failed LackBalanceForState with no action index: until a
     * view_account of state_account shows amount + locked >= storage_usage * 10^19 */
    int out_of_state;
    char state_account[ACCOUNT_ID_MAX + 1];
    int funds_inflight;
    nf_u128 funds_needed;
    uint64_t funds_checked_ms;

    /* figures (written by this thread; relaxed) */
    _Atomic uint64_t sent, resent, succeeded, action_errors, dead, lookups_done, outcome_rewrites;
    _Atomic uint64_t kind_count[RPC_KIND_COUNT];
    _Atomic uint64_t dead_proofs[SUBMIT_PROOF_RESULTS]; /* by enum submit_proof_result */
    _Atomic uint64_t inflight_batches;
    _Atomic uint64_t lat_hist[16];
    _Atomic uint64_t lat_sum_ms; /* sum of the latencies lat_hist counts */
};

static struct submit_stage *g_submit_for_curl; /* curl callbacks get it via userp anyway */

static uint64_t mono_ms(void)
{
    return nf_now_ms();
}

static void schedule(struct submit_stage *s, struct batch *b, uint32_t delay_ms);
static void start_batch_request(struct submit_stage *s, struct batch *b);
static void pump_waiting(struct submit_stage *s);

/* ---- curl <-> libevent glue (the hiperfifo pattern) ------------------------------------------ */

struct sockinfo {
    struct event *ev;
    struct submit_stage *s;
};

static void check_done(struct submit_stage *s);

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    struct submit_stage *s = arg;
    int action =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(s->multi, fd, action, &s->still_running);
    check_done(s);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
    (void)e;
    struct submit_stage *s = userp;
    struct sockinfo *si = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (si) {
            event_free(si->ev);
            free(si);
            curl_multi_assign(s->multi, fd, NULL);
        }
        return 0;
    }
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    if (si == NULL) {
        si = calloc(1, sizeof(*si)); /* one per connection, kept while it lives */
        if (si == NULL)
            return -1;
        si->s = s;
        curl_multi_assign(s->multi, fd, si);
    } else {
        event_free(si->ev);
    }
    si->ev = event_new(s->base, fd, kind, on_sock_event, s);
    event_add(si->ev, NULL);
    return 0;
}

static void on_curl_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct submit_stage *s = arg;
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &s->still_running);
    check_done(s);
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    struct submit_stage *s = userp;
    if (timeout_ms < 0) {
        evtimer_del(s->ev_curl_timer);
        return 0;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    evtimer_add(s->ev_curl_timer, &tv);
    return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct req *r = userdata;
    size_t n = size * nmemb;
    if (r->resp_len + n > REQ_RESP_CAP) {
        r->resp_overflow = 1;
        return n; /* swallow: classified as malformed */
    }
    memcpy(r->resp + r->resp_len, ptr, n);
    r->resp_len += n;
    return n;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct req *r = userdata;
    size_t n = size * nitems;
    /* buf is not NUL-terminated: rpc_retry_after reads buf[0..n) only. */
    int v = rpc_retry_after(buf, n);
    if (v >= 0)
        r->retry_after_s = v;
    return n;
}

/* ---- endpoints and requests ------------------------------------------------------------------ */

/* endpoint_ready: whether a request may go to e now: not blocked by a Retry-After, under its AIMD
 * limit, its breaker closed (closed_only) or at least allowing a half-open probe (which this then
 * counts). */
static int endpoint_ready(struct endpoint *e, uint64_t now, int closed_only)
{
    if (e->blocked_until_ms > now || e->inflight >= e->limit)
        return 0;
    if (closed_only && breaker_state(&e->br, now) != BREAKER_CLOSED)
        return 0;
    return breaker_allow(&e->br, now);
}

/* pick_endpoint: a usable endpoint (endpoint_ready), least loaded first. -1 when none. */
static int pick_endpoint(struct submit_stage *s)
{
    uint64_t now = mono_ms();
    int best = -1;
    /* Pass 0: endpoints whose breaker is closed. Pass 1 (only when none is usable): half-open
     * ones, which then get their probes. So a healthy endpoint is never starved by probes of a
     * broken one (the block hash, for one, must keep coming), and a broken one is probed as soon
     * as it is all there is. */
    for (int pass = 0; pass < 2 && best < 0; pass++) {
        for (unsigned t = 0; t < s->n_eps; t++) {
            unsigned i = (s->rr + t) % s->n_eps;
            struct endpoint *e = &s->eps[i];
            if (!endpoint_ready(e, now, pass == 0))
                continue;
            if (best < 0 || e->inflight < s->eps[best].inflight)
                best = (int)i;
        }
    }
    if (best >= 0)
        s->rr = (unsigned)best + 1;
    return best;
}

/* endpoint_usable: pick_endpoint's test for one given endpoint (a dead proof's second request
 * goes where its first went). 1 usable (a half-open breaker counts the probe), 0 at its in-flight
 * limit for now, -1 blocked by a Retry-After or refused by its breaker. */
static int endpoint_usable(struct submit_stage *s, int i)
{
    uint64_t now = mono_ms();
    struct endpoint *e = &s->eps[i];
    if (e->blocked_until_ms > now)
        return -1;
    if (e->inflight >= e->limit)
        return 0;
    return breaker_allow(&e->br, now) ? 1 : -1;
}

static struct req *req_get(struct submit_stage *s)
{
    struct req *r = s->free_reqs;
    if (r)
        s->free_reqs = r->next_free;
    return r;
}

static void req_put(struct submit_stage *s, struct req *r)
{
    r->next_free = s->free_reqs;
    s->free_reqs = r;
}

/* req_fire: sends r (body already built) to endpoint ep. */
static void req_fire(struct submit_stage *s, struct req *r, int ep)
{
    struct endpoint *e = &s->eps[ep];
    r->ep = ep;
    r->resp_len = 0;
    r->resp_overflow = 0;
    r->retry_after_s = -1;
    r->start_ms = mono_ms();
    e->inflight++;
    e->requests++;
    breaker_on_request(&e->br, r->start_ms);
    s->reqs_busy++;
    CURL *c = r->easy;
    curl_easy_setopt(c, CURLOPT_URL, e->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)r->body_len);
    curl_multi_add_handle(s->multi, c);
}

/* ---- batch completion ---------------------------------------------------------------------- */

static void key_release(struct submit_stage *s, struct batch *b)
{
    if (b->key < 0)
        return;
    struct pool_key *k = &s->w.keys->keys[b->key];
    atomic_fetch_sub_explicit(&k->inflight, 1, memory_order_acq_rel);
    /* A signer may be holding batches for a key with room: wake the shard's signer. */
    struct nf_ring *r = &s->w.sign_in[k->shard];
    nf_ring_wake(r);
}

/* finish: the batch's fate is known (b->result). Publishes every job's state, requeues the
 * transfers that must go into a new transaction, writes OUTCOME + JOB_FINAL records and hands
 * the batch to the WAL, whose done() returns it to the batch stage. */
static void finish(struct submit_stage *s, struct batch *b)
{
    struct bstate *st = &s->bs[b->slot];
    if (st->timer)
        evtimer_del(st->timer);
    st->phase = PH_IDLE;
    uint64_t now = nf_now_ms();
    key_release(s, b);
    atomic_fetch_sub_explicit(&s->inflight_batches, 1, memory_order_relaxed);
    if (b->recovered && s->recovered_left > 0 && --s->recovered_left == 0) {
        NF_LOG(NF_LOG_INFO, "submit", "start-up reconciliation finished");
        stage_set_reconciled(s->w.shared);
    }

    size_t off = 0;
    if (b->tx_len > 0) {
        struct wal_rec rec = {.type = WAL_OUTCOME};
        memcpy(rec.outcome.tx_hash, b->tx_hash, 32);
        rec.outcome.result = b->result == BATCH_SUCCESS        ? WAL_OUT_SUCCESS
                             : b->result == BATCH_ACTION_ERROR ? WAL_OUT_ACTION_ERROR
                                                               : WAL_OUT_DEAD;
        rec.outcome.failed_index = b->result == BATCH_ACTION_ERROR ? b->failed_index : -1;
        rec.outcome.message.ptr = b->message;
        rec.outcome.message.len = strlen(b->message);
        rec.outcome.ts_ms = now;
        size_t len = 0;
        if (wal_rec_encode_framed(&rec, b->rec, BATCH_REC_CAP, &len) == 0)
            off = len;
    }
    /* Which job does the failed action belong to? (a storage_deposit fails its transfer) */
    uint64_t failed_job = 0;
    if (b->result == BATCH_ACTION_ERROR && b->failed_index >= 0 && b->failed_index < b->n)
        failed_job = b->job_ids[b->failed_index];

    for (unsigned i = 0; i < b->n; i++) {
        if (b->kinds[i] != WAL_ACT_FT_TRANSFER)
            continue;
        uint64_t id = b->job_ids[i];
        struct job *j = job_slot(s->w.jobs, id);
        if (atomic_load_explicit(&j->id, memory_order_relaxed) != id)
            continue; /* cannot happen: the batch owns its jobs */
        /* Only what this transaction still holds, as replay decides (recovery.c,
         * replay_outcome): a transfer already final, or whose latest transaction is another one
         * (a recovered transaction resolved after its transfers were signed again), keeps its
         * state. A batch that was never signed (tx_len 0) holds all of its transfers. */
        if (b->tx_len > 0) {
            enum job_status cur = job_get_status(j);
            if (cur == JOB_EXECUTED || cur == JOB_FAILED || !job_tx_hash_is(j, b->tx_hash))
                continue;
        }
        int final = 0;
        struct wal_rec rec = {.type = WAL_JOB_FINAL};
        rec.job_final.job_id = id;
        rec.job_final.ts_ms = now;
        if (b->result == BATCH_SUCCESS) {
            final = 1;
            rec.job_final.status = WAL_JOB_EXECUTED;
            rec.job_final.has_tx_hash = 1;
            memcpy(rec.job_final.tx_hash, b->tx_hash, 32);
            rec.job_final.error.ptr = NULL;
        } else if (b->result == BATCH_ACTION_ERROR && id == failed_job) {
            final = 1;
            snprintf(j->error, sizeof(j->error), "%.*s", (int)sizeof(j->error) - 1,
                     b->message[0] ? b->message : "transaction failed");
            rec.job_final.status = WAL_JOB_FAILED;
            rec.job_final.has_tx_hash = 1;
            memcpy(rec.job_final.tx_hash, b->tx_hash, 32);
            rec.job_final.error.ptr = j->error;
            rec.job_final.error.len = strlen(j->error);
        }
        if (final) {
            size_t len = 0;
            if (wal_rec_encode_framed(&rec, b->rec + off, BATCH_REC_CAP - off, &len) == 0)
                off += len;
            j->done_ms = now;
            if (j->submitted_ms == 0)
                j->submitted_ms = now;
            /* release: publishes error/tx_hash/done_ms; after this store the slot may be
             * recycled by an ingest thread, so j is not touched again. The notify reads only
             * waiter fields, which stay until the waiter's ingest thread reads them. */
            job_set_status(j, rec.job_final.status == WAL_JOB_EXECUTED ? JOB_EXECUTED : JOB_FAILED);
            s->w.hub.notify_job(s->w.hub.ctx, j);
        } else {
            /* Needs a new transaction: the WAL hub requeues it once this outcome (the proof
             * that the old transaction can never land) is durable. */
            job_set_status(j, JOB_QUEUED);
        }
    }
    if (b->result == BATCH_SUCCESS)
        atomic_fetch_add_explicit(&s->succeeded, 1, memory_order_relaxed);
    else if (b->result == BATCH_ACTION_ERROR)
        atomic_fetch_add_explicit(&s->action_errors, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&s->dead, 1, memory_order_relaxed);

    b->rec_len = (uint32_t)off;
    b->wal.data = b->rec;
    b->wal.len = off;
    b->wal.pre = NULL;
    b->wal.done = s->w.hub.outcome_done;
    b->wal.cookie = b;
    if (wal_submit_spsc(s->w.wal, s->w.wal_producer, &b->wal) != 0) {
        /* WAL ring full: try again shortly (the records are in b->rec). */
        st->phase = PH_BACKOFF;
        st->next_purpose = -1;
        schedule(s, b, 5);
    }
}

static void mark_submitted(struct submit_stage *s, struct batch *b)
{
    uint64_t now = nf_now_ms();
    for (unsigned i = 0; i < b->n; i++) {
        if (b->kinds[i] != WAL_ACT_FT_TRANSFER)
            continue;
        struct job *j = job_slot(s->w.jobs, b->job_ids[i]);
        if (job_get_status(j) < JOB_SUBMITTED) {
            j->submitted_ms = now;
            job_set_status(j, JOB_SUBMITTED);
            s->w.hub.notify_job(s->w.hub.ctx, j);
        }
    }
}

/* ---- the batch state machine ----------------------------------------------------------------- */

static void on_batch_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct batch *b = arg;
    struct submit_stage *s = g_submit_for_curl;
    struct bstate *st = &s->bs[b->slot];
    if (st->next_purpose < 0) {
        /* outcome records still to hand to the WAL */
        if (wal_submit_spsc(s->w.wal, s->w.wal_producer, &b->wal) != 0)
            schedule(s, b, 5);
        return;
    }
    start_batch_request(s, b);
}

static void schedule(struct submit_stage *s, struct batch *b, uint32_t delay_ms)
{
    struct bstate *st = &s->bs[b->slot];
    struct timeval tv = {.tv_sec = delay_ms / 1000,
                         .tv_usec = (suseconds_t)(delay_ms % 1000) * 1000};
    evtimer_add(st->timer, &tv);
}

static uint32_t next_backoff(struct batch *b)
{
    uint32_t d = b->backoff_ms ? b->backoff_ms * 2 : 100;
    if (d > 5000)
        d = 5000;
    b->backoff_ms = d;
    /* jitter: +-25 % from the slot number and the attempt count (no shared RNG state) */
    uint32_t j = (b->slot * 2654435761u + b->broadcasts * 40503u) % (d / 2 + 1);
    return d - d / 4 + j;
}

static void wait_for_slot(struct submit_stage *s, struct batch *b)
{
    struct bstate *st = &s->bs[b->slot];
    st->phase = PH_WAIT_SLOT;
    b->next = NULL;
    if (s->wait_tail)
        s->wait_tail->next = b;
    else
        s->wait_head = b;
    s->wait_tail = b;
}

static void proof_end(struct submit_stage *s, struct batch *b, enum submit_proof_result result);

static void start_batch_request(struct submit_stage *s, struct batch *b)
{
    struct bstate *st = &s->bs[b->slot];
    int ep;
    struct req *r;
    if (st->pin_ep >= 0) {
        /* the dead proof's lookup: the endpoint that gave the final height and nonce, or none */
        int u = s->free_reqs != NULL ? endpoint_usable(s, st->pin_ep) : 0;
        if (u < 0) {
            proof_end(s, b, SUBMIT_PROOF_FAILED);
            return;
        }
        if (u == 0) {
            st->phase = PH_BACKOFF; /* a request or the endpoint's in-flight room frees up soon */
            schedule(s, b, 20);
            return;
        }
        r = req_get(s);
        ep = st->pin_ep;
    } else {
        ep = pick_endpoint(s);
        r = ep >= 0 ? req_get(s) : NULL;
        if (r == NULL) {
            wait_for_slot(s, b);
            return;
        }
    }
    r->purpose = st->next_purpose;
    r->owner = b;
    snprintf(r->id, sizeof(r->id), "b%u.%u", b->slot, b->broadcasts);
    int len;
    if (r->purpose == P_KEYVIEW) {
        len = rpc_build_view_access_key(r->body, REQ_BODY_CAP, r->id, RPC_FINALITY_FINAL,
                                        s->w.cfg->signer, s->w.keys->keys[b->key].public_str);
    } else if (r->purpose == P_SEND) {
        len = rpc_build_send_tx(r->body, REQ_BODY_CAP, r->id, b->tx, b->tx_len,
                                (enum rpc_wait)s->w.cfg->wait_until);
        b->broadcasts++;
        if (b->broadcasts == 1) {
            b->first_sent_ms = nf_now_ms();
            atomic_fetch_add_explicit(&s->sent, 1, memory_order_relaxed);
        } else {
            atomic_fetch_add_explicit(&s->resent, 1, memory_order_relaxed);
        }
    } else {
        char h58[B58_MAX_32];
        b58_encode(b->tx_hash, 32, h58, sizeof(h58));
        len = rpc_build_tx_status(r->body, REQ_BODY_CAP, r->id, h58, s->w.cfg->signer,
                                  (enum rpc_wait)st->status_wait);
    }
    if (len < 0) {
        req_put(s, r);
        NF_LOG(NF_LOG_ERROR, "submit", "cannot build request err=%s", nf_strerror(len));
        b->result = BATCH_DEAD;
        finish(s, b);
        return;
    }
    r->body_len = (size_t)len;
    st->phase = PH_INFLIGHT;
    req_fire(s, r, ep);
}

/* funds_short: the signer cannot pay (NotEnoughBalance: balance < cost; LackBalanceForState:
 * its balance would fall under the storage stake). Signing pauses until a view_account shows at
 * least what this transaction needed (the largest shortfall seen while paused). */
static void funds_short(struct submit_stage *s, const struct rpc_result *res)
{
    nf_u128 need = res->kind == RPC_NOT_ENOUGH_BALANCE ? res->cost : res->balance + 1;
    if (!s->out_of_funds) {
        s->out_of_funds = 1;
        s->funds_needed = 0;
        s->funds_checked_ms = mono_ms();
        stage_set_out_of_funds(s->w.shared, 1);
    }
    if (need > s->funds_needed)
        s->funds_needed = need;
}

/* tokens_short: an ft_transfer failed because the signer's token balance is below its amount.
 * When the amount could ever be paid (it is at most the token's total supply), the transaction
 * counts as dead instead (it was included and failed: it can never land again), every transfer
 * goes back to be re-signed, and signing pauses until ft_balance_of(signer) covers the amount:
 * payouts wait for a top-up instead of failing. An amount above the total supply fails alone. */
static void tokens_short(struct submit_stage *s, struct batch *b)
{
    if (b->failed_index < 0 || b->failed_index >= b->n ||
        b->kinds[b->failed_index] != WAL_ACT_FT_TRANSFER ||
        strstr(b->message, "doesn't have enough balance") == NULL)
        return;
    struct job *j = job_slot(s->w.jobs, b->job_ids[b->failed_index]);
    nf_u128 supply = stage_ft_supply(s->w.shared);
    if (supply == 0 || j->amount > supply)
        return;
    b->result = BATCH_DEAD;
    snprintf(b->message, sizeof(b->message),
             "signer's token balance too low: waiting for a top-up (transaction reverted)");
    if (j->amount > s->tokens_needed)
        s->tokens_needed = j->amount;
    if (!s->out_of_tokens) {
        s->out_of_tokens = 1;
        s->funds_checked_ms = mono_ms();
        stage_set_out_of_tokens(s->w.shared, 1);
    }
}

/* state_short: the receipt failed after all its actions (ActionError without index; nearcore
 * sends none only for LackBalanceForState found by the storage-stake check after the last
 * action). The whole receipt was rolled back: no transfer is at fault and none of them ran, so
 * the transaction counts as dead (included and failed: it can never land again) and every
 * transfer goes back to be re-signed. When an account (the token contract) lacks NEAR for its
 * state, signing pauses until it is funded, so the same failure is not bought again with gas. */
static void state_short(struct submit_stage *s, struct batch *b, const struct rpc_result *res)
{
    b->result = BATCH_DEAD;
    if (strcmp(res->failure_kind, "LackBalanceForState") != 0 || res->failure_account[0] == 0) {
        snprintf(b->message, sizeof(b->message),
                 "transaction reverted after its last action (%s): transfers re-signed",
                 res->failure_kind[0] ? res->failure_kind : "no action index");
        return;
    }
    char lack[U128_STR_MAX];
    u128_format(res->failure_amount, lack);
    snprintf(b->message, sizeof(b->message),
             "%s lacks %s yoctoNEAR for its state (LackBalanceForState): transaction reverted, "
             "transfers wait until it is funded",
             res->failure_account, lack);
    NF_LOG(NF_LOG_ERROR, "submit", "LackBalanceForState account=%s lacking=%s",
           res->failure_account, lack);
    snprintf(s->state_account, sizeof(s->state_account), "%s", res->failure_account);
    if (!s->out_of_state) {
        s->out_of_state = 1;
        s->funds_checked_ms = mono_ms();
        stage_set_out_of_state(s->w.shared, 1);
    }
}

/* declare_dead: the transaction provably can never be included (the caller confirmed with a
 * lookup that the hash is unknown after a rejection that proves it, or the dead proof held);
 * b->message says why. Its transfers go into new transactions once this outcome is durable. */
static void declare_dead(struct submit_stage *s, struct batch *b)
{
    b->result = BATCH_DEAD;
    finish(s, b);
}

/* ---- the dead proof ---------------------------------------------------------------------------
 * After InvalidNonce, or an expiry when an earlier broadcast may have been accepted, a `tx`
 * lookup that says UNKNOWN_TRANSACTION proves nothing by itself: a node behind the chain says so
 * of a transaction it has not reached yet. So one endpoint is asked view_access_key of the key at
 * final, which gives its final height F and the key's nonce at F, and then the SAME endpoint is
 * asked for the hash (wait_until NONE). The transaction is dead only when
 *   (nonce at F >= its nonce, or F >= block_height + tx_validity_blocks + 1) and the hash is
 *   unknown there:
 * that endpoint has seen every block up to F, the transaction is in none of them, and after F it
 * can never be included (its nonce is used; or no block after F can take its block hash). Anything
 * else is not proven: the same bytes are sent again later and the transfers stay with it. */

static void start_proof(struct submit_stage *s, struct batch *b, int after_nonce)
{
    struct bstate *st = &s->bs[b->slot];
    st->proof_after_nonce = (uint8_t)after_nonce;
    st->pin_ep = -1;
    st->proving = 1;
    if (b->key < 0) { /* cannot happen for a signed transaction: nothing to ask about */
        proof_end(s, b, SUBMIT_PROOF_FAILED);
        return;
    }
    st->next_purpose = P_KEYVIEW;
    schedule(s, b, 0);
}

/* proof_end: the proof's verdict. dead: the transaction's transfers go to new transactions;
 * known: the caller follows the transaction; not proven or failed: the same bytes again after a
 * while (a re-broadcast of a known transaction is answered with its status). */
static void proof_end(struct submit_stage *s, struct batch *b, enum submit_proof_result result)
{
    struct bstate *st = &s->bs[b->slot];
    st->proving = 0;
    st->pin_ep = -1;
    atomic_fetch_add_explicit(&s->dead_proofs[result], 1, memory_order_relaxed);
    switch (result) {
    case SUBMIT_PROOF_DEAD:
        declare_dead(s, b);
        return;
    case SUBMIT_PROOF_KNOWN:
        return;
    default:
        st->next_purpose = P_SEND;
        schedule(s, b, st->proof_after_nonce ? next_backoff(b) : 5000);
        return;
    }
}

/* on_proof_view: the view_access_key answer of a dead proof, from endpoint r->ep. */
static void on_proof_view(struct submit_stage *s,
                          struct batch *b,
                          const struct req *r,
                          const struct rpc_result *res)
{
    struct bstate *st = &s->bs[b->slot];
    if (res->kind == RPC_UNKNOWN_ACCESS_KEY) {
        proof_end(s, b, SUBMIT_PROOF_NOT_PROVEN); /* no key at F there: nothing follows from it */
        return;
    }
    if (res->kind != RPC_OK_ACCESS_KEY || !res->has_block) {
        proof_end(s, b, SUBMIT_PROOF_FAILED);
        return;
    }
    int nonce_used = res->nonce >= b->nonce;
    int window_over = res->block_height >= b->block_height + s->w.cfg->tx_validity_blocks + 1;
    NF_LOG(NF_LOG_DEBUG, "submit",
           "dead proof slot=%u ep=%d final=%llu nonce=%llu tx_nonce=%llu tx_block=%llu", b->slot,
           r->ep, (unsigned long long)res->block_height, (unsigned long long)res->nonce,
           (unsigned long long)b->nonce, (unsigned long long)b->block_height);
    if (!nonce_used && !window_over) {
        proof_end(s, b, SUBMIT_PROOF_NOT_PROVEN);
        return;
    }
    /* The lookup goes to this endpoint, and only to it. */
    st->pin_ep = r->ep;
    st->next_purpose = P_TXSTATUS;
    st->status_wait = RPC_WAIT_NONE;
    schedule(s, b, 0);
}

/* confirm_unknown: every broadcast so far was refused (a definitive rejection, or an expiry of
 * bytes never in any pool): one `tx` lookup with wait_until NONE, at once, confirms the hash is
 * unknown before the batch is declared dead (see the RPC_UNKNOWN_TRANSACTION step). */
static void confirm_unknown(struct submit_stage *s, struct batch *b)
{
    struct bstate *st = &s->bs[b->slot];
    st->lookups++;
    st->next_purpose = P_TXSTATUS;
    st->status_wait = RPC_WAIT_NONE;
    schedule(s, b, 0);
}

/* send_again: the same bytes again after delay (a SUBMIT_DELAY_* that schedules). */
static void send_again(struct submit_stage *s, struct batch *b, enum submit_delay delay)
{
    struct bstate *st = &s->bs[b->slot];
    st->next_purpose = P_SEND;
    if (delay == SUBMIT_DELAY_NOW)
        schedule(s, b, 0);
    else if (delay == SUBMIT_DELAY_BACKOFF_LONG)
        schedule(s, b, next_backoff(b) + 1000);
    else
        schedule(s, b, next_backoff(b));
}

/* A send_tx or tx answer about batch b, or its dead proof's view_access_key: submit_decide
 * says what follows, applied here (flags in their order, the message, then the step). */
static void on_batch_answer(struct submit_stage *s,
                            struct batch *b,
                            struct req *r,
                            const struct rpc_result *res)
{
    struct bstate *st = &s->bs[b->slot];
    struct pool_key *k = b->key >= 0 ? &s->w.keys->keys[b->key] : NULL;
    atomic_fetch_add_explicit(&s->kind_count[res->kind], 1, memory_order_relaxed);
    struct submit_answer a = {
        .kind = res->kind,
        .tx_status = res->tx_status,
        .failure_invalid_tx = res->failure_invalid_tx != 0,
        .failure_no_action = res->failure_action < 0,
        .ask = r->purpose == P_SEND       ? SUBMIT_ASK_SEND
               : r->purpose == P_TXSTATUS ? SUBMIT_ASK_TXSTATUS
                                          : SUBMIT_ASK_KEYVIEW,
        .proving = st->proving != 0,
        .maybe_accepted = b->maybe_accepted != 0,
        .lookups_pending = st->lookups > 0,
        .status_wait_none = st->status_wait == RPC_WAIT_NONE,
    };
    struct submit_decision d = submit_decide(&a);

    if (d.flags & SUBMIT_DF_PROOF_KNOWN)
        proof_end(s, b, SUBMIT_PROOF_KNOWN); /* the proof's lookup found it: follow it */
    if (d.flags & SUBMIT_DF_MAYBE_ACCEPTED)
        b->maybe_accepted = 1;
    if ((d.flags & SUBMIT_DF_RESYNC_NONCE) && k && keypool_raise_nonce(k, res->ak_nonce + 1))
        NF_LOG(NF_LOG_WARN, "submit", "nonce resync key=%u ak_nonce=%llu", b->key,
               (unsigned long long)res->ak_nonce);
    if ((d.flags & SUBMIT_DF_QUARANTINE) && k) {
        char why[128];
        snprintf(why, sizeof(why), "%s", rpc_kind_name(res->kind));
        keypool_quarantine(k, why);
        NF_LOG(NF_LOG_ERROR, "submit", "key quarantined key=%s reason=%s", k->public_str, why);
    }
    switch (d.msg) {
    case SUBMIT_MSG_KIND:
        snprintf(b->message, sizeof(b->message), "%s", rpc_kind_name(res->kind));
        break;
    case SUBMIT_MSG_KIND_CAUSE:
        snprintf(b->message, sizeof(b->message), "%s %s", rpc_kind_name(res->kind), res->cause);
        break;
    case SUBMIT_MSG_NONCE:
        snprintf(b->message, sizeof(b->message), "InvalidNonce tx_nonce=%llu ak_nonce=%llu",
                 (unsigned long long)res->tx_nonce, (unsigned long long)res->ak_nonce);
        break;
    case SUBMIT_MSG_NONE:
        break;
    }
    if (d.flags & SUBMIT_DF_FUNDS_SHORT)
        funds_short(s, res);

    switch (d.action) {
    case SUBMIT_DO_PROOF_VIEW:
        on_proof_view(s, b, r, res);
        return;
    case SUBMIT_DO_PROOF_DEAD:
        proof_end(s, b, SUBMIT_PROOF_DEAD);
        return;
    case SUBMIT_DO_PROOF_FAILED:
        proof_end(s, b, SUBMIT_PROOF_FAILED);
        return;
    case SUBMIT_DO_FINISH_SUCCESS:
        mark_submitted(s, b);
        b->result = BATCH_SUCCESS;
        finish(s, b);
        return;
    case SUBMIT_DO_FINISH_INVALID_AT_INCL:
        /* Included but invalid at execution (e.g. nonce): nothing of it ran. */
        mark_submitted(s, b);
        b->result = BATCH_DEAD;
        snprintf(b->message, sizeof(b->message), "transaction invalid at inclusion: %s",
                 res->cause);
        finish(s, b);
        return;
    case SUBMIT_DO_FINISH_STATE_SHORT:
        mark_submitted(s, b);
        state_short(s, b, res); /* failed after its last action: nothing ran */
        finish(s, b);
        return;
    case SUBMIT_DO_FINISH_ACTION_ERROR:
        mark_submitted(s, b);
        b->result = BATCH_ACTION_ERROR;
        b->failed_index = (int32_t)res->failure_action;
        snprintf(b->message, sizeof(b->message), "%s", res->message);
        tokens_short(s, b);
        finish(s, b);
        return;
    case SUBMIT_DO_FOLLOW_BY_HASH:
        /* Accepted but no outcome yet (NONE / INCLUDED / partial): follow it by hash. */
        mark_submitted(s, b);
        st->next_purpose = P_TXSTATUS;
        st->status_wait = RPC_WAIT_EXECUTED_OPTIMISTIC;
        schedule(s, b, d.delay == SUBMIT_DELAY_NOW ? 0 : 200);
        return;
    case SUBMIT_DO_DECLARE_DEAD:
        /* The confirming lookup after a definitive rejection: the hash is unknown. */
        declare_dead(s, b);
        return;
    case SUBMIT_DO_CONFIRM_UNKNOWN:
        confirm_unknown(s, b);
        return;
    case SUBMIT_DO_SEND_AGAIN:
        send_again(s, b, d.delay);
        return;
    case SUBMIT_DO_PROOF_AFTER_NONCE:
        start_proof(s, b, 1);
        return;
    case SUBMIT_DO_PROOF_AFTER_EXPIRY:
        start_proof(s, b, 0);
        return;
    }
}

/* ---- lookups and block refresh --------------------------------------------------------------- */

static void lookup_return(struct submit_stage *s, struct lookup *l)
{
    atomic_fetch_add_explicit(&s->lookups_done, 1, memory_order_relaxed);
    if (nf_ring_push_spsc(s->w.lookup_done, l) == 0)
        nf_ring_wake(s->w.lookup_done);
}

static int start_lookup(struct submit_stage *s, struct lookup *l, int purpose)
{
    int ep = pick_endpoint(s);
    struct req *r = ep >= 0 ? req_get(s) : NULL;
    if (r == NULL)
        return NF_EFULL;
    unsigned slot = l->slot;
    r->purpose = purpose;
    r->owner = l;
    snprintf(r->id, sizeof(r->id), "l%u", slot);
    int len =
        purpose == P_VIEW_ACCOUNT
            ? rpc_build_view_account(r->body, REQ_BODY_CAP, r->id, RPC_FINALITY_FINAL, l->receiver)
            : rpc_build_account_view(r->body, REQ_BODY_CAP, r->id, RPC_FINALITY_FINAL,
                                     s->w.cfg->contract, "storage_balance_of", l->receiver);
    if (len < 0) {
        req_put(s, r);
        lookup_return(s, l);
        return 0;
    }
    r->body_len = (size_t)len;
    req_fire(s, r, ep);
    return 0;
}

static void on_lookup_answer(struct submit_stage *s,
                             struct lookup *l,
                             struct req *r,
                             const struct rpc_result *res)
{
    if (r->purpose == P_VIEW_ACCOUNT) {
        if (res->kind == RPC_UNKNOWN_ACCOUNT) {
            l->exists = 0;
            l->registered = 0;
            lookup_return(s, l);
            return;
        }
        if (res->kind != RPC_OK_ACCOUNT) {
            lookup_return(s, l); /* unknown: the batch stage asks again */
            return;
        }
        l->exists = 1;
        if (!s->w.cfg->auto_register && !s->w.cfg->check_receiver_exists) {
            lookup_return(s, l);
            return;
        }
        if (start_lookup(s, l, P_STORAGE) != 0)
            lookup_return(s, l);
        return;
    }
    /* null: not registered; a StorageBalance object: registered. Any other answer counts as
     * registered too, as it always has: an unknown verdict would send the batch stage straight
     * back to the same lookup, and a receiver wrongly taken as registered only makes its
     * transfer fail with the contract's own error. rpc_parse is done with the token scratch. */
    int registered = 1;
    if (res->kind == RPC_OK_CALL) {
        if (rpc_call_storage_balance((const char *)s->call_out, res->call_len, s->toks, s->tok_cap,
                                     &registered) != 0)
            registered = 1;
        l->registered = (int8_t)registered;
    }
    lookup_return(s, l);
}

/* block_ask: one `block` (finality final) request to endpoint ep. 0, or -1 when no request
 * slot is free or the body cannot be built. */
static int block_ask(struct submit_stage *s, int ep)
{
    struct req *r = req_get(s);
    if (r == NULL)
        return -1;
    r->purpose = P_BLOCK;
    r->owner = NULL;
    snprintf(r->id, sizeof(r->id), "blk");
    int len = rpc_build_block_final(r->body, REQ_BODY_CAP, r->id);
    if (len < 0) {
        req_put(s, r);
        return -1;
    }
    r->body_len = (size_t)len;
    s->eps[ep].block_inflight = 1;
    req_fire(s, r, ep);
    return 0;
}

/* request_block: asks every endpoint whose breaker is closed (and that has room and no block
 * request in flight) for the latest final block, so the published block is the highest that a
 * healthy endpoint reports however the load is spread (on_block_answer); when none is closed,
 * pick_endpoint's choice (a half-open endpoint gets its probe). One request per endpoint per
 * refresh: a handful of small views. */
static void request_block(struct submit_stage *s)
{
    uint64_t now = mono_ms();
    int asked = 0;
    for (unsigned i = 0; i < s->n_eps; i++) {
        struct endpoint *e = &s->eps[i];
        if (e->block_inflight) {
            asked = 1;
            continue;
        }
        if (endpoint_ready(e, now, 1) && block_ask(s, (int)i) == 0)
            asked = 1;
    }
    if (!asked) {
        int ep = pick_endpoint(s);
        if (ep >= 0)
            block_ask(s, ep);
    }
}

/* check_funds: while out of NEAR, looks at the signer's balance every FUNDS_POLL_MS. */
static void check_funds(struct submit_stage *s)
{
    uint64_t now = mono_ms();
    if ((!s->out_of_funds && !s->out_of_tokens && !s->out_of_state) || s->funds_inflight ||
        now - s->funds_checked_ms < FUNDS_POLL_MS)
        return;
    int ep = pick_endpoint(s);
    struct req *r = ep >= 0 ? req_get(s) : NULL;
    if (r == NULL)
        return;
    r->purpose = s->out_of_funds ? P_FUNDS : s->out_of_state ? P_STATE : P_TOKENS;
    r->owner = NULL;
    snprintf(r->id, sizeof(r->id), "funds");
    int len = r->purpose == P_FUNDS ? rpc_build_view_account(r->body, REQ_BODY_CAP, r->id,
                                                             RPC_FINALITY_FINAL, s->w.cfg->signer)
              : r->purpose == P_STATE
                  ? rpc_build_view_account(r->body, REQ_BODY_CAP, r->id, RPC_FINALITY_FINAL,
                                           s->state_account)
                  : rpc_build_account_view(r->body, REQ_BODY_CAP, r->id, RPC_FINALITY_FINAL,
                                           s->w.cfg->contract, "ft_balance_of", s->w.cfg->signer);
    if (len < 0) {
        req_put(s, r);
        return;
    }
    r->body_len = (size_t)len;
    s->funds_inflight = 1;
    s->funds_checked_ms = now;
    req_fire(s, r, ep);
}

static void on_funds_answer(struct submit_stage *s, const struct rpc_result *res)
{
    s->funds_inflight = 0;
    if (!s->out_of_funds || res->kind != RPC_OK_ACCOUNT || res->amount < s->funds_needed)
        return;
    s->out_of_funds = 0;
    stage_set_out_of_funds(s->w.shared, 0);
    /* Signers hold batches while paused: wake every shard. */
    for (unsigned i = 0; i < s->w.keys->shards; i++)
        nf_ring_wake(&s->w.sign_in[i]);
}

/* on_state_answer: the account short of NEAR for its state covers it again (nearcore's check:
 * amount + locked >= storage_usage * storage_amount_per_byte): signing resumes. */
static void on_state_answer(struct submit_stage *s, const struct rpc_result *res)
{
    s->funds_inflight = 0;
    if (!s->out_of_state || res->kind != RPC_OK_ACCOUNT ||
        res->amount + res->locked < (nf_u128)res->storage_usage * NEAR_STORAGE_AMOUNT_PER_BYTE)
        return;
    s->out_of_state = 0;
    stage_set_out_of_state(s->w.shared, 0);
    for (unsigned i = 0; i < s->w.keys->shards; i++)
        nf_ring_wake(&s->w.sign_in[i]);
}

static void on_tokens_answer(struct submit_stage *s, const struct rpc_result *res)
{
    s->funds_inflight = 0;
    nf_u128 bal = 0;
    if (!s->out_of_tokens || res->kind != RPC_OK_CALL ||
        rpc_call_u128((const char *)s->call_out, res->call_len, &bal) != 0 ||
        bal < s->tokens_needed)
        return;
    s->out_of_tokens = 0;
    s->tokens_needed = 0;
    stage_set_out_of_tokens(s->w.shared, 0);
    for (unsigned i = 0; i < s->w.keys->shards; i++)
        nf_ring_wake(&s->w.sign_in[i]);
}

/* on_block_answer: a `block` (finality final) answer from endpoint ep. Final heights only grow,
 * so an answer below the published height comes from a node behind the one that gave it (a
 * lagging node) and is not taken: the signers would sign over a block hash that the nodes that
 * are not behind may already count as expired (a short --tx-validity-blocks), and every such
 * transaction would be refused, proven dead and signed again, round after round. The endpoint that
 * gave the published block is believed when it goes back (a node that resynced, or several nodes
 * behind one URL): the published height rests on its word alone. */
static void on_block_answer(struct submit_stage *s, int ep, const struct rpc_result *res)
{
    s->eps[ep].block_inflight = 0;
    if (res->kind != RPC_OK_BLOCK || !res->has_block) {
        s->block_retry = 1; /* again at the next retry tick (50 ms), not the next refresh */
        return;
    }
    s->block_retry = 0;
    if (s->head_ep >= 0 && ep != s->head_ep && res->block_height < s->head_height) {
        NF_LOG(NF_LOG_DEBUG, "submit",
               "block answer behind the published one ep=%d height=%llu published=%llu", ep,
               (unsigned long long)res->block_height, (unsigned long long)s->head_height);
        return;
    }
    s->head_height = res->block_height;
    s->head_ep = ep;
    memcpy(s->head_hash, res->block_hash, 32);
    block_ref_write(&s->w.shared->block, res->block_hash, res->block_height);
}

static void on_block_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    request_block(arg);
}

/* ---- completions ----------------------------------------------------------------------------- */

static int is_breaker_error(const struct rpc_result *res)
{
    switch (res->kind) {
    case RPC_HTTP_ERROR:
    case RPC_MALFORMED:
    case RPC_INTERNAL_ERROR:
    case RPC_RATE_LIMITED:
        return 1;
    default:
        return 0;
    }
}

static void complete(struct submit_stage *s, struct req *r, CURLcode code)
{
    struct endpoint *e = &s->eps[r->ep];
    uint64_t now = mono_ms();
    uint64_t lat = now - r->start_ms;
    e->inflight--;
    s->reqs_busy--;
    long http = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &http);
    struct rpc_response resp = {0};
    resp.method = r->purpose == P_SEND       ? RPC_M_SEND_TX
                  : r->purpose == P_TXSTATUS ? RPC_M_TX
                  : r->purpose == P_BLOCK    ? RPC_M_BLOCK
                  : r->purpose == P_KEYVIEW  ? RPC_M_VIEW_ACCESS_KEY
                  : r->purpose == P_VIEW_ACCOUNT || r->purpose == P_FUNDS || r->purpose == P_STATE
                      ? RPC_M_VIEW_ACCOUNT
                      : RPC_M_CALL_FUNCTION;
    resp.http_status = code == CURLE_OK ? (int)http : 0;
    resp.retry_after_s = r->retry_after_s;
    resp.body = r->resp;
    resp.len = r->resp_overflow ? 0 : r->resp_len;
    resp.expect_id = r->id;
    resp.call_out = s->call_out;
    resp.call_cap = sizeof(s->call_out);
    struct rpc_result res;
    memset(&res, 0, sizeof(res));
    if (rpc_parse(&resp, s->toks, s->tok_cap, &res) != 0)
        res.kind = RPC_MALFORMED;
    if (code != CURLE_OK)
        res.kind = RPC_HTTP_ERROR;

    int bad = code != CURLE_OK || is_breaker_error(&res);
    /* send_tx and tx wait for blocks by design: only views and block answers are timed. */
    int timed = r->purpose != P_SEND && r->purpose != P_TXSTATUS;
    breaker_on_result(&e->br, now, bad, timed ? lat : 0);
    int b_i = 0;
    for (uint64_t v = lat; v > 1 && b_i < 15; v >>= 1)
        b_i++;
    e->lat_hist[b_i]++;
    atomic_fetch_add_explicit(&s->lat_hist[b_i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->lat_sum_ms, lat, memory_order_relaxed);
    if (bad)
        e->errors++;
    if (res.kind == RPC_RATE_LIMITED) {
        e->rate_limited++;
        e->limit = e->limit > 1 ? e->limit / 2 : 1; /* AIMD: halve */
        uint64_t wait = (uint64_t)(r->retry_after_s > 0 ? r->retry_after_s : 1) * 1000;
        e->blocked_until_ms = now + wait;
    } else if (!bad && e->limit < (uint32_t)s->w.cfg->rpc_connections) {
        e->limit++; /* additive increase */
    }
    int purpose = r->purpose;
    void *owner = r->owner;
    int ep = r->ep;
    req_put(s, r);
    switch (purpose) {
    case P_SEND:
    case P_TXSTATUS:
    case P_KEYVIEW:
        on_batch_answer(s, owner, r, &res);
        break;
    case P_BLOCK:
        on_block_answer(s, ep, &res);
        break;
    case P_VIEW_ACCOUNT:
    case P_STORAGE:
        on_lookup_answer(s, owner, r, &res);
        break;
    case P_TOKENS:
        on_tokens_answer(s, &res);
        break;
    case P_FUNDS:
        on_funds_answer(s, &res);
        break;
    case P_STATE:
        on_state_answer(s, &res);
        break;
    }
}

static void check_done(struct submit_stage *s)
{
    CURLMsg *m;
    int left;
    int any = 0;
    while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode code = m->data.result;
        struct req *r = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
        curl_multi_remove_handle(s->multi, easy);
        complete(s, r, code);
        any = 1;
    }
    if (any)
        pump_waiting(s);
}

/* pump_waiting: gives free request slots to waiting batches and lookups. */
static void pump_waiting(struct submit_stage *s)
{
    while (s->wait_head && s->free_reqs) {
        if (pick_endpoint(s) < 0)
            break;
        struct batch *b = s->wait_head;
        s->wait_head = b->next;
        if (s->wait_head == NULL)
            s->wait_tail = NULL;
        start_batch_request(s, b);
        if (s->bs[b->slot].phase == PH_WAIT_SLOT)
            break; /* put back at the tail by start_batch_request */
    }
    /* lookups waiting in the ring are drained here too */
    struct nf_ring *lr = s->w.lookup_in;
    while (s->free_reqs && pick_endpoint(s) >= 0) {
        struct lookup *l = s->lwait_head;
        if (l)
            s->lwait_head = NULL;
        else
            l = nf_ring_pop_spsc(lr);
        if (l == NULL)
            break;
        if (start_lookup(s, l, P_VIEW_ACCOUNT) != 0) {
            s->lwait_head = l;
            break;
        }
    }
}

/* ---- inputs ---------------------------------------------------------------------------------- */

static void take_batch(struct submit_stage *s, struct batch *b)
{
    struct bstate *st = &s->bs[b->slot];
    atomic_fetch_add_explicit(&s->inflight_batches, 1, memory_order_relaxed);
    st->lookups = 0;
    st->proving = 0;
    st->pin_ep = -1;
    b->backoff_ms = 0;
    if (b->wal_failed || b->tx_len == 0) {
        /* Never broadcast (signing failed or the SIGNED record could not be written). */
        b->result = BATCH_DEAD;
        snprintf(b->message, sizeof(b->message), "not broadcast: signed record not durable");
        b->tx_len = 0;
        finish(s, b);
        return;
    }
    st->next_purpose = P_SEND;
    start_batch_request(s, b);
}

static void on_in(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct submit_stage *s = arg;
    struct nf_ring *r = s->w.in;
    atomic_fetch_add_explicit(&s->w.counters->wakeups, 1, memory_order_relaxed);
    nf_ring_clear(r);
    struct batch *b;
    uint64_t n = 0;
    while ((b = nf_ring_pop_spsc(r)) != NULL) {
        if (b->outcome_retry) {
            /* Its outcome records could not be written: the same records again after a
             * back-off, until they are durable (finish() has done everything else). */
            b->outcome_retry = 0;
            atomic_fetch_add_explicit(&s->outcome_rewrites, 1, memory_order_relaxed);
            NF_LOG(NF_LOG_WARN, "submit", "outcome records not durable, writing them again slot=%u",
                   b->slot);
            s->bs[b->slot].phase = PH_BACKOFF;
            s->bs[b->slot].next_purpose = -1;
            schedule(s, b, next_backoff(b));
            continue;
        }
        take_batch(s, b);
        n++;
    }
    if (n)
        stage_count(s->w.counters, n, 0);
}

static void on_lookup_in(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct submit_stage *s = arg;
    nf_ring_clear(s->w.lookup_in);
    pump_waiting(s);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct submit_stage *s = arg;
    if (s->block_retry)
        request_block(s);
    pump_waiting(s);
    check_funds(s);
    int down = submit_all_open(s);
    /* With signing paused nothing else may come to probe a half-open endpoint: a block request
     * does (one at a time), so an endpoint that recovered closes within a few round trips. */
    if (down)
        request_block(s);
    stage_set_rpc_down(s->w.shared, down);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct submit_stage *s = arg;
    nf_ring_clear(&s->stop_ring);
    event_base_loopexit(s->base, NULL);
}

static void *submit_main(void *arg)
{
    struct submit_stage *s = arg;
    pthread_setname_np(pthread_self(), "submit");
    log_set_thread("submit");
    request_block(s);
    event_base_dispatch(s->base);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

struct submit_stage *submit_new(const struct submit_wiring *w, uint32_t n_batches, int *err)
{
    const struct cfg *c = w->cfg;
    struct submit_stage *s = calloc(1, sizeof(*s));
    int rc = NF_ENOMEM;
    if (s == NULL)
        goto fail;
    g_submit_for_curl = s;
    s->w = *w;
    s->stop_ring.efd = -1;
    s->head_ep = -1;
    s->n_batches = n_batches;
    s->bs = calloc(n_batches, sizeof(*s->bs));
    s->tok_cap = RPC_TOKENS_TX;
    s->toks = calloc(s->tok_cap, sizeof(*s->toks));
    if (s->bs == NULL || s->toks == NULL)
        goto fail;
    /* endpoints */
    s->n_eps = (unsigned)c->rpc_url.n;
    s->eps = calloc(s->n_eps ? s->n_eps : 1, sizeof(*s->eps));
    if (s->eps == NULL)
        goto fail;
    for (unsigned i = 0; i < s->n_eps; i++) {
        struct endpoint *e = &s->eps[i];
        snprintf(e->url, sizeof(e->url), "%s", c->rpc_url.v[i]);
        rpc_url_redact(e->url, e->shown, sizeof(e->shown));
        e->headers = curl_slist_append(NULL, "Content-Type: application/json");
        for (size_t h = 0; h < c->rpc_header.n; h++) {
            /* URL=Name:Value: the header applies to the endpoint with that URL */
            const char *spec = c->rpc_header.v[h];
            const char *eq = strchr(spec, '=');
            if (eq == NULL || (size_t)(eq - spec) != strlen(e->url) ||
                strncmp(spec, e->url, (size_t)(eq - spec)) != 0)
                continue;
            e->headers = curl_slist_append(e->headers, eq + 1);
        }
        e->limit = (uint32_t)c->rpc_connections;
        breaker_init(&e->br, (unsigned)c->breaker_error_rate, (uint32_t)c->breaker_window_ms,
                     (uint32_t)c->breaker_min_requests, (uint32_t)c->breaker_cooldown_ms,
                     (uint32_t)c->breaker_probes,
                     (uint32_t)(c->rpc_timeout_ms / 2 ? c->rpc_timeout_ms / 2 : 1));
    }
    /* request pool */
    s->n_reqs = (unsigned)c->rpc_connections * (s->n_eps ? s->n_eps : 1) + 8;
    s->reqs = calloc(s->n_reqs, sizeof(*s->reqs));
    if (s->reqs == NULL)
        goto fail;
    for (unsigned i = 0; i < s->n_reqs; i++) {
        struct req *r = &s->reqs[i];
        r->body = malloc(REQ_BODY_CAP);
        r->resp = malloc(REQ_RESP_CAP);
        r->easy = curl_easy_init();
        if (!r->body || !r->resp || !r->easy)
            goto fail;
        curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
        curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(r->easy, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)c->rpc_timeout_ms);
        curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
        r->next_free = s->free_reqs;
        s->free_reqs = r;
    }
    if ((rc = nf_ring_init(&s->stop_ring, 4)) != 0)
        goto fail;
    rc = NF_ENOMEM;
    s->base = event_base_new();
    s->multi = curl_multi_init();
    if (s->base == NULL || s->multi == NULL)
        goto fail;
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->rpc_connections);
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)c->rpc_connections * 2);
    s->ev_curl_timer = evtimer_new(s->base, on_curl_timer, s);
    s->ev_in = event_new(s->base, w->in->efd, EV_READ | EV_PERSIST, on_in, s);
    s->ev_lookup = event_new(s->base, w->lookup_in->efd, EV_READ | EV_PERSIST, on_lookup_in, s);
    s->ev_block = event_new(s->base, -1, EV_PERSIST, on_block_timer, s);
    s->ev_retry = event_new(s->base, -1, EV_PERSIST, on_retry, s);
    s->ev_stop = event_new(s->base, s->stop_ring.efd, EV_READ | EV_PERSIST, on_stop, s);
    if (!s->ev_curl_timer || !s->ev_in || !s->ev_lookup || !s->ev_block || !s->ev_retry ||
        !s->ev_stop)
        goto fail;
    for (uint32_t i = 0; i < n_batches; i++) {
        s->bs[i].timer = NULL; /* created lazily per slot below */
    }
    struct timeval blk = {.tv_sec = (time_t)(c->block_hash_refresh_ms / 1000),
                          .tv_usec = (suseconds_t)((c->block_hash_refresh_ms % 1000) * 1000)};
    struct timeval retry = {0, 50000};
    event_add(s->ev_in, NULL);
    event_add(s->ev_lookup, NULL);
    event_add(s->ev_block, &blk);
    event_add(s->ev_retry, &retry);
    event_add(s->ev_stop, NULL);
    return s;
fail:
    if (err)
        *err = rc;
    submit_free(s);
    return NULL;
}

int submit_bind_batch(struct submit_stage *s, struct batch *b)
{
    struct bstate *st = &s->bs[b->slot];
    if (st->timer == NULL) {
        st->timer = evtimer_new(s->base, on_batch_timer, b);
        if (st->timer == NULL)
            return NF_ENOMEM;
    }
    return 0;
}

void submit_expect_recovered(struct submit_stage *s, uint32_t n)
{
    s->recovered_left = n;
}

int submit_start(struct submit_stage *s)
{
    if (s->started)
        return NF_ESTATE;
    if (pthread_create(&s->thread, NULL, submit_main, s) != 0)
        return NF_EIO;
    s->started = 1;
    return 0;
}

void submit_stop(struct submit_stage *s)
{
    if (s == NULL || !s->started)
        return;
    nf_ring_wake(&s->stop_ring);
    pthread_join(s->thread, NULL);
    s->started = 0;
}

void submit_free(struct submit_stage *s)
{
    if (s == NULL)
        return;
    submit_stop(s);
    for (unsigned i = 0; s->reqs && i < s->n_reqs; i++) {
        struct req *r = &s->reqs[i];
        if (r->easy) {
            if (s->multi)
                curl_multi_remove_handle(s->multi, r->easy);
            curl_easy_cleanup(r->easy);
        }
        free(r->body);
        free(r->resp);
    }
    free(s->reqs);
    for (uint32_t i = 0; s->bs && i < s->n_batches; i++)
        if (s->bs[i].timer)
            event_free(s->bs[i].timer);
    free(s->bs);
    for (unsigned i = 0; s->eps && i < s->n_eps; i++)
        curl_slist_free_all(s->eps[i].headers);
    free(s->eps);
    struct event *evs[] = {s->ev_curl_timer, s->ev_in,    s->ev_lookup,
                           s->ev_block,      s->ev_retry, s->ev_stop};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    if (s->base)
        event_base_free(s->base);
    if (s->stop_ring.efd != -1)
        nf_ring_destroy(&s->stop_ring);
    free(s->toks);
    free(s);
}

int submit_all_open(struct submit_stage *s)
{
    /* A half-open breaker is only probing: signing stays paused until one endpoint closes, so
     * the pause does not flap with every cool-down. */
    uint64_t now = mono_ms();
    for (unsigned i = 0; i < s->n_eps; i++)
        if (breaker_state(&s->eps[i].br, now) == BREAKER_CLOSED)
            return 0;
    return s->n_eps > 0;
}

void submit_stats(struct submit_stage *s, struct submit_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->sent = atomic_load_explicit(&s->sent, memory_order_relaxed);
    out->outcome_rewrites = atomic_load_explicit(&s->outcome_rewrites, memory_order_relaxed);
    out->resent = atomic_load_explicit(&s->resent, memory_order_relaxed);
    out->succeeded = atomic_load_explicit(&s->succeeded, memory_order_relaxed);
    out->action_errors = atomic_load_explicit(&s->action_errors, memory_order_relaxed);
    out->dead = atomic_load_explicit(&s->dead, memory_order_relaxed);
    out->lookups = atomic_load_explicit(&s->lookups_done, memory_order_relaxed);
    out->inflight_batches = atomic_load_explicit(&s->inflight_batches, memory_order_relaxed);
    for (int i = 0; i < RPC_KIND_COUNT && i < SUBMIT_KINDS; i++)
        out->kind_count[i] = atomic_load_explicit(&s->kind_count[i], memory_order_relaxed);
    for (int i = 0; i < 16; i++)
        out->lat_hist[i] = atomic_load_explicit(&s->lat_hist[i], memory_order_relaxed);
    out->lat_sum_ms = atomic_load_explicit(&s->lat_sum_ms, memory_order_relaxed);
    for (int i = 0; i < SUBMIT_PROOF_RESULTS; i++)
        out->dead_proofs[i] = atomic_load_explicit(&s->dead_proofs[i], memory_order_relaxed);
}

const char *submit_proof_result_name(int result)
{
    static const char *const names[SUBMIT_PROOF_RESULTS] = {"dead", "not_proven", "known",
                                                            "failed"};
    return result >= 0 && result < SUBMIT_PROOF_RESULTS ? names[result] : "?";
}

unsigned submit_endpoint_count(struct submit_stage *s)
{
    return s->n_eps;
}

void submit_endpoint_info(struct submit_stage *s, unsigned i, struct submit_endpoint_info *out)
{
    struct endpoint *e = &s->eps[i];
    snprintf(out->url, sizeof(out->url), "%s", e->shown);
    out->state = breaker_state(&e->br, mono_ms());
    out->opens = breaker_opens(&e->br);
    out->closes = breaker_closes(&e->br);
    /* Plain fields written by the submit thread: figures only (torn reads are harmless on
     * x86-64 for aligned 64-bit values). */
    out->requests = atomic_load_explicit(&e->requests, memory_order_relaxed);
    out->errors = atomic_load_explicit(&e->errors, memory_order_relaxed);
    out->rate_limited = atomic_load_explicit(&e->rate_limited, memory_order_relaxed);
    out->inflight = atomic_load_explicit(&e->inflight, memory_order_relaxed);
    out->limit = atomic_load_explicit(&e->limit, memory_order_relaxed);
}
