/* keys_cmd: `nearft keys add | list | remove`, the access-key pool of one account kept in step
 * between a credentials directory (near-cli-rs key files) and the chain. Runs on the CLI's only
 * thread with blocking JSON-RPC calls (rpc_client). It owns, for one invocation, the keypairs
 * loaded from the directory (sodium memory, freed before return) and the copies of the on-chain key
 * list. The decisions (which files still need an AddKey, which key signs, whether a removal keeps
 * a full-access key) are the pure functions of cli_plan.c; this file does the I/O around them.
 *
 * Crash safety of `keys add`: every new key file is written (atomically, fsynced) before any
 * transaction names its key, and every run starts by adding the key files whose key is not on
 * chain. A key therefore never lands on chain without its file, and a file left by an interrupted
 * run is added by the next one. NEAR refuses an AddKey of a key the account already has, and
 * each run adds only keys the chain does not show, so no key is ever added twice. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "base58.h"
#include "cli_args.h"
#include "cli_cmd.h"
#include "cli_plan.h"
#include "keys.h"
#include "near_tx.h"
#include "nf_err.h"
#include "nf_time.h"
#include "rpc.h"
#include "rpc_client.h"

#define MAX_URLS        8
#define DEFAULT_WAIT_MS 120000ull

static const char KEYS_ADD_HELP[] =
    "usage: nearft keys add --rpc-url URL --signer ACCOUNT --credentials DIR --count N\n"
    "                       [--signing-key ed25519:...] [--wait-timeout-ms MS]\n"
    "\n"
    "Adds full-access keys to ACCOUNT until N keys have been added by this run:\n"
    "  1. key files of ACCOUNT in DIR whose key is not on chain (left by an interrupted run or\n"
    "     written with `nearft keys new --account ACCOUNT --out DIR`) are added first and count\n"
    "     toward N (all of them are added, even more than N);\n"
    "  2. the rest, max(0, N - those), are generated and written as "
    "DIR/ACCOUNT/ed25519_<pub>.json\n"
    "     (0600, temp file + fsync + rename + directory fsync) before any transaction is sent;\n"
    "  3. AddKey FullAccess actions go out 100 per transaction (max_actions_per_receipt), signed\n"
    "     by a full-access key of ACCOUNT that is on chain and in DIR (--signing-key picks one),\n"
    "     each waited for until FINAL.\n"
    "A transaction whose outcome is unknown (timeout, lost connection) is looked up by hash until\n"
    "--wait-timeout-ms (default 120000); then the key list is read again. Keys it did not add\n"
    "stay as files and the next run adds them. Re-running is always safe: a key on chain is\n"
    "never added again. N: 0..1000. One add or remove per account and DIR at a time (a lock on\n"
    "DIR/.nearft-keys-ACCOUNT.lock). Run it while nearftd is stopped, or give --signing-key a key\n"
    "nearftd does not use, so the two do not race for that key's nonce.\n"
    "Prints {account_id, added, generated, from_disk, transactions:[{hash, actions, status}],\n"
    "keys_on_chain, full_access_on_chain}; exit 1 if any key could not be added.\n";

static const char KEYS_LIST_HELP[] =
    "usage: nearft keys list --rpc-url URL --signer ACCOUNT --credentials DIR\n"
    "\n"
    "Prints every key of ACCOUNT found on chain (view_access_key_list at final) or in DIR:\n"
    "{account_id, on_chain, on_disk, full_access_on_chain, pending, keys:[{public_key, on_chain,\n"
    "on_disk, permission (FullAccess|FunctionCall|null), nonce (null when not on chain)}]}.\n"
    "`pending` counts key files whose key is not on chain (what `keys add` adds first).\n";

static const char KEYS_REMOVE_HELP[] =
    "usage: nearft keys remove --rpc-url URL --signer ACCOUNT --credentials DIR\n"
    "                          --public-key ed25519:... [--public-key ...] [--wait-timeout-ms MS]\n"
    "\n"
    "Deletes the given access keys of ACCOUNT in one transaction (1..100 keys) and then their key\n"
    "files. Refuses when no full-access key would be left on chain. The transaction is signed by\n"
    "a full-access key in DIR that is not being removed; only when every such key is being\n"
    "removed does one of them sign its own removal (allowed, since another full-access key\n"
    "remains). A key that is not on chain is reported under `absent` and is not an error; its key\n"
    "file, if any, is deleted (else the next `keys add` would add it).\n"
    "Before sending, each key file (and a legacy DIR/ACCOUNT.json holding one of the keys) is\n"
    "renamed to .removing-<name> in its directory (ignored by nearftd and `keys add`); it is\n"
    "deleted once the removal is final, restored when the chain refused it, and left in place\n"
    "when the outcome stayed unknown (re-run the command).\n"
    "Prints {account_id, removed, absent, files_deleted, transaction:{hash, status,\n"
    "signing_key} or null}.\n";

/* ---- shared state of one keys command ------------------------------------------------------- */

struct keys_ctx {
    const char *signer;
    const char *credentials;
    const char *urls[MAX_URLS];
    struct rpc_client rpc;
    uint64_t wait_ms;
    struct nf_keypair **kps; /* owned, n_disk of them */
    struct nf_pubkey *disk_pk;
    size_t n_disk;
    struct rpc_key_entry *chain; /* owned array of CLI_PLAN_MAX_KEYS */
    size_t n_chain;
    struct cli_key_view *views; /* owned array of 2 * CLI_PLAN_MAX_KEYS */
    size_t n_views;
    int lock_fd; /* DIR/.nearft-keys-ACCOUNT.lock held by add / remove, or -1 */
};

static void ctx_free(struct keys_ctx *k)
{
    if (k->lock_fd >= 0)
        close(k->lock_fd); /* releases the flock */
    for (size_t i = 0; i < k->n_disk; i++)
        keys_free(k->kps[i]);
    free(k->kps);
    free(k->disk_pk);
    free(k->chain);
    free(k->views);
}

/* keys_args: the options every keys command takes, plus extra[] (flag → slot) and the repeated
 * --public-key of `keys remove` (pks may be NULL). what: the subcommand, for messages. */
struct extra_opt {
    const char *flag;
    const char **slot;
};

static int keys_args(int argc,
                     char **argv,
                     const char *what,
                     const char *help,
                     struct keys_ctx *k,
                     const struct extra_opt *extra,
                     size_t n_extra,
                     const char **pks,
                     size_t *n_pks,
                     size_t pk_cap)
{
    const char *wait_text = NULL;
    for (int i = 0; i < argc; i++) {
        const char *value = NULL;
        int m;
        if (nf_arg_is_help(argv[i])) {
            fputs(help, stdout);
            return -1;
        }
        if ((m = cli_opt_match(argc, argv, &i, "--rpc-url", &value)) != 0) {
            if (m < 0)
                return cli_die_usage("--rpc-url needs a value");
            if (k->rpc.n_urls >= MAX_URLS)
                return cli_die_usage("--rpc-url given more than %d times", MAX_URLS);
            if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
                return cli_die_usage("--rpc-url: give an http:// or https:// URL");
            k->urls[k->rpc.n_urls++] = value;
            continue;
        }
        if (pks != NULL && (m = cli_opt_match(argc, argv, &i, "--public-key", &value)) != 0) {
            if (m < 0)
                return cli_die_usage("--public-key needs a value");
            if (*n_pks >= pk_cap)
                return cli_die_usage("%s: at most %zu --public-key in one run", what, pk_cap);
            pks[(*n_pks)++] = value;
            continue;
        }
        static const char *const common[] = {"--signer", "--credentials", "--wait-timeout-ms"};
        const char **slots[] = {&k->signer, &k->credentials, &wait_text};
        int matched = 0;
        for (size_t f = 0; f < 3 + n_extra && !matched; f++) {
            const char *flag = f < 3 ? common[f] : extra[f - 3].flag;
            const char **slot = f < 3 ? slots[f] : extra[f - 3].slot;
            if ((m = cli_opt_match(argc, argv, &i, flag, &value)) == 0)
                continue;
            if (m < 0)
                return cli_die_usage("%s needs a value", flag);
            if (*slot != NULL)
                return cli_die_usage("%s given twice", flag);
            *slot = value;
            matched = 1;
        }
        if (!matched) {
            char q[200];
            cli_quote(argv[i], q, sizeof(q));
            return cli_die_usage("keys %s: unknown argument %s (see nearft keys %s --help)", what,
                                 q, what);
        }
    }
    if (k->rpc.n_urls == 0)
        return cli_die_usage("keys %s: missing --rpc-url URL", what);
    if (k->signer == NULL)
        return cli_die_usage("keys %s: missing --signer ACCOUNT", what);
    if (k->credentials == NULL)
        return cli_die_usage("keys %s: missing --credentials DIR", what);
    const char *why = NULL;
    if (account_id_check(k->signer, strlen(k->signer), &why) < 0) {
        char q[200];
        cli_quote(k->signer, q, sizeof(q));
        return cli_die_usage("--signer: %s is not a valid account id (%s)", q,
                             why ? why : "invalid");
    }
    k->wait_ms = DEFAULT_WAIT_MS;
    if (wait_text != NULL && (cli_parse_u64(wait_text, strlen(wait_text), &k->wait_ms) != 0 ||
                              k->wait_ms < 1000 || k->wait_ms > 3600000)) {
        char q[200];
        cli_quote(wait_text, q, sizeof(q));
        return cli_die_usage("--wait-timeout-ms: %s is not a number in 1000..3600000", q);
    }
    k->rpc.urls = k->urls;
    k->rpc.timeout_ms = 30000;
    return 0;
}

/* lock_dir: one `keys add` / `keys remove` at a time per account and directory (an exclusive
 * flock on DIR/.nearft-keys-ACCOUNT.lock, released at exit), so two runs never race for the
 * signing key's nonce or each other's pending files. */
static int lock_dir(struct keys_ctx *k)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/.nearft-keys-%s.lock", k->credentials, k->signer);
    if (n < 0 || (size_t)n >= sizeof(path))
        return cli_die_fail("--credentials: path too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd == -1)
        return cli_die_fail("--credentials: cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return cli_die_fail("another `nearft keys add` or `keys remove` for %s is running on "
                                "%s; wait for it to finish",
                                k->signer, k->credentials);
        return cli_die_fail("--credentials: cannot lock %s: %s", path, strerror(e));
    }
    k->lock_fd = fd;
    return 0;
}

/* load_disk: every key file of the signer in the credentials directory (none is fine). */
static int load_disk(struct keys_ctx *k)
{
    k->kps = calloc(CLI_PLAN_MAX_KEYS, sizeof(*k->kps));
    k->disk_pk = calloc(CLI_PLAN_MAX_KEYS, sizeof(*k->disk_pk));
    if (k->kps == NULL || k->disk_pk == NULL)
        return cli_die_fail("out of memory");
    char err[512] = "";
    int rc = keys_load_account(k->credentials, k->signer, k->kps, CLI_PLAN_MAX_KEYS, &k->n_disk,
                               err, sizeof(err));
    if (rc == NF_ENOTFOUND) {
        k->n_disk = 0;
        return 0;
    }
    if (rc != 0)
        return cli_die_fail("--credentials: %s", err[0] ? err : nf_strerror(rc));
    for (size_t i = 0; i < k->n_disk; i++)
        k->disk_pk[i] = *keys_public(k->kps[i]);
    return 0;
}

/* load_chain: the signer's access keys at final, then the merged views. */
static int load_chain(struct keys_ctx *k)
{
    if (k->chain == NULL)
        k->chain = calloc(CLI_PLAN_MAX_KEYS, sizeof(*k->chain));
    if (k->views == NULL)
        k->views = calloc(2 * CLI_PLAN_MAX_KEYS, sizeof(*k->views));
    if (k->chain == NULL || k->views == NULL)
        return cli_die_fail("out of memory");
    char body[1024];
    rpc_build_view_access_key_list(body, sizeof(body), "keys", RPC_FINALITY_FINAL, k->signer);
    struct rpc_response resp = {
        .method = RPC_M_VIEW_ACCESS_KEY_LIST, .keys = k->chain, .keys_cap = CLI_PLAN_MAX_KEYS};
    struct rpc_result r;
    int rc = rpc_client_call(&k->rpc, body, &resp, &r);
    if (rc == NF_EIO)
        return cli_die_fail("cannot reach the RPC node (%s)", k->rpc.last_error);
    if (rc == NF_ENOSPC)
        return cli_die_fail("%s has more than %d access keys on chain", k->signer,
                            CLI_PLAN_MAX_KEYS);
    if (rc != 0)
        return cli_die_fail("view_access_key_list: %s", nf_strerror(rc));
    if (r.kind == RPC_UNKNOWN_ACCOUNT)
        return cli_die_fail("--signer %s: the account does not exist on chain", k->signer);
    if (r.kind != RPC_OK_ACCESS_KEY_LIST)
        return cli_die_fail("view_access_key_list of %s failed: %s %s", k->signer,
                            rpc_kind_name(r.kind), r.message);
    k->n_chain = r.key_count;
    if (cli_plan_merge(k->disk_pk, k->n_disk, k->chain, k->n_chain, k->views, 2 * CLI_PLAN_MAX_KEYS,
                       &k->n_views) != 0)
        return cli_die_fail("too many keys");
    return 0;
}

static size_t count_full_on_chain(const struct keys_ctx *k)
{
    size_t n = 0;
    for (size_t i = 0; i < k->n_views; i++)
        n += k->views[i].on_chain && k->views[i].full_access;
    return n;
}

/* ---- sending one transaction ----------------------------------------------------------------- */

enum tx_outcome {
    TX_SUCCESS = 0,  /* executed, status SuccessValue / SuccessReceiptId, final */
    TX_FAILED = 1,   /* executed with a Failure: none of its actions applied */
    TX_REJECTED = 2, /* refused at admission (InvalidTxError, parse error): never applied */
    TX_UNKNOWN = 3,  /* no definitive answer within --wait-timeout-ms */
};

static const char *outcome_name(enum tx_outcome o)
{
    static const char *const names[] = {"success", "failed", "rejected", "unknown"};
    return names[o];
}

static int fetch_block_hash(struct keys_ctx *k, uint8_t hash[NEAR_HASH_LEN], char *why, size_t wc)
{
    char body[256];
    rpc_build_block_final(body, sizeof(body), "blk");
    struct rpc_response resp = {.method = RPC_M_BLOCK};
    struct rpc_result r;
    int rc = rpc_client_call(&k->rpc, body, &resp, &r);
    if (rc != 0 || r.kind != RPC_OK_BLOCK) {
        snprintf(why, wc, "cannot read the final block (%.200s)",
                 rc == NF_EIO ? k->rpc.last_error
                 : rc         ? nf_strerror(rc)
                              : rpc_kind_name(r.kind));
        return NF_EIO;
    }
    memcpy(hash, r.block_hash, NEAR_HASH_LEN);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* classify: the outcome an OK_TX answer proves, or TX_UNKNOWN. */
static enum tx_outcome classify(const struct rpc_result *r, char *why, size_t wc)
{
    if (r->kind != RPC_OK_TX)
        return TX_UNKNOWN;
    if (r->tx_status == RPC_TXS_SUCCESS)
        return TX_SUCCESS;
    if (r->tx_status == RPC_TXS_FAILURE) {
        snprintf(why, wc, "the transaction failed: %s%s%s",
                 r->failure_kind[0] ? r->failure_kind : r->cause, r->message[0] ? ": " : "",
                 r->message);
        return TX_FAILED;
    }
    return TX_UNKNOWN;
}

/* send_actions: signs actions[0..n) with the key of view index signer, nonce from *nonce (the
 * last used; updated), sends with wait_until FINAL and waits for a definitive outcome. An
 * InvalidNonce (another user of the key moved it) re-signs with the chain's nonce and an Expired
 * block hash re-signs with a fresh one, up to 3 times; both prove the earlier attempt was never
 * applied. An unknown answer is followed by `tx` lookups by hash until --wait-timeout-ms.
 * hash_b58 (B58_MAX_32) gets the hash of the last signed attempt. */
static enum tx_outcome send_actions(struct keys_ctx *k,
                                    const struct nf_keypair *kp,
                                    const struct near_action *actions,
                                    uint32_t n,
                                    uint64_t *nonce,
                                    char *hash_b58,
                                    char *why,
                                    size_t wc)
{
    uint8_t block[NEAR_HASH_LEN];
    if (fetch_block_hash(k, block, why, wc) != 0)
        return TX_REJECTED;
    struct near_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.signer_id.ptr = (const uint8_t *)k->signer;
    tx.signer_id.len = (uint32_t)strlen(k->signer);
    tx.public_key = *keys_public(kp);
    tx.receiver_id = tx.signer_id;
    tx.n_actions = n;
    tx.actions = actions;
    size_t cap = near_tx_encoded_size(&tx) + NEAR_SIGNED_EXTRA;
    size_t body_cap = cap * 2 + 512;
    uint8_t *signed_buf = malloc(cap);
    char *body = malloc(body_cap);
    enum tx_outcome out = TX_UNKNOWN;
    hash_b58[0] = '\0';
    if (signed_buf == NULL || body == NULL) {
        snprintf(why, wc, "out of memory");
        out = TX_REJECTED;
        goto done;
    }
    for (int attempt = 0;; attempt++) {
        tx.nonce = *nonce + 1;
        memcpy(tx.block_hash, block, NEAR_HASH_LEN);
        size_t len = 0;
        uint8_t hash[NEAR_HASH_LEN];
        if (near_tx_sign(&tx, kp, signed_buf, cap, &len, hash) != 0) {
            snprintf(why, wc, "cannot sign the transaction");
            out = TX_REJECTED;
            goto done;
        }
        b58_encode(hash, NEAR_HASH_LEN, hash_b58, B58_MAX_32);
        *nonce = tx.nonce;
        if (rpc_build_send_tx(body, body_cap, "send", signed_buf, len, RPC_WAIT_FINAL) < 0) {
            snprintf(why, wc, "cannot build the send_tx request");
            out = TX_REJECTED;
            goto done;
        }
        struct rpc_response resp = {.method = RPC_M_SEND_TX};
        struct rpc_result r;
        int rc = rpc_client_call(&k->rpc, body, &resp, &r);
        if (rc == 0) {
            out = classify(&r, why, wc);
            if (out != TX_UNKNOWN)
                goto done;
            if (r.kind == RPC_INVALID_NONCE && attempt < 3) {
                *nonce = r.ak_nonce;
                continue;
            }
            if (r.kind == RPC_EXPIRED && attempt < 3) {
                *nonce = tx.nonce - 1;
                if (fetch_block_hash(k, block, why, wc) != 0) {
                    out = TX_REJECTED;
                    goto done;
                }
                continue;
            }
            if (rpc_kind_is_definitive_rejection(r.kind)) {
                snprintf(why, wc, "the node refused the transaction: %s%s%s", rpc_kind_name(r.kind),
                         r.message[0] ? ": " : "", r.message);
                out = TX_REJECTED;
                goto done;
            }
        }
        break;
    }
    /* Outcome unknown: look the transaction up by hash until the deadline. */
    uint64_t deadline = nf_mono_ms() + k->wait_ms;
    for (;;) {
        char tb[512];
        rpc_build_tx_status(tb, sizeof(tb), "status", hash_b58, k->signer, RPC_WAIT_FINAL);
        struct rpc_response resp = {.method = RPC_M_TX};
        struct rpc_result r;
        if (rpc_client_call(&k->rpc, tb, &resp, &r) == 0) {
            out = classify(&r, why, wc);
            if (out != TX_UNKNOWN)
                goto done;
        }
        if (nf_mono_ms() >= deadline)
            break;
        sleep_ms(1000);
    }
    snprintf(why, wc,
             "transaction %s: no definitive outcome within %llu ms (the node timed out or could "
             "not be reached)",
             hash_b58, (unsigned long long)k->wait_ms);
    out = TX_UNKNOWN;
done:
    free(body);
    free(signed_buf);
    return out;
}

/* ---- keys add -------------------------------------------------------------------------------- */

struct tx_record {
    char hash[B58_MAX_32];
    uint32_t actions;
    enum tx_outcome outcome;
};

/* add_options: --count (required, 0..CLI_PLAN_MAX_COUNT) and --signing-key (wanted: its text,
 * or "" when not given). 0, or the usage exit status. */
static int add_options(const char *count_text,
                       const char *signing_key,
                       uint64_t *count,
                       char wanted[KEYS_PUBKEY_STR_MAX])
{
    char q[200];
    if (count_text == NULL)
        return cli_die_usage("keys add: missing --count N");
    if (cli_parse_u64(count_text, strlen(count_text), count) != 0 || *count > CLI_PLAN_MAX_COUNT) {
        cli_quote(count_text, q, sizeof(q));
        return cli_die_usage("--count: %s is not a number in 0..%d", q, CLI_PLAN_MAX_COUNT);
    }
    wanted[0] = '\0';
    if (signing_key != NULL) {
        struct nf_pubkey pk;
        if (keys_pubkey_parse(signing_key, strlen(signing_key), &pk) != 0) {
            cli_quote(signing_key, q, sizeof(q));
            return cli_die_usage("--signing-key: %s is not ed25519:<base58 of 32 bytes>", q);
        }
        keys_pubkey_format(&pk, wanted, KEYS_PUBKEY_STR_MAX);
    }
    return 0;
}

/* add_generate: n_gen new keys, each written to its file durably (before any transaction names
 * it) and appended to to_add[*n_add]. 0, or the failure's exit status. */
static int add_generate(struct keys_ctx *k, size_t n_gen, struct nf_pubkey *to_add, size_t *n_add)
{
    for (size_t i = 0; i < n_gen; i++) {
        struct nf_keypair *kp = NULL;
        int rc = keys_generate(&kp);
        if (rc != 0)
            return cli_die_fail("keys add: cannot generate a key (%s)", nf_strerror(rc));
        char err[512] = "";
        rc = keys_write_file(k->credentials, k->signer, kp, 0, NULL, 0, err, sizeof(err));
        to_add[*n_add] = *keys_public(kp);
        keys_free(kp);
        if (rc != 0)
            return cli_die_fail("keys add: %s (keys written so far are added by the next run)",
                                err[0] ? err : nf_strerror(rc));
        (*n_add)++;
    }
    return 0;
}

/* add_send: AddKey transactions of up to CLI_PLAN_ACTIONS_PER_TX keys each, signed by skp, until
 * one does not succeed (fail_why says why). Returns the transactions sent, recorded in txs. */
static size_t add_send(struct keys_ctx *k,
                       const struct nf_keypair *skp,
                       uint64_t nonce,
                       const struct nf_pubkey *to_add,
                       size_t n_add,
                       struct near_action *actions,
                       struct tx_record *txs,
                       char *fail_why,
                       size_t why_cap)
{
    size_t n_tx = 0;
    for (size_t off = 0; off < n_add; off += CLI_PLAN_ACTIONS_PER_TX) {
        uint32_t n = (uint32_t)(n_add - off < CLI_PLAN_ACTIONS_PER_TX ? n_add - off
                                                                      : CLI_PLAN_ACTIONS_PER_TX);
        for (uint32_t i = 0; i < n; i++) {
            memset(&actions[i], 0, sizeof(actions[i]));
            actions[i].type = NEAR_ACT_ADD_KEY;
            actions[i].u.add_key.public_key = to_add[off + i];
            actions[i].u.add_key.full_access = 1;
        }
        struct tx_record *t = &txs[n_tx++];
        t->actions = n;
        t->outcome = send_actions(k, skp, actions, n, &nonce, t->hash, fail_why, why_cap);
        if (t->outcome != TX_SUCCESS)
            break;
    }
    return n_tx;
}

/* add_on_chain: how many of to_add[0..n_add) the chain holds (k's views, loaded again). */
static size_t add_on_chain(const struct keys_ctx *k, const struct nf_pubkey *to_add, size_t n_add)
{
    size_t added = 0;
    for (size_t i = 0; i < n_add; i++) {
        char text[KEYS_PUBKEY_STR_MAX];
        keys_pubkey_format(&to_add[i], text, sizeof(text));
        for (size_t v = 0; v < k->n_views; v++)
            if (k->views[v].on_chain && strcmp(k->views[v].public_key, text) == 0) {
                added++;
                break;
            }
    }
    return added;
}

/* The figures of one `keys add`, for its JSON answer. */
struct add_summary {
    size_t added, n_gen, n_pending, n_tx;
    const char *signing_text;
    const struct tx_record *txs;
};

/* add_print: the command's JSON answer on stdout. */
static int add_print(struct keys_ctx *k, const struct add_summary *a)
{
    struct jw w;
    jw_init_growable(&w);
    jw_obj_begin(&w);
    jw_key(&w, "account_id");
    jw_str(&w, k->signer);
    jw_key(&w, "added");
    jw_u64(&w, a->added);
    jw_key(&w, "generated");
    jw_u64(&w, a->n_gen);
    jw_key(&w, "from_disk");
    jw_u64(&w, a->n_pending);
    jw_key(&w, "signing_key");
    jw_str(&w, a->signing_text);
    jw_key(&w, "transactions");
    jw_arr_begin(&w);
    for (size_t i = 0; i < a->n_tx; i++) {
        jw_obj_begin(&w);
        jw_key(&w, "hash");
        jw_str(&w, a->txs[i].hash);
        jw_key(&w, "actions");
        jw_u64(&w, a->txs[i].actions);
        jw_key(&w, "status");
        jw_str(&w, outcome_name(a->txs[i].outcome));
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "keys_on_chain");
    jw_u64(&w, k->n_chain);
    jw_key(&w, "full_access_on_chain");
    jw_u64(&w, count_full_on_chain(k));
    jw_obj_end(&w);
    return cli_print_json(&w);
}

int cli_keys_add(int argc, char **argv)
{
    struct keys_ctx k;
    memset(&k, 0, sizeof(k));
    k.lock_fd = -1;
    const char *count_text = NULL, *signing_key = NULL;
    const struct extra_opt extra[] = {{"--count", &count_text}, {"--signing-key", &signing_key}};
    int ret = keys_args(argc, argv, "add", KEYS_ADD_HELP, &k, extra, 2, NULL, NULL, 0);
    if (ret != 0)
        return ret < 0 ? 0 : ret;
    uint64_t count = 0;
    char wanted[KEYS_PUBKEY_STR_MAX];
    if ((ret = add_options(count_text, signing_key, &count, wanted)) != 0)
        return ret;

    struct nf_pubkey *to_add = NULL;
    size_t *pending = NULL;
    struct near_action *actions = NULL;
    struct tx_record *txs = NULL;
    if ((ret = lock_dir(&k)) != 0 || (ret = load_disk(&k)) != 0 || (ret = load_chain(&k)) != 0)
        goto out;
    char why[512] = "";
    int signer =
        cli_plan_pick_signer(k.views, k.n_views, wanted[0] ? wanted : NULL, NULL, why, sizeof(why));
    if (signer < 0) {
        ret = cli_die_fail("keys add: %s", why);
        goto out;
    }
    pending = calloc(CLI_PLAN_MAX_KEYS, sizeof(*pending));
    to_add = calloc(CLI_PLAN_MAX_KEYS, sizeof(*to_add));
    actions = calloc(CLI_PLAN_ACTIONS_PER_TX, sizeof(*actions));
    txs = calloc(CLI_PLAN_MAX_KEYS / CLI_PLAN_ACTIONS_PER_TX + 2, sizeof(*txs));
    if (pending == NULL || to_add == NULL || actions == NULL || txs == NULL) {
        ret = cli_die_fail("out of memory");
        goto out;
    }
    size_t n_pending = cli_plan_pending(k.views, k.n_views, pending, CLI_PLAN_MAX_KEYS);
    size_t n_gen = cli_plan_to_generate((size_t)count, n_pending);
    if (k.n_disk + n_gen > CLI_PLAN_MAX_KEYS) {
        ret = cli_die_fail("keys add: %s would have more than %d key files in %s", k.signer,
                           CLI_PLAN_MAX_KEYS, k.credentials);
        goto out;
    }
    size_t n_add = 0;
    for (size_t i = 0; i < n_pending; i++)
        to_add[n_add++] = k.disk_pk[k.views[pending[i]].disk_index];
    if ((ret = add_generate(&k, n_gen, to_add, &n_add)) != 0)
        goto out;

    const struct nf_keypair *skp = k.kps[k.views[signer].disk_index];
    char signing_text[KEYS_PUBKEY_STR_MAX];
    keys_pubkey_format(keys_public(skp), signing_text, sizeof(signing_text));
    char fail_why[512] = "";
    size_t n_tx = add_send(&k, skp, k.views[signer].nonce, to_add, n_add, actions, txs, fail_why,
                           sizeof(fail_why));

    /* What the chain holds now decides the summary, whatever the answers said. */
    if ((ret = load_chain(&k)) != 0)
        goto out;
    const struct add_summary sum = {.added = add_on_chain(&k, to_add, n_add),
                                    .n_gen = n_gen,
                                    .n_pending = n_pending,
                                    .n_tx = n_tx,
                                    .signing_text = signing_text,
                                    .txs = txs};
    ret = add_print(&k, &sum);
    if (ret == 0 && sum.added < n_add)
        ret = cli_die_fail("keys add: %zu of %zu keys are not on chain: %s; their files stay in "
                           "%s and the next `nearft keys add` adds them",
                           n_add - sum.added, n_add, fail_why[0] ? fail_why : "unknown reason",
                           k.credentials);
out:
    free(txs);
    free(actions);
    free(to_add);
    free(pending);
    ctx_free(&k);
    return ret;
}

/* ---- keys list ------------------------------------------------------------------------------- */

int cli_keys_list(int argc, char **argv)
{
    struct keys_ctx k;
    memset(&k, 0, sizeof(k));
    k.lock_fd = -1;
    int ret = keys_args(argc, argv, "list", KEYS_LIST_HELP, &k, NULL, 0, NULL, NULL, 0);
    if (ret != 0)
        return ret < 0 ? 0 : ret;
    if ((ret = load_disk(&k)) != 0 || (ret = load_chain(&k)) != 0)
        goto out;
    size_t pending = 0;
    for (size_t i = 0; i < k.n_views; i++)
        pending += k.views[i].on_disk && !k.views[i].on_chain;
    struct jw w;
    jw_init_growable(&w);
    jw_obj_begin(&w);
    jw_key(&w, "account_id");
    jw_str(&w, k.signer);
    jw_key(&w, "on_chain");
    jw_u64(&w, k.n_chain);
    jw_key(&w, "on_disk");
    jw_u64(&w, k.n_disk);
    jw_key(&w, "full_access_on_chain");
    jw_u64(&w, count_full_on_chain(&k));
    jw_key(&w, "pending");
    jw_u64(&w, pending);
    jw_key(&w, "keys");
    jw_arr_begin(&w);
    for (size_t i = 0; i < k.n_views; i++) {
        const struct cli_key_view *v = &k.views[i];
        jw_obj_begin(&w);
        jw_key(&w, "public_key");
        jw_str(&w, v->public_key);
        jw_key(&w, "on_chain");
        jw_bool(&w, v->on_chain);
        jw_key(&w, "on_disk");
        jw_bool(&w, v->on_disk);
        jw_key(&w, "permission");
        if (v->on_chain)
            jw_str(&w, v->full_access ? "FullAccess" : "FunctionCall");
        else
            jw_null(&w);
        jw_key(&w, "nonce");
        if (v->on_chain)
            jw_u64(&w, v->nonce);
        else
            jw_null(&w);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_obj_end(&w);
    ret = cli_print_json(&w);
out:
    ctx_free(&k);
    return ret;
}

/* ---- keys remove ----------------------------------------------------------------------------- */

/* key_file_paths: DIR/ACCOUNT/ed25519_<b58>.json and its .removing- twin for key text. */
static int key_file_paths(const struct keys_ctx *k,
                          const char *text,
                          char *file,
                          char *aside,
                          size_t cap,
                          char *dir,
                          size_t dcap)
{
    const char *b58 = strncmp(text, "ed25519:", 8) == 0 ? text + 8 : text;
    int a = snprintf(dir, dcap, "%s/%s", k->credentials, k->signer);
    int b = snprintf(file, cap, "%s/ed25519_%s.json", dir, b58);
    int c = snprintf(aside, cap, "%s/.removing-ed25519_%s.json", dir, b58);
    return (a < 0 || (size_t)a >= dcap || b < 0 || (size_t)b >= cap || c < 0 || (size_t)c >= cap)
               ? NF_ENOSPC
               : 0;
}

/* legacy_key: which of remove[0..n) the legacy file DIR/ACCOUNT.json holds, or -1 (no such
 * file, unreadable, or another key). Its paths go to file / aside (cap bytes). */
static long legacy_key(const struct keys_ctx *k,
                       const struct nf_pubkey *pks,
                       size_t n,
                       char *file,
                       char *aside,
                       size_t cap)
{
    int a = snprintf(file, cap, "%s/%s.json", k->credentials, k->signer);
    int b = snprintf(aside, cap, "%s/.removing-%s.json", k->credentials, k->signer);
    if (a < 0 || (size_t)a >= cap || b < 0 || (size_t)b >= cap)
        return -1;
    char account[128];
    char err[256];
    struct nf_keypair *kp = NULL;
    if (keys_load_file(file, account, sizeof(account), &kp, err, sizeof(err)) != 0)
        return -1;
    long at = -1;
    for (size_t i = 0; i < n && at < 0; i++)
        if (keys_pubkey_equal(keys_public(kp), &pks[i]))
            at = (long)i;
    keys_free(kp);
    return at;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1)
        return NF_EIO;
    int r = fsync(fd);
    close(fd);
    return r == -1 ? NF_EIO : 0;
}

/* The state of one `keys remove`: the keys named, which are on chain, which files were moved
 * aside (so that a failure puts them back) and the paths of the last one looked at. */
struct rm_state {
    size_t n_pk;
    char texts[CLI_PLAN_ACTIONS_PER_TX][KEYS_PUBKEY_STR_MAX];
    const char *remove[CLI_PLAN_ACTIONS_PER_TX];
    struct nf_pubkey pks[CLI_PLAN_ACTIONS_PER_TX];
    uint8_t present[CLI_PLAN_ACTIONS_PER_TX];
    uint8_t moved[CLI_PLAN_ACTIONS_PER_TX];
    char file[4096], aside[4096], dir[4096], lfile[4096], laside[4096];
    long legacy;
    int legacy_moved;
};

/* rm_parse_keys: the --public-key values, parsed and checked for repeats. 0 or the usage exit. */
static int rm_parse_keys(struct rm_state *r, const char *const *pk_args, size_t n_pk)
{
    r->n_pk = n_pk;
    for (size_t i = 0; i < n_pk; i++) {
        char q[200];
        if (keys_pubkey_parse(pk_args[i], strlen(pk_args[i]), &r->pks[i]) != 0) {
            cli_quote(pk_args[i], q, sizeof(q));
            return cli_die_usage("--public-key: %s is not ed25519:<base58 of 32 bytes>", q);
        }
        keys_pubkey_format(&r->pks[i], r->texts[i], sizeof(r->texts[i]));
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->texts[i], r->texts[j]) == 0)
                return cli_die_usage("--public-key %s given twice", r->texts[i]);
        r->remove[i] = r->texts[i];
    }
    return 0;
}

/* rm_move_aside: renames the files of the keys on chain (and the legacy single-key file holding
 * one) to their .removing-* names and fsyncs the directories. 0, or the failure's exit status
 * (the caller puts back what moved). */
static int rm_move_aside(struct keys_ctx *k, struct rm_state *r)
{
    /* The signing key's secret is already in memory, so its own file may move too. */
    for (size_t i = 0; i < r->n_pk; i++) {
        if (!r->present[i] || key_file_paths(k, r->texts[i], r->file, r->aside, sizeof(r->file),
                                             r->dir, sizeof(r->dir)) != 0)
            continue;
        if (rename(r->file, r->aside) == 0)
            r->moved[i] = 1;
        else if (errno != ENOENT)
            return cli_die_fail("keys remove: cannot rename %s: %s", r->file, strerror(errno));
    }
    /* A key in the legacy single-key file DIR/ACCOUNT.json moves aside the same way. */
    r->legacy = legacy_key(k, r->pks, r->n_pk, r->lfile, r->laside, sizeof(r->lfile));
    if (r->legacy >= 0 && r->present[r->legacy]) {
        if (rename(r->lfile, r->laside) != 0)
            return cli_die_fail("keys remove: cannot rename %s: %s", r->lfile, strerror(errno));
        r->legacy_moved = 1;
        (void)fsync_dir(k->credentials);
    }
    if (fsync_dir(r->dir) != 0 && errno != ENOENT)
        return cli_die_fail("keys remove: cannot fsync %s", r->dir);
    return 0;
}

/* rm_drop_files: after the deletion's final success (or with nothing to delete), drops the
 * set-aside files (also those a previous run with an unknown outcome left) and the files of keys
 * not on chain. Returns how many key files are gone. */
static size_t rm_drop_files(struct keys_ctx *k, struct rm_state *r)
{
    size_t files_deleted = 0;
    for (size_t i = 0; i < r->n_pk; i++) {
        if (key_file_paths(k, r->texts[i], r->file, r->aside, sizeof(r->file), r->dir,
                           sizeof(r->dir)) != 0)
            continue;
        (void)unlink(r->aside);
        /* A key file whose key is not on chain would be added by the next `keys add`:
         * the operator asked for this key to go, so its file goes too. */
        if (!r->present[i] && unlink(r->file) == 0)
            files_deleted++;
    }
    for (size_t i = 0; i < r->n_pk; i++)
        files_deleted += r->present[i] && r->moved[i];
    if (r->legacy_moved && unlink(r->laside) == 0)
        files_deleted++;
    if (r->legacy < 0)
        r->legacy = legacy_key(k, r->pks, r->n_pk, r->lfile, r->laside, sizeof(r->lfile));
    if (r->legacy >= 0 && !r->present[r->legacy] && unlink(r->lfile) == 0)
        files_deleted++;
    (void)fsync_dir(k->credentials);
    (void)fsync_dir(r->dir);
    return files_deleted;
}

/* rm_restore: puts back every file rm_move_aside moved. */
static void rm_restore(struct keys_ctx *k, struct rm_state *r)
{
    for (size_t i = 0; i < r->n_pk; i++) {
        if (!r->moved[i] || key_file_paths(k, r->texts[i], r->file, r->aside, sizeof(r->file),
                                           r->dir, sizeof(r->dir)) != 0)
            continue;
        (void)rename(r->aside, r->file);
    }
    if (r->legacy_moved)
        (void)rename(r->laside, r->lfile);
    (void)fsync_dir(k->credentials);
    (void)fsync_dir(r->dir);
}

/* rm_print: the command's JSON answer on stdout. */
static int rm_print(const struct keys_ctx *k,
                    const struct rm_state *r,
                    size_t files_deleted,
                    uint32_t n_act,
                    enum tx_outcome outcome,
                    const char *hash,
                    long signer)
{
    struct jw w;
    jw_init_growable(&w);
    jw_obj_begin(&w);
    jw_key(&w, "account_id");
    jw_str(&w, k->signer);
    jw_key(&w, "removed");
    jw_arr_begin(&w);
    for (size_t i = 0; i < r->n_pk; i++)
        if (r->present[i] && outcome == TX_SUCCESS)
            jw_str(&w, r->texts[i]);
    jw_arr_end(&w);
    jw_key(&w, "absent");
    jw_arr_begin(&w);
    for (size_t i = 0; i < r->n_pk; i++)
        if (!r->present[i])
            jw_str(&w, r->texts[i]);
    jw_arr_end(&w);
    jw_key(&w, "files_deleted");
    jw_u64(&w, files_deleted);
    jw_key(&w, "transaction");
    if (n_act > 0) {
        jw_obj_begin(&w);
        jw_key(&w, "hash");
        jw_str(&w, hash);
        jw_key(&w, "status");
        jw_str(&w, outcome_name(outcome));
        jw_key(&w, "signing_key");
        jw_str(&w, k->views[signer].public_key);
        jw_obj_end(&w);
    } else {
        jw_null(&w);
    }
    jw_obj_end(&w);
    return cli_print_json(&w);
}

int cli_keys_remove(int argc, char **argv)
{
    struct keys_ctx k;
    memset(&k, 0, sizeof(k));
    k.lock_fd = -1;
    const char *pk_args[CLI_PLAN_ACTIONS_PER_TX];
    size_t n_pk = 0;
    int ret = keys_args(argc, argv, "remove", KEYS_REMOVE_HELP, &k, NULL, 0, pk_args, &n_pk,
                        CLI_PLAN_ACTIONS_PER_TX);
    if (ret != 0)
        return ret < 0 ? 0 : ret;
    if (n_pk == 0)
        return cli_die_usage("keys remove: missing --public-key ed25519:...");
    struct rm_state r;
    memset(&r, 0, sizeof(r));
    r.legacy = -1;
    if ((ret = rm_parse_keys(&r, pk_args, n_pk)) != 0)
        return ret;
    if ((ret = lock_dir(&k)) != 0 || (ret = load_disk(&k)) != 0 || (ret = load_chain(&k)) != 0)
        goto out;
    long signer = -1;
    char why[512] = "";
    if (cli_plan_remove(k.views, k.n_views, r.remove, n_pk, r.present, &signer, why, sizeof(why)) !=
        0) {
        ret = cli_die_fail("keys remove: %s", why);
        goto out;
    }
    struct near_action actions[CLI_PLAN_ACTIONS_PER_TX];
    uint32_t n_act = 0;
    enum tx_outcome outcome = TX_SUCCESS;
    char hash[B58_MAX_32] = "";
    char fail_why[512] = "";
    for (size_t i = 0; i < n_pk; i++) {
        if (!r.present[i])
            continue;
        memset(&actions[n_act], 0, sizeof(actions[n_act]));
        actions[n_act].type = NEAR_ACT_DELETE_KEY;
        actions[n_act].u.delete_key.public_key = r.pks[i];
        n_act++;
    }
    if (n_act > 0) {
        if ((ret = rm_move_aside(&k, &r)) != 0)
            goto restore;
        const struct nf_keypair *skp = k.kps[k.views[signer].disk_index];
        uint64_t nonce = k.views[signer].nonce;
        outcome = send_actions(&k, skp, actions, n_act, &nonce, hash, fail_why, sizeof(fail_why));
        if (outcome == TX_FAILED || outcome == TX_REJECTED)
            goto restore;
    }
    /* Unknown outcome: the set-aside files stay aside. */
    size_t files_deleted = outcome == TX_SUCCESS ? rm_drop_files(&k, &r) : 0;
    ret = rm_print(&k, &r, files_deleted, n_act, outcome, hash, signer);
    if (ret == 0 && outcome == TX_UNKNOWN)
        ret = cli_die_fail("keys remove: %s; the key files stay aside as .removing-*; re-run the "
                           "command",
                           fail_why);
    goto out;
restore:
    rm_restore(&k, &r);
    if (ret == 0)
        ret = cli_die_fail("keys remove: %s; nothing was removed and the key files are back",
                           fail_why);
out:
    ctx_free(&k);
    return ret;
}
