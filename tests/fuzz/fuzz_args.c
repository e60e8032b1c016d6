/* fuzz_args: command lines (arguments separated by newlines) through the shared flag scanner and
 * nearsim's flag table. nf_arg_split accepts exactly "--name[=value]" with a non-empty name and
 * what it splits formats back to the argument; nf_arg_value never steps past argc; sim_cfg_parse
 * returns 0, 1 (help) or a negative error with a message, without reading past any argument. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nf_args.h"
#include "sim/sim_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 16

static void check_split(const char *arg)
{
    struct nf_arg a;
    if (nf_arg_split(arg, &a) != 0) {
        if (strncmp(arg, "--", 2) == 0 && arg[2] != '\0' && arg[2] != '=')
            abort(); /* a well-formed flag was refused */
        return;
    }
    if (a.nlen == 0 || a.name != arg + 2 || memchr(a.name, '=', a.nlen) != NULL)
        abort();
    char back[4096];
    int n = a.value != NULL
                ? snprintf(back, sizeof(back), "--%.*s=%s", (int)a.nlen, a.name, a.value)
                : snprintf(back, sizeof(back), "--%.*s", (int)a.nlen, a.name);
    if (n < 0 || ((size_t)n < sizeof(back) && strcmp(back, arg) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
        abort();
    /* Each argument is its own allocation of exactly its length + 1, so ASan catches a read past
     * its end; argv[0] is the program name. */
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = strdup("nearsim");
    size_t start = 0;
    for (size_t i = 0; i <= size && argc < MAX_ARGS; i++) {
        if (i == size || data[i] == '\n') {
            size_t len = i - start;
            char *arg = malloc(len + 1);
            if (arg == NULL)
                abort();
            memcpy(arg, data + start, len);
            arg[len] = '\0';
            argv[argc++] = arg;
            start = i + 1;
        }
    }
    argv[argc] = NULL;
    for (int i = 1; i < argc; i++)
        check_split(argv[i]);
    for (int i = 1; i < argc; i++) {
        struct nf_arg a;
        const char *v;
        if (nf_arg_split(argv[i], &a) == 0 && nf_arg_value(&a, argc, argv, &i, &v) == 0 &&
            (i >= argc || v == NULL))
            abort();
    }
    static struct sim_cfg cfg;
    char err[256] = "";
    int rc = sim_cfg_parse(&cfg, argc, argv, devnull, err, sizeof(err));
    if (rc > 1 || (rc < 0 && err[0] == '\0'))
        abort();
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return 0;
}
