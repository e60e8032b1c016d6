/* fuzz_jtok: drives jtok_parse over arbitrary bytes and, when it succeeds, every helper over every
 * token, so any read outside the input or the token array shows up under ASan. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jtok.h"
#include "nf_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jtok toks[512];
    /* A small cap too, to exercise NF_ETOOMANY at every position. */
    struct jtok few[3];
    (void)jtok_parse((const char *)data, size, few, 3, NULL);
    struct jtok_error e;
    int n = jtok_parse((const char *)data, size, toks, 512, &e);
    if (n < 0) {
        if (e.offset > size)
            abort();
        return 0;
    }
    const char *j = (const char *)data;
    char out[256];
    for (int i = 0; i < n; i++) {
        const struct jtok *t = &toks[i];
        if (t->end > size || t->start > t->end || t->next > (uint32_t)n || t->next <= (uint32_t)i)
            abort();
        size_t len;
        uint64_t u;
        nf_u128 x;
        double d;
        int rc = jtok_str_unescape(j, t, out, sizeof(out), &len);
        if (t->type == JTOK_STRING && rc != 0 && rc != NF_ENOSPC)
            abort(); /* parse accepted it, so it must decode */
        if (rc == 0 && !jtok_str_eq(j, t, out, len))
            abort(); /* decoding and comparing must agree */
        char small[7];
        size_t slen;
        rc = jtok_str_copy_trunc(j, t, small, sizeof(small), &slen);
        if (t->type == JTOK_STRING && (rc < 0 || slen >= sizeof(small) || small[slen] != 0))
            abort();
        (void)jtok_u64(j, t, &u);
        (void)jtok_u128_str(j, t, &x);
        (void)jtok_double(j, t, &d);
        if (t->type == JTOK_OBJECT) {
            (void)jtok_obj_get(j, toks, i, "receiver_id");
            (void)jtok_obj_get(j, toks, i, "");
        }
    }
    return 0;
}
