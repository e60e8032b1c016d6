/* sim_faults: nearsim's run-time fault settings and the parser of POST /sim/faults bodies. Pure:
 * no I/O, no clock, no threads, so the unit test and the fuzz target call it without a server.
 * The server's event-loop thread owns the fault state; the chain is the caller's. */
#ifndef NF_SIM_FAULTS_H
#define NF_SIM_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "sim_cfg.h"
#include "sim_chain.h"

/* A second writer of one access key (another process signing with it): every every_blocks
 * blocks the key's nonce goes up by bump. */
struct sim_ext_writer {
    int active;
    char account[SIM_ACCOUNT_MAX + 1];
    struct nf_pubkey pk;
    uint64_t every_blocks; /* >= 1 */
    uint64_t bump;         /* >= 1 */
    uint64_t counter;      /* blocks since the last bump */
};

/* The fault settings the server keeps next to the chain's own fault fields
 * (forced_congestion, forced_missed_chunks, lag_blocks, bad_sig_key*, reject_next_*). */
struct sim_fault_state {
    struct sim_faults faults;     /* rates, latency, rate limit, congestion */
    struct sim_ext_writer writer; /* writer.active == 0: none */
    uint64_t stall_until_ns;      /* CLOCK_REALTIME: no block before this (0: no stall) */
};

/* sim_faults_apply: parses body (len bytes, a JSON object; its fields are described in
 * sim_faults.c, docs/ERRORS.md names the tests using each) and applies it to st and chain. now_ns
 * is CLOCK_REALTIME, the start of a stall. An account_id left out means chain->cfg.signer. Returns
 * NULL when the body was accepted, or a static error text (no quote, no backslash, under 100 bytes,
 * ready to sit in a JSON string) naming the first refused field.
 *
 * Not all-or-nothing (the behaviour of nearsim's POST /sim/faults, kept as it was). Fields are
 * checked in this order, the first bad one is the error: reset, error_rate, lost_ack_rate,
 * congestion, latency_ms, jitter_ms, rate_limit, error_kind, stall_seconds, stall_ms,
 * external_writer, bump_nonce, set_balance, storage_usage, missed_chunks, lag_blocks,
 * invalid_signature_key, reject_next, move_tokens.
 * - Staged, changed only when the whole body is accepted: st->faults, st->writer (except as
 *   below), st->stall_until_ns (except as below) and chain->forced_congestion.
 * - At once, kept when a later field is refused: "reset": true clears st->stall_until_ns,
 *   st->writer.active and the chain's fault fields (not st->faults); bump_nonce, set_balance,
 *   storage_usage, missed_chunks, lag_blocks, invalid_signature_key, reject_next and move_tokens
 *   change the chain as they are met. A refused field itself changes nothing.
 * A body that is not a JSON object ("body must be a JSON object") changes nothing at all.
 * Borrows st, chain and body until return. Calling thread: the owner of st and chain. */
const char *sim_faults_apply(struct sim_fault_state *st,
                             struct sim_chain *chain,
                             const char *body,
                             size_t len,
                             uint64_t now_ns);

#endif
