/* test_wal_rec: CRC-32C against RFC 3720 / check-value vectors (both code paths), record round
 * trips for every type with extremes, encoder range and buffer checks, the decoder's rejection of
 * wrong types, lengths, truncations and trailing bytes (inputs crafted independently with
 * msgpack-c's own packer), msgpack_unpack cross-checks of what we encode, and frame checks. */
#include "wal_rec.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "nf_err.h"
#include "nf_test.h"

static struct wal_rec_scratch scratch;

static void test_crc(void)
{
    const char *check = "123456789";
    CHECK_EQ_INT(wal_crc32c(0, check, 9), 0xE3069283u);
    CHECK_EQ_INT(wal_crc32c_portable(0, check, 9), 0xE3069283u);
    CHECK_EQ_INT(wal_crc32c(0, "", 0), 0);
    /* RFC 3720 appendix B.4 */
    uint8_t b[32];
    memset(b, 0, sizeof(b));
    CHECK_EQ_INT(wal_crc32c(0, b, 32), 0x8A9136AAu);
    CHECK_EQ_INT(wal_crc32c_portable(0, b, 32), 0x8A9136AAu);
    memset(b, 0xff, sizeof(b));
    CHECK_EQ_INT(wal_crc32c(0, b, 32), 0x62A8AB43u);
    CHECK_EQ_INT(wal_crc32c_portable(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    CHECK_EQ_INT(wal_crc32c(0, b, 32), 0x46DD794Eu);
    CHECK_EQ_INT(wal_crc32c_portable(0, b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    CHECK_EQ_INT(wal_crc32c(0, b, 32), 0x113FDB5Cu);
    CHECK_EQ_INT(wal_crc32c_portable(0, b, 32), 0x113FDB5Cu);
    /* chaining */
    CHECK_EQ_INT(wal_crc32c(wal_crc32c(0, check, 4), check + 4, 5), 0xE3069283u);
    /* hardware and table paths agree on every length and alignment */
    uint8_t big[300];
    srand(7);
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)rand();
    int same = 1;
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= sizeof(big); n += 7)
            same &= wal_crc32c(5, big + off, n) == wal_crc32c_portable(5, big + off, n);
    CHECK(same);
}

static struct wal_str S(const char *s) {
    struct wal_str r = {s, s ? strlen(s) : 0};
    return r;
}

static int
str_eq(struct wal_str a, struct wal_str b)
{
    if (a.ptr == NULL || b.ptr == NULL)
        return a.ptr == b.ptr;
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static uint8_t buf[WAL_REC_FRAME_MAX + 64];

static int roundtrip(const struct wal_rec *in, struct wal_rec *out, size_t *len)
{
    int rc = wal_rec_encode(in, buf, sizeof(buf), len);
    if (rc != 0)
        return rc;
    return wal_rec_decode(buf, *len, out, &scratch);
}

/* The msgpack part of an encoded payload, parsed by msgpack-c itself. */
static int mp_unpack(const uint8_t *p, size_t n, msgpack_unpacked *u)
{
    size_t off = 0;
    msgpack_unpacked_init(u);
    int rc = msgpack_unpack_next(u, (const char *)p + 2, n - 2, &off);
    return rc == MSGPACK_UNPACK_SUCCESS && off == n - 2 ? 0 : -1;
}

static void test_accept(void)
{
    struct wal_rec in, out;
    size_t len;
    memset(&in, 0, sizeof(in));
    in.type = WAL_ACCEPT;
    in.accept.id = UINT64_MAX;
    in.accept.ts_ms = 1700000000123ull;
    in.accept.route = WAL_ROUTE_TRANSFER;
    in.accept.receiver = S("alice.near");
    in.accept.amount = U128_MAX;
    in.accept.memo = S(""); /* empty, not nil */
    in.accept.idem_key = S(NULL);
    in.accept.body_hash = 0x0123456789abcdefull;
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK_EQ_INT(buf[0], WAL_ACCEPT);
    CHECK_EQ_INT(buf[1], WAL_REC_VERSION);
    CHECK_EQ_INT(out.type, WAL_ACCEPT);
    CHECK(out.accept.id == UINT64_MAX);
    CHECK(out.accept.ts_ms == 1700000000123ull);
    CHECK_EQ_INT(out.accept.route, 2);
    CHECK(str_eq(out.accept.receiver, in.accept.receiver));
    CHECK(out.accept.amount == U128_MAX);
    CHECK(out.accept.memo.ptr != NULL && out.accept.memo.len == 0);
    CHECK(out.accept.idem_key.ptr == NULL);
    CHECK(out.accept.body_hash == 0x0123456789abcdefull);
    /* strings point into the input */
    CHECK((const uint8_t *)out.accept.receiver.ptr > buf &&
          (const uint8_t *)out.accept.receiver.ptr < buf + len);

    /* msgpack-c sees an 8-element array with the amount as 16 LE bytes */
    msgpack_unpacked u;
    CHECK_EQ_INT(mp_unpack(buf, len, &u), 0);
    CHECK(u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 8);
    if (u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 8) {
        msgpack_object *f = u.data.via.array.ptr;
        CHECK(f[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER && f[0].via.u64 == UINT64_MAX);
        CHECK(f[3].type == MSGPACK_OBJECT_STR && f[3].via.str.size == 10);
        CHECK(f[4].type == MSGPACK_OBJECT_BIN && f[4].via.bin.size == 16);
        CHECK(f[5].type == MSGPACK_OBJECT_STR && f[5].via.str.size == 0);
        CHECK(f[6].type == MSGPACK_OBJECT_NIL);
    }
    msgpack_unpacked_destroy(&u);

    /* With the bearer token's name: a ninth element, read back; the 8-element form above stays
     * what a record without a token (and every record written before the field) looks like. */
    size_t len8 = len;
    in.accept.token = S("payouts-api");
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK(str_eq(out.accept.token, in.accept.token));
    CHECK_EQ_INT((int)(len - len8), 1 + 11); /* fixstr header + the name */
    CHECK(out.accept.body_hash == 0x0123456789abcdefull);
    CHECK_EQ_INT(mp_unpack(buf, len, &u), 0);
    CHECK(u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 9);
    if (u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 9)
        CHECK(u.data.via.array.ptr[8].type == MSGPACK_OBJECT_STR &&
              u.data.via.array.ptr[8].via.str.size == 11);
    msgpack_unpacked_destroy(&u);
    char tok[WAL_REC_TOKEN_MAX + 1];
    memset(tok, 't', sizeof(tok));
    in.accept.token = (struct wal_str){tok, WAL_REC_TOKEN_MAX};
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK(str_eq(out.accept.token, in.accept.token));
    in.accept.token.len = WAL_REC_TOKEN_MAX + 1;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.accept.token.len = 0;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);

    /* With an id tag: the 10-element form, with the token or nil in the ninth place. */
    in.accept.token = S("payouts-api");
    in.accept.id_tag = 0x8000000000000001ull;
    size_t len9 = len8 + 1 + 11;
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK(str_eq(out.accept.token, in.accept.token) && out.accept.id_tag == in.accept.id_tag);
    CHECK_EQ_INT((int)(len - len9), 9); /* uint64 header + 8 bytes */
    in.accept.token = S(NULL);
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK(out.accept.token.ptr == NULL && out.accept.id_tag == in.accept.id_tag);
    CHECK_EQ_INT((int)(len - len8), 1 + 9); /* nil + the tag */
    CHECK_EQ_INT(mp_unpack(buf, len, &u), 0);
    CHECK(u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 10);
    if (u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 10)
        CHECK(u.data.via.array.ptr[8].type == MSGPACK_OBJECT_NIL &&
              u.data.via.array.ptr[9].via.u64 == in.accept.id_tag);
    msgpack_unpacked_destroy(&u);
    in.accept.id_tag = 0;

    /* small amount, nil memo, maximal strings */
    char memo[WAL_REC_MEMO_MAX + 1], idem[WAL_REC_IDEM_MAX + 1], acct[WAL_REC_ACCOUNT_MAX + 1];
    memset(memo, 'm', sizeof(memo));
    memset(idem, 'k', sizeof(idem));
    memset(acct, 'a', sizeof(acct));
    in.accept.amount = 1;
    in.accept.memo.ptr = NULL;
    in.accept.idem_key = (struct wal_str){idem, WAL_REC_IDEM_MAX};
    in.accept.receiver = (struct wal_str){acct, WAL_REC_ACCOUNT_MAX};
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK(out.accept.amount == 1);
    CHECK(out.accept.memo.ptr == NULL);
    CHECK(str_eq(out.accept.idem_key, in.accept.idem_key));
    CHECK(str_eq(out.accept.receiver, in.accept.receiver));
    in.accept.memo = (struct wal_str){memo, WAL_REC_MEMO_MAX};
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK(str_eq(out.accept.memo, in.accept.memo));

    /* encoder range checks */
    in.accept.memo.len = WAL_REC_MEMO_MAX + 1;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.accept.memo.len = 0;
    in.accept.idem_key.len = WAL_REC_IDEM_MAX + 1;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.accept.idem_key.len = 3;
    in.accept.receiver.len = WAL_REC_ACCOUNT_MAX + 1;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.accept.receiver.len = 1;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.accept.receiver = S(NULL);
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.accept.receiver = S("bob.near");
    in.accept.route = 3;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.accept.route = 0;

    /* every short buffer is NF_ENOSPC, and the exact size works */
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), 0);
    size_t need = len;
    int all_nospc = 1;
    static uint8_t small[512];
    for (size_t cap = 0; cap < need; cap++)
        all_nospc &= wal_rec_encode(&in, small, cap, &len) == NF_ENOSPC;
    CHECK(all_nospc);
    CHECK_EQ_INT(wal_rec_encode(&in, small, need, &len), 0);
    CHECK_EQ_INT(len, need);
    int all_nospc_framed = 1;
    for (size_t cap = 0; cap < need + WAL_REC_FRAME_HDR; cap++)
        all_nospc_framed &= wal_rec_encode_framed(&in, small, cap, &len) == NF_ENOSPC;
    CHECK(all_nospc_framed);
    CHECK_EQ_INT(wal_rec_encode_framed(&in, small, need + WAL_REC_FRAME_HDR, &len), 0);
    CHECK_EQ_INT(len, need + WAL_REC_FRAME_HDR);

    /* every strict prefix of a valid payload is rejected, and so is a trailing byte */
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), 0);
    int all_rejected = 1;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan catches over-reads */
        memcpy(copy, buf, n);
        all_rejected &= wal_rec_decode(copy, n, &out, &scratch) == NF_ECORRUPT;
        free(copy);
    }
    CHECK(all_rejected);
    buf[len] = 0xc0;
    CHECK_EQ_INT(wal_rec_decode(buf, len + 1, &out, &scratch), NF_ECORRUPT);
    CHECK(strstr(scratch.reason, "trailing") != NULL);
    buf[1] = 2;
    CHECK_EQ_INT(wal_rec_decode(buf, len, &out, &scratch), NF_ECORRUPT);
    CHECK(strstr(scratch.reason, "version") != NULL);
    buf[1] = WAL_REC_VERSION;
    buf[0] = 9;
    CHECK_EQ_INT(wal_rec_decode(buf, len, &out, &scratch), NF_ECORRUPT);
    buf[0] = WAL_KEY_NONCE; /* right version, wrong schema for the fields */
    CHECK_EQ_INT(wal_rec_decode(buf, len, &out, &scratch), NF_ECORRUPT);
}

static void test_signed(void)
{
    static struct wal_action acts[WAL_REC_MAX_ACTIONS + 1];
    size_t tx_len = WAL_REC_SIGNED_TX_MAX;
    uint8_t *tx = malloc(tx_len + 1);
    for (size_t i = 0; i <= tx_len; i++)
        tx[i] = (uint8_t)(i * 31 + 7);
    for (int i = 0; i <= WAL_REC_MAX_ACTIONS; i++) {
        if (i % 10 == 9) {
            acts[i].kind = WAL_ACT_STORAGE_DEPOSIT;
            acts[i].job_id = 0;
            acts[i].receiver = S("receiver-with-storage.near");
        } else {
            acts[i].kind = WAL_ACT_FT_TRANSFER;
            acts[i].job_id = 1000000000000ull + (uint64_t)i;
            acts[i].receiver = S(NULL);
        }
    }
    struct wal_rec in, out;
    size_t len;
    memset(&in, 0, sizeof(in));
    in.type = WAL_SIGNED;
    for (int i = 0; i < 32; i++) {
        in.sig.tx_hash[i] = (uint8_t)i;
        in.sig.public_key[i] = (uint8_t)(0xff - i);
        in.sig.block_hash[i] = (uint8_t)(i * 3);
    }
    in.sig.key_index = UINT16_MAX;
    in.sig.nonce = UINT64_MAX - 1;
    in.sig.block_height = 123456789;
    in.sig.ts_ms = 42;
    in.sig.actions = acts;
    in.sig.n_actions = WAL_REC_MAX_ACTIONS;
    in.sig.signed_tx = tx;
    in.sig.signed_tx_len = tx_len;
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK(len <= WAL_REC_PAYLOAD_MAX);
    CHECK_EQ_INT(out.type, WAL_SIGNED);
    CHECK(memcmp(out.sig.tx_hash, in.sig.tx_hash, 32) == 0);
    CHECK(memcmp(out.sig.public_key, in.sig.public_key, 32) == 0);
    CHECK(memcmp(out.sig.block_hash, in.sig.block_hash, 32) == 0);
    CHECK_EQ_INT(out.sig.key_index, UINT16_MAX);
    CHECK(out.sig.nonce == UINT64_MAX - 1);
    CHECK(out.sig.block_height == 123456789);
    CHECK(out.sig.ts_ms == 42);
    CHECK_EQ_INT(out.sig.n_actions, WAL_REC_MAX_ACTIONS);
    int acts_ok = 1;
    for (uint32_t i = 0; i < out.sig.n_actions; i++)
        acts_ok &= out.sig.actions[i].kind == acts[i].kind &&
                   out.sig.actions[i].job_id == acts[i].job_id &&
                   str_eq(out.sig.actions[i].receiver, acts[i].receiver);
    CHECK(acts_ok);
    CHECK(out.sig.actions == scratch.actions);
    CHECK_EQ_INT(out.sig.signed_tx_len, tx_len);
    CHECK(out.sig.signed_tx_len == tx_len && memcmp(out.sig.signed_tx, tx, tx_len) == 0);

    /* framed form carries the same payload behind length + crc32c */
    size_t flen;
    static uint8_t fbuf[WAL_REC_FRAME_MAX];
    CHECK_EQ_INT(wal_rec_encode_framed(&in, fbuf, sizeof(fbuf), &flen), 0);
    CHECK_EQ_INT(flen, len + WAL_REC_FRAME_HDR);
    size_t plen = 0;
    CHECK_EQ_INT(wal_rec_frame_check(fbuf, flen, &plen), 0);
    CHECK_EQ_INT(plen, len);
    CHECK(memcmp(fbuf + WAL_REC_FRAME_HDR, buf, len) == 0);
    CHECK_EQ_INT(wal_rec_frame_check(fbuf, flen - 1, &plen), NF_ETRUNC);
    CHECK_EQ_INT(wal_rec_frame_check(fbuf, 7, &plen), NF_ETRUNC);
    fbuf[flen - 1] ^= 1;
    CHECK_EQ_INT(wal_rec_frame_check(fbuf, flen, &plen), NF_ECORRUPT);
    fbuf[flen - 1] ^= 1;
    fbuf[5] ^= 0x40; /* crc field */
    CHECK_EQ_INT(wal_rec_frame_check(fbuf, flen, &plen), NF_ECORRUPT);
    memset(fbuf, 0, 8); /* zero length: what a zero-filled tail looks like */
    CHECK_EQ_INT(wal_rec_frame_check(fbuf, flen, &plen), NF_ECORRUPT);
    fbuf[0] = 0xff, fbuf[1] = 0xff, fbuf[2] = 0xff, fbuf[3] = 0x7f;
    CHECK_EQ_INT(wal_rec_frame_check(fbuf, flen, &plen), NF_ECORRUPT);

    /* over the limits */
    in.sig.n_actions = WAL_REC_MAX_ACTIONS + 1;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.sig.n_actions = 0;
    in.sig.signed_tx_len = tx_len + 1;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.sig.signed_tx_len = 0;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.sig.signed_tx_len = 1;
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK_EQ_INT(out.sig.n_actions, 0);
    CHECK_EQ_INT(out.sig.signed_tx_len, 1);
    in.sig.n_actions = 1;
    acts[0].kind = WAL_ACT_STORAGE_DEPOSIT; /* job_id must be 0 */
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    acts[0].job_id = 0;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL); /* receiver nil */
    acts[0].kind = 2;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    acts[0].kind = WAL_ACT_FT_TRANSFER;
    acts[0].receiver = S("x.near"); /* ft_transfer carries no receiver */
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    free(tx);
}

static void test_small_types(void)
{
    struct wal_rec in, out;
    size_t len;
    char msg[WAL_REC_MESSAGE_MAX + 1];
    memset(msg, 'e', sizeof(msg));

    memset(&in, 0, sizeof(in));
    in.type = WAL_OUTCOME;
    memset(in.outcome.tx_hash, 0xab, 32);
    in.outcome.result = WAL_OUT_ACTION_ERROR;
    in.outcome.failed_index = -1;
    in.outcome.message = (struct wal_str){msg, WAL_REC_MESSAGE_MAX};
    in.outcome.ts_ms = 99;
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK_EQ_INT(out.outcome.result, 1);
    CHECK_EQ_INT(out.outcome.failed_index, -1);
    CHECK(str_eq(out.outcome.message, in.outcome.message));
    CHECK(out.outcome.ts_ms == 99);
    CHECK(memcmp(out.outcome.tx_hash, in.outcome.tx_hash, 32) == 0);
    in.outcome.failed_index = INT32_MAX;
    in.outcome.message = S("");
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK_EQ_INT(out.outcome.failed_index, INT32_MAX);
    CHECK(out.outcome.message.ptr != NULL && out.outcome.message.len == 0);
    in.outcome.failed_index = -2;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.outcome.failed_index = 0;
    in.outcome.result = 4;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.outcome.result = WAL_OUT_DEAD;
    in.outcome.message = S(NULL);
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
    in.outcome.message = (struct wal_str){msg, WAL_REC_MESSAGE_MAX + 1};
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);

    memset(&in, 0, sizeof(in));
    in.type = WAL_JOB_FINAL;
    in.job_final.job_id = 77;
    in.job_final.status = WAL_JOB_FAILED;
    in.job_final.has_tx_hash = 0;
    in.job_final.error = S("receiver not registered");
    in.job_final.ts_ms = 5;
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK(out.job_final.job_id == 77);
    CHECK_EQ_INT(out.job_final.status, 1);
    CHECK_EQ_INT(out.job_final.has_tx_hash, 0);
    CHECK(str_eq(out.job_final.error, in.job_final.error));
    in.job_final.status = WAL_JOB_EXECUTED;
    in.job_final.has_tx_hash = 1;
    memset(in.job_final.tx_hash, 0x11, 32);
    in.job_final.error = S(NULL);
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK_EQ_INT(out.job_final.has_tx_hash, 1);
    CHECK(memcmp(out.job_final.tx_hash, in.job_final.tx_hash, 32) == 0);
    CHECK(out.job_final.error.ptr == NULL);
    in.job_final.status = 2;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);

    memset(&in, 0, sizeof(in));
    in.type = WAL_KEY_NONCE;
    in.key_nonce.key_index = 3;
    in.key_nonce.nonce = 1ull << 53;
    CHECK_EQ_INT(roundtrip(&in, &out, &len), 0);
    CHECK_EQ_INT(out.key_nonce.key_index, 3);
    CHECK(out.key_nonce.nonce == 1ull << 53);

    in.type = 0;
    CHECK_EQ_INT(wal_rec_encode(&in, buf, sizeof(buf), &len), NF_EINVAL);
}

/* ---- decoder rejection on payloads built with msgpack-c's own packer ------------------------- */

static msgpack_sbuffer sb;
static msgpack_packer pk;

static void craft(uint8_t type)
{
    msgpack_sbuffer_clear(&sb);
    char hdr[2] = {(char)type, WAL_REC_VERSION};
    msgpack_sbuffer_write(&sb, hdr, 2);
}

static int craft_decode(void)
{
    struct wal_rec out;
    return wal_rec_decode((const uint8_t *)sb.data, sb.size, &out, &scratch);
}

static void bin(size_t n, uint8_t fill)
{
    uint8_t b[64];
    memset(b, fill, sizeof(b));
    msgpack_pack_bin(&pk, n);
    msgpack_pack_bin_body(&pk, b, n);
}

static void str(const char *s)
{
    msgpack_pack_str(&pk, strlen(s));
    msgpack_pack_str_body(&pk, s, strlen(s));
}

/* KEY_NONCE / OUTCOME / JOB_FINAL built field by field with one deviation selected by `bad`. */
static int crafted_key_nonce(int bad)
{
    craft(WAL_KEY_NONCE);
    msgpack_pack_array(&pk, bad == 1 ? 3 : 2);
    if (bad == 2)
        msgpack_pack_uint32(&pk, 65536); /* key_index > u16 */
    else if (bad == 3)
        msgpack_pack_int8(&pk, -1);
    else if (bad == 4)
        str("1");
    else
        msgpack_pack_uint16(&pk, 1);
    if (bad == 5)
        msgpack_pack_double(&pk, 1.0);
    else if (bad == 6)
        msgpack_pack_nil(&pk);
    else
        msgpack_pack_uint64(&pk, 10);
    if (bad == 1)
        msgpack_pack_uint8(&pk, 0);
    return craft_decode();
}

static int crafted_outcome(int bad)
{
    craft(WAL_OUTCOME);
    msgpack_pack_array(&pk, bad == 1 ? 4 : 5);
    if (bad == 2)
        bin(31, 1);
    else if (bad == 3)
        bin(33, 1);
    else if (bad == 4)
        str("0123456789abcdef0123456789abcdef");
    else
        bin(32, 1);
    msgpack_pack_uint8(&pk, bad == 5 ? 4 : 0);
    if (bad == 6)
        msgpack_pack_int8(&pk, -2);
    else if (bad == 7)
        msgpack_pack_int64(&pk, (int64_t)INT32_MAX + 1);
    else
        msgpack_pack_int32(&pk, -1);
    if (bad == 8) {
        bin(3, 'a'); /* message must be str, not bin */
    } else if (bad == 9) {
        msgpack_pack_nil(&pk);
    } else if (bad == 10) {
        static char long_msg[WAL_REC_MESSAGE_MAX + 2];
        memset(long_msg, 'x', WAL_REC_MESSAGE_MAX + 1);
        str(long_msg);
    } else {
        str("ok");
    }
    if (bad != 1)
        msgpack_pack_uint64(&pk, 1);
    return craft_decode();
}

static int crafted_job_final(int bad)
{
    craft(WAL_JOB_FINAL);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_uint64(&pk, 9);
    if (bad == 1)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_uint8(&pk, bad == 2 ? 2 : 1);
    if (bad == 3)
        bin(16, 2);
    else if (bad == 4)
        msgpack_pack_array(&pk, 0);
    else
        msgpack_pack_nil(&pk);
    if (bad == 5)
        msgpack_pack_map(&pk, 0);
    else
        msgpack_pack_nil(&pk);
    msgpack_pack_uint64(&pk, 1);
    if (bad == 6)
        msgpack_pack_nil(&pk);
    return craft_decode();
}

/* crafted_accept: an ACCEPT built by msgpack-c. bad 0: the 8-element form (no token, as every
 * record written before the token field); -1: the 9-element form with a token; -2: the 10-element
 * form with a nil token and id tag 7; -3: the 10-element form with a token and tag UINT64_MAX;
 * 1..5 a field out of its range; 6..9 a bad token: empty, nil, 65 bytes, a string as a tenth
 * element; 10: a tag of 0; 11: an eleventh element. */
static int crafted_accept(int bad)
{
    craft(WAL_ACCEPT);
    int elems = bad == 0 || (bad >= 1 && bad <= 5)    ? 8
                : bad == -1 || (bad >= 6 && bad <= 8) ? 9
                                                      : 10;
    msgpack_pack_array(&pk, (size_t)(bad == 11 ? 11 : elems));
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_uint64(&pk, 2);
    msgpack_pack_uint8(&pk, bad == 1 ? 3 : 1);
    str(bad == 2 ? "a" : "alice.near");
    bin(bad == 3 ? 15 : 16, 0xff);
    if (bad == 4)
        msgpack_pack_uint8(&pk, 0);
    else
        str("memo");
    msgpack_pack_nil(&pk);
    if (bad == 5)
        msgpack_pack_int8(&pk, -5);
    else
        msgpack_pack_uint64(&pk, UINT64_MAX);
    char longname[WAL_REC_TOKEN_MAX + 2];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    if (bad == -1 || bad == -3 || bad == 9)
        str("ops-bot");
    else if (bad == 6)
        str("");
    else if (bad == 7 || bad == -2 || bad == 10 || bad == 11)
        msgpack_pack_nil(&pk);
    else if (bad == 8)
        str(longname);
    if (bad == 9)
        str("more");
    else if (elems == 10 || bad == 11)
        msgpack_pack_uint64(&pk, bad == -2 ? 7 : bad == 10 ? 0 : UINT64_MAX);
    if (bad == 11)
        msgpack_pack_uint64(&pk, 1);
    return craft_decode();
}

static int crafted_signed(int bad)
{
    craft(WAL_SIGNED);
    msgpack_pack_array(&pk, 9);
    bin(32, 1);
    msgpack_pack_uint16(&pk, 0);
    bin(32, 2);
    msgpack_pack_uint64(&pk, 5);
    bin(32, 3);
    msgpack_pack_uint64(&pk, 6);
    msgpack_pack_uint64(&pk, 7);
    if (bad == 1) {
        msgpack_pack_array(&pk, WAL_REC_MAX_ACTIONS + 1);
        for (int i = 0; i <= WAL_REC_MAX_ACTIONS; i++) {
            msgpack_pack_array(&pk, 3);
            msgpack_pack_uint8(&pk, 0);
            msgpack_pack_uint64(&pk, 1);
            msgpack_pack_nil(&pk);
        }
    } else {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_array(&pk, bad == 2 ? 2 : 3);
        msgpack_pack_uint8(&pk, 0);
        msgpack_pack_uint64(&pk, 1);
        if (bad != 2)
            msgpack_pack_nil(&pk);
        msgpack_pack_array(&pk, 3);
        msgpack_pack_uint8(&pk, bad == 3 ? 7 : 1);
        msgpack_pack_uint64(&pk, bad == 4 ? 1 : 0);
        if (bad == 5)
            msgpack_pack_nil(&pk);
        else
            str("bob.near");
    }
    if (bad == 6) {
        bin(0, 0);
    } else if (bad == 7) {
        /* a bin32 header claiming more than is there */
        char h[5] = {(char)0xc6, 0, 0x10, 0, 0};
        msgpack_sbuffer_write(&sb, h, 5);
    } else {
        bin(40, 9);
    }
    return craft_decode();
}

static void test_reject(void)
{
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    CHECK_EQ_INT(crafted_key_nonce(0), 0);
    for (int bad = 1; bad <= 6; bad++)
        CHECK_EQ_INT(crafted_key_nonce(bad), NF_ECORRUPT);
    CHECK_EQ_INT(crafted_outcome(0), 0);
    for (int bad = 1; bad <= 10; bad++)
        CHECK_EQ_INT(crafted_outcome(bad), NF_ECORRUPT);
    CHECK_EQ_INT(crafted_job_final(0), 0);
    for (int bad = 1; bad <= 6; bad++)
        CHECK_EQ_INT(crafted_job_final(bad), NF_ECORRUPT);
    CHECK_EQ_INT(crafted_accept(0), 0);
    struct wal_rec acc;
    CHECK_EQ_INT(wal_rec_decode((const uint8_t *)sb.data, sb.size, &acc, &scratch), 0);
    CHECK(acc.accept.token.ptr == NULL); /* the old form: no token */
    CHECK_EQ_INT(crafted_accept(-1), 0);
    CHECK_EQ_INT(wal_rec_decode((const uint8_t *)sb.data, sb.size, &acc, &scratch), 0);
    CHECK(acc.accept.token.ptr != NULL && acc.accept.token.len == 7 &&
          memcmp(acc.accept.token.ptr, "ops-bot", 7) == 0);
    CHECK(acc.accept.id_tag == 0); /* no tag before the 10-element form */
    CHECK_EQ_INT(crafted_accept(-2), 0);
    CHECK_EQ_INT(wal_rec_decode((const uint8_t *)sb.data, sb.size, &acc, &scratch), 0);
    CHECK(acc.accept.token.ptr == NULL && acc.accept.id_tag == 7);
    CHECK_EQ_INT(crafted_accept(-3), 0);
    CHECK_EQ_INT(wal_rec_decode((const uint8_t *)sb.data, sb.size, &acc, &scratch), 0);
    CHECK(acc.accept.token.len == 7 && acc.accept.id_tag == UINT64_MAX);
    for (int bad = 1; bad <= 11; bad++)
        CHECK_EQ_INT(crafted_accept(bad), NF_ECORRUPT);
    CHECK_EQ_INT(crafted_signed(0), 0);
    for (int bad = 1; bad <= 7; bad++)
        CHECK_EQ_INT(crafted_signed(bad), NF_ECORRUPT);
    CHECK(scratch.reason[0] != '\0');

    /* integers in wider encodings than needed are accepted (value checked, not width) */
    craft(WAL_KEY_NONCE);
    char wide[] = {(char)0x92, (char)0xcf, 0, 0, 0, 0, 0, 0, 0, 7, (char)0xce, 0, 0, 0, 9};
    msgpack_sbuffer_write(&sb, wide, sizeof(wide));
    struct wal_rec out;
    CHECK_EQ_INT(wal_rec_decode((const uint8_t *)sb.data, sb.size, &out, &scratch), 0);
    CHECK_EQ_INT(out.key_nonce.key_index, 7);
    CHECK(out.key_nonce.nonce == 9);
    /* an array32 header claiming 4 billion elements: rejected without allocating */
    craft(WAL_SIGNED);
    char huge[] = {(char)0xdd, (char)0xff, (char)0xff, (char)0xff, (char)0xff};
    msgpack_sbuffer_write(&sb, huge, sizeof(huge));
    CHECK_EQ_INT(craft_decode(), NF_ECORRUPT);
    CHECK_EQ_INT(wal_rec_decode((const uint8_t *)"", 0, &out, &scratch), NF_ECORRUPT);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    test_crc();
    test_accept();
    test_signed();
    test_small_types();
    test_reject();
    return nf_test_report("test_wal_rec");
}
