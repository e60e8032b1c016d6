/* test_hsrv: the ingest wire's defences against slow and greedy clients, driven over raw sockets
 * against one hsrv on its own event_base thread (no pipeline): the whole-head deadline against a
 * trickled head, the body minimum rate against a held body, the write timeout against a client
 * that does not read, the per-address connection cap, reclaiming the oldest idle keep-alive
 * connection when the slab is full, and the large-buffer byte budget (503 naming it, buffers
 * returned when answered, a chunked body growing its buffer), and on_head refusing a request
 * before its body is read. Waits poll with generous limits; nothing depends on the machine's
 * speed. */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ingest/hsrv.h"
#include "ingest/http_parse.h"
#include "nf_test.h"
#include "raw_sock.h"

#define LIMIT_S  20.0
#define BIG_BODY (8u << 20) /* a reply far larger than the socket buffers */

struct srv {
    struct event_base *base;
    struct hsrv *h;
    struct hsrv_shared *sh;
    struct hsrv_counters ctr;
    int stop_pipe[2];
    struct event *stop_ev;
    pthread_t tid;
    int port;
};

static char *big_reply;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_request(struct hsrv_req *r, void *arg)
{
    (void)arg;
    if (strcmp(r->path, "/big") == 0) {
        hsrv_reply(r->ref, 200, "text/plain", NULL, big_reply, BIG_BODY, 0);
        return;
    }
    char body[128];
    int n = snprintf(body, sizeof(body), "{\"path\":\"%s\",\"len\":%zu}", r->path, r->body_len);
    hsrv_reply(r->ref, 200, NULL, NULL, body, (size_t)n, 0);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void *srv_main(void *arg)
{
    struct srv *v = arg;
    event_base_dispatch(v->base);
    return NULL;
}

/* Starts a server with o's limits (on_request and counters are filled in here). */
static int srv_start(struct srv *v, struct hsrv_opts o, uint32_t per_ip, uint64_t pool)
{
    memset(v, 0, sizeof(*v));
    v->base = event_base_new();
    v->sh = hsrv_shared_new(o.max_conns, per_ip, pool, 64);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(0x7f000001);
    socklen_t sl = sizeof(sa);
    /* Accepted sockets inherit a 256 KiB send buffer: how much of an unread answer the kernel
     * takes does not depend on the machine's tcp_wmem. */
    int snd = 256 * 1024;
    if (v->base == NULL || v->sh == NULL || fd == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0 || pipe(v->stop_pipe) != 0)
        return -1;
    v->port = ntohs(sa.sin_port);
    o.on_request = on_request;
    o.shared = v->sh;
    o.counters = &v->ctr;
    int err = 0;
    v->h = hsrv_new(v->base, fd, &o, &err);
    v->stop_ev = event_new(v->base, v->stop_pipe[0], EV_READ, stop_cb, v->base);
    if (v->h == NULL || v->stop_ev == NULL || event_add(v->stop_ev, NULL) != 0)
        return -1;
    return pthread_create(&v->tid, NULL, srv_main, v) == 0 ? 0 : -1;
}

static void srv_stop(struct srv *v)
{
    if (write(v->stop_pipe[1], "x", 1) != 1)
        return;
    pthread_join(v->tid, NULL);
    hsrv_free(v->h);
    event_free(v->stop_ev);
    event_base_free(v->base);
    hsrv_shared_free(v->sh);
    close(v->stop_pipe[0]);
    close(v->stop_pipe[1]);
}

static struct hsrv_opts base_opts(void)
{
    struct hsrv_opts o;
    memset(&o, 0, sizeof(o));
    o.max_conns = 16;
    o.big_bufs = 8;
    o.max_head = 16384;
    o.max_body = 1u << 20;
    o.idle_ms = 600000;
    return o;
}

static uint64_t ctr(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Reads until `until` appears (0), the peer closes or resets (1), or LIMIT_S passes (-1). */
static int read_until(int fd, char *out, size_t cap, size_t *len, const char *until)
{
    *len = 0;
    out[0] = '\0';
    double end = mono_s() + LIMIT_S;
    while (mono_s() < end) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, out + *len, cap - 1 - *len, 0);
        if (n <= 0)
            return 1;
        *len += (size_t)n;
        out[*len] = '\0';
        if (until != NULL && strstr(out, until) != NULL)
            return 0;
    }
    return -1;
}

/* 1 when the server closed fd (EOF or reset) within LIMIT_S, discarding what it sends. */
static int wait_closed(int fd)
{
    char sink[65536];
    double end = mono_s() + LIMIT_S;
    while (mono_s() < end) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, sink, sizeof(sink), 0);
        if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
            return 1;
    }
    return 0;
}

static int get_ok(int fd)
{
    static const char req[] = "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n";
    char out[1024];
    size_t len;
    if (raw_sock_send(fd, req, sizeof(req) - 1) != 0)
        return 0;
    return read_until(fd, out, sizeof(out), &len, "\"len\":0}") == 0 &&
           strncmp(out, "HTTP/1.1 200 ", 13) == 0;
}

static int wait_pool_zero(const struct srv *v)
{
    double end = mono_s() + LIMIT_S;
    while (mono_s() < end) {
        if (hsrv_shared_pool_used(v->sh) == 0)
            return 1;
        usleep(10000);
    }
    return 0;
}

/* A head trickled one header line at a time never resets the clock: closed at head_ms. A
 * connection that sends nothing is closed the same way; a normal client is served meanwhile. */
static void test_head_deadline(void)
{
    struct srv v;
    struct hsrv_opts o = base_opts();
    o.head_ms = 500;
    CHECK(srv_start(&v, o, 0, 64u << 20) == 0);
    int slow = raw_sock_connect(v.port), silent = raw_sock_connect(v.port);
    CHECK(slow != -1 && silent != -1);
    CHECK(raw_sock_send(slow, "GET /slow HTTP/1.1\r\n", 20) == 0);
    int closed = 0;
    double end = mono_s() + LIMIT_S;
    while (!closed && mono_s() < end) {
        if (raw_sock_send(slow, "X-Trickle: 1\r\n", 14) != 0) {
            closed = 1;
            break;
        }
        struct pollfd pf = {slow, POLLIN, 0};
        if (poll(&pf, 1, 100) > 0) {
            char b[64];
            ssize_t n = recv(slow, b, sizeof(b), 0);
            closed = n == 0 || n == -1;
        }
    }
    CHECK(closed);
    CHECK(wait_closed(silent));
    CHECK(ctr(&v.ctr.head_timeouts) >= 2);
    int ok = raw_sock_connect(v.port);
    CHECK(ok != -1 && get_ok(ok));
    close(ok);
    close(slow);
    close(silent);
    srv_stop(&v);
}

/* A head announcing a large body, then silence: no large buffer is taken, and the connection is
 * closed once the body falls below body_min_rate after the grace. */
static void test_body_rate(void)
{
    struct srv v;
    struct hsrv_opts o = base_opts();
    o.head_ms = 300;
    o.body_min_rate = 100000;
    CHECK(srv_start(&v, o, 0, 64u << 20) == 0);
    int fd = raw_sock_connect(v.port);
    static const char head[] =
        "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 900000\r\n\r\n0123456789";
    CHECK(raw_sock_send(fd, head, sizeof(head) - 1) == 0);
    CHECK(wait_closed(fd));
    CHECK(ctr(&v.ctr.body_timeouts) >= 1);
    CHECK_EQ_INT(hsrv_shared_pool_used(v.sh), 0);
    close(fd);
    srv_stop(&v);
}

/* Connects and asks for the 8 MiB answer without reading it: at least 7 MiB of it stays in the
 * server's memory (the server's sockets take 256 KiB, srv_start; an unread client's receive
 * buffer about 128 KiB). small: a 4 KiB receive buffer asked for (a client that will never read;
 * the window it advertised at the connect stays). */
static int unread_big(int port, int small)
{
    int fd = raw_sock_connect(port);
    int rcv = 4096;
    static const char req[] = "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
    if (fd == -1 || (small && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) != 0) ||
        raw_sock_send(fd, req, sizeof(req) - 1) != 0)
        return -1;
    return fd;
}

/* A client that asks for a large answer and never reads it is reset after write_ms; a normal
 * client is served meanwhile. */
static void test_write_timeout(void)
{
    struct srv v;
    struct hsrv_opts o = base_opts();
    o.write_ms = 300;
    CHECK(srv_start(&v, o, 0, 64u << 20) == 0);
    int fd = unread_big(v.port, 1);
    CHECK(fd != -1);
    double end = mono_s() + LIMIT_S;
    while (ctr(&v.ctr.write_timeouts) == 0 && mono_s() < end)
        usleep(10000);
    CHECK_EQ_INT(ctr(&v.ctr.write_timeouts), 1);
    int ok = raw_sock_connect(v.port);
    CHECK(ok != -1 && get_ok(ok));
    close(ok);
    /* What arrives is cut short: the connection ends before the whole answer. */
    size_t total = 0;
    char sink[65536];
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 5000) <= 0)
            break;
        ssize_t n = recv(fd, sink, sizeof(sink), 0);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    CHECK(total < BIG_BODY);
    close(fd);
    srv_stop(&v);
}

/* Reads one answer with an 8 MiB body from fd: its whole length (head + body), or 0 on EOF, a
 * reset or LIMIT_S without a byte first. */
static size_t read_big(int fd)
{
    char buf[65536], head[1024];
    size_t total = 0, head_len = 0, hl = 0;
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, (int)(LIMIT_S * 1000)) <= 0)
            return 0;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            return 0;
        if (head_len == 0) {
            size_t take = (size_t)n < sizeof(head) - 1 - hl ? (size_t)n : sizeof(head) - 1 - hl;
            memcpy(head + hl, buf, take);
            hl += take;
            head[hl] = '\0';
            const char *e = strstr(head, "\r\n\r\n");
            if (e != NULL)
                head_len = (size_t)(e - head) + 4;
        }
        total += (size_t)n;
        if (head_len != 0 && total >= head_len + BIG_BODY)
            return total == head_len + BIG_BODY ? total : 0;
    }
}

/* Waits (bounded) until the server holds more than n unsent bytes; that figure, or 0. */
static uint64_t wait_unsent_over(const struct srv *v, uint64_t n)
{
    double end = mono_s() + LIMIT_S;
    while (hsrv_unsent_bytes(v->h) <= n && mono_s() < end)
        usleep(10000);
    return hsrv_unsent_bytes(v->h) > n ? hsrv_unsent_bytes(v->h) : 0;
}

/* Waits (bounded) for the first connection reset over max_unsent. */
static void wait_unsent_reset(const struct srv *v)
{
    double end = mono_s() + LIMIT_S;
    while (ctr(&v->ctr.unsent_reset) == 0 && mono_s() < end)
        usleep(10000);
}

/* Waits (bounded) until no unsent byte is left; the bytes left then. */
static uint64_t wait_unsent_gone(const struct srv *v)
{
    double end = mono_s() + LIMIT_S;
    while (hsrv_unsent_bytes(v->h) != 0 && mono_s() < end)
        usleep(10000);
    return hsrv_unsent_bytes(v->h);
}

/* A server with max_unsent = cap and one client that asked for the 8 MiB answer and never reads
 * (*a, from unread_big with a small receive buffer): the bytes held once its answer waits. */
static uint64_t start_unread(struct srv *v, uint64_t cap, int *a)
{
    struct hsrv_opts o = base_opts();
    o.max_unsent = cap;
    CHECK(srv_start(v, o, 0, 64u << 20) == 0);
    *a = unread_big(v->port, 1);
    CHECK(*a != -1);
    return wait_unsent_over(v, 0);
}

/* max_unsent below one answer: a client that does not read keeps its own answer in memory (it
 * alone may exceed the cap), but once a second one's answer waits too, the first, which has
 * waited longest, is reset; the second is still written whole when it reads, and the memory
 * comes back. A normal client is served meanwhile. No write timeout is set. */
static void test_unsent_cap(void)
{
    struct srv v;
    int a = -1;
    uint64_t one = start_unread(&v, 1u << 20, &a);
    CHECK(one > (1u << 20)); /* over the cap alone, and kept */
    int ok = raw_sock_connect(v.port);
    CHECK(ok != -1 && get_ok(ok));
    CHECK_EQ_INT(ctr(&v.ctr.unsent_reset), 0);
    int b = unread_big(v.port, 0);
    CHECK(b != -1);
    wait_unsent_reset(&v);
    CHECK_EQ_INT(ctr(&v.ctr.unsent_reset), 1);
    CHECK(wait_closed(a)); /* reset: a never gets its whole answer */
    CHECK(hsrv_unsent_bytes(v.h) > 0 && hsrv_unsent_bytes(v.h) < BIG_BODY + 512);
    size_t got = read_big(b);
    CHECK(got > BIG_BODY && got < BIG_BODY + 512);
    CHECK_EQ_INT(wait_unsent_gone(&v), 0);
    CHECK_EQ_INT(ctr(&v.ctr.unsent_reset), 1);
    CHECK(get_ok(ok));
    close(ok);
    close(a);
    close(b);
    srv_stop(&v);
}

/* Which connection goes: with room for two unread answers under an 18 MiB cap (each leaves 7 to
 * 8 MiB in memory), a third one's answer resets only the one that has waited longest; the
 * other two are then read whole and the memory comes back. */
static void test_unsent_oldest(void)
{
    struct srv v;
    int a = -1;
    uint64_t one = start_unread(&v, 18u << 20, &a);
    CHECK(one > (6u << 20));
    int c = unread_big(v.port, 0);
    uint64_t two = wait_unsent_over(&v, one);
    CHECK(c != -1 && two > one + (6u << 20) && two <= (18u << 20));
    CHECK_EQ_INT(ctr(&v.ctr.unsent_reset), 0);
    int b = unread_big(v.port, 0);
    CHECK(b != -1);
    wait_unsent_reset(&v);
    CHECK(wait_closed(a));
    size_t got_c = read_big(c), got_b = read_big(b);
    CHECK(got_c > BIG_BODY && got_b > BIG_BODY);
    CHECK_EQ_INT(ctr(&v.ctr.unsent_reset), 1);
    CHECK_EQ_INT(wait_unsent_gone(&v), 0);
    close(a);
    close(b);
    close(c);
    srv_stop(&v);
}

/* The per-address cap: the connection over it gets 503 naming the limit and is closed; after one
 * of the others closes, a new one is served. */
static void test_per_ip(void)
{
    struct srv v;
    struct hsrv_opts o = base_opts();
    CHECK(srv_start(&v, o, 3, 64u << 20) == 0);
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = raw_sock_connect(v.port);
        CHECK(fds[i] != -1 && get_ok(fds[i]));
    }
    int over = raw_sock_connect(v.port);
    char out[1024];
    size_t len;
    CHECK(over != -1 && read_until(over, out, sizeof(out), &len, NULL) == 1);
    CHECK(strncmp(out, "HTTP/1.1 503 ", 13) == 0);
    CHECK(strstr(out, "max_conns_per_ip") != NULL);
    CHECK(strstr(out, "Retry-After: 1\r\n") != NULL);
    CHECK_EQ_INT(ctr(&v.ctr.per_ip_refused), 1);
    close(over);
    close(fds[0]);
    int served = 0;
    double end = mono_s() + LIMIT_S;
    while (!served && mono_s() < end) {
        int fd = raw_sock_connect(v.port);
        served = fd != -1 && get_ok(fd);
        if (fd != -1)
            close(fd);
    }
    CHECK(served);
    close(fds[1]);
    close(fds[2]);
    srv_stop(&v);
}

/* A full slab of idle keep-alive connections: a new client is served at once, the oldest idle
 * connection making room. */
static void test_idle_reclaim(void)
{
    struct srv v;
    struct hsrv_opts o = base_opts();
    o.max_conns = 4;
    CHECK(srv_start(&v, o, 0, 64u << 20) == 0);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = raw_sock_connect(v.port);
        CHECK(fds[i] != -1 && get_ok(fds[i]));
    }
    int fresh = raw_sock_connect(v.port);
    CHECK(fresh != -1 && get_ok(fresh));
    CHECK(wait_closed(fds[0])); /* the oldest idle one */
    CHECK_EQ_INT(ctr(&v.ctr.idle_reclaimed), 1);
    CHECK(get_ok(fds[3])); /* the newest is still served */
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    close(fresh);
    srv_stop(&v);
}

/* The large-buffer budget: with room for two 600 KB bodies, a third gets 503 naming
 * body_pool_bytes; the others are served whole and their buffers are returned. */
static void test_pool(void)
{
    struct srv v;
    struct hsrv_opts o = base_opts();
    CHECK(srv_start(&v, o, 0, 1300u * 1024u) == 0);
    const size_t blen = 600000;
    char *body = malloc(blen);
    memset(body, 'x', blen);
    char head[128];
    int hl = snprintf(head, sizeof(head),
                      "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", blen);
    int fds[3];
    for (int i = 0; i < 2; i++) {
        fds[i] = raw_sock_connect(v.port);
        CHECK(fds[i] != -1 && raw_sock_send(fds[i], head, (size_t)hl) == 0 &&
              raw_sock_send(fds[i], body, 8192) == 0);
    }
    double end = mono_s() + LIMIT_S;
    while (hsrv_shared_pool_used(v.sh) < 2u * 600000u && mono_s() < end)
        usleep(10000);
    CHECK(hsrv_shared_pool_used(v.sh) >= 2u * 600000u);
    fds[2] = raw_sock_connect(v.port);
    CHECK(fds[2] != -1 && raw_sock_send(fds[2], head, (size_t)hl) == 0 &&
          raw_sock_send(fds[2], body, 8192) == 0);
    char out[2048];
    size_t len;
    CHECK(read_until(fds[2], out, sizeof(out), &len, "}") == 0);
    CHECK(strncmp(out, "HTTP/1.1 503 ", 13) == 0);
    CHECK(strstr(out, "body_pool_bytes") != NULL);
    CHECK(strstr(out, "Retry-After: 1\r\n") != NULL);
    CHECK_EQ_INT(ctr(&v.ctr.pool_refused), 1);
    for (int i = 0; i < 2; i++) {
        CHECK(raw_sock_send(fds[i], body + 8192, blen - 8192) == 0);
        CHECK(read_until(fds[i], out, sizeof(out), &len, "\"len\":600000}") == 0);
    }
    CHECK(wait_pool_zero(&v)); /* answered: both buffers returned */
    /* A chunked body grows its buffer in steps; the head stays intact across the moves. */
    static const char ch[] =
        "POST /chunky HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK(raw_sock_send(fds[0], ch, sizeof(ch) - 1) == 0);
    char line[32];
    for (int i = 0; i < 50; i++) {
        int ll = snprintf(line, sizeof(line), "%x\r\n", 10000);
        CHECK(raw_sock_send(fds[0], line, (size_t)ll) == 0 &&
              raw_sock_send(fds[0], body, 10000) == 0 && raw_sock_send(fds[0], "\r\n", 2) == 0);
    }
    CHECK(raw_sock_send(fds[0], "0\r\n\r\n", 5) == 0);
    CHECK(read_until(fds[0], out, sizeof(out), &len, "}") == 0);
    CHECK(strstr(out, "{\"path\":\"/chunky\",\"len\":500000}") != NULL);
    CHECK(wait_pool_zero(&v));
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    free(body);
    srv_stop(&v);
}

static _Atomic int head_calls;

/* on_head: refuses a request whose path starts with /refuse (401, as a token check does); lets the
 * others read their body. */
static int on_head(struct hsrv_req *r, void *arg)
{
    (void)arg;
    atomic_fetch_add(&head_calls, 1);
    if (r->body != NULL || r->body_len != 0 || strncmp(r->path, "/refuse", 7) != 0)
        return 0;
    static const char b[] = "{\"error\":\"unauthorized\"}";
    hsrv_reply(r->ref, 401, NULL, NULL, b, sizeof(b) - 1, 0);
    return 1;
}

/* A head on_head refuses is answered before its body is sent (no 100 Continue, Connection:
 * close, no large buffer), and the connection closes; a chunked one the same. A head on_head lets
 * through reads its body, and on_request sees it whole. A body that arrived with its head skips
 * on_head: on_request decides. */
static void test_on_head(void)
{
    struct srv v;
    struct hsrv_opts o = base_opts();
    o.on_head = on_head;
    CHECK(srv_start(&v, o, 0, 64u << 20) == 0);
    char out[2048];
    size_t len;
    static const char *const refused[] = {
        "POST /refuse HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: "
        "1000000\r\n\r\n",
        "POST /refuse HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"};
    for (int i = 0; i < 2; i++) {
        int fd = raw_sock_connect(v.port);
        CHECK(fd != -1 && raw_sock_send(fd, refused[i], strlen(refused[i])) == 0);
        CHECK(read_until(fd, out, sizeof(out), &len, "unauthorized\"}") == 0);
        CHECK(strncmp(out, "HTTP/1.1 401 ", 13) == 0);
        CHECK(strstr(out, "100 Continue") == NULL);
        CHECK(strstr(out, "Connection: close\r\n") != NULL);
        CHECK(hsrv_shared_pool_used(v.sh) == 0);
        CHECK(wait_closed(fd));
        close(fd);
    }
    /* Let through: the head alone first, then its body. */
    int fd = raw_sock_connect(v.port);
    int before = atomic_load(&head_calls);
    static const char head[] = "POST /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n";
    CHECK(fd != -1 && raw_sock_send(fd, head, sizeof(head) - 1) == 0);
    double end = mono_s() + LIMIT_S;
    while (atomic_load(&head_calls) == before && mono_s() < end)
        usleep(10000);
    CHECK_EQ_INT(atomic_load(&head_calls), before + 1);
    CHECK(raw_sock_send(fd, "hello", 5) == 0);
    CHECK(read_until(fd, out, sizeof(out), &len, "\"len\":5}") == 0);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0 && strstr(out, "\"path\":\"/ok\"") != NULL);
    /* Head and body together, on the same keep-alive connection: on_head is not asked, even for a
     * path it would refuse. */
    before = atomic_load(&head_calls);
    static const char whole[] =
        "POST /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
    CHECK(raw_sock_send(fd, whole, sizeof(whole) - 1) == 0);
    CHECK(read_until(fd, out, sizeof(out), &len, "\"len\":5}") == 0);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0 && strstr(out, "\"path\":\"/refuse\"") != NULL);
    CHECK_EQ_INT(atomic_load(&head_calls), before);
    close(fd);
    srv_stop(&v);
}

/* What counts as one client: an IPv4 address (mapped, through NAT64 or not), an IPv6 /64, or
 * with another prefix length that many leading bits. */
static void test_client_id(void)
{
    struct sockaddr_storage ss;
    uint8_t a[8], b[8];
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 */
    CHECK_EQ_INT(hsrv_client_id(&ss, 64, a), 4);
    CHECK(memcmp(a, "\xc0\x00\x02\x01\0\0\0\0", 8) == 0);
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    v6->sin6_family = AF_INET6;
    static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
    memcpy(&v6->sin6_addr, mapped, 16);
    CHECK_EQ_INT(hsrv_client_id(&ss, 64, b), 4);
    CHECK(memcmp(a, b, 8) == 0);
    static const uint8_t nat64[16] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1};
    memcpy(&v6->sin6_addr, nat64, 16); /* NAT64: the IPv4 client it carries */
    CHECK_EQ_INT(hsrv_client_id(&ss, 64, b), 4);
    CHECK(memcmp(a, b, 8) == 0);
    static const uint8_t x[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
    memcpy(&v6->sin6_addr, x, 16);
    CHECK_EQ_INT(hsrv_client_id(&ss, 64, a), 6);
    v6->sin6_addr.s6_addr[15] = 0x99; /* same /64, another host */
    v6->sin6_addr.s6_addr[9] = 0x42;
    CHECK_EQ_INT(hsrv_client_id(&ss, 64, b), 6);
    CHECK(memcmp(a, b, 8) == 0);
    v6->sin6_addr.s6_addr[7] = 3; /* the next /64 */
    CHECK_EQ_INT(hsrv_client_id(&ss, 64, b), 6);
    CHECK(memcmp(a, b, 8) != 0);
    /* --ipv6-client-prefix 48: the next /64 is the same client, the next /48 is not; 56 keeps a
     * partial byte. */
    CHECK_EQ_INT(hsrv_client_id(&ss, 48, b), 6);
    CHECK(memcmp(b, "\x20\x01\x0d\xb8\x00\x01\0\0", 8) == 0);
    v6->sin6_addr.s6_addr[6] = 0x77; /* another /56 of the same /48 */
    CHECK_EQ_INT(hsrv_client_id(&ss, 48, a), 6);
    CHECK(memcmp(a, b, 8) == 0);
    CHECK_EQ_INT(hsrv_client_id(&ss, 52, a), 6);
    CHECK(memcmp(a, "\x20\x01\x0d\xb8\x00\x01\x70\0", 8) == 0);
    v6->sin6_addr.s6_addr[3] = 0xb9; /* the next /32's network */
    CHECK_EQ_INT(hsrv_client_id(&ss, 48, a), 6);
    CHECK(memcmp(a, b, 8) != 0);
    CHECK(hsrv_shared_new(16, 0, 1u << 20, 15) == NULL);
    CHECK(hsrv_shared_new(16, 0, 1u << 20, 65) == NULL);
    ss.ss_family = AF_UNIX;
    CHECK_EQ_INT(hsrv_client_id(&ss, 64, b), 0);
    CHECK(memcmp(b, "\0\0\0\0\0\0\0\0", 8) == 0);
}

int main(void)
{
    big_reply = malloc(BIG_BODY);
    memset(big_reply, 'b', BIG_BODY);
    test_head_deadline();
    test_body_rate();
    test_write_timeout();
    test_unsent_cap();
    test_unsent_oldest();
    test_per_ip();
    test_idle_reclaim();
    test_pool();
    test_on_head();
    test_client_id();
    free(big_reply);
    return nf_test_report("test_hsrv");
}
