/* keypool: signer keys with per-key atomic nonce counters (see include/keypool.h). Allocated at
 * start-up; shared read-mostly by signer threads (nonces of their own shard), the submit thread
 * (resync, in-flight release, quarantine) and HTTP readers (figures). */
#include "keypool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nf_err.h"

int keypool_init(struct keypool *p, struct nf_keypair **kps, uint16_t n, uint16_t shards)
{
    memset(p, 0, sizeof(*p));
    p->keys = calloc(n ? n : 1, sizeof(*p->keys));
    if (p->keys == NULL)
        return NF_ENOMEM;
    p->n = n;
    p->shards = shards ? shards : 1;
    for (uint16_t i = 0; i < n; i++) {
        struct pool_key *k = &p->keys[i];
        k->kp = kps[i];
        k->index = i;
        k->shard = (uint16_t)(i % p->shards);
        keys_pubkey_format(keys_public(k->kp), k->public_str, sizeof(k->public_str));
        atomic_init(&k->next_nonce, 0);
        atomic_init(&k->inflight, 0);
        atomic_init(&k->state, KEY_OK);
        atomic_init(&k->signed_total, 0);
        atomic_init(&k->nonce_resyncs, 0);
    }
    return 0;
}

void keypool_destroy(struct keypool *p)
{
    if (p == NULL || p->keys == NULL)
        return;
    for (uint16_t i = 0; i < p->n; i++)
        keys_free(p->keys[i].kp);
    free(p->keys);
    p->keys = NULL;
}

int keypool_raise_nonce(struct pool_key *k, uint64_t at_least)
{
    uint64_t cur = atomic_load_explicit(&k->next_nonce, memory_order_relaxed);
    while (cur < at_least) {
        if (atomic_compare_exchange_weak_explicit(&k->next_nonce, &cur, at_least,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            atomic_fetch_add_explicit(&k->nonce_resyncs, 1, memory_order_relaxed);
            return 1;
        }
    }
    return 0;
}

void keypool_quarantine(struct pool_key *k, const char *reason)
{
    /* Quarantine happens at most once per key, off the request path, so a lock is fine: it makes
     * the first caller the only writer of the reason, which is complete before the release store
     * publishes it (pairs with keypool_usable's acquire) and never written again. */
    static pthread_mutex_t quarantine_lock = PTHREAD_MUTEX_INITIALIZER;
    if (atomic_load_explicit(&k->state, memory_order_acquire) != KEY_OK)
        return;
    pthread_mutex_lock(&quarantine_lock);
    if (atomic_load_explicit(&k->state, memory_order_relaxed) == KEY_OK) {
        snprintf(k->quarantine_reason, sizeof(k->quarantine_reason), "%s", reason);
        atomic_store_explicit(&k->state, KEY_QUARANTINED, memory_order_release);
    }
    pthread_mutex_unlock(&quarantine_lock);
}
