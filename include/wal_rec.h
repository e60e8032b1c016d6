/* wal_rec: the write-ahead log's record codec and on-disk framing. Pure: no I/O, no threads, no
 * allocation (encode uses msgpack_packer over the caller's buffer, decode is a bounds-checked
 * reader whose strings and byte strings point into the input). Any thread.
 *
 * Payload layout: [u8 record type][u8 format version WAL_REC_VERSION][msgpack array of fields].
 * The two raw leading bytes let a reader dispatch (or skip) a record without parsing msgpack.
 * Fields per type, in array order (u = msgpack unsigned int of any width, range-checked; str =
 * msgpack str; bin = msgpack bin; nil = msgpack nil):
 *   WAL_ACCEPT    [id u64, ts_ms u64, route u8 0..2, receiver str 2..64, amount bin 16 (u128 LE),
 *                  memo str 0..256|nil, idem_key str 0..128|nil, body_hash u64
 *                  (, token str 1..64 (, id_tag u64 1..))] or (..., body_hash u64, nil, id_tag)
 *                 token, the NAME of the bearer token of the request, is optional: a record
 *                 without one (no --auth-tokens, or written before the field existed) has 8
 *                 elements, one with it 9. A token's hourly budget is rebuilt from it.
 *                 id_tag, the random part of the transfer's public id (docs/SECURITY.md,
 *                 "Transfer ids"), makes a 10th element, with token nil when there is none;
 *                 records written before the field existed have no tag (id_tag 0 after decode).
 *   WAL_SIGNED    [tx_hash bin 32, key_index u16, public_key bin 32, nonce u64, block_hash bin 32,
 *                  block_height u64, ts_ms u64, actions array 0..100 of [kind u8 0..1, job_id u64,
 *                  receiver str 2..64|nil], signed_tx bin 1..1.5 MiB]
 *                 ft_transfer (kind 0) has receiver nil; storage_deposit (kind 1) has job_id 0 and
 *                 a receiver.
 *   WAL_OUTCOME   [tx_hash bin 32, result u8 0..3, failed_index int -1..INT32_MAX,
 *                  message str 0..1024, ts_ms u64]
 *   WAL_JOB_FINAL [job_id u64, status u8 0..1, tx_hash bin 32|nil, error str 0..1024|nil, ts_ms]
 *   WAL_KEY_NONCE [key_index u16, nonce u64]
 *
 * Framing on disk: [u32 LE payload length][u32 LE crc32c(payload)][payload]; the length is
 * 1..WAL_REC_PAYLOAD_MAX. */
#ifndef NF_WAL_REC_H
#define NF_WAL_REC_H

#include <stddef.h>
#include <stdint.h>

#include "u128.h"

#define WAL_REC_VERSION       1
#define WAL_REC_HASH_LEN      32
#define WAL_REC_ACCOUNT_MIN   2
#define WAL_REC_ACCOUNT_MAX   64
#define WAL_REC_MEMO_MAX      256
#define WAL_REC_IDEM_MAX      128
#define WAL_REC_TOKEN_MAX     64 /* AUTH_NAME_MAX */
#define WAL_REC_MESSAGE_MAX   1024
#define WAL_REC_MAX_ACTIONS   100
#define WAL_REC_SIGNED_TX_MAX 1572864u /* 1.5 MiB, NEAR max_transaction_size */
/* Largest payload of any record: a maximal WAL_SIGNED is ~1.5 MiB + 8 KiB. */
#define WAL_REC_PAYLOAD_MAX (WAL_REC_SIGNED_TX_MAX + 16384u)
#define WAL_REC_FRAME_HDR   8u /* u32 length + u32 crc32c */
#define WAL_REC_FRAME_MAX   (WAL_REC_FRAME_HDR + WAL_REC_PAYLOAD_MAX)

enum wal_rec_type {
    WAL_ACCEPT = 1,    /* request accepted (acknowledged to the client once durable) */
    WAL_SIGNED = 2,    /* exact signed transaction, written before its first broadcast */
    WAL_OUTCOME = 3,   /* final on-chain (or provably-never) outcome of a transaction */
    WAL_JOB_FINAL = 4, /* final status of one job */
    WAL_KEY_NONCE = 5, /* hint: lowest nonce that may be used next for a key */
};

enum wal_route { WAL_ROUTE_NATIVE = 0, WAL_ROUTE_SEND_FT = 1, WAL_ROUTE_TRANSFER = 2 };
enum wal_action_kind { WAL_ACT_FT_TRANSFER = 0, WAL_ACT_STORAGE_DEPOSIT = 1 };
enum wal_outcome_result {
    WAL_OUT_SUCCESS = 0,
    WAL_OUT_ACTION_ERROR = 1,
    WAL_OUT_DEAD = 2, /* provably never included */
    WAL_OUT_OTHER = 3,
};
enum wal_job_status { WAL_JOB_EXECUTED = 0, WAL_JOB_FAILED = 1 };

/* A borrowed string, not NUL-terminated. ptr == NULL means msgpack nil (only where a field allows
 * nil); ptr != NULL with len 0 is the empty string. Owned by whoever owns the buffer it points
 * into (the caller for encode, the decoded input for decode). */
struct wal_str {
    const char *ptr;
    size_t len;
};

struct wal_accept {
    uint64_t id;
    uint64_t ts_ms;
    uint8_t route; /* enum wal_route */
    struct wal_str receiver;
    nf_u128 amount;
    struct wal_str memo;     /* nil allowed */
    struct wal_str idem_key; /* nil allowed */
    uint64_t body_hash;
    struct wal_str token; /* nil allowed (encoded as the 8-element form): no bearer token */
    uint64_t id_tag;      /* 0: none (the 8- or 9-element form); else the 10-element form */
};

struct wal_action {
    uint8_t kind;            /* enum wal_action_kind */
    uint64_t job_id;         /* 0 for storage_deposit */
    struct wal_str receiver; /* storage_deposit: the account; ft_transfer: nil */
};

struct wal_signed {
    uint8_t tx_hash[WAL_REC_HASH_LEN];
    uint16_t key_index;
    uint8_t public_key[32];
    uint64_t nonce;
    uint8_t block_hash[WAL_REC_HASH_LEN];
    uint64_t block_height;
    uint64_t ts_ms;
    const struct wal_action *actions; /* n_actions entries; borrowed (see wal_rec_decode) */
    uint32_t n_actions;
    const uint8_t *signed_tx; /* exact Borsh SignedTransaction bytes; borrowed */
    size_t signed_tx_len;
};

struct wal_outcome {
    uint8_t tx_hash[WAL_REC_HASH_LEN];
    uint8_t result;         /* enum wal_outcome_result */
    int32_t failed_index;   /* index of the failed action, -1 for none */
    struct wal_str message; /* never nil (use "" for none) */
    uint64_t ts_ms;
};

struct wal_job_final {
    uint64_t job_id;
    uint8_t status;  /* enum wal_job_status */
    int has_tx_hash; /* 0: tx_hash is nil */
    uint8_t tx_hash[WAL_REC_HASH_LEN];
    struct wal_str error; /* nil allowed */
    uint64_t ts_ms;
};

struct wal_key_nonce {
    uint16_t key_index;
    uint64_t nonce;
};

struct wal_rec {
    uint8_t type; /* enum wal_rec_type */
    union {
        struct wal_accept accept;
        struct wal_signed sig;
        struct wal_outcome outcome;
        struct wal_job_final job_final;
        struct wal_key_nonce key_nonce;
    };
};

/* Caller storage for the parts of a decoded record that cannot point into the input: the action
 * array of a WAL_SIGNED and the text of the last decode error. Any size, any thread; one per
 * concurrent decode. */
struct wal_rec_scratch {
    struct wal_action actions[WAL_REC_MAX_ACTIONS];
    char reason[128]; /* NUL-terminated reason of the last NF_ECORRUPT / NF_EINVAL */
};

/* wal_crc32c: CRC-32C (Castagnoli, reflected, init and xorout 0xFFFFFFFF) of p[0..n), continuing
 * from crc (pass 0 to start; wal_crc32c(wal_crc32c(0, a), b) == crc of a||b). Uses SSE4.2 when
 * the CPU has it, a portable slicing-by-8 table otherwise. Borrows p until return. Any thread. */
uint32_t wal_crc32c(uint32_t crc, const void *p, size_t n);

/* wal_crc32c_portable: the table version, always (for tests comparing both paths). */
uint32_t wal_crc32c_portable(uint32_t crc, const void *p, size_t n);

/* wal_rec_encode: writes the payload of rec (layout above) into buf[0..cap) and sets *len.
 * Returns 0, NF_ENOSPC when cap is too small (buf contents then unspecified), NF_EINVAL when a
 * field is out of its range (unknown type, string too long, nil where not allowed, ...).
 * Borrows rec and everything it points to, and buf, until return. Never allocates. */
int wal_rec_encode(const struct wal_rec *rec, uint8_t *buf, size_t cap, size_t *len);

/* wal_rec_encode_framed: like wal_rec_encode but writes the on-disk frame (8-byte header, then
 * the payload) into buf; *len is the whole frame. This is what struct wal_batch carries. */
int wal_rec_encode_framed(const struct wal_rec *rec, uint8_t *buf, size_t cap, size_t *len);

/* wal_rec_decode: strictly parses one payload p[0..n) (exactly one record, no trailing bytes)
 * into *out. Strings and signed_tx point into p; the action array points into scratch->actions.
 * So *out is valid while both p and scratch live and are unchanged. Returns 0, or NF_ECORRUPT
 * with a reason in scratch->reason (wrong type, bad length, value out of range, truncated,
 * trailing bytes, unknown record type or version). Never reads outside p[0..n), never
 * allocates. Any thread. */
int wal_rec_decode(const uint8_t *p,
                   size_t n,
                   struct wal_rec *out,
                   struct wal_rec_scratch *scratch);

/* wal_rec_frame_check: checks the frame starting at p[0..avail). Returns 0 and sets
 * *payload_len when a whole frame with a plausible length (1..WAL_REC_PAYLOAD_MAX) and a
 * matching crc32c is there (the payload starts at p + WAL_REC_FRAME_HDR); NF_ETRUNC when the
 * header or the payload would extend past avail (a short or torn tail); NF_ECORRUPT for a length
 * of 0 or above the maximum, or a checksum mismatch. Borrows p until return. */
int wal_rec_frame_check(const uint8_t *p, size_t avail, size_t *payload_len);

/* wal_rec_type_name: "accept", "signed", ... or "unknown"; static string. */
const char *wal_rec_type_name(unsigned type);

#endif
