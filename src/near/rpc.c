/* rpc: NEAR JSON-RPC request builders and response classifier (see include/rpc.h and
 * docs/PROTOCOL.md section 3). Builders write with jw into the caller's buffer (exact size checks);
 * the classifier walks jtok tokens of the caller's scratch and copies what it needs into struct
 * rpc_result. It accepts both the structured error form (name/cause/info) and the legacy forms
 * (data-only errors, the in-result query "error" string, TIMEOUT_ERROR with and without the 2026
 * info.cause). It also reads what comes around the envelope: a Retry-After header line and the
 * call_function results the daemon acts on (a U128 string, storage_balance_of's null or object).
 * Pure and allocation-free; runs on whichever thread calls it (normally the submit thread) and
 * owns nothing.
 */
#include "rpc.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "account.h"
#include "base58.h"
#include "jw.h"
#include "nf_err.h"

static const char *const wait_names[] = {"NONE",           "INCLUDED", "EXECUTED_OPTIMISTIC",
                                         "INCLUDED_FINAL", "EXECUTED", "FINAL"};

const char *rpc_wait_name(int w)
{
    if (w < 0 || w > RPC_WAIT_FINAL)
        return "?";
    return wait_names[w];
}

int rpc_wait_parse(const char *s, size_t len, enum rpc_wait *out)
{
    for (int i = 0; i <= RPC_WAIT_FINAL; i++) {
        if (strlen(wait_names[i]) == len && memcmp(wait_names[i], s, len) == 0) {
            *out = (enum rpc_wait)i;
            return 0;
        }
    }
    return NF_EINVAL;
}

/* ---- builders --------------------------------------------------------------------------------
 * jw into the caller's buffer (the send_tx path base64-encodes straight into it). Every string
 * argument must be plain printable ASCII without '"' or '\\' (ids, account ids, keys, hashes,
 * base64), so a request never carries an escape a NEAR node might read differently. */

/* plain: s is printable ASCII without '"' or '\\'. */
static int plain(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

/* member: "key":"value"; a value that is not plain() fails the request with NF_EINVAL. */
static void member(struct jw *w, const char *key, const char *value)
{
    jw_key(w, key);
    if (!plain(value)) {
        if (w->error == 0)
            w->error = NF_EINVAL;
        return;
    }
    jw_str(w, value);
}

/* begin: {"jsonrpc":"2.0","id":id,"method":method,"params": and, unless params is NULL (the
 * caller writes them), the params object opened. */
static void begin(struct jw *w, char *buf, size_t cap, const char *id, const char *method)
{
    jw_init_fixed(w, buf, cap);
    jw_obj_begin(w);
    member(w, "jsonrpc", "2.0");
    member(w, "id", id);
    member(w, "method", method);
    jw_key(w, "params");
}

/* finish: closes the request; its length, or the first error (NF_ENOSPC / NF_EINVAL). */
static int finish(struct jw *w)
{
    jw_obj_end(w);
    size_t len = 0;
    int rc = jw_finish(w, &len);
    if (rc != 0)
        return rc;
    return len > (size_t)0x7FFFFFFF ? NF_ENOSPC : (int)len;
}

int rpc_build_send_tx(char *buf,
                      size_t cap,
                      const char *id,
                      const uint8_t *signed_tx,
                      size_t tx_len,
                      enum rpc_wait wait_until)
{
    struct jw w;
    begin(&w, buf, cap, id, "send_tx");
    jw_obj_begin(&w);
    jw_key(&w, "signed_tx_base64");
    jw_base64(&w, signed_tx, tx_len);
    member(&w, "wait_until", rpc_wait_name(wait_until));
    jw_obj_end(&w);
    return finish(&w);
}

int rpc_build_send_tx_b64(
    char *buf, size_t cap, const char *id, const char *signed_tx_base64, enum rpc_wait wait_until)
{
    struct jw w;
    begin(&w, buf, cap, id, "send_tx");
    jw_obj_begin(&w);
    member(&w, "signed_tx_base64", signed_tx_base64);
    member(&w, "wait_until", rpc_wait_name(wait_until));
    jw_obj_end(&w);
    return finish(&w);
}

int rpc_build_tx_status(char *buf,
                        size_t cap,
                        const char *id,
                        const char *tx_hash_b58,
                        const char *sender_account_id,
                        enum rpc_wait wait_until)
{
    struct jw w;
    begin(&w, buf, cap, id, "tx");
    jw_obj_begin(&w);
    member(&w, "tx_hash", tx_hash_b58);
    member(&w, "sender_account_id", sender_account_id);
    member(&w, "wait_until", rpc_wait_name(wait_until));
    jw_obj_end(&w);
    return finish(&w);
}

int rpc_build_block_final(char *buf, size_t cap, const char *id)
{
    struct jw w;
    begin(&w, buf, cap, id, "block");
    jw_obj_begin(&w);
    member(&w, "finality", "final");
    jw_obj_end(&w);
    return finish(&w);
}

/* query_begin: a query request up to its params' request_type and finality (params left open). */
static void query_begin(struct jw *w,
                        char *buf,
                        size_t cap,
                        const char *id,
                        enum rpc_finality fin,
                        const char *request_type)
{
    begin(w, buf, cap, id, "query");
    jw_obj_begin(w);
    member(w, "request_type", request_type);
    member(w, "finality", fin == RPC_FINALITY_OPTIMISTIC ? "optimistic" : "final");
}

int rpc_build_view_access_key(char *buf,
                              size_t cap,
                              const char *id,
                              enum rpc_finality fin,
                              const char *account_id,
                              const char *public_key)
{
    struct jw w;
    query_begin(&w, buf, cap, id, fin, "view_access_key");
    member(&w, "account_id", account_id);
    member(&w, "public_key", public_key);
    jw_obj_end(&w);
    return finish(&w);
}

int rpc_build_view_access_key_list(
    char *buf, size_t cap, const char *id, enum rpc_finality fin, const char *account_id)
{
    struct jw w;
    query_begin(&w, buf, cap, id, fin, "view_access_key_list");
    member(&w, "account_id", account_id);
    jw_obj_end(&w);
    return finish(&w);
}

int rpc_build_view_account(
    char *buf, size_t cap, const char *id, enum rpc_finality fin, const char *account_id)
{
    struct jw w;
    query_begin(&w, buf, cap, id, fin, "view_account");
    member(&w, "account_id", account_id);
    jw_obj_end(&w);
    return finish(&w);
}

int rpc_build_call_function(char *buf,
                            size_t cap,
                            const char *id,
                            enum rpc_finality fin,
                            const char *contract,
                            const char *method,
                            const char *args,
                            size_t args_len)
{
    struct jw w;
    query_begin(&w, buf, cap, id, fin, "call_function");
    member(&w, "account_id", contract);
    member(&w, "method_name", method);
    jw_key(&w, "args_base64");
    jw_base64(&w, (const uint8_t *)args, args_len);
    jw_obj_end(&w);
    return finish(&w);
}

int rpc_build_account_view(char *buf,
                           size_t cap,
                           const char *id,
                           enum rpc_finality fin,
                           const char *contract,
                           const char *method,
                           const char *account_id)
{
    if (account_id_check(account_id, strlen(account_id), NULL) < 0)
        return NF_EINVAL;
    char args[16 + ACCOUNT_ID_MAX + 4];
    struct jw a;
    jw_init_fixed(&a, args, sizeof(args));
    jw_obj_begin(&a);
    member(&a, "account_id", account_id);
    jw_obj_end(&a);
    size_t n = 0;
    if (jw_finish(&a, &n) != 0)
        return NF_EINVAL;
    return rpc_build_call_function(buf, cap, id, fin, contract, method, args, n);
}

int rpc_build_gas_price(char *buf, size_t cap, const char *id)
{
    struct jw w;
    begin(&w, buf, cap, id, "gas_price");
    jw_arr_begin(&w);
    jw_null(&w);
    jw_arr_end(&w);
    return finish(&w);
}

/* ---- kinds ----------------------------------------------------------------------------------- */

static const char *const kind_names[RPC_KIND_COUNT] = {
    [RPC_OK_TX] = "OK_TX",
    [RPC_OK_BLOCK] = "OK_BLOCK",
    [RPC_OK_ACCESS_KEY] = "OK_ACCESS_KEY",
    [RPC_OK_ACCESS_KEY_LIST] = "OK_ACCESS_KEY_LIST",
    [RPC_OK_ACCOUNT] = "OK_ACCOUNT",
    [RPC_OK_CALL] = "OK_CALL",
    [RPC_OK_GAS_PRICE] = "OK_GAS_PRICE",
    [RPC_UNKNOWN_ACCESS_KEY] = "UNKNOWN_ACCESS_KEY",
    [RPC_QUERY_ERROR] = "QUERY_ERROR",
    [RPC_INVALID_NONCE] = "INVALID_NONCE",
    [RPC_NONCE_TOO_LARGE] = "NONCE_TOO_LARGE",
    [RPC_EXPIRED] = "EXPIRED",
    [RPC_INVALID_CHAIN] = "INVALID_CHAIN",
    [RPC_SHARD_CONGESTED] = "SHARD_CONGESTED",
    [RPC_SHARD_STUCK] = "SHARD_STUCK",
    [RPC_INVALID_SIGNATURE] = "INVALID_SIGNATURE",
    [RPC_ACCESS_KEY_NOT_FOUND] = "ACCESS_KEY_NOT_FOUND",
    [RPC_OTHER_ACCESS_KEY_ERROR] = "OTHER_ACCESS_KEY_ERROR",
    [RPC_NOT_ENOUGH_BALANCE] = "NOT_ENOUGH_BALANCE",
    [RPC_LACK_BALANCE_FOR_STATE] = "LACK_BALANCE_FOR_STATE",
    [RPC_SIGNER_DOES_NOT_EXIST] = "SIGNER_DOES_NOT_EXIST",
    [RPC_ACTIONS_VALIDATION] = "ACTIONS_VALIDATION",
    [RPC_TX_SIZE_EXCEEDED] = "TX_SIZE_EXCEEDED",
    [RPC_OTHER_INVALID_TX] = "OTHER_INVALID_TX",
    [RPC_TIMEOUT] = "TIMEOUT",
    [RPC_UNKNOWN_TRANSACTION] = "UNKNOWN_TRANSACTION",
    [RPC_UNKNOWN_ACCOUNT] = "UNKNOWN_ACCOUNT",
    [RPC_PARSE_ERROR] = "PARSE_ERROR",
    [RPC_METHOD_NOT_FOUND] = "METHOD_NOT_FOUND",
    [RPC_INTERNAL_ERROR] = "INTERNAL_ERROR",
    [RPC_OTHER_ERROR] = "OTHER_ERROR",
    [RPC_RATE_LIMITED] = "RATE_LIMITED",
    [RPC_HTTP_ERROR] = "HTTP_ERROR",
    [RPC_MALFORMED] = "MALFORMED",
};

const char *rpc_kind_name(int kind)
{
    if (kind < 0 || kind >= RPC_KIND_COUNT || kind_names[kind] == NULL)
        return "?";
    return kind_names[kind];
}

int rpc_kind_is_definitive_rejection(int kind)
{
    switch (kind) {
    case RPC_INVALID_NONCE:
    case RPC_NONCE_TOO_LARGE:
    case RPC_EXPIRED:
    case RPC_INVALID_CHAIN:
    case RPC_SHARD_CONGESTED:
    case RPC_SHARD_STUCK:
    case RPC_INVALID_SIGNATURE:
    case RPC_ACCESS_KEY_NOT_FOUND:
    case RPC_OTHER_ACCESS_KEY_ERROR:
    case RPC_NOT_ENOUGH_BALANCE:
    case RPC_LACK_BALANCE_FOR_STATE:
    case RPC_SIGNER_DOES_NOT_EXIST:
    case RPC_ACTIONS_VALIDATION:
    case RPC_TX_SIZE_EXCEEDED:
    case RPC_OTHER_INVALID_TX:
    /* The node could not decode the request or does not serve the method: nothing was admitted. */
    case RPC_PARSE_ERROR:
    case RPC_METHOD_NOT_FOUND:
        return 1;
    default:
        return 0;
    }
}

/* ---- classification -------------------------------------------------------------------------- */

struct ps {
    const char *b;
    const struct jtok *t;
    const struct rpc_response *resp;
    struct rpc_result *r;
};

static int get(const struct ps *p, int obj, const char *key)
{
    if (obj < 0)
        return NF_ENOTFOUND;
    return jtok_obj_get(p->b, p->t, obj, key);
}

static int is_type(const struct ps *p, int i, int type)
{
    return i >= 0 && p->t[i].type == type;
}

static void copy_str(const struct ps *p, int i, char *out, size_t cap)
{
    out[0] = '\0';
    if (is_type(p, i, JTOK_STRING))
        (void)jtok_str_copy_trunc(p->b, &p->t[i], out, cap, NULL);
}

/* variant: an externally tagged serde enum at token v: a bare string (unit variant) or an object
 * whose first member names the variant. Copies the name; *payload = value index or -1. */
static int variant(const struct ps *p, int v, char *name, size_t cap, int *payload)
{
    *payload = -1;
    name[0] = '\0';
    if (is_type(p, v, JTOK_STRING)) {
        copy_str(p, v, name, cap);
        return 0;
    }
    if (is_type(p, v, JTOK_OBJECT) && p->t[v].size >= 1) {
        copy_str(p, v + 1, name, cap);
        *payload = v + 2;
        return 0;
    }
    return NF_EINVAL;
}

static int get_u64(const struct ps *p, int obj, const char *key, uint64_t *out)
{
    int i = get(p, obj, key);
    if (i < 0)
        return NF_ENOTFOUND;
    return jtok_u64(p->b, &p->t[i], out);
}

static int get_u128s(const struct ps *p, int obj, const char *key, nf_u128 *out)
{
    int i = get(p, obj, key);
    if (i < 0)
        return NF_ENOTFOUND;
    return jtok_u128_str(p->b, &p->t[i], out);
}

static int get_hash(const struct ps *p, int obj, const char *key, uint8_t out[32])
{
    int i = get(p, obj, key);
    if (!is_type(p, i, JTOK_STRING) || (p->t[i].flags & JTOK_F_ESCAPED))
        return NF_EINVAL;
    return b58_decode_exact(p->b + p->t[i].start, (size_t)(p->t[i].end - p->t[i].start), out, 32);
}

static int kind(struct rpc_result *r, enum rpc_kind k)
{
    r->kind = k;
    return 0;
}

static int malformed(struct rpc_result *r, const char *why)
{
    snprintf(r->message, sizeof(r->message), "%s", why);
    return kind(r, RPC_MALFORMED);
}

static void block_ref(const struct ps *p, int res)
{
    struct rpc_result *r = p->r;
    if (get_u64(p, res, "block_height", &r->block_height) == 0 &&
        get_hash(p, res, "block_hash", r->block_hash) == 0)
        r->has_block = 1;
}

static void final_status(const struct ps *p, int obj)
{
    int i = get(p, obj, "final_execution_status");
    if (!is_type(p, i, JTOK_STRING))
        return;
    enum rpc_wait w;
    if (rpc_wait_parse(p->b + p->t[i].start, (size_t)(p->t[i].end - p->t[i].start), &w) == 0) {
        p->r->final_status = w;
        p->r->has_final_status = 1;
    }
}

/* tx_failure: a TxExecutionError value (the payload of status.Failure). */
static void tx_failure(const struct ps *p, int v)
{
    struct rpc_result *r = p->r;
    char vname[48];
    int payload;
    if (variant(p, v, vname, sizeof(vname), &payload) < 0)
        return;
    if (strcmp(vname, "InvalidTxError") == 0) {
        r->failure_invalid_tx = 1;
        int inner;
        (void)variant(p, payload, r->cause, sizeof(r->cause), &inner);
        return;
    }
    if (strcmp(vname, "ActionError") != 0 || !is_type(p, payload, JTOK_OBJECT))
        return;
    uint64_t idx;
    if (get_u64(p, payload, "index", &idx) == 0 && idx <= INT64_MAX)
        r->failure_action = (int64_t)idx;
    int k = get(p, payload, "kind");
    int kp;
    if (variant(p, k, r->failure_kind, sizeof(r->failure_kind), &kp) < 0)
        return;
    /* FunctionCallError {ExecutionError: "Smart contract panicked: ..."} and friends */
    if (strcmp(r->failure_kind, "FunctionCallError") == 0) {
        int ip;
        if (variant(p, kp, r->detail, sizeof(r->detail), &ip) == 0)
            copy_str(p, ip, r->message, sizeof(r->message));
    }
    /* LackBalanceForState {account_id, amount}: nearcore's storage-stake check after the last
     * action (index null): the account lacks amount yocto to stake for its state. */
    if (strcmp(r->failure_kind, "LackBalanceForState") == 0 && is_type(p, kp, JTOK_OBJECT)) {
        copy_str(p, get(p, kp, "account_id"), r->failure_account, sizeof(r->failure_account));
        (void)get_u128s(p, kp, "amount", &r->failure_amount);
    }
}

static int parse_tx_result(const struct ps *p, int res)
{
    struct rpc_result *r = p->r;
    if (!is_type(p, res, JTOK_OBJECT))
        return malformed(r, "tx result is not an object");
    final_status(p, res);
    int st = get(p, res, "status");
    if (is_type(p, st, JTOK_STRING)) {
        if (jtok_str_eqz(p->b, &p->t[st], "NotStarted"))
            r->tx_status = RPC_TXS_NOT_STARTED;
        else if (jtok_str_eqz(p->b, &p->t[st], "Started"))
            r->tx_status = RPC_TXS_STARTED;
        else
            r->tx_status = RPC_TXS_UNKNOWN;
    } else if (is_type(p, st, JTOK_OBJECT)) {
        char vname[32];
        int payload;
        (void)variant(p, st, vname, sizeof(vname), &payload);
        if (strcmp(vname, "SuccessValue") == 0 || strcmp(vname, "SuccessReceiptId") == 0) {
            r->tx_status = RPC_TXS_SUCCESS;
        } else if (strcmp(vname, "Failure") == 0) {
            r->tx_status = RPC_TXS_FAILURE;
            tx_failure(p, payload);
        } else {
            r->tx_status = RPC_TXS_UNKNOWN;
        }
    }
    int tx = get(p, res, "transaction");
    if (is_type(p, tx, JTOK_OBJECT) && get_hash(p, tx, "hash", r->tx_hash) == 0)
        r->has_tx_hash = 1;
    int to = get(p, res, "transaction_outcome");
    if (is_type(p, to, JTOK_OBJECT)) {
        r->has_transaction_outcome = 1;
        if (!r->has_tx_hash && get_hash(p, to, "id", r->tx_hash) == 0)
            r->has_tx_hash = 1;
    }
    if (!r->has_final_status && st < 0 && tx < 0)
        return malformed(r, "tx result has no final_execution_status, status or transaction");
    return kind(r, RPC_OK_TX);
}

/* invalid_tx: classifies an InvalidTxError value at token v. */
static int invalid_tx(const struct ps *p, int v)
{
    struct rpc_result *r = p->r;
    int pl;
    if (variant(p, v, r->cause, sizeof(r->cause), &pl) < 0)
        return kind(r, RPC_OTHER_INVALID_TX);
    const char *c = r->cause;
    if (strcmp(c, "InvalidNonce") == 0) {
        (void)get_u64(p, pl, "tx_nonce", &r->tx_nonce);
        (void)get_u64(p, pl, "ak_nonce", &r->ak_nonce);
        return kind(r, RPC_INVALID_NONCE);
    }
    if (strcmp(c, "NonceTooLarge") == 0) {
        (void)get_u64(p, pl, "tx_nonce", &r->tx_nonce);
        (void)get_u64(p, pl, "upper_bound", &r->ak_nonce);
        return kind(r, RPC_NONCE_TOO_LARGE);
    }
    if (strcmp(c, "Expired") == 0)
        return kind(r, RPC_EXPIRED);
    if (strcmp(c, "InvalidChain") == 0)
        return kind(r, RPC_INVALID_CHAIN);
    if (strcmp(c, "InvalidSignature") == 0)
        return kind(r, RPC_INVALID_SIGNATURE);
    if (strcmp(c, "ShardCongested") == 0) {
        (void)get_u64(p, pl, "shard_id", &r->shard_id);
        int lv = get(p, pl, "congestion_level");
        if (lv >= 0)
            (void)jtok_double(p->b, &p->t[lv], &r->congestion_level);
        return kind(r, RPC_SHARD_CONGESTED);
    }
    if (strcmp(c, "ShardStuck") == 0) {
        (void)get_u64(p, pl, "shard_id", &r->shard_id);
        (void)get_u64(p, pl, "missed_chunks", &r->missed_chunks);
        return kind(r, RPC_SHARD_STUCK);
    }
    if (strcmp(c, "InvalidAccessKeyError") == 0) {
        int ip;
        (void)variant(p, pl, r->detail, sizeof(r->detail), &ip);
        if (strcmp(r->detail, "AccessKeyNotFound") == 0)
            return kind(r, RPC_ACCESS_KEY_NOT_FOUND);
        return kind(r, RPC_OTHER_ACCESS_KEY_ERROR);
    }
    if (strcmp(c, "NotEnoughBalance") == 0) {
        (void)get_u128s(p, pl, "balance", &r->balance);
        (void)get_u128s(p, pl, "cost", &r->cost);
        return kind(r, RPC_NOT_ENOUGH_BALANCE);
    }
    if (strcmp(c, "LackBalanceForState") == 0) {
        (void)get_u128s(p, pl, "amount", &r->balance);
        return kind(r, RPC_LACK_BALANCE_FOR_STATE);
    }
    if (strcmp(c, "SignerDoesNotExist") == 0)
        return kind(r, RPC_SIGNER_DOES_NOT_EXIST);
    if (strcmp(c, "ActionsValidation") == 0) {
        int ip;
        (void)variant(p, pl, r->detail, sizeof(r->detail), &ip);
        return kind(r, RPC_ACTIONS_VALIDATION);
    }
    if (strcmp(c, "TransactionSizeExceeded") == 0) {
        (void)get_u64(p, pl, "size", &r->size);
        (void)get_u64(p, pl, "limit", &r->size_limit);
        return kind(r, RPC_TX_SIZE_EXCEEDED);
    }
    return kind(r, RPC_OTHER_INVALID_TX);
}

/* tx_execution_error: data = {"TxExecutionError": {...}} (or the inner object directly).
 * Returns 1 when classified. */
static int tx_execution_error(const struct ps *p, int data)
{
    if (!is_type(p, data, JTOK_OBJECT))
        return 0;
    int tee = get(p, data, "TxExecutionError");
    if (tee < 0)
        tee = data;
    int itx = get(p, tee, "InvalidTxError");
    if (itx >= 0) {
        invalid_tx(p, itx);
        return 1;
    }
    if (get(p, tee, "ActionError") >= 0) {
        /* Old nodes reported an executed-but-failed tx as an error: it did execute. */
        p->r->tx_status = RPC_TXS_FAILURE;
        tx_failure(p, tee);
        kind(p->r, RPC_OK_TX);
        return 1;
    }
    return 0;
}

static int raw_eq(const struct ps *p, int i, const char *lit)
{
    size_t n = strlen(lit);
    return i >= 0 && p->t[i].end - p->t[i].start == n && memcmp(p->b + p->t[i].start, lit, n) == 0;
}

static int classify_error(const struct ps *p, int err)
{
    struct rpc_result *r = p->r;
    if (!is_type(p, err, JTOK_OBJECT)) {
        copy_str(p, err, r->message, sizeof(r->message));
        return kind(r, RPC_OTHER_ERROR);
    }
    copy_str(p, get(p, err, "name"), r->name, sizeof(r->name));
    int cause = get(p, err, "cause");
    int info = get(p, cause, "info");
    copy_str(p, get(p, cause, "name"), r->cause, sizeof(r->cause));
    int data = get(p, err, "data");
    if (is_type(p, data, JTOK_STRING))
        copy_str(p, data, r->message, sizeof(r->message));
    else
        copy_str(p, get(p, err, "message"), r->message, sizeof(r->message));
    const char *c = r->cause;

    if (strcmp(c, "INVALID_TRANSACTION") == 0 || (c[0] == '\0' && is_type(p, data, JTOK_OBJECT))) {
        char saved[sizeof(r->cause)];
        memcpy(saved, r->cause, sizeof(saved));
        if (tx_execution_error(p, data) || tx_execution_error(p, info))
            return 0;
        memcpy(r->cause, saved, sizeof(saved));
        if (c[0] != '\0')
            return kind(r, RPC_OTHER_INVALID_TX);
    }
    if (strcmp(c, "TIMEOUT_ERROR") == 0) {
        /* 2026: info {"cause":"NOT_OBSERVED"|"PENDING"|..., "status":{...}} */
        copy_str(p, get(p, info, "cause"), r->detail, sizeof(r->detail));
        int st = get(p, info, "status");
        if (is_type(p, st, JTOK_OBJECT))
            final_status(p, st);
        return kind(r, RPC_TIMEOUT);
    }
    static const struct {
        const char *name;
        enum rpc_kind kind;
    } causes[] = {
        {"UNKNOWN_TRANSACTION", RPC_UNKNOWN_TRANSACTION}, {"UNKNOWN_ACCOUNT", RPC_UNKNOWN_ACCOUNT},
        {"UNKNOWN_ACCESS_KEY", RPC_UNKNOWN_ACCESS_KEY},   {"PARSE_ERROR", RPC_PARSE_ERROR},
        {"METHOD_NOT_FOUND", RPC_METHOD_NOT_FOUND},       {"INTERNAL_ERROR", RPC_INTERNAL_ERROR},
    };
    for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
        if (strcmp(c, causes[i].name) == 0)
            return kind(r, causes[i].kind);
    if (c[0] != '\0') {
        if (strcmp(r->name, "INTERNAL_ERROR") == 0)
            return kind(r, RPC_INTERNAL_ERROR);
        return kind(r, RPC_OTHER_ERROR);
    }
    /* No cause: the legacy form {code, message, data}. */
    int code = get(p, err, "code");
    if (raw_eq(p, code, "-32700"))
        return kind(r, RPC_PARSE_ERROR);
    if (raw_eq(p, code, "-32601"))
        return kind(r, RPC_METHOD_NOT_FOUND);
    if (strcmp(r->name, "INTERNAL_ERROR") == 0 || r->http_status == 500)
        return kind(r, RPC_INTERNAL_ERROR);
    if (r->http_status == 408)
        return kind(r, RPC_TIMEOUT);
    return kind(r, RPC_OTHER_ERROR);
}

/* legacy_query_error: a query result {"error":"...","logs":[],...}. Returns 1 when present. */
static int legacy_query_error(const struct ps *p, int res, enum rpc_kind not_found)
{
    int e = get(p, res, "error");
    if (!is_type(p, e, JTOK_STRING))
        return 0;
    struct rpc_result *r = p->r;
    copy_str(p, e, r->message, sizeof(r->message));
    block_ref(p, res);
    if (not_found != RPC_QUERY_ERROR && strstr(r->message, "does not exist") != NULL)
        kind(r, not_found);
    else
        kind(r, RPC_QUERY_ERROR);
    return 1;
}

static int parse_access_key(const struct ps *p, int ak, uint64_t *nonce, int *full)
{
    if (get_u64(p, ak, "nonce", nonce) < 0)
        return NF_EINVAL;
    int perm = get(p, ak, "permission");
    if (is_type(p, perm, JTOK_STRING) && jtok_str_eqz(p->b, &p->t[perm], "FullAccess"))
        *full = 1;
    else if (is_type(p, perm, JTOK_OBJECT))
        *full = 0;
    else
        return NF_EINVAL;
    return 0;
}

static int parse_result(const struct ps *p, int res)
{
    struct rpc_result *r = p->r;
    const struct rpc_response *q = p->resp;
    if (q->method == RPC_M_SEND_TX || q->method == RPC_M_TX)
        return parse_tx_result(p, res);
    if (!is_type(p, res, JTOK_OBJECT))
        return malformed(r, "result is not an object");
    switch (q->method) {
    case RPC_M_BLOCK: {
        int h = get(p, res, "header");
        if (get_hash(p, h, "hash", r->block_hash) < 0 ||
            get_u64(p, h, "height", &r->block_height) < 0)
            return malformed(r, "block without header.hash/height");
        r->has_block = 1;
        return kind(r, RPC_OK_BLOCK);
    }
    case RPC_M_VIEW_ACCESS_KEY:
        if (legacy_query_error(p, res, RPC_UNKNOWN_ACCESS_KEY))
            return 0;
        if (parse_access_key(p, res, &r->nonce, &r->full_access) < 0)
            return malformed(r, "access key without nonce/permission");
        block_ref(p, res);
        return kind(r, RPC_OK_ACCESS_KEY);
    case RPC_M_VIEW_ACCESS_KEY_LIST: {
        if (legacy_query_error(p, res, RPC_UNKNOWN_ACCOUNT))
            return 0;
        int keys = get(p, res, "keys");
        if (!is_type(p, keys, JTOK_ARRAY))
            return malformed(r, "access key list without keys");
        if (p->t[keys].size > q->keys_cap)
            return NF_ENOSPC;
        int e = keys + 1;
        for (uint32_t i = 0; i < p->t[keys].size; i++, e = (int)p->t[e].next) {
            struct rpc_key_entry *k = &q->keys[i];
            memset(k, 0, sizeof(*k));
            copy_str(p, get(p, e, "public_key"), k->public_key, sizeof(k->public_key));
            if (k->public_key[0] == '\0' ||
                parse_access_key(p, get(p, e, "access_key"), &k->nonce, &k->full_access) < 0)
                return malformed(r, "bad access key list entry");
        }
        r->key_count = p->t[keys].size;
        block_ref(p, res);
        return kind(r, RPC_OK_ACCESS_KEY_LIST);
    }
    case RPC_M_VIEW_ACCOUNT:
        if (legacy_query_error(p, res, RPC_UNKNOWN_ACCOUNT))
            return 0;
        if (get_u128s(p, res, "amount", &r->amount) < 0 ||
            get_u128s(p, res, "locked", &r->locked) < 0)
            return malformed(r, "account without amount/locked");
        (void)get_u64(p, res, "storage_usage", &r->storage_usage);
        block_ref(p, res);
        return kind(r, RPC_OK_ACCOUNT);
    case RPC_M_CALL_FUNCTION: {
        if (legacy_query_error(p, res, RPC_QUERY_ERROR))
            return 0;
        int arr = get(p, res, "result");
        if (!is_type(p, arr, JTOK_ARRAY))
            return malformed(r, "call_function without result bytes");
        if (p->t[arr].size > q->call_cap)
            return NF_ENOSPC;
        int e = arr + 1;
        for (uint32_t i = 0; i < p->t[arr].size; i++, e = (int)p->t[e].next) {
            uint64_t b;
            if (jtok_u64(p->b, &p->t[e], &b) < 0 || b > 255)
                return malformed(r, "call_function result is not a byte array");
            q->call_out[i] = (uint8_t)b;
        }
        r->call_len = p->t[arr].size;
        block_ref(p, res);
        return kind(r, RPC_OK_CALL);
    }
    case RPC_M_GAS_PRICE:
        if (get_u128s(p, res, "gas_price", &r->gas_price) < 0)
            return malformed(r, "gas_price missing");
        return kind(r, RPC_OK_GAS_PRICE);
    default:
        return malformed(r, "unknown method");
    }
}

int rpc_parse(const struct rpc_response *resp,
              struct jtok *toks,
              size_t tok_cap,
              struct rpc_result *r)
{
    memset(r, 0, sizeof(*r));
    r->http_status = resp->http_status;
    r->retry_after_s = resp->retry_after_s;
    r->failure_action = -1;
    if (resp->http_status == 429)
        return kind(r, RPC_RATE_LIMITED);

    int n = jtok_parse(resp->body, resp->len, toks, tok_cap, NULL);
    if (n == NF_ETOOMANY)
        return NF_ETOOMANY;
    struct ps p = {resp->body, toks, resp, r};
    int res = -1, err = -1;
    if (n > 0 && toks[0].type == JTOK_OBJECT) {
        res = get(&p, 0, "result");
        err = get(&p, 0, "error");
        if (is_type(&p, err, JTOK_NULL))
            err = -1;
    }
    if (res < 0 && err < 0) {
        if (resp->http_status != 200) {
            snprintf(r->message, sizeof(r->message), "HTTP %d without a JSON-RPC body",
                     resp->http_status);
            return kind(r, RPC_HTTP_ERROR);
        }
        return malformed(r, n < 0 ? "body is not JSON" : "neither result nor error");
    }
    if (resp->expect_id != NULL) {
        int id = get(&p, 0, "id");
        if (!is_type(&p, id, JTOK_STRING) || !jtok_str_eqz(p.b, &toks[id], resp->expect_id))
            return malformed(r, "response id does not match the request");
    }
    if (err >= 0)
        return classify_error(&p, err);
    return parse_result(&p, res);
}

/* ---- call_function results and headers --------------------------------------------------------
 * Strict on purpose: these bytes come from a contract or a proxy, not from nearcore's JSON-RPC
 * layer, and a reader that guesses (strtol on an unterminated header, a "registered" that is
 * anything but null) turns a broken answer into a wrong decision. */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int rpc_retry_after(const char *line, size_t len)
{
    static const char name[] = "retry-after:";
    size_t i = sizeof(name) - 1;
    if (len < i)
        return -1;
    for (size_t k = 0; k < i; k++) {
        char c = line[k];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != name[k])
            return -1;
    }
    while (i < len && is_ows(line[i]))
        i++;
    size_t first_digit = i;
    int seconds = 0; /* stops growing past RPC_RETRY_AFTER_MAX: never overflows */
    for (; i < len && line[i] >= '0' && line[i] <= '9'; i++)
        if (seconds <= RPC_RETRY_AFTER_MAX)
            seconds = seconds * 10 + (line[i] - '0');
    if (i == first_digit)
        return -1;
    while (i < len && is_ows(line[i]))
        i++;
    size_t rest = len - i;
    int line_end = rest == 0 || (rest == 1 && line[i] == '\n') ||
                   (rest == 2 && line[i] == '\r' && line[i + 1] == '\n');
    if (!line_end || seconds > RPC_RETRY_AFTER_MAX)
        return -1;
    return seconds;
}

int rpc_call_u128(const char *res, size_t len, nf_u128 *out)
{
    if (len < 3 || res[0] != '"' || res[len - 1] != '"')
        return NF_EINVAL;
    return u128_parse(res + 1, len - 2, out);
}

int rpc_call_storage_balance(
    const char *res, size_t len, struct jtok *toks, size_t cap, int *registered)
{
    if (len == 4 && memcmp(res, "null", 4) == 0) {
        *registered = 0;
        return 0;
    }
    /* One object and nothing around it: jtok alone would also take surrounding whitespace. */
    if (len < 2 || res[0] != '{' || res[len - 1] != '}')
        return NF_EINVAL;
    int n = jtok_parse(res, len, toks, cap, NULL);
    if (n == NF_ETOOMANY)
        return NF_ETOOMANY;
    if (n < 1 || toks[0].type != JTOK_OBJECT)
        return NF_EINVAL;
    *registered = 1;
    return 0;
}

size_t rpc_url_redact(const char *url, char *out, size_t cap)
{
    const char *sep = strstr(url, "://");
    const char *scheme_end = sep;
    if (sep != NULL)
        for (const char *p = url; p < sep; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (p > url && ((*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.'))))
                scheme_end = NULL;
    if (scheme_end == NULL || scheme_end == url) {
        int n = snprintf(out, cap, "<redacted>");
        return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
    }
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    /* userinfo ends at the last '@' of the authority */
    const char *host = auth;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            host = auth + i + 1;
    size_t hlen = alen - (size_t)(host - auth);
    int n = snprintf(out, cap, "%.*s://%.*s", (int)(scheme_end - url), url, (int)hlen, host);
    return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}
