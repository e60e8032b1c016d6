/* wal_lease: the value of the cluster log's lease (the key "log" of the KV bucket
 * "<stream>_lease", docs/CLUSTER.md): "<writer id>", "<writer id> <address>", or, with the
 * cluster's secret, "<writer id> <address> <mac>", where mac is 32 lowercase hex digits (a
 * 128-bit prefix of an HMAC-SHA-256 under the secret over the stream, the id and the address).
 * The value comes from the NATS KV bucket, which any client allowed to write it can set: the
 * parser trusts nothing in it, and an address counts only when the secret vouches for it (or no
 * secret is configured). Pure functions: no allocation, no global state, any thread. */
#ifndef NF_WAL_LEASE_H
#define NF_WAL_LEASE_H

#include <stddef.h>
#include <stdint.h>

#define WAL_LEASE_MAC_HEX 32u

/* wal_lease_mac: the value's MAC (WAL_LEASE_MAC_HEX digits and a NUL into hex). key: the
 * cluster's 32-byte HMAC key (borrowed). */
void wal_lease_mac(const uint8_t *key,
                   const char *stream,
                   const char *id,
                   const char *addr,
                   char hex[WAL_LEASE_MAC_HEX + 1]);

/* wal_lease_format: writes the value of holder id advertising addr ("" for none) into out: with
 * the MAC when key is not NULL and addr is not "". 0, or NF_ENOSPC (out holds "") when it does
 * not fit in cap bytes. */
int wal_lease_format(const uint8_t *key,
                     const char *stream,
                     const char *id,
                     const char *addr,
                     char *out,
                     size_t cap);

/* wal_lease_parse: reads value v (NUL-terminated) into the holder's id (id, truncated to
 * id_cap - 1 bytes: only compared) and the address it advertises (addr; "" when it has none,
 * when the address does not fit in addr_cap or has a byte outside printable ASCII, or when key
 * is not NULL and the MAC is missing or wrong). Returns 0, or 1 when an address was given but is
 * not trusted (addr ""), so that the caller can say why it does not relay to it. */
int wal_lease_parse(const char *v,
                    const uint8_t *key,
                    const char *stream,
                    char *id,
                    size_t id_cap,
                    char *addr,
                    size_t addr_cap);

#endif
