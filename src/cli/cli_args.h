/* cli_args: pure parsers for the values of `nearft tx sign` (numbers, action specs) that build the
 * action list of one transaction in command-line order. No I/O, no global state; the CLI's main
 * thread only. Every parser writes a one-line reason into why (whycap bytes) on failure; the reason
 * never repeats the whole spec (the caller prints it) and never holds secret material. */
#ifndef NF_CLI_ARGS_H
#define NF_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "near_tx.h"

/* 30 Tgas: what --gas-per-action defaults to (ft_transfer and storage_deposit actions). */
#define CLI_DEFAULT_GAS 30000000000000ull
/* 0.00125 NEAR: the usual NEP-145 storage_deposit for one FT account. */
#define CLI_DEFAULT_STORAGE_DEPOSIT ((nf_u128)1250000000ull * 1000000000000ull)

/* Room for the worst ft_transfer JSON: 64-byte receiver, 39 digits, a 256-byte memo of control
 * characters escaped as \u00xx (6 bytes each), keys and quotes. */
#define CLI_ARGS_CAP 2048

/* The action list under construction. Argument JSON of ft_transfer / storage_deposit lives in
 * args_buf; every other string (method names, ARGS_JSON, key receivers) points into the spec text
 * passed to the cli_add_* call, which the caller must keep alive while the builder is used.
 * Allocate with cli_builder_new, release with cli_builder_free. */
struct cli_builder {
    struct near_action actions[NEAR_MAX_ACTIONS];
    uint8_t gas_per_action[NEAR_MAX_ACTIONS]; /* 1: gas comes from --gas-per-action */
    char args_buf[NEAR_MAX_ACTIONS][CLI_ARGS_CAP];
    struct nf_bytes *method_names[NEAR_MAX_ACTIONS]; /* AddKey method lists, malloc'd */
    uint32_t n;
};

/* cli_builder_new: a zeroed builder the caller owns (NULL when out of memory). */
struct cli_builder *cli_builder_new(void);

/* cli_builder_free: frees b and its method-name lists. NULL-safe. */
void cli_builder_free(struct cli_builder *b);

/* cli_parse_u64: s must be 1..20 ASCII digits (no sign, no spaces) with a value <= 2^64-1.
 * Returns 0, NF_EINVAL (empty or non-digit) or NF_ERANGE. len is the length of s. */
int cli_parse_u64(const char *s, size_t len, uint64_t *out);

/* The cli_add_* parsers append one action for spec (NUL-terminated, borrowed for the builder's
 * life). They return 0, NF_ETOOMANY (already NEAR_MAX_ACTIONS actions) or another negative
 * enum nf_err with why filled. */

/* --ft-transfer RECEIVER:AMOUNT[:MEMO]: ft_transfer, deposit 1 yocto, gas per action. Everything
 * after the second ':' is the memo (it may hold ':' and be empty; absent without a second ':').
 * AMOUNT must be a positive u128. */
int cli_add_ft_transfer(struct cli_builder *b, const char *spec, char *why, size_t whycap);

/* --storage-deposit ACCOUNT[:AMOUNT]: storage_deposit {"account_id":..,"registration_only":true},
 * deposit AMOUNT (default CLI_DEFAULT_STORAGE_DEPOSIT), gas per action. */
int cli_add_storage_deposit(struct cli_builder *b, const char *spec, char *why, size_t whycap);

/* --function-call METHOD:ARGS_JSON:GAS:DEPOSIT: METHOD runs to the first ':', GAS and DEPOSIT are
 * the last two ':'-separated fields, ARGS_JSON is everything between, used verbatim. */
int cli_add_function_call(struct cli_builder *b, const char *spec, char *why, size_t whycap);

/* --transfer AMOUNT: a Transfer of AMOUNT yoctoNEAR (0 allowed). */
int cli_add_transfer(struct cli_builder *b, const char *spec, char *why, size_t whycap);

/* --add-key PUBKEY[:full|:fc:RECEIVER:METHODS[:ALLOWANCE]]: AddKey with access-key nonce 0.
 * PUBKEY is "ed25519:<base58>" or bare base58; no suffix means full access. METHODS is a comma
 * list (empty = any method); ALLOWANCE absent = unlimited. */
int cli_add_add_key(struct cli_builder *b, const char *spec, char *why, size_t whycap);

/* --delete-key PUBKEY. */
int cli_add_delete_key(struct cli_builder *b, const char *spec, char *why, size_t whycap);

/* cli_set_gas_per_action: sets gas on every ft_transfer / storage_deposit action built so far. */
void cli_set_gas_per_action(struct cli_builder *b, uint64_t gas);

/* cli_quote: writes s as a printable, double-quoted string into out (cap bytes): control bytes,
 * '"' and '\\' escaped, anything past ~120 bytes cut with "...". For error messages. */
void cli_quote(const char *s, char *out, size_t cap);

/* cli_why: printf into a reason buffer (why may be NULL or whycap 0: nothing is written). */
__attribute__((format(printf, 3, 4))) void cli_why(char *why, size_t whycap, const char *fmt, ...);

#endif
