/* relay: a cluster standby's front door (see include/relay.h). Each accepted connection waits for
 * its first request line (relay_head_classify, pure, decides on the bytes received so far); GET
 * /metrics is answered here, anything else opens a connection to the lease holder's advertised
 * address and, once it is connected, the two sockets are spliced until either side closes (what
 * one side sent is written to the other before both close). The thread "relay" owns the listener
 * and every connection; relay_target and relay_free reach it through a mutex (the target address)
 * and an eventfd (stop). */
#include "relay.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "http_parse.h"
#include "nf_err.h"
#include "nf_log.h"

#define RELAY_HEAD_S     10            /* the first request line must arrive within this */
#define RELAY_CONNECT_S  2             /* the holder must accept within this */
#define RELAY_HIGH_WATER (256u * 1024) /* unsent bytes before the other side stops reading */

struct relay {
    struct event_base *base;
    struct evconnlistener *lis;
    struct event *stop_ev;
    int stop_fd;
    pthread_t thread;
    int started;
    uint16_t port;
    unsigned max_conns;
    unsigned n_conns;    /* relay thread */
    struct rconn *conns; /* relay thread: every open connection, freed by relay_free */
    pthread_mutex_t lock;
    struct sockaddr_storage target; /* under lock; target_len 0: none known */
    socklen_t target_len;
    char target_name[160];
    _Atomic uint64_t relayed, refused_no_holder, refused_unreachable, refused_full;
};

/* One client connection: down is the client, up the holder (NULL until the first line came). */
struct rconn {
    struct relay *r;
    struct bufferevent *down, *up;
    int spliced; /* the holder accepted: bytes flow both ways */
    int closing; /* one side ended: close once the other side's output drained */
    struct rconn *prev, *next;
};

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
    c->r->n_conns--;
    free(c);
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
    bufferevent_set_timeouts(c->down, NULL, &(struct timeval){RELAY_HEAD_S, 0});
}

static void reply_503(struct rconn *c, const char *reason)
{
    char body[400];
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
        "nearft_relay_refused_total{reason=\"full\"} %llu\n",
        (unsigned long long)atomic_load(&r->relayed),
        (unsigned long long)atomic_load(&r->refused_no_holder),
        (unsigned long long)atomic_load(&r->refused_unreachable),
        (unsigned long long)atomic_load(&r->refused_full));
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
            conn_free(c);
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

/* One side ended (EOF, error, timeout): pass on what it sent, drop it, and close the other side
 * once its output drained. */
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
        conn_free(c);
}

static void down_drained(struct bufferevent *bev, void *arg)
{
    struct rconn *c = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(c);
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
        bufferevent_set_timeouts(bev, NULL, NULL);
        bufferevent_set_timeouts(c->down, NULL, NULL);
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
    case RELAY_HEAD_MORE:
        return;
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
    pthread_mutex_lock(&r->lock);
    sa = r->target;
    len = r->target_len;
    pthread_mutex_unlock(&r->lock);
    if (len == 0) {
        atomic_fetch_add(&r->refused_no_holder, 1);
        reply_503(c, "no instance of the cluster holds the log right now (or the one that does "
                     "has not advertised its address yet)");
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
    }
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
    bufferevent_setcb(c->down, down_head, NULL, down_head_event, c);
    bufferevent_set_timeouts(c->down, &(struct timeval){RELAY_HEAD_S, 0}, NULL);
    bufferevent_enable(c->down, EV_READ | EV_WRITE);
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

struct relay *relay_new(const char *listen, unsigned max_conns, int *err)
{
    struct relay *r = calloc(1, sizeof(*r));
    struct sockaddr_storage sa;
    socklen_t len = 0;
    *err = NF_ENOMEM;
    if (r == NULL)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    r->stop_fd = -1;
    r->max_conns = max_conns > 0 ? max_conns : 1;
    if ((*err = resolve(listen, 1, &sa, &len)) != 0) {
        NF_LOG(NF_LOG_ERROR, "relay", "bad listen address listen=%s", listen);
        goto fail;
    }
    *err = NF_ENOMEM;
    if ((r->base = event_base_new()) == NULL)
        goto fail;
    r->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->stop_fd < 0 ||
        (r->stop_ev = event_new(r->base, r->stop_fd, EV_READ, on_stop, r)) == NULL ||
        event_add(r->stop_ev, NULL) != 0)
        goto fail;
    r->lis = evconnlistener_new_bind(
        r->base, on_accept, r, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        1024, (struct sockaddr *)&sa, (int)len);
    if (r->lis == NULL) {
        NF_LOG(NF_LOG_ERROR, "relay", "cannot listen listen=%s errno=%d", listen, errno);
        *err = NF_EIO;
        goto fail;
    }
    r->port = ingest_bound_port(evconnlistener_get_fd(r->lis));
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

int relay_target(struct relay *r, const char *hostport)
{
    struct sockaddr_storage sa;
    socklen_t len = 0;
    int rc = 0;
    if (hostport != NULL && hostport[0] != '\0' && (rc = resolve(hostport, 0, &sa, &len)) != 0)
        len = 0;
    pthread_mutex_lock(&r->lock);
    int changed = strcmp(r->target_name, hostport != NULL ? hostport : "") != 0;
    if (len != 0)
        r->target = sa;
    r->target_len = len;
    snprintf(r->target_name, sizeof(r->target_name), "%s", hostport != NULL ? hostport : "");
    pthread_mutex_unlock(&r->lock);
    if (changed)
        NF_LOG(len != 0 || hostport == NULL || hostport[0] == '\0' ? NF_LOG_INFO : NF_LOG_WARN,
               "relay", "relaying to the lease holder holder=%s%s",
               hostport != NULL && hostport[0] != '\0' ? hostport : "(none known)",
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
    while (r->conns != NULL) /* the thread has stopped: its connections are ours */
        conn_free(r->conns);
    if (r->stop_ev != NULL)
        event_free(r->stop_ev);
    if (r->base != NULL)
        event_base_free(r->base);
    if (r->stop_fd >= 0)
        close(r->stop_fd);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
