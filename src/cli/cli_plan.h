/* cli_plan: the pure decisions behind `nearft keys add|list|remove` and `nearft doctor`: merging
 * the keys found in a credentials directory with an account's on-chain access-key list, choosing
 * the key that signs, refusing a removal that would leave no full-access key, splitting AddKey
 * actions into transactions, reading the JSON answers of the NEP-141/145 views doctor calls, and
 * the chain's prepaid-gas limit. No I/O, no allocation, no global state; the CLI's main thread,
 * tests and fuzzers. Every function that can fail writes a one-line reason into why (whycap
 * bytes); reasons never hold secret material. */
#ifndef NF_CLI_PLAN_H
#define NF_CLI_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "jtok.h"
#include "keys.h"
#include "rpc.h"
#include "u128.h"

/* AddKey / DeleteKey actions per transaction: max_actions_per_receipt. */
#define CLI_PLAN_ACTIONS_PER_TX 100
/* Keys of one account `nearft keys` handles (disk and chain each). */
#define CLI_PLAN_MAX_KEYS 2048
/* `keys add --count` range. */
#define CLI_PLAN_MAX_COUNT 1000

/* One public key of the account, as found on disk, on chain, or both. */
struct cli_key_view {
    char public_key[128]; /* "ed25519:..." (the node's text for chain-only keys) */
    int on_disk;
    int on_chain;
    int full_access;   /* on chain with FullAccess permission */
    uint64_t nonce;    /* on-chain nonce (0 when not on chain) */
    size_t disk_index; /* index into the disk array when on_disk */
};

/* cli_plan_merge: one view per distinct key of disk[0..n_disk) and chain[0..n_chain), sorted by
 * public-key text, into out[0..cap). Borrows its inputs until return. Returns 0 and *n_out, or
 * NF_ETOOMANY when more than cap distinct keys. */
int cli_plan_merge(const struct nf_pubkey *disk,
                   size_t n_disk,
                   const struct rpc_key_entry *chain,
                   size_t n_chain,
                   struct cli_key_view *out,
                   size_t cap,
                   size_t *n_out);

/* cli_plan_pending: the disk keys that are not on chain (indexes into v, in v's order), written
 * to idx[0..cap). Returns their count (never more than cap). */
size_t cli_plan_pending(const struct cli_key_view *v, size_t n, size_t *idx, size_t cap);

/* cli_plan_to_generate: how many new keys `keys add --count count` generates when `pending` key
 * files of the directory are not on chain yet: those count toward the request, so
 * max(0, count - pending). */
size_t cli_plan_to_generate(size_t count, size_t pending);

/* cli_plan_tx_count: transactions needed for n AddKey/DeleteKey actions (ceil(n / 100)). */
size_t cli_plan_tx_count(size_t n);

/* cli_plan_pick_signer: the view index of the key that signs: a full-access key on chain with its
 * file on disk. wanted (may be NULL): that public key text only. Keys whose view index has
 * avoid[i] != 0 (may be NULL) are taken only when no other key qualifies. Returns the index, or
 * NF_ENOTFOUND with why filled. */
int cli_plan_pick_signer(const struct cli_key_view *v,
                         size_t n,
                         const char *wanted,
                         const uint8_t *avoid,
                         char *why,
                         size_t whycap);

/* cli_plan_remove: checks a removal of remove[0..n_remove) (public-key texts, already parsed and
 * formatted) against v. present[i] is set to 1 when remove[i] is on chain (0: nothing to delete
 * for it). Refuses (NF_EPERM) a removal that leaves no full-access key on chain, and picks the
 * signer: a full-access key on disk and on chain that is not removed, or else one that is (it may
 * delete itself, since another full-access key remains). *signer is -1 when nothing is present.
 * Returns 0, NF_EPERM, NF_ENOTFOUND (no key in the directory can sign) or NF_ETOOMANY (n above
 * 2 * CLI_PLAN_MAX_KEYS), why filled on error. */
int cli_plan_remove(const struct cli_key_view *v,
                    size_t n,
                    const char *const *remove,
                    size_t n_remove,
                    uint8_t *present,
                    long *signer,
                    char *why,
                    size_t whycap);

/* ---- doctor: view answers (the bytes of a call_function result) ---- */

/* cli_view_u128: a JSON string of decimal digits ("\"123\"", what ft_balance_of returns),
 * exactly as rpc_call_u128 (include/rpc.h) reads it for nearftd. Returns 0, NF_EINVAL or
 * NF_ERANGE. */
int cli_view_u128(const char *json, size_t len, nf_u128 *out);

/* cli_view_storage_bounds: storage_balance_bounds' {"min":"<u128>","max":"<u128>"|null}; *min
 * gets min. Returns 0 or NF_EINVAL with why filled. */
int cli_view_storage_bounds(const char *json, size_t len, nf_u128 *min, char *why, size_t whycap);

/* cli_view_ft_metadata: ft_metadata's FungibleTokenMetadata: spec starting "ft-", a string
 * symbol (copied, truncated, into symbol[0..cap)) and decimals 0..255. Returns 0 or NF_EINVAL
 * with why filled. */
int cli_view_ft_metadata(const char *json,
                         size_t len,
                         char *symbol,
                         size_t cap,
                         unsigned *decimals,
                         char *why,
                         size_t whycap);

/* cli_gas_limit: the chain's max_total_prepaid_gas for a protocol version: 1 Pgas from protocol
 * 83, 300 Tgas before (docs/PROTOCOL.md section 4, limits). */
uint64_t cli_gas_limit(uint64_t protocol_version);

/* cli_view_status_protocol: result.protocol_version of a whole JSON-RPC `status` answer body.
 * toks[0..cap) is scratch. Returns 0, NF_EINVAL (no such number) or NF_ETOOMANY (more scratch
 * needed). */
int cli_view_status_protocol(
    const char *json, size_t len, struct jtok *toks, size_t cap, uint64_t *out);

#endif
