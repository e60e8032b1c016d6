/* base64: table-driven standard base64 (see base64.h). Pure; any thread. */
#include "base64.h"

#include <limits.h>

#include "nf_err.h"

static const char b64_alpha[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for alphabet characters, 0xff otherwise (built from the alphabet on first use would need
 * state; a literal table keeps the module pure). */
static const uint8_t b64_val[256] = {
    ['A'] = 0,  ['B'] = 1,  ['C'] = 2,  ['D'] = 3,  ['E'] = 4,  ['F'] = 5,  ['G'] = 6,  ['H'] = 7,
    ['I'] = 8,  ['J'] = 9,  ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13, ['O'] = 14, ['P'] = 15,
    ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20, ['V'] = 21, ['W'] = 22, ['X'] = 23,
    ['Y'] = 24, ['Z'] = 25, ['a'] = 26, ['b'] = 27, ['c'] = 28, ['d'] = 29, ['e'] = 30, ['f'] = 31,
    ['g'] = 32, ['h'] = 33, ['i'] = 34, ['j'] = 35, ['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39,
    ['o'] = 40, ['p'] = 41, ['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47,
    ['w'] = 48, ['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55,
    ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60, ['9'] = 61, ['+'] = 62, ['/'] = 63,
};

/* 'A' maps to 0 like every non-alphabet byte would in b64_val: tell them apart. */
static int b64_ok(unsigned char c)
{
    return b64_val[c] != 0 || c == 'A';
}

size_t b64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    for (; len - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alpha[v >> 18];
        out[o++] = b64_alpha[(v >> 12) & 63];
        out[o++] = b64_alpha[(v >> 6) & 63];
        out[o++] = b64_alpha[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64_alpha[v >> 18];
        out[o++] = b64_alpha[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64_alpha[v >> 18];
        out[o++] = b64_alpha[(v >> 12) & 63];
        out[o++] = b64_alpha[(v >> 6) & 63];
        out[o++] = '=';
    }
    return o;
}

int b64_decode(const char *text, size_t len, uint8_t *out, size_t cap)
{
    const unsigned char *t = (const unsigned char *)text;
    if (len % 4 != 0)
        return NF_EINVAL;
    if (len == 0)
        return 0;
    size_t pad = t[len - 1] == '=' ? (t[len - 2] == '=' ? 2u : 1u) : 0u;
    size_t n = len / 4 * 3 - pad;
    if (n > (size_t)INT_MAX)
        return NF_ERANGE;
    size_t full = (len - (pad ? 4u : 0u)); /* chars in groups without padding */
    size_t o = 0;
    for (size_t i = 0; i < full; i += 4) {
        unsigned char a = t[i], b = t[i + 1], c = t[i + 2], d = t[i + 3];
        if (!b64_ok(a) || !b64_ok(b) || !b64_ok(c) || !b64_ok(d))
            return NF_EINVAL;
        if (cap - o < 3)
            return NF_ENOSPC;
        uint32_t v = (uint32_t)b64_val[a] << 18 | (uint32_t)b64_val[b] << 12 |
                     (uint32_t)b64_val[c] << 6 | b64_val[d];
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    if (pad) {
        const unsigned char *g = t + full;
        if (!b64_ok(g[0]) || !b64_ok(g[1]))
            return NF_EINVAL;
        uint32_t v = (uint32_t)b64_val[g[0]] << 18 | (uint32_t)b64_val[g[1]] << 12;
        if (pad == 1) {
            if (!b64_ok(g[2]))
                return NF_EINVAL;
            v |= (uint32_t)b64_val[g[2]] << 6;
            if ((v & 0xff) != 0) /* unused bits must be zero */
                return NF_EINVAL;
            if (cap - o < 2)
                return NF_ENOSPC;
            out[o++] = (uint8_t)(v >> 16);
            out[o++] = (uint8_t)(v >> 8);
        } else {
            if ((v & 0xffff) != 0)
                return NF_EINVAL;
            if (cap - o < 1)
                return NF_ENOSPC;
            out[o++] = (uint8_t)(v >> 16);
        }
    }
    return (int)o;
}
