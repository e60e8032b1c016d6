/* procstat: the figures Prometheus client libraries export as process_* (CPU time, memory, file
 * descriptors, start time), for nearftd's /metrics. procstat_parse_stat is pure (tests and the
 * fuzzer call it); procstat_sample reads /proc/self with stack buffers only (no allocation), from
 * any thread. */
#ifndef NF_PROCSTAT_H
#define NF_PROCSTAT_H

#include <stddef.h>
#include <stdint.h>

/* The fields of /proc/<pid>/stat that the process_* metrics use, in the kernel's units. */
struct procstat_stat {
    uint64_t utime_ticks, stime_ticks; /* fields 14, 15: clock ticks (sysconf(_SC_CLK_TCK)) */
    uint64_t starttime_ticks;          /* field 22: ticks after boot */
    uint64_t vsize_bytes;              /* field 23 */
    uint64_t rss_pages;                /* field 24 (a negative value is refused) */
};

/* What procstat_sample reports, in Prometheus' base units. */
struct procstat {
    double cpu_seconds;        /* user + system CPU time */
    uint64_t resident_bytes;   /* resident set size */
    uint64_t virtual_bytes;    /* virtual memory size */
    double start_time_seconds; /* process start, seconds since the Unix epoch */
    uint64_t open_fds;         /* open file descriptors */
    uint64_t max_fds;          /* the soft RLIMIT_NOFILE */
};

/* procstat_parse_stat: parses one /proc/<pid>/stat line from buf[0..len) (need not be
 * NUL-terminated; the command name may hold spaces and parentheses: fields are counted from the
 * last ')'). Borrows buf until return. 0, NF_ETRUNC when a field is missing, NF_EINVAL when one
 * is not a decimal, NF_ERANGE when one overflows 64 bits. */
int procstat_parse_stat(const char *buf, size_t len, struct procstat_stat *out);

/* procstat_sample: fills *out for the calling process from /proc/self/stat, /proc/self/fd,
 * getrlimit and the clocks. 0, NF_EIO (/proc unreadable) or a parse error. Any thread. */
int procstat_sample(struct procstat *out);

#endif
