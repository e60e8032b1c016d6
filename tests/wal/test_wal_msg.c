/* test_wal_msg: the headers of cluster-mode log messages. The segment header's strict decimal
 * parse (signs, spaces, trailing bytes, zero, overflow at 2^64), the MAC against a one-shot
 * HMAC-SHA-256 over the documented message (libsodium's crypto_auth_hmacsha256, not the
 * incremental code under test), and wal_msg_check's verdicts: a MAC for another sequence, segment,
 * stream or payload, a short or missing one, and one carried without a secret. Also the segment
 * file names of the local log (wal_seg_name_parse), and the replay's order check (wal_msg_order).
 */
#include "wal_msg.h"

#include <sodium.h>
#include <string.h>

#include "nf_err.h"
#include "nf_test.h"
#include "wal.h"

static uint8_t key[crypto_auth_hmacsha256_KEYBYTES];

static void put_u64le(uint8_t *out, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

/* expected_mac: HMAC-SHA-256 over "nearft-log-v1\0<stream>\0" u64le(sseq) u64le(seg) payload. */
static void expected_mac(const char *stream,
                         uint64_t sseq,
                         uint64_t seg,
                         const char *payload,
                         char hex[WAL_MSG_MAC_HEX + 1])
{
    uint8_t msg[512], mac[crypto_auth_hmacsha256_BYTES];
    size_t n = 0;
    memcpy(msg, "nearft-log-v1", 14);
    n += 14;
    memcpy(msg + n, stream, strlen(stream) + 1);
    n += strlen(stream) + 1;
    put_u64le(msg + n, sseq);
    put_u64le(msg + n + 8, seg);
    n += 16;
    memcpy(msg + n, payload, strlen(payload));
    n += strlen(payload);
    crypto_auth_hmacsha256(mac, msg, n, key);
    sodium_bin2hex(hex, WAL_MSG_MAC_HEX + 1, mac, sizeof(mac));
}

static void test_seg(void)
{
    uint64_t s = 7;
    CHECK_EQ_INT(wal_msg_seg_parse("1", &s), 0);
    CHECK_EQ_INT((long long)s, 1);
    CHECK_EQ_INT(wal_msg_seg_parse("18446744073709551615", &s), 0);
    CHECK(s == UINT64_MAX);
    s = 7;
    const char *bad[] = {NULL,
                         "",
                         "0",
                         "00",
                         "18446744073709551616",
                         "99999999999999999999",
                         "-1",
                         "+1",
                         " 1",
                         "1 ",
                         "12x",
                         "0x10",
                         "1.0",
                         "１"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ_INT(wal_msg_seg_parse(bad[i], &s), NF_EINVAL);
    CHECK_EQ_INT((long long)s, 7);
    CHECK_EQ_INT(wal_msg_seg_parse("0012", &s), 0); /* leading zeros: still the number */
    CHECK_EQ_INT((long long)s, 12);
}

static void test_check(void)
{
    const char *p = "framed records";
    const uint8_t *d = (const uint8_t *)p;
    size_t n = strlen(p);
    char mac[WAL_MSG_MAC_HEX + 1], want[WAL_MSG_MAC_HEX + 1];
    uint64_t seg = 0;
    wal_msg_mac(key, "NEARFT", 42, 3, d, n, mac);
    expected_mac("NEARFT", 42, 3, p, want);
    CHECK_EQ_STR(mac, want);
    CHECK_EQ_INT(wal_msg_check(key, "NEARFT", 42, "3", mac, d, n, &seg), 0);
    CHECK_EQ_INT((long long)seg, 3);
    /* Moved to another sequence, segment, stream; payload altered. */
    seg = 0;
    CHECK_EQ_INT(wal_msg_check(key, "NEARFT", 43, "3", mac, d, n, &seg), NF_ECORRUPT);
    CHECK_EQ_INT(wal_msg_check(key, "NEARFT", 42, "4", mac, d, n, &seg), NF_ECORRUPT);
    CHECK_EQ_INT(wal_msg_check(key, "OTHER", 42, "3", mac, d, n, &seg), NF_ECORRUPT);
    CHECK_EQ_INT(wal_msg_check(key, "NEARFT", 42, "3", mac, d, n - 1, &seg), NF_ECORRUPT);
    CHECK_EQ_INT((long long)seg, 0);
    /* Missing, short, long, upper-case MAC. */
    CHECK_EQ_INT(wal_msg_check(key, "NEARFT", 42, "3", NULL, d, n, &seg), NF_ECORRUPT);
    char shortmac[WAL_MSG_MAC_HEX];
    memcpy(shortmac, mac, WAL_MSG_MAC_HEX - 1);
    shortmac[WAL_MSG_MAC_HEX - 1] = '\0';
    CHECK_EQ_INT(wal_msg_check(key, "NEARFT", 42, "3", shortmac, d, n, &seg), NF_ECORRUPT);
    char longmac[WAL_MSG_MAC_HEX + 2];
    snprintf(longmac, sizeof(longmac), "%s0", mac);
    CHECK_EQ_INT(wal_msg_check(key, "NEARFT", 42, "3", longmac, d, n, &seg), NF_ECORRUPT);
    char upper[WAL_MSG_MAC_HEX + 1];
    int changed = 0;
    for (size_t i = 0; i <= WAL_MSG_MAC_HEX; i++) {
        upper[i] = mac[i] >= 'a' && mac[i] <= 'f' ? (char)(mac[i] - 32) : mac[i];
        changed |= upper[i] != mac[i];
    }
    if (changed)
        CHECK_EQ_INT(wal_msg_check(key, "NEARFT", 42, "3", upper, d, n, &seg), NF_ECORRUPT);
    /* Without a secret: no MAC is fine, a MAC means this instance lacks the secret. */
    CHECK_EQ_INT(wal_msg_check(NULL, "NEARFT", 42, "3", NULL, d, n, &seg), 0);
    CHECK_EQ_INT(wal_msg_check(NULL, "NEARFT", 42, "3", mac, d, n, &seg), NF_ECONFIG);
    /* The segment header is checked first, whatever the MAC. */
    CHECK_EQ_INT(wal_msg_check(key, "NEARFT", 42, "3x", mac, d, n, &seg), NF_EINVAL);
    CHECK_EQ_INT(wal_msg_check(NULL, "NEARFT", 42, NULL, NULL, d, n, &seg), NF_EINVAL);
}

static void test_seg_names(void)
{
    uint64_t s = 5;
    CHECK_EQ_INT(wal_seg_name_parse("wal-00000000000000ff.log", &s), 0);
    CHECK_EQ_INT((long long)s, 255);
    CHECK_EQ_INT(wal_seg_name_parse("wal-ffffffffffffffff.log", &s), 0);
    CHECK(s == UINT64_MAX);
    s = 5;
    const char *bad[] = {"wal-1.log",
                         "wal-00000000000000ff.log.bak",
                         "wal-00000000000000FF.log",
                         "wal-00000000000000ff.lo",
                         "wal-0000000000000000ff.log",
                         "xal-00000000000000ff.log",
                         "wal-00000000000000g1.log",
                         ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ_INT(wal_seg_name_parse(bad[i], &s), -1);
    CHECK_EQ_INT((long long)s, 5);
}

/* The replay's order check: any first message (a purged prefix), then each the next; what was
 * delivered already is skipped; a jump is a gap. */
static void test_order(void)
{
    static const struct {
        uint64_t seen, sseq;
        enum wal_msg_order want;
    } cases[] = {
        {0, 1, WAL_MSG_NEXT},
        {0, 15000, WAL_MSG_NEXT}, /* the stream's first message after a purge */
        {1, 2, WAL_MSG_NEXT},
        {502, 503, WAL_MSG_NEXT},
        {502, 502, WAL_MSG_REPEAT},
        {502, 1, WAL_MSG_REPEAT},
        {502, 504, WAL_MSG_GAP},
        {502, 15000, WAL_MSG_GAP}, /* purged up to 15,000 while this replay stood at 502 */
        {UINT64_MAX - 1, UINT64_MAX, WAL_MSG_NEXT},
        {UINT64_MAX, UINT64_MAX, WAL_MSG_REPEAT},
        {1, UINT64_MAX, WAL_MSG_GAP},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_EQ_INT(wal_msg_order(cases[i].seen, cases[i].sseq), cases[i].want);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    randombytes_buf(key, sizeof(key));
    test_seg();
    test_check();
    test_seg_names();
    test_order();
    return nf_test_report("test_wal_msg");
}
