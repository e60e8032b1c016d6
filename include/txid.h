/* txid: the public id of a transfer, "<id>-<tag>": the decimal sequence number the slab and the
 * log key it by, then 16 lowercase hex digits of a random 64-bit tag drawn when it was accepted
 * and kept in its ACCEPT record. Knowing some ids tells nothing about the tags of others, so a
 * client that may read transfers cannot list them by counting (docs/SECURITY.md, "Transfer ids").
 * A transfer accepted before ids carried a tag has tag 0 and keeps its plain decimal id.
 *
 * Pure apart from txid_key_new / txid_key_free (libsodium secure memory); no threads. The key is
 * read-only after txid_key_new and may be read by any thread; the caller owns it. */
#ifndef NF_TXID_H
#define NF_TXID_H

#include <stddef.h>
#include <stdint.h>

/* Longest id: 20 digits, '-', 16 hex digits, plus the NUL. */
#define TXID_MAX 38

/* txid_key_new: a fresh random key for txid_tag in sodium memory, sealed read-only; NULL when
 * sodium_malloc fails. Start-up. Free with txid_key_free (wipes it). */
unsigned char *txid_key_new(void);
void txid_key_free(unsigned char *key);

/* txid_tag: the tag of transfer id under key: keyed SipHash-2-4 (crypto_shorthash) of the id,
 * never 0. A key drawn at each start makes tags unpredictable without the key; a tag is stored,
 * never recomputed, so the key need not outlive the process. Any thread. */
uint64_t txid_tag(const unsigned char *key, uint64_t id);

/* txid_format: writes the public id of (id, tag) with a NUL into buf (TXID_MAX bytes) and returns
 * its length: "<id>-<16 hex>", or "<id>" alone when tag is 0. */
size_t txid_format(char *buf, uint64_t id, uint64_t tag);

/* txid_parse: s (NUL-terminated) as a public id. "<id>-<16 lowercase hex>" gives its id and a
 * non-zero *tag; a plain decimal (1..20 digits) gives *tag 0. 0, NF_EINVAL (anything else: empty,
 * another character, a tag of another length or of 0) or NF_ERANGE (a number above 2^64-1). */
int txid_parse(const char *s, uint64_t *id, uint64_t *tag);

/* txid_same: 1 when the tags are equal, compared in constant time (a guess learns nothing from
 * how long the comparison took). */
int txid_same(uint64_t a, uint64_t b);

#endif
