/* test_jw: the JSON writer: commas and nesting, exact 64/128-bit integers, JSON.stringify
 * escaping, fixed buffers that fit exactly or overflow (sticky NF_ENOSPC), growable mode. */
#include <stdlib.h>
#include <string.h>

#include "jw.h"
#include "nf_err.h"
#include "nf_test.h"

static void test_shapes(void)
{
    struct jw w;
    jw_init_growable(&w);
    jw_obj_begin(&w);
    jw_key(&w, "a");
    jw_u64(&w, 18446744073709551615ull);
    jw_key(&w, "b");
    jw_arr_begin(&w);
    jw_i64(&w, -9223372036854775807ll - 1);
    jw_bool(&w, 1);
    jw_null(&w);
    jw_obj_begin(&w);
    jw_obj_end(&w);
    jw_arr_end(&w);
    jw_key(&w, "c");
    jw_u128_str(&w, U128_MAX);
    jw_key(&w, "d");
    jw_raw(&w, "[1,2]", 5);
    jw_obj_end(&w);
    size_t len;
    char *s = jw_take(&w, &len);
    CHECK_EQ_STR(s, "{\"a\":18446744073709551615,\"b\":[-9223372036854775808,true,null,{}],"
                    "\"c\":\"340282366920938463463374607431768211455\",\"d\":[1,2]}");
    CHECK_EQ_INT(len, strlen(s ? s : ""));
    free(s);
}

static void test_escaping(void)
{
    struct jw w;
    char buf[128];
    jw_init_fixed(&w, buf, sizeof(buf));
    jw_str(&w, "q\"b\\n\n\x01\x7f\xe2\x80\xa8\xf0\x9f\x98\x80");
    size_t len;
    CHECK_EQ_INT(jw_finish(&w, &len), 0);
    /* JSON.stringify: quote, backslash, \n, \u0001 escaped; DEL, U+2028 and emoji raw */
    CHECK_EQ_STR(buf, "\"q\\\"b\\\\n\\n\\u0001\x7f\xe2\x80\xa8\xf0\x9f\x98\x80\"");
    jw_init_fixed(&w, buf, sizeof(buf));
    jw_str(&w, "\xc3\x28"); /* invalid UTF-8 */
    CHECK_EQ_INT(jw_finish(&w, &len), NF_EUTF8);
}

static void test_fixed_bounds(void)
{
    /* "\"abcdefghij\"" is 12 bytes + NUL: a 13-byte buffer fits exactly, 12 does not. */
    char buf[13];
    struct jw w;
    jw_init_fixed(&w, buf, sizeof(buf));
    jw_str(&w, "abcdefghij");
    size_t len = 0;
    CHECK_EQ_INT(jw_finish(&w, &len), 0);
    CHECK_EQ_INT(len, 12);
    CHECK_EQ_STR(buf, "\"abcdefghij\"");
    jw_init_fixed(&w, buf, 12);
    jw_str(&w, "abcdefghij");
    CHECK_EQ_INT(jw_finish(&w, &len), NF_ENOSPC);
    /* sticky: later writes do not clear the error */
    jw_init_fixed(&w, buf, 4);
    jw_u64(&w, 123456);
    jw_null(&w);
    CHECK_EQ_INT(jw_finish(&w, &len), NF_ENOSPC);
    /* escaping that needs more room than the raw text still reports NF_ENOSPC, never overflows */
    char small[16];
    jw_init_fixed(&w, small, sizeof(small));
    jw_str(&w, "\x01\x02\x03");
    CHECK_EQ_INT(jw_finish(&w, &len), NF_ENOSPC);
    char fits[21];
    jw_init_fixed(&w, fits, sizeof(fits));
    jw_str(&w, "\x01\x02\x03"); /* "\u0001\u0002\u0003" = 20 bytes + NUL */
    CHECK_EQ_INT(jw_finish(&w, &len), 0);
    CHECK_EQ_STR(fits, "\"\\u0001\\u0002\\u0003\"");
}

static void test_growable_large(void)
{
    struct jw w;
    jw_init_growable(&w);
    jw_arr_begin(&w);
    for (int i = 0; i < 10000; i++)
        jw_str(&w, "\"\"");
    jw_arr_end(&w);
    size_t len;
    char *s = jw_take(&w, &len);
    CHECK(s != NULL);
    /* each element is "\"\"" (6 bytes) plus a comma, minus the last comma, plus the brackets */
    CHECK_EQ_INT(len, 10000 * 7 - 1 + 2);
    free(s);
    uint8_t bin[3] = {0xfb, 0xff, 0x00};
    jw_init_growable(&w);
    jw_arr_begin(&w);
    jw_base64(&w, bin, 3);
    jw_base58(&w, bin, 3);
    jw_arr_end(&w);
    s = jw_take(&w, &len);
    CHECK_EQ_STR(s, "[\"+/8A\",\"2TeHD\"]"); /* base58 by an independent Python divmod */
    free(s);
}

int main(void)
{
    test_shapes();
    test_escaping();
    test_fixed_bounds();
    test_growable_large();
    return nf_test_report("test_jw");
}
