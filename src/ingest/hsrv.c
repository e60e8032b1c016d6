/* hsrv: the ingest stage's HTTP/1.1 wire (see hsrv.h). One accept event on the thread's
 * SO_REUSEPORT socket; per connection one persistent read event, one write event armed only while
 * an answer is pending, a fixed read buffer and the parsed head of the request being served.
 * Request heads and chunked bodies are parsed by the pure functions in http_parse.c. The 1 s
 * sweep enforces the head, body, write and idle deadlines; idle keep-alive connections are also
 * kept on a list, oldest first, so a full slab can reclaim one in O(1). hsrv_shared (the
 * per-address counts and the large-buffer budget) is the only state touched by several threads:
 * atomics only, no lock. */
#include "hsrv.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
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
#define HSRV_PAGE         4096u
#define HSRV_NONE         UINT32_MAX
#define HSRV_IP_PROBES    32  /* slots an address is looked for in (then admitted uncounted) */
#define HSRV_IP_CNT_BITS  24u /* slot word: (40-bit address tag << 24) | open connections */
#define HSRV_IP_CNT_MASK  ((1ull << HSRV_IP_CNT_BITS) - 1u)

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
    uint8_t in_head;     /* ... or on_head: an answer then closes the connection */
    uint8_t replied;     /* answered during on_request */
    uint8_t held;        /* hsrv_hold during on_request */
    uint8_t head_ok;     /* c->head is the current request's */
    uint8_t sent_continue;
    uint8_t close_after; /* close once the pending answer is written */
    uint8_t read_off;    /* read event removed: buffer full while a request is held */
    uint8_t write_on;    /* write event armed */
    uint8_t big;         /* buf is a mapped large buffer (charged to the shared budget) */
    uint8_t on_idle;     /* on the server's idle list */
    char *inl;           /* own buffer, HSRV_INLINE bytes */
    char *buf;           /* inl or a large buffer */
    size_t cap, len;
    int64_t ip_slot;     /* hsrv_shared slot counting this connection, or -1 */
    uint8_t peer_family; /* accepted from: 4, 6 or 0 (hsrv_req.peer_family) */
    uint8_t peer_addr[16];
    uint8_t peer_ip[16]; /* the whole address (hsrv_req.peer_ip) */
    uint32_t idle_prev, idle_next;
    size_t req_len;          /* bytes of the served request, once complete */
    const char *cors_origin; /* hsrv_allow_origin's origin for the current request, or NULL */
    void *cookie;            /* held request's cookie */
    struct evbuffer *out;    /* answer bytes the socket did not take yet (created on first need) */
    struct event *rev, *wev;
    uint64_t last_ns;  /* last byte read; while idle: when it became idle */
    uint64_t req_ns;   /* first byte of the current request (the accept for the first); 0: idle */
    uint64_t head_ns;  /* the current request's head was complete */
    uint64_t write_ns; /* the pending answer last made progress */
    struct ingest_http_head head;
    struct ingest_head_state head_st; /* an unfinished head's progress (zeroed at accept) */
    struct ingest_chunk_state chunk;  /* a chunked body's progress (reset with each head) */
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
    uint32_t nbig;                 /* large buffers mapped now (at most o.big_bufs) */
    size_t big_max;                /* largest large buffer: max_head + max_body + chunk slack */
    uint32_t idle_head, idle_tail; /* idle keep-alive connections, oldest first */
    char date[40];                 /* "Date: ...\r\n" */
    /* Bytes of answers waiting in the connections' out buffers. The owner thread writes it
     * (relaxed load + store); hsrv_unsent_bytes reads it relaxed from any thread. */
    _Atomic uint64_t unsent;
};

struct hsrv_shared {
    uint32_t max_per_ip;
    unsigned v6_prefix; /* leading bits of an IPv6 address that name one client (16..64) */
    uint32_t mask;      /* slots - 1 */
    uint64_t pool_cap;
    uint64_t seed[2];
    /* The large-buffer bytes mapped by all threads. A budget counter only: relaxed RMWs, no data
     * is published through it. */
    _Atomic uint64_t pool_used;
    /* Open connections per client address: open addressing over a keyed 64-bit hash of the
     * address; each word is (tag << 24) | count, so tag and count change in one CAS. A count of 0
     * is a free slot. Relaxed: the words are counters, nothing else is ordered by them. */
    _Atomic uint64_t *slots;
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

static void hsrv_count(const struct hsrv *s, size_t off)
{
    if (s->o.counters == NULL)
        return;
    _Atomic uint64_t *ctr = (_Atomic uint64_t *)((char *)s->o.counters + off);
    /* One writer (the owner thread): relaxed load + store, readers load relaxed. */
    atomic_store_explicit(ctr, atomic_load_explicit(ctr, memory_order_relaxed) + 1u,
                          memory_order_relaxed);
}
#define HSRV_COUNT(s, field) hsrv_count((s), offsetof(struct hsrv_counters, field))

/* ---- shared: per-address counts and the large-buffer budget ---------------------------------- */

static uint64_t hsrv_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A keyed hash of the client address (IPv4, or IPv6 with v4-mapped folded to IPv4). */
int hsrv_client_ip(const struct sockaddr_storage *ss, uint8_t out[16])
{
    memset(out, 0, 16);
    if (ss->ss_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        return 4;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        /* 64:ff9b::/96 (NAT64, RFC 6052) carries an IPv4 client, as a mapped address does. */
        static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) || memcmp(a->sin6_addr.s6_addr, nat64, 12) == 0) {
            memcpy(out, &a->sin6_addr.s6_addr[12], 4);
            return 4;
        }
        memcpy(out, &a->sin6_addr, 16);
        return 6;
    }
    return 0;
}

int hsrv_client_id(const struct sockaddr_storage *ss, unsigned v6_prefix, uint8_t out[8])
{
    uint8_t ip[16];
    int family = hsrv_client_ip(ss, ip);
    memcpy(out, ip, 8); /* IPv4 in the first 4 bytes; IPv6: its first 64 bits */
    if (family == 6 && v6_prefix < 64) {
        /* Keep v6_prefix bits: whole bytes, then the high bits of the next, zero the rest. */
        unsigned whole = v6_prefix / 8, rem = v6_prefix % 8;
        if (rem != 0)
            out[whole] &= (uint8_t)(0xff00u >> rem);
        size_t keep = whole + (rem != 0);
        memset(out + keep, 0, 8 - keep);
    }
    return family;
}

/* hsrv_v6_prefix: the prefix that names one IPv6 client (64 without shared state). */
static unsigned hsrv_v6_prefix(const struct hsrv_shared *sh)
{
    return sh != NULL ? sh->v6_prefix : 64;
}

static uint64_t hsrv_addr_hash(const struct hsrv_shared *sh, const struct sockaddr_storage *ss)
{
    uint8_t id[8];
    uint64_t w = 0;
    int family = hsrv_client_id(ss, hsrv_v6_prefix(sh), id);
    memcpy(&w, id, 8);
    return hsrv_mix(hsrv_mix(w ^ sh->seed[0]) ^ (uint64_t)family ^ sh->seed[1]);
}

struct hsrv_shared *hsrv_shared_new(uint64_t max_conns_total,
                                    uint32_t max_per_ip,
                                    uint64_t pool_bytes,
                                    unsigned v6_prefix)
{
    if (v6_prefix < 16 || v6_prefix > 64)
        return NULL;
    struct hsrv_shared *sh = calloc(1, sizeof(*sh));
    if (sh == NULL)
        return NULL;
    /* Twice the connections that can be open (a free slot is always near), at most 2^24 slots
     * (128 MiB of address space; calloc's zero pages become resident only where used). */
    uint64_t n = 1024;
    while (n < 2u * max_conns_total && n < (1ull << 24))
        n <<= 1;
    if (max_per_ip != 0) {
        sh->slots = calloc(n, sizeof(*sh->slots)); /* zero bytes: every word is count 0 */
        if (sh->slots == NULL) {
            free(sh);
            return NULL;
        }
    }
    atomic_init(&sh->pool_used, 0);
    sh->mask = (uint32_t)(n - 1);
    sh->max_per_ip = max_per_ip;
    sh->pool_cap = pool_bytes;
    sh->v6_prefix = v6_prefix;
    if (getrandom(sh->seed, sizeof(sh->seed), 0) != (ssize_t)sizeof(sh->seed)) {
        sh->seed[0] = (uint64_t)time(NULL);
        sh->seed[1] = (uint64_t)(uintptr_t)sh;
    }
    return sh;
}

uint64_t hsrv_shared_pool_used(const struct hsrv_shared *sh)
{
    return sh ? atomic_load_explicit(&sh->pool_used, memory_order_relaxed) : 0;
}

void hsrv_shared_free(struct hsrv_shared *sh)
{
    if (sh == NULL)
        return;
    free(sh->slots);
    free(sh);
}

/* Counts one more connection from ss. The slot to release at close (>= 0), -1 when not counted
 * (no cap, or no free slot among the probes: admitted uncounted rather than refused), or
 * NF_ETOOMANY when the address is at its cap. Any ingest thread. */
static int64_t hsrv_ip_acquire(struct hsrv_shared *sh, const struct sockaddr_storage *ss)
{
    if (sh == NULL || sh->max_per_ip == 0)
        return -1;
    uint64_t h = hsrv_addr_hash(sh, ss);
    uint64_t tag = h >> HSRV_IP_CNT_BITS;
    for (;;) {
        uint32_t free_i = HSRV_NONE;
        uint64_t free_w = 0;
        int retry = 0;
        for (uint32_t p = 0; p < HSRV_IP_PROBES; p++) {
            uint32_t i = (uint32_t)(h + p) & sh->mask;
            uint64_t w = atomic_load_explicit(&sh->slots[i], memory_order_relaxed);
            uint64_t cnt = w & HSRV_IP_CNT_MASK;
            if (cnt > 0 && (w >> HSRV_IP_CNT_BITS) == tag) {
                if (cnt >= sh->max_per_ip)
                    return NF_ETOOMANY;
                if (atomic_compare_exchange_strong_explicit(
                        &sh->slots[i], &w, w + 1u, memory_order_relaxed, memory_order_relaxed))
                    return (int64_t)i;
                retry = 1;
                break;
            }
            if (cnt == 0 && free_i == HSRV_NONE) {
                free_i = i;
                free_w = w;
            }
        }
        if (retry)
            continue;
        if (free_i == HSRV_NONE)
            return -1;
        if (atomic_compare_exchange_strong_explicit(&sh->slots[free_i], &free_w,
                                                    (tag << HSRV_IP_CNT_BITS) | 1u,
                                                    memory_order_relaxed, memory_order_relaxed))
            return (int64_t)free_i;
        /* Another thread took that slot (perhaps for this address): look again. */
    }
}

/* hsrv_peer_set: keeps the client's id (hsrv_client_id) for the routes (rate limit per client),
 * so no request needs a getpeername. */
static void hsrv_peer_set(struct hsrv_conn *c, const struct sockaddr_storage *ss)
{
    memset(c->peer_addr, 0, sizeof(c->peer_addr));
    c->peer_family = hsrv_client_id(ss, hsrv_v6_prefix(c->s->o.shared), c->peer_addr);
    hsrv_client_ip(ss, c->peer_ip);
}

static void hsrv_ip_release(struct hsrv_shared *sh, int64_t slot)
{
    if (sh != NULL && slot >= 0)
        atomic_fetch_sub_explicit(&sh->slots[slot], 1u, memory_order_relaxed);
}

static int hsrv_pool_charge(struct hsrv *s, size_t bytes)
{
    struct hsrv_shared *sh = s->o.shared;
    if (sh == NULL)
        return 0;
    uint64_t prev = atomic_fetch_add_explicit(&sh->pool_used, bytes, memory_order_relaxed);
    if (prev + bytes > sh->pool_cap) {
        atomic_fetch_sub_explicit(&sh->pool_used, bytes, memory_order_relaxed);
        return NF_EFULL;
    }
    return 0;
}

static void hsrv_pool_uncharge(struct hsrv *s, size_t bytes)
{
    if (s->o.shared != NULL)
        atomic_fetch_sub_explicit(&s->o.shared->pool_used, bytes, memory_order_relaxed);
}

/* ---- buffers --------------------------------------------------------------------------------- */

/* Unmaps the connection's large buffer (its bytes must already be elsewhere or not needed). */
static void hsrv_big_release(struct hsrv_conn *c)
{
    if (!c->big)
        return;
    struct hsrv *s = c->s;
    munmap(c->buf, c->cap);
    hsrv_pool_uncharge(s, c->cap);
    s->nbig--;
    c->big = 0;
    c->buf = c->inl;
    c->cap = HSRV_INLINE;
}

static void hsrv_rebase_ptr(const char **p, uintptr_t old, char *nb)
{
    if (*p != NULL && (uintptr_t)*p >= old)
        *p = nb + ((uintptr_t)*p - old);
}

/* Grows the connection's buffer to at least want bytes (page-rounded): maps a large buffer (or
 * remaps the one it has) charged to the shared budget, keeping the bytes and re-pointing a parsed
 * head into the new place. 0, or NF_EFULL with *limit naming the limit that refused it. */
static int hsrv_grow(struct hsrv_conn *c, size_t want, const char **limit)
{
    struct hsrv *s = c->s;
    size_t ncap = (want + HSRV_PAGE - 1) & ~(size_t)(HSRV_PAGE - 1);
    if (ncap <= c->cap)
        return 0;
    if (!c->big && s->nbig >= s->o.big_bufs) {
        *limit = "large_bodies";
        return NF_EFULL;
    }
    size_t add = ncap - (c->big ? c->cap : 0);
    if (hsrv_pool_charge(s, add) != 0) {
        *limit = "body_pool_bytes";
        return NF_EFULL;
    }
    uintptr_t old = (uintptr_t)c->buf;
    char *nb;
    if (c->big) {
        nb = mremap(c->buf, c->cap, ncap, MREMAP_MAYMOVE);
    } else {
        nb = mmap(NULL, ncap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (nb != MAP_FAILED)
            memcpy(nb, c->buf, c->len);
    }
    if (nb == MAP_FAILED) {
        hsrv_pool_uncharge(s, add);
        *limit = "memory";
        return NF_EFULL;
    }
    if (!c->big)
        s->nbig++;
    c->big = 1;
    c->buf = nb;
    c->cap = ncap;
    if (c->head_ok) { /* the head's pointers point into the old buffer */
        struct ingest_http_head *h = &c->head;
        hsrv_rebase_ptr(&h->path, old, nb);
        hsrv_rebase_ptr(&h->query, old, nb);
        hsrv_rebase_ptr(&h->idem, old, nb);
        hsrv_rebase_ptr(&h->authorization, old, nb);
        hsrv_rebase_ptr(&h->content_type, old, nb);
        hsrv_rebase_ptr(&h->origin, old, nb);
    }
    return 0;
}

/* ---- idle list ------------------------------------------------------------------------------- */

static void hsrv_idle_del(struct hsrv_conn *c)
{
    struct hsrv *s = c->s;
    if (!c->on_idle)
        return;
    if (c->idle_prev != HSRV_NONE)
        s->conns[c->idle_prev].idle_next = c->idle_next;
    else
        s->idle_head = c->idle_next;
    if (c->idle_next != HSRV_NONE)
        s->conns[c->idle_next].idle_prev = c->idle_prev;
    else
        s->idle_tail = c->idle_prev;
    c->on_idle = 0;
}

static int hsrv_pending(const struct hsrv_conn *c);
static void hsrv_unsent_trim(struct hsrv *s, const struct hsrv_conn *keep);
static void hsrv_abort(struct hsrv_conn *c);
static void hsrv_accept_resume(struct hsrv *s);

/* Puts c on the idle list (at the tail: newest) when it waits for a next request with nothing
 * buffered, nothing to write and nothing held; takes it off otherwise. */
static void hsrv_idle_sync(struct hsrv_conn *c)
{
    struct hsrv *s = c->s;
    int idle = c->state == HSRV_READ && c->len == 0 && !c->head_ok && c->req_ns == 0 &&
               !c->in_dispatch && !hsrv_pending(c);
    if (idle == c->on_idle)
        return;
    if (!idle) {
        hsrv_idle_del(c);
        return;
    }
    c->on_idle = 1;
    c->idle_next = HSRV_NONE;
    c->idle_prev = s->idle_tail;
    if (s->idle_tail != HSRV_NONE)
        s->conns[s->idle_tail].idle_next = c->idx;
    else
        s->idle_head = c->idx;
    s->idle_tail = c->idx;
    hsrv_accept_resume(s); /* a full slab can take a new connection again */
}

/* ---- connection life ------------------------------------------------------------------------- */

static void hsrv_accept_resume(struct hsrv *s)
{
    if (s->accept_paused && s->accept_ev != NULL && s->listen_fd != -1) {
        if (event_add(s->accept_ev, NULL) == 0)
            s->accept_paused = 0;
    }
}

static void hsrv_unsent_add(struct hsrv *s, uint64_t n)
{
    atomic_store_explicit(&s->unsent, atomic_load_explicit(&s->unsent, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static void hsrv_unsent_sub(struct hsrv *s, uint64_t n)
{
    uint64_t u = atomic_load_explicit(&s->unsent, memory_order_relaxed);
    atomic_store_explicit(&s->unsent, u >= n ? u - n : 0, memory_order_relaxed);
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
    /* The unsent answer is let go before the socket closes: whoever sees the close sees the
     * memory back. */
    if (c->out != NULL) {
        hsrv_unsent_sub(s, evbuffer_get_length(c->out));
        evbuffer_drain(c->out, evbuffer_get_length(c->out));
    }
    close(c->fd);
    c->fd = -1;
    hsrv_idle_del(c);
    hsrv_ip_release(s->o.shared, c->ip_slot);
    c->ip_slot = -1;
    hsrv_big_release(c);
    c->state = HSRV_FREE;
    c->gen++;
    c->cookie = NULL;
    c->len = 0;
    c->head_ok = 0;
    c->write_on = 0;
    c->read_off = 0;
    c->close_after = 0;
    c->req_ns = 0;
    s->free_stack[s->nfree++] = c->idx;
    hsrv_accept_resume(s);
    if (was_held && gone && s->o.on_gone != NULL)
        s->o.on_gone(cookie, s->o.arg);
}

/* Writes head + body now; what the socket does not take waits in c->out for the write event.
 * Over max_unsent, other connections of this thread may be reset (hsrv_unsent_trim). 0, or
 * NF_EIO when the peer is gone (the caller closes). */
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
    size_t before = evbuffer_get_length(c->out);
    if (sent < hl)
        rc |= evbuffer_add(c->out, head + sent, hl - sent);
    size_t boff = sent > hl ? sent - hl : 0;
    if (bl > boff)
        rc |= evbuffer_add(c->out, body + boff, bl - boff);
    hsrv_unsent_add(c->s, evbuffer_get_length(c->out) - before);
    if (rc != 0)
        return NF_EIO;
    c->write_ns = hsrv_now_ns();
    if (!c->write_on && event_add(c->wev, NULL) == 0)
        c->write_on = 1;
    hsrv_unsent_trim(c->s, c);
    return 0;
}

/* hsrv_unsent_trim: while this thread's unsent answers exceed max_unsent, resets the connection
 * whose answer has waited longest without the socket taking a byte of it (the slowest reader),
 * never keep (the connection just answered: an answer is not dropped for its own size). */
static void hsrv_unsent_trim(struct hsrv *s, const struct hsrv_conn *keep)
{
    while (s->o.max_unsent != 0 &&
           atomic_load_explicit(&s->unsent, memory_order_relaxed) > s->o.max_unsent) {
        struct hsrv_conn *oldest = NULL;
        for (uint32_t i = 0; i < s->nconns; i++) {
            struct hsrv_conn *c = &s->conns[i];
            if (c == keep || c->state == HSRV_FREE || c->in_dispatch || !hsrv_pending(c))
                continue;
            if (oldest == NULL || c->write_ns < oldest->write_ns)
                oldest = c;
        }
        if (oldest == NULL)
            return;
        HSRV_COUNT(s, unsent_reset);
        hsrv_abort(oldest);
    }
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
    c->last_ns = hsrv_now_ns();
    c->req_ns = rest > 0 ? c->last_ns : 0;
    if (c->big && rest <= HSRV_INLINE) {
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

/* hsrv_drain_after_answer: c's answer is written but the rest of its request was not read: drop
 * what is buffered, shut the write side once the answer is out, and drain until the client closes
 * (so the answer is not lost to a reset caused by unread bytes). */
static void hsrv_drain_after_answer(struct hsrv_conn *c)
{
    c->state = HSRV_CLOSING;
    c->last_ns = hsrv_now_ns();
    c->close_after = 1;
    c->len = 0;
    if (!hsrv_pending(c))
        shutdown(c->fd, SHUT_WR);
}

/* hsrv_fail_cors: the CORS lines of hsrv_fail's answer: those of the routes' answers when the
 * request's head was read and its Origin is allowed (hsrv_opts.cors_origin), else Vary: Origin
 * when the routes answer some origins, else none. A head not yet read has no Origin to trust. */
static void hsrv_fail_cors(struct hsrv_conn *c, char *out, size_t cap)
{
    const struct hsrv_opts *o = &c->s->o;
    const char *origin = NULL;
    if (c->head_ok && c->head.origin != NULL && o->cors_origin != NULL)
        origin = o->cors_origin(c->head.origin, c->head.origin_len, o->arg);
    int n = -1;
    if (origin != NULL)
        n = snprintf(out, cap,
                     "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
                     "Access-Control-Expose-Headers: Retry-After\r\n",
                     origin);
    if (n < 0 || (size_t)n >= cap) /* none allowed, or one too long for a header line here */
        snprintf(out, cap, "%s", o->vary_origin ? "Vary: Origin\r\n" : "");
}

/* Answers a request hsrv itself refuses, then drains and closes (hsrv_drain_after_answer). */
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
    char cors[400], head[768];
    hsrv_fail_cors(c, cors, sizeof(cors));
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\n%sContent-Type: application/json\r\nContent-Length: "
                      "%d\r\n%s%sConnection: close\r\n\r\n",
                      code, hsrv_reason(code), c->s->date, bl,
                      code == 503 ? "Retry-After: 1\r\n" : "", cors);
    if (hl < 0 || (size_t)hl >= sizeof(head) ||
        hsrv_write(c, head, (size_t)hl, body, (size_t)bl) != 0) {
        hsrv_close(c, 1);
        return;
    }
    hsrv_drain_after_answer(c);
}

/* ---- requests -------------------------------------------------------------------------------- */

/* hsrv_req_fill: the request of c's parsed head with body[0..body_len) (body NULL: not read yet).
 * NUL-terminates the strings in place, so it may run twice for one head (on_head, then
 * on_request). */
static void
hsrv_req_fill(struct hsrv_conn *c, struct hsrv_req *r, const char *body, size_t body_len)
{
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
    c->cors_origin = NULL; /* set again by the routes (hsrv_allow_origin) */
    *r = (struct hsrv_req){
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
        .body = body == NULL ? NULL
                : body_len   ? body
                             : "",
        .body_len = body_len,
        .start_ns = hsrv_now_ns(),
        .peer_family = c->peer_family,
        .peer_addr = c->peer_addr,
        .peer_ip = c->peer_ip,
    };
}

/* hsrv_head_refused: on_head for c's complete head, when an on_head is set and a body is still to
 * come (a body that arrived with its head costs nothing more to take: on_request decides). 1
 * when on_head answered: the body stays unread, so the connection drains and closes after the
 * answer (as hsrv_fail does); 0 to go on reading the body. */
static int hsrv_head_refused(struct hsrv_conn *c)
{
    struct hsrv *s = c->s;
    const struct ingest_http_head *h = &c->head;
    if (s->o.on_head == NULL || (!h->chunked && h->content_length == 0) ||
        (!h->chunked && c->len - h->head_len >= h->content_length))
        return 0;
    struct hsrv_req r;
    hsrv_req_fill(c, &r, NULL, 0);
    c->in_dispatch = 1;
    c->in_head = 1;
    c->replied = 0;
    c->held = 0;
    int answered = s->o.on_head(&r, s->o.arg);
    c->in_dispatch = 0;
    c->in_head = 0;
    if (c->state == HSRV_FREE)
        return 1;
    if (!answered || !c->replied)
        return 0;
    hsrv_drain_after_answer(c);
    return 1;
}

static void hsrv_dispatch(struct hsrv_conn *c, const char *body, size_t body_len)
{
    struct hsrv *s = c->s;
    struct hsrv_req r;
    hsrv_req_fill(c, &r, body, body_len);
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
    hsrv_idle_sync(c);
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

/* Grows c's buffer to want bytes, or answers 503 + Retry-After naming the limit that refused. */
static void hsrv_grow_or_fail(struct hsrv_conn *c, size_t want)
{
    const char *limit = "memory";
    if (hsrv_grow(c, want, &limit) == 0)
        return;
    HSRV_COUNT(c->s, pool_refused);
    char reason[160];
    snprintf(reason, sizeof(reason),
             "large-request buffers are at the server's %s limit; retry later", limit);
    hsrv_fail(c, 503, "body", reason);
}

/* Serves complete requests from the buffer, one at a time, while the connection is free to. */
static void hsrv_process(struct hsrv_conn *c)
{
    struct hsrv *s = c->s;
    while (c->state == HSRV_READ && !hsrv_pending(c) && c->len > 0) {
        struct ingest_http_head *h = &c->head;
        if (!c->head_ok) {
            int rc = ingest_http_head_resume(c->buf, c->len, s->o.max_head, &c->head_st, h);
            if (rc == 0) {
                if (c->len == c->cap)
                    hsrv_grow_or_fail(c, s->o.max_head);
                return;
            }
            if (rc < 0) {
                hsrv_fail(c, h->err_status, h->err_field, h->err_reason);
                return;
            }
            c->head_ok = 1;
            c->head_ns = hsrv_now_ns();
            c->chunk.pos = 0;
            c->chunk.total = 0;
            if (!h->chunked && h->content_length > s->o.max_body) {
                hsrv_fail(c, 413, "body", "larger than the server's max_body_bytes");
                return;
            }
            if (hsrv_head_refused(c))
                return;
        }
        const char *body;
        size_t body_len;
        if (h->chunked) {
            size_t raw = 0, blen = 0;
            int rc = ingest_http_chunked(c->buf + h->head_len, c->len - h->head_len, s->o.max_body,
                                         &c->chunk, &raw, &blen);
            if (rc == 0) {
                hsrv_continue(c);
                if (c->state == HSRV_READ && c->len == c->cap) {
                    if (c->cap >= s->big_max)
                        hsrv_fail(c, 413, "body", "chunked body larger than the server accepts");
                    else
                        hsrv_grow_or_fail(c, c->cap * 2u < s->big_max ? c->cap * 2u : s->big_max);
                }
                return;
            }
            if (rc < 0) {
                if (rc == NF_ERANGE)
                    hsrv_fail(c, 413, "body", "larger than the server's max_body_bytes");
                else
                    hsrv_fail(c, 400, c->chunk.err_field, c->chunk.err_reason);
                return;
            }
            body = c->buf + h->head_len;
            body_len = blen;
            c->req_len = h->head_len + raw;
        } else {
            size_t need = h->head_len + (size_t)h->content_length;
            if (c->len < need) {
                hsrv_continue(c);
                /* The large buffer is taken only once the 4 KiB buffer is full of arrived bytes:
                 * a head announcing a big body costs nothing until the body comes. */
                if (c->state == HSRV_READ && c->len == c->cap)
                    hsrv_grow_or_fail(c, need);
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
            if (c->req_ns == 0)
                c->req_ns = c->last_ns;
            hsrv_idle_del(c);
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
    if (c->state != HSRV_FREE)
        hsrv_idle_sync(c);
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
        hsrv_unsent_sub(c->s, (uint64_t)n);
        c->write_ns = hsrv_now_ns();
    }
    event_del(c->wev);
    c->write_on = 0;
    /* Pipelined bytes that waited for this answer start their head clock now. */
    c->last_ns = c->write_ns;
    c->req_ns = c->len > 0 ? c->write_ns : 0;
    hsrv_resume(c);
    if (c->state != HSRV_FREE)
        hsrv_idle_sync(c);
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

int hsrv_ref_live(struct hsrv_ref ref)
{
    const struct hsrv_conn *c = ref.conn;
    if (c == NULL || c->gen != ref.gen)
        return 0;
    return c->in_dispatch ? !(c->replied || c->held) : c->state == HSRV_HELD;
}

int hsrv_reply(struct hsrv_ref ref,
               int code,
               const char *ctype,
               const char *extra,
               const char *body,
               size_t len,
               int close_conn)
{
    if (!hsrv_ref_live(ref))
        return NF_ESTATE;
    struct hsrv_conn *c = ref.conn;
    struct ingest_http_head *h = &c->head;
    int do_close = close_conn || !h->keep_alive || c->in_head;
    /* The head, assembled without printf (this runs once per request). */
    const char *reason = hsrv_reason(code);
    char head[1024], num[24], status[8];
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
    if (c->cors_origin != NULL) {
        hl = hsrv_cat(head, sizeof(head), hl, "Access-Control-Allow-Origin: ");
        hl = hsrv_cat(head, sizeof(head), hl, c->cors_origin);
        hl = hsrv_cat(head, sizeof(head), hl,
                      "\r\nVary: Origin\r\nAccess-Control-Expose-Headers: Retry-After\r\n");
    } else if (c->s->o.vary_origin) {
        /* The answer depends on Origin: a cache must not give it to another one. */
        hl = hsrv_cat(head, sizeof(head), hl, "Vary: Origin\r\n");
    }
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
    if (c->state != HSRV_FREE)
        hsrv_idle_sync(c);
    return 0;
}

void hsrv_allow_origin(struct hsrv_ref ref, const char *origin)
{
    struct hsrv_conn *c = ref.conn;
    if (c != NULL && c->gen == ref.gen && c->in_dispatch)
        c->cors_origin = origin;
}

void hsrv_hold(struct hsrv_ref ref, void *cookie)
{
    struct hsrv_conn *c = ref.conn;
    if (c == NULL || c->gen != ref.gen || !c->in_dispatch || c->in_head || c->replied)
        return;
    c->held = 1;
    c->cookie = cookie;
}

/* ---- listener and sweep ---------------------------------------------------------------------- */

/* A connection over --max-conns-per-ip: a fixed 503 (best effort, the socket is new so it takes
 * it) and close. Nothing is kept; at most what already arrived is read and dropped. */
static void hsrv_refuse_per_ip(struct hsrv *s, int cfd)
{
    static const char body[] = "{\"error\":\"overloaded\",\"field\":\"connection\",\"reason\":"
                               "\"too many connections from this address (max_conns_per_ip)\"}";
    char msg[512];
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 503 Service Unavailable\r\n%sContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
                     s->date, sizeof(body) - 1, body);
    HSRV_COUNT(s, per_ip_refused);
    if (n > 0 && (size_t)n < sizeof(msg)) {
        ssize_t w = send(cfd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
    }
    /* Bytes already received but unread would turn the close into a reset that can destroy the
     * answer at the client: read what is there (a request head, usually) first. */
    char sink[2048];
    ssize_t r = recv(cfd, sink, sizeof(sink), MSG_DONTWAIT);
    (void)r;
    close(cfd);
}

/* Closes c at once with a reset: its unsent answer is dropped from the kernel too. */
static void hsrv_abort(struct hsrv_conn *c)
{
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    hsrv_close(c, 1);
}

static void hsrv_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct hsrv *s = arg;
    for (int i = 0; i < HSRV_ACCEPT_BATCH; i++) {
        if (s->nfree == 0 && s->idle_head == HSRV_NONE) {
            event_del(s->accept_ev);
            s->accept_paused = 1;
            return;
        }
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int cfd = accept4(fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
        if (plen > sizeof(peer))
            peer.ss_family = AF_UNSPEC;
        int64_t slot = hsrv_ip_acquire(s->o.shared, &peer);
        if (slot == NF_ETOOMANY) {
            hsrv_refuse_per_ip(s, cfd);
            continue;
        }
        if (s->nfree == 0) {
            /* Full slab: the oldest idle keep-alive connection makes room. */
            HSRV_COUNT(s, idle_reclaimed);
            hsrv_close(&s->conns[s->idle_head], 0);
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct hsrv_conn *c = &s->conns[s->free_stack[--s->nfree]];
        c->fd = cfd;
        c->ip_slot = slot;
        hsrv_peer_set(c, &peer);
        c->state = HSRV_READ;
        c->len = 0;
        c->head_ok = 0;
        memset(&c->head_st, 0, sizeof(c->head_st));
        c->big = 0;
        c->buf = c->inl;
        c->cap = HSRV_INLINE;
        c->last_ns = hsrv_now_ns();
        c->req_ns = c->last_ns; /* the head deadline runs from the accept */
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
    uint64_t head_ns = s->o.head_ms * 1000000u;
    uint64_t write_ns = s->o.write_ms * 1000000u;
    for (uint32_t i = 0; i < s->nconns; i++) {
        struct hsrv_conn *c = &s->conns[i];
        if (c->state == HSRV_CLOSING) {
            if (now - c->last_ns > (uint64_t)HSRV_CLOSING_MS * 1000000u)
                hsrv_close(c, 0);
            continue;
        }
        if (c->state != HSRV_READ)
            continue; /* free, or a held request (answered by its own wait timer) */
        if (hsrv_pending(c)) {
            if (write_ns != 0 && now - c->write_ns > write_ns) {
                HSRV_COUNT(s, write_timeouts);
                hsrv_abort(c);
            }
        } else if (c->head_ok) {
            /* The body must average body_min_rate bytes/s once head_ms of grace has passed. */
            uint64_t el = now - c->head_ns;
            if (s->o.body_min_rate != 0 && el > head_ns) {
                uint64_t due_ms = (el - head_ns) / 1000000u;
                uint64_t got = c->len - c->head.head_len;
                if (got < due_ms * s->o.body_min_rate / 1000u) {
                    HSRV_COUNT(s, body_timeouts);
                    hsrv_close(c, 1);
                }
            }
        } else if (c->req_ns != 0) {
            if (head_ns != 0 && now - c->req_ns > head_ns) {
                HSRV_COUNT(s, head_timeouts);
                hsrv_close(c, 1);
            }
        } else if (now - c->last_ns > idle_ns) {
            HSRV_COUNT(s, idle_closed);
            hsrv_close(c, 0);
        }
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
    s->big_max = o->max_head + o->max_body + HSRV_CHUNK_SLACK;
    s->idle_head = HSRV_NONE;
    s->idle_tail = HSRV_NONE;
    size_t evsz = event_get_struct_event_size();
    s->conns = calloc(s->nconns, sizeof(*s->conns));
    s->free_stack = calloc(s->nconns, sizeof(*s->free_stack));
    s->inl_mem = malloc((size_t)s->nconns * HSRV_INLINE);
    s->ev_mem = calloc((size_t)s->nconns * 2u, evsz);
    if (s->conns == NULL || s->free_stack == NULL || s->inl_mem == NULL || s->ev_mem == NULL)
        goto fail;
    for (uint32_t i = 0; i < s->nconns; i++) {
        struct hsrv_conn *c = &s->conns[i];
        c->s = s;
        c->fd = -1;
        c->idx = i;
        c->gen = 1;
        c->ip_slot = -1;
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

uint64_t hsrv_unsent_bytes(const struct hsrv *s)
{
    return s ? atomic_load_explicit(&s->unsent, memory_order_relaxed) : 0;
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
    free(s->conns);
    free(s->free_stack);
    free(s->inl_mem);
    free(s->ev_mem);
    free(s);
}
