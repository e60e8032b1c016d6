/* test_keys: NEAR key strings, keypairs, signatures, credential JSON and key files. Vectors come
 * from RFC 8032 section 7.1 TEST 1 and docs/PROTOCOL.md section 1.9 (independent references).
 * File tests run in a fresh mkdtemp directory that is removed at the end. Single-threaded. */
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "base58.h"
#include "keys.h"
#include "nf_err.h"
#include "nf_test.h"

static const char *SEED_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char *PUB_HEX = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char *PUB_STR = "ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z";
static const char *SECRET_STR =
    "ed25519:49W385L4rePHy6PAaQUovbD2aacgN4HsKXSMeUzRg4fmwXszN91JuMFrQRj3"
    "vMDpZuRF3ZknQBuRBoWQJEfXstMw";
/* RFC 8032 TEST 1: signature of the empty message. */
static const char *RFC_SIG_HEX = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                                 "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
/* docs/PROTOCOL.md 1.9 VECTOR 1: tx hash and its signature by the TEST 1 key. */
static const char *TX_HASH_HEX = "cd80e20f762dfcbc714d165d23aa4b6d68598a349aa13618640dac0213db1e01";
static const char *TX_SIG_HEX = "a6dfbfeaa0641adc1efd7bad5548fddc083e39df5613db86229fd14d6535d0f8"
                                "53dd391a4cddbc0e4009f63f1fc30422d686b2cee032eb4d2ce0ce738856310b";

static void hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static int secret_string_of(const uint8_t *bytes, size_t n, char *out, size_t cap)
{
    memcpy(out, "ed25519:", 8);
    return b58_encode(bytes, n, out + 8, cap - 8);
}

static void test_rfc8032_vector(void)
{
    uint8_t seed[32], pub[32], sig[64], want_sig[64];
    hex_to_bytes(SEED_HEX, seed, 32);
    hex_to_bytes(PUB_HEX, pub, 32);
    hex_to_bytes(RFC_SIG_HEX, want_sig, 64);

    struct nf_keypair *kp = NULL;
    CHECK_EQ_INT(keys_from_seed(seed, &kp), 0);
    CHECK(kp != NULL);
    const struct nf_pubkey *pk = keys_public(kp);
    CHECK_EQ_INT(pk->type, NF_KEY_ED25519);
    CHECK(memcmp(pk->data, pub, 32) == 0);

    char buf[KEYS_SECRET_STR_MAX];
    CHECK_EQ_INT(keys_pubkey_format(pk, buf, sizeof(buf)), (int)strlen(PUB_STR));
    CHECK_EQ_STR(buf, PUB_STR);
    CHECK_EQ_INT(keys_secret_format(kp, buf, sizeof(buf)), (int)strlen(SECRET_STR));
    CHECK_EQ_STR(buf, SECRET_STR);
    sodium_memzero(buf, sizeof(buf));

    CHECK_EQ_INT(keys_sign(kp, (const uint8_t *)"", 0, sig), 0);
    CHECK(memcmp(sig, want_sig, 64) == 0);
    CHECK_EQ_INT(keys_verify(pk, (const uint8_t *)"", 0, sig), 0);

    uint8_t hash[32], want_tx_sig[64];
    hex_to_bytes(TX_HASH_HEX, hash, 32);
    hex_to_bytes(TX_SIG_HEX, want_tx_sig, 64);
    CHECK_EQ_INT(keys_sign(kp, hash, 32, sig), 0);
    CHECK(memcmp(sig, want_tx_sig, 64) == 0);
    CHECK_EQ_INT(keys_verify(pk, hash, 32, want_tx_sig), 0);
    keys_free(kp);

    /* The NEAR secret string parses to the same key and re-formats identically. */
    kp = NULL;
    CHECK_EQ_INT(keys_secret_parse(SECRET_STR, strlen(SECRET_STR), &kp), 0);
    CHECK(kp != NULL);
    if (kp != NULL) {
        CHECK(memcmp(keys_public(kp)->data, pub, 32) == 0);
        CHECK_EQ_INT(keys_secret_format(kp, buf, sizeof(buf)), (int)strlen(SECRET_STR));
        CHECK_EQ_STR(buf, SECRET_STR);
        keys_free(kp);
    }

    /* The 32-byte seed form, and the bare (prefix-less) form, give the same key. */
    char seed_str[KEYS_SECRET_STR_MAX];
    CHECK(secret_string_of(seed, 32, seed_str, sizeof(seed_str)) > 0);
    kp = NULL;
    CHECK_EQ_INT(keys_secret_parse(seed_str, strlen(seed_str), &kp), 0);
    if (kp != NULL) {
        CHECK(memcmp(keys_public(kp)->data, pub, 32) == 0);
        CHECK_EQ_INT(keys_secret_format(kp, buf, sizeof(buf)), (int)strlen(SECRET_STR));
        CHECK_EQ_STR(buf, SECRET_STR);
        keys_free(kp);
    }
    kp = NULL;
    CHECK_EQ_INT(keys_secret_parse(SECRET_STR + 8, strlen(SECRET_STR) - 8, &kp), 0);
    if (kp != NULL) {
        CHECK(memcmp(keys_public(kp)->data, pub, 32) == 0);
        keys_free(kp);
    }

    /* Length is explicit: a longer buffer with the string as prefix must not parse past len. */
    char padded[200];
    snprintf(padded, sizeof(padded), "%sXYZ", SECRET_STR);
    kp = NULL;
    CHECK_EQ_INT(keys_secret_parse(padded, strlen(SECRET_STR), &kp), 0);
    keys_free(kp);
}

static void test_secret_errors(void)
{
    uint8_t seed[32], full[64];
    hex_to_bytes(SEED_HEX, seed, 32);
    hex_to_bytes(SEED_HEX, full, 32);
    hex_to_bytes(PUB_HEX, full + 32, 32);
    char s[KEYS_SECRET_STR_MAX + 20];
    struct nf_keypair *kp = NULL;

    /* Every single-bit flip of the public half is caught. */
    int caught = 0;
    for (int bit = 0; bit < 256; bit++) {
        full[32 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        secret_string_of(full, 64, s, sizeof(s));
        kp = NULL;
        if (keys_secret_parse(s, strlen(s), &kp) == NF_ECRYPTO && kp == NULL)
            caught++;
        full[32 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK_EQ_INT(caught, 256);

    /* A 64-byte secret whose public half belongs to another seed. */
    uint8_t other_seed[32];
    memset(other_seed, 7, sizeof(other_seed));
    struct nf_keypair *other = NULL;
    CHECK_EQ_INT(keys_from_seed(other_seed, &other), 0);
    memcpy(full + 32, keys_public(other)->data, 32);
    keys_free(other);
    secret_string_of(full, 64, s, sizeof(s));
    CHECK_EQ_INT(keys_secret_parse(s, strlen(s), &kp), NF_ECRYPTO);

    /* Wrong lengths: 31, 33, 63, 65 bytes. */
    size_t bad_lens[] = {1, 31, 33, 48, 63, 65};
    uint8_t junk[65];
    memset(junk, 0x5a, sizeof(junk));
    for (size_t i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
        secret_string_of(junk, bad_lens[i], s, sizeof(s));
        CHECK_EQ_INT(keys_secret_parse(s, strlen(s), &kp), NF_EINVAL);
    }

    /* Prefixes. */
    const char *body = SECRET_STR + 8;
    const char *prefixes[] = {"secp256k1:", "ED25519:", "ed25519;",  "ed25519::",
                              "ed2551:",    ":",        " ed25519:", "ed25519: "};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        snprintf(s, sizeof(s), "%s%s", prefixes[i], body);
        CHECK_EQ_INT(keys_secret_parse(s, strlen(s), &kp), NF_EINVAL);
    }
    /* Characters outside the base58 alphabet: 0 O I l, space, '+'. */
    const char bad_chars[] = {'0', 'O', 'I', 'l', ' ', '+', '\0', (char)0xc3};
    for (size_t i = 0; i < sizeof(bad_chars); i++) {
        snprintf(s, sizeof(s), "%s", SECRET_STR);
        s[20] = bad_chars[i];
        CHECK_EQ_INT(keys_secret_parse(s, strlen(SECRET_STR), &kp), NF_EINVAL);
    }
    CHECK_EQ_INT(keys_secret_parse("", 0, &kp), NF_EINVAL);
    CHECK_EQ_INT(keys_secret_parse("ed25519:", 8, &kp), NF_EINVAL);
    CHECK(kp == NULL);
}

static void test_pubkey(void)
{
    struct nf_pubkey pk, pk2;
    uint8_t pub[32];
    hex_to_bytes(PUB_HEX, pub, 32);
    CHECK_EQ_INT(keys_pubkey_parse(PUB_STR, strlen(PUB_STR), &pk), 0);
    CHECK_EQ_INT(pk.type, NF_KEY_ED25519);
    CHECK(memcmp(pk.data, pub, 32) == 0);
    CHECK_EQ_INT(keys_pubkey_parse(PUB_STR + 8, strlen(PUB_STR) - 8, &pk2), 0);
    CHECK(keys_pubkey_equal(&pk, &pk2));
    pk2.data[31] ^= 1;
    CHECK(!keys_pubkey_equal(&pk, &pk2));
    pk2.data[31] ^= 1;
    pk2.type = 1;
    CHECK(!keys_pubkey_equal(&pk, &pk2));

    /* A public key is not a secret key and vice versa. */
    CHECK_EQ_INT(keys_pubkey_parse(SECRET_STR, strlen(SECRET_STR), &pk2), NF_EINVAL);
    CHECK_EQ_INT(
        keys_pubkey_parse("secp256k1:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z", 54, &pk2),
        NF_EINVAL);
    CHECK_EQ_INT(keys_pubkey_parse("ed25519:", 8, &pk2), NF_EINVAL);
    CHECK_EQ_INT(keys_pubkey_parse("", 0, &pk2), NF_EINVAL);
    CHECK_EQ_INT(
        keys_pubkey_parse("ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS960", 52, &pk2),
        NF_EINVAL);
    /* 32 zero bytes are 32 '1's: a valid (if useless) key string; 31 or 33 '1's are not. */
    char ones[64] = "ed25519:";
    memset(ones + 8, '1', 33);
    CHECK_EQ_INT(keys_pubkey_parse(ones, 8 + 32, &pk2), 0);
    CHECK_EQ_INT(keys_pubkey_parse(ones, 8 + 31, &pk2), NF_EINVAL);
    CHECK_EQ_INT(keys_pubkey_parse(ones, 8 + 33, &pk2), NF_EINVAL);
    char out[KEYS_PUBKEY_STR_MAX];
    CHECK_EQ_INT(keys_pubkey_format(&pk2, out, sizeof(out)), 40);
    CHECK(strncmp(out, ones, 40) == 0 && out[40] == '\0');

    /* Output capacity: exactly len+1 fits, len does not. */
    size_t n = strlen(PUB_STR);
    CHECK_EQ_INT(keys_pubkey_format(&pk, out, n + 1), (int)n);
    CHECK_EQ_INT(keys_pubkey_format(&pk, out, n), NF_ENOSPC);
    CHECK_EQ_INT(keys_pubkey_format(&pk, out, 3), NF_ENOSPC);

    /* SECP256K1 formats with its own prefix (decoder display), 64 bytes of data. */
    struct nf_pubkey sk1;
    memset(&sk1, 0, sizeof(sk1));
    sk1.type = 1;
    memset(sk1.data, 0, 64);
    char big[120];
    int len = keys_pubkey_format(&sk1, big, sizeof(big));
    CHECK_EQ_INT(len, 10 + 64);
    CHECK(strncmp(big, "secp256k1:1111", 14) == 0);
    sk1.type = 2;
    CHECK_EQ_INT(keys_pubkey_format(&sk1, big, sizeof(big)), NF_EINVAL);

    /* Random keys round-trip through text. */
    for (int i = 0; i < 200; i++) {
        struct nf_pubkey r, back;
        memset(&r, 0, sizeof(r));
        randombytes_buf(r.data, 32);
        if (i % 4 == 0)
            memset(r.data, 0, (size_t)(i % 9)); /* leading zero bytes */
        CHECK(keys_pubkey_format(&r, out, sizeof(out)) > 8);
        CHECK_EQ_INT(keys_pubkey_parse(out, strlen(out), &back), 0);
        CHECK(keys_pubkey_equal(&r, &back));
    }
}

static void test_sign_verify(void)
{
    struct nf_keypair *a = NULL, *b = NULL;
    CHECK_EQ_INT(keys_generate(&a), 0);
    CHECK_EQ_INT(keys_generate(&b), 0);
    CHECK(!keys_pubkey_equal(keys_public(a), keys_public(b)));
    uint8_t msg[32], sig[64];
    randombytes_buf(msg, sizeof(msg));
    CHECK_EQ_INT(keys_sign(a, msg, sizeof(msg), sig), 0);
    CHECK_EQ_INT(keys_verify(keys_public(a), msg, sizeof(msg), sig), 0);
    CHECK_EQ_INT(keys_verify(keys_public(b), msg, sizeof(msg), sig), NF_ECRYPTO);
    msg[5] ^= 0x10;
    CHECK_EQ_INT(keys_verify(keys_public(a), msg, sizeof(msg), sig), NF_ECRYPTO);
    msg[5] ^= 0x10;
    sig[40] ^= 0x01;
    CHECK_EQ_INT(keys_verify(keys_public(a), msg, sizeof(msg), sig), NF_ECRYPTO);
    sig[40] ^= 0x01;
    struct nf_pubkey other_type = *keys_public(a);
    other_type.type = 1;
    CHECK_EQ_INT(keys_verify(&other_type, msg, sizeof(msg), sig), NF_ECRYPTO);

    /* A generated key survives its own secret text. */
    char s[KEYS_SECRET_STR_MAX];
    CHECK(keys_secret_format(a, s, sizeof(s)) > 8);
    CHECK_EQ_INT(keys_secret_format(a, s, 20), NF_ENOSPC);
    CHECK(keys_secret_format(a, s, sizeof(s)) > 8);
    struct nf_keypair *a2 = NULL;
    CHECK_EQ_INT(keys_secret_parse(s, strlen(s), &a2), 0);
    sodium_memzero(s, sizeof(s));
    if (a2 != NULL) {
        CHECK(keys_pubkey_equal(keys_public(a), keys_public(a2)));
        uint8_t sig2[64];
        CHECK_EQ_INT(keys_sign(a2, msg, sizeof(msg), sig2), 0);
        CHECK(memcmp(sig, sig2, 64) == 0); /* ed25519 is deterministic */
    }
    keys_free(a2);
    keys_free(a);
    keys_free(b);
    keys_free(NULL);
}

/* ---- credential JSON ---------------------------------------------------------------------- */

static int
cred(const char *json, char *account, size_t cap, struct nf_keypair **kp, char *err, size_t errcap)
{
    err[0] = '\0';
    int rc = keys_parse_credential_json(json, strlen(json), account, cap, kp, err, errcap);
    /* No error text may quote any part of the secret. */
    if (rc != 0) {
        CHECK(strstr(err, "49W385L4") == NULL);
        CHECK(strstr(err, "XstMw") == NULL);
        CHECK(err[0] != '\0');
    }
    return rc;
}

static void test_credential_json(void)
{
    char json[1024], account[ACCOUNT_ID_MAX + 1], err[256];
    struct nf_keypair *kp = NULL;
    uint8_t pub[32];
    hex_to_bytes(PUB_HEX, pub, 32);

    snprintf(json, sizeof(json),
             "{\"account_id\":\"alice.near\",\"public_key\":\"%s\",\"private_key\":\"%s\"}",
             PUB_STR, SECRET_STR);
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), 0);
    CHECK_EQ_STR(account, "alice.near");
    CHECK(kp != NULL && memcmp(keys_public(kp)->data, pub, 32) == 0);
    keys_free(kp);
    kp = NULL;

    /* nearcore's field name, extra fields ignored, whitespace. */
    snprintf(json, sizeof(json),
             " {\n \"public_key\" : \"%s\",\n \"secret_key\": \"%s\", \"account_id\": "
             "\"node0\", \"master_seed_phrase\": \"x\" }\n",
             PUB_STR, SECRET_STR);
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), 0);
    CHECK_EQ_STR(account, "node0");
    keys_free(kp);
    kp = NULL;

    /* Seed-only secret. */
    uint8_t seed[32];
    hex_to_bytes(SEED_HEX, seed, 32);
    char seed_str[KEYS_SECRET_STR_MAX];
    secret_string_of(seed, 32, seed_str, sizeof(seed_str));
    snprintf(json, sizeof(json),
             "{\"account_id\":\"%s\",\"public_key\":\"%s\",\"private_key\":\"%s\"}", PUB_HEX,
             PUB_STR, seed_str);
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), 0);
    CHECK_EQ_STR(account, PUB_HEX);
    keys_free(kp);
    kp = NULL;

    /* Account buffer exactly big enough, then one byte short. */
    snprintf(json, sizeof(json),
             "{\"account_id\":\"alice.near\",\"public_key\":\"%s\",\"private_key\":\"%s\"}",
             PUB_STR, SECRET_STR);
    CHECK_EQ_INT(cred(json, account, 11, &kp, err, sizeof(err)), 0);
    keys_free(kp);
    kp = NULL;
    CHECK_EQ_INT(cred(json, account, 10, &kp, err, sizeof(err)), NF_ENOSPC);
    CHECK(kp == NULL);

    /* Mismatch between public_key and the secret. */
    snprintf(json, sizeof(json),
             "{\"account_id\":\"alice.near\",\"public_key\":\"ed25519:"
             "11111111111111111111111111111111\",\"private_key\":\"%s\"}",
             SECRET_STR);
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), NF_ECRYPTO);
    CHECK(kp == NULL);

    /* Both names at once are ambiguous (nearcore's serde alias rejects it too). */
    snprintf(json, sizeof(json),
             "{\"account_id\":\"alice.near\",\"public_key\":\"%s\",\"private_key\":\"%s\","
             "\"secret_key\":\"%s\"}",
             PUB_STR, SECRET_STR, SECRET_STR);
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), NF_EINVAL);

    /* Missing fields, wrong types. */
    snprintf(json, sizeof(json), "{\"public_key\":\"%s\",\"private_key\":\"%s\"}", PUB_STR,
             SECRET_STR);
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), NF_EINVAL);
    CHECK(strstr(err, "account_id") != NULL);
    snprintf(json, sizeof(json), "{\"account_id\":\"alice.near\",\"private_key\":\"%s\"}",
             SECRET_STR);
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), NF_EINVAL);
    CHECK(strstr(err, "public_key") != NULL);
    snprintf(json, sizeof(json), "{\"account_id\":\"alice.near\",\"public_key\":\"%s\"}", PUB_STR);
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), NF_EINVAL);
    CHECK(strstr(err, "private_key") != NULL);
    snprintf(json, sizeof(json), "{\"account_id\":5,\"public_key\":\"%s\",\"private_key\":\"%s\"}",
             PUB_STR, SECRET_STR);
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), NF_EINVAL);

    /* Invalid account ids. */
    const char *bad_accounts[] = {"Alice.near", "a", "alice..near", "-alice", "bob@near", ""};
    for (size_t i = 0; i < sizeof(bad_accounts) / sizeof(bad_accounts[0]); i++) {
        snprintf(json, sizeof(json),
                 "{\"account_id\":\"%s\",\"public_key\":\"%s\",\"private_key\":\"%s\"}",
                 bad_accounts[i], PUB_STR, SECRET_STR);
        CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), NF_EACCOUNT);
    }
    /* An account id with an embedded NUL is not "alice". */
    snprintf(json, sizeof(json),
             "{\"account_id\":\"alice\\u0000x\",\"public_key\":\"%s\",\"private_key\":\"%s\"}",
             PUB_STR, SECRET_STR);
    CHECK(cred(json, account, sizeof(account), &kp, err, sizeof(err)) < 0);
    CHECK(kp == NULL);

    /* Bad secrets: the error must not echo them (checked inside cred()). */
    snprintf(json, sizeof(json),
             "{\"account_id\":\"alice.near\",\"public_key\":\"%s\",\"private_key\":\"%s0\"}",
             PUB_STR, SECRET_STR);
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), NF_EINVAL);
    snprintf(json, sizeof(json),
             "{\"account_id\":\"alice.near\",\"public_key\":\"%s\",\"private_key\":\"%s", PUB_STR,
             SECRET_STR); /* unterminated: jansson's own message would quote it */
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), NF_EINVAL);
    snprintf(json, sizeof(json), "{\"private_key\":%s}", SECRET_STR + 8); /* bare token */
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), NF_EINVAL);
    snprintf(json, sizeof(json), "[\"%s\"]", SECRET_STR);
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), NF_EINVAL);
    CHECK_EQ_INT(cred("", account, sizeof(account), &kp, err, sizeof(err)), NF_EINVAL);
    CHECK_EQ_INT(cred("{}", account, sizeof(account), &kp, err, sizeof(err)), NF_EINVAL);
    /* Duplicate keys are rejected rather than silently picking one. */
    snprintf(json, sizeof(json),
             "{\"account_id\":\"alice.near\",\"account_id\":\"bob.near\",\"public_key\":\"%s\","
             "\"private_key\":\"%s\"}",
             PUB_STR, SECRET_STR);
    CHECK_EQ_INT(cred(json, account, sizeof(account), &kp, err, sizeof(err)), NF_EINVAL);
    CHECK(kp == NULL);
    /* A tiny error buffer is truncated, never overrun. */
    char tiny[4] = "xxx";
    CHECK_EQ_INT(keys_parse_credential_json("{}", 2, account, sizeof(account), &kp, tiny, 4),
                 NF_EINVAL);
    CHECK(strlen(tiny) == 3);
    CHECK_EQ_INT(keys_parse_credential_json("{}", 2, account, sizeof(account), &kp, NULL, 0),
                 NF_EINVAL);
}

/* ---- key files ---------------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return (mode_t)-1;
    return st.st_mode & 07777;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void test_files(void)
{
    char tmpl[] = "/tmp/nf_test_keys_XXXXXX";
    char *root = mkdtemp(tmpl);
    CHECK(root != NULL);
    if (root == NULL)
        return;
    char dir[512], path[1024], want[1024], err[512], account[ACCOUNT_ID_MAX + 1];
    snprintf(dir, sizeof(dir), "%s/creds/testnet", root); /* parents created too */

    uint8_t seed[32];
    hex_to_bytes(SEED_HEX, seed, 32);
    struct nf_keypair *k1 = NULL, *k2 = NULL, *k3 = NULL;
    CHECK_EQ_INT(keys_from_seed(seed, &k1), 0);
    CHECK_EQ_INT(keys_generate(&k2), 0);
    CHECK_EQ_INT(keys_generate(&k3), 0);

    /* near-cli-rs layout. */
    mode_t old_umask = umask(0); /* a permissive umask must not loosen the modes */
    CHECK_EQ_INT(keys_write_file(dir, "alice.near", k1, 0, path, sizeof(path), err, sizeof(err)),
                 0);
    umask(old_umask);
    snprintf(want, sizeof(want), "%s/alice.near/ed25519_%s.json", dir, PUB_STR + 8);
    CHECK_EQ_STR(path, want);
    CHECK_EQ_INT(mode_of(path), 0600);
    snprintf(want, sizeof(want), "%s/alice.near", dir);
    CHECK_EQ_INT(mode_of(want), 0700);
    CHECK_EQ_INT(mode_of(dir), 0700);

    /* The file holds exactly the fields and parses back to the key. */
    FILE *f = fopen(path, "r");
    char text[1024] = {0};
    if (f != NULL) {
        size_t got = fread(text, 1, sizeof(text) - 1, f);
        text[got] = '\0';
        fclose(f);
    }
    char expect[1024];
    snprintf(expect, sizeof(expect),
             "{\"account_id\":\"alice.near\",\"public_key\":\"%s\",\"private_key\":\"%s\"}\n",
             PUB_STR, SECRET_STR);
    CHECK_EQ_STR(text, expect);
    struct nf_keypair *back = NULL;
    CHECK_EQ_INT(keys_load_file(path, account, sizeof(account), &back, err, sizeof(err)), 0);
    CHECK_EQ_STR(account, "alice.near");
    CHECK(back != NULL && keys_pubkey_equal(keys_public(back), keys_public(k1)));
    keys_free(back);

    /* Writing the same key again is a no-op success. */
    CHECK_EQ_INT(keys_write_file(dir, "alice.near", k1, 0, NULL, 0, err, sizeof(err)), 0);
    /* path_out too small. */
    CHECK_EQ_INT(keys_write_file(dir, "alice.near", k1, 0, path, 10, err, sizeof(err)), NF_ENOSPC);
    /* Invalid account ids never reach the file system (no "../"). */
    CHECK_EQ_INT(keys_write_file(dir, "../evil", k1, 0, NULL, 0, err, sizeof(err)), NF_EACCOUNT);
    CHECK_EQ_INT(keys_write_file(dir, "a/b", k1, 1, NULL, 0, err, sizeof(err)), NF_EACCOUNT);
    /* A directory the loader would refuse is refused before any secret is written there: the
     * credentials directory writable by others (both layouts), then the account directory. */
    char bob[1024];
    snprintf(bob, sizeof(bob), "%s/bob.near", dir);
    CHECK_EQ_INT(chmod(dir, 0777), 0);
    CHECK_EQ_INT(keys_write_file(dir, "bob.near", k2, 0, NULL, 0, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, "credentials directory") != NULL &&
          strstr(err, "writable by group or others") != NULL);
    CHECK_EQ_INT(keys_write_file(dir, "bob.near", k2, 1, NULL, 0, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, "writable by group or others") != NULL);
    CHECK_EQ_INT(chmod(dir, 0700), 0);
    CHECK(access(bob, F_OK) != 0); /* not even the account directory was made */
    CHECK_EQ_INT(mkdir(bob, 0700), 0);
    CHECK_EQ_INT(chmod(bob, 0770), 0);
    CHECK_EQ_INT(keys_write_file(dir, "bob.near", k2, 0, NULL, 0, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, bob) != NULL && strstr(err, "writable by group or others") != NULL);
    CHECK_EQ_INT(chmod(bob, 0700), 0);
    CHECK_EQ_INT(rmdir(bob), 0); /* still empty: nothing was written */
    snprintf(want, sizeof(want), "%s/bob.near.json", dir);
    CHECK(access(want, F_OK) != 0);

    /* Legacy layout with the same key: de-duplicated on load. */
    char legacy[1024];
    CHECK_EQ_INT(
        keys_write_file(dir, "alice.near", k1, 1, legacy, sizeof(legacy), err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "%s/alice.near.json", dir);
    CHECK_EQ_STR(legacy, want);
    CHECK_EQ_INT(mode_of(legacy), 0600);
    /* A legacy file is never overwritten with another key. */
    CHECK_EQ_INT(keys_write_file(dir, "alice.near", k2, 1, NULL, 0, err, sizeof(err)), NF_ESTATE);
    back = NULL;
    CHECK_EQ_INT(keys_load_file(legacy, account, sizeof(account), &back, err, sizeof(err)), 0);
    CHECK(back != NULL && keys_pubkey_equal(keys_public(back), keys_public(k1)));
    keys_free(back);

    struct nf_keypair *kps[8];
    size_t n = 99;
    CHECK_EQ_INT(keys_load_account(dir, "alice.near", kps, 8, &n, err, sizeof(err)), 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK(keys_pubkey_equal(keys_public(kps[0]), keys_public(k1)));
        keys_free(kps[0]);
    }

    /* Three keys in the directory (one also legacy): three keys, sorted by text. */
    CHECK_EQ_INT(keys_write_file(dir, "alice.near", k2, 0, NULL, 0, err, sizeof(err)), 0);
    CHECK_EQ_INT(keys_write_file(dir, "alice.near", k3, 0, NULL, 0, err, sizeof(err)), 0);
    n = 0;
    CHECK_EQ_INT(keys_load_account(dir, "alice.near", kps, 8, &n, err, sizeof(err)), 0);
    CHECK_EQ_INT(n, 3);
    char t[3][KEYS_PUBKEY_STR_MAX];
    int found[3] = {0, 0, 0};
    struct nf_keypair *orig[3] = {k1, k2, k3};
    for (size_t i = 0; i < n && i < 3; i++) {
        keys_pubkey_format(keys_public(kps[i]), t[i], sizeof(t[i]));
        for (int j = 0; j < 3; j++)
            if (keys_pubkey_equal(keys_public(kps[i]), keys_public(orig[j])))
                found[j]++;
    }
    CHECK(found[0] == 1 && found[1] == 1 && found[2] == 1);
    if (n == 3) {
        CHECK(strcmp(t[0], t[1]) < 0);
        CHECK(strcmp(t[1], t[2]) < 0);
    }
    for (size_t i = 0; i < n; i++)
        keys_free(kps[i]);

    /* More keys than the caller's array. */
    n = 7;
    CHECK_EQ_INT(keys_load_account(dir, "alice.near", kps, 2, &n, err, sizeof(err)), NF_ETOOMANY);
    CHECK_EQ_INT(n, 0);

    /* Only a legacy file for bob. */
    CHECK_EQ_INT(keys_write_file(dir, "bob.near", k2, 1, NULL, 0, err, sizeof(err)), 0);
    CHECK_EQ_INT(keys_load_account(dir, "bob.near", kps, 8, &n, err, sizeof(err)), 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK(keys_pubkey_equal(keys_public(kps[0]), keys_public(k2)));
        keys_free(kps[0]);
    }

    /* No key at all. */
    CHECK_EQ_INT(keys_load_account(dir, "carol.near", kps, 8, &n, err, sizeof(err)), NF_ENOTFOUND);
    CHECK(strstr(err, "carol.near") != NULL);
    CHECK_EQ_INT(keys_load_account(dir, "Carol", kps, 8, &n, err, sizeof(err)), NF_EACCOUNT);

    /* Permission refusal, with the chmod hint. */
    snprintf(path, sizeof(path), "%s/bob.near.json", dir);
    chmod(path, 0644);
    CHECK_EQ_INT(keys_load_file(path, account, sizeof(account), &back, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, "0644") != NULL);
    CHECK(strstr(err, "chmod 600") != NULL);
    CHECK(strstr(err, path) != NULL);
    CHECK_EQ_INT(keys_load_account(dir, "bob.near", kps, 8, &n, err, sizeof(err)), NF_EPERM);
    chmod(path, 0620); /* group-writable is refused too */
    CHECK_EQ_INT(keys_load_file(path, account, sizeof(account), &back, err, sizeof(err)), NF_EPERM);
    chmod(path, 0604);
    CHECK_EQ_INT(keys_load_file(path, account, sizeof(account), &back, err, sizeof(err)), NF_EPERM);
    chmod(path, 0400);
    back = NULL;
    CHECK_EQ_INT(keys_load_file(path, account, sizeof(account), &back, err, sizeof(err)), 0);
    keys_free(back);

    /* A legacy file that names another account is refused. */
    snprintf(path, sizeof(path), "%s/dave.near.json", dir);
    snprintf(expect, sizeof(expect),
             "{\"account_id\":\"alice.near\",\"public_key\":\"%s\",\"private_key\":\"%s\"}",
             PUB_STR, SECRET_STR);
    write_text(path, expect, 0600);
    CHECK_EQ_INT(keys_load_account(dir, "dave.near", kps, 8, &n, err, sizeof(err)), NF_EINVAL);
    CHECK(strstr(err, "dave.near") != NULL);

    /* A broken file in the account directory is reported with its path, not skipped. */
    snprintf(want, sizeof(want), "%s/erin.near", dir);
    mkdir(want, 0700);
    snprintf(path, sizeof(path), "%s/erin.near/ed25519_x.json", dir);
    write_text(path, "{\"account_id\":\"erin.near\"", 0600);
    CHECK_EQ_INT(keys_load_account(dir, "erin.near", kps, 8, &n, err, sizeof(err)), NF_EINVAL);
    CHECK(strstr(err, path) != NULL);
    /* Non-JSON names and dotfiles in the directory are ignored. */
    unlink(path);
    snprintf(path, sizeof(path), "%s/erin.near/README", dir);
    write_text(path, "not a key", 0644);
    snprintf(path, sizeof(path), "%s/erin.near/.ed25519_y.json", dir);
    write_text(path, "garbage", 0644);
    CHECK_EQ_INT(keys_load_account(dir, "erin.near", kps, 8, &n, err, sizeof(err)), NF_ENOTFOUND);

    /* Missing file and directories in place of files. */
    snprintf(path, sizeof(path), "%s/nope.json", dir);
    CHECK_EQ_INT(keys_load_file(path, account, sizeof(account), &back, err, sizeof(err)),
                 NF_ENOTFOUND);
    CHECK_EQ_INT(keys_load_file(dir, account, sizeof(account), &back, err, sizeof(err)), NF_EINVAL);

    keys_free(k1);
    keys_free(k2);
    keys_free(k3);
    CHECK_EQ_INT(nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
    CHECK(access(root, F_OK) != 0);
}

/* The checks a key file passes besides its mode (nf_secfile.h): not a symbolic link, owned by
 * this user, in a directory group and others cannot write; the credentials directory too. Each
 * refusal names the file and the reason. */
static void test_secret_files(void)
{
    char tmpl[] = "/tmp/nf_test_keyperm_XXXXXX";
    char *root = mkdtemp(tmpl);
    CHECK(root != NULL);
    if (root == NULL)
        return;
    char dir[512], path[1024], link_path[1024], err[1024], account[ACCOUNT_ID_MAX + 1];
    snprintf(dir, sizeof(dir), "%s/creds", root);
    uint8_t seed[32];
    hex_to_bytes(SEED_HEX, seed, 32);
    struct nf_keypair *k1 = NULL, *back = NULL, *kps[4];
    size_t n = 0;
    CHECK_EQ_INT(keys_from_seed(seed, &k1), 0);
    CHECK_EQ_INT(keys_write_file(dir, "alice.near", k1, 1, path, sizeof(path), err, sizeof(err)),
                 0);
    CHECK_EQ_INT(keys_load_file(path, account, sizeof(account), &back, err, sizeof(err)), 0);
    keys_free(back);
    back = NULL;

    /* A symbolic link to a good key file is refused (O_NOFOLLOW), also in the account layout. */
    snprintf(link_path, sizeof(link_path), "%s/link.json", dir);
    CHECK_EQ_INT(symlink(path, link_path), 0);
    CHECK_EQ_INT(keys_load_file(link_path, account, sizeof(account), &back, err, sizeof(err)),
                 NF_EPERM);
    CHECK(back == NULL);
    CHECK(strstr(err, "symbolic link") != NULL && strstr(err, link_path) != NULL);
    char sub[600], sublink[1024];
    snprintf(sub, sizeof(sub), "%s/bob.near", dir);
    CHECK_EQ_INT(mkdir(sub, 0700), 0);
    snprintf(sublink, sizeof(sublink), "%s/ed25519_x.json", sub);
    CHECK_EQ_INT(symlink(path, sublink), 0);
    CHECK_EQ_INT(keys_load_account(dir, "bob.near", kps, 4, &n, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, "symbolic link") != NULL && strstr(err, sublink) != NULL);
    unlink(sublink);
    unlink(link_path);

    /* The file's directory writable by others (0777) or by the group (0770): refused, naming the
     * directory; 0755 is fine. */
    CHECK_EQ_INT(chmod(dir, 0777), 0);
    CHECK_EQ_INT(keys_load_file(path, account, sizeof(account), &back, err, sizeof(err)), NF_EPERM);
    CHECK(back == NULL);
    CHECK(strstr(err, "writable by group or others") != NULL && strstr(err, dir) != NULL &&
          strstr(err, "0777") != NULL && strstr(err, path) != NULL);
    CHECK_EQ_INT(chmod(dir, 0770), 0);
    CHECK_EQ_INT(keys_load_file(path, account, sizeof(account), &back, err, sizeof(err)), NF_EPERM);
    /* keys_load_account checks the credentials directory itself before any file in it. */
    CHECK_EQ_INT(keys_load_account(dir, "alice.near", kps, 4, &n, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, "credentials directory") != NULL && strstr(err, dir) != NULL);
    CHECK_EQ_INT(chmod(dir, 0755), 0);
    CHECK_EQ_INT(keys_load_account(dir, "alice.near", kps, 4, &n, err, sizeof(err)), 0);
    CHECK_EQ_INT(n, 1);
    for (size_t i = 0; i < n; i++)
        keys_free(kps[i]);
    /* The account directory of the near-cli-rs layout is the file's directory: checked too. */
    char carol[1024];
    CHECK_EQ_INT(keys_write_file(dir, "carol.near", k1, 0, carol, sizeof(carol), err, sizeof(err)),
                 0);
    snprintf(sub, sizeof(sub), "%s/carol.near", dir);
    CHECK_EQ_INT(chmod(sub, 0777), 0);
    CHECK_EQ_INT(keys_load_account(dir, "carol.near", kps, 4, &n, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, sub) != NULL && strstr(err, "writable by group or others") != NULL);
    CHECK_EQ_INT(chmod(sub, 0700), 0);

    /* A file owned by another user: only root can make one, so the case runs as root only. */
    if (geteuid() == 0) {
        CHECK_EQ_INT(chown(path, 65534, (gid_t)-1), 0);
        CHECK_EQ_INT(keys_load_file(path, account, sizeof(account), &back, err, sizeof(err)),
                     NF_EPERM);
        CHECK(back == NULL);
        CHECK(strstr(err, "owned by uid 65534") != NULL && strstr(err, path) != NULL);
        CHECK_EQ_INT(chown(path, 0, (gid_t)-1), 0);
        CHECK_EQ_INT(keys_load_file(path, account, sizeof(account), &back, err, sizeof(err)), 0);
        keys_free(back);
    } else {
        printf("SKIP: the key-file owner case needs root (it chowns a file to uid 65534)\n");
    }
    keys_free(k1);
    CHECK_EQ_INT(nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Until keys_json_wipe_init runs, credential JSON is refused rather than parsed by a jansson
 * that would leave copies of the secret in freed memory. Runs first in main. */
static void test_wipe_required(void)
{
    char account[ACCOUNT_ID_MAX + 1], err[256];
    struct nf_keypair *kp = NULL;
    const char *json = "{\"account_id\":\"a.near\"}";
    CHECK_EQ_INT(keys_parse_credential_json(json, strlen(json), account, sizeof(account), &kp, err,
                                            sizeof(err)),
                 NF_ESTATE);
    CHECK(strstr(err, "keys_json_wipe_init") != NULL);
    keys_json_wipe_init();
    keys_json_wipe_init(); /* a no-op the second time */
    CHECK_EQ_INT(keys_parse_credential_json(json, strlen(json), account, sizeof(account), &kp, err,
                                            sizeof(err)),
                 NF_EINVAL);
}

int main(void)
{
    test_wipe_required();
    test_rfc8032_vector();
    test_secret_errors();
    test_pubkey();
    test_sign_verify();
    test_credential_json();
    test_files();
    test_secret_files();
    return nf_test_report("test_keys");
}
