/* fuzz_auth_file: the bearer-token file parser (src/util/auth.c: auth_parse, auth_scopes_parse,
 * auth_name_ok) and the lookup. Properties: no crash or over-read; every entry it returns has a
 * valid name, at least one known scope and a unique name and hash; an error names a line that
 * exists in the input; the scope list formats back to text that parses to the same bits; an
 * expiry formats back to a time that parses to the same second (and the time parser alone on the
 * raw input gives only such times); a from= list formats back to text that parses to the same
 * networks; a table of the parsed entries finds each entry's own hash
 * only through its token. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "nf_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CAP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct auth_table *t = malloc(sizeof(*t) + FUZZ_CAP * sizeof(struct auth_entry));
    if (t == NULL)
        return 0;
    int line = 0;
    const char *why = NULL;
    int n = auth_parse(text, size, t->e, FUZZ_CAP, &line, &why);
    if (n < 0) {
        if (why == NULL || line < 1 || (size_t)line > auth_count_lines(text, size))
            abort();
        if (n != NF_EINVAL && n != NF_ETOOMANY)
            abort();
    } else {
        if ((size_t)n > auth_count_lines(text, size) || n > FUZZ_CAP)
            abort();
        for (int i = 0; i < n; i++) {
            const struct auth_entry *e = &t->e[i];
            if (!auth_name_ok(e->name, strlen(e->name)))
                abort();
            if (e->scopes == 0 || (e->scopes & ~(unsigned)AUTH_SCOPES_ALL) != 0)
                abort();
            char sc[AUTH_SCOPES_STR];
            unsigned back = 0;
            auth_scopes_format(e->scopes, sc, sizeof(sc));
            if (auth_scopes_parse(sc, strlen(sc), &back, &why) != 0 || back != e->scopes)
                abort();
            if (e->expires_s != 0) {
                char when[AUTH_TIME_STR];
                uint64_t again = 0;
                auth_time_format(e->expires_s, when);
                if (auth_time_parse(when, strlen(when), &again) != 0 || again != e->expires_s)
                    abort();
            }
            if (e->n_nets != 0) {
                char nets[AUTH_NETS_STR];
                struct auth_net back_nets[AUTH_NETS_MAX];
                uint8_t back_n = 0;
                auth_nets_format(e, nets);
                if (auth_nets_parse(nets, strlen(nets), back_nets, &back_n, &why) != 0 ||
                    back_n != e->n_nets ||
                    memcmp(back_nets, e->nets, back_n * sizeof(back_nets[0])))
                    abort();
            }
            for (int k = 0; k < i; k++)
                if (strcmp(t->e[k].name, e->name) == 0 ||
                    memcmp(t->e[k].hash, e->hash, AUTH_HASH_BYTES) == 0)
                    abort();
        }
        t->n = (size_t)n;
        /* The input itself, taken as a token, matches only if its hash is in the table. */
        int idx = 0;
        unsigned s = auth_lookup(t, text, size, &idx);
        if ((idx < 0) != (s == 0))
            abort();
        if (idx >= 0 && t->e[idx].scopes != s)
            abort();
    }
    /* The time parser alone on the raw input: what it takes formats back to the same text. */
    uint64_t secs = 0;
    if (auth_time_parse(text, size, &secs) == 0) {
        char when[AUTH_TIME_STR];
        auth_time_format(secs, when);
        if (size != AUTH_TIME_STR - 1 || memcmp(when, text, size) != 0)
            abort();
    }
    /* The scope parser alone on the raw input. */
    unsigned bits = 0;
    if (auth_scopes_parse(text, size, &bits, &why) == 0 &&
        (bits == 0 || (bits & ~(unsigned)AUTH_SCOPES_ALL) != 0))
        abort();
    free(t);
    return 0;
}
