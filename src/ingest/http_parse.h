/* http_parse: the ingest stage's small pure parsers: the route table (path -> route and allowed
 * method), the ?wait= query parameter, decimal transfer ids, the Idempotency-Key header and the
 * listen address. No I/O, no allocation, no state; any thread (ingest threads on the request path,
 * the main thread for the listen address, and the fuzz target). Stage-private header. */
#ifndef NF_INGEST_HTTP_PARSE_H
#define NF_INGEST_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Methods a route accepts. */
enum ingest_method {
    INGEST_METHOD_GET = 1,
    INGEST_METHOD_POST = 2,
};

/* ingest_route_match: the route (enum ingest_route, ingest_int.h) for path, the one method it
 * accepts in *method, and in *rest the path parameter ({id} / {hash}, non-empty, pointing into
 * path) or "" when the route has none. Unknown paths: INGEST_ROUTE_OTHER with *method 0.
 * Borrows path; *rest points into it. */
int ingest_route_match(const char *path, int *method, const char **rest);

/* ingest_parse_wait: the `wait` parameter of a raw query string ("a=1&wait=executed"; NULL or no
 * wait: level 0). *level gets 0, JOB_SUBMITTED or JOB_EXECUTED, *final 1 for wait=final.
 * 0 or NF_EINVAL (unknown value, or `wait` without a value). */
int ingest_parse_wait(const char *query, uint8_t *level, uint8_t *final);

/* ingest_parse_id: s (NUL-terminated) as a decimal u64 of 1..20 digits. 0, NF_EINVAL (empty or a
 * non-digit) or NF_ERANGE (above 2^64-1). */
int ingest_parse_id(const char *s, uint64_t *out);

/* ingest_idem_key_ok: 1 when s is 1..128 bytes of printable ASCII (0x20..0x7e), with its length
 * in *len; else 0. */
int ingest_idem_key_ok(const char *s, size_t *len);

/* ingest_parse_listen: "HOST:PORT", "[V6]:PORT", ":PORT" or "*:PORT" (empty host = any) into
 * host[0..host_cap) and *port. 0 or NF_ECONFIG. */
int ingest_parse_listen(const char *s, char *host, size_t host_cap, uint16_t *port);

#endif
