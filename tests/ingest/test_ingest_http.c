/* test_ingest_http: the ingest stage over real HTTP on 127.0.0.1, against the STUB pipeline of
 * stub_pipeline.c (which implements include/pipeline.h; the real pipeline.c is not linked). The
 * stub's behaviour per receiver (held, failed, early JOB message, full, log failure) is listed in
 * stub_pipeline.h. The client side is libcurl (easy and multi); bodies are checked with jansson. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "base58.h"
#include "cfg.h"
#include "ingest.h"
#include "ingest/http_parse.h"
#include "ingest/ingest_int.h"
#include "job.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_ring.h"
#include "nf_test.h"
#include "pipeline.h"
#include "raw_sock.h"
#include "spend.h"
#include "stub_pipeline.h"

#define STUB_THREADS   2
#define STUB_SLAB      1024
#define STUB_MAX_BATCH 600
#define STUB_WAIT_MS   500
#define CONC_REQUESTS  140 /* > 2 threads x 64 contexts */
#define RESP_BODY_MAX  (1u << 20)

/* Polls for a state the server reaches on its own thread stop at this limit (seconds): generous,
 * so a sanitizer build on a loaded box never fails for slowness; a pass is usually milliseconds. */
#define POLL_LIMIT_S 30.0

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct nf_pipe stub;

/* ---- HTTP client ----------------------------------------------------------------------------- */

static unsigned port;

struct resp {
    long code;
    char *body;
    size_t len;
    char retry_after[32];
    char allow[32];
    char ctype[64];
    json_t *json;
    double secs;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct resp *r = ud;
    size_t n = size * nmemb;
    if (r->len + n >= RESP_BODY_MAX)
        return 0;
    memcpy(r->body + r->len, ptr, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    while (*v == ' ')
        v++;
    size_t vn = n - (size_t)(v - line);
    while (vn > 0 && (v[vn - 1] == '\r' || v[vn - 1] == '\n'))
        vn--;
    if (vn >= cap)
        vn = cap - 1;
    memcpy(out, v, vn);
    out[vn] = '\0';
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct resp *r = ud;
    size_t n = size * nmemb;
    header_value(ptr, n, "Retry-After", r->retry_after, sizeof(r->retry_after));
    header_value(ptr, n, "Allow", r->allow, sizeof(r->allow));
    header_value(ptr, n, "Content-Type", r->ctype, sizeof(r->ctype));
    return n;
}

static void resp_reset(struct resp *r)
{
    if (r->json)
        json_decref(r->json);
    if (r->body == NULL)
        r->body = malloc(RESP_BODY_MAX);
    r->body[0] = '\0';
    r->len = 0;
    r->code = 0;
    r->retry_after[0] = r->allow[0] = r->ctype[0] = '\0';
    r->json = NULL;
}

static void resp_free(struct resp *r)
{
    if (r->json)
        json_decref(r->json);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static CURL *easy_setup(const char *method,
                        const char *path,
                        const char *body,
                        struct curl_slist *hdrs,
                        long timeout_ms,
                        struct resp *r)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    return e;
}

static void resp_finish(CURL *e, struct resp *r)
{
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->code);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &r->secs);
    if (r->len > 0 && r->ctype[0] && strstr(r->ctype, "json") != NULL)
        r->json = json_loadb(r->body, r->len, 0, NULL);
}

/* One request; returns the curl result (CURLE_OK when an answer arrived). */
static int http(const char *method,
                const char *path,
                const char *body,
                const char *header,
                long timeout_ms,
                struct resp *r)
{
    resp_reset(r);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (header != NULL)
        hdrs = curl_slist_append(hdrs, header);
    CURL *e = easy_setup(method, path, body, hdrs, timeout_ms, r);
    CURLcode rc = curl_easy_perform(e);
    resp_finish(e, r);
    curl_easy_cleanup(e);
    curl_slist_free_all(hdrs);
    return (int)rc;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jnull(json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return v != NULL && json_is_null(v);
}

/* is_public_id: "<decimal>-<16 lowercase hex>", the shape of a transfer id (txid.h). */
static int is_public_id(const char *s)
{
    if (s == NULL || *s < '1' || *s > '9')
        return 0;
    while (*s >= '0' && *s <= '9')
        s++;
    if (*s++ != '-')
        return 0;
    for (int i = 0; i < 16; i++, s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return *s == '\0';
}

static int is_b58_hash(const char *s)
{
    uint8_t h[32];
    return s != NULL && b58_decode_exact(s, strlen(s), h, sizeof(h)) == 0;
}

static int is_iso(const char *s)
{
    /* 2026-11-27T01:58:37.123Z */
    return s != NULL && strlen(s) == 24 && s[4] == '-' && s[10] == 'T' && s[19] == '.' &&
           s[23] == 'Z';
}

static uint64_t metric_value(const char *text, const char *name)
{
    const char *p = text;
    size_t n = strlen(name);
    while ((p = strstr(p, name)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtoull(p + n + 1, NULL, 10);
        p += n;
    }
    return UINT64_MAX;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_native_single(void)
{
    struct resp r = {0};
    CHECK_EQ_INT(http("POST", "/v1/transfers",
                      "{\"receiver_id\":\"queued.near\",\"amount\":\"1000\",\"memo\":\"hi\"}", NULL,
                      5000, &r),
                 CURLE_OK);
    CHECK_EQ_INT(r.code, 202);
    CHECK(strstr(r.ctype, "application/json") != NULL);
    CHECK(is_public_id(jstr(r.json, "id")));
    CHECK_EQ_STR(jstr(r.json, "status"), "queued");
    char path[64];
    snprintf(path, sizeof(path), "/v1/transfers/%s", jstr(r.json, "id"));
    struct resp g = {0};
    http("GET", path, NULL, NULL, 5000, &g);
    CHECK_EQ_INT(g.code, 200);
    CHECK_EQ_STR(jstr(g.json, "id"), jstr(r.json, "id"));
    CHECK_EQ_STR(jstr(g.json, "status"), "queued");
    CHECK_EQ_STR(jstr(g.json, "receiver_id"), "queued.near");
    CHECK_EQ_STR(jstr(g.json, "amount"), "1000");
    CHECK_EQ_STR(jstr(g.json, "memo"), "hi");
    CHECK(jnull(g.json, "tx_hash"));
    CHECK(jnull(g.json, "error"));
    CHECK(is_iso(jstr(g.json, "accepted_at")));
    CHECK(jnull(g.json, "signed_at") && jnull(g.json, "done_at"));
    CHECK_EQ_INT(json_integer_value(json_object_get(g.json, "attempts")), 0);

    /* The id's tag is part of it: the bare sequence number, or the number with another tag, is
     * an unknown transfer on both read routes (the same 404 as an id never handed out). */
    const char *id = jstr(r.json, "id");
    const char *dash = id != NULL ? strchr(id, '-') : NULL;
    CHECK(dash != NULL);
    if (dash != NULL) {
        char bare[32], other[64];
        snprintf(bare, sizeof(bare), "%.*s", (int)(dash - id), id);
        snprintf(other, sizeof(other), "%s", id);
        char *last = other + strlen(other) - 1;
        *last = *last == '0' ? '1' : '0';
        const char *wrong[] = {bare, other};
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof(path), "/v1/transfers/%s", wrong[i]);
            http("GET", path, NULL, NULL, 5000, &g);
            CHECK_EQ_INT(g.code, 404);
            char want[128];
            snprintf(want, sizeof(want), "transfer %s not found", wrong[i]);
            CHECK_EQ_STR(jstr(g.json, "error"), want);
            snprintf(path, sizeof(path), "/transfer/%s", wrong[i]);
            http("GET", path, NULL, NULL, 5000, &g);
            CHECK_EQ_INT(g.code, 404);
            CHECK_EQ_STR(jstr(g.json, "error"), "Job not found");
        }
        /* Not an id at all: 400 naming the field (upper-case hex, a short tag, a zero tag). */
        const char *bad[] = {"-ABCDEF0123456789", "-0123", "-0000000000000000"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "/v1/transfers/%.*s%s", (int)(dash - id), id, bad[i]);
            http("GET", path, NULL, NULL, 5000, &g);
            CHECK_EQ_INT(g.code, 400);
            CHECK_EQ_STR(jstr(g.json, "field"), "id");
        }
    }
    resp_free(&r);
    resp_free(&g);
}

static void test_native_wait(void)
{
    struct resp r = {0}, g = {0};
    /* wait=executed: held until EXECUTED, then 200 with the tx hash. */
    http("POST", "/v1/transfers?wait=executed",
         "{\"receiver_id\":\"bob.near\",\"amount\":\"340282366920938463463374607431768211455\"}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK_EQ_STR(jstr(r.json, "status"), "executed");
    CHECK(is_b58_hash(jstr(r.json, "tx_hash")));
    char path[64];
    snprintf(path, sizeof(path), "/v1/transfers/%s", jstr(r.json, "id"));
    http("GET", path, NULL, NULL, 5000, &g);
    CHECK_EQ_INT(g.code, 200);
    CHECK_EQ_STR(jstr(g.json, "status"), "executed");
    CHECK_EQ_STR(jstr(g.json, "amount"), "340282366920938463463374607431768211455");
    CHECK(jnull(g.json, "memo"));
    CHECK(is_iso(jstr(g.json, "done_at")) && is_iso(jstr(g.json, "submitted_at")));
    CHECK_EQ_STR(jstr(g.json, "tx_hash"), jstr(r.json, "tx_hash"));
    CHECK_EQ_INT(json_integer_value(json_object_get(g.json, "attempts")), 1);

    /* GET /v1/tx/{hash} finds it. */
    char txpath[128];
    snprintf(txpath, sizeof(txpath), "/v1/tx/%s", jstr(r.json, "tx_hash"));
    struct resp x = {0};
    http("GET", txpath, NULL, NULL, 5000, &x);
    CHECK_EQ_INT(x.code, 200);
    CHECK_EQ_STR(jstr(x.json, "tx_hash"), jstr(r.json, "tx_hash"));
    json_t *tr = json_object_get(x.json, "transfers");
    CHECK(json_array_size(tr) == 1);
    CHECK_EQ_STR(jstr(json_array_get(tr, 0), "id"), jstr(r.json, "id"));

    /* wait=submitted and wait=final. */
    http("POST", "/v1/transfers?wait=submitted", "{\"receiver_id\":\"bob.near\",\"amount\":\"1\"}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK(jstr(r.json, "status") != NULL && (strcmp(jstr(r.json, "status"), "submitted") == 0 ||
                                             strcmp(jstr(r.json, "status"), "executed") == 0));
    http("POST", "/v1/transfers?x=1&wait=final", "{\"receiver_id\":\"bob.near\",\"amount\":\"1\"}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK_EQ_STR(jstr(r.json, "status"), "executed");

    /* The JOB message arrives before the accept: still answered once, correctly. */
    http("POST", "/v1/transfers?wait=executed", "{\"receiver_id\":\"early.near\",\"amount\":\"5\"}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK_EQ_STR(jstr(r.json, "status"), "executed");

    /* A failed transfer answers its reason. */
    http("POST", "/v1/transfers?wait=executed", "{\"receiver_id\":\"fail.near\",\"amount\":\"5\"}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK_EQ_STR(jstr(r.json, "status"), "failed");
    CHECK(jstr(r.json, "error") != NULL && strstr(jstr(r.json, "error"), "not registered"));

    /* Timeout: held job, answered 202 with its current state after wait_timeout_ms. */
    http("POST", "/v1/transfers?wait=executed",
         "{\"receiver_id\":\"queued.near\",\"amount\":\"5\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    CHECK_EQ_STR(jstr(r.json, "status"), "queued");
    CHECK(r.secs >= STUB_WAIT_MS / 1000.0 * 0.9); /* and under the request's 5 s, or no 202 */
    resp_free(&r);
    resp_free(&g);
    resp_free(&x);
}

static void test_native_batch(void)
{
    struct resp r = {0};
    http("POST", "/v1/transfers",
         "{\"transfers\":[{\"receiver_id\":\"queued.near\",\"amount\":\"1\"},"
         "{\"receiver_id\":\"queued.near\",\"amount\":\"2\",\"memo\":\"m\"},"
         "{\"receiver_id\":\"queued.near\",\"amount\":\"3\"}]}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    json_t *tr = json_object_get(r.json, "transfers");
    CHECK(json_array_size(tr) == 3);
    uint64_t id0 = strtoull(jstr(json_array_get(tr, 0), "id"), NULL, 10);
    for (size_t i = 0; i < json_array_size(tr); i++) {
        CHECK_EQ_INT(strtoull(jstr(json_array_get(tr, i), "id"), NULL, 10), id0 + i);
        CHECK_EQ_STR(jstr(json_array_get(tr, i), "status"), "queued");
    }
    /* Bulk: 500 transfers, waited until executed. */
    size_t cap = 600 * 64;
    char *big = malloc(cap);
    size_t n = (size_t)snprintf(big, cap, "{\"transfers\":[");
    for (int i = 0; i < 500; i++)
        n +=
            (size_t)snprintf(big + n, cap - n, "%s{\"receiver_id\":\"r%d.near\",\"amount\":\"%d\"}",
                             i ? "," : "", i, i + 1);
    snprintf(big + n, cap - n, "]}");
    http("POST", "/v1/transfers?wait=executed", big, NULL, 10000, &r);
    CHECK_EQ_INT(r.code, 200);
    tr = json_object_get(r.json, "transfers");
    CHECK(json_array_size(tr) == 500);
    int executed = 0;
    for (size_t i = 0; i < json_array_size(tr); i++)
        executed += jstr(json_array_get(tr, i), "status") != NULL &&
                    strcmp(jstr(json_array_get(tr, i), "status"), "executed") == 0;
    CHECK_EQ_INT(executed, 500);
    /* One accept, one (stub) transaction: every item names the same hash; the next request's
     * answer names its own (the per-thread base58 cache follows the hash). */
    char bulk_hash[64];
    snprintf(bulk_hash, sizeof(bulk_hash), "%s", jstr(json_array_get(tr, 0), "tx_hash"));
    CHECK(is_b58_hash(bulk_hash));
    int same = 0;
    for (size_t i = 0; i < json_array_size(tr); i++)
        same += jstr(json_array_get(tr, i), "tx_hash") != NULL &&
                strcmp(jstr(json_array_get(tr, i), "tx_hash"), bulk_hash) == 0;
    CHECK_EQ_INT(same, 500);
    for (int k = 0; k < 4; k++) {
        http("POST", "/v1/transfers?wait=executed",
             "{\"receiver_id\":\"x5.near\",\"amount\":\"5\"}", NULL, 10000, &r);
        CHECK_EQ_INT(r.code, 200);
        CHECK(is_b58_hash(jstr(r.json, "tx_hash")));
        CHECK(jstr(r.json, "tx_hash") && strcmp(jstr(r.json, "tx_hash"), bulk_hash) != 0);
        char single_hash[64];
        snprintf(single_hash, sizeof(single_hash), "%s", jstr(r.json, "tx_hash"));
        http("GET", "/v1/transfers/1", NULL, NULL, 5000, &r); /* another hash, or none */
        http("POST", "/v1/transfers?wait=executed",
             "{\"receiver_id\":\"x6.near\",\"amount\":\"6\"}", NULL, 10000, &r);
        CHECK(jstr(r.json, "tx_hash") && strcmp(jstr(r.json, "tx_hash"), single_hash) != 0);
    }
    free(big);
    resp_free(&r);
}

static void test_native_errors(void)
{
    struct resp r = {0};
    http("POST", "/v1/transfers", "{\"receiver_id\":\"bob.near\",\"amount\":\"-1\"}", NULL, 5000,
         &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_EQ_STR(jstr(r.json, "field"), "amount");
    CHECK(jstr(r.json, "reason") != NULL && jstr(r.json, "error") != NULL);
    http("POST", "/v1/transfers",
         "{\"transfers\":[{\"receiver_id\":\"bob.near\",\"amount\":\"1\"},{\"receiver_id\":\"A\","
         "\"amount\":\"1\"}]}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_EQ_STR(jstr(r.json, "field"), "transfers[1].receiver_id");
    http("POST", "/v1/transfers", "{\"receiver_id\":\"bob.near\",\"amount\":\"1\",\"amont\":1}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK(jstr(r.json, "field") != NULL && strstr(jstr(r.json, "field"), "amont") != NULL);
    http("POST", "/v1/transfers", "", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK(jstr(r.json, "field") != NULL);
    http("POST", "/v1/transfers?wait=soon", "{\"receiver_id\":\"bob.near\",\"amount\":\"1\"}", NULL,
         5000, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_EQ_STR(jstr(r.json, "field"), "wait");
    http("POST", "/v1/transfers", "{\"receiver_id\":\"bob.near\",\"amount\":\"1\"}",
         "Idempotency-Key: bad\x01key", 5000, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_EQ_STR(jstr(r.json, "field"), "Idempotency-Key");
    http("GET", "/v1/transfers/99999999", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 404);
    CHECK_EQ_STR(jstr(r.json, "error"), "transfer 99999999 not found");
    http("GET", "/v1/transfers/12ab", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_EQ_STR(jstr(r.json, "field"), "id");
    http("GET", "/v1/tx/zzz0", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK_EQ_STR(jstr(r.json, "field"), "tx_hash");
    http("GET", "/v1/tx/11111111111111111111111111111111", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 404);
    http("GET", "/nope", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 404);
    CHECK(jstr(r.json, "error") != NULL);
    http("GET", "/v1/transfers", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 405);
    CHECK_EQ_STR(r.allow, "POST");
    http("DELETE", "/transfer/1", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 405);
    CHECK_EQ_STR(r.allow, "GET");
    http("POST", "/health", "{}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 405);
    resp_free(&r);
}

static void test_idempotency(void)
{
    struct resp a = {0}, b = {0};
    const char *body = "{\"receiver_id\":\"queued.near\",\"amount\":\"77\"}";
    http("POST", "/v1/transfers", body, "Idempotency-Key: order-1", 5000, &a);
    CHECK_EQ_INT(a.code, 202);
    http("POST", "/v1/transfers", body, "Idempotency-Key: order-1", 5000, &b);
    CHECK_EQ_INT(b.code, 202);
    CHECK_EQ_STR(jstr(b.json, "id"), jstr(a.json, "id"));
    CHECK_EQ_STR(jstr(b.json, "status"), "queued");
    CHECK(json_is_true(json_object_get(b.json, "duplicate")));
    http("POST", "/v1/transfers", "{\"receiver_id\":\"queued.near\",\"amount\":\"78\"}",
         "Idempotency-Key: order-1", 5000, &b);
    CHECK_EQ_INT(b.code, 422);
    CHECK_EQ_STR(jstr(b.json, "field"), "Idempotency-Key");
    /* The key in the body works the same way. */
    http("POST", "/v1/transfers",
         "{\"receiver_id\":\"queued.near\",\"amount\":\"77\",\"idempotency_key\":\"order-1\"}",
         NULL, 5000, &b);
    CHECK_EQ_INT(b.code, 202);
    CHECK_EQ_STR(jstr(b.json, "id"), jstr(a.json, "id"));
    http("POST", "/v1/transfers",
         "{\"receiver_id\":\"queued.near\",\"amount\":\"1\",\"idempotency_key\":\"order-1\"}", NULL,
         5000, &b);
    CHECK_EQ_INT(b.code, 422);
    CHECK_EQ_STR(jstr(b.json, "field"), "idempotency_key");
    /* Header and a different body key: 400; header with the batch form: 400. */
    http("POST", "/v1/transfers",
         "{\"receiver_id\":\"queued.near\",\"amount\":\"1\",\"idempotency_key\":\"k2\"}",
         "Idempotency-Key: k3", 5000, &b);
    CHECK_EQ_INT(b.code, 400);
    http("POST", "/v1/transfers",
         "{\"transfers\":[{\"receiver_id\":\"queued.near\",\"amount\":\"1\"}]}",
         "Idempotency-Key: k4", 5000, &b);
    CHECK_EQ_INT(b.code, 400);
    CHECK_EQ_STR(jstr(b.json, "field"), "Idempotency-Key");
    /* Batch with per-item keys: a repeat returns the same ids; a changed item is rejected. */
    const char *batch = "{\"transfers\":[{\"receiver_id\":\"queued.near\",\"amount\":\"1\","
                        "\"idempotency_key\":\"b-1\"},{\"receiver_id\":\"queued.near\",\"amount\":"
                        "\"2\",\"idempotency_key\":\"b-2\"}]}";
    http("POST", "/v1/transfers", batch, NULL, 5000, &a);
    CHECK_EQ_INT(a.code, 202);
    http("POST", "/v1/transfers", batch, NULL, 5000, &b);
    CHECK_EQ_INT(b.code, 202);
    json_t *ta = json_object_get(a.json, "transfers"), *tb = json_object_get(b.json, "transfers");
    CHECK(json_array_size(tb) == 2);
    CHECK_EQ_STR(jstr(json_array_get(tb, 0), "id"), jstr(json_array_get(ta, 0), "id"));
    CHECK_EQ_STR(jstr(json_array_get(tb, 1), "id"), jstr(json_array_get(ta, 1), "id"));
    http(
        "POST", "/v1/transfers",
        "{\"transfers\":[{\"receiver_id\":\"queued.near\",\"amount\":\"1\",\"idempotency_key\":"
        "\"b-1\"},{\"receiver_id\":\"queued.near\",\"amount\":\"3\",\"idempotency_key\":\"b-2\"}]}",
        NULL, 5000, &b);
    tb = json_object_get(b.json, "transfers");
    CHECK_EQ_STR(jstr(json_array_get(tb, 0), "id"), jstr(json_array_get(ta, 0), "id"));
    CHECK_EQ_STR(jstr(json_array_get(tb, 1), "status"), "rejected");
    CHECK_EQ_STR(jstr(json_array_get(tb, 1), "field"), "transfers[1].idempotency_key");
    resp_free(&a);
    resp_free(&b);
}

/* Repeats whose original left the job slab answer the status the idempotency index kept, in each
 * route's shape; a request the index refuses gets 503 with its own Retry-After and reason. */
static void test_idempotency_kept(void)
{
    struct resp r = {0};
    const char *nb = "{\"receiver_id\":\"carol.near\",\"amount\":\"5\"}";
    const char *kept_id = "999999999-00c0ffee00c0ffee";
    http("POST", "/v1/transfers", nb, "Idempotency-Key: kept-exec-1", 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    CHECK_EQ_STR(jstr(r.json, "id"), kept_id);
    CHECK_EQ_STR(jstr(r.json, "status"), "executed");
    CHECK(json_is_true(json_object_get(r.json, "duplicate")));
    http("POST", "/v1/transfers?wait=executed", nb, "Idempotency-Key: kept-fail-1", 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK_EQ_STR(jstr(r.json, "status"), "failed");
    CHECK(json_is_true(json_object_get(r.json, "duplicate")));
    http("POST", "/v1/transfers", nb, "Idempotency-Key: kept-open-1", 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    CHECK_EQ_STR(jstr(r.json, "status"), "unknown");
    http("POST", "/v1/transfers",
         "{\"transfers\":[{\"receiver_id\":\"carol.near\",\"amount\":\"5\","
         "\"idempotency_key\":\"kept-recv-2\"}]}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    json_t *t0 = json_array_get(json_object_get(r.json, "transfers"), 0);
    CHECK_EQ_STR(jstr(t0, "id"), kept_id);
    CHECK_EQ_STR(jstr(t0, "status"), "failed");
    CHECK(json_is_true(json_object_get(t0, "duplicate")));

    const char *sb = "{\"receiverId\":\"carol.near\",\"amount\":\"5\"}";
    http("POST", "/send-ft", sb, "Idempotency-Key: kept-exec-3", 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK(json_is_true(json_object_get(r.json, "success")));
    CHECK_EQ_STR(jstr(r.json, "jobId"), kept_id);
    CHECK_EQ_STR(jstr(r.json, "status"), "finalized");
    CHECK(jnull(r.json, "transactionHash"));
    CHECK(json_is_true(json_object_get(r.json, "duplicate")));
    http("POST", "/send-ft", sb, "Idempotency-Key: kept-fail-3", 5000, &r);
    CHECK_EQ_INT(r.code, 500);
    CHECK_EQ_STR(jstr(r.json, "error"), "Failed to initiate FT transfer");
    CHECK(jstr(r.json, "details") != NULL && strstr(jstr(r.json, "details"), "no longer kept"));
    CHECK_EQ_STR(jstr(r.json, "jobId"), kept_id);
    CHECK(json_is_true(json_object_get(r.json, "duplicate")));

    http("POST", "/transfer", nb, "Idempotency-Key: kept-exec-4", 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK_EQ_STR(jstr(r.json, "id"), kept_id);
    CHECK_EQ_STR(jstr(r.json, "status"), "executed");
    CHECK(jnull(r.json, "tx_hash"));
    CHECK(json_is_true(json_object_get(r.json, "duplicate")));
    http("POST", "/transfer", nb, "Idempotency-Key: kept-recv-4", 5000, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK(jstr(r.json, "error") != NULL);
    CHECK(json_is_true(json_object_get(r.json, "duplicate")));
    http("POST", "/transfer", nb, "Idempotency-Key: kept-fail-4", 5000, &r);
    CHECK_EQ_INT(r.code, 500);
    CHECK_EQ_STR(jstr(r.json, "status"), "failed");

    /* The index is full of keys it must keep: 503, its Retry-After, the reason named. */
    const char *full = "{\"receiver_id\":\"idemfull.near\",\"amount\":\"5\"}";
    http("POST", "/v1/transfers", full, "Idempotency-Key: new-1", 5000, &r);
    CHECK_EQ_INT(r.code, 503);
    CHECK_EQ_STR(r.retry_after, "42");
    CHECK(jstr(r.json, "reason") && strstr(jstr(r.json, "reason"), "idempotency index is full"));
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "retry_after_s")), STUB_IDEM_RETRY);
    http("POST", "/send-ft", "{\"receiverId\":\"idemfull.near\",\"amount\":\"5\"}",
         "Idempotency-Key: new-2", 5000, &r);
    CHECK_EQ_INT(r.code, 503);
    CHECK_EQ_STR(r.retry_after, "42");
    CHECK(jstr(r.json, "details") && strstr(jstr(r.json, "details"), "idempotency index"));
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "retryAfterSeconds")), STUB_IDEM_RETRY);
    http("POST", "/transfer", full, "Idempotency-Key: new-3", 5000, &r);
    CHECK_EQ_INT(r.code, 503);
    CHECK_EQ_STR(r.retry_after, "42");
    CHECK(jstr(r.json, "reason") && strstr(jstr(r.json, "reason"), "idempotency index"));
    /* Without a key the same receiver is accepted. */
    http("POST", "/v1/transfers", full, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    resp_free(&r);
}

static void test_send_ft(void)
{
    struct resp r = {0}, g = {0};
    http("POST", "/send-ft",
         "{\"receiverId\":\"carol.near\",\"amount\":\"1000000\",\"memo\":\"m1\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK(json_is_true(json_object_get(r.json, "success")));
    CHECK(is_public_id(jstr(r.json, "jobId")));
    CHECK(is_b58_hash(jstr(r.json, "transactionHash")));
    CHECK_EQ_STR(jstr(r.json, "batchId"), jstr(r.json, "transactionHash"));
    CHECK_EQ_STR(jstr(r.json, "receiverId"), "carol.near");
    CHECK_EQ_STR(jstr(r.json, "amount"), "1000000");
    CHECK(jstr(r.json, "status") != NULL && (strcmp(jstr(r.json, "status"), "submitted") == 0 ||
                                             strcmp(jstr(r.json, "status"), "finalized") == 0));
    CHECK(is_iso(jstr(r.json, "submittedAt")));
    CHECK_EQ_STR(jstr(r.json, "message"), "FT transfer executed successfully");

    char path[128];
    snprintf(path, sizeof(path), "/transfer/%s", jstr(r.json, "jobId"));
    http("GET", path, NULL, NULL, 5000, &g);
    CHECK_EQ_INT(g.code, 200);
    json_t *job = json_object_get(g.json, "job");
    CHECK(json_is_true(json_object_get(g.json, "success")));
    CHECK_EQ_STR(jstr(job, "id"), jstr(r.json, "jobId"));
    CHECK_EQ_STR(jstr(job, "status"), "finalized");
    CHECK_EQ_STR(jstr(job, "receiverId"), "carol.near");
    CHECK_EQ_STR(jstr(job, "memo"), "m1");
    CHECK_EQ_STR(jstr(job, "txHash"), jstr(r.json, "transactionHash"));
    CHECK(is_iso(jstr(job, "createdAt")) && is_iso(jstr(job, "updatedAt")) &&
          is_iso(jstr(job, "submittedAt")));
    CHECK(jnull(job, "lastError"));
    snprintf(path, sizeof(path), "/transfer/tx/%s", jstr(r.json, "transactionHash"));
    http("GET", path, NULL, NULL, 5000, &g);
    CHECK_EQ_INT(g.code, 200);
    CHECK_EQ_STR(jstr(g.json, "transactionHash"), jstr(r.json, "transactionHash"));
    json_t *tr = json_object_get(g.json, "transfers");
    CHECK(json_array_size(tr) == 1);
    CHECK_EQ_STR(jstr(json_array_get(tr, 0), "jobId"), jstr(r.json, "jobId"));
    CHECK_EQ_STR(jstr(json_array_get(tr, 0), "status"), "finalized");
    http("GET", "/transfer/424242424", NULL, NULL, 5000, &g);
    CHECK_EQ_INT(g.code, 404);
    CHECK_EQ_STR(jstr(g.json, "error"), "Job not found");
    http("GET", "/transfer/tx/11111111111111111111111111111111", NULL, NULL, 5000, &g);
    CHECK_EQ_INT(g.code, 404);

    /* Batch form; amount as a JSON number is accepted by this shape. */
    http("POST", "/send-ft",
         "{\"transfers\":[{\"receiverId\":\"d1.near\",\"amount\":\"5\"},{\"receiverId\":"
         "\"d2.near\",\"amount\":6,\"memo\":\"x\"}]}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK(json_is_true(json_object_get(r.json, "success")));
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "transfers")), 2);
    CHECK(json_array_size(json_object_get(r.json, "jobIds")) == 2);
    CHECK(is_b58_hash(jstr(r.json, "transactionHash")));
    json_t *res = json_object_get(r.json, "results");
    CHECK(json_array_size(res) == 2);
    CHECK_EQ_STR(jstr(json_array_get(res, 1), "receiverId"), "d2.near");
    CHECK_EQ_STR(jstr(json_array_get(res, 1), "amount"), "6");
    CHECK_EQ_STR(jstr(json_array_get(res, 1), "memo"), "x");

    /* Errors in the Node shapes. */
    http("POST", "/send-ft", "{\"receiver_id\":\"d1.near\",\"amount\":\"5\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK(jstr(r.json, "error") != NULL && strstr(jstr(r.json, "error"), "receiverId") != NULL);
    http("POST", "/send-ft", "{\"receiverId\":\"fail.near\",\"amount\":\"5\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 500);
    CHECK_EQ_STR(jstr(r.json, "error"), "Failed to initiate FT transfer");
    CHECK(jstr(r.json, "details") != NULL && strstr(jstr(r.json, "details"), "not registered"));
    http("POST", "/send-ft", "{\"receiverId\":\"full.near\",\"amount\":\"5\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 503);
    CHECK_EQ_STR(r.retry_after, "7");
    CHECK_EQ_STR(jstr(r.json, "error"), "Service overloaded, please retry later");
    CHECK(jstr(r.json, "details") != NULL);
    CHECK(json_is_integer(json_object_get(r.json, "pendingJobs")));
    CHECK(json_integer_value(json_object_get(r.json, "capacity")) > 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(r.json, "retryAfterSeconds")), STUB_RETRY);
    /* Durable but not submitted when the wait ends: accepted (202) with its id, never a 5xx. */
    http("POST", "/send-ft", "{\"receiverId\":\"queued.near\",\"amount\":\"5\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    CHECK(json_is_true(json_object_get(r.json, "success")));
    CHECK(is_public_id(jstr(r.json, "jobId")));
    CHECK_EQ_STR(jstr(r.json, "status"), "queued");
    CHECK(json_is_null(json_object_get(r.json, "transactionHash")));
    CHECK(json_object_get(r.json, "error") == NULL);
    /* Idempotency-Key: a repeat answers with the original's id; another body gets 422. */
    struct resp k = {0};
    const char *kb = "{\"receiverId\":\"queued.near\",\"amount\":\"6\"}";
    http("POST", "/send-ft", kb, "Idempotency-Key: sf-1", 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    CHECK(json_object_get(r.json, "duplicate") == NULL);
    http("POST", "/send-ft", kb, "Idempotency-Key: sf-1", 5000, &k);
    CHECK_EQ_INT(k.code, 202);
    CHECK_EQ_STR(jstr(k.json, "jobId"), jstr(r.json, "jobId"));
    CHECK(json_is_true(json_object_get(k.json, "duplicate")));
    http("POST", "/send-ft", "{\"receiverId\":\"queued.near\",\"amount\":\"7\"}",
         "Idempotency-Key: sf-1", 5000, &k);
    CHECK_EQ_INT(k.code, 422);
    CHECK(jstr(k.json, "details") != NULL && strstr(jstr(k.json, "details"), "Idempotency-Key"));
    http("POST", "/send-ft", "{\"transfers\":[{\"receiverId\":\"queued.near\",\"amount\":\"1\"}]}",
         "Idempotency-Key: sf-2", 5000, &k);
    CHECK_EQ_INT(k.code, 400);
    http("POST", "/send-ft", kb, "Idempotency-Key: bad\x01key", 5000, &k);
    CHECK_EQ_INT(k.code, 400);
    /* The batch form when the wait ends with transfers still queued: 202, success. */
    http("POST", "/send-ft",
         "{\"transfers\":[{\"receiverId\":\"queued.near\",\"amount\":\"5\"},{\"receiverId\":"
         "\"d2.near\",\"amount\":\"6\"}]}",
         NULL, 5000, &k);
    CHECK_EQ_INT(k.code, 202);
    CHECK(json_is_true(json_object_get(k.json, "success")));
    CHECK(json_array_size(json_object_get(k.json, "jobIds")) == 2);
    resp_free(&k);
    resp_free(&r);
    resp_free(&g);
}

static void test_rust(void)
{
    struct resp r = {0};
    http("POST", "/transfer", "{\"receiver_id\":\"erin.near\",\"amount\":\"9\",\"memo\":null}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK(is_b58_hash(jstr(r.json, "tx_hash")));
    CHECK_EQ_INT(json_object_size(r.json), 1);
    http("POST", "/transfer", "{\"receiver_id\":\"fail.near\",\"amount\":\"9\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK(jstr(r.json, "error") != NULL && strstr(jstr(r.json, "error"), "not registered"));
    http("POST", "/transfer", "{\"receiver_id\":\"boom.near\",\"amount\":\"9\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 500);
    CHECK(jstr(r.json, "error") != NULL &&
          strncmp(jstr(r.json, "error"), "Transfer failed: ", 17) == 0);
    /* Durable but not executed when the wait ends: accepted (202) with its id, never a 5xx. */
    http("POST", "/transfer", "{\"receiver_id\":\"queued.near\",\"amount\":\"9\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    CHECK(is_public_id(jstr(r.json, "id")));
    CHECK_EQ_STR(jstr(r.json, "status"), "queued");
    CHECK(json_is_null(json_object_get(r.json, "tx_hash")));
    /* Idempotency-Key: a repeat of an executed transfer answers its tx_hash; of a queued one its
     * id; another body gets 422. */
    struct resp k = {0};
    http("POST", "/transfer", "{\"receiver_id\":\"erin.near\",\"amount\":\"4\"}",
         "Idempotency-Key: rt-1", 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    http("POST", "/transfer", "{\"receiver_id\":\"erin.near\",\"amount\":\"4\"}",
         "Idempotency-Key: rt-1", 5000, &k);
    CHECK_EQ_INT(k.code, 200);
    CHECK_EQ_STR(jstr(k.json, "tx_hash"), jstr(r.json, "tx_hash"));
    http("POST", "/transfer", "{\"receiver_id\":\"queued.near\",\"amount\":\"4\"}",
         "Idempotency-Key: rt-2", 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    http("POST", "/transfer", "{\"receiver_id\":\"queued.near\",\"amount\":\"4\"}",
         "Idempotency-Key: rt-2", 5000, &k);
    CHECK_EQ_INT(k.code, 202);
    CHECK_EQ_STR(jstr(k.json, "id"), jstr(r.json, "id"));
    CHECK(json_is_true(json_object_get(k.json, "duplicate")));
    http("POST", "/transfer", "{\"receiver_id\":\"queued.near\",\"amount\":\"5\"}",
         "Idempotency-Key: rt-2", 5000, &k);
    CHECK_EQ_INT(k.code, 422);
    CHECK(jstr(k.json, "error") != NULL && strstr(jstr(k.json, "error"), "Idempotency-Key"));
    resp_free(&k);
    http("POST", "/transfer", "{\"receiver_id\":\"erin.near\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 400);
    CHECK(jstr(r.json, "error") != NULL && strstr(jstr(r.json, "error"), "amount") != NULL);
    http("POST", "/transfer", "{\"receiver_id\":\"full.near\",\"amount\":\"9\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 503);
    CHECK_EQ_STR(r.retry_after, "7");
    resp_free(&r);
}

static void test_backpressure(void)
{
    struct resp r = {0};
    /* More transfers than half the slab: job_alloc_range refuses -> 503. */
    size_t cap = 600 * 64;
    char *big = malloc(cap);
    size_t n = (size_t)snprintf(big, cap, "{\"transfers\":[");
    for (int i = 0; i < STUB_SLAB / 2 + 1; i++)
        n += (size_t)snprintf(big + n, cap - n, "%s{\"receiver_id\":\"bp.near\",\"amount\":\"1\"}",
                              i ? "," : "");
    snprintf(big + n, cap - n, "]}");
    http("POST", "/v1/transfers", big, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 503);
    CHECK_EQ_STR(r.retry_after, "7");
    CHECK_EQ_STR(jstr(r.json, "error"), "overloaded");
    free(big);
    /* Pipeline full. */
    http("POST", "/v1/transfers", "{\"receiver_id\":\"full.near\",\"amount\":\"1\"}", NULL, 5000,
         &r);
    CHECK_EQ_INT(r.code, 503);
    CHECK_EQ_STR(r.retry_after, "7");
    CHECK(jstr(r.json, "reason") != NULL);
    /* Log write failed. */
    http("POST", "/v1/transfers", "{\"receiver_id\":\"ioerr.near\",\"amount\":\"1\"}", NULL, 5000,
         &r);
    CHECK_EQ_INT(r.code, 503);
    CHECK_EQ_STR(r.retry_after, "7");
    resp_free(&r);
}

static struct ingest *stage_up(const struct cfg *c, const char *tokens, unsigned *saved);
static void stage_down(struct ingest *in, unsigned saved);

/* stage_up_holding: stage_up of *c, filled from base with a wait timeout that never ends a hold
 * during the test (600 s), for tests whose held requests must stay held however slowly the
 * machine runs. The stage keeps pointing at *c: it must outlive the stage. */
static struct ingest *stage_up_holding(const struct cfg *base, struct cfg *c, unsigned *saved)
{
    *c = *base;
    c->wait_timeout_ms = 600000;
    return stage_up(c, NULL, saved);
}

/* More concurrent held requests than there are contexts: the excess is answered 503 at once. Its
 * own stage, whose wait timeout never ends a hold during the test, so no context comes free
 * however slowly the requests arrive; once the 503s are in (the held requests cannot answer
 * before), the held jobs are released and answered 200. Runs before the main stage exists. */
static void test_context_exhaustion(const struct cfg *base)
{
    unsigned saved = 0;
    struct cfg c;
    struct ingest *in = stage_up_holding(base, &c, &saved);
    if (in == NULL)
        return;
    CURLM *m = curl_multi_init();
    static struct resp rs[CONC_REQUESTS];
    CURL *es[CONC_REQUESTS];
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    for (int i = 0; i < CONC_REQUESTS; i++) {
        resp_reset(&rs[i]);
        es[i] =
            easy_setup("POST", "/v1/transfers?wait=executed",
                       "{\"receiver_id\":\"queued.near\",\"amount\":\"1\"}", hdrs, 60000, &rs[i]);
        curl_multi_add_handle(m, es[i]);
    }
    int running = 1, done = 0;
    while (running) {
        curl_multi_perform(m, &running);
        int left;
        while (curl_multi_info_read(m, &left) != NULL)
            done++;
        /* Every thread holds at most its contexts: at least this many answers are 503s. Then
         * release what is held, again each pass (a late arrival may be held after a release). */
        if (done >= CONC_REQUESTS - 2 * 64) {
            atomic_store(&stub.release_held, 1);
            nf_ring_wake(&stub.in);
        }
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    int n503 = 0, n200 = 0, other = 0, with_retry = 0;
    for (int i = 0; i < CONC_REQUESTS; i++) {
        resp_finish(es[i], &rs[i]);
        if (rs[i].code == 503) {
            n503++;
            with_retry += strcmp(rs[i].retry_after, "7") == 0;
        } else if (rs[i].code == 200) {
            n200++;
        } else {
            other++;
        }
        curl_multi_remove_handle(m, es[i]);
        curl_easy_cleanup(es[i]);
        resp_free(&rs[i]);
    }
    curl_slist_free_all(hdrs);
    curl_multi_cleanup(m);
    CHECK_EQ_INT(other, 0);
    CHECK(n503 >= CONC_REQUESTS - 2 * 64);
    CHECK(n200 >= 64);
    CHECK_EQ_INT(n503 + n200, CONC_REQUESTS);
    CHECK_EQ_INT(with_retry, n503);
    /* The stub takes the last release before the next stage holds anything (bounded). */
    for (double until = mono_s() + POLL_LIMIT_S;
         atomic_load(&stub.release_held) != 0 && mono_s() < until;) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    CHECK_EQ_INT(atomic_load(&stub.release_held), 0);
    stage_down(in, saved);
}

/* A client that hangs up while its request is held is counted as orphaned once, and its context
 * comes back when the held job is released. Its own stage, whose wait timeout never ends the hold
 * during the test, so the count does not depend on how soon the server notices the close. Runs
 * before the main stage exists. */
static void test_orphan(const struct cfg *base)
{
    unsigned saved = 0;
    struct cfg c;
    struct ingest *in = stage_up_holding(base, &c, &saved);
    if (in == NULL)
        return;
    struct resp r = {0};
    http("GET", "/metrics", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(metric_value(r.body, "nearft_ingest_orphaned_total"), 0);
    /* The client gives up while the job is held. */
    int rc = http("POST", "/v1/transfers?wait=executed",
                  "{\"receiver_id\":\"queued.near\",\"amount\":\"1\"}", NULL, 100, &r);
    CHECK_EQ_INT(rc, CURLE_OPERATION_TIMEDOUT);
    /* The server notices the close on its own thread; poll the counter, bounded. */
    uint64_t orphaned = 0;
    for (double until = mono_s() + POLL_LIMIT_S; orphaned == 0 && mono_s() < until;) {
        http("GET", "/metrics", NULL, NULL, 5000, &r);
        orphaned = metric_value(r.body, "nearft_ingest_orphaned_total");
        if (orphaned == 0) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    CHECK_EQ_INT(orphaned, 1);
    CHECK_EQ_INT(metric_value(r.body, "nearft_ingest_wait_timeouts_total"), 0);
    /* Released, the job's answer finds the orphaned context and puts it back (bounded poll). */
    atomic_store(&stub.release_held, 1);
    nf_ring_wake(&stub.in);
    uint64_t in_use = UINT64_MAX;
    for (double until = mono_s() + POLL_LIMIT_S; in_use != 0 && mono_s() < until;) {
        http("GET", "/metrics", NULL, NULL, 5000, &r);
        in_use = metric_value(r.body, "nearft_ingest_contexts_in_use");
        if (in_use != 0) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    CHECK_EQ_INT(in_use, 0);
    CHECK_EQ_INT(metric_value(r.body, "nearft_ingest_orphaned_total"), 1);
    resp_free(&r);
    stage_down(in, saved);
}

/* Held jobs released after their contexts were recycled (wait timeouts): their JOB messages are
 * counted as stale and ignored, and the server still answers. */
static void test_stale(void)
{
    struct resp r = {0};
    /* Release every held job: their JOB messages now find recycled contexts (stale, ignored). */
    atomic_store(&stub.release_held, 1);
    nf_ring_wake(&stub.in);
    uint64_t stale = 0;
    for (double until = mono_s() + POLL_LIMIT_S; stale == 0 && mono_s() < until;) {
        http("GET", "/debug/stages", NULL, NULL, 5000, &r);
        json_t *ing = json_object_get(r.json, "ingest");
        stale = (uint64_t)json_integer_value(json_object_get(ing, "stale_messages"));
        if (stale == 0) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    CHECK(stale > 0);
    /* The server is still fine. */
    http("POST", "/v1/transfers?wait=executed", "{\"receiver_id\":\"bob.near\",\"amount\":\"1\"}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    resp_free(&r);
}

static void test_ops_routes(void)
{
    struct resp r = {0};
    http("GET", "/health", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK_EQ_STR(jstr(r.json, "status"), "ok");
    atomic_store(&stub.unhealthy, 1);
    http("GET", "/health", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 503);
    atomic_store(&stub.unhealthy, 0);
    http("GET", "/metrics", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK(strstr(r.ctype, "text/plain") != NULL);
    CHECK(metric_value(r.body, "nearft_stub_total") == 1);
    CHECK(metric_value(r.body, "nearft_http_requests_total{route=\"v1_transfers_post\","
                               "code=\"202\"}") >= 1);
    CHECK(metric_value(r.body, "nearft_http_requests_total{route=\"send_ft\",code=\"503\"}") >= 1);
    CHECK(metric_value(r.body, "nearft_http_request_duration_seconds_count") > 10);
    CHECK(metric_value(r.body, "nearft_http_request_duration_seconds_bucket{le=\"+Inf\"}") ==
          metric_value(r.body, "nearft_http_request_duration_seconds_count"));
    CHECK(metric_value(r.body, "nearft_ingest_parse_seconds_per_transfer_count") > 0);
    /* An answer can leave while the rest of its thread's reply ring is still being drained:
     * poll, bounded, until every thread's ring is empty. */
    uint64_t ring = UINT64_MAX;
    for (double until = mono_s() + POLL_LIMIT_S; ring != 0 && mono_s() < until;) {
        http("GET", "/metrics", NULL, NULL, 5000, &r);
        ring = 0;
        for (unsigned k = 0; k < STUB_THREADS; k++) {
            char name[80];
            snprintf(name, sizeof(name), "nearft_ingest_reply_ring_items{thread=\"%u\"}", k);
            uint64_t v = metric_value(r.body, name);
            ring += v == UINT64_MAX ? 1 : v;
        }
        if (ring != 0) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    CHECK_EQ_INT(ring, 0);
    http("GET", "/debug/stages", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK(json_is_object(json_object_get(r.json, "wal")));
    json_t *ing = json_object_get(r.json, "ingest");
    CHECK(json_array_size(json_object_get(ing, "threads")) == STUB_THREADS);
    CHECK(json_is_object(
        json_object_get(json_object_get(ing, "parse_ns_per_transfer"), "buckets_le")));
    resp_free(&r);
}

struct bg_req {
    pthread_t tid;
    struct resp r;
    int rc;
};

static void *bg_held(void *arg)
{
    struct bg_req *b = arg;
    b->rc = http("POST", "/v1/transfers?wait=executed",
                 "{\"receiver_id\":\"queued.near\",\"amount\":\"1\"}", NULL, 10000, &b->r);
    return NULL;
}

static uint64_t ctx_in_use(struct ingest *in)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < in->nthreads; i++)
        n += ingest_stat_get(&in->threads[i].stats->ctx_in_use);
    return n;
}

/* A request still held at ingest_stop is answered (202, current state) within the grace. */
static void test_stop_answers(struct ingest *in)
{
    struct bg_req b = {0};
    /* A context is put back just after its answer leaves: poll, bounded. */
    for (double until = mono_s() + POLL_LIMIT_S; ctx_in_use(in) != 0 && mono_s() < until;) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    CHECK(ctx_in_use(in) == 0);
    pthread_create(&b.tid, NULL, bg_held, &b);
    for (double until = mono_s() + POLL_LIMIT_S; ctx_in_use(in) == 0 && mono_s() < until;) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    CHECK(ctx_in_use(in) == 1);
    ingest_stop(in);
    pthread_join(b.tid, NULL);
    CHECK_EQ_INT(b.rc, CURLE_OK);
    CHECK_EQ_INT(b.r.code, 202);
    CHECK_EQ_STR(jstr(b.r.json, "status"), "queued");
    resp_free(&b.r);
    ingest_stop(in); /* idempotent */
}

/* ---- the wire itself (hsrv.c), over raw sockets ---------------------------------------------- */

/* Reads until the peer closes (returns 1) or `until` appears in what was read, or 5 s pass
 * (returns 0). out is NUL-terminated; *len is its length. */
static int raw_read(int fd, char *out, size_t cap, size_t *len, const char *until)
{
    *len = 0;
    out[0] = '\0';
    for (int spins = 0; spins < 50; spins++) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, out + *len, cap - 1 - *len, 0);
        if (n <= 0)
            return 1;
        *len += (size_t)n;
        out[*len] = '\0';
        if (until != NULL && strstr(out, until) != NULL)
            return 0;
        spins = 0;
    }
    return 0;
}

/* Sends req on a new connection and reads the whole answer stream until the server closes. */
static int raw_exchange(const char *req, size_t n, char *out, size_t cap, size_t *len)
{
    int fd = raw_sock_connect(port);
    if (fd == -1)
        return -1;
    int closed = raw_sock_send(fd, req, n) == 0 ? raw_read(fd, out, cap, len, NULL) : -1;
    close(fd);
    return closed;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The JSON body after the last head in out. */
static json_t *last_json(const char *out)
{
    const char *b = NULL;
    for (const char *p = strstr(out, "\r\n\r\n"); p != NULL; p = strstr(p + 4, "\r\n\r\n"))
        b = p + 4;
    return b ? json_loads(b, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
}

static void expect_refusal(const char *req, const char *status, const char *field)
{
    static char out[65536];
    size_t len = 0;
    CHECK_EQ_INT(raw_exchange(req, strlen(req), out, sizeof(out), &len), 1);
    CHECK(strncmp(out, status, strlen(status)) == 0);
    CHECK(strstr(out, "Connection: close\r\n") != NULL);
    json_t *j = last_json(out);
    CHECK(j != NULL);
    if (field != NULL)
        CHECK_EQ_STR(jstr(j, "field"), field);
    CHECK(jstr(j, "reason") != NULL || field == NULL);
    json_decref(j);
}

/* hsrv's own refusals of a request whose head it read (a body over max_body_bytes, a malformed
 * chunked body) carry the CORS headers for an allowed Origin, so a page there reads the 413 or
 * 400 instead of a network error; for another Origin only Vary, and none for the next request of
 * a keep-alive connection that has no Origin; a head hsrv could not read has no Origin to trust
 * and gets none. */
static void test_cors_refusals(char *out, size_t cap)
{
    size_t len = 0;
    const char *cors = "\r\nAccess-Control-Allow-Origin: https://ops.example\r\nVary: Origin\r\n"
                       "Access-Control-Expose-Headers: Retry-After\r\n";
    const char *big = "POST /v1/transfers HTTP/1.1\r\nHost: t\r\nOrigin: https://ops.example\r\n"
                      "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n";
    CHECK_EQ_INT(raw_exchange(big, strlen(big), out, cap, &len), 1);
    CHECK(strncmp(out, "HTTP/1.1 413 ", 13) == 0);
    CHECK(strstr(out, cors) != NULL);
    const char *chunked = "POST /v1/transfers HTTP/1.1\r\nHost: t\r\nOrigin: https://ops.example"
                          "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "zz\r\n";
    CHECK_EQ_INT(raw_exchange(chunked, strlen(chunked), out, cap, &len), 1);
    CHECK(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    CHECK(strstr(out, cors) != NULL);
    const char *foreign = "POST /v1/transfers HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example"
                          "\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n";
    CHECK_EQ_INT(raw_exchange(foreign, strlen(foreign), out, cap, &len), 1);
    CHECK(strncmp(out, "HTTP/1.1 413 ", 13) == 0);
    CHECK(strstr(out, "Access-Control-Allow-Origin") == NULL);
    CHECK(strstr(out, "\r\nVary: Origin\r\n") != NULL);
    /* On a keep-alive connection, a refused request without Origin after one with it. */
    const char *two = "GET /health HTTP/1.1\r\nHost: t\r\nOrigin: https://ops.example\r\n\r\n"
                      "POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
                      "\r\nContent-Length: 2000000\r\n\r\n";
    CHECK_EQ_INT(raw_exchange(two, strlen(two), out, cap, &len), 1);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    const char *second = strstr(out, "HTTP/1.1 413 ");
    CHECK(second != NULL);
    CHECK_EQ_INT(count_of(out, "Access-Control-Allow-Origin: https://ops.example"), 1);
    CHECK(second != NULL && strstr(second, "Access-Control-Allow-Origin") == NULL);
    const char *folded = "GET /health HTTP/1.1\r\nHost: t\r\nOrigin: https://ops.example\r\n"
                         "X: a\r\n folded\r\n\r\n";
    CHECK_EQ_INT(raw_exchange(folded, strlen(folded), out, cap, &len), 1);
    CHECK(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    CHECK(strstr(out, "Access-Control-Allow-Origin") == NULL);
}

/* CORS for --allowed-origins (https://ops.example here): a preflight from it is answered 200
 * without a token, naming the methods and request headers a page may use; the answers to its
 * requests, a held one included (the wait timeout), carry Access-Control-Allow-Origin with its
 * origin, Vary and the exposed Retry-After; a preflight from another origin is 403 without them,
 * and one without Origin gets Allow; answers to requests without Origin carry none. */
static void test_cors(char *out, size_t cap)
{
    size_t len = 0;
    const char *pre = "OPTIONS /v1/transfers HTTP/1.1\r\nHost: t\r\nOrigin: https://ops.example\r\n"
                      "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: "
                      "authorization, content-type, idempotency-key\r\nConnection: close\r\n\r\n";
    CHECK_EQ_INT(raw_exchange(pre, strlen(pre), out, cap, &len), 1);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    CHECK(strstr(out, "\r\nAccess-Control-Allow-Origin: https://ops.example\r\n") != NULL);
    CHECK(strstr(out, "\r\nAccess-Control-Allow-Methods: GET, POST\r\n") != NULL);
    CHECK(strstr(out, "\r\nAccess-Control-Allow-Headers: Authorization, Content-Type, "
                      "Idempotency-Key\r\n") != NULL);
    CHECK(strstr(out, "\r\nVary: Origin\r\n") != NULL);
    const char *foreign =
        "OPTIONS /v1/transfers HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example"
        "\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n";
    CHECK_EQ_INT(raw_exchange(foreign, strlen(foreign), out, cap, &len), 1);
    CHECK(strncmp(out, "HTTP/1.1 403 ", 13) == 0);
    CHECK(strstr(out, "Access-Control-") == NULL);
    CHECK(strstr(out, "\r\nVary: Origin\r\n") != NULL); /* answers differ by Origin */
    const char *plain = "OPTIONS /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    CHECK_EQ_INT(raw_exchange(plain, strlen(plain), out, cap, &len), 1);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    CHECK(strstr(out, "\r\nAllow: GET, POST\r\n") != NULL);
    CHECK(strstr(out, "Access-Control-") == NULL);
    /* The actual requests: at once, held until the wait timeout, and without Origin. */
    static const char body[] = "{\"receiver_id\":\"a.near\",\"amount\":\"1\"}";
    static const char held[] = "{\"receiver_id\":\"queued.near\",\"amount\":\"1\"}";
    const struct {
        const char *path, *body, *origin, *status;
    } cases[] = {
        {"/v1/transfers", body, "Origin: https://ops.example\r\n", "HTTP/1.1 202 "},
        {"/v1/transfers?wait=executed", held, "Origin: https://ops.example\r\n", "HTTP/1.1 202 "},
        {"/v1/transfers", body, "", "HTTP/1.1 202 "},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char req[1024];
        int n = snprintf(req, sizeof(req),
                         "POST %s HTTP/1.1\r\nHost: t\r\n%sContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         cases[k].path, cases[k].origin, strlen(cases[k].body), cases[k].body);
        CHECK_EQ_INT(raw_exchange(req, (size_t)n, out, cap, &len), 1);
        CHECK(strncmp(out, cases[k].status, strlen(cases[k].status)) == 0);
        if (*cases[k].origin != '\0') {
            CHECK(strstr(out, "\r\nAccess-Control-Allow-Origin: https://ops.example\r\n") != NULL);
            CHECK(strstr(out, "\r\nAccess-Control-Expose-Headers: Retry-After\r\n") != NULL);
            CHECK(strstr(out, "\r\nVary: Origin\r\n") != NULL);
        } else {
            CHECK(strstr(out, "Access-Control-") == NULL);
        }
    }
    /* One connection: a request with the allowed Origin, then (pipelined in the same write) one
     * without: the second answer carries no CORS header. */
    const char *two = "GET /health HTTP/1.1\r\nHost: t\r\nOrigin: https://ops.example\r\n\r\n"
                      "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    CHECK_EQ_INT(raw_exchange(two, strlen(two), out, cap, &len), 1);
    const char *second = strstr(out + 1, "HTTP/1.1 200 ");
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0 && second != NULL);
    if (second != NULL) {
        CHECK(strstr(out, "Access-Control-Allow-Origin: https://ops.example\r\n") < second);
        CHECK(strstr(second, "Access-Control-") == NULL);
    }
}

/* ingest_http_chunked resumes after the chunks it already checked (the body arriving in pieces)
 * and gives the same body as one call over everything. */
static void test_chunked_resume(void)
{
    char b1[] = "5\r\nhello\r\n3;x=1\r\nabc\r\n0\r\nT: v\r\n\r\nNEXT";
    char b2[sizeof(b1)];
    memcpy(b2, b1, sizeof(b1));
    size_t total = sizeof(b1) - 1 - 4; /* without the next request's bytes */
    struct ingest_chunk_state st = {0};
    size_t raw = 0, body = 0;
    CHECK_EQ_INT(ingest_http_chunked(b1, 12, 1024, &st, &raw, &body), 0);
    CHECK_EQ_INT(st.pos, 10); /* after "5\r\nhello\r\n" */
    CHECK_EQ_INT(st.total, 5);
    CHECK_EQ_INT(ingest_http_chunked(b1, 24, 1024, &st, &raw, &body), 0);
    CHECK_EQ_INT(st.pos, 22);
    CHECK_EQ_INT(st.total, 8);
    CHECK_EQ_INT(ingest_http_chunked(b1, sizeof(b1) - 1, 1024, &st, &raw, &body), 1);
    CHECK_EQ_INT(raw, total);
    CHECK_EQ_INT(body, 8);
    CHECK(memcmp(b1, "helloabc", 8) == 0);
    size_t raw2 = 0, body2 = 0;
    CHECK_EQ_INT(ingest_http_chunked(b2, sizeof(b2) - 1, 1024, NULL, &raw2, &body2), 1);
    CHECK_EQ_INT(raw2, raw);
    CHECK_EQ_INT(body2, body);
    /* The running total still enforces max_body across calls. */
    char b3[] = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    struct ingest_chunk_state s3 = {0};
    CHECK_EQ_INT(ingest_http_chunked(b3, 12, 8, &s3, &raw, &body), 0);
    CHECK_EQ_INT(ingest_http_chunked(b3, sizeof(b3) - 1, 8, &s3, &raw, &body), NF_ERANGE);
}

static void test_wire(void)
{
    static char req[65536], out[65536];
    size_t len = 0;
    const char *body = "{\"receiver_id\":\"queued.near\",\"amount\":\"1\"}";
    size_t bl = strlen(body);

    /* Pipelining: three requests in one write are answered in order on one connection; the
     * last asks to close and the server closes after it. */
    int n = snprintf(req, sizeof(req),
                     "POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\n\r\n%s"
                     "POST /v1/transfers?wait=executed HTTP/1.1\r\nHost: t\r\nContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\n\r\n%s"
                     "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                     bl, body, bl, body);
    CHECK_EQ_INT(raw_exchange(req, (size_t)n, out, sizeof(out), &len), 1);
    const char *a1 = strstr(out, "HTTP/1.1 202 ");
    const char *a2 = a1 ? strstr(a1 + 1, "HTTP/1.1 202 ") : NULL;
    const char *a3 = a2 ? strstr(a2 + 1, "HTTP/1.1 200 ") : NULL;
    CHECK(a1 == out && a2 != NULL && a3 != NULL);
    CHECK_EQ_INT(count_of(out, "HTTP/1.1 "), 3);
    CHECK(a3 && strstr(a3, "Connection: close\r\n") != NULL);
    CHECK(strstr(out, "Date: ") != NULL);

    /* Chunked body, with a chunk extension and a trailer. */
    n = snprintf(req, sizeof(req),
                 "POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: "
                 "application/json\r\nTransfer-Encoding: chunked\r\nConnection: "
                 "close\r\n\r\n5;x=y\r\n%.5s\r\n%zx\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n",
                 body, bl - 5, body + 5);
    CHECK_EQ_INT(raw_exchange(req, (size_t)n, out, sizeof(out), &len), 1);
    CHECK(strncmp(out, "HTTP/1.1 202 ", 13) == 0);
    json_t *j = last_json(out);
    CHECK(is_public_id(jstr(j, "id")));
    json_decref(j);

    /* Expect: 100-continue: the interim answer comes before the body is sent. */
    int fd = raw_sock_connect(port);
    CHECK(fd != -1);
    n = snprintf(req, sizeof(req),
                 "POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: "
                 "application/json\r\nExpect: 100-continue\r\nContent-Length: "
                 "%zu\r\nConnection: close\r\n\r\n",
                 bl);
    CHECK_EQ_INT(raw_sock_send(fd, req, (size_t)n), 0);
    CHECK_EQ_INT(raw_read(fd, out, sizeof(out), &len, "\r\n\r\n"), 0);
    CHECK_EQ_STR(out, "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK_EQ_INT(raw_sock_send(fd, body, bl), 0);
    CHECK_EQ_INT(raw_read(fd, out, sizeof(out), &len, NULL), 1);
    CHECK(strncmp(out, "HTTP/1.1 202 ", 13) == 0);
    close(fd);

    /* HTTP/1.0: closed after the answer unless keep-alive is asked for. */
    const char *h10 = "GET /health HTTP/1.0\r\n\r\n";
    CHECK_EQ_INT(raw_exchange(h10, strlen(h10), out, sizeof(out), &len), 1);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    CHECK(strstr(out, "Connection: close\r\n") != NULL);
    fd = raw_sock_connect(port);
    const char *ka = "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    CHECK_EQ_INT(raw_sock_send(fd, ka, strlen(ka)), 0);
    CHECK_EQ_INT(raw_read(fd, out, sizeof(out), &len, "}"), 0);
    CHECK(strstr(out, "Connection: keep-alive\r\n") != NULL);
    CHECK_EQ_INT(raw_sock_send(fd, h10, strlen(h10)), 0); /* same connection, still open */
    CHECK_EQ_INT(raw_read(fd, out, sizeof(out), &len, NULL), 1);
    CHECK(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    close(fd);

    /* HEAD gets the head of the 405 (with Allow) and no body. */
    const char *head = "HEAD /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    CHECK_EQ_INT(raw_exchange(head, strlen(head), out, sizeof(out), &len), 1);
    CHECK(strncmp(out, "HTTP/1.1 405 ", 13) == 0);
    CHECK(strstr(out, "Allow: GET\r\n") != NULL);
    CHECK(len >= 4 && strcmp(out + len - 4, "\r\n\r\n") == 0);

    /* Refusals: status, the field named in the JSON body, and the connection closed. */
    expect_refusal("BLAH\r\n\r\n", "HTTP/1.1 400 ", "request line");
    expect_refusal("GET http://x/health HTTP/1.1\r\n\r\n", "HTTP/1.1 400 ", "request line");
    expect_refusal("GET /health HTTP/2.0\r\n\r\n", "HTTP/1.1 505 ", "request line");
    expect_refusal("POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: "
                   "application/json\r\nContent-Length: 3\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n",
                   "HTTP/1.1 400 ", "Transfer-Encoding");
    expect_refusal("POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: "
                   "application/json\r\nTransfer-Encoding: gzip\r\n\r\n",
                   "HTTP/1.1 501 ", "Transfer-Encoding");
    expect_refusal("POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: "
                   "application/json\r\nContent-Length: 1x\r\n\r\n",
                   "HTTP/1.1 400 ", "Content-Length");
    expect_refusal("POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: "
                   "application/json\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                   "HTTP/1.1 400 ", "Content-Length");
    expect_refusal("POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: "
                   "application/json\r\nExpect: later\r\n\r\n",
                   "HTTP/1.1 417 ", "Expect");
    expect_refusal("POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: "
                   "application/json\r\nContent-Length: 2000000\r\n\r\n",
                   "HTTP/1.1 413 ", "body");
    expect_refusal("POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: "
                   "application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                   "HTTP/1.1 400 ", "Transfer-Encoding");
    expect_refusal("GET /health HTTP/1.1\r\nHost: t\r\nX: a\r\n folded\r\n\r\n", "HTTP/1.1 400 ",
                   "headers");
    /* Strict framing: lines end in CRLF (a bare LF is 400 in the head and in chunked framing),
     * chunk extensions and trailer names are checked, one Idempotency-Key only. The reason in
     * the body says which rule. */
    static const struct {
        const char *req;
        const char *field;
        const char *why;
    } strict[] = {
        {"POST /v1/transfers HTTP/1.1\nTransfer-Encoding: chunked\nConnection: "
         "close\n\n2\n{}\n0\n\n",
         "request line", "bare LF"},
        {"GET /health HTTP/1.1\r\nHost: t\nConnection: close\r\n\r\n", "headers", "bare LF"},
        {"POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2;a\rb\r\n{}\r\n0\r\n\r\n",
         "Transfer-Encoding", "extensions"},
        {"POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Transfer-Encoding: chunked\r\n\r\n2\n{}\r\n0\r\n\r\n",
         "Transfer-Encoding", "bare LF"},
        {"POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Transfer-Encoding: chunked\r\n\r\n2;x=\"a\x01\"\r\n{}\r\n0\r\n\r\n",
         "Transfer-Encoding", "control byte"},
        {"POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nBad Name: 1\r\n\r\n",
         "trailers", "token"},
        {"POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Idempotency-Key: a\r\nIdempotency-Key: b\r\nContent-Length: 2\r\n\r\n{}",
         "Idempotency-Key", "given twice"},
    };
    for (size_t k = 0; k < sizeof(strict) / sizeof(strict[0]); k++) {
        expect_refusal(strict[k].req, "HTTP/1.1 400 ", strict[k].field);
        CHECK_EQ_INT(raw_exchange(strict[k].req, strlen(strict[k].req), out, sizeof(out), &len), 1);
        json_t *e = last_json(out);
        const char *why = jstr(e, "reason");
        CHECK(why != NULL && strstr(why, strict[k].why) != NULL);
        if (why == NULL || strstr(why, strict[k].why) == NULL)
            fprintf(stderr, "strict case %zu: %s\n", k, out);
        json_decref(e);
    }
    /* A head of ~6 KiB sent in 61-byte pieces (it outgrows the connection's own 4 KiB buffer
     * on the way, so the parse resumes in the larger buffer) is served like one sent whole. */
    {
        size_t hn = (size_t)snprintf(req, sizeof(req),
                                     "POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: "
                                     "application/json\r\nIdempotency-Key: pieces-1\r\n");
        for (int k = 0; k < 120; k++)
            hn += (size_t)snprintf(req + hn, sizeof(req) - hn,
                                   "X-Filler-%02d: abcdefghijklmnopqrstuvwxyz0123456789\r\n", k);
        hn += (size_t)snprintf(req + hn, sizeof(req) - hn,
                               "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", bl, body);
        CHECK(hn > 6000);
        fd = raw_sock_connect(port);
        CHECK(fd != -1);
        for (size_t off = 0; off < hn; off += 61)
            CHECK_EQ_INT(raw_sock_send(fd, req + off, hn - off < 61 ? hn - off : 61), 0);
        CHECK_EQ_INT(raw_read(fd, out, sizeof(out), &len, NULL), 1);
        CHECK(strncmp(out, "HTTP/1.1 202 ", 13) == 0);
        json_t *pj = last_json(out);
        CHECK(is_public_id(jstr(pj, "id")));
        json_decref(pj);
        close(fd);
    }
    /* HTTP/1.1 needs exactly one Host (RFC 9112 3.2); HTTP/1.0 does not (tested above). */
    expect_refusal("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", "HTTP/1.1 400 ", "Host");
    expect_refusal("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP/1.1 400 ", "Host");
    expect_refusal("GET /health HTTP/1.1\r\nHost: a\r\nOrigin: x\r\nOrigin: y\r\n\r\n",
                   "HTTP/1.1 400 ", "Origin");
    /* Browser defences: a POST must say application/json (415), a foreign Origin is 403. */
    static const struct {
        const char *headers;
        const char *status;
        const char *field;
    } ct[] = {
        {"", "HTTP/1.1 415 ", "Content-Type"},
        {"Content-Type: text/plain\r\n", "HTTP/1.1 415 ", "Content-Type"},
        {"Content-Type: application/x-www-form-urlencoded\r\n", "HTTP/1.1 415 ", "Content-Type"},
        {"Content-Type: application/jsonx\r\n", "HTTP/1.1 415 ", "Content-Type"},
        {"Content-Type: application/json; charset=utf-8\r\n", "HTTP/1.1 202 ", NULL},
        {"Content-Type: Application/JSON\r\n", "HTTP/1.1 202 ", NULL},
        {"Content-Type: application/json\r\nOrigin: https://evil.example\r\n", "HTTP/1.1 403 ",
         "Origin"},
        {"Content-Type: application/json\r\nOrigin: null\r\n", "HTTP/1.1 403 ", "Origin"},
        {"Content-Type: application/json\r\nOrigin: https://ops.example\r\n", "HTTP/1.1 202 ",
         NULL},
    };
    for (size_t k = 0; k < sizeof(ct) / sizeof(ct[0]); k++) {
        n = snprintf(req, sizeof(req),
                     "POST /v1/transfers HTTP/1.1\r\nHost: t\r\n%sContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     ct[k].headers, bl, body);
        CHECK_EQ_INT(raw_exchange(req, (size_t)n, out, sizeof(out), &len), 1);
        if (strncmp(out, ct[k].status, strlen(ct[k].status)) != 0)
            fprintf(stderr, "case %zu: %.40s\n", k, out);
        CHECK(strncmp(out, ct[k].status, strlen(ct[k].status)) == 0);
        if (ct[k].field != NULL) {
            json_t *e = last_json(out);
            CHECK_EQ_STR(jstr(e, "field"), ct[k].field);
            json_decref(e);
        }
    }
    /* A foreign Origin is refused on GET routes too. */
    const char *og = "GET /health HTTP/1.1\r\nHost: t\r\nOrigin: http://localhost:3000\r\n"
                     "Connection: close\r\n\r\n";
    CHECK_EQ_INT(raw_exchange(og, strlen(og), out, sizeof(out), &len), 1);
    CHECK(strncmp(out, "HTTP/1.1 403 ", 13) == 0);
    CHECK(strstr(out, "Access-Control-Allow-Origin") == NULL);
    test_cors(out, sizeof(out));
    test_cors_refusals(out, sizeof(out));

    /* A head over 16 KiB. */
    n = snprintf(req, sizeof(req), "GET /health HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(req + n, 'a', 20000);
    memcpy(req + n + 20000, "\r\n\r\n", 5);
    expect_refusal(req, "HTTP/1.1 431 ", "headers");

    /* Open connections are reported per thread (refreshed every second): hold some open and
     * poll /debug/stages until they show (bounded). */
    int held[6];
    for (int k = 0; k < 6; k++)
        held[k] = raw_sock_connect(port);
    uint64_t open_seen = 0;
    for (double until = mono_s() + POLL_LIMIT_S; open_seen < 6 && mono_s() < until;) {
        struct resp st = {0};
        http("GET", "/debug/stages", NULL, NULL, 5000, &st);
        json_t *ths = json_object_get(json_object_get(st.json, "ingest"), "threads");
        open_seen = 0;
        for (size_t k = 0; k < json_array_size(ths); k++)
            open_seen += (uint64_t)json_integer_value(
                json_object_get(json_array_get(ths, k), "open_connections"));
        CHECK(json_integer_value(json_object_get(json_array_get(ths, 0), "max_connections")) ==
              256);
        resp_free(&st);
        if (open_seen < 6) {
            struct pollfd none;
            poll(&none, 0, 100); /* the gauge is refreshed by each thread's 1 s tick */
        }
    }
    CHECK(open_seen >= 6);
    for (int k = 0; k < 6; k++)
        if (held[k] != -1)
            close(held[k]);

    /* A chunked body over max_body_bytes (1 MiB here) is 413 once the sum passes it. */
    n = snprintf(req, sizeof(req),
                 "POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: "
                 "application/json\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n");
    expect_refusal(req, "HTTP/1.1 413 ", "body");
}

/* ---- bearer tokens: the table swap under load ---------------------------------------------- */

struct swap_client {
    char hdr[AUTH_TOKEN_LEN + 32];
    atomic_int stop;
    atomic_int ok;
    int other;
};

static void *swap_client_main(void *arg)
{
    struct swap_client *sc = arg;
    struct resp r = {0};
    while (!atomic_load(&sc->stop)) {
        http("GET", "/metrics", NULL, sc->hdr, 5000, &r);
        if (r.code == 200)
            atomic_fetch_add(&sc->ok, 1);
        else
            sc->other++;
    }
    resp_free(&r);
    return NULL;
}

static struct auth_table *load_tokens(const char *path)
{
    char err[256];
    int rc = 0;
    struct auth_table *t = auth_table_load(path, err, sizeof(err), &rc);
    if (t == NULL)
        fprintf(stderr, "%s\n", err);
    return t;
}

/* stage_up: an ingest stage on the stub hub with configuration c (and the token file tokens
 * loaded, when not NULL), started, with the test's port pointed at it; *saved keeps the previous
 * port for stage_down. NULL after a failed check. */
static struct ingest *stage_up(const struct cfg *c, const char *tokens, unsigned *saved)
{
    int e = 0;
    struct ingest *in = ingest_new(c, &stub, &e);
    CHECK(in != NULL);
    if (in == NULL)
        return NULL;
    if (tokens != NULL)
        CHECK_EQ_INT(ingest_auth_set(in, load_tokens(tokens), NULL), 0);
    CHECK_EQ_INT(ingest_start(in), 0);
    *saved = port;
    port = ingest_port(in);
    return in;
}

/* stage_down: points the test's port back at saved, then stops and frees in. */
static void stage_down(struct ingest *in, unsigned saved)
{
    port = saved;
    ingest_stop(in);
    ingest_free(in);
}

/* A stage with --auth-tokens: a token kept across 100 or more table swaps made while two clients
 * use it is answered 200 every time (no request sees a freed or half-built table; run under TSan
 * and ASan in CI), a token dropped by the last swap gets 401, a token without the scope 403,
 * /health stays open. Runs before the main stage exists: both would consume the stub's reply rings.
 */
static void test_auth_swap(const struct cfg *base)
{
    CHECK(sodium_init() >= 0);
    char dir[] = "/tmp/nf-test-ingest-auth.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char f1[300], f2[300], err[256];
    snprintf(f1, sizeof(f1), "%s/t1", dir);
    snprintf(f2, sizeof(f2), "%s/t2", dir);
    char keep[AUTH_TOKEN_LEN + 1], gone[AUTH_TOKEN_LEN + 1], reader[AUTH_TOKEN_LEN + 1];
    uint8_t hk[32], hg[32], hr[32];
    auth_token_new(keep, sizeof(keep));
    auth_token_new(gone, sizeof(gone));
    auth_token_new(reader, sizeof(reader));
    auth_token_hash(keep, strlen(keep), hk);
    auth_token_hash(gone, strlen(gone), hg);
    auth_token_hash(reader, strlen(reader), hr);
    CHECK_EQ_INT(auth_file_add(f1, "keep", AUTH_SCOPE_METRICS, hk, 0, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(auth_file_add(f1, "gone", AUTH_SCOPE_METRICS, hg, 0, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(auth_file_add(f2, "keep", AUTH_SCOPE_METRICS, hk, 0, NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(auth_file_add(f2, "reader", AUTH_SCOPE_READ, hr, 0, NULL, err, sizeof(err)), 0);

    struct cfg c = *base;
    c.auth_tokens = f1;
    unsigned saved_port = 0;
    struct ingest *in = stage_up(&c, f1, &saved_port);
    if (in == NULL)
        return;

    struct swap_client sc[2];
    pthread_t th[2];
    for (int k = 0; k < 2; k++) {
        memset(&sc[k], 0, sizeof(sc[k]));
        atomic_init(&sc[k].stop, 0);
        atomic_init(&sc[k].ok, 0);
        snprintf(sc[k].hdr, sizeof(sc[k].hdr), "Authorization: Bearer %s", keep);
        pthread_create(&th[k], NULL, swap_client_main, &sc[k]);
    }
    /* At least 100 swaps, and on until each client was served 3 times meanwhile (bounded); the
     * last swap installs t2. */
    double until = mono_s() + POLL_LIMIT_S;
    for (int i = 0;
         i < 100 || i % 2 != 0 ||
         ((atomic_load(&sc[0].ok) < 3 || atomic_load(&sc[1].ok) < 3) && mono_s() < until);
         i++)
        CHECK_EQ_INT(ingest_auth_set(in, load_tokens(i % 2 ? f2 : f1), NULL), 0);
    for (int k = 0; k < 2; k++) {
        atomic_store(&sc[k].stop, 1);
        pthread_join(th[k], NULL);
        CHECK(atomic_load(&sc[k].ok) >= 3);
        CHECK_EQ_INT(sc[k].other, 0);
    }
    /* The last table is t2: "gone" is unknown, "reader" lacks the metrics scope. */
    struct resp r = {0};
    char hdr[AUTH_TOKEN_LEN + 32];
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", gone);
    http("GET", "/metrics", NULL, hdr, 5000, &r);
    CHECK_EQ_INT(r.code, 401);
    CHECK_EQ_STR(jstr(r.json, "field"), "Authorization");
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", reader);
    http("GET", "/metrics", NULL, hdr, 5000, &r);
    CHECK_EQ_INT(r.code, 403);
    http("GET", "/metrics", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 401);
    http("GET", "/health", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    resp_free(&r);
    stage_down(in, saved_port); /* frees the current table */
    nf_test_rmdir(dir);
}

/* metric_of: the value of one series of the stage's /metrics (UINT64_MAX when absent). */
static uint64_t metric_of(const char *name)
{
    struct resp r = {0};
    http("GET", "/metrics", NULL, NULL, 5000, &r);
    uint64_t v = metric_value(r.body, name);
    resp_free(&r);
    return v;
}

static uint64_t budget_left(void)
{
    return metric_of("nearft_spend_budget_remaining{contract=\"token.near\"}");
}

static uint64_t refusals(const char *reason)
{
    char series[128];
    snprintf(series, sizeof(series), "nearft_ingest_limit_refusals_total{reason=\"%s\"}", reason);
    return metric_of(series);
}

/* A stage with the spend limits (signer payer.near, contract token.near, 1000 per transfer, 2500
 * per hour): receivers that are the signer or the contract get 422 on all three APIs and in the
 * bulk form, with nothing accepted; an amount over the per-transfer limit 422; the hourly budget
 * admits up to 2500 and answers 429 with Retry-After after that; a bulk request is all or
 * nothing; a failed log write and an idempotent repeat give their amount back; the metrics show
 * the remaining budget and the refusals by reason. Runs before the main stage (shared stub). */
static void test_spend_limits(const struct cfg *base)
{
    struct cfg c = *base;
    char signer[] = "payer.near", contract[] = "token.near";
    c.signer = signer;
    c.contract = contract;
    c.max_amount_per_transfer = 1000;
    c.max_amount_per_hour = 2500;
    stub.spend = spend_new(c.max_amount_per_hour);
    unsigned saved_port = 0;
    struct ingest *in = stage_up(&c, NULL, &saved_port);
    if (in == NULL)
        return;
    struct resp r = {0};

    CHECK(budget_left() == 2500);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"payer.near\",\"amount\":\"1\"}", NULL, 5000,
         &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK_EQ_STR(jstr(r.json, "field"), "receiver_id");
    CHECK(jstr(r.json, "reason") != NULL && strstr(jstr(r.json, "reason"), "signer") != NULL);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"token.near\",\"amount\":\"1\"}", NULL, 5000,
         &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK_EQ_STR(jstr(r.json, "field"), "receiver_id");
    CHECK(jstr(r.json, "reason") != NULL && strstr(jstr(r.json, "reason"), "contract") != NULL);
    http("POST", "/send-ft", "{\"receiverId\":\"token.near\",\"amount\":\"1\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK(jstr(r.json, "error") != NULL && strncmp(jstr(r.json, "error"), "receiverId: ", 12) == 0);
    http("POST", "/send-ft",
         "{\"transfers\":[{\"receiverId\":\"a.near\",\"amount\":\"1\"},{\"receiverId\":\"payer."
         "near\",\"amount\":\"1\"}]}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK(jstr(r.json, "error") != NULL &&
          strncmp(jstr(r.json, "error"), "transfers[1].receiverId: ", 25) == 0);
    http("POST", "/transfer", "{\"receiver_id\":\"payer.near\",\"amount\":\"1\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK(jstr(r.json, "error") != NULL &&
          strncmp(jstr(r.json, "error"), "receiver_id: ", 13) == 0);
    http("POST", "/v1/transfers",
         "{\"transfers\":[{\"receiver_id\":\"a.near\",\"amount\":\"1\"},{\"receiver_id\":\"token."
         "near\",\"amount\":\"1\"}]}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK_EQ_STR(jstr(r.json, "field"), "transfers[1].receiver_id");
    /* Per transfer. */
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"1001\"}", NULL, 5000,
         &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK_EQ_STR(jstr(r.json, "field"), "amount");
    CHECK(strstr(jstr(r.json, "reason"), "--max-amount-per-transfer 1000") != NULL);
    http("POST", "/transfer", "{\"receiver_id\":\"a.near\",\"amount\":\"1001\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK(jstr(r.json, "error") != NULL && strncmp(jstr(r.json, "error"), "amount: ", 8) == 0);
    /* Nothing refused so far took budget or reached the log. */
    CHECK(budget_left() == 2500);
    CHECK(refusals("receiver_signer") == 3);
    CHECK(refusals("receiver_contract") == 3);
    CHECK(refusals("max_amount_per_transfer") == 2);
    /* A failed log write gives its amount back. */
    http("POST", "/v1/transfers", "{\"receiver_id\":\"ioerr.near\",\"amount\":\"1000\"}", NULL,
         5000, &r);
    CHECK_EQ_INT(r.code, 503);
    CHECK(budget_left() == 2500);
    /* The hourly budget. */
    http("POST", "/v1/transfers",
         "{\"receiver_id\":\"a.near\",\"amount\":\"1000\",\"idempotency_key\":\"lim-1\"}", NULL,
         5000, &r);
    CHECK_EQ_INT(r.code, 202);
    CHECK(budget_left() == 1500);
    /* A repeat was counted when its original was accepted. */
    http("POST", "/v1/transfers",
         "{\"receiver_id\":\"a.near\",\"amount\":\"1000\",\"idempotency_key\":\"lim-1\"}", NULL,
         5000, &r);
    CHECK_EQ_INT(r.code, 202);
    CHECK(json_is_true(json_object_get(r.json, "duplicate")));
    CHECK(budget_left() == 1500);
    /* A bulk request is all or nothing: 1000 + 1000 do not fit in 1500. */
    http("POST", "/v1/transfers",
         "{\"transfers\":[{\"receiver_id\":\"a.near\",\"amount\":\"1000\"},{\"receiver_id\":\"b."
         "near\",\"amount\":\"1000\"}]}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 429);
    CHECK_EQ_STR(jstr(r.json, "limit"), "max_amount_per_hour");
    CHECK(atoi(r.retry_after) >= 3590 && atoi(r.retry_after) <= 3600);
    CHECK(budget_left() == 1500);
    /* Alone over the hourly limit: 422, it can never fit. */
    http("POST", "/v1/transfers",
         "{\"transfers\":[{\"receiver_id\":\"a.near\",\"amount\":\"1000\"},{\"receiver_id\":\"b."
         "near\",\"amount\":\"1000\"},{\"receiver_id\":\"c.near\",\"amount\":\"1000\"}]}",
         NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK_EQ_STR(jstr(r.json, "field"), "transfers");
    http("POST", "/send-ft", "{\"receiverId\":\"a.near\",\"amount\":\"1000\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK(budget_left() == 500);
    http("POST", "/send-ft", "{\"receiverId\":\"a.near\",\"amount\":\"501\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 429);
    CHECK(r.retry_after[0] != '\0');
    CHECK(json_integer_value(json_object_get(r.json, "retryAfterMs")) >= 1000);
    CHECK(strstr(jstr(r.json, "details"), "--max-amount-per-hour 2500") != NULL);
    http("POST", "/transfer", "{\"receiver_id\":\"a.near\",\"amount\":\"501\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 429);
    CHECK(strstr(jstr(r.json, "error"), "--max-amount-per-hour") != NULL);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"500\"}", NULL, 5000,
         &r);
    CHECK_EQ_INT(r.code, 202);
    CHECK(budget_left() == 0);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"1\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 429);
    CHECK(refusals("max_amount_per_hour") == 5);
    resp_free(&r);
    stage_down(in, saved_port);
    spend_free(stub.spend);
    stub.spend = NULL;
}

/* A stage with --max-amount-per-hour 5000 and --max-amount-per-day 1500: the day refuses first,
 * with its own limit name, reason and Retry-After on the native and /send-ft routes; a request
 * alone over the day is 422; what the hour took for a request the day refused is given back; the
 * day's metrics say what is left. */
static void test_day_limit(const struct cfg *base)
{
    struct cfg c = *base;
    char contract[] = "token.near";
    c.contract = contract;
    c.max_amount_per_hour = 5000;
    c.max_amount_per_day = 1500;
    stub.spend = spend_new(c.max_amount_per_hour);
    stub.spend_day = spend_new_window(c.max_amount_per_day, SPEND_DAY_S, SPEND_DAY_SLOT_S);
    unsigned saved_port = 0;
    struct ingest *in = stage_up(&c, NULL, &saved_port);
    if (in == NULL)
        return;
    struct resp r = {0};
    const char *day_left = "nearft_spend_day_budget_remaining{contract=\"token.near\"}";
    CHECK(metric_of(day_left) == 1500);
    CHECK(metric_of("nearft_spend_day_budget_limit{contract=\"token.near\"}") == 1500);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"1000\"}", NULL, 5000,
         &r);
    CHECK_EQ_INT(r.code, 202);
    CHECK(metric_of(day_left) == 500);
    CHECK(budget_left() == 4000);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"600\"}", NULL, 5000,
         &r);
    CHECK_EQ_INT(r.code, 429);
    CHECK_EQ_STR(jstr(r.json, "limit"), "max_amount_per_day");
    CHECK(strstr(jstr(r.json, "reason"), "over --max-amount-per-day 1500") != NULL &&
          strstr(jstr(r.json, "reason"), "in the last 24 hours") != NULL);
    /* The first 1000 leave the day within 24 h (they came in this minute). */
    CHECK(atoi(r.retry_after) > 86000 && atoi(r.retry_after) <= 86400);
    CHECK(budget_left() == 4000); /* the hour gave back what it took for the refused 600 */
    http("POST", "/send-ft", "{\"receiverId\":\"a.near\",\"amount\":\"600\"}", NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 429);
    CHECK(strstr(jstr(r.json, "details"), "--max-amount-per-day 1500") != NULL);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"1501\"}", NULL, 5000,
         &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK(strstr(jstr(r.json, "reason"), "over --max-amount-per-day 1500 by itself") != NULL);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"500\"}", NULL, 5000,
         &r);
    CHECK_EQ_INT(r.code, 202);
    CHECK(metric_of(day_left) == 0);
    CHECK(budget_left() == 3500);
    CHECK(refusals("max_amount_per_day") == 3);
    CHECK(refusals("max_amount_per_hour") == 0);
    stage_down(in, saved_port);
    spend_free(stub.spend);
    stub.spend = NULL;

    /* The day alone: a request the log refuses gives its amount back to it. */
    c.max_amount_per_hour = 0;
    spend_free(stub.spend_day);
    stub.spend_day = spend_new_window(c.max_amount_per_day, SPEND_DAY_S, SPEND_DAY_SLOT_S);
    in = stage_up(&c, NULL, &saved_port);
    if (in != NULL) {
        http("POST", "/v1/transfers", "{\"receiver_id\":\"ioerr.near\",\"amount\":\"100\"}", NULL,
             5000, &r);
        CHECK_EQ_INT(r.code, 503);
        CHECK(metric_of(day_left) == 1500);
        stage_down(in, saved_port);
    }
    resp_free(&r);
    spend_free(stub.spend_day);
    stub.spend_day = NULL;
}

/* A stage with --rate-limit 1 --rate-burst 3 (no tokens: one bucket per client address): of 20
 * requests sent one after another at least one gets 429 with Retry-After and the limit named, and
 * at least the burst gets through; /health is never limited. Then one with --rate-limit-global 2
 * alone: the same, naming rate_limit_global, with /health and /metrics exempt. */
static void test_rate_limit(const struct cfg *base)
{
    struct cfg c = *base;
    c.rate_limit = 1;
    c.rate_burst = 3;
    unsigned saved_port = 0;
    struct ingest *in = stage_up(&c, NULL, &saved_port);
    if (in == NULL)
        return;
    struct resp r = {0};
    int limited = 0, passed = 0;
    for (int i = 0; i < 20; i++) {
        http("GET", "/v1/transfers/1", NULL, NULL, 5000, &r);
        if (r.code == 429) {
            limited++;
            CHECK(atoi(r.retry_after) >= 1);
            CHECK_EQ_STR(jstr(r.json, "limit"), "rate_limit");
        } else {
            passed++;
        }
    }
    CHECK(limited >= 1);
    CHECK(passed >= 3);
    for (int i = 0; i < 10; i++) {
        http("GET", "/health", NULL, NULL, 5000, &r);
        CHECK_EQ_INT(r.code, 200);
    }
    /* The drop-in shape. */
    http("POST", "/send-ft", "{\"receiverId\":\"a.near\",\"amount\":\"1\"}", NULL, 5000, &r);
    if (r.code == 429)
        CHECK(json_integer_value(json_object_get(r.json, "retryAfterMs")) >= 1000);
    resp_free(&r);
    stage_down(in, saved_port);

    /* --rate-limit-global 2 (burst 2) alone: the same shape, naming the global limit; /health and
     * /metrics are exempt, and the refusals are counted. */
    c = *base;
    c.rate_limit_global = 2;
    if ((in = stage_up(&c, NULL, &saved_port)) == NULL)
        return;
    limited = passed = 0;
    for (int i = 0; i < 20; i++) {
        http("GET", "/v1/transfers/1", NULL, NULL, 5000, &r);
        if (r.code == 429) {
            limited++;
            CHECK(atoi(r.retry_after) >= 1);
            CHECK_EQ_STR(jstr(r.json, "limit"), "rate_limit_global");
            CHECK(jstr(r.json, "reason") != NULL &&
                  strstr(jstr(r.json, "reason"), "of all clients together") != NULL);
        } else {
            passed++;
        }
    }
    CHECK(limited >= 1);
    CHECK(passed >= 2);
    for (int i = 0; i < 10; i++) {
        http("GET", i % 2 ? "/health" : "/metrics", NULL, NULL, 5000, &r);
        CHECK_EQ_INT(r.code, 200);
    }
    http("GET", "/metrics", NULL, NULL, 5000, &r);
    CHECK(
        metric_value(r.body, "nearft_ingest_limit_refusals_total{reason=\"rate_limit_global\"}") ==
        (uint64_t)limited);
    resp_free(&r);
    stage_down(in, saved_port);
}

/* write_two_tokens: a token file at path (replaced) with the lines "HEAD0 HASH(tok0) OPT0" and
 * "HEAD1 HASH(tok1) OPT1" (an empty OPT adds nothing); 0 on success. */
static int write_two_tokens(const char *path,
                            const char *head0,
                            const char *tok0,
                            const char *opt0,
                            const char *head1,
                            const char *tok1,
                            const char *opt1)
{
    uint8_t h[2][32];
    char hx[2][65], text[512];
    auth_token_hash(tok0, strlen(tok0), h[0]);
    auth_token_hash(tok1, strlen(tok1), h[1]);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 32; i++)
            snprintf(hx[k] + 2 * i, 3, "%02x", h[k][i]);
    int n = snprintf(text, sizeof(text), "%s %s%s%s\n%s %s%s%s\n", head0, hx[0], *opt0 ? " " : "",
                     opt0, head1, hx[1], *opt1 ? " " : "", opt1);
    if (n < 0 || (size_t)n >= sizeof(text))
        return -1;
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    int ok = fd >= 0 && write(fd, text, (size_t)n) == n;
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

/* A stage with --auth-tokens whose token "small" carries max_amount_per_transfer=10 under a global
 * --max-amount-per-transfer 1000: the lower limit applies to each token (422 naming the token's
 * limit, on the native and /send-ft routes), a token without its own limit gets the global one.
 * With --rate-limit 1 --rate-burst 3 each token has its own bucket, though both come from one
 * address: "small" runs out, "big" (2 requests so far) still has a token. Requests the token
 * check refuses take from the address's bucket: an unknown token gets 401 and then, once the
 * address's burst is spent, 429 naming the client address, while /health stays open. */
static void test_token_limit(const struct cfg *base)
{
    char dir[] = "/tmp/nf-test-ingest-toklim.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char file[300];
    snprintf(file, sizeof(file), "%s/tokens", dir);
    char small[AUTH_TOKEN_LEN + 1], big[AUTH_TOKEN_LEN + 1];
    auth_token_new(small, sizeof(small));
    auth_token_new(big, sizeof(big));
    CHECK_EQ_INT(write_two_tokens(file, "small transfer,read", small, "max_amount_per_transfer=10",
                                  "big transfer,read", big, ""),
                 0);

    struct cfg c = *base;
    c.auth_tokens = file;
    c.max_amount_per_transfer = 1000;
    c.rate_limit = 1;
    c.rate_burst = 3;
    unsigned saved_port = 0;
    struct ingest *in = stage_up(&c, file, &saved_port);
    if (in == NULL)
        return;
    struct resp r = {0};
    char hsmall[AUTH_TOKEN_LEN + 32], hbig[AUTH_TOKEN_LEN + 32];
    snprintf(hsmall, sizeof(hsmall), "Authorization: Bearer %s", small);
    snprintf(hbig, sizeof(hbig), "Authorization: Bearer %s", big);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"11\"}", hsmall, 5000,
         &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK_EQ_STR(jstr(r.json, "field"), "amount");
    CHECK(jstr(r.json, "reason") != NULL &&
          strstr(jstr(r.json, "reason"), "max_amount_per_transfer 10 of the token small") != NULL);
    http("POST", "/send-ft", "{\"receiverId\":\"a.near\",\"amount\":\"11\"}", hsmall, 5000, &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK(jstr(r.json, "error") != NULL && strncmp(jstr(r.json, "error"), "amount: ", 8) == 0);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"10\"}", hsmall, 5000,
         &r);
    CHECK_EQ_INT(r.code, 202);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"11\"}", hbig, 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"1001\"}", hbig, 5000,
         &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK(jstr(r.json, "reason") != NULL &&
          strstr(jstr(r.json, "reason"), "--max-amount-per-transfer 1000") != NULL);
    int limited = 0;
    for (int i = 0; i < 20 && !limited; i++) {
        http("GET", "/v1/transfers/1", NULL, hsmall, 5000, &r);
        limited = r.code == 429;
    }
    CHECK(limited);
    CHECK(strstr(jstr(r.json, "reason"), "for this token") != NULL);
    http("GET", "/v1/transfers/1", NULL, hbig, 5000, &r);
    CHECK(r.code != 429);
    int unauthorized = 0;
    limited = 0;
    for (int i = 0; i < 20 && !limited; i++) {
        http("GET", "/v1/transfers/1", NULL, "Authorization: Bearer nft_guess", 5000, &r);
        unauthorized += r.code == 401;
        limited = r.code == 429;
    }
    CHECK(unauthorized >= 1 && limited);
    CHECK(limited && atoi(r.retry_after) >= 1 &&
          strstr(jstr(r.json, "reason"),
                 "for this client address (requests refused by the token check)") != NULL);
    http("GET", "/health", NULL, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    resp_free(&r);
    stage_down(in, saved_port);
    nf_test_rmdir(dir);
}

/* write_token_file: the two lines "hourly transfer,read,metrics HASH max_amount_per_hour=LIMIT"
 * and "other transfer,read HASH"; 0 on success. */
static int write_token_file(const char *path, const char *hourly, const char *other, int limit)
{
    char opt[48];
    snprintf(opt, sizeof(opt), "max_amount_per_hour=%d", limit);
    return write_two_tokens(path, "hourly transfer,read,metrics", hourly, opt,
                            "other transfer,read", other, "");
}

/* A stage with --auth-tokens whose token "hourly" has max_amount_per_hour=15 under a global
 * --max-amount-per-hour 1000: 10 is accepted; 5 refused by the log (asynchronously, ioerr.near)
 * and 5 refused by a full queue (full1.near) give their amount back to both windows, so 5 more
 * fits exactly; then 1 gets 429 + Retry-After naming the token's limit, 16 alone 422; "other" is
 * held to the global budget only. The metric has a token sample. A reload that raises the limit
 * to 20 keeps the window (5 more fit, not 20); a table with an hourly token and no budget set is
 * refused. */
static void test_token_hourly(const struct cfg *base)
{
    char dir[] = "/tmp/nf-test-ingest-tokhour.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char file[300];
    snprintf(file, sizeof(file), "%s/tokens", dir);
    char hourly[AUTH_TOKEN_LEN + 1], other[AUTH_TOKEN_LEN + 1];
    auth_token_new(hourly, sizeof(hourly));
    auth_token_new(other, sizeof(other));
    CHECK_EQ_INT(write_token_file(file, hourly, other, 15), 0);

    struct cfg c = *base;
    char contract[] = "token.near";
    c.contract = contract;
    c.auth_tokens = file;
    c.max_amount_per_hour = 1000;
    stub.spend = spend_new(c.max_amount_per_hour);
    struct spend *global = stub.spend;
    int e = 0;
    struct ingest *in = ingest_new(&c, &stub, &e);
    struct spend_tokens *budgets = spend_tokens_new();
    CHECK(in != NULL && budgets != NULL);
    if (in == NULL || budgets == NULL)
        return;
    CHECK_EQ_INT(ingest_auth_set(in, load_tokens(file), NULL), NF_EINVAL);
    CHECK_EQ_INT(ingest_auth_set(in, load_tokens(file), budgets), 0);
    CHECK(spend_tokens_count(budgets) == 1);
    CHECK_EQ_INT(ingest_start(in), 0);
    unsigned saved_port = port;
    port = ingest_port(in);
    struct resp r = {0};
    char hh[AUTH_TOKEN_LEN + 32], ho[AUTH_TOKEN_LEN + 32];
    snprintf(hh, sizeof(hh), "Authorization: Bearer %s", hourly);
    snprintf(ho, sizeof(ho), "Authorization: Bearer %s", other);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"10\"}", hh, 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"ioerr.near\",\"amount\":\"5\"}", hh, 5000,
         &r);
    CHECK_EQ_INT(r.code, 503);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"full1.near\",\"amount\":\"5\"}", hh, 5000,
         &r);
    CHECK_EQ_INT(r.code, 503);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"5\"}", hh, 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"1\"}", hh, 5000, &r);
    CHECK_EQ_INT(r.code, 429);
    CHECK(atoi(r.retry_after) >= 1);
    CHECK_EQ_STR(jstr(r.json, "limit"), "max_amount_per_hour");
    CHECK(jstr(r.json, "reason") != NULL &&
          strstr(jstr(r.json, "reason"), "over max_amount_per_hour 15 of the token hourly: ") !=
              NULL);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"16\"}", hh, 5000, &r);
    CHECK_EQ_INT(r.code, 422);
    CHECK_EQ_STR(jstr(r.json, "field"), "amount");
    CHECK(jstr(r.json, "reason") != NULL &&
          strstr(jstr(r.json, "reason"), "max_amount_per_hour 15 of the token hourly by itself") !=
              NULL);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"100\"}", ho, 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    /* The global window saw 10 + 5 + 100: every refusal gave its amount back there too. */
    CHECK(spend_remaining(global, ingest_now_ms()) == 885);
    http("GET", "/metrics", NULL, hh, 5000, &r);
    CHECK_EQ_INT(r.code, 200);
    CHECK(metric_value(r.body, "nearft_spend_budget_remaining{contract=\"token.near\",token="
                               "\"hourly\"}") == 0);
    CHECK(metric_value(r.body, "nearft_spend_budget_limit{contract=\"token.near\",token="
                               "\"hourly\"}") == 15);
    CHECK(metric_value(r.body, "nearft_spend_budget_remaining{contract=\"token.near\"}") == 885);
    CHECK(strstr(r.body, "token=\"other\"") == NULL);
    /* Reload with 20: the same window, so 5 more fit and no more. */
    CHECK_EQ_INT(write_token_file(file, hourly, other, 20), 0);
    CHECK_EQ_INT(ingest_auth_set(in, load_tokens(file), budgets), 0);
    CHECK(spend_tokens_count(budgets) == 1);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"5\"}", hh, 5000, &r);
    CHECK_EQ_INT(r.code, 202);
    http("POST", "/v1/transfers", "{\"receiver_id\":\"a.near\",\"amount\":\"1\"}", hh, 5000, &r);
    CHECK_EQ_INT(r.code, 429);
    CHECK(jstr(r.json, "reason") != NULL &&
          strstr(jstr(r.json, "reason"), "max_amount_per_hour 20 of the token hourly") != NULL);
    resp_free(&r);
    stage_down(in, saved_port);
    spend_free(stub.spend);
    stub.spend = NULL;
    spend_tokens_free(budgets);
    nf_test_rmdir(dir);
}

/* The --allowed-origins check alone: scheme://host[:port] as a browser sends it, nothing else. */
static void test_origin_well_formed(void)
{
    static const struct {
        const char *origin;
        int ok;
    } cases[] = {
        {"https://ops.example", 1},
        {"http://127.0.0.1:8080", 1},
        {"https://ops.example:65535", 1},
        {"https://[::1]", 1},
        {"http://[2001:db8::1]:3000", 1},
        {"https://xn--bcher-kva.example", 1},
        {"https://ops.example/", 0},    /* trailing slash */
        {"https://ops.example/app", 0}, /* path */
        {"https://ops.example?x", 0},
        {"https://ops.example#x", 0},
        {"https://user@ops.example", 0},
        {"https://ops.example\\app", 0}, /* a browser reads '\\' as '/' */
        {"https://ops example", 0},
        {"https://ops.example\r\nX-Injected: 1", 0},
        {"https://", 0},
        {"http://:8080", 0}, /* no host */
        {"https://ops.example:", 0},
        {"https://ops.example:0", 0},
        {"https://ops.example:08080", 0},
        {"https://ops.example:65536", 0},
        {"https://ops.example:123456", 0},
        {"https://ops.example:80:80", 0},
        {"https://ops.example:http", 0},
        {"https://[::1", 0},
        {"https://[]", 0},
        {"https://[::1]x", 0},
        {"https://a]b", 0},
        {"ftp://ops.example", 0},
        {"HTTPS://ops.example", 0},
        {"ops.example", 0},
        {"null", 0},
        {"*", 0},
        {"", 0},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        int ok = ingest_origin_well_formed(cases[k].origin);
        if (ok != cases[k].ok)
            fprintf(stderr, "origin %s\n", cases[k].origin);
        CHECK_EQ_INT(ok, cases[k].ok);
    }
    /* At most 256 bytes. */
    char longest[300] = "https://";
    memset(longest + 8, 'a', 248);
    longest[256] = '\0';
    CHECK_EQ_INT(ingest_origin_well_formed(longest), 1);
    longest[256] = 'a';
    longest[257] = '\0';
    CHECK_EQ_INT(ingest_origin_well_formed(longest), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_set_level(NF_LOG_WARN);
    test_origin_well_formed();
    if (stub_init(&stub, STUB_THREADS, STUB_SLAB) != 0) {
        fprintf(stderr, "stub init failed\n");
        return 1;
    }
    struct cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    char listen_addr[] = "127.0.0.1:0";
    cfg.listen = listen_addr;
    cfg.ingest_threads = STUB_THREADS;
    cfg.max_batch_request = STUB_MAX_BATCH;
    cfg.memo_max_bytes = 256;
    cfg.max_body_bytes = 1u << 20;
    cfg.queue_capacity = 0; /* the minimum: 64 contexts per thread */
    cfg.wait_timeout_ms = STUB_WAIT_MS;
    cfg.max_connections = 256;
    cfg.large_bodies = 2;
    char allowed_origin[] = "https://ops.example";
    char *allowed[] = {allowed_origin};
    cfg.allowed_origins.v = allowed;
    cfg.allowed_origins.n = 1;

    /* Bad settings are refused with NF_ECONFIG. */
    int err = 0;
    struct cfg bad = cfg;
    char bad_listen[] = "127.0.0.1";
    bad.listen = bad_listen;
    CHECK(ingest_new(&bad, &stub, &err) == NULL);
    CHECK_EQ_INT(err, NF_ECONFIG);
    bad = cfg;
    bad.ingest_threads = 0;
    CHECK(ingest_new(&bad, &stub, &err) == NULL);
    CHECK_EQ_INT(err, NF_ECONFIG);
    bad = cfg;
    bad.body_pool_bytes = cfg.max_body_bytes; /* cannot hold one largest body with its head */
    CHECK(ingest_new(&bad, &stub, &err) == NULL);
    CHECK_EQ_INT(err, NF_ECONFIG);
    bad = cfg;
    /* Allowed origins are echoed in a header and must be what a browser sends. */
    char spaced[] = "https://ops.example\r\nX-Injected: 1", null_origin[] = "null", star[] = "*",
         path[] = "https://ops.example/app", bare[] = "ops.example", empty_host[] = "https://";
    char *bad_origins[] = {spaced, null_origin, star, path, bare, empty_host};
    for (size_t k = 0; k < sizeof(bad_origins) / sizeof(bad_origins[0]); k++) {
        bad.allowed_origins.v = &bad_origins[k];
        CHECK(ingest_new(&bad, &stub, &err) == NULL);
        CHECK_EQ_INT(err, NF_ECONFIG);
    }
    ingest_free(NULL);

    test_auth_swap(&cfg);
    test_spend_limits(&cfg);
    test_day_limit(&cfg);
    test_rate_limit(&cfg);
    test_token_limit(&cfg);
    test_token_hourly(&cfg);
    test_context_exhaustion(&cfg);
    test_orphan(&cfg);

    struct ingest *in = ingest_new(&cfg, &stub, &err);
    CHECK(in != NULL);
    if (in == NULL)
        return nf_test_report("test_ingest_http");
    CHECK_EQ_INT(ingest_start(in), 0);
    CHECK_EQ_INT(ingest_start(in), NF_ESTATE);
    port = ingest_port(in);
    CHECK(port != 0);

    test_native_single();
    test_native_wait();
    test_native_batch();
    test_wire();
    test_chunked_resume();
    test_native_errors();
    test_idempotency();
    test_idempotency_kept();
    test_send_ft();
    test_rust();
    test_backpressure();
    test_stale();
    test_ops_routes();
    test_stop_answers(in);

    stub_stop(&stub);
    ingest_free(in);
    stub_destroy(&stub);
    curl_global_cleanup();
    return nf_test_report("test_ingest_http");
}
