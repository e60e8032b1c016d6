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

/* ingest_idem_key_ok: 1 when s is 1..128 bytes of printable ASCII (0x20..0x7e), with its length
 * in *len; else 0. */
int ingest_idem_key_ok(const char *s, size_t *len);

/* ingest_parse_listen: "HOST:PORT", "[V6]:PORT", ":PORT" or "*:PORT" (empty host = any) into
 * host[0..host_cap) and *port. 0 or NF_ECONFIG. */
int ingest_parse_listen(const char *s, char *host, size_t host_cap, uint16_t *port);

/* ingest_route_scope: the token scope (enum auth_scope, auth.h) a route needs: AUTH_SCOPE_TRANSFER
 * for the POST routes, AUTH_SCOPE_READ for status by id or hash, AUTH_SCOPE_METRICS for /metrics
 * and /debug/stages; 0 for /health (open to all) and for unknown routes. */
unsigned ingest_route_scope(int route);

/* ingest_bearer: the token of an Authorization value "Bearer TOKEN" (scheme case-insensitive, one
 * or more spaces, TOKEN in RFC 6750 token68 syntax, at most 512 bytes). 0 with *tok pointing into
 * v and *len set, or NF_EINVAL. v NULL is NF_EINVAL. Borrows v. */
int ingest_bearer(const char *v, size_t vlen, const char **tok, size_t *len);

/* ingest_content_type_json: 1 when the Content-Type value v[0..vlen) is application/json
 * (case-insensitive), optionally followed by parameters ("; charset=utf-8"); else 0. */
int ingest_content_type_json(const char *v, size_t vlen);

/* ---- HTTP/1.x request heads (the ingest wire, hsrv.c) ---------------------------------------- */

/* Request methods the wire tells apart; every other token is INGEST_HTTP_OTHER. */
enum ingest_http_method {
    INGEST_HTTP_GET = 1,
    INGEST_HTTP_POST = 2,
    INGEST_HTTP_HEAD = 3,
    INGEST_HTTP_OTHER = 4,
    INGEST_HTTP_OPTIONS = 5, /* a CORS preflight */
};

/* One parsed request head. Pointers point into the parsed buffer; lengths exclude terminators. */
struct ingest_http_head {
    size_t head_len;         /* bytes up to and including the blank line */
    uint8_t method;          /* enum ingest_http_method */
    uint8_t minor;           /* HTTP/1.<minor>: 0 or 1 */
    uint8_t keep_alive;      /* the connection stays open after the answer */
    uint8_t chunked;         /* Transfer-Encoding: chunked */
    uint8_t has_length;      /* a Content-Length header was present */
    uint8_t expect_continue; /* Expect: 100-continue */
    const char *path;        /* origin-form path, without the query */
    size_t path_len;
    const char *query; /* after '?', or NULL */
    size_t query_len;
    const char *idem; /* Idempotency-Key value (trimmed), or NULL */
    size_t idem_len;
    const char *authorization; /* Authorization value (trimmed), or NULL */
    size_t authorization_len;
    const char *content_type; /* Content-Type value (trimmed), or NULL */
    size_t content_type_len;
    const char *origin; /* Origin value (trimmed), or NULL */
    size_t origin_len;
    uint8_t has_host; /* a Host header was present */
    uint64_t content_length;
    /* On error: the status to answer, the field (header or "request line") and the reason. */
    int err_status;
    const char *err_field;
    const char *err_reason;
};

/* Where the parse of an unfinished head got to, so that a head arriving in pieces is scanned
 * once instead of from byte 0 on every read. Zero it for a new head (or a new connection); the
 * parser zeroes it itself whenever it returns non-zero (a head done or refused). Positions are
 * offsets, not pointers: the caller may move the bytes (to a larger buffer) between calls. */
struct ingest_head_state {
    size_t line;       /* offset of the first line not parsed yet */
    size_t scanned;    /* offset up to which that line was searched for its LF */
    uint8_t started;   /* h holds the fields of the lines before `line` */
    uint8_t in_fields; /* the request line is done */
    uint8_t conn_close, conn_keep, has_te;
    /* Offsets + 1 of the string fields (0: absent); h's pointers are set from them at the end. */
    size_t path, query, idem, authorization, content_type, origin;
};

/* ingest_http_head_resume: parses the request head at buf[0..len), resuming where the call
 * before (same st and h, a longer prefix of the same bytes) stopped: every byte is looked at a
 * bounded number of times however the head is split. Lines end in CRLF; a bare LF is 400.
 * Returns 1 when the head is complete (h filled), 0 when more bytes are needed (and the head so
 * far fits in max_head), or NF_EINVAL with h->err_status (400 malformed, 431 head larger than
 * max_head, 501 a transfer coding other than chunked, 505 a version other than HTTP/1.0 or 1.1,
 * 417 an unknown expectation) and h->err_field / h->err_reason set. Content-Length and
 * Transfer-Encoding together, or two different Content-Lengths, are 400 (request smuggling); so is
 * a second Idempotency-Key, Authorization, Content-Type, Origin or Host header, and an HTTP/1.1
 * request without Host (RFC 9112 3.2). Borrows buf; once 1 is returned h's pointers point into
 * it (before that they are unset). st and h belong to the caller between calls. */
int ingest_http_head_resume(const char *buf,
                            size_t len,
                            size_t max_head,
                            struct ingest_head_state *st,
                            struct ingest_http_head *h);

/* ingest_http_head_parse: ingest_http_head_resume from a fresh state, for a head given whole. */
int ingest_http_head_parse(const char *buf,
                           size_t len,
                           size_t max_head,
                           struct ingest_http_head *h);

/* Where a chunked body's validation got to: the first byte after the last complete chunk and the
 * data bytes before it. Zero it for a new body; keep it while the same body grows. On a refusal
 * the parser sets err_field and err_reason (the header or part named, and why). */
struct ingest_chunk_state {
    size_t pos;
    uint64_t total;
    const char *err_field;
    const char *err_reason;
};

/* ingest_http_chunked: decodes a chunked body that starts at buf[0..len) (RFC 9112 7.1: lines end
 * in CRLF, chunk extensions are `;name[=token|quoted-string]`, trailer fields are `token: value`
 * without control bytes). Returns 1 when the whole body (last chunk and trailers) is present:
 * *raw_len gets the bytes it spans and the decoded body is moved to buf[0..*body_len) (in place;
 * buf is written only then). Returns 0 when more bytes are needed, NF_EINVAL for malformed framing
 * (st->err_field / st->err_reason say what, when st is given), NF_ERANGE when the decoded body
 * would exceed max_body (answer 413). st (NULL: start over) resumes validation after the chunks
 * an earlier call over a shorter prefix of the same bytes already checked, so a body that arrives
 * in pieces is scanned once, not once per piece. Borrows buf. */
int ingest_http_chunked(char *buf,
                        size_t len,
                        size_t max_body,
                        struct ingest_chunk_state *st,
                        size_t *raw_len,
                        size_t *body_len);

#endif
