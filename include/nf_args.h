/* nf_args: the one scanner of "--name value" and "--name=value" command lines, shared by nearftd
 * (cfg.c), nearsim (sim_cfg.c) and the nearft tool (cli). Each program keeps its own table of
 * names and value types; this splits an argument into its name and inline value and takes a
 * separate value from the next argument. Pure, any thread; every pointer it returns borrows argv.
 */
#ifndef NF_ARGS_H
#define NF_ARGS_H

#include <stddef.h>

/* One flag argument: name[0..nlen) after the "--", and the text after its first '=' (NULL when the
 * argument has none). */
struct nf_arg {
    const char *name;
    size_t nlen;
    const char *value;
};

/* nf_arg_split: fills *out from "--name" or "--name=value". NF_EINVAL for anything else ("-x",
 * "--", "--=v", a positional argument); *out is then untouched. */
int nf_arg_split(const char *arg, struct nf_arg *out);

/* nf_arg_is: 1 when a names exactly the flag name (given without "--"). */
int nf_arg_is(const struct nf_arg *a, const char *name);

/* nf_arg_value: the value of the flag a, split from argv[*i]: its inline value, or else argv[*i +
 * 1], and *i then moves past it. NF_EINVAL when it has neither (the last argument). */
int nf_arg_value(const struct nf_arg *a, int argc, char **argv, int *i, const char **value);

/* nf_arg_is_help: 1 for "--help" and "-h". */
int nf_arg_is_help(const char *arg);

#endif
