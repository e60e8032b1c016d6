/* wal_rec: WAL record codec, framing and CRC-32C. Encoding drives msgpack-c's msgpack_packer with
 * a write callback into the caller's fixed buffer, so it never allocates. Decoding is a small
 * bounds-checked msgpack reader rather than msgpack_unpack: msgpack_unpack allocates
 * n * sizeof(msgpack_object) up front for an array header claiming n elements (4 bytes of input
 * can ask for ~100 GB), while replay and the fuzzer feed it arbitrary bytes; the reader here
 * needs no zone, rejects every type or length off the schema, and leaves strings pointing into
 * the input. Both directions share one range validator, so what encodes decodes. Pure: no I/O,
 * no threads; the CRC tables are built once under pthread_once. Any thread. */
#include "wal_rec.h"

#include <msgpack.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nf_err.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

/* ---- CRC-32C --------------------------------------------------------------------------------- */

#define CRC32C_POLY 0x82F63B78u /* Castagnoli, reflected */

static uint32_t crc_table[8][256];
static int crc_have_sse42;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++)
            crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^ crc_table[0][crc_table[k - 1][i] & 0xff];
#if defined(__x86_64__)
    crc_have_sse42 = __builtin_cpu_supports("sse4.2");
#endif
}

/* Raw CRC update (no pre/post inversion) with the slicing-by-8 tables. */
static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        v ^= c;
        c = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^
            crc_table[5][(v >> 16) & 0xff] ^ crc_table[4][(v >> 24) & 0xff] ^
            crc_table[3][(v >> 32) & 0xff] ^ crc_table[2][(v >> 40) & 0xff] ^
            crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
        p += 8;
        n -= 8;
    }
#endif
    while (n--)
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = _mm_crc32_u64(c64, v);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n--)
        c = _mm_crc32_u8(c, *p++);
    return c;
}
#endif

uint32_t wal_crc32c_portable(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    return ~crc_sw(~crc, p, n);
}

uint32_t wal_crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
    if (crc_have_sse42)
        return ~crc_hw(~crc, p, n);
#endif
    return ~crc_sw(~crc, p, n);
}

/* ---- range validation shared by encode and decode -------------------------------------------- */

static int why(char *reason, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int why(char *reason, size_t cap, const char *fmt, ...)
{
    if (reason != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Checks a string field: nil only when nil_ok, length in [min, max]. */
static int check_str(const struct wal_str *s,
                     size_t min,
                     size_t max,
                     int nil_ok,
                     const char *field,
                     char *reason,
                     size_t cap)
{
    if (s->ptr == NULL) {
        if (nil_ok)
            return 0;
        return why(reason, cap, "%s: nil not allowed", field);
    }
    if (s->len < min || s->len > max)
        return why(reason, cap, "%s: length %zu outside %zu..%zu", field, s->len, min, max);
    return 0;
}

/* Returns 0 when every field of rec is inside the schema, -1 with a reason otherwise. */
static int validate(const struct wal_rec *rec, char *reason, size_t cap)
{
    switch (rec->type) {
    case WAL_ACCEPT: {
        const struct wal_accept *a = &rec->accept;
        if (a->route > WAL_ROUTE_TRANSFER)
            return why(reason, cap, "accept.route: %u unknown", a->route);
        if (check_str(&a->receiver, WAL_REC_ACCOUNT_MIN, WAL_REC_ACCOUNT_MAX, 0, "accept.receiver",
                      reason, cap) != 0 ||
            check_str(&a->memo, 0, WAL_REC_MEMO_MAX, 1, "accept.memo", reason, cap) != 0 ||
            check_str(&a->idem_key, 0, WAL_REC_IDEM_MAX, 1, "accept.idem_key", reason, cap) != 0 ||
            check_str(&a->token, 1, WAL_REC_TOKEN_MAX, 1, "accept.token", reason, cap) != 0)
            return -1;
        return 0;
    }
    case WAL_SIGNED: {
        const struct wal_signed *s = &rec->sig;
        if (s->n_actions > WAL_REC_MAX_ACTIONS)
            return why(reason, cap, "signed.actions: %u > %u", s->n_actions, WAL_REC_MAX_ACTIONS);
        if (s->n_actions > 0 && s->actions == NULL)
            return why(reason, cap, "signed.actions: NULL");
        for (uint32_t i = 0; i < s->n_actions; i++) {
            const struct wal_action *act = &s->actions[i];
            if (act->kind == WAL_ACT_FT_TRANSFER) {
                if (act->receiver.ptr != NULL)
                    return why(reason, cap, "signed.actions[%u].receiver: must be nil", i);
            } else if (act->kind == WAL_ACT_STORAGE_DEPOSIT) {
                if (act->job_id != 0)
                    return why(reason, cap, "signed.actions[%u].job_id: must be 0", i);
                if (check_str(&act->receiver, WAL_REC_ACCOUNT_MIN, WAL_REC_ACCOUNT_MAX, 0,
                              "signed.actions[].receiver", reason, cap) != 0)
                    return -1;
            } else {
                return why(reason, cap, "signed.actions[%u].kind: %u unknown", i, act->kind);
            }
        }
        if (s->signed_tx == NULL || s->signed_tx_len == 0 ||
            s->signed_tx_len > WAL_REC_SIGNED_TX_MAX)
            return why(reason, cap, "signed.signed_tx: length %zu outside 1..%u",
                       s->signed_tx ? s->signed_tx_len : 0, WAL_REC_SIGNED_TX_MAX);
        return 0;
    }
    case WAL_OUTCOME: {
        const struct wal_outcome *o = &rec->outcome;
        if (o->result > WAL_OUT_OTHER)
            return why(reason, cap, "outcome.result: %u unknown", o->result);
        if (o->failed_index < -1)
            return why(reason, cap, "outcome.failed_index: %d < -1", (int)o->failed_index);
        return check_str(&o->message, 0, WAL_REC_MESSAGE_MAX, 0, "outcome.message", reason, cap);
    }
    case WAL_JOB_FINAL: {
        const struct wal_job_final *j = &rec->job_final;
        if (j->status > WAL_JOB_FAILED)
            return why(reason, cap, "job_final.status: %u unknown", j->status);
        return check_str(&j->error, 0, WAL_REC_MESSAGE_MAX, 1, "job_final.error", reason, cap);
    }
    case WAL_KEY_NONCE:
        return 0;
    default:
        return why(reason, cap, "type: %u unknown", rec->type);
    }
}

/* ---- encode
 * -------------------------------------------------------------------------------------- */

struct fixbuf {
    uint8_t *buf;
    size_t cap;
    size_t len;
};

/* msgpack_packer write callback: appends to the fixed buffer or fails (no growth). */
static int fixbuf_write(void *data, const char *p, size_t n)
{
    struct fixbuf *fb = data;
    if (n > fb->cap - fb->len)
        return -1;
    memcpy(fb->buf + fb->len, p, n);
    fb->len += n;
    return 0;
}

static int pk_str(msgpack_packer *pk, const struct wal_str *s)
{
    if (s->ptr == NULL)
        return msgpack_pack_nil(pk);
    if (msgpack_pack_str(pk, s->len) != 0)
        return -1;
    return msgpack_pack_str_body(pk, s->ptr, s->len);
}

static int pk_bin(msgpack_packer *pk, const void *p, size_t n)
{
    if (msgpack_pack_bin(pk, n) != 0)
        return -1;
    return msgpack_pack_bin_body(pk, p, n);
}

static int pack_fields(msgpack_packer *pk, const struct wal_rec *rec)
{
    int rc = 0;
    switch (rec->type) {
    case WAL_ACCEPT: {
        const struct wal_accept *a = &rec->accept;
        uint8_t amount[16];
        for (int i = 0; i < 16; i++)
            amount[i] = (uint8_t)(a->amount >> (8 * i));
        /* The token and the id tag are optional: without them the record keeps the 8- or
         * 9-element form that logs written before the fields existed have, so all read back the
         * same way. A tag makes the 10-element form, with a nil token when there is none. */
        rc |= msgpack_pack_array(pk, a->id_tag != 0 ? 10 : a->token.ptr != NULL ? 9 : 8);
        rc |= msgpack_pack_uint64(pk, a->id);
        rc |= msgpack_pack_uint64(pk, a->ts_ms);
        rc |= msgpack_pack_uint8(pk, a->route);
        rc |= pk_str(pk, &a->receiver);
        rc |= pk_bin(pk, amount, sizeof(amount));
        rc |= pk_str(pk, &a->memo);
        rc |= pk_str(pk, &a->idem_key);
        rc |= msgpack_pack_uint64(pk, a->body_hash);
        if (a->id_tag != 0) {
            rc |= a->token.ptr != NULL ? pk_str(pk, &a->token) : msgpack_pack_nil(pk);
            rc |= msgpack_pack_uint64(pk, a->id_tag);
        } else if (a->token.ptr != NULL) {
            rc |= pk_str(pk, &a->token);
        }
        break;
    }
    case WAL_SIGNED: {
        const struct wal_signed *s = &rec->sig;
        rc |= msgpack_pack_array(pk, 9);
        rc |= pk_bin(pk, s->tx_hash, WAL_REC_HASH_LEN);
        rc |= msgpack_pack_uint16(pk, s->key_index);
        rc |= pk_bin(pk, s->public_key, sizeof(s->public_key));
        rc |= msgpack_pack_uint64(pk, s->nonce);
        rc |= pk_bin(pk, s->block_hash, WAL_REC_HASH_LEN);
        rc |= msgpack_pack_uint64(pk, s->block_height);
        rc |= msgpack_pack_uint64(pk, s->ts_ms);
        rc |= msgpack_pack_array(pk, s->n_actions);
        for (uint32_t i = 0; i < s->n_actions && rc == 0; i++) {
            rc |= msgpack_pack_array(pk, 3);
            rc |= msgpack_pack_uint8(pk, s->actions[i].kind);
            rc |= msgpack_pack_uint64(pk, s->actions[i].job_id);
            rc |= pk_str(pk, &s->actions[i].receiver);
        }
        rc |= pk_bin(pk, s->signed_tx, s->signed_tx_len);
        break;
    }
    case WAL_OUTCOME: {
        const struct wal_outcome *o = &rec->outcome;
        rc |= msgpack_pack_array(pk, 5);
        rc |= pk_bin(pk, o->tx_hash, WAL_REC_HASH_LEN);
        rc |= msgpack_pack_uint8(pk, o->result);
        rc |= msgpack_pack_int32(pk, o->failed_index);
        rc |= pk_str(pk, &o->message);
        rc |= msgpack_pack_uint64(pk, o->ts_ms);
        break;
    }
    case WAL_JOB_FINAL: {
        const struct wal_job_final *j = &rec->job_final;
        rc |= msgpack_pack_array(pk, 5);
        rc |= msgpack_pack_uint64(pk, j->job_id);
        rc |= msgpack_pack_uint8(pk, j->status);
        if (j->has_tx_hash)
            rc |= pk_bin(pk, j->tx_hash, WAL_REC_HASH_LEN);
        else
            rc |= msgpack_pack_nil(pk);
        rc |= pk_str(pk, &j->error);
        rc |= msgpack_pack_uint64(pk, j->ts_ms);
        break;
    }
    case WAL_KEY_NONCE:
        rc |= msgpack_pack_array(pk, 2);
        rc |= msgpack_pack_uint16(pk, rec->key_nonce.key_index);
        rc |= msgpack_pack_uint64(pk, rec->key_nonce.nonce);
        break;
    default:
        return -1;
    }
    return rc;
}

int wal_rec_encode(const struct wal_rec *rec, uint8_t *buf, size_t cap, size_t *len)
{
    if (validate(rec, NULL, 0) != 0)
        return NF_EINVAL;
    if (cap < 2)
        return NF_ENOSPC;
    buf[0] = rec->type;
    buf[1] = WAL_REC_VERSION;
    struct fixbuf fb = {.buf = buf, .cap = cap, .len = 2};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, fixbuf_write);
    if (pack_fields(&pk, rec) != 0)
        return NF_ENOSPC; /* fields are valid, so only the buffer can have failed */
    if (fb.len > WAL_REC_PAYLOAD_MAX)
        return NF_EINVAL;
    *len = fb.len;
    return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int wal_rec_encode_framed(const struct wal_rec *rec, uint8_t *buf, size_t cap, size_t *len)
{
    if (cap < WAL_REC_FRAME_HDR)
        return validate(rec, NULL, 0) != 0 ? NF_EINVAL : NF_ENOSPC;
    size_t plen;
    int rc = wal_rec_encode(rec, buf + WAL_REC_FRAME_HDR, cap - WAL_REC_FRAME_HDR, &plen);
    if (rc != 0)
        return rc;
    put_le32(buf, (uint32_t)plen);
    put_le32(buf + 4, wal_crc32c(0, buf + WAL_REC_FRAME_HDR, plen));
    *len = WAL_REC_FRAME_HDR + plen;
    return 0;
}

int wal_rec_frame_check(const uint8_t *p, size_t avail, size_t *payload_len)
{
    if (avail < WAL_REC_FRAME_HDR)
        return NF_ETRUNC;
    uint32_t len = get_le32(p);
    if (len == 0 || len > WAL_REC_PAYLOAD_MAX)
        return NF_ECORRUPT;
    if (len > avail - WAL_REC_FRAME_HDR)
        return NF_ETRUNC;
    if (wal_crc32c(0, p + WAL_REC_FRAME_HDR, len) != get_le32(p + 4))
        return NF_ECORRUPT;
    *payload_len = len;
    return 0;
}

/* ---- decode ---------------------------------------------------------------------------------- */

struct rd {
    const uint8_t *p;
    const uint8_t *end;
    char *reason;
};

static int rd_fail(struct rd *r, const char *field, const char *what)
{
    snprintf(r->reason, sizeof(((struct wal_rec_scratch *)0)->reason), "%s: %s", field, what);
    return NF_ECORRUPT;
}

/* Reads n big-endian bytes (n <= 8) as an unsigned value. */
static int rd_be(struct rd *r, size_t n, uint64_t *out, const char *field)
{
    if ((size_t)(r->end - r->p) < n)
        return rd_fail(r, field, "truncated");
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | r->p[i];
    r->p += n;
    *out = v;
    return 0;
}

static int rd_byte(struct rd *r, uint8_t *b, const char *field)
{
    if (r->p >= r->end)
        return rd_fail(r, field, "truncated");
    *b = *r->p++;
    return 0;
}

/* An unsigned integer of any msgpack unsigned width (fixint, uint8..uint64), at most max. */
static int rd_uint(struct rd *r, uint64_t max, uint64_t *out, const char *field)
{
    uint8_t b;
    uint64_t v;
    if (rd_byte(r, &b, field) != 0)
        return NF_ECORRUPT;
    if (b <= 0x7f) {
        v = b;
    } else if (b >= 0xcc && b <= 0xcf) {
        if (rd_be(r, (size_t)1 << (b - 0xcc), &v, field) != 0)
            return NF_ECORRUPT;
    } else {
        return rd_fail(r, field, "not an unsigned integer");
    }
    if (v > max)
        return rd_fail(r, field, "out of range");
    *out = v;
    return 0;
}

/* A signed integer in [min, max] in any msgpack integer encoding. */
static int rd_int(struct rd *r, int64_t min, int64_t max, int64_t *out, const char *field)
{
    uint8_t b;
    uint64_t u;
    int64_t v;
    if (rd_byte(r, &b, field) != 0)
        return NF_ECORRUPT;
    if (b <= 0x7f) {
        v = b;
    } else if (b >= 0xe0) {
        v = (int8_t)b;
    } else if (b >= 0xcc && b <= 0xcf) {
        if (rd_be(r, (size_t)1 << (b - 0xcc), &u, field) != 0)
            return NF_ECORRUPT;
        if (u > (uint64_t)INT64_MAX)
            return rd_fail(r, field, "out of range");
        v = (int64_t)u;
    } else if (b >= 0xd0 && b <= 0xd3) {
        size_t n = (size_t)1 << (b - 0xd0);
        if (rd_be(r, n, &u, field) != 0)
            return NF_ECORRUPT;
        if (n < 8 && (u >> (8 * n - 1)) & 1) /* sign-extend */
            u |= ~(uint64_t)0 << (8 * n);
        memcpy(&v, &u, sizeof(v));
    } else {
        return rd_fail(r, field, "not an integer");
    }
    if (v < min || v > max)
        return rd_fail(r, field, "out of range");
    *out = v;
    return 0;
}

static int rd_is_nil(struct rd *r)
{
    if (r->p < r->end && *r->p == 0xc0) {
        r->p++;
        return 1;
    }
    return 0;
}

/* A msgpack str of at most max bytes (or nil when nil_ok); points into the input. The minimum
 * length is checked by validate(). */
static int rd_str(struct rd *r, size_t max, int nil_ok, struct wal_str *out, const char *field)
{
    if (nil_ok && rd_is_nil(r)) {
        out->ptr = NULL;
        out->len = 0;
        return 0;
    }
    uint8_t b;
    uint64_t n;
    if (rd_byte(r, &b, field) != 0)
        return NF_ECORRUPT;
    if (b >= 0xa0 && b <= 0xbf) {
        n = b & 0x1f;
    } else if (b >= 0xd9 && b <= 0xdb) {
        if (rd_be(r, (size_t)1 << (b - 0xd9), &n, field) != 0)
            return NF_ECORRUPT;
    } else {
        return rd_fail(r, field, b == 0xc0 ? "nil not allowed" : "not a string");
    }
    if (n > max)
        return rd_fail(r, field, "string too long");
    if (n > (uint64_t)(r->end - r->p))
        return rd_fail(r, field, "truncated");
    out->ptr = (const char *)r->p;
    out->len = (size_t)n;
    r->p += n;
    return 0;
}

/* A msgpack bin of length 1..max (exactly max when exact); points into the input. */
static int
rd_bin(struct rd *r, size_t max, int exact, const uint8_t **ptr, size_t *len, const char *field)
{
    uint8_t b;
    uint64_t n;
    if (rd_byte(r, &b, field) != 0)
        return NF_ECORRUPT;
    if (b < 0xc4 || b > 0xc6)
        return rd_fail(r, field, "not a byte string");
    if (rd_be(r, (size_t)1 << (b - 0xc4), &n, field) != 0)
        return NF_ECORRUPT;
    if (exact ? n != max : (n == 0 || n > max))
        return rd_fail(r, field, "bad length");
    if (n > (uint64_t)(r->end - r->p))
        return rd_fail(r, field, "truncated");
    *ptr = r->p;
    *len = (size_t)n;
    r->p += n;
    return 0;
}

static int rd_hash(struct rd *r, uint8_t out[WAL_REC_HASH_LEN], const char *field)
{
    const uint8_t *p;
    size_t n;
    if (rd_bin(r, WAL_REC_HASH_LEN, 1, &p, &n, field) != 0)
        return NF_ECORRUPT;
    memcpy(out, p, WAL_REC_HASH_LEN);
    return 0;
}

/* An array header; its element count must be in [min, max]. */
static int rd_array(struct rd *r, uint32_t min, uint32_t max, uint32_t *out, const char *field)
{
    uint8_t b;
    uint64_t n;
    if (rd_byte(r, &b, field) != 0)
        return NF_ECORRUPT;
    if (b >= 0x90 && b <= 0x9f) {
        n = b & 0x0f;
    } else if (b == 0xdc || b == 0xdd) {
        if (rd_be(r, b == 0xdc ? 2 : 4, &n, field) != 0)
            return NF_ECORRUPT;
    } else {
        return rd_fail(r, field, "not an array");
    }
    if (n < min || n > max)
        return rd_fail(r, field, "wrong number of elements");
    *out = (uint32_t)n;
    return 0;
}

static int rd_fields(struct rd *r, struct wal_rec *out, struct wal_rec_scratch *sc)
{
    uint64_t u = 0;
    int64_t s = 0;
    uint32_t n = 0;
    switch (out->type) {
    case WAL_ACCEPT: {
        struct wal_accept *a = &out->accept;
        const uint8_t *amt;
        size_t amt_len;
        if (rd_array(r, 8, 10, &n, "accept") != 0 || rd_uint(r, UINT64_MAX, &a->id, "accept.id") ||
            rd_uint(r, UINT64_MAX, &a->ts_ms, "accept.ts_ms") ||
            rd_uint(r, UINT8_MAX, &u, "accept.route") != 0)
            return NF_ECORRUPT;
        a->route = (uint8_t)u;
        if (rd_str(r, WAL_REC_ACCOUNT_MAX, 0, &a->receiver, "accept.receiver") != 0 ||
            rd_bin(r, 16, 1, &amt, &amt_len, "accept.amount") != 0)
            return NF_ECORRUPT;
        a->amount = 0;
        for (int i = 15; i >= 0; i--)
            a->amount = a->amount << 8 | amt[i];
        if (rd_str(r, WAL_REC_MEMO_MAX, 1, &a->memo, "accept.memo") != 0 ||
            rd_str(r, WAL_REC_IDEM_MAX, 1, &a->idem_key, "accept.idem_key") != 0 ||
            rd_uint(r, UINT64_MAX, &a->body_hash, "accept.body_hash") != 0)
            return NF_ECORRUPT;
        a->token.ptr = NULL;
        a->token.len = 0;
        a->id_tag = 0;
        /* nil is the token of the 10-element form only: the 9-element form exists for it. */
        if (n >= 9 && rd_str(r, WAL_REC_TOKEN_MAX, n == 10, &a->token, "accept.token") != 0)
            return NF_ECORRUPT;
        if (n == 10) {
            if (rd_uint(r, UINT64_MAX, &a->id_tag, "accept.id_tag") != 0)
                return NF_ECORRUPT;
            if (a->id_tag == 0)
                return rd_fail(r, "accept.id_tag", "0 is not a tag");
        }
        return 0;
    }
    case WAL_SIGNED: {
        struct wal_signed *sg = &out->sig;
        const uint8_t *pk;
        size_t pk_len;
        if (rd_array(r, 9, 9, &n, "signed") != 0 || rd_hash(r, sg->tx_hash, "signed.tx_hash") ||
            rd_uint(r, UINT16_MAX, &u, "signed.key_index") != 0)
            return NF_ECORRUPT;
        sg->key_index = (uint16_t)u;
        if (rd_bin(r, 32, 1, &pk, &pk_len, "signed.public_key") != 0)
            return NF_ECORRUPT;
        memcpy(sg->public_key, pk, 32);
        if (rd_uint(r, UINT64_MAX, &sg->nonce, "signed.nonce") != 0 ||
            rd_hash(r, sg->block_hash, "signed.block_hash") != 0 ||
            rd_uint(r, UINT64_MAX, &sg->block_height, "signed.block_height") != 0 ||
            rd_uint(r, UINT64_MAX, &sg->ts_ms, "signed.ts_ms") != 0 ||
            rd_array(r, 0, WAL_REC_MAX_ACTIONS, &sg->n_actions, "signed.actions") != 0)
            return NF_ECORRUPT;
        for (uint32_t i = 0; i < sg->n_actions; i++) {
            struct wal_action *act = &sc->actions[i];
            if (rd_array(r, 3, 3, &n, "signed.actions[]") != 0 ||
                rd_uint(r, UINT8_MAX, &u, "signed.actions[].kind") != 0)
                return NF_ECORRUPT;
            act->kind = (uint8_t)u;
            if (rd_uint(r, UINT64_MAX, &act->job_id, "signed.actions[].job_id") != 0 ||
                rd_str(r, WAL_REC_ACCOUNT_MAX, 1, &act->receiver, "signed.actions[].receiver") != 0)
                return NF_ECORRUPT;
        }
        sg->actions = sc->actions;
        return rd_bin(r, WAL_REC_SIGNED_TX_MAX, 0, &sg->signed_tx, &sg->signed_tx_len,
                      "signed.signed_tx");
    }
    case WAL_OUTCOME: {
        struct wal_outcome *o = &out->outcome;
        if (rd_array(r, 5, 5, &n, "outcome") != 0 || rd_hash(r, o->tx_hash, "outcome.tx_hash") ||
            rd_uint(r, UINT8_MAX, &u, "outcome.result") != 0)
            return NF_ECORRUPT;
        o->result = (uint8_t)u;
        if (rd_int(r, INT32_MIN, INT32_MAX, &s, "outcome.failed_index") != 0)
            return NF_ECORRUPT;
        o->failed_index = (int32_t)s;
        if (rd_str(r, WAL_REC_MESSAGE_MAX, 0, &o->message, "outcome.message") != 0 ||
            rd_uint(r, UINT64_MAX, &o->ts_ms, "outcome.ts_ms") != 0)
            return NF_ECORRUPT;
        return 0;
    }
    case WAL_JOB_FINAL: {
        struct wal_job_final *j = &out->job_final;
        if (rd_array(r, 5, 5, &n, "job_final") != 0 ||
            rd_uint(r, UINT64_MAX, &j->job_id, "job_final.job_id") != 0 ||
            rd_uint(r, UINT8_MAX, &u, "job_final.status") != 0)
            return NF_ECORRUPT;
        j->status = (uint8_t)u;
        j->has_tx_hash = !rd_is_nil(r);
        if (j->has_tx_hash && rd_hash(r, j->tx_hash, "job_final.tx_hash") != 0)
            return NF_ECORRUPT;
        if (!j->has_tx_hash)
            memset(j->tx_hash, 0, sizeof(j->tx_hash));
        if (rd_str(r, WAL_REC_MESSAGE_MAX, 1, &j->error, "job_final.error") != 0 ||
            rd_uint(r, UINT64_MAX, &j->ts_ms, "job_final.ts_ms") != 0)
            return NF_ECORRUPT;
        return 0;
    }
    case WAL_KEY_NONCE:
        if (rd_array(r, 2, 2, &n, "key_nonce") != 0 ||
            rd_uint(r, UINT16_MAX, &u, "key_nonce.key_index") != 0 ||
            rd_uint(r, UINT64_MAX, &out->key_nonce.nonce, "key_nonce.nonce") != 0)
            return NF_ECORRUPT;
        out->key_nonce.key_index = (uint16_t)u;
        return 0;
    default:
        return rd_fail(r, "type", "unknown record type");
    }
}

int wal_rec_decode(const uint8_t *p, size_t n, struct wal_rec *out, struct wal_rec_scratch *scratch)
{
    struct rd r = {.p = p, .end = p + n, .reason = scratch->reason};
    scratch->reason[0] = '\0';
    memset(out, 0, sizeof(*out));
    if (n < 2)
        return rd_fail(&r, "header", "truncated");
    out->type = p[0];
    if (p[1] != WAL_REC_VERSION)
        return rd_fail(&r, "header", "unsupported format version");
    r.p += 2;
    if (rd_fields(&r, out, scratch) != 0)
        return NF_ECORRUPT;
    if (r.p != r.end)
        return rd_fail(&r, wal_rec_type_name(out->type), "trailing bytes");
    if (validate(out, scratch->reason, sizeof(scratch->reason)) != 0)
        return NF_ECORRUPT;
    return 0;
}

const char *wal_rec_type_name(unsigned type)
{
    switch (type) {
    case WAL_ACCEPT:
        return "accept";
    case WAL_SIGNED:
        return "signed";
    case WAL_OUTCOME:
        return "outcome";
    case WAL_JOB_FINAL:
        return "job_final";
    case WAL_KEY_NONCE:
        return "key_nonce";
    default:
        return "unknown";
    }
}
