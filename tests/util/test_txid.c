/* test_txid: public transfer ids. Formatting and parsing agree both ways over the whole range;
 * every malformed id is refused with its reason code; a tag is never 0, differs between two keys
 * for the same sequence number, and repeats under one key; the constant-time comparison agrees
 * with ==. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "nf_err.h"
#include "nf_test.h"
#include "txid.h"

static void test_format_parse(void)
{
    char b[TXID_MAX];
    CHECK_EQ_INT((int)txid_format(b, 1842, 0x3fa9c01b22d47e10ull), 21);
    CHECK_EQ_STR(b, "1842-3fa9c01b22d47e10");
    CHECK_EQ_INT((int)txid_format(b, 7, 0), 1); /* a transfer from before tags: plain decimal */
    CHECK_EQ_STR(b, "7");
    CHECK_EQ_INT((int)txid_format(b, UINT64_MAX, 1), TXID_MAX - 1);
    CHECK_EQ_STR(b, "18446744073709551615-0000000000000001");
    const uint64_t ids[] = {1, 9, 10, 123456789, UINT64_MAX - 1, UINT64_MAX};
    const uint64_t tags[] = {0, 1, 0xf, 0x8000000000000000ull, UINT64_MAX};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        for (size_t k = 0; k < sizeof(tags) / sizeof(tags[0]); k++) {
            uint64_t id = 0, tag = 99;
            txid_format(b, ids[i], tags[k]);
            CHECK_EQ_INT(txid_parse(b, &id, &tag), 0);
            CHECK(id == ids[i] && tag == tags[k]);
        }
    }
    uint64_t id = 0, tag = 0;
    CHECK_EQ_INT(txid_parse("0042", &id, &tag), 0); /* leading zeros of the number, as before */
    CHECK(id == 42 && tag == 0);
}

static void test_refusals(void)
{
    const char *einval[] = {
        "",                      /* empty */
        "-0123456789abcdef",     /* no number */
        "12-",                   /* no tag */
        "12-0123456789abcde",    /* 15 hex digits */
        "12-0123456789abcdef0",  /* 17 */
        "12-0123456789ABCDEF",   /* upper case: not what nearftd hands out */
        "12-0000000000000000",   /* a tag of 0 is no tag */
        "12-0123456789abcdeg",   /* not hex */
        "12 ",                   /* trailing byte */
        "+12",                   /* sign */
        "12-0123456789abcdef-1", /* two tags */
        "1.5",                   /* not an integer */
    };
    for (size_t i = 0; i < sizeof(einval) / sizeof(einval[0]); i++) {
        uint64_t id = 5, tag = 6;
        CHECK_EQ_INT(txid_parse(einval[i], &id, &tag), NF_EINVAL);
        CHECK(id == 5 && tag == 6); /* outputs untouched */
    }
    uint64_t id = 0, tag = 0;
    CHECK_EQ_INT(txid_parse("18446744073709551616", &id, &tag), NF_ERANGE);
    CHECK_EQ_INT(txid_parse("18446744073709551616-0000000000000001", &id, &tag), NF_ERANGE);
}

static void test_tags(void)
{
    unsigned char *k1 = txid_key_new(), *k2 = txid_key_new();
    CHECK(k1 != NULL && k2 != NULL);
    if (k1 == NULL || k2 == NULL)
        return;
    int same_across_keys = 0;
    for (uint64_t id = 1; id <= 1000; id++) {
        uint64_t t = txid_tag(k1, id);
        CHECK(t != 0);
        CHECK(t == txid_tag(k1, id)); /* recomputable in the process that drew it */
        same_across_keys += t == txid_tag(k2, id);
        CHECK(txid_same(t, t));
        CHECK(!txid_same(t, t ^ 1));
        CHECK(!txid_same(t, t ^ (1ull << 63)));
    }
    CHECK_EQ_INT(same_across_keys, 0); /* another start, other tags */
    /* Neighbouring ids share no visible structure: no two of the first 1000 tags are equal. */
    uint64_t seen[1000];
    int dup = 0;
    for (uint64_t id = 1; id <= 1000; id++) {
        seen[id - 1] = txid_tag(k1, id);
        for (uint64_t j = 0; j + 1 < id; j++)
            dup += seen[j] == seen[id - 1];
    }
    CHECK_EQ_INT(dup, 0);
    txid_key_free(k1);
    txid_key_free(k2);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_format_parse();
    test_refusals();
    test_tags();
    return nf_test_report("test_txid");
}
