/* nearftd: the service. Main thread: loads the configuration (one declarative table), the signer's
 * keys from the credentials directory, checks on chain that every key exists with full access
 * and reads its nonce, checks the signer's NEAR and token balances, replays the durable log,
 * starts the pipeline (WAL, batch, sign, submit) and the ingest threads, then waits for signals:
 * SIGHUP re-reads the --auth-tokens file (a bad file keeps the old tokens and logs the line);
 * SIGTERM / SIGINT: stop accepting, let in-flight transactions resolve for a bounded time (whatever
 * is left is durable and resumes at the next start), stop, exit 0. In cluster mode a log fenced by
 * another instance stops it the same way with exit status 3 (EXIT_FENCED). Only this start-up code
 * exits.
 * Under a service manager (NOTIFY_SOCKET) it reports STATUS lines, READY=1 once the log is
 * replayed and the listener answers, STOPPING=1 on a stop signal, and watchdog pings (service.h).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "base58.h"
#include "cfg.h"
#include "ingest.h"
#include "jtok.h"
#include "keys.h"
#include "manpage.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_time.h"
#include "pipeline_ctl.h"
#include "relay.h"
#include "rpc.h"
#include "rpc_client.h"
#include "service.h"
#include "spend.h"

extern char **environ;

#define MAX_KEYS      256
#define FENCE_POLL_MS 500u /* cluster mode: how often main looks whether the log was fenced */
#define EXIT_FENCED   3    /* cluster mode: stopped because another instance writes the log */

/* A cluster standby (pipe_new waits for the log's lease): its relay, created at the first call
 * of on_standby and freed before the instance's own listeners bind. Main thread. */
struct standby {
    const struct cfg *cfg;
    struct relay *relay;
    int tried; /* relay_new was called (once: a port in use stays in use) */
};

/* on_standby: the pipeline's standby hook, every --cluster-lease-ms / 8 while waiting. Tells the
 * service manager, points the relay at the holder's advertised address, and ends a standby that
 * got a stop signal (it writes nothing, so nothing is left to finish). */
static void on_standby(void *arg, const char *holder_addr)
{
    struct standby *s = arg;
    service_standby();
    sigset_t pend;
    if (sigpending(&pend) == 0 && (sigismember(&pend, SIGTERM) || sigismember(&pend, SIGINT))) {
        NF_LOG(NF_LOG_INFO, "main", "signal received while a standby: stopping exit=0");
        relay_free(s->relay);
        _exit(0); /* a standby holds no lease and has written nothing */
    }
    if (!s->cfg->cluster_relay)
        return;
    if (s->relay == NULL && !s->tried) {
        int rc = 0;
        s->tried = 1;
        struct relay_opts ro = {.listen = s->cfg->listen,
                                .advertise = s->cfg->cluster_advertise,
                                .max_conns = (unsigned)s->cfg->max_connections};
        s->relay = relay_new(&ro, &rc);
        if (s->relay == NULL) {
            NF_LOG(NF_LOG_WARN, "main", "standby: cannot relay --listen %s (%s): not listening",
                   s->cfg->listen, nf_strerror(rc));
            return;
        }
        NF_LOG(NF_LOG_INFO, "main",
               "standby: relaying connections to the lease holder listen=%s port=%u",
               s->cfg->listen, (unsigned)relay_port(s->relay));
        /* One machine-readable line on stdout, like "nearftd ready port=". */
        printf("nearftd relay port=%u\n", (unsigned)relay_port(s->relay));
        fflush(stdout);
    }
    if (s->relay != NULL)
        (void)relay_target(s->relay, holder_addr);
}

/* advertise: in cluster mode, tells standbys' relays where this instance's API is. */
static void advertise(const struct cfg *c, struct nf_pipe *p, uint16_t port)
{
    char addr[160];
    int rc = 0;
    if (c->cluster_advertise != NULL)
        snprintf(addr, sizeof(addr), "%s", c->cluster_advertise);
    else
        rc = ingest_listen_advertise(c->listen, port, addr, sizeof(addr));
    if (rc == 0)
        rc = pipe_cluster_advertise(p, addr);
    if (rc == 0)
        NF_LOG(NF_LOG_INFO, "main", "advertising this API to standbys' relays addr=%s", addr);
    else
        NF_LOG(NF_LOG_WARN, "main",
               "standbys cannot relay to this instance: --listen %s has no address other hosts "
               "can use; set --cluster-advertise HOST:PORT",
               c->listen);
}

/* rpc_call: one synchronous JSON-RPC request at start-up, tried on each --rpc-url in turn
 * (include/rpc_client.h); each endpoint that does not answer is logged with its URL redacted. */
static int rpc_call(const struct cfg *c,
                    const char *body,
                    enum rpc_method m,
                    struct rpc_result *r,
                    uint8_t *call_out,
                    size_t call_cap)
{
    struct rpc_client rc = {.urls = (const char *const *)c->rpc_url.v,
                            .n_urls = c->rpc_url.n,
                            .headers = (const char *const *)c->rpc_header.v,
                            .n_headers = c->rpc_header.n,
                            .timeout_ms = 10000,
                            .log_component = "main"};
    struct rpc_response resp = {.method = m, .call_out = call_out, .call_cap = call_cap};
    return rpc_client_call(&rc, body, &resp, r);
}

/* hourly_tokens / daily_tokens: how many tokens of t carry their own max_amount_per_hour /
 * max_amount_per_day. */
static size_t hourly_tokens(const struct auth_table *t)
{
    size_t n = 0;
    for (size_t i = 0; t != NULL && i < t->n; i++)
        n += t->e[i].max_amount_per_hour != 0;
    return n;
}

static size_t daily_tokens(const struct auth_table *t)
{
    size_t n = 0;
    for (size_t i = 0; t != NULL && i < t->n; i++)
        n += t->e[i].max_amount_per_day != 0;
    return n;
}

/* tokens_retention_error: why t cannot be used with retention_hours (a token's budget is rebuilt
 * from the log, so the log must keep its window), or NULL. */
static const char *tokens_retention_error(const struct auth_table *t, uint64_t retention_hours)
{
    if (hourly_tokens(t) != 0 && retention_hours < 1)
        return "a token has max_amount_per_hour, which needs --retention-hours of at least 1";
    if (daily_tokens(t) != 0 && retention_hours < 24)
        return "a token has max_amount_per_day, which needs --retention-hours of at least 24";
    return NULL;
}

static void fail_exit(const char *msg)
{
    fprintf(stderr, "nearftd: %s\n", msg);
    service_status("failed: %s", msg);
    exit(1);
}

/* settings_refused: the combinations of settings nearftd refuses to start with, each printed
 * with what to do instead. 0, or the exit status 2 after printing. loopback: --listen is a
 * loopback address (ingest_listen_loopback). */
static int settings_refused(const struct cfg *cfg, int loopback)
{
    /* A listener other hosts can reach pays out to anyone without tokens: refuse it unless told. */
    if (!loopback && cfg->auth_tokens == NULL && !cfg->allow_unauthenticated) {
        fprintf(stderr,
                "nearftd: --listen %s is not a loopback address and --auth-tokens is not set: "
                "anyone who can reach it could pay out tokens. Create tokens with `nearft auth "
                "add` and give --auth-tokens FILE, or give --allow-unauthenticated to serve "
                "without authentication\n",
                cfg->listen);
        return 2;
    }
    /* A log anyone with publish rights could append transfers to: refuse it unless told. */
    if (cfg->cluster != NULL && cfg->cluster_secret_file == NULL &&
        !cfg->cluster_allow_unauthenticated) {
        fprintf(stderr,
                "nearftd: --cluster without --cluster-secret-file: whoever may publish to the "
                "stream could add transfers that every instance replays and pays. Give every "
                "instance the same --cluster-secret-file (head -c 32 /dev/urandom > FILE; chmod "
                "600 FILE), or give --cluster-allow-unauthenticated to trust the NATS permissions "
                "alone\n");
        return 2;
    }
    /* The hourly spend window is rebuilt from the log's ACCEPT records: compaction must keep an
     * hour of them (it keeps --retention-hours of settled transfers). */
    if (cfg->max_amount_per_hour != 0 && cfg->retention_hours < 1) {
        fprintf(stderr, "nearftd: --max-amount-per-hour needs --retention-hours of at least 1, so "
                        "that a restart still finds the last hour's transfers in the log\n");
        return 2;
    }
    if (cfg->max_amount_per_day != 0 && cfg->retention_hours < 24) {
        fprintf(stderr, "nearftd: --max-amount-per-day needs --retention-hours of at least 24, so "
                        "that a restart still finds the last day's transfers in the log\n");
        return 2;
    }
    if (cfg->cluster_advertise != NULL && ingest_listen_loopback(cfg->cluster_advertise) < 0) {
        fprintf(stderr,
                "nearftd: --cluster-advertise %s: not HOST:PORT, or the host does not resolve\n",
                cfg->cluster_advertise);
        return 2;
    }
    return 0;
}

/* load_tokens: the --auth-tokens table (NULL without the setting). A file that cannot be read or
 * parsed stops start-up, naming the line: NULL with *exit_code 1 (2 when its budgets need more
 * --retention-hours), after printing. */
static struct auth_table *load_tokens(const struct cfg *cfg, int *exit_code)
{
    char err[512];
    int rc = 0;
    *exit_code = 0;
    if (cfg->auth_tokens == NULL)
        return NULL;
    struct auth_table *tokens = auth_table_load(cfg->auth_tokens, err, sizeof(err), &rc);
    if (tokens == NULL) {
        fprintf(stderr, "nearftd: --auth-tokens: %s\n", err);
        *exit_code = 1;
        return NULL;
    }
    NF_LOG(NF_LOG_INFO, "main",
           "auth tokens loaded tokens=%zu hourly_limited=%zu daily_limited=%zu", tokens->n,
           hourly_tokens(tokens), daily_tokens(tokens));
    /* A token's budgets are rebuilt from the log too: the log must keep their windows. */
    const char *why = tokens_retention_error(tokens, cfg->retention_hours);
    if (why != NULL) {
        fprintf(stderr,
                "nearftd: --auth-tokens: %s, so that a restart still finds its transfers in "
                "the log\n",
                why);
        auth_table_free(tokens);
        *exit_code = 2;
        return NULL;
    }
    return tokens;
}

/* token_budgets: the tokens' own windows, per NAME with max_amount_per_hour or
 * max_amount_per_day, made before the log is replayed into them; they live until exit, across
 * reloads (ingest_auth_set). Exits on lack of memory. */
static struct spend_tokens *token_budgets(const struct auth_table *tokens)
{
    struct spend_tokens *budgets = spend_tokens_new();
    if (budgets == NULL)
        fail_exit("out of memory for the tokens' budgets");
    for (size_t i = 0; tokens != NULL && i < tokens->n; i++) {
        const struct auth_entry *e = &tokens->e[i];
        if ((e->max_amount_per_hour != 0 || e->max_amount_per_day != 0) &&
            spend_tokens_get(budgets, e->name, strlen(e->name), e->max_amount_per_hour,
                             e->max_amount_per_day) == NULL)
            fail_exit("out of memory for the tokens' budgets");
    }
    return budgets;
}

/* load_keys: the signer's keys from --credentials into kps (at most MAX_KEYS), only those of
 * --public-keys when it is set. Returns how many; exits when there are none or they cannot be
 * read. */
static size_t load_keys(const struct cfg *cfg, struct nf_keypair **kps)
{
    char err[512];
    size_t nk = 0;
    int rc = keys_load_account(cfg->credentials, cfg->signer, kps, MAX_KEYS, &nk, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "nearftd: --credentials: %s\n", err);
        service_status("failed: --credentials: %s", err);
        exit(1);
    }
    if (cfg->public_keys.n > 0) {
        size_t kept = 0;
        for (size_t i = 0; i < nk; i++) {
            char pk[KEYS_PUBKEY_STR_MAX];
            keys_pubkey_format(keys_public(kps[i]), pk, sizeof(pk));
            int want = 0;
            for (size_t k = 0; k < cfg->public_keys.n; k++)
                want |= strcmp(cfg->public_keys.v[k], pk) == 0;
            if (want)
                kps[kept++] = kps[i];
            else
                keys_free(kps[i]);
        }
        nk = kept;
        if (nk == 0)
            fail_exit("--public-keys: none of the listed keys is in --credentials");
    }
    return nk;
}

/* check_chain: on chain, every key exists with full access (its next nonce into nonces[i]), the
 * signer account exists and holds the contract's tokens; *supply gets the token's total supply
 * (0 when the contract does not say). Exits, naming what failed, otherwise. */
static void check_chain(const struct cfg *cfg,
                        struct nf_keypair *const *kps,
                        size_t nk,
                        uint64_t *nonces,
                        nf_u128 *supply)
{
    char err[512], body[2048];
    struct rpc_result r;
    for (size_t i = 0; i < nk; i++) {
        char pk[KEYS_PUBKEY_STR_MAX];
        keys_pubkey_format(keys_public(kps[i]), pk, sizeof(pk));
        rpc_build_view_access_key(body, sizeof(body), "k", RPC_FINALITY_FINAL, cfg->signer, pk);
        int rc = rpc_call(cfg, body, RPC_M_VIEW_ACCESS_KEY, &r, NULL, 0);
        if (rc != 0) {
            snprintf(err, sizeof(err), "cannot reach any --rpc-url to check key %s", pk);
            fail_exit(err);
        }
        if (r.kind != RPC_OK_ACCESS_KEY) {
            snprintf(err, sizeof(err), "key %s is not an access key of %s on chain (%s)", pk,
                     cfg->signer, rpc_kind_name(r.kind));
            fail_exit(err);
        }
        if (!r.full_access) {
            snprintf(err, sizeof(err),
                     "key %s of %s is a function-call key: ft_transfer attaches 1 yoctoNEAR, "
                     "which needs a full-access key",
                     pk, cfg->signer);
            fail_exit(err);
        }
        nonces[i] = r.nonce + 1;
    }
    rpc_build_view_account(body, sizeof(body), "a", RPC_FINALITY_FINAL, cfg->signer);
    if (rpc_call(cfg, body, RPC_M_VIEW_ACCOUNT, &r, NULL, 0) != 0 || r.kind != RPC_OK_ACCOUNT) {
        snprintf(err, sizeof(err), "--signer %s: account not found on chain", cfg->signer);
        fail_exit(err);
    }
    char near_bal[U128_STR_MAX];
    u128_format(r.amount, near_bal);
    uint8_t out[256];
    rpc_build_account_view(body, sizeof(body), "f", RPC_FINALITY_FINAL, cfg->contract,
                           "ft_balance_of", cfg->signer);
    nf_u128 ft_amount = 0;
    int frc = rpc_call(cfg, body, RPC_M_CALL_FUNCTION, &r, out, sizeof(out));
    if (frc == 0 && r.kind == RPC_OK_CALL &&
        rpc_call_u128((const char *)out, r.call_len, &ft_amount) != 0)
        r.kind = RPC_MALFORMED; /* not a JSON string of a u128: not a NEP-141 balance */
    if (frc != 0 || r.kind != RPC_OK_CALL) {
        snprintf(err, sizeof(err),
                 "--contract %s: ft_balance_of failed (%s): is it a NEP-141 token?", cfg->contract,
                 rpc_kind_name(r.kind));
        fail_exit(err);
    }
    /* The answer as the contract wrote it ('"' digits '"', checked above), for the log line. */
    char ft_bal[64] = "";
    size_t fl = r.call_len < sizeof(ft_bal) - 1 ? r.call_len : sizeof(ft_bal) - 1;
    memcpy(ft_bal, out, fl);
    ft_bal[fl] = '\0';
    if (ft_amount == 0) {
        snprintf(err, sizeof(err), "--signer %s holds no %s tokens", cfg->signer, cfg->contract);
        fail_exit(err);
    }
    *supply = 0;
    rpc_build_call_function(body, sizeof(body), "s", RPC_FINALITY_FINAL, cfg->contract,
                            "ft_total_supply", "", 0);
    /* A total supply that is not a u128 string is one the contract does not say: 0. */
    if (rpc_call(cfg, body, RPC_M_CALL_FUNCTION, &r, out, sizeof(out)) == 0 &&
        r.kind == RPC_OK_CALL)
        (void)rpc_call_u128((const char *)out, r.call_len, supply);
    NF_LOG(NF_LOG_INFO, "main", "signer checked signer=%s keys=%zu near_yocto=%s ft_balance=%s",
           cfg->signer, nk, near_bal, ft_bal);
}

/* reload_tokens: SIGHUP: re-reads --auth-tokens into in; a file that cannot be read, parsed or
 * used keeps the previous tokens and logs why. */
static void reload_tokens(const struct cfg *cfg, struct ingest *in, struct spend_tokens *budgets)
{
    char err[512];
    int rc = 0;
    if (cfg->auth_tokens == NULL) {
        NF_LOG(NF_LOG_INFO, "main", "SIGHUP: nothing to reload (no --auth-tokens)");
        return;
    }
    struct auth_table *t = auth_table_load(cfg->auth_tokens, err, sizeof(err), &rc);
    if (t == NULL) {
        NF_LOG(NF_LOG_ERROR, "main",
               "SIGHUP: token file not reloaded, the previous tokens stay err=\"%s\"", err);
        return;
    }
    const char *why = tokens_retention_error(t, cfg->retention_hours);
    if (why != NULL) {
        NF_LOG(NF_LOG_ERROR, "main",
               "SIGHUP: token file not reloaded, the previous tokens stay err=\"%s\"", why);
        auth_table_free(t);
        return;
    }
    size_t n = t->n, limited = hourly_tokens(t);
    rc = ingest_auth_set(in, t, budgets);
    if (rc != 0 && rc != NF_ESTATE) {
        NF_LOG(NF_LOG_ERROR, "main",
               "SIGHUP: token file not reloaded, the previous tokens stay err=\"%s\"",
               nf_strerror(rc));
        return;
    }
    NF_LOG(NF_LOG_INFO, "main", "SIGHUP: auth tokens reloaded tokens=%zu hourly_limited=%zu", n,
           limited);
}

/* serve: main's wait for a stop signal (set is blocked in every thread), running log compaction
 * in between and reloading the tokens on SIGHUP. In cluster mode it also looks every
 * FENCE_POLL_MS whether the log was fenced (another instance appended to the stream or took the
 * lease): such an instance can never write again, so it stops, with EXIT_FENCED, and its service
 * manager starts it again as a standby that replays the stream (docs/CLUSTER.md). Returns the
 * exit status: 0 after SIGTERM / SIGINT, EXIT_FENCED. */
static int serve(const struct cfg *cfg,
                 struct nf_pipe *p,
                 struct ingest *in,
                 struct spend_tokens *budgets,
                 const sigset_t *set)
{
    uint64_t wait_ms = cfg->cluster != NULL && cfg->compact_interval_ms > FENCE_POLL_MS
                           ? FENCE_POLL_MS
                           : cfg->compact_interval_ms;
    uint64_t next_compact = nf_mono_ms() + cfg->compact_interval_ms;
    for (;;) {
        struct timespec ts = {.tv_sec = (time_t)(wait_ms / 1000),
                              .tv_nsec = (long)(wait_ms % 1000) * 1000000L};
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig == -1) {
            if (pipe_cluster_fenced(p)) {
                NF_LOG(NF_LOG_ERROR, "main",
                       "the cluster log is fenced (another instance writes it now): stopping so "
                       "that this instance starts again as a standby exit=%d",
                       EXIT_FENCED);
                return EXIT_FENCED;
            }
            if (cfg->cluster == NULL || nf_mono_ms() >= next_compact) {
                pipe_compact(p);
                next_compact = nf_mono_ms() + cfg->compact_interval_ms;
            }
            continue;
        }
        if (sig == SIGPIPE)
            continue;
        if (sig == SIGHUP) {
            reload_tokens(cfg, in, budgets);
            continue;
        }
        NF_LOG(NF_LOG_INFO, "main", "signal received: stopping sig=%d", sig);
        return 0;
    }
}

/* activation: socket activation. The service manager's listening socket replaces --listen's
 * address in cfg, so every later check (loopback, readiness, the watchdog's probe) sees the real
 * one. Sets *listen_fd (-1 without one). 0, or exit status 2 (said on stderr). */
static int activation(struct cfg *cfg, int *listen_fd)
{
    char activated[96], act_why[160];
    *listen_fd = service_listen_fd(activated, sizeof(activated), act_why, sizeof(act_why));
    if (*listen_fd == NF_ECONFIG || (*listen_fd >= 0 && cfg->cluster != NULL)) {
        fprintf(stderr, "nearftd: socket activation: %s\n",
                *listen_fd == NF_ECONFIG ? act_why
                                         : "not in cluster mode (a standby relays on --listen); "
                                           "start it without a .socket unit");
        if (*listen_fd >= 0)
            close(*listen_fd);
        *listen_fd = -1;
        return 2;
    }
    if (*listen_fd >= 0) {
        char *a = strdup(activated);
        if (a == NULL)
            fail_exit("out of memory");
        NF_LOG(NF_LOG_INFO, "main",
               "serving on the socket the service manager passed instead of --listen listen=%s "
               "flag_listen=%s",
               a, cfg->listen);
        free(cfg->listen);
        cfg->listen = a;
    }
    return 0;
}

/* start_ingest: the HTTP stage on the activated socket (listen_fd, taken) or --listen, with the
 * tokens (taken) and their budgets, started. Exits the process when it cannot serve. */
static struct ingest *start_ingest(const struct cfg *cfg,
                                   struct nf_pipe *p,
                                   int listen_fd,
                                   struct auth_table *tokens,
                                   struct spend_tokens *budgets)
{
    char err[512];
    int rc = 0;
    struct ingest *in = ingest_new(cfg, p, &rc);
    if (in != NULL && listen_fd >= 0) {
        rc = ingest_use_listen_fd(in, listen_fd); /* takes the socket */
        if (rc != 0)
            fail_exit("cannot serve on the service manager's socket");
    }
    if (in != NULL) {
        rc = ingest_auth_set(in, tokens, budgets); /* takes the table */
        if (rc != 0)
            fail_exit("cannot set up the tokens' hourly budgets");
    }
    if (in == NULL || (rc = ingest_start(in)) != 0) {
        snprintf(err, sizeof(err), "--listen %s: cannot serve HTTP (%s)", cfg->listen,
                 nf_strerror(rc));
        fail_exit(err);
    }
    return in;
}

int main(int argc, char **argv)
{
    /* Before anything uses jansson: its blocks (key file text) are wiped when freed. */
    keys_json_wipe_init();
    struct cfg cfg;
    char err[512];
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("nearftd %s\n", NF_VERSION);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--man") == 0) {
        manpage_nearftd(stdout);
        return 0;
    }
    int rc = cfg_load(&cfg, argc, argv, environ, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "nearftd: %s\n", err);
        service_status("failed: %s", err);
        cfg_free(&cfg);
        return 2;
    }
    if (cfg.show_help) {
        printf("nearftd: lands NEP-141 ft_transfer requests on NEAR exactly once.\n"
               "Every setting is a flag, an environment variable and a config-file key:\n\n");
        cfg_print_help(stdout);
        cfg_free(&cfg);
        return 0;
    }
    if (cfg.print_config) {
        cfg_print(&cfg, stdout);
        cfg_free(&cfg);
        return 0;
    }
    log_set_level(cfg.log_level);
    log_detect_journal(); /* under systemd: "<3>" etc. before each line for journalctl -p */
    log_set_thread("main");
    int listen_fd;
    if ((rc = activation(&cfg, &listen_fd)) != 0) {
        cfg_free(&cfg);
        return rc;
    }
    int loopback = ingest_listen_loopback(cfg.listen);
    if (loopback < 0) {
        fprintf(stderr, "nearftd: --listen %s: not HOST:PORT, or the host does not resolve\n",
                cfg.listen);
        cfg_free(&cfg);
        return 2;
    }
    if ((rc = settings_refused(&cfg, loopback)) != 0) {
        cfg_free(&cfg);
        return rc;
    }
    if (!loopback && cfg.auth_tokens == NULL)
        NF_LOG(NF_LOG_WARN, "main",
               "serving a non-loopback address without authentication listen=%s", cfg.listen);
    if (sodium_init() < 0)
        fail_exit("libsodium failed to initialise");
    curl_global_init(CURL_GLOBAL_DEFAULT);

    int exit_code = 0;
    struct auth_table *tokens = load_tokens(&cfg, &exit_code);
    if (exit_code != 0) {
        cfg_free(&cfg);
        curl_global_cleanup();
        return exit_code;
    }
    struct spend_tokens *budgets = token_budgets(tokens);

    service_status("loading keys and checking them on chain");
    struct nf_keypair *kps[MAX_KEYS];
    size_t nk = load_keys(&cfg, kps);
    uint64_t nonces[MAX_KEYS];
    nf_u128 supply = 0;
    check_chain(&cfg, kps, nk, nonces, &supply);

    /* Signals: blocked in every thread; main waits for them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    service_status("replaying the durable log in %s", cfg.data_dir);
    struct standby standby = {.cfg = &cfg};
    const struct pipe_hooks hooks = {.standby = on_standby, .standby_arg = &standby};
    struct nf_pipe *p =
        pipe_new(&cfg, kps, (uint16_t)nk, (unsigned)cfg.ingest_threads, budgets, &hooks, &rc);
    relay_free(standby.relay); /* holding the lease now: the port is this instance's own */
    standby.relay = NULL;
    if (p == NULL) {
        snprintf(err, sizeof(err), "pipeline: %s (see the log line above)", nf_strerror(rc));
        fail_exit(err);
    }
    for (size_t i = 0; i < nk; i++)
        pipe_key_nonce_at_least(p, (uint16_t)i, nonces[i]);
    pipe_set_ft_supply(p, supply);
    if ((rc = pipe_start(p)) != 0)
        fail_exit("cannot start the pipeline threads");
    struct ingest *in = start_ingest(&cfg, p, listen_fd, tokens, budgets);
    if (cfg.cluster != NULL && cfg.cluster_lease_ms > 0)
        advertise(&cfg, p, ingest_port(in));
    NF_LOG(NF_LOG_INFO, "main", "nearftd ready listen=%s port=%u", cfg.listen,
           (unsigned)ingest_port(in));
    /* One machine-readable line on stdout for scripts started with --listen HOST:0. */
    printf("nearftd ready port=%u\n", (unsigned)ingest_port(in));
    fflush(stdout);
    service_ready(cfg.listen, ingest_port(in));
    struct service_watchdog *wd = service_watchdog_start(cfg.listen, ingest_port(in), &rc);
    if (wd == NULL && rc != 0)
        fail_exit("cannot start the watchdog thread");

    exit_code = serve(&cfg, p, in, budgets, &set);
    service_stopping(wd);
    service_watchdog_stop(wd);
    ingest_stop(in);
    pipe_drain(p, 5000);
    pipe_stop(p);
    ingest_free(in);
    pipe_free(p);
    spend_tokens_free(budgets);
    NF_LOG(NF_LOG_INFO, "main", "stopped cleanly exit=%d", exit_code);
    cfg_free(&cfg);
    curl_global_cleanup();
    return exit_code;
}
