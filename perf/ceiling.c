/* ceiling: the bare evhttp server the ingest stage is measured against. It uses nearftd's ingest
 * threading model (N threads, each with its own event_base and evhttp on its own SO_REUSEPORT
 * listening socket bound to one port) and answers every POST with 202 {"id":"1","status":"queued"}
 * without reading the body, so `wrk` against it gives the ceiling of "HTTP in, 202 out" on this
 * machine. Other methods get 405. Runs until SIGINT/SIGTERM; the main thread only waits for the
 * signal and then stops the workers.
 *
 * Usage: ceiling [--listen HOST:PORT] [--threads N]   (defaults 127.0.0.1:8088, 2) */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define CEILING_MAX_THREADS 64

static const char ceiling_body[] = "{\"id\":\"1\",\"status\":\"queued\"}";

struct ceiling_thread {
    unsigned idx;
    int listen_fd;
    int stop_fd;
    pthread_t tid;
    struct event_base *base;
    struct evhttp *http;
    struct event *stop_ev;
};

static void ceiling_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_send_reply(req, 405, "Method Not Allowed", NULL);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add_reference(evhttp_request_get_output_buffer(req), ceiling_body,
                           sizeof(ceiling_body) - 1, NULL, NULL);
    evhttp_send_reply(req, 202, "Accepted", NULL);
}

static void ceiling_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ceiling_thread *t = arg;
    event_base_loopbreak(t->base);
}

static void *ceiling_main(void *arg)
{
    struct ceiling_thread *t = arg;
    char name[16];
    snprintf(name, sizeof(name), "ceiling-%u", t->idx);
    pthread_setname_np(pthread_self(), name);
    event_base_dispatch(t->base);
    return NULL;
}

static int ceiling_listen(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1 ||
        bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1 || listen(fd, 4096) == -1) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int ceiling_parse_listen(const char *s, struct sockaddr_in *sa)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon - s >= 64)
        return -1;
    char host[64];
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port > 65535)
        return -1;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &sa->sin_addr) != 1)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen_addr = "127.0.0.1:8088";
    unsigned long threads = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_addr = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end = NULL;
            threads = strtoul(argv[++i], &end, 10);
            if (*end != '\0' || threads == 0 || threads > CEILING_MAX_THREADS) {
                fprintf(stderr, "ceiling: --threads must be 1..%d\n", CEILING_MAX_THREADS);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: ceiling [--listen HOST:PORT] [--threads N]\n");
            return 2;
        }
    }
    struct sockaddr_in sa;
    if (ceiling_parse_listen(listen_addr, &sa) != 0) {
        fprintf(stderr, "ceiling: bad --listen %s (want IPv4:PORT)\n", listen_addr);
        return 2;
    }

    /* Block the stop signals in every thread; the main thread takes them with sigwait. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    static struct ceiling_thread th[CEILING_MAX_THREADS];
    for (unsigned i = 0; i < threads; i++) {
        struct ceiling_thread *t = &th[i];
        t->idx = i;
        t->listen_fd = ceiling_listen(&sa);
        if (t->listen_fd == -1) {
            fprintf(stderr, "ceiling: listen %s: %s\n", listen_addr, strerror(errno));
            return 1;
        }
        if (i == 0 && sa.sin_port == 0) {
            socklen_t sl = sizeof(sa);
            getsockname(t->listen_fd, (struct sockaddr *)&sa, &sl);
        }
        t->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        t->base = event_base_new();
        t->http = t->base ? evhttp_new(t->base) : NULL;
        if (t->stop_fd == -1 || t->http == NULL) {
            fprintf(stderr, "ceiling: out of resources\n");
            return 1;
        }
        evhttp_set_gencb(t->http, ceiling_request, t);
        evhttp_set_allowed_methods(t->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                                EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
        if (evhttp_accept_socket_with_handle(t->http, t->listen_fd) == NULL) {
            fprintf(stderr, "ceiling: evhttp_accept_socket failed\n");
            return 1;
        }
        t->stop_ev = event_new(t->base, t->stop_fd, EV_READ, ceiling_stop_cb, t);
        event_add(t->stop_ev, NULL);
    }
    printf("ceiling: listening on %s port %u with %lu threads\n", listen_addr,
           (unsigned)ntohs(sa.sin_port), threads);
    fflush(stdout);
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&th[i].tid, NULL, ceiling_main, &th[i]) != 0) {
            fprintf(stderr, "ceiling: pthread_create failed\n");
            return 1;
        }
    }
    int sig = 0;
    sigwait(&stop_set, &sig);
    for (unsigned i = 0; i < threads; i++) {
        uint64_t one = 1;
        if (write(th[i].stop_fd, &one, sizeof(one)) == -1)
            perror("ceiling: stop");
    }
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(th[i].tid, NULL);
        event_free(th[i].stop_ev);
        evhttp_free(th[i].http); /* closes the listening socket and every connection */
        event_base_free(th[i].base);
        close(th[i].stop_fd);
    }
    return 0;
}
