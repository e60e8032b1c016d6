/* test_cfg: the settings loader: defaults, precedence (file < env < flag), list append/replace,
 * range, power-of-two, enum, bool, account and URL checks with exact error text, required keys,
 * --help, and --print-config redaction and read-back. Writes temporary config files under /tmp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "nf_err.h"
#include "nf_log.h"
#include "nf_test.h"
#include "rpc.h"

static char err[256];

#define REQ                                                                                        \
    "--rpc-url", "http://127.0.0.1:3030", "--signer", "alice.near", "--credentials", "/tmp/creds", \
        "--contract", "ft.alice.near"

static int load(struct cfg *c, char **env, int argc, char **argv)
{
    return cfg_load(c, argc, argv, env, err, sizeof(err));
}

#define LOAD(c, env, ...)                                                                          \
    load((c), (env), (int)(sizeof((char *[]){"nearftd", __VA_ARGS__}) / sizeof(char *)),           \
         (char *[]){"nearftd", __VA_ARGS__})

static void test_defaults(void)
{
    struct cfg c;
    CHECK_EQ_INT(LOAD(&c, NULL, REQ), 0);
    CHECK_EQ_STR(c.listen, "127.0.0.1:8080");
    CHECK_EQ_INT(c.ingest_threads, 2);
    CHECK_EQ_INT(c.sign_threads, 1);
    CHECK_EQ_INT(c.batch_max_actions, 100);
    CHECK(c.max_tx_gas == 300000000000000ull);
    CHECK(c.ft_transfer_gas == 3000000000000ull);
    CHECK(c.storage_deposit_gas == 5000000000000ull);
    char s[U128_STR_MAX];
    u128_format(c.storage_deposit_amount, s);
    CHECK_EQ_STR(s, "1250000000000000000000");
    CHECK_EQ_INT(c.auto_register, 1);
    CHECK_EQ_INT(c.check_receiver_exists, 1);
    CHECK_EQ_INT(c.fsync, CFG_FSYNC_ALWAYS);
    CHECK_EQ_INT(c.wait_until, RPC_WAIT_EXECUTED_OPTIMISTIC);
    CHECK_EQ_INT(c.log_level, NF_LOG_INFO);
    CHECK_EQ_INT(c.ring_size, 65536);
    CHECK_EQ_INT(c.job_capacity, 1048576);
    CHECK_EQ_INT(c.queue_capacity, 1000000);
    CHECK_EQ_INT(c.wal_segment_bytes, 67108864);
    CHECK_EQ_STR(c.data_dir, "./nearft-data");
    CHECK_EQ_INT(c.rpc_url.n, 1);
    CHECK_EQ_STR(c.rpc_url.v[0], "http://127.0.0.1:3030");
    CHECK_EQ_STR(c.signer, "alice.near");
    CHECK(c.config == NULL);
    CHECK_EQ_INT(c.public_keys.n, 0);
    CHECK(c.cluster == NULL); /* the local log unless --cluster */
    CHECK_EQ_STR(c.cluster_stream, "NEARFT");
    CHECK_EQ_INT(c.cluster_replicas, 3);
    CHECK_EQ_INT(c.cluster_ack_timeout_ms, 2000);
    CHECK_EQ_INT(c.cluster_lease_ms, 3000);
    CHECK(c.cluster_creds == NULL && c.cluster_tls_ca == NULL && c.cluster_tls_cert == NULL &&
          c.cluster_tls_key == NULL);
    cfg_free(&c);
    CHECK(c.listen == NULL);
    cfg_free(NULL);
}

struct bad {
    const char *arg, *val, *msg;
};

static void test_errors(void)
{
    static const struct bad bads[] = {
        {"--batch-max-actions", "101", "--batch-max-actions: 101 is out of range 1..100"},
        {"--batch-max-actions", "0", "--batch-max-actions: 0 is out of range 1..100"},
        {"--batch-max-actions", "-1", "--batch-max-actions: -1 is not a non-negative integer"},
        {"--batch-max-actions", "10x", "--batch-max-actions: 10x is not a non-negative integer"},
        {"--batch-max-actions", " 10", "--batch-max-actions:  10 is not a non-negative integer"},
        {"--batch-max-actions", "", "--batch-max-actions:  is not a non-negative integer"},
        {"--max-tx-gas", "99999999999999999999",
         "--max-tx-gas: 99999999999999999999 is out of range 1..1000000000000000"},
        {"--ring-size", "3000", "--ring-size: 3000 is not a power of two"},
        {"--ring-size", "512", "--ring-size: 512 is out of range 1024..16777216"},
        {"--fsync", "sometimes", "--fsync: sometimes is not one of always|off"},
        {"--wait-until", "final",
         "--wait-until: final is not one of "
         "NONE|INCLUDED|EXECUTED_OPTIMISTIC|INCLUDED_FINAL|EXECUTED|FINAL"},
        {"--auto-register=yes", "--listen=1.2.3.4:5",
         "--auto-register: yes is not a boolean (true/false/1/0/on/off)"},
        {"--signer", "Alice.near", "--signer: Alice.near is not a valid account id (*"},
        {"--rpc-url", "ftp://x", "--rpc-url: ftp://x is not an http:// or https:// URL"},
        {"--rpc-header", "nocolon", "--rpc-header: <redacted> must be URL=Name:Value"},
        {"--public-keys", "ed25519:0OIl",
         "--public-keys: ed25519:0OIl is not an ed25519:<base58> "
         "public key"},
        {"--storage-deposit-amount", "340282366920938463463374607431768211456",
         "--storage-deposit-amount: 340282366920938463463374607431768211456 is out of range "
         "0..2^128-1"},
        {"--cluster-replicas", "6", "--cluster-replicas: 6 is out of range 1..5"},
        {"--cluster-ack-timeout-ms", "50",
         "--cluster-ack-timeout-ms: 50 is out of range 100..600000"},
        {"--bogus", "1", "--bogus: unknown flag (see --help)"},
    };
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        struct cfg c;
        int rc = LOAD(&c, NULL, REQ, (char *)bads[i].arg, (char *)bads[i].val);
        size_t ml = strlen(bads[i].msg);
        int ok = bads[i].msg[ml - 1] == '*' ? strncmp(err, bads[i].msg, ml - 1) == 0
                                            : strcmp(err, bads[i].msg) == 0;
        if (!ok)
            fprintf(stderr, "case %zu: \"%s\"\n", i, err);
        CHECK_EQ_INT(rc, NF_ECONFIG);
        CHECK(ok);
        cfg_free(&c);
    }
    struct cfg c;
    CHECK_EQ_INT(LOAD(&c, NULL, "--signer", "alice.near"), NF_ECONFIG);
    CHECK_EQ_STR(err, "rpc_url is required (flag --rpc-url, env NEARFT_RPC_URL, config key "
                      "rpc_url)");
    cfg_free(&c);
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "positional"), NF_ECONFIG);
    CHECK_EQ_STR(err, "positional: unexpected argument (settings are --name value)");
    cfg_free(&c);
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--listen"), NF_ECONFIG);
    CHECK_EQ_STR(err, "--listen: missing value");
    cfg_free(&c);
    /* the env names the variable */
    char *env[] = {"NEARFT_INGEST_THREADS=65", NULL};
    CHECK_EQ_INT(LOAD(&c, env, REQ), NF_ECONFIG);
    CHECK_EQ_STR(err, "NEARFT_INGEST_THREADS: 65 is out of range 1..64");
    cfg_free(&c);
    /* A setting is one line: a newline would print (--print-config) as another setting. The
     * value is not echoed (it may be a secret). */
    char *env_nl[] = {"NEARFT_LISTEN=127.0.0.1:1\nsigner = evil.near", NULL};
    CHECK_EQ_INT(LOAD(&c, env_nl, REQ), NF_ECONFIG);
    CHECK_EQ_STR(err, "NEARFT_LISTEN: contains a control character (byte 0x0a at offset 11)");
    cfg_free(&c);
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--rpc-header", "X-Key: s3cret\x7f"), NF_ECONFIG);
    CHECK(strstr(err, "contains a control character (byte 0x7f at offset 13)") != NULL &&
          strstr(err, "s3cret") == NULL);
    cfg_free(&c);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_precedence(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/test_cfg_%d.conf", (int)getpid());
    write_file(path, "# comment\n"
                     "  batch_max_actions = 50   # trailing comment\n"
                     "batch_linger_ms=7\n"
                     "listen = \"0.0.0.0:9000\"\n"
                     "rpc_url = http://f1, http://f2\n"
                     "rpc_url = http://f3\n"
                     "signer = alice.near\n"
                     "credentials = \"/tmp/a b#c\"\n"
                     "contract = ft.near\n"
                     "auto_register = off\n"
                     "\n");
    char *env[] = {"PATH=/bin", "NEARFT_BATCH_LINGER_MS=8", "NEARFT_SIGN_THREADS=3",
                   "NEARFT_RPC_URL=http://e1", NULL};
    struct cfg c;
    CHECK_EQ_INT(LOAD(&c, env, "--config", path, "--sign-threads=4", "--rpc-url", "http://a",
                      "--rpc-url", "http://b,http://c", "--no-check-receiver-exists"),
                 0);
    CHECK_EQ_INT(c.batch_max_actions, 50); /* file */
    CHECK_EQ_INT(c.batch_linger_ms, 8);    /* env beats file */
    CHECK_EQ_INT(c.sign_threads, 4);       /* flag beats env */
    CHECK_EQ_STR(c.listen, "0.0.0.0:9000");
    CHECK_EQ_STR(c.credentials, "/tmp/a b#c");
    CHECK_EQ_INT(c.auto_register, 0);
    CHECK_EQ_INT(c.check_receiver_exists, 0);
    CHECK_EQ_STR(c.config, path);
    /* flag layer replaced the env and file lists, and appended within itself */
    CHECK_EQ_INT(c.rpc_url.n, 3);
    CHECK_EQ_STR(c.rpc_url.v[0], "http://a");
    CHECK_EQ_STR(c.rpc_url.v[2], "http://c");
    cfg_free(&c);

    /* env list replaces the file list; the file appends its repeated keys */
    char *env2[] = {"NEARFT_RPC_URL=http://e1,http://e2", NULL};
    CHECK_EQ_INT(LOAD(&c, env2, "--config", path), 0);
    CHECK_EQ_INT(c.rpc_url.n, 2);
    CHECK_EQ_STR(c.rpc_url.v[1], "http://e2");
    cfg_free(&c);
    char *env3[] = {"NEARFT_CONFIG=/nonexistent/x", NULL};
    CHECK_EQ_INT(LOAD(&c, env3, "--config", path), 0); /* flag beats env for the path */
    CHECK_EQ_INT(c.rpc_url.n, 3);
    CHECK_EQ_STR(c.rpc_url.v[2], "http://f3");
    cfg_free(&c);

    write_file(path, "batch_max_actions = 5\nbatch_max_action = 5\n");
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", path), NF_ECONFIG);
    char want[160];
    snprintf(want, sizeof(want), "%s:2: unknown key batch_max_action", path);
    CHECK_EQ_STR(err, want);
    cfg_free(&c);
    write_file(path, "ring_size = 3000\n");
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", path), NF_ECONFIG);
    snprintf(want, sizeof(want), "%s:1: ring_size: 3000 is not a power of two", path);
    CHECK_EQ_STR(err, want);
    cfg_free(&c);
    write_file(path, "config = /x\n");
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", path), NF_ECONFIG);
    cfg_free(&c);
    write_file(path, "listen\n");
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", path), NF_ECONFIG);
    snprintf(want, sizeof(want), "%s:1: expected key = value", path);
    CHECK_EQ_STR(err, want);
    cfg_free(&c);

    /* The file decides where keys come from and where transactions go: nobody else may write
     * it, it is not followed through a symlink, and a secret in it is not readable by others. */
    write_file(path, "batch_max_actions = 5\n");
    CHECK_EQ_INT(chmod(path, 0664), 0);
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", path), NF_ECONFIG);
    CHECK(strstr(err, "writable by group or others") != NULL);
    cfg_free(&c);
    CHECK_EQ_INT(chmod(path, 0644), 0);
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", path), 0);
    cfg_free(&c);
    char link[80];
    snprintf(link, sizeof(link), "%s.link", path);
    unlink(link);
    CHECK_EQ_INT(symlink(path, link), 0);
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", link), NF_ECONFIG);
    CHECK(strstr(err, "is a symbolic link") != NULL);
    cfg_free(&c);
    unlink(link);
    /* Nor any directory above it (sticky ones aside, like /tmp). */
    char above[64], nested[96];
    snprintf(above, sizeof(above), "/tmp/test_cfg_above_%d", (int)getpid());
    snprintf(nested, sizeof(nested), "%s/nearftd.conf", above);
    CHECK_EQ_INT(mkdir(above, 0700), 0);
    write_file(nested, "batch_max_actions = 5\n");
    CHECK_EQ_INT(chmod(nested, 0644), 0);
    CHECK_EQ_INT(chmod(above, 0777), 0);
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", nested), NF_ECONFIG);
    CHECK(strstr(err, above) != NULL && strstr(err, "writable by group or others") != NULL);
    cfg_free(&c);
    CHECK_EQ_INT(chmod(above, 01777), 0);
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", nested), 0);
    cfg_free(&c);
    unlink(nested);
    rmdir(above);
    write_file(path, "rpc_header = \"http://a=Authorization:Bearer SECRET\"\n");
    CHECK_EQ_INT(chmod(path, 0644), 0);
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", path), NF_ECONFIG);
    CHECK(strstr(err, "holds a secret (rpc_header) and others may read it") != NULL);
    cfg_free(&c);
    CHECK_EQ_INT(chmod(path, 0640), 0);
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", path), 0);
    cfg_free(&c);
    if (geteuid() == 0) {
        CHECK_EQ_INT(chown(path, 65534, 65534), 0);
        CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", path), NF_ECONFIG);
        CHECK(strstr(err, "owned by uid 65534") != NULL);
        cfg_free(&c);
    } else {
        printf("SKIP test_cfg: the config-owner case needs root to chown\n");
    }
    unlink(path);
    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--config", path), NF_ECONFIG);
    CHECK(strncmp(err, "--config: ", 10) == 0 && strstr(err, "cannot open") != NULL &&
          strstr(err, path) != NULL);
    cfg_free(&c);
}

static void test_help_and_print(void)
{
    struct cfg c;
    /* --help wins even with missing required keys and bad values */
    CHECK_EQ_INT(LOAD(&c, NULL, "--batch-max-actions", "999", "--help"), 0);
    CHECK_EQ_INT(c.show_help, 1);
    cfg_free(&c);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cfg_print_help(f);
    fclose(f);
    CHECK(strstr(buf, "  --batch-max-actions N\n") != NULL);
    CHECK(strstr(buf, "env NEARFT_BATCH_MAX_ACTIONS, default 100, range 1..100\n") != NULL);
    CHECK(strstr(buf, "env NEARFT_RING_SIZE, default 65536, range 1024..16777216 (power of two)") !=
          NULL);
    CHECK(strstr(buf, "env NEARFT_RPC_URL, required") != NULL);
    CHECK(strstr(buf, "env NEARFT_FSYNC, default always, one of always|off") != NULL);
    free(buf);

    CHECK_EQ_INT(LOAD(&c, NULL, REQ, "--rpc-header", "http://127.0.0.1:3030=x-api-key:SECRET1",
                      "--rpc-header", "http://b=Authorization:Bearer SECRET2", "--print-config",
                      "--memo-max-bytes", "10", "--public-keys",
                      "ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z"),
                 0);
    CHECK_EQ_INT(c.print_config, 1);
    CHECK_EQ_INT(c.rpc_header.n, 2);
    CHECK_EQ_STR(c.rpc_header.v[1], "http://b=Authorization:Bearer SECRET2");
    f = open_memstream(&buf, &len);
    cfg_print(&c, f);
    fclose(f);
    CHECK(strstr(buf, "SECRET") == NULL);
    CHECK(strstr(buf, "rpc_header = http://127.0.0.1:3030=x-api-key:<redacted>\n") != NULL);
    CHECK(strstr(buf, "rpc_header = http://b=Authorization:<redacted>\n") != NULL);
    CHECK(strstr(buf, "batch_max_actions = 100\n") != NULL);
    CHECK(strstr(buf, "memo_max_bytes = 10\n") != NULL);
    CHECK(strstr(buf, "wait_until = EXECUTED_OPTIMISTIC\n") != NULL);
    CHECK(strstr(buf, "storage_deposit_amount = 1250000000000000000000\n") != NULL);
    CHECK(strstr(buf, "auto_register = true\n") != NULL);

    /* The printout reads back as a config file (headers aside: they are redacted). */
    char path[64];
    snprintf(path, sizeof(path), "/tmp/test_cfg_rt_%d.conf", (int)getpid());
    FILE *o = fopen(path, "w");
    for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n"))
        if (strncmp(line, "rpc_header", 10) != 0)
            fprintf(o, "%s\n", line);
    fclose(o);
    free(buf);
    struct cfg d;
    CHECK_EQ_INT(LOAD(&d, NULL, "--config", path), 0);
    CHECK_EQ_INT(d.memo_max_bytes, 10);
    CHECK_EQ_STR(d.signer, "alice.near");
    CHECK_EQ_INT(d.public_keys.n, 1);
    CHECK_EQ_INT(d.rpc_url.n, 1);
    CHECK(d.storage_deposit_amount == c.storage_deposit_amount);
    unlink(path);
    cfg_free(&c);
    cfg_free(&d);
}

int main(void)
{
    test_defaults();
    test_errors();
    test_precedence();
    test_help_and_print();
    return nf_test_report("test_cfg");
}
