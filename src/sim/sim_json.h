/* sim_json: a small strict JSON reader for contract call arguments in nearsim. It validates a whole
 * JSON text (RFC 8259, nesting depth <= 64) and reports the members of the top-level object that
 * the caller names, with their type and raw span, so the FT contract model can deserialize
 * {"receiver_id":..,"amount":..,"memo":..} without allocating. Errors read like serde_json's.
 * Pure, no allocation, any thread. */
#ifndef NF_SIM_JSON_H
#define NF_SIM_JSON_H

#include <stddef.h>
#include <stdint.h>

enum sim_jtype {
    SIM_J_NONE = 0, /* member absent */
    SIM_J_STRING,
    SIM_J_NUMBER,
    SIM_J_TRUE,
    SIM_J_FALSE,
    SIM_J_NULL,
    SIM_J_OBJECT,
    SIM_J_ARRAY,
};

/* One wanted member. name is the caller's; type/raw/raw_len are outputs (raw spans the whole
 * value token in the input, quotes included for strings). */
struct sim_jfield {
    const char *name;
    enum sim_jtype type;
    const char *raw;
    size_t raw_len;
};

/* sim_json_object: parses buf[0..len) as one JSON value that must be an object; fills fields.
 * Returns 0, or NF_EINVAL with a serde_json-like reason in why (e.g. "EOF while parsing a value
 * at line 1 column 0", "invalid type: integer, expected a map", "duplicate field `amount`").
 * Borrows buf: raw spans point into it. */
int sim_json_object(
    const uint8_t *buf, size_t len, struct sim_jfield *fields, size_t n, char *why, size_t whycap);

/* sim_json_string: decodes a JSON string token raw[0..len) (with its quotes, as reported in a
 * sim_jfield) into UTF-8 out (cap bytes, NUL-terminated). Returns the decoded length, NF_EINVAL
 * (bad escape or lone surrogate) or NF_ENOSPC. */
int sim_json_string(const char *raw, size_t len, char *out, size_t cap);

/* sim_json_type_name: serde's word for a type in "invalid type" messages ("string", "integer",
 * "boolean", "null", "map", "sequence"). */
const char *sim_json_type_name(enum sim_jtype t);

#endif
