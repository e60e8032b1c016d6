/* cli_cmd: the helpers every nearft subcommand uses (see cli_cmd.h). The CLI's only thread; no
 * state. */
#include "cli_cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nf_args.h"

/* vdie: one "nearft: ..." line on stderr; returns code. */
__attribute__((format(printf, 2, 0))) static int vdie(int code, const char *fmt, va_list ap)
{
    fputs("nearft: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return code;
}

int cli_die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vdie(CLI_EXIT_USAGE, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_die_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vdie(CLI_EXIT_FAIL, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_opt_match(int argc, char **argv, int *i, const char *name, const char **value)
{
    struct nf_arg a;
    if (nf_arg_split(argv[*i], &a) != 0 || !nf_arg_is(&a, name + 2))
        return 0;
    return nf_arg_value(&a, argc, argv, i, value) == 0 ? 1 : -1;
}

int cli_print_json(struct jw *w)
{
    size_t len = 0;
    char *text = jw_take(w, &len);
    if (text == NULL)
        return cli_die_fail("cannot format the output JSON");
    fwrite(text, 1, len, stdout);
    fputc('\n', stdout);
    free(text);
    if (fflush(stdout) != 0)
        return cli_die_fail("cannot write to stdout");
    return 0;
}
