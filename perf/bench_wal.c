/* bench_wal: write-ahead log throughput. For fsync off and on, 1 and 2 producer threads, and 1
 * and 100 small ACCEPT records (~60 bytes) per batch, producers keep a slab of pre-encoded
 * batches in flight for a fixed time and the bench prints records/s, MB/s and, with fsync on,
 * fdatasyncs per second and batches per fdatasync, as `name=value unit` lines. Usage:
 * bench_wal [dir] (default: a fresh /tmp/bench_wal.XXXXXX, removed afterwards);
 * BENCH_WAL_SECONDS sets the time per case (default 0.4). Records are encoded once up front, so
 * the figures are the WAL's own (ring hand-off, writev, fdatasync, done callbacks). */
#include <ck_ring.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nf_err.h"
#include "nf_tsan.h"
#include "wal.h"

#define SLAB        64
#define REC_MAX     96
#define MAX_PER_BAT 100

struct producer {
    struct wal *w;
    unsigned idx;
    unsigned per_batch;
    double deadline;
    struct wal_batch slab[SLAB];
    uint8_t *bufs; /* SLAB * per_batch * REC_MAX */
    size_t recs_len[SLAB];
    /* completions: WAL thread -> producer, SPSC */
    struct ck_ring ret;
    struct ck_ring_buffer ret_slots[SLAB * 2];
    _Atomic int waiting; /* Dekker pair with the return-ring check; see prod_done */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t records, bytes, batches, inflight;
    int errors;      /* producer thread */
    int done_errors; /* WAL thread; read after wal_stop's join */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void prod_done(struct wal_batch *b, int status)
{
    struct producer *p = b->cookie;
    if (status != 0)
        p->done_errors++;
    NF_TSAN_RELEASE(b); /* pairs with NF_TSAN_ACQUIRE in wait_free(): ck's fences are invisible */
    ck_ring_enqueue_spsc(&p->ret, p->ret_slots, b);
    /* seq_cst fence: pairs with the one in wait_free(); either we see waiting or it sees b. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&p->waiting, memory_order_relaxed)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static struct wal_batch *wait_free(struct producer *p)
{
    struct wal_batch *b;
    if (ck_ring_dequeue_spsc(&p->ret, p->ret_slots, &b)) {
        NF_TSAN_ACQUIRE(b);
        return b;
    }
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->waiting, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst); /* pairs with the fence in prod_done() */
    while (!ck_ring_dequeue_spsc(&p->ret, p->ret_slots, &b))
        pthread_cond_wait(&p->cv, &p->mu);
    atomic_store_explicit(&p->waiting, 0, memory_order_relaxed);
    pthread_mutex_unlock(&p->mu);
    NF_TSAN_ACQUIRE(b);
    return b;
}

static void *prod_main(void *arg)
{
    struct producer *p = arg;
    for (unsigned i = 0; i < SLAB; i++)
        ck_ring_enqueue_spsc(&p->ret, p->ret_slots, &p->slab[i]);
    while (now_s() < p->deadline) {
        /* a burst: everything free goes in, then one wake */
        struct wal_batch *b = wait_free(p);
        do {
            unsigned i = (unsigned)(b - p->slab);
            b->data = p->bufs + (size_t)i * p->per_batch * REC_MAX;
            b->len = p->recs_len[i];
            b->done = prod_done;
            b->cookie = p;
            if (wal_enqueue_spsc(p->w, p->idx, b) != 0) {
                p->errors++;
                break;
            }
            p->records += p->per_batch;
            p->bytes += b->len;
            p->batches++;
        } while (ck_ring_dequeue_spsc(&p->ret, p->ret_slots, &b) && (NF_TSAN_ACQUIRE(b), 1));
        wal_wake(p->w);
    }
    return NULL;
}

static void rm_dir_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "wal-", 4) != 0)
            continue;
        char p[4200];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d != NULL)
        closedir(d);
}

static int run_case(const char *dir,
                    enum wal_fsync_mode mode,
                    unsigned producers,
                    unsigned per_batch,
                    double seconds)
{
    static struct producer prods[2];
    struct wal_opts o = {
        .dir = dir,
        .fsync = mode,
        .segment_bytes = 64u << 20,
        .group_commit_us = 0,
        .producers = producers,
        .ring_size = 128,
    };
    struct wal *w = NULL;
    rm_dir_files(dir);
    int rc = wal_new(&o, &w);
    if (rc != 0) {
        fprintf(stderr, "bench_wal: wal_new: %s\n", nf_strerror(rc));
        return rc;
    }
    if ((rc = wal_start(w)) != 0) {
        wal_free(w);
        return rc;
    }
    double t0 = now_s();
    for (unsigned i = 0; i < producers; i++) {
        struct producer *p = &prods[i];
        memset(p, 0, sizeof(*p));
        p->w = w;
        p->idx = i;
        p->per_batch = per_batch;
        p->deadline = t0 + seconds;
        ck_ring_init(&p->ret, SLAB * 2);
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        p->bufs = malloc((size_t)SLAB * per_batch * REC_MAX);
        for (unsigned s = 0; s < SLAB; s++) {
            size_t len = 0;
            for (unsigned r = 0; r < per_batch; r++) {
                struct wal_rec rec;
                memset(&rec, 0, sizeof(rec));
                rec.type = WAL_ACCEPT;
                rec.accept.id = (uint64_t)i << 40 | ((uint64_t)s * per_batch + r);
                rec.accept.ts_ms = 1700000000000ull;
                rec.accept.route = WAL_ROUTE_SEND_FT;
                rec.accept.receiver = (struct wal_str){"receiver.testnet", 16};
                rec.accept.amount = 1000000000000000000ull;
                rec.accept.body_hash = 0x9e3779b97f4a7c15ull * (s + 1);
                size_t l;
                uint8_t *dst = p->bufs + (size_t)s * per_batch * REC_MAX + len;
                if (wal_rec_encode_framed(&rec, dst, REC_MAX, &l) != 0)
                    abort();
                len += l;
            }
            p->recs_len[s] = len;
        }
    }
    pthread_t th[2];
    for (unsigned i = 0; i < producers; i++)
        pthread_create(&th[i], NULL, prod_main, &prods[i]);
    for (unsigned i = 0; i < producers; i++)
        pthread_join(th[i], NULL);
    wal_stop(w); /* completes everything in flight */
    double dt = now_s() - t0;
    struct wal_stats st;
    wal_stats_get(w, &st);
    wal_free(w);
    uint64_t records = 0, bytes = 0, batches = 0;
    int errors = 0;
    for (unsigned i = 0; i < producers; i++) {
        records += prods[i].records;
        bytes += prods[i].bytes;
        batches += prods[i].batches;
        errors += prods[i].errors + prods[i].done_errors;
        free(prods[i].bufs);
        pthread_mutex_destroy(&prods[i].mu);
        pthread_cond_destroy(&prods[i].cv);
    }
    char name[64];
    snprintf(name, sizeof(name), "wal_fsync_%s_p%u_b%u", mode == WAL_FSYNC_OFF ? "off" : "on",
             producers, per_batch);
    printf("%s_records_per_s=%.0f rec/s\n", name, (double)records / dt);
    printf("%s_mb_per_s=%.1f MB/s\n", name, (double)bytes / dt / 1e6);
    if (mode == WAL_FSYNC_ALWAYS) {
        printf("%s_syncs_per_s=%.0f sync/s\n", name, (double)st.syncs / dt);
        printf("%s_batches_per_sync=%.1f batch/sync\n", name,
               st.syncs ? (double)batches / (double)st.syncs : 0.0);
    }
    if (errors != 0 || st.failed != 0)
        fprintf(stderr, "bench_wal: %s: %d errors\n", name, errors);
    rm_dir_files(dir);
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = 0.4;
    const char *env = getenv("BENCH_WAL_SECONDS");
    if (env != NULL) {
        char *end;
        double v = strtod(env, &end);
        if (*end != '\0' || v <= 0 || v > 60) {
            fprintf(stderr, "bench_wal: BENCH_WAL_SECONDS=%s: want 0 < seconds <= 60\n", env);
            return 2;
        }
        seconds = v;
    }
    char tmpl[] = "/tmp/bench_wal.XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
    if (dir == NULL) {
        perror("mkdtemp");
        return 1;
    }
    static const unsigned per_batch[] = {1, MAX_PER_BAT};
    for (int m = 0; m < 2; m++)
        for (unsigned prod = 1; prod <= 2; prod++)
            for (int b = 0; b < 2; b++)
                if (run_case(dir, m == 0 ? WAL_FSYNC_OFF : WAL_FSYNC_ALWAYS, prod, per_batch[b],
                             seconds) != 0)
                    return 1;
    if (argc <= 1)
        rmdir(dir);
    return 0;
}
