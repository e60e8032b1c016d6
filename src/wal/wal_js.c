/* wal_js: the JetStream backend of the durable log (see include/wal_js.h). Connects with libnats,
 * creates or checks the stream, replays it through an ordered consumer at start-up, and publishes
 * the WAL writer's groups with the expected-last-sequence fence and a per-process message id.
 * The start-up thread owns the object until wal_start; then the WAL thread alone calls
 * wal_js_append. Owns: the NATS connection, its JetStream context and the copied strings. */
#include "wal_js.h"

#include <fcntl.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "nf_err.h"
#include "nf_secfile.h"
#include "wal_lease.h"
#include "wal_msg.h"

#define JS_DUP_WINDOW_NS (120ll * 1000 * 1000 * 1000) /* Nats-Msg-Id de-duplication window */
#define JS_HDR_ROOM      512u                         /* headers and subject of one message */
#define JS_RETRY_MS      50                           /* pause between retries of one publish */
#define JS_REPLAY_IDLE   (30 * 1000)                  /* replay gives up after this long idle */
#define JS_SEG_HDR       "Nf-Seg"
#define JS_MAC_HDR       "Nf-Mac"    /* HMAC-SHA-256 of the message under the cluster key, hex */
#define JS_SECRET_MIN    32u         /* bytes of a cluster secret file, at least */
#define JS_SECRET_MAX    4096u       /* ... and at most */
#define JS_START_MS      (60 * 1000) /* start-up retries JetStream API calls this long */
#define JS_AUTH_TRIES    4           /* connects before a credentials refusal is believed */

/* transient: a JetStream API call that may succeed when retried (no leader yet after a node
 * loss, request timed out, reconnecting). */
static int transient(natsStatus s, jsErrCode jerr)
{
    return s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_DISCONNECTED ||
           jerr == JSNotEnabledErr || jerr == JSClusterNotAvailErr;
}

/* One segment number's messages: what compaction needs to purge them. */
struct js_seg {
    uint64_t seg;
    uint64_t first_sseq; /* stream sequence of its first message */
    int64_t last_ms;     /* wall-clock time of its last message (ms since the epoch) */
};

struct wal_js {
    natsConnection *nc;
    jsCtx *js;
    char *stream;
    char *subject; /* "<stream>.log" */
    uint32_t ack_timeout_ms;
    size_t max_message;
    /* WAL thread once started (start-up thread before). */
    uint64_t last_seq;     /* the fence: stream sequence of the last message known */
    uint64_t next_segment; /* set by the replay */
    uint64_t writer_id;    /* random per process: message ids never repeat across runs */
    uint64_t counter;      /* per message */
    uint64_t keep_ms;
    /* The lease (lease_ms > 0): kv and lease_rev belong to the "lease" thread once started. */
    uint32_t lease_ms;
    void (*standby)(void *arg, const char *holder_addr); /* wal_js_opts.standby */
    void *standby_arg;
    kvStore *kv;
    uint64_t lease_rev;
    char owner[40]; /* this process's id in the lease's value: the writer id */
    /* The advertised API address: written by wal_js_advertise, read by the lease thread. */
    pthread_mutex_t advert_lock;
    char advert[128];
    _Atomic int advert_dirty; /* store-release by wal_js_advertise, exchange by lease_main */
    pthread_t lease_thread;
    int lease_held; /* this process created the key (lease_try) and has not given it up */
    int lease_started;
    _Atomic int lease_stop; /* store-release by wal_js_free, load-acquire by the lease thread */
    _Atomic int lease_lost; /* store-release by the lease thread; load-acquire by wal_js_append
                               and wal_js_lease_lost */
    /* Permission violations the server reported (libnats's error handler thread; relaxed): a
     * denied publish is dropped by the server, so its PubAck never comes. */
    _Atomic uint64_t denied_log; /* publishing to the log's subject */
    _Atomic uint64_t denied_api; /* the JetStream API ($JS.API.>) */
    _Atomic int log_denied;      /* WAL thread: 1 while the last message was refused for it */
    uint8_t *mac_key; /* --cluster-secret-file: 32 bytes of sodium memory (read-only), or NULL */
    int lease_mac_warned; /* lease_holder's caller (start-up, then lease thread): logged once */
    struct js_seg *segs;  /* oldest first; replayed, then appended by the WAL thread */
    size_t n_segs, cap_segs;
    int segs_incomplete; /* WAL thread: a message is missing from segs (out of memory), so a
                            purge could reach it: compaction stops for this process's life */
};

/* seg_note: records that message sseq of segment seg was written at ms. */
static int seg_note(struct wal_js *j, uint64_t seg, uint64_t sseq, int64_t ms)
{
    if (j->n_segs > 0 && j->segs[j->n_segs - 1].seg == seg) {
        j->segs[j->n_segs - 1].last_ms = ms;
        return 0;
    }
    if (j->n_segs == j->cap_segs) { /* rare: one entry per rotation (compaction interval) */
        size_t cap = j->cap_segs ? j->cap_segs * 2 : 16;
        struct js_seg *p = realloc(j->segs, cap * sizeof(*p));
        if (p == NULL)
            return NF_ENOMEM;
        j->segs = p;
        j->cap_segs = cap;
    }
    j->segs[j->n_segs++] = (struct js_seg){.seg = seg, .first_sseq = sseq, .last_ms = ms};
    return 0;
}

static void js_log(const char *lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void js_log(const char *lvl, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "lvl=%s mod=wal_js %s\n", lvl, line);
}

int wal_js_build_has_nats(void)
{
    return 1;
}

static int valid_stream_name(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 64)
        return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_'))
            return 0;
    return 1;
}

/* Splits "a,b,c" into malloc'd urls[] (pointers into the malloc'd *buf). */
static int split_servers(const char *servers, char **buf, const char ***urls, int *n)
{
    *buf = strdup(servers);
    size_t cap = 1;
    for (const char *c = servers; *c; c++)
        cap += *c == ',';
    *urls = calloc(cap, sizeof(**urls));
    if (*buf == NULL || *urls == NULL)
        return NF_ENOMEM;
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(*buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
        if (*t != '\0')
            (*urls)[(*n)++] = t;
    return *n > 0 ? 0 : NF_ECONFIG;
}

/* on_async_error: libnats's handler of errors the server sends outside a request's answer.
 * A permission violation ("Permissions Violation for Publish to ...") means that the server
 * dropped that publish: it is counted by subject, so that a publish waiting for its PubAck knows
 * it was never stored, and start-up does not wait for JetStream API answers that cannot come. */
static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *arg)
{
    struct wal_js *j = arg;
    (void)sub;
    if (err != NATS_NOT_PERMITTED)
        return;
    const char *text = NULL;
    (void)natsConnection_GetLastError(nc, &text);
    if (text == NULL)
        return;
    char quoted[96];
    snprintf(quoted, sizeof(quoted), "\"%s\"", j->subject);
    if (strstr(text, "Publish") != NULL && strstr(text, quoted) != NULL)
        atomic_fetch_add_explicit(&j->denied_log, 1, memory_order_relaxed);
    else if (strstr(text, "$JS.API") != NULL)
        atomic_fetch_add_explicit(&j->denied_api, 1, memory_order_relaxed);
    js_log("error", "msg=\"NATS refused a permission to this instance's user\" detail=\"%s\"",
           text);
}

/* api_denied: start-up gives up at once when the server denies the JetStream API. */
static int api_denied(struct wal_js *j)
{
    if (atomic_load_explicit(&j->denied_api, memory_order_relaxed) == 0)
        return 0;
    js_log("error",
           "msg=\"the NATS user may not use the JetStream API: give it publish permission "
           "on $JS.API.> (and subscribe on its inbox)\" stream=%s",
           j->stream);
    return 1;
}

/* stream_info_wait: js_GetStreamInfo, tried again while the answer is transient (the cluster
 * still electing) for up to JS_START_MS. Start-up only. */
static natsStatus stream_info_wait(struct wal_js *j, jsStreamInfo **si, jsErrCode *jerr)
{
    natsStatus s;
    int64_t until = nats_Now() + JS_START_MS;
    while ((s = js_GetStreamInfo(si, j->js, j->stream, NULL, jerr)) != NATS_OK &&
           transient(s, *jerr) && nats_Now() < until && !api_denied(j)) {
        *jerr = 0;
        nats_Sleep(JS_RETRY_MS * 4);
    }
    return s;
}

/* stream_limit: what in an existing stream's configuration would make the server remove
 * messages by itself (only nearftd's compaction may), or NULL. */
static const char *stream_limit(const jsStreamConfig *c)
{
    if (c->Retention != js_LimitsPolicy)
        return "a retention other than limits";
    if (c->MaxAge > 0)
        return "a max age";
    if (c->MaxMsgs > 0)
        return "a max message count";
    if (c->MaxBytes > 0)
        return "a max size";
    if (c->MaxMsgsPerSubject > 0)
        return "a max message count per subject";
    return NULL;
}

static int ensure_stream(struct wal_js *j, unsigned replicas)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = stream_info_wait(j, &si, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        const char *subjects[1] = {j->subject};
        sc.Name = j->stream;
        sc.Subjects = subjects;
        sc.SubjectsLen = 1;
        sc.Storage = js_FileStorage;
        sc.Retention = js_LimitsPolicy;
        sc.Replicas = (int64_t)replicas;
        sc.Duplicates = JS_DUP_WINDOW_NS;
        jerr = 0;
        s = js_AddStream(&si, j->js, &sc, NULL, &jerr);
        if (s != NATS_OK) { /* another instance may have created it meanwhile */
            jerr = 0;
            s = js_GetStreamInfo(&si, j->js, j->stream, NULL, &jerr);
        } else {
            js_log("info", "msg=\"stream created\" stream=%s replicas=%u", j->stream, replicas);
        }
    }
    if (s != NATS_OK) {
        js_log("error", "msg=\"cannot create or read the stream\" stream=%s err=\"%s\" js_err=%d",
               j->stream, natsStatus_GetText(s), (int)jerr);
        return NF_EIO;
    }
    if (si->Config != NULL && si->Config->Replicas != (int64_t)replicas)
        js_log("warn", "msg=\"stream exists with another replica count\" stream=%s replicas=%lld",
               j->stream, (long long)si->Config->Replicas);
    const char *why = si->Config != NULL ? stream_limit(si->Config) : NULL;
    if (why != NULL)
        js_log("error",
               "msg=\"the stream exists with %s: the server would remove acknowledged records; "
               "remove the limit (nats stream edit) or use another --cluster-stream\" stream=%s",
               why, j->stream);
    jsStreamInfo_Destroy(si);
    return why != NULL ? NF_ECONFIG : 0;
}

/* ---- authentication (--cluster-secret-file) ---------------------------------------------------
 * Every message is authenticated with HMAC-SHA-256 under a key derived from the cluster's secret
 * file, over the stream name, the stream sequence the message is published at (the fence makes
 * it known before the publish: the last sequence + 1), its segment number and its payload. A
 * message written by a process without the secret, altered, or copied to another sequence does
 * not verify, and the replay refuses it. The lease's value carries a shorter MAC over the holder's
 * id and address, so a standby relays only to an address the cluster's secret vouches for. */

/* load_secret: reads the secret file (the checks of nf_secfile: owner only, no symlink) and
 * derives the key (BLAKE2b-256 of its bytes) into read-only sodium memory. */
static int load_secret(struct wal_js *j, const char *path)
{
    struct stat st;
    int rc = 0;
    char err[512];
    int fd = nf_secfile_open(path, O_RDONLY, 0, "cluster secret file", &st, &rc, err, sizeof(err));
    if (fd < 0) {
        js_log("error", "msg=\"--cluster-secret-file: %s\"", err);
        return rc == NF_ENOMEM ? rc : NF_ECONFIG;
    }
    uint8_t *buf = sodium_malloc(JS_SECRET_MAX + 1);
    size_t len = 0;
    ssize_t n = 0;
    while (buf != NULL && len <= JS_SECRET_MAX &&
           (n = read(fd, buf + len, JS_SECRET_MAX + 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    if (buf == NULL)
        return NF_ENOMEM;
    rc = 0;
    if (n < 0 || len < JS_SECRET_MIN || len > JS_SECRET_MAX) {
        js_log("error",
               "msg=\"--cluster-secret-file %s: %s (make one with: head -c 32 /dev/urandom > "
               "FILE; chmod 600 FILE; the same file on every instance)\" bytes=%zu",
               path, n < 0 ? "cannot be read" : "must hold 32 to 4096 bytes", len);
        rc = NF_ECONFIG;
    } else if ((j->mac_key = sodium_malloc(crypto_auth_hmacsha256_KEYBYTES)) == NULL) {
        rc = NF_ENOMEM;
    } else {
        crypto_generichash(j->mac_key, crypto_auth_hmacsha256_KEYBYTES, buf, len, NULL, 0);
        sodium_mprotect_readonly(j->mac_key);
    }
    sodium_free(buf);
    return rc;
}

/* ---- the lease ------------------------------------------------------------------------------- */

#define LEASE_KEY "log"

/* lease_bucket_check: an existing bucket keeps the TTL it was made with. A holder renews every
 * lease_ms / 3: under a shorter TTL its key would expire between renewals and standbys would take
 * it over and over; under a longer one a dead holder's keys wait longer than --cluster-lease-ms
 * says. Either way the instances disagree: refused. */
static int lease_bucket_check(struct wal_js *j, const char *bucket)
{
    kvStatus *st = NULL;
    if (kvStore_Status(&st, j->kv) != NATS_OK)
        return 0; /* unreadable now: the renewals say so soon enough */
    int64_t ttl_ms = kvStatus_TTL(st) / 1000000;
    kvStatus_Destroy(st);
    if (ttl_ms == (int64_t)j->lease_ms)
        return 0;
    js_log("error",
           "msg=\"the lease bucket was made with another TTL than --cluster-lease-ms: give every "
           "instance the same value, or delete the bucket (nats kv del %s) while no instance "
           "runs\" bucket=%s bucket_ttl_ms=%lld cluster_lease_ms=%u",
           bucket, bucket, (long long)ttl_ms, (unsigned)j->lease_ms);
    return NF_ECONFIG;
}

static int lease_bucket(struct wal_js *j, unsigned replicas)
{
    char bucket[80];
    snprintf(bucket, sizeof(bucket), "%s_lease", j->stream);
    int64_t until = nats_Now() + JS_START_MS;
    for (;;) {
        natsStatus s = js_KeyValue(&j->kv, j->js, bucket);
        if (s == NATS_NOT_FOUND) {
            kvConfig kc;
            kvConfig_Init(&kc);
            kc.Bucket = bucket;
            kc.History = 1;
            kc.TTL = (int64_t)j->lease_ms * 1000000; /* ns: the bucket's max age */
            kc.StorageType = js_FileStorage;
            kc.Replicas = (int)replicas;
            s = js_CreateKeyValue(&j->kv, j->js, &kc);
        }
        if (s == NATS_OK)
            return lease_bucket_check(j, bucket);
        if (nats_Now() >= until || api_denied(j)) {
            js_log("error",
                   "msg=\"cannot open the lease bucket\" bucket=%s err=\"%s\" detail=\"%s\"",
                   bucket, natsStatus_GetText(s), nats_GetLastError(NULL));
            return NF_EIO;
        }
        nats_Sleep(JS_RETRY_MS * 4);
    }
}

/* lease_holder: copies the current holder's id into out and the API address it advertises into
 * addr (both "" when the key has no live value; addr "" when it carries none), and the key's
 * revision into *rev (rev may be NULL). Returns 0, or -1 when the bucket could not be read. */
static int
lease_holder(struct wal_js *j, char *out, size_t cap, char *addr, size_t addr_cap, uint64_t *rev)
{
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, j->kv, LEASE_KEY);
    if (rev != NULL)
        *rev = s == NATS_OK ? kvEntry_Revision(e) : 0;
    out[0] = '\0';
    addr[0] = '\0';
    if (s == NATS_NOT_FOUND)
        return 0;
    if (s != NATS_OK)
        return -1;
    const char *v = kvEntry_ValueString(e);
    if (wal_lease_parse(v != NULL ? v : "", j->mac_key, j->stream, out, cap, addr, addr_cap) != 0) {
        if (!j->lease_mac_warned)
            js_log("warn",
                   "msg=\"the lease's address is not authenticated by the cluster secret or is "
                   "not an address: not relaying to it\" stream=%s holder=%s",
                   j->stream, out);
        j->lease_mac_warned = 1;
    }
    kvEntry_Destroy(e);
    return 0;
}

/* lease_value: this process's lease value (wal_lease_format): its id and advertised address. */
static void lease_value(struct wal_js *j, char *out, size_t cap)
{
    pthread_mutex_lock(&j->advert_lock);
    (void)wal_lease_format(j->mac_key, j->stream, j->owner, j->advert, out, cap);
    pthread_mutex_unlock(&j->advert_lock);
}

/* lease_try: creates the lease key (only when it does not exist or has expired). 1 when this
 * process holds the lease now, 0 when another does (or the bucket could not be written). */
static int lease_try(struct wal_js *j)
{
    char v[220];
    lease_value(j, v, sizeof(v));
    if (kvStore_CreateString(&j->lease_rev, j->kv, LEASE_KEY, v) != NATS_OK)
        return 0;
    j->lease_held = 1;
    return 1;
}

/* lease_standby: reads who holds the lease, says so now and then, and tells the standby hook
 * where the holder's API is. */
static void lease_standby(struct wal_js *j, unsigned tries)
{
    char holder[64] = "", addr[128] = "";
    int read = lease_holder(j, holder, sizeof(holder), addr, sizeof(addr), NULL) == 0;
    if (tries % 50 == 0 && read && holder[0] != '\0')
        js_log("info",
               "msg=\"standby: the log lease is held by another instance\" stream=%s holder=%s "
               "holder_addr=%s",
               j->stream, holder, addr[0] != '\0' ? addr : "-");
    /* A failed read says nothing of the holder: the relay keeps the address it had. */
    if (j->standby != NULL && read)
        j->standby(j->standby_arg, addr);
}

/* Thread "lease": renews every lease_ms / 3. A renewal that finds the key expired takes it again
 * (nobody else wrote meanwhile, or the stream fence stops this process at its next write); one
 * that finds another holder marks the lease lost, and the log refuses writes. */
static void *lease_main(void *arg)
{
    struct wal_js *j = arg;
    pthread_setname_np(pthread_self(), "lease");
    char holder[64], addr[128], value[220];
    while (!atomic_load_explicit(&j->lease_stop, memory_order_acquire)) {
        /* A renewal every lease_ms / 3; a new advertised address is written within 50 ms. */
        for (int64_t until = nats_Now() + j->lease_ms / 3 + 1; nats_Now() < until;) {
            if (atomic_load_explicit(&j->lease_stop, memory_order_acquire) ||
                atomic_load_explicit(&j->advert_dirty, memory_order_acquire))
                break;
            nats_Sleep(50);
        }
        if (atomic_load_explicit(&j->lease_stop, memory_order_acquire))
            break;
        /* Pairs with the store-release in wal_js_advertise. */
        atomic_exchange_explicit(&j->advert_dirty, 0, memory_order_acq_rel);
        lease_value(j, value, sizeof(value));
        uint64_t rev = 0;
        if (kvStore_UpdateString(&rev, j->kv, LEASE_KEY, value, j->lease_rev) == NATS_OK) {
            j->lease_rev = rev;
            continue;
        }
        uint64_t cur = 0;
        if (lease_holder(j, holder, sizeof(holder), addr, sizeof(addr), &cur) != 0)
            continue; /* NATS unreachable: try again; the lease may expire meanwhile */
        if (holder[0] == '\0') {
            if (kvStore_CreateString(&rev, j->kv, LEASE_KEY, value) == NATS_OK) {
                j->lease_rev = rev;
                js_log("warn", "msg=\"the log lease had expired; taken again\" stream=%s",
                       j->stream);
            }
            continue;
        }
        if (strcmp(holder, j->owner) == 0) {
            /* Ours: an earlier update was stored although its answer was lost. Its revision is
             * the one the next update must name, or every renewal fails until the key expires. */
            j->lease_rev = cur;
            continue;
        }
        js_log("error",
               "msg=\"the log lease is held by another instance; this log refuses writes\" "
               "stream=%s holder=%s",
               j->stream, holder);
        /* Pairs with the load-acquire in wal_js_append. */
        atomic_store_explicit(&j->lease_lost, 1, memory_order_release);
        break;
    }
    return NULL;
}

/* lease_release: deletes the lease key only while it still is at this process's last revision
 * (kvStore_Delete would delete whatever is there: a process that lost its lease unaware, in a
 * partition, would take it from the instance that holds it now). The delete marker is what
 * kvStore_Delete writes, published with the expected last subject sequence. */
static void lease_release(struct wal_js *j)
{
    char subj[128];
    snprintf(subj, sizeof(subj), "$KV.%s_lease.%s", j->stream, LEASE_KEY);
    natsMsg *m = NULL;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectLastSubjectSeq = j->lease_rev;
    po.MaxWait = (int64_t)j->ack_timeout_ms;
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    natsStatus s = NATS_NO_MEMORY;
    if (natsMsg_Create(&m, subj, NULL, NULL, 0) == NATS_OK &&
        natsMsgHeader_Set(m, "KV-Operation", "DEL") == NATS_OK)
        s = js_PublishMsg(&pa, j->js, m, &po, &jerr);
    if (s != NATS_OK)
        js_log("info",
               "msg=\"the log lease was not released (another instance holds it now, or NATS did "
               "not answer): it expires by itself\" stream=%s err=\"%s\" js_err=%d",
               j->stream, natsStatus_GetText(s), (int)jerr);
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(m);
}

/* lease_run: starts the thread "lease" that renews the lease this process holds. */
static int lease_run(struct wal_js *j)
{
    /* pthread_create publishes lease_rev and kv to the new thread. */
    if (pthread_create(&j->lease_thread, NULL, lease_main, j) != 0)
        return NF_EIO;
    j->lease_started = 1;
    return 0;
}

static void lease_stop(struct wal_js *j)
{
    if (j->lease_started) {
        /* Pairs with the load-acquire in lease_main. */
        atomic_store_explicit(&j->lease_stop, 1, memory_order_release);
        pthread_join(j->lease_thread, NULL);
        j->lease_started = 0;
    }
    /* A clean stop hands the lease over at once instead of after its TTL. */
    if (j->lease_held && !atomic_load_explicit(&j->lease_lost, memory_order_acquire))
        lease_release(j);
    j->lease_held = 0;
}

int wal_js_new(const struct wal_js_opts *o, struct wal_js **out)
{
    *out = NULL;
    if (o == NULL || o->servers == NULL || o->replicas < 1 || o->replicas > 5 ||
        o->ack_timeout_ms < 1)
        return NF_ECONFIG;
    if (!valid_stream_name(o->stream)) {
        js_log("error", "msg=\"--cluster-stream: 1 to 64 letters, digits, '-' or '_'\"");
        return NF_ECONFIG;
    }
    if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
        js_log("error", "msg=\"--cluster-tls-cert and --cluster-tls-key go together\"");
        return NF_ECONFIG;
    }
    int rc = NF_ENOMEM;
    struct wal_js *j = calloc(1, sizeof(*j));
    natsOptions *no = NULL;
    char *sbuf = NULL;
    const char **urls = NULL;
    int n_urls = 0;
    if (j == NULL)
        return NF_ENOMEM;
    pthread_mutex_init(&j->advert_lock, NULL);
    j->stream = strdup(o->stream);
    j->subject = malloc(strlen(o->stream) + 5);
    if (j->stream == NULL || j->subject == NULL)
        goto fail;
    sprintf(j->subject, "%s.log", o->stream);
    j->ack_timeout_ms = o->ack_timeout_ms;
    j->keep_ms = o->keep_ms;
    j->lease_ms = o->lease_ms;
    j->standby = o->standby;
    j->standby_arg = o->standby_arg;
    j->next_segment = 1;
    if (getrandom(&j->writer_id, sizeof(j->writer_id), 0) != (ssize_t)sizeof(j->writer_id))
        j->writer_id = (uint64_t)getpid() << 32 ^ (uint64_t)nats_Now();
    if (o->secret_file != NULL && (rc = load_secret(j, o->secret_file)) != 0)
        goto fail;
    if ((rc = split_servers(o->servers, &sbuf, &urls, &n_urls)) != 0)
        goto fail;
    rc = NF_EIO;
    natsStatus s = natsOptions_Create(&no);
    if (s == NATS_OK)
        s = natsOptions_SetServers(no, urls, n_urls);
    if (s == NATS_OK)
        s = natsOptions_SetName(no, "nearftd");
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(no, on_async_error, j);
    if (s == NATS_OK) /* reconnect for ever: a publish in flight is retried, never dropped */
        s = natsOptions_SetMaxReconnect(no, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(no, 100);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(no, 2000);
    if (s == NATS_OK && o->creds != NULL)
        s = natsOptions_SetUserCredentialsFromFiles(no, o->creds, NULL);
    if (s == NATS_OK && (o->tls_ca != NULL || o->tls_cert != NULL))
        s = natsOptions_SetSecure(no, true);
    if (s == NATS_OK && o->tls_ca != NULL)
        s = natsOptions_LoadCATrustedCertificates(no, o->tls_ca);
    if (s == NATS_OK && o->tls_cert != NULL)
        s = natsOptions_LoadCertificatesChain(no, o->tls_cert, o->tls_key);
    if (s != NATS_OK) {
        js_log("error", "msg=\"bad NATS options\" err=\"%s\" detail=\"%s\"", natsStatus_GetText(s),
               nats_GetLastError(NULL));
        rc = NF_ECONFIG;
        goto fail;
    }
    /* libnats 3.4.1 leaves the nonce's signature out of CONNECT when the signature's first byte
     * is 0 (its base64 encoder takes a leading zero byte for an empty input), so the server
     * refuses a valid credential on one connect in 256. Each connect signs a new nonce: a real
     * refusal repeats, that one does not. Reconnects retry by themselves. */
    for (int attempt = 1;; attempt++) {
        s = natsConnection_Connect(&j->nc, no);
        if (s != NATS_CONNECTION_AUTH_FAILED || o->creds == NULL || attempt == JS_AUTH_TRIES)
            break;
    }
    if (s != NATS_OK) {
        js_log("error", "msg=\"cannot connect to NATS\" servers=\"%s\" err=\"%s\" detail=\"%s\"",
               o->servers, natsStatus_GetText(s), nats_GetLastError(NULL));
        goto fail;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = (int64_t)o->ack_timeout_ms;
    if (natsConnection_JetStream(&j->js, j->nc, &jo) != NATS_OK)
        goto fail;
    int64_t mp = natsConnection_GetMaxPayload(j->nc);
    j->max_message = mp > (int64_t)JS_HDR_ROOM * 2 ? (size_t)mp - JS_HDR_ROOM : JS_HDR_ROOM;
    if ((rc = ensure_stream(j, o->replicas)) != 0)
        goto fail;
    if (o->lease_ms > 0) {
        snprintf(j->owner, sizeof(j->owner), "%016" PRIx64, j->writer_id);
        if ((rc = lease_bucket(j, o->replicas)) != 0)
            goto fail;
    }
    natsOptions_Destroy(no);
    free(urls);
    free(sbuf);
    *out = j;
    return 0;
fail:
    natsOptions_Destroy(no);
    free(urls);
    free(sbuf);
    wal_js_free(j);
    return rc;
}

void wal_js_free(struct wal_js *j)
{
    if (j == NULL)
        return;
    lease_stop(j);
    kvStore_Destroy(j->kv);
    jsCtx_Destroy(j->js);
    if (j->nc != NULL) {
        natsConnection_Close(j->nc);
        natsConnection_Destroy(j->nc);
    }
    free(j->stream);
    free(j->subject);
    free(j->segs);
    pthread_mutex_destroy(&j->advert_lock);
    sodium_free(j->mac_key);
    free(j);
}

uint64_t wal_js_next_segment(const struct wal_js *j)
{
    return j->next_segment;
}

int wal_js_advertise(struct wal_js *j, const char *addr)
{
    if (addr == NULL)
        addr = "";
    if (strlen(addr) >= sizeof(j->advert) || strchr(addr, ' ') != NULL)
        return NF_ECONFIG;
    pthread_mutex_lock(&j->advert_lock);
    snprintf(j->advert, sizeof(j->advert), "%s", addr);
    pthread_mutex_unlock(&j->advert_lock);
    /* Pairs with the exchange in lease_main. */
    atomic_store_explicit(&j->advert_dirty, 1, memory_order_release);
    return 0;
}

int wal_js_publish_denied(const struct wal_js *j)
{
    return atomic_load_explicit(&j->log_denied, memory_order_relaxed);
}

int wal_js_lease_lost(const struct wal_js *j)
{
    /* Pairs with the store-release in lease_main. */
    return atomic_load_explicit(&j->lease_lost, memory_order_acquire);
}

size_t wal_js_max_message(const struct wal_js *j)
{
    return j->max_message;
}

/* ---- replay ---------------------------------------------------------------------------------- */

static int replay_corrupt(struct wal_replay_stats *st, uint64_t sseq, size_t off, const char *why)
{
    snprintf(st->corrupt_file, sizeof(st->corrupt_file), "stream message %" PRIu64, sseq);
    st->corrupt_offset = off;
    snprintf(st->reason, sizeof(st->reason), "%s", why);
    js_log("error", "msg=\"corrupt record\" stream_seq=%" PRIu64 " offset=%zu reason=\"%s\"", sseq,
           off, why);
    return NF_ECORRUPT;
}

/* replay_refused: a message the replay must not deliver for want of authentication (rc). */
static int replay_refused(struct wal_replay_stats *st, uint64_t sseq, int rc, const char *why)
{
    snprintf(st->corrupt_file, sizeof(st->corrupt_file), "stream message %" PRIu64, sseq);
    st->corrupt_offset = 0;
    snprintf(st->reason, sizeof(st->reason), "%s", why);
    js_log("error", "msg=\"log message refused\" stream_seq=%" PRIu64 " reason=\"%s\"", sseq, why);
    return rc;
}

/* Delivers the frames of one message. */
static int replay_message(const struct wal_js *j,
                          natsMsg *m,
                          uint64_t sseq,
                          int (*cb)(const struct wal_rec *, void *),
                          void *ctx,
                          struct wal_replay_stats *st,
                          struct wal_rec_scratch *scratch)
{
    const char *segv = NULL, *macv = NULL;
    if (natsMsgHeader_Get(m, JS_SEG_HDR, &segv) != NATS_OK)
        segv = NULL;
    if (natsMsgHeader_Get(m, JS_MAC_HDR, &macv) != NATS_OK)
        macv = NULL;
    const uint8_t *buf = (const uint8_t *)natsMsg_GetData(m);
    size_t size = (size_t)natsMsg_GetDataLength(m);
    uint64_t seg = 0;
    int rc = wal_msg_check(j->mac_key, j->stream, sseq, segv, macv, buf, size, &seg);
    if (rc == NF_EINVAL)
        return replay_corrupt(st, sseq, 0, "message without a valid segment header (Nf-Seg)");
    if (rc == NF_ECORRUPT)
        return replay_refused(st, sseq, NF_ECORRUPT,
                              "message not authenticated by the cluster secret "
                              "(--cluster-secret-file): written by a process without it, "
                              "altered, or copied from another place in the stream");
    if (rc != 0)
        return replay_refused(st, sseq, NF_ECONFIG,
                              "the stream's messages are authenticated: this instance needs the "
                              "cluster's --cluster-secret-file");
    if (seg > st->last_seq)
        st->last_seq = seg;
    if (st->first_seq == 0)
        st->first_seq = seg;
    size_t off = 0;
    while (off < size) {
        size_t plen;
        if (wal_rec_frame_check(buf + off, size - off, &plen) != 0)
            return replay_corrupt(st, sseq, off, "bad frame length or checksum mismatch");
        struct wal_rec rec;
        if (wal_rec_decode(buf + off + WAL_REC_FRAME_HDR, plen, &rec, scratch) != 0) {
            char reason[256];
            snprintf(reason, sizeof(reason), "checksum ok but record invalid: %.200s",
                     scratch->reason);
            return replay_corrupt(st, sseq, off, reason);
        }
        st->cur_seq = seg;
        st->cur_offset = sseq;
        rc = cb(&rec, ctx);
        if (rc != 0)
            return rc;
        st->records++;
        st->bytes += WAL_REC_FRAME_HDR + plen;
        off += WAL_REC_FRAME_HDR + plen;
    }
    return 0;
}

/* replay_open: the ordered consumer from the stream's first message. The consumer is created
 * through the meta leader, which may still be elected after a node loss even when the stream
 * already takes writes: retried for JS_START_MS. */
static int replay_open(struct wal_js *j, natsSubscription **sub)
{
    jsOptions jo;
    jsOptions_Init(&jo);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = j->stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    jsErrCode jerr = 0;
    natsStatus s;
    int64_t until = nats_Now() + JS_START_MS;
    while ((s = js_SubscribeSync(sub, j->js, j->subject, &jo, &so, &jerr)) != NATS_OK &&
           transient(s, jerr) && nats_Now() < until && !api_denied(j)) {
        js_log("warn", "msg=\"cannot open the stream for replay yet; retrying\" err=\"%s\"",
               natsStatus_GetText(s));
        jerr = 0;
        nats_Sleep(JS_RETRY_MS * 4);
    }
    if (s != NATS_OK) {
        js_log("error", "msg=\"cannot read the stream\" stream=%s err=\"%s\" js_err=%d", j->stream,
               natsStatus_GetText(s), (int)jerr);
        return NF_EIO;
    }
    return 0;
}

/* Where a replay stands: the consumer, the last stream sequence delivered, the callback. */
struct replay_run {
    natsSubscription *sub;
    uint64_t seen;
    int (*cb)(const struct wal_rec *, void *);
    void *ctx;
    struct wal_replay_stats *st;
    struct wal_rec_scratch *scratch;
};

/* replay_one: the consumer's next message, waiting at most wait_ms, through cb. 0 delivered (or
 * skipped: a redelivery after the ordered consumer was reset), 1 nothing came in time, or an
 * error (cb's, NF_ECORRUPT, NF_ENOMEM, NF_EIO). Stream sequences have no holes but a purged
 * prefix, so after the first message every one must be the next: a jump means the holder purged
 * messages this replay had not reached (a standby that lagged, or a replay that raced a purge),
 * and the transfers whose ACCEPT was read but whose SIGNED or outcome was purged would look
 * unsettled. The replay stops (NF_EIO) instead; a new start reads a consistent stream. */
static int replay_one(struct wal_js *j, struct replay_run *r, int64_t wait_ms)
{
    natsMsg *m = NULL;
    natsStatus s = natsSubscription_NextMsg(&m, r->sub, wait_ms > 0 ? wait_ms : 1);
    if (s == NATS_TIMEOUT)
        return 1;
    if (s != NATS_OK) {
        js_log("error", "msg=\"stream replay failed\" stream=%s at=%" PRIu64 " err=\"%s\"",
               j->stream, r->seen, natsStatus_GetText(s));
        return NF_EIO;
    }
    jsMsgMetaData *meta = NULL;
    if (natsMsg_GetMetaData(&meta, m) != NATS_OK) {
        natsMsg_Destroy(m);
        return 0; /* not a stream message (none expected on an ordered consumer) */
    }
    uint64_t sseq = meta->Sequence.Stream;
    int64_t ms = meta->Timestamp / 1000000;
    jsMsgMetaData_Destroy(meta);
    int rc = 0;
    enum wal_msg_order order = wal_msg_order(r->seen, sseq);
    if (order == WAL_MSG_GAP) {
        js_log("error",
               "msg=\"stream replay found a gap: messages it had not read yet were purged; "
               "stopping (a new start replays the stream from its first message)\" stream=%s "
               "at=%" PRIu64 " next=%" PRIu64,
               j->stream, r->seen, sseq);
        rc = NF_EIO;
    } else if (order == WAL_MSG_NEXT) {
        r->seen = sseq;
        r->st->segments++;
        rc = replay_message(j, m, sseq, r->cb, r->ctx, r->st, r->scratch);
        if (rc == 0)
            rc = seg_note(j, r->st->cur_seq, sseq, ms);
    }
    natsMsg_Destroy(m);
    return rc;
}

/* replay_follow: a standby's replay while another instance holds the lease: delivers the
 * messages the holder writes as they come, and tries to take the lease every lease_ms / 8 (so a
 * dead holder's lease is taken within that of its expiry). Returns 0 once this process holds
 * the lease, or an error. */
static int replay_follow(struct wal_js *j, struct replay_run *r)
{
    int64_t waited_since = nats_Now();
    for (unsigned tries = 0;; tries++) {
        lease_standby(j, tries);
        int64_t next_try = nats_Now() + j->lease_ms / 8 + 1;
        for (int64_t left; (left = next_try - nats_Now()) > 0;) {
            int rc = replay_one(j, r, left);
            if (rc < 0)
                return rc;
            if (rc == 1)
                break;
        }
        if (lease_try(j)) {
            /* The former holder's address is stale from now on (it may only be paused): the
             * relay answers 503 until this process serves on its own listeners. */
            if (j->standby != NULL)
                j->standby(j->standby_arg, "");
            if (lease_run(j) != 0)
                return NF_EIO;
            js_log("info",
                   "msg=\"holding the log lease\" stream=%s owner=%s waited_ms=%lld "
                   "replayed_while_waiting=%" PRIu64,
                   j->stream, j->owner, (long long)(nats_Now() - waited_since), r->st->records);
            return 0;
        }
    }
}

int wal_js_replay(struct wal_js *j,
                  int (*cb)(const struct wal_rec *rec, void *ctx),
                  void *ctx,
                  struct wal_replay_stats *stats)
{
    struct wal_replay_stats local;
    struct wal_replay_stats *st = stats != NULL ? stats : &local;
    memset(st, 0, sizeof(*st));
    struct replay_run r = {.cb = cb, .ctx = ctx, .st = st};
    int rc = 0;
    int held = j->lease_ms == 0 || lease_try(j);
    /* Renewed from now on: the replay below may outlast the lease's TTL. */
    if (held && j->lease_ms > 0 && lease_run(j) != 0)
        return NF_EIO;
    if (held && j->lease_ms > 0)
        js_log("info", "msg=\"holding the log lease\" stream=%s owner=%s waited_ms=0", j->stream,
               j->owner);
    r.scratch = malloc(sizeof(*r.scratch));
    if (r.scratch == NULL)
        return NF_ENOMEM;
    if (!held && (rc = replay_open(j, &r.sub)) == 0)
        rc = replay_follow(j, &r);
    /* Holding the lease (or running without one): every message up to the stream's last. */
    uint64_t last = 0, msgs = 0;
    if (rc == 0) {
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        natsStatus s = stream_info_wait(j, &si, &jerr);
        if (s != NATS_OK) {
            js_log("error", "msg=\"cannot read the stream state\" stream=%s err=\"%s\" js_err=%d",
                   j->stream, natsStatus_GetText(s), (int)jerr);
            rc = NF_EIO;
        } else {
            last = si->State.LastSeq;
            msgs = si->State.Msgs;
            jsStreamInfo_Destroy(si);
        }
    }
    if (rc == 0 && msgs > 0 && r.seen < last && r.sub == NULL)
        rc = replay_open(j, &r.sub);
    while (rc == 0 && msgs > 0 && r.seen < last) {
        rc = replay_one(j, &r, JS_REPLAY_IDLE);
        if (rc == 1) {
            js_log("error", "msg=\"stream replay stalled\" stream=%s at=%" PRIu64 " last=%" PRIu64,
                   j->stream, r.seen, last);
            rc = NF_EIO;
        }
    }
    if (r.sub != NULL) {
        natsSubscription_Unsubscribe(r.sub);
        natsSubscription_Destroy(r.sub);
    }
    free(r.scratch);
    if (rc != 0)
        return rc;
    j->last_seq = last > r.seen ? last : r.seen;
    if (st->segments > 0)
        j->next_segment = st->last_seq + 1;
    return 0;
}

/* ---- append (WAL thread) --------------------------------------------------------------------- */

/* Whether the message at stream sequence seq carries message id id (our earlier attempt): 1, 0
 * (another's, or none there: the stream's last sequence is below the one this process knows,
 * deleted and made again or its tail lost; either way not ours to acknowledge), or -1 when it
 * could not be read. */
static int stored_as(struct wal_js *j, uint64_t seq, const char *id)
{
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetMsg(&m, j->js, j->stream, seq, NULL, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
        js_log("error",
               "msg=\"the stream holds no message where this process's next one was expected: "
               "it was deleted and made again, or lost its last messages\" stream=%s seq=%" PRIu64,
               j->stream, seq);
        return 0;
    }
    if (s != NATS_OK)
        return -1;
    const char *v = NULL;
    int ours = natsMsgHeader_Get(m, "Nats-Msg-Id", &v) == NATS_OK && v != NULL && !strcmp(v, id);
    natsMsg_Destroy(m);
    return ours;
}

int wal_js_append(
    struct wal_js *j, uint64_t seg, const uint8_t *data, size_t len, const _Atomic int *stop)
{
    char id[48], segs[24];
    /* Pairs with the store-release in lease_main. */
    if (atomic_load_explicit(&j->lease_lost, memory_order_acquire))
        return NF_ESTATE;
    snprintf(id, sizeof(id), "%016" PRIx64 "-%" PRIu64, j->writer_id, ++j->counter);
    snprintf(segs, sizeof(segs), "%" PRIu64, seg);
    natsMsg *m = NULL;
    if (natsMsg_Create(&m, j->subject, NULL, (const char *)data, (int)len) != NATS_OK ||
        natsMsgHeader_Set(m, JS_SEG_HDR, segs) != NATS_OK) {
        natsMsg_Destroy(m);
        return NF_EIO;
    }
    if (j->mac_key != NULL) { /* stored at last_seq + 1 or not at all (the fence) */
        char mac[WAL_MSG_MAC_HEX + 1];
        wal_msg_mac(j->mac_key, j->stream, j->last_seq + 1, seg, data, len, mac);
        if (natsMsgHeader_Set(m, JS_MAC_HDR, mac) != NATS_OK) {
            natsMsg_Destroy(m);
            return NF_EIO;
        }
    }
    /* The fence. libnats leaves the header out for 0, so a first message on a stream that was
     * empty at replay carries it explicitly: it fails when another process wrote first. */
    if (j->last_seq == 0 && natsMsgHeader_Set(m, "Nats-Expected-Last-Sequence", "0") != NATS_OK) {
        natsMsg_Destroy(m);
        return NF_EIO;
    }
    uint64_t denied0 = atomic_load_explicit(&j->denied_log, memory_order_relaxed);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id;
    po.ExpectLastSeq = j->last_seq;
    po.MaxWait = (int64_t)j->ack_timeout_ms;
    int rc = 0, unknown = 0; /* unknown: an earlier attempt may have been stored */
    for (unsigned attempt = 0;; attempt++) {
        jsPubAck *pa = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_PublishMsg(&pa, j->js, m, &po, &jerr);
        if (s == NATS_OK && pa != NULL) {
            atomic_store_explicit(&j->log_denied, 0, memory_order_relaxed);
            if (pa->Sequence > j->last_seq)
                j->last_seq = pa->Sequence;
            if (seg_note(j, seg, pa->Sequence, nats_Now()) != 0)
                j->segs_incomplete = 1;
            jsPubAck_Destroy(pa);
            rc = 0;
            break;
        }
        jsPubAck_Destroy(pa);
        if (jerr == JSStreamWrongLastSequenceErr) {
            /* Either an earlier attempt of this message was stored (and its duplicate was not
             * recognised: past the window, or lost in a leader change) or another process
             * appended: only the first is ours to acknowledge. */
            int ours = stored_as(j, j->last_seq + 1, id);
            if (ours == 1) {
                j->last_seq++;
                if (seg_note(j, seg, j->last_seq, nats_Now()) != 0)
                    j->segs_incomplete = 1;
                rc = 0;
                break;
            }
            if (ours == 0) {
                js_log("error",
                       "msg=\"another process appended to the stream; this log is fenced and "
                       "refuses writes\" stream=%s expected_last=%" PRIu64,
                       j->stream, j->last_seq);
                rc = NF_ESTATE;
                break;
            }
            /* The message could not be read back: still unknown, retry. */
        } else if (jerr != 0 && jerr != JSNotEnabledErr && s != NATS_NO_RESPONDERS && !unknown) {
            /* JetStream answered the only attempt with an error: the message was not stored. */
            js_log("error",
                   "msg=\"JetStream refused a log message\" stream=%s js_err=%d err=\"%s\"",
                   j->stream, (int)jerr, natsStatus_GetText(s));
            rc = NF_EIO;
            break;
        }
        if (atomic_load_explicit(&j->denied_log, memory_order_relaxed) - denied0 >= attempt + 1) {
            /* The server denied every attempt of this message (permissions): none was stored. */
            js_log("error",
                   "msg=\"NATS denies this instance's user publishing to the log's subject: the "
                   "message was not stored (give the user publish permission on %s)\" stream=%s",
                   j->subject, j->stream);
            atomic_store_explicit(&j->log_denied, 1, memory_order_relaxed);
            rc = NF_EIO;
            break;
        }
        /* Unknown outcome (timeout, connection lost), or no stream leader right now (election
         * after a node loss: no responders), or an error answering a retry whose first attempt
         * may have been stored: retry with the same id; JetStream stores it at most once. */
        if (s == NATS_TIMEOUT || s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED ||
            (jerr == 0 && s != NATS_NO_RESPONDERS))
            unknown = 1;
        if (atomic_load_explicit(stop, memory_order_acquire) && !unknown) {
            rc = NF_EIO; /* no attempt was stored: a refusal is the true answer */
            break;
        }
        if (atomic_load_explicit(stop, memory_order_acquire)) {
            js_log("error",
                   "msg=\"stopping with a log message whose outcome is unknown; exiting "
                   "unanswered\" stream=%s",
                   j->stream);
            _exit(NF_WAL_EXIT_UNKNOWN);
        }
        if (attempt == 0 || attempt % 100 == 0)
            js_log("warn",
                   "msg=\"log message not acknowledged yet; retrying\" stream=%s err=\"%s\" "
                   "js_err=%d attempt=%u",
                   j->stream, natsStatus_GetText(s), (int)jerr, attempt + 1);
        nats_Sleep(JS_RETRY_MS);
    }
    natsMsg_Destroy(m);
    return rc;
}

/* ---- compaction ------------------------------------------------------------------------------ */

int wal_js_purge_before(struct wal_js *j, uint64_t before)
{
    int64_t now = nats_Now();
    size_t n = 0;
    if (j->segs_incomplete)
        return 0;
    while (n < j->n_segs && j->segs[n].seg < before &&
           j->segs[n].last_ms + (int64_t)j->keep_ms <= now)
        n++;
    if (n == 0)
        return 0;
    /* Up to (not including) the first kept message; with every known segment purged, up to the
     * message after the last one this process knows of (the fence): never a newer writer's. */
    uint64_t upto = n < j->n_segs ? j->segs[n].first_sseq : j->last_seq + 1;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Stream.Purge.Sequence = upto;
    jsErrCode jerr = 0;
    natsStatus s = js_PurgeStream(j->js, j->stream, &jo, &jerr);
    if (s != NATS_OK) {
        js_log("warn",
               "msg=\"stream purge failed\" stream=%s upto=%" PRIu64 " err=\"%s\" js_err=%d",
               j->stream, upto, natsStatus_GetText(s), (int)jerr);
        return NF_EIO;
    }
    memmove(j->segs, j->segs + n, (j->n_segs - n) * sizeof(*j->segs));
    j->n_segs -= n;
    return (int)n;
}
