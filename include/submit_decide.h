/* submit_decide: what the submit stage does with one answer about a batch's transaction (a send_tx,
 * a tx lookup by hash, or a dead proof's view_access_key). A pure function of plain values: the
 * answer's kind and outcome facts, what was asked, and the batch's submit state. It owns nothing,
 * touches no state and is called on the submit thread (src/submit/submit.c applies the decision:
 * messages, key pool, funds pauses, timers, outcomes); tests call it from any thread. */
#ifndef NF_SUBMIT_DECIDE_H
#define NF_SUBMIT_DECIDE_H

#include <stdint.h>

#include "rpc.h"

/* What the answer was to. */
enum submit_ask {
    SUBMIT_ASK_SEND = 0, /* send_tx of the batch's signed bytes */
    SUBMIT_ASK_TXSTATUS, /* tx by hash */
    SUBMIT_ASK_KEYVIEW,  /* view_access_key at final: the first step of a dead proof */
};

/* The answer and the batch state the decision depends on. */
struct submit_answer {
    enum rpc_kind kind;
    enum rpc_tx_status tx_status; /* RPC_OK_TX only */
    uint8_t failure_invalid_tx;   /* RPC_TXS_FAILURE: an InvalidTxError at execution */
    uint8_t failure_no_action;    /* RPC_TXS_FAILURE: no ActionError index (failure_action < 0) */
    enum submit_ask ask;
    uint8_t proving;          /* a dead proof is running for the batch */
    uint8_t maybe_accepted;   /* an earlier broadcast may have been accepted */
    uint8_t lookups_pending;  /* a confirming lookup was started (lookups > 0) */
    uint8_t status_wait_none; /* the tx lookup asks with wait_until NONE */
};

/* The next step, in the order it is applied after the flags below. */
enum submit_do {
    SUBMIT_DO_PROOF_VIEW = 0,         /* the dead proof's view_access_key answer: on_proof_view */
    SUBMIT_DO_PROOF_DEAD,             /* the proof's lookup says unknown: the proof holds */
    SUBMIT_DO_PROOF_FAILED,           /* the proof's lookup gave no answer: proof failed */
    SUBMIT_DO_FINISH_SUCCESS,         /* executed: outcome SUCCESS */
    SUBMIT_DO_FINISH_INVALID_AT_INCL, /* included but invalid at execution: DEAD */
    SUBMIT_DO_FINISH_STATE_SHORT,     /* failed after its last action: state_short, DEAD */
    SUBMIT_DO_FINISH_ACTION_ERROR,    /* an action failed: ACTION_ERROR (or tokens_short) */
    SUBMIT_DO_FOLLOW_BY_HASH,         /* accepted, no outcome yet: tx lookup, EXECUTED_OPTIMISTIC */
    SUBMIT_DO_DECLARE_DEAD,           /* the confirming lookup says the hash is unknown */
    SUBMIT_DO_CONFIRM_UNKNOWN,        /* refused everywhere: one tx lookup, wait_until NONE */
    SUBMIT_DO_SEND_AGAIN,             /* the same bytes again after `delay` */
    SUBMIT_DO_PROOF_AFTER_NONCE,      /* start a dead proof, started by InvalidNonce */
    SUBMIT_DO_PROOF_AFTER_EXPIRY,     /* start a dead proof, started by an expiry */
};

/* When the next request goes out, for the steps that schedule one themselves. */
enum submit_delay {
    SUBMIT_DELAY_NONE = 0,     /* the step schedules nothing itself (or the proof's end does) */
    SUBMIT_DELAY_NOW,          /* 0 ms */
    SUBMIT_DELAY_FOLLOW,       /* 200 ms */
    SUBMIT_DELAY_BACKOFF,      /* the batch's next backoff */
    SUBMIT_DELAY_BACKOFF_LONG, /* the batch's next backoff + 1000 ms */
};

/* Effects applied before the step, in this order. */
#define SUBMIT_DF_PROOF_KNOWN    0x01u /* end the dead proof as KNOWN, then follow the answer */
#define SUBMIT_DF_MAYBE_ACCEPTED 0x02u /* set the batch's maybe_accepted */
#define SUBMIT_DF_RESYNC_NONCE   0x04u /* raise the key's nonce to ak_nonce + 1 */
#define SUBMIT_DF_QUARANTINE     0x08u /* quarantine the batch's key */
/* (the message, enum submit_msg, is written here) */
#define SUBMIT_DF_FUNDS_SHORT 0x10u /* the signer is short of NEAR: funds_short */

/* The batch message written before the step (the FINISH steps write their own). */
enum submit_msg {
    SUBMIT_MSG_NONE = 0,
    SUBMIT_MSG_KIND,       /* "<KIND>" */
    SUBMIT_MSG_KIND_CAUSE, /* "<KIND> <cause>" */
    SUBMIT_MSG_NONCE,      /* "InvalidNonce tx_nonce=.. ak_nonce=.." */
};

struct submit_decision {
    enum submit_do action;
    enum submit_delay delay;
    unsigned flags; /* SUBMIT_DF_* */
    enum submit_msg msg;
};

/* submit_decide: the decision for answer a. Pure: any input gives a decision. */
struct submit_decision submit_decide(const struct submit_answer *a);

#endif
