/* sim_rpc: nearsim's JSON-RPC 2.0 method handling over a struct sim_chain, without sockets: one
 * request body in, one reply (HTTP status + nearcore-shaped JSON) or a "wait" descriptor out.
 * Waiting requests (send_tx / tx until a wait_until level) are re-polled by the server after
 * every block and answered with TIMEOUT_ERROR when their time runs out. Also renders the
 * /sim/audit and /sim/stats documents. Pure apart from malloc; runs on the chain thread. */
#ifndef NF_SIM_RPC_H
#define NF_SIM_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "sim_chain.h"

enum sim_wait_kind {
    SIM_WAIT_SEND = 1, /* send_tx / broadcast_tx_commit */
    SIM_WAIT_TX,       /* tx */
    SIM_WAIT_TX_EXP,   /* EXPERIMENTAL_tx_status */
};

struct sim_rpc_wait {
    enum sim_wait_kind kind;
    uint8_t hash[NEAR_HASH_LEN];
    enum sim_level level;
    char *id_json; /* the request id as JSON text (malloc'd, owned) */
    uint64_t lag;  /* answered as a node this many blocks behind sees it (0: the live chain) */
};

struct sim_rpc_reply {
    int http_status;
    char *body; /* malloc'd JSON text (owned), NULL while pending */
    size_t len;
    int pending;   /* 1: see wait; answer later via sim_rpc_poll / sim_rpc_timeout */
    int submitted; /* the request carried a transaction (lost-ack fault applies) */
    struct sim_rpc_wait wait;
    char method[40]; /* for logs and stats */
};

/* sim_rpc_handle: handles one POST / body. Never fails on bad input: bad JSON, bad params, bad
 * base64 or Borsh give PARSE_ERROR replies. Returns 0, or NF_ENOMEM (reply unusable). The caller
 * owns out's memory (sim_rpc_reply_free). */
int sim_rpc_handle(struct sim_chain *c, const char *body, size_t len, struct sim_rpc_reply *out);

/* sim_rpc_handle_lagged: sim_rpc_handle as an RPC node lag blocks behind the chain answers it:
 * every read (block, chunk, status, tx, EXPERIMENTAL_tx_status, query, gas_price, ...) sees the
 * chain rewound to head - lag (sim_chain_rewind; keep at least lag + 3 blocks of history). A
 * send is validated against that view; when valid there it is forwarded to the live chain (the
 * chain's own verdict is not reported), and the answer about it follows the lagged view. The
 * chain is live again on return. lag 0 is sim_rpc_handle. */
int sim_rpc_handle_lagged(
    struct sim_chain *c, uint64_t lag, const char *body, size_t len, struct sim_rpc_reply *out);

/* sim_rpc_poll: re-checks a waiting request (in the view of w->lag). Returns 1 and fills out when
 * it is answered now, 0 when it must keep waiting. Borrows w. */
int sim_rpc_poll(struct sim_chain *c, const struct sim_rpc_wait *w, struct sim_rpc_reply *out);

/* sim_rpc_timeout: fills out with the TIMEOUT_ERROR reply (HTTP 408) for w. */
void sim_rpc_timeout(const struct sim_rpc_wait *w, struct sim_rpc_reply *out);

/* sim_rpc_error_reply: a complete error reply (e.g. INTERNAL_ERROR for fault injection). */
void sim_rpc_internal_error(const char *id_json, const char *text, struct sim_rpc_reply *out);

void sim_rpc_reply_free(struct sim_rpc_reply *r);

/* sim_rpc_audit: the /sim/audit JSON. memo (may be NULL) adds a lookup of that memo. Returns a
 * malloc'd NUL-terminated text or NULL. */
char *sim_rpc_audit(const struct sim_chain *c, const char *memo, size_t *len);

/* sim_rpc_memos: every applied memo with its count, one JSON object per line
 * ({"memo":"..","count":N}\n). Returns malloc'd text or NULL. */
char *sim_rpc_memos(const struct sim_chain *c, size_t *len);

#endif
