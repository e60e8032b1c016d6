/* ingest: nearftd's HTTP front door. N ingest threads (cfg ingest_threads), each with its own
 * event_base and HTTP/1.1 wire (hsrv.c) on its own SO_REUSEPORT listening socket (all bound to
 * cfg listen), parse
 * transfer requests (native /v1, the Node /send-ft and the Rust /transfer drop-ins), fill jobs from
 * the pipeline's slab, lend them to the pipeline with pipe_accept_submit() and answer when the
 * pipeline reports them durable (or, for waiting requests, submitted/executed), through the
 * thread's reply ring. They also serve the status routes, /health, /metrics and /debug/stages.
 * Request contexts, parse scratch and reply buffers are fixed per thread and allocated by
 * ingest_start(): nothing on the request path mallocs (connections, their buffers and events are
 * preallocated by hsrv; bodies over 4 KiB borrow a pooled buffer allocated once). The one
 * exception is the slow path of an answer the socket cannot take at once, which waits in the
 * connection's evbuffer.
 *
 * Lifecycle (one controlling thread, typically main):
 *   ingest_new -> ingest_start -> ... -> ingest_stop -> (stop the pipeline) -> ingest_free.
 * The pipeline must be created before ingest_start and must stop pushing into the reply rings
 * before ingest_free, because contexts lent to it (struct pipe_accept) live in ingest's memory. */
#ifndef NF_INGEST_H
#define NF_INGEST_H

#include <stddef.h>
#include <stdint.h>

struct cfg;
struct nf_pipe;
struct ingest;

/* ingest_new: validates the ingest settings of cfg (listen address, thread count, limits) and
 * prepares the stage; starts nothing and binds nothing. Borrows cfg and p for the stage's life
 * (both must outlive it). Returns the stage (caller owns; release with ingest_free) or NULL with
 * *err = NF_ECONFIG (bad setting, logged) / NF_ENOMEM. */
struct ingest *ingest_new(const struct cfg *cfg, struct nf_pipe *p, int *err);

/* ingest_start: allocates the per-thread slabs, binds one SO_REUSEPORT listening socket per thread
 * (when the configured port is 0 the first socket picks a free port and the others share it) and
 * starts the threads "ingest-0".. . 0, NF_EIO (bind/listen failed, errno logged), NF_ENOMEM or
 * NF_ESTATE (already started). On failure nothing is left running. */
int ingest_start(struct ingest *in);

/* ingest_use_listen_fd: serve on fd, a listening TCP socket the service manager passed (socket
 * activation), instead of binding --listen: every ingest thread accepts from it (the first
 * thread on fd itself, the others on duplicates), so connections made before nearftd was ready
 * wait in its backlog. The stage owns fd from this call on (also when ingest_start fails). Main
 * thread, before ingest_start; 0 or NF_ESTATE (started already, fd closed). */
int ingest_use_listen_fd(struct ingest *in, int fd);

/* ingest_listen_advertise: the address other hosts reach a listener on listen at once it is
 * bound to port: "HOST:PORT" ("[V6]:PORT") in out[0..cap). NF_ENOTFOUND when listen's host is a
 * wildcard (empty, "*", 0.0.0.0, ::): only the operator knows the address then; NF_ECONFIG when
 * listen does not parse or out is too small. Any thread. */
int ingest_listen_advertise(const char *listen, uint16_t port, char *out, size_t cap);

struct auth_table;

/* ingest_listen_loopback: whether the address --listen names (HOST:PORT, as ingest_new reads it)
 * is a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104), resolved the way the listener
 * binds it (the first getaddrinfo answer; an empty host or "*" is every interface, not loopback).
 * 1 loopback, 0 not, NF_ECONFIG when it does not parse or resolve. Main thread, at start-up. */
int ingest_listen_loopback(const char *listen);

/* ingest_auth_set: gives the stage the bearer-token table t (takes t; NULL: no token is valid).
 * Only meaningful when cfg auth_tokens is set (every route but GET /health then needs a token).
 * Before ingest_start the table is simply kept. Once the threads run, the new table is published
 * with an atomic exchange and the old one is freed only after every ingest thread has run a
 * callback of its own loop after the exchange: an ingest thread reads the table only inside one
 * request callback, so between two callbacks it holds no pointer to it. Each thread is woken
 * through its own eventfd, and acknowledges by storing the epoch it saw. The call waits for those
 * acknowledgements (normally microseconds; at most 10 s, after which the old table is
 * deliberately leaked rather than freed under a reader, and NF_ESTATE is returned). A per-thread
 * copy refreshed by an eventfd would do as well but copies the table once per thread; the
 * exchange keeps one table and no lock on the request path. budgets (borrowed until ingest_free;
 * the set the pipeline replayed the log into) gives each token with a max_amount_per_hour or a
 * max_amount_per_day its windows, created there when the name (or the limit) is new, kept when it
 * was there before (a reload keeps the budget). Main thread only. 0, NF_ESTATE, or NF_ENOMEM /
 * NF_EINVAL (a token has such a limit and budgets is NULL) with t freed and the previous table
 * kept. */
struct spend_tokens;
int ingest_auth_set(struct ingest *in, struct auth_table *t, struct spend_tokens *budgets);

/* ingest_port: the TCP port the listeners are bound to (after ingest_start), else 0. */
uint16_t ingest_port(const struct ingest *in);

/* ingest_stop: stops accepting connections, gives requests in flight a bounded grace period
 * (at most cfg wait_timeout_ms, capped at a few seconds) to finish, answers the rest with their
 * current state, closes every connection and joins the threads. Idempotent; safe on a stage that
 * never started. Requests already lent to the pipeline stay lent (see ingest_free). */
void ingest_stop(struct ingest *in);

/* ingest_free: stops the stage if needed and releases everything. NULL-safe. Call only after the
 * pipeline no longer pushes into the reply rings (it may still hold a struct pipe_accept that
 * lives in ingest's memory until then). */
void ingest_free(struct ingest *in);

#endif
