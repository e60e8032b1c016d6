/* breaker: one circuit breaker per RPC endpoint (closed -> open -> half-open -> closed), driven by
 * a sliding window of request outcomes. Pure state machine over caller-supplied times, so it is
 * unit-tested without clocks. Owned by the submit thread; the state and transition counters are
 * atomics so /metrics and /health can read them from any thread.
 *  - closed: every request allowed; when the window holds >= min_requests outcomes and the error
 *    share reaches error_rate percent, it opens.
 *  - open: nothing allowed until cooldown_ms has passed, then half-open.
 *  - half-open: up to `probes` requests allowed; `probes` successes close it, one error re-opens.
 * Latency is a factor: an answer slower than slow_ms (0 = off) counts as an error, so an endpoint
 * that still answers but crawls is treated like one that fails. */
#ifndef NF_BREAKER_H
#define NF_BREAKER_H

#include <stdatomic.h>
#include <stdint.h>

enum breaker_state_e {
    BREAKER_CLOSED = 0,
    BREAKER_OPEN = 1,
    BREAKER_HALF_OPEN = 2,
};

#define BREAKER_BUCKETS 10

struct breaker {
    unsigned error_rate; /* percent 1..100 */
    uint32_t window_ms, min_requests, cooldown_ms, probes;
    uint32_t slow_ms; /* answers at least this slow count as errors; 0 = latency ignored */
    _Atomic int state;
    _Atomic uint64_t opened_at_ms; /* read by breaker_state on other threads */
    uint32_t probes_sent, probes_ok;
    uint64_t bucket_start[BREAKER_BUCKETS];
    uint32_t ok[BREAKER_BUCKETS], err[BREAKER_BUCKETS];
    _Atomic uint64_t opens, closes;
};

void breaker_init(struct breaker *b,
                  unsigned error_rate,
                  uint32_t window_ms,
                  uint32_t min_requests,
                  uint32_t cooldown_ms,
                  uint32_t probes,
                  uint32_t slow_ms);
/* breaker_allow: may a request go now? (moves open -> half-open after the cool-down) */
int breaker_allow(struct breaker *b, uint64_t now_ms);
/* breaker_on_request: a request was sent (counts half-open probes). */
void breaker_on_request(struct breaker *b, uint64_t now_ms);
/* breaker_on_result: its outcome: bad != 0 for transport errors, 5xx, 429, malformed; an answer
 * whose latency_ms >= slow_ms (when slow_ms != 0) is bad too. Pass latency_ms 0 for requests whose
 * latency is not the endpoint's doing (a send_tx waiting for blocks). */
void breaker_on_result(struct breaker *b, uint64_t now_ms, int bad, uint64_t latency_ms);
/* breaker_state: current state (any thread); now_ms lets an expired open read as half-open. */
int breaker_state(const struct breaker *b, uint64_t now_ms);
uint64_t breaker_opens(const struct breaker *b);
uint64_t breaker_closes(const struct breaker *b);
const char *breaker_state_name(int state);

#endif
