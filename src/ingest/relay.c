/* relay: a cluster standby's front door (see include/relay.h). Each accepted connection waits for
 * its first request line (relay_head_classify, pure, decides on the bytes received so far) until
 * a deadline counted from the accept; GET /metrics is answered here, anything else opens a
 * connection to the lease holder's advertised address and, once it is connected, the two sockets
 * are spliced until either side closes (what one side sent is written to the other before both
 * close; a side that takes nothing for the write timeout ends the pair). The relay's own answers,
 * and the holder's once the holder closed, end with a lingering close: the client's socket is
 * shut for writing and read until its EOF or a short deadline, so that unread request bytes do not
 * turn the close into a reset that could destroy the answer. The thread "relay" owns the listener
 * and every connection; relay_target and relay_free reach it through a mutex (the target address)
 * and an eventfd (stop). */
#include "relay.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "http_parse.h"
#include "ingest.h"
#include "nf_err.h"
#include "nf_log.h"

#define RELAY_CONNECT_S   2             /* the holder must accept within this */
#define RELAY_HIGH_WATER  (256u * 1024) /* unsent bytes before the other side stops reading */
#define RELAY_LINGER_MS   2000u         /* a lingering close reads the client for at most this */
#define RELAY_RESUME_MS   1000u         /* accept paused (out of descriptors): try again after */
#define RELAY_FD_RESERVE  64            /* descriptors kept for the rest of the process */
#define RELAY_KEEPIDLE_S  30            /* TCP keepalive on the holder's side: a vanished host */
#define RELAY_KEEPINTVL_S 10            /* ends the pair after KEEPIDLE + KEEPCNT * KEEPINTVL */
#define RELAY_KEEPCNT     3

static const char why_none[] = "no instance of the cluster holds the log right now (or the one "
                               "that does has not advertised its address yet)";

struct relay {
    struct event_base *base;
    struct evconnlistener *lis;
    struct event *stop_ev;
    struct event *resume_ev; /* re-enables the listener after an accept ran out of descriptors */
    int accept_paused;       /* relay thread */
    int stop_fd;
    pthread_t thread;
    int started;
    uint16_t port;
    unsigned max_conns;
    unsigned head_ms, write_ms;
    /* write_ms as a libevent common timeout: every side that writes re-arms it, and a common
     * timeout is a queue append instead of a timer-heap insertion. */
    const struct timeval *write_tv;
    struct sockaddr_storage bound; /* the listener's own address (getsockname) */
    char self[160];                /* this instance's advertised API address, or "" */
    unsigned n_conns;              /* relay thread */
    struct rconn *conns;           /* relay thread: every open connection, freed by relay_free */
    pthread_mutex_t lock;
    struct sockaddr_storage target; /* under lock; target_len 0: none known */
    socklen_t target_len;
    const char *target_why; /* under lock: why new connections get 503 when target_len is 0 */
    char target_name[160];
    _Atomic uint64_t relayed, refused_no_holder, refused_unreachable, refused_full;
};

/* One client connection: down is the client, up the holder (NULL until the first line came). */
struct rconn {
    struct relay *r;
    struct bufferevent *down, *up;
    uint64_t deadline_ms; /* CLOCK_MONOTONIC: the first line's, then a lingering close's */
    int spliced;          /* the holder accepted: bytes flow both ways */
    int closing;          /* one side ended: close once the other side's output drained */
    struct rconn *prev, *next;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timeval tv_ms(uint64_t ms)
{
    return (struct timeval){.tv_sec = (time_t)(ms / 1000u),
                            .tv_usec = (suseconds_t)(ms % 1000u) * 1000};
}

/* left_ms: what is left of c's deadline, 0 when it has passed. */
static uint64_t left_ms(const struct rconn *c)
{
    uint64_t now = mono_ms();
    return now >= c->deadline_ms ? 0 : c->deadline_ms - now;
}

static void conn_free(struct rconn *c);

/* deadline_rearm: bev's read timeout becomes what is left of c's deadline; past it, c is freed.
 * 1 when c lives on, 0 when it was freed. */
static int deadline_rearm(struct rconn *c, struct bufferevent *bev)
{
    uint64_t left = left_ms(c);
    if (left == 0) {
        conn_free(c);
        return 0;
    }
    struct timeval tv = tv_ms(left);
    bufferevent_set_timeouts(bev, &tv, NULL);
    return 1;
}

static void conn_free(struct rconn *c)
{
    if (c->down != NULL)
        bufferevent_free(c->down);
    if (c->up != NULL)
        bufferevent_free(c->up);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        c->r->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    struct relay *r = c->r;
    r->n_conns--;
    free(c);
    if (r->accept_paused && r->lis != NULL) { /* a descriptor was freed: accept again */
        r->accept_paused = 0;
        event_del(r->resume_ev);
        evconnlistener_enable(r->lis);
    }
}

/* ---- closing ----------------------------------------------------------------------------------
 * The client's side ends with a lingering close once everything for it was written: shut for
 * writing (the client sees EOF after the answer), then read and drop what it still sends until its
 * EOF or RELAY_LINGER_MS, so that the kernel does not answer unread bytes with a reset. */

static void linger_read(struct bufferevent *bev, void *arg)
{
    struct rconn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    (void)deadline_rearm(c, bev);
}

static void linger_end(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    conn_free(arg); /* EOF, an error or the deadline */
}

/* down_linger: c->down's output is empty; the holder's side (if any) is closed now. */
static void down_linger(struct rconn *c)
{
    if (c->up != NULL) {
        bufferevent_free(c->up);
        c->up = NULL;
    }
    c->closing = 1;
    c->deadline_ms = mono_ms() + RELAY_LINGER_MS;
    shutdown(bufferevent_getfd(c->down), SHUT_WR);
    struct timeval tv = tv_ms(RELAY_LINGER_MS);
    bufferevent_setcb(c->down, linger_read, NULL, linger_end, c);
    bufferevent_set_timeouts(c->down, &tv, NULL);
    bufferevent_enable(c->down, EV_READ);
}

/* side_drained: the remaining side of a closing pair has nothing left to write. */
static void side_drained(struct rconn *c, struct bufferevent *bev)
{
    if (bev == c->down)
        down_linger(c);
    else
        conn_free(c);
}

/* reply_close: writes a whole answer to the client and closes once it is sent. */
static void down_drained(struct bufferevent *bev, void *arg);

static void down_closed(struct bufferevent *bev, short what, void *arg);

static void reply_close(struct rconn *c,
                        const char *status,
                        const char *ctype,
                        const char *extra,
                        const char *body,
                        size_t len)
{
    if (c->up != NULL) {
        bufferevent_free(c->up);
        c->up = NULL;
    }
    struct evbuffer *out = bufferevent_get_output(c->down);
    evbuffer_add_printf(out,
                        "HTTP/1.1 %s\r\nContent-Type: %s\r\n%sConnection: close\r\n"
                        "Content-Length: %zu\r\n\r\n",
                        status, ctype, extra, len);
    evbuffer_add(out, body, len);
    c->closing = 1;
    bufferevent_disable(c->down, EV_READ);
    bufferevent_setcb(c->down, NULL, down_drained, down_closed, c);
    bufferevent_setwatermark(c->down, EV_WRITE, 0, 0);
    bufferevent_set_timeouts(c->down, NULL, c->r->write_tv);
}

static void reply_503(struct rconn *c, const char *reason)
{
    char body[600];
    int n =
        snprintf(body, sizeof(body),
                 "{\"error\":\"service unavailable\",\"field\":null,\"reason\":\"%s\"}", reason);
    reply_close(c, "503 Service Unavailable", "application/json", "Retry-After: 1\r\n", body,
                (size_t)n);
}

static void reply_metrics(struct rconn *c)
{
    struct relay *r = c->r;
    char body[2048];
    int n = snprintf(
        body, sizeof(body),
        "# HELP nearft_build_info Always 1; the version of the running nearftd as a label.\n"
        "# TYPE nearft_build_info gauge\nnearft_build_info{version=\"" NF_VERSION "\"} 1\n"
        "# HELP nearft_cluster_standby 1 while this instance waits for the cluster log's lease.\n"
        "# TYPE nearft_cluster_standby gauge\nnearft_cluster_standby 1\n"
        "# HELP nearft_relay_connections_total Connections a standby passed to the lease holder.\n"
        "# TYPE nearft_relay_connections_total counter\nnearft_relay_connections_total %llu\n"
        "# HELP nearft_relay_refused_total Connections a standby did not pass on, by why.\n"
        "# TYPE nearft_relay_refused_total counter\n"
        "nearft_relay_refused_total{reason=\"no_holder\"} %llu\n"
        "nearft_relay_refused_total{reason=\"unreachable\"} %llu\n"
        "nearft_relay_refused_total{reason=\"full\"} %llu\n"
        "# HELP nearft_relay_open_connections Connections the relay holds open now (this one "
        "included).\n"
        "# TYPE nearft_relay_open_connections gauge\nnearft_relay_open_connections %u\n",
        (unsigned long long)atomic_load(&r->relayed),
        (unsigned long long)atomic_load(&r->refused_no_holder),
        (unsigned long long)atomic_load(&r->refused_unreachable),
        (unsigned long long)atomic_load(&r->refused_full), r->n_conns);
    reply_close(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", "", body, (size_t)n);
}

/* ---- splicing -------------------------------------------------------------------------------- */

static struct bufferevent *peer_of(struct rconn *c, struct bufferevent *bev)
{
    return bev == c->down ? c->up : c->down;
}

static void splice_read(struct bufferevent *bev, void *arg);

/* The other side's output drained below the mark: read from this side again. */
static void splice_drained(struct bufferevent *bev, void *arg)
{
    struct rconn *c = arg;
    if (c->closing) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            side_drained(c, bev);
        return;
    }
    struct bufferevent *from = peer_of(c, bev);
    if (from != NULL)
        bufferevent_enable(from, EV_READ);
}

static void splice_read(struct bufferevent *bev, void *arg)
{
    struct rconn *c = arg;
    struct bufferevent *to = peer_of(c, bev);
    if (to == NULL) { /* the other side is gone: nobody to pass this to */
        evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
        return;
    }
    struct evbuffer *out = bufferevent_get_output(to);
    evbuffer_add_buffer(out, bufferevent_get_input(bev));
    if (evbuffer_get_length(out) >= RELAY_HIGH_WATER)
        bufferevent_disable(bev, EV_READ); /* splice_drained resumes it */
}

/* One side ended (EOF, error, a write that made no progress for write_ms): pass on what it sent,
 * drop it, and close the other side once its output drained. */
static void splice_event(struct bufferevent *bev, short what, void *arg)
{
    struct rconn *c = arg;
    (void)what;
    struct bufferevent *other = peer_of(c, bev);
    if (other == NULL) { /* the other side ended first and this one failed while draining */
        conn_free(c);
        return;
    }
    evbuffer_add_buffer(bufferevent_get_output(other), bufferevent_get_input(bev));
    bufferevent_free(bev);
    if (bev == c->down)
        c->down = NULL;
    else
        c->up = NULL;
    c->closing = 1;
    bufferevent_disable(other, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(other)) == 0)
        side_drained(c, other);
}

static void down_drained(struct bufferevent *bev, void *arg)
{
    struct rconn *c = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        down_linger(c);
}

static void down_closed(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    conn_free(arg);
}

static void up_event(struct bufferevent *bev, short what, void *arg)
{
    struct rconn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        struct relay *r = c->r;
        atomic_fetch_add(&r->relayed, 1);
        c->spliced = 1;
        /* No read timeout (a long-poll answer may take its time); a write timeout, which runs
         * only while output waits: a side that takes nothing for write_ms ends the pair. */
        bufferevent_set_timeouts(bev, NULL, r->write_tv);
        bufferevent_set_timeouts(c->down, NULL, r->write_tv);
        bufferevent_setwatermark(bev, EV_WRITE, RELAY_HIGH_WATER / 2, 0);
        bufferevent_setwatermark(c->down, EV_WRITE, RELAY_HIGH_WATER / 2, 0);
        bufferevent_setcb(bev, splice_read, splice_drained, splice_event, c);
        bufferevent_setcb(c->down, splice_read, splice_drained, splice_event, c);
        evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(c->down));
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        bufferevent_enable(c->down, EV_READ | EV_WRITE);
        return;
    }
    /* Refused, unreachable or timed out before a byte went up: nothing was forwarded. */
    atomic_fetch_add(&c->r->refused_unreachable, 1);
    reply_503(c, "the instance holding the cluster log did not answer this instance's relay");
}

enum relay_head_action relay_head_classify(const char *buf, size_t len)
{
    static const char get_metrics[] = "GET /metrics";
    const size_t gl = sizeof(get_metrics) - 1;
    if (len == 0)
        return RELAY_HEAD_MORE;
    /* An LF past byte RELAY_HEAD_MAX + 1 is too late even when the bytes before it came in one
     * read: had they come one by one, the relay would have refused them at that byte. */
    const char *lf = memchr(buf, '\n', len < RELAY_HEAD_MAX + 1 ? len : RELAY_HEAD_MAX + 1);
    if (lf == NULL)
        return len > RELAY_HEAD_MAX ? RELAY_HEAD_TOO_LONG : RELAY_HEAD_MORE;
    size_t line = (size_t)(lf - buf);
    if (line > 0 && buf[line - 1] == '\r')
        line--;
    if (line > gl && memcmp(buf, get_metrics, gl) == 0 && (buf[gl] == ' ' || buf[gl] == '?'))
        return RELAY_HEAD_METRICS;
    return RELAY_HEAD_FORWARD;
}

/* The client's first bytes: wait for the request line, then answer or forward. */
static void down_head(struct bufferevent *bev, void *arg)
{
    struct rconn *c = arg;
    struct relay *r = c->r;
    struct evbuffer *in = bufferevent_get_input(bev);
    /* relay_head_classify decides on the first RELAY_HEAD_MAX + 1 bytes as on all of them. */
    char head[RELAY_HEAD_MAX + 1];
    ev_ssize_t got = evbuffer_copyout(in, head, sizeof(head));
    switch (relay_head_classify(head, got > 0 ? (size_t)got : 0)) {
    case RELAY_HEAD_MORE: {
        /* The deadline runs from the accept: bytes that trickle in do not move it. */
        (void)deadline_rearm(c, bev);
        return;
    }
    case RELAY_HEAD_TOO_LONG: {
        static const char body[] =
            "{\"error\":\"bad request\",\"field\":null,\"reason\":\"request line too long\"}";
        reply_close(c, "400 Bad Request", "application/json", "", body, sizeof(body) - 1);
        return;
    }
    case RELAY_HEAD_METRICS:
        reply_metrics(c);
        return;
    case RELAY_HEAD_FORWARD:
        break;
    }
    struct sockaddr_storage sa;
    socklen_t len;
    const char *why;
    pthread_mutex_lock(&r->lock);
    sa = r->target;
    len = r->target_len;
    why = r->target_why;
    pthread_mutex_unlock(&r->lock);
    if (len == 0) {
        atomic_fetch_add(&r->refused_no_holder, 1);
        reply_503(c, why);
        return;
    }
    bufferevent_disable(bev, EV_READ); /* the rest waits in the input until the holder accepts */
    bufferevent_setcb(bev, NULL, NULL, down_closed, c);
    c->up = bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->up == NULL) {
        atomic_fetch_add(&r->refused_unreachable, 1);
        reply_503(c, "the relay could not open a connection to the holder");
        return;
    }
    bufferevent_setcb(c->up, NULL, NULL, up_event, c);
    bufferevent_set_timeouts(c->up, NULL, &(struct timeval){RELAY_CONNECT_S, 0});
    if (bufferevent_socket_connect(c->up, (struct sockaddr *)&sa, (int)len) != 0) {
        atomic_fetch_add(&r->refused_unreachable, 1);
        reply_503(c, "the instance holding the cluster log did not answer this instance's relay");
        return;
    }
    /* A holder whose host vanished sends no FIN: keepalive ends the pair instead of holding it. */
    int fd = bufferevent_getfd(c->up), on = 1, idle = RELAY_KEEPIDLE_S, intvl = RELAY_KEEPINTVL_S,
        cnt = RELAY_KEEPCNT;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static void down_head_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    conn_free(arg); /* closed or timed out before a whole request line: nothing to answer */
}

static void
on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)lis;
    (void)sa;
    (void)salen;
    struct relay *r = arg;
    struct rconn *c = NULL;
    if (r->n_conns >= r->max_conns || (c = calloc(1, sizeof(*c))) == NULL) {
        atomic_fetch_add(&r->refused_full, 1);
        evutil_closesocket(fd);
        return;
    }
    c->r = r;
    c->down = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->down == NULL) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    r->n_conns++;
    c->next = r->conns;
    if (c->next != NULL)
        c->next->prev = c;
    r->conns = c;
    c->deadline_ms = mono_ms() + r->head_ms;
    struct timeval tv = tv_ms(r->head_ms);
    bufferevent_setcb(c->down, down_head, NULL, down_head_event, c);
    bufferevent_set_timeouts(c->down, &tv, NULL);
    bufferevent_enable(c->down, EV_READ | EV_WRITE);
}

/* An accept failed: out of descriptors (or memory). Left enabled, the listener would fire again
 * at once for ever; it pauses until a connection closes or RELAY_RESUME_MS passed. */
static void on_accept_error(struct evconnlistener *lis, void *arg)
{
    struct relay *r = arg;
    int e = EVUTIL_SOCKET_ERROR();
    if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED)
        return;
    NF_LOG(NF_LOG_WARN, "relay", "accept paused errno=%d err=\"%s\"", e, strerror(e));
    evconnlistener_disable(lis);
    r->accept_paused = 1;
    struct timeval tv = tv_ms(RELAY_RESUME_MS);
    event_add(r->resume_ev, &tv);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct relay *r = arg;
    if (r->accept_paused) {
        r->accept_paused = 0;
        evconnlistener_enable(r->lis);
    }
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(((struct relay *)arg)->base);
}

static void *relay_main(void *arg)
{
    struct relay *r = arg;
    pthread_setname_np(pthread_self(), "relay");
    log_set_thread("relay");
    event_base_loop(r->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* resolve: "HOST:PORT" into sa. passive: a listening address (port 0 allowed). */
static int resolve(const char *hostport, int passive, struct sockaddr_storage *sa, socklen_t *len)
{
    char host[128];
    uint16_t port = 0;
    if (ingest_parse_listen(hostport, host, sizeof(host), &port) != 0 || (!passive && port == 0) ||
        ingest_resolve(host, port, passive, sa, len) != 0)
        return NF_ECONFIG;
    return 0;
}

/* fd_cap: connections that fit in the descriptor limit (two descriptors each), or UINT_MAX. */
static unsigned fd_cap(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > 2u * (rlim_t)UINT32_MAX)
        return UINT32_MAX;
    return rl.rlim_cur > 2 * RELAY_FD_RESERVE ? (unsigned)((rl.rlim_cur - RELAY_FD_RESERVE) / 2)
                                              : RELAY_FD_RESERVE / 2;
}

struct relay *relay_new(const struct relay_opts *o, int *err)
{
    struct relay *r = calloc(1, sizeof(*r));
    const char *listen = o->listen;
    struct sockaddr_storage sa;
    socklen_t len = 0;
    *err = NF_ENOMEM;
    if (r == NULL)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    r->stop_fd = -1;
    r->target_why = why_none;
    r->head_ms = o->head_ms > 0 ? o->head_ms : RELAY_HEAD_MS;
    r->write_ms = o->write_ms > 0 ? o->write_ms : RELAY_WRITE_MS;
    r->max_conns = o->max_conns > 0 ? o->max_conns : 1;
    unsigned cap = fd_cap();
    if (r->max_conns > cap) {
        NF_LOG(NF_LOG_WARN, "relay",
               "max_connections=%u does not fit in the open-files limit (two descriptors a "
               "relayed connection): relaying at most %u at once",
               r->max_conns, cap);
        r->max_conns = cap;
    }
    if ((*err = resolve(listen, 1, &sa, &len)) != 0) {
        NF_LOG(NF_LOG_ERROR, "relay", "bad listen address listen=%s", listen);
        goto fail;
    }
    *err = NF_ENOMEM;
    if ((r->base = event_base_new()) == NULL)
        goto fail;
    struct timeval wt = tv_ms(r->write_ms);
    if ((r->write_tv = event_base_init_common_timeout(r->base, &wt)) == NULL)
        goto fail;
    r->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->stop_fd < 0 ||
        (r->stop_ev = event_new(r->base, r->stop_fd, EV_READ, on_stop, r)) == NULL ||
        event_add(r->stop_ev, NULL) != 0 ||
        (r->resume_ev = evtimer_new(r->base, on_resume, r)) == NULL)
        goto fail;
    r->lis = evconnlistener_new_bind(
        r->base, on_accept, r, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        1024, (struct sockaddr *)&sa, (int)len);
    if (r->lis == NULL) {
        NF_LOG(NF_LOG_ERROR, "relay", "cannot listen listen=%s errno=%d", listen, errno);
        *err = NF_EIO;
        goto fail;
    }
    evconnlistener_set_error_cb(r->lis, on_accept_error);
    r->port = ingest_bound_port(evconnlistener_get_fd(r->lis));
    socklen_t bl = sizeof(r->bound);
    if (getsockname(evconnlistener_get_fd(r->lis), (struct sockaddr *)&r->bound, &bl) != 0)
        r->bound.ss_family = AF_UNSPEC;
    if (o->advertise != NULL)
        snprintf(r->self, sizeof(r->self), "%s", o->advertise);
    else if (ingest_listen_advertise(listen, r->port, r->self, sizeof(r->self)) != 0)
        r->self[0] = '\0';
    if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
        *err = NF_EIO;
        goto fail;
    }
    r->started = 1;
    *err = 0;
    return r;
fail:
    relay_free(r);
    return NULL;
}

uint16_t relay_port(const struct relay *r)
{
    return r->port;
}

/* Addresses compared by family, IP and port. */
static int addr_port(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)a)->sin_port);
    if (a->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
    return -1;
}

static int addr_is_loopback(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    if (a->ss_family != AF_INET6)
        return 0;
    const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(v6) || (IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127);
}

static int addr_is_wildcard(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
    return a->ss_family == AF_INET6 &&
           IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

static int addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family || addr_port(a) != addr_port(b))
        return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return a->ss_family == AF_INET6 &&
           memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

static const char why_self[] =
    "the cluster log's lease still names this instance's own address (it held the lease before it "
    "restarted); the lease expires within its TTL";
static const char why_loopback[] =
    "the instance holding the cluster log advertises a loopback address, which this relay does "
    "not pass connections from a non-loopback address to (set --cluster-advertise on the holder)";

/* target_refusal: why the relay must not pass connections to sa, or NULL. Its own address would
 * loop on itself (a holder restarted in place finds its old lease still naming it); a loopback
 * holder reached through a relay on another address would serve clients it never chose to. */
static const char *target_refusal(const struct relay *r, const struct sockaddr_storage *sa)
{
    if (addr_same(sa, &r->bound) || (addr_is_wildcard(&r->bound) &&
                                     addr_port(sa) == addr_port(&r->bound) && addr_is_loopback(sa)))
        return why_self;
    if (addr_is_loopback(sa) && !addr_is_loopback(&r->bound))
        return why_loopback;
    return NULL;
}

int relay_target(struct relay *r, const char *hostport)
{
    struct sockaddr_storage sa;
    socklen_t len = 0;
    int rc = 0;
    const char *why = why_none, *name = hostport != NULL ? hostport : "";
    const char *refused = NULL;
    if (name[0] != '\0' && r->self[0] != '\0' && strcmp(name, r->self) == 0)
        refused = why_self; /* by name: before a resolution that may not work here */
    else if (name[0] != '\0' && (rc = resolve(name, 0, &sa, &len)) != 0)
        len = 0;
    else if (len != 0)
        refused = target_refusal(r, &sa);
    if (refused != NULL) {
        len = 0;
        why = refused;
    }
    pthread_mutex_lock(&r->lock);
    int changed = strcmp(r->target_name, name) != 0;
    if (len != 0)
        r->target = sa;
    r->target_len = len;
    r->target_why = why;
    snprintf(r->target_name, sizeof(r->target_name), "%s", name);
    pthread_mutex_unlock(&r->lock);
    if (changed && refused != NULL)
        NF_LOG(NF_LOG_WARN, "relay",
               "not relaying to the lease holder (answering 503) holder=%s reason=\"%s\"", name,
               refused);
    else if (changed)
        NF_LOG(len != 0 || name[0] == '\0' ? NF_LOG_INFO : NF_LOG_WARN, "relay",
               "relaying to the lease holder holder=%s%s", name[0] != '\0' ? name : "(none known)",
               rc != 0 ? " (does not resolve: answering 503)" : "");
    return rc;
}

void relay_free(struct relay *r)
{
    if (r == NULL)
        return;
    if (r->started) {
        uint64_t one = 1;
        if (write(r->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
            NF_LOG(NF_LOG_WARN, "relay", "stop eventfd write failed errno=%d", errno);
        pthread_join(r->thread, NULL);
    }
    if (r->lis != NULL)
        evconnlistener_free(r->lis);
    r->lis = NULL;
    while (r->conns != NULL) /* the thread has stopped: its connections are ours */
        conn_free(r->conns);
    if (r->stop_ev != NULL)
        event_free(r->stop_ev);
    if (r->resume_ev != NULL)
        event_free(r->resume_ev);
    if (r->base != NULL)
        event_base_free(r->base);
    if (r->stop_fd >= 0)
        close(r->stop_fd);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
