/* fuzz_base64: differential. The input as text: b64_decode must agree with libsodium's
 * sodium_base642bin (VARIANT_ORIGINAL) on accept/reject and bytes, except that any byte >= 0x80
 * is refused (as nearcore's base64 does; libsodium takes some as digits). The input as bytes:
 * b64_encode must equal sodium_bin2base64 and decode back to the input. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sodium_init() < 0)
        abort();
    size_t cap = size + 4;
    uint8_t *a = malloc(cap), *b = malloc(cap);
    char *t = malloc(B64_ENCODED_LEN(size) + 1), *s = malloc(B64_ENCODED_LEN(size) + 1);
    if (a == NULL || b == NULL || t == NULL || s == NULL)
        abort();
    int high = 0;
    for (size_t i = 0; i < size; i++)
        high |= data[i] >= 0x80;
    int ours = b64_decode((const char *)data, size, a, cap);
    if (high) {
        if (ours >= 0)
            abort();
    } else {
        size_t n = 0;
        const char *end = NULL;
        int theirs = sodium_base642bin(b, cap, (const char *)data, size, NULL, &n, &end,
                                       sodium_base64_VARIANT_ORIGINAL) == 0 &&
                             end == (const char *)data + size
                         ? (int)n
                         : -1;
        if ((ours < 0) != (theirs < 0) || (ours >= 0 && (ours != theirs || memcmp(a, b, n) != 0)))
            abort();
    }
    size_t tl = b64_encode(data, size, t);
    sodium_bin2base64(s, B64_ENCODED_LEN(size) + 1, data, size, sodium_base64_VARIANT_ORIGINAL);
    if (tl != B64_ENCODED_LEN(size) || memcmp(t, s, tl) != 0)
        abort();
    if (b64_decode(t, tl, a, cap) != (int)size || (size && memcmp(a, data, size) != 0))
        abort();
    free(a);
    free(b);
    free(t);
    free(s);
    return 0;
}
