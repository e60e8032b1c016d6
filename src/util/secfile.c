/* secfile: the checks a file holding a secret passes before it is read (see nf_secfile.h).
 * Blocking I/O, any single thread; owns nothing past a call. */
#include "nf_secfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nf_err.h"

__attribute__((format(printf, 3, 4))) static void
sf_err(char *err, size_t errcap, const char *fmt, ...)
{
    if (err == NULL || errcap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}

int nf_secfile_check_fd(
    int fd, const char *path, const char *what, struct stat *st, char *err, size_t errcap)
{
    if (fstat(fd, st) == -1) {
        int e = errno;
        sf_err(err, errcap, "%s %s: cannot stat: %s", what, path, strerror(e));
        return NF_EIO;
    }
    if (!S_ISREG(st->st_mode)) {
        sf_err(err, errcap, "%s %s is not a regular file", what, path);
        return NF_EINVAL;
    }
    uid_t me = geteuid();
    if (st->st_uid != me) {
        sf_err(err, errcap,
               "%s %s is owned by uid %u, not by the user this program runs as (uid %u); run "
               "chown %u %s",
               what, path, (unsigned)st->st_uid, (unsigned)me, (unsigned)me, path);
        return NF_EPERM;
    }
    if ((st->st_mode & 077) != 0) {
        sf_err(err, errcap,
               "%s %s is readable or writable by group or others (mode 0%03o); run chmod 600 %s",
               what, path, (unsigned)(st->st_mode & 0777), path);
        return NF_EPERM;
    }
    return 0;
}

/* sf_dir: the check of nf_secfile_check_dir; file (NULL: none) is the file dir holds, for the
 * message. */
static int sf_dir(const char *dir, const char *what, const char *file, char *err, size_t errcap)
{
    struct stat st;
    char who[4200];
    if (file != NULL)
        snprintf(who, sizeof(who), "%s %s: its directory %s", what, file, dir);
    else
        snprintf(who, sizeof(who), "%s %s", what, dir);
    if (stat(dir, &st) == -1) {
        int e = errno;
        sf_err(err, errcap, "%s: cannot stat: %s", who, strerror(e));
        return NF_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        sf_err(err, errcap, "%s is not a directory", who);
        return NF_EINVAL;
    }
    if ((st.st_mode & 022) != 0) {
        sf_err(err, errcap,
               "%s is writable by group or others (mode 0%03o), so they could replace the "
               "file; run chmod go-w %s",
               who, (unsigned)(st.st_mode & 0777), dir);
        return NF_EPERM;
    }
    return 0;
}

int nf_secfile_check_dir(const char *dir, const char *what, char *err, size_t errcap)
{
    return sf_dir(dir, what, NULL, err, errcap);
}

int nf_secfile_check_parent(const char *path, const char *what, char *err, size_t errcap)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return sf_dir(".", what, path, err, errcap);
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof(dir)) {
        sf_err(err, errcap, "%s %s: path too long", what, path);
        return NF_EINVAL;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    return sf_dir(dir, what, path, err, errcap);
}

int nf_secfile_open(const char *path,
                    int flags,
                    mode_t mode,
                    const char *what,
                    struct stat *st,
                    int *rc,
                    char *err,
                    size_t errcap)
{
    int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
    if (fd == -1) {
        int e = errno;
        if (e == ELOOP) {
            sf_err(err, errcap,
                   "%s %s is a symbolic link; refusing to follow it (name the file itself)", what,
                   path);
            *rc = NF_EPERM;
        } else {
            sf_err(err, errcap, "%s %s: cannot open: %s", what, path, strerror(e));
            *rc = e == ENOENT ? NF_ENOTFOUND : NF_EIO;
        }
        return -1;
    }
    int r = nf_secfile_check_fd(fd, path, what, st, err, errcap);
    if (r == 0)
        r = nf_secfile_check_parent(path, what, err, errcap);
    if (r != 0) {
        close(fd);
        *rc = r;
        return -1;
    }
    return fd;
}
