/* hsrv: the ingest stage's HTTP/1.1 wire (see hsrv.h). One accept event on the thread's
 * SO_REUSEPORT socket; per connection one persistent read event, one write event armed only while
 * an answer is pending, a fixed read buffer and the parsed head of the request being served.
 * Request heads and chunked bodies are parsed by the pure functions in http_parse.c. */
#include "hsrv.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http_parse.h"
#include "nf_err.h"
#include "nf_log.h"

#define HSRV_INLINE       4096          /* a connection's own read buffer */
#define HSRV_ACCEPT_BATCH 64            /* accepts per listener wake */
#define HSRV_CHUNK_SLACK  (64u * 1024u) /* chunk-size lines a chunked body may add */
#define HSRV_CLOSING_MS   2000 /* a connection draining after an error answer is closed after */

enum hsrv_state {
    HSRV_FREE = 0,
    HSRV_READ,    /* reading or parsing a request */
    HSRV_HELD,    /* a request was handed out and is not answered yet */
    HSRV_CLOSING, /* an error was answered; the write side is shut, reads are discarded */
};

struct hsrv_conn {
    struct hsrv *s;
    int fd;
    uint32_t idx;
    uint32_t gen; /* bumped at each answer and each close: stale refs are refused */
    uint8_t state;
    uint8_t in_dispatch; /* on_request is running */
    uint8_t replied;     /* answered during on_request */
    uint8_t held;        /* hsrv_hold during on_request */
    uint8_t head_ok;     /* c->head is the current request's */
    uint8_t sent_continue;
    uint8_t close_after; /* close once the pending answer is written */
    uint8_t read_off;    /* read event removed: buffer full while a request is held */
    uint8_t write_on;    /* write event armed */
    char *inl;           /* own buffer, HSRV_INLINE bytes */
    char *buf;           /* inl or a pool buffer */
    size_t cap, len;
    int big;              /* pool index or -1 */
    size_t req_len;       /* bytes of the served request, once complete */
    void *cookie;         /* held request's cookie */
    struct evbuffer *out; /* answer bytes the socket did not take yet (created on first need) */
    struct event *rev, *wev;
    uint64_t last_ns;
    struct ingest_http_head head;
    struct ingest_chunk_state chunk; /* a chunked body's progress (reset with each head) */
};

struct hsrv {
    struct event_base *base;
    struct hsrv_opts o;
    int listen_fd;
    uint8_t accept_paused;
    struct event *accept_ev;
    struct event *sweep_ev;
    struct hsrv_conn *conns;
    uint32_t nconns;
    uint32_t *free_stack;
    uint32_t nfree;
    char *inl_mem;
    char *ev_mem;
    /* Large buffers: allocated on first need, then reused. */
    char **big;
    uint32_t *big_free;
    uint32_t nbig_free, nbig_made;
    size_t big_size;
    char date[40]; /* "Date: ...\r\n" */
};

static uint64_t hsrv_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void hsrv_set_date(struct hsrv *s)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    if (strftime(s->date, sizeof(s->date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm) == 0)
        s->date[0] = '\0';
}

static void hsrv_conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void hsrv_conn_write_cb(evutil_socket_t fd, short what, void *arg);
static void hsrv_process(struct hsrv_conn *c);

/* ---- buffers --------------------------------------------------------------------------------- */

static void hsrv_big_release(struct hsrv_conn *c)
{
    if (c->big < 0)
        return;
    struct hsrv *s = c->s;
    s->big_free[s->nbig_free++] = (uint32_t)c->big;
    c->big = -1;
    c->buf = c->inl;
    c->cap = HSRV_INLINE;
}

/* Moves the connection's bytes into a pool buffer. 0 or NF_EFULL (pool exhausted). */
static int hsrv_big_take(struct hsrv_conn *c)
{
    struct hsrv *s = c->s;
    if (c->big >= 0)
        return NF_EFULL; /* already at the largest size */
    uint32_t i;
    if (s->nbig_free > 0) {
        i = s->big_free[--s->nbig_free];
    } else if (s->nbig_made < s->o.big_bufs) {
        char *b = malloc(s->big_size);
        if (b == NULL)
            return NF_EFULL;
        i = s->nbig_made++;
        s->big[i] = b;
    } else {
        return NF_EFULL;
    }
    memcpy(s->big[i], c->buf, c->len);
    c->big = (int)i;
    c->buf = s->big[i];
    c->cap = s->big_size;
    return 0;
}

/* ---- connection life ------------------------------------------------------------------------- */

static void hsrv_accept_resume(struct hsrv *s)
{
    if (s->accept_paused && s->accept_ev != NULL && s->listen_fd != -1) {
        if (event_add(s->accept_ev, NULL) == 0)
            s->accept_paused = 0;
    }
}

static void hsrv_close(struct hsrv_conn *c, int gone)
{
    struct hsrv *s = c->s;
    if (c->state == HSRV_FREE)
        return;
    int was_held = c->state == HSRV_HELD;
    void *cookie = c->cookie;
    event_del(c->rev);
    event_del(c->wev);
    close(c->fd);
    c->fd = -1;
    hsrv_big_release(c);
    if (c->out != NULL)
        evbuffer_drain(c->out, evbuffer_get_length(c->out));
    c->state = HSRV_FREE;
    c->gen++;
    c->cookie = NULL;
    c->len = 0;
    c->head_ok = 0;
    c->write_on = 0;
    c->read_off = 0;
    c->close_after = 0;
    s->free_stack[s->nfree++] = c->idx;
    hsrv_accept_resume(s);
    if (was_held && gone && s->o.on_gone != NULL)
        s->o.on_gone(cookie, s->o.arg);
}

/* Writes head + body now; what the socket does not take waits in c->out for the write event.
 * 0, or NF_EIO when the peer is gone (the caller closes). */
static int hsrv_write(struct hsrv_conn *c, const char *head, size_t hl, const char *body, size_t bl)
{
    size_t total = hl + bl, sent = 0;
    if (c->out == NULL || evbuffer_get_length(c->out) == 0) {
        struct iovec iov[2] = {{(void *)head, hl}, {(void *)body, bl}};
        struct msghdr mh;
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = iov;
        mh.msg_iovlen = bl ? 2 : 1;
        ssize_t n;
        do
            n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (n == -1 && errno == EINTR);
        if (n == -1) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return NF_EIO;
            n = 0;
        }
        sent = (size_t)n;
        if (sent == total)
            return 0;
    }
    if (c->out == NULL) {
        c->out = evbuffer_new();
        if (c->out == NULL)
            return NF_EIO;
    }
    int rc = 0;
    if (sent < hl)
        rc |= evbuffer_add(c->out, head + sent, hl - sent);
    size_t boff = sent > hl ? sent - hl : 0;
    if (bl > boff)
        rc |= evbuffer_add(c->out, body + boff, bl - boff);
    if (rc != 0)
        return NF_EIO;
    if (!c->write_on && event_add(c->wev, NULL) == 0)
        c->write_on = 1;
    return 0;
}

static int hsrv_pending(const struct hsrv_conn *c)
{
    return c->out != NULL && evbuffer_get_length(c->out) > 0;
}

/* After an answer: drop the served request's bytes; keep pipelined ones. */
static void hsrv_consume(struct hsrv_conn *c)
{
    size_t rest = c->len - c->req_len;
    if (rest > 0)
        memmove(c->buf, c->buf + c->req_len, rest);
    c->len = rest;
    c->req_len = 0;
    c->head_ok = 0;
    c->sent_continue = 0;
    if (c->big >= 0 && rest <= HSRV_INLINE) {
        memcpy(c->inl, c->buf, rest);
        hsrv_big_release(c);
    }
}

/* The reason phrase of every status nearftd answers with; "Status" for any other. */
static const char *hsrv_reason(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Entity";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Status";
    }
}

/* Answers a request hsrv itself refuses, then shuts the write side and drains until the client
 * closes (so the answer is not lost to a reset caused by unread bytes). */
static void hsrv_fail(struct hsrv_conn *c, int code, const char *field, const char *reason)
{
    char body[384];
    int bl;
    if (field != NULL)
        bl = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"field\":\"%s\",\"reason\":\"%s\"}",
                      code == 413   ? "request too large"
                      : code == 503 ? "overloaded"
                                    : "invalid request",
                      field, reason);
    else
        bl = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", reason);
    if (bl < 0 || (size_t)bl >= sizeof(body))
        bl = 0;
    char head[256];
    int hl =
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\n%sContent-Type: application/json\r\nContent-Length: "
                 "%d\r\n%sConnection: close\r\n\r\n",
                 code, hsrv_reason(code), c->s->date, bl, code == 503 ? "Retry-After: 1\r\n" : "");
    if (hl < 0 || (size_t)hl >= sizeof(head) ||
        hsrv_write(c, head, (size_t)hl, body, (size_t)bl) != 0) {
        hsrv_close(c, 1);
        return;
    }
    c->state = HSRV_CLOSING;
    c->last_ns = hsrv_now_ns();
    c->close_after = 1;
    c->len = 0;
    if (!hsrv_pending(c))
        shutdown(c->fd, SHUT_WR);
}

/* ---- requests -------------------------------------------------------------------------------- */

static void hsrv_dispatch(struct hsrv_conn *c, const char *body, size_t body_len)
{
    struct hsrv *s = c->s;
    struct ingest_http_head *h = &c->head;
    /* NUL-terminate the strings in place: each is followed by a delimiter inside the head. */
    char *path = c->buf + (h->path - c->buf);
    path[h->path_len] = '\0';
    char *query = NULL;
    if (h->query != NULL) {
        query = c->buf + (h->query - c->buf);
        query[h->query_len] = '\0';
    }
    char *idem = NULL;
    if (h->idem != NULL) {
        idem = c->buf + (h->idem - c->buf);
        idem[h->idem_len] = '\0';
    }
    char *authz = NULL;
    if (h->authorization != NULL) {
        authz = c->buf + (h->authorization - c->buf);
        authz[h->authorization_len] = '\0';
    }
    struct hsrv_req r = {
        .ref = {c, c->gen},
        .authorization = authz,
        .authorization_len = h->authorization_len,
        .content_type = h->content_type,
        .content_type_len = h->content_type_len,
        .origin = h->origin,
        .origin_len = h->origin_len,
        .method = h->method,
        .path = path,
        .query = query,
        .idem = idem,
        .body = body_len ? body : "",
        .body_len = body_len,
        .start_ns = hsrv_now_ns(),
        .fd = c->fd,
    };
    c->in_dispatch = 1;
    c->replied = 0;
    c->held = 0;
    s->o.on_request(&r, s->o.arg);
    if (c->state != HSRV_FREE && !c->replied && !c->held) {
        static const char oops[] = "{\"error\":\"the request was not answered\"}";
        hsrv_reply(r.ref, 500, NULL, NULL, oops, sizeof(oops) - 1, 1);
    }
    c->in_dispatch = 0;
    if (c->state == HSRV_FREE)
        return;
    hsrv_consume(c);
    if (c->held)
        c->state = HSRV_HELD;
    else if (c->close_after && !hsrv_pending(c))
        hsrv_close(c, 0);
}

static void hsrv_continue(struct hsrv_conn *c)
{
    if (!c->head.expect_continue || c->head.minor == 0 || c->sent_continue)
        return;
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    c->sent_continue = 1;
    if (hsrv_write(c, cont, sizeof(cont) - 1, NULL, 0) != 0)
        hsrv_close(c, 1);
}

/* Serves complete requests from the buffer, one at a time, while the connection is free to. */
static void hsrv_process(struct hsrv_conn *c)
{
    struct hsrv *s = c->s;
    while (c->state == HSRV_READ && !hsrv_pending(c) && c->len > 0) {
        struct ingest_http_head *h = &c->head;
        if (!c->head_ok) {
            int rc = ingest_http_head_parse(c->buf, c->len, s->o.max_head, h);
            if (rc == 0) {
                if (c->len == c->cap && hsrv_big_take(c) != 0)
                    hsrv_fail(c, 503, "connection", "no buffer free for a large request");
                return;
            }
            if (rc < 0) {
                hsrv_fail(c, h->err_status, h->err_field, h->err_reason);
                return;
            }
            c->head_ok = 1;
            c->chunk.pos = 0;
            c->chunk.total = 0;
            if (!h->chunked && h->content_length > s->o.max_body) {
                hsrv_fail(c, 413, "body", "larger than the server's max_body_bytes");
                return;
            }
        }
        const char *body;
        size_t body_len;
        if (h->chunked) {
            size_t raw = 0, blen = 0;
            int rc = ingest_http_chunked(c->buf + h->head_len, c->len - h->head_len, s->o.max_body,
                                         &c->chunk, &raw, &blen);
            if (rc == 0) {
                hsrv_continue(c);
                if (c->state == HSRV_READ && c->len == c->cap && hsrv_big_take(c) != 0)
                    hsrv_fail(c, c->big >= 0 ? 413 : 503, "body",
                              c->big >= 0 ? "chunked body larger than the server accepts"
                                          : "no buffer free for a large request");
                return;
            }
            if (rc < 0) {
                if (rc == NF_ERANGE)
                    hsrv_fail(c, 413, "body", "larger than the server's max_body_bytes");
                else
                    hsrv_fail(c, 400, "Transfer-Encoding", "malformed chunked body");
                return;
            }
            body = c->buf + h->head_len;
            body_len = blen;
            c->req_len = h->head_len + raw;
        } else {
            size_t need = h->head_len + (size_t)h->content_length;
            if (c->len < need) {
                hsrv_continue(c);
                if (c->state == HSRV_READ && need > c->cap && hsrv_big_take(c) != 0)
                    hsrv_fail(c, 503, "connection", "no buffer free for a large request");
                return;
            }
            body = c->buf + h->head_len;
            body_len = (size_t)h->content_length;
            c->req_len = need;
        }
        hsrv_dispatch(c, body, body_len);
    }
}

static void hsrv_conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct hsrv_conn *c = arg;
    if (c->state == HSRV_FREE)
        return;
    if (c->state == HSRV_CLOSING) {
        char sink[4096];
        ssize_t n = recv(fd, sink, sizeof(sink), 0);
        if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
            hsrv_close(c, 0);
        return;
    }
    if (c->len < c->cap) {
        ssize_t n = recv(fd, c->buf + c->len, c->cap - c->len, 0);
        if (n == 0) {
            hsrv_close(c, 1);
            return;
        }
        if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            hsrv_close(c, 1);
            return;
        }
        if (n > 0) {
            c->len += (size_t)n;
            c->last_ns = hsrv_now_ns();
        }
    }
    if (c->state == HSRV_HELD || hsrv_pending(c)) {
        /* Pipelined bytes wait; a full buffer stops reading until the answer is out. */
        if (c->len == c->cap && !c->read_off) {
            event_del(c->rev);
            c->read_off = 1;
        }
        return;
    }
    hsrv_process(c);
}

/* Resumes a connection after its answer: serves pipelined bytes, re-arms reading. */
static void hsrv_resume(struct hsrv_conn *c)
{
    if (c->close_after && !hsrv_pending(c)) {
        if (c->state == HSRV_CLOSING)
            shutdown(c->fd, SHUT_WR);
        else
            hsrv_close(c, 0);
        return;
    }
    if (c->read_off && c->state != HSRV_FREE) {
        if (event_add(c->rev, NULL) == 0)
            c->read_off = 0;
    }
    if (c->state == HSRV_READ && c->len > 0 && !hsrv_pending(c))
        event_active(c->rev, EV_READ, 0); /* serve what is buffered on the next pass */
}

static void hsrv_conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct hsrv_conn *c = arg;
    if (c->state == HSRV_FREE || c->out == NULL)
        return;
    while (evbuffer_get_length(c->out) > 0) {
        int n = evbuffer_write(c->out, fd);
        if (n == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            hsrv_close(c, 1);
            return;
        }
        if (n == 0)
            return;
    }
    event_del(c->wev);
    c->write_on = 0;
    hsrv_resume(c);
}

/* hsrv_cat: appends NUL-terminated t at head[len]; returns the new length, or cap when it does
 * not fit (and from then on). */
static size_t hsrv_cat(char *head, size_t cap, size_t len, const char *t)
{
    if (len >= cap)
        return cap;
    size_t n = strlen(t);
    if (n >= cap - len)
        return cap;
    memcpy(head + len, t, n);
    return len + n;
}

/* hsrv_u64: v in decimal, in buf (from its end). */
static const char *hsrv_u64(uint64_t v, char *buf, size_t cap)
{
    char *p = buf + cap - 1;
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0 && p > buf);
    return p;
}

/* hsrv_status_text: "NNN " for a three-digit code. */
static const char *hsrv_status_text(int code, char *buf, size_t cap)
{
    if (code < 100 || code > 999 || cap < 5)
        code = 500;
    buf[0] = (char)('0' + code / 100);
    buf[1] = (char)('0' + code / 10 % 10);
    buf[2] = (char)('0' + code % 10);
    buf[3] = ' ';
    buf[4] = '\0';
    return buf;
}

int hsrv_reply(struct hsrv_ref ref,
               int code,
               const char *ctype,
               const char *extra,
               const char *body,
               size_t len,
               int close_conn)
{
    struct hsrv_conn *c = ref.conn;
    if (c == NULL || c->gen != ref.gen)
        return NF_ESTATE;
    if (c->in_dispatch ? (c->replied || c->held) : c->state != HSRV_HELD)
        return NF_ESTATE;
    struct ingest_http_head *h = &c->head;
    int do_close = close_conn || !h->keep_alive;
    /* The head, assembled without printf (this runs once per request). */
    const char *reason = hsrv_reason(code);
    char head[512], num[24], status[8];
    size_t hl = hsrv_cat(head, sizeof(head), 0, "HTTP/1.1 ");
    hl = hsrv_cat(head, sizeof(head), hl, hsrv_status_text(code, status, sizeof(status)));
    hl = hsrv_cat(head, sizeof(head), hl, reason);
    hl = hsrv_cat(head, sizeof(head), hl, "\r\n");
    hl = hsrv_cat(head, sizeof(head), hl, c->s->date);
    hl = hsrv_cat(head, sizeof(head), hl, "Content-Type: ");
    hl = hsrv_cat(head, sizeof(head), hl, ctype ? ctype : "application/json");
    hl = hsrv_cat(head, sizeof(head), hl, "\r\nContent-Length: ");
    hl = hsrv_cat(head, sizeof(head), hl, hsrv_u64(len, num, sizeof(num)));
    hl = hsrv_cat(head, sizeof(head), hl, "\r\n");
    if (extra != NULL)
        hl = hsrv_cat(head, sizeof(head), hl, extra);
    hl = hsrv_cat(head, sizeof(head), hl,
                  do_close        ? "Connection: close\r\n\r\n"
                  : h->minor == 0 ? "Connection: keep-alive\r\n\r\n"
                                  : "\r\n");
    if (hl >= sizeof(head)) /* an oversized extra header: answer without it */
        hl = (size_t)snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s\r\n",
                              code, reason, len, do_close ? "Connection: close\r\n" : "");
    c->gen++;
    int rc = hsrv_write(c, head, hl, body, h->method == INGEST_HTTP_HEAD ? 0 : len);
    if (do_close)
        c->close_after = 1;
    if (c->in_dispatch) {
        c->replied = 1;
        if (rc != 0)
            hsrv_close(c, 0);
        return 0;
    }
    c->state = HSRV_READ;
    c->cookie = NULL;
    if (rc != 0) {
        hsrv_close(c, 0);
        return 0;
    }
    hsrv_resume(c);
    return 0;
}

void hsrv_hold(struct hsrv_ref ref, void *cookie)
{
    struct hsrv_conn *c = ref.conn;
    if (c == NULL || c->gen != ref.gen || !c->in_dispatch || c->replied)
        return;
    c->held = 1;
    c->cookie = cookie;
}

/* ---- listener and sweep ---------------------------------------------------------------------- */

static void hsrv_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct hsrv *s = arg;
    for (int i = 0; i < HSRV_ACCEPT_BATCH; i++) {
        if (s->nfree == 0) {
            event_del(s->accept_ev);
            s->accept_paused = 1;
            return;
        }
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd == -1) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: pause until the sweep (1 s) or a close frees one. */
                NF_LOG(NF_LOG_WARN, "ingest", "accept paused errno=%d err=\"%s\"", errno,
                       strerror(errno));
                event_del(s->accept_ev);
                s->accept_paused = 1;
            }
            return;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct hsrv_conn *c = &s->conns[s->free_stack[--s->nfree]];
        c->fd = cfd;
        c->state = HSRV_READ;
        c->len = 0;
        c->head_ok = 0;
        c->big = -1;
        c->buf = c->inl;
        c->cap = HSRV_INLINE;
        c->last_ns = hsrv_now_ns();
        if (event_assign(c->rev, s->base, cfd, EV_READ | EV_PERSIST, hsrv_conn_read_cb, c) != 0 ||
            event_assign(c->wev, s->base, cfd, EV_WRITE | EV_PERSIST, hsrv_conn_write_cb, c) != 0 ||
            event_add(c->rev, NULL) != 0) {
            hsrv_close(c, 0);
            continue;
        }
    }
}

static void hsrv_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct hsrv *s = arg;
    hsrv_set_date(s);
    uint64_t now = hsrv_now_ns();
    uint64_t idle_ns = s->o.idle_ms * 1000000u;
    for (uint32_t i = 0; i < s->nconns; i++) {
        struct hsrv_conn *c = &s->conns[i];
        if (c->state == HSRV_READ && !hsrv_pending(c) && now - c->last_ns > idle_ns)
            hsrv_close(c, 0);
        else if (c->state == HSRV_CLOSING &&
                 now - c->last_ns > (uint64_t)HSRV_CLOSING_MS * 1000000u)
            hsrv_close(c, 0);
    }
    if (s->nfree > 0)
        hsrv_accept_resume(s);
}

/* ---- set-up ---------------------------------------------------------------------------------- */

struct hsrv *hsrv_new(struct event_base *base, int listen_fd, const struct hsrv_opts *o, int *err)
{
    int rc = NF_ECONFIG;
    struct hsrv *s = NULL;
    if (o->max_conns < 1 || o->on_request == NULL || o->max_head < 256 || o->big_bufs < 1)
        goto fail;
    rc = NF_ENOMEM;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto fail;
    s->base = base;
    s->o = *o;
    s->listen_fd = -1;
    s->nconns = o->max_conns;
    s->big_size = o->max_head + o->max_body + HSRV_CHUNK_SLACK;
    size_t evsz = event_get_struct_event_size();
    s->conns = calloc(s->nconns, sizeof(*s->conns));
    s->free_stack = calloc(s->nconns, sizeof(*s->free_stack));
    s->inl_mem = malloc((size_t)s->nconns * HSRV_INLINE);
    s->ev_mem = calloc((size_t)s->nconns * 2u, evsz);
    s->big = calloc(o->big_bufs, sizeof(*s->big));
    s->big_free = calloc(o->big_bufs, sizeof(*s->big_free));
    if (s->conns == NULL || s->free_stack == NULL || s->inl_mem == NULL || s->ev_mem == NULL ||
        s->big == NULL || s->big_free == NULL)
        goto fail;
    for (uint32_t i = 0; i < s->nconns; i++) {
        struct hsrv_conn *c = &s->conns[i];
        c->s = s;
        c->fd = -1;
        c->idx = i;
        c->gen = 1;
        c->big = -1;
        c->inl = s->inl_mem + (size_t)i * HSRV_INLINE;
        c->buf = c->inl;
        c->cap = HSRV_INLINE;
        c->rev = (struct event *)(s->ev_mem + (size_t)i * 2u * evsz);
        c->wev = (struct event *)(s->ev_mem + ((size_t)i * 2u + 1u) * evsz);
        s->free_stack[i] = s->nconns - 1 - i; /* low indexes first */
    }
    s->nfree = s->nconns;
    hsrv_set_date(s);
    s->accept_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST, hsrv_accept_cb, s);
    s->sweep_ev = event_new(base, -1, EV_PERSIST, hsrv_sweep_cb, s);
    struct timeval one_s = {1, 0};
    if (s->accept_ev == NULL || s->sweep_ev == NULL || event_add(s->accept_ev, NULL) != 0 ||
        event_add(s->sweep_ev, &one_s) != 0)
        goto fail;
    s->listen_fd = listen_fd;
    return s;
fail:
    if (s != NULL) {
        s->listen_fd = -1; /* still the caller's */
        hsrv_free(s);
    }
    if (err != NULL)
        *err = rc;
    return NULL;
}

void hsrv_stop_accepting(struct hsrv *s)
{
    if (s == NULL || s->listen_fd == -1)
        return;
    if (s->accept_ev != NULL)
        event_del(s->accept_ev);
    close(s->listen_fd);
    s->listen_fd = -1;
}

uint32_t hsrv_open_conns(const struct hsrv *s)
{
    return s ? s->nconns - s->nfree : 0;
}

void hsrv_free(struct hsrv *s)
{
    if (s == NULL)
        return;
    if (s->conns != NULL) {
        for (uint32_t i = 0; i < s->nconns; i++) {
            struct hsrv_conn *c = &s->conns[i];
            if (c->state != HSRV_FREE)
                hsrv_close(c, 0);
            if (c->out != NULL)
                evbuffer_free(c->out);
        }
    }
    hsrv_stop_accepting(s);
    if (s->accept_ev != NULL)
        event_free(s->accept_ev);
    if (s->sweep_ev != NULL)
        event_free(s->sweep_ev);
    if (s->big != NULL)
        for (uint32_t i = 0; i < s->nbig_made; i++)
            free(s->big[i]);
    free(s->big);
    free(s->big_free);
    free(s->conns);
    free(s->free_stack);
    free(s->inl_mem);
    free(s->ev_mem);
    free(s);
}
