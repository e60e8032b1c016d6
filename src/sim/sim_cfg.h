/* sim_cfg: nearsim's command-line configuration from one declarative flag table (name, type,
 * default, help). Pure: parses argv into a struct sim_cfg with range checks and names the flag
 * and value in errors. Start-up only (main thread). */
#ifndef NF_SIM_CFG_H
#define NF_SIM_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim_chain.h"

enum sim_error_kind { SIM_ERR_503 = 0, SIM_ERR_INTERNAL = 1, SIM_ERR_MIXED = 2 };

/* Fault knobs: set by flags at start and by POST /sim/faults at run time. */
struct sim_faults {
    double error_rate;    /* share of JSON-RPC requests answered with an error, nothing applied */
    int error_kind;       /* enum sim_error_kind */
    double lost_ack_rate; /* share of tx submissions applied, then connection dropped */
    uint64_t latency_ms;  /* added before every JSON-RPC reply */
    uint64_t jitter_ms;   /* plus uniform 0..jitter */
    uint64_t rate_limit;  /* requests per second above which HTTP 429 (0 = off) */
    double congestion;    /* forced congestion level (0 = off) */
};

struct sim_cfg {
    struct sim_chain_cfg chain;
    char listen[128];
    char lagging_listen[128]; /* "" = no lagging listener */
    uint64_t lag_blocks;      /* how far it is behind */
    uint32_t keys;
    char credentials_out[512];
    char seed[128];
    uint64_t block_ms;
    uint64_t wait_timeout_ms;
    uint64_t max_body;
    struct sim_faults faults;
    char error_kind_name[16];
};

/* sim_cfg_parse: defaults, then argv flags (--name value or --name=value). Returns 0, 1 when
 * --help was printed to out, or NF_ECONFIG with a one-line reason in err (errcap bytes). */
int sim_cfg_parse(struct sim_cfg *cfg, int argc, char **argv, FILE *out, char *err, size_t errcap);

/* sim_cfg_parse_u64: decimal with an optional K/M/G/T/P suffix (10^3..10^15), e.g. "300T".
 * Returns 0 or NF_EINVAL / NF_ERANGE. */
int sim_cfg_parse_u64(const char *s, uint64_t *out);

/* sim_error_kind_parse: "503" | "internal" | "mixed" -> enum, or -1. */
int sim_error_kind_parse(const char *s);

#endif
