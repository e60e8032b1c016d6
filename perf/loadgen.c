/* loadgen: the HTTP/1.1 load generator of the perf/ harness. T threads (default 1), each with its
 * own epoll loop and its own keep-alive connections to one 127.0.0.1 URL, send POST bodies built
 * from a template with a unique memo per transfer (run tag, thread, sequence), closed loop (each
 * connection sends its next request when the previous answer is complete) or paced to a target
 * rate (--rate, requests/s over all threads: each thread keeps a schedule of send times 1/rate
 * apart, and times each request from its scheduled send time, wrk2's correction for coordinated
 * omission: when no connection is free at a scheduled time, the request goes out late and its wait
 * counts as latency, so a saturated target shows rising latency as well as unmet rate). Latency
 * percentiles cover 2xx answers only (a 503 is counted, not timed). Each thread keeps one record
 * per second of run time (requests, transfers, status classes, a log-linear latency histogram); the
 * main thread prints a one-line live progress display, writes the per-second series as CSV and
 * prints `name=value unit` summary lines. Every thread owns its connections and its per-second
 * records; the main thread reads the records with relaxed atomics for the progress line and in full
 * only after the threads have joined.
 *
 * Usage: loadgen --port P [--host 127.0.0.1] [--path /v1/transfers] [--body native|sendft|rust]
 *                [--bulk N] [--connections C] [--threads T] [--duration S] [--rate R]
 *                [--drain S] [--tag TEXT] [--receivers N] [--receiver-prefix user-]
 *                [--receiver-suffix .test.near]
 *                [--amount A] [--no-memo] [--series FILE] [--label NAME] [--progress 0|1]
 *                [--header "Name: value"] (one extra request header, e.g. Authorization) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LG_MAX_SECONDS  4096
#define LG_HIST_SUB     16 /* linear sub-buckets per power of two: about 6 % precision */
#define LG_HIST_BUCKETS (40 * LG_HIST_SUB)
#define LG_RBUF         65536

enum lg_body { LG_BODY_NATIVE, LG_BODY_SENDFT, LG_BODY_RUST };

struct lg_opts {
    const char *host;
    int port;
    const char *path;
    enum lg_body body;
    unsigned bulk;
    unsigned connections;
    unsigned threads;
    double duration_s;
    double rate;
    double drain_s;
    const char *tag;
    unsigned receivers;
    const char *receiver_prefix;
    const char *receiver_suffix;
    const char *amount;
    int memo;
    const char *series;
    const char *label;
    int progress;
    const char *header; /* one extra header line without CRLF, or NULL */
};

/* One second of one thread's results. */
struct lg_second {
    _Atomic uint64_t requests, transfers, ok, s503, s4xx, other, non200;
    uint32_t hist[LG_HIST_BUCKETS];
};

struct lg_conn {
    int fd;
    int busy; /* a request is outstanding */
    size_t wlen, woff;
    uint64_t sent_ns;
    unsigned transfers; /* transfers in the outstanding request */
    int status, close_after, in_body, retry_after;
    size_t body_left;
    char *wbuf;
    size_t rlen;
    char rbuf[LG_RBUF];
};

struct lg_thread {
    unsigned idx;
    pthread_t tid;
    int ep;
    unsigned nconn;
    struct lg_conn *conns;
    uint64_t seq;
    double rate;      /* this thread's share, requests/s; 0 = closed loop */
    uint64_t next_ns; /* rate mode: the scheduled send time of the next request */
    uint64_t conn_errors, reconnects, timeouts_unknown, s503_without_retry_after;
    struct lg_second *sec; /* LG_MAX_SECONDS */
};

static struct lg_opts opt;
static struct sockaddr_in target;
static uint64_t t0_ns;
static _Atomic int stop_sending;
static _Atomic int stop_all;
static size_t body_cap;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* hist_bucket: log-linear bucket of a latency in microseconds. */
static unsigned hist_bucket(uint64_t us)
{
    if (us < LG_HIST_SUB)
        return (unsigned)us;
    unsigned msb = 63u - (unsigned)__builtin_clzll(us);
    unsigned shift = msb - 4; /* LG_HIST_SUB == 1 << 4 */
    unsigned b = (shift + 1) * LG_HIST_SUB + (unsigned)((us >> shift) - LG_HIST_SUB);
    return b < LG_HIST_BUCKETS ? b : LG_HIST_BUCKETS - 1;
}

/* hist_value: the upper edge (µs) of bucket b. */
static double hist_value(unsigned b)
{
    if (b < LG_HIST_SUB)
        return b;
    unsigned shift = b / LG_HIST_SUB - 1;
    uint64_t base = (uint64_t)(LG_HIST_SUB + b % LG_HIST_SUB) << shift;
    return (double)(base + ((uint64_t)1 << shift));
}

static double hist_pct(const uint64_t *h, double p)
{
    uint64_t n = 0;
    for (unsigned b = 0; b < LG_HIST_BUCKETS; b++)
        n += h[b];
    if (n == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)n), acc = 0;
    if (want == 0)
        want = 1;
    for (unsigned b = 0; b < LG_HIST_BUCKETS; b++) {
        acc += h[b];
        if (acc >= want)
            return hist_value(b);
    }
    return hist_value(LG_HIST_BUCKETS - 1);
}

/* ---- request building ----------------------------------------------------------------------- */

static size_t put_transfer(char *p, struct lg_thread *t)
{
    uint64_t seq = t->seq++;
    char recv[128];
    /* receiver: --receiver-prefix, the index, --receiver-suffix */
    snprintf(recv, sizeof recv, "%s%u%s", opt.receiver_prefix, (unsigned)(seq % opt.receivers),
             opt.receiver_suffix);
    const char *rk = opt.body == LG_BODY_SENDFT ? "receiverId" : "receiver_id";
    if (opt.memo)
        return (size_t)sprintf(p, "{\"%s\":\"%s\",\"amount\":\"%s\",\"memo\":\"%s-%u-%llu\"}", rk,
                               recv, opt.amount, opt.tag, t->idx, (unsigned long long)seq);
    return (size_t)sprintf(p, "{\"%s\":\"%s\",\"amount\":\"%s\"}", rk, recv, opt.amount);
}

static void build_request(struct lg_thread *t, struct lg_conn *c)
{
    char *body = c->wbuf + 512;
    size_t n = 0;
    if (opt.bulk > 0) {
        n += (size_t)sprintf(body, "{\"transfers\":[");
        for (unsigned i = 0; i < opt.bulk; i++) {
            if (i)
                body[n++] = ',';
            n += put_transfer(body + n, t);
        }
        n += (size_t)sprintf(body + n, "]}");
        c->transfers = opt.bulk;
    } else {
        n = put_transfer(body, t);
        c->transfers = 1;
    }
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                      "%s%sContent-Length: %zu\r\n\r\n",
                      opt.path, opt.host, opt.port, opt.header ? opt.header : "",
                      opt.header ? "\r\n" : "", n);
    /* the head goes right before the body */
    memcpy(body - hn, head, (size_t)hn);
    memmove(c->wbuf, body - hn, (size_t)hn + n);
    c->wlen = (size_t)hn + n;
    c->woff = 0;
}

/* ---- connections ---------------------------------------------------------------------------- */

static int conn_open(struct lg_thread *t, struct lg_conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&target, sizeof target) == -1 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->busy = 0;
    c->rlen = 0;
    c->in_body = 0;
    c->body_left = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
    if (epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
        close(fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static struct lg_second *sec_now(struct lg_thread *t, uint64_t ns)
{
    uint64_t s = (ns - t0_ns) / 1000000000u;
    if (s >= LG_MAX_SECONDS)
        s = LG_MAX_SECONDS - 1;
    return &t->sec[s];
}

static void conn_reset(struct lg_thread *t, struct lg_conn *c)
{
    if (c->busy)
        t->timeouts_unknown += c->transfers; /* outcome unknown: may or may not be accepted */
    if (c->fd != -1) {
        close(c->fd);
        c->fd = -1;
    }
    c->busy = 0;
    t->reconnects++;
    if (!atomic_load(&stop_sending) && conn_open(t, c) == -1)
        t->conn_errors++;
}

static void conn_write(struct lg_thread *t, struct lg_conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t w = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (w == -1) {
            if (errno == EAGAIN)
                return;
            t->conn_errors++;
            conn_reset(t, c);
            return;
        }
        c->woff += (size_t)w;
    }
}

/* conn_send: sends the next request on c, timed from sent_ns (now, or its scheduled time). */
static void conn_send(struct lg_thread *t, struct lg_conn *c, uint64_t sent_ns)
{
    build_request(t, c);
    c->busy = 1;
    c->sent_ns = sent_ns;
    conn_write(t, c);
}

/* head_parse: if rbuf holds a complete response head, fills status, body length and close flag
 * and returns the head's length; else 0. Replies without Content-Length have no body here
 * (evhttp always sends it). */
static size_t head_parse(struct lg_conn *c)
{
    const char *b = c->rbuf;
    const char *end = memmem(b, c->rlen, "\r\n\r\n", 4);
    if (!end || c->rlen < 12)
        return 0;
    size_t head = (size_t)(end - b) + 4;
    c->status = atoi(b + 9);
    c->close_after = memmem(b, head, "onnection: close", 16) != NULL;
    c->retry_after = memmem(b, head, "Retry-After:", 12) != NULL;
    const char *cl = memmem(b, head, "ontent-Length:", 14);
    if (!cl)
        cl = memmem(b, head, "ontent-length:", 14);
    c->body_left = cl ? (size_t)strtoull(cl + 14, NULL, 10) : 0;
    return head;
}

static void response_done(struct lg_thread *t, struct lg_conn *c)
{
    uint64_t now = now_ns();
    struct lg_second *s = sec_now(t, now);
    uint64_t us = (now - c->sent_ns) / 1000u;
    int status = c->status;
    atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
    if (status != 200)
        atomic_fetch_add_explicit(&s->non200, 1, memory_order_relaxed);
    if (status >= 200 && status < 300) {
        atomic_fetch_add_explicit(&s->ok, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->transfers, c->transfers, memory_order_relaxed);
    } else if (status == 503) {
        atomic_fetch_add_explicit(&s->s503, 1, memory_order_relaxed);
        if (!c->retry_after)
            t->s503_without_retry_after++;
    } else if (status >= 400 && status < 500) {
        atomic_fetch_add_explicit(&s->s4xx, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&s->other, 1, memory_order_relaxed);
    }
    if (status >= 200 && status < 300) /* latency percentiles: accepted requests only */
        s->hist[hist_bucket(us)]++;
    c->busy = 0;
    c->in_body = 0;
}

/* conn_consume: parses what rbuf holds; bodies are counted and dropped, never kept. */
static void conn_consume(struct lg_thread *t, struct lg_conn *c)
{
    for (;;) {
        if (!c->in_body) {
            size_t head = head_parse(c);
            if (head == 0)
                return;
            memmove(c->rbuf, c->rbuf + head, c->rlen - head);
            c->rlen -= head;
            c->in_body = 1;
        }
        size_t take = c->rlen < c->body_left ? c->rlen : c->body_left;
        memmove(c->rbuf, c->rbuf + take, c->rlen - take);
        c->rlen -= take;
        c->body_left -= take;
        if (c->body_left > 0)
            return;
        if (!c->busy) { /* an answer nobody asked for */
            t->conn_errors++;
            conn_reset(t, c);
            return;
        }
        int close_after = c->close_after;
        response_done(t, c);
        if (close_after) {
            c->transfers = 0;
            conn_reset(t, c);
            return;
        }
    }
}

static void conn_read(struct lg_thread *t, struct lg_conn *c)
{
    for (;;) {
        if (c->rlen == LG_RBUF) { /* a response head larger than the buffer */
            t->conn_errors++;
            conn_reset(t, c);
            return;
        }
        ssize_t r = read(c->fd, c->rbuf + c->rlen, LG_RBUF - c->rlen);
        if (r == 0) {
            conn_reset(t, c);
            return;
        }
        if (r == -1) {
            if (errno == EAGAIN)
                return;
            conn_reset(t, c);
            return;
        }
        c->rlen += (size_t)r;
        conn_consume(t, c);
        if (c->fd == -1)
            return;
    }
}

static void *thread_main(void *arg)
{
    struct lg_thread *t = arg;
    struct epoll_event evs[256];
    uint64_t period_ns = t->rate > 0 ? (uint64_t)(1e9 / t->rate) : 0;
    t->next_ns = now_ns();
    for (unsigned i = 0; i < t->nconn; i++)
        if (conn_open(t, &t->conns[i]) == -1)
            t->conn_errors++;
    unsigned rr = 0;
    while (!atomic_load(&stop_all)) {
        uint64_t now = now_ns();
        int sending = !atomic_load(&stop_sending);
        if (sending) { /* start requests on idle connections */
            for (unsigned k = 0; k < t->nconn; k++) {
                struct lg_conn *c = &t->conns[(rr + k) % t->nconn];
                if (c->fd == -1 || c->busy)
                    continue;
                uint64_t at = now;
                if (period_ns > 0) { /* the schedule never skips a send, however late it runs */
                    if (t->next_ns > now)
                        break;
                    at = t->next_ns;
                    t->next_ns += period_ns;
                }
                conn_send(t, c, at);
            }
            rr++;
        } else {
            int any = 0;
            for (unsigned k = 0; k < t->nconn && !any; k++)
                any = t->conns[k].busy && t->conns[k].fd != -1;
            if (!any)
                break;
        }
        int n = epoll_wait(t->ep, evs, 256, t->rate > 0 ? 1 : 10);
        for (int i = 0; i < n; i++) {
            struct lg_conn *c = evs[i].data.ptr;
            if (c->fd == -1)
                continue;
            if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                conn_reset(t, c);
                continue;
            }
            if (evs[i].events & EPOLLOUT && c->busy)
                conn_write(t, c);
            if (evs[i].events & EPOLLIN)
                conn_read(t, c);
        }
    }
    for (unsigned i = 0; i < t->nconn; i++) {
        if (t->conns[i].busy)
            t->timeouts_unknown += t->conns[i].transfers;
        if (t->conns[i].fd != -1)
            close(t->conns[i].fd);
    }
    return NULL;
}

/* ---- options, progress, summary ------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --port P [--host H] [--path P] [--body native|sendft|rust] [--bulk N]\n"
            "  [--connections C] [--threads T] [--duration S] [--rate R] [--drain S] [--tag T]\n"
            "  [--receivers N] [--receiver-prefix P] [--receiver-suffix S] [--amount A] "
            "[--no-memo] [--series FILE]\n"
            "  [--label NAME] [--progress 0|1]\n");
    exit(2);
}

static void parse_opts(int argc, char **argv)
{
    opt = (struct lg_opts){.host = "127.0.0.1",
                           .path = "/v1/transfers",
                           .connections = 64,
                           .threads = 1,
                           .duration_s = 10,
                           .drain_s = 30,
                           .tag = "lg",
                           .receivers = 1000,
                           .receiver_prefix = "user-",
                           .receiver_suffix = ".test.near",
                           .amount = "1",
                           .memo = 1,
                           .label = "load",
                           .progress = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (ARG("--port"))
            opt.port = atoi(v);
        else if (ARG("--host"))
            opt.host = v;
        else if (ARG("--path"))
            opt.path = v;
        else if (ARG("--body"))
            opt.body = strcmp(v, "sendft") == 0 ? LG_BODY_SENDFT
                       : strcmp(v, "rust") == 0 ? LG_BODY_RUST
                                                : LG_BODY_NATIVE;
        else if (ARG("--bulk"))
            opt.bulk = (unsigned)atoi(v);
        else if (ARG("--connections"))
            opt.connections = (unsigned)atoi(v);
        else if (ARG("--threads"))
            opt.threads = (unsigned)atoi(v);
        else if (ARG("--duration"))
            opt.duration_s = atof(v);
        else if (ARG("--rate"))
            opt.rate = atof(v);
        else if (ARG("--drain"))
            opt.drain_s = atof(v);
        else if (ARG("--tag"))
            opt.tag = v;
        else if (ARG("--receivers"))
            opt.receivers = (unsigned)atoi(v);
        else if (ARG("--receiver-prefix"))
            opt.receiver_prefix = v;
        else if (ARG("--receiver-suffix"))
            opt.receiver_suffix = v;
        else if (ARG("--amount"))
            opt.amount = v;
        else if (ARG("--series"))
            opt.series = v;
        else if (ARG("--label"))
            opt.label = v;
        else if (ARG("--progress"))
            opt.progress = atoi(v);
        else if (ARG("--header") && strlen(v) <= 300)
            opt.header = v;
        else if (strcmp(a, "--no-memo") == 0)
            opt.memo = 0;
        else
            usage();
#undef ARG
    }
    if (opt.port <= 0 || opt.connections == 0 || opt.threads == 0 || opt.receivers == 0 ||
        opt.duration_s <= 0 || opt.duration_s >= LG_MAX_SECONDS - 64)
        usage();
    if (opt.threads > opt.connections)
        opt.threads = opt.connections;
    if (opt.progress < 0)
        opt.progress = isatty(2);
    body_cap = 512 + (size_t)(opt.bulk ? opt.bulk : 1) * 256 + 64;
}

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_sending, 1);
}

int main(int argc, char **argv)
{
    parse_opts(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &target.sin_addr) != 1) {
        fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
        return 2;
    }
    struct lg_thread *th = calloc(opt.threads, sizeof *th);
    if (!th)
        return 1;
    t0_ns = now_ns();
    for (unsigned i = 0; i < opt.threads; i++) {
        struct lg_thread *t = &th[i];
        t->idx = i;
        t->nconn = opt.connections / opt.threads + (i < opt.connections % opt.threads);
        t->conns = calloc(t->nconn, sizeof *t->conns);
        t->sec = calloc(LG_MAX_SECONDS, sizeof *t->sec);
        t->ep = epoll_create1(EPOLL_CLOEXEC);
        t->rate = opt.rate / opt.threads;
        if (!t->conns || !t->sec || t->ep == -1)
            return 1;
        for (unsigned k = 0; k < t->nconn; k++) {
            t->conns[k].fd = -1;
            t->conns[k].wbuf = malloc(body_cap);
            if (!t->conns[k].wbuf)
                return 1;
        }
        if (pthread_create(&t->tid, NULL, thread_main, t) != 0)
            return 1;
    }
    /* progress: once a second, the last complete second */
    FILE *series = opt.series ? fopen(opt.series, "w") : NULL;
    if (series)
        fprintf(series, "# t_s requests_per_s transfers_per_s p50_ms p99_ms non2xx\n");
    uint64_t end_send = t0_ns + (uint64_t)(opt.duration_s * 1e9);
    unsigned shown = 0;
    for (;;) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        uint64_t now = now_ns();
        if (now >= end_send && !atomic_load(&stop_sending))
            atomic_store(&stop_sending, 1);
        if (atomic_load(&stop_sending) && now >= end_send + (uint64_t)(opt.drain_s * 1e9))
            atomic_store(&stop_all, 1);
        int alive = 0;
        for (unsigned i = 0; i < opt.threads; i++)
            alive |= pthread_tryjoin_np(th[i].tid, NULL) == EBUSY;
        unsigned done_s = (unsigned)((now - t0_ns) / 1000000000u);
        while (shown < done_s && shown < LG_MAX_SECONDS - 1) {
            uint64_t req = 0, tr = 0, bad = 0, tot_tr = 0, tot_bad = 0;
            for (unsigned i = 0; i < opt.threads; i++) {
                struct lg_second *s = &th[i].sec[shown];
                req += atomic_load_explicit(&s->requests, memory_order_relaxed);
                tr += atomic_load_explicit(&s->transfers, memory_order_relaxed);
                bad += atomic_load_explicit(&s->s503, memory_order_relaxed) +
                       atomic_load_explicit(&s->s4xx, memory_order_relaxed) +
                       atomic_load_explicit(&s->other, memory_order_relaxed);
                for (unsigned k = 0; k <= shown; k++) {
                    tot_tr += atomic_load_explicit(&th[i].sec[k].transfers, memory_order_relaxed);
                    tot_bad += atomic_load_explicit(&th[i].sec[k].s503, memory_order_relaxed) +
                               atomic_load_explicit(&th[i].sec[k].s4xx, memory_order_relaxed) +
                               atomic_load_explicit(&th[i].sec[k].other, memory_order_relaxed);
                }
            }
            if (opt.progress)
                fprintf(stderr,
                        "\r[%s] t=%3us  req/s=%-8llu transfers/s=%-8llu non2xx/s=%-6llu "
                        "total transfers=%llu non2xx=%llu   ",
                        opt.label, shown + 1, (unsigned long long)req, (unsigned long long)tr,
                        (unsigned long long)bad, (unsigned long long)tot_tr,
                        (unsigned long long)tot_bad);
            shown++;
        }
        if (!alive)
            break;
    }
    if (opt.progress)
        fprintf(stderr, "\n");
    for (unsigned i = 0; i < opt.threads; i++)
        pthread_join(th[i].tid, NULL);
    double elapsed = (double)(now_ns() - t0_ns) / 1e9;

    /* totals and series */
    static uint64_t hist[LG_HIST_BUCKETS], hs[LG_HIST_BUCKETS];
    uint64_t req = 0, tr = 0, ok = 0, non200 = 0, s503 = 0, s4xx = 0, other = 0, unknown = 0,
             cerr = 0;
    uint64_t in_window_tr = 0;
    unsigned last_s = (unsigned)(elapsed + 1);
    if (last_s >= LG_MAX_SECONDS)
        last_s = LG_MAX_SECONDS - 1;
    unsigned send_s = (unsigned)opt.duration_s;
    for (unsigned s = 0; s <= last_s; s++) {
        memset(hs, 0, sizeof hs);
        uint64_t sr = 0, st = 0, sb = 0;
        for (unsigned i = 0; i < opt.threads; i++) {
            struct lg_second *x = &th[i].sec[s];
            sr += x->requests;
            st += x->transfers;
            ok += x->ok;
            non200 += x->non200;
            s503 += x->s503;
            s4xx += x->s4xx;
            other += x->other;
            sb += x->s503 + x->s4xx + x->other;
            for (unsigned b = 0; b < LG_HIST_BUCKETS; b++) {
                hs[b] += x->hist[b];
                hist[b] += x->hist[b];
            }
        }
        req += sr;
        tr += st;
        if (s < send_s)
            in_window_tr += st;
        if (series && (sr > 0 || s < send_s))
            fprintf(series, "%u %llu %llu %.3f %.3f %llu\n", s + 1, (unsigned long long)sr,
                    (unsigned long long)st, hist_pct(hs, 50) / 1000.0, hist_pct(hs, 99) / 1000.0,
                    (unsigned long long)sb);
    }
    uint64_t no_ra = 0;
    for (unsigned i = 0; i < opt.threads; i++) {
        no_ra += th[i].s503_without_retry_after;
        unknown += th[i].timeouts_unknown;
        cerr += th[i].conn_errors;
    }
    if (series)
        fclose(series);
    const char *l = opt.label;
    printf("%s_duration=%.1f s\n", l, opt.duration_s);
    printf("%s_connections=%u conns\n", l, opt.connections);
    printf("%s_requests=%llu requests\n", l, (unsigned long long)req);
    printf("%s_requests_2xx=%llu requests\n", l, (unsigned long long)ok);
    printf("%s_requests_non200=%llu requests\n", l, (unsigned long long)non200);
    printf("%s_requests_503=%llu requests\n", l, (unsigned long long)s503);
    printf("%s_requests_503_without_retry_after=%llu requests\n", l, (unsigned long long)no_ra);
    printf("%s_requests_4xx=%llu requests\n", l, (unsigned long long)s4xx);
    printf("%s_requests_other=%llu requests\n", l, (unsigned long long)other);
    printf("%s_transfers_2xx=%llu transfers\n", l, (unsigned long long)tr);
    printf("%s_transfers_unknown=%llu transfers\n", l, (unsigned long long)unknown);
    printf("%s_connection_errors=%llu errors\n", l, (unsigned long long)cerr);
    printf("%s_requests_per_s=%.0f req/s\n", l, (double)req / opt.duration_s);
    printf("%s_transfers_per_s=%.0f transfers/s\n", l, (double)in_window_tr / opt.duration_s);
    printf("%s_latency_p50=%.1f ms\n", l, hist_pct(hist, 50) / 1000.0);
    printf("%s_latency_p95=%.1f ms\n", l, hist_pct(hist, 95) / 1000.0);
    printf("%s_latency_p99=%.1f ms\n", l, hist_pct(hist, 99) / 1000.0);
    printf("%s_latency_max=%.1f ms\n", l, hist_pct(hist, 100) / 1000.0);
    return 0;
}
