/* u128: unsigned 128-bit amounts (yoctoNEAR, token units) as decimal strings and little-endian
 * bytes, with overflow detection and no floating point. Pure, any thread. */
#ifndef NF_U128_H
#define NF_U128_H

#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 nf_u128;

/* Longest decimal u128 (39 digits) plus NUL. */
#define U128_STR_MAX 40
#define U128_MAX     (~(nf_u128)0)

/* u128_parse: parses s[0..len) as a plain decimal number: 1 to 39 ASCII digits, no sign, no
 * spaces (leading zeros allowed). Returns 0 and sets *out, NF_EINVAL for an empty string or a
 * non-digit, NF_ERANGE above 2^128-1. Borrows s until return. */
int u128_parse(const char *s, size_t len, nf_u128 *out);

/* u128_format: writes v in decimal plus NUL into out (U128_STR_MAX bytes). Returns the length. */
int u128_format(nf_u128 v, char out[U128_STR_MAX]);

/* u128_to_le / u128_from_le: 16-byte little-endian (Borsh) form. */
void u128_to_le(nf_u128 v, uint8_t out[16]);
nf_u128 u128_from_le(const uint8_t in[16]);

/* u128_add_overflow / u128_mul_overflow: *out = a op b; return 1 on overflow (out undefined). */
int u128_add_overflow(nf_u128 a, nf_u128 b, nf_u128 *out);
int u128_mul_overflow(nf_u128 a, nf_u128 b, nf_u128 *out);

#endif
