/* test_auth: the token file parser (a table of good and bad files with the line number and reason
 * each bad one reports), scope lists, names, token shape and hash, the constant-time lookup, the
 * line a removal cuts (auth_find_line), and the file functions (load refuses group/other
 * access, add refuses duplicates and keeps 0600, remove rewrites without the line). */
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "nf_err.h"
#include "nf_test.h"

#define H_A "0000000000000000000000000000000000000000000000000000000000000001"
#define H_B "00000000000000000000000000000000000000000000000000000000000000ff"

struct parse_case {
    const char *text;
    int want; /* entry count, or a negative nf_err */
    int line; /* for errors */
    const char *why_part;
};

static const struct parse_case cases[] = {
    {"", 0, 0, NULL},
    {"\n\n# only comments\n   # indented comment\n", 0, 0, NULL},
    {"a transfer " H_A "\n", 1, 0, NULL},
    {"a transfer " H_A, 1, 0, NULL}, /* no final newline */
    {"a\ttransfer,read,metrics\t" H_A "\nb read " H_B "\n", 2, 0, NULL},
    {"  a   metrics   " H_A "   \n", 1, 0, NULL},
    {"# c\na transfer\n", NF_EINVAL, 2, "want NAME SCOPES HASH"},
    {"a transfer " H_A " extra\n", NF_EINVAL, 1, "text after the hash"},
    {"a transfer " H_A "\r\n", NF_EINVAL, 1, "control character"},
    {"a admin " H_A "\n", NF_EINVAL, 1, "unknown scope"},
    {"a read,,metrics " H_A "\n", NF_EINVAL, 1, "empty item"},
    {"a read,read " H_A "\n", NF_EINVAL, 1, "listed twice"},
    {"a, read " H_A "\n", NF_EINVAL, 1, "NAME must be"},
    {"a read 0000000000000000000000000000000000000000000000000000000000000001aa\n", NF_EINVAL, 1,
     "64 lowercase hex"},
    {"a read 000000000000000000000000000000000000000000000000000000000000000G\n", NF_EINVAL, 1,
     "64 lowercase hex"},
    {"a read 00000000000000000000000000000000000000000000000000000000000000FF\n", NF_EINVAL, 1,
     "64 lowercase hex"},
    {"a transfer " H_A " max_amount_per_transfer=1000\n", 1, 0, NULL},
    {"a transfer " H_A "\tmax_amount_per_transfer=00012  \nb read " H_B "\n", 2, 0, NULL},
    {"a transfer " H_A " max_amount_per_transfer=0\n", NF_EINVAL, 1, "greater than 0"},
    {"a transfer " H_A " max_amount_per_transfer=\n", NF_EINVAL, 1, "text after the hash"},
    {"a transfer " H_A " max_amount_per_transfer=1e3\n", NF_EINVAL, 1, "decimal u128"},
    {"a transfer " H_A " max_amount_per_transfer=340282366920938463463374607431768211456\n",
     NF_EINVAL, 1, "decimal u128"},
    {"a transfer " H_A " max_amount_per_transfer=1 max_amount_per_transfer=2\n", NF_EINVAL, 1,
     "given twice"},
    {"a transfer " H_A " max_amount_per_hour=5\n", 1, 0, NULL},
    {"a transfer " H_A " max_amount_per_hour=5 max_amount_per_transfer=2\n", 1, 0, NULL},
    {"# c\na transfer " H_A " max_amount_per_transfer=2\tmax_amount_per_hour=5\n", 1, 0, NULL},
    {"a read " H_A "\n\nb transfer " H_B " max_amount_per_hour=0\n", NF_EINVAL, 3,
     "max_amount_per_hour must be a decimal u128 greater than 0"},
    {"a transfer " H_A " max_amount_per_hour=\n", NF_EINVAL, 1, "text after the hash"},
    {"a transfer " H_A " max_amount_per_hour=-5\n", NF_EINVAL, 1, "max_amount_per_hour must be"},
    {"a transfer " H_A " max_amount_per_hour=340282366920938463463374607431768211456\n", NF_EINVAL,
     1, "max_amount_per_hour must be"},
    {"a transfer " H_A " max_amount_per_hour=1 max_amount_per_transfer=1 max_amount_per_hour=1\n",
     NF_EINVAL, 1, "max_amount_per_hour is given twice"},
    {"a transfer " H_A " max_amount_per_day=900 max_amount_per_hour=100\n", 1, 0, NULL},
    {"a transfer " H_A " max_amount_per_day=0\n", NF_EINVAL, 1,
     "max_amount_per_day must be a decimal u128 greater than 0"},
    {"a transfer " H_A " max_amount_per_day=1 max_amount_per_day=1\n", NF_EINVAL, 1,
     "max_amount_per_day is given twice"},
    {"a transfer " H_A " from=10.0.0.0/8,192.0.2.7,2001:db8::/32\n", 1, 0, NULL},
    {"a transfer " H_A " from=10.0.0.0/8 from=10.0.0.0/8\n", NF_EINVAL, 1, "from is given twice"},
    {"a transfer " H_A " from=10.0.0.1/8\n", NF_EINVAL, 1, "bits set past its prefix"},
    {"a transfer " H_A " from=10.0.0.0/33\n", NF_EINVAL, 1, "prefix longer than its address"},
    {"a transfer " H_A " from=10.0.0.0/\n", NF_EINVAL, 1, "not a number of bits"},
    {"a transfer " H_A " from=10.0.0.0/x\n", NF_EINVAL, 1, "not a number of bits"},
    {"a transfer " H_A " from=ops.example\n", NF_EINVAL, 1, "not an IPv4 or IPv6 address"},
    {"a transfer " H_A " from=10.0.0.0/8,\n", NF_EINVAL, 1, "comma list"},
    {"a transfer " H_A
     " from=1.0.0.0,2.0.0.0,3.0.0.0,4.0.0.0,5.0.0.0,6.0.0.0,7.0.0.0,8.0.0.0,9.0.0.0\n",
     NF_EINVAL, 1, "more than 8 networks"},
    {"a transfer " H_A " expires=2027-01-01T00:00:00Z\n", 1, 0, NULL},
    {"a transfer " H_A " max_amount_per_hour=5 expires=2099-12-31T23:59:59Z\n", 1, 0, NULL},
    {"a transfer " H_A " expires=2027-01-01T00:00:00Z expires=2028-01-01T00:00:00Z\n", NF_EINVAL, 1,
     "expires is given twice"},
    {"a transfer " H_A " expires=2027-01-01\n", NF_EINVAL, 1, "expires must be a UTC time"},
    {"a transfer " H_A " expires=2027-01-01T00:00:00\n", NF_EINVAL, 1, "expires must be"},
    {"a transfer " H_A " expires=2027-01-01 00:00:00Z\n", NF_EINVAL, 1, "expires must be"},
    {"a transfer " H_A " expires=2027-02-30T00:00:00Z\n", NF_EINVAL, 1, "expires must be"},
    {"a transfer " H_A " expires=2027-13-01T00:00:00Z\n", NF_EINVAL, 1, "expires must be"},
    {"a transfer " H_A " expires=2027-01-01T24:00:00Z\n", NF_EINVAL, 1, "expires must be"},
    {"a transfer " H_A " expires=1999-12-31T23:59:59Z\n", NF_EINVAL, 1, "expires must be"},
    {"a transfer " H_A " expires=2027-01-01T00:00:00+01:00\n", NF_EINVAL, 1, "expires must be"},
    {"a transfer " H_A " max_amount_per_hours=5\n", NF_EINVAL, 1, "text after the hash"},
    {"a transfer " H_A " max_amount_per_hour5\n", NF_EINVAL, 1, "text after the hash"},
    {"a read " H_A "\n\na metrics " H_B "\n", NF_EINVAL, 3, "already used"},
    {"a read " H_A "\nb metrics " H_A "\n", NF_EINVAL, 2, "same token hash"},
    {"a read " H_A "\nb read\0 " H_B "\n", NF_EINVAL, 2, "control character"},
};

static void test_parse_table(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct parse_case *c = &cases[i];
        size_t len = strlen(c->text);
        if (i == sizeof(cases) / sizeof(cases[0]) - 1)
            len = strlen(c->text) + 1 + strlen(c->text + strlen(c->text) + 1); /* past the NUL */
        struct auth_entry e[4];
        int line = 0;
        const char *why = "";
        int n = auth_parse(c->text, len, e, 4, &line, &why);
        if (n != c->want)
            fprintf(stderr, "case %zu: got %d (line %d: %s), want %d\n", i, n, line, why, c->want);
        CHECK_EQ_INT(n, c->want);
        if (c->want < 0) {
            CHECK_EQ_INT(line, c->line);
            CHECK(strstr(why, c->why_part) != NULL);
        }
    }
    /* Fields land where they should. */
    struct auth_entry e[2];
    int line = 0;
    const char *why = NULL;
    const char *t = "ops.bot-1 read,transfer " H_B "\n";
    CHECK_EQ_INT(auth_parse(t, strlen(t), e, 2, &line, &why), 1);
    CHECK_EQ_STR(e[0].name, "ops.bot-1");
    CHECK_EQ_INT(e[0].scopes, AUTH_SCOPE_READ | AUTH_SCOPE_TRANSFER);
    CHECK_EQ_INT(e[0].hash[31], 0xff);
    CHECK_EQ_INT(e[0].hash[0], 0);
    CHECK(e[0].max_amount_per_transfer == 0);
    t = "a transfer " H_A " max_amount_per_transfer=340282366920938463463374607431768211455\n";
    CHECK_EQ_INT(auth_parse(t, strlen(t), e, 2, &line, &why), 1);
    CHECK(e[0].max_amount_per_transfer == U128_MAX);
    CHECK(e[0].max_amount_per_hour == 0);
    t = "a transfer " H_A " max_amount_per_hour=340282366920938463463374607431768211455\n"
        "b transfer " H_B " max_amount_per_hour=7000 max_amount_per_transfer=30\n";
    CHECK_EQ_INT(auth_parse(t, strlen(t), e, 2, &line, &why), 2);
    CHECK(e[0].max_amount_per_hour == U128_MAX);
    CHECK(e[0].max_amount_per_transfer == 0);
    CHECK(e[1].max_amount_per_hour == 7000);
    CHECK(e[1].max_amount_per_transfer == 30);
    CHECK(e[1].expires_s == 0 && e[1].max_amount_per_day == 0);
    t = "a transfer " H_A " max_amount_per_day=340282366920938463463374607431768211455\n";
    CHECK_EQ_INT(auth_parse(t, strlen(t), e, 2, &line, &why), 1);
    CHECK(e[0].max_amount_per_day == U128_MAX && e[0].max_amount_per_hour == 0);
    /* expires=: Unix seconds, formatted back the same; expired from that second on. */
    t = "a transfer " H_A " expires=2027-01-01T00:00:00Z\n"
        "b transfer " H_B " expires=2024-02-29T12:34:56Z max_amount_per_hour=9\n";
    CHECK_EQ_INT(auth_parse(t, strlen(t), e, 2, &line, &why), 2);
    CHECK(e[0].expires_s == 1798761600ull);
    CHECK(e[1].expires_s == 1709210096ull && e[1].max_amount_per_hour == 9);
    char when[AUTH_TIME_STR];
    auth_time_format(e[1].expires_s, when);
    CHECK_EQ_STR(when, "2024-02-29T12:34:56Z");
    CHECK(!auth_expired(&e[0], 1798761599ull));
    /* from=: the networks, matched by prefix and family, and formatted back. */
    t = "a transfer " H_A " from=10.0.0.0/8,192.0.2.7,2001:db8::/32,::/0\n";
    CHECK_EQ_INT(auth_parse(t, strlen(t), e + 1, 1, &line, &why), 1);
    const struct auth_entry *f = &e[1];
    CHECK_EQ_INT(f->n_nets, 4);
    char nets[AUTH_NETS_STR];
    auth_nets_format(f, nets);
    CHECK_EQ_STR(nets, "10.0.0.0/8,192.0.2.7/32,2001:db8::/32,::/0");
    const uint8_t in10[4] = {10, 200, 3, 4}, out11[4] = {11, 0, 0, 1}, host[4] = {192, 0, 2, 7},
                  next[4] = {192, 0, 2, 8};
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff};
    CHECK(auth_from_ok(f, 4, in10) && !auth_from_ok(f, 4, out11));
    CHECK(auth_from_ok(f, 4, host) && !auth_from_ok(f, 4, next));
    CHECK(auth_from_ok(f, 6, v6));    /* in 2001:db8::/32, and ::/0 takes any IPv6 */
    CHECK(!auth_from_ok(f, 0, in10)); /* an unknown address is never in a list */
    e[1].n_nets = 1;                  /* 10.0.0.0/8 alone: no IPv6 */
    CHECK(!auth_from_ok(f, 6, v6));
    e[1].n_nets = 0; /* no list: any address */
    CHECK(auth_from_ok(f, 0, out11));
    CHECK(auth_expired(&e[0], 1798761600ull));
    e[0].expires_s = 0;
    CHECK(!auth_expired(&e[0], UINT64_MAX));
    /* More entries than room: NF_ETOOMANY naming the line. */
    t = "a read " H_A "\nb read " H_B "\n";
    CHECK_EQ_INT(auth_parse(t, strlen(t), e, 1, &line, &why), NF_ETOOMANY);
    CHECK_EQ_INT(line, 2);
    CHECK(auth_count_lines(t, strlen(t)) >= 2);
}

/* auth_find_line: the line whose first field is the name, at line boundaries; the text without
 * it parses to the other entries. */
static void test_find_line(void)
{
    static const char t[] = "# ops comment\n"
                            "ops transfer " H_A "\n"
                            "\n"
                            "  reader\tread " H_B; /* indented, tab, no final LF */
    size_t len = sizeof(t) - 1, s = 99, e = 99;
    size_t ops_at = strlen("# ops comment\n"), ops_end = ops_at + strlen("ops transfer " H_A "\n");
    CHECK_EQ_INT(auth_find_line(t, len, "ops", &s, &e), 0);
    CHECK_EQ_INT(s, ops_at);
    CHECK_EQ_INT(e, ops_end);
    CHECK_EQ_INT(auth_find_line(t, len, "reader", &s, &e), 0);
    CHECK_EQ_INT(s, ops_end + 1);
    CHECK_EQ_INT(e, len);
    s = e = 99;
    const char *absent[] = {"op", "opsx", "", "transfer", "comment", "read", H_B, "reader\tread x"};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        CHECK_EQ_INT(auth_find_line(t, len, absent[i], &s, &e), NF_ENOTFOUND);
    CHECK(s == 99 && e == 99); /* untouched when not found */
    CHECK_EQ_INT(auth_find_line("", 0, "ops", &s, &e), NF_ENOTFOUND);
    CHECK_EQ_INT(auth_find_line("ops", 3, "ops", &s, &e), NF_ENOTFOUND); /* no field after it */
    CHECK_EQ_INT(auth_find_line("ops\n", 4, "ops", &s, &e), NF_ENOTFOUND);
    CHECK_EQ_INT(auth_find_line("ops transfer", 3, "ops", &s, &e), NF_ENOTFOUND); /* len bounds */
    CHECK_EQ_INT(auth_find_line("ops\t", 4, "ops", &s, &e), 0);
    CHECK(s == 0 && e == 4);
    /* Names auth_name_ok refuses are not checked: they can match what is not an entry. */
    CHECK_EQ_INT(auth_find_line(t, len, "#", &s, &e), 0);
    CHECK(s == 0 && e == ops_at);
    CHECK_EQ_INT(auth_find_line(t, len, "ops transfer", &s, &e), 0);
    CHECK(s == ops_at && e == ops_end);

    /* The line alone is the entry; the rest is the other entries. */
    struct auth_entry one[2], rest[2];
    int line = 0;
    const char *why = NULL;
    CHECK_EQ_INT(auth_find_line(t, len, "ops", &s, &e), 0);
    CHECK_EQ_INT(auth_parse(t + s, e - s, one, 2, &line, &why), 1);
    CHECK_EQ_STR(one[0].name, "ops");
    char cut[sizeof(t)];
    memcpy(cut, t, s);
    memcpy(cut + s, t + e, len - e);
    CHECK_EQ_INT(auth_parse(cut, len - (e - s), rest, 2, &line, &why), 1);
    CHECK_EQ_STR(rest[0].name, "reader");
    CHECK_EQ_INT(rest[0].scopes, AUTH_SCOPE_READ);
}

static void test_scopes_names(void)
{
    unsigned s = 0;
    const char *why = NULL;
    CHECK_EQ_INT(auth_scopes_parse("metrics,transfer", 16, &s, &why), 0);
    CHECK_EQ_INT(s, AUTH_SCOPE_METRICS | AUTH_SCOPE_TRANSFER);
    CHECK_EQ_INT(auth_scopes_parse("", 0, &s, &why), NF_EINVAL);
    CHECK_EQ_INT(auth_scopes_parse("read,", 5, &s, &why), NF_EINVAL);
    CHECK_EQ_INT(auth_scopes_parse("Read", 4, &s, &why), NF_EINVAL);
    char b[AUTH_SCOPES_STR];
    auth_scopes_format(AUTH_SCOPES_ALL, b, sizeof(b));
    CHECK_EQ_STR(b, "transfer,read,metrics");
    auth_scopes_format(AUTH_SCOPE_METRICS, b, sizeof(b));
    CHECK_EQ_STR(b, "metrics");
    CHECK(auth_name_ok("a", 1));
    CHECK(!auth_name_ok("", 0));
    char longname[66];
    memset(longname, 'x', sizeof(longname));
    CHECK(auth_name_ok(longname, 64));
    CHECK(!auth_name_ok(longname, 65));
    CHECK(!auth_name_ok("a/b", 3));
}

static void test_token_lookup(void)
{
    char a[AUTH_TOKEN_LEN + 1], b[AUTH_TOKEN_LEN + 1];
    CHECK_EQ_INT(auth_token_new(a, sizeof(a)), 0);
    CHECK_EQ_INT(auth_token_new(b, sizeof(b)), 0);
    CHECK_EQ_INT(auth_token_new(b, AUTH_TOKEN_LEN), NF_ENOSPC);
    CHECK_EQ_INT((int)strlen(a), AUTH_TOKEN_LEN);
    CHECK(strncmp(a, "nft_", 4) == 0);
    CHECK(strcmp(a, b) != 0);
    for (size_t i = 4; i < AUTH_TOKEN_LEN; i++)
        CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
    /* The hash is BLAKE2b-256 (known answer for "abc", RFC 7693 parameters, 32-byte output). */
    uint8_t h[32];
    auth_token_hash("abc", 3, h);
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), h, 32);
    CHECK_EQ_STR(hex, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");

    struct auth_table *t = malloc(sizeof(*t) + 3 * sizeof(struct auth_entry));
    t->n = 3;
    memset(t->e, 0, 3 * sizeof(struct auth_entry));
    snprintf(t->e[0].name, sizeof(t->e[0].name), "x");
    t->e[0].scopes = AUTH_SCOPE_READ;
    snprintf(t->e[1].name, sizeof(t->e[1].name), "a");
    t->e[1].scopes = AUTH_SCOPE_TRANSFER;
    auth_token_hash(a, strlen(a), t->e[1].hash);
    snprintf(t->e[2].name, sizeof(t->e[2].name), "b");
    t->e[2].scopes = AUTH_SCOPE_METRICS | AUTH_SCOPE_READ;
    auth_token_hash(b, strlen(b), t->e[2].hash);
    int idx = 9;
    CHECK_EQ_INT(auth_lookup(t, a, strlen(a), &idx), AUTH_SCOPE_TRANSFER);
    CHECK_EQ_INT(idx, 1);
    CHECK_EQ_INT(auth_lookup(t, b, strlen(b), &idx), AUTH_SCOPE_METRICS | AUTH_SCOPE_READ);
    CHECK_EQ_INT(idx, 2);
    CHECK_EQ_INT(auth_lookup(t, a, strlen(a) - 1, &idx), 0);
    CHECK_EQ_INT(idx, -1);
    CHECK_EQ_INT(auth_lookup(t, "", 0, NULL), 0);
    CHECK_EQ_INT(auth_lookup(NULL, a, strlen(a), &idx), 0);
    free(t);
}

/* refusal: the error auth_table_load gives for path (its message in err[0..cap)), or 0 when it
 * loads (the table is freed again). */
static int refusal(const char *path, char *err, size_t cap)
{
    int rc = 0;
    struct auth_table *t = auth_table_load(path, err, cap, &rc);
    auth_table_free(t);
    return t != NULL ? 0 : rc;
}

/* loads: the token file at path loads (and is freed again). */
static int loads(const char *path)
{
    char err[1024];
    return refusal(path, err, sizeof(err)) == 0;
}

static void test_files(void)
{
    char dir[] = "/tmp/nf-test-auth.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], err[512];
    snprintf(path, sizeof(path), "%s/tokens", dir);
    int rc = 0;
    CHECK_EQ_INT(refusal(path, err, sizeof(err)), NF_ENOTFOUND);

    char tok[AUTH_TOKEN_LEN + 1];
    uint8_t h[32];
    auth_token_new(tok, sizeof(tok));
    auth_token_hash(tok, strlen(tok), h);
    CHECK_EQ_INT(auth_file_add(path, "ops", AUTH_SCOPE_TRANSFER, h, 0, NULL, err, sizeof(err)), 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_EQ_INT(auth_file_add(path, "ops", AUTH_SCOPE_READ, h, 0, NULL, err, sizeof(err)),
                 NF_ESTATE);
    CHECK_EQ_INT(auth_file_add(path, "other", AUTH_SCOPE_READ, h, 0, NULL, err, sizeof(err)),
                 NF_ESTATE);
    char tok2[AUTH_TOKEN_LEN + 1];
    uint8_t h2[32];
    auth_token_new(tok2, sizeof(tok2));
    auth_token_hash(tok2, strlen(tok2), h2);
    CHECK_EQ_INT(auth_file_add(path, "reader", AUTH_SCOPE_READ, h2, 0, NULL, err, sizeof(err)), 0);

    struct auth_table *t = auth_table_load(path, err, sizeof(err), &rc);
    CHECK(t != NULL);
    if (t != NULL) {
        CHECK_EQ_INT(t->n, 2);
        CHECK_EQ_INT(auth_lookup(t, tok, strlen(tok), NULL), AUTH_SCOPE_TRANSFER);
        CHECK_EQ_INT(auth_lookup(t, tok2, strlen(tok2), NULL), AUTH_SCOPE_READ);
        auth_table_free(t);
    }
    /* A name that is not a NAME is refused before the file is read: "#" would cut a comment,
     * "reader x" the entry of "reader". */
    CHECK_EQ_INT(auth_file_remove(path, "#", err, sizeof(err)), NF_EINVAL);
    CHECK(strstr(err, "NAME must be") != NULL);
    CHECK_EQ_INT(auth_file_remove(path, "reader x", err, sizeof(err)), NF_EINVAL);
    CHECK_EQ_INT(auth_file_remove(path, "", err, sizeof(err)), NF_EINVAL);
    CHECK_EQ_INT(auth_file_remove(path, "ops", err, sizeof(err)), 0);
    CHECK_EQ_INT(auth_file_remove(path, "ops", err, sizeof(err)), NF_ENOTFOUND);
    t = auth_table_load(path, err, sizeof(err), &rc);
    CHECK(t != NULL && t->n == 1 && strcmp(t->e[0].name, "reader") == 0);
    CHECK(t != NULL && auth_lookup(t, tok, strlen(tok), NULL) == 0);
    auth_table_free(t);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    /* An expiry is written as the expires= option and read back. */
    uint8_t h3[32];
    auth_token_hash("nft_third", 9, h3);
    CHECK_EQ_INT(auth_file_add(path, "temp", AUTH_SCOPE_READ, h3, 1798761600ull, "10.0.0.0/8", err,
                               sizeof(err)),
                 0);
    t = auth_table_load(path, err, sizeof(err), &rc);
    CHECK(t != NULL && t->n == 2 && strcmp(t->e[1].name, "temp") == 0 &&
          t->e[1].expires_s == 1798761600ull && t->e[0].expires_s == 0 && t->e[1].n_nets == 1 &&
          t->e[1].nets[0].prefix == 8 && t->e[0].n_nets == 0);
    auth_table_free(t);
    CHECK_EQ_INT(auth_file_remove(path, "temp", err, sizeof(err)), 0);

    /* Group/other access is refused by every function. */
    chmod(path, 0640);
    CHECK_EQ_INT(refusal(path, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, "chmod 600") != NULL);
    CHECK_EQ_INT(auth_file_add(path, "x", AUTH_SCOPE_READ, h, 0, NULL, err, sizeof(err)), NF_EPERM);
    CHECK_EQ_INT(auth_file_remove(path, "reader", err, sizeof(err)), NF_EPERM);
    chmod(path, 0600);

    /* A malformed file names its line. */
    FILE *f = fopen(path, "a");
    fputs("broken line\n", f);
    fclose(f);
    CHECK_EQ_INT(refusal(path, err, sizeof(err)), NF_EINVAL);
    CHECK(strstr(err, "line 5:") != NULL); /* after the 3 header lines and "reader" */
    nf_test_rmdir(dir);
}

/* The token file passes the same checks as a key file (nf_secfile.h): not a symbolic link, owned
 * by this user, in a directory group and others cannot write. Each refusal names the file and
 * the reason, in every function. */
static void test_file_owner_link_dir(void)
{
    char dir[] = "/tmp/nf-test-authperm.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], link_path[256], err[1024];
    snprintf(path, sizeof(path), "%s/tokens", dir);
    snprintf(link_path, sizeof(link_path), "%s/tokens.link", dir);
    uint8_t h[32];
    char tok[AUTH_TOKEN_LEN + 1];
    auth_token_new(tok, sizeof(tok));
    auth_token_hash(tok, strlen(tok), h);
    CHECK_EQ_INT(auth_file_add(path, "ops", AUTH_SCOPE_TRANSFER, h, 0, NULL, err, sizeof(err)), 0);
    CHECK(loads(path));

    /* A symbolic link to a good token file. */
    CHECK_EQ_INT(symlink(path, link_path), 0);
    CHECK_EQ_INT(refusal(link_path, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, "symbolic link") != NULL && strstr(err, link_path) != NULL);
    CHECK_EQ_INT(auth_file_add(link_path, "x", AUTH_SCOPE_READ, h, 0, NULL, err, sizeof(err)),
                 NF_EPERM);
    CHECK_EQ_INT(auth_file_remove(link_path, "ops", err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, "symbolic link") != NULL);
    unlink(link_path);

    /* Its directory writable by others or by the group. */
    CHECK_EQ_INT(chmod(dir, 0777), 0);
    CHECK_EQ_INT(refusal(path, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, "writable by group or others") != NULL && strstr(err, dir) != NULL &&
          strstr(err, path) != NULL);
    CHECK_EQ_INT(auth_file_remove(path, "ops", err, sizeof(err)), NF_EPERM);
    char fresh[300];
    snprintf(fresh, sizeof(fresh), "%s/new-tokens", dir);
    CHECK_EQ_INT(auth_file_add(fresh, "x", AUTH_SCOPE_READ, h, 0, NULL, err, sizeof(err)),
                 NF_EPERM);
    CHECK(access(fresh, F_OK) != 0); /* refused before anything is created */
    CHECK_EQ_INT(chmod(dir, 0770), 0);
    CHECK_EQ_INT(refusal(path, err, sizeof(err)), NF_EPERM);
    CHECK_EQ_INT(chmod(dir, 0700), 0);
    CHECK(loads(path));

    /* Owned by another user: only root can make such a file. */
    if (geteuid() == 0) {
        CHECK_EQ_INT(chown(path, 65534, (gid_t)-1), 0);
        CHECK_EQ_INT(refusal(path, err, sizeof(err)), NF_EPERM);
        CHECK(strstr(err, "owned by uid 65534") != NULL && strstr(err, path) != NULL);
        CHECK_EQ_INT(auth_file_add(path, "x", AUTH_SCOPE_READ, h, 0, NULL, err, sizeof(err)),
                     NF_EPERM);
        CHECK_EQ_INT(chown(path, 0, (gid_t)-1), 0);
    } else {
        printf("SKIP: the token-file owner case needs root (it chowns a file to uid 65534)\n");
    }
    nf_test_rmdir(dir);
}

/* Every directory above the token file, along its path and its realpath, is owned by root or this
 * user and writable by nobody else unless sticky (nf_secfile_open): whoever can write a
 * directory above a secret can replace the path to it. */
static void test_file_dirs_above(void)
{
    char base[] = "/tmp/nf-test-above.XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    char open_dir[256], inner[300], path[400], link_dir[256], via_link[400], err[1024];
    snprintf(open_dir, sizeof(open_dir), "%s/open", base);
    snprintf(inner, sizeof(inner), "%s/inner", open_dir);
    snprintf(path, sizeof(path), "%s/tokens", inner);
    snprintf(link_dir, sizeof(link_dir), "%s/link", base);
    snprintf(via_link, sizeof(via_link), "%s/tokens", link_dir);
    CHECK_EQ_INT(mkdir(open_dir, 0700), 0);
    CHECK_EQ_INT(mkdir(inner, 0700), 0);
    CHECK_EQ_INT(symlink(inner, link_dir), 0);
    uint8_t h[32];
    char tok[AUTH_TOKEN_LEN + 1];
    auth_token_new(tok, sizeof(tok));
    auth_token_hash(tok, strlen(tok), h);
    CHECK_EQ_INT(auth_file_add(path, "ops", AUTH_SCOPE_TRANSFER, h, 0, NULL, err, sizeof(err)), 0);
    CHECK(loads(path));
    CHECK(loads(via_link)); /* a symlinked directory is followed */

    /* A directory two levels up writable by others: refused along the path and the realpath. */
    CHECK_EQ_INT(chmod(open_dir, 0777), 0);
    CHECK_EQ_INT(refusal(path, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, "directory") != NULL && strstr(err, open_dir) != NULL &&
          strstr(err, "above it is writable by group or others") != NULL);
    CHECK_EQ_INT(refusal(via_link, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, open_dir) != NULL && strstr(err, via_link) != NULL);
    /* Sticky (like /tmp): others cannot rename or remove what is ours there. */
    CHECK_EQ_INT(chmod(open_dir, 01777), 0);
    CHECK(loads(path));
    CHECK_EQ_INT(chmod(open_dir, 0755), 0);
    CHECK(loads(via_link));

    /* A directory above owned by another user (only root can make one). */
    if (geteuid() == 0) {
        CHECK_EQ_INT(chown(open_dir, 65534, (gid_t)-1), 0);
        CHECK_EQ_INT(refusal(path, err, sizeof(err)), NF_EPERM);
        CHECK(strstr(err, "owned by uid 65534") != NULL && strstr(err, open_dir) != NULL);
        CHECK_EQ_INT(chown(open_dir, 0, (gid_t)-1), 0);
    }
    unlink(path);
    unlink(link_dir);
    rmdir(inner);
    rmdir(open_dir);
    rmdir(base);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_parse_table();
    test_find_line();
    test_scopes_names();
    test_token_lookup();
    test_files();
    test_file_owner_link_dir();
    test_file_dirs_above();
    return nf_test_report("test_auth");
}
