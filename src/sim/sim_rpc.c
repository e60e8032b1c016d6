/* sim_rpc: JSON-RPC method handling for nearsim (see sim_rpc.h). Requests are parsed with
 * jansson; replies are written with jw in nearcore's shapes (docs/PROTOCOL.md section 3): the
 * FinalExecutionOutcomeView of a tx is rendered on demand from its stored Borsh bytes and the
 * compact outcome fields of struct sim_tx. Runs on the chain thread; owns only the replies it
 * returns. */
#include "sim_rpc.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "base58.h"
#include "base64.h"
#include "jtok.h"
#include "jw.h"
#include "near_view.h"
#include "nf_err.h"
#include "nf_utf8.h"
#include "sim_json.h"

#define ZERO_HASH_B58 "11111111111111111111111111111111"

/* ---- reply helpers
 * ------------------------------------------------------------------------------- */

static void reply_take(struct sim_rpc_reply *out, struct jw *w, int status)
{
    size_t len = 0;
    char *text = jw_take(w, &len);
    if (text == NULL) {
        text = strdup("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"name\":\"INTERNAL_ERROR\","
                      "\"cause\":{\"name\":\"INTERNAL_ERROR\",\"info\":{\"error_message\":"
                      "\"reply rendering failed\"}},\"code\":-32000,\"message\":\"Server error\","
                      "\"data\":\"reply rendering failed\"}}");
        len = text ? strlen(text) : 0;
        status = 500;
    }
    out->body = text;
    out->len = len;
    out->http_status = status;
    out->pending = 0;
}

static void begin_envelope(struct jw *w, const char *id_json)
{
    /* 16 KiB up front: an outcome of a 100-action transaction is ~40 KB (two reallocs, not 8). */
    jw_init_growable_cap(w, 16384);
    jw_obj_begin(w);
    jw_key(w, "jsonrpc");
    jw_str(w, "2.0");
    jw_key(w, "id");
    jw_raw(w, id_json, strlen(id_json));
}

/* error_reply: {"name":name,"cause":{"name":cause,"info":info},"code":code,"message":..,"data":..}
 * info_json NULL omits info; data_json is raw JSON. */
static void error_reply(struct sim_rpc_reply *out,
                        const char *id_json,
                        const char *name,
                        const char *cause,
                        const char *info_json,
                        int code,
                        const char *message,
                        const char *data_json,
                        int http)
{
    struct jw w;
    begin_envelope(&w, id_json);
    jw_key(&w, "error");
    jw_obj_begin(&w);
    jw_key(&w, "name");
    jw_str(&w, name);
    jw_key(&w, "cause");
    jw_obj_begin(&w);
    jw_key(&w, "name");
    jw_str(&w, cause);
    if (info_json != NULL) {
        jw_key(&w, "info");
        jw_raw(&w, info_json, strlen(info_json));
    }
    jw_obj_end(&w);
    jw_key(&w, "code");
    jw_i64(&w, code);
    jw_key(&w, "message");
    jw_str(&w, message);
    jw_key(&w, "data");
    jw_raw(&w, data_json, strlen(data_json));
    jw_obj_end(&w);
    jw_obj_end(&w);
    reply_take(out, &w, http);
}

/* json_string_text: s as a JSON string literal (malloc'd) or NULL. */
static char *json_string_text(const char *s)
{
    struct jw w;
    jw_init_growable(&w);
    jw_str(&w, s);
    return jw_take(&w, NULL);
}

static void parse_error(struct sim_rpc_reply *out, const char *id_json, const char *msg)
{
    char *info = NULL, *data = json_string_text(msg);
    struct jw w;
    jw_init_growable(&w);
    jw_obj_begin(&w);
    jw_key(&w, "error_message");
    jw_str(&w, msg);
    jw_obj_end(&w);
    info = jw_take(&w, NULL);
    error_reply(out, id_json, "REQUEST_VALIDATION_ERROR", "PARSE_ERROR", info ? info : "{}", -32700,
                "Parse error", data ? data : "\"\"", 400);
    free(info);
    free(data);
}

void sim_rpc_internal_error(const char *id_json, const char *text, struct sim_rpc_reply *out)
{
    char *data = json_string_text(text);
    struct jw w;
    jw_init_growable(&w);
    jw_obj_begin(&w);
    jw_key(&w, "error_message");
    jw_str(&w, text);
    jw_obj_end(&w);
    char *info = jw_take(&w, NULL);
    error_reply(out, id_json ? id_json : "null", "INTERNAL_ERROR", "INTERNAL_ERROR",
                info ? info : "{}", -32000, "Server error", data ? data : "\"\"", 500);
    free(info);
    free(data);
}

void sim_rpc_timeout(const struct sim_rpc_wait *w, struct sim_rpc_reply *out)
{
    error_reply(out, w->id_json ? w->id_json : "null", "HANDLER_ERROR", "TIMEOUT_ERROR", NULL,
                -32000, "Server error", "\"Timeout\"", 408);
}

void sim_rpc_reply_free(struct sim_rpc_reply *r)
{
    free(r->body);
    free(r->wait.id_json);
    r->body = NULL;
    r->wait.id_json = NULL;
}

/* ---- InvalidTxError rendering
 * -------------------------------------------------------------------- */

static void w_pk(struct jw *w, const struct nf_pubkey *pk)
{
    char s[KEYS_PUBKEY_STR_MAX + 64];
    if (keys_pubkey_format(pk, s, sizeof(s)) < 0)
        snprintf(s, sizeof(s), "ed25519:?");
    jw_str(w, s);
}

static void w_obj1(struct jw *w, const char *name)
{
    jw_obj_begin(w);
    jw_key(w, name);
}

/* w_variant_u64x2: {"<name>":{"<k1>":v1,"<k2>":v2}}, the shape of most sized variants. */
static void w_variant_u64x2(
    struct jw *w, const char *name, const char *k1, uint64_t v1, const char *k2, uint64_t v2)
{
    w_obj1(w, name);
    jw_obj_begin(w);
    jw_key(w, k1);
    jw_u64(w, v1);
    jw_key(w, k2);
    jw_u64(w, v2);
    jw_obj_end(w);
    jw_obj_end(w);
}

/* render_actions_validation: {"ActionsValidation":<ActionsValidationError>}. */
static void render_actions_validation(struct jw *w, const struct sim_reject *r, const char *name)
{
    w_obj1(w, "ActionsValidation");
    switch (r->code) {
    case SIM_REJ_TOO_MANY_ACTIONS:
        w_variant_u64x2(w, name, "total_number_of_actions", r->a, "limit", r->b);
        break;
    case SIM_REJ_PREPAID_GAS:
        w_variant_u64x2(w, name, "total_prepaid_gas", r->a, "limit", r->b);
        break;
    case SIM_REJ_METHOD_LEN:
    case SIM_REJ_ARGS_LEN:
        w_variant_u64x2(w, name, "length", r->a, "limit", r->b);
        break;
    default:
        jw_str(w, name); /* FunctionCallZeroAttachedGas, DeleteActionMustBeFinal */
        break;
    }
    jw_obj_end(w);
}

/* render_shard_error: ShardStuck and ShardCongested (shard 0, the only one). */
static void render_shard_error(struct jw *w, const struct sim_reject *r, const char *name)
{
    if (r->code == SIM_REJ_STUCK) {
        w_variant_u64x2(w, name, "shard_id", 0, "missed_chunks", r->a);
        return;
    }
    w_obj1(w, name);
    jw_obj_begin(w);
    jw_key(w, "shard_id");
    jw_u64(w, 0);
    jw_key(w, "congestion_level");
    jw_double(w, r->level);
    jw_obj_end(w);
    jw_obj_end(w);
}

/* render_signer_error: the signer's account state (SignerDoesNotExist, NotEnoughBalance). */
static void render_signer_error(struct jw *w, const struct sim_reject *r, const char *name)
{
    w_obj1(w, name);
    jw_obj_begin(w);
    jw_key(w, "signer_id");
    jw_str(w, r->account);
    if (r->code == SIM_REJ_BALANCE) {
        jw_key(w, "balance");
        jw_u128_str(w, r->x);
        jw_key(w, "cost");
        jw_u128_str(w, r->y);
    }
    jw_obj_end(w);
    jw_obj_end(w);
}

/* render_access_key_error: {"InvalidAccessKeyError":<InvalidAccessKeyError>}. */
static void render_access_key_error(struct jw *w, const struct sim_reject *r, const char *name)
{
    w_obj1(w, "InvalidAccessKeyError");
    switch (r->code) {
    case SIM_REJ_KEY_NOT_FOUND:
    case SIM_REJ_ALLOWANCE:
        w_obj1(w, name);
        jw_obj_begin(w);
        jw_key(w, "account_id");
        jw_str(w, r->account);
        jw_key(w, "public_key");
        w_pk(w, &r->pk);
        if (r->code == SIM_REJ_ALLOWANCE) {
            jw_key(w, "allowance");
            jw_u128_str(w, r->x);
            jw_key(w, "cost");
            jw_u128_str(w, r->y);
        }
        jw_obj_end(w);
        jw_obj_end(w);
        break;
    case SIM_REJ_RECEIVER_MISMATCH:
        w_obj1(w, name);
        jw_obj_begin(w);
        jw_key(w, "tx_receiver");
        jw_str(w, r->account);
        jw_key(w, "ak_receiver");
        jw_str(w, r->other);
        jw_obj_end(w);
        jw_obj_end(w);
        break;
    case SIM_REJ_METHOD_MISMATCH:
        w_obj1(w, name);
        jw_obj_begin(w);
        jw_key(w, "method_name");
        jw_str(w, r->other);
        jw_obj_end(w);
        jw_obj_end(w);
        break;
    default:
        jw_str(w, name); /* RequiresFullAccess, DepositWithFunctionCall */
        break;
    }
    jw_obj_end(w);
}

/* render_invalid_tx: the InvalidTxError variant for r, by family. */
static void render_invalid_tx(struct jw *w, const struct sim_reject *r)
{
    const char *name = sim_reject_name(r->code);
    switch (r->code) {
    case SIM_REJ_VERSION:
    case SIM_REJ_SIGNATURE:
    case SIM_REJ_EXPIRED:
    case SIM_REJ_INVALID_CHAIN:
    case SIM_REJ_COST_OVERFLOW:
        jw_str(w, name);
        return;
    case SIM_REJ_SIZE:
        w_variant_u64x2(w, name, "size", r->a, "limit", r->b);
        return;
    case SIM_REJ_NONCE:
        w_variant_u64x2(w, name, "tx_nonce", r->a, "ak_nonce", r->b);
        return;
    case SIM_REJ_TOO_MANY_ACTIONS:
    case SIM_REJ_PREPAID_GAS:
    case SIM_REJ_METHOD_LEN:
    case SIM_REJ_ARGS_LEN:
    case SIM_REJ_ZERO_GAS:
    case SIM_REJ_DELETE_NOT_FINAL:
        render_actions_validation(w, r, name);
        return;
    case SIM_REJ_STUCK:
    case SIM_REJ_CONGESTED:
        render_shard_error(w, r, name);
        return;
    case SIM_REJ_SIGNER_MISSING:
    case SIM_REJ_BALANCE:
        render_signer_error(w, r, name);
        return;
    default:
        render_access_key_error(w, r, name); /* and any other code, as before */
        return;
    }
}

static void
invalid_tx_reply(struct sim_rpc_reply *out, const char *id_json, const struct sim_reject *r)
{
    struct jw w;
    jw_init_growable(&w);
    w_obj1(&w, "TxExecutionError");
    w_obj1(&w, "InvalidTxError");
    render_invalid_tx(&w, r);
    jw_obj_end(&w);
    jw_obj_end(&w);
    char *data = jw_take(&w, NULL);
    error_reply(out, id_json, "HANDLER_ERROR", "INVALID_TRANSACTION", "{}", -32000, "Server error",
                data ? data : "null", 200);
    free(data);
}

/* ---- outcome rendering
 * --------------------------------------------------------------------------- */

static void w_hash(struct jw *w, const uint8_t *h)
{
    jw_base58(w, h, NEAR_HASH_LEN);
}

static void w_block_hash(struct jw *w, const struct sim_chain *c, uint64_t height)
{
    const struct sim_block *b = sim_chain_block(c, height);
    if (b != NULL)
        jw_strn(w, b->hash_b58, strlen(b->hash_b58));
    else
        jw_str(w, ZERO_HASH_B58);
}

/* ev_put: appends src (escaped once more for the outer JSON string when esc) to the log text. */
static int ev_put(char *out, size_t cap, size_t *o, const char *src, size_t n, int esc)
{
    if (!esc) {
        if (n > cap - *o)
            return -1;
        memcpy(out + *o, src, n);
        *o += n;
        return 0;
    }
    int e = nf_json_escape(src, n, out + *o, cap - *o);
    if (e < 0)
        return -1;
    *o += (size_t)e;
    return 0;
}

#define EV_LIT(o, s) ev_put(ev, sizeof(ev), (o), (s), sizeof(s) - 1, 0)

/* w_ft_event: the NEP-141 ft_transfer EVENT_JSON log of one successful action, as the JSON string
 * value jw_str would make of the log line, written directly: the fixed parts are escaped already
 * here, only the account ids, the amount and the memo are escaped at run time. */
static void w_ft_event(struct jw *w, const char *signer, const struct near_action *a)
{
    struct sim_jfield f[3] = {{.name = "receiver_id"}, {.name = "amount"}, {.name = "memo"}};
    const struct nf_bytes *args = &a->u.function_call.args;
    if (sim_json_object(args->ptr, args->len, f, 3, NULL, 0) != 0)
        return;
    char recv[SIM_ACCOUNT_MAX * 2 + 8], num[64], amount[U128_STR_MAX];
    if (sim_json_string(f[0].raw, f[0].raw_len, recv, sizeof(recv)) < 0)
        return;
    int nl = sim_json_string(f[1].raw, f[1].raw_len, num, sizeof(num));
    nf_u128 v = 0;
    if (nl < 0 || u128_parse(num, (size_t)nl, &v) != 0)
        return;
    u128_format(v, amount);
    char ev[4400];
    size_t o = 0;
    int bad =
        EV_LIT(&o, "\"EVENT_JSON:{\\\"standard\\\":\\\"nep141\\\",\\\"version\\\":\\\"1.0.0\\\","
                   "\\\"event\\\":\\\"ft_transfer\\\",\\\"data\\\":[{\\\"old_owner_id\\\":\\\"");
    bad |= ev_put(ev, sizeof(ev), &o, signer, strlen(signer), 1);
    bad |= EV_LIT(&o, "\\\",\\\"new_owner_id\\\":\\\"");
    bad |= ev_put(ev, sizeof(ev), &o, recv, strlen(recv), 1);
    bad |= EV_LIT(&o, "\\\",\\\"amount\\\":\\\"");
    bad |= ev_put(ev, sizeof(ev), &o, amount, strlen(amount), 0);
    bad |= EV_LIT(&o, "\\\"");
    if (f[2].type == SIM_J_STRING) {
        /* The memo is a JSON string inside the log line (escaped once), and the line is a JSON
         * string (escaped again). A memo whose first escaping passes 1400 bytes is left out. */
        char memo[NEAR_FT_MEMO_MAX * 4 + 8], esc[1400];
        int ml = sim_json_string(f[2].raw, f[2].raw_len, memo, sizeof(memo));
        int el = ml < 0 ? -1 : nf_json_escape(memo, (size_t)ml, esc, sizeof(esc));
        if (el >= 0) {
            bad |= EV_LIT(&o, ",\\\"memo\\\":\\\"");
            bad |= ev_put(ev, sizeof(ev), &o, esc, (size_t)el, 1);
            bad |= EV_LIT(&o, "\\\"");
        }
    }
    bad |= EV_LIT(&o, "}]}\"");
    if (bad == 0)
        jw_raw(w, ev, o);
}

static void w_metadata(struct jw *w, int version)
{
    jw_key(w, "metadata");
    jw_obj_begin(w);
    jw_key(w, "version");
    jw_u64(w, (uint64_t)version);
    jw_key(w, "gas_profile");
    if (version == 1)
        jw_null(w);
    else {
        jw_arr_begin(w);
        jw_arr_end(w);
    }
    jw_obj_end(w);
}

static void w_action_status(struct jw *w, const struct sim_tx *tx)
{
    jw_obj_begin(w);
    if (sim_tx_failed(tx)) {
        jw_key(w, "Failure");
        jw_obj_begin(w);
        jw_key(w, "ActionError");
        jw_obj_begin(w);
        jw_key(w, "index");
        if (tx->fail_index >= 0)
            jw_u64(w, (uint64_t)tx->fail_index);
        else
            jw_null(w); /* failed after every action (LackBalanceForState) */
        jw_key(w, "kind");
        const char *k = tx->fail_kind ? tx->fail_kind : "null";
        jw_raw(w, k, strlen(k));
        jw_obj_end(w);
        jw_obj_end(w);
    } else {
        jw_key(w, "SuccessValue");
        jw_base64(w, (const uint8_t *)(tx->return_value ? tx->return_value : ""), tx->return_len);
    }
    jw_obj_end(w);
}

/* refund_ids: the receipts created by the action receipt, in nearcore's order. */
static int refund_ids(const struct sim_tx *tx, int ids[2], nf_u128 amounts[2])
{
    int n = 0;
    nf_u128 first = sim_tx_failed(tx) ? tx->deposit_refund : tx->contract_refund;
    if (first > 0) {
        ids[n] = 1;
        amounts[n++] = first;
    }
    if (tx->gas_refund > 0) {
        ids[n] = 2;
        amounts[n++] = tx->gas_refund;
    }
    return n;
}

static void
w_outcome_head(struct jw *w, const struct sim_chain *c, uint64_t height, const uint8_t *id)
{
    jw_obj_begin(w);
    jw_key(w, "proof");
    jw_arr_begin(w);
    jw_arr_end(w);
    jw_key(w, "block_hash");
    w_block_hash(w, c, height);
    jw_key(w, "id");
    w_hash(w, id);
    jw_key(w, "outcome");
    jw_obj_begin(w);
}

/* Gas a refund receipt burns: receipt creation exec + transfer exec (nearcore's fees; a refund
 * burns no tokens). */
#define SIM_REFUND_GAS_BURNT 223182562500ull

static void w_empty_array(struct jw *w, const char *key)
{
    jw_key(w, key);
    jw_arr_begin(w);
    jw_arr_end(w);
}

/* w_outcome_costs: gas_burnt, tokens_burnt and executor_id of an outcome opened by
 * w_outcome_head (after its logs and receipt_ids), then the "status" key: the caller writes the
 * status value and closes with w_outcome_end. */
static void
w_outcome_costs(struct jw *w, uint64_t gas_burnt, nf_u128 tokens_burnt, const char *executor)
{
    jw_key(w, "gas_burnt");
    jw_u64(w, gas_burnt);
    jw_key(w, "tokens_burnt");
    jw_u128_str(w, tokens_burnt);
    jw_key(w, "executor_id");
    jw_str(w, executor);
    jw_key(w, "status");
}

/* w_outcome_end: the metadata (version 1 for a transaction, 3 for a receipt), then closes the
 * outcome and its ExecutionOutcomeWithIdView. */
static void w_outcome_end(struct jw *w, int version)
{
    w_metadata(w, version);
    jw_obj_end(w);
    jw_obj_end(w);
}

/* w_receipt_view: ReceiptView of receipt n of tx (0: the action receipt with the tx's actions;
 * 1, 2: a refund Transfer of amount to the signer, from the contract for a storage_deposit
 * excess, else from "system"). stx is the decoded tx. */
static void w_receipt_view(struct jw *w,
                           const struct sim_chain *c,
                           const struct sim_tx *tx,
                           const struct near_signed_tx *stx,
                           int n,
                           nf_u128 amount,
                           const char *signer,
                           const char *receiver)
{
    uint8_t rid[NEAR_HASH_LEN];
    sim_receipt_id(tx, n, rid);
    const char *from = n == 0 ? signer : !sim_tx_failed(tx) && n == 1 ? receiver : "system";
    jw_obj_begin(w);
    jw_key(w, "predecessor_id");
    jw_str(w, from);
    jw_key(w, "receiver_id");
    jw_str(w, n == 0 ? receiver : signer);
    jw_key(w, "receipt_id");
    w_hash(w, rid);
    jw_key(w, "receipt");
    jw_obj_begin(w);
    jw_key(w, "Action");
    jw_obj_begin(w);
    jw_key(w, "signer_id");
    jw_str(w, from);
    jw_key(w, "signer_public_key");
    if (n == 0) {
        char pks[KEYS_PUBKEY_STR_MAX + 64];
        if (keys_pubkey_format(&stx->tx.public_key, pks, sizeof(pks)) < 0)
            pks[0] = 0;
        jw_str(w, pks);
    } else {
        jw_str(w, "ed25519:" ZERO_HASH_B58);
    }
    jw_key(w, "gas_price");
    if (n == 0)
        jw_u128_str(w, c->cfg.gas_price);
    else
        jw_str(w, "0");
    w_empty_array(w, "output_data_receivers");
    w_empty_array(w, "input_data_ids");
    jw_key(w, "actions");
    jw_arr_begin(w);
    if (n == 0) {
        for (uint32_t i = 0; i < stx->tx.n_actions && i < SIM_DEC_ACTIONS; i++)
            near_view_action(w, &stx->tx.actions[i]);
    } else {
        jw_obj_begin(w);
        jw_key(w, "Transfer");
        jw_obj_begin(w);
        jw_key(w, "deposit");
        jw_u128_str(w, amount);
        jw_obj_end(w);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_key(w, "is_promise_yield");
    jw_bool(w, 0);
    jw_obj_end(w);
    jw_obj_end(w);
    jw_key(w, "priority");
    jw_u64(w, 0);
    jw_obj_end(w);
}

static void render_outcome(
    struct jw *w, struct sim_chain *c, struct sim_tx *tx, enum sim_level level, int experimental)
{
    jw_obj_begin(w);
    jw_key(w, "final_execution_status");
    jw_str(w, sim_level_name(level));
    if (tx->state != SIM_TX_INCLUDED) {
        jw_obj_end(w);
        return;
    }
    struct near_signed_tx stx;
    if (sim_tx_decode(c, tx, &stx) != 0) {
        jw_obj_end(w);
        return;
    }
    uint8_t r0[NEAR_HASH_LEN], rid[NEAR_HASH_LEN];
    sim_receipt_id(tx, 0, r0);
    const char *signer = tx->signer->id;
    char receiver[SIM_ACCOUNT_MAX + 1];
    size_t rl = stx.tx.receiver_id.len < SIM_ACCOUNT_MAX ? stx.tx.receiver_id.len : SIM_ACCOUNT_MAX;
    memcpy(receiver, stx.tx.receiver_id.ptr, rl);
    receiver[rl] = 0;
    int ids[2];
    nf_u128 amounts[2];
    int n_refunds = refund_ids(tx, ids, amounts);
    int executed = sim_tx_executed(c, tx); /* as of the head this answer shows */

    jw_key(w, "status");
    if (executed)
        w_action_status(w, tx);
    else
        jw_str(w, "Started");
    jw_key(w, "transaction");
    near_view_signed_tx(w, &stx, SIM_DEC_ACTIONS);
    /* transaction outcome */
    jw_key(w, "transaction_outcome");
    w_outcome_head(w, c, tx->included_height, tx->hash);
    w_empty_array(w, "logs");
    jw_key(w, "receipt_ids");
    jw_arr_begin(w);
    w_hash(w, r0);
    jw_arr_end(w);
    w_outcome_costs(w, tx->send_gas, (nf_u128)tx->send_gas * c->cfg.gas_price, signer);
    jw_obj_begin(w);
    jw_key(w, "SuccessReceiptId");
    w_hash(w, r0);
    jw_obj_end(w);
    w_outcome_end(w, 1);
    /* receipt outcomes */
    jw_key(w, "receipts_outcome");
    jw_arr_begin(w);
    if (executed) {
        w_outcome_head(w, c, tx->exec_height, r0);
        jw_key(w, "logs");
        jw_arr_begin(w);
        uint32_t end = tx->fail_index >= 0 ? (uint32_t)tx->fail_index : stx.tx.n_actions;
        for (uint32_t i = 0; i < end && i < SIM_DEC_ACTIONS; i++) {
            const struct near_action *a = &stx.tx.actions[i];
            if (a->type == NEAR_ACT_FUNCTION_CALL && a->u.function_call.method_name.len == 11 &&
                memcmp(a->u.function_call.method_name.ptr, "ft_transfer", 11) == 0)
                w_ft_event(w, signer, a);
            for (uint32_t k = 0; k < tx->n_extra_logs; k++)
                if (tx->extra_logs[k].action == i)
                    jw_str(w, tx->extra_logs[k].text);
        }
        jw_arr_end(w);
        jw_key(w, "receipt_ids");
        jw_arr_begin(w);
        for (int i = 0; i < n_refunds; i++) {
            sim_receipt_id(tx, ids[i], rid);
            w_hash(w, rid);
        }
        jw_arr_end(w);
        w_outcome_costs(w, tx->receipt_gas_burnt, (nf_u128)tx->receipt_gas_burnt * c->cfg.gas_price,
                        receiver);
        w_action_status(w, tx);
        w_outcome_end(w, 3);
        if (sim_tx_refunded(c, tx)) {
            for (int i = 0; i < n_refunds; i++) {
                sim_receipt_id(tx, ids[i], rid);
                w_outcome_head(w, c, tx->refund_height, rid);
                w_empty_array(w, "logs");
                w_empty_array(w, "receipt_ids");
                w_outcome_costs(w, SIM_REFUND_GAS_BURNT, 0, signer);
                jw_obj_begin(w);
                jw_key(w, "SuccessValue");
                jw_str(w, "");
                jw_obj_end(w);
                w_outcome_end(w, 3);
            }
        }
    }
    jw_arr_end(w);
    if (experimental) {
        jw_key(w, "receipts");
        jw_arr_begin(w);
        w_receipt_view(w, c, tx, &stx, 0, 0, signer, receiver);
        if (executed)
            for (int i = 0; i < n_refunds; i++)
                w_receipt_view(w, c, tx, &stx, ids[i], amounts[i], signer, receiver);
        jw_arr_end(w);
    }
    jw_obj_end(w);
}

static void tx_reply(struct sim_rpc_reply *out,
                     struct sim_chain *c,
                     const char *id_json,
                     struct sim_tx *tx,
                     enum sim_level level,
                     int experimental)
{
    struct jw w;
    begin_envelope(&w, id_json);
    jw_key(&w, "result");
    render_outcome(&w, c, tx, level, experimental);
    jw_obj_end(&w);
    reply_take(out, &w, 200);
}

static void unknown_tx_reply(struct sim_rpc_reply *out, const char *id_json, const uint8_t *hash)
{
    char b58[B58_MAX_32], info[120], data[160];
    if (b58_encode(hash, NEAR_HASH_LEN, b58, sizeof(b58)) < 0)
        b58[0] = 0;
    snprintf(info, sizeof(info), "{\"requested_transaction_hash\":\"%s\"}", b58);
    snprintf(data, sizeof(data), "\"Transaction %s doesn't exist\"", b58);
    error_reply(out, id_json, "HANDLER_ERROR", "UNKNOWN_TRANSACTION", info, -32000, "Server error",
                data, 200);
}

/* view_begin: for an answer of a node lag blocks behind, rewinds the chain to head - lag (not
 * below genesis). Returns 1 when it rewound (view_end restores), 0 when the answer is the live
 * chain's (lag 0, a chain not longer than the lag, or already rewound by the caller). */
static int view_begin(struct sim_chain *c, uint64_t lag)
{
    if (lag == 0 || c->live_head != 0)
        return 0;
    uint64_t h = c->head - c->cfg.genesis_height > lag ? c->head - lag : c->cfg.genesis_height;
    return h < c->head && sim_chain_rewind(c, h) == 0;
}

static void view_end(struct sim_chain *c, int rewound)
{
    if (rewound)
        sim_chain_restore(c);
}

static int poll_now(struct sim_chain *c, const struct sim_rpc_wait *w, struct sim_rpc_reply *out)
{
    struct sim_tx *tx = sim_chain_find_tx(c, w->hash);
    if (tx == NULL)
        return 0;
    enum sim_level level = sim_tx_level(c, tx);
    if (level < w->level)
        return 0;
    tx_reply(out, c, w->id_json ? w->id_json : "null", tx, level, w->kind == SIM_WAIT_TX_EXP);
    return 1;
}

int sim_rpc_poll(struct sim_chain *c, const struct sim_rpc_wait *w, struct sim_rpc_reply *out)
{
    int rewound = view_begin(c, w->lag);
    int done = poll_now(c, w, out);
    view_end(c, rewound);
    return done;
}

/* ---- request parsing
 * ----------------------------------------------------------------------------- */

/* decode_b64: standard base64 with padding. Returns malloc'd bytes or NULL (bad base64). */
static uint8_t *decode_b64(const char *s, size_t slen, size_t *n)
{
    uint8_t *buf = malloc(slen / 4 * 3 + 3);
    if (buf == NULL)
        return NULL;
    int r = b64_decode(s, slen, buf, slen / 4 * 3 + 3);
    if (r < 0) {
        free(buf);
        return NULL;
    }
    *n = (size_t)r;
    return buf;
}

/* block_ref: resolves {finality} / {block_id} (object) or a bare block id value to a height.
 * Returns 0, -1 (params invalid: message in why) or -2 (unknown block). */
static int block_ref(const struct sim_chain *c,
                     json_t *finality,
                     json_t *block_id,
                     uint64_t *h,
                     char *why,
                     size_t whycap)
{
    if (block_id != NULL && !json_is_null(block_id)) {
        if (json_is_integer(block_id)) {
            json_int_t v = json_integer_value(block_id);
            if (v < 0) {
                snprintf(why, whycap, "Failed parsing args: invalid block id");
                return -1;
            }
            if (sim_chain_block(c, (uint64_t)v) == NULL)
                return -2;
            *h = (uint64_t)v;
            return 0;
        }
        if (json_is_string(block_id)) {
            uint8_t hash[NEAR_HASH_LEN];
            const char *s = json_string_value(block_id);
            if (b58_decode_exact(s, strlen(s), hash, NEAR_HASH_LEN) != 0) {
                snprintf(why, whycap, "Failed parsing args: invalid block hash");
                return -1;
            }
            const struct sim_block *b = sim_chain_block_by_hash(c, hash);
            if (b == NULL)
                return -2;
            *h = b->height;
            return 0;
        }
        snprintf(why, whycap, "Failed parsing args: invalid block id");
        return -1;
    }
    if (finality != NULL && json_is_string(finality)) {
        const char *f = json_string_value(finality);
        if (strcmp(f, "optimistic") == 0) {
            *h = c->head;
        } else if (strcmp(f, "near-final") == 0) {
            *h = c->head > c->cfg.genesis_height ? c->head - 1 : c->head;
        } else if (strcmp(f, "final") == 0) {
            *h = sim_chain_final(c);
        } else {
            snprintf(why, whycap,
                     "Failed parsing args: unknown variant `%.40s`, expected one of `optimistic`, "
                     "`near-final`, `final`",
                     f);
            return -1;
        }
        return 0;
    }
    snprintf(why, whycap, "Failed parsing args: missing field `finality`");
    return -1;
}

static void unknown_block_reply(struct sim_rpc_reply *out, const char *id_json)
{
    error_reply(out, id_json, "HANDLER_ERROR", "UNKNOWN_BLOCK", "{}", -32000, "Server error",
                "\"DB Not Found Error: BLOCK: Unknown\"", 200);
}

/* tx_params: extracts the base64 tx of send_tx / broadcast_* params. Returns the string or NULL
 * with a PARSE_ERROR message in why. */
static const char *
tx_param(json_t *params, int allow_wait, const char **wait, char *why, size_t whycap)
{
    *wait = NULL;
    if (json_is_array(params)) {
        if (json_array_size(params) != 1) {
            snprintf(why, whycap,
                     json_array_size(params) == 0
                         ? "Require at least one parameter"
                         : "Unable to parse send request: too many params passed");
            return NULL;
        }
        json_t *s = json_array_get(params, 0);
        if (!json_is_string(s)) {
            snprintf(why, whycap, "Failed parsing args: invalid type, expected a string");
            return NULL;
        }
        return json_string_value(s);
    }
    if (json_is_object(params)) {
        json_t *s = json_object_get(params, "signed_tx_base64");
        if (!json_is_string(s)) {
            snprintf(why, whycap,
                     s == NULL ? "Failed parsing args: missing field `signed_tx_base64`"
                               : "Failed parsing args: invalid type, expected a string");
            return NULL;
        }
        json_t *wu = json_object_get(params, "wait_until");
        if (allow_wait && wu != NULL) {
            if (!json_is_string(wu) || sim_level_parse(json_string_value(wu)) < 0) {
                snprintf(why, whycap, "Failed parsing args: unknown variant of `wait_until`");
                return NULL;
            }
            *wait = json_string_value(wu);
        }
        return json_string_value(s);
    }
    snprintf(why, whycap, "Require at least one parameter");
    return NULL;
}

/* submit_reply: the answer to a send or a tx lookup once the transaction is known (or accepted):
 * at once when it has reached wait_level in the view of a node lag blocks behind, else a wait
 * that sim_rpc_poll re-checks in that view. */
static void submit_reply(struct sim_chain *c,
                         struct sim_rpc_reply *out,
                         const char *id_json,
                         const struct sim_submit_result *res,
                         enum sim_level wait_level,
                         enum sim_wait_kind kind,
                         uint64_t lag)
{
    if (res->status == SIM_SUBMIT_REJECTED) {
        invalid_tx_reply(out, id_json, &res->reject);
        return;
    }
    struct sim_rpc_wait w = {
        .kind = kind, .level = wait_level, .id_json = (char *)id_json, .lag = lag};
    memcpy(w.hash, res->hash, NEAR_HASH_LEN);
    if (sim_rpc_poll(c, &w, out))
        return;
    out->pending = 1;
    out->wait = w;
    out->wait.id_json = strdup(id_json);
}

/* lagged_submit: a send to a node lag blocks behind. It validates the transaction against its own
 * view (so a block hash newer than that view is Expired, a hash it has not seen yet is not known)
 * and, when it finds it valid, forwards it to the chain as a node does: the chain's verdict is not
 * reported (a forwarded transaction the chain refuses never lands). *res is the lagging node's
 * verdict. Returns 0 or NF_ENOMEM. */
static int lagged_submit(
    struct sim_chain *c, uint64_t lag, const uint8_t *raw, size_t n, struct sim_submit_result *res)
{
    int rewound = view_begin(c, lag);
    int rc = sim_chain_submit(c, raw, n, 1, res);
    view_end(c, rewound);
    if (rc != 0 || res->status != SIM_SUBMIT_VALID)
        return rc;
    struct sim_submit_result fwd;
    return sim_chain_submit(c, raw, n, 0, &fwd);
}

/* m_send_b64: the send methods once the base64 text and the wait level are known; lag > 0 for the
 * lagging listener (its answers follow the chain as of head - lag). */
static void m_send_b64(struct sim_chain *c,
                       uint64_t lag,
                       struct sim_rpc_reply *out,
                       const char *id_json,
                       const char *b64,
                       size_t b64_len,
                       const char *wait,
                       int method)
{
    char why[300];
    size_t n;
    uint8_t *raw = decode_b64(b64, b64_len, &n);
    if (raw == NULL) {
        parse_error(out, id_json, "Failed to decode transaction: invalid base64");
        return;
    }
    struct sim_submit_result res;
    int rc = lag > 0 ? lagged_submit(c, lag, raw, n, &res) : sim_chain_submit(c, raw, n, 0, &res);
    free(raw);
    if (rc != 0) {
        sim_rpc_internal_error(id_json, "out of memory", out);
        return;
    }
    if (res.status == SIM_SUBMIT_REJECTED && res.reject.code == SIM_REJ_PARSE) {
        snprintf(why, sizeof(why), "Failed to decode transaction: %s", res.reject.why);
        parse_error(out, id_json, why);
        return;
    }
    out->submitted = 1;
    enum sim_level level =
        wait ? (enum sim_level)sim_level_parse(wait) : SIM_LEVEL_EXECUTED_OPTIMISTIC;
    if (method == 2 || level == SIM_LEVEL_NONE) {
        /* fire-and-forget: no validation feedback */
        struct jw w;
        begin_envelope(&w, id_json);
        jw_key(&w, "result");
        if (method == 2) {
            w_hash(&w, res.hash);
        } else {
            jw_obj_begin(&w);
            jw_key(&w, "final_execution_status");
            jw_str(&w, "NONE");
            jw_obj_end(&w);
        }
        jw_obj_end(&w);
        reply_take(out, &w, 200);
        return;
    }
    submit_reply(c, out, id_json, &res, level, SIM_WAIT_SEND, lag);
}

static void m_send(struct sim_chain *c,
                   uint64_t lag,
                   struct sim_rpc_reply *out,
                   const char *id_json,
                   json_t *params,
                   int method)
{
    /* method: 0 send_tx, 1 broadcast_tx_commit, 2 broadcast_tx_async */
    char why[300];
    const char *wait = NULL;
    const char *b64 = tx_param(params, method == 0, &wait, why, sizeof(why));
    if (b64 == NULL) {
        parse_error(out, id_json, why);
        return;
    }
    m_send_b64(c, lag, out, id_json, b64, strlen(b64), wait, method);
}

static void m_tx(struct sim_chain *c,
                 uint64_t lag,
                 struct sim_rpc_reply *out,
                 const char *id_json,
                 json_t *params,
                 int experimental)
{
    uint8_t hash[NEAR_HASH_LEN];
    const char *hash_s = NULL;
    enum sim_level level = SIM_LEVEL_EXECUTED_OPTIMISTIC;
    if (json_is_array(params)) {
        if (json_array_size(params) != 2 || !json_is_string(json_array_get(params, 0)) ||
            !json_is_string(json_array_get(params, 1))) {
            parse_error(out, id_json, "Failed parsing args: expected [tx_hash, sender_account_id]");
            return;
        }
        hash_s = json_string_value(json_array_get(params, 0));
    } else if (json_is_object(params)) {
        json_t *wu = json_object_get(params, "wait_until");
        if (wu != NULL) {
            int l = json_is_string(wu) ? sim_level_parse(json_string_value(wu)) : -1;
            if (l < 0) {
                parse_error(out, id_json, "Failed parsing args: unknown variant of `wait_until`");
                return;
            }
            level = (enum sim_level)l;
        }
        json_t *b64 = json_object_get(params, "signed_tx_base64");
        if (json_is_string(b64)) {
            size_t n;
            uint8_t *raw = decode_b64(json_string_value(b64), json_string_length(b64), &n);
            if (raw == NULL) {
                parse_error(out, id_json, "Failed to decode transaction: invalid base64");
                return;
            }
            struct sim_submit_result res;
            int rc = sim_chain_submit(c, raw, n, 1, &res);
            free(raw);
            if (rc != 0) {
                sim_rpc_internal_error(id_json, "out of memory", out);
                return;
            }
            if (res.status == SIM_SUBMIT_REJECTED && res.reject.code == SIM_REJ_PARSE) {
                char why[300];
                snprintf(why, sizeof(why), "Failed to decode transaction: %s", res.reject.why);
                parse_error(out, id_json, why);
                return;
            }
            if (res.status == SIM_SUBMIT_REJECTED) {
                invalid_tx_reply(out, id_json, &res.reject);
                return;
            }
            memcpy(hash, res.hash, NEAR_HASH_LEN);
            goto lookup;
        }
        json_t *h = json_object_get(params, "tx_hash");
        json_t *s = json_object_get(params, "sender_account_id");
        if (!json_is_string(h) || !json_is_string(s)) {
            parse_error(out, id_json,
                        h == NULL   ? "Failed parsing args: missing field `tx_hash`"
                        : s == NULL ? "Failed parsing args: missing field `sender_account_id`"
                                    : "Failed parsing args: invalid type, expected a string");
            return;
        }
        hash_s = json_string_value(h);
    } else {
        parse_error(out, id_json, "Require at least one parameter");
        return;
    }
    if (b58_decode_exact(hash_s, strlen(hash_s), hash, NEAR_HASH_LEN) != 0) {
        parse_error(out, id_json, "Failed parsing args: invalid transaction hash");
        return;
    }
lookup:;
    struct sim_tx *tx = sim_chain_find_tx(c, hash);
    if (tx == NULL && level == SIM_LEVEL_NONE) {
        unknown_tx_reply(out, id_json, hash);
        return;
    }
    struct sim_submit_result res;
    memset(&res, 0, sizeof(res));
    res.status = SIM_SUBMIT_KNOWN;
    memcpy(res.hash, hash, NEAR_HASH_LEN);
    submit_reply(c, out, id_json, &res, level, experimental ? SIM_WAIT_TX_EXP : SIM_WAIT_TX, lag);
}

static void
w_block_header_common(struct jw *w, const struct sim_chain *c, const struct sim_block *b)
{
    jw_key(w, "block_height");
    jw_u64(w, b->height);
    jw_key(w, "block_hash");
    w_hash(w, b->hash);
    (void)c;
}

static void result_begin(struct jw *w, const char *id_json)
{
    begin_envelope(w, id_json);
    jw_key(w, "result");
}

static void result_end(struct jw *w, struct sim_rpc_reply *out)
{
    jw_obj_end(w);
    reply_take(out, w, 200);
}

/* w_chunk_header: the ChunkHeaderView of block b's one chunk (shard 0; its hash is the block's). */
static void w_chunk_header(struct jw *w, const struct sim_chain *c, const struct sim_block *b)
{
    jw_obj_begin(w);
    jw_key(w, "chunk_hash");
    w_hash(w, b->hash);
    jw_key(w, "prev_block_hash");
    w_hash(w, b->prev_hash);
    jw_key(w, "height_created");
    jw_u64(w, b->height);
    jw_key(w, "height_included");
    jw_u64(w, b->height);
    jw_key(w, "shard_id");
    jw_u64(w, 0);
    jw_key(w, "gas_used");
    jw_u64(w, b->gas_used);
    jw_key(w, "gas_limit");
    jw_u64(w, c->cfg.chunk_gas);
    jw_key(w, "rent_paid"); /* deprecated, still sent by nearcore */
    jw_str(w, "0");
    jw_key(w, "balance_burnt");
    jw_u128_str(w, b->tokens_burnt);
    jw_key(w, "validator_reward");
    jw_str(w, "0");
    jw_key(w, "tx_root");
    jw_str(w, ZERO_HASH_B58);
    jw_key(w, "outcome_root");
    jw_str(w, ZERO_HASH_B58);
    jw_key(w, "prev_state_root");
    jw_str(w, ZERO_HASH_B58);
    jw_key(w, "outgoing_receipts_root");
    jw_str(w, ZERO_HASH_B58);
    jw_key(w, "encoded_merkle_root");
    jw_str(w, ZERO_HASH_B58);
    jw_key(w, "encoded_length");
    jw_u64(w, 0);
    jw_key(w, "validator_proposals");
    jw_arr_begin(w);
    jw_arr_end(w);
    jw_key(w, "congestion_info");
    jw_obj_begin(w);
    jw_key(w, "delayed_receipts_gas");
    jw_u128_str(w, b->height == c->head ? c->delayed_gas : 0);
    jw_key(w, "buffered_receipts_gas");
    jw_str(w, "0");
    jw_key(w, "receipt_bytes");
    jw_u64(w, 0);
    jw_key(w, "allowed_shard");
    jw_u64(w, 0);
    jw_obj_end(w);
    jw_key(w, "bandwidth_requests");
    jw_null(w);
    jw_key(w, "signature");
    jw_str(w, "ed25519:1111111111111111111111111111111111111111111111111111111111111111");
    jw_obj_end(w);
}

static void
m_block(struct sim_chain *c, struct sim_rpc_reply *out, const char *id_json, json_t *params)
{
    uint64_t h;
    char why[200];
    json_t *fin = NULL, *bid = NULL;
    if (json_is_array(params) && json_array_size(params) == 1)
        bid = json_array_get(params, 0);
    else if (json_is_object(params)) {
        fin = json_object_get(params, "finality");
        bid = json_object_get(params, "block_id");
    }
    int rc = block_ref(c, fin, bid, &h, why, sizeof(why));
    if (rc == -1) {
        parse_error(out, id_json, why);
        return;
    }
    if (rc == -2) {
        unknown_block_reply(out, id_json);
        return;
    }
    if (bid == NULL || json_is_null(bid)) /* fault: a node lagging behind */
        h = h - c->cfg.genesis_height > c->lag_blocks ? h - c->lag_blocks : c->cfg.genesis_height;
    const struct sim_block *b = sim_chain_block(c, h);
    const struct sim_block *last_final =
        sim_chain_block(c, h >= c->cfg.genesis_height + 2 ? h - 2 : c->cfg.genesis_height);
    struct jw w;
    result_begin(&w, id_json);
    jw_obj_begin(&w);
    jw_key(&w, "author");
    jw_str(&w, "nearsim.test.near");
    jw_key(&w, "header");
    jw_obj_begin(&w);
    jw_key(&w, "height");
    jw_u64(&w, b->height);
    jw_key(&w, "prev_height");
    jw_u64(&w, b->height > c->cfg.genesis_height ? b->height - 1 : b->height);
    jw_key(&w, "epoch_id");
    jw_str(&w, ZERO_HASH_B58);
    jw_key(&w, "next_epoch_id");
    jw_str(&w, ZERO_HASH_B58);
    jw_key(&w, "hash");
    w_hash(&w, b->hash);
    jw_key(&w, "prev_hash");
    w_hash(&w, b->prev_hash);
    const char *roots[] = {"prev_state_root",    "block_body_hash", "chunk_receipts_root",
                           "chunk_headers_root", "chunk_tx_root",   "outcome_root",
                           "challenges_root",    "random_value",    "next_bp_hash",
                           "block_merkle_root"};
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        jw_key(&w, roots[i]);
        jw_str(&w, ZERO_HASH_B58);
    }
    jw_key(&w, "chunks_included");
    jw_u64(&w, 1);
    jw_key(&w, "timestamp");
    jw_u64(&w, b->timestamp_ns);
    jw_key(&w, "timestamp_nanosec");
    char ts[24];
    snprintf(ts, sizeof(ts), "%llu", (unsigned long long)b->timestamp_ns);
    jw_str(&w, ts);
    jw_key(&w, "validator_proposals");
    jw_arr_begin(&w);
    jw_arr_end(&w);
    jw_key(&w, "chunk_mask");
    jw_arr_begin(&w);
    jw_bool(&w, 1);
    jw_arr_end(&w);
    jw_key(&w, "gas_price");
    jw_u128_str(&w, c->cfg.gas_price);
    jw_key(&w, "block_ordinal");
    jw_u64(&w, b->height - c->cfg.genesis_height + 1);
    /* deprecated, still sent by nearcore (and required by its OpenAPI schema) */
    jw_key(&w, "rent_paid");
    jw_str(&w, "0");
    jw_key(&w, "validator_reward");
    jw_str(&w, "0");
    jw_key(&w, "total_supply");
    jw_str(&w, "2500000000000000000000000000000000");
    jw_key(&w, "challenges_result");
    jw_arr_begin(&w);
    jw_arr_end(&w);
    jw_key(&w, "last_final_block");
    w_hash(&w, last_final->hash);
    jw_key(&w, "last_ds_final_block");
    w_block_hash(&w, c, h > c->cfg.genesis_height ? h - 1 : h);
    jw_key(&w, "epoch_sync_data_hash");
    jw_null(&w);
    jw_key(&w, "approvals");
    jw_arr_begin(&w);
    jw_arr_end(&w);
    jw_key(&w, "signature");
    jw_str(&w, "ed25519:1111111111111111111111111111111111111111111111111111111111111111");
    jw_key(&w, "latest_protocol_version");
    jw_u64(&w, 83);
    jw_key(&w, "chunk_endorsements");
    jw_null(&w);
    jw_obj_end(&w);
    jw_key(&w, "chunks");
    jw_arr_begin(&w);
    w_chunk_header(&w, c, b);
    jw_arr_end(&w);
    jw_obj_end(&w);
    result_end(&w, out);
}

/* m_chunk: params {"chunk_id": hash}, {"block_id", "shard_id"}, or the legacy [chunk_hash] and
 * [[block_id, shard_id]]. The one chunk of a block (shard 0) has the block's hash; it lists the
 * transactions the block included. Its receipts are the previous chunk's outgoing receipts, which a
 * one-shard chain of local receipts does not have: always []. */
static void
m_chunk(struct sim_chain *c, struct sim_rpc_reply *out, const char *id_json, json_t *params)
{
    json_t *cid = NULL, *bid = NULL, *sid = NULL;
    if (json_is_array(params) && json_array_size(params) == 1) {
        json_t *p0 = json_array_get(params, 0);
        if (json_is_array(p0) && json_array_size(p0) == 2) {
            bid = json_array_get(p0, 0);
            sid = json_array_get(p0, 1);
        } else {
            cid = p0;
        }
    } else if (json_is_object(params)) {
        cid = json_object_get(params, "chunk_id");
        bid = json_object_get(params, "block_id");
        sid = json_object_get(params, "shard_id");
    }
    const struct sim_block *b = NULL;
    char why[200], info[160], data[200];
    if (cid != NULL) {
        uint8_t hash[NEAR_HASH_LEN];
        const char *s = json_is_string(cid) ? json_string_value(cid) : NULL;
        if (s == NULL || b58_decode_exact(s, strlen(s), hash, NEAR_HASH_LEN) != 0) {
            parse_error(out, id_json, "Failed parsing args: invalid chunk hash");
            return;
        }
        b = sim_chain_block_by_hash(c, hash);
        if (b == NULL) {
            snprintf(info, sizeof(info), "{\"chunk_hash\":\"%s\"}", s);
            snprintf(data, sizeof(data),
                     "\"Chunk Missing (unavailable on the node): ChunkHash(`%s`) \\n Cause: "
                     "Unknown\"",
                     s);
            error_reply(out, id_json, "HANDLER_ERROR", "UNKNOWN_CHUNK", info, -32000,
                        "Server error", data, 200);
            return;
        }
    } else if (bid != NULL && sid != NULL) {
        if (!json_is_integer(sid) || json_integer_value(sid) < 0) {
            parse_error(out, id_json, "Failed parsing args: invalid shard id");
            return;
        }
        uint64_t h;
        int rc = block_ref(c, NULL, bid, &h, why, sizeof(why));
        if (rc == -1) {
            parse_error(out, id_json, why);
            return;
        }
        if (rc == -2) {
            unknown_block_reply(out, id_json);
            return;
        }
        json_int_t shard = json_integer_value(sid);
        if (shard != 0) {
            snprintf(info, sizeof(info), "{\"shard_id\":%lld}", (long long)shard);
            snprintf(data, sizeof(data), "\"Shard id %lld does not exist\"", (long long)shard);
            error_reply(out, id_json, "HANDLER_ERROR", "INVALID_SHARD_ID", info, -32000,
                        "Server error", data, 200);
            return;
        }
        b = sim_chain_block(c, h);
    } else {
        parse_error(out, id_json,
                    "Failed parsing args: expected {chunk_id} or {block_id, shard_id}");
        return;
    }
    struct jw w;
    result_begin(&w, id_json);
    jw_obj_begin(&w);
    jw_key(&w, "author");
    jw_str(&w, "nearsim.test.near");
    jw_key(&w, "header");
    w_chunk_header(&w, c, b);
    jw_key(&w, "transactions");
    jw_arr_begin(&w);
    for (const struct sim_tx *tx = b->first_tx; tx != NULL; tx = tx->block_next) {
        struct near_signed_tx stx;
        if (sim_tx_decode(c, tx, &stx) == 0)
            near_view_signed_tx(&w, &stx, SIM_DEC_ACTIONS);
    }
    jw_arr_end(&w);
    jw_key(&w, "receipts");
    jw_arr_begin(&w);
    jw_arr_end(&w);
    jw_obj_end(&w);
    result_end(&w, out);
}

/* m_receipt: EXPERIMENTAL_receipt {"receipt_id"}: the ReceiptView of a receipt an outcome names. */
static void
m_receipt(struct sim_chain *c, struct sim_rpc_reply *out, const char *id_json, json_t *params)
{
    json_t *rj = json_is_object(params) ? json_object_get(params, "receipt_id") : NULL;
    uint8_t id[NEAR_HASH_LEN];
    const char *s = json_is_string(rj) ? json_string_value(rj) : NULL;
    if (s == NULL) {
        parse_error(out, id_json, "Failed parsing args: missing field `receipt_id`");
        return;
    }
    if (b58_decode_exact(s, strlen(s), id, NEAR_HASH_LEN) != 0) {
        parse_error(out, id_json, "Failed parsing args: invalid receipt id");
        return;
    }
    int n = 0;
    struct sim_tx *tx = sim_chain_find_receipt(c, id, &n);
    struct near_signed_tx stx;
    if (tx == NULL || sim_tx_decode(c, tx, &stx) != 0) {
        char info[120], data[160];
        snprintf(info, sizeof(info), "{\"receipt_id\":\"%s\"}", s);
        snprintf(data, sizeof(data), "\"Receipt with id %s has never been observed on this node\"",
                 s);
        error_reply(out, id_json, "HANDLER_ERROR", "UNKNOWN_RECEIPT", info, -32000, "Server error",
                    data, 200);
        return;
    }
    char receiver[SIM_ACCOUNT_MAX + 1];
    size_t rl = stx.tx.receiver_id.len < SIM_ACCOUNT_MAX ? stx.tx.receiver_id.len : SIM_ACCOUNT_MAX;
    memcpy(receiver, stx.tx.receiver_id.ptr, rl);
    receiver[rl] = 0;
    int ids[2];
    nf_u128 amounts[2];
    nf_u128 amount = 0;
    int nr = refund_ids(tx, ids, amounts);
    for (int i = 0; i < nr; i++)
        if (ids[i] == n)
            amount = amounts[i];
    struct jw w;
    result_begin(&w, id_json);
    w_receipt_view(&w, c, tx, &stx, n, amount, tx->signer->id, receiver);
    result_end(&w, out);
}

/* w_time: a timestamp as nearcore's status renders it (time::OffsetDateTime in ISO 8601 with
 * nine fraction digits, UTC: "2026-12-05T08:00:00.123456789Z"). */
static void w_time(struct jw *w, uint64_t ns)
{
    time_t secs = (time_t)(ns / 1000000000ull);
    struct tm tm;
    char text[48];
    if (gmtime_r(&secs, &tm) == NULL) {
        jw_str(w, "1970-01-01T00:00:00.000000000Z");
        return;
    }
    size_t n = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(text + n, sizeof(text) - n, ".%09uZ", (unsigned)(ns % 1000000000ull));
    jw_str(w, text);
}

static void m_status(struct sim_chain *c, struct sim_rpc_reply *out, const char *id_json)
{
    const struct sim_block *head = sim_chain_block(c, c->head);
    const struct sim_block *gen = sim_chain_block(c, c->cfg.genesis_height);
    struct jw w;
    result_begin(&w, id_json);
    jw_obj_begin(&w);
    jw_key(&w, "chain_id");
    jw_str(&w, "nearsim");
    jw_key(&w, "genesis_hash");
    w_hash(&w, gen->hash);
    jw_key(&w, "latest_protocol_version");
    jw_u64(&w, 83);
    jw_key(&w, "protocol_version");
    jw_u64(&w, 83);
    jw_key(&w, "node_public_key");
    jw_str(&w, "ed25519:" ZERO_HASH_B58);
    jw_key(&w, "node_key");
    jw_null(&w);
    jw_key(&w, "sync_info");
    jw_obj_begin(&w);
    jw_key(&w, "latest_block_hash");
    w_hash(&w, head->hash);
    jw_key(&w, "latest_block_height");
    jw_u64(&w, head->height);
    jw_key(&w, "latest_block_time");
    w_time(&w, head->timestamp_ns);
    jw_key(&w, "latest_state_root");
    jw_str(&w, ZERO_HASH_B58);
    jw_key(&w, "syncing");
    jw_bool(&w, 0);
    jw_key(&w, "earliest_block_hash");
    w_hash(&w, gen->hash);
    jw_key(&w, "earliest_block_height");
    jw_u64(&w, gen->height);
    jw_key(&w, "earliest_block_time");
    w_time(&w, gen->timestamp_ns);
    jw_key(&w, "epoch_id");
    jw_str(&w, ZERO_HASH_B58);
    jw_key(&w, "epoch_start_height");
    jw_u64(&w, gen->height);
    jw_obj_end(&w);
    jw_key(&w, "validators");
    jw_arr_begin(&w);
    jw_obj_begin(&w);
    jw_key(&w, "account_id");
    jw_str(&w, "nearsim.test.near");
    jw_key(&w, "is_slashed");
    jw_bool(&w, 0);
    jw_obj_end(&w);
    jw_arr_end(&w);
    jw_key(&w, "version");
    jw_obj_begin(&w);
    jw_key(&w, "version");
    jw_str(&w, "nearsim-0.1");
    jw_key(&w, "build");
    jw_str(&w, "nearsim");
    jw_key(&w, "commit");
    jw_str(&w, "nearsim");
    jw_key(&w, "rustc_version");
    jw_str(&w, "none");
    jw_obj_end(&w);
    jw_key(&w, "uptime_sec");
    jw_u64(&w, (head->timestamp_ns - gen->timestamp_ns) / 1000000000ull);
    jw_key(&w, "validator_account_id");
    jw_null(&w);
    jw_key(&w, "validator_public_key");
    jw_null(&w);
    jw_obj_end(&w);
    result_end(&w, out);
}

static void
m_gas_price(struct sim_chain *c, struct sim_rpc_reply *out, const char *id_json, json_t *params)
{
    json_t *bid = NULL;
    if (json_is_array(params) && json_array_size(params) >= 1)
        bid = json_array_get(params, 0);
    else if (json_is_object(params))
        bid = json_object_get(params, "block_id");
    if (bid != NULL && !json_is_null(bid)) {
        uint64_t h;
        char why[200];
        int rc = block_ref(c, NULL, bid, &h, why, sizeof(why));
        if (rc == -1) {
            parse_error(out, id_json, why);
            return;
        }
        if (rc == -2) {
            unknown_block_reply(out, id_json);
            return;
        }
    }
    struct jw w;
    result_begin(&w, id_json);
    jw_obj_begin(&w);
    jw_key(&w, "gas_price");
    jw_u128_str(&w, c->cfg.gas_price);
    jw_obj_end(&w);
    result_end(&w, out);
}

static void w_permission(struct jw *w, const struct sim_key *k)
{
    if (k->full_access) {
        jw_str(w, "FullAccess");
        return;
    }
    jw_obj_begin(w);
    jw_key(w, "FunctionCall");
    jw_obj_begin(w);
    jw_key(w, "allowance");
    if (k->has_allowance)
        jw_u128_str(w, k->allowance);
    else
        jw_null(w);
    jw_key(w, "receiver_id");
    jw_str(w, k->fc_receiver ? k->fc_receiver : "");
    jw_key(w, "method_names");
    jw_arr_begin(w);
    for (uint32_t i = 0; i < k->n_fc_methods; i++)
        jw_str(w, k->fc_methods[i]);
    jw_arr_end(w);
    jw_obj_end(w);
    jw_obj_end(w);
}

static void query_legacy_error(struct sim_rpc_reply *out,
                               const struct sim_chain *c,
                               const char *id_json,
                               const struct sim_block *b,
                               const char *text)
{
    struct jw w;
    result_begin(&w, id_json);
    jw_obj_begin(&w);
    jw_key(&w, "error");
    jw_str(&w, text);
    jw_key(&w, "logs");
    jw_arr_begin(&w);
    jw_arr_end(&w);
    w_block_header_common(&w, c, b);
    jw_obj_end(&w);
    result_end(&w, out);
}

/* account_error_reply: a query HANDLER_ERROR whose info is {key: account, block_height,
 * block_hash} and whose data is msg. */
static void account_error_reply(struct sim_rpc_reply *out,
                                const char *id_json,
                                const struct sim_block *b,
                                const char *cause,
                                const char *key,
                                const char *account,
                                const char *msg)
{
    char info[300], data[300], hb[B58_MAX_32];
    if (b58_encode(b->hash, NEAR_HASH_LEN, hb, sizeof(hb)) < 0)
        hb[0] = 0;
    snprintf(info, sizeof(info), "{\"%s\":\"%s\",\"block_height\":%llu,\"block_hash\":\"%s\"}", key,
             account, (unsigned long long)b->height, hb);
    snprintf(data, sizeof(data), "\"%s\"", msg);
    error_reply(out, id_json, "HANDLER_ERROR", cause, info, -32000, "Server error", data, 200);
}

static void unknown_account_reply(struct sim_rpc_reply *out,
                                  const char *id_json,
                                  const struct sim_block *b,
                                  const char *account)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "account %s does not exist while viewing", account);
    account_error_reply(out, id_json, b, "UNKNOWN_ACCOUNT", "requested_account_id", account, msg);
}

/* The FT contract's code as nearsim shows it: the smallest valid wasm module (magic + version).
 * view_account's code_hash is its sha256, so view_code and view_account agree. */
static const uint8_t ft_code[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};

static void w_code_hash(struct jw *w, int is_contract)
{
    uint8_t h[NEAR_HASH_LEN];
    if (!is_contract) {
        jw_str(w, ZERO_HASH_B58);
        return;
    }
    crypto_hash_sha256(h, ft_code, sizeof(ft_code));
    w_hash(w, h);
}

/* One parsed query request: the block it reads at and the account it names (a: NULL when the
 * chain never saw it; exists: it exists at that block). Borrowed for the call. */
struct query {
    struct sim_chain *c;
    struct sim_rpc_reply *out;
    const char *id_json;
    json_t *params;
    uint64_t h;
    const struct sim_block *b;
    const char *account;
    const struct sim_account *a;
    int exists;
};

/* q_view_access_key: query request_type view_access_key (q: the parsed query). */
static void q_view_access_key(const struct query *q)
{
    struct jw w;
    json_t *pkj = json_object_get(q->params, "public_key");
    struct nf_pubkey pk;
    if (!json_is_string(pkj) ||
        keys_pubkey_parse(json_string_value(pkj), json_string_length(pkj), &pk) != 0) {
        parse_error(q->out, q->id_json, "Failed parsing args: invalid or missing `public_key`");
        return;
    }
    const struct sim_key *k = q->exists ? sim_account_key(q->a, &pk) : NULL;
    if (k == NULL) {
        char text[200], pks[KEYS_PUBKEY_STR_MAX + 64];
        if (keys_pubkey_format(&pk, pks, sizeof(pks)) < 0)
            pks[0] = 0;
        snprintf(text, sizeof(text), "access key %s does not exist while viewing", pks);
        query_legacy_error(q->out, q->c, q->id_json, q->b, text);
        return;
    }
    result_begin(&w, q->id_json);
    jw_obj_begin(&w);
    jw_key(&w, "nonce");
    jw_u64(&w, sim_chain_nonce_at(q->c, q->a, k, q->h));
    jw_key(&w, "permission");
    w_permission(&w, k);
    w_block_header_common(&w, q->c, q->b);
    jw_obj_end(&w);
    result_end(&w, q->out);
}

/* q_view_access_key_list: query request_type view_access_key_list (q: the parsed query). */
static void q_view_access_key_list(const struct query *q)
{
    struct jw w;
    result_begin(&w, q->id_json);
    jw_obj_begin(&w);
    jw_key(&w, "keys");
    jw_arr_begin(&w);
    for (uint32_t i = 0; q->exists && i < q->a->n_keys; i++) {
        jw_obj_begin(&w);
        jw_key(&w, "public_key");
        w_pk(&w, &q->a->keys[i].pk);
        jw_key(&w, "access_key");
        jw_obj_begin(&w);
        jw_key(&w, "nonce");
        jw_u64(&w, sim_chain_nonce_at(q->c, q->a, &q->a->keys[i], q->h));
        jw_key(&w, "permission");
        w_permission(&w, &q->a->keys[i]);
        jw_obj_end(&w);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    w_block_header_common(&w, q->c, q->b);
    jw_obj_end(&w);
    result_end(&w, q->out);
}

/* q_view_account: query request_type view_account (q: the parsed query). */
static void q_view_account(const struct query *q)
{
    struct jw w;
    if (!q->exists) {
        unknown_account_reply(q->out, q->id_json, q->b, q->account);
        return;
    }
    result_begin(&w, q->id_json);
    jw_obj_begin(&w);
    jw_key(&w, "amount");
    jw_u128_str(&w, q->a->balance);
    jw_key(&w, "locked");
    jw_str(&w, "0");
    jw_key(&w, "code_hash");
    w_code_hash(&w, q->a->is_contract);
    jw_key(&w, "storage_usage");
    jw_u64(&w, q->a->storage_bytes ? q->a->storage_bytes : 182 + 100 * (uint64_t)q->a->n_keys);
    jw_key(&w, "storage_paid_at");
    jw_u64(&w, 0);
    w_block_header_common(&w, q->c, q->b);
    jw_obj_end(&w);
    result_end(&w, q->out);
}

/* q_call_function: query request_type call_function (q: the parsed query). */
static void q_call_function(const struct query *q)
{
    int rc;
    struct jw w;
    json_t *mj = json_object_get(q->params, "method_name");
    json_t *aj = json_object_get(q->params, "args_base64");
    if (!json_is_string(mj) || (aj != NULL && !json_is_string(aj))) {
        parse_error(q->out, q->id_json, "Failed parsing args: missing field `method_name`");
        return;
    }
    size_t n = 0;
    uint8_t *args = NULL;
    if (aj != NULL && json_string_length(aj) > 0) {
        args = decode_b64(json_string_value(aj), json_string_length(aj), &n);
        if (args == NULL) {
            parse_error(q->out, q->id_json, "Failed parsing args: invalid base64 in `args_base64`");
            return;
        }
    }
    if (!q->exists) {
        free(args);
        unknown_account_reply(q->out, q->id_json, q->b, q->account);
        return;
    }
    if (!q->a->is_contract) {
        char info[300], data[200], hb[B58_MAX_32];
        if (b58_encode(q->b->hash, NEAR_HASH_LEN, hb, sizeof(hb)) < 0)
            hb[0] = 0;
        snprintf(info, sizeof(info),
                 "{\"contract_account_id\":\"%s\",\"block_height\":%llu,\"block_hash\":\"%s\"}",
                 q->account, (unsigned long long)q->b->height, hb);
        snprintf(data, sizeof(data),
                 "\"Contract code for contract ID #%s has never been observed on the node\"",
                 q->account);
        error_reply(q->out, q->id_json, "HANDLER_ERROR", "NO_CONTRACT_CODE", info, -32000,
                    "Server error", data, 200);
        free(args);
        return;
    }
    struct jw res;
    jw_init_growable(&res);
    char err[400];
    rc = sim_ft_view(q->c, json_string_value(mj), json_string_length(mj),
                     args ? args : (const uint8_t *)"", n, &res, err, sizeof(err));
    free(args);
    if (rc != 0) {
        jw_free(&res);
        char text[500];
        if (rc == NF_ENOTFOUND)
            snprintf(text, sizeof(text),
                     "wasm execution failed with error: "
                     "FunctionCallError(MethodResolveError(MethodNotFound))");
        else
            snprintf(text, sizeof(text),
                     "wasm execution failed with error: FunctionCallError(ExecutionError(\"%s\"))",
                     err);
        query_legacy_error(q->out, q->c, q->id_json, q->b, text);
        return;
    }
    size_t rl = 0;
    if (jw_finish(&res, &rl) != 0)
        rl = 0;
    result_begin(&w, q->id_json);
    jw_obj_begin(&w);
    jw_key(&w, "result");
    jw_arr_begin(&w);
    for (size_t i = 0; i < rl; i++)
        jw_u64(&w, (uint8_t)res.buf[i]);
    jw_arr_end(&w);
    jw_key(&w, "logs");
    jw_arr_begin(&w);
    jw_arr_end(&w);
    w_block_header_common(&w, q->c, q->b);
    jw_obj_end(&w);
    jw_free(&res);
    result_end(&w, q->out);
}

/* q_view_code: query request_type view_code (q: the parsed query). */
static void q_view_code(const struct query *q)
{
    char why[300];
    struct jw w;
    if (!q->exists) {
        unknown_account_reply(q->out, q->id_json, q->b, q->account);
        return;
    }
    if (!q->a->is_contract) {
        snprintf(why, sizeof(why),
                 "Contract code for contract ID %s has never been observed on the node",
                 q->account);
        account_error_reply(q->out, q->id_json, q->b, "NO_CONTRACT_CODE", "contract_account_id",
                            q->account, why);
        return;
    }
    result_begin(&w, q->id_json);
    jw_obj_begin(&w);
    jw_key(&w, "code_base64");
    jw_base64(&w, ft_code, sizeof(ft_code));
    jw_key(&w, "hash");
    w_code_hash(&w, 1);
    w_block_header_common(&w, q->c, q->b);
    jw_obj_end(&w);
    result_end(&w, q->out);
}

/* q_view_state: query request_type view_state (q: the parsed query). */
static void q_view_state(const struct query *q)
{
    char why[300];
    struct jw w;
    json_t *pj = json_object_get(q->params, "prefix_base64");
    if (!json_is_string(pj)) {
        parse_error(q->out, q->id_json, "Failed parsing args: missing field `prefix_base64`");
        return;
    }
    if (!q->exists) {
        unknown_account_reply(q->out, q->id_json, q->b, q->account);
        return;
    }
    /* The token's state (one entry per holder) is past nearcore's 50 kB view limit; other
     * accounts have no contract state. */
    if (q->a->is_contract) {
        snprintf(why, sizeof(why), "State of contract %s is too large to be viewed", q->account);
        account_error_reply(q->out, q->id_json, q->b, "TOO_LARGE_CONTRACT_STATE",
                            "contract_account_id", q->account, why);
        return;
    }
    result_begin(&w, q->id_json);
    jw_obj_begin(&w);
    jw_key(&w, "values"); /* "proof" is skipped when empty, as nearcore does */
    jw_arr_begin(&w);
    jw_arr_end(&w);
    w_block_header_common(&w, q->c, q->b);
    jw_obj_end(&w);
    result_end(&w, q->out);
}

static const struct {
    const char *type;
    void (*answer)(const struct query *q);
} query_types[] = {
    {"view_access_key", q_view_access_key},
    {"view_access_key_list", q_view_access_key_list},
    {"view_account", q_view_account},
    {"call_function", q_call_function},
    {"view_code", q_view_code},
    {"view_state", q_view_state},
};

static void
m_query(struct sim_chain *c, struct sim_rpc_reply *out, const char *id_json, json_t *params)
{
    char why[300];
    if (!json_is_object(params)) {
        parse_error(out, id_json, "Failed parsing args: expected an object");
        return;
    }
    uint64_t h;
    int rc = block_ref(c, json_object_get(params, "finality"), json_object_get(params, "block_id"),
                       &h, why, sizeof(why));
    if (rc == -1) {
        parse_error(out, id_json, why);
        return;
    }
    if (rc == -2) {
        /* query's UNKNOWN_BLOCK names the block reference it was given */
        json_t *bj = json_object_get(params, "block_id");
        char *ref = bj ? json_dumps(bj, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        char info[200];
        snprintf(info, sizeof(info), "{\"block_reference\":{\"block_id\":%.150s}}",
                 ref ? ref : "null");
        free(ref);
        error_reply(out, id_json, "HANDLER_ERROR", "UNKNOWN_BLOCK", info, -32000, "Server error",
                    "\"DB Not Found Error: BLOCK: Unknown\"", 200);
        return;
    }
    const struct sim_block *b = sim_chain_block(c, h);
    json_t *rt = json_object_get(params, "request_type");
    json_t *acc = json_object_get(params, "account_id");
    if (!json_is_string(rt)) {
        parse_error(out, id_json, "Failed parsing args: missing field `request_type`");
        return;
    }
    if (!json_is_string(acc)) {
        parse_error(out, id_json, "Failed parsing args: missing field `account_id`");
        return;
    }
    const char *type = json_string_value(rt);
    const char *account = json_string_value(acc);
    size_t alen = json_string_length(acc);
    if (account_id_check(account, alen, NULL) < 0) {
        snprintf(why, sizeof(why), "Failed parsing args: invalid account id `%.64s`", account);
        parse_error(out, id_json, why);
        return;
    }
    const struct sim_account *a = sim_chain_account(c, account, alen);
    const struct query q = {c, out, id_json, params, h, b, account, a, a != NULL && a->exists};
    for (size_t i = 0; i < sizeof(query_types) / sizeof(query_types[0]); i++)
        if (strcmp(type, query_types[i].type) == 0) {
            query_types[i].answer(&q);
            return;
        }
    snprintf(why, sizeof(why),
             "Failed parsing args: unknown variant `%.40s`, expected one of `view_account`, "
             "`view_code`, `view_state`, `view_access_key`, `view_access_key_list`, "
             "`call_function`",
             type);
    parse_error(out, id_json, why);
}

/* ---- fast path for the send methods
 * -------------------------------------------------------------------------------------------
 * The common request, {"jsonrpc","id","method":"send_tx"|"broadcast_tx_*","params":
 * {"signed_tx_base64","wait_until"?}}, is read with the strict tokenizer (jtok) instead of building
 * a jansson tree around a ~15 KB base64 string. Only plain shapes are taken: every key once and
 * unescaped, an id that is null, an integer without sign of at most 18 digits or a string of
 * [A-Za-z0-9_.:-], string values without escapes, no other params. Anything else (including every
 * malformed request) returns 0 and goes through the jansson path, which produces the same answers
 * for these shapes and all the error texts. */

static int fast_id(const char *body, const struct jtok *t, char *out, size_t cap)
{
    size_t n = t->end - t->start;
    const char *p = body + t->start;
    if (t->type == JTOK_NULL) {
        snprintf(out, cap, "null");
        return 1;
    }
    if (t->type == JTOK_NUMBER) {
        if (!(t->flags & JTOK_F_INT) || (t->flags & JTOK_F_NEG) || n == 0 || n > 18)
            return 0;
        snprintf(out, cap, "%.*s", (int)n, p);
        return 1;
    }
    if (t->type != JTOK_STRING || (t->flags & JTOK_F_ESCAPED) || n + 3 > cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == ':' || ch == '-'))
            return 0;
    }
    snprintf(out, cap, "\"%.*s\"", (int)n, p);
    return 1;
}

static int fast_send(
    struct sim_chain *c, uint64_t lag, const char *body, size_t len, struct sim_rpc_reply *out)
{
    struct jtok toks[16];
    int nt = jtok_parse(body, len, toks, sizeof(toks) / sizeof(toks[0]), NULL);
    if (nt < 1 || toks[0].type != JTOK_OBJECT)
        return 0;
    int id = -1, method = -1, params = -1, seen_rpc = 0;
    for (int k = 1, i = 0; i < (int)toks[0].size; i++, k = (int)toks[k + 1].next) {
        const struct jtok *key = &toks[k];
        if (key->flags & JTOK_F_ESCAPED)
            return 0;
        int *slot = jtok_str_eqz(body, key, "id")       ? &id
                    : jtok_str_eqz(body, key, "method") ? &method
                    : jtok_str_eqz(body, key, "params") ? &params
                                                        : NULL;
        if (slot == NULL) {
            if (!jtok_str_eqz(body, key, "jsonrpc") || seen_rpc++)
                return 0;
            continue;
        }
        if (*slot != -1)
            return 0; /* a repeated key: jansson's last-wins rule decides */
        *slot = k + 1;
    }
    if (method < 0 || params < 0 || toks[method].type != JTOK_STRING ||
        (toks[method].flags & JTOK_F_ESCAPED) || toks[params].type != JTOK_OBJECT)
        return 0;
    int m = jtok_str_eqz(body, &toks[method], "send_tx")               ? 0
            : jtok_str_eqz(body, &toks[method], "broadcast_tx_commit") ? 1
            : jtok_str_eqz(body, &toks[method], "broadcast_tx_async")  ? 2
                                                                       : -1;
    if (m < 0)
        return 0;
    char id_json[64];
    if (id < 0)
        snprintf(id_json, sizeof(id_json), "null");
    else if (!fast_id(body, &toks[id], id_json, sizeof(id_json)))
        return 0;
    int b64 = -1, wu = -1;
    for (int k = params + 1, i = 0; i < (int)toks[params].size; i++, k = (int)toks[k + 1].next) {
        const struct jtok *key = &toks[k];
        int *slot = (key->flags & JTOK_F_ESCAPED)                 ? NULL
                    : jtok_str_eqz(body, key, "signed_tx_base64") ? &b64
                    : jtok_str_eqz(body, key, "wait_until")       ? &wu
                                                                  : NULL;
        if (slot == NULL || *slot != -1 || toks[k + 1].type != JTOK_STRING ||
            (toks[k + 1].flags & JTOK_F_ESCAPED))
            return 0;
        *slot = k + 1;
    }
    if (b64 < 0 || (wu >= 0 && m != 0))
        return 0;
    char wait[40];
    if (wu >= 0) {
        size_t wl = toks[wu].end - toks[wu].start;
        if (wl >= sizeof(wait))
            return 0;
        memcpy(wait, body + toks[wu].start, wl);
        wait[wl] = '\0';
        if (sim_level_parse(wait) < 0)
            return 0;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->method, sizeof(out->method), "%s",
             m == 0   ? "send_tx"
             : m == 1 ? "broadcast_tx_commit"
                      : "broadcast_tx_async");
    m_send_b64(c, lag, out, id_json, body + toks[b64].start, toks[b64].end - toks[b64].start,
               wu >= 0 ? wait : NULL, m);
    return 1;
}

int sim_rpc_handle(struct sim_chain *c, const char *body, size_t len, struct sim_rpc_reply *out)
{
    return sim_rpc_handle_lagged(c, 0, body, len, out);
}

int sim_rpc_handle_lagged(
    struct sim_chain *c, uint64_t lag, const char *body, size_t len, struct sim_rpc_reply *out)
{
    memset(out, 0, sizeof(*out));
    if (fast_send(c, lag, body, len, out)) {
        if (!out->pending && out->body == NULL)
            return NF_ENOMEM;
        return 0;
    }
    json_error_t err;
    json_t *root = json_loadb(body, len, 0, &err);
    if (root == NULL || !json_is_object(root)) {
        char msg[300];
        snprintf(msg, sizeof(msg), "Unable to parse request: %s",
                 root == NULL ? err.text : "expected an object");
        json_decref(root);
        parse_error(out, "null", msg);
        return out->body ? 0 : NF_ENOMEM;
    }
    json_t *id = json_object_get(root, "id");
    char *id_json = id ? json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    const char *idj = id_json ? id_json : "null";
    json_t *mj = json_object_get(root, "method");
    json_t *params = json_object_get(root, "params");
    if (!json_is_string(mj)) {
        parse_error(out, idj, "Unable to parse request: missing field `method`");
        goto done;
    }
    const char *m = json_string_value(mj);
    snprintf(out->method, sizeof(out->method), "%s", m);
    /* Writes go to the live chain (m_send_b64 rewinds only to validate and answer); every other
     * method answers from the chain as of head - lag. */
    int send = strcmp(m, "send_tx") == 0               ? 0
               : strcmp(m, "broadcast_tx_commit") == 0 ? 1
               : strcmp(m, "broadcast_tx_async") == 0  ? 2
                                                       : -1;
    int rewound = send < 0 ? view_begin(c, lag) : 0;
    if (send >= 0)
        m_send(c, lag, out, idj, params, send);
    else if (strcmp(m, "tx") == 0)
        m_tx(c, lag, out, idj, params, 0);
    else if (strcmp(m, "EXPERIMENTAL_tx_status") == 0)
        m_tx(c, lag, out, idj, params, 1);
    else if (strcmp(m, "block") == 0)
        m_block(c, out, idj, params);
    else if (strcmp(m, "chunk") == 0)
        m_chunk(c, out, idj, params);
    else if (strcmp(m, "EXPERIMENTAL_receipt") == 0)
        m_receipt(c, out, idj, params);
    else if (strcmp(m, "status") == 0)
        m_status(c, out, idj);
    else if (strcmp(m, "gas_price") == 0)
        m_gas_price(c, out, idj, params);
    else if (strcmp(m, "query") == 0)
        m_query(c, out, idj, params);
    else {
        char *data = json_string_text(m);
        struct jw w;
        jw_init_growable(&w);
        jw_obj_begin(&w);
        jw_key(&w, "method_name");
        jw_str(&w, m);
        jw_obj_end(&w);
        char *info = jw_take(&w, NULL);
        error_reply(out, idj, "REQUEST_VALIDATION_ERROR", "METHOD_NOT_FOUND", info ? info : "{}",
                    -32601, "Method not found", data ? data : "\"\"", 400);
        free(info);
        free(data);
    }
    view_end(c, rewound);
done:
    free(id_json);
    json_decref(root);
    if (!out->pending && out->body == NULL)
        return NF_ENOMEM;
    return 0;
}

/* ---- audit ----------------------------------------------------------------------------------- */

char *sim_rpc_audit(const struct sim_chain *c, const char *memo, size_t *len)
{
    const struct sim_audit *a = &c->audit;
    struct jw w;
    jw_init_growable(&w);
    jw_obj_begin(&w);
    jw_key(&w, "head");
    jw_u64(&w, c->head);
    jw_key(&w, "final");
    jw_u64(&w, sim_chain_final(c));
    jw_key(&w, "transfers_applied");
    jw_u64(&w, a->transfers_applied);
    jw_key(&w, "actions_applied");
    jw_u64(&w, a->actions_applied);
    jw_key(&w, "txs_admitted");
    jw_u64(&w, a->txs_admitted);
    jw_key(&w, "txs_included");
    jw_u64(&w, a->txs_included);
    jw_key(&w, "txs_applied");
    jw_u64(&w, a->receipts_ok);
    jw_key(&w, "txs_failed");
    jw_u64(&w, a->receipts_failed);
    jw_key(&w, "duplicate_submissions");
    jw_u64(&w, a->txs_duplicate);
    jw_key(&w, "txs_dropped");
    jw_obj_begin(&w);
    jw_key(&w, "InvalidNonce");
    jw_u64(&w, a->txs_dropped_nonce);
    jw_key(&w, "NonceTooLarge");
    jw_u64(&w, a->txs_dropped_nonce_large);
    jw_key(&w, "other");
    jw_u64(&w, a->txs_dropped_other);
    jw_obj_end(&w);
    jw_key(&w, "rejected");
    jw_obj_begin(&w);
    uint64_t total_rej = 0;
    for (int i = 1; i < SIM_REJ__COUNT; i++) {
        total_rej += a->rejected[i];
        if (a->rejected[i] > 0) {
            jw_key(&w, sim_reject_name((enum sim_reject_code)i));
            jw_u64(&w, a->rejected[i]);
        }
    }
    jw_obj_end(&w);
    jw_key(&w, "rejected_total");
    jw_u64(&w, total_rej);
    jw_key(&w, "pool");
    jw_u64(&w, c->n_pool);
    jw_key(&w, "delayed_receipts");
    jw_u64(&w, c->rq_len);
    nf_u128 sum = sim_chain_ft_supply_sum(c);
    jw_key(&w, "total_supply");
    jw_u128_str(&w, c->ft_total_supply);
    jw_key(&w, "supply_sum");
    jw_u128_str(&w, sum);
    jw_key(&w, "supply_conserved");
    jw_bool(&w, sum == c->ft_total_supply);
    jw_key(&w, "signer");
    jw_obj_begin(&w);
    jw_key(&w, "account_id");
    jw_str(&w, c->signer->id);
    jw_key(&w, "ft_balance");
    jw_u128_str(&w, c->signer->ft_balance);
    jw_key(&w, "near_balance");
    jw_u128_str(&w, c->signer->balance);
    jw_obj_end(&w);
    jw_key(&w, "balances");
    jw_obj_begin(&w);
    size_t pos = 0;
    const struct sim_account *acct;
    while ((acct = sim_map_next(&c->accounts, &pos)) != NULL) {
        if (acct->ft_registered && acct->ft_balance > 0) {
            jw_key(&w, acct->id);
            jw_u128_str(&w, acct->ft_balance);
        }
    }
    jw_obj_end(&w);
    jw_key(&w, "memos_distinct");
    jw_u64(&w, c->memos.count);
    jw_key(&w, "duplicate_memo_count");
    jw_u64(&w, a->duplicate_memo_count);
    jw_key(&w, "duplicate_memos");
    jw_arr_begin(&w);
    for (size_t i = 0; i < c->n_dup_memos; i++)
        jw_str(&w, c->dup_memos[i]);
    jw_arr_end(&w);
    if (memo != NULL) {
        const struct sim_memo *m = sim_chain_memo(c, memo, strlen(memo));
        jw_key(&w, "memo");
        jw_obj_begin(&w);
        jw_key(&w, "memo");
        jw_str(&w, memo);
        jw_key(&w, "count");
        jw_u64(&w, m ? m->count : 0);
        jw_obj_end(&w);
    }
    jw_obj_end(&w);
    return jw_take(&w, len);
}

char *sim_rpc_memos(const struct sim_chain *c, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    size_t pos = 0;
    const struct sim_memo *m;
    while ((m = sim_map_next(&c->memos, &pos)) != NULL) {
        char line[8192];
        struct jw w;
        size_t ln;
        jw_init_fixed(&w, line, sizeof(line));
        jw_obj_begin(&w);
        jw_key(&w, "memo");
        jw_strn(&w, m->text, m->len);
        jw_key(&w, "count");
        jw_u64(&w, m->count);
        jw_obj_end(&w);
        if (jw_finish(&w, &ln) != 0)
            continue;
        if (n + ln + 2 > cap) {
            while (n + ln + 2 > cap)
                cap *= 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        memcpy(buf + n, line, ln);
        n += ln;
        buf[n++] = '\n';
    }
    buf[n] = 0;
    if (len != NULL)
        *len = n;
    return buf;
}
