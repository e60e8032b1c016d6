// Shared helpers for the nearft conformance scripts: ed25519 keys from a seed (node:crypto, no NEAR
// library involved), signing with near-api-js 7.2.0, running the nearft CLI, and a JSON parser that
// keeps every integer exact (nearft prints u64 nonces and gas as JSON numbers above 2^53).
import { spawn } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyPair, KeyPairSigner, createTransaction, encodeTransaction, baseEncode } from 'near-api-js';

export const sha256 = (u8) => new Uint8Array(createHash('sha256').update(u8).digest());
export const hex = (u8) => Buffer.from(u8).toString('hex');
export const b64 = (u8) => Buffer.from(u8).toString('base64');

// PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows it.
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

// Derives the public key of a 32-byte ed25519 seed with node's own crypto (OpenSSL).
export function ed25519PublicFromSeed(seed) {
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, Buffer.from(seed)]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

// A key in every form the scripts need: near-api-js KeyPair + signer, NEAR strings, raw bytes.
export function keyFromSeed(seed) {
  const pub = ed25519PublicFromSeed(seed);
  const secret = 'ed25519:' + baseEncode(new Uint8Array([...seed, ...pub]));
  const kp = KeyPair.fromString(secret);
  const publicKey = 'ed25519:' + baseEncode(pub);
  if (kp.getPublicKey().toString() !== publicKey) throw new Error('near-api-js derived a different public key');
  return { seed, pub, secret, publicKey, kp, signer: new KeyPairSigner(kp) };
}

// Signs with near-api-js; returns { hash (base58), signedB64, txBytes, signedBytes, signature }.
export async function napiSign(key, signerId, receiverId, nonce, actions, blockHash) {
  const tx = createTransaction(signerId, key.kp.getPublicKey(), receiverId, nonce, actions, blockHash);
  const txBytes = encodeTransaction(tx);
  const { txHash, signedTransaction } = await key.signer.signTransaction(tx);
  const signedBytes = encodeTransaction(signedTransaction);
  const hash = baseEncode(txHash);
  if (hash !== baseEncode(sha256(txBytes))) throw new Error('near-api-js txHash is not sha256(tx bytes)');
  return { hash, signedB64: b64(signedBytes), txBytes, signedBytes, signature: signedTransaction.signature.data };
}

// A private temporary directory removed by the returned cleanup function.
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// Writes a near-cli key file (mode 0600) and returns its path.
export function writeKeyFile(dir, name, accountId, key) {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ account_id: accountId, public_key: key.publicKey, private_key: key.secret }) + '\n',
    { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

// Runs a program; resolves { code, signal, stdout, stderr } (never rejects on a non-zero exit).
export function run(cmd, args, { timeoutMs = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

// Runs async jobs with at most `limit` in flight; resolves the results in input order.
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// Strict JSON parser in which every integer literal becomes a BigInt (JSON.parse would round
// nonces and gas above 2^53). Non-integer numbers become Number. Throws on any syntax error.
const NUM = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const STR = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
export function parseJsonExact(text) {
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const fail = (what) => { throw new SyntaxError(`JSON: ${what} at offset ${i}`); };
  function value() {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; const o = {}; ws();
      if (text[i] === '}') { i++; return o; }
      for (;;) {
        ws(); if (text[i] !== '"') fail('expected key');
        const k = str(); ws(); if (text[i++] !== ':') fail('expected :');
        if (Object.prototype.hasOwnProperty.call(o, k)) fail(`duplicate key ${k}`);
        o[k] = value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return o; }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++; const a = []; ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) {
        a.push(value()); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return a; }
        fail('expected , or ]');
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    NUM.lastIndex = i;
    const m = NUM.exec(text);
    if (!m) fail('unexpected character');
    i += m[0].length;
    return m[2] || m[3] ? Number(m[0]) : BigInt(m[0]);
  }
  function str() {
    STR.lastIndex = i;
    const m = STR.exec(text);
    if (!m) fail('bad string');
    i += m[0].length;
    return JSON.parse(m[0]);
  }
  const v = value();
  ws();
  if (i !== text.length) fail('trailing text');
  return v;
}

// startNearsim: spawns nearsim on a free 127.0.0.1 port with args, with a kill timer of limitMs
// (the test fails with `what` when it runs longer). Resolves {sim, addr, lagAddr, killTimer} once
// nearsim printed its listening line (and, with --lagging-listen in args, its lagging line);
// rejects when it exits first.
export async function startNearsim(bin, args, what, limitMs) {
  const lagging = args.includes('--lagging-listen');
  const sim = spawn(bin, ['--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killTimer = setTimeout(() => {
    console.error(`FAIL: ${what} took more than ${limitMs / 1000} s`);
    sim.kill('SIGKILL');
    process.exit(1);
  }, limitMs);
  const [addr, lagAddr] = await new Promise((resolve, reject) => {
    let buf = '';
    sim.stdout.on('data', (d) => {
      buf += d.toString();
      const m = buf.match(/(?:^|\n)listening=([0-9.]+:\d+)/);
      const l = buf.match(/(?:^|\n)lagging=([0-9.]+:\d+)/);
      if (m && (!lagging || l)) resolve([m[1], l ? l[1] : null]);
    });
    sim.on('exit', (code) => reject(new Error(`nearsim exited early with ${code}`)));
  });
  return { sim, addr, lagAddr, killTimer };
}

// tally / check: the pass and failure counts of a script; check prints a failure with its detail.
export const tally = { passes: 0, failures: 0 };
export function check(cond, what, extra) {
  if (cond) { tally.passes++; return; }
  tally.failures++;
  console.error(`FAIL: ${what}` + (extra !== undefined ? ` -- ${typeof extra === 'string' ? extra : JSON.stringify(extra).slice(0, 600)}` : ''));
}
