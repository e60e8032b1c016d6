/* txid: public transfer ids, "<id>-<16 hex tag>". See txid.h. */
#include "txid.h"

#include <sodium.h>
#include <string.h>

#include "nf_err.h"
#include "nf_hex.h"

unsigned char *txid_key_new(void)
{
    unsigned char *key = sodium_malloc(crypto_shorthash_KEYBYTES);
    if (key == NULL)
        return NULL;
    crypto_shorthash_keygen(key);
    sodium_mprotect_readonly(key);
    return key;
}

void txid_key_free(unsigned char *key)
{
    if (key != NULL)
        sodium_free(key);
}

uint64_t txid_tag(const unsigned char *key, uint64_t id)
{
    unsigned char in[8], out[crypto_shorthash_BYTES];
    for (int i = 0; i < 8; i++)
        in[i] = (unsigned char)(id >> (8 * i));
    crypto_shorthash(out, in, sizeof(in), key);
    uint64_t tag = 0;
    for (int i = 0; i < 8; i++)
        tag |= (uint64_t)out[i] << (8 * i);
    return tag != 0 ? tag : 1;
}

size_t txid_format(char *buf, uint64_t id, uint64_t tag)
{
    /* Every reply carries ids: format without the printf machinery. */
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + id % 10u);
        id /= 10u;
    } while (id != 0);
    size_t len = 0;
    while (n > 0)
        buf[len++] = digits[--n];
    if (tag != 0) {
        static const char hex[] = "0123456789abcdef";
        buf[len++] = '-';
        for (int shift = 60; shift >= 0; shift -= 4)
            buf[len++] = hex[(tag >> shift) & 0xfu];
    }
    buf[len] = '\0';
    return len;
}

int txid_parse(const char *s, uint64_t *id, uint64_t *tag)
{
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return NF_EINVAL;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return NF_ERANGE;
        v = v * 10u + d;
    }
    uint64_t t = 0;
    if (*s == '-') {
        s++;
        for (int i = 0; i < 16; i++, s++) {
            int d = nf_hex_lower(*s);
            if (d < 0)
                return NF_EINVAL;
            t = t << 4 | (uint64_t)d;
        }
        if (t == 0)
            return NF_EINVAL;
    }
    if (*s != '\0')
        return NF_EINVAL;
    *id = v;
    *tag = t;
    return 0;
}

int txid_same(uint64_t a, uint64_t b)
{
    unsigned char x[8], y[8];
    memcpy(x, &a, 8);
    memcpy(y, &b, 8);
    return sodium_memcmp(x, y, 8) == 0;
}
