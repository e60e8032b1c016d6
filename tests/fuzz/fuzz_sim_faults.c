/* fuzz_sim_faults: the POST /sim/faults parser (sim_faults_apply), the whole input as the body,
 * on a small chain (signer key t_key(42), every account put back after each input: a fresh chain
 * costs 2 ms) and a fault state where every setting is on.
 * Invariants, checked against an independent reading of the body with jansson:
 * - a refusal is a short text that can sit in the server's {"error":"..."} unescaped and names a
 *   field of the body; it leaves the staged settings as they were (the "reset" clearing aside,
 *   see sim_faults.h), and a body that is not an object changes nothing at all;
 * - an acceptance shows every field of the body in the state, and every absent one as it was
 *   (or cleared by "reset");
 * - an accepted body without bump_nonce / move_tokens (the two that act on the chain's running
 *   totals) is accepted again with the same state;
 * - the token supply never changes. */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "sim/sim_chain.h"
#include "sim/sim_faults.h"
#include "sim/sim_testutil.h"
#include "u128.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_NS 5000000000000ull

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_sim_faults:%d: invariant failed: %s\n", __LINE__, #cond);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static struct nf_keypair *key;
static struct sim_chain *chain;

/* The genesis accounts and their keys, written back after each input: sim_faults_apply changes
 * nothing else of a chain without history besides the fault fields baseline() sets. */
#define GENESIS_MAX 16
static struct genesis {
    struct sim_account *account;
    struct sim_account saved;
    struct sim_key keys[2];
} genesis[GENESIS_MAX];
static size_t n_genesis;

static void genesis_save(void)
{
    size_t pos = 0;
    struct sim_account *a;
    while ((a = sim_map_next(&chain->accounts, &pos)) != NULL) {
        if (n_genesis == GENESIS_MAX || a->n_keys > 2)
            abort();
        struct genesis *g = &genesis[n_genesis++];
        g->account = a;
        g->saved = *a;
        if (a->n_keys > 0)
            memcpy(g->keys, a->keys, a->n_keys * sizeof(*a->keys));
    }
}

static void genesis_restore(void)
{
    for (size_t i = 0; i < n_genesis; i++) {
        struct genesis *g = &genesis[i];
        *g->account = g->saved;
        if (g->saved.n_keys > 0)
            memcpy(g->account->keys, g->keys, g->saved.n_keys * sizeof(g->keys[0]));
    }
}

/* The chain's own fault fields. */
struct chain_faults {
    double congestion;
    uint64_t missed_chunks, lag_blocks, reject_next_count;
    int bad_sig_key_set, reject_next_code;
    struct nf_pubkey bad_sig_key;
};

static struct chain_faults chain_faults_of(const struct sim_chain *c)
{
    struct chain_faults f;
    memset(&f, 0, sizeof(f));
    f.congestion = c->forced_congestion;
    f.missed_chunks = c->forced_missed_chunks;
    f.lag_blocks = c->lag_blocks;
    f.reject_next_count = c->reject_next_count;
    f.reject_next_code = c->reject_next_code;
    f.bad_sig_key_set = c->bad_sig_key_set;
    f.bad_sig_key = c->bad_sig_key;
    return f;
}

static int same_key(const struct nf_pubkey *a, const struct nf_pubkey *b)
{
    return a->type == b->type && memcmp(a->data, b->data, sizeof(a->data)) == 0;
}

static int same_chain_faults(const struct chain_faults *a, const struct chain_faults *b)
{
    return a->congestion == b->congestion && a->missed_chunks == b->missed_chunks &&
           a->lag_blocks == b->lag_blocks && a->reject_next_count == b->reject_next_count &&
           a->reject_next_code == b->reject_next_code && a->bad_sig_key_set == b->bad_sig_key_set &&
           same_key(&a->bad_sig_key, &b->bad_sig_key);
}

static int same_faults(const struct sim_faults *a, const struct sim_faults *b)
{
    return a->error_rate == b->error_rate && a->error_kind == b->error_kind &&
           a->lost_ack_rate == b->lost_ack_rate && a->latency_ms == b->latency_ms &&
           a->jitter_ms == b->jitter_ms && a->rate_limit == b->rate_limit &&
           a->congestion == b->congestion;
}

static int same_writer(const struct sim_ext_writer *a, const struct sim_ext_writer *b)
{
    return a->active == b->active && strcmp(a->account, b->account) == 0 &&
           same_key(&a->pk, &b->pk) && a->every_blocks == b->every_blocks && a->bump == b->bump &&
           a->counter == b->counter;
}

static int same_state(const struct sim_fault_state *a, const struct sim_fault_state *b)
{
    return same_faults(&a->faults, &b->faults) && same_writer(&a->writer, &b->writer) &&
           a->stall_until_ns == b->stall_until_ns;
}

/* baseline: every fault on, so that "unchanged" and "cleared" differ. */
static void baseline(struct sim_fault_state *st, struct sim_chain *c)
{
    memset(st, 0, sizeof(*st));
    st->faults.error_rate = 0.25;
    st->faults.error_kind = SIM_ERR_INTERNAL;
    st->faults.lost_ack_rate = 0.5;
    st->faults.latency_ms = 7;
    st->faults.jitter_ms = 3;
    st->faults.rate_limit = 9;
    st->faults.congestion = 0.125;
    st->writer.active = 1;
    snprintf(st->writer.account, sizeof(st->writer.account), "%s", c->cfg.signer);
    st->writer.pk = *keys_public(key);
    st->writer.every_blocks = 2;
    st->writer.bump = 3;
    st->writer.counter = 1;
    st->stall_until_ns = NOW_NS + 1000;
    c->forced_congestion = st->faults.congestion;
    c->forced_missed_chunks = 5;
    c->lag_blocks = 2;
    c->bad_sig_key_set = 1;
    c->bad_sig_key = *keys_public(key);
    c->reject_next_code = SIM_REJ_INVALID_CHAIN;
    c->reject_next_count = 1;
}

static uint64_t signer_nonce(const struct sim_chain *c)
{
    struct sim_account *a = sim_chain_account(c, c->cfg.signer, strlen(c->cfg.signer));
    return sim_account_key(a, keys_public(key))->nonce;
}

/* check_refusal: the text fits the server's reply, names a field of o (or o is no object). */
static void check_refusal(const char *err, json_t *o)
{
    size_t n = strlen(err);
    REQUIRE(n > 0 && n < 100);
    for (size_t i = 0; i < n; i++)
        REQUIRE(err[i] >= 0x20 && err[i] < 0x7f && err[i] != '"' && err[i] != '\\');
    if (!json_is_object(o)) {
        REQUIRE(strcmp(err, "body must be a JSON object") == 0);
        return;
    }
    char field[64];
    size_t k = strcspn(err, " .:");
    REQUIRE(k < sizeof(field));
    memcpy(field, err, k);
    field[k] = 0;
    REQUIRE(json_object_get(o, field) != NULL);
}

/* expect_levels: the staged rates and levels an accepted o must have left. */
static struct sim_faults expect_levels(json_t *o, const struct sim_faults *before, int reset)
{
    struct sim_faults f;
    memset(&f, 0, sizeof(f));
    if (!reset)
        f = *before;
    json_t *v;
    if ((v = json_object_get(o, "error_rate")) != NULL)
        f.error_rate = json_number_value(v);
    if ((v = json_object_get(o, "lost_ack_rate")) != NULL)
        f.lost_ack_rate = json_number_value(v);
    if ((v = json_object_get(o, "congestion")) != NULL)
        f.congestion = json_number_value(v);
    if ((v = json_object_get(o, "latency_ms")) != NULL)
        f.latency_ms = (uint64_t)json_number_value(v);
    if ((v = json_object_get(o, "jitter_ms")) != NULL)
        f.jitter_ms = (uint64_t)json_number_value(v);
    if ((v = json_object_get(o, "rate_limit")) != NULL)
        f.rate_limit = (uint64_t)json_number_value(v);
    if ((v = json_object_get(o, "error_kind")) != NULL)
        f.error_kind = sim_error_kind_parse(json_string_value(v));
    return f;
}

static uint64_t expect_stall(json_t *o, uint64_t before, int reset)
{
    uint64_t until = reset ? 0 : before;
    json_t *s = json_object_get(o, "stall_seconds"), *m = json_object_get(o, "stall_ms");
    if (s == NULL && m == NULL)
        return until;
    uint64_t ms =
        m != NULL ? (uint64_t)json_number_value(m) : (uint64_t)(json_number_value(s) * 1000);
    return ms > 0 ? NOW_NS + ms * 1000000ull : 0;
}

static void check_writer(json_t *o,
                         const struct sim_chain *c,
                         const struct sim_ext_writer *before,
                         const struct sim_ext_writer *w,
                         int reset)
{
    json_t *xw = json_object_get(o, "external_writer");
    if (xw == NULL) {
        struct sim_ext_writer e = *before;
        if (reset)
            e.active = 0;
        REQUIRE(same_writer(w, &e));
        return;
    }
    if (json_is_null(xw)) {
        REQUIRE(!w->active);
        return;
    }
    json_t *acc = json_object_get(xw, "account_id");
    json_t *pk = json_object_get(xw, "public_key");
    struct nf_pubkey k;
    REQUIRE(keys_pubkey_parse(json_string_value(pk), json_string_length(pk), &k) == 0);
    REQUIRE(w->active && w->counter == 0 && w->every_blocks >= 1 && w->bump >= 1);
    REQUIRE(same_key(&w->pk, &k));
    REQUIRE(strcmp(w->account, json_is_string(acc) ? json_string_value(acc) : c->cfg.signer) == 0);
    REQUIRE(sim_account_key(sim_chain_account(c, w->account, strlen(w->account)), &k) != NULL);
}

static void check_node_faults(json_t *o,
                              const struct sim_chain *c,
                              const struct chain_faults *before,
                              int reset)
{
    json_t *v;
    v = json_object_get(o, "missed_chunks");
    REQUIRE(c->forced_missed_chunks == (v       ? (uint64_t)json_integer_value(v)
                                        : reset ? 0
                                                : before->missed_chunks));
    v = json_object_get(o, "lag_blocks");
    REQUIRE(c->lag_blocks == (v       ? (uint64_t)json_integer_value(v)
                              : reset ? 0
                                      : before->lag_blocks));
    v = json_object_get(o, "invalid_signature_key");
    if (v == NULL) {
        REQUIRE(c->bad_sig_key_set == (reset ? 0 : before->bad_sig_key_set));
    } else if (json_is_null(v)) {
        REQUIRE(!c->bad_sig_key_set);
    } else {
        struct nf_pubkey k;
        REQUIRE(keys_pubkey_parse(json_string_value(v), json_string_length(v), &k) == 0);
        REQUIRE(c->bad_sig_key_set && same_key(&c->bad_sig_key, &k));
    }
    v = json_object_get(o, "reject_next");
    if (v == NULL) {
        REQUIRE(c->reject_next_count == (reset ? 0 : before->reject_next_count));
        REQUIRE(c->reject_next_code == before->reject_next_code);
    } else {
        const char *kind = json_string_value(json_object_get(v, "kind"));
        REQUIRE(c->reject_next_code == (strcmp(kind, "InvalidChain") == 0 ? SIM_REJ_INVALID_CHAIN
                                                                          : SIM_REJ_COST_OVERFLOW));
        REQUIRE(c->reject_next_count == (uint64_t)json_integer_value(json_object_get(v, "count")));
    }
}

/* check_accounts: set_balance, storage_usage and bump_nonce show on the chain. */
static void check_accounts(json_t *o, const struct sim_chain *c, uint64_t nonce_before)
{
    json_t *v;
    if ((v = json_object_get(o, "set_balance")) != NULL) {
        json_t *acc = json_object_get(v, "account_id"), *y = json_object_get(v, "yocto");
        const char *id = json_is_string(acc) ? json_string_value(acc) : c->cfg.signer;
        nf_u128 amount;
        REQUIRE(u128_parse(json_string_value(y), json_string_length(y), &amount) == 0);
        struct sim_account *a = sim_chain_account(c, id, strlen(id));
        REQUIRE(a != NULL && a->exists);
        /* a later storage_usage / move_tokens never touches NEAR balances */
        REQUIRE(a->balance == amount);
    }
    if ((v = json_object_get(o, "storage_usage")) != NULL) {
        json_t *acc = json_object_get(v, "account_id");
        struct sim_account *a =
            sim_chain_account(c, json_string_value(acc), json_string_length(acc));
        REQUIRE(a != NULL &&
                a->storage_bytes == (uint64_t)json_integer_value(json_object_get(v, "bytes")));
    }
    uint64_t nonce = signer_nonce(c);
    if ((v = json_object_get(o, "bump_nonce")) != NULL) {
        /* the signer's key is the only key of the chain */
        double by = json_number_value(json_object_get(v, "by"));
        uint64_t step = json_object_get(v, "by") == NULL || by < 1 ? 1 : (uint64_t)by;
        REQUIRE(nonce == nonce_before + step);
    } else {
        REQUIRE(nonce == nonce_before);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (key == NULL) {
        if (sodium_init() < 0)
            abort();
        key = t_key(42);
        struct sim_chain_cfg cfg;
        t_small_cfg(&cfg);
        chain = t_chain(&cfg, key);
        genesis_save();
    }
    if (size > 65536)
        return 0;
    struct sim_chain *c = chain;
    struct sim_fault_state st, before;
    baseline(&st, c);
    before = st;
    struct chain_faults cf = chain_faults_of(c);
    nf_u128 supply = sim_chain_ft_supply_sum(c);
    uint64_t nonce = signer_nonce(c);

    const char *err = sim_faults_apply(&st, c, (const char *)data, size, NOW_NS);
    json_t *o = json_loadb((const char *)data, size, 0, NULL);
    int reset = json_is_true(json_object_get(o, "reset"));
    if (err != NULL) {
        check_refusal(err, o);
        REQUIRE(same_faults(&st.faults, &before.faults));
        struct sim_ext_writer w = before.writer;
        if (reset)
            w.active = 0;
        REQUIRE(same_writer(&st.writer, &w));
        REQUIRE(st.stall_until_ns == (reset ? 0 : before.stall_until_ns));
        REQUIRE(c->forced_congestion == cf.congestion);
        if (!json_is_object(o)) {
            struct chain_faults now = chain_faults_of(c);
            REQUIRE(same_chain_faults(&now, &cf) && signer_nonce(c) == nonce);
        }
    } else {
        REQUIRE(json_is_object(o));
        struct sim_faults f = expect_levels(o, &before.faults, reset);
        REQUIRE(same_faults(&st.faults, &f));
        REQUIRE(c->forced_congestion == st.faults.congestion);
        REQUIRE(st.stall_until_ns == expect_stall(o, before.stall_until_ns, reset));
        check_writer(o, c, &before.writer, &st.writer, reset);
        check_node_faults(o, c, &cf, reset);
        check_accounts(o, c, nonce);
        if (json_object_get(o, "bump_nonce") == NULL && json_object_get(o, "move_tokens") == NULL) {
            struct sim_fault_state once = st;
            struct chain_faults chain_once = chain_faults_of(c);
            REQUIRE(sim_faults_apply(&st, c, (const char *)data, size, NOW_NS) == NULL);
            struct chain_faults chain_twice = chain_faults_of(c);
            REQUIRE(same_state(&st, &once) && same_chain_faults(&chain_twice, &chain_once));
        }
    }
    REQUIRE(sim_chain_ft_supply_sum(c) == supply);
    json_decref(o);
    genesis_restore();
    return 0;
}
