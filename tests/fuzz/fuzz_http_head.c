/* fuzz_http_head: the ingest wire's request-head parser and chunked-body decoder
 * (src/ingest/http_parse.c). The input is a raw request stream. Properties: no crash or
 * over-read; a complete head's pointers lie inside the head and its path starts with '/'; a
 * complete head parses the same from exactly its own bytes (trailing bytes never change it);
 * refusals carry a status, a field and a reason; a head fed in pieces (resuming with its state)
 * ends exactly as when parsed whole; a refused chunked body names its field and reason; a decoded
 * chunked body is no longer than its raw form nor than max_body, decodes the same from exactly its
 * raw bytes, and the same when the decoding first saw only half of the input and then resumed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/http_parse.h"
#include "nf_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_HEAD 1024
#define FUZZ_MAX_BODY 4096

static int inside(const char *p, size_t n, const char *lo, size_t len)
{
    return p >= lo && p + n <= lo + len;
}

static void check_chunked(const uint8_t *data, size_t size)
{
    char *a = malloc(size ? size : 1);
    if (a == NULL)
        return;
    memcpy(a, data, size);
    size_t raw = 0, body = 0;
    /* First over a prefix (as if the rest had not arrived), then over everything with the same
     * state: the result must be what a fresh call gives (checked against c below). */
    struct ingest_chunk_state st = {0};
    size_t cut = size / 2;
    size_t r0 = 0, b0 = 0;
    int rc0 = ingest_http_chunked(a, cut, FUZZ_MAX_BODY, &st, &r0, &b0);
    if (rc0 == 1) {
        /* complete within the prefix: a decoded prefix is not the input any more; start over */
        memcpy(a, data, size);
        st.pos = 0;
        st.total = 0;
    } else if (rc0 < 0) {
        st.pos = 0; /* the prefix was already bad: the full input is bad too (checked below) */
        st.total = 0;
    }
    int rc = ingest_http_chunked(a, size, FUZZ_MAX_BODY, &st, &raw, &body);
    if (rc != 0 && rc != 1 && rc != NF_EINVAL && rc != NF_ERANGE)
        abort();
    if (rc == NF_EINVAL && (st.err_field == NULL || st.err_reason == NULL))
        abort();
    char *c = malloc(size ? size : 1);
    if (c == NULL) {
        free(a);
        return;
    }
    memcpy(c, data, size);
    size_t rawc = 0, bodyc = 0;
    int rcc = ingest_http_chunked(c, size, FUZZ_MAX_BODY, NULL, &rawc, &bodyc);
    if (rcc != rc || (rc == 1 && (rawc != raw || bodyc != body || memcmp(a, c, body) != 0)))
        abort(); /* resuming after a prefix must not change the outcome */
    free(c);
    if (rc == 1) {
        if (raw > size || body > raw || body > FUZZ_MAX_BODY)
            abort();
        char *b = malloc(raw ? raw : 1);
        if (b == NULL) {
            free(a);
            return;
        }
        memcpy(b, data, raw);
        size_t raw2 = 0, body2 = 0;
        if (ingest_http_chunked(b, raw, FUZZ_MAX_BODY, NULL, &raw2, &body2) != 1 || raw2 != raw ||
            body2 != body || memcmp(a, b, body) != 0)
            abort();
        free(b);
    }
    free(a);
}

/* The same bytes fed in pieces of 1..8 bytes with a resume state end as the whole parse did. */
static void
check_pieces(const char *buf, size_t size, int rc_whole, const struct ingest_http_head *w)
{
    struct ingest_head_state st;
    memset(&st, 0, sizeof(st));
    struct ingest_http_head h;
    size_t step = size ? 1 + (unsigned char)buf[0] % 8 : 1;
    int rc = 0;
    size_t len = 0;
    while (rc == 0 && len < size) {
        len = size - len < step ? size : len + step;
        rc = ingest_http_head_resume(buf, len, FUZZ_MAX_HEAD, &st, &h);
    }
    if (rc == 1 && len < size) {
        /* complete before the end: the whole parse must agree on where the head ends */
        if (rc_whole != 1 || h.head_len != w->head_len)
            abort();
        return;
    }
    if (rc != rc_whole)
        abort();
    if (rc == 1 && (h.head_len != w->head_len || h.content_length != w->content_length ||
                    h.keep_alive != w->keep_alive || h.chunked != w->chunked || h.path != w->path ||
                    h.path_len != w->path_len || h.idem != w->idem || h.query != w->query ||
                    h.authorization != w->authorization))
        abort();
    if (rc == NF_EINVAL &&
        (h.err_status != w->err_status || strcmp(h.err_field, w->err_field) != 0 ||
         strcmp(h.err_reason, w->err_reason) != 0 || st.started))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct ingest_http_head h;
    int rc = ingest_http_head_parse(buf, size, FUZZ_MAX_HEAD, &h);
    if (rc == 0) {
        if (size >= FUZZ_MAX_HEAD)
            abort();
    } else if (rc == 1) {
        if (h.head_len > size || h.head_len > FUZZ_MAX_HEAD)
            abort();
        if (h.method < INGEST_HTTP_GET || h.method > INGEST_HTTP_OPTIONS || h.minor > 1)
            abort();
        if (!inside(h.path, h.path_len, buf, h.head_len) || h.path_len == 0 || h.path[0] != '/')
            abort();
        if (h.query != NULL && !inside(h.query, h.query_len, buf, h.head_len))
            abort();
        if (h.idem != NULL && !inside(h.idem, h.idem_len, buf, h.head_len))
            abort();
        if (h.chunked && h.has_length)
            abort();
        struct ingest_http_head h2;
        if (ingest_http_head_parse(buf, h.head_len, FUZZ_MAX_HEAD, &h2) != 1 ||
            h2.head_len != h.head_len || h2.content_length != h.content_length ||
            h2.keep_alive != h.keep_alive || h2.chunked != h.chunked)
            abort();
        if (h.chunked)
            check_chunked(data + h.head_len, size - h.head_len);
    } else if (rc == NF_EINVAL) {
        int st = h.err_status;
        if ((st != 400 && st != 417 && st != 431 && st != 501 && st != 505) ||
            h.err_field == NULL || h.err_reason == NULL)
            abort();
    } else {
        abort();
    }
    check_pieces(buf, size, rc, &h);
    check_chunked(data, size);
    return 0;
}
