/* nf_err: project-wide error codes. Every function that can fail returns 0 (NF_OK) or one of these
 * negative values; nf_strerror() names it. Thread-safe, no state. */
#ifndef NF_ERR_H
#define NF_ERR_H

enum nf_err {
    NF_OK = 0,
    NF_EINVAL = -1,     /* malformed input (bad character, bad syntax) */
    NF_ERANGE = -2,     /* number out of range or overflow */
    NF_ENOSPC = -3,     /* caller's output buffer too small */
    NF_ETRAILING = -4,  /* bytes left after a complete structure */
    NF_ETRUNC = -5,     /* input ended inside a structure */
    NF_EUTF8 = -6,      /* invalid UTF-8 */
    NF_EACCOUNT = -7,   /* invalid NEAR account id */
    NF_EVARIANT = -8,   /* unknown or unsupported enum variant */
    NF_EVERSION = -9,   /* transaction version other than V0 */
    NF_ECRYPTO = -10,   /* key mismatch, bad signature, libsodium failure */
    NF_EIO = -11,       /* file or socket I/O failed (errno saved by the caller) */
    NF_EPERM = -12,     /* key file readable by group or others */
    NF_ENOMEM = -13,    /* allocation failed (start-up only) */
    NF_EFULL = -14,     /* ring or slab full: back-pressure, retry later */
    NF_ENOTFOUND = -15, /* no such key, account, file or record */
    NF_ETOOMANY = -16,  /* more items than the caller's capacity or a protocol limit */
    NF_ECONFIG = -17,   /* invalid configuration value */
    NF_ECORRUPT = -18,  /* checksum mismatch or corrupt record */
    NF_ESTATE = -19,    /* operation not valid in the current state */
    NF_EDISKFULL = -20, /* the file system holding a file is full (ENOSPC, EDQUOT) */
    NF_EIDEMFULL = -21, /* the idempotency index holds only keys it must keep */
};

/* nf_strerror: static string naming err (a value of enum nf_err); never NULL. Any thread. */
const char *nf_strerror(int err);

#endif
