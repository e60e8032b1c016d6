/* test_rpc: JSON-RPC builders checked against the request examples of docs/PROTOCOL.md section 3,
 * and the classifier fed every error JSON of the section 3.8 catalogue verbatim, the section 3.4
 * success example, the ActionError failure shape, the legacy in-result query errors, the 2026
 * TIMEOUT_ERROR forms and transport-level answers; the strict readers of Retry-After header lines
 * and call_function results (U128 strings, storage_balance_of) against tables. Single-threaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "nf_err.h"
#include "nf_test.h"
#include "rpc.h"

#include "test_rpc_vectors.inc"

static struct jtok *toks;
static struct rpc_result r;

static int classify(enum rpc_method m, int status, const char *body)
{
    struct rpc_response q;
    memset(&q, 0, sizeof(q));
    q.method = m;
    q.http_status = status;
    q.retry_after_s = -1;
    q.body = body;
    q.len = strlen(body);
    return rpc_parse(&q, toks, RPC_TOKENS_TX, &r);
}

static void check_hash(const uint8_t h[32], const char *b58)
{
    char s[B58_MAX_32];
    CHECK(b58_encode(h, 32, s, sizeof(s)) > 0);
    CHECK_EQ_STR(s, b58);
}

static void test_builders(void)
{
    char buf[1024];
    int n = rpc_build_send_tx_b64(buf, sizeof(buf), "1",
                                  "CgAAAGFsaWNl...ziFYxCw==", RPC_WAIT_EXECUTED_OPTIMISTIC);
    /* section 3.1 request example */
    CHECK_EQ_STR(buf, "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"method\":\"send_tx\",\"params\":{"
                      "\"signed_tx_base64\":\"CgAAAGFsaWNl...ziFYxCw==\",\"wait_until\":"
                      "\"EXECUTED_OPTIMISTIC\"}}");
    CHECK_EQ_INT(n, strlen(buf));
    const uint8_t tx[5] = {'a', 'l', 'i', 'c', 'e'};
    n = rpc_build_send_tx(buf, sizeof(buf), "b-7", tx, sizeof(tx), RPC_WAIT_NONE);
    CHECK_EQ_STR(buf, "{\"jsonrpc\":\"2.0\",\"id\":\"b-7\",\"method\":\"send_tx\",\"params\":{"
                      "\"signed_tx_base64\":\"YWxpY2U=\",\"wait_until\":\"NONE\"}}");
    /* section 3.3 */
    rpc_build_tx_status(buf, sizeof(buf), "1", "EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr",
                        "alice.near", RPC_WAIT_FINAL);
    CHECK_EQ_STR(buf, "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"method\":\"tx\",\"params\":{\"tx_hash\":"
                      "\"EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr\",\"sender_account_id\":"
                      "\"alice.near\",\"wait_until\":\"FINAL\"}}");
    /* section 3.5 */
    rpc_build_view_access_key(buf, sizeof(buf), "1", RPC_FINALITY_FINAL, "alice.near",
                              "ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z");
    CHECK_EQ_STR(buf, "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"method\":\"query\",\"params\":{"
                      "\"request_type\":\"view_access_key\",\"finality\":\"final\",\"account_id\":"
                      "\"alice.near\",\"public_key\":\"ed25519:"
                      "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z\"}}");
    /* section 3.6: args_base64 of {"account_id":"bob.near"} */
    rpc_build_account_view(buf, sizeof(buf), "1", RPC_FINALITY_FINAL, "usdt.tether-token.near",
                           "ft_balance_of", "bob.near");
    CHECK_EQ_STR(buf,
                 "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"method\":\"query\",\"params\":{"
                 "\"request_type\":\"call_function\",\"finality\":\"final\",\"account_id\":"
                 "\"usdt.tether-token.near\",\"method_name\":\"ft_balance_of\",\"args_base64\":"
                 "\"eyJhY2NvdW50X2lkIjoiYm9iLm5lYXIifQ==\"}}");
    CHECK_EQ_INT(rpc_build_account_view(buf, sizeof(buf), "1", RPC_FINALITY_FINAL, "c.near",
                                        "ft_balance_of", "Bad\"id"),
                 NF_EINVAL);
    rpc_build_call_function(buf, sizeof(buf), "1", RPC_FINALITY_OPTIMISTIC, "c.near",
                            "storage_balance_bounds", "{}", 2);
    CHECK(strstr(buf, "\"finality\":\"optimistic\"") != NULL);
    CHECK(strstr(buf, "\"args_base64\":\"e30=\"") != NULL);
    rpc_build_view_access_key_list(buf, sizeof(buf), "9", RPC_FINALITY_FINAL, "alice.near");
    CHECK_EQ_STR(buf, "{\"jsonrpc\":\"2.0\",\"id\":\"9\",\"method\":\"query\",\"params\":{"
                      "\"request_type\":\"view_access_key_list\",\"finality\":\"final\","
                      "\"account_id\":\"alice.near\"}}");
    rpc_build_view_account(buf, sizeof(buf), "9", RPC_FINALITY_FINAL, "alice.near");
    CHECK(strstr(buf, "\"request_type\":\"view_account\"") != NULL);
    rpc_build_block_final(buf, sizeof(buf), "2");
    CHECK_EQ_STR(buf, "{\"jsonrpc\":\"2.0\",\"id\":\"2\",\"method\":\"block\",\"params\":{"
                      "\"finality\":\"final\"}}");
    rpc_build_gas_price(buf, sizeof(buf), "3");
    CHECK_EQ_STR(buf,
                 "{\"jsonrpc\":\"2.0\",\"id\":\"3\",\"method\":\"gas_price\",\"params\":[null]}");
    /* too small: every size below the need fails cleanly */
    int need = rpc_build_block_final(buf, sizeof(buf), "2");
    for (int cap = 0; cap <= need; cap++)
        CHECK_EQ_INT(rpc_build_block_final(buf, (size_t)cap, "2"), NF_ENOSPC);
    CHECK_EQ_INT(rpc_build_block_final(buf, (size_t)need + 1, "2"), need);

    CHECK_EQ_INT(rpc_build_block_final(buf, sizeof(buf), "a\"b"), NF_EINVAL);
    CHECK_EQ_INT(rpc_build_view_account(buf, sizeof(buf), "1", RPC_FINALITY_FINAL, "a\nb"),
                 NF_EINVAL);
    /* send_tx sizes are exact too (base64 is written in place) */
    uint8_t big[300];
    memset(big, 0xA5, sizeof(big));
    need = rpc_build_send_tx(buf, sizeof(buf), "1", big, sizeof(big), RPC_WAIT_FINAL);
    CHECK(need > 400);
    for (int cap = need - 8; cap <= need; cap++)
        CHECK_EQ_INT(rpc_build_send_tx(buf, (size_t)cap, "1", big, sizeof(big), RPC_WAIT_FINAL),
                     NF_ENOSPC);
    CHECK_EQ_INT(rpc_build_send_tx(buf, (size_t)need + 1, "1", big, sizeof(big), RPC_WAIT_FINAL),
                 need);
    CHECK_EQ_INT(strlen(buf), need);

    enum rpc_wait w;
    CHECK_EQ_INT(rpc_wait_parse("INCLUDED_FINAL", 14, &w), 0);
    CHECK_EQ_INT(w, RPC_WAIT_INCLUDED_FINAL);
    CHECK_EQ_INT(rpc_wait_parse("final", 5, &w), NF_EINVAL);
    CHECK_EQ_STR(rpc_wait_name(RPC_WAIT_EXECUTED), "EXECUTED");
}

struct catalogue_case {
    const char *body;
    int status;
    enum rpc_kind kind;
    const char *cause;
    int definitive;
};

static void test_catalogue(void)
{
    const struct catalogue_case cases[] = {
        {RPC_VEC_0, 200, RPC_INVALID_NONCE, "InvalidNonce", 1},
        {RPC_VEC_1, 200, RPC_EXPIRED, "Expired", 1},
        {RPC_VEC_2, 200, RPC_INVALID_SIGNATURE, "InvalidSignature", 1},
        {RPC_VEC_3, 200, RPC_NOT_ENOUGH_BALANCE, "NotEnoughBalance", 1},
        {RPC_VEC_4, 200, RPC_ACCESS_KEY_NOT_FOUND, "InvalidAccessKeyError", 1},
        {RPC_VEC_5, 200, RPC_SHARD_CONGESTED, "ShardCongested", 1},
        {RPC_VEC_6, 200, RPC_SHARD_STUCK, "ShardStuck", 1},
        {RPC_VEC_7, 408, RPC_TIMEOUT, "TIMEOUT_ERROR", 0},
        {RPC_VEC_8, 200, RPC_UNKNOWN_TRANSACTION, "UNKNOWN_TRANSACTION", 0},
        {RPC_VEC_9, 400, RPC_PARSE_ERROR, "PARSE_ERROR", 1},
        {RPC_VEC_10, 400, RPC_METHOD_NOT_FOUND, "METHOD_NOT_FOUND", 1},
        {RPC_VEC_11, 200, RPC_UNKNOWN_ACCOUNT, "UNKNOWN_ACCOUNT", 0},
        {RPC_VEC_12, 500, RPC_INTERNAL_ERROR, "INTERNAL_ERROR", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_EQ_INT(classify(RPC_M_SEND_TX, cases[i].status, cases[i].body), 0);
        if (r.kind != cases[i].kind)
            fprintf(stderr, "case %zu: got %s\n", i, rpc_kind_name(r.kind));
        CHECK_EQ_INT(r.kind, cases[i].kind);
        CHECK_EQ_STR(r.cause, cases[i].cause);
        CHECK_EQ_INT(rpc_kind_is_definitive_rejection(r.kind), cases[i].definitive);
    }
    classify(RPC_M_SEND_TX, 200, RPC_VEC_0);
    CHECK(r.tx_nonce == 150000000000001ull);
    CHECK(r.ak_nonce == 150000000000005ull);
    CHECK_EQ_STR(r.name, "HANDLER_ERROR");
    CHECK_EQ_STR(r.message, "Server error");
    classify(RPC_M_SEND_TX, 200, RPC_VEC_3);
    char s[U128_STR_MAX];
    u128_format(r.balance, s);
    CHECK_EQ_STR(s, "1000000000000000000000");
    u128_format(r.cost, s);
    CHECK_EQ_STR(s, "3119891450034400000001");
    classify(RPC_M_SEND_TX, 200, RPC_VEC_4);
    CHECK_EQ_STR(r.detail, "AccessKeyNotFound");
    classify(RPC_M_SEND_TX, 200, RPC_VEC_5);
    CHECK_EQ_INT(r.shard_id, 3);
    CHECK(r.congestion_level > 0.8420 && r.congestion_level < 0.8422);
    classify(RPC_M_SEND_TX, 200, RPC_VEC_6);
    CHECK_EQ_INT(r.shard_id, 3);
    CHECK_EQ_INT(r.missed_chunks, 101);
    classify(RPC_M_SEND_TX, 408, RPC_VEC_7);
    CHECK_EQ_STR(r.message, "Timeout");
    CHECK_EQ_STR(r.detail, "");
    classify(RPC_M_TX, 200, RPC_VEC_8);
    CHECK_EQ_STR(r.message,
                 "Transaction EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr doesn't exist");
    classify(RPC_M_SEND_TX, 400, RPC_VEC_9);
    CHECK_EQ_STR(r.name, "REQUEST_VALIDATION_ERROR");
    CHECK_EQ_STR(r.message, "Failed to decode transaction: <detail>");
    /* The same errors arrive for the other methods too. */
    CHECK_EQ_INT(classify(RPC_M_VIEW_ACCOUNT, 200, RPC_VEC_11), 0);
    CHECK_EQ_INT(r.kind, RPC_UNKNOWN_ACCOUNT);
}

static void test_other_invalid_tx(void)
{
    const struct {
        const char *itx;
        enum rpc_kind kind;
        const char *cause;
        const char *detail;
    } cases[] = {
        {"\"InvalidChain\"", RPC_INVALID_CHAIN, "InvalidChain", ""},
        {"{\"NonceTooLarge\":{\"tx_nonce\":5,\"upper_bound\":4}}", RPC_NONCE_TOO_LARGE,
         "NonceTooLarge", ""},
        {"{\"InvalidAccessKeyError\":\"RequiresFullAccess\"}", RPC_OTHER_ACCESS_KEY_ERROR,
         "InvalidAccessKeyError", "RequiresFullAccess"},
        {"{\"InvalidAccessKeyError\":{\"ReceiverMismatch\":{\"tx_receiver\":\"a.near\","
         "\"ak_receiver\":\"b.near\"}}}",
         RPC_OTHER_ACCESS_KEY_ERROR, "InvalidAccessKeyError", "ReceiverMismatch"},
        {"{\"LackBalanceForState\":{\"signer_id\":\"a.near\",\"amount\":\"77\"}}",
         RPC_LACK_BALANCE_FOR_STATE, "LackBalanceForState", ""},
        {"{\"SignerDoesNotExist\":{\"signer_id\":\"alice.near\"}}", RPC_SIGNER_DOES_NOT_EXIST,
         "SignerDoesNotExist", ""},
        {"{\"ActionsValidation\":{\"TotalNumberOfActionsExceeded\":{\"total_number_of_actions\":"
         "101,\"limit\":100}}}",
         RPC_ACTIONS_VALIDATION, "ActionsValidation", "TotalNumberOfActionsExceeded"},
        {"{\"ActionsValidation\":\"FunctionCallZeroAttachedGas\"}", RPC_ACTIONS_VALIDATION,
         "ActionsValidation", "FunctionCallZeroAttachedGas"},
        {"{\"TransactionSizeExceeded\":{\"size\":2000000,\"limit\":1572864}}", RPC_TX_SIZE_EXCEEDED,
         "TransactionSizeExceeded", ""},
        {"\"CostOverflow\"", RPC_OTHER_INVALID_TX, "CostOverflow", ""},
        {"{\"InvalidReceiverId\":{\"receiver_id\":\"x\"}}", RPC_OTHER_INVALID_TX,
         "InvalidReceiverId", ""},
    };
    char body[1024];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(body, sizeof(body),
                 "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"error\":{\"name\":\"HANDLER_ERROR\","
                 "\"cause\":{\"name\":\"INVALID_TRANSACTION\",\"info\":{}},\"code\":-32000,"
                 "\"message\":\"Server error\",\"data\":{\"TxExecutionError\":{\"InvalidTxError\":"
                 "%s}}}}",
                 cases[i].itx);
        CHECK_EQ_INT(classify(RPC_M_SEND_TX, 200, body), 0);
        CHECK_EQ_INT(r.kind, cases[i].kind);
        CHECK_EQ_STR(r.cause, cases[i].cause);
        CHECK_EQ_STR(r.detail, cases[i].detail);
        CHECK_EQ_INT(rpc_kind_is_definitive_rejection(r.kind), 1);
        if (r.kind == RPC_NONCE_TOO_LARGE)
            CHECK(r.tx_nonce == 5 && r.ak_nonce == 4);
        if (r.kind == RPC_LACK_BALANCE_FOR_STATE)
            CHECK(r.balance == 77);
        if (r.kind == RPC_TX_SIZE_EXCEEDED)
            CHECK(r.size == 2000000 && r.size_limit == 1572864);
    }
    /* INVALID_TRANSACTION with an empty data: still a rejection, variant unknown. */
    CHECK_EQ_INT(classify(RPC_M_SEND_TX, 200,
                          "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"error\":{\"name\":\"HANDLER_ERROR\","
                          "\"cause\":{\"name\":\"INVALID_TRANSACTION\",\"info\":{}},\"data\":{}}}"),
                 0);
    CHECK_EQ_INT(r.kind, RPC_OTHER_INVALID_TX);
    CHECK_EQ_STR(r.cause, "INVALID_TRANSACTION");
}

static void test_success(void)
{
    CHECK_EQ_INT(classify(RPC_M_SEND_TX, 200, RPC_VEC_13), 0);
    CHECK_EQ_INT(r.kind, RPC_OK_TX);
    CHECK_EQ_INT(r.has_final_status, 1);
    CHECK_EQ_INT(r.final_status, RPC_WAIT_FINAL);
    CHECK_EQ_INT(r.tx_status, RPC_TXS_SUCCESS);
    CHECK_EQ_INT(r.failure_action, -1);
    CHECK_EQ_INT(r.has_tx_hash, 1);
    check_hash(r.tx_hash, "EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr");
    CHECK_EQ_INT(r.has_transaction_outcome, 1);
    CHECK_EQ_INT(rpc_kind_is_definitive_rejection(r.kind), 0);

    /* 3.4 failure: the same tx with the documented ActionError status. */
    const char *fail =
        "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"final_execution_status\":"
        "\"EXECUTED_OPTIMISTIC\",\"status\":{\"Failure\":{\"ActionError\":{\"index\":0,\"kind\":{"
        "\"FunctionCallError\":{\"ExecutionError\":\"Smart contract panicked: The account "
        "bob.near is not registered\"}}}}},\"transaction\":{\"signer_id\":\"alice.near\","
        "\"hash\":\"EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr\"},\"receipts_outcome\":[]}}";
    CHECK_EQ_INT(classify(RPC_M_SEND_TX, 200, fail), 0);
    CHECK_EQ_INT(r.kind, RPC_OK_TX);
    CHECK_EQ_INT(r.final_status, RPC_WAIT_EXECUTED_OPTIMISTIC);
    CHECK_EQ_INT(r.tx_status, RPC_TXS_FAILURE);
    CHECK_EQ_INT(r.failure_action, 0);
    CHECK_EQ_STR(r.failure_kind, "FunctionCallError");
    CHECK_EQ_STR(r.detail, "ExecutionError");
    CHECK_EQ_STR(r.message, "Smart contract panicked: The account bob.near is not registered");
    CHECK_EQ_INT(r.has_transaction_outcome, 0);
    CHECK_EQ_INT(r.has_tx_hash, 1);

    /* ActionError with index null and a non-FunctionCall kind */
    CHECK_EQ_INT(classify(RPC_M_TX, 200,
                          "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"status\":{\"Failure\":{"
                          "\"ActionError\":{\"index\":null,\"kind\":{\"AccountDoesNotExist\":{"
                          "\"account_id\":\"x.near\"}}}}}}}"),
                 0);
    CHECK_EQ_INT(r.tx_status, RPC_TXS_FAILURE);
    CHECK_EQ_INT(r.failure_action, -1);
    CHECK_EQ_STR(r.failure_kind, "AccountDoesNotExist");
    CHECK_EQ_INT(r.has_final_status, 0);

    /* LackBalanceForState after the last action: no index, the account and what it lacks */
    CHECK_EQ_INT(classify(RPC_M_TX, 200,
                          "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"status\":{\"Failure\":{"
                          "\"ActionError\":{\"index\":null,\"kind\":{\"LackBalanceForState\":{"
                          "\"account_id\":\"ft.near\",\"amount\":\"1000000000000000000\"}}}}}}}"),
                 0);
    CHECK_EQ_INT(r.tx_status, RPC_TXS_FAILURE);
    CHECK_EQ_INT(r.failure_action, -1);
    CHECK_EQ_STR(r.failure_kind, "LackBalanceForState");
    CHECK_EQ_STR(r.failure_account, "ft.near");
    CHECK(r.failure_amount == (nf_u128)1000000000000000000ull);

    /* Failure with an InvalidTxError at execution */
    CHECK_EQ_INT(
        classify(RPC_M_TX, 200,
                 "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"final_execution_status\":"
                 "\"FINAL\",\"status\":{\"Failure\":{\"InvalidTxError\":{"
                 "\"NotEnoughBalance\":{\"signer_id\":\"a.near\",\"balance\":\"1\","
                 "\"cost\":\"2\"}}}}}}"),
        0);
    CHECK_EQ_INT(r.kind, RPC_OK_TX);
    CHECK_EQ_INT(r.tx_status, RPC_TXS_FAILURE);
    CHECK_EQ_INT(r.failure_invalid_tx, 1);
    CHECK_EQ_STR(r.cause, "NotEnoughBalance");

    /* wait_until NONE */
    CHECK_EQ_INT(classify(RPC_M_SEND_TX, 200,
                          "{\"jsonrpc\":\"2.0\",\"result\":{\"final_execution_status\":\"NONE\"},"
                          "\"id\":\"1\"}"),
                 0);
    CHECK_EQ_INT(r.kind, RPC_OK_TX);
    CHECK_EQ_INT(r.final_status, RPC_WAIT_NONE);
    CHECK_EQ_INT(r.tx_status, RPC_TXS_ABSENT);
    CHECK_EQ_INT(r.has_tx_hash, 0);
    /* Started */
    classify(RPC_M_TX, 200,
             "{\"result\":{\"final_execution_status\":\"INCLUDED\",\"status\":\"Started\"}}");
    CHECK_EQ_INT(r.tx_status, RPC_TXS_STARTED);
    CHECK_EQ_INT(r.final_status, RPC_WAIT_INCLUDED);
    /* Legacy error-form ActionError (old broadcast_tx_commit) is an executed failure. */
    classify(RPC_M_SEND_TX, 200,
             "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"error\":{\"code\":-32000,\"message\":\"Server "
             "error\",\"data\":{\"TxExecutionError\":{\"ActionError\":{\"index\":1,\"kind\":{"
             "\"FunctionCallError\":{\"ExecutionError\":\"boom\"}}}}}}}");
    CHECK_EQ_INT(r.kind, RPC_OK_TX);
    CHECK_EQ_INT(r.tx_status, RPC_TXS_FAILURE);
    CHECK_EQ_INT(r.failure_action, 1);
    CHECK_EQ_STR(r.message, "boom");
}

static void test_timeouts_and_transport(void)
{
    const char *t2026 = "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"error\":{\"name\":\"HANDLER_ERROR\","
                        "\"cause\":{\"name\":\"TIMEOUT_ERROR\",\"info\":{\"cause\":\"PENDING\","
                        "\"status\":{\"final_execution_status\":\"INCLUDED\"}}},\"code\":-32000,"
                        "\"message\":\"Server error\",\"data\":\"Timeout\"}}";
    CHECK_EQ_INT(classify(RPC_M_SEND_TX, 408, t2026), 0);
    CHECK_EQ_INT(r.kind, RPC_TIMEOUT);
    CHECK_EQ_STR(r.detail, "PENDING");
    CHECK_EQ_INT(r.has_final_status, 1);
    CHECK_EQ_INT(r.final_status, RPC_WAIT_INCLUDED);
    const char *t2026b = "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"error\":{\"name\":\"HANDLER_ERROR\","
                         "\"cause\":{\"name\":\"TIMEOUT_ERROR\",\"info\":{\"cause\":"
                         "\"NOT_OBSERVED\"}},\"data\":\"Timeout\"}}";
    classify(RPC_M_SEND_TX, 408, t2026b);
    CHECK_EQ_INT(r.kind, RPC_TIMEOUT);
    CHECK_EQ_STR(r.detail, "NOT_OBSERVED");
    CHECK_EQ_INT(r.has_final_status, 0);

    struct rpc_response q;
    memset(&q, 0, sizeof(q));
    q.method = RPC_M_SEND_TX;
    q.http_status = 429;
    q.retry_after_s = 7;
    q.body = "Too Many Requests";
    q.len = strlen(q.body);
    CHECK_EQ_INT(rpc_parse(&q, toks, RPC_TOKENS_TX, &r), 0);
    CHECK_EQ_INT(r.kind, RPC_RATE_LIMITED);
    CHECK_EQ_INT(r.retry_after_s, 7);
    CHECK_EQ_INT(rpc_kind_is_definitive_rejection(r.kind), 0);

    classify(RPC_M_SEND_TX, 502, "<html>Bad Gateway</html>");
    CHECK_EQ_INT(r.kind, RPC_HTTP_ERROR);
    CHECK_EQ_INT(r.http_status, 502);
    classify(RPC_M_SEND_TX, 503, "{\"message\":\"upstream unavailable\"}");
    CHECK_EQ_INT(r.kind, RPC_HTTP_ERROR);
    classify(RPC_M_SEND_TX, 0, "");
    CHECK_EQ_INT(r.kind, RPC_HTTP_ERROR);
    classify(RPC_M_SEND_TX, 200, "not json");
    CHECK_EQ_INT(r.kind, RPC_MALFORMED);
    classify(RPC_M_SEND_TX, 200, "{\"jsonrpc\":\"2.0\",\"id\":\"1\"}");
    CHECK_EQ_INT(r.kind, RPC_MALFORMED);
    classify(RPC_M_SEND_TX, 200, "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":\"EqCZ\"}");
    CHECK_EQ_INT(r.kind, RPC_MALFORMED);
    classify(RPC_M_SEND_TX, 200, "{\"result\":{}}");
    CHECK_EQ_INT(r.kind, RPC_MALFORMED);
    CHECK_EQ_INT(rpc_kind_is_definitive_rejection(RPC_MALFORMED), 0);
    CHECK_EQ_INT(rpc_kind_is_definitive_rejection(RPC_HTTP_ERROR), 0);
    CHECK_EQ_INT(rpc_kind_is_definitive_rejection(RPC_OK_TX), 0);
    /* other structured causes are kept */
    classify(RPC_M_TX, 200,
             "{\"error\":{\"name\":\"HANDLER_ERROR\",\"cause\":{\"name\":\"DOES_NOT_TRACK_SHARD\","
             "\"info\":{}},\"data\":\"x\"}}");
    CHECK_EQ_INT(r.kind, RPC_OTHER_ERROR);
    CHECK_EQ_STR(r.cause, "DOES_NOT_TRACK_SHARD");
    /* legacy code-only errors */
    classify(RPC_M_TX, 400, "{\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}");
    CHECK_EQ_INT(r.kind, RPC_PARSE_ERROR);
    classify(RPC_M_TX, 408, "{\"error\":{\"code\":-32000,\"message\":\"Server error\"}}");
    CHECK_EQ_INT(r.kind, RPC_TIMEOUT);
    /* id check */
    q.http_status = 200;
    q.body = RPC_VEC_13;
    q.len = strlen(q.body);
    q.expect_id = "2";
    CHECK_EQ_INT(rpc_parse(&q, toks, RPC_TOKENS_TX, &r), 0);
    CHECK_EQ_INT(r.kind, RPC_MALFORMED);
    q.expect_id = "1";
    CHECK_EQ_INT(rpc_parse(&q, toks, RPC_TOKENS_TX, &r), 0);
    CHECK_EQ_INT(r.kind, RPC_OK_TX);
    /* scratch too small */
    CHECK_EQ_INT(rpc_parse(&q, toks, 10, &r), NF_ETOOMANY);
}

static void test_views(void)
{
    CHECK_EQ_INT(classify(RPC_M_VIEW_ACCESS_KEY, 200, RPC_VEC_14), 0);
    CHECK_EQ_INT(r.kind, RPC_OK_ACCESS_KEY);
    CHECK(r.nonce == 150000000000000ull);
    CHECK_EQ_INT(r.full_access, 1);
    CHECK_EQ_INT(r.has_block, 1);
    CHECK_EQ_INT(r.block_height, 187456272);
    check_hash(r.block_hash, "EfL8Rc1EH13UxgbJB4skt8xSF8vojNQPcAX1opf6RFab");

    CHECK_EQ_INT(classify(RPC_M_VIEW_ACCESS_KEY, 200, RPC_VEC_15), 0);
    CHECK_EQ_INT(r.kind, RPC_UNKNOWN_ACCESS_KEY);
    CHECK_EQ_STR(r.message, "access key ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z "
                            "does not exist while viewing");
    CHECK_EQ_INT(r.block_height, 187456272);

    /* FunctionCall permission (section 3.5) */
    classify(
        RPC_M_VIEW_ACCESS_KEY, 200,
        "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"nonce\":5,\"permission\":{"
        "\"FunctionCall\":{\"allowance\":\"18501534631167209000000000\",\"receiver_id\":"
        "\"client.chainlink.testnet\",\"method_names\":[\"get_token_price\"]}},"
        "\"block_height\":1,\"block_hash\":\"EfL8Rc1EH13UxgbJB4skt8xSF8vojNQPcAX1opf6RFab\"}}");
    CHECK_EQ_INT(r.kind, RPC_OK_ACCESS_KEY);
    CHECK_EQ_INT(r.full_access, 0);
    CHECK_EQ_INT(r.nonce, 5);

    /* structured UNKNOWN_ACCESS_KEY */
    classify(RPC_M_VIEW_ACCESS_KEY, 200,
             "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"error\":{\"name\":\"HANDLER_ERROR\",\"cause\":{"
             "\"name\":\"UNKNOWN_ACCESS_KEY\",\"info\":{\"public_key\":\"ed25519:x\"}}}}");
    CHECK_EQ_INT(r.kind, RPC_UNKNOWN_ACCESS_KEY);

    /* block */
    classify(RPC_M_BLOCK, 200,
             "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"author\":\"v.near\",\"header\":{"
             "\"height\":187310138,\"hash\":\"EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr\","
             "\"prev_hash\":\"EfL8Rc1EH13UxgbJB4skt8xSF8vojNQPcAX1opf6RFab\"},\"chunks\":[]}}");
    CHECK_EQ_INT(r.kind, RPC_OK_BLOCK);
    CHECK_EQ_INT(r.block_height, 187310138);
    check_hash(r.block_hash, "EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr");
    classify(RPC_M_BLOCK, 200, "{\"result\":{\"header\":{\"height\":1,\"hash\":\"0OIl\"}}}");
    CHECK_EQ_INT(r.kind, RPC_MALFORMED);

    /* account */
    classify(RPC_M_VIEW_ACCOUNT, 200,
             "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"amount\":"
             "\"399992611103597728750000000\",\"locked\":\"0\",\"code_hash\":"
             "\"11111111111111111111111111111111\",\"storage_usage\":642,\"storage_paid_at\":0,"
             "\"block_height\":17795474,\"block_hash\":"
             "\"9MjpcnwW3TSdzGweNfPbkx8M74q1XzUcT1PAN8G5bNDz\"}}");
    CHECK_EQ_INT(r.kind, RPC_OK_ACCOUNT);
    char s[U128_STR_MAX];
    u128_format(r.amount, s);
    CHECK_EQ_STR(s, "399992611103597728750000000");
    CHECK(r.locked == 0);
    CHECK_EQ_INT(r.storage_usage, 642);
    classify(RPC_M_VIEW_ACCOUNT, 200,
             "{\"result\":{\"error\":\"account nobody.near does not exist while viewing\","
             "\"logs\":[]}}");
    CHECK_EQ_INT(r.kind, RPC_UNKNOWN_ACCOUNT);

    /* call_function (section 3.6) */
    uint8_t out[16];
    struct rpc_response q;
    memset(&q, 0, sizeof(q));
    q.method = RPC_M_CALL_FUNCTION;
    q.http_status = 200;
    q.body = "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"block_hash\":"
             "\"EfL8Rc1EH13UxgbJB4skt8xSF8vojNQPcAX1opf6RFab\",\"block_height\":187444191,"
             "\"logs\":[],\"result\":[34,49,48,48,48,48,48,48,34]}}";
    q.len = strlen(q.body);
    q.call_out = out;
    q.call_cap = sizeof(out);
    CHECK_EQ_INT(rpc_parse(&q, toks, RPC_TOKENS_VIEW, &r), 0);
    CHECK_EQ_INT(r.kind, RPC_OK_CALL);
    CHECK_EQ_INT(r.call_len, 9);
    CHECK(memcmp(out, "\"1000000\"", 9) == 0);
    q.call_cap = 8;
    CHECK_EQ_INT(rpc_parse(&q, toks, RPC_TOKENS_VIEW, &r), NF_ENOSPC);
    q.call_cap = sizeof(out);
    q.body = "{\"result\":{\"result\":[110,117,108,256]}}";
    q.len = strlen(q.body);
    CHECK_EQ_INT(rpc_parse(&q, toks, RPC_TOKENS_VIEW, &r), 0);
    CHECK_EQ_INT(r.kind, RPC_MALFORMED);
    q.body = "{\"result\":{\"error\":\"wasm execution failed with error: MethodNotFound\","
             "\"logs\":[],\"block_height\":3,\"block_hash\":"
             "\"EfL8Rc1EH13UxgbJB4skt8xSF8vojNQPcAX1opf6RFab\"}}";
    q.len = strlen(q.body);
    CHECK_EQ_INT(rpc_parse(&q, toks, RPC_TOKENS_VIEW, &r), 0);
    CHECK_EQ_INT(r.kind, RPC_QUERY_ERROR);
    CHECK_EQ_INT(r.block_height, 3);

    /* access key list */
    struct rpc_key_entry keys[2];
    memset(&q, 0, sizeof(q));
    q.method = RPC_M_VIEW_ACCESS_KEY_LIST;
    q.http_status = 200;
    q.body = "{\"result\":{\"keys\":[{\"public_key\":\"ed25519:AAA\",\"access_key\":{\"nonce\":7,"
             "\"permission\":\"FullAccess\"}},{\"public_key\":\"ed25519:BBB\",\"access_key\":{"
             "\"nonce\":9,\"permission\":{\"FunctionCall\":{\"allowance\":null,\"receiver_id\":"
             "\"c.near\",\"method_names\":[]}}}}],\"block_height\":1,\"block_hash\":"
             "\"EfL8Rc1EH13UxgbJB4skt8xSF8vojNQPcAX1opf6RFab\"}}";
    q.len = strlen(q.body);
    q.keys = keys;
    q.keys_cap = 2;
    CHECK_EQ_INT(rpc_parse(&q, toks, RPC_TOKENS_VIEW, &r), 0);
    CHECK_EQ_INT(r.kind, RPC_OK_ACCESS_KEY_LIST);
    CHECK_EQ_INT(r.key_count, 2);
    CHECK_EQ_STR(keys[0].public_key, "ed25519:AAA");
    CHECK(keys[0].nonce == 7 && keys[0].full_access == 1);
    CHECK(keys[1].nonce == 9 && keys[1].full_access == 0);
    q.keys_cap = 1;
    CHECK_EQ_INT(rpc_parse(&q, toks, RPC_TOKENS_VIEW, &r), NF_ENOSPC);

    /* gas price (section 3.7) */
    classify(RPC_M_GAS_PRICE, 200,
             "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"gas_price\":"
             "\"100000000\"}}");
    CHECK_EQ_INT(r.kind, RPC_OK_GAS_PRICE);
    CHECK(r.gas_price == 100000000);
}

static void test_names(void)
{
    for (int k = 0; k < RPC_KIND_COUNT; k++)
        CHECK(strcmp(rpc_kind_name(k), "?") != 0);
    CHECK_EQ_STR(rpc_kind_name(RPC_KIND_COUNT), "?");
    CHECK_EQ_STR(rpc_kind_name(RPC_SHARD_CONGESTED), "SHARD_CONGESTED");
}

/* rpc_url_redact keeps scheme://host[:port] only: API keys ride in paths, queries and userinfo. */
static void test_url_redact(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"http://127.0.0.1:3030", "http://127.0.0.1:3030"},
        {"http://127.0.0.1:3030/", "http://127.0.0.1:3030"},
        {"https://rpc.mainnet.near.org", "https://rpc.mainnet.near.org"},
        {"https://near-mainnet.provider.example/v1/0123456789abcdef",
         "https://near-mainnet.provider.example"},
        {"https://rpc.example.com:8443/path?apikey=s3cr3t#frag", "https://rpc.example.com:8443"},
        {"https://rpc.example.com?apikey=s3cr3t", "https://rpc.example.com"},
        {"https://rpc.example.com#x", "https://rpc.example.com"},
        {"https://user:pa@ss@rpc.example.com:9/x", "https://rpc.example.com:9"},
        {"http://[::1]:3030/secret", "http://[::1]:3030"},
        {"http://", "http://"},
        {"no-scheme/secret", "<redacted>"},
        {"://host/x", "<redacted>"},
        {"ht tp://host/x", "<redacted>"},
    };
    char out[128];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = rpc_url_redact(cases[i].in, out, sizeof(out));
        CHECK_EQ_STR(out, cases[i].out);
        CHECK_EQ_INT(n, strlen(cases[i].out));
    }
    /* A small buffer truncates, NUL-terminated. */
    CHECK_EQ_INT(rpc_url_redact("https://rpc.example.com/k", out, 9), 8);
    CHECK_EQ_STR(out, "https://");
}

/* rpc_retry_after: libcurl hands header lines over with their CRLF and no NUL; only the bytes in
 * [0, len) count. */
static void test_retry_after(void)
{
    static const struct {
        const char *line;
        int want;
    } cases[] = {
        {"Retry-After: 120\r\n", 120},
        {"Retry-After: 0\r\n", 0},
        {"retry-after:7", 7},
        {"RETRY-AFTER:\t 3599 \t\r\n", 3599},
        {"Retry-After: 0005\n", 5},
        {"Retry-After: 00000000000000000000000000000042\r\n", 42},
        {"Retry-After: 3600\r\n", -1},
        {"Retry-After: 99999999999999999999999999999999\r\n", -1},
        {"Retry-After: -1\r\n", -1},
        {"Retry-After: +5\r\n", -1},
        {"Retry-After: 5s\r\n", -1},
        {"Retry-After: 5 6\r\n", -1},
        {"Retry-After: 1.5\r\n", -1},
        {"Retry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n", -1},
        {"Retry-After: \r\n", -1},
        {"Retry-After:", -1},
        {"Retry-After : 5\r\n", -1},
        {"Retry-After: 5\r", -1},
        {"Retry-After: 5\n\n", -1},
        {"Retry-After: 5\r\nX", -1},
        {"Retry-Afte: 5\r\n", -1},
        {"X-Retry-After: 5\r\n", -1},
        {"HTTP/1.1 429 Too Many Requests\r\n", -1},
        {"\r\n", -1},
        {"", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = rpc_retry_after(cases[i].line, strlen(cases[i].line));
        if (got != cases[i].want)
            fprintf(stderr, "retry-after case %zu: \"%s\"\n", i, cases[i].line);
        CHECK_EQ_INT(got, cases[i].want);
    }
    /* Bounded by len: the digits after it are not read, and a cut name is not a match. */
    CHECK_EQ_INT(rpc_retry_after("Retry-After: 12345", 15), 12);
    CHECK_EQ_INT(rpc_retry_after("Retry-After: 12", 11), -1);
    /* A NUL byte is a byte like any other: not a digit, not the end. */
    CHECK_EQ_INT(rpc_retry_after("Retry-After: 5\0\r\n", 17), -1);
    CHECK_EQ_INT(rpc_retry_after("Retry-After: 5\0", 15), -1);
}

/* rpc_call_u128 / rpc_call_storage_balance: call_function result bytes, exact forms only. */
static void test_call_results(void)
{
    nf_u128 v = 7;
    CHECK_EQ_INT(rpc_call_u128("\"123\"", 5, &v), 0);
    CHECK(v == 123);
    CHECK_EQ_INT(rpc_call_u128("\"0\"", 3, &v), 0);
    CHECK(v == 0);
    CHECK_EQ_INT(rpc_call_u128("\"007\"", 5, &v), 0);
    CHECK(v == 7);
    const char *max = "\"340282366920938463463374607431768211455\"";
    CHECK_EQ_INT(rpc_call_u128(max, strlen(max), &v), 0);
    CHECK(v == U128_MAX);
    v = 9;
    const char *over = "\"340282366920938463463374607431768211456\"";
    CHECK_EQ_INT(rpc_call_u128(over, strlen(over), &v), NF_ERANGE);
    static const char *const bad[] = {
        "123",     "\"123",    "123\"",       "\"\"",   "\"",        "",        "\"12\"3\"",
        "\"-1\"",  "\"+1\"",   "\"1 \"",      " \"1\"", "\"1\" ",    "\"1\"\n", "\"1.0\"",
        "\"1e3\"", "\"0x10\"", "\"\\u0031\"", "null",   "{\"a\":1}", "[\"1\"]", "\"١\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(rpc_call_u128(bad[i], strlen(bad[i]), &v), NF_EINVAL);
        CHECK(v == 9); /* left alone */
    }
    /* Bounded by len: the closing quote must be inside it. */
    CHECK_EQ_INT(rpc_call_u128("\"12\"", 3, &v), NF_EINVAL);
    CHECK_EQ_INT(rpc_call_u128("\"1\"\0", 4, &v), NF_EINVAL);

    int reg = -1;
    CHECK_EQ_INT(rpc_call_storage_balance("null", 4, toks, RPC_TOKENS_VIEW, &reg), 0);
    CHECK_EQ_INT(reg, 0);
    const char *sb = "{\"total\":\"1250000000000000000000\",\"available\":\"0\"}";
    CHECK_EQ_INT(rpc_call_storage_balance(sb, strlen(sb), toks, RPC_TOKENS_VIEW, &reg), 0);
    CHECK_EQ_INT(reg, 1);
    reg = -1;
    CHECK_EQ_INT(rpc_call_storage_balance("{}", 2, toks, RPC_TOKENS_VIEW, &reg), 0);
    CHECK_EQ_INT(reg, 1);
    static const char *const sbad[] = {
        "",
        "nul",
        "nulls",
        "Null",
        " null",
        "null ",
        "\"null\"",
        "0",
        "\"1\"",
        "true",
        "false",
        "[]",
        "[{}]",
        "{",
        "}",
        "{}}",
        "{ } ",
        " {}",
        "{\"a\"}",
        "{\"a\":1,}",
        "{}{}",
        "{}\n",
        "{\"a\":\"\\x\"}",
    };
    for (size_t i = 0; i < sizeof(sbad) / sizeof(sbad[0]); i++) {
        reg = -1;
        CHECK_EQ_INT(
            rpc_call_storage_balance(sbad[i], strlen(sbad[i]), toks, RPC_TOKENS_VIEW, &reg),
            NF_EINVAL);
        CHECK_EQ_INT(reg, -1);
    }
    CHECK_EQ_INT(rpc_call_storage_balance("null", 3, toks, RPC_TOKENS_VIEW, &reg), NF_EINVAL);
    CHECK_EQ_INT(rpc_call_storage_balance(sb, strlen(sb), toks, 2, &reg), NF_ETOOMANY);
    CHECK_EQ_INT(reg, -1);
}

int main(void)
{
    toks = malloc(sizeof(*toks) * RPC_TOKENS_TX);
    if (toks == NULL)
        return 1;
    test_builders();
    test_catalogue();
    test_other_invalid_tx();
    test_success();
    test_timeouts_and_transport();
    test_views();
    test_names();
    test_url_redact();
    test_retry_after();
    test_call_results();
    free(toks);
    return nf_test_report("test_rpc");
}
