// faults_state_stake: the token contract's state outgrows its NEAR (LackBalanceForState found
// after the last action, ActionError without an index; review finding D of the durability review).
// nearsim's storage_usage fault sets the contract's state size above what its balance stakes, so
// every ft_transfer receipt fails after all its actions and is rolled back. Asserts: no transfer is
// reported failed (none was at fault), signing pauses, /health and new requests name
// LackBalanceForState (503 + Retry-After), the rolled-back transactions are counted dead; after the
// contract is funded nearftd resumes on its own and every accepted transfer executes exactly once,
// no refused one applied. Usage: node faults_state_stake.mjs NEARSIM NEARFTD
import { startSim, startDaemon, request, waitFor, check, report, keepOrClean } from './lib/harness.mjs';
import { setFaults, metrics, metricSum, health, waitAllFinal, checkExactlyOnce, sleep } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd] = process.argv.slice(2);
const CONTRACT = 'ft.test.near';
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4', '--wait-timeout-ms', '1500']);
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--fsync', 'off',
  '--wait-timeout-ms', '4000', '--batch-linger-ms', '10', '--inflight-per-key', '4',
  '--rpc-timeout-ms', '5000'], { logFile: join(sim.dir, 'nearftd.log') });
let code = 1;
try {
  const accepted = new Map(); // id -> memo
  const refused = [];
  const recv = (i) => `user-${i % 500}.test.near`;
  async function post(tag, n) {
    const transfers = Array.from({ length: n }, (_, k) => ({ receiver_id: recv(k), amount: '3',
      memo: `state-${tag}-${k}` }));
    const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
    if (r.status === 202) r.body.transfers.forEach((t, k) => accepted.set(t.id, transfers[k].memo));
    else transfers.forEach((t) => refused.push(t.memo));
    return r;
  }
  const account = async (id) => (await request(sim.port, 'POST', '/', { jsonrpc: '2.0', id: 1,
    method: 'query', params: { request_type: 'view_account', finality: 'final', account_id: id } })).body.result;

  // A: healthy.
  check((await post('a', 50)).status === 202, 'phase A accepted');
  await waitAllFinal(d.port, [...accepted.keys()], 'phase A', 60000);
  // The contract's state now needs 10^6 NEAR staked; it holds far less.
  const before = await account(CONTRACT);
  await setFaults(sim.port, { storage_usage: { account_id: CONTRACT, bytes: 100000000000 } });
  const shown = await account(CONTRACT);
  check(shown.storage_usage === 100000000000, `view_account shows the state size: ${shown.storage_usage}`);
  // B: transfers go out, their receipts fail LackBalanceForState; signing pauses.
  check((await post('b', 30)).status === 202, 'phase B accepted before the failure is seen');
  let got503 = null;
  const until = Date.now() + 120000;
  for (let i = 0; !got503 && Date.now() < until; i++) {
    const r = await post(`b${i}`, 5);
    if (r.status === 503) got503 = r;
    else check(r.status === 202, `phase B: ${r.status} ${r.text.slice(0, 200)}`);
    await sleep(50);
  }
  check(got503 !== null, 'ingest answers 503 once the contract lacks NEAR for its state');
  check(got503 && Number(got503.headers['retry-after']) >= 1, '503 carries Retry-After');
  check(got503 && /LackBalanceForState/.test(got503.text), `503 names the reason: ${got503 && got503.text}`);
  const red = await health(d.port);
  check(red.status === 503 && red.body.reasons.some((x) => /LackBalanceForState/.test(x)),
    `/health red naming LackBalanceForState: ${JSON.stringify(red.body && red.body.reasons)}`);
  const audit1 = (await request(sim.port, 'GET', '/sim/audit')).body;
  check(audit1.txs_failed > 0, `receipts failed on chain: ${audit1.txs_failed}`);
  // The pause that answers 503 is set before the transaction's outcome is counted: wait for it.
  await waitFor(async () => metricSum(await metrics(d.port), 'nearft_transactions_total{result="dead"') > 0,
    'the reverted transactions counted dead');
  const m1 = await metrics(d.port);
  check(metricSum(m1, 'nearft_transactions_total{result="dead"') > 0, 'the reverted transactions are counted dead');
  check(metricSum(m1, 'nearft_transactions_total{result="action_error"') === 0, 'no action error blamed on a transfer');
  check(m1.get('nearft_signing_paused') === 1, 'signing paused in /metrics');
  // No accepted transfer failed: none was at fault.
  for (const id of accepted.keys()) {
    const r = await request(d.port, 'GET', `/v1/transfers/${id}`);
    if (r.body && r.body.status === 'failed') { check(false, `transfer ${id} failed: ${r.body.error}`); break; }
  }
  // Fund the contract: balance covers 10^11 bytes * 10^19 = 10^30 yocto.
  await setFaults(sim.port, { set_balance: { account_id: CONTRACT, yocto: '2000000000000000000000000000000' } });
  await waitFor(async () => (await health(d.port)).status === 200, '/health green after funding', 20000);
  check((await post('c', 20)).status === 202, 'accepted again after funding');
  const states = await waitAllFinal(d.port, [...accepted.keys()], 'after funding', 60000);
  let failed = 0;
  for (const s of states.values()) if (s.status !== 'executed') failed++;
  check(failed === 0, `${failed} accepted transfers failed instead of waiting for the contract`);
  await checkExactlyOnce(sim.port, [...accepted.values()], refused, 'state');
  console.log(`accepted=${accepted.size} refused=${refused.length} contract_before=${before.amount}`);
  code = report('faults_state_stake');
} catch (e) {
  console.error(e);
} finally {
  await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code);
}
process.exit(code);
