/* test_keys_wipe: jansson's blocks are wiped before they are freed once keys_json_wipe_init has
 * run. src/near/keys.c is included here with malloc and free redirected to wrappers that record
 * each block's size and check, when it is freed, that every byte is zero. A credential with a
 * known secret is parsed (valid, and with an error after the secret was read); every block jansson
 * allocated must come back wiped, and none may be left. Single-threaded. */
#include <jansson.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACK_MAX 4096

static struct {
    void *p;
    size_t n;
} track[TRACK_MAX];
static size_t n_alloc, n_freed, n_dirty, n_untracked;

static void *track_malloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        return NULL;
    for (size_t i = 0; i < TRACK_MAX; i++) {
        if (track[i].p == NULL) {
            track[i].p = p;
            track[i].n = n;
            n_alloc++;
            return p;
        }
    }
    n_untracked++;
    return p;
}

static void track_free(void *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < TRACK_MAX; i++) {
        if (track[i].p == p) {
            const unsigned char *b = p;
            for (size_t k = 0; k < track[i].n; k++) {
                if (b[k] != 0) {
                    n_dirty++;
                    break;
                }
            }
            n_freed++;
            track[i].p = NULL;
            break;
        }
    }
    free(p);
}

#define malloc track_malloc
#define free   track_free
#include "near/keys.c"
#undef malloc
#undef free

#include "nf_test.h"

static const char *CRED =
    "{\"account_id\":\"alice.near\",\"public_key\":"
    "\"ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z\",\"private_key\":"
    "\"ed25519:49W385L4rePHy6PAaQUovbD2aacgN4HsKXSMeUzRg4fmwXszN91JuMFrQRj3"
    "vMDpZuRF3ZknQBuRBoWQJEfXstMw\"}";

/* The same secret, then a field that makes the parse fail after the lexer copied the secret. */
static const char *CRED_BAD =
    "{\"private_key\":\"ed25519:49W385L4rePHy6PAaQUovbD2aacgN4HsKXSMeUzRg4fmwXszN91JuMFrQRj3"
    "vMDpZuRF3ZknQBuRBoWQJEfXstMw\",\"account_id\":\"alice.near\",\"x\":[1,2,tru";

int main(void)
{
    CHECK(sodium_init() >= 0);
    keys_json_wipe_init();
    char account[ACCOUNT_ID_MAX + 1], err[256];
    struct nf_keypair *kp = NULL;
    CHECK_EQ_INT(keys_parse_credential_json(CRED, strlen(CRED), account, sizeof(account), &kp, err,
                                            sizeof(err)),
                 0);
    CHECK_EQ_STR(account, "alice.near");
    keys_free(kp);
    kp = NULL;
    CHECK_EQ_INT(keys_parse_credential_json(CRED_BAD, strlen(CRED_BAD), account, sizeof(account),
                                            &kp, err, sizeof(err)),
                 NF_EINVAL);
    printf("jansson blocks: %zu allocated, %zu freed, %zu not wiped\n", n_alloc, n_freed, n_dirty);
    CHECK(n_alloc >= 8); /* the lexer, the strings, the objects */
    CHECK_EQ_INT(n_untracked, 0);
    CHECK_EQ_INT(n_freed, n_alloc);
    CHECK_EQ_INT(n_dirty, 0);
    return nf_test_report("test_keys_wipe");
}
