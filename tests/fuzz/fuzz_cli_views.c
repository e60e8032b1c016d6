/* fuzz_cli_views: libFuzzer target for the view answers `nearft doctor` reads from an RPC node
 * (cli_plan.c): ft_balance_of's u128 string, storage_balance_bounds, ft_metadata and the
 * protocol_version of a `status` answer. The whole input goes to each reader; whatever they
 * accept must be in range. Single-threaded; no allocation kept. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    const char *json = (const char *)data;
    char why[256];
    nf_u128 v = 0;
    (void)cli_view_u128(json, size, &v);
    (void)cli_view_storage_bounds(json, size, &v, why, sizeof(why));
    char symbol[16];
    unsigned decimals = 0;
    if (cli_view_ft_metadata(json, size, symbol, sizeof(symbol), &decimals, why, sizeof(why)) ==
        0) {
        if (decimals > 255 || strlen(symbol) >= sizeof(symbol))
            abort();
    }
    static struct jtok toks[512];
    uint64_t pv = 0;
    (void)cli_view_status_protocol(json, size, toks, 512, &pv);
    return 0;
}
