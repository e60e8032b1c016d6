/* cli_args: turns the action flags of `nearft tx sign` into struct near_action values, one call per
 * flag, so the actions keep their command-line order. Pure (no I/O); runs on the CLI's only
 * thread. The builder owns the ft_transfer / storage_deposit argument JSON and the AddKey
 * method-name arrays; every other string is borrowed from the spec text (argv). Splitting on ':'
 * follows the CLI's documented rules: ft_transfer memos and function-call JSON may themselves
 * contain ':', so memo = everything after the second ':', and a function call takes its method up
 * to the first ':' and GAS, DEPOSIT from the last two fields. */
#include "cli_args.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "keys.h"
#include "nf_err.h"
#include "nf_utf8.h"
#include "u128.h"

struct cli_builder *cli_builder_new(void)
{
    return calloc(1, sizeof(struct cli_builder));
}

void cli_builder_free(struct cli_builder *b)
{
    if (b == NULL)
        return;
    for (uint32_t i = 0; i < NEAR_MAX_ACTIONS; i++)
        free(b->method_names[i]);
    free(b);
}

int cli_parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0)
        return NF_EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return NF_EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NF_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

void cli_quote(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    if (cap < 8) {
        if (cap > 0)
            out[0] = '\0';
        return;
    }
    out[o++] = '"';
    for (size_t i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 120 || o + 8 >= cap) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

void cli_why(char *why, size_t whycap, const char *fmt, ...)
{
    if (why == NULL || whycap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whycap, fmt, ap);
    va_end(ap);
}

/* field_quote: quotes s[0..len) for a message (copies through a bounded temporary). */
static void field_quote(const char *s, size_t len, char *out, size_t cap)
{
    char tmp[160];
    size_t n = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    /* A field cut at the temporary's size still ends in "..." thanks to cli_quote's limit. */
    cli_quote(tmp, out, cap);
}

static int check_account(const char *what, const char *s, size_t len, char *why, size_t whycap)
{
    const char *reason = NULL;
    if (account_id_check(s, len, &reason) >= 0)
        return 0;
    char q[200];
    field_quote(s, len, q, sizeof(q));
    cli_why(why, whycap, "%s %s is not a valid account id (%s)", what, q,
            reason != NULL ? reason : "invalid");
    return NF_EACCOUNT;
}

static int
parse_amount(const char *what, const char *s, size_t len, nf_u128 *out, char *why, size_t whycap)
{
    int rc = u128_parse(s, len, out);
    if (rc == 0)
        return 0;
    char q[200];
    field_quote(s, len, q, sizeof(q));
    cli_why(why, whycap, "%s %s is not a u128 (decimal digits, at most 2^128-1)", what, q);
    return rc;
}

static int parse_gas(const char *s, size_t len, uint64_t *out, char *why, size_t whycap)
{
    char q[200];
    int rc = cli_parse_u64(s, len, out);
    if (rc == 0 && *out == 0)
        rc = NF_ERANGE;
    if (rc == 0)
        return 0;
    field_quote(s, len, q, sizeof(q));
    cli_why(why, whycap, "gas %s is not a u64 in 1..18446744073709551615", q);
    return rc;
}

static int parse_pubkey(const char *s, size_t len, struct nf_pubkey *out, char *why, size_t whycap)
{
    if (keys_pubkey_parse(s, len, out) == 0)
        return 0;
    char q[200];
    field_quote(s, len, q, sizeof(q));
    cli_why(why, whycap, "public key %s is not ed25519:<base58 of 32 bytes>", q);
    return NF_EINVAL;
}

/* next_action: the next free slot, or NF_ETOOMANY. */
static struct near_action *next_action(struct cli_builder *b, char *why, size_t whycap)
{
    if (b->n >= NEAR_MAX_ACTIONS) {
        cli_why(why, whycap, "more than %d actions in one transaction (max_actions_per_receipt)",
                NEAR_MAX_ACTIONS);
        return NULL;
    }
    struct near_action *a = &b->actions[b->n];
    memset(a, 0, sizeof(*a));
    b->gas_per_action[b->n] = 0;
    return a;
}

static void set_bytes(struct nf_bytes *dst, const char *s, size_t len)
{
    dst->ptr = (const uint8_t *)s;
    dst->len = (uint32_t)len;
}

int cli_add_ft_transfer(struct cli_builder *b, const char *spec, char *why, size_t whycap)
{
    struct near_action *a = next_action(b, why, whycap);
    if (a == NULL)
        return NF_ETOOMANY;
    const char *c1 = strchr(spec, ':');
    if (c1 == NULL) {
        cli_why(why, whycap, "expected RECEIVER:AMOUNT[:MEMO]");
        return NF_EINVAL;
    }
    const char *amount = c1 + 1;
    const char *c2 = strchr(amount, ':');
    size_t amount_len = c2 != NULL ? (size_t)(c2 - amount) : strlen(amount);
    const char *memo = c2 != NULL ? c2 + 1 : NULL;
    size_t receiver_len = (size_t)(c1 - spec);
    int rc = check_account("receiver", spec, receiver_len, why, whycap);
    if (rc < 0)
        return rc;
    nf_u128 v;
    rc = parse_amount("amount", amount, amount_len, &v, why, whycap);
    if (rc < 0)
        return rc;
    if (v == 0) {
        cli_why(why, whycap, "amount must be positive (NEP-141 rejects 0)");
        return NF_ERANGE;
    }
    char *args = b->args_buf[b->n];
    rc = near_ft_transfer_args(args, CLI_ARGS_CAP, spec, receiver_len, v, memo,
                               memo != NULL ? strlen(memo) : 0);
    if (rc == NF_EUTF8) {
        cli_why(why, whycap, "memo is not valid UTF-8");
        return rc;
    }
    if (rc == NF_ERANGE) {
        cli_why(why, whycap, "memo is longer than %d bytes", NEAR_FT_MEMO_MAX);
        return NF_ERANGE;
    }
    if (rc < 0) {
        cli_why(why, whycap, "cannot build ft_transfer arguments (%s)", nf_strerror(rc));
        return rc;
    }
    a->type = NEAR_ACT_FUNCTION_CALL;
    set_bytes(&a->u.function_call.method_name, "ft_transfer", 11);
    set_bytes(&a->u.function_call.args, args, (size_t)rc);
    a->u.function_call.gas = CLI_DEFAULT_GAS;
    a->u.function_call.deposit = 1;
    b->gas_per_action[b->n] = 1;
    b->n++;
    return 0;
}

int cli_add_storage_deposit(struct cli_builder *b, const char *spec, char *why, size_t whycap)
{
    struct near_action *a = next_action(b, why, whycap);
    if (a == NULL)
        return NF_ETOOMANY;
    const char *c1 = strchr(spec, ':');
    size_t account_len = c1 != NULL ? (size_t)(c1 - spec) : strlen(spec);
    int rc = check_account("account", spec, account_len, why, whycap);
    if (rc < 0)
        return rc;
    nf_u128 deposit = CLI_DEFAULT_STORAGE_DEPOSIT;
    if (c1 != NULL) {
        rc = parse_amount("amount", c1 + 1, strlen(c1 + 1), &deposit, why, whycap);
        if (rc < 0)
            return rc;
    }
    char *args = b->args_buf[b->n];
    rc = near_storage_deposit_args(args, CLI_ARGS_CAP, spec, account_len, 1);
    if (rc < 0) {
        cli_why(why, whycap, "cannot build storage_deposit arguments (%s)", nf_strerror(rc));
        return rc;
    }
    a->type = NEAR_ACT_FUNCTION_CALL;
    set_bytes(&a->u.function_call.method_name, "storage_deposit", 15);
    set_bytes(&a->u.function_call.args, args, (size_t)rc);
    a->u.function_call.gas = CLI_DEFAULT_GAS;
    a->u.function_call.deposit = deposit;
    b->gas_per_action[b->n] = 1;
    b->n++;
    return 0;
}

int cli_add_function_call(struct cli_builder *b, const char *spec, char *why, size_t whycap)
{
    struct near_action *a = next_action(b, why, whycap);
    if (a == NULL)
        return NF_ETOOMANY;
    const char *first = strchr(spec, ':');
    const char *last = strrchr(spec, ':');
    const char *gas_colon = NULL;
    if (first != NULL && last != first) {
        for (const char *p = last - 1; p > first; p--) {
            if (*p == ':') {
                gas_colon = p;
                break;
            }
        }
    }
    if (gas_colon == NULL) {
        cli_why(why, whycap, "expected METHOD:ARGS_JSON:GAS:DEPOSIT");
        return NF_EINVAL;
    }
    size_t method_len = (size_t)(first - spec);
    if (method_len == 0 || method_len > NEAR_MAX_METHOD_NAME) {
        cli_why(why, whycap, "method name must be 1..%u bytes", NEAR_MAX_METHOD_NAME);
        return NF_EINVAL;
    }
    if (!nf_utf8_valid((const uint8_t *)spec, method_len)) {
        cli_why(why, whycap, "method name is not valid UTF-8");
        return NF_EUTF8;
    }
    const char *args = first + 1;
    size_t args_len = (size_t)(gas_colon - args);
    if (args_len > NEAR_MAX_ARGS_LEN) {
        cli_why(why, whycap, "ARGS_JSON is longer than %u bytes", NEAR_MAX_ARGS_LEN);
        return NF_ERANGE;
    }
    uint64_t gas;
    int rc = parse_gas(gas_colon + 1, (size_t)(last - gas_colon - 1), &gas, why, whycap);
    if (rc < 0)
        return rc;
    nf_u128 deposit;
    rc = parse_amount("deposit", last + 1, strlen(last + 1), &deposit, why, whycap);
    if (rc < 0)
        return rc;
    a->type = NEAR_ACT_FUNCTION_CALL;
    set_bytes(&a->u.function_call.method_name, spec, method_len);
    set_bytes(&a->u.function_call.args, args, args_len);
    a->u.function_call.gas = gas;
    a->u.function_call.deposit = deposit;
    b->n++;
    return 0;
}

int cli_add_transfer(struct cli_builder *b, const char *spec, char *why, size_t whycap)
{
    struct near_action *a = next_action(b, why, whycap);
    if (a == NULL)
        return NF_ETOOMANY;
    nf_u128 deposit;
    int rc = parse_amount("amount", spec, strlen(spec), &deposit, why, whycap);
    if (rc < 0)
        return rc;
    a->type = NEAR_ACT_TRANSFER;
    a->u.transfer.deposit = deposit;
    b->n++;
    return 0;
}

/* split_pubkey: the public key token of an --add-key / --delete-key spec: "ed25519:" + text up to
 * the next ':', or bare text up to the first ':'. Returns the token length. */
static size_t split_pubkey(const char *spec)
{
    size_t skip = strncmp(spec, "ed25519:", 8) == 0 ? 8 : 0;
    const char *c = strchr(spec + skip, ':');
    return c != NULL ? (size_t)(c - spec) : strlen(spec);
}

/* parse_methods: the comma list s[0..len) into a malloc'd array stored in the builder. */
static int parse_methods(struct cli_builder *b,
                         struct near_action *a,
                         const char *s,
                         size_t len,
                         char *why,
                         size_t whycap)
{
    uint32_t count = 0;
    if (len > 0) {
        count = 1;
        for (size_t i = 0; i < len; i++)
            count += s[i] == ',';
    }
    struct nf_bytes *names = NULL;
    if (count > 0) {
        names = calloc(count, sizeof(*names));
        if (names == NULL) {
            cli_why(why, whycap, "out of memory");
            return NF_ENOMEM;
        }
    }
    const char *p = s;
    for (uint32_t i = 0; i < count; i++) {
        const char *end = memchr(p, ',', (size_t)(s + len - p));
        size_t n = end != NULL ? (size_t)(end - p) : (size_t)(s + len - p);
        if (n == 0 || n > NEAR_MAX_METHOD_NAME || !nf_utf8_valid((const uint8_t *)p, n)) {
            cli_why(why, whycap, "method name %u of the list is not 1..%u bytes of UTF-8", i + 1,
                    NEAR_MAX_METHOD_NAME);
            free(names);
            return NF_EINVAL;
        }
        set_bytes(&names[i], p, n);
        p += n + 1;
    }
    free(b->method_names[b->n]);
    b->method_names[b->n] = names;
    a->u.add_key.method_names = names;
    a->u.add_key.n_method_names = count;
    return 0;
}

int cli_add_add_key(struct cli_builder *b, const char *spec, char *why, size_t whycap)
{
    struct near_action *a = next_action(b, why, whycap);
    if (a == NULL)
        return NF_ETOOMANY;
    size_t pk_len = split_pubkey(spec);
    int rc = parse_pubkey(spec, pk_len, &a->u.add_key.public_key, why, whycap);
    if (rc < 0)
        return rc;
    const char *rest = spec[pk_len] == ':' ? spec + pk_len + 1 : NULL;
    a->type = NEAR_ACT_ADD_KEY;
    a->u.add_key.nonce = 0;
    if (rest == NULL || strcmp(rest, "full") == 0) {
        a->u.add_key.full_access = 1;
        b->n++;
        return 0;
    }
    if (strncmp(rest, "fc:", 3) != 0) {
        cli_why(why, whycap,
                "expected PUBKEY, PUBKEY:full or PUBKEY:fc:RECEIVER:METHODS[:ALLOWANCE]");
        return NF_EINVAL;
    }
    const char *receiver = rest + 3;
    const char *c1 = strchr(receiver, ':');
    if (c1 == NULL) {
        cli_why(why, whycap, "expected fc:RECEIVER:METHODS[:ALLOWANCE] (METHODS may be empty)");
        return NF_EINVAL;
    }
    rc = check_account("key receiver", receiver, (size_t)(c1 - receiver), why, whycap);
    if (rc < 0)
        return rc;
    const char *methods = c1 + 1;
    const char *c2 = strchr(methods, ':');
    size_t methods_len = c2 != NULL ? (size_t)(c2 - methods) : strlen(methods);
    a->u.add_key.full_access = 0;
    set_bytes(&a->u.add_key.receiver_id, receiver, (size_t)(c1 - receiver));
    if (c2 != NULL) {
        rc =
            parse_amount("allowance", c2 + 1, strlen(c2 + 1), &a->u.add_key.allowance, why, whycap);
        if (rc < 0)
            return rc;
        a->u.add_key.has_allowance = 1;
    }
    rc = parse_methods(b, a, methods, methods_len, why, whycap);
    if (rc < 0)
        return rc;
    b->n++;
    return 0;
}

int cli_add_delete_key(struct cli_builder *b, const char *spec, char *why, size_t whycap)
{
    struct near_action *a = next_action(b, why, whycap);
    if (a == NULL)
        return NF_ETOOMANY;
    int rc = parse_pubkey(spec, strlen(spec), &a->u.delete_key.public_key, why, whycap);
    if (rc < 0)
        return rc;
    a->type = NEAR_ACT_DELETE_KEY;
    b->n++;
    return 0;
}

void cli_set_gas_per_action(struct cli_builder *b, uint64_t gas)
{
    for (uint32_t i = 0; i < b->n; i++) {
        if (b->gas_per_action[i])
            b->actions[i].u.function_call.gas = gas;
    }
}
