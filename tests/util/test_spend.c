/* test_spend: the rolling spend windows. The hour: admits up to the limit and no more; the
 * Retry-After names the second the oldest needed slot expires; released amounts come back; slots
 * expire after an hour (also across a jump of more than an hour); replayed records older than an
 * hour are ignored and newer ones count; an amount alone over the limit is NF_ERANGE; no limit
 * admits everything; and 4 threads reserving and releasing at once never hold more than the
 * limit. The day, in one-minute slots: an amount leaves it when the minute it was accepted in is
 * 24 hours old, the Retry-After says when, a release finds its minute, a replay rebuilds it, and
 * window sizes that are not whole slots are refused. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "nf_err.h"
#include "nf_test.h"
#include "spend.h"

#define T0      1767225600000ull /* 2026-01-01T00:00:00Z in ms */
#define HOUR_MS 3600000ull

static int eq128(nf_u128 a, nf_u128 b)
{
    return a == b;
}

static void test_window(void)
{
    struct spend *s = spend_new(1000);
    CHECK(s != NULL);
    uint64_t st;
    uint32_t retry;
    CHECK(eq128(spend_remaining(s, T0), 1000));
    CHECK_EQ_INT(spend_reserve(s, 400, T0, &st, &retry), 0);
    CHECK(st == T0 / 1000);
    CHECK_EQ_INT(spend_reserve(s, 300, T0 + 10000, &st, &retry), 0);
    CHECK_EQ_INT(spend_reserve(s, 300, T0 + 20000, &st, &retry), 0);
    CHECK(eq128(spend_remaining(s, T0 + 20000), 0));
    /* Full: 1 more needs the first slot (T0) to expire: an hour after T0. */
    CHECK_EQ_INT(spend_reserve(s, 1, T0 + 30000, &st, &retry), NF_EFULL);
    CHECK_EQ_INT((int)retry, 3600 - 30);
    /* 500 needs the first two slots (400 + 300): the second expires at T0 + 10 s + 1 h. */
    CHECK_EQ_INT(spend_reserve(s, 500, T0 + 30000, &st, &retry), NF_EFULL);
    CHECK_EQ_INT((int)retry, 3600 + 10 - 30);
    /* Alone over the limit: never fits. */
    CHECK_EQ_INT(spend_reserve(s, 1001, T0 + 30000, &st, &retry), NF_ERANGE);
    /* A released reservation comes back. */
    CHECK_EQ_INT(spend_reserve(s, 1, T0 + 30000, &st, &retry), NF_EFULL);
    uint64_t st2;
    spend_release(s, T0 / 1000 + 20, 300);
    CHECK(eq128(spend_remaining(s, T0 + 30000), 300));
    CHECK_EQ_INT(spend_reserve(s, 300, T0 + 31000, &st2, &retry), 0);
    CHECK_EQ_INT(spend_reserve(s, 1, T0 + 31000, &st, &retry), NF_EFULL);
    /* One second before the hour of the first slot: still full; at the hour: 400 back. */
    CHECK_EQ_INT(spend_reserve(s, 1, T0 + HOUR_MS - 1, &st, &retry), NF_EFULL);
    CHECK_EQ_INT((int)retry, 1);
    CHECK(eq128(spend_remaining(s, T0 + HOUR_MS), 400));
    CHECK_EQ_INT(spend_reserve(s, 400, T0 + HOUR_MS, &st, &retry), 0);
    CHECK_EQ_INT(spend_reserve(s, 1, T0 + HOUR_MS, &st, &retry), NF_EFULL);
    /* Releasing into a slot that has expired changes nothing. */
    spend_release(s, T0 / 1000, 400);
    CHECK(eq128(spend_remaining(s, T0 + HOUR_MS), 0));
    /* A jump of more than an hour empties the window. */
    CHECK(eq128(spend_remaining(s, T0 + 5 * HOUR_MS), 1000));
    CHECK_EQ_INT(spend_reserve(s, 1000, T0 + 5 * HOUR_MS, &st, &retry), 0);
    spend_free(s);
    spend_free(NULL);
}

static void test_replay(void)
{
    struct spend *s = spend_new(1000);
    uint64_t now = T0 + 2 * HOUR_MS, st;
    uint32_t retry;
    spend_replay(s, now - HOUR_MS - 1000, 900, now); /* older than an hour: ignored */
    spend_replay(s, now - HOUR_MS, 900, now);        /* exactly an hour: expired */
    CHECK(eq128(spend_remaining(s, now), 1000));
    spend_replay(s, now - HOUR_MS + 5000, 600, now); /* expires in 5 s */
    spend_replay(s, now - 1000, 300, now);
    spend_replay(s, now + 60000, 50, now); /* from the future (clock stepped back): now */
    CHECK(eq128(spend_remaining(s, now), 50));
    CHECK_EQ_INT(spend_reserve(s, 100, now, &st, &retry), NF_EFULL);
    CHECK_EQ_INT((int)retry, 5);
    CHECK_EQ_INT(spend_reserve(s, 100, now + 5000, &st, &retry), 0);
    spend_free(s);
    /* A record younger than an hour by the millisecond whose second has left the window: not
     * counted (it would otherwise stay counted for another hour). */
    s = spend_new(1000);
    uint64_t mid = T0 + 2 * HOUR_MS + 300;          /* 0.3 s into a second */
    spend_replay(s, mid - HOUR_MS + 200, 900, mid); /* its second is an hour old */
    CHECK(eq128(spend_remaining(s, mid), 1000));
    CHECK(eq128(spend_remaining(s, mid + HOUR_MS / 2), 1000));
    spend_free(s);
}

static void test_day(void)
{
    CHECK(spend_new_window(1, 100, 0) == NULL);
    CHECK(spend_new_window(1, 100, 30) == NULL); /* not whole slots */
    CHECK(spend_new_window(1, 0, 1) == NULL);
    struct spend *s = spend_new_window(1000, SPEND_DAY_S, SPEND_DAY_SLOT_S);
    CHECK(s != NULL);
    if (s == NULL)
        return;
    CHECK_EQ_INT((int)spend_window_s(s), 86400);
    const uint64_t day = 24 * HOUR_MS;
    uint64_t st, st2;
    uint32_t retry;
    /* 600 at T0 + 30 s (minute 0), 400 at T0 + 5 h (minute 300): full for a day. */
    CHECK_EQ_INT(spend_reserve(s, 600, T0 + 30000, &st, &retry), 0);
    CHECK(st == T0 / 1000 + 30);
    CHECK_EQ_INT(spend_reserve(s, 400, T0 + 5 * HOUR_MS, &st2, &retry), 0);
    CHECK(eq128(spend_remaining(s, T0 + 5 * HOUR_MS), 0));
    /* An hour is nothing to a day: still full 23 hours later, until minute 0 is 24 h old. */
    CHECK_EQ_INT(spend_reserve(s, 1, T0 + 23 * HOUR_MS, &st, &retry), NF_EFULL);
    CHECK_EQ_INT((int)retry, 3600);
    CHECK_EQ_INT(spend_reserve(s, 1, T0 + day - 1000, &st, &retry), NF_EFULL);
    CHECK_EQ_INT((int)retry, 1);
    /* Minute 0 leaves at T0 + 24 h, though its 600 came 30 s into it. */
    CHECK(eq128(spend_remaining(s, T0 + day), 600));
    /* 700 needs minute 300 too: T0 + 5 h + 24 h. */
    CHECK_EQ_INT(spend_reserve(s, 700, T0 + day, &st, &retry), NF_EFULL);
    CHECK_EQ_INT((int)retry, 5 * 3600);
    /* A release finds the minute of its stamp (any second of it). */
    spend_release(s, T0 / 1000 + 5 * 3600 + 59, 100);
    CHECK(eq128(spend_remaining(s, T0 + day), 700));
    CHECK_EQ_INT(spend_reserve(s, 700, T0 + day, &st, &retry), 0);
    /* A jump of more than a day empties it. */
    CHECK(eq128(spend_remaining(s, T0 + 3 * day), 1000));
    spend_free(s);

    /* Replay: what the log accepted in the last 24 h counts, older does not. */
    s = spend_new_window(1000, SPEND_DAY_S, SPEND_DAY_SLOT_S);
    uint64_t now = T0 + 2 * day;
    spend_replay(s, now - day, 900, now);         /* its minute is 24 h old: expired */
    spend_replay(s, now - day + 60000, 300, now); /* expires in a minute */
    spend_replay(s, now - 2 * HOUR_MS, 200, now);
    CHECK(eq128(spend_remaining(s, now), 500));
    CHECK_EQ_INT(spend_reserve(s, 600, now, &st, &retry), NF_EFULL);
    CHECK_EQ_INT((int)retry, 60);
    CHECK_EQ_INT(spend_reserve(s, 600, now + 60000, &st, &retry), 0);
    spend_free(s);

    /* A restart 30 s into a minute, the log holding 400 accepted 86,380 s before: younger than a
     * day, but its minute has left the window. It is not counted, now or an hour later, and a
     * refusal's Retry-After comes from what is really in the window. */
    s = spend_new_window(1000, SPEND_DAY_S, SPEND_DAY_SLOT_S);
    uint64_t restart = T0 + 2 * day + 30000;
    spend_replay(s, restart - 86380000ull, 400, restart);
    spend_replay(s, restart - 3600000ull, 300, restart);
    CHECK(eq128(spend_remaining(s, restart), 700));
    CHECK(eq128(spend_remaining(s, restart + HOUR_MS), 700));
    CHECK_EQ_INT(spend_reserve(s, 800, restart + HOUR_MS, &st, &retry), NF_EFULL);
    CHECK(retry < 86400 - 3600 && retry > 86400 - 3 * 3600); /* when the 300 leave */
    spend_free(s);
}

static void test_unlimited(void)
{
    struct spend *s = spend_new(0);
    uint64_t st;
    uint32_t retry;
    CHECK_EQ_INT(spend_reserve(s, U128_MAX, T0, &st, &retry), 0);
    CHECK_EQ_INT(spend_reserve(s, U128_MAX, T0, &st, &retry), 0);
    spend_replay(s, T0, 5, T0);
    CHECK(eq128(spend_remaining(s, T0), 0));
    spend_free(s);
    /* Sums near 2^128 saturate instead of wrapping. */
    s = spend_new(U128_MAX);
    CHECK_EQ_INT(spend_reserve(s, U128_MAX - 1, T0, &st, &retry), 0);
    CHECK_EQ_INT(spend_reserve(s, 2, T0, &st, &retry), NF_EFULL);
    CHECK_EQ_INT(spend_reserve(s, 1, T0, &st, &retry), 0);
    spend_replay(s, T0, 10, T0);
    CHECK(eq128(spend_remaining(s, T0), 0));
    spend_free(s);
}

#define RACE_THREADS 4
#define RACE_ROUNDS  200000
#define RACE_LIMIT   100

struct race {
    struct spend *s;
    _Atomic uint64_t held; /* sum reserved and not released, all threads */
    _Atomic int over;      /* held ever above the limit */
    _Atomic uint64_t admitted;
    _Atomic int go; /* start together */
};

/* Per-token windows: one hour and one day per name, each made when the name first has that limit,
 * kept when asked again (a reload), each counting on its own; the limit is the caller's (a reload
 * may lower it below what the window already holds). */
static void test_tokens(void)
{
    struct spend_tokens *st = spend_tokens_new();
    CHECK(st != NULL);
    CHECK(spend_tokens_find(st, "a", 1) == NULL);
    CHECK(spend_tokens_get(st, "a", 1, 0, 0) == NULL);  /* no limit: no window */
    CHECK(spend_tokens_get(st, "", 0, 100, 0) == NULL); /* no name */
    struct spend_token *ta = spend_tokens_get(st, "alpha", 5, 100, 0);
    struct spend_token *tb = spend_tokens_get(st, "beta", 4, 50, 0);
    CHECK(ta != NULL && tb != NULL && ta != tb && ta->day == NULL);
    struct spend *a = ta->hour, *b = tb->hour;
    CHECK(a != NULL && b != NULL && a != b);
    CHECK(spend_tokens_get(st, "alpha", 5, 70, 0) == ta && ta->hour == a); /* same window */
    CHECK(spend_tokens_find(st, "alpha", 5) == ta);
    CHECK(spend_tokens_find(st, "alph", 4) == NULL);
    CHECK(spend_tokens_count(st) == 2);
    /* A day limit added later (a reload): the day window appears, the hour stays. */
    CHECK(spend_tokens_get(st, "beta", 4, 50, 500) == tb && tb->hour == b && tb->day != NULL);
    CHECK_EQ_INT((int)spend_window_s(tb->day), 86400);
    struct spend_token *td = spend_tokens_get(st, "delta", 5, 0, 9); /* a day only */
    CHECK(td != NULL && td->hour == NULL && td->day != NULL);
    uint64_t stamp;
    uint32_t retry;
    CHECK_EQ_INT(spend_reserve_limit(a, 100, 60, T0, &stamp, &retry), 0);
    CHECK_EQ_INT(spend_reserve_limit(a, 100, 40, T0 + 5000, &stamp, &retry), 0);
    CHECK_EQ_INT(spend_reserve_limit(a, 100, 1, T0 + 6000, &stamp, &retry), NF_EFULL);
    CHECK_EQ_INT((int)retry, 3600 - 6);
    CHECK_EQ_INT(spend_reserve_limit(a, 100, 101, T0 + 6000, &stamp, &retry), NF_ERANGE);
    CHECK(eq128(spend_remaining_limit(b, 50, T0 + 6000), 50)); /* beta untouched */
    CHECK_EQ_INT(spend_reserve_limit(b, 50, 50, T0 + 6000, &stamp, &retry), 0);
    /* A lower limit after a reload: the window holds 100 > 80; 10 fits once 30 has expired,
     * i.e. when the first slot (60) goes at T0 + 1 h. */
    CHECK(eq128(spend_remaining_limit(a, 80, T0 + 7000), 0));
    CHECK_EQ_INT(spend_reserve_limit(a, 80, 10, T0 + 7000, &stamp, &retry), NF_EFULL);
    CHECK_EQ_INT((int)retry, 3600 - 7);
    /* A higher one: room at once. */
    CHECK_EQ_INT(spend_reserve_limit(a, 150, 50, T0 + 7000, &stamp, &retry), 0);
    CHECK(eq128(spend_remaining_limit(a, 150, T0 + 7000), 0));
    /* Replay: records of the last hour count. */
    struct spend *c = spend_tokens_get(st, "gamma", 5, 10, 0)->hour;
    spend_replay(c, T0 - HOUR_MS, 10, T0); /* an hour old: ignored */
    spend_replay(c, T0 - 1000, 7, T0);
    CHECK(eq128(spend_remaining_limit(c, 10, T0), 3));
    CHECK_EQ_INT(spend_reserve_limit(c, 10, 4, T0, &stamp, &retry), NF_EFULL);
    /* Many names: the index grows, windows stay where they were. */
    char name[8];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "t%d", i);
        CHECK(spend_tokens_get(st, name, strlen(name), 5, 5) != NULL);
    }
    CHECK(spend_tokens_find(st, "alpha", 5) == ta && ta->hour == a);
    CHECK(spend_tokens_find(st, "t39", 3) != NULL);
    CHECK(spend_tokens_count(st) == 44);
    spend_tokens_free(st);
    spend_tokens_free(NULL);
}

static void *race_main(void *arg)
{
    struct race *r = arg;
    uint64_t now = T0;
    while (!atomic_load(&r->go))
        ;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        uint64_t st;
        uint32_t retry;
        uint64_t amount = 20 + (uint64_t)(i % 5) * 10; /* 2 to 5 fit: the limit binds */
        if (spend_reserve(r->s, amount, now, &st, &retry) != 0)
            continue;
        /* Count before checking: a reservation must never push the window past the limit. */
        uint64_t h = atomic_fetch_add(&r->held, amount) + amount;
        if (h > RACE_LIMIT)
            atomic_store(&r->over, 1);
        atomic_fetch_add(&r->admitted, 1);
        atomic_fetch_sub(&r->held, amount);
        spend_release(r->s, st, amount); /* as for a refused log write */
    }
    return NULL;
}

static void test_race(void)
{
    struct race r;
    memset(&r, 0, sizeof(r));
    r.s = spend_new(RACE_LIMIT);
    pthread_t th[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++)
        CHECK_EQ_INT(pthread_create(&th[i], NULL, race_main, &r), 0);
    atomic_store(&r.go, 1);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(atomic_load(&r.over), 0);
    CHECK(atomic_load(&r.admitted) > 0);
    /* Everything was given back: the whole budget is there again. */
    CHECK(eq128(spend_remaining(r.s, T0), RACE_LIMIT));
    spend_free(r.s);
}

int main(void)
{
    test_window();
    test_replay();
    test_day();
    test_unlimited();
    test_tokens();
    test_race();
    return nf_test_report("test_spend");
}
