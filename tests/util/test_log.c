/* test_log: logfmt line layout (timestamp from a fixed instant, msg/kv split, escaping,
 * truncation), level filtering that skips argument evaluation, and one write per event through a
 * pipe from several threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nf_err.h"
#include "nf_log.h"
#include "nf_test.h"

static int evaluated;

static int side_effect(void)
{
    evaluated++;
    return 7;
}

static void test_format(void)
{
    char line[NF_LOG_LINE_MAX];
    /* 2026-11-27T01:02:03.456Z, computed independently (Python datetime). */
    const long long ts = 1795741323456LL;
    int n = log_format_line(line, sizeof(line), ts, NF_LOG_INFO, "ingest-0", "wal",
                            "segment rotated seq=12 path=\"/a b\"");
    line[n] = '\0';
    CHECK_EQ_STR(line, "ts=2026-11-27T01:02:03.456Z lvl=info thr=ingest-0 mod=wal msg=\"segment "
                       "rotated\" seq=12 path=\"/a b\"\n");
    n = log_format_line(line, sizeof(line), ts, NF_LOG_ERROR, "main", "cfg",
                        "bad \"value\"\nnext\\");
    line[n] = '\0';
    CHECK_EQ_STR(line, "ts=2026-11-27T01:02:03.456Z lvl=error thr=main mod=cfg msg=\"bad "
                       "\\\"value\\\"\\nnext\\\\\"\n");
    /* pairs only: empty msg */
    n = log_format_line(line, sizeof(line), ts, NF_LOG_WARN, "t", "m", "k=v x=\"a\nb\"");
    line[n] = '\0';
    CHECK_EQ_STR(line, "ts=2026-11-27T01:02:03.456Z lvl=warn thr=t mod=m msg=\"\" k=v "
                       "x=\"a\\nb\"\n");
    /* '=' inside the message text that is not a key start stays in msg */
    n = log_format_line(line, sizeof(line), ts, NF_LOG_DEBUG, "t", "m", "a == b");
    line[n] = '\0';
    CHECK_EQ_STR(line, "ts=2026-11-27T01:02:03.456Z lvl=debug thr=t mod=m msg=\"a == b\"\n");
    /* truncation keeps the newline and the cap */
    char small[40];
    n = log_format_line(small, sizeof(small), ts, NF_LOG_INFO, "t", "m", "long message here");
    CHECK_EQ_INT(n, 40);
    CHECK_EQ_INT(small[39], '\n');
}

static void test_levels(void)
{
    CHECK_EQ_INT(log_level_parse("warn"), NF_LOG_WARN);
    CHECK_EQ_INT(log_level_parse("WARN"), NF_EINVAL);
    CHECK_EQ_STR(log_level_name(NF_LOG_DEBUG), "debug");
    int fds[2];
    CHECK_EQ_INT(pipe(fds), 0);
    log_set_fd(fds[1]);
    log_set_level(NF_LOG_WARN);
    evaluated = 0;
    NF_LOG(NF_LOG_INFO, "t", "skipped v=%d", side_effect());
    CHECK_EQ_INT(evaluated, 0);
    NF_LOG(NF_LOG_ERROR, "t", "kept v=%d", side_effect());
    CHECK_EQ_INT(evaluated, 1);
    log_set_thread("tester one");
    NF_LOG(NF_LOG_WARN, "t", "second");
    char buf[1024];
    ssize_t r = read(fds[0], buf, sizeof(buf) - 1);
    CHECK(r > 0);
    buf[r > 0 ? r : 0] = '\0';
    CHECK(strstr(buf, "lvl=error thr=main mod=t msg=\"kept\" v=7\n") != NULL);
    CHECK(strstr(buf, "lvl=warn thr=tester_one mod=t msg=\"second\"\n") != NULL);
    CHECK(strstr(buf, "skipped") == NULL);
    close(fds[0]);
    close(fds[1]);
    log_set_fd(2);
    log_set_level(NF_LOG_INFO);
}

static int tfd;

static void *writer(void *arg)
{
    char name[16];
    snprintf(name, sizeof(name), "w-%d", (int)(long)arg);
    log_set_thread(name);
    for (int i = 0; i < 200; i++)
        NF_LOG(NF_LOG_INFO, "t", "event i=%d pad=%0400d", i, 0);
    return NULL;
}

static void test_threads(void)
{
    char path[] = "/tmp/test_log_XXXXXX";
    tfd = mkstemp(path);
    CHECK(tfd >= 0);
    unlink(path);
    log_set_fd(tfd);
    pthread_t th[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, writer, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    log_set_fd(2);
    /* Every line is whole: it starts with ts= and has exactly one pad field. */
    FILE *f = fdopen(tfd, "r");
    rewind(f);
    char line[4096];
    int lines = 0, good = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lines++;
        if (strncmp(line, "ts=", 3) == 0 && strstr(line, " pad=") != NULL &&
            strstr(strstr(line, " pad=") + 1, "ts=") == NULL && line[strlen(line) - 1] == '\n')
            good++;
    }
    fclose(f);
    CHECK_EQ_INT(lines, 800);
    CHECK_EQ_INT(good, 800);
}

/* Under systemd the journal names its stream in JOURNAL_STREAM=dev:ino: lines sent to that very
 * stream start with their syslog priority; to any other fd they do not. */
static void test_journal(void)
{
    int fds[2];
    CHECK_EQ_INT(pipe(fds), 0);
    struct stat st;
    CHECK_EQ_INT(fstat(fds[1], &st), 0);
    char js[64];
    snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    log_set_fd(fds[1]);
    setenv("JOURNAL_STREAM", "1:2", 1);
    CHECK_EQ_INT(log_detect_journal(), 0);
    NF_LOG(NF_LOG_ERROR, "t", "plain");
    setenv("JOURNAL_STREAM", js, 1);
    CHECK_EQ_INT(log_detect_journal(), 1);
    NF_LOG(NF_LOG_ERROR, "t", "err");
    NF_LOG(NF_LOG_WARN, "t", "warn");
    NF_LOG(NF_LOG_INFO, "t", "info");
    char buf[2048];
    ssize_t r = read(fds[0], buf, sizeof(buf) - 1);
    CHECK(r > 0);
    buf[r > 0 ? r : 0] = '\0';
    CHECK(strncmp(buf, "ts=", 3) == 0); /* the line before detection: no prefix */
    CHECK(strstr(buf, "\n<3>ts=") != NULL && strstr(buf, "msg=\"err\"") != NULL);
    CHECK(strstr(buf, "\n<4>ts=") != NULL);
    CHECK(strstr(buf, "\n<6>ts=") != NULL);
    unsetenv("JOURNAL_STREAM");
    CHECK_EQ_INT(log_detect_journal(), 0);
    close(fds[0]);
    close(fds[1]);
    log_set_fd(2);
}

int main(void)
{
    test_format();
    test_levels();
    test_threads();
    test_journal();
    return nf_test_report("test_log");
}
