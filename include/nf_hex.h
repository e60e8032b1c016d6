/* nf_hex: the value of one lowercase hexadecimal digit, for the formats nearftd writes in
 * lowercase and reads back strictly (token hashes, transfer id tags). Pure; header only. */
#ifndef NF_HEX_H
#define NF_HEX_H

/* nf_hex_lower: 0..15 for '0'-'9' and 'a'-'f', -1 for anything else (upper case included). */
static inline int nf_hex_lower(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

#endif
