/* base64: standard base64 (RFC 4648 alphabet, '=' padding), as NEAR's JSON-RPC carries signed
 * transactions and function-call args. Table-driven and not constant-time: for public data only
 * (keys and other secrets go through libsodium's constant-time sodium_bin2base64). Pure: no I/O, no
 * allocation, any thread. Accepts and rejects what sodium_base642bin does with
 * sodium_base64_VARIANT_ORIGINAL and no ignored characters, except bytes >= 0x80: libsodium's
 * constant-time lookup takes some of them as digits, nearcore's base64 (and this one) refuses them
 * (checked by test_base64 and the fuzz_base64 differential target). */
#ifndef NF_BASE64_H
#define NF_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* B64_ENCODED_LEN: text length for n bytes (no NUL). */
#define B64_ENCODED_LEN(n) ((((size_t)(n) + 2u) / 3u) * 4u)

/* b64_encode: writes the text of in[0..len) (B64_ENCODED_LEN(len) chars, no NUL) to out. Returns
 * the text length. out must have room for it. Borrows in and out until return. */
size_t b64_encode(const uint8_t *in, size_t len, char *out);

/* b64_decode: decodes text[0..len) (padded, canonical: unused bits zero) into out (cap bytes).
 * Returns the byte count (>= 0), NF_EINVAL for a bad character, bad padding, a length that is not
 * a multiple of 4 or non-zero unused bits, NF_ENOSPC when cap is too small. */
int b64_decode(const char *text, size_t len, uint8_t *out, size_t cap);

#endif
