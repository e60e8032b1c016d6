/* sim_cfg: nearsim flags (see sim_cfg.h). One table lists every flag with its type, target,
 * default text and help; --help prints it. Pure; start-up only. */
#include "sim_cfg.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nf_args.h"
#include "nf_err.h"

enum flag_type { F_STR, F_U32, F_U64, F_U128, F_DOUBLE, F_ERRKIND };

struct flag {
    const char *name;
    enum flag_type type;
    size_t offset;
    size_t size; /* F_STR buffer size */
    const char *def;
    const char *help;
};

#define OFF(f) offsetof(struct sim_cfg, f)
#define STR(f) OFF(f), sizeof(((struct sim_cfg *)0)->f)

static const struct flag flags[] = {
    {"listen", F_STR, STR(listen), "127.0.0.1:3030",
     "address:port to serve JSON-RPC on (port 0 = any)"},
    {"lagging-listen", F_STR, STR(lagging_listen), "",
     "also serve the same chain --lag-blocks behind here (address:port; :0 = --listen's host, any "
     "port)"},
    {"lag-blocks", F_U64, OFF(lag_blocks), 0, "30",
     "how far the --lagging-listen node is behind the head (blocks, >= 1)"},
    {"signer", F_STR, STR(chain.signer), "distributor.test.near", "account holding the FT supply"},
    {"keys", F_U32, OFF(keys), 0, "12", "full-access keys of the signer"},
    {"contract", F_STR, STR(chain.contract), "ft.test.near", "the FT contract account"},
    {"receivers", F_U32, OFF(chain.receivers), 0, "1000", "registered receivers <prefix>N<suffix>"},
    {"expect-memos", F_U32, OFF(chain.expect_memos), 0, "65536",
     "memos the audit map is sized for at start (growing it later pauses block production)"},
    {"unregistered", F_U32, OFF(chain.unregistered), 0, "100", "existing, unregistered accounts"},
    {"receiver-prefix", F_STR, STR(chain.receiver_prefix), "user-", "prefix of receiver names"},
    {"unregistered-prefix", F_STR, STR(chain.unregistered_prefix), "new-",
     "prefix of unregistered names"},
    {"account-suffix", F_STR, STR(chain.account_suffix), ".test.near", "suffix of generated names"},
    {"credentials-out", F_STR, STR(credentials_out), "",
     "write the signer's keys here (near-cli-rs + legacy layout)"},
    {"seed", F_STR, STR(seed), "", "derive keys deterministically from this text"},
    {"supply", F_U128, OFF(chain.total_supply), 0, "1000000000000000000000000000000",
     "FT total supply"},
    {"signer-balance", F_U128, OFF(chain.signer_balance), 0, "1000000000000000000000000000000",
     "signer NEAR balance (yocto)"},
    {"account-balance", F_U128, OFF(chain.account_balance), 0, "10000000000000000000000000",
     "NEAR of other genesis accounts (yocto)"},
    {"genesis-height", F_U64, OFF(chain.genesis_height), 0, "1000", "height of the genesis block"},
    {"block-ms", F_U64, OFF(block_ms), 0, "600", "block interval in milliseconds"},
    {"validity-blocks", F_U64, OFF(chain.validity_blocks), 0, "86400",
     "transaction validity period"},
    {"max-prepaid-gas", F_U64, OFF(chain.max_prepaid_gas), 0, "1P",
     "max total prepaid gas per tx (300T or 1P)"},
    {"chunk-gas", F_U64, OFF(chain.chunk_gas), 0, "1P", "receipt execution gas per block"},
    {"chunk-tx-gas", F_U64, OFF(chain.chunk_tx_gas), 0, "500T", "tx conversion gas per block"},
    {"wasm-gas", F_U64, OFF(chain.wasm_gas_ft_transfer), 0, "1T",
     "contract gas burnt per ft_transfer"},
    {"wasm-gas-storage", F_U64, OFF(chain.wasm_gas_storage), 0, "1T",
     "contract gas of other methods"},
    {"gas-price", F_U128, OFF(chain.gas_price), 0, "100000000", "yocto per gas"},
    {"congestion-threshold", F_DOUBLE, OFF(chain.congestion_threshold), 0, "0.8",
     "reject txs at this congestion level"},
    {"congestion-max-gas", F_U128, OFF(chain.congestion_max_gas), 0, "400000000000000000",
     "delayed gas at congestion level 1"},
    {"wait-timeout-ms", F_U64, OFF(wait_timeout_ms), 0, "10000",
     "send_tx / tx wait before TIMEOUT_ERROR"},
    {"max-body", F_U64, OFF(max_body), 0, "10485760", "max request body bytes"},
    {"ft-name", F_STR, STR(chain.ft_name), "Simulated Token", "ft_metadata name"},
    {"ft-symbol", F_STR, STR(chain.ft_symbol), "SIM", "ft_metadata symbol"},
    {"ft-decimals", F_U32, OFF(chain.ft_decimals), 0, "6", "ft_metadata decimals"},
    {"error-rate", F_DOUBLE, OFF(faults.error_rate), 0, "0",
     "fault: share of requests failed (nothing applied)"},
    {"error-kind", F_ERRKIND, OFF(faults.error_kind), 0, "503", "fault: 503 | internal | mixed"},
    {"lost-ack-rate", F_DOUBLE, OFF(faults.lost_ack_rate), 0, "0",
     "fault: share of tx submissions applied then dropped"},
    {"latency-ms", F_U64, OFF(faults.latency_ms), 0, "0", "fault: fixed reply latency"},
    {"jitter-ms", F_U64, OFF(faults.jitter_ms), 0, "0", "fault: random extra latency"},
    {"rate-limit", F_U64, OFF(faults.rate_limit), 0, "0",
     "fault: HTTP 429 above this many requests/s"},
    {"congestion", F_DOUBLE, OFF(faults.congestion), 0, "0", "fault: forced congestion level"},
};

int sim_cfg_parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s == 0)
        return NF_EINVAL;
    uint64_t v = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return NF_ERANGE;
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
    }
    if (p == s)
        return NF_EINVAL;
    uint64_t mul = 1;
    if (*p != 0) {
        const char *suffixes = "KMGTP";
        const char *q = strchr(suffixes, *p);
        if (q == NULL || p[1] != 0)
            return NF_EINVAL;
        for (long i = 0; i <= q - suffixes; i++)
            mul *= 1000;
    }
    if (v > UINT64_MAX / mul)
        return NF_ERANGE;
    *out = v * mul;
    return 0;
}

int sim_error_kind_parse(const char *s)
{
    if (strcmp(s, "503") == 0)
        return SIM_ERR_503;
    if (strcmp(s, "internal") == 0)
        return SIM_ERR_INTERNAL;
    if (strcmp(s, "mixed") == 0)
        return SIM_ERR_MIXED;
    return -1;
}

static int
set_flag(struct sim_cfg *cfg, const struct flag *f, const char *v, char *err, size_t errcap)
{
    char *base = (char *)cfg + f->offset;
    switch (f->type) {
    case F_STR:
        if (strlen(v) >= f->size) {
            snprintf(err, errcap, "--%s: value too long", f->name);
            return NF_ECONFIG;
        }
        memcpy(base, v, strlen(v) + 1);
        return 0;
    case F_U32:
    case F_U64: {
        uint64_t x;
        if (sim_cfg_parse_u64(v, &x) != 0 || (f->type == F_U32 && x > UINT32_MAX)) {
            snprintf(err, errcap, "--%s: invalid number '%.40s'", f->name, v);
            return NF_ECONFIG;
        }
        if (f->type == F_U32)
            *(uint32_t *)(void *)base = (uint32_t)x;
        else
            *(uint64_t *)(void *)base = x;
        return 0;
    }
    case F_U128: {
        nf_u128 x;
        if (u128_parse(v, strlen(v), &x) != 0) {
            snprintf(err, errcap, "--%s: invalid u128 '%.40s'", f->name, v);
            return NF_ECONFIG;
        }
        memcpy(base, &x, sizeof(x));
        return 0;
    }
    case F_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (errno != 0 || end == v || *end != 0 || !isfinite(d) || d < 0) {
            snprintf(err, errcap, "--%s: invalid number '%.40s'", f->name, v);
            return NF_ECONFIG;
        }
        *(double *)(void *)base = d;
        return 0;
    }
    case F_ERRKIND: {
        int k = sim_error_kind_parse(v);
        if (k < 0) {
            snprintf(err, errcap, "--%s: expected 503, internal or mixed, got '%.40s'", f->name, v);
            return NF_ECONFIG;
        }
        *(int *)(void *)base = k;
        return 0;
    }
    }
    return NF_ECONFIG;
}

int sim_cfg_parse(struct sim_cfg *cfg, int argc, char **argv, FILE *out, char *err, size_t errcap)
{
    memset(cfg, 0, sizeof(*cfg));
    sim_chain_cfg_defaults(&cfg->chain);
    size_t nflags = sizeof(flags) / sizeof(flags[0]);
    for (size_t i = 0; i < nflags; i++)
        if (set_flag(cfg, &flags[i], flags[i].def, err, errcap) != 0)
            return NF_ECONFIG;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (nf_arg_is_help(a)) {
            fprintf(out, "usage: nearsim [flags]\n");
            for (size_t k = 0; k < nflags; k++)
                fprintf(out, "  --%-22s %s (default: %s)\n", flags[k].name, flags[k].help,
                        flags[k].def[0] ? flags[k].def : "none");
            return 1;
        }
        struct nf_arg fa;
        if (nf_arg_split(a, &fa) != 0) {
            snprintf(err, errcap, "unexpected argument '%.60s'", a);
            return NF_ECONFIG;
        }
        const struct flag *f = NULL;
        for (size_t k = 0; k < nflags; k++)
            if (nf_arg_is(&fa, flags[k].name))
                f = &flags[k];
        if (f == NULL) {
            snprintf(err, errcap, "unknown flag '--%.*s' (see --help)",
                     (int)(fa.nlen > 60 ? 60 : fa.nlen), fa.name);
            return NF_ECONFIG;
        }
        const char *v;
        if (nf_arg_value(&fa, argc, argv, &i, &v) != 0) {
            snprintf(err, errcap, "--%s needs a value", f->name);
            return NF_ECONFIG;
        }
        if (set_flag(cfg, f, v, err, errcap) != 0)
            return NF_ECONFIG;
    }
    if (cfg->lagging_listen[0] != 0 && cfg->lag_blocks == 0) {
        snprintf(err, errcap, "--lag-blocks: must be >= 1 with --lagging-listen, got 0");
        return NF_ECONFIG;
    }
    if (cfg->block_ms == 0 || cfg->chain.chunk_gas == 0 || cfg->chain.genesis_height < 2 ||
        cfg->faults.error_rate > 1 || cfg->faults.lost_ack_rate > 1) {
        snprintf(err, errcap,
                 "invalid combination: block-ms, chunk-gas > 0, genesis-height >= 2, "
                 "rates <= 1");
        return NF_ECONFIG;
    }
    return 0;
}
