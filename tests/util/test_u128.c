/* test_u128: decimal parse/format, little-endian bytes and overflow helpers of u128, checked
 * against docs/PROTOCOL.md section 1.9 (Borsh bytes of 1250000000000000000000), the exact bounds
 * 2^128-1 / 2^128, and an independent decimal-string reference built from two 64-bit halves on
 * random values. Single-threaded, no files. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nf_err.h"
#include "nf_test.h"
#include "u128.h"

static const char *MAX_STR = "340282366920938463463374607431768211455";

/* ---- reference: decimal strings as digit arrays, no 128-bit arithmetic ---------------------- */

/* dec_mul_add: d (most significant first, NUL-terminated) = d * m + a, m and a < 2^32. */
static void dec_mul_add(char *d, unsigned m, unsigned a)
{
    size_t n = strlen(d);
    uint64_t carry = a;
    for (size_t i = n; i-- > 0;) {
        uint64_t v = (uint64_t)(d[i] - '0') * m + carry;
        d[i] = (char)('0' + v % 10);
        carry = v / 10;
    }
    while (carry) {
        memmove(d + 1, d, strlen(d) + 1);
        d[0] = (char)('0' + carry % 10);
        carry /= 10;
    }
    /* strip leading zeros but keep one digit */
    size_t z = 0;
    while (d[z] == '0' && d[z + 1] != '\0')
        z++;
    memmove(d, d + z, strlen(d + z) + 1);
}

/* ref_format: decimal text of hi*2^64 + lo built 16 bits at a time. */
static void ref_format(uint64_t hi, uint64_t lo, char *out)
{
    strcpy(out, "0");
    uint16_t parts[8];
    for (int i = 0; i < 4; i++) {
        parts[i] = (uint16_t)(hi >> (48 - 16 * i));
        parts[4 + i] = (uint16_t)(lo >> (48 - 16 * i));
    }
    for (int i = 0; i < 8; i++)
        dec_mul_add(out, 65536, parts[i]);
}

static uint64_t rng_state = 0x13198a2e03707344ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static nf_u128 make(uint64_t hi, uint64_t lo)
{
    return ((nf_u128)hi << 64) | lo;
}

static void test_parse_format_bounds(void)
{
    nf_u128 v = 123;
    char buf[U128_STR_MAX];
    CHECK_EQ_INT(u128_parse(MAX_STR, strlen(MAX_STR), &v), 0);
    CHECK(v == U128_MAX);
    CHECK_EQ_INT(u128_format(U128_MAX, buf), 39);
    CHECK_EQ_STR(buf, MAX_STR);
    char ref[64];
    ref_format(UINT64_MAX, UINT64_MAX, ref);
    CHECK_EQ_STR(ref, MAX_STR); /* the reference agrees with the known constant */

    /* max+1 and beyond. */
    const char *over[] = {
        "340282366920938463463374607431768211456",  "340282366920938463463374607431768211460",
        "340282366920938463463374607431768211465",  "999999999999999999999999999999999999999",
        "1000000000000000000000000000000000000000", "3402823669209384634633746074317682114550"};
    for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
        v = 7;
        CHECK_EQ_INT(u128_parse(over[i], strlen(over[i]), &v), NF_ERANGE);
        CHECK(v == 7); /* untouched on failure */
    }
    /* 2^127 and its neighbours. */
    CHECK_EQ_INT(u128_parse("170141183460469231731687303715884105728", 39, &v), 0);
    CHECK(v == (nf_u128)1 << 127);
    CHECK_EQ_INT(u128_format(((nf_u128)1 << 127) - 1, buf), 39);
    CHECK_EQ_STR(buf, "170141183460469231731687303715884105727");

    /* Small values and leading zeros. */
    CHECK_EQ_INT(u128_parse("0", 1, &v), 0);
    CHECK(v == 0);
    CHECK_EQ_INT(u128_format(0, buf), 1);
    CHECK_EQ_STR(buf, "0");
    CHECK_EQ_INT(u128_parse("000", 3, &v), 0);
    CHECK(v == 0);
    CHECK_EQ_INT(u128_parse("0001", 4, &v), 0);
    CHECK(v == 1);
    /* Many leading zeros in front of the maximum are still the maximum (Rust's parse agrees). */
    char padded[80];
    snprintf(padded, sizeof(padded), "0000000000%s", MAX_STR);
    CHECK_EQ_INT(u128_parse(padded, strlen(padded), &v), 0);
    CHECK(v == U128_MAX);
    CHECK_EQ_INT(u128_parse("18446744073709551616", 20, &v), 0); /* 2^64 */
    CHECK(v == make(1, 0));
    CHECK_EQ_INT(u128_parse("18446744073709551615", 20, &v), 0);
    CHECK(v == make(0, UINT64_MAX));

    /* Not numbers. */
    const char *bad[] = {"",     "-1",  "+1",  " 1",    "1 ", "1a",          "a1",
                         "0x10", "1.0", "1e3", "1,000", "١",  "\xef\xbc\x91" /* fullwidth 1 */};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 7;
        CHECK_EQ_INT(u128_parse(bad[i], strlen(bad[i]), &v), NF_EINVAL);
        CHECK(v == 7);
    }
    CHECK_EQ_INT(u128_parse("12\0003", 4, &v), NF_EINVAL);
    /* A bad character after an overflow is still a syntax error, not a range error. */
    CHECK_EQ_INT(u128_parse("99999999999999999999999999999999999999999x", 42, &v), NF_EINVAL);
    /* Explicit length: digits after len are ignored. */
    CHECK_EQ_INT(u128_parse("12345", 3, &v), 0);
    CHECK(v == 123);
}

static void test_random(void)
{
    int ok = 0, runs = 20000;
    for (int r = 0; r < runs; r++) {
        uint64_t hi = rng(), lo = rng();
        switch (r % 4) {
        case 0:
            hi = 0;
            break;
        case 1:
            hi >>= rng() % 64;
            break;
        case 2:
            hi = hi % 3 == 0 ? UINT64_MAX : hi;
            break;
        default:
            break;
        }
        nf_u128 v = make(hi, lo);
        char want[64], got[U128_STR_MAX];
        ref_format(hi, lo, want);
        int n = u128_format(v, got);
        nf_u128 back = 0;
        int pr = u128_parse(want, strlen(want), &back);
        uint8_t le[16];
        u128_to_le(v, le);
        int le_ok = 1;
        for (int i = 0; i < 8; i++)
            le_ok &= le[i] == (uint8_t)(lo >> (8 * i)) && le[8 + i] == (uint8_t)(hi >> (8 * i));
        int good = n == (int)strlen(want) && strcmp(got, want) == 0 && pr == 0 && back == v &&
                   le_ok && u128_from_le(le) == v;
        /* value*10 + 9 overflows exactly when the reference text with "9" appended is > max. */
        char plus[80];
        snprintf(plus, sizeof(plus), "%s9", want);
        int longer = strlen(plus) > strlen(MAX_STR) ||
                     (strlen(plus) == strlen(MAX_STR) && strcmp(plus, MAX_STR) > 0);
        nf_u128 p = 0;
        good = good && u128_parse(plus, strlen(plus), &p) == (longer ? NF_ERANGE : 0);
        if (!good)
            fprintf(stderr, "u128 mismatch for %s\n", want);
        ok += good;
    }
    CHECK_EQ_INT(ok, runs);
}

static void test_le(void)
{
    /* docs/PROTOCOL.md 1.9 VECTOR 3: storage deposit 1250000000000000000000. */
    const uint8_t want[16] = {0x00, 0x00, 0x48, 0x56, 0x37, 0x19, 0x3c, 0xc3,
                              0x43, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    nf_u128 v;
    CHECK_EQ_INT(u128_parse("1250000000000000000000", 22, &v), 0);
    uint8_t le[16];
    u128_to_le(v, le);
    CHECK(memcmp(le, want, 16) == 0);
    CHECK(u128_from_le(want) == v);
    /* VECTOR 1: deposit 1 is 01 followed by 15 zeros. */
    u128_to_le(1, le);
    CHECK(le[0] == 1);
    for (int i = 1; i < 16; i++)
        CHECK(le[i] == 0);
    u128_to_le(U128_MAX, le);
    for (int i = 0; i < 16; i++)
        CHECK(le[i] == 0xff);
    CHECK(u128_from_le(le) == U128_MAX);
    /* Byte order: the most significant byte is last. */
    u128_to_le((nf_u128)0xAB << 120, le);
    CHECK(le[15] == 0xAB && le[14] == 0 && le[0] == 0);
}

static void test_overflow_helpers(void)
{
    nf_u128 out;
    CHECK_EQ_INT(u128_add_overflow(U128_MAX, 0, &out), 0);
    CHECK(out == U128_MAX);
    CHECK_EQ_INT(u128_add_overflow(U128_MAX, 1, &out), 1);
    CHECK_EQ_INT(u128_add_overflow(U128_MAX - 5, 5, &out), 0);
    CHECK(out == U128_MAX);
    CHECK_EQ_INT(u128_add_overflow(make(1, 0), make(0, UINT64_MAX), &out), 0);
    CHECK(out == make(1, UINT64_MAX));
    CHECK_EQ_INT(u128_add_overflow(make(0, UINT64_MAX), 1, &out), 0); /* carry into high half */
    CHECK(out == make(1, 0));
    CHECK_EQ_INT(u128_mul_overflow(U128_MAX, 1, &out), 0);
    CHECK(out == U128_MAX);
    CHECK_EQ_INT(u128_mul_overflow(U128_MAX, 2, &out), 1);
    CHECK_EQ_INT(u128_mul_overflow(U128_MAX, 0, &out), 0);
    CHECK(out == 0);
    CHECK_EQ_INT(u128_mul_overflow(make(1, 0), make(1, 0), &out), 1); /* 2^64 * 2^64 */
    CHECK_EQ_INT(u128_mul_overflow(make(0, UINT64_MAX), make(0, UINT64_MAX), &out), 0);
    CHECK(out == make(UINT64_MAX - 1, 1));
    CHECK_EQ_INT(u128_mul_overflow((nf_u128)1 << 127, 2, &out), 1);
    CHECK_EQ_INT(u128_mul_overflow((nf_u128)1 << 126, 2, &out), 0);
    CHECK(out == (nf_u128)1 << 127);
    /* 1 NEAR = 10^24 yocto; 10^24 * 10^15 = 10^39 overflows, 10^24 * 10^14 does not. */
    nf_u128 near_one, e15, e14;
    CHECK_EQ_INT(u128_parse("1000000000000000000000000", 25, &near_one), 0);
    CHECK_EQ_INT(u128_parse("1000000000000000", 16, &e15), 0);
    CHECK_EQ_INT(u128_parse("100000000000000", 15, &e14), 0);
    CHECK_EQ_INT(u128_mul_overflow(near_one, e15, &out), 1);
    CHECK_EQ_INT(u128_mul_overflow(near_one, e14, &out), 0);
    char buf[U128_STR_MAX];
    u128_format(out, buf);
    CHECK_EQ_STR(buf, "100000000000000000000000000000000000000");
}

int main(void)
{
    test_parse_format_bounds();
    test_random();
    test_le();
    test_overflow_helpers();
    return nf_test_report("test_u128");
}
