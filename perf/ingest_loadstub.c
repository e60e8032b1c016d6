/* ingest_loadstub: nearftd's ingest stage alone, in front of the stub pipeline (stub_pipeline.c:
 * every accept is made "durable" and executed at once), for measuring ingest against the `ceiling`
 * server with wrk (see perf/ingest_vs_ceiling.sh). Not a test. Runs until SIGINT/SIGTERM.
 *
 * Usage: ingest_loadstub [--listen HOST:PORT] [--threads N] [--max-batch N] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "ingest.h"
#include "nf_log.h"
#include "stub_pipeline.h"

static struct nf_pipe stub;

static int arg_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    char listen_addr[80] = "127.0.0.1:8089";
    uint64_t threads = 2, max_batch = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            snprintf(listen_addr, sizeof(listen_addr), "%s", argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc &&
                   arg_u64(argv[i + 1], 1, STUB_THREADS_MAX, &threads) == 0) {
            i++;
        } else if (strcmp(argv[i], "--max-batch") == 0 && i + 1 < argc &&
                   arg_u64(argv[i + 1], 1, 100000, &max_batch) == 0) {
            i++;
        } else {
            fprintf(stderr,
                    "usage: ingest_loadstub [--listen HOST:PORT] [--threads 1..%d] "
                    "[--max-batch N]\n",
                    STUB_THREADS_MAX);
            return 2;
        }
    }
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (stub_init(&stub, (unsigned)threads, 1u << 18) != 0) {
        fprintf(stderr, "ingest_loadstub: stub pipeline init failed\n");
        return 1;
    }
    struct cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.listen = listen_addr;
    cfg.ingest_threads = threads;
    cfg.max_batch_request = max_batch;
    cfg.memo_max_bytes = 256;
    cfg.max_body_bytes = 4u << 20;
    cfg.queue_capacity = 1u << 16;
    cfg.wait_timeout_ms = 30000;
    cfg.max_connections = 8192;
    cfg.large_bodies = 256;
    int err = 0;
    struct ingest *in = ingest_new(&cfg, &stub, &err);
    if (in == NULL || ingest_start(in) != 0) {
        fprintf(stderr, "ingest_loadstub: ingest failed to start\n");
        return 1;
    }
    printf("ingest_loadstub: listening on port %u with %llu threads\n", (unsigned)ingest_port(in),
           (unsigned long long)threads);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop_set, &sig);
    ingest_stop(in);
    stub_stop(&stub);
    ingest_free(in);
    stub_destroy(&stub);
    return 0;
}
