/* sim_server: nearsim's HTTP front (libevent evhttp, one per listener) and block clock on one
 * event_base: routes POST / to sim_rpc, keeps waiting send_tx/tx requests until their level or
 * timeout, produces blocks every block-ms, injects faults (errors, lost acks, latency, stalls, rate
 * limit, forced congestion, an external nonce writer) and serves /sim/audit, /sim/stats,
 * /sim/faults. Everything runs on the calling thread; the chain is borrowed for the server's
 * lifetime. */
#ifndef NF_SIM_SERVER_H
#define NF_SIM_SERVER_H

#include "sim_cfg.h"
#include "sim_chain.h"

struct sim_server;

/* sim_server_new: binds cfg->listen, and cfg->lagging_listen when set (a second listener whose
 * JSON-RPC answers are those of a node cfg->lag_blocks behind: sim_rpc_handle_lagged; it turns on
 * the chain's history). Prints "listening=<addr>:<port>" to stdout once bound, then, with a
 * lagging listener, "lagging=<addr>:<port> lag_blocks=<n>". Borrows cfg and chain until
 * sim_server_free. Returns 0, NF_ECONFIG (bad address), NF_EIO (bind failed), NF_ENOMEM. */
int sim_server_new(const struct sim_cfg *cfg, struct sim_chain *chain, struct sim_server **out);

/* sim_server_run: runs the event loop until SIGINT/SIGTERM. Returns 0. */
int sim_server_run(struct sim_server *s);

/* sim_server_free: answers nothing more, frees everything. NULL-safe. */
void sim_server_free(struct sim_server *s);

#endif
