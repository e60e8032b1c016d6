/* cli_cmd: the helpers every nearft subcommand uses (see cli_cmd.h). The CLI's only thread; no
 * state. */
#include "cli_cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int cli_is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

int cli_opt_match(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
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
