/* test_breaker: the circuit breaker state machine (include/breaker.h) over synthetic times:
 * opening on the error share of the sliding window, the min_requests floor, the window forgetting
 * old outcomes, cool-down, half-open probe accounting, re-opening on a failed probe, the latency
 * factor, late answers while open, and the transition counters. */
#include "breaker.h"
#include "nf_test.h"

/* feed: n outcomes at time t (each counted as a request first, as the submit stage does). */
static void feed(struct breaker *b, uint64_t t, unsigned n, int bad, uint64_t lat)
{
    for (unsigned i = 0; i < n; i++) {
        breaker_on_request(b, t);
        breaker_on_result(b, t, bad, lat);
    }
}

static void test_opens_on_error_share(void)
{
    struct breaker b;
    /* 50 %, 1000 ms window, at least 10 outcomes, 500 ms cool-down, 2 probes, latency off */
    breaker_init(&b, 50, 1000, 10, 500, 2, 0);
    CHECK_EQ_INT(breaker_state(&b, 0), BREAKER_CLOSED);
    CHECK(breaker_allow(&b, 0));
    /* 10 ok, then 9 errors: 9 / 19 < 50 % */
    feed(&b, 100, 10, 0, 1);
    feed(&b, 110, 9, 1, 1);
    CHECK_EQ_INT(breaker_state(&b, 110), BREAKER_CLOSED);
    /* one more error: 10 / 20 = 50 % -> open */
    feed(&b, 120, 1, 1, 1);
    CHECK_EQ_INT(breaker_state(&b, 120), BREAKER_OPEN);
    CHECK_EQ_INT(breaker_opens(&b), 1);
    CHECK_EQ_INT(breaker_closes(&b), 0);
    CHECK(!breaker_allow(&b, 120));
    CHECK(!breaker_allow(&b, 619));
    /* an answer to a request sent before it opened changes nothing */
    breaker_on_result(&b, 300, 0, 1);
    CHECK_EQ_INT(breaker_state(&b, 300), BREAKER_OPEN);
    /* after the cool-down it reads as half-open and lets exactly `probes` requests through */
    CHECK_EQ_INT(breaker_state(&b, 620), BREAKER_HALF_OPEN);
    CHECK(breaker_allow(&b, 620));
    breaker_on_request(&b, 620);
    CHECK(breaker_allow(&b, 621));
    breaker_on_request(&b, 621);
    CHECK(!breaker_allow(&b, 622));
    /* first probe ok: still half-open; second ok: closed */
    breaker_on_result(&b, 630, 0, 1);
    CHECK_EQ_INT(breaker_state(&b, 630), BREAKER_HALF_OPEN);
    breaker_on_result(&b, 640, 0, 1);
    CHECK_EQ_INT(breaker_state(&b, 640), BREAKER_CLOSED);
    CHECK_EQ_INT(breaker_closes(&b), 1);
    CHECK(breaker_allow(&b, 641));
    /* the errors from before the opening are forgotten: 1 error does not re-open it */
    feed(&b, 650, 1, 1, 1);
    CHECK_EQ_INT(breaker_state(&b, 650), BREAKER_CLOSED);
}

static void test_min_requests(void)
{
    struct breaker b;
    breaker_init(&b, 50, 1000, 10, 500, 1, 0);
    feed(&b, 100, 9, 1, 1); /* 100 % errors but only 9 outcomes: stays closed */
    CHECK_EQ_INT(breaker_state(&b, 100), BREAKER_CLOSED);
    feed(&b, 100, 1, 1, 1);
    CHECK_EQ_INT(breaker_state(&b, 100), BREAKER_OPEN);
}

static void test_failed_probe_reopens(void)
{
    struct breaker b;
    breaker_init(&b, 50, 1000, 4, 200, 3, 0);
    feed(&b, 10, 4, 1, 1);
    CHECK_EQ_INT(breaker_state(&b, 10), BREAKER_OPEN);
    CHECK(breaker_allow(&b, 210)); /* -> half-open */
    breaker_on_request(&b, 210);
    breaker_on_result(&b, 215, 0, 1);
    breaker_on_request(&b, 216);
    breaker_on_result(&b, 220, 1, 1); /* a probe fails: open again, cool-down restarts */
    CHECK_EQ_INT(breaker_state(&b, 220), BREAKER_OPEN);
    CHECK_EQ_INT(breaker_opens(&b), 2);
    CHECK(!breaker_allow(&b, 419));
    CHECK(breaker_allow(&b, 420));
    CHECK_EQ_INT(breaker_state(&b, 420), BREAKER_HALF_OPEN);
    /* the probe budget starts afresh in the new half-open period */
    feed(&b, 421, 3, 0, 1);
    CHECK_EQ_INT(breaker_state(&b, 421), BREAKER_CLOSED);
    CHECK_EQ_INT(breaker_closes(&b), 1);
}

static void test_window_slides(void)
{
    struct breaker b;
    breaker_init(&b, 50, 1000, 10, 500, 1, 0);
    /* 9 errors at t=0..; a second later they have left the window */
    feed(&b, 0, 9, 1, 1);
    CHECK_EQ_INT(breaker_state(&b, 0), BREAKER_CLOSED);
    feed(&b, 1500, 9, 0, 1);
    feed(&b, 1500, 1, 1, 1); /* 1 err / 10 in the window */
    CHECK_EQ_INT(breaker_state(&b, 1500), BREAKER_CLOSED);
    /* inside one window they add up: the 8th new error makes 9 of 18 (50 %) */
    feed(&b, 1600, 9, 1, 1);
    CHECK_EQ_INT(breaker_state(&b, 1600), BREAKER_OPEN);
}

static void test_latency_counts(void)
{
    struct breaker b;
    /* answers of 300 ms or slower count as errors */
    breaker_init(&b, 50, 1000, 6, 100, 1, 300);
    feed(&b, 10, 5, 0, 299);
    CHECK_EQ_INT(breaker_state(&b, 10), BREAKER_CLOSED);
    feed(&b, 20, 5, 0, 300); /* "successes", but slow: 5 / 10 */
    CHECK_EQ_INT(breaker_state(&b, 20), BREAKER_OPEN);
    /* a slow probe keeps it open */
    CHECK(breaker_allow(&b, 120));
    breaker_on_request(&b, 120);
    breaker_on_result(&b, 130, 0, 5000);
    CHECK_EQ_INT(breaker_state(&b, 130), BREAKER_OPEN);
    /* a fast probe closes it */
    CHECK(breaker_allow(&b, 230));
    breaker_on_request(&b, 230);
    breaker_on_result(&b, 231, 0, 1);
    CHECK_EQ_INT(breaker_state(&b, 231), BREAKER_CLOSED);
    /* latency 0 (not the endpoint's doing) never counts */
    struct breaker c;
    breaker_init(&c, 50, 1000, 2, 100, 1, 0);
    feed(&c, 10, 10, 0, 100000);
    CHECK_EQ_INT(breaker_state(&c, 10), BREAKER_CLOSED);
}

static void test_names_and_defaults(void)
{
    CHECK_EQ_STR(breaker_state_name(BREAKER_CLOSED), "closed");
    CHECK_EQ_STR(breaker_state_name(BREAKER_OPEN), "open");
    CHECK_EQ_STR(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
    CHECK_EQ_STR(breaker_state_name(7), "?");
    struct breaker b;
    breaker_init(&b, 0, 0, 0, 0, 0, 0); /* zero means the documented defaults */
    CHECK_EQ_INT(b.error_rate, 50);
    CHECK_EQ_INT(b.window_ms, 10000);
    CHECK_EQ_INT(b.probes, 1);
    /* min_requests 0: the very first error (100 %) opens; cool-down 0: half-open at once */
    feed(&b, 5, 1, 1, 1);
    CHECK_EQ_INT(breaker_opens(&b), 1);
    CHECK_EQ_INT(breaker_state(&b, 5), BREAKER_HALF_OPEN);
}

int main(void)
{
    test_opens_on_error_share();
    test_min_requests();
    test_failed_probe_reopens();
    test_window_slides();
    test_latency_counts();
    test_names_and_defaults();
    return nf_test_report("test_breaker");
}
