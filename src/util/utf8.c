/* utf8: UTF-8 validation and JSON string-body escaping byte-identical to JavaScript's
 * JSON.stringify (which NEAR's argument JSON, the JSON writer and nearsim's answers all follow).
 * Pure: no I/O, no allocation, any thread; owns nothing. */
#include "nf_utf8.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "nf_err.h"

/* The length of the valid UTF-8 sequence starting with a byte >= 0x80 at s[0..left), or 0. */
static size_t utf8_seq_len(const uint8_t *s, size_t left)
{
    uint8_t c = s[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > left - 1)
        return 0;
    for (size_t k = 1; k <= n; k++) {
        uint8_t cc = s[k];
        if ((cc & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    if (cp >= 0xd800 && cp <= 0xdfff)
        return 0;
    return n + 1;
}

int nf_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8) { /* 8 ASCII bytes at a time */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq_len(s + i, len - i);
        if (n == 0)
            return 0; /* bad lead or continuation, overlong, surrogate, > U+10FFFF, cut short */
        i += n;
    }
    return 1;
}

/* special8: the high bit of each byte of w that is not plain printable ASCII (0x20..0x7f other
 * than '"' and '\\'); 0 when all 8 are copied as they are. hasless / haszero bit tricks: whether
 * any byte is flagged is exact, and so is the lowest flagged byte (borrows only run upward). */
static uint64_t special8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (w & highs) | ((w - ones * 0x20) & ~w & highs) | ((q - ones) & ~q & highs) |
           ((b - ones) & ~b & highs);
}

int nf_json_escape(const char *in, size_t len, char *out, size_t cap)
{
    /* One pass: validates UTF-8 while escaping; runs of 8 plain ASCII bytes are copied whole. */
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)in;
    if (len > (size_t)INT_MAX)
        return nf_utf8_valid(s, len) ? NF_ENOSPC : NF_EUTF8;
    size_t i = 0, o = 0;
    while (i < len) {
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            uint64_t m = special8(w);
            size_t run = m ? (size_t)(__builtin_ctzll(m) >> 3) : 8u; /* plain bytes first */
            if (run > 0) {
                if (cap - o < run)
                    goto nospace;
                memcpy(out + o, s + i, run);
                o += run;
                i += run;
                continue;
            }
        }
        unsigned char c = s[i];
        char esc[6];
        size_t n = 2, adv = 1;
        esc[0] = '\\';
        if (c >= 0x80) {
            adv = utf8_seq_len(s + i, len - i);
            if (adv == 0)
                return NF_EUTF8;
            if (cap - o < adv)
                goto nospace;
            memcpy(out + o, s + i, adv); /* copied raw, U+2028/2029 included */
            o += adv;
            i += adv;
            continue;
        }
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            if (c < 0x20) {
                /* JSON.stringify: \u00XX with lowercase hex digits. */
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
            } else {
                /* Everything else, DEL included, is copied raw. */
                esc[0] = (char)c;
                n = 1;
            }
            break;
        }
        if (n > cap - o || o + n > (size_t)INT_MAX)
            goto nospace;
        memcpy(out + o, esc, n);
        o += n;
        i += adv;
    }
    return (int)o;
nospace:
    /* Invalid UTF-8 anywhere wins over a short buffer, as callers expect. */
    return nf_utf8_valid(s + i, len - i) ? NF_ENOSPC : NF_EUTF8;
}
