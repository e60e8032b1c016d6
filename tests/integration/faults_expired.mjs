// faults_expired: nearsim with a tiny transaction validity window (--validity-blocks) and nearftd
// refreshing its block hash slowly, so many transactions reach the chain with an expired block
// hash (docs/ERRORS.md row Expired): each such rejection is confirmed unknown by hash, declared
// dead and its transfers re-signed with a fresh hash; every transfer still lands exactly once.
// Usage: node faults_expired.mjs NEARSIM NEARFTD [N=1500]
import { startSim, startDaemon, request, pool, check, report, keepOrClean } from './lib/harness.mjs';
import { metrics, metricSum, waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd, nArg] = process.argv.slice(2);
const N = Number(nArg || 1500);
// 100 ms blocks, valid for 8 blocks (0.8 s); nearftd refreshes its hash every 1.5 s.
const sim = await startSim(nearsim, ['--block-ms', '100', '--validity-blocks', '8', '--keys', '4',
  '--wait-timeout-ms', '2000']);
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--fsync', 'off',
  '--block-hash-refresh-ms', '1500', '--batch-linger-ms', '5', '--batch-max-actions', '20',
  '--tx-validity-blocks', '8'], { logFile: join(sim.dir, 'nearftd.log') });
let code = 1;
try {
  const ids = new Map();
  await pool(Math.ceil(N / 10), 4, async (b) => {
    const transfers = Array.from({ length: Math.min(10, N - b * 10) }, (_, k) => ({
      receiver_id: `user-${(b * 10 + k) % 500}.test.near`, amount: '3', memo: `exp-${b * 10 + k}` }));
    const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
    check(r.status === 202, `bulk ${b}: ${r.status} ${r.text.slice(0, 200)}`);
    if (r.status === 202) r.body.transfers.forEach((t, k) => ids.set(t.id, transfers[k].memo));
    await new Promise((res) => setTimeout(res, 20)); // spread the load over several refreshes
  });
  const states = await waitAllFinal(d.port, [...ids.keys()], 'expired hashes', 120000);
  const executed = [...states.values()].filter((s) => s.status === 'executed').length;
  check(executed === ids.size, `every transfer executed (${executed}/${ids.size})`);
  const m = await metrics(d.port);
  const expired = metricSum(m, 'nearft_rpc_answers_total{kind="EXPIRED"');
  const dead = metricSum(m, 'nearft_transactions_total{result="dead"');
  console.log(`transfers=${ids.size} expired_answers=${expired} dead_txs=${dead}`);
  check(expired > 0, 'some transactions were rejected as Expired');
  check(dead > 0, 'expired transactions were declared dead and re-signed');
  await checkExactlyOnce(sim.port, [...ids.values()], [], 'expired');
  code = 0;
} catch (e) {
  console.error(e);
} finally {
  await d.stop();
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code === 0 ? report('faults_expired') : 1));
