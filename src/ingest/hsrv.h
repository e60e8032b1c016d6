/* hsrv: the ingest stage's HTTP/1.1 wire. One struct hsrv per ingest thread owns that thread's
 * listening socket (SO_REUSEPORT, all threads on one port), a fixed slab of connections with
 * their read buffers and preallocated events, a pool of large buffers for bodies that outgrow a
 * connection's own buffer, and a 1 s sweep timer (idle connections, the cached Date header).
 * Everything in it belongs to the thread running its event_base; nothing here is shared.
 *
 * Requests on a connection are served one at a time, in order (pipelined requests wait in the
 * buffer). on_request gets the parsed request; it either answers at once (hsrv_reply) or holds it
 * (hsrv_hold) and answers later from the same thread. A held request whose client goes away is
 * reported once through on_gone, and its hsrv_ref goes stale (hsrv_reply then returns
 * NF_ESTATE). Malformed requests are answered by hsrv itself (4xx/5xx, JSON naming the field and
 * the reason) and the connection is closed.
 *
 * Slow clients (each closes the connection; counted in struct hsrv_counters):
 *  - a request head must be complete within head_ms of its first byte (of the accept, for a
 *    connection's first request), however the bytes trickle in;
 *  - after its head, a body must arrive at an average of body_min_rate bytes/s, counted from the
 *    end of the head once a grace of head_ms has passed;
 *  - an answer the client does not read is dropped (reset) when write_ms pass without the socket
 *    taking a byte of it;
 *  - when the answers waiting to be written on this thread exceed max_unsent bytes, the
 *    connections whose answers have waited longest without progress are reset until they fit
 *    (never the connection just answered: an answer alone over the cap is still written);
 *  - an idle keep-alive connection (no request bytes) is closed after idle_ms, and when the slab
 *    is full the oldest idle one is closed to make room before accepting pauses;
 *  - a client address with max_per_ip connections open (over all threads, see struct
 *    hsrv_shared) gets a fixed 503 JSON answer and the new connection is closed at once.
 *
 * Memory rule: all connection state, events and the 4 KiB read buffers are allocated in hsrv_new.
 * On the request path the only allocations are (1) large buffers, mapped (mmap) when a head or
 * body outgrows the 4 KiB buffer with its bytes actually arriving, sized to the request
 * (head + Content-Length; doubling for a chunked body), charged to one byte budget shared by all
 * threads (hsrv_shared, --body-pool-bytes; over it: 503 + Retry-After) and unmapped as soon as
 * the request is answered or the connection closes, never held until exit; and (2) the unsent
 * rest of an answer in the connection's evbuffer (one answer per connection at a time, freed
 * when written, at the write timeout or when reset for max_unsent). */
#ifndef NF_INGEST_HSRV_H
#define NF_INGEST_HSRV_H

#include <event2/event.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct hsrv;
struct hsrv_conn;

/* A reference to one request: stays valid (same connection, same generation) until answered. */
struct hsrv_ref {
    struct hsrv_conn *conn;
    uint32_t gen;
};

/* A parsed request, valid only during on_request. Strings are NUL-terminated and point into the
 * connection's buffer; copy what must outlive the callback. */
struct hsrv_req {
    struct hsrv_ref ref;
    int method;                /* enum ingest_http_method (http_parse.h) */
    const char *path;          /* without the query */
    const char *query;         /* after '?', or NULL */
    const char *idem;          /* Idempotency-Key header value, or NULL */
    const char *authorization; /* Authorization header value, or NULL */
    size_t authorization_len;
    const char *content_type; /* Content-Type header value, or NULL */
    size_t content_type_len;
    const char *origin; /* Origin header value, or NULL */
    size_t origin_len;
    const char *body; /* "" when empty */
    size_t body_len;
    uint64_t start_ns; /* CLOCK_MONOTONIC when the request head was complete */
    /* the client the connection was accepted from (hsrv_client_id): 4 (IPv4, also IPv4-mapped
     * IPv6) with its 4 bytes, 6 with the 8 bytes of its IPv6 prefix (--ipv6-client-prefix), or
     * 0 (unknown); borrowed like the fields above */
    int peer_family;
    const uint8_t *peer_addr;
    const uint8_t *peer_ip; /* the whole address: 4 bytes (family 4) or 16 (6) */
};

/* Closes and refusals for slow or greedy clients. The owner thread writes them (relaxed, one
 * writer); other threads may read them relaxed. */
struct hsrv_counters {
    _Atomic uint64_t head_timeouts;  /* head not complete within head_ms */
    _Atomic uint64_t body_timeouts;  /* body slower than body_min_rate */
    _Atomic uint64_t write_timeouts; /* answer not read for write_ms */
    _Atomic uint64_t unsent_reset;   /* reset: the thread's unsent answers over max_unsent */
    _Atomic uint64_t idle_closed;    /* idle keep-alive closed after idle_ms */
    _Atomic uint64_t idle_reclaimed; /* idle keep-alive closed to make room in a full slab */
    _Atomic uint64_t per_ip_refused; /* connections refused by max_per_ip */
    _Atomic uint64_t pool_refused;   /* 503: large buffer over the shared byte budget or count */
};

/* State shared by the hsrv of every ingest thread: the per-address connection counts and the
 * large-buffer byte budget. Lock-free (atomics); created before the threads start and freed
 * after they stopped. */
struct hsrv_shared;

struct sockaddr_storage;

/* hsrv_client_ip: the client's address: IPv4 (IPv4-mapped IPv6 and NAT64's 64:ff9b::/96 too) in
 * out[0..4), returning 4; IPv6 in out[0..16), returning 6; 0 for another family. out is
 * zero-filled first. Pure. */
int hsrv_client_ip(const struct sockaddr_storage *ss, uint8_t out[16]);

/* hsrv_client_id: what counts as one client for the per-address limits (--max-conns-per-ip,
 * --rate-limit without tokens): an IPv4 address (IPv4-mapped IPv6 and NAT64's 64:ff9b::/96 too)
 * in out[0..4), returning 4; the first v6_prefix bits (16..64; --ipv6-client-prefix, default 64:
 * the network one site is given, so a client cannot multiply its share by rotating addresses
 * inside it) of an IPv6 address in out[0..8), the rest zero, returning 6; 0 for another family.
 * out is zero-filled first. Pure. */
int hsrv_client_id(const struct sockaddr_storage *ss, unsigned v6_prefix, uint8_t out[8]);

/* hsrv_shared_new: room for the addresses of max_conns_total connections; max_per_ip 0 = no
 * per-address cap; pool_bytes = the large-buffer budget in bytes; v6_prefix (16..64) = the
 * leading bits of an IPv6 address that name one client (hsrv_client_id). NULL on NF_ENOMEM or a
 * v6_prefix out of range. The caller owns the result (hsrv_shared_free). Main thread, before the
 * servers start. */
struct hsrv_shared *hsrv_shared_new(uint64_t max_conns_total,
                                    uint32_t max_per_ip,
                                    uint64_t pool_bytes,
                                    unsigned v6_prefix);

/* hsrv_shared_pool_used: bytes of large buffers mapped now (any thread, relaxed). */
uint64_t hsrv_shared_pool_used(const struct hsrv_shared *sh);

/* hsrv_shared_free: NULL is a no-op. After every hsrv using it was freed. */
void hsrv_shared_free(struct hsrv_shared *sh);

struct hsrv_opts {
    uint32_t max_conns;     /* connections this thread keeps open; beyond, idle ones are reclaimed,
                               then accepting pauses */
    uint32_t big_bufs;      /* large buffers this thread may hold at once */
    size_t max_head;        /* request line + headers */
    size_t max_body;        /* decoded body bytes; larger is 413 */
    uint64_t idle_ms;       /* an idle keep-alive connection is closed after */
    uint64_t head_ms;       /* a request head must be complete within (0: no deadline) */
    uint64_t body_min_rate; /* bytes/s a body must average after head_ms of grace (0: none) */
    uint64_t write_ms;      /* an unsent answer making no progress is dropped after (0: never) */
    uint64_t max_unsent;    /* bytes of unsent answers this thread holds; over it the slowest
                               readers are reset (0: no cap) */
    int vary_origin;        /* every answer says Vary: Origin (the routes answer some origins
                               with CORS headers: hsrv_allow_origin) */
    /* cors_origin (optional): the allowed origin equal to origin[0..len) (a string the caller
     * keeps for hsrv's life), or NULL. hsrv's own refusals of a request whose head it read (413,
     * a 503 for the body pool, a malformed chunked body) then carry the same CORS headers as the
     * routes' answers, so a page of that origin reads them instead of a network error. Called
     * on hsrv's own thread; an origin over 300 bytes gets only Vary: Origin. */
    const char *(*cors_origin)(const char *origin, size_t len, void *arg);
    struct hsrv_shared *shared;     /* borrowed; NULL: no per-address cap, no byte budget */
    struct hsrv_counters *counters; /* borrowed; NULL: not counted */
    void (*on_request)(struct hsrv_req *r, void *arg);
    /* on_head (optional): a request whose head is complete and whose body has not all arrived
     * with it (Content-Length > 0, or chunked), before the rest is read (and before 100
     * Continue); r->body is NULL and r->body_len 0. Returns 0 to read the body (on_request
     * follows), or 1 after answering r with hsrv_reply (Connection: close; hsrv_hold is refused):
     * the body is then never read and the connection closes after the answer. */
    int (*on_head)(struct hsrv_req *r, void *arg);
    void (*on_gone)(void *cookie, void *arg); /* a held request's client went away */
    void *arg;
};

/* hsrv_new: a server on base accepting from listen_fd (nonblocking, listening; hsrv owns it from
 * now on and closes it). NULL with *err (NF_ENOMEM, NF_ECONFIG) on failure; listen_fd is then
 * still the caller's. Call from the thread that will run base, or before it runs. */
struct hsrv *hsrv_new(struct event_base *base, int listen_fd, const struct hsrv_opts *o, int *err);

/* hsrv_reply: answers the request ref names: status code (with its reason phrase), Content-Type
 * ctype (NULL: application/json), extra header lines `extra` ("Name: value\r\n"..., or NULL), body
 * [0..len). close != 0 closes the connection after the answer. When the answer takes the
 * thread's unsent answers over max_unsent, other connections with answers pending are reset
 * (never one holding a request: their refs stay good). 0, or NF_ESTATE when ref is stale
 * (answered already, or the client went away). Owner thread. */
int hsrv_reply(struct hsrv_ref ref,
               int code,
               const char *ctype,
               const char *extra,
               const char *body,
               size_t len,
               int close);

/* hsrv_ref_live: 1 when hsrv_reply(ref) would answer (ref is neither answered nor stale). Owner
 * thread. */
int hsrv_ref_live(struct hsrv_ref ref);

/* hsrv_allow_origin: during on_request or on_head: the answer to ref's request (later ones
 * too, for a held request) carries Access-Control-Allow-Origin: origin, Vary: Origin and
 * Access-Control-Expose-Headers: Retry-After, so that a page on that origin may read it (CORS).
 * origin is borrowed until the answer is written: one header line of plain text, at most 256
 * bytes (ingest checks --allowed-origins at start). Owner thread. */
void hsrv_allow_origin(struct hsrv_ref ref, const char *origin);

/* hsrv_hold: called during on_request instead of answering: the answer comes later through
 * hsrv_reply(ref); if the client goes away first, on_gone(cookie) is called (once). */
void hsrv_hold(struct hsrv_ref ref, void *cookie);

/* hsrv_stop_accepting: closes the listening socket; open connections stay. Owner thread. */
void hsrv_stop_accepting(struct hsrv *s);

/* hsrv_open_conns: connections open now (owner thread; a relaxed figure for others). */
uint32_t hsrv_open_conns(const struct hsrv *s);

/* hsrv_unsent_bytes: bytes of answers waiting to be written now (owner thread; a relaxed figure
 * for others). */
uint64_t hsrv_unsent_bytes(const struct hsrv *s);

/* hsrv_free: closes every connection (held requests are dropped without on_gone) and the
 * listening socket, frees everything. Owner thread, after its loop ended. NULL is a no-op. */
void hsrv_free(struct hsrv *s);

#endif
