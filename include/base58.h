/* base58: Bitcoin-alphabet base58 as NEAR uses it (keys, hashes, signatures). Pure: no I/O, no
 * allocation, any thread. Each leading 0x00 byte maps to '1' and back. */
#ifndef NF_BASE58_H
#define NF_BASE58_H

#include <stddef.h>
#include <stdint.h>

/* Enough for the base58 text of 64 bytes (at most 88 chars) plus NUL. */
#define B58_MAX_64 90
/* Enough for the base58 text of 32 bytes (at most 44 chars) plus NUL. */
#define B58_MAX_32 46

/* b58_encode: writes the base58 text of in[0..len) and a NUL into out (cap bytes).
 * Returns the text length (>= 0) or NF_ENOSPC. len <= 1024. Borrows in and out until return. */
int b58_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* b58_decode: decodes text[0..len) into out (cap bytes). Returns the decoded byte count (>= 0),
 * NF_EINVAL for a character outside the alphabet or empty text, NF_ENOSPC when the value needs
 * more than cap bytes. len <= 2048. Borrows text and out until return. */
int b58_decode(const char *text, size_t len, uint8_t *out, size_t cap);

/* b58_decode_exact: like b58_decode but succeeds (returns 0) only when the text decodes to
 * exactly n bytes; otherwise NF_EINVAL (bad char or wrong length). */
int b58_decode_exact(const char *text, size_t len, uint8_t *out, size_t n);

#endif
