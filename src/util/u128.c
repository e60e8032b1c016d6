/* u128: decimal and little-endian forms of unsigned 128-bit amounts (see include/u128.h). Pure,
 * any thread, owns nothing. No floating point anywhere. */
#include "u128.h"

#include "nf_err.h"

int u128_parse(const char *s, size_t len, nf_u128 *out)
{
    if (len == 0)
        return NF_EINVAL;
    nf_u128 v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < '0' || c > '9')
            return NF_EINVAL;
        nf_u128 t;
        if (u128_mul_overflow(v, 10, &t) || u128_add_overflow(t, (nf_u128)(c - '0'), &v)) {
            /* Keep scanning so a non-digit later still reports NF_EINVAL first. */
            for (size_t j = i + 1; j < len; j++)
                if (s[j] < '0' || s[j] > '9')
                    return NF_EINVAL;
            return NF_ERANGE;
        }
    }
    *out = v;
    return 0;
}

int u128_format(nf_u128 v, char out[U128_STR_MAX])
{
    char tmp[U128_STR_MAX];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

void u128_to_le(nf_u128 v, uint8_t out[16])
{
    for (int i = 0; i < 16; i++) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

nf_u128 u128_from_le(const uint8_t in[16])
{
    nf_u128 v = 0;
    for (int i = 15; i >= 0; i--)
        v = (v << 8) | in[i];
    return v;
}

int u128_add_overflow(nf_u128 a, nf_u128 b, nf_u128 *out)
{
    return __builtin_add_overflow(a, b, out);
}

int u128_mul_overflow(nf_u128 a, nf_u128 b, nf_u128 *out)
{
    return __builtin_mul_overflow(a, b, out);
}
