/* wal: the durable write-ahead log. One writer thread ("wal") appends already-encoded framed
 * records (wal_rec.h) to segment files <dir>/wal-<16 hex digits seq>.log, with group commit: it
 * drains every producer's SPSC ring, writes all of it, covers it with ONE fdatasync, then calls
 * each batch's done() in submit order. Producers hand batches over through a ck SPSC ring per
 * producer plus one eventfd wake; nothing on that path blocks or allocates.
 *
 * Start-up order: wal_replay() (before any thread; truncates a torn tail) → wal_new() (opens a
 * fresh segment after the highest existing one) → wal_start() → producers submit →
 * wal_stop() (after the producers stopped submitting) → wal_free().
 *
 * A failed fdatasync (WAL_FSYNC_ALWAYS): the segment is cut back to its last good fdatasync and
 * that cut is fsynced before any done() reports the failure, so a refused batch is never replayed;
 * the log then refuses every write (NF_EIO) until a restart. When the cut cannot be made durable,
 * the process exits with NF_WAL_EXIT_UNKNOWN without calling done(): no answer could be true. */
#ifndef NF_WAL_H
#define NF_WAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "wal_rec.h"

/* Exit status of a process whose log could not cut back frames after a failed fdatasync. */
#define NF_WAL_EXIT_UNKNOWN 75

enum wal_fsync_mode {
    WAL_FSYNC_ALWAYS = 0, /* done(0) only after fdatasync covered the batch */
    WAL_FSYNC_OFF = 1,    /* done(0) after write(); segments are fdatasynced only when rotated
                             and at wal_stop, so a power loss may lose acknowledged batches */
};

struct wal_js;

struct wal_opts {
    const char *dir;           /* data directory (created 0700 if missing); copied */
    enum wal_fsync_mode fsync; /* wal_fsync */
    uint64_t segment_bytes;    /* wal_segment_bytes: rotate before a batch would cross it */
    uint32_t group_commit_us;  /* wal_group_commit_us: how long the writer may keep gathering
                                  batches after the first of a group before it syncs; 0 syncs
                                  as soon as the drained batches are written (arrivals during
                                  an fdatasync still share the next one) */
    unsigned producers;        /* number of producer threads (1..WAL_MAX_PRODUCERS) */
    unsigned ring_size;        /* wal_ring_size: slots per producer ring, power of two >= 4
                                  (holds ring_size - 1 batches) */
    /* Optional: called on the WAL thread after every group's done() callbacks, so callbacks can
       defer their wake-ups of other threads and issue one per group. */
    void (*on_group_end)(void *arg);
    void *group_arg;
    /* Optional: the cluster backend (wal_js.h). NULL: segment files in dir. Set: each group is
       published to JetStream and done(0) runs only after every PubAck; no file is written, dir,
       fsync and segment_bytes are unused, segment numbers only count wal_rotate calls and
       wal_delete_before purges the stream (wal_js_purge_before: also checks the age). Borrowed
       until wal_free; only the WAL thread uses it between wal_start and wal_stop. */
    struct wal_js *js;
};

#define WAL_MAX_PRODUCERS 64
#define WAL_SEGMENT_MIN   4096u

/* One unit of hand-off. Caller-owned memory (from the caller's own slab); given to the WAL by
 * wal_submit_spsc() and given back when done() runs. The caller must not touch it in between. */
struct wal_batch {
    /* Set by the producer. */
    const uint8_t *data; /* zero or more whole FRAMED records (wal_rec_encode_framed()) laid end
                            to end, written verbatim; borrowed until done(). len 0 is allowed: a
                            barrier whose done() runs once everything before it is durable */
    size_t len;
    /* Optional; called on the WAL thread before the batch is written. May set skip = 1 (nothing
       written; done() still runs with status 0 after the group is durable, because the original
       it duplicates may be in the same group) or replace data/len (new data borrowed until
       done()). Runs in the same order as done(); state it records (e.g. an idempotency key)
       is the caller's to undo if done() then reports a failure. Must not block. */
    void (*pre)(struct wal_batch *b);
    /* Required; called on the WAL thread exactly once: status 0 when the batch is durable (or,
       with WAL_FSYNC_OFF, written), NF_EDISKFULL when the disk is full (retry later: 503),
       NF_EIO after any other I/O failure, NF_ESTATE when wal_stop() found it never drained
       (then called from the wal_stop() caller's thread). The batch belongs to the caller again
       when done() is entered. */
    void (*done)(struct wal_batch *b, int status);
    void *cookie; /* caller's; never touched by the WAL */
    int skip;     /* set by pre(); reset to 0 by the WAL before calling pre() */
    /* Set by the WAL thread before done(status 0): where the batch landed. */
    uint64_t seq;    /* segment sequence number */
    uint64_t offset; /* byte offset of the batch in that segment */
    /* Private to the WAL while it owns the batch. */
    struct wal_batch *next_;
    int status_;
};

struct wal;

/* Counters, each written only by the WAL thread except full_rings (producers); relaxed, exact
 * once wal_stop() returned. */
struct wal_stats {
    uint64_t batches;    /* batches completed (any status) */
    uint64_t skipped;    /* batches whose pre() set skip */
    uint64_t failed;     /* batches completed with a negative status */
    uint64_t bytes;      /* bytes written */
    uint64_t writes;     /* write/writev system calls */
    uint64_t syncs;      /* fdatasync calls on segment files */
    uint64_t groups;     /* group commits (one done() round each) */
    uint64_t rotations;  /* segments opened after the first */
    uint64_t full_rings; /* NF_EFULL returned by wal_submit_spsc (producer side, per-call) */
};

/* wal_new: creates the WAL for opts (copied; opts->dir borrowed until return): checks the
 * options, creates dir if missing, opens segment (highest existing seq + 1, or 1) and fsyncs the
 * directory. Call after wal_replay(). Start-up thread. Returns 0 and *out (owned by the caller,
 * release with wal_free), NF_ECONFIG for a bad option, NF_EIO (errno logged) or NF_ENOMEM. */
int wal_new(const struct wal_opts *opts, struct wal **out);

/* wal_start: starts the writer thread "wal". Returns 0, NF_ESTATE if already started or stopped,
 * NF_EIO. Start-up thread. */
int wal_start(struct wal *w);

/* wal_stop: wakes the writer, which drains every ring, writes and fdatasyncs (in both fsync
 * modes) everything submitted before this call, runs the done() callbacks, and exits; joins it.
 * Producers must have stopped submitting (a batch enqueued concurrently may be failed with
 * NF_ESTATE). Idempotent; safe before wal_start. Any thread except the WAL thread. */
void wal_stop(struct wal *w);

/* wal_free: stops if needed and releases everything; NULL-safe. Segment files stay on disk. */
void wal_free(struct wal *w);

/* wal_submit_spsc: hands b (see struct wal_batch) to the writer through producer's ring and
 * writes the eventfd. Only ever one thread per producer index, and one producer index per
 * thread. Returns 0 (b now belongs to the WAL until done()), NF_EFULL when the ring is full (b
 * still the caller's: answer 503), NF_EINVAL for a bad producer index or a NULL done. Never
 * blocks. */
int wal_submit_spsc(struct wal *w, unsigned producer, struct wal_batch *b);

/* wal_enqueue_spsc / wal_wake: the burst form of wal_submit_spsc: enqueue several batches with
 * wal_enqueue_spsc (same contract, no wake), then call wal_wake once. A producer must call
 * wal_wake after its last successful wal_enqueue_spsc before it waits for any done(). */
int wal_enqueue_spsc(struct wal *w, unsigned producer, struct wal_batch *b);
void wal_wake(struct wal *w);

/* wal_rotate: runs on the WAL thread between group commits (directly on the caller's thread when
 * the writer is not running): closes the current segment after syncing it and opens seq + 1,
 * unless the current segment is still empty. Sets *seq (may be NULL) to the segment new writes
 * go to; every batch whose done() has already run lies in a lower segment. Blocks the caller
 * until done (control path, not the request path). Returns 0 or NF_EIO. Any thread except the
 * WAL thread itself (a done() or pre() callback must not call it). */
int wal_rotate(struct wal *w, uint64_t *seq);

/* wal_failed: 0, or the negative nf_err with which the log refuses every write since a failed
 * fdatasync (until a restart). Any thread. */
int wal_failed(const struct wal *w);

/* wal_delete_before: deletes every segment file with seq < before (never the current segment;
 * cluster backend: see wal_opts.js),
 * then fsyncs the directory. Same threading as wal_rotate. Returns the number of files deleted
 * (>= 0) or NF_EIO. */
int wal_delete_before(struct wal *w, uint64_t before);

/* wal_seg_name_parse: whether name is a segment file's name, exactly "wal-" + 16 lowercase hex
 * digits + ".log"; sets *seq to its number. 0, or -1 (*seq untouched). Pure, any thread. */
int wal_seg_name_parse(const char *name, uint64_t *seq);

/* wal_current_seq: the sequence number of the segment being appended to. Any thread. */
uint64_t wal_current_seq(const struct wal *w);

/* wal_stats_get: a snapshot of the counters. Any thread. */
void wal_stats_get(const struct wal *w, struct wal_stats *out);

/* Replay statistics and the position of corruption or truncation. */
struct wal_replay_stats {
    uint64_t segments;         /* segment files read */
    uint64_t records;          /* records passed to the callback */
    uint64_t bytes;            /* bytes of valid frames */
    uint64_t first_seq;        /* lowest segment seq (0 when none) */
    uint64_t last_seq;         /* highest segment seq (0 when none) */
    uint64_t cur_seq;          /* during the callback: segment of the record being delivered */
    uint64_t cur_offset;       /* during the callback: frame offset of that record */
    uint64_t truncated_bytes;  /* torn tail removed from the last segment (0 when none) */
    uint64_t truncated_offset; /* new length of that segment */
    uint64_t corrupt_offset;   /* NF_ECORRUPT: offset of the bad frame in corrupt_file */
    char corrupt_file[PATH_MAX];
    char reason[256]; /* NF_ECORRUPT: what was wrong */
};

/* wal_replay: reads every segment of dir in seq order, verifies each frame's length and crc32c,
 * decodes it and calls cb(rec, ctx) (rec and the strings in it are valid only during the call).
 * A torn or corrupt tail of the LAST segment (short header, length past EOF, checksum mismatch,
 * with no valid frame after it) is truncated away (ftruncate + fsync) with one warn log line,
 * and replay succeeds. A bad frame with a valid frame somewhere after it, a bad frame in any
 * other segment, or a frame whose checksum matches but does not decode is NF_ECORRUPT, with
 * stats->corrupt_file / corrupt_offset / reason set and one error log line; nothing after it
 * is delivered. Call before wal_new, with no WAL running on dir. Start-up thread.
 * Returns 0, NF_ENOTFOUND if dir does not exist (a first start), NF_ECORRUPT, NF_EIO, NF_ENOMEM,
 * or the first non-zero value cb returned (replay stops there). stats may be NULL; otherwise
 * filled (zeroed first). */
int wal_replay(const char *dir,
               int (*cb)(const struct wal_rec *rec, void *ctx),
               void *ctx,
               struct wal_replay_stats *stats);

#endif
