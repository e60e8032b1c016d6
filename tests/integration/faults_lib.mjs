// faults_lib: helpers shared by the faults_*.mjs integration tests (submit under a
// degrading RPC). Builds on lib/harness.mjs; every process is started through it, so it is stopped
// on exit and on failure.
import { request, appliedMemos, audit, check, WAIT_FLOOR_MS } from './lib/harness.mjs';

// setFaults: POST /sim/faults; throws unless nearsim accepted the JSON.
export async function setFaults(simPort, faults) {
  const r = await request(simPort, 'POST', '/sim/faults', faults);
  if (r.status !== 200) throw new Error(`/sim/faults ${JSON.stringify(faults)}: ${r.status} ${r.text}`);
  return r.body;
}

// metrics: nearftd's /metrics as a Map "name{labels}" -> number. opts go to request (headers,
// e.g. a bearer token with the metrics scope).
export async function metrics(port, opts = {}) {
  const r = await request(port, 'GET', '/metrics', undefined, opts);
  const m = new Map();
  for (const line of r.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    m.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return m;
}

// metricSum: sum of every series whose name{labels} starts with prefix and contains `has`.
export function metricSum(m, prefix, has = '') {
  let v = 0;
  for (const [k, x] of m) if (k.startsWith(prefix) && k.includes(has)) v += x;
  return v;
}

export async function health(port) {
  const r = await request(port, 'GET', '/health');
  return { status: r.status, body: r.body };
}

// timed: request with its wall time; never throws (a transport error is status 0).
export async function timed(port, method, path, body, opts = {}) {
  const t0 = Date.now();
  try {
    const r = await request(port, method, path, body, opts);
    return { ...r, ms: Date.now() - t0 };
  } catch (e) {
    return { status: 0, text: String(e), ms: Date.now() - t0 };
  }
}

// transferState: GET /v1/transfers/{id} -> {status, error, tx_hash, ...}.
export async function transferState(port, id) {
  const r = await request(port, 'GET', `/v1/transfers/${id}`);
  return r.body || {};
}

// waitAllFinal: waits until every id is executed or failed; returns Map id -> state. `ms` (at
// least WAIT_FLOOR_MS) bounds a stall, not the whole wait: it throws only when no transfer of
// `ids` became final for that long, so a slow box that keeps finishing transfers is waited for
// (the test's ctest TIMEOUT bounds the whole) and a hang still fails. Before throwing it prints
// what nearftd says of itself (the states of the transfers still pending, /health, /debug/stages
// and the submit-stage metrics), so a CI log shows where they sat.
export async function waitAllFinal(port, ids, what, ms = 120000) {
  const out = new Map();
  const last = new Map();
  const stallMs = Math.max(ms, WAIT_FLOOR_MS);
  let pending = [...ids];
  let progressAt = Date.now();
  for (;;) {
    const next = [];
    for (let i = 0; i < pending.length; i += 64) {
      const chunk = pending.slice(i, i + 64);
      const states = await Promise.all(chunk.map((id) => transferState(port, id)));
      chunk.forEach((id, k) => {
        const s = states[k];
        if (s.status === 'executed' || s.status === 'failed') out.set(id, s);
        else { next.push(id); last.set(id, s); }
      });
    }
    if (next.length < pending.length) progressAt = Date.now();
    pending = next;
    if (pending.length === 0) return out;
    if (Date.now() - progressAt > stallMs) {
      await dumpState(port, pending.map((id) => last.get(id)).filter(Boolean));
      throw new Error(`timed out waiting for ${what}: ${pending.length} of ${ids.length} transfers ` +
        `still not final, none final for ${Math.round(stallMs / 1000)} s (first: ${pending.slice(0, 5).join(', ')})`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

// dumpState: prints, on stderr, the pending transfers' states by status and what nearftd reports
// of its stages; never throws.
export async function dumpState(port, pendingStates = []) {
  try {
    const by = new Map();
    for (const s of pendingStates) {
      const k = `${s.status}${s.error ? ` (${String(s.error).slice(0, 80)})` : ''}`;
      by.set(k, (by.get(k) || 0) + 1);
    }
    console.error(`pending by state: ${JSON.stringify(Object.fromEntries(by))}`);
    if (pendingStates.length) console.error(`first pending: ${JSON.stringify(pendingStates[0])}`);
    for (const path of ['/health', '/debug/stages']) {
      const r = await request(port, 'GET', path);
      console.error(`${path}: ${r.status} ${r.text.slice(0, 3000)}`);
    }
    const m = await metrics(port);
    const keep = /^nearft_(transactions|rpc_|dead_proofs|breaker|queue|key|nonce|signing|transfers_total|wal_failed)/;
    console.error([...m].filter(([k]) => keep.test(k) && !k.includes('_bucket{')).map(([k, v]) => `${k} ${v}`).join('\n'));
  } catch (e) {
    console.error(`dumpState: ${e}`);
  }
}

// checkExactlyOnce: every memo in `expected` applied exactly once, none of `absent` applied, and
// nearsim saw no duplicate memo at all.
export async function checkExactlyOnce(simPort, expected, absent = [], what = '') {
  const applied = await appliedMemos(simPort);
  let missing = 0, twice = 0, wrong = 0;
  for (const memo of expected) {
    const c = applied.get(memo) || 0;
    if (c === 0) missing++;
    else if (c > 1) twice++;
  }
  for (const memo of absent) if (applied.has(memo)) wrong++;
  const a = await audit(simPort);
  check(missing === 0, `${what}: ${missing} of ${expected.length} accepted transfers never applied`);
  check(twice === 0, `${what}: ${twice} transfers applied more than once`);
  check(wrong === 0, `${what}: ${wrong} transfers that should not land were applied`);
  check(a.duplicate_memo_count === 0, `${what}: nearsim duplicate_memo_count ${a.duplicate_memo_count}`);
  check(a.supply_conserved === true, `${what}: FT supply not conserved`);
  return { applied, audit: a };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
