/* test_wal_lease: the cluster log lease's value. Formats with and without a secret and address,
 * the MAC checked against a one-shot HMAC-SHA-256 over the documented message (libsodium's
 * crypto_auth_hmacsha256, not the incremental code under test), round trips, and the parser's
 * refusals: a wrong, short, missing or other stream's MAC, an address that does not fit or is not
 * printable, and ids that are truncated but still compared. */
#include "wal_lease.h"

#include <sodium.h>
#include <string.h>

#include "nf_err.h"
#include "nf_test.h"

static uint8_t key[crypto_auth_hmacsha256_KEYBYTES];

/* expected_mac: HMAC-SHA-256 over "nearft-lease-v1\0<stream>\0<id>\0<addr>\0", first 16 bytes. */
static void expected_mac(const char *stream, const char *id, const char *addr, char hex[33])
{
    uint8_t msg[512], mac[crypto_auth_hmacsha256_BYTES];
    size_t n = 0;
    const char *parts[] = {"nearft-lease-v1", stream, id, addr};
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(parts[i]) + 1;
        memcpy(msg + n, parts[i], l);
        n += l;
    }
    crypto_auth_hmacsha256(mac, msg, n, key);
    sodium_bin2hex(hex, 33, mac, 16);
}

static void test_format(void)
{
    char out[220], mac[33], want[220];
    CHECK_EQ_INT(wal_lease_format(NULL, "NEARFT", "00ab", "", out, sizeof(out)), 0);
    CHECK_EQ_STR(out, "00ab");
    CHECK_EQ_INT(wal_lease_format(key, "NEARFT", "00ab", "", out, sizeof(out)), 0);
    CHECK_EQ_STR(out, "00ab");
    CHECK_EQ_INT(wal_lease_format(NULL, "NEARFT", "00ab", "10.0.0.1:8080", out, sizeof(out)), 0);
    CHECK_EQ_STR(out, "00ab 10.0.0.1:8080");
    CHECK_EQ_INT(wal_lease_format(key, "NEARFT", "00ab", "10.0.0.1:8080", out, sizeof(out)), 0);
    expected_mac("NEARFT", "00ab", "10.0.0.1:8080", mac);
    snprintf(want, sizeof(want), "00ab 10.0.0.1:8080 %s", mac);
    CHECK_EQ_STR(out, want);
    wal_lease_mac(key, "NEARFT", "00ab", "10.0.0.1:8080", mac);
    CHECK_EQ_STR(out + strlen("00ab 10.0.0.1:8080 "), mac);
    /* Too small: NF_ENOSPC and "" rather than a truncated value. */
    CHECK_EQ_INT(wal_lease_format(key, "NEARFT", "00ab", "10.0.0.1:8080", out, 20), NF_ENOSPC);
    CHECK_EQ_STR(out, "");
}

static void test_parse(void)
{
    char v[300], id[64], addr[128], mac[33];
    /* Round trips. */
    wal_lease_format(key, "S", "deadbeef", "h:1", v, sizeof(v));
    CHECK_EQ_INT(wal_lease_parse(v, key, "S", id, sizeof(id), addr, sizeof(addr)), 0);
    CHECK_EQ_STR(id, "deadbeef");
    CHECK_EQ_STR(addr, "h:1");
    CHECK_EQ_INT(wal_lease_parse("deadbeef h:1", NULL, "S", id, sizeof(id), addr, sizeof(addr)), 0);
    CHECK_EQ_STR(addr, "h:1");
    CHECK_EQ_INT(wal_lease_parse("deadbeef", key, "S", id, sizeof(id), addr, sizeof(addr)), 0);
    CHECK_EQ_STR(id, "deadbeef");
    CHECK_EQ_STR(addr, "");
    CHECK_EQ_INT(wal_lease_parse("", key, "S", id, sizeof(id), addr, sizeof(addr)), 0);
    CHECK_EQ_STR(id, "");
    /* With a secret, an address needs its MAC: missing, wrong, short, for another stream, id or
     * address. The id is still read. */
    CHECK_EQ_INT(wal_lease_parse("deadbeef h:1", key, "S", id, sizeof(id), addr, sizeof(addr)), 1);
    CHECK_EQ_STR(id, "deadbeef");
    CHECK_EQ_STR(addr, "");
    expected_mac("S", "deadbeef", "h:1", mac);
    snprintf(v, sizeof(v), "deadbeef h:1 %s", mac);
    CHECK_EQ_INT(wal_lease_parse(v, key, "S", id, sizeof(id), addr, sizeof(addr)), 0);
    CHECK_EQ_INT(wal_lease_parse(v, key, "T", id, sizeof(id), addr, sizeof(addr)), 1);
    CHECK_EQ_STR(addr, "");
    snprintf(v, sizeof(v), "deadbeef h:2 %s", mac);
    CHECK_EQ_INT(wal_lease_parse(v, key, "S", id, sizeof(id), addr, sizeof(addr)), 1);
    snprintf(v, sizeof(v), "deadbeee h:1 %s", mac);
    CHECK_EQ_INT(wal_lease_parse(v, key, "S", id, sizeof(id), addr, sizeof(addr)), 1);
    snprintf(v, sizeof(v), "deadbeef h:1 %.31s", mac);
    CHECK_EQ_INT(wal_lease_parse(v, key, "S", id, sizeof(id), addr, sizeof(addr)), 1);
    snprintf(v, sizeof(v), "deadbeef h:1 %s0", mac);
    CHECK_EQ_INT(wal_lease_parse(v, key, "S", id, sizeof(id), addr, sizeof(addr)), 1);
    mac[0] = mac[0] == '0' ? '1' : '0';
    snprintf(v, sizeof(v), "deadbeef h:1 %s", mac);
    CHECK_EQ_INT(wal_lease_parse(v, key, "S", id, sizeof(id), addr, sizeof(addr)), 1);
    CHECK_EQ_STR(addr, "");
    /* Addresses that are not usable: empty, control or non-ASCII bytes, too long. */
    CHECK_EQ_INT(wal_lease_parse("deadbeef ", NULL, "S", id, sizeof(id), addr, sizeof(addr)), 1);
    CHECK_EQ_INT(wal_lease_parse("deadbeef  h:1", NULL, "S", id, sizeof(id), addr, sizeof(addr)),
                 1);
    CHECK_EQ_INT(wal_lease_parse("deadbeef h\t:1", NULL, "S", id, sizeof(id), addr, sizeof(addr)),
                 1);
    CHECK_EQ_INT(
        wal_lease_parse("deadbeef h\xc3\xa9:1", NULL, "S", id, sizeof(id), addr, sizeof(addr)), 1);
    CHECK_EQ_STR(addr, "");
    memset(v, 'a', sizeof(v));
    memcpy(v, "id ", 3);
    v[3 + sizeof(addr)] = '\0'; /* an address of sizeof(addr) bytes: one too many */
    CHECK_EQ_INT(wal_lease_parse(v, NULL, "S", id, sizeof(id), addr, sizeof(addr)), 1);
    CHECK_EQ_STR(addr, "");
    v[3 + sizeof(addr) - 1] = '\0'; /* exactly fits */
    CHECK_EQ_INT(wal_lease_parse(v, NULL, "S", id, sizeof(id), addr, sizeof(addr)), 0);
    CHECK_EQ_INT((long long)strlen(addr), (long long)sizeof(addr) - 1);
    /* A long id is truncated for the comparison, and its MAC is over the id as written. */
    char long_id[100];
    memset(long_id, 'f', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    wal_lease_format(key, "S", long_id, "h:1", v, sizeof(v));
    CHECK_EQ_INT(wal_lease_parse(v, key, "S", id, 8, addr, sizeof(addr)), 0);
    CHECK_EQ_STR(id, "fffffff");
    CHECK_EQ_STR(addr, "h:1");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    randombytes_buf(key, sizeof(key));
    test_format();
    test_parse();
    return nf_test_report("test_wal_lease");
}
