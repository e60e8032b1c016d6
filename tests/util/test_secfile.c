/* test_secfile: nf_secfile_open reads only through the directories it checked. While another
 * thread keeps exchanging a safe directory with one that others may write (renameat2
 * RENAME_EXCHANGE, so the path always exists), every open either is refused naming the writable
 * directory or returns the file of the safe one, never the other's; with the swapping stopped the
 * safe file opens. Also: a directory of the path that is a symbolic link is followed and checked
 * as its target; a name that ends in '/' is not a file; in a directory others may write nothing is
 * opened (a FIFO there does not block) or created, though a missing file is reported as such;
 * nf_secfile_open_dir gives the checked directory to write into, or refuses it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nf_err.h"
#include "nf_secfile.h"
#include "nf_test.h"

#define OPENS 4000

static char good_dir[300], evil_dir[300];
static atomic_int stop_swap;
static atomic_int swaps;

static atomic_int swap_errno;

static void *swapper(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_swap)) {
        if (renameat2(AT_FDCWD, good_dir, AT_FDCWD, evil_dir, RENAME_EXCHANGE) != 0) {
            atomic_store(&swap_errno, errno);
            break;
        }
        atomic_fetch_add(&swaps, 1);
    }
    return NULL;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_EQ_INT((int)write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
}

/* open_read: nf_secfile_open(path) and up to 15 bytes of the file into out; the open's rc. */
static int open_read(const char *path, char out[16], char *err, size_t errcap)
{
    struct stat st;
    int rc = 0;
    out[0] = '\0';
    int fd = nf_secfile_open(path, O_RDONLY, 0, "key file", &st, &rc, err, errcap);
    if (fd < 0)
        return rc;
    ssize_t n = read(fd, out, 15);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    return 0;
}

static void test_swapped_dir(const char *base)
{
    char good_file[400], evil_file[400], buf[16], err[1024];
    snprintf(good_dir, sizeof(good_dir), "%s/keys", base);
    snprintf(evil_dir, sizeof(evil_dir), "%s/open", base);
    snprintf(good_file, sizeof(good_file), "%s/secret", good_dir);
    snprintf(evil_file, sizeof(evil_file), "%s/secret", evil_dir);
    CHECK_EQ_INT(mkdir(good_dir, 0700), 0);
    CHECK_EQ_INT(mkdir(evil_dir, 0700), 0);
    write_file(good_file, "good");
    write_file(evil_file, "evil");
    CHECK_EQ_INT(chmod(evil_dir, 0777), 0); /* others may put a file of their choice there */
    CHECK_EQ_INT(open_read(good_file, buf, err, sizeof(err)), 0);
    CHECK_EQ_STR(buf, "good");
    CHECK_EQ_INT(open_read(evil_file, buf, err, sizeof(err)), NF_EPERM);

    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, swapper, NULL), 0);
    /* The opens start once the swapping has (bounded: the thread swaps or fails at once). */
    for (int i = 0; i < 5000 && atomic_load(&swaps) == 0 && atomic_load(&swap_errno) == 0; i++)
        usleep(1000);
    int e = atomic_load(&swap_errno);
    if (e == EINVAL || e == ENOSYS) {
        atomic_store(&stop_swap, 1);
        pthread_join(t, NULL);
        printf("SKIP test_secfile: this filesystem cannot exchange two directories (%s)\n",
               strerror(e));
        goto out;
    }
    CHECK_EQ_INT(e, 0);
    CHECK(atomic_load(&swaps) > 0);
    int read_good = 0, refused = 0, wrong = 0, other = 0;
    for (int i = 0; i < OPENS; i++) {
        int rc = open_read(good_file, buf, err, sizeof(err));
        if (rc == 0 && strcmp(buf, "good") == 0)
            read_good++;
        else if (rc == 0)
            wrong++;
        else if (rc == NF_EPERM && strstr(err, "writable by group or others") != NULL)
            refused++;
        else
            other++;
    }
    atomic_store(&stop_swap, 1);
    pthread_join(t, NULL);
    printf("test_secfile: %d opens while %d swaps: %d read the safe file, %d refused, %d other\n",
           OPENS, atomic_load(&swaps), read_good, refused, other);
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(other, 0);
    /* Put the safe directory back under its name (an odd number of swaps exchanged them). */
    struct stat st;
    CHECK_EQ_INT(stat(good_dir, &st), 0);
    if ((st.st_mode & 0777) == 0777)
        CHECK_EQ_INT(renameat2(AT_FDCWD, good_dir, AT_FDCWD, evil_dir, RENAME_EXCHANGE), 0);
    CHECK_EQ_INT(open_read(good_file, buf, err, sizeof(err)), 0);
    CHECK_EQ_STR(buf, "good");
out:
    unlink(good_file);
    unlink(evil_file);
    rmdir(good_dir);
    rmdir(evil_dir);
}

static void test_paths(const char *base)
{
    char dir[300], link[300], via[400], file[400], slash[400], buf[16], err[1024];
    snprintf(dir, sizeof(dir), "%s/real", base);
    snprintf(link, sizeof(link), "%s/link", base);
    snprintf(file, sizeof(file), "%s/k", dir);
    snprintf(via, sizeof(via), "%s/k", link);
    snprintf(slash, sizeof(slash), "%s/", dir);
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    CHECK_EQ_INT(symlink(dir, link), 0);
    write_file(file, "k1");
    CHECK_EQ_INT(open_read(via, buf, err, sizeof(err)), 0);
    CHECK_EQ_STR(buf, "k1");
    CHECK_EQ_INT(chmod(dir, 0770), 0); /* the link's target is what is checked */
    CHECK_EQ_INT(open_read(via, buf, err, sizeof(err)), NF_EPERM);
    CHECK(strstr(err, dir) != NULL && strstr(err, "writable by group or others") != NULL);
    CHECK_EQ_INT(chmod(dir, 0700), 0);
    CHECK_EQ_INT(open_read(slash, buf, err, sizeof(err)), NF_EINVAL);
    CHECK(strstr(err, "names a directory, not a file") != NULL);
    /* In a directory others may write the file is not opened at all: a FIFO planted there does
     * not block the open (it would wait for a writer), and O_CREAT creates nothing. */
    char fifo[400], created[400];
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    snprintf(created, sizeof(created), "%s/new", dir);
    CHECK_EQ_INT(mkfifo(fifo, 0600), 0);
    CHECK_EQ_INT(chmod(dir, 0777), 0);
    struct stat st;
    int rc = 0;
    CHECK_EQ_INT(nf_secfile_open(fifo, O_RDONLY, 0, "key file", &st, &rc, err, sizeof(err)), -1);
    CHECK_EQ_INT(rc, NF_EPERM);
    CHECK(strstr(err, "writable by group or others") != NULL);
    CHECK_EQ_INT(
        nf_secfile_open(created, O_RDWR | O_CREAT, 0600, "key file", &st, &rc, err, sizeof(err)),
        -1);
    CHECK_EQ_INT(rc, NF_EPERM);
    CHECK(access(created, F_OK) != 0);
    /* A missing file is still reported as missing first. */
    snprintf(created, sizeof(created), "%s/none", dir);
    CHECK_EQ_INT(open_read(created, buf, err, sizeof(err)), NF_ENOTFOUND);
    CHECK_EQ_INT(chmod(dir, 0700), 0);
    unlink(fifo);
    char missing[400];
    snprintf(missing, sizeof(missing), "%s/none/k", base);
    CHECK_EQ_INT(open_read(missing, buf, err, sizeof(err)), NF_ENOTFOUND);
    unlink(file);
    unlink(link);
    rmdir(dir);
}

/* nf_secfile_open_dir: the checked directory as a real descriptor (a file made through it lands
 * in it) and the file name; a directory others may write or a missing one is refused. */
static void test_open_dir(const char *base)
{
    char dir[300], path[400], err[1024];
    snprintf(dir, sizeof(dir), "%s/wdir", base);
    snprintf(path, sizeof(path), "%s/key.json", dir);
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    const char *name = NULL;
    int rc = 0;
    int dfd = nf_secfile_open_dir(path, "key file", &name, &rc, err, sizeof(err));
    CHECK(dfd >= 0);
    if (dfd >= 0) {
        CHECK_EQ_STR(name, "key.json");
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
        CHECK(fd >= 0);
        if (fd >= 0)
            close(fd);
        CHECK_EQ_INT(fsync(dfd), 0); /* a real descriptor, not O_PATH */
        close(dfd);
    }
    CHECK_EQ_INT(access(path, F_OK), 0);
    unlink(path);
    CHECK_EQ_INT(chmod(dir, 0777), 0);
    CHECK_EQ_INT(nf_secfile_open_dir(path, "key file", &name, &rc, err, sizeof(err)), -1);
    CHECK_EQ_INT(rc, NF_EPERM);
    CHECK(strstr(err, dir) != NULL && strstr(err, "writable by group or others") != NULL);
    CHECK_EQ_INT(chmod(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/none/key.json", dir);
    CHECK_EQ_INT(nf_secfile_open_dir(path, "key file", &name, &rc, err, sizeof(err)), -1);
    CHECK_EQ_INT(rc, NF_ENOTFOUND);
    rmdir(dir);
}

int main(void)
{
    char base[] = "/tmp/nf-test-secfile.XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    test_swapped_dir(base);
    test_paths(base);
    test_open_dir(base);
    rmdir(base);
    return nf_test_report("test_secfile");
}
