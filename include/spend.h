/* spend: the rolling spend budgets: the hour (--max-amount-per-hour; a window of SPEND_WINDOW_S
 * one-second slots, each holding the sum of the amounts accepted in that second) and the day
 * (--max-amount-per-day; SPEND_DAY_S / SPEND_DAY_SLOT_S one-minute slots, so an amount leaves it
 * between 23 h 59 min and 24 h after it was accepted). The budget is the limit minus the sum of
 * the slots still in the window. Ingest threads reserve a request's
 * whole amount before it goes to the log and give it back when the log refuses it or the request
 * turns out to be an idempotent repeat; recovery rebuilds the window from the log's ACCEPT records
 * (ts_ms, amount) before any ingest thread starts, so a restart does not reset it. The same
 * window serves a bearer token's own max_amount_per_hour (spend_tokens below): one per token
 * NAME, replayed from the ACCEPT records that carry that name.
 *
 * Concurrency: every call takes the window's mutex for a few dozen instructions (amortised O(1)
 * slot expiry plus a u128 compare and add). A u128 sum has no portable lock-free form, and a
 * request must see every reservation made before it, or two threads could both fit under the
 * limit; the lock is taken only when a limit is set. Any thread. No allocation after spend_new. */
#ifndef NF_SPEND_H
#define NF_SPEND_H

#include <stdint.h>

#include "u128.h"

#define SPEND_WINDOW_S   3600u  /* the hour: one-second slots */
#define SPEND_DAY_S      86400u /* the day ... */
#define SPEND_DAY_SLOT_S 60u    /* ... in one-minute slots */

struct spend;

/* spend_new_window: a window of window_s seconds counted in slots of slot_s seconds (window_s a
 * multiple of slot_s, both > 0), with the given limit (0: no limit; spend_reserve always admits).
 * NULL on allocation failure or bad sizes. The caller owns it (spend_free). Start-up thread. */
struct spend *spend_new_window(nf_u128 limit, uint32_t window_s, uint32_t slot_s);

/* spend_new: the hour's window, spend_new_window(limit, SPEND_WINDOW_S, 1). */
struct spend *spend_new(nf_u128 limit);

/* spend_window_s: the window's length in seconds. Any thread. */
uint32_t spend_window_s(const struct spend *s);

/* spend_free: NULL-safe. After every user stopped. */
void spend_free(struct spend *s);

/* spend_limit: the configured limit (0: none). Any thread. */
nf_u128 spend_limit(const struct spend *s);

/* spend_replay: counts amount as accepted at wall-clock ts_ms, as seen at now_ms. Records older
 * than the window are ignored; a ts_ms in the future (clock stepped back) counts as now. Never
 * refuses: the log says it was accepted. Start-up (recovery), before spend_reserve is used. */
void spend_replay(struct spend *s, uint64_t ts_ms, nf_u128 amount, uint64_t now_ms);

/* spend_reserve: admits amount at now_ms when the window's sum plus amount stays within the
 * limit, and counts it. Returns 0 and sets *stamp_s (pass it to spend_release); NF_EFULL when it
 * does not fit now, with *retry_s the seconds until enough of the window has expired for it to
 * fit (at least 1); NF_ERANGE when amount alone is over the limit (it never fits). Any thread. */
int spend_reserve(
    struct spend *s, nf_u128 amount, uint64_t now_ms, uint64_t *stamp_s, uint32_t *retry_s);

/* spend_release: gives back amount reserved at stamp_s (a refused or repeated request). A slot
 * that has expired meanwhile is left alone. Any thread. */
void spend_release(struct spend *s, uint64_t stamp_s, nf_u128 amount);

/* spend_remaining: the limit minus the window's sum at now_ms (0 when no limit is set). Any
 * thread (metrics). */
nf_u128 spend_remaining(struct spend *s, uint64_t now_ms);

/* spend_reserve_limit / spend_remaining_limit: as spend_reserve / spend_remaining against limit
 * instead of the one given to spend_new. A token's window keeps its sums across a token-file
 * reload while its limit comes from the token table in use (a reload may change it). */
int spend_reserve_limit(struct spend *s,
                        nf_u128 limit,
                        nf_u128 amount,
                        uint64_t now_ms,
                        uint64_t *stamp_s,
                        uint32_t *retry_s);
nf_u128 spend_remaining_limit(struct spend *s, nf_u128 limit, uint64_t now_ms);

/* ---- per-token windows ------------------------------------------------------------------------
 * spend_tokens: the windows of each bearer-token NAME with a max_amount_per_hour or a
 * max_amount_per_day in the token file, keyed by the name so that a token-file reload keeps a
 * token's budgets. Windows are created by spend_tokens_get on the main thread (start-up, SIGHUP)
 * and live until spend_tokens_free, so a pointer handed to ingest threads never dangles; a name
 * dropped by a reload keeps its windows (and gets them back if it returns). The index (names ->
 * windows) is touched only by the main thread; the windows themselves by any thread, as above. */
#define SPEND_TOKEN_NAME_MAX 64 /* AUTH_NAME_MAX */

/* The windows of one token NAME: its hour (spend_new) and its day (SPEND_DAY_S in
 * SPEND_DAY_SLOT_S slots), each NULL until the token has that limit. Owned by the set. */
struct spend_token {
    struct spend *hour;
    struct spend *day;
};

struct spend_tokens;

/* spend_tokens_new: an empty set. NULL on allocation failure. Main thread. */
struct spend_tokens *spend_tokens_new(void);

/* spend_tokens_free: frees the set and every window. NULL-safe. After every user stopped. */
void spend_tokens_free(struct spend_tokens *st);

/* spend_tokens_get: the windows of the token name[0..len) (1..SPEND_TOKEN_NAME_MAX bytes), with
 * an empty hour window created when hour_limit is not 0 and the name has none yet, and the same
 * for the day (a limit is then the window's replay limit). NULL on allocation failure, a bad
 * length, or both limits 0. The result stays owned by the set. Main thread. */
struct spend_token *spend_tokens_get(
    struct spend_tokens *st, const char *name, size_t len, nf_u128 hour_limit, nf_u128 day_limit);

/* spend_tokens_find: the windows of name[0..len), or NULL (no such token has a budget). Main
 * thread (recovery replays ACCEPT records into them). */
struct spend_token *spend_tokens_find(const struct spend_tokens *st, const char *name, size_t len);

/* spend_tokens_count: how many windows the set holds. */
size_t spend_tokens_count(const struct spend_tokens *st);

#endif
