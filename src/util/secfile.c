/* secfile: the checks a file holding a secret passes before it is read (see nf_secfile.h).
 * Blocking I/O, any single thread; owns nothing past a call. */
#include "nf_secfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* sf_dir_st: the check of nf_secfile_check_dir on st, dir's status; who names it in messages. */
static int
sf_dir_st(const struct stat *st, const char *dir, const char *who, char *err, size_t errcap)
{
    if (!S_ISDIR(st->st_mode)) {
        sf_err(err, errcap, "%s is not a directory", who);
        return NF_EINVAL;
    }
    if ((st->st_mode & 022) != 0) {
        sf_err(err, errcap,
               "%s is writable by group or others (mode 0%03o), so they could replace the "
               "file; run chmod go-w %s",
               who, (unsigned)(st->st_mode & 0777), dir);
        return NF_EPERM;
    }
    return 0;
}

/* sf_dir_who: how messages name directory dir (holding file, when not NULL). */
static void sf_dir_who(char *who, size_t cap, const char *what, const char *file, const char *dir)
{
    if (file != NULL)
        snprintf(who, cap, "%s %s: its directory %s", what, file, dir);
    else
        snprintf(who, cap, "%s %s", what, dir);
}

/* sf_dir: the check of nf_secfile_check_dir; file (NULL: none) is the file dir holds, for the
 * message. */
static int sf_dir(const char *dir, const char *what, const char *file, char *err, size_t errcap)
{
    struct stat st;
    char who[4200];
    sf_dir_who(who, sizeof(who), what, file, dir);
    if (stat(dir, &st) == -1) {
        int e = errno;
        sf_err(err, errcap, "%s: cannot stat: %s", who, strerror(e));
        return NF_EIO;
    }
    return sf_dir_st(&st, dir, who, err, errcap);
}

int nf_secfile_check_dir(const char *dir, const char *what, char *err, size_t errcap)
{
    return sf_dir(dir, what, NULL, err, errcap);
}

/* sf_ancestor_st: one directory above a secret, st its status: owned by root or by the user this
 * program runs as, and writable by nobody else unless it is sticky (others may add entries there
 * but cannot rename or remove ours). */
static int sf_ancestor_st(const struct stat *st,
                          const char *dir,
                          const char *what,
                          const char *file,
                          char *err,
                          size_t errcap)
{
    if (!S_ISDIR(st->st_mode)) {
        sf_err(err, errcap, "%s %s: %s above it is not a directory", what, file, dir);
        return NF_EINVAL;
    }
    if (st->st_uid != 0 && st->st_uid != geteuid()) {
        sf_err(err, errcap,
               "%s %s: directory %s above it is owned by uid %u, neither root nor the user this "
               "program runs as (uid %u), so that user could replace the path",
               what, file, dir, (unsigned)st->st_uid, (unsigned)geteuid());
        return NF_EPERM;
    }
    if ((st->st_mode & 022) != 0 && (st->st_mode & S_ISVTX) == 0) {
        sf_err(err, errcap,
               "%s %s: directory %s above it is writable by group or others (mode 0%03o), so they "
               "could replace the path; run chmod go-w %s",
               what, file, dir, (unsigned)(st->st_mode & 0777), dir);
        return NF_EPERM;
    }
    return 0;
}

/* sf_ancestor: sf_ancestor_st on the directory named dir. */
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
    return sf_ancestor_st(&st, dir, what, file, err, errcap);
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

/* sf_named_abs: dir (the directory holding a secret) as an absolute path as the path names it,
 * without resolving links, into abs[0..4096). 0, or NF_EIO (the current directory cannot be read)
 * with err filled. */
static int sf_named_abs(
    const char *dir, char abs[4096], const char *what, const char *file, char *err, size_t errcap)
{
    if (dir[0] == '/') {
        snprintf(abs, 4096, "%s", dir);
        return 0;
    }
    char cwd[2048];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        sf_err(err, errcap, "%s %s: cannot read the current directory", what, file);
        return NF_EIO;
    }
    snprintf(abs, 4096, "%s/%s", cwd, dir);
    return 0;
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

/* sf_walk: opens dir, an absolute path without symbolic links (a realpath), one component at a
 * time from /, each with O_PATH | O_NOFOLLOW | O_DIRECTORY relative to the descriptor of the one
 * above, and checks each on its own descriptor: every one as a directory above the file
 * (sf_ancestor_st), the last also as the file's directory (sf_dir_st) when strict. The file is then
 * opened relative to the returned descriptor, so the directories checked are the ones the open goes
 * through: one renamed or replaced after its check is not reached (the descriptors hold the
 * checked ones), and a component swapped for a link before its open is refused (O_NOFOLLOW).
 * Returns the last directory's descriptor (caller closes it), or -1 with *rc and err filled; a
 * directory that cannot be opened is "cannot open" with NF_ENOTFOUND or NF_EIO, as the file, and
 * one that is no longer a directory NF_EPERM. The walk goes from / down, so the first directory
 * that fails its check is the highest one. When every directory opens but one fails its check,
 * the descriptor is still returned and that failure is left in *check_rc / check_err, so that a
 * missing file or a link at its name is reported first (sf_open). */
static int sf_walk(const char *dir,
                   int strict,
                   const char *what,
                   const char *path,
                   int *rc,
                   char *err,
                   size_t errcap,
                   int *check_rc,
                   char *check_err,
                   size_t check_errcap)
{
    char p[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(p) || dir[0] != '/') {
        sf_err(err, errcap, "%s %s: path too long", what, path);
        *rc = NF_EINVAL;
        return -1;
    }
    memcpy(p, dir, n + 1);
    int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    size_t at = 1; /* p[0..at) is the directory fd holds */
    for (;;) {
        if (fd == -1) {
            int e = errno;
            int dl = (int)(at > 1 ? at - 1 : at);
            if (e == ENOTDIR || e == ELOOP) { /* swapped for a file or a link since realpath */
                sf_err(err, errcap,
                       "%s %s: %.*s above it is no longer a directory (replaced by a link or a "
                       "file while it was read); refusing it",
                       what, path, dl, p);
                *rc = NF_EPERM;
            } else {
                sf_err(err, errcap, "%s %s: cannot open its directory %.*s: %s", what, path, dl, p,
                       strerror(e));
                *rc = e == ENOENT ? NF_ENOTFOUND : NF_EIO;
            }
            return -1;
        }
        struct stat st;
        if (fstat(fd, &st) == -1) {
            int e = errno;
            close(fd);
            sf_err(err, errcap, "%s %s: cannot stat a directory above it: %s", what, path,
                   strerror(e));
            *rc = NF_EIO;
            return -1;
        }
        while (at < n && p[at] == '/')
            at++;
        char name[4096];
        size_t dl = at > 1 ? at - 1 : 1;
        while (dl > 1 && p[dl - 1] == '/')
            dl--;
        memcpy(name, p, dl);
        name[dl] = '\0';
        int last = at >= n;
        if (*check_rc == 0) {
            int r = 0;
            if (last && strict) {
                char who[4200];
                sf_dir_who(who, sizeof(who), what, path, name);
                r = sf_dir_st(&st, name, who, check_err, check_errcap);
            }
            if (r == 0)
                r = sf_ancestor_st(&st, name, what, path, check_err, check_errcap);
            *check_rc = r;
        }
        if (last)
            return fd;
        size_t end = at;
        while (end < n && p[end] != '/')
            end++;
        p[end] = '\0';
        int next = openat(fd, p + at, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(fd);
        if (end < n)
            p[end] = '/';
        at = end + 1;
        fd = next;
        errno = e;
    }
}

/* sf_dir_open: the first half of sf_open: path's directory, opened through the walk (sf_walk) with
 * *base the file name in path. -1 with *rc and err when the name or a directory cannot be
 * opened; otherwise the descriptor, with *check_rc / check_err the first failed check (0: none). */
static int sf_dir_open(const char *path,
                       int strict,
                       const char *what,
                       const char **base,
                       int *check_rc,
                       char *check_err,
                       size_t check_errcap,
                       int *rc,
                       char *err,
                       size_t errcap)
{
    char dir[4096], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    *base = slash != NULL ? slash + 1 : path;
    if (*path == '\0' || **base == '\0') {
        sf_err(err, errcap, "%s %s: cannot open: %s", what, path,
               *path == '\0' ? strerror(ENOENT) : "names a directory, not a file");
        *rc = *path == '\0' ? NF_ENOTFOUND : NF_EINVAL;
        return -1;
    }
    if (sf_dirname(path, dir, sizeof(dir)) != 0) {
        sf_err(err, errcap, "%s %s: path too long", what, path);
        *rc = NF_EINVAL;
        return -1;
    }
    if (realpath(dir, real) == NULL) {
        int e = errno;
        sf_err(err, errcap, "%s %s: cannot open: %s", what, path, strerror(e));
        *rc = e == ENOENT ? NF_ENOTFOUND : NF_EIO;
        return -1;
    }
    *check_rc = 0;
    int dfd = sf_walk(real, strict, what, path, rc, err, errcap, check_rc, check_err, check_errcap);
    /* The directories as the path names them (a link among them is followed), as a rule on the
     * path itself, when that differs from the real path the walk checked: whatever is opened goes
     * only through the checked real directories. */
    char abs[4096];
    if (dfd != -1 && *check_rc == 0 &&
        (*check_rc = sf_named_abs(dir, abs, what, path, check_err, check_errcap)) == 0 &&
        strcmp(abs, real) != 0)
        *check_rc = sf_ancestors(abs, what, path, check_err, check_errcap);
    return dfd;
}

/* sf_open_failed: the message and code of a file open that failed with errno e (ELOOP: the
 * name is a symbolic link, refused). */
static int sf_open_failed(int e, const char *what, const char *path, char *err, size_t errcap)
{
    if (e == ELOOP) {
        sf_err(err, errcap,
               "%s %s is a symbolic link; refusing to follow it (name the file itself)", what,
               path);
        return NF_EPERM;
    }
    sf_err(err, errcap, "%s %s: cannot open: %s", what, path, strerror(e));
    return e == ENOENT ? NF_ENOTFOUND : NF_EIO;
}

/* sf_open: the open of nf_secfile_open and nf_secfile_open_under; strict: the file's directory
 * is checked as sf_dir_st (a secret), not only as a directory above it. */
static int sf_open(const char *path,
                   int flags,
                   mode_t mode,
                   int strict,
                   const char *what,
                   struct stat *st,
                   int *rc,
                   char *err,
                   size_t errcap)
{
    const char *base;
    int check_rc = 0;
    char check_err[4608] = "";
    int dfd = sf_dir_open(path, strict, what, &base, &check_rc, check_err, sizeof(check_err), rc,
                          err, errcap);
    if (dfd == -1)
        return -1;
    if (check_rc != 0) {
        /* A directory failed its check: the file is not opened (nothing is created there, and a
         * FIFO planted in it cannot block), but a missing file or a link at its name is still
         * reported as such first, as an open would. */
        struct stat fs;
        int e = fstatat(dfd, base, &fs, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
        close(dfd);
        if (e == ENOENT && !(flags & O_CREAT)) {
            *rc = sf_open_failed(ENOENT, what, path, err, errcap);
        } else if (e == 0 && S_ISLNK(fs.st_mode)) {
            *rc = sf_open_failed(ELOOP, what, path, err, errcap);
        } else {
            sf_err(err, errcap, "%s", check_err);
            *rc = check_rc;
        }
        return -1;
    }
    int fd = openat(dfd, base, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
    int e = errno;
    close(dfd);
    if (fd == -1) {
        *rc = sf_open_failed(e, what, path, err, errcap);
        return -1;
    }
    int r = 0;
    if (strict)
        r = nf_secfile_check_fd(fd, path, what, st, err, errcap);
    else if (fstat(fd, st) == -1) {
        e = errno;
        sf_err(err, errcap, "%s %s: cannot stat: %s", what, path, strerror(e));
        r = NF_EIO;
    }
    if (r != 0) {
        close(fd);
        *rc = r;
        return -1;
    }
    return fd;
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
    return sf_open(path, flags, mode, 1, what, st, rc, err, errcap);
}

int nf_secfile_open_under(const char *path,
                          int flags,
                          const char *what,
                          struct stat *st,
                          int *rc,
                          char *err,
                          size_t errcap)
{
    return sf_open(path, flags, 0, 0, what, st, rc, err, errcap);
}

int nf_secfile_open_dir(
    const char *path, const char *what, const char **base, int *rc, char *err, size_t errcap)
{
    int check_rc = 0;
    char check_err[4608] = "";
    int dfd =
        sf_dir_open(path, 1, what, base, &check_rc, check_err, sizeof(check_err), rc, err, errcap);
    if (dfd == -1)
        return -1;
    if (check_rc != 0) {
        close(dfd);
        sf_err(err, errcap, "%s", check_err);
        *rc = check_rc;
        return -1;
    }
    /* The walk's descriptor is O_PATH; writing into the directory and fsync need a real one. */
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = errno;
    close(dfd);
    if (fd == -1) {
        sf_err(err, errcap, "%s %s: cannot open its directory: %s", what, path, strerror(e));
        *rc = NF_EIO;
    }
    return fd;
}
