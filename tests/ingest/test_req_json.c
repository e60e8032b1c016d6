/* test_req_json: table tests for the three request-body shapes: accepted bodies with their decoded
 * fields, and rejected bodies with the exact field path and reason. Single-threaded. */
#include <stdio.h>
#include <string.h>

#include "nf_err.h"
#include "nf_test.h"
#include "req_json.h"

#define MAXI 4
static struct jtok toks[REQ_JSON_TOKENS(MAXI)];
static struct req_transfer out[MAXI];
static struct req_error err;
static size_t count;
static int is_batch;

static int run(enum req_shape shape, const char *body)
{
    struct req_json_limits lim = {MAXI, 256};
    return req_json_parse(shape, body, strlen(body), &lim, toks, REQ_JSON_TOKENS(MAXI), out, &count,
                          &is_batch, &err);
}

static nf_u128 u(const char *s)
{
    nf_u128 v = 0;
    CHECK_EQ_INT(u128_parse(s, strlen(s), &v), 0);
    return v;
}

static void test_native_ok(void)
{
    CHECK_EQ_INT(run(REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":\"1000000\"}"), 0);
    CHECK_EQ_INT(count, 1);
    CHECK_EQ_INT(is_batch, 0);
    CHECK_EQ_STR(out[0].receiver, "bob.near");
    CHECK_EQ_INT(out[0].receiver_len, 8);
    CHECK(out[0].amount == 1000000);
    CHECK_EQ_INT(out[0].has_memo, 0);
    CHECK_EQ_INT(out[0].has_idem, 0);

    CHECK_EQ_INT(run(REQ_SHAPE_NATIVE,
                     " {\"memo\":\"caf\\u00e9 \\\"x\\\"\",\"idempotency_key\":\"order-42\","
                     "\"amount\":\"340282366920938463463374607431768211455\","
                     "\"receiver_id\":\"a-b_c.x.near\"} "),
                 0);
    CHECK_EQ_STR(out[0].receiver, "a-b_c.x.near");
    CHECK(out[0].amount == U128_MAX);
    CHECK_EQ_INT(out[0].has_memo, 1);
    CHECK_EQ_STR(out[0].memo, "caf\xc3\xa9 \"x\"");
    CHECK_EQ_INT(out[0].memo_len, 9);
    CHECK_EQ_INT(out[0].has_idem, 1);
    CHECK_EQ_STR(out[0].idem_key, "order-42");
    CHECK_EQ_INT(out[0].idem_len, 8);

    /* memo null = absent; leading zeros in amount are digits (nearcore's u128 parse accepts). */
    CHECK_EQ_INT(
        run(REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":\"007\",\"memo\":null}"),
        0);
    CHECK_EQ_INT(out[0].has_memo, 0);
    CHECK(out[0].amount == 7);

    CHECK_EQ_INT(run(REQ_SHAPE_NATIVE,
                     "{\"transfers\":[{\"receiver_id\":\"bob.near\",\"amount\":\"1\"},"
                     "{\"receiver_id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
                     "abcdef\",\"amount\":\"2\",\"memo\":\"m\",\"idempotency_key\":\"k 1\"}]}"),
                 0);
    CHECK_EQ_INT(count, 2);
    CHECK_EQ_INT(is_batch, 1);
    CHECK(out[0].amount == 1 && out[1].amount == 2);
    CHECK_EQ_INT(out[1].receiver_len, 64);
    CHECK_EQ_STR(out[1].memo, "m");
    CHECK_EQ_STR(out[1].idem_key, "k 1");
    CHECK_EQ_INT(out[0].has_memo, 0);

    /* exactly max items */
    CHECK_EQ_INT(run(REQ_SHAPE_NATIVE,
                     "{\"transfers\":[{\"receiver_id\":\"aa\",\"amount\":\"1\"},{\"receiver_id\":"
                     "\"bb\",\"amount\":\"1\"},{\"receiver_id\":\"cc\",\"amount\":\"1\"},{"
                     "\"receiver_id\":\"dd\",\"amount\":\"1\"}]}"),
                 0);
    CHECK_EQ_INT(count, 4);
    CHECK_EQ_STR(out[3].receiver, "dd");
}

struct bad {
    enum req_shape shape;
    const char *body;
    const char *field;
    const char *reason;
};

static const struct bad bads[] = {
    {REQ_SHAPE_NATIVE, "", "", "body is not valid JSON: empty input at byte 0"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",}", "",
     "body is not valid JSON: expected a string member name at byte 26"},
    {REQ_SHAPE_NATIVE, "[]", "", "body must be a JSON object, got array"},
    {REQ_SHAPE_NATIVE, "{\"amount\":\"1\"}", "receiver_id", "required"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\"}", "amount", "required"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":\"1\",\"amuont\":\"2\"}", "amuont",
     "unknown field (expected receiver_id, amount, memo, idempotency_key)"},
    {REQ_SHAPE_NATIVE, "{\"receiverId\":\"bob.near\",\"amount\":\"1\"}", "receiverId",
     "unknown field (expected receiver_id, amount, memo, idempotency_key)"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":1}", "amount",
     "must be a string of decimal digits"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":\"0\"}", "amount",
     "must be greater than 0"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":\"-1\"}", "amount",
     "must be a string of decimal digits"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":\"1.5\"}", "amount",
     "must be a string of decimal digits"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":\"\"}", "amount",
     "must be a string of decimal digits"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":\" 1\"}", "amount",
     "must be a string of decimal digits"},
    {REQ_SHAPE_NATIVE,
     "{\"receiver_id\":\"bob.near\",\"amount\":\"340282366920938463463374607431768211456\"}",
     "amount", "out of range for u128 (max 340282366920938463463374607431768211455)"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"Bob.near\",\"amount\":\"1\"}", "receiver_id",
     "invalid account id: invalid character*"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob..near\",\"amount\":\"1\"}", "receiver_id",
     "invalid account id: redundant separator*"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"a\",\"amount\":\"1\"}", "receiver_id",
     "invalid account id: too short*"},
    {REQ_SHAPE_NATIVE,
     "{\"receiver_id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefa\","
     "\"amount\":\"1\"}",
     "receiver_id", "invalid account id: longer than 64 characters"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":7,\"amount\":\"1\"}", "receiver_id",
     "must be a string (a NEAR account id), got number"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":\"1\",\"memo\":5}", "memo",
     "must be a string or null, got number"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":\"1\",\"memo\":\"a\\u0000b\"}",
     "memo", "must not contain NUL (\\u0000)"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":\"1\",\"idempotency_key\":\"\"}",
     "idempotency_key", "must be 1 to 128 bytes of printable ASCII"},
    {REQ_SHAPE_NATIVE,
     "{\"receiver_id\":\"bob.near\",\"amount\":\"1\",\"idempotency_key\":\"caf\xc3\xa9\"}",
     "idempotency_key", "must be printable ASCII (byte 3 is not)"},
    {REQ_SHAPE_NATIVE,
     "{\"receiver_id\":\"bob.near\",\"amount\":\"1\",\"idempotency_key\":\"a\\tb\"}",
     "idempotency_key", "must be printable ASCII (byte 1 is not)"},
    {REQ_SHAPE_NATIVE, "{\"receiver_id\":\"bob.near\",\"amount\":\"1\",\"amount\":\"2\"}", "amount",
     "duplicate field"},
    {REQ_SHAPE_NATIVE, "{\"transfers\":[]}", "transfers", "must not be empty"},
    {REQ_SHAPE_NATIVE, "{\"transfers\":{}}", "transfers",
     "must be an array of transfer objects, got object"},
    {REQ_SHAPE_NATIVE, "{\"transfers\":[{\"receiver_id\":\"bob.near\",\"amount\":\"1\"},5]}",
     "transfers[1]", "must be an object, got number"},
    {REQ_SHAPE_NATIVE,
     "{\"transfers\":[{\"receiver_id\":\"bob.near\",\"amount\":\"1\"},{\"receiver_id\":\"bob."
     "near\",\"amount\":\"1\"},{\"receiver_id\":\"bob.near\",\"amount\":\"1\"},{\"receiver_id\":"
     "\"bob.near\",\"amount\":\"0\"}]}",
     "transfers[3].amount", "must be greater than 0"},
    {REQ_SHAPE_NATIVE, "{\"transfers\":[1,2,3,4,5]}", "transfers",
     "too many transfers: 5 (at most 4 per request)"},
    {REQ_SHAPE_NATIVE, "{\"transfers\":[{\"receiver_id\":\"bob.near\",\"amount\":\"1\"}],\"x\":1}",
     "x", "unknown field (a batch body has only \"transfers\")"},
    {REQ_SHAPE_NATIVE,
     "{\"transfers\":[{\"receiver_id\":\"bob.near\",\"amount\":\"1\",\"memo \\n\":1}]}",
     "transfers[0].memo \\n",
     "unknown field (expected receiver_id, amount, memo, idempotency_key)"},
    {REQ_SHAPE_NATIVE, "{\"transfers\":[],\"transfers\":[]}", "transfers", "duplicate field"},
    /* Node drop-in */
    {REQ_SHAPE_SEND_FT, "{\"receiver_id\":\"bob.near\",\"amount\":\"1\"}", "receiverId",
     "required"},
    {REQ_SHAPE_SEND_FT, "{\"receiverId\":\"bob.near\",\"amount\":1.5}", "amount",
     "must be a positive integer (a string of decimal digits is preferred)"},
    {REQ_SHAPE_SEND_FT, "{\"receiverId\":\"bob.near\",\"amount\":1e3}", "amount",
     "must be a positive integer (a string of decimal digits is preferred)"},
    {REQ_SHAPE_SEND_FT, "{\"receiverId\":\"bob.near\",\"amount\":-5}", "amount",
     "must be a positive integer (a string of decimal digits is preferred)"},
    {REQ_SHAPE_SEND_FT, "{\"receiverId\":\"bob.near\",\"amount\":0}", "amount",
     "must be greater than 0"},
    {REQ_SHAPE_SEND_FT, "{\"receiverId\":\"bob.near\",\"amount\":true}", "amount",
     "must be a string of decimal digits"},
    {REQ_SHAPE_SEND_FT, "{\"transfers\":[{\"receiverId\":\"bob.near\"}]}", "transfers[0].amount",
     "required"},
    {REQ_SHAPE_SEND_FT,
     "{\"receiverId\":\"bob.near\",\"amount\":\"1\",\"memo\":\"01234567890123456789012345678901234"
     "567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
     "1234567890123456789012345678901234567\"}",
     "memo", "longer than 256 bytes"},
    /* Rust drop-in */
    {REQ_SHAPE_RUST, "{\"transfers\":[{\"receiver_id\":\"bob.near\",\"amount\":\"1\"}]}",
     "receiver_id", "required"},
    {REQ_SHAPE_RUST, "{\"receiver_id\":\"bob.near\",\"amount\":1}", "amount",
     "must be a string of decimal digits"},
    {REQ_SHAPE_RUST, "{\"receiver_id\":\"bob.near\",\"receiver_id\":\"eve.near\",\"amount\":\"1\"}",
     "receiver_id", "duplicate field"},
    {REQ_SHAPE_RUST, "\"x\"", "", "body must be a JSON object, got string"},
};

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        int rc = run(bads[i].shape, bads[i].body);
        /* A trailing '*' compares a prefix (account.c owns the reason's wording). */
        size_t rl = strlen(bads[i].reason);
        int prefix = rl > 0 && bads[i].reason[rl - 1] == '*';
        int reason_ok = prefix ? strncmp(err.reason, bads[i].reason, rl - 1) == 0
                               : strcmp(err.reason, bads[i].reason) == 0;
        if (rc != NF_EINVAL || strcmp(err.field, bads[i].field) != 0 || !reason_ok)
            fprintf(stderr, "case %zu: rc %d field \"%s\" reason \"%s\"\n", i, rc, err.field,
                    err.reason);
        CHECK_EQ_INT(rc, NF_EINVAL);
        CHECK_EQ_STR(err.field, bads[i].field);
        CHECK(reason_ok);
    }
}

static void test_dropins_ok(void)
{
    /* Node: unknown fields ignored, numeric amount read exactly (beyond 2^53). */
    CHECK_EQ_INT(run(REQ_SHAPE_SEND_FT, "{\"receiverId\":\"bob.near\",\"amount\":"
                                        "123456789012345678901234567890,\"extra\":[1,{\"a\":2}]}"),
                 0);
    CHECK_EQ_INT(count, 1);
    CHECK(out[0].amount == u("123456789012345678901234567890"));
    CHECK_EQ_INT(run(REQ_SHAPE_SEND_FT,
                     "{\"transfers\":[{\"receiverId\":\"u.test.near\",\"amount\":\"5\",\"memo\":"
                     "\"hi\",\"idempotency_key\":9},{\"receiverId\":\"v.test.near\",\"amount\":6}],"
                     "\"note\":1}"),
                 0);
    CHECK_EQ_INT(count, 2);
    CHECK_EQ_INT(is_batch, 1);
    CHECK_EQ_STR(out[0].memo, "hi");
    CHECK_EQ_INT(out[0].has_idem, 0); /* not a field of this API: ignored */
    CHECK(out[1].amount == 6);
    /* Rust: single, unknown ignored, memo kept. */
    CHECK_EQ_INT(run(REQ_SHAPE_RUST, "{\"receiver_id\":\"bob.near\",\"amount\":\"10\",\"memo\":"
                                     "\"x\",\"batch\":true}"),
                 0);
    CHECK_EQ_INT(count, 1);
    CHECK_EQ_INT(is_batch, 0);
    CHECK_EQ_STR(out[0].memo, "x");
    CHECK(out[0].amount == 10);
}

static void test_limits(void)
{
    /* memo exactly memo_max_bytes, and a smaller configured limit */
    char body[600];
    char memo[257];
    memset(memo, 'm', 256);
    memo[256] = 0;
    snprintf(body, sizeof(body), "{\"receiver_id\":\"bob.near\",\"amount\":\"1\",\"memo\":\"%s\"}",
             memo);
    CHECK_EQ_INT(run(REQ_SHAPE_NATIVE, body), 0);
    CHECK_EQ_INT(out[0].memo_len, 256);
    struct req_json_limits lim = {2, 10};
    int rc = req_json_parse(REQ_SHAPE_NATIVE, body, strlen(body), &lim, toks, REQ_JSON_TOKENS(MAXI),
                            out, &count, &is_batch, &err);
    CHECK_EQ_INT(rc, NF_EINVAL);
    CHECK_EQ_STR(err.reason, "longer than 10 bytes");
    /* a 4-byte UTF-8 char counts as 4 bytes */
    const char *b2 =
        "{\"receiver_id\":\"bob.near\",\"amount\":\"1\",\"memo\":\"\\ud83d\\ude00abcdef\"}";
    CHECK_EQ_INT(req_json_parse(REQ_SHAPE_NATIVE, b2, strlen(b2), &lim, toks, REQ_JSON_TOKENS(MAXI),
                                out, &count, &is_batch, &err),
                 0);
    CHECK_EQ_INT(out[0].memo_len, 10);
    /* token scratch exhausted by a huge unknown field: a clean error, not an overflow */
    const char *b3 = "{\"receiverId\":\"bob.near\",\"amount\":\"1\",\"x\":[1,2,3,4,5,6,7,8,9]}";
    CHECK_EQ_INT(req_json_parse(REQ_SHAPE_SEND_FT, b3, strlen(b3), &lim, toks, 8, out, &count,
                                &is_batch, &err),
                 NF_EINVAL);
    CHECK_EQ_STR(err.field, "");
    CHECK_EQ_STR(err.reason, "request too large: more than 2 transfers or too many JSON values");
    /* non-NUL-terminated input: parse only len bytes */
    const char *b4 = "{\"receiver_id\":\"bob.near\",\"amount\":\"12\"}garbage";
    CHECK_EQ_INT(req_json_parse(REQ_SHAPE_NATIVE, b4, strlen(b4) - 7, &lim, toks,
                                REQ_JSON_TOKENS(MAXI), out, &count, &is_batch, &err),
                 0);
    CHECK(out[0].amount == 12);
}

int main(void)
{
    test_native_ok();
    test_bad();
    test_dropins_ok();
    test_limits();
    return nf_test_report("test_req_json");
}
