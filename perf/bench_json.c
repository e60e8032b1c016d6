/* bench_json: the cost of reading one JSON-RPC answer, jtok (what nearftd runs) against jansson
 * (which the project already links), on the answers the submit stage parses. For each answer it
 * times, single-threaded, about --seconds each (default 1.0, after a warm-up):
 *   - jtok_parse alone into a preallocated RPC_TOKENS_TX token array (the tokenizer);
 *   - rpc_parse itself (tokenize + classify into a struct rpc_result, as nearftd does);
 *   - jansson json_loadb + json_decref (the tree alone);
 *   - jansson json_loadb + the same lookups rpc_parse does for that answer (json_object_get of
 *     the same members, the same base58 hash decode and string copies) + json_decref,
 * and counts jansson's allocations per parse through json_set_alloc_funcs. Both readers must
 * classify every answer the same way before anything is timed. Prints one `name=value unit` line
 * per figure. Not a test: numbers only.
 *
 * The answers: tests/near/test_rpc_vectors.inc (docs/PROTOCOL.md section 3: a FINAL send_tx
 * success with receipts_outcome, an InvalidNonce error, a view_access_key result) and
 * tests/vectors/rpc_tolerant.json (the largest send_tx answer and the block answer, read at start
 * with jansson and rewritten compact; --vectors PATH for another copy). The repository holds no
 * answer for a 100-action batch, so one is built here in nearsim's shape (src/sim/sim_rpc.c:
 * 100 FunctionCall actions in the transaction, 100 EVENT_JSON logs in the first receipt outcome,
 * a refund receipt outcome) and labelled synthetic.
 * One thread; owns every buffer (freed at exit). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base58.h"
#include "base64.h"
#include "jtok.h"
#include "nf_err.h"
#include "rpc.h"
#include "test_rpc_vectors.inc"

#ifndef NF_SOURCE_DIR
#define NF_SOURCE_DIR "."
#endif

#define SYNTH_ACTIONS 100

struct bench_case {
    const char *name;
    const char *what;
    enum rpc_method method;
    int http_status;
    char *body; /* owned */
    size_t len;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keeps the optimiser from dropping work whose result is otherwise unused. */
static volatile uint64_t bench_sink;

/* ---- jansson allocation counting (set before any other jansson use) ----------------------------
 */

static uint64_t jansson_allocs, jansson_alloc_bytes;

static void *count_malloc(size_t n)
{
    jansson_allocs++;
    jansson_alloc_bytes += n;
    return malloc(n);
}

static void count_free(void *p)
{
    free(p);
}

/* ---- the jansson reader: rpc_parse's lookups, for the answer kinds benchmarked here ------------
 */

static void j_copy_str(json_t *v, char *out, size_t cap)
{
    out[0] = '\0';
    if (!json_is_string(v))
        return;
    size_t n = json_string_length(v);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, json_string_value(v), n);
    out[n] = '\0';
}

/* j_variant: an externally tagged enum: a string, or an object whose first member names it. */
static json_t *j_variant(json_t *v, char *name, size_t cap)
{
    name[0] = '\0';
    if (json_is_string(v)) {
        j_copy_str(v, name, cap);
        return NULL;
    }
    void *it = json_is_object(v) ? json_object_iter(v) : NULL;
    if (it == NULL)
        return NULL;
    snprintf(name, cap, "%s", json_object_iter_key(it));
    return json_object_iter_value(it);
}

static int j_u64(json_t *obj, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return NF_EINVAL;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int j_hash(json_t *obj, const char *key, uint8_t out[32])
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return NF_EINVAL;
    return b58_decode_exact(json_string_value(v), json_string_length(v), out, 32);
}

static void j_block_ref(json_t *res, struct rpc_result *r)
{
    if (j_u64(res, "block_height", &r->block_height) == 0 &&
        j_hash(res, "block_hash", r->block_hash) == 0)
        r->has_block = 1;
}

static void j_tx_result(json_t *res, struct rpc_result *r)
{
    json_t *fs = json_object_get(res, "final_execution_status");
    enum rpc_wait w;
    if (json_is_string(fs) &&
        rpc_wait_parse(json_string_value(fs), json_string_length(fs), &w) == 0) {
        r->final_status = w;
        r->has_final_status = 1;
    }
    json_t *st = json_object_get(res, "status");
    if (json_is_object(st)) {
        char vname[32];
        (void)j_variant(st, vname, sizeof(vname));
        if (strcmp(vname, "SuccessValue") == 0 || strcmp(vname, "SuccessReceiptId") == 0)
            r->tx_status = RPC_TXS_SUCCESS;
        else
            r->tx_status = strcmp(vname, "Failure") == 0 ? RPC_TXS_FAILURE : RPC_TXS_UNKNOWN;
    } else if (json_is_string(st)) {
        r->tx_status = RPC_TXS_UNKNOWN;
    }
    json_t *tx = json_object_get(res, "transaction");
    if (json_is_object(tx) && j_hash(tx, "hash", r->tx_hash) == 0)
        r->has_tx_hash = 1;
    json_t *to = json_object_get(res, "transaction_outcome");
    if (json_is_object(to)) {
        r->has_transaction_outcome = 1;
        if (!r->has_tx_hash && j_hash(to, "id", r->tx_hash) == 0)
            r->has_tx_hash = 1;
    }
    r->kind = RPC_OK_TX;
}

static void j_error(json_t *err, struct rpc_result *r)
{
    j_copy_str(json_object_get(err, "name"), r->name, sizeof(r->name));
    json_t *cause = json_object_get(err, "cause");
    j_copy_str(json_object_get(cause, "name"), r->cause, sizeof(r->cause));
    json_t *data = json_object_get(err, "data");
    if (json_is_string(data))
        j_copy_str(data, r->message, sizeof(r->message));
    else
        j_copy_str(json_object_get(err, "message"), r->message, sizeof(r->message));
    r->kind = RPC_OTHER_ERROR;
    if (strcmp(r->cause, "INVALID_TRANSACTION") != 0 || !json_is_object(data))
        return;
    json_t *tee = json_object_get(data, "TxExecutionError");
    json_t *itx = json_object_get(tee != NULL ? tee : data, "InvalidTxError");
    r->kind = RPC_OTHER_INVALID_TX;
    if (itx == NULL)
        return;
    json_t *pl = j_variant(itx, r->cause, sizeof(r->cause));
    if (strcmp(r->cause, "InvalidNonce") == 0) {
        (void)j_u64(pl, "tx_nonce", &r->tx_nonce);
        (void)j_u64(pl, "ak_nonce", &r->ak_nonce);
        r->kind = RPC_INVALID_NONCE;
    }
}

/* jansson_classify: json_loadb + rpc_parse's lookups for this answer + json_decref. */
static int jansson_classify(const struct bench_case *c, struct rpc_result *r)
{
    memset(r, 0, sizeof(*r));
    r->http_status = c->http_status;
    r->retry_after_s = -1;
    r->failure_action = -1;
    json_t *root = json_loadb(c->body, c->len, 0, NULL);
    json_t *res = json_object_get(root, "result"), *err = json_object_get(root, "error");
    if (json_is_null(err))
        err = NULL;
    if (root == NULL || (res == NULL && err == NULL)) {
        r->kind = RPC_MALFORMED;
    } else if (err != NULL) {
        j_error(err, r);
    } else if (c->method == RPC_M_SEND_TX || c->method == RPC_M_TX) {
        j_tx_result(res, r);
    } else if (c->method == RPC_M_BLOCK) {
        json_t *h = json_object_get(res, "header");
        r->kind = RPC_MALFORMED;
        if (j_hash(h, "hash", r->block_hash) == 0 && j_u64(h, "height", &r->block_height) == 0) {
            r->has_block = 1;
            r->kind = RPC_OK_BLOCK;
        }
    } else if (c->method == RPC_M_VIEW_ACCESS_KEY) {
        json_t *perm = json_object_get(res, "permission");
        r->kind = RPC_MALFORMED;
        if (json_is_string(json_object_get(res, "error"))) {
            r->kind = RPC_UNKNOWN_ACCESS_KEY;
        } else if (j_u64(res, "nonce", &r->nonce) == 0 &&
                   (json_is_object(perm) || json_is_string(perm))) {
            r->full_access =
                json_is_string(perm) && strcmp(json_string_value(perm), "FullAccess") == 0;
            j_block_ref(res, r);
            r->kind = RPC_OK_ACCESS_KEY;
        }
    } else {
        r->kind = RPC_MALFORMED;
    }
    json_decref(root);
    return 0;
}

/* ---- the timed units ----------------------------------------------------------------------------
 */

struct bench_ctx {
    const struct bench_case *c;
    struct jtok *toks;
    struct rpc_result r;
};

static void run_jtok_tokenize(struct bench_ctx *x)
{
    int n = jtok_parse(x->c->body, x->c->len, x->toks, RPC_TOKENS_TX, NULL);
    bench_sink += (uint64_t)n;
}

static void run_rpc_parse(struct bench_ctx *x)
{
    struct rpc_response q = {.method = x->c->method,
                             .http_status = x->c->http_status,
                             .retry_after_s = -1,
                             .body = x->c->body,
                             .len = x->c->len};
    (void)rpc_parse(&q, x->toks, RPC_TOKENS_TX, &x->r);
    bench_sink += x->r.kind + x->r.block_height + x->r.tx_hash[0];
}

static void run_jansson_load(struct bench_ctx *x)
{
    json_t *root = json_loadb(x->c->body, x->c->len, 0, NULL);
    bench_sink += json_object_size(root);
    json_decref(root);
}

static void run_jansson_classify(struct bench_ctx *x)
{
    (void)jansson_classify(x->c, &x->r);
    bench_sink += x->r.kind + x->r.block_height + x->r.tx_hash[0];
}

/* ns_per_run: nanoseconds per call of fn, over about `seconds` after a warm-up of a tenth of it. */
static double ns_per_run(void (*fn)(struct bench_ctx *), struct bench_ctx *x, double seconds)
{
    double warm_end = now_s() + seconds / 10;
    do
        for (int i = 0; i < 16; i++)
            fn(x);
    while (now_s() < warm_end);
    uint64_t count = 0;
    double start = now_s(), elapsed = 0;
    do {
        for (int i = 0; i < 16; i++)
            fn(x);
        count += 16;
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    return elapsed * 1e9 / (double)count;
}

/* ---- the answers --------------------------------------------------------------------------------
 */

static int case_set(struct bench_case *c,
                    const char *name,
                    const char *what,
                    enum rpc_method m,
                    int status,
                    const char *body,
                    size_t len)
{
    c->name = name;
    c->what = what;
    c->method = m;
    c->http_status = status;
    c->body = malloc(len + 1);
    if (c->body == NULL)
        return NF_ENOMEM;
    memcpy(c->body, body, len);
    c->body[len] = '\0';
    c->len = len;
    return 0;
}

/* case_from_file: vectors[i].answer of the rpc_tolerant.json whose "name" is vec_name, compact. */
static int case_from_file(struct bench_case *c,
                          json_t *vectors,
                          const char *vec_name,
                          const char *name,
                          enum rpc_method m)
{
    size_t i;
    json_t *v;
    json_array_foreach(vectors, i, v)
    {
        const char *vn = json_string_value(json_object_get(v, "name"));
        if (vn == NULL || strcmp(vn, vec_name) != 0)
            continue;
        char *text = json_dumps(json_object_get(v, "answer"), JSON_COMPACT);
        if (text == NULL)
            return NF_ENOMEM;
        int rc = case_set(c, name, vec_name, m, 200, text, strlen(text));
        free(text);
        return rc;
    }
    fprintf(stderr, "bench_json: vector \"%s\" not found\n", vec_name);
    return NF_ENOTFOUND;
}

/* synth_100: a FINAL send_tx answer for SYNTH_ACTIONS ft_transfer actions in nearsim's shape. */
static int synth_100(struct bench_case *c)
{
    static const char tx_hash[] = "EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr";
    static const char r1[] = "269XmwbdujrDFCSqhckeyZkdtrKWxst3rbL31JBTm1EW";
    static const char r2[] = "D7vBe31jLdgEakeeMQztqATchwwEa2Zn2iVTBWNAh3kJ";
    static const char b1[] = "3ioD2aoyvisLQyfgPQb9A2DunDkkNW2yQz4J7FUfXvvZ";
    size_t cap = 128 * 1024, n = 0;
    char *b = malloc(cap);
    if (b == NULL)
        return NF_ENOMEM;
#define PUT(...) (n += (size_t)snprintf(b + n, n < cap ? cap - n : 0, __VA_ARGS__))
    PUT("{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"final_execution_status\":\"FINAL\","
        "\"status\":{\"SuccessValue\":\"\"},\"transaction\":{\"signer_id\":\"distributor.near\","
        "\"public_key\":\"ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z\","
        "\"nonce\":150000000000001,\"receiver_id\":\"usdt.tether-token.near\",\"actions\":[");
    for (int i = 0; i < SYNTH_ACTIONS; i++) {
        char args[64], args_b64[B64_ENCODED_LEN(sizeof(args)) + 1];
        int alen = snprintf(args, sizeof(args),
                            "{\"receiver_id\":\"user-%03d.near\",\"amount\":\"1000000\"}", i);
        args_b64[b64_encode((const uint8_t *)args, (size_t)alen, args_b64)] = '\0';
        PUT("%s{\"FunctionCall\":{\"method_name\":\"ft_transfer\",\"args\":\"%s\","
            "\"gas\":300000000000,\"deposit\":\"1\"}}",
            i == 0 ? "" : ",", args_b64);
    }
    PUT("],\"priority_fee\":0,\"signature\":\"ed25519:4LWUBMSWq5E7K8cK3M73cbWV2FE1hg9H8AndB1asRqJTF"
        "eGJBZeWnv5HicEuJC7r7irx1ooZ61rAEri7P5P8f1uc\",\"hash\":\"%s\"},"
        "\"transaction_outcome\":{\"proof\":[],\"block_hash\":\"%s\",\"id\":\"%s\",\"outcome\":{"
        "\"logs\":[],\"receipt_ids\":[\"%s\"],\"gas_burnt\":2428000000000,"
        "\"tokens_burnt\":\"242800000000000000000\",\"executor_id\":\"distributor.near\","
        "\"status\":{\"SuccessReceiptId\":\"%s\"},\"metadata\":{\"version\":1,\"gas_profile\":null}"
        "}},"
        "\"receipts_outcome\":[{\"proof\":[],\"block_hash\":\"%s\",\"id\":\"%s\",\"outcome\":{"
        "\"logs\":[",
        tx_hash, b1, tx_hash, r1, r1, b1, r1);
    for (int i = 0; i < SYNTH_ACTIONS; i++)
        PUT("%s\"EVENT_JSON:{\\\"standard\\\":\\\"nep141\\\",\\\"version\\\":\\\"1.0.0\\\","
            "\\\"event\\\":\\\"ft_transfer\\\",\\\"data\\\":[{\\\"old_owner_id\\\":"
            "\\\"distributor.near\\\",\\\"new_owner_id\\\":\\\"user-%03d.near\\\","
            "\\\"amount\\\":\\\"1000000\\\"}]}\"",
            i == 0 ? "" : ",", i);
    PUT("],\"receipt_ids\":[\"%s\"],\"gas_burnt\":188818471230400,"
        "\"tokens_burnt\":\"18881847123040000000000\",\"executor_id\":\"usdt.tether-token.near\","
        "\"status\":{\"SuccessValue\":\"\"},\"metadata\":{\"version\":3,\"gas_profile\":[]}}},"
        "{\"proof\":[],\"block_hash\":\"%s\",\"id\":\"%s\",\"outcome\":{\"logs\":[],"
        "\"receipt_ids\":[],\"gas_burnt\":223182562500,\"tokens_burnt\":\"0\","
        "\"executor_id\":\"distributor.near\",\"status\":{\"SuccessValue\":\"\"},"
        "\"metadata\":{\"version\":3,\"gas_profile\":[]}}}]}}",
        r2, b1, r2);
#undef PUT
    int rc = n < cap
                 ? case_set(c, "tx_final_100action_synthetic",
                            "send_tx FINAL, 100 ft_transfer actions (built here, nearsim's shape)",
                            RPC_M_SEND_TX, 200, b, n)
                 : NF_ENOSPC;
    free(b);
    return rc;
}

/* same_result: the fields these answers set agree between the two readers. */
static int same_result(const struct rpc_result *a, const struct rpc_result *b)
{
    return a->kind == b->kind && a->tx_status == b->tx_status &&
           a->final_status == b->final_status && a->has_tx_hash == b->has_tx_hash &&
           memcmp(a->tx_hash, b->tx_hash, 32) == 0 && a->has_block == b->has_block &&
           a->block_height == b->block_height && memcmp(a->block_hash, b->block_hash, 32) == 0 &&
           a->nonce == b->nonce && a->full_access == b->full_access && a->tx_nonce == b->tx_nonce &&
           a->ak_nonce == b->ak_nonce && strcmp(a->cause, b->cause) == 0 &&
           strcmp(a->name, b->name) == 0 &&
           a->has_transaction_outcome == b->has_transaction_outcome;
}

enum { N_CASES = 6 };

int main(int argc, char **argv)
{
    double seconds = 1.0;
    const char *vectors_path = NF_SOURCE_DIR "/tests/vectors/rpc_tolerant.json";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            char *end = NULL;
            seconds = strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || seconds <= 0 || seconds > 60) {
                fprintf(stderr, "bench_json: --seconds wants 0 < S <= 60\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--vectors") == 0 && i + 1 < argc) {
            vectors_path = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_json [--seconds S] [--vectors rpc_tolerant.json]   "
                            "(S per figure; default 1.0)\n");
            return 2;
        }
    }
    json_set_alloc_funcs(count_malloc, count_free);

    struct bench_case cases[N_CASES];
    memset(cases, 0, sizeof(cases));
    struct jtok *toks = malloc(sizeof(*toks) * RPC_TOKENS_TX);
    json_error_t jerr;
    json_t *file = json_load_file(vectors_path, 0, &jerr);
    int ret = 1;
    if (file == NULL) {
        fprintf(stderr, "bench_json: %s: %s\n", vectors_path, jerr.text);
        goto out;
    }
    json_t *vectors = json_object_get(file, "vectors");
    if (toks == NULL ||
        case_set(&cases[0], "tx_final_1action", "send_tx FINAL, 1 action (test_rpc_vectors 13)",
                 RPC_M_SEND_TX, 200, RPC_VEC_13, sizeof(RPC_VEC_13) - 1) != 0 ||
        case_from_file(&cases[1], vectors, "send_tx: every object with unknown fields",
                       "tx_final_largest_vector", RPC_M_SEND_TX) != 0 ||
        synth_100(&cases[2]) != 0 ||
        case_set(&cases[3], "error_invalid_nonce", "InvalidNonce error (test_rpc_vectors 0)",
                 RPC_M_SEND_TX, 200, RPC_VEC_0, sizeof(RPC_VEC_0) - 1) != 0 ||
        case_set(&cases[4], "view_access_key", "view_access_key result (test_rpc_vectors 14)",
                 RPC_M_VIEW_ACCESS_KEY, 200, RPC_VEC_14, sizeof(RPC_VEC_14) - 1) != 0 ||
        case_from_file(&cases[5], vectors, "block: every object with unknown fields", "block",
                       RPC_M_BLOCK) != 0) {
        fprintf(stderr, "bench_json: fixture setup failed\n");
        goto out;
    }

    for (int i = 0; i < N_CASES; i++) {
        struct bench_case *c = &cases[i];
        struct bench_ctx x = {.c = c, .toks = toks};
        struct rpc_result rj;
        int ntok = jtok_parse(c->body, c->len, toks, RPC_TOKENS_TX, NULL);
        run_rpc_parse(&x);
        uint64_t allocs0 = jansson_allocs, bytes0 = jansson_alloc_bytes;
        (void)jansson_classify(c, &rj);
        uint64_t allocs = jansson_allocs - allocs0, bytes = jansson_alloc_bytes - bytes0;
        if (ntok < 1 || !same_result(&x.r, &rj)) {
            fprintf(stderr,
                    "bench_json: %s: the readers disagree (jtok %d tokens, kind %s vs %s)\n",
                    c->name, ntok, rpc_kind_name(x.r.kind), rpc_kind_name(rj.kind));
            goto out;
        }
        double t_tok = ns_per_run(run_jtok_tokenize, &x, seconds);
        double t_rpc = ns_per_run(run_rpc_parse, &x, seconds);
        double t_jload = ns_per_run(run_jansson_load, &x, seconds);
        double t_jcls = ns_per_run(run_jansson_classify, &x, seconds);
        fprintf(stderr, "bench_json: %s: %s, %s\n", c->name, c->what, rpc_kind_name(x.r.kind));
        printf("json_%s_bytes=%zu bytes\n", c->name, c->len);
        printf("json_%s_jtok_tokens=%d tokens\n", c->name, ntok);
        printf("json_%s_jtok_tokenize=%.0f ns/parse\n", c->name, t_tok);
        printf("json_%s_jtok_rpc_parse=%.0f ns/parse\n", c->name, t_rpc);
        printf("json_%s_jansson_load=%.0f ns/parse\n", c->name, t_jload);
        printf("json_%s_jansson_classify=%.0f ns/parse\n", c->name, t_jcls);
        printf("json_%s_jansson_allocs=%llu allocs/parse\n", c->name, (unsigned long long)allocs);
        printf("json_%s_jansson_alloc_bytes=%llu bytes/parse\n", c->name,
               (unsigned long long)bytes);
        printf("json_%s_rpc_parse_mb_per_s=%.0f MB/s\n", c->name, (double)c->len * 1e3 / t_rpc);
        printf("json_%s_ratio_jansson_vs_jtok_tokenize=%.2f\n", c->name, t_jload / t_tok);
        printf("json_%s_ratio_jansson_vs_rpc_parse=%.2f\n", c->name, t_jcls / t_rpc);
        fflush(stdout);
    }
    ret = 0;
out:
    for (int i = 0; i < N_CASES; i++)
        free(cases[i].body);
    json_decref(file);
    free(toks);
    return ret;
}
