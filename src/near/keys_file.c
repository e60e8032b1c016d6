/* keys_file: credential files on disk (see the keys_file.c part of include/keys.h). Reads one file
 * (refusing any that group or others may read or write, see below), loads every key of an account
 * from a near-cli-rs style directory "<dir>/<account>/ed25519_<pub>.json" and the legacy
 * "<dir>/<account>.json", and writes new files atomically (0600 temp file, fsync, rename without
 * replacing, fsync of the directory). Start-up and CLI only: blocking I/O, any single thread. File
 * text that holds a secret is read into sodium_malloc memory and wiped; keypairs handed out are
 * owned by the caller. A key file is read only when nf_secfile's checks pass (not a symlink,
 * owned by this user, mode 0600 or stricter, in a directory group and others cannot write), and
 * the credentials directory itself must not be writable by group or others. */
#include "keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "nf_err.h"
#include "nf_secfile.h"

/* A credential file is ~250 bytes; anything this large is not one. */
#define KEYS_FILE_MAX 65536

static void kf_err(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void kf_err(char *err, size_t errcap, const char *fmt, ...)
{
    if (err == NULL || errcap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}

int keys_load_file(
    const char *path, char *account, size_t cap, struct nf_keypair **out, char *err, size_t errcap)
{
    if (sodium_init() < 0) { /* idempotent; sodium_malloc below needs it */
        kf_err(err, errcap, "key file %s: libsodium failed to initialise", path);
        return NF_ECRYPTO;
    }
    /* O_NONBLOCK: a FIFO planted at the path must not hang start-up; it fails S_ISREG. The
     * checks run on the open descriptor (fstat): the file checked is the file read. */
    struct stat st;
    int rc = 0;
    int fd = nf_secfile_open(path, O_RDONLY | O_NONBLOCK, 0, "key file", &st, &rc, err, errcap);
    if (fd == -1)
        return rc;
    if (st.st_size > KEYS_FILE_MAX) {
        close(fd);
        kf_err(err, errcap, "key file %s is too large (%lld bytes) to be a credential file", path,
               (long long)st.st_size);
        return NF_EINVAL;
    }
    char *buf = sodium_malloc(KEYS_FILE_MAX + 1);
    if (buf == NULL) {
        close(fd);
        kf_err(err, errcap, "key file %s: out of secure memory", path);
        return NF_ENOMEM;
    }
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, KEYS_FILE_MAX + 1 - len);
        if (r == -1) {
            int e = errno;
            if (e == EINTR)
                continue;
            kf_err(err, errcap, "key file %s: read failed: %s", path, strerror(e));
            rc = NF_EIO;
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > KEYS_FILE_MAX) {
            kf_err(err, errcap, "key file %s is too large to be a credential file", path);
            rc = NF_EINVAL;
            break;
        }
    }
    close(fd);
    if (rc == 0) {
        char why[256];
        why[0] = '\0';
        rc = keys_parse_credential_json(buf, len, account, cap, out, why, sizeof(why));
        if (rc != 0)
            kf_err(err, errcap, "key file %s: %s", path, why);
    }
    sodium_free(buf); /* wipes the secret text */
    return rc;
}

/* ---- keys_load_account -------------------------------------------------------------------- */

struct kf_set {
    struct nf_keypair **kps;
    char (*text)[KEYS_PUBKEY_STR_MAX]; /* public key text of kps[i], the sort key */
    size_t n, cap;
};

static void kf_set_free(struct kf_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        keys_free(set->kps[i]);
    free(set->kps);
    free(set->text);
    memset(set, 0, sizeof(*set));
}

/* kf_set_add: takes kp; drops it when its public key is already in the set. */
static int kf_set_add(struct kf_set *set, struct nf_keypair *kp)
{
    for (size_t i = 0; i < set->n; i++) {
        if (keys_pubkey_equal(keys_public(set->kps[i]), keys_public(kp))) {
            keys_free(kp);
            return 0;
        }
    }
    if (set->n == set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 8;
        struct nf_keypair **nk = realloc(set->kps, ncap * sizeof(*nk));
        if (nk == NULL) {
            keys_free(kp);
            return NF_ENOMEM;
        }
        set->kps = nk;
        char(*nt)[KEYS_PUBKEY_STR_MAX] = realloc(set->text, ncap * sizeof(*nt));
        if (nt == NULL) {
            keys_free(kp);
            return NF_ENOMEM;
        }
        set->text = nt;
        set->cap = ncap;
    }
    if (keys_pubkey_format(keys_public(kp), set->text[set->n], KEYS_PUBKEY_STR_MAX) < 0) {
        keys_free(kp);
        return NF_EINVAL;
    }
    set->kps[set->n++] = kp;
    return 0;
}

/* kf_load_into: loads path into set and checks the file names the expected account. */
static int
kf_load_into(struct kf_set *set, const char *path, const char *account, char *err, size_t errcap)
{
    char file_account[ACCOUNT_ID_MAX + 1];
    struct nf_keypair *kp = NULL;
    int rc = keys_load_file(path, file_account, sizeof(file_account), &kp, err, errcap);
    if (rc != 0)
        return rc;
    if (strcmp(file_account, account) != 0) {
        keys_free(kp);
        kf_err(err, errcap, "key file %s is for account %s, not %s", path, file_account, account);
        return NF_EINVAL;
    }
    rc = kf_set_add(set, kp);
    if (rc != 0)
        kf_err(err, errcap, "key file %s: %s", path, nf_strerror(rc));
    return rc;
}

static int kf_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int kf_has_json_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* kf_load_dir: every "*.json" file (not starting with '.') of <dir>/<account>/, in name order so
 * errors are reproducible. A missing directory is not an error. */
static int
kf_load_dir(struct kf_set *set, const char *dir, const char *account, char *err, size_t errcap)
{
    char sub[4096];
    if (snprintf(sub, sizeof(sub), "%s/%s", dir, account) >= (int)sizeof(sub)) {
        kf_err(err, errcap, "key directory path too long: %s/%s", dir, account);
        return NF_EINVAL;
    }
    DIR *d = opendir(sub);
    if (d == NULL) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return 0;
        kf_err(err, errcap, "key directory %s: cannot open: %s", sub, strerror(e));
        return NF_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !kf_has_json_suffix(e->d_name))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (nn == NULL) {
                rc = NF_ENOMEM;
                break;
            }
            names = nn;
            cap = ncap;
        }
        names[n] = strdup(e->d_name);
        if (names[n] == NULL) {
            rc = NF_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc != 0)
        kf_err(err, errcap, "key directory %s: out of memory", sub);
    if (rc == 0 && n > 0)
        qsort(names, n, sizeof(*names), kf_cmp_names);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[4096 + 256];
        snprintf(path, sizeof(path), "%s/%s", sub, names[i]);
        rc = kf_load_into(set, path, account, err, errcap);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int keys_load_account(const char *dir,
                      const char *account,
                      struct nf_keypair **kps,
                      size_t max,
                      size_t *n,
                      char *err,
                      size_t errcap)
{
    *n = 0;
    const char *why = NULL;
    if (account_id_check(account, strlen(account), &why) < 0) {
        kf_err(err, errcap, "account id is not a valid NEAR account id (%s)", why);
        return NF_EACCOUNT;
    }
    /* Whoever can write the credentials directory can put a key of theirs in it. A missing
     * directory is reported below as "no key". */
    struct stat ds;
    if (stat(dir, &ds) == 0) {
        int drc = nf_secfile_check_dir(dir, "credentials directory", err, errcap);
        if (drc != 0)
            return drc;
    }
    struct kf_set set = {0};
    int rc = kf_load_dir(&set, dir, account, err, errcap);
    if (rc == 0) {
        char legacy[4096];
        if (snprintf(legacy, sizeof(legacy), "%s/%s.json", dir, account) >= (int)sizeof(legacy)) {
            kf_err(err, errcap, "key file path too long: %s/%s.json", dir, account);
            rc = NF_EINVAL;
        } else {
            rc = kf_load_into(&set, legacy, account, err, errcap);
            if (rc == NF_ENOTFOUND) { /* no legacy file: fine */
                rc = 0;
                kf_err(err, errcap, "%s", "");
            }
        }
    }
    if (rc == 0 && set.n == 0) {
        kf_err(err, errcap, "no key for account %s (looked in %s/%s/*.json and %s/%s.json)",
               account, dir, account, dir, account);
        rc = NF_ENOTFOUND;
    }
    if (rc == 0 && set.n > max) {
        kf_err(err, errcap, "account %s has %zu keys in %s, more than the %zu allowed", account,
               set.n, dir, max);
        rc = NF_ETOOMANY;
    }
    if (rc != 0) {
        kf_set_free(&set);
        return rc;
    }
    /* Insertion sort by public key text: a handful of keys. */
    for (size_t i = 1; i < set.n; i++) {
        for (size_t j = i; j > 0 && strcmp(set.text[j - 1], set.text[j]) > 0; j--) {
            struct nf_keypair *tk = set.kps[j];
            set.kps[j] = set.kps[j - 1];
            set.kps[j - 1] = tk;
            char tt[KEYS_PUBKEY_STR_MAX];
            memcpy(tt, set.text[j], sizeof(tt));
            memcpy(set.text[j], set.text[j - 1], sizeof(tt));
            memcpy(set.text[j - 1], tt, sizeof(tt));
        }
    }
    for (size_t i = 0; i < set.n; i++)
        kps[i] = set.kps[i];
    *n = set.n;
    set.n = 0; /* given to the caller */
    kf_set_free(&set);
    return 0;
}

/* ---- keys_write_file ---------------------------------------------------------------------- */

/* kf_mkdirs: creates path and missing parents with mode 0700 (existing ones are left alone). */
static int kf_mkdirs(const char *path, char *err, size_t errcap)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(tmp)) {
        kf_err(err, errcap, "key directory path empty or too long");
        return NF_EINVAL;
    }
    memcpy(tmp, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char saved = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0700) == -1) {
            int e = errno;
            struct stat st;
            if (e != EEXIST || stat(tmp, &st) == -1 || !S_ISDIR(st.st_mode)) {
                kf_err(err, errcap, "cannot create directory %s: %s", tmp,
                       strerror(e == EEXIST ? ENOTDIR : e));
                return NF_EIO;
            }
        }
        tmp[i] = saved;
    }
    return 0;
}

static int kf_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* kf_same_key_at: 1 when path already holds a credential for account with kp's public key. */
static int kf_same_key_at(const char *path, const char *account, const struct nf_keypair *kp)
{
    char file_account[ACCOUNT_ID_MAX + 1];
    struct nf_keypair *old = NULL;
    if (keys_load_file(path, file_account, sizeof(file_account), &old, NULL, 0) != 0)
        return 0;
    int same =
        strcmp(file_account, account) == 0 && keys_pubkey_equal(keys_public(old), keys_public(kp));
    keys_free(old);
    return same;
}

/* kf_publish: moves tmp to name, both in the directory dfd, without ever replacing an existing
 * file. Returns 0, 1 when name already exists, or -1 with errno. */
static int kf_publish(int dfd, const char *tmp, const char *name)
{
    if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno == EEXIST)
        return 1;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -1;
    /* The filesystem lacks RENAME_NOREPLACE: link() is just as exclusive. */
    if (linkat(dfd, tmp, dfd, name, 0) == 0) {
        unlinkat(dfd, tmp, 0);
        return 0;
    }
    return errno == EEXIST ? 1 : -1;
}

/* What the steps of keys_write_file share: the names it builds, the checked directory it writes
 * into and where its messages go. Lives on keys_write_file's stack; no secret is kept here. */
struct kf_write {
    const char *account;         /* borrowed from the caller */
    const struct nf_keypair *kp; /* borrowed from the caller */
    int legacy;
    char pub[KEYS_PUBKEY_STR_MAX];
    char parent[4096];     /* the directory the file goes in */
    char path[4096 + 128]; /* the file's full path */
    char tmp[4096 + 192];  /* the temp file's name in dfd */
    const char *name;      /* the file's name in dfd, borrowed from path */
    int dfd;               /* parent opened by nf_secfile_open_dir, or -1 */
    char *err;
    size_t errcap;
};

/* kf_write_names: checks w->account, formats the public key and builds w->parent and w->path
 * under dir (borrowed until return); copies the path to path_out (cap bytes, may be NULL).
 * 0, NF_EACCOUNT, NF_EINVAL or NF_ENOSPC with the message filled. */
static int kf_write_names(struct kf_write *w, const char *dir, char *path_out, size_t cap)
{
    const char *why = NULL;
    if (account_id_check(w->account, strlen(w->account), &why) < 0) {
        kf_err(w->err, w->errcap, "account id is not a valid NEAR account id (%s)", why);
        return NF_EACCOUNT;
    }
    if (keys_pubkey_format(keys_public(w->kp), w->pub, sizeof(w->pub)) < 0) {
        kf_err(w->err, w->errcap, "cannot format public key");
        return NF_EINVAL;
    }
    int pn = w->legacy ? snprintf(w->parent, sizeof(w->parent), "%s", dir)
                       : snprintf(w->parent, sizeof(w->parent), "%s/%s", dir, w->account);
    if (pn < 0 || (size_t)pn >= sizeof(w->parent)) {
        kf_err(w->err, w->errcap, "key directory path too long");
        return NF_EINVAL;
    }
    /* near-cli-rs names the file after the key with ':' replaced by '_'. */
    if (w->legacy)
        snprintf(w->path, sizeof(w->path), "%s/%s.json", w->parent, w->account);
    else
        snprintf(w->path, sizeof(w->path), "%s/ed25519_%s.json", w->parent, w->pub + 8);
    if (path_out != NULL) {
        if (strlen(w->path) + 1 > cap) {
            kf_err(w->err, w->errcap, "path buffer too small for %s", w->path);
            return NF_ENOSPC;
        }
        memcpy(path_out, w->path, strlen(w->path) + 1);
    }
    return 0;
}

/* kf_write_open_dir: creates the missing directories and opens w->parent through
 * nf_secfile_open_dir into w->dfd (owned by w afterwards), setting w->name. dir is borrowed
 * until return. 0 or an NF_E* code with the message filled (w->dfd stays -1). */
static int kf_write_open_dir(struct kf_write *w, const char *dir)
{
    /* The key is written through the directory the loader will check, opened through its checked
     * parents: a directory others could write (or replace) is refused before the secret exists
     * anywhere, and a directory swapped after the check is not the one written into. The
     * credentials directory of the near-cli-rs layout is checked as keys_load_account does,
     * before the account directory is made in it. */
    int rc = kf_mkdirs(dir, w->err, w->errcap);
    if (rc != 0)
        return rc;
    if (!w->legacy &&
        (rc = nf_secfile_check_dir(dir, "credentials directory", w->err, w->errcap)) != 0)
        return rc;
    if (!w->legacy && (rc = kf_mkdirs(w->parent, w->err, w->errcap)) != 0)
        return rc;
    w->dfd = nf_secfile_open_dir(w->path, "key file", &w->name, &rc, w->err, w->errcap);
    if (w->dfd == -1)
        return rc;
    return 0;
}

/* kf_write_text: formats the credential JSON into text (text_cap bytes of sodium_malloc memory)
 * using secret (KEYS_SECRET_STR_MAX bytes of sodium_malloc memory) as scratch; either may be NULL
 * when its allocation failed. Both stay the caller's. Sets *len. 0, NF_ENOMEM or NF_EINVAL. */
static int kf_write_text(struct kf_write *w, char *text, size_t text_cap, char *secret, size_t *len)
{
    if (text == NULL || secret == NULL) {
        kf_err(w->err, w->errcap, "out of secure memory");
        return NF_ENOMEM;
    }
    if (keys_secret_format(w->kp, secret, KEYS_SECRET_STR_MAX) < 0) {
        kf_err(w->err, w->errcap, "cannot format secret key");
        return NF_EINVAL;
    }
    /* account passed account_id_check and the keys are base58: nothing needs JSON escaping. */
    int tn = snprintf(text, text_cap,
                      "{\"account_id\":\"%s\",\"public_key\":\"%s\",\"private_key\":\"%s\"}\n",
                      w->account, w->pub, secret);
    if (tn < 0 || (size_t)tn >= text_cap) {
        kf_err(w->err, w->errcap, "credential text too long");
        return NF_EINVAL;
    }
    *len = (size_t)tn;
    return 0;
}

/* kf_write_temp: writes text (len bytes, borrowed until return) to a new 0600 temp file w->tmp in
 * w->dfd and fsyncs it; on failure the temp file is removed. 0 or NF_EIO. */
static int kf_write_temp(struct kf_write *w, const char *text, size_t len)
{
    uint32_t rnd = randombytes_random();
    snprintf(w->tmp, sizeof(w->tmp), "%s.tmp.%ld.%08x", w->name, (long)getpid(), (unsigned)rnd);
    int fd = openat(w->dfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd == -1) {
        int e = errno;
        kf_err(w->err, w->errcap, "cannot create %s/%s: %s", w->parent, w->tmp, strerror(e));
        return NF_EIO;
    }
    /* The umask can only remove bits; fchmod makes 0600 exact whatever it is. */
    if (fchmod(fd, 0600) == -1 || kf_write_all(fd, text, len) == -1 || fsync(fd) == -1) {
        int e = errno;
        close(fd);
        unlinkat(w->dfd, w->tmp, 0);
        kf_err(w->err, w->errcap, "cannot write %s/%s: %s", w->parent, w->tmp, strerror(e));
        return NF_EIO;
    }
    if (close(fd) == -1) {
        int e = errno;
        unlinkat(w->dfd, w->tmp, 0);
        kf_err(w->err, w->errcap, "cannot write %s/%s: %s", w->parent, w->tmp, strerror(e));
        return NF_EIO;
    }
    return 0;
}

/* kf_write_existing: w->path already exists (the temp file is gone). Writing the same key again
 * is a no-op (0); another key there is never overwritten (NF_ESTATE, message filled). */
static int kf_write_existing(struct kf_write *w)
{
    if (kf_same_key_at(w->path, w->account, w->kp))
        return 0;
    kf_err(w->err, w->errcap, "%s already exists and holds another key; not overwriting it",
           w->path);
    return NF_ESTATE;
}

/* kf_write_publish: moves the temp file w->tmp to w->name in w->dfd without replacing anything,
 * then fsyncs w->dfd. 0 (also when the same key was already there), NF_ESTATE or NF_EIO. */
static int kf_write_publish(struct kf_write *w)
{
    int pr = kf_publish(w->dfd, w->tmp, w->name);
    if (pr != 0) {
        int e = errno;
        unlinkat(w->dfd, w->tmp, 0);
        if (pr == 1)
            return kf_write_existing(w);
        kf_err(w->err, w->errcap, "cannot rename %s/%s to %s: %s", w->parent, w->tmp, w->path,
               strerror(e));
        return NF_EIO;
    }
    if (fsync(w->dfd) == -1) {
        int e = errno;
        kf_err(w->err, w->errcap, "cannot fsync directory %s: %s", w->parent, strerror(e));
        return NF_EIO;
    }
    return 0;
}

int keys_write_file(const char *dir,
                    const char *account,
                    const struct nf_keypair *kp,
                    int legacy,
                    char *path_out,
                    size_t cap,
                    char *err,
                    size_t errcap)
{
    struct kf_write w = {
        .account = account, .kp = kp, .legacy = legacy, .dfd = -1, .err = err, .errcap = errcap};
    int rc = kf_write_names(&w, dir, path_out, cap);
    if (rc != 0)
        return rc;
    if (sodium_init() < 0) {
        kf_err(err, errcap, "libsodium failed to initialise");
        return NF_ECRYPTO;
    }
    rc = kf_write_open_dir(&w, dir);
    if (rc != 0)
        return rc;
    /* The file text holds the secret: build it in guarded memory. */
    size_t text_cap = 512, len = 0;
    char *text = sodium_malloc(text_cap);
    char *secret = sodium_malloc(KEYS_SECRET_STR_MAX);
    rc = kf_write_text(&w, text, text_cap, secret, &len);
    if (rc == 0)
        rc = kf_write_temp(&w, text, len);
    if (rc == 0)
        rc = kf_write_publish(&w);
    close(w.dfd);
    sodium_free(text); /* sodium_free wipes; NULL-safe */
    sodium_free(secret);
    return rc;
}
