/* ratelim: per-key token buckets in a fixed striped table (see include/ratelim.h). GCRA: each key
 * keeps tat, the time at which its bucket would be full again; a request at now is admitted when
 * tat - now <= (burst - 1) * interval, and then moves tat to max(tat, now) + interval. Each
 * stripe's mutex guards its entries; allocates only in ratelim_new. */
#include "ratelim.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct ratelim_entry {
    uint64_t key; /* 0: empty */
    uint64_t tat; /* ns, CLOCK_MONOTONIC */
};

struct ratelim_stripe {
    pthread_mutex_t mu;
    struct ratelim_entry e[RATELIM_WAYS];
} __attribute__((aligned(64)));

struct ratelim {
    uint64_t interval_ns;  /* 1e9 / rate */
    uint64_t tolerance_ns; /* (burst - 1) * interval */
    struct ratelim_stripe *stripes;
};

struct ratelim *ratelim_new(uint64_t rate, uint64_t burst)
{
    if (rate == 0 || burst == 0 || rate > 1000000000u)
        return NULL;
    struct ratelim *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->interval_ns = 1000000000u / rate;
    r->tolerance_ns = (burst - 1) * r->interval_ns;
    if (burst - 1 != 0 && r->tolerance_ns / (burst - 1) != r->interval_ns)
        r->tolerance_ns = UINT64_MAX / 2; /* overflow: a burst larger than any clock span */
    if (posix_memalign((void **)&r->stripes, 64, RATELIM_STRIPES * sizeof(*r->stripes)) != 0) {
        free(r);
        return NULL;
    }
    for (uint32_t i = 0; i < RATELIM_STRIPES; i++) {
        for (uint32_t w = 0; w < RATELIM_WAYS; w++)
            r->stripes[i].e[w] = (struct ratelim_entry){0, 0};
        pthread_mutex_init(&r->stripes[i].mu, NULL);
    }
    return r;
}

void ratelim_free(struct ratelim *r)
{
    if (r == NULL)
        return;
    for (uint32_t i = 0; i < RATELIM_STRIPES; i++)
        pthread_mutex_destroy(&r->stripes[i].mu);
    free(r->stripes);
    free(r);
}

/* The SipHash key of every bucket key, random per process (set once, on first use). */
static unsigned char key_secret[crypto_shorthash_KEYBYTES];
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void key_init(void)
{
    if (sodium_init() < 0) /* idempotent; nearftd has called it already */
        abort();           /* no random source: no key to trust */
    randombytes_buf(key_secret, sizeof(key_secret));
}

uint64_t ratelim_key(uint8_t kind, const void *b, size_t n)
{
    /* Keyed SipHash-2-4 of kind and the bytes: a client cannot choose addresses that share a
     * stripe (to evict other clients' buckets) or collide with another client's key. */
    pthread_once(&key_once, key_init);
    unsigned char in[1 + 64];
    if (n > sizeof(in) - 1)
        n = sizeof(in) - 1; /* keys are token hashes (32 bytes) and addresses (4 or 16) */
    in[0] = kind;
    if (n > 0)
        memcpy(in + 1, b, n);
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, in, 1 + n, key_secret);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    return h != 0 ? h : 1; /* 0 marks an empty entry */
}

int ratelim_take(struct ratelim *r, uint64_t key, uint64_t now_ns, uint64_t *retry_ms)
{
    if (key == 0)
        key = 1;
    struct ratelim_stripe *s = &r->stripes[key % RATELIM_STRIPES];
    int admitted;
    pthread_mutex_lock(&s->mu);
    struct ratelim_entry *e = NULL, *oldest = &s->e[0];
    for (uint32_t w = 0; w < RATELIM_WAYS; w++) {
        if (s->e[w].key == key) {
            e = &s->e[w];
            break;
        }
        if (s->e[w].tat < oldest->tat) /* an empty entry has tat 0: taken first */
            oldest = &s->e[w];
    }
    if (e == NULL) {
        e = oldest; /* a new key: an empty entry, or the one refilled the longest */
        e->key = key;
        e->tat = now_ns;
    }
    uint64_t tat = e->tat > now_ns ? e->tat : now_ns;
    if (tat - now_ns <= r->tolerance_ns) {
        e->tat = tat + r->interval_ns;
        admitted = 1;
    } else {
        uint64_t wait_ns = tat - now_ns - r->tolerance_ns;
        *retry_ms = (wait_ns + 999999u) / 1000000u; /* wait_ns > 0: at least 1 */
        admitted = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return admitted;
}
