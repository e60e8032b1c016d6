/* test_wal: the writer thread, segments and replay against real files in a temp directory.
 * Several producer threads submit batches; every done() must arrive once, with status 0, in
 * order per producer; replay must see every record exactly once; group commit must use fewer
 * fdatasyncs than batches (exactly one for a single burst); torn tails (garbage, cut record,
 * flipped byte, zero fill, bad length) are truncated while corruption followed by valid records
 * or in an earlier segment is NF_ECORRUPT; rotation by size and on demand, deletion of old
 * segments, pre() skips, barriers, stop before start, a write failure (RLIMIT_FSIZE) that must
 * leave no partial record. No sleeps: waits are condition variables and joins. */
#include "wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nf_err.h"
#include "nf_test.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static char *mk_tmpdir(void)
{
    char tmpl[] = "/tmp/test_wal.XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static int count_segments(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "wal-", 4) == 0;
    if (d != NULL)
        closedir(d);
    return n;
}

static void seg_path(char *out, size_t cap, const char *dir, uint64_t seq)
{
    snprintf(out, cap, "%s/wal-%016llx.log", dir, (unsigned long long)seq);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static struct wal_opts opts_for(const char *dir, enum wal_fsync_mode m, unsigned producers)
{
    struct wal_opts o = {
        .dir = dir,
        .fsync = m,
        .segment_bytes = 64u << 20,
        .group_commit_us = 0,
        .producers = producers,
        .ring_size = 64,
    };
    return o;
}

/* Encodes an ACCEPT record with the given id (and a memo so records differ in size). */
static size_t enc_accept(uint8_t *buf, size_t cap, uint64_t id)
{
    struct wal_rec r;
    memset(&r, 0, sizeof(r));
    r.type = WAL_ACCEPT;
    r.accept.id = id;
    r.accept.ts_ms = 1000 + id;
    r.accept.route = WAL_ROUTE_NATIVE;
    r.accept.receiver = (struct wal_str){"receiver.near", 13};
    r.accept.amount = (nf_u128)id * 1000000000000ull;
    r.accept.memo = (struct wal_str){"memo-memo-memo", (size_t)(id % 15)};
    r.accept.body_hash = id * 31;
    size_t len = 0;
    if (wal_rec_encode_framed(&r, buf, cap, &len) != 0)
        return 0;
    return len;
}

/* Replay collector: ids in delivery order and each record's (seq, offset). */
struct collect {
    struct wal_replay_stats *st;
    uint64_t ids[20000];
    uint64_t seq[20000];
    uint64_t off[20000];
    size_t n;
    int bad_type;
};

static int collect_cb(const struct wal_rec *rec, void *ctx)
{
    struct collect *c = ctx;
    if (rec->type != WAL_ACCEPT || c->n >= 20000) {
        c->bad_type = 1;
        return 0;
    }
    c->ids[c->n] = rec->accept.id;
    c->seq[c->n] = c->st->cur_seq;
    c->off[c->n] = c->st->cur_offset;
    c->n++;
    return 0;
}

static int do_replay(const char *dir, struct collect *c, struct wal_replay_stats *st)
{
    c->n = 0;
    c->bad_type = 0;
    c->st = st;
    return wal_replay(dir, collect_cb, c, st);
}

/* ---- multi-producer harness ---------------------------------------------------------------- */

#define SLAB      32
#define REC_BYTES 96

struct prod {
    struct wal *w;
    unsigned idx;
    unsigned nbatches;
    unsigned per_batch; /* records per batch */
    struct wal_batch slab[SLAB];
    uint64_t batch_no[SLAB];
    uint8_t buf[SLAB][REC_BYTES * 100];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int free_stack[SLAB];
    unsigned nfree;
    unsigned ndone;
    uint64_t next_done; /* WAL thread only */
    int order_bad, status_bad, submit_bad;
};

static void prod_done(struct wal_batch *b, int status)
{
    struct prod *p = b->cookie;
    int i = (int)(b - p->slab);
    if (status != 0)
        p->status_bad = 1;
    if (p->batch_no[i] != p->next_done)
        p->order_bad = 1;
    p->next_done++;
    pthread_mutex_lock(&p->mu);
    p->free_stack[p->nfree++] = i;
    p->ndone++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *prod_main(void *arg)
{
    struct prod *p = arg;
    for (unsigned n = 0; n < p->nbatches; n++) {
        pthread_mutex_lock(&p->mu);
        while (p->nfree == 0)
            pthread_cond_wait(&p->cv, &p->mu);
        int i = p->free_stack[--p->nfree];
        pthread_mutex_unlock(&p->mu);
        size_t len = 0;
        for (unsigned r = 0; r < p->per_batch; r++) {
            uint64_t id = (uint64_t)p->idx << 32 | ((uint64_t)n * p->per_batch + r);
            size_t l = enc_accept(p->buf[i] + len, sizeof(p->buf[i]) - len, id);
            if (l == 0)
                p->submit_bad = 1;
            len += l;
        }
        struct wal_batch *b = &p->slab[i];
        memset(b, 0, sizeof(*b));
        b->data = p->buf[i];
        b->len = len;
        b->done = prod_done;
        b->cookie = p;
        p->batch_no[i] = n;
        if (wal_submit_spsc(p->w, p->idx, b) != 0)
            p->submit_bad = 1;
    }
    return NULL;
}

static void
prod_init(struct prod *p, struct wal *w, unsigned idx, unsigned nbatches, unsigned per_batch)
{
    memset(p, 0, sizeof(*p));
    p->w = w;
    p->idx = idx;
    p->nbatches = nbatches;
    p->per_batch = per_batch;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < SLAB; i++)
        p->free_stack[p->nfree++] = i;
}

static void prod_wait_all(struct prod *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->ndone < p->nbatches)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void prod_destroy(struct prod *p)
{
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

static struct collect coll;

/* Replayed ids must be, per producer, exactly 0..total-1 in order. */
static int check_ids(const struct collect *c, unsigned producers, uint64_t per_producer)
{
    uint64_t next[8] = {0};
    for (size_t i = 0; i < c->n; i++) {
        unsigned pi = (unsigned)(c->ids[i] >> 32);
        if (pi >= producers || (c->ids[i] & 0xffffffffu) != next[pi])
            return 0;
        next[pi]++;
    }
    for (unsigned pi = 0; pi < producers; pi++)
        if (next[pi] != per_producer)
            return 0;
    return !c->bad_type;
}

static void run_producers(const char *dir,
                          enum wal_fsync_mode mode,
                          unsigned producers,
                          unsigned nbatches,
                          unsigned per_batch,
                          uint32_t group_us,
                          uint64_t segment_bytes,
                          struct wal_stats *st_out)
{
    static struct prod prods[4];
    struct wal_opts o = opts_for(dir, mode, producers);
    o.group_commit_us = group_us;
    o.segment_bytes = segment_bytes;
    struct wal *w = NULL;
    CHECK_EQ_INT(wal_new(&o, &w), 0);
    if (w == NULL)
        return;
    CHECK_EQ_INT(wal_start(w), 0);
    CHECK_EQ_INT(wal_start(w), NF_ESTATE);
    pthread_t th[4];
    for (unsigned i = 0; i < producers; i++) {
        prod_init(&prods[i], w, i, nbatches, per_batch);
        pthread_create(&th[i], NULL, prod_main, &prods[i]);
    }
    for (unsigned i = 0; i < producers; i++) {
        pthread_join(th[i], NULL);
        prod_wait_all(&prods[i]);
        CHECK_EQ_INT(prods[i].ndone, nbatches);
        CHECK(!prods[i].order_bad);
        CHECK(!prods[i].status_bad);
        CHECK(!prods[i].submit_bad);
    }
    wal_stop(w);
    wal_stop(w); /* idempotent */
    wal_stats_get(w, st_out);
    wal_free(w);
    for (unsigned i = 0; i < producers; i++)
        prod_destroy(&prods[i]);
    CHECK(st_out->batches == (uint64_t)producers * nbatches);
    CHECK_EQ_INT(st_out->failed, 0);
}

static void test_producers_fsync_always(void)
{
    char *dir = mk_tmpdir();
    struct wal_stats st;
    run_producers(dir, WAL_FSYNC_ALWAYS, 4, 600, 3, 300, 64u << 20, &st);
    /* Group commit: 2400 batches share far fewer fdatasyncs. */
    printf("fsync always: batches=%llu groups=%llu syncs=%llu writes=%llu\n",
           (unsigned long long)st.batches, (unsigned long long)st.groups,
           (unsigned long long)st.syncs, (unsigned long long)st.writes);
    CHECK(st.syncs > 0);
    CHECK(st.syncs < st.batches / 4);
    CHECK(st.groups < st.batches);
    struct wal_replay_stats rs;
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 4 * 600 * 3);
    CHECK(check_ids(&coll, 4, 600 * 3));
    CHECK_EQ_INT(rs.truncated_bytes, 0);
    CHECK_EQ_INT(rs.segments, 1);
    CHECK(rs.bytes == st.bytes);
    nf_test_rmdir(dir);
    free(dir);
}

static void test_producers_fsync_off(void)
{
    char *dir = mk_tmpdir();
    struct wal_stats st;
    run_producers(dir, WAL_FSYNC_OFF, 2, 3000, 1, 0, 64u << 20, &st);
    CHECK_EQ_INT(st.syncs, 1); /* only the one at wal_stop */
    struct wal_replay_stats rs;
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 2 * 3000);
    CHECK(check_ids(&coll, 2, 3000));
    nf_test_rmdir(dir);
    free(dir);
}

/* Groups that cross segment boundaries: the old segment is synced before the new one is
 * created, and replay walks every segment in order. */
static void test_producers_rotating(void)
{
    char *dir = mk_tmpdir();
    struct wal_stats st;
    run_producers(dir, WAL_FSYNC_ALWAYS, 3, 300, 3, 200, 4096, &st);
    CHECK(st.rotations > 20);
    CHECK(st.syncs >= st.rotations);
    struct wal_replay_stats rs;
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 3 * 300 * 3);
    CHECK(check_ids(&coll, 3, 300 * 3));
    CHECK_EQ_INT(rs.segments, st.rotations + 1);
    CHECK_EQ_INT(rs.truncated_bytes, 0);
    nf_test_rmdir(dir);
    free(dir);
}

/* ---- one burst, one fdatasync ---------------------------------------------------------------- */

struct simple {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned done;
    int statuses[256];
    uint64_t seqs[256];
    int skips[256];
    unsigned order[256];
};

static struct simple sim = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, {0}, {0}, {0}};

static void simple_done(struct wal_batch *b, int status)
{
    unsigned i = (unsigned)(uintptr_t)b->cookie;
    pthread_mutex_lock(&sim.mu);
    sim.statuses[i] = status;
    sim.seqs[i] = b->seq;
    sim.skips[i] = b->skip;
    sim.order[sim.done] = i;
    sim.done++;
    pthread_cond_broadcast(&sim.cv);
    pthread_mutex_unlock(&sim.mu);
}

static void simple_reset(void)
{
    pthread_mutex_lock(&sim.mu);
    sim.done = 0;
    memset(sim.statuses, 0x55, sizeof(sim.statuses));
    pthread_mutex_unlock(&sim.mu);
}

static void simple_wait(unsigned n)
{
    pthread_mutex_lock(&sim.mu);
    while (sim.done < n)
        pthread_cond_wait(&sim.cv, &sim.mu);
    pthread_mutex_unlock(&sim.mu);
}

static int all_in_order(unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (sim.order[i] != i)
            return 0;
    return 1;
}

static struct wal_batch sb[256];
static uint8_t sbuf[256][REC_BYTES];

static void fill_simple(unsigned i, uint64_t id)
{
    memset(&sb[i], 0, sizeof(sb[i]));
    sb[i].data = sbuf[i];
    sb[i].len = enc_accept(sbuf[i], sizeof(sbuf[i]), id);
    sb[i].done = simple_done;
    sb[i].cookie = (void *)(uintptr_t)i;
}

static void skip_odd(struct wal_batch *b)
{
    if ((uintptr_t)b->cookie & 1)
        b->skip = 1;
}

static void test_burst_and_hooks(void)
{
    char *dir = mk_tmpdir();
    struct wal_opts o = opts_for(dir, WAL_FSYNC_ALWAYS, 1);
    o.ring_size = 256;
    struct wal *w = NULL;
    CHECK_EQ_INT(wal_new(&o, &w), 0);
    CHECK_EQ_INT(wal_start(w), 0);
    CHECK_EQ_INT(wal_current_seq(w), 1);

    /* 200 batches enqueued without a wake, then one wake: one group, one fdatasync. */
    simple_reset();
    for (unsigned i = 0; i < 200; i++) {
        fill_simple(i, i);
        if (i % 3 == 0)
            sb[i].pre = skip_odd; /* odd multiples of 3 are skipped */
        CHECK_EQ_INT(wal_enqueue_spsc(w, 0, &sb[i]), 0);
    }
    struct wal_stats st0, st1;
    wal_stats_get(w, &st0);
    wal_wake(w);
    simple_wait(200);
    wal_stats_get(w, &st1);
    CHECK_EQ_INT(st1.syncs - st0.syncs, 1);
    CHECK_EQ_INT(st1.groups - st0.groups, 1);
    CHECK(all_in_order(200));
    int ok = 1, skips = 0;
    for (unsigned i = 0; i < 200; i++) {
        ok &= sim.statuses[i] == 0 && sim.seqs[i] == 1;
        skips += sim.skips[i];
        ok &= sim.skips[i] == (i % 3 == 0 && (i & 1));
    }
    CHECK(ok);
    CHECK_EQ_INT(skips, 33);
    CHECK_EQ_INT(st1.skipped, 33);

    /* a full ring is NF_EFULL and leaves the batch with the caller */
    simple_reset();
    unsigned queued = 0;
    int rc = 0;
    for (unsigned i = 0; i < 256 && rc == 0; i++) {
        fill_simple(i, 1000 + i);
        rc = wal_enqueue_spsc(w, 0, &sb[i]);
        queued += rc == 0;
    }
    CHECK_EQ_INT(rc, NF_EFULL);
    CHECK_EQ_INT(queued, 255); /* a ring of 256 holds 255 */
    wal_wake(w);
    simple_wait(queued);
    CHECK(all_in_order(queued));

    /* bad arguments */
    CHECK_EQ_INT(wal_submit_spsc(w, 1, &sb[0]), NF_EINVAL);
    sb[0].done = NULL;
    CHECK_EQ_INT(wal_submit_spsc(w, 0, &sb[0]), NF_EINVAL);

    /* barrier: a zero-length batch completes with status 0 */
    simple_reset();
    memset(&sb[0], 0, sizeof(sb[0]));
    sb[0].done = simple_done;
    CHECK_EQ_INT(wal_submit_spsc(w, 0, &sb[0]), 0);
    simple_wait(1);
    CHECK_EQ_INT(sim.statuses[0], 0);

    /* rotate on demand: new writes go to seq 2; rotating an empty segment is a no-op */
    uint64_t seq = 0;
    CHECK_EQ_INT(wal_rotate(w, &seq), 0);
    CHECK_EQ_INT(seq, 2);
    CHECK_EQ_INT(wal_current_seq(w), 2);
    CHECK_EQ_INT(wal_rotate(w, &seq), 0);
    CHECK_EQ_INT(seq, 2);
    simple_reset();
    fill_simple(0, 5000);
    CHECK_EQ_INT(wal_submit_spsc(w, 0, &sb[0]), 0);
    simple_wait(1);
    CHECK_EQ_INT(sim.seqs[0], 2);
    CHECK_EQ_INT(count_segments(dir), 2);
    /* delete segments below 2 (and never the current one even when asked for more) */
    CHECK_EQ_INT(wal_delete_before(w, 100), 1);
    CHECK_EQ_INT(count_segments(dir), 1);
    CHECK_EQ_INT(wal_delete_before(w, 100), 0);
    wal_stop(w);
    /* control calls still work after stop, on the caller's thread */
    CHECK_EQ_INT(wal_rotate(w, &seq), 0);
    CHECK_EQ_INT(seq, 3);
    wal_free(w);

    struct wal_replay_stats rs;
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 1);
    CHECK(coll.n == 1 && coll.ids[0] == 5000 && coll.seq[0] == 2 && coll.off[0] == 0);
    CHECK_EQ_INT(rs.first_seq, 2);
    CHECK_EQ_INT(rs.last_seq, 3);
    nf_test_rmdir(dir);
    free(dir);
}

static void test_stop_before_start(void)
{
    char *dir = mk_tmpdir();
    struct wal_opts o = opts_for(dir, WAL_FSYNC_ALWAYS, 2);
    struct wal *w = NULL;
    CHECK_EQ_INT(wal_new(&o, &w), 0);
    simple_reset();
    fill_simple(0, 1);
    CHECK_EQ_INT(wal_submit_spsc(w, 1, &sb[0]), 0);
    wal_stop(w);
    CHECK_EQ_INT(sim.done, 1);
    CHECK_EQ_INT(sim.statuses[0], NF_ESTATE);
    CHECK_EQ_INT(wal_start(w), NF_ESTATE); /* a stopped WAL does not restart */
    wal_free(w);
    wal_free(NULL);

    /* option checks */
    struct wal_opts bad = opts_for(dir, WAL_FSYNC_ALWAYS, 1);
    bad.ring_size = 48;
    CHECK_EQ_INT(wal_new(&bad, &w), NF_ECONFIG);
    bad = opts_for(dir, WAL_FSYNC_ALWAYS, 0);
    CHECK_EQ_INT(wal_new(&bad, &w), NF_ECONFIG);
    bad = opts_for(dir, WAL_FSYNC_ALWAYS, 1);
    bad.segment_bytes = 100;
    CHECK_EQ_INT(wal_new(&bad, &w), NF_ECONFIG);
    bad = opts_for(dir, (enum wal_fsync_mode)7, 1);
    CHECK_EQ_INT(wal_new(&bad, &w), NF_ECONFIG);
    CHECK(w == NULL);
    nf_test_rmdir(dir);
    free(dir);

    struct wal_replay_stats rs;
    CHECK_EQ_INT(do_replay("/nonexistent/test_wal", &coll, &rs), NF_ENOTFOUND);
    dir = mk_tmpdir();
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(rs.segments, 0);
    nf_test_rmdir(dir);
    free(dir);
}

/* ---- synchronous writer for file-level tests ------------------------------------------------- */

/* Writes ids [from, from+n) one record per batch through a fresh WAL (fsync off). */
static void write_ids(const char *dir, uint64_t from, unsigned n, uint64_t segment_bytes)
{
    struct wal_opts o = opts_for(dir, WAL_FSYNC_OFF, 1);
    o.segment_bytes = segment_bytes;
    o.ring_size = 256;
    struct wal *w = NULL;
    CHECK_EQ_INT(wal_new(&o, &w), 0);
    if (w == NULL)
        return;
    CHECK_EQ_INT(wal_start(w), 0);
    for (unsigned done = 0; done < n;) {
        unsigned k = n - done < 200 ? n - done : 200;
        simple_reset();
        for (unsigned i = 0; i < k; i++) {
            fill_simple(i, from + done + i);
            CHECK_EQ_INT(wal_enqueue_spsc(w, 0, &sb[i]), 0);
        }
        wal_wake(w);
        simple_wait(k);
        done += k;
    }
    wal_free(w);
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    uint8_t b = 0;
    CHECK(pread(fd, &b, 1, at) == 1);
    b ^= 0x20;
    CHECK(pwrite(fd, &b, 1, at) == 1);
    close(fd);
}

static void append_bytes(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    CHECK(write(fd, p, n) == (ssize_t)n);
    close(fd);
}

static void test_torn_tail(void)
{
    char *dir = mk_tmpdir();
    char p1[512];
    seg_path(p1, sizeof(p1), dir, 1);
    write_ids(dir, 0, 50, 64u << 20);
    struct wal_replay_stats rs;
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 50);
    uint64_t last_off = coll.off[49];
    uint64_t third_off = coll.off[2];
    off_t size = file_size(p1);
    CHECK(size > 0 && (uint64_t)size == rs.bytes);

    /* 1. garbage appended */
    uint8_t junk[333];
    srand(11);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)rand();
    append_bytes(p1, junk, sizeof(junk));
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 50);
    CHECK_EQ_INT(rs.truncated_bytes, sizeof(junk));
    CHECK_EQ_INT(rs.truncated_offset, size);
    CHECK_EQ_INT(file_size(p1), size);
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0); /* idempotent: nothing left to cut */
    CHECK_EQ_INT(rs.truncated_bytes, 0);

    /* 2. zero-filled tail (what some filesystems leave after a crash) */
    uint8_t zeros[4096] = {0};
    append_bytes(p1, zeros, sizeof(zeros));
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 50);
    CHECK_EQ_INT(rs.truncated_bytes, 4096);

    /* 3. a short header only */
    append_bytes(p1, junk, 5);
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(rs.truncated_bytes, 5);
    CHECK_EQ_INT(coll.n, 50);

    /* 4. last record cut in the middle */
    CHECK_EQ_INT(truncate(p1, size - 7), 0);
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 49);
    CHECK_EQ_INT(rs.truncated_offset, last_off);
    CHECK_EQ_INT(rs.truncated_bytes, (uint64_t)size - 7 - last_off);
    CHECK_EQ_INT(file_size(p1), last_off);
    size = (off_t)last_off;
    last_off = coll.off[48];

    /* 5. a flipped byte in the last record's payload */
    flip_byte(p1, (off_t)last_off + 12);
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 48);
    CHECK_EQ_INT(rs.truncated_offset, last_off);
    size = (off_t)last_off;
    last_off = coll.off[47];

    /* 6. the last record's length field made huge */
    flip_byte(p1, (off_t)last_off + 3);
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 47);
    CHECK_EQ_INT(rs.truncated_offset, last_off);
    size = (off_t)last_off;

    /* 7. a flipped byte in an earlier record: valid records follow, so NF_ECORRUPT, the file is
     * left alone and only the records before it were delivered */
    flip_byte(p1, (off_t)third_off + 10);
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), NF_ECORRUPT);
    CHECK_EQ_INT(rs.corrupt_offset, third_off);
    CHECK_EQ_STR(rs.corrupt_file, p1);
    CHECK(strstr(rs.reason, "valid records after") != NULL);
    CHECK_EQ_INT(coll.n, 2);
    CHECK_EQ_INT(file_size(p1), size);
    flip_byte(p1, (off_t)third_off + 10); /* repair */
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 47);

    /* 8. the writer appends after a truncated tail: a new segment, and replay sees both */
    append_bytes(p1, junk, 100);
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(rs.truncated_bytes, 100);
    write_ids(dir, 47, 10, 64u << 20);
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 57);
    int seq_ok = 1;
    for (size_t i = 0; i < coll.n; i++)
        seq_ok &= coll.ids[i] == i;
    CHECK(seq_ok);
    CHECK_EQ_INT(rs.segments, 2);

    /* 9. corruption at the tail of a segment that is not the last: NF_ECORRUPT */
    append_bytes(p1, junk, 10);
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), NF_ECORRUPT);
    CHECK_EQ_STR(rs.corrupt_file, p1);
    CHECK_EQ_INT(rs.corrupt_offset, size);
    CHECK_EQ_INT(coll.n, 47);

    /* 10. a checksum-valid frame whose payload is not a record: NF_ECORRUPT, never truncated */
    CHECK_EQ_INT(truncate(p1, size), 0);
    char p2[512];
    seg_path(p2, sizeof(p2), dir, 2);
    off_t size2 = file_size(p2);
    uint8_t frame[8 + 4] = {4, 0, 0, 0, 0, 0, 0, 0, WAL_ACCEPT, WAL_REC_VERSION, 0x90, 0xc0};
    uint32_t crc = wal_crc32c(0, frame + 8, 4);
    memcpy(frame + 4, &crc, 4); /* x86: little-endian */
    append_bytes(p2, frame, sizeof(frame));
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), NF_ECORRUPT);
    CHECK_EQ_INT(rs.corrupt_offset, size2);
    CHECK(strstr(rs.reason, "record invalid") != NULL);
    CHECK_EQ_INT(file_size(p2), size2 + (off_t)sizeof(frame));
    nf_test_rmdir(dir);
    free(dir);
}

static int stop_at_three(const struct wal_rec *rec, void *ctx)
{
    (void)rec;
    int *n = ctx;
    return ++*n == 3 ? 42 : 0;
}

static void test_rotation_by_size(void)
{
    char *dir = mk_tmpdir();
    write_ids(dir, 0, 1000, 4096);
    int nseg = count_segments(dir);
    CHECK(nseg > 10);
    struct wal_replay_stats rs;
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(coll.n, 1000);
    int ok = 1;
    for (size_t i = 0; i < coll.n; i++)
        ok &= coll.ids[i] == i;
    CHECK(ok);
    CHECK_EQ_INT(rs.segments, nseg);
    CHECK_EQ_INT(rs.first_seq, 1);
    CHECK_EQ_INT(rs.last_seq, nseg);
    /* no segment exceeds the limit (single records are far smaller than it) */
    int size_ok = 1;
    for (int s = 1; s <= nseg; s++) {
        char p[512];
        seg_path(p, sizeof(p), dir, (uint64_t)s);
        size_ok &= file_size(p) <= 4096;
    }
    CHECK(size_ok);
    int calls = 0;
    CHECK_EQ_INT(wal_replay(dir, stop_at_three, &calls, NULL), 42);
    CHECK_EQ_INT(calls, 3);

    /* delete the first half through a new WAL: replay then starts mid-stream */
    struct wal_opts o = opts_for(dir, WAL_FSYNC_ALWAYS, 1);
    struct wal *w = NULL;
    CHECK_EQ_INT(wal_new(&o, &w), 0);
    CHECK_EQ_INT(wal_current_seq(w), nseg + 1);
    CHECK_EQ_INT(wal_start(w), 0);
    CHECK_EQ_INT(wal_delete_before(w, (uint64_t)nseg / 2), nseg / 2 - 1);
    wal_free(w);
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(rs.first_seq, nseg / 2);
    CHECK(coll.n > 0 && coll.n < 1000 && coll.ids[coll.n - 1] == 999);
    nf_test_rmdir(dir);
    free(dir);
}

/* A write failure (file size limit) is reported to exactly the batches it hit, and the segment
 * is cut back so replay finds no partial record. */
static void test_write_failure(void)
{
    char *dir = mk_tmpdir();
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 4000;
    CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
    struct wal_opts o = opts_for(dir, WAL_FSYNC_ALWAYS, 1);
    o.ring_size = 256;
    struct wal *w = NULL;
    CHECK_EQ_INT(wal_new(&o, &w), 0);
    CHECK_EQ_INT(wal_start(w), 0);
    unsigned ok_count = 0, fail_count = 0, first_fail = 0;
    for (unsigned i = 0; i < 80; i++) {
        simple_reset();
        fill_simple(0, i);
        CHECK_EQ_INT(wal_submit_spsc(w, 0, &sb[0]), 0);
        simple_wait(1);
        if (sim.statuses[0] == 0)
            ok_count++;
        else if (fail_count++ == 0)
            first_fail = i;
        if (sim.statuses[0] != 0)
            CHECK_EQ_INT(sim.statuses[0], NF_EIO); /* EFBIG is not "disk full" */
    }
    wal_free(w);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(ok_count > 10);
    CHECK(fail_count > 0);
    CHECK_EQ_INT(first_fail, ok_count);
    struct wal_replay_stats rs;
    CHECK_EQ_INT(do_replay(dir, &coll, &rs), 0);
    CHECK_EQ_INT(rs.truncated_bytes, 0);
    CHECK_EQ_INT(coll.n, ok_count);
    nf_test_rmdir(dir);
    free(dir);
}

int main(void)
{
    test_producers_fsync_always();
    test_producers_fsync_off();
    test_producers_rotating();
    test_burst_and_hooks();
    test_stop_before_start();
    test_torn_tail();
    test_rotation_by_size();
    test_write_failure();
    return nf_test_report("test_wal");
}
