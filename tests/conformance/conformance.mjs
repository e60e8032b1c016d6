// Randomised byte-exact conformance of `nearft tx sign` / `nearft tx decode` against near-api-js 7.2.0.
//
//   node conformance.mjs path/to/nearft [--seed S] [--count N] [--tamper M] [--jobs J]
//   (or env CONFORMANCE_SEED / CONFORMANCE_COUNT; the seed is printed so any run can be replayed)
//
// 1. Generates N transactions from the seed: random ed25519 keys, account ids of every legal shape
//    and length, nonces up to 2^64-1, amounts up to 2^128-1, memos absent/empty/unicode/control
//    characters, 1..100 actions mixing ft_transfer, storage_deposit, FunctionCall, Transfer, AddKey
//    (full / function-call with and without allowance) and DeleteKey, gas and deposit extremes.
//    Each is signed by near-api-js and by `nearft tx sign`; hash and signed base64 must be equal.
// 2. Feeds every near-api-js-signed transaction to `nearft tx decode` and checks each field of the
//    view (integers compared exactly as BigInt) and signature_valid == true.
// 3. Flips one random byte of M signed transactions: decode must exit 1 or say signature_valid false.
// Prints `conformance: P passed, F failed` and exits 1 on any failure.
import { actions as A, PublicKey, baseEncode } from 'near-api-js';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { keyFromSeed, napiSign, tempDir, writeKeyFile, run, pool, parseJsonExact, hex, b64 } from './lib.mjs';

// ---- arguments ----------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const opt = (name, env, dflt) => {
  const i = argv.indexOf(name);
  if (i >= 0 && i + 1 < argv.length) return argv.splice(i, 2)[1];
  return process.env[env] ?? dflt;
};
const seedText = String(opt('--seed', 'CONFORMANCE_SEED', String(Date.now() % 1000000000)));
const COUNT = Number(opt('--count', 'CONFORMANCE_COUNT', '1000'));
const TAMPER = Number(opt('--tamper', 'CONFORMANCE_TAMPER', '300'));
const JOBS = Number(opt('--jobs', 'CONFORMANCE_JOBS', '8'));
const nearft = argv[0] || process.env.NEARFT;
if (!nearft) {
  console.error('usage: node conformance.mjs path/to/nearft [--seed S] [--count N] [--tamper M] [--jobs J]');
  process.exit(2);
}
console.log(`conformance: seed=${seedText} count=${COUNT} tamper=${TAMPER} jobs=${JOBS} nearft=${nearft}`);
console.log(`conformance: replay with: node conformance.mjs ${nearft} --seed ${seedText} --count ${COUNT}`);

// ---- deterministic PRNG (sfc32 seeded by cyrb128 of the seed text) -------------------------------
function cyrb128(str) {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0, k; i < str.length; i++) {
    k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}
let [sa, sb, sc, sd] = cyrb128(seedText);
function u32() {
  sa >>>= 0; sb >>>= 0; sc >>>= 0; sd >>>= 0;
  const t = (sa + sb) | 0;
  sa = sb ^ (sb >>> 9);
  sb = (sc + (sc << 3)) | 0;
  sc = (sc << 21) | (sc >>> 11);
  sd = (sd + 1) | 0;
  const r = (t + sd) | 0;
  sc = (sc + r) | 0;
  return r >>> 0;
}
for (let i = 0; i < 20; i++) u32();
const int = (n) => Math.floor((u32() / 4294967296) * n); // 0..n-1
const range = (lo, hi) => lo + int(hi - lo + 1);
const chance = (p) => u32() / 4294967296 < p;
const pick = (arr) => arr[int(arr.length)];
const bytes = (n) => Uint8Array.from({ length: n }, () => int(256));
function bigBits(bits) {
  let v = 0n;
  for (let i = 0; i < bits; i += 32) v = (v << 32n) | BigInt(u32());
  return v & ((1n << BigInt(bits)) - 1n);
}
const U64_MAX = (1n << 64n) - 1n;
const U128_MAX = (1n << 128n) - 1n;
// Extremes first, then values of every magnitude.
function u64() {
  return pick([
    () => 0n, () => 1n, () => U64_MAX, () => U64_MAX - 1n, () => (1n << 53n) + 1n, () => (1n << 63n),
    () => BigInt(range(0, 1000)), () => bigBits(range(1, 64)), () => bigBits(64), () => bigBits(64),
  ])();
}
function u128() {
  return pick([
    () => 0n, () => 1n, () => U128_MAX, () => U128_MAX - 1n, () => U64_MAX, () => U64_MAX + 1n,
    () => 10n ** 24n, () => 1250000000000000000000n, () => bigBits(range(1, 128)), () => bigBits(128),
  ])();
}

// ---- account ids of every legal shape (docs/PROTOCOL.md 5.4) -------------------------------------
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';
const ACCOUNT_RE = /^(([a-z\d]+[-_])*[a-z\d]+\.)*([a-z\d]+[-_])*[a-z\d]+$/;
function namedOfLength(len, sepRate) {
  let s = '';
  for (let i = 0; i < len; i++) {
    const canSep = i > 0 && i < len - 1 && !'-_.'.includes(s[i - 1]);
    s += canSep && chance(sepRate) ? pick(['-', '_', '.']) : ALNUM[int(ALNUM.length)];
  }
  return s;
}
const hexOf = (n) => Array.from({ length: n }, () => HEX[int(16)]).join('');
function accountId() {
  const shape = int(12);
  let id;
  switch (shape) {
    case 0: id = hexOf(64); break; // NEAR-implicit
    case 1: id = '0x' + hexOf(40); break; // ETH-implicit
    case 2: id = '0s' + hexOf(40); break; // deterministic (NEP-616)
    case 3: id = namedOfLength(2, 0); break; // shortest
    case 4: id = namedOfLength(64, 0.25); break; // longest
    case 5: id = pick(['aa', 'a-a', '100', 'b-o_w_e-n', 'a.b-a.ra', '10-4.8-2', 'near.a', 'alice.near',
      'usdt.tether-token.near', 'x.y', '0_0', 'near', 'a'.repeat(64)]); break;
    case 6: { // subaccount chain name.parent.near
      const parts = [];
      let total = 0;
      const depth = range(2, 5);
      for (let i = 0; i < depth; i++) {
        const p = namedOfLength(range(1, 12), 0.15);
        if (total + p.length + 1 > 64) break;
        parts.push(p);
        total += p.length + 1;
      }
      id = parts.length >= 2 ? parts.join('.') : 'sub.' + parts.join('.');
      if (id.length < 2 || id.length > 64) id = 'sub.near';
      break;
    }
    default: id = namedOfLength(range(2, 64), pick([0, 0.1, 0.3])); break;
  }
  if (!ACCOUNT_RE.test(id) || id.length < 2 || id.length > 64) throw new Error(`generator made invalid id ${id}`);
  return id;
}

// ---- strings ------------------------------------------------------------------------------------
const CHARSETS = [
  'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ':::,,,"\\\\/{}[]\'`', // separators, quotes, backslashes
  '\u0001\u0007\b\t\n\u000b\f\r\u001b\u001f\u007f', // control characters (NUL cannot be in argv)
  'é漢字Ωжß€\u00a0\u2028\u2029\ufeff\ufffd', // BMP incl. JSON.stringify edge cases
  '😀🚀👍🏽🇺🇦𝄞🦀', // astral (surrogate pairs in JS)
];
// A string of at most maxBytes UTF-8 bytes drawn from a random mix of the charsets.
function text(maxBytes) {
  const sets = CHARSETS.filter(() => chance(0.6));
  if (sets.length === 0) sets.push(CHARSETS[0]);
  const target = chance(0.1) ? maxBytes : range(0, maxBytes);
  let s = '';
  let n = 0;
  for (let guard = 0; guard < 10 * maxBytes + 10; guard++) {
    const set = [...pick(sets)];
    const c = pick(set);
    const cb = Buffer.byteLength(c);
    if (n + cb > target) {
      if (n + 1 <= target && chance(0.5)) { s += 'z'; n += 1; continue; }
      break;
    }
    s += c;
    n += cb;
  }
  return s;
}
const methodName = () => namedOfLength(range(1, 30), 0).replace(/[.\-]/g, '_') + (chance(0.2) ? '_call' : '');
function argsJson() {
  switch (int(5)) {
    case 0: return '';
    case 1: return '{}';
    case 2: return JSON.stringify({ k: text(40), n: Number(int(100000)), nested: { a: [1, 'b:c'] } });
    case 3: return text(200);
    default: return JSON.stringify({ receiver_id: accountId(), amount: u128().toString(), memo: text(30) });
  }
}

// ---- one random transaction ---------------------------------------------------------------------
const te = new TextEncoder();
function randomKeySeed() { return bytes(32); }
// AddKey / DeleteKey keys: any 32 bytes encode (no curve check on either side), so no derivation.
const randomPublicKey = () => 'ed25519:' + baseEncode(chance(0.05) ? new Uint8Array(32) : bytes(32));
function actionCount() {
  const r = int(100);
  if (r < 35) return 1;
  if (r < 65) return range(2, 5);
  if (r < 85) return range(6, 30);
  if (r < 93) return range(31, 99);
  return 100;
}
const GAS_CHOICES = [1n, 30000000000000n, 15000000000000n, 300000000000000n, U64_MAX, null];

function genTx(index) {
  const key = keyFromSeed(randomKeySeed());
  const signerId = accountId();
  const receiverId = chance(0.5) ? pick(['usdt.tether-token.near', 'wrap.near', 'token.sweat']) : accountId();
  const nonce = u64();
  const blockHash = pick([() => new Uint8Array(32), () => { const b = bytes(32); b[0] = 0; b[1] = 0; return b; },
    () => bytes(32), () => bytes(32)])();
  let gasPerAction = pick(GAS_CHOICES);
  if (gasPerAction === null) gasPerAction = bigBits(64) || 1n;
  const useDefaultGas = gasPerAction === 30000000000000n && chance(0.5);
  const n = actionCount();
  const cli = [];
  const acts = [];
  const views = [];
  const fc = (method, argsStr, gas, deposit) => {
    const argsBytes = te.encode(argsStr);
    acts.push(A.functionCall(method, argsBytes, gas, deposit));
    views.push({ FunctionCall: { method_name: method, args: b64(argsBytes), gas, deposit: deposit.toString() } });
  };
  for (let i = 0; i < n; i++) {
    const kind = pick(['ft', 'ft', 'ft', 'ft', 'sd', 'fc', 'transfer', 'addfull', 'addfc', 'delete']);
    if (kind === 'ft') {
      const receiver = accountId();
      const amount = (() => { let a = u128(); return a === 0n ? 1n : a; })();
      const m = int(10);
      const memo = m < 3 ? undefined : m < 4 ? '' : text(256);
      const args = JSON.stringify({ receiver_id: receiver, amount: amount.toString(), ...(memo !== undefined ? { memo } : {}) });
      fc('ft_transfer', args, gasPerAction, 1n);
      cli.push('--ft-transfer', `${receiver}:${amount}${memo !== undefined ? ':' + memo : ''}`);
    } else if (kind === 'sd') {
      const account = accountId();
      const amount = chance(0.4) ? undefined : u128();
      fc('storage_deposit', JSON.stringify({ account_id: account, registration_only: true }), gasPerAction,
        amount ?? 1250000000000000000000n);
      cli.push('--storage-deposit', amount === undefined ? account : `${account}:${amount}`);
    } else if (kind === 'fc') {
      const method = methodName();
      const args = argsJson();
      const gas = (() => { const g = u64(); return g === 0n ? 1n : g; })();
      const deposit = u128();
      fc(method, args, gas, deposit);
      cli.push('--function-call', `${method}:${args}:${gas}:${deposit}`);
    } else if (kind === 'transfer') {
      const deposit = u128();
      acts.push(A.transfer(deposit));
      views.push({ Transfer: { deposit: deposit.toString() } });
      cli.push('--transfer', deposit.toString());
    } else if (kind === 'addfull') {
      const pk = randomPublicKey();
      acts.push(A.addFullAccessKey(PublicKey.from(pk)));
      views.push({ AddKey: { public_key: pk, access_key: { nonce: 0n, permission: 'FullAccess' } } });
      const form = int(3);
      cli.push('--add-key', form === 0 ? pk : form === 1 ? `${pk}:full` : `${pk.slice(8)}:full`);
    } else if (kind === 'addfc') {
      const pk = randomPublicKey();
      const receiver = accountId();
      const methods = Array.from({ length: pick([0, 0, 1, 2, 3, 5]) }, methodName);
      const allowance = chance(0.4) ? undefined : u128();
      acts.push(A.addFunctionCallAccessKey(PublicKey.from(pk), receiver, methods, allowance));
      views.push({ AddKey: { public_key: pk, access_key: { nonce: 0n, permission: { FunctionCall: {
        allowance: allowance === undefined ? null : allowance.toString(), receiver_id: receiver, method_names: methods } } } } });
      cli.push('--add-key', `${pk}:fc:${receiver}:${methods.join(',')}${allowance === undefined ? '' : ':' + allowance}`);
    } else {
      const pk = randomPublicKey();
      acts.push(A.deleteKey(PublicKey.from(pk)));
      views.push({ DeleteKey: { public_key: pk } });
      cli.push('--delete-key', pk);
    }
  }
  const hasGasActions = views.some((v, i) => v.FunctionCall && /^--(ft-transfer|storage-deposit)$/.test(cli[2 * i]));
  if (hasGasActions && !useDefaultGas) cli.push('--gas-per-action', gasPerAction.toString());
  else if (!hasGasActions && chance(0.3)) cli.push('--gas-per-action', gasPerAction.toString());
  return { index, key, signerId, receiverId, nonce, blockHash, acts, views, cli, viaCredentials: chance(0.2) };
}

// ---- comparison helpers -------------------------------------------------------------------------
function deepEqual(a, b) {
  if (typeof a !== typeof b) return false;
  if (a === null || b === null || typeof a !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
}
const show = (v) => {
  const t = JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  return t.length > 400 ? `${t.slice(0, 200)}...(${t.length} chars)...${t.slice(-100)}` : t;
};
function firstDiff(aB64, bB64) {
  const a = Buffer.from(aB64, 'base64'), b = Buffer.from(bB64, 'base64');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const ctx = (buf) => hex(buf.subarray(Math.max(0, i - 8), i + 24));
  if (i === a.length && i === b.length) return 'same bytes, different base64 text (non-canonical padding bits?)';
  return `first differing byte at offset ${i} (lengths ${a.length} vs ${b.length})\n` +
    `    near-api-js bytes[${Math.max(0, i - 8)}..]: ${ctx(a)}\n    nearft      bytes[${Math.max(0, i - 8)}..]: ${ctx(b)}`;
}

let passed = 0;
let failed = 0;
let detailed = 0;
function failure(summary, detail) {
  failed++;
  if (detailed < 3) {
    detailed++;
    console.log(`FAIL ${summary}\n${detail}`);
  } else if (detailed < 20) {
    detailed++;
    console.log(`FAIL ${summary}`);
  }
}

// ---- run ----------------------------------------------------------------------------------------
const started = Date.now();
const tmp = tempDir('nearft-conformance-');
let exitCode = 1;
try {
  const txs = [];
  for (let i = 0; i < COUNT; i++) txs.push(genTx(i));
  const stats = { actions: 0, max: 0, hundred: 0 };
  for (const t of txs) {
    t.js = await napiSign(t.key, t.signerId, t.receiverId, t.nonce, t.acts, t.blockHash);
    stats.actions += t.acts.length;
    stats.max = Math.max(stats.max, t.acts.length);
    stats.hundred += t.acts.length === 100 ? 1 : 0;
  }
  console.log(`conformance: generated ${COUNT} txs, ${stats.actions} actions (max ${stats.max}, ${stats.hundred} with 100), ` +
    `signed by near-api-js in ${Date.now() - started} ms`);

  // 1. sign with nearft
  await pool(txs, JOBS, async (t) => {
    let keyArgs;
    if (t.viaCredentials) {
      const dir = join(tmp.dir, `creds-${t.index}`);
      mkdirSync(dir, { mode: 0o700 });
      writeKeyFile(dir, `${t.signerId}.json`, t.signerId, t.key);
      keyArgs = ['--credentials', dir, '--signer', t.signerId];
    } else {
      keyArgs = ['--key-file', writeKeyFile(tmp.dir, `key-${t.index}.json`, t.signerId, t.key)];
    }
    const args = ['tx', 'sign', ...keyArgs, '--receiver', t.receiverId, '--nonce', t.nonce.toString(),
      '--block-hash', baseEncode(t.blockHash), ...t.cli];
    const r = await run(nearft, args);
    const where = `sign tx #${t.index} (seed ${seedText})`;
    if (r.code !== 0) {
      failure(`${where}: nearft exit ${r.code ?? r.signal}`, `  stderr: ${r.stderr.trim()}\n  args: ${show(args)}`);
      return;
    }
    let out;
    try { out = parseJsonExact(r.stdout.trim()); } catch (e) {
      failure(`${where}: output is not JSON (${e.message})`, `  stdout: ${r.stdout}`);
      return;
    }
    const want = { hash: t.js.hash, signed_tx_base64: t.js.signedB64, signer_id: t.signerId, public_key: t.key.publicKey,
      nonce: t.nonce, receiver_id: t.receiverId, actions: BigInt(t.acts.length) };
    const bad = Object.keys(want).filter((k) => !deepEqual(out[k], want[k]));
    if (bad.length === 0 && Object.keys(out).length === Object.keys(want).length) { passed++; return; }
    failure(`${where}: fields differ: ${bad.join(', ') || 'extra fields'}`,
      `  args: ${show(args)}\n` + bad.map((k) => `  ${k}: near-api-js ${show(want[k])}\n  ${' '.repeat(k.length)}  nearft      ${show(out[k])}`).join('\n') +
      (bad.includes('signed_tx_base64') && typeof out.signed_tx_base64 === 'string' ? '\n  ' + firstDiff(want.signed_tx_base64, out.signed_tx_base64) : ''));
  });
  console.log(`conformance: sign done (${passed} passed, ${failed} failed) at ${Date.now() - started} ms`);

  // 2. decode near-api-js output
  await pool(txs, JOBS, async (t) => {
    const r = await run(nearft, ['tx', 'decode', t.js.signedB64]);
    const where = `decode tx #${t.index} (seed ${seedText})`;
    if (r.code !== 0) {
      failure(`${where}: nearft exit ${r.code ?? r.signal}`, `  stderr: ${r.stderr.trim()}\n  base64: ${t.js.signedB64}`);
      return;
    }
    let out;
    try { out = parseJsonExact(r.stdout.trim()); } catch (e) {
      failure(`${where}: output is not JSON (${e.message})`, `  stdout: ${r.stdout}`);
      return;
    }
    const want = { signer_id: t.signerId, public_key: t.key.publicKey, nonce: t.nonce, receiver_id: t.receiverId,
      actions: t.views, priority_fee: 0n, signature: 'ed25519:' + baseEncode(t.js.signature), hash: t.js.hash,
      signature_valid: true };
    const bad = Object.keys(want).filter((k) => !deepEqual(out[k], want[k]));
    const extra = Object.keys(out).filter((k) => !(k in want));
    if (bad.length === 0 && extra.length === 0) { passed++; return; }
    let detail = `  base64: ${t.js.signedB64}\n`;
    for (const k of bad) {
      if (k === 'actions' && Array.isArray(out.actions)) {
        const i = want.actions.findIndex((a, j) => !deepEqual(a, out.actions[j]));
        detail += `  actions: count ${out.actions.length} vs ${want.actions.length}; first differing action #${i}:\n` +
          `    near-api-js ${show(want.actions[i])}\n    nearft      ${show(out.actions[i])}\n`;
      } else {
        detail += `  ${k}: near-api-js ${show(want[k])}\n  ${' '.repeat(k.length)}  nearft      ${show(out[k])}\n`;
      }
    }
    if (extra.length) detail += `  unexpected fields: ${extra.join(', ')}\n`;
    failure(`${where}: fields differ: ${[...bad, ...extra].join(', ')}`, detail.trimEnd());
  });
  console.log(`conformance: decode done (${passed} passed, ${failed} failed) at ${Date.now() - started} ms`);

  // 3. one flipped byte: decode must refuse (exit 1) or report an invalid signature
  const tampered = txs.slice(0, Math.min(TAMPER, txs.length)).map((t) => {
    const buf = Buffer.from(t.js.signedBytes);
    const at = int(buf.length);
    buf[at] ^= range(1, 255);
    return { t, at, b64: buf.toString('base64') };
  });
  await pool(tampered, JOBS, async ({ t, at, b64: text64 }) => {
    const r = await run(nearft, ['tx', 'decode', text64]);
    const where = `tamper tx #${t.index} byte ${at} (seed ${seedText})`;
    if (r.code === 1 && r.stderr.startsWith('nearft: tx decode: ')) { passed++; return; }
    if (r.code === 0) {
      let out;
      try { out = parseJsonExact(r.stdout.trim()); } catch (e) { out = null; }
      if (out && out.signature_valid === false) { passed++; return; }
      failure(`${where}: decode accepted a modified transaction as validly signed`, `  stdout: ${r.stdout.trim()}`);
      return;
    }
    failure(`${where}: decode exit ${r.code ?? r.signal}`, `  stderr: ${r.stderr.trim()}\n  base64: ${text64}`);
  });
  console.log(`conformance: tamper done at ${Date.now() - started} ms`);
  exitCode = failed === 0 ? 0 : 1;
} finally {
  tmp.cleanup();
}
console.log(`conformance: ${passed} passed, ${failed} failed`);
process.exit(exitCode);
