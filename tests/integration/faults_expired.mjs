// faults_expired: transactions signed with an expired block hash, made to happen on purpose
// (docs/ERRORS.md row Expired). nearsim's `lag_blocks` fault makes `block` answer 30 blocks behind
// its chain, as a lagging RPC node does, while transactions are validated against the real head
// with an 8-block validity window: every transaction nearftd signs with that "final" hash is
// rejected as Expired, confirmed unknown by hash, declared dead and its transfers re-signed. The
// test waits (by state, not by time) until Expired answers and dead transactions are counted,
// clears the fault, and then every transfer must land exactly once.
// Usage: node faults_expired.mjs NEARSIM NEARFTD [N=300]
import { startSim, startDaemon, request, pool, check, report, keepOrClean, rpc, waitFor } from './lib/harness.mjs';
import { metrics, metricSum, waitAllFinal, checkExactlyOnce, setFaults } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd, nArg] = process.argv.slice(2);
const N = Number(nArg || 300);
const LAG = 30;
const sim = await startSim(nearsim, ['--block-ms', '50', '--validity-blocks', '8', '--keys', '4',
  '--wait-timeout-ms', '2000']);
let code = 1;
let d = null;
try {
  // The lag must reach past the window: wait until the chain is LAG + 8 blocks past genesis.
  const st0 = (await rpc(sim.port, 'status', [])).body.result.sync_info;
  await waitFor(async () => (await rpc(sim.port, 'status', [])).body.result.sync_info.latest_block_height >
    st0.earliest_block_height + LAG + 8, 'the chain to grow past the lag');
  await setFaults(sim.port, { lag_blocks: LAG });
  // nearftd starts under the fault: its first block hash is already a lagging one.
  d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--fsync', 'off',
    '--block-hash-refresh-ms', '200', '--batch-linger-ms', '5', '--batch-max-actions', '20',
    '--tx-validity-blocks', '8'], { logFile: join(sim.dir, 'nearftd.log') });
  const ids = new Map();
  await pool(Math.ceil(N / 10), 4, async (b) => {
    const transfers = Array.from({ length: Math.min(10, N - b * 10) }, (_, k) => ({
      receiver_id: `user-${(b * 10 + k) % 500}.test.near`, amount: '3', memo: `exp-${b * 10 + k}` }));
    const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
    check(r.status === 202, `bulk ${b}: ${r.status} ${r.text.slice(0, 200)}`);
    if (r.status === 202) r.body.transfers.forEach((t, k) => ids.set(t.id, transfers[k].memo));
  });
  // Under the fault nothing can land: every signed transaction expires. Wait for the proof.
  const counts = (m) => ({ expired: metricSum(m, 'nearft_rpc_answers_total{kind="EXPIRED"'),
    dead: metricSum(m, 'nearft_transactions_total{result="dead"') });
  const seen = await waitFor(async () => {
    const c = counts(await metrics(d.port));
    return c.expired > 0 && c.dead > 0 ? c : null;
  }, 'Expired answers and dead transactions under the lag', 120000);
  const applied = (await request(sim.port, 'GET', '/sim/audit')).body.transfers_applied;
  check(applied === 0, `nothing signed with a lagging hash landed (applied=${applied})`);
  await setFaults(sim.port, { lag_blocks: 0 });
  const states = await waitAllFinal(d.port, [...ids.keys()], 'transfers after the lag', 120000);
  const executed = [...states.values()].filter((s) => s.status === 'executed').length;
  check(executed === ids.size, `every transfer executed (${executed}/${ids.size})`);
  const end = counts(await metrics(d.port));
  console.log(`transfers=${ids.size} expired_answers=${end.expired} dead_txs=${end.dead} (first seen: ${JSON.stringify(seen)})`);
  check(seen.expired > 0, 'transactions were rejected as Expired');
  check(seen.dead > 0, 'expired transactions were declared dead and re-signed');
  await checkExactlyOnce(sim.port, [...ids.values()], [], 'expired');
  code = 0;
} catch (e) {
  console.error(e);
} finally {
  if (d) await d.stop();
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code === 0 ? report('faults_expired') : 1));
