/* jtok: a zero-allocation, strict RFC 8259 JSON tokenizer/validator. One pass over the text fills a
 * caller-provided token array; nothing is copied or decoded until a helper asks for it. It is the
 * parser for every request body and every JSON-RPC response, so it rejects everything RFC 8259
 * rejects (trailing commas, leading zeros, bad escapes, lone \u surrogates, invalid UTF-8, raw
 * control characters in strings, trailing bytes) and never reads outside json[0..len).
 * Pure: no I/O, no allocation, no global state; any thread.
 *
 * Token layout (pre-order, like jsmn):
 *   - toks[0] is the top-level value.
 *   - An OBJECT at index o with size n is followed by n members; each member is a key token (a
 *     STRING with JTOK_F_KEY) immediately followed by its value tokens. Member walk:
 *         for (int k = o + 1, i = 0; i < toks[o].size; i++, k = toks[k + 1].next) { key k, value
 * k+1 }
 *   - An ARRAY with size n is followed by its n elements: e = a + 1, then e = toks[e].next.
 *   - toks[i].next is the index just past token i's whole subtree (i + 1 for scalars and keys), so
 *     skipping a value is O(1).
 * Offsets: STRING start/end exclude the quotes (raw, still escaped); containers span '{'..'}'
 * inclusive ([start, end) with end one past the closing bracket); numbers and literals are exact.
 */
#ifndef NF_JTOK_H
#define NF_JTOK_H

#include <stddef.h>
#include <stdint.h>

#include "u128.h"

enum jtok_type {
    JTOK_NONE = 0,
    JTOK_OBJECT = 1,
    JTOK_ARRAY = 2,
    JTOK_STRING = 3,
    JTOK_NUMBER = 4,
    JTOK_TRUE = 5,
    JTOK_FALSE = 6,
    JTOK_NULL = 7,
};

/* Token flags. */
#define JTOK_F_KEY     0x01 /* STRING: an object member name */
#define JTOK_F_ESCAPED 0x02 /* STRING: contains at least one backslash escape */
#define JTOK_F_INT     0x04 /* NUMBER: no fraction and no exponent */
#define JTOK_F_NEG     0x08 /* NUMBER: starts with '-' */

/* Containers nested deeper than this are rejected (bounded work, bounded stack). */
#define JTOK_MAX_DEPTH 64
/* Inputs of this size or more are rejected (offsets are 32-bit). */
#define JTOK_MAX_LEN 0xFFFFFFF0u

struct jtok {
    uint8_t type;  /* enum jtok_type */
    uint8_t flags; /* JTOK_F_* */
    uint32_t start;
    uint32_t end;
    uint32_t size; /* OBJECT: member count; ARRAY: element count; others 0 */
    uint32_t next; /* index just past this token's subtree */
};

/* Where and why a parse failed. reason is a static English string ("expected ':'", ...). */
struct jtok_error {
    size_t offset;
    const char *reason;
};

/* jtok_parse: tokenizes json[0..len) (need not be NUL-terminated) into toks[0..cap).
 * Returns the token count (>= 1) on success; NF_EINVAL for text that is not one valid JSON value
 * (then *err, if err != NULL, says where and why; invalid UTF-8 inside a string is NF_EINVAL too,
 * with reason "invalid UTF-8"); NF_ETOOMANY when more than cap tokens are needed (err->offset
 * is where the token array ran out); NF_ERANGE when len >= JTOK_MAX_LEN.
 * Borrows json, toks and err until return; toks then refer into json by offset. */
int jtok_parse(const char *json, size_t len, struct jtok *toks, size_t cap, struct jtok_error *err);

/* jtok_obj_get: index of the value of member `key` (a plain NUL-terminated literal, compared
 * against the unescaped member name) in the OBJECT toks[obj]; the first match wins. Returns the
 * value index (> obj) or NF_ENOTFOUND (also when toks[obj] is not an object). */
int jtok_obj_get(const char *json, const struct jtok *toks, int obj, const char *key);

/* jtok_str_eq: 1 when STRING token t, unescaped, equals lit[0..lit_len); 0 otherwise (also for
 * non-strings). Handles escapes without copying. */
int jtok_str_eq(const char *json, const struct jtok *t, const char *lit, size_t lit_len);
/* jtok_str_eqz: jtok_str_eq with a NUL-terminated literal. */
int jtok_str_eqz(const char *json, const struct jtok *t, const char *lit);

/* jtok_str_unescape: decodes STRING token t into out[0..cap) as UTF-8 plus a NUL; *len (if not
 * NULL) gets the byte count without the NUL. \uXXXX pairs become one code point; a lone surrogate
 * is NF_EUTF8 (jtok_parse already rejects those, so only hand-made tokens hit it). Returns 0,
 * NF_ENOSPC when len + 1 > cap, NF_EINVAL when t is not a STRING. The output may contain NUL
 * bytes (from \u0000): use *len, not strlen. */
int jtok_str_unescape(const char *json, const struct jtok *t, char *out, size_t cap, size_t *len);

/* jtok_str_copy_trunc: like jtok_str_unescape but never fails for lack of room: it copies as many
 * whole characters as fit in cap - 1 bytes (cap >= 1), cutting only at a UTF-8 boundary, and
 * NUL-terminates. For messages that are logged or reported, not interpreted. Returns 0, 1 when it
 * truncated, or NF_EINVAL (not a STRING) / NF_EUTF8 (lone surrogate in a hand-made token). */
int jtok_str_copy_trunc(const char *json, const struct jtok *t, char *out, size_t cap, size_t *len);

/* jtok_u64: value of NUMBER token t that is a non-negative integer without fraction or exponent.
 * Returns 0; NF_EINVAL for another type, a negative number or a fraction/exponent; NF_ERANGE above
 * 2^64-1. */
int jtok_u64(const char *json, const struct jtok *t, uint64_t *out);

/* jtok_u128_str: value of a STRING token holding 1..39 decimal digits (NEAR balances). Returns 0,
 * NF_EINVAL (not a string / not digits / escaped), NF_ERANGE (above 2^128-1). */
int jtok_u128_str(const char *json, const struct jtok *t, nf_u128 *out);

/* jtok_double: value of any NUMBER token as a double (strtod on a bounded copy). Returns 0 or
 * NF_EINVAL / NF_ERANGE (more than 63 characters). */
int jtok_double(const char *json, const struct jtok *t, double *out);

/* jtok_type_name: "object", "array", "string", "number", "true", "false", "null" or "none". */
const char *jtok_type_name(int type);

#endif
