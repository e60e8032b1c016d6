/* test_sim_chain: unit tests of nearsim's chain state machine (nf_sim_core) without HTTP: genesis,
 * fees against docs/PROTOCOL.md section 7 vectors, admission errors in nearcore's order, status
 * levels, batch atomicity, duplicates, nonce rules, delayed receipts, congestion, memos. */
#include <sodium.h>

#include "nf_err.h"
#include "nf_test.h"
#include "sim/sim_chain.h"
#include "sim/sim_testutil.h"

static const char *const regd[] = {"user-0.test.near", "user-1.test.near", "user-2.test.near"};

static void run_blocks(struct sim_chain *c, int n)
{
    for (int i = 0; i < n; i++)
        CHECK_EQ_INT(sim_chain_produce_block(c, 1000000000ull + (c->head + 1) * 600000000ull), 0);
}

static nf_u128 ft(struct sim_chain *c, const char *id)
{
    struct sim_account *a = sim_chain_account(c, id, strlen(id));
    return a ? a->ft_balance : 0;
}

static void test_genesis(void)
{
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    struct nf_keypair *kp = t_key(1);
    struct sim_chain *c = t_chain(&cfg, kp);
    CHECK_EQ_INT(c->head, 100);
    CHECK(ft(c, "distributor.test.near") == cfg.total_supply);
    struct sim_account *u = sim_chain_account(c, "user-4.test.near", 16);
    CHECK(u != NULL && u->ft_registered && u->exists);
    struct sim_account *n = sim_chain_account(c, "new-2.test.near", 15);
    CHECK(n != NULL && !n->ft_registered && n->exists);
    CHECK(sim_chain_account(c, "new-3.test.near", 15) == NULL);
    struct sim_key *k = sim_account_key(c->signer, keys_public(kp));
    CHECK(k != NULL);
    CHECK_EQ_INT(k->nonce, 99 * 1000000ull);
    CHECK(sim_chain_ft_supply_sum(c) == cfg.total_supply);
    CHECK_EQ_INT(sim_chain_add_key(c, cfg.signer, keys_public(kp)), NF_ESTATE);
    sim_chain_free(c);
    keys_free(kp);
}

/* VECTOR 1 of docs/PROTOCOL.md: send gas, exec fees and total cost are independent references. */
static void test_vector1_costs(void)
{
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    snprintf(cfg.signer, sizeof(cfg.signer), "alice.near");
    snprintf(cfg.contract, sizeof(cfg.contract), "usdt.tether-token.near");
    uint8_t seed[32];
    static const char hex[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        seed[i] = (uint8_t)v;
    }
    struct nf_keypair *kp = NULL;
    CHECK_EQ_INT(keys_from_seed(seed, &kp), 0);
    struct sim_chain *c = t_chain(&cfg, kp);
    struct near_action a =
        t_fc("ft_transfer", "{\"receiver_id\":\"bob.near\",\"amount\":\"1000000\"}",
             30000000000000ull, 1);
    size_t len;
    const struct sim_block *head = sim_chain_block(c, c->head);
    uint8_t *raw =
        t_sign(kp, "alice.near", "usdt.tether-token.near", 99000001ull, head->hash, &a, 1, &len);
    struct sim_submit_result res;
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_ACCEPTED);
    CHECK_EQ_INT(res.tx->send_gas, 310729788040ull);
    CHECK_EQ_INT(res.tx->exec_fees, 888184712304ull);
    char s[U128_STR_MAX];
    u128_format(res.tx->total_cost, s);
    CHECK_EQ_STR(s, "3119891450034400000001");
    /* bob.near is not registered: the receipt fails with the contract's exact message */
    nf_u128 before = c->signer->balance;
    run_blocks(c, 2);
    CHECK_EQ_INT(res.tx->fail_index, 0);
    CHECK(res.tx->fail_kind != NULL &&
          strcmp(res.tx->fail_kind, "{\"FunctionCallError\":{\"ExecutionError\":\"Smart contract "
                                    "panicked: The account bob.near is not registered\"}}") == 0);
    run_blocks(c, 1);
    /* charged total_cost, refunded the deposit and the unused gas: net = burnt gas */
    nf_u128 spent = before - c->signer->balance;
    nf_u128 burnt = (nf_u128)(res.tx->send_gas + res.tx->receipt_gas_burnt) * cfg.gas_price;
    CHECK(spent == burnt);
    free(raw);
    sim_chain_free(c);
    keys_free(kp);
}

static void test_levels_and_transfer(void)
{
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    struct nf_keypair *kp = t_key(2);
    struct sim_chain *c = t_chain(&cfg, kp);
    size_t len;
    uint8_t *raw = t_transfers(kp, c, 99000001ull, regd, 3, 3, "lv", 30000000000000ull, &len);
    struct sim_submit_result res;
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_ACCEPTED);
    struct sim_tx *tx = res.tx;
    CHECK_EQ_INT(sim_tx_level(c, tx), SIM_LEVEL_NONE);
    run_blocks(c, 1); /* 101: included */
    CHECK_EQ_INT(tx->included_height, 101);
    CHECK_EQ_INT(sim_tx_level(c, tx), SIM_LEVEL_INCLUDED);
    CHECK_EQ_INT(sim_account_key(c->signer, keys_public(kp))->nonce, 99000001ull);
    run_blocks(c, 1); /* 102: executed */
    CHECK_EQ_INT(sim_tx_level(c, tx), SIM_LEVEL_EXECUTED_OPTIMISTIC);
    CHECK(ft(c, "user-1.test.near") == 1001);
    CHECK(ft(c, "distributor.test.near") == cfg.total_supply - 1000 - 1001 - 1002);
    CHECK_EQ_INT(c->audit.transfers_applied, 3);
    run_blocks(c, 1); /* 103: refund; 101 final */
    CHECK_EQ_INT(sim_tx_level(c, tx), SIM_LEVEL_EXECUTED);
    run_blocks(c, 1); /* 104 */
    CHECK_EQ_INT(sim_tx_level(c, tx), SIM_LEVEL_EXECUTED);
    run_blocks(c, 1); /* 105: 103 final */
    CHECK_EQ_INT(sim_tx_level(c, tx), SIM_LEVEL_FINAL);
    /* view of the nonce at an older height */
    struct sim_key *k = sim_account_key(c->signer, keys_public(kp));
    CHECK_EQ_INT(sim_key_nonce_at(k, 100), 99000000ull);
    CHECK_EQ_INT(sim_key_nonce_at(k, 101), 99000001ull);
    const struct sim_memo *m = sim_chain_memo(c, "lv-2", 4);
    CHECK(m != NULL && m->count == 1);
    /* duplicate submission: same hash is KNOWN, never applied twice */
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_KNOWN);
    CHECK(res.tx == tx);
    run_blocks(c, 3);
    CHECK_EQ_INT(c->audit.transfers_applied, 3);
    CHECK_EQ_INT(c->audit.txs_duplicate, 1);
    CHECK(sim_chain_ft_supply_sum(c) == cfg.total_supply);
    free(raw);
    sim_chain_free(c);
    keys_free(kp);
}

static void test_batch_atomic(void)
{
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    struct nf_keypair *kp = t_key(3);
    struct sim_chain *c = t_chain(&cfg, kp);
    const char *const mixed[] = {"user-0.test.near", "user-1.test.near", "new-0.test.near",
                                 "user-2.test.near"};
    size_t len;
    uint8_t *raw = t_transfers(kp, c, 99000005ull, mixed, 4, 10, "bt", 10000000000000ull, &len);
    struct sim_submit_result res;
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_ACCEPTED);
    struct sim_tx *tx = res.tx;
    run_blocks(c, 2);
    CHECK_EQ_INT(tx->fail_index, 2);
    CHECK(tx->fail_kind && strstr(tx->fail_kind, "The account new-0.test.near is not registered"));
    CHECK(ft(c, "user-0.test.near") == 0 && ft(c, "user-1.test.near") == 0);
    CHECK(ft(c, "distributor.test.near") == cfg.total_supply);
    CHECK_EQ_INT(c->audit.transfers_applied, 0);
    CHECK(sim_chain_memo(c, "bt-0", 4) == NULL);
    CHECK(tx->deposit_refund == 10);
    /* gas burnt covers the receipt fee and actions 0..2 only */
    CHECK(tx->receipt_gas_burnt < tx->exec_fees);
    free(raw);
    sim_chain_free(c);
    keys_free(kp);
}

static void test_admission_errors(void)
{
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    cfg.validity_blocks = 3;
    struct nf_keypair *kp = t_key(4);
    struct nf_keypair *other = t_key(5);
    struct sim_chain *c = t_chain(&cfg, kp);
    struct sim_submit_result res;
    size_t len;
    /* bad borsh */
    uint8_t junk[10] = {0xff, 2, 3};
    CHECK_EQ_INT(t_submit(c, junk, sizeof(junk), &res), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_PARSE);
    /* tampered signature */
    uint8_t *raw = t_transfers(kp, c, 99000001ull, regd, 1, 1, NULL, 30000000000000ull, &len);
    raw[len - 5] ^= 0x40;
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_SIGNATURE);
    free(raw);
    /* unknown block hash */
    uint8_t zero[32] = {0};
    struct near_action a =
        t_fc("ft_transfer", "{\"receiver_id\":\"user-0.test.near\",\"amount\":\"1\"}",
             30000000000000ull, 1);
    raw = t_sign(kp, cfg.signer, cfg.contract, 99000001ull, zero, &a, 1, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_EXPIRED);
    free(raw);
    /* stale block hash: genesis is 4 blocks old with a 3-block window */
    uint8_t genesis[32];
    memcpy(genesis, sim_chain_block(c, 100)->hash, 32);
    run_blocks(c, 4);
    raw = t_sign(kp, cfg.signer, cfg.contract, 99000001ull, genesis, &a, 1, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_EXPIRED);
    free(raw);
    /* unknown key */
    raw = t_transfers(other, c, 99000001ull, regd, 1, 1, NULL, 30000000000000ull, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_KEY_NOT_FOUND);
    free(raw);
    /* stale nonce */
    raw = t_transfers(kp, c, 5, regd, 1, 1, NULL, 30000000000000ull, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_NONCE);
    CHECK_EQ_INT(res.reject.a, 5);
    CHECK_EQ_INT(res.reject.b, 99000000ull);
    free(raw);
    /* 101 actions */
    raw = t_transfers(kp, c, 99000002ull, regd, 3, 101, NULL, 1000000000000ull, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_TOO_MANY_ACTIONS);
    CHECK_EQ_INT(res.reject.a, 101);
    free(raw);
    /* prepaid gas above 1 Pgas: 100 x 10.1 Tgas */
    raw = t_transfers(kp, c, 99000002ull, regd, 3, 100, NULL, 10100000000000ull, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_PREPAID_GAS);
    free(raw);
    /* exactly 1 Pgas is fine */
    raw = t_transfers(kp, c, 99000002ull, regd, 3, 100, NULL, 10000000000000ull, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_ACCEPTED);
    free(raw);
    /* zero gas */
    struct near_action z = a;
    z.u.function_call.gas = 0;
    raw = t_sign(kp, cfg.signer, cfg.contract, 99000003ull, sim_chain_block(c, c->head)->hash, &z,
                 1, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_ZERO_GAS);
    free(raw);
    /* NotEnoughBalance: a NEAR transfer above the signer's balance */
    struct near_action t;
    memset(&t, 0, sizeof(t));
    t.type = NEAR_ACT_TRANSFER;
    t.u.transfer.deposit = cfg.signer_balance + 1;
    raw = t_sign(kp, cfg.signer, "user-0.test.near", 99000003ull, sim_chain_block(c, c->head)->hash,
                 &t, 1, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_BALANCE);
    CHECK(res.reject.x == cfg.signer_balance && res.reject.y > cfg.signer_balance);
    free(raw);
    /* forced congestion */
    c->forced_congestion = 0.9;
    raw = t_transfers(kp, c, 99000004ull, regd, 1, 1, NULL, 30000000000000ull, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_CONGESTED);
    c->forced_congestion = 0;
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_ACCEPTED);
    free(raw);
    CHECK_EQ_INT(c->audit.rejected[SIM_REJ_NONCE], 1);
    sim_chain_free(c);
    keys_free(kp);
    keys_free(other);
}

static void test_nonce_rules(void)
{
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    struct nf_keypair *kp = t_key(6);
    struct sim_chain *c = t_chain(&cfg, kp);
    struct sim_submit_result r1, r2, r3;
    size_t l1, l2, l3;
    /* out of order in the pool: both land (ascending nonce per key) */
    uint8_t *a = t_transfers(kp, c, 99000002ull, regd, 1, 1, "n2", 30000000000000ull, &l1);
    uint8_t *b = t_transfers(kp, c, 99000001ull, regd, 1, 1, "n1", 30000000000000ull, &l2);
    /* too large: >= height * 1e6 at inclusion, dropped silently */
    uint8_t *big = t_transfers(kp, c, 200000000ull, regd, 1, 1, "big", 30000000000000ull, &l3);
    CHECK_EQ_INT(t_submit(c, a, l1, &r1), SIM_SUBMIT_ACCEPTED);
    CHECK_EQ_INT(t_submit(c, b, l2, &r2), SIM_SUBMIT_ACCEPTED);
    CHECK_EQ_INT(t_submit(c, big, l3, &r3), SIM_SUBMIT_ACCEPTED);
    uint8_t big_hash[32];
    memcpy(big_hash, r3.hash, 32);
    run_blocks(c, 2);
    CHECK_EQ_INT(c->audit.txs_included, 2);
    CHECK_EQ_INT(c->audit.txs_dropped_nonce_large, 1);
    CHECK(sim_chain_find_tx(c, big_hash) == NULL);
    CHECK_EQ_INT(c->audit.transfers_applied, 2);
    /* a lower nonce arriving after a higher one was included is dropped at inclusion */
    uint8_t *hi = t_transfers(kp, c, 99000010ull, regd, 1, 1, "hi", 30000000000000ull, &l1);
    uint8_t *lo = t_transfers(kp, c, 99000009ull, regd, 1, 1, "lo", 30000000000000ull, &l2);
    CHECK_EQ_INT(t_submit(c, hi, l1, &r1), SIM_SUBMIT_ACCEPTED);
    run_blocks(c, 1);
    /* admission checks against state: 9 < 10 is InvalidNonce now */
    CHECK_EQ_INT(t_submit(c, lo, l2, &r2), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(r2.reject.code, SIM_REJ_NONCE);
    /* external writer bumps the nonce */
    CHECK_EQ_INT(sim_chain_bump_nonce(c, cfg.signer, keys_public(kp), 5), 0);
    CHECK_EQ_INT(sim_account_key(c->signer, keys_public(kp))->nonce, 99000015ull);
    free(a);
    free(b);
    free(big);
    free(hi);
    free(lo);
    sim_chain_free(c);
    keys_free(kp);
}

static void test_delayed_and_congestion(void)
{
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    cfg.chunk_gas = 10000000000000ull; /* 10 Tgas: one 10-action receipt per block */
    cfg.chunk_tx_gas = 1000000000000000ull;
    cfg.congestion_max_gas = (nf_u128)300000000000000ull; /* 300 Tgas */
    struct nf_keypair *kp = t_key(7);
    struct sim_chain *c = t_chain(&cfg, kp);
    struct sim_tx *txs[4];
    for (int i = 0; i < 4; i++) {
        size_t len;
        char memo[16];
        snprintf(memo, sizeof(memo), "d%d", i);
        uint8_t *raw = t_transfers(kp, c, 99000001ull + (uint64_t)i, regd, 3, 10, memo,
                                   10000000000000ull, &len);
        struct sim_submit_result res;
        CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_ACCEPTED);
        txs[i] = res.tx;
        free(raw);
    }
    run_blocks(c, 1); /* all 4 included */
    CHECK_EQ_INT(c->rq_len, 4);
    run_blocks(c, 1); /* first receipt crosses 10 Tgas; the rest delayed */
    CHECK(txs[0]->executed);
    CHECK(!txs[1]->executed);
    CHECK_EQ_INT(c->rq_len, 3);
    /* 3 delayed x (100 Tgas prepaid + exec fees) > 300 Tgas: level 1.0 -> ShardCongested */
    CHECK(sim_chain_congestion(c) >= 0.8);
    size_t len;
    uint8_t *raw = t_transfers(kp, c, 99000100ull, regd, 1, 1, NULL, 30000000000000ull, &len);
    struct sim_submit_result res;
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_CONGESTED);
    free(raw);
    run_blocks(c, 3);
    CHECK(txs[3]->executed);
    CHECK_EQ_INT(txs[3]->exec_height, txs[0]->exec_height + 3);
    CHECK(sim_chain_congestion(c) < 0.01);
    /* included final before executed: INCLUDED_FINAL is reported for delayed receipts */
    CHECK_EQ_INT(c->audit.transfers_applied, 40);
    sim_chain_free(c);
    keys_free(kp);
}

static void test_storage_and_contract_errors(void)
{
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    struct nf_keypair *kp = t_key(8);
    struct sim_chain *c = t_chain(&cfg, kp);
    const uint8_t *bh = sim_chain_block(c, c->head)->hash;
    struct near_action acts[2];
    acts[0] =
        t_fc("storage_deposit", "{\"account_id\":\"new-1.test.near\",\"registration_only\":true}",
             10000000000000ull, SIM_MIN_STORAGE * 2);
    acts[1] = t_fc("ft_transfer",
                   "{\"receiver_id\":\"new-1.test.near\",\"amount\":\"7\",\"memo\":\"s\\u00e9\"}",
                   20000000000000ull, 1);
    size_t len;
    struct sim_submit_result res;
    uint8_t *raw = t_sign(kp, cfg.signer, cfg.contract, 99000001ull, bh, acts, 2, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_ACCEPTED);
    struct sim_tx *tx = res.tx;
    free(raw);
    struct {
        const char *method, *args;
        uint64_t gas;
        nf_u128 deposit;
        const char *kind;
    } cases[] = {
        {"ft_transfer", "{\"receiver_id\":\"user-0.test.near\",\"amount\":\"1\"}", 100000000000ull,
         1, "{\"FunctionCallError\":{\"ExecutionError\":\"Exceeded the prepaid gas.\"}}"},
        {"ft_nope", "{}", 30000000000000ull, 0,
         "{\"FunctionCallError\":{\"MethodResolveError\":\"MethodNotFound\"}}"},
        {"ft_transfer", "{\"receiver_id\":\"user-0.test.near\",\"amount\":1}", 30000000000000ull, 1,
         NULL},
        {"ft_transfer", "{\"receiver_id\":\"user-0.test.near\",\"amount\":\"1\"}",
         30000000000000ull, 2,
         "{\"FunctionCallError\":{\"ExecutionError\":\"Smart contract panicked: Requires attached "
         "deposit of exactly 1 yoctoNEAR\"}}"},
        {"ft_transfer", "{\"receiver_id\":\"distributor.test.near\",\"amount\":\"1\"}",
         30000000000000ull, 1,
         "{\"FunctionCallError\":{\"ExecutionError\":\"Smart contract panicked: Sender and "
         "receiver "
         "should be different\"}}"},
        {"ft_transfer", "{\"receiver_id\":\"user-0.test.near\",\"amount\":\"0\"}",
         30000000000000ull, 1,
         "{\"FunctionCallError\":{\"ExecutionError\":\"Smart contract panicked: The amount should "
         "be a positive number\"}}"},
        {"storage_deposit", "{\"account_id\":\"new-2.test.near\"}", 30000000000000ull, 5,
         "{\"FunctionCallError\":{\"ExecutionError\":\"Smart contract panicked: The attached "
         "deposit "
         "is less than the minimum storage balance\"}}"},
    };
    struct sim_tx *ctx[sizeof(cases) / sizeof(cases[0])];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct near_action a = t_fc(cases[i].method, cases[i].args, cases[i].gas, cases[i].deposit);
        raw = t_sign(kp, cfg.signer, cfg.contract, 99000002ull + i, bh, &a, 1, &len);
        CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_ACCEPTED);
        ctx[i] = res.tx;
        free(raw);
    }
    run_blocks(c, 3);
    CHECK_EQ_INT(tx->fail_index, -1);
    CHECK(ft(c, "new-1.test.near") == 7);
    CHECK(tx->contract_refund == SIM_MIN_STORAGE);
    CHECK(tx->return_value == NULL); /* the last action (ft_transfer) returns nothing */
    const struct sim_memo *m = sim_chain_memo(c, "s\xc3\xa9", 3);
    CHECK(m != NULL && m->count == 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_EQ_INT(ctx[i]->fail_index, 0);
        if (cases[i].kind != NULL)
            CHECK_EQ_STR(ctx[i]->fail_kind, cases[i].kind);
        else
            CHECK(ctx[i]->fail_kind &&
                  strstr(ctx[i]->fail_kind, "Smart contract panicked: Failed to deserialize input "
                                            "from JSON. Error: `invalid type: integer"));
    }
    CHECK(ctx[0]->receipt_gas_burnt == SIM_FEE_RECEIPT + 780000000000ull +
                                           2235934ull * (11 + strlen(cases[0].args)) +
                                           100000000000ull);
    CHECK(sim_chain_ft_supply_sum(c) == cfg.total_supply);
    sim_chain_free(c);
    keys_free(kp);
}

static void test_add_key_and_memos(void)
{
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    struct nf_keypair *kp = t_key(9);
    struct nf_keypair *k2 = t_key(10);
    struct sim_chain *c = t_chain(&cfg, kp);
    struct near_action a;
    memset(&a, 0, sizeof(a));
    a.type = NEAR_ACT_ADD_KEY;
    a.u.add_key.public_key = *keys_public(k2);
    a.u.add_key.full_access = 1;
    size_t len;
    struct sim_submit_result res;
    uint8_t *raw = t_sign(kp, cfg.signer, cfg.signer, 99000001ull,
                          sim_chain_block(c, c->head)->hash, &a, 1, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_ACCEPTED);
    free(raw);
    run_blocks(c, 2); /* executed at 102 */
    struct sim_key *nk = sim_account_key(c->signer, keys_public(k2));
    CHECK(nk != NULL && nk->full_access);
    CHECK_EQ_INT(nk ? nk->nonce : 0, 101 * 1000000ull);
    /* two different txs carrying the same memo: the double-send detector lists it */
    uint8_t *x = t_transfers(kp, c, 99000002ull, regd, 1, 1, "same", 30000000000000ull, &len);
    CHECK_EQ_INT(t_submit(c, x, len, &res), SIM_SUBMIT_ACCEPTED);
    free(x);
    x = t_transfers(k2, c, 101000001ull, regd, 1, 1, "same", 30000000000000ull, &len);
    CHECK_EQ_INT(t_submit(c, x, len, &res), SIM_SUBMIT_ACCEPTED);
    free(x);
    run_blocks(c, 2);
    const struct sim_memo *m = sim_chain_memo(c, "same-0", 6);
    CHECK(m != NULL && m->count == 2);
    CHECK_EQ_INT(c->audit.duplicate_memo_count, 1);
    CHECK_EQ_INT(c->n_dup_memos, 1);
    if (c->n_dup_memos == 1)
        CHECK_EQ_STR(c->dup_memos[0], "same-0");
    sim_chain_free(c);
    keys_free(kp);
    keys_free(k2);
}

/* snapshot of what a rewind must take back and bring forward again */
struct snap {
    nf_u128 signer_near, signer_ft, user0_ft, contract_near;
    uint8_t new0_registered;
    uint32_t keys;
    uint64_t nonce;
};

static void take_snap(struct sim_chain *c, const struct nf_keypair *kp, struct snap *sn)
{
    struct sim_account *u0 = sim_chain_account(c, "user-0.test.near", 16);
    struct sim_account *n0 = sim_chain_account(c, "new-0.test.near", 15);
    struct sim_key *k = sim_account_key(c->signer, keys_public(kp));
    sn->signer_near = c->signer->balance;
    sn->signer_ft = c->signer->ft_balance;
    sn->user0_ft = u0->ft_balance;
    sn->contract_near = c->contract->balance;
    sn->new0_registered = n0->ft_registered;
    sn->keys = c->signer->n_keys;
    sn->nonce = k ? k->nonce : 0;
}

static int snap_eq(const struct snap *a, const struct snap *b)
{
    return a->signer_near == b->signer_near && a->signer_ft == b->signer_ft &&
           a->user0_ft == b->user0_ft && a->contract_near == b->contract_near &&
           a->new0_registered == b->new0_registered && a->keys == b->keys && a->nonce == b->nonce;
}

/* A lagged view: the chain rewound to an older height shows that height's balances,
 * registrations, keys and nonces (receipts, refunds, AddKey/DeleteKey, faults), hides newer
 * blocks and transactions, refuses writes, and comes back exactly as it was. */
static void test_rewind(void)
{
    struct sim_chain_cfg cfg;
    t_small_cfg(&cfg);
    struct nf_keypair *kp = t_key(12);
    struct nf_keypair *k2 = t_key(13);
    struct sim_chain *c = t_chain(&cfg, kp);
    sim_chain_keep_history(c, 40);
    struct sim_key *k = sim_account_key(c->signer, keys_public(kp));
    struct snap at100, at102, at106, live;
    take_snap(c, kp, &at100);
    const uint8_t *h100 = sim_chain_block(c, 100)->hash;
    /* 101 includes: ft_transfer to user-0 + storage_deposit for new-0; 102 executes them */
    struct near_action acts[2];
    acts[0] = t_fc("storage_deposit", "{\"account_id\":\"new-0.test.near\"}", 10 * 1000000000000ull,
                   SIM_MIN_STORAGE);
    acts[1] = t_fc("ft_transfer", "{\"receiver_id\":\"user-0.test.near\",\"amount\":\"7\"}",
                   10 * 1000000000000ull, 1);
    size_t len;
    struct sim_submit_result res;
    uint8_t *raw = t_sign(kp, cfg.signer, cfg.contract, 99000001ull, h100, acts, 2, &len);
    CHECK_EQ_INT(t_submit(c, raw, len, &res), SIM_SUBMIT_ACCEPTED);
    struct sim_tx *tx1 = res.tx;
    run_blocks(c, 2);
    take_snap(c, kp, &at102);
    CHECK(at102.user0_ft == at100.user0_ft + 7 && at102.new0_registered == 1);
    /* 103: AddKey k2 (executed 104); 105: DeleteKey k2 (executed 106) */
    struct near_action ak;
    memset(&ak, 0, sizeof(ak));
    ak.type = NEAR_ACT_ADD_KEY;
    ak.u.add_key.public_key = *keys_public(k2);
    ak.u.add_key.full_access = 1;
    uint8_t *rak = t_sign(kp, cfg.signer, cfg.signer, 99000002ull, h100, &ak, 1, &len);
    CHECK_EQ_INT(t_submit(c, rak, len, &res), SIM_SUBMIT_ACCEPTED);
    run_blocks(c, 2);
    CHECK_EQ_INT(c->signer->n_keys, 2);
    struct near_action dk;
    memset(&dk, 0, sizeof(dk));
    dk.type = NEAR_ACT_DELETE_KEY;
    dk.u.delete_key.public_key = *keys_public(k2);
    uint8_t *rdk = t_sign(kp, cfg.signer, cfg.signer, 99000003ull, h100, &dk, 1, &len);
    CHECK_EQ_INT(t_submit(c, rdk, len, &res), SIM_SUBMIT_ACCEPTED);
    run_blocks(c, 2);
    CHECK_EQ_INT(c->signer->n_keys, 1);
    /* faults between blocks count for the head (106): a view of 106 shows them */
    CHECK_EQ_INT(sim_chain_bump_nonce(c, cfg.signer, keys_public(kp), 5), 0);
    sim_chain_set_balance(c, c->contract, 12345);
    CHECK_EQ_INT(
        sim_chain_move_tokens(c, c->signer, sim_chain_account(c, "user-0.test.near", 16), 100), 0);
    take_snap(c, kp, &at106);
    run_blocks(c, 2); /* head 108 */
    take_snap(c, kp, &live);
    const struct sim_block *b107 = sim_chain_block(c, 107);
    uint8_t h107[32];
    memcpy(h107, b107->hash, 32);
    uint8_t txh[32];
    memcpy(txh, tx1->hash, 32);

    struct snap got;
    CHECK_EQ_INT(sim_chain_rewind(c, 100), 0);
    CHECK_EQ_INT(sim_chain_rewind(c, 100), NF_ESTATE); /* once */
    take_snap(c, kp, &got);
    CHECK(snap_eq(&got, &at100));
    CHECK_EQ_INT(c->head, 100);
    CHECK_EQ_INT(sim_chain_final(c), 100);
    CHECK(sim_chain_block(c, 101) == NULL);
    CHECK(sim_chain_block_by_hash(c, h107) == NULL);
    CHECK(sim_chain_find_tx(c, txh) == NULL);
    CHECK(sim_chain_find_receipt(c, txh, &(int){0}) == NULL);
    /* a lagging node validates against its view: a hash it has not seen is Expired */
    uint8_t *late = t_transfers(kp, c, 99000010ull, regd, 1, 1, "late", 30000000000000ull, &len);
    uint8_t *stale = t_sign(kp, cfg.signer, cfg.contract, 99000010ull, h107, acts + 1, 1, &len);
    CHECK_EQ_INT(sim_chain_submit(c, stale, len, 1, &res), 0);
    CHECK_EQ_INT(res.status, SIM_SUBMIT_REJECTED);
    CHECK_EQ_INT(res.reject.code, SIM_REJ_EXPIRED);
    CHECK_EQ_INT(sim_chain_submit(c, stale, len, 0, &res), NF_ESTATE);
    CHECK_EQ_INT(sim_chain_produce_block(c, 1), NF_ESTATE);
    sim_chain_restore(c);
    take_snap(c, kp, &got);
    CHECK(snap_eq(&got, &live));
    CHECK_EQ_INT(c->head, 108);

    /* 101: included, not executed yet */
    CHECK_EQ_INT(sim_chain_rewind(c, 101), 0);
    struct sim_tx *seen = sim_chain_find_tx(c, txh);
    CHECK(seen == tx1);
    CHECK_EQ_INT(seen ? (int)sim_tx_level(c, seen) : -1, SIM_LEVEL_INCLUDED);
    CHECK_EQ_INT(seen ? sim_tx_executed(c, seen) : -1, 0);
    CHECK(sim_chain_account(c, "user-0.test.near", 16)->ft_balance == at100.user0_ft);
    CHECK_EQ_INT(k->nonce, 99000001ull);
    CHECK_EQ_INT(sim_chain_nonce_at(c, c->signer, k, 100), 99000000ull);
    sim_chain_restore(c);
    /* 102: executed */
    CHECK_EQ_INT(sim_chain_rewind(c, 102), 0);
    take_snap(c, kp, &got);
    CHECK(snap_eq(&got, &at102));
    CHECK_EQ_INT(sim_tx_level(c, tx1), SIM_LEVEL_EXECUTED_OPTIMISTIC);
    sim_chain_restore(c);
    /* 104: the added key is there, with its nonce; 106: gone again */
    CHECK_EQ_INT(sim_chain_rewind(c, 104), 0);
    CHECK_EQ_INT(c->signer->n_keys, 2);
    struct sim_key *nk = sim_account_key(c->signer, keys_public(k2));
    CHECK_EQ_INT(nk ? nk->nonce : 0, 103 * 1000000ull);
    sim_chain_restore(c);
    CHECK_EQ_INT(sim_chain_rewind(c, 106), 0);
    take_snap(c, kp, &got);
    CHECK(snap_eq(&got, &at106));
    CHECK(sim_account_key(c->signer, keys_public(k2)) == NULL);
    sim_chain_restore(c);
    take_snap(c, kp, &got);
    CHECK(snap_eq(&got, &live));
    /* nonce views from the journal, live and rewound */
    k = sim_account_key(c->signer, keys_public(kp));
    CHECK_EQ_INT(sim_chain_nonce_at(c, c->signer, k, 100), 99000000ull);
    CHECK_EQ_INT(sim_chain_nonce_at(c, c->signer, k, 103), 99000002ull);
    CHECK_EQ_INT(sim_chain_nonce_at(c, c->signer, k, 105), 99000003ull);
    CHECK_EQ_INT(sim_chain_nonce_at(c, c->signer, k, 106), 99000008ull);
    CHECK_EQ_INT(sim_chain_rewind(c, 104), 0);
    CHECK_EQ_INT(sim_chain_nonce_at(c, c->signer, k, 101), 99000001ull);
    CHECK_EQ_INT(sim_chain_nonce_at(c, c->signer, k, 104), 99000002ull);
    sim_chain_restore(c);
    CHECK(sim_chain_ft_supply_sum(c) == cfg.total_supply);
    /* the journal keeps only the window: 40 blocks on, the oldest changes are gone */
    run_blocks(c, 45);
    CHECK(c->hist_len - c->hist_start < 8);
    free(raw);
    free(rak);
    free(rdk);
    free(late);
    free(stale);
    sim_chain_free(c);
    keys_free(kp);
    keys_free(k2);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_genesis();
    test_vector1_costs();
    test_levels_and_transfer();
    test_batch_atomic();
    test_admission_errors();
    test_nonce_rules();
    test_delayed_and_congestion();
    test_storage_and_contract_errors();
    test_add_key_and_memos();
    test_rewind();
    return nf_test_report("test_sim_chain");
}
