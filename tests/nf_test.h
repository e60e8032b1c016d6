/* nf_test: a minimal assertion kit for the unit tests. Each test executable calls NF_TEST_MAIN
 * style helpers and ends with nf_test_report(), which prints "N passed, N failed" and returns the
 * exit code. Single-threaded use only. */
#ifndef NF_TEST_H
#define NF_TEST_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int nf_test_passed, nf_test_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            nf_test_passed++;                                                                      \
        } else {                                                                                   \
            nf_test_failed++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ == vb_) {                                                                          \
            nf_test_passed++;                                                                      \
        } else {                                                                                   \
            nf_test_failed++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s = %lld, %s = %lld\n", __FILE__,        \
                    __LINE__, #a, va_, #b, vb_);                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (sa_ != NULL && sb_ != NULL && strcmp(sa_, sb_) == 0) {                                 \
            nf_test_passed++;                                                                      \
        } else {                                                                                   \
            nf_test_failed++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ_STR failed:\n  %s = \"%s\"\n  %s = \"%s\"\n",         \
                    __FILE__, __LINE__, #a, sa_ ? sa_ : "(null)", #b, sb_ ? sb_ : "(null)");       \
        }                                                                                          \
    } while (0)

static inline int nf_test_report(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, nf_test_passed, nf_test_failed);
    return nf_test_failed ? 1 : 0;
}

/* nf_test_rmdir: removes dir and the files in it (a test's temporary directory; no subfolders). */
static inline void nf_test_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            char path[512];
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

#endif
