/* test_http_parse: the ingest wire's pure parsers (src/ingest/http_parse.c), included here so the
 * test can count the bytes the head parser searches: memchr is redirected to a counting wrapper
 * before the source is included. Table tests for the strict framing (CRLF only, chunk
 * extensions, trailers, one Idempotency-Key) and a bound on the work of a head that arrives one
 * byte at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t memchr_bytes; /* bytes examined by memchr since the last reset */

static void *counted_memchr(const void *s, int c, size_t n)
{
    void *r = memchr(s, c, n);
    memchr_bytes += r != NULL ? (size_t)((const char *)r - (const char *)s) + 1 : n;
    return r;
}

#define memchr counted_memchr
#include "ingest/http_parse.c"
#undef memchr

#include "nf_test.h"

#define MAX_HEAD 16384

/* Head refusals: status, field, and a reason containing `why`. */
static void test_head_refusals(void)
{
    static const struct {
        const char *req;
        int status;
        const char *field;
        const char *why;
    } cases[] = {
        {"GET /health HTTP/1.1\nHost: t\r\n\r\n", 400, "request line", "bare LF"},
        {"GET /health HTTP/1.1\r\nHost: t\n\r\n", 400, "headers", "bare LF"},
        {"GET /health HTTP/1.1\r\nHost: t\r\n\n", 400, "headers", "bare LF"},
        {"\nGET /health HTTP/1.1\r\nHost: t\r\n\r\n", 400, "request line", "bare LF"},
        {"POST /v1/transfers HTTP/1.1\nTransfer-Encoding: chunked\nConnection: close\n\n", 400,
         "request line", "bare LF"},
        {"POST /v1/transfers HTTP/1.1\r\nHost: t\r\nIdempotency-Key: a\r\nIdempotency-Key: "
         "b\r\n\r\n",
         400, "Idempotency-Key", "twice"},
        {"POST /v1/transfers HTTP/1.1\r\nHost: t\r\nIdempotency-Key: a\r\nidempotency-key: "
         "a\r\n\r\n",
         400, "Idempotency-Key", "twice"},
        {"GET /health HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", 400, "headers", "control"},
        {"\r\n\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\n\r\n", 400, "request line", "METHOD"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ingest_http_head h;
        int rc = ingest_http_head_parse(cases[i].req, strlen(cases[i].req), MAX_HEAD, &h);
        CHECK_EQ_INT(rc, NF_EINVAL);
        if (rc != NF_EINVAL) {
            fprintf(stderr, "  head case %zu accepted\n", i);
            continue;
        }
        CHECK_EQ_INT(h.err_status, cases[i].status);
        CHECK_EQ_STR(h.err_field, cases[i].field);
        CHECK(strstr(h.err_reason, cases[i].why) != NULL);
    }
    /* Still accepted: one or two empty lines before the request line, one Idempotency-Key. */
    const char *ok[] = {
        "\r\nGET /health HTTP/1.1\r\nHost: t\r\n\r\n",
        "\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /v1/transfers HTTP/1.1\r\nHost: t\r\nIdempotency-Key: k-1\r\n\r\n",
        "GET /health HTTP/1.0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct ingest_http_head h;
        CHECK_EQ_INT(ingest_http_head_parse(ok[i], strlen(ok[i]), MAX_HEAD, &h), 1);
        CHECK_EQ_INT(h.head_len, strlen(ok[i]));
    }
    struct ingest_http_head h;
    const char *idem = ok[2];
    CHECK_EQ_INT(ingest_http_head_parse(idem, strlen(idem), MAX_HEAD, &h), 1);
    CHECK(h.idem != NULL && h.idem_len == 3 && memcmp(h.idem, "k-1", 3) == 0);
}

/* Chunked bodies: accepted forms decode; each malformed one is refused with its field and a
 * reason containing `why`. */
static void test_chunked_strict(void)
{
    static const struct {
        const char *body;
        const char *decoded; /* NULL: refused */
        const char *field;
        const char *why;
    } cases[] = {
        {"2\r\n{}\r\n0\r\n\r\n", "{}", NULL, NULL},
        {"2;a\r\n{}\r\n0\r\n\r\n", "{}", NULL, NULL},
        {"2;a=b;c=\"x y\\\"z\"\r\n{}\r\n0;last\r\n\r\n", "{}", NULL, NULL},
        {"2 ; a = b\r\n{}\r\n0\r\n\r\n", "{}", NULL, NULL},
        {"2;q=\"\x80\"\r\n{}\r\n0\r\n\r\n", "{}", NULL, NULL}, /* obs-text */
        {"2\r\n{}\r\n0\r\nX-T: 1\r\nY:\t2 3\r\n\r\n", "{}", NULL, NULL},
        /* Bare LF in the framing. */
        {"2\n{}\r\n0\r\n\r\n", NULL, "Transfer-Encoding", "bare LF"},
        {"2\r\n{}\n0\r\n\r\n", NULL, "Transfer-Encoding", "bare LF"},
        {"2\r\n{}\r\n0\n\r\n", NULL, "Transfer-Encoding", "bare LF"},
        {"2\r\n{}\r\n0\r\n\n", NULL, "trailers", "bare LF"},
        {"2\r\n{}\r\n0\r\nX: 1\n\r\n", NULL, "trailers", "bare LF"},
        /* Chunk extensions. */
        {"2;a\rb\r\n{}\r\n0\r\n\r\n", NULL, "Transfer-Encoding",
         "extensions"}, /* the review's case */
        {"2;a=b\rc\r\n{}\r\n0\r\n\r\n", NULL, "Transfer-Encoding", "chunk"},
        {"2;\x01\r\n{}\r\n0\r\n\r\n", NULL, "Transfer-Encoding", "token"},
        {"2;a=\x01\r\n{}\r\n0\r\n\r\n", NULL, "Transfer-Encoding", "token or a quoted"},
        {"2;a=\"x\x01\"\r\n{}\r\n0\r\n\r\n", NULL, "Transfer-Encoding", "control byte"},
        {"2;a=\"x\r\n{}\r\n0\r\n\r\n", NULL, "Transfer-Encoding", "closing quote"},
        {"2;a=\"x\\\r\n{}\r\n0\r\n\r\n", NULL, "Transfer-Encoding", "closing quote"},
        {"2;\r\n{}\r\n0\r\n\r\n", NULL, "Transfer-Encoding", "token"},
        {"2;a b\r\n{}\r\n0\r\n\r\n", NULL, "Transfer-Encoding", "extensions"},
        {"2x\r\n{}\r\n0\r\n\r\n", NULL, "Transfer-Encoding", "extensions"},
        {"0;a\x7f\r\n\r\n", NULL, "Transfer-Encoding", "extensions"},
        {"zz\r\n", NULL, "Transfer-Encoding", "size in hex"},
        {"2\r\n{}xx0\r\n\r\n", NULL, "Transfer-Encoding", "followed by CRLF"},
        /* Trailers. */
        {"2\r\n{}\r\n0\r\nX Y: 1\r\n\r\n", NULL, "trailers", "token"},
        {"2\r\n{}\r\n0\r\n: 1\r\n\r\n", NULL, "trailers", "token"},
        {"2\r\n{}\r\n0\r\nX\x01: 1\r\n\r\n", NULL, "trailers", "token"},
        {"2\r\n{}\r\n0\r\nnocolon\r\n\r\n", NULL, "trailers", "name: value"},
        {"2\r\n{}\r\n0\r\nX: a\rb\r\n\r\n", NULL, "trailers", "control"},
        {"2\r\n{}\r\n0\r\nX: a\x7f\r\n\r\n", NULL, "trailers", "control"},
        {"2\r\n{}\r\n0\r\nX: 1\r\n folded\r\n\r\n", NULL, "trailers", "folding"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[256];
        size_t n = strlen(cases[i].body);
        memcpy(buf, cases[i].body, n + 1);
        struct ingest_chunk_state st = {0};
        size_t raw = 0, body = 0;
        int rc = ingest_http_chunked(buf, n, 1024, &st, &raw, &body);
        if (cases[i].decoded != NULL) {
            CHECK_EQ_INT(rc, 1);
            CHECK_EQ_INT(raw, n);
            CHECK(rc == 1 && body == strlen(cases[i].decoded) &&
                  memcmp(buf, cases[i].decoded, body) == 0);
        } else {
            CHECK_EQ_INT(rc, NF_EINVAL);
            if (rc != NF_EINVAL) {
                fprintf(stderr, "  chunk case %zu: rc %d\n", i, rc);
                continue;
            }
            CHECK_EQ_STR(st.err_field, cases[i].field);
            CHECK(st.err_reason != NULL && strstr(st.err_reason, cases[i].why) != NULL);
            if (st.err_reason == NULL || strstr(st.err_reason, cases[i].why) == NULL)
                fprintf(stderr, "  chunk case %zu: %s\n", i, st.err_reason);
        }
    }
    /* Trailers: at most 8 KiB in all, however they are split into lines. */
    static char big[16384];
    size_t n = (size_t)snprintf(big, sizeof(big), "0\r\n");
    while (n + 16 < 9000)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-T: 0123456\r\n");
    memcpy(big + n, "\r\n", 3);
    struct ingest_chunk_state st = {0};
    size_t raw = 0, body = 0;
    CHECK_EQ_INT(ingest_http_chunked(big, n + 2, 1024, &st, &raw, &body), NF_EINVAL);
    CHECK_EQ_STR(st.err_field, "trailers");
}

/* A head fed one byte more per call, with the resume state, parses as it does whole; each call
 * searches only the bytes that are new (the old parser searched from byte 0 every time: about
 * n^2/2 bytes for an n-byte head). */
static void test_head_resume(void)
{
    static char head[12000];
    size_t n = (size_t)snprintf(head, sizeof(head),
                                "POST /v1/transfers?wait=final HTTP/1.1\r\nHost: t\r\n"
                                "Idempotency-Key: key-1\r\nContent-Type: application/json\r\n");
    for (int i = 0; n + 64 < sizeof(head) - 64; i++)
        n += (size_t)snprintf(head + n, sizeof(head) - n, "X-Filler-%d: %s\r\n", i,
                              "abcdefghijklmnopqrstuvwxyz0123456789");
    n += (size_t)snprintf(head + n, sizeof(head) - n, "Content-Length: 2\r\n\r\n{}");
    size_t head_len = n - 2;

    struct ingest_http_head whole;
    CHECK_EQ_INT(ingest_http_head_parse(head, n, MAX_HEAD, &whole), 1);
    CHECK_EQ_INT(whole.head_len, head_len);

    /* The bytes move to another buffer half way (as hsrv does when a head outgrows its buffer):
     * the state holds offsets, so the parse goes on in the new place. */
    static char a[12000], b[12000];
    char *cur = a;
    struct ingest_head_state st;
    memset(&st, 0, sizeof(st));
    struct ingest_http_head h;
    memchr_bytes = 0;
    int rc = 0;
    size_t calls = 0;
    for (size_t len = 1; len <= n; len++) {
        cur[len - 1] = head[len - 1];
        if (len == n / 2) {
            memcpy(b, a, len);
            memset(a, 'x', len);
            cur = b;
        }
        rc = ingest_http_head_resume(cur, len, MAX_HEAD, &st, &h);
        calls++;
        if (rc != 0)
            break;
    }
    CHECK_EQ_INT(rc, 1);
    CHECK_EQ_INT(h.head_len, head_len);
    CHECK_EQ_INT(h.content_length, 2);
    CHECK(h.path == cur + (whole.path - head) && h.path_len == whole.path_len);
    CHECK(h.query != NULL && h.query_len == 10 && memcmp(h.query, "wait=final", 10) == 0);
    CHECK(h.idem != NULL && h.idem_len == 5 && memcmp(h.idem, "key-1", 5) == 0);
    CHECK(h.content_type != NULL && h.content_type_len == 16);
    CHECK_EQ_INT(h.keep_alive, 1);
    /* Each byte searched once, plus at most one byte per call (the call that finds nothing). */
    printf("head of %zu bytes in %zu calls: memchr examined %zu bytes\n", head_len, calls,
           memchr_bytes);
    CHECK(memchr_bytes <= head_len + calls);
    CHECK(memchr_bytes < 3 * head_len);

    /* The state starts over after a complete head: a second head in the same state parses. */
    const char *g = "GET /health HTTP/1.0\r\n\r\n";
    CHECK_EQ_INT(ingest_http_head_resume(g, strlen(g), MAX_HEAD, &st, &h), 1);
    CHECK_EQ_INT(h.method, INGEST_HTTP_GET);
    CHECK_EQ_INT(h.minor, 0);
    /* OPTIONS (a CORS preflight) is told apart; other tokens are OTHER. */
    const char *methods[][2] = {{"OPTIONS", "5"}, {"OPTION", "4"}, {"OPTIONSX", "4"},
                                {"HEAD", "3"},    {"PUT", "4"},    {"options", "4"}};
    for (size_t k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
        char line[64];
        snprintf(line, sizeof(line), "%s /v1/transfers HTTP/1.1\r\nHost: t\r\n\r\n", methods[k][0]);
        CHECK_EQ_INT(ingest_http_head_resume(line, strlen(line), MAX_HEAD, &st, &h), 1);
        CHECK_EQ_INT(h.method, atoi(methods[k][1]));
    }
    CHECK_EQ_INT(INGEST_HTTP_OPTIONS, 5);
    CHECK_EQ_INT(INGEST_HTTP_OTHER, 4);

    /* A refusal found half way also resets the state, and the refusal is the same as whole. */
    const char *bad = "GET /health HTTP/1.1\r\nHost: t\r\nIdempotency-Key: a\r\nIdempotency-Key: "
                      "b\r\n\r\n";
    memset(&st, 0, sizeof(st));
    rc = 0;
    for (size_t len = 1; len <= strlen(bad) && rc == 0; len++)
        rc = ingest_http_head_resume(bad, len, MAX_HEAD, &st, &h);
    CHECK_EQ_INT(rc, NF_EINVAL);
    CHECK_EQ_STR(h.err_field, "Idempotency-Key");
    CHECK_EQ_INT(st.started, 0);

    /* A head that never ends is 431 once it reaches max_head, also when fed in pieces. */
    memset(&st, 0, sizeof(st));
    static char endless[600];
    memcpy(endless, "GET / HTTP/1.1\r\nX: ", 19);
    memset(endless + 19, 'a', sizeof(endless) - 19);
    rc = 0;
    for (size_t len = 10; len <= sizeof(endless) && rc == 0; len += 10)
        rc = ingest_http_head_resume(endless, len, 512, &st, &h);
    CHECK_EQ_INT(rc, NF_EINVAL);
    CHECK_EQ_INT(h.err_status, 431);
}

int main(void)
{
    test_head_refusals();
    test_chunked_strict();
    test_head_resume();
    return nf_test_report("test_http_parse");
}
