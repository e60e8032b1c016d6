/* ingest: the ingest stage's threads and plumbing (routes and replies are in http_api.c, the HTTP
 * wire in hsrv.c). Each of the N threads "ingest-<i>" owns one event_base, one hsrv on its own
 * SO_REUSEPORT listening socket (all on the same port), a fixed slab of request contexts with
 * their preallocated timers,
 * the parse scratch and reply buffer, the event on its reply ring's eventfd and its counters. The
 * controlling thread (main) creates and binds everything in ingest_start(), then only signals the
 * threads through their stop eventfd and joins them. Contexts are recycled only when answered
 * (or orphaned) and no longer lent to the pipeline; each recycle bumps the context's generation
 * so late PIPE_MSG_JOB messages for an older request are recognised and ignored. */
#include "ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cfg.h"
#include "http_parse.h"
#include "ingest_int.h"
#include "jw.h"
#include "nf_err.h"
#include "nf_log.h"
#include "ratelim.h"
#include "spend.h"
#include "txid.h"

#define INGEST_MAX_THREADS 64
#define INGEST_ORIGIN_MAX  256 /* bytes of one --allowed-origins value */
#define INGEST_CTX_MIN     64
#define INGEST_CTX_MAX     16384
#define INGEST_GRACE_MAX   3000 /* ms a stop waits for requests in flight */
#define INGEST_FLUSH_MS    100  /* ms the loop keeps running after the last answer on stop */
#define INGEST_TX_IDS_MAX  1024
#define INGEST_BITS_BUDGET (8u << 20)  /* bytes of per-context "job counted" bits per thread */
#define INGEST_OUT_MAX     (64u << 20) /* largest reply buffer per thread */

static const uint64_t ingest_lat_le_us[INGEST_LAT_BUCKETS - 1] = {
    500,    1000,   2500,   5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
static const char *const ingest_lat_le_txt[INGEST_LAT_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "+Inf"};
static const uint64_t ingest_parse_le_ns[INGEST_PARSE_BUCKETS - 1] = {100,  250,  500,   1000,
                                                                      2500, 5000, 10000, 25000};
static const char *const ingest_parse_le_txt[INGEST_PARSE_BUCKETS] = {
    "100", "250", "500", "1000", "2500", "5000", "10000", "25000", "+Inf"};
static const int ingest_codes[INGEST_CODE_COUNT - 1] = {200, 202, 400, 401, 403, 404, 405,
                                                        413, 415, 422, 429, 500, 503, 504};
static const char *const ingest_route_names[INGEST_ROUTE_COUNT] = {"v1_transfers_post",
                                                                   "v1_transfers_get",
                                                                   "v1_tx_get",
                                                                   "send_ft",
                                                                   "node_transfer_get",
                                                                   "node_tx_get",
                                                                   "rust_transfer",
                                                                   "health",
                                                                   "metrics",
                                                                   "debug_stages",
                                                                   "debug_recent",
                                                                   "page",
                                                                   "other"};

uint64_t ingest_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ingest_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int ingest_code_slot(int code)
{
    for (int i = 0; i < INGEST_CODE_COUNT - 1; i++)
        if (ingest_codes[i] == code)
            return i;
    return INGEST_CODE_COUNT - 1;
}

static void ingest_count(struct ingest_thread *t, int route, int code, uint64_t start_ns)
{
    struct ingest_stats *s = t->stats;
    ingest_stat_add(&s->requests[route][ingest_code_slot(code)], 1);
    uint64_t us = (ingest_now_ns() - start_ns) / 1000u;
    int b = 0;
    while (b < INGEST_LAT_BUCKETS - 1 && us > ingest_lat_le_us[b])
        b++;
    ingest_stat_add(&s->latency_bucket[b], 1);
    ingest_stat_add(&s->latency_sum_us, us);
    ingest_stat_add(&s->latency_count, 1);
}

/* send_reply: ingest_send with the Retry-After of a 503 given (0: the pipeline's current one). */
static void send_reply(struct ingest_thread *t,
                       struct hsrv_ref ref,
                       int route,
                       int code,
                       const char *ctype,
                       const char *extra,
                       unsigned retry_s,
                       const char *body,
                       size_t len,
                       uint64_t start_ns)
{
    char hdr[160];
    if (code == 503) {
        snprintf(hdr, sizeof(hdr), "Retry-After: %u\r\n%s",
                 retry_s != 0 ? retry_s : pipe_retry_after_s(t->in->pipe), extra ? extra : "");
        extra = hdr;
    }
    if (!hsrv_ref_live(ref)) {
        ingest_stat_add(&t->stats->orphaned, 1);
        ingest_count(t, route, 499, start_ns);
        return;
    }
    /* Counted before the answer leaves: a client that reads /metrics once answered finds it. */
    ingest_count(t, route, code, start_ns);
    hsrv_reply(ref, code, ctype, extra, body, len, t->stopping);
}

void ingest_send(struct ingest_thread *t,
                 struct hsrv_ref ref,
                 int route,
                 int code,
                 const char *ctype,
                 const char *extra,
                 const char *body,
                 size_t len,
                 uint64_t start_ns)
{
    send_reply(t, ref, route, code, ctype, extra, 0, body, len, start_ns);
}

/* ---- request contexts ------------------------------------------------------------------------ */

struct ingest_ctx *ingest_ctx_alloc(struct ingest_thread *t)
{
    if (t->nfree == 0)
        return NULL;
    struct ingest_ctx *c = &t->ctxs[t->free_stack[--t->nfree]];
    c->busy = 1;
    c->lent = 0;
    c->replied = 0;
    c->orphaned = 0;
    c->accepted = 0;
    c->accept_failed = 0;
    c->expired = 0;
    c->is_batch = 0;
    c->wait_level = 0;
    c->wait_final = 0;
    c->idem_header = 0;
    c->n = 0;
    c->done = 0;
    c->first_id = 0;
    c->has_ref = 0;
    ingest_stat_add(&t->stats->ctx_in_use, 1);
    return c;
}

static void ingest_ctx_put(struct ingest_ctx *c)
{
    struct ingest_thread *t = c->t;
    memset(c->done_bits, 0, ((c->n + 63u) / 64u) * sizeof(uint64_t));
    c->busy = 0;
    c->gen++;
    c->n = 0;
    t->free_stack[t->nfree++] = c->idx;
    ingest_stat_add(&t->stats->ctx_in_use, (uint64_t)-1);
    if (t->stopping && t->nfree == t->nctx) {
        struct timeval tv = {0, INGEST_FLUSH_MS * 1000};
        event_base_loopexit(t->base, &tv);
    }
}

void ingest_ctx_free_unused(struct ingest_ctx *c)
{
    ingest_ctx_put(c);
}

void ingest_ctx_maybe_recycle(struct ingest_ctx *c)
{
    if (!c->busy || !c->replied || c->lent)
        return;
    c->t->in->routes.release_ctx_jobs(c);
    ingest_ctx_put(c);
}

static void ingest_ctx_orphan(struct ingest_ctx *c)
{
    c->has_ref = 0;
    c->orphaned = 1;
    c->replied = 1;
    evtimer_del(c->timer);
    ingest_stat_add(&c->t->stats->orphaned, 1);
    ingest_count(c->t, c->route, 499, c->start_ns);
    ingest_ctx_maybe_recycle(c);
}

/* hsrv's on_gone: the client of a held request hung up (EOF or a reset while we wait). */
static void ingest_ctx_gone(void *cookie, void *arg)
{
    (void)arg;
    struct ingest_ctx *c = cookie;
    if (c->busy && !c->replied && c->has_ref)
        ingest_ctx_orphan(c);
}

void ingest_ctx_arm(struct ingest_ctx *c)
{
    hsrv_hold(c->ref, c);
    uint64_t ms = c->t->in->wait_timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)((ms % 1000u) * 1000u)};
    evtimer_add(c->timer, &tv);
}

void ingest_ctx_send(struct ingest_ctx *c, int code, const char *body, size_t len)
{
    if (c->replied)
        return;
    /* A request refused by the idempotency index says when its oldest key may go. */
    unsigned retry = c->acc.status == NF_EIDEMFULL ? c->acc.retry_after_s : 0;
    if (c->has_ref)
        send_reply(c->t, c->ref, c->route, code, NULL, NULL, retry, body, len, c->start_ns);
    c->has_ref = 0;
    c->replied = 1;
    evtimer_del(c->timer);
    ingest_ctx_maybe_recycle(c);
}

static void ingest_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ingest_ctx *c = arg;
    if (c->busy && !c->replied) {
        ingest_stat_add(&c->t->stats->timeouts, 1);
        c->t->in->routes.timeout(c);
    }
}

/* ---- thread events --------------------------------------------------------------------------- */

static void ingest_reply_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ingest_thread *t = arg;
    /* Clear before draining (nf_ring.h wake protocol): a push after this read wakes us again. */
    nf_ring_clear(t->reply);
    void *m;
    while ((m = nf_ring_pop_mpsc(t->reply)) != NULL) {
        if (pipe_msg_tag(m) == PIPE_MSG_ACCEPTED)
            t->in->routes.accepted(t, pipe_msg_ptr(m));
        else
            t->in->routes.job(t, pipe_msg_ptr(m));
    }
}

/* ingest_flush_cb: after every request callback of this loop pass (lowest priority): one WAL
 * wake for all the accepts they lent. */
static void ingest_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ingest_thread *t = arg;
    t->flush_pending = 0;
    pipe_accept_wake(t->in->pipe);
}

static void ingest_grace_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ingest_thread *t = arg;
    for (uint32_t i = 0; i < t->nctx; i++) {
        struct ingest_ctx *c = &t->ctxs[i];
        if (c->busy && !c->replied)
            t->in->routes.timeout(c);
    }
    struct timeval tv = {0, INGEST_FLUSH_MS * 1000};
    event_base_loopexit(t->base, &tv);
}

static void ingest_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct ingest_thread *t = arg;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
        NF_LOG(NF_LOG_WARN, "ingest", "stop eventfd read failed errno=%d", errno);
    if (t->stopping)
        return;
    t->stopping = 1;
    hsrv_stop_accepting(t->srv); /* closes the listening socket */
    t->listen_fd = -1;
    if (t->nfree == t->nctx) {
        struct timeval tv = {0, INGEST_FLUSH_MS * 1000};
        event_base_loopexit(t->base, &tv);
        return;
    }
    uint64_t ms = t->in->grace_ms;
    struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)((ms % 1000u) * 1000u)};
    evtimer_add(t->grace_ev, &tv);
}

/* ingest_auth_cb: a new token table was published. Runs between request callbacks, so this
 * thread holds no pointer to the old table: say so by storing the epoch it now sees. */
static void ingest_auth_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct ingest_thread *t = arg;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
        NF_LOG(NF_LOG_WARN, "ingest", "auth eventfd read failed errno=%d", errno);
    /* acquire: pairs with the release increment in ingest_auth_set, which follows the exchange:
     * every later table load of this thread sees the new table. */
    uint64_t ep = atomic_load_explicit(&t->in->auth_epoch, memory_order_acquire);
    /* release: this thread's reads of the old table happen before ingest_auth_set frees it. */
    atomic_store_explicit(&t->auth_seen, ep, memory_order_release);
}

/* token_window: the hour's (day 0) or the day's (day 1) window of entry i of v, or NULL when the
 * token has no such limit (now). */
static struct spend *token_window(const struct ingest_tokens *v, size_t i, int day)
{
    const struct auth_entry *e = &v->table->e[i];
    const struct spend_token *w = v->budget[i];
    if (w == NULL || (day ? e->max_amount_per_day : e->max_amount_per_hour) == 0)
        return NULL;
    return day ? w->day : w->hour;
}

static void ingest_tokens_free(struct ingest_tokens *v)
{
    if (v == NULL)
        return;
    auth_table_free(v->table);
    free(v);
}

int ingest_auth_set(struct ingest *in, struct auth_table *tab, struct spend_tokens *budgets)
{
    struct ingest_tokens *view = NULL;
    if (tab != NULL) {
        view = calloc(1, sizeof(*view) + tab->n * sizeof(view->budget[0]));
        if (view == NULL) {
            auth_table_free(tab);
            return NF_ENOMEM;
        }
        view->table = tab;
        for (size_t i = 0; i < tab->n; i++) {
            const struct auth_entry *e = &tab->e[i];
            if (e->max_amount_per_hour == 0 && e->max_amount_per_day == 0)
                continue;
            view->budget[i] = budgets != NULL
                                  ? spend_tokens_get(budgets, e->name, strlen(e->name),
                                                     e->max_amount_per_hour, e->max_amount_per_day)
                                  : NULL;
            if (view->budget[i] == NULL) {
                ingest_tokens_free(view);
                return budgets != NULL ? NF_ENOMEM : NF_EINVAL;
            }
        }
    }
    /* acq_rel exchange; the epoch increment below (release) orders it before any ack. */
    struct ingest_tokens *old = atomic_exchange_explicit(&in->auth, view, memory_order_acq_rel);
    int running = 0;
    for (unsigned i = 0; i < in->nthreads; i++)
        running |= in->threads[i].started;
    if (!running) {
        ingest_tokens_free(old);
        return 0;
    }
    uint64_t ep = atomic_fetch_add_explicit(&in->auth_epoch, 1, memory_order_acq_rel) + 1;
    for (unsigned i = 0; i < in->nthreads; i++) {
        struct ingest_thread *t = &in->threads[i];
        uint64_t one = 1;
        if (t->started)
            while (write(t->auth_fd, &one, sizeof(one)) == -1 && errno == EINTR)
                ;
    }
    for (int waited_ms = 0; waited_ms < 10000; waited_ms++) {
        int all = 1;
        for (unsigned i = 0; i < in->nthreads; i++) {
            struct ingest_thread *t = &in->threads[i];
            /* acquire: pairs with the thread's release store in ingest_auth_cb. */
            if (t->started && atomic_load_explicit(&t->auth_seen, memory_order_acquire) < ep)
                all = 0;
        }
        if (all) {
            ingest_tokens_free(old);
            return 0;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    NF_LOG(NF_LOG_WARN, "ingest",
           "an ingest thread did not acknowledge the new token table in "
           "10 s; the old table is kept in memory");
    return NF_ESTATE;
}

static void ingest_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ingest_thread *t = arg;
    uint64_t total = 0;
    for (int r = 0; r < INGEST_ROUTE_COUNT; r++)
        for (int k = 0; k < INGEST_CODE_COUNT; k++)
            total += ingest_stat_get(&t->stats->requests[r][k]);
    uint64_t now = ingest_now_ns();
    uint64_t dt = now - t->tick_last_ns;
    if (dt > 0)
        atomic_store_explicit(&t->stats->rate_milli,
                              (total - t->tick_last_requests) * 1000000000000ull / dt,
                              memory_order_relaxed);
    t->tick_last_requests = total;
    t->tick_last_ns = now;
    atomic_store_explicit(&t->stats->open_conns, hsrv_open_conns(t->srv), memory_order_relaxed);
    atomic_store_explicit(&t->stats->unsent_bytes, hsrv_unsent_bytes(t->srv), memory_order_relaxed);
}

static void *ingest_thread_main(void *arg)
{
    struct ingest_thread *t = arg;
    char name[16];
    snprintf(name, sizeof(name), "ingest-%u", t->idx);
    pthread_setname_np(pthread_self(), name);
    log_set_thread(name);
    t->tick_last_ns = ingest_now_ns();
    event_base_dispatch(t->base);
    /* Owner thread frees the wire: closes the listener (if still open) and every connection. */
    hsrv_free(t->srv);
    t->srv = NULL;
    t->listen_fd = -1;
    return NULL;
}

/* origin_host_end: the host of origin o[0..n) that starts at k, a bracketed IPv6 literal or a
 * run of printable characters other than ':', '/', '\\', '@', '?', '#', '[' and ']'. 1 and *end
 * just past it, or 0 when there is none. */
static int origin_host_end(const char *o, size_t k, size_t n, size_t *end)
{
    if (o[k] == '[') {
        size_t j = k + 1;
        while (j < n && strchr("0123456789abcdefABCDEF:.", o[j]) != NULL)
            j++;
        if (j == k + 1 || j == n || o[j] != ']')
            return 0;
        *end = j + 1;
        return 1;
    }
    size_t j = k;
    while (j < n && o[j] > 0x20 && o[j] < 0x7f && strchr(":/\\@?#[]", o[j]) == NULL)
        j++;
    *end = j;
    return j > k;
}

/* ingest_origin_well_formed (ingest_int.h): scheme, host (origin_host_end), then an optional
 * port of 1..65535 without leading zeros. */
int ingest_origin_well_formed(const char *o)
{
    size_t n = strlen(o), k;
    if (n > INGEST_ORIGIN_MAX)
        return 0;
    if (strncmp(o, "https://", 8) == 0)
        k = 8;
    else if (strncmp(o, "http://", 7) == 0)
        k = 7;
    else
        return 0;
    if (!origin_host_end(o, k, n, &k))
        return 0;
    if (k == n)
        return 1;
    if (o[k] != ':' || o[k + 1] < '1' || o[k + 1] > '9' || n - (k + 1) > 5)
        return 0;
    unsigned long port = 0;
    for (k++; k < n; k++) {
        if (o[k] < '0' || o[k] > '9')
            return 0;
        port = port * 10 + (unsigned long)(o[k] - '0');
    }
    return port <= 65535;
}

/* ---- set-up ---------------------------------------------------------------------------------- */

/* ingest_inherited_socket: thread idx's descriptor of the socket the service manager passed:
 * the socket itself for the last thread set up, a duplicate for the others, nonblocking. 0 or
 * NF_EIO. */
static int ingest_inherited_socket(struct ingest *in, unsigned idx, int *fd_out)
{
    int fd =
        idx + 1 == in->nthreads ? in->inherited_fd : fcntl(in->inherited_fd, F_DUPFD_CLOEXEC, 3);
    int fl = fd == -1 ? -1 : fcntl(fd, F_GETFL);
    if (fd == -1 || fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
        int e = errno;
        if (fd != -1 && fd != in->inherited_fd)
            close(fd);
        NF_LOG(NF_LOG_ERROR, "ingest",
               "the service manager's socket is unusable errno=%d err=\"%s\"", e, strerror(e));
        return NF_EIO;
    }
    if (fd == in->inherited_fd)
        in->inherited_fd = -1; /* the last thread owns it now */
    in->port = ingest_bound_port(fd);
    *fd_out = fd;
    return 0;
}

int ingest_use_listen_fd(struct ingest *in, int fd)
{
    if (in->started) {
        close(fd);
        return NF_ESTATE;
    }
    if (in->inherited_fd != -1)
        close(in->inherited_fd);
    in->inherited_fd = fd;
    return 0;
}

static int ingest_listen_socket(struct ingest *in, int *fd_out)
{
    struct sockaddr_storage sa;
    socklen_t sa_len = 0;
    int rc = ingest_resolve(in->host, in->port, 1, &sa, &sa_len);
    if (rc != 0) {
        NF_LOG(NF_LOG_ERROR, "ingest", "cannot resolve listen host=%s err=\"%s\"", in->host,
               gai_strerror(rc));
        return NF_ECONFIG;
    }
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, e = 0;
    if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1 ||
        bind(fd, (struct sockaddr *)&sa, sa_len) == -1 || listen(fd, 4096) == -1) {
        e = errno;
        if (fd != -1)
            close(fd);
        NF_LOG(NF_LOG_ERROR, "ingest", "listen failed host=%s port=%u errno=%d err=\"%s\"",
               in->host, (unsigned)in->port, e, strerror(e));
        return NF_EIO;
    }
    if (in->port == 0) /* the first socket picks a free port; the other threads bind it too */
        in->port = ingest_bound_port(fd);
    *fd_out = fd;
    return 0;
}

int ingest_listen_loopback(const char *listen)
{
    char host[64];
    uint16_t port = 0;
    if (ingest_parse_listen(listen, host, sizeof(host), &port) != 0)
        return NF_ECONFIG;
    if (host[0] == '\0')
        return 0; /* every interface */
    struct sockaddr_storage sa;
    socklen_t sa_len = 0;
    if (ingest_resolve(host, 0, 1, &sa, &sa_len) != 0)
        return NF_ECONFIG;
    if (sa.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&sa;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&sa;
        return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
    }
    return 0;
}

/* ingest_check_settings: parses cfg->listen into in->host and in->port and checks the settings
 * the stage depends on, in that order, logging the first bad one. 0 or NF_ECONFIG. Borrows in and
 * cfg until return; main thread (ingest_transport_new). */
static int ingest_check_settings(struct ingest *in, const struct cfg *cfg)
{
    if (ingest_parse_listen(cfg->listen, in->host, sizeof(in->host), &in->port) != 0) {
        NF_LOG(NF_LOG_ERROR, "ingest", "bad listen address listen=%s (want HOST:PORT)",
               cfg->listen);
        return NF_ECONFIG;
    }
    /* An allowed origin is what a browser sends as Origin (scheme://host[:port], no path) and
     * is echoed in Access-Control-Allow-Origin: printable, no spaces. "null" (sandboxed and
     * data: pages of any site) and "*" are refused. */
    for (size_t i = 0; i < cfg->allowed_origins.n; i++) {
        if (!ingest_origin_well_formed(cfg->allowed_origins.v[i])) {
            NF_LOG(NF_LOG_ERROR, "ingest",
                   "an allowed origin must be http:// or https:// and a host with an optional "
                   "port, without path or spaces, at most %d bytes allowed_origins_item=%zu",
                   INGEST_ORIGIN_MAX, i + 1);
            return NF_ECONFIG;
        }
    }
    if (cfg->ipv6_client_prefix != 0 &&
        (cfg->ipv6_client_prefix < 16 || cfg->ipv6_client_prefix > 64)) {
        NF_LOG(NF_LOG_ERROR, "ingest", "IPv6 client prefix out of range ipv6_client_prefix=%llu",
               (unsigned long long)cfg->ipv6_client_prefix);
        return NF_ECONFIG;
    }
    if (cfg->ingest_threads < 1 || cfg->ingest_threads > INGEST_MAX_THREADS) {
        NF_LOG(NF_LOG_ERROR, "ingest", "thread count out of range ingest_threads=%u max=%d",
               (unsigned)cfg->ingest_threads, INGEST_MAX_THREADS);
        return NF_ECONFIG;
    }
    if (cfg->max_batch_request < 1 || cfg->memo_max_bytes > REQ_MEMO_MAX) {
        NF_LOG(NF_LOG_ERROR, "ingest", "bad request limits max_batch_request=%u memo_max_bytes=%u",
               (unsigned)cfg->max_batch_request, (unsigned)cfg->memo_max_bytes);
        return NF_ECONFIG;
    }
    if (cfg->max_connections < 16 || cfg->max_connections > (1u << 20) || cfg->large_bodies < 1 ||
        cfg->large_bodies > 65536) {
        NF_LOG(NF_LOG_ERROR, "ingest",
               "bad connection limits max_connections=%llu (16..1048576) large_bodies=%llu "
               "(1..65536)",
               (unsigned long long)cfg->max_connections, (unsigned long long)cfg->large_bodies);
        return NF_ECONFIG;
    }
    if (cfg->body_pool_bytes != 0 &&
        cfg->body_pool_bytes < (uint64_t)cfg->max_body_bytes + 96u * 1024u) {
        NF_LOG(NF_LOG_ERROR, "ingest",
               "body pool cannot hold one largest body body_pool_bytes=%llu max_body_bytes=%llu "
               "need=%llu",
               (unsigned long long)cfg->body_pool_bytes, (unsigned long long)cfg->max_body_bytes,
               (unsigned long long)cfg->max_body_bytes + 98304ull);
        return NF_ECONFIG;
    }
    return 0;
}

/* ingest_new_limits: notes whether tokens are required, borrows the pipeline's spend caps (those
 * with a limit) and allocates the tx id key and the rate limiters the settings ask for, owned by
 * in afterwards (ingest_free or ingest_transport_new's unwinding frees them). 0 or NF_ENOMEM.
 * Main thread. */
static int ingest_new_limits(struct ingest *in, const struct cfg *cfg, struct nf_pipe *p)
{
    in->auth_required = cfg->auth_tokens != NULL;
    in->spend = pipe_spend(p);
    if (in->spend != NULL && spend_limit(in->spend) == 0)
        in->spend = NULL;
    in->spend_day = pipe_spend_day(p);
    if (in->spend_day != NULL && spend_limit(in->spend_day) == 0)
        in->spend_day = NULL;
    if ((in->id_key = txid_key_new()) == NULL)
        return NF_ENOMEM;
    if (cfg->rate_limit_global != 0 &&
        (in->rate_global = ratelim_new(cfg->rate_limit_global, cfg->rate_limit_global)) == NULL)
        return NF_ENOMEM;
    if (cfg->rate_limit != 0 &&
        (in->rate = ratelim_new(cfg->rate_limit, cfg->rate_burst ? cfg->rate_burst : 1)) == NULL)
        return NF_ENOMEM;
    return 0;
}

/* ingest_size_threads: the per-thread sizes derived from the (already checked) settings: thread
 * count, request limits, timeouts and contexts per thread. Cannot fail. Main thread. */
static void ingest_size_threads(struct ingest *in, const struct cfg *cfg)
{
    in->nthreads = (unsigned)cfg->ingest_threads;
    in->max_items = (uint32_t)cfg->max_batch_request;
    in->memo_max = (size_t)cfg->memo_max_bytes;
    in->wait_timeout_ms = cfg->wait_timeout_ms ? (uint64_t)cfg->wait_timeout_ms : 1;
    in->grace_ms = in->wait_timeout_ms < INGEST_GRACE_MAX ? in->wait_timeout_ms : INGEST_GRACE_MAX;
    /* Contexts per thread: enough for every in-flight request the pipeline can hold (the job
     * queue bound, spread over the threads), clamped to a sane range. */
    uint64_t per = (uint64_t)cfg->queue_capacity / in->nthreads;
    if (per < INGEST_CTX_MIN)
        per = INGEST_CTX_MIN;
    if (per > INGEST_CTX_MAX)
        per = INGEST_CTX_MAX;
    /* ... and within the memory budget of the per-context bitmaps (big max_batch_request). */
    uint64_t bits_bytes = ((in->max_items + 63u) / 64u) * sizeof(uint64_t);
    if (per > INGEST_BITS_BUDGET / bits_bytes)
        per = INGEST_BITS_BUDGET / bits_bytes;
    if (per < INGEST_CTX_MIN)
        per = INGEST_CTX_MIN;
    in->ctx_per_thread = (uint32_t)per;
}

/* ingest_new_threads: allocates the connection state shared by the threads and the array of
 * in->nthreads thread records (nothing of a thread is set up before ingest_start), both owned by
 * in afterwards. 0 or NF_ENOMEM. Main thread. */
static int ingest_new_threads(struct ingest *in, const struct cfg *cfg)
{
    in->hshared =
        hsrv_shared_new(cfg->max_connections * in->nthreads, (uint32_t)cfg->max_conns_per_ip,
                        cfg->body_pool_bytes ? cfg->body_pool_bytes : UINT64_MAX / 2,
                        cfg->ipv6_client_prefix ? (unsigned)cfg->ipv6_client_prefix : 64);
    in->threads = calloc(in->nthreads, sizeof(*in->threads));
    if (in->threads == NULL || in->hshared == NULL)
        return NF_ENOMEM;
    for (unsigned i = 0; i < in->nthreads; i++) {
        in->threads[i].in = in;
        in->threads[i].idx = i;
        in->threads[i].stop_fd = -1;
        in->threads[i].listen_fd = -1;
        in->threads[i].auth_fd = -1;
    }
    return 0;
}

struct ingest *ingest_transport_new(const struct cfg *cfg,
                                    struct nf_pipe *p,
                                    const struct ingest_routes *routes,
                                    int *err)
{
    int rc = NF_ENOMEM;
    struct ingest *in = calloc(1, sizeof(*in));
    if (in == NULL)
        goto fail;
    in->cfg = cfg;
    in->inherited_fd = -1;
    in->routes = *routes;
    in->pipe = p;
    in->slab = pipe_jobs(p);
    if ((rc = ingest_check_settings(in, cfg)) != 0)
        goto fail;
    if ((rc = ingest_new_limits(in, cfg, p)) != 0)
        goto fail;
    ingest_size_threads(in, cfg);
    if ((rc = ingest_new_threads(in, cfg)) != 0)
        goto fail;
    return in;
fail:
    if (in != NULL) {
        free(in->threads);
        hsrv_shared_free(in->hshared);
        ratelim_free(in->rate);
        ratelim_free(in->rate_global);
        txid_key_free(in->id_key);
    }
    free(in);
    if (err != NULL)
        *err = rc;
    return NULL;
}

static void ingest_thread_release(struct ingest_thread *t)
{
    if (t->ctxs != NULL) {
        for (uint32_t i = 0; i < t->nctx; i++) {
            if (t->ctxs[i].timer != NULL)
                event_free(t->ctxs[i].timer);
        }
    }
    free(t->ctxs);
    t->ctxs = NULL;
    if (t->reply_ev != NULL)
        event_free(t->reply_ev);
    if (t->stop_ev != NULL)
        event_free(t->stop_ev);
    if (t->tick_ev != NULL)
        event_free(t->tick_ev);
    if (t->grace_ev != NULL)
        event_free(t->grace_ev);
    if (t->flush_ev != NULL)
        event_free(t->flush_ev);
    if (t->auth_ev != NULL)
        event_free(t->auth_ev);
    t->reply_ev = t->stop_ev = t->tick_ev = t->grace_ev = t->flush_ev = t->auth_ev = NULL;
    if (t->srv != NULL) {
        hsrv_free(t->srv); /* closes the listening socket it owns */
        t->srv = NULL;
        t->listen_fd = -1;
    }
    if (t->base != NULL)
        event_base_free(t->base);
    t->base = NULL;
    if (t->listen_fd != -1)
        close(t->listen_fd);
    t->listen_fd = -1;
    if (t->stop_fd != -1)
        close(t->stop_fd);
    t->stop_fd = -1;
    if (t->auth_fd != -1)
        close(t->auth_fd);
    t->auth_fd = -1;
    free(t->free_stack);
    free(t->bits);
    free(t->items);
    free(t->toks);
    free(t->out);
    free(t->ids);
    free(t->stats);
    t->free_stack = NULL;
    t->bits = NULL;
    t->items = NULL;
    t->toks = NULL;
    t->out = NULL;
    t->ids = NULL;
    t->stats = NULL;
}

static int ingest_thread_setup(struct ingest *in, struct ingest_thread *t)
{
    const struct cfg *cfg = in->cfg;
    t->nctx = in->ctx_per_thread;
    t->bits_words = (in->max_items + 63u) / 64u;
    t->tok_cap = REQ_JSON_TOKENS(in->max_items);
    /* Reply buffer: the largest answer is a bulk /send-ft result (memos escaped up to 6x). */
    t->out_cap = 256u * 1024u + (size_t)in->max_items * 2048u;
    if (t->out_cap > INGEST_OUT_MAX)
        t->out_cap = INGEST_OUT_MAX;
    t->ids_cap = INGEST_TX_IDS_MAX;
    t->ctxs = calloc(t->nctx, sizeof(*t->ctxs));
    t->free_stack = calloc(t->nctx, sizeof(*t->free_stack));
    t->bits = calloc((size_t)t->nctx * t->bits_words, sizeof(*t->bits));
    t->items = calloc(in->max_items, sizeof(*t->items));
    t->toks = calloc(t->tok_cap, sizeof(*t->toks));
    t->out = malloc(t->out_cap);
    t->ids = calloc(t->ids_cap, sizeof(*t->ids));
    t->stats = aligned_alloc(64, (sizeof(struct ingest_stats) + 63u) / 64u * 64u);
    if (t->ctxs == NULL || t->free_stack == NULL || t->bits == NULL || t->items == NULL ||
        t->toks == NULL || t->out == NULL || t->ids == NULL || t->stats == NULL)
        return NF_ENOMEM;
    memset(t->stats, 0, sizeof(*t->stats));
    t->reply = pipe_reply_ring(in->pipe, t->idx);
    if (t->reply == NULL) {
        NF_LOG(NF_LOG_ERROR, "ingest", "pipeline has no reply ring for thread=%u", t->idx);
        return NF_ECONFIG;
    }
    t->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->stop_fd == -1)
        return NF_EIO;
    t->auth_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->auth_fd == -1)
        return NF_EIO;
    struct event_config *ec = event_config_new();
    if (ec == NULL)
        return NF_ENOMEM;
    /* One thread per base: no locking inside libevent. */
    event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
    t->base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (t->base == NULL)
        return NF_ENOMEM;
    /* Three priorities: everything defaults to 1; the accept flush runs at 2, after every
     * request callback of the same loop pass, so one WAL wake covers all of them. */
    if (event_base_priority_init(t->base, 3) != 0)
        return NF_ENOMEM;
    int rc = in->inherited_fd != -1 ? ingest_inherited_socket(in, t->idx, &t->listen_fd)
                                    : ingest_listen_socket(in, &t->listen_fd);
    if (rc != 0)
        return rc;
    /* Idle keep-alive connections are closed after wait_timeout + 60 s; held requests are
     * answered well before it by their own wait timer. Heads, bodies and unread answers have
     * their own deadlines (hsrv.h). */
    struct hsrv_opts ho = {
        .max_conns = (uint32_t)cfg->max_connections,
        .big_bufs = (uint32_t)cfg->large_bodies,
        .max_head = 16384,
        .max_body = (size_t)cfg->max_body_bytes,
        .idle_ms = in->wait_timeout_ms + 60000u,
        .head_ms = cfg->head_timeout_ms,
        .body_min_rate = cfg->body_min_rate,
        .write_ms = cfg->write_timeout_ms,
        .max_unsent = cfg->max_unsent_bytes / in->nthreads,
        .vary_origin = cfg->allowed_origins.n > 0,
        .shared = in->hshared,
        .counters = &t->stats->conns,
        .on_request = in->routes.request,
        .on_head = in->routes.head,
        .cors_origin = in->routes.allowed_origin,
        .on_gone = ingest_ctx_gone,
        .arg = t,
    };
    t->srv = hsrv_new(t->base, t->listen_fd, &ho, &rc);
    if (t->srv == NULL)
        return rc;
    t->reply_ev = event_new(t->base, t->reply->efd, EV_READ | EV_PERSIST, ingest_reply_cb, t);
    t->stop_ev = event_new(t->base, t->stop_fd, EV_READ | EV_PERSIST, ingest_stop_cb, t);
    t->tick_ev = event_new(t->base, -1, EV_PERSIST, ingest_tick_cb, t);
    t->grace_ev = evtimer_new(t->base, ingest_grace_cb, t);
    t->flush_ev = event_new(t->base, -1, 0, ingest_flush_cb, t);
    t->auth_ev = event_new(t->base, t->auth_fd, EV_READ | EV_PERSIST, ingest_auth_cb, t);
    if (t->reply_ev == NULL || t->stop_ev == NULL || t->tick_ev == NULL || t->grace_ev == NULL ||
        t->flush_ev == NULL || t->auth_ev == NULL || event_priority_set(t->flush_ev, 2) != 0)
        return NF_ENOMEM;
    struct timeval one_s = {1, 0};
    if (event_add(t->reply_ev, NULL) != 0 || event_add(t->stop_ev, NULL) != 0 ||
        event_add(t->auth_ev, NULL) != 0 || event_add(t->tick_ev, &one_s) != 0)
        return NF_EIO;
    for (uint32_t i = 0; i < t->nctx; i++) {
        struct ingest_ctx *c = &t->ctxs[i];
        c->t = t;
        c->idx = i;
        c->gen = 1;
        c->done_bits = &t->bits[(size_t)i * t->bits_words];
        c->timer = evtimer_new(t->base, ingest_timer_cb, c);
        if (c->timer == NULL)
            return NF_ENOMEM;
        /* LIFO free stack: hand out low indexes first (warm cache lines). */
        t->free_stack[i] = t->nctx - 1 - i;
    }
    t->nfree = t->nctx;
    return 0;
}

int ingest_start(struct ingest *in)
{
    if (in->started)
        return NF_ESTATE;
    in->started = 1;
    in->start_ns = ingest_now_ns();
    int rc = 0;
    for (unsigned i = 0; i < in->nthreads; i++) {
        rc = ingest_thread_setup(in, &in->threads[i]);
        if (rc != 0)
            goto fail;
    }
    for (unsigned i = 0; i < in->nthreads; i++) {
        struct ingest_thread *t = &in->threads[i];
        int e = pthread_create(&t->tid, NULL, ingest_thread_main, t);
        if (e != 0) {
            NF_LOG(NF_LOG_ERROR, "ingest", "pthread_create failed err=%d", e);
            rc = NF_ENOMEM;
            goto fail;
        }
        t->started = 1;
    }
    NF_LOG(NF_LOG_INFO, "ingest", "listening host=%s port=%u threads=%u contexts_per_thread=%u",
           in->host[0] ? in->host : "*", (unsigned)in->port, in->nthreads, in->ctx_per_thread);
    return 0;
fail:
    ingest_stop(in);
    for (unsigned i = 0; i < in->nthreads; i++)
        ingest_thread_release(&in->threads[i]);
    in->started = 0;
    in->stopped = 0;
    return rc;
}

uint16_t ingest_port(const struct ingest *in)
{
    return in->started ? in->port : 0;
}

void ingest_stop(struct ingest *in)
{
    if (in == NULL || in->stopped)
        return;
    in->stopped = 1;
    for (unsigned i = 0; i < in->nthreads; i++) {
        struct ingest_thread *t = &in->threads[i];
        if (!t->started)
            continue;
        uint64_t one = 1;
        while (write(t->stop_fd, &one, sizeof(one)) == -1 && errno == EINTR)
            ;
    }
    for (unsigned i = 0; i < in->nthreads; i++) {
        struct ingest_thread *t = &in->threads[i];
        if (!t->started)
            continue;
        pthread_join(t->tid, NULL);
        t->started = 0;
    }
}

void ingest_free(struct ingest *in)
{
    if (in == NULL)
        return;
    ingest_stop(in);
    if (in->threads != NULL)
        for (unsigned i = 0; i < in->nthreads; i++)
            ingest_thread_release(&in->threads[i]);
    free(in->threads);
    hsrv_shared_free(in->hshared);
    ingest_tokens_free(atomic_load_explicit(&in->auth, memory_order_acquire));
    ratelim_free(in->rate);
    ratelim_free(in->rate_global);
    txid_key_free(in->id_key);
    if (in->inherited_fd != -1)
        close(in->inherited_fd);
    free(in);
}

/* ---- figures --------------------------------------------------------------------------------- */

struct ingest_sum {
    uint64_t requests[INGEST_ROUTE_COUNT][INGEST_CODE_COUNT];
    uint64_t lat[INGEST_LAT_BUCKETS];
    uint64_t lat_sum_us, lat_count;
    uint64_t parse[INGEST_PARSE_BUCKETS];
    uint64_t parse_sum_ns, parse_items, parse_per_item_sum_ns;
    uint64_t accepted, duplicates, busy, full, io, timeouts, orphaned, stale, in_use;
    uint64_t refused[INGEST_REFUSE_COUNT];
};

static void ingest_sum_stats(struct ingest *in, struct ingest_sum *s)
{
    memset(s, 0, sizeof(*s));
    for (unsigned i = 0; i < in->nthreads; i++) {
        const struct ingest_stats *st = in->threads[i].stats;
        if (st == NULL)
            continue;
        for (int r = 0; r < INGEST_ROUTE_COUNT; r++)
            for (int k = 0; k < INGEST_CODE_COUNT; k++)
                s->requests[r][k] += ingest_stat_get(&st->requests[r][k]);
        for (int b = 0; b < INGEST_LAT_BUCKETS; b++)
            s->lat[b] += ingest_stat_get(&st->latency_bucket[b]);
        for (int b = 0; b < INGEST_PARSE_BUCKETS; b++)
            s->parse[b] += ingest_stat_get(&st->parse_bucket[b]);
        s->lat_sum_us += ingest_stat_get(&st->latency_sum_us);
        s->lat_count += ingest_stat_get(&st->latency_count);
        s->parse_sum_ns += ingest_stat_get(&st->parse_sum_ns);
        s->parse_items += ingest_stat_get(&st->parse_items);
        s->parse_per_item_sum_ns += ingest_stat_get(&st->parse_per_item_sum_ns);
        s->accepted += ingest_stat_get(&st->transfers_accepted);
        s->duplicates += ingest_stat_get(&st->duplicates);
        s->busy += ingest_stat_get(&st->rejected_busy);
        s->full += ingest_stat_get(&st->rejected_full);
        s->io += ingest_stat_get(&st->rejected_io);
        s->timeouts += ingest_stat_get(&st->timeouts);
        s->orphaned += ingest_stat_get(&st->orphaned);
        s->stale += ingest_stat_get(&st->stale_msgs);
        s->in_use += ingest_stat_get(&st->ctx_in_use);
        for (int r = 0; r < INGEST_REFUSE_COUNT; r++)
            s->refused[r] += ingest_stat_get(&st->refused[r]);
    }
}

/* The /metrics text being appended to: out[0..len) of cap bytes; rc turns NF_ENOSPC at the
 * first piece that does not fit, and every later piece is skipped. */
struct mtext {
    char *out;
    size_t len, cap;
    int rc;
};

/* mt_printf: appends formatted text to m (nothing once m->rc is set). */
__attribute__((format(printf, 2, 3))) static void mt_printf(struct mtext *m, const char *fmt, ...)
{
    if (m->rc != 0)
        return;
    if (m->len >= m->cap) {
        m->rc = NF_ENOSPC;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->out + m->len, m->cap - m->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= m->cap - m->len) {
        m->rc = NF_ENOSPC;
        return;
    }
    m->len += (size_t)n;
}

/* HTTP requests by route and code, their durations, and the body parse time. */
static void metrics_http(struct mtext *m, const struct ingest_sum *sp)
{
    mt_printf(
        m, "# HELP nearft_http_requests_total HTTP requests answered by ingest, by route and code "
           "(code 499: the client closed first).\n# TYPE nearft_http_requests_total counter\n");
    for (int r = 0; r < INGEST_ROUTE_COUNT; r++)
        for (int k = 0; k < INGEST_CODE_COUNT; k++) {
            if (sp->requests[r][k] == 0)
                continue;
            if (k < INGEST_CODE_COUNT - 1)
                mt_printf(m, "nearft_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                          ingest_route_names[r], ingest_codes[k],
                          (unsigned long long)sp->requests[r][k]);
            else
                mt_printf(m, "nearft_http_requests_total{route=\"%s\",code=\"other\"} %llu\n",
                          ingest_route_names[r], (unsigned long long)sp->requests[r][k]);
        }
    mt_printf(m, "# HELP nearft_http_request_duration_seconds Time from request to answer.\n"
                 "# TYPE nearft_http_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b < INGEST_LAT_BUCKETS; b++) {
        cum += sp->lat[b];
        mt_printf(m, "nearft_http_request_duration_seconds_bucket{le=\"%s\"} %llu\n",
                  ingest_lat_le_txt[b], (unsigned long long)cum);
    }
    mt_printf(m,
              "nearft_http_request_duration_seconds_sum %.6f\n"
              "nearft_http_request_duration_seconds_count %llu\n",
              (double)sp->lat_sum_us / 1e6, (unsigned long long)sp->lat_count);
    mt_printf(
        m, "# HELP nearft_ingest_parse_seconds_per_transfer Body parse time divided by transfers.\n"
           "# TYPE nearft_ingest_parse_seconds_per_transfer histogram\n");
    cum = 0;
    for (int b = 0; b < INGEST_PARSE_BUCKETS; b++) {
        cum += sp->parse[b];
        if (b < INGEST_PARSE_BUCKETS - 1)
            mt_printf(m, "nearft_ingest_parse_seconds_per_transfer_bucket{le=\"%g\"} %llu\n",
                      (double)ingest_parse_le_ns[b] / 1e9, (unsigned long long)cum);
        else
            mt_printf(m, "nearft_ingest_parse_seconds_per_transfer_bucket{le=\"+Inf\"} %llu\n",
                      (unsigned long long)cum);
    }
    mt_printf(m,
              "nearft_ingest_parse_seconds_per_transfer_sum %.9f\n"
              "nearft_ingest_parse_seconds_per_transfer_count %llu\n",
              (double)sp->parse_per_item_sum_ns / 1e9, (unsigned long long)cum);
}

/* What ingest did with transfers, and its request contexts and reply rings. */
static void metrics_counts(struct mtext *m, struct ingest *in, const struct ingest_sum *sp)
{
    mt_printf(
        m,
        "# HELP nearft_ingest_transfers_accepted_total Transfers ingest got acknowledged as "
        "durable.\n# TYPE nearft_ingest_transfers_accepted_total counter\n"
        "nearft_ingest_transfers_accepted_total %llu\n"
        "# HELP nearft_ingest_duplicates_total Transfers answered as repeats of an idempotency "
        "key.\n# TYPE nearft_ingest_duplicates_total counter\nnearft_ingest_duplicates_total %llu\n"
        "# HELP nearft_ingest_rejected_total Requests ingest refused with 503, by reason: contexts "
        "(no free request context), full (queue or slab full), log_io (the log failed).\n"
        "# TYPE nearft_ingest_rejected_total counter\n"
        "nearft_ingest_rejected_total{reason=\"contexts\"} %llu\n"
        "nearft_ingest_rejected_total{reason=\"full\"} %llu\n"
        "nearft_ingest_rejected_total{reason=\"log_io\"} %llu\n"
        "# HELP nearft_ingest_wait_timeouts_total Waiting requests answered before their "
        "transfers were final (--wait-timeout-ms).\n"
        "# TYPE nearft_ingest_wait_timeouts_total counter\nnearft_ingest_wait_timeouts_total %llu\n"
        "# HELP nearft_ingest_orphaned_total Answers whose client had gone.\n"
        "# TYPE nearft_ingest_orphaned_total counter\nnearft_ingest_orphaned_total %llu\n"
        "# HELP nearft_ingest_contexts_in_use Request contexts in use.\n"
        "# TYPE nearft_ingest_contexts_in_use gauge\nnearft_ingest_contexts_in_use %llu\n"
        "# HELP nearft_ingest_contexts_capacity Request contexts of all ingest threads.\n"
        "# TYPE nearft_ingest_contexts_capacity gauge\nnearft_ingest_contexts_capacity %llu\n",
        (unsigned long long)sp->accepted, (unsigned long long)sp->duplicates,
        (unsigned long long)sp->busy, (unsigned long long)sp->full, (unsigned long long)sp->io,
        (unsigned long long)sp->timeouts, (unsigned long long)sp->orphaned,
        (unsigned long long)sp->in_use,
        (unsigned long long)in->ctx_per_thread * (unsigned long long)in->nthreads);
    mt_printf(m,
              "# HELP nearft_ingest_reply_ring_items Messages waiting in each ingest reply ring.\n"
              "# TYPE nearft_ingest_reply_ring_items gauge\n");
    for (unsigned i = 0; i < in->nthreads; i++)
        if (in->threads[i].reply != NULL)
            mt_printf(m, "nearft_ingest_reply_ring_items{thread=\"%u\"} %u\n", i,
                      nf_ring_count(in->threads[i].reply));
    mt_printf(m,
              "# HELP nearft_ingest_open_connections Client connections open on each ingest thread "
              "(refreshed every second).\n"
              "# TYPE nearft_ingest_open_connections gauge\n");
    for (unsigned i = 0; i < in->nthreads; i++)
        if (in->threads[i].stats != NULL)
            mt_printf(m, "nearft_ingest_open_connections{thread=\"%u\"} %llu\n", i,
                      (unsigned long long)ingest_stat_get(&in->threads[i].stats->open_conns));
}

/* Client connections closed by a deadline or limit, the body pool and unsent answers. */
static void metrics_connections(struct mtext *m, struct ingest *in)
{
    uint64_t cc[8] = {0}, unsent = 0;
    for (unsigned i = 0; i < in->nthreads; i++) {
        const struct hsrv_counters *k =
            in->threads[i].stats != NULL ? &in->threads[i].stats->conns : NULL;
        if (k == NULL)
            continue;
        cc[0] += ingest_stat_get(&k->head_timeouts);
        cc[1] += ingest_stat_get(&k->body_timeouts);
        cc[2] += ingest_stat_get(&k->write_timeouts);
        cc[3] += ingest_stat_get(&k->idle_closed);
        cc[4] += ingest_stat_get(&k->idle_reclaimed);
        cc[5] += ingest_stat_get(&k->per_ip_refused);
        cc[6] += ingest_stat_get(&k->pool_refused);
        cc[7] += ingest_stat_get(&k->unsent_reset);
        unsent += ingest_stat_get(&in->threads[i].stats->unsent_bytes);
    }
    mt_printf(
        m,
        "# HELP nearft_ingest_connections_closed_total Client connections closed by a deadline or "
        "limit (head_timeout: head not complete within --head-timeout-ms; body_rate: body slower "
        "than --body-min-rate; write_timeout: answer unread for --write-timeout-ms; idle: idle "
        "keep-alive; reclaimed: idle keep-alive closed for room in a full slab; per_ip: refused by "
        "--max-conns-per-ip; body_pool: 503 for a large buffer over --body-pool-bytes or "
        "--large-bodies; unsent: reset, the slowest reader while unsent answers exceeded "
        "--max-unsent-bytes).\n"
        "# TYPE nearft_ingest_connections_closed_total counter\n"
        "nearft_ingest_connections_closed_total{reason=\"head_timeout\"} %llu\n"
        "nearft_ingest_connections_closed_total{reason=\"body_rate\"} %llu\n"
        "nearft_ingest_connections_closed_total{reason=\"write_timeout\"} %llu\n"
        "nearft_ingest_connections_closed_total{reason=\"idle\"} %llu\n"
        "nearft_ingest_connections_closed_total{reason=\"reclaimed\"} %llu\n"
        "nearft_ingest_connections_closed_total{reason=\"per_ip\"} %llu\n"
        "nearft_ingest_connections_closed_total{reason=\"body_pool\"} %llu\n"
        "nearft_ingest_connections_closed_total{reason=\"unsent\"} %llu\n"
        "# HELP nearft_ingest_body_pool_bytes Large request buffers mapped now, all threads "
        "(cap: --body-pool-bytes).\n"
        "# TYPE nearft_ingest_body_pool_bytes gauge\nnearft_ingest_body_pool_bytes %llu\n"
        "# HELP nearft_ingest_unsent_bytes Answers written faster than their clients read them, "
        "waiting in memory, all threads (refreshed every second; cap: --max-unsent-bytes).\n"
        "# TYPE nearft_ingest_unsent_bytes gauge\nnearft_ingest_unsent_bytes %llu\n",
        (unsigned long long)cc[0], (unsigned long long)cc[1], (unsigned long long)cc[2],
        (unsigned long long)cc[3], (unsigned long long)cc[4], (unsigned long long)cc[5],
        (unsigned long long)cc[6], (unsigned long long)cc[7],
        (unsigned long long)hsrv_shared_pool_used(in->hshared), (unsigned long long)unsent);
}

/* Refusals by security limits, and the spend budgets (global and per token). The token table
 * loaded here stays valid for the call (see ingest_metrics_append). */
static void metrics_limits(struct mtext *m,
                           struct ingest *in,
                           const struct ingest_sum *sp,
                           const struct ingest_tokens *tv)
{
    static const char *const refusal_names[INGEST_REFUSE_COUNT] = {
        "receiver_signer", "receiver_contract",  "max_amount_per_transfer", "max_amount_per_hour",
        "rate_limit",      "max_amount_per_day", "rate_limit_global"};
    mt_printf(m,
              "# HELP nearft_ingest_limit_refusals_total Requests refused by a security limit, by "
              "reason.\n# TYPE nearft_ingest_limit_refusals_total counter\n");
    for (int r = 0; r < INGEST_REFUSE_COUNT; r++)
        mt_printf(m, "nearft_ingest_limit_refusals_total{reason=\"%s\"} %llu\n", refusal_names[r],
                  (unsigned long long)sp->refused[r]);
    /* The spend budgets, the hour's then the day's: the global window (contract label only) and
     * each token's own (token label too). */
    static const char *const fams[2][2] = {
        {"nearft_spend_budget_remaining", "nearft_spend_budget_limit"},
        {"nearft_spend_day_budget_remaining", "nearft_spend_day_budget_limit"}};
    static const char *const helps[2][2] = {
        {"Token units (the contract's smallest unit) that may still be accepted in the rolling "
         "hour (--max-amount-per-hour; with a token label, that token's max_amount_per_hour).",
         "The --max-amount-per-hour limit in token units (with a token label, that token's "
         "max_amount_per_hour)."},
        {"Token units that may still be accepted in the rolling 24 hours (--max-amount-per-day; "
         "with a token label, that token's max_amount_per_day).",
         "The --max-amount-per-day limit in token units (with a token label, that token's "
         "max_amount_per_day)."}};
    const char *contract = in->cfg->contract ? in->cfg->contract : "";
    uint64_t now_ms = ingest_now_ms();
    for (int day = 0; day < 2; day++) {
        struct spend *global = day ? in->spend_day : in->spend;
        int any = global != NULL;
        for (size_t i = 0; tv != NULL && i < tv->table->n; i++)
            any |= token_window(tv, i, day) != NULL;
        if (!any)
            continue;
        char v[U128_STR_MAX];
        for (int fam = 0; fam < 2; fam++) {
            const char *name = fams[day][fam];
            mt_printf(m, "# HELP %s %s\n# TYPE %s gauge\n", name, helps[day][fam], name);
            if (global != NULL) {
                u128_format(fam == 0 ? spend_remaining(global, now_ms) : spend_limit(global), v);
                mt_printf(m, "%s{contract=\"%s\"} %s\n", name, contract, v);
            }
            for (size_t i = 0; tv != NULL && i < tv->table->n; i++) {
                const struct auth_entry *e = &tv->table->e[i];
                struct spend *w = token_window(tv, i, day);
                if (w == NULL)
                    continue;
                nf_u128 limit = day ? e->max_amount_per_day : e->max_amount_per_hour;
                u128_format(fam == 0 ? spend_remaining_limit(w, limit, now_ms) : limit, v);
                mt_printf(m, "%s{contract=\"%s\",token=\"%s\"} %s\n", name, contract, e->name, v);
            }
        }
    }
}

/* Tokens with an expiry (expires= in the token file): when each stops working. */
static void metrics_token_expiry(struct mtext *m, const struct ingest_tokens *tv)
{
    int expiring = 0;
    for (size_t i = 0; tv != NULL && i < tv->table->n; i++) {
        const struct auth_entry *e = &tv->table->e[i];
        if (e->expires_s == 0)
            continue;
        if (!expiring++)
            mt_printf(m,
                      "# HELP nearft_auth_token_expiry_timestamp_seconds When a bearer token stops "
                      "working (expires= in the token file), seconds since the Unix epoch.\n"
                      "# TYPE nearft_auth_token_expiry_timestamp_seconds gauge\n");
        mt_printf(m, "nearft_auth_token_expiry_timestamp_seconds{token=\"%s\"} %llu\n", e->name,
                  (unsigned long long)e->expires_s);
    }
}

int ingest_metrics_append(struct ingest *in, char *out, size_t len, size_t cap)
{
    struct ingest_sum s;
    ingest_sum_stats(in, &s);
    struct mtext m = {.out = out, .len = len, .cap = cap};
    /* Read on an ingest thread inside the /metrics request callback, so the token table loaded
     * here stays valid (ingest_auth_set). */
    const struct ingest_tokens *tv = atomic_load_explicit(&in->auth, memory_order_acquire);
    metrics_http(&m, &s);
    metrics_counts(&m, in, &s);
    metrics_connections(&m, in);
    metrics_limits(&m, in, &s, tv);
    metrics_token_expiry(&m, tv);
    return m.rc != 0 ? m.rc : (int)m.len;
}

int ingest_stages_json(struct ingest *in, char *out, size_t cap)
{
    struct ingest_sum s;
    ingest_sum_stats(in, &s);
    struct jw w;
    jw_init_fixed(&w, out, cap);
    jw_obj_begin(&w);
    double rate = 0;
    jw_key(&w, "threads");
    jw_arr_begin(&w);
    for (unsigned i = 0; i < in->nthreads; i++) {
        const struct ingest_thread *t = &in->threads[i];
        if (t->stats == NULL)
            continue;
        char name[24];
        snprintf(name, sizeof(name), "ingest-%u", i);
        double r = (double)ingest_stat_get(&t->stats->rate_milli) / 1000.0;
        rate += r;
        uint64_t total = 0;
        for (int ro = 0; ro < INGEST_ROUTE_COUNT; ro++)
            for (int k = 0; k < INGEST_CODE_COUNT; k++)
                total += ingest_stat_get(&t->stats->requests[ro][k]);
        jw_obj_begin(&w);
        jw_key(&w, "thread");
        jw_str(&w, name);
        jw_key(&w, "requests_per_s");
        jw_double(&w, r);
        jw_key(&w, "requests_total");
        jw_u64(&w, total);
        jw_key(&w, "contexts_in_use");
        jw_u64(&w, ingest_stat_get(&t->stats->ctx_in_use));
        jw_key(&w, "contexts");
        jw_u64(&w, t->nctx);
        jw_key(&w, "reply_ring_items");
        jw_u64(&w, t->reply ? nf_ring_count(t->reply) : 0);
        jw_key(&w, "open_connections");
        jw_u64(&w, ingest_stat_get(&t->stats->open_conns));
        jw_key(&w, "max_connections");
        jw_u64(&w, in->cfg->max_connections);
        jw_key(&w, "transfers_accepted");
        jw_u64(&w, ingest_stat_get(&t->stats->transfers_accepted));
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "requests_per_s");
    jw_double(&w, rate);
    jw_key(&w, "transfers_accepted");
    jw_u64(&w, s.accepted);
    jw_key(&w, "rejected");
    jw_obj_begin(&w);
    jw_key(&w, "contexts");
    jw_u64(&w, s.busy);
    jw_key(&w, "full");
    jw_u64(&w, s.full);
    jw_key(&w, "log_io");
    jw_u64(&w, s.io);
    jw_obj_end(&w);
    jw_key(&w, "wait_timeouts");
    jw_u64(&w, s.timeouts);
    jw_key(&w, "orphaned");
    jw_u64(&w, s.orphaned);
    jw_key(&w, "stale_messages");
    jw_u64(&w, s.stale);
    jw_key(&w, "parse_ns_per_transfer");
    jw_obj_begin(&w);
    jw_key(&w, "avg");
    jw_double(&w, s.parse_items ? (double)s.parse_sum_ns / (double)s.parse_items : 0.0);
    jw_key(&w, "buckets_le");
    jw_obj_begin(&w);
    for (int b = 0; b < INGEST_PARSE_BUCKETS; b++) {
        jw_key(&w, ingest_parse_le_txt[b]);
        jw_u64(&w, s.parse[b]);
    }
    jw_obj_end(&w);
    jw_obj_end(&w);
    jw_obj_end(&w);
    size_t len = 0;
    int rc = jw_finish(&w, &len);
    return rc != 0 ? rc : (int)len;
}

void ingest_parse_observe(struct ingest_thread *t, uint64_t ns, size_t items)
{
    if (items == 0)
        return;
    uint64_t per = ns / items;
    int b = 0;
    while (b < INGEST_PARSE_BUCKETS - 1 && per > ingest_parse_le_ns[b])
        b++;
    ingest_stat_add(&t->stats->parse_bucket[b], 1);
    ingest_stat_add(&t->stats->parse_per_item_sum_ns, per);
    ingest_stat_add(&t->stats->parse_sum_ns, ns);
    ingest_stat_add(&t->stats->parse_items, items);
}
