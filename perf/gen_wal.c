/* gen_wal: writes a durable log as a long bulk run leaves it, for start-up and replay benchmarks
 * (perf/startup.sh). Per transaction of `per_tx` transfers: per_tx ACCEPT records (receiver,
amount,
 * memo, every fourth with an idempotency key), one SIGNED record (the actions and a signed_tx of
 * the size a real one has), one OUTCOME (success) and per_tx JOB_FINAL records, in the order
 * nearftd writes them, whole transactions until at least `records` records are written (every
transfer settled, as after a clean stop). Segments roll at 64 MiB as nearftd's
 * do. Usage: gen_wal DIR RECORDS [PER_TX (default 100)] [KEYS (default 12)]. DIR must not hold a
 * log yet. Prints `name=value unit` lines. Single thread; not part of nearftd. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nf_err.h"
#include "wal_rec.h"

#define SEGMENT_BYTES (64u << 20)
#define OUT_BUF       (1u << 20)

struct out {
    const char *dir;
    uint64_t seq;
    int fd;
    uint64_t seg_bytes, total_bytes;
    uint8_t buf[OUT_BUF];
    size_t len;
};

static int flush_out(struct out *o)
{
    size_t off = 0;
    while (off < o->len) {
        ssize_t n = write(o->fd, o->buf + off, o->len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        off += (size_t)n;
    }
    o->len = 0;
    return 0;
}

static int open_segment(struct out *o)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/wal-%016llx.log", o->dir, (unsigned long long)o->seq);
    o->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    o->seg_bytes = 0;
    if (o->fd < 0)
        fprintf(stderr, "gen_wal: %s: %s\n", path, strerror(errno));
    return o->fd < 0 ? -1 : 0;
}

/* put: one record, framed, into the current segment (a new one past SEGMENT_BYTES). */
static int put(struct out *o, const struct wal_rec *rec)
{
    static uint8_t frame[WAL_REC_FRAME_MAX];
    size_t len;
    if (wal_rec_encode_framed(rec, frame, sizeof(frame), &len) != 0) {
        fprintf(stderr, "gen_wal: a record of type %u does not encode\n", rec->type);
        return -1;
    }
    if (o->seg_bytes + len > SEGMENT_BYTES) {
        if (flush_out(o) != 0 || close(o->fd) != 0)
            return -1;
        o->seq++;
        if (open_segment(o) != 0)
            return -1;
    }
    if (o->len + len > OUT_BUF && flush_out(o) != 0)
        return -1;
    memcpy(o->buf + o->len, frame, len);
    o->len += len;
    o->seg_bytes += len;
    o->total_bytes += len;
    return 0;
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(seed >> 56);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gen_wal DIR RECORDS [PER_TX] [KEYS]\n");
        return 2;
    }
    uint64_t want = strtoull(argv[2], NULL, 10);
    unsigned per_tx = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 100;
    unsigned keys = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 12;
    if (want == 0 || per_tx == 0 || per_tx > WAL_REC_MAX_ACTIONS || keys == 0) {
        fprintf(stderr, "gen_wal: RECORDS > 0, 1 <= PER_TX <= %u, KEYS > 0\n", WAL_REC_MAX_ACTIONS);
        return 2;
    }
    if (mkdir(argv[1], 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "gen_wal: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    static struct out o;
    o.dir = argv[1];
    o.seq = 1;
    if (open_segment(&o) != 0)
        return 1;

    static struct wal_action acts[WAL_REC_MAX_ACTIONS];
    static uint8_t signed_tx[WAL_REC_MAX_ACTIONS * 112 + 200];
    char receivers[WAL_REC_MAX_ACTIONS][40], memos[WAL_REC_MAX_ACTIONS][40];
    char idem[WAL_REC_MAX_ACTIONS][40];
    uint64_t written = 0, next_id = 1, txs = 0, nonce = 1000000;
    const uint64_t ts = 1796000000000ull;
    while (written < want) {
        uint64_t first = next_id;
        for (unsigned i = 0; i < per_tx; i++) {
            uint64_t id = next_id++;
            struct wal_rec r;
            memset(&r, 0, sizeof(r));
            r.type = WAL_ACCEPT;
            r.accept.id = id;
            r.accept.ts_ms = ts + id / 64;
            r.accept.route = (uint8_t)(id % 3);
            int rl = snprintf(receivers[i], sizeof(receivers[i]), "user-%llu.test.near",
                              (unsigned long long)(id % 100000));
            r.accept.receiver = (struct wal_str){receivers[i], (size_t)rl};
            r.accept.amount = 1000000 + id;
            int ml = snprintf(memos[i], sizeof(memos[i]), "payout-%llu", (unsigned long long)id);
            r.accept.memo = (struct wal_str){memos[i], (size_t)ml};
            if (id % 4 == 0) {
                int il = snprintf(idem[i], sizeof(idem[i]), "idem-%llu", (unsigned long long)id);
                r.accept.idem_key = (struct wal_str){idem[i], (size_t)il};
            }
            r.accept.body_hash = id * 0x9e3779b97f4a7c15ull;
            if (put(&o, &r) != 0)
                return 1;
            written++;
        }
        unsigned n = (unsigned)(next_id - first);
        struct wal_rec s;
        memset(&s, 0, sizeof(s));
        s.type = WAL_SIGNED;
        fill(s.sig.tx_hash, sizeof(s.sig.tx_hash), txs * 3 + 1);
        s.sig.key_index = (uint16_t)(txs % keys);
        fill(s.sig.public_key, sizeof(s.sig.public_key), s.sig.key_index + 7);
        s.sig.nonce = ++nonce;
        fill(s.sig.block_hash, sizeof(s.sig.block_hash), txs / 50 + 11);
        s.sig.block_height = 1000 + txs / 50;
        s.sig.ts_ms = ts + first / 64;
        for (unsigned i = 0; i < n; i++)
            acts[i] = (struct wal_action){.kind = WAL_ACT_FT_TRANSFER, .job_id = first + i};
        s.sig.actions = acts;
        s.sig.n_actions = n;
        size_t tx_len = (size_t)n * 112 + 200;
        fill(signed_tx, tx_len, txs * 3 + 2);
        s.sig.signed_tx = signed_tx;
        s.sig.signed_tx_len = tx_len;
        if (put(&o, &s) != 0)
            return 1;
        written++;
        struct wal_rec oc;
        memset(&oc, 0, sizeof(oc));
        oc.type = WAL_OUTCOME;
        memcpy(oc.outcome.tx_hash, s.sig.tx_hash, sizeof(oc.outcome.tx_hash));
        oc.outcome.result = WAL_OUT_SUCCESS;
        oc.outcome.failed_index = -1;
        oc.outcome.message = (struct wal_str){"", 0};
        oc.outcome.ts_ms = s.sig.ts_ms + 2000;
        if (put(&o, &oc) != 0)
            return 1;
        written++;
        for (unsigned i = 0; i < n; i++) {
            struct wal_rec f;
            memset(&f, 0, sizeof(f));
            f.type = WAL_JOB_FINAL;
            f.job_final.job_id = first + i;
            f.job_final.status = WAL_JOB_EXECUTED;
            f.job_final.has_tx_hash = 1;
            memcpy(f.job_final.tx_hash, s.sig.tx_hash, sizeof(f.job_final.tx_hash));
            f.job_final.ts_ms = oc.outcome.ts_ms;
            if (put(&o, &f) != 0)
                return 1;
            written++;
        }
        txs++;
    }
    if (flush_out(&o) != 0 || fsync(o.fd) != 0 || close(o.fd) != 0) {
        fprintf(stderr, "gen_wal: write: %s\n", strerror(errno));
        return 1;
    }
    printf("gen_wal_records=%llu records\n", (unsigned long long)written);
    printf("gen_wal_transfers=%llu transfers\n", (unsigned long long)(next_id - 1));
    printf("gen_wal_transactions=%llu txs\n", (unsigned long long)txs);
    printf("gen_wal_bytes=%llu bytes\n", (unsigned long long)o.total_bytes);
    printf("gen_wal_segments=%llu segments\n", (unsigned long long)o.seq);
    return 0;
}
