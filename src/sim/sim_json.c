/* sim_json: strict recursive-descent JSON validator that extracts selected members of a
 * top-level object (see sim_json.h). Written for nearsim's FT contract model, where every
 * ft_transfer action's arguments are parsed at execution time, so it allocates nothing and
 * touches each byte once. Pure, any thread. */
#include "sim_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "near_tx.h"
#include "nf_err.h"
#include "nf_utf8.h"

#define SIM_JSON_MAX_DEPTH 64

struct jp {
    const uint8_t *p;
    const uint8_t *end;
    const uint8_t *start;
    char *why;
    size_t whycap;
};

static int fail(struct jp *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct jp *j, const char *fmt, ...)
{
    if (j->why != NULL && j->whycap > 0) {
        char msg[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* serde_json counts columns in bytes, 1-based, of the last consumed character. */
        size_t line = 1, col = 0;
        for (const uint8_t *q = j->start; q < j->p && q < j->end; q++) {
            if (*q == '\n') {
                line++;
                col = 0;
            } else {
                col++;
            }
        }
        snprintf(j->why, j->whycap, "%s at line %zu column %zu", msg, line, col);
    }
    return NF_EINVAL;
}

static void skip_ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* parse_string: j->p at the opening quote; leaves j->p after the closing quote. */
static int parse_string(struct jp *j)
{
    j->p++;
    const uint8_t *run = j->p;
    while (j->p < j->end) {
        uint8_t c = *j->p;
        if (c == '"') {
            if (!nf_utf8_valid(run, (size_t)(j->p - run)))
                return fail(j, "invalid unicode code point");
            j->p++;
            return 0;
        }
        if (c < 0x20)
            return fail(j, "control character (\\u0000-\\u001F) found while parsing a string");
        if (c == '\\') {
            if (!nf_utf8_valid(run, (size_t)(j->p - run)))
                return fail(j, "invalid unicode code point");
            j->p++;
            if (j->p >= j->end)
                break;
            c = *j->p;
            if (c == 'u') {
                if (j->end - j->p < 5)
                    return fail(j, "EOF while parsing a string");
                for (int k = 1; k <= 4; k++)
                    if (hexval(j->p[k]) < 0)
                        return fail(j, "invalid escape");
                j->p += 5;
            } else if (strchr("\"\\/bfnrt", c) != NULL && c != 0) {
                j->p++;
            } else {
                return fail(j, "invalid escape");
            }
            run = j->p;
            continue;
        }
        j->p++;
    }
    return fail(j, "EOF while parsing a string");
}

static int parse_number(struct jp *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end)
        return fail(j, "EOF while parsing a value");
    if (*j->p == '0') {
        j->p++;
    } else if (*j->p >= '1' && *j->p <= '9') {
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    } else {
        return fail(j, "invalid number");
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return fail(j, "invalid number");
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return fail(j, "invalid number");
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    return 0;
}

static int parse_literal(struct jp *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return fail(j, "expected ident");
    j->p += n;
    return 0;
}

static int parse_value(struct jp *j, int depth, enum sim_jtype *type);

static int parse_members(struct jp *j, int depth, struct sim_jfield *fields, size_t n)
{
    j->p++; /* '{' */
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        skip_ws(j);
        if (j->p >= j->end)
            return fail(j, "EOF while parsing an object");
        if (*j->p != '"')
            return fail(j, "key must be a string");
        const uint8_t *kstart = j->p;
        if (parse_string(j) != 0)
            return NF_EINVAL;
        const uint8_t *kend = j->p;
        skip_ws(j);
        if (j->p >= j->end)
            return fail(j, "EOF while parsing an object");
        if (*j->p != ':')
            return fail(j, "expected `:`");
        j->p++;
        skip_ws(j);
        const uint8_t *vstart = j->p;
        enum sim_jtype t;
        if (parse_value(j, depth + 1, &t) != 0)
            return NF_EINVAL;
        for (size_t i = 0; i < n && fields != NULL; i++) {
            size_t nl = strlen(fields[i].name);
            /* Keys with escapes never match a plain field name (serde compares decoded text,
             * but no FT field name needs escaping and clients do not escape them). */
            if ((size_t)(kend - kstart) == nl + 2 && memcmp(kstart + 1, fields[i].name, nl) == 0) {
                if (fields[i].type != SIM_J_NONE)
                    return fail(j, "duplicate field `%s`", fields[i].name);
                fields[i].type = t;
                fields[i].raw = (const char *)vstart;
                fields[i].raw_len = (size_t)(j->p - vstart);
            }
        }
        skip_ws(j);
        if (j->p >= j->end)
            return fail(j, "EOF while parsing an object");
        if (*j->p == ',') {
            j->p++;
            skip_ws(j);
            if (j->p < j->end && *j->p == '}')
                return fail(j, "trailing comma");
            continue;
        }
        if (*j->p == '}') {
            j->p++;
            return 0;
        }
        return fail(j, "expected `,` or `}`");
    }
}

static int parse_value(struct jp *j, int depth, enum sim_jtype *type)
{
    if (depth > SIM_JSON_MAX_DEPTH)
        return fail(j, "recursion limit exceeded");
    skip_ws(j);
    if (j->p >= j->end)
        return fail(j, "EOF while parsing a value");
    switch (*j->p) {
    case '"':
        *type = SIM_J_STRING;
        return parse_string(j);
    case '{':
        *type = SIM_J_OBJECT;
        return parse_members(j, depth, NULL, 0);
    case '[':
        *type = SIM_J_ARRAY;
        j->p++;
        skip_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return 0;
        }
        for (;;) {
            enum sim_jtype t;
            if (parse_value(j, depth + 1, &t) != 0)
                return NF_EINVAL;
            skip_ws(j);
            if (j->p >= j->end)
                return fail(j, "EOF while parsing a list");
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p == ']') {
                j->p++;
                return 0;
            }
            return fail(j, "expected `,` or `]`");
        }
    case 't':
        *type = SIM_J_TRUE;
        return parse_literal(j, "true");
    case 'f':
        *type = SIM_J_FALSE;
        return parse_literal(j, "false");
    case 'n':
        *type = SIM_J_NULL;
        return parse_literal(j, "null");
    default:
        *type = SIM_J_NUMBER;
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
            return parse_number(j);
        return fail(j, "expected value");
    }
}

int sim_json_object(
    const uint8_t *buf, size_t len, struct sim_jfield *fields, size_t n, char *why, size_t whycap)
{
    struct jp j = {.p = buf, .end = buf + len, .start = buf, .why = why, .whycap = whycap};
    if (why != NULL && whycap > 0)
        why[0] = 0;
    for (size_t i = 0; i < n; i++) {
        fields[i].type = SIM_J_NONE;
        fields[i].raw = NULL;
        fields[i].raw_len = 0;
    }
    skip_ws(&j);
    if (j.p >= j.end)
        return fail(&j, "EOF while parsing a value");
    int rc;
    if (*j.p == '{') {
        rc = parse_members(&j, 1, fields, n);
    } else {
        enum sim_jtype t;
        rc = parse_value(&j, 1, &t);
        if (rc == 0)
            return fail(&j, "invalid type: %s, expected a map", sim_json_type_name(t));
    }
    if (rc != 0)
        return rc;
    skip_ws(&j);
    if (j.p != j.end)
        return fail(&j, "trailing characters");
    return 0;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval((uint8_t)s[k]);
        if (h < 0)
            return -1;
        v = v * 16 + (uint32_t)h;
    }
    *out = v;
    return 0;
}

int sim_json_string(const char *raw, size_t len, char *out, size_t cap)
{
    if (len < 2 || raw[0] != '"' || raw[len - 1] != '"')
        return NF_EINVAL;
    size_t o = 0;
    const char *p = raw + 1, *end = raw + len - 1;
    while (p < end) {
        char tmp[4];
        size_t n;
        if (*p != '\\') {
            if (o + 1 >= cap)
                return NF_ENOSPC;
            out[o++] = *p++;
            continue;
        }
        p++;
        if (p >= end)
            return NF_EINVAL;
        char c = *p++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            tmp[0] = c;
            n = 1;
            break;
        case 'b':
            tmp[0] = '\b';
            n = 1;
            break;
        case 'f':
            tmp[0] = '\f';
            n = 1;
            break;
        case 'n':
            tmp[0] = '\n';
            n = 1;
            break;
        case 'r':
            tmp[0] = '\r';
            n = 1;
            break;
        case 't':
            tmp[0] = '\t';
            n = 1;
            break;
        case 'u': {
            uint32_t cp;
            if (end - p < 4 || hex4(p, &cp) != 0)
                return NF_EINVAL;
            p += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                uint32_t lo;
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0 ||
                    lo < 0xdc00 || lo > 0xdfff)
                    return NF_EINVAL; /* serde_json: "lone leading surrogate in hex escape" */
                p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return NF_EINVAL;
            }
            n = put_utf8(tmp, cp);
            break;
        }
        default:
            return NF_EINVAL;
        }
        if (o + n >= cap)
            return NF_ENOSPC;
        memcpy(out + o, tmp, n);
        o += n;
    }
    if (o >= cap)
        return NF_ENOSPC;
    out[o] = 0;
    return (int)o;
}

const char *sim_json_type_name(enum sim_jtype t)
{
    switch (t) {
    case SIM_J_STRING:
        return "string";
    case SIM_J_NUMBER:
        return "integer";
    case SIM_J_TRUE:
    case SIM_J_FALSE:
        return "boolean";
    case SIM_J_NULL:
        return "null";
    case SIM_J_OBJECT:
        return "map";
    case SIM_J_ARRAY:
        return "sequence";
    default:
        return "unit";
    }
}
