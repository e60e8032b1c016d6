/* fuzz_cli_args: libFuzzer target for the nearft action-spec parsers. The input is split at '\n'
 * into specs; each spec's first byte picks the parser (ft-transfer, storage-deposit,
 * function-call, transfer, add-key, delete-key) and the rest is the flag value. Whatever the
 * parsers accept must encode (near_tx_encode) and the builder must never exceed 100 actions.
 * Single-threaded; frees everything per input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "near_tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int (*const parsers[])(struct cli_builder *, const char *, char *, size_t) = {
        cli_add_ft_transfer, cli_add_storage_deposit, cli_add_function_call,
        cli_add_transfer,    cli_add_add_key,         cli_add_delete_key,
    };
    if (size > 65536)
        return 0;
    char *text = malloc(size + 1);
    struct cli_builder *b = cli_builder_new();
    if (text == NULL || b == NULL)
        goto out;
    memcpy(text, data, size);
    text[size] = '\0';
    char *spec = text;
    while (spec != NULL && *spec != '\0') {
        char *nl = strchr(spec, '\n');
        if (nl != NULL)
            *nl = '\0';
        char why[256];
        uint32_t before = b->n;
        int rc = parsers[(unsigned char)spec[0] % 6](b, spec + 1, why, sizeof(why));
        if ((rc == 0) != (b->n == before + 1) || b->n > NEAR_MAX_ACTIONS)
            abort();
        if (rc != 0 && strlen(why) == 0)
            abort();
        spec = nl != NULL ? nl + 1 : NULL;
    }
    cli_set_gas_per_action(b, 1);
    uint8_t key[32] = {1};
    struct near_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.signer_id.ptr = (const uint8_t *)"a.near";
    tx.signer_id.len = 6;
    memcpy(tx.public_key.data, key, sizeof(key));
    tx.receiver_id = tx.signer_id;
    tx.n_actions = b->n;
    tx.actions = b->actions;
    size_t cap = near_tx_encoded_size(&tx), len = 0;
    uint8_t *buf = malloc(cap + 1);
    if (buf == NULL)
        goto out;
    if (near_tx_encode(&tx, buf, cap, &len) != 0 || len != cap)
        abort();
    free(buf);
out:
    cli_builder_free(b);
    free(text);
    return 0;
}
