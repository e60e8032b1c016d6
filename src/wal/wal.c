/* wal: the write-ahead log's writer thread, segment files and start-up replay. The thread "wal"
 * is the only one that touches the segment fd, the segment size and the failure state while it
 * runs (before wal_start and after wal_stop the caller's thread owns them). Producers own their
 * ring's producer side; the WAL thread owns every ring's consumer side and every batch between
 * dequeue and done(). Control calls (rotate, delete) are handed to the WAL thread under a mutex
 * because they are rare and not on the request path. wal_replay runs alone at start-up and owns
 * everything it opens. Owns: the directory fd, the current segment fd, the eventfd, the rings. */
#include "wal.h"
#include "nf_tsan.h"
#include "wal_js.h"

#include <ck_ring.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "nf_err.h"

/* ---- ThreadSanitizer annotations for the ck ring hand-off ------------------------------------ */

#define WAL_IOV_CAP  256
#define SEG_NAME_LEN 24 /* "wal-" + 16 hex + ".log" */

struct wal_prod {
    struct ck_ring ring; /* ck pads producer and consumer counters onto separate cache lines */
    struct ck_ring_buffer *slots;
} __attribute__((aligned(64)));

struct group {
    struct wal_batch *head, *tail; /* drained batches in submit order */
    struct iovec iov[WAL_IOV_CAP];
    struct wal_batch *iov_batch[WAL_IOV_CAP];
    unsigned niov;
    size_t iov_bytes;
    int dirty;       /* bytes written to seg_fd since its last fdatasync */
    int sync_failed; /* an fdatasync in this group failed: nothing in it is durable */
    uint64_t nbatches;
};

enum ctl_op { CTL_NONE, CTL_ROTATE, CTL_DELETE };

struct wal {
    struct wal_opts opts;
    char *dir;
    int dirfd;
    int efd; /* eventfd (EFD_NONBLOCK): producers and control callers wake the writer */
    struct wal_prod *prods;

    /* Segment state: WAL thread while it runs, otherwise the start-up/stop thread. */
    int seg_fd;
    uint64_t seg_size;
    uint64_t seg_synced; /* seg_size at the last successful fdatasync of seg_fd (0 when created) */
    int fatal;           /* sticky negative nf_err after an fdatasync/ftruncate failure */
    _Atomic int fatal_pub;    /* the same, for wal_failed() on any thread (relaxed) */
    _Atomic uint64_t cur_seq; /* store-release by the owner on rotate; load-acquire by readers */

    pthread_t thread;
    int started, stopped; /* start/stop caller only */
    _Atomic int stop_req; /* store-release in wal_stop, load-acquire in the WAL thread */

    /* Control hand-off. ctl_* fields are protected by ctl_mu; ctl_pending is a lock-free hint. */
    pthread_mutex_t ctl_mu;
    pthread_cond_t ctl_cv;
    int ctl_running; /* the WAL thread accepts control requests */
    int ctl_busy;    /* a request is in flight (serialises callers) */
    int ctl_done;
    enum ctl_op ctl_op;
    uint64_t ctl_arg;
    uint64_t ctl_seq_out;
    int ctl_rc;
    _Atomic int ctl_pending; /* store-release after ctl_op is set; load-acquire in the thread */

    struct group g; /* the WAL thread's current group (big: kept off the stack) */

    /* Counters: single writer (WAL thread) except full_rings (producers, fetch_add). Relaxed:
     * they order nothing. */
    _Atomic uint64_t st_batches, st_skipped, st_failed, st_bytes, st_writes, st_syncs, st_groups,
        st_rotations, st_full_rings;

    /* Cluster backend (opts.js != NULL): one message's payload is gathered here. WAL thread.
     * Last, so that the local log's fields keep their layout. */
    uint8_t *js_buf;
    size_t js_cap;
    int js_seg_used; /* a message went to the current segment number */
};

/* ---- helpers --------------------------------------------------------------------------------- */

static void wal_log(const char *lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void wal_log(const char *lvl, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "lvl=%s mod=wal %s\n", lvl, line);
}

static void stat_add(_Atomic uint64_t *c, uint64_t n)
{
    /* Single writer: a relaxed load + store is enough and cheaper than a locked add. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int io_status(int err)
{
    return (err == ENOSPC || err == EDQUOT) ? NF_EDISKFULL : NF_EIO;
}

static void seg_name(char out[SEG_NAME_LEN + 1], uint64_t seq)
{
    snprintf(out, SEG_NAME_LEN + 1, "wal-%016llx.log", (unsigned long long)seq);
}

/* Parses exactly "wal-<16 lowercase hex>.log"; 0 and *seq, or -1 for any other name. */
int wal_seg_name_parse(const char *name, uint64_t *seq)
{
    if (strlen(name) != SEG_NAME_LEN || memcmp(name, "wal-", 4) != 0 ||
        memcmp(name + 20, ".log", 5) != 0)
        return -1;
    uint64_t v = 0;
    for (int i = 4; i < 20; i++) {
        char c = name[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *seq = v;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the segment seqs in the directory open as dirfd, sorted. *seqs is malloc'd (caller
 * frees; NULL when none). Start-up and control path only. */
static int seg_list(int dirfd, uint64_t **seqs, size_t *n)
{
    *seqs = NULL;
    *n = 0;
    int fd = dup(dirfd);
    if (fd == -1)
        return NF_EIO;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return NF_EIO;
    }
    rewinddir(d);
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        uint64_t seq;
        if (wal_seg_name_parse(e->d_name, &seq) != 0)
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            uint64_t *p = realloc(*seqs, ncap * sizeof(*p));
            if (p == NULL) {
                rc = NF_ENOMEM;
                break;
            }
            *seqs = p;
            cap = ncap;
        }
        (*seqs)[(*n)++] = seq;
    }
    closedir(d);
    if (rc != 0) {
        free(*seqs);
        *seqs = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1)
        qsort(*seqs, *n, sizeof(**seqs), cmp_u64);
    return 0;
}

/* Creates segment seq (must not exist) and makes its directory entry durable. */
static int seg_create(struct wal *w, uint64_t seq, int *fd_out)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(name, seq);
    int fd = openat(w->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd == -1) {
        int err = errno;
        wal_log("error", "msg=\"cannot create segment\" dir=\"%s\" file=%s err=\"%s\"", w->dir,
                name, strerror(err));
        return io_status(err);
    }
    if (fsync(w->dirfd) == -1) {
        int err = errno;
        wal_log("error", "msg=\"directory fsync failed\" dir=\"%s\" err=\"%s\"", w->dir,
                strerror(err));
        close(fd);
        unlinkat(w->dirfd, name, 0);
        return NF_EIO;
    }
    *fd_out = fd;
    return 0;
}

/* wal_set_fatal: from now on the log refuses writes with status (owner thread). */
static void wal_set_fatal(struct wal *w, int status)
{
    w->fatal = status;
    atomic_store_explicit(&w->fatal_pub, status, memory_order_relaxed);
}

/* seg_cut_back: after a failed fdatasync, removes what was written since the last good one
 * (frames whose requests are about to be refused), so that a restart never replays them, and
 * makes the cut durable. A cut that cannot be made durable leaves no answer true: neither "durable"
 * nor "refused" can be claimed for those frames, so the process ends here without answering and a
 * restart replays whatever the disk kept. WAL_FSYNC_OFF acknowledged the frames after write():
 * nothing is cut. Owner thread. */
static void seg_cut_back(struct wal *w)
{
    if (w->opts.fsync != WAL_FSYNC_ALWAYS || w->seg_size == w->seg_synced)
        return;
    if (ftruncate(w->seg_fd, (off_t)w->seg_synced) == -1 || fsync(w->seg_fd) == -1) {
        wal_log("error",
                "msg=\"cannot cut back frames after a failed fdatasync; exiting unanswered\" "
                "dir=\"%s\" err=\"%s\"",
                w->dir, strerror(errno));
        _exit(NF_WAL_EXIT_UNKNOWN);
    }
    wal_log("warn",
            "msg=\"frames written since the last good fdatasync cut back\" dir=\"%s\" bytes=%llu",
            w->dir, (unsigned long long)(w->seg_size - w->seg_synced));
    w->seg_size = w->seg_synced;
}

static int seg_sync(struct wal *w)
{
    stat_add(&w->st_syncs, 1);
    if (fdatasync(w->seg_fd) == -1) {
        int err = errno;
        /* After a failed fdatasync the page cache state is unknown (fsyncgate): never retry.
         * Refusing comes before the log line, so whoever reads the line sees /health say so. */
        wal_set_fatal(w, NF_EIO);
        wal_log("error", "msg=\"fdatasync failed; wal now refuses writes\" dir=\"%s\" err=\"%s\"",
                w->dir, strerror(err));
        seg_cut_back(w);
        return NF_EIO;
    }
    w->seg_synced = w->seg_size;
    return 0;
}

/* Retires the current segment (fdatasynced first when sync_old) and opens seq + 1. The sync
 * comes before the new file exists, so a crash can never leave an unsynced tail in a segment
 * that is no longer the last. On a failure to create the new one, keeps appending to the
 * current segment. Owner thread. */
static int seg_rotate(struct wal *w, int sync_old)
{
    uint64_t seq = atomic_load_explicit(&w->cur_seq, memory_order_relaxed); /* own value */
    if (sync_old && seg_sync(w) != 0)
        return NF_EIO;
    int fd;
    int rc = seg_create(w, seq + 1, &fd);
    if (rc != 0)
        return rc;
    close(w->seg_fd);
    w->seg_fd = fd;
    w->seg_size = 0;
    w->seg_synced = 0;
    /* Pairs with the load-acquire in wal_current_seq(). */
    atomic_store_explicit(&w->cur_seq, seq + 1, memory_order_release);
    stat_add(&w->st_rotations, 1);
    return 0;
}

/* Deletes segments with seq < before and below the current one; fsyncs the directory. */
static int seg_delete_before(struct wal *w, uint64_t before)
{
    uint64_t cur = atomic_load_explicit(&w->cur_seq, memory_order_relaxed); /* own value */
    if (before > cur)
        before = cur;
    uint64_t *seqs;
    size_t n;
    int rc = seg_list(w->dirfd, &seqs, &n);
    if (rc != 0)
        return rc;
    int deleted = 0;
    for (size_t i = 0; i < n && seqs[i] < before; i++) { /* ascending: the log stays a suffix */
        char name[SEG_NAME_LEN + 1];
        seg_name(name, seqs[i]);
        if (unlinkat(w->dirfd, name, 0) == -1) {
            wal_log("error", "msg=\"cannot delete segment\" dir=\"%s\" file=%s err=\"%s\"", w->dir,
                    name, strerror(errno));
            rc = NF_EIO;
            break;
        }
        deleted++;
    }
    free(seqs);
    if (deleted > 0 && fsync(w->dirfd) == -1)
        rc = NF_EIO;
    return rc != 0 ? rc : deleted;
}

/* ---- lifecycle
 * ----------------------------------------------------------------------------------- */

int wal_new(const struct wal_opts *opts, struct wal **out)
{
    *out = NULL;
    if (opts == NULL || opts->dir == NULL || opts->dir[0] == '\0' ||
        (opts->fsync != WAL_FSYNC_ALWAYS && opts->fsync != WAL_FSYNC_OFF) ||
        opts->segment_bytes < WAL_SEGMENT_MIN || opts->producers < 1 ||
        opts->producers > WAL_MAX_PRODUCERS || opts->ring_size < 4 ||
        (opts->ring_size & (opts->ring_size - 1)) != 0 || opts->ring_size > (1u << 24) ||
        opts->group_commit_us > 1000000)
        return NF_ECONFIG;
    int rc = NF_ENOMEM;
    struct wal *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NF_ENOMEM;
    w->opts = *opts;
    w->dirfd = w->efd = w->seg_fd = -1;
    w->dir = strdup(opts->dir);
    if (w->dir == NULL)
        goto fail;
    w->opts.dir = w->dir;
    if (pthread_mutex_init(&w->ctl_mu, NULL) != 0)
        goto fail_dir;
    if (pthread_cond_init(&w->ctl_cv, NULL) != 0)
        goto fail_mu;
    if (posix_memalign((void **)&w->prods, 64, opts->producers * sizeof(*w->prods)) != 0)
        goto fail_cv;
    memset(w->prods, 0, opts->producers * sizeof(*w->prods));
    for (unsigned i = 0; i < opts->producers; i++) {
        struct wal_prod *p = &w->prods[i];
        p->slots = calloc(opts->ring_size, sizeof(*p->slots));
        if (p->slots == NULL)
            goto fail_rings;
        ck_ring_init(&p->ring, opts->ring_size);
        if (!ck_ring_valid(&p->ring)) {
            rc = NF_ECONFIG;
            goto fail_rings;
        }
    }
    rc = NF_EIO;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd == -1)
        goto fail_rings;
    if (opts->js != NULL) {
        /* Cluster backend: no directory, no segment file; segment numbers continue the stream's. */
        w->js_cap = wal_js_max_message(opts->js);
        w->js_buf = malloc(w->js_cap);
        if (w->js_buf == NULL) {
            rc = NF_ENOMEM;
            goto fail_efd;
        }
        atomic_store_explicit(&w->cur_seq, wal_js_next_segment(opts->js), memory_order_relaxed);
        *out = w;
        return 0;
    }
    if (mkdir(w->dir, 0700) == -1 && errno != EEXIST) {
        wal_log("error", "msg=\"cannot create directory\" dir=\"%s\" err=\"%s\"", w->dir,
                strerror(errno));
        goto fail_efd;
    }
    w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dirfd == -1) {
        wal_log("error", "msg=\"cannot open directory\" dir=\"%s\" err=\"%s\"", w->dir,
                strerror(errno));
        goto fail_efd;
    }
    uint64_t *seqs;
    size_t n;
    rc = seg_list(w->dirfd, &seqs, &n);
    if (rc != 0)
        goto fail_dirfd;
    uint64_t seq = n > 0 ? seqs[n - 1] + 1 : 1;
    free(seqs);
    rc = seg_create(w, seq, &w->seg_fd);
    if (rc != 0)
        goto fail_dirfd;
    atomic_store_explicit(&w->cur_seq, seq, memory_order_relaxed); /* published by wal_start */
    *out = w;
    return 0;

fail_dirfd:
    close(w->dirfd);
fail_efd:
    close(w->efd);
fail_rings:
    for (unsigned i = 0; i < opts->producers; i++)
        free(w->prods[i].slots);
    free(w->prods);
fail_cv:
    pthread_cond_destroy(&w->ctl_cv);
fail_mu:
    pthread_mutex_destroy(&w->ctl_mu);
fail_dir:
    free(w->dir);
fail:
    free(w);
    return rc;
}

/* ---- producer side
 * -------------------------------------------------------------------------------- */

int wal_enqueue_spsc(struct wal *w, unsigned producer, struct wal_batch *b)
{
    if (producer >= w->opts.producers || b == NULL || b->done == NULL)
        return NF_EINVAL;
    struct wal_prod *p = &w->prods[producer];
    /* Everything the producer wrote into *b (and the record bytes) happens-before the WAL
     * thread's reads: ck_ring_enqueue_spsc issues a store fence before publishing p_tail, which
     * pairs with the load fence in ck_ring_dequeue_spsc. TSan cannot see ck's fences. */
    NF_TSAN_RELEASE(b);
    NF_TSAN_IGNORE_BEGIN(); /* ck's slot accesses: ordered by its fences (see nf_ring.c) */
    bool ok = ck_ring_enqueue_spsc(&p->ring, p->slots, b);
    NF_TSAN_IGNORE_END();
    if (!ok) {
        /* Counter only (many producers): relaxed, orders nothing. */
        atomic_fetch_add_explicit(&w->st_full_rings, 1, memory_order_relaxed);
        return NF_EFULL;
    }
    return 0;
}

void wal_wake(struct wal *w)
{
    uint64_t one = 1;
    /* The eventfd write follows the ring publication, so the writer's read-then-drain always
     * finds this batch (the write is a syscall: a full barrier). EAGAIN would mean the counter
     * is at 2^64-2: the writer is awake anyway. */
    ssize_t rc = write(w->efd, &one, sizeof(one));
    (void)rc;
}

int wal_submit_spsc(struct wal *w, unsigned producer, struct wal_batch *b)
{
    int rc = wal_enqueue_spsc(w, producer, b);
    if (rc == 0)
        wal_wake(w);
    return rc;
}

/* ---- writer thread
 * ------------------------------------------------------------------------------- */

static void efd_clear(struct wal *w)
{
    uint64_t v;
    ssize_t rc = read(w->efd, &v, sizeof(v)); /* EAGAIN when nothing was pending */
    (void)rc;
}

/* Blocks until the eventfd is readable or timeout_ns passes (UINT64_MAX: forever). 1 if
 * readable. */
static int efd_wait(struct wal *w, uint64_t timeout_ns)
{
    struct pollfd pfd = {.fd = w->efd, .events = POLLIN};
    struct timespec ts, *tp = NULL;
    if (timeout_ns != UINT64_MAX) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000ull);
        ts.tv_nsec = (long)(timeout_ns % 1000000000ull);
        tp = &ts;
    }
    int rc = ppoll(&pfd, 1, tp, NULL);
    return rc > 0;
}

/* Writes the gathered iovecs to the current segment. On a failure the segment is cut back to
 * its previous length (made durable by the group's fdatasync) and every batch of this write gets
 * the error. */
static void flush_iov(struct wal *w, struct group *g)
{
    if (g->niov == 0)
        return;
    if (w->opts.js != NULL) { /* cluster backend: complete() publishes from the batch list */
        g->niov = 0;
        g->iov_bytes = 0;
        return;
    }
    struct iovec *iov = g->iov;
    unsigned cnt = g->niov;
    size_t left = g->iov_bytes;
    int err = 0;
    while (left > 0) {
        stat_add(&w->st_writes, 1);
        ssize_t n = writev(w->seg_fd, iov, (int)cnt);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        left -= (size_t)n;
        while (cnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0 && n > 0) { /* partial iovec; iov points into g->iov, ours to edit */
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    if (err == 0) {
        w->seg_size += g->iov_bytes;
        stat_add(&w->st_bytes, g->iov_bytes);
        g->dirty = 1;
    } else {
        int status = io_status(err);
        wal_log("error", "msg=\"write failed\" dir=\"%s\" err=\"%s\" bytes=%zu", w->dir,
                strerror(err), g->iov_bytes);
        if (left < g->iov_bytes) {
            /* Part of it reached the file: cut it off. The group's fdatasync (complete()) makes
             * the cut durable before any of its requests is answered; a cut that cannot be made
             * leaves no answer true (see seg_cut_back). */
            if (ftruncate(w->seg_fd, (off_t)w->seg_size) == -1) {
                wal_log("error",
                        "msg=\"cannot cut back a failed write; exiting unanswered\" dir=\"%s\" "
                        "err=\"%s\"",
                        w->dir, strerror(errno));
                _exit(NF_WAL_EXIT_UNKNOWN);
            }
            g->dirty = 1;
        }
        for (unsigned i = 0; i < g->niov; i++)
            g->iov_batch[i]->status_ = status;
    }
    g->niov = 0;
    g->iov_bytes = 0;
}

/* Places one drained batch: runs pre(), rotates when it would cross segment_bytes, queues it. */
static void place_batch(struct wal *w, struct group *g, struct wal_batch *b)
{
    b->next_ = NULL;
    b->status_ = 0;
    b->skip = 0;
    if (g->tail != NULL)
        g->tail->next_ = b;
    else
        g->head = b;
    g->tail = b;
    g->nbatches++;
    if (w->fatal != 0) {
        b->status_ = w->fatal;
        return;
    }
    if (b->pre != NULL)
        b->pre(b);
    if (b->skip || b->len == 0) {
        b->seq = atomic_load_explicit(&w->cur_seq, memory_order_relaxed); /* own value */
        b->offset = w->seg_size + g->iov_bytes;
        return;
    }
    uint64_t pos = w->seg_size + g->iov_bytes;
    if (w->opts.js == NULL && pos > 0 && pos + b->len > w->opts.segment_bytes) {
        flush_iov(w, g);
        /* Whatever is unsynced in the old segment is made durable before we leave it, in both
         * modes: a torn tail may only ever be in the last segment (replay refuses it anywhere
         * else), even after a power loss with WAL_FSYNC_OFF. */
        int sync_old = g->dirty;
        if (w->fatal == 0 && w->seg_size > 0) {
            /* A failure to create the next segment just keeps us appending to this one. */
            (void)seg_rotate(w, sync_old);
            if (w->fatal != 0)
                g->sync_failed = 1;
            else if (sync_old)
                g->dirty = 0; /* synced, whether or not the new segment could be created */
        }
        if (w->fatal != 0) {
            b->status_ = w->fatal;
            return;
        }
    }
    b->seq = atomic_load_explicit(&w->cur_seq, memory_order_relaxed); /* own value */
    b->offset = w->seg_size + g->iov_bytes;
    g->iov[g->niov].iov_base = (void *)(uintptr_t)b->data;
    g->iov[g->niov].iov_len = b->len;
    g->iov_batch[g->niov] = b;
    g->niov++;
    g->iov_bytes += b->len;
    if (g->niov == WAL_IOV_CAP)
        flush_iov(w, g);
}

/* prod_pop: the next batch of producer ring p, or NULL. WAL thread. The slot read is ordered by
 * ck's fences, which TSan cannot see: not tracked; the batch's hand-off is annotated. */
static struct wal_batch *prod_pop(struct wal_prod *p)
{
    struct wal_batch *b = NULL;
    NF_TSAN_IGNORE_BEGIN();
    bool ok = ck_ring_dequeue_spsc(&p->ring, p->slots, &b);
    NF_TSAN_IGNORE_END();
    if (!ok)
        return NULL;
    NF_TSAN_ACQUIRE(b); /* pairs with NF_TSAN_RELEASE in wal_enqueue_spsc */
    return b;
}

/* Dequeues everything from every ring into the group and writes it. Returns batches taken. */
static uint64_t drain(struct wal *w, struct group *g)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < w->opts.producers; i++) {
        struct wal_prod *p = &w->prods[i];
        struct wal_batch *b;
        while ((b = prod_pop(p)) != NULL) {
            place_batch(w, g, b);
            n++;
        }
    }
    flush_iov(w, g);
    return n;
}

/* Publishes the gathered payload and marks the batches from..to (exclusive) with the result.
 * Returns the publish status. */
static int js_publish(struct wal *w, struct wal_batch *from, struct wal_batch *to, size_t used)
{
    uint64_t seg = atomic_load_explicit(&w->cur_seq, memory_order_relaxed); /* own value */
    int rc = wal_js_append(w->opts.js, seg, w->js_buf, used, &w->stop_req);
    stat_add(&w->st_writes, 1);
    stat_add(&w->st_syncs, 1);
    if (rc == 0) {
        stat_add(&w->st_bytes, used);
        w->js_seg_used = 1;
        return 0;
    }
    if (rc == NF_ESTATE && w->fatal == 0)
        wal_set_fatal(w, NF_EIO); /* fenced: nothing more may be acknowledged on this log */
    for (struct wal_batch *b = from; b != to; b = b->next_)
        if (b->status_ == 0)
            b->status_ = NF_EIO;
    return rc;
}

/* Cluster backend: publishes the group's records as messages of at most js_cap bytes, in submit
 * order, each after the previous one's PubAck. After a failure nothing later is published and
 * every batch not covered by an acknowledged message fails, skipped ones too (their original
 * may be among the failed). */
static void js_commit(struct wal *w, struct group *g)
{
    struct wal_batch *from = g->head;
    size_t used = 0;
    int failed = 0;
    for (struct wal_batch *b = g->head; b != NULL; b = b->next_) {
        if (failed) {
            b->status_ = NF_EIO;
            continue;
        }
        if (b->status_ != 0 || b->skip || b->len == 0)
            continue;
        if (b->len > w->js_cap) {
            wal_log("error", "msg=\"batch larger than one JetStream message\" bytes=%zu max=%zu",
                    b->len, w->js_cap);
            b->status_ = NF_EIO;
            continue;
        }
        if (used + b->len > w->js_cap) {
            if (js_publish(w, from, b, used) != 0) {
                failed = 1;
                b->status_ = NF_EIO;
                continue;
            }
            from = b;
            used = 0;
        }
        memcpy(w->js_buf + used, b->data, b->len);
        used += b->len;
    }
    if (!failed && used > 0 && js_publish(w, from, NULL, used) != 0)
        failed = 1;
    if (failed)
        for (struct wal_batch *b = g->head; b != NULL; b = b->next_)
            if (b->skip)
                b->status_ = NF_EIO;
}

/* Syncs what the group wrote, then calls done() for every batch in submit order. */
static void complete(struct wal *w, struct group *g)
{
    if (w->opts.js != NULL)
        js_commit(w, g);
    if (g->dirty && w->opts.fsync == WAL_FSYNC_ALWAYS) {
        if (seg_sync(w) != 0)
            g->sync_failed = 1;
        g->dirty = 0;
    }
    /* Counters first, so a producer that sees its done() also sees the group counted. */
    uint64_t failed = 0, skipped = 0;
    for (struct wal_batch *b = g->head; b != NULL; b = b->next_) {
        failed += (b->status_ != 0 || g->sync_failed);
        skipped += b->skip != 0;
    }
    stat_add(&w->st_batches, g->nbatches);
    stat_add(&w->st_failed, failed);
    stat_add(&w->st_skipped, skipped);
    stat_add(&w->st_groups, 1);
    struct wal_batch *b = g->head;
    while (b != NULL) {
        struct wal_batch *next = b->next_; /* b is the caller's once done() is entered */
        int status = b->status_;
        if (status == 0 && g->sync_failed)
            status = NF_EIO;
        b->done(b, status);
        b = next;
    }
    if (w->opts.on_group_end != NULL && g->nbatches > 0)
        w->opts.on_group_end(w->opts.group_arg);
    g->head = g->tail = NULL;
    g->nbatches = 0;
    g->sync_failed = 0;
}

/* One group commit. Returns the number of batches completed. */
static uint64_t run_group(struct wal *w, int stopping)
{
    struct group *g = &w->g;
    uint64_t n = drain(w, g);
    if (n == 0)
        return 0;
    if (w->opts.fsync == WAL_FSYNC_ALWAYS && w->opts.group_commit_us > 0 && !stopping) {
        /* Keep gathering until group_commit_us after the first drain, so a steady stream still
         * gets an fdatasync at least that often. */
        uint64_t deadline = now_ns() + (uint64_t)w->opts.group_commit_us * 1000u;
        for (;;) {
            uint64_t t = now_ns();
            if (t >= deadline || !efd_wait(w, deadline - t))
                break;
            efd_clear(w); /* read before draining: see the wake protocol in wal_wake */
            n += drain(w, g);
        }
    }
    complete(w, g);
    return n;
}

static void ctl_execute(struct wal *w)
{
    switch (w->ctl_op) {
    case CTL_ROTATE:
        if (w->opts.js != NULL) { /* a new segment number; every group before it is acked */
            w->ctl_rc = w->fatal;
            if (w->ctl_rc == 0 && w->js_seg_used) {
                uint64_t seq = atomic_load_explicit(&w->cur_seq, memory_order_relaxed);
                /* Pairs with the load-acquire in wal_current_seq(). */
                atomic_store_explicit(&w->cur_seq, seq + 1, memory_order_release);
                stat_add(&w->st_rotations, 1);
                w->js_seg_used = 0;
            }
            break;
        }
        /* Between groups: with WAL_FSYNC_ALWAYS every group ended with an fdatasync; with
         * WAL_FSYNC_OFF the old segment is synced here (see place_batch). */
        w->ctl_rc = w->fatal;
        if (w->ctl_rc == 0 && w->seg_size > 0) {
            w->ctl_rc = seg_rotate(w, w->g.dirty);
            if (w->fatal == 0)
                w->g.dirty = 0;
        }
        break;
    case CTL_DELETE:
        /* Cluster backend: purge from the stream (it applies the age condition itself); a
         * fenced log purges nothing. */
        if (w->opts.js != NULL)
            w->ctl_rc = w->fatal != 0 ? w->fatal : wal_js_purge_before(w->opts.js, w->ctl_arg);
        else
            w->ctl_rc = seg_delete_before(w, w->ctl_arg);
        break;
    case CTL_NONE:
        w->ctl_rc = NF_ESTATE;
        break;
    }
    w->ctl_seq_out = atomic_load_explicit(&w->cur_seq, memory_order_relaxed); /* own value */
}

/* WAL thread: runs a pending control request (between group commits, so it sees a quiet
 * segment). With exiting set, also stops accepting new requests. */
static void ctl_poll(struct wal *w, int exiting)
{
    /* Pairs with the store-release in ctl_request(); the mutex then orders the fields. */
    if (!atomic_load_explicit(&w->ctl_pending, memory_order_acquire) && !exiting)
        return;
    pthread_mutex_lock(&w->ctl_mu);
    if (atomic_load_explicit(&w->ctl_pending, memory_order_relaxed)) { /* under ctl_mu */
        ctl_execute(w);
        w->ctl_done = 1;
        atomic_store_explicit(&w->ctl_pending, 0, memory_order_relaxed); /* under ctl_mu */
        pthread_cond_broadcast(&w->ctl_cv);
    }
    if (exiting)
        w->ctl_running = 0;
    pthread_mutex_unlock(&w->ctl_mu);
}

static void *wal_main(void *arg)
{
    struct wal *w = arg;
    pthread_setname_np(pthread_self(), "wal");
    for (;;) {
        /* Block only when neither a control request nor a stop is pending: both set their flag
         * before writing the eventfd, so a request that lands after this check wakes the poll. */
        if (!atomic_load_explicit(&w->ctl_pending, memory_order_acquire) &&
            !atomic_load_explicit(&w->stop_req, memory_order_acquire))
            efd_wait(w, UINT64_MAX);
        efd_clear(w); /* wake protocol: clear before draining */
        /* Pairs with the store-release in wal_stop(): everything submitted before it is visible
         * to the drains below. */
        int stopping = atomic_load_explicit(&w->stop_req, memory_order_acquire);
        ctl_poll(w, 0);
        run_group(w, stopping);
        if (stopping) {
            while (run_group(w, 1) > 0)
                ;
            if (w->fatal == 0 && w->g.dirty) /* WAL_FSYNC_OFF: the final sync */
                seg_sync(w);
            w->g.dirty = 0;
            ctl_poll(w, 1);
            return NULL;
        }
    }
}

int wal_start(struct wal *w)
{
    if (w->started || w->stopped)
        return NF_ESTATE;
    pthread_mutex_lock(&w->ctl_mu);
    w->ctl_running = 1;
    pthread_mutex_unlock(&w->ctl_mu);
    /* pthread_create publishes every field set so far to the new thread. */
    int err = pthread_create(&w->thread, NULL, wal_main, w);
    if (err != 0) {
        pthread_mutex_lock(&w->ctl_mu);
        w->ctl_running = 0;
        pthread_mutex_unlock(&w->ctl_mu);
        wal_log("error", "msg=\"cannot start thread\" err=\"%s\"", strerror(err));
        return NF_EIO;
    }
    w->started = 1;
    return 0;
}

void wal_stop(struct wal *w)
{
    if (w == NULL || w->stopped)
        return;
    w->stopped = 1;
    if (w->started) {
        /* Pairs with the load-acquire in wal_main(). */
        atomic_store_explicit(&w->stop_req, 1, memory_order_release);
        wal_wake(w);
        pthread_join(w->thread, NULL);
    }
    /* Anything still in a ring was enqueued after the final drain (or the thread never ran):
     * hand it back failed rather than dropping it. The join ordered the rings for us. */
    for (unsigned i = 0; i < w->opts.producers; i++) {
        struct wal_prod *p = &w->prods[i];
        struct wal_batch *b;
        while ((b = prod_pop(p)) != NULL)
            b->done(b, NF_ESTATE);
    }
}

void wal_free(struct wal *w)
{
    if (w == NULL)
        return;
    wal_stop(w);
    if (w->seg_fd != -1)
        close(w->seg_fd);
    if (w->dirfd != -1)
        close(w->dirfd);
    free(w->js_buf);
    close(w->efd);
    for (unsigned i = 0; i < w->opts.producers; i++)
        free(w->prods[i].slots);
    free(w->prods);
    pthread_cond_destroy(&w->ctl_cv);
    pthread_mutex_destroy(&w->ctl_mu);
    free(w->dir);
    free(w);
}

/* ---- control
 * ------------------------------------------------------------------------------------- */

static int ctl_request(struct wal *w, enum ctl_op op, uint64_t arg, uint64_t *seq_out)
{
    pthread_mutex_lock(&w->ctl_mu);
    while (w->ctl_busy)
        pthread_cond_wait(&w->ctl_cv, &w->ctl_mu);
    w->ctl_op = op;
    w->ctl_arg = arg;
    if (!w->ctl_running) {
        /* No writer thread: the caller owns the segment state (and holds ctl_mu). */
        ctl_execute(w);
    } else {
        w->ctl_busy = 1;
        w->ctl_done = 0;
        /* Pairs with the load-acquire in ctl_poll() / wal_main(). */
        atomic_store_explicit(&w->ctl_pending, 1, memory_order_release);
        wal_wake(w);
        while (!w->ctl_done)
            pthread_cond_wait(&w->ctl_cv, &w->ctl_mu);
        w->ctl_busy = 0;
        pthread_cond_broadcast(&w->ctl_cv);
    }
    int rc = w->ctl_rc;
    if (seq_out != NULL)
        *seq_out = w->ctl_seq_out;
    pthread_mutex_unlock(&w->ctl_mu);
    return rc;
}

int wal_rotate(struct wal *w, uint64_t *seq)
{
    return ctl_request(w, CTL_ROTATE, 0, seq);
}

int wal_delete_before(struct wal *w, uint64_t before)
{
    return ctl_request(w, CTL_DELETE, before, NULL);
}

uint64_t wal_current_seq(const struct wal *w)
{
    /* Pairs with the store-release in seg_rotate(). */
    return atomic_load_explicit(&w->cur_seq, memory_order_acquire);
}

void wal_stats_get(const struct wal *w, struct wal_stats *out)
{
    /* Counters: relaxed, pair with nothing (see stat_add). */
    out->batches = atomic_load_explicit(&w->st_batches, memory_order_relaxed);
    out->skipped = atomic_load_explicit(&w->st_skipped, memory_order_relaxed);
    out->failed = atomic_load_explicit(&w->st_failed, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&w->st_bytes, memory_order_relaxed);
    out->writes = atomic_load_explicit(&w->st_writes, memory_order_relaxed);
    out->syncs = atomic_load_explicit(&w->st_syncs, memory_order_relaxed);
    out->groups = atomic_load_explicit(&w->st_groups, memory_order_relaxed);
    out->rotations = atomic_load_explicit(&w->st_rotations, memory_order_relaxed);
    out->full_rings = atomic_load_explicit(&w->st_full_rings, memory_order_relaxed);
}

/* ---- replay
 * -------------------------------------------------------------------------------------- */

/* Prints a logfmt value, quoted when it holds a space, quote or equals sign. */
static void fmt_value(char *out, size_t cap, const char *v)
{
    if (strpbrk(v, " \"=\\") == NULL && v[0] != '\0') {
        snprintf(out, cap, "%s", v);
        return;
    }
    size_t o = 0;
    if (cap < 3)
        return;
    out[o++] = '"';
    for (; *v != '\0' && o + 3 < cap; v++) {
        if (*v == '"' || *v == '\\')
            out[o++] = '\\';
        out[o++] = *v;
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* 1 when a whole frame with a plausible header, a known type and version, and a matching
 * checksum starts anywhere in buf[from..size). */
static int valid_frame_after(const uint8_t *buf, size_t size, size_t from)
{
    for (size_t p = from; p + WAL_REC_FRAME_HDR + 2 <= size; p++) {
        const uint8_t *h = buf + p;
        uint32_t len =
            (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        if (len < 2 || len > WAL_REC_PAYLOAD_MAX || len > size - p - WAL_REC_FRAME_HDR)
            continue;
        if (h[8] < WAL_ACCEPT || h[8] > WAL_KEY_NONCE || h[9] != WAL_REC_VERSION)
            continue;
        size_t plen;
        if (wal_rec_frame_check(h, size - p, &plen) == 0)
            return 1;
    }
    return 0;
}

struct replay {
    const char *dir;
    int dirfd;
    int (*cb)(const struct wal_rec *, void *);
    void *ctx;
    struct wal_replay_stats *st;
    struct wal_rec_scratch scratch;
};

static int replay_corrupt(struct replay *r, const char *path, uint64_t off, const char *reason)
{
    snprintf(r->st->corrupt_file, sizeof(r->st->corrupt_file), "%s", path);
    r->st->corrupt_offset = off;
    snprintf(r->st->reason, sizeof(r->st->reason), "%s", reason);
    char f[PATH_MAX + 8], why_s[600];
    fmt_value(f, sizeof(f), path);
    fmt_value(why_s, sizeof(why_s), reason);
    wal_log("error", "msg=\"corrupt record\" file=%s offset=%llu reason=%s", f,
            (unsigned long long)off, why_s);
    return NF_ECORRUPT;
}

static int replay_segment(struct replay *r, uint64_t seq, int last)
{
    char name[SEG_NAME_LEN + 1], path[PATH_MAX];
    seg_name(name, seq);
    snprintf(path, sizeof(path), "%s/%s", r->dir, name);
    int fd = openat(r->dirfd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd == -1) {
        wal_log("error", "msg=\"cannot open segment\" file=%s err=\"%s\"", name, strerror(errno));
        return NF_EIO;
    }
    struct stat sb;
    if (fstat(fd, &sb) == -1) {
        close(fd);
        return NF_EIO;
    }
    size_t size = (size_t)sb.st_size;
    uint8_t *buf = NULL;
    int rc = 0;
    if (size > 0) {
        /* Mapped, not read: no copy and no heap of the segment's size (a 64 MiB malloc costs a
         * page fault per 4 KiB before the first byte is read). */
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            wal_log("error", "msg=\"cannot map segment\" file=%s err=\"%s\"", name,
                    strerror(errno));
            close(fd);
            return NF_EIO;
        }
        (void)madvise(m, size, MADV_SEQUENTIAL);
        (void)madvise(m, size, MADV_WILLNEED);
        buf = m;
    }
    size_t off = 0;
    int bad = 0;
    const char *bad_why = NULL;
    while (off < size) {
        size_t plen;
        int frc = wal_rec_frame_check(buf + off, size - off, &plen);
        if (frc != 0) {
            bad = 1;
            bad_why = frc == NF_ETRUNC ? "frame extends past end of file"
                                       : "bad frame length or checksum mismatch";
            break;
        }
        struct wal_rec rec;
        if (wal_rec_decode(buf + off + WAL_REC_FRAME_HDR, plen, &rec, &r->scratch) != 0) {
            char reason[256];
            snprintf(reason, sizeof(reason), "checksum ok but record invalid: %s",
                     r->scratch.reason);
            rc = replay_corrupt(r, path, off, reason);
            goto out;
        }
        r->st->cur_seq = seq;
        r->st->cur_offset = off;
        rc = r->cb(&rec, r->ctx);
        if (rc != 0)
            goto out;
        r->st->records++;
        r->st->bytes += WAL_REC_FRAME_HDR + plen;
        off += WAL_REC_FRAME_HDR + plen;
    }
    if (bad) {
        if (!last) {
            rc = replay_corrupt(r, path, off, bad_why);
            goto out;
        }
        if (valid_frame_after(buf, size, off + 1)) {
            char reason[256];
            snprintf(reason, sizeof(reason), "%s, with valid records after it", bad_why);
            rc = replay_corrupt(r, path, off, reason);
            goto out;
        }
        if (ftruncate(fd, (off_t)off) == -1 || fsync(fd) == -1) {
            wal_log("error", "msg=\"cannot truncate torn tail\" file=%s err=\"%s\"", name,
                    strerror(errno));
            rc = NF_EIO;
            goto out;
        }
        char f[PATH_MAX + 8];
        fmt_value(f, sizeof(f), path);
        wal_log("warn", "msg=\"truncated torn tail\" file=%s offset=%zu bytes=%zu", f, off,
                size - off);
        r->st->truncated_bytes = size - off;
        r->st->truncated_offset = off;
    }
out:
    if (buf != NULL)
        munmap(buf, size);
    close(fd);
    return rc;
}

int wal_replay(const char *dir,
               int (*cb)(const struct wal_rec *rec, void *ctx),
               void *ctx,
               struct wal_replay_stats *stats)
{
    struct wal_replay_stats local;
    struct replay *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NF_ENOMEM;
    r->st = stats != NULL ? stats : &local;
    memset(r->st, 0, sizeof(*r->st));
    r->dir = dir;
    r->cb = cb;
    r->ctx = ctx;
    int rc;
    r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->dirfd == -1) {
        rc = errno == ENOENT ? NF_ENOTFOUND : NF_EIO;
        free(r);
        return rc;
    }
    uint64_t *seqs;
    size_t n;
    rc = seg_list(r->dirfd, &seqs, &n);
    if (rc == 0 && n > 0) {
        r->st->first_seq = seqs[0];
        r->st->last_seq = seqs[n - 1];
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0 && seqs[i] != seqs[i - 1] + 1)
            wal_log("warn", "msg=\"gap in segment sequence\" dir=\"%s\" after=%llu next=%llu", dir,
                    (unsigned long long)seqs[i - 1], (unsigned long long)seqs[i]);
        rc = replay_segment(r, seqs[i], i + 1 == n);
        r->st->segments++;
    }
    free(seqs);
    close(r->dirfd);
    free(r);
    return rc;
}

int wal_failed(const struct wal *w)
{
    return atomic_load_explicit(&w->fatal_pub, memory_order_relaxed);
}
