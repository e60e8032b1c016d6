/* fuzz_base58: feeds arbitrary bytes to base58 as text (decode, then re-encode must give the same
 * text back: base58 with the leading-'1' rule is canonical) and as binary (encode, then decode must
 * give the same bytes back). Aborts on any mismatch. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "nf_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t bytes[2100];
    static char text[3000];

    /* As text. */
    int n = b58_decode((const char *)data, size, bytes, sizeof(bytes));
    if (n >= 0) {
        int t = b58_encode(bytes, (size_t)n, text, sizeof(text));
        if (n <= 1024 && (t != (int)size || memcmp(text, data, size) != 0))
            abort();
        uint8_t exact[64];
        int e = b58_decode_exact((const char *)data, size, exact, 32);
        if ((e == 0) != (n == 32))
            abort();
        if (e == 0 && memcmp(exact, bytes, 32) != 0)
            abort();
    } else if (n != NF_EINVAL && n != NF_ENOSPC && n != NF_ERANGE) {
        abort();
    }
    /* Small capacities must fail cleanly, never overrun. */
    uint8_t small[8];
    n = b58_decode((const char *)data, size, small, sizeof(small));
    if (n > (int)sizeof(small))
        abort();

    /* As binary. */
    if (size <= 1024) {
        int t = b58_encode(data, size, text, sizeof(text));
        if (t < 0 || (size_t)t != strlen(text))
            abort();
        if (size > 0) {
            int m = b58_decode(text, (size_t)t, bytes, sizeof(bytes));
            if (m != (int)size || memcmp(bytes, data, size) != 0)
                abort();
        } else if (t != 0) {
            abort();
        }
        char tiny[4];
        t = b58_encode(data, size, tiny, sizeof(tiny));
        if (t >= (int)sizeof(tiny))
            abort();
    }
    return 0;
}
