/* nf_utf8: UTF-8 validation and JSON string escaping (src/util/utf8.c). Pure, any thread; every
 * function borrows its buffers until it returns. */
#ifndef NF_UTF8_H
#define NF_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* nf_utf8_valid: 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int nf_utf8_valid(const uint8_t *s, size_t len);

/* nf_json_escape: JSON.stringify string-body escaping of valid UTF-8 in[0..len) into out
 * (no quotes). Returns the length or NF_EUTF8 / NF_ENOSPC (invalid UTF-8 anywhere wins over a
 * short buffer). Shared by the JSON writer, the NEP-141 argument builders and nearsim. */
int nf_json_escape(const char *in, size_t len, char *out, size_t cap);

#endif
