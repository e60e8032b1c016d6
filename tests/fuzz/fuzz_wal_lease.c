/* fuzz_wal_lease: the cluster log lease's value as read from the KV bucket (wal_lease_parse),
 * with and without the cluster's secret. It must return 0 or 1; the id and address must be
 * NUL-terminated within their buffers; an address must be printable ASCII without spaces; with
 * the secret, an address it accepts must be exactly what wal_lease_format writes for that id
 * (nothing unauthenticated gets through); without it, the value must begin "<id> <address>".
 * Each accepted address is formatted again and must parse back to itself. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wal_lease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_one(const char *v, const uint8_t *key)
{
    char id[24], addr[128], back[300], id2[24], addr2[128];
    memset(id, 0x55, sizeof(id));
    memset(addr, 0x55, sizeof(addr));
    int rc = wal_lease_parse(v, key, "NEARFT", id, sizeof(id), addr, sizeof(addr));
    if ((rc != 0 && rc != 1) || memchr(id, '\0', sizeof(id)) == NULL ||
        memchr(addr, '\0', sizeof(addr)) == NULL)
        abort();
    size_t alen = strlen(addr);
    for (size_t i = 0; i < alen; i++)
        if ((unsigned char)addr[i] <= 0x20 || (unsigned char)addr[i] >= 0x7f)
            abort();
    if (rc == 1 && alen != 0)
        abort();
    if (alen == 0)
        return;
    const char *sp = strchr(v, ' ');
    if (sp == NULL || strncmp(sp + 1, addr, alen) != 0)
        abort();
    size_t id_len = (size_t)(sp - v);
    if (strncmp(v, id, strlen(id)) != 0 || (id_len < sizeof(id) && strlen(id) != id_len))
        abort();
    if (key != NULL) {
        char full_id[256];
        if (id_len >= sizeof(full_id))
            abort();
        memcpy(full_id, v, id_len);
        full_id[id_len] = '\0';
        if (wal_lease_format(key, "NEARFT", full_id, addr, back, sizeof(back)) != 0 ||
            strcmp(back, v) != 0)
            abort();
    } else if (sp[1 + alen] != '\0' && sp[1 + alen] != ' ') {
        abort();
    }
    /* Formatting what was read and parsing it again gives it back (the id as read). */
    if (wal_lease_format(key, "NEARFT", id, addr, back, sizeof(back)) != 0 ||
        wal_lease_parse(back, key, "NEARFT", id2, sizeof(id2), addr2, sizeof(addr2)) != 0 ||
        strcmp(id2, id) != 0 || strcmp(addr2, addr) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t key[crypto_auth_hmacsha256_KEYBYTES];
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            abort();
        memset(key, 0x42, sizeof(key)); /* fixed: runs repeat */
        ready = 1;
    }
    char *v = malloc(size + 1);
    if (v == NULL)
        abort();
    memcpy(v, data, size);
    v[size] = '\0';
    check_one(v, NULL);
    check_one(v, key);
    free(v);
    return 0;
}
