/* cli_rpc: blocking JSON-RPC calls for the nearft CLI (libcurl easy handles, one request at a
 * time), each answer classified by rpc_parse (include/rpc.h). The CLI's main thread only; a
 * struct cli_rpc borrows its URL and header strings (argv or a struct cfg) for its whole life. */
#ifndef NF_CLI_RPC_H
#define NF_CLI_RPC_H

#include <stddef.h>

#include "rpc.h"

struct cli_rpc {
    const char *const *urls; /* tried in order until one answers */
    size_t n_urls;
    const char *const *headers; /* "URL=Name: Value" (cfg's rpc_header form); may be NULL */
    size_t n_headers;
    long timeout_ms;      /* per HTTP request */
    char last_error[512]; /* why the last call reached no URL (URL shown redacted) */
};

/* cli_rpc_call: POSTs body (NUL-terminated) to each URL in turn until one gives an HTTP answer,
 * then classifies it with rpc_parse into *r using resp->method, call_out/call_cap and
 * keys/keys_cap (the other fields of *resp are set here). Returns 0 (r->kind set, including every
 * RPC error kind), NF_EIO when no URL answered (c->last_error says why), NF_ENOSPC when call_out or
 * keys is too small, NF_ENOMEM. Borrows everything until return. */
int cli_rpc_call(struct cli_rpc *c,
                 const char *body,
                 struct rpc_response *resp,
                 struct rpc_result *r);

/* cli_rpc_raw: the same POST without classification: *out (caller frees, NUL-terminated, may
 * be NULL for an empty answer) and *len get the body, *http the status. Returns 0 or NF_EIO /
 * NF_ENOMEM as cli_rpc_call. */
int cli_rpc_raw(struct cli_rpc *c, const char *body, char **out, size_t *len, long *http);

#endif
