/* procstat: the process_* figures of /metrics from /proc/self. The /proc/<pid>/stat parser is pure;
 * procstat_sample does the reads with stack buffers and raw getdents64 (opendir would allocate),
 * so any thread may call it, as a /metrics scrape on an ingest thread does. Owns no state. */
#include "procstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "nf_err.h"

/* Skips one run of spaces, then parses an unsigned decimal token ending at a space or the end. */
static int next_u64(const char **pp, const char *end, uint64_t *out)
{
    const char *p = *pp;
    while (p < end && *p == ' ')
        p++;
    if (p == end || *p == '\n')
        return NF_ETRUNC;
    uint64_t v = 0;
    const char *start = p;
    for (; p < end && *p != ' ' && *p != '\n'; p++) {
        if (*p < '0' || *p > '9')
            return NF_EINVAL;
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NF_ERANGE;
        v = v * 10 + d;
    }
    if (p == start)
        return NF_EINVAL;
    *pp = p;
    *out = v;
    return 0;
}

/* Skips one space-separated token of any content (a signed field, the state letter). */
static int skip_token(const char **pp, const char *end)
{
    const char *p = *pp;
    while (p < end && *p == ' ')
        p++;
    if (p == end || *p == '\n')
        return NF_ETRUNC;
    while (p < end && *p != ' ' && *p != '\n')
        p++;
    *pp = p;
    return 0;
}

int procstat_parse_stat(const char *buf, size_t len, struct procstat_stat *out)
{
    const char *end = buf + len, *p = NULL;
    for (const char *q = buf; q < end; q++)
        if (*q == ')')
            p = q + 1;
    if (p == NULL)
        return NF_ETRUNC;
    /* Fields after the command name: 3 state, 4..13 (skipped), 14 utime, 15 stime, 16..21
     * (skipped; some signed), 22 starttime, 23 vsize, 24 rss. */
    uint64_t v[25] = {0};
    for (int f = 3; f <= 24; f++) {
        int rc;
        if (f == 14 || f == 15 || f >= 22)
            rc = next_u64(&p, end, &v[f]);
        else
            rc = skip_token(&p, end);
        if (rc != 0)
            return rc;
    }
    out->utime_ticks = v[14];
    out->stime_ticks = v[15];
    out->starttime_ticks = v[22];
    out->vsize_bytes = v[23];
    out->rss_pages = v[24];
    return 0;
}

/* Open descriptors of this process: the entries of /proc/self/fd less ".", ".." and the
 * descriptor that reads it. */
static int count_fds(uint64_t *out)
{
    int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1)
        return NF_EIO;
    char buf[4096] __attribute__((aligned(8)));
    uint64_t n = 0;
    for (;;) {
        ssize_t got = getdents64(fd, buf, sizeof(buf));
        if (got == -1) {
            int e = errno;
            close(fd);
            errno = e;
            return NF_EIO;
        }
        if (got == 0)
            break;
        for (ssize_t off = 0; off < got;) {
            const struct dirent64 *d = (const struct dirent64 *)(buf + off);
            if (d->d_name[0] != '.')
                n++;
            off += d->d_reclen;
        }
    }
    close(fd);
    *out = n > 0 ? n - 1 : 0;
    return 0;
}

int procstat_sample(struct procstat *out)
{
    char buf[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return NF_EIO;
    ssize_t got = read(fd, buf, sizeof(buf));
    close(fd);
    if (got <= 0)
        return NF_EIO;
    struct procstat_stat st;
    int rc = procstat_parse_stat(buf, (size_t)got, &st);
    if (rc != 0)
        return rc;
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (hz <= 0 || page <= 0)
        return NF_EIO;
    out->cpu_seconds = (double)(st.utime_ticks + st.stime_ticks) / (double)hz;
    out->resident_bytes = st.rss_pages * (uint64_t)page;
    out->virtual_bytes = st.vsize_bytes;
    /* Start = wall clock now - time since boot + start ticks after boot (the same figure as the
     * btime line of /proc/stat plus starttime, without reading that long file). */
    struct timespec real, boot;
    if (clock_gettime(CLOCK_REALTIME, &real) == -1 || clock_gettime(CLOCK_BOOTTIME, &boot) == -1)
        return NF_EIO;
    double boot_epoch = (double)real.tv_sec + (double)real.tv_nsec / 1e9 -
                        ((double)boot.tv_sec + (double)boot.tv_nsec / 1e9);
    out->start_time_seconds = boot_epoch + (double)st.starttime_ticks / (double)hz;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
        return NF_EIO;
    out->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    return count_fds(&out->open_fds);
}
