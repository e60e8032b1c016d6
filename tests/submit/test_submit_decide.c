/* test_submit_decide: the submit stage's decision for a batch answer (include/submit_decide.h)
 * as a table: every answer kind for a send_tx and a tx lookup with and without an earlier
 * broadcast that may have been accepted; the outcomes of an OK_TX answer; the confirming lookup
 * after a rejection; the dead proof's lookup and view; each row with its step, delay class,
 * flags and message. A last check makes sure every kind has its four plain rows. */
#include "nf_test.h"
#include "submit_decide.h"

/* short names for the table */
#define SEND   SUBMIT_ASK_SEND
#define TXS    SUBMIT_ASK_TXSTATUS
#define KEYV   SUBMIT_ASK_KEYVIEW
#define KNOWN  SUBMIT_DF_PROOF_KNOWN
#define MAYBE  SUBMIT_DF_MAYBE_ACCEPTED
#define RESYNC SUBMIT_DF_RESYNC_NONCE
#define QUAR   SUBMIT_DF_QUARANTINE
#define FUNDS  SUBMIT_DF_FUNDS_SHORT

struct row {
    struct submit_answer in;
    struct submit_decision out;
    int line;
};

/* X: every input. kind, tx status, failure_invalid_tx, failure_no_action, ask, proving,
 * maybe_accepted, lookups_pending, status_wait_none -> step, delay, flags, message. */
#define X(kd, txs, inv, noact, ask_, prov, maybe, look, wnone, act, dly, flg, msg_)                \
    {                                                                                              \
        .in = {.kind = RPC_##kd,                                                                   \
               .tx_status = RPC_TXS_##txs,                                                         \
               .failure_invalid_tx = (inv),                                                        \
               .failure_no_action = (noact),                                                       \
               .ask = (ask_),                                                                      \
               .proving = (prov),                                                                  \
               .maybe_accepted = (maybe),                                                          \
               .lookups_pending = (look),                                                          \
               .status_wait_none = (wnone)},                                                       \
        .out = {.action = SUBMIT_DO_##act,                                                         \
                .delay = SUBMIT_DELAY_##dly,                                                       \
                .flags = (flg),                                                                    \
                .msg = SUBMIT_MSG_##msg_},                                                         \
        .line = __LINE__                                                                           \
    }
/* R: a plain answer (no tx status, not proving, no confirming lookup, wait_until not NONE). */
#define R(kd, ask_, maybe, act, dly, flg, msg_)                                                    \
    X(kd, ABSENT, 0, 0, ask_, 0, maybe, 0, 0, act, dly, flg, msg_)

static const struct row rows[] = {
    /* every kind, either ask, either maybe_accepted: not proving, no confirming lookup */
    R(OK_TX, SEND, 0, FOLLOW_BY_HASH, NOW, MAYBE, NONE),
    R(OK_TX, SEND, 1, FOLLOW_BY_HASH, NOW, MAYBE, NONE),
    R(OK_TX, TXS, 0, FOLLOW_BY_HASH, FOLLOW, MAYBE, NONE),
    R(OK_TX, TXS, 1, FOLLOW_BY_HASH, FOLLOW, MAYBE, NONE),
    R(OK_BLOCK, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OK_BLOCK, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OK_BLOCK, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OK_BLOCK, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OK_ACCESS_KEY, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OK_ACCESS_KEY, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OK_ACCESS_KEY, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OK_ACCESS_KEY, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OK_ACCESS_KEY_LIST, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OK_ACCESS_KEY_LIST, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OK_ACCESS_KEY_LIST, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OK_ACCESS_KEY_LIST, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OK_ACCOUNT, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OK_ACCOUNT, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OK_ACCOUNT, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OK_ACCOUNT, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OK_CALL, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OK_CALL, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OK_CALL, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OK_CALL, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OK_GAS_PRICE, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OK_GAS_PRICE, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OK_GAS_PRICE, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OK_GAS_PRICE, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(UNKNOWN_ACCESS_KEY, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(UNKNOWN_ACCESS_KEY, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(UNKNOWN_ACCESS_KEY, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(UNKNOWN_ACCESS_KEY, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(QUERY_ERROR, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(QUERY_ERROR, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(QUERY_ERROR, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(QUERY_ERROR, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(INVALID_NONCE, SEND, 0, PROOF_AFTER_NONCE, NONE, RESYNC, NONCE),
    R(INVALID_NONCE, SEND, 1, PROOF_AFTER_NONCE, NONE, RESYNC, NONCE),
    R(INVALID_NONCE, TXS, 0, PROOF_AFTER_NONCE, NONE, RESYNC, NONCE),
    R(INVALID_NONCE, TXS, 1, PROOF_AFTER_NONCE, NONE, RESYNC, NONCE),
    R(NONCE_TOO_LARGE, SEND, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(NONCE_TOO_LARGE, SEND, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(NONCE_TOO_LARGE, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(NONCE_TOO_LARGE, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(EXPIRED, SEND, 0, CONFIRM_UNKNOWN, NOW, 0, KIND),
    R(EXPIRED, SEND, 1, PROOF_AFTER_EXPIRY, NONE, 0, KIND),
    R(EXPIRED, TXS, 0, CONFIRM_UNKNOWN, NOW, 0, KIND),
    R(EXPIRED, TXS, 1, PROOF_AFTER_EXPIRY, NONE, 0, KIND),
    R(INVALID_CHAIN, SEND, 0, CONFIRM_UNKNOWN, NOW, 0, KIND),
    R(INVALID_CHAIN, SEND, 1, PROOF_AFTER_EXPIRY, NONE, 0, KIND),
    R(INVALID_CHAIN, TXS, 0, CONFIRM_UNKNOWN, NOW, 0, KIND),
    R(INVALID_CHAIN, TXS, 1, PROOF_AFTER_EXPIRY, NONE, 0, KIND),
    R(SHARD_CONGESTED, SEND, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(SHARD_CONGESTED, SEND, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(SHARD_CONGESTED, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(SHARD_CONGESTED, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(SHARD_STUCK, SEND, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(SHARD_STUCK, SEND, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(SHARD_STUCK, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(SHARD_STUCK, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(INVALID_SIGNATURE, SEND, 0, CONFIRM_UNKNOWN, NOW, QUAR, KIND_CAUSE),
    R(INVALID_SIGNATURE, SEND, 1, SEND_AGAIN, BACKOFF_LONG, QUAR, KIND_CAUSE),
    R(INVALID_SIGNATURE, TXS, 0, CONFIRM_UNKNOWN, NOW, QUAR, KIND_CAUSE),
    R(INVALID_SIGNATURE, TXS, 1, SEND_AGAIN, BACKOFF_LONG, QUAR, KIND_CAUSE),
    R(ACCESS_KEY_NOT_FOUND, SEND, 0, CONFIRM_UNKNOWN, NOW, QUAR, KIND_CAUSE),
    R(ACCESS_KEY_NOT_FOUND, SEND, 1, SEND_AGAIN, BACKOFF_LONG, QUAR, KIND_CAUSE),
    R(ACCESS_KEY_NOT_FOUND, TXS, 0, CONFIRM_UNKNOWN, NOW, QUAR, KIND_CAUSE),
    R(ACCESS_KEY_NOT_FOUND, TXS, 1, SEND_AGAIN, BACKOFF_LONG, QUAR, KIND_CAUSE),
    R(OTHER_ACCESS_KEY_ERROR, SEND, 0, CONFIRM_UNKNOWN, NOW, QUAR, KIND_CAUSE),
    R(OTHER_ACCESS_KEY_ERROR, SEND, 1, SEND_AGAIN, BACKOFF_LONG, QUAR, KIND_CAUSE),
    R(OTHER_ACCESS_KEY_ERROR, TXS, 0, CONFIRM_UNKNOWN, NOW, QUAR, KIND_CAUSE),
    R(OTHER_ACCESS_KEY_ERROR, TXS, 1, SEND_AGAIN, BACKOFF_LONG, QUAR, KIND_CAUSE),
    R(NOT_ENOUGH_BALANCE, SEND, 0, CONFIRM_UNKNOWN, NOW, FUNDS, KIND_CAUSE),
    R(NOT_ENOUGH_BALANCE, SEND, 1, SEND_AGAIN, BACKOFF_LONG, FUNDS, KIND_CAUSE),
    R(NOT_ENOUGH_BALANCE, TXS, 0, CONFIRM_UNKNOWN, NOW, FUNDS, KIND_CAUSE),
    R(NOT_ENOUGH_BALANCE, TXS, 1, SEND_AGAIN, BACKOFF_LONG, FUNDS, KIND_CAUSE),
    R(LACK_BALANCE_FOR_STATE, SEND, 0, CONFIRM_UNKNOWN, NOW, FUNDS, KIND_CAUSE),
    R(LACK_BALANCE_FOR_STATE, SEND, 1, SEND_AGAIN, BACKOFF_LONG, FUNDS, KIND_CAUSE),
    R(LACK_BALANCE_FOR_STATE, TXS, 0, CONFIRM_UNKNOWN, NOW, FUNDS, KIND_CAUSE),
    R(LACK_BALANCE_FOR_STATE, TXS, 1, SEND_AGAIN, BACKOFF_LONG, FUNDS, KIND_CAUSE),
    R(SIGNER_DOES_NOT_EXIST, SEND, 0, CONFIRM_UNKNOWN, NOW, 0, KIND_CAUSE),
    R(SIGNER_DOES_NOT_EXIST, SEND, 1, SEND_AGAIN, BACKOFF_LONG, 0, KIND_CAUSE),
    R(SIGNER_DOES_NOT_EXIST, TXS, 0, CONFIRM_UNKNOWN, NOW, 0, KIND_CAUSE),
    R(SIGNER_DOES_NOT_EXIST, TXS, 1, SEND_AGAIN, BACKOFF_LONG, 0, KIND_CAUSE),
    R(ACTIONS_VALIDATION, SEND, 0, CONFIRM_UNKNOWN, NOW, 0, KIND_CAUSE),
    R(ACTIONS_VALIDATION, SEND, 1, SEND_AGAIN, BACKOFF_LONG, 0, KIND_CAUSE),
    R(ACTIONS_VALIDATION, TXS, 0, CONFIRM_UNKNOWN, NOW, 0, KIND_CAUSE),
    R(ACTIONS_VALIDATION, TXS, 1, SEND_AGAIN, BACKOFF_LONG, 0, KIND_CAUSE),
    R(TX_SIZE_EXCEEDED, SEND, 0, CONFIRM_UNKNOWN, NOW, 0, KIND_CAUSE),
    R(TX_SIZE_EXCEEDED, SEND, 1, SEND_AGAIN, BACKOFF_LONG, 0, KIND_CAUSE),
    R(TX_SIZE_EXCEEDED, TXS, 0, CONFIRM_UNKNOWN, NOW, 0, KIND_CAUSE),
    R(TX_SIZE_EXCEEDED, TXS, 1, SEND_AGAIN, BACKOFF_LONG, 0, KIND_CAUSE),
    R(OTHER_INVALID_TX, SEND, 0, CONFIRM_UNKNOWN, NOW, 0, KIND_CAUSE),
    R(OTHER_INVALID_TX, SEND, 1, SEND_AGAIN, BACKOFF_LONG, 0, KIND_CAUSE),
    R(OTHER_INVALID_TX, TXS, 0, CONFIRM_UNKNOWN, NOW, 0, KIND_CAUSE),
    R(OTHER_INVALID_TX, TXS, 1, SEND_AGAIN, BACKOFF_LONG, 0, KIND_CAUSE),
    R(TIMEOUT, SEND, 0, SEND_AGAIN, NOW, MAYBE, NONE),
    R(TIMEOUT, SEND, 1, SEND_AGAIN, NOW, MAYBE, NONE),
    R(TIMEOUT, TXS, 0, SEND_AGAIN, NOW, 0, NONE),
    R(TIMEOUT, TXS, 1, SEND_AGAIN, NOW, 0, NONE),
    R(UNKNOWN_TRANSACTION, SEND, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(UNKNOWN_TRANSACTION, SEND, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(UNKNOWN_TRANSACTION, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(UNKNOWN_TRANSACTION, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(UNKNOWN_ACCOUNT, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(UNKNOWN_ACCOUNT, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(UNKNOWN_ACCOUNT, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(UNKNOWN_ACCOUNT, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(PARSE_ERROR, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(PARSE_ERROR, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(PARSE_ERROR, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(PARSE_ERROR, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(METHOD_NOT_FOUND, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(METHOD_NOT_FOUND, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(METHOD_NOT_FOUND, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(METHOD_NOT_FOUND, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(INTERNAL_ERROR, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(INTERNAL_ERROR, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(INTERNAL_ERROR, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(INTERNAL_ERROR, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OTHER_ERROR, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OTHER_ERROR, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(OTHER_ERROR, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(OTHER_ERROR, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(RATE_LIMITED, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(RATE_LIMITED, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(RATE_LIMITED, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(RATE_LIMITED, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(HTTP_ERROR, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(HTTP_ERROR, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(HTTP_ERROR, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(HTTP_ERROR, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    R(MALFORMED, SEND, 0, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(MALFORMED, SEND, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    R(MALFORMED, TXS, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    R(MALFORMED, TXS, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    /* the dead proof's lookup (proving, tx by hash): every kind */
    X(OK_TX, ABSENT, 0, 0, TXS, 1, 1, 0, 1, FOLLOW_BY_HASH, FOLLOW, KNOWN | MAYBE, NONE),
    X(OK_BLOCK, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(OK_ACCESS_KEY, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(OK_ACCESS_KEY_LIST, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(OK_ACCOUNT, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(OK_CALL, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(OK_GAS_PRICE, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(UNKNOWN_ACCESS_KEY, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(QUERY_ERROR, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(INVALID_NONCE, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(NONCE_TOO_LARGE, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(EXPIRED, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(INVALID_CHAIN, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(SHARD_CONGESTED, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(SHARD_STUCK, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(INVALID_SIGNATURE, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(ACCESS_KEY_NOT_FOUND, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(OTHER_ACCESS_KEY_ERROR, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(NOT_ENOUGH_BALANCE, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(LACK_BALANCE_FOR_STATE, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(SIGNER_DOES_NOT_EXIST, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(ACTIONS_VALIDATION, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(TX_SIZE_EXCEEDED, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(OTHER_INVALID_TX, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(TIMEOUT, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_DEAD, NONE, 0, NONE),
    X(UNKNOWN_ACCOUNT, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(PARSE_ERROR, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(METHOD_NOT_FOUND, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(INTERNAL_ERROR, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(OTHER_ERROR, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(RATE_LIMITED, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(HTTP_ERROR, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    X(MALFORMED, ABSENT, 0, 0, TXS, 1, 1, 0, 1, PROOF_FAILED, NONE, 0, NONE),
    /* OK_TX outcomes, for either ask and either maybe_accepted */
    X(OK_TX, SUCCESS, 0, 0, SEND, 0, 0, 0, 0, FINISH_SUCCESS, NONE, 0, NONE),
    X(OK_TX, SUCCESS, 0, 0, SEND, 0, 1, 0, 0, FINISH_SUCCESS, NONE, 0, NONE),
    X(OK_TX, SUCCESS, 0, 0, TXS, 0, 0, 0, 0, FINISH_SUCCESS, NONE, 0, NONE),
    X(OK_TX, SUCCESS, 0, 0, TXS, 0, 1, 1, 1, FINISH_SUCCESS, NONE, 0, NONE),
    X(OK_TX, SUCCESS, 1, 1, TXS, 0, 1, 0, 0, FINISH_SUCCESS, NONE, 0, NONE),
    X(OK_TX, FAILURE, 1, 0, SEND, 0, 0, 0, 0, FINISH_INVALID_AT_INCL, NONE, 0, NONE),
    X(OK_TX, FAILURE, 1, 1, SEND, 0, 1, 0, 0, FINISH_INVALID_AT_INCL, NONE, 0, NONE),
    X(OK_TX, FAILURE, 1, 0, TXS, 0, 1, 0, 0, FINISH_INVALID_AT_INCL, NONE, 0, NONE),
    X(OK_TX, FAILURE, 1, 1, TXS, 0, 0, 1, 1, FINISH_INVALID_AT_INCL, NONE, 0, NONE),
    X(OK_TX, FAILURE, 0, 1, SEND, 0, 0, 0, 0, FINISH_STATE_SHORT, NONE, 0, NONE),
    X(OK_TX, FAILURE, 0, 1, SEND, 0, 1, 0, 0, FINISH_STATE_SHORT, NONE, 0, NONE),
    X(OK_TX, FAILURE, 0, 1, TXS, 0, 0, 0, 0, FINISH_STATE_SHORT, NONE, 0, NONE),
    X(OK_TX, FAILURE, 0, 1, TXS, 0, 1, 1, 1, FINISH_STATE_SHORT, NONE, 0, NONE),
    X(OK_TX, FAILURE, 0, 0, SEND, 0, 0, 0, 0, FINISH_ACTION_ERROR, NONE, 0, NONE),
    X(OK_TX, FAILURE, 0, 0, SEND, 0, 1, 0, 0, FINISH_ACTION_ERROR, NONE, 0, NONE),
    X(OK_TX, FAILURE, 0, 0, TXS, 0, 0, 0, 0, FINISH_ACTION_ERROR, NONE, 0, NONE),
    X(OK_TX, FAILURE, 0, 0, TXS, 0, 1, 1, 1, FINISH_ACTION_ERROR, NONE, 0, NONE),
    /* accepted without an outcome: followed by hash, at once after a send_tx, else in 200 ms */
    X(OK_TX, NOT_STARTED, 0, 0, SEND, 0, 0, 0, 0, FOLLOW_BY_HASH, NOW, MAYBE, NONE),
    X(OK_TX, STARTED, 0, 0, SEND, 0, 1, 0, 0, FOLLOW_BY_HASH, NOW, MAYBE, NONE),
    X(OK_TX, UNKNOWN, 0, 0, SEND, 0, 0, 0, 0, FOLLOW_BY_HASH, NOW, MAYBE, NONE),
    X(OK_TX, NOT_STARTED, 0, 0, TXS, 0, 1, 0, 0, FOLLOW_BY_HASH, FOLLOW, MAYBE, NONE),
    X(OK_TX, STARTED, 0, 0, TXS, 0, 0, 0, 0, FOLLOW_BY_HASH, FOLLOW, MAYBE, NONE),
    X(OK_TX, UNKNOWN, 0, 0, TXS, 0, 1, 0, 0, FOLLOW_BY_HASH, FOLLOW, MAYBE, NONE),
    X(OK_TX, ABSENT, 0, 0, TXS, 0, 0, 1, 1, FOLLOW_BY_HASH, FOLLOW, MAYBE, NONE),
    /* UNKNOWN_TRANSACTION: dead only on the confirming lookup (a lookup was started, this is a
     * tx lookup, with wait_until NONE); any other lookup state sends the same bytes again */
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, TXS, 0, 0, 1, 1, DECLARE_DEAD, NONE, 0, NONE),
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, TXS, 0, 1, 1, 1, DECLARE_DEAD, NONE, 0, NONE),
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, TXS, 0, 0, 0, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, TXS, 0, 0, 1, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, TXS, 0, 1, 1, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, SEND, 0, 0, 1, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, SEND, 0, 1, 1, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, SEND, 0, 0, 1, 0, SEND_AGAIN, BACKOFF, 0, NONE),
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, SEND, 0, 0, 0, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    /* the lookup state matters to UNKNOWN_TRANSACTION only */
    X(EXPIRED, ABSENT, 0, 0, TXS, 0, 0, 1, 1, CONFIRM_UNKNOWN, NOW, 0, KIND),
    X(EXPIRED, ABSENT, 0, 0, SEND, 0, 1, 1, 1, PROOF_AFTER_EXPIRY, NONE, 0, KIND),
    X(INVALID_NONCE, ABSENT, 0, 0, TXS, 0, 0, 1, 1, PROOF_AFTER_NONCE, NONE, RESYNC, NONCE),
    X(NOT_ENOUGH_BALANCE, ABSENT, 0, 0, TXS, 0, 0, 1, 1, CONFIRM_UNKNOWN, NOW, FUNDS, KIND_CAUSE),
    X(ACCESS_KEY_NOT_FOUND,
      ABSENT,
      0,
      0,
      SEND,
      0,
      1,
      1,
      1,
      SEND_AGAIN,
      BACKOFF_LONG,
      QUAR,
      KIND_CAUSE),
    X(TIMEOUT, ABSENT, 0, 0, TXS, 0, 0, 1, 1, SEND_AGAIN, NOW, 0, NONE),
    X(HTTP_ERROR, ABSENT, 0, 0, SEND, 0, 0, 1, 1, SEND_AGAIN, BACKOFF, MAYBE, NONE),
    /* the dead proof's lookup finds the transaction: the proof ends KNOWN, then the outcome */
    X(OK_TX, SUCCESS, 0, 0, TXS, 1, 1, 0, 1, FINISH_SUCCESS, NONE, KNOWN, NONE),
    X(OK_TX, SUCCESS, 0, 0, TXS, 1, 0, 1, 1, FINISH_SUCCESS, NONE, KNOWN, NONE),
    X(OK_TX, FAILURE, 1, 0, TXS, 1, 1, 0, 1, FINISH_INVALID_AT_INCL, NONE, KNOWN, NONE),
    X(OK_TX, FAILURE, 0, 1, TXS, 1, 1, 0, 1, FINISH_STATE_SHORT, NONE, KNOWN, NONE),
    X(OK_TX, FAILURE, 0, 0, TXS, 1, 0, 0, 1, FINISH_ACTION_ERROR, NONE, KNOWN, NONE),
    X(OK_TX, STARTED, 0, 0, TXS, 1, 0, 0, 1, FOLLOW_BY_HASH, FOLLOW, KNOWN | MAYBE, NONE),
    /* the proof's lookup decides regardless of maybe_accepted and the lookup state */
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, TXS, 1, 0, 1, 1, PROOF_DEAD, NONE, 0, NONE),
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, TXS, 1, 0, 0, 0, PROOF_DEAD, NONE, 0, NONE),
    X(TIMEOUT, ABSENT, 0, 0, TXS, 1, 0, 1, 1, PROOF_FAILED, NONE, 0, NONE),
    X(EXPIRED, ABSENT, 0, 0, TXS, 1, 0, 0, 0, PROOF_FAILED, NONE, 0, NONE),
    /* a send_tx answer while proving is not the proof's: the plain rules */
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, SEND, 1, 1, 0, 1, SEND_AGAIN, BACKOFF, 0, NONE),
    X(OK_TX, SUCCESS, 0, 0, SEND, 1, 1, 0, 1, FINISH_SUCCESS, NONE, 0, NONE),
    X(OK_TX, ABSENT, 0, 0, SEND, 1, 1, 0, 1, FOLLOW_BY_HASH, NOW, MAYBE, NONE),
    X(TIMEOUT, ABSENT, 0, 0, SEND, 1, 1, 0, 1, SEND_AGAIN, NOW, MAYBE, NONE),
    X(INVALID_NONCE, ABSENT, 0, 0, SEND, 1, 1, 0, 1, PROOF_AFTER_NONCE, NONE, RESYNC, NONCE),
    X(EXPIRED, ABSENT, 0, 0, SEND, 1, 1, 0, 1, PROOF_AFTER_EXPIRY, NONE, 0, KIND),
    /* the dead proof's view_access_key: whatever it says, on_proof_view reads it */
    X(OK_ACCESS_KEY, ABSENT, 0, 0, KEYV, 1, 1, 0, 1, PROOF_VIEW, NONE, 0, NONE),
    X(OK_ACCESS_KEY, ABSENT, 0, 0, KEYV, 1, 0, 1, 0, PROOF_VIEW, NONE, 0, NONE),
    X(UNKNOWN_ACCESS_KEY, ABSENT, 0, 0, KEYV, 1, 1, 0, 1, PROOF_VIEW, NONE, 0, NONE),
    X(TIMEOUT, ABSENT, 0, 0, KEYV, 1, 1, 0, 1, PROOF_VIEW, NONE, 0, NONE),
    X(UNKNOWN_TRANSACTION, ABSENT, 0, 0, KEYV, 1, 0, 1, 1, PROOF_VIEW, NONE, 0, NONE),
    X(OK_TX, SUCCESS, 0, 0, KEYV, 0, 1, 0, 0, PROOF_VIEW, NONE, 0, NONE),
    X(INVALID_NONCE, ABSENT, 0, 0, KEYV, 0, 0, 0, 0, PROOF_VIEW, NONE, 0, NONE),
};

static void test_rows(void)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *w = &rows[i];
        struct submit_decision d = submit_decide(&w->in);
        int ok = d.action == w->out.action && d.delay == w->out.delay && d.flags == w->out.flags &&
                 d.msg == w->out.msg;
        CHECK(ok);
        if (!ok)
            fprintf(stderr,
                    "  row at line %d (%s): got action=%d delay=%d flags=%#x msg=%d, "
                    "want action=%d delay=%d flags=%#x msg=%d\n",
                    w->line, rpc_kind_name(w->in.kind), d.action, d.delay, d.flags, d.msg,
                    w->out.action, w->out.delay, w->out.flags, w->out.msg);
    }
}

/* every kind has a plain row for each ask and maybe_accepted value */
static void test_every_kind_has_rows(void)
{
    for (int k = 0; k < RPC_KIND_COUNT; k++) {
        for (int ask = SUBMIT_ASK_SEND; ask <= SUBMIT_ASK_TXSTATUS; ask++) {
            for (int maybe = 0; maybe <= 1; maybe++) {
                int found = 0;
                for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                    const struct submit_answer *a = &rows[i].in;
                    if ((int)a->kind == k && (int)a->ask == ask && a->maybe_accepted == maybe &&
                        !a->proving && !a->lookups_pending)
                        found = 1;
                }
                CHECK(found);
                if (!found)
                    fprintf(stderr, "  no row for %s ask=%d maybe_accepted=%d\n", rpc_kind_name(k),
                            ask, maybe);
            }
        }
    }
}

int main(void)
{
    test_rows();
    test_every_kind_has_rows();
    return nf_test_report("test_submit_decide");
}
