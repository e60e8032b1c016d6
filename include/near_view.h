/* near_view: JSON views of decoded transactions in nearcore's RPC field names
 * (SignedTransactionView, ActionView; docs/PROTOCOL.md section 3.4). Shared by `nearft tx decode`
 * and nearsim. Pure, any thread; writes through a struct jw the caller owns. */
#ifndef NF_NEAR_VIEW_H
#define NF_NEAR_VIEW_H

#include "jw.h"
#include "near_tx.h"

/* near_view_action: one ActionView value, e.g. {"FunctionCall":{"method_name":..,"args":"<b64>",
 * "gas":N,"deposit":".."}}, "CreateAccount", {"Transfer":{"deposit":".."}}, {"AddKey":{...}}. */
void near_view_action(struct jw *w, const struct near_action *a);

/* near_view_signed_tx: SignedTransactionView: {"signer_id","public_key","nonce","receiver_id",
 * "actions":[..],"priority_fee":0,"signature":"ed25519:..","hash":"<b58>"}. Only the first
 * min(n_actions, stored) actions are written; stored = the decode space's actions_cap. */
void near_view_signed_tx(struct jw *w, const struct near_signed_tx *stx, uint32_t stored);

#endif
