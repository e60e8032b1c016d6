/* err: names for enum nf_err. Pure, any thread, owns nothing. */
#include "nf_err.h"

const char *nf_strerror(int err)
{
    switch (err) {
    case NF_OK:
        return "ok";
    case NF_EINVAL:
        return "invalid input";
    case NF_ERANGE:
        return "out of range";
    case NF_ENOSPC:
        return "buffer too small";
    case NF_ETRAILING:
        return "trailing bytes";
    case NF_ETRUNC:
        return "input truncated";
    case NF_EUTF8:
        return "invalid UTF-8";
    case NF_EACCOUNT:
        return "invalid account id";
    case NF_EVARIANT:
        return "unknown variant";
    case NF_EVERSION:
        return "unsupported transaction version";
    case NF_ECRYPTO:
        return "cryptographic check failed";
    case NF_EIO:
        return "I/O error";
    case NF_EPERM:
        return "permissions too open";
    case NF_ENOMEM:
        return "out of memory";
    case NF_EFULL:
        return "queue full";
    case NF_ENOTFOUND:
        return "not found";
    case NF_ETOOMANY:
        return "too many items";
    case NF_ECONFIG:
        return "invalid configuration";
    case NF_ECORRUPT:
        return "corrupt data";
    case NF_ESTATE:
        return "invalid state";
    case NF_EDISKFULL:
        return "disk full";
    case NF_EIDEMFULL:
        return "idempotency index full";
    }
    return "unknown error";
}
