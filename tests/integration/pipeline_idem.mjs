// pipeline_idem: an Idempotency-Key is honoured for --retention-hours, not only while its transfer
// is in the job slab. nearftd runs with a 1,024-slot job slab; keyed transfers on the three APIs
// (native single and batch item, /send-ft, /transfer; executed and failed ones) are followed by
// three slabs' worth of other transfers, so every original's slot holds another transfer. Each
// key is then repeated: (1) after its slot was reused, (2) after a restart (the index rebuilt by
// the replay), (3) after a restart with --retention-hours 0 once compaction deleted the log
// segments that held the originals' ACCEPT records. Every repeat answers the original id, its
// kept final status and "duplicate":true, a repeat with another body is 422, and nearsim's audit
// shows each transfer applied exactly once. (4) A nearftd with --idempotency-keys 4 refuses a
// fifth key with 503 + Retry-After naming the index, writes nothing for it, and still answers
// repeats and unkeyed transfers. Usage: node pipeline_idem.mjs NEARSIM NEARFTD
import { startSim, startDaemon, request, waitFor, waitApplied, audit, appliedMemos, check, report,
         keepOrClean } from './lib/harness.mjs';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';

const [nearsim, nearftd] = process.argv.slice(2);
const run = `i${Date.now() % 100000}`;
const SLAB = 1024;

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4', '--chunk-gas', '100P',
  '--chunk-tx-gas', '100P', '--wait-timeout-ms', '3000']);
const dataDir = join(sim.dir, 'data');
const log = join(sim.dir, 'nearftd.log');
// Small slab, small segments, compaction every 300 ms (as pipeline_crash).
const base = ['--job-capacity', String(SLAB), '--batch-linger-ms', '5', '--inflight-per-key', '8',
  '--wal-segment-bytes', '1048576', '--compact-interval-ms', '300', '--wait-timeout-ms', '20000'];
const expected = new Map(); // memo -> applications expected (1, or 0 for refused/failed ones)

async function metric(port, name) {
  const m = await request(port, 'GET', '/metrics');
  const x = new RegExp(`^${name} (\\d+)$`, 'm').exec(m.text);
  return x ? Number(x[1]) : NaN;
}

// post: one request; a 503 (slots not released yet, back-pressure) is sent again until accepted.
async function post(port, path, body, headers = {}) {
  let r;
  await waitFor(async () => {
    r = await request(port, 'POST', path, body, { headers });
    return r.status !== 503;
  }, `${path} accepted`, 60000, 100);
  return r;
}

const keyed = {
  native: { key: `${run}-native`, memo: `${run}-native`, receiver: 'user-11.test.near', amount: '3' },
  batch: { key: `${run}-batch`, memo: `${run}-batch`, receiver: 'user-12.test.near', amount: '4' },
  failed: { key: `${run}-failed`, memo: `${run}-failed`, receiver: 'ghost-1.test.near', amount: '5' },
  sendft: { key: `${run}-sendft`, memo: `${run}-sendft`, receiver: 'user-13.test.near', amount: '6' },
  rust: { key: `${run}-rust`, memo: `${run}-rust`, receiver: 'user-14.test.near', amount: '7' },
  rustf: { key: `${run}-rustf`, memo: `${run}-rustf`, receiver: 'ghost-2.test.near', amount: '8' },
};
const nativeBody = (k, amount = k.amount) => ({ receiver_id: k.receiver, amount, memo: k.memo });
const hdr = (k) => ({ 'Idempotency-Key': k.key });

// The originals; returns what a repeat must answer.
async function originals(port) {
  const o = {};
  let r = await post(port, '/v1/transfers?wait=executed', nativeBody(keyed.native), hdr(keyed.native));
  check(r.status === 200 && r.body.status === 'executed', `native original executed: ${r.status} ${r.text}`);
  o.native = r.body.id;
  r = await post(port, '/v1/transfers?wait=executed',
    { transfers: [{ ...nativeBody(keyed.batch), idempotency_key: keyed.batch.key }] });
  check(r.status === 200 && r.body.transfers[0].status === 'executed', `batch item original executed: ${r.text}`);
  o.batch = r.body.transfers[0].id;
  r = await post(port, '/v1/transfers?wait=executed', nativeBody(keyed.failed), hdr(keyed.failed));
  check(r.status === 200 && r.body.status === 'failed', `transfer to a missing account failed: ${r.text}`);
  o.failed = r.body.id;
  r = await post(port, '/send-ft', { receiverId: keyed.sendft.receiver, amount: keyed.sendft.amount,
    memo: keyed.sendft.memo }, hdr(keyed.sendft));
  check(r.status === 200 && r.body.success === true, `send-ft original: ${r.status} ${r.text}`);
  o.sendft = r.body.jobId;
  r = await post(port, '/transfer', nativeBody(keyed.rust), hdr(keyed.rust));
  check(r.status === 200 && typeof r.body.tx_hash === 'string', `/transfer original executed: ${r.text}`);
  // /transfer answers only the hash: the transaction's transfers name the original's id.
  const tx = await request(port, 'GET', `/v1/tx/${r.body.tx_hash}`);
  const mine = tx.body && Array.isArray(tx.body.transfers) &&
    tx.body.transfers.find((t) => t.memo === keyed.rust.memo);
  check(!!mine, `GET /v1/tx names the /transfer original: ${tx.text.slice(0, 300)}`);
  o.rust = mine ? mine.id : null;
  r = await post(port, '/transfer', nativeBody(keyed.rustf), hdr(keyed.rustf));
  check(r.status === 400, `/transfer to a missing account: 400 ${r.status} ${r.text}`);
  for (const k of Object.values(keyed)) expected.set(k.memo, k.receiver.startsWith('ghost') ? 0 : 1);
  // /send-ft answers once submitted: wait until the chain applied everything above.
  await waitFor(async () => {
    const m = await appliedMemos(sim.port);
    return m.has(keyed.sendft.memo) && m.has(keyed.native.memo) && m.has(keyed.rust.memo);
  }, 'originals applied', 60000, 200);
  return o;
}

// Three slabs' worth of other transfers: every original's slot now holds a later transfer.
// Returns the id of the last one.
async function fill(port, tag) {
  const per = 256;
  let last = null;
  for (let k = 0; k < (3 * SLAB) / per; k++) {
    const transfers = Array.from({ length: per }, (_, i) => ({
      receiver_id: `user-${(k * 7 + i) % 50}.test.near`, amount: '1', memo: `${run}-${tag}-${k}-${i}` }));
    const r = await post(port, '/v1/transfers?wait=executed', { transfers });
    check(r.status === 200, `fill request ${k}: ${r.status} ${r.text.slice(0, 200)}`);
    transfers.forEach((t) => expected.set(t.memo, 1));
    if (r.status === 200) last = r.body.transfers[per - 1].id;
  }
  return last;
}

// Every key repeated on its own API: the original id, its kept final status, "duplicate":true.
async function repeats(port, o, when) {
  for (const [name, path] of [['native', '/v1/transfers'], ['failed', '/v1/transfers']]) {
    const k = keyed[name];
    const r = await post(port, path, nativeBody(k), hdr(k));
    const st = name === 'failed' ? 'failed' : 'executed';
    check([200, 202].includes(r.status) && r.body.id === o[name] && r.body.status === st &&
          r.body.duplicate === true, `${when}: native repeat of ${name} answers ${o[name]} ${st}: ${r.status} ${r.text}`);
  }
  let r = await post(port, '/v1/transfers', nativeBody(keyed.native, '99'), hdr(keyed.native));
  check(r.status === 422, `${when}: same key, another amount: 422 (${r.status} ${r.text})`);
  r = await post(port, '/v1/transfers', { transfers: [{ ...nativeBody(keyed.batch), idempotency_key: keyed.batch.key }] });
  const t = r.body && r.body.transfers && r.body.transfers[0];
  check(r.status === 202 && t && t.id === o.batch && t.status === 'executed' && t.duplicate === true,
        `${when}: batch item repeat answers ${o.batch}: ${r.status} ${r.text}`);
  r = await post(port, '/send-ft', { receiverId: keyed.sendft.receiver, amount: keyed.sendft.amount,
    memo: keyed.sendft.memo }, hdr(keyed.sendft));
  check(r.status === 200 && r.body.success === true && r.body.jobId === o.sendft &&
        r.body.status === 'finalized' && r.body.duplicate === true,
        `${when}: send-ft repeat answers ${o.sendft}: ${r.status} ${r.text}`);
  r = await post(port, '/transfer', nativeBody(keyed.rust), hdr(keyed.rust));
  check(r.status === 200 && r.body.duplicate === true && r.body.id === o.rust &&
        r.body.status === 'executed', `${when}: /transfer repeat answers ${o.rust}: ${r.status} ${r.text}`);
  r = await post(port, '/transfer', nativeBody(keyed.rustf), hdr(keyed.rustf));
  check(r.status === 400 && r.body.duplicate === true && r.body.status === 'failed',
        `${when}: /transfer repeat of a receiver failure: 400 (${r.status} ${r.text})`);
}

let code = 1;
try {
  // 1. Slot reuse.
  let d = await startDaemon(nearftd, sim, dataDir, [...base, '--retention-hours', '1'], { logFile: log });
  const o = await originals(d.port);
  const lastFill = await fill(d.port, 'fill1');
  for (const id of [o.native, o.batch, o.failed, o.sendft]) {
    const g = await request(d.port, 'GET', `/v1/transfers/${id}`);
    check(g.status === 404, `transfer ${id}'s slot holds another transfer (GET 404): ${g.status}`);
  }
  await repeats(d.port, o, 'slot reused');
  check(await metric(d.port, 'nearft_idempotency_keys') >= 6, 'nearft_idempotency_keys counts the keys');
  check(await metric(d.port, 'nearft_idempotency_keys_capacity') === 4194304, 'default capacity');

  // 2. Restart: the index is rebuilt from the log (the slab is too, with later transfers).
  check((await d.stop()) === 0, 'nearftd exits 0 on SIGTERM');
  d = await startDaemon(nearftd, sim, dataDir, [...base, '--retention-hours', '1'], { logFile: log });
  await repeats(d.port, o, 'after restart');
  // A transfer still in the slab is read by the id it was given: its tag came back with the log.
  let g = await request(d.port, 'GET', `/v1/transfers/${lastFill}`);
  check(g.status === 200 && g.body.id === lastFill && g.body.status === 'executed',
        `after restart, GET ${lastFill}: ${g.status} ${g.text}`);
  const bare = String(lastFill).split('-')[0];
  g = await request(d.port, 'GET', `/v1/transfers/${bare}`);
  check(g.status === 404, `after restart, the bare sequence number ${bare} is unknown: ${g.status}`);
  const segsKept = readdirSync(dataDir).filter((f) => f.startsWith('wal-')).sort();
  check(segsKept.length >= 2 && segsKept[0] === 'wal-0000000000000001.log',
        `retention 1 h keeps the settled segments: ${segsKept.join(' ')}`);
  check((await d.stop()) === 0, 'nearftd exits 0 on SIGTERM');

  // 3. Compaction: with --retention-hours 0 every settled segment may go, the first one (which
  //    holds the originals' ACCEPT records) included; the index rebuilt at start keeps the keys.
  d = await startDaemon(nearftd, sim, dataDir, [...base, '--retention-hours', '0'], { logFile: log });
  await fill(d.port, 'fill2'); // the slab is replayed from the log: reuse it once more
  await waitFor(async () => !readdirSync(dataDir).includes('wal-0000000000000001.log') &&
    (await metric(d.port, 'nearft_wal_segments_deleted_total')) > 0, 'compaction deleted the first segment', 60000, 200);
  await repeats(d.port, o, 'after compaction');
  check((await d.stop()) === 0, 'nearftd exits 0 on SIGTERM');

  // 4. A full index: 4 keys that must be kept, the fifth refused with nothing written.
  const fullDir = join(sim.dir, 'data-full');
  d = await startDaemon(nearftd, sim, fullDir, [...base, '--retention-hours', '1', '--idempotency-keys', '4'],
    { logFile: log });
  const fk = (i) => ({ key: `${run}-full-${i}`, memo: `${run}-full-${i}`, receiver: 'user-20.test.near', amount: '2' });
  let first;
  for (let i = 0; i < 4; i++) {
    const r = await post(d.port, '/v1/transfers', nativeBody(fk(i)), hdr(fk(i)));
    check(r.status === 202, `key ${i} of 4 accepted: ${r.status} ${r.text}`);
    if (i === 0) first = r.body.id;
    expected.set(fk(i).memo, 1);
  }
  const refusedMemos = [];
  for (const [path, body, k] of [
    ['/v1/transfers', nativeBody(fk(4)), fk(4)],
    ['/send-ft', { receiverId: fk(5).receiver, amount: '2', memo: fk(5).memo }, fk(5)],
    ['/transfer', nativeBody(fk(6)), fk(6)]]) {
    const r = await request(d.port, 'POST', path, body, { headers: hdr(k) });
    const why = r.body && (r.body.reason || r.body.details);
    check(r.status === 503 && Number(r.headers['retry-after']) >= 1 && typeof why === 'string' &&
          why.includes('idempotency index is full'), `${path}: a fifth key gets 503 naming the index: ${r.status} ${JSON.stringify(r.headers['retry-after'])} ${r.text}`);
    refusedMemos.push(k.memo);
    expected.set(k.memo, 0);
  }
  let r = await request(d.port, 'POST', '/v1/transfers', nativeBody(fk(0)), { headers: hdr(fk(0)) });
  check(r.status === 202 && r.body.id === first && r.body.duplicate === true, `a repeat needs no entry: ${r.text}`);
  r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: 'user-21.test.near', amount: '2', memo: `${run}-full-plain` });
  check(r.status === 202, `an unkeyed transfer is accepted: ${r.status} ${r.text}`);
  expected.set(`${run}-full-plain`, 1);
  check(await metric(d.port, 'nearft_idempotency_refused_total') === 3, 'nearft_idempotency_refused_total 3');
  check(await metric(d.port, 'nearft_idempotency_keys') === 4, 'nearft_idempotency_keys 4');
  check(await metric(d.port, 'nearft_idempotency_keys_capacity') === 4, 'capacity 4');

  // Exactly once: every expected memo applied as often as expected, nothing twice.
  await waitApplied(sim.port, [...expected].filter(([, n]) => n === 1).map(([memo]) => memo),
    'every accepted transfer applied');
  const memos = await appliedMemos(sim.port);
  let wrong = 0;
  for (const [memo, n] of expected) if ((memos.get(memo) || 0) !== n) { wrong++; if (wrong < 5) console.error(`memo ${memo}: applied ${memos.get(memo) || 0}, expected ${n}`); }
  check(wrong === 0, `every transfer applied exactly as often as expected (${wrong} wrong of ${expected.size})`);
  check(refusedMemos.every((m) => !memos.has(m)), 'refused transfers never applied');
  const au = await audit(sim.port);
  check(au.duplicate_memo_count === 0 && au.supply_conserved === true, `audit: ${JSON.stringify(au).slice(0, 300)}`);
  check((await d.stop()) === 0, 'nearftd exits 0 on SIGTERM');
  code = 0;
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code === 0 ? report('pipeline_idem') : 1, ' (nearftd.log)'));
