/* fuzz_ingest_http: the ingest stage's pure text parsers (src/ingest/http_parse.c): route table,
 * ?wait= query, decimal ids, Idempotency-Key header (and the same text as an Authorization and a
 * Content-Type value), listen address. The input is split at NUL bytes into those five strings.
 * Properties: no crash or over-read, outputs point into their input, a parsed id prints back to the
 * input without its leading zeros, accepted keys are printable ASCII of 1..128 bytes. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 6);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    memset(buf + size, 0, 6);
    const char *field[5];
    size_t at = 0;
    for (int i = 0; i < 5; i++) {
        field[i] = buf + at;
        at += strlen(buf + at) + 1;
        if (at > size + 5)
            at = size + 5;
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
    free(buf);
    return 0;
}
