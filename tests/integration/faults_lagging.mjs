// faults_lagging: a lagging RPC node must not make a live transaction look dead (docs/ERRORS.md
// row "A lagging RPC node"). nearftd gets two endpoints of one nearsim chain: the live listener and
// a lagging listener (--lagging-listen, LAG blocks behind), under an 8-block validity window. Sends
// lose their answers after being applied (lost_ack_rate 0.5), so nearftd re-broadcasts
// transactions that are already on the chain. A re-broadcast that reaches the lagging node is
// refused as Expired (it has not seen the block hash yet). The old code then waited until its own
// head was past the window and looked the hash up on whichever endpoint pick_endpoint gave: the
// lagging node, which has not reached the block that included it either, answered
// UNKNOWN_TRANSACTION, and the transfers were signed and paid again. The dead proof asks one
// endpoint view_access_key at final and that same endpoint for the hash, so a node that has not
// seen the inclusion cannot prove the transaction dead.
// Rounds of ROUND transfers (2 per transaction, so many transactions), each waited for until final:
// at least MIN_ROUNDS, then until a dead proof came out not_proven, at most ROUNDS.
// Asserts: every transfer executed and applied exactly once (nearsim's audit), the lagging node
// refused re-broadcasts as Expired, a dead proof was not_proven (nearft_dead_proofs_total), both
// endpoints served requests, answers were lost. Waits key off state; time limits only bound hangs
// (a round fails only when none of its transfers became final for 120 s).
// Usage: node faults_lagging.mjs NEARSIM NEARFTD [ROUND=100]
import { startSim, startDaemon, request, pool, check, report, keepOrClean, rpc, waitFor } from './lib/harness.mjs';
import { metrics, metricSum, waitAllFinal, checkExactlyOnce, setFaults } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd, nArg] = process.argv.slice(2);
const ROUND = Number(nArg || 100); // transfers per round
const MIN_ROUNDS = 3; // the old lookup paid twice in about half of such rounds
const ROUNDS = 8;
const LAG = 80;
const WINDOW = 8;
const sim = await startSim(nearsim, ['--block-ms', '100', '--validity-blocks', String(WINDOW), '--keys', '4',
  '--wait-timeout-ms', '2000', '--lagging-listen', ':0', '--lag-blocks', String(LAG)]);
let code = 1;
let d = null;
try {
  // The lagging node must have a chain to show: wait until the head is LAG blocks past genesis.
  const st0 = (await rpc(sim.port, 'status', [])).body.result.sync_info;
  await waitFor(async () => (await rpc(sim.port, 'status', [])).body.result.sync_info.latest_block_height >
    st0.earliest_block_height + LAG + 2, 'the chain to grow past the lag');
  const live = `http://127.0.0.1:${sim.port}`, lagging = `http://127.0.0.1:${sim.lagPort}`;
  d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--fsync', 'off',
    '--block-hash-refresh-ms', '200', '--batch-linger-ms', '5', '--batch-max-actions', '2',
    '--tx-validity-blocks', String(WINDOW), '--rpc-timeout-ms', '5000'],
  { logFile: join(sim.dir, 'nearftd.log'), rpcUrls: [live, lagging] });
  await setFaults(sim.port, { lost_ack_rate: 0.5 });
  const counts = (m) => ({
    expired: metricSum(m, 'nearft_rpc_answers_total{kind="EXPIRED"'),
    proofs: metricSum(m, 'nearft_dead_proofs_total{'),
    not_proven: metricSum(m, 'nearft_dead_proofs_total{result="not_proven"'),
    dead: metricSum(m, 'nearft_transactions_total{result="dead"'),
  });
  // Rounds of ROUND transfers under lost answers, each waited for until final: at least
  // MIN_ROUNDS, then until a dead proof has refused to call a transaction dead (the decision this
  // test is about), at most ROUNDS.
  const ids = new Map();
  let round = 0, c = counts(await metrics(d.port));
  while (round < ROUNDS && (round < MIN_ROUNDS || c.not_proven === 0)) {
    const fresh = [];
    const t0 = Date.now();
    await pool(ROUND / 10, 4, async (b) => {
      const transfers = Array.from({ length: 10 }, (_, k) => ({
        receiver_id: `user-${(b * 10 + k) % 500}.test.near`, amount: '3', memo: `lag-${round}-${b * 10 + k}` }));
      const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
      check(r.status === 202, `round ${round} bulk ${b}: ${r.status} ${r.text.slice(0, 200)}`);
      if (r.status === 202) r.body.transfers.forEach((t, k) => { ids.set(t.id, transfers[k].memo); fresh.push(t.id); });
    });
    const states = await waitAllFinal(d.port, fresh, `round ${round}`);
    const executed = [...states.values()].filter((s) => s.status === 'executed').length;
    check(executed === fresh.length, `round ${round}: every transfer executed (${executed}/${fresh.length})`);
    c = counts(await metrics(d.port));
    console.log(`round ${round}: ${((Date.now() - t0) / 1000).toFixed(1)} s, so far dead_txs=${c.dead} ` +
      `proofs=${c.proofs} not_proven=${c.not_proven} expired_answers=${c.expired}`);
    round++;
  }
  const m = await metrics(d.port);
  const end = counts(m);
  const reqs = (u) => m.get(`nearft_rpc_requests_total{url="${u}"}`) || 0;
  const stats = (await request(sim.port, 'GET', '/sim/stats')).body;
  const proofs = [...m].filter(([k]) => k.startsWith('nearft_dead_proofs_total{'))
    .map(([k, v]) => `${k.match(/result="([^"]+)"/)[1]}=${v}`).join(' ');
  console.log(`rounds=${round} transfers=${ids.size} expired_answers=${end.expired} dead_txs=${end.dead} ` +
    `proofs: ${proofs || 'none'} requests live=${reqs(live)} lagging=${reqs(lagging)} ` +
    `sim_lagging_requests=${stats.lagging_requests} lost_acks=${stats.lost_acks}`);
  check(end.expired > 0, 'the lagging node refused re-broadcasts as Expired');
  check(end.not_proven > 0, `a dead proof could not prove a transaction dead (nearft_dead_proofs_total; ${round} rounds)`);
  check(reqs(lagging) > 0 && stats.lagging_requests > 0, 'the lagging endpoint served requests');
  check(reqs(live) > 0, 'the live endpoint served requests');
  check(stats.lost_acks > 0, 'answers were lost after the sends were applied');
  const { applied } = await checkExactlyOnce(sim.port, [...ids.values()], [], 'lagging');
  const twice = Array.from({ length: round }, (_, r) =>
    [...ids.values()].filter((memo) => memo.startsWith(`lag-${r}-`) && (applied.get(memo) || 0) > 1).length);
  console.log(`transfers applied more than once, by round: [${twice.join(', ')}]`);
  code = 0;
} catch (e) {
  console.error(e);
} finally {
  if (d) await d.stop();
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code === 0 ? report('faults_lagging') : 1));
