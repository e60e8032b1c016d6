/* jw: a small streaming JSON writer with exact 64/128-bit integers (jansson cannot print u64 above
 * 2^63-1). Writes into a caller buffer; in growable mode it reallocs (start-up, CLI and simulator
 * only: the daemon's request path uses fixed buffers). Commas between members and elements are
 * inserted automatically. Pure, one owner thread per struct jw. */
#ifndef NF_JW_H
#define NF_JW_H

#include <stddef.h>
#include <stdint.h>

#include "u128.h"

#define JW_MAX_DEPTH 32

struct jw {
    char *buf;
    size_t len;
    size_t cap;
    int growable; /* 1: buf is malloc'd by jw and grows; 0: fixed caller buffer */
    int error;    /* sticky: NF_ENOSPC / NF_ENOMEM / NF_EINVAL once anything failed */
    int depth;
    uint8_t need_comma[JW_MAX_DEPTH];
};

/* jw_init_fixed: write into buf (cap bytes, borrowed until the writer is done). */
void jw_init_fixed(struct jw *w, char *buf, size_t cap);
/* jw_init_growable: jw owns a malloc'd buffer; release it with jw_free or take it with jw_take. */
void jw_init_growable(struct jw *w);
/* jw_init_growable_cap: the same, with room for cap bytes allocated up front (fewer reallocs for
 * answers whose size is known roughly); an allocation failure shows as NF_ENOMEM at jw_finish. */
void jw_init_growable_cap(struct jw *w, size_t cap);
void jw_free(struct jw *w);
/* jw_take: returns the NUL-terminated text (caller owns, free()) or NULL on error. */
char *jw_take(struct jw *w, size_t *len);
/* jw_finish: NUL-terminates; returns 0 and the length in *len, or the sticky error. */
int jw_finish(struct jw *w, size_t *len);

void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);
/* jw_key: an object member name (must be plain text, escaped as JSON). */
void jw_key(struct jw *w, const char *key);
/* jw_str / jw_strn: a JSON string value; invalid UTF-8 sets error NF_EUTF8. */
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t len);
void jw_u64(struct jw *w, uint64_t v);
void jw_i64(struct jw *w, int64_t v);
void jw_double(struct jw *w, double v);
/* jw_u128_str: a u128 as a JSON string of decimal digits (NEAR balances). */
void jw_u128_str(struct jw *w, nf_u128 v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* jw_raw: inserts already-valid JSON text as one value. */
void jw_raw(struct jw *w, const char *json, size_t len);
/* jw_base64 / jw_base58: binary data as a JSON string in standard base64 / NEAR base58. */
void jw_base64(struct jw *w, const uint8_t *data, size_t len);
void jw_base58(struct jw *w, const uint8_t *data, size_t len);

#endif
