/* status_page: pipe_recent_json, the /debug/recent answer the status page (GET /) polls: the hub's
 * transfer counters and its struct recent (include/recent.h). Any thread: relaxed reads of
 * counters and seqlocked copies of the failure entries; writes only into the caller's buffer. */
#include <stdatomic.h>

#include "jw.h"
#include "nf_time.h"
#include "pipeline.h"
#include "pipeline_int.h"
#include "recent.h"

int pipe_recent_json(struct nf_pipe *p, char *out, size_t cap)
{
    struct jw w;
    jw_init_fixed(&w, out, cap);
    jw_obj_begin(&w);
    jw_key(&w, "now_ms");
    jw_u64(&w, nf_now_ms());
    jw_key(&w, "started_ms");
    jw_u64(&w, p->start_ms);
    jw_key(&w, "transfers");
    jw_obj_begin(&w);
    jw_key(&w, "accepted");
    jw_u64(&w, atomic_load_explicit(&p->accepted, memory_order_relaxed));
    jw_key(&w, "executed");
    jw_u64(&w, atomic_load_explicit(&p->executed, memory_order_relaxed));
    jw_key(&w, "failed");
    jw_u64(&w, atomic_load_explicit(&p->failed, memory_order_relaxed));
    jw_key(&w, "requeued");
    jw_u64(&w, atomic_load_explicit(&p->requeued, memory_order_relaxed));
    jw_obj_end(&w);
    recent_json(&p->recent, &w);
    jw_obj_end(&w);
    size_t len;
    int rc = jw_finish(&w, &len);
    return rc ? rc : (int)len;
}
