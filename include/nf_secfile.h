/* nf_secfile: the checks every file holding a secret passes before it is read (key files,
 * src/near/keys_file.c; the bearer-token file, src/util/auth_file.c; the cluster secret,
 * src/wal/wal_js.c), and the lighter ones of nearftd's config file (nf_secfile_open_under,
 * src/nearftd/cfg.c). Such a file is opened through the directories checked. The path must not be
 * a symbolic link (opened with O_NOFOLLOW), the file must be a regular file owned by the user the
 * process runs as (euid) that group and others can neither read nor write, the directory holding
 * it must not be writable by group or others (whoever can write the directory can replace the
 * file), and no directory above it may be replaceable by another user. Blocking I/O; start-up,
 * SIGHUP and CLI code, one thread. */
#ifndef NF_SECFILE_H
#define NF_SECFILE_H

#include <stddef.h>
#include <sys/stat.h>

/* nf_secfile_open: opens path with flags (| O_NOFOLLOW | O_CLOEXEC | O_NOCTTY; mode when O_CREAT
 * creates it) through the directories it checks: the real path of its directory is opened one
 * component at a time from / (O_PATH | O_NOFOLLOW | O_DIRECTORY, each relative to the one above),
 * each directory is checked on its own descriptor and the file is opened relative to the last, so
 * a directory renamed or swapped for a link after its check is not the one read through. The
 * checks: the open file as nf_secfile_check_fd, its directory as nf_secfile_check_dir, and every
 * directory up to / owned by root or by the user this program runs as and writable by nobody else
 * unless sticky (/tmp): whoever can write a directory above the file can replace the path to it;
 * then the same for the directories as the path names them, when that differs (a rule on the
 * path). A directory that fails is the highest one that does, and then the file is not opened
 * (nothing is created), though a missing file or a link at its name is reported first. what names
 * the kind of file in messages ("key file"). Returns the descriptor (caller owns it) with *st
 * filled, or -1 with *rc (NF_ENOTFOUND, NF_EIO, NF_EPERM, NF_EINVAL) and a one-line message naming
 * the path and the reason in err[0..errcap). */
int nf_secfile_open(const char *path,
                    int flags,
                    mode_t mode,
                    const char *what,
                    struct stat *st,
                    int *rc,
                    char *err,
                    size_t errcap);

/* nf_secfile_open_under: the same open through checked directories for a file that is not secret
 * but decides where secrets are read and where money goes (nearftd's --config): every directory
 * from / to the file's own is owned by root or this user and writable by nobody else unless
 * sticky; the file itself is only fstat'ed into *st, for the caller's own rules. Same returns. */
int nf_secfile_open_under(const char *path,
                          int flags,
                          const char *what,
                          struct stat *st,
                          int *rc,
                          char *err,
                          size_t errcap);

/* nf_secfile_open_dir: the directory that holds path, for writing a secret into it: opened
 * through the same checked walk as nf_secfile_open (it is not writable by group or others, and
 * every directory up to / is owned by root or this user and writable by nobody else unless
 * sticky, along the real path and the path as named), so that files created, renamed and synced
 * relative to it (openat, renameat, fsync) land in the directory that was checked. Returns an
 * O_RDONLY | O_DIRECTORY descriptor (caller owns it) and *base, the file name in path (borrowed
 * from path), or -1 with *rc (NF_ENOTFOUND, NF_EIO, NF_EPERM, NF_EINVAL) and err filled. */
int nf_secfile_open_dir(
    const char *path, const char *what, const char **base, int *rc, char *err, size_t errcap);

/* nf_secfile_check_fd: fstat on fd (so the file checked is the file read): a regular file, owned
 * by geteuid(), no permission bits for group or others. 0, NF_EIO, NF_EINVAL (not a regular
 * file) or NF_EPERM, with err filled. Borrows fd. */
int nf_secfile_check_fd(
    int fd, const char *path, const char *what, struct stat *st, char *err, size_t errcap);

/* nf_secfile_check_dir: the directory dir (followed if it is a link) is not writable by group
 * or others. what names it in messages ("key directory"). 0, NF_EIO (cannot stat) or NF_EPERM,
 * with err filled. */
int nf_secfile_check_dir(const char *dir, const char *what, char *err, size_t errcap);

#endif
