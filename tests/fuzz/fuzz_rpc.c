/* fuzz_rpc: byte 0 picks the method (low 3 bits) and the HTTP status (high bits: 200, 400, 408,
 * 429, 500, 502, 0); the rest is the response body. rpc_parse must classify every input without
 * reading out of bounds, and its kind must be a known one. The body is also given to
 * rpc_url_redact as a URL: the output never holds a '/', '?', '#' or '@' after its "://" and is
 * never longer than the input. It is also a Retry-After header line (rpc_retry_after) and
 * call_function result bytes (rpc_call_u128, rpc_call_storage_balance), each read in place from a
 * copy with no NUL after it (so ASan sees any read past len) and checked against a plain
 * reference written here over a NUL-terminated copy. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nf_err.h"
#include "rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIGITS "0123456789"

/* ref_retry_after: the Retry-After rule restated with libc string functions over s (NUL-terminated,
 * holding no other NUL). */
static int ref_retry_after(const char *s)
{
    if (strncasecmp(s, "retry-after:", 12) != 0)
        return -1;
    s += 12;
    s += strspn(s, " \t");
    size_t nd = strspn(s, DIGITS);
    const char *d = s;
    if (nd == 0)
        return -1;
    s += nd;
    s += strspn(s, " \t");
    if (strcmp(s, "") != 0 && strcmp(s, "\n") != 0 && strcmp(s, "\r\n") != 0)
        return -1;
    while (nd > 1 && *d == '0') {
        d++;
        nd--;
    }
    if (nd > 4)
        return -1;
    int v = 0;
    for (size_t i = 0; i < nd; i++)
        v = v * 10 + (d[i] - '0');
    return v <= RPC_RETRY_AFTER_MAX ? v : -1;
}

/* ref_call_u128: 0 when s[0..len) (NUL-terminated, no other NUL) is '"' digits '"' whose value
 * fits; then *digits and *nd name the value's digits without leading zeros ("0" for zero). */
static int ref_call_u128(const char *s, size_t len, const char **digits, size_t *nd)
{
    static const char max[] = "340282366920938463463374607431768211455";
    if (len < 3 || s[0] != '"' || s[len - 1] != '"' || strspn(s + 1, DIGITS) != len - 2)
        return NF_EINVAL;
    const char *d = s + 1;
    size_t n = len - 2;
    while (n > 1 && *d == '0') {
        d++;
        n--;
    }
    if (n > sizeof(max) - 1 || (n == sizeof(max) - 1 && memcmp(d, max, n) > 0))
        return NF_ERANGE;
    *digits = d;
    *nd = n;
    return 0;
}

/* check_call_readers: the header and call-result readers over body[0..len). */
static void check_call_readers(const uint8_t *body, size_t len, struct jtok *toks, size_t tok_cap)
{
    static char exact[1 << 16], cstr[(1 << 16) + 1];
    if (len > sizeof(exact))
        return;
    /* exact: the bytes with nothing readable after them; cstr: the same plus a NUL. */
    char *in = exact + sizeof(exact) - len;
    memcpy(in, body, len);
    memcpy(cstr, body, len);
    cstr[len] = '\0';
    int has_nul = memchr(body, 0, len) != NULL;

    int ra = rpc_retry_after(in, len);
    if (ra < -1 || ra > RPC_RETRY_AFTER_MAX)
        abort();
    if (ra != (has_nul ? -1 : ref_retry_after(cstr)))
        abort();

    nf_u128 v = 12345;
    int rc = rpc_call_u128(in, len, &v);
    if (rc != 0 && rc != NF_EINVAL && rc != NF_ERANGE)
        abort();
    const char *digits = NULL;
    size_t nd = 0;
    int want = has_nul ? NF_EINVAL : ref_call_u128(cstr, len, &digits, &nd);
    if (rc != want)
        abort();
    if (rc != 0 && v != 12345) /* *out is left alone on error */
        abort();
    if (rc == 0) {
        char txt[U128_STR_MAX];
        int tl = u128_format(v, txt);
        if ((size_t)tl != nd || memcmp(txt, digits, nd) != 0)
            abort();
    }

    int reg = -7;
    rc = rpc_call_storage_balance(in, len, toks, tok_cap, &reg);
    if (rc != 0 && rc != NF_EINVAL && rc != NF_ETOOMANY)
        abort();
    if (rc != 0 && reg != -7)
        abort();
    int is_null = len == 4 && memcmp(in, "null", 4) == 0;
    if (rc == 0 && reg != (is_null ? 0 : 1))
        abort();
    if (is_null && rc != 0)
        abort();
    if (rc == 0 && reg == 1) {
        /* one object, nothing around it, and jtok agrees */
        if (in[0] != '{' || in[len - 1] != '}')
            abort();
        if (jtok_parse(in, len, toks, tok_cap, NULL) < 1 || toks[0].type != JTOK_OBJECT)
            abort();
    }
    if (rc == NF_EINVAL && len >= 2 && in[0] == '{' && in[len - 1] == '}') {
        int n = jtok_parse(in, len, toks, tok_cap, NULL);
        if (n >= 1 && toks[0].type == JTOK_OBJECT)
            abort();
    }
}

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
    check_call_readers(data + 1, size - 1, toks, RPC_TOKENS_VIEW);
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
