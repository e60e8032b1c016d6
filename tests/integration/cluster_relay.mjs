// cluster_relay: any instance of a cluster takes transfers. A standby listens on its --listen
// address and passes every connection to the instance holding the log's lease, at the address that
// instance advertises in the lease bucket; the holder answers. One nats-server (JetStream, one
// replica: the relay does not depend on the stream's replication, cluster_nats covers that), nearsim
// and two or three nearftd instances on fixed ports of 127.0.0.1:
//   1. the holder advertises an address where nothing listens: the standby answers 503 itself, with
//      Retry-After and a reason, and counts it in its own /metrics;
//   2. the holder stops (SIGTERM) and the standby takes over; the first instance comes back as a
//      standby and relays to it: transfers, bulk requests, status reads and idempotency keys work
//      through either address, and a key sent to one is a repeat at the other;
//   3. load through both addresses, kill -9 the holder: the standby takes over and serves on the
//      same address; a transfer id the dead holder handed out reads the same at the new holder,
//      and its idempotency key answers that id; nearsim's audit shows every acknowledged transfer
//      applied exactly once;
//   4. a standby stops at once on SIGTERM, with status 0.
// Usage: node cluster_relay.mjs NEARSIM NEARFTD NATS_SERVER HAS_LIBNATS(0|1)
// Exits 77 (skipped) when nats-server is missing or nearftd was built without libnats.
import { startSim, startDaemon, launchDaemon, request, pool, waitFor, waitApplied, waitCount, stopProc, check, report, keepOrClean,
         START_LIMIT_MS } from './lib/harness.mjs';
import { freePorts, requireNats, startNats } from './lib/cluster.mjs';
import { checkExactlyOnce } from './faults_lib.mjs';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

const [nearsim, nearftd, natsBin, hasNats] = process.argv.slice(2);
requireNats('cluster_relay', natsBin, hasNats);


const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4', '--wait-timeout-ms', '3000']);
const log = join(sim.dir, 'nearftd.log');
const acked = new Set();
let nats = null;
let code = 1;
let seq = 0;

// post: one transfer (or a bulk request of n) through port; its memos count as acknowledged on 202.
async function post(port, tag, n = 1, headers = {}) {
  const transfers = Array.from({ length: n }, (_, i) => ({
    receiver_id: `user-${(seq + i) % 300}.test.near`, amount: String(1 + (i % 4)), memo: `${tag}-${seq++}` }));
  const r = await request(port, 'POST', '/v1/transfers', n === 1 ? transfers[0] : { transfers }, { headers, timeoutMs: 30000 });
  if (r.status === 202) transfers.forEach((t) => acked.add(t.memo));
  return r;
}

// standbyMetrics: the relay's own /metrics (a new connection: the relay answers only a
// connection's first request itself), or null when it is not a standby's.
async function standbyMetrics(port) {
  try {
    const r = await request(port, 'GET', '/metrics', undefined, { fresh: true });
    return r.status === 200 && /^nearft_cluster_standby 1$/m.test(r.text) ? r.text : null;
  } catch { return null; }
}
function counter(text, name) {
  const m = text.match(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

try {
  const [natsPort, natsMon, pa, pb, pc, pdead] = await freePorts(6);
  const store = join(sim.dir, 'nats');
  mkdirSync(store, { recursive: true });
  nats = await startNats(natsBin, ['-a', '127.0.0.1', '-p', String(natsPort), '-m', String(natsMon),
    '-js', '-sd', store], natsMon, join(sim.dir, 'nats.log'));
  // Every instance has the cluster's secret: the lease's address is authenticated (cluster_secret
  // checks a standby with another secret refusing it).
  const secretFile = join(sim.dir, 'cluster.secret');
  writeFileSync(secretFile, randomBytes(32), { mode: 0o600 });
  const flags = (port) => ['--cluster', `nats://127.0.0.1:${natsPort}`, '--cluster-stream', 'NFRELAY',
    '--cluster-secret-file', secretFile,
    '--cluster-replicas', '1', '--cluster-lease-ms', '5000', '--batch-linger-ms', '5',
    '--listen', `127.0.0.1:${port}`];

  // 1. The holder advertises an address where nothing listens.
  const a = await startDaemon(nearftd, sim, join(sim.dir, 'a'),
    [...flags(pa), '--cluster-advertise', `127.0.0.1:${pdead}`], { logFile: log });
  const STANDBY = { logFile: log, readyMs: 30 * 60000 }; // ready once the holder is gone
  const bReady = launchDaemon(nearftd, sim, join(sim.dir, 'b'), flags(pb), STANDBY).ready;
  bReady.catch(() => {});
  await waitFor(() => standbyMetrics(pb), 'the standby relaying on its --listen port', START_LIMIT_MS, 100);
  const unreachable = await waitFor(async () => {
    const r = await post(pb, 'dead');
    check(r.status !== 202, `nothing is accepted through a relay whose holder does not answer (${r.status})`);
    return r.status === 503 && r.body && /did not answer/.test(r.body.reason) ? r : null;
  }, 'the relay answering 503 for a holder that does not answer', 60000, 100);
  check(unreachable.headers['retry-after'] === '1', `the relay's 503 has Retry-After (${unreachable.headers['retry-after']})`);
  check(unreachable.body.error === 'service unavailable', `the relay's 503 body: ${unreachable.text}`);
  let m = await standbyMetrics(pb);
  check(counter(m, 'nearft_relay_refused_total{reason="unreachable"}') >= 1,
    'the standby counts the connections it refused because the holder did not answer');

  // 2. The holder stops cleanly (its lease is given up at the stop): the standby takes over and
  // serves on its own address; the first instance comes back as a standby on its old one.
  check((await a.stop()) === 0, 'the first holder stops with status 0');
  const b = await bReady;
  check(b.port === pb, `the standby that took over serves on its --listen port (${b.port})`);
  const aReady = launchDaemon(nearftd, sim, join(sim.dir, 'a2'), flags(pa), STANDBY).ready;
  aReady.catch(() => {});
  await waitFor(async () => {
    try { return (await post(pa, 'relay')).status === 202; } catch { return false; } // not listening yet
  },
    'a transfer accepted through the new standby', 60000, 100);
  check(readFileSync(log, 'utf8').includes(`advertising this API to standbys' relays" addr=127.0.0.1:${pb}`),
    'the holder advertises its --listen host and bound port');
  const bulk = await post(pa, 'relay-bulk', 25);
  check(bulk.status === 202 && bulk.body && Array.isArray(bulk.body.transfers) && bulk.body.transfers.length === 25,
    `a bulk request through the relay is accepted whole (${bulk.status})`);
  // Idempotency keys are the holder's, whichever address a request comes in at.
  const keyed = async (port, key, body) =>
    request(port, 'POST', '/v1/transfers', body, { headers: { 'idempotency-key': key } });
  const b1 = { receiver_id: 'user-1.test.near', amount: '1', memo: 'relay-key-1' };
  const k1 = await keyed(pa, 'relay-k1', b1);
  if (k1.status === 202) acked.add(b1.memo);
  const k1again = await keyed(pb, 'relay-k1', b1);
  check(k1.status === 202 && k1again.body && k1again.body.id === k1.body.id && k1again.body.duplicate === true,
    `a key first sent through the standby is a repeat at the holder (${k1.text.slice(0, 80)} / ${k1again.text.slice(0, 120)})`);
  const b2 = { receiver_id: 'user-2.test.near', amount: '2', memo: 'relay-key-2' };
  const k2 = await keyed(pb, 'relay-k2', b2);
  if (k2.status === 202) acked.add(b2.memo);
  const k2again = await keyed(pa, 'relay-k2', b2);
  check(k2.status === 202 && k2again.body && k2again.body.id === k2.body.id && k2again.body.duplicate === true,
    `a key first sent to the holder is a repeat through the standby (${k2again.text.slice(0, 120)})`);
  const viaA = await request(pa, 'GET', `/v1/transfers/${k1.body.id}`);
  const viaB = await request(pb, 'GET', `/v1/transfers/${k1.body.id}`);
  check(viaA.status === 200 && viaA.body && viaB.body && viaA.body.id === viaB.body.id &&
    viaA.body.receiver_id === viaB.body.receiver_id,
    `a transfer's status reads the same through either address (${viaA.status} ${viaB.status})`);
  m = await standbyMetrics(pa);
  check(m !== null && !/nearft_transfers_total/.test(m) && counter(m, 'nearft_relay_connections_total') >= 1,
    'the standby answers /metrics with its own figures, not the holder\'s');
  const lint = spawnSync(process.env.PROMTOOL || 'promtool', ['check', 'metrics'], { input: m || '', encoding: 'utf8' });
  if (lint.error) console.log('promtool not found: the standby\'s /metrics is not linted');
  else check(lint.status === 0 && `${lint.stdout}${lint.stderr}`.trim() === '',
    `promtool check metrics on the standby's /metrics: ${lint.stdout}${lint.stderr}`);
  const hm = await request(pb, 'GET', '/metrics', undefined, { fresh: true });
  check(hm.status === 200 && /nearft_transfers_total/.test(hm.text) && /^nearft_cluster_standby 0$/m.test(hm.text),
    'the holder answers /metrics itself, with nearft_cluster_standby 0');
  check(/^nearft_build_info\{version="[0-9.]+"\} 1$/m.test(m), 'the standby\'s /metrics carries nearft_build_info');
  const hlint = spawnSync(process.env.PROMTOOL || 'promtool', ['check', 'metrics'], { input: hm.text, encoding: 'utf8' });
  if (!hlint.error) check(hlint.status === 0 && `${hlint.stdout}${hlint.stderr}`.trim() === '',
    `promtool check metrics on the holder's /metrics: ${hlint.stdout}${hlint.stderr}`);

  // 3. Load through both addresses; kill -9 the holder; the standby takes over on its address.
  const st = { stop: false };
  const done = pool(6, 6, async (w) => {
    while (!st.stop) {
      try { await post(w % 2 ? pa : pb, `load${w}`, w < 2 ? 10 : 1); } catch { /* cut by the kill */ }
    }
  });
  const before = acked.size;
  await waitCount(() => acked.size, before + 300, 'load through both addresses');
  await b.kill();
  const killed = acked.size;
  const a2 = await aReady;
  check(a2.port === pa, `the standby serves on its own --listen port after the kill (${a2.port})`);
  await waitCount(() => acked.size, killed + 200, 'load after the takeover');
  st.stop = true;
  await done;
  // Ids carry a tag drawn by the holder that accepted the transfer; it is in the log, so the new
  // holder answers the same id, for a read and for a repeat of the key.
  const k1after = await request(pa, 'GET', `/v1/transfers/${k1.body.id}`);
  check(k1after.status === 200 && k1after.body.id === k1.body.id,
    `after the takeover, ${k1.body.id} reads the same at the new holder: ${k1after.status} ${k1after.text.slice(0, 120)}`);
  const k2after = await keyed(pa, 'relay-k2', b2);
  check(k2after.body && k2after.body.id === k2.body.id && k2after.body.duplicate === true,
    `after the takeover, a repeat of a key answers the id the dead holder gave: ${k2after.text.slice(0, 120)}`);
  await waitApplied(sim.port, acked, 'every acknowledged transfer applied');
  await checkExactlyOnce(sim.port, [...acked], [], 'relay and takeover');
  console.log(`${acked.size} transfers acknowledged through the two addresses; ${killed} before the kill`);

  // 4. A standby stops at once on SIGTERM (it holds nothing and has written nothing).
  const c = launchDaemon(nearftd, sim, join(sim.dir, 'c'), flags(pc), STANDBY);
  c.ready.catch(() => {});
  await waitFor(() => standbyMetrics(pc), 'a third instance relaying as a standby', START_LIMIT_MS, 100);
  const termAt = Date.now();
  c.proc.kill('SIGTERM');
  await waitFor(async () => c.proc.exitCode !== null || c.proc.signalCode !== null,
    'the standby to stop on SIGTERM', 60000, 50);
  check(c.proc.exitCode === 0, `a standby stops on SIGTERM with status 0 (${c.proc.exitCode} ${c.proc.signalCode}, ${Date.now() - termAt} ms)`);
  check((await a2.stop()) === 0, 'the last holder stops with status 0');
  code = report('cluster_relay');
} catch (e) {
  console.error(`cluster_relay: FAIL: ${e.stack || e}`);
  code = 1;
} finally {
  if (nats) await stopProc(nats, 'SIGKILL');
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code));
