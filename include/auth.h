/* auth: nearftd's bearer tokens and the token file that lists them. A token is "nft_" followed by
 * 43 base64url characters (32 random bytes from libsodium); only its BLAKE2b-256 hash is ever
 * stored. The token file is text, one token per line:
 *
 *     # comment (a line whose first non-blank byte is '#'); blank lines are ignored
 *     NAME SCOPES HASH [max_amount_per_transfer=N] [max_amount_per_hour=N]
 *                      [max_amount_per_day=N] [from=NETS] [expires=TIME]
 *
 * NAME is 1..64 bytes of [A-Za-z0-9._-], unique in the file; SCOPES is a comma list of transfer,
 * read and metrics (each at most once, at least one); HASH is the 64 lowercase hex digits of
 * BLAKE2b-256(token), unique in the file. The options (each at most once, in any order; the
 * amounts decimal u128s greater than 0) are max_amount_per_transfer=N, which caps each transfer
 * this token may request (below --max-amount-per-transfer when both are set), and
 * max_amount_per_hour=N, the token's own rolling-hour budget (on top of --max-amount-per-hour
 * when set), max_amount_per_day=N its own rolling-24-hour budget (on top of
 * --max-amount-per-day); from=NETS (auth_nets_parse) the client networks it may be used from,
 * any other address being answered 401; expires=TIME (YYYY-MM-DDTHH:MM:SSZ, UTC, years 2000..9999)
 * is the moment from which nearftd answers the token 401 as it does an unknown one, saying when it
 * expired. Fields are separated by spaces or tabs; lines end in LF (a CR, NUL or other control byte
 * is an error). The file must not be readable or writable by group or others (mode 0600), like a
 * key file.
 *
 * The parser, the scope and name checks, the hash and the lookup are pure (no I/O, any thread).
 * auth_table_load / auth_file_add / auth_file_remove do blocking file I/O: start-up, SIGHUP and
 * the CLI only. A loaded table lives in sodium_malloc memory, read-only once filled, and is wiped
 * when freed. */
#ifndef NF_AUTH_H
#define NF_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "u128.h"

enum auth_scope {
    AUTH_SCOPE_TRANSFER = 1u, /* the POST routes of the three APIs */
    AUTH_SCOPE_READ = 2u,     /* status by id or transaction hash */
    AUTH_SCOPE_METRICS = 4u,  /* /metrics and /debug/stages */
};

#define AUTH_SCOPES_ALL   7u
#define AUTH_NAME_MAX     64
#define AUTH_HASH_BYTES   32
#define AUTH_TOKEN_PREFIX "nft_"
#define AUTH_TOKEN_LEN    47         /* "nft_" + 43 base64url characters (32 bytes), no NUL */
#define AUTH_SCOPES_STR   24         /* "transfer,read,metrics" + NUL */
#define AUTH_FILE_MAX     (1u << 20) /* a token file larger than this is refused */

#define AUTH_NETS_MAX 8   /* networks in one token's from= list */
#define AUTH_NETS_STR 400 /* the longest from= list text, NUL included */

/* One network of a token's from= list: the client's address (IPv4 in addr[0..4)) must start with
 * the prefix bits of addr. */
struct auth_net {
    uint8_t family; /* 4 or 6 */
    uint8_t prefix; /* 0..32 or 0..128 */
    uint8_t addr[16];
};

struct auth_entry {
    char name[AUTH_NAME_MAX + 1];
    unsigned scopes;                 /* enum auth_scope bits */
    nf_u128 max_amount_per_transfer; /* 0: none for this token */
    nf_u128 max_amount_per_hour;     /* 0: no hourly budget of its own */
    nf_u128 max_amount_per_day;      /* 0: no daily budget of its own */
    uint64_t expires_s;              /* Unix seconds from which it is refused; 0: never */
    uint8_t n_nets;                  /* from=: 0 (any address) or the networks it may come from */
    struct auth_net nets[AUTH_NETS_MAX];
    uint8_t hash[AUTH_HASH_BYTES];
};

/* auth_nets_parse: s[0..len) as a comma list of 1..AUTH_NETS_MAX networks, each an IPv4 or IPv6
 * address with an optional /PREFIX (default: the whole address), no bits set past the prefix,
 * into out[] and *n. 0 or NF_EINVAL with *why (static text). */
int auth_nets_parse(
    const char *s, size_t len, struct auth_net out[AUTH_NETS_MAX], uint8_t *n, const char **why);

/* auth_nets_format: e's from= list as text ("10.0.0.0/8,2001:db8::/32") into out
 * (AUTH_NETS_STR bytes); "" when it has none. */
void auth_nets_format(const struct auth_entry *e, char *out);

/* auth_from_ok: 1 when e has no from= list, or the client address (family 4 with addr[0..4), or 6
 * with addr[0..16); 0: unknown) is in one of its networks; else 0. */
int auth_from_ok(const struct auth_entry *e, int family, const uint8_t *addr);

#define AUTH_TIME_STR 21 /* "YYYY-MM-DDTHH:MM:SSZ" + NUL */

/* auth_time_parse: s[0..len) as YYYY-MM-DDTHH:MM:SSZ (UTC; every field in range, year 2000..9999)
 * into Unix seconds. 0 or NF_EINVAL. */
int auth_time_parse(const char *s, size_t len, uint64_t *out);

/* auth_time_format: Unix seconds as YYYY-MM-DDTHH:MM:SSZ into out (AUTH_TIME_STR bytes). */
void auth_time_format(uint64_t secs, char *out);

/* auth_expired: 1 when e has an expiry and now_s is at or after it. */
static inline int auth_expired(const struct auth_entry *e, uint64_t now_s)
{
    return e->expires_s != 0 && now_s >= e->expires_s;
}

/* A loaded token file: n entries. Allocated by auth_table_load (sodium_malloc, read-only). */
struct auth_table {
    size_t n;
    struct auth_entry e[];
};

/* auth_name_ok: 1 when s[0..len) is a valid NAME (1..64 bytes of [A-Za-z0-9._-]), else 0. */
int auth_name_ok(const char *s, size_t len);

/* auth_scopes_parse: "transfer,read" -> bits. 0, or NF_EINVAL with *why (static text) set: an
 * unknown scope, an empty item, a repeat, or no scope at all. */
int auth_scopes_parse(const char *s, size_t len, unsigned *out, const char **why);

/* auth_scopes_format: bits -> "transfer,read,metrics" order; out needs AUTH_SCOPES_STR bytes. */
void auth_scopes_format(unsigned scopes, char *out, size_t cap);

/* auth_parse: parses the token file text[0..len) into out[0..cap). Returns the entry count, or
 * NF_EINVAL with *line (1-based) and *why (static text) naming the first bad line, or
 * NF_ETOOMANY when there are more than cap entries (*line: the first one too many). Duplicate
 * names and duplicate hashes are errors. Borrows text; writes only out[0..count). */
int auth_parse(
    const char *text, size_t len, struct auth_entry *out, size_t cap, int *line, const char **why);

/* auth_count_lines: an upper bound on the entries of text[0..len) (its line count). */
size_t auth_count_lines(const char *text, size_t len);

/* auth_token_hash: BLAKE2b-256 of tok[0..len) into out. */
void auth_token_hash(const char *tok, size_t len, uint8_t out[AUTH_HASH_BYTES]);

/* auth_token_new: a fresh token (AUTH_TOKEN_LEN chars + NUL) into out (cap >= AUTH_TOKEN_LEN+1)
 * from randombytes_buf. 0 or NF_ENOSPC. Call sodium_init first. */
int auth_token_new(char *out, size_t cap);

/* auth_lookup: the scopes of the token tok[0..len) in t, or 0 when it is not there (or t is
 * NULL). Hashes tok and compares the hash with every entry with sodium_memcmp, without stopping at
 * a match, so the time taken does not depend on which entry matches. No allocation; any thread
 * that may read t. *index (may be NULL) gets the matching entry or -1. */
unsigned auth_lookup(const struct auth_table *t, const char *tok, size_t len, int *index);

/* auth_table_load: reads and parses the token file at path. The file must be a regular file, not
 * a symbolic link, owned by the process's euid, not accessible by group or others, in a directory
 * group and others cannot write (nf_secfile.h; NF_EPERM otherwise). auth_file_add and
 * auth_file_remove refuse the same files. Returns the table (caller owns; release with
 * auth_table_free) or NULL with *rc (NF_EIO, NF_EPERM, NF_EINVAL, NF_ETOOMANY, NF_ENOMEM) and a
 * one-line message in err[0..errcap) that names the path and, for a malformed file, the line number
 * ("tokens: line 3: ..."). Call sodium_init first. */
struct auth_table *auth_table_load(const char *path, char *err, size_t errcap, int *rc);

/* auth_table_free: wipes and frees t (sodium_free). NULL-safe. */
void auth_table_free(struct auth_table *t);

/* auth_file_add: appends "NAME SCOPES HASH" (and " from=NETS" when from is not NULL, the caller
 * having checked it with auth_nets_parse, and " expires=TIME" when expires_s is not 0) to the
 * token file at path, creating it with mode 0600 (and a comment line describing the format) when
 * it does not exist. Refuses a file accessible by group or others (NF_EPERM), a malformed file
 * (NF_EINVAL, with the line number), and a NAME or hash already present (NF_ESTATE). The append is
 * fsynced. 0 or a negative enum nf_err with err filled. The file is locked (flock) while it is read
 * and written. */
int auth_file_add(const char *path,
                  const char *name,
                  unsigned scopes,
                  const uint8_t hash[AUTH_HASH_BYTES],
                  uint64_t expires_s,
                  const char *from,
                  char *err,
                  size_t errcap);

/* auth_find_line: the first line of text[0..len) whose first field (after spaces and tabs) is
 * exactly name (NUL-terminated), followed by a space or a tab: [*start, *end) with *start at the
 * line's first byte (0 or just past an LF) and *end just past its LF (len for a last line without
 * one). For text that auth_parse accepted and a name it returned, that is the name's entry: its
 * line alone parses to that entry, and the text without it to the other entries. A name that
 * auth_name_ok refuses is not checked here and may match another line ("#" a comment, "a read" the
 * entry of "a"). auth_file_remove refuses such names first, then cuts the line it finds. Pure (no
 * I/O, any thread); borrows text and name until return. 0, or NF_ENOTFOUND (*start and *end
 * untouched). */
int auth_find_line(const char *text, size_t len, const char *name, size_t *start, size_t *end);

/* auth_file_remove: rewrites the token file without NAME's line (auth_find_line), atomically: a
 * 0600 temp file in the same directory, fsync, rename over the file, fsync of the directory.
 * Comments and the other lines are kept as they were. NF_EINVAL for a NAME auth_name_ok refuses
 * (nothing is opened); NF_ENOTFOUND when NAME is not in the file; NF_EPERM / NF_EINVAL as for
 * auth_file_add. */
int auth_file_remove(const char *path, const char *name, char *err, size_t errcap);

#endif
