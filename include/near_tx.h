/* near_tx: Borsh encoding and strict decoding of NEAR Transaction V0 / SignedTransaction, the
 * transaction hash (sha256 of the Transaction bytes) and the ed25519 signature over it, plus the
 * exact NEP-141/145 argument JSON. Pure: no I/O, no allocation, any thread. Byte-exact with
 * near-api-js 7.2.0 and nearcore (docs/PROTOCOL.md section 1). */
#ifndef NF_NEAR_TX_H
#define NF_NEAR_TX_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "u128.h"

#define NEAR_MAX_ACTIONS     100      /* max_actions_per_receipt */
#define NEAR_MAX_TX_SIZE     1572864u /* max_transaction_size */
#define NEAR_MAX_METHOD_NAME 256u
#define NEAR_MAX_ARGS_LEN    4194304u
#define NEAR_MAX_PREPAID_GAS 1000000000000000ull /* 1 Pgas, protocol 83+ */
#define NEAR_SIGNATURE_LEN   64
#define NEAR_HASH_LEN        32
#define NEAR_SIGNED_EXTRA    (1 + NEAR_SIGNATURE_LEN) /* key type + signature after the tx */
#define NEAR_FT_ARGS_MAX     512 /* receiver (64) + amount (39) + escaped memo + keys */
#define NEAR_FT_MEMO_MAX     256 /* bytes of UTF-8 memo accepted by near_ft_transfer_args */
/* storage_amount_per_byte: yocto an account must hold (amount + locked) per byte of its state. */
#define NEAR_STORAGE_AMOUNT_PER_BYTE ((nf_u128)10000000000000000000ull) /* 10^19 */

/* A borrowed byte string (UTF-8 for names). Owner is whoever owns the buffer it points into. */
struct nf_bytes {
    const uint8_t *ptr;
    uint32_t len;
};

enum near_action_type {
    NEAR_ACT_CREATE_ACCOUNT = 0,
    NEAR_ACT_DEPLOY_CONTRACT = 1,
    NEAR_ACT_FUNCTION_CALL = 2,
    NEAR_ACT_TRANSFER = 3,
    NEAR_ACT_STAKE = 4,
    NEAR_ACT_ADD_KEY = 5,
    NEAR_ACT_DELETE_KEY = 6,
    NEAR_ACT_DELETE_ACCOUNT = 7,
};

struct near_action {
    enum near_action_type type;
    union {
        struct {
            struct nf_bytes code;
        } deploy_contract;
        struct {
            struct nf_bytes method_name;
            struct nf_bytes args;
            uint64_t gas;
            nf_u128 deposit;
        } function_call;
        struct {
            nf_u128 deposit;
        } transfer;
        struct {
            nf_u128 stake;
            struct nf_pubkey public_key;
        } stake;
        struct {
            struct nf_pubkey public_key;
            uint64_t nonce;  /* AccessKey.nonce (ignored on chain) */
            int full_access; /* 1 = FullAccess, 0 = FunctionCall permission below */
            int has_allowance;
            nf_u128 allowance;
            struct nf_bytes receiver_id; /* FunctionCallPermission.receiver_id (a String) */
            const struct nf_bytes *method_names;
            uint32_t n_method_names;
        } add_key;
        struct {
            struct nf_pubkey public_key;
        } delete_key;
        struct {
            struct nf_bytes beneficiary_id;
        } delete_account;
    } u;
};

struct near_tx {
    struct nf_bytes signer_id;
    struct nf_pubkey public_key;
    uint64_t nonce;
    struct nf_bytes receiver_id;
    uint8_t block_hash[NEAR_HASH_LEN];
    uint32_t n_actions;                /* decode: the count on the wire, may exceed the capacity */
    const struct near_action *actions; /* encode: borrowed array; decode: the caller's array */
};

/* near_tx_encoded_size: exact length of borsh(Transaction V0) for tx, or 0 when tx cannot be
 * encoded (the cases where near_tx_encode returns NF_EINVAL). */
size_t near_tx_encoded_size(const struct near_tx *tx);

/* near_tx_encode: writes borsh(Transaction V0) into out (cap bytes) and its length into *len.
 * Returns 0, NF_ENOSPC, or NF_EINVAL (a key type other than ed25519/secp256k1, or an action type
 * outside enum near_action_type). Borrows tx and out until return. Does not validate limits. */
int near_tx_encode(const struct near_tx *tx, uint8_t *out, size_t cap, size_t *len);

/* near_tx_hash: hash = sha256(tx_bytes[0..len)). */
void near_tx_hash(const uint8_t *tx_bytes, size_t len, uint8_t hash[NEAR_HASH_LEN]);

/* near_tx_sign: encodes tx, hashes it, signs the hash with kp and writes
 * borsh(SignedTransaction) = tx_bytes || 0x00 || signature into out (cap bytes). *len gets the
 * signed length, hash (if not NULL) the tx hash. tx->public_key should be kp's public key (not
 * checked: tests sign with a mismatching key on purpose). Returns 0, NF_ENOSPC, NF_EINVAL. */
int near_tx_sign(const struct near_tx *tx,
                 const struct nf_keypair *kp,
                 uint8_t *out,
                 size_t cap,
                 size_t *len,
                 uint8_t hash[NEAR_HASH_LEN]);

/* Caller-provided storage for a decode: decoded strings point into the input buffer. */
struct near_decode_space {
    struct near_action *actions; /* the first actions_cap actions are stored */
    uint32_t actions_cap;
    struct nf_bytes *names; /* AddKey method names of every action share this pool */
    uint32_t names_cap;
    /* NULL, or the sha256 the caller already computed for exactly these bytes (a store that
     * decodes again): copied into out->hash instead of hashing the transaction once more. */
    const uint8_t *known_hash;
};

struct near_signed_tx {
    struct near_tx tx;
    size_t tx_len;               /* bytes of borsh(Transaction) at the start of the input */
    uint8_t signature_type;      /* 0 ed25519, 1 secp256k1 */
    uint8_t signature[65];       /* ed25519 uses 64 bytes */
    uint8_t hash[NEAR_HASH_LEN]; /* sha256 of the Transaction bytes */
};

/* near_signed_tx_decode: strict decode of borsh(SignedTransaction) buf[0..len). Account ids
 * (signer, receiver, DeleteAccount beneficiary) are validated as nearcore's AccountId; all
 * strings must be valid UTF-8. Actions past space->actions_cap are fully checked but not stored
 * (space may be NULL: nothing is stored); tx.n_actions is always the wire count. Only stored
 * AddKey actions take method names from the pool. Protocol limits (action count, method name
 * length, gas) are not checked here: that is the caller's policy. On error writes a precise
 * one-line reason with the byte offset into why (whycap bytes; may be NULL). Returns 0, NF_ETRUNC,
 * NF_ETRAILING, NF_EUTF8, NF_EACCOUNT, NF_EVARIANT (unknown action / key / permission tag),
 * NF_EVERSION (a Transaction V1 tag: first byte 0x01 with a nonzero second byte), NF_ETOOMANY
 * (names pool exhausted). Borrows buf: decoded strings point into it. */
int near_signed_tx_decode(const uint8_t *buf,
                          size_t len,
                          const struct near_decode_space *space,
                          struct near_signed_tx *out,
                          char *why,
                          size_t whycap);

/* near_signed_tx_verify: 0 when the signature is a valid ed25519 signature of out->hash by
 * tx.public_key, NF_ECRYPTO otherwise (including secp256k1, which this build cannot verify). */
int near_signed_tx_verify(const struct near_signed_tx *stx);

/* near_ft_transfer_args: writes the ft_transfer argument JSON exactly as JavaScript's
 * JSON.stringify({receiver_id, amount, memo}) would: {"receiver_id":"..","amount":"<decimal>"}
 * plus ,"memo":".." when memo != NULL (memo_len may be 0). memo must be valid UTF-8 of at most
 * NEAR_FT_MEMO_MAX bytes; it is escaped like JSON.stringify (\" \\ \b \f \n \r \t, other
 * controls as \u00xx; DEL, U+2028/2029 and all other non-ASCII are copied raw). Returns the length
 * written (a NUL follows when cap leaves room for it; it is not counted), NF_EUTF8 (receiver or
 * memo), NF_ERANGE (memo too long) or NF_ENOSPC. */
int near_ft_transfer_args(char *out,
                          size_t cap,
                          const char *receiver,
                          size_t receiver_len,
                          nf_u128 amount,
                          const char *memo,
                          size_t memo_len);

/* near_storage_deposit_args: {"account_id":"..","registration_only":true} (JSON.stringify form).
 * registration_only < 0 omits the field, 0 writes false. Returns the length (NUL-terminated when
 * cap leaves room), NF_EUTF8 or NF_ENOSPC. */
int near_storage_deposit_args(
    char *out, size_t cap, const char *account, size_t account_len, int registration_only);

#endif
