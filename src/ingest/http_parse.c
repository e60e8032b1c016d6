/* http_parse: route table and the small text parsers of the ingest stage (see http_parse.h).
 * Pure: no I/O, no allocation, no global state; any thread. Fuzzed by fuzz_ingest_http. */
#include "http_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_int.h"
#include "job.h"
#include "nf_err.h"

struct route_entry {
    const char *path; /* exact path, or the prefix before a parameter */
    int has_param;
    int route;
    int method;
};

/* Order matters: /transfer/tx/ before /transfer/. */
static const struct route_entry routes[] = {
    {"/v1/transfers", 0, INGEST_ROUTE_V1_TRANSFERS_POST, INGEST_METHOD_POST},
    {"/send-ft", 0, INGEST_ROUTE_SEND_FT, INGEST_METHOD_POST},
    {"/transfer", 0, INGEST_ROUTE_RUST_TRANSFER, INGEST_METHOD_POST},
    {"/v1/transfers/", 1, INGEST_ROUTE_V1_TRANSFERS_GET, INGEST_METHOD_GET},
    {"/v1/tx/", 1, INGEST_ROUTE_V1_TX_GET, INGEST_METHOD_GET},
    {"/transfer/tx/", 1, INGEST_ROUTE_NODE_TX_GET, INGEST_METHOD_GET},
    {"/transfer/", 1, INGEST_ROUTE_NODE_JOB_GET, INGEST_METHOD_GET},
    {"/health", 0, INGEST_ROUTE_HEALTH, INGEST_METHOD_GET},
    {"/metrics", 0, INGEST_ROUTE_METRICS, INGEST_METHOD_GET},
    {"/debug/stages", 0, INGEST_ROUTE_DEBUG_STAGES, INGEST_METHOD_GET},
};

int ingest_route_match(const char *path, int *method, const char **rest)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct route_entry *r = &routes[i];
        size_t n = strlen(r->path);
        if (strncmp(path, r->path, n) != 0)
            continue;
        if (!r->has_param && path[n] == '\0') {
            *method = r->method;
            *rest = path + n;
            return r->route;
        }
        if (r->has_param && path[n] != '\0') {
            *method = r->method;
            *rest = path + n;
            return r->route;
        }
    }
    *method = 0;
    *rest = path + strlen(path);
    return INGEST_ROUTE_OTHER;
}

int ingest_parse_wait(const char *query, uint8_t *level, uint8_t *final)
{
    *level = 0;
    *final = 0;
    if (query == NULL)
        return 0;
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n >= 4 && memcmp(p, "wait", 4) == 0 && (n == 4 || p[4] == '=')) {
            const char *v = p + 5;
            size_t vn = n > 5 ? n - 5 : 0;
            if (vn == 9 && memcmp(v, "submitted", 9) == 0) {
                *level = JOB_SUBMITTED;
                *final = 0;
            } else if (vn == 8 && memcmp(v, "executed", 8) == 0) {
                *level = JOB_EXECUTED;
                *final = 0;
            } else if (vn == 5 && memcmp(v, "final", 5) == 0) {
                *level = JOB_EXECUTED;
                *final = 1;
            } else {
                return NF_EINVAL;
            }
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return 0;
}

int ingest_parse_id(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return NF_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return NF_EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return NF_ERANGE;
        v = v * 10u + d;
    }
    *out = v;
    return 0;
}

int ingest_idem_key_ok(const char *s, size_t *len)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (n >= 128 || (unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
            return 0;
    }
    if (n == 0)
        return 0;
    *len = n;
    return 1;
}

int ingest_parse_listen(const char *s, char *host, size_t host_cap, uint16_t *port)
{
    const char *h = s, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return NF_ECONFIG;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return NF_ECONFIG;
        hlen = (size_t)(colon - s);
    }
    if (hlen >= host_cap)
        return NF_ECONFIG;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (strcmp(host, "*") == 0)
        host[0] = '\0';
    const char *ps = colon + 1;
    if (*ps < '0' || *ps > '9')
        return NF_ECONFIG;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(ps, &end, 10);
    if (errno != 0 || *end != '\0' || v > 65535)
        return NF_ECONFIG;
    *port = (uint16_t)v;
    return 0;
}
