/* fail_io: an LD_PRELOAD shim for the disk-fault tests, acting on files whose path contains
 * NF_FAIL_IO_MATCH (the log directory). Two faults:
 *  - Failing calls. While the file named by NF_FAIL_IO_FILE exists, writev() and fdatasync() on
 *    those files fail without touching them. The control file holds the call to fail, the errno
 *    and optionally a text: "writev ENOSPC", "fdatasync EIO", or "writev EIO INVALID_CHAIN"
 *    (only writes whose data holds that text fail).
 *  - One failing call. NF_FAIL_IO_AT="fdatasync EIO 7" makes the 7th fdatasync() (or writev())
 *    on those files in this process fail, and no other.
 *  - Power cuts. With NF_POWER_CUT=FILE, the shim keeps in FILE (a shared mapping, so it outlives
 *    the process) one struct cut_rec per fd: the path of the log file open on it and 1 + the
 *    file's size at its last successful fdatasync() (a file never synced: its size before its
 *    first write). The size is recorded before fdatasync() returns to its caller, so no thread
 *    can act on a sync the record does not show. The test kills the process with SIGKILL, which
 *    stops every thread at one instant, then cuts each recorded file back to its recorded size:
 *    what the disk holds after a power failure at that instant.
 * Every other call goes to libc. Works on programs whose libc calls are not intercepted by a
 * sanitizer runtime linked into them. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

ssize_t writev(int fd, const struct iovec *iov, int iovcnt);
int fdatasync(int fd);
int ftruncate(int fd, off_t length);
int close(int fd);

#define MAX_FDS      4096
#define CUT_PATH_LEN 504

/* One fd's record in the NF_POWER_CUT file (512 bytes, little-endian on this target). */
struct cut_rec {
    _Atomic long long durable; /* 1 + the durable size; 0 = no log file on this fd */
    char path[CUT_PATH_LEN];   /* NUL-terminated */
};

/* The records, indexed by fd, or NULL without NF_POWER_CUT. An fd's record is written by the
 * thread that writes, syncs, truncates or closes that fd (the log's single writer). */
static struct cut_rec *cut;

/* matches_path: whether fd is a log file; when path is not NULL its path goes there (cap bytes,
 * NUL included; a longer path does not match). */
static int matches_path(int fd, char *path, size_t cap)
{
    const char *match = getenv("NF_FAIL_IO_MATCH");
    if (match == NULL || fd < 0 || fd >= MAX_FDS)
        return 0;
    char link[64], buf[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, buf, sizeof(buf) - 1);
    if (len <= 0)
        return 0;
    buf[len] = '\0';
    if (strstr(buf, match) == NULL)
        return 0;
    if (path != NULL) {
        if ((size_t)len >= cap)
            return 0;
        memcpy(path, buf, (size_t)len + 1);
    }
    return 1;
}

static long long size_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (long long)st.st_size : 0;
}

/* Calls on log files so far, for NF_FAIL_IO_AT: [0] writev, [1] fdatasync. */
static _Atomic long calls[2];

/* fail_at: the errno when this call on a log file is the one NF_FAIL_IO_AT names, else 0. */
static int fail_at(const char *call, int fd)
{
    const char *at = getenv("NF_FAIL_IO_AT");
    if (at == NULL || !matches_path(fd, NULL, 0))
        return 0;
    int k = strcmp(call, "fdatasync") == 0;
    long nth = atomic_fetch_add(&calls[k], 1) + 1;
    char what[32] = "", err[32] = "";
    long want = 0;
    if (sscanf(at, "%31s %31s %ld", what, err, &want) != 3 || strcmp(what, call) != 0 ||
        nth != want)
        return 0;
    return strcmp(err, "ENOSPC") == 0 ? ENOSPC : EIO;
}

/* should_fail: the errno for call on fd (writing iov[0..iovcnt), or nothing), or 0 to let it
 * through. */
static int should_fail(const char *call, int fd, const struct iovec *iov, int iovcnt)
{
    int at = fail_at(call, fd);
    if (at != 0)
        return at;
    const char *ctl = getenv("NF_FAIL_IO_FILE");
    if (ctl == NULL)
        return 0;
    FILE *f = fopen(ctl, "r");
    if (f == NULL)
        return 0;
    char what[32] = "", err[32] = "", text[128] = "";
    int n = fscanf(f, "%31s %31s %127s", what, err, text);
    fclose(f);
    if (n < 1 || strcmp(what, call) != 0 || !matches_path(fd, NULL, 0))
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

__attribute__((constructor)) static void fail_io_init(void)
{
    const char *p = getenv("NF_POWER_CUT");
    if (p == NULL || p[0] == '\0')
        return;
    size_t bytes = sizeof(struct cut_rec) * MAX_FDS;
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1 || ftruncate(fd, (off_t)bytes) == -1) {
        fprintf(stderr, "fail_io: cannot create %s: %s\n", p, strerror(errno));
        _exit(70);
    }
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        fprintf(stderr, "fail_io: cannot map %s: %s\n", p, strerror(errno));
        _exit(70);
    }
    cut = m; /* the mapping stays after fd is closed */
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
    /* Recorded before the first write reaches the file, so a kill after it cuts that write. */
    if (cut != NULL && fd >= 0 && fd < MAX_FDS && atomic_load(&cut[fd].durable) == 0 &&
        matches_path(fd, cut[fd].path, CUT_PATH_LEN))
        atomic_store(&cut[fd].durable, 1 + size_of(fd));
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
    /* One writer per fd: nothing was appended since the sync, so the size is the synced one. */
    if (rc == 0 && cut != NULL && fd >= 0 && fd < MAX_FDS && atomic_load(&cut[fd].durable) > 0)
        atomic_store(&cut[fd].durable, 1 + size_of(fd));
    return rc;
}

int ftruncate(int fd, off_t length)
{
    static int (*real)(int, off_t);
    if (real == NULL)
        real = (int (*)(int, off_t))dlsym(RTLD_NEXT, "ftruncate");
    int rc = real(fd, length);
    if (rc == 0 && cut != NULL && fd >= 0 && fd < MAX_FDS) {
        long long d = atomic_load(&cut[fd].durable);
        if (d > 0 && d - 1 > (long long)length)
            atomic_store(&cut[fd].durable, 1 + (long long)length);
    }
    return rc;
}

int close(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "close");
    if (cut != NULL && fd >= 0 && fd < MAX_FDS)
        atomic_store(&cut[fd].durable, 0); /* a segment is synced before it is left */
    return real(fd);
}
