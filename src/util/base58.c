/* base58: Bitcoin-alphabet base58 encode/decode (see include/base58.h). Pure, any thread, owns
 * nothing. Quadratic schoolbook conversion: inputs are at most a few dozen bytes (keys, hashes,
 * signatures), where it beats anything clever. The scratch buffers are wiped with explicit_bzero
 * before return because keys.c passes secret keys through here. */
#include "base58.h"

#include <string.h>

#include "nf_err.h"

static const char b58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* Reverse table for ASCII (-1 outside the alphabet; bytes >= 0x80 are rejected before lookup).
 * A constant table: the old lazily-built one raced (a late thread's memset could briefly turn valid
 * digits back into -1 under a thread that had already seen "ready"). */
static const signed char b58_map[128] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, 0,  1,  2,  3,  4,  5,  6,  7,  8,  -1, -1, -1, -1, -1, -1, -1, 9,
    10, 11, 12, 13, 14, 15, 16, -1, 17, 18, 19, 20, 21, -1, 22, 23, 24, 25, 26, 27, 28, 29,
    30, 31, 32, -1, -1, -1, -1, -1, -1, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, -1, 44,
    45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, -1, -1, -1, -1, -1,
};

static int b58_digit(unsigned char c)
{
    return c < 128 ? b58_map[c] : -1;
}

int b58_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    if (len > 1024)
        return NF_ERANGE;
    size_t zeros = 0;
    while (zeros < len && in[zeros] == 0)
        zeros++;
    /* log(256)/log(58) ~ 1.366: digits needed for the non-zero part. */
    uint8_t digits[1400];
    size_t ndig = 0;
    for (size_t i = zeros; i < len; i++) {
        unsigned carry = in[i];
        for (size_t j = 0; j < ndig; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry) {
            digits[ndig++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    size_t total = zeros + ndig;
    if (total + 1 > cap) {
        explicit_bzero(digits, ndig);
        return NF_ENOSPC;
    }
    size_t k = 0;
    for (size_t i = 0; i < zeros; i++)
        out[k++] = '1';
    for (size_t i = 0; i < ndig; i++)
        out[k++] = b58_alphabet[digits[ndig - 1 - i]];
    out[k] = '\0';
    explicit_bzero(digits, ndig);
    return (int)k;
}

int b58_decode(const char *text, size_t len, uint8_t *out, size_t cap)
{
    if (len == 0)
        return NF_EINVAL;
    if (len > 2048)
        return NF_ERANGE;
    size_t ones = 0;
    while (ones < len && text[ones] == '1')
        ones++;
    uint8_t bytes[1536]; /* little-endian base-256 digits of the value */
    size_t nb = 0;
    for (size_t i = ones; i < len; i++) {
        int d = b58_digit((unsigned char)text[i]);
        if (d < 0) {
            explicit_bzero(bytes, nb);
            return NF_EINVAL;
        }
        unsigned carry = (unsigned)d;
        for (size_t j = 0; j < nb; j++) {
            carry += (unsigned)bytes[j] * 58;
            bytes[j] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
        while (carry) {
            bytes[nb++] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
    }
    size_t total = ones + nb;
    if (total > cap) {
        explicit_bzero(bytes, nb);
        return NF_ENOSPC;
    }
    memset(out, 0, ones);
    for (size_t i = 0; i < nb; i++)
        out[ones + i] = bytes[nb - 1 - i];
    explicit_bzero(bytes, nb);
    return (int)total;
}

int b58_decode_exact(const char *text, size_t len, uint8_t *out, size_t n)
{
    uint8_t tmp[1536];
    int r = b58_decode(text, len, tmp, sizeof(tmp));
    if (r < 0 || (size_t)r != n) {
        if (r > 0)
            explicit_bzero(tmp, (size_t)r);
        return NF_EINVAL;
    }
    memcpy(out, tmp, n);
    explicit_bzero(tmp, n);
    return 0;
}
