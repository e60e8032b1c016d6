/* fuzz_sim_rpc: nearsim's JSON-RPC request path (JSON -> params -> base64 -> Borsh -> admission
 * -> reply rendering) on a small chain. The first input byte picks the mode: 0 the raw body as
 * a JSON-RPC request, 1 the rest wrapped as send_tx base64 (Borsh decoder path), 2 the rest as
 * ft_transfer arguments executed in a block (contract model + outcome rendering). */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "sim/sim_chain.h"
#include "sim/sim_rpc.h"
#include "sim/sim_testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sim_chain *chain;
static struct nf_keypair *key;
static uint64_t next_nonce;

static void handle(const char *body, size_t len)
{
    struct sim_rpc_reply r;
    if (sim_rpc_handle(chain, body, len, &r) == 0 && r.pending) {
        struct sim_rpc_reply p;
        memset(&p, 0, sizeof(p));
        if (!sim_rpc_poll(chain, &r.wait, &p))
            sim_rpc_timeout(&r.wait, &p);
        sim_rpc_reply_free(&p);
    }
    sim_rpc_reply_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (chain == NULL) {
        if (sodium_init() < 0)
            abort();
        struct sim_chain_cfg cfg;
        t_small_cfg(&cfg);
        key = t_key(42);
        chain = t_chain(&cfg, key);
        next_nonce = 99000001ull;
    }
    if (size == 0 || size > 65536)
        return 0;
    uint8_t mode = data[0] % 3;
    data++;
    size--;
    if (mode == 0) {
        handle((const char *)data, size);
    } else if (mode == 1) {
        size_t b64cap = sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL);
        char *body = malloc(b64cap + 128);
        int n = snprintf(body, 128,
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"send_tx\","
                         "\"params\":{\"signed_tx_base64\":\"");
        sodium_bin2base64(body + n, b64cap, data, size, sodium_base64_VARIANT_ORIGINAL);
        size_t len = strlen(body);
        memcpy(body + len, "\",\"wait_until\":\"NONE\"}}", 24);
        handle(body, len + 23);
        free(body);
    } else {
        char *args = malloc(size + 1);
        memcpy(args, data, size);
        args[size] = 0;
        struct near_action a = t_fc(size % 2 ? "ft_transfer" : "storage_deposit", args,
                                    30000000000000ull, size % 2 ? 1 : SIM_MIN_STORAGE);
        a.u.function_call.args.len = (uint32_t)size; /* may contain NUL bytes */
        size_t len;
        uint8_t *raw = t_sign(key, chain->cfg.signer, chain->cfg.contract, next_nonce++,
                              sim_chain_block(chain, chain->head)->hash, &a, 1, &len);
        struct sim_submit_result res;
        if (sim_chain_submit(chain, raw, len, 0, &res) == 0 && res.status == SIM_SUBMIT_ACCEPTED) {
            uint8_t hash[32];
            memcpy(hash, res.hash, 32);
            for (int i = 0; i < 3; i++)
                sim_chain_produce_block(chain, 2000000000ull + chain->head * 1000000ull);
            char b58[64], body[256];
            struct sim_tx *tx = sim_chain_find_tx(chain, hash);
            if (tx != NULL) {
                if (b58_encode(hash, 32, b58, sizeof(b58)) > 0) {
                    int n = snprintf(body, sizeof(body),
                                     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                                     "\"EXPERIMENTAL_tx_status\",\"params\":{\"tx_hash\":\"%s\","
                                     "\"sender_account_id\":\"x.near\",\"wait_until\":\"NONE\"}}",
                                     b58);
                    handle(body, (size_t)n);
                }
            }
        }
        free(raw);
        free(args);
        /* keep nonces below height * 10^6 */
        if (next_nonce >= chain->head * 1000000ull - 10)
            sim_chain_produce_block(chain, 2000000000ull + chain->head * 1000000ull);
    }
    return 0;
}
