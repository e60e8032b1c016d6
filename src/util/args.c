/* args: the command-line flag scanner (see include/nf_args.h). Pure, any thread; owns nothing
 * (every pointer it returns borrows argv). */
#include "nf_args.h"

#include <string.h>

#include "nf_err.h"

int nf_arg_split(const char *arg, struct nf_arg *out)
{
    if (arg == NULL || strncmp(arg, "--", 2) != 0)
        return NF_EINVAL;
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
    if (nlen == 0)
        return NF_EINVAL;
    out->name = name;
    out->nlen = nlen;
    out->value = eq != NULL ? eq + 1 : NULL;
    return 0;
}

int nf_arg_is(const struct nf_arg *a, const char *name)
{
    return strlen(name) == a->nlen && memcmp(a->name, name, a->nlen) == 0;
}

int nf_arg_value(const struct nf_arg *a, int argc, char **argv, int *i, const char **value)
{
    if (a->value != NULL) {
        *value = a->value;
        return 0;
    }
    if (*i + 1 >= argc)
        return NF_EINVAL;
    *value = argv[++*i];
    return 0;
}

int nf_arg_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}
