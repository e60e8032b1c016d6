/* recent: the last failures and the latency histogram the status page reads (include/recent.h).
 * One writer (the WAL thread), any number of readers; seqlock per entry over atomic words, so
 * neither side ever waits on the other and thread sanitizers see no plain racing access. */
#include "recent.h"

#include <string.h>

#include "jw.h"

void recent_init(struct recent *r)
{
    atomic_store_explicit(&r->n_failures, 0, memory_order_relaxed);
    for (unsigned i = 0; i < RECENT_FAILURES; i++) {
        atomic_store_explicit(&r->slot[i].seq, 0, memory_order_relaxed);
        for (unsigned k = 0; k < RECENT_WORDS; k++)
            atomic_store_explicit(&r->slot[i].w[k], 0, memory_order_relaxed);
    }
    for (unsigned i = 0; i < RECENT_LAT_BUCKETS; i++)
        atomic_store_explicit(&r->lat[i], 0, memory_order_relaxed);
}

unsigned recent_bucket(uint64_t ms)
{
    unsigned b = 0;
    while (ms > 0 && b < RECENT_LAT_BUCKETS - 1) {
        ms >>= 1;
        b++;
    }
    return b;
}

static void slot_write(struct recent_slot *s, const struct recent_failure *f)
{
    uint64_t words[RECENT_WORDS];
    memset(words, 0, sizeof(words));
    memcpy(words, f, sizeof(*f));
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (unsigned k = 0; k < RECENT_WORDS; k++)
        atomic_store_explicit(&s->w[k], words[k], memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

/* slot_read: 1 with a consistent copy in *f, 0 when the writer is in the middle of it. */
static int slot_read(struct recent_slot *s, struct recent_failure *f)
{
    uint64_t words[RECENT_WORDS];
    uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
    if (s1 & 1)
        return 0;
    for (unsigned k = 0; k < RECENT_WORDS; k++)
        words[k] = atomic_load_explicit(&s->w[k], memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&s->seq, memory_order_relaxed) != s1)
        return 0;
    memcpy(f, words, sizeof(*f));
    return 1;
}

void recent_final(struct recent *r, const struct job *j, int failed)
{
    uint64_t acc = atomic_load_explicit(&j->accepted_ms, memory_order_relaxed);
    uint64_t done = atomic_load_explicit(&j->done_ms, memory_order_relaxed);
    uint64_t ms = done > acc ? done - acc : 0;
    atomic_fetch_add_explicit(&r->lat[recent_bucket(ms)], 1, memory_order_relaxed);
    if (!failed)
        return;
    struct recent_failure f;
    memset(&f, 0, sizeof(f));
    f.id = atomic_load_explicit(&j->id, memory_order_relaxed);
    f.done_ms = done;
    f.amount = j->amount;
    memcpy(f.receiver, j->receiver, sizeof(f.receiver));
    f.receiver[sizeof(f.receiver) - 1] = '\0';
    memcpy(f.error, j->error, sizeof(f.error));
    f.error[sizeof(f.error) - 1] = '\0';
    uint64_t n = atomic_load_explicit(&r->n_failures, memory_order_relaxed);
    f.n = n;
    slot_write(&r->slot[n % RECENT_FAILURES], &f);
    atomic_store_explicit(&r->n_failures, n + 1, memory_order_release);
}

unsigned recent_failures_get(struct recent *r, struct recent_failure *out, unsigned max)
{
    uint64_t n = atomic_load_explicit(&r->n_failures, memory_order_acquire);
    uint64_t have = n < RECENT_FAILURES ? n : RECENT_FAILURES;
    unsigned got = 0;
    for (uint64_t i = 0; i < have && got < max; i++) {
        uint64_t idx = n - 1 - i;
        struct recent_slot *s = &r->slot[idx % RECENT_FAILURES];
        int ok = 0;
        for (int tries = 0; tries < 8 && !ok; tries++)
            ok = slot_read(s, &out[got]);
        if (ok && out[got].n == idx) /* else overwritten by a newer failure meanwhile */
            got++;
    }
    return got;
}

void recent_json(struct recent *r, struct jw *w)
{
    jw_key(w, "latency_ms_hist_log2");
    jw_arr_begin(w);
    for (unsigned i = 0; i < RECENT_LAT_BUCKETS; i++)
        jw_u64(w, atomic_load_explicit(&r->lat[i], memory_order_relaxed));
    jw_arr_end(w);
    struct recent_failure f[RECENT_FAILURES];
    unsigned n = recent_failures_get(r, f, RECENT_FAILURES);
    jw_key(w, "failures");
    jw_arr_begin(w);
    for (unsigned i = 0; i < n; i++) {
        jw_obj_begin(w);
        jw_key(w, "id");
        jw_u64(w, f[i].id);
        jw_key(w, "receiver_id");
        jw_str(w, f[i].receiver);
        jw_key(w, "amount");
        jw_u128_str(w, f[i].amount);
        jw_key(w, "error");
        jw_str(w, f[i].error);
        jw_key(w, "done_at_ms");
        jw_u64(w, f[i].done_ms);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}
