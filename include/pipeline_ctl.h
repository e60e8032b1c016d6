/* pipeline_ctl: how main builds, starts and stops the pipeline (include/pipeline.h is what ingest
 * sees of it). Main thread only. */
#ifndef NF_PIPELINE_CTL_H
#define NF_PIPELINE_CTL_H

#include <stdint.h>

#include "keys.h"
#include "pipeline.h"
#include "u128.h"

struct cfg;

/* What the caller lends pipe_new besides the configuration. */
struct pipe_hooks {
    /* standby: NULL, or called (with standby_arg) on pipe_new's thread every --cluster-lease-ms / 8
     * while a cluster instance waits as a standby for the log's lease, with the API address the
     * holder advertises ("" when none is known; wal_js_opts.standby) */
    void (*standby)(void *arg, const char *holder_addr);
    void *standby_arg;
};

/* pipe_new: builds every stage and ring, replays the log in c->data_dir (jobs, idempotency keys,
 * unresolved signed transactions) and opens a new log segment. Takes ownership of kps[0..n_keys)
 * (the key pool frees them). n_ingest = number of ingest threads (reply rings, WAL producers).
 * Borrows c for the pipeline's life. token_budgets (may be NULL; borrowed for the pipeline's
 * life) holds the windows of the bearer tokens with their own max_amount_per_hour or
 * max_amount_per_day: the replay counts each ACCEPT record that names one of them into its
 * windows. hooks may be NULL. NULL with
 * *err on failure (the keys are freed then). */
struct spend_tokens;
struct nf_pipe *pipe_new(const struct cfg *c,
                         struct nf_keypair **kps,
                         uint16_t n_keys,
                         unsigned n_ingest,
                         struct spend_tokens *token_budgets,
                         const struct pipe_hooks *hooks,
                         int *err);
/* pipe_key_nonce_at_least: before pipe_start: the chain's ak_nonce + 1 for key index key. */
void pipe_key_nonce_at_least(struct nf_pipe *p, uint16_t key, uint64_t next);
/* pipe_compact: rotates a long-lived log segment and deletes segments that hold nothing a live
 * transfer needs and are older than --retention-hours. Main thread, every --compact-interval-ms. */
void pipe_compact(struct nf_pipe *p);
/* pipe_cluster_fenced: 1 in cluster mode once the log refuses writes for good (another instance
 * appended to the stream, or took the log's lease), else 0. Any thread. */
int pipe_cluster_fenced(struct nf_pipe *p);
/* pipe_cluster_advertise: in cluster mode, the API address ("HOST:PORT") other instances'
 * relays reach this one at, written into the log's lease (wal_js_advertise). 0, or NF_ECONFIG
 * (not in cluster mode, or an address the lease cannot carry). Main thread. */
int pipe_cluster_advertise(struct nf_pipe *p, const char *addr);
/* pipe_set_ft_supply: before pipe_start: the token's total supply (ft_total_supply). */
void pipe_set_ft_supply(struct nf_pipe *p, nf_u128 supply);
/* pipe_start: starts the WAL, batch, sign and submit threads. 0 or a negative nf_err. */
int pipe_start(struct nf_pipe *p);
/* pipe_drain: stops new accepts and waits up to max_ms for in-flight transactions to resolve
 * (whatever is left is durable and resumes at the next start). */
void pipe_drain(struct nf_pipe *p, uint64_t max_ms);
/* pipe_stop: stops the stage threads (idempotent); the WAL syncs what it holds. */
void pipe_stop(struct nf_pipe *p);
/* pipe_free: NULL-safe. */
void pipe_free(struct nf_pipe *p);

#endif
