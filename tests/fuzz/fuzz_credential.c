/* fuzz_credential: keys_parse_credential_json on arbitrary bytes. Checks that results are one of
 * the documented codes, that an error always comes with a NUL-terminated reason inside the buffer,
 * that success yields a valid account id and a key that signs and verifies, and that nothing leaks
 * (the keypair is freed). Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "keys.h"
#include "nf_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char account[ACCOUNT_ID_MAX + 1];
    char err[128];
    memset(err, 'x', sizeof(err));
    struct nf_keypair *kp = NULL;
    keys_json_wipe_init(); /* no other jansson use in this target; a no-op after the first */
    int r = keys_parse_credential_json((const char *)data, size, account, sizeof(account), &kp, err,
                                       sizeof(err));
    if (r != 0) {
        if (r != NF_EINVAL && r != NF_ECRYPTO && r != NF_EACCOUNT && r != NF_ENOSPC &&
            r != NF_ENOMEM)
            abort();
        if (kp != NULL || memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
            abort();
        return 0;
    }
    if (kp == NULL || account_id_check(account, strlen(account), NULL) < 0)
        abort();
    uint8_t sig[64];
    if (keys_sign(kp, data, size, sig) != 0 || keys_verify(keys_public(kp), data, size, sig) != 0)
        abort();
    keys_free(kp);
    /* A too-small account buffer is NF_ENOSPC, never a truncated id. */
    char one[1];
    kp = NULL;
    r = keys_parse_credential_json((const char *)data, size, one, sizeof(one), &kp, NULL, 0);
    if (r != NF_ENOSPC || kp != NULL)
        abort();
    return 0;
}
