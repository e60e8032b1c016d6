/* sign: the sign stage (see src/sign/sign.c): --sign-threads threads, each owning a disjoint shard
 * of the signer's keys and their nonce counters. Lifecycle: sign_new -> sign_start -> sign_stop
 * (idempotent) -> sign_free (NULL-safe). */
#ifndef NF_SIGN_H
#define NF_SIGN_H

#include <stdint.h>

struct cfg;
struct nf_pipe;
struct sign_stage;

struct sign_stats {
    uint64_t held;   /* batches waiting for a key with room, a block hash, or un-pausing */
    uint64_t errors; /* batches that could not be signed (encoding limits) */
};

/* sign_new: borrows c and p for the stage's life. NULL with *err on failure. */
struct sign_stage *sign_new(const struct cfg *c, struct nf_pipe *p, int *err);
int sign_start(struct sign_stage *st);
void sign_stop(struct sign_stage *st);
void sign_free(struct sign_stage *st);
/* sign_stats: any thread (relaxed reads). */
void sign_stats(struct sign_stage *st, struct sign_stats *out);

#endif
