/* fail_io: an LD_PRELOAD shim for the disk-fault tests. While the file named by NF_FAIL_IO_FILE
 * exists, writev() and fdatasync() on a file whose path contains NF_FAIL_IO_MATCH (the log
 * directory) fail without touching the file. The control file holds the call to fail, the errno
 * and optionally a text: "writev ENOSPC", "fdatasync EIO", or "writev EIO INVALID_CHAIN" (only
 * writes whose data holds that text fail). Every other call goes to libc. Works on programs whose
 * libc calls are not intercepted by a sanitizer runtime linked into them. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

ssize_t writev(int fd, const struct iovec *iov, int iovcnt);
int fdatasync(int fd);

/* should_fail: the errno for call on fd (writing iov[0..iovcnt), or nothing), or 0 to let it
 * through. */
static int should_fail(const char *call, int fd, const struct iovec *iov, int iovcnt)
{
    const char *ctl = getenv("NF_FAIL_IO_FILE");
    const char *match = getenv("NF_FAIL_IO_MATCH");
    if (ctl == NULL || match == NULL)
        return 0;
    FILE *f = fopen(ctl, "r");
    if (f == NULL)
        return 0;
    char what[32] = "", err[32] = "", text[128] = "";
    int n = fscanf(f, "%31s %31s %127s", what, err, text);
    fclose(f);
    if (n < 1 || strcmp(what, call) != 0)
        return 0;
    if (text[0] != '\0') {
        int found = 0;
        for (int i = 0; i < iovcnt && !found; i++)
            found = memmem(iov[i].iov_base, iov[i].iov_len, text, strlen(text)) != NULL;
        if (!found)
            return 0;
    }
    char link[64], path[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, path, sizeof(path) - 1);
    if (len <= 0)
        return 0;
    path[len] = '\0';
    if (strstr(path, match) == NULL)
        return 0;
    return strcmp(err, "ENOSPC") == 0 ? ENOSPC : EIO;
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
    return real(fd);
}
