/* test_jtok: table tests for the strict JSON tokenizer: RFC 8259 accept/reject cases (many from
 * the JSONTestSuite naming, y_/n_), token layout and sibling skipping, escapes and surrogates,
 * u64/u128/double helpers, token-array exhaustion and a throughput figure. Single-threaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jtok.h"
#include "nf_err.h"
#include "nf_test.h"

static struct jtok toks[256];

static int parse(const char *s)
{
    return jtok_parse(s, strlen(s), toks, 256, NULL);
}

static const char *accept[] = {
    "{}",
    "[]",
    " \t\r\n{ } ",
    "0",
    "-0",
    "-0.0e+0",
    "1E5",
    "123.456e-7",
    "\"\"",
    "true",
    "false",
    "null",
    "[1,2,3]",
    "{\"a\":{\"b\":[null,true,false,\"x\"]}}",
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\"",
    "\"\\ud83d\\ude00\"",                       /* surrogate pair */
    "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", /* é € 😀 raw */
    "\"\x7f\"",                                 /* DEL is allowed */
    "[\"abcdefghijklmnopqrstuvwxyz0123456789\"]",
    "18446744073709551616",
    "{\"a\":1,\"a\":2}", /* duplicates are syntax-valid */
};

static const char *reject[] = {
    "",
    " ",
    "[1,]",
    "{\"a\":1,}",
    "[,1]",
    "[1 2]",
    "{\"a\" 1}",
    "{a:1}",
    "{'a':1}",
    "01",
    "-01",
    "1.",
    ".5",
    "1e",
    "1e+",
    "+1",
    "-",
    "NaN",
    "Infinity",
    "tru",
    "nul",
    "True",
    "\"abc",
    "\"\\x41\"",
    "\"\\u12\"",
    "\"\\u12G4\"",
    "\"\\ud800\"",        /* lone high */
    "\"\\udc00\"",        /* lone low */
    "\"\\ud800\\u0041\"", /* high + non-low */
    "\"a\tb\"",           /* raw tab */
    "\"a\nb\"",
    "\"\x01\"",
    "\"\xc0\xaf\"",         /* overlong */
    "\"\xe0\x80\xaf\"",     /* overlong 3-byte */
    "\"\xed\xa0\x80\"",     /* UTF-8 surrogate */
    "\"\xf4\x90\x80\x80\"", /* > U+10FFFF */
    "\"\xf8\x88\x80\x80\x80\"",
    "\"\x80\"",
    "\"\xc3\"",
    "\"\xe2\x82\"",
    "{} {}",
    "[] x",
    "[",
    "{",
    "{\"a\":",
    "[1,",
    "]",
    "}",
    "{\"a\":1]",
    "[1}",
    "{\"a\"}",
    "{,}",
    "[\"a\",\"b\",]",
    "1 2",
    "\xef\xbb\xbf{}", /* BOM is not JSON text */
};

static void test_accept_reject(void)
{
    for (size_t i = 0; i < sizeof(accept) / sizeof(accept[0]); i++) {
        int n = parse(accept[i]);
        if (n < 1)
            fprintf(stderr, "should accept: %s (rc %d)\n", accept[i], n);
        CHECK(n >= 1);
    }
    for (size_t i = 0; i < sizeof(reject) / sizeof(reject[0]); i++) {
        struct jtok_error e = {0, NULL};
        int n = jtok_parse(reject[i], strlen(reject[i]), toks, 256, &e);
        if (n != NF_EINVAL)
            fprintf(stderr, "should reject: %s (rc %d)\n", reject[i], n);
        CHECK_EQ_INT(n, NF_EINVAL);
        CHECK(e.reason != NULL);
        CHECK(e.offset <= strlen(reject[i]));
    }
    /* An embedded NUL inside a string is a control character; outside, trailing garbage. */
    CHECK_EQ_INT(jtok_parse("\"a\0b\"", 5, toks, 256, NULL), NF_EINVAL);
    CHECK_EQ_INT(jtok_parse("{}\0", 3, toks, 256, NULL), NF_EINVAL);
    /* The length bounds the parse: the same bytes truncated are incomplete. */
    CHECK_EQ_INT(jtok_parse("[1,2]", 4, toks, 256, NULL), NF_EINVAL);
    CHECK_EQ_INT(jtok_parse("true", 3, toks, 256, NULL), NF_EINVAL);
}

static void test_error_positions(void)
{
    struct jtok_error e;
    CHECK_EQ_INT(jtok_parse("{\"a\":1,}", 8, toks, 256, &e), NF_EINVAL);
    CHECK_EQ_INT(e.offset, 7);
    CHECK_EQ_STR(e.reason, "expected a string member name");
    CHECK_EQ_INT(jtok_parse("[01]", 4, toks, 256, &e), NF_EINVAL);
    CHECK_EQ_INT(e.offset, 1);
    CHECK_EQ_STR(e.reason, "leading zero in number");
    CHECK_EQ_INT(jtok_parse("{\"a\" 1}", 7, toks, 256, &e), NF_EINVAL);
    CHECK_EQ_STR(e.reason, "expected ':'");
    CHECK_EQ_INT(e.offset, 5);
}

static void test_depth(void)
{
    char buf[300];
    for (int d = JTOK_MAX_DEPTH - 1; d <= JTOK_MAX_DEPTH + 1; d++) {
        memset(buf, '[', (size_t)d);
        memset(buf + d, ']', (size_t)d);
        int n = jtok_parse(buf, (size_t)(2 * d), toks, 256, NULL);
        if (d <= JTOK_MAX_DEPTH)
            CHECK_EQ_INT(n, d);
        else
            CHECK_EQ_INT(n, NF_EINVAL);
    }
}

static void test_layout(void)
{
    const char *j = "{\"a\":[1,{\"x\":2},3],\"b\":\"hi\",\"c\":{}}";
    int n = parse(j);
    /* obj, a, [, 1, {, x, 2, 3, b, "hi", c, {} */
    CHECK_EQ_INT(n, 12);
    CHECK_EQ_INT(toks[0].type, JTOK_OBJECT);
    CHECK_EQ_INT(toks[0].size, 3);
    CHECK_EQ_INT(toks[0].next, 12);
    CHECK_EQ_INT(toks[0].start, 0);
    CHECK_EQ_INT(toks[0].end, strlen(j));
    CHECK(toks[1].flags & JTOK_F_KEY);
    CHECK_EQ_INT(toks[2].type, JTOK_ARRAY);
    CHECK_EQ_INT(toks[2].size, 3);
    CHECK_EQ_INT(toks[2].next, 8);
    CHECK_EQ_INT(toks[4].type, JTOK_OBJECT);
    CHECK_EQ_INT(toks[4].next, 7);
    int b = jtok_obj_get(j, toks, 0, "b");
    CHECK_EQ_INT(b, 9);
    CHECK_EQ_INT(toks[b].type, JTOK_STRING);
    CHECK(jtok_str_eqz(j, &toks[b], "hi"));
    CHECK_EQ_INT(toks[b].end - toks[b].start, 2);
    int c = jtok_obj_get(j, toks, 0, "c");
    CHECK_EQ_INT(toks[c].type, JTOK_OBJECT);
    CHECK_EQ_INT(toks[c].size, 0);
    CHECK_EQ_INT(jtok_obj_get(j, toks, 0, "x"), NF_ENOTFOUND); /* not a top-level member */
    CHECK_EQ_INT(jtok_obj_get(j, toks, 2, "x"), NF_ENOTFOUND); /* an array */
    /* array walk */
    int a = jtok_obj_get(j, toks, 0, "a");
    int e = a + 1;
    uint64_t sum = 0, v;
    for (uint32_t i = 0; i < toks[a].size; i++, e = (int)toks[e].next)
        if (jtok_u64(j, &toks[e], &v) == 0)
            sum += v;
    CHECK_EQ_INT(sum, 4);
    /* first duplicate wins */
    const char *d = "{\"k\":1,\"k\":2}";
    CHECK_EQ_INT(parse(d), 5);
    CHECK(jtok_u64(d, &toks[jtok_obj_get(d, toks, 0, "k")], &v) == 0 && v == 1);
}

static void test_strings(void)
{
    char out[64];
    size_t len;
    const char *j = "[\"a\\u00e9\\ud83d\\ude00\\n\\/\",\"plain\",\"\\u0000x\",\"r\\u00E9\"]";
    CHECK_EQ_INT(parse(j), 5);
    CHECK(toks[1].flags & JTOK_F_ESCAPED);
    CHECK(!(toks[2].flags & JTOK_F_ESCAPED));
    CHECK_EQ_INT(jtok_str_unescape(j, &toks[1], out, sizeof(out), &len), 0);
    CHECK_EQ_INT(len, 1 + 2 + 4 + 1 + 1);
    CHECK(memcmp(out, "a\xc3\xa9\xf0\x9f\x98\x80\n/", len) == 0);
    CHECK_EQ_INT(out[len], 0);
    CHECK(jtok_str_eq(j, &toks[1], "a\xc3\xa9\xf0\x9f\x98\x80\n/", 9));
    CHECK(!jtok_str_eq(j, &toks[1], "a\xc3\xa9\xf0\x9f\x98\x80\n", 8));
    CHECK(!jtok_str_eq(j, &toks[1], "a\xc3\xa9\xf0\x9f\x98\x80\n/x", 10));
    CHECK(jtok_str_eqz(j, &toks[2], "plain"));
    CHECK(!jtok_str_eqz(j, &toks[2], "plai"));
    CHECK(!jtok_str_eqz(j, &toks[0], "plain")); /* not a string */
    CHECK_EQ_INT(jtok_str_unescape(j, &toks[3], out, sizeof(out), &len), 0);
    CHECK_EQ_INT(len, 2);
    CHECK(out[0] == 0 && out[1] == 'x');
    CHECK(jtok_str_eqz(j, &toks[4], "r\xc3\xa9"));
    /* Exact capacity: "plain" needs 6 bytes with the NUL. */
    CHECK_EQ_INT(jtok_str_unescape(j, &toks[2], out, 6, &len), 0);
    CHECK_EQ_INT(jtok_str_unescape(j, &toks[2], out, 5, &len), NF_ENOSPC);
    CHECK_EQ_INT(jtok_str_unescape(j, &toks[1], out, 9, &len), NF_ENOSPC);
    CHECK_EQ_INT(jtok_str_unescape(j, &toks[1], out, 10, &len), 0);
    CHECK_EQ_INT(jtok_str_unescape(j, &toks[0], out, 10, &len), NF_EINVAL);
    /* Escaped member names are matched by jtok_obj_get. */
    const char *k = "{\"rec\\u0065iver_id\":\"bob.near\"}";
    CHECK_EQ_INT(parse(k), 3);
    CHECK_EQ_INT(jtok_obj_get(k, toks, 0, "receiver_id"), 2);
    /* A hand-made token over a lone surrogate reports NF_EUTF8. */
    const char *lone = "\\ud800";
    struct jtok t = {JTOK_STRING, JTOK_F_ESCAPED, 0, 6, 0, 1};
    CHECK_EQ_INT(jtok_str_unescape(lone, &t, out, sizeof(out), &len), NF_EUTF8);
    CHECK(!jtok_str_eqz(lone, &t, "x"));
}

static void test_copy_trunc(void)
{
    /* "a" + é (2 bytes, escaped) + € (3 bytes, raw) + "z" */
    const char *j = "\"a\\u00e9\xe2\x82\xacz\"";
    char out[16];
    size_t len;
    CHECK_EQ_INT(parse(j), 1);
    CHECK_EQ_INT(jtok_str_copy_trunc(j, &toks[0], out, sizeof(out), &len), 0);
    CHECK_EQ_INT(len, 7);
    CHECK_EQ_STR(out, "a\xc3\xa9\xe2\x82\xacz");
    size_t expect[] = {0, 0, 1, 1, 3, 3, 3, 6, 7};
    for (size_t cap = 1; cap <= 8; cap++) {
        int rc = jtok_str_copy_trunc(j, &toks[0], out, cap, &len);
        CHECK_EQ_INT(rc, cap < 8 ? 1 : 0);
        CHECK_EQ_INT(len, expect[cap]);
        CHECK_EQ_INT(strlen(out), expect[cap]);
    }
    CHECK_EQ_INT(jtok_str_copy_trunc(j, &toks[0], out, 0, &len), NF_EINVAL);
}

static void test_numbers(void)
{
    const char *j = "[0,18446744073709551615,18446744073709551616,-1,1.5,1e3,0.8421,\"7\",-0]";
    CHECK_EQ_INT(parse(j), 10);
    uint64_t v;
    CHECK_EQ_INT(jtok_u64(j, &toks[1], &v), 0);
    CHECK_EQ_INT(v, 0);
    CHECK_EQ_INT(jtok_u64(j, &toks[2], &v), 0);
    CHECK(v == UINT64_MAX);
    CHECK_EQ_INT(jtok_u64(j, &toks[3], &v), NF_ERANGE);
    CHECK_EQ_INT(jtok_u64(j, &toks[4], &v), NF_EINVAL);
    CHECK_EQ_INT(jtok_u64(j, &toks[5], &v), NF_EINVAL);
    CHECK_EQ_INT(jtok_u64(j, &toks[6], &v), NF_EINVAL);
    CHECK_EQ_INT(jtok_u64(j, &toks[8], &v), NF_EINVAL);
    CHECK_EQ_INT(jtok_u64(j, &toks[9], &v), NF_EINVAL);
    double d;
    CHECK_EQ_INT(jtok_double(j, &toks[7], &d), 0);
    CHECK(d > 0.8420 && d < 0.8422);
    CHECK_EQ_INT(jtok_double(j, &toks[8], &d), NF_EINVAL);
    CHECK(toks[4].flags & JTOK_F_NEG);
    const char *u =
        "[\"340282366920938463463374607431768211455\",\"340282366920938463463374607431768211456\","
        "\"12a\",\"\",5,\"1\\u0030\"]";
    CHECK_EQ_INT(parse(u), 7);
    nf_u128 x;
    CHECK_EQ_INT(jtok_u128_str(u, &toks[1], &x), 0);
    CHECK(x == U128_MAX);
    CHECK_EQ_INT(jtok_u128_str(u, &toks[2], &x), NF_ERANGE);
    CHECK_EQ_INT(jtok_u128_str(u, &toks[3], &x), NF_EINVAL);
    CHECK_EQ_INT(jtok_u128_str(u, &toks[4], &x), NF_EINVAL);
    CHECK_EQ_INT(jtok_u128_str(u, &toks[5], &x), NF_EINVAL);
    CHECK_EQ_INT(jtok_u128_str(u, &toks[6], &x), NF_EINVAL);
}

static void test_capacity(void)
{
    const char *j = "[1,2,3,4]";
    struct jtok_error e;
    CHECK_EQ_INT(jtok_parse(j, strlen(j), toks, 5, &e), 5);
    CHECK_EQ_INT(jtok_parse(j, strlen(j), toks, 4, &e), NF_ETOOMANY);
    CHECK_EQ_INT(e.offset, 7);
    CHECK_EQ_INT(jtok_parse(j, strlen(j), toks, 0, &e), NF_ETOOMANY);
    /* Exhaustion never writes past cap. */
    struct jtok guard[4];
    memset(guard, 0xAB, sizeof(guard));
    CHECK_EQ_INT(jtok_parse(j, strlen(j), guard, 2, NULL), NF_ETOOMANY);
    CHECK_EQ_INT(guard[2].type, 0xAB);
    CHECK_EQ_INT(guard[3].start, 0xABABABABu);
}

/* Exhaustive check of the 2-byte and 3-byte UTF-8 validator against a direct decoder. */
static void test_utf8_exhaustive(void)
{
    char j[8];
    int bad = 0;
    for (unsigned a = 0x80; a < 0x100; a++) {
        for (unsigned b = 0; b < 0x100; b++) {
            j[0] = '"';
            j[1] = (char)a;
            j[2] = (char)b;
            j[3] = '"';
            int n = jtok_parse(j, 4, toks, 4, NULL);
            int valid = a >= 0xC2 && a <= 0xDF && (b & 0xC0) == 0x80;
            if ((n == 1) != valid)
                bad++;
        }
    }
    for (unsigned a = 0xE0; a < 0xF0; a++) {
        for (unsigned b = 0x70; b < 0xD0; b++) {
            j[0] = '"';
            j[1] = (char)a;
            j[2] = (char)b;
            j[3] = (char)0x80;
            j[4] = '"';
            int n = jtok_parse(j, 5, toks, 4, NULL);
            unsigned cp = ((a & 0x0F) << 12) | ((b & 0x3F) << 6);
            int valid = (b & 0xC0) == 0x80 && cp >= 0x800 && !(cp >= 0xD800 && cp <= 0xDFFF);
            if ((n == 1) != valid)
                bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static void bench(void)
{
    /* A request-shaped body repeated: ~1 MB. Report MB/s (not an assertion). */
    const char *item = "{\"receiver_id\":\"receiver-account-000123.near\",\"amount\":"
                       "\"1000000000000000000\",\"memo\":\"invoice 2026-11-27 #123456\"},";
    size_t il = strlen(item), count = 8000;
    size_t cap = 16 + il * count;
    char *buf = malloc(cap);
    struct jtok *big = malloc(sizeof(*big) * (count * 7 + 8));
    if (buf == NULL || big == NULL) {
        free(buf);
        free(big);
        return;
    }
    size_t off = 0;
    memcpy(buf, "{\"transfers\":[", 14);
    off = 14;
    for (size_t i = 0; i < count; i++, off += il)
        memcpy(buf + off, item, il);
    buf[off - 1] = ']';
    buf[off++] = '}';
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int n = 0;
    int rounds = 50;
    for (int r = 0; r < rounds; r++)
        n = jtok_parse(buf, off, big, count * 7 + 8, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_EQ_INT(n, 3 + (int)count * 7);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("jtok_parse_throughput=%.0f MB/s\n", (double)off * rounds / s / 1e6);
    free(buf);
    free(big);
}

/* The string scanner jumps 8 bytes at a time to the first special byte: a control byte, an invalid
 * UTF-8 byte, an escape or a valid multi-byte character at every offset of a long string. */
static void test_string_offsets(void)
{
    struct jtok tk[4];
    for (size_t pos = 0; pos < 24; pos++) {
        char j[40];
        memset(j, 'a', sizeof(j));
        j[0] = '"';
        j[30] = '"';
        j[1 + pos] = 0x01;
        CHECK_EQ_INT(jtok_parse(j, 31, tk, 4, NULL), NF_EINVAL);
        j[1 + pos] = (char)0xff;
        CHECK_EQ_INT(jtok_parse(j, 31, tk, 4, NULL), NF_EINVAL);
        j[1 + pos] = '\\';
        j[2 + pos] = 'n';
        CHECK_EQ_INT(jtok_parse(j, 31, tk, 4, NULL), 1);
        CHECK(tk[0].flags & JTOK_F_ESCAPED);
        CHECK_EQ_INT(tk[0].end, 30);
        j[1 + pos] = (char)0xc3; /* e-acute */
        j[2 + pos] = (char)0xa9;
        CHECK_EQ_INT(jtok_parse(j, 31, tk, 4, NULL), 1);
        CHECK(!(tk[0].flags & JTOK_F_ESCAPED));
        j[1 + pos] = '"'; /* the string ends early: trailing bytes */
        CHECK_EQ_INT(jtok_parse(j, 31, tk, 4, NULL), NF_EINVAL);
        CHECK_EQ_INT(jtok_parse(j, 2 + pos, tk, 4, NULL), 1);
        CHECK_EQ_INT(tk[0].end, 1 + pos);
    }
}

int main(void)
{
    test_accept_reject();
    test_error_positions();
    test_depth();
    test_layout();
    test_strings();
    test_copy_trunc();
    test_numbers();
    test_capacity();
    test_utf8_exhaustive();
    test_string_offsets();
    bench();
    return nf_test_report("test_jtok");
}
