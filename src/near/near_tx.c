/* near_tx: Borsh codec for NEAR Transaction V0 / SignedTransaction (see include/near_tx.h and
 * docs/PROTOCOL.md section 1). The encoder writes through a bounds-checked cursor (a NULL output
 * only counts bytes, which is how near_tx_encoded_size works); the decoder is strict: every read
 * is checked against the remaining input before it happens, declared lengths larger than what is
 * left are reported as truncation, strings are UTF-8 checked, account ids are validated and every
 * enum tag outside the supported set is rejected with the byte offset in the reason. Also builds
 * the NEP-141/145 argument JSON byte-identical to JavaScript's JSON.stringify. Pure: no I/O, no
 * allocation, any thread; owns nothing (decoded strings borrow the input buffer). */
#include "near_tx.h"

#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "account.h"
#include "nf_err.h"
#include "nf_utf8.h"

/* ---- encoder -------------------------------------------------------------------------------- */

/* A write cursor: out == NULL counts only. err is sticky. */
struct enc {
    uint8_t *out;
    size_t cap;
    size_t len;
    int err;
};

static void enc_put(struct enc *e, const void *p, size_t n)
{
    if (e->err)
        return;
    if (e->out != NULL) {
        if (n > e->cap - e->len) {
            e->err = NF_ENOSPC;
            return;
        }
        if (n > 0)
            memcpy(e->out + e->len, p, n);
    }
    e->len += n;
}

static void enc_u8(struct enc *e, uint8_t v)
{
    enc_put(e, &v, 1);
}

static void enc_u32(struct enc *e, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    enc_put(e, b, 4);
}

static void enc_u64(struct enc *e, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    enc_put(e, b, 8);
}

static void enc_u128(struct enc *e, nf_u128 v)
{
    uint8_t b[16];
    u128_to_le(v, b);
    enc_put(e, b, 16);
}

/* enc_bytes: Borsh String / Vec<u8>: u32 length + bytes. */
static void enc_bytes(struct enc *e, const struct nf_bytes *b)
{
    enc_u32(e, b->len);
    enc_put(e, b->ptr, b->len);
}

static void enc_pubkey(struct enc *e, const struct nf_pubkey *pk)
{
    size_t n;
    if (pk->type == 0)
        n = 32;
    else if (pk->type == 1)
        n = 64;
    else {
        if (!e->err)
            e->err = NF_EINVAL;
        return;
    }
    enc_u8(e, pk->type);
    enc_put(e, pk->data, n);
}

static void enc_action(struct enc *e, const struct near_action *a)
{
    switch (a->type) {
    case NEAR_ACT_CREATE_ACCOUNT:
        enc_u8(e, 0);
        break;
    case NEAR_ACT_DEPLOY_CONTRACT:
        enc_u8(e, 1);
        enc_bytes(e, &a->u.deploy_contract.code);
        break;
    case NEAR_ACT_FUNCTION_CALL:
        enc_u8(e, 2);
        enc_bytes(e, &a->u.function_call.method_name);
        enc_bytes(e, &a->u.function_call.args);
        enc_u64(e, a->u.function_call.gas);
        enc_u128(e, a->u.function_call.deposit);
        break;
    case NEAR_ACT_TRANSFER:
        enc_u8(e, 3);
        enc_u128(e, a->u.transfer.deposit);
        break;
    case NEAR_ACT_STAKE:
        enc_u8(e, 4);
        enc_u128(e, a->u.stake.stake);
        enc_pubkey(e, &a->u.stake.public_key);
        break;
    case NEAR_ACT_ADD_KEY:
        enc_u8(e, 5);
        enc_pubkey(e, &a->u.add_key.public_key);
        enc_u64(e, a->u.add_key.nonce);
        if (a->u.add_key.full_access) {
            enc_u8(e, 1);
            break;
        }
        enc_u8(e, 0);
        if (a->u.add_key.has_allowance) {
            enc_u8(e, 1);
            enc_u128(e, a->u.add_key.allowance);
        } else {
            enc_u8(e, 0);
        }
        enc_bytes(e, &a->u.add_key.receiver_id);
        enc_u32(e, a->u.add_key.n_method_names);
        for (uint32_t i = 0; i < a->u.add_key.n_method_names; i++)
            enc_bytes(e, &a->u.add_key.method_names[i]);
        break;
    case NEAR_ACT_DELETE_KEY:
        enc_u8(e, 6);
        enc_pubkey(e, &a->u.delete_key.public_key);
        break;
    case NEAR_ACT_DELETE_ACCOUNT:
        enc_u8(e, 7);
        enc_bytes(e, &a->u.delete_account.beneficiary_id);
        break;
    default:
        if (!e->err)
            e->err = NF_EINVAL;
        break;
    }
}

/* enc_tx: borsh(TransactionV0), tag-less. */
static void enc_tx(struct enc *e, const struct near_tx *tx)
{
    enc_bytes(e, &tx->signer_id);
    enc_pubkey(e, &tx->public_key);
    enc_u64(e, tx->nonce);
    enc_bytes(e, &tx->receiver_id);
    enc_put(e, tx->block_hash, NEAR_HASH_LEN);
    enc_u32(e, tx->n_actions);
    for (uint32_t i = 0; i < tx->n_actions && !e->err; i++)
        enc_action(e, &tx->actions[i]);
}

size_t near_tx_encoded_size(const struct near_tx *tx)
{
    struct enc e = {NULL, 0, 0, 0};
    enc_tx(&e, tx);
    return e.err ? 0 : e.len;
}

int near_tx_encode(const struct near_tx *tx, uint8_t *out, size_t cap, size_t *len)
{
    /* Count first so an unencodable tx reports NF_EINVAL whatever the capacity. */
    struct enc count = {NULL, 0, 0, 0};
    enc_tx(&count, tx);
    if (count.err)
        return count.err;
    if (count.len > cap)
        return NF_ENOSPC;
    struct enc e = {out, cap, 0, 0};
    enc_tx(&e, tx);
    if (e.err)
        return e.err;
    *len = e.len;
    return 0;
}

void near_tx_hash(const uint8_t *tx_bytes, size_t len, uint8_t hash[NEAR_HASH_LEN])
{
    crypto_hash_sha256(hash, tx_bytes, len);
}

int near_tx_sign(const struct near_tx *tx,
                 const struct nf_keypair *kp,
                 uint8_t *out,
                 size_t cap,
                 size_t *len,
                 uint8_t hash[NEAR_HASH_LEN])
{
    size_t n = 0;
    int rc = near_tx_encode(tx, out, cap, &n);
    if (rc != 0)
        return rc;
    if (cap - n < NEAR_SIGNED_EXTRA)
        return NF_ENOSPC;
    uint8_t h[NEAR_HASH_LEN];
    near_tx_hash(out, n, h);
    out[n] = 0; /* Signature::ED25519 */
    rc = keys_sign(kp, h, NEAR_HASH_LEN, out + n + 1);
    if (rc != 0)
        return rc;
    *len = n + NEAR_SIGNED_EXTRA;
    if (hash != NULL)
        memcpy(hash, h, NEAR_HASH_LEN);
    return 0;
}

/* ---- decoder -------------------------------------------------------------------------------- */

/* A read cursor. action is the index of the action being read (-1 outside the action list),
 * name_index the AddKey method name being read (-1 otherwise) and suffix a part of the field
 * (" length", " type"), so that error reasons can say "action[3].method_names[1] length" without
 * formatting anything on the success path. */
struct dec {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    long action;
    long name_index;
    const char *suffix;
    char *why;
    size_t whycap;
};

__attribute__((format(printf, 3, 4))) static int
dec_fail(struct dec *d, int err, const char *fmt, ...)
{
    if (d->why != NULL && d->whycap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->why, d->whycap, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* dec_field: "signer_id length" or "action[2].method_names[0]" into b (for messages only). */
static const char *dec_field(const struct dec *d, const char *field, char *b, size_t cap)
{
    char act[32] = "", idx[24] = "";
    if (d->action >= 0)
        snprintf(act, sizeof(act), "action[%ld].", d->action);
    if (d->name_index >= 0)
        snprintf(idx, sizeof(idx), "[%ld]", d->name_index);
    snprintf(b, cap, "%s%s%s%s", act, field, idx, d->suffix);
    return b;
}

/* dec_need: 0 when n more bytes are available, else NF_ETRUNC naming field. */
static int dec_need(struct dec *d, size_t n, const char *field)
{
    if (n <= d->len - d->pos)
        return 0;
    char b[96];
    const char *f = dec_field(d, field, b, sizeof(b));
    return dec_fail(d, NF_ETRUNC, "truncated at byte %zu reading %s (need %zu bytes, %zu left)",
                    d->pos, f, n, d->len - d->pos);
}

static int dec_u8(struct dec *d, const char *field, uint8_t *v)
{
    int rc = dec_need(d, 1, field);
    if (rc != 0)
        return rc;
    *v = d->buf[d->pos++];
    return 0;
}

static int dec_u32(struct dec *d, const char *field, uint32_t *v)
{
    int rc = dec_need(d, 4, field);
    if (rc != 0)
        return rc;
    const uint8_t *p = d->buf + d->pos;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    d->pos += 4;
    return 0;
}

static int dec_u64(struct dec *d, const char *field, uint64_t *v)
{
    int rc = dec_need(d, 8, field);
    if (rc != 0)
        return rc;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | d->buf[d->pos + (size_t)i];
    *v = x;
    d->pos += 8;
    return 0;
}

static int dec_u128(struct dec *d, const char *field, nf_u128 *v)
{
    int rc = dec_need(d, 16, field);
    if (rc != 0)
        return rc;
    *v = u128_from_le(d->buf + d->pos);
    d->pos += 16;
    return 0;
}

/* dec_bytes: Vec<u8> / String: u32 length then that many bytes (borrowed from the input). With
 * utf8 set the bytes must be valid UTF-8 (a Borsh String). */
static int dec_bytes(struct dec *d, const char *field, int utf8, struct nf_bytes *out)
{
    uint32_t n;
    d->suffix = " length";
    int rc = dec_u32(d, field, &n);
    d->suffix = "";
    if (rc != 0)
        return rc;
    if (n > d->len - d->pos) {
        char b[96];
        const char *f = dec_field(d, field, b, sizeof(b));
        return dec_fail(d, NF_ETRUNC,
                        "truncated at byte %zu reading %s (declared %" PRIu32 " bytes, %zu left)",
                        d->pos, f, n, d->len - d->pos);
    }
    out->ptr = d->buf + d->pos;
    out->len = n;
    if (utf8 && !nf_utf8_valid(out->ptr, n)) {
        char b[96];
        const char *f = dec_field(d, field, b, sizeof(b));
        return dec_fail(d, NF_EUTF8, "invalid UTF-8 in %s at byte %zu", f, d->pos);
    }
    d->pos += n;
    return 0;
}

/* dec_account: a String that must also be a valid nearcore AccountId. */
static int dec_account(struct dec *d, const char *field, struct nf_bytes *out)
{
    size_t at = d->pos + 4;
    int rc = dec_bytes(d, field, 1, out);
    if (rc != 0)
        return rc;
    const char *reason = NULL;
    if (account_id_check((const char *)out->ptr, out->len, &reason) < 0) {
        char b[96];
        const char *f = dec_field(d, field, b, sizeof(b));
        return dec_fail(d, NF_EACCOUNT, "invalid account id in %s at byte %zu: %s", f, at,
                        reason != NULL ? reason : "invalid");
    }
    return 0;
}

static int dec_pubkey(struct dec *d, const char *field, struct nf_pubkey *pk)
{
    size_t at = d->pos;
    uint8_t t;
    d->suffix = " type";
    int rc = dec_u8(d, field, &t);
    d->suffix = "";
    if (rc != 0)
        return rc;
    size_t n;
    if (t == 0)
        n = 32;
    else if (t == 1)
        n = 64;
    else {
        char b[96];
        const char *f = dec_field(d, field, b, sizeof(b));
        return dec_fail(d, NF_EVARIANT, "unknown public key type %u in %s at byte %zu", t, f, at);
    }
    rc = dec_need(d, n, field);
    if (rc != 0)
        return rc;
    memset(pk, 0, sizeof(*pk));
    pk->type = t;
    memcpy(pk->data, d->buf + d->pos, n);
    d->pos += n;
    return 0;
}

/* dec_add_key_permission: AccessKey { nonce, permission } after the public key. Method names of a
 * stored action go into the shared pool (*names_used counts the pool). */
static int dec_access_key(struct dec *d,
                          struct near_action *a,
                          const struct near_decode_space *sp,
                          uint32_t *names_used,
                          int store)
{
    int rc = dec_u64(d, "access_key.nonce", &a->u.add_key.nonce);
    if (rc != 0)
        return rc;
    size_t at = d->pos;
    uint8_t perm;
    rc = dec_u8(d, "access_key.permission tag", &perm);
    if (rc != 0)
        return rc;
    if (perm == 1) {
        a->u.add_key.full_access = 1;
        return 0;
    }
    if (perm != 0)
        return dec_fail(d, NF_EVARIANT,
                        "unknown access key permission %u in action[%ld] at byte %zu", perm,
                        d->action, at);
    a->u.add_key.full_access = 0;
    at = d->pos;
    uint8_t opt;
    rc = dec_u8(d, "allowance option tag", &opt);
    if (rc != 0)
        return rc;
    if (opt > 1)
        return dec_fail(d, NF_EVARIANT,
                        "invalid Option tag %u for action[%ld].allowance at byte %zu", opt,
                        d->action, at);
    a->u.add_key.has_allowance = opt;
    if (opt == 1) {
        rc = dec_u128(d, "allowance", &a->u.add_key.allowance);
        if (rc != 0)
            return rc;
    }
    rc = dec_bytes(d, "permission receiver_id", 1, &a->u.add_key.receiver_id);
    if (rc != 0)
        return rc;
    uint32_t n;
    rc = dec_u32(d, "method_names count", &n);
    if (rc != 0)
        return rc;
    a->u.add_key.n_method_names = n;
    a->u.add_key.method_names = NULL;
    if (store && sp != NULL && sp->names != NULL)
        a->u.add_key.method_names = sp->names + *names_used;
    for (uint32_t i = 0; i < n; i++) {
        struct nf_bytes name;
        d->name_index = (long)i;
        rc = dec_bytes(d, "method_names", 1, &name);
        if (rc != 0)
            return rc;
        d->name_index = -1;
        if (!store)
            continue;
        if (sp == NULL || sp->names == NULL || *names_used >= sp->names_cap)
            return dec_fail(d, NF_ETOOMANY,
                            "method name pool exhausted (%" PRIu32
                            " names) at action[%ld].method_names[%" PRIu32 "]",
                            sp != NULL ? sp->names_cap : 0, d->action, i);
        sp->names[(*names_used)++] = name;
    }
    return 0;
}

static int dec_action(struct dec *d,
                      struct near_action *a,
                      const struct near_decode_space *sp,
                      uint32_t *names_used,
                      int store)
{
    size_t at = d->pos;
    uint8_t tag;
    int rc = dec_u8(d, "tag", &tag);
    if (rc != 0)
        return rc;
    memset(a, 0, sizeof(*a));
    switch (tag) {
    case 0:
        a->type = NEAR_ACT_CREATE_ACCOUNT;
        return 0;
    case 1:
        a->type = NEAR_ACT_DEPLOY_CONTRACT;
        return dec_bytes(d, "code", 0, &a->u.deploy_contract.code);
    case 2:
        a->type = NEAR_ACT_FUNCTION_CALL;
        rc = dec_bytes(d, "method_name", 1, &a->u.function_call.method_name);
        if (rc == 0)
            rc = dec_bytes(d, "args", 0, &a->u.function_call.args);
        if (rc == 0)
            rc = dec_u64(d, "gas", &a->u.function_call.gas);
        if (rc == 0)
            rc = dec_u128(d, "deposit", &a->u.function_call.deposit);
        return rc;
    case 3:
        a->type = NEAR_ACT_TRANSFER;
        return dec_u128(d, "deposit", &a->u.transfer.deposit);
    case 4:
        a->type = NEAR_ACT_STAKE;
        rc = dec_u128(d, "stake", &a->u.stake.stake);
        if (rc == 0)
            rc = dec_pubkey(d, "public_key", &a->u.stake.public_key);
        return rc;
    case 5:
        a->type = NEAR_ACT_ADD_KEY;
        rc = dec_pubkey(d, "public_key", &a->u.add_key.public_key);
        if (rc == 0)
            rc = dec_access_key(d, a, sp, names_used, store);
        return rc;
    case 6:
        a->type = NEAR_ACT_DELETE_KEY;
        return dec_pubkey(d, "public_key", &a->u.delete_key.public_key);
    case 7:
        a->type = NEAR_ACT_DELETE_ACCOUNT;
        return dec_account(d, "beneficiary_id", &a->u.delete_account.beneficiary_id);
    default:
        return dec_fail(d, NF_EVARIANT, "unsupported action variant %u at byte %zu", tag, at);
    }
}

int near_signed_tx_decode(const uint8_t *buf,
                          size_t len,
                          const struct near_decode_space *space,
                          struct near_signed_tx *out,
                          char *why,
                          size_t whycap)
{
    struct dec d = {buf, len, 0, -1, -1, "", why, whycap};
    int rc;
    memset(out, 0, sizeof(*out));
    if (why != NULL && whycap > 0)
        why[0] = '\0';

    /* nearcore's Transaction enum tag rule (docs/PROTOCOL.md 1.3): V0 is tag-less and starts with
     * the u32 length of signer_id (<= 64), so its second byte is 0. */
    if (len >= 2 && buf[1] != 0) {
        if (buf[0] == 1)
            return dec_fail(&d, NF_EVERSION,
                            "transaction V1 is not supported (tag 0x01 at byte 0)");
        return dec_fail(&d, NF_EVARIANT, "invalid transaction version tag 0x%02x%02x at byte 0",
                        buf[0], buf[1]);
    }

    struct near_tx *tx = &out->tx;
    if ((rc = dec_account(&d, "signer_id", &tx->signer_id)) != 0)
        return rc;
    if ((rc = dec_pubkey(&d, "public_key", &tx->public_key)) != 0)
        return rc;
    if ((rc = dec_u64(&d, "nonce", &tx->nonce)) != 0)
        return rc;
    if ((rc = dec_account(&d, "receiver_id", &tx->receiver_id)) != 0)
        return rc;
    if ((rc = dec_need(&d, NEAR_HASH_LEN, "block_hash")) != 0)
        return rc;
    memcpy(tx->block_hash, buf + d.pos, NEAR_HASH_LEN);
    d.pos += NEAR_HASH_LEN;
    uint32_t n;
    if ((rc = dec_u32(&d, "actions count", &n)) != 0)
        return rc;
    tx->n_actions = n;
    uint32_t cap = 0;
    if (space != NULL && space->actions != NULL)
        cap = space->actions_cap;
    tx->actions = space != NULL ? space->actions : NULL;
    uint32_t names_used = 0;
    /* Each action takes at least its tag byte, so a huge count ends in truncation after at most
     * len iterations. */
    for (uint32_t i = 0; i < n; i++) {
        struct near_action scratch;
        int store = i < cap;
        d.action = (long)i;
        rc = dec_action(&d, store ? &space->actions[i] : &scratch, space, &names_used, store);
        if (rc != 0)
            return rc;
    }
    d.action = -1;
    out->tx_len = d.pos;
    if (space != NULL && space->known_hash != NULL)
        memcpy(out->hash, space->known_hash, NEAR_HASH_LEN);
    else
        near_tx_hash(buf, d.pos, out->hash);

    size_t at = d.pos;
    uint8_t st;
    if ((rc = dec_u8(&d, "signature type", &st)) != 0)
        return rc;
    size_t slen;
    if (st == 0)
        slen = 64;
    else if (st == 1)
        slen = 65;
    else
        return dec_fail(&d, NF_EVARIANT, "unknown signature type %u at byte %zu", st, at);
    if ((rc = dec_need(&d, slen, "signature")) != 0)
        return rc;
    out->signature_type = st;
    memcpy(out->signature, buf + d.pos, slen);
    d.pos += slen;
    if (d.pos != len)
        return dec_fail(&d, NF_ETRAILING, "%zu trailing bytes after the signature at byte %zu",
                        len - d.pos, d.pos);
    return 0;
}

int near_signed_tx_verify(const struct near_signed_tx *stx)
{
    if (stx->signature_type != 0 || stx->tx.public_key.type != NF_KEY_ED25519)
        return NF_ECRYPTO;
    return keys_verify(&stx->tx.public_key, stx->hash, NEAR_HASH_LEN, stx->signature) == 0
               ? 0
               : NF_ECRYPTO;
}

/* A small appender for the argument builders: sticky error, NUL-terminates when room is left. */
struct app {
    char *out;
    size_t cap;
    size_t len;
    int err;
};

static void app_raw(struct app *a, const char *s, size_t n)
{
    if (a->err)
        return;
    if (n > a->cap - a->len) {
        a->err = NF_ENOSPC;
        return;
    }
    memcpy(a->out + a->len, s, n);
    a->len += n;
}

static void app_str(struct app *a, const char *s)
{
    app_raw(a, s, strlen(s));
}

/* app_json_string: "<escaped s>". */
static void app_json_string(struct app *a, const char *s, size_t n)
{
    app_raw(a, "\"", 1);
    if (a->err)
        return;
    int rc = nf_json_escape(s, n, a->out + a->len, a->cap - a->len);
    if (rc < 0) {
        a->err = rc;
        return;
    }
    a->len += (size_t)rc;
    app_raw(a, "\"", 1);
}

static int app_finish(struct app *a)
{
    if (a->err)
        return a->err;
    if (a->len > (size_t)INT_MAX)
        return NF_ENOSPC;
    if (a->len < a->cap)
        a->out[a->len] = '\0';
    return (int)a->len;
}

int near_ft_transfer_args(char *out,
                          size_t cap,
                          const char *receiver,
                          size_t receiver_len,
                          nf_u128 amount,
                          const char *memo,
                          size_t memo_len)
{
    if (memo != NULL && memo_len > NEAR_FT_MEMO_MAX)
        return NF_ERANGE;
    char amt[U128_STR_MAX];
    int amt_len = u128_format(amount, amt);
    struct app a = {out, cap, 0, 0};
    app_str(&a, "{\"receiver_id\":");
    app_json_string(&a, receiver, receiver_len);
    app_str(&a, ",\"amount\":\"");
    app_raw(&a, amt, (size_t)amt_len);
    app_str(&a, "\"");
    if (memo != NULL) {
        app_str(&a, ",\"memo\":");
        app_json_string(&a, memo, memo_len);
    }
    app_str(&a, "}");
    int rc = app_finish(&a);
    /* Success means both strings went through nf_json_escape, which checks UTF-8. On another
     * error (a short buffer) invalid UTF-8 still takes precedence, as documented. */
    if (rc < 0 && rc != NF_EUTF8 &&
        (!nf_utf8_valid((const uint8_t *)receiver, receiver_len) ||
         (memo != NULL && !nf_utf8_valid((const uint8_t *)memo, memo_len))))
        return NF_EUTF8;
    return rc;
}

int near_storage_deposit_args(
    char *out, size_t cap, const char *account, size_t account_len, int registration_only)
{
    struct app a = {out, cap, 0, 0};
    app_str(&a, "{\"account_id\":");
    app_json_string(&a, account, account_len);
    if (registration_only >= 0)
        app_str(&a,
                registration_only ? ",\"registration_only\":true" : ",\"registration_only\":false");
    app_str(&a, "}");
    return app_finish(&a);
}
