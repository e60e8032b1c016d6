/* jtok: strict RFC 8259 JSON tokenizer (see include/jtok.h). One forward pass with an explicit
 * container stack (depth <= JTOK_MAX_DEPTH) and no recursion; strings are scanned eight bytes at a
 * time while they hold plain ASCII. Every read is guarded by the end pointer, so the input need not
 * be NUL-terminated. Pure, any thread, owns nothing: the caller owns the text and the tokens. */
#include "jtok.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nf_err.h"

struct parser {
    const unsigned char *base;
    const unsigned char *p;
    const unsigned char *end;
    struct jtok *toks;
    size_t cap;
    size_t n;
    struct jtok_error *err;
};

static int fail(struct parser *ps, const unsigned char *at, const char *reason, int code)
{
    if (ps->err != NULL) {
        ps->err->offset = (size_t)(at - ps->base);
        ps->err->reason = reason;
    }
    return code;
}

static int new_tok(struct parser *ps, int type, const unsigned char *start)
{
    if (ps->n >= ps->cap)
        return fail(ps, start, "too many tokens", NF_ETOOMANY);
    struct jtok *t = &ps->toks[ps->n];
    t->type = (uint8_t)type;
    t->flags = 0;
    t->start = (uint32_t)(start - ps->base);
    t->end = t->start;
    t->size = 0;
    t->next = (uint32_t)(ps->n + 1);
    return (int)ps->n++;
}

static inline void skip_ws(struct parser *ps)
{
    const unsigned char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* read_hex4: 4 hex digits at p (bounds checked by the caller) or -1. */
static int read_hex4(const unsigned char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = (v << 4) | h;
    }
    return v;
}

/* utf8_seq: length (2..4) of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0. Rejects
 * overlong forms, UTF-16 surrogates and code points above U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t avail = (size_t)(end - p);
    if (c >= 0xC2 && c <= 0xDF) {
        if (avail < 2 || (p[1] & 0xC0) != 0x80)
            return 0;
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3)
            return 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4)
            return 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/* ascii_run8: nonzero when any of the 8 bytes in w is < 0x20, '"', '\\' or >= 0x80. */
static inline uint64_t special8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"');
    uint64_t b = w ^ (ones * '\\');
    uint64_t lt = (w - ones * 0x20) & ~w;
    uint64_t zq = (q - ones) & ~q;
    uint64_t zb = (b - ones) & ~b;
    return ((lt | zq | zb) & highs) | (w & highs);
}

/* parse_string: ps->p is at the opening quote. Fills token ti (start/end/flags). */
static int parse_string(struct parser *ps, int ti)
{
    const unsigned char *p = ps->p + 1, *end = ps->end;
    struct jtok *t = &ps->toks[ti];
    t->start = (uint32_t)(p - ps->base);
    for (;;) {
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t m = special8(w);
            if (m) {
                /* The lowest flagged byte is exact (borrows only run upward): jump to it. */
                p += __builtin_ctzll(m) >> 3;
                break;
            }
            p += 8;
        }
        if (p >= end)
            return fail(ps, p, "unterminated string", NF_EINVAL);
        unsigned char c = *p;
        if (c == '"') {
            t->end = (uint32_t)(p - ps->base);
            ps->p = p + 1;
            return 0;
        }
        if (c < 0x20)
            return fail(ps, p, "control character in string", NF_EINVAL);
        if (c < 0x80 && c != '\\') {
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_seq(p, end);
            if (n == 0)
                return fail(ps, p, "invalid UTF-8", NF_EINVAL);
            p += n;
            continue;
        }
        /* backslash escape */
        t->flags |= JTOK_F_ESCAPED;
        if (end - p < 2)
            return fail(ps, p, "unterminated string", NF_EINVAL);
        c = p[1];
        switch (c) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p += 2;
            continue;
        case 'u':
            break;
        default:
            return fail(ps, p, "invalid escape", NF_EINVAL);
        }
        if (end - p < 6)
            return fail(ps, p, "truncated \\u escape", NF_EINVAL);
        int u = read_hex4(p + 2);
        if (u < 0)
            return fail(ps, p, "invalid \\u escape", NF_EINVAL);
        if (u >= 0xDC00 && u <= 0xDFFF)
            return fail(ps, p, "lone low surrogate in \\u escape", NF_EINVAL);
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
                return fail(ps, p, "lone high surrogate in \\u escape", NF_EINVAL);
            int lo = read_hex4(p + 8);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(ps, p, "lone high surrogate in \\u escape", NF_EINVAL);
            p += 12;
        } else {
            p += 6;
        }
    }
}

static inline int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* parse_number: ps->p at '-' or a digit. */
static int parse_number(struct parser *ps, int ti)
{
    const unsigned char *p = ps->p, *end = ps->end;
    struct jtok *t = &ps->toks[ti];
    uint8_t flags = JTOK_F_INT;
    if (*p == '-') {
        flags |= JTOK_F_NEG;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return fail(ps, p, "invalid number", NF_EINVAL);
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return fail(ps, p - 1, "leading zero in number", NF_EINVAL);
    } else {
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && *p == '.') {
        flags &= (uint8_t)~JTOK_F_INT;
        p++;
        if (p >= end || !is_digit(*p))
            return fail(ps, p, "digit expected after '.'", NF_EINVAL);
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        flags &= (uint8_t)~JTOK_F_INT;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return fail(ps, p, "digit expected in exponent", NF_EINVAL);
        while (p < end && is_digit(*p))
            p++;
    }
    t->flags = flags;
    t->end = (uint32_t)(p - ps->base);
    ps->p = p;
    return 0;
}

static int parse_literal(struct parser *ps, int ti, const char *word, size_t wlen)
{
    if ((size_t)(ps->end - ps->p) < wlen || memcmp(ps->p, word, wlen) != 0)
        return fail(ps, ps->p, "invalid literal", NF_EINVAL);
    ps->p += wlen;
    ps->toks[ti].end = (uint32_t)(ps->p - ps->base);
    return 0;
}

int jtok_parse(const char *json, size_t len, struct jtok *toks, size_t cap, struct jtok_error *err)
{
    struct parser ps = {(const unsigned char *)json,
                        (const unsigned char *)json,
                        (const unsigned char *)json + len,
                        toks,
                        cap,
                        0,
                        err};
    int stack[JTOK_MAX_DEPTH];
    int depth = 0;
    int rc;

    if (len >= JTOK_MAX_LEN)
        return fail(&ps, ps.p, "input too large", NF_ERANGE);
    if (cap > (size_t)0x7FFFFFF0)
        ps.cap = 0x7FFFFFF0;

    for (;;) {
        /* expect a value */
        skip_ws(&ps);
        if (ps.p >= ps.end)
            return fail(&ps, ps.p, depth ? "unexpected end of input" : "empty input", NF_EINVAL);
        if (depth > 0 && toks[stack[depth - 1]].type == JTOK_ARRAY)
            toks[stack[depth - 1]].size++;
        unsigned char c = *ps.p;
        int ti;
        switch (c) {
        case '{':
        case '[':
            if (depth >= JTOK_MAX_DEPTH)
                return fail(&ps, ps.p, "nesting too deep", NF_EINVAL);
            ti = new_tok(&ps, c == '{' ? JTOK_OBJECT : JTOK_ARRAY, ps.p);
            if (ti < 0)
                return ti;
            stack[depth++] = ti;
            ps.p++;
            skip_ws(&ps);
            if (ps.p < ps.end && *ps.p == (c == '{' ? '}' : ']')) {
                toks[ti].end = (uint32_t)(ps.p + 1 - ps.base);
                toks[ti].next = (uint32_t)ps.n;
                depth--;
                ps.p++;
                goto after_value;
            }
            if (c == '[')
                continue;
            goto expect_key;
        case '"':
            ti = new_tok(&ps, JTOK_STRING, ps.p);
            if (ti < 0)
                return ti;
            if ((rc = parse_string(&ps, ti)) < 0)
                return rc;
            goto after_value;
        case 't':
        case 'f':
        case 'n':
            ti = new_tok(&ps, c == 't' ? JTOK_TRUE : c == 'f' ? JTOK_FALSE : JTOK_NULL, ps.p);
            if (ti < 0)
                return ti;
            rc = parse_literal(&ps, ti,
                               c == 't'   ? "true"
                               : c == 'f' ? "false"
                                          : "null",
                               c == 'f' ? 5 : 4);
            if (rc < 0)
                return rc;
            goto after_value;
        default:
            if (c == '-' || is_digit(c)) {
                ti = new_tok(&ps, JTOK_NUMBER, ps.p);
                if (ti < 0)
                    return ti;
                if ((rc = parse_number(&ps, ti)) < 0)
                    return rc;
                goto after_value;
            }
            return fail(&ps, ps.p, "expected a value", NF_EINVAL);
        }

    expect_key:
        /* inside an object, after '{' or ',': a member name, ':' then a value */
        skip_ws(&ps);
        if (ps.p >= ps.end)
            return fail(&ps, ps.p, "unexpected end of input", NF_EINVAL);
        if (*ps.p != '"')
            return fail(&ps, ps.p, "expected a string member name", NF_EINVAL);
        ti = new_tok(&ps, JTOK_STRING, ps.p);
        if (ti < 0)
            return ti;
        if ((rc = parse_string(&ps, ti)) < 0)
            return rc;
        toks[ti].flags |= JTOK_F_KEY;
        toks[stack[depth - 1]].size++;
        skip_ws(&ps);
        if (ps.p >= ps.end || *ps.p != ':')
            return fail(&ps, ps.p, "expected ':'", NF_EINVAL);
        ps.p++;
        continue;

    after_value:
        /* a complete value ended at ps.p */
        for (;;) {
            skip_ws(&ps);
            if (depth == 0) {
                if (ps.p != ps.end)
                    return fail(&ps, ps.p, "trailing characters after the JSON value", NF_EINVAL);
                return (int)ps.n;
            }
            int parent = stack[depth - 1];
            int is_obj = toks[parent].type == JTOK_OBJECT;
            if (ps.p >= ps.end)
                return fail(&ps, ps.p, "unexpected end of input", NF_EINVAL);
            c = *ps.p;
            if (c == ',') {
                ps.p++;
                break;
            }
            if (c == (is_obj ? '}' : ']')) {
                ps.p++;
                toks[parent].end = (uint32_t)(ps.p - ps.base);
                toks[parent].next = (uint32_t)ps.n;
                depth--;
                continue;
            }
            return fail(&ps, ps.p, is_obj ? "expected ',' or '}'" : "expected ',' or ']'",
                        NF_EINVAL);
        }
        if (toks[stack[depth - 1]].type == JTOK_OBJECT)
            goto expect_key;
    }
}

/* ---- decoding helpers ------------------------------------------------------------------------ */

/* next_unit: decodes one character of the raw string [*pp, end) (already validated by
 * jtok_parse, but still bounds-checked) into buf as UTF-8. Returns its byte count (1..4), or
 * NF_EUTF8 for a lone surrogate / NF_EINVAL for a malformed escape. */
static int next_unit(const unsigned char **pp, const unsigned char *end, unsigned char buf[4])
{
    const unsigned char *p = *pp;
    if (*p != '\\') {
        buf[0] = *p;
        *pp = p + 1;
        return 1;
    }
    if (end - p < 2)
        return NF_EINVAL;
    unsigned char c = p[1];
    unsigned char simple = 0;
    switch (c) {
    case '"':
        simple = '"';
        break;
    case '\\':
        simple = '\\';
        break;
    case '/':
        simple = '/';
        break;
    case 'b':
        simple = '\b';
        break;
    case 'f':
        simple = '\f';
        break;
    case 'n':
        simple = '\n';
        break;
    case 'r':
        simple = '\r';
        break;
    case 't':
        simple = '\t';
        break;
    case 'u':
        break;
    default:
        return NF_EINVAL;
    }
    if (c != 'u') {
        buf[0] = simple;
        *pp = p + 2;
        return 1;
    }
    if (end - p < 6)
        return NF_EINVAL;
    int u = read_hex4(p + 2);
    if (u < 0)
        return NF_EINVAL;
    uint32_t cp = (uint32_t)u;
    p += 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return NF_EUTF8;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
            return NF_EUTF8;
        int lo = read_hex4(p + 2);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return NF_EUTF8;
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
        p += 6;
    }
    *pp = p;
    if (cp < 0x80) {
        buf[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        buf[0] = (unsigned char)(0xC0 | (cp >> 6));
        buf[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        buf[0] = (unsigned char)(0xE0 | (cp >> 12));
        buf[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    buf[0] = (unsigned char)(0xF0 | (cp >> 18));
    buf[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int jtok_str_eq(const char *json, const struct jtok *t, const char *lit, size_t lit_len)
{
    if (t->type != JTOK_STRING || t->end < t->start)
        return 0;
    size_t raw = (size_t)(t->end - t->start);
    const unsigned char *p = (const unsigned char *)json + t->start;
    if (!(t->flags & JTOK_F_ESCAPED))
        return raw == lit_len && memcmp(p, lit, lit_len) == 0;
    /* Escapes only shrink the text, so a raw length shorter than lit cannot match. */
    if (raw < lit_len)
        return 0;
    const unsigned char *end = p + raw;
    size_t off = 0;
    while (p < end) {
        unsigned char buf[4];
        int n = next_unit(&p, end, buf);
        if (n < 0 || off + (size_t)n > lit_len || memcmp(lit + off, buf, (size_t)n) != 0)
            return 0;
        off += (size_t)n;
    }
    return off == lit_len;
}

int jtok_str_eqz(const char *json, const struct jtok *t, const char *lit)
{
    return jtok_str_eq(json, t, lit, strlen(lit));
}

int jtok_obj_get(const char *json, const struct jtok *toks, int obj, const char *key)
{
    if (obj < 0 || toks[obj].type != JTOK_OBJECT)
        return NF_ENOTFOUND;
    size_t klen = strlen(key);
    int k = obj + 1;
    for (uint32_t i = 0; i < toks[obj].size; i++) {
        if (jtok_str_eq(json, &toks[k], key, klen))
            return k + 1;
        k = (int)toks[k + 1].next;
    }
    return NF_ENOTFOUND;
}

int jtok_str_unescape(const char *json, const struct jtok *t, char *out, size_t cap, size_t *len)
{
    if (t->type != JTOK_STRING || t->end < t->start)
        return NF_EINVAL;
    const unsigned char *p = (const unsigned char *)json + t->start;
    const unsigned char *end = (const unsigned char *)json + t->end;
    size_t off = 0;
    if (!(t->flags & JTOK_F_ESCAPED)) {
        size_t raw = (size_t)(end - p);
        if (raw + 1 > cap)
            return NF_ENOSPC;
        memcpy(out, p, raw);
        off = raw;
    } else {
        while (p < end) {
            unsigned char buf[4];
            int n = next_unit(&p, end, buf);
            if (n < 0)
                return n;
            if (off + (size_t)n + 1 > cap)
                return NF_ENOSPC;
            memcpy(out + off, buf, (size_t)n);
            off += (size_t)n;
        }
        if (off + 1 > cap)
            return NF_ENOSPC;
    }
    out[off] = '\0';
    if (len != NULL)
        *len = off;
    return 0;
}

int jtok_str_copy_trunc(const char *json, const struct jtok *t, char *out, size_t cap, size_t *len)
{
    if (t->type != JTOK_STRING || t->end < t->start || cap < 1)
        return NF_EINVAL;
    const unsigned char *p = (const unsigned char *)json + t->start;
    const unsigned char *end = (const unsigned char *)json + t->end;
    size_t off = 0;
    int truncated = 0;
    while (p < end) {
        unsigned char buf[4];
        int n;
        if (*p >= 0x80) {
            /* copy a raw UTF-8 sequence whole (validated by jtok_parse) */
            n = 1;
            while (n < 4 && p + n < end && (p[n] & 0xC0) == 0x80)
                n++;
            memcpy(buf, p, (size_t)n);
            p += n;
        } else {
            n = next_unit(&p, end, buf);
            if (n < 0) {
                out[off] = '\0';
                return n;
            }
        }
        if (off + (size_t)n + 1 > cap) {
            truncated = 1;
            break;
        }
        memcpy(out + off, buf, (size_t)n);
        off += (size_t)n;
    }
    out[off] = '\0';
    if (len != NULL)
        *len = off;
    return truncated;
}

int jtok_u64(const char *json, const struct jtok *t, uint64_t *out)
{
    if (t->type != JTOK_NUMBER || !(t->flags & JTOK_F_INT) || (t->flags & JTOK_F_NEG))
        return NF_EINVAL;
    uint64_t v = 0;
    for (uint32_t i = t->start; i < t->end; i++) {
        unsigned d = (unsigned)(unsigned char)json[i] - '0';
        if (d > 9)
            return NF_EINVAL;
        if (v > (UINT64_MAX - d) / 10)
            return NF_ERANGE;
        v = v * 10 + d;
    }
    if (t->end == t->start)
        return NF_EINVAL;
    *out = v;
    return 0;
}

int jtok_u128_str(const char *json, const struct jtok *t, nf_u128 *out)
{
    if (t->type != JTOK_STRING || (t->flags & JTOK_F_ESCAPED) || t->end <= t->start)
        return NF_EINVAL;
    return u128_parse(json + t->start, (size_t)(t->end - t->start), out);
}

int jtok_double(const char *json, const struct jtok *t, double *out)
{
    if (t->type != JTOK_NUMBER || t->end <= t->start)
        return NF_EINVAL;
    size_t n = (size_t)(t->end - t->start);
    char buf[64];
    if (n >= sizeof(buf))
        return NF_ERANGE;
    memcpy(buf, json + t->start, n);
    buf[n] = '\0';
    char *e;
    errno = 0;
    double v = strtod(buf, &e);
    if (e != buf + n)
        return NF_EINVAL;
    if (errno == ERANGE)
        return NF_ERANGE;
    *out = v;
    return 0;
}

const char *jtok_type_name(int type)
{
    switch (type) {
    case JTOK_OBJECT:
        return "object";
    case JTOK_ARRAY:
        return "array";
    case JTOK_STRING:
        return "string";
    case JTOK_NUMBER:
        return "number";
    case JTOK_TRUE:
        return "true";
    case JTOK_FALSE:
        return "false";
    case JTOK_NULL:
        return "null";
    default:
        return "none";
    }
}
