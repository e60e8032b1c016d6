// demo: the README's main job. Starts nearsim (0.6 s blocks) and nearftd on free ports, sends a
// short bounded load (bulk and single requests with unique memos), waits until nearsim has
// applied them, and prints transfers/s and nearsim's exactly-once audit verdict. Stops both.
import { startSim, startDaemon, request, pool, waitFor, audit, appliedMemos, cleanupDir } from '../tests/integration/lib/harness.mjs';
import { join } from 'node:path';

const [nearsim, nearftd, nArg] = process.argv.slice(2);
const N = Number(nArg || 50000);
const sim = await startSim(nearsim, ['--keys', '12', '--chunk-gas', '1000P', '--chunk-tx-gas', '1000P']);
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--inflight-per-key', '16'],
  { logFile: join(sim.dir, 'nearftd.log') });
let rc = 1;
try {
  console.log(`nearsim on 127.0.0.1:${sim.port}, nearftd on 127.0.0.1:${d.port}; sending ${N} transfers`);
  const t0 = Date.now();
  const bulk = Math.floor(N * 0.9 / 1000);
  const memos = [];
  await pool(bulk, 4, async (b) => {
    const transfers = Array.from({ length: 1000 }, (_, i) => ({ receiver_id: `user-${(b * 7 + i) % 1000}.test.near`,
      amount: '1000', memo: `demo-b${b}-${i}` }));
    const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
    if (r.status !== 202) throw new Error(`bulk request: ${r.status} ${r.text}`);
    transfers.forEach((t) => memos.push(t.memo));
  });
  await pool(N - bulk * 1000, 64, async (i) => {
    const r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: `user-${i % 1000}.test.near`, amount: '1000', memo: `demo-s${i}` });
    if (r.status !== 202) throw new Error(`single request: ${r.status} ${r.text}`);
    memos.push(`demo-s${i}`);
  });
  const tAck = Date.now();
  let last = -1;
  await waitFor(async () => {
    const a = await audit(sim.port);
    if (a.transfers_applied !== last) {
      last = a.transfers_applied;
      process.stdout.write(`\r  applied on chain: ${a.transfers_applied}/${N}   `);
    }
    return a.transfers_applied >= N;
  }, 'all transfers applied', 300000, 250);
  const tDone = Date.now();
  const applied = await appliedMemos(sim.port);
  const once = memos.filter((m) => applied.get(m) === 1).length;
  const a = await audit(sim.port);
  console.log(`\nacknowledged ${memos.length} transfers in ${((tAck - t0) / 1000).toFixed(2)} s ` +
    `(${Math.round(memos.length / ((tAck - t0) / 1000))} transfers/s accepted durably)`);
  console.log(`landed on chain in ${((tDone - t0) / 1000).toFixed(2)} s: ${Math.round(N / ((tDone - t0) / 1000))} transfers/s end to end, ` +
    `${a.txs_applied} transactions (${(N / a.txs_applied).toFixed(1)} transfers each)`);
  const ok = once === N && a.duplicate_memo_count === 0 && a.supply_conserved;
  console.log(`audit: ${once}/${N} applied exactly once, duplicates ${a.duplicate_memo_count}, ` +
    `supply conserved ${a.supply_conserved} => ${ok ? 'EXACTLY ONCE: OK' : 'FAILED'}`);
  rc = ok ? 0 : 1;
} catch (e) {
  console.error(e);
} finally {
  await d.stop();
  await sim.stop();
  if (rc === 0) cleanupDir(sim.dir);
}
process.exit(rc);
