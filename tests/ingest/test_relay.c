/* test_relay: a cluster standby's relay (src/ingest/relay.c) on real sockets of 127.0.0.1: the
 * advertised address of a listener, 503 with no holder and with a holder that does not answer,
 * GET /metrics answered by the relay itself, a request and an answer larger than the relay's
 * high-water mark passed whole both ways, a first line too long refused with 400 (and one that
 * just fits passed on), a target that is the relay itself or (for a relay on a wildcard address)
 * a loopback holder refused with 503, a first line trickled in past its deadline closed, a client
 * that stops reading ending its pair (the holder's blocked write fails), and relay_free closing
 * both a connection still in its first line and one joined to a holder. The "holder" is a thread
 * of this test. Before those, a table of first bytes and the action relay_head_classify takes for
 * them (and for each of their prefixes: the same or "wait for more"). No step waits for a time to
 * pass: the relay's deadlines are short and every wait is for an event, bounded only against a
 * hang.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ingest.h"
#include "nf_err.h"
#include "nf_test.h"
#include "raw_sock.h"
#include "relay.h"

#define BIG (1u << 20) /* larger than the relay's 256 KiB high-water mark */

/* dial: raw_sock_connect with a receive timeout that bounds a hang only. */
static int dial(uint16_t port)
{
    int fd = raw_sock_connect(port);
    struct timeval tv = {30, 0};
    if (fd != -1)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* read_all: until EOF (the relay closes after its own answers; the holder closes after its). */
static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (ssize_t r; n < cap - 1 && (r = recv(fd, buf + n, cap - 1 - n, 0)) > 0;)
        n += (size_t)r;
    buf[n] = '\0';
    return n;
}

/* dead_port: a port bound (so nobody else takes it) where nothing listens; *fd_out keeps it. */
static uint16_t dead_port(int *fd_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return 0;
    *fd_out = fd;
    return ntohs(sa.sin_port);
}

/* listener: a dead_port that listens. */
static uint16_t listener(int *fd_out)
{
    uint16_t port = dead_port(fd_out);
    return port != 0 && listen(*fd_out, 16) == 0 ? port : 0;
}

/* The holder: one connection; reads the head and Content-Length bytes, answers with a body of
 * BIG bytes that starts with the number of body bytes it received, then closes. */
static void *holder_main(void *arg)
{
    int lfd = *(int *)arg;
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    char *buf = malloc(BIG + 8192);
    size_t n = 0, body = 0, want = SIZE_MAX;
    for (ssize_t r; want == SIZE_MAX || n < want;) {
        if ((r = recv(fd, buf + n, BIG + 8191 - n, 0)) <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strstr(buf, "Content-Length: ");
        if (want == SIZE_MAX && end != NULL && cl != NULL)
            want = (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10);
    }
    if (want != SIZE_MAX && n >= want)
        body = want - (size_t)(strstr(buf, "\r\n\r\n") + 4 - buf);
    char head[128];
    int hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", BIG);
    memset(buf, 'x', BIG);
    int bl = snprintf(buf, 32, "got=%zu;", body);
    buf[bl] = 'x';
    raw_sock_send(fd, head, (size_t)hl);
    raw_sock_send(fd, buf, BIG);
    close(fd);
    free(buf);
    return NULL;
}

static void test_advertise(void)
{
    char out[64];
    CHECK_EQ_INT(ingest_listen_advertise("127.0.0.1:0", 8080, out, sizeof(out)), 0);
    CHECK(strcmp(out, "127.0.0.1:8080") == 0);
    CHECK_EQ_INT(ingest_listen_advertise("[::1]:80", 9000, out, sizeof(out)), 0);
    CHECK(strcmp(out, "[::1]:9000") == 0);
    CHECK_EQ_INT(ingest_listen_advertise("0.0.0.0:80", 80, out, sizeof(out)), NF_ENOTFOUND);
    CHECK_EQ_INT(ingest_listen_advertise(":80", 80, out, sizeof(out)), NF_ENOTFOUND);
    CHECK_EQ_INT(ingest_listen_advertise("[::]:80", 80, out, sizeof(out)), NF_ENOTFOUND);
    CHECK_EQ_INT(ingest_listen_advertise("nohost", 80, out, sizeof(out)), NF_ECONFIG);
    CHECK_EQ_INT(ingest_listen_advertise("host.example:80", 80, out, 8), NF_ECONFIG);
}

struct head_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    enum relay_head_action want;
};

static const struct head_case head_cases[] = {
    {"", 0, RELAY_HEAD_MORE},
    {"GET /metrics HTTP/1.1", 0, RELAY_HEAD_MORE},
    {"GET /metrics HTTP/1.1\r", 0, RELAY_HEAD_MORE}, /* a CR alone ends no line */
    {"GET /metrics HTTP/1.1\r\n", 0, RELAY_HEAD_METRICS},
    {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 0, RELAY_HEAD_METRICS},
    {"GET /metrics?name[]=x HTTP/1.1\n", 0, RELAY_HEAD_METRICS},
    {"GET /metrics \n", 0, RELAY_HEAD_METRICS},
    {"GET /metrics?\r\n", 0, RELAY_HEAD_METRICS},
    {"GET /metrics\r\n", 0, RELAY_HEAD_FORWARD}, /* no space or '?' after the path */
    {"GET /metrics\n", 0, RELAY_HEAD_FORWARD},
    {"GET /metrics\r\r\n", 0, RELAY_HEAD_FORWARD},
    {"GET /metricsz HTTP/1.1\r\n", 0, RELAY_HEAD_FORWARD},
    {"GET /metrics/x HTTP/1.1\r\n", 0, RELAY_HEAD_FORWARD},
    {"get /metrics HTTP/1.1\r\n", 0, RELAY_HEAD_FORWARD},
    {"HEAD /metrics HTTP/1.1\r\n", 0, RELAY_HEAD_FORWARD},
    {" GET /metrics HTTP/1.1\r\n", 0, RELAY_HEAD_FORWARD},
    {"GET  /metrics HTTP/1.1\r\n", 0, RELAY_HEAD_FORWARD},
    {"GET /metr\0cs HTTP/1.1\r\n", 23, RELAY_HEAD_FORWARD},
    {"GET /metrics\0HTTP/1.1\r\n", 23, RELAY_HEAD_FORWARD},
    {"GET /metrics\0", 13, RELAY_HEAD_MORE},
    {"POST /v1/transfers HTTP/1.1\r\n", 0, RELAY_HEAD_FORWARD},
    {"\n", 0, RELAY_HEAD_FORWARD},
    {"\r\n", 0, RELAY_HEAD_FORWARD},
    {"x\nGET /metrics HTTP/1.1\r\n", 0, RELAY_HEAD_FORWARD}, /* only the first line counts */
};

/* classify_exact: relay_head_classify on an allocation of exactly len bytes (ASan sees more). */
static enum relay_head_action classify_exact(const char *in, size_t len)
{
    char *b = malloc(len ? len : 1);
    memcpy(b, in, len);
    enum relay_head_action a = relay_head_classify(b, len);
    free(b);
    return a;
}

/* Every prefix of in[0..len) is "wait for more" or the action of the whole. */
static int prefixes_agree(const char *in, size_t len, enum relay_head_action whole)
{
    for (size_t k = 0; k < len; k++) {
        enum relay_head_action a = relay_head_classify(in, k);
        if (a != RELAY_HEAD_MORE && a != whole)
            return 0;
    }
    return 1;
}

static void test_head_classify(void)
{
    for (size_t i = 0; i < sizeof(head_cases) / sizeof(head_cases[0]); i++) {
        const struct head_case *c = &head_cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        enum relay_head_action a = classify_exact(c->in, len);
        if (a != c->want)
            fprintf(stderr, "head case %zu: got %d, want %d\n", i, (int)a, (int)c->want);
        CHECK_EQ_INT(a, c->want);
        CHECK(prefixes_agree(c->in, len, a));
    }
    /* The length limit: at most RELAY_HEAD_MAX bytes before the LF (a CR among them). */
    size_t big = 2 * RELAY_HEAD_MAX + 8;
    char *b = malloc(big);
    memset(b, 'A', big);
    CHECK_EQ_INT(classify_exact(b, RELAY_HEAD_MAX), RELAY_HEAD_MORE);
    CHECK_EQ_INT(classify_exact(b, RELAY_HEAD_MAX + 1), RELAY_HEAD_TOO_LONG);
    CHECK_EQ_INT(classify_exact(b, big), RELAY_HEAD_TOO_LONG);
    b[RELAY_HEAD_MAX] = '\n'; /* RELAY_HEAD_MAX bytes, then the LF */
    CHECK_EQ_INT(classify_exact(b, RELAY_HEAD_MAX + 1), RELAY_HEAD_FORWARD);
    CHECK_EQ_INT(classify_exact(b, big), RELAY_HEAD_FORWARD);
    b[RELAY_HEAD_MAX - 1] = '\r'; /* ... the CR among them */
    CHECK_EQ_INT(classify_exact(b, big), RELAY_HEAD_FORWARD);
    memcpy(b, "GET /metrics ", 13);
    CHECK_EQ_INT(classify_exact(b, big), RELAY_HEAD_METRICS);
    CHECK(prefixes_agree(b, big, RELAY_HEAD_METRICS));
    b[RELAY_HEAD_MAX] = 'A';
    b[RELAY_HEAD_MAX + 1] = '\n'; /* one byte more before the LF: too long, even in one read */
    CHECK_EQ_INT(classify_exact(b, RELAY_HEAD_MAX + 1), RELAY_HEAD_TOO_LONG);
    CHECK_EQ_INT(classify_exact(b, RELAY_HEAD_MAX + 2), RELAY_HEAD_TOO_LONG);
    CHECK_EQ_INT(classify_exact(b, big), RELAY_HEAD_TOO_LONG);
    CHECK(prefixes_agree(b, big, RELAY_HEAD_TOO_LONG));
    free(b);
}

/* post_503: sends a request through the relay at port and returns whether the answer is a 503
 * whose reason contains want. */
static int post_503(uint16_t port, const char *want)
{
    static char buf[8192];
    static const char post[] =
        "POST /v1/transfers HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    int fd = dial(port);
    if (fd < 0)
        return 0;
    raw_sock_send(fd, post, sizeof(post) - 1);
    read_all(fd, buf, sizeof(buf));
    close(fd);
    int ok = strncmp(buf, "HTTP/1.1 503 ", 13) == 0 && strstr(buf, want) != NULL;
    if (!ok)
        fprintf(stderr, "post_503: want \"%s\", got: %.300s\n", want, buf);
    return ok;
}

/* A holder that reads one request head, says so on a pipe, then reads until the relay closes:
 * got_eof 1 when that came (EOF or a reset) within the 30 s bound. */
struct hold_arg {
    int lfd, said[2], got_eof;
};

static void *hold_main(void *arg)
{
    struct hold_arg *h = arg;
    int fd = accept(h->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    size_t n = 0;
    for (ssize_t r; n < sizeof(buf) - 1 && (r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0)) > 0;) {
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL)
            break;
    }
    (void)!write(h->said[1], "h", 1);
    ssize_t r;
    while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
        ;
    h->got_eof = r == 0 || errno == ECONNRESET;
    close(fd);
    return NULL;
}

/* A holder that answers a request with far more than the buffers between it and a client that
 * never reads: its write blocks until the relay ends the pair. send_err: the failed send's errno
 * (EPIPE or ECONNRESET when the relay let go; EAGAIN when the 30 s bound ran out). */
struct flood_arg {
    int lfd, send_err;
};

static void *flood_main(void *arg)
{
    struct flood_arg *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    size_t chunk = 1u << 20;
    char *b = malloc(chunk);
    memset(b, 'f', chunk);
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n";
    f->send_err = 0;
    if (send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL) < 0)
        f->send_err = errno;
    for (unsigned i = 0; i < 1024 && f->send_err == 0; i++)
        if (send(fd, b, chunk, MSG_NOSIGNAL) < 0)
            f->send_err = errno;
    free(b);
    close(fd);
    return NULL;
}

/* wait_readable: waits (bounded by 30 s against a hang) until fd has something to read. */
static int wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 30000) == 1;
}

/* A relay on a wildcard address: a loopback holder is refused (it serves loopback clients only),
 * loopback at the relay's own port is the relay itself. */
static void test_targets(void)
{
    int err = 0;
    struct relay_opts o = {.listen = "0.0.0.0:0", .max_conns = 16};
    struct relay *r = relay_new(&o, &err);
    CHECK(r != NULL);
    if (r == NULL)
        return;
    uint16_t port = relay_port(r);
    int dfd = -1;
    uint16_t other = dead_port(&dfd);
    char target[32];
    snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)other);
    CHECK_EQ_INT(relay_target(r, target), 0);
    CHECK(post_503(port, "advertises a loopback address"));
    snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)port);
    CHECK_EQ_INT(relay_target(r, target), 0);
    CHECK(post_503(port, "this instance's own address"));
    relay_free(r);
    close(dfd);

    /* --cluster-advertise names the relay's own API: the same refusal, by name. */
    o.listen = "127.0.0.1:0";
    o.advertise = "relay.example:7001";
    r = relay_new(&o, &err);
    CHECK(r != NULL);
    if (r == NULL)
        return;
    CHECK_EQ_INT(relay_target(r, "relay.example:7001"), 0); /* not resolved: refused by name */
    CHECK(post_503(relay_port(r), "this instance's own address"));
    relay_free(r);
}

/* A first line that trickles in one byte at a time is closed at its deadline from the accept
 * (a read timeout alone would restart at every byte); a client that never reads ends its pair
 * once the relay's write to it makes no progress for write_ms. */
static void test_deadlines(void)
{
    int err = 0;
    struct relay_opts o = {
        .listen = "127.0.0.1:0", .max_conns = 16, .head_ms = 300, .write_ms = 300};
    struct relay *r = relay_new(&o, &err);
    CHECK(r != NULL);
    if (r == NULL)
        return;
    uint16_t port = relay_port(r);
    int fd = dial(port);
    int closed = 0;
    /* At most 3,000 bytes, one every 10 ms at best: 30 s at least, 100 times the deadline. */
    for (unsigned i = 0; i < 3000 && !closed; i++) {
        if (send(fd, "A", 1, MSG_NOSIGNAL) != 1) {
            closed = 1;
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10) == 1) {
            char c;
            closed = recv(fd, &c, 1, 0) <= 0;
        }
    }
    close(fd);
    CHECK(closed);

    int lfd = -1;
    uint16_t hport = listener(&lfd);
    struct flood_arg f = {.lfd = lfd, .send_err = -1};
    pthread_t th;
    pthread_create(&th, NULL, flood_main, &f);
    char target[32];
    snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)hport);
    CHECK_EQ_INT(relay_target(r, target), 0);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    static const char get[] = "GET /v1/transfers/1 HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(raw_sock_send(fd, get, sizeof(get) - 1) == 0);
    pthread_join(th, NULL); /* never reading fd: the relay must let the holder go */
    CHECK(f.send_err == EPIPE || f.send_err == ECONNRESET);
    if (f.send_err != EPIPE && f.send_err != ECONNRESET)
        fprintf(stderr, "flood: send_err=%d\n", f.send_err);
    close(fd);
    close(lfd);
    relay_free(r);
}

static void test_relay(void)
{
    int err = 0;
    struct relay_opts bad = {.listen = "not an address", .max_conns = 16};
    CHECK(relay_new(&bad, &err) == NULL);
    CHECK_EQ_INT(err, NF_ECONFIG);
    struct relay_opts o = {.listen = "127.0.0.1:0", .max_conns = 16};
    struct relay *r = relay_new(&o, &err);
    CHECK(r != NULL);
    if (r == NULL)
        return;
    uint16_t port = relay_port(r);
    CHECK(port != 0);
    static char buf[BIG + 8192];
    static const char post[] =
        "POST /v1/transfers HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";

    /* No holder known: 503, Retry-After, a JSON reason; nothing forwarded. */
    int fd = dial(port);
    CHECK(raw_sock_send(fd, post, sizeof(post) - 1) == 0);
    read_all(fd, buf, sizeof(buf));
    close(fd);
    CHECK(strncmp(buf, "HTTP/1.1 503 ", 13) == 0);
    CHECK(strstr(buf, "\r\nRetry-After: 1\r\n") != NULL);
    CHECK(strstr(buf, "\"reason\":\"no instance of the cluster holds the log") != NULL);

    /* A holder that does not answer (a port nobody listens on). */
    int lfd = -1, dfd = -1;
    uint16_t dead = dead_port(&dfd);
    char target[32];
    snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)dead);
    CHECK_EQ_INT(relay_target(r, target), 0);
    fd = dial(port);
    CHECK(raw_sock_send(fd, post, sizeof(post) - 1) == 0);
    read_all(fd, buf, sizeof(buf));
    close(fd);
    CHECK(strncmp(buf, "HTTP/1.1 503 ", 13) == 0);
    CHECK(strstr(buf, "did not answer") != NULL);
    CHECK_EQ_INT(relay_target(r, "nohost"), NF_ECONFIG);
    /* Its own address (a holder restarted in place finds the lease still naming it). */
    snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)port);
    CHECK_EQ_INT(relay_target(r, target), 0);
    CHECK(post_503(port, "this instance's own address"));
    snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)dead);
    CHECK_EQ_INT(relay_target(r, target), 0);

    /* A holder: a 1 MiB body goes up, a 1 MiB answer comes down, both whole. */
    uint16_t hport = listener(&lfd);
    CHECK(hport != 0);
    pthread_t th;
    pthread_create(&th, NULL, holder_main, &lfd);
    snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)hport);
    CHECK_EQ_INT(relay_target(r, target), 0);
    fd = dial(port);
    char head[128];
    int hl = snprintf(head, sizeof(head),
                      "POST /v1/transfers HTTP/1.1\r\nHost: x\r\nContent-Length: %u\r\n\r\n", BIG);
    char *body = malloc(BIG);
    memset(body, 'b', BIG);
    CHECK(raw_sock_send(fd, head, (size_t)hl) == 0);
    CHECK(raw_sock_send(fd, body, BIG) == 0);
    size_t n = read_all(fd, buf, sizeof(buf));
    close(fd);
    pthread_join(th, NULL);
    close(lfd);
    free(body);
    char *at = strstr(buf, "\r\n\r\n");
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(at != NULL && n - (size_t)(at + 4 - buf) == BIG);
    char want[32];
    snprintf(want, sizeof(want), "got=%u;", BIG);
    CHECK(at != NULL && strncmp(at + 4, want, strlen(want)) == 0);

    /* GET /metrics as a connection's first request: the relay's own figures. */
    fd = dial(port);
    static const char get[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(raw_sock_send(fd, get, sizeof(get) - 1) == 0);
    read_all(fd, buf, sizeof(buf));
    close(fd);
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(buf, "\nnearft_cluster_standby 1\n") != NULL);
    CHECK(strstr(buf, "\nnearft_relay_connections_total 1\n") != NULL);
    /* One with none known, one naming the relay itself. */
    CHECK(strstr(buf, "nearft_relay_refused_total{reason=\"no_holder\"} 2\n") != NULL);
    CHECK(strstr(buf, "\nnearft_relay_open_connections ") != NULL);
    CHECK(strstr(buf, "nearft_relay_refused_total{reason=\"unreachable\"} 1\n") != NULL);

    /* A first line of RELAY_HEAD_MAX + 1 bytes without an LF: 400, nothing forwarded. One of
     * RELAY_HEAD_MAX bytes and its LF is passed on (to the holder, gone by now: 503). */
    char *line = malloc(RELAY_HEAD_MAX + 1);
    memset(line, 'A', RELAY_HEAD_MAX + 1);
    fd = dial(port);
    CHECK(raw_sock_send(fd, line, RELAY_HEAD_MAX + 1) == 0);
    read_all(fd, buf, sizeof(buf));
    close(fd);
    CHECK(strncmp(buf, "HTTP/1.1 400 ", 13) == 0);
    CHECK(strstr(buf, "\"reason\":\"request line too long\"") != NULL);
    line[RELAY_HEAD_MAX] = '\n';
    fd = dial(port);
    CHECK(raw_sock_send(fd, line, RELAY_HEAD_MAX + 1) == 0);
    read_all(fd, buf, sizeof(buf));
    close(fd);
    CHECK(strncmp(buf, "HTTP/1.1 503 ", 13) == 0);
    CHECK(strstr(buf, "did not answer") != NULL);
    free(line);

    /* relay_free closes a connection still in its first line and one joined to a holder. The
     * first was accepted before the second (one listener, in order), and the second is joined
     * once the holder has its request. */
    int half = dial(port);
    CHECK(raw_sock_send(half, "GET /v1/tr", 10) == 0);
    struct hold_arg h = {.got_eof = 0};
    CHECK(pipe(h.said) == 0);
    hport = listener(&h.lfd);
    pthread_create(&th, NULL, hold_main, &h);
    snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)hport);
    CHECK_EQ_INT(relay_target(r, target), 0);
    fd = dial(port);
    static const char get2[] = "GET /v1/transfers/1 HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(raw_sock_send(fd, get2, sizeof(get2) - 1) == 0);
    CHECK(wait_readable(h.said[0]));
    relay_free(r);
    CHECK(recv(fd, buf, sizeof(buf), 0) <= 0);
    CHECK(recv(half, buf, sizeof(buf), 0) <= 0);
    pthread_join(th, NULL);
    CHECK(h.got_eof);
    close(fd);
    close(half);
    close(h.lfd);
    close(h.said[0]);
    close(h.said[1]);
    close(dfd);
    int again = dial(port);
    CHECK(again < 0); /* the port is free again: nothing listens */
    if (again >= 0)
        close(again);
}

int main(void)
{
    test_advertise();
    test_head_classify();
    test_relay();
    test_targets();
    test_deadlines();
    return nf_test_report("test_relay");
}
