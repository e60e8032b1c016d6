// faults_nonce: another process uses one of nearftd's access keys mid-run (nearsim's external
// writer bumps its nonce every other block), then pushes that key's nonce past the chain's upper
// bound (height x 1e6) so nearftd's next transactions on it are NonceTooLarge and dropped at
// inclusion (rows InvalidNonce and NonceTooLarge of docs/ERRORS.md). Asserts: InvalidNonce
// answers seen and the key resynchronised (nearft_nonce_resyncs_total), NonceTooLarge drops seen
// by nearsim and resolved by re-broadcasting the same bytes once the height allows them, every
// transfer executed exactly once, nothing left pending. Usage: node faults_nonce.mjs NEARSIM NEARFTD
import { startSim, startDaemon, request, pool, rpc, audit, waitFor, check, report, keepOrClean } from './lib/harness.mjs';
import { setFaults, metrics, metricSum, waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd, nArg] = process.argv.slice(2);
const N = Number(nArg || 3000);
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '3', '--wait-timeout-ms', '1500']);
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--fsync', 'off',
  '--wait-timeout-ms', '5000', '--batch-linger-ms', '5', '--batch-max-actions', '10',
  '--inflight-per-key', '8', '--rpc-timeout-ms', '5000'], { logFile: join(sim.dir, 'nearftd.log') });
let code = 1;

async function accessKeyNonce(pk) {
  const r = await rpc(sim.port, 'query', { request_type: 'view_access_key', finality: 'optimistic',
    account_id: 'distributor.test.near', public_key: pk });
  return BigInt(r.body.result.nonce);
}

try {
  const m0 = await metrics(d.port);
  const keys = [...m0.keys()].filter((k) => k.startsWith('nearft_key_inflight{'))
    .map((k) => k.match(/key="([^"]+)"/)[1]);
  check(keys.length === 3, `nearftd uses the 3 keys (${keys.length})`);
  const victim = keys[0];
  const ids = new Map(); // id -> memo
  async function load(tag, n) {
    await pool(Math.ceil(n / 20), 8, async (b) => {
      const transfers = Array.from({ length: Math.min(20, n - b * 20) }, (_, k) => ({
        receiver_id: `user-${(b * 20 + k) % 300}.test.near`, amount: '2', memo: `${tag}-${b * 20 + k}` }));
      const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
      check(r.status === 202, `${tag} bulk ${b}: ${r.status}`);
      if (r.status === 202) r.body.transfers.forEach((t, k) => ids.set(t.id, transfers[k].memo));
    });
  }
  // 1. External writer on the victim key while the load runs.
  await setFaults(sim.port, { external_writer: { public_key: victim, every_blocks: 2, bump: 1 } });
  await load('xw', N);
  await waitAllFinal(d.port, [...ids.keys()], 'external writer', 120000);
  await setFaults(sim.port, { external_writer: null });
  const m1 = await metrics(d.port);
  check(metricSum(m1, 'nearft_rpc_answers_total{kind="INVALID_NONCE"') > 0, 'InvalidNonce answers seen');
  check(m1.get('nearft_nonce_resyncs_total') > 0, 'a key counter was resynchronised');

  // 2. NonceTooLarge: push the victim's nonce 30 blocks past the chain's upper bound.
  const head = (await rpc(sim.port, 'block', { finality: 'optimistic' })).body.result.header.height;
  const n0 = await accessKeyNonce(victim);
  const target = BigInt(head + 30) * 1000000n;
  await setFaults(sim.port, { bump_nonce: { public_key: victim, by: Number(target - n0) } });
  const before = new Set(ids.keys());
  await load('ntl', 300);
  const fresh = [...ids.keys()].filter((id) => !before.has(id));
  const states = await waitAllFinal(d.port, fresh, 'nonce too large', 60000);
  check([...states.values()].every((s) => s.status === 'executed'), 'every transfer executed after NonceTooLarge');
  const a = await audit(sim.port);
  check(a.txs_dropped.NonceTooLarge > 0, `nearsim dropped NonceTooLarge transactions (${a.txs_dropped.NonceTooLarge})`);
  const all = await waitAllFinal(d.port, [...ids.keys()], 'all', 30000);
  check([...all.values()].every((s) => s.status === 'executed'), 'no transfer failed');
  await checkExactlyOnce(sim.port, [...ids.values()], [], 'nonce');
  console.log(`transfers=${ids.size} invalid_nonce=${metricSum(m1, 'nearft_rpc_answers_total{kind="INVALID_NONCE"')} ntl_drops=${a.txs_dropped.NonceTooLarge}`);
  code = report('faults_nonce');
} catch (e) {
  console.error(e);
} finally {
  await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code);
}
process.exit(code);
