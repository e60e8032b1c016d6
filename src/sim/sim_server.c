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
#include "sim_faults.h"
#include "sim_rpc.h"

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
    struct sim_fault_state fault_state; /* POST /sim/faults (sim_faults_apply) */
    uint64_t rng;
    double tokens;
    uint64_t tokens_at_ns;
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
    uint64_t l = s->fault_state.faults.latency_ms;
    if (s->fault_state.faults.jitter_ms > 0)
        l += (uint64_t)(rnd(s) * (double)(s->fault_state.faults.jitter_ms + 1));
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
    if (t < s->fault_state.stall_until_ns)
        return;
    s->chain->forced_congestion = s->fault_state.faults.congestion;
    if (sim_chain_produce_block(s->chain, t) != 0) {
        fprintf(stderr, "lvl=error mod=sim msg=\"block production out of memory\"\n");
        return;
    }
    struct sim_ext_writer *x = &s->fault_state.writer;
    if (x->active && ++x->counter >= x->every_blocks) {
        x->counter = 0;
        (void)sim_chain_bump_nonce(s->chain, x->account, &x->pk, x->bump);
    }
    poll_waiters(s);
}

/* ---- faults ---------------------------------------------------------------------------------- */

static char *faults_json(const struct sim_server *s, size_t *len)
{
    const struct sim_faults *f = &s->fault_state.faults;
    const struct sim_ext_writer *x = &s->fault_state.writer;
    uint64_t stall_until_ns = s->fault_state.stall_until_ns;
    struct jw w;
    jw_init_growable(&w);
    jw_obj_begin(&w);
    jw_key(&w, "error_rate");
    jw_double(&w, f->error_rate);
    jw_key(&w, "error_kind");
    jw_str(&w, f->error_kind == SIM_ERR_503        ? "503"
               : f->error_kind == SIM_ERR_INTERNAL ? "internal"
                                                   : "mixed");
    jw_key(&w, "lost_ack_rate");
    jw_double(&w, f->lost_ack_rate);
    jw_key(&w, "latency_ms");
    jw_u64(&w, f->latency_ms);
    jw_key(&w, "jitter_ms");
    jw_u64(&w, f->jitter_ms);
    jw_key(&w, "rate_limit");
    jw_u64(&w, f->rate_limit);
    jw_key(&w, "congestion");
    jw_double(&w, f->congestion);
    uint64_t t = now_ns(CLOCK_REALTIME);
    jw_key(&w, "stall_remaining_ms");
    jw_u64(&w, stall_until_ns > t ? (stall_until_ns - t) / 1000000ull : 0);
    jw_key(&w, "external_writer");
    if (x->active) {
        char pks[KEYS_PUBKEY_STR_MAX + 8];
        if (keys_pubkey_format(&x->pk, pks, sizeof(pks)) < 0)
            pks[0] = 0;
        jw_obj_begin(&w);
        jw_key(&w, "account_id");
        jw_str(&w, x->account);
        jw_key(&w, "public_key");
        jw_str(&w, pks);
        jw_key(&w, "every_blocks");
        jw_u64(&w, x->every_blocks);
        jw_key(&w, "bump");
        jw_u64(&w, x->bump);
        jw_obj_end(&w);
    } else {
        jw_null(&w);
    }
    jw_obj_end(&w);
    return jw_take(&w, len);
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
    if (s->fault_state.faults.rate_limit == 0)
        return 0;
    uint64_t t = now_ns(CLOCK_MONOTONIC);
    double rate = (double)s->fault_state.faults.rate_limit;
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
    if (s->fault_state.faults.error_rate > 0 && rnd(s) < s->fault_state.faults.error_rate) {
        int kind = s->fault_state.faults.error_kind;
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
    if (r.submitted && s->fault_state.faults.lost_ack_rate > 0 &&
        rnd(s) < s->fault_state.faults.lost_ack_rate) {
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
            const char *err =
                sim_faults_apply(&s->fault_state, s->chain, text, n, now_ns(CLOCK_REALTIME));
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
    s->fault_state.faults = cfg->faults;
    s->rng = now_ns(CLOCK_MONOTONIC) | 1;
    chain->forced_congestion = s->fault_state.faults.congestion;
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
