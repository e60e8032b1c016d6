/* nearsim main: parses flags, builds the genesis chain (signer with the FT supply and --keys
 * full-access keys, the FT contract, registered and unregistered receivers), writes the signer's
 * keys to --credentials-out (near-cli-rs layout plus the legacy single file for the first key),
 * then runs the server until SIGINT/SIGTERM. Main thread only. */
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "nf_err.h"
#include "sim_cfg.h"
#include "sim_chain.h"
#include "sim_server.h"

static int make_keys(const struct sim_cfg *cfg, struct sim_chain *chain)
{
    for (uint32_t i = 0; i < cfg->keys; i++) {
        struct nf_keypair *kp = NULL;
        int rc;
        if (cfg->seed[0] != 0) {
            char text[160];
            uint8_t seed[32];
            int n = snprintf(text, sizeof(text), "%s:%u", cfg->seed, i);
            crypto_hash_sha256(seed, (const uint8_t *)text, (unsigned long long)n);
            rc = keys_from_seed(seed, &kp);
            sodium_memzero(seed, sizeof(seed));
        } else {
            rc = keys_generate(&kp);
        }
        if (rc != 0)
            return rc;
        rc = sim_chain_add_key(chain, cfg->chain.signer, keys_public(kp));
        if (rc == 0 && cfg->credentials_out[0] != 0) {
            char path[1024], err[1024];
            rc = keys_write_file(cfg->credentials_out, cfg->chain.signer, kp, 0, path, sizeof(path),
                                 err, sizeof(err));
            if (rc == 0 && i == 0)
                rc = keys_write_file(cfg->credentials_out, cfg->chain.signer, kp, 1, path,
                                     sizeof(path), err, sizeof(err));
            if (rc != 0)
                fprintf(stderr, "lvl=error mod=sim msg=\"writing credentials failed\" err=\"%s\"\n",
                        err);
        }
        keys_free(kp);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* nearsim only grows (it keeps every transaction) and answers with 40 KB bodies many times a
     * second: keep freed memory instead of trimming it back to the kernel and faulting it in
     * again, and serve large blocks from the heap. */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("nearsim %s\n", NF_VERSION);
        return 0;
    }
    static struct sim_cfg cfg;
    char err[300];
    int rc = sim_cfg_parse(&cfg, argc, argv, stdout, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "nearsim: %s\n", err);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "nearsim: libsodium init failed\n");
        return 1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    struct sim_chain *chain = NULL;
    rc = sim_chain_new(&cfg.chain, now, &chain);
    if (rc != 0) {
        fprintf(stderr, "nearsim: genesis failed: %s (check account names)\n", nf_strerror(rc));
        return 2;
    }
    rc = make_keys(&cfg, chain);
    if (rc != 0) {
        fprintf(stderr, "nearsim: keys: %s\n", nf_strerror(rc));
        sim_chain_free(chain);
        return 1;
    }
    struct sim_server *srv = NULL;
    rc = sim_server_new(&cfg, chain, &srv);
    if (rc != 0) {
        sim_chain_free(chain);
        return 1;
    }
    fprintf(stderr,
            "lvl=info mod=sim msg=\"nearsim ready\" signer=%s contract=%s keys=%u receivers=%u "
            "block_ms=%llu\n",
            cfg.chain.signer, cfg.chain.contract, cfg.keys, cfg.chain.receivers,
            (unsigned long long)cfg.block_ms);
    sim_server_run(srv);
    sim_server_free(srv);
    sim_chain_free(chain);
    return 0;
}
