/* spend: the rolling spend budgets (see include/spend.h). One mutex guards the slots, the running
 * sum and the expiry cursor; any thread may call in. Allocates only in spend_new_window and
 * spend_tokens_get (main thread). Times are counted in slots of slot_s seconds: slot number
 * q = second / slot_s, and a window holds the last nslots of them. */
#include "spend.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nf_err.h"

struct spend_slot {
    uint64_t q;     /* the slot number (wall-clock second / slot_s) this slot counts (0: empty) */
    nf_u128 amount; /* accepted in that slot's seconds */
};

struct spend {
    pthread_mutex_t mu;
    nf_u128 limit;
    uint32_t nslots;       /* the window: nslots slots ... */
    uint32_t slot_s;       /* ... of slot_s seconds each */
    nf_u128 total;         /* sum of the slots not expired (guarded by mu) */
    uint64_t expired_upto; /* every slot number <= this has been expired (guarded by mu) */
    struct spend_slot slot[];
};

struct spend *spend_new_window(nf_u128 limit, uint32_t window_s, uint32_t slot_s)
{
    if (slot_s == 0 || window_s == 0 || window_s % slot_s != 0)
        return NULL;
    uint32_t n = window_s / slot_s;
    struct spend *s = calloc(1, sizeof(*s) + (size_t)n * sizeof(struct spend_slot));
    if (s == NULL)
        return NULL;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return NULL;
    }
    s->limit = limit;
    s->nslots = n;
    s->slot_s = slot_s;
    return s;
}

struct spend *spend_new(nf_u128 limit)
{
    return spend_new_window(limit, SPEND_WINDOW_S, 1);
}

void spend_free(struct spend *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s);
}

nf_u128 spend_limit(const struct spend *s)
{
    return s->limit;
}

uint32_t spend_window_s(const struct spend *s)
{
    return s->nslots * s->slot_s;
}

static struct spend_slot *slot_of(struct spend *s, uint64_t q)
{
    return &s->slot[q % s->nslots];
}

static void slot_clear(struct spend *s, struct spend_slot *sl)
{
    s->total = sl->amount <= s->total ? s->total - sl->amount : 0;
    sl->amount = 0;
    sl->q = 0;
}

/* expire: drops every slot numbered <= now_q - nslots (now_q: the slot of now). Each slot number
 * is visited once over the window's life (the cursor only moves forward), so this is amortised
 * O(1); a jump of more than a window clears everything at once. Holds mu. */
static void expire(struct spend *s, uint64_t now_s)
{
    uint64_t now_q = now_s / s->slot_s;
    if (now_q < s->nslots)
        return;
    uint64_t upto = now_q - s->nslots;
    if (upto <= s->expired_upto)
        return;
    if (upto - s->expired_upto >= s->nslots) {
        for (uint32_t i = 0; i < s->nslots; i++)
            if (s->slot[i].q != 0 && s->slot[i].q <= upto)
                slot_clear(s, &s->slot[i]);
    } else {
        for (uint64_t q = s->expired_upto + 1; q <= upto; q++) {
            struct spend_slot *sl = slot_of(s, q);
            if (sl->q != 0 && sl->q <= upto)
                slot_clear(s, sl);
        }
    }
    s->expired_upto = upto;
}

/* add: counts amount in the slot of second sec (saturating: the sum never wraps). Holds mu. */
static void add(struct spend *s, uint64_t sec, nf_u128 amount)
{
    uint64_t q = sec / s->slot_s;
    struct spend_slot *sl = slot_of(s, q);
    if (sl->q != q) {
        if (sl->q > q) {
            q = sl->q; /* the clock stepped back over a window: keep the newer slot */
        } else if (sl->q != 0) {
            slot_clear(s, sl); /* older than the window */
        }
        sl->q = q;
    }
    nf_u128 v;
    sl->amount = u128_add_overflow(sl->amount, amount, &v) ? U128_MAX : v;
    s->total = u128_add_overflow(s->total, amount, &v) ? U128_MAX : v;
}

void spend_replay(struct spend *s, uint64_t ts_ms, nf_u128 amount, uint64_t now_ms)
{
    if (s->limit == 0 || amount == 0)
        return;
    if (ts_ms > now_ms)
        ts_ms = now_ms;
    if (now_ms - ts_ms >= (uint64_t)spend_window_s(s) * 1000u)
        return;
    /* ... and one whose slot has left the window, though it is younger by the millisecond: expire
     * drops that slot now, and add would keep the amount in it for another whole window. */
    if (ts_ms / 1000u / s->slot_s + s->nslots <= now_ms / 1000u / s->slot_s)
        return;
    pthread_mutex_lock(&s->mu);
    expire(s, now_ms / 1000u);
    add(s, ts_ms / 1000u, amount);
    pthread_mutex_unlock(&s->mu);
}

/* retry_after: seconds until the slots that expire first free at least need. The slot numbered q
 * expires when slot q + nslots begins. Holds mu. */
static uint32_t retry_after(struct spend *s, uint64_t now_s, nf_u128 need)
{
    nf_u128 freed = 0;
    uint64_t now_q = now_s / s->slot_s;
    uint64_t first = now_q >= s->nslots - 1 ? now_q - (s->nslots - 1) : 0;
    for (uint64_t q = first; q <= now_q; q++) {
        const struct spend_slot *sl = slot_of(s, q);
        if (sl->q != q)
            continue;
        freed += sl->amount; /* <= total: no overflow */
        if (freed >= need)
            return (uint32_t)((q + s->nslots) * s->slot_s - now_s);
    }
    return spend_window_s(s); /* amounts stamped in the future (clock stepped back) */
}

int spend_reserve_limit(struct spend *s,
                        nf_u128 limit,
                        nf_u128 amount,
                        uint64_t now_ms,
                        uint64_t *stamp_s,
                        uint32_t *retry_s)
{
    uint64_t now_s = now_ms / 1000u;
    *stamp_s = now_s;
    *retry_s = 0;
    if (limit == 0)
        return 0;
    if (amount > limit)
        return NF_ERANGE;
    pthread_mutex_lock(&s->mu);
    expire(s, now_s);
    nf_u128 after;
    if (u128_add_overflow(s->total, amount, &after) || after > limit) {
        /* total + amount - limit, no overflow; total may exceed a limit lowered by a reload. */
        nf_u128 need = s->total >= limit ? s->total - limit + amount : s->total - (limit - amount);
        uint32_t r = retry_after(s, now_s, need);
        pthread_mutex_unlock(&s->mu);
        *retry_s = r != 0 ? r : 1;
        return NF_EFULL;
    }
    add(s, now_s, amount);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int spend_reserve(
    struct spend *s, nf_u128 amount, uint64_t now_ms, uint64_t *stamp_s, uint32_t *retry_s)
{
    return spend_reserve_limit(s, s->limit, amount, now_ms, stamp_s, retry_s);
}

void spend_release(struct spend *s, uint64_t stamp_s, nf_u128 amount)
{
    if (s->limit == 0 || amount == 0)
        return;
    pthread_mutex_lock(&s->mu);
    uint64_t q = stamp_s / s->slot_s;
    struct spend_slot *sl = slot_of(s, q);
    if (sl->q == q) {
        nf_u128 back = amount <= sl->amount ? amount : sl->amount;
        sl->amount -= back;
        s->total = back <= s->total ? s->total - back : 0;
    }
    pthread_mutex_unlock(&s->mu);
}

nf_u128 spend_remaining_limit(struct spend *s, nf_u128 limit, uint64_t now_ms)
{
    if (limit == 0)
        return 0;
    pthread_mutex_lock(&s->mu);
    expire(s, now_ms / 1000u);
    nf_u128 r = s->total < limit ? limit - s->total : 0;
    pthread_mutex_unlock(&s->mu);
    return r;
}

nf_u128 spend_remaining(struct spend *s, uint64_t now_ms)
{
    return spend_remaining_limit(s, s->limit, now_ms);
}

/* ---- per-token windows ---------------------------------------------------------------------- */

struct spend_named {
    char name[SPEND_TOKEN_NAME_MAX];
    size_t len;
    struct spend_token *w; /* its own allocation: the array may move, the pointer may not */
};

struct spend_tokens {
    size_t n, cap;
    struct spend_named *v; /* grown by spend_tokens_get (main thread only) */
};

struct spend_tokens *spend_tokens_new(void)
{
    return calloc(1, sizeof(struct spend_tokens));
}

void spend_tokens_free(struct spend_tokens *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++) {
        spend_free(st->v[i].w->hour);
        spend_free(st->v[i].w->day);
        free(st->v[i].w);
    }
    free(st->v);
    free(st);
}

struct spend_token *spend_tokens_find(const struct spend_tokens *st, const char *name, size_t len)
{
    if (st == NULL)
        return NULL;
    for (size_t i = 0; i < st->n; i++)
        if (st->v[i].len == len && memcmp(st->v[i].name, name, len) == 0)
            return st->v[i].w;
    return NULL;
}

struct spend_token *spend_tokens_get(
    struct spend_tokens *st, const char *name, size_t len, nf_u128 hour_limit, nf_u128 day_limit)
{
    if (len == 0 || len > SPEND_TOKEN_NAME_MAX || (hour_limit == 0 && day_limit == 0))
        return NULL;
    struct spend_token *w = spend_tokens_find(st, name, len);
    if (w == NULL) {
        if (st->n == st->cap) {
            size_t cap = st->cap ? 2 * st->cap : 8;
            struct spend_named *v = realloc(st->v, cap * sizeof(*v));
            if (v == NULL)
                return NULL;
            st->v = v;
            st->cap = cap;
        }
        if ((w = calloc(1, sizeof(*w))) == NULL)
            return NULL;
        memcpy(st->v[st->n].name, name, len);
        st->v[st->n].len = len;
        st->v[st->n].w = w;
        st->n++;
    }
    if (hour_limit != 0 && w->hour == NULL && (w->hour = spend_new(hour_limit)) == NULL)
        return NULL;
    if (day_limit != 0 && w->day == NULL &&
        (w->day = spend_new_window(day_limit, SPEND_DAY_S, SPEND_DAY_SLOT_S)) == NULL)
        return NULL;
    return w;
}

size_t spend_tokens_count(const struct spend_tokens *st)
{
    return st != NULL ? st->n : 0;
}
