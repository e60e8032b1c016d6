/* cfg: the declarative settings table and its loader (see include/cfg.h). One row per setting;
 * the flag (--batch-max-actions), the environment name (NEARFT_BATCH_MAX_ACTIONS), the config-file
 * key (batch_max_actions), the parser, the range check, --help and --print-config all come from
 * that row. Defaults are strings run through the same parsers as user input, so a bad default is
 * caught the same way. Runs once on the main thread at start-up; mallocs the strings it keeps. */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "base58.h"
#include "nf_args.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_secfile.h"
#include "rpc.h"

enum opt_type { T_STR, T_U64, T_BOOL, T_ENUM, T_LIST, T_U128 };

#define F_SECRET   0x01u /* value never printed or echoed in errors */
#define F_REQUIRED 0x02u /* must be set by some layer */
#define F_POW2     0x04u /* power of two */
#define F_ACCOUNT  0x08u /* a NEAR account id */
#define F_HEADER   0x10u /* list items "URL=Name:Value" */
#define F_URL      0x20u /* list items http:// or https:// */
#define F_PUBKEY   0x40u /* list items "ed25519:<base58 32 bytes>" */
#define F_NOFILE   0x80u /* not accepted as a config-file key (the config path itself) */

static const char *const fsync_names[] = {"always", "off", NULL};
static const char *const wait_names[] = {
    "NONE", "INCLUDED", "EXECUTED_OPTIMISTIC", "INCLUDED_FINAL", "EXECUTED", "FINAL", NULL};
static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};

struct opt {
    const char *name; /* config key; flag and env derive from it */
    enum opt_type type;
    size_t off;
    uint64_t min, max; /* T_U64 range */
    const char *def;   /* default as text; NULL = unset */
    unsigned flags;
    const char *const *enums; /* T_ENUM names, index = stored value */
    const char *help;
};

#define OFF(f) offsetof(struct cfg, f)
#define GiB    (1024ull * 1024 * 1024)
#define MiB    (1024ull * 1024)

/* The table. Add a setting here (and its field in struct cfg); nothing else needs to change. */
static const struct opt opts[] = {
    {"listen", T_STR, OFF(listen), 0, 0, "127.0.0.1:8080", 0, NULL,
     "HTTP listen address HOST:PORT"},
    {"ingest_threads", T_U64, OFF(ingest_threads), 1, 64, "2", 0, NULL,
     "HTTP ingest threads (libevent loops)"},
    {"max_connections", T_U64, OFF(max_connections), 16, 1048576, "8192", 0, NULL,
     "open client connections per ingest thread (beyond: accepting pauses)"},
    {"large_bodies", T_U64, OFF(large_bodies), 1, 65536, "256", 0, NULL,
     "request bodies over 4 KiB each ingest thread may be receiving at once"},
    {"head_timeout_ms", T_U64, OFF(head_timeout_ms), 100, 3600000, "10000", 0, NULL,
     "a request head must be complete this long after its first byte (after the accept for a "
     "connection's first request), however slowly it trickles in; else the connection is closed"},
    {"body_min_rate", T_U64, OFF(body_min_rate), 1, GiB, "16384", 0, NULL,
     "bytes/s a request body must average from the end of its head, once --head-timeout-ms of "
     "grace has passed; a slower body's connection is closed"},
    {"write_timeout_ms", T_U64, OFF(write_timeout_ms), 100, 3600000, "30000", 0, NULL,
     "an answer the client does not read is dropped (connection reset) after this long without "
     "the socket taking a byte of it"},
    {"max_unsent_bytes", T_U64, OFF(max_unsent_bytes), 65536, 1024 * GiB, "268435456", 0, NULL,
     "memory for answers written faster than their clients read them, all ingest threads "
     "together (split evenly); over a thread's share the connections whose answers waited "
     "longest are reset (an answer alone over it is still written)"},
    {"max_conns_per_ip", T_U64, OFF(max_conns_per_ip), 0, 1048576, "512", 0, NULL,
     "open connections per client (an IPv4 address or an IPv6 /64) over all ingest threads; one "
     "more gets 503 and is closed (0: no cap; behind a proxy every client has the proxy's "
     "address)"},
    {"body_pool_bytes", T_U64, OFF(body_pool_bytes), MiB, 1024 * GiB, "268435456", 0, NULL,
     "memory for request heads and bodies over 4 KiB, all ingest threads together (each buffer "
     "is sized to its request and freed when it is answered); over it: 503 + Retry-After; must "
     "hold one --max-body-bytes body plus 96 KiB"},
    {"auth_tokens", T_STR, OFF(auth_tokens), 0, 0, NULL, 0, NULL,
     "bearer-token file (nearft auth add); when set every route but GET /health needs "
     "Authorization: Bearer TOKEN with the route's scope; re-read on SIGHUP"},
    {"allow_unauthenticated", T_BOOL, OFF(allow_unauthenticated), 0, 0, "false", 0, NULL,
     "serve a --listen address that is not loopback without --auth-tokens (anyone who can "
     "reach it can pay out tokens)"},
    {"allowed_origins", T_LIST, OFF(allowed_origins), 0, 0, NULL, 0, NULL,
     "Origin header values (e.g. https://ops.example.com) whose requests are served, with the "
     "CORS headers that let a page there read the answers (a preflight OPTIONS is answered "
     "without a token); a request with any other Origin gets 403 (default: none, so no browser "
     "page can call nearftd)"},
    {"max_amount_per_transfer", T_U128, OFF(max_amount_per_transfer), 0, 0, "0", 0, NULL,
     "largest amount of one transfer in token units (u128); larger gets 422; 0: no limit"},
    {"max_amount_per_hour", T_U128, OFF(max_amount_per_hour), 0, 0, "0", 0, NULL,
     "most token units accepted in any rolling hour (u128), counted from the log so a restart "
     "keeps it; a request over it gets 429 with Retry-After; 0: no limit"},
    {"max_amount_per_day", T_U128, OFF(max_amount_per_day), 0, 0, "0", 0, NULL,
     "most token units accepted in any rolling 24 hours (u128, counted by the minute), from the "
     "log so a restart keeps it; needs --retention-hours of at least 24; a request over it gets "
     "429 with Retry-After; 0: no limit"},
    {"rate_limit", T_U64, OFF(rate_limit), 0, 1000000, "0", 0, NULL,
     "requests per second per bearer token (per client, an IPv4 address or an IPv6 /64 or "
     "--ipv6-client-prefix, without --auth-tokens; requests refused by the token check and CORS "
     "preflights count per client too); over it: 429 with Retry-After; GET /health is exempt; "
     "0: no limit"},
    {"rate_burst", T_U64, OFF(rate_burst), 1, 1000000, "10", 0, NULL,
     "requests a client may send at once before --rate-limit applies"},
    {"ipv6_client_prefix", T_U64, OFF(ipv6_client_prefix), 16, 64, "64", 0, NULL,
     "leading bits of an IPv6 client address that name one client for --max-conns-per-ip and "
     "--rate-limit (64: a /64, the network one site is given; 56 or 48 where clients are given "
     "larger networks, so that they cannot multiply their share by using many /64s)"},
    {"rate_limit_global", T_U64, OFF(rate_limit_global), 0, 10000000, "0", 0, NULL,
     "requests per second of all clients together (a burst of one second's worth), counted after "
     "each client's own --rate-limit; over it: 429 with Retry-After; GET /health and GET "
     "/metrics are exempt; 0: no limit"},
    {"sign_threads", T_U64, OFF(sign_threads), 1, 64, "1", 0, NULL, "signer threads"},
    {"rpc_url", T_LIST, OFF(rpc_url), 0, 0, NULL, F_REQUIRED | F_URL, NULL,
     "NEAR JSON-RPC endpoint(s), comma-separated or repeated; first is primary (shown as "
     "scheme://host[:port] only: a path, query or user:password may hold an API key)"},
    {"rpc_header", T_LIST, OFF(rpc_header), 0, 0, NULL, F_SECRET | F_HEADER, NULL,
     "extra HTTP header for an RPC URL as URL=Name:Value (repeatable; value is secret)"},
    {"signer", T_STR, OFF(signer), 0, 0, NULL, F_REQUIRED | F_ACCOUNT, NULL,
     "account that signs and pays (holds the tokens)"},
    {"credentials", T_STR, OFF(credentials), 0, 0, NULL, F_REQUIRED, NULL,
     "credentials directory holding the signer's key files"},
    {"contract", T_STR, OFF(contract), 0, 0, NULL, F_REQUIRED | F_ACCOUNT, NULL,
     "NEP-141 token contract account"},
    {"public_keys", T_LIST, OFF(public_keys), 0, 0, NULL, F_PUBKEY, NULL,
     "use only these access keys (ed25519:...); default: every key found"},
    {"data_dir", T_STR, OFF(data_dir), 0, 0, "./nearft-data", 0, NULL, "WAL and state directory"},
    {"fsync", T_ENUM, OFF(fsync), 0, 0, "always", 0, fsync_names,
     "WAL durability: always (group commit fsync) or off (tests only)"},
    {"wal_segment_bytes", T_U64, OFF(wal_segment_bytes), MiB, 4 * GiB, "67108864", 0, NULL,
     "WAL segment size in bytes"},
    {"wal_group_commit_us", T_U64, OFF(wal_group_commit_us), 0, 1000000, "0", 0, NULL,
     "extra wait to grow a WAL group before its fsync (us); 0: appends that arrive during "
     "an fsync form the next group"},
    {"retention_hours", T_U64, OFF(retention_hours), 0, 100000, "168", 0, NULL,
     "keep settled transfers (log records, idempotency keys) this long"},
    {"compact_interval_ms", T_U64, OFF(compact_interval_ms), 100, 86400000, "60000", 0, NULL,
     "how often old log segments are rotated and deleted (compaction)"},
    {"cluster", T_STR, OFF(cluster), 0, 0, NULL, 0, NULL,
     "cluster mode: the log on NATS JetStream at these servers (nats://H:4222,...; "
     "docs/CLUSTER.md) instead of files in data_dir; unset: the local log"},
    {"cluster_stream", T_STR, OFF(cluster_stream), 0, 0, "NEARFT", 0, NULL,
     "cluster mode: JetStream stream holding the log (one writing nearftd per stream)"},
    {"cluster_replicas", T_U64, OFF(cluster_replicas), 1, 5, "3", 0, NULL,
     "cluster mode: replicas of the stream when nearftd creates it"},
    {"cluster_ack_timeout_ms", T_U64, OFF(cluster_ack_timeout_ms), 100, 600000, "2000", 0, NULL,
     "cluster mode: wait for one PubAck before the publish is retried (same message id)"},
    {"cluster_lease_ms", T_U64, OFF(cluster_lease_ms), 0, 600000, "3000", 0, NULL,
     "cluster mode: TTL of the log's lease (KV bucket <stream>_lease): an instance started while "
     "another holds it waits as a standby and takes over within this long after it dies; 0: no "
     "lease (the stream fence alone)"},
    {"cluster_relay", T_BOOL, OFF(cluster_relay), 0, 0, "true", 0, NULL,
     "cluster mode: a standby listens on --listen and passes every connection to the instance "
     "holding the log's lease (which answers it), so any instance takes transfers; false: a "
     "standby does not listen"},
    {"cluster_advertise", T_STR, OFF(cluster_advertise), 0, 0, NULL, 0, NULL,
     "cluster mode: HOST:PORT at which other instances' relays reach this one's API while it "
     "holds the lease (default: --listen's host and bound port, unless that host is a wildcard)"},
    {"cluster_secret_file", T_STR, OFF(cluster_secret_file), 0, 0, NULL, 0, NULL,
     "cluster mode: file with the cluster's secret (32 to 4096 random bytes, owner-only, the same "
     "on every instance): every log message and the lease's address are authenticated with it "
     "(HMAC-SHA-256) and a message that does not verify stops the replay; required in cluster "
     "mode unless --cluster-allow-unauthenticated"},
    {"cluster_allow_unauthenticated", T_BOOL, OFF(cluster_allow_unauthenticated), 0, 0, "false", 0,
     NULL,
     "cluster mode without --cluster-secret-file: every message in the stream is replayed as an "
     "instance's, so whoever may publish to it can add transfers (the NATS permissions are then "
     "the only guard)"},
    {"cluster_creds", T_STR, OFF(cluster_creds), 0, 0, NULL, 0, NULL,
     "cluster mode: NATS user credentials file (JWT and NKey seed)"},
    {"cluster_tls_ca", T_STR, OFF(cluster_tls_ca), 0, 0, NULL, 0, NULL,
     "cluster mode: CA bundle; set: TLS to the NATS servers is required"},
    {"cluster_tls_cert", T_STR, OFF(cluster_tls_cert), 0, 0, NULL, 0, NULL,
     "cluster mode: client certificate for mutual TLS (with cluster_tls_key)"},
    {"cluster_tls_key", T_STR, OFF(cluster_tls_key), 0, 0, NULL, 0, NULL,
     "cluster mode: client certificate key for mutual TLS (with cluster_tls_cert)"},
    {"batch_max_actions", T_U64, OFF(batch_max_actions), 1, 100, "100", 0, NULL,
     "most actions per transaction"},
    {"max_tx_gas", T_U64, OFF(max_tx_gas), 1, 1000000000000000ull, "300000000000000", 0, NULL,
     "gas budget per transaction (sum of attached gas)"},
    {"ft_transfer_gas", T_U64, OFF(ft_transfer_gas), 1, 1000000000000000ull, "3000000000000", 0,
     NULL, "gas attached to each ft_transfer"},
    {"storage_deposit_gas", T_U64, OFF(storage_deposit_gas), 1, 1000000000000000ull,
     "5000000000000", 0, NULL, "gas attached to each storage_deposit"},
    {"storage_deposit_amount", T_U128, OFF(storage_deposit_amount), 0, 0, "1250000000000000000000",
     0, NULL, "yoctoNEAR attached to storage_deposit (u128)"},
    {"auto_register", T_BOOL, OFF(auto_register), 0, 0, "true", 0, NULL,
     "prepend storage_deposit for receivers not registered with the contract"},
    {"check_receiver_exists", T_BOOL, OFF(check_receiver_exists), 0, 0, "true", 0, NULL,
     "reject transfers to named accounts that do not exist"},
    {"batch_linger_ms", T_U64, OFF(batch_linger_ms), 0, 60000, "20", 0, NULL,
     "longest wait to fill a batch (ms)"},
    {"max_batch_request", T_U64, OFF(max_batch_request), 1, 1000000, "10000", 0, NULL,
     "most transfers in one request body"},
    {"memo_max_bytes", T_U64, OFF(memo_max_bytes), 0, 256, "256", 0, NULL,
     "longest memo in bytes (UTF-8)"},
    {"job_capacity", T_U64, OFF(job_capacity), 1024, 67108864, "1048576", 0, NULL,
     "transfer slots (jobs) allocated at start"},
    {"idempotency_keys", T_U64, OFF(idempotency_keys), 1, 268435456, "4194304", 0, NULL,
     "idempotency keys kept for --retention-hours (48 B each, mapped at start; when all are "
     "still kept, new keys get 503)"},
    {"ring_size", T_U64, OFF(ring_size), 1024, 16777216, "65536", F_POW2, NULL,
     "slots per inter-stage ring (power of two)"},
    {"max_body_bytes", T_U64, OFF(max_body_bytes), 1024, GiB, "16777216", 0, NULL,
     "largest request body in bytes"},
    {"wait_until", T_ENUM, OFF(wait_until), 0, 0, "EXECUTED_OPTIMISTIC", 0, wait_names,
     "send_tx wait_until level"},
    {"wait_timeout_ms", T_U64, OFF(wait_timeout_ms), 1, 3600000, "30000", 0, NULL,
     "how long a synchronous request waits for its outcome (ms)"},
    {"inflight_per_key", T_U64, OFF(inflight_per_key), 1, 1024, "8", 0, NULL,
     "transactions in flight per access key"},
    {"rpc_connections", T_U64, OFF(rpc_connections), 1, 4096, "64", 0, NULL,
     "concurrent HTTP connections to the RPC"},
    {"rpc_timeout_ms", T_U64, OFF(rpc_timeout_ms), 1, 3600000, "15000", 0, NULL,
     "HTTP timeout of one RPC call (ms)"},
    {"tx_validity_blocks", T_U64, OFF(tx_validity_blocks), 1, 10000000, "86400", 0, NULL,
     "the chain's transaction_validity_period (blocks) for declaring a transaction expired"},
    {"block_hash_refresh_ms", T_U64, OFF(block_hash_refresh_ms), 1, 3600000, "5000", 0, NULL,
     "how often to refresh the reference block hash (ms)"},
    {"breaker_error_rate", T_U64, OFF(breaker_error_rate), 1, 100, "50", 0, NULL,
     "circuit breaker opens above this error percentage"},
    {"breaker_window_ms", T_U64, OFF(breaker_window_ms), 1, 3600000, "10000", 0, NULL,
     "circuit breaker measuring window (ms)"},
    {"breaker_min_requests", T_U64, OFF(breaker_min_requests), 1, 1000000, "20", 0, NULL,
     "requests in the window before the breaker may open"},
    {"breaker_cooldown_ms", T_U64, OFF(breaker_cooldown_ms), 1, 3600000, "2000", 0, NULL,
     "time an open breaker waits before probing (ms)"},
    {"breaker_probes", T_U64, OFF(breaker_probes), 1, 1000, "3", 0, NULL,
     "successful probes that close the breaker"},
    {"queue_capacity", T_U64, OFF(queue_capacity), 1, 1000000000, "1000000", 0, NULL,
     "accepted-but-unsigned transfers before ingest answers 503"},
    {"log_level", T_ENUM, OFF(log_level), 0, 0, "info", 0, level_names,
     "debug, info, warn or error"},
    {"config", T_STR, OFF(config), 0, 0, NULL, F_NOFILE, NULL, "config file (key = value lines)"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* The enum tables above store indexes that other modules read as their own enums. */
_Static_assert(NF_LOG_ERROR == 3 && NF_LOG_DEBUG == 0, "log_level names follow enum nf_log_level");
_Static_assert(RPC_WAIT_FINAL == 5 && RPC_WAIT_EXECUTED_OPTIMISTIC == 2,
               "wait_until names follow enum rpc_wait");

enum layer { L_DEFAULT = 0, L_FILE = 1, L_ENV = 2, L_FLAG = 3 };

struct loader {
    struct cfg *c;
    char *err;
    size_t errcap;
    const char *src; /* "--batch-max-actions", "NEARFT_X", "file:12: x" */
    unsigned char layer[NOPTS];
};

__attribute__((format(printf, 2, 3))) static int fail(struct loader *ld, const char *fmt, ...)
{
    int n = snprintf(ld->err, ld->errcap, "%s: ", ld->src);
    if (n < 0 || (size_t)n >= ld->errcap)
        return NF_ECONFIG;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err + n, ld->errcap - (size_t)n, fmt, ap);
    va_end(ap);
    return NF_ECONFIG;
}

static void flag_name(const struct opt *o, char *out, size_t cap)
{
    size_t i = 0;
    out[i++] = '-';
    out[i++] = '-';
    for (const char *p = o->name; *p && i + 1 < cap; p++)
        out[i++] = *p == '_' ? '-' : *p;
    out[i] = '\0';
}

static void env_name(const struct opt *o, char *out, size_t cap)
{
    int n = snprintf(out, cap, "NEARFT_");
    for (const char *p = o->name; *p && (size_t)n + 1 < cap; p++)
        out[n++] = (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

static const char *shown(const struct opt *o, const char *v)
{
    return (o->flags & F_SECRET) ? "<redacted>" : v;
}

/* parse_u64: digits only (no sign, no spaces), strtoull with full-string and errno checks. */
static int parse_u64(const char *s, uint64_t *out)
{
    if (!isdigit((unsigned char)s[0]))
        return NF_EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0')
        return NF_EINVAL;
    if (errno == ERANGE)
        return NF_ERANGE;
    *out = (uint64_t)v;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "1", "on"}, *const no[] = {"false", "0", "off"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return NF_EINVAL;
}

static char *dup_str(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* A list field: struct cfg_list at opt->off. */
static char ***list_items(struct cfg *c, const struct opt *o)
{
    return &((struct cfg_list *)((char *)c + o->off))->v;
}

static size_t *list_count(struct cfg *c, const struct opt *o)
{
    return &((struct cfg_list *)((char *)c + o->off))->n;
}

static void list_clear(struct cfg *c, const struct opt *o)
{
    char **v = *list_items(c, o);
    size_t n = *list_count(c, o);
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    *list_items(c, o) = NULL;
    *list_count(c, o) = 0;
}

static int check_item(struct loader *ld, const struct opt *o, const char *it)
{
    if (it[0] == '\0')
        return fail(ld, "empty list item");
    if (o->flags & F_URL) {
        if (strncmp(it, "http://", 7) != 0 && strncmp(it, "https://", 8) != 0)
            return fail(ld, "%s is not an http:// or https:// URL", it);
    }
    if (o->flags & F_HEADER) {
        const char *eq = strchr(it, '=');
        const char *colon = eq ? strchr(eq + 1, ':') : NULL;
        if (eq == NULL || eq == it || colon == NULL || colon == eq + 1)
            return fail(ld, "<redacted> must be URL=Name:Value"); /* never echo a secret */
    }
    if (o->flags & F_PUBKEY) {
        uint8_t pk[32];
        if (strncmp(it, "ed25519:", 8) != 0 ||
            b58_decode_exact(it + 8, strlen(it + 8), pk, sizeof(pk)) != 0)
            return fail(ld, "%s is not an ed25519:<base58> public key", it);
    }
    return 0;
}

/* set_value: applies text v to option o from layer `layer`. */
static int set_value(struct loader *ld, size_t oi, const char *v, enum layer layer)
{
    const struct opt *o = &opts[oi];
    char *field = (char *)ld->c + o->off;
    int rc;
    /* A setting is one line of text: a newline would print (--print-config) as another setting,
     * and no path, address, name or header needs a control character. The value is not shown:
     * it may be a secret. */
    for (const char *q = v; *q != '\0'; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            return fail(ld, "contains a control character (byte 0x%02x at offset %zu)",
                        (unsigned)(unsigned char)*q, (size_t)(q - v));
    switch (o->type) {
    case T_STR: {
        if (v[0] == '\0' && (o->flags & F_REQUIRED))
            return fail(ld, "must not be empty");
        if (o->flags & F_ACCOUNT) {
            const char *why = NULL;
            if (account_id_check(v, strlen(v), &why) < 0)
                return fail(ld, "%s is not a valid account id (%s)", v, why ? why : "invalid");
        }
        char *s = dup_str(v, strlen(v));
        if (s == NULL)
            return NF_ENOMEM;
        free(*(char **)field);
        *(char **)field = s;
        break;
    }
    case T_U64: {
        uint64_t x = 0;
        rc = parse_u64(v, &x);
        if (rc == NF_EINVAL)
            return fail(ld, "%s is not a non-negative integer", shown(o, v));
        if (rc == NF_ERANGE || x < o->min || x > o->max)
            return fail(ld, "%s is out of range %llu..%llu", shown(o, v),
                        (unsigned long long)o->min, (unsigned long long)o->max);
        if ((o->flags & F_POW2) && (x & (x - 1)) != 0)
            return fail(ld, "%s is not a power of two", v);
        *(uint64_t *)field = x;
        break;
    }
    case T_U128: {
        nf_u128 x = 0;
        rc = u128_parse(v, strlen(v), &x);
        if (rc == NF_ERANGE)
            return fail(ld, "%s is out of range 0..2^128-1", v);
        if (rc < 0)
            return fail(ld, "%s is not a non-negative integer", v);
        *(nf_u128 *)field = x;
        break;
    }
    case T_BOOL: {
        int b = 0;
        if (parse_bool(v, &b) < 0)
            return fail(ld, "%s is not a boolean (true/false/1/0/on/off)", v);
        *(int *)field = b;
        break;
    }
    case T_ENUM: {
        int i;
        for (i = 0; o->enums[i] != NULL; i++)
            if (strcmp(o->enums[i], v) == 0)
                break;
        if (o->enums[i] == NULL) {
            char names[160] = "";
            for (int k = 0; o->enums[k] != NULL; k++) {
                strncat(names, k ? "|" : "", sizeof(names) - strlen(names) - 1);
                strncat(names, o->enums[k], sizeof(names) - strlen(names) - 1);
            }
            return fail(ld, "%s is not one of %s", v, names);
        }
        *(int *)field = i;
        break;
    }
    case T_LIST: {
        if (ld->layer[oi] < layer)
            list_clear(ld->c, o); /* a higher layer replaces, the same layer appends */
        const char *p = v;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            while (n > 0 && isspace((unsigned char)*p)) {
                p++;
                n--;
            }
            while (n > 0 && isspace((unsigned char)p[n - 1]))
                n--;
            char *it = dup_str(p, n);
            if (it == NULL)
                return NF_ENOMEM;
            rc = check_item(ld, o, it);
            if (rc < 0) {
                free(it);
                return rc;
            }
            size_t *n_items = list_count(ld->c, o);
            char **nv = realloc(*list_items(ld->c, o), (*n_items + 1) * sizeof(*nv));
            if (nv == NULL) {
                free(it);
                return NF_ENOMEM;
            }
            *list_items(ld->c, o) = nv;
            nv[(*n_items)++] = it;
            if (comma == NULL)
                break;
            p = comma + 1;
        }
        break;
    }
    }
    ld->layer[oi] = (unsigned char)layer;
    return 0;
}

static int find_key(const char *key, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, key, len) == 0)
            return (int)i;
    return -1;
}

/* find_flag: "--batch-max-actions" (len chars after the dashes) → option index. */
static int find_flag(const char *f, size_t len)
{
    char key[64];
    if (len >= sizeof(key))
        return -1;
    for (size_t i = 0; i < len; i++)
        key[i] = f[i] == '-' ? '_' : f[i];
    return find_key(key, len);
}

/* open_config: the config file decides where keys are read from and where signed transactions
 * go, so it must be a regular file (not a symlink: O_NOFOLLOW) owned by the user nearftd runs as
 * or by root, nobody else may write it, and it is opened through its directories after checking
 * that nobody else may write any of them (sticky ones aside: nf_secfile_open_under). *st gets its
 * mode for the secret check after parsing. */
static FILE *open_config(struct loader *ld, const char *path, struct stat *st)
{
    int rc = 0;
    char why_dir[4608];
    int fd =
        nf_secfile_open_under(path, O_RDONLY, "config file", st, &rc, why_dir, sizeof(why_dir));
    if (fd < 0) {
        snprintf(ld->err, ld->errcap, "--config: %s", why_dir);
        return NULL;
    }
    const char *why = NULL;
    char buf[96];
    if (!S_ISREG(st->st_mode))
        why = "not a regular file";
    else if (st->st_uid != geteuid() && st->st_uid != 0) {
        snprintf(buf, sizeof(buf),
                 "owned by uid %u, not by the user nearftd runs as (uid %u) or root",
                 (unsigned)st->st_uid, (unsigned)geteuid());
        why = buf;
    } else if (st->st_mode & (S_IWGRP | S_IWOTH))
        why = "writable by group or others; run chmod go-w on it";
    FILE *f = why == NULL ? fdopen(fd, "r") : NULL;
    if (f == NULL) {
        if (why == NULL)
            why = strerror(errno);
        snprintf(ld->err, ld->errcap, "--config: %s: %s", path, why);
        close(fd);
    }
    return f;
}

static int load_file(struct loader *ld, const char *path)
{
    struct stat st;
    FILE *f = open_config(ld, path, &st);
    char src[256];
    int has_secret = 0;
    if (f == NULL)
        return NF_ECONFIG;
    char line[8192];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
            snprintf(ld->err, ld->errcap, "%s:%d: line too long", path, lineno);
            rc = NF_ECONFIG;
            break;
        }
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        char *key = p;
        while (*p && (isalnum((unsigned char)*p) || *p == '_'))
            p++;
        size_t klen = (size_t)(p - key);
        while (*p == ' ' || *p == '\t')
            p++;
        if (klen == 0 || *p != '=') {
            snprintf(ld->err, ld->errcap, "%s:%d: expected key = value", path, lineno);
            rc = NF_ECONFIG;
            break;
        }
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        int oi = find_key(key, klen);
        if (oi < 0 || (opts[oi].flags & F_NOFILE)) {
            snprintf(ld->err, ld->errcap, "%s:%d: unknown key %.*s", path, lineno, (int)klen, key);
            rc = NF_ECONFIG;
            break;
        }
        char val[8192];
        size_t vl = 0;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                    p++;
                val[vl++] = *p++;
            }
            if (*p != '"') {
                snprintf(ld->err, ld->errcap, "%s:%d: %s: unterminated quote", path, lineno,
                         opts[oi].name);
                rc = NF_ECONFIG;
                break;
            }
            p++;
            while (isspace((unsigned char)*p))
                p++;
            if (*p != '\0' && *p != '#') {
                snprintf(ld->err, ld->errcap, "%s:%d: %s: text after the closing quote", path,
                         lineno, opts[oi].name);
                rc = NF_ECONFIG;
                break;
            }
        } else {
            /* unquoted: up to a '#' comment, trailing spaces trimmed */
            while (*p && *p != '#' && *p != '\n')
                val[vl++] = *p++;
            while (vl > 0 && isspace((unsigned char)val[vl - 1]))
                vl--;
        }
        val[vl] = '\0';
        snprintf(src, sizeof(src), "%s:%d: %s", path, lineno, opts[oi].name);
        ld->src = src;
        rc = set_value(ld, (size_t)oi, val, L_FILE);
        if (opts[oi].flags & F_SECRET)
            has_secret = 1;
    }
    fclose(f);
    /* A file holding a secret (rpc_header: API keys) may be shared with the service's group
     * (root:nearft 0640), never with everyone. */
    if (rc == 0 && has_secret && (st.st_mode & S_IROTH)) {
        snprintf(
            ld->err, ld->errcap,
            "--config: %s holds a secret (rpc_header) and others may read it; run chmod o-r on "
            "it",
            path);
        rc = NF_ECONFIG;
    }
    return rc;
}

static const char *env_get(char **envp, const char *name)
{
    if (envp == NULL)
        return NULL;
    size_t n = strlen(name);
    for (char **e = envp; *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

int cfg_load(struct cfg *c, int argc, char **argv, char **envp, char *err, size_t errcap)
{
    struct loader ld;
    memset(&ld, 0, sizeof(ld));
    memset(c, 0, sizeof(*c));
    ld.c = c;
    ld.err = err;
    ld.errcap = errcap;
    if (errcap > 0)
        err[0] = '\0';
    int rc;

    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].def == NULL)
            continue;
        ld.src = opts[i].name;
        if ((rc = set_value(&ld, i, opts[i].def, L_DEFAULT)) < 0)
            return rc;
    }
    for (int i = 1; i < argc; i++) {
        if (nf_arg_is_help(argv[i])) {
            c->show_help = 1;
            return 0;
        }
    }

    /* The config path: flag beats env. */
    const char *path = env_get(envp, "NEARFT_CONFIG");
    for (int i = 1; i < argc; i++) {
        struct nf_arg a;
        const char *v;
        if (nf_arg_split(argv[i], &a) == 0 && nf_arg_is(&a, "config") &&
            nf_arg_value(&a, argc, argv, &i, &v) == 0)
            path = v;
    }
    if (path != NULL) {
        int oi = find_key("config", 6);
        ld.src = "--config";
        if ((rc = set_value(&ld, (size_t)oi, path, L_FLAG)) < 0)
            return rc;
        if ((rc = load_file(&ld, path)) < 0)
            return rc;
    }

    char name[80];
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].flags & F_NOFILE)
            continue;
        env_name(&opts[i], name, sizeof(name));
        const char *v = env_get(envp, name);
        if (v == NULL)
            continue;
        ld.src = name;
        if ((rc = set_value(&ld, i, v, L_ENV)) < 0)
            return rc;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--print-config") == 0) {
            c->print_config = 1;
            continue;
        }
        struct nf_arg fa;
        if (nf_arg_split(a, &fa) != 0) {
            snprintf(err, errcap, "%s: unexpected argument (settings are --name value)", a);
            return NF_ECONFIG;
        }
        int oi = find_flag(fa.name, fa.nlen);
        const char *val = fa.value;
        if (oi < 0 && fa.nlen > 3 && strncmp(fa.name, "no-", 3) == 0 && fa.value == NULL) {
            int bi = find_flag(fa.name + 3, fa.nlen - 3);
            if (bi >= 0 && opts[bi].type == T_BOOL) {
                oi = bi;
                val = "false";
            }
        }
        if (oi < 0) {
            snprintf(err, errcap, "--%.*s: unknown flag (see --help)", (int)fa.nlen, fa.name);
            return NF_ECONFIG;
        }
        flag_name(&opts[oi], name, sizeof(name));
        ld.src = name;
        if (val == NULL) {
            if (opts[oi].type == T_BOOL)
                val = "true";
            else if (nf_arg_value(&fa, argc, argv, &i, &val) != 0)
                return fail(&ld, "missing value");
        }
        if (strcmp(opts[oi].name, "config") == 0)
            continue; /* already applied */
        if ((rc = set_value(&ld, (size_t)oi, val, L_FLAG)) < 0)
            return rc;
    }

    for (size_t i = 0; i < NOPTS; i++) {
        if (!(opts[i].flags & F_REQUIRED))
            continue;
        const char *field = (const char *)c + opts[i].off;
        int missing =
            opts[i].type == T_LIST ? *list_count(c, &opts[i]) == 0 : *(char *const *)field == NULL;
        if (missing) {
            char fl[80];
            flag_name(&opts[i], fl, sizeof(fl));
            env_name(&opts[i], name, sizeof(name));
            snprintf(err, errcap, "%s is required (flag %s, env %s, config key %s)", opts[i].name,
                     fl, name, opts[i].name);
            return NF_ECONFIG;
        }
    }
    return 0;
}

static void print_range(const struct opt *o, FILE *f)
{
    switch (o->type) {
    case T_U64:
        fprintf(f, ", range %llu..%llu%s", (unsigned long long)o->min, (unsigned long long)o->max,
                (o->flags & F_POW2) ? " (power of two)" : "");
        break;
    case T_ENUM:
        fprintf(f, ", one of ");
        for (int k = 0; o->enums[k] != NULL; k++)
            fprintf(f, "%s%s", k ? "|" : "", o->enums[k]);
        break;
    case T_BOOL:
        fprintf(f, ", true|false");
        break;
    default:
        break;
    }
}

/* opt_names: o's flag (--name-with-dashes) and environment variable (NEARFT_NAME), 80 bytes each.
 */
static void opt_names(const struct opt *o, char fl[80], char env[80])
{
    flag_name(o, fl, 80);
    env_name(o, env, 80);
}

/* opt_arg: the placeholder for o's value after its flag in --help (roff 0) or the man page. */
static const char *opt_arg(const struct opt *o, int roff)
{
    switch (o->type) {
    case T_BOOL:
        return "";
    case T_LIST:
        return roff ? " \\fILIST\\fR" : " LIST";
    case T_STR:
        return roff ? " \\fITEXT\\fR" : " TEXT";
    default:
        return roff ? " \\fIN\\fR" : " N";
    }
}

void cfg_print_help(FILE *f)
{
    fprintf(f, "usage: nearftd [--config FILE] [--name value ...] [--print-config] [--help]\n"
               "Every setting is a flag, an environment variable and a config-file key.\n"
               "Precedence: defaults < config file < environment < flags.\n\n");
    char fl[80], env[80];
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        opt_names(o, fl, env);
        fprintf(f, "  %s%s\n      %s\n      env %s", fl, opt_arg(o, 0), o->help, env);
        if (o->flags & F_REQUIRED)
            fprintf(f, ", required");
        else if (o->def != NULL)
            fprintf(f, ", default %s", o->def);
        print_range(o, f);
        if (o->flags & F_SECRET)
            fprintf(f, ", secret");
        fprintf(f, "\n");
    }
    fprintf(f, "  --print-config\n      print the effective settings and exit\n"
               "  --help\n      this text\n"
               "  --man\n      print the manual page nearftd(8) in roff and exit\n");
}

/* roff: text as man(7) body text: backslashes and hyphens escaped, a leading control dot kept. */
static void roff(FILE *f, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", f);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
    }
}

void cfg_print_man(FILE *f)
{
    char fl[80], env[80];
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        opt_names(o, fl, env);
        fputs(".TP\n\\fB", f);
        roff(f, fl);
        fprintf(f, "\\fR%s\n", opt_arg(o, 1));
        roff(f, o->help);
        fputs(".\nEnvironment \\fB", f);
        roff(f, env);
        fputs("\\fR, config key \\fB", f);
        roff(f, o->name);
        fputs(o->flags & F_NOFILE ? "\\fR (not in a config file)" : "\\fR", f);
        if (o->flags & F_REQUIRED) {
            fputs("; required", f);
        } else if (o->def != NULL) {
            fputs("; default ", f);
            roff(f, o->def);
        }
        char range[256] = "";
        FILE *rf = fmemopen(range, sizeof(range) - 1, "w");
        if (rf != NULL) {
            print_range(o, rf);
            fclose(rf);
        }
        if (range[0] == ',') {
            fputc(';', f);
            roff(f, range + 1);
        }
        fputs(o->flags & F_SECRET ? "; secret (never printed)" : "", f);
        fputs(".\n", f);
    }
}

/* print_val: quotes values a config file could not read back unquoted. */
static void print_val(FILE *f, const char *v)
{
    int plain = v[0] != '\0' && !isspace((unsigned char)v[0]) &&
                !isspace((unsigned char)v[strlen(v) - 1]) && strpbrk(v, "#\"\\") == NULL &&
                v[0] != '"';
    if (plain) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

void cfg_print(const struct cfg *c, FILE *f)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        const char *field = (const char *)c + o->off;
        char buf[U128_STR_MAX + 24];
        switch (o->type) {
        case T_STR: {
            const char *s = *(char *const *)field;
            if (s == NULL) {
                fprintf(f, "# %s is not set\n", o->name);
                continue;
            }
            fprintf(f, "%s = ", o->name);
            print_val(f, (o->flags & F_SECRET) ? "<redacted>" : s);
            break;
        }
        case T_U64:
            fprintf(f, "%s = %llu", o->name, (unsigned long long)*(const uint64_t *)field);
            break;
        case T_U128:
            u128_format(*(const nf_u128 *)field, buf);
            fprintf(f, "%s = %s", o->name, buf);
            break;
        case T_BOOL:
            fprintf(f, "%s = %s", o->name, *(const int *)field ? "true" : "false");
            break;
        case T_ENUM:
            fprintf(f, "%s = %s", o->name, o->enums[*(const int *)field]);
            break;
        case T_LIST: {
            char *const *items = ((const struct cfg_list *)field)->v;
            size_t n_items = ((const struct cfg_list *)field)->n;
            if (n_items == 0) {
                fprintf(f, "# %s is empty\n", o->name);
                continue;
            }
            /* One line per item: the file layer appends repeated keys. */
            for (size_t k = 0; k < n_items; k++) {
                const char *it = items[k];
                fprintf(f, "%s = ", o->name);
                if (o->flags & F_HEADER) {
                    /* scheme://host[:port]=Name:<redacted> */
                    const char *eq = strchr(it, '=');
                    const char *colon = eq ? strchr(eq + 1, ':') : NULL;
                    char red[1200], url[512], shown[512];
                    if (colon != NULL) {
                        snprintf(url, sizeof(url), "%.*s", (int)(eq - it), it);
                        rpc_url_redact(url, shown, sizeof(shown));
                        snprintf(red, sizeof(red), "%s=%.*s:<redacted>", shown,
                                 (int)(colon - eq - 1), eq + 1);
                    } else {
                        snprintf(red, sizeof(red), "<redacted>");
                    }
                    print_val(f, red);
                } else if (o->flags & F_URL) {
                    char shown[512];
                    rpc_url_redact(it, shown, sizeof(shown));
                    print_val(f, shown);
                } else {
                    print_val(f, (o->flags & F_SECRET) ? "<redacted>" : it);
                }
                if (k + 1 < n_items)
                    fputc('\n', f);
            }
            break;
        }
        }
        fputc('\n', f);
    }
}

void cfg_free(struct cfg *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < NOPTS; i++) {
        char *field = (char *)c + opts[i].off;
        if (opts[i].type == T_STR)
            free(*(char **)field);
        else if (opts[i].type == T_LIST)
            list_clear(c, &opts[i]);
    }
    memset(c, 0, sizeof(*c));
}
