/* http_parse: route table and the small text parsers of the ingest stage (see http_parse.h).
 * Pure: no I/O, no allocation, no global state; any thread. Fuzzed by fuzz_ingest_http. */
#include "http_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "ingest.h"
#include "ingest_int.h"
#include "job.h"
#include "nf_err.h"

struct route_entry {
    const char *path; /* exact path, or the prefix before a parameter */
    int has_param;
    int route;
    int method;
};

/* Order matters: /transfer/tx/ before /transfer/. */
static const struct route_entry routes[] = {
    {"/v1/transfers", 0, INGEST_ROUTE_V1_TRANSFERS_POST, INGEST_METHOD_POST},
    {"/send-ft", 0, INGEST_ROUTE_SEND_FT, INGEST_METHOD_POST},
    {"/transfer", 0, INGEST_ROUTE_RUST_TRANSFER, INGEST_METHOD_POST},
    {"/v1/transfers/", 1, INGEST_ROUTE_V1_TRANSFERS_GET, INGEST_METHOD_GET},
    {"/v1/tx/", 1, INGEST_ROUTE_V1_TX_GET, INGEST_METHOD_GET},
    {"/transfer/tx/", 1, INGEST_ROUTE_NODE_TX_GET, INGEST_METHOD_GET},
    {"/transfer/", 1, INGEST_ROUTE_NODE_JOB_GET, INGEST_METHOD_GET},
    {"/health", 0, INGEST_ROUTE_HEALTH, INGEST_METHOD_GET},
    {"/metrics", 0, INGEST_ROUTE_METRICS, INGEST_METHOD_GET},
    {"/debug/stages", 0, INGEST_ROUTE_DEBUG_STAGES, INGEST_METHOD_GET},
    {"/debug/recent", 0, INGEST_ROUTE_DEBUG_RECENT, INGEST_METHOD_GET},
    {"/", 0, INGEST_ROUTE_PAGE, INGEST_METHOD_GET},
};

int ingest_route_match(const char *path, int *method, const char **rest)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct route_entry *r = &routes[i];
        size_t n = strlen(r->path);
        if (strncmp(path, r->path, n) != 0)
            continue;
        if (!r->has_param && path[n] == '\0') {
            *method = r->method;
            *rest = path + n;
            return r->route;
        }
        if (r->has_param && path[n] != '\0') {
            *method = r->method;
            *rest = path + n;
            return r->route;
        }
    }
    *method = 0;
    *rest = path + strlen(path);
    return INGEST_ROUTE_OTHER;
}

unsigned ingest_route_scope(int route)
{
    switch (route) {
    case INGEST_ROUTE_V1_TRANSFERS_POST:
    case INGEST_ROUTE_SEND_FT:
    case INGEST_ROUTE_RUST_TRANSFER:
        return AUTH_SCOPE_TRANSFER;
    case INGEST_ROUTE_V1_TRANSFERS_GET:
    case INGEST_ROUTE_V1_TX_GET:
    case INGEST_ROUTE_NODE_JOB_GET:
    case INGEST_ROUTE_NODE_TX_GET:
        return AUTH_SCOPE_READ;
    case INGEST_ROUTE_METRICS:
    case INGEST_ROUTE_DEBUG_STAGES:
    case INGEST_ROUTE_DEBUG_RECENT:
    case INGEST_ROUTE_PAGE:
        return AUTH_SCOPE_METRICS;
    default:
        return 0;
    }
}

int ingest_bearer(const char *v, size_t vlen, const char **tok, size_t *len)
{
    static const char scheme[] = "bearer";
    if (v == NULL || vlen < sizeof(scheme) + 1)
        return NF_EINVAL;
    for (size_t i = 0; i < sizeof(scheme) - 1; i++) {
        char c = v[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c | 0x20);
        if (c != scheme[i])
            return NF_EINVAL;
    }
    size_t i = sizeof(scheme) - 1;
    if (v[i] != ' ')
        return NF_EINVAL;
    while (i < vlen && v[i] == ' ')
        i++;
    size_t start = i;
    while (i < vlen) {
        unsigned char c = (unsigned char)v[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
        if (!ok)
            break;
        i++;
    }
    if (i == start)
        return NF_EINVAL;
    while (i < vlen && v[i] == '=')
        i++;
    if (i != vlen || vlen - start > 512)
        return NF_EINVAL;
    *tok = v + start;
    *len = vlen - start;
    return 0;
}

int ingest_parse_wait(const char *query, uint8_t *level, uint8_t *final)
{
    *level = 0;
    *final = 0;
    if (query == NULL)
        return 0;
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n >= 4 && memcmp(p, "wait", 4) == 0 && (n == 4 || p[4] == '=')) {
            const char *v = p + 5;
            size_t vn = n > 5 ? n - 5 : 0;
            if (vn == 9 && memcmp(v, "submitted", 9) == 0) {
                *level = JOB_SUBMITTED;
                *final = 0;
            } else if (vn == 8 && memcmp(v, "executed", 8) == 0) {
                *level = JOB_EXECUTED;
                *final = 0;
            } else if (vn == 5 && memcmp(v, "final", 5) == 0) {
                *level = JOB_EXECUTED;
                *final = 1;
            } else {
                return NF_EINVAL;
            }
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return 0;
}

int ingest_idem_key_ok(const char *s, size_t *len)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (n >= 128 || (unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
            return 0;
    }
    if (n == 0)
        return 0;
    *len = n;
    return 1;
}

int ingest_parse_listen(const char *s, char *host, size_t host_cap, uint16_t *port)
{
    const char *h = s, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return NF_ECONFIG;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return NF_ECONFIG;
        hlen = (size_t)(colon - s);
    }
    if (hlen >= host_cap)
        return NF_ECONFIG;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (strcmp(host, "*") == 0)
        host[0] = '\0';
    const char *ps = colon + 1;
    if (*ps < '0' || *ps > '9')
        return NF_ECONFIG;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(ps, &end, 10);
    if (errno != 0 || *end != '\0' || v > 65535)
        return NF_ECONFIG;
    *port = (uint16_t)v;
    return 0;
}

/* ---- HTTP/1.x request heads ------------------------------------------------------------------ */

static int http_fail(struct ingest_http_head *h, int status, const char *field, const char *reason)
{
    h->err_status = status;
    h->err_field = field;
    h->err_reason = reason;
    return NF_EINVAL;
}

/* RFC 9110 tchar. */
static int http_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return 1;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int http_ieq(const char *a, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c | 0x20);
        if (c != (unsigned char)lit[i])
            return 0;
    }
    return 1;
}

/* Comma-separated list value: is token lit one of its elements (case-insensitive)? */
static int http_list_has(const char *v, size_t n, const char *lit)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s && http_ieq(v + s, e - s, lit))
            return 1;
    }
    return 0;
}

/* The last element of a comma-separated list (trimmed), for Transfer-Encoding. */
static void http_list_last(const char *v, size_t n, const char **out, size_t *out_len)
{
    size_t e = n;
    while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == ','))
        e--;
    size_t s = e;
    while (s > 0 && v[s - 1] != ',')
        s--;
    while (s < e && (v[s] == ' ' || v[s] == '\t'))
        s++;
    *out = v + s;
    *out_len = e - s;
}

/* Finds the end of the line starting at p (bounded by end): returns the position of '\n' or NULL;
 * *eol gets the line's content end (before an optional '\r'). For the chunked body's pass 2,
 * over framing already checked. */
static const char *http_line(const char *p, const char *end, const char **eol)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL)
        return NULL;
    *eol = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
    return nl;
}

/* The strict line finder: the line starting at p ends in CRLF. Returns the position of its '\n'
 * (*eol at its '\r'), NULL when no '\n' is in [from, end) (more bytes are needed; from lets a
 * caller skip what an earlier call already searched), or sets *bare and returns NULL for a '\n'
 * without the '\r' before it (RFC 9112 2.2: a bare LF is not a line end here). */
static const char *
http_crlf_line(const char *p, const char *from, const char *end, const char **eol, int *bare)
{
    *bare = 0;
    const char *nl = memchr(from, '\n', (size_t)(end - from));
    if (nl == NULL)
        return NULL;
    if (nl == p || nl[-1] != '\r') {
        *bare = 1;
        return NULL;
    }
    *eol = nl - 1;
    return nl;
}

int ingest_content_type_json(const char *v, size_t vlen)
{
    size_t e = 0;
    while (e < vlen && v[e] != ';')
        e++;
    size_t t = e;
    while (t > 0 && (v[t - 1] == ' ' || v[t - 1] == '\t'))
        t--;
    return http_ieq(v, t, "application/json");
}

/* The request line p[0..eol): method, origin-form target, version, into h and st. */
static int http_request_line(const char *buf,
                             const char *p,
                             const char *eol,
                             struct ingest_head_state *st,
                             struct ingest_http_head *h)
{
    const char *m = p;
    while (m < eol && http_tchar((unsigned char)*m))
        m++;
    if (m == p || m >= eol || *m != ' ')
        return http_fail(h, 400, "request line", "must be METHOD SP target SP HTTP/1.x");
    size_t ml = (size_t)(m - p);
    if (ml == 3 && memcmp(p, "GET", 3) == 0)
        h->method = INGEST_HTTP_GET;
    else if (ml == 4 && memcmp(p, "POST", 4) == 0)
        h->method = INGEST_HTTP_POST;
    else if (ml == 4 && memcmp(p, "HEAD", 4) == 0)
        h->method = INGEST_HTTP_HEAD;
    else if (ml == 7 && memcmp(p, "OPTIONS", 7) == 0)
        h->method = INGEST_HTTP_OPTIONS;
    else
        h->method = INGEST_HTTP_OTHER;
    /* Target: origin-form only ("/path?query"). */
    const char *tg = m + 1;
    const char *te = tg;
    while (te < eol && *te != ' ') {
        unsigned char c = (unsigned char)*te;
        if (c <= 0x20 || c == 0x7f)
            return http_fail(h, 400, "request line", "control character in the target");
        te++;
    }
    if (te == tg || te >= eol || *tg != '/')
        return http_fail(h, 400, "request line", "the target must be a path starting with /");
    const char *q = memchr(tg, '?', (size_t)(te - tg));
    st->path = (size_t)(tg - buf) + 1;
    h->path_len = (size_t)((q ? q : te) - tg);
    if (q != NULL) {
        st->query = (size_t)(q + 1 - buf) + 1;
        h->query_len = (size_t)(te - q - 1);
    }
    /* Version. */
    const char *v = te + 1;
    size_t vl = (size_t)(eol - v);
    if (vl != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return http_fail(h, 400, "request line", "must end in HTTP/1.0 or HTTP/1.1");
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return http_fail(h, 505, "request line", "only HTTP/1.0 and HTTP/1.1 are served");
    h->minor = (uint8_t)(v[7] - '0');
    h->keep_alive = h->minor == 1;
    return 0;
}

/* One header field line p[0..eol) into h and st. */
static int http_field_line(const char *buf,
                           const char *p,
                           const char *eol,
                           struct ingest_head_state *st,
                           struct ingest_http_head *h)
{
    if (*p == ' ' || *p == '\t')
        return http_fail(h, 400, "headers", "obsolete line folding is not accepted");
    const char *c = p;
    while (c < eol && http_tchar((unsigned char)*c))
        c++;
    if (c == p || c >= eol || *c != ':')
        return http_fail(h, 400, "headers", "a header line must be name: value");
    size_t nlen = (size_t)(c - p);
    const char *val = c + 1, *ve = eol;
    while (val < ve && (*val == ' ' || *val == '\t'))
        val++;
    while (ve > val && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    for (const char *x = val; x < ve; x++) {
        unsigned char ch = (unsigned char)*x;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return http_ieq(p, nlen, "idempotency-key")
                       ? http_fail(h, 400, "Idempotency-Key",
                                   "must be 1 to 128 bytes of printable ASCII")
                       : http_fail(h, 400, "headers", "control character in a header value");
    }
    size_t vlen = (size_t)(ve - val);
    size_t voff = (size_t)(val - buf) + 1;
    if (http_ieq(p, nlen, "content-length")) {
        if (vlen == 0 || vlen > 19)
            return http_fail(h, 400, "Content-Length", "must be a decimal byte count");
        uint64_t n = 0;
        for (size_t i = 0; i < vlen; i++) {
            if (val[i] < '0' || val[i] > '9')
                return http_fail(h, 400, "Content-Length", "must be a decimal byte count");
            n = n * 10u + (uint64_t)(val[i] - '0');
        }
        if (h->has_length && n != h->content_length)
            return http_fail(h, 400, "Content-Length", "given twice with different values");
        h->has_length = 1;
        h->content_length = n;
    } else if (http_ieq(p, nlen, "transfer-encoding")) {
        const char *last;
        size_t ll;
        http_list_last(val, vlen, &last, &ll);
        if (!http_ieq(last, ll, "chunked"))
            return http_fail(h, 501, "Transfer-Encoding", "only chunked is supported");
        if (vlen != ll && !http_ieq(val, vlen, "chunked"))
            return http_fail(h, 501, "Transfer-Encoding", "only chunked is supported");
        st->has_te = 1;
    } else if (http_ieq(p, nlen, "connection")) {
        if (http_list_has(val, vlen, "close"))
            st->conn_close = 1;
        if (http_list_has(val, vlen, "keep-alive"))
            st->conn_keep = 1;
    } else if (http_ieq(p, nlen, "expect")) {
        if (!http_ieq(val, vlen, "100-continue"))
            return http_fail(h, 417, "Expect", "only 100-continue is supported");
        h->expect_continue = 1;
    } else if (http_ieq(p, nlen, "idempotency-key")) {
        /* Two keys would leave it to chance which one deduplicates the request. */
        if (st->idem != 0)
            return http_fail(h, 400, "Idempotency-Key", "given twice");
        st->idem = voff;
        h->idem_len = vlen;
    } else if (http_ieq(p, nlen, "authorization")) {
        if (st->authorization != 0)
            return http_fail(h, 400, "Authorization", "given twice");
        st->authorization = voff;
        h->authorization_len = vlen;
    } else if (http_ieq(p, nlen, "content-type")) {
        if (st->content_type != 0)
            return http_fail(h, 400, "Content-Type", "given twice");
        st->content_type = voff;
        h->content_type_len = vlen;
    } else if (http_ieq(p, nlen, "origin")) {
        if (st->origin != 0)
            return http_fail(h, 400, "Origin", "given twice");
        st->origin = voff;
        h->origin_len = vlen;
    } else if (http_ieq(p, nlen, "host")) {
        if (h->has_host)
            return http_fail(h, 400, "Host", "given twice");
        h->has_host = 1;
    }
    return 0;
}

/* The end of the head: the checks that need every field, then h's pointers from st. */
static int http_head_done(const char *buf,
                          size_t head_len,
                          const struct ingest_head_state *st,
                          struct ingest_http_head *h)
{
    if (st->has_te && h->has_length)
        return http_fail(h, 400, "Transfer-Encoding",
                         "must not be sent together with Content-Length");
    if (st->has_te && h->minor == 0)
        return http_fail(h, 400, "Transfer-Encoding", "is not defined for HTTP/1.0");
    if (h->minor == 1 && !h->has_host)
        return http_fail(h, 400, "Host", "is required in HTTP/1.1");
    h->chunked = st->has_te;
    if (st->conn_close)
        h->keep_alive = 0;
    else if (st->conn_keep)
        h->keep_alive = 1;
    h->path = buf + st->path - 1;
    h->query = st->query ? buf + st->query - 1 : NULL;
    h->idem = st->idem ? buf + st->idem - 1 : NULL;
    h->authorization = st->authorization ? buf + st->authorization - 1 : NULL;
    h->content_type = st->content_type ? buf + st->content_type - 1 : NULL;
    h->origin = st->origin ? buf + st->origin - 1 : NULL;
    h->head_len = head_len;
    return 1;
}

static int http_head_step(const char *buf,
                          size_t len,
                          size_t max_head,
                          struct ingest_head_state *st,
                          struct ingest_http_head *h)
{
    if (!st->started) {
        memset(st, 0, sizeof(*st));
        memset(h, 0, sizeof(*h));
        st->started = 1;
    }
    size_t scan = len < max_head ? len : max_head;
    const char *end = buf + scan;
    for (;;) {
        const char *p = buf + st->line;
        const char *from = buf + (st->scanned > st->line ? st->scanned : st->line);
        const char *eol;
        int bare = 0;
        const char *nl = from <= end ? http_crlf_line(p, from, end, &eol, &bare) : NULL;
        if (nl == NULL) {
            const char *field = st->in_fields ? "headers" : "request line";
            if (bare)
                return http_fail(h, 400, field, "lines must end in CRLF, not a bare LF");
            if (len >= max_head)
                return http_fail(h, 431, field, "longer than the head limit");
            st->scanned = scan; /* searched up to here: the next call starts its search here */
            return 0;
        }
        st->scanned = 0;
        size_t next = (size_t)(nl + 1 - buf);
        if (!st->in_fields) {
            /* RFC 9112 2.2: ignore at least one empty line before the request line. */
            if (eol == p && st->line < 4) {
                st->line = next;
                continue;
            }
            int rc = http_request_line(buf, p, eol, st, h);
            if (rc != 0)
                return rc;
            st->in_fields = 1;
        } else if (eol == p) { /* blank line: end of the head */
            return http_head_done(buf, next, st, h);
        } else {
            int rc = http_field_line(buf, p, eol, st, h);
            if (rc != 0)
                return rc;
        }
        st->line = next;
    }
}

int ingest_http_head_resume(const char *buf,
                            size_t len,
                            size_t max_head,
                            struct ingest_head_state *st,
                            struct ingest_http_head *h)
{
    int rc = http_head_step(buf, len, max_head, st, h);
    if (rc != 0)
        memset(st, 0, sizeof(*st)); /* done or refused: the next call starts a new head */
    return rc;
}

int ingest_http_head_parse(const char *buf, size_t len, size_t max_head, struct ingest_http_head *h)
{
    struct ingest_head_state st;
    memset(&st, 0, sizeof(st));
    return ingest_http_head_resume(buf, len, max_head, &st, h);
}

static int http_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* RFC 9110 qdtext / quoted-pair bytes: HTAB, SP, VCHAR, obs-text. */
static int http_qchar(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* The chunk extensions p[0..eol) after a chunk size (RFC 9112 7.1.1):
 * *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ). 0 or NF_EINVAL with the reason
 * in *why. Extensions are checked, then ignored. */
static int http_chunk_ext(const char *p, const char *eol, const char **why)
{
    for (;;) {
        while (p < eol && (*p == ' ' || *p == '\t'))
            p++;
        if (p == eol)
            return 0;
        if (*p != ';') {
            *why = "a chunk size must be hex digits, then extensions (;name=value) or CRLF";
            return NF_EINVAL;
        }
        p++;
        while (p < eol && (*p == ' ' || *p == '\t'))
            p++;
        const char *n = p;
        while (p < eol && http_tchar((unsigned char)*p))
            p++;
        if (p == n) {
            *why = "a chunk extension name must be a token";
            return NF_EINVAL;
        }
        while (p < eol && (*p == ' ' || *p == '\t'))
            p++;
        if (p == eol || *p != '=')
            continue;
        p++;
        while (p < eol && (*p == ' ' || *p == '\t'))
            p++;
        if (p < eol && *p == '"') {
            p++;
            for (;;) {
                if (p == eol || !http_qchar((unsigned char)*p)) {
                    *why = "a chunk extension value has a control byte or no closing quote";
                    return NF_EINVAL;
                }
                if (*p == '"')
                    break;
                if (*p == '\\') {
                    p++;
                    if (p == eol || !http_qchar((unsigned char)*p)) {
                        *why = "a chunk extension value has a control byte or no closing quote";
                        return NF_EINVAL;
                    }
                }
                p++;
            }
            p++;
        } else {
            const char *v = p;
            while (p < eol && http_tchar((unsigned char)*p))
                p++;
            if (p == v) {
                *why = "a chunk extension value must be a token or a quoted string";
                return NF_EINVAL;
            }
        }
    }
}

/* One trailer field line p[0..eol) (RFC 9112 7.1.2): `token ":" value`, no control bytes in the
 * value but HTAB, no obs-fold. 0 or NF_EINVAL with the reason in *why. */
static int http_trailer_line(const char *p, const char *eol, const char **why)
{
    if (*p == ' ' || *p == '\t') {
        *why = "obsolete line folding is not accepted in trailers";
        return NF_EINVAL;
    }
    const char *c = p;
    while (c < eol && http_tchar((unsigned char)*c))
        c++;
    if (c == p || c == eol || *c != ':') {
        *why = "a trailer line must be name: value, the name a token";
        return NF_EINVAL;
    }
    for (c++; c < eol; c++) {
        unsigned char ch = (unsigned char)*c;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            *why = "control character in a trailer value";
            return NF_EINVAL;
        }
    }
    return 0;
}

static int chunk_fail(struct ingest_chunk_state *out, const char *field, const char *reason)
{
    if (out != NULL) {
        out->err_field = field;
        out->err_reason = reason;
    }
    return NF_EINVAL;
}

int ingest_http_chunked(char *buf,
                        size_t len,
                        size_t max_body,
                        struct ingest_chunk_state *st,
                        size_t *raw_len,
                        size_t *body_len)
{
    static const char te[] = "Transfer-Encoding";
    static const char bare_lf[] = "lines must end in CRLF, not a bare LF";
    /* Pass 1: validate and find the end without writing, from where an earlier call stopped. */
    struct ingest_chunk_state *out = st;
    struct ingest_chunk_state fresh = {0};
    if (st == NULL || st->pos > len)
        st = &fresh;
    const char *p = buf + st->pos, *end = buf + len, *eol;
    uint64_t total = st->total;
    const char *why = NULL;
    int bare;
    for (;;) {
        const char *nl = http_crlf_line(p, p, end, &eol, &bare);
        if (bare)
            return chunk_fail(out, te, bare_lf);
        if (nl == NULL)
            return (size_t)(end - p) > 1024
                       ? chunk_fail(out, te, "a chunk size line is longer than 1024 bytes")
                       : 0;
        const char *x = p;
        uint64_t n = 0;
        int digits = 0;
        for (; x < eol; x++) {
            int d = http_hexval(*x);
            if (d < 0)
                break;
            if (++digits > 15)
                return NF_ERANGE;
            n = (n << 4) | (uint64_t)d;
        }
        if (digits == 0)
            return chunk_fail(out, te, "a chunk must start with its size in hex");
        if (http_chunk_ext(x, eol, &why) != 0)
            return chunk_fail(out, te, why);
        p = nl + 1;
        if (n == 0)
            break;
        if (total + n > max_body)
            return NF_ERANGE;
        total += n;
        if ((uint64_t)(end - p) < n)
            return 0;
        p += n;
        if (p >= end)
            return 0;
        if (*p != '\r')
            return chunk_fail(out, te,
                              *p == '\n' ? bare_lf : "chunk data must be followed by CRLF");
        if (p + 1 >= end)
            return 0;
        if (p[1] != '\n')
            return chunk_fail(out, te, "chunk data must be followed by CRLF");
        p += 2;
        st->pos = (size_t)(p - buf); /* a complete chunk: later calls start here */
        st->total = total;
    }
    /* Trailer fields until a blank line: checked, then ignored. At most 8 KiB in all. */
    const char *trailers = p;
    for (;;) {
        const char *nl = http_crlf_line(p, p, end, &eol, &bare);
        if (bare)
            return chunk_fail(out, "trailers", bare_lf);
        if ((size_t)((nl != NULL ? nl : end) - trailers) > 8192)
            return chunk_fail(out, "trailers", "longer than 8192 bytes");
        if (nl == NULL)
            return 0;
        int blank = eol == p;
        if (!blank && http_trailer_line(p, eol, &why) != 0)
            return chunk_fail(out, "trailers", why);
        p = nl + 1;
        if (blank)
            break;
    }
    *raw_len = (size_t)(p - buf);
    /* Pass 2: move the chunk data down, in place (the write position never passes the read). */
    const char *r = buf;
    char *w = buf;
    for (;;) {
        const char *nl = http_line(r, end, &eol);
        uint64_t n = 0;
        for (const char *x = r; x < eol; x++) {
            int d = http_hexval(*x);
            if (d < 0)
                break;
            n = (n << 4) | (uint64_t)d;
        }
        r = nl + 1;
        if (n == 0)
            break;
        memmove(w, r, (size_t)n);
        w += n;
        r += n;
        r += 2; /* CRLF, checked in pass 1 */
    }
    *body_len = (size_t)(w - buf);
    return 1;
}

int ingest_listen_advertise(const char *listen, uint16_t port, char *out, size_t cap)
{
    char host[64];
    uint16_t lport = 0;
    if (ingest_parse_listen(listen, host, sizeof(host), &lport) != 0)
        return NF_ECONFIG;
    if (host[0] == '\0' || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0 ||
        strcmp(host, "::") == 0)
        return NF_ENOTFOUND;
    int n =
        snprintf(out, cap, strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u", host, (unsigned)port);
    return n > 0 && (size_t)n < cap ? 0 : NF_ECONFIG;
}
