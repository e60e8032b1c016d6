/* test_secfile: nf_secfile_open reads only through the directories it checked. While another
 * thread keeps exchanging a safe directory with one that others may write (renameat2
 * RENAME_EXCHANGE, so the path always exists), every open either is refused naming the writable
 * directory or returns the file of the safe one, never the other's; with the swapping stopped the
 * safe file opens. Also: a directory of the path that is a symbolic link is followed and checked
 * as its target, and a name that ends in '/' is not a file. */
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

static void *swapper(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_swap)) {
        if (renameat2(AT_FDCWD, good_dir, AT_FDCWD, evil_dir, RENAME_EXCHANGE) != 0)
            break;
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
    CHECK(strstr(err, "not a file name") != NULL);
    char missing[400];
    snprintf(missing, sizeof(missing), "%s/none/k", base);
    CHECK_EQ_INT(open_read(missing, buf, err, sizeof(err)), NF_ENOTFOUND);
    unlink(file);
    unlink(link);
    rmdir(dir);
}

int main(void)
{
    char base[] = "/tmp/nf-test-secfile.XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    test_swapped_dir(base);
    test_paths(base);
    rmdir(base);
    return nf_test_report("test_secfile");
}
