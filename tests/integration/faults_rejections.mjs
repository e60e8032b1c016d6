// faults_rejections: admission rejections nearsim raises on demand (docs/ERRORS.md rows ShardStuck
// and InvalidSignature). (1) The shard misses chunks (ShardStuck) for a while: the same bytes are
// retried after a back-off and land once the shard recovers. (2) One key's signatures stop
// verifying (InvalidSignature, e.g. a replaced key): that key is quarantined (/health, /metrics),
// its rejected transactions are declared dead and their transfers re-signed with the other keys,
// the service stays green. (3) InvalidChain and CostOverflow ("any other InvalidTxError") on a
// first broadcast: dead after a lookup by hash, transfers re-signed. Every transfer lands once.
// Usage: node faults_rejections.mjs NEARSIM NEARFTD
import { startSim, startDaemon, request, pool, check, report, waitFor, keepOrClean } from './lib/harness.mjs';
import { setFaults, metrics, metricSum, health, waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd] = process.argv.slice(2);
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '3', '--wait-timeout-ms', '2000']);
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--fsync', 'off',
  '--batch-linger-ms', '5', '--batch-max-actions', '10'], { logFile: join(sim.dir, 'nearftd.log') });
let code = 1;
const ids = new Map();
async function load(tag, n) {
  await pool(Math.ceil(n / 10), 4, async (b) => {
    const transfers = Array.from({ length: 10 }, (_, k) => ({
      receiver_id: `user-${(b * 10 + k) % 400}.test.near`, amount: '4', memo: `${tag}-${b * 10 + k}` }));
    const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
    check(r.status === 202, `${tag} bulk ${b}: ${r.status}`);
    if (r.status === 202) r.body.transfers.forEach((t, k) => ids.set(t.id, transfers[k].memo));
  });
}
try {
  // 1. ShardStuck while a load is accepted, then the shard recovers.
  await setFaults(sim.port, { missed_chunks: 110 });
  await load('stuck', 300);
  await waitFor(async () => metricSum(await metrics(d.port), 'nearft_rpc_answers_total{kind="SHARD_STUCK"') > 0,
    'ShardStuck answers', 20000, 100);
  const m1 = await metrics(d.port);
  check(metricSum(m1, 'nearft_transactions_total{result="dead"') === 0, 'ShardStuck never declares a transaction dead');
  await setFaults(sim.port, { missed_chunks: 0 });
  await waitAllFinal(d.port, [...ids.keys()], 'after the shard recovered', 60000);

  // 2. InvalidSignature for one key.
  const keys = [...m1.keys()].filter((k) => k.startsWith('nearft_key_inflight{')).map((k) => k.match(/key="([^"]+)"/)[1]);
  const victim = keys[0];
  await setFaults(sim.port, { invalid_signature_key: victim });
  await load('badsig', 600);
  const states = await waitAllFinal(d.port, [...ids.keys()], 'after InvalidSignature', 60000);
  check([...states.values()].every((s) => s.status === 'executed'), 'every transfer executed');
  const h = await health(d.port);
  const q = (h.body.keys && h.body.keys.quarantined) || [];
  check(q.length === 1 && q[0].public_key === victim && /INVALID_SIGNATURE/.test(q[0].reason),
        `the key is quarantined with the reason: ${JSON.stringify(h.body.keys)}`);
  check(h.status === 200, `service stays green on the other keys: ${h.status}`);
  const m2 = await metrics(d.port);
  check(m2.get(`nearft_key_quarantined{key="${victim}"}`) === 1, 'quarantine visible in /metrics');
  check(metricSum(m2, 'nearft_rpc_answers_total{kind="INVALID_SIGNATURE"') > 0, 'InvalidSignature answers seen');
  await setFaults(sim.port, { reset: true });

  // 3. InvalidChain and another InvalidTxError (CostOverflow) on first broadcasts: each rejected
  //    transaction is confirmed unknown by hash, declared dead, its transfers re-signed.
  const dead0 = metricSum(await metrics(d.port), 'nearft_transactions_total{result="dead"');
  await setFaults(sim.port, { reject_next: { kind: 'InvalidChain', count: 3 } });
  await load('chain', 100);
  await waitAllFinal(d.port, [...ids.keys()], 'after InvalidChain', 60000);
  await setFaults(sim.port, { reject_next: { kind: 'CostOverflow', count: 3 } });
  await load('other', 100);
  const st3 = await waitAllFinal(d.port, [...ids.keys()], 'after CostOverflow', 60000);
  check([...st3.values()].every((x) => x.status === 'executed'), 'every transfer executed after forced rejections');
  const m3 = await metrics(d.port);
  check(metricSum(m3, 'nearft_rpc_answers_total{kind="INVALID_CHAIN"') === 3, 'three InvalidChain answers');
  check(metricSum(m3, 'nearft_rpc_answers_total{kind="OTHER_INVALID_TX"') === 3, 'three other InvalidTxError answers');
  check(metricSum(m3, 'nearft_transactions_total{result="dead"') - dead0 === 6, 'each rejected transaction declared dead once');
  await checkExactlyOnce(sim.port, [...ids.values()], [], 'rejections');
  code = 0;
} catch (e) {
  console.error(e);
} finally {
  await d.stop();
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code === 0 ? report('faults_rejections') : 1));
