/* spend: the rolling-hour spend budget (--max-amount-per-hour). A window of SPEND_WINDOW_S
 * one-second slots, each holding the sum of the amounts accepted in that second; the budget is
 * the limit minus the sum of the slots younger than an hour. Ingest threads reserve a request's
 * whole amount before it goes to the log and give it back when the log refuses it or the request
 * turns out to be an idempotent repeat; recovery rebuilds the window from the log's ACCEPT records
 * (ts_ms, amount) before any ingest thread starts, so a restart does not reset it.
 *
 * Concurrency: every call takes the window's mutex for a few dozen instructions (amortised O(1)
 * slot expiry plus a u128 compare and add). A u128 sum has no portable lock-free form, and a
 * request must see every reservation made before it, or two threads could both fit under the
 * limit; the lock is taken only when a limit is set. Any thread. No allocation after spend_new. */
#ifndef NF_SPEND_H
#define NF_SPEND_H

#include <stdint.h>

#include "u128.h"

#define SPEND_WINDOW_S 3600u /* the window: one hour of one-second slots */

struct spend;

/* spend_new: a window with the given limit (0: no limit; spend_reserve always admits). NULL on
 * allocation failure. The caller owns it (spend_free). Start-up thread. */
struct spend *spend_new(nf_u128 limit);

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

#endif
