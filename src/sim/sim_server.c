/* sim_server: evhttp server, block timer and fault injection for nearsim (see sim_server.h).
 * Single thread: the event loop owns the chain, every pending request (struct waiter) and the
 * fault state. A waiting request is answered from the block path when its tx reaches the
 * requested level, from its own timer on timeout, or dropped if the client's connection closes
 * first (connection close callback), so nothing dangles. */
#include "sim_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include "jw.h"
#include "keys.h"
#include "nf_err.h"
#include "sim_rpc.h"
#include "u128.h"

enum waiter_kind { W_WAIT, W_DELAY };

struct waiter {
    struct sim_server *s;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    struct event *timer;
    enum waiter_kind kind;
    struct sim_rpc_wait wait; /* W_WAIT (owns id_json) */
    char *body;               /* W_DELAY reply (owned) */
    size_t len;
    int code;
    struct waiter *prev, *next;
};

struct dropper {
    struct evhttp_connection *evcon; /* NULL once the connection closed by itself */
};

struct ext_writer {
    int active;
    char account[SIM_ACCOUNT_MAX + 1];
    struct nf_pubkey pk;
    uint64_t every_blocks;
    uint64_t bump;
    uint64_t counter;
};

/* One HTTP listener: the live chain (lag 0) or the lagging node (--lagging-listen). */
struct sim_listener {
    struct sim_server *s;
    struct evhttp *http;
    uint64_t lag;
};

struct sim_server {
    const struct sim_cfg *cfg;
    struct sim_chain *chain;
    struct event_base *base;
    struct sim_listener live, lagging; /* lagging.http is NULL without --lagging-listen */
    struct event *block_ev;
    struct event *sigint_ev, *sigterm_ev;
    struct waiter *waiters;
    size_t n_waiters;
    struct sim_faults faults;
    uint64_t rng;
    double tokens;
    uint64_t tokens_at_ns;
    uint64_t stall_until_ns;
    struct ext_writer writer;
    /* counters */
    uint64_t requests, http_429, http_503, internal_errors, lost_acks, timeouts, replies;
    uint64_t lagging_requests; /* JSON-RPC requests on the lagging listener */
};

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double rnd(struct sim_server *s)
{
    /* xorshift64* */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (double)((s->rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static const char *reason(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static void
send_raw(struct evhttp_request *req, int code, const char *ctype, const char *body, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    struct evbuffer *b = evbuffer_new();
    if (b != NULL)
        evbuffer_add(b, body, len);
    evhttp_send_reply(req, code, reason(code), b);
    if (b != NULL)
        evbuffer_free(b);
}

static void free_body(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)data);
}

/* send_take: send_raw for a malloc'd JSON body, handed to libevent without a copy (freed once
 * written). */
static void send_take(struct evhttp_request *req, int code, char *body, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    struct evbuffer *b = evbuffer_new();
    if (b == NULL || evbuffer_add_reference(b, body, len, free_body, NULL) != 0) {
        if (b != NULL)
            evbuffer_free(b);
        send_raw(req, code, "application/json", body, len);
        free(body);
        return;
    }
    evhttp_send_reply(req, code, reason(code), b);
    evbuffer_free(b);
}

/* ---- waiters --------------------------------------------------------------------------------- */

static void waiter_unlink(struct waiter *w)
{
    struct sim_server *s = w->s;
    if (w->prev)
        w->prev->next = w->next;
    else
        s->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    s->n_waiters--;
}

static void waiter_free(struct waiter *w)
{
    if (w->timer)
        event_free(w->timer);
    free(w->wait.id_json);
    free(w->body);
    free(w);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    struct waiter *w = arg;
    waiter_unlink(w);
    waiter_free(w);
}

/* waiter_answer: sends the reply on w's request (taking body, malloc'd) and frees w. */
static void waiter_answer(struct waiter *w, int code, char *body, size_t len)
{
    evhttp_connection_set_closecb(w->evcon, NULL, NULL);
    waiter_unlink(w);
    w->s->replies++;
    if (body == w->body)
        w->body = NULL;
    send_take(w->req, code, body, len);
    waiter_free(w);
}

static void on_waiter_timer(evutil_socket_t fd, short what, void *arg);

static struct waiter *waiter_add(struct sim_server *s,
                                 struct evhttp_request *req,
                                 enum waiter_kind kind,
                                 uint64_t delay_ms)
{
    struct waiter *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->s = s;
    w->req = req;
    w->evcon = evhttp_request_get_connection(req);
    w->kind = kind;
    w->timer = evtimer_new(s->base, on_waiter_timer, w);
    if (w->timer == NULL || w->evcon == NULL) {
        waiter_free(w);
        return NULL;
    }
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)((delay_ms % 1000) * 1000)};
    evtimer_add(w->timer, &tv);
    w->next = s->waiters;
    if (s->waiters)
        s->waiters->prev = w;
    s->waiters = w;
    s->n_waiters++;
    evhttp_connection_set_closecb(w->evcon, on_conn_close, w);
    return w;
}

static uint64_t latency_ms(struct sim_server *s)
{
    uint64_t l = s->faults.latency_ms;
    if (s->faults.jitter_ms > 0)
        l += (uint64_t)(rnd(s) * (double)(s->faults.jitter_ms + 1));
    return l;
}

/* reply: sends now, or after the configured latency (taking body). */
static void
reply(struct sim_server *s, struct evhttp_request *req, int code, char *body, size_t len)
{
    uint64_t l = latency_ms(s);
    if (l > 0) {
        struct waiter *w = waiter_add(s, req, W_DELAY, l);
        if (w != NULL) {
            w->body = body;
            w->len = len;
            w->code = code;
            return;
        }
    }
    s->replies++;
    send_take(req, code, body, len);
}

/* waiter_done: w's wait is answered with r (takes r's body). */
static void waiter_done(struct waiter *w, struct sim_rpc_reply *r)
{
    struct sim_server *s = w->s;
    uint64_t l = latency_ms(s);
    if (l > 0) {
        w->kind = W_DELAY;
        w->body = r->body;
        w->len = r->len;
        w->code = r->http_status;
        r->body = NULL;
        evtimer_del(w->timer);
        struct timeval tv = {(time_t)(l / 1000), (suseconds_t)((l % 1000) * 1000)};
        evtimer_add(w->timer, &tv);
        return;
    }
    char *body = r->body;
    r->body = NULL; /* taken */
    waiter_answer(w, r->http_status, body, r->len);
}

static void on_waiter_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct waiter *w = arg;
    if (w->kind == W_DELAY) {
        waiter_answer(w, w->code, w->body, w->len);
        return;
    }
    struct sim_rpc_reply r;
    memset(&r, 0, sizeof(r));
    sim_rpc_timeout(&w->wait, &r);
    w->s->timeouts++;
    waiter_done(w, &r);
    sim_rpc_reply_free(&r);
}

static void poll_waiters(struct sim_server *s)
{
    struct waiter *w = s->waiters;
    while (w != NULL) {
        struct waiter *next = w->next;
        if (w->kind == W_WAIT) {
            struct sim_rpc_reply r;
            memset(&r, 0, sizeof(r));
            if (sim_rpc_poll(s->chain, &w->wait, &r)) {
                waiter_done(w, &r);
                sim_rpc_reply_free(&r);
            }
        }
        w = next;
    }
}

/* ---- blocks ---------------------------------------------------------------------------------- */

static void on_block(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sim_server *s = arg;
    uint64_t t = now_ns(CLOCK_REALTIME);
    if (t < s->stall_until_ns)
        return;
    s->chain->forced_congestion = s->faults.congestion;
    if (sim_chain_produce_block(s->chain, t) != 0) {
        fprintf(stderr, "lvl=error mod=sim msg=\"block production out of memory\"\n");
        return;
    }
    struct ext_writer *x = &s->writer;
    if (x->active && ++x->counter >= x->every_blocks) {
        x->counter = 0;
        (void)sim_chain_bump_nonce(s->chain, x->account, &x->pk, x->bump);
    }
    poll_waiters(s);
}

/* ---- faults ---------------------------------------------------------------------------------- */

static char *faults_json(const struct sim_server *s, size_t *len)
{
    struct jw w;
    jw_init_growable(&w);
    jw_obj_begin(&w);
    jw_key(&w, "error_rate");
    jw_double(&w, s->faults.error_rate);
    jw_key(&w, "error_kind");
    jw_str(&w, s->faults.error_kind == SIM_ERR_503        ? "503"
               : s->faults.error_kind == SIM_ERR_INTERNAL ? "internal"
                                                          : "mixed");
    jw_key(&w, "lost_ack_rate");
    jw_double(&w, s->faults.lost_ack_rate);
    jw_key(&w, "latency_ms");
    jw_u64(&w, s->faults.latency_ms);
    jw_key(&w, "jitter_ms");
    jw_u64(&w, s->faults.jitter_ms);
    jw_key(&w, "rate_limit");
    jw_u64(&w, s->faults.rate_limit);
    jw_key(&w, "congestion");
    jw_double(&w, s->faults.congestion);
    uint64_t t = now_ns(CLOCK_REALTIME);
    jw_key(&w, "stall_remaining_ms");
    jw_u64(&w, s->stall_until_ns > t ? (s->stall_until_ns - t) / 1000000ull : 0);
    jw_key(&w, "external_writer");
    if (s->writer.active) {
        char pks[KEYS_PUBKEY_STR_MAX + 8];
        if (keys_pubkey_format(&s->writer.pk, pks, sizeof(pks)) < 0)
            pks[0] = 0;
        jw_obj_begin(&w);
        jw_key(&w, "account_id");
        jw_str(&w, s->writer.account);
        jw_key(&w, "public_key");
        jw_str(&w, pks);
        jw_key(&w, "every_blocks");
        jw_u64(&w, s->writer.every_blocks);
        jw_key(&w, "bump");
        jw_u64(&w, s->writer.bump);
        jw_obj_end(&w);
    } else {
        jw_null(&w);
    }
    jw_obj_end(&w);
    return jw_take(&w, len);
}

static int num_field(json_t *o, const char *k, double *out, double max)
{
    json_t *v = json_object_get(o, k);
    if (v == NULL)
        return 0;
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > max)
        return -1;
    *out = json_number_value(v);
    return 1;
}

/* apply_faults: updates the fault state from a JSON object. Returns NULL or an error text. */
static const char *apply_faults(struct sim_server *s, json_t *o)
{
    double d;
    struct sim_faults f = s->faults;
    if (json_is_true(json_object_get(o, "reset"))) {
        memset(&f, 0, sizeof(f));
        s->stall_until_ns = 0;
        s->writer.active = 0;
        s->chain->forced_missed_chunks = 0;
        s->chain->lag_blocks = 0;
        s->chain->bad_sig_key_set = 0;
        s->chain->reject_next_count = 0;
    }
    if (num_field(o, "error_rate", &f.error_rate, 1) < 0)
        return "error_rate must be a number in [0,1]";
    if (num_field(o, "lost_ack_rate", &f.lost_ack_rate, 1) < 0)
        return "lost_ack_rate must be a number in [0,1]";
    if (num_field(o, "congestion", &f.congestion, 1) < 0)
        return "congestion must be a number in [0,1]";
    int r;
    if ((r = num_field(o, "latency_ms", &d, 600000)) < 0)
        return "latency_ms must be a number of ms";
    if (r > 0)
        f.latency_ms = (uint64_t)d;
    if ((r = num_field(o, "jitter_ms", &d, 600000)) < 0)
        return "jitter_ms must be a number of ms";
    if (r > 0)
        f.jitter_ms = (uint64_t)d;
    if ((r = num_field(o, "rate_limit", &d, 1e9)) < 0)
        return "rate_limit must be requests per second";
    if (r > 0)
        f.rate_limit = (uint64_t)d;
    json_t *ek = json_object_get(o, "error_kind");
    if (ek != NULL) {
        int k = json_is_string(ek) ? sim_error_kind_parse(json_string_value(ek)) : -1;
        if (k < 0)
            return "error_kind must be 503, internal or mixed";
        f.error_kind = k;
    }
    /* stall_seconds / stall_ms: no block for that long from now; 0 ends a stall at once */
    uint64_t stall_ms = 0;
    int stall_set = 0;
    if ((r = num_field(o, "stall_seconds", &d, 3600)) < 0)
        return "stall_seconds must be a number";
    if (r > 0) {
        stall_ms = (uint64_t)(d * 1000);
        stall_set = 1;
    }
    if ((r = num_field(o, "stall_ms", &d, 3600000)) < 0)
        return "stall_ms must be a number";
    if (r > 0) {
        stall_ms = (uint64_t)d;
        stall_set = 1;
    }
    json_t *xw = json_object_get(o, "external_writer");
    struct ext_writer nw = s->writer;
    if (xw != NULL && json_is_null(xw)) {
        nw.active = 0;
    } else if (xw != NULL) {
        json_t *pk = json_object_get(xw, "public_key");
        json_t *acc = json_object_get(xw, "account_id");
        const char *account = json_is_string(acc) ? json_string_value(acc) : s->cfg->chain.signer;
        if (!json_is_string(pk) ||
            keys_pubkey_parse(json_string_value(pk), json_string_length(pk), &nw.pk) != 0)
            return "external_writer.public_key must be an ed25519 key";
        if (strlen(account) > SIM_ACCOUNT_MAX)
            return "external_writer.account_id too long";
        snprintf(nw.account, sizeof(nw.account), "%s", account);
        struct sim_account *a = sim_chain_account(s->chain, nw.account, strlen(nw.account));
        if (sim_account_key(a, &nw.pk) == NULL)
            return "external_writer: no such access key";
        double e = 1, b = 1;
        if (num_field(xw, "every_blocks", &e, 1e6) < 0 || num_field(xw, "bump", &b, 1e12) < 0)
            return "external_writer.every_blocks / bump must be numbers";
        nw.every_blocks = e < 1 ? 1 : (uint64_t)e;
        nw.bump = b < 1 ? 1 : (uint64_t)b;
        nw.counter = 0;
        nw.active = 1;
    }
    json_t *bn = json_object_get(o, "bump_nonce");
    if (bn != NULL) {
        json_t *pk = json_object_get(bn, "public_key");
        json_t *acc = json_object_get(bn, "account_id");
        struct nf_pubkey key;
        double by = 1;
        const char *account = json_is_string(acc) ? json_string_value(acc) : s->cfg->chain.signer;
        if (!json_is_string(pk) ||
            keys_pubkey_parse(json_string_value(pk), json_string_length(pk), &key) != 0 ||
            num_field(bn, "by", &by, 1e12) < 0)
            return "bump_nonce needs public_key and a numeric by";
        if (sim_chain_bump_nonce(s->chain, account, &key, (uint64_t)(by < 1 ? 1 : by)) != 0)
            return "bump_nonce: no such access key";
    }
    /* set_balance {"account_id"?, "yocto":"<decimal>"}: sets an account's NEAR balance (drain or
     * refill the signer to provoke NotEnoughBalance and its recovery). */
    json_t *sb = json_object_get(o, "set_balance");
    if (sb != NULL) {
        json_t *acc = json_object_get(sb, "account_id");
        json_t *y = json_object_get(sb, "yocto");
        const char *account = json_is_string(acc) ? json_string_value(acc) : s->cfg->chain.signer;
        nf_u128 amount;
        if (!json_is_string(y) ||
            u128_parse(json_string_value(y), json_string_length(y), &amount) != 0)
            return "set_balance needs yocto as a decimal string";
        struct sim_account *a = sim_chain_account(s->chain, account, strlen(account));
        if (a == NULL || !a->exists)
            return "set_balance: no such account";
        sim_chain_set_balance(s->chain, a, amount);
    }
    /* storage_usage {"account_id", "bytes": N}: the account's state is N bytes (0: back to
     * nearsim's own figure, unchecked). view_account reports it, and a receipt on the account
     * that leaves amount + locked below N * storage_amount_per_byte (10^19) fails after all its
     * actions with ActionError {index: null, kind: LackBalanceForState {account_id, amount: what
     * is missing}}, rolled back: nearcore's storage-stake check (e.g. a token contract whose
     * state outgrew its balance). */
    json_t *su = json_object_get(o, "storage_usage");
    if (su != NULL) {
        json_t *acc = json_object_get(su, "account_id");
        json_t *by = json_object_get(su, "bytes");
        if (!json_is_string(acc) || !json_is_integer(by) || json_integer_value(by) < 0)
            return "storage_usage needs account_id and a non-negative integer bytes";
        struct sim_account *a =
            sim_chain_account(s->chain, json_string_value(acc), json_string_length(acc));
        if (a == NULL || !a->exists)
            return "storage_usage: no such account";
        a->storage_bytes = (uint64_t)json_integer_value(by);
    }
    /* missed_chunks N: the shard missed N chunks (ShardStuck once N/125 reaches the threshold;
     * 0 clears). invalid_signature_key "ed25519:..." | null: signatures by that key are refused
     * as InvalidSignature (a key whose secret no longer matches). */
    json_t *mc = json_object_get(o, "missed_chunks");
    if (mc != NULL) {
        if (!json_is_integer(mc) || json_integer_value(mc) < 0)
            return "missed_chunks must be a non-negative integer";
        s->chain->forced_missed_chunks = (uint64_t)json_integer_value(mc);
    }
    /* lag_blocks N: `block` asked by finality answers the block N below the one it would (an RPC
     * node lagging behind the chain transactions are validated against: a client that signs
     * with that "final" hash sees Expired once N exceeds the validity window; 0 clears). */
    json_t *lb = json_object_get(o, "lag_blocks");
    if (lb != NULL) {
        if (!json_is_integer(lb) || json_integer_value(lb) < 0)
            return "lag_blocks must be a non-negative integer";
        s->chain->lag_blocks = (uint64_t)json_integer_value(lb);
    }
    json_t *bk = json_object_get(o, "invalid_signature_key");
    if (bk != NULL) {
        if (json_is_null(bk)) {
            s->chain->bad_sig_key_set = 0;
        } else if (!json_is_string(bk) ||
                   keys_pubkey_parse(json_string_value(bk), json_string_length(bk),
                                     &s->chain->bad_sig_key) != 0) {
            return "invalid_signature_key must be an ed25519 public key or null";
        } else {
            s->chain->bad_sig_key_set = 1;
        }
    }
    /* reject_next {"kind":"InvalidChain"|"CostOverflow","count":N}: the next N transaction
     * admissions are refused with that InvalidTxError (after decode and signature checks). */
    json_t *rn = json_object_get(o, "reject_next");
    if (rn != NULL) {
        json_t *k = json_object_get(rn, "kind");
        json_t *n = json_object_get(rn, "count");
        const char *kind = json_is_string(k) ? json_string_value(k) : "";
        int code = strcmp(kind, "InvalidChain") == 0   ? SIM_REJ_INVALID_CHAIN
                   : strcmp(kind, "CostOverflow") == 0 ? SIM_REJ_COST_OVERFLOW
                                                       : -1;
        if (code < 0 || !json_is_integer(n) || json_integer_value(n) < 0)
            return "reject_next needs kind InvalidChain|CostOverflow and a count";
        s->chain->reject_next_code = code;
        s->chain->reject_next_count = (uint64_t)json_integer_value(n);
    }
    /* move_tokens {"from"?, "to", "amount"}: moves FT balance between two registered accounts
     * (supply stays conserved): drains or refills the signer's tokens. */
    json_t *mt = json_object_get(o, "move_tokens");
    if (mt != NULL) {
        json_t *from = json_object_get(mt, "from");
        json_t *to = json_object_get(mt, "to");
        json_t *am = json_object_get(mt, "amount");
        const char *fa = json_is_string(from) ? json_string_value(from) : s->cfg->chain.signer;
        nf_u128 amount;
        if (!json_is_string(to) || !json_is_string(am) ||
            u128_parse(json_string_value(am), json_string_length(am), &amount) != 0)
            return "move_tokens needs to and amount (decimal string)";
        struct sim_account *a = sim_chain_account(s->chain, fa, strlen(fa));
        struct sim_account *b =
            sim_chain_account(s->chain, json_string_value(to), json_string_length(to));
        if (a == NULL || b == NULL || !a->ft_registered || !b->ft_registered)
            return "move_tokens: both accounts must be registered with the token";
        if (sim_chain_move_tokens(s->chain, a, b, amount) != 0)
            return "move_tokens: not enough tokens";
    }
    s->faults = f;
    s->writer = nw;
    if (stall_set)
        s->stall_until_ns = stall_ms > 0 ? now_ns(CLOCK_REALTIME) + stall_ms * 1000000ull : 0;
    s->chain->forced_congestion = f.congestion;
    return NULL;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

static void on_drop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dropper *d = arg;
    if (d->evcon != NULL) {
        evhttp_connection_set_closecb(d->evcon, NULL, NULL);
        evhttp_connection_free(d->evcon);
    }
    free(d);
}

static void on_drop_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    ((struct dropper *)arg)->evcon = NULL;
}

/* drop_connection: closes req's connection without an answer, outside the request callback. */
static void drop_connection(struct sim_server *s, struct evhttp_request *req)
{
    struct dropper *d = calloc(1, sizeof(*d));
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (d == NULL || evcon == NULL) {
        free(d);
        send_raw(req, 500, "text/plain", "", 0);
        return;
    }
    d->evcon = evcon;
    evhttp_connection_set_closecb(evcon, on_drop_close, d);
    struct timeval tv = {0, 0};
    if (event_base_once(s->base, -1, EV_TIMEOUT, on_drop, d, &tv) != 0) {
        evhttp_connection_set_closecb(evcon, NULL, NULL);
        free(d);
        send_raw(req, 500, "text/plain", "", 0);
    }
}

static int rate_limited(struct sim_server *s)
{
    if (s->faults.rate_limit == 0)
        return 0;
    uint64_t t = now_ns(CLOCK_MONOTONIC);
    double rate = (double)s->faults.rate_limit;
    if (s->tokens_at_ns == 0) {
        s->tokens = rate;
    } else {
        s->tokens += (double)(t - s->tokens_at_ns) / 1e9 * rate;
        if (s->tokens > rate)
            s->tokens = rate;
    }
    s->tokens_at_ns = t;
    if (s->tokens < 1)
        return 1;
    s->tokens -= 1;
    return 0;
}

static void handle_rpc(struct sim_server *s, struct evhttp_request *req, uint64_t lag)
{
    s->requests++;
    if (lag > 0)
        s->lagging_requests++;
    if (rate_limited(s)) {
        s->http_429++;
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        static const char msg[] = "{\"error\":\"rate limit exceeded\"}";
        send_raw(req, 429, "application/json", msg, sizeof(msg) - 1);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = (const char *)evbuffer_pullup(in, -1);
    if (body == NULL)
        body = "";
    if (s->faults.error_rate > 0 && rnd(s) < s->faults.error_rate) {
        int kind = s->faults.error_kind;
        if (kind == SIM_ERR_MIXED)
            kind = rnd(s) < 0.5 ? SIM_ERR_503 : SIM_ERR_INTERNAL;
        if (kind == SIM_ERR_503) {
            s->http_503++;
            static const char msg[] = "Service Unavailable";
            send_raw(req, 503, "text/plain", msg, sizeof(msg) - 1);
        } else {
            s->internal_errors++;
            struct sim_rpc_reply r;
            memset(&r, 0, sizeof(r));
            /* echo the id when the body parses */
            json_t *root = json_loadb(body, len, 0, NULL);
            json_t *id = root ? json_object_get(root, "id") : NULL;
            char *idj = id ? json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            sim_rpc_internal_error(idj ? idj : "null", "injected fault: internal error", &r);
            free(idj);
            json_decref(root);
            reply(s, req, r.http_status, r.body, r.len);
            r.body = NULL;
            sim_rpc_reply_free(&r);
        }
        return;
    }
    struct sim_rpc_reply r;
    if (sim_rpc_handle_lagged(s->chain, lag, body, len, &r) != 0) {
        sim_rpc_reply_free(&r);
        send_raw(req, 500, "text/plain", "out of memory", 13);
        return;
    }
    if (r.submitted && s->faults.lost_ack_rate > 0 && rnd(s) < s->faults.lost_ack_rate) {
        s->lost_acks++;
        sim_rpc_reply_free(&r);
        drop_connection(s, req);
        return;
    }
    if (r.pending) {
        struct waiter *w = waiter_add(s, req, W_WAIT, s->cfg->wait_timeout_ms);
        if (w == NULL) {
            sim_rpc_reply_free(&r);
            send_raw(req, 500, "text/plain", "out of memory", 13);
            return;
        }
        w->wait = r.wait;
        r.wait.id_json = NULL;
        sim_rpc_reply_free(&r);
        return;
    }
    reply(s, req, r.http_status, r.body, r.len);
    r.body = NULL;
    sim_rpc_reply_free(&r);
}

static char *stats_json(struct sim_server *s, size_t *len)
{
    struct sim_chain *c = s->chain;
    uint64_t txs = 0, transfers = 0, receipts = 0, gas = 0, span_ns = 0;
    int n = 0;
    const struct sim_block *last = sim_chain_block(c, c->head);
    for (uint64_t h = c->head; h > c->cfg.genesis_height && n < 20; h--, n++) {
        const struct sim_block *b = sim_chain_block(c, h);
        txs += b->n_txs;
        transfers += b->n_transfers;
        receipts += b->n_receipts;
        gas += b->gas_used;
        span_ns = last->timestamp_ns - sim_chain_block(c, h - 1)->timestamp_ns;
    }
    double secs = span_ns > 0 ? (double)span_ns / 1e9 : 1;
    struct jw w;
    jw_init_growable(&w);
    jw_obj_begin(&w);
    jw_key(&w, "head");
    jw_u64(&w, c->head);
    jw_key(&w, "final");
    jw_u64(&w, sim_chain_final(c));
    jw_key(&w, "tx_per_s");
    jw_double(&w, (double)txs / secs);
    jw_key(&w, "receipts_per_s");
    jw_double(&w, (double)receipts / secs);
    jw_key(&w, "transfers_per_s");
    jw_double(&w, (double)transfers / secs);
    jw_key(&w, "gas_per_block");
    jw_u64(&w, n ? gas / (uint64_t)n : 0);
    jw_key(&w, "pool");
    jw_u64(&w, c->n_pool);
    jw_key(&w, "delayed_receipts");
    jw_u64(&w, c->rq_len);
    jw_key(&w, "delayed_gas");
    jw_u128_str(&w, c->delayed_gas);
    jw_key(&w, "congestion_level");
    jw_double(&w, sim_chain_congestion(c));
    jw_key(&w, "waiting_requests");
    jw_u64(&w, s->n_waiters);
    jw_key(&w, "requests");
    jw_u64(&w, s->requests);
    jw_key(&w, "http_429");
    jw_u64(&w, s->http_429);
    jw_key(&w, "http_503");
    jw_u64(&w, s->http_503);
    jw_key(&w, "internal_errors");
    jw_u64(&w, s->internal_errors);
    jw_key(&w, "lost_acks");
    jw_u64(&w, s->lost_acks);
    jw_key(&w, "timeouts");
    jw_u64(&w, s->timeouts);
    jw_key(&w, "txs_known");
    jw_u64(&w, c->txs.count);
    jw_key(&w, "lagging_requests");
    jw_u64(&w, s->lagging_requests);
    jw_obj_end(&w);
    return jw_take(&w, len);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    const struct sim_listener *l = arg;
    struct sim_server *s = l->s;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (path == NULL || path[0] == 0)
        path = "/";
    size_t len = 0;
    char *body = NULL;
    if (strcmp(path, "/") == 0 && cmd == EVHTTP_REQ_POST) {
        handle_rpc(s, req, l->lag);
        return;
    }
    if (strcmp(path, "/sim/audit") == 0 && cmd == EVHTTP_REQ_GET) {
        struct evkeyvalq q;
        TAILQ_INIT(&q);
        if (query != NULL)
            evhttp_parse_query_str(query, &q);
        const char *memo = evhttp_find_header(&q, "memo");
        const char *memos = evhttp_find_header(&q, "memos");
        if (memos != NULL && strcmp(memos, "1") == 0) {
            body = sim_rpc_memos(s->chain, &len);
            if (body != NULL)
                send_raw(req, 200, "application/x-ndjson", body, len);
        } else {
            body = sim_rpc_audit(s->chain, memo, &len);
            if (body != NULL)
                send_raw(req, 200, "application/json", body, len);
        }
        evhttp_clear_headers(&q);
        if (body == NULL)
            send_raw(req, 500, "text/plain", "out of memory", 13);
        free(body);
        return;
    }
    if (strcmp(path, "/sim/stats") == 0 && cmd == EVHTTP_REQ_GET) {
        body = stats_json(s, &len);
    } else if (strcmp(path, "/sim/faults") == 0 &&
               (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_POST)) {
        if (cmd == EVHTTP_REQ_POST) {
            struct evbuffer *in = evhttp_request_get_input_buffer(req);
            size_t n = evbuffer_get_length(in);
            const char *text = (const char *)evbuffer_pullup(in, -1);
            json_t *o = text ? json_loadb(text, n, 0, NULL) : NULL;
            const char *err = json_is_object(o) ? apply_faults(s, o) : "body must be a JSON object";
            json_decref(o);
            if (err != NULL) {
                char msg[200];
                int ml = snprintf(msg, sizeof(msg), "{\"error\":\"%s\"}", err);
                send_raw(req, 400, "application/json", msg, (size_t)ml);
                return;
            }
        }
        body = faults_json(s, &len);
    } else {
        send_raw(req, 404, "text/plain", "not found", 9);
        return;
    }
    if (body == NULL) {
        send_raw(req, 500, "text/plain", "out of memory", 13);
        return;
    }
    send_raw(req, 200, "application/json", body, len);
    free(body);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(((struct sim_server *)arg)->base, NULL);
}

/* listen_on: a new evhttp for l bound to addr ("host:port"; an empty host is default_host), with
 * the bound host in host[128] and the port (the one chosen for port 0) in *port. flag names the
 * option in errors. Returns 0, NF_ENOMEM, NF_ECONFIG (not host:port) or NF_EIO (bind failed). */
static int listen_on(struct sim_server *s,
                     struct sim_listener *l,
                     const char *flag,
                     const char *addr,
                     const char *default_host,
                     char *host,
                     unsigned *port)
{
    l->http = evhttp_new(s->base);
    if (l->http == NULL)
        return NF_ENOMEM;
    evhttp_set_max_body_size(l->http, (ev_ssize_t)s->cfg->max_body);
    evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_gencb(l->http, on_request, l);
    snprintf(host, 128, "%s", addr);
    char *colon = strrchr(host, ':');
    uint64_t p = 0;
    if (colon == NULL || sim_cfg_parse_u64(colon + 1, &p) != 0 || p > 65535) {
        fprintf(stderr, "lvl=error mod=sim msg=\"--%s must be host:port\" value=%s\n", flag, addr);
        return NF_ECONFIG;
    }
    *colon = 0;
    if (host[0] == 0)
        snprintf(host, 128, "%s", default_host);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(l->http, host, (uint16_t)p);
    if (bs == NULL) {
        fprintf(stderr, "lvl=error mod=sim msg=\"bind failed\" %s=%s\n", flag, addr);
        return NF_EIO;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0 &&
        ss.ss_family == AF_INET)
        p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *port = (unsigned)p;
    return 0;
}

int sim_server_new(const struct sim_cfg *cfg, struct sim_chain *chain, struct sim_server **out)
{
    *out = NULL;
    struct sim_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NF_ENOMEM;
    s->cfg = cfg;
    s->chain = chain;
    s->faults = cfg->faults;
    s->rng = now_ns(CLOCK_MONOTONIC) | 1;
    chain->forced_congestion = s->faults.congestion;
    int rc = NF_ENOMEM;
    s->base = event_base_new();
    if (s->base == NULL)
        goto fail;
    char host[128], lag_host[128];
    unsigned port = 0, lag_port = 0;
    s->live.s = s;
    if ((rc = listen_on(s, &s->live, "listen", cfg->listen, "", host, &port)) != 0)
        goto fail;
    if (cfg->lagging_listen[0] != 0) {
        s->lagging.s = s;
        s->lagging.lag = cfg->lag_blocks;
        if ((rc = listen_on(s, &s->lagging, "lagging-listen", cfg->lagging_listen, host, lag_host,
                            &lag_port)) != 0)
            goto fail;
        /* lagged views rewind this far (and nonce views at finality final 2 blocks further) */
        sim_chain_keep_history(chain, cfg->lag_blocks + 8);
    }
    rc = NF_ENOMEM;
    s->block_ev = event_new(s->base, -1, EV_PERSIST, on_block, s);
    s->sigint_ev = evsignal_new(s->base, SIGINT, on_signal, s);
    s->sigterm_ev = evsignal_new(s->base, SIGTERM, on_signal, s);
    if (s->block_ev == NULL || s->sigint_ev == NULL || s->sigterm_ev == NULL)
        goto fail;
    struct timeval tv = {(time_t)(cfg->block_ms / 1000),
                         (suseconds_t)((cfg->block_ms % 1000) * 1000)};
    event_add(s->block_ev, &tv);
    event_add(s->sigint_ev, NULL);
    event_add(s->sigterm_ev, NULL);
    printf("listening=%s:%u\n", host, port);
    if (s->lagging.http != NULL)
        printf("lagging=%s:%u lag_blocks=%llu\n", lag_host, lag_port,
               (unsigned long long)s->lagging.lag);
    fflush(stdout);
    *out = s;
    return 0;
fail:
    sim_server_free(s);
    return rc;
}

int sim_server_run(struct sim_server *s)
{
    signal(SIGPIPE, SIG_IGN);
    event_base_dispatch(s->base);
    return 0;
}

void sim_server_free(struct sim_server *s)
{
    if (s == NULL)
        return;
    while (s->waiters != NULL) {
        struct waiter *w = s->waiters;
        if (w->evcon)
            evhttp_connection_set_closecb(w->evcon, NULL, NULL);
        waiter_unlink(w);
        waiter_free(w);
    }
    if (s->block_ev)
        event_free(s->block_ev);
    if (s->sigint_ev)
        event_free(s->sigint_ev);
    if (s->sigterm_ev)
        event_free(s->sigterm_ev);
    if (s->live.http)
        evhttp_free(s->live.http);
    if (s->lagging.http)
        evhttp_free(s->lagging.http);
    if (s->base)
        event_base_free(s->base);
    free(s);
}
