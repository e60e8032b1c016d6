/* test_cli_plan: table tests of the pure decisions behind `nearft keys` and `nearft doctor`
 * (cli_plan.c): merging disk and chain keys, the keys a re-run adds first, how many it generates,
 * transactions per action count, the signer choice, the refusal to remove the last full-access
 * key, and the view answers doctor reads. Single-threaded. */
#include "cli_plan.h"

#include <stdlib.h>
#include <string.h>

#include "nf_err.h"
#include "nf_test.h"

/* Three distinct valid keys: the seeds 1, 2, 3 repeated. */
static struct nf_pubkey key_n(int n, char *text)
{
    uint8_t seed[32];
    memset(seed, n, sizeof(seed));
    struct nf_keypair *kp = NULL;
    keys_from_seed(seed, &kp);
    struct nf_pubkey pk = *keys_public(kp);
    keys_free(kp);
    keys_pubkey_format(&pk, text, KEYS_PUBKEY_STR_MAX);
    return pk;
}

static struct rpc_key_entry entry(const char *text, uint64_t nonce, int full)
{
    struct rpc_key_entry e;
    memset(&e, 0, sizeof(e));
    snprintf(e.public_key, sizeof(e.public_key), "%s", text);
    e.nonce = nonce;
    e.full_access = full;
    return e;
}

static long view_of(const struct cli_key_view *v, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].public_key, text) == 0)
            return (long)i;
    return -1;
}

static void test_merge_and_pending(void)
{
    char t1[KEYS_PUBKEY_STR_MAX], t2[KEYS_PUBKEY_STR_MAX], t3[KEYS_PUBKEY_STR_MAX];
    struct nf_pubkey disk[2] = {key_n(1, t1), key_n(2, t2)};
    key_n(3, t3);
    /* chain: key 1 (full) and key 3 (function-call, chain only); key 2 is a pending file */
    struct rpc_key_entry chain[2] = {entry(t1, 7, 1), entry(t3, 9, 0)};
    struct cli_key_view v[8];
    size_t n = 0;
    CHECK_EQ_INT(cli_plan_merge(disk, 2, chain, 2, v, 8, &n), 0);
    CHECK_EQ_INT(n, 3);
    for (size_t i = 1; i < n; i++)
        CHECK(strcmp(v[i - 1].public_key, v[i].public_key) < 0);
    long a = view_of(v, n, t1), b = view_of(v, n, t2), c = view_of(v, n, t3);
    CHECK(a >= 0 && v[a].on_disk && v[a].on_chain && v[a].full_access && v[a].nonce == 7);
    CHECK(b >= 0 && v[b].on_disk && !v[b].on_chain && v[b].disk_index == 1);
    CHECK(c >= 0 && !v[c].on_disk && v[c].on_chain && !v[c].full_access && v[c].nonce == 9);
    size_t idx[8];
    CHECK_EQ_INT(cli_plan_pending(v, n, idx, 8), 1);
    CHECK_EQ_INT(idx[0], b);
    /* capacity */
    CHECK_EQ_INT(cli_plan_merge(disk, 2, chain, 2, v, 2, &n), NF_ETOOMANY);
    /* a disk key listed twice (legacy + near-cli-rs layout) is one view */
    struct nf_pubkey twice[2] = {disk[0], disk[0]};
    CHECK_EQ_INT(cli_plan_merge(twice, 2, NULL, 0, v, 8, &n), 0);
    CHECK_EQ_INT(n, 1);
    /* a chain key given without the ed25519: prefix still matches its file */
    struct rpc_key_entry bare = entry(t1 + 8, 5, 1);
    CHECK_EQ_INT(cli_plan_merge(disk, 1, &bare, 1, v, 8, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK(v[0].on_disk && v[0].on_chain && v[0].nonce == 5);
}

static void test_counts(void)
{
    CHECK_EQ_INT(cli_plan_to_generate(150, 0), 150);
    CHECK_EQ_INT(cli_plan_to_generate(150, 3), 147);
    CHECK_EQ_INT(cli_plan_to_generate(2, 3), 0);
    CHECK_EQ_INT(cli_plan_to_generate(0, 0), 0);
    CHECK_EQ_INT(cli_plan_tx_count(0), 0);
    CHECK_EQ_INT(cli_plan_tx_count(1), 1);
    CHECK_EQ_INT(cli_plan_tx_count(100), 1);
    CHECK_EQ_INT(cli_plan_tx_count(101), 2);
    CHECK_EQ_INT(cli_plan_tx_count(150), 2);
    CHECK_EQ_INT(cli_plan_tx_count(1000), 10);
}

static void test_signer_and_remove(void)
{
    char t1[KEYS_PUBKEY_STR_MAX], t2[KEYS_PUBKEY_STR_MAX], t3[KEYS_PUBKEY_STR_MAX];
    char t4[KEYS_PUBKEY_STR_MAX];
    struct nf_pubkey disk[3] = {key_n(1, t1), key_n(2, t2), key_n(4, t4)};
    key_n(3, t3);
    /* 1, 2 full on disk and chain; 3 full on chain only; 4 a pending file */
    struct rpc_key_entry chain[3] = {entry(t1, 1, 1), entry(t2, 2, 1), entry(t3, 3, 1)};
    struct cli_key_view v[8];
    size_t n = 0;
    CHECK_EQ_INT(cli_plan_merge(disk, 3, chain, 3, v, 8, &n), 0);
    char why[256] = "";
    int s = cli_plan_pick_signer(v, n, NULL, NULL, why, sizeof(why));
    CHECK(s >= 0 && v[s].on_disk && v[s].on_chain);
    CHECK_EQ_INT(cli_plan_pick_signer(v, n, t2, NULL, why, sizeof(why)), view_of(v, n, t2));
    /* a chain-only key cannot sign (no secret); a pending file cannot either */
    CHECK_EQ_INT(cli_plan_pick_signer(v, n, t3, NULL, why, sizeof(why)), NF_ENOTFOUND);
    CHECK(strstr(why, "no key file") != NULL);
    CHECK_EQ_INT(cli_plan_pick_signer(v, n, t4, NULL, why, sizeof(why)), NF_ENOTFOUND);
    CHECK(strstr(why, "not an access key") != NULL);

    uint8_t present[4];
    long signer = -2;
    /* removing key 1: key 2 signs (not removed) */
    const char *r1[] = {t1};
    CHECK_EQ_INT(cli_plan_remove(v, n, r1, 1, present, &signer, why, sizeof(why)), 0);
    CHECK(present[0] == 1);
    CHECK_EQ_INT(signer, view_of(v, n, t2));
    /* removing both disk keys: key 3 remains, so one of them signs its own removal */
    const char *r12[] = {t1, t2};
    CHECK_EQ_INT(cli_plan_remove(v, n, r12, 2, present, &signer, why, sizeof(why)), 0);
    CHECK(signer == view_of(v, n, t1) || signer == view_of(v, n, t2));
    /* removing every full-access key is refused */
    const char *r123[] = {t1, t2, t3};
    CHECK_EQ_INT(cli_plan_remove(v, n, r123, 3, present, &signer, why, sizeof(why)), NF_EPERM);
    CHECK(strstr(why, "no full-access key left") != NULL);
    /* a key that is not on chain is absent: nothing to send, no signer needed */
    const char *r4[] = {t4};
    CHECK_EQ_INT(cli_plan_remove(v, n, r4, 1, present, &signer, why, sizeof(why)), 0);
    CHECK(present[0] == 0 && signer == -1);
    /* a function-call key does not count as the full-access key that remains */
    struct rpc_key_entry chain2[2] = {entry(t1, 1, 1), entry(t3, 3, 0)};
    CHECK_EQ_INT(cli_plan_merge(disk, 1, chain2, 2, v, 8, &n), 0);
    CHECK_EQ_INT(cli_plan_remove(v, n, r1, 1, present, &signer, why, sizeof(why)), NF_EPERM);
    /* no key in the directory can sign: refused with NF_ENOTFOUND */
    struct rpc_key_entry chain3[3] = {entry(t1, 1, 1), entry(t2, 2, 1), entry(t3, 3, 1)};
    CHECK_EQ_INT(cli_plan_merge(NULL, 0, chain3, 3, v, 8, &n), 0);
    CHECK_EQ_INT(cli_plan_remove(v, n, r1, 1, present, &signer, why, sizeof(why)), NF_ENOTFOUND);
}

static void test_views(void)
{
    nf_u128 v = 0;
    CHECK_EQ_INT(cli_view_u128("\"123\"", 5, &v), 0);
    CHECK(v == 123);
    CHECK(cli_view_u128("123", 3, &v) < 0);
    CHECK(cli_view_u128("\"-1\"", 4, &v) < 0);
    CHECK(cli_view_u128("", 0, &v) < 0);
    char why[256];
    const char *b = "{\"min\":\"1250000000000000000000\",\"max\":\"1250000000000000000000\"}";
    CHECK_EQ_INT(cli_view_storage_bounds(b, strlen(b), &v, why, sizeof(why)), 0);
    CHECK(v == (nf_u128)1250000000ull * 1000000000000ull);
    const char *b2 = "{\"min\":\"5\",\"max\":null}";
    CHECK_EQ_INT(cli_view_storage_bounds(b2, strlen(b2), &v, why, sizeof(why)), 0);
    CHECK(v == 5);
    const char *b3 = "{\"min\":5}";
    CHECK_EQ_INT(cli_view_storage_bounds(b3, strlen(b3), &v, why, sizeof(why)), NF_EINVAL);
    CHECK(strstr(why, "min") != NULL);
    CHECK_EQ_INT(cli_view_storage_bounds("[]", 2, &v, why, sizeof(why)), NF_EINVAL);
    const char *m = "{\"spec\":\"ft-1.0.0\",\"name\":\"Sim\",\"symbol\":\"SIM\",\"icon\":null,"
                    "\"reference\":null,\"reference_hash\":null,\"decimals\":6}";
    char sym[16];
    unsigned dec = 0;
    CHECK_EQ_INT(cli_view_ft_metadata(m, strlen(m), sym, sizeof(sym), &dec, why, sizeof(why)), 0);
    CHECK_EQ_STR(sym, "SIM");
    CHECK_EQ_INT(dec, 6);
    const char *m2 = "{\"spec\":\"nft-1.0.0\",\"symbol\":\"X\",\"decimals\":6}";
    CHECK_EQ_INT(cli_view_ft_metadata(m2, strlen(m2), sym, sizeof(sym), &dec, why, sizeof(why)),
                 NF_EINVAL);
    CHECK(strstr(why, "spec") != NULL);
    const char *m3 = "{\"spec\":\"ft-1.0.0\",\"symbol\":\"X\",\"decimals\":256}";
    CHECK_EQ_INT(cli_view_ft_metadata(m3, strlen(m3), sym, sizeof(sym), &dec, why, sizeof(why)),
                 NF_EINVAL);
    CHECK(strstr(why, "decimals") != NULL);

    struct jtok toks[64];
    uint64_t pv = 0;
    const char *st = "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"result\":{\"chain_id\":\"x\","
                     "\"protocol_version\":83}}";
    CHECK_EQ_INT(cli_view_status_protocol(st, strlen(st), toks, 64, &pv), 0);
    CHECK(pv == 83);
    CHECK_EQ_INT(cli_view_status_protocol(st, strlen(st), toks, 3, &pv), NF_ETOOMANY);
    const char *st2 = "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"error\":{}}";
    CHECK_EQ_INT(cli_view_status_protocol(st2, strlen(st2), toks, 64, &pv), NF_EINVAL);
    CHECK(cli_gas_limit(83) == 1000000000000000ull);
    CHECK(cli_gas_limit(88) == 1000000000000000ull);
    CHECK(cli_gas_limit(82) == 300000000000000ull);
}

int main(void)
{
    test_merge_and_pending();
    test_counts();
    test_signer_and_remove();
    test_views();
    return nf_test_report("test_cli_plan");
}
