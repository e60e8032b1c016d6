/* keys: NEAR ed25519 keys. Public keys are plain values; secret keys live only in libsodium
 * guarded memory (sodium_malloc), are wiped on free and are never printed or logged. The parse
 * functions are pure; keys_file.c (declared at the end) reads credential files. Any thread, but a
 * struct nf_keypair is owned by one thread at a time. */
#ifndef NF_KEYS_H
#define NF_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define NF_KEY_ED25519 0
/* "ed25519:" + base58(32 bytes) + NUL */
#define KEYS_PUBKEY_STR_MAX 56
/* "ed25519:" + base58(64 bytes) + NUL */
#define KEYS_SECRET_STR_MAX 100

struct nf_pubkey {
    uint8_t type;     /* NF_KEY_ED25519 (SECP256K1 = 1 is decoded by near_tx but never used here) */
    uint8_t data[64]; /* ed25519 uses data[0..32) */
};

struct nf_keypair; /* opaque, in sodium_malloc memory */

/* keys_pubkey_parse: "ed25519:<base58 32 bytes>" or bare base58 (treated as ed25519).
 * Returns 0, or NF_EINVAL (bad prefix/base58/length). Borrows s until return. */
int keys_pubkey_parse(const char *s, size_t len, struct nf_pubkey *out);

/* keys_pubkey_format: writes "ed25519:<base58>" + NUL into out (KEYS_PUBKEY_STR_MAX is enough).
 * A SECP256K1 key (type 1, as near_tx may decode) is written as "secp256k1:<base58 64 bytes>",
 * which needs up to 99 bytes. Returns length, NF_ENOSPC, or NF_EINVAL for another type. */
int keys_pubkey_format(const struct nf_pubkey *pk, char *out, size_t cap);

/* keys_pubkey_equal: 1 when equal, 0 otherwise. */
int keys_pubkey_equal(const struct nf_pubkey *a, const struct nf_pubkey *b);

/* keys_secret_parse: "ed25519:<base58>" of 64 bytes (seed||public) or 32 bytes (seed); a string
 * without a prefix is read as ed25519 (as nearcore does), any other "<type>:" is NF_EINVAL. For 64
 * bytes the embedded public half must match the one derived from the seed (else NF_ECRYPTO).
 * On success *out is a new keypair the caller owns (free with keys_free). The decoded secret never
 * leaves sodium memory; temporary copies are wiped. Returns 0, NF_EINVAL, NF_ECRYPTO, NF_ENOMEM. */
int keys_secret_parse(const char *s, size_t len, struct nf_keypair **out);

/* keys_generate: a new random keypair the caller owns. Returns 0 or NF_ENOMEM. */
int keys_generate(struct nf_keypair **out);

/* keys_from_seed: keypair from a 32-byte seed (tests, simulator genesis). Caller owns *out. */
int keys_from_seed(const uint8_t seed[32], struct nf_keypair **out);

/* keys_public: borrowed pointer to kp's public key, valid until keys_free(kp). */
const struct nf_pubkey *keys_public(const struct nf_keypair *kp);

/* keys_sign: ed25519 signature of msg[0..len) (for NEAR: the 32-byte tx hash). Returns 0. */
int keys_sign(const struct nf_keypair *kp, const uint8_t *msg, size_t len, uint8_t sig[64]);

/* keys_verify: 0 when sig is a valid ed25519 signature of msg by pk, NF_ECRYPTO otherwise. */
int keys_verify(const struct nf_pubkey *pk, const uint8_t *msg, size_t len, const uint8_t sig[64]);

/* keys_secret_format: writes "ed25519:<base58(seed||pub)>" + NUL into out, for writing key files
 * only. The caller must wipe out (sodium_memzero) after use. Returns length or NF_ENOSPC. */
int keys_secret_format(const struct nf_keypair *kp, char *out, size_t cap);

/* keys_free: wipes and frees kp. NULL-safe. */
void keys_free(struct nf_keypair *kp);

/* keys_json_wipe_init: makes jansson allocate through a wrapper that records each block's size
 * in a small header and wipes the whole block (sodium_memzero) before freeing it, so no copy of a
 * secret the JSON lexer made lingers in freed heap memory. Process-wide and permanent: call it at
 * the start of main, before anything uses jansson (jansson requires that of
 * json_set_alloc_funcs). Later calls are no-ops. Main thread, start-up. */
void keys_json_wipe_init(void);

/* keys_parse_credential_json: parses one credential JSON text (near-cli: account_id, public_key,
 * private_key; nearcore: secret_key accepted too). Checks the secret matches public_key. On success
 * copies account_id (NUL-terminated) into account (cap bytes) and sets *out (caller owns).
 * On failure writes a one-line reason into err (errcap bytes) that never contains secret material.
 * Returns 0, NF_EINVAL, NF_ECRYPTO, NF_EACCOUNT, NF_ENOSPC, or NF_ESTATE when
 * keys_json_wipe_init has not been called (jansson would keep unwiped copies of the secret). */
int keys_parse_credential_json(const char *json,
                               size_t len,
                               char *account,
                               size_t cap,
                               struct nf_keypair **out,
                               char *err,
                               size_t errcap);

/* ---- keys_file.c: credential files (I/O; start-up and CLI only) ---- */

/* keys_load_file: reads one credential file. Refuses (NF_EPERM) a symbolic link, a file owned by
 * another user than the process's euid, a file readable or writable by group or others, and a
 * file whose directory group or others can write; anything that is not a regular file is
 * NF_EINVAL (nf_secfile.h). Same outputs as keys_parse_credential_json; err names the path and
 * the reason. NF_ENOTFOUND when the file does not exist. */
int keys_load_file(
    const char *path, char *account, size_t cap, struct nf_keypair **out, char *err, size_t errcap);

/* keys_load_account: loads every key of account from dir, trying both layouts:
 * near-cli-rs "<dir>/<account>/<name>.json" (several keys, normally ed25519_<pub>.json; dotfiles
 * skipped) and legacy "<dir>/<account>.json". Keys are de-duplicated by public key, sorted by
 * public key text. Stores the keypairs in kps (caller owns each) and their count in *n. Any bad
 * file fails the whole load (never silently skipped), as does a file whose account_id is not
 * account (NF_EINVAL). dir itself must not be writable by group or others (NF_EPERM); every
 * file passes keys_load_file's checks. Returns 0, NF_EACCOUNT, NF_ENOTFOUND (no key), NF_ETOOMANY
 * (more than max distinct keys; nothing stored), NF_EPERM, NF_EINVAL, NF_ECRYPTO, NF_EIO. *n is 0
 * on error. */
int keys_load_account(const char *dir,
                      const char *account,
                      struct nf_keypair **kps,
                      size_t max,
                      size_t *n,
                      char *err,
                      size_t errcap);

/* keys_write_file: writes a near-cli-rs key file "<dir>/<account>/ed25519_<pub>.json" (missing
 * directories created 0700, file 0600, written to a temp file, fsynced, renamed, directory
 * fsynced) with account_id, public_key, private_key. When legacy is nonzero, writes
 * "<dir>/<account>.json" instead. An existing file is never replaced: the same key there is a
 * no-op success, another key is NF_ESTATE. The file is written through its directory opened by
 * nf_secfile_open_dir, so a directory that keys_load_file would refuse (writable by group or
 * others, or a parent another user could replace) is refused here first (NF_EPERM), as is a
 * credentials directory dir that keys_load_account would refuse. path_out (cap bytes, may be
 * NULL) receives the path. Returns 0, NF_EACCOUNT, NF_ENOSPC, NF_ESTATE, NF_EPERM, NF_EINVAL,
 * NF_ENOTFOUND, NF_ECRYPTO, NF_EIO, NF_ENOMEM. */
int keys_write_file(const char *dir,
                    const char *account,
                    const struct nf_keypair *kp,
                    int legacy,
                    char *path_out,
                    size_t cap,
                    char *err,
                    size_t errcap);

#endif
