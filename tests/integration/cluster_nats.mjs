// cluster_nats: cluster mode (--cluster) on a real three-node NATS JetStream cluster on 127.0.0.1.
// Under load: kill -9 nearftd and start it again on another data directory (another host: the
// replay comes from the stream), kill the stream leader's NATS node, then pause that instance
// (SIGSTOP) while it has transactions signed but not final (the chain stalls), start a second one
// on the same stream (it holds those transactions and reconciles them by hash), resume the first
// and check it is fenced: it refuses new transfers and stops by itself with exit status 3.
// nearsim's audit must show every acknowledged transfer applied exactly once, and idempotency keys
// answered by the first instance must be recognised by the later ones.
// The standby speaks the notify protocol to a socket of the test (notify_sink): STATUS says it is a
// standby and EXTEND_TIMEOUT_USEC keeps a manager's start timeout off it; READY=1 once it serves.
// Usage: node cluster_nats.mjs NEARSIM NEARFTD NATS_SERVER HAS_LIBNATS(0|1) [NOTIFY_SINK]
// Exits 77 (skipped) when nats-server is missing or nearftd was built without libnats.
import { startSim, startDaemon, request, waitFor, waitApplied, waitCount, stopProc, check, report, keepOrClean,
         appliedMemos, START_LIMIT_MS } from './lib/harness.mjs';
import { freePorts, loadTransfers, requireNats, streamInfo } from './lib/cluster.mjs';
import { checkExactlyOnce, metrics, metricSum, setFaults } from './faults_lib.mjs';
import { startSink, env, has } from './lib/notify.mjs';
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [nearsim, nearftd, natsBin, hasNats, sinkBin] = process.argv.slice(2);
requireNats('cluster_nats', natsBin, hasNats);


const natsProcs = [];
// startNatsCluster: three nodes; another process may still take a port between our check and
// nats-server's bind, so a node that exits while the cluster forms makes a fresh attempt on new
// ports (at most three).
async function startNatsCluster(dir) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsOnce(dir, attempt);
    } catch (e) {
      for (const p of natsProcs.splice(0)) await stopProc(p, 'SIGKILL');
      if (attempt >= 3 || !/exited while the cluster formed/.test(String(e))) throw e;
      console.log(`NATS cluster attempt ${attempt}: ${e.message}; trying again on other ports`);
    }
  }
}

async function startNatsOnce(dir, attempt) {
  const nodes = [];
  const ports = await freePorts(9);
  for (let i = 0; i < 3; i++)
    nodes.push({ name: `n${i}`, client: ports[3 * i], route: ports[3 * i + 1], mon: ports[3 * i + 2] });
  for (const n of nodes) {
    const store = join(dir, `nats-${n.name}-${attempt}`);
    mkdirSync(store, { recursive: true });
    const routes = nodes.filter((o) => o !== n).map((o) => `nats://127.0.0.1:${o.route}`).join(',');
    const out = openSync(join(dir, `nats-${n.name}-${attempt}.log`), 'a');
    n.proc = spawn(natsBin, ['-a', '127.0.0.1', '-p', String(n.client), '-m', String(n.mon), '-js',
      '-sd', store, '-n', n.name, '--cluster_name', 'nfit', '--cluster',
      `nats://127.0.0.1:${n.route}`, '--routes', routes], { stdio: ['ignore', out, out] });
    natsProcs.push(n.proc);
    n.url = `nats://127.0.0.1:${n.client}`;
  }
  // Ready: every node sees a JetStream meta leader of a three-node cluster.
  await waitFor(async () => {
    for (const n of nodes)
      if (n.proc.exitCode !== null || n.proc.signalCode !== null)
        throw new Error(`nats-server ${n.name} exited while the cluster formed (see nats-${n.name}-${attempt}.log)`);
    for (const n of nodes) {
      try {
        const j = (await request(n.mon, 'GET', '/jsz')).body;
        if (!j || !j.meta_cluster || !j.meta_cluster.leader || j.meta_cluster.cluster_size !== 3) return false;
      } catch { return false; }
    }
    return true;
  }, 'the NATS cluster to elect a JetStream meta leader', START_LIMIT_MS, 200);
  return nodes;
}

// streamLeader: the node name leading the stream's replica group, per a live node's /jsz.
async function streamLeader(nodes, stream) {
  for (const n of nodes) {
    if (n.proc.exitCode !== null || n.proc.signalCode !== null) continue;
    const s = await streamInfo(n.mon, stream);
    if (s && s.cluster && s.cluster.leader) return s.cluster.leader;
  }
  return null;
}

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4', '--wait-timeout-ms', '3000']);
const log = join(sim.dir, 'nearftd.log');
const STREAM = 'NFIT';
const acked = new Set();
let code = 1;
const sinks = [];

const load = (d, tag) => loadTransfers(d.port, tag, (ts) => ts.forEach((t) => acked.add(t.memo)));
async function loadUntil(d, tag, more, what) {
  const goal = acked.size + more;
  const st = load(d, tag);
  await waitCount(() => acked.size, goal, what);
  return st;
}

try {
  const nodes = await startNatsCluster(sim.dir);
  const urls = nodes.map((n) => n.url).join(',');
  const flags = (urls_) => ['--cluster', urls_, '--cluster-stream', STREAM,
    '--cluster-allow-unauthenticated', '--inflight-per-key', '8',
    '--batch-linger-ms', '5', '--rpc-timeout-ms', '5000'];

  // 0. A data directory holding a local log is refused in cluster mode (its transfers would be
  // left behind).
  const localDir = join(sim.dir, 'local');
  const dl = await startDaemon(nearftd, sim, localDir, [], { logFile: log });
  const rl = await request(dl.port, 'POST', '/v1/transfers', { receiver_id: 'user-1.test.near', amount: '1', memo: 'local-0' });
  check(rl.status === 202, `single-host instance accepts (${rl.status})`);
  if (rl.status === 202) acked.add('local-0');
  check((await dl.stop()) === 0, 'single-host instance exits 0');
  let refused = '';
  try { await (await startDaemon(nearftd, sim, localDir, flags(urls), { logFile: log })).kill(); } catch (e) { refused = String(e); }
  check(refused.includes('invalid configuration') && readFileSync(log, 'utf8').includes('holds a local log'),
    `cluster mode refuses a data directory with a local log: ${refused.slice(0, 160)}`);
  const dl2 = await startDaemon(nearftd, sim, localDir, [], { logFile: log }); // finish it locally
  await waitFor(async () => (await appliedMemos(sim.port)).has('local-0'), 'the local transfer applied', 60000, 200);
  await dl2.stop();

  // 1. First instance; idempotency keys; load; kill -9 under load.
  let d1 = await startDaemon(nearftd, sim, join(sim.dir, 'host-a'), flags(urls), { logFile: log });
  const keyed = new Map();
  for (let i = 0; i < 10; i++) {
    const body = { receiver_id: `user-${i}.test.near`, amount: '1', memo: `keyed-${i}` };
    const r = await request(d1.port, 'POST', '/v1/transfers', body, { headers: { 'idempotency-key': `key-${i}` } });
    check(r.status === 202, `keyed transfer ${i} accepted (${r.status})`);
    if (r.status === 202) { keyed.set(i, r.body.id); acked.add(body.memo); }
  }
  // 2. A standby on another data directory (another host) waits for the log's lease, replaying
  // the stream as it is written; kill -9 the first under load: the standby takes the lease when
  // it expires, replays the rest, serves.
  let standbyReady = false;
  const sink = sinkBin ? startSink(sinkBin, join(sim.dir, 'standby.sock')) : null;
  if (sink) {
    sinks.push(sink);
    await waitFor(() => sink.messages.bound, 'notify_sink bound');
  }
  const restore = env({ NOTIFY_SOCKET: sink ? join(sim.dir, 'standby.sock') : undefined });
  const standby = startDaemon(nearftd, sim, join(sim.dir, 'host-b'), flags(urls), { logFile: log })
    .then((d) => { standbyReady = true; return d; });
  restore();
  await waitFor(async () => readFileSync(log, 'utf8').includes('standby: the log lease is held'),
    'the standby waiting for the lease', 60000, 100);
  if (sink) {
    await waitFor(() => sink.messages.some((m) => m.includes('STATUS=standby: the cluster log')),
      'the standby telling its service manager it waits', 60000, 100);
    const m = sink.messages.find((x) => x.includes('STATUS=standby'));
    check(/EXTEND_TIMEOUT_USEC=\d+/.test(m), `the standby extends its start timeout (${m})`);
    check(!has(sink.messages, 'READY=1'), 'the standby is not READY while it waits');
  }
  let st = await loadUntil(d1, 'a', 300, 'acknowledged transfers before the first kill');
  check(!standbyReady, 'the standby does not serve while the first instance holds the lease');
  const killedAt = Date.now();
  await d1.kill();
  st.stop = true;
  await st.done;
  d1 = await standby;
  if (sink)
    await waitFor(() => has(sink.messages, 'READY=1'), 'READY=1 from the standby that took over', 60000, 100);
  console.log(`killed the first instance at ${acked.size} acknowledged; the standby served ${Date.now() - killedAt} ms later`);
  // A warm standby: it replayed what the first instance wrote while it waited (every transfer
  // acknowledged after its standby line), so the takeover replays only the tail.
  const took = readFileSync(log, 'utf8').match(/holding the log lease.*replayed_while_waiting=(\d+)/);
  check(took !== null && Number(took[1]) > 0,
    `the standby replayed the stream while it waited (${took ? took[1] : 'no such line'} records)`);
  let same = 0;
  for (const [i, id] of keyed) {
    const body = { receiver_id: `user-${i}.test.near`, amount: '1', memo: `keyed-${i}` };
    const r = await request(d1.port, 'POST', '/v1/transfers', body, { headers: { 'idempotency-key': `key-${i}` } });
    if (r.body && r.body.id === id && r.body.duplicate === true) same++;
  }
  check(same === keyed.size, `idempotency keys answered with the first instance's ids after the move (${same}/${keyed.size})`);

  // 3. Lose the stream leader's NATS node under load; the log keeps taking writes on two.
  st = await loadUntil(d1, 'b', 300, 'acknowledged transfers after the restart');
  const leader = await streamLeader(nodes, STREAM);
  const victim = nodes.find((n) => n.name === leader) || nodes[0];
  await stopProc(victim.proc, 'SIGKILL');
  const atKill = acked.size;
  console.log(`killed NATS node ${victim.name} (stream leader ${leader}) at ${atKill} acknowledged`);
  await waitCount(() => acked.size, atKill + 300, 'acknowledged transfers with one NATS node down');

  // 4. Pause it under load, with transactions signed and sent but not final (the chain stalls:
  // no block, so nothing it sent resolves), start a second instance on the same stream: it takes
  // the lease once it expires and holds the paused one's unresolved transactions, reconciled by
  // hash once blocks resume. Resume the first: it is fenced.
  // A transaction in nearsim's pool was broadcast, so its SIGNED record is durable, and it stays
  // there, not final, for as long as the stall lasts.
  await setFaults(sim.port, { stall_ms: 3600000 });
  await waitFor(async () => (await request(sim.port, 'GET', '/sim/stats')).body.pool > 0,
    'a transaction broadcast and pending while the chain stalls', 60000, 20);
  d1.proc.kill('SIGSTOP');
  const live = nodes.filter((n) => n !== victim).map((n) => n.url).join(',');
  // The second instance compacts: settled records older than 5 s (--retention-hours 0) are purged.
  const compact = ['--retention-hours', '0', '--compact-interval-ms', '300'];
  const d2 = await startDaemon(nearftd, sim, join(sim.dir, 'host-c'), [...flags(live), ...compact], { logFile: log });
  const replayed = [...readFileSync(log, 'utf8').matchAll(/log replayed".*unresolved_txs=(\d+)/g)].pop();
  check(replayed && Number(replayed[1]) > 0,
    `the second instance holds the paused one's unresolved transactions (${replayed ? replayed[1] : 'no replay line'})`);
  console.log(`the second instance took over the paused one holding ${replayed ? replayed[1] : '?'} unresolved transactions`);
  await setFaults(sim.port, { stall_ms: 0 });
  const t = { receiver_id: 'user-7.test.near', amount: '3', memo: 'takeover-0' };
  const r2 = await request(d2.port, 'POST', '/v1/transfers', t);
  check(r2.status === 202, `the second instance accepts (${r2.status})`);
  if (r2.status === 202) acked.add(t.memo);
  d1.proc.kill('SIGCONT');
  // Resumed, it finds the lease taken (or its first write fenced): it refuses the transfer (503;
  // or, when it already stopped, the connection) and stops by itself with status 3, so that its
  // service manager starts it again as a standby.
  const stale = { receiver_id: 'user-8.test.near', amount: '3', memo: 'stale-0' };
  let r1;
  try {
    r1 = await request(d1.port, 'POST', '/v1/transfers', stale);
  } catch (e) {
    r1 = { status: `connection: ${e.code || e.message}` };
  }
  check(r1.status === 503 || String(r1.status).startsWith('connection'),
    `the resumed former instance refuses new transfers (${r1.status})`);
  await waitFor(async () => d1.proc.exitCode !== null || d1.proc.signalCode !== null,
    'the fenced former instance to stop by itself', 60000, 100);
  check(d1.proc.exitCode === 3, `the fenced former instance exits with status 3 (${d1.proc.exitCode} ${d1.proc.signalCode})`);
  check(/the cluster log is fenced.*stopping so that this instance starts again as a standby/.test(readFileSync(log, 'utf8')),
    'it says why it stopped');
  st.stop = true; // its load, cut by the stop
  await st.done;

  st = await loadUntil(d2, 'c', 200, 'acknowledged transfers on the second instance');
  st.stop = true;
  await st.done;
  await waitApplied(sim.port, acked, 'every acknowledged transfer applied');
  // Compaction: the stream loses its settled prefix, and a replay of what is left still works.
  await waitFor(async () => metricSum(await metrics(d2.port), 'nearft_wal_segments_deleted_total') > 0,
    'the second instance purged settled segments from the stream', 60000, 300);
  const firstSeq = async () => {
    for (const n of nodes.filter((x) => x !== victim)) {
      const x = await streamInfo(n.mon, STREAM);
      if (x) return x.state.first_seq;
    }
    return 0;
  };
  const fs = await firstSeq();
  check(fs > 1, `the stream's first sequence moved past 1 (${fs})`);
  check((await d2.stop()) === 0, 'the second instance exits 0 on SIGTERM');
  // The lease bucket keeps the TTL it was made with: an instance with another --cluster-lease-ms
  // would renew too late (or hold keys longer than it says) and is refused at start.
  let ttlRefused = '';
  try {
    await (await startDaemon(nearftd, sim, join(sim.dir, 'host-ttl'), [...flags(live), '--cluster-lease-ms', '9000'], { logFile: log })).kill();
  } catch (e) { ttlRefused = String(e); }
  check(ttlRefused.includes('invalid configuration') && readFileSync(log, 'utf8').includes('the lease bucket was made with another TTL'),
    `an instance with another lease TTL than the bucket's is refused: ${ttlRefused.slice(0, 160)}`);
  const d3 = await startDaemon(nearftd, sim, join(sim.dir, 'host-d'), flags(live), { logFile: log });
  const t3 = { receiver_id: 'user-9.test.near', amount: '2', memo: 'after-purge-0' };
  const r3 = await request(d3.port, 'POST', '/v1/transfers', t3);
  check(r3.status === 202, `an instance started on the compacted stream accepts (${r3.status})`);
  if (r3.status === 202) acked.add(t3.memo);
  await waitFor(async () => (await appliedMemos(sim.port)).has(t3.memo), 'the transfer after the purge applied', 60000, 200);
  await checkExactlyOnce(sim.port, [...acked], ['stale-0'], 'cluster');
  console.log(`acknowledged ${acked.size} transfers, each applied exactly once`);
  check((await d3.stop()) === 0, 'the last instance exits 0 on SIGTERM');
  code = 0;
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  for (const s of sinks) await s.stop();
  for (const p of natsProcs) await stopProc(p);
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code === 0 ? report('cluster_nats') : 1, ' (nearftd.log, nats-*.log)'));
