/* test_procstat: the /proc/<pid>/stat parser on a table of lines (command names with spaces and
 * parentheses, missing and malformed fields, overflow), and procstat_sample on this process: the
 * figures are in range and open_fds follows a descriptor opened and closed by the test. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nf_err.h"
#include "nf_test.h"
#include "procstat.h"

/* A real line (kernel 6.x, 52 fields) with utime 11, stime 22, starttime 3333, vsize 44444,
 * rss 555 and the given command name. */
static int parse_with_comm(const char *comm, struct procstat_stat *st)
{
    char line[512];
    snprintf(line, sizeof(line),
             "4242 (%s) S 1 4242 4242 0 -1 4194560 1234 0 0 0 11 22 0 0 20 0 7 0 3333 44444 555 "
             "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
             comm);
    return procstat_parse_stat(line, strlen(line), st);
}

static void test_table(void)
{
    static const char *const comms[] = {"nearftd", "a b", "x) (y", ")", "((", ""};
    for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
        struct procstat_stat st;
        memset(&st, 0xff, sizeof(st));
        CHECK_EQ_INT(parse_with_comm(comms[i], &st), 0);
        CHECK_EQ_INT(st.utime_ticks, 11);
        CHECK_EQ_INT(st.stime_ticks, 22);
        CHECK_EQ_INT(st.starttime_ticks, 3333);
        CHECK_EQ_INT(st.vsize_bytes, 44444);
        CHECK_EQ_INT(st.rss_pages, 555);
    }
    static const struct {
        const char *line;
        int rc;
    } bad[] = {
        {"", NF_ETRUNC},
        {"1 nearftd S 1", NF_ETRUNC}, /* no ')' */
        {"1 (n) S 1 1 1 0 -1 0 0 0 0 0 11", NF_ETRUNC},
        {"1 (n) S 1 1 1 0 -1 0 0 0 0 0 11 22 0 0 20 0 7 0 3333 44444\n", NF_ETRUNC},
        {"1 (n) S 1 1 1 0 -1 0 0 0 0 0 1x 22 0 0 20 0 7 0 3333 44444 555", NF_EINVAL},
        {"1 (n) S 1 1 1 0 -1 0 0 0 0 0 11 22 0 0 20 0 7 0 3333 44444 -5", NF_EINVAL},
        {"1 (n) S 1 1 1 0 -1 0 0 0 0 0 11 22 0 0 20 0 7 0 3333 18446744073709551616 5", NF_ERANGE},
        {"1 (n) S 1 1 1 0 -1 0 0 0 0 0 11 22 0 0 20 0 7 0 3333 18446744073709551615 5", 0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct procstat_stat st;
        int rc = procstat_parse_stat(bad[i].line, strlen(bad[i].line), &st);
        if (rc != bad[i].rc)
            fprintf(stderr, "line %zu: %d, want %d\n", i, rc, bad[i].rc);
        CHECK_EQ_INT(rc, bad[i].rc);
    }
    /* The buffer is not NUL-terminated: a length that stops inside rss parses the prefix. */
    const char *l = "1 (n) S 1 1 1 0 -1 0 0 0 0 0 11 22 0 0 20 0 7 0 3333 44444 5559";
    struct procstat_stat st;
    CHECK_EQ_INT(procstat_parse_stat(l, strlen(l) - 1, &st), 0);
    CHECK_EQ_INT(st.rss_pages, 555);
}

static void test_sample(void)
{
    struct procstat a, b;
    CHECK_EQ_INT(procstat_sample(&a), 0);
    CHECK(a.resident_bytes > 0 && a.resident_bytes <= a.virtual_bytes);
    CHECK(a.cpu_seconds >= 0);
    CHECK(a.max_fds > 0 && a.open_fds >= 3 && a.open_fds <= a.max_fds);
    double now = (double)time(NULL);
    CHECK(a.start_time_seconds > now - 600 && a.start_time_seconds <= now + 1);
    int fd = open("/dev/null", O_RDONLY);
    CHECK(fd >= 0);
    CHECK_EQ_INT(procstat_sample(&b), 0);
    CHECK_EQ_INT(b.open_fds, a.open_fds + 1);
    close(fd);
    CHECK_EQ_INT(procstat_sample(&b), 0);
    CHECK_EQ_INT(b.open_fds, a.open_fds);
    /* The start time is a fixed point, not a clock reading: two samples agree within a tick. */
    CHECK(b.start_time_seconds - a.start_time_seconds < 0.02 &&
          a.start_time_seconds - b.start_time_seconds < 0.02);
}

int main(void)
{
    test_table();
    test_sample();
    return nf_test_report("test_procstat");
}
