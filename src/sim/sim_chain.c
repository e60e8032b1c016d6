/* sim_chain: nearsim's chain state machine (see sim_chain.h). Owns every account, access key, FT
 * balance, transaction record, block, the pool, the receipt and refund queues and the audit
 * counters. Runs on one thread (nearsim's event loop, or a test/bench main); it never blocks,
 * reads no clock and does no I/O. Model: a tx is converted (signer charged, nonce set, one action
 * receipt created) in block H, its receipt executes atomically in H+1 or later when chunk gas is
 * exhausted (delayed queue), refunds are credited in the block after execution; final = head-2. */
#include "sim_chain.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "base58.h"
#include "jw.h"
#include "nf_err.h"
#include "sim_json.h"

/* ---- configuration, names -------------------------------------------------------------------- */

void sim_chain_cfg_defaults(struct sim_chain_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->signer, sizeof(cfg->signer), "distributor.test.near");
    snprintf(cfg->contract, sizeof(cfg->contract), "ft.test.near");
    snprintf(cfg->receiver_prefix, sizeof(cfg->receiver_prefix), "user-");
    snprintf(cfg->unregistered_prefix, sizeof(cfg->unregistered_prefix), "new-");
    snprintf(cfg->account_suffix, sizeof(cfg->account_suffix), ".test.near");
    cfg->receivers = 1000;
    cfg->unregistered = 100;
    cfg->total_supply = (nf_u128)1000000000000000ull * 1000000000000000ull; /* 10^30 */
    cfg->signer_balance = SIM_YOCTO_PER_NEAR * 1000000u;                    /* 1M NEAR */
    cfg->account_balance = SIM_YOCTO_PER_NEAR * 10u;
    cfg->genesis_height = 1000;
    cfg->validity_blocks = 86400;
    cfg->max_prepaid_gas = NEAR_MAX_PREPAID_GAS;
    cfg->chunk_gas = 1000000000000000ull;
    cfg->chunk_tx_gas = 500000000000000ull;
    cfg->wasm_gas_ft_transfer = 1000000000000ull;
    cfg->wasm_gas_storage = 1000000000000ull;
    cfg->gas_price = 100000000u;
    cfg->congestion_threshold = 0.8;
    cfg->congestion_max_gas = (nf_u128)400000000000000000ull;
    snprintf(cfg->ft_name, sizeof(cfg->ft_name), "Simulated Token");
    snprintf(cfg->ft_symbol, sizeof(cfg->ft_symbol), "SIM");
    cfg->ft_decimals = 6;
}

static const char *const level_names[] = {"NONE",           "INCLUDED", "EXECUTED_OPTIMISTIC",
                                          "INCLUDED_FINAL", "EXECUTED", "FINAL"};

const char *sim_level_name(enum sim_level l)
{
    return (unsigned)l <= SIM_LEVEL_FINAL ? level_names[l] : "NONE";
}

int sim_level_parse(const char *s)
{
    for (int i = 0; i <= SIM_LEVEL_FINAL; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

const char *sim_reject_name(enum sim_reject_code code)
{
    static const char *const names[SIM_REJ__COUNT] = {
        [SIM_REJ_NONE] = "None",
        [SIM_REJ_PARSE] = "ParseError",
        [SIM_REJ_VERSION] = "InvalidTransactionVersion",
        [SIM_REJ_SIGNATURE] = "InvalidSignature",
        [SIM_REJ_EXPIRED] = "Expired",
        [SIM_REJ_INVALID_CHAIN] = "InvalidChain",
        [SIM_REJ_SIZE] = "TransactionSizeExceeded",
        [SIM_REJ_TOO_MANY_ACTIONS] = "TotalNumberOfActionsExceeded",
        [SIM_REJ_PREPAID_GAS] = "TotalPrepaidGasExceeded",
        [SIM_REJ_ZERO_GAS] = "FunctionCallZeroAttachedGas",
        [SIM_REJ_METHOD_LEN] = "FunctionCallMethodNameLengthExceeded",
        [SIM_REJ_ARGS_LEN] = "FunctionCallArgumentsLengthExceeded",
        [SIM_REJ_DELETE_NOT_FINAL] = "DeleteActionMustBeFinal",
        [SIM_REJ_CONGESTED] = "ShardCongested",
        [SIM_REJ_STUCK] = "ShardStuck",
        [SIM_REJ_SIGNER_MISSING] = "SignerDoesNotExist",
        [SIM_REJ_KEY_NOT_FOUND] = "AccessKeyNotFound",
        [SIM_REJ_REQUIRES_FULL] = "RequiresFullAccess",
        [SIM_REJ_DEPOSIT_WITH_FC] = "DepositWithFunctionCall",
        [SIM_REJ_RECEIVER_MISMATCH] = "ReceiverMismatch",
        [SIM_REJ_METHOD_MISMATCH] = "MethodNameMismatch",
        [SIM_REJ_ALLOWANCE] = "NotEnoughAllowance",
        [SIM_REJ_NONCE] = "InvalidNonce",
        [SIM_REJ_BALANCE] = "NotEnoughBalance",
        [SIM_REJ_COST_OVERFLOW] = "CostOverflow",
    };
    return (unsigned)code < SIM_REJ__COUNT && names[code] ? names[code] : "Unknown";
}

/* ---- fees (docs/PROTOCOL.md section 7) ------------------------------------------------------- */

#define FEE_FC_BASE_SEND    200000000000ull
#define FEE_FC_BASE_EXEC    780000000000ull
#define FEE_FC_BYTE_SIR     2235934ull
#define FEE_FC_BYTE_NOT_SIR 47683715ull
#define FEE_FC_BYTE_EXEC    2235934ull
#define FEE_TRANSFER        115123062500ull
#define FEE_ADD_FULL_KEY    101765125000ull
#define FEE_ADD_FC_KEY      102217625000ull
#define FEE_ADD_FC_KEY_BYTE 1925331ull
#define FEE_DELETE_KEY      94946625000ull
#define FEE_CREATE_ACCOUNT  3850000000000ull
#define FEE_DEPLOY_BASE     184765750000ull
#define FEE_DEPLOY_BYTE     6812999ull
#define FEE_STAKE           141715687500ull
#define FEE_DELETE_ACCOUNT  147489000000ull

static uint64_t fee_common(const struct near_action *a)
{
    switch (a->type) {
    case NEAR_ACT_TRANSFER:
        return FEE_TRANSFER;
    case NEAR_ACT_ADD_KEY:
        if (a->u.add_key.full_access)
            return FEE_ADD_FULL_KEY;
        {
            uint64_t bytes = 0;
            for (uint32_t i = 0; i < a->u.add_key.n_method_names; i++)
                bytes += a->u.add_key.method_names[i].len;
            return FEE_ADD_FC_KEY + FEE_ADD_FC_KEY_BYTE * bytes;
        }
    case NEAR_ACT_DELETE_KEY:
        return FEE_DELETE_KEY;
    case NEAR_ACT_CREATE_ACCOUNT:
        return FEE_CREATE_ACCOUNT;
    case NEAR_ACT_DEPLOY_CONTRACT:
        return FEE_DEPLOY_BASE + FEE_DEPLOY_BYTE * a->u.deploy_contract.code.len;
    case NEAR_ACT_STAKE:
        return FEE_STAKE;
    case NEAR_ACT_DELETE_ACCOUNT:
        return FEE_DELETE_ACCOUNT;
    default:
        return 0;
    }
}

uint64_t sim_fee_send(const struct near_action *a, int sir)
{
    if (a->type == NEAR_ACT_FUNCTION_CALL)
        return FEE_FC_BASE_SEND +
               (sir ? FEE_FC_BYTE_SIR : FEE_FC_BYTE_NOT_SIR) *
                   ((uint64_t)a->u.function_call.method_name.len + a->u.function_call.args.len);
    return fee_common(a);
}

uint64_t sim_fee_exec(const struct near_action *a)
{
    if (a->type == NEAR_ACT_FUNCTION_CALL)
        return FEE_FC_BASE_EXEC + FEE_FC_BYTE_EXEC * ((uint64_t)a->u.function_call.method_name.len +
                                                      a->u.function_call.args.len);
    return fee_common(a);
}

/* ---- maps, blocks, accounts ------------------------------------------------------------------ */

static const void *acct_key(const void *v, size_t *len)
{
    const struct sim_account *a = v;
    *len = a->id_len;
    return a->id;
}

static const void *tx_key(const void *v, size_t *len)
{
    *len = NEAR_HASH_LEN;
    return ((const struct sim_tx *)v)->hash;
}

static const void *block_key(const void *v, size_t *len)
{
    *len = NEAR_HASH_LEN;
    return ((const struct sim_block *)v)->hash;
}

static const void *memo_key(const void *v, size_t *len)
{
    const struct sim_memo *m = v;
    *len = m->len;
    return m->text;
}

const struct sim_block *sim_chain_block(const struct sim_chain *c, uint64_t h)
{
    if (h < c->cfg.genesis_height || h > c->head)
        return NULL;
    uint64_t i = h - c->cfg.genesis_height;
    return &c->block_pages[i / SIM_BLOCK_PAGE][i % SIM_BLOCK_PAGE];
}

const struct sim_block *sim_chain_block_by_hash(const struct sim_chain *c, const uint8_t *hash)
{
    const struct sim_block *b = sim_map_get(&c->block_by_hash, hash, NEAR_HASH_LEN);
    return b != NULL && b->height <= c->head ? b : NULL;
}

uint64_t sim_chain_final(const struct sim_chain *c)
{
    return c->head >= c->cfg.genesis_height + 2 ? c->head - 2 : c->cfg.genesis_height;
}

/* new_block: appends block h (= head + 1, or genesis) and makes it the head. */
static struct sim_block *new_block(struct sim_chain *c, uint64_t h, uint64_t now_ns)
{
    uint64_t i = h - c->cfg.genesis_height;
    if (i / SIM_BLOCK_PAGE >= c->n_block_pages) {
        struct sim_block **np =
            realloc(c->block_pages, (c->n_block_pages + 1) * sizeof(*c->block_pages));
        if (np == NULL)
            return NULL;
        c->block_pages = np;
        np[c->n_block_pages] = calloc(SIM_BLOCK_PAGE, sizeof(struct sim_block));
        if (np[c->n_block_pages] == NULL)
            return NULL;
        c->n_block_pages++;
    }
    struct sim_block *b = &c->block_pages[i / SIM_BLOCK_PAGE][i % SIM_BLOCK_PAGE];
    memset(b, 0, sizeof(*b));
    b->height = h;
    b->timestamp_ns = now_ns;
    if (i > 0) {
        const struct sim_block *prev =
            &c->block_pages[(i - 1) / SIM_BLOCK_PAGE][(i - 1) % SIM_BLOCK_PAGE];
        memcpy(b->prev_hash, prev->hash, NEAR_HASH_LEN);
        if (b->timestamp_ns <= prev->timestamp_ns)
            b->timestamp_ns = prev->timestamp_ns + 1;
    }
    uint8_t pre[NEAR_HASH_LEN + 24];
    memcpy(pre, b->prev_hash, NEAR_HASH_LEN);
    memcpy(pre + NEAR_HASH_LEN, &b->height, 8);
    memcpy(pre + NEAR_HASH_LEN + 8, &b->timestamp_ns, 8);
    memcpy(pre + NEAR_HASH_LEN + 16, "nearsim!", 8);
    crypto_hash_sha256(b->hash, pre, sizeof(pre));
    if (b58_encode(b->hash, NEAR_HASH_LEN, b->hash_b58, sizeof(b->hash_b58)) < 0)
        return NULL;
    if (sim_map_put(&c->block_by_hash, b) != 0)
        return NULL;
    c->head = h;
    return b;
}

struct sim_account *sim_chain_account(const struct sim_chain *c, const char *id, size_t len)
{
    return sim_map_get(&c->accounts, id, len);
}

/* get_or_create: the account record for id (valid account id, len <= 64), created (exists = 0)
 * when absent. NULL on allocation failure. */
static struct sim_account *get_or_create(struct sim_chain *c, const char *id, size_t len)
{
    struct sim_account *a = sim_map_get(&c->accounts, id, len);
    if (a != NULL)
        return a;
    if (len > SIM_ACCOUNT_MAX)
        return NULL;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    memcpy(a->id, id, len);
    a->id_len = (uint8_t)len;
    if (sim_map_put(&c->accounts, a) != 0) {
        free(a);
        return NULL;
    }
    return a;
}

struct sim_key *sim_account_key(const struct sim_account *acct, const struct nf_pubkey *pk)
{
    if (acct == NULL)
        return NULL;
    for (uint32_t i = 0; i < acct->n_keys; i++) {
        const struct sim_key *k = &acct->keys[i];
        if (k->pk.type == pk->type && memcmp(k->pk.data, pk->data, 32) == 0 &&
            (pk->type == NF_KEY_ED25519 || memcmp(k->pk.data, pk->data, 64) == 0))
            return (struct sim_key *)k;
    }
    return NULL;
}

uint64_t sim_key_nonce_at(const struct sim_key *k, uint64_t h)
{
    uint64_t n = k->nonce;
    for (uint8_t i = 0; i < k->hist_n; i++) {
        const struct sim_nonce_hist *e = &k->hist[(k->hist_head + 4 - i) % 4];
        if (e->height > h)
            n = e->before;
        else
            break;
    }
    return n;
}

/* set_nonce: changes a key's nonce in block h, keeping the per-block history for views. */
static void set_nonce(struct sim_key *k, uint64_t h, uint64_t nonce)
{
    struct sim_nonce_hist *e = &k->hist[k->hist_head];
    if (k->hist_n == 0 || e->height != h) {
        k->hist_head = (uint8_t)((k->hist_head + 1) % 4);
        e = &k->hist[k->hist_head];
        e->height = h;
        e->before = k->nonce;
        if (k->hist_n < 4)
            k->hist_n++;
    }
    k->nonce = nonce;
}

static void key_release(struct sim_key *k)
{
    free(k->fc_receiver);
    for (uint32_t i = 0; i < k->n_fc_methods; i++)
        free(k->fc_methods[i]);
    free(k->fc_methods);
    k->fc_receiver = NULL;
    k->fc_methods = NULL;
    k->n_fc_methods = 0;
}

/* push_key: appends a copy of *k (taking its malloc'd members). Returns 0 or NF_ENOMEM. */
static int push_key(struct sim_account *a, const struct sim_key *k)
{
    if (a->n_keys == a->cap_keys) {
        uint32_t ncap = a->cap_keys ? a->cap_keys * 2 : 4;
        struct sim_key *nk = realloc(a->keys, ncap * sizeof(*nk));
        if (nk == NULL)
            return NF_ENOMEM;
        a->keys = nk;
        a->cap_keys = ncap;
    }
    a->keys[a->n_keys++] = *k;
    return 0;
}

/* remove_key: removes the key at index i (swap with last); the caller took or released it. */
static void remove_key(struct sim_account *a, uint32_t i)
{
    a->keys[i] = a->keys[a->n_keys - 1];
    a->n_keys--;
}

/* ---- history for lagged views -----------------------------------------------------------------
 */

/* hist_note: journals the current value of what is about to change in block h (no-op unless
 * history is kept). k: the key for NONCE / ALLOWANCE / KEY. Returns the entry or NULL (not kept,
 * or out of memory: the change then stays in lagged views). */
static struct sim_hist *hist_note(struct sim_chain *c,
                                  enum sim_hist_type type,
                                  struct sim_account *a,
                                  const struct sim_key *k,
                                  uint64_t h)
{
    if (c->hist_blocks == 0)
        return NULL;
    if (c->hist_len == c->hist_cap) {
        if (c->hist_start > 0) {
            /* slide the kept entries down before growing */
            memmove(c->hist, c->hist + c->hist_start,
                    (c->hist_len - c->hist_start) * sizeof(*c->hist));
            c->hist_len -= c->hist_start;
            c->hist_start = 0;
        }
        if (c->hist_len == c->hist_cap) {
            size_t ncap = c->hist_cap ? c->hist_cap * 2 : 4096;
            struct sim_hist *nh = realloc(c->hist, ncap * sizeof(*nh));
            if (nh == NULL)
                return NULL;
            c->hist = nh;
            c->hist_cap = ncap;
        }
    }
    struct sim_hist *e = &c->hist[c->hist_len++];
    memset(e, 0, sizeof(*e));
    e->height = h;
    e->acct = a;
    e->type = (uint8_t)type;
    if (k != NULL)
        e->pk = k->pk;
    switch (type) {
    case SIM_HIST_NEAR:
        e->value = a->balance;
        break;
    case SIM_HIST_FT:
        e->value = a->ft_balance;
        e->flag = a->ft_registered;
        break;
    case SIM_HIST_EXISTS:
        e->flag = a->exists;
        break;
    case SIM_HIST_NONCE:
        e->value = k->nonce;
        break;
    case SIM_HIST_ALLOWANCE:
        e->value = k->allowance;
        break;
    case SIM_HIST_KEY:
        break;
    }
    return e;
}

static void hist_release(struct sim_hist *e)
{
    if (e->held != NULL) {
        key_release(e->held);
        free(e->held);
        e->held = NULL;
    }
}

/* hist_prune: drops the entries older than the kept window (before block h is produced). */
static void hist_prune(struct sim_chain *c, uint64_t h)
{
    while (c->hist_start < c->hist_len && c->hist[c->hist_start].height + c->hist_blocks < h)
        hist_release(&c->hist[c->hist_start++]);
    if (c->hist_start == c->hist_len)
        c->hist_start = c->hist_len = 0;
}

#define SWAP(T, x, y)                                                                              \
    do {                                                                                           \
        T swap_tmp_ = (x);                                                                         \
        (x) = (y);                                                                                 \
        (y) = swap_tmp_;                                                                           \
    } while (0)

/* hist_swap: exchanges entry e with the live state. Applied newest first it takes the state
 * back to before e's change; applied again oldest first it brings the state forward. A KEY entry
 * moves its key between the account and e->held; the account never needs more room than it had
 * when the change happened, so push_key does not allocate here. */
static void hist_swap(struct sim_hist *e)
{
    struct sim_account *a = e->acct;
    struct sim_key *k = NULL;
    if (e->type == SIM_HIST_NONCE || e->type == SIM_HIST_ALLOWANCE || e->type == SIM_HIST_KEY)
        k = sim_account_key(a, &e->pk);
    switch ((enum sim_hist_type)e->type) {
    case SIM_HIST_NEAR:
        SWAP(nf_u128, a->balance, e->value);
        break;
    case SIM_HIST_FT:
        SWAP(nf_u128, a->ft_balance, e->value);
        SWAP(uint8_t, a->ft_registered, e->flag);
        break;
    case SIM_HIST_EXISTS:
        SWAP(uint8_t, a->exists, e->flag);
        break;
    case SIM_HIST_NONCE:
        if (k != NULL) {
            uint64_t n = (uint64_t)e->value;
            e->value = k->nonce;
            k->nonce = n;
        }
        break;
    case SIM_HIST_ALLOWANCE:
        if (k != NULL)
            SWAP(nf_u128, k->allowance, e->value);
        break;
    case SIM_HIST_KEY:
        if (e->held == NULL)
            break;
        if (e->flag) { /* held has the key: back into the account */
            if (k == NULL && push_key(a, e->held) == 0) {
                memset(e->held, 0, sizeof(*e->held));
                e->flag = 0;
            }
        } else if (k != NULL) {
            *e->held = *k; /* takes the key's members */
            remove_key(a, (uint32_t)(k - a->keys));
            e->flag = 1;
        }
        break;
    }
}

void sim_chain_keep_history(struct sim_chain *c, uint64_t blocks)
{
    if (c->live_head != 0)
        return;
    if (blocks == 0) {
        for (size_t i = c->hist_start; i < c->hist_len; i++)
            hist_release(&c->hist[i]);
        free(c->hist);
        c->hist = NULL;
        c->hist_start = c->hist_len = c->hist_cap = 0;
    }
    c->hist_blocks = blocks;
}

int sim_chain_rewind(struct sim_chain *c, uint64_t h)
{
    if (c->live_head != 0 || h < c->cfg.genesis_height || h >= c->head)
        return NF_ESTATE;
    size_t i = c->hist_len;
    while (i > c->hist_start && c->hist[i - 1].height > h)
        hist_swap(&c->hist[--i]);
    c->hist_rewound = i;
    c->live_head = c->head;
    c->head = h;
    return 0;
}

void sim_chain_restore(struct sim_chain *c)
{
    if (c->live_head == 0)
        return;
    for (size_t i = c->hist_rewound; i < c->hist_len; i++)
        hist_swap(&c->hist[i]);
    c->head = c->live_head;
    c->live_head = 0;
}

uint64_t sim_chain_nonce_at(const struct sim_chain *c,
                            const struct sim_account *a,
                            const struct sim_key *k,
                            uint64_t h)
{
    if (c->hist_blocks == 0)
        return sim_key_nonce_at(k, h);
    /* Entries at or below the (possibly rewound) head hold the nonce before their block. */
    uint64_t n = k->nonce;
    size_t i = c->live_head != 0 ? c->hist_rewound : c->hist_len;
    while (i > c->hist_start && c->hist[i - 1].height > h) {
        const struct sim_hist *e = &c->hist[--i];
        if (e->type == SIM_HIST_NONCE && e->acct == a && keys_pubkey_equal(&e->pk, &k->pk))
            n = (uint64_t)e->value;
    }
    return n;
}

void sim_chain_set_balance(struct sim_chain *c, struct sim_account *a, nf_u128 yocto)
{
    hist_note(c, SIM_HIST_NEAR, a, NULL, c->head);
    a->balance = yocto;
}

int sim_chain_move_tokens(struct sim_chain *c,
                          struct sim_account *from,
                          struct sim_account *to,
                          nf_u128 amount)
{
    if (!from->ft_registered || !to->ft_registered || from->ft_balance < amount)
        return NF_EINVAL;
    hist_note(c, SIM_HIST_FT, from, NULL, c->head);
    hist_note(c, SIM_HIST_FT, to, NULL, c->head);
    from->ft_balance -= amount;
    to->ft_balance += amount;
    return 0;
}

/* chain_set_nonce: a key's nonce changes in block h (journalled, and in the key's own history). */
static void chain_set_nonce(
    struct sim_chain *c, struct sim_account *a, struct sim_key *k, uint64_t h, uint64_t n)
{
    hist_note(c, SIM_HIST_NONCE, a, k, h);
    set_nonce(k, h, n);
}

int sim_chain_add_key(struct sim_chain *c, const char *account, const struct nf_pubkey *pk)
{
    struct sim_account *a = sim_chain_account(c, account, strlen(account));
    if (a == NULL || !a->exists)
        return NF_ENOTFOUND;
    if (sim_account_key(a, pk) != NULL)
        return NF_ESTATE;
    struct sim_key k;
    memset(&k, 0, sizeof(k));
    k.pk = *pk;
    k.full_access = 1;
    k.nonce = (c->cfg.genesis_height - 1) * SIM_NONCE_MULTIPLIER;
    return push_key(a, &k);
}

int sim_chain_bump_nonce(struct sim_chain *c,
                         const char *account,
                         const struct nf_pubkey *pk,
                         uint64_t by)
{
    struct sim_account *a = sim_chain_account(c, account, strlen(account));
    struct sim_key *k = sim_account_key(a, pk);
    if (k == NULL)
        return NF_ENOTFOUND;
    chain_set_nonce(c, a, k, c->head, k->nonce + by);
    return 0;
}

const struct sim_memo *sim_chain_memo(const struct sim_chain *c, const char *text, size_t len)
{
    return sim_map_get(&c->memos, text, len);
}

nf_u128 sim_chain_ft_supply_sum(const struct sim_chain *c)
{
    nf_u128 sum = 0;
    size_t pos = 0;
    const struct sim_account *a;
    while ((a = sim_map_next(&c->accounts, &pos)) != NULL)
        if (a->ft_registered)
            sum += a->ft_balance;
    return sum;
}

static int
make_account(struct sim_chain *c, const char *id, nf_u128 balance, struct sim_account **out)
{
    size_t len = strlen(id);
    if (account_id_check(id, len, NULL) < 0)
        return NF_ECONFIG;
    struct sim_account *a = get_or_create(c, id, len);
    if (a == NULL)
        return NF_ENOMEM;
    a->exists = 1;
    a->balance = balance;
    if (out != NULL)
        *out = a;
    return 0;
}

static struct exec_ctx *exec_ctx_new(void);

int sim_chain_new(const struct sim_chain_cfg *cfg, uint64_t now_ns, struct sim_chain **out)
{
    *out = NULL;
    if (cfg->genesis_height < 2 || cfg->chunk_gas == 0)
        return NF_ECONFIG;
    struct sim_chain *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NF_ENOMEM;
    c->cfg = *cfg;
    int rc = NF_ENOMEM;
    c->dec_actions = calloc(SIM_DEC_ACTIONS, sizeof(*c->dec_actions));
    c->dec_names = calloc(SIM_DEC_NAMES, sizeof(*c->dec_names));
    c->dup_memos = calloc(SIM_DUP_MEMO_CAP, sizeof(*c->dup_memos));
    c->exec = exec_ctx_new();
    if (c->dec_actions == NULL || c->dec_names == NULL || c->dup_memos == NULL || c->exec == NULL)
        goto fail;
    if (sim_map_init(&c->accounts, cfg->receivers + cfg->unregistered + 16, acct_key) != 0 ||
        sim_map_init(&c->txs, 1 << 16, tx_key) != 0 ||
        sim_map_init(&c->block_by_hash, 4096, block_key) != 0 ||
        sim_map_init(&c->memos, cfg->expect_memos ? cfg->expect_memos : 1u << 16, memo_key) != 0)
        goto fail;
    if (new_block(c, cfg->genesis_height, now_ns) == NULL)
        goto fail;
    rc = make_account(c, cfg->signer, cfg->signer_balance, &c->signer);
    if (rc != 0)
        goto fail;
    c->signer->ft_registered = 1;
    c->signer->ft_balance = cfg->total_supply;
    c->ft_total_supply = cfg->total_supply;
    rc = make_account(c, cfg->contract, cfg->account_balance, &c->contract);
    if (rc != 0)
        goto fail;
    if (c->contract == c->signer) {
        rc = NF_ECONFIG;
        goto fail;
    }
    c->contract->is_contract = 1;
    char id[160];
    for (uint32_t i = 0; i < cfg->receivers + cfg->unregistered; i++) {
        int reg = i < cfg->receivers;
        int n = snprintf(id, sizeof(id), "%s%u%s",
                         reg ? cfg->receiver_prefix : cfg->unregistered_prefix,
                         reg ? i : i - cfg->receivers, cfg->account_suffix);
        if (n <= 0 || n > SIM_ACCOUNT_MAX) {
            rc = NF_ECONFIG;
            goto fail;
        }
        struct sim_account *a;
        rc = make_account(c, id, cfg->account_balance, &a);
        if (rc != 0)
            goto fail;
        if (reg)
            a->ft_registered = 1;
    }
    *out = c;
    return 0;
fail:
    sim_chain_free(c);
    return rc;
}

static void tx_free(struct sim_tx *tx)
{
    if (tx == NULL)
        return;
    free(tx->raw);
    free(tx->fail_kind);
    free(tx->return_value);
    free(tx->extra_logs);
    free(tx->actions);
    free(tx);
}

void sim_chain_free(struct sim_chain *c)
{
    if (c == NULL)
        return;
    size_t pos = 0;
    void *v;
    while ((v = sim_map_next(&c->txs, &pos)) != NULL)
        tx_free(v);
    pos = 0;
    while ((v = sim_map_next(&c->accounts, &pos)) != NULL) {
        struct sim_account *a = v;
        for (uint32_t i = 0; i < a->n_keys; i++)
            key_release(&a->keys[i]);
        free(a->keys);
        free(a);
    }
    pos = 0;
    while ((v = sim_map_next(&c->memos, &pos)) != NULL)
        free(v);
    sim_map_free(&c->txs);
    sim_map_free(&c->accounts);
    sim_map_free(&c->memos);
    sim_map_free(&c->block_by_hash);
    for (size_t i = 0; i < c->n_block_pages; i++)
        free(c->block_pages[i]);
    free(c->block_pages);
    free(c->pool);
    free(c->dec_actions);
    free(c->dec_names);
    free(c->dup_memos);
    free(c->exec);
    free(c->undo);
    for (size_t i = c->hist_start; i < c->hist_len; i++)
        hist_release(&c->hist[i]);
    free(c->hist);
    free(c);
}

/* ---- admission
 * ----------------------------------------------------------------------------------- */

static void decode_space(struct sim_chain *c, struct near_decode_space *sp)
{
    sp->actions = c->dec_actions;
    sp->actions_cap = SIM_DEC_ACTIONS;
    sp->names = c->dec_names;
    sp->names_cap = SIM_DEC_NAMES;
    sp->known_hash = NULL;
}

int sim_tx_decode(struct sim_chain *c, const struct sim_tx *tx, struct near_signed_tx *stx)
{
    struct near_decode_space sp;
    decode_space(c, &sp);
    sp.known_hash = tx->hash; /* computed when the transaction was admitted */
    return near_signed_tx_decode(tx->raw, tx->raw_len, &sp, stx, NULL, 0);
}

double sim_chain_congestion(const struct sim_chain *c)
{
    double level = 0;
    if (c->cfg.congestion_max_gas > 0)
        level = (double)c->delayed_gas / (double)c->cfg.congestion_max_gas;
    if (c->forced_congestion > level)
        level = c->forced_congestion;
    return level > 1.0 ? 1.0 : level;
}

static int bytes_eq(struct nf_bytes b, const char *s, size_t len)
{
    return b.len == len && memcmp(b.ptr, s, len) == 0;
}

static void copy_name(char *dst, size_t cap, struct nf_bytes b)
{
    size_t n = b.len < cap - 1 ? b.len : cap - 1;
    memcpy(dst, b.ptr, n);
    dst[n] = 0;
}

/* Costs of one decoded tx (docs/PROTOCOL.md section 7). */
struct tx_costs {
    uint64_t send_gas, exec_fees, prepaid_gas;
    nf_u128 deposits, total;
    int overflow;
};

static void compute_costs(const struct sim_chain *c,
                          const struct near_signed_tx *stx,
                          int sir,
                          struct tx_costs *k)
{
    memset(k, 0, sizeof(*k));
    nf_u128 send = SIM_FEE_RECEIPT, exec = SIM_FEE_RECEIPT, prepaid = 0, dep = 0;
    for (uint32_t i = 0; i < stx->tx.n_actions; i++) {
        const struct near_action *a = &stx->tx.actions[i];
        send += sim_fee_send(a, sir);
        exec += sim_fee_exec(a);
        if (a->type == NEAR_ACT_FUNCTION_CALL) {
            prepaid += a->u.function_call.gas;
            k->overflow |= u128_add_overflow(dep, a->u.function_call.deposit, &dep);
        } else if (a->type == NEAR_ACT_TRANSFER) {
            k->overflow |= u128_add_overflow(dep, a->u.transfer.deposit, &dep);
        } else if (a->type == NEAR_ACT_STAKE) {
            k->overflow |= u128_add_overflow(dep, a->u.stake.stake, &dep);
        }
    }
    if (send > UINT64_MAX || exec > UINT64_MAX || prepaid > UINT64_MAX)
        k->overflow = 1;
    k->send_gas = (uint64_t)send;
    k->exec_fees = (uint64_t)exec;
    k->prepaid_gas = (uint64_t)prepaid;
    k->deposits = dep;
    nf_u128 gas_cost;
    k->overflow |= u128_mul_overflow(c->cfg.gas_price, send + exec + prepaid, &gas_cost);
    k->overflow |= u128_add_overflow(gas_cost, dep, &k->total);
}

/* check_actions: ActionsValidation in nearcore's order. */
static int
check_actions(const struct sim_chain *c, const struct near_signed_tx *stx, struct sim_reject *r)
{
    const struct near_tx *t = &stx->tx;
    if (t->n_actions > NEAR_MAX_ACTIONS) {
        r->code = SIM_REJ_TOO_MANY_ACTIONS;
        r->a = t->n_actions;
        r->b = NEAR_MAX_ACTIONS;
        return -1;
    }
    nf_u128 prepaid = 0;
    for (uint32_t i = 0; i < t->n_actions; i++) {
        const struct near_action *a = &t->actions[i];
        if (i > 0 && t->actions[i - 1].type == NEAR_ACT_DELETE_ACCOUNT) {
            r->code = SIM_REJ_DELETE_NOT_FINAL;
            return -1;
        }
        if (a->type != NEAR_ACT_FUNCTION_CALL)
            continue;
        if (a->u.function_call.gas == 0) {
            r->code = SIM_REJ_ZERO_GAS;
            return -1;
        }
        if (a->u.function_call.method_name.len > NEAR_MAX_METHOD_NAME) {
            r->code = SIM_REJ_METHOD_LEN;
            r->a = a->u.function_call.method_name.len;
            r->b = NEAR_MAX_METHOD_NAME;
            return -1;
        }
        if (a->u.function_call.args.len > NEAR_MAX_ARGS_LEN) {
            r->code = SIM_REJ_ARGS_LEN;
            r->a = a->u.function_call.args.len;
            r->b = NEAR_MAX_ARGS_LEN;
            return -1;
        }
        prepaid += a->u.function_call.gas;
    }
    if (prepaid > c->cfg.max_prepaid_gas) {
        r->code = SIM_REJ_PREPAID_GAS;
        r->a = prepaid > UINT64_MAX ? UINT64_MAX : (uint64_t)prepaid;
        r->b = c->cfg.max_prepaid_gas;
        return -1;
    }
    return 0;
}

/* check_key_permission: function-call access key rules (verify_access_key). */
static int check_key_permission(const struct sim_key *k,
                                const struct near_signed_tx *stx,
                                const struct tx_costs *costs,
                                struct sim_reject *r)
{
    if (k->full_access)
        return 0;
    const struct near_tx *t = &stx->tx;
    if (k->has_allowance && k->allowance < costs->total) {
        r->code = SIM_REJ_ALLOWANCE;
        copy_name(r->account, sizeof(r->account), t->signer_id);
        r->pk = t->public_key;
        r->x = k->allowance;
        r->y = costs->total;
        return -1;
    }
    if (t->n_actions != 1 || t->actions[0].type != NEAR_ACT_FUNCTION_CALL) {
        r->code = SIM_REJ_REQUIRES_FULL;
        return -1;
    }
    const struct near_action *a = &t->actions[0];
    if (a->u.function_call.deposit != 0) {
        r->code = SIM_REJ_DEPOSIT_WITH_FC;
        return -1;
    }
    if (!bytes_eq(t->receiver_id, k->fc_receiver, strlen(k->fc_receiver))) {
        r->code = SIM_REJ_RECEIVER_MISMATCH;
        copy_name(r->account, sizeof(r->account), t->receiver_id);
        snprintf(r->other, sizeof(r->other), "%s", k->fc_receiver);
        return -1;
    }
    if (k->n_fc_methods > 0) {
        for (uint32_t i = 0; i < k->n_fc_methods; i++)
            if (bytes_eq(a->u.function_call.method_name, k->fc_methods[i],
                         strlen(k->fc_methods[i])))
                return 0;
        r->code = SIM_REJ_METHOD_MISMATCH;
        copy_name(r->other, sizeof(r->other), a->u.function_call.method_name);
        return -1;
    }
    return 0;
}

/* What the admission steps of sim_chain_submit share. Lives on sim_chain_submit's stack; stx
 * points into own and into the chain's decode space. */
struct submit_ctx {
    struct sim_chain *c;
    int check_only;
    struct sim_submit_result *res;
    struct sim_reject *r; /* &res->reject */
    uint8_t *own;         /* the copy of raw: owned until submit_admit gives it to the tx record */
    size_t len;
    struct near_signed_tx stx;
    const struct sim_block *base; /* steps 2 on: the block the tx refers to */
    struct sim_account *signer;   /* step 5 on */
    struct sim_key *k;
    int sir; /* signer is the receiver */
    struct tx_costs costs;
};

/* Outcome of one group of admission steps. */
enum submit_step {
    SUBMIT_NEXT,     /* passed: run the next group */
    SUBMIT_REJECT,   /* s->r says why */
    SUBMIT_ANSWERED, /* *s->res is complete (a known hash) and s->own is freed */
};

/* submit_identify: decode, 1. signature, a known hash, forced rejections. */
static enum submit_step submit_identify(struct submit_ctx *s)
{
    struct sim_chain *c = s->c;
    struct sim_reject *r = s->r;
    struct near_decode_space sp;
    decode_space(c, &sp);
    int rc = near_signed_tx_decode(s->own, s->len, &sp, &s->stx, r->why, sizeof(r->why));
    if (rc != 0) {
        r->code = rc == NF_EVERSION ? SIM_REJ_VERSION : SIM_REJ_PARSE;
        return SUBMIT_REJECT;
    }
    memcpy(s->res->hash, s->stx.hash, NEAR_HASH_LEN);
    /* 1. signature (the fault bad_sig_key stands for a key whose secret no longer matches) */
    if (near_signed_tx_verify(&s->stx) != 0 ||
        (c->bad_sig_key_set && keys_pubkey_equal(&s->stx.tx.public_key, &c->bad_sig_key))) {
        r->code = SIM_REJ_SIGNATURE;
        return SUBMIT_REJECT;
    }
    /* A known hash (pool or chain) reports that tx: never admitted or applied twice. */
    struct sim_tx *known = sim_chain_find_tx(c, s->stx.hash);
    if (known != NULL) {
        free(s->own);
        s->own = NULL;
        s->res->status = SIM_SUBMIT_KNOWN;
        s->res->tx = known;
        if (!s->check_only)
            c->audit.txs_duplicate++;
        return SUBMIT_ANSWERED;
    }
    /* fault: forced rejections (InvalidChain cannot happen on one chain; CostOverflow stands for
     * "any other InvalidTxError") */
    if (c->reject_next_count > 0 && !s->check_only) {
        c->reject_next_count--;
        r->code = c->reject_next_code;
        return SUBMIT_REJECT;
    }
    return SUBMIT_NEXT;
}

/* submit_check_shape: 2. validity window, 3. size and actions, 4. congestion. */
static enum submit_step submit_check_shape(struct submit_ctx *s)
{
    struct sim_chain *c = s->c;
    struct sim_reject *r = s->r;
    /* 2. validity window */
    s->base = sim_chain_block_by_hash(c, s->stx.tx.block_hash);
    if (s->base == NULL || c->head > s->base->height + c->cfg.validity_blocks) {
        r->code = SIM_REJ_EXPIRED;
        return SUBMIT_REJECT;
    }
    /* 3. size and actions */
    if (s->stx.tx_len > NEAR_MAX_TX_SIZE) {
        r->code = SIM_REJ_SIZE;
        r->a = s->stx.tx_len;
        r->b = NEAR_MAX_TX_SIZE;
        return SUBMIT_REJECT;
    }
    if (check_actions(c, &s->stx, r) != 0)
        return SUBMIT_REJECT;
    /* 4. congestion of the receiver's shard (one shard here). Missed chunks count as
     * missed/125 once more than one is missed; when they are the cause it is ShardStuck. */
    double stuck = c->forced_missed_chunks > 1 ? (double)c->forced_missed_chunks / 125.0 : 0.0;
    if (stuck >= c->cfg.congestion_threshold) {
        r->code = SIM_REJ_STUCK;
        r->a = c->forced_missed_chunks;
        return SUBMIT_REJECT;
    }
    double level = sim_chain_congestion(c);
    if (level >= c->cfg.congestion_threshold) {
        r->code = SIM_REJ_CONGESTED;
        r->level = level;
        return SUBMIT_REJECT;
    }
    return SUBMIT_NEXT;
}

/* submit_check_state: 5. signer, key, nonce, cost, balance, key permission. */
static enum submit_step submit_check_state(struct submit_ctx *s)
{
    struct sim_reject *r = s->r;
    const struct near_tx *t = &s->stx.tx;
    s->signer = sim_chain_account(s->c, (const char *)t->signer_id.ptr, t->signer_id.len);
    if (s->signer == NULL || !s->signer->exists) {
        r->code = SIM_REJ_SIGNER_MISSING;
        copy_name(r->account, sizeof(r->account), t->signer_id);
        return SUBMIT_REJECT;
    }
    s->k = sim_account_key(s->signer, &t->public_key);
    if (s->k == NULL) {
        r->code = SIM_REJ_KEY_NOT_FOUND;
        copy_name(r->account, sizeof(r->account), t->signer_id);
        r->pk = t->public_key;
        return SUBMIT_REJECT;
    }
    if (t->nonce <= s->k->nonce) {
        r->code = SIM_REJ_NONCE;
        r->a = t->nonce;
        r->b = s->k->nonce;
        return SUBMIT_REJECT;
    }
    s->sir = bytes_eq(t->signer_id, (const char *)t->receiver_id.ptr, t->receiver_id.len);
    compute_costs(s->c, &s->stx, s->sir, &s->costs);
    if (s->costs.overflow) {
        r->code = SIM_REJ_COST_OVERFLOW;
        return SUBMIT_REJECT;
    }
    if (s->signer->balance < s->costs.total) {
        r->code = SIM_REJ_BALANCE;
        copy_name(r->account, sizeof(r->account), t->signer_id);
        r->x = s->signer->balance;
        r->y = s->costs.total;
        return SUBMIT_REJECT;
    }
    if (check_key_permission(s->k, &s->stx, &s->costs, r) != 0)
        return SUBMIT_REJECT;
    return SUBMIT_NEXT;
}

/* submit_admit: adds the checked tx to the pool and the hash map. Takes s->own (freed on
 * failure too). Returns 0 or NF_ENOMEM. */
static int submit_admit(struct submit_ctx *s)
{
    struct sim_chain *c = s->c;
    const struct near_tx *t = &s->stx.tx;
    struct sim_tx *tx = calloc(1, sizeof(*tx));
    if (tx == NULL) {
        free(s->own);
        s->own = NULL;
        return NF_ENOMEM;
    }
    tx->raw = s->own;
    s->own = NULL;
    /* Keep the decoded actions unless they borrow AddKey method names from the decode space. */
    int cache = t->n_actions <= SIM_DEC_ACTIONS;
    for (uint32_t i = 0; cache && i < t->n_actions; i++)
        if (t->actions[i].type == NEAR_ACT_ADD_KEY && t->actions[i].u.add_key.n_method_names)
            cache = 0;
    if (cache && t->n_actions > 0) {
        tx->actions = malloc(t->n_actions * sizeof(*tx->actions));
        if (tx->actions == NULL) {
            tx_free(tx);
            return NF_ENOMEM;
        }
        memcpy(tx->actions, t->actions, t->n_actions * sizeof(*tx->actions));
    }
    tx->receiver_id = t->receiver_id;
    if (c->n_pool == c->cap_pool) {
        size_t ncap = c->cap_pool ? c->cap_pool * 2 : 1024;
        struct sim_tx **np = realloc(c->pool, ncap * sizeof(*np));
        if (np == NULL) {
            tx_free(tx);
            return NF_ENOMEM;
        }
        c->pool = np;
        c->cap_pool = ncap;
    }
    tx->raw_len = (uint32_t)s->len;
    memcpy(tx->hash, s->stx.hash, NEAR_HASH_LEN);
    tx->n_actions = t->n_actions;
    tx->signer = s->signer;
    tx->pk = t->public_key;
    tx->nonce = t->nonce;
    tx->seq = c->next_seq++;
    tx->sir = (uint8_t)s->sir;
    tx->block_height = s->base->height;
    tx->send_gas = s->costs.send_gas;
    tx->exec_fees = s->costs.exec_fees;
    tx->prepaid_gas = s->costs.prepaid_gas;
    tx->deposits = s->costs.deposits;
    tx->total_cost = s->costs.total;
    tx->fail_index = -1;
    if (sim_map_put(&c->txs, tx) != 0) {
        tx_free(tx);
        return NF_ENOMEM;
    }
    c->pool[c->n_pool++] = tx;
    c->audit.txs_admitted++;
    s->res->status = SIM_SUBMIT_ACCEPTED;
    s->res->tx = tx;
    return 0;
}

int sim_chain_submit(struct sim_chain *c,
                     const uint8_t *raw,
                     size_t len,
                     int check_only,
                     struct sim_submit_result *res)
{
    memset(res, 0, sizeof(*res));
    if (c->live_head != 0 && !check_only)
        return NF_ESTATE; /* a rewound chain only answers */
    struct submit_ctx s = {
        .c = c, .check_only = check_only, .res = res, .r = &res->reject, .len = len};
    /* Decode from the copy the tx record will own, so the decoded actions can be kept. */
    s.own = malloc(len ? len : 1);
    if (s.own == NULL)
        return NF_ENOMEM;
    memcpy(s.own, raw, len);
    enum submit_step step = submit_identify(&s);
    if (step == SUBMIT_NEXT)
        step = submit_check_shape(&s);
    if (step == SUBMIT_NEXT)
        step = submit_check_state(&s);
    if (step == SUBMIT_ANSWERED)
        return 0;
    if (step == SUBMIT_REJECT) {
        free(s.own);
        res->status = SIM_SUBMIT_REJECTED;
        if (!check_only)
            c->audit.rejected[s.r->code]++;
        return 0;
    }
    if (check_only) {
        free(s.own);
        res->status = SIM_SUBMIT_VALID;
        return 0;
    }
    return submit_admit(&s);
}

struct sim_tx *sim_chain_find_tx(const struct sim_chain *c, const uint8_t hash[NEAR_HASH_LEN])
{
    struct sim_tx *tx = sim_map_get(&c->txs, hash, NEAR_HASH_LEN);
    if (tx != NULL && c->live_head != 0 &&
        (tx->state != SIM_TX_INCLUDED || tx->included_height > c->head))
        return NULL; /* rewound: not on the chain yet, and another node's pool */
    return tx;
}

int sim_tx_executed(const struct sim_chain *c, const struct sim_tx *tx)
{
    return tx->executed && tx->exec_height <= c->head;
}

int sim_tx_refunded(const struct sim_chain *c, const struct sim_tx *tx)
{
    return tx->refunded && tx->refund_height <= c->head;
}

enum sim_level sim_tx_level(const struct sim_chain *c, const struct sim_tx *tx)
{
    if (tx->state != SIM_TX_INCLUDED || tx->included_height > c->head)
        return SIM_LEVEL_NONE;
    uint64_t fin = sim_chain_final(c);
    int executed = sim_tx_executed(c, tx);
    if (tx->included_height > fin)
        return executed ? SIM_LEVEL_EXECUTED_OPTIMISTIC : SIM_LEVEL_INCLUDED;
    if (!executed)
        return SIM_LEVEL_INCLUDED_FINAL;
    if (sim_tx_refunded(c, tx) && tx->refund_height <= fin)
        return SIM_LEVEL_FINAL;
    return SIM_LEVEL_EXECUTED;
}

/* sha256("nearsim receipt mask" || n) for n = 0, 1, 2 */
static const uint8_t receipt_mask[3][NEAR_HASH_LEN] = {
    {0x24, 0xcd, 0x94, 0x57, 0x34, 0xfa, 0x81, 0x9f, 0x25, 0x4e, 0x41,
     0xd0, 0xcd, 0x18, 0xe2, 0x71, 0xed, 0x05, 0x10, 0x15, 0x47, 0x6c,
     0x6c, 0x17, 0x87, 0x5f, 0x47, 0x82, 0x08, 0xe5, 0x29, 0xdc},
    {0xe5, 0x80, 0x74, 0xbd, 0x97, 0x78, 0x2c, 0x4c, 0xaf, 0x75, 0x07,
     0xfe, 0x61, 0x1a, 0x24, 0x2a, 0x67, 0xdc, 0xff, 0xeb, 0x1c, 0x3d,
     0x3f, 0x64, 0x9c, 0x8c, 0xfc, 0x18, 0xcf, 0xb0, 0xc2, 0xdd},
    {0x80, 0xf1, 0x74, 0x0e, 0xbd, 0x30, 0xbf, 0x25, 0x72, 0xd6, 0xb9,
     0xd1, 0x58, 0xef, 0x2f, 0xe1, 0x58, 0x45, 0xbd, 0x7d, 0x98, 0xa7,
     0x57, 0xb0, 0xeb, 0x83, 0x0f, 0x16, 0x12, 0xab, 0xb3, 0x94},
};

void sim_receipt_id(const struct sim_tx *tx, int n, uint8_t out[NEAR_HASH_LEN])
{
    for (size_t i = 0; i < NEAR_HASH_LEN; i++)
        out[i] = tx->hash[i] ^ receipt_mask[n][i];
}

struct sim_tx *
sim_chain_find_receipt(const struct sim_chain *c, const uint8_t id[NEAR_HASH_LEN], int *n)
{
    for (int k = 0; k < 3; k++) {
        uint8_t h[NEAR_HASH_LEN];
        for (size_t i = 0; i < NEAR_HASH_LEN; i++)
            h[i] = id[i] ^ receipt_mask[k][i];
        struct sim_tx *tx = sim_chain_find_tx(c, h);
        if (tx == NULL || tx->state != SIM_TX_INCLUDED || tx->included_height > c->head)
            continue;
        if (k > 0) {
            if (!sim_tx_executed(c, tx))
                continue;
            nf_u128 amount = k == 1 ? (sim_tx_failed(tx) ? tx->deposit_refund : tx->contract_refund)
                                    : tx->gas_refund;
            if (amount == 0)
                continue;
        }
        *n = k;
        return tx;
    }
    return NULL;
}

/* ---- receipt execution ----------------------------------------------------------------------- */

enum undo_type { UNDO_FT, UNDO_NEAR, UNDO_EXISTS, UNDO_KEY_ADDED, UNDO_KEY_DELETED };

struct sim_undo {
    enum undo_type type;
    struct sim_account *acct;
    nf_u128 amount;
    uint8_t flag;
    struct sim_key key; /* UNDO_KEY_DELETED: the removed key (owns its members) */
};

static int undo_push(struct sim_chain *c, enum undo_type type, struct sim_account *a)
{
    if (c->n_undo == c->cap_undo) {
        size_t ncap = c->cap_undo ? c->cap_undo * 2 : 256;
        struct sim_undo *nu = realloc(c->undo, ncap * sizeof(*nu));
        if (nu == NULL)
            return NF_ENOMEM;
        c->undo = nu;
        c->cap_undo = ncap;
    }
    struct sim_undo *u = &c->undo[c->n_undo++];
    memset(u, 0, sizeof(*u));
    u->type = type;
    u->acct = a;
    switch (type) {
    case UNDO_FT:
        u->amount = a->ft_balance;
        u->flag = a->ft_registered;
        break;
    case UNDO_NEAR:
        u->amount = a->balance;
        break;
    case UNDO_EXISTS:
        u->flag = a->exists;
        break;
    default:
        break;
    }
    return 0;
}

static void undo_rollback(struct sim_chain *c)
{
    while (c->n_undo > 0) {
        struct sim_undo *u = &c->undo[--c->n_undo];
        switch (u->type) {
        case UNDO_FT:
            u->acct->ft_balance = u->amount;
            u->acct->ft_registered = u->flag;
            break;
        case UNDO_NEAR:
            u->acct->balance = u->amount;
            break;
        case UNDO_EXISTS:
            u->acct->exists = u->flag;
            break;
        case UNDO_KEY_ADDED: {
            struct sim_key *k = sim_account_key(u->acct, &u->key.pk);
            if (k != NULL) {
                key_release(k);
                remove_key(u->acct, (uint32_t)(k - u->acct->keys));
            }
            break;
        }
        case UNDO_KEY_DELETED:
            if (push_key(u->acct, &u->key) != 0)
                key_release(&u->key);
            break;
        }
    }
}

/* undo_commit: the receipt executed in block h stands. With history kept, each undo entry (the
 * value before the receipt's change) becomes a journal entry of block h; a deleted key moves to
 * the journal instead of being released. */
static void undo_commit(struct sim_chain *c, uint64_t h)
{
    for (size_t i = 0; i < c->n_undo; i++) {
        struct sim_undo *u = &c->undo[i];
        struct sim_hist *e = NULL;
        switch (u->type) {
        case UNDO_FT:
            if ((e = hist_note(c, SIM_HIST_FT, u->acct, NULL, h)) != NULL) {
                e->value = u->amount;
                e->flag = u->flag;
            }
            break;
        case UNDO_NEAR:
            if ((e = hist_note(c, SIM_HIST_NEAR, u->acct, NULL, h)) != NULL)
                e->value = u->amount;
            break;
        case UNDO_EXISTS:
            if ((e = hist_note(c, SIM_HIST_EXISTS, u->acct, NULL, h)) != NULL)
                e->flag = u->flag;
            break;
        case UNDO_KEY_ADDED:
            if ((e = hist_note(c, SIM_HIST_KEY, u->acct, &u->key, h)) != NULL)
                e->held = calloc(1, sizeof(*e->held)); /* empty until a rewind takes the key */
            break;
        case UNDO_KEY_DELETED:
            if ((e = hist_note(c, SIM_HIST_KEY, u->acct, &u->key, h)) != NULL &&
                (e->held = malloc(sizeof(*e->held))) != NULL) {
                *e->held = u->key; /* the journal takes the deleted key's members */
                e->flag = 1;
            } else {
                key_release(&u->key);
            }
            break;
        }
    }
    c->n_undo = 0;
}

struct exec_ctx {
    struct sim_chain *c;
    struct sim_tx *tx;
    struct sim_account *signer;
    struct sim_account *receiver; /* may be NULL */
    char receiver_id[SIM_ACCOUNT_MAX + 1];
    uint64_t height;
    uint32_t action;
    uint64_t wasm_used;
    char kind[3072]; /* ActionError.kind JSON (jw reserves 6 bytes per input byte) */
    char ret[256];   /* return value of the action */
    size_t ret_len;
    struct {
        const char *raw;
        size_t len;
    } memos[SIM_DEC_ACTIONS];
    uint32_t n_memos;
    uint32_t transfers;
    struct sim_account *created; /* account created by this receipt */
    struct sim_extra_log logs[8];
    uint32_t n_logs;
};

static struct exec_ctx *exec_ctx_new(void)
{
    return calloc(1, sizeof(struct exec_ctx));
}

/* set_kind: writes {"FunctionCallError":{"ExecutionError":"Smart contract panicked: msg"}}. */
static void set_panic(struct exec_ctx *x, const char *msg)
{
    struct jw w;
    char text[400];
    snprintf(text, sizeof(text), "Smart contract panicked: %s", msg);
    jw_init_fixed(&w, x->kind, sizeof(x->kind));
    jw_obj_begin(&w);
    jw_key(&w, "FunctionCallError");
    jw_obj_begin(&w);
    jw_key(&w, "ExecutionError");
    jw_str(&w, text);
    jw_obj_end(&w);
    jw_obj_end(&w);
    size_t n;
    if (jw_finish(&w, &n) != 0)
        snprintf(x->kind, sizeof(x->kind),
                 "{\"FunctionCallError\":{\"ExecutionError\":\"Smart contract panicked\"}}");
}

static void set_kind_raw(struct exec_ctx *x, const char *json)
{
    snprintf(x->kind, sizeof(x->kind), "%s", json);
}

/* set_kind_account: {"<name>":{"<field>":"<account>"}} (account ids need no escaping). */
static void
set_kind_account(struct exec_ctx *x, const char *name, const char *field, const char *account)
{
    snprintf(x->kind, sizeof(x->kind), "{\"%s\":{\"%s\":\"%s\"}}", name, field, account);
}

/* deser_error: the SDK's argument deserialization panic. */
static void deser_error(struct exec_ctx *x, const char *why)
{
    char msg[300];
    snprintf(msg, sizeof(msg), "Failed to deserialize input from JSON. Error: `%s`", why);
    set_panic(x, msg);
}

/* arg_account: decodes a JSON string member holding an AccountId into out. Returns 0 or -1 with
 * the deserialization panic set. */
static int arg_account(struct exec_ctx *x,
                       const struct sim_jfield *f,
                       const uint8_t *args,
                       size_t args_len,
                       char *out,
                       size_t cap)
{
    char why[200];
    if (f->type == SIM_J_NONE) {
        snprintf(why, sizeof(why), "missing field `%s` at line 1 column %zu", f->name, args_len);
        deser_error(x, why);
        return -1;
    }
    size_t col = (size_t)((const uint8_t *)f->raw - args) + f->raw_len;
    if (f->type != SIM_J_STRING) {
        snprintf(why, sizeof(why), "invalid type: %s, expected a string at line 1 column %zu",
                 sim_json_type_name(f->type), col);
        deser_error(x, why);
        return -1;
    }
    char tmp[300];
    int n = sim_json_string(f->raw, f->raw_len, tmp, sizeof(tmp));
    const char *reason = "invalid escape";
    if (n >= 0 && account_id_check(tmp, (size_t)n, &reason) >= 0 && (size_t)n < cap) {
        memcpy(out, tmp, (size_t)n + 1);
        return 0;
    }
    if (n >= 0 && (size_t)n > SIM_ACCOUNT_MAX)
        reason = "the Account ID is too long";
    snprintf(why, sizeof(why), "%s at line 1 column %zu", reason, col);
    deser_error(x, why);
    return -1;
}

static int
parse_account_args(struct exec_ctx *x, const uint8_t *args, size_t len, char *out, size_t cap)
{
    struct sim_jfield f[1] = {{.name = "account_id"}};
    char why[200];
    if (sim_json_object(args, len, f, 1, why, sizeof(why)) != 0) {
        deser_error(x, why);
        return -1;
    }
    return arg_account(x, &f[0], args, len, out, cap);
}

static int ft_transfer(struct exec_ctx *x, const struct near_action *a)
{
    struct sim_chain *c = x->c;
    const uint8_t *args = a->u.function_call.args.ptr;
    size_t len = a->u.function_call.args.len;
    struct sim_jfield f[3] = {{.name = "receiver_id"}, {.name = "amount"}, {.name = "memo"}};
    char why[200];
    if (sim_json_object(args, len, f, 3, why, sizeof(why)) != 0) {
        deser_error(x, why);
        return -1;
    }
    char receiver[SIM_ACCOUNT_MAX + 1];
    if (arg_account(x, &f[0], args, len, receiver, sizeof(receiver)) != 0)
        return -1;
    if (f[1].type == SIM_J_NONE) {
        snprintf(why, sizeof(why), "missing field `amount` at line 1 column %zu", len);
        deser_error(x, why);
        return -1;
    }
    size_t col = (size_t)((const uint8_t *)f[1].raw - args) + f[1].raw_len;
    nf_u128 amount = 0;
    if (f[1].type != SIM_J_STRING) {
        snprintf(why, sizeof(why), "invalid type: %s, expected a string at line 1 column %zu",
                 sim_json_type_name(f[1].type), col);
        deser_error(x, why);
        return -1;
    }
    char num[64];
    int nl = sim_json_string(f[1].raw, f[1].raw_len, num, sizeof(num));
    int prc = nl < 0 ? NF_EINVAL : u128_parse(num, (size_t)nl, &amount);
    if (prc != 0) {
        snprintf(why, sizeof(why), "%s at line 1 column %zu",
                 nl == 0            ? "cannot parse integer from empty string"
                 : prc == NF_ERANGE ? "number too large to fit in target type"
                                    : "invalid digit found in string",
                 col);
        deser_error(x, why);
        return -1;
    }
    if (f[2].type != SIM_J_NONE && f[2].type != SIM_J_NULL && f[2].type != SIM_J_STRING) {
        snprintf(why, sizeof(why), "invalid type: %s, expected a string at line 1 column %zu",
                 sim_json_type_name(f[2].type),
                 (size_t)((const uint8_t *)f[2].raw - args) + f[2].raw_len);
        deser_error(x, why);
        return -1;
    }
    /* near-contract-standards check order (docs/PROTOCOL.md section 5.1) */
    if (a->u.function_call.deposit != 1) {
        set_panic(x, "Requires attached deposit of exactly 1 yoctoNEAR");
        return -1;
    }
    struct sim_account *from = x->signer;
    if (strcmp(receiver, from->id) == 0) {
        set_panic(x, "Sender and receiver should be different");
        return -1;
    }
    if (amount == 0) {
        set_panic(x, "The amount should be a positive number");
        return -1;
    }
    char msg[200];
    if (!from->ft_registered) {
        snprintf(msg, sizeof(msg), "The account %s is not registered", from->id);
        set_panic(x, msg);
        return -1;
    }
    if (from->ft_balance < amount) {
        set_panic(x, "The account doesn't have enough balance");
        return -1;
    }
    struct sim_account *to = sim_chain_account(c, receiver, strlen(receiver));
    if (to == NULL || !to->ft_registered) {
        snprintf(msg, sizeof(msg), "The account %s is not registered", receiver);
        set_panic(x, msg);
        return -1;
    }
    nf_u128 nb;
    if (u128_add_overflow(to->ft_balance, amount, &nb)) {
        set_panic(x, "Balance overflow");
        return -1;
    }
    if (undo_push(c, UNDO_FT, from) != 0 || undo_push(c, UNDO_FT, to) != 0) {
        set_panic(x, "simulator out of memory");
        return -1;
    }
    from->ft_balance -= amount;
    to->ft_balance = nb;
    x->transfers++;
    if (f[2].type == SIM_J_STRING) {
        x->memos[x->n_memos].raw = f[2].raw;
        x->memos[x->n_memos].len = f[2].raw_len;
        x->n_memos++;
    }
    return 0;
}

static int storage_deposit(struct exec_ctx *x, const struct near_action *a)
{
    struct sim_chain *c = x->c;
    const uint8_t *args = a->u.function_call.args.ptr;
    size_t len = a->u.function_call.args.len;
    struct sim_jfield f[2] = {{.name = "account_id"}, {.name = "registration_only"}};
    char why[200];
    if (sim_json_object(args, len, f, 2, why, sizeof(why)) != 0) {
        deser_error(x, why);
        return -1;
    }
    char id[SIM_ACCOUNT_MAX + 1];
    if (f[0].type == SIM_J_NONE || f[0].type == SIM_J_NULL) {
        snprintf(id, sizeof(id), "%s", x->signer->id);
    } else if (arg_account(x, &f[0], args, len, id, sizeof(id)) != 0) {
        return -1;
    }
    if (f[1].type != SIM_J_NONE && f[1].type != SIM_J_NULL && f[1].type != SIM_J_TRUE &&
        f[1].type != SIM_J_FALSE) {
        snprintf(why, sizeof(why), "invalid type: %s, expected a boolean at line 1 column %zu",
                 sim_json_type_name(f[1].type),
                 (size_t)((const uint8_t *)f[1].raw - args) + f[1].raw_len);
        deser_error(x, why);
        return -1;
    }
    nf_u128 amount = a->u.function_call.deposit;
    struct sim_account *acct = get_or_create(c, id, strlen(id));
    if (acct == NULL) {
        set_panic(x, "simulator out of memory");
        return -1;
    }
    nf_u128 refund;
    if (acct->ft_registered) {
        if (x->n_logs < 8)
            x->logs[x->n_logs++] = (struct sim_extra_log){
                x->action, "The account is already registered, refunding the deposit"};
        refund = amount;
    } else {
        if (amount < SIM_MIN_STORAGE) {
            set_panic(x, "The attached deposit is less than the minimum storage balance");
            return -1;
        }
        if (undo_push(c, UNDO_FT, acct) != 0) {
            set_panic(x, "simulator out of memory");
            return -1;
        }
        acct->ft_registered = 1;
        acct->ft_balance = 0;
        refund = amount - SIM_MIN_STORAGE;
    }
    if (refund > 0) {
        /* The contract sends the refund back in its own receipt (credited with the refunds). */
        if (undo_push(c, UNDO_NEAR, c->contract) != 0) {
            set_panic(x, "simulator out of memory");
            return -1;
        }
        c->contract->balance -= refund;
        x->tx->contract_refund += refund;
    }
    char total[U128_STR_MAX];
    u128_format(SIM_MIN_STORAGE, total);
    x->ret_len =
        (size_t)snprintf(x->ret, sizeof(x->ret), "{\"total\":\"%s\",\"available\":\"0\"}", total);
    return 0;
}

int sim_ft_view(const struct sim_chain *c,
                const char *method,
                size_t mlen,
                const uint8_t *args,
                size_t args_len,
                struct jw *out,
                char *err,
                size_t errcap)
{
    char s[U128_STR_MAX];
    struct exec_ctx *x = NULL;
    int rc = 0;
#define IS(name) (mlen == strlen(name) && memcmp(method, name, mlen) == 0)
    if (IS("ft_total_supply")) {
        u128_format(c->ft_total_supply, s);
        jw_str(out, s);
    } else if (IS("ft_metadata")) {
        jw_obj_begin(out);
        jw_key(out, "spec");
        jw_str(out, "ft-1.0.0");
        jw_key(out, "name");
        jw_str(out, c->cfg.ft_name);
        jw_key(out, "symbol");
        jw_str(out, c->cfg.ft_symbol);
        jw_key(out, "icon");
        jw_null(out);
        jw_key(out, "reference");
        jw_null(out);
        jw_key(out, "reference_hash");
        jw_null(out);
        jw_key(out, "decimals");
        jw_u64(out, c->cfg.ft_decimals);
        jw_obj_end(out);
    } else if (IS("storage_balance_bounds")) {
        u128_format(SIM_MIN_STORAGE, s);
        jw_obj_begin(out);
        jw_key(out, "min");
        jw_str(out, s);
        jw_key(out, "max");
        jw_str(out, s);
        jw_obj_end(out);
    } else if (IS("ft_balance_of") || IS("storage_balance_of")) {
        x = calloc(1, sizeof(*x));
        if (x == NULL)
            return NF_ENOMEM;
        char id[SIM_ACCOUNT_MAX + 1];
        if (parse_account_args(x, args, args_len, id, sizeof(id)) != 0) {
            /* x->kind holds the panic JSON; report the message text only */
            const char *p = strstr(x->kind, "Smart contract panicked: ");
            snprintf(err, errcap, "%s", p ? p : "Smart contract panicked");
            char *q = strrchr(err, '"');
            if (q != NULL)
                *q = 0;
            rc = NF_EINVAL;
        } else {
            const struct sim_account *a = sim_chain_account(c, id, strlen(id));
            int reg = a != NULL && a->ft_registered;
            if (IS("ft_balance_of")) {
                u128_format(reg ? a->ft_balance : 0, s);
                jw_str(out, s);
            } else if (!reg) {
                jw_null(out);
            } else {
                u128_format(SIM_MIN_STORAGE, s);
                jw_obj_begin(out);
                jw_key(out, "total");
                jw_str(out, s);
                jw_key(out, "available");
                jw_str(out, "0");
                jw_obj_end(out);
            }
        }
    } else {
        rc = NF_ENOTFOUND;
    }
#undef IS
    free(x);
    return rc;
}

static int function_call(struct exec_ctx *x, const struct near_action *a)
{
    struct sim_chain *c = x->c;
    struct sim_account *recv = x->receiver;
    if (recv == NULL || !recv->exists) {
        set_kind_account(x, "AccountDoesNotExist", "account_id", x->receiver_id);
        return -1;
    }
    if (!recv->is_contract) {
        snprintf(x->kind, sizeof(x->kind),
                 "{\"FunctionCallError\":{\"CompilationError\":{\"CodeDoesNotExist\":{"
                 "\"account_id\":\"%s\"}}}}",
                 recv->id);
        return -1;
    }
    /* The attached deposit moves to the contract first (refunded if the receipt fails). */
    if (a->u.function_call.deposit > 0) {
        if (undo_push(c, UNDO_NEAR, recv) != 0)
            return -1;
        recv->balance += a->u.function_call.deposit;
    }
    const char *m = (const char *)a->u.function_call.method_name.ptr;
    size_t mlen = a->u.function_call.method_name.len;
    int is_transfer = mlen == 11 && memcmp(m, "ft_transfer", 11) == 0;
    int is_storage = mlen == 15 && memcmp(m, "storage_deposit", 15) == 0;
    uint64_t wasm = is_transfer ? c->cfg.wasm_gas_ft_transfer : c->cfg.wasm_gas_storage;
    if (a->u.function_call.gas < wasm) {
        x->wasm_used = a->u.function_call.gas;
        set_kind_raw(x,
                     "{\"FunctionCallError\":{\"ExecutionError\":\"Exceeded the prepaid gas.\"}}");
        return -1;
    }
    x->wasm_used = wasm;
    x->ret_len = 0;
    if (is_transfer)
        return ft_transfer(x, a);
    if (is_storage)
        return storage_deposit(x, a);
    struct jw w;
    char err[300];
    jw_init_fixed(&w, x->ret, sizeof(x->ret));
    int rc = sim_ft_view(c, m, mlen, a->u.function_call.args.ptr, a->u.function_call.args.len, &w,
                         err, sizeof(err));
    if (rc == NF_ENOTFOUND) {
        x->wasm_used = 0;
        set_kind_raw(x, "{\"FunctionCallError\":{\"MethodResolveError\":\"MethodNotFound\"}}");
        return -1;
    }
    if (rc != 0) {
        snprintf(x->kind, sizeof(x->kind), "{\"FunctionCallError\":{\"ExecutionError\":\"%s\"}}",
                 err);
        return -1;
    }
    if (a->u.function_call.deposit > 0) {
        char msg[300];
        snprintf(msg, sizeof(msg), "Method %.*s doesn't accept deposit", (int)mlen, m);
        set_panic(x, msg);
        return -1;
    }
    size_t n;
    if (jw_finish(&w, &n) != 0)
        n = 0;
    x->ret_len = n;
    return 0;
}

/* may_manage: AddKey / DeleteKey / other account actions need receiver == signer or an account
 * created by this receipt (nearcore's ActorNoPermission). */
static int may_manage(struct exec_ctx *x)
{
    if (x->receiver != NULL && (x->receiver == x->signer || x->receiver == x->created))
        return 1;
    snprintf(x->kind, sizeof(x->kind),
             "{\"ActorNoPermission\":{\"account_id\":\"%s\",\"actor_id\":\"%s\"}}", x->receiver_id,
             x->signer->id);
    return 0;
}

static void kind_key(struct exec_ctx *x, const char *name, const struct nf_pubkey *pk)
{
    char pks[KEYS_PUBKEY_STR_MAX + 80];
    if (keys_pubkey_format(pk, pks, sizeof(pks)) < 0)
        snprintf(pks, sizeof(pks), "ed25519:?");
    snprintf(x->kind, sizeof(x->kind), "{\"%s\":{\"account_id\":\"%s\",\"public_key\":\"%s\"}}",
             name, x->receiver_id, pks);
}

static int add_key(struct exec_ctx *x, const struct near_action *a)
{
    struct sim_chain *c = x->c;
    if (!may_manage(x))
        return -1;
    if (sim_account_key(x->receiver, &a->u.add_key.public_key) != NULL) {
        kind_key(x, "AddKeyAlreadyExists", &a->u.add_key.public_key);
        return -1;
    }
    struct sim_key k;
    memset(&k, 0, sizeof(k));
    k.pk = a->u.add_key.public_key;
    k.nonce = (x->height - 1) * SIM_NONCE_MULTIPLIER;
    k.full_access = (uint8_t)(a->u.add_key.full_access != 0);
    if (!k.full_access) {
        k.has_allowance = (uint8_t)(a->u.add_key.has_allowance != 0);
        k.allowance = a->u.add_key.allowance;
        k.fc_receiver =
            strndup((const char *)a->u.add_key.receiver_id.ptr, a->u.add_key.receiver_id.len);
        k.fc_methods = calloc(a->u.add_key.n_method_names + 1, sizeof(char *));
        if (k.fc_receiver == NULL || k.fc_methods == NULL) {
            key_release(&k);
            return -1;
        }
        for (uint32_t i = 0; i < a->u.add_key.n_method_names; i++) {
            k.fc_methods[i] = strndup((const char *)a->u.add_key.method_names[i].ptr,
                                      a->u.add_key.method_names[i].len);
            if (k.fc_methods[i] == NULL) {
                key_release(&k);
                return -1;
            }
            k.n_fc_methods++;
        }
    }
    if (undo_push(c, UNDO_KEY_ADDED, x->receiver) != 0 || push_key(x->receiver, &k) != 0) {
        key_release(&k);
        return -1;
    }
    c->undo[c->n_undo - 1].key.pk = k.pk;
    return 0;
}

static int delete_key(struct exec_ctx *x, const struct near_action *a)
{
    struct sim_chain *c = x->c;
    if (!may_manage(x))
        return -1;
    struct sim_key *k = sim_account_key(x->receiver, &a->u.delete_key.public_key);
    if (k == NULL) {
        kind_key(x, "DeleteKeyDoesNotExist", &a->u.delete_key.public_key);
        return -1;
    }
    if (undo_push(c, UNDO_KEY_DELETED, x->receiver) != 0)
        return -1;
    c->undo[c->n_undo - 1].key = *k; /* the undo entry takes the key's members */
    remove_key(x->receiver, (uint32_t)(k - x->receiver->keys));
    return 0;
}

static int run_action(struct exec_ctx *x, const struct near_action *a)
{
    struct sim_chain *c = x->c;
    switch (a->type) {
    case NEAR_ACT_FUNCTION_CALL:
        return function_call(x, a);
    case NEAR_ACT_TRANSFER:
        if (x->receiver == NULL || !x->receiver->exists) {
            set_kind_account(x, "AccountDoesNotExist", "account_id", x->receiver_id);
            return -1;
        }
        if (undo_push(c, UNDO_NEAR, x->receiver) != 0)
            return -1;
        x->receiver->balance += a->u.transfer.deposit;
        return 0;
    case NEAR_ACT_CREATE_ACCOUNT: {
        if (x->receiver != NULL && x->receiver->exists) {
            set_kind_account(x, "AccountAlreadyExists", "account_id", x->receiver_id);
            return -1;
        }
        size_t rl = strlen(x->receiver_id), sl = x->signer->id_len;
        if (!(rl > sl + 1 && x->receiver_id[rl - sl - 1] == '.' &&
              strcmp(x->receiver_id + rl - sl, x->signer->id) == 0)) {
            snprintf(
                x->kind, sizeof(x->kind),
                "{\"CreateAccountNotAllowed\":{\"account_id\":\"%s\",\"predecessor_id\":\"%s\"}}",
                x->receiver_id, x->signer->id);
            return -1;
        }
        struct sim_account *n = get_or_create(c, x->receiver_id, rl);
        if (n == NULL || undo_push(c, UNDO_EXISTS, n) != 0)
            return -1;
        n->exists = 1;
        x->receiver = n;
        x->created = n;
        return 0;
    }
    case NEAR_ACT_ADD_KEY:
        return add_key(x, a);
    case NEAR_ACT_DELETE_KEY:
        return delete_key(x, a);
    default:
        /* DeployContract, Stake, DeleteAccount: not modelled by the simulator. */
        snprintf(x->kind, sizeof(x->kind), "{\"UnsupportedBySimulator\":{\"action\":%d}}",
                 (int)a->type);
        return -1;
    }
}

static int note_memo(struct sim_chain *c, const char *raw, size_t len)
{
    char text[NEAR_FT_MEMO_MAX * 4 + 8];
    int n = sim_json_string(raw, len, text, sizeof(text));
    if (n < 0) {
        /* longer than any memo we index: count it under its first bytes */
        n = (int)(sizeof(text) - 1);
        memcpy(text, raw, (size_t)n);
        text[n] = 0;
    }
    struct sim_memo *m = sim_map_get(&c->memos, text, (size_t)n);
    if (m == NULL) {
        m = malloc(sizeof(*m) + (size_t)n + 1);
        if (m == NULL)
            return NF_ENOMEM;
        m->count = 0;
        m->len = (uint16_t)n;
        memcpy(m->text, text, (size_t)n + 1);
        if (sim_map_put(&c->memos, m) != 0) {
            free(m);
            return NF_ENOMEM;
        }
    }
    m->count++;
    if (m->count == 2) {
        c->audit.duplicate_memo_count++;
        if (c->n_dup_memos < SIM_DUP_MEMO_CAP)
            c->dup_memos[c->n_dup_memos++] = m->text;
    }
    return 0;
}

/* execute_receipt: applies tx's action receipt atomically in block h. */
static void execute_receipt(struct sim_chain *c, struct sim_tx *tx, uint64_t h)
{
    struct near_signed_tx stx;
    struct exec_ctx *x = c->exec;
    uint64_t burnt = SIM_FEE_RECEIPT;
    tx->executed = 1;
    tx->exec_height = h;
    if (tx->actions != NULL) {
        stx.tx.actions = tx->actions;
        stx.tx.n_actions = tx->n_actions;
        stx.tx.receiver_id = tx->receiver_id;
    } else if (sim_tx_decode(c, tx, &stx) != 0) {
        tx->fail_index = 0;
        tx->fail_kind = strdup("{\"StorageError\":\"simulator could not decode\"}");
        tx->deposit_refund = tx->deposits;
        goto done;
    }
    x->kind[0] = 0;
    x->ret_len = 0;
    x->n_memos = 0;
    x->transfers = 0;
    x->created = NULL;
    x->n_logs = 0;
    x->c = c;
    x->tx = tx;
    x->signer = tx->signer;
    x->height = h;
    copy_name(x->receiver_id, sizeof(x->receiver_id), stx.tx.receiver_id);
    x->receiver = sim_chain_account(c, x->receiver_id, stx.tx.receiver_id.len);
    c->n_undo = 0;
    int32_t fail = -1;
    for (uint32_t i = 0; i < stx.tx.n_actions; i++) {
        const struct near_action *a = &stx.tx.actions[i];
        x->action = i;
        x->wasm_used = 0;
        burnt += sim_fee_exec(a);
        int rc = run_action(x, a);
        burnt += x->wasm_used;
        if (rc != 0) {
            if (x->kind[0] == 0)
                snprintf(x->kind, sizeof(x->kind),
                         "{\"StorageError\":\"simulator out of memory\"}");
            fail = (int32_t)i;
            break;
        }
    }
    /* State staking (nearcore's check_storage_stake after the last action): the receiver must
     * still hold what its state needs, else the whole receipt fails with no action index. */
    nf_u128 need = x->receiver != NULL
                       ? (nf_u128)x->receiver->storage_bytes * NEAR_STORAGE_AMOUNT_PER_BYTE
                       : 0;
    if (fail < 0 && need > 0 && need > x->receiver->balance) {
        char lack[U128_STR_MAX];
        u128_format(need - x->receiver->balance, lack);
        snprintf(x->kind, sizeof(x->kind),
                 "{\"LackBalanceForState\":{\"account_id\":\"%s\",\"amount\":\"%s\"}}",
                 x->receiver->id, lack);
        tx->fail_no_index = 1;
    }
    tx->fail_index = fail;
    if (fail >= 0 || tx->fail_no_index) {
        undo_rollback(c);
        tx->fail_kind = strdup(x->kind);
        tx->deposit_refund = tx->deposits;
        tx->contract_refund = 0;
        tx->transfers = 0;
        /* logs of the actions before the failure are kept; ft_transfer events are re-rendered
         * from the arguments, storage messages come from extra_logs */
        c->audit.receipts_failed++;
    } else {
        undo_commit(c, h);
        tx->transfers = x->transfers;
        for (uint32_t i = 0; i < x->n_memos; i++)
            (void)note_memo(c, x->memos[i].raw, x->memos[i].len);
        if (x->ret_len > 0) {
            tx->return_value = malloc(x->ret_len);
            if (tx->return_value != NULL) {
                memcpy(tx->return_value, x->ret, x->ret_len);
                tx->return_len = (uint32_t)x->ret_len;
            }
        }
        c->audit.receipts_ok++;
        c->audit.transfers_applied += x->transfers;
        c->audit.actions_applied += stx.tx.n_actions;
    }
    if (x->n_logs > 0) {
        tx->extra_logs = malloc(x->n_logs * sizeof(*tx->extra_logs));
        if (tx->extra_logs != NULL) {
            memcpy(tx->extra_logs, x->logs, x->n_logs * sizeof(*tx->extra_logs));
            tx->n_extra_logs = x->n_logs;
        }
    }
done:
    if (burnt > tx->prepaid_gas + tx->exec_fees)
        burnt = tx->prepaid_gas + tx->exec_fees;
    tx->receipt_gas_burnt = burnt;
    tx->gas_refund = (nf_u128)(tx->prepaid_gas + tx->exec_fees - burnt) * c->cfg.gas_price;
    free(tx->actions);
    tx->actions = NULL;
}

/* ---- block production
 * ---------------------------------------------------------------------------- */

static int pool_cmp(const void *pa, const void *pb)
{
    const struct sim_tx *a = *(const struct sim_tx *const *)pa;
    const struct sim_tx *b = *(const struct sim_tx *const *)pb;
    if (a->signer != b->signer)
        return a->signer < b->signer ? -1 : 1;
    int k = memcmp(&a->pk, &b->pk, sizeof(a->pk));
    if (k != 0)
        return k;
    if (a->nonce != b->nonce)
        return a->nonce < b->nonce ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void drop_tx(struct sim_chain *c, struct sim_tx *tx, uint64_t *counter)
{
    (*counter)++;
    sim_map_del(&c->txs, tx->hash, NEAR_HASH_LEN);
    tx_free(tx);
}

/* convert: tries to include pool tx in block h. Returns 1 included, 0 dropped. */
static int convert(struct sim_chain *c, struct sim_tx *tx, struct sim_block *b, uint64_t h)
{
    const struct sim_block *base = sim_chain_block(c, tx->block_height);
    struct sim_key *k = sim_account_key(tx->signer, &tx->pk);
    if (base == NULL || h - 1 > base->height + c->cfg.validity_blocks || k == NULL ||
        tx->signer->balance < tx->total_cost) {
        drop_tx(c, tx, &c->audit.txs_dropped_other);
        return 0;
    }
    if (tx->nonce <= k->nonce) {
        drop_tx(c, tx, &c->audit.txs_dropped_nonce);
        return 0;
    }
    if (tx->nonce >= h * SIM_NONCE_MULTIPLIER) {
        drop_tx(c, tx, &c->audit.txs_dropped_nonce_large);
        return 0;
    }
    chain_set_nonce(c, tx->signer, k, h, tx->nonce);
    hist_note(c, SIM_HIST_NEAR, tx->signer, NULL, h);
    tx->signer->balance -= tx->total_cost;
    if (!k->full_access && k->has_allowance) {
        hist_note(c, SIM_HIST_ALLOWANCE, tx->signer, k, h);
        k->allowance -= tx->total_cost;
    }
    tx->state = SIM_TX_INCLUDED;
    tx->included_height = h;
    tx->block_next = NULL;
    if (b->last_tx != NULL)
        b->last_tx->block_next = tx;
    else
        b->first_tx = tx;
    b->last_tx = tx;
    b->n_txs++;
    b->tx_gas += tx->send_gas;
    b->tokens_burnt += (nf_u128)tx->send_gas * c->cfg.gas_price;
    c->audit.txs_included++;
    tx->fifo_next = NULL;
    if (c->rq_tail != NULL)
        c->rq_tail->fifo_next = tx;
    else
        c->rq_head = tx;
    c->rq_tail = tx;
    c->rq_len++;
    c->rq_gas += (nf_u128)tx->prepaid_gas + tx->exec_fees;
    return 1;
}

static int same_key(const struct sim_tx *a, const struct sim_tx *b)
{
    return a->signer == b->signer && memcmp(&a->pk, &b->pk, sizeof(a->pk)) == 0;
}

struct pool_group {
    size_t pos, end;
};

int sim_chain_produce_block(struct sim_chain *c, uint64_t now_ns)
{
    uint64_t h = c->head + 1;
    if (c->live_head != 0)
        return NF_ESTATE;
    struct sim_block *b = new_block(c, h, now_ns);
    if (b == NULL)
        return NF_ENOMEM;
    hist_prune(c, h);
    /* 1. refunds of receipts executed in the previous block */
    while (c->fq_head != NULL) {
        struct sim_tx *tx = c->fq_head;
        c->fq_head = tx->fifo_next;
        hist_note(c, SIM_HIST_NEAR, tx->signer, NULL, h);
        tx->signer->balance += tx->gas_refund + tx->deposit_refund + tx->contract_refund;
        tx->refunded = 1;
        tx->refund_height = h;
    }
    c->fq_tail = NULL;
    /* 2. receipts, FIFO, up to chunk_gas (the receipt that crosses the limit still runs) */
    while (c->rq_head != NULL && b->gas_used < c->cfg.chunk_gas) {
        struct sim_tx *tx = c->rq_head;
        c->rq_head = tx->fifo_next;
        if (c->rq_head == NULL)
            c->rq_tail = NULL;
        c->rq_len--;
        c->rq_gas -= (nf_u128)tx->prepaid_gas + tx->exec_fees;
        execute_receipt(c, tx, h);
        b->gas_used += tx->receipt_gas_burnt;
        b->n_receipts++;
        b->n_transfers += tx->transfers;
        b->tokens_burnt += (nf_u128)tx->receipt_gas_burnt * c->cfg.gas_price;
        tx->fifo_next = NULL;
        if (c->fq_tail != NULL)
            c->fq_tail->fifo_next = tx;
        else
            c->fq_head = tx;
        c->fq_tail = tx;
    }
    /* everything still queued missed its block: the delayed receipts */
    c->delayed_gas = c->rq_gas;
    /* 3. convert pool txs: keys round-robin, ascending nonce per key, up to chunk_tx_gas */
    if (c->n_pool > 0) {
        qsort(c->pool, c->n_pool, sizeof(*c->pool), pool_cmp);
        size_t n_groups = 0;
        struct pool_group *groups = malloc(c->n_pool * sizeof(*groups));
        if (groups == NULL)
            return NF_ENOMEM;
        for (size_t i = 0; i < c->n_pool; i++) {
            if (i == 0 || !same_key(c->pool[i - 1], c->pool[i])) {
                groups[n_groups].pos = i;
                n_groups++;
            }
            groups[n_groups - 1].end = i + 1;
        }
        int full = 0;
        size_t active = n_groups;
        while (!full && active > 0) {
            active = 0;
            for (size_t g = 0; g < n_groups && !full; g++) {
                struct pool_group *gr = &groups[g];
                if (gr->pos >= gr->end)
                    continue;
                struct sim_tx *tx = c->pool[gr->pos];
                if (b->tx_gas > 0 && b->tx_gas + tx->send_gas > c->cfg.chunk_tx_gas) {
                    full = 1;
                    break;
                }
                c->pool[gr->pos] = NULL;
                gr->pos++;
                convert(c, tx, b, h);
                if (gr->pos < gr->end)
                    active++;
            }
        }
        free(groups);
        size_t w = 0;
        for (size_t i = 0; i < c->n_pool; i++)
            if (c->pool[i] != NULL)
                c->pool[w++] = c->pool[i];
        c->n_pool = w;
    }
    return 0;
}
