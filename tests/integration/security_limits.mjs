// security_limits: nearftd's spend and rate limits on real processes (nearsim + nearftd on
// 127.0.0.1). A transfer to the signer account or to the token contract gets 422 naming the
// receiver field on all three APIs (native, bulk, /send-ft, /transfer) and is never applied; an
// amount over --max-amount-per-transfer gets 422 naming amount; --max-amount-per-hour admits up
// to the limit and answers 429 with Retry-After after it; after kill -9 and a restart on the same
// data directory the hour is rebuilt from the log (still 429, the remaining-budget metric still
// 0), and nearsim's audit shows every accepted transfer applied exactly once and none of the
// refused ones. A second nearftd with --rate-limit 2 --rate-burst 3 answers at least one 429
// (Retry-After, the limit named) among 20 requests sent at once and lets at least the burst
// through, while GET /health is never limited. A third nearftd with a budget of 100 gets 60
// requests of 7 at once: exactly 14 are accepted and applied, the other 46 refused and never
// applied. No count that depends on the machine's speed is asserted.
// Usage: node security_limits.mjs NEARSIM NEARFTD [NEARFT]
import { startSim, startDaemon, request, check, report, keepOrClean } from './lib/harness.mjs';
import { metrics, waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd] = process.argv.slice(2);
const SIGNER = 'distributor.test.near';
const CONTRACT = 'ft.test.near';
const run = `lim-${Date.now()}`;
const LIMITS = ['--max-amount-per-transfer', '1000', '--max-amount-per-hour', '3000',
  '--wait-timeout-ms', '20000'];

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '2']);
const dataDir = join(sim.dir, 'data');
let d = await startDaemon(nearftd, sim, dataDir, LIMITS, { logFile: join(sim.dir, 'nearftd.log') });
let r2 = null;
let code = 1;
const absent = [];
const expected = [];
const ids = [];
const remaining = async (port) =>
  (await metrics(port)).get(`nearft_spend_budget_remaining{contract="${CONTRACT}"}`);
try {
  // 1. Receivers that are the signer or the contract: 422 before anything is accepted.
  let n = 0;
  for (const bad of [SIGNER, CONTRACT]) {
    const memo = () => { const m = `${run}-bad-${n++}`; absent.push(m); return m; };
    let r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: bad, amount: '1', memo: memo() });
    check(r.status === 422 && r.body.field === 'receiver_id' && /signer|contract/.test(r.body.reason),
      `native to ${bad}: 422 receiver_id: ${r.status} ${r.text}`);
    r = await request(d.port, 'POST', '/v1/transfers', { transfers: [
      { receiver_id: 'user-1.test.near', amount: '1', memo: memo() },
      { receiver_id: bad, amount: '1', memo: memo() }] });
    check(r.status === 422 && r.body.field === 'transfers[1].receiver_id',
      `bulk with ${bad}: 422 transfers[1].receiver_id, nothing accepted: ${r.status} ${r.text}`);
    r = await request(d.port, 'POST', '/send-ft', { receiverId: bad, amount: '1', memo: memo() });
    check(r.status === 422 && /^receiverId: /.test(r.body.error), `/send-ft to ${bad}: 422: ${r.status} ${r.text}`);
    r = await request(d.port, 'POST', '/transfer', { receiver_id: bad, amount: '1', memo: memo() });
    check(r.status === 422 && /^receiver_id: /.test(r.body.error), `/transfer to ${bad}: 422: ${r.status} ${r.text}`);
  }

  // 2. Over --max-amount-per-transfer.
  const big = `${run}-big`;
  absent.push(big);
  let r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: 'user-1.test.near', amount: '1001', memo: big });
  check(r.status === 422 && r.body.field === 'amount' && /--max-amount-per-transfer 1000/.test(r.body.reason),
    `1001 over the per-transfer limit: 422 amount: ${r.status} ${r.text}`);
  check(await remaining(d.port) === 3000, 'nothing refused took budget');

  // 3. The hourly budget: 3 x 1000 accepted (one per API), the next 1 refused with 429.
  for (const [path, body] of [
    ['/v1/transfers', { receiver_id: 'user-1.test.near', amount: '1000', memo: `${run}-ok-0` }],
    ['/send-ft', { receiverId: 'user-2.test.near', amount: '1000', memo: `${run}-ok-1` }],
    ['/transfer', { receiver_id: 'user-3.test.near', amount: '1000', memo: `${run}-ok-2` }]]) {
    r = await request(d.port, 'POST', path, body);
    check(r.status === 200 || r.status === 202, `${path} 1000 within the hourly budget: ${r.status} ${r.text}`);
    expected.push(body.memo);
    const id = r.body && (r.body.id ?? r.body.jobId);
    if (id != null) ids.push(id);
  }
  check(ids.length === 2, `ids of the native and /send-ft transfers (/transfer answers with tx_hash only): ${ids}`);
  const over = `${run}-over-0`;
  absent.push(over);
  r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: 'user-1.test.near', amount: '1', memo: over });
  const retry = Number(r.headers['retry-after']);
  check(r.status === 429 && r.body.limit === 'max_amount_per_hour' && retry >= 1 && retry <= 3600 &&
    /--max-amount-per-hour 3000/.test(r.body.reason), `over the hourly budget: 429 + Retry-After: ${r.status} ${retry} ${r.text}`);
  check(await remaining(d.port) === 0, 'remaining budget 0');
  const m = await metrics(d.port);
  check(m.get('nearft_ingest_limit_refusals_total{reason="receiver_signer"}') === 4 &&
    m.get('nearft_ingest_limit_refusals_total{reason="receiver_contract"}') === 4 &&
    m.get('nearft_ingest_limit_refusals_total{reason="max_amount_per_transfer"}') === 1 &&
    m.get('nearft_ingest_limit_refusals_total{reason="max_amount_per_hour"}') === 1,
  'refusals counted by reason');

  // 4. kill -9 and restart on the same log: the hour is rebuilt from the ACCEPT records.
  await d.kill();
  d = await startDaemon(nearftd, sim, dataDir, LIMITS, { logFile: join(sim.dir, 'nearftd.log') });
  check(await remaining(d.port) === 0, 'after kill -9 and restart the remaining budget is still 0');
  const over2 = `${run}-over-1`;
  absent.push(over2);
  r = await request(d.port, 'POST', '/send-ft', { receiverId: 'user-1.test.near', amount: '1', memo: over2 });
  check(r.status === 429 && Number(r.headers['retry-after']) >= 1 && r.body.retryAfterMs >= 1000,
    `after restart still 429 (/send-ft shape): ${r.status} ${r.text}`);
  await waitAllFinal(d.port, ids, 'accepted transfers');
  await checkExactlyOnce(sim.port, expected, absent, 'spend limits');

  // 5. Rate limit: 2/s, burst 3, one bucket for the client address 127.0.0.1.
  r2 = await startDaemon(nearftd, sim, join(sim.dir, 'data-rate'),
    ['--rate-limit', '2', '--rate-burst', '3'], { logFile: join(sim.dir, 'nearftd-rate.log') });
  const answers = await Promise.all(Array.from({ length: 20 },
    () => request(r2.port, 'GET', '/v1/transfers/1')));
  const limited = answers.filter((a) => a.status === 429);
  check(limited.length >= 1, `at least one 429 among 20 requests at once: ${limited.length}`);
  check(answers.length - limited.length >= 3, `at least the burst (3) served: ${answers.length - limited.length}`);
  check(limited.every((a) => Number(a.headers['retry-after']) >= 1 && a.body.limit === 'rate_limit' &&
    /--rate-limit 2/.test(a.body.reason)), 'each 429 has Retry-After and names --rate-limit');
  const healths = await Promise.all(Array.from({ length: 10 }, () => request(r2.port, 'GET', '/health')));
  check(healths.every((a) => a.status === 200), `/health is never rate limited: ${healths.map((a) => a.status)}`);
  // 6. The budget under concurrency: 60 requests of 7 at once against 100, spread over both
  // ingest threads: exactly 14 accepted (98), the other 46 refused with 429, and nearsim applies
  // exactly the 14.
  const r3 = await startDaemon(nearftd, sim, join(sim.dir, 'data-race'),
    ['--max-amount-per-hour', '100', '--ingest-threads', '2'], { logFile: join(sim.dir, 'nearftd-race.log') });
  try {
    const race = await Promise.all(Array.from({ length: 60 }, (_, i) =>
      request(r3.port, 'POST', '/v1/transfers', { receiver_id: 'user-4.test.near', amount: '7', memo: `${run}-race-${i}` })
        .then((a) => ({ ...a, memo: `${run}-race-${i}` }))));
    const ok = race.filter((a) => a.status === 202);
    const refused = race.filter((a) => a.status === 429);
    check(ok.length === 14 && refused.length === 46,
      `60 concurrent requests of 7 against 100: ${ok.length} accepted (want 14), ${refused.length} refused (want 46)`);
    check(await remaining(r3.port) === 2, 'remaining budget 2 after the race');
    await waitAllFinal(r3.port, ok.map((a) => a.body.id), 'raced transfers');
    await checkExactlyOnce(sim.port, [...expected, ...ok.map((a) => a.memo)],
      [...absent, ...refused.map((a) => a.memo)], 'budget under concurrency');
  } finally {
    await r3.stop();
  }
  code = report('security_limits');
} finally {
  if (r2) await r2.stop();
  await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code);
}
process.exit(code);
