/* wal_lease: the lease value's format, parser and MAC (see include/wal_lease.h). Pure: no
 * allocation, no global state; the key is borrowed for the call. */
#include "wal_lease.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "nf_err.h"

void wal_lease_mac(const uint8_t *key,
                   const char *stream,
                   const char *id,
                   const char *addr,
                   char hex[WAL_LEASE_MAC_HEX + 1])
{
    static const char domain[] = "nearft-lease-v1";
    crypto_auth_hmacsha256_state s;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&s, key, crypto_auth_hmacsha256_KEYBYTES);
    crypto_auth_hmacsha256_update(&s, (const uint8_t *)domain, sizeof(domain));
    crypto_auth_hmacsha256_update(&s, (const uint8_t *)stream, strlen(stream) + 1);
    crypto_auth_hmacsha256_update(&s, (const uint8_t *)id, strlen(id) + 1);
    crypto_auth_hmacsha256_update(&s, (const uint8_t *)addr, strlen(addr) + 1);
    crypto_auth_hmacsha256_final(&s, mac);
    sodium_bin2hex(hex, WAL_LEASE_MAC_HEX + 1, mac, WAL_LEASE_MAC_HEX / 2);
    sodium_memzero(&s, sizeof(s));
}

int wal_lease_format(
    const uint8_t *key, const char *stream, const char *id, const char *addr, char *out, size_t cap)
{
    int n;
    if (addr[0] != '\0' && key != NULL) {
        char mac[WAL_LEASE_MAC_HEX + 1];
        wal_lease_mac(key, stream, id, addr, mac);
        n = snprintf(out, cap, "%s %s %s", id, addr, mac);
    } else if (addr[0] != '\0') {
        n = snprintf(out, cap, "%s %s", id, addr);
    } else {
        n = snprintf(out, cap, "%s", id);
    }
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return NF_ENOSPC;
    }
    return 0;
}

/* printable: every byte of s[0..len) is printable ASCII other than the space. */
static int printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

int wal_lease_parse(const char *v,
                    const uint8_t *key,
                    const char *stream,
                    char *id,
                    size_t id_cap,
                    char *addr,
                    size_t addr_cap)
{
    const char *sp = strchr(v, ' ');
    size_t id_len = sp != NULL ? (size_t)(sp - v) : strlen(v);
    snprintf(id, id_cap, "%.*s", (int)(id_len < id_cap ? id_len : id_cap - 1), v);
    addr[0] = '\0';
    if (sp == NULL)
        return 0;
    const char *a = sp + 1, *sp2 = strchr(a, ' ');
    size_t alen = sp2 != NULL ? (size_t)(sp2 - a) : strlen(a);
    if (alen == 0 || alen >= addr_cap || !printable(a, alen))
        return 1;
    memcpy(addr, a, alen);
    addr[alen] = '\0';
    if (key == NULL)
        return 0;
    /* An address only when the cluster's secret vouches for it, over the id as written. */
    char full_id[256], want[WAL_LEASE_MAC_HEX + 1];
    if (id_len >= sizeof(full_id) || sp2 == NULL || strlen(sp2 + 1) != WAL_LEASE_MAC_HEX) {
        addr[0] = '\0';
        return 1;
    }
    memcpy(full_id, v, id_len);
    full_id[id_len] = '\0';
    wal_lease_mac(key, stream, full_id, addr, want);
    if (sodium_memcmp(want, sp2 + 1, WAL_LEASE_MAC_HEX) != 0) {
        addr[0] = '\0';
        return 1;
    }
    return 0;
}
