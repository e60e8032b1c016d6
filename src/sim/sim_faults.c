/* sim_faults: parses a POST /sim/faults body and applies it (see sim_faults.h for the order of
 * checks and what a refused field leaves applied). One function per group of fields, called in
 * the documented order: the settings kept in struct sim_fault_state are staged in struct staged
 * and copied once the whole body is accepted; the chain actions change the chain as they are met.
 * Pure and single-threaded (the caller's); owns nothing past a call. */
#include "sim_faults.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "u128.h"

/* The settings of a body that change st only once the whole body is accepted. */
struct staged {
    struct sim_faults faults;
    struct sim_ext_writer writer;
    uint64_t stall_ms;
    int stall_set;
};

/* num_field: o[k] into *out when it is a number in [0, max]. Returns 0 (absent), 1 (set) or -1
 * (present but not such a number; *out untouched). */
static int num_field(json_t *o, const char *k, double *out, double max)
{
    json_t *v = json_object_get(o, k);
    if (v == NULL)
        return 0;
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > max)
        return -1;
    *out = json_number_value(v);
    return 1;
}

/* apply_reset: "reset": true zeroes the staged settings and, at once, ends the stall, the
 * external writer and the chain's fault fields (kept even when a later field is refused). */
static void
apply_reset(json_t *o, struct sim_fault_state *st, struct sim_chain *chain, struct sim_faults *f)
{
    if (!json_is_true(json_object_get(o, "reset")))
        return;
    memset(f, 0, sizeof(*f));
    st->stall_until_ns = 0;
    st->writer.active = 0;
    chain->forced_missed_chunks = 0;
    chain->lag_blocks = 0;
    chain->bad_sig_key_set = 0;
    chain->reject_next_count = 0;
}

/* parse_levels: error_rate, lost_ack_rate, congestion, latency_ms, jitter_ms, rate_limit and
 * error_kind into f (staged). */
static const char *parse_levels(json_t *o, struct sim_faults *f)
{
    double d;
    int r;
    if (num_field(o, "error_rate", &f->error_rate, 1) < 0)
        return "error_rate must be a number in [0,1]";
    if (num_field(o, "lost_ack_rate", &f->lost_ack_rate, 1) < 0)
        return "lost_ack_rate must be a number in [0,1]";
    if (num_field(o, "congestion", &f->congestion, 1) < 0)
        return "congestion must be a number in [0,1]";
    if ((r = num_field(o, "latency_ms", &d, 600000)) < 0)
        return "latency_ms must be a number of ms";
    if (r > 0)
        f->latency_ms = (uint64_t)d;
    if ((r = num_field(o, "jitter_ms", &d, 600000)) < 0)
        return "jitter_ms must be a number of ms";
    if (r > 0)
        f->jitter_ms = (uint64_t)d;
    if ((r = num_field(o, "rate_limit", &d, 1e9)) < 0)
        return "rate_limit must be requests per second";
    if (r > 0)
        f->rate_limit = (uint64_t)d;
    json_t *ek = json_object_get(o, "error_kind");
    if (ek != NULL) {
        int k = json_is_string(ek) ? sim_error_kind_parse(json_string_value(ek)) : -1;
        if (k < 0)
            return "error_kind must be 503, internal or mixed";
        f->error_kind = k;
    }
    return NULL;
}

/* parse_stall: stall_seconds / stall_ms (the later wins): no block for that long from now; 0
 * ends a stall at once. */
static const char *parse_stall(json_t *o, struct staged *sg)
{
    double d;
    int r;
    if ((r = num_field(o, "stall_seconds", &d, 3600)) < 0)
        return "stall_seconds must be a number";
    if (r > 0) {
        sg->stall_ms = (uint64_t)(d * 1000);
        sg->stall_set = 1;
    }
    if ((r = num_field(o, "stall_ms", &d, 3600000)) < 0)
        return "stall_ms must be a number";
    if (r > 0) {
        sg->stall_ms = (uint64_t)d;
        sg->stall_set = 1;
    }
    return NULL;
}

/* parse_writer: external_writer {"account_id"?, "public_key", "every_blocks"?, "bump"?} | null
 * into nw (staged): the key must exist; the counter restarts. */
static const char *parse_writer(json_t *o, const struct sim_chain *chain, struct sim_ext_writer *nw)
{
    json_t *xw = json_object_get(o, "external_writer");
    if (xw == NULL)
        return NULL;
    if (json_is_null(xw)) {
        nw->active = 0;
        return NULL;
    }
    json_t *pk = json_object_get(xw, "public_key");
    json_t *acc = json_object_get(xw, "account_id");
    const char *account = json_is_string(acc) ? json_string_value(acc) : chain->cfg.signer;
    if (!json_is_string(pk) ||
        keys_pubkey_parse(json_string_value(pk), json_string_length(pk), &nw->pk) != 0)
        return "external_writer.public_key must be an ed25519 key";
    if (strlen(account) > SIM_ACCOUNT_MAX)
        return "external_writer.account_id too long";
    snprintf(nw->account, sizeof(nw->account), "%s", account);
    struct sim_account *a = sim_chain_account(chain, nw->account, strlen(nw->account));
    if (sim_account_key(a, &nw->pk) == NULL)
        return "external_writer: no such access key";
    double e = 1, b = 1;
    if (num_field(xw, "every_blocks", &e, 1e6) < 0 || num_field(xw, "bump", &b, 1e12) < 0)
        return "external_writer.every_blocks / bump must be numbers";
    nw->every_blocks = e < 1 ? 1 : (uint64_t)e;
    nw->bump = b < 1 ? 1 : (uint64_t)b;
    nw->counter = 0;
    nw->active = 1;
    return NULL;
}

/* apply_bump_nonce: bump_nonce {"account_id"?, "public_key", "by"?}: another writer used the
 * key, its nonce goes up by `by` (at least 1) now. */
static const char *apply_bump_nonce(json_t *o, struct sim_chain *chain)
{
    json_t *bn = json_object_get(o, "bump_nonce");
    if (bn == NULL)
        return NULL;
    json_t *pk = json_object_get(bn, "public_key");
    json_t *acc = json_object_get(bn, "account_id");
    struct nf_pubkey key;
    double by = 1;
    const char *account = json_is_string(acc) ? json_string_value(acc) : chain->cfg.signer;
    if (!json_is_string(pk) ||
        keys_pubkey_parse(json_string_value(pk), json_string_length(pk), &key) != 0 ||
        num_field(bn, "by", &by, 1e12) < 0)
        return "bump_nonce needs public_key and a numeric by";
    if (sim_chain_bump_nonce(chain, account, &key, (uint64_t)(by < 1 ? 1 : by)) != 0)
        return "bump_nonce: no such access key";
    return NULL;
}

/* apply_set_balance: set_balance {"account_id"?, "yocto":"<decimal>"}: sets an account's NEAR
 * balance (drain or refill the signer to provoke NotEnoughBalance and its recovery). */
static const char *apply_set_balance(json_t *o, struct sim_chain *chain)
{
    json_t *sb = json_object_get(o, "set_balance");
    if (sb == NULL)
        return NULL;
    json_t *acc = json_object_get(sb, "account_id");
    json_t *y = json_object_get(sb, "yocto");
    const char *account = json_is_string(acc) ? json_string_value(acc) : chain->cfg.signer;
    nf_u128 amount;
    if (!json_is_string(y) || u128_parse(json_string_value(y), json_string_length(y), &amount) != 0)
        return "set_balance needs yocto as a decimal string";
    struct sim_account *a = sim_chain_account(chain, account, strlen(account));
    if (a == NULL || !a->exists)
        return "set_balance: no such account";
    sim_chain_set_balance(chain, a, amount);
    return NULL;
}

/* apply_storage_usage: storage_usage {"account_id", "bytes": N}: the account's state is N bytes
 * (0: back to nearsim's own figure, unchecked). view_account reports it, and a receipt on the
 * account that leaves amount + locked below N * storage_amount_per_byte (10^19) fails after all
 * its actions with ActionError {index: null, kind: LackBalanceForState {account_id, amount: what
 * is missing}}, rolled back: nearcore's storage-stake check (e.g. a token contract whose state
 * outgrew its balance). */
static const char *apply_storage_usage(json_t *o, struct sim_chain *chain)
{
    json_t *su = json_object_get(o, "storage_usage");
    if (su == NULL)
        return NULL;
    json_t *acc = json_object_get(su, "account_id");
    json_t *by = json_object_get(su, "bytes");
    if (!json_is_string(acc) || !json_is_integer(by) || json_integer_value(by) < 0)
        return "storage_usage needs account_id and a non-negative integer bytes";
    struct sim_account *a =
        sim_chain_account(chain, json_string_value(acc), json_string_length(acc));
    if (a == NULL || !a->exists)
        return "storage_usage: no such account";
    a->storage_bytes = (uint64_t)json_integer_value(by);
    return NULL;
}

/* apply_node_faults: missed_chunks N: the shard missed N chunks (ShardStuck once N/125 reaches
 * the threshold; 0 clears). lag_blocks N: `block` asked by finality answers the block N below
 * the one it would (an RPC node lagging behind the chain transactions are validated against: a
 * client that signs with that "final" hash sees Expired once N exceeds the validity window; 0
 * clears). invalid_signature_key "ed25519:..." | null: signatures by that key are refused as
 * InvalidSignature (a key whose secret no longer matches). Each applied as met. */
static const char *apply_node_faults(json_t *o, struct sim_chain *chain)
{
    json_t *mc = json_object_get(o, "missed_chunks");
    if (mc != NULL) {
        if (!json_is_integer(mc) || json_integer_value(mc) < 0)
            return "missed_chunks must be a non-negative integer";
        chain->forced_missed_chunks = (uint64_t)json_integer_value(mc);
    }
    json_t *lb = json_object_get(o, "lag_blocks");
    if (lb != NULL) {
        if (!json_is_integer(lb) || json_integer_value(lb) < 0)
            return "lag_blocks must be a non-negative integer";
        chain->lag_blocks = (uint64_t)json_integer_value(lb);
    }
    json_t *bk = json_object_get(o, "invalid_signature_key");
    if (bk != NULL) {
        if (json_is_null(bk)) {
            chain->bad_sig_key_set = 0;
        } else if (!json_is_string(bk) ||
                   keys_pubkey_parse(json_string_value(bk), json_string_length(bk),
                                     &chain->bad_sig_key) != 0) {
            return "invalid_signature_key must be an ed25519 public key or null";
        } else {
            chain->bad_sig_key_set = 1;
        }
    }
    return NULL;
}

/* apply_reject_next: reject_next {"kind":"InvalidChain"|"CostOverflow","count":N}: the next N
 * transaction admissions are refused with that InvalidTxError (after decode and signature
 * checks). */
static const char *apply_reject_next(json_t *o, struct sim_chain *chain)
{
    json_t *rn = json_object_get(o, "reject_next");
    if (rn == NULL)
        return NULL;
    json_t *k = json_object_get(rn, "kind");
    json_t *n = json_object_get(rn, "count");
    const char *kind = json_is_string(k) ? json_string_value(k) : "";
    int code = strcmp(kind, "InvalidChain") == 0   ? SIM_REJ_INVALID_CHAIN
               : strcmp(kind, "CostOverflow") == 0 ? SIM_REJ_COST_OVERFLOW
                                                   : -1;
    if (code < 0 || !json_is_integer(n) || json_integer_value(n) < 0)
        return "reject_next needs kind InvalidChain|CostOverflow and a count";
    chain->reject_next_code = code;
    chain->reject_next_count = (uint64_t)json_integer_value(n);
    return NULL;
}

/* apply_move_tokens: move_tokens {"from"?, "to", "amount"}: moves FT balance between two
 * registered accounts (supply stays conserved): drains or refills the signer's tokens. */
static const char *apply_move_tokens(json_t *o, struct sim_chain *chain)
{
    json_t *mt = json_object_get(o, "move_tokens");
    if (mt == NULL)
        return NULL;
    json_t *from = json_object_get(mt, "from");
    json_t *to = json_object_get(mt, "to");
    json_t *am = json_object_get(mt, "amount");
    const char *fa = json_is_string(from) ? json_string_value(from) : chain->cfg.signer;
    nf_u128 amount;
    if (!json_is_string(to) || !json_is_string(am) ||
        u128_parse(json_string_value(am), json_string_length(am), &amount) != 0)
        return "move_tokens needs to and amount (decimal string)";
    struct sim_account *a = sim_chain_account(chain, fa, strlen(fa));
    struct sim_account *b = sim_chain_account(chain, json_string_value(to), json_string_length(to));
    if (a == NULL || b == NULL || !a->ft_registered || !b->ft_registered)
        return "move_tokens: both accounts must be registered with the token";
    if (sim_chain_move_tokens(chain, a, b, amount) != 0)
        return "move_tokens: not enough tokens";
    return NULL;
}

/* apply_object: the fields of o in the documented order, then the staged settings. */
static const char *
apply_object(struct sim_fault_state *st, struct sim_chain *chain, json_t *o, uint64_t now_ns)
{
    struct staged sg;
    memset(&sg, 0, sizeof(sg));
    sg.faults = st->faults;
    apply_reset(o, st, chain, &sg.faults);
    sg.writer = st->writer; /* after the reset, which ended it */
    const char *err;
    if ((err = parse_levels(o, &sg.faults)) != NULL || (err = parse_stall(o, &sg)) != NULL ||
        (err = parse_writer(o, chain, &sg.writer)) != NULL ||
        (err = apply_bump_nonce(o, chain)) != NULL || (err = apply_set_balance(o, chain)) != NULL ||
        (err = apply_storage_usage(o, chain)) != NULL ||
        (err = apply_node_faults(o, chain)) != NULL ||
        (err = apply_reject_next(o, chain)) != NULL || (err = apply_move_tokens(o, chain)) != NULL)
        return err;
    st->faults = sg.faults;
    st->writer = sg.writer;
    if (sg.stall_set)
        st->stall_until_ns = sg.stall_ms > 0 ? now_ns + sg.stall_ms * 1000000ull : 0;
    chain->forced_congestion = sg.faults.congestion;
    return NULL;
}

const char *sim_faults_apply(struct sim_fault_state *st,
                             struct sim_chain *chain,
                             const char *body,
                             size_t len,
                             uint64_t now_ns)
{
    json_t *o = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
    const char *err =
        json_is_object(o) ? apply_object(st, chain, o, now_ns) : "body must be a JSON object";
    json_decref(o);
    return err;
}
