/* req_json: request-body parsing for the native, Node drop-in and Rust drop-in transfer APIs (see
 * include/req_json.h). Runs on an ingest thread's request path: it tokenizes with jtok into the
 * caller's scratch, walks each object's members once, and copies the validated receiver, amount,
 * memo and idempotency key into the caller's fixed records. No allocation, no global state; every
 * error names the field path and says why, with user text sanitized to printable ASCII. */
#include "req_json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "account.h"
#include "nf_err.h"

struct ctx {
    enum req_shape shape;
    const char *body;
    const struct jtok *toks;
    const struct req_json_limits *lim;
    struct req_error *err;
};

/* set_field: "name", "transfers[3].name" or "transfers[3]" (name ""). */
static void set_field(struct req_error *e, int idx, const char *name)
{
    if (idx < 0)
        snprintf(e->field, sizeof(e->field), "%s", name);
    else if (name[0] == '\0')
        snprintf(e->field, sizeof(e->field), "transfers[%d]", idx);
    else
        snprintf(e->field, sizeof(e->field), "transfers[%d].%s", idx, name);
}

__attribute__((format(printf, 4, 5))) static int
fail(struct ctx *c, int idx, const char *name, const char *fmt, ...)
{
    set_field(c->err, idx, name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->reason, sizeof(c->err->reason), fmt, ap);
    va_end(ap);
    return NF_EINVAL;
}

/* sanitize: copies up to cap-1 bytes of src[0..len) keeping printable ASCII, '?' otherwise. */
static void sanitize(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    dst[n] = '\0';
}

enum field_id { F_RECEIVER, F_AMOUNT, F_MEMO, F_IDEM, F_COUNT };

static const char *field_name(const struct ctx *c, int f)
{
    switch (f) {
    case F_RECEIVER:
        return c->shape == REQ_SHAPE_SEND_FT ? "receiverId" : "receiver_id";
    case F_AMOUNT:
        return "amount";
    case F_MEMO:
        return "memo";
    default:
        return "idempotency_key";
    }
}

static int parse_receiver(struct ctx *c, int idx, int v, struct req_transfer *t)
{
    const char *name = field_name(c, F_RECEIVER);
    const struct jtok *tk = &c->toks[v];
    if (tk->type != JTOK_STRING)
        return fail(c, idx, name, "must be a string (a NEAR account id), got %s",
                    jtok_type_name(tk->type));
    size_t len = 0;
    int rc = jtok_str_unescape(c->body, tk, t->receiver, sizeof(t->receiver), &len);
    if (rc == NF_ENOSPC)
        return fail(c, idx, name, "invalid account id: longer than %d characters", ACCOUNT_ID_MAX);
    if (rc < 0)
        return fail(c, idx, name, "invalid string");
    const char *why = NULL;
    if (account_id_check(t->receiver, len, &why) < 0)
        return fail(c, idx, name, "invalid account id: %s", why ? why : "rejected");
    t->receiver_len = len;
    return 0;
}

static int parse_amount(struct ctx *c, int idx, int v, struct req_transfer *t)
{
    const struct jtok *tk = &c->toks[v];
    char buf[64];
    const char *digits;
    size_t len = 0;
    if (tk->type == JTOK_STRING) {
        int rc = jtok_str_unescape(c->body, tk, buf, sizeof(buf), &len);
        if (rc == NF_ENOSPC)
            return fail(c, idx, "amount", "out of range for u128 (too many digits)");
        if (rc < 0)
            return fail(c, idx, "amount", "must be a string of decimal digits");
        digits = buf;
    } else if (tk->type == JTOK_NUMBER && c->shape == REQ_SHAPE_SEND_FT) {
        if (!(tk->flags & JTOK_F_INT) || (tk->flags & JTOK_F_NEG))
            return fail(c, idx, "amount",
                        "must be a positive integer (a string of decimal digits is preferred)");
        digits = c->body + tk->start;
        len = (size_t)(tk->end - tk->start);
    } else {
        return fail(c, idx, "amount", "must be a string of decimal digits");
    }
    nf_u128 a = 0;
    int rc = u128_parse(digits, len, &a);
    if (rc == NF_ERANGE)
        return fail(c, idx, "amount",
                    "out of range for u128 (max 340282366920938463463374607431768211455)");
    if (rc < 0)
        return fail(c, idx, "amount", "must be a string of decimal digits");
    if (a == 0)
        return fail(c, idx, "amount", "must be greater than 0");
    t->amount = a;
    return 0;
}

static int parse_memo(struct ctx *c, int idx, int v, struct req_transfer *t)
{
    const struct jtok *tk = &c->toks[v];
    if (tk->type == JTOK_NULL)
        return 0;
    if (tk->type != JTOK_STRING)
        return fail(c, idx, "memo", "must be a string or null, got %s", jtok_type_name(tk->type));
    size_t len = 0;
    int rc = jtok_str_unescape(c->body, tk, t->memo, sizeof(t->memo), &len);
    if (rc == NF_ENOSPC || (rc == 0 && len > c->lim->memo_max_bytes))
        return fail(c, idx, "memo", "longer than %zu bytes", c->lim->memo_max_bytes);
    if (rc < 0)
        return fail(c, idx, "memo", "invalid UTF-8");
    if (memchr(t->memo, '\0', len) != NULL)
        return fail(c, idx, "memo", "must not contain NUL (\\u0000)");
    t->memo_len = len;
    t->has_memo = 1;
    return 0;
}

static int parse_idem(struct ctx *c, int idx, int v, struct req_transfer *t)
{
    const struct jtok *tk = &c->toks[v];
    if (tk->type == JTOK_NULL)
        return 0;
    if (tk->type != JTOK_STRING)
        return fail(c, idx, "idempotency_key", "must be a string, got %s",
                    jtok_type_name(tk->type));
    size_t len = 0;
    int rc = jtok_str_unescape(c->body, tk, t->idem_key, sizeof(t->idem_key), &len);
    if (rc == NF_ENOSPC)
        return fail(c, idx, "idempotency_key", "longer than %d bytes", REQ_IDEM_MAX);
    if (rc < 0 || len == 0)
        return fail(c, idx, "idempotency_key", "must be 1 to %d bytes of printable ASCII",
                    REQ_IDEM_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)t->idem_key[i];
        if (ch < 0x20 || ch > 0x7e)
            return fail(c, idx, "idempotency_key", "must be printable ASCII (byte %zu is not)", i);
    }
    t->idem_len = len;
    t->has_idem = 1;
    return 0;
}

/* parse_item: one transfer object at token o; idx is its position in "transfers" or -1. */
static int parse_item(struct ctx *c, int o, int idx, struct req_transfer *t)
{
    const struct jtok *toks = c->toks;
    if (toks[o].type != JTOK_OBJECT)
        return fail(c, idx, "", "must be an object, got %s", jtok_type_name(toks[o].type));
    memset(t, 0, sizeof(*t));
    int val[F_COUNT] = {-1, -1, -1, -1};
    int nfields = c->shape == REQ_SHAPE_NATIVE ? F_COUNT : F_IDEM;
    int k = o + 1;
    for (uint32_t i = 0; i < toks[o].size; i++, k = (int)toks[k + 1].next) {
        int f;
        for (f = 0; f < nfields; f++)
            if (jtok_str_eqz(c->body, &toks[k], field_name(c, f)))
                break;
        if (f < nfields) {
            if (val[f] >= 0)
                return fail(c, idx, field_name(c, f), "duplicate field");
            val[f] = k + 1;
            continue;
        }
        if (c->shape != REQ_SHAPE_NATIVE)
            continue; /* the drop-in peers ignored unknown fields */
        /* The top-level "transfers" of a batch is handled by the caller, not here. */
        char name[41];
        sanitize(name, sizeof(name), c->body + toks[k].start,
                 (size_t)(toks[k].end - toks[k].start));
        return fail(c, idx, name,
                    "unknown field (expected receiver_id, amount, memo, "
                    "idempotency_key)");
    }
    if (val[F_RECEIVER] < 0)
        return fail(c, idx, field_name(c, F_RECEIVER), "required");
    if (val[F_AMOUNT] < 0)
        return fail(c, idx, "amount", "required");
    int rc = parse_receiver(c, idx, val[F_RECEIVER], t);
    if (rc == 0)
        rc = parse_amount(c, idx, val[F_AMOUNT], t);
    if (rc == 0 && val[F_MEMO] >= 0)
        rc = parse_memo(c, idx, val[F_MEMO], t);
    if (rc == 0 && val[F_IDEM] >= 0)
        rc = parse_idem(c, idx, val[F_IDEM], t);
    return rc;
}

int req_json_parse(enum req_shape shape,
                   const char *body,
                   size_t len,
                   const struct req_json_limits *lim,
                   struct jtok *toks,
                   size_t tok_cap,
                   struct req_transfer *out,
                   size_t *count,
                   int *is_batch,
                   struct req_error *err)
{
    struct ctx c = {shape, body, toks, lim, err};
    err->field[0] = '\0';
    err->reason[0] = '\0';
    *count = 0;
    *is_batch = 0;
    if (lim->max_items < 1)
        return fail(&c, -1, "", "server accepts no transfers (max_batch_request is 0)");

    struct jtok_error je = {0, NULL};
    int n = jtok_parse(body, len, toks, tok_cap, &je);
    if (n == NF_ETOOMANY)
        return fail(&c, -1, "",
                    "request too large: more than %zu transfers or too many JSON values",
                    lim->max_items);
    if (n < 0)
        return fail(&c, -1, "", "body is not valid JSON: %s at byte %zu",
                    je.reason ? je.reason : "invalid", je.offset);
    if (toks[0].type != JTOK_OBJECT)
        return fail(&c, -1, "", "body must be a JSON object, got %s", jtok_type_name(toks[0].type));

    /* Find "transfers" (batch form) in the native and Node shapes. */
    int arr = -1;
    if (shape != REQ_SHAPE_RUST) {
        int k = 1;
        for (uint32_t i = 0; i < toks[0].size; i++, k = (int)toks[k + 1].next) {
            if (!jtok_str_eqz(body, &toks[k], "transfers"))
                continue;
            if (arr >= 0)
                return fail(&c, -1, "transfers", "duplicate field");
            arr = k + 1;
        }
    }
    if (arr < 0) {
        int rc = parse_item(&c, 0, -1, &out[0]);
        if (rc < 0)
            return rc;
        *count = 1;
        return 0;
    }

    if (shape == REQ_SHAPE_NATIVE && toks[0].size != 1) {
        int k = 1;
        for (uint32_t i = 0; i < toks[0].size; i++, k = (int)toks[k + 1].next) {
            if (jtok_str_eqz(body, &toks[k], "transfers"))
                continue;
            char name[41];
            sanitize(name, sizeof(name), body + toks[k].start,
                     (size_t)(toks[k].end - toks[k].start));
            return fail(&c, -1, name, "unknown field (a batch body has only \"transfers\")");
        }
    }
    if (toks[arr].type != JTOK_ARRAY)
        return fail(&c, -1, "transfers", "must be an array of transfer objects, got %s",
                    jtok_type_name(toks[arr].type));
    if (toks[arr].size == 0)
        return fail(&c, -1, "transfers", "must not be empty");
    if (toks[arr].size > lim->max_items)
        return fail(&c, -1, "transfers", "too many transfers: %u (at most %zu per request)",
                    toks[arr].size, lim->max_items);
    int e = arr + 1;
    for (uint32_t i = 0; i < toks[arr].size; i++, e = (int)toks[e].next) {
        int rc = parse_item(&c, e, (int)i, &out[i]);
        if (rc < 0)
            return rc;
    }
    *count = toks[arr].size;
    *is_batch = 1;
    return 0;
}
