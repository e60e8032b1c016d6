/* fuzz_recovery: nearftd's start-up replay (src/pipeline/recovery.c: replay_cb and the ACCEPT,
 * SIGNED, OUTCOME, JOB_FINAL and KEY_NONCE handlers that copy decoded records into jobs, batch
 * slots, the idempotency index, the spend windows and the key pool) driven through the public
 * API: pipe_new over a data directory holding the input as log segments, then pipe_free. No
 * thread is started and nothing connects (the RPC URL is a closed 127.0.0.1 port that pipe_new
 * never dials); single-threaded.
 *
 * Input: [flags u8][split u8] then chunks [len u24 LE][len payload bytes]. Each chunk is framed
 * with its correct length and crc32c, so the bytes reach the record decoder and the job mapping
 * instead of dying on checksums; a last chunk shorter than its length is written raw (a torn
 * tail). flags bit 0: two segments, the second starting at chunk number `split`; bit 1: two keys
 * in swapped order (a SIGNED record's recorded key index then names the other key); bit 2:
 * per-token spend windows for the token names "t1" and "t2".
 *
 * Properties: pipe_new returns a pipeline or NULL with a negative nf_err, without a crash, a
 * sanitizer report, a leak or a leaked file descriptor. On success: every replayed job is well
 * formed (strings terminated, lengths in range, a status replay can give), lies in a slot the
 * slab's scans visit (seeding, status, compaction), is found by job_lookup and, when signed, by
 * pipe_tx_jobs; the last ACCEPT record of each slot (decoded from the input with the pure codec)
 * holds it; /health counts the queued jobs as unsigned; /health, /metrics, /debug/stages and
 * /debug/recent render. A second pipe_new over the same directory (the first one truncated any
 * torn tail and added an empty segment) gives the same outcome, jobs and figures: the replay is
 * deterministic. The spend windows depend on the wall clock, so they are compared only when both
 * runs fell in the same second. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "job.h"
#include "keys.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_time.h"
#include "pipeline.h"
#include "pipeline_ctl.h"
#include "spend.h"
#include "wal_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FLAG_TWO_SEGMENTS 1u
#define FLAG_TWO_KEYS     2u
#define FLAG_TOKENS       4u
#define TEXT_CAP          (512u * 1024u)

static char base_dir[256], data_dir[300];
static struct cfg the_cfg;
static int cfg_loaded;

/* The model the replay is checked against, from decoding the input's chunks with the pure codec
 * (on success the replay delivered exactly these records): the id of the last ACCEPT record per
 * job slot (0: none), and whether the input ends in a raw tail (whose bytes are not modelled). */
#define JOB_SLOTS 1024 /* --job-capacity below */
static uint64_t accepted_in_slot[JOB_SLOTS];
static int raw_tail;

/* What one pipe_new left observable, for comparing two replays of the same log. */
struct outcome {
    int err;                    /* 0: pipe_new succeeded */
    uint64_t jobs_digest;       /* every replayed job slot */
    uint64_t n_jobs, n_queued;  /* jobs with an id; QUEUED among them */
    uint64_t clock_digest;      /* what is left of the spend windows (wall-clock bound) */
    char health[4096];          /* /health */
    char metrics_digest_s[128]; /* /metrics lines that do not move with time or the process */
};

static void remove_data_dir(void)
{
    DIR *d = opendir(data_dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char p[600];
            snprintf(p, sizeof(p), "%s/%s", data_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(data_dir);
}

static void remove_base_dir(void)
{
    remove_data_dir();
    rmdir(base_dir);
    cfg_free(&the_cfg);
}

/* setup: once per process: a private base directory under TMPDIR, the configuration (its data
 * directory base/data is made afresh and removed for every input) and a silent log. */
static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(base_dir, sizeof(base_dir), "%s/fuzz_recovery.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(base_dir) == NULL)
        abort();
    snprintf(data_dir, sizeof(data_dir), "%s/data", base_dir);
    atexit(remove_base_dir);
    /* Sized small so the fuzzer reaches the edges: 2 idempotency keys (the index drops the
     * oldest while replaying), 1024 job slots (ids collide in their slots), 128 batch slots. */
    char *argv[] = {"nearftd",
                    "--data-dir",
                    data_dir,
                    "--signer",
                    "payer.near",
                    "--contract",
                    "ft.near",
                    "--credentials",
                    "/nonexistent",
                    "--rpc-url",
                    "http://127.0.0.1:9",
                    "--rpc-connections",
                    "1",
                    "--job-capacity",
                    "1024", /* JOB_SLOTS */
                    "--idempotency-keys",
                    "2",
                    "--ring-size",
                    "1024",
                    "--inflight-per-key",
                    "1",
                    "--fsync",
                    "off",
                    "--max-amount-per-hour",
                    "1000000000",
                    "--max-amount-per-day",
                    "5000000000",
                    NULL};
    char *envp[] = {NULL};
    char err[512] = "";
    int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
    if (cfg_load(&the_cfg, argc, argv, envp, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_recovery: cfg_load: %s\n", err);
        abort();
    }
    cfg_loaded = 1;
    /* Corrupt logs are the point here: their error lines would only drown libFuzzer's output.
     * FUZZ_RECOVERY_LOG=1 keeps them. */
    const char *lg = getenv("FUZZ_RECOVERY_LOG");
    log_set_level(lg != NULL && lg[0] == '1' ? NF_LOG_DEBUG : NF_LOG_ERROR + 1);
}

static int write_file(const char *path, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1)
        return -1;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, p + off, n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    return off == n ? 0 : -1;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* write_segments: the chunks of in[0..n) as framed records in wal-...01.log, and from chunk
 * `split` on in wal-...02.log when two is set. A trailing partial chunk is appended raw to the
 * last segment. 0 or -1. */
static int write_segments(const uint8_t *in, size_t n, int two, unsigned split)
{
    /* A frame adds 8 bytes of header where a chunk has 3 of length: at most 5/3 of the input. */
    size_t cap = n + n / 3 * 5 + 16;
    uint8_t *seg[2] = {malloc(cap), malloc(cap)};
    size_t len[2] = {0, 0};
    int rc = -1;
    if (seg[0] == NULL || seg[1] == NULL)
        goto out;
    unsigned chunk = 0;
    size_t off = 0;
    memset(accepted_in_slot, 0, sizeof(accepted_in_slot));
    raw_tail = 0;
    while (off < n) {
        int s = two && chunk >= split;
        size_t left = n - off;
        size_t plen = 0;
        if (left >= 3)
            plen = (size_t)in[off] | (size_t)in[off + 1] << 8 | (size_t)in[off + 2] << 16;
        if (left < 3 || plen > left - 3) {
            memcpy(seg[s] + len[s], in + off, left); /* torn tail */
            len[s] += left;
            raw_tail = 1;
            break;
        }
        off += 3;
        static struct wal_rec_scratch scratch;
        struct wal_rec rec;
        if (wal_rec_decode(in + off, plen, &rec, &scratch) == 0 && rec.type == WAL_ACCEPT)
            accepted_in_slot[rec.accept.id % JOB_SLOTS] = rec.accept.id;
        uint8_t *f = seg[s] + len[s];
        put_le32(f, (uint32_t)plen);
        put_le32(f + 4, wal_crc32c(0, in + off, plen));
        memcpy(f + WAL_REC_FRAME_HDR, in + off, plen);
        len[s] += WAL_REC_FRAME_HDR + plen;
        off += plen;
        chunk++;
    }
    char path[600];
    if (mkdir(data_dir, 0700) != 0)
        goto out;
    snprintf(path, sizeof(path), "%s/wal-%016x.log", data_dir, 1);
    if (write_file(path, seg[0], len[0]) != 0)
        goto out;
    snprintf(path, sizeof(path), "%s/wal-%016x.log", data_dir, 2);
    if (two && write_file(path, seg[1], len[1]) != 0)
        goto out;
    rc = 0;
out:
    free(seg[0]);
    free(seg[1]);
    return rc;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* FNV-1a, enough to compare two replays. */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t mix_u64(uint64_t h, uint64_t v)
{
    return mix(h, &v, sizeof(v));
}

/* check_jobs: every replayed job well formed, in a slot of the slab's span (which the seeding,
 * the status scans and compaction walk), found by job_lookup and (when it waits for a transaction)
 * by pipe_tx_jobs; the last ACCEPT of each slot in its slot; the jobs' fields folded into o. */
static void check_jobs(struct nf_pipe *p, struct outcome *o)
{
    struct job_slab *s = pipe_jobs(p);
    uint64_t first, span = job_slab_span(s, &first);
    uint64_t h = 0xcbf29ce484222325ull;
    static uint64_t ids[1024];
    if (s->capacity != JOB_SLOTS)
        abort();
    for (uint64_t slot = 0; slot < JOB_SLOTS; slot++) {
        uint64_t id = atomic_load_explicit(&s->jobs[slot].id, memory_order_relaxed);
        /* The scans walk the slots of the ids [first, first + span): all of them once span is
         * the capacity. */
        if (id != 0 && span < JOB_SLOTS && id - first >= span)
            abort(); /* a replayed job they never visit */
        /* A free slot stays free: no record naming id 0 may give it a status or a hold. */
        if (id == 0 && (job_get_status(&s->jobs[slot]) != JOB_FREE ||
                        atomic_load_explicit(&s->jobs[slot].holds, memory_order_relaxed) != 0))
            abort();
        uint64_t want = accepted_in_slot[slot];
        if (want != 0 && id != want && (id == 0 || !raw_tail))
            abort(); /* an accepted transfer missing from its slot */
    }
    for (uint64_t i = 0; i < span; i++) {
        struct job *j = job_slot(s, first + i);
        uint64_t id = atomic_load_explicit(&j->id, memory_order_relaxed);
        if (id == 0)
            continue;
        enum job_status st = job_get_status(j);
        if (st != JOB_QUEUED && st != JOB_SIGNED && st != JOB_EXECUTED && st != JOB_FAILED)
            abort();
        if (j->receiver_len > JOB_RECEIVER_MAX || j->receiver[j->receiver_len] != '\0' ||
            j->memo_len > JOB_MEMO_MAX || j->memo[j->memo_len] != '\0' ||
            strnlen(j->error, sizeof(j->error)) == sizeof(j->error) ||
            strnlen(j->idem_key, sizeof(j->idem_key)) == sizeof(j->idem_key) ||
            j->waiter_thread != -1)
            abort();
        if (job_lookup(s, id) != j)
            abort();
        uint8_t hash[32];
        job_tx_hash_get(j, hash);
        if (st == JOB_SIGNED) {
            int n = pipe_tx_jobs(p, hash, ids, (int)(sizeof(ids) / sizeof(ids[0])));
            int found = 0;
            for (int k = 0; k < n; k++)
                found |= ids[k] == id;
            if (!found)
                abort();
        }
        o->n_jobs++;
        o->n_queued += st == JOB_QUEUED;
        h = mix_u64(h, id);
        h = mix_u64(h, (uint64_t)st << 8 | atomic_load(&j->holds));
        h = mix(h, &j->route, 1);
        h = mix(h, j->receiver, sizeof(j->receiver));
        h = mix(h, j->memo, sizeof(j->memo));
        h = mix_u64(h, (uint64_t)j->memo_len << 16 | (uint64_t)j->has_memo << 8 | j->has_idem);
        h = mix(h, &j->amount, sizeof(j->amount));
        h = mix_u64(h, j->body_hash);
        h = mix_u64(h, j->id_tag);
        h = mix(h, j->idem_key, sizeof(j->idem_key));
        h = mix(h, j->idem_hash, sizeof(j->idem_hash));
        h = mix_u64(h, j->idem_slot);
        h = mix_u64(h, atomic_load(&j->accepted_ms));
        h = mix_u64(h, atomic_load(&j->accept_seq));
        h = mix_u64(h, atomic_load(&j->signed_ms));
        h = mix_u64(h, atomic_load(&j->done_ms));
        h = mix_u64(h, atomic_load(&j->attempts));
        h = mix(h, hash, sizeof(hash));
        h = mix(h, j->error, sizeof(j->error));
    }
    o->jobs_digest = h;
}

/* metrics_digest: the /metrics lines that must come out the same from two replays of one log:
 * all but the process's own figures and the free space of the data directory's file system. */
static void metrics_digest(const char *text, char *out, size_t cap)
{
    static const char *const moving[] = {"process_", "nearft_wal_filesystem_", NULL};
    uint64_t h = 0xcbf29ce484222325ull, lines = 0;
    for (const char *l = text; *l != '\0';) {
        const char *e = strchr(l, '\n');
        size_t n = e != NULL ? (size_t)(e - l) : strlen(l);
        int skip = l[0] == '#';
        for (int i = 0; !skip && moving[i] != NULL; i++)
            skip = strncmp(l, moving[i], strlen(moving[i])) == 0;
        if (!skip) {
            h = mix(h, l, n);
            lines++;
        }
        l += n + (e != NULL);
    }
    snprintf(out, cap, "%llu:%016llx", (unsigned long long)lines, (unsigned long long)h);
}

static struct spend_tokens *token_windows(void)
{
    struct spend_tokens *st = spend_tokens_new();
    if (st == NULL || spend_tokens_get(st, "t1", 2, 1000, 0) == NULL ||
        spend_tokens_get(st, "t2", 2, 0, 5000) == NULL)
        abort();
    return st;
}

/* replay_once: pipe_new over data_dir, checks, pipe_free; what it saw goes into o. */
static void replay_once(unsigned flags, struct outcome *o)
{
    static char text[TEXT_CAP];
    memset(o, 0, sizeof(*o));
    struct nf_keypair *kps[2] = {NULL, NULL};
    uint16_t n_keys = flags & FLAG_TWO_KEYS ? 2 : 1;
    /* Keys from fixed seeds (bytes 1..., 2...), so that the corpus can hold records they
     * signed. Two keys are swapped: the key of seed 1 is index 1, so a record that names index 0
     * for it has to be matched by its public key. */
    uint8_t seed[32];
    for (uint16_t k = 0; k < n_keys; k++) {
        memset(seed, n_keys == 2 ? 2 - k : 1 + k, sizeof(seed));
        if (keys_from_seed(seed, &kps[k]) != 0)
            abort();
    }
    struct spend_tokens *tokens = flags & FLAG_TOKENS ? token_windows() : NULL;
    int err = 0;
    struct nf_pipe *p = pipe_new(&the_cfg, kps, n_keys, 1, tokens, NULL, &err);
    if (p == NULL) {
        /* pipe_new freed the keys. */
        if (err >= 0)
            abort();
        o->err = err;
        spend_tokens_free(tokens);
        return;
    }
    check_jobs(p, o);
    int healthy = -1;
    int n = pipe_health_json(p, o->health, sizeof(o->health), &healthy);
    if (n <= 0 || healthy != 0) /* no block fetched yet: never healthy before the start */
        abort();
    char want[64];
    snprintf(want, sizeof(want), "\"unsigned\":%llu,", (unsigned long long)o->n_queued);
    if (strstr(o->health, want) == NULL)
        abort();
    if ((n = pipe_metrics_text(p, text, sizeof(text))) <= 0)
        abort();
    metrics_digest(text, o->metrics_digest_s, sizeof(o->metrics_digest_s));
    if (pipe_stages_json(p, text, sizeof(text)) <= 0 ||
        pipe_recent_json(p, text, sizeof(text)) <= 0)
        abort();
    (void)pipe_retry_after_s(p);
    (void)pipe_refusal_reason(p);
    uint64_t now = nf_now_ms(), c = 0xcbf29ce484222325ull;
    nf_u128 r = spend_remaining(pipe_spend(p), now);
    c = mix(c, &r, sizeof(r));
    r = spend_remaining(pipe_spend_day(p), now);
    c = mix(c, &r, sizeof(r));
    if (tokens != NULL) {
        struct spend_token *t1 = spend_tokens_find(tokens, "t1", 2);
        struct spend_token *t2 = spend_tokens_find(tokens, "t2", 2);
        r = spend_remaining(t1->hour, now);
        c = mix(c, &r, sizeof(r));
        r = spend_remaining(t2->day, now);
        c = mix(c, &r, sizeof(r));
    }
    o->clock_digest = c;
    pipe_free(p);
    spend_tokens_free(tokens);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cfg_loaded)
        setup();
    if (size < 2)
        return 0;
    unsigned flags = data[0], split = data[1];
    int fds = count_fds();
    if (write_segments(data + 2, size - 2, flags & FLAG_TWO_SEGMENTS, split) != 0)
        abort();
    static struct outcome a, b;
    uint64_t s0 = nf_now_ms() / 1000;
    replay_once(flags, &a);
    replay_once(flags, &b);
    int same_second = nf_now_ms() / 1000 == s0;
    remove_data_dir();
    if (count_fds() != fds)
        abort(); /* a descriptor leaked */
    if (a.err != b.err || a.jobs_digest != b.jobs_digest || a.n_jobs != b.n_jobs ||
        a.n_queued != b.n_queued || strcmp(a.metrics_digest_s, b.metrics_digest_s) != 0 ||
        strcmp(a.health, b.health) != 0 || (same_second && a.clock_digest != b.clock_digest)) {
        fprintf(stderr,
                "fuzz_recovery: two replays differ: err %d/%d jobs %llu/%llu queued %llu/%llu "
                "metrics %s/%s\nhealth %s\nhealth %s\n",
                a.err, b.err, (unsigned long long)a.n_jobs, (unsigned long long)b.n_jobs,
                (unsigned long long)a.n_queued, (unsigned long long)b.n_queued, a.metrics_digest_s,
                b.metrics_digest_s, a.health, b.health);
        abort();
    }
    return 0;
}
