/* relay: the HTTP front door of a cluster standby (docs/CLUSTER.md, "Any instance takes
 * transfers"). While an instance waits for the cluster log's lease it has no pipeline, so it
 * cannot accept a transfer itself; the relay listens on its --listen address and passes every
 * connection, byte for byte, to the instance that holds the lease (the address that instance
 * advertises in the lease bucket). The holder parses, authenticates, de-duplicates and answers:
 * a 202 through the relay means exactly what it means from the holder, and idempotency keys are
 * cluster-wide because one instance writes the log. GET /metrics as a connection's first request
 * is answered by the relay itself (the standby's own figures, so that scraping every host does
 * not count the holder twice). With no holder address known, or when the holder does not answer,
 * the relay answers 503 with Retry-After and a JSON body saying why (nothing was forwarded).
 *
 * One thread "relay" runs a libevent loop; it owns the listener and every connection (each a pair
 * of bufferevents, allocated per connection: a standby's path, not the pipeline's request path).
 * relay_target may be called from any thread: the address is copied under a mutex that the loop
 * takes once per new connection.
 *
 * Lifecycle (one controlling thread, nearftd's main): relay_new -> relay_target ... -> relay_free
 * (closes the listener and every connection before it returns, so that the port is free for the
 * instance's own listeners once it holds the lease). */
#ifndef NF_RELAY_H
#define NF_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct relay;

/* A connection's first request line must fit in this many bytes (a CR before its LF included),
 * and arrive within relay_opts.head_ms of the accept, however its bytes trickle in. */
#define RELAY_HEAD_MAX 8192u
#define RELAY_HEAD_MS  10000u /* relay_opts.head_ms when 0 */
#define RELAY_WRITE_MS 30000u /* relay_opts.write_ms when 0 */

/* What relay_new needs; borrowed until it returns. */
struct relay_opts {
    const char *listen;    /* "HOST:PORT", as --listen */
    const char *advertise; /* this instance's --cluster-advertise, or NULL: --listen's host with
                              the bound port (none for a wildcard host) */
    unsigned max_conns;    /* connections relayed at once (one more is closed at accept); capped
                              to what the open-files limit holds at two descriptors each */
    unsigned head_ms;      /* the first request line's deadline from the accept; 0: default */
    unsigned write_ms;     /* a side whose pending output makes no progress this long ends its
                              pair (the relay's own answers too); 0: default */
};

/* What the relay does with a connection, given the bytes it has received so far. */
enum relay_head_action {
    RELAY_HEAD_MORE,     /* no LF yet, and at most RELAY_HEAD_MAX bytes: wait for more */
    RELAY_HEAD_FORWARD,  /* a whole first line, not GET /metrics: pass the connection on */
    RELAY_HEAD_METRICS,  /* "GET /metrics " or "GET /metrics?" and a line end: answer it here */
    RELAY_HEAD_TOO_LONG, /* no LF within the first RELAY_HEAD_MAX + 1 bytes: answer 400 */
};

/* relay_head_classify: the action for a connection that has sent buf[0..len) so far. The line
 * ends at the first LF (a CR before it is not part of the line, as evbuffer_search_eol's
 * EVBUFFER_EOL_CRLF has it). Decided by the first RELAY_HEAD_MAX + 1 bytes alone, and once
 * decided (not RELAY_HEAD_MORE) the same for every longer input that starts with buf, so it does
 * not depend on how the bytes were split across reads. Reads only buf[0..len). Pure (no I/O,
 * any thread); borrows buf until return. */
enum relay_head_action relay_head_classify(const char *buf, size_t len);

/* relay_new: binds o->listen and starts the thread. An accept that runs out of descriptors
 * pauses the listener until a connection closes (or a second passed) instead of spinning.
 * Returns the relay (caller owns; relay_free) or NULL with *err = NF_ECONFIG (bad address),
 * NF_EIO (bind/listen failed, errno logged) or NF_ENOMEM. */
struct relay *relay_new(const struct relay_opts *o, int *err);

/* relay_port: the bound TCP port. */
uint16_t relay_port(const struct relay *r);

/* relay_target: where new connections go from now on: "HOST:PORT" of the lease holder's API, or
 * NULL / "" (none known: new connections get 503). Resolved here (numeric hosts need no DNS);
 * an address that does not resolve counts as none. So does this relay's own address (its
 * advertised one, its bound one, or loopback at its port when it listens on a wildcard): a holder
 * restarted in place finds the lease still naming it until the lease expires, and would relay to
 * itself. So does a loopback address when the relay listens on another one: the holder chose
 * to serve loopback clients only. Each of these answers 503 with its own reason and is logged
 * once. Connections already relayed keep theirs. Any thread. Returns 0, or NF_ECONFIG when
 * hostport does not parse or resolve. */
int relay_target(struct relay *r, const char *hostport);

/* relay_free: stops the thread, closes the listener and every connection. NULL-safe. */
void relay_free(struct relay *r);

#endif
