/* sim_testutil: helpers shared by the nearsim unit tests, fuzz target and bench: a small chain
 * with one signer key, and builders for signed ft_transfer / storage_deposit / custom txs.
 * Single-threaded; every returned buffer is owned by the caller. */
#ifndef NF_SIM_TESTUTIL_H
#define NF_SIM_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "near_tx.h"
#include "sim_chain.h"

#define T_MAX_TX (1 << 20)

static inline struct nf_keypair *t_key(int n)
{
    uint8_t seed[32];
    memset(seed, 0, sizeof(seed));
    seed[0] = (uint8_t)n;
    seed[31] = 0x5a;
    struct nf_keypair *kp = NULL;
    if (keys_from_seed(seed, &kp) != 0)
        abort();
    return kp;
}

static inline struct sim_chain *t_chain(struct sim_chain_cfg *cfg, struct nf_keypair *kp)
{
    struct sim_chain *c = NULL;
    if (sim_chain_new(cfg, 1000000000ull, &c) != 0)
        abort();
    if (kp != NULL && sim_chain_add_key(c, cfg->signer, keys_public(kp)) != 0)
        abort();
    return c;
}

static inline void t_small_cfg(struct sim_chain_cfg *cfg)
{
    sim_chain_cfg_defaults(cfg);
    cfg->receivers = 5;
    cfg->unregistered = 3;
    cfg->genesis_height = 100;
}

static inline struct near_action
t_fc(const char *method, const char *args, uint64_t gas, nf_u128 deposit)
{
    struct near_action a;
    memset(&a, 0, sizeof(a));
    a.type = NEAR_ACT_FUNCTION_CALL;
    a.u.function_call.method_name.ptr = (const uint8_t *)method;
    a.u.function_call.method_name.len = (uint32_t)strlen(method);
    a.u.function_call.args.ptr = (const uint8_t *)args;
    a.u.function_call.args.len = (uint32_t)strlen(args);
    a.u.function_call.gas = gas;
    a.u.function_call.deposit = deposit;
    return a;
}

/* t_sign: signs a tx from signer to receiver with the given actions and block hash. */
static inline uint8_t *t_sign(const struct nf_keypair *kp,
                              const char *signer,
                              const char *receiver,
                              uint64_t nonce,
                              const uint8_t *block_hash,
                              const struct near_action *acts,
                              uint32_t n,
                              size_t *len)
{
    struct near_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.signer_id.ptr = (const uint8_t *)signer;
    tx.signer_id.len = (uint32_t)strlen(signer);
    tx.public_key = *keys_public(kp);
    tx.nonce = nonce;
    tx.receiver_id.ptr = (const uint8_t *)receiver;
    tx.receiver_id.len = (uint32_t)strlen(receiver);
    memcpy(tx.block_hash, block_hash, 32);
    tx.n_actions = n;
    tx.actions = acts;
    size_t cap = near_tx_encoded_size(&tx) + NEAR_SIGNED_EXTRA + 16;
    uint8_t *out = malloc(cap);
    if (out == NULL || near_tx_sign(&tx, kp, out, cap, len, NULL) != 0)
        abort();
    return out;
}

/* t_transfers: n ft_transfer actions to receivers[i % nr] with memo prefix (NULL: no memo). The
 * argument strings are stored in *store (caller frees). */
static inline uint8_t *t_transfers(const struct nf_keypair *kp,
                                   const struct sim_chain *c,
                                   uint64_t nonce,
                                   const char *const *receivers,
                                   uint32_t nr,
                                   uint32_t n,
                                   const char *memo_prefix,
                                   uint64_t gas,
                                   size_t *len)
{
    struct near_action *acts = calloc(n ? n : 1, sizeof(*acts));
    char **args = calloc(n ? n : 1, sizeof(char *));
    for (uint32_t i = 0; i < n; i++) {
        args[i] = malloc(NEAR_FT_ARGS_MAX);
        char memo[64];
        if (memo_prefix != NULL)
            snprintf(memo, sizeof(memo), "%s-%u", memo_prefix, i);
        const char *r = receivers[i % nr];
        int l = near_ft_transfer_args(args[i], NEAR_FT_ARGS_MAX, r, strlen(r), 1000 + i,
                                      memo_prefix ? memo : NULL, memo_prefix ? strlen(memo) : 0);
        if (l < 0)
            abort();
        args[i][l] = 0;
        acts[i] = t_fc("ft_transfer", args[i], gas, 1);
    }
    const struct sim_block *head = sim_chain_block(c, c->head);
    uint8_t *raw = t_sign(kp, c->cfg.signer, c->cfg.contract, nonce, head->hash, acts, n, len);
    for (uint32_t i = 0; i < n; i++)
        free(args[i]);
    free(args);
    free(acts);
    return raw;
}

static inline int
t_submit(struct sim_chain *c, const uint8_t *raw, size_t len, struct sim_submit_result *res)
{
    if (sim_chain_submit(c, raw, len, 0, res) != 0)
        abort();
    return (int)res->status;
}

#endif
