/* test_sim_rpc: nearsim's JSON-RPC layer (sim_rpc), flag parsing (sim_cfg) and POST /sim/faults
 * bodies (sim_faults) without HTTP: HTTP codes and error shapes of docs/PROTOCOL.md section 3.8,
 * send_tx waiting and polling, TIMEOUT_ERROR, the legacy in-result query error, call_function
 * bytes, audit JSON; every fault field, every refusal text and what a refusal leaves applied. */
#include <jansson.h>
#include <sodium.h>

#include "base58.h"
#include "nf_err.h"
#include "nf_test.h"
#include "sim/sim_cfg.h"
#include "sim/sim_faults.h"
#include "sim/sim_rpc.h"
#include "sim/sim_testutil.h"

static json_t *call(struct sim_chain *c, const char *body, struct sim_rpc_reply *r)
{
    CHECK_EQ_INT(sim_rpc_handle(c, body, strlen(body), r), 0);
    return r->body ? json_loads(r->body, 0, NULL) : NULL;
}

static const char *path_str(json_t *j, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(j, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The send methods' fast path (jtok) against the jansson path: the same request, once plain and
 * once with one key escaped ("signed_tx_base6\u0034", which only the jansson path takes), to two
 * identical chains; both answers must be byte-identical, pending ones after the same blocks. */
static void test_fast_send_matches(struct nf_keypair *kp)
{
    static const struct {
        const char *method, *wait, *id;
        int bad_b64;
    } v[] = {
        {"send_tx", "EXECUTED_OPTIMISTIC", "7", 0},
        {"send_tx", "INCLUDED", "\"a-1.b:c\"", 0},
        {"send_tx", "NONE", "null", 0},
        {"send_tx", NULL, "12", 0},
        {"broadcast_tx_async", NULL, "\"x\"", 0},
        {"broadcast_tx_commit", NULL, "3", 0},
        {"send_tx", "FINAL", "99", 0},
        {"send_tx", "EXECUTED_OPTIMISTIC", "5", 1},
    };
    int mismatches = 0, fast_pending = 0;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct sim_chain_cfg cfg;
        t_small_cfg(&cfg);
        struct sim_chain *c1 = t_chain(&cfg, kp), *c2 = t_chain(&cfg, kp);
        const char *const to[] = {"user-0.test.near"};
        size_t len;
        uint8_t *raw = t_transfers(kp, c1, 99000001ull, to, 1, 3, "fp", 30000000000000ull, &len);
        char b64[4096], wpart[64] = "", b1[4800], b2[4800];
        sodium_bin2base64(b64, sizeof(b64), raw, len, sodium_base64_VARIANT_ORIGINAL);
        if (v[i].bad_b64)
            b64[3] = '*';
        if (v[i].wait)
            snprintf(wpart, sizeof(wpart), ",\"wait_until\":\"%s\"", v[i].wait);
        snprintf(
            b1, sizeof(b1),
            "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"%s\",\"params\":{\"signed_tx_base64\":"
            "\"%s\"%s}}",
            v[i].id, v[i].method, b64, wpart);
        snprintf(b2, sizeof(b2),
                 "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"%s\",\"params\":{\"signed_tx_"
                 "base6\\u0034\":\"%s\"%s}}",
                 v[i].id, v[i].method, b64, wpart);
        struct sim_rpc_reply r1, r2;
        CHECK_EQ_INT(sim_rpc_handle(c1, b1, strlen(b1), &r1), 0);
        CHECK_EQ_INT(sim_rpc_handle(c2, b2, strlen(b2), &r2), 0);
        if (r1.pending != r2.pending || r1.http_status != r2.http_status ||
            strcmp(r1.method, r2.method) != 0)
            mismatches++;
        if (r1.pending && r2.pending) {
            fast_pending++;
            struct sim_rpc_reply p1, p2;
            memset(&p1, 0, sizeof(p1));
            memset(&p2, 0, sizeof(p2));
            int d1 = 0, d2 = 0;
            for (int b = 0; b < 6 && !(d1 && d2); b++) {
                sim_chain_produce_block(c1, 2000000000ull + (uint64_t)b * 1000000000ull);
                sim_chain_produce_block(c2, 2000000000ull + (uint64_t)b * 1000000000ull);
                if (!d1)
                    d1 = sim_rpc_poll(c1, &r1.wait, &p1);
                if (!d2)
                    d2 = sim_rpc_poll(c2, &r2.wait, &p2);
            }
            if (!d1 || !d2 || p1.len != p2.len || memcmp(p1.body, p2.body, p1.len) != 0)
                mismatches++;
            sim_rpc_reply_free(&p1);
            sim_rpc_reply_free(&p2);
        } else if (!r1.pending && (r1.len != r2.len || memcmp(r1.body, r2.body, r1.len) != 0)) {
            mismatches++;
        }
        sim_rpc_reply_free(&r1);
        sim_rpc_reply_free(&r2);
        free(raw);
        sim_chain_free(c1);
        sim_chain_free(c2);
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK(fast_pending >= 4);
}

static json_t *
call_lagged(struct sim_chain *c, uint64_t lag, const char *body, struct sim_rpc_reply *r)
{
    CHECK_EQ_INT(sim_rpc_handle_lagged(c, lag, body, strlen(body), r), 0);
    return r->body ? json_loads(r->body, 0, NULL) : NULL;
}

static long long path_int(json_t *j, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(j, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static void send_body(const uint8_t *raw, size_t len, const char *wait, char *body, size_t cap)
{
    char b64[4096];
    sodium_bin2base64(b64, sizeof(b64), raw, len, sodium_base64_VARIANT_ORIGINAL);
    snprintf(body, cap,
             "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"method\":\"send_tx\",\"params\":{\"signed_tx_"
             "base64\":\"%s\",\"wait_until\":\"%s\"}}",
             b64, wait);
}

/* The lagging listener's answers (sim_rpc_handle_lagged): heights, tx lookups, nonces and sends
 * as a node LAG blocks behind sees them, with nearcore's error JSON byte for byte. */
static void test_lagged(struct nf_keypair *kp)
{
    enum { LAG = 3 };
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    struct sim_chain *c = t_chain(&cfg, kp);
    sim_chain_keep_history(c, LAG + 8);
    for (int i = 0; i < 6; i++)
        sim_chain_produce_block(c, 2000000000ull + (uint64_t)i * 1000000000ull);
    struct sim_rpc_reply r;
    json_t *j = call_lagged(
        c, LAG, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\",\"params\":[]}", &r);
    CHECK_EQ_INT(path_int(json_object_get(j, "result"), "sync_info", "latest_block_height", NULL),
                 (long long)c->head - LAG);
    json_decref(j);
    sim_rpc_reply_free(&r);
    j = call_lagged(c, LAG,
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"block\",\"params\":{\"finality\":"
                    "\"final\"}}",
                    &r);
    CHECK_EQ_INT(path_int(json_object_get(j, "result"), "header", "height", NULL),
                 (long long)c->head - LAG - 2);
    json_decref(j);
    sim_rpc_reply_free(&r);

    /* a send signed with the head's hash: the lagging node has not seen that block (Expired, the
     * error JSON of docs/PROTOCOL.md 3.8) and forwards nothing */
    const char *const to[] = {"user-1.test.near"};
    size_t len;
    uint8_t *fresh = t_transfers(kp, c, 99000001ull, to, 1, 1, "lag", 30000000000000ull, &len);
    char body[4800];
    send_body(fresh, len, "EXECUTED_OPTIMISTIC", body, sizeof(body));
    CHECK_EQ_INT(sim_rpc_handle_lagged(c, LAG, body, strlen(body), &r), 0);
    CHECK(r.body != NULL &&
          strcmp(r.body, "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"error\":{\"name\":\"HANDLER_ERROR\","
                         "\"cause\":{\"name\":\"INVALID_TRANSACTION\",\"info\":{}},\"code\":-32000,"
                         "\"message\":\"Server error\",\"data\":{\"TxExecutionError\":{"
                         "\"InvalidTxError\":\"Expired\"}}}}") == 0);
    CHECK_EQ_INT(r.http_status, 200);
    CHECK_EQ_INT(c->n_pool, 0);
    sim_rpc_reply_free(&r);
    /* the same bytes to the live chain: included at I = head + 1 */
    struct sim_submit_result res;
    CHECK_EQ_INT(t_submit(c, fresh, len, &res), SIM_SUBMIT_ACCEPTED);
    uint8_t hash[32];
    memcpy(hash, res.hash, 32);
    char h58[64], look[300], expect[600];
    b58_encode(hash, 32, h58, sizeof(h58));
    snprintf(look, sizeof(look),
             "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"method\":\"tx\",\"params\":{\"tx_hash\":\"%s\","
             "\"sender_account_id\":\"distributor.test.near\",\"wait_until\":\"NONE\"}}",
             h58);
    snprintf(expect, sizeof(expect),
             "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"error\":{\"name\":\"HANDLER_ERROR\",\"cause\":{"
             "\"name\":\"UNKNOWN_TRANSACTION\",\"info\":{\"requested_transaction_hash\":\"%s\"}},"
             "\"code\":-32000,\"message\":\"Server error\",\"data\":\"Transaction %s doesn't "
             "exist\"}}",
             h58, h58);
    uint64_t included = c->head + 1;
    int unknown_until = 0, known_from = 0;
    for (int i = 0; i < LAG + 3; i++) {
        sim_chain_produce_block(c, 9000000000ull + (uint64_t)i * 1000000000ull);
        CHECK_EQ_INT(sim_rpc_handle(c, look, strlen(look), &r), 0); /* live: always known */
        CHECK(r.body && strstr(r.body, "final_execution_status") != NULL);
        sim_rpc_reply_free(&r);
        CHECK_EQ_INT(sim_rpc_handle_lagged(c, LAG, look, strlen(look), &r), 0);
        int unknown = r.body && strcmp(r.body, expect) == 0;
        if (c->head - LAG < included) {
            CHECK(unknown);
            unknown_until = (int)c->head;
        } else {
            CHECK(!unknown && r.body && strstr(r.body, "final_execution_status") != NULL);
            if (!known_from)
                known_from = (int)c->head;
        }
        sim_rpc_reply_free(&r);
    }
    CHECK_EQ_INT(unknown_until, (int)included + LAG - 1);
    CHECK_EQ_INT(known_from, (int)included + LAG);
    /* view_access_key at finality final: the nonce as of (head - LAG) - 2 */
    char pks[KEYS_PUBKEY_STR_MAX + 8], q[400];
    CHECK(keys_pubkey_format(keys_public(kp), pks, sizeof(pks)) > 0);
    snprintf(q, sizeof(q),
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"query\",\"params\":{\"request_type\":"
             "\"view_access_key\",\"finality\":\"final\",\"account_id\":\"distributor.test.near\","
             "\"public_key\":\"%s\"}}",
             pks);
    uint64_t f = c->head - LAG - 2;
    j = call_lagged(c, LAG, q, &r);
    json_t *res_j = json_object_get(j, "result");
    CHECK_EQ_INT(path_int(res_j, "block_height", NULL, NULL), (long long)f);
    CHECK_EQ_INT(path_int(res_j, "nonce", NULL, NULL), f >= included ? 99000001ll : 99000000ll);
    json_decref(j);
    sim_rpc_reply_free(&r);
    /* a send the lagging node finds valid (signed with a block it has) is forwarded and answered
     * once its own view shows it */
    const struct sim_block *old = sim_chain_block(c, c->head - LAG);
    struct near_action a =
        t_fc("ft_transfer", "{\"receiver_id\":\"user-2.test.near\",\"amount\":\"5\"}",
             30000000000000ull, 1);
    uint8_t *fwd = t_sign(kp, cfg.signer, cfg.contract, 99000002ull, old->hash, &a, 1, &len);
    send_body(fwd, len, "INCLUDED", body, sizeof(body));
    CHECK_EQ_INT(sim_rpc_handle_lagged(c, LAG, body, strlen(body), &r), 0);
    CHECK(r.pending && r.submitted);
    CHECK_EQ_INT(r.wait.lag, LAG);
    CHECK_EQ_INT(c->n_pool, 1);
    struct sim_rpc_reply p;
    memset(&p, 0, sizeof(p));
    uint64_t fwd_in = c->head + 1;
    int answered_at = 0;
    for (int i = 0; i < LAG + 2 && !answered_at; i++) {
        sim_chain_produce_block(c, 30000000000ull + (uint64_t)i * 1000000000ull);
        if (sim_rpc_poll(c, &r.wait, &p))
            answered_at = (int)c->head;
    }
    CHECK_EQ_INT(answered_at, (int)(fwd_in + LAG));
    CHECK(p.body && strstr(p.body, "\"final_execution_status\":\"INCLUDED\"") != NULL);
    sim_rpc_reply_free(&p);
    sim_rpc_reply_free(&r);
    free(fresh);
    free(fwd);
    sim_chain_free(c);
}

/* faults_apply: sim_faults_apply on a NUL-terminated body at time 10^12 ns. */
static const char *faults_apply(struct sim_fault_state *st, struct sim_chain *c, const char *body)
{
    return sim_faults_apply(st, c, body, strlen(body), 1000000000000ull);
}

/* Every refusal text of POST /sim/faults (docs/NEARSIM.md), each leaving st as it was. "%K" in a
 * body is the signer's public key. */
static void test_fault_refusals(struct sim_chain *c, const char *pk)
{
    static const struct {
        const char *body, *err;
    } cases[] = {
        {"", "body must be a JSON object"},
        {"[1]", "body must be a JSON object"},
        {"{\"error_rate\":", "body must be a JSON object"},
        {"{\"error_rate\":1.5}", "error_rate must be a number in [0,1]"},
        {"{\"error_rate\":\"0.5\"}", "error_rate must be a number in [0,1]"},
        {"{\"lost_ack_rate\":-0.1}", "lost_ack_rate must be a number in [0,1]"},
        {"{\"congestion\":2}", "congestion must be a number in [0,1]"},
        {"{\"latency_ms\":600001}", "latency_ms must be a number of ms"},
        {"{\"jitter_ms\":null}", "jitter_ms must be a number of ms"},
        {"{\"rate_limit\":1e10}", "rate_limit must be requests per second"},
        {"{\"error_kind\":\"404\"}", "error_kind must be 503, internal or mixed"},
        {"{\"error_kind\":503}", "error_kind must be 503, internal or mixed"},
        {"{\"stall_seconds\":3601}", "stall_seconds must be a number"},
        {"{\"stall_ms\":true}", "stall_ms must be a number"},
        {"{\"external_writer\":{}}", "external_writer.public_key must be an ed25519 key"},
        {"{\"external_writer\":{\"public_key\":\"ed25519:0OIl\"}}",
         "external_writer.public_key must be an ed25519 key"},
        {"{\"external_writer\":{\"public_key\":\"%K\",\"account_id\":"
         "\"a123456789012345678901234567890123456789012345678901234567890123456789\"}}",
         "external_writer.account_id too long"},
        {"{\"external_writer\":{\"public_key\":\"%K\",\"account_id\":\"ft.test.near\"}}",
         "external_writer: no such access key"},
        {"{\"external_writer\":{\"public_key\":\"%K\",\"bump\":-1}}",
         "external_writer.every_blocks / bump must be numbers"},
        {"{\"bump_nonce\":{\"public_key\":\"%K\",\"by\":\"2\"}}",
         "bump_nonce needs public_key and a numeric by"},
        {"{\"bump_nonce\":{\"public_key\":\"%K\",\"account_id\":\"user-0.test.near\"}}",
         "bump_nonce: no such access key"},
        {"{\"set_balance\":{\"yocto\":1}}", "set_balance needs yocto as a decimal string"},
        {"{\"set_balance\":{\"yocto\":\"1\",\"account_id\":\"nobody.near\"}}",
         "set_balance: no such account"},
        {"{\"storage_usage\":{\"account_id\":\"ft.test.near\",\"bytes\":-1}}",
         "storage_usage needs account_id and a non-negative integer bytes"},
        {"{\"storage_usage\":{\"account_id\":\"nobody.near\",\"bytes\":1}}",
         "storage_usage: no such account"},
        {"{\"missed_chunks\":1.5}", "missed_chunks must be a non-negative integer"},
        {"{\"lag_blocks\":-1}", "lag_blocks must be a non-negative integer"},
        {"{\"invalid_signature_key\":\"ed25519:\"}",
         "invalid_signature_key must be an ed25519 public key or null"},
        {"{\"reject_next\":{\"kind\":\"Expired\",\"count\":1}}",
         "reject_next needs kind InvalidChain|CostOverflow and a count"},
        {"{\"reject_next\":{\"kind\":\"InvalidChain\"}}",
         "reject_next needs kind InvalidChain|CostOverflow and a count"},
        {"{\"move_tokens\":{\"to\":\"user-0.test.near\",\"amount\":\"-1\"}}",
         "move_tokens needs to and amount (decimal string)"},
        {"{\"move_tokens\":{\"to\":\"new-0.test.near\",\"amount\":\"1\"}}",
         "move_tokens: both accounts must be registered with the token"},
        {"{\"move_tokens\":{\"from\":\"user-1.test.near\",\"to\":\"user-0.test.near\","
         "\"amount\":\"340282366920938463463374607431768211455\"}}",
         "move_tokens: not enough tokens"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        const char *mark = strstr(cases[i].body, "%K");
        if (mark != NULL)
            snprintf(body, sizeof(body), "%.*s%s%s", (int)(mark - cases[i].body), cases[i].body, pk,
                     mark + 2);
        else
            snprintf(body, sizeof(body), "%s", cases[i].body);
        struct sim_fault_state st;
        memset(&st, 0, sizeof(st));
        st.faults.error_rate = 0.5;
        st.faults.latency_ms = 3;
        st.stall_until_ns = 42;
        const char *err = faults_apply(&st, c, body);
        if (err == NULL || strcmp(err, cases[i].err) != 0)
            fprintf(stderr, "faults case %zu: %s\n", i, body);
        CHECK_EQ_STR(err, cases[i].err);
        CHECK(st.faults.error_rate == 0.5 && st.faults.latency_ms == 3 && !st.writer.active);
        CHECK_EQ_INT(st.stall_until_ns, 42);
    }
    struct sim_fault_state st;
    memset(&st, 0, sizeof(st));
    CHECK_EQ_STR(sim_faults_apply(&st, c, NULL, 0, 1), "body must be a JSON object");
}

/* sim_faults_apply: every field, the staged settings, and the documented partial application. */
static void test_faults(struct nf_keypair *kp)
{
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    struct sim_chain *c = t_chain(&cfg, kp);
    char pk[KEYS_PUBKEY_STR_MAX], body[1024];
    CHECK(keys_pubkey_format(keys_public(kp), pk, sizeof(pk)) > 0);
    test_fault_refusals(c, pk);

    struct sim_fault_state st;
    memset(&st, 0, sizeof(st));
    CHECK(faults_apply(&st, c,
                       "{\"error_rate\":0.25,\"error_kind\":\"mixed\",\"lost_ack_rate\":1,"
                       "\"congestion\":0.9,\"latency_ms\":30.7,\"jitter_ms\":10,\"rate_limit\":5,"
                       "\"stall_seconds\":2,\"missed_chunks\":150,\"lag_blocks\":3,"
                       "\"reject_next\":{\"kind\":\"CostOverflow\",\"count\":2}}") == NULL);
    CHECK(st.faults.error_rate == 0.25 && st.faults.lost_ack_rate == 1 &&
          st.faults.congestion == 0.9 && c->forced_congestion == 0.9);
    CHECK_EQ_INT(st.faults.error_kind, SIM_ERR_MIXED);
    CHECK_EQ_INT(st.faults.latency_ms, 30);
    CHECK_EQ_INT(st.faults.jitter_ms, 10);
    CHECK_EQ_INT(st.faults.rate_limit, 5);
    CHECK_EQ_INT(st.stall_until_ns, 1002000000000ull);
    CHECK_EQ_INT(c->forced_missed_chunks, 150);
    CHECK_EQ_INT(c->lag_blocks, 3);
    CHECK_EQ_INT(c->reject_next_code, SIM_REJ_COST_OVERFLOW);
    CHECK_EQ_INT(c->reject_next_count, 2);
    /* stall_ms wins over stall_seconds; 0 ends the stall */
    CHECK(faults_apply(&st, c, "{\"stall_seconds\":9,\"stall_ms\":250}") == NULL);
    CHECK_EQ_INT(st.stall_until_ns, 1000250000000ull);
    CHECK(faults_apply(&st, c, "{\"stall_ms\":0}") == NULL);
    CHECK_EQ_INT(st.stall_until_ns, 0);

    /* external writer, bump_nonce, invalid_signature_key, balances, tokens */
    struct sim_account *signer = sim_chain_account(c, cfg.signer, strlen(cfg.signer));
    uint64_t nonce = sim_account_key(signer, keys_public(kp))->nonce;
    snprintf(body, sizeof(body),
             "{\"external_writer\":{\"public_key\":\"%s\",\"every_blocks\":0,\"bump\":4},"
             "\"bump_nonce\":{\"public_key\":\"%s\",\"by\":3},\"invalid_signature_key\":\"%s\","
             "\"set_balance\":{\"yocto\":\"1000\"},"
             "\"storage_usage\":{\"account_id\":\"ft.test.near\",\"bytes\":77},"
             "\"move_tokens\":{\"to\":\"user-2.test.near\",\"amount\":\"7\"}}",
             pk, pk, pk);
    nf_u128 user2 = sim_chain_account(c, "user-2.test.near", 16)->ft_balance;
    CHECK(faults_apply(&st, c, body) == NULL);
    CHECK(st.writer.active && st.writer.every_blocks == 1 && st.writer.bump == 4);
    CHECK_EQ_STR(st.writer.account, cfg.signer);
    CHECK(memcmp(st.writer.pk.data, keys_public(kp)->data, 32) == 0);
    CHECK_EQ_INT(sim_account_key(signer, keys_public(kp))->nonce, nonce + 3);
    CHECK(c->bad_sig_key_set && memcmp(c->bad_sig_key.data, keys_public(kp)->data, 32) == 0);
    CHECK(signer->balance == 1000);
    CHECK_EQ_INT(sim_chain_account(c, "ft.test.near", 12)->storage_bytes, 77);
    CHECK(sim_chain_account(c, "user-2.test.near", 16)->ft_balance == user2 + 7);
    CHECK(faults_apply(&st, c, "{\"external_writer\":null,\"invalid_signature_key\":null}") ==
          NULL);
    CHECK(!st.writer.active && !c->bad_sig_key_set);

    /* Not all-or-nothing: the chain actions met before a refused field stay, the staged
     * settings do not. */
    CHECK_EQ_STR(faults_apply(&st, c,
                              "{\"error_rate\":0.75,\"stall_ms\":5,\"missed_chunks\":7,"
                              "\"move_tokens\":{\"to\":\"nobody.near\",\"amount\":\"1\"}}"),
                 "move_tokens: both accounts must be registered with the token");
    CHECK(st.faults.error_rate == 0.25 && st.stall_until_ns == 0);
    CHECK_EQ_INT(c->forced_missed_chunks, 7);
    /* ... and "reset" clears the stall, the writer and the chain's faults at once, but not the
     * staged rates */
    CHECK(faults_apply(&st, c, "{\"stall_ms\":5}") == NULL);
    snprintf(body, sizeof(body), "{\"external_writer\":{\"public_key\":\"%s\"}}", pk);
    CHECK(faults_apply(&st, c, body) == NULL);
    CHECK_EQ_STR(faults_apply(&st, c, "{\"reset\":true,\"lag_blocks\":\"x\"}"),
                 "lag_blocks must be a non-negative integer");
    CHECK(st.stall_until_ns == 0 && !st.writer.active);
    CHECK(c->forced_missed_chunks == 0 && c->lag_blocks == 0 && c->reject_next_count == 0);
    CHECK(st.faults.error_rate == 0.25 && st.faults.rate_limit == 5);
    CHECK(faults_apply(&st, c, "{\"reset\":true,\"latency_ms\":1}") == NULL);
    CHECK(st.faults.error_rate == 0 && st.faults.rate_limit == 0 && st.faults.latency_ms == 1 &&
          c->forced_congestion == 0);
    sim_chain_free(c);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    struct nf_keypair *kp = t_key(11);
    struct sim_chain *c = t_chain(&cfg, kp);
    struct sim_rpc_reply r;
    json_t *j;

    j = call(c, "{nope", &r);
    CHECK_EQ_INT(r.http_status, 400);
    CHECK_EQ_STR(path_str(j, "error", "cause", "name"), "PARSE_ERROR");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "error"), "code")), -32700);
    json_decref(j);
    sim_rpc_reply_free(&r);

    j = call(c, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"nope\",\"params\":[]}", &r);
    CHECK_EQ_INT(r.http_status, 400);
    CHECK_EQ_STR(path_str(j, "error", "cause", "name"), "METHOD_NOT_FOUND");
    CHECK_EQ_STR(path_str(j, "id", NULL, NULL), "x");
    json_decref(j);
    sim_rpc_reply_free(&r);

    j = call(c,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"send_tx\",\"params\":{\"signed_tx_"
             "base64\":\"AAAA\"}}",
             &r);
    CHECK_EQ_INT(r.http_status, 400);
    CHECK_EQ_STR(path_str(j, "error", "name", NULL), "REQUEST_VALIDATION_ERROR");
    json_decref(j);
    sim_rpc_reply_free(&r);

    /* a real tx: pending at EXECUTED_OPTIMISTIC, answered after two blocks */
    const char *const to[] = {"user-0.test.near"};
    size_t len;
    uint8_t *raw = t_transfers(kp, c, 99000001ull, to, 1, 2, "rpc", 30000000000000ull, &len);
    char b64[4096], body[4600];
    sodium_bin2base64(b64, sizeof(b64), raw, len, sodium_base64_VARIANT_ORIGINAL);
    snprintf(
        body, sizeof(body),
        "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"send_tx\",\"params\":{\"signed_tx_base64\":"
        "\"%s\",\"wait_until\":\"EXECUTED_OPTIMISTIC\"}}",
        b64);
    CHECK_EQ_INT(sim_rpc_handle(c, body, strlen(body), &r), 0);
    CHECK(r.pending && r.submitted);
    struct sim_rpc_reply p;
    memset(&p, 0, sizeof(p));
    CHECK_EQ_INT(sim_rpc_poll(c, &r.wait, &p), 0);
    sim_chain_produce_block(c, 2000000000ull);
    CHECK_EQ_INT(sim_rpc_poll(c, &r.wait, &p), 0);
    sim_chain_produce_block(c, 3000000000ull);
    CHECK_EQ_INT(sim_rpc_poll(c, &r.wait, &p), 1);
    CHECK_EQ_INT(p.http_status, 200);
    j = json_loads(p.body, 0, NULL);
    json_t *res = json_object_get(j, "result");
    CHECK_EQ_STR(path_str(res, "final_execution_status", NULL, NULL), "EXECUTED_OPTIMISTIC");
    CHECK_EQ_STR(path_str(res, "status", "SuccessValue", NULL), "");
    json_t *ro = json_object_get(res, "receipts_outcome");
    CHECK_EQ_INT(json_array_size(ro), 1);
    json_t *logs = json_object_get(json_object_get(json_array_get(ro, 0), "outcome"), "logs");
    CHECK_EQ_INT(json_array_size(logs), 2);
    CHECK_EQ_STR(
        json_string_value(json_array_get(logs, 1)),
        "EVENT_JSON:{\"standard\":\"nep141\",\"version\":\"1.0.0\",\"event\":\"ft_transfer\","
        "\"data\":[{\"old_owner_id\":\"distributor.test.near\",\"new_owner_id\":\"user-0.test."
        "near\",\"amount\":\"1001\",\"memo\":\"rpc-1\"}]}");
    json_t *tout = json_object_get(json_object_get(res, "transaction_outcome"), "outcome");
    CHECK_EQ_INT(json_integer_value(json_object_get(tout, "gas_burnt")),
                 (long long)sim_chain_find_tx(c, r.wait.hash)->send_gas);
    json_decref(j);
    sim_rpc_reply_free(&p);
    /* timeout shape */
    sim_rpc_timeout(&r.wait, &p);
    CHECK_EQ_INT(p.http_status, 408);
    CHECK(p.body &&
          strcmp(p.body, "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"error\":{\"name\":\"HANDLER_"
                         "ERROR\",\"cause\":{\"name\":\"TIMEOUT_ERROR\"},\"code\":-32000,"
                         "\"message\":\"Server error\",\"data\":\"Timeout\"}}") == 0);
    sim_rpc_reply_free(&p);
    sim_rpc_reply_free(&r);

    /* the same tx again: stale nonce, but known hash -> outcome, not InvalidNonce */
    j = call(c, body, &r);
    CHECK_EQ_INT(r.http_status, 200);
    CHECK_EQ_STR(path_str(j, "result", "final_execution_status", NULL), "EXECUTED_OPTIMISTIC");
    json_decref(j);
    sim_rpc_reply_free(&r);
    free(raw);

    j = call(c,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"query\",\"params\":{\"request_type\":"
             "\"view_access_key\",\"finality\":\"final\",\"account_id\":\"distributor.test.near\","
             "\"public_key\":\"ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z\"}}",
             &r);
    CHECK_EQ_INT(r.http_status, 200);
    CHECK_EQ_STR(
        path_str(j, "result", "error", NULL),
        "access key ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z does not exist while "
        "viewing");
    json_decref(j);
    sim_rpc_reply_free(&r);

    /* ft_balance_of {"account_id":"user-0.test.near"} -> "1001" as bytes */
    j = call(c,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"query\",\"params\":{\"request_type\":"
             "\"call_function\",\"finality\":\"optimistic\",\"account_id\":\"ft.test.near\","
             "\"method_name\":\"ft_balance_of\",\"args_base64\":"
             "\"eyJhY2NvdW50X2lkIjoidXNlci0wLnRlc3QubmVhciJ9\"}}",
             &r);
    json_t *bytes = json_object_get(json_object_get(j, "result"), "result");
    char text[16] = {0};
    for (size_t i = 0; i < json_array_size(bytes) && i < 15; i++)
        text[i] = (char)json_integer_value(json_array_get(bytes, i));
    CHECK_EQ_STR(text, "\"2001\""); /* 1000 + 1001 */
    json_decref(j);
    sim_rpc_reply_free(&r);

    size_t alen;
    char *audit = sim_rpc_audit(c, "rpc-0", &alen);
    j = json_loads(audit, 0, NULL);
    CHECK(json_is_true(json_object_get(j, "supply_conserved")));
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "transfers_applied")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "memo"), "count")), 1);
    json_decref(j);
    free(audit);
    char *memos = sim_rpc_memos(c, &alen);
    CHECK(memos && strstr(memos, "{\"memo\":\"rpc-1\",\"count\":1}\n") != NULL);
    free(memos);

    /* flags */
    uint64_t v;
    CHECK_EQ_INT(sim_cfg_parse_u64("300T", &v), 0);
    CHECK_EQ_INT(v, 300000000000000ull);
    CHECK_EQ_INT(sim_cfg_parse_u64("1X", &v), NF_EINVAL);
    struct sim_cfg scfg;
    char err[200];
    char *argv[] = {"nearsim", "--keys", "3", "--max-prepaid-gas=300T", "--error-kind", "mixed"};
    CHECK_EQ_INT(sim_cfg_parse(&scfg, 6, argv, stdout, err, sizeof(err)), 0);
    CHECK_EQ_INT(scfg.keys, 3);
    CHECK_EQ_INT(scfg.chain.max_prepaid_gas, 300000000000000ull);
    CHECK_EQ_INT(scfg.faults.error_kind, SIM_ERR_MIXED);
    char *bad[] = {"nearsim", "--keys", "x"};
    CHECK_EQ_INT(sim_cfg_parse(&scfg, 3, bad, stdout, err, sizeof(err)), NF_ECONFIG);
    CHECK(strstr(err, "--keys") != NULL);

    /* A memo that needs escaping twice (inside the log line's JSON, then as a JSON string):
     * quote, backslash, a control byte, UTF-8 and DEL. */
    {
        const char *const to1[] = {"user-0.test.near"};
        size_t l1;
        uint8_t *raw1 = t_transfers(kp, c, 99000002ull, to1, 1, 1, "q\"b\\s\x01\xc3\xa9\x7f",
                                    30000000000000ull, &l1);
        char b1[4096], body1[4600];
        sodium_bin2base64(b1, sizeof(b1), raw1, l1, sodium_base64_VARIANT_ORIGINAL);
        snprintf(body1, sizeof(body1),
                 "{\"jsonrpc\":\"2.0\",\"id\":\"m\",\"method\":\"send_tx\",\"params\":{\"signed_"
                 "tx_base64\":\"%s\",\"wait_until\":\"EXECUTED_OPTIMISTIC\"}}",
                 b1);
        struct sim_rpc_reply r1, p1;
        memset(&p1, 0, sizeof(p1));
        CHECK_EQ_INT(sim_rpc_handle(c, body1, strlen(body1), &r1), 0);
        sim_chain_produce_block(c, 900000000000ull);
        sim_chain_produce_block(c, 901000000000ull);
        CHECK_EQ_INT(sim_rpc_poll(c, &r1.wait, &p1), 1);
        json_t *j1 = json_loads(p1.body, 0, NULL);
        json_t *ro1 = json_object_get(json_object_get(j1, "result"), "receipts_outcome");
        json_t *l1s = json_object_get(json_object_get(json_array_get(ro1, 0), "outcome"), "logs");
        CHECK_EQ_INT(json_array_size(l1s), 1);
        CHECK_EQ_STR(json_string_value(json_array_get(l1s, 0)),
                     "EVENT_JSON:{\"standard\":\"nep141\",\"version\":\"1.0.0\",\"event\":\"ft_"
                     "transfer\",\"data\":[{\"old_owner_id\":\"distributor.test.near\",\"new_"
                     "owner_id\":\"user-0.test.near\",\"amount\":\"1000\",\"memo\":\"q\\\"b\\\\s"
                     "\\u0001\xc3\xa9\x7f-0\"}]}");
        json_decref(j1);
        sim_rpc_reply_free(&p1);
        sim_rpc_reply_free(&r1);
        free(raw1);
    }
    sim_chain_free(c);
    test_fast_send_matches(kp);
    test_lagged(kp);
    test_faults(kp);
    keys_free(kp);
    return nf_test_report("test_sim_rpc");
}
