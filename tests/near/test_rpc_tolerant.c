/* test_rpc_tolerant: nearftd's RPC reader (rpc_parse) stays tolerant of what NEAR's schemas allow.
 * Feeds it every answer of tests/vectors/rpc_tolerant.json: schema-valid answers (checked by
 * tests/conformance/sim_schema.mjs) with unknown fields added to every object and, in half of
 * them, every optional field left out. Each must be read as the same kind with the same values
 * as stated in the vector; the unknown fields must change nothing. Single-threaded. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "nf_err.h"
#include "nf_test.h"
#include "rpc.h"
#include "u128.h"

#ifndef NF_RPC_TOLERANT_VECTORS
#error "NF_RPC_TOLERANT_VECTORS must name tests/vectors/rpc_tolerant.json"
#endif

static const struct {
    const char *name;
    enum rpc_method m;
} methods[] = {
    {"SEND_TX", RPC_M_SEND_TX},
    {"TX", RPC_M_TX},
    {"BLOCK", RPC_M_BLOCK},
    {"VIEW_ACCESS_KEY", RPC_M_VIEW_ACCESS_KEY},
    {"VIEW_ACCESS_KEY_LIST", RPC_M_VIEW_ACCESS_KEY_LIST},
    {"VIEW_ACCOUNT", RPC_M_VIEW_ACCOUNT},
    {"CALL_FUNCTION", RPC_M_CALL_FUNCTION},
    {"GAS_PRICE", RPC_M_GAS_PRICE},
};

static const char *const wait_names[] = {"NONE",           "INCLUDED", "EXECUTED_OPTIMISTIC",
                                         "INCLUDED_FINAL", "EXECUTED", "FINAL"};
static const char *const tx_status_names[] = {"ABSENT",  "NOT_STARTED", "STARTED",
                                              "SUCCESS", "FAILURE",     "UNKNOWN"};

static int method_of(const char *name, enum rpc_method *m)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(methods[i].name, name) == 0) {
            *m = methods[i].m;
            return 0;
        }
    return -1;
}

static uint64_t u64_of(json_t *v)
{
    return (uint64_t)json_integer_value(v);
}

static void check_hash(const char *vec, const uint8_t h[32], json_t *b58)
{
    char s[B58_MAX_32];
    CHECK(b58_encode(h, 32, s, sizeof(s)) > 0);
    if (strcmp(s, json_string_value(b58)) != 0)
        fprintf(stderr, "  in vector: %s\n", vec);
    CHECK_EQ_STR(s, json_string_value(b58));
}

static void check_u128(const char *vec, nf_u128 v, json_t *want)
{
    char s[U128_STR_MAX];
    u128_format(v, s);
    if (strcmp(s, json_string_value(want)) != 0)
        fprintf(stderr, "  in vector: %s\n", vec);
    CHECK_EQ_STR(s, json_string_value(want));
}

static void run_vector(json_t *vec, struct jtok *toks)
{
    const char *name = json_string_value(json_object_get(vec, "name"));
    json_t *expect = json_object_get(vec, "expect");
    enum rpc_method m = RPC_M_SEND_TX;
    CHECK(name != NULL && json_is_object(expect));
    CHECK_EQ_INT(method_of(json_string_value(json_object_get(vec, "nf_method")), &m), 0);
    char *body = json_dumps(json_object_get(vec, "answer"), JSON_COMPACT);
    CHECK(body != NULL);

    uint8_t call[256];
    struct rpc_key_entry keys[8];
    struct rpc_response q;
    memset(&q, 0, sizeof(q));
    q.method = m;
    q.http_status = (int)json_integer_value(json_object_get(vec, "http_status"));
    q.retry_after_s = -1;
    q.body = body;
    q.len = strlen(body);
    q.expect_id = "1";
    q.call_out = call;
    q.call_cap = sizeof(call);
    q.keys = keys;
    q.keys_cap = 8;
    struct rpc_result r;
    CHECK_EQ_INT(rpc_parse(&q, toks, RPC_TOKENS_TX, &r), 0);
    const char *want_kind = json_string_value(json_object_get(expect, "kind"));
    if (strcmp(rpc_kind_name(r.kind), want_kind) != 0)
        fprintf(stderr, "  in vector: %s\n", name);
    CHECK_EQ_STR(rpc_kind_name(r.kind), want_kind);

    const char *key;
    json_t *v;
    json_object_foreach(expect, key, v)
    {
        if (strcmp(key, "kind") == 0)
            continue;
        if (strcmp(key, "final_status") == 0) {
            CHECK_EQ_INT(r.has_final_status, 1);
            CHECK_EQ_STR(wait_names[r.final_status], json_string_value(v));
        } else if (strcmp(key, "tx_status") == 0) {
            CHECK_EQ_STR(tx_status_names[r.tx_status], json_string_value(v));
        } else if (strcmp(key, "tx_hash") == 0) {
            CHECK_EQ_INT(r.has_tx_hash, 1);
            check_hash(name, r.tx_hash, v);
        } else if (strcmp(key, "has_transaction_outcome") == 0) {
            CHECK_EQ_INT(r.has_transaction_outcome, (int)json_integer_value(v));
        } else if (strcmp(key, "block_height") == 0) {
            CHECK(r.block_height == u64_of(v));
        } else if (strcmp(key, "block_hash") == 0) {
            check_hash(name, r.block_hash, v);
        } else if (strcmp(key, "nonce") == 0) {
            CHECK(r.nonce == u64_of(v));
        } else if (strcmp(key, "full_access") == 0) {
            CHECK_EQ_INT(r.full_access, (int)json_integer_value(v));
        } else if (strcmp(key, "key_count") == 0) {
            CHECK(r.key_count == (size_t)json_integer_value(v));
            CHECK(r.key_count > 0 && strncmp(keys[0].public_key, "ed25519:", 8) == 0);
        } else if (strcmp(key, "amount") == 0) {
            check_u128(name, r.amount, v);
        } else if (strcmp(key, "gas_price") == 0) {
            check_u128(name, r.gas_price, v);
        } else if (strcmp(key, "call") == 0) {
            CHECK(r.call_len == json_string_length(v));
            CHECK(memcmp(call, json_string_value(v), r.call_len) == 0);
        } else if (strcmp(key, "tx_nonce") == 0) {
            CHECK(r.tx_nonce == u64_of(v));
        } else if (strcmp(key, "ak_nonce") == 0) {
            CHECK(r.ak_nonce == u64_of(v));
        } else if (strcmp(key, "shard_id") == 0) {
            CHECK(r.shard_id == u64_of(v));
        } else {
            fprintf(stderr, "unknown expectation %s in vector %s\n", key, name);
            CHECK(0);
        }
    }
    free(body);
}

int main(void)
{
    json_error_t err;
    json_t *doc = json_load_file(NF_RPC_TOLERANT_VECTORS, 0, &err);
    if (doc == NULL) {
        fprintf(stderr, "%s:%d: %s\n", NF_RPC_TOLERANT_VECTORS, err.line, err.text);
        return 1;
    }
    json_t *vectors = json_object_get(doc, "vectors");
    CHECK(json_array_size(vectors) >= 10);
    struct jtok *toks = malloc(sizeof(*toks) * RPC_TOKENS_TX);
    CHECK(toks != NULL);
    size_t i;
    json_t *vec;
    json_array_foreach(vectors, i, vec) run_vector(vec, toks);
    printf("test_rpc_tolerant: %zu answers read\n", json_array_size(vectors));
    free(toks);
    json_decref(doc);
    return nf_test_report("test_rpc_tolerant");
}
