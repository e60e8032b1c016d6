/* test_service: the watchdog's definition of alive, against a stand-in for nearftd's listener and
 * a unix datagram socket standing in for systemd. Without WATCHDOG_USEC no watchdog starts. With
 * it, pings arrive while the listener answers /health; once the listener goes silent, no ping
 * follows a probe it left unanswered (checked by counting probes, not by waiting); the pings come
 * back when it answers again; none follows STOPPING=1. The listener is named as 0.0.0.0:0, so the
 * wildcard is probed on loopback. No sleeps: every wait ends on an event, with a generous bound. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include "nearftd/service.h"
#include "nf_test.h"

#define WAIT_LIMIT_S 120

static int listen_fd, sink_fd;
static _Atomic int silent;   /* 1: read requests, never answer */
static _Atomic int answered; /* requests answered */
static _Atomic int ignored;  /* requests left unanswered */
static _Atomic int stop_server;

/* server: one thread, poll over the listener and its connections; answers "GET /health" with
 * 200 unless silent. */
static void *server(void *arg)
{
    (void)arg;
    struct pollfd p[16];
    int n = 1;
    p[0] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
    while (!atomic_load(&stop_server)) {
        if (poll(p, (nfds_t)n, 50) <= 0)
            continue;
        if ((p[0].revents & POLLIN) && n < 16) {
            int c = accept(listen_fd, NULL, NULL);
            if (c != -1)
                p[n++] = (struct pollfd){.fd = c, .events = POLLIN};
        }
        for (int i = 1; i < n; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[2048];
            ssize_t len = read(p[i].fd, buf, sizeof(buf));
            if (len <= 0) {
                close(p[i].fd);
                p[i--] = p[--n];
                continue;
            }
            if (atomic_load(&silent)) {
                atomic_fetch_add(&ignored, 1);
                continue;
            }
            /* Counted before the answer goes out: the ping it allows may arrive before write
             * returns here. */
            atomic_fetch_add(&answered, 1);
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            if (write(p[i].fd, ok, sizeof(ok) - 1) != (ssize_t)sizeof(ok) - 1)
                fprintf(stderr, "test_service: short write to the probe\n");
        }
    }
    for (int i = 1; i < n; i++)
        close(p[i].fd);
    return NULL;
}

/* next_msg: the next datagram for the sink into buf; 0, or -1 when none came within ms. */
static int next_msg(char *buf, size_t cap, int ms)
{
    struct pollfd p = {.fd = sink_fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return -1;
    ssize_t len = recv(sink_fd, buf, cap - 1, 0);
    if (len < 0)
        return -1;
    buf[len] = '\0';
    return 0;
}

/* drain: reads every datagram queued now; counts WATCHDOG=1 and "not pinging" STATUS lines. */
static void drain(int *pings, int *not_pinging)
{
    char buf[1024];
    while (next_msg(buf, sizeof(buf), 0) == 0) {
        if (strcmp(buf, "WATCHDOG=1") == 0)
            (*pings)++;
        if (strstr(buf, "STATUS=not pinging") != NULL)
            (*not_pinging)++;
    }
}

static time_t deadline(void)
{
    return time(NULL) + WAIT_LIMIT_S;
}

/* wait_pings: reads datagrams until want WATCHDOG=1 arrived; 1 on success. */
static int wait_pings(int want)
{
    char buf[1024];
    int got = 0;
    time_t until = deadline();
    while (got < want && time(NULL) < until)
        if (next_msg(buf, sizeof(buf), 1000) == 0 && strcmp(buf, "WATCHDOG=1") == 0)
            got++;
    return got >= want;
}

/* wait_count: until *v >= want (the server counts requests); 1 on success. */
static int wait_count(_Atomic int *v, int want)
{
    time_t until = deadline();
    while (atomic_load(v) < want && time(NULL) < until) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(v) >= want;
}

int main(void)
{
    char dir[] = "/tmp/nf-service-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char sock[64];
    snprintf(sock, sizeof(sock), "%s/notify", dir);
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    snprintf(su.sun_path, sizeof(su.sun_path), "%s", sock);
    sink_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(sink_fd != -1 && bind(sink_fd, (struct sockaddr *)&su, sizeof(su)) == 0);
    setenv("NOTIFY_SOCKET", sock, 1);

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in si = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(si);
    CHECK(bind(listen_fd, (struct sockaddr *)&si, sizeof(si)) == 0 && listen(listen_fd, 16) == 0 &&
          getsockname(listen_fd, (struct sockaddr *)&si, &sl) == 0);
    unsigned port = ntohs(si.sin_port);
    pthread_t srv;
    pthread_create(&srv, NULL, server, NULL);

    /* No WATCHDOG_USEC: no watchdog. */
    int err = -1;
    unsetenv("WATCHDOG_USEC");
    CHECK(service_watchdog_start("0.0.0.0:0", port, &err) == NULL);
    CHECK_EQ_INT(err, 0);

    /* Answering: pings (every 200 ms; each probe may take 100 ms). */
    setenv("WATCHDOG_USEC", "400000", 1);
    struct service_watchdog *w = service_watchdog_start("0.0.0.0:0", port, &err);
    CHECK(w != NULL);
    CHECK(wait_pings(3));
    CHECK(atomic_load(&answered) >= 3);

    /* Silent: once a probe is left unanswered, every ping of an answered probe is already
     * queued (the thread pings before it sends its next probe); then two more unanswered
     * probes must bring no ping. */
    atomic_store(&silent, 1);
    CHECK(wait_count(&ignored, 1));
    int pings = 0, not_pinging = 0;
    drain(&pings, &not_pinging);
    CHECK(wait_count(&ignored, 3));
    pings = 0;
    drain(&pings, &not_pinging);
    CHECK_EQ_INT(pings, 0);
    CHECK(not_pinging >= 1); /* more if a probe timed out on a loaded machine earlier */

    /* Answering again: the pings come back. */
    atomic_store(&silent, 0);
    CHECK(wait_pings(2));

    /* Stopping: STOPPING=1, then nothing from the watchdog. */
    service_stopping(w);
    service_watchdog_stop(w);
    char buf[1024];
    int stopping = 0, after = 0;
    while (next_msg(buf, sizeof(buf), 0) == 0) {
        if (strncmp(buf, "STOPPING=1\n", 11) == 0)
            stopping = 1;
        else if (stopping && strcmp(buf, "WATCHDOG=1") == 0)
            after++;
    }
    CHECK_EQ_INT(stopping, 1);
    CHECK_EQ_INT(after, 0);

    atomic_store(&stop_server, 1);
    pthread_join(srv, NULL);
    close(listen_fd);
    close(sink_fd);
    unlink(sock);
    rmdir(dir);
    return nf_test_report("test_service");
}
