/* fuzz_procstat: procstat_parse_stat on any bytes must return 0 or a negative error without
 * reading past the input; when it accepts a line, the same fields printed back after a plain
 * command name parse to the same values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procstat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan catches a read past the end. */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        abort();
    memcpy(buf, data, size);
    struct procstat_stat st;
    int rc = procstat_parse_stat(buf, size, &st);
    if (rc > 0)
        abort();
    if (rc == 0) {
        char line[512];
        int n = snprintf(line, sizeof(line),
                         "1 (c) S 0 0 0 0 0 0 0 0 0 0 %llu %llu 0 0 0 0 0 0 %llu %llu %llu\n",
                         (unsigned long long)st.utime_ticks, (unsigned long long)st.stime_ticks,
                         (unsigned long long)st.starttime_ticks, (unsigned long long)st.vsize_bytes,
                         (unsigned long long)st.rss_pages);
        struct procstat_stat again;
        if (n <= 0 || procstat_parse_stat(line, (size_t)n, &again) != 0 ||
            memcmp(&st, &again, sizeof(st)) != 0)
            abort();
    }
    free(buf);
    return 0;
}
