/* fuzz_req_json: the first input byte picks the shape (native, send-ft, rust), the rest is the
 * body. Checks that every accepted transfer satisfies the documented invariants and that error text
 * is printable ASCII. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "nf_err.h"
#include "req_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { MAXI = 8 };
    static struct jtok toks[REQ_JSON_TOKENS(MAXI)];
    static struct req_transfer out[MAXI];
    if (size < 1)
        return 0;
    enum req_shape shape = (enum req_shape)(data[0] % 3);
    struct req_json_limits lim = {MAXI, (size_t)(data[0] >> 2) * 5};
    if (lim.memo_max_bytes > REQ_MEMO_MAX)
        lim.memo_max_bytes = REQ_MEMO_MAX;
    struct req_error err;
    size_t count;
    int is_batch;
    int rc = req_json_parse(shape, (const char *)data + 1, size - 1, &lim, toks,
                            REQ_JSON_TOKENS(MAXI), out, &count, &is_batch, &err);
    if (rc != 0) {
        if (rc != NF_EINVAL)
            abort();
        check_printable(err.field, sizeof(err.field));
        check_printable(err.reason, sizeof(err.reason));
        if (err.reason[0] == '\0')
            abort();
        return 0;
    }
    if (count < 1 || count > MAXI || (!is_batch && count != 1))
        abort();
    for (size_t i = 0; i < count; i++) {
        const struct req_transfer *t = &out[i];
        if (t->amount == 0 || t->receiver_len != strlen(t->receiver) ||
            account_id_check(t->receiver, t->receiver_len, NULL) < 0)
            abort();
        if (t->has_memo && (t->memo_len > lim.memo_max_bytes || strlen(t->memo) != t->memo_len))
            abort();
        if (t->has_idem && (t->idem_len == 0 || t->idem_len > REQ_IDEM_MAX))
            abort();
    }
    return 0;
}
