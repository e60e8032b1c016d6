/* test_submit: the submit stage (src/submit/submit.c) alone, driven through its wiring (struct
 * submit_wiring) against a real nearsim on 127.0.0.1 (its path is argv[1]): a hand-filled struct
 * cfg, the signer's key from nearsim's credentials, a real job slab, the shared stage state and a
 * real WAL in a temporary directory; no hub. The test's main thread plays the other stages: it
 * opens the signing gate (the hub after replay), sends receiver lookups on lookup_in and reads
 * them back from lookup_done (the batch stage), signs transactions itself and pushes their
 * batches into in (the sign stage, through the hub), and receives each resolved batch from the
 * outcome records' done() (the hub, which would requeue and free it). Every wait is bounded:
 * eventfd polls, or a condition re-checked until a deadline. */
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "job.h"
#include "keypool.h"
#include "keys.h"
#include "near_tx.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_ring.h"
#include "nf_test.h"
#include "rpc.h"
#include "stage_test.h"
#include "stages.h"
#include "submit.h"
#include "wal.h"
#include "wal_rec.h"

#define JOB_CAP        1024u
#define RING_SIZE      64u
#define N_BATCHES      8u
#define WAIT_MS        90000 /* bound for a wait that must succeed (a hang bound, not a speed goal) */
#define TGAS           1000000000000ull
#define SIGNER         "distributor.test.near"
#define CONTRACT       "ft.test.near"
#define LAG_BLOCKS     80u   /* nearsim's --lag-blocks below */
#define GENESIS_HEIGHT 1000u /* nearsim's */

struct fixture {
    struct cfg cfg;
    char *urls[1];
    char url[64];
    char lag_url[64]; /* nearsim's lagging listener (LAG_BLOCKS behind) */
    struct job_slab jobs;
    struct keypool keys;
    struct nf_ring in, lookup_in, lookup_done, sign_in, outcome;
    struct wal *wal;
    char dir[64];
    struct stage_counters ctr;
    struct stage_shared shared;
    _Atomic uint32_t notified_submitted, notified_final; /* hub.notify_job calls by status */
    _Atomic int done_errors;
    struct submit_stage *stage;
    pid_t sim;
    uint16_t port, lag_port;
    struct batch batches[N_BATCHES];
};

/* hub.outcome_done (WAL thread): the outcome is durable; hand the batch to the test thread. */
static void fx_outcome_done(struct wal_batch *wb, int status)
{
    struct batch *b = wb->cookie;
    struct fixture *f = b->hub;
    if (status != 0)
        atomic_fetch_add(&f->done_errors, 1);
    if (nf_ring_push_spsc(&f->outcome, b) == 0)
        nf_ring_wake(&f->outcome);
}

static void fx_notify_job(void *ctx, struct job *j)
{
    struct fixture *f = ctx;
    enum job_status st = job_get_status(j);
    if (st == JOB_SUBMITTED)
        atomic_fetch_add(&f->notified_submitted, 1);
    else if (st == JOB_EXECUTED || st == JOB_FAILED)
        atomic_fetch_add(&f->notified_final, 1);
}

static void nap_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* start_sim: nearsim on a free port with a lagging listener LAG_BLOCKS behind, its output in
 * <dir>/sim.log; waits for its ready lines. */
static int start_sim(struct fixture *f, const char *bin)
{
    char log[128], creds[128];
    snprintf(log, sizeof(log), "%s/sim.log", f->dir);
    snprintf(creds, sizeof(creds), "%s/creds", f->dir);
    f->sim = fork();
    if (f->sim < 0)
        return -1;
    if (f->sim == 0) {
        FILE *o = freopen(log, "w", stdout);
        if (o == NULL || dup2(fileno(stdout), 2) < 0)
            _exit(127);
        execl(bin, bin, "--listen", "127.0.0.1:0", "--credentials-out", creds, "--keys", "1",
              "--seed", "test_submit", "--receivers", "4", "--unregistered", "2", "--block-ms",
              "100", "--lagging-listen", "127.0.0.1:0", "--lag-blocks", "80", (char *)NULL);
        _exit(127);
    }
    uint64_t deadline = stage_test_mono_ms() + WAIT_MS;
    while (stage_test_mono_ms() < deadline) {
        FILE *fp = fopen(log, "r");
        char line[512];
        while (fp && fgets(line, sizeof(line), fp)) {
            const char *m = strstr(line, "listening=127.0.0.1:");
            const char *g = strstr(line, "lagging=127.0.0.1:");
            if (m)
                f->port = (uint16_t)atoi(m + strlen("listening=127.0.0.1:"));
            if (g)
                f->lag_port = (uint16_t)atoi(g + strlen("lagging=127.0.0.1:"));
        }
        if (f->port != 0 && f->lag_port != 0) {
            fclose(fp);
            return 0;
        }
        if (fp)
            fclose(fp);
        if (waitpid(f->sim, NULL, WNOHANG) == f->sim) {
            f->sim = 0;
            return -1;
        }
        nap_ms(20);
    }
    return -1;
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    struct {
        char buf[8192];
        size_t len;
    } *out = ud;
    size_t k = sz * n;
    if (out->len + k >= sizeof(out->buf))
        k = sizeof(out->buf) - 1 - out->len;
    memcpy(out->buf + out->len, p, k);
    out->len += k;
    out->buf[out->len] = '\0';
    return sz * n;
}

/* rpc_json_at: POSTs body to url and returns its parsed answer (caller frees), or NULL. */
static json_t *rpc_json_at(const char *url, const char *body)
{
    struct {
        char buf[8192];
        size_t len;
    } out = {.len = 0};
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return rc == CURLE_OK ? json_loads(out.buf, 0, NULL) : NULL;
}

static json_t *rpc_json(struct fixture *f, const char *body)
{
    return rpc_json_at(f->url, body);
}

/* final_height: the height of the latest final block the node at url reports (0 on error). */
static uint64_t final_height(const char *url)
{
    json_t *j = rpc_json_at(url, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"block\","
                                 "\"params\":{\"finality\":\"final\"}}");
    json_t *h = json_object_get(json_object_get(json_object_get(j, "result"), "header"), "height");
    uint64_t v = json_is_integer(h) ? (uint64_t)json_integer_value(h) : 0;
    json_decref(j);
    return v;
}

/* ak_nonce: the chain's nonce of the signer's key. */
static uint64_t ak_nonce(struct fixture *f)
{
    char pk[KEYS_PUBKEY_STR_MAX], body[512];
    CHECK_EQ_INT(keys_pubkey_format(keys_public(f->keys.keys[0].kp), pk, sizeof(pk)) > 0, 1);
    snprintf(body, sizeof(body),
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"query\",\"params\":{\"request_type\":"
             "\"view_access_key\",\"finality\":\"final\",\"account_id\":\"%s\",\"public_key\":"
             "\"%s\"}}",
             SIGNER, pk);
    json_t *j = rpc_json(f, body);
    CHECK(j != NULL);
    json_t *n = json_object_get(json_object_get(j, "result"), "nonce");
    uint64_t v = json_is_integer(n) ? (uint64_t)json_integer_value(n) : 0;
    json_decref(j);
    CHECK(v > 0);
    return v;
}

/* new_stage: a submit stage over the fixture's configuration, rings, jobs and keys, writing to
 * wal and publishing into shared; NULL on error. */
static struct submit_stage *
new_stage(struct fixture *f, struct wal *wal, struct stage_shared *shared, uint32_t n_batches)
{
    const struct submit_wiring w = {
        .cfg = &f->cfg,
        .jobs = &f->jobs,
        .keys = &f->keys,
        .in = &f->in,
        .lookup_in = &f->lookup_in,
        .lookup_done = &f->lookup_done,
        .sign_in = &f->sign_in,
        .wal = wal,
        .wal_producer = 0,
        .shared = shared,
        .counters = &f->ctr,
        .hub = {.ctx = f, .notify_job = fx_notify_job, .outcome_done = fx_outcome_done}};
    int rc = 0;
    return submit_new(&w, n_batches, &rc);
}

static int fixture_start(struct fixture *f, const char *nearsim)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_submit.XXXXXX");
    if (mkdtemp(f->dir) == NULL || start_sim(f, nearsim) != 0)
        return -1;
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", f->port);
    f->urls[0] = f->url;
    struct cfg *c = &f->cfg;
    c->rpc_url.v = f->urls;
    c->rpc_url.n = 1;
    c->signer = SIGNER;
    c->contract = CONTRACT;
    c->rpc_connections = 4;
    c->rpc_timeout_ms = 15000;
    c->breaker_error_rate = 50;
    c->breaker_window_ms = 10000;
    c->breaker_min_requests = 20;
    c->breaker_cooldown_ms = 1000;
    c->breaker_probes = 2;
    c->block_hash_refresh_ms = 200;
    c->wait_until = RPC_WAIT_EXECUTED_OPTIMISTIC;
    c->tx_validity_blocks = 86400;
    c->check_receiver_exists = 1;
    c->auto_register = 1;
    c->sign_threads = 1;
    c->inflight_per_key = 8;
    c->job_capacity = JOB_CAP;
    if (job_slab_init(&f->jobs, JOB_CAP, 1) != 0)
        return -1;
    char creds[128], err[256];
    snprintf(creds, sizeof(creds), "%s/creds", f->dir);
    struct nf_keypair *kps[4];
    size_t n = 0;
    if (keys_load_account(creds, SIGNER, kps, 4, &n, err, sizeof(err)) != 0 || n != 1) {
        fprintf(stderr, "test_submit: %s\n", err);
        return -1;
    }
    if (keypool_init(&f->keys, kps, 1, 1) != 0)
        return -1;
    struct nf_ring *rings[] = {&f->in, &f->lookup_in, &f->lookup_done, &f->sign_in, &f->outcome};
    for (size_t i = 0; i < sizeof(rings) / sizeof(rings[0]); i++)
        if (nf_ring_init(rings[i], RING_SIZE) != 0)
            return -1;
    struct wal_opts wo = {.dir = f->dir,
                          .fsync = WAL_FSYNC_OFF,
                          .segment_bytes = 8u << 20,
                          .producers = 1,
                          .ring_size = 64};
    if (wal_new(&wo, &f->wal) != 0 || wal_start(f->wal) != 0)
        return -1;
    f->stage = new_stage(f, f->wal, &f->shared, N_BATCHES);
    if (f->stage == NULL)
        return -1;
    for (uint32_t i = 0; i < N_BATCHES; i++) {
        f->batches[i].slot = i;
        f->batches[i].hub = f;
        if (submit_bind_batch(f->stage, &f->batches[i]) != 0)
            return -1;
    }
    stage_set_reconciled(&f->shared); /* nothing replayed: nothing to reconcile */
    return submit_start(f->stage);
}

/* signed_batch: batch slot with one ft_transfer per receiver, signed by the signer's key over
 * the latest block the stage published, as the sign stage would hand it over. */
static struct batch *signed_batch(
    struct fixture *f, uint32_t slot, const char *const *receivers, unsigned n, uint64_t nonce)
{
    struct batch *b = &f->batches[slot];
    b->tx = malloc(BATCH_TX_CAP);
    b->rec = malloc(BATCH_REC_CAP);
    CHECK(b->tx != NULL && b->rec != NULL);
    b->key = 0;
    b->failed_index = -1;
    b->result = BATCH_PENDING;
    static char args[BATCH_MAX_ACTIONS][256];
    struct near_action acts[BATCH_MAX_ACTIONS];
    uint64_t first = job_alloc_range(&f->jobs, n);
    CHECK(first != 0);
    for (unsigned i = 0; i < n; i++) {
        struct job *j = job_slot(&f->jobs, first + i);
        size_t len = strlen(receivers[i]);
        memcpy(j->receiver, receivers[i], len + 1);
        j->receiver_len = (uint8_t)len;
        j->amount = 700 + i;
        j->waiter_thread = -1;
        job_set_status(j, JOB_SIGNED);
        int al = near_ft_transfer_args(args[i], sizeof(args[i]), j->receiver, j->receiver_len,
                                       j->amount, NULL, 0);
        CHECK(al > 0);
        memset(&acts[i], 0, sizeof(acts[i]));
        acts[i].type = NEAR_ACT_FUNCTION_CALL;
        acts[i].u.function_call.method_name.ptr = (const uint8_t *)"ft_transfer";
        acts[i].u.function_call.method_name.len = 11;
        acts[i].u.function_call.args.ptr = (const uint8_t *)args[i];
        acts[i].u.function_call.args.len = (uint32_t)al;
        acts[i].u.function_call.gas = 10 * TGAS;
        acts[i].u.function_call.deposit = 1;
        b->kinds[i] = WAL_ACT_FT_TRANSFER;
        b->job_ids[i] = first + i;
    }
    b->n = (uint16_t)n;
    b->n_transfers_ = (uint16_t)n;
    block_ref_read(&f->shared.block, b->block_hash, &b->block_height);
    CHECK(b->block_height > 0);
    struct near_tx tx = {0};
    tx.signer_id.ptr = (const uint8_t *)SIGNER;
    tx.signer_id.len = (uint32_t)strlen(SIGNER);
    tx.public_key = *keys_public(f->keys.keys[0].kp);
    tx.nonce = nonce;
    tx.receiver_id.ptr = (const uint8_t *)CONTRACT;
    tx.receiver_id.len = (uint32_t)strlen(CONTRACT);
    memcpy(tx.block_hash, b->block_hash, 32);
    tx.n_actions = n;
    tx.actions = acts;
    size_t len = 0;
    CHECK_EQ_INT(near_tx_sign(&tx, f->keys.keys[0].kp, b->tx, BATCH_TX_CAP, &len, b->tx_hash), 0);
    b->tx_len = (uint32_t)len;
    b->nonce = nonce;
    for (unsigned i = 0; i < n; i++) /* as the sign stage records each transfer's transaction */
        job_tx_hash_set(job_slot(&f->jobs, b->job_ids[i]), b->tx_hash);
    b->created_ms = b->signed_ms = (uint64_t)time(NULL) * 1000u;
    atomic_fetch_add(&f->keys.keys[0].inflight, 1); /* as the sign stage counts it */
    return b;
}

struct replay_seen {
    const struct batch *a, *b;
    int outcome_a, outcome_b, finals_ok, finals_failed;
};

static int replay_cb(const struct wal_rec *rec, void *ctx)
{
    struct replay_seen *s = ctx;
    if (rec->type == WAL_OUTCOME) {
        if (memcmp(rec->outcome.tx_hash, s->a->tx_hash, 32) == 0)
            s->outcome_a += rec->outcome.result == WAL_OUT_SUCCESS;
        if (memcmp(rec->outcome.tx_hash, s->b->tx_hash, 32) == 0)
            s->outcome_b +=
                rec->outcome.result == WAL_OUT_ACTION_ERROR && rec->outcome.failed_index == 0;
    } else if (rec->type == WAL_JOB_FINAL) {
        const struct wal_job_final *jf = &rec->job_final;
        if (jf->status == WAL_JOB_EXECUTED && memcmp(jf->tx_hash, s->a->tx_hash, 32) == 0)
            s->finals_ok++;
        if (jf->status == WAL_JOB_FAILED && jf->job_id == s->b->job_ids[0] &&
            jf->error.ptr != NULL && memmem(jf->error.ptr, jf->error.len, "not registered", 14))
            s->finals_failed++;
    }
    return 0;
}

/* lagging_endpoint: a stage given two endpoints of one chain, the second LAG_BLOCKS behind
 * (nearsim's lagging listener), publishes block heights that never go back, and the live node's:
 * a lagging node's block hash, signed over, is expired at the live node under a short validity
 * window. A stage that asked one endpoint per refresh, chosen by load and round robin, settled
 * here on the lagging node after its first answer (the requests between refreshes turn the
 * round robin), and published its blocks from then on. */
static void lagging_endpoint(struct fixture *f)
{
    snprintf(f->lag_url, sizeof(f->lag_url), "http://127.0.0.1:%u", f->lag_port);
    char *urls[2] = {f->url, f->lag_url};
    f->cfg.rpc_url.v = urls;
    f->cfg.rpc_url.n = 2;
    /* The lagging node shows a chain of its own (not genesis) once the chain is longer than the
     * lag. */
    uint64_t deadline = stage_test_mono_ms() + WAIT_MS, lag_h = 0, live_h = 0;
    while (stage_test_mono_ms() < deadline) {
        lag_h = final_height(f->lag_url);
        live_h = final_height(f->url);
        if (lag_h > GENESIS_HEIGHT && live_h > lag_h + LAG_BLOCKS / 2)
            break;
        nap_ms(50);
    }
    CHECK(lag_h > GENESIS_HEIGHT && live_h > lag_h + LAG_BLOCKS / 2);

    char dir[96];
    snprintf(dir, sizeof(dir), "%s/lagging", f->dir);
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    struct wal_opts wo = {.dir = dir,
                          .fsync = WAL_FSYNC_OFF,
                          .segment_bytes = 1u << 20,
                          .producers = 1,
                          .ring_size = 64};
    struct wal *wal = NULL;
    static struct stage_shared shared;
    CHECK_EQ_INT(wal_new(&wo, &wal), 0);
    CHECK_EQ_INT(wal_start(wal), 0);
    struct submit_stage *st = new_stage(f, wal, &shared, 1);
    CHECK(st != NULL);
    CHECK_EQ_INT(submit_bind_batch(st, &f->batches[0]), 0);
    CHECK_EQ_INT(submit_start(st), 0);

    /* Ten published heights in a row (one refresh each, every 200 ms), each at least the one
     * before. */
    uint64_t prev = 0;
    unsigned seen = 0, back = 0;
    uint8_t hash[32];
    deadline = stage_test_mono_ms() + WAIT_MS;
    while (seen < 10 && stage_test_mono_ms() < deadline) {
        uint64_t h = 0;
        block_ref_read(&shared.block, hash, &h);
        if (h == prev) {
            nap_ms(2);
            continue;
        }
        if (h < prev) {
            fprintf(stderr, "test_submit: published height went back from %llu to %llu\n",
                    (unsigned long long)prev, (unsigned long long)h);
            back++;
        }
        prev = h;
        seen++;
    }
    CHECK_EQ_INT((int)seen, 10);
    CHECK_EQ_INT((int)back, 0);
    /* the live node's, not the lagging node's (LAG_BLOCKS behind) */
    CHECK(prev > lag_h && prev + LAG_BLOCKS / 2 > final_height(f->url));
    submit_free(st);
    wal_free(wal);
}

int main(int argc, char **argv)
{
    keys_json_wipe_init();
    if (argc < 2) {
        fprintf(stderr, "usage: test_submit NEARSIM\n");
        return 2;
    }
    log_set_level(NF_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static struct fixture f;
    int started = fixture_start(&f, argv[1]);
    CHECK_EQ_INT(started, 0);
    if (started != 0) {
        if (f.sim > 0)
            kill(f.sim, SIGTERM);
        return nf_test_report("test_submit");
    }

    /* The stage publishes the latest final block for the signers. */
    uint64_t deadline = stage_test_mono_ms() + WAIT_MS, height = 0;
    uint8_t hash[32];
    while (height == 0 && stage_test_mono_ms() < deadline) {
        block_ref_read(&f.shared.block, hash, &height);
        if (height == 0)
            nap_ms(10);
    }
    CHECK(height >= GENESIS_HEIGHT);

    /* Receiver lookups: registered, existing but unregistered, missing. */
    static struct lookup lk[3];
    const char *names[3] = {"user-0.test.near", "new-0.test.near", "nobody.test.near"};
    for (uint32_t i = 0; i < 3; i++) {
        lk[i].slot = i;
        lk[i].receiver_len = (uint8_t)strlen(names[i]);
        memcpy(lk[i].receiver, names[i], lk[i].receiver_len + 1u);
        lk[i].exists = lk[i].registered = -1;
        CHECK_EQ_INT(nf_ring_push_spsc(&f.lookup_in, &lk[i]), 0);
    }
    nf_ring_wake(&f.lookup_in);
    int answered[3] = {0};
    for (int k = 0; k < 3; k++) {
        struct lookup *l = stage_test_wait_pop(&f.lookup_done, WAIT_MS);
        CHECK(l != NULL);
        if (l)
            answered[l->slot]++;
    }
    CHECK(answered[0] == 1 && answered[1] == 1 && answered[2] == 1);
    CHECK(lk[0].exists == 1 && lk[0].registered == 1);
    CHECK(lk[1].exists == 1 && lk[1].registered == 0);
    CHECK_EQ_INT(lk[2].exists, 0);

    /* A batch that succeeds, then one whose only transfer goes to an unregistered account. */
    uint64_t nonce = ak_nonce(&f) + 1;
    const char *ok_receivers[2] = {"user-1.test.near", "user-2.test.near"};
    const char *bad_receiver[1] = {"new-1.test.near"};
    struct batch *a = signed_batch(&f, 0, ok_receivers, 2, nonce);
    struct batch *b = signed_batch(&f, 1, bad_receiver, 1, nonce + 1);
    CHECK_EQ_INT(nf_ring_push_spsc(&f.in, a), 0);
    CHECK_EQ_INT(nf_ring_push_spsc(&f.in, b), 0);
    nf_ring_wake(&f.in);
    int got_a = 0, got_b = 0;
    for (int k = 0; k < 2; k++) {
        struct batch *x = stage_test_wait_pop(&f.outcome, WAIT_MS);
        CHECK(x != NULL);
        got_a += x == a;
        got_b += x == b;
    }
    CHECK(got_a == 1 && got_b == 1);
    CHECK_EQ_INT(a->result, BATCH_SUCCESS);
    for (unsigned i = 0; i < a->n; i++)
        CHECK_EQ_INT(job_get_status(job_slot(&f.jobs, a->job_ids[i])), JOB_EXECUTED);
    CHECK_EQ_INT(b->result, BATCH_ACTION_ERROR);
    CHECK_EQ_INT(b->failed_index, 0);
    struct job *jb = job_slot(&f.jobs, b->job_ids[0]);
    CHECK_EQ_INT(job_get_status(jb), JOB_FAILED);
    CHECK(strstr(jb->error, "not registered") != NULL);
    /* Each transfer's waiter hears of it twice: broadcast (SUBMITTED), then its final state. */
    CHECK_EQ_INT((int)atomic_load(&f.notified_submitted), 3);
    CHECK_EQ_INT((int)atomic_load(&f.notified_final), 3);
    CHECK_EQ_INT((int)atomic_load(&f.keys.keys[0].inflight), 0);
    CHECK(stage_signing_allowed(&f.shared));
    struct submit_stats ss;
    submit_stats(f.stage, &ss);
    CHECK(ss.succeeded == 1 && ss.action_errors == 1 && ss.dead == 0 && ss.lookups == 3);

    /* A transaction resolved dead (its nonce was used already: InvalidNonce, then the dead
     * proof: the key's nonce at the endpoint's final height covers it, and the same endpoint does
     * not know the hash) gives back only the transfers it still holds. The first transfer here
     * moved on to another transaction that executed it (as after a restart that recovered this
     * one); the second is this transaction's and needs a new one. */
    const char *dead_receivers[2] = {"user-3.test.near", "user-0.test.near"};
    struct batch *c = signed_batch(&f, 2, dead_receivers, 2, nonce);
    struct job *moved = job_slot(&f.jobs, c->job_ids[0]);
    struct job *held = job_slot(&f.jobs, c->job_ids[1]);
    uint8_t other_tx[32];
    memset(other_tx, 0x5a, sizeof(other_tx));
    job_tx_hash_set(moved, other_tx);
    job_set_status(moved, JOB_EXECUTED);
    CHECK_EQ_INT(nf_ring_push_spsc(&f.in, c), 0);
    nf_ring_wake(&f.in);
    CHECK(stage_test_wait_pop(&f.outcome, WAIT_MS) == c);
    CHECK_EQ_INT(c->result, BATCH_DEAD);
    CHECK_EQ_INT(job_get_status(moved), JOB_EXECUTED);
    CHECK(job_tx_hash_is(moved, other_tx));
    CHECK_EQ_INT(job_get_status(held), JOB_QUEUED);
    CHECK_EQ_INT((int)atomic_load(&f.notified_final), 3); /* nothing final for c */
    CHECK_EQ_INT((int)atomic_load(&f.keys.keys[0].inflight), 0);
    submit_stats(f.stage, &ss);
    CHECK_EQ_INT((int)ss.dead_proofs[SUBMIT_PROOF_DEAD], 1);
    CHECK_EQ_INT((int)ss.dead_proofs[SUBMIT_PROOF_KNOWN], 0);
    CHECK_EQ_STR(submit_proof_result_name(SUBMIT_PROOF_NOT_PROVEN), "not_proven");

    /* The outcomes and final states are in the log. */
    submit_free(f.stage);
    wal_free(f.wal);
    struct replay_seen seen = {.a = a, .b = b};
    CHECK_EQ_INT(wal_replay(f.dir, replay_cb, &seen, NULL), 0);
    CHECK(seen.outcome_a == 1 && seen.outcome_b == 1);
    CHECK_EQ_INT(seen.finals_ok, 2);
    CHECK_EQ_INT(seen.finals_failed, 1);
    CHECK_EQ_INT(atomic_load(&f.done_errors), 0);

    lagging_endpoint(&f);

    kill(f.sim, SIGTERM);
    waitpid(f.sim, NULL, 0);
    for (unsigned i = 0; i < 3; i++) {
        free(f.batches[i].tx);
        free(f.batches[i].rec);
    }
    struct nf_ring *rings[] = {&f.in, &f.lookup_in, &f.lookup_done, &f.sign_in, &f.outcome};
    for (size_t i = 0; i < sizeof(rings) / sizeof(rings[0]); i++)
        nf_ring_destroy(rings[i]);
    keypool_destroy(&f.keys);
    job_slab_destroy(&f.jobs);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f.dir);
    CHECK_EQ_INT(system(cmd), 0);
    curl_global_cleanup();
    return nf_test_report("test_submit");
}
