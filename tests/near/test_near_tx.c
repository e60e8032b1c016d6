/* test_near_tx: the Borsh transaction codec against the five independent vectors of
 * docs/PROTOCOL.md section 1.9 (byte-exact transaction, hash, signature and signed base64), strict
 * decoding (every error class with its code and a precise reason), truncation at every prefix,
 * capacity handling, the JSON.stringify-exact argument builders and the nearcore JSON views.
 * Single-threaded; owns the keypair it makes from the RFC 8032 TEST 1 seed. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "jw.h"
#include "keys.h"
#include "near_tx.h"
#include "near_view.h"
#include "nf_err.h"
#include "nf_test.h"
#include "nf_utf8.h"
#include "u128.h"

/* Copied verbatim from docs/PROTOCOL.md section 1.9 (near-api-js 7.2.0 + independent Python). */
static const char *const vec_tx_hex[5] = {
    "0a000000616c6963652e6e65617200d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f7"
    "07511a0160b7986c88000016000000757364742e7465746865722d746f6b656e2e6e6561720455f286b3cfa9"
    "0d4943e0cc2c9ab89a2f98f548e41cf547a546d22bc21a8b3901000000020b00000066745f7472616e736665"
    "722d0000007b2272656365697665725f6964223a22626f622e6e656172222c22616d6f756e74223a22313030"
    "30303030227d00e057eb481b000001000000000000000000000000000000",
    "0a000000616c6963652e6e65617200d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f7"
    "07511a0260b7986c88000016000000757364742e7465746865722d746f6b656e2e6e6561720455f286b3cfa9"
    "0d4943e0cc2c9ab89a2f98f548e41cf547a546d22bc21a8b3902000000020b00000066745f7472616e736665"
    "723b0000007b2272656365697665725f6964223a22626f622e6e656172222c22616d6f756e74223a22323530"
    "30222c226d656d6f223a2262617463682d31227d00f0ab75a40d000001000000000000000000000000000000"
    "020b00000066745f7472616e73666572460000007b2272656365697665725f6964223a226361726f6c2e6e65"
    "6172222c22616d6f756e74223a22313233343536373839303132333435363738393031323334353637383930"
    "227d00f0ab75a40d000001000000000000000000000000000000",
    "0a000000616c6963652e6e65617200d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f7"
    "07511a0360b7986c88000016000000757364742e7465746865722d746f6b656e2e6e6561720455f286b3cfa9"
    "0d4943e0cc2c9ab89a2f98f548e41cf547a546d22bc21a8b3902000000020f00000073746f726167655f6465"
    "706f736974330000007b226163636f756e745f6964223a22646176652e6e656172222c227265676973747261"
    "74696f6e5f6f6e6c79223a747275657d00a0724e180900000000485637193cc34300000000000000020b0000"
    "0066745f7472616e73666572280000007b2272656365697665725f6964223a22646176652e6e656172222c22"
    "616d6f756e74223a2231227d0040e59c3012000001000000000000000000000000000000",
    "0a000000616c6963652e6e65617200d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f7"
    "07511a0460b7986c8800000a000000616c6963652e6e6561720455f286b3cfa90d4943e0cc2c9ab89a2f98f5"
    "48e41cf547a546d22bc21a8b390400000003000000a1edccce1bc2d300000000000005003d4017c3e843895a"
    "92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c00000000000000000001000040683bb3f386f034"
    "00000000000016000000757364742e7465746865722d746f6b656e2e6e656172020000000b00000066745f74"
    "72616e736665720f00000073746f726167655f6465706f73697405003d4017c3e843895a92b70aa74d1b7ebc"
    "9c982ccf2ec4968cc0cd55f12af4660c00000000000000000106003d4017c3e843895a92b70aa74d1b7ebc9c"
    "982ccf2ec4968cc0cd55f12af4660c",
    "09000000746573742e6e656172000f56a5f028dfc089ec7c39c1183b321b4d8f89ba5bec9e1762803cc2491f"
    "6ef8010000000000000003000000313233000000000000000000000000000000000000000000000000000000"
    "000000000008000000000103000000010203020300000071717103000000010203e80300000000000040420f"
    "00000000000000000000000000037b0000000000000000000000000000000440420f00000000000000000000"
    "000000000f56a5f028dfc089ec7c39c1183b321b4d8f89ba5bec9e1762803cc2491f6ef805000f56a5f028df"
    "c089ec7c39c1183b321b4d8f89ba5bec9e1762803cc2491f6ef800000000000000000000030000007a7a7a01"
    "0000000300000077777706000f56a5f028dfc089ec7c39c1183b321b4d8f89ba5bec9e1762803cc2491f6ef8"
    "0703000000313233"};
static const char *const vec_hash_b58[5] = {
    "EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr", "CdpxqXKkXW7mKX9widuKYxdHCiRP87KeEay7V93ybhcA",
    "GG9JHWiXqUGdZroojTfRLeyjzdDBHRUNk3DoYu3N9xXZ", "HWT1362UV7Lzvxs5P7WjBMrVmVvfugVxaoDFY7zBqpq1",
    "4GXvjMFN6wSxnU9jEVT8HbXP5Yk6yELX9faRSKp6n9fX"};
static const char *const vec_sig[4] = {
    "ed25519:4LWUBMSWq5E7K8cK3M73cbWV2FE1hg9H8AndB1asRqJTFeGJBZeWnv5HicEuJC7r7irx1ooZ61rAEri7"
    "P5P8f1uc",
    "ed25519:2edeNeUJL9Wg5eP3JiBZYicqsE7g6Vroec4x36KqbNbgko7jhVZ8douSt4pkBrkw77MeFkn6edVZgxw3"
    "R1oorTEh",
    "ed25519:5g76Lj8RFAYv2w9TUyFicucmQDGJexzMMe9WbdpF1TteeYQmQHKSu38hWoKfd7pSQtb8uLJD8UBxctyw"
    "d9NHwzLb",
    "ed25519:2p9DEjiaAS9bFigEkCJzwV3nMWZdD5sWTvtSreeiATeVX1fUNwxGsCZ3BZLgbKxPCSeiZpqqzMdpuAye"
    "t6wtUVEx"};
static const char *const vec_signed_b64[4] = {
    "CgAAAGFsaWNlLm5lYXIA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoBYLeYbIgAABYAAAB1c2R0LnRl"
    "dGhlci10b2tlbi5uZWFyBFXyhrPPqQ1JQ+DMLJq4mi+Y9UjkHPVHpUbSK8IaizkBAAAAAgsAAABmdF90cmFuc2Zl"
    "ci0AAAB7InJlY2VpdmVyX2lkIjoiYm9iLm5lYXIiLCJhbW91bnQiOiIxMDAwMDAwIn0A4FfrSBsAAAEAAAAAAAAA"
    "AAAAAAAAAAAApt+/6qBkGtwe/XutVUj93Ag+Od9WE9uGIp/RTWU10PhT3TkaTN28DkAJ9j8fwwQi1oayzuAy600s"
    "4M5ziFYxCw==",
    "CgAAAGFsaWNlLm5lYXIA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoCYLeYbIgAABYAAAB1c2R0LnRl"
    "dGhlci10b2tlbi5uZWFyBFXyhrPPqQ1JQ+DMLJq4mi+Y9UjkHPVHpUbSK8IaizkCAAAAAgsAAABmdF90cmFuc2Zl"
    "cjsAAAB7InJlY2VpdmVyX2lkIjoiYm9iLm5lYXIiLCJhbW91bnQiOiIyNTAwIiwibWVtbyI6ImJhdGNoLTEifQDw"
    "q3WkDQAAAQAAAAAAAAAAAAAAAAAAAAILAAAAZnRfdHJhbnNmZXJGAAAAeyJyZWNlaXZlcl9pZCI6ImNhcm9sLm5l"
    "YXIiLCJhbW91bnQiOiIxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAifQDwq3WkDQAAAQAAAAAAAAAAAAAA"
    "AAAAAABSeB+zqYDAPj1uG20W7CQBeZpx5mc2gwK1nYvx+8duTs3q2t0pwqItUP2AXv4MYcdkX5JnVbIIg4Cuw7Fw"
    "0EQK",
    "CgAAAGFsaWNlLm5lYXIA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoDYLeYbIgAABYAAAB1c2R0LnRl"
    "dGhlci10b2tlbi5uZWFyBFXyhrPPqQ1JQ+DMLJq4mi+Y9UjkHPVHpUbSK8IaizkCAAAAAg8AAABzdG9yYWdlX2Rl"
    "cG9zaXQzAAAAeyJhY2NvdW50X2lkIjoiZGF2ZS5uZWFyIiwicmVnaXN0cmF0aW9uX29ubHkiOnRydWV9AKByThgJ"
    "AAAAAEhWNxk8w0MAAAAAAAAAAgsAAABmdF90cmFuc2ZlcigAAAB7InJlY2VpdmVyX2lkIjoiZGF2ZS5uZWFyIiwi"
    "YW1vdW50IjoiMSJ9AEDlnDASAAABAAAAAAAAAAAAAAAAAAAAAOnKasl/8Sfm9i2lFpvbtQXbec1h91PNeGqikZ0N"
    "cUk+YQan2069cUo01iCrTBhE7HmwcrFd1BAYj/tL/RdI0wQ=",
    "CgAAAGFsaWNlLm5lYXIA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoEYLeYbIgAAAoAAABhbGljZS5u"
    "ZWFyBFXyhrPPqQ1JQ+DMLJq4mi+Y9UjkHPVHpUbSK8IaizkEAAAAAwAAAKHtzM4bwtMAAAAAAAAFAD1AF8PoQ4la"
    "krcKp00bfrycmCzPLsSWjMDNVfEq9GYMAAAAAAAAAAAAAQAAQGg7s/OG8DQAAAAAAAAWAAAAdXNkdC50ZXRoZXIt"
    "dG9rZW4ubmVhcgIAAAALAAAAZnRfdHJhbnNmZXIPAAAAc3RvcmFnZV9kZXBvc2l0BQA9QBfD6EOJWpK3CqdNG368"
    "nJgszy7ElozAzVXxKvRmDAAAAAAAAAAAAQYAPUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0ZgwAWquLhiw/"
    "uf7YS2TTz39WDpf91bTFArMmBsYBTRvU31xqaDV6CEDuI5q8UahM0M+CALunt1PXMWkpHOYvarkfAQ=="};

/* RFC 8032 section 7.1 TEST 1 seed and its public key. */
static const char seed_hex[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char pub_hex[] = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char block_hash_hex[] =
    "0455f286b3cfa90d4943e0cc2c9ab89a2f98f548e41cf547a546d22bc21a8b39";
/* RFC 8032 TEST 2 public key (vector 4's second key). */
static const char pk2_hex[] = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";

static struct nf_keypair *g_kp;

#define NEAR (((nf_u128)1000000000000ull) * 1000000000000ull) /* 10^24 yocto */
#define TGAS 1000000000000ull

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    if (sodium_hex2bin(out, cap, h, strlen(h), NULL, &n, NULL) != 0)
        return 0;
    return n;
}

static size_t unb64(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    if (sodium_base642bin(out, cap, s, strlen(s), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) !=
        0)
        return 0;
    return n;
}

static struct nf_bytes bs(const char *s)
{
    struct nf_bytes b = {(const uint8_t *)s, (uint32_t)strlen(s)};
    return b;
}

static int bytes_eq(struct nf_bytes a, struct nf_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static int bytes_eq_str(struct nf_bytes a, const char *s)
{
    return bytes_eq(a, bs(s));
}

static void b58_of(const uint8_t *p, size_t n, char *out, size_t cap)
{
    int rc = b58_encode(p, n, out, cap);
    CHECK(rc > 0);
}

/* A transaction under construction with its own storage. */
struct vec {
    struct near_tx tx;
    struct near_action acts[8];
    struct nf_bytes names[2];
    char args[3][NEAR_FT_ARGS_MAX];
};

static struct near_action
fcall(const char *method, const char *args, size_t args_len, uint64_t gas, nf_u128 deposit)
{
    struct near_action a;
    memset(&a, 0, sizeof(a));
    a.type = NEAR_ACT_FUNCTION_CALL;
    a.u.function_call.method_name = bs(method);
    a.u.function_call.args.ptr = (const uint8_t *)args;
    a.u.function_call.args.len = (uint32_t)args_len;
    a.u.function_call.gas = gas;
    a.u.function_call.deposit = deposit;
    return a;
}

static void common_tx(struct vec *v, const char *receiver, uint64_t nonce)
{
    memset(v, 0, sizeof(*v));
    v->tx.signer_id = bs("alice.near");
    v->tx.public_key = *keys_public(g_kp);
    v->tx.nonce = nonce;
    v->tx.receiver_id = bs(receiver);
    crypto_hash_sha256(v->tx.block_hash, (const uint8_t *)"near-test-vector-block", 22);
    v->tx.actions = v->acts;
}

/* build_vector: vector i (1..5) exactly as docs/PROTOCOL.md 1.9 describes its inputs. The ft
 * argument JSON is produced by near_ft_transfer_args and checked against the literal text. */
static void build_vector(int i, struct vec *v)
{
    int n;
    nf_u128 amt;
    switch (i) {
    case 1:
        common_tx(v, "usdt.tether-token.near", 150000000000001ull);
        n = near_ft_transfer_args(v->args[0], sizeof(v->args[0]), "bob.near", 8, 1000000, NULL, 0);
        CHECK_EQ_INT(n, 45);
        CHECK_EQ_STR(v->args[0], "{\"receiver_id\":\"bob.near\",\"amount\":\"1000000\"}");
        v->acts[0] = fcall("ft_transfer", v->args[0], (size_t)n, 30 * TGAS, 1);
        v->tx.n_actions = 1;
        break;
    case 2:
        common_tx(v, "usdt.tether-token.near", 150000000000002ull);
        n = near_ft_transfer_args(v->args[0], sizeof(v->args[0]), "bob.near", 8, 2500, "batch-1",
                                  7);
        CHECK_EQ_INT(n, 59);
        CHECK_EQ_STR(v->args[0],
                     "{\"receiver_id\":\"bob.near\",\"amount\":\"2500\",\"memo\":\"batch-1\"}");
        v->acts[0] = fcall("ft_transfer", v->args[0], (size_t)n, 15 * TGAS, 1);
        CHECK_EQ_INT(u128_parse("123456789012345678901234567890", 30, &amt), 0);
        n = near_ft_transfer_args(v->args[1], sizeof(v->args[1]), "carol.near", 10, amt, NULL, 0);
        CHECK_EQ_INT(n, 70);
        CHECK_EQ_STR(v->args[1], "{\"receiver_id\":\"carol.near\",\"amount\":"
                                 "\"123456789012345678901234567890\"}");
        v->acts[1] = fcall("ft_transfer", v->args[1], (size_t)n, 15 * TGAS, 1);
        v->tx.n_actions = 2;
        break;
    case 3:
        common_tx(v, "usdt.tether-token.near", 150000000000003ull);
        n = near_storage_deposit_args(v->args[0], sizeof(v->args[0]), "dave.near", 9, 1);
        CHECK_EQ_INT(n, 51);
        CHECK_EQ_STR(v->args[0], "{\"account_id\":\"dave.near\",\"registration_only\":true}");
        v->acts[0] = fcall("storage_deposit", v->args[0], (size_t)n, 10 * TGAS,
                           (nf_u128)1250000000ull * 1000000000000ull);
        n = near_ft_transfer_args(v->args[1], sizeof(v->args[1]), "dave.near", 9, 1, NULL, 0);
        CHECK_EQ_INT(n, 40);
        CHECK_EQ_STR(v->args[1], "{\"receiver_id\":\"dave.near\",\"amount\":\"1\"}");
        v->acts[1] = fcall("ft_transfer", v->args[1], (size_t)n, 20 * TGAS, 1);
        v->tx.n_actions = 2;
        break;
    case 4: {
        common_tx(v, "alice.near", 150000000000004ull);
        struct nf_pubkey pk2;
        memset(&pk2, 0, sizeof(pk2));
        CHECK_EQ_INT(
            keys_pubkey_parse("ed25519:586Z7H2vpX9qNhN2T4e9Utugie3ogjbxzGaMtM3E6HR5", 52, &pk2), 0);
        uint8_t raw[32];
        CHECK_EQ_INT(unhex(pk2_hex, raw, sizeof(raw)), 32);
        CHECK(pk2.type == 0 && memcmp(pk2.data, raw, 32) == 0);
        v->acts[0].type = NEAR_ACT_TRANSFER;
        v->acts[0].u.transfer.deposit = NEAR;
        v->names[0] = bs("ft_transfer");
        v->names[1] = bs("storage_deposit");
        v->acts[1].type = NEAR_ACT_ADD_KEY;
        v->acts[1].u.add_key.public_key = pk2;
        v->acts[1].u.add_key.has_allowance = 1;
        v->acts[1].u.add_key.allowance = NEAR / 4;
        v->acts[1].u.add_key.receiver_id = bs("usdt.tether-token.near");
        v->acts[1].u.add_key.method_names = v->names;
        v->acts[1].u.add_key.n_method_names = 2;
        v->acts[2].type = NEAR_ACT_ADD_KEY;
        v->acts[2].u.add_key.public_key = pk2;
        v->acts[2].u.add_key.full_access = 1;
        v->acts[3].type = NEAR_ACT_DELETE_KEY;
        v->acts[3].u.delete_key.public_key = pk2;
        v->tx.n_actions = 4;
        break;
    }
    case 5: {
        memset(v, 0, sizeof(*v));
        struct nf_pubkey pk;
        memset(&pk, 0, sizeof(pk));
        CHECK_EQ_INT(
            keys_pubkey_parse("ed25519:22skMptHjFWNyuEWY22ftn2AbLPSYpmYwGJRGwpNHbTV", 52, &pk), 0);
        v->tx.signer_id = bs("test.near");
        v->tx.public_key = pk;
        v->tx.nonce = 1;
        v->tx.receiver_id = bs("123");
        v->tx.actions = v->acts;
        static const uint8_t code[3] = {1, 2, 3};
        v->acts[0].type = NEAR_ACT_CREATE_ACCOUNT;
        v->acts[1].type = NEAR_ACT_DEPLOY_CONTRACT;
        v->acts[1].u.deploy_contract.code.ptr = code;
        v->acts[1].u.deploy_contract.code.len = 3;
        v->acts[2] = fcall("qqq", (const char *)code, 3, 1000, 1000000);
        v->acts[3].type = NEAR_ACT_TRANSFER;
        v->acts[3].u.transfer.deposit = 123;
        v->acts[4].type = NEAR_ACT_STAKE;
        v->acts[4].u.stake.stake = 1000000;
        v->acts[4].u.stake.public_key = pk;
        v->names[0] = bs("www");
        v->acts[5].type = NEAR_ACT_ADD_KEY;
        v->acts[5].u.add_key.public_key = pk;
        v->acts[5].u.add_key.receiver_id = bs("zzz");
        v->acts[5].u.add_key.method_names = v->names;
        v->acts[5].u.add_key.n_method_names = 1;
        v->acts[6].type = NEAR_ACT_DELETE_KEY;
        v->acts[6].u.delete_key.public_key = pk;
        v->acts[7].type = NEAR_ACT_DELETE_ACCOUNT;
        v->acts[7].u.delete_account.beneficiary_id = bs("123");
        v->tx.n_actions = 8;
        break;
    }
    }
}

static int pubkey_eq(const struct nf_pubkey *a, const struct nf_pubkey *b)
{
    size_t n = a->type == 0 ? 32 : 64;
    return a->type == b->type && memcmp(a->data, b->data, n) == 0;
}

/* check_action_eq: every field of a decoded action against the one that was encoded. */
static void check_action_eq(const struct near_action *got, const struct near_action *want)
{
    CHECK_EQ_INT(got->type, want->type);
    if (got->type != want->type)
        return;
    switch (want->type) {
    case NEAR_ACT_CREATE_ACCOUNT:
        break;
    case NEAR_ACT_DEPLOY_CONTRACT:
        CHECK(bytes_eq(got->u.deploy_contract.code, want->u.deploy_contract.code));
        break;
    case NEAR_ACT_FUNCTION_CALL:
        CHECK(bytes_eq(got->u.function_call.method_name, want->u.function_call.method_name));
        CHECK(bytes_eq(got->u.function_call.args, want->u.function_call.args));
        CHECK(got->u.function_call.gas == want->u.function_call.gas);
        CHECK(got->u.function_call.deposit == want->u.function_call.deposit);
        break;
    case NEAR_ACT_TRANSFER:
        CHECK(got->u.transfer.deposit == want->u.transfer.deposit);
        break;
    case NEAR_ACT_STAKE:
        CHECK(got->u.stake.stake == want->u.stake.stake);
        CHECK(pubkey_eq(&got->u.stake.public_key, &want->u.stake.public_key));
        break;
    case NEAR_ACT_ADD_KEY:
        CHECK(pubkey_eq(&got->u.add_key.public_key, &want->u.add_key.public_key));
        CHECK(got->u.add_key.nonce == want->u.add_key.nonce);
        CHECK_EQ_INT(got->u.add_key.full_access, want->u.add_key.full_access);
        if (want->u.add_key.full_access)
            break;
        CHECK_EQ_INT(got->u.add_key.has_allowance, want->u.add_key.has_allowance);
        CHECK(got->u.add_key.allowance == want->u.add_key.allowance);
        CHECK(bytes_eq(got->u.add_key.receiver_id, want->u.add_key.receiver_id));
        CHECK_EQ_INT(got->u.add_key.n_method_names, want->u.add_key.n_method_names);
        for (uint32_t i = 0; i < want->u.add_key.n_method_names &&
                             i < got->u.add_key.n_method_names && got->u.add_key.method_names;
             i++)
            CHECK(bytes_eq(got->u.add_key.method_names[i], want->u.add_key.method_names[i]));
        break;
    case NEAR_ACT_DELETE_KEY:
        CHECK(pubkey_eq(&got->u.delete_key.public_key, &want->u.delete_key.public_key));
        break;
    case NEAR_ACT_DELETE_ACCOUNT:
        CHECK(
            bytes_eq(got->u.delete_account.beneficiary_id, want->u.delete_account.beneficiary_id));
        break;
    }
}

static void check_tx_eq(const struct near_tx *got, const struct near_tx *want)
{
    CHECK(bytes_eq(got->signer_id, want->signer_id));
    CHECK(pubkey_eq(&got->public_key, &want->public_key));
    CHECK(got->nonce == want->nonce);
    CHECK(bytes_eq(got->receiver_id, want->receiver_id));
    CHECK(memcmp(got->block_hash, want->block_hash, NEAR_HASH_LEN) == 0);
    CHECK_EQ_INT(got->n_actions, want->n_actions);
    for (uint32_t i = 0; i < got->n_actions && i < want->n_actions; i++)
        check_action_eq(&got->actions[i], &want->actions[i]);
}

/* Decode storage shared by the tests. */
static struct near_action g_acts[NEAR_MAX_ACTIONS];
static struct nf_bytes g_names[16];
static const struct near_decode_space g_space = {g_acts, NEAR_MAX_ACTIONS, g_names, 16, NULL};

/* decode_copy: decodes an exact-size heap copy of buf so ASan catches any read past the end. The
 * decoded strings point into the copy, so it lives until the next call (or decode_copy_release). */
static uint8_t *g_copy;

static void decode_copy_release(void)
{
    free(g_copy);
    g_copy = NULL;
}

static int decode_copy(const uint8_t *buf,
                       size_t len,
                       const struct near_decode_space *sp,
                       struct near_signed_tx *out,
                       char *why,
                       size_t whycap)
{
    decode_copy_release();
    g_copy = malloc(len ? len : 1);
    if (g_copy == NULL)
        return NF_ENOMEM;
    if (len)
        memcpy(g_copy, buf, len);
    return near_signed_tx_decode(g_copy, len, sp, out, why, whycap);
}

static void test_block_hash(void)
{
    uint8_t want[32], got[32];
    CHECK_EQ_INT(unhex(block_hash_hex, want, sizeof(want)), 32);
    crypto_hash_sha256(got, (const uint8_t *)"near-test-vector-block", 22);
    CHECK(memcmp(want, got, 32) == 0);
    char b58[B58_MAX_32];
    b58_of(got, 32, b58, sizeof(b58));
    CHECK_EQ_STR(b58, "HveJKQvuB2oTwbExTvT6bku4oWLB6UyWnqi5WWAD1LU");
    uint8_t pub[32];
    CHECK_EQ_INT(unhex(pub_hex, pub, sizeof(pub)), 32);
    CHECK(memcmp(keys_public(g_kp)->data, pub, 32) == 0);
}

/* test_vectors_1_to_4: encode, hash, sign byte-exact; decode the published signed bytes back. */
static void test_vectors_1_to_4(void)
{
    for (int i = 1; i <= 4; i++) {
        struct vec v;
        build_vector(i, &v);
        uint8_t want_tx[512], got_tx[512];
        size_t want_len = unhex(vec_tx_hex[i - 1], want_tx, sizeof(want_tx));
        CHECK(want_len > 0);
        size_t len = 0;
        CHECK_EQ_INT(near_tx_encode(&v.tx, got_tx, sizeof(got_tx), &len), 0);
        CHECK_EQ_INT(len, want_len);
        CHECK_EQ_INT(near_tx_encoded_size(&v.tx), want_len);
        CHECK(len == want_len && memcmp(got_tx, want_tx, len) == 0);

        uint8_t h[32];
        near_tx_hash(got_tx, len, h);
        char hb58[B58_MAX_32];
        b58_of(h, 32, hb58, sizeof(hb58));
        CHECK_EQ_STR(hb58, vec_hash_b58[i - 1]);

        uint8_t signed_tx[600], h2[32];
        size_t slen = 0;
        CHECK_EQ_INT(near_tx_sign(&v.tx, g_kp, signed_tx, sizeof(signed_tx), &slen, h2), 0);
        CHECK_EQ_INT(slen, want_len + 65);
        CHECK(memcmp(h, h2, 32) == 0);
        CHECK(memcmp(signed_tx, want_tx, want_len) == 0);
        CHECK_EQ_INT(signed_tx[want_len], 0);
        char sig[8 + B58_MAX_64] = "ed25519:";
        b58_of(signed_tx + want_len + 1, 64, sig + 8, sizeof(sig) - 8);
        CHECK_EQ_STR(sig, vec_sig[i - 1]);
        char b64[800];
        sodium_bin2base64(b64, sizeof(b64), signed_tx, slen, sodium_base64_VARIANT_ORIGINAL);
        CHECK_EQ_STR(b64, vec_signed_b64[i - 1]);

        /* Decode the published bytes (not ours) and compare every field. */
        uint8_t pub_signed[600];
        size_t plen = unb64(vec_signed_b64[i - 1], pub_signed, sizeof(pub_signed));
        CHECK_EQ_INT(plen, want_len + 65);
        struct near_signed_tx stx;
        char why[160];
        int rc = decode_copy(pub_signed, plen, &g_space, &stx, why, sizeof(why));
        CHECK_EQ_INT(rc, 0);
        if (rc != 0) {
            fprintf(stderr, "vector %d: %s\n", i, why);
            continue;
        }
        check_tx_eq(&stx.tx, &v.tx);
        CHECK(stx.tx.actions == g_acts);
        CHECK_EQ_INT(stx.tx_len, want_len);
        CHECK_EQ_INT(stx.signature_type, 0);
        CHECK(memcmp(stx.signature, signed_tx + want_len + 1, 64) == 0);
        CHECK(memcmp(stx.hash, h, 32) == 0);
        CHECK_EQ_INT(near_signed_tx_verify(&stx), 0);
        /* Strings point into the input buffer (borrowed, no copies). */
        size_t reenc = 0;
        uint8_t again[512];
        CHECK_EQ_INT(near_tx_encode(&stx.tx, again, sizeof(again), &reenc), 0);
        CHECK(reenc == want_len && memcmp(again, want_tx, reenc) == 0);
    }
}

/* test_vector_5: nearcore's test_serialize_transaction, every action type. */
static void test_vector_5(void)
{
    struct vec v;
    build_vector(5, &v);
    uint8_t want[400], got[400];
    size_t want_len = unhex(vec_tx_hex[4], want, sizeof(want));
    CHECK_EQ_INT(want_len, 316);
    size_t len = 0;
    CHECK_EQ_INT(near_tx_encode(&v.tx, got, sizeof(got), &len), 0);
    CHECK(len == want_len && memcmp(got, want, len) == 0);
    CHECK_EQ_INT(near_tx_encoded_size(&v.tx), 316);
    uint8_t h[32];
    near_tx_hash(got, len, h);
    char hb58[B58_MAX_32];
    b58_of(h, 32, hb58, sizeof(hb58));
    CHECK_EQ_STR(hb58, "4GXvjMFN6wSxnU9jEVT8HbXP5Yk6yELX9faRSKp6n9fX");

    /* Vector 5 has no signature: append an all-zero ed25519 one. */
    uint8_t signed_tx[400];
    memcpy(signed_tx, want, want_len);
    memset(signed_tx + want_len, 0, 65);
    struct near_signed_tx stx;
    char why[160];
    int rc = decode_copy(signed_tx, want_len + 65, &g_space, &stx, why, sizeof(why));
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "vector 5: %s\n", why);
        return;
    }
    check_tx_eq(&stx.tx, &v.tx);
    CHECK(memcmp(stx.hash, h, 32) == 0);
    CHECK_EQ_INT(near_signed_tx_verify(&stx), NF_ECRYPTO);
    uint8_t again[400];
    size_t alen = 0;
    CHECK_EQ_INT(near_tx_encode(&stx.tx, again, sizeof(again), &alen), 0);
    CHECK(alen == want_len && memcmp(again, want, alen) == 0);

    /* DeleteAccount's beneficiary must be an AccountId: "12." ends with a separator. */
    signed_tx[315] = '.';
    rc = decode_copy(signed_tx, want_len + 65, &g_space, &stx, why, sizeof(why));
    CHECK_EQ_INT(rc, NF_EACCOUNT);
    CHECK(strstr(why, "action[7].beneficiary_id") != NULL);
}

/* signed_vector: the published signed bytes of vector i (1..4). */
static size_t signed_vector(int i, uint8_t *out, size_t cap)
{
    size_t n = unb64(vec_signed_b64[i - 1], out, cap);
    CHECK(n > 0);
    return n;
}

/* expect_decode: decode buf with one byte patched; check the code and (if given) a substring of
 * the reason. */
static void expect_patch(int vec, size_t off, uint8_t val, int want_rc, const char *want_why)
{
    uint8_t buf[600];
    size_t n = signed_vector(vec, buf, sizeof(buf));
    CHECK(off < n);
    buf[off] = val;
    struct near_signed_tx stx;
    char why[200] = "";
    int rc = decode_copy(buf, n, &g_space, &stx, why, sizeof(why));
    CHECK_EQ_INT(rc, want_rc);
    if (want_why != NULL && strstr(why, want_why) == NULL) {
        CHECK(0);
        fprintf(stderr, "  vector %d byte %zu=0x%02x: reason \"%s\" lacks \"%s\"\n", vec, off, val,
                why, want_why);
    }
}

static void test_tamper(void)
{
    uint8_t buf[600];
    size_t n = signed_vector(1, buf, sizeof(buf));
    struct near_signed_tx stx;
    /* Signature byte. */
    buf[207 + 5] ^= 0x01;
    CHECK_EQ_INT(decode_copy(buf, n, &g_space, &stx, NULL, 0), 0);
    CHECK_EQ_INT(near_signed_tx_verify(&stx), NF_ECRYPTO);
    buf[207 + 5] ^= 0x01;
    CHECK_EQ_INT(decode_copy(buf, n, &g_space, &stx, NULL, 0), 0);
    CHECK_EQ_INT(near_signed_tx_verify(&stx), 0);
    /* Body bytes: nonce, args, gas, deposit. Each decodes but no longer verifies. */
    static const size_t body[] = {47, 150, 182, 190};
    for (size_t k = 0; k < sizeof(body) / sizeof(body[0]); k++) {
        buf[body[k]] ^= 0x04;
        int rc = decode_copy(buf, n, &g_space, &stx, NULL, 0);
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_INT(near_signed_tx_verify(&stx), NF_ECRYPTO);
        buf[body[k]] ^= 0x04;
    }
    /* The public key byte: a different key does not verify either. */
    buf[20] ^= 0x80;
    if (decode_copy(buf, n, &g_space, &stx, NULL, 0) == 0)
        CHECK_EQ_INT(near_signed_tx_verify(&stx), NF_ECRYPTO);
    buf[20] ^= 0x80;
    /* An ed25519 signature claimed as secp256k1 (type 1) is truncated by one byte. */
    buf[206] = 1;
    CHECK_EQ_INT(decode_copy(buf, n, &g_space, &stx, NULL, 0), NF_ETRUNC);
}

static void test_decode_errors(void)
{
    /* Vector 1 offsets (docs/PROTOCOL.md 1.9 annotated layout): signer 4..13, pk type 14, nonce 47,
     * receiver 59..80, actions count 113, tag 117, method name 122, args len 133, args 137, gas
     * 182, deposit 190, signature type 206. */
    expect_patch(1, 4, 0xff, NF_EUTF8, "invalid UTF-8 in signer_id");
    expect_patch(1, 4, 'A', NF_EACCOUNT, "invalid account id in signer_id");
    expect_patch(1, 13, '.', NF_EACCOUNT, "signer_id");
    expect_patch(1, 59, 0xc0, NF_EUTF8, "receiver_id");
    expect_patch(1, 59, 'U', NF_EACCOUNT, "invalid account id in receiver_id");
    expect_patch(1, 122, 0xff, NF_EUTF8, "action[0].method_name");
    expect_patch(1, 137, 0xff, 0, NULL); /* args are bytes, not a String */
    expect_patch(1, 14, 2, NF_EVARIANT, "unknown public key type 2");
    expect_patch(1, 117, 8, NF_EVARIANT, "unsupported action variant 8 at byte 117");
    expect_patch(1, 117, 11, NF_EVARIANT, "unsupported action variant 11 at byte 117");
    expect_patch(1, 117, 0xff, NF_EVARIANT, "unsupported action variant 255 at byte 117");
    expect_patch(1, 206, 2, NF_EVARIANT, "unknown signature type 2 at byte 206");
    /* args length 0xff..: a huge declared length is truncation, never a read past the end. */
    expect_patch(1, 136, 0xff, NF_ETRUNC, "action[0].args");
    expect_patch(1, 118, 0xff, NF_ETRUNC, "action[0].method_name");
    /* Actions count 2: the signature type byte 0x00 becomes a CreateAccount, then the first
     * signature byte 0xa6 is read as the signature type. */
    expect_patch(1, 113, 2, NF_EVARIANT, "unknown signature type 166 at byte 207");
    /* Transaction enum tag rule: u1=1,u2!=0 is V1; any other u2!=0 is invalid. */
    expect_patch(1, 1, 1, NF_EVARIANT, "invalid transaction version tag");
    {
        uint8_t buf[600];
        size_t n = signed_vector(1, buf, sizeof(buf));
        struct near_signed_tx stx;
        char why[200];
        buf[0] = 1;
        buf[1] = 7;
        CHECK_EQ_INT(decode_copy(buf, n, &g_space, &stx, why, sizeof(why)), NF_EVERSION);
        CHECK(strstr(why, "transaction V1 is not supported") != NULL);
        /* 0x01 0x00 is V0 with a one-byte signer "a", which is too short an account id. */
        buf[0] = 1;
        buf[1] = 0;
        CHECK_EQ_INT(decode_copy(buf, n, &g_space, &stx, why, sizeof(why)), NF_EACCOUNT);
        /* A signer_id length of 256 has a nonzero second byte: invalid tag, as in nearcore. */
        buf[0] = 0;
        buf[1] = 1;
        CHECK_EQ_INT(decode_copy(buf, n, &g_space, &stx, why, sizeof(why)), NF_EVARIANT);
    }
    /* Vector 4 offsets: AddKey FC permission tag 164, allowance Option tag 165, permission
     * receiver_id 182..207, method_names count 208, first name 212..226. */
    expect_patch(4, 164, 2, NF_EVARIANT,
                 "unknown access key permission 2 in action[1] at byte 164");
    expect_patch(4, 165, 2, NF_EVARIANT,
                 "invalid Option tag 2 for action[1].allowance at byte 165");
    expect_patch(4, 186, 0xff, NF_EUTF8, "action[1].permission receiver_id");
    expect_patch(4, 186, 'U', 0, NULL); /* a String, not an AccountId */
    expect_patch(4, 216, 0xfe, NF_EUTF8, "action[1].method_names[0]");
    expect_patch(4, 211, 0xff, NF_ETRUNC, NULL);
    expect_patch(4, 289, 9, NF_EVARIANT, "unsupported action variant 9 at byte 289");
    expect_patch(4, 290, 3, NF_EVARIANT, "unknown public key type 3 in action[3].public_key");

    /* Names pool: vector 4 needs 2 names. */
    {
        uint8_t buf[600];
        size_t n = signed_vector(4, buf, sizeof(buf));
        struct nf_bytes names[2];
        struct near_decode_space sp1 = {g_acts, NEAR_MAX_ACTIONS, names, 1, NULL};
        struct near_decode_space sp2 = {g_acts, NEAR_MAX_ACTIONS, names, 2, NULL};
        struct near_signed_tx stx;
        char why[200];
        CHECK_EQ_INT(decode_copy(buf, n, &sp1, &stx, why, sizeof(why)), NF_ETOOMANY);
        CHECK(strstr(why, "method name pool exhausted") != NULL);
        CHECK_EQ_INT(decode_copy(buf, n, &sp2, &stx, why, sizeof(why)), 0);
        CHECK(stx.tx.actions[1].u.add_key.method_names == names);
        CHECK(bytes_eq_str(names[1], "storage_deposit"));
        /* Actions past the capacity are checked but not stored, and use no names. */
        struct near_decode_space sp0 = {g_acts, 1, NULL, 0, NULL};
        CHECK_EQ_INT(decode_copy(buf, n, &sp0, &stx, why, sizeof(why)), 0);
        CHECK_EQ_INT(stx.tx.n_actions, 4);
        CHECK(g_acts[0].type == NEAR_ACT_TRANSFER && g_acts[0].u.transfer.deposit == NEAR);
        CHECK_EQ_INT(near_signed_tx_verify(&stx), 0);
        /* ... but still validated. */
        buf[164] = 2;
        CHECK_EQ_INT(decode_copy(buf, n, &sp0, &stx, why, sizeof(why)), NF_EVARIANT);
        /* No space at all. */
        buf[164] = 0;
        CHECK_EQ_INT(decode_copy(buf, n, NULL, &stx, why, sizeof(why)), 0);
        CHECK_EQ_INT(stx.tx.n_actions, 4);
    }

    /* Trailing byte. */
    {
        uint8_t buf[600];
        size_t n = signed_vector(1, buf, sizeof(buf));
        buf[n] = 0;
        struct near_signed_tx stx;
        char why[200];
        CHECK_EQ_INT(decode_copy(buf, n + 1, &g_space, &stx, why, sizeof(why)), NF_ETRAILING);
        CHECK(strstr(why, "1 trailing bytes after the signature at byte 271") != NULL);
        /* A tiny why buffer is truncated, never overflowed; NULL is allowed. */
        char small[8];
        memset(small, 'x', sizeof(small));
        CHECK_EQ_INT(decode_copy(buf, n + 1, &g_space, &stx, small, 4), NF_ETRAILING);
        CHECK(small[3] == '\0' && small[4] == 'x');
        CHECK_EQ_INT(decode_copy(buf, n + 1, &g_space, &stx, NULL, 0), NF_ETRAILING);
    }

    /* The precise truncation reason from the brief. */
    {
        uint8_t buf[600];
        size_t n = signed_vector(1, buf, sizeof(buf));
        CHECK_EQ_INT(n, 271);
        struct near_signed_tx stx;
        char why[200];
        CHECK_EQ_INT(decode_copy(buf, 113, &g_space, &stx, why, sizeof(why)), NF_ETRUNC);
        CHECK(strncmp(why, "truncated at byte 113 reading actions count", 43) == 0);
        CHECK_EQ_INT(decode_copy(buf, 115, &g_space, &stx, why, sizeof(why)), NF_ETRUNC);
        CHECK(strncmp(why, "truncated at byte 113 reading actions count", 43) == 0);
        CHECK_EQ_INT(decode_copy(buf, 150, &g_space, &stx, why, sizeof(why)), NF_ETRUNC);
        CHECK(strncmp(why, "truncated at byte 137 reading action[0].args", 44) == 0);
        CHECK_EQ_INT(decode_copy(buf, 206, &g_space, &stx, why, sizeof(why)), NF_ETRUNC);
        CHECK(strncmp(why, "truncated at byte 206 reading signature type", 44) == 0);
        n = signed_vector(4, buf, sizeof(buf));
        CHECK_EQ_INT(decode_copy(buf, 229, &g_space, &stx, why, sizeof(why)), NF_ETRUNC);
        CHECK(strncmp(why, "truncated at byte 227 reading action[1].method_names[1] length", 62) ==
              0);
        CHECK_EQ_INT(decode_copy(buf, 295, &g_space, &stx, why, sizeof(why)), NF_ETRUNC);
        CHECK(strncmp(why, "truncated at byte 291 reading action[3].public_key (need 32", 59) == 0);
        CHECK_EQ_INT(decode_copy(buf, 0, &g_space, &stx, why, sizeof(why)), NF_ETRUNC);
        CHECK(strncmp(why, "truncated at byte 0 reading signer_id length", 44) == 0);
    }
}

/* Every proper prefix of vector 2's signed bytes is a truncation. */
static void test_truncation_every_prefix(void)
{
    uint8_t buf[600];
    size_t n = signed_vector(2, buf, sizeof(buf));
    CHECK_EQ_INT(n, 399);
    int bad = 0;
    for (size_t l = 0; l < n; l++) {
        struct near_signed_tx stx;
        char why[200];
        int rc = decode_copy(buf, l, &g_space, &stx, why, sizeof(why));
        if (rc != NF_ETRUNC || strncmp(why, "truncated at byte ", 18) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "prefix %zu: rc %d (%s)\n", l, rc, why);
        }
    }
    CHECK_EQ_INT(bad, 0);
    struct near_signed_tx stx;
    CHECK_EQ_INT(decode_copy(buf, n, &g_space, &stx, NULL, 0), 0);
}

/* 101 actions (over the protocol limit) decode with a capacity of 100: the wire count is kept. */
static void test_many_actions(void)
{
    static struct near_action acts[101];
    static struct nf_bytes names[2];
    struct vec v;
    common_tx(&v, "alice.near", 7);
    for (int i = 0; i < 100; i++) {
        memset(&acts[i], 0, sizeof(acts[i]));
        acts[i].type = NEAR_ACT_TRANSFER;
        acts[i].u.transfer.deposit = (nf_u128)i * NEAR + (nf_u128)i;
    }
    /* The one past the capacity is an AddKey with names, which must not touch the pool. */
    names[0] = bs("a");
    names[1] = bs("b");
    memset(&acts[100], 0, sizeof(acts[100]));
    acts[100].type = NEAR_ACT_ADD_KEY;
    acts[100].u.add_key.public_key = *keys_public(g_kp);
    acts[100].u.add_key.receiver_id = bs("c.near");
    acts[100].u.add_key.method_names = names;
    acts[100].u.add_key.n_method_names = 2;
    v.tx.actions = acts;
    v.tx.n_actions = 101;
    static uint8_t buf[4096];
    size_t len = 0;
    CHECK_EQ_INT(near_tx_sign(&v.tx, g_kp, buf, sizeof(buf), &len, NULL), 0);
    CHECK_EQ_INT(len, near_tx_encoded_size(&v.tx) + 65);
    struct near_signed_tx stx;
    struct near_decode_space sp = {g_acts, NEAR_MAX_ACTIONS, NULL, 0, NULL};
    char why[200];
    CHECK_EQ_INT(decode_copy(buf, len, &sp, &stx, why, sizeof(why)), 0);
    CHECK_EQ_INT(stx.tx.n_actions, 101);
    CHECK(g_acts[99].type == NEAR_ACT_TRANSFER && g_acts[99].u.transfer.deposit == 99 * NEAR + 99);
    CHECK(g_acts[0].u.transfer.deposit == 0);
    CHECK_EQ_INT(near_signed_tx_verify(&stx), 0);
    /* With room for all 101 (and the names) it round-trips. */
    static struct near_action big[101];
    struct nf_bytes pool[2];
    struct near_decode_space sp2 = {big, 101, pool, 2, NULL};
    CHECK_EQ_INT(decode_copy(buf, len, &sp2, &stx, why, sizeof(why)), 0);
    v.tx.actions = acts;
    check_tx_eq(&stx.tx, &v.tx);
    /* known_hash: a caller that kept the hash gets it back instead of a second sha256. */
    uint8_t real[NEAR_HASH_LEN], fake[NEAR_HASH_LEN];
    memcpy(real, stx.hash, NEAR_HASH_LEN);
    memset(fake, 0x5a, sizeof(fake));
    sp2.known_hash = fake;
    CHECK_EQ_INT(decode_copy(buf, len, &sp2, &stx, why, sizeof(why)), 0);
    CHECK(memcmp(stx.hash, fake, NEAR_HASH_LEN) == 0);
    sp2.known_hash = NULL;
    CHECK_EQ_INT(decode_copy(buf, len, &sp2, &stx, why, sizeof(why)), 0);
    CHECK(memcmp(stx.hash, real, NEAR_HASH_LEN) == 0);
}

/* Encoder argument errors and capacity. */
static void test_encode_errors(void)
{
    struct vec v;
    build_vector(1, &v);
    uint8_t buf[600];
    size_t len = 0, n = near_tx_encoded_size(&v.tx);
    CHECK_EQ_INT(n, 206);
    CHECK_EQ_INT(near_tx_encode(&v.tx, buf, n - 1, &len), NF_ENOSPC);
    CHECK_EQ_INT(near_tx_encode(&v.tx, buf, n, &len), 0);
    CHECK_EQ_INT(len, 206);
    CHECK_EQ_INT(near_tx_sign(&v.tx, g_kp, buf, n + 64, &len, NULL), NF_ENOSPC);
    CHECK_EQ_INT(near_tx_sign(&v.tx, g_kp, buf, n + 65, &len, NULL), 0);
    CHECK_EQ_INT(len, 271);
    CHECK_EQ_INT(near_tx_sign(&v.tx, g_kp, buf, 10, &len, NULL), NF_ENOSPC);

    v.tx.public_key.type = 2;
    CHECK_EQ_INT(near_tx_encoded_size(&v.tx), 0);
    CHECK_EQ_INT(near_tx_encode(&v.tx, buf, sizeof(buf), &len), NF_EINVAL);
    CHECK_EQ_INT(near_tx_encode(&v.tx, buf, 3, &len), NF_EINVAL);
    CHECK_EQ_INT(near_tx_sign(&v.tx, g_kp, buf, sizeof(buf), &len, NULL), NF_EINVAL);
    v.tx.public_key.type = 0;
    v.acts[0].type = (enum near_action_type)42;
    CHECK_EQ_INT(near_tx_encode(&v.tx, buf, sizeof(buf), &len), NF_EINVAL);
}

/* secp256k1 keys and signatures decode and re-encode, but never verify in this build. */
static void test_secp256k1(void)
{
    struct vec v;
    build_vector(1, &v);
    v.tx.public_key.type = 1;
    memset(v.tx.public_key.data, 0x11, 64);
    v.acts[0].type = NEAR_ACT_STAKE;
    v.acts[0].u.stake.stake = 5;
    v.acts[0].u.stake.public_key = v.tx.public_key;
    uint8_t buf[600];
    size_t len = 0;
    CHECK_EQ_INT(near_tx_encode(&v.tx, buf, sizeof(buf), &len), 0);
    CHECK_EQ_INT(len, near_tx_encoded_size(&v.tx));
    /* signer(14) + pk(65) + nonce(8) + receiver(26) + hash(32) + count(4) + stake(1+16+65) */
    CHECK_EQ_INT(len, 14 + 65 + 8 + 26 + 32 + 4 + 1 + 16 + 65);
    buf[len] = 1;
    memset(buf + len + 1, 0x22, 65);
    struct near_signed_tx stx;
    char why[200];
    CHECK_EQ_INT(decode_copy(buf, len + 66, &g_space, &stx, why, sizeof(why)), 0);
    CHECK_EQ_INT(stx.signature_type, 1);
    CHECK_EQ_INT(stx.signature[64], 0x22);
    check_tx_eq(&stx.tx, &v.tx);
    CHECK_EQ_INT(near_signed_tx_verify(&stx), NF_ECRYPTO);
    uint8_t again[600];
    size_t alen = 0;
    CHECK_EQ_INT(near_tx_encode(&stx.tx, again, sizeof(again), &alen), 0);
    CHECK(alen == len && memcmp(again, buf, len) == 0);
    /* A 65-byte signature with one byte short is truncated. */
    CHECK_EQ_INT(decode_copy(buf, len + 65, &g_space, &stx, why, sizeof(why)), NF_ETRUNC);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

/* ft_memo: near_ft_transfer_args for bob.near / 1 with memo. */
static int ft_memo(const char *memo, size_t memo_len, char *out, size_t cap)
{
    return near_ft_transfer_args(out, cap, "bob.near", 8, 1, memo, memo_len);
}

#define FT_PREFIX "{\"receiver_id\":\"bob.near\",\"amount\":\"1\",\"memo\":"

static void check_memo(const char *memo, size_t memo_len, const char *want_memo_json)
{
    char out[NEAR_FT_ARGS_MAX * 2];
    char want[NEAR_FT_ARGS_MAX * 2];
    snprintf(want, sizeof(want), "%s%s}", FT_PREFIX, want_memo_json);
    int n = ft_memo(memo, memo_len, out, sizeof(out));
    CHECK_EQ_INT(n, strlen(want));
    if (n >= 0)
        CHECK_EQ_STR(out, want);
}

/* Expected outputs are what node's JSON.stringify({receiver_id, amount, memo}) prints, written
 * out by hand from the ECMAScript QuoteJSONString rules. */
static void test_ft_args(void)
{
    check_memo("a\"b", 3, "\"a\\\"b\"");
    check_memo("a\\b", 3, "\"a\\\\b\"");
    check_memo("line\nbreak", 10, "\"line\\nbreak\"");
    check_memo("\b\f\r\t", 4, "\"\\b\\f\\r\\t\"");
    check_memo("\x01", 1, "\"\\u0001\"");
    check_memo("x\x1fy\x0b", 4, "\"x\\u001fy\\u000b\"");
    check_memo("\0", 1, "\"\\u0000\"");
    check_memo("del\x7f", 4, "\"del\x7f\"");
    check_memo("\xf0\x9f\x98\x80 emoji", 10, "\"\xf0\x9f\x98\x80 emoji\"");
    check_memo("ls\xe2\x80\xa8ps\xe2\x80\xa9", 10, "\"ls\xe2\x80\xa8ps\xe2\x80\xa9\"");
    check_memo("caf\xc3\xa9 / <tag> &", 15, "\"caf\xc3\xa9 / <tag> &\"");
    check_memo("", 0, "\"\"");

    char out[NEAR_FT_ARGS_MAX * 4];
    /* No memo at all. */
    int n = near_ft_transfer_args(out, sizeof(out), "bob.near", 8, U128_MAX, NULL, 0);
    CHECK_EQ_STR(
        out,
        "{\"receiver_id\":\"bob.near\",\"amount\":\"340282366920938463463374607431768211455\"}");
    CHECK_EQ_INT(n, strlen(out));
    n = near_ft_transfer_args(out, sizeof(out), "bob.near", 8, 0, NULL, 0);
    CHECK_EQ_STR(out, "{\"receiver_id\":\"bob.near\",\"amount\":\"0\"}");

    /* Limits: 256 bytes of memo accepted, 257 refused, invalid UTF-8 refused. */
    char memo[NEAR_FT_MEMO_MAX + 1];
    memset(memo, '"', sizeof(memo));
    n = ft_memo(memo, NEAR_FT_MEMO_MAX, out, sizeof(out));
    CHECK_EQ_INT(n, (int)strlen(FT_PREFIX) + 2 + 2 * NEAR_FT_MEMO_MAX + 1);
    CHECK_EQ_INT(ft_memo(memo, NEAR_FT_MEMO_MAX + 1, out, sizeof(out)), NF_ERANGE);
    CHECK_EQ_INT(ft_memo("\xff", 1, out, sizeof(out)), NF_EUTF8);
    CHECK_EQ_INT(ft_memo("\xe2\x80", 2, out, sizeof(out)), NF_EUTF8);
    CHECK_EQ_INT(near_ft_transfer_args(out, sizeof(out), "b\xc0\x80", 3, 1, NULL, 0), NF_EUTF8);
    /* Invalid UTF-8 wins over a short buffer (the checks run only on that path now). */
    CHECK_EQ_INT(near_ft_transfer_args(out, 4, "b\xc0\x80", 3, 1, NULL, 0), NF_EUTF8);
    CHECK_EQ_INT(near_ft_transfer_args(out, 30, "bob.near", 8, 1, "m\xff", 2), NF_EUTF8);
    CHECK_EQ_INT(near_ft_transfer_args(out, 30, "bob.near", 8, 1, "memo", 4), NF_ENOSPC);
    /* The worst case (256 control characters) fits NEAR_FT_ARGS_MAX? It does not: 6x expansion
     * needs more, and the builder says so instead of overflowing. */
    memset(memo, 1, sizeof(memo));
    n = ft_memo(memo, NEAR_FT_MEMO_MAX, out, NEAR_FT_ARGS_MAX);
    CHECK_EQ_INT(n, NF_ENOSPC);
    /* Capacity: exact length works (no NUL), one less is NF_ENOSPC. */
    char exact[45];
    memset(exact, 'z', sizeof(exact));
    n = near_ft_transfer_args(exact, 45, "bob.near", 8, 1000000, NULL, 0);
    CHECK_EQ_INT(n, 45);
    CHECK(memcmp(exact, "{\"receiver_id\":\"bob.near\",\"amount\":\"1000000\"}", 45) == 0);
    CHECK_EQ_INT(near_ft_transfer_args(exact, 44, "bob.near", 8, 1000000, NULL, 0), NF_ENOSPC);

    n = near_storage_deposit_args(out, sizeof(out), "dave.near", 9, 0);
    CHECK_EQ_STR(out, "{\"account_id\":\"dave.near\",\"registration_only\":false}");
    CHECK_EQ_INT(n, strlen(out));
    n = near_storage_deposit_args(out, sizeof(out), "dave.near", 9, -1);
    CHECK_EQ_STR(out, "{\"account_id\":\"dave.near\"}");
    CHECK_EQ_INT(near_storage_deposit_args(out, 20, "dave.near", 9, 1), NF_ENOSPC);

    /* nf_json_escape directly. */
    n = nf_json_escape("a\"\\\n\x1f\x7f", 6, out, sizeof(out));
    CHECK_EQ_INT(n, 14);
    out[n > 0 ? n : 0] = '\0';
    CHECK_EQ_STR(out, "a\\\"\\\\\\n\\u001f\x7f");
    CHECK_EQ_INT(nf_json_escape("\x01", 1, out, 5), NF_ENOSPC);
    CHECK_EQ_INT(nf_json_escape("\x01", 1, out, 6), 6);
    CHECK_EQ_INT(nf_json_escape("", 0, out, 0), 0);
}

/* The escaping rules written out byte by byte (the straightforward two-pass form): UTF-8 checked
 * first, then '"' '\\' and the named controls as \x, other controls as \u00xx, the rest raw. */
static int ref_json_escape(const char *in, size_t len, char *out, size_t cap)
{
    if (!nf_utf8_valid((const uint8_t *)in, len))
        return NF_EUTF8;
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        char e[6];
        size_t n = 2;
        e[0] = '\\';
        if (c == '"' || c == '\\')
            e[1] = (char)c;
        else if (c == '\b')
            e[1] = 'b';
        else if (c == '\f')
            e[1] = 'f';
        else if (c == '\n')
            e[1] = 'n';
        else if (c == '\r')
            e[1] = 'r';
        else if (c == '\t')
            e[1] = 't';
        else if (c < 0x20) {
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            n = 6;
        } else {
            e[0] = (char)c;
            n = 1;
        }
        if (n > cap - o)
            return NF_ENOSPC;
        memcpy(out + o, e, n);
        o += n;
    }
    return (int)o;
}

/* The one-pass escaper (8-byte plain runs) against the reference on 100k random strings: mostly
 * ASCII with quotes, backslashes, controls and UTF-8 (valid and broken) mixed in, every output
 * capacity from 0 to the exact size. */
/* The 8-bytes-at-a-time ASCII path: a bad or a good non-ASCII sequence at every offset of a long
 * ASCII string, straddling the 8-byte steps. */
static void test_utf8_offsets(void)
{
    for (size_t pos = 0; pos < 24; pos++) {
        uint8_t b[32];
        memset(b, 'a', sizeof(b));
        b[pos] = 0xff;
        CHECK_EQ_INT(nf_utf8_valid(b, sizeof(b)), 0);
        memset(b, 'a', sizeof(b));
        b[pos] = 0xc3; /* e-acute, two bytes */
        b[pos + 1] = 0xa9;
        CHECK_EQ_INT(nf_utf8_valid(b, sizeof(b)), 1);
        CHECK_EQ_INT(nf_utf8_valid(b, pos + 1), 0); /* cut inside the sequence */
        b[pos + 1] = 'a';                           /* lead byte without continuation */
        CHECK_EQ_INT(nf_utf8_valid(b, sizeof(b)), 0);
        memset(b, 'a', sizeof(b));
        b[pos] = 0xed; /* a UTF-16 surrogate, U+D800 */
        b[pos + 1] = 0xa0;
        b[pos + 2] = 0x80;
        CHECK_EQ_INT(nf_utf8_valid(b, sizeof(b)), 0);
    }
}

static void test_json_escape_random(void)
{
    static const char *const pieces[] = {
        "a",    "hello world ", "\"",       "\\",           "\n",
        "\x01", "\x7f",         "\xc3\xa9", "\xe2\x80\xa8", "\xf0\x9f\x98\x80",
        "\xc3", "\xed\xa0\x80", "\xc0\xaf", "\x80",         "ABCDEFGHIJKLMNOP"};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char in[256], a[1600], b[1600];
    int diffs = 0;
    for (int it = 0; it < 100000; it++) {
        size_t len = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int parts = (int)(x % 12);
        for (int k = 0; k < parts; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const char *p = pieces[x % (sizeof(pieces) / sizeof(pieces[0]))];
            size_t pl = strlen(p);
            if (len + pl > sizeof(in))
                break;
            memcpy(in + len, p, pl);
            len += pl;
        }
        int want = ref_json_escape(in, len, a, sizeof(a));
        size_t caps[3] = {sizeof(b), want > 0 ? (size_t)want : 0, want > 0 ? (size_t)want - 1 : 0};
        for (int k = 0; k < 3; k++) {
            int r1 = ref_json_escape(in, len, a, caps[k]);
            int r2 = nf_json_escape(in, len, b, caps[k]);
            if (r1 != r2 || (r1 > 0 && memcmp(a, b, (size_t)r1) != 0))
                diffs++;
        }
    }
    CHECK_EQ_INT(diffs, 0);
}

static void test_utf8(void)
{
    static const struct {
        const char *s;
        size_t len;
        int valid;
    } cases[] = {
        {"", 0, 1},
        {"abc", 3, 1},
        {"\xc3\xa9", 2, 1},
        {"\xe2\x82\xac", 3, 1},
        {"\xef\xbf\xbf", 3, 1},     /* U+FFFF */
        {"\xed\x9f\xbf", 3, 1},     /* U+D7FF */
        {"\xee\x80\x80", 3, 1},     /* U+E000 */
        {"\xf0\x9f\x98\x80", 4, 1}, /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4, 1}, /* U+10FFFF */
        {"\0", 1, 1},
        {"\x80", 1, 0},             /* lone continuation */
        {"\xc0\x80", 2, 0},         /* overlong NUL */
        {"\xc1\xbf", 2, 0},         /* overlong */
        {"\xe0\x80\x80", 3, 0},     /* overlong */
        {"\xe0\x9f\xbf", 3, 0},     /* overlong U+07FF */
        {"\xf0\x8f\xbf\xbf", 4, 0}, /* overlong U+FFFF */
        {"\xed\xa0\x80", 3, 0},     /* surrogate U+D800 */
        {"\xed\xbf\xbf", 3, 0},     /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", 4, 0}, /* U+110000 */
        {"\xf5\x80\x80\x80", 4, 0},
        {"\xff", 1, 0},
        {"\xe2\x82", 2, 0},     /* truncated */
        {"\xf0\x9f\x98", 3, 0}, /* truncated */
        {"\xc3\x28", 2, 0},     /* bad continuation */
        {"a\xe2\x82\xac\xc3", 5, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = nf_utf8_valid((const uint8_t *)cases[i].s, cases[i].len);
        if (got != cases[i].valid)
            fprintf(stderr, "utf8 case %zu\n", i);
        CHECK_EQ_INT(got, cases[i].valid);
    }
}

/* ---- views ----------------------------------------------------------------------------------- */

static void view_of(const uint8_t *buf, size_t len, uint32_t stored, char *out, size_t cap)
{
    struct near_action acts[16];
    struct nf_bytes names[8];
    struct near_decode_space sp = {acts, stored, names, 8, NULL};
    struct near_signed_tx stx;
    char why[200];
    out[0] = '\0';
    int rc = near_signed_tx_decode(buf, len, &sp, &stx, why, sizeof(why));
    CHECK_EQ_INT(rc, 0);
    if (rc != 0)
        return;
    struct jw w;
    jw_init_fixed(&w, out, cap);
    near_view_signed_tx(&w, &stx, stored);
    size_t n = 0;
    CHECK_EQ_INT(jw_finish(&w, &n), 0);
}

static void test_views(void)
{
    char out[4096];
    uint8_t buf[600];
    size_t n = signed_vector(1, buf, sizeof(buf));
    view_of(buf, n, 16, out, sizeof(out));
    /* The "transaction" object of docs/PROTOCOL.md 3.4's illustrative response for VECTOR 1. */
    CHECK_EQ_STR(out,
                 "{\"signer_id\":\"alice.near\",\"public_key\":\"ed25519:"
                 "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z\",\"nonce\":150000000000001,"
                 "\"receiver_id\":\"usdt.tether-token.near\",\"actions\":[{\"FunctionCall\":{"
                 "\"method_name\":\"ft_transfer\",\"args\":"
                 "\"eyJyZWNlaXZlcl9pZCI6ImJvYi5uZWFyIiwiYW1vdW50IjoiMTAwMDAwMCJ9\",\"gas\":"
                 "30000000000000,\"deposit\":\"1\"}}],\"priority_fee\":0,\"signature\":\"ed25519:"
                 "4LWUBMSWq5E7K8cK3M73cbWV2FE1hg9H8AndB1asRqJTFeGJBZeWnv5HicEuJC7r7irx1ooZ61rAEri7"
                 "P5P8f1uc\",\"hash\":\"EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr\"}");
    /* Only the stored actions are written. */
    view_of(buf, n, 0, out, sizeof(out));
    CHECK(strstr(out, "\"actions\":[],\"priority_fee\":0") != NULL);

    n = signed_vector(4, buf, sizeof(buf));
    view_of(buf, n, 16, out, sizeof(out));
    CHECK(
        strstr(
            out,
            "\"actions\":[{\"Transfer\":{\"deposit\":\"1000000000000000000000000\"}},"
            "{\"AddKey\":{\"public_key\":\"ed25519:586Z7H2vpX9qNhN2T4e9Utugie3ogjbxzGaMtM3E6HR5\","
            "\"access_key\":{\"nonce\":0,\"permission\":{\"FunctionCall\":{\"allowance\":"
            "\"250000000000000000000000\",\"receiver_id\":\"usdt.tether-token.near\","
            "\"method_names\":[\"ft_transfer\",\"storage_deposit\"]}}}}},"
            "{\"AddKey\":{\"public_key\":\"ed25519:586Z7H2vpX9qNhN2T4e9Utugie3ogjbxzGaMtM3E6HR5\","
            "\"access_key\":{\"nonce\":0,\"permission\":\"FullAccess\"}}},"
            "{\"DeleteKey\":{\"public_key\":\"ed25519:"
            "586Z7H2vpX9qNhN2T4e9Utugie3ogjbxzGaMtM3E6HR5\""
            "}}],\"priority_fee\":0,\"signature\":\"ed25519:2p9DEjiaAS9bFigEkCJzwV3nMWZdD5sWTvtSre"
            "eiATeVX1fUNwxGsCZ3BZLgbKxPCSeiZpqqzMdpuAyet6wtUVEx\",\"hash\":"
            "\"HWT1362UV7Lzvxs5P7WjBMrVmVvfugVxaoDFY7zBqpq1\"}") != NULL);

    n = unhex(vec_tx_hex[4], buf, sizeof(buf));
    memset(buf + n, 0, 65);
    view_of(buf, n + 65, 16, out, sizeof(out));
#define PK5 "\"ed25519:22skMptHjFWNyuEWY22ftn2AbLPSYpmYwGJRGwpNHbTV\""
    CHECK_EQ_STR(out, "{\"signer_id\":\"test.near\",\"public_key\":" PK5 ",\"nonce\":1,"
                      "\"receiver_id\":\"123\",\"actions\":[\"CreateAccount\","
                      "{\"DeployContract\":{\"code\":\"AQID\"}},"
                      "{\"FunctionCall\":{\"method_name\":\"qqq\",\"args\":\"AQID\",\"gas\":1000,"
                      "\"deposit\":\"1000000\"}},"
                      "{\"Transfer\":{\"deposit\":\"123\"}},"
                      "{\"Stake\":{\"stake\":\"1000000\",\"public_key\":" PK5 "}},"
                      "{\"AddKey\":{\"public_key\":" PK5 ",\"access_key\":{\"nonce\":0,"
                      "\"permission\":{\"FunctionCall\":{\"allowance\":null,\"receiver_id\":"
                      "\"zzz\",\"method_names\":[\"www\"]}}}}},"
                      "{\"DeleteKey\":{\"public_key\":" PK5 "}},"
                      "{\"DeleteAccount\":{\"beneficiary_id\":\"123\"}}],\"priority_fee\":0,"
                      "\"signature\":\"ed25519:"
                      "1111111111111111111111111111111111111111111111111111111111111111\","
                      "\"hash\":\"4GXvjMFN6wSxnU9jEVT8HbXP5Yk6yELX9faRSKp6n9fX\"}");
#undef PK5
    /* A fixed buffer too small for the view reports NF_ENOSPC. */
    {
        struct near_action acts[4];
        struct near_decode_space sp = {acts, 4, NULL, 0, NULL};
        struct near_signed_tx stx;
        n = signed_vector(1, buf, sizeof(buf));
        CHECK_EQ_INT(near_signed_tx_decode(buf, n, &sp, &stx, NULL, 0), 0);
        struct jw w;
        char small[64];
        jw_init_fixed(&w, small, sizeof(small));
        near_view_signed_tx(&w, &stx, 4);
        size_t len;
        CHECK_EQ_INT(jw_finish(&w, &len), NF_ENOSPC);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    uint8_t seed[32];
    if (unhex(seed_hex, seed, sizeof(seed)) != 32 || keys_from_seed(seed, &g_kp) != 0) {
        fprintf(stderr, "cannot make the RFC 8032 TEST 1 keypair\n");
        return 1;
    }
    test_block_hash();
    test_vectors_1_to_4();
    test_vector_5();
    test_tamper();
    test_decode_errors();
    test_truncation_every_prefix();
    test_many_actions();
    test_encode_errors();
    test_secp256k1();
    test_ft_args();
    test_utf8();
    test_json_escape_random();
    test_utf8_offsets();
    test_views();
    decode_copy_release();
    keys_free(g_kp);
    return nf_test_report("test_near_tx");
}
