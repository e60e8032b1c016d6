/* rpc_client: blocking JSON-RPC calls (libcurl easy handles, one request at a time, each
 * --rpc-url tried in turn), each answer classified by rpc_parse (include/rpc.h). For code that
 * may block: the nearft CLI and nearftd's start-up checks on the main thread, never a stage. A
 * struct rpc_client borrows its URL and header strings (argv or a struct cfg) for its whole life
 * and owns nothing between calls. */
#ifndef NF_RPC_CLIENT_H
#define NF_RPC_CLIENT_H

#include <stddef.h>

#include "rpc.h"

struct rpc_client {
    const char *const *urls; /* tried in order until one answers */
    size_t n_urls;
    const char *const *headers; /* "URL=Name: Value" (cfg's rpc_header form); may be NULL */
    size_t n_headers;
    long timeout_ms;      /* per HTTP request */
    char last_error[512]; /* why the last call reached no URL (URL shown redacted) */
    /* when set, every URL that gives no HTTP answer is logged (NF_LOG warn, this component) as
     * `RPC unreachable url=<scheme://host:port> err="..."` */
    const char *log_component;
};

/* rpc_client_call: POSTs body (NUL-terminated) to each URL in turn until one gives an HTTP answer,
 * then classifies it with rpc_parse into *r using resp->method, call_out/call_cap and
 * keys/keys_cap (the other fields of *resp are set here). Returns 0 (r->kind set, including every
 * RPC error kind), NF_EIO when no URL answered (c->last_error says why), NF_ENOSPC when call_out or
 * keys is too small, NF_ENOMEM. Borrows everything until return. */
int rpc_client_call(struct rpc_client *c,
                    const char *body,
                    struct rpc_response *resp,
                    struct rpc_result *r);

/* rpc_client_raw: the same POST without classification: *out (caller frees, NUL-terminated, may
 * be NULL for an empty answer) and *len get the body, *http the status. Returns 0 or NF_EIO /
 * NF_ENOMEM as rpc_client_call. */
int rpc_client_raw(struct rpc_client *c, const char *body, char **out, size_t *len, long *http);

#endif
