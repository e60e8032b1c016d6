/* fuzz_wal_msg: the headers of a cluster-mode log message as the replay reads them from the
 * stream, and the segment file names of the local log. Input: the segment header's value, a
 * NUL, the MAC header's value, a NUL, then the payload (a missing part is a missing header).
 * wal_msg_seg_parse must accept exactly the decimal numbers that print back to themselves with
 * no leading zeros (or with them: the value then prints shorter); wal_msg_check with the secret
 * must accept only the MAC wal_msg_mac computes, and always accept it; without the secret, a
 * message with a MAC is NF_ECONFIG. wal_seg_name_parse must accept exactly the names that
 * "wal-%016llx.log" prints. */
#include <inttypes.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nf_err.h"
#include "wal.h"
#include "wal_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t key[crypto_auth_hmacsha256_KEYBYTES];
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            abort();
        memset(key, 0x24, sizeof(key));
        ready = 1;
    }
    char *copy = malloc(size + 1);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    /* The segment file name: exactly what seg_name prints. */
    uint64_t v = 0;
    char name[64];
    if (wal_seg_name_parse(copy, &v) == 0) {
        snprintf(name, sizeof(name), "wal-%016" PRIx64 ".log", v);
        if (strcmp(name, copy) != 0)
            abort();
    }
    /* Split into segment header, MAC header and payload. */
    const char *seg_hdr = NULL, *mac_hdr = NULL;
    const uint8_t *payload = (const uint8_t *)"";
    size_t plen = 0;
    char *z1 = memchr(copy, '\0', size + 1);
    if ((size_t)(z1 - copy) < size) {
        seg_hdr = copy;
        char *rest = z1 + 1;
        size_t rlen = size - (size_t)(rest - copy);
        char *z2 = memchr(rest, '\0', rlen + 1);
        if ((size_t)(z2 - rest) < rlen) {
            mac_hdr = rest;
            payload = (const uint8_t *)z2 + 1;
            plen = rlen - (size_t)(z2 + 1 - rest);
        }
    } else {
        seg_hdr = copy;
    }
    uint64_t s = 0;
    if (wal_msg_seg_parse(seg_hdr, &s) == 0) {
        char back[32];
        snprintf(back, sizeof(back), "%" PRIu64, s);
        size_t zeros = strspn(seg_hdr, "0");
        if (s == 0 || strcmp(back, seg_hdr + zeros) != 0)
            abort();
    }
    uint64_t sseq = size, seg = 0;
    int rc = wal_msg_check(key, "NEARFT", sseq, seg_hdr, mac_hdr, payload, plen, &seg);
    if (rc == 0) {
        char want[WAL_MSG_MAC_HEX + 1];
        wal_msg_mac(key, "NEARFT", sseq, seg, payload, plen, want);
        if (seg != s || mac_hdr == NULL || strcmp(want, mac_hdr) != 0)
            abort();
    } else if (rc != NF_EINVAL && rc != NF_ECORRUPT) {
        abort();
    }
    if (wal_msg_seg_parse(seg_hdr, &s) == 0) {
        char good[WAL_MSG_MAC_HEX + 1];
        wal_msg_mac(key, "NEARFT", sseq, s, payload, plen, good);
        if (wal_msg_check(key, "NEARFT", sseq, seg_hdr, good, payload, plen, &seg) != 0 || seg != s)
            abort();
        int nokey = wal_msg_check(NULL, "NEARFT", sseq, seg_hdr, mac_hdr, payload, plen, &seg);
        if (nokey != (mac_hdr != NULL ? NF_ECONFIG : 0))
            abort();
    }
    free(copy);
    return 0;
}
