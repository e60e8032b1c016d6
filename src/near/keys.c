/* keys: NEAR ed25519 key strings, keypairs, signing and credential JSON (see include/keys.h).
 * Pure (no I/O, no threads); any thread may call it, but one struct nf_keypair belongs to one
 * thread at a time. Owns every struct nf_keypair it hands out: each lives in its own sodium_malloc
 * block (guard pages, mlock'd, read-only between constructor and keys_free) and is wiped on free.
 * Every temporary buffer that held decoded secret bytes or secret text is wiped before return
 * (jansson's own blocks too, through the wiping allocator of keys_json_wipe_init), and
 * no error message ever quotes an input value (a mistyped credential file may have the secret
 * anywhere). */
#include "keys.h"

#include <jansson.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "base58.h"
#include "nf_err.h"

#define KEYS_PREFIX     "ed25519:"
#define KEYS_PREFIX_LEN 8

struct nf_keypair {
    uint8_t secret[crypto_sign_SECRETKEYBYTES]; /* libsodium layout: seed(32) || public(32) */
    struct nf_pubkey pub;
};

/* keys_sodium_ready: sodium_init() once per process. sodium_init is itself idempotent and
 * thread-safe; the flag only skips its internal lock on later calls. Returns 0 or NF_ECRYPTO. */
static int keys_sodium_ready(void)
{
    static int ready;
    if (__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) /* pairs with the release store below */
        return 0;
    if (sodium_init() < 0)
        return NF_ECRYPTO;
    __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    return 0;
}

/* keys_alloc: a zeroed, writable keypair in guarded memory. Caller owns it. */
static struct nf_keypair *keys_alloc(void)
{
    if (keys_sodium_ready() != 0)
        return NULL;
    struct nf_keypair *kp = sodium_malloc(sizeof(*kp));
    if (kp == NULL)
        return NULL;
    sodium_memzero(kp, sizeof(*kp));
    return kp;
}

/* keys_seal: makes a finished keypair read-only so stray writes fault instead of corrupting it. */
static void keys_seal(struct nf_keypair *kp)
{
    (void)sodium_mprotect_readonly(kp);
}

/* keys_strip_prefix: accepts "ed25519:" or no prefix at all (nearcore parses a bare string as
 * ed25519). Advances *s and *len past the prefix; NF_EINVAL for any other "<type>:" prefix. */
static int keys_strip_prefix(const char **s, size_t *len)
{
    if (*len >= KEYS_PREFIX_LEN && memcmp(*s, KEYS_PREFIX, KEYS_PREFIX_LEN) == 0) {
        *s += KEYS_PREFIX_LEN;
        *len -= KEYS_PREFIX_LEN;
        return 0;
    }
    if (memchr(*s, ':', *len) != NULL)
        return NF_EINVAL; /* secp256k1:, ml-dsa-65: or garbage: not usable here */
    return 0;
}

int keys_pubkey_parse(const char *s, size_t len, struct nf_pubkey *out)
{
    if (s == NULL || out == NULL)
        return NF_EINVAL;
    if (keys_strip_prefix(&s, &len) != 0)
        return NF_EINVAL;
    uint8_t data[crypto_sign_PUBLICKEYBYTES];
    if (b58_decode_exact(s, len, data, sizeof(data)) != 0)
        return NF_EINVAL;
    memset(out, 0, sizeof(*out));
    out->type = NF_KEY_ED25519;
    memcpy(out->data, data, sizeof(data));
    return 0;
}

int keys_pubkey_format(const struct nf_pubkey *pk, char *out, size_t cap)
{
    /* SECP256K1 is formatted too so a decoder can show any key it meets; it is never parsed. */
    const char *prefix = pk->type == NF_KEY_ED25519 ? KEYS_PREFIX : "secp256k1:";
    size_t prefix_len = strlen(prefix);
    size_t data_len = pk->type == NF_KEY_ED25519 ? crypto_sign_PUBLICKEYBYTES : 64;
    if (pk->type != NF_KEY_ED25519 && pk->type != 1)
        return NF_EINVAL;
    if (cap < prefix_len + 1) {
        if (cap > 0)
            out[0] = '\0';
        return NF_ENOSPC;
    }
    int n = b58_encode(pk->data, data_len, out + prefix_len, cap - prefix_len);
    if (n < 0) {
        out[0] = '\0';
        return n;
    }
    memcpy(out, prefix, prefix_len);
    return (int)prefix_len + n;
}

int keys_pubkey_equal(const struct nf_pubkey *a, const struct nf_pubkey *b)
{
    if (a->type != b->type)
        return 0;
    size_t n = a->type == NF_KEY_ED25519 ? crypto_sign_PUBLICKEYBYTES : sizeof(a->data);
    return memcmp(a->data, b->data, n) == 0;
}

int keys_from_seed(const uint8_t seed[32], struct nf_keypair **out)
{
    struct nf_keypair *kp = keys_alloc();
    if (kp == NULL)
        return NF_ENOMEM;
    kp->pub.type = NF_KEY_ED25519;
    if (crypto_sign_seed_keypair(kp->pub.data, kp->secret, seed) != 0) {
        keys_free(kp);
        return NF_ECRYPTO;
    }
    keys_seal(kp);
    *out = kp;
    return 0;
}

int keys_generate(struct nf_keypair **out)
{
    struct nf_keypair *kp = keys_alloc();
    if (kp == NULL)
        return NF_ENOMEM;
    kp->pub.type = NF_KEY_ED25519;
    if (crypto_sign_keypair(kp->pub.data, kp->secret) != 0) {
        keys_free(kp);
        return NF_ECRYPTO;
    }
    keys_seal(kp);
    *out = kp;
    return 0;
}

int keys_secret_parse(const char *s, size_t len, struct nf_keypair **out)
{
    if (s == NULL || out == NULL)
        return NF_EINVAL;
    if (keys_strip_prefix(&s, &len) != 0)
        return NF_EINVAL;
    /* Decode straight into guarded memory so the secret never sits in an ordinary buffer. */
    uint8_t *raw = keys_sodium_ready() == 0 ? sodium_malloc(crypto_sign_SECRETKEYBYTES) : NULL;
    if (raw == NULL)
        return NF_ENOMEM;
    int rc;
    int n = b58_decode(s, len, raw, crypto_sign_SECRETKEYBYTES);
    if (n != crypto_sign_SECRETKEYBYTES && n != crypto_sign_SEEDBYTES) {
        rc = NF_EINVAL;
        goto done;
    }
    struct nf_keypair *kp;
    rc = keys_from_seed(raw, &kp);
    if (rc != 0)
        goto done;
    if (n == crypto_sign_SECRETKEYBYTES &&
        sodium_memcmp(raw + crypto_sign_SEEDBYTES, kp->pub.data, crypto_sign_PUBLICKEYBYTES) != 0) {
        keys_free(kp);
        rc = NF_ECRYPTO; /* the public half does not belong to this seed */
        goto done;
    }
    *out = kp;
    rc = 0;
done:
    sodium_free(raw); /* sodium_free wipes the block before unmapping it */
    return rc;
}

const struct nf_pubkey *keys_public(const struct nf_keypair *kp)
{
    return &kp->pub;
}

int keys_sign(const struct nf_keypair *kp, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    if (crypto_sign_detached(sig, NULL, msg, len, kp->secret) != 0)
        return NF_ECRYPTO;
    return 0;
}

int keys_verify(const struct nf_pubkey *pk, const uint8_t *msg, size_t len, const uint8_t sig[64])
{
    if (pk->type != NF_KEY_ED25519)
        return NF_ECRYPTO;
    if (keys_sodium_ready() != 0)
        return NF_ECRYPTO;
    if (crypto_sign_verify_detached(sig, msg, len, pk->data) != 0)
        return NF_ECRYPTO;
    return 0;
}

int keys_secret_format(const struct nf_keypair *kp, char *out, size_t cap)
{
    if (cap < KEYS_PREFIX_LEN + 1)
        return NF_ENOSPC;
    int n = b58_encode(kp->secret, crypto_sign_SECRETKEYBYTES, out + KEYS_PREFIX_LEN,
                       cap - KEYS_PREFIX_LEN);
    if (n < 0) {
        sodium_memzero(out, cap);
        return n;
    }
    memcpy(out, KEYS_PREFIX, KEYS_PREFIX_LEN);
    return KEYS_PREFIX_LEN + n;
}

void keys_free(struct nf_keypair *kp)
{
    if (kp == NULL)
        return;
    (void)sodium_mprotect_readwrite(kp);
    sodium_memzero(kp, sizeof(*kp));
    sodium_free(kp);
}

/* ---- credential JSON ---------------------------------------------------------------------- */

/* jansson's allocations: each block carries its size in a header (keeping the payload
 * max-aligned) so that the free function can wipe all of it. */
#define KEYS_JSON_HDR _Alignof(max_align_t)

static void *keys_json_malloc(size_t n)
{
    if (n > SIZE_MAX - KEYS_JSON_HDR)
        return NULL;
    unsigned char *b = malloc(n + KEYS_JSON_HDR);
    if (b == NULL)
        return NULL;
    memcpy(b, &n, sizeof(n));
    return b + KEYS_JSON_HDR;
}

static void keys_json_free(void *p)
{
    if (p == NULL)
        return;
    unsigned char *b = (unsigned char *)p - KEYS_JSON_HDR;
    size_t n;
    memcpy(&n, b, sizeof(n));
    sodium_memzero(b, n + KEYS_JSON_HDR);
    free(b);
}

void keys_json_wipe_init(void)
{
    json_malloc_t m = NULL;
    json_free_t f = NULL;
    json_get_alloc_funcs(&m, &f);
    if (m != keys_json_malloc)
        json_set_alloc_funcs(keys_json_malloc, keys_json_free);
}

static int keys_json_wipe_ready(void)
{
    json_malloc_t m = NULL;
    json_free_t f = NULL;
    json_get_alloc_funcs(&m, &f);
    return m == keys_json_malloc && f == keys_json_free;
}

static void keys_err(char *err, size_t errcap, const char *msg)
{
    if (err != NULL && errcap > 0)
        snprintf(err, errcap, "%s", msg);
}

/* keys_json_wipe_string: overwrites the text of a jansson string we own, so the secret does not
 * linger in freed heap memory after json_decref. */
static void keys_json_wipe_string(json_t *s)
{
    if (json_is_string(s))
        sodium_memzero((char *)json_string_value(s), json_string_length(s));
}

int keys_parse_credential_json(const char *json,
                               size_t len,
                               char *account,
                               size_t cap,
                               struct nf_keypair **out,
                               char *err,
                               size_t errcap)
{
    if (json == NULL || out == NULL) {
        keys_err(err, errcap, "credential JSON: no input");
        return NF_EINVAL;
    }
    if (!keys_json_wipe_ready()) {
        keys_err(err, errcap,
                 "credential JSON: not parsed: keys_json_wipe_init was not called at start-up");
        return NF_ESTATE;
    }
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* jerr.text may quote the offending token (possibly the secret): report the place only. */
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "credential JSON is malformed (line %d, column %d)", jerr.line,
                     jerr.column);
        return NF_EINVAL;
    }
    int rc = NF_EINVAL;
    struct nf_keypair *kp = NULL;
    json_t *jsec = json_object_get(root, "private_key");
    json_t *jalt = json_object_get(root, "secret_key");
    if (!json_is_object(root)) {
        keys_err(err, errcap, "credential JSON is not an object");
        goto done;
    }
    json_t *jacc = json_object_get(root, "account_id");
    json_t *jpub = json_object_get(root, "public_key");
    if (jsec != NULL && jalt != NULL) {
        keys_err(err, errcap, "credential JSON has both private_key and secret_key");
        goto done;
    }
    if (jsec == NULL)
        jsec = jalt;
    if (!json_is_string(jacc)) {
        keys_err(err, errcap, "credential JSON: account_id missing or not a string");
        goto done;
    }
    if (!json_is_string(jpub)) {
        keys_err(err, errcap, "credential JSON: public_key missing or not a string");
        goto done;
    }
    if (!json_is_string(jsec)) {
        keys_err(err, errcap,
                 "credential JSON: private_key (or secret_key) missing or not a string");
        goto done;
    }
    const char *why = NULL;
    size_t acc_len = json_string_length(jacc);
    if (account_id_check(json_string_value(jacc), acc_len, &why) < 0) {
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "credential JSON: account_id is not a valid NEAR account id (%s)",
                     why ? why : "invalid");
        rc = NF_EACCOUNT;
        goto done;
    }
    struct nf_pubkey pub;
    if (keys_pubkey_parse(json_string_value(jpub), json_string_length(jpub), &pub) != 0) {
        keys_err(err, errcap, "credential JSON: public_key is not an ed25519 public key string");
        goto done;
    }
    rc = keys_secret_parse(json_string_value(jsec), json_string_length(jsec), &kp);
    if (rc == NF_ECRYPTO) {
        keys_err(err, errcap,
                 "credential JSON: private key is inconsistent (its public half does not match "
                 "its seed)");
        goto done;
    }
    if (rc != 0) {
        keys_err(err, errcap,
                 rc == NF_ENOMEM ? "credential JSON: out of secure memory"
                                 : "credential JSON: private key is not an ed25519 secret key "
                                   "string");
        goto done;
    }
    if (!keys_pubkey_equal(&pub, &kp->pub)) {
        keys_err(err, errcap, "credential JSON: private key does not match public_key");
        rc = NF_ECRYPTO;
        goto done;
    }
    if (account != NULL) {
        if (acc_len + 1 > cap) {
            keys_err(err, errcap, "credential JSON: account_id longer than the caller's buffer");
            rc = NF_ENOSPC;
            goto done;
        }
        memcpy(account, json_string_value(jacc), acc_len + 1);
    }
    *out = kp;
    kp = NULL;
    rc = 0;
done:
    keys_free(kp);
    if (json_is_object(root)) {
        keys_json_wipe_string(json_object_get(root, "private_key"));
        keys_json_wipe_string(json_object_get(root, "secret_key"));
    }
    json_decref(root);
    return rc;
}
