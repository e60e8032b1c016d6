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

#include <stdint.h>

struct relay;

/* relay_new: binds listen ("HOST:PORT", as --listen) and starts the thread. max_conns caps the
 * connections relayed at once (one more is closed at accept). Borrows listen until return.
 * Returns the relay (caller owns; relay_free) or NULL with *err = NF_ECONFIG (bad address),
 * NF_EIO (bind/listen failed, errno logged) or NF_ENOMEM. */
struct relay *relay_new(const char *listen, unsigned max_conns, int *err);

/* relay_port: the bound TCP port. */
uint16_t relay_port(const struct relay *r);

/* relay_target: where new connections go from now on: "HOST:PORT" of the lease holder's API, or
 * NULL / "" (none known: new connections get 503). Resolved here (numeric hosts need no DNS);
 * an address that does not resolve counts as none. Connections already relayed keep theirs.
 * Any thread. Returns 0, or NF_ECONFIG when hostport does not parse or resolve. */
int relay_target(struct relay *r, const char *hostport);

/* relay_free: stops the thread, closes the listener and every connection. NULL-safe. */
void relay_free(struct relay *r);

#endif
