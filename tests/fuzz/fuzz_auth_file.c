/* fuzz_auth_file: the bearer-token file parser (src/util/auth.c: auth_parse, auth_scopes_parse,
 * auth_name_ok) and the lookup. Properties: no crash or over-read; every entry it returns has a
 * valid name, at least one known scope and a unique name and hash; an error names a line that
 * exists in the input; the scope list formats back to text that parses to the same bits; an
 * expiry formats back to a time that parses to the same second (and the time parser alone on the
 * raw input gives only such times); a from= list formats back to text that parses to the same
 * networks; a table of the parsed entries finds each entry's own hash
 * only through its token. The line a removal cuts (auth_find_line): for every parsed name, one
 * whole line of the input (at line boundaries) that alone parses to exactly that entry, and
 * without which the input parses to the other entries in order; a valid name not in the file is
 * not found; on any input, a line found lies within the text and starts (after blanks) with the
 * name and a space or tab. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "nf_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CAP 64

static int entry_eq(const struct auth_entry *a, const struct auth_entry *b)
{
    return strcmp(a->name, b->name) == 0 && a->scopes == b->scopes &&
           a->max_amount_per_transfer == b->max_amount_per_transfer &&
           a->max_amount_per_hour == b->max_amount_per_hour &&
           a->max_amount_per_day == b->max_amount_per_day && a->expires_s == b->expires_s &&
           a->n_nets == b->n_nets &&
           memcmp(a->nets, b->nets, a->n_nets * sizeof(a->nets[0])) == 0 &&
           memcmp(a->hash, b->hash, AUTH_HASH_BYTES) == 0;
}

/* find_line_ok: auth_find_line's answer for name: NF_ENOTFOUND, or one whole line of text whose
 * first field (after blanks) is name followed by a space or tab. Aborts on anything else. */
static int find_line_ok(const char *text, size_t size, const char *name, size_t *s, size_t *e)
{
    size_t s0 = (size_t)-1, e0 = (size_t)-1;
    int rc = auth_find_line(text, size, name, &s0, &e0);
    if (rc == NF_ENOTFOUND) {
        if (s0 != (size_t)-1 || e0 != (size_t)-1)
            abort();
        return rc;
    }
    if (rc != 0 || s0 >= e0 || e0 > size)
        abort();
    if ((s0 > 0 && text[s0 - 1] != '\n') || (e0 < size && text[e0 - 1] != '\n'))
        abort();
    if (memchr(text + s0, '\n', e0 - s0 - 1) != NULL)
        abort(); /* one line: an LF only as its last byte */
    size_t f = s0, nl = strlen(name);
    while (f < e0 && (text[f] == ' ' || text[f] == '\t'))
        f++;
    if (e0 - f <= nl || memcmp(text + f, name, nl) != 0 ||
        (text[f + nl] != ' ' && text[f + nl] != '\t'))
        abort();
    *s = s0;
    *e = e0;
    return 0;
}

/* For each of the n entries the input parsed to: its line alone is that entry, and the input
 * without that line is the others, in order. A valid name that is not there is not found. */
static void check_find_lines(const char *text, size_t size, const struct auth_entry *ent, int n)
{
    struct auth_entry one[2];
    struct auth_entry *rest = malloc(FUZZ_CAP * sizeof(*rest));
    char *cut = malloc(size ? size : 1);
    if (rest == NULL || cut == NULL)
        goto out;
    for (int i = 0; i < n; i++) {
        size_t s = 0, e = 0;
        int line = 0;
        const char *why = NULL;
        if (find_line_ok(text, size, ent[i].name, &s, &e) != 0)
            abort();
        if (auth_parse(text + s, e - s, one, 2, &line, &why) != 1 || !entry_eq(&one[0], &ent[i]))
            abort();
        memcpy(cut, text, s);
        memcpy(cut + s, text + e, size - e);
        if (auth_parse(cut, size - (e - s), rest, FUZZ_CAP, &line, &why) != n - 1)
            abort();
        for (int k = 0; k < n - 1; k++)
            if (!entry_eq(&rest[k], &ent[k < i ? k : k + 1]))
                abort();
        /* A longer valid name: found only when it is an entry too. */
        char longer[AUTH_NAME_MAX + 2];
        size_t nl = strlen(ent[i].name);
        memcpy(longer, ent[i].name, nl);
        memcpy(longer + nl, "x", 2);
        int listed = 0;
        for (int k = 0; k < n; k++)
            listed |= strcmp(ent[k].name, longer) == 0;
        if (nl < AUTH_NAME_MAX && !listed && find_line_ok(text, size, longer, &s, &e) == 0)
            abort();
    }
    size_t s = 0, e = 0;
    if (find_line_ok(text, size, "", &s, &e) == 0)
        abort(); /* an empty first field is no field */
out:
    free(cut);
    free(rest);
}

/* On any input: the first field of the input (up to AUTH_NAME_MAX bytes) as a name. */
static void check_find_raw(const char *text, size_t size)
{
    char name[AUTH_NAME_MAX + 1];
    size_t i = 0, nl = 0;
    while (i < size && (text[i] == ' ' || text[i] == '\t'))
        i++;
    while (i < size && nl < AUTH_NAME_MAX && text[i] != ' ' && text[i] != '\t' && text[i] != '\n' &&
           text[i] != '\0')
        name[nl++] = text[i++];
    name[nl] = '\0';
    size_t s = 0, e = 0;
    if (find_line_ok(text, size, name, &s, &e) == 0 && nl > 0 && i < size &&
        (text[i] == ' ' || text[i] == '\t') && s != 0)
        abort(); /* the first line already starts with name and a blank */
}

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
        check_find_lines(text, size, t->e, n);
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
    check_find_raw(text, size);
    free(t);
    return 0;
}
