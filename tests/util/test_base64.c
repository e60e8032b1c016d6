/* test_base64: the table-driven base64 against libsodium's sodium_bin2base64 /
 * sodium_base642bin (VARIANT_ORIGINAL): identical text for 20k random inputs, and the same
 * accept/reject decision and bytes for 200k random and mutated texts, except that bytes >= 0x80
 * (which libsodium sometimes takes as digits) are always refused, as nearcore's base64 does. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "nf_err.h"
#include "nf_test.h"

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* sodium's decision: byte count or -1. */
static int sodium_decode(const char *t, size_t len, uint8_t *out, size_t cap)
{
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, cap, t, len, NULL, &n, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != t + len)
        return -1;
    return (int)n;
}

static void test_vectors(void)
{
    static const struct {
        const char *bin, *text;
    } v[] = {{"", ""},
             {"f", "Zg=="},
             {"fo", "Zm8="},
             {"foo", "Zm9v"},
             {"foob", "Zm9vYg=="},
             {"fooba", "Zm9vYmE="},
             {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char t[16];
        size_t n = b64_encode((const uint8_t *)v[i].bin, strlen(v[i].bin), t);
        t[n] = '\0';
        CHECK_EQ_STR(t, v[i].text);
        uint8_t b[16];
        CHECK_EQ_INT(b64_decode(v[i].text, strlen(v[i].text), b, sizeof(b)), strlen(v[i].bin));
        CHECK(memcmp(b, v[i].bin, strlen(v[i].bin)) == 0);
    }
    uint8_t b[8];
    CHECK_EQ_INT(b64_decode("Zm9", 3, b, sizeof(b)), NF_EINVAL);      /* not a multiple of 4 */
    CHECK_EQ_INT(b64_decode("Zm9=", 4, b, sizeof(b)), NF_EINVAL);     /* unused bits set */
    CHECK_EQ_INT(b64_decode("Zh==", 4, b, sizeof(b)), NF_EINVAL);     /* unused bits set */
    CHECK_EQ_INT(b64_decode("Z===", 4, b, sizeof(b)), NF_EINVAL);     /* too much padding */
    CHECK_EQ_INT(b64_decode("Zg==Zg==", 8, b, sizeof(b)), NF_EINVAL); /* padding inside */
    CHECK_EQ_INT(b64_decode("Zm 9", 4, b, sizeof(b)), NF_EINVAL);     /* space */
    CHECK_EQ_INT(b64_decode("Zm9v", 4, b, 2), NF_ENOSPC);
    CHECK_EQ_INT(b64_decode("Zm8=", 4, b, 1), NF_ENOSPC);
}

static void test_encode_random(void)
{
    static uint8_t in[3000];
    static char a[4100], s[4200];
    int diffs = 0;
    for (int it = 0; it < 20000; it++) {
        size_t len = next() % (it < 1000 ? 8u : sizeof(in));
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)next();
        size_t n = b64_encode(in, len, a);
        sodium_bin2base64(s, sizeof(s), in, len, sodium_base64_VARIANT_ORIGINAL);
        if (n != B64_ENCODED_LEN(len) || n != strlen(s) || memcmp(a, s, n) != 0)
            diffs++;
        uint8_t back[3000];
        if (b64_decode(a, n, back, sizeof(back)) != (int)len || memcmp(back, in, len) != 0)
            diffs++;
    }
    CHECK_EQ_INT(diffs, 0);
}

static void test_decode_random(void)
{
    static const char chars[] = "AZaz09+/=Qg=-_ \n\x80";
    char t[64];
    uint8_t a[64], b[64];
    int diffs = 0, accepted = 0;
    for (int it = 0; it < 200000; it++) {
        size_t len;
        if (it % 2 == 0) {
            /* A valid encoding, then maybe one byte changed, cut or padded. */
            uint8_t in[30];
            size_t bl = next() % sizeof(in);
            for (size_t i = 0; i < bl; i++)
                in[i] = (uint8_t)next();
            len = b64_encode(in, bl, t);
            uint64_t m = next() % 4;
            if (m == 1 && len > 0)
                t[next() % len] = chars[next() % (sizeof(chars) - 1)];
            else if (m == 2 && len > 0)
                len -= 1 + next() % (len < 3 ? len : 3);
            else if (m == 3 && len + 1 < sizeof(t))
                t[len++] = '=';
        } else {
            len = (next() % 5) * 4 + (next() % 8 == 0 ? next() % 4 : 0);
            for (size_t i = 0; i < len; i++)
                t[i] = chars[next() % (sizeof(chars) - 1)];
        }
        int high = 0;
        for (size_t i = 0; i < len; i++)
            high |= (unsigned char)t[i] >= 0x80;
        int r2 = b64_decode(t, len, b, sizeof(b));
        if (high) {
            /* libsodium takes some bytes >= 0x80 as digits; nearcore's base64 (and ours) refuse
             * every byte outside the alphabet. */
            diffs += r2 >= 0;
            continue;
        }
        int r1 = sodium_decode(t, len, a, sizeof(a));
        if ((r1 < 0) != (r2 < 0) || (r1 >= 0 && (r1 != r2 || memcmp(a, b, (size_t)r1) != 0)))
            diffs++;
        accepted += r2 >= 0;
    }
    CHECK_EQ_INT(diffs, 0);
    CHECK(accepted > 50000 && accepted < 150000); /* both outcomes were exercised */
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_vectors();
    test_encode_random();
    test_decode_random();
    return nf_test_report("test_base64");
}
