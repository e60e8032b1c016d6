/* fuzz_cfg_file: nearftd's config-file parser (src/nearftd/cfg.c: load_file through cfg_load
 * --config) on any bytes, written to a 0600 file in a private directory. Properties: no crash or
 * over-read; cfg_load returns 0 or NF_ECONFIG, and NF_ECONFIG always with a message; a file that
 * loads prints (--print-config) and frees without error. The settings that are required anyway
 * come from the command line after the file, so a file that only sets others still loads. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "nf_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[96];

/* remove_dir: at exit, the file and the private directory (the replay test leaves nothing). */
static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (dir[0] == '\0') {
        snprintf(dir, sizeof(dir), "/tmp/fuzz_cfg_file.XXXXXX");
        if (mkdtemp(dir) == NULL || (devnull = fopen("/dev/null", "w")) == NULL)
            abort();
        snprintf(path, sizeof(path), "%s/nearftd.conf", dir);
        atexit(remove_dir);
    }
    FILE *f = fopen(path, "w");
    if (f == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, f) != size)
        abort();
    if (fclose(f) != 0 || chmod(path, 0600) != 0)
        abort();
    char a0[] = "nearftd", a1[] = "--config", a2[] = "--signer", a3[] = "payer.near",
         a4[] = "--contract", a5[] = "ft.near", a6[] = "--credentials", a7[] = "/nonexistent",
         a8[] = "--rpc-url", a9[] = "http://127.0.0.1:1";
    char *argv[] = {a0, a1, path, a2, a3, a4, a5, a6, a7, a8, a9, NULL};
    char *envp[] = {NULL};
    char err[1024] = "";
    struct cfg c;
    int rc = cfg_load(&c, 11, argv, envp, err, sizeof(err));
    unlink(path); /* nothing is left behind should a later check abort */
    if (rc != 0 && (rc != NF_ECONFIG || err[0] == '\0'))
        abort();
    /* A refusal of the file itself (its directory, owner or mode) would mean the parser was never
     * reached: the private 0600 file must always be opened. */
    if (rc != 0 && strncmp(err, "--config: ", 10) == 0)
        abort();
    if (rc == 0)
        cfg_print(&c, devnull);
    cfg_free(&c);
    return 0;
}
