/* fuzz_relay_head: a cluster standby relay's look at a connection's first bytes
 * (src/ingest/relay.c: relay_head_classify). The input is what an untrusted client sent.
 * Properties: no crash or over-read (each call sees an allocation of exactly its length); the
 * action is one of the four; it says what the bytes are: "wait for more" only with no LF and at
 * most RELAY_HEAD_MAX bytes, "too long" only with no LF in the first RELAY_HEAD_MAX + 1 bytes
 * and more than RELAY_HEAD_MAX of them, "metrics" and "forward" only with an LF there, "metrics"
 * exactly when the line starts with "GET /metrics" and a space or '?'; the first
 * RELAY_HEAD_MAX + 1 bytes decide as the whole does; and the bytes arriving in two reads (split
 * where the input's first byte says) or one by one end as the whole: every prefix answers "wait
 * for more" or what the whole answers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* classify_exact: relay_head_classify on a copy of exactly len bytes. */
static enum relay_head_action classify_exact(const char *in, size_t len)
{
    char *b = malloc(len ? len : 1);
    if (b == NULL)
        abort();
    memcpy(b, in, len);
    enum relay_head_action a = relay_head_classify(b, len);
    free(b);
    return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    enum relay_head_action a = relay_head_classify(buf, size);
    size_t window = size < RELAY_HEAD_MAX + 1 ? size : RELAY_HEAD_MAX + 1;
    const char *lf = size ? memchr(buf, '\n', window) : NULL;
    switch (a) {
    case RELAY_HEAD_MORE:
        if (lf != NULL || size > RELAY_HEAD_MAX)
            abort();
        break;
    case RELAY_HEAD_TOO_LONG:
        if (lf != NULL || size <= RELAY_HEAD_MAX)
            abort();
        break;
    case RELAY_HEAD_METRICS:
    case RELAY_HEAD_FORWARD: {
        if (lf == NULL)
            abort();
        size_t at = (size_t)(lf - buf);
        int metrics =
            at > 12 && memcmp(buf, "GET /metrics", 12) == 0 && (buf[12] == ' ' || buf[12] == '?');
        if (metrics != (a == RELAY_HEAD_METRICS))
            abort();
        break;
    }
    default:
        abort();
    }
    /* The first RELAY_HEAD_MAX + 1 bytes decide. */
    if (classify_exact(buf, window) != a)
        abort();
    /* Two reads: the relay looks at the first part, then (if it waited) at both. */
    size_t cut = size ? (size_t)data[0] * size / 256 : 0;
    enum relay_head_action first = classify_exact(buf, cut);
    if (first != RELAY_HEAD_MORE && first != a)
        abort();
    if (first == RELAY_HEAD_MORE && classify_exact(buf, size) != a)
        abort();
    /* One byte at a time: every prefix waits or answers as the whole does (each call stops at the
     * first LF, so this stays quick unless a long input has none). */
    for (size_t k = 0; k < size; k++) {
        enum relay_head_action p = relay_head_classify(buf, k);
        if (p != RELAY_HEAD_MORE && p != a)
            abort();
    }
    return 0;
}
