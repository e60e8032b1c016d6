/* test_cli_args: table tests of the nearft action-spec parsers (cli_args.c): ':' splitting rules
 * (memo and ARGS_JSON may hold ':'), defaults, number limits, key specs, the 100-action cap and the
 * error reasons. Single-threaded. */
#include "cli_args.h"

#include <stdlib.h>
#include <string.h>

#include "nf_err.h"
#include "nf_test.h"

#define PK2 "ed25519:586Z7H2vpX9qNhN2T4e9Utugie3ogjbxzGaMtM3E6HR5"

static int bytes_eq(struct nf_bytes b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.ptr, s, b.len) == 0;
}

static void test_u64(void)
{
    uint64_t v = 0;
    CHECK_EQ_INT(cli_parse_u64("0", 1, &v), 0);
    CHECK(v == 0);
    CHECK_EQ_INT(cli_parse_u64("18446744073709551615", 20, &v), 0);
    CHECK(v == UINT64_MAX);
    CHECK_EQ_INT(cli_parse_u64("18446744073709551616", 20, &v), NF_ERANGE);
    CHECK_EQ_INT(cli_parse_u64("99999999999999999999", 20, &v), NF_ERANGE);
    CHECK_EQ_INT(cli_parse_u64("000000000000000000000000001", 27, &v), 0);
    CHECK(v == 1);
    CHECK_EQ_INT(cli_parse_u64("12x", 3, &v), NF_EINVAL);
    CHECK_EQ_INT(cli_parse_u64("", 0, &v), NF_EINVAL);
    CHECK_EQ_INT(cli_parse_u64("-1", 2, &v), NF_EINVAL);
    CHECK_EQ_INT(cli_parse_u64("+1", 2, &v), NF_EINVAL);
    CHECK_EQ_INT(cli_parse_u64(" 1", 2, &v), NF_EINVAL);
}

static void test_ft_transfer(void)
{
    struct cli_builder *b = cli_builder_new();
    char why[256];
    CHECK_EQ_INT(cli_add_ft_transfer(b, "bob.near:1000000", why, sizeof(why)), 0);
    CHECK_EQ_INT(cli_add_ft_transfer(b, "bob.near:2500:batch-1", why, sizeof(why)), 0);
    CHECK_EQ_INT(cli_add_ft_transfer(b, "bob.near:7:", why, sizeof(why)), 0);
    CHECK_EQ_INT(cli_add_ft_transfer(b, "bob.near:7:a:b::c\"\\", why, sizeof(why)), 0);
    CHECK_EQ_INT(b->n, 4);
    const struct near_action *a = b->actions;
    CHECK_EQ_INT(a[0].type, NEAR_ACT_FUNCTION_CALL);
    CHECK(bytes_eq(a[0].u.function_call.method_name, "ft_transfer"));
    CHECK(bytes_eq(a[0].u.function_call.args,
                   "{\"receiver_id\":\"bob.near\",\"amount\":\"1000000\"}"));
    CHECK(a[0].u.function_call.deposit == 1);
    CHECK(a[0].u.function_call.gas == CLI_DEFAULT_GAS);
    CHECK(bytes_eq(a[1].u.function_call.args,
                   "{\"receiver_id\":\"bob.near\",\"amount\":\"2500\",\"memo\":\"batch-1\"}"));
    CHECK(bytes_eq(a[2].u.function_call.args,
                   "{\"receiver_id\":\"bob.near\",\"amount\":\"7\",\"memo\":\"\"}"));
    CHECK(bytes_eq(a[3].u.function_call.args,
                   "{\"receiver_id\":\"bob.near\",\"amount\":\"7\",\"memo\":\"a:b::c\\\"\\\\\"}"));
    cli_set_gas_per_action(b, 15000000000000ull);
    CHECK(a[0].u.function_call.gas == 15000000000000ull);
    CHECK(a[3].u.function_call.gas == 15000000000000ull);

    CHECK_EQ_INT(cli_add_ft_transfer(b, "bob.near", why, sizeof(why)), NF_EINVAL);
    CHECK(strstr(why, "RECEIVER:AMOUNT") != NULL);
    CHECK_EQ_INT(cli_add_ft_transfer(b, "Bob.near:1", why, sizeof(why)), NF_EACCOUNT);
    CHECK(strstr(why, "\"Bob.near\" is not a valid account id") != NULL);
    CHECK(cli_add_ft_transfer(b, "bob.near:12x", why, sizeof(why)) < 0);
    CHECK(strstr(why, "\"12x\"") != NULL);
    CHECK_EQ_INT(cli_add_ft_transfer(b, "bob.near:0", why, sizeof(why)), NF_ERANGE);
    CHECK_EQ_INT(cli_add_ft_transfer(b, "bob.near:340282366920938463463374607431768211456", why,
                                     sizeof(why)),
                 NF_ERANGE);
    CHECK_EQ_INT(cli_add_ft_transfer(b, "bob.near:1:\xff", why, sizeof(why)), NF_EUTF8);
    char memo[300 + 20] = "bob.near:1:";
    memset(memo + 11, 'm', 257);
    memo[11 + 257] = '\0';
    CHECK_EQ_INT(cli_add_ft_transfer(b, memo, why, sizeof(why)), NF_ERANGE);
    memo[11 + 256] = '\0'; /* exactly 256 bytes is fine */
    CHECK_EQ_INT(cli_add_ft_transfer(b, memo, why, sizeof(why)), 0);
    /* 256 control characters escape to \u00xx: 1536 bytes of memo JSON, still fits. */
    memset(memo + 11, 0x01, 256);
    CHECK_EQ_INT(cli_add_ft_transfer(b, memo, why, sizeof(why)), 0);
    CHECK_EQ_INT(b->n, 6);
    CHECK(b->actions[5].u.function_call.args.len > 1536);
    cli_builder_free(b);
}

static void test_storage_deposit_and_transfer(void)
{
    struct cli_builder *b = cli_builder_new();
    char why[256];
    CHECK_EQ_INT(cli_add_storage_deposit(b, "dave.near", why, sizeof(why)), 0);
    CHECK_EQ_INT(cli_add_storage_deposit(b, "dave.near:5", why, sizeof(why)), 0);
    CHECK_EQ_INT(cli_add_transfer(b, "0", why, sizeof(why)), 0);
    CHECK_EQ_INT(cli_add_transfer(b, "340282366920938463463374607431768211455", why, sizeof(why)),
                 0);
    const struct near_action *a = b->actions;
    CHECK(bytes_eq(a[0].u.function_call.method_name, "storage_deposit"));
    CHECK(bytes_eq(a[0].u.function_call.args,
                   "{\"account_id\":\"dave.near\",\"registration_only\":true}"));
    CHECK(a[0].u.function_call.deposit == CLI_DEFAULT_STORAGE_DEPOSIT);
    CHECK(a[1].u.function_call.deposit == 5);
    CHECK_EQ_INT(a[2].type, NEAR_ACT_TRANSFER);
    CHECK(a[2].u.transfer.deposit == 0);
    CHECK(a[3].u.transfer.deposit == U128_MAX);
    CHECK(cli_add_storage_deposit(b, "dave.near:", why, sizeof(why)) < 0);
    CHECK(cli_add_storage_deposit(b, "a", why, sizeof(why)) < 0);
    CHECK(cli_add_transfer(b, "", why, sizeof(why)) < 0);
    CHECK(cli_add_transfer(b, "1.5", why, sizeof(why)) < 0);
    CHECK_EQ_INT(b->n, 4);
    cli_builder_free(b);
}

static void test_function_call(void)
{
    struct cli_builder *b = cli_builder_new();
    char why[256];
    CHECK_EQ_INT(
        cli_add_function_call(b, "m:{\"a\":\"b:c\",\"d\":1}:30000000000000:0", why, sizeof(why)),
        0);
    CHECK_EQ_INT(cli_add_function_call(b, "go:::18446744073709551615:1", why, sizeof(why)), 0);
    CHECK_EQ_INT(cli_add_function_call(b, "x::1:2", why, sizeof(why)), 0);
    const struct near_action *a = b->actions;
    CHECK(bytes_eq(a[0].u.function_call.method_name, "m"));
    CHECK(bytes_eq(a[0].u.function_call.args, "{\"a\":\"b:c\",\"d\":1}"));
    CHECK(a[0].u.function_call.gas == 30000000000000ull);
    CHECK(a[0].u.function_call.deposit == 0);
    CHECK(bytes_eq(a[1].u.function_call.args, ":"));
    CHECK(a[1].u.function_call.gas == UINT64_MAX);
    CHECK(bytes_eq(a[2].u.function_call.args, ""));
    /* --gas-per-action never touches explicit function calls. */
    cli_set_gas_per_action(b, 5);
    CHECK(a[0].u.function_call.gas == 30000000000000ull);
    CHECK(cli_add_function_call(b, "m:1:2", why, sizeof(why)) < 0);
    CHECK(strstr(why, "METHOD:ARGS_JSON:GAS:DEPOSIT") != NULL);
    CHECK(cli_add_function_call(b, ":{}:1:2", why, sizeof(why)) < 0);
    CHECK(cli_add_function_call(b, "m:{}:0:2", why, sizeof(why)) < 0);
    CHECK(cli_add_function_call(b, "m:{}:18446744073709551616:2", why, sizeof(why)) < 0);
    CHECK(cli_add_function_call(b, "m:{}:1:-2", why, sizeof(why)) < 0);
    CHECK_EQ_INT(b->n, 3);
    cli_builder_free(b);
}

static void test_keys(void)
{
    struct cli_builder *b = cli_builder_new();
    char why[256];
    CHECK_EQ_INT(cli_add_add_key(b, PK2, why, sizeof(why)), 0);
    CHECK_EQ_INT(cli_add_add_key(b, PK2 ":full", why, sizeof(why)), 0);
    CHECK_EQ_INT(cli_add_add_key(b,
                                 PK2 ":fc:usdt.tether-token.near:ft_transfer,storage_deposit:"
                                     "250000000000000000000000",
                                 why, sizeof(why)),
                 0);
    CHECK_EQ_INT(cli_add_add_key(b, "586Z7H2vpX9qNhN2T4e9Utugie3ogjbxzGaMtM3E6HR5:fc:c.near:", why,
                                 sizeof(why)),
                 0);
    CHECK_EQ_INT(cli_add_add_key(b, PK2 ":fc:c.near::0", why, sizeof(why)), 0);
    CHECK_EQ_INT(cli_add_delete_key(b, PK2, why, sizeof(why)), 0);
    const struct near_action *a = b->actions;
    CHECK_EQ_INT(a[0].type, NEAR_ACT_ADD_KEY);
    CHECK(a[0].u.add_key.full_access && a[1].u.add_key.full_access);
    CHECK_EQ_INT(a[0].u.add_key.public_key.type, NF_KEY_ED25519);
    CHECK_EQ_INT(a[0].u.add_key.public_key.data[0], 0x3d);
    CHECK(!a[2].u.add_key.full_access && a[2].u.add_key.has_allowance);
    CHECK(a[2].u.add_key.allowance == (nf_u128)250000000000ull * 1000000000000ull);
    CHECK(bytes_eq(a[2].u.add_key.receiver_id, "usdt.tether-token.near"));
    CHECK_EQ_INT(a[2].u.add_key.n_method_names, 2);
    CHECK(bytes_eq(a[2].u.add_key.method_names[0], "ft_transfer"));
    CHECK(bytes_eq(a[2].u.add_key.method_names[1], "storage_deposit"));
    CHECK(!a[3].u.add_key.full_access && !a[3].u.add_key.has_allowance);
    CHECK_EQ_INT(a[3].u.add_key.n_method_names, 0);
    CHECK_EQ_INT(a[3].u.add_key.public_key.data[31], 0x0c);
    CHECK(a[4].u.add_key.has_allowance && a[4].u.add_key.allowance == 0);
    CHECK_EQ_INT(a[5].type, NEAR_ACT_DELETE_KEY);
    CHECK(cli_add_add_key(b, PK2 ":partial", why, sizeof(why)) < 0);
    CHECK(cli_add_add_key(b, PK2 ":fc:c.near", why, sizeof(why)) < 0);
    CHECK(cli_add_add_key(b, PK2 ":fc:C.near:", why, sizeof(why)) < 0);
    CHECK(cli_add_add_key(b, PK2 ":fc:c.near:a,,b", why, sizeof(why)) < 0);
    CHECK(cli_add_add_key(b, PK2 ":fc:c.near:a:x", why, sizeof(why)) < 0);
    CHECK(cli_add_add_key(b, "ed25519:abc", why, sizeof(why)) < 0);
    CHECK(strstr(why, "public key") != NULL);
    CHECK(cli_add_delete_key(b, PK2 "x", why, sizeof(why)) < 0);
    CHECK(cli_add_delete_key(b, "secp256k1:abc", why, sizeof(why)) < 0);
    CHECK_EQ_INT(b->n, 6);
    cli_builder_free(b);
}

static void test_action_cap(void)
{
    struct cli_builder *b = cli_builder_new();
    char why[256];
    for (int i = 0; i < NEAR_MAX_ACTIONS; i++)
        CHECK_EQ_INT(cli_add_transfer(b, "1", why, sizeof(why)), 0);
    CHECK_EQ_INT(b->n, NEAR_MAX_ACTIONS);
    CHECK_EQ_INT(cli_add_transfer(b, "1", why, sizeof(why)), NF_ETOOMANY);
    CHECK(strstr(why, "more than 100 actions") != NULL);
    CHECK_EQ_INT(cli_add_ft_transfer(b, "bob.near:1", why, sizeof(why)), NF_ETOOMANY);
    CHECK_EQ_INT(b->n, NEAR_MAX_ACTIONS);
    cli_builder_free(b);
}

static void test_quote(void)
{
    char q[200];
    cli_quote("a\"b\\c\n", q, sizeof(q));
    CHECK_EQ_STR(q, "\"a\\\"b\\\\c\\x0a\"");
    char long_text[400];
    memset(long_text, 'z', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    cli_quote(long_text, q, sizeof(q));
    CHECK(strlen(q) < 130);
    CHECK(strstr(q, "...\"") != NULL);
}

int main(void)
{
    test_u64();
    test_ft_transfer();
    test_storage_deposit_and_transfer();
    test_function_call();
    test_keys();
    test_action_cap();
    test_quote();
    return nf_test_report("test_cli_args");
}
