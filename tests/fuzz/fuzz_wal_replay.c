/* fuzz_wal_replay: wal_replay over arbitrary segment contents. The first input byte chooses one
 * segment or two (split at an offset taken from the next two bytes), the rest is file content,
 * written into a private temp directory. Replay must not crash; when it succeeds, a second
 * replay must succeed with the same records and nothing left to truncate. Single-threaded. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void cleanup(void)
{
    for (int s = 1; s <= 2; s++) {
        char p[128];
        snprintf(p, sizeof(p), "%s/wal-%016x.log", dir, s);
        unlink(p);
    }
    rmdir(dir);
}

static int write_seg(int seq, const uint8_t *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/wal-%016x.log", dir, seq);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd == -1)
        return -1;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, p + off, n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    return off == n ? 0 : -1;
}

static int count_cb(const struct wal_rec *rec, void *ctx)
{
    uint64_t *n = ctx;
    *n += 1 + rec->type;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[0] == '\0') {
        char tmpl[] = "/tmp/fuzz_wal_replay.XXXXXX";
        if (mkdtemp(tmpl) == NULL)
            abort();
        snprintf(dir, sizeof(dir), "%s", tmpl);
        atexit(cleanup);
    }
    if (size < 3)
        return 0;
    int two = data[0] & 1;
    size_t split = ((size_t)data[1] | (size_t)data[2] << 8) % (size - 2);
    data += 3;
    size -= 3;
    char p2[128];
    snprintf(p2, sizeof(p2), "%s/wal-%016x.log", dir, 2);
    unlink(p2);
    if (two) {
        if (write_seg(1, data, split) != 0 || write_seg(2, data + split, size - split) != 0)
            abort();
    } else if (write_seg(1, data, size) != 0) {
        abort();
    }
    static struct wal_replay_stats st, st2;
    uint64_t n1 = 0, n2 = 0;
    int rc = wal_replay(dir, count_cb, &n1, &st);
    if (rc == 0) {
        if (wal_replay(dir, count_cb, &n2, &st2) != 0 || n1 != n2 || st2.truncated_bytes != 0 ||
            st.records != st2.records)
            abort();
    }
    return 0;
}
