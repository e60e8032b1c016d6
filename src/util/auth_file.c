/* auth_file: the token file on disk (the file part of include/auth.h). Loads it into a read-only
 * sodium_malloc table for nearftd (start-up and SIGHUP, main thread), appends a line and removes
 * one for the nearft CLI (append under flock + fsync; removal by rewrite: 0600 temp file in the
 * same directory, fsync, rename, fsync of the directory; both lock the file the path names at the
 * moment they hold the lock, so an add and a remove never lose each other's change). Every function
 * refuses, as keys_file.c does for key files, a symbolic link, a file owned by another user, a
 * file group or others may read or write, and a file in a directory they may write (nf_secfile).
 * Blocking I/O, one thread; auth_find_line, which finds the line a removal cuts, is pure. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "nf_err.h"
#include "nf_secfile.h"

static const char file_header[] =
    "# nearftd bearer tokens, one per line: NAME SCOPES BLAKE2B-256(TOKEN) in hex, then options\n"
    "# max_amount_per_transfer=N max_amount_per_hour=N max_amount_per_day=N expires=TIME(UTC)\n"
    "# Written by `nearft auth add`; the tokens themselves are never stored.\n";

__attribute__((format(printf, 3, 4))) static int
af_err(char *err, size_t errcap, const char *fmt, ...)
{
    if (err != NULL && errcap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return 0;
}

/* check_fd: fd (opened by nf_secfile_open, which checked its directories) is, as of now, a
 * regular file of at most AUTH_FILE_MAX bytes, owned by this user, that only its owner may
 * access; *st gets its current status (after a lock, its current size). */
static int check_fd(int fd, const char *path, struct stat *st, char *err, size_t errcap)
{
    int r = nf_secfile_check_fd(fd, path, "token file", st, err, errcap);
    if (r != 0)
        return r;
    if (st->st_size > (off_t)AUTH_FILE_MAX) {
        af_err(err, errcap, "token file %s is larger than %u bytes", path, AUTH_FILE_MAX);
        return NF_EINVAL;
    }
    return 0;
}

/* read_all: the whole file (st_size bytes) into a malloc'd, NUL-terminated buffer. */
static int read_all(int fd, const char *path, size_t size, char **out, char *err, size_t errcap)
{
    char *b = malloc(size + 1);
    if (b == NULL)
        return NF_ENOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, b + got, size - got, (off_t)got);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n == 0 ? EIO : errno;
            free(b);
            af_err(err, errcap, "token file %s: cannot read: %s", path, strerror(e));
            return NF_EIO;
        }
        got += (size_t)n;
    }
    b[got] = '\0';
    *out = b;
    return 0;
}

static int write_all(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w == -1 && errno == EINTR)
            continue;
        if (w <= 0)
            return NF_EIO;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* parse_text: parses text into a malloc'd entry array (*entries, count returned) or fails with the
 * line number in err. */
static int parse_text(const char *path,
                      const char *text,
                      size_t len,
                      struct auth_entry **entries,
                      char *err,
                      size_t errcap)
{
    size_t cap = auth_count_lines(text, len);
    struct auth_entry *e = calloc(cap, sizeof(*e));
    if (e == NULL)
        return NF_ENOMEM;
    int line = 0;
    const char *why = "";
    int n = auth_parse(text, len, e, cap, &line, &why);
    if (n < 0) {
        free(e);
        af_err(err, errcap, "token file %s: line %d: %s", path, line, why);
        return n;
    }
    *entries = e;
    return n;
}

struct auth_table *auth_table_load(const char *path, char *err, size_t errcap, int *rc)
{
    int r;
    struct auth_table *t = NULL;
    char *text = NULL;
    struct auth_entry *e = NULL;
    if (sodium_init() < 0) {
        af_err(err, errcap, "token file %s: libsodium failed to initialise", path);
        *rc = NF_ECRYPTO;
        return NULL;
    }
    /* O_NOFOLLOW (nf_secfile_open): a symbolic link is refused, not followed. */
    struct stat st;
    int fd = nf_secfile_open(path, O_RDONLY | O_NONBLOCK, 0, "token file", &st, rc, err, errcap);
    if (fd == -1)
        return NULL;
    if ((r = check_fd(fd, path, &st, err, errcap)) != 0)
        goto fail;
    if ((r = read_all(fd, path, (size_t)st.st_size, &text, err, errcap)) != 0)
        goto fail;
    r = parse_text(path, text, (size_t)st.st_size, &e, err, errcap);
    if (r < 0)
        goto fail;
    size_t n = (size_t)r;
    t = sodium_malloc(sizeof(*t) + (n ? n : 1) * sizeof(struct auth_entry));
    if (t == NULL) {
        r = NF_ENOMEM;
        goto fail;
    }
    t->n = n;
    memcpy(t->e, e, n * sizeof(*e));
    sodium_mprotect_readonly(t);
    r = 0;
fail:
    if (e != NULL) {
        sodium_memzero(e, (size_t)(r > 0 ? r : 0) * sizeof(*e));
        free(e);
    }
    free(text);
    close(fd);
    if (r != 0) {
        *rc = r;
        return NULL;
    }
    return t;
}

void auth_table_free(struct auth_table *t)
{
    if (t != NULL)
        sodium_free(t); /* wipes, then unmaps with its guard pages */
}

/* open_locked: opens path (flags, mode 0600 when created) through its checked directories
 * (nf_secfile_open: the file and every directory above it pass the secret-file checks) and takes
 * an exclusive flock on it. A remove that ran meanwhile renames a new file over the path, so the
 * lock is retaken until the locked descriptor is the file the path names (otherwise an add could
 * append to the replaced file and be lost). The descriptor, or -1 with err filled. */
static int open_locked(const char *path, int flags, char *err, size_t errcap, int *rc)
{
    for (int tries = 0; tries < 20; tries++) {
        struct stat a, b;
        int fd = nf_secfile_open(path, flags, 0600, "token file", &a, rc, err, errcap);
        if (fd == -1)
            return -1;
        if (flock(fd, LOCK_EX) == -1 || fstat(fd, &a) == -1) {
            int e = errno;
            close(fd);
            af_err(err, errcap, "token file %s: cannot lock: %s", path, strerror(e));
            *rc = NF_EIO;
            return -1;
        }
        if (stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            return fd;
        close(fd); /* replaced while we waited for the lock: lock the new file */
    }
    af_err(err, errcap, "token file %s: keeps being replaced; try again", path);
    *rc = NF_EIO;
    return -1;
}

int auth_file_add(const char *path,
                  const char *name,
                  unsigned scopes,
                  const uint8_t hash[AUTH_HASH_BYTES],
                  uint64_t expires_s,
                  const char *from,
                  char *err,
                  size_t errcap)
{
    if (!auth_name_ok(name, strlen(name))) {
        af_err(err, errcap, "NAME must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
        return NF_EINVAL;
    }
    /* nf_secfile_open (open_locked) checks the directories before creating anything: a new file
     * in a directory others can write is refused too. */
    int r = 0;
    int fd = open_locked(path, O_RDWR | O_CREAT | O_APPEND, err, errcap, &r);
    if (fd == -1)
        return r;
    char *text = NULL;
    struct auth_entry *e = NULL;
    struct stat st;
    if ((r = check_fd(fd, path, &st, err, errcap)) != 0)
        goto out;
    if ((r = read_all(fd, path, (size_t)st.st_size, &text, err, errcap)) != 0)
        goto out;
    r = parse_text(path, text, (size_t)st.st_size, &e, err, errcap);
    if (r < 0)
        goto out;
    for (int k = 0; k < r; k++) {
        if (strcmp(e[k].name, name) == 0) {
            af_err(err, errcap, "token file %s: the name %s is already used", path, name);
            r = NF_ESTATE;
            goto out;
        }
        if (memcmp(e[k].hash, hash, AUTH_HASH_BYTES) == 0) {
            af_err(err, errcap, "token file %s: this token's hash is already there", path);
            r = NF_ESTATE;
            goto out;
        }
    }
    char sc[AUTH_SCOPES_STR], hex[2 * AUTH_HASH_BYTES + 1];
    auth_scopes_format(scopes, sc, sizeof(sc));
    sodium_bin2hex(hex, sizeof(hex), hash, AUTH_HASH_BYTES);
    char when[AUTH_TIME_STR] = "", opt[AUTH_TIME_STR + AUTH_NETS_STR + 32] = "";
    if (expires_s != 0)
        auth_time_format(expires_s, when);
    if (from != NULL && strlen(from) >= AUTH_NETS_STR) {
        af_err(err, errcap, "token file %s: the from= list is too long", path);
        r = NF_EINVAL;
        goto out;
    }
    snprintf(opt, sizeof(opt), "%s%s%s%s", from ? " from=" : "", from ? from : "",
             expires_s ? " expires=" : "", when);
    char line[AUTH_NAME_MAX + AUTH_SCOPES_STR + sizeof(hex) + sizeof(opt) + 8];
    int ll =
        snprintf(line, sizeof(line), "%s%s %s %s%s\n",
                 st.st_size > 0 && text[st.st_size - 1] != '\n' ? "\n" : "", name, sc, hex, opt);
    r = NF_EIO;
    if (st.st_size == 0 && write_all(fd, file_header, sizeof(file_header) - 1) != 0)
        goto io;
    if (ll < 0 || (size_t)ll >= sizeof(line) || write_all(fd, line, (size_t)ll) != 0 ||
        fsync(fd) == -1)
        goto io;
    r = 0;
    goto out;
io:
    af_err(err, errcap, "token file %s: cannot write: %s", path, strerror(errno));
out:
    free(e);
    free(text);
    close(fd);
    return r;
}

int auth_find_line(const char *text, size_t len, const char *name, size_t *start, size_t *end)
{
    const char *p = text, *stop = text + len;
    size_t nl_name = strlen(name);
    while (p < stop) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        const char *le = nl ? nl + 1 : stop;
        const char *f = p;
        while (f < le && (*f == ' ' || *f == '\t'))
            f++;
        /* f[nl_name] is inside the line (its LF at the latest), so it is read only when there. */
        if ((size_t)(le - f) > nl_name && memcmp(f, name, nl_name) == 0 &&
            (f[nl_name] == ' ' || f[nl_name] == '\t')) {
            *start = (size_t)(p - text);
            *end = (size_t)(le - text);
            return 0;
        }
        p = le;
    }
    return NF_ENOTFOUND;
}

int auth_file_remove(const char *path, const char *name, char *err, size_t errcap)
{
    /* auth_find_line matches a first field: "#" would find a comment, "a b" the entry of "a". */
    if (!auth_name_ok(name, strlen(name))) {
        af_err(err, errcap, "NAME must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
        return NF_EINVAL;
    }
    int r = 0, tfd = -1, dfd = -1;
    int fd = open_locked(path, O_RDONLY, err, errcap, &r);
    if (fd == -1)
        return r;
    char *text = NULL, *tmp = NULL;
    struct auth_entry *e = NULL;
    struct stat st;
    if ((r = check_fd(fd, path, &st, err, errcap)) != 0)
        goto out;
    size_t len = (size_t)st.st_size;
    if ((r = read_all(fd, path, len, &text, err, errcap)) != 0)
        goto out;
    r = parse_text(path, text, len, &e, err, errcap);
    if (r < 0)
        goto out;
    /* The parser accepted the file, so the line whose first field is NAME is NAME's entry. */
    size_t cut = 0, cut_end = 0;
    if (auth_find_line(text, len, name, &cut, &cut_end) != 0) {
        af_err(err, errcap, "token file %s: no token named %s", path, name);
        r = NF_ENOTFOUND;
        goto out;
    }
    /* The new file is written beside the old one through the directory opened by the checked
     * walk (nf_secfile_open_dir), and renamed over it there. That directory must still hold the
     * file locked and read above (a rename of a directory between the two walks would otherwise
     * replace another file and defeat the lock): then the removal lands where the token is. */
    const char *base = NULL;
    if ((dfd = nf_secfile_open_dir(path, "token file", &base, &r, err, errcap)) == -1)
        goto out;
    struct stat here;
    if (fstatat(dfd, base, &here, AT_SYMLINK_NOFOLLOW) == -1 || here.st_dev != st.st_dev ||
        here.st_ino != st.st_ino) {
        af_err(err, errcap, "token file %s: its directory changed while removing; try again", path);
        r = NF_EIO;
        goto out;
    }
    size_t bl = strlen(base);
    tmp = malloc(bl + 32);
    if (tmp == NULL) {
        r = NF_ENOMEM;
        goto out;
    }
    snprintf(tmp, bl + 32, "%s.tmp.%08x%08x", base, (unsigned)randombytes_random(),
             (unsigned)randombytes_random());
    tfd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    r = NF_EIO;
    if (tfd == -1) {
        int en = errno;
        free(tmp);
        tmp = NULL;
        af_err(err, errcap, "token file %s: cannot create a temporary file: %s", path,
               strerror(en));
        goto out;
    }
    if (write_all(tfd, text, cut) != 0 || write_all(tfd, text + cut_end, len - cut_end) != 0 ||
        fsync(tfd) == -1) {
        af_err(err, errcap, "token file %s: cannot write the new file: %s", path, strerror(errno));
        goto out; /* closes tfd, removes tmp */
    }
    int closed = close(tfd);
    tfd = -1;
    if (closed == -1) {
        af_err(err, errcap, "token file %s: cannot write the new file: %s", path, strerror(errno));
        goto out;
    }
    if (renameat(dfd, tmp, dfd, base) == -1) {
        af_err(err, errcap, "token file %s: cannot replace it: %s", path, strerror(errno));
        goto out;
    }
    free(tmp);
    tmp = NULL;
    (void)fsync(dfd);
    r = 0;
out:
    if (tfd != -1)
        close(tfd);
    if (tmp != NULL)
        unlinkat(dfd, tmp, 0);
    free(tmp);
    if (dfd != -1)
        close(dfd);
    free(e);
    free(text);
    close(fd);
    return r;
}
