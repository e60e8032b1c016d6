/* fuzz_wal_rec: wal_rec_decode and wal_rec_frame_check on arbitrary bytes. Whatever decodes must
 * re-encode, and encoding is a fixpoint: encode(decode(encode(decode(x)))) == encode(decode(x)).
 * Single-threaded; static buffers only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wal_rec.h"

static uint8_t enc1[WAL_REC_PAYLOAD_MAX], enc2[WAL_REC_PAYLOAD_MAX];
static struct wal_rec_scratch sc1, sc2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t plen;
    if (wal_rec_frame_check(data, size, &plen) == 0 && plen > size - WAL_REC_FRAME_HDR)
        abort();
    struct wal_rec rec, rec2;
    if (wal_rec_decode(data, size, &rec, &sc1) != 0)
        return 0;
    size_t n1, n2;
    if (wal_rec_encode(&rec, enc1, sizeof(enc1), &n1) != 0)
        abort(); /* decoded records are always encodable */
    if (wal_rec_decode(enc1, n1, &rec2, &sc2) != 0)
        abort();
    if (wal_rec_encode(&rec2, enc2, sizeof(enc2), &n2) != 0 || n1 != n2 ||
        memcmp(enc1, enc2, n1) != 0)
        abort();
    if (n1 > size) /* canonical encoding is never longer than any accepted encoding */
        abort();
    return 0;
}
