/* near_view: nearcore's JSON views of a decoded transaction (SignedTransactionView and ActionView,
 * docs/PROTOCOL.md section 3.4): u64 gas and nonces as JSON numbers, u128 amounts as decimal
 * strings, function-call args and contract code as base64, keys and signatures as
 * "<type>:<base58>", hashes as base58. Used by `nearft tx decode` and nearsim. Pure, any thread;
 * writes through the caller's struct jw and owns nothing. */
#include "near_view.h"

#include "base58.h"
#include "nf_err.h"

/* put_typed_b58: "ed25519:<b58>" / "secp256k1:<b58>" (public keys use 32/64 bytes, signatures
 * 64/65). The key modules only format ed25519, but decoded transactions may carry secp256k1. */
static void put_typed_b58(struct jw *w, uint8_t type, const uint8_t *data, size_t len)
{
    char b[16 + B58_MAX_64 + 8];
    const char *prefix = type == 0 ? "ed25519:" : "secp256k1:";
    size_t p = 0;
    while (prefix[p] != '\0') {
        b[p] = prefix[p];
        p++;
    }
    int n = b58_encode(data, len, b + p, sizeof(b) - p);
    if (n < 0) {
        if (w->error == 0)
            w->error = n;
        return;
    }
    jw_strn(w, b, p + (size_t)n);
}

static void put_pubkey(struct jw *w, const struct nf_pubkey *pk)
{
    put_typed_b58(w, pk->type, pk->data, pk->type == 0 ? 32 : 64);
}

static void put_bytes_str(struct jw *w, const struct nf_bytes *b)
{
    jw_strn(w, (const char *)b->ptr, b->len);
}

static void view_add_key(struct jw *w, const struct near_action *a)
{
    jw_obj_begin(w);
    jw_key(w, "AddKey");
    jw_obj_begin(w);
    jw_key(w, "public_key");
    put_pubkey(w, &a->u.add_key.public_key);
    jw_key(w, "access_key");
    jw_obj_begin(w);
    jw_key(w, "nonce");
    jw_u64(w, a->u.add_key.nonce);
    jw_key(w, "permission");
    if (a->u.add_key.full_access) {
        jw_str(w, "FullAccess");
    } else {
        jw_obj_begin(w);
        jw_key(w, "FunctionCall");
        jw_obj_begin(w);
        jw_key(w, "allowance");
        if (a->u.add_key.has_allowance)
            jw_u128_str(w, a->u.add_key.allowance);
        else
            jw_null(w);
        jw_key(w, "receiver_id");
        put_bytes_str(w, &a->u.add_key.receiver_id);
        jw_key(w, "method_names");
        jw_arr_begin(w);
        for (uint32_t i = 0; i < a->u.add_key.n_method_names; i++) {
            if (a->u.add_key.method_names == NULL) {
                w->error = NF_EINVAL; /* names were not stored by the decoder */
                break;
            }
            put_bytes_str(w, &a->u.add_key.method_names[i]);
        }
        jw_arr_end(w);
        jw_obj_end(w);
        jw_obj_end(w);
    }
    jw_obj_end(w);
    jw_obj_end(w);
    jw_obj_end(w);
}

void near_view_action(struct jw *w, const struct near_action *a)
{
    switch (a->type) {
    case NEAR_ACT_CREATE_ACCOUNT:
        jw_str(w, "CreateAccount");
        return;
    case NEAR_ACT_DEPLOY_CONTRACT:
        jw_obj_begin(w);
        jw_key(w, "DeployContract");
        jw_obj_begin(w);
        jw_key(w, "code");
        jw_base64(w, a->u.deploy_contract.code.ptr, a->u.deploy_contract.code.len);
        jw_obj_end(w);
        jw_obj_end(w);
        return;
    case NEAR_ACT_FUNCTION_CALL:
        jw_obj_begin(w);
        jw_key(w, "FunctionCall");
        jw_obj_begin(w);
        jw_key(w, "method_name");
        put_bytes_str(w, &a->u.function_call.method_name);
        jw_key(w, "args");
        jw_base64(w, a->u.function_call.args.ptr, a->u.function_call.args.len);
        jw_key(w, "gas");
        jw_u64(w, a->u.function_call.gas);
        jw_key(w, "deposit");
        jw_u128_str(w, a->u.function_call.deposit);
        jw_obj_end(w);
        jw_obj_end(w);
        return;
    case NEAR_ACT_TRANSFER:
        jw_obj_begin(w);
        jw_key(w, "Transfer");
        jw_obj_begin(w);
        jw_key(w, "deposit");
        jw_u128_str(w, a->u.transfer.deposit);
        jw_obj_end(w);
        jw_obj_end(w);
        return;
    case NEAR_ACT_STAKE:
        jw_obj_begin(w);
        jw_key(w, "Stake");
        jw_obj_begin(w);
        jw_key(w, "stake");
        jw_u128_str(w, a->u.stake.stake);
        jw_key(w, "public_key");
        put_pubkey(w, &a->u.stake.public_key);
        jw_obj_end(w);
        jw_obj_end(w);
        return;
    case NEAR_ACT_ADD_KEY:
        view_add_key(w, a);
        return;
    case NEAR_ACT_DELETE_KEY:
        jw_obj_begin(w);
        jw_key(w, "DeleteKey");
        jw_obj_begin(w);
        jw_key(w, "public_key");
        put_pubkey(w, &a->u.delete_key.public_key);
        jw_obj_end(w);
        jw_obj_end(w);
        return;
    case NEAR_ACT_DELETE_ACCOUNT:
        jw_obj_begin(w);
        jw_key(w, "DeleteAccount");
        jw_obj_begin(w);
        jw_key(w, "beneficiary_id");
        put_bytes_str(w, &a->u.delete_account.beneficiary_id);
        jw_obj_end(w);
        jw_obj_end(w);
        return;
    }
    if (w->error == 0)
        w->error = NF_EINVAL;
}

void near_view_signed_tx(struct jw *w, const struct near_signed_tx *stx, uint32_t stored)
{
    const struct near_tx *tx = &stx->tx;
    jw_obj_begin(w);
    jw_key(w, "signer_id");
    put_bytes_str(w, &tx->signer_id);
    jw_key(w, "public_key");
    put_pubkey(w, &tx->public_key);
    jw_key(w, "nonce");
    jw_u64(w, tx->nonce);
    jw_key(w, "receiver_id");
    put_bytes_str(w, &tx->receiver_id);
    jw_key(w, "actions");
    jw_arr_begin(w);
    uint32_t n = tx->n_actions < stored ? tx->n_actions : stored;
    for (uint32_t i = 0; i < n && tx->actions != NULL; i++)
        near_view_action(w, &tx->actions[i]);
    jw_arr_end(w);
    jw_key(w, "priority_fee");
    jw_u64(w, 0);
    jw_key(w, "signature");
    put_typed_b58(w, stx->signature_type, stx->signature, stx->signature_type == 0 ? 64 : 65);
    jw_key(w, "hash");
    jw_base58(w, stx->hash, NEAR_HASH_LEN);
    jw_obj_end(w);
}
