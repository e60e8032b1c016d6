/* doctor_cmd: `nearft doctor`, a check of a nearftd configuration against its RPC node without
 * sending anything: it reads the configuration exactly as nearftd does (the same flags,
 * environment variables and --config file, through cfg_load), then asks the chain read-only
 * questions and prints one line per check, "ok" or "problem" in plain words, and exits 1 when
 * any problem was found. Runs on the CLI's only thread; owns the loaded keypairs (sodium memory)
 * and the struct cfg until return. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cli_cmd.h"
#include "cli_plan.h"
#include "keys.h"
#include "nf_err.h"
#include "rpc.h"
#include "rpc_client.h"
#include "u128.h"

extern char **environ;

#define DOCTOR_MAX_KEYS 256

struct doctor {
    struct rpc_client rpc;
    const struct cfg *cfg;
    unsigned problems;
    int contract_missing; /* reported once; the other views are skipped */
};

__attribute__((format(printf, 3, 4))) static void
say(struct doctor *d, int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(ok ? "ok       " : "problem  ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    if (!ok)
        d->problems++;
}

/* call: one classified RPC call; on transport failure reports a problem and returns -1. */
static int call(struct doctor *d,
                const char *body,
                struct rpc_response *resp,
                struct rpc_result *r,
                const char *what)
{
    int rc = rpc_client_call(&d->rpc, body, resp, r);
    if (rc == 0)
        return 0;
    say(d, 0, "%s: no answer from any --rpc-url (%s)", what,
        rc == NF_EIO ? d->rpc.last_error : nf_strerror(rc));
    return -1;
}

/* view_call: call_function contract.method(args) at final into out; returns the result length
 * or -1 (problem reported with why). */
static long
view_call(struct doctor *d, const char *method, const char *args, uint8_t *out, size_t cap)
{
    char body[2048];
    const struct cfg *c = d->cfg;
    if (d->contract_missing)
        return -1;
    if (rpc_build_call_function(body, sizeof(body), "v", RPC_FINALITY_FINAL, c->contract, method,
                                args, strlen(args)) < 0) {
        say(d, 0, "%s: cannot build the request", method);
        return -1;
    }
    struct rpc_response resp = {.method = RPC_M_CALL_FUNCTION, .call_out = out, .call_cap = cap};
    struct rpc_result r;
    if (call(d, body, &resp, &r, method) != 0)
        return -1;
    if (r.kind == RPC_UNKNOWN_ACCOUNT) {
        say(d, 0, "--contract %s: the account does not exist on chain", c->contract);
        d->contract_missing = 1;
        return -1;
    }
    if (r.kind != RPC_OK_CALL) {
        say(d, 0, "--contract %s does not answer %s (%s%s%s): is it a NEP-141 token contract?",
            c->contract, method, rpc_kind_name(r.kind), r.message[0] ? ": " : "", r.message);
        return -1;
    }
    return (long)r.call_len;
}

static void check_keys(struct doctor *d)
{
    const struct cfg *c = d->cfg;
    struct nf_keypair *kps[DOCTOR_MAX_KEYS];
    size_t nk = 0;
    char err[512] = "";
    int rc =
        keys_load_account(c->credentials, c->signer, kps, DOCTOR_MAX_KEYS, &nk, err, sizeof(err));
    if (rc != 0) {
        say(d, 0, "--credentials %s: %s", c->credentials, err[0] ? err : nf_strerror(rc));
        return;
    }
    for (size_t k = 0; k < c->public_keys.n; k++) {
        int found = 0;
        for (size_t i = 0; i < nk; i++) {
            char pk[KEYS_PUBKEY_STR_MAX];
            keys_pubkey_format(keys_public(kps[i]), pk, sizeof(pk));
            found |= strcmp(pk, c->public_keys.v[k]) == 0;
        }
        if (!found)
            say(d, 0, "--public-keys lists %s but %s has no key file for it", c->public_keys.v[k],
                c->credentials);
    }
    size_t good = 0, used = 0;
    for (size_t i = 0; i < nk; i++) {
        char pk[KEYS_PUBKEY_STR_MAX];
        keys_pubkey_format(keys_public(kps[i]), pk, sizeof(pk));
        int want = c->public_keys.n == 0;
        for (size_t k = 0; k < c->public_keys.n; k++)
            want |= strcmp(c->public_keys.v[k], pk) == 0;
        if (!want)
            continue;
        used++;
        char body[1024];
        rpc_build_view_access_key(body, sizeof(body), "k", RPC_FINALITY_FINAL, c->signer, pk);
        struct rpc_response resp = {.method = RPC_M_VIEW_ACCESS_KEY};
        struct rpc_result r;
        if (call(d, body, &resp, &r, "view_access_key") != 0)
            break;
        if (r.kind == RPC_UNKNOWN_ACCESS_KEY || r.kind == RPC_UNKNOWN_ACCOUNT)
            say(d, 0,
                "key %s (file in %s) is not an access key of %s on chain: add it with `nearft "
                "keys add --count 0` or remove its file",
                pk, c->credentials, c->signer);
        else if (r.kind != RPC_OK_ACCESS_KEY)
            say(d, 0, "key %s: view_access_key failed (%s)", pk, rpc_kind_name(r.kind));
        else if (!r.full_access)
            say(d, 0,
                "key %s of %s is a function-call key: ft_transfer attaches 1 yoctoNEAR, which "
                "needs a full-access key",
                pk, c->signer);
        else
            good++;
    }
    if (good == used && used > 0)
        say(d, 1, "%zu key%s of %s in %s, all on chain with full access", used,
            used == 1 ? "" : "s", c->signer, c->credentials);
    for (size_t i = 0; i < nk; i++)
        keys_free(kps[i]);
}

static void check_account(struct doctor *d, nf_u128 *balance_out, int *have_balance)
{
    const struct cfg *c = d->cfg;
    char body[1024];
    rpc_build_view_account(body, sizeof(body), "a", RPC_FINALITY_FINAL, c->signer);
    struct rpc_response resp = {.method = RPC_M_VIEW_ACCOUNT};
    struct rpc_result r;
    *have_balance = 0;
    if (call(d, body, &resp, &r, "view_account") != 0)
        return;
    if (r.kind != RPC_OK_ACCOUNT) {
        say(d, 0, "--signer %s: the account does not exist on chain (%s)", c->signer,
            rpc_kind_name(r.kind));
        return;
    }
    *balance_out = r.amount;
    *have_balance = 1;
}

static void check_balance(struct doctor *d, nf_u128 balance)
{
    const struct cfg *c = d->cfg;
    char body[256];
    rpc_build_gas_price(body, sizeof(body), "g");
    struct rpc_response resp = {.method = RPC_M_GAS_PRICE};
    struct rpc_result r;
    char bal[U128_STR_MAX];
    u128_format(balance, bal);
    if (call(d, body, &resp, &r, "gas_price") != 0)
        return;
    if (r.kind != RPC_OK_GAS_PRICE) {
        say(d, 0, "gas_price failed (%s)", rpc_kind_name(r.kind));
        return;
    }
    /* One full transaction buys max_tx_gas at the gas price up front; below that nothing sends. */
    nf_u128 need = 0;
    if (u128_mul_overflow((nf_u128)c->max_tx_gas, r.gas_price, &need) != 0)
        need = ~(nf_u128)0;
    char nd[U128_STR_MAX];
    u128_format(need, nd);
    if (balance < need)
        say(d, 0,
            "--signer %s holds %s yoctoNEAR, less than one transaction's prepaid gas (%s = "
            "max_tx_gas x gas price): fund the account",
            c->signer, bal, nd);
    else
        say(d, 1, "--signer %s holds %s yoctoNEAR (one transaction prepays at most %s)", c->signer,
            bal, nd);
}

static void check_contract(struct doctor *d)
{
    const struct cfg *c = d->cfg;
    uint8_t out[4096];
    char why[256] = "";
    long n = view_call(d, "ft_metadata", "{}", out, sizeof(out) - 1);
    if (n >= 0) {
        char symbol[64] = "";
        unsigned decimals = 0;
        if (cli_view_ft_metadata((const char *)out, (size_t)n, symbol, sizeof(symbol), &decimals,
                                 why, sizeof(why)) != 0)
            say(d, 0, "--contract %s: %s", c->contract, why);
        else
            say(d, 1, "--contract %s answers ft_metadata: symbol %s, %u decimals", c->contract,
                symbol, decimals);
    }
    n = view_call(d, "storage_balance_bounds", "{}", out, sizeof(out) - 1);
    if (n >= 0) {
        nf_u128 min = 0;
        if (cli_view_storage_bounds((const char *)out, (size_t)n, &min, why, sizeof(why)) != 0) {
            say(d, 0, "--contract %s: %s", c->contract, why);
        } else {
            char m[U128_STR_MAX], have[U128_STR_MAX];
            u128_format(min, m);
            u128_format(c->storage_deposit_amount, have);
            if (c->auto_register && c->storage_deposit_amount < min)
                say(d, 0,
                    "--storage-deposit-amount %s is below the contract's storage_balance_bounds "
                    "min %s: registering new receivers would fail",
                    have, m);
            else
                say(d, 1, "--contract %s answers storage_balance_bounds: min %s yoctoNEAR",
                    c->contract, m);
        }
    }
    char args[256];
    snprintf(args, sizeof(args), "{\"account_id\":\"%s\"}", c->signer);
    n = view_call(d, "ft_balance_of", args, out, sizeof(out) - 1);
    if (n >= 0) {
        nf_u128 bal = 0;
        char b[U128_STR_MAX];
        if (cli_view_u128((const char *)out, (size_t)n, &bal) != 0)
            say(d, 0, "--contract %s: ft_balance_of did not return a u128 string", c->contract);
        else if (u128_format(bal, b), bal == 0)
            say(d, 0, "--signer %s holds no %s tokens: transfers would fail", c->signer,
                c->contract);
        else
            say(d, 1, "--signer %s holds %s of %s's smallest token units", c->signer, b,
                c->contract);
    }
}

/* status_version: protocol_version from `status` on URL index u alone; 0 when it answers with
 * one, else a problem is reported naming the URL (redacted) and -1 is returned. */
static int status_version(struct doctor *d, size_t u, uint64_t *version)
{
    static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"status\","
                               "\"params\":[]}";
    struct rpc_client one = d->rpc;
    one.urls = d->rpc.urls + u;
    one.n_urls = 1;
    char shown[128];
    rpc_url_redact(d->rpc.urls[u], shown, sizeof(shown));
    char *text = NULL;
    size_t len = 0;
    long http = 0;
    int rc = rpc_client_raw(&one, body, &text, &len, &http);
    if (rc != 0) {
        say(d, 0, "--rpc-url %s does not answer (%s)", shown, one.last_error);
        return -1;
    }
    size_t cap = 4096;
    for (;;) {
        struct jtok *toks = malloc(cap * sizeof(*toks));
        rc = toks == NULL ? NF_ENOMEM
                          : cli_view_status_protocol(text ? text : "", len, toks, cap, version);
        free(toks);
        if (rc != NF_ETOOMANY || cap >= (1u << 20))
            break;
        cap *= 2;
    }
    free(text);
    if (rc != 0) {
        say(d, 0, "--rpc-url %s: its `status` answer has no protocol_version (HTTP %ld)", shown,
            http);
        return -1;
    }
    return 0;
}

/* check_gas: every --rpc-url answers `status`; the gas settings against the chain's limit for
 * the highest protocol version any of them reports. */
static void check_gas(struct doctor *d)
{
    const struct cfg *c = d->cfg;
    uint64_t version = 0;
    size_t answered = 0;
    for (size_t u = 0; u < d->rpc.n_urls; u++) {
        uint64_t v = 0;
        if (status_version(d, u, &v) != 0)
            continue;
        answered++;
        if (v > version)
            version = v;
    }
    if (answered == 0)
        return;
    if (answered == d->rpc.n_urls)
        say(d, 1, "%zu --rpc-url endpoint%s answer%s `status` (protocol %llu)", answered,
            answered == 1 ? "" : "s", answered == 1 ? "s" : "", (unsigned long long)version);
    uint64_t limit = cli_gas_limit(version);
    int ok = 1;
    if (c->max_tx_gas > limit) {
        say(d, 0,
            "--max-tx-gas %llu is above the chain's max_total_prepaid_gas %llu (protocol %llu): "
            "full batches would be rejected",
            (unsigned long long)c->max_tx_gas, (unsigned long long)limit,
            (unsigned long long)version);
        ok = 0;
    }
    if (c->ft_transfer_gas > c->max_tx_gas) {
        say(d, 0, "--ft-transfer-gas %llu is above --max-tx-gas %llu: no transfer fits",
            (unsigned long long)c->ft_transfer_gas, (unsigned long long)c->max_tx_gas);
        ok = 0;
    }
    if (c->auto_register && c->ft_transfer_gas + c->storage_deposit_gas > c->max_tx_gas) {
        say(d, 0,
            "--ft-transfer-gas + --storage-deposit-gas (%llu) is above --max-tx-gas %llu: a "
            "transfer to a new receiver never fits",
            (unsigned long long)(c->ft_transfer_gas + c->storage_deposit_gas),
            (unsigned long long)c->max_tx_gas);
        ok = 0;
    }
    if (ok) {
        uint64_t per_tx = c->max_tx_gas / c->ft_transfer_gas;
        if (per_tx > c->batch_max_actions)
            per_tx = c->batch_max_actions;
        say(d, 1,
            "gas: --max-tx-gas %llu fits the chain's limit %llu (protocol %llu); up to %llu "
            "transfers per transaction",
            (unsigned long long)c->max_tx_gas, (unsigned long long)limit,
            (unsigned long long)version, (unsigned long long)per_tx);
    }
}

int cli_doctor(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (nf_arg_is_help(argv[i])) {
            fputs("usage: nearft doctor [nearftd's flags, environment or --config FILE]\n"
                  "\n"
                  "Reads the configuration exactly as nearftd does and checks it against the RPC\n"
                  "node without sending a transaction: the key files exist and every key is on\n"
                  "chain with full access; the signer exists, holds enough NEAR for one\n"
                  "transaction's prepaid gas and a positive token balance (ft_balance_of); the\n"
                  "contract answers ft_metadata and storage_balance_bounds (and the storage\n"
                  "deposit covers its min); the gas settings fit the chain's\n"
                  "max_total_prepaid_gas (from the node's protocol version). One line per check;\n"
                  "exit 0 when all pass, 1 when any problem is found, 2 for a bad configuration.\n",
                  stdout);
            return 0;
        }
    struct cfg cfg;
    char err[512] = "";
    int rc = cfg_load(&cfg, argc, argv, environ, err, sizeof(err));
    if (rc != 0) {
        cfg_free(&cfg);
        return cli_die_usage("doctor: %s", err);
    }
    struct doctor d;
    memset(&d, 0, sizeof(d));
    d.cfg = &cfg;
    d.rpc.urls = (const char *const *)cfg.rpc_url.v;
    d.rpc.n_urls = cfg.rpc_url.n;
    d.rpc.headers = (const char *const *)cfg.rpc_header.v;
    d.rpc.n_headers = cfg.rpc_header.n;
    d.rpc.timeout_ms = (long)(cfg.rpc_timeout_ms > 0 ? cfg.rpc_timeout_ms : 10000);

    check_keys(&d);
    nf_u128 balance = 0;
    int have = 0;
    check_account(&d, &balance, &have);
    if (have)
        check_balance(&d, balance);
    check_contract(&d);
    check_gas(&d);
    if (d.problems == 0)
        printf("doctor: no problems found\n");
    else
        printf("doctor: %u problem%s found\n", d.problems, d.problems == 1 ? "" : "s");
    fflush(stdout);
    cfg_free(&cfg);
    return d.problems == 0 ? 0 : CLI_EXIT_FAIL;
}
