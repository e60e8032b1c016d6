/* req_json: parses HTTP request bodies of the three transfer APIs into fixed-size transfer records,
 * with field-precise errors that become HTTP 400 {"error","field","reason"}. Pure: no I/O, no
 * allocation (the caller provides the token scratch and the output array); any thread, typically an
 * ingest thread on its request path.
 *
 * Shapes:
 *   REQ_SHAPE_NATIVE  POST /v1/transfers  {"receiver_id","amount","memo"?,"idempotency_key"?} or
 *                     {"transfers":[{...},...]}. Unknown fields are errors naming them (typo
 *                     protection), at the top level and in each item.
 *   REQ_SHAPE_SEND_FT POST /send-ft (Node drop-in)  {"receiverId","amount","memo"?} or
 *                     {"transfers":[{"receiverId","amount","memo"?},...]}. Unknown fields are
 *                     ignored, as express does. "amount" may also be a JSON integer number (the
 *                     Node peer ran Number(amount)); it is read exactly, without float rounding;
 *                     fractions, exponents and negatives are rejected.
 *   REQ_SHAPE_RUST    POST /transfer (Rust drop-in)  {"receiver_id","amount","memo"?}; single
 *                     transfer only; unknown fields ignored.
 * Rules for every shape: the receiver passes account_id_check (nearcore rules); amount is a JSON
 * string of 1+ decimal digits (after unescaping) of a u128 > 0; memo is optional, null means
 * absent, at most memo_max_bytes of UTF-8 after unescaping and without NUL (\u0000);
 * idempotency_key (native only) is 1..128 bytes of printable ASCII. A member that appears twice is
 * an error in every shape (never silently "last wins"). */
#ifndef NF_REQ_JSON_H
#define NF_REQ_JSON_H

#include <stddef.h>

#include "jtok.h"
#include "u128.h"

#define REQ_RECEIVER_MAX 64
#define REQ_MEMO_MAX     256
#define REQ_IDEM_MAX     128

/* Tokens enough for max_items well-formed transfers carrying every field (unknown extra fields in
 * the drop-in shapes need more; running out is reported as an error, never an overflow). */
#define REQ_JSON_TOKENS(max_items) (16 + (size_t)(max_items)*16)

enum req_shape {
    REQ_SHAPE_NATIVE = 0,
    REQ_SHAPE_SEND_FT = 1,
    REQ_SHAPE_RUST = 2,
};

struct req_transfer {
    char receiver[REQ_RECEIVER_MAX + 1]; /* NUL-terminated account id */
    size_t receiver_len;
    nf_u128 amount;              /* > 0 */
    char memo[REQ_MEMO_MAX + 1]; /* unescaped UTF-8, NUL-terminated; "" unless has_memo */
    size_t memo_len;
    int has_memo;
    char idem_key[REQ_IDEM_MAX + 1]; /* printable ASCII, NUL-terminated; "" unless has_idem */
    size_t idem_len;
    int has_idem;
};

/* field: path of the offending value ("transfers[3].amount", "" for the whole body); reason: a
 * human sentence. Both are printable ASCII (user text is sanitized), safe to put in JSON. */
struct req_error {
    char field[64];
    char reason[160];
};

struct req_json_limits {
    size_t max_items;      /* most transfers accepted in one body (>= 1) */
    size_t memo_max_bytes; /* <= REQ_MEMO_MAX */
};

/* req_json_parse: parses body[0..len) of the given shape into out[0..lim->max_items).
 * toks[0..tok_cap) is scratch (REQ_JSON_TOKENS(lim->max_items) is a good size).
 * Returns 0 with *count transfers (>= 1) and *is_batch (1 for the {"transfers":[...]} form, 0 for
 * a single object, which shapes the HTTP answer); or NF_EINVAL with *err filled. Borrows every
 * pointer until return; out holds copies, nothing points into body. On error out is partly
 * written and must be ignored. */
int req_json_parse(enum req_shape shape,
                   const char *body,
                   size_t len,
                   const struct req_json_limits *lim,
                   struct jtok *toks,
                   size_t tok_cap,
                   struct req_transfer *out,
                   size_t *count,
                   int *is_batch,
                   struct req_error *err);

#endif
