// faults_chaos: many transfers while nearsim loses 10 % of answers after applying the transaction,
// answers 10 % of requests with 503, adds latency spikes, stalls block production, and for a
// moment fails every request (transport / 5xx / TIMEOUT_ERROR / lost-ack rows and the
// breaker of docs/ERRORS.md). Asserts: every transfer applied exactly once (nearsim memo audit),
// every one executed, the breaker opened and closed again (/metrics), and no client request hung
// (each answered within its --wait-timeout-ms plus a slack a loaded sanitizer build stays under).
// The schedule moves on by state, not by time: blocks stall before the load starts (so transfers
// are pending whatever the machine's speed), every request fails until the breaker is seen open,
// then spikes until it is seen closed, then the stall ends (at the latest after STALL_S).
// Usage: node faults_chaos.mjs NEARSIM NEARFTD [N=20000] [STALL_S=20]
import { startSim, startDaemon, pool, check, report, keepOrClean, waitFor } from './lib/harness.mjs';
import { setFaults, metrics, metricSum, timed, waitAllFinal, checkExactlyOnce, sleep } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd, nArg, stallArg] = process.argv.slice(2);
const N = Number(nArg || 20000);
const STALL_S = Number(stallArg || 20);
const WAIT_MS = 5000;
// A hang detector, not a latency goal: a TSan build on a loaded 2-core box answers late by
// seconds, never by this much (latency is measured in perf/, not here).
const SLACK_MS = 20000;
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '8', '--wait-timeout-ms', '2000',
  '--chunk-gas', '100P', '--chunk-tx-gas', '100P']);
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--fsync', 'off',
  '--wait-timeout-ms', String(WAIT_MS), '--inflight-per-key', '8', '--batch-linger-ms', '10',
  '--rpc-timeout-ms', '4000', '--breaker-error-rate', '50', '--breaker-min-requests', '10',
  '--breaker-window-ms', '2000', '--breaker-cooldown-ms', '500', '--breaker-probes', '2',
  '--block-hash-refresh-ms', '500'], { logFile: join(sim.dir, 'nearftd.log') });
let code = 1;
try {
  // Faults from here on (nearftd's start-up checks want a working chain). Blocks stall first, so
  // transfers are still pending when the error phase comes, however fast the machine is.
  await setFaults(sim.port, { lost_ack_rate: 0.1, error_rate: 0.1, latency_ms: 2, jitter_ms: 60,
    stall_seconds: STALL_S });
  const ids = new Map(); // id -> memo
  let maxMs = 0, late = 0, bad = 0;
  const note = (r, limit) => {
    maxMs = Math.max(maxMs, r.ms);
    if (r.ms > limit) late++;
  };
  const WAITERS = Math.max(50, Math.floor(N / 100));
  const BULK = N - WAITERS;
  const PER = 200;
  // Bulk producers (202 as soon as durable) ...
  const bulk = pool(Math.ceil(BULK / PER), 4, async (b) => {
    const n = Math.min(PER, BULK - b * PER);
    const transfers = Array.from({ length: n }, (_, k) => ({
      receiver_id: `user-${(b * PER + k) % 1000}.test.near`, amount: '9', memo: `cx-${b}-${k}` }));
    const r = await timed(d.port, 'POST', '/v1/transfers', { transfers }, { timeoutMs: 60000 });
    note(r, WAIT_MS + SLACK_MS);
    if (r.status === 202) r.body.transfers.forEach((t, k) => ids.set(t.id, transfers[k].memo));
    else { bad++; console.error(`bulk ${b}: ${r.status} ${r.text.slice(0, 200)}`); }
    await sleep(20); // spread the load over the fault schedule
  });
  // ... and waiting clients (held until executed or --wait-timeout-ms).
  const waiters = pool(WAITERS, 16, async (i) => {
    const memo = `cw-${i}`;
    const r = await timed(d.port, 'POST', '/v1/transfers?wait=executed',
      { receiver_id: `user-${i % 1000}.test.near`, amount: '1', memo }, { timeoutMs: WAIT_MS + 30000 });
    note(r, WAIT_MS + SLACK_MS);
    if ((r.status === 200 || r.status === 202) && r.body && r.body.id) ids.set(r.body.id, memo);
    else { bad++; console.error(`waiter ${i}: ${r.status} ${r.text.slice(0, 200)}`); }
  });
  // Fault schedule, driven by state: every request fails until the breaker is seen open, latency
  // spikes until it is seen closed again, then the stall ends.
  const breaker = async (to) => metricSum(await metrics(d.port), 'nearft_breaker_transitions_total{', `to="${to}"`);
  const schedule = (async () => {
    await waitFor(async () => ids.size > 0, 'the first accepted transfers', 120000, 20);
    await setFaults(sim.port, { error_rate: 1 });
    await waitFor(async () => (await breaker('open')) >= 1, 'the breaker to open', 120000, 50);
    await setFaults(sim.port, { error_rate: 0.1, latency_ms: 300, jitter_ms: 700 }); // spikes
    await waitFor(async () => (await breaker('closed')) >= 1, 'the breaker to close', 120000, 50);
    await setFaults(sim.port, { latency_ms: 2, jitter_ms: 60, stall_ms: 0 });
  })();
  await Promise.all([bulk, waiters, schedule]);
  check(bad === 0, `${bad} client requests were refused or failed`);
  const states = await waitAllFinal(d.port, [...ids.keys()], 'chaos', 180000);
  let failed = 0;
  for (const s of states.values()) if (s.status !== 'executed') failed++;
  check(failed === 0, `${failed} transfers failed`);
  check(ids.size === N, `accepted ${ids.size} of ${N}`);
  const { audit: a } = await checkExactlyOnce(sim.port, [...ids.values()], [], 'chaos');
  const m = await metrics(d.port);
  const opens = metricSum(m, 'nearft_breaker_transitions_total{', 'to="open"');
  const closes = metricSum(m, 'nearft_breaker_transitions_total{', 'to="closed"');
  check(opens >= 1, `breaker opened (${opens})`);
  check(closes >= 1, `breaker closed again (${closes})`);
  check(late === 0, `${late} client requests took longer than ${WAIT_MS} + ${SLACK_MS} ms (max ${maxMs})`);
  console.log(`transfers=${ids.size} max_client_ms=${maxMs} opens=${opens} closes=${closes} ` +
    `resent=${m.get('nearft_transactions_total{result="dead"}')} dup_submissions=${a.duplicate_submissions}`);
  code = report('faults_chaos');
} catch (e) {
  console.error(e);
} finally {
  await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code);
}
process.exit(code);
