/* keypool: the signer account's full-access keys, each with ONE atomic nonce counter, an atomic
 * in-flight count and a health state. Keys are split into disjoint shards, one per signer thread:
 * only the shard's signer thread allocates nonces from a key; the submit thread may raise a
 * counter after InvalidNonce (atomic max) and decrements in-flight counts; any thread may read
 * the figures for /health and /metrics. Secret keys stay in sodium memory (struct nf_keypair). */
#ifndef NF_KEYPOOL_H
#define NF_KEYPOOL_H

#include <stdatomic.h>
#include <stdint.h>

#include "keys.h"

enum key_state {
    KEY_OK = 0,
    KEY_QUARANTINED = 1, /* InvalidSignature / AccessKeyNotFound / not full access */
};

struct pool_key {
    struct nf_keypair *kp; /* owned by the pool */
    char public_str[KEYS_PUBKEY_STR_MAX];
    uint16_t index;
    uint16_t shard;              /* signer thread that owns nonce allocation */
    _Atomic uint64_t next_nonce; /* next nonce to use (ak_nonce + 1 at start) */
    _Atomic uint32_t inflight;   /* signed transactions not yet resolved */
    _Atomic uint32_t state;      /* enum key_state */
    _Atomic uint64_t signed_total;
    _Atomic uint64_t nonce_resyncs;
    char quarantine_reason[128]; /* written once before state becomes QUARANTINED (release) */
};

struct keypool {
    struct pool_key *keys;
    uint16_t n;
    uint16_t shards;
};

/* keypool_init: takes ownership of kps[0..n) (each freed by keypool_destroy). Shard of key i is
 * i % shards. Start-up only. 0 or NF_ENOMEM. */
int keypool_init(struct keypool *p, struct nf_keypair **kps, uint16_t n, uint16_t shards);
void keypool_destroy(struct keypool *p);

/* keypool_take_nonce: the owner signer thread takes the next nonce of key k. */
static inline uint64_t keypool_take_nonce(struct pool_key *k)
{
    /* relaxed: the nonce travels with the signed batch through rings, which publish it. */
    return atomic_fetch_add_explicit(&k->next_nonce, 1, memory_order_relaxed);
}

/* keypool_raise_nonce: any thread: makes next_nonce >= at_least (atomic max). Returns 1 if raised.
 */
int keypool_raise_nonce(struct pool_key *k, uint64_t at_least);

/* keypool_quarantine: any thread: marks k quarantined with a reason (first reason wins). */
void keypool_quarantine(struct pool_key *k, const char *reason);

static inline int keypool_usable(const struct pool_key *k)
{
    return atomic_load_explicit(&k->state, memory_order_acquire) == KEY_OK;
}

#endif
