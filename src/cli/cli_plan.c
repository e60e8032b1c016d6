/* cli_plan: pure decisions of the key-provisioning and doctor commands (see cli_plan.h): which key
 * files still need an AddKey, how many keys to generate, which key signs, whether a removal keeps a
 * full-access key, and the reading of three view answers. Runs on the CLI's only thread; owns
 * nothing (every buffer is the caller's). */
#include "cli_plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli_args.h"
#include "jtok.h"
#include "nf_err.h"

/* find: index of text in v[0..n), or -1. */
static long find(const struct cli_key_view *v, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].public_key, text) == 0)
            return (long)i;
    return -1;
}

int cli_plan_merge(const struct nf_pubkey *disk,
                   size_t n_disk,
                   const struct rpc_key_entry *chain,
                   size_t n_chain,
                   struct cli_key_view *out,
                   size_t cap,
                   size_t *n_out)
{
    size_t n = 0;
    *n_out = 0;
    for (size_t i = 0; i < n_disk; i++) {
        char text[KEYS_PUBKEY_STR_MAX];
        if (keys_pubkey_format(&disk[i], text, sizeof(text)) < 0)
            continue;
        if (find(out, n, text) >= 0)
            continue;
        if (n >= cap)
            return NF_ETOOMANY;
        memset(&out[n], 0, sizeof(out[n]));
        snprintf(out[n].public_key, sizeof(out[n].public_key), "%s", text);
        out[n].on_disk = 1;
        out[n].disk_index = i;
        n++;
    }
    for (size_t i = 0; i < n_chain; i++) {
        /* The node's text of an ed25519 key is canonical base58; re-format it so that a bare or
         * differently spelled key still matches its file. */
        char text[128];
        struct nf_pubkey pk;
        if (keys_pubkey_parse(chain[i].public_key, strlen(chain[i].public_key), &pk) == 0)
            keys_pubkey_format(&pk, text, sizeof(text));
        else
            snprintf(text, sizeof(text), "%s", chain[i].public_key);
        long at = find(out, n, text);
        if (at < 0) {
            if (n >= cap)
                return NF_ETOOMANY;
            at = (long)n++;
            memset(&out[at], 0, sizeof(out[at]));
            snprintf(out[at].public_key, sizeof(out[at].public_key), "%s", text);
        }
        out[at].on_chain = 1;
        out[at].full_access = chain[i].full_access != 0;
        out[at].nonce = chain[i].nonce;
    }
    /* Insertion sort by text: n is at most a few thousand and this runs once per command. */
    for (size_t i = 1; i < n; i++) {
        struct cli_key_view t = out[i];
        size_t j = i;
        while (j > 0 && strcmp(out[j - 1].public_key, t.public_key) > 0) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = t;
    }
    *n_out = n;
    return 0;
}

size_t cli_plan_pending(const struct cli_key_view *v, size_t n, size_t *idx, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++)
        if (v[i].on_disk && !v[i].on_chain)
            idx[k++] = i;
    return k;
}

size_t cli_plan_to_generate(size_t count, size_t pending)
{
    return count > pending ? count - pending : 0;
}

size_t cli_plan_tx_count(size_t n)
{
    return (n + CLI_PLAN_ACTIONS_PER_TX - 1) / CLI_PLAN_ACTIONS_PER_TX;
}

int cli_plan_pick_signer(const struct cli_key_view *v,
                         size_t n,
                         const char *wanted,
                         const uint8_t *avoid,
                         char *why,
                         size_t whycap)
{
    long fallback = -1;
    for (size_t i = 0; i < n; i++) {
        if (wanted != NULL && strcmp(v[i].public_key, wanted) != 0)
            continue;
        if (!v[i].on_disk || !v[i].on_chain || !v[i].full_access)
            continue;
        if (avoid != NULL && avoid[i]) {
            if (fallback < 0)
                fallback = (long)i;
            continue;
        }
        return (int)i;
    }
    if (fallback >= 0)
        return (int)fallback;
    if (wanted != NULL) {
        long at = find(v, n, wanted);
        if (at < 0 || !v[at].on_disk)
            cli_why(why, whycap, "the signing key %s has no key file in the credentials directory",
                    wanted);
        else if (!v[at].on_chain)
            cli_why(why, whycap, "the signing key %s is not an access key of the account on chain",
                    wanted);
        else
            cli_why(why, whycap,
                    "the signing key %s is a function-call key; AddKey and DeleteKey need a "
                    "full-access key",
                    wanted);
    } else {
        cli_why(why, whycap,
                "no key file in the credentials directory holds a full-access key that is on "
                "chain, so nothing can sign");
    }
    return NF_ENOTFOUND;
}

int cli_plan_remove(const struct cli_key_view *v,
                    size_t n,
                    const char *const *remove,
                    size_t n_remove,
                    uint8_t *present,
                    long *signer,
                    char *why,
                    size_t whycap)
{
    *signer = -1;
    size_t n_present = 0;
    for (size_t r = 0; r < n_remove; r++) {
        long at = find(v, n, remove[r]);
        present[r] = at >= 0 && v[at].on_chain;
        n_present += present[r];
    }
    if (n_present == 0)
        return 0;
    size_t full_left = 0;
    uint8_t removed[CLI_PLAN_MAX_KEYS * 2] = {0};
    if (n > sizeof(removed)) {
        cli_why(why, whycap, "more than %zu keys", sizeof(removed));
        return NF_ETOOMANY;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < n_remove; r++)
            if (present[r] && strcmp(v[i].public_key, remove[r]) == 0)
                removed[i] = 1;
        if (v[i].on_chain && v[i].full_access && !removed[i])
            full_left++;
    }
    if (full_left == 0) {
        cli_why(why, whycap,
                "refusing: after this removal the account would have no full-access key left "
                "(nothing could ever sign for it again)");
        return NF_EPERM;
    }
    int s = cli_plan_pick_signer(v, n, NULL, removed, why, whycap);
    if (s < 0)
        return s;
    *signer = s;
    return 0;
}

/* ---- views ------------------------------------------------------------------------------------
 */

#define VIEW_TOKENS 256

int cli_view_u128(const char *json, size_t len, nf_u128 *out)
{
    /* The daemon reads ft_balance_of with the same function: doctor judges what nearftd sees. */
    return rpc_call_u128(json, len, out);
}

int cli_view_storage_bounds(const char *json, size_t len, nf_u128 *min, char *why, size_t whycap)
{
    struct jtok toks[VIEW_TOKENS];
    if (jtok_parse(json, len, toks, VIEW_TOKENS, NULL) < 1 || toks[0].type != JTOK_OBJECT) {
        cli_why(why, whycap, "storage_balance_bounds did not return a JSON object");
        return NF_EINVAL;
    }
    int m = jtok_obj_get(json, toks, 0, "min");
    if (m < 0 || jtok_u128_str(json, &toks[m], min) != 0) {
        cli_why(why, whycap, "storage_balance_bounds has no \"min\" string of yoctoNEAR");
        return NF_EINVAL;
    }
    int x = jtok_obj_get(json, toks, 0, "max");
    nf_u128 max = 0;
    if (x >= 0 && toks[x].type != JTOK_NULL && jtok_u128_str(json, &toks[x], &max) != 0) {
        cli_why(why, whycap, "storage_balance_bounds \"max\" is neither null nor a u128 string");
        return NF_EINVAL;
    }
    return 0;
}

int cli_view_ft_metadata(const char *json,
                         size_t len,
                         char *symbol,
                         size_t cap,
                         unsigned *decimals,
                         char *why,
                         size_t whycap)
{
    struct jtok toks[VIEW_TOKENS];
    if (jtok_parse(json, len, toks, VIEW_TOKENS, NULL) < 1 || toks[0].type != JTOK_OBJECT) {
        cli_why(why, whycap, "ft_metadata did not return a JSON object");
        return NF_EINVAL;
    }
    int s = jtok_obj_get(json, toks, 0, "spec");
    char spec[32] = "";
    if (s < 0 || jtok_str_copy_trunc(json, &toks[s], spec, sizeof(spec), NULL) < 0 ||
        strncmp(spec, "ft-", 3) != 0) {
        cli_why(why, whycap, "ft_metadata has no \"spec\" starting with \"ft-\" (not NEP-148)");
        return NF_EINVAL;
    }
    int y = jtok_obj_get(json, toks, 0, "symbol");
    if (y < 0 || jtok_str_copy_trunc(json, &toks[y], symbol, cap, NULL) < 0) {
        cli_why(why, whycap, "ft_metadata has no \"symbol\" string");
        return NF_EINVAL;
    }
    int d = jtok_obj_get(json, toks, 0, "decimals");
    uint64_t dec = 0;
    if (d < 0 || jtok_u64(json, &toks[d], &dec) != 0 || dec > 255) {
        cli_why(why, whycap, "ft_metadata has no \"decimals\" number in 0..255");
        return NF_EINVAL;
    }
    *decimals = (unsigned)dec;
    return 0;
}

uint64_t cli_gas_limit(uint64_t protocol_version)
{
    return protocol_version >= 83 ? 1000000000000000ull : 300000000000000ull;
}

int cli_view_status_protocol(
    const char *json, size_t len, struct jtok *toks, size_t cap, uint64_t *out)
{
    int n = jtok_parse(json, len, toks, cap, NULL);
    if (n == NF_ETOOMANY)
        return NF_ETOOMANY;
    if (n < 1 || toks[0].type != JTOK_OBJECT)
        return NF_EINVAL;
    int res = jtok_obj_get(json, toks, 0, "result");
    if (res < 0 || toks[res].type != JTOK_OBJECT)
        return NF_EINVAL;
    int v = jtok_obj_get(json, toks, res, "protocol_version");
    if (v < 0 || jtok_u64(json, &toks[v], out) != 0)
        return NF_EINVAL;
    return 0;
}
