/* wal_js: the NATS JetStream backend of the durable log (cluster mode, --cluster). The WAL
 * writer thread (wal.h) publishes each group of framed records as JetStream messages on the
 * subject "<stream>.log" of a stream with --cluster-replicas replicas, and completes the group
 * only after every message got its PubAck (stored by a quorum of the replicas). Start-up replays
 * the stream from its first message instead of the segment files.
 *
 * Fencing: every publish carries Nats-Expected-Last-Sequence = the stream sequence of the last
 * message this process knows of (the end of its replay, then its own acks). A second process
 * appending to the same stream therefore makes the first one's next publish fail; the fenced
 * process refuses every write from then on (wal_failed), so it never acknowledges or signs on
 * top of a log it has not read. Every publish also carries a Nats-Msg-Id unique to this process
 * and message, so a publish whose outcome is unknown (timeout, lost connection, leader election)
 * is retried with the same id until JetStream answers: a duplicate is acknowledged once, never
 * stored twice (past the stream's duplicate window, the expected-sequence check finds the first
 * copy by its id instead).
 *
 * With a cluster secret (wal_js_opts.secret_file) every message also carries an HMAC-SHA-256 over
 * the stream, the sequence it is stored at, its segment and its payload, and the replay refuses a
 * message that does not verify; the lease's value (holder id and advertised address) carries one
 * too. Permission violations the server reports (libnats's error handler) are counted by subject:
 * a log message whose every attempt was denied was not stored and is refused (NF_EIO).
 *
 * Threads: wal_js_new, wal_js_replay and wal_js_free on the start-up thread; wal_js_append only on
 * the WAL writer thread once wal_start ran (the connection's own threads are libnats's). Built
 * only when libnats is found (NF_HAVE_NATS); otherwise wal_js_new returns NF_ECONFIG. */
#ifndef NF_WAL_JS_H
#define NF_WAL_JS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "wal.h"

struct wal_js_opts {
    const char *servers;     /* "nats://h1:4222,nats://h2:4222,..." (cluster); borrowed */
    const char *stream;      /* cluster_stream: stream name (letters, digits, '-', '_') */
    const char *creds;       /* cluster_creds: NATS user credentials file, or NULL */
    const char *tls_ca;      /* cluster_tls_ca: CA bundle; set: TLS required, or NULL */
    const char *tls_cert;    /* cluster_tls_cert + cluster_tls_key: client certificate */
    const char *tls_key;     /*   (mutual TLS), or both NULL */
    const char *secret_file; /* cluster_secret_file: the cluster's secret (>= 32 bytes), or
                                NULL: messages and the lease's address are authenticated with
                                it and the replay refuses any message that does not verify */
    unsigned replicas;       /* cluster_replicas: replicas of a stream this process creates */
    uint32_t ack_timeout_ms; /* cluster_ack_timeout_ms: one publish's wait for its PubAck
                                before it is retried (same message id) */
    uint64_t keep_ms;        /* wal_js_purge_before keeps segments written to this recently
                                (the idempotency keep time, idem_keep_ms) */
    uint32_t lease_ms;       /* cluster_lease_ms: 0, or the TTL of the log's lease in the KV
                                bucket "<stream>_lease": wal_js_replay returns once it holds
                                it (a standby follows the stream until then), a thread renews
                                it every lease_ms / 3 */
    /* standby: NULL, or called (with standby_arg) every lease_ms / 8 while wal_js_replay waits
     * as a standby, on its thread (nearftd tells its service manager it is waiting and points
     * its relay at the holder), except after a lease read that failed (the last address stands),
     * and once more with "" when this process has just taken the lease (the former holder's
     * address is stale). holder_addr: the API address ("HOST:PORT") the holder advertises
     * (wal_js_advertise), or "" when the lease is free or carries none; borrowed for the call. */
    void (*standby)(void *arg, const char *holder_addr);
    void *standby_arg;
};

struct wal_js;

/* wal_js_build_has_nats: 1 when this binary was built with libnats, 0 otherwise. */
int wal_js_build_has_nats(void);

/* wal_js_new: connects to the servers (all strings copied), creates the stream when it does not
 * exist (file storage, o->replicas, duplicate window 2 minutes) or checks the existing one, and
 * with o->lease_ms opens (or creates) the lease bucket. Start-up thread. Returns 0 and *out (the
 * caller's; wal_js_free), NF_ECONFIG (bad option, or built without libnats), NF_EIO (cannot
 * connect, JetStream refused; one error log line says why). */
int wal_js_new(const struct wal_js_opts *o, struct wal_js **out);

/* wal_js_replay: reads every message of the stream from its first, checks each frame and calls
 * cb as wal_replay does (stats->cur_seq = the message's segment number, cur_offset = its stream
 * sequence; stats->last_seq = the highest segment number). Remembers the last stream sequence
 * read as the fence for wal_js_append. With a lease (o->lease_ms): while another instance holds
 * it, this one is a standby: it goes on calling cb for the messages the holder writes, as they
 * come, and tries to take the lease every lease_ms / 8, for as long as it takes; once it holds
 * the lease it reads the rest up to the stream's last message, starts the thread "lease" that
 * renews it (an instance that finds its lease held by another refuses every write from then on,
 * like a fenced one: the lease decides who should write, the stream fence is what makes a second
 * writer harmless) and returns. cb therefore sees records written after the call began. Call
 * once, before wal_new. Start-up thread. Returns 0, NF_ECORRUPT (a frame that does not check or
 * decode; stats->reason says why), NF_EIO (the stream could not be read), or cb's first non-zero
 * value. */
int wal_js_replay(struct wal_js *j,
                  int (*cb)(const struct wal_rec *rec, void *ctx),
                  void *ctx,
                  struct wal_replay_stats *stats);

/* wal_js_next_segment: the segment number new messages start with (highest replayed + 1). */
uint64_t wal_js_next_segment(const struct wal_js *j);

/* wal_js_max_message: the largest message payload the servers take, less room for headers. */
size_t wal_js_max_message(const struct wal_js *j);

/* wal_js_advertise: the address ("HOST:PORT", at most 127 bytes; NULL or "": none) other
 * instances' relays reach this instance's API at. The lease's value is "<writer id> <address>":
 * the lease thread writes it at its next renewal, within 50 ms. Main thread, once the instance
 * listens. Returns 0, or NF_ECONFIG (too long, or contains a space). */
int wal_js_advertise(struct wal_js *j, const char *addr);

/* wal_js_publish_denied: 1 while the last log message was refused because the server denies
 * this instance's NATS user publishing to the log's subject (the next message tries again), else
 * 0. Any thread. */
int wal_js_publish_denied(const struct wal_js *j);

/* wal_js_lease_lost: 1 once the lease thread found the log's lease held by another instance
 * (this log refuses every write from then on), else 0. Any thread. */
int wal_js_lease_lost(const struct wal_js *j);

/* wal_js_append: publishes data[0..len) (whole frames) as one message of segment seg and waits
 * for its PubAck, retrying an unknown outcome with the same message id until JetStream answers
 * or *stop becomes non-zero (then the process exits with NF_WAL_EXIT_UNKNOWN: no answer to the
 * batches could be true). Borrows data until return. WAL thread. Returns 0 (stored by a quorum),
 * NF_EIO (JetStream refused it: not stored), NF_ESTATE (fenced: another process appended to the
 * stream; not stored). */
int wal_js_append(
    struct wal_js *j, uint64_t seg, const uint8_t *data, size_t len, const _Atomic int *stop);

/* wal_js_purge_before: compaction. Purges from the stream every message of the oldest segments
 * that are all numbered below `before` and whose last message is at least keep_ms old (stopping
 * at the first that is not), i.e. the same two conditions under which the local log deletes a
 * segment file. Only messages this process replayed or wrote are purged: a purge never reaches
 * past the fence, so a former instance cannot purge what a newer one wrote. WAL thread (a
 * control request, between groups) or the start-up thread. Returns the number of segments
 * purged (>= 0) or NF_EIO. */
int wal_js_purge_before(struct wal_js *j, uint64_t before);

/* wal_js_free: closes the connection; NULL-safe. After wal_free of the log that used it. */
void wal_js_free(struct wal_js *j);

#endif
