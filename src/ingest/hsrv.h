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
 * Memory: all connection state and read buffers are allocated in hsrv_new; large bodies borrow a
 * buffer from the pool (each allocated the first time it is needed, then reused until
 * hsrv_free). An answer the socket cannot take at once is kept in the connection's evbuffer (the
 * only allocation after warm-up, and only on that slow path). */
#ifndef NF_INGEST_HSRV_H
#define NF_INGEST_HSRV_H

#include <event2/event.h>
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
    int fd;            /* the connection's socket: for getpeername only, never read or written */
};

struct hsrv_opts {
    uint32_t max_conns; /* connections this thread keeps open; beyond, accepting pauses */
    uint32_t big_bufs;  /* large-body buffers this thread may hold at once */
    size_t max_head;    /* request line + headers */
    size_t max_body;    /* decoded body bytes; larger is 413 */
    uint64_t idle_ms;   /* an open connection without a request in flight is closed after */
    void (*on_request)(struct hsrv_req *r, void *arg);
    void (*on_gone)(void *cookie, void *arg); /* a held request's client went away */
    void *arg;
};

/* hsrv_new: a server on base accepting from listen_fd (nonblocking, listening; hsrv owns it from
 * now on and closes it). NULL with *err (NF_ENOMEM, NF_ECONFIG) on failure; listen_fd is then
 * still the caller's. Call from the thread that will run base, or before it runs. */
struct hsrv *hsrv_new(struct event_base *base, int listen_fd, const struct hsrv_opts *o, int *err);

/* hsrv_reply: answers the request ref names: status code (with its reason phrase), Content-Type
 * ctype (NULL: application/json), extra header lines `extra` ("Name: value\r\n"..., or NULL), body
 * [0..len). close != 0 closes the connection after the answer. 0, or NF_ESTATE when ref is
 * stale (answered already, or the client went away). Owner thread. */
int hsrv_reply(struct hsrv_ref ref,
               int code,
               const char *ctype,
               const char *extra,
               const char *body,
               size_t len,
               int close);

/* hsrv_hold: called during on_request instead of answering: the answer comes later through
 * hsrv_reply(ref); if the client goes away first, on_gone(cookie) is called (once). */
void hsrv_hold(struct hsrv_ref ref, void *cookie);

/* hsrv_stop_accepting: closes the listening socket; open connections stay. Owner thread. */
void hsrv_stop_accepting(struct hsrv *s);

/* hsrv_open_conns: connections open now (owner thread; a relaxed figure for others). */
uint32_t hsrv_open_conns(const struct hsrv *s);

/* hsrv_free: closes every connection (held requests are dropped without on_gone) and the
 * listening socket, frees everything. Owner thread, after its loop ended. NULL is a no-op. */
void hsrv_free(struct hsrv *s);

#endif
