// faults_funds: the signer runs out of NEAR mid-run, then is refilled (NotEnoughBalance
// row of docs/ERRORS.md). Asserts: nearftd sees NotEnoughBalance, pauses signing, /health turns red
// (503, reason names NotEnoughBalance), new requests get 503 + Retry-After, and after the refill it
// resumes on its own: /health green again, every accepted transfer executed exactly once, no
// refused transfer applied. Usage: node faults_funds.mjs NEARSIM NEARFTD
import { startSim, startDaemon, request, waitFor, check, report, keepOrClean } from './lib/harness.mjs';
import { setFaults, metrics, metricSum, health, waitAllFinal, checkExactlyOnce, sleep } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd] = process.argv.slice(2);
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
      memo: `funds-${tag}-${k}` }));
    const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
    if (r.status === 202) r.body.transfers.forEach((t, k) => accepted.set(t.id, transfers[k].memo));
    else transfers.forEach((t) => refused.push(t.memo));
    return r;
  }
  // A: funded.
  for (let i = 0; i < 4; i++) check((await post(`a${i}`, 50)).status === 202, 'phase A accepted');
  // Drain the signer: every transaction now costs more than it holds.
  await setFaults(sim.port, { set_balance: { yocto: '1000' } });
  // B: keep sending (bounded) until ingest refuses with 503.
  let got503 = null;
  const until = Date.now() + 120000; // bounded by time, not by count: a slow box needs more posts
  for (let i = 0; !got503 && Date.now() < until; i++) {
    const r = await post(`b${i}`, 10);
    if (r.status === 503) got503 = r;
    else check(r.status === 202, `phase B: ${r.status} ${r.text.slice(0, 200)}`);
    await sleep(50);
  }
  check(got503 !== null, 'ingest answers 503 once the signer is out of NEAR');
  check(got503 && Number(got503.headers['retry-after']) >= 1, '503 carries Retry-After');
  check(got503 && /NotEnoughBalance/.test(got503.text), `503 body names the reason: ${got503 && got503.text}`);
  const red = await health(d.port);
  check(red.status === 503, `/health is red while out of NEAR (got ${red.status})`);
  check(red.body && red.body.reasons.some((x) => /NotEnoughBalance/.test(x)),
        `/health names NotEnoughBalance: ${JSON.stringify(red.body && red.body.reasons)}`);
  const m1 = await metrics(d.port);
  check(metricSum(m1, 'nearft_rpc_answers_total{kind="NOT_ENOUGH_BALANCE"') > 0,
        'NotEnoughBalance answers counted in /metrics');
  check(m1.get('nearft_signing_paused') === 1, 'signing paused in /metrics');
  // Still red a while later (no flapping while the balance is short).
  await sleep(1500);
  check((await health(d.port)).status === 503, '/health stays red while the balance is short');
  // Refill: nearftd notices by itself.
  await setFaults(sim.port, { set_balance: { yocto: '1000000000000000000000000000000' } });
  await waitFor(async () => (await health(d.port)).status === 200, '/health green after refill', 20000);
  // C: accepted again.
  check((await post('c', 50)).status === 202, 'accepted again after refill');
  const states = await waitAllFinal(d.port, [...accepted.keys()], 'after refill', 60000);
  let failed = 0;
  for (const s of states.values()) if (s.status !== 'executed') failed++;
  check(failed === 0, `${failed} accepted transfers failed instead of waiting for the refill`);
  await checkExactlyOnce(sim.port, [...accepted.values()], refused, 'funds');
  console.log(`accepted=${accepted.size} refused=${refused.length}`);
  code = report('faults_funds');
} catch (e) {
  console.error(e);
} finally {
  await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code);
}
process.exit(code);
