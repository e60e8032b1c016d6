/* service: the notify protocol towards the service manager (see service.h). The main thread sends
 * READY/STOPPING/STATUS; one watchdog thread, owned by main from service_watchdog_start to
 * service_watchdog_stop, owns a curl handle that probes nearftd's own GET /health and sends
 * WATCHDOG=1 after each answered probe. Nothing here touches the pipeline's state directly. */
#include "service.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "nf_err.h"
#include "nf_log.h"
#include "nf_time.h"

int service_listen_fd(char *addr, size_t cap, char *why, size_t whycap)
{
    int n = sd_listen_fds(1);
    if (n == 0)
        return -1;
    if (n < 0) {
        snprintf(why, whycap, "LISTEN_FDS does not parse (%s)", strerror(-n));
        return NF_ECONFIG;
    }
    if (n > 1) {
        snprintf(why, whycap, "the service manager passed %d sockets; nearftd serves one", n);
        return NF_ECONFIG;
    }
    int fd = SD_LISTEN_FDS_START;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN];
    if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
        snprintf(why, whycap,
                 "the socket the service manager passed is not a listening TCP "
                 "socket (ListenStream= in the .socket unit)");
        return NF_ECONFIG;
    }
    unsigned port;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
        snprintf(addr, cap, "%s:%u", host, port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        snprintf(addr, cap, "[%s]:%u", host, port);
    }
    return fd;
}

void service_status(const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    for (char *c = text; *c; c++)
        if (*c == '\n')
            *c = ' ';
    sd_notifyf(0, "STATUS=%s", text);
}

#define SERVICE_STANDBY_EVERY_MS  10000u
#define SERVICE_STANDBY_EXTEND_US 60000000ull /* 6 ticks: a late tick does not end the start */

void service_standby(void)
{
    static uint64_t last_ms; /* start-up thread only */
    uint64_t now = nf_mono_ms();
    if (last_ms != 0 && now - last_ms < SERVICE_STANDBY_EVERY_MS)
        return;
    last_ms = now;
    sd_notifyf(0,
               "STATUS=standby: the cluster log's lease is held by another instance\n"
               "EXTEND_TIMEOUT_USEC=%llu",
               SERVICE_STANDBY_EXTEND_US);
}

void service_ready(const char *listen, unsigned port)
{
    sd_notifyf(0, "READY=1\nSTATUS=ready: serving %s (port %u)", listen, port);
}

struct service_watchdog {
    pthread_t thread;
    int stop_fd;          /* eventfd: main writes once to stop the thread */
    uint64_t interval_us; /* WATCHDOG_USEC / 2 */
    char url[320];
    /* lock orders STOPPING=1 and the pings: once main has sent STOPPING=1 under it (stopping
     * set), the thread sends no more WATCHDOG=1. Neither side holds it for more than one send. */
    pthread_mutex_t lock;
    int stopping;
};

void service_stopping(struct service_watchdog *w)
{
    if (w != NULL)
        pthread_mutex_lock(&w->lock);
    sd_notify(0, "STOPPING=1\nSTATUS=stopping: draining in-flight transactions");
    if (w != NULL) {
        w->stopping = 1;
        pthread_mutex_unlock(&w->lock);
    }
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * n;
}

/* probe: 1 when GET /health answered 200 or 503 within timeout_ms. Watchdog thread. */
static int probe(CURL *h, long timeout_ms)
{
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    return cc == CURLE_OK && (code == 200 || code == 503);
}

static void *watchdog_main(void *arg)
{
    struct service_watchdog *w = arg;
    log_set_thread("watchdog");
    CURL *h = curl_easy_init();
    if (h == NULL) {
        NF_LOG(NF_LOG_ERROR, "service", "watchdog: cannot create a curl handle: no pings");
        return NULL;
    }
    curl_easy_setopt(h, CURLOPT_URL, w->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    /* An answer within half a ping interval keeps the longest gap between two pings under 3/4 of
     * the manager's timeout. */
    long timeout_ms = (long)(w->interval_us / 2000u);
    if (timeout_ms < 100)
        timeout_ms = 100;
    int was_alive = 1;
    uint64_t next = mono_us();
    for (;;) {
        if (probe(h, timeout_ms)) {
            pthread_mutex_lock(&w->lock);
            if (!w->stopping)
                sd_notify(0, "WATCHDOG=1");
            pthread_mutex_unlock(&w->lock);
            if (!was_alive)
                NF_LOG(NF_LOG_INFO, "service", "watchdog: /health answers again, pinging");
            was_alive = 1;
        } else if (was_alive) {
            NF_LOG(NF_LOG_WARN, "service",
                   "watchdog: own GET /health did not answer, not pinging url=%s", w->url);
            service_status("not pinging the watchdog: GET /health does not answer");
            was_alive = 0;
        }
        next += w->interval_us;
        uint64_t now = mono_us();
        int wait_ms = next > now ? (int)((next - now + 999) / 1000) : 0;
        if (next < now)
            next = now;
        struct pollfd pfd = {.fd = w->stop_fd, .events = POLLIN};
        int pr = poll(&pfd, 1, wait_ms);
        if (pr > 0)
            break;
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* probe_url: http://HOST:PORT/health for the listener; a wildcard host becomes loopback. */
static void probe_url(const char *listen, unsigned port, char *out, size_t cap)
{
    const char *colon = strrchr(listen, ':');
    size_t hl = colon ? (size_t)(colon - listen) : strlen(listen);
    char host[256];
    if (hl >= sizeof(host))
        hl = sizeof(host) - 1;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    const char *h = host;
    if (hl == 0 || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        h = "127.0.0.1";
    else if (strcmp(host, "[::]") == 0 || strcmp(host, "::") == 0)
        h = "[::1]";
    snprintf(out, cap, "http://%s:%u/health", h, port);
}

struct service_watchdog *service_watchdog_start(const char *listen, unsigned port, int *err)
{
    *err = 0;
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return NULL;
    struct service_watchdog *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        *err = NF_ENOMEM;
        return NULL;
    }
    w->interval_us = usec / 2;
    pthread_mutex_init(&w->lock, NULL);
    probe_url(listen, port, w->url, sizeof(w->url));
    w->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (w->stop_fd == -1) {
        *err = NF_EIO;
        goto fail;
    }
    int rc = pthread_create(&w->thread, NULL, watchdog_main, w);
    if (rc != 0) {
        *err = NF_ENOMEM;
        goto fail_fd;
    }
    NF_LOG(NF_LOG_INFO, "service", "watchdog: pinging every %llu ms while %s answers",
           (unsigned long long)(w->interval_us / 1000u), w->url);
    return w;
fail_fd:
    close(w->stop_fd);
fail:
    pthread_mutex_destroy(&w->lock);
    free(w);
    return NULL;
}

void service_watchdog_stop(struct service_watchdog *w)
{
    if (w == NULL)
        return;
    uint64_t one = 1;
    while (write(w->stop_fd, &one, sizeof(one)) == -1 && errno == EINTR)
        ;
    pthread_join(w->thread, NULL);
    close(w->stop_fd);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
