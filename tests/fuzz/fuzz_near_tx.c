/* fuzz_near_tx: libFuzzer target for near_signed_tx_decode. Any input must decode or fail with a
 * clean error (never a crash or an out-of-bounds read). When it decodes with every action stored,
 * near_tx_encode must reproduce the transaction bytes exactly (the codec is a bijection on what it
 * accepts), the hash must be sha256 of those bytes, and the nearcore JSON view must render. When
 * decoding fails, the reason must be a non-empty string. Single-threaded; owns only statics. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jw.h"
#include "near_tx.h"
#include "near_view.h"
#include "nf_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct near_action fz_actions[128];
static struct nf_bytes fz_names[256];
static uint8_t fz_out[1 << 16];
static char fz_view[1 << 18];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Vary the capacities with the input length so the "not stored" paths get exercised too. */
    uint32_t cap = size % 7 == 0 ? 1 : 128;
    struct near_decode_space space = {fz_actions, cap, fz_names, size % 5 == 0 ? 1 : 256, NULL};
    struct near_signed_tx stx;
    char why[256];
    int rc = near_signed_tx_decode(data, size, &space, &stx, why, sizeof(why));
    if (rc != 0) {
        if (rc >= 0 || why[0] == '\0' || memchr(why, '\0', sizeof(why)) == NULL)
            abort();
        return 0;
    }
    if (stx.tx_len > size)
        abort();
    uint8_t h[NEAR_HASH_LEN];
    near_tx_hash(data, stx.tx_len, h);
    if (memcmp(h, stx.hash, NEAR_HASH_LEN) != 0)
        abort();
    (void)near_signed_tx_verify(&stx);

    struct jw w;
    jw_init_fixed(&w, fz_view, sizeof(fz_view));
    near_view_signed_tx(&w, &stx, cap);
    size_t vlen;
    (void)jw_finish(&w, &vlen);

    if (stx.tx.n_actions > cap)
        return 0;
    size_t need = near_tx_encoded_size(&stx.tx);
    if (need != stx.tx_len)
        abort();
    if (need > sizeof(fz_out))
        return 0;
    size_t len = 0;
    if (near_tx_encode(&stx.tx, fz_out, sizeof(fz_out), &len) != 0)
        abort();
    if (len != stx.tx_len || memcmp(fz_out, data, len) != 0)
        abort();
    return 0;
}
