/* nearft: the command-line tool. `tx sign` builds, signs and prints one NEAR transaction (FT
 * transfers, storage deposits, function calls, transfers, key changes) byte-exact with near-api-js;
 * `tx decode` prints a signed transaction in nearcore's view JSON and checks its signature;
 * `keys new` writes a fresh key file; `keys add|list|remove` and `doctor` talk to an RPC node
 * (keys_cmd.c, doctor_cmd.c); `auth add|list|remove` manage nearftd's bearer-token file
 * (include/auth.h). Single-threaded, run once per invocation; it owns the loaded
 * keypair (sodium memory, freed before exit) and never prints secret material. Usage errors exit 2,
 * other failures exit 1, each with one line on stderr naming the bad argument. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "auth.h"
#include "base58.h"
#include "cli_args.h"
#include "cli_cmd.h"
#include "jw.h"
#include "keys.h"
#include "near_tx.h"
#include "near_view.h"
#include "nf_err.h"
#include "u128.h"

#define EXIT_USAGE CLI_EXIT_USAGE
#define EXIT_FAIL  CLI_EXIT_FAIL
/* Upper bound on keys of one account loaded from a credentials directory. */
#define CLI_MAX_ACCOUNT_KEYS 64

static const char TOP_HELP[] =
    "usage: nearft <command> [options]\n"
    "\n"
    "commands:\n"
    "  tx sign     build and sign a transaction, print {hash, signed_tx_base64, ...}\n"
    "  tx decode   decode a base64 signed transaction into nearcore view JSON\n"
    "  keys new    generate an ed25519 key pair and write a near-cli-rs key file\n"
    "  keys add    generate N keys, write their files, add them on chain (re-run safe)\n"
    "  keys list   an account's keys on chain and in a credentials directory, with nonces\n"
    "  keys remove delete access keys on chain and their files (never the last full-access)\n"
    "  doctor      check a nearftd configuration against the RPC node, send nothing\n"
    "  auth add    create a bearer token for nearftd --auth-tokens, print it once\n"
    "  auth list   list the names and scopes in a token file\n"
    "  auth remove remove a token from a token file\n"
    "\n"
    "`nearft <command> --help` describes each command. Exit codes: 0 ok, 1 failure,\n"
    "2 usage error. Secrets are never printed.\n";

static const char SIGN_HELP[] =
    "usage: nearft tx sign (--key-file FILE | --credentials DIR --signer ACCOUNT)\n"
    "                      --receiver CONTRACT --nonce N --block-hash BASE58 ACTION...\n"
    "\n"
    "key:\n"
    "  --key-file FILE        near-cli key file {account_id, public_key, private_key}; must not\n"
    "                         be readable by group or others, a symlink or another user's, nor\n"
    "                         in a directory group or others can write. The signer is the file's\n"
    "                         account_id unless --signer is given, which then overrides it (one\n"
    "                         access key may serve several accounts).\n"
    "  --credentials DIR      load every key of --signer from DIR (near-cli-rs\n"
    "                         DIR/ACCOUNT/ed25519_*.json and legacy DIR/ACCOUNT.json)\n"
    "  --signer ACCOUNT       signer account id\n"
    "  --public-key ed25519:… pick this key when the account has several (required then);\n"
    "                         with --key-file it must equal the file's key\n"
    "transaction:\n"
    "  --receiver CONTRACT    receiver account id (the FT contract)\n"
    "  --nonce N              access-key nonce, u64 (0..18446744073709551615)\n"
    "  --block-hash BASE58    recent block hash (32 bytes)\n"
    "  --gas-per-action GAS   gas of each ft_transfer / storage_deposit (default 30000000000000)\n"
    "actions (1..100, kept in command-line order; each flag may repeat):\n"
    "  --ft-transfer RECEIVER:AMOUNT[:MEMO]\n"
    "                         ft_transfer, deposit 1 yocto. MEMO is everything after the second\n"
    "                         ':' (may contain ':'; empty memo = trailing ':'), at most 256 bytes\n"
    "  --storage-deposit ACCOUNT[:AMOUNT]\n"
    "                         storage_deposit {account_id, registration_only:true}, deposit\n"
    "                         AMOUNT yocto (default 1250000000000000000000)\n"
    "  --function-call METHOD:ARGS_JSON:GAS:DEPOSIT\n"
    "                         METHOD up to the first ':', GAS and DEPOSIT are the last two\n"
    "                         fields, ARGS_JSON (everything between) is sent verbatim\n"
    "  --transfer AMOUNT      Transfer AMOUNT yoctoNEAR\n"
    "  --add-key PUBKEY[:full|:fc:RECEIVER:METHODS[:ALLOWANCE]]\n"
    "                         AddKey; no suffix = full access; METHODS is a comma list (empty =\n"
    "                         any method); no ALLOWANCE = unlimited\n"
    "  --delete-key PUBKEY    DeleteKey\n"
    "\n"
    "prints one JSON object: hash, signed_tx_base64, signer_id, public_key, nonce, receiver_id,\n"
    "actions (count).\n";

static const char DECODE_HELP[] =
    "usage: nearft tx decode BASE64 | -\n"
    "\n"
    "Decodes borsh(SignedTransaction) given as standard base64 (or read from stdin with '-')\n"
    "and prints nearcore's SignedTransactionView JSON (signer_id, public_key, nonce,\n"
    "receiver_id, actions, priority_fee, signature, hash) plus signature_valid (true when the\n"
    "ed25519 signature of hash verifies with public_key). Malformed input: exit 1 with the\n"
    "decoder's reason.\n";

static const char KEYS_NEW_HELP[] =
    "usage: nearft keys new [--account ACCOUNT] [--out DIR] [--legacy]\n"
    "\n"
    "Generates an ed25519 key pair and writes DIR/ACCOUNT/ed25519_<pub>.json (near-cli-rs\n"
    "layout; with --legacy DIR/ACCOUNT.json), directory 0700, file 0600. ACCOUNT defaults to\n"
    "the implicit account id (hex of the public key), DIR to the current directory.\n"
    "Prints {account_id, public_key, path}; the secret key is only in the file.\n";

static const char AUTH_HELP[] =
    "usage: nearft auth add --file FILE --name NAME --scopes SCOPES [--expires TIME] [--from "
    "NETS]\n"
    "       nearft auth list --file FILE\n"
    "       nearft auth remove --file FILE --name NAME\n"
    "\n"
    "Manages the token file nearftd reads with --auth-tokens FILE (re-read on SIGHUP).\n"
    "  add     generates a token (nft_ + 43 base64url characters, 256 random bits), prints it\n"
    "          once on stdout and appends `NAME SCOPES BLAKE2B-256-HEX` to FILE; the token\n"
    "          itself is never stored. FILE is created with mode 0600; a FILE readable or\n"
    "          writable by group or others, a symlink, another user's FILE or one in a\n"
    "          directory group or others can write is refused, and so is a NAME already in it.\n"
    "          --expires TIME (YYYY-MM-DDTHH:MM:SSZ, UTC, in the future) adds expires=TIME:\n"
    "          from then on nearftd answers the token 401.\n"
    "          --from NETS (a comma list of addresses or networks, ADDR[/PREFIX], IPv4 or IPv6)\n"
    "          adds from=NETS: from any other client address nearftd answers the token 401.\n"
    "  list    prints `NAME SCOPES` for each token, then `from=NETS` and `expires=TIME`\n"
    "          (`expired=TIME` once passed) for those that have them.\n"
    "  remove  rewrites FILE without NAME's line (temp file, fsync, rename).\n"
    "NAME: 1..64 of A-Z a-z 0-9 . _ -.  SCOPES: a comma list of transfer (the POST routes),\n"
    "read (status routes), metrics (/metrics, /debug/stages).\n";

static int account_arg(const char *flag, const char *value)
{
    const char *why = NULL;
    if (account_id_check(value, strlen(value), &why) >= 0)
        return 0;
    char q[200];
    cli_quote(value, q, sizeof(q));
    return cli_die_usage("%s: %s is not a valid account id (%s)", flag, q, why ? why : "invalid");
}

/* ---- tx sign --------------------------------------------------------------------------------- */

struct sign_opts {
    const char *key_file;
    const char *credentials;
    const char *signer;
    const char *public_key;
    const char *receiver;
    const char *nonce_text;
    const char *block_hash_text;
    const char *gas_text;
    uint64_t nonce;
    uint64_t gas_per_action;
    struct nf_pubkey wanted_key;
    uint8_t block_hash[NEAR_HASH_LEN];
};

typedef int (*cli_add_fn)(struct cli_builder *, const char *, char *, size_t);

static const struct {
    const char *flag;
    cli_add_fn add;
} ACTION_FLAGS[] = {
    {"--ft-transfer", cli_add_ft_transfer},
    {"--storage-deposit", cli_add_storage_deposit},
    {"--function-call", cli_add_function_call},
    {"--transfer", cli_add_transfer},
    {"--add-key", cli_add_add_key},
    {"--delete-key", cli_add_delete_key},
};

/* set_once: stores value in *slot unless the flag was already given. */
static int set_once(const char **slot, const char *flag, const char *value)
{
    if (*slot != NULL)
        return cli_die_usage("%s given twice", flag);
    *slot = value;
    return 0;
}

/* sign_parse: fills o and b from argv (after "tx sign"). Returns 0, -1 for --help (printed) or an
 * exit code. */
static int sign_parse(int argc, char **argv, struct sign_opts *o, struct cli_builder *b)
{
    static const char *const scalar_flags[] = {"--key-file",   "--credentials",   "--signer",
                                               "--public-key", "--receiver",      "--nonce",
                                               "--block-hash", "--gas-per-action"};
    const char **slots[] = {&o->key_file, &o->credentials, &o->signer,          &o->public_key,
                            &o->receiver, &o->nonce_text,  &o->block_hash_text, &o->gas_text};
    for (int i = 0; i < argc; i++) {
        if (nf_arg_is_help(argv[i])) {
            fputs(SIGN_HELP, stdout);
            return -1;
        }
        const char *value = NULL;
        int matched = 0;
        for (size_t f = 0; f < sizeof(scalar_flags) / sizeof(scalar_flags[0]) && !matched; f++) {
            int m = cli_opt_match(argc, argv, &i, scalar_flags[f], &value);
            if (m < 0)
                return cli_die_usage("%s needs a value", scalar_flags[f]);
            if (m > 0) {
                int rc = set_once(slots[f], scalar_flags[f], value);
                if (rc != 0)
                    return rc;
                matched = 1;
            }
        }
        for (size_t f = 0; f < sizeof(ACTION_FLAGS) / sizeof(ACTION_FLAGS[0]) && !matched; f++) {
            int m = cli_opt_match(argc, argv, &i, ACTION_FLAGS[f].flag, &value);
            if (m < 0)
                return cli_die_usage("%s needs a value", ACTION_FLAGS[f].flag);
            if (m > 0) {
                char why[256];
                char q[200];
                int rc = ACTION_FLAGS[f].add(b, value, why, sizeof(why));
                if (rc < 0) {
                    if (rc == NF_ETOOMANY)
                        return cli_die_usage("%s: %s", ACTION_FLAGS[f].flag, why);
                    cli_quote(value, q, sizeof(q));
                    return cli_die_usage("%s %s: %s", ACTION_FLAGS[f].flag, q, why);
                }
                matched = 1;
            }
        }
        if (!matched) {
            char q[200];
            cli_quote(argv[i], q, sizeof(q));
            return cli_die_usage("tx sign: unknown argument %s (see nearft tx sign --help)", q);
        }
    }

    if ((o->key_file == NULL) == (o->credentials == NULL))
        return cli_die_usage("tx sign: give exactly one of --key-file FILE or --credentials DIR");
    if (o->credentials != NULL && o->signer == NULL)
        return cli_die_usage("tx sign: --credentials needs --signer ACCOUNT");
    if (o->receiver == NULL)
        return cli_die_usage("tx sign: missing --receiver");
    if (o->nonce_text == NULL)
        return cli_die_usage("tx sign: missing --nonce");
    if (o->block_hash_text == NULL)
        return cli_die_usage("tx sign: missing --block-hash");
    if (b->n == 0)
        return cli_die_usage(
            "tx sign: no actions (give at least one of --ft-transfer, "
            "--storage-deposit, --function-call, --transfer, --add-key, --delete-key)");

    char q[200];
    int rc;
    if (o->signer != NULL && (rc = account_arg("--signer", o->signer)) != 0)
        return rc;
    if ((rc = account_arg("--receiver", o->receiver)) != 0)
        return rc;
    if (cli_parse_u64(o->nonce_text, strlen(o->nonce_text), &o->nonce) != 0) {
        cli_quote(o->nonce_text, q, sizeof(q));
        return cli_die_usage("--nonce: %s is not a u64", q);
    }
    if (b58_decode_exact(o->block_hash_text, strlen(o->block_hash_text), o->block_hash,
                         NEAR_HASH_LEN) != 0) {
        cli_quote(o->block_hash_text, q, sizeof(q));
        return cli_die_usage("--block-hash: %s is not base58 of exactly 32 bytes", q);
    }
    o->gas_per_action = CLI_DEFAULT_GAS;
    if (o->gas_text != NULL &&
        (cli_parse_u64(o->gas_text, strlen(o->gas_text), &o->gas_per_action) != 0 ||
         o->gas_per_action == 0)) {
        cli_quote(o->gas_text, q, sizeof(q));
        return cli_die_usage("--gas-per-action: %s is not a u64 in 1..18446744073709551615", q);
    }
    if (o->public_key != NULL &&
        keys_pubkey_parse(o->public_key, strlen(o->public_key), &o->wanted_key) != 0) {
        cli_quote(o->public_key, q, sizeof(q));
        return cli_die_usage("--public-key: %s is not ed25519:<base58 of 32 bytes>", q);
    }
    cli_set_gas_per_action(b, o->gas_per_action);
    return 0;
}

/* sign_load_key: loads the signing key into *kp (caller owns) and the signer id into account. */
static int
sign_load_key(const struct sign_opts *o, char *account, size_t cap, struct nf_keypair **kp)
{
    char err[512] = "";
    char text[KEYS_PUBKEY_STR_MAX];
    if (o->key_file != NULL) {
        int rc = keys_load_file(o->key_file, account, cap, kp, err, sizeof(err));
        if (rc != 0)
            return cli_die_fail("--key-file: %s", err[0] ? err : nf_strerror(rc));
        if (o->public_key != NULL && !keys_pubkey_equal(keys_public(*kp), &o->wanted_key)) {
            keys_pubkey_format(keys_public(*kp), text, sizeof(text));
            keys_free(*kp);
            *kp = NULL;
            return cli_die_fail("--public-key: the key file holds %s, not %s", text, o->public_key);
        }
        if (o->signer != NULL)
            snprintf(account, cap, "%s", o->signer);
        return 0;
    }
    struct nf_keypair *kps[CLI_MAX_ACCOUNT_KEYS] = {0};
    size_t n = 0;
    int rc = keys_load_account(o->credentials, o->signer, kps, CLI_MAX_ACCOUNT_KEYS, &n, err,
                               sizeof(err));
    if (rc != 0)
        return cli_die_fail("--credentials: %s", err[0] ? err : nf_strerror(rc));
    size_t pick = n;
    if (o->public_key != NULL) {
        for (size_t i = 0; i < n; i++) {
            if (keys_pubkey_equal(keys_public(kps[i]), &o->wanted_key))
                pick = i;
        }
    } else if (n == 1) {
        pick = 0;
    }
    int exit_code = 0;
    if (pick == n) {
        char list[1024] = "";
        size_t used = 0;
        for (size_t i = 0; i < n && used + KEYS_PUBKEY_STR_MAX + 2 < sizeof(list); i++) {
            keys_pubkey_format(keys_public(kps[i]), text, sizeof(text));
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", text);
        }
        if (o->public_key != NULL)
            exit_code = cli_die_fail("--public-key: %s is not a key of %s in %s (it has: %s)",
                                     o->public_key, o->signer, o->credentials, list);
        else
            exit_code = cli_die_usage("--credentials: %s has %zu keys in %s; choose one with "
                                      "--public-key (%s)",
                                      o->signer, n, o->credentials, list);
    }
    for (size_t i = 0; i < n; i++) {
        if (i == pick)
            *kp = kps[i];
        else
            keys_free(kps[i]);
    }
    if (exit_code == 0)
        snprintf(account, cap, "%s", o->signer);
    return exit_code;
}

static int cmd_tx_sign(int argc, char **argv)
{
    struct sign_opts o;
    memset(&o, 0, sizeof(o));
    struct cli_builder *b = cli_builder_new();
    if (b == NULL)
        return cli_die_fail("out of memory");
    struct nf_keypair *kp = NULL;
    uint8_t *signed_buf = NULL;
    char account[ACCOUNT_ID_MAX + 1];
    int ret = sign_parse(argc, argv, &o, b);
    if (ret != 0) {
        ret = ret < 0 ? 0 : ret;
        goto out;
    }
    ret = sign_load_key(&o, account, sizeof(account), &kp);
    if (ret != 0)
        goto out;
    if (o.signer == NULL && (ret = account_arg("--key-file account_id", account)) != 0)
        goto out;

    struct near_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.signer_id.ptr = (const uint8_t *)account;
    tx.signer_id.len = (uint32_t)strlen(account);
    tx.public_key = *keys_public(kp);
    tx.nonce = o.nonce;
    tx.receiver_id.ptr = (const uint8_t *)o.receiver;
    tx.receiver_id.len = (uint32_t)strlen(o.receiver);
    memcpy(tx.block_hash, o.block_hash, NEAR_HASH_LEN);
    tx.n_actions = b->n;
    tx.actions = b->actions;

    uint64_t total_gas = 0;
    int gas_overflow = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        if (b->actions[i].type == NEAR_ACT_FUNCTION_CALL &&
            __builtin_add_overflow(total_gas, b->actions[i].u.function_call.gas, &total_gas))
            gas_overflow = 1;
    }
    if (gas_overflow || total_gas > NEAR_MAX_PREPAID_GAS)
        fprintf(stderr, "nearft: warning: total gas is above 1 Pgas (max_total_prepaid_gas); "
                        "the chain will reject this transaction\n");

    size_t cap = near_tx_encoded_size(&tx) + NEAR_SIGNED_EXTRA;
    if (cap > NEAR_MAX_TX_SIZE) {
        ret = cli_die_usage("tx sign: the signed transaction would be %zu bytes, above "
                            "max_transaction_size %u",
                            cap, NEAR_MAX_TX_SIZE);
        goto out;
    }
    signed_buf = malloc(cap);
    if (signed_buf == NULL) {
        ret = cli_die_fail("out of memory");
        goto out;
    }
    size_t len = 0;
    uint8_t hash[NEAR_HASH_LEN];
    int rc = near_tx_sign(&tx, kp, signed_buf, cap, &len, hash);
    if (rc != 0) {
        ret = cli_die_fail("tx sign: signing failed (%s)", nf_strerror(rc));
        goto out;
    }

    char pk_text[KEYS_PUBKEY_STR_MAX];
    keys_pubkey_format(&tx.public_key, pk_text, sizeof(pk_text));
    struct jw w;
    jw_init_growable(&w);
    jw_obj_begin(&w);
    jw_key(&w, "hash");
    jw_base58(&w, hash, NEAR_HASH_LEN);
    jw_key(&w, "signed_tx_base64");
    jw_base64(&w, signed_buf, len);
    jw_key(&w, "signer_id");
    jw_str(&w, account);
    jw_key(&w, "public_key");
    jw_str(&w, pk_text);
    jw_key(&w, "nonce");
    jw_u64(&w, o.nonce);
    jw_key(&w, "receiver_id");
    jw_str(&w, o.receiver);
    jw_key(&w, "actions");
    jw_u64(&w, b->n);
    jw_obj_end(&w);
    ret = cli_print_json(&w) == 0 ? 0 : EXIT_FAIL;
out:
    free(signed_buf);
    keys_free(kp);
    cli_builder_free(b);
    return ret;
}

/* ---- tx decode ------------------------------------------------------------------------------- */

/* read_stdin: all of stdin as a NUL-terminated malloc'd string (caller frees), or NULL. */
static char *read_stdin(void)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (len + 1 >= cap) {
            char *bigger = cap > (64u << 20) ? NULL : realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, stdin);
        len += got;
        if (got == 0)
            break;
    }
    if (buf != NULL)
        buf[len] = '\0';
    return buf;
}

static int cmd_tx_decode(int argc, char **argv)
{
    if (argc >= 1 && nf_arg_is_help(argv[0])) {
        fputs(DECODE_HELP, stdout);
        return 0;
    }
    if (argc != 1)
        return cli_die_usage("tx decode: expected exactly one argument, BASE64 or - (see nearft tx "
                             "decode --help)");
    char *owned = NULL;
    const char *text = argv[0];
    if (strcmp(text, "-") == 0) {
        owned = read_stdin();
        if (owned == NULL)
            return cli_die_fail("tx decode: cannot read stdin");
        text = owned;
    }
    size_t start = 0, end = strlen(text);
    while (start < end && strchr(" \t\r\n", text[start]) != NULL)
        start++;
    while (end > start && strchr(" \t\r\n", text[end - 1]) != NULL)
        end--;
    int ret = 0;
    uint8_t *bin = NULL;
    struct near_action *actions = NULL;
    struct nf_bytes *names = NULL;
    if (end == start) {
        ret = cli_die_fail("tx decode: empty input");
        goto out;
    }
    size_t bin_cap = (end - start) / 4 * 3 + 3;
    bin = malloc(bin_cap);
    if (bin == NULL) {
        ret = cli_die_fail("out of memory");
        goto out;
    }
    size_t bin_len = 0;
    const char *b64_end = NULL;
    if (sodium_base642bin(bin, bin_cap, text + start, end - start, NULL, &bin_len, &b64_end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64_end != text + end) {
        size_t at = b64_end != NULL ? (size_t)(b64_end - (text + start)) : 0;
        ret = cli_die_fail("tx decode: not valid base64 (standard alphabet, '=' padding) near "
                           "character %zu",
                           at);
        goto out;
    }
    /* Every action takes at least 1 byte and every method name at least 4, so these capacities
     * store everything the input can hold. */
    uint32_t actions_cap = (uint32_t)(bin_len > UINT32_MAX ? UINT32_MAX : bin_len) + 1;
    uint32_t names_cap = actions_cap / 4 + 1;
    actions = calloc(actions_cap, sizeof(*actions));
    names = calloc(names_cap, sizeof(*names));
    if (actions == NULL || names == NULL) {
        ret = cli_die_fail("out of memory");
        goto out;
    }
    struct near_decode_space space = {actions, actions_cap, names, names_cap, NULL};
    struct near_signed_tx stx;
    char why[256] = "";
    int rc = near_signed_tx_decode(bin, bin_len, &space, &stx, why, sizeof(why));
    if (rc != 0) {
        ret = cli_die_fail("tx decode: %s (%s)", why[0] ? why : "invalid signed transaction",
                           nf_strerror(rc));
        goto out;
    }
    int valid = near_signed_tx_verify(&stx) == 0;
    struct jw w;
    jw_init_growable(&w);
    uint32_t stored = stx.tx.n_actions < actions_cap ? stx.tx.n_actions : actions_cap;
    near_view_signed_tx(&w, &stx, stored);
    size_t len = 0;
    char *view = jw_take(&w, &len);
    if (view == NULL || len < 2 || view[len - 1] != '}') {
        free(view);
        ret = cli_die_fail("tx decode: cannot format the view JSON");
        goto out;
    }
    /* The view is one object; signature_valid joins it as a last member. */
    view[len - 1] = '\0';
    printf("%s,\"signature_valid\":%s}\n", view, valid ? "true" : "false");
    free(view);
    if (fflush(stdout) != 0)
        ret = cli_die_fail("cannot write to stdout");
out:
    free(names);
    free(actions);
    free(bin);
    free(owned);
    return ret;
}

/* ---- keys new -------------------------------------------------------------------------------- */

static int cmd_keys_new(int argc, char **argv)
{
    const char *account_arg_text = NULL, *out_dir = NULL;
    int legacy = 0;
    for (int i = 0; i < argc; i++) {
        const char *value = NULL;
        int m;
        if (nf_arg_is_help(argv[i])) {
            fputs(KEYS_NEW_HELP, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--legacy") == 0) {
            legacy = 1;
        } else if ((m = cli_opt_match(argc, argv, &i, "--account", &value)) != 0) {
            if (m < 0)
                return cli_die_usage("--account needs a value");
            if (account_arg_text != NULL)
                return cli_die_usage("--account given twice");
            account_arg_text = value;
        } else if ((m = cli_opt_match(argc, argv, &i, "--out", &value)) != 0) {
            if (m < 0)
                return cli_die_usage("--out needs a value");
            if (out_dir != NULL)
                return cli_die_usage("--out given twice");
            out_dir = value;
        } else {
            char q[200];
            cli_quote(argv[i], q, sizeof(q));
            return cli_die_usage("keys new: unknown argument %s (see nearft keys new --help)", q);
        }
    }
    int rc;
    if (account_arg_text != NULL && (rc = account_arg("--account", account_arg_text)) != 0)
        return rc;
    if (out_dir == NULL)
        out_dir = ".";

    struct nf_keypair *kp = NULL;
    rc = keys_generate(&kp);
    if (rc != 0)
        return cli_die_fail("keys new: cannot generate a key (%s)", nf_strerror(rc));
    const struct nf_pubkey *pk = keys_public(kp);
    char account[ACCOUNT_ID_MAX + 1];
    if (account_arg_text != NULL) {
        snprintf(account, sizeof(account), "%s", account_arg_text);
    } else {
        static const char hexdigits[] = "0123456789abcdef";
        for (int i = 0; i < 32; i++) {
            account[2 * i] = hexdigits[pk->data[i] >> 4];
            account[2 * i + 1] = hexdigits[pk->data[i] & 15];
        }
        account[64] = '\0';
    }
    char path[4096];
    char err[512] = "";
    rc = keys_write_file(out_dir, account, kp, legacy, path, sizeof(path), err, sizeof(err));
    if (rc != 0) {
        keys_free(kp);
        return cli_die_fail("keys new: %s", err[0] ? err : nf_strerror(rc));
    }
    char pk_text[KEYS_PUBKEY_STR_MAX];
    keys_pubkey_format(pk, pk_text, sizeof(pk_text));
    keys_free(kp);
    struct jw w;
    jw_init_growable(&w);
    jw_obj_begin(&w);
    jw_key(&w, "account_id");
    jw_str(&w, account);
    jw_key(&w, "public_key");
    jw_str(&w, pk_text);
    jw_key(&w, "path");
    jw_str(&w, path);
    jw_obj_end(&w);
    return cli_print_json(&w) == 0 ? 0 : EXIT_FAIL;
}

/* ---- auth add / list / remove ---------------------------------------------------------------- */

/* auth_args: --file and --name (optional), --scopes, --expires and --from (each optional: NULL
 * when the subcommand takes none) of an auth subcommand. */
static int auth_args(int argc,
                     char **argv,
                     const char *what,
                     const char **file,
                     const char **name,
                     const char **scopes,
                     const char **expires,
                     const char **from)
{
    for (int i = 0; i < argc; i++) {
        const char *value = NULL;
        int m;
        const char **slot = NULL;
        const char *flag = NULL;
        if ((m = cli_opt_match(argc, argv, &i, "--file", &value)) != 0) {
            slot = file;
            flag = "--file";
        } else if (name != NULL && (m = cli_opt_match(argc, argv, &i, "--name", &value)) != 0) {
            slot = name;
            flag = "--name";
        } else if (scopes != NULL && (m = cli_opt_match(argc, argv, &i, "--scopes", &value)) != 0) {
            slot = scopes;
            flag = "--scopes";
        } else if (expires != NULL &&
                   (m = cli_opt_match(argc, argv, &i, "--expires", &value)) != 0) {
            slot = expires;
            flag = "--expires";
        } else if (from != NULL && (m = cli_opt_match(argc, argv, &i, "--from", &value)) != 0) {
            slot = from;
            flag = "--from";
        } else {
            char q[200];
            cli_quote(argv[i], q, sizeof(q));
            return cli_die_usage("auth %s: unknown argument %s (see nearft auth --help)", what, q);
        }
        if (m < 0)
            return cli_die_usage("%s needs a value", flag);
        if (*slot != NULL)
            return cli_die_usage("%s given twice", flag);
        *slot = value;
    }
    if (*file == NULL)
        return cli_die_usage("auth %s: missing --file FILE", what);
    if (name != NULL && *name == NULL)
        return cli_die_usage("auth %s: missing --name NAME", what);
    if (scopes != NULL && *scopes == NULL)
        return cli_die_usage("auth %s: missing --scopes SCOPES", what);
    if (name != NULL && !auth_name_ok(*name, strlen(*name))) {
        char q[200];
        cli_quote(*name, q, sizeof(q));
        return cli_die_usage("--name %s: use 1 to 64 characters of A-Z a-z 0-9 . _ -", q);
    }
    return 0;
}

static int cmd_auth(int argc, char **argv)
{
    if (argc < 1 || nf_arg_is_help(argv[0])) {
        fputs(AUTH_HELP, stdout);
        return argc < 1 ? EXIT_USAGE : 0;
    }
    for (int i = 1; i < argc; i++)
        if (nf_arg_is_help(argv[i])) {
            fputs(AUTH_HELP, stdout);
            return 0;
        }
    const char *file = NULL, *name = NULL, *scopes = NULL, *expires = NULL, *from = NULL;
    char err[512] = "";
    int rc;
    if (strcmp(argv[0], "add") == 0) {
        if ((rc = auth_args(argc - 1, argv + 1, "add", &file, &name, &scopes, &expires, &from)) !=
            0)
            return rc;
        unsigned bits = 0;
        const char *why = "";
        if (auth_scopes_parse(scopes, strlen(scopes), &bits, &why) != 0) {
            char q[200];
            cli_quote(scopes, q, sizeof(q));
            return cli_die_usage("--scopes %s: %s", q, why);
        }
        uint64_t expires_s = 0;
        if (expires != NULL) {
            char q[200];
            cli_quote(expires, q, sizeof(q));
            if (auth_time_parse(expires, strlen(expires), &expires_s) != 0)
                return cli_die_usage("--expires %s: want a UTC time YYYY-MM-DDTHH:MM:SSZ", q);
            if (expires_s <= (uint64_t)time(NULL))
                return cli_die_usage("--expires %s: that time has passed", q);
        }
        if (from != NULL) {
            struct auth_net nets[AUTH_NETS_MAX];
            uint8_t n_nets = 0;
            char q[200];
            cli_quote(from, q, sizeof(q));
            if (auth_nets_parse(from, strlen(from), nets, &n_nets, &why) != 0)
                return cli_die_usage("--from %s: %s", q, why);
        }
        char token[AUTH_TOKEN_LEN + 1];
        uint8_t hash[AUTH_HASH_BYTES];
        auth_token_new(token, sizeof(token));
        auth_token_hash(token, AUTH_TOKEN_LEN, hash);
        rc = auth_file_add(file, name, bits, hash, expires_s, from, err, sizeof(err));
        if (rc != 0) {
            sodium_memzero(token, sizeof(token));
            return cli_die_fail("auth add: %s", err[0] ? err : nf_strerror(rc));
        }
        printf("%s\n", token);
        sodium_memzero(token, sizeof(token));
        return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
    }
    if (strcmp(argv[0], "list") == 0) {
        if ((rc = auth_args(argc - 1, argv + 1, "list", &file, NULL, NULL, NULL, NULL)) != 0)
            return rc;
        struct auth_table *t = auth_table_load(file, err, sizeof(err), &rc);
        if (t == NULL)
            return cli_die_fail("auth list: %s", err[0] ? err : nf_strerror(rc));
        uint64_t now_s = (uint64_t)time(NULL);
        for (size_t i = 0; i < t->n; i++) {
            char sc[AUTH_SCOPES_STR], when[AUTH_TIME_STR], nets[AUTH_NETS_STR];
            auth_scopes_format(t->e[i].scopes, sc, sizeof(sc));
            auth_nets_format(&t->e[i], nets);
            printf("%s %s", t->e[i].name, sc);
            if (nets[0] != '\0')
                printf(" from=%s", nets);
            if (t->e[i].expires_s != 0) {
                auth_time_format(t->e[i].expires_s, when);
                printf(" %s=%s", auth_expired(&t->e[i], now_s) ? "expired" : "expires", when);
            }
            printf("\n");
        }
        auth_table_free(t);
        return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
    }
    if (strcmp(argv[0], "remove") == 0) {
        if ((rc = auth_args(argc - 1, argv + 1, "remove", &file, &name, NULL, NULL, NULL)) != 0)
            return rc;
        rc = auth_file_remove(file, name, err, sizeof(err));
        if (rc != 0)
            return cli_die_fail("auth remove: %s", err[0] ? err : nf_strerror(rc));
        return 0;
    }
    char q[200];
    cli_quote(argv[0], q, sizeof(q));
    return cli_die_usage("auth: unknown subcommand %s (add, list or remove)", q);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return cli_die_fail("libsodium failed to initialise");
    keys_json_wipe_init(); /* before any jansson use: key file text is wiped when freed */
    if (argc < 2)
        return cli_die_usage("missing command (see nearft --help)");
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("nearft %s\n", NF_VERSION);
        return 0;
    }
    if (nf_arg_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        fputs(TOP_HELP, stdout);
        return 0;
    }
    if (strcmp(argv[1], "tx") == 0 && argc >= 3) {
        if (strcmp(argv[2], "sign") == 0)
            return cmd_tx_sign(argc - 3, argv + 3);
        if (strcmp(argv[2], "decode") == 0)
            return cmd_tx_decode(argc - 3, argv + 3);
    }
    if (strcmp(argv[1], "keys") == 0 && argc >= 3) {
        if (strcmp(argv[2], "new") == 0)
            return cmd_keys_new(argc - 3, argv + 3);
        if (strcmp(argv[2], "add") == 0)
            return cli_keys_add(argc - 3, argv + 3);
        if (strcmp(argv[2], "list") == 0)
            return cli_keys_list(argc - 3, argv + 3);
        if (strcmp(argv[2], "remove") == 0)
            return cli_keys_remove(argc - 3, argv + 3);
    }
    if (strcmp(argv[1], "doctor") == 0)
        return cli_doctor(argc - 1, argv + 1);
    if (strcmp(argv[1], "auth") == 0)
        return cmd_auth(argc - 2, argv + 2);
    if ((strcmp(argv[1], "tx") == 0 || strcmp(argv[1], "keys") == 0) && argc >= 3 &&
        nf_arg_is_help(argv[2])) {
        fputs(TOP_HELP, stdout);
        return 0;
    }
    if (strcmp(argv[1], "tx") == 0 && argc == 2)
        return cli_die_usage("tx: missing subcommand (sign or decode; see nearft --help)");
    if (strcmp(argv[1], "keys") == 0 && argc == 2)
        return cli_die_usage(
            "keys: missing subcommand (new, add, list or remove; see nearft --help)");
    char q[200];
    cli_quote(argc >= 3 ? argv[2] : argv[1], q, sizeof(q));
    return cli_die_usage("unknown command %s (see nearft --help)", q);
}
