/* wal_js_stub: the JetStream backend of a build without libnats (include/wal_js.h): every call
 * reports that cluster mode is not compiled in. Start-up thread only; owns nothing. */
#include "wal_js.h"

#include <stdio.h>

#include "nf_err.h"

int wal_js_build_has_nats(void)
{
    return 0;
}

int wal_js_new(const struct wal_js_opts *o, struct wal_js **out)
{
    (void)o;
    *out = NULL;
    fprintf(stderr, "lvl=error mod=wal_js msg=\"cluster mode needs libnats at build time "
                    "(libnats-dev); this nearftd was built without it\"\n");
    return NF_ECONFIG;
}

int wal_js_replay(struct wal_js *j,
                  int (*cb)(const struct wal_rec *rec, void *ctx),
                  void *ctx,
                  struct wal_replay_stats *stats)
{
    (void)j;
    (void)cb;
    (void)ctx;
    (void)stats;
    return NF_ECONFIG;
}

uint64_t wal_js_next_segment(const struct wal_js *j)
{
    (void)j;
    return 1;
}

size_t wal_js_max_message(const struct wal_js *j)
{
    (void)j;
    return 0;
}

int wal_js_advertise(struct wal_js *j, const char *addr)
{
    (void)j;
    (void)addr;
    return NF_ECONFIG;
}

int wal_js_publish_denied(const struct wal_js *j)
{
    (void)j;
    return 0;
}

int wal_js_lease_lost(const struct wal_js *j)
{
    (void)j;
    return 0;
}

int wal_js_append(
    struct wal_js *j, uint64_t seg, const uint8_t *data, size_t len, const _Atomic int *stop)
{
    (void)j;
    (void)seg;
    (void)data;
    (void)len;
    (void)stop;
    return NF_EIO;
}

int wal_js_purge_before(struct wal_js *j, uint64_t before)
{
    (void)j;
    (void)before;
    return 0;
}

void wal_js_free(struct wal_js *j)
{
    (void)j;
}
