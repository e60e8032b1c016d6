/* secfile: the checks a file holding a secret passes before it is read (see nf_secfile.h).
 * Blocking I/O, any single thread; owns nothing past a call. */
#include "nf_secfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* sf_ancestor: one directory above a secret: owned by root or by the user this program runs as,
 * and writable by nobody else unless it is sticky (others may add entries there but cannot
 * rename or remove ours). */
static int
sf_ancestor(const char *dir, const char *what, const char *file, char *err, size_t errcap)
{
    struct stat st;
    if (stat(dir, &st) == -1) {
        int e = errno;
        sf_err(err, errcap, "%s %s: directory %s above it: cannot stat: %s", what, file, dir,
               strerror(e));
        return NF_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        sf_err(err, errcap, "%s %s: %s above it is not a directory", what, file, dir);
        return NF_EINVAL;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        sf_err(err, errcap,
               "%s %s: directory %s above it is owned by uid %u, neither root nor the user this "
               "program runs as (uid %u), so that user could replace the path",
               what, file, dir, (unsigned)st.st_uid, (unsigned)geteuid());
        return NF_EPERM;
    }
    if ((st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0) {
        sf_err(err, errcap,
               "%s %s: directory %s above it is writable by group or others (mode 0%03o), so they "
               "could replace the path; run chmod go-w %s",
               what, file, dir, (unsigned)(st.st_mode & 0777), dir);
        return NF_EPERM;
    }
    return 0;
}

/* sf_ancestors: sf_ancestor on every directory above dir (dir itself included) up to /, for an
 * absolute dir. */
static int
sf_ancestors(const char *dir, const char *what, const char *file, char *err, size_t errcap)
{
    char p[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(p) || dir[0] != '/')
        return 0;
    memcpy(p, dir, n + 1);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    for (;;) {
        int rc = sf_ancestor(p, what, file, err, errcap);
        if (rc != 0 || n == 1)
            return rc;
        char *slash = strrchr(p, '/');
        n = slash == p ? 1 : (size_t)(slash - p);
        p[n] = '\0';
    }
}

/* sf_path_dirs: the directories above a secret, both as the path names them (each name resolved
 * through any symbolic link in it) and as they really are (realpath): nobody but root and this
 * user may be able to replace any of them. dir: the directory holding the file. */
static int
sf_path_dirs(const char *dir, const char *what, const char *file, char *err, size_t errcap)
{
    char abs[4096];
    if (dir[0] == '/') {
        snprintf(abs, sizeof(abs), "%s", dir);
    } else {
        char cwd[2048];
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            sf_err(err, errcap, "%s %s: cannot read the current directory", what, file);
            return NF_EIO;
        }
        snprintf(abs, sizeof(abs), "%s/%s", cwd, dir);
    }
    int rc = sf_ancestors(abs, what, file, err, errcap);
    char real[4096];
    if (rc == 0 && realpath(dir, real) != NULL && strcmp(real, abs) != 0)
        rc = sf_ancestors(real, what, file, err, errcap);
    return rc;
}

/* sf_dirname: the directory holding path ("." for a bare name) into dir[0..cap). */
static int sf_dirname(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap)
        return NF_EINVAL;
    if (slash == NULL) {
        dir[0] = '.';
        n = 1;
    } else {
        memcpy(dir, path, n);
    }
    dir[n] = '\0';
    return 0;
}

int nf_secfile_check_above(const char *path, const char *what, char *err, size_t errcap)
{
    char dir[4096];
    if (sf_dirname(path, dir, sizeof(dir)) != 0) {
        sf_err(err, errcap, "%s %s: path too long", what, path);
        return NF_EINVAL;
    }
    return sf_path_dirs(dir, what, path, err, errcap);
}

int nf_secfile_check_parent(const char *path, const char *what, char *err, size_t errcap)
{
    char dir[4096];
    if (sf_dirname(path, dir, sizeof(dir)) != 0) {
        sf_err(err, errcap, "%s %s: path too long", what, path);
        return NF_EINVAL;
    }
    int rc = sf_dir(dir, what, path, err, errcap);
    return rc != 0 ? rc : sf_path_dirs(dir, what, path, err, errcap);
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
