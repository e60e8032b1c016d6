/* auth: the pure part of include/auth.h: token-file lines, scope lists, names, token hashing,
 * token generation and the constant-time lookup. No I/O, no allocation, no state: any thread
 * (ingest threads call auth_lookup on every request). Fuzzed by fuzz_auth_file. */
#include "auth.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nf_err.h"
#include "nf_hex.h"

static const char *const scope_names[] = {"transfer", "read", "metrics"};

int auth_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > AUTH_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

int auth_scopes_parse(const char *s, size_t len, unsigned *out, const char **why)
{
    unsigned bits = 0;
    size_t i = 0;
    if (len == 0) {
        *why = "no scope given (use transfer, read, metrics)";
        return NF_EINVAL;
    }
    while (i <= len) {
        size_t start = i;
        while (i < len && s[i] != ',')
            i++;
        size_t n = i - start;
        if (n == 0) {
            *why = "empty item in the scope list";
            return NF_EINVAL;
        }
        unsigned bit = 0;
        for (unsigned k = 0; k < 3; k++)
            if (strlen(scope_names[k]) == n && memcmp(scope_names[k], s + start, n) == 0)
                bit = 1u << k;
        if (bit == 0) {
            *why = "unknown scope (use transfer, read, metrics)";
            return NF_EINVAL;
        }
        if (bits & bit) {
            *why = "a scope is listed twice";
            return NF_EINVAL;
        }
        bits |= bit;
        i++; /* past the comma, or past the end */
    }
    *out = bits;
    return 0;
}

void auth_scopes_format(unsigned scopes, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    for (unsigned k = 0; k < 3; k++) {
        if (!(scopes & (1u << k)))
            continue;
        size_t l = strlen(scope_names[k]);
        if (n + (n ? 1 : 0) + l + 1 > cap)
            break;
        if (n)
            out[n++] = ',';
        memcpy(out + n, scope_names[k], l);
        n += l;
        out[n] = '\0';
    }
}

size_t auth_count_lines(const char *text, size_t len)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    return n;
}

/* One field of a line: from *p, up to a space, tab or the line end. */
static size_t field(const char *p, const char *end, const char **start)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    *start = p;
    const char *q = p;
    while (q < end && *q != ' ' && *q != '\t')
        q++;
    return (size_t)(q - p);
}

int auth_parse(
    const char *text, size_t len, struct auth_entry *out, size_t cap, int *line, const char **why)
{
    size_t count = 0;
    const char *p = text, *end = text + len;
    int lineno = 0;
    while (p < end) {
        lineno++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        *line = lineno;
        for (const char *x = p; x < le; x++) {
            unsigned char c = (unsigned char)*x;
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                *why = "control character (CR, NUL, ...) in the line";
                return NF_EINVAL;
            }
        }
        const char *f1;
        size_t n1 = field(p, le, &f1);
        if (n1 == 0 || f1[0] == '#') { /* blank or comment */
            p = nl ? nl + 1 : end;
            continue;
        }
        const char *f2, *f3, *f4;
        size_t n2 = field(f1 + n1, le, &f2);
        size_t n3 = field(f2 + n2, le, &f3);
        size_t n4 = field(f3 + n3, le, &f4);
        if (n2 == 0 || n3 == 0) {
            *why = "want NAME SCOPES HASH";
            return NF_EINVAL;
        }
        /* Options after the hash, in any order, each at most once: max_amount_per_transfer=N,
         * max_amount_per_hour=N and max_amount_per_day=N (decimal u128 > 0), expires=TIME
         * (auth_time_parse). */
        enum { N_AMOUNTS = 3, OPT_EXPIRES = 3, OPT_FROM = 4, N_OPTS = 5 };
        static const char *const opt_names[N_OPTS] = {"max_amount_per_transfer",
                                                      "max_amount_per_hour", "max_amount_per_day",
                                                      "expires", "from"};
        static const char *const opt_twice[N_OPTS] = {
            "max_amount_per_transfer is given twice", "max_amount_per_hour is given twice",
            "max_amount_per_day is given twice", "expires is given twice", "from is given twice"};
        static const char *const opt_bad[N_OPTS] = {
            "max_amount_per_transfer must be a decimal u128 greater than 0",
            "max_amount_per_hour must be a decimal u128 greater than 0",
            "max_amount_per_day must be a decimal u128 greater than 0",
            "expires must be a UTC time YYYY-MM-DDTHH:MM:SSZ (years 2000..9999)", NULL};
        nf_u128 opt_val[N_AMOUNTS] = {0, 0, 0};
        uint64_t expires = 0;
        struct auth_net nets[AUTH_NETS_MAX];
        uint8_t n_nets = 0;
        for (const char *f = f4; n4 != 0; n4 = field(f + n4, le, &f)) {
            int k = -1;
            size_t ol = 0;
            for (int o = 0; o < N_OPTS && k < 0; o++) {
                ol = strlen(opt_names[o]);
                if (n4 > ol + 1 && memcmp(f, opt_names[o], ol) == 0 && f[ol] == '=')
                    k = o;
            }
            if (k < 0) {
                *why = "text after the hash (want NAME SCOPES HASH [max_amount_per_transfer=N] "
                       "[max_amount_per_hour=N] [max_amount_per_day=N] [from=NETS] [expires=TIME])";
                return NF_EINVAL;
            }
            int twice = k < N_AMOUNTS      ? opt_val[k] != 0
                        : k == OPT_EXPIRES ? expires != 0
                                           : n_nets != 0;
            if (twice) {
                *why = opt_twice[k];
                return NF_EINVAL;
            }
            const char *v = f + ol + 1;
            size_t vl = n4 - ol - 1;
            if (k == OPT_FROM) {
                if (auth_nets_parse(v, vl, nets, &n_nets, why) != 0)
                    return NF_EINVAL;
                continue;
            }
            int bad = k < N_AMOUNTS ? u128_parse(v, vl, &opt_val[k]) != 0 || opt_val[k] == 0
                                    : auth_time_parse(v, vl, &expires) != 0;
            if (bad) {
                *why = opt_bad[k];
                return NF_EINVAL;
            }
        }
        if (!auth_name_ok(f1, n1)) {
            *why = "NAME must be 1 to 64 characters of A-Z a-z 0-9 . _ -";
            return NF_EINVAL;
        }
        unsigned scopes = 0;
        if (auth_scopes_parse(f2, n2, &scopes, why) != 0)
            return NF_EINVAL;
        if (n3 != 2 * AUTH_HASH_BYTES) {
            *why = "HASH must be 64 lowercase hex digits (BLAKE2b-256 of the token)";
            return NF_EINVAL;
        }
        uint8_t h[AUTH_HASH_BYTES];
        for (size_t i = 0; i < AUTH_HASH_BYTES; i++) {
            int hi = nf_hex_lower(f3[2 * i]), lo = nf_hex_lower(f3[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                *why = "HASH must be 64 lowercase hex digits (BLAKE2b-256 of the token)";
                return NF_EINVAL;
            }
            h[i] = (uint8_t)(hi << 4 | lo);
        }
        for (size_t k = 0; k < count; k++) {
            if (strlen(out[k].name) == n1 && memcmp(out[k].name, f1, n1) == 0) {
                *why = "NAME is already used on an earlier line";
                return NF_EINVAL;
            }
            if (memcmp(out[k].hash, h, AUTH_HASH_BYTES) == 0) {
                *why = "the same token hash is on an earlier line";
                return NF_EINVAL;
            }
        }
        if (count == cap) {
            *why = "too many tokens";
            return NF_ETOOMANY;
        }
        memcpy(out[count].name, f1, n1);
        out[count].name[n1] = '\0';
        out[count].scopes = scopes;
        out[count].max_amount_per_transfer = opt_val[0];
        out[count].max_amount_per_hour = opt_val[1];
        out[count].max_amount_per_day = opt_val[2];
        out[count].expires_s = expires;
        out[count].n_nets = n_nets;
        memcpy(out[count].nets, nets, sizeof(nets[0]) * n_nets);
        memcpy(out[count].hash, h, AUTH_HASH_BYTES);
        count++;
        p = nl ? nl + 1 : end;
    }
    return (int)count;
}

int auth_nets_parse(
    const char *s, size_t len, struct auth_net out[AUTH_NETS_MAX], uint8_t *n, const char **why)
{
    *n = 0;
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        char item[64];
        if (j == i || j - i >= sizeof(item)) {
            *why = "from= must be a comma list of addresses or networks (ADDR[/PREFIX])";
            return NF_EINVAL;
        }
        if (*n == AUTH_NETS_MAX) {
            *why = "from= lists more than 8 networks";
            return NF_EINVAL;
        }
        memcpy(item, s + i, j - i);
        item[j - i] = '\0';
        struct auth_net *net = &out[*n];
        memset(net, 0, sizeof(*net));
        char *slash = strchr(item, '/');
        if (slash != NULL)
            *slash = '\0';
        int v6 = strchr(item, ':') != NULL;
        net->family = v6 ? 6 : 4;
        unsigned max = v6 ? 128 : 32;
        unsigned prefix = max;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, item, net->addr) != 1) {
            *why = "from= holds something that is not an IPv4 or IPv6 address";
            return NF_EINVAL;
        }
        if (slash != NULL) {
            const char *p = slash + 1;
            prefix = 0;
            if (*p == '\0' || strlen(p) > 3) {
                *why = "from= has a prefix that is not a number of bits";
                return NF_EINVAL;
            }
            for (; *p; p++) {
                if (*p < '0' || *p > '9') {
                    *why = "from= has a prefix that is not a number of bits";
                    return NF_EINVAL;
                }
                prefix = prefix * 10 + (unsigned)(*p - '0');
            }
            if (prefix > max) {
                *why = "from= has a prefix longer than its address";
                return NF_EINVAL;
            }
        }
        net->prefix = (uint8_t)prefix;
        for (unsigned b = prefix; b < max; b++)
            if (net->addr[b / 8] & (0x80u >> (b % 8))) {
                *why = "from= has a network with bits set past its prefix";
                return NF_EINVAL;
            }
        (*n)++;
        i = j + 1;
    }
    return 0;
}

void auth_nets_format(const struct auth_entry *e, char *out)
{
    size_t at = 0;
    out[0] = '\0';
    for (uint8_t i = 0; i < e->n_nets && i < AUTH_NETS_MAX; i++) {
        const struct auth_net *net = &e->nets[i];
        char a[INET6_ADDRSTRLEN];
        if (inet_ntop(net->family == 6 ? AF_INET6 : AF_INET, net->addr, a, sizeof(a)) == NULL)
            continue;
        int w = snprintf(out + at, AUTH_NETS_STR - at, "%s%s/%u", at ? "," : "", a,
                         (unsigned)net->prefix);
        if (w < 0 || (size_t)w >= AUTH_NETS_STR - at)
            break;
        at += (size_t)w;
    }
}

int auth_from_ok(const struct auth_entry *e, int family, const uint8_t *addr)
{
    if (e->n_nets == 0)
        return 1;
    for (uint8_t i = 0; i < e->n_nets && i < AUTH_NETS_MAX; i++) {
        const struct auth_net *net = &e->nets[i];
        if (net->family != family)
            continue;
        unsigned full = net->prefix / 8, rest = net->prefix % 8;
        if (memcmp(net->addr, addr, full) != 0)
            continue;
        if (rest != 0 && ((net->addr[full] ^ addr[full]) & (0xffu << (8 - rest))) != 0)
            continue;
        return 1;
    }
    return 0;
}

/* Reads n digits at s as a decimal; -1 on a non-digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int auth_time_parse(const char *s, size_t len, uint64_t *out)
{
    /* YYYY-MM-DDTHH:MM:SSZ */
    if (len != AUTH_TIME_STR - 1 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z')
        return NF_EINVAL;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2),
        mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 2000 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        sec < 0 || sec > 59)
        return NF_EINVAL;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    /* timegm normalises: 2027-02-30 would come back as March 2. */
    if (t <= 0 || tm.tm_mday != d || tm.tm_mon != mo - 1)
        return NF_EINVAL;
    *out = (uint64_t)t;
    return 0;
}

void auth_time_format(uint64_t secs, char *out)
{
    time_t t = (time_t)secs;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, AUTH_TIME_STR, "%Y-%m-%dT%H:%M:%SZ", &tm) != AUTH_TIME_STR - 1)
        memcpy(out, "0000-00-00T00:00:00Z", AUTH_TIME_STR);
}

void auth_token_hash(const char *tok, size_t len, uint8_t out[AUTH_HASH_BYTES])
{
    crypto_generichash(out, AUTH_HASH_BYTES, (const unsigned char *)tok, len, NULL, 0);
}

int auth_token_new(char *out, size_t cap)
{
    if (cap < AUTH_TOKEN_LEN + 1)
        return NF_ENOSPC;
    uint8_t raw[32];
    randombytes_buf(raw, sizeof(raw));
    memcpy(out, AUTH_TOKEN_PREFIX, 4);
    sodium_bin2base64(out + 4, cap - 4, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    return 0;
}

unsigned auth_lookup(const struct auth_table *t, const char *tok, size_t len, int *index)
{
    if (index != NULL)
        *index = -1;
    if (t == NULL)
        return 0;
    uint8_t h[AUTH_HASH_BYTES];
    auth_token_hash(tok, len, h);
    unsigned scopes = 0;
    int found = -1;
    for (size_t i = 0; i < t->n; i++) {
        /* Every entry is compared (no early exit); a match is remembered with a mask. */
        unsigned hit = (unsigned)(sodium_memcmp(t->e[i].hash, h, AUTH_HASH_BYTES) == 0);
        unsigned mask = 0u - hit;
        scopes |= t->e[i].scopes & mask;
        found = hit ? (int)i : found;
    }
    if (index != NULL)
        *index = found;
    return scopes;
}
