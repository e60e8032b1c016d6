/* account: NEAR account id validation (see include/account.h), a byte-for-byte port of
 * near-account-id-rs's strict rules (protocol 83+, docs/PROTOCOL.md section 5.4) plus the kind
 * detection of its AccountType. Pure, any thread, owns nothing; reasons are static strings. */
#include "account.h"

#include "nf_err.h"

static int account_is_lower_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

static int account_fail(const char **why, const char *reason)
{
    if (why != NULL)
        *why = reason;
    return NF_EACCOUNT;
}

int account_id_check(const char *id, size_t len, const char **why)
{
    if (id == NULL)
        return account_fail(why, "missing");
    if (len < ACCOUNT_ID_MIN)
        return account_fail(why, "too short");
    if (len > ACCOUNT_ID_MAX)
        return account_fail(why, "too long");
    /* A virtual separator before the first byte makes a leading separator "redundant", exactly
     * as near-account-id does; a separator as the last byte is checked after the loop. */
    int last_is_separator = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        int is_separator;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            is_separator = 0;
        else if (c == '-' || c == '_' || c == '.')
            is_separator = 1;
        else if (c >= 'A' && c <= 'Z')
            return account_fail(why, "invalid character (uppercase letter)");
        else
            return account_fail(why, "invalid character");
        if (is_separator && last_is_separator)
            return account_fail(why, i == 0 ? "starts with a separator"
                                            : "redundant separator (two in a row)");
        last_is_separator = is_separator;
    }
    if (last_is_separator)
        return account_fail(why, "ends with a separator");
    if (why != NULL)
        *why = NULL;
    if (len == 64 && account_is_lower_hex(id, len))
        return ACCOUNT_NEAR_IMPLICIT;
    if (len == 42 && id[0] == '0' && id[1] == 'x' && account_is_lower_hex(id + 2, 40))
        return ACCOUNT_ETH_IMPLICIT;
    if (len == 42 && id[0] == '0' && id[1] == 's' && account_is_lower_hex(id + 2, 40))
        return ACCOUNT_DETERMINISTIC;
    return ACCOUNT_NAMED;
}
