/* test_account: NEAR account id validation against the examples of docs/PROTOCOL.md section 5.4
 * (taken from near-account-id-rs), edge cases, and a POSIX-regex oracle of the published rule run
 * on many random strings. Single-threaded, no files. */
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "nf_err.h"
#include "nf_test.h"

static int check(const char *s)
{
    return account_id_check(s, strlen(s), NULL);
}

/* check_why: the result, and on failure a non-empty static reason. */
static int check_why(const char *s, size_t len)
{
    const char *why = "sentinel";
    int r = account_id_check(s, len, &why);
    if (r < 0)
        CHECK(why != NULL && why[0] != '\0' && strcmp(why, "sentinel") != 0);
    return r;
}

static void test_examples(void)
{
    const char *valid[] = {
        "aa",
        "a-a",
        "a-aa",
        "100",
        "0o",
        "com",
        "near",
        "bowen",
        "b-o_w_e-n",
        "b.owen",
        "bro.wen",
        "a.ha",
        "a.b-a.ra",
        "system",
        "over.9000",
        "google.com",
        "illia.cheapaccounts.near",
        "0o0ooo00oo00o",
        "alex-skidanov",
        "10-4.8-2",
        "b-o_w_e-n",
        "no_lols",
        "near.a",
        "0123456789012345678901234567890123456789012345678901234567890123",
        /* Valid, but can't be created (from near-account-id's test list). */
        "near.a",
        "a.a",
        "alice.near",
        "usdt.tether-token.near",
        "bob.near",
    };
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        int r = check_why(valid[i], strlen(valid[i]));
        if (r < 0)
            fprintf(stderr, "expected valid: %s\n", valid[i]);
        CHECK(r >= 0);
    }
    const char *invalid[] = {
        "a",
        "A",
        "Abc",
        "-near",
        "near-",
        "-near-",
        "near.",
        ".near",
        "near@",
        "@near",
        "неар",
        "@",
        ".",
        "-",
        "_",
        "..",
        "__",
        "--",
        "a..near",
        "nEar",
        "_bowen",
        "hello world",
        "abcdefghijklmnopqrstuvwxyz.abcdefghijklmnopqrstuvwxyz.abcdefghijklmnopqrstuvwxyz",
        "01234567890123456789012345678901234567890123456789012345678901234",
        "some-complex-address@gmail.com",
        "sub.buy_d1gitz@atata@b0-rg.c_0_m",
        "100-",
        "bo__wen",
        "_illia",
        "0_-_0",
        "0_-_0",
        "a-_b",
        "a_.b",
        "a.-b",
        "a._b",
        "a-.b",
        "café.near",
        "a\tb",
        "a b",
        "a/b",
        "../a",
        "a+b",
        "a:b",
    };
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        int r = check_why(invalid[i], strlen(invalid[i]));
        if (r != NF_EACCOUNT)
            fprintf(stderr, "expected invalid: %s\n", invalid[i]);
        CHECK_EQ_INT(r, NF_EACCOUNT);
    }
}

static void test_edges(void)
{
    char buf[80];
    /* Lengths 0, 1, 2, 64, 65. */
    CHECK_EQ_INT(check_why("", 0), NF_EACCOUNT);
    CHECK_EQ_INT(check_why("ab", 1), NF_EACCOUNT);
    CHECK_EQ_INT(check_why("ab", 2), ACCOUNT_NAMED);
    memset(buf, 'z', sizeof(buf));
    CHECK_EQ_INT(check_why(buf, 64), ACCOUNT_NAMED);
    CHECK_EQ_INT(check_why(buf, 65), NF_EACCOUNT);
    CHECK_EQ_INT(check_why(buf, 80), NF_EACCOUNT);
    /* The reason names the problem. */
    const char *why = NULL;
    CHECK_EQ_INT(account_id_check("a", 1, &why), NF_EACCOUNT);
    CHECK_EQ_STR(why, "too short");
    CHECK_EQ_INT(account_id_check(buf, 65, &why), NF_EACCOUNT);
    CHECK_EQ_STR(why, "too long");
    CHECK_EQ_INT(account_id_check("a..b", 4, &why), NF_EACCOUNT);
    CHECK(why != NULL && strstr(why, "separator") != NULL);
    CHECK_EQ_INT(account_id_check("a@b", 3, &why), NF_EACCOUNT);
    CHECK(why != NULL && strstr(why, "invalid character") != NULL);
    CHECK_EQ_INT(account_id_check(NULL, 0, &why), NF_EACCOUNT);

    /* The length is explicit: no NUL needed, and bytes after len are ignored. */
    CHECK_EQ_INT(check_why("alice.near!!!", 10), ACCOUNT_NAMED);
    CHECK_EQ_INT(check_why("alice.near.", 11), NF_EACCOUNT);
    /* An embedded NUL is a character like any other: invalid. */
    CHECK_EQ_INT(check_why("ab\0cd", 5), NF_EACCOUNT);
    /* Separators at start/end/adjacent for each separator pair. */
    const char seps[] = "-_.";
    for (int i = 0; i < 3; i++) {
        snprintf(buf, sizeof(buf), "%cab", seps[i]);
        CHECK_EQ_INT(check(buf), NF_EACCOUNT);
        snprintf(buf, sizeof(buf), "ab%c", seps[i]);
        CHECK_EQ_INT(check(buf), NF_EACCOUNT);
        snprintf(buf, sizeof(buf), "a%cb", seps[i]);
        CHECK_EQ_INT(check(buf), ACCOUNT_NAMED);
        for (int j = 0; j < 3; j++) {
            snprintf(buf, sizeof(buf), "a%c%cb", seps[i], seps[j]);
            CHECK_EQ_INT(check(buf), NF_EACCOUNT);
        }
    }
    /* Every byte value as a middle character. */
    for (int c = 0; c < 256; c++) {
        char s[3] = {'a', (char)c, 'b'};
        int want =
            ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
                ? ACCOUNT_NAMED
                : NF_EACCOUNT;
        CHECK_EQ_INT(account_id_check(s, 3, NULL), want);
    }
}

static void test_kinds(void)
{
    char buf[80];
    const char *hex64 = "98793cd91a3f870fb126f66285808c7e094afcfc4eda8a970f6648cdf0dbd6de";
    CHECK_EQ_INT(check(hex64), ACCOUNT_NEAR_IMPLICIT);
    CHECK_EQ_INT(check("0123456789012345678901234567890123456789012345678901234567890123"),
                 ACCOUNT_NEAR_IMPLICIT);
    /* Same length with a non-hex letter: a named account; with uppercase: invalid. */
    snprintf(buf, sizeof(buf), "%s", hex64);
    buf[10] = 'g';
    CHECK_EQ_INT(check(buf), ACCOUNT_NAMED);
    buf[10] = 'A';
    CHECK_EQ_INT(check(buf), NF_EACCOUNT);
    CHECK_EQ_INT(account_id_check(hex64, 63, NULL), ACCOUNT_NAMED);
    snprintf(buf, sizeof(buf), "%.62s.a", hex64); /* 64 chars but not all hex */
    CHECK_EQ_INT(check(buf), ACCOUNT_NAMED);

    const char *eth = "0xb794f5ea0ba39494ce839613fffba74279579268";
    CHECK_EQ_INT(check(eth), ACCOUNT_ETH_IMPLICIT);
    CHECK_EQ_INT(account_id_check(eth, 41, NULL), ACCOUNT_NAMED);
    snprintf(buf, sizeof(buf), "%sa", eth);
    CHECK_EQ_INT(check(buf), ACCOUNT_NAMED);
    snprintf(buf, sizeof(buf), "%s", eth);
    buf[1] = 'X';
    CHECK_EQ_INT(check(buf), NF_EACCOUNT);
    snprintf(buf, sizeof(buf), "%s", eth);
    buf[20] = 'B'; /* checksummed (mixed-case) ETH addresses are not account ids */
    CHECK_EQ_INT(check(buf), NF_EACCOUNT);
    snprintf(buf, sizeof(buf), "%s", eth);
    buf[20] = 'z';
    CHECK_EQ_INT(check(buf), ACCOUNT_NAMED);
    snprintf(buf, sizeof(buf), "%s", eth);
    buf[0] = '1';
    CHECK_EQ_INT(check(buf), ACCOUNT_NAMED);

    const char *det = "0s0123456789abcdef0123456789abcdef01234567";
    CHECK_EQ_INT((int)strlen(det), 42);
    CHECK_EQ_INT(check(det), ACCOUNT_DETERMINISTIC);
    snprintf(buf, sizeof(buf), "%s", det);
    buf[41] = 'g';
    CHECK_EQ_INT(check(buf), ACCOUNT_NAMED);
    buf[41] = '.';
    CHECK_EQ_INT(check(buf), NF_EACCOUNT);
    snprintf(buf, sizeof(buf), "%s", det);
    buf[1] = 't';
    CHECK_EQ_INT(check(buf), ACCOUNT_NAMED);
    /* "0x" alone or short forms are plain names. */
    CHECK_EQ_INT(check("0x"), ACCOUNT_NAMED);
    CHECK_EQ_INT(check("0s"), ACCOUNT_NAMED);
}

/* Random strings over "ab0-_.A@" vs. the published regex (POSIX ERE, \d spelled [0-9]). */
static void test_regex_oracle(void)
{
    regex_t re;
    int rc = regcomp(&re, "^(([a-z0-9]+[-_])*[a-z0-9]+\\.)*([a-z0-9]+[-_])*[a-z0-9]+$",
                     REG_EXTENDED | REG_NOSUB);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0)
        return;
    /* Weighted alphabet: letters and digits more often, so many strings are valid. */
    static const char alphabet[] = "aaaabbbb0000-_.A@";
    uint64_t state = 0x9e3779b97f4a7c15ull;
    int agree = 0, valid = 0, total = 200000;
    for (int i = 0; i < total; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        size_t len = (size_t)(state % 70);
        char s[80];
        uint64_t x = state;
        for (size_t k = 0; k < len; k++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            s[k] = alphabet[(x >> 33) % (sizeof(alphabet) - 1)];
        }
        s[len] = '\0';
        int want = len >= 2 && len <= 64 && regexec(&re, s, 0, NULL, 0) == 0;
        int got = account_id_check(s, len, NULL);
        if ((got >= 0) == want)
            agree++;
        else
            fprintf(stderr, "oracle disagrees on \"%s\": got %d want %d\n", s, got, want);
        if (want) {
            valid++;
            /* No 'x' or 's' in the alphabet: named, unless 64 chars that are all hex. */
            int all_hex = len == 64 && strspn(s, "ab0") == len;
            CHECK_EQ_INT(got, all_hex ? ACCOUNT_NEAR_IMPLICIT : ACCOUNT_NAMED);
        }
    }
    CHECK_EQ_INT(agree, total);
    CHECK(valid > total / 50); /* the oracle really saw many valid ids */
    regfree(&re);
}

int main(void)
{
    test_examples();
    test_edges();
    test_kinds();
    test_regex_oracle();
    return nf_test_report("test_account");
}
