/* submit_decide: the decision table of the submit stage's batch answers (include/submit_decide.h).
 * No state, no I/O. */
#include "submit_decide.h"

static struct submit_decision decision(enum submit_do action, enum submit_delay delay)
{
    struct submit_decision d = {
        .action = action, .delay = delay, .flags = 0, .msg = SUBMIT_MSG_NONE};
    return d;
}

/* An OK_TX answer: an outcome, or an accepted transaction to follow by hash. */
static struct submit_decision decide_ok_tx(const struct submit_answer *a)
{
    if (a->tx_status == RPC_TXS_SUCCESS)
        return decision(SUBMIT_DO_FINISH_SUCCESS, SUBMIT_DELAY_NONE);
    if (a->tx_status == RPC_TXS_FAILURE) {
        if (a->failure_invalid_tx)
            return decision(SUBMIT_DO_FINISH_INVALID_AT_INCL, SUBMIT_DELAY_NONE);
        if (a->failure_no_action)
            return decision(SUBMIT_DO_FINISH_STATE_SHORT, SUBMIT_DELAY_NONE);
        return decision(SUBMIT_DO_FINISH_ACTION_ERROR, SUBMIT_DELAY_NONE);
    }
    /* NONE / INCLUDED / partial: a send_tx answer is followed at once, a lookup after 200 ms */
    struct submit_decision d =
        decision(SUBMIT_DO_FOLLOW_BY_HASH,
                 a->ask == SUBMIT_ASK_SEND ? SUBMIT_DELAY_NOW : SUBMIT_DELAY_FOLLOW);
    d.flags |= SUBMIT_DF_MAYBE_ACCEPTED;
    return d;
}

struct submit_decision submit_decide(const struct submit_answer *a)
{
    struct submit_decision d;
    unsigned pre = 0;
    if (a->ask == SUBMIT_ASK_KEYVIEW)
        return decision(SUBMIT_DO_PROOF_VIEW, SUBMIT_DELAY_NONE);
    if (a->proving && a->ask == SUBMIT_ASK_TXSTATUS) {
        /* the dead proof's lookup, on the endpoint whose final height and nonce prove it */
        if (a->kind == RPC_UNKNOWN_TRANSACTION)
            return decision(SUBMIT_DO_PROOF_DEAD, SUBMIT_DELAY_NONE);
        if (a->kind != RPC_OK_TX)
            return decision(SUBMIT_DO_PROOF_FAILED, SUBMIT_DELAY_NONE);
        pre = SUBMIT_DF_PROOF_KNOWN; /* on the chain after all: follow it below */
    }
    switch (a->kind) {
    case RPC_OK_TX:
        d = decide_ok_tx(a);
        break;
    case RPC_UNKNOWN_TRANSACTION:
        if (a->lookups_pending && a->ask == SUBMIT_ASK_TXSTATUS && a->status_wait_none)
            d = decision(SUBMIT_DO_DECLARE_DEAD, SUBMIT_DELAY_NONE); /* the confirming lookup */
        else
            d = decision(SUBMIT_DO_SEND_AGAIN, SUBMIT_DELAY_BACKOFF); /* not known (yet) */
        break;
    case RPC_INVALID_NONCE:
        /* The key's nonce is resynced. Nonces only grow, but the node that said so and the one
         * asked for the hash may see different heights: dead only on the proof. */
        d = decision(SUBMIT_DO_PROOF_AFTER_NONCE, SUBMIT_DELAY_NONE);
        d.flags = SUBMIT_DF_RESYNC_NONCE;
        d.msg = SUBMIT_MSG_NONCE;
        break;
    case RPC_EXPIRED:
    case RPC_INVALID_CHAIN:
        /* Every broadcast was refused: these bytes were never in any pool, confirm the hash is
         * unknown. Else an earlier broadcast may sit in a pool or on the chain (a node that has
         * not seen our block hash calls it Expired): dead only on the proof, else the same bytes
         * again in 5 s (proof_end). */
        d = a->maybe_accepted ? decision(SUBMIT_DO_PROOF_AFTER_EXPIRY, SUBMIT_DELAY_NONE)
                              : decision(SUBMIT_DO_CONFIRM_UNKNOWN, SUBMIT_DELAY_NOW);
        d.msg = SUBMIT_MSG_KIND;
        break;
    case RPC_SHARD_CONGESTED:
    case RPC_SHARD_STUCK:
    case RPC_NONCE_TOO_LARGE:
        /* Back off and retry the same bytes (docs: "resubmit the identical transaction"). A nonce
         * over height x 1e6 becomes valid as the chain grows; re-signing would only take a
         * larger one, so the same bytes wait too. */
        d = decision(SUBMIT_DO_SEND_AGAIN, SUBMIT_DELAY_BACKOFF);
        break;
    case RPC_INVALID_SIGNATURE:
    case RPC_ACCESS_KEY_NOT_FOUND:
    case RPC_OTHER_ACCESS_KEY_ERROR:
    case RPC_NOT_ENOUGH_BALANCE:
    case RPC_LACK_BALANCE_FOR_STATE:
    case RPC_SIGNER_DOES_NOT_EXIST:
    case RPC_ACTIONS_VALIDATION:
    case RPC_TX_SIZE_EXCEEDED:
    case RPC_OTHER_INVALID_TX:
        /* A definitive rejection of every broadcast so far: confirm the hash is unknown. When an
         * earlier broadcast may still be in a pool, keep the same bytes. A key error quarantines
         * the key; a lack of NEAR pauses signing (funds_short). */
        d = a->maybe_accepted ? decision(SUBMIT_DO_SEND_AGAIN, SUBMIT_DELAY_BACKOFF_LONG)
                              : decision(SUBMIT_DO_CONFIRM_UNKNOWN, SUBMIT_DELAY_NOW);
        d.msg = SUBMIT_MSG_KIND_CAUSE;
        if (a->kind == RPC_INVALID_SIGNATURE || a->kind == RPC_ACCESS_KEY_NOT_FOUND ||
            a->kind == RPC_OTHER_ACCESS_KEY_ERROR)
            d.flags |= SUBMIT_DF_QUARANTINE;
        if (a->kind == RPC_NOT_ENOUGH_BALANCE || a->kind == RPC_LACK_BALANCE_FOR_STATE)
            d.flags |= SUBMIT_DF_FUNDS_SHORT;
        break;
    default:
        /* Outcome unknown (timeouts, rate limits, transport and server errors, any other
         * answer): it may have been accepted. Same bytes again, after a backoff. */
        d = decision(SUBMIT_DO_SEND_AGAIN,
                     a->kind == RPC_TIMEOUT ? SUBMIT_DELAY_NOW : SUBMIT_DELAY_BACKOFF);
        if (a->ask == SUBMIT_ASK_SEND)
            d.flags |= SUBMIT_DF_MAYBE_ACCEPTED;
        break;
    }
    d.flags |= pre;
    return d;
}
