/* rpc_client: blocking JSON-RPC (include/rpc_client.h). One libcurl easy request per call on the
 * caller's thread; answers are classified by the pure rpc_parse with a token scratch that grows
 * when an answer (a long access-key list) needs more. Owns nothing between calls. */
#include "rpc_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jtok.h"
#include "nf_err.h"
#include "nf_log.h"

/* Largest answer read: an access-key list of thousands of keys is well below this. */
#define RPC_CLIENT_MAX_BODY (64u << 20)

struct body_buf {
    char *p;
    size_t len, cap;
};

static size_t on_write(char *ptr, size_t size, size_t n, void *ud)
{
    struct body_buf *b = ud;
    size_t add = size * n;
    if (b->len + add + 1 > RPC_CLIENT_MAX_BODY)
        return 0;
    if (b->len + add + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 65536;
        while (nc < b->len + add + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (np == NULL)
            return 0;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, ptr, add);
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

/* parse_grow: rpc_parse with a token scratch doubled while the answer needs more. */
static int parse_grow(const struct rpc_response *resp, struct rpc_result *r)
{
    size_t cap = RPC_TOKENS_TX;
    for (;;) {
        struct jtok *toks = malloc(cap * sizeof(*toks));
        if (toks == NULL)
            return NF_ENOMEM;
        int rc = rpc_parse(resp, toks, cap, r);
        free(toks);
        if (rc != NF_ETOOMANY || cap >= (1u << 22))
            return rc;
        cap *= 2;
    }
}

/* post: body to the first URL that gives an HTTP answer; *out (caller frees) gets the answer. */
static int post(struct rpc_client *c, const char *body, char **out, size_t *len, long *http)
{
    snprintf(c->last_error, sizeof(c->last_error), "no --rpc-url given");
    for (size_t u = 0; u < c->n_urls; u++) {
        char shown[128];
        rpc_url_redact(c->urls[u], shown, sizeof(shown));
        CURL *h = curl_easy_init();
        if (h == NULL)
            return NF_ENOMEM;
        struct body_buf b = {0};
        struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
        size_t ul = strlen(c->urls[u]);
        for (size_t i = 0; i < c->n_headers; i++) {
            const char *s = c->headers[i];
            if (strncmp(s, c->urls[u], ul) == 0 && s[ul] == '=')
                hdr = curl_slist_append(hdr, s + ul + 1);
        }
        curl_easy_setopt(h, CURLOPT_URL, c->urls[u]);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms > 0 ? c->timeout_ms : 30000L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        CURLcode cc = curl_easy_perform(h);
        *http = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);
        curl_slist_free_all(hdr);
        curl_easy_cleanup(h);
        if (cc != CURLE_OK) {
            snprintf(c->last_error, sizeof(c->last_error), "%s: %s", shown, curl_easy_strerror(cc));
            if (c->log_component != NULL)
                NF_LOG(NF_LOG_WARN, c->log_component, "RPC unreachable url=%s err=\"%s\"", shown,
                       curl_easy_strerror(cc));
            free(b.p);
            continue;
        }
        *out = b.p;
        *len = b.len;
        return 0;
    }
    return NF_EIO;
}

int rpc_client_raw(struct rpc_client *c, const char *body, char **out, size_t *len, long *http)
{
    *out = NULL;
    *len = 0;
    return post(c, body, out, len, http);
}

int rpc_client_call(struct rpc_client *c,
                    const char *body,
                    struct rpc_response *resp,
                    struct rpc_result *r)
{
    char *text = NULL;
    size_t len = 0;
    long http = 0;
    int rc = post(c, body, &text, &len, &http);
    if (rc != 0)
        return rc;
    resp->http_status = (int)http;
    resp->retry_after_s = -1;
    resp->body = text ? text : "";
    resp->len = len;
    resp->expect_id = NULL;
    rc = parse_grow(resp, r);
    resp->body = NULL;
    resp->len = 0;
    free(text);
    return rc;
}
