/* wal_msg: what cluster mode puts around each log message in the JetStream stream, apart from
 * its payload of framed records (wal_rec.h): the segment number header (Nf-Seg, decimal) and,
 * with the cluster's secret, the MAC header (Nf-Mac: 64 lowercase hex digits of an HMAC-SHA-256
 * under the secret over the stream's name, the stream sequence the message is stored at, its
 * segment and its payload). The replay reads both from messages anyone allowed to publish on the
 * subject could have written: wal_msg_check trusts nothing in them. Pure functions: no
 * allocation, no global state, any thread; keys and buffers are borrowed for the call. */
#ifndef NF_WAL_MSG_H
#define NF_WAL_MSG_H

#include <stddef.h>
#include <stdint.h>

#define WAL_MSG_MAC_HEX 64u

/* wal_msg_mac: the MAC header's value (WAL_MSG_MAC_HEX digits and a NUL) of the message stored
 * at stream sequence sseq, of segment seg, with payload data[0..len). key: 32 bytes. */
void wal_msg_mac(const uint8_t *key,
                 const char *stream,
                 uint64_t sseq,
                 uint64_t seg,
                 const uint8_t *data,
                 size_t len,
                 char hex[WAL_MSG_MAC_HEX + 1]);

/* wal_msg_seg_parse: the segment header's value: decimal digits only (leading zeros allowed),
 * no sign, no space, a value in 1..UINT64_MAX. 0 and *seg, or NF_EINVAL (*seg untouched). seg_hdr
 * may be NULL (missing). */
int wal_msg_seg_parse(const char *seg_hdr, uint64_t *seg);

/* wal_msg_check: the headers of the message stored at sseq with payload data[0..len), before its
 * frames are read. seg_hdr and mac_hdr: the headers' values, NULL when missing. key: the
 * cluster's 32-byte key, or NULL without a secret. Returns 0 and *seg; NF_EINVAL when the segment
 * header is missing or not a number; NF_ECORRUPT when key is set and the MAC is missing or does
 * not verify; NF_ECONFIG when key is NULL and the message carries a MAC (the stream is
 * authenticated and this instance lacks the secret). */
int wal_msg_check(const uint8_t *key,
                  const char *stream,
                  uint64_t sseq,
                  const char *seg_hdr,
                  const char *mac_hdr,
                  const uint8_t *data,
                  size_t len,
                  uint64_t *seg);

/* What a replay does with the message a consumer delivered next. */
enum wal_msg_order {
    WAL_MSG_NEXT,   /* deliver it */
    WAL_MSG_REPEAT, /* already delivered (an ordered consumer that was reset): skip it */
    WAL_MSG_GAP,    /* messages between were purged before this replay read them: stop */
};

/* wal_msg_order: a replay that has delivered up to stream sequence seen (0: nothing yet) gets
 * sseq. Stream sequences have no holes but a purged prefix: the first message may be any, every
 * later one must be seen + 1. */
enum wal_msg_order wal_msg_order(uint64_t seen, uint64_t sseq);

#endif
