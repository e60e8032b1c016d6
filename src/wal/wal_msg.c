/* wal_msg: the segment and MAC headers of cluster-mode log messages (see include/wal_msg.h).
 * Pure: no allocation, no global state. */
#include "wal_msg.h"

#include <sodium.h>
#include <string.h>

#include "nf_err.h"

static void put_u64le(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

void wal_msg_mac(const uint8_t *key,
                 const char *stream,
                 uint64_t sseq,
                 uint64_t seg,
                 const uint8_t *data,
                 size_t len,
                 char hex[WAL_MSG_MAC_HEX + 1])
{
    static const char domain[] = "nearft-log-v1";
    crypto_auth_hmacsha256_state s;
    uint8_t nums[16], mac[crypto_auth_hmacsha256_BYTES];
    put_u64le(nums, sseq);
    put_u64le(nums + 8, seg);
    crypto_auth_hmacsha256_init(&s, key, crypto_auth_hmacsha256_KEYBYTES);
    crypto_auth_hmacsha256_update(&s, (const uint8_t *)domain, sizeof(domain));
    crypto_auth_hmacsha256_update(&s, (const uint8_t *)stream, strlen(stream) + 1);
    crypto_auth_hmacsha256_update(&s, nums, sizeof(nums));
    crypto_auth_hmacsha256_update(&s, data, len);
    crypto_auth_hmacsha256_final(&s, mac);
    sodium_bin2hex(hex, WAL_MSG_MAC_HEX + 1, mac, sizeof(mac));
    sodium_memzero(&s, sizeof(s));
}

int wal_msg_seg_parse(const char *seg_hdr, uint64_t *seg)
{
    if (seg_hdr == NULL || seg_hdr[0] == '\0')
        return NF_EINVAL;
    uint64_t v = 0;
    for (const char *p = seg_hdr; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return NF_EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NF_EINVAL;
        v = v * 10 + d;
    }
    if (v == 0)
        return NF_EINVAL;
    *seg = v;
    return 0;
}

int wal_msg_check(const uint8_t *key,
                  const char *stream,
                  uint64_t sseq,
                  const char *seg_hdr,
                  const char *mac_hdr,
                  const uint8_t *data,
                  size_t len,
                  uint64_t *seg)
{
    uint64_t s;
    if (wal_msg_seg_parse(seg_hdr, &s) != 0)
        return NF_EINVAL;
    if (key == NULL) {
        if (mac_hdr != NULL)
            return NF_ECONFIG;
    } else {
        char want[WAL_MSG_MAC_HEX + 1];
        wal_msg_mac(key, stream, sseq, s, data, len, want);
        if (mac_hdr == NULL || strlen(mac_hdr) != WAL_MSG_MAC_HEX ||
            sodium_memcmp(want, mac_hdr, WAL_MSG_MAC_HEX) != 0)
            return NF_ECORRUPT;
    }
    *seg = s;
    return 0;
}

enum wal_msg_order wal_msg_order(uint64_t seen, uint64_t sseq)
{
    if (sseq <= seen)
        return WAL_MSG_REPEAT;
    if (seen != 0 && sseq != seen + 1)
        return WAL_MSG_GAP;
    return WAL_MSG_NEXT;
}
