/* ingest_int: the ingest stage's private types, shared by ingest.c (threads, listeners, request
 * contexts, reply ring, timers, counters) and http_api.c (routes, request bodies, replies).
 * Everything in a struct ingest_thread belongs to that thread, except the counters in
 * struct ingest_stats, which other threads read (relaxed loads) for /metrics and /debug/stages. */
#ifndef NF_INGEST_INT_H
#define NF_INGEST_INT_H

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "hsrv.h"
#include "ingest.h"
#include "job.h"
#include "jtok.h"
#include "pipeline.h"
#include "req_json.h"
#include "u128.h"

/* Routes, for replies and for the per-route counters. */
enum ingest_route {
    INGEST_ROUTE_V1_TRANSFERS_POST = 0,
    INGEST_ROUTE_V1_TRANSFERS_GET,
    INGEST_ROUTE_V1_TX_GET,
    INGEST_ROUTE_SEND_FT,
    INGEST_ROUTE_NODE_JOB_GET,
    INGEST_ROUTE_NODE_TX_GET,
    INGEST_ROUTE_RUST_TRANSFER,
    INGEST_ROUTE_HEALTH,
    INGEST_ROUTE_METRICS,
    INGEST_ROUTE_DEBUG_STAGES,
    INGEST_ROUTE_DEBUG_RECENT,
    INGEST_ROUTE_PAGE,
    INGEST_ROUTE_OTHER,
    INGEST_ROUTE_COUNT
};

/* HTTP status codes counted one by one; anything else lands in "other". */
#define INGEST_CODE_COUNT 15

/* Refusals by the security limits, counted by reason (nearft_ingest_limit_refusals_total). */
enum ingest_refusal {
    INGEST_REFUSE_RECEIVER_SIGNER = 0, /* 422: the receiver is the signer account */
    INGEST_REFUSE_RECEIVER_CONTRACT,   /* 422: the receiver is the token contract */
    INGEST_REFUSE_PER_TRANSFER,        /* 422: amount over --max-amount-per-transfer */
    INGEST_REFUSE_PER_HOUR,            /* 429 (422 when one request alone is over it) */
    INGEST_REFUSE_RATE,                /* 429: --rate-limit */
    INGEST_REFUSE_PER_DAY,             /* --max-amount-per-day: as PER_HOUR */
    INGEST_REFUSE_RATE_GLOBAL,         /* 429: --rate-limit-global */
    INGEST_REFUSE_COUNT
};

#define INGEST_LAT_BUCKETS   15 /* request latency histogram, seconds (see ingest.c) */
#define INGEST_PARSE_BUCKETS 9  /* parse time per transfer, nanoseconds */

/* Per-thread counters: written only by the owning thread (relaxed load + store, no RMW), read by
 * any thread with relaxed loads; summed over threads on read. */
struct ingest_stats {
    _Atomic uint64_t requests[INGEST_ROUTE_COUNT][INGEST_CODE_COUNT];
    _Atomic uint64_t latency_bucket[INGEST_LAT_BUCKETS];
    _Atomic uint64_t latency_sum_us;
    _Atomic uint64_t latency_count;
    _Atomic uint64_t parse_bucket[INGEST_PARSE_BUCKETS];
    _Atomic uint64_t parse_sum_ns;          /* total parse time */
    _Atomic uint64_t parse_per_item_sum_ns; /* sum of per-transfer observations (histogram) */
    _Atomic uint64_t parse_items;
    _Atomic uint64_t transfers_accepted; /* jobs made durable through this thread */
    _Atomic uint64_t duplicates;         /* idempotent repeats answered with the original */
    _Atomic uint64_t rejected_busy;      /* 503: request-context slab exhausted */
    _Atomic uint64_t rejected_full;      /* 503: job slab or pipeline full */
    _Atomic uint64_t rejected_io;        /* 503: the durable log write failed */
    _Atomic uint64_t timeouts;           /* answered at the wait timeout */
    _Atomic uint64_t orphaned;           /* client closed before the answer */
    _Atomic uint64_t stale_msgs;         /* reply-ring messages for recycled contexts */
    _Atomic uint64_t ctx_in_use;         /* gauge */
    _Atomic uint64_t rate_milli;         /* requests/s x 1000 over the last second */
    _Atomic uint64_t open_conns;         /* gauge: hsrv_open_conns, refreshed every second */
    _Atomic uint64_t unsent_bytes;       /* gauge: hsrv_unsent_bytes, refreshed every second */
    struct hsrv_counters conns;          /* slow-client closes and refusals (hsrv writes) */
    _Atomic uint64_t refused[INGEST_REFUSE_COUNT]; /* enum ingest_refusal */
};

static inline void ingest_stat_add(_Atomic uint64_t *c, uint64_t v)
{
    /* Single writer: a relaxed load and store, no locked RMW on the hot path. Readers on other
     * threads use relaxed loads; no ordering with other data is implied. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static inline uint64_t ingest_stat_get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

struct ingest_thread;

/* budget_hold: what one request took from the spend windows (give back what is not accepted):
 * amount, in the second stamp, from the global hour and day windows (those that are set) and
 * from the token's own windows named here (NULL: not taken from). Token windows live until
 * nearftd exits (spend_tokens), so these outlive a table swap. */
struct budget_hold {
    nf_u128 amount;
    uint64_t stamp;
    struct spend *token_hour;
    struct spend *token_day;
};

/* One HTTP request in flight that went to the pipeline. Lives in its thread's slab. */
struct ingest_ctx {
    struct ingest_thread *t;
    uint32_t idx;
    uint32_t gen;          /* bumped at each recycle; job->waiter_gen must match */
    uint8_t busy;          /* allocated */
    uint8_t lent;          /* acc is with the pipeline (until PIPE_MSG_ACCEPTED) */
    uint8_t replied;       /* the answer was sent, or there is nobody to send it to */
    uint8_t orphaned;      /* the client closed the connection first */
    uint8_t accepted;      /* PIPE_MSG_ACCEPTED came back with status 0 */
    uint8_t route;         /* enum ingest_route */
    uint8_t is_batch;      /* {"transfers":[...]} form */
    uint8_t wait_level;    /* 0 (answer when durable), JOB_SUBMITTED or JOB_EXECUTED */
    uint8_t wait_final;    /* ?wait=final */
    uint8_t idem_header;   /* the idempotency key came from the Idempotency-Key header */
    uint8_t accept_failed; /* the pipeline could not make the jobs durable (they are ours) */
    uint8_t expired;       /* the wait ended before the log answered: answer once it does */
    uint32_t n;            /* jobs first_id .. first_id+n-1 */
    uint32_t done;         /* jobs that reached the wait level (each counted once) */
    uint64_t first_id;
    uint64_t start_ns;
    struct hsrv_ref ref;      /* the request to answer (hsrv_reply refuses it once stale) */
    uint8_t has_ref;          /* cleared once answered or orphaned */
    struct event *timer;      /* wait timeout, preallocated */
    uint64_t *done_bits;      /* n bits: job counted */
    struct budget_hold spend; /* what the request took from the spend windows */
    struct pipe_accept acc;
};

/* ingest_tokens: a token table as the ingest threads see it: the table and, for each entry, the
 * token's own windows (NULL when the entry has neither max_amount_per_hour nor _per_day). Built and
 * freed by ingest_auth_set on the main thread; published and reclaimed as one pointer, so an entry
 * and its window always come from the same file. */
struct ingest_tokens {
    struct auth_table *table;     /* owned */
    struct spend_token *budget[]; /* table->n windows, borrowed from the spend_tokens set */
};

struct ingest_thread {
    struct ingest *in;
    unsigned idx;
    pthread_t tid;
    int started;
    int stop_fd; /* eventfd: ingest_stop -> thread */
    int listen_fd;
    uint8_t stopping;
    struct event_base *base;
    struct hsrv *srv; /* the HTTP wire: listener and connections */
    struct event *reply_ev;
    struct event *stop_ev;
    struct event *tick_ev; /* 1 s: requests/s */
    struct event *grace_ev;
    struct event *flush_ev; /* lowest priority: one WAL wake per loop pass (pipe_accept_wake) */
    int auth_fd;            /* eventfd: ingest_auth_set -> thread ("a new token table") */
    struct event *auth_ev;
    /* The last auth_epoch this thread saw between two callbacks, when it held no pointer to a
     * token table (written by this thread with release; read by ingest_auth_set with acquire). */
    _Atomic uint64_t auth_seen;
    uint8_t flush_pending;
    struct nf_ring *reply;
    uint64_t tick_last_requests;
    uint64_t tick_last_ns;
    /* Request contexts and their free stack. */
    struct ingest_ctx *ctxs;
    uint32_t nctx;
    uint32_t *free_stack;
    uint32_t nfree;
    uint64_t *bits; /* nctx * bits_words */
    size_t bits_words;
    /* Parse scratch and reply buffer. */
    struct req_transfer *items;
    struct jtok *toks;
    size_t tok_cap;
    char *out;
    size_t out_cap;
    uint64_t *ids; /* tx lookups */
    size_t ids_cap;
    struct ingest_stats *stats; /* cache-line aligned, separate allocation */
};

struct ingest_thread;
struct ingest_ctx;

/* The routes layer (http_api.c) the transport (ingest.c) hands requests and pipeline replies to,
 * given to ingest_transport_new: ingest.c calls them and never names an http_api.c function, so
 * the transport sits below the routes. Every callback runs on the owner thread. */
struct ingest_routes {
    /* request: hsrv's on_request (arg: the struct ingest_thread). */
    void (*request)(struct hsrv_req *req, void *arg);
    /* head: hsrv's on_head (optional): may refuse a request before its body is read. */
    int (*head)(struct hsrv_req *req, void *arg);
    /* allowed_origin: hsrv's cors_origin (optional): the allowed origin equal to the text, or
     * NULL (arg: the struct ingest_thread). */
    const char *(*allowed_origin)(const char *origin, size_t len, void *arg);
    /* accepted: a struct pipe_accept came back from the pipeline (durable or refused). */
    void (*accepted)(struct ingest_thread *t, struct pipe_accept *a);
    /* job: job j, whose waiter is this thread, reached its wait level or a final state. */
    void (*job)(struct ingest_thread *t, struct job *j);
    /* timeout: a held request's wait timer fired. */
    void (*timeout)(struct ingest_ctx *c);
    /* release_ctx_jobs: before a context is recycled, frees the jobs it still owns (idempotent
     * repeats after PIPE_MSG_ACCEPTED, or all of them when the log write failed). */
    void (*release_ctx_jobs)(struct ingest_ctx *c);
};

struct ingest {
    const struct cfg *cfg;
    struct nf_pipe *pipe;
    struct job_slab *slab;
    unsigned nthreads;
    struct ingest_thread *threads;
    uint32_t ctx_per_thread;
    uint32_t max_items;
    size_t memo_max;
    uint64_t wait_timeout_ms;
    uint64_t grace_ms;
    uint64_t start_ns;
    char host[64];
    uint16_t port;
    int inherited_fd; /* ingest_use_listen_fd's socket (owned until a thread takes it), or -1 */
    int started;
    int stopped;
    struct ingest_routes routes;
    /* Bearer tokens (--auth-tokens). auth_required is fixed at ingest_new. The table is swapped by
     * ingest_auth_set (main thread) and read by ingest threads inside one request callback only
     * (acquire load, pairs with the exchange); see ingest_auth_set for when the old one is freed.
     */
    struct hsrv_shared *hshared; /* per-address connection counts, large-buffer budget */
    int auth_required;
    _Atomic(struct ingest_tokens *) auth;
    _Atomic uint64_t auth_epoch; /* bumped after each swap (release) */
    /* Security limits, fixed at ingest_new. spend: the pipeline's hourly window (borrowed; NULL
     * when --max-amount-per-hour is not set); spend_day the same for --max-amount-per-day. rate:
     * per-client buckets (owned; NULL when --rate-limit is 0). Both are safe to call from every
     * ingest thread. */
    struct spend *spend;
    struct spend *spend_day; /* the --max-amount-per-day window, as spend */
    struct ratelim *rate;
    struct ratelim *rate_global; /* --rate-limit-global: one bucket for every client (owned;
                                    NULL when 0), as rate */
    /* Key of the transfers' id tags (txid_tag; owned, read-only sodium memory, any thread). */
    unsigned char *id_key;
};

/* ingest.c helpers used by http_api.c (owner thread only). */
uint64_t ingest_now_ns(void);
uint64_t ingest_now_ms(void);
struct ingest_ctx *ingest_ctx_alloc(struct ingest_thread *t);
/* ingest_ctx_arm: the request went to the pipeline: watch the connection and start the timer. */
void ingest_ctx_arm(struct ingest_ctx *c);
/* ingest_ctx_release: puts c back on the free stack when it is answered and not lent. */
void ingest_ctx_maybe_recycle(struct ingest_ctx *c);
/* ingest_ctx_free_unused: gives back a context that never went to the pipeline. */
void ingest_ctx_free_unused(struct ingest_ctx *c);
/* ingest_send: answers the request ref with code and out[0..len) (content type JSON unless ctype
 * given; extra header lines, or NULL) and counts it under route; start_ns is when the request
 * arrived. A stale ref (client gone) is counted and dropped. */
void ingest_send(struct ingest_thread *t,
                 struct hsrv_ref ref,
                 int route,
                 int code,
                 const char *ctype,
                 const char *extra,
                 const char *body,
                 size_t len,
                 uint64_t start_ns);
/* ingest_ctx_send: ingest_send for a context's request, then marks it answered. */
void ingest_ctx_send(struct ingest_ctx *c, int code, const char *body, size_t len);
/* ingest_metrics_append / ingest_stages_append: the stage's own figures. Return the new length
 * or NF_ENOSPC. Any ingest thread. */
int ingest_metrics_append(struct ingest *in, char *out, size_t len, size_t cap);
int ingest_stages_json(struct ingest *in, char *out, size_t cap);
/* ingest_parse_observe: one body parse of items transfers that took ns (owner thread). */
void ingest_parse_observe(struct ingest_thread *t, uint64_t ns, size_t items);
/* ingest_origin_well_formed: 1 when the NUL-terminated o (one --allowed-origins value, borrowed
 * until return) is an origin as browsers send it, scheme://host[:port]: "http://" or "https://",
 * a host (a bracketed IPv6 literal, or printable characters other than ':', '/', '\', '@', '?',
 * '#', '[' and ']'), optionally ':' and a port 1..65535 without leading zeros; at most 256 bytes
 * (INGEST_ORIGIN_MAX in ingest.c). So no path, query, user info, whitespace or trailing slash.
 * Else 0. Pure, any thread (ingest_new checks the settings with it; fuzzed in fuzz_ingest_http). */
int ingest_origin_well_formed(const char *o);

/* ingest_transport_new: ingest_new's body (see include/ingest.h) with the routes to serve; copies
 * *routes. Called by http_api.c's ingest_new. */
struct ingest *ingest_transport_new(const struct cfg *cfg,
                                    struct nf_pipe *p,
                                    const struct ingest_routes *routes,
                                    int *err);

/* The status page served at GET / (status_page.html, embedded by scripts/embed.cmake). */
extern const char nf_status_page[];
extern const size_t nf_status_page_len;

#endif
