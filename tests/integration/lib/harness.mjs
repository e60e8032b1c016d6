// harness: start nearsim and nearftd on free 127.0.0.1 ports for integration tests and benchmarks,
// talk HTTP to them, and stop everything that was started (also on failure). No dependencies.
import { spawn } from 'node:child_process';
import { appendFileSync, createWriteStream, existsSync, mkdtempSync, rmSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';

const started = new Set();
let cleanupInstalled = false;
function installCleanup() {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = () => { for (const p of started) { try { p.kill('SIGKILL'); } catch {} } };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(130); });
}

// TRANSFER_ID: the shape of a public transfer id, "<sequence>-<16 hex tag>" (docs/SECURITY.md,
// "Transfer ids").
export const TRANSFER_ID = /^[1-9][0-9]*-[0-9a-f]{16}$/;

export const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

// request: one HTTP request; resolves {status, headers, body (parsed JSON when possible), text}.
// fresh: on a new connection of its own (not one the keep-alive agent holds).
export function request(port, method, path, body, { headers = {}, timeoutMs = 60000, fresh = false } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: fresh ? false : agent,
      headers: { ...(data !== undefined ? { 'content-type': 'application/json',
        'content-length': Buffer.byteLength(data) } : {}), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: json, text });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout ${method} ${path}`)));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

export function rpc(port, method, params) {
  return request(port, 'POST', '/', { jsonrpc: '2.0', id: 't', method, params });
}

// START_LIMIT_MS: how long a process may take to print its ready line. Generous on purpose: a
// TSan build on a loaded 2-core box starts in seconds, a healthy default build in milliseconds;
// the wait ends as soon as the line appears, so the limit only bounds a process that hangs.
export const START_LIMIT_MS = Number(process.env.NF_START_LIMIT_MS || 90000);

function lastLine(text) {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.length ? lines[lines.length - 1] : '(nothing printed)';
}

// waitLine: resolves with the match of re in the process's output (its own ready line); rejects
// when it exits first or after ms, naming the last line it logged (logFile: where its stderr went).
function waitLine(proc, re, what, { ms = START_LIMIT_MS, logFile } = {}) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const last = () => {
      let text = buf;
      if (logFile) { try { text += '\n' + readFileSync(logFile, 'utf8'); } catch {} }
      return lastLine(text);
    };
    const t = setTimeout(() => reject(new Error(`${what} did not print its ready line within ${ms} ms; last log line: ${last()}`)), ms);
    const on = (d) => {
      buf += d.toString();
      const m = buf.match(re);
      if (m) {
        clearTimeout(t);
        proc.stdout.off('data', on);
        if (proc.stderr) proc.stderr.off('data', on);
        resolve(m);
      }
    };
    proc.stdout.on('data', on);
    if (proc.stderr) proc.stderr.on('data', on);
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`${what} exited ${code} before it was ready; last log line: ${last()}`)); });
  });
}

// startSim: nearsim on a free port writing its keys to a temp dir. Returns {port, lagPort, creds,
// proc, dir, stop}; lagPort is its lagging listener's port when extraArgs has --lagging-listen
// (nearsim prints that line right after its listening line), else null. Its stderr (a sanitizer's
// report included) goes to dir/nearsim.log, ended by a line saying how it exited when that was
// not through stop(): a test that fails because nearsim went away says why in the kept dir.
export async function startSim(nearsimBin, extraArgs = [], { dir } = {}) {
  installCleanup();
  dir = dir || mkdtempSync(join(tmpdir(), 'nf-it-'));
  const creds = join(dir, 'creds');
  const proc = spawn(nearsimBin, ['--listen', '127.0.0.1:0', '--credentials-out', creds,
    '--seed', 'integration', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(proc);
  proc.on('exit', () => started.delete(proc));
  const ready = extraArgs.includes('--lagging-listen')
    ? /(?:^|\n)listening=127\.0\.0\.1:(\d+)\nlagging=127\.0\.0\.1:(\d+)/
    : /(?:^|\n)listening=127\.0\.0\.1:(\d+)/;
  const m = await waitLine(proc, ready, 'nearsim');
  proc.stdout.resume();
  const simLog = join(dir, 'nearsim.log');
  proc.stderr.pipe(createWriteStream(simLog, { flags: 'a' }));
  let stopping = false;
  proc.on('exit', (code, sig) => {
    if (!stopping) appendFileSync(simLog, `\nnearsim exited by itself: code=${code} signal=${sig}\n`);
  });
  const port = Number(m[1]);
  const lagPort = m[2] ? Number(m[2]) : null;
  return { port, lagPort, creds, proc, dir, stop: () => { stopping = true; return stopProc(proc); } };
}

// startDaemon: nearftd against sim; returns {port, proc, stop, kill}. logFile gets its stderr.
// rpcUrls (optional): the --rpc-url list to use instead of sim's own URL (failover tests).
export async function startDaemon(nearftdBin, sim, dataDir, extraArgs = [], opts = {}) {
  return launchDaemon(nearftdBin, sim, dataDir, extraArgs, opts).ready;
}

// launchDaemon: startDaemon without the wait: {proc, ready} where ready resolves as startDaemon
// does. readyMs: how long the ready line may take (a cluster standby is ready only once the holder
// is gone: the test bounds that wait itself).
export function launchDaemon(nearftdBin, sim, dataDir, extraArgs = [], { logFile, rpcUrls, readyMs = START_LIMIT_MS } = {}) {
  installCleanup();
  const out = logFile ? openSync(logFile, 'a') : 'ignore';
  const urls = rpcUrls && rpcUrls.length ? rpcUrls.join(',') : `http://127.0.0.1:${sim.port}`;
  const args = ['--rpc-url', urls, '--signer', 'distributor.test.near',
    '--credentials', sim.creds, '--contract', 'ft.test.near', '--listen', '127.0.0.1:0',
    '--data-dir', dataDir, ...extraArgs];
  const proc = spawn(nearftdBin, args, { stdio: ['ignore', 'pipe', logFile ? out : 'pipe'] });
  started.add(proc);
  proc.on('exit', () => started.delete(proc));
  const ready = waitLine(proc, /nearftd ready.*port=(\d+)/, 'nearftd', { logFile, ms: readyMs }).then((m) => {
    proc.stdout.resume();
    if (proc.stderr) proc.stderr.resume();
    const port = Number(m[1]);
    return { port, proc, stop: () => stopProc(proc), kill: () => stopProc(proc, 'SIGKILL') };
  });
  return { proc, ready };
}

export function stopProc(proc, sig = 'SIGTERM', ms = 15000) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
    const t = setTimeout(() => { try { proc.kill('SIGKILL'); } catch {} }, ms);
    proc.once('exit', (code) => { clearTimeout(t); resolve(code); });
    proc.kill(sig);
  });
}

export function cleanupDir(dir) {
  try { rmSync(dir, { recursive: true, force: true }); } catch {}
}

// keepOrClean: a test's working directory is removed when the test passed (code 0) and kept, with
// a line saying where, when it failed. Returns code (for process.exit).
export function keepOrClean(dir, code, what = '') {
  if (code === 0) cleanupDir(dir);
  else console.error(`kept ${dir}${what} for inspection`);
  return code;
}

// pool: run fn(i) for i in [0,n) with at most `concurrency` in flight.
export async function pool(n, concurrency, fn) {
  let next = 0;
  const results = new Array(n);
  async function worker() {
    while (next < n) { const i = next++; results[i] = await fn(i); }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return results;
}

// WAIT_FLOOR_MS: the least time any waitFor allows. A wait ends as soon as its state holds, so
// the limit only bounds a hang; a tight one would fail a slow (sanitizer, loaded) machine.
export const WAIT_FLOOR_MS = Number(process.env.NF_WAIT_FLOOR_MS || 120000);

// waitFor: poll an async predicate every `everyMs` until it returns a truthy value or time runs out
// (after max(ms, WAIT_FLOOR_MS)).
export async function waitFor(pred, what, ms = 60000, everyMs = 200) {
  const until = Date.now() + Math.max(ms, WAIT_FLOOR_MS);
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// waitCount: poll count() every `everyMs` until it reaches goal, however slowly it gets there: it
// fails only when count() has not grown for stallMs (a hang, not a rate a slow machine must reach;
// the test's ctest TIMEOUT bounds the whole).
export async function waitCount(count, goal, what, stallMs = 120000, everyMs = 100) {
  stallMs = Math.max(stallMs, WAIT_FLOOR_MS);
  let last = await count();
  let at = Date.now();
  for (;;) {
    if (last >= goal) return last;
    if (Date.now() - at > stallMs)
      throw new Error(`timed out waiting for ${what}: ${last} of ${goal}, no progress for ${stallMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
    const n = await count();
    if (n > last) {
      last = n;
      at = Date.now();
    }
  }
}

// waitApplied: waits (waitCount) until nearsim has applied every memo of memos (an iterable,
// read once now), failing only when none more was applied for 120 s.
export async function waitApplied(simPort, memos, what) {
  const want = [...memos];
  return waitCount(async () => {
    const m = await appliedMemos(simPort);
    let n = 0;
    for (const memo of want) if (m.has(memo)) n++;
    return n;
  }, want.length, what, undefined, 500);
}

// audit: nearsim's double-send detector and counters.
export async function audit(simPort) {
  return (await request(simPort, 'GET', '/sim/audit')).body;
}

// appliedMemos: Map memo -> count of applications, from /sim/audit?memos=1 (one JSON line each).
export async function appliedMemos(simPort) {
  const r = await request(simPort, 'GET', '/sim/audit?memos=1');
  const m = new Map();
  for (const line of r.text.split('\n')) {
    if (!line.trim()) continue;
    const o = JSON.parse(line);
    m.set(o.memo, o.count);
  }
  return m;
}

let failures = 0, passes = 0;
export function check(cond, what) {
  if (cond) passes++; else { failures++; console.error(`FAIL: ${what}`); }
}
export function report(name) {
  console.log(`${name}: ${passes} passed, ${failures} failed`);
  return failures === 0 ? 0 : 1;
}

// refusedAtStart: nearftd started on sim with flags (data directory sim.dir/dir, log appended to
// log) must exit before its ready line, its log holding a line that matches want, which is
// printed after `what`. Returns what the log gained meanwhile.
export async function refusedAtStart(nearftd, sim, log, dir, flags, want, what) {
  const before = existsSync(log) ? readFileSync(log, 'utf8').length : 0;
  let err = '';
  try {
    await (await startDaemon(nearftd, sim, join(sim.dir, dir), flags, { logFile: log })).kill();
  } catch (e) { err = String(e); }
  const said = existsSync(log) ? readFileSync(log, 'utf8').slice(before) : '';
  const line = said.split('\n').find((l) => want.test(l));
  console.log(`${what}: ${line || '(no such line)'}`);
  check(/exited \d+ before it was ready/.test(err) && line !== undefined,
    `${what}: nearftd refuses to start and logs ${want} (${err.slice(0, 100)})`);
  return said;
}
