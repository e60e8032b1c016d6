/* test_args: the shared flag scanner. "--name" and "--name=value" split into name and inline
 * value (only the first '=' separates); "-x", "--", "--=v" and positional arguments are refused; a
 * value is the inline one or the next argument, and a flag that ends the line has none. The three
 * programs' parsers built on it are checked with both spellings in test_cfg (nearftd),
 * test_sim_rpc (nearsim) and test_nearft_cli.sh (nearft). */
#include <string.h>

#include "nf_args.h"
#include "nf_err.h"
#include "nf_test.h"

static void test_split(void)
{
    struct nf_arg a = {0};
    CHECK_EQ_INT(nf_arg_split("--listen", &a), 0);
    CHECK_EQ_INT((int)a.nlen, 6);
    CHECK(a.value == NULL);
    CHECK(nf_arg_is(&a, "listen"));
    CHECK(!nf_arg_is(&a, "liste"));
    CHECK(!nf_arg_is(&a, "listen-x"));
    CHECK_EQ_INT(nf_arg_split("--memo=a=b", &a), 0);
    CHECK(nf_arg_is(&a, "memo"));
    CHECK_EQ_STR(a.value, "a=b");
    CHECK_EQ_INT(nf_arg_split("--empty=", &a), 0);
    CHECK(nf_arg_is(&a, "empty"));
    CHECK_EQ_STR(a.value, "");
    const char *bad[] = {"-x", "--", "--=v", "listen", "", "-"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct nf_arg keep = {"kept", 4, NULL};
        CHECK_EQ_INT(nf_arg_split(bad[i], &keep), NF_EINVAL);
        CHECK(nf_arg_is(&keep, "kept")); /* untouched */
    }
    CHECK_EQ_INT(nf_arg_split(NULL, &a), NF_EINVAL);
}

static void test_value(void)
{
    char a0[] = "prog", a1[] = "--rpc-url", a2[] = "http://x", a3[] = "--seed=s", a4[] = "--last";
    char *argv[] = {a0, a1, a2, a3, a4};
    int argc = 5;
    struct nf_arg a;
    const char *v = NULL;
    int i = 1;
    CHECK_EQ_INT(nf_arg_split(argv[i], &a), 0);
    CHECK_EQ_INT(nf_arg_value(&a, argc, argv, &i, &v), 0);
    CHECK_EQ_STR(v, "http://x");
    CHECK_EQ_INT(i, 2); /* moved past the value */
    i = 3;
    CHECK_EQ_INT(nf_arg_split(argv[i], &a), 0);
    CHECK_EQ_INT(nf_arg_value(&a, argc, argv, &i, &v), 0);
    CHECK_EQ_STR(v, "s");
    CHECK_EQ_INT(i, 3); /* an inline value uses no argument */
    i = 4;
    v = NULL;
    CHECK_EQ_INT(nf_arg_split(argv[i], &a), 0);
    CHECK_EQ_INT(nf_arg_value(&a, argc, argv, &i, &v), NF_EINVAL);
    CHECK(v == NULL);
    CHECK_EQ_INT(i, 4);
}

static void test_help(void)
{
    CHECK(nf_arg_is_help("--help"));
    CHECK(nf_arg_is_help("-h"));
    CHECK(!nf_arg_is_help("--help=1"));
    CHECK(!nf_arg_is_help("-help"));
    CHECK(!nf_arg_is_help("--h"));
}

int main(void)
{
    test_split();
    test_value();
    test_help();
    return nf_test_report("test_args");
}
