/* fuzz_account: account_id_check on arbitrary bytes, compared with a second, deliberately naive
 * implementation of docs/PROTOCOL.md section 5.4 (split on '.', then on '-'/'_', no empty parts).
 * Aborts on disagreement or on a missing reason. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "nf_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_alnum_lower(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_hex_lower(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

/* naive: every maximal run between separators is a non-empty run of [a-z0-9]. */
static int naive_valid(const uint8_t *s, size_t n)
{
    if (n < 2 || n > 64)
        return 0;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_alnum_lower(s[i])) {
            run++;
        } else if (s[i] == '.' || s[i] == '-' || s[i] == '_') {
            if (run == 0)
                return 0;
            run = 0;
        } else {
            return 0;
        }
    }
    return run > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    int r = account_id_check((const char *)data, size, &why);
    int want = naive_valid(data, size);
    if ((r >= 0) != want)
        abort();
    if (r < 0) {
        if (r != NF_EACCOUNT || why == NULL || why[0] == '\0')
            abort();
        return 0;
    }
    int kind = ACCOUNT_NAMED;
    if (size == 64 && is_hex_lower(data, 64))
        kind = ACCOUNT_NEAR_IMPLICIT;
    else if (size == 42 && data[0] == '0' && data[1] == 'x' && is_hex_lower(data + 2, 40))
        kind = ACCOUNT_ETH_IMPLICIT;
    else if (size == 42 && data[0] == '0' && data[1] == 's' && is_hex_lower(data + 2, 40))
        kind = ACCOUNT_DETERMINISTIC;
    if (r != kind)
        abort();
    return 0;
}
