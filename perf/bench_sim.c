/* bench_sim: how many pre-signed 100-action ft_transfer transactions nearsim's state machine
 * validates (Borsh decode, signature, all checks) and applies (block production, receipt
 * execution, memo index, refunds) per second on one core, calling nf_sim_core directly (no HTTP).
 * Prints `name=value unit` lines. Usage: bench_sim [n_txs] (default 4000). Single thread. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nf_err.h"
#include "sim_chain.h"
#include "sim_testutil.h"

#define N_KEYS 8

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 4000;
    if (n == 0 || sodium_init() < 0)
        return 1;
    struct sim_chain_cfg cfg;
    sim_chain_cfg_defaults(&cfg);
    cfg.receivers = 1000;
    cfg.chunk_gas = UINT64_MAX / 4;
    cfg.chunk_tx_gas = UINT64_MAX / 4;
    cfg.congestion_max_gas = (nf_u128)UINT64_MAX * 1000u;
    struct nf_keypair *kps[N_KEYS];
    struct sim_chain *c = NULL;
    if (sim_chain_new(&cfg, 1000000000ull, &c) != 0)
        return 1;
    for (int k = 0; k < N_KEYS; k++) {
        kps[k] = t_key(100 + k);
        if (sim_chain_add_key(c, cfg.signer, keys_public(kps[k])) != 0)
            return 1;
    }
    char **names = calloc(cfg.receivers, sizeof(char *));
    for (uint32_t i = 0; i < cfg.receivers; i++) {
        names[i] = malloc(40);
        snprintf(names[i], 40, "user-%u.test.near", i);
    }
    uint8_t **raws = calloc(n, sizeof(uint8_t *));
    size_t *lens = calloc(n, sizeof(size_t));
    uint64_t base_nonce = (cfg.genesis_height - 1) * SIM_NONCE_MULTIPLIER;
    double t0 = now_s();
    for (uint32_t i = 0; i < n; i++) {
        char memo[32];
        snprintf(memo, sizeof(memo), "bench-%u", i);
        raws[i] = t_transfers(kps[i % N_KEYS], c, base_nonce + 1 + i / N_KEYS,
                              (const char *const *)names + (i * 7) % 900, 100, 100, memo,
                              10000000000000ull, &lens[i]);
    }
    double t_sign = now_s() - t0;
    /* admission */
    t0 = now_s();
    for (uint32_t i = 0; i < n; i++) {
        struct sim_submit_result res;
        if (sim_chain_submit(c, raws[i], lens[i], 0, &res) != 0 ||
            res.status != SIM_SUBMIT_ACCEPTED) {
            fprintf(stderr, "bench_sim: tx %u not accepted: %s\n", i,
                    sim_reject_name(res.reject.code));
            return 1;
        }
    }
    double t_admit = now_s() - t0;
    /* inclusion + execution + refunds */
    t0 = now_s();
    uint64_t ts = 2000000000ull;
    for (int b = 0; b < 3; b++)
        if (sim_chain_produce_block(c, ts += 600000000ull) != 0)
            return 1;
    double t_apply = now_s() - t0;
    uint64_t transfers = c->audit.transfers_applied;
    if (transfers != (uint64_t)n * 100 || c->audit.duplicate_memo_count != 0) {
        fprintf(stderr, "bench_sim: applied %llu transfers, expected %llu\n",
                (unsigned long long)transfers, (unsigned long long)n * 100);
        return 1;
    }
    double total = t_admit + t_apply;
    printf("sim_txs=%u txs\n", n);
    printf("sim_sign_100act=%.0f tx/s\n", n / t_sign);
    printf("sim_admit_100act=%.0f tx/s\n", n / t_admit);
    printf("sim_apply_100act=%.0f tx/s\n", n / t_apply);
    printf("sim_total_100act=%.0f tx/s\n", n / total);
    printf("sim_total_transfers=%.0f transfers/s\n", (double)transfers / total);
    for (uint32_t i = 0; i < n; i++)
        free(raws[i]);
    for (uint32_t i = 0; i < cfg.receivers; i++)
        free(names[i]);
    free(names);
    free(raws);
    free(lens);
    for (int k = 0; k < N_KEYS; k++)
        keys_free(kps[k]);
    sim_chain_free(c);
    return 0;
}
