/* bench_sign: single-core signing throughput. Measures whole signed transactions per second
 * (Borsh encode + sha256 + ed25519 sign + base64 with sodium_bin2base64) for 1 and 100 ft_transfer
 * actions, beside the raw libsodium crypto_sign_detached rate on a 32-byte message in the same
 * run, and prints one `name=value unit` line per figure. One thread; each figure runs for about
 * --seconds (default 1.0), so the whole run takes a few seconds. Not a test: numbers only.
 * Owns its keypair (freed at exit) and all buffers. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "near_tx.h"
#include "nf_err.h"

#define BENCH_MAX_ACTIONS 100

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keeps the optimiser from dropping work whose result is otherwise unused. */
static volatile uint8_t bench_sink;

struct tx_fixture {
    struct near_action actions[BENCH_MAX_ACTIONS];
    char args[BENCH_MAX_ACTIONS][NEAR_FT_ARGS_MAX];
    char receivers[BENCH_MAX_ACTIONS][32];
    struct near_tx tx;
    uint8_t *signed_buf;
    size_t signed_cap;
    char *b64;
    size_t b64_cap;
};

/* fixture_init: a tx of n ft_transfer actions (distinct receivers, memo on every other one). */
static int fixture_init(struct tx_fixture *f, const struct nf_keypair *kp, uint32_t n)
{
    static const char signer[] = "alice.near", contract[] = "usdt.tether-token.near";
    memset(f, 0, sizeof(*f));
    for (uint32_t i = 0; i < n; i++) {
        snprintf(f->receivers[i], sizeof(f->receivers[i]), "user-%u.near", i);
        const char *memo = (i & 1) ? "payout batch 42" : NULL;
        int len = near_ft_transfer_args(f->args[i], sizeof(f->args[i]), f->receivers[i],
                                        strlen(f->receivers[i]), (nf_u128)1000000 + i, memo,
                                        memo != NULL ? strlen(memo) : 0);
        if (len < 0)
            return len;
        struct near_action *a = &f->actions[i];
        a->type = NEAR_ACT_FUNCTION_CALL;
        a->u.function_call.method_name.ptr = (const uint8_t *)"ft_transfer";
        a->u.function_call.method_name.len = 11;
        a->u.function_call.args.ptr = (const uint8_t *)f->args[i];
        a->u.function_call.args.len = (uint32_t)len;
        a->u.function_call.gas = 30000000000000ull / n;
        a->u.function_call.deposit = 1;
    }
    f->tx.signer_id.ptr = (const uint8_t *)signer;
    f->tx.signer_id.len = sizeof(signer) - 1;
    f->tx.public_key = *keys_public(kp);
    f->tx.nonce = 150000000000001ull;
    f->tx.receiver_id.ptr = (const uint8_t *)contract;
    f->tx.receiver_id.len = sizeof(contract) - 1;
    memset(f->tx.block_hash, 0x42, NEAR_HASH_LEN);
    f->tx.n_actions = n;
    f->tx.actions = f->actions;
    f->signed_cap = near_tx_encoded_size(&f->tx) + NEAR_SIGNED_EXTRA;
    f->signed_buf = malloc(f->signed_cap);
    f->b64_cap = sodium_base64_ENCODED_LEN(f->signed_cap, sodium_base64_VARIANT_ORIGINAL);
    f->b64 = malloc(f->b64_cap);
    return f->signed_buf != NULL && f->b64 != NULL ? 0 : NF_ENOMEM;
}

static void fixture_free(struct tx_fixture *f)
{
    free(f->signed_buf);
    free(f->b64);
}

/* sign_one: the measured unit of work: one fresh nonce, encode + hash + sign + base64. */
static int sign_one(struct tx_fixture *f, const struct nf_keypair *kp, size_t *signed_len)
{
    uint8_t hash[NEAR_HASH_LEN];
    f->tx.nonce++;
    int rc = near_tx_sign(&f->tx, kp, f->signed_buf, f->signed_cap, signed_len, hash);
    if (rc != 0)
        return rc;
    sodium_bin2base64(f->b64, f->b64_cap, f->signed_buf, *signed_len,
                      sodium_base64_VARIANT_ORIGINAL);
    bench_sink ^= (uint8_t)(f->b64[7] ^ hash[0]);
    return 0;
}

/* bench_tx: signed transactions per second for the fixture, over about `seconds`. */
static double
bench_tx(struct tx_fixture *f, const struct nf_keypair *kp, double seconds, size_t *signed_len)
{
    for (int i = 0; i < 50; i++) /* warm caches and the CPU clock */
        if (sign_one(f, kp, signed_len) != 0)
            return -1;
    unsigned long long count = 0;
    double start = now_s(), elapsed = 0;
    do {
        for (int i = 0; i < 32; i++)
            if (sign_one(f, kp, signed_len) != 0)
                return -1;
        count += 32;
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    return (double)count / elapsed;
}

/* bench_raw: crypto_sign_detached on a 32-byte message (what a NEAR signature costs). */
static double bench_raw(double seconds)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char seed[crypto_sign_SEEDBYTES], msg[32], sig[crypto_sign_BYTES];
    memset(seed, 7, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
    randombytes_buf(msg, sizeof(msg));
    for (int i = 0; i < 50; i++)
        crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
    unsigned long long count = 0;
    double start = now_s(), elapsed = 0;
    do {
        for (int i = 0; i < 32; i++) {
            msg[0] = (unsigned char)count;
            msg[1] = (unsigned char)i;
            crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
            bench_sink ^= sig[0];
        }
        count += 32;
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    sodium_memzero(sk, sizeof(sk));
    return (double)count / elapsed;
}

int main(int argc, char **argv)
{
    double seconds = 1.0;
    if (argc == 3 && strcmp(argv[1], "--seconds") == 0) {
        char *end = NULL;
        seconds = strtod(argv[2], &end);
        if (end == argv[2] || *end != '\0' || seconds <= 0 || seconds > 60) {
            fprintf(stderr, "bench_sign: --seconds wants 0 < S <= 60\n");
            return 2;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: bench_sign [--seconds S]   (per figure; default 1.0)\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    uint8_t seed[32];
    memset(seed, 0x5a, sizeof(seed));
    struct nf_keypair *kp = NULL;
    if (keys_from_seed(seed, &kp) != 0) {
        fprintf(stderr, "bench_sign: keys_from_seed failed\n");
        return 1;
    }
    struct tx_fixture *one = calloc(1, sizeof(*one)), *hundred = calloc(1, sizeof(*hundred));
    int ret = 1;
    if (one == NULL || hundred == NULL || fixture_init(one, kp, 1) != 0 ||
        fixture_init(hundred, kp, 100) != 0) {
        fprintf(stderr, "bench_sign: fixture setup failed\n");
        goto out;
    }
    size_t len1 = 0, len100 = 0;
    double raw = bench_raw(seconds);
    double tx1 = bench_tx(one, kp, seconds, &len1);
    double tx100 = bench_tx(hundred, kp, seconds, &len100);
    if (tx1 < 0 || tx100 < 0) {
        fprintf(stderr, "bench_sign: near_tx_sign failed\n");
        goto out;
    }
    printf("raw_ed25519_sign_per_s=%.0f sig/s\n", raw);
    printf("sign_1action_tx_per_s=%.0f tx/s\n", tx1);
    printf("sign_100action_tx_per_s=%.0f tx/s\n", tx100);
    printf("sign_100action_actions_per_s=%.0f actions/s\n", tx100 * 100);
    printf("signed_tx_bytes_1action=%zu bytes\n", len1);
    printf("signed_tx_bytes_100action=%zu bytes\n", len100);
    printf("ratio_1action_vs_raw=%.2f\n", tx1 / raw);
    printf("ratio_100action_vs_raw=%.2f\n", tx100 / raw);
    ret = 0;
out:
    if (one != NULL)
        fixture_free(one);
    if (hundred != NULL)
        fixture_free(hundred);
    free(one);
    free(hundred);
    keys_free(kp);
    return ret;
}
