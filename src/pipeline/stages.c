/* stages: the state the batch, sign and submit stages share (see include/stages.h): per-stage
 * counters, the latest-final-block seqlock and the signing flags. Every function is safe on the
 * threads its header comment names; nothing here allocates or blocks. */
#include "stages.h"

#include <string.h>

#include "nf_log.h"
#include "nf_time.h"

void stage_count(struct stage_counters *c, uint64_t items, uint64_t ns)
{
    atomic_fetch_add_explicit(&c->items, items, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->busy_ns, ns, memory_order_relaxed);
    uint64_t per = items ? ns / items / 1000 : 0; /* microseconds per item */
    int b = 0;
    while (per > 1 && b < 15) {
        per >>= 1;
        b++;
    }
    atomic_fetch_add_explicit(&c->hist[b], 1, memory_order_relaxed);
}

void block_ref_read(struct block_ref *b, uint8_t hash[32], uint64_t *height)
{
    for (;;) {
        uint64_t s1 = atomic_load_explicit(&b->seq, memory_order_acquire);
        if (s1 & 1)
            continue;
        uint64_t h = atomic_load_explicit(&b->height, memory_order_relaxed);
        uint64_t w[4];
        for (int i = 0; i < 4; i++)
            w[i] = atomic_load_explicit(&b->hash_words[i], memory_order_relaxed);
        /* acquire fence: the loads above complete before seq is re-read (pairs with the
         * writer's release store of the even seq) */
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&b->seq, memory_order_relaxed) == s1) {
            memcpy(hash, w, 32);
            *height = h;
            return;
        }
    }
}

void block_ref_write(struct block_ref *b, const uint8_t hash[32], uint64_t height)
{
    uint64_t s = atomic_load_explicit(&b->seq, memory_order_relaxed);
    atomic_store_explicit(&b->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* odd seq visible before the data changes */
    uint64_t w[4];
    memcpy(w, hash, 32);
    for (int i = 0; i < 4; i++)
        atomic_store_explicit(&b->hash_words[i], w[i], memory_order_relaxed);
    atomic_store_explicit(&b->height, height, memory_order_relaxed);
    atomic_store_explicit(&b->updated_ms, nf_now_ms(), memory_order_relaxed);
    atomic_store_explicit(&b->seq, s + 2, memory_order_release); /* pairs with readers */
}

int stage_signing_allowed(struct stage_shared *s)
{
    uint64_t retry = atomic_load_explicit(&s->log_retry_ms, memory_order_relaxed);
    return atomic_load_explicit(&s->reconciled, memory_order_acquire) &&
           !atomic_load_explicit(&s->out_of_funds, memory_order_relaxed) &&
           !atomic_load_explicit(&s->out_of_tokens, memory_order_relaxed) &&
           !atomic_load_explicit(&s->out_of_state, memory_order_relaxed) &&
           !atomic_load_explicit(&s->rpc_down, memory_order_relaxed) &&
           (retry == 0 || nf_now_ms() >= retry);
}

void stage_set_log_retry(struct stage_shared *s, uint64_t until_ms)
{
    uint64_t was = atomic_exchange_explicit(&s->log_retry_ms, until_ms, memory_order_relaxed);
    if ((was == 0) != (until_ms == 0))
        NF_LOG(until_ms ? NF_LOG_ERROR : NF_LOG_INFO, "pipe", "%s",
               until_ms ? "a signed transaction could not be made durable: signing waits and "
                          "tries again with a growing back-off"
                        : "signed transactions are durable again: signing goes on");
}

void stage_set_reconciled(struct stage_shared *s)
{
    /* release: pairs with the acquire in stage_signing_allowed, so a signer that sees it also
     * sees the nonces reconciliation raised */
    atomic_store_explicit(&s->reconciled, 1, memory_order_release);
}

void stage_set_out_of_tokens(struct stage_shared *s, int v)
{
    if (atomic_exchange_explicit(&s->out_of_tokens, v, memory_order_relaxed) != v)
        NF_LOG(v ? NF_LOG_ERROR : NF_LOG_INFO, "pipe", "%s",
               v ? "signer's token balance is too low: signing paused until it is topped up"
                 : "signer's token balance covers the waiting transfers again");
}

void stage_set_out_of_state(struct stage_shared *s, int v)
{
    if (atomic_exchange_explicit(&s->out_of_state, v, memory_order_relaxed) != v)
        NF_LOG(v ? NF_LOG_ERROR : NF_LOG_INFO, "pipe", "%s",
               v ? "the token contract lacks NEAR to stake for its state (LackBalanceForState): "
                   "signing paused until it is funded"
                 : "the token contract covers its state again");
}

void stage_set_out_of_funds(struct stage_shared *s, int v)
{
    if (atomic_exchange_explicit(&s->out_of_funds, v, memory_order_relaxed) != v)
        NF_LOG(v ? NF_LOG_ERROR : NF_LOG_INFO, "pipe", "%s",
               v ? "signer cannot pay for gas: signing paused" : "signer funded again");
}

void stage_set_rpc_down(struct stage_shared *s, int v)
{
    if (atomic_exchange_explicit(&s->rpc_down, v, memory_order_relaxed) != v)
        NF_LOG(v ? NF_LOG_WARN : NF_LOG_INFO, "pipe", "%s",
               v ? "every RPC endpoint is open: signing paused" : "an RPC endpoint is usable");
}

void stage_set_ft_supply(struct stage_shared *s, nf_u128 supply)
{
    atomic_store_explicit(&s->ft_supply_lo, (uint64_t)supply, memory_order_relaxed);
    atomic_store_explicit(&s->ft_supply_hi, (uint64_t)(supply >> 64), memory_order_relaxed);
}

nf_u128 stage_ft_supply(struct stage_shared *s)
{
    return ((nf_u128)atomic_load_explicit(&s->ft_supply_hi, memory_order_relaxed) << 64) |
           atomic_load_explicit(&s->ft_supply_lo, memory_order_relaxed);
}

void stage_unqueue(struct stage_shared *s, uint64_t n)
{
    atomic_fetch_sub_explicit(&s->unsigned_jobs, n, memory_order_relaxed);
}
