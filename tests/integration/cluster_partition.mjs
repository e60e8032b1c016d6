// cluster_partition: a network partition between the lease holder and NATS (docs/CLUSTER.md,
// "Failures"). Instance A reaches nats-server only through a TCP proxy of the test, which can go
// silent both ways (no byte passes and no connection is reset, as when a link or a route fails).
// First without a standby: A is cut off under load until its lease expires; when the partition
// heals it takes the lease again and goes on acknowledging. Then instance B, a standby on another
// data directory (another host), reaches NATS directly and waits, and A is cut off again: its
// publishes and lease renewals get no answer, its lease expires, B takes it, replays the stream
// and serves; idempotency keys A answered are B's repeats. While B takes transfers the partition
// heals: A's publishes, queued in its socket all along, reach NATS and the stream fence refuses
// them (B appended since), so A answers them 503 (a 202 only for a message stored before the cut,
// which B replayed), refuses new transfers and stops by itself with exit status 3, and B is not
// fenced. nearsim's audit: every transfer acknowledged by A or by B applied exactly once.
// Usage: node cluster_partition.mjs NEARSIM NEARFTD NATS_SERVER HAS_LIBNATS(0|1)
// Exits 77 (skipped) when nats-server is missing or nearftd was built without libnats.
import { startSim, startDaemon, launchDaemon, request, waitFor, waitApplied, waitCount, stopProc,
         check, report, keepOrClean } from './lib/harness.mjs';
import { freePorts, loadTransfers, requireNats, startNats, startCutProxy, streamInfo } from './lib/cluster.mjs';
import { checkExactlyOnce } from './faults_lib.mjs';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [nearsim, nearftd, natsBin, hasNats] = process.argv.slice(2);
requireNats('cluster_partition', natsBin, hasNats);

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4', '--wait-timeout-ms', '3000']);
const log = join(sim.dir, 'nearftd.log');
const acked = new Set();
let nats = null;
let proxy = null;
let code = 1;

// load: transfers to port until st.stop; a 202 is an acknowledgement, counted for the instance
// that gave it.
const ackedBy = { a: 0, b: 0 };
const load = (port, tag, who) => loadTransfers(port, tag, (ts) => {
  ts.forEach((t) => acked.add(t.memo));
  ackedBy[who] += ts.length;
});

// leaseMessages: messages in the lease bucket's stream (0 once the lease expired), per nats-server's
// monitoring port; -1 while it cannot tell.
async function leaseMessages(mon) {
  const x = await streamInfo(mon, 'KV_NFPART_lease');
  return x ? x.state.messages : -1;
}

try {
  const [natsPort, natsMon] = await freePorts(2);
  const store = join(sim.dir, 'nats');
  mkdirSync(store, { recursive: true });
  nats = await startNats(natsBin, ['-a', '127.0.0.1', '-p', String(natsPort), '-m', String(natsMon),
    '-js', '-sd', store], natsMon, join(sim.dir, 'nats.log'));
  proxy = await startCutProxy(natsPort);
  const flags = (port) => ['--cluster', `nats://127.0.0.1:${port}`, '--cluster-stream', 'NFPART',
    '--cluster-allow-unauthenticated', '--cluster-replicas', '1', '--inflight-per-key', '8',
    '--batch-linger-ms', '5', '--rpc-timeout-ms', '5000'];

  // 1. A holds the lease, through the proxy.
  const a = await startDaemon(nearftd, sim, join(sim.dir, 'host-a'), flags(proxy.port), { logFile: log });
  check(proxy.connections() > 0, `the first instance reaches NATS through the proxy (${proxy.connections()} connections)`);
  const keyed = new Map();
  for (let i = 0; i < 10; i++) {
    const body = { receiver_id: `user-${i}.test.near`, amount: '1', memo: `keyed-${i}` };
    const r = await request(a.port, 'POST', '/v1/transfers', body, { headers: { 'idempotency-key': `part-${i}` } });
    check(r.status === 202, `keyed transfer ${i} accepted by the first instance (${r.status})`);
    if (r.status === 202) { keyed.set(i, r.body.id); acked.add(body.memo); }
  }
  const stA = load(a.port, 'a', 'a');
  await waitCount(() => acked.size, acked.size + 300, 'acknowledged transfers before the partition');

  // 2. No standby: cut A off NATS until its lease has expired (the bucket's stream holds no
  // message), then heal: its first renewal takes the lease again, its queued publishes are stored
  // (nobody appended meanwhile) and it goes on acknowledging.
  proxy.cut();
  await waitFor(async () => (await leaseMessages(natsMon)) === 0,
    'the partitioned holder\'s lease to expire', 60000, 100);
  check(a.proc.exitCode === null && a.proc.signalCode === null, 'the partitioned holder is still running');
  const ackedByABeforeHeal = ackedBy.a;
  proxy.heal();
  await waitFor(async () => readFileSync(log, 'utf8').includes('the log lease had expired; taken again'),
    'the holder taking its expired lease again after the partition', 60000, 100);
  await waitCount(() => ackedBy.a, ackedBy.a + 300, 'acknowledged transfers after the first partition healed');
  console.log(`without a standby: ${ackedBy.a - ackedByABeforeHeal} acknowledged since the heal`);
  check(!/the cluster log is fenced/.test(readFileSync(log, 'utf8')), 'the holder was not fenced: nobody else wrote');

  // 3. B waits as a standby, straight to NATS.
  let bServes = false;
  const bLaunch = launchDaemon(nearftd, sim, join(sim.dir, 'host-b'), flags(natsPort),
    { logFile: log, readyMs: 30 * 60000 }); // ready once it holds the lease; bounded below
  const bReady = bLaunch.ready.then((d) => { bServes = true; return d; });
  bReady.catch(() => {});
  await waitFor(async () => readFileSync(log, 'utf8').includes('standby: the log lease is held'),
    'the standby waiting for the lease', 60000, 100);
  await waitCount(() => ackedBy.a, ackedBy.a + 100, 'acknowledged transfers with the standby waiting');
  check(!bServes, 'the standby does not serve while the first instance holds the lease');

  // 4. Partition A from NATS again, A's load still running: B takes the lease once it expires.
  proxy.cut();
  const cutAt = Date.now();
  const ackedByAAtCut = ackedBy.a;
  console.log(`cut the first instance off NATS at ${acked.size} acknowledged`);
  const b = await waitFor(() => (bServes ? bReady : null), 'the standby taking the lease of the partitioned instance', 120000, 100);
  console.log(`the standby served ${Date.now() - cutAt} ms after the partition`);
  check(a.proc.exitCode === null && a.proc.signalCode === null,
    'the partitioned instance is still running (it cannot know that its lease expired)');
  let same = 0;
  for (const [i, id] of keyed) {
    const body = { receiver_id: `user-${i}.test.near`, amount: '1', memo: `keyed-${i}` };
    const r = await request(b.port, 'POST', '/v1/transfers', body, { headers: { 'idempotency-key': `part-${i}` } });
    if (r.body && r.body.id === id && r.body.duplicate === true) same++;
  }
  check(same === keyed.size, `idempotency keys answered with the partitioned instance's ids (${same}/${keyed.size})`);
  const stB = load(b.port, 'b', 'b');
  await waitCount(() => ackedBy.b, ackedBy.b + 300, 'acknowledged transfers on the new holder during the partition');
  const ackedByADuring = ackedBy.a - ackedByAAtCut;
  console.log(`the partitioned instance acknowledged ${ackedByADuring} transfers after the cut (answers to PubAcks that came before it)`);

  // 5. Heal: A's queued publishes reach NATS and are fenced; A refuses and stops with status 3.
  const ackedByAAtHeal = ackedBy.a;
  proxy.heal();
  await waitFor(async () => a.proc.exitCode !== null || a.proc.signalCode !== null,
    'the partitioned instance to stop by itself once the partition heals', 60000, 100);
  check(a.proc.exitCode === 3, `the former holder exits with status 3 (${a.proc.exitCode} ${a.proc.signalCode})`);
  check(/the cluster log is fenced.*stopping so that this instance starts again as a standby/.test(readFileSync(log, 'utf8')),
    'it says why it stopped');
  // A publish that reached NATS just before the cut is stored (B replayed it) and its PubAck,
  // held in the proxy, arrives at the heal: such a 202 is true. The audit below checks them all.
  console.log(`the former holder acknowledged ${ackedBy.a - ackedByAAtHeal} transfers after the heal`);
  stA.stop = true;
  await stA.done;
  await waitCount(() => ackedBy.b, ackedBy.b + 100, 'acknowledged transfers on the new holder after the heal');
  stB.stop = true;
  await stB.done;
  const t = { receiver_id: 'user-3.test.near', amount: '2', memo: 'after-heal-0' };
  const r = await request(b.port, 'POST', '/v1/transfers', t);
  check(r.status === 202, `the new holder still accepts after the former one stopped (${r.status})`);
  if (r.status === 202) acked.add(t.memo);
  await waitApplied(sim.port, acked, 'every acknowledged transfer applied');
  await checkExactlyOnce(sim.port, [...acked], [], 'partition');
  console.log(`acknowledged ${acked.size} transfers (${ackedBy.a} by the partitioned instance, ${ackedBy.b} by the new holder), each applied exactly once`);
  check((await b.stop()) === 0, 'the new holder exits 0 on SIGTERM');
  code = 0;
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  if (proxy) await proxy.close();
  if (nats) await stopProc(nats);
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code === 0 ? report('cluster_partition') : 1, ' (nearftd.log, nats.log)'));
