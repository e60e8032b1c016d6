/* fuzz_rpc: byte 0 picks the method (low 3 bits) and the HTTP status (high bits: 200, 400, 408,
 * 429, 500, 502, 0); the rest is the response body. rpc_parse must classify every input without
 * reading out of bounds, and its kind must be a known one. The body is also given to
 * rpc_url_redact as a URL: the output never holds a '/', '?', '#' or '@' after its "://" and is
 * never longer than the input. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nf_err.h"
#include "rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jtok toks[RPC_TOKENS_VIEW];
    static const int statuses[8] = {200, 200, 400, 408, 429, 500, 502, 0};
    if (size < 1)
        return 0;
    uint8_t call_out[64];
    struct rpc_key_entry keys[4];
    struct rpc_response q;
    memset(&q, 0, sizeof(q));
    q.method = (enum rpc_method)(data[0] & 7);
    q.http_status = statuses[(data[0] >> 3) & 7];
    q.retry_after_s = -1;
    q.body = (const char *)data + 1;
    q.len = size - 1;
    q.expect_id = (data[0] & 0x40) ? "1" : NULL;
    q.call_out = call_out;
    q.call_cap = sizeof(call_out);
    q.keys = keys;
    q.keys_cap = 4;
    struct rpc_result r;
    int rc = rpc_parse(&q, toks, RPC_TOKENS_VIEW, &r);
    if (rc != 0 && rc != NF_ETOOMANY && rc != NF_ENOSPC)
        abort();
    if (rc == 0) {
        if ((int)r.kind < 0 || r.kind >= RPC_KIND_COUNT)
            abort();
        if (strnlen(r.message, sizeof(r.message)) == sizeof(r.message) ||
            strnlen(r.cause, sizeof(r.cause)) == sizeof(r.cause))
            abort();
        if (r.kind == RPC_OK_CALL && r.call_len > sizeof(call_out))
            abort();
        if (r.kind == RPC_OK_ACCESS_KEY_LIST && r.key_count > 4)
            abort();
        (void)rpc_kind_is_definitive_rejection(r.kind);
        (void)rpc_kind_name(r.kind);
    }
    char url[512], shown[512];
    size_t ul = size - 1 < sizeof(url) - 1 ? size - 1 : sizeof(url) - 1;
    memcpy(url, data + 1, ul);
    url[ul] = '\0';
    size_t sl = rpc_url_redact(url, shown, sizeof(shown));
    if (sl != strlen(shown))
        abort();
    const char *rest = strstr(shown, "://");
    if (rest != NULL && strpbrk(rest + 3, "/?#@") != NULL)
        abort();
    if (strcmp(shown, "<redacted>") != 0 && sl > strlen(url))
        abort();
    return 0;
}
