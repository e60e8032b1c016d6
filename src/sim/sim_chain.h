/* sim_chain: nearsim's chain state machine: genesis accounts and keys, the NEP-141/145 FT
 * contract model, transaction admission in nearcore's validation order, the transaction pool,
 * block production with per-chunk gas limits, the delayed receipt queue, refunds, and the audit
 * counters (per-memo application counts). No I/O, no threads, no clock: the caller passes time in
 * and calls sim_chain_produce_block; tests and the bench drive it directly. All state is owned by
 * one thread (nearsim's event loop). Reference: docs/PROTOCOL.md sections 2-8. */
#ifndef NF_SIM_CHAIN_H
#define NF_SIM_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "near_tx.h"
#include "sim_map.h"
#include "u128.h"

#define SIM_ACCOUNT_MAX      64
#define SIM_NONCE_MULTIPLIER 1000000ull
#define SIM_MIN_STORAGE      ((nf_u128)1250000000ull * 1000000000000ull) /* 0.00125 NEAR */
#define SIM_YOCTO_PER_NEAR   ((nf_u128)1000000000000ull * 1000000000000ull)

/* Chain parameters (filled by sim_cfg; see sim_cfg.c for flags and defaults). const once the
 * chain exists. */
struct sim_chain_cfg {
    char signer[SIM_ACCOUNT_MAX + 1];
    char contract[SIM_ACCOUNT_MAX + 1];
    char receiver_prefix[SIM_ACCOUNT_MAX + 1];
    char unregistered_prefix[SIM_ACCOUNT_MAX + 1];
    char account_suffix[SIM_ACCOUNT_MAX + 1];
    uint32_t receivers;
    uint32_t expect_memos; /* initial size of the audit's memo map (it doubles when needed) */
    uint32_t unregistered;
    nf_u128 total_supply;
    nf_u128 signer_balance;  /* yocto NEAR */
    nf_u128 account_balance; /* yocto NEAR of every other genesis account */
    uint64_t genesis_height;
    uint64_t validity_blocks;
    uint64_t max_prepaid_gas;      /* per tx: 300 Tgas or 1 Pgas */
    uint64_t chunk_gas;            /* receipt execution gas per block */
    uint64_t chunk_tx_gas;         /* conversion (send) gas per block for new txs */
    uint64_t wasm_gas_ft_transfer; /* contract gas burnt by one ft_transfer */
    uint64_t wasm_gas_storage;     /* storage_deposit and view methods */
    nf_u128 gas_price;
    double congestion_threshold; /* reject new txs at or above this level */
    nf_u128 congestion_max_gas;  /* delayed gas at level 1.0 */
    char ft_name[64];
    char ft_symbol[16];
    uint32_t ft_decimals;
};

/* sim_chain_cfg_defaults: nearcore-like defaults (docs/PROTOCOL.md sections 4, 6, 7). */
void sim_chain_cfg_defaults(struct sim_chain_cfg *cfg);

enum sim_level {
    SIM_LEVEL_NONE = 0,
    SIM_LEVEL_INCLUDED,
    SIM_LEVEL_EXECUTED_OPTIMISTIC,
    SIM_LEVEL_INCLUDED_FINAL,
    SIM_LEVEL_EXECUTED,
    SIM_LEVEL_FINAL,
};

/* sim_level_name / sim_level_parse: TxExecutionStatus strings. parse returns -1 if unknown. */
const char *sim_level_name(enum sim_level l);
int sim_level_parse(const char *s);

/* ---- state ---------------------------------------------------------------------------------- */

struct sim_nonce_hist {
    uint64_t height; /* block at which the nonce changed */
    uint64_t before; /* nonce before that block */
};

struct sim_key {
    struct nf_pubkey pk;
    uint64_t nonce;
    struct sim_nonce_hist hist[4]; /* last changes, newest at hist_head; for finality views */
    uint8_t hist_head;
    uint8_t hist_n;
    uint8_t full_access;
    uint8_t has_allowance;
    nf_u128 allowance;
    char *fc_receiver; /* FunctionCall permission (malloc'd), NULL for full access */
    char **fc_methods; /* malloc'd strings */
    uint32_t n_fc_methods;
};

struct sim_account {
    char id[SIM_ACCOUNT_MAX + 1];
    uint8_t id_len;
    uint8_t exists;         /* a NEAR account (view_account works) */
    uint8_t is_contract;    /* the FT contract */
    uint8_t ft_registered;  /* NEP-145 registration with the FT contract */
    nf_u128 balance;        /* yocto NEAR */
    uint64_t storage_bytes; /* fault: the state size view_account reports and receipts check
                               (0: none set, nothing checked); a receipt leaving balance below
                               bytes * 10^19 fails LackBalanceForState with index null */
    nf_u128 ft_balance;
    struct sim_key *keys;
    uint32_t n_keys, cap_keys;
};

enum sim_tx_state {
    SIM_TX_POOL = 0, /* admitted, waiting for inclusion */
    SIM_TX_INCLUDED, /* converted into a receipt in block included_height */
};

struct sim_extra_log {
    uint32_t action;
    const char *text; /* static string */
};

struct sim_tx {
    uint8_t hash[NEAR_HASH_LEN];
    uint8_t *raw; /* borsh(SignedTransaction), malloc'd, owned */
    uint32_t raw_len;
    uint32_t n_actions;
    struct sim_account *signer;
    struct nf_pubkey pk;
    uint64_t nonce;
    uint64_t seq; /* admission order */
    uint8_t state;
    uint8_t executed;      /* receipt executed (exec_height valid) */
    uint8_t refunded;      /* refund receipts executed (refund_height valid) */
    uint8_t sir;           /* signer == receiver */
    uint64_t block_height; /* height of tx.block_hash (validity window) */
    uint64_t included_height, exec_height, refund_height;
    uint64_t send_gas;    /* burnt at conversion */
    uint64_t exec_fees;   /* prepaid exec fees of the whole receipt */
    uint64_t prepaid_gas; /* sum of FunctionCall.gas */
    uint64_t receipt_gas_burnt;
    nf_u128 deposits;
    nf_u128 total_cost;
    nf_u128 gas_refund;      /* yocto, to the signer from system */
    nf_u128 deposit_refund;  /* yocto, failed receipt: all deposits back, from system */
    nf_u128 contract_refund; /* yocto, storage_deposit excess refunded by the contract */
    int32_t fail_index;      /* failed action, or -1: success or fail_no_index (when executed) */
    uint8_t fail_no_index;   /* failed after all actions (ActionError.index null) */
    char *fail_kind;         /* JSON of ActionError.kind (malloc'd) when failed */
    char *return_value;      /* raw return bytes of the last action (malloc'd) or NULL = "" */
    uint32_t return_len;
    struct sim_extra_log *extra_logs; /* malloc'd, rare (storage_deposit messages) */
    uint32_t n_extra_logs;
    uint32_t transfers;        /* ft_transfer actions applied (0 when failed) */
    struct sim_tx *fifo_next;  /* receipt / refund queue link */
    struct sim_tx *block_next; /* next tx included in the same block (chunk view) */
    /* decoded actions pointing into raw, kept from admission until execution (NULL when the tx
     * has AddKey method names, which live in the decoder's scratch pool) */
    struct near_action *actions;
    struct nf_bytes receiver_id; /* points into raw */
};

struct sim_block {
    uint8_t hash[NEAR_HASH_LEN];
    uint8_t prev_hash[NEAR_HASH_LEN];
    char hash_b58[48]; /* hash as base58 text (every outcome in the block repeats it) */
    uint64_t height;
    uint64_t timestamp_ns;
    uint64_t gas_used;    /* receipt execution gas in this block */
    uint64_t tx_gas;      /* conversion gas */
    uint32_t n_txs;       /* transactions included */
    uint32_t n_receipts;  /* action receipts executed */
    uint32_t n_transfers; /* ft_transfers applied */
    nf_u128 tokens_burnt;
    struct sim_tx *first_tx, *last_tx; /* txs included here, in order (borrowed; linked by
                                        * block_next; included txs live as long as the chain) */
};

#define SIM_BLOCK_PAGE 1024

enum sim_reject_code {
    SIM_REJ_NONE = 0,
    SIM_REJ_PARSE,             /* PARSE_ERROR (request validation) */
    SIM_REJ_VERSION,           /* InvalidTransactionVersion */
    SIM_REJ_SIGNATURE,         /* InvalidSignature */
    SIM_REJ_EXPIRED,           /* Expired */
    SIM_REJ_INVALID_CHAIN,     /* InvalidChain */
    SIM_REJ_SIZE,              /* TransactionSizeExceeded {size, limit} */
    SIM_REJ_TOO_MANY_ACTIONS,  /* ActionsValidation TotalNumberOfActionsExceeded */
    SIM_REJ_PREPAID_GAS,       /* ActionsValidation TotalPrepaidGasExceeded */
    SIM_REJ_ZERO_GAS,          /* ActionsValidation FunctionCallZeroAttachedGas */
    SIM_REJ_METHOD_LEN,        /* ActionsValidation FunctionCallMethodNameLengthExceeded */
    SIM_REJ_ARGS_LEN,          /* ActionsValidation FunctionCallArgumentsLengthExceeded */
    SIM_REJ_DELETE_NOT_FINAL,  /* ActionsValidation DeleteActionMustBeFinal */
    SIM_REJ_CONGESTED,         /* ShardCongested */
    SIM_REJ_SIGNER_MISSING,    /* SignerDoesNotExist */
    SIM_REJ_KEY_NOT_FOUND,     /* InvalidAccessKeyError AccessKeyNotFound */
    SIM_REJ_REQUIRES_FULL,     /* InvalidAccessKeyError RequiresFullAccess */
    SIM_REJ_DEPOSIT_WITH_FC,   /* InvalidAccessKeyError DepositWithFunctionCall */
    SIM_REJ_RECEIVER_MISMATCH, /* InvalidAccessKeyError ReceiverMismatch */
    SIM_REJ_METHOD_MISMATCH,   /* InvalidAccessKeyError MethodNameMismatch */
    SIM_REJ_ALLOWANCE,         /* InvalidAccessKeyError NotEnoughAllowance */
    SIM_REJ_NONCE,             /* InvalidNonce {tx_nonce, ak_nonce} */
    SIM_REJ_BALANCE,           /* NotEnoughBalance {signer_id, balance, cost} */
    SIM_REJ_COST_OVERFLOW,     /* CostOverflow */
    SIM_REJ_STUCK,             /* ShardStuck {shard_id, missed_chunks} */
    SIM_REJ__COUNT,
};

/* A rejection with the fields its JSON needs. */
struct sim_reject {
    enum sim_reject_code code;
    uint64_t a, b; /* nonce: tx/ak; size: size/limit; gas: total/limit; lengths */
    nf_u128 x, y;  /* balance/cost; allowance/cost */
    double level;  /* congestion level */
    char account[SIM_ACCOUNT_MAX + 1];
    char other[260]; /* method name, receivers, ... */
    struct nf_pubkey pk;
    char why[200]; /* parse error detail */
};

/* sim_reject_name: short reason name for audit counters ("InvalidNonce", ...). */
const char *sim_reject_name(enum sim_reject_code code);

/* ---- history for lagged views ----------------------------------------------------------------
 * With history kept (sim_chain_keep_history), every state change is journalled with the height of
 * the block it belongs to (changes made between blocks by faults count for the head). A lagged
 * view walks the journal back to a height and forward again (sim_chain_rewind / restore): each
 * entry swaps its value with the live one, so the same entry undoes and redoes its change. */
enum sim_hist_type {
    SIM_HIST_NEAR = 0,  /* acct->balance */
    SIM_HIST_FT,        /* acct->ft_balance and ft_registered (flag) */
    SIM_HIST_EXISTS,    /* acct->exists (flag) */
    SIM_HIST_NONCE,     /* nonce of acct's key pk */
    SIM_HIST_ALLOWANCE, /* allowance of acct's key pk */
    SIM_HIST_KEY,       /* key pk added or deleted: toggles between acct and held */
};

struct sim_hist {
    uint64_t height; /* block the change belongs to */
    struct sim_account *acct;
    nf_u128 value;        /* NEAR / FT balance, nonce, allowance: the other side of the swap */
    struct nf_pubkey pk;  /* NONCE, ALLOWANCE, KEY */
    struct sim_key *held; /* KEY: the key while it is absent from acct (malloc'd, owns members) */
    uint8_t type;         /* enum sim_hist_type */
    uint8_t flag;         /* FT: ft_registered; EXISTS: exists; KEY: held has the key */
};

struct sim_undo; /* sim_chain.c */
struct exec_ctx; /* sim_chain.c */

struct sim_memo {
    uint32_t count;
    uint16_t len;
    char text[]; /* decoded memo, NUL-terminated */
};

struct sim_audit {
    uint64_t txs_admitted;
    uint64_t txs_duplicate; /* same hash submitted again */
    uint64_t txs_included;
    uint64_t txs_dropped_nonce;       /* InvalidNonce at inclusion */
    uint64_t txs_dropped_nonce_large; /* NonceTooLarge at inclusion */
    uint64_t txs_dropped_other;       /* expired / balance / key gone at inclusion */
    uint64_t receipts_ok;
    uint64_t receipts_failed;
    uint64_t transfers_applied;
    uint64_t actions_applied;
    uint64_t rejected[SIM_REJ__COUNT];
    uint64_t duplicate_memo_count; /* memos applied more than once */
};

struct sim_chain {
    struct sim_chain_cfg cfg;
    /* blocks */
    struct sim_block **block_pages;
    size_t n_block_pages;
    uint64_t head; /* height of the head block */
    struct sim_map block_by_hash;
    /* accounts */
    struct sim_map accounts;
    struct sim_account *contract;
    struct sim_account *signer;
    /* transactions */
    struct sim_map txs;
    struct sim_tx **pool;
    size_t n_pool, cap_pool;
    uint64_t next_seq;
    /* receipts waiting for execution (FIFO, ready one block after inclusion) */
    struct sim_tx *rq_head, *rq_tail;
    size_t rq_len;
    nf_u128 rq_gas;      /* congestion weight of all queued receipts */
    nf_u128 delayed_gas; /* weight of queued receipts that missed their first block */
    /* refunds waiting for the next block */
    struct sim_tx *fq_head, *fq_tail;
    /* forced congestion level (faults), 0 = none */
    double forced_congestion;
    uint64_t forced_missed_chunks; /* fault: chunks missed by the shard (ShardStuck at >= 100) */
    uint64_t lag_blocks;           /* fault: `block` by finality answers this many blocks behind */
    int bad_sig_key_set;           /* fault: signatures by this key verify as invalid */
    int reject_next_code;          /* fault: the next reject_next_count admissions get this */
    uint64_t reject_next_count;    /*        enum sim_reject_code (unit variants only) */
    struct nf_pubkey bad_sig_key;
    /* audit */
    struct sim_map memos;
    char **dup_memos; /* first SIM_DUP_MEMO_CAP memos applied twice (borrowed from memos) */
    size_t n_dup_memos;
    struct sim_audit audit;
    nf_u128 ft_total_supply;
    struct exec_ctx *exec; /* scratch of the receipt being executed (sim_chain.c) */
    /* undo log of the receipt being executed */
    struct sim_undo *undo;
    size_t n_undo, cap_undo;
    /* history for lagged views: kept only while hist_blocks > 0 */
    struct sim_hist *hist;
    size_t hist_start, hist_len, hist_cap; /* live entries are hist[hist_start..hist_len) */
    uint64_t hist_blocks;                  /* entries of the last hist_blocks blocks are kept */
    uint64_t live_head;                    /* rewound: the real head; 0 when not rewound */
    size_t hist_rewound;                   /* rewound: entries from here on are swapped back */
    /* scratch for decoding */
    struct near_action *dec_actions;
    struct nf_bytes *dec_names;
};

#define SIM_DUP_MEMO_CAP 1000
#define SIM_DEC_ACTIONS  (NEAR_MAX_ACTIONS + 1)
#define SIM_DEC_NAMES    1024

/* sim_chain_new: empty chain with the genesis block at cfg->genesis_height (timestamp now_ns)
 * and the genesis accounts: signer (all FT supply and signer_balance NEAR, no keys yet), the
 * contract, receivers (registered) and unregistered accounts. Caller owns *out. Returns 0,
 * NF_ENOMEM or NF_ECONFIG (bad account name). */
int sim_chain_new(const struct sim_chain_cfg *cfg, uint64_t now_ns, struct sim_chain **out);
void sim_chain_free(struct sim_chain *c);

/* sim_chain_add_key: adds a full-access key to account (genesis). Its nonce is
 * (genesis_height - 1) * 10^6 like a key added in the genesis block. Returns 0, NF_ENOTFOUND,
 * NF_ESTATE (key exists), NF_ENOMEM. */
int sim_chain_add_key(struct sim_chain *c, const char *account, const struct nf_pubkey *pk);

/* sim_chain_account: account by id or NULL. Borrowed until the chain is freed. */
struct sim_account *sim_chain_account(const struct sim_chain *c, const char *id, size_t len);
/* sim_account_key: the key of acct equal to pk, or NULL. */
struct sim_key *sim_account_key(const struct sim_account *acct, const struct nf_pubkey *pk);
/* sim_key_nonce_at: the key's nonce as of the state after block height h, from its last four
 * changes (see sim_chain_nonce_at). */
uint64_t sim_key_nonce_at(const struct sim_key *k, uint64_t h);

/* sim_chain_block: block at height h or NULL. sim_chain_block_by_hash likewise. While the chain
 * is rewound, blocks above its (rewound) head are not there. */
const struct sim_block *sim_chain_block(const struct sim_chain *c, uint64_t h);
const struct sim_block *sim_chain_block_by_hash(const struct sim_chain *c, const uint8_t *hash);
/* sim_chain_final: height of the last final block (head - 2, not below genesis). */
uint64_t sim_chain_final(const struct sim_chain *c);

enum sim_submit_status {
    SIM_SUBMIT_REJECTED = 0, /* see reject */
    SIM_SUBMIT_ACCEPTED,     /* new tx in the pool */
    SIM_SUBMIT_KNOWN,        /* same hash already known (pool or chain): never applied twice */
    SIM_SUBMIT_VALID,        /* check_only: would be accepted */
};

struct sim_submit_result {
    enum sim_submit_status status;
    uint8_t hash[NEAR_HASH_LEN]; /* valid unless reject.code == SIM_REJ_PARSE */
    struct sim_tx *tx;           /* ACCEPTED / KNOWN: borrowed */
    struct sim_reject reject;
};

/* sim_chain_submit: validates borsh(SignedTransaction) raw[0..len) in nearcore's order (decode,
 * signature, validity window, size and actions, congestion, signer, key, nonce, cost, balance, key
 * permission) and adds it to the pool. A tx whose hash is already known is reported KNOWN (even if
 * it would now fail the nonce check). check_only validates without adding (on a rewound chain, as
 * of its rewound head). Copies raw. Returns 0, NF_ENOMEM, or NF_ESTATE (rewound and not
 * check_only); the verdict is in *res. */
int sim_chain_submit(struct sim_chain *c,
                     const uint8_t *raw,
                     size_t len,
                     int check_only,
                     struct sim_submit_result *res);

/* sim_chain_find_tx: tx by hash (pool or chain) or NULL. While the chain is rewound only a tx
 * included at or below the rewound head is found (a lagging node knows nothing newer, and has
 * not got the pool's). */
struct sim_tx *sim_chain_find_tx(const struct sim_chain *c, const uint8_t hash[NEAR_HASH_LEN]);

/* sim_tx_level: the tx's TxExecutionStatus at the current (possibly rewound) head. */
enum sim_level sim_tx_level(const struct sim_chain *c, const struct sim_tx *tx);
/* sim_tx_executed / sim_tx_refunded: its receipt / its refunds ran at or below the current head. */
int sim_tx_executed(const struct sim_chain *c, const struct sim_tx *tx);
int sim_tx_refunded(const struct sim_chain *c, const struct sim_tx *tx);

/* sim_chain_keep_history: from now on, journal every state change and keep the entries of the
 * last `blocks` blocks (0 stops journalling and drops the journal), so the chain can be rewound
 * that far. Not while rewound. */
void sim_chain_keep_history(struct sim_chain *c, uint64_t blocks);

/* sim_chain_rewind: shows the chain as it was after block h (genesis <= h < head): accounts,
 * balances, registrations, keys and nonces go back through the journal (changes older than the
 * kept history stay), head reads h, and newer blocks and transactions are hidden. Only reads and
 * check_only submissions are allowed until sim_chain_restore, which must come before any other
 * call that changes the chain. Returns 0, or NF_ESTATE (already rewound, h out of range). */
int sim_chain_rewind(struct sim_chain *c, uint64_t h);
/* sim_chain_restore: undoes sim_chain_rewind. No-op when not rewound. */
void sim_chain_restore(struct sim_chain *c);

/* sim_chain_nonce_at: the nonce of key k of account a as of the state after block h (<= head).
 * Uses the journal when history is kept (exact within it), else the key's last four changes. */
uint64_t sim_chain_nonce_at(const struct sim_chain *c,
                            const struct sim_account *a,
                            const struct sim_key *k,
                            uint64_t h);

/* sim_chain_set_balance / sim_chain_move_tokens: fault injections between blocks, journalled at
 * the head. move_tokens needs both accounts registered and enough tokens (NF_EINVAL). */
void sim_chain_set_balance(struct sim_chain *c, struct sim_account *a, nf_u128 yocto);
int sim_chain_move_tokens(struct sim_chain *c,
                          struct sim_account *from,
                          struct sim_account *to,
                          nf_u128 amount);

/* sim_chain_produce_block: produces block head+1 at time now_ns: executes refunds of the previous
 * block, executes queued receipts up to chunk_gas (the rest stays delayed; at least one runs),
 * then converts pool transactions (ascending nonce per key) up to chunk_tx_gas. Returns 0,
 * NF_ENOMEM, or NF_ESTATE while rewound. */
int sim_chain_produce_block(struct sim_chain *c, uint64_t now_ns);

/* sim_chain_congestion: current congestion level in [0,1] (delayed gas / max, or forced). */
double sim_chain_congestion(const struct sim_chain *c);

/* sim_chain_bump_nonce: an external writer used key pk of account: nonce += by (recorded at the
 * head height). Returns 0 or NF_ENOTFOUND. */
int sim_chain_bump_nonce(struct sim_chain *c,
                         const char *account,
                         const struct nf_pubkey *pk,
                         uint64_t by);

/* sim_chain_memo: the memo entry for text or NULL. */
const struct sim_memo *sim_chain_memo(const struct sim_chain *c, const char *text, size_t len);

/* sim_chain_ft_supply_sum: sum of all FT balances (for the conservation check). */
nf_u128 sim_chain_ft_supply_sum(const struct sim_chain *c);

/* sim_tx_decode: decodes tx->raw into the chain's scratch space; *stx is valid until the next
 * decode. Returns 0 or a decode error (never for a stored tx). */
int sim_tx_decode(struct sim_chain *c, const struct sim_tx *tx, struct near_signed_tx *stx);

/* sim_receipt_id: deterministic receipt id n (0 = the action receipt, 1 = deposit/contract
 * refund, 2 = gas refund) of tx: the tx hash XOR a fixed per-n mask, so an id leads back to its
 * tx (sim_chain_find_receipt) without an index. */
void sim_receipt_id(const struct sim_tx *tx, int n, uint8_t out[NEAR_HASH_LEN]);

/* sim_chain_find_receipt: the included tx whose receipt n has this id, with *n set, or NULL.
 * Receipt 0 exists once the tx is included; the refund receipts (1, 2) once it executed and only
 * those its outcome lists. */
struct sim_tx *
sim_chain_find_receipt(const struct sim_chain *c, const uint8_t id[NEAR_HASH_LEN], int *n);

/* ---- FT contract views (shared by query call_function and view calls in transactions) ---- */

/* sim_ft_view: runs view method `method` with args on the FT contract; writes the JSON result
 * bytes (growable jw owned by the caller). Returns 0, NF_ENOTFOUND (method not found) or
 * NF_EINVAL (panic; the message is in err). */
struct jw;
int sim_ft_view(const struct sim_chain *c,
                const char *method,
                size_t method_len,
                const uint8_t *args,
                size_t args_len,
                struct jw *out,
                char *err,
                size_t errcap);

/* Fee helpers (docs/PROTOCOL.md section 7). */
uint64_t sim_fee_send(const struct near_action *a, int sir);
uint64_t sim_fee_exec(const struct near_action *a);
#define SIM_FEE_RECEIPT 108059500000ull

/* sim_tx_failed: an executed receipt failed (at an action, or after all of them). */
static inline int sim_tx_failed(const struct sim_tx *tx)
{
    return tx->fail_index >= 0 || tx->fail_no_index;
}

#endif
