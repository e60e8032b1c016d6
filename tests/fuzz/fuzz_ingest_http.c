/* fuzz_ingest_http: the ingest stage's pure text parsers (src/ingest/http_parse.c): route table,
 * ?wait= query, decimal ids, Idempotency-Key header (and the same text as an Authorization and a
 * Content-Type value), listen address; and the --allowed-origins check (ingest_origin_well_formed,
 * src/ingest/ingest.c). The input is split at NUL bytes into six strings: the first five go to
 * those parsers in that order, the sixth (and every other one too) to the origin check.
 * Properties: no crash or over-read, outputs point into their input, a parsed id prints back to the
 * input without its leading zeros, accepted keys are printable ASCII of 1..128 bytes; an accepted
 * origin is scheme://host[:port] (no path, query, user info, whitespace or trailing slash, a port
 * of 1..65535) and the check agrees with ref_origin, a separate reading of the same rule. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest/http_parse.h"
#include "ingest/ingest_int.h"
#include "job.h"
#include "txid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORIGIN_MAX 256 /* INGEST_ORIGIN_MAX in src/ingest/ingest.c */

/* ref_origin: the reference for ingest_origin_well_formed, written from its header comment with
 * the string functions instead of an index walk. */
static int ref_origin(const char *s)
{
    if (strlen(s) > ORIGIN_MAX)
        return 0;
    const char *host;
    if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else
        return 0;
    const char *rest;
    if (host[0] == '[') {
        size_t lit = strspn(host + 1, "0123456789abcdefABCDEF:.");
        if (lit == 0 || host[1 + lit] != ']')
            return 0;
        rest = host + 1 + lit + 1;
    } else {
        rest = host + strcspn(host, ":");
        if (rest == host)
            return 0;
        for (const char *p = host; p < rest; p++)
            if (!isgraph((unsigned char)*p) || strchr("/\\@?#[]", *p) != NULL)
                return 0;
    }
    if (rest[0] == '\0')
        return 1;
    const char *port = rest + 1;
    size_t digits = strspn(port, "0123456789");
    if (rest[0] != ':' || digits == 0 || digits > 5 || port[digits] != '\0' || port[0] == '0')
        return 0;
    return strtoul(port, NULL, 10) <= 65535;
}

/* check_origin: ingest_origin_well_formed on o against the reference and the shape of an origin;
 * aborts on a difference. */
static void check_origin(const char *o)
{
    int ok = ingest_origin_well_formed(o);
    if (ok != ref_origin(o))
        abort();
    if (!ok)
        return;
    size_t n = strlen(o);
    const char *host = strstr(o, "://");
    if (n > ORIGIN_MAX || host == NULL || host - o > 5 || n == (size_t)(host - o) + 3)
        abort();
    if (strncmp(o, "http", 4) != 0 || (host - o == 5 && o[4] != 's'))
        abort();
    for (const char *p = o; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            abort();
    /* Nothing after the authority: no path (so no trailing slash), query, fragment, user info. */
    if (strpbrk(host + 3, "/?#@\\") != NULL)
        abort();
    /* The same origin with a path, or with a trailing slash, is refused. */
    char longer[ORIGIN_MAX + 8];
    snprintf(longer, sizeof(longer), "%s/", o);
    if (ingest_origin_well_formed(longer))
        abort();
    snprintf(longer, sizeof(longer), "%s/app", o);
    if (ingest_origin_well_formed(longer))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 7);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    memset(buf + size, 0, 7);
    const char *field[6];
    size_t at = 0;
    for (int i = 0; i < 6; i++) {
        field[i] = buf + at;
        at += strlen(buf + at) + 1;
        if (at > size + 6)
            at = size + 6;
    }

    int method = -1;
    const char *rest = NULL;
    int route = ingest_route_match(field[0], &method, &rest);
    size_t plen = strlen(field[0]);
    if (route < 0 || route >= INGEST_ROUTE_COUNT || rest < field[0] || rest > field[0] + plen)
        abort();
    if ((route == INGEST_ROUTE_OTHER) != (method == 0))
        abort();

    uint8_t level = 9, final = 9;
    if (ingest_parse_wait(field[1], &level, &final) == 0) {
        if (level != 0 && level != JOB_SUBMITTED && level != JOB_EXECUTED)
            abort();
        if (final && level != JOB_EXECUTED)
            abort();
    }

    /* A public transfer id formats back to what was parsed, leading zeros of the number aside. */
    uint64_t id = 0, tag = 0;
    if (txid_parse(field[2], &id, &tag) == 0) {
        char back[TXID_MAX];
        size_t blen = txid_format(back, id, tag);
        const char *s = field[2];
        while (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
            s++;
        if (blen != strlen(back) || strcmp(back, s) != 0)
            abort();
    }

    size_t klen = 0;
    if (ingest_idem_key_ok(field[3], &klen)) {
        if (klen == 0 || klen > 128 || klen != strlen(field[3]))
            abort();
        for (size_t i = 0; i < klen; i++)
            if ((unsigned char)field[3][i] < 0x20 || (unsigned char)field[3][i] > 0x7e)
                abort();
    }
    const char *tok = NULL;
    size_t tlen = 0, alen = strlen(field[3]);
    if (ingest_bearer(field[3], alen, &tok, &tlen) == 0) {
        if (tlen == 0 || tlen > 512 || tok < field[3] + 7 || tok + tlen != field[3] + alen)
            abort();
        if (strncasecmp(field[3], "bearer ", 7) != 0 || tok[0] == ' ' || tok[0] == '=')
            abort();
    }
    if (ingest_route_scope(route) > 4u)
        abort();
    /* Content-Type: application/json with optional parameters, nothing else. */
    if (ingest_content_type_json(field[3], alen) &&
        strncasecmp(field[3], "application/json", 16) != 0)
        abort();

    char host[64];
    uint16_t port = 0;
    if (ingest_parse_listen(field[4], host, sizeof(host), &port) == 0 && strlen(host) >= 64)
        abort();

    for (int i = 0; i < 6; i++)
        check_origin(field[i]);
    free(buf);
    return 0;
}
