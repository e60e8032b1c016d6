/* jw: streaming JSON writer (see include/jw.h). Pure; the struct jw is owned by one thread. The
 * growable mode mallocs and is meant for start-up, the CLI and the simulator. */
#include "jw.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "base64.h"
#include "nf_err.h"
#include "nf_utf8.h"

void jw_init_fixed(struct jw *w, char *buf, size_t cap)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = cap;
}

void jw_init_growable(struct jw *w)
{
    memset(w, 0, sizeof(*w));
    w->growable = 1;
}

static int reserve(struct jw *w, size_t n);

void jw_init_growable_cap(struct jw *w, size_t cap)
{
    jw_init_growable(w);
    if (cap > 0 && reserve(w, cap - 1) != 0)
        return; /* w->error is set */
}

void jw_free(struct jw *w)
{
    if (w->growable)
        free(w->buf);
    w->buf = NULL;
    w->cap = w->len = 0;
}

/* reserve: make room for n more bytes plus a NUL. */
static int reserve(struct jw *w, size_t n)
{
    if (w->error)
        return -1;
    if (w->len + n + 1 <= w->cap)
        return 0;
    if (!w->growable) {
        w->error = NF_ENOSPC;
        return -1;
    }
    size_t ncap = w->cap ? w->cap : 256;
    while (ncap < w->len + n + 1)
        ncap *= 2;
    char *nb = realloc(w->buf, ncap);
    if (nb == NULL) {
        w->error = NF_ENOMEM;
        return -1;
    }
    w->buf = nb;
    w->cap = ncap;
    return 0;
}

static void put(struct jw *w, const char *s, size_t n)
{
    if (reserve(w, n) != 0)
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

/* sep: the comma before a value or key at the current level. */
static void sep(struct jw *w)
{
    if (w->depth > 0 && w->need_comma[w->depth - 1])
        put(w, ",", 1);
    if (w->depth > 0)
        w->need_comma[w->depth - 1] = 1;
}

static void open(struct jw *w, char c)
{
    sep(w);
    put(w, &c, 1);
    if (w->depth >= JW_MAX_DEPTH) {
        w->error = NF_EINVAL;
        return;
    }
    w->need_comma[w->depth++] = 0;
}

static void close_(struct jw *w, char c)
{
    if (w->depth <= 0) {
        w->error = NF_EINVAL;
        return;
    }
    w->depth--;
    put(w, &c, 1);
}

void jw_obj_begin(struct jw *w)
{
    open(w, '{');
}

void jw_obj_end(struct jw *w)
{
    close_(w, '}');
}

void jw_arr_begin(struct jw *w)
{
    open(w, '[');
}

void jw_arr_end(struct jw *w)
{
    close_(w, ']');
}

static void put_string(struct jw *w, const char *s, size_t len)
{
    /* Escaping needs at most 6 bytes per input byte, usually 1: try with what the buffer has (at
     * least the unescaped size), and grow to the worst case only when that is not enough. */
    if (reserve(w, len + 2) != 0)
        return;
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t room = w->cap - w->len - 1; /* keep the NUL's byte */
        int n = nf_json_escape(s, len, w->buf + w->len + 1, room - 2);
        if (n >= 0) {
            w->buf[w->len] = '"';
            w->len += (size_t)n + 1;
            w->buf[w->len++] = '"';
            return;
        }
        if (n != NF_ENOSPC || attempt == 1) {
            w->error = n;
            return;
        }
        if (reserve(w, len * 6 + 2) != 0)
            return;
    }
}

void jw_key(struct jw *w, const char *key)
{
    sep(w);
    put_string(w, key, strlen(key));
    put(w, ":", 1);
    /* The value that follows must not get a comma. */
    if (w->depth > 0)
        w->need_comma[w->depth - 1] = 0;
}

/* after_value: a value completes a member or an element. */
static void after_value(struct jw *w)
{
    if (w->depth > 0)
        w->need_comma[w->depth - 1] = 1;
}

void jw_str(struct jw *w, const char *s)
{
    jw_strn(w, s, strlen(s));
}

void jw_strn(struct jw *w, const char *s, size_t len)
{
    sep(w);
    put_string(w, s, len);
    after_value(w);
}

void jw_u64(struct jw *w, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRIu64, v);
    sep(w);
    put(w, b, (size_t)n);
    after_value(w);
}

void jw_i64(struct jw *w, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRId64, v);
    sep(w);
    put(w, b, (size_t)n);
    after_value(w);
}

void jw_double(struct jw *w, double v)
{
    char b[40];
    int n = snprintf(b, sizeof(b), "%.17g", v);
    sep(w);
    put(w, b, (size_t)n);
    after_value(w);
}

void jw_u128_str(struct jw *w, nf_u128 v)
{
    char b[U128_STR_MAX + 2];
    b[0] = '"';
    int n = u128_format(v, b + 1);
    b[n + 1] = '"';
    sep(w);
    put(w, b, (size_t)n + 2);
    after_value(w);
}

void jw_bool(struct jw *w, int v)
{
    sep(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
    after_value(w);
}

void jw_null(struct jw *w)
{
    sep(w);
    put(w, "null", 4);
    after_value(w);
}

void jw_raw(struct jw *w, const char *json, size_t len)
{
    sep(w);
    put(w, json, len);
    after_value(w);
}

void jw_base64(struct jw *w, const uint8_t *data, size_t len)
{
    /* Public data only (transactions, args): the table-driven encoder, not sodium's
     * constant-time one. */
    size_t n = B64_ENCODED_LEN(len);
    sep(w);
    if (reserve(w, n + 3) != 0)
        return;
    w->buf[w->len++] = '"';
    w->len += b64_encode(data, len, w->buf + w->len);
    w->buf[w->len++] = '"';
    after_value(w);
}

void jw_base58(struct jw *w, const uint8_t *data, size_t len)
{
    char b[B58_MAX_64 * 2];
    int n = b58_encode(data, len, b, sizeof(b));
    if (n < 0) {
        w->error = n;
        return;
    }
    sep(w);
    put(w, "\"", 1);
    put(w, b, (size_t)n);
    put(w, "\"", 1);
    after_value(w);
}

int jw_finish(struct jw *w, size_t *len)
{
    if (w->error == 0 && reserve(w, 0) == 0)
        w->buf[w->len] = '\0';
    if (w->error)
        return w->error;
    if (len)
        *len = w->len;
    return 0;
}

char *jw_take(struct jw *w, size_t *len)
{
    if (jw_finish(w, len) != 0) {
        jw_free(w);
        return NULL;
    }
    char *b = w->buf;
    w->buf = NULL;
    w->cap = w->len = 0;
    return b;
}
