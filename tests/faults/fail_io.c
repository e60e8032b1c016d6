/* fail_io: an LD_PRELOAD shim for the disk-fault tests, acting on files whose path contains
 * NF_FAIL_IO_MATCH (the log directory). Two faults:
 *  - Failing calls. While the file named by NF_FAIL_IO_FILE exists, writev() and fdatasync() on
 *    those files fail without touching them. The control file holds the call to fail, the errno
 *    and optionally a text: "writev ENOSPC", "fdatasync EIO", or "writev EIO INVALID_CHAIN"
 *    (only writes whose data holds that text fail).
 *  - Power cut. With NF_POWER_CUT=1, SIGUSR2 cuts every such file open for writing back to its
 *    size at its last successful fdatasync() (what the disk holds after a power failure; a file
 *    this process never synced keeps the size it had when first written) and ends the process
 *    at once with status 137, as if killed.
 * Every other call goes to libc. Works on programs whose libc calls are not intercepted by a
 * sanitizer runtime linked into them. */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

ssize_t writev(int fd, const struct iovec *iov, int iovcnt);
int fdatasync(int fd);
int ftruncate(int fd, off_t length);
int close(int fd);

#define MAX_FDS 4096

/* Per fd: 1 + the durable size (0 = not a log file seen by this process). Written by the thread
 * that writes, syncs or closes that fd (the log's single writer); read by the signal handler. */
static _Atomic long long durable[MAX_FDS];

static int matches(int fd)
{
    const char *match = getenv("NF_FAIL_IO_MATCH");
    if (match == NULL || fd < 0 || fd >= MAX_FDS)
        return 0;
    char link[64], path[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, path, sizeof(path) - 1);
    if (len <= 0)
        return 0;
    path[len] = '\0';
    return strstr(path, match) != NULL;
}

static long long size_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (long long)st.st_size : 0;
}

/* should_fail: the errno for call on fd (writing iov[0..iovcnt), or nothing), or 0 to let it
 * through. */
static int should_fail(const char *call, int fd, const struct iovec *iov, int iovcnt)
{
    const char *ctl = getenv("NF_FAIL_IO_FILE");
    if (ctl == NULL)
        return 0;
    FILE *f = fopen(ctl, "r");
    if (f == NULL)
        return 0;
    char what[32] = "", err[32] = "", text[128] = "";
    int n = fscanf(f, "%31s %31s %127s", what, err, text);
    fclose(f);
    if (n < 1 || strcmp(what, call) != 0 || !matches(fd))
        return 0;
    if (text[0] != '\0') {
        int found = 0;
        for (int i = 0; i < iovcnt && !found; i++)
            found = memmem(iov[i].iov_base, iov[i].iov_len, text, strlen(text)) != NULL;
        if (!found)
            return 0;
    }
    return strcmp(err, "ENOSPC") == 0 ? ENOSPC : EIO;
}

/* SIGUSR2 with NF_POWER_CUT=1: every log file back to its durable size, then gone. Only
 * async-signal-safe calls (raw syscalls). */
static void power_cut(int sig)
{
    (void)sig;
    for (int fd = 0; fd < MAX_FDS; fd++) {
        long long d = atomic_load(&durable[fd]);
        if (d > 0)
            (void)syscall(SYS_ftruncate, fd, (off_t)(d - 1));
    }
    _exit(137);
}

__attribute__((constructor)) static void fail_io_init(void)
{
    const char *p = getenv("NF_POWER_CUT");
    if (p != NULL && strcmp(p, "1") == 0)
        signal(SIGUSR2, power_cut);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    static ssize_t (*real)(int, const struct iovec *, int);
    if (real == NULL)
        real = (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
    int e = should_fail("writev", fd, iov, iovcnt);
    if (e != 0) {
        errno = e;
        return -1;
    }
    if (fd >= 0 && fd < MAX_FDS && atomic_load(&durable[fd]) == 0 && matches(fd))
        atomic_store(&durable[fd], 1 + size_of(fd));
    return real(fd, iov, iovcnt);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int e = should_fail("fdatasync", fd, NULL, 0);
    if (e != 0) {
        errno = e;
        return -1;
    }
    int rc = real(fd);
    if (rc == 0 && fd >= 0 && fd < MAX_FDS && atomic_load(&durable[fd]) > 0)
        atomic_store(&durable[fd], 1 + size_of(fd));
    return rc;
}

int ftruncate(int fd, off_t length)
{
    static int (*real)(int, off_t);
    if (real == NULL)
        real = (int (*)(int, off_t))dlsym(RTLD_NEXT, "ftruncate");
    int rc = real(fd, length);
    if (rc == 0 && fd >= 0 && fd < MAX_FDS) {
        long long d = atomic_load(&durable[fd]);
        if (d > 0 && d - 1 > (long long)length)
            atomic_store(&durable[fd], 1 + (long long)length);
    }
    return rc;
}

int close(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "close");
    if (fd >= 0 && fd < MAX_FDS)
        atomic_store(&durable[fd], 0); /* a segment is synced before it is left */
    return real(fd);
}
