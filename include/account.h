/* account: NEAR account id validation exactly as nearcore's near-account-id (strict rules,
 * protocol 83+; docs/PROTOCOL.md section 5.4). Pure, any thread. */
#ifndef NF_ACCOUNT_H
#define NF_ACCOUNT_H

#include <stddef.h>

#define ACCOUNT_ID_MIN 2
#define ACCOUNT_ID_MAX 64

enum account_kind {
    ACCOUNT_NAMED = 0,         /* ordinary (sub)account name */
    ACCOUNT_NEAR_IMPLICIT = 1, /* 64 lowercase hex chars = hex(ed25519 public key) */
    ACCOUNT_ETH_IMPLICIT = 2,  /* "0x" + 40 lowercase hex */
    ACCOUNT_DETERMINISTIC = 3, /* "0s" + 40 lowercase hex (NEP-616) */
};

/* account_id_check: validates id[0..len) (not NUL-terminated necessarily). Returns the
 * enum account_kind (>= 0) when valid, NF_EACCOUNT when not; then *why (if why != NULL) points to a
 * static English reason ("too short", "invalid character", "redundant separator", ...). */
int account_id_check(const char *id, size_t len, const char **why);

#endif
