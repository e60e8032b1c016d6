// Checks JSON-RPC answers against NEAR's own response schemas: the zod schemas of
// @near-js/jsonrpc-types 1.4.0 (generated from nearcore's OpenAPI spec), applied the way that
// package's validated client applies them: the result's keys are turned to camelCase, then parsed
// with the method's result schema. Errors are parsed with RpcErrorSchema, and the detail of
// INVALID_TRANSACTION (`data.TxExecutionError`) with TxExecutionErrorSchema.
//
// Besides what the schema requires, `missingOptional` lists the optional keys an answer leaves
// out. nearcore serialises an `Option` as null unless the field is marked skip_serializing_if, so
// an optional key that is absent is a field nearcore sends and the answer omits, unless it is one
// of the fields listed in NEARCORE_OMITS (nearcore leaves them out too; see docs/NEARSIM.md).
import * as T from '@near-js/jsonrpc-types';

// The result schema of every method nearsim serves, as the validated client uses them.
export const RESULT_SCHEMA = {
  block: 'RpcBlockResponseSchema',
  chunk: 'RpcChunkResponseSchema',
  status: 'RpcStatusResponseSchema',
  gas_price: 'RpcGasPriceResponseSchema',
  validators: 'RpcValidatorResponseSchema',
  query: 'RpcQueryResponseSchema',
  tx: 'RpcTransactionResponseSchema',
  EXPERIMENTAL_tx_status: 'RpcTransactionResponseSchema',
  send_tx: 'RpcTransactionResponseSchema',
  broadcast_tx_commit: 'RpcTransactionResponseSchema',
  broadcast_tx_async: 'CryptoHashSchema',
  EXPERIMENTAL_receipt: 'RpcReceiptResponseSchema',
};

// Optional keys (camelCase, array indices as []) that nearcore itself leaves out of these answers,
// each with the reason. Everything else the schema knows is expected to be present (possibly null).
export const NEARCORE_OMITS = {
  // AccountView: #[serde(default, skip_serializing_if = "Option::is_none")] on both; nearsim has
  // no global contracts, so nearcore would leave both out too.
  globalContractHash: 'AccountView: skip_serializing_if = "Option::is_none"',
  globalContractAccountId: 'AccountView: skip_serializing_if = "Option::is_none"',
  // StatusResponse: skip_serializing_if = "Option::is_none" (no ?detailed, no rpc address).
  detailedDebugStatus: 'StatusResponse: skip_serializing_if = "Option::is_none"',
  rpcAddr: 'StatusResponse: skip_serializing_if = "Option::is_none"',
  // ViewStateResult.proof: skip_serializing_if = "Vec::is_empty" (no include_proof).
  proof: 'ViewStateResult: skip_serializing_if = "Vec::is_empty"',
  // ReceiptEnumView::Action.refund_to: skip_serializing_if = "Option::is_none".
  'receipts[].receipt.Action.refundTo': 'ActionReceipt: skip_serializing_if = "Option::is_none"',
  'receipt.Action.refundTo': 'ActionReceipt: skip_serializing_if = "Option::is_none"',
  // SignedTransactionView.nonce_index: gas-key transactions only (protocol 85+).
  'transaction.nonceIndex': 'SignedTransactionView: skip_serializing_if = "Option::is_none"',
  'transactions[].nonceIndex': 'SignedTransactionView: skip_serializing_if = "Option::is_none"',
};

export function camel(o) {
  if (o === null || typeof o !== 'object') return o;
  if (Array.isArray(o)) return o.map(camel);
  const r = {};
  for (const [k, v] of Object.entries(o)) r[k.replace(/_([a-z])/g, (_, l) => l.toUpperCase())] = camel(v);
  return r;
}

function at(value, path) {
  let v = value;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[p];
  }
  return v;
}
const kind = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

// Flattens zod issues into "path: reason" lines. A union that matched no branch is reported
// through its closest branch (the one with the fewest issues), so the path names a field.
export function describe(issues, root, prefix = []) {
  const out = [];
  for (const is of issues) {
    const path = [...prefix, ...is.path];
    if (is.code === 'invalid_union' && Array.isArray(is.errors) && is.errors.length) {
      let best = is.errors[0];
      for (const e of is.errors) if (e.length < best.length) best = e;
      const deeper = describe(best, root, path);
      if (deeper.length) { out.push(...deeper); continue; }
    }
    const v = at(root, path);
    let why = is.code;
    if (is.code === 'invalid_type') why = `expected ${is.expected}, got ${v === undefined ? 'nothing (field missing)' : kind(v)}`;
    else if (is.code === 'invalid_value') why = `expected one of ${JSON.stringify(is.values)}, got ${JSON.stringify(v)}`;
    else if (is.message && is.message !== 'Invalid input') why = is.message;
    out.push(`${path.join('.') || '(root)'}: ${why}`);
  }
  return out;
}

function def(s) { return s._zod.def; }

// Walks a value that already parsed, listing the optional keys of the matched schema it lacks.
function walk(s, v, path, out) {
  const d = def(s);
  switch (d.type) {
    case 'lazy': return walk(d.getter(), v, path, out);
    case 'optional': if (v !== undefined) walk(d.innerType, v, path, out); return;
    case 'nullable': if (v !== null) walk(d.innerType, v, path, out); return;
    case 'intersection': walk(d.left, v, path, out); walk(d.right, v, path, out); return;
    case 'union': {
      // the branch that accepts the value; among several, the object covering most of its keys
      let best = null, score = -1;
      for (const o of d.options) {
        if (!o.safeParse(v).success) continue;
        const od = def(o).type === 'lazy' ? def(def(o).getter()) : def(o);
        const keys = od.type === 'object' && v && typeof v === 'object' ? Object.keys(od.shape).filter((k) => k in v).length : 0;
        if (keys > score) { best = o; score = keys; }
      }
      if (best) walk(best, v, path, out);
      return;
    }
    case 'array': if (Array.isArray(v)) for (const e of v) walk(d.element, e, `${path}[]`, out); return;
    case 'record': if (v && typeof v === 'object') for (const [k, e] of Object.entries(v)) walk(d.valueType, e, `${path}.${k}`, out); return;
    case 'object': {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return;
      for (const [k, ks] of Object.entries(d.shape)) {
        const p = path ? `${path}.${k}` : k;
        if (v[k] === undefined) {
          if (def(ks).type === 'optional') out.add(p);
          continue;
        }
        walk(ks, v[k], p, out);
      }
      return;
    }
    default: return;
  }
}

export function missingOptional(schema, value) {
  const out = new Set();
  walk(schema, value, '', out);
  return [...out].filter((p) => !(p in NEARCORE_OMITS));
}

const TX_METHODS = new Set(['tx', 'EXPERIMENTAL_tx_status', 'send_tx', 'broadcast_tx_commit']);

// nearcoreOnly: the answers where nearcore and the schema disagree (docs/NEARSIM.md, "Where the
// schema and nearcore disagree"). Returns null when the answer is not one of them, else its
// problems against nearcore's own shape.
//  1. wait_until NONE: nearcore answers {"final_execution_status":"NONE"} (the outcome is a
//     flattened Option::None); the schema requires the outcome fields.
//  2. query's legacy in-result errors: nearcore answers an unknown access key and a contract
//     execution error as a result {"error","logs","block_height","block_hash"}; the schema has no
//     such variant, and the validated client raises it as an error before parsing.
export function nearcoreOnly(method, result) {
  if (TX_METHODS.has(method) && result && typeof result === 'object' && result.final_execution_status === 'NONE') {
    const extra = Object.keys(result).filter((k) => k !== 'final_execution_status');
    return extra.map((k) => `result.${k}: nearcore sends only final_execution_status with NONE`);
  }
  if (method === 'query' && result && typeof result === 'object' && 'error' in result) {
    const p = [];
    if (typeof result.error !== 'string') p.push(`result.error: expected string, got ${kind(result.error)}`);
    if (!Array.isArray(result.logs)) p.push(`result.logs: expected array, got ${kind(result.logs)}`);
    if (!Number.isInteger(result.block_height)) p.push(`result.block_height: expected number, got ${kind(result.block_height)}`);
    if (typeof result.block_hash !== 'string') p.push(`result.block_hash: expected string, got ${kind(result.block_hash)}`);
    const extra = Object.keys(result).filter((k) => !['error', 'logs', 'block_height', 'block_hash'].includes(k));
    p.push(...extra.map((k) => `result.${k}: not in nearcore's legacy in-result error`));
    return p;
  }
  return null;
}

// checkAnswer(method, json, requestId, { nearcoreFields }) -> array of problems ("path:
// reason"); empty when the answer is what NEAR's schemas accept. nearcoreFields (default true)
// also requires the optional fields nearcore sends (see missingOptional).
export function checkAnswer(method, json, requestId, { nearcoreFields = true } = {}) {
  const probs = [];
  if (!json || typeof json !== 'object') return ['(root): not a JSON object'];
  if (json.jsonrpc !== '2.0') probs.push(`jsonrpc: expected "2.0", got ${JSON.stringify(json.jsonrpc)}`);
  if (requestId !== undefined && json.id !== requestId) probs.push(`id: expected ${JSON.stringify(requestId)}, got ${JSON.stringify(json.id)}`);
  if (typeof json.id !== 'string' && json.id !== null) probs.push(`id: expected string, got ${kind(json.id)}`);
  const hasResult = 'result' in json, hasError = 'error' in json;
  if (hasResult === hasError) { probs.push('(root): exactly one of result and error'); return probs; }
  if (hasResult) {
    const nc = nearcoreOnly(method, json.result);
    if (nc !== null) return [...probs, ...nc];
    const name = RESULT_SCHEMA[method];
    if (!name) return [...probs, `(root): no result schema for method ${method}`];
    const schema = T[name]();
    const v = camel(json.result);
    const r = schema.safeParse(v);
    if (!r.success) probs.push(...describe(r.error.issues, v).map((x) => `result.${x}`));
    else if (nearcoreFields) probs.push(...missingOptional(schema, v).map((p) => `result.${p}: field missing (nearcore sends it)`));
    return probs;
  }
  const e = camel(json.error);
  const r = T.RpcErrorSchema().safeParse(e);
  if (!r.success) probs.push(...describe(r.error.issues, e).map((x) => `error.${x}`));
  if (e && e.cause && e.cause.name === 'INVALID_TRANSACTION') {
    const tx = e.data && e.data.TxExecutionError;
    if (tx === undefined) probs.push('error.data.TxExecutionError: field missing');
    else {
      const t = T.TxExecutionErrorSchema().safeParse(tx);
      if (!t.success) probs.push(...describe(t.error.issues, tx).map((x) => `error.data.TxExecutionError.${x}`));
    }
  }
  return probs;
}
