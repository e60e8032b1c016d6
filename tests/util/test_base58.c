/* test_base58: base58 against known vectors (docs/PROTOCOL.md sections 1.5 and 1.9, Bitcoin Core's
 * base58_encode_decode.json) and against an independent reference encoder (repeated division of
 * the big-endian number by 58) on random inputs, with leading zeros, bounds and bad characters.
 * Single-threaded, no files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "nf_err.h"
#include "nf_test.h"

static const char ALPHABET[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static size_t hex_to_bytes(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* ref_encode: textbook base58 by long division of a big-endian copy; out must hold 2*len+2. */
static void ref_encode(const uint8_t *in, size_t len, char *out)
{
    uint8_t *num = malloc(len ? len : 1);
    char *rev = malloc(2 * len + 2);
    memcpy(num, in, len);
    size_t zeros = 0;
    while (zeros < len && in[zeros] == 0)
        zeros++;
    size_t nrev = 0;
    size_t start = zeros;
    while (start < len) {
        unsigned rem = 0;
        for (size_t i = start; i < len; i++) {
            unsigned cur = rem * 256 + num[i];
            num[i] = (uint8_t)(cur / 58);
            rem = cur % 58;
        }
        rev[nrev++] = ALPHABET[rem];
        while (start < len && num[start] == 0)
            start++;
    }
    size_t k = 0;
    for (size_t i = 0; i < zeros; i++)
        out[k++] = '1';
    while (nrev > 0)
        out[k++] = rev[--nrev];
    out[k] = '\0';
    free(num);
    free(rev);
}

struct vector {
    const char *hex;
    const char *b58;
};

static const struct vector VECTORS[] = {
    /* docs/PROTOCOL.md 1.9: block hash, public key, tx hashes, signatures, secret key. */
    {"0455f286b3cfa90d4943e0cc2c9ab89a2f98f548e41cf547a546d22bc21a8b39",
     "HveJKQvuB2oTwbExTvT6bku4oWLB6UyWnqi5WWAD1LU"},
    {"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
     "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z"},
    {"cd80e20f762dfcbc714d165d23aa4b6d68598a349aa13618640dac0213db1e01",
     "EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr"},
    {"e2c0660c304d0339be5e5a428707aeac4b9d1cfb9a9963998765348f75a188f8",
     "GG9JHWiXqUGdZroojTfRLeyjzdDBHRUNk3DoYu3N9xXZ"},
    {"a6dfbfeaa0641adc1efd7bad5548fddc083e39df5613db86229fd14d6535d0f853dd391a4cddbc0e4009f63f1fc3"
     "0422d686b2cee032eb4d2ce0ce738856310b",
     "4LWUBMSWq5E7K8cK3M73cbWV2FE1hg9H8AndB1asRqJTFeGJBZeWnv5HicEuJC7r7irx1ooZ61rAEri7P5P8f1uc"},
    {"e9ca6ac97ff127e6f62da5169bdbb505db79cd61f753cd786aa2919d0d71493e6106a7db4ebd714a34d620ab4c18"
     "44ec79b072b15dd410188ffb4bfd1748d304",
     "5g76Lj8RFAYv2w9TUyFicucmQDGJexzMMe9WbdpF1TteeYQmQHKSu38hWoKfd7pSQtb8uLJD8UBxctywd9NHwzLb"},
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60d75a980182b10ab7d54bfed3c964"
     "073a0ee172f3daa62325af021a68f707511a",
     "49W385L4rePHy6PAaQUovbD2aacgN4HsKXSMeUzRg4fmwXszN91JuMFrQRj3vMDpZuRF3ZknQBuRBoWQJEfXstMw"},
    /* 1.5: 32 zero bytes. */
    {"0000000000000000000000000000000000000000000000000000000000000000",
     "11111111111111111111111111111111"},
    /* Bitcoin Core src/test/data/base58_encode_decode.json. */
    {"61", "2g"},
    {"626262", "a3gV"},
    {"636363", "aPEr"},
    {"73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"},
    {"00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
    {"516b6fcd0f", "ABnLTmg"},
    {"bf4f89001e670274dd", "3SEo3LWLoPntC"},
    {"572e4794", "3EFU7m"},
    {"ecac89cad93923c02321", "EJDM8drfXA6uyA"},
    {"10c8511e", "Rt5zm"},
    {"00000000000000000000", "1111111111"},
};

static void test_vectors(void)
{
    for (size_t i = 0; i < sizeof(VECTORS) / sizeof(VECTORS[0]); i++) {
        uint8_t bytes[128], back[128];
        size_t n = hex_to_bytes(VECTORS[i].hex, bytes);
        char text[B58_MAX_64 + 10];
        int len = b58_encode(bytes, n, text, sizeof(text));
        CHECK_EQ_INT(len, (int)strlen(VECTORS[i].b58));
        CHECK_EQ_STR(text, VECTORS[i].b58);
        int m = b58_decode(VECTORS[i].b58, strlen(VECTORS[i].b58), back, sizeof(back));
        CHECK_EQ_INT(m, (int)n);
        CHECK(m == (int)n && memcmp(back, bytes, n) == 0);
        CHECK_EQ_INT(b58_decode_exact(VECTORS[i].b58, strlen(VECTORS[i].b58), back, n), 0);
        CHECK(memcmp(back, bytes, n) == 0);
        CHECK_EQ_INT(b58_decode_exact(VECTORS[i].b58, strlen(VECTORS[i].b58), back, n + 1),
                     NF_EINVAL);
        if (n > 1)
            CHECK_EQ_INT(b58_decode_exact(VECTORS[i].b58, strlen(VECTORS[i].b58), back, n - 1),
                         NF_EINVAL);
    }
    /* Empty input encodes to empty text; empty text is not a value. */
    char text[8] = "xxxxxxx";
    CHECK_EQ_INT(b58_encode((const uint8_t *)"", 0, text, sizeof(text)), 0);
    CHECK_EQ_STR(text, "");
    uint8_t b[8];
    CHECK_EQ_INT(b58_decode("", 0, b, sizeof(b)), NF_EINVAL);
    CHECK_EQ_INT(b58_decode_exact("", 0, b, 0), NF_EINVAL);
    /* Every single digit decodes to its index ('1' is one zero byte). */
    for (int d = 0; d < 58; d++) {
        memset(b, 0xee, sizeof(b));
        int m = b58_decode(&ALPHABET[d], 1, b, sizeof(b));
        CHECK_EQ_INT(m, 1);
        CHECK_EQ_INT(b[0], d);
    }
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_random_round_trips(void)
{
    static uint8_t in[1024], back[1600];
    static char text[1500], want[2100];
    int ok = 0, runs = 3000;
    for (int r = 0; r < runs; r++) {
        size_t len = r % 50 == 0 ? (size_t)(rng() % 1025) : (size_t)(rng() % 70);
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)rng();
        size_t zeros = len ? (size_t)(rng() % 4 == 0 ? rng() % (len + 1) : 0) : 0;
        memset(in, 0, zeros);
        if (r % 7 == 0 && len > 0)
            memset(in + zeros, 0xff, len - zeros); /* all-ones: the longest text */
        ref_encode(in, len, want);
        int tl = b58_encode(in, len, text, sizeof(text));
        int good = tl == (int)strlen(want) && strcmp(text, want) == 0;
        size_t ones = 0;
        while (ones < (size_t)(tl > 0 ? tl : 0) && text[ones] == '1')
            ones++;
        size_t lead = 0;
        while (lead < len && in[lead] == 0)
            lead++;
        good = good && ones == lead;
        int m = b58_decode(text, (size_t)(tl > 0 ? tl : 0), back, sizeof(back));
        if (len == 0)
            good = good && m == NF_EINVAL;
        else
            good = good && m == (int)len && memcmp(back, in, len) == 0;
        if (!good)
            fprintf(stderr, "round trip failed at run %d (len %zu, zeros %zu)\n", r, len, zeros);
        ok += good;
    }
    CHECK_EQ_INT(ok, runs);
    /* 1024 bytes is the documented maximum and must round-trip even at its longest. */
    memset(in, 0xff, 1024);
    ref_encode(in, 1024, want);
    int tl = b58_encode(in, 1024, text, sizeof(text));
    CHECK_EQ_STR(text, want);
    CHECK_EQ_INT(b58_decode(text, (size_t)tl, back, sizeof(back)), 1024);
    CHECK(memcmp(back, in, 1024) == 0);
    CHECK_EQ_INT(b58_encode(in, 1025, text, sizeof(text)), NF_ERANGE);
}

static void test_bounds_and_errors(void)
{
    uint8_t bytes[64], back[64];
    char text[100];
    size_t n = hex_to_bytes(VECTORS[0].hex, bytes);
    size_t tl = strlen(VECTORS[0].b58);
    /* Encode: exactly len+1 fits, len does not (room for NUL). */
    CHECK_EQ_INT(b58_encode(bytes, n, text, tl + 1), (int)tl);
    CHECK_EQ_INT(b58_encode(bytes, n, text, tl), NF_ENOSPC);
    CHECK_EQ_INT(b58_encode(bytes, n, text, 0), NF_ENOSPC);
    /* Decode: exactly n bytes fit, n-1 do not; leading '1's count against the capacity too. */
    CHECK_EQ_INT(b58_decode(VECTORS[0].b58, tl, back, n), (int)n);
    CHECK_EQ_INT(b58_decode(VECTORS[0].b58, tl, back, n - 1), NF_ENOSPC);
    CHECK_EQ_INT(b58_decode("1111", 4, back, 3), NF_ENOSPC);
    CHECK_EQ_INT(b58_decode("1111", 4, back, 4), 4);
    /* A leading '1' adds a zero byte: same value, different length. */
    CHECK_EQ_INT(b58_decode("12g", 3, back, sizeof(back)), 2);
    CHECK(back[0] == 0 && back[1] == 0x61);
    /* Characters outside the alphabet, anywhere. */
    const char bad[] = {'0', 'O',  'I',  'l', '+',        '/',       '=',
                        ' ', '\0', '\n', '-', (char)0x80, (char)0xff};
    for (size_t i = 0; i < sizeof(bad); i++) {
        for (size_t pos = 0; pos < 3; pos++) {
            char s[4] = "2g2";
            s[pos] = bad[i];
            CHECK_EQ_INT(b58_decode(s, 3, back, sizeof(back)), NF_EINVAL);
        }
    }
    /* Every byte value: accepted exactly when it is in the alphabet. */
    int accepted = 0;
    for (int c = 0; c < 256; c++) {
        char s[1] = {(char)c};
        int m = b58_decode(s, 1, back, sizeof(back));
        int in_alpha = c != 0 && strchr(ALPHABET, c) != NULL;
        CHECK_EQ_INT(m >= 0, in_alpha);
        accepted += m >= 0;
    }
    CHECK_EQ_INT(accepted, 58);
    /* The length is explicit: text after len is ignored. */
    CHECK_EQ_INT(b58_decode("2g!!!", 2, back, sizeof(back)), 1);
    /* Overlong text is refused, not scanned. */
    static char longtext[3000];
    memset(longtext, '2', sizeof(longtext));
    CHECK_EQ_INT(b58_decode(longtext, sizeof(longtext), back, sizeof(back)), NF_ERANGE);
    CHECK(b58_decode_exact(longtext, sizeof(longtext), back, 32) < 0);
    /* 2048 chars is the documented maximum: the value needs ~1499 bytes, more than cap here. */
    CHECK_EQ_INT(b58_decode(longtext, 2048, back, sizeof(back)), NF_ENOSPC);
    CHECK_EQ_INT(b58_decode_exact(longtext, 2048, back, 32), NF_EINVAL);
    static uint8_t big[2048];
    int m = b58_decode(longtext, 2048, big, sizeof(big));
    CHECK(m > 1400 && m < 1536);
    /* All '1's at the maximum length decode to that many zero bytes. */
    memset(longtext, '1', 2048);
    CHECK_EQ_INT(b58_decode(longtext, 2048, big, sizeof(big)), 2048);
}

int main(void)
{
    test_vectors();
    test_random_round_trips();
    test_bounds_and_errors();
    return nf_test_report("test_base58");
}
