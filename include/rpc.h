/* rpc: pure NEAR JSON-RPC client helpers (docs/PROTOCOL.md section 3). Builders write request
 * bodies into a caller buffer; rpc_parse tokenizes a response body with jtok (caller scratch) and
 * classifies it, together with the HTTP status, into a struct rpc_result: a success of the method
 * asked for, or one error kind from the section 3.8 catalogue. rpc_retry_after and rpc_call_* read
 * a Retry-After header line and call_function result bytes. No I/O, no allocation, no global
 * state: any thread (the submit stage's thread, the start-up code, the CLI, tests, fuzzers). */
#ifndef NF_RPC_H
#define NF_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "jtok.h"
#include "u128.h"

/* TxExecutionStatus, in the server's order (a level "reaches" every level below it). */
enum rpc_wait {
    RPC_WAIT_NONE = 0,
    RPC_WAIT_INCLUDED = 1,
    RPC_WAIT_EXECUTED_OPTIMISTIC = 2,
    RPC_WAIT_INCLUDED_FINAL = 3,
    RPC_WAIT_EXECUTED = 4,
    RPC_WAIT_FINAL = 5,
};

/* rpc_wait_name: "NONE" ... "FINAL" (static); "?" for a bad value. */
const char *rpc_wait_name(int w);
/* rpc_wait_parse: exact, case-sensitive name s[0..len) → *out. Returns 0 or NF_EINVAL. */
int rpc_wait_parse(const char *s, size_t len, enum rpc_wait *out);

enum rpc_finality {
    RPC_FINALITY_FINAL = 0,
    RPC_FINALITY_OPTIMISTIC = 1,
};

/* ---- builders --------------------------------------------------------------------------------
 * Each writes one JSON-RPC 2.0 request {"jsonrpc":"2.0","id":<id>,"method":..,"params":..} plus a
 * NUL into buf[0..cap) and returns its length (without the NUL), or NF_ENOSPC when it does not
 * fit (cap = length + 1 is enough), NF_EINVAL for a string argument holding anything but printable
 * ASCII without '"' and '\\' (ids, account ids, keys, hashes and base64 never do). id is sent as a
 * JSON string. All inputs are borrowed until return; strings are NUL-terminated unless a length is
 * given. */

/* send_tx with the signed transaction bytes (base64-encoded here) or its base64 text. */
int rpc_build_send_tx(char *buf,
                      size_t cap,
                      const char *id,
                      const uint8_t *signed_tx,
                      size_t tx_len,
                      enum rpc_wait wait_until);
int rpc_build_send_tx_b64(
    char *buf, size_t cap, const char *id, const char *signed_tx_base64, enum rpc_wait wait_until);
/* tx: status by hash (base58 text) and signer. */
int rpc_build_tx_status(char *buf,
                        size_t cap,
                        const char *id,
                        const char *tx_hash_b58,
                        const char *sender_account_id,
                        enum rpc_wait wait_until);
/* block {"finality":"final"}. */
int rpc_build_block_final(char *buf, size_t cap, const char *id);
/* query view_access_key / view_access_key_list / view_account. public_key: "ed25519:..." text. */
int rpc_build_view_access_key(char *buf,
                              size_t cap,
                              const char *id,
                              enum rpc_finality fin,
                              const char *account_id,
                              const char *public_key);
int rpc_build_view_access_key_list(
    char *buf, size_t cap, const char *id, enum rpc_finality fin, const char *account_id);
int rpc_build_view_account(
    char *buf, size_t cap, const char *id, enum rpc_finality fin, const char *account_id);
/* query call_function: args[0..args_len) (JSON text, may be empty) is sent as args_base64. */
int rpc_build_call_function(char *buf,
                            size_t cap,
                            const char *id,
                            enum rpc_finality fin,
                            const char *contract,
                            const char *method,
                            const char *args,
                            size_t args_len);
/* call_function of a NEP-141/145 view with args {"account_id":account_id}: method is
 * "ft_balance_of" or "storage_balance_of" (any method taking only account_id works).
 * account_id must be a valid account id (no escaping needed), else NF_EINVAL. */
int rpc_build_account_view(char *buf,
                           size_t cap,
                           const char *id,
                           enum rpc_finality fin,
                           const char *contract,
                           const char *method,
                           const char *account_id);
/* gas_price [null] (latest block). */
int rpc_build_gas_price(char *buf, size_t cap, const char *id);

/* ---- response classification ----------------------------------------------------------------- */

enum rpc_method {
    RPC_M_SEND_TX = 0, /* also broadcast_tx_commit */
    RPC_M_TX = 1,      /* tx / EXPERIMENTAL_tx_status */
    RPC_M_BLOCK = 2,
    RPC_M_VIEW_ACCESS_KEY = 3,
    RPC_M_VIEW_ACCESS_KEY_LIST = 4,
    RPC_M_VIEW_ACCOUNT = 5,
    RPC_M_CALL_FUNCTION = 6,
    RPC_M_GAS_PRICE = 7,
};

enum rpc_kind {
    /* successes */
    RPC_OK_TX = 0,          /* send_tx / tx result (outcome may be partial, see tx_status) */
    RPC_OK_BLOCK,           /* block_hash, block_height */
    RPC_OK_ACCESS_KEY,      /* nonce, full_access, block_height, block_hash */
    RPC_OK_ACCESS_KEY_LIST, /* key_count entries written to the caller's array */
    RPC_OK_ACCOUNT,         /* amount, locked, block_height, block_hash */
    RPC_OK_CALL,            /* call_len result bytes in the caller's buffer */
    RPC_OK_GAS_PRICE,       /* gas_price */
    /* query answers that are not successes */
    RPC_UNKNOWN_ACCESS_KEY, /* legacy in-result "... does not exist while viewing" or structured */
    RPC_QUERY_ERROR,        /* other legacy in-result error (e.g. contract panicked in a view) */
    /* InvalidTxError at admission: the tx was rejected (variant in .cause) */
    RPC_INVALID_NONCE,          /* tx_nonce, ak_nonce */
    RPC_NONCE_TOO_LARGE,        /* tx_nonce, ak_nonce = upper_bound */
    RPC_EXPIRED,                /* block_hash too old or unknown */
    RPC_INVALID_CHAIN,          /* block_hash from another chain */
    RPC_SHARD_CONGESTED,        /* shard_id, congestion_level */
    RPC_SHARD_STUCK,            /* shard_id, missed_chunks */
    RPC_INVALID_SIGNATURE,      /* */
    RPC_ACCESS_KEY_NOT_FOUND,   /* */
    RPC_OTHER_ACCESS_KEY_ERROR, /* RequiresFullAccess, ReceiverMismatch, ... (in .detail) */
    RPC_NOT_ENOUGH_BALANCE,     /* balance, cost */
    RPC_LACK_BALANCE_FOR_STATE, /* balance = amount */
    RPC_SIGNER_DOES_NOT_EXIST,  /* */
    RPC_ACTIONS_VALIDATION,     /* inner variant in .detail */
    RPC_TX_SIZE_EXCEEDED,       /* size, size_limit */
    RPC_OTHER_INVALID_TX,       /* raw variant name in .cause */
    /* other JSON-RPC errors */
    RPC_TIMEOUT,             /* TIMEOUT_ERROR (HTTP 408); 2026 info.cause in .detail */
    RPC_UNKNOWN_TRANSACTION, /* */
    RPC_UNKNOWN_ACCOUNT,     /* */
    RPC_PARSE_ERROR,         /* REQUEST_VALIDATION_ERROR/PARSE_ERROR (HTTP 400) */
    RPC_METHOD_NOT_FOUND,    /* */
    RPC_INTERNAL_ERROR,      /* INTERNAL_ERROR (HTTP 500) */
    RPC_OTHER_ERROR,         /* any other structured error (cause name in .cause) */
    /* transport-level */
    RPC_RATE_LIMITED, /* HTTP 429; retry_after_s as passed in */
    RPC_HTTP_ERROR,   /* other non-200 status without a JSON-RPC envelope (502, 503, 0 = none) */
    RPC_MALFORMED,    /* 200 but not a JSON-RPC answer we understand */
    RPC_KIND_COUNT
};

/* rpc_kind_name: "OK_TX", "INVALID_NONCE", ... (static). */
const char *rpc_kind_name(int kind);
/* rpc_kind_is_definitive_rejection: 1 when the answer proves the transaction was NOT accepted (an
 * InvalidTxError at admission, or a request the node could not parse), so the same nonce slot or a
 * re-signed tx cannot double-spend; 0 for successes and for every unknown outcome (timeouts, 5xx,
 * transport errors, rate limits, malformed answers, internal errors). */
int rpc_kind_is_definitive_rejection(int kind);

/* Outcome status of a transaction (the top-level "status" of FinalExecutionOutcomeView). */
enum rpc_tx_status {
    RPC_TXS_ABSENT = 0, /* no status field (wait_until NONE/INCLUDED answers) */
    RPC_TXS_NOT_STARTED = 1,
    RPC_TXS_STARTED = 2,
    RPC_TXS_SUCCESS = 3, /* SuccessValue or SuccessReceiptId */
    RPC_TXS_FAILURE = 4,
    RPC_TXS_UNKNOWN = 5, /* "Unknown" or an unrecognised form */
};

/* One entry of a view_access_key_list answer. */
struct rpc_key_entry {
    char public_key[128]; /* "ed25519:..." as sent by the node (truncated if longer) */
    uint64_t nonce;
    int full_access;
};

/* The response to classify. body need not be NUL-terminated. */
struct rpc_response {
    enum rpc_method method;
    int http_status;   /* 200, 408, 429, 502, ...; 0 when there was no HTTP answer */
    int retry_after_s; /* from a Retry-After header, or -1 */
    const char *body;
    size_t len;
    const char *expect_id;      /* if not NULL, a different "id" is RPC_MALFORMED */
    uint8_t *call_out;          /* RPC_M_CALL_FUNCTION: result bytes go here */
    size_t call_cap;            /*   capacity of call_out */
    struct rpc_key_entry *keys; /* RPC_M_VIEW_ACCESS_KEY_LIST: entries go here */
    size_t keys_cap;            /*   capacity of keys */
};

struct rpc_result {
    enum rpc_kind kind;
    int http_status;
    int retry_after_s;
    char name[32];     /* error.name (HANDLER_ERROR, ...) or "" */
    char cause[48];    /* error.cause.name, or for InvalidTxError the variant name */
    char detail[64];   /* inner variant (ActionsValidation/InvalidAccessKeyError/TIMEOUT cause) */
    char message[256]; /* data/ExecutionError/legacy error text, UTF-8, truncated */

    /* RPC_OK_TX (and RPC_TIMEOUT with a 2026 PENDING status) */
    int has_final_status;
    enum rpc_wait final_status;
    enum rpc_tx_status tx_status;
    int failure_invalid_tx;   /* Failure was an InvalidTxError (variant in cause) */
    int64_t failure_action;   /* ActionError index, -1 when absent or null */
    char failure_kind[48];    /* ActionError kind variant ("FunctionCallError", ...) */
    char failure_account[65]; /* LackBalanceForState ActionError: the account short of NEAR */
    nf_u128 failure_amount;   /*   and the yocto it lacks for its state */
    int has_tx_hash;
    uint8_t tx_hash[32]; /* transaction.hash, else transaction_outcome.id */
    int has_transaction_outcome;

    /* error details */
    uint64_t tx_nonce, ak_nonce; /* INVALID_NONCE; NONCE_TOO_LARGE: ak_nonce = upper_bound */
    nf_u128 balance, cost;       /* NOT_ENOUGH_BALANCE; LACK_BALANCE_FOR_STATE: balance=amount */
    uint64_t shard_id;           /* SHARD_CONGESTED / SHARD_STUCK */
    double congestion_level;     /* SHARD_CONGESTED */
    uint64_t missed_chunks;      /* SHARD_STUCK */
    uint64_t size, size_limit;   /* TX_SIZE_EXCEEDED */

    /* views */
    int has_block;
    uint8_t block_hash[32];
    uint64_t block_height;
    uint64_t nonce;         /* OK_ACCESS_KEY */
    int full_access;        /* OK_ACCESS_KEY */
    nf_u128 amount;         /* OK_ACCOUNT */
    nf_u128 locked;         /* OK_ACCOUNT */
    uint64_t storage_usage; /* OK_ACCOUNT: bytes of state (0 when absent) */
    size_t call_len;        /* OK_CALL: bytes written to call_out */
    size_t key_count;       /* OK_ACCESS_KEY_LIST */
    nf_u128 gas_price;      /* OK_GAS_PRICE */
};

/* Token scratch enough for a send_tx answer of a 100-action transaction with gas profiles. */
#define RPC_TOKENS_TX 32768
/* Token scratch enough for any view, block and error answer. */
#define RPC_TOKENS_VIEW 4096

/* ---- call_function result bytes and HTTP headers of an answer ----------------------------------
 * Readers of what a node (or the contract behind it) sends besides the JSON-RPC envelope. Pure,
 * any thread; they borrow their input until return and never read past len (it need not be
 * NUL-terminated). */

/* RPC_RETRY_AFTER_MAX: the largest Retry-After honoured (seconds); a node asking for longer is
 * treated as not saying. */
#define RPC_RETRY_AFTER_MAX 3599

/* rpc_retry_after: the delta-seconds of one HTTP header line line[0..len) (as libcurl hands it
 * over, with or without its CRLF): "Retry-After:" (name case-insensitive, no space before the
 * colon), optional spaces/tabs, 1 or more ASCII digits, optional spaces/tabs, then "\r\n", "\n"
 * or nothing. Returns the seconds in 0..RPC_RETRY_AFTER_MAX, or -1 for another header, an
 * HTTP-date, a sign, any other byte, or a value above RPC_RETRY_AFTER_MAX (however many digits). */
int rpc_retry_after(const char *line, size_t len);

/* rpc_call_u128: a call_function result (rpc_result.call_len bytes of call_out) that is exactly a
 * JSON string of decimal digits: '"', 1 or more digits, '"', nothing before or after (what
 * ft_balance_of and ft_total_supply return: a serialized U128, leading zeros allowed). Returns 0
 * and sets *out; NF_EINVAL for anything else (a bare number, escapes, spaces, a sign, no closing
 * quote); NF_ERANGE above 2^128-1. *out is left alone on error. */
int rpc_call_u128(const char *res, size_t len, nf_u128 *out);

/* rpc_call_storage_balance: a storage_balance_of (NEP-145) call_function result: exactly "null"
 * (the account is not registered: *registered = 0) or one JSON object (a StorageBalance: 1).
 * toks[0..cap) is jtok scratch for the object. Returns 0; NF_EINVAL for anything else (a
 * malformed answer, *registered left alone); NF_ETOOMANY when an object needs more than cap
 * tokens (one of len bytes needs at most len / 2 + 1). */
int rpc_call_storage_balance(
    const char *res, size_t len, struct jtok *toks, size_t cap, int *registered);

/* rpc_url_redact: url as scheme://host[:port] only, for /health, /metrics, logs and
 * --print-config: the path, query, fragment and userinfo (where RPC providers put API keys) are
 * dropped. Writes at most cap-1 bytes and a NUL into out (cap >= 1); text without "://" becomes
 * "<redacted>". Pure; any thread. Returns the length written. */
size_t rpc_url_redact(const char *url, char *out, size_t cap);

/* rpc_parse: classifies resp (body + HTTP status) into *r. toks[0..tok_cap) is scratch.
 * Returns 0 when r->kind is set (including every error kind); NF_ETOOMANY when toks is too small
 * (retry with more); NF_ENOSPC when call_out or keys is too small for the answer. A body that is
 * not JSON is never an error return: it is RPC_HTTP_ERROR (non-200) or RPC_MALFORMED (200).
 * Borrows resp, its buffers and toks until return; r holds copies only. */
int rpc_parse(const struct rpc_response *resp,
              struct jtok *toks,
              size_t tok_cap,
              struct rpc_result *r);

#endif
