/* fuzz_cfg_env: nearftd's environment and flag layers (src/nearftd/cfg.c: env_get, the flag loop
 * of cfg_load with its --no- prefix, set_value under both) on any bytes, with a config file
 * below them. The settings' names come from the table itself at run time (cfg_print_help), so
 * the fuzzer reaches every setting's value parser. The input is split at NUL bytes into items;
 * an item's first byte says what it becomes (any other byte picks one by its value mod 8):
 *   'e' IX VALUE  environment entry NEARFT_<setting IX>=VALUE
 *   'E' TEXT      environment entry TEXT as it is ("NAME=VALUE" or anything)
 *   'f' IX VALUE  argument --<setting IX>=VALUE
 *   'g' IX VALUE  arguments --<setting IX> VALUE
 *   'b' IX        argument --<setting IX> (a boolean's true; a missing value for the others)
 *   'n' IX [V]    argument --no-<setting IX>, or --no-<setting IX>=V when V is given
 *   'a' TEXT      argument TEXT as it is
 *   'c' TEXT      a line of the config file
 * IX is one byte (never NUL, which ends the item): the setting is IX mod the number of settings,
 * spelt with '-' (or '_' when IX / count is odd). The required settings come last in the
 * environment (env_get takes the first entry of a name, so the input's own entries win). Every
 * config path named (NEARFT_CONFIG, --config) becomes one private 0600 file of the 'c' lines.
 * Properties: no crash, over-read or leak; cfg_load returns 0 or NF_ECONFIG with a message, never
 * a refusal of the private file; a config that loads prints (--print-config) and frees; loading
 * the same input again gives the same code, message and printed config; a flag beats the
 * environment (an extra environment entry, for each setting a flag set, naming another valid
 * value changes nothing printed) and the environment beats the file (the same with an extra file
 * line for each setting the environment set); the rpc_header values of the environment are never
 * shown (masking them changes neither the message nor the printed config). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "nf_args.h"
#include "nf_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SETTINGS 160
#define MAX_ENV      64
#define MAX_ARGS     96
#define BASE_ENV     4 /* the required settings, after the input's own entries */

/* One setting of the table, as --help prints it. */
struct setting {
    char key[64];  /* batch_max_actions */
    char flag[64]; /* batch-max-actions */
    char env[80];  /* NEARFT_BATCH_MAX_ACTIONS */
    int is_bool;
    char *baseline; /* its value with the required settings only (config-file text), or NULL */
};

static struct setting settings[MAX_SETTINGS];
static size_t nsettings;
static char dir[64], path[96], env_config[128];
static char *base_env[BASE_ENV] = {"NEARFT_SIGNER=payer.near", "NEARFT_CONTRACT=ft.near",
                                   "NEARFT_CREDENTIALS=/nonexistent",
                                   "NEARFT_RPC_URL=http://127.0.0.1:1"};

/* remove_dir: at exit, the file and the private directory (the replay test leaves nothing). */
static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

/* find_setting: the index of the setting whose key is name[0..len) with '-' read as '_' (as
 * cfg.c's find_flag does), or -1. */
static int find_setting(const char *name, size_t len)
{
    char key[64];
    if (len >= sizeof(key))
        return -1;
    for (size_t i = 0; i < len; i++)
        key[i] = name[i] == '-' ? '_' : name[i];
    key[len] = '\0';
    for (size_t i = 0; i < nsettings; i++)
        if (strcmp(settings[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* print_cfg: cfg_print into a malloc'd string (the caller frees it). */
static char *print_cfg(const struct cfg *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        abort();
    cfg_print(c, f);
    if (fclose(f) != 0)
        abort();
    return buf;
}

/* read_settings: the table's rows from --help: "  --flag ARG" then "      env NEARFT_X, ...".
 * Each flag's environment name must be NEARFT_ and its key in capitals. "config" is left out: the
 * harness points every config path at its own file. */
static void read_settings(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        abort();
    cfg_print_help(f);
    if (fclose(f) != 0)
        abort();
    struct setting *cur = NULL;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "  --", 4) == 0) {
            size_t n = strcspn(line + 4, " ");
            cur = NULL;
            if (n == 0 || n >= sizeof(cur->flag) || nsettings == MAX_SETTINGS)
                continue;
            cur = &settings[nsettings];
            memset(cur, 0, sizeof(*cur));
            memcpy(cur->flag, line + 4, n);
            for (size_t i = 0; i < n; i++)
                cur->key[i] = cur->flag[i] == '-' ? '_' : cur->flag[i];
        } else if (cur != NULL && strncmp(line, "      env ", 10) == 0) {
            size_t n = strcspn(line + 10, ",");
            if (n >= sizeof(cur->env))
                abort();
            memcpy(cur->env, line + 10, n);
            cur->env[n] = '\0';
            cur->is_bool = strstr(line, ", true|false") != NULL;
            char want[80];
            int w = snprintf(want, sizeof(want), "NEARFT_");
            for (const char *p = cur->key; *p && (size_t)w + 1 < sizeof(want); p++)
                want[w++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
            want[w] = '\0';
            if (strcmp(want, cur->env) != 0)
                abort(); /* the flag and the environment name must be the same words */
            if (strcmp(cur->key, "config") != 0)
                nsettings++;
            cur = NULL;
        }
    }
    free(buf);
    if (nsettings < 40) /* the table has ~80 rows: --help changed shape */
        abort();
}

/* read_baseline: each setting's value with the required settings only, from cfg_print's
 * `key = value` lines (a list's lines joined by ','). Those values all load. */
static void read_baseline(void)
{
    char a0[] = "nearftd";
    char *argv[] = {a0, NULL};
    char *envp[BASE_ENV + 1];
    memcpy(envp, base_env, sizeof(base_env));
    envp[BASE_ENV] = NULL;
    char err[1024];
    struct cfg c;
    if (cfg_load(&c, 1, argv, envp, err, sizeof(err)) != 0)
        abort();
    char *text = print_cfg(&c);
    cfg_free(&c);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strstr(line, " = ");
        if (line[0] == '#' || eq == NULL)
            continue;
        int si = find_setting(line, (size_t)(eq - line));
        const char *v = eq + 3;
        if (si < 0 || v[0] == '"') /* quoted: not needed for the defaults */
            continue;
        struct setting *s = &settings[si];
        size_t old = s->baseline ? strlen(s->baseline) : 0;
        char *nb = realloc(s->baseline, old + strlen(v) + 2);
        if (nb == NULL)
            abort();
        if (old > 0)
            nb[old++] = ',';
        strcpy(nb + old, v);
        s->baseline = nb;
    }
    free(text);
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/fuzz_cfg_env.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(path, sizeof(path), "%s/nearftd.conf", dir);
    snprintf(env_config, sizeof(env_config), "NEARFT_CONFIG=%s", path);
    atexit(remove_dir);
    read_settings();
    read_baseline();
}

/* The input as the arrays cfg_load takes; every string is malloc'd and owned here. */
struct input {
    char *env[MAX_ENV + BASE_ENV + 2];
    size_t nenv;
    char *argv[MAX_ARGS + 2];
    int argc;
    char *file; /* the 'c' lines */
    size_t file_len;
    int uses_file; /* some entry names the config path */
};

static char *join(const char *a, const char *b, size_t blen)
{
    size_t alen = strlen(a);
    char *s = malloc(alen + blen + 1);
    if (s == NULL)
        abort();
    memcpy(s, a, alen);
    memcpy(s + alen, b, blen);
    s[alen + blen] = '\0';
    return s;
}

static void add_env(struct input *in, char *s)
{
    if (in->nenv < MAX_ENV)
        in->env[in->nenv++] = s;
    else
        free(s);
}

static void add_arg(struct input *in, char *s)
{
    if (in->argc < MAX_ARGS)
        in->argv[in->argc++] = s;
    else
        free(s);
}

/* split_input: data as the items described at the top. */
static void split_input(struct input *in, const char *buf, size_t size)
{
    static const char ops[] = "eEfgbnac";
    char a0[] = "nearftd";
    in->argv[in->argc++] = join(a0, "", 0);
    for (size_t at = 0; at < size;) {
        const char *item = buf + at;
        size_t len = strlen(item);
        at += len + 1;
        if (len == 0)
            continue;
        char op = strchr(ops, item[0]) != NULL ? item[0] : ops[(unsigned char)item[0] % 8];
        const char *rest = item + 1;
        size_t rlen = len - 1;
        const struct setting *s = NULL;
        char name[80];
        if (strchr("efgbn", op) != NULL) {
            if (rlen == 0)
                continue;
            unsigned ix = (unsigned char)rest[0];
            s = &settings[ix % nsettings];
            snprintf(name, sizeof(name), "%s", s->flag);
            if ((ix / nsettings) % 2 == 1)
                for (char *p = name; *p; p++)
                    *p = *p == '-' ? '_' : *p;
            rest++;
            rlen--;
        }
        char pre[96];
        switch (op) {
        case 'e':
            snprintf(pre, sizeof(pre), "%s=", s->env);
            add_env(in, join(pre, rest, rlen));
            break;
        case 'E':
            add_env(in, join("", rest, rlen));
            break;
        case 'f':
            snprintf(pre, sizeof(pre), "--%s=", name);
            add_arg(in, join(pre, rest, rlen));
            break;
        case 'g':
            snprintf(pre, sizeof(pre), "--%s", name);
            add_arg(in, join(pre, "", 0));
            add_arg(in, join("", rest, rlen));
            break;
        case 'b':
            snprintf(pre, sizeof(pre), "--%s", name);
            add_arg(in, join(pre, "", 0));
            break;
        case 'n':
            snprintf(pre, sizeof(pre), rlen > 0 ? "--no-%s=" : "--no-%s", name);
            add_arg(in, join(pre, rest, rlen));
            break;
        case 'a':
            add_arg(in, join("", rest, rlen));
            break;
        case 'c': {
            char *nf = realloc(in->file, in->file_len + rlen + 1);
            if (nf == NULL)
                abort();
            memcpy(nf + in->file_len, rest, rlen);
            nf[in->file_len + rlen] = '\n';
            in->file = nf;
            in->file_len += rlen + 1;
            break;
        }
        }
    }
    /* Every config path is the private file: cfg_load would open whatever path it is given. */
    for (size_t i = 0; i < in->nenv; i++) {
        if (strncmp(in->env[i], "NEARFT_CONFIG=", 14) == 0) {
            free(in->env[i]);
            in->env[i] = join(env_config, "", 0);
            in->uses_file = 1;
        }
    }
    for (int i = 1; i < in->argc; i++) {
        struct nf_arg a;
        if (nf_arg_split(in->argv[i], &a) == 0 && nf_arg_is(&a, "config")) {
            free(in->argv[i]);
            in->argv[i] = join("--config=", path, strlen(path));
            in->uses_file = 1;
        }
    }
    if (in->file_len > 0 && !in->uses_file) {
        in->env[in->nenv++] = join(env_config, "", 0);
        in->uses_file = 1;
    }
    for (size_t i = 0; i < BASE_ENV; i++)
        in->env[in->nenv++] = join(base_env[i], "", 0);
    in->env[in->nenv] = NULL;
    in->argv[in->argc] = NULL;
}

static void free_input(struct input *in)
{
    for (size_t i = 0; i < in->nenv; i++)
        free(in->env[i]);
    for (int i = 0; i < in->argc; i++)
        free(in->argv[i]);
    free(in->file);
}

static void write_file(const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        abort();
    if (len > 0 && fwrite(text, 1, len, f) != len)
        abort();
    if (fclose(f) != 0 || chmod(path, 0600) != 0)
        abort();
}

/* The outcome of one cfg_load: its code, its message and the printed config (or NULL). */
struct result {
    int rc;
    int show_help;
    char err[1024];
    char *printed;
};

static void load(struct input *in, char **envp, struct result *r)
{
    struct cfg c;
    r->err[0] = '\0';
    r->rc = cfg_load(&c, in->argc, in->argv, envp, r->err, sizeof(r->err));
    r->show_help = c.show_help;
    r->printed = r->rc == 0 ? print_cfg(&c) : NULL;
    cfg_free(&c);
}

/* flag_set: which settings the flag loop of cfg_load applied (its scan, without the values). */
static void flag_set(const struct input *in, unsigned char set[MAX_SETTINGS])
{
    memset(set, 0, MAX_SETTINGS);
    for (int i = 1; i < in->argc; i++) {
        struct nf_arg a;
        if (strcmp(in->argv[i], "--print-config") == 0 || nf_arg_split(in->argv[i], &a) != 0)
            continue;
        int si = find_setting(a.name, a.nlen);
        if (si < 0 && a.nlen > 3 && strncmp(a.name, "no-", 3) == 0 && a.value == NULL) {
            si = find_setting(a.name + 3, a.nlen - 3);
            if (si >= 0 && !settings[si].is_bool)
                si = -1;
            else if (si >= 0) {
                set[si] = 1;
                continue;
            }
        }
        if (si < 0) {
            if (nf_arg_is(&a, "config") && a.value == NULL)
                i++;
            continue;
        }
        if (a.value == NULL && !settings[si].is_bool)
            i++;
        set[si] = 1;
    }
}

/* env_set: which settings the environment layer applied (env_get takes a name's first entry). */
static void env_set(const struct input *in, unsigned char set[MAX_SETTINGS])
{
    memset(set, 0, MAX_SETTINGS);
    for (size_t i = 0; i < in->nenv; i++) {
        for (size_t k = 0; k < nsettings; k++) {
            size_t n = strlen(settings[k].env);
            if (strncmp(in->env[i], settings[k].env, n) == 0 && in->env[i][n] == '=')
                set[k] = 1;
        }
    }
}

/* check_precedence: with extra lower-layer values for every setting a higher layer set, the
 * printed config of a load that succeeded must not change. */
static void check_precedence(struct input *in, const struct result *r)
{
    unsigned char set[MAX_SETTINGS];
    struct result again;

    /* Flags beat the environment: put another valid value first in the environment. */
    flag_set(in, set);
    char *envp[MAX_SETTINGS + MAX_ENV + BASE_ENV + 2];
    size_t n = 0;
    for (size_t k = 0; k < nsettings; k++)
        if (set[k] && settings[k].baseline != NULL)
            envp[n++] = join(settings[k].env, "=", 1);
    size_t extra = n;
    for (size_t k = 0, j = 0; k < nsettings; k++) {
        if (set[k] && settings[k].baseline != NULL) {
            char *e = join(envp[j], settings[k].baseline, strlen(settings[k].baseline));
            free(envp[j]);
            envp[j++] = e;
        }
    }
    for (size_t i = 0; i <= in->nenv; i++)
        envp[n++] = in->env[i];
    if (extra > 0) {
        load(in, envp, &again);
        if (again.rc != 0 || strcmp(again.printed, r->printed) != 0)
            abort();
        free(again.printed);
    }
    for (size_t j = 0; j < extra; j++)
        free(envp[j]);

    /* The environment beats the file: append a line with another valid value for each setting
     * the environment set (the file is read only when some entry names it). */
    if (!in->uses_file)
        return;
    env_set(in, set);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        abort();
    if (in->file_len > 0)
        fwrite(in->file, 1, in->file_len, f);
    int lines = 0;
    for (size_t k = 0; k < nsettings; k++) {
        if (set[k] && settings[k].baseline != NULL) {
            fprintf(f, "%s = %s\n", settings[k].key, settings[k].baseline);
            lines++;
        }
    }
    if (fclose(f) != 0)
        abort();
    if (lines > 0) {
        write_file(text, len);
        load(in, in->env, &again);
        if (again.rc != 0 || strcmp(again.printed, r->printed) != 0)
            abort();
        free(again.printed);
    }
    free(text);
}

/* mask_header_values: a copy of an rpc_header list with every value byte (after an item's
 * first '=' and the first ':' after it; ',' and spaces aside) made 'x'. cfg.c splits and checks
 * the list the same way whatever the values are. */
static char *mask_header_values(const char *entry)
{
    char *m = join("", entry, strlen(entry));
    char *item = strchr(m, '=') + 1; /* past NEARFT_RPC_HEADER= */
    for (;;) {
        size_t ilen = strcspn(item, ",");
        char *eq = memchr(item, '=', ilen);
        char *colon = eq ? memchr(eq + 1, ':', ilen - (size_t)(eq + 1 - item)) : NULL;
        for (char *p = colon ? colon + 1 : item + ilen; p < item + ilen; p++)
            if (*p != ' ' && (*p < '\t' || *p > '\r'))
                *p = 'x';
        item += ilen;
        if (*item == '\0')
            return m;
        item++;
    }
}

/* check_secrets: the rpc_header values given in the environment are secret: loading again with
 * each of them masked must give the same code, message and printed config (the values reach
 * neither). Arguments are not masked: one may be taken as another flag's value, which is shown. */
static void check_secrets(struct input *in, const struct result *r)
{
    char *envp[MAX_ENV + BASE_ENV + 2];
    int masked = 0;
    for (size_t i = 0; i <= in->nenv; i++) {
        envp[i] = in->env[i];
        if (envp[i] != NULL && strncmp(envp[i], "NEARFT_RPC_HEADER=", 18) == 0) {
            envp[i] = mask_header_values(envp[i]);
            masked = 1;
        }
    }
    if (masked) {
        struct result again;
        load(in, envp, &again);
        if (again.rc != r->rc || strcmp(again.err, r->err) != 0 ||
            (r->printed != NULL && strcmp(again.printed, r->printed) != 0))
            abort();
        free(again.printed);
    }
    for (size_t i = 0; i < in->nenv; i++)
        if (envp[i] != in->env[i])
            free(envp[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[0] == '\0')
        setup();
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    struct input in;
    memset(&in, 0, sizeof(in));
    split_input(&in, buf, size);
    free(buf);
    write_file(in.file, in.file_len);

    struct result r, again;
    load(&in, in.env, &r);
    if (r.rc != 0 && (r.rc != NF_ECONFIG || r.err[0] == '\0'))
        abort();
    /* A refusal of the file itself (its directory, owner or mode) would mean the file parser was
     * never reached: the private 0600 file must always be opened. */
    if (r.rc != 0 && strncmp(r.err, "--config: ", 10) == 0)
        abort();
    load(&in, in.env, &again);
    if (again.rc != r.rc || strcmp(again.err, r.err) != 0 ||
        (r.printed != NULL && strcmp(again.printed, r.printed) != 0))
        abort();
    free(again.printed);
    check_secrets(&in, &r);
    if (r.rc == 0 && !r.show_help)
        check_precedence(&in, &r);
    free(r.printed);
    unlink(path);
    free_input(&in);
    return 0;
}
