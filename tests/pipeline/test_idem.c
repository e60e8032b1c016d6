/* test_idem: the idempotency index (src/pipeline/idem.c) with synthetic times. Insert and look up;
 * a full index refuses while its oldest entry must be kept and says when it may go; an entry is
 * dropped only once it is both final and older than the keep time (never while unfinished, however
 * old); forgotten entries free their key at once and their slot when they are the oldest; the
 * table stays consistent over many wraps of the ring (backward-shift deletion, checked against a
 * model); a replay in log order rebuilds what the running index held, replaces a key the log holds
 * twice, and counts promised keys it had no room for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idem.h"
#include "nf_err.h"
#include "nf_test.h"

#define HOUR_MS 3600000ull
#define T0      1700000000000ull /* a wall-clock time in ms */

static void key_of(uint64_t n, uint8_t key[16])
{
    char s[32];
    int len = snprintf(s, sizeof(s), "order-%llu", (unsigned long long)n);
    idem_key_hash(s, (size_t)len, key);
}

static void test_insert_lookup(void)
{
    struct idem_index x;
    CHECK_EQ_INT(idem_init(&x, 8, idem_keep_ms(1)), 0);
    CHECK_EQ_INT(x.keep_ms, HOUR_MS + IDEM_MARGIN_MS);
    CHECK_EQ_INT(idem_keep_ms(0), 0);
    uint8_t k1[16], k2[16], k1b[16];
    key_of(1, k1);
    key_of(2, k2);
    idem_key_hash("order-1", 7, k1b);
    CHECK(memcmp(k1, k1b, 16) == 0);
    CHECK(idem_find(&x, k1) == NULL);
    CHECK_EQ_INT(idem_room(&x), 8);
    CHECK_EQ_INT(idem_reserve(&x, 2, T0, NULL), 0);
    uint32_t s1 = idem_insert(&x, k1, 101, 0x1111, 0xAAu, T0);
    uint32_t s2 = idem_insert(&x, k2, 102, 0x2222, 0xBBu, T0 + 1500);
    CHECK(s1 != s2 && s1 < 8 && s2 < 8);
    const struct idem_entry *e = idem_find(&x, k1);
    CHECK(e != NULL && e->id == 101 && e->body_hash == 0xAAu && e->status == IDEM_OPEN);
    CHECK(e != NULL && e->id_tag == 0x1111); /* a repeat answers the original's public id */
    CHECK(e != NULL && e->accept_s == T0 / 1000);
    e = idem_find(&x, k2);
    CHECK(e != NULL && e->id == 102 && e->accept_s == (T0 + 1500) / 1000);
    CHECK_EQ_INT(atomic_load(&x.keys), 2);
    CHECK_EQ_INT(idem_room(&x), 6);
    /* Final status only for the id the slot still holds. */
    idem_set_final(&x, s1, 999, IDEM_EXECUTED);
    CHECK_EQ_INT(idem_find(&x, k1)->status, IDEM_OPEN);
    idem_set_final(&x, s1, 101, IDEM_EXECUTED);
    CHECK_EQ_INT(idem_find(&x, k1)->status, IDEM_EXECUTED);
    idem_set_final(&x, s2, 102, IDEM_FAILED_RECEIVER);
    CHECK_EQ_INT(idem_find(&x, k2)->status, IDEM_FAILED_RECEIVER);
    /* A failed write forgets its key (only while it names that transfer). */
    idem_forget(&x, k1, 555);
    CHECK(idem_find(&x, k1) != NULL);
    idem_forget(&x, k1, 101);
    CHECK(idem_find(&x, k1) == NULL);
    CHECK(idem_find(&x, k2) != NULL);
    CHECK_EQ_INT(atomic_load(&x.keys), 1);
    /* Out-of-range capacities are refused. */
    struct idem_index y;
    CHECK_EQ_INT(idem_init(&y, 0, 0), NF_EINVAL);
    CHECK_EQ_INT(idem_init(&y, IDEM_CAPACITY_MAX + 1u, 0), NF_EINVAL);
    idem_destroy(&y);
    CHECK_EQ_INT(idem_index_bytes(4194304), 4194304ull * 48 + 8388608ull * 4); /* 192 MiB */
    idem_destroy(&x);
    idem_destroy(&x); /* twice is harmless */
}

/* Full of keys that must be kept: refused with a Retry-After; expiry only when final AND old. */
static void test_full_and_expiry(void)
{
    struct idem_index x;
    const uint64_t keep = idem_keep_ms(1);
    CHECK_EQ_INT(idem_init(&x, 4, keep), 0);
    uint8_t k[8][16];
    uint32_t slot[8];
    for (int i = 0; i < 8; i++)
        key_of((uint64_t)i, k[i]);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(idem_reserve(&x, 1, T0 + (uint64_t)i * 1000, NULL), 0);
        slot[i] = idem_insert(&x, k[i], 10 + (uint64_t)i, 0, 0, T0 + (uint64_t)i * 1000);
    }
    CHECK_EQ_INT(idem_room(&x), 0);
    CHECK_EQ_INT(idem_insert(&x, k[4], 14, 0, 0, T0), UINT32_MAX); /* no reserve, no room */

    /* Old enough, but the oldest transfer is not final: refused, retry in 1 s. */
    uint32_t retry = 0;
    uint64_t late = T0 + 10 * HOUR_MS;
    CHECK_EQ_INT(idem_reserve(&x, 1, late, &retry), NF_EFULL);
    CHECK_EQ_INT(retry, 1);
    CHECK_EQ_INT(atomic_load(&x.refused), 1);
    CHECK(idem_find(&x, k[0]) != NULL);

    /* Final, but young: refused, retry when it turns old (whole seconds, rounded up). */
    idem_set_final(&x, slot[0], 10, IDEM_EXECUTED);
    uint64_t now = T0 + 30000;
    CHECK_EQ_INT(idem_reserve(&x, 1, now, &retry), NF_EFULL);
    uint64_t may_go = (T0 / 1000 + 1) * 1000 + keep;
    CHECK_EQ_INT(retry, (may_go - now + 999) / 1000);
    CHECK(!idem_may_drop(&x, idem_find(&x, k[0]), may_go - 1));
    CHECK(idem_may_drop(&x, idem_find(&x, k[0]), may_go));
    /* One moment before: still kept. */
    CHECK_EQ_INT(idem_reserve(&x, 1, may_go - 1, NULL), NF_EFULL);
    CHECK(idem_find(&x, k[0]) != NULL);
    CHECK_EQ_INT(atomic_load(&x.refused), 3);

    /* Old and final: dropped to make room, counted as expired. */
    CHECK_EQ_INT(idem_reserve(&x, 1, may_go, NULL), 0);
    CHECK(idem_find(&x, k[0]) == NULL);
    CHECK_EQ_INT(atomic_load(&x.expired), 1);
    slot[4] = idem_insert(&x, k[4], 14, 0, 0, may_go);
    CHECK(slot[4] == slot[0]); /* the ring slot was reused */
    CHECK(idem_find(&x, k[4]) != NULL && idem_find(&x, k[4])->id == 14);

    /* Two needed, the second-oldest (k1) final and old but k2 unfinished: k1 goes, k2 stays and
     * the request is refused (nothing is inserted by the caller). */
    idem_set_final(&x, slot[1], 11, IDEM_FAILED);
    CHECK_EQ_INT(idem_reserve(&x, 2, late, &retry), NF_EFULL);
    CHECK(idem_find(&x, k[1]) == NULL);
    CHECK(idem_find(&x, k[2]) != NULL);
    CHECK_EQ_INT(idem_room(&x), 1);
    CHECK_EQ_INT(atomic_load(&x.keys), 3);
    /* More than the capacity can never fit. */
    CHECK_EQ_INT(idem_reserve(&x, 5, late, NULL), NF_EFULL);

    /* A forgotten entry frees its slot when it is the oldest, final or not. */
    idem_forget(&x, k[2], 12);
    CHECK_EQ_INT(idem_reserve(&x, 2, T0, NULL), 0);
    CHECK_EQ_INT(idem_room(&x), 2);
    CHECK_EQ_INT(atomic_load(&x.expired), 2); /* k1 only: a forgotten key is not "expired" */
    idem_destroy(&x);

    /* --retention-hours 0: a key is kept until its transfer is final, then only while there is
     * room. */
    CHECK_EQ_INT(idem_init(&x, 2, idem_keep_ms(0)), 0);
    slot[0] = idem_insert(&x, k[0], 1, 0, 0, T0);
    slot[1] = idem_insert(&x, k[1], 2, 0, 0, T0);
    CHECK_EQ_INT(idem_reserve(&x, 1, T0 + 1000, NULL), NF_EFULL);
    idem_set_final(&x, slot[0], 1, IDEM_EXECUTED);
    CHECK_EQ_INT(idem_reserve(&x, 1, T0 + 1000, NULL), 0);
    CHECK(idem_find(&x, k[0]) == NULL && idem_find(&x, k[1]) != NULL);
    idem_destroy(&x);
}

/* Many wraps of a small ring against a model: every live key is found with its id, every dropped
 * key is gone (backward-shift deletion never loses a probe run). Keys are inserted, some
 * forgotten, all finalised; the clock moves past the keep time so the ring drops its oldest. */
static void test_wraps_against_model(void)
{
    enum { CAP = 97, N = 20000 };
    struct idem_index x;
    CHECK_EQ_INT(idem_init(&x, CAP, 0), 0);
    static uint64_t live_id[N]; /* model: 0 = not in the index */
    static uint32_t slot_of[N];
    uint32_t order[CAP]; /* model of the ring: key numbers oldest first */
    uint32_t first = 0, count = 0;
    int bad = 0;
    uint64_t now = T0;
    for (uint32_t n = 0; n < N; n++) {
        uint8_t key[16];
        key_of(n, key);
        now += 1000;
        if (count == CAP) { /* the oldest leaves (all are final, keep time 0) */
            live_id[order[first]] = 0;
            first = (first + 1) % CAP;
            count--;
        }
        if (idem_reserve(&x, 1, now, NULL) != 0)
            bad++;
        slot_of[n] = idem_insert(&x, key, n + 1, 0, n, now);
        idem_set_final(&x, slot_of[n], n + 1, IDEM_EXECUTED);
        live_id[n] = n + 1;
        order[(first + count) % CAP] = n;
        count++;
        if (n % 7 == 3) { /* a failed write: forgotten at once, its slot stays until oldest */
            idem_forget(&x, key, n + 1);
            live_id[n] = 0;
        }
        if (n % 101 == 0 || n == N - 1) {
            for (uint32_t m = 0; m <= n; m++) {
                uint8_t km[16];
                key_of(m, km);
                const struct idem_entry *e = idem_find(&x, km);
                if (live_id[m] == 0 ? e != NULL : (e == NULL || e->id != live_id[m]))
                    bad++;
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    uint64_t live = 0;
    for (uint32_t n = 0; n < N; n++)
        live += live_id[n] != 0;
    CHECK_EQ_INT(atomic_load(&x.keys), live);
    idem_destroy(&x);
}

/* Replay: keys in log order, finals applied as their records come, gives back what the running
 * index held; a key twice in the log keeps the later transfer; a smaller index counts the
 * promised keys it could not hold. */
static void test_rebuild(void)
{
    const uint64_t keep = idem_keep_ms(1);
    struct idem_index run, re;
    CHECK_EQ_INT(idem_init(&run, 16, keep), 0);
    CHECK_EQ_INT(idem_init(&re, 16, keep), 0);
    /* The running index: 40 keys over 40 hours, each final 10 minutes after its accept; the
     * log: the same keys in the same order (ACCEPT), with their JOB_FINAL records. */
    struct {
        int kind; /* 0 ACCEPT, 1 JOB_FINAL */
        uint64_t n, ms;
    } log[80];
    int nlog = 0;
    uint32_t run_slot[40];
    for (uint64_t n = 0; n < 40; n++) {
        uint64_t at = T0 + n * HOUR_MS;
        uint8_t key[16];
        key_of(n, key);
        /* finals of earlier keys land before this accept */
        for (uint64_t m = 0; m < n; m++)
            if (T0 + m * HOUR_MS + 600000 < at && T0 + m * HOUR_MS + 600000 >= at - HOUR_MS) {
                idem_set_final(&run, run_slot[m], m + 1, IDEM_EXECUTED);
                log[nlog].kind = 1;
                log[nlog].n = m;
                log[nlog++].ms = T0 + m * HOUR_MS + 600000;
            }
        CHECK_EQ_INT(idem_reserve(&run, 1, at, NULL), 0);
        run_slot[n] = idem_insert(&run, key, n + 1, 0, 7 * n, at);
        log[nlog].kind = 0;
        log[nlog].n = n;
        log[nlog++].ms = at;
    }
    uint64_t now = T0 + 40 * HOUR_MS;
    uint64_t dropped = 0;
    uint32_t re_slot[40];
    for (int i = 0; i < nlog; i++) {
        uint8_t key[16];
        key_of(log[i].n, key);
        if (log[i].kind == 0)
            re_slot[log[i].n] = idem_replay_insert(&re, key, log[i].n + 1, 0, 7 * log[i].n,
                                                   log[i].ms, now, &dropped);
        else
            idem_set_final(&re, re_slot[log[i].n], log[i].n + 1, IDEM_EXECUTED);
    }
    CHECK_EQ_INT(dropped, 0);
    int same = 1;
    for (uint64_t n = 0; n < 40; n++) {
        uint8_t key[16];
        key_of(n, key);
        const struct idem_entry *a = idem_find(&run, key), *b = idem_find(&re, key);
        if ((a == NULL) != (b == NULL) ||
            (a && (a->id != b->id || a->status != b->status || a->body_hash != b->body_hash ||
                   a->accept_s != b->accept_s)))
            same = 0;
    }
    CHECK(same);
    CHECK_EQ_INT(atomic_load(&re.keys), atomic_load(&run.keys));
    /* The newest key is there, unfinished; the oldest ones are gone. */
    uint8_t k39[16], k0[16];
    key_of(39, k39);
    key_of(0, k0);
    CHECK(idem_find(&re, k39) != NULL && idem_find(&re, k39)->status == IDEM_OPEN);
    CHECK(idem_find(&re, k0) == NULL);

    /* The same key accepted again after it was dropped: the later transfer wins. */
    uint8_t k5[16];
    key_of(5, k5);
    idem_replay_insert(&re, k5, 500, 0x500, 1, now, now, &dropped);
    CHECK(idem_find(&re, k5) != NULL && idem_find(&re, k5)->id == 500);
    idem_replay_insert(&re, k5, 501, 0x501, 1, now, now, &dropped);
    CHECK(idem_find(&re, k5) != NULL && idem_find(&re, k5)->id == 501 &&
          idem_find(&re, k5)->id_tag == 0x501);

    /* A smaller index than the log was written with: the young keys it loses are counted. */
    struct idem_index small;
    CHECK_EQ_INT(idem_init(&small, 4, keep), 0);
    dropped = 0;
    for (uint64_t n = 0; n < 10; n++) {
        uint8_t key[16];
        key_of(1000 + n, key);
        idem_replay_insert(&small, key, n + 1, 0, 0, now - 60000 + n, now, &dropped);
    }
    CHECK_EQ_INT(dropped, 6);
    CHECK_EQ_INT(atomic_load(&small.keys), 4);
    idem_destroy(&small);
    idem_destroy(&run);
    idem_destroy(&re);
}

int main(void)
{
    test_insert_lookup();
    test_full_and_expiry();
    test_wraps_against_model();
    test_rebuild();
    return nf_test_report("test_idem");
}
