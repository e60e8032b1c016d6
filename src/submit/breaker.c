/* breaker: per-endpoint circuit breaker (see include/breaker.h). Pure; owned by the submit thread,
 * whose writes of `state` and the counters are atomic so other threads can read them. */
#include "breaker.h"

#include <string.h>

void breaker_init(struct breaker *b,
                  unsigned error_rate,
                  uint32_t window_ms,
                  uint32_t min_requests,
                  uint32_t cooldown_ms,
                  uint32_t probes,
                  uint32_t slow_ms)
{
    memset(b, 0, sizeof(*b));
    b->error_rate = error_rate ? error_rate : 50;
    b->window_ms = window_ms ? window_ms : 10000;
    b->min_requests = min_requests;
    b->cooldown_ms = cooldown_ms;
    b->probes = probes ? probes : 1;
    b->slow_ms = slow_ms;
    atomic_init(&b->state, BREAKER_CLOSED);
    atomic_init(&b->opens, 0);
    atomic_init(&b->closes, 0);
}

static uint64_t bucket_ms(const struct breaker *b)
{
    uint64_t w = b->window_ms / BREAKER_BUCKETS;
    return w ? w : 1;
}

/* bucket: the bucket for now, cleared when it last held an older slice of time. */
static unsigned bucket(struct breaker *b, uint64_t now_ms)
{
    uint64_t slice = now_ms / bucket_ms(b);
    unsigned i = (unsigned)(slice % BREAKER_BUCKETS);
    if (b->bucket_start[i] != slice) {
        b->bucket_start[i] = slice;
        b->ok[i] = b->err[i] = 0;
    }
    return i;
}

static void window_totals(struct breaker *b, uint64_t now_ms, uint32_t *ok, uint32_t *err)
{
    uint64_t slice = now_ms / bucket_ms(b);
    *ok = *err = 0;
    for (unsigned i = 0; i < BREAKER_BUCKETS; i++) {
        if (slice - b->bucket_start[i] >= BREAKER_BUCKETS)
            continue;
        *ok += b->ok[i];
        *err += b->err[i];
    }
}

static void set_state(struct breaker *b, int st, uint64_t now_ms)
{
    int old = atomic_load_explicit(&b->state, memory_order_relaxed);
    if (old == st)
        return;
    atomic_store_explicit(&b->state, st, memory_order_relaxed);
    if (st == BREAKER_OPEN) {
        b->opened_at_ms = now_ms;
        atomic_fetch_add_explicit(&b->opens, 1, memory_order_relaxed);
        memset(b->ok, 0, sizeof(b->ok));
        memset(b->err, 0, sizeof(b->err));
    } else if (st == BREAKER_CLOSED) {
        atomic_fetch_add_explicit(&b->closes, 1, memory_order_relaxed);
    }
    b->probes_sent = b->probes_ok = 0;
}

int breaker_allow(struct breaker *b, uint64_t now_ms)
{
    int st = atomic_load_explicit(&b->state, memory_order_relaxed);
    if (st == BREAKER_OPEN) {
        if (now_ms - b->opened_at_ms < b->cooldown_ms)
            return 0;
        set_state(b, BREAKER_HALF_OPEN, now_ms);
        st = BREAKER_HALF_OPEN;
    }
    if (st == BREAKER_HALF_OPEN)
        return b->probes_sent < b->probes;
    return 1;
}

void breaker_on_request(struct breaker *b, uint64_t now_ms)
{
    (void)now_ms;
    if (atomic_load_explicit(&b->state, memory_order_relaxed) == BREAKER_HALF_OPEN)
        b->probes_sent++;
}

void breaker_on_result(struct breaker *b, uint64_t now_ms, int bad, uint64_t latency_ms)
{
    if (b->slow_ms != 0 && latency_ms >= b->slow_ms)
        bad = 1;
    int st = atomic_load_explicit(&b->state, memory_order_relaxed);
    if (st == BREAKER_HALF_OPEN) {
        if (bad) {
            set_state(b, BREAKER_OPEN, now_ms);
        } else if (++b->probes_ok >= b->probes) {
            set_state(b, BREAKER_CLOSED, now_ms);
        }
        return;
    }
    if (st == BREAKER_OPEN)
        return; /* an answer to a request sent before it opened */
    unsigned i = bucket(b, now_ms);
    if (bad)
        b->err[i]++;
    else
        b->ok[i]++;
    uint32_t ok, err;
    window_totals(b, now_ms, &ok, &err);
    uint32_t total = ok + err;
    if (total >= b->min_requests && total > 0 &&
        (uint64_t)err * 100 >= (uint64_t)b->error_rate * total)
        set_state(b, BREAKER_OPEN, now_ms);
}

int breaker_state(const struct breaker *b, uint64_t now_ms)
{
    int st = atomic_load_explicit(&b->state, memory_order_relaxed);
    if (st == BREAKER_OPEN && now_ms - b->opened_at_ms >= b->cooldown_ms)
        return BREAKER_HALF_OPEN;
    return st;
}

uint64_t breaker_opens(const struct breaker *b)
{
    return atomic_load_explicit(&b->opens, memory_order_relaxed);
}

uint64_t breaker_closes(const struct breaker *b)
{
    return atomic_load_explicit(&b->closes, memory_order_relaxed);
}

const char *breaker_state_name(int state)
{
    switch (state) {
    case BREAKER_CLOSED:
        return "closed";
    case BREAKER_OPEN:
        return "open";
    case BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "?";
}
