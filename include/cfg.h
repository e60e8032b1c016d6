/* cfg: every nearftd setting, filled from ONE declarative table (src/nearftd/cfg.c) from which the
 * flag, the environment variable, the config-file key, --help and --print-config all derive:
 *   batch_max_actions  ↔  --batch-max-actions  ↔  NEARFT_BATCH_MAX_ACTIONS
 * Precedence: defaults < config file (--config FILE / NEARFT_CONFIG) < environment < flags. A list
 * set by a higher layer replaces the lower layer's list; inside one layer repeats append
 * (--rpc-url a --rpc-url b, or --rpc-url a,b). Flags: --name value, --name=value; booleans also
 * --name (true) and --no-name (false). Config file: `key = value` lines, '#' comments, values
 * optionally in double quotes (\" and \\ escapes inside quotes).
 * Loaded once at start-up on the main thread; const and shared read-only once threads start. */
#ifndef NF_CFG_H
#define NF_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "u128.h"

/* A string list (malloc'd copies, owned by the struct cfg). */
struct cfg_list {
    char **v;
    size_t n;
};

enum cfg_fsync {
    CFG_FSYNC_ALWAYS = 0,
    CFG_FSYNC_OFF = 1,
};

struct cfg {
    /* ingest */
    char *listen; /* "HOST:PORT" */
    uint64_t ingest_threads;
    uint64_t max_connections;   /* open client connections per ingest thread */
    uint64_t large_bodies;      /* bodies over 4 KiB being received at once, per ingest thread */
    uint64_t head_timeout_ms;   /* a request head must be complete within (0: no deadline) */
    uint64_t body_min_rate;     /* bytes/s a body must average after the head grace (0: none) */
    uint64_t write_timeout_ms;  /* an unread answer is dropped after this long without progress */
    uint64_t max_unsent_bytes;  /* unsent answers, all ingest threads (split evenly); over it the
                                   slowest readers are reset */
    uint64_t max_conns_per_ip;  /* open connections per client address, all threads (0: no cap) */
    uint64_t body_pool_bytes;   /* large request buffers, all threads together (0: no cap) */
    uint64_t max_batch_request; /* transfers per request body */
    uint64_t memo_max_bytes;
    uint64_t max_body_bytes;
    uint64_t queue_capacity;         /* accepted-but-unsigned transfers before 503 */
    char *auth_tokens;               /* bearer-token file (auth.h), or NULL: no authentication */
    int allow_unauthenticated;       /* serve a non-loopback --listen without auth_tokens */
    struct cfg_list allowed_origins; /* Origin values that are served (others: 403) */
    nf_u128 max_amount_per_transfer; /* 0: no limit */
    nf_u128 max_amount_per_hour;     /* rolling hour, 0: no limit (include/spend.h) */
    nf_u128 max_amount_per_day;      /* rolling 24 hours by the minute, 0: no limit */
    uint64_t rate_limit;             /* requests/s per token or client address, 0: no limit */
    uint64_t rate_burst;             /* bucket size (include/ratelim.h) */
    uint64_t rate_limit_global;      /* requests/s of all clients together, 0: no limit */
    uint64_t ipv6_client_prefix;     /* leading bits of an IPv6 address naming one client, 16..64
                                        (0: 64) */
    /* chain identity and keys */
    struct cfg_list rpc_url;     /* http(s) URLs, at least one */
    struct cfg_list rpc_header;  /* "URL=Name:Value" (secret values) */
    char *signer;                /* account id */
    char *credentials;           /* credentials directory */
    char *contract;              /* FT contract account id */
    struct cfg_list public_keys; /* "ed25519:..." (empty: every key found) */
    /* WAL */
    char *data_dir;
    int fsync; /* enum cfg_fsync */
    uint64_t wal_segment_bytes;
    uint64_t wal_group_commit_us;
    uint64_t retention_hours;
    uint64_t compact_interval_ms;
    /* cluster mode (docs/CLUSTER.md): the log on NATS JetStream instead of data_dir */
    char *cluster;        /* "nats://h1:4222,..." or NULL: the local log */
    char *cluster_stream; /* JetStream stream name */
    char *cluster_creds;  /* NATS credentials file or NULL */
    char *cluster_tls_ca; /* CA bundle (TLS to NATS) or NULL */
    char *cluster_tls_cert;
    char *cluster_tls_key;
    uint64_t cluster_replicas;
    uint64_t cluster_ack_timeout_ms;
    uint64_t cluster_lease_ms;
    char *cluster_advertise;   /* HOST:PORT standbys' relays reach this API at, or NULL */
    char *cluster_secret_file; /* the cluster's secret: log messages are authenticated, or NULL */
    int cluster_allow_unauthenticated; /* cluster mode without cluster_secret_file */
    int cluster_relay;                 /* a standby relays its listen address to the holder */
    /* batching and gas */
    uint64_t batch_max_actions;
    uint64_t max_tx_gas;
    uint64_t ft_transfer_gas;
    uint64_t storage_deposit_gas;
    nf_u128 storage_deposit_amount;
    int auto_register;
    int check_receiver_exists;
    uint64_t batch_linger_ms;
    /* pipeline sizing */
    uint64_t sign_threads;
    uint64_t job_capacity;
    uint64_t idempotency_keys; /* idempotency index entries (include/idem.h) */
    uint64_t ring_size;        /* power of two */
    /* submit */
    int wait_until; /* enum rpc_wait (rpc.h): NONE .. FINAL */
    uint64_t wait_timeout_ms;
    uint64_t inflight_per_key;
    uint64_t rpc_connections;
    uint64_t rpc_timeout_ms;
    uint64_t block_hash_refresh_ms;
    uint64_t tx_validity_blocks;
    uint64_t breaker_error_rate; /* percent */
    uint64_t breaker_window_ms;
    uint64_t breaker_min_requests;
    uint64_t breaker_cooldown_ms;
    uint64_t breaker_probes;
    /* misc */
    int log_level; /* enum nf_log_level (nf_log.h) */
    char *config;  /* the config file read, or NULL */

    int show_help;    /* --help / -h given: print cfg_print_help and exit 0 */
    int print_config; /* --print-config given: print cfg_print and exit 0 */
};

/* cfg_load: fills *c (any previous content is ignored, not freed) from the table defaults, the
 * config file, envp (a NULL-terminated "NAME=value" array, may be NULL) and argv[1..argc).
 * Returns 0, or NF_ECONFIG with a one-line message in err[0..errcap) naming the source, the key and
 * the value (secret values are not echoed), e.g. "--batch-max-actions: 101 is out of range
 * 1..100"; NF_ENOMEM if allocation fails. With --help, it stops early and returns 0 with
 * show_help set (no required-key checks). On error *c is still safe to cfg_free. Borrows argv and
 * envp until return; *c owns its strings afterwards (release with cfg_free). Main thread only. */
int cfg_load(struct cfg *c, int argc, char **argv, char **envp, char *err, size_t errcap);

/* cfg_print_help: every setting with its flag, env name, default, range and help text. */
void cfg_print_help(FILE *f);

/* cfg_print_man: every setting as a man(7) .TP item (flag, help, environment name, config key,
 * default, range), for the OPTIONS section of nearftd(8); the page is generated from this at build
 * time so it cannot drift from the table. */
void cfg_print_man(FILE *f);

/* cfg_print: effective values as `key = value` lines that cfg_load can read back as a config
 * file; secrets redacted: rpc_url prints scheme://host[:port] only (rpc_url_redact), rpc_header
 * scheme://host[:port]=Name:<redacted>. So a printed rpc_url with a path or an API key in it does
 * not read back to the same endpoint. */
void cfg_print(const struct cfg *c, FILE *f);

/* cfg_free: releases the strings and lists; NULL-safe; leaves *c zeroed. */
void cfg_free(struct cfg *c);

#endif
